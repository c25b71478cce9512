"""The process's one in-memory DuckDB (vilwork.sql)."""
from __future__ import annotations

import pandas as pd

from vilwork import sql


def test_cursors_share_one_database_and_close_alone(tmp_path, monkeypatch):
    p = tmp_path / "t.parquet"
    pd.DataFrame({"code": ["99010101", "99010102"], "x": [1, 2]}).to_parquet(p)
    with sql.cursor() as con:
        assert con.execute(f"SELECT x FROM read_parquet('{p}') WHERE code = ?", ["99010102"]).fetchall() == [(2,)]
    db = sql._DB
    with sql.cursor() as con:  # the closed cursor did not close the database
        assert con.execute("SELECT 41 + 1").fetchall() == [(42,)]
    assert sql._DB is db
    # a file written again is read again: nothing is cached between queries
    pd.DataFrame({"code": ["99010102"], "x": [7]}).to_parquet(p)
    with sql.cursor() as con:
        assert con.execute(f"SELECT x FROM read_parquet('{p}')").fetchall() == [(7,)]


def test_a_forked_child_opens_its_own_database(monkeypatch):
    with sql.cursor():
        pass
    db = sql._DB
    monkeypatch.setattr(sql.os, "getpid", lambda: db[0] + 1)
    with sql.cursor() as con:
        assert con.execute("SELECT 1").fetchall() == [(1,)]
    assert sql._DB is not db and sql._DB[0] == db[0] + 1


def test_reset_gives_an_empty_database():
    with sql.cursor() as con:
        con.execute("CREATE TABLE left_behind AS SELECT 1 AS x")
    with sql.cursor() as con:  # cursors share the database ...
        assert con.execute("SELECT count(*) FROM left_behind").fetchall() == [(1,)]
    sql.reset()
    with sql.cursor() as con:  # ... until the engine resets it after a notebook
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'left_behind'").fetchall() == [(0,)]
