"""Crash-safe writes: a file appears whole or not at all, and survives a power cut once written.

Every output goes to a temporary name in the same folder (``.<name>.<pid>.tmp``), is flushed to
disk (``fsync``), then renamed over the final name with :func:`os.replace`, and the folder entry is
flushed too. A run killed at any moment leaves the previous file untouched and at worst a hidden
``.tmp`` file, which :func:`remove_stale_tmp` deletes once its writer is gone.

:func:`pause_point` is a test hook: when ``VILWORK_TEST_PAUSE`` names the point, the process
touches ``VILWORK_TEST_PAUSE_FILE`` and sleeps, so a test can kill it at exactly that moment.
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PAUSE_ENV = "VILWORK_TEST_PAUSE"
PAUSE_FILE_ENV = "VILWORK_TEST_PAUSE_FILE"
_TMP = re.compile(r"^\..+\.([0-9]+)\.tmp$")


def pause_point(name: str) -> None:
    """Test hook: stop here (touch the signal file, sleep) when ``$VILWORK_TEST_PAUSE`` is ``name``."""
    if os.environ.get(PAUSE_ENV) != name:
        return
    signal_file = os.environ.get(PAUSE_FILE_ENV)
    if signal_file:
        Path(signal_file).write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("VILWORK_TEST_PAUSE_SECONDS", "60")))


def tmp_path(path: Path) -> Path:
    """The temporary name of ``path`` for this thread: hidden, in the same folder (same file system).

    The process id comes last, where :func:`remove_stale_tmp` reads it."""
    return path.with_name(f".{path.name}.{threading.get_ident()}.{os.getpid()}.tmp")


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to disk (a no-op where the OS refuses)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_durably(tmp: Path, path: Path) -> None:
    """``fsync`` ``tmp``, rename it over ``path`` and ``fsync`` the folder."""
    fsync_path(tmp)
    os.replace(tmp, path)
    fsync_path(path.parent)


def write_parquet_atomic(table: pa.Table, path: Path, *, pause: str | None = None, **options) -> Path:
    """Write ``table`` to ``path`` atomically and durably (see the module docstring).

    ``pause`` names a :func:`pause_point` hit after the first half of the rows is written, when the
    temporary file is torn (no Parquet footer yet). ``options`` go to :class:`pyarrow.parquet.ParquetWriter`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    try:
        with pq.ParquetWriter(tmp, table.schema, **options) as w:
            half = table.num_rows // 2
            if pause and half:
                w.write_table(table.slice(0, half))
                pause_point(pause)
                w.write_table(table.slice(half))
            else:
                w.write_table(table)
        replace_durably(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_text_atomic(text: str, path: Path, encoding: str = "utf-8") -> Path:
    """Write a text file atomically and durably."""
    path = Path(path)
    tmp = tmp_path(path)
    try:
        with open(tmp, "w", encoding=encoding, newline="") as f:
            f.write(text)
        replace_durably(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_tmp(folder: Path, *, recursive: bool = False) -> list[Path]:
    """Delete ``.<name>.<pid>.tmp`` files whose writing process no longer runs (left by a killed run).

    Returns the files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp"):
        m = _TMP.match(p.name)
        if m and p.is_file() and not _alive(int(m.group(1))):
            try:
                p.unlink()
                removed.append(p)
            except FileNotFoundError:
                pass
    return removed
