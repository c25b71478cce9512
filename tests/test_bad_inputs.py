"""Hostile and malformed inputs (tests/data/bad): refused with a clear message or quarantined, never a crash.

Each corpus item (``tests/data/bad/MANIFEST.csv``) is placed where ingest reads it in a fresh
workspace that also holds three good households (so a run is usable), and ingest runs in-process;
a few run through the ``vilwork`` command too. For every item: no traceback, the file named with
its reason (refused) or its bad rows in quarantine.csv with their rules, and rows in = accepted +
quarantined. The big generated items (a million blank rows, a 10 MB cell in a workbook) are slow.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from vilwork.ingest import ingest
from vilwork.pseudonym import KEY_ENV
from vilwork.workspace import Workspace

BAD = Path(__file__).parent / "data" / "bad"
_spec = importlib.util.spec_from_file_location("bad_corpus", BAD / "generate.py")
corpus = sys.modules.setdefault("bad_corpus", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(corpus)

MANIFEST = corpus.read_manifest()
ITEMS = {i.file: i for i in corpus.ITEMS}
VILWORK = Path(sys.executable).parent / "vilwork"


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bad-generated")


def _params():
    for row in MANIFEST:
        marks = [pytest.mark.slow] if row["slow"] == "yes" else []
        yield pytest.param(row, id=row["file"], marks=marks)


def _workspace(root: Path, rows: list[dict], generated: Path, base: bool = True) -> Workspace:
    ws = Workspace(root)
    ws.raw.mkdir(parents=True, exist_ok=True)
    if base:
        corpus.write_base(ws.raw)
    for row in rows:
        src = corpus.make(ITEMS[row["file"]], generated)
        dst = ws.raw / row["place_as"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    return ws


def _quarantine(ws: Workspace) -> pd.DataFrame:
    return pd.read_csv(ws.processed / "quarantine.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _check_outcome(ws: Workspace, summary, row: dict) -> None:
    name = row["place_as"]
    (f,) = [f for f in summary.files if f.file == name]
    assert f.rows_in == f.rows_accepted + f.rows_quarantined
    assert summary.rows_in == summary.rows_accepted + summary.rows_quarantined
    q = _quarantine(ws)
    mine = q[q["file"] == name]
    assert mine["row"].nunique() == f.rows_quarantined  # each quarantined row has its reasons listed
    if row["outcome"] == "refused":
        assert f.refused, f"{name} was not refused: {f}"
        assert row["expect"].lower() in f.refused.lower(), f.refused
        assert f.rows_in == f.rows_accepted == f.rows_quarantined == 0 and mine.empty and not f.outputs
        assert f"{name}: {f.refused}" in str(summary)  # the summary names the file with its reason
        return
    assert f.refused is None, f"{name} was refused: {f.refused}"
    assert f.rows_in == int(row["rows_in"])
    assert f.rows_quarantined == int(row["quarantined"])
    assert f.outputs and all((ws.root / o).exists() for o in f.outputs)
    if row["outcome"] == "accepted":
        assert row["expect"] in " | ".join(f.notes)
        return
    expected_rules = set(row["expect"].split(";"))
    assert expected_rules <= set(mine["rule"]), mine[["row", "column", "rule"]]
    assert (mine["row"].astype(int) >= 2).all() and (mine["message"].str.len() > 0).all()
    assert mine["value"].str.len().max() <= 300  # a 10 MB cell is not copied into the quarantine
    assert not mine["value"].str.contains("\x00").any()


def test_manifest_lists_every_file_with_its_expectation():
    files = {r["file"] for r in MANIFEST}
    committed = {p.name for p in BAD.iterdir() if p.name not in ("MANIFEST.csv", "generate.py", "__pycache__")}
    assert len(MANIFEST) >= 30 and len(files) == len(MANIFEST)
    assert committed == {r["file"] for r in MANIFEST if r["source"] == "committed"}
    assert {r["file"] for r in MANIFEST} == set(ITEMS)
    for r in MANIFEST:
        assert r["problem"] and r["outcome"] in ("refused", "accepted", "quarantined")
        assert r["outcome"] == "accepted" or r["expect"], r
        assert (r["outcome"] == "refused") == (r["rows_in"] == "")
    assert sum(p.stat().st_size for p in BAD.iterdir() if p.is_file()) < 1_000_000  # big items are generated


@pytest.mark.parametrize("row", _params())
def test_each_bad_input(tmp_path, generated, row):
    ws = _workspace(tmp_path, [row], generated)
    t0 = time.perf_counter()
    summary = ingest(ws)
    assert time.perf_counter() - t0 < 120
    _check_outcome(ws, summary, row)
    base = [f for f in summary.files if f.file == corpus.BASE_PLACE]
    assert base and base[0].rows_accepted == 3 and summary.ok
    for p in ws.processed.rglob("*.parquet"):
        pq.read_table(p)  # everything written is readable
    assert not [p.name for p in ws.processed.iterdir() if p.name.startswith(".ingest-")]


@pytest.mark.parametrize("file, rows", [("totals_row.xlsx", ["5"]), ("totals_rows_grand.csv", ["4", "6"]),
                                        ("totals_row_persons.xlsx", ["6"]), ("totals_row_unread_column.xlsx", ["5"]),
                                        ("totals_row_unread_column.csv", ["5"])])
def test_totals_rows_have_their_own_reason_and_nothing_else(tmp_path, generated, file, rows):
    """รวม / รวมทั้งสิ้น / Total under the data: one quarantine line per totals row, rule totals_row
    only (its blank codes and summed numbers are not reported as errors); the records are kept."""
    row = next(r for r in MANIFEST if r["file"] == file)
    ws = _workspace(tmp_path, [row], generated)
    summary = ingest(ws)
    (f,) = [f for f in summary.files if f.file == row["place_as"]]
    q = _quarantine(ws)
    mine = q[q["file"] == row["place_as"]]
    assert mine["row"].tolist() == rows and set(mine["rule"]) == {"totals_row"}
    # the column holding the word; none when it is one ingest does not read (a ลำดับ column)
    assert mine["column"].tolist() == {"totals_row.xlsx": ["house_code"], "totals_rows_grand.csv": ["house_code", "house_code"],
                                       "totals_row_persons.xlsx": ["first_name"]}.get(file, [""])
    assert mine["message"].str.contains("totals row").all() and mine["message"].str.contains("แถวรวม").all()
    assert f.rows_in == f.rows_accepted + len(rows) and f.rows_accepted == f.rows_in - len(rows)


def _cli(ws: Workspace, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, "VILWORK_DEBUG")}
    return subprocess.run([str(VILWORK), "ingest", "--root", str(ws.root), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


CLI_ITEMS = ["encrypted.xlsx", "nul_bytes.csv", pytest.param("truncated.xlsx", marks=pytest.mark.slow),
             pytest.param("zip_bomb_shared_strings.xlsx", marks=pytest.mark.slow)]


@pytest.mark.parametrize("file", CLI_ITEMS)
def test_cli_names_the_file_and_reason_without_a_traceback(tmp_path, generated, file):
    row = next(r for r in MANIFEST if r["file"] == file)
    ws = _workspace(tmp_path, [row], generated)
    res = _cli(ws)
    assert "Traceback" not in res.stderr + res.stdout
    assert res.returncode == 0, res.stderr
    assert row["place_as"] in res.stdout
    if row["outcome"] == "refused":
        assert row["expect"].lower() in res.stdout.lower()
    else:
        assert "quarantine.csv" in res.stdout
    summary = json.loads((ws.processed / "ingest_summary.json").read_text(encoding="utf-8"))
    t = summary["totals"]
    assert t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"]


def test_cli_every_committed_item_in_one_run(tmp_path, generated):
    """All the small hostile files side by side (renamed apart): one clean run, one clear line each."""
    rows = []
    for r in MANIFEST:
        if r["source"] != "committed":
            continue
        p = Path(r["place_as"])
        rows.append({**r, "place_as": str(p.with_name(f"{p.stem}__{Path(r['file']).stem}{p.suffix}"))})
    ws = _workspace(tmp_path, rows, generated)
    res = _cli(ws)
    assert "Traceback" not in res.stderr + res.stdout and res.returncode == 0, res.stderr
    summary = json.loads((ws.processed / "ingest_summary.json").read_text(encoding="utf-8"))
    files = {f["file"]: f for f in summary["files"]}
    for r in rows:
        f = files[r["place_as"]]
        assert f["rows_in"] == f["rows_accepted"] + f["rows_quarantined"]
        if r["outcome"] == "refused":
            assert f["refused"] and f"{r['place_as']}: " in res.stdout
    t = summary["totals"]
    assert t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"]
    assert t["files_refused"] == sum(r["outcome"] == "refused" for r in rows)


def test_cli_nothing_usable_is_one_error_line(tmp_path, generated):
    rows = [r for r in MANIFEST if r["file"] in ("encrypted.xlsx", "garbage.csv", "empty.csv")]
    ws = _workspace(tmp_path, rows, generated, base=False)
    res = _cli(ws)
    assert res.returncode == 1 and "Traceback" not in res.stderr + res.stdout
    assert [line for line in res.stderr.splitlines() if line.strip()] == [
        line for line in res.stderr.splitlines() if line.startswith("vilwork ingest: ")]
    for r in rows:
        assert r["place_as"] in res.stdout


@pytest.mark.slow
@pytest.mark.parametrize("file", ["blank_rows_1m.xlsx", "zip_bomb_shared_strings.xlsx", "big_cell_10mb.csv"])
def test_big_hostile_files_stay_within_memory_and_time(tmp_path, generated, file):
    """Peak memory and wall time of the whole ``vilwork ingest`` process on the big items."""
    row = next(r for r in MANIFEST if r["file"] == file)
    ws = _workspace(tmp_path, [row], generated)
    code = ("import resource, subprocess, sys, time; t = time.time(); "
            f"p = subprocess.run([{str(VILWORK)!r}, 'ingest', '--root', {str(ws.root)!r}], capture_output=True, text=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.time() - t, p.returncode); "
            "sys.stderr.write(p.stderr)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in res.stderr
    rss_kb, seconds, rc = res.stdout.split()
    print(f"{file}: peak RSS {int(rss_kb) // 1024} MB, {float(seconds):.1f} s")
    assert int(rc) == 0
    assert int(rss_kb) < 1_000_000, f"peak RSS {int(rss_kb) // 1024} MB"
    assert float(seconds) < 90
    summary = json.loads((ws.processed / "ingest_summary.json").read_text(encoding="utf-8"))
    (f,) = [f for f in summary["files"] if f["file"] == row["place_as"]]
    assert (f["refused"] is not None) == (row["outcome"] == "refused")


def test_pipes_devices_broken_links_and_windows_874_file_names(tmp_path, generated):
    """Entries an unpacked archive may hold: never a hang, never a crash on the name.

    A FIFO would block a reader for ever and /dev/zero never ends: both are skipped as not regular
    files. A name in Windows-874 bytes (a zip made on Thai Windows) is shown in Thai.
    """
    ws = _workspace(tmp_path, [], generated)
    folder = os.fsencode(ws.raw / "bmn" / "2561")
    os.mkfifo(folder + b"/bmn2561_households_fifo.csv")
    os.symlink("/dev/zero", folder + b"/bmn2561_households_zero.csv")
    os.symlink(str(tmp_path / "gone.csv"), folder + b"/bmn2561_households_broken.csv")
    thai_name = "bmn2561_households_หมู่2.csv"
    with open(folder + b"/" + thai_name.encode("cp874"), "wb") as f:
        f.write(corpus._bom_csv(corpus.HH, corpus.hh_rows()))
    res = _cli(ws, timeout=120)
    assert res.returncode == 0 and "Traceback" not in res.stderr + res.stdout, res.stderr
    summary = json.loads((ws.processed / "ingest_summary.json").read_text(encoding="utf-8"))
    skipped = {s["file"]: s["reason"] for s in summary["skipped"]}
    for n in ("fifo", "zero", "broken"):
        assert "not a regular file" in skipped[f"bmn/2561/bmn2561_households_{n}.csv"]
    (f,) = [f for f in summary["files"] if f["file"] == f"bmn/2561/{thai_name}"]
    assert f["rows_accepted"] == 3 and f["outputs"] == ["data/processed/households/year=2561/bmn2561_households_หมู่2.parquet"]
