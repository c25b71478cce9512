"""vilwork batch: ledger, failures, resume by hash, the lock, SIGKILL safety, Dask.

Fast tests use a hand-made workspace (a few villages, tiny Parquet tables) and four tiny stage
notebooks with the real parameter names, run in this process (``workers=0``) on the warm engine.
Slow tests run real Dask clusters (a LocalCluster; a `dask scheduler` and two `dask worker`
processes on loopback) and the real stage notebooks on a demo workspace.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from vilwork import batch
from vilwork.batch import BatchLock, BatchLockedError, Progress, read_ledger, run_batch, select_villages
from vilwork.run import STAGES
from vilwork.workspace import Workspace

CODES = ("99010101", "99010102", "99010201", "99020101")
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
PARAMS = ("village_code = '99010101'\nyear = None\nlang = 'th'\naudience = 'public'\nroot = None\nout_dir = None")
BODY = {
    # reads the village's raw profile; a profile saying "fail" makes the stage fail, like bad data
    "1-understand": "from pathlib import Path\nimport os\n"
                    "text = Path(root, 'data', 'raw', 'villages', village_code, 'profile.yaml').read_text(encoding='utf-8')\n"
                    "if 'fail' in text:\n    raise RuntimeError('ข้อมูลเสีย ' + village_code)\ntext",
    "2-needs": "import os, time\ntime.sleep(float(os.environ.get('VILWORK_TEST_SLEEP', '0')))\nlen(text)",
    "3-build": "import pandas as pd\npd.read_parquet(Path(root, 'data', 'processed', 'indicators_village.parquet')).query('code == @village_code')",
    "4-publish": "Path(out_dir, 'km.html').write_text(text, encoding='utf-8')\n(Path(out_dir) / 'cards').mkdir()\n"
                 "(Path(out_dir) / 'cards' / 'card-01.png').write_bytes(b'png')\nsorted(p.name for p in Path(out_dir).iterdir())",
}


def make_notebooks(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stage in STAGES:
        p = new_code_cell(PARAMS)
        p.metadata["tags"] = ["parameters"]
        if stage == "1-understand":
            cells = [p, new_code_cell(BODY[stage])]
        else:  # later stages read the profile again, as the real ones open the village again
            cells = [p, new_code_cell(BODY["1-understand"]), new_code_cell(BODY[stage])]
        nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), folder / f"{stage}.ipynb")
    return folder


def make_workspace(root: Path, codes=CODES) -> Workspace:
    ws = Workspace(root).ensure()
    rows = [{"year": 2562, "level": "village", "code": c, "indicator": 1, "unit": "person", "surveyed": 10,
             "passed": 8, "failed": 2, "pass_rate": 0.8} for c in codes]
    pd.DataFrame(rows).to_parquet(ws.processed / "indicators_village.parquet")
    tambons = sorted({c[:6] for c in codes})
    pd.DataFrame([{"year": 2562, "level": "tambon", "code": t, "indicator": 1, "surveyed": 20, "passed": 16}
                  for t in tambons]).to_parquet(ws.processed / "indicators_tambon.parquet")
    (ws.processed / "ingest_summary.json").write_text("{}")
    for c in codes:
        d = ws.village_raw(c)
        d.mkdir(parents=True)
        (d / "profile.yaml").write_text(f"history: หมู่บ้าน {c}\n", encoding="utf-8")
    return ws


@pytest.fixture()
def nbs(tmp_path) -> Path:
    return make_notebooks(tmp_path / "stages")


@pytest.fixture()
def ws(tmp_path) -> Workspace:
    return make_workspace(tmp_path / "ws")


def go(ws, nbs, **kw):
    out = io.StringIO()
    res = run_batch(ws, kw.pop("villages", None), workers=kw.pop("workers", 0), notebooks=nbs,
                    preload_browser=False, stream=out, **kw)
    res.output = out.getvalue()
    return res


def ran(res) -> set[str]:
    return {r["village"] for r in res.rows}


def complete(report: Path) -> bool:
    """A report folder is whole: every stage notebook executed to the end, the outputs there."""
    for stage in STAGES:
        p = report / "notebooks" / f"{stage}.ipynb"
        if not p.is_file():
            return False
        nb = nbformat.read(p, as_version=4)
        if any(c.cell_type == "code" and c.execution_count is None for c in nb.cells):
            return False
    return (report / "km.html").is_file() and (report / "cards" / "card-01.png").is_file()


# ---------------------------------------------------------------------------------------------


def test_batch_produces_every_village_and_a_ledger(ws, nbs):
    res = go(ws, nbs)
    assert res.exit_code == 0 and ran(res) == set(CODES)
    for c in CODES:
        rep = ws.village_reports(c)
        assert complete(rep)
        assert (rep / "km.html").read_text(encoding="utf-8") == f"history: หมู่บ้าน {c}\n"
        # the shared assets are hard links to the batch's cache, not copies
        js = rep / "assets" / "plotly-basic.min.js"
        assert js.is_file() and js.stat().st_nlink >= 2
    with open(batch.ledger_path(ws), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["village"] for r in rows] == sorted(CODES)
    assert set(rows[0]) >= {"village", "status", "started", "finished", "seconds", "input_hash", "error"}
    assert all(r["status"] == "ok" and float(r["seconds"]) > 0 and len(r["input_hash"]) == 32 for r in rows)
    assert set(json.loads(rows[0]["stage_seconds"])) >= set(STAGES)  # plus the PDPA audit
    assert "4/4" in res.output and "ETA" in res.output
    assert "4 สำเร็จ / done, 0 ล้มเหลว / failed" in str(res)


def test_one_failing_village_never_stops_the_others(ws, nbs):
    bad = CODES[1]
    (ws.village_raw(bad) / "profile.yaml").write_text("history: fail\n", encoding="utf-8")
    res = go(ws, nbs)
    assert res.exit_code == 1
    assert {r["village"] for r in res.failed} == {bad}
    assert all(complete(ws.village_reports(c)) for c in CODES if c != bad)
    assert not ws.village_reports(bad).exists()
    err = read_ledger(ws)[bad]["error"]
    # the failing notebook, the cell and the message
    assert "1-understand" in err and "cell" in err and "RuntimeError" in err and "ข้อมูลเสีย" in err
    assert f"✗ {bad}" in str(res)
    assert not [p for p in ws.reports.iterdir() if ".tmp-" in p.name]  # no build folder left


def test_resume_redoes_only_failed_missing_and_stale(ws, nbs):
    failed, stale, missing, touched = CODES
    (ws.village_raw(failed) / "profile.yaml").write_text("history: fail\n", encoding="utf-8")
    assert go(ws, nbs).exit_code == 1
    before = read_ledger(ws)
    # fix the failed village; change another's data; delete a report; touch a file (same bytes)
    (ws.village_raw(failed) / "profile.yaml").write_text("history: แก้แล้ว\n", encoding="utf-8")
    (ws.village_raw(stale) / "votes.csv").write_text("project,votes\nถนน,3\n", encoding="utf-8")
    shutil.rmtree(ws.village_reports(missing))
    p = ws.village_raw(touched) / "profile.yaml"
    os.utime(p, (time.time() + 100, time.time() + 100))
    res = go(ws, nbs, resume=True)
    assert ran(res) == {failed, stale, missing} and res.skipped == [touched] and res.exit_code == 0
    assert "failed 1" in res.output and "missing 1" in res.output and "stale 1" in res.output
    after = read_ledger(ws)
    assert after[touched] == before[touched]
    assert after[stale]["input_hash"] != before[stale]["input_hash"]
    # nothing changed: nothing to do
    assert ran(go(ws, nbs, resume=True)) == set()


def test_resume_follows_processed_rows_notebooks_and_parameters(ws, nbs):
    go(ws, nbs)
    # one village's processed rows change: its tambon's villages are stale (the tambon report
    # lists them all), the other tambons' are not
    df = pd.read_parquet(ws.processed / "indicators_village.parquet")
    df.loc[df["code"] == "99010101", "passed"] = 9
    df.to_parquet(ws.processed / "indicators_village.parquet")
    assert ran(go(ws, nbs, resume=True)) == {"99010101", "99010102"}
    # a file no report reads is rewritten by every ingest: it changes nothing
    (ws.processed / "ingest_summary.json").write_text('{"again": 1}')
    assert ran(go(ws, nbs, resume=True)) == set()
    # a notebook changes: everything is stale
    nb = nbformat.read(nbs / "3-build.ipynb", as_version=4)
    nb.cells[-1].source += "\n# changed"
    nbformat.write(nb, nbs / "3-build.ipynb")
    assert ran(go(ws, nbs, resume=True)) == set(CODES)
    # other parameters: a different report
    assert ran(go(ws, nbs, resume=True, lang="en")) == set(CODES)
    # a report replaced behind the batch's back (e.g. by `vilwork run`) is redone
    shutil.copytree(ws.village_reports(CODES[0]), ws.reports / "copy")
    shutil.rmtree(ws.village_reports(CODES[0]))
    (ws.reports / "copy").rename(ws.village_reports(CODES[0]))
    assert ran(go(ws, nbs, resume=True, lang="en")) == {CODES[0]}


def test_second_batch_refuses_and_a_killed_holder_frees_the_lock(ws, nbs):
    code = ("import sys, time; from vilwork.batch import BatchLock; from vilwork.workspace import Workspace\n"
            f"l = BatchLock(Workspace({str(ws.root)!r})).__enter__(); print('locked', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BatchLockedError, match=rf"pid {holder.pid} on .*started"):
            go(ws, nbs)
        from vilwork.cli import main

        assert main(["batch", "--root", str(ws.root), "--workers", "0"]) == 1
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert go(ws, nbs).exit_code == 0  # the kernel dropped the dead holder's lock


def test_the_lock_is_exclusive_within_one_process_too(ws):
    with BatchLock(ws):
        with pytest.raises(BatchLockedError, match="already running"):
            BatchLock(ws).__enter__()
    with BatchLock(ws):
        pass


def test_ledger_write_is_atomic(ws, nbs, monkeypatch):
    go(ws, nbs)
    path = batch.ledger_path(ws)
    before = path.read_bytes()

    def crash(*a, **k):
        raise OSError("disk pulled out")

    monkeypatch.setattr(batch.os, "replace", crash)
    with pytest.raises(OSError):
        batch.write_ledger(ws, {"99999999": {"village": "99999999", "status": "ok"}})
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".ledger")] == []


def _start_batch(ws: Workspace, nbs: Path, sleep: float, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "VILWORK_TEST_SLEEP": str(sleep), "VILWORK_NOTEBOOKS": str(nbs)}
    code = ("import sys\nfrom vilwork import engine\n_p = engine.preload\n"
            "engine.preload = lambda start_browser=True: _p(start_browser=False)\n"
            "from vilwork.cli import main\nsys.exit(main(sys.argv[1:]))")
    return subprocess.Popen([sys.executable, "-c", code, "batch", "--root", str(ws.root), *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _wait_for(pred, timeout: float) -> bool:
    t = time.monotonic() + timeout
    while time.monotonic() < t:
        if pred():
            return True
        time.sleep(0.05)
    return False


def _assert_nothing_half_written(ws: Workspace) -> None:
    for p in ws.reports.iterdir():
        if p.name.startswith((".", "_")):
            continue  # temporary build folders are hidden and never a report
        assert complete(p), f"half-written report {p}"
    ledger = read_ledger(ws)  # parses: never a torn file
    for code, row in ledger.items():
        if row["status"] == "ok":
            assert complete(ws.village_reports(code))


def test_sigkill_at_any_moment_leaves_no_half_written_report(ws, nbs):
    """Kill -9 the batch while a village is being built, then resume."""
    proc = _start_batch(ws, nbs, 1.5, "--workers", "0")
    try:
        # wait until a village is being built (its temporary folder exists), then kill
        assert _wait_for(lambda: any(".tmp-" in p.name for p in ws.reports.iterdir()) if ws.reports.exists() else False, 120)
        time.sleep(0.7)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    _assert_nothing_half_written(ws)
    assert any(".tmp-" in p.name for p in ws.reports.iterdir())  # the killed build is there, hidden
    res = go(ws, nbs, resume=True)
    assert res.exit_code == 0 and all(complete(ws.village_reports(c)) for c in CODES)
    assert not [p for p in ws.reports.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_progress_is_a_plain_line_without_a_terminal():
    out = io.StringIO()
    p = Progress(3, out, every=0)
    p.update(True)
    p.update(False)
    p.update(True)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and len(lines) == 3
    assert re.search(r"3/3 · 2 สำเร็จ/done · 1 ล้มเหลว/failed · [\d.]+ s/village · ETA 0:00:00", lines[-1])


def test_progress_updates_one_line_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    p = Progress(2, out)
    p.update(True)
    p.update(True)
    assert out.getvalue().count("\r") == 2 and out.getvalue().endswith("\n")


def test_select_villages(ws):
    assert select_villages(ws) == sorted(CODES)
    assert select_villages(ws, province="99") == sorted(CODES)
    assert select_villages(ws, ["99010102", "99010101", "99010102"]) == ["99010102", "99010101"]
    with pytest.raises(batch.BatchError, match="without data"):
        select_villages(ws, ["99990101"])
    with pytest.raises(batch.BatchError, match="2 digits"):
        select_villages(ws, province="9")
    with pytest.raises(batch.BatchError, match="vilwork select"):
        select_villages(ws, targets=True, fiscal_year=2563)
    with pytest.raises(Exception, match="8 digits"):
        select_villages(ws, ["../etc"])


def test_cli_batch(ws, nbs, monkeypatch, capsys):
    from vilwork import engine
    from vilwork.cli import main

    monkeypatch.setenv("VILWORK_NOTEBOOKS", str(nbs))
    real = engine.preload
    monkeypatch.setattr(engine, "preload", lambda start_browser=True: real(start_browser=False))
    assert main(["batch", "--root", str(ws.root), "--villages", "99010101,99010201", "--workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "2 สำเร็จ / done" in out and "99010201" in out and "ledger:" in out
    assert main(["batch", "--root", str(ws.root), "--villages", "99010101", "--province", "99"]) == 1


# ---------------------------------------------------------------------------------------------
# real clusters and the real stage notebooks


@pytest.mark.slow
def test_local_cluster_two_warm_workers(ws, nbs):
    res = go(ws, nbs, workers=2)
    assert res.exit_code == 0 and ran(res) == set(CODES)
    assert len({r["worker"] for r in res.rows}) == 2
    assert all(complete(ws.village_reports(c)) for c in CODES)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_existing_dask_cluster_scheduler_and_two_workers(ws, nbs, tmp_path):
    """A real `dask scheduler` and two `dask worker` processes on loopback, torn down always."""
    bin_ = Path(sys.executable).parent
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "VILWORK_TEST_SLEEP": "0"}
    procs = [subprocess.Popen([str(bin_ / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([str(bin_ / "dask"), "worker", addr, "--nthreads", "1", "--nworkers", "1",
                                           "--host", "127.0.0.1", "--no-dashboard", "--death-timeout", "60"],
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
        from distributed import Client

        with Client(addr, timeout="60s") as c:
            c.wait_for_workers(2, timeout=120)
        res = go(ws, nbs, scheduler=addr)
        assert res.exit_code == 0 and ran(res) == set(CODES)
        assert len({r["worker"] for r in res.rows}) == 2 and res.workers == 2
        assert all(complete(ws.village_reports(c)) for c in CODES)
    finally:
        for p in reversed(procs):
            with __import__("contextlib").suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=20)


@pytest.mark.slow
def test_sigkill_of_a_local_cluster_batch_at_several_moments(ws, nbs):
    for delay in (0.0, 1.0, 2.5):
        proc = _start_batch(ws, nbs, 1.0, "--workers", "2", "--resume")
        try:
            assert _wait_for(lambda: ws.reports.exists() and any(".tmp-" in p.name for p in ws.reports.iterdir()), 180)
            time.sleep(delay)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        _assert_nothing_half_written(ws)
    res = go(ws, nbs, resume=True)
    assert res.exit_code == 0 and all(complete(ws.village_reports(c)) for c in CODES)


_VOLATILE = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?(\.\d+)?(\+00:00|Z)?"), "<time>"),
    (re.compile(r"\d{1,2} \S+ \d{4},? \d{1,2}:\d{2}( น\.)?"), "<time>"),  # Thai dates in provenance
    (re.compile(r"(map|popup|html|marker|geo_json|feature_group|layer_control|tile_layer|circle_marker)_[0-9a-f]{32}"), r"\1_<id>"),
    (re.compile(r"\.tmp-[\w@.-]+?(?=[/\"'\\])"), ".tmp-<x>"),
    (re.compile(r"-[0-9a-f]{10}\.(svg|png|jpg)"), r"-<h>.\1"),
    (re.compile(r"0x[0-9a-f]{6,}"), "0x<address>"),
]


def _norm(obj) -> str:
    s = json.dumps(obj, ensure_ascii=False, sort_keys=True)
    for rx, rep in _VOLATILE:
        s = rx.sub(rep, s)
    return s


def _notebook_results(report: Path) -> dict:
    out = {}
    for stage in STAGES:
        nb = nbformat.read(report / "notebooks" / f"{stage}.ipynb", as_version=4)
        out[stage] = [(c.get("execution_count"), _norm(c.get("outputs", []))) for c in nb.cells if c.cell_type == "code"]
        out[stage + ":language_info"] = nb.metadata.get("language_info")
    return out


@pytest.mark.slow
def test_warm_worker_gives_village_b_what_a_fresh_run_gives(tmp_path):
    """Village A then village B on one warm worker; B again with fresh kernels (`vilwork run`):
    the same executed notebooks (times and random ids aside) and the same files."""
    from vilwork.indicators import compute_all
    from vilwork.ingest import ingest
    from vilwork.run import run_village
    from vilwork.synth import synthesise

    ws = Workspace(tmp_path / "demo").ensure()
    synthesise(ws, villages=4)
    assert ingest(ws).ok
    compute_all(ws)
    a, b = "99010101", "99020101"  # different districts: B's reports never mention A
    res = run_batch(ws, [a, b], workers=0, stream=io.StringIO())
    assert res.exit_code == 0
    assert res.rows[0]["worker"] == res.rows[1]["worker"]  # the same warm process
    warm_b = tmp_path / "warm-b"
    shutil.copytree(ws.village_reports(b), warm_b)
    run_village(ws, b)  # papermill's own engine: a fresh kernel per stage
    fresh_b = ws.village_reports(b)
    assert _notebook_results(warm_b) == _notebook_results(fresh_b)

    def files(d):
        return sorted(_norm(str(p.relative_to(d))) for p in d.rglob("*") if p.is_file())

    assert files(warm_b) == files(fresh_b)
    for name in ("km.html", "vdr.html", "tdr.html", "slides.html"):
        assert _norm((warm_b / name).read_text(encoding="utf-8")) == _norm((fresh_b / name).read_text(encoding="utf-8")), name
    outputs = [json.dumps(c.get("outputs", []), ensure_ascii=False) for p in (warm_b / "notebooks").glob("*.ipynb")
               for c in nbformat.read(p, as_version=4).cells]
    assert not [o for o in outputs if a in o]  # nothing of village A in B's results
