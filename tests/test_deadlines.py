"""Deadlines and the submission register, with dates and rates worked out by hand."""
from __future__ import annotations

import datetime as dt
import os
import shutil

import pandas as pd
import pytest

from vilwork import deadlines as dl
from vilwork.errors import InputError
from vilwork.i18n import format_date
from vilwork.workspace import Workspace

D = dt.date


def test_fiscal_year_2562_runs_october_2561_to_september_2562():
    assert dl.fiscal_year_bounds(2562) == (D(2018, 10, 1), D(2019, 9, 30))
    assert dl.fiscal_year_of(D(2018, 10, 1)) == 2562
    assert dl.fiscal_year_of(D(2018, 9, 30)) == 2561
    assert dl.fiscal_year_of(D(2019, 9, 30)) == 2562


def test_names_due_28_february_and_km_31_may_shown_in_be():
    due = dl.due_dates(2562)
    assert due == {"names": D(2019, 2, 28), "km": D(2019, 5, 31)}
    assert format_date(due["names"]) == "28 กุมภาพันธ์ 2562"
    assert format_date(due["km"]) == "31 พฤษภาคม 2562"
    # FY 2563: 28 Feb 2563 is 2020-02-28 (a leap year, but the day is the 28th)
    assert dl.due_dates(2563)["names"] == D(2020, 2, 28)
    t = dl.deadline_table(2562, D(2019, 3, 1))
    assert t.iloc[1, 1] == "28 กุมภาพันธ์ 2562" and t.iloc[1, 2] == -1 and t.iloc[2, 2] == 91


def test_an_override_moves_one_date_of_one_fiscal_year(tmp_path, monkeypatch):
    from vilwork.registry import definitions_dir

    d = tmp_path / "defs"
    shutil.copytree(definitions_dir(), d)
    p = d / "programme" / "deadlines.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("overrides: {}", 'overrides:\n  2563: {names: "13/03/2563"}'), encoding="utf-8")
    monkeypatch.setenv("VILWORK_DEFINITIONS", str(d))
    assert dl.due_dates(2563)["names"] == D(2020, 3, 13)
    assert dl.due_dates(2562)["names"] == D(2019, 2, 28)


def _km(tmp_path, complete: dict[str, list[str]], mtime: dt.date | None = None):
    outputs = dl.km_outputs()
    for code, missing in complete.items():
        d = tmp_path / code
        d.mkdir(parents=True, exist_ok=True)
        for f in outputs:
            if f not in missing:
                (d / f).write_text("x")
                if mtime:
                    ts = dt.datetime.combine(mtime, dt.time(12)).timestamp()
                    os.utime(d / f, (ts, ts))
    return dl.km_file_status(tmp_path, list(complete), outputs)


AREAS = pd.DataFrame({"level": ["district", "district", "province"], "code": ["9901", "9902", "99"]})
TARGETS = pd.DataFrame({"level": ["district", "district", "province"], "village_code": ["99010101", "99020101", "99010101"]})


def _log(rows):
    raw = pd.DataFrame(rows, columns=["item", "level", "village_code", "sent_date"]).assign(note=None, source_file="log.csv")
    raw["source_row"] = range(2, len(raw) + 2)
    return dl.read_log(raw)


def test_register_worked_by_hand(tmp_path):
    km = _km(tmp_path, {"99010101": [], "99020101": ["slides.html"]}, mtime=D(2019, 5, 29))
    log, problems = _log([("รายชื่อ", "อำเภอ", "99010101", "20/02/2562"),
                          ("names", "district", "99020101", "2019-03-05"),
                          ("ถอดบทเรียน", "อำเภอ", "99010101", "๓๐/๐๕/๒๕๖๒")])
    assert problems == []
    reg, probs = dl.register_rows(AREAS, TARGETS, log, km, dl.due_dates(2562), D(2019, 6, 10))
    r = reg.set_index(["level", "code", "item"])
    assert r.loc[("district", "9901", "names"), "status"] == "on_time"
    assert r.loc[("district", "9901", "km"), ["status", "date", "date_source"]].tolist() == ["on_time", D(2019, 5, 30), "log"]
    # 5 March is 5 days after 28 February (2019 is not a leap year)
    assert r.loc[("district", "9902", "names"), ["status", "days"]].tolist() == ["late", 5]
    # KM of 99020101 lacks slides.html: 10 June is 10 days after 31 May
    assert r.loc[("district", "9902", "km"), ["status", "days", "missing"]].tolist() == ["overdue", 10, "slides.html"]
    # no province-level names in the log: overdue 1+31+30+31+10 = 102 days on 10 June
    assert r.loc[("province", "99", "names"), ["status", "days"]].tolist() == ["overdue", 102]
    # province KM: the files of 99010101 were complete on 29 May (no province-level log row)
    assert r.loc[("province", "99", "km"), ["status", "date", "date_source"]].tolist() == ["on_time", D(2019, 5, 29), "files"]
    assert probs == []

    rates = dl.reporting_rates(reg).set_index(["level", "code"])
    assert rates.loc[("district", "9901"), ["expected", "received", "on_time", "completeness", "on_time_rate"]].tolist() == [2, 2, 2, 1.0, 1.0]
    assert rates.loc[("district", "9902"), ["received", "on_time", "overdue", "completeness", "on_time_rate"]].tolist() == [1, 0, 1, 0.5, 0.0]
    # province 99: 6 expected (2 districts × 2 + its own 2), received 4, on time 3, overdue 2
    p = rates.loc[("province", "99")]
    assert (p["expected"], p["due"], p["received"], p["on_time"], p["overdue"]) == (6, 6, 4, 3, 2)
    assert p["completeness"] == pytest.approx(4 / 6) and p["on_time_rate"] == pytest.approx(0.5)


def test_before_any_deadline_everything_is_pending_and_there_is_no_on_time_rate(tmp_path):
    km = _km(tmp_path, {"99010101": ["km.pdf"], "99020101": ["km.pdf"]})
    log, _ = _log([("names", "district", "99010101", "2019-01-20")])
    reg, _ = dl.register_rows(AREAS, TARGETS, log, km, dl.due_dates(2562), D(2019, 2, 1))
    assert set(reg["status"]) == {"on_time", "pending"}
    assert reg.set_index(["code", "item"]).loc[("9901", "km"), "days"] == 119  # days left to 31 May
    rates = dl.reporting_rates(reg).set_index("code")
    assert rates.loc["9901", "completeness"] == 0.5 and pd.isna(rates.loc["9901", "on_time_rate"])
    assert rates.loc["9902", "overdue"] == 0


def test_log_rows_that_contradict_the_target_list_or_cannot_be_read_are_reported(tmp_path):
    km = _km(tmp_path, {"99010101": ["map.html"], "99020101": []})
    log, problems = _log([("names", "district", "99010199", "2019-02-01"), ("km", "district", "99010101", "2019-05-01"),
                          ("names", "district", "99020101", "ไม่ทราบ")])
    assert len(problems) == 1 and problems[0]["row"] == 4
    reg, probs = dl.register_rows(AREAS, TARGETS, log, km, dl.due_dates(2562), D(2019, 6, 1))
    msgs = " | ".join(p["message_en"] for p in probs)
    assert "records village 99010199 but the target is 99010101" in msgs
    assert "logged as sent, but files are missing: map.html" in msgs
    r = reg.set_index(["code", "item"])
    assert bool(r.loc[("9901", "names"), "done"])  # sent (for another village): counted, and flagged
    assert r.loc[("9901", "km"), "status"] == "overdue"  # logged but incomplete: not received


def test_a_district_without_a_target_still_owes_its_names():
    reg, _ = dl.register_rows(AREAS, TARGETS.iloc[[0, 2]], _log([])[0], pd.DataFrame(columns=["village_code", "km_complete", "km_missing", "km_ready"]),
                              dl.due_dates(2562), D(2019, 3, 1))
    r = reg.set_index(["code", "item"])
    assert r.loc[("9902", "names"), "status"] == "overdue" and pd.isna(r.loc[("9902", "names"), "village_code"])


def test_parse_today_accepts_iso_and_be():
    assert dl.parse_today("2019-03-01") == D(2019, 3, 1)
    assert dl.parse_today("๐๑/๐๓/๒๕๖๒") == D(2019, 3, 1)
    with pytest.raises(InputError):
        dl.parse_today("tomorrow")


def test_register_of_a_workspace_reads_the_saved_target_list_and_the_log(tmp_path):
    ws = Workspace(tmp_path / "ws").ensure()
    out = ws.reports / "_programme"
    out.mkdir(parents=True)
    (out / "target_villages_2562.csv").write_text(
        "\ufeffลำดับ,ระดับ,รหัสหมู่บ้าน\n1,จังหวัด,99010101\n2,อำเภอ,99010101\n", encoding="utf-8")
    log_dir = ws.raw / "programme" / "2562"
    log_dir.mkdir(parents=True)
    (log_dir / "submissions.csv").write_text("รายการ,ระดับ,รหัสหมู่บ้าน,วันที่ส่ง\nรายชื่อ,อำเภอ,99010101,27/02/2562\n", encoding="utf-8")
    pd.DataFrame({"code": ["9901", "9902"], "level": "district", "name_th": ["ก", "ข"], "name_en": ["A", "B"]}).to_parquet(ws.processed / "places.parquet")
    reg = dl.submission_register(ws, 2562, D(2019, 3, 1))
    r = reg.rows.set_index(["level", "code", "item"])
    assert r.loc[("district", "9901", "names"), "status"] == "on_time"
    assert r.loc[("district", "9902", "names"), "status"] == "overdue"  # a district of the place list with no target
    assert r.loc[("province", "99", "names"), "status"] == "overdue"
    files = dl.write_register(ws, reg)
    assert {f.name for f in files} == {"ทะเบียนการส่งงาน_2562.xlsx", "submission_register_2562.csv"}
    assert "ทะเบียนการส่งงาน ปีงบประมาณ 2562" in str(reg)
