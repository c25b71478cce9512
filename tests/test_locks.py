"""Workspace locks: two ``vilwork indicators`` take turns, and indicators and ingest never overlap.

Real processes, held at test hooks (``VILWORK_TEST_PAUSE``): one run stops while it holds the
workspace (writing ``indicators_village.parquet``, or reading raw files for ingest); the other
must not get the workspace (its ``<command>:locked`` hook must not fire) until the first has
ended, must say that it waits, and both must succeed.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from vilwork.indicators import LEVELS, compute_all
from vilwork.ingest import _LOCK as INGEST_LOCK_NAME
from vilwork.ingest import ingest
from vilwork.locks import INGEST_LOCK, FileLock, processed_lock
from vilwork.pseudonym import KEY_ENV
from vilwork.synth import synthesise
from vilwork.workspace import Workspace

VILWORK = Path(sys.executable).parent / "vilwork"
HOLD = 6.0  # seconds the first process keeps the workspace at its hook (the second must start meanwhile)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("locks"))
    synthesise(ws, seed=3, villages=4, fmt="csv")
    ingest(ws)
    compute_all(ws)
    return ws


def _start(ws: Workspace, command: str, hook: str, signal_file: Path, hold: float) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, "VILWORK_DEBUG")}
    env.update({"VILWORK_TEST_PAUSE": hook, "VILWORK_TEST_PAUSE_FILE": str(signal_file), "VILWORK_TEST_PAUSE_SECONDS": str(hold)})
    return subprocess.Popen([str(VILWORK), command, "--root", str(ws.root)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for(path: Path, proc: subprocess.Popen, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"{what} ended before its hook: {proc.stderr.read()[-2000:]}")
        assert time.monotonic() < deadline, f"{what} never reached its hook"
        time.sleep(0.05)


def _blocked(pid: int) -> bool:
    """Whether process ``pid`` waits for a lock (a ``->`` line of ``/proc/locks``)."""
    return any("->" in line and f" {pid} " in line for line in Path("/proc/locks").read_text().splitlines())


def _take_turns(ws: Workspace, tmp_path: Path, first: tuple[str, str], second: str) -> None:
    """Start ``first`` = (command, hook) and hold it there for HOLD seconds; meanwhile start
    ``second``: while the first holds on, the second must be seen blocked on the lock (in
    ``/proc/locks``) and not past it; after, it gets the workspace and both succeed."""
    held, got = tmp_path / "first-holds", tmp_path / "second-got-it"
    a = _start(ws, first[0], first[1], held, HOLD)
    try:
        _wait_for(held, a, first[0])
        until = held.stat().st_mtime + HOLD - 0.3  # the first one surely holds the workspace until then
        b = _start(ws, second, f"{second}:locked" if second == "indicators" else "ingest:read", got, 0)
        try:
            seen_blocked = False
            while time.time() < until:
                assert not got.exists(), f"{second} got the workspace while {first[0]} held it"
                assert b.poll() is None, f"{second} ended while {first[0]} held the workspace: {b.communicate()[1][-2000:]}"
                seen_blocked = seen_blocked or _blocked(b.pid)
                time.sleep(0.05)
            assert seen_blocked, f"{second} was never seen waiting for the lock (too slow to start? HOLD={HOLD})"
            err_a, err_b = a.communicate(timeout=300)[1], b.communicate(timeout=300)[1]
            code_a, code_b = a.returncode, b.returncode
        finally:
            if b.poll() is None:
                b.kill()
    finally:
        if a.poll() is None:
            a.kill()
    assert code_a == 0, err_a[-2000:]
    assert code_b == 0, err_b[-2000:]
    assert got.exists() and got.stat().st_mtime >= until  # the second one got the workspace, after the first
    if second == "indicators":
        assert "waiting: another `vilwork indicators` or `vilwork ingest` is running" in err_b
    for lv in LEVELS:  # whole outputs
        assert pq.read_table(ws.processed / f"indicators_{lv}.parquet").num_rows > 0


@pytest.mark.parametrize("ingested", [True, False], ids=["ingested", "never-ingested"])
def test_a_second_indicators_run_waits_for_the_first(demo, tmp_path, ingested):
    ws = demo
    if not ingested:  # processed tables put there without ingest: no .ingest.lock, the folder is the lock
        ws = Workspace(tmp_path / "copy")
        shutil.copytree(demo.root, ws.root)
        (ws.processed / INGEST_LOCK).unlink()
    before = {lv: pq.read_table(ws.processed / f"indicators_{lv}.parquet") for lv in LEVELS}
    _take_turns(ws, tmp_path, ("indicators", "indicators:write:indicators_village.parquet"), "indicators")
    for lv in LEVELS:  # both runs computed the same thing
        assert pq.read_table(ws.processed / f"indicators_{lv}.parquet").equals(before[lv])
    assert (ws.processed / INGEST_LOCK).exists() == ingested  # no lock file added


@pytest.mark.parametrize("first,second", [
    (("ingest", "ingest:read"), "indicators"),
    pytest.param(("indicators", "indicators:write:indicators_village.parquet"), "ingest", marks=pytest.mark.slow)])
def test_indicators_and_ingest_never_overlap(demo, tmp_path, first, second):
    _take_turns(demo, tmp_path, first, second)


def test_the_lock_is_the_ingest_lock_and_no_lock_file_is_added(tmp_path):
    assert INGEST_LOCK == INGEST_LOCK_NAME  # indicators lock the file ingest locks
    ws = Workspace(tmp_path).ensure()
    with processed_lock(ws):
        pass
    assert list(ws.processed.iterdir()) == []  # a workspace ingest never wrote keeps no lock file


def test_file_lock_refuses_without_waiting_and_is_reentrant_in_a_thread(tmp_path):
    path = tmp_path / "x.lock"
    with FileLock(path) as outer:
        assert outer
        with FileLock(path, wait=False) as inner:  # the same thread: no self-deadlock
            assert inner
        seen = []
        t = threading.Thread(target=lambda: seen.append(FileLock(path, wait=False).__enter__()))
        t.start()
        t.join()
        assert seen == [False]  # another thread is turned away like another process
        fd = os.open(path, os.O_RDWR)  # another open file (as another process would have)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    fd = os.open(path, os.O_RDWR)  # released on leaving
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_a_first_ever_ingest_waits_for_a_running_indicators_run(demo, tmp_path):
    """A workspace whose processed tables were put there without ingest has no ``.ingest.lock``:
    an ingest started during an indicators run there waits on the folder before it creates it."""
    ws = Workspace(tmp_path / "copy")
    shutil.copytree(demo.root, ws.root)
    (ws.processed / INGEST_LOCK).unlink()
    _take_turns(ws, tmp_path, ("indicators", "indicators:write:indicators_village.parquet"), "ingest")
    assert (ws.processed / INGEST_LOCK).exists()  # ingest made its own lock file afterwards


def test_poverty_alone_waits_for_a_running_indicators_run(demo, tmp_path):
    """``tpmap_poverty`` takes the workspace like ``compute_all``: while another run holds it (here a
    thread, which the lock turns away as it would another process) nothing is read or written."""
    from vilwork.poverty import tpmap_poverty

    ws = Workspace(tmp_path / "copy")
    shutil.copytree(demo.root, ws.root)
    for lv in LEVELS:
        (ws.processed / f"poverty_{lv}.parquet").unlink()
    held, release, done = threading.Event(), threading.Event(), []

    def holder():
        with processed_lock(ws):
            held.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert held.wait(30)
        u = threading.Thread(target=lambda: done.append(tpmap_poverty(ws)))
        u.start()
        time.sleep(1.5)
        assert not done and not (ws.processed / "poverty_village.parquet").exists()
    finally:
        release.set()
        t.join()
    u.join(120)
    assert done and set(done[0]) == set(LEVELS) and (ws.processed / "poverty_village.parquet").exists()
