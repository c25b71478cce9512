"""Workspace locks: an exclusive ``fcntl.flock`` that the kernel frees when its holder dies.

:func:`processed_lock` is the lock of the commands that write ``data/processed``: each holds
``data/processed`` itself and ``data/processed/.ingest.lock``, in that order, so they take turns:

* two ``vilwork indicators`` (or ``tpmap_poverty``) runs on one workspace never share
  ``.duckdb_tmp`` or write the same outputs;
* indicators never read tables an ingest is publishing, and an ingest never replaces them under
  a run; an ingest waits for a running indicators run even on a workspace it has never written
  to (it waits on the folder before it creates ``.ingest.lock``);
* ``.ingest.lock`` is also what ingests of earlier versions locked, alone.

Indicators wait rather than refuse: a run is deterministic from the published tables, so the
second one simply recomputes what the first wrote (or what an ingest that ran in between
changed), and a script that runs ``vilwork indicators`` does not fail because of a neighbour.

No lock file is created for the indicators' own turn (the folder is locked): they lock
``.ingest.lock`` only where it exists, and only ingest creates it.
"""
from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from pathlib import Path

from .atomic import pause_point
from .log import get_logger
from .workspace import Workspace

log = get_logger(__name__)

__all__ = ["INGEST_LOCK", "FileLock", "processed_lock"]

#: The lock file of ``vilwork ingest`` under ``data/processed`` (``vilwork.ingest._LOCK``).
INGEST_LOCK = ".ingest.lock"

_REGISTRY = threading.Lock()
_HELD: dict[str, list] = {}  # path -> [threading.RLock, depth, fd]: this process's locks


class FileLock:
    """An exclusive ``fcntl.flock`` on ``path`` (a file, created if missing, or a folder).

    ``with FileLock(path, wait=True) as locked:`` — ``locked`` is True once held; with
    ``wait=False`` it is False at once when another process holds it. ``on_wait`` is called once
    before blocking (to say why the command seems idle). Re-entrant within a process: a thread
    that holds it takes it again at no cost; another thread waits (or gets False) as a process
    would. ``create=False``: a missing file is not created and counts as held (``locked`` True).
    """

    def __init__(self, path: Path, *, wait: bool = True, create: bool = True, on_wait: Callable[[], None] | None = None):
        self.path = Path(path)
        self.wait = wait
        self.create = create
        self.on_wait = on_wait
        self._entry: list | None = None
        self._owned = False

    def __enter__(self) -> bool:
        key = os.path.abspath(self.path)
        with _REGISTRY:
            entry = _HELD.setdefault(key, [threading.RLock(), 0, None])
        if not entry[0].acquire(blocking=False):
            if not self.wait:
                return False
            if self.on_wait:
                self.on_wait()
            entry[0].acquire()
        if entry[1] == 0:
            try:
                fd = self._open()
            except FileNotFoundError:
                if self.create:
                    entry[0].release()
                    raise
                entry[0].release()
                return True  # nothing to lock: nobody can hold it either
            except BaseException:
                entry[0].release()
                raise
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not self.wait:
                        os.close(fd)
                        entry[0].release()
                        return False
                    if self.on_wait:
                        self.on_wait()
                    fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as e:  # a file system without flock (some network shares): say so, go on
                os.close(fd)
                fd = None
                log.warning("could not lock %s (%s): running without the lock", self.path, e.strerror or e)
            except BaseException:
                os.close(fd)
                entry[0].release()
                raise
            entry[2] = fd
        entry[1] += 1
        self._entry, self._owned = entry, True
        return True

    def _open(self) -> int:
        if self.path.is_dir():
            return os.open(self.path, os.O_RDONLY)
        if self.create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        return os.open(self.path, os.O_RDWR)

    def __exit__(self, *exc) -> None:
        entry, self._entry = self._entry, None
        if entry is None or not self._owned:
            return
        self._owned = False
        entry[1] -= 1
        if entry[1] == 0 and entry[2] is not None:
            fd, entry[2] = entry[2], None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        entry[0].release()


@contextmanager
def processed_lock(ws: Workspace, command: str = "indicators", *, wait: bool = True):
    """Hold ``data/processed`` for a run of ``command`` (``indicators``, ``poverty``, ``ingest``)
    that reads or writes it, waiting for any other such run (see the module docstring).

    Yields True once held; with ``wait=False``, False at once when another run holds it (and
    nothing is held). Only ``command="ingest"`` creates ``.ingest.lock``.
    """
    ws.processed.mkdir(parents=True, exist_ok=True)
    said = []

    def waiting() -> None:
        if not said:
            said.append(True)
            log.warning(
                "รอ: มี vilwork indicators หรือ ingest อีกงานหนึ่งกำลังทำงานกับพื้นที่ทำงานนี้ จะเริ่มเมื่องานนั้นเสร็จ / "
                "waiting: another `vilwork indicators` or `vilwork ingest` is running on this workspace (%s); "
                "this %s run starts when it ends", ws.processed, command)

    with ExitStack() as stack:
        held = stack.enter_context(FileLock(ws.processed, wait=wait, on_wait=waiting)) and stack.enter_context(
            FileLock(ws.processed / INGEST_LOCK, wait=wait, create=command == "ingest", on_wait=waiting))
        if held:
            pause_point(f"{command}:locked")  # test hook: the run holds the workspace
        yield held
