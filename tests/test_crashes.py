"""Crashes: SIGKILL, a full disk and a read-only data/raw never leave data/processed half-written.

A workspace that already holds good outputs (raw v1, ingested and computed) gets one more raw file
(v2); then ``vilwork ingest`` or ``vilwork indicators`` is killed at chosen moments: at test hooks
(``VILWORK_TEST_PAUSE``: after reading, in the middle of writing a Parquet file, after the run is
complete on disk, between two renames while publishing) and after fixed delays. After each kill:
every visible Parquet file is readable, the summary (when present) matches the files beside it,
the previous outputs are intact unless the new run was complete, and the next run starts clean
and gives exactly what an uninterrupted run gives.
"""
from __future__ import annotations

import codecs
import errno
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from vilwork.errors import OutputError
from vilwork.indicators import compute_all
from vilwork.ingest import ingest
from vilwork.pseudonym import KEY_ENV
from vilwork.workspace import Workspace

_spec = importlib.util.spec_from_file_location("bad_corpus", Path(__file__).parent / "data" / "bad" / "generate.py")
corpus = sys.modules.setdefault("bad_corpus", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(corpus)

VILWORK = Path(sys.executable).parent / "vilwork"
INGEST_OWNED = ("households", "persons", "aggregates", "kchch2k.parquet", "accounts.parquet", "capital.parquet",
                "places.parquet", "quarantine.csv", "ingest_summary.json")


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


def _write_district(raw: Path, district: str, villages: int, houses: int) -> None:
    """Households and persons of one district (3 persons per house) as CSV with Thai headers."""
    hh, pp = [], []
    for v in range(1, villages + 1):
        village = f"{district}01{v:02d}"
        for h in range(1, houses + 1):
            code = f"{village}{h:03d}"
            hh.append([code, str(h), "นาย ก", village, "นอกเขต", str(h % 2), "1", str(30000 + h)])
            for m in range(3):
                n = int(code) * 10 + m
                pp.append([code, "คน", corpus.cid(n % 10**11), "ชาย" if m else "หญิง", f"15/0{m + 1}/25{20 + m * 20}", "ปกติ", "ทำนา"])
    folder = raw / "bmn" / "2561"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"bmn2561_households_{district}.csv").write_bytes(codecs.BOM_UTF8 + corpus.csv_text(corpus.HH, hh).encode())
    (folder / f"bmn2561_persons_{district}.csv").write_bytes(codecs.BOM_UTF8 + corpus.csv_text(corpus.PP, pp).encode())


def _snapshot(ws: Workspace, names=None) -> dict[str, str]:
    """Visible files of data/processed (optionally only ``names`` at the top) → sha256."""
    out = {}
    for p in sorted(ws.processed.rglob("*")):
        rel = p.relative_to(ws.processed)
        if p.is_dir() or any(part.startswith(".") for part in rel.parts):
            continue
        if names is not None and rel.parts[0] not in names:
            continue
        out[rel.as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _raw_state(ws: Workspace) -> dict[str, tuple]:
    return {p.relative_to(ws.raw).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(ws.raw.rglob("*")) if p.is_file()}


def _build(root: Path, villages: int, houses: int) -> dict:
    """Raw v1 ingested and computed (the previous good outputs), and the reference outputs of v1 + v2."""
    ws = Workspace(root / "v1")
    _write_district(ws.raw, "9901", villages, houses)
    ingest(ws)
    compute_all(ws)
    ref = Workspace(root / "v2")
    shutil.copytree(ws.root, ref.root)
    _write_district(ref.raw, "9902", villages, houses)
    ingest(ref)
    compute_all(ref)
    return {"v1": ws, "ref": ref, "ref_ingest": _snapshot(ref, INGEST_OWNED), "ref_all": _snapshot(ref)}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict:
    return _build(tmp_path_factory.mktemp("crash-small"), villages=2, houses=150)


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> dict:
    return _build(tmp_path_factory.mktemp("crash-big"), villages=6, houses=999)


def _fresh(built: dict, tmp_path: Path) -> Workspace:
    """A copy of the v1 workspace (with its outputs) that has been given the v2 raw files."""
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(built["v1"].root, ws.root)
    shutil.copytree(built["ref"].raw, ws.raw, dirs_exist_ok=True)
    return ws


def _start(ws: Workspace, command: str, pause: str | None = None, signal_file: Path | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, "VILWORK_DEBUG")}
    if pause:
        env.update({"VILWORK_TEST_PAUSE": pause, "VILWORK_TEST_PAUSE_FILE": str(signal_file)})
    return subprocess.Popen([str(VILWORK), command, "--root", str(ws.root)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)
    proc.stderr.close()


def _kill_at(ws: Workspace, command: str, pause: str, tmp_path: Path) -> None:
    flag = tmp_path / "paused"
    proc = _start(ws, command, pause, flag)
    deadline = time.monotonic() + 180
    while not flag.exists():
        if proc.poll() is not None:
            pytest.fail(f"{command} ended before reaching {pause}: {proc.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline, f"{command} never reached {pause}"
        time.sleep(0.05)
    _kill(proc)


def _assert_consistent(ws: Workspace) -> None:
    """Nothing visible is half-written, and a summary present describes the files beside it."""
    for p in ws.processed.rglob("*.parquet"):
        if not any(part.startswith(".") for part in p.relative_to(ws.processed).parts):
            pq.read_table(p)
    path = ws.processed / "ingest_summary.json"
    if not path.exists():
        # only between two renames of a publish, which the next run finishes
        assert (ws.processed / ".ingest-new" / ".complete").is_file()
        return
    summary = json.loads(path.read_text(encoding="utf-8"))
    t = summary["totals"]
    assert t["rows_in"] == t["rows_accepted"] + t["rows_quarantined"]
    for f in summary["files"]:
        if f["table"] in ("households", "persons") and not f["refused"]:
            rows = sum(pq.read_metadata(ws.root / o).num_rows for o in f["outputs"])
            assert rows == f["rows_accepted"], f["file"]


def _assert_clean(ws: Workspace) -> None:
    leftovers = [p.relative_to(ws.processed).as_posix() for p in ws.processed.rglob(".*")
                 if p.name not in (".ingest.lock", ".gitkeep")]
    assert leftovers == []


# the two riskiest moments run in the fast suite, the others with -m slow
PAUSES = [pytest.param("ingest:read", marks=pytest.mark.slow), "ingest:households-write",
          pytest.param("ingest:complete", marks=pytest.mark.slow), "ingest:publish"]


@pytest.mark.parametrize("pause", PAUSES)
def test_ingest_killed_at_each_stage_keeps_or_finishes_the_outputs(small, tmp_path, pause):
    ws = _fresh(small, tmp_path)
    before, raw = _snapshot(ws), _raw_state(ws)
    _kill_at(ws, "ingest", pause, tmp_path)
    assert _raw_state(ws) == raw
    _assert_consistent(ws)
    if pause != "ingest:publish":
        assert _snapshot(ws) == before  # the previous outputs are all there, untouched
    if pause == "ingest:households-write":  # the kill did hit a file being written
        torn = list((ws.processed / ".ingest-new").rglob(".*.tmp"))
        assert torn
        with pytest.raises(Exception):
            pq.read_table(torn[0])
    ingest(ws)  # the next run starts clean
    _assert_clean(ws)
    assert _snapshot(ws, INGEST_OWNED) == small["ref_ingest"]


@pytest.mark.slow
def test_a_publish_cut_short_is_finished_by_indicators(small, tmp_path):
    ws = _fresh(small, tmp_path)
    _kill_at(ws, "ingest", "ingest:publish", tmp_path)
    assert not (ws.processed / "ingest_summary.json").exists()  # the old summary went first
    compute_all(ws)
    _assert_clean(ws)
    assert _snapshot(ws) == small["ref_all"]


def test_indicators_killed_mid_write_keep_the_previous_file(small, tmp_path):
    ws = _fresh(small, tmp_path)
    ingest(ws)
    before = _snapshot(ws)
    _kill_at(ws, "indicators", "indicators:write:indicators_village.parquet", tmp_path)
    torn = list(ws.processed.glob(".indicators_village.parquet.*.tmp"))
    assert torn
    with pytest.raises(Exception):
        pq.read_table(torn[0])
    assert _snapshot(ws) == before  # indicators_village.parquet of the previous run is whole
    _assert_consistent(ws)
    compute_all(ws)
    _assert_clean(ws)
    assert _snapshot(ws) == small["ref_all"]


@pytest.mark.slow
@pytest.mark.parametrize("command,delays", [("ingest", (0.5, 1.0, 2.0, 3.0, 4.5)), ("indicators", (0.5, 1.0, 1.5))])
def test_killed_after_fixed_delays(big, tmp_path, command, delays):
    ws = _fresh(big, tmp_path)
    if command == "indicators":
        ingest(ws)
    raw = _raw_state(ws)
    moments = []
    for delay in delays:
        before = _snapshot(ws)
        proc = _start(ws, command)
        time.sleep(delay)
        finished = proc.poll() is not None
        _kill(proc)
        staged = (ws.processed / ".ingest-new").exists()
        moments.append("finished" if finished else "staging" if staged else "killed")
        assert _raw_state(ws) == raw
        _assert_consistent(ws)
        after = _snapshot(ws)
        # either untouched, or the new run's outputs (ingest: published whole or being published)
        if not finished and not (ws.processed / ".ingest-new" / ".complete").exists():
            changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
            if command == "ingest":
                # untouched, or published whole and killed while the run was tidying up after it
                published = _snapshot(ws, INGEST_OWNED) == big["ref_ingest"]
                assert not changed or published, f"killed after {delay} s: {sorted(changed)[:5]}"
            else:  # indicators replace file by file: each one old or new, never torn
                assert all(after.get(k) in (before.get(k), big["ref_all"].get(k)) for k in changed)
    assert moments[0] != "finished", moments  # at least the first kill interrupted a run (the hooks cover the rest)
    (ingest if command == "ingest" else compute_all)(ws)
    if command == "ingest":
        compute_all(ws)
    _assert_clean(ws)
    assert _snapshot(ws) == big["ref_all"]


def test_read_only_raw_is_read_and_never_written(small, tmp_path):
    """Raw data may be read-only; ingest and indicators never write, rename or touch them.

    As root, permission bits do not stop writes: a read-only bind mount does, when the test may mount;
    otherwise the contents, times and file list are compared before and after.
    """
    ws = _fresh(small, tmp_path)
    raw = _raw_state(ws)
    modes = {p: p.stat().st_mode for p in [ws.raw, *ws.raw.rglob("*")]}
    for p in modes:
        p.chmod(stat.S_IMODE(p.stat().st_mode) & ~0o222)
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount"):
        ok = subprocess.run(["mount", "--bind", str(ws.raw), str(ws.raw)], capture_output=True).returncode == 0
        if ok:
            mounted = subprocess.run(["mount", "-o", "remount,ro,bind", str(ws.raw)], capture_output=True).returncode == 0
            if not mounted:
                subprocess.run(["umount", str(ws.raw)], capture_output=True)
    try:
        if mounted or os.geteuid() != 0:
            with pytest.raises(OSError):
                (ws.raw / "probe").write_text("x")  # really read-only
        summary = ingest(ws)
        compute_all(ws)
    finally:
        if mounted:
            subprocess.run(["umount", str(ws.raw)], check=True)
        for p, mode in modes.items():
            p.chmod(stat.S_IMODE(mode))
    assert summary.ok and not summary.refused
    assert _raw_state(ws) == raw
    assert _snapshot(ws) == small["ref_all"]


def _enospc_after(monkeypatch, calls: int) -> None:
    """Make Parquet writes fail like a full disk on the ``calls``-th write (after a partial write)."""
    real = pq.ParquetWriter.write_table
    seen = {"n": 0}

    def write_table(self, table, *a, **k):
        seen["n"] += 1
        if seen["n"] >= calls:
            real(self, table.slice(0, max(1, table.num_rows // 2)), *a, **k)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, table, *a, **k)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", write_table)


@pytest.mark.parametrize("calls", [1, 3])
def test_full_disk_during_ingest_is_a_clear_error_and_keeps_the_outputs(small, tmp_path, monkeypatch, calls):
    ws = _fresh(small, tmp_path)
    before = _snapshot(ws)
    _enospc_after(monkeypatch, calls)
    with pytest.raises(OutputError, match="the disk is full"):
        ingest(ws)
    monkeypatch.undo()
    assert _snapshot(ws) == before
    _assert_clean(ws)
    _assert_consistent(ws)


def test_full_disk_during_indicators_is_a_clear_error_and_keeps_the_outputs(small, tmp_path, monkeypatch):
    ws = _fresh(small, tmp_path)
    ingest(ws)
    before = _snapshot(ws)
    _enospc_after(monkeypatch, 2)
    with pytest.raises(OutputError, match="the disk is full"):
        compute_all(ws)
    monkeypatch.undo()
    assert _snapshot(ws) == before
    _assert_clean(ws)


@pytest.mark.slow
def test_full_disk_on_the_command_line_is_one_line(small, tmp_path):
    ws = _fresh(small, tmp_path)
    code = ("import errno, sys, pyarrow.parquet as pq\n"
            "def boom(self, *a, **k):\n    raise OSError(errno.ENOSPC, 'No space left on device')\n"
            "pq.ParquetWriter.write_table = boom\n"
            "from vilwork.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, "VILWORK_DEBUG")}
    res = subprocess.run([sys.executable, "-c", code, "ingest", "--root", str(ws.root)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "the disk is full" in lines[0] and "previous outputs are unchanged" in lines[0]


@pytest.mark.slow
def test_a_really_full_disk(small, tmp_path):
    """data/processed on a tmpfs just big enough for the previous outputs (needs root and mount)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a small tmpfs")
    ws = _fresh(small, tmp_path)
    saved = tmp_path / "saved"
    shutil.copytree(ws.processed, saved)
    size = sum(p.stat().st_size for p in saved.rglob("*") if p.is_file())
    shutil.rmtree(ws.processed)
    ws.processed.mkdir()
    kb = size // 1024 + 96
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kb}k", "tmpfs", str(ws.processed)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        shutil.copytree(saved, ws.processed, dirs_exist_ok=True)
        before = _snapshot(ws)
        with pytest.raises(OutputError, match="the disk is full"):
            ingest(ws)
        assert _snapshot(ws) == before
        _assert_clean(ws)
        _assert_consistent(ws)
    finally:
        subprocess.run(["umount", str(ws.processed)], check=True)
