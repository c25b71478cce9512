from __future__ import annotations

import pytest

from vilwork.errors import WorkspaceError
from vilwork.workspace import Workspace, check_village_code


def test_paths_follow_the_root(tmp_path):
    ws = Workspace(tmp_path)
    assert ws.raw == tmp_path / "data" / "raw"
    assert ws.processed == tmp_path / "data" / "processed"
    assert ws.village_reports("50010621") == tmp_path / "reports" / "50010621"


@pytest.mark.parametrize("bad", ["../../etc", "5001062", "500106211", "73??0401", "", "99 01 01 01", "๙๙๐๑๐๑๐๑"])
def test_village_codes_that_are_not_8_ascii_digits_are_refused(bad):
    with pytest.raises(WorkspaceError, match="8 digits"):
        check_village_code(bad)


def test_nothing_outside_the_root(tmp_path):
    ws = Workspace(tmp_path / "w")
    with pytest.raises(WorkspaceError, match="outside"):
        ws.inside("../secret")
    assert ws.inside("data/raw/x.csv") == (tmp_path / "w" / "data" / "raw" / "x.csv").resolve()


@pytest.mark.parametrize("argv", [["run", "--village", "../../etc"], ["run", "--village", "9901010"],
                                  ["audit", "--village", "../reports"], ["run", "--village", "99010101/.."]])
def test_cli_refuses_path_like_village_codes(tmp_path, capsys, argv):
    from vilwork.cli import main

    assert main([*argv, "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "is not 8 digits" in err and "Traceback" not in err
    assert not (tmp_path / "etc").exists()


def test_symlinked_output_folders_are_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    ws = Workspace(tmp_path / "w")
    (ws.root / "data").mkdir(parents=True)
    (ws.root / "reports").symlink_to(outside, target_is_directory=True)
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        ws.ensure()
    assert ws.check_writable(ws.raw) == ws.raw  # not a link: fine


def test_run_refuses_a_village_report_folder_linked_elsewhere(tmp_path):
    from vilwork.run import run_village

    outside = tmp_path / "outside"
    outside.mkdir()
    ws = Workspace(tmp_path / "w").ensure()
    (ws.reports / "99010101").symlink_to(outside, target_is_directory=True)
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        run_village(ws, "99010101")
    assert list(outside.iterdir()) == [] and not list(ws.reports.glob(".99010101*"))
