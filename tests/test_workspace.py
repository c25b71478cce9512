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
