"""One in-memory DuckDB per process for reading the processed Parquet tables.

Opening a DuckDB connection costs about 27 ms of CPU (measured here, DuckDB 1.x), more than the
filtered read of a village's rows that follows it (3–5 ms); the reports of one village ran about
70 such reads, each on a fresh connection. :func:`cursor` hands out a cursor (its own connection
to the process's one in-memory database, safe to use from its thread) for the cost of a
dictionary lookup. The database holds no tables and no settings are changed on it: every query
reads its Parquet files again, so nothing one village reads is kept for the next. The warm
engine also calls :func:`reset` after every notebook, so that not even a table a notebook made
itself outlives it (4 connections a village instead of about 70).
"""
from __future__ import annotations

import os
import threading

import duckdb

_LOCK = threading.Lock()
_DB: tuple[int, duckdb.DuckDBPyConnection] | None = None


def cursor() -> duckdb.DuckDBPyConnection:
    """A new cursor on this process's in-memory DuckDB; use it as ``with cursor() as con:``.

    Closing the cursor leaves the database open for the next one. A forked child opens its own
    database (a connection is not shared across ``fork``).
    """
    global _DB
    with _LOCK:
        if _DB is None or _DB[0] != os.getpid():
            _DB = (os.getpid(), duckdb.connect())
        return _DB[1].cursor()


def reset() -> None:
    """Close this process's database (the next :func:`cursor` opens a new, empty one)."""
    global _DB
    with _LOCK:
        db, _DB = _DB, None
    if db is not None and db[0] == os.getpid():
        try:
            db[1].close()
        except Exception:  # noqa: BLE001 - closing an in-memory database cannot lose anything
            pass


__all__ = ["cursor", "reset"]
