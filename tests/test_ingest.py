"""Raw → processed: validation, quarantine, outputs, privacy, idempotence. Tiny hand-made files.

The main scenario (``_scenario``) has 7 household rows and 10 person rows whose fate was worked
out by hand; the expected quarantine lines are listed in ``EXPECTED_QUARANTINE``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from vilwork.errors import InputError, KeyFileError
from vilwork.ingest import IngestSummary, ingest, path_year
from vilwork.pseudonym import KEY_ENV, pseudonymise
from vilwork.registry import thai_headers
from vilwork.thai import citizen_id_check_digit
from vilwork.workspace import Workspace

ADMIN = Path("/work/shared/data/admin")
HH = thai_headers("households")
PP = thai_headers("persons")


def cid(n: int) -> str:
    """A valid citizen ID (generated; the check digit itself is tested by hand in test_thai)."""
    first = f"3{n:011d}"
    return first + str(citizen_id_check_digit(first))


A, B = "1234567890121", "1101700230708"  # valid, worked by hand in test_thai
C_BAD = "1234567890122"                  # A with a wrong check digit


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


def _xlsx(path: Path, header: list, rows: list[list], sheets_before: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    for i in range(sheets_before):
        ws.title = f"อ่านก่อน{i}"
        ws.append(["คำอธิบายแบบสำรวจ"])
        ws = wb.create_sheet("ข้อมูล")
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def _csv(path: Path, header: list, rows: list[list], encoding: str = "utf-8-sig") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=header, dtype=object).to_csv(path, index=False, encoding=encoding)
    return path


HH_COLS = ["house_code", "house_no", "head_name", "village_code", "in_municipality", "q4_1", "q23", "income_main", "income_other"]
PP_COLS = ["house_code", "title", "first_name", "last_name", "citizen_id", "sex", "birth_date", "health", "welfare_card", "q20"]
HH_ROWS = [
    [99010101001, "12/3", "นาย สมชาย ใจดี", 99010101, "ในเขต", 1, 1, 60000, "๑๐,๐๐๐"],      # 2 ok
    ["99010101002", "45", "นาง สมหญิง ใจดี", "99010101", "นอกเขต", 0, None, 30000.0, None],  # 3 ok
    ["99010101002", "45", "นาง สมหญิง ใจดี", "99010101", "นอกเขต", 0, None, 30000.0, None],  # 4 duplicate
    ["99010102003", "7", "นาย ก", "99010101", "นอกเขต", 1, 1, 1000, None],                   # 5 house not in village
    ["99010101004", "8", "นาย ข", "73??0401", "นอกเขต", 1, 1, 1000, None],                   # 6 malformed village code
    ["99010101005", "9", "นาย ค", "99010101", "ในเขต", 2, 1, -5, None],                      # 7 answer 2, money < 0
    ["99010101006", "10", "นาย ง", "99010101", "ในเขต", 1, 1, "abc", None],                  # 8 not a number
]
PP_ROWS = [
    ["99010101001", "นาย", "สมชาย", "ใจดี", A, "ชาย", "15/01/2530", "ปกติ", "มี", "1"],            # 2 ok
    ["99010101001", "เด็กหญิง", "สมใจ", "ใจดี", B, "หญิง", "๐๑/๐๔/๒๕๖๐", "พิการ", "ไม่มี", ""],  # 3 ok
    ["99010101002", "นาย", "ค", "ค", C_BAD, "ชาย", "15/01/2530", "ปกติ", "มี", "1"],              # 4 check digit
    ["99010101009", "นาย", "ง", "ง", cid(4), "ชาย", "15/01/2530", "ปกติ", "มี", "1"],             # 5 no household
    ["99010101002", "นาย", "จ", "จ", A, "ชาย", "15/01/2530", "ปกติ", "มี", "1"],                  # 6 duplicate ID
    ["99010101002", "ด.ช.", "ฉ", "ฉ", cid(6), "ชาย", "01/04/2561", "ปกติ", "มี", ""],             # 7 born after 31 Mar 2561
    ["99010101002", "นาย", "ช", "ช", cid(7), "ชาย", "01/01/2440", "ปกติ", "มี", ""],              # 8 age 121
    ["99010101002", "นาย", "ซ", "ซ", cid(8), "ชาย", "32/13/2530", "ปกติ", "มี", ""],              # 9 unreadable date
    ["99010101002", "นาย", "ฌ", "ฌ", cid(9), "ชายหญิง", "15/01/2530", "ปกติ", "มี", ""],          # 10 unknown sex
    ["99010101002", "นาย", "ญ", "ญ", cid(10), "ชาย", "15/01/2530", "ป่วยเรื้อรัง", "มี", "0"],     # 11 ok
]
HH_FILE = "bmn/2561/bmn2561_households_9901.xlsx"
PP_FILE = "bmn/2561/bmn2561_persons_9901.csv"
EXPECTED_QUARANTINE = {
    (HH_FILE, 4, "house_code", "duplicate_house_code"),
    (HH_FILE, 5, "house_code", "house_code_village"),
    (HH_FILE, 6, "village_code", "village_code_format"),
    (HH_FILE, 7, "q4_1", "answer_01"),
    (HH_FILE, 7, "income_main", "non_negative"),
    (HH_FILE, 8, "income_main", "number"),
    (PP_FILE, 4, "citizen_id", "citizen_id_check_digit"),
    (PP_FILE, 5, "house_code", "house_not_found"),
    (PP_FILE, 6, "citizen_id", "duplicate_citizen_id"),
    (PP_FILE, 7, "birth_date", "birth_after_reference"),
    (PP_FILE, 8, "birth_date", "age_range"),
    (PP_FILE, 9, "birth_date", "date"),
    (PP_FILE, 10, "sex", "category"),
}


def _scenario(root: Path) -> Workspace:
    ws = Workspace(root)
    raw = ws.raw
    _xlsx(raw / HH_FILE, [HH[c] for c in HH_COLS] + ["หมายเหตุ"], [r + ["-"] for r in HH_ROWS], sheets_before=1)
    _csv(raw / PP_FILE, [PP[c] for c in PP_COLS], PP_ROWS, encoding="cp874")
    return ws


def _quarantine(ws: Workspace) -> pd.DataFrame:
    return pd.read_csv(ws.processed / "quarantine.csv", dtype={"row": "int64"}, keep_default_na=False, encoding="utf-8-sig")


def _files(ws: Workspace) -> dict[str, bytes]:
    return {p.relative_to(ws.processed).as_posix(): p.read_bytes() for p in sorted(ws.processed.rglob("*")) if p.is_file()}


def _raw_hash(ws: Workspace) -> str:
    h = hashlib.sha256()
    for p in sorted(ws.raw.rglob("*")):
        h.update(p.relative_to(ws.raw).as_posix().encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


# --- the main scenario ----------------------------------------------------------------------------

@pytest.fixture
def ran(tmp_path):
    ws = _scenario(tmp_path)
    return ws, ingest(ws)


def test_rows_in_equal_accepted_plus_quarantined(ran):
    ws, s = ran
    by = {f.file: f for f in s.files}
    assert (by[HH_FILE].rows_in, by[HH_FILE].rows_accepted, by[HH_FILE].rows_quarantined) == (7, 2, 5)
    assert (by[PP_FILE].rows_in, by[PP_FILE].rows_accepted, by[PP_FILE].rows_quarantined) == (10, 3, 7)
    for f in s.files:
        assert f.rows_in == f.rows_accepted + f.rows_quarantined
    assert (s.rows_in, s.rows_accepted, s.rows_quarantined) == (17, 5, 12)
    assert s.ok
    j = json.loads((ws.processed / "ingest_summary.json").read_text(encoding="utf-8"))
    assert j["totals"]["rows_in"] == 17 and j["totals"]["rows_accepted"] == 5 and j["totals"]["rows_quarantined"] == 12
    assert {f["file"]: f["rows_quarantined"] for f in j["files"]} == {HH_FILE: 5, PP_FILE: 7}
    q = _quarantine(ws)
    assert q.groupby("file")["row"].nunique().to_dict() == {HH_FILE: 5, PP_FILE: 7}  # a row counts once


def test_each_bad_row_has_its_quarantine_line(ran):
    ws, _ = ran
    q = _quarantine(ws)
    assert list(q.columns) == ["file", "row", "column", "value", "rule", "message"]
    assert set(zip(q["file"], q["row"], q["column"], q["rule"])) == EXPECTED_QUARANTINE
    msg = q.set_index(["file", "row", "rule"])["message"]
    assert "ตรวจสอบ" in msg[(PP_FILE, 4, "citizen_id_check_digit")] and "check digit" in msg[(PP_FILE, 4, "citizen_id_check_digit")]
    assert "8 digits" in msg[(HH_FILE, 6, "village_code_format")]
    assert "ชาย, หญิง" in msg[(PP_FILE, 10, "category")]
    val = q.set_index(["file", "row", "rule"])["value"]
    assert val[(HH_FILE, 6, "village_code_format")] == "73??0401"
    assert val[(HH_FILE, 7, "answer_01")] == "2"
    assert val[(PP_FILE, 9, "date")] == "32/13/2530"
    assert val[(PP_FILE, 4, "citizen_id_check_digit")] == "1-2345-xxxxx-xx-2"  # masked
    assert val[(HH_FILE, 4, "duplicate_house_code")] == "99010101xxx"


def test_summary_notes_and_text(ran):
    _, s = ran
    hh = next(f for f in s.files if f.file == HH_FILE)
    assert hh.sheet == "ข้อมูล" and hh.year == 2561
    assert any("หมายเหตุ" in n for n in hh.notes)  # unknown column ignored, said
    pp = next(f for f in s.files if f.file == PP_FILE)
    assert any("cp874" in n for n in pp.notes)
    text = str(s)
    assert text.index("สรุป") < text.index("Ingest summary")  # Thai first
    assert "rows in 17 = accepted 5 + quarantined 12" in text
    assert "แถวที่อ่าน 17 = ผ่าน 5 + กักกัน 12" in text


def test_household_output(ran):
    ws, _ = ran
    hh = pd.read_parquet(ws.processed / "households" / "year=2561" / "bmn2561_households_9901.parquet")
    assert len(hh) == 2
    assert not {"house_code", "house_no", "head_name", "lat", "lon"} & set(hh.columns)
    hh = hh.set_index("source_row")
    assert hh.loc[2, "members"] == 2 and hh.loc[3, "members"] == 1
    assert hh.loc[2, "income_other"] == 10000.0                       # ๑๐,๐๐๐
    assert hh.loc[2, "income_total"] == 70000.0 and hh.loc[2, "income_per_member"] == 35000.0
    assert hh.loc[3, "income_total"] == 30000.0 and hh.loc[3, "income_per_member"] == 30000.0
    assert bool(hh.loc[2, "in_municipality"]) and not bool(hh.loc[3, "in_municipality"])
    assert hh.loc[2, "q4_1"] == 1 and pd.isna(hh.loc[3, "q23"]) and pd.isna(hh.loc[2, "q31"])
    assert (hh["village_code"] == "99010101").all() and (hh["tambon_code"] == "990101").all()
    assert (hh["district_code"] == "9901").all() and (hh["province_code"] == "99").all()
    assert str(hh["year"].dtype) == "Int16" and (hh["year"] == 2561).all()


def test_person_output(ran):
    ws, _ = ran
    key = (ws.secrets / "pseudonym.key").read_bytes()
    pp = pd.read_parquet(ws.processed / "persons" / "year=2561" / "bmn2561_persons_9901.parquet").set_index("source_row")
    assert sorted(pp.index) == [2, 3, 11]
    assert not {"citizen_id", "first_name", "last_name", "title", "house_code"} & set(pp.columns)
    # reference day 31 March 2561 = 2018-03-31
    assert pp.loc[2, "birth_date"] == dt.date(1987, 1, 15)
    assert (pp.loc[2, "age_years"], pp.loc[2, "age_months"]) == (31, 374)   # (2018-1987)·12 + 2
    assert (pp.loc[3, "age_years"], pp.loc[3, "age_months"]) == (0, 11)     # born 1 Apr 2017
    assert (pp.loc[2, "sex"], pp.loc[3, "sex"]) == ("male", "female")
    assert (pp.loc[2, "health"], pp.loc[3, "health"], pp.loc[11, "health"]) == ("normal", "disabled", "chronic")
    assert bool(pp.loc[2, "welfare_card"]) and not bool(pp.loc[3, "welfare_card"])
    assert pp.loc[2, "person_key"] == pseudonymise(pd.Series([A]), key).iloc[0]
    hh = pd.read_parquet(ws.processed / "households" / "year=2561" / "bmn2561_households_9901.parquet").set_index("source_row")
    assert pp.loc[2, "house_key"] == pp.loc[3, "house_key"] == hh.loc[2, "house_key"]
    assert pp.loc[11, "house_key"] == hh.loc[3, "house_key"]
    # hh_id: the household's number, the same for a household and its persons
    assert str(pp["hh_id"].dtype) == str(hh["hh_id"].dtype) == "Int64"
    assert pp.loc[2, "hh_id"] == pp.loc[3, "hh_id"] == hh.loc[2, "hh_id"] != hh.loc[3, "hh_id"] == pp.loc[11, "hh_id"]
    assert pp.loc[2, "q20"] == 1 and pd.isna(pp.loc[3, "q20"]) and pp.loc[11, "q20"] == 0


def test_household_numbers_follow_the_pseudonyms(ran):
    """hh_id numbers every household of the run 0, 1, 2 … in the text order of their house_key
    (one house in two years: the earlier year first): dense, unique, and in the same order for
    persons as for their households."""
    ws, _ = ran
    read = lambda t: pd.concat([pd.read_parquet(f, columns=["year", "house_key", "hh_id"]) for f in sorted((ws.processed / t).rglob("*.parquet"))])  # noqa: E731
    hh = read("households")
    hh = hh.astype({"year": "int64"}).sort_values(["house_key", "year"]).reset_index(drop=True)
    assert len(hh) >= 2 and hh["hh_id"].tolist() == list(range(len(hh)))
    pp = read("persons").astype({"year": "int64"})
    both = pp.merge(hh, on=["year", "house_key"], how="left", suffixes=("", "_household"))
    assert len(pp) >= 3 and (both["hh_id"] == both["hh_id_household"]).all()


def test_no_personal_data_anywhere_in_processed(ran):
    ws, _ = ran
    ids = [A, B, C_BAD] + [r[4] for r in PP_ROWS]
    names = ["สมชาย", "สมหญิง", "สมใจ"]
    for p in ws.processed.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            for i in ids:
                assert i.encode() not in data, f"citizen ID in {p}"
            for n in names:
                assert n.encode("utf-8") not in data, f"a name in {p}"


def _set_raw_mode(ws: Workspace, read_only: bool) -> None:
    for p in [ws.raw, *ws.raw.rglob("*")]:
        os.chmod(p, (0o555 if read_only else 0o755) if p.is_dir() else (0o444 if read_only else 0o644))


def test_idempotent_and_raw_untouched(ran):
    ws, first = ran
    before = _raw_hash(ws)
    files1 = _files(ws)
    _set_raw_mode(ws, read_only=True)  # a read-only raw folder works too
    try:
        second = ingest(ws)
        assert _raw_hash(ws) == before
    finally:
        _set_raw_mode(ws, read_only=False)
    files2 = _files(ws)
    assert files1.keys() == files2.keys()
    for name in files1:
        assert files1[name] == files2[name], f"{name} differs between runs"
    assert second.to_dict() == first.to_dict()
    assert not [p for p in ws.processed.rglob("*") if "tmp" in p.name]


def test_stale_outputs_cleared_others_kept(ran):
    ws, _ = ran
    stale = ws.processed / "persons" / "year=2555" / "old.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    other = ws.processed / "indicators_village.parquet"
    other.write_bytes(b"engine output")
    ingest(ws)
    assert not stale.exists() and not stale.parent.exists()
    assert other.read_bytes() == b"engine output"


def test_missing_key_with_processed_data(ran):
    ws, _ = ran
    key = ws.secrets / "pseudonym.key"
    saved = key.read_bytes()
    key.unlink()
    with pytest.raises(KeyFileError, match="Restore the key file"):
        ingest(ws)
    assert (ws.processed / "households").exists()  # nothing was cleared
    key.write_bytes(saved)
    ingest(ws)


def test_pseudonyms_stable_with_same_key_and_differ_with_another(ran, tmp_path, monkeypatch):
    ws, _ = ran
    path = ws.processed / "households" / "year=2561" / "bmn2561_households_9901.parquet"
    keys1 = pd.read_parquet(path)["house_key"].tolist()
    ingest(ws)
    assert pd.read_parquet(path)["house_key"].tolist() == keys1
    other = tmp_path / "other.key"
    other.write_bytes(bytes(range(32)))
    monkeypatch.setenv(KEY_ENV, str(other))
    ingest(ws)
    keys2 = pd.read_parquet(path)["house_key"].tolist()
    assert len(keys2) == len(keys1) and not set(keys1) & set(keys2)


def test_small_chunks_give_the_same_result(ran):
    ws, s1 = ran
    q1 = _quarantine(ws)
    frames1 = {n: pd.read_parquet(ws.processed / n) for n in _files(ws) if n.endswith(".parquet")}
    s2 = ingest(ws, chunk_rows=2)  # duplicates and households found across chunks
    assert _quarantine(ws).equals(q1)
    for n, f in frames1.items():
        pd.testing.assert_frame_equal(pd.read_parquet(ws.processed / n), f)
    assert [(f.file, f.rows_in, f.rows_accepted) for f in s2.files] == [(f.file, f.rows_in, f.rows_accepted) for f in s1.files]


# --- refusals -------------------------------------------------------------------------------------

def test_missing_required_column_refuses_the_file_and_the_run_goes_on(tmp_path):
    ws = _scenario(tmp_path)
    _csv(ws.raw / "bmn/2561/bmn2561_households_9902.csv", [HH["house_code"], HH["q23"]], [["99010201001", 1]])
    s = ingest(ws)
    bad = next(f for f in s.files if f.file.endswith("9902.csv"))
    assert bad.refused and "รหัสหมู่บ้าน (village_code)" in bad.refused
    assert (bad.rows_in, bad.rows_accepted, bad.rows_quarantined) == (0, 0, 0)
    assert s.rows_accepted == 5


def test_broken_files_are_refused_and_named(tmp_path):
    ws = _scenario(tmp_path)
    (ws.raw / "bmn/2561/bmn2561_households_html.xlsx").write_bytes(b"<html><table><tr><td>x</td></tr></table></html>")
    (ws.raw / "bmn/2561/bmn2561_persons_zip.xlsx").write_bytes(b"PK\x03\x04" + b"\x00garbage" * 40)
    (ws.raw / "bmn/2561/bmn2561_persons_empty.csv").write_bytes(b"")
    (ws.raw / "bmn/2561/bmn2561_persons_header.csv").write_text(",".join(PP[c] for c in PP_COLS) + "\n", encoding="utf-8")
    (ws.raw / "bmn/2561/junk.bin.csv").write_bytes(bytes(range(256)) * 4)
    s = ingest(ws)
    refused = {f.file: f.refused for f in s.refused}
    assert "HTML" in refused["bmn/2561/bmn2561_households_html.xlsx"]
    assert "could not be read" in refused["bmn/2561/bmn2561_persons_zip.xlsx"]
    assert "empty" in refused["bmn/2561/bmn2561_persons_empty.csv"]
    assert "no data rows" in refused["bmn/2561/bmn2561_persons_header.csv"]
    assert "binary" in refused["bmn/2561/junk.bin.csv"]
    assert s.rows_accepted == 5 and s.ok


def test_file_without_a_year_is_refused(tmp_path):
    ws = Workspace(tmp_path)
    _csv(ws.raw / "bmn/households_9901.csv", [HH["house_code"], HH["village_code"]], [["99010101001", "99010101"]])
    s = ingest(ws)
    (f,) = s.files
    assert f.refused and "ปีสำรวจ" in f.refused and "no survey year" in f.refused
    assert not s.ok


def test_nothing_usable(tmp_path):
    ws = Workspace(tmp_path)
    ws.raw.mkdir(parents=True)
    s = ingest(ws)
    assert not s.ok and s.rows_in == 0
    assert (ws.processed / "ingest_summary.json").exists() and (ws.processed / "quarantine.csv").exists()


# --- years ----------------------------------------------------------------------------------------

def test_path_year():
    assert path_year("bmn/2561/x.xlsx") == (2561, "folder")
    assert path_year("bmn/bmn2562_households.csv") == (2562, "file name")
    assert path_year("aggregates/61_tpmap_village_99.csv") == (2561, "file name")
    assert path_year("aggregates/2561/62_tpmap.csv") == (2561, "folder")
    assert path_year("bmn/households.csv") == (None, None)


def test_year_column_wins_and_splits_partitions(tmp_path):
    ws = Workspace(tmp_path)
    rows = [["2561", "99010101001", "99010101"], ["๒๕๖๒", "99010101001", "99010101"], ["", "99010101002", "99010101"], ["2555", "99010101003", "99010101"]]
    _csv(ws.raw / "bmn/bmn2561_households_all.csv", [HH["year"], HH["house_code"], HH["village_code"]], rows)
    s = ingest(ws)
    (f,) = s.files
    # blank year → 2561 from the file name; 2555 has no indicator set → quarantined
    assert (f.rows_in, f.rows_accepted, f.rows_quarantined) == (4, 3, 1)
    assert f.years == [2555, 2561, 2562]
    q = _quarantine(ws)
    assert q[["row", "column", "rule"]].values.tolist() == [[5, "year", "year_period"]]
    h61 = pd.read_parquet(ws.processed / "households/year=2561/bmn2561_households_all.parquet")
    h62 = pd.read_parquet(ws.processed / "households/year=2562/bmn2561_households_all.parquet")
    assert sorted(h61["source_row"]) == [2, 4] and h62["source_row"].tolist() == [3]


# --- places ---------------------------------------------------------------------------------------

def _places(ws: Workspace, rows):
    _csv(ws.raw / "places.csv", ["code", "level", "name_th", "name_en"], rows, encoding="utf-8")


def test_village_missing_from_places_is_quarantined(tmp_path):
    ws = Workspace(tmp_path)
    _places(ws, [["99", "province", "จังหวัดตัวอย่าง", "Demo"], ["99010101", "village", "บ้านหนึ่ง", ""], ["99010101", "หมู่บ้าน", "ซ้ำ", ""]])
    _csv(ws.raw / "bmn/2561/bmn2561_households_x.csv", [HH["house_code"], HH["village_code"]],
         [["99010101001", "99010101"], ["99010102001", "99010102"]])
    s = ingest(ws)
    q = _quarantine(ws)
    assert q[["file", "row", "column", "rule"]].values.tolist() == [
        ["places.csv", 4, "code", "duplicate_code"],
        ["bmn/2561/bmn2561_households_x.csv", 3, "village_code", "village_not_in_places"],
    ]
    places = pd.read_parquet(ws.processed / "places.parquet")
    assert places["code"].tolist() == ["99", "99010101"] and places["parent_code"].tolist()[1] == "990101"
    assert s.rows_accepted == 3
    # without the place list the code is accepted; with places_required=False it is not checked
    assert ingest(ws, places_required=False).rows_quarantined == 1  # only the places duplicate
    (ws.raw / "places.csv").unlink()
    s = ingest(ws)
    assert s.rows_quarantined == 0 and any("places.csv" in n for n in s.notes)
    with pytest.raises(InputError, match="places.csv"):
        ingest(ws, places_required=True)


def test_real_place_list(tmp_path):
    if not ADMIN.is_dir():
        pytest.skip("/work/shared/data/admin is not available")
    src = ADMIN / "dhanabhon_thailand_geodata"
    prov = pd.read_csv(src / "provinces.csv", dtype=str)
    dist = pd.read_csv(src / "districts.csv", dtype=str)
    tamb = pd.read_csv(src / "sub_districts.csv", dtype=str)
    rows = ([[c, "province", th, en] for c, th, en in prov[["CODE", "PROVINCE_THAI", "PROVINCE_ENGLISH"]].values]
            + [[c, "อำเภอ", th, en] for c, th, en in dist[["DISTRICT_CODE", "DISTRICT_THAI", "DISTRICT_ENGLISH"]].values]
            + [[c, "ตำบล", th, en] for c, th, en in tamb[["SUB_DISTRICT_CODE", "SUB_DISTRICT_THAI", "SUB_DISTRICT_ENGLISH"]].values])
    ws = Workspace(tmp_path)
    _places(ws, rows)
    s = ingest(ws)
    (f,) = s.files
    unique_codes = len(set(prov["CODE"]) | set(dist["DISTRICT_CODE"]) | set(tamb["SUB_DISTRICT_CODE"]))
    assert f.rows_in == len(rows) and f.rows_accepted == unique_codes
    places = pd.read_parquet(ws.processed / "places.parquet")
    assert places["code"].str.len().map({2: "province", 4: "district", 6: "tambon"}).tolist() == places["level"].tolist()
    assert set(places.loc[places["level"] == "tambon", "code"]) == set(tamb["SUB_DISTRICT_CODE"])


# --- platform aggregates, กชช. 2ค, accounts, capital ----------------------------------------------

def test_platform_aggregates_summed_by_village(tmp_path):
    ws = Workspace(tmp_path)
    cols = ["village_ID", "province_ID", "household.CNT", "HOUSEMEMBER_CNT", "ELDERLY_CNT", "DISABLED_CNT",
            "CHRONICPATIENT_CNT", "indicator1.ALL", "indicator1.CNT", "indicator4.ALL", "indicator4.CNT"]
    rows = [
        ["9901010101", "99", 10, 30, 5, 1, 2, 3, 1, 30, 4],   # 2 ┐ the same village 99010101:
        ["9901010102", "99", 5, 12, 2, 0, 1, 1, 0, 12, 2],    # 3 ┘ summed
        ["9901010201", "99", 7, 20, 3, 0, 0, 2, 3, 20, 1],    # 4 CNT > ALL
        ["9901010301", "98", 7, 20, 3, 0, 0, 2, 1, 20, 1],    # 5 province does not match
        ["9901010101", "99", 1, 1, 1, 1, 1, 1, 1, 1, 1],      # 6 duplicate platform ID
    ]
    _csv(ws.raw / "aggregates/61_tpmap_village_99.csv", cols, rows, encoding="utf-8")
    s = ingest(ws)
    (f,) = s.files
    assert (f.table, f.year, f.rows_in, f.rows_accepted, f.rows_quarantined) == ("aggregates", 2561, 5, 2, 3)
    q = _quarantine(ws)
    assert set(zip(q["row"], q["column"], q["rule"])) == {
        (4, "cnt_1", "cnt_le_all"), (5, "province_id", "province_consistent"), (6, "village_id", "duplicate_village")}
    agg = pd.read_parquet(ws.processed / "aggregates/year=2561/61_tpmap_village_99.parquet")
    assert agg[["village_code", "indicator", "all", "cnt"]].values.tolist() == [["99010101", 1, 4, 1], ["99010101", 4, 42, 6]]
    assert agg[["households", "members", "elderly", "disabled", "chronic"]].iloc[0].tolist() == [15, 42, 7, 1, 3]
    assert (agg["year"] == 2561).all()


def test_kchch2k_long(tmp_path):
    ws = Workspace(tmp_path)
    kh = thai_headers("kchch2k")
    _xlsx(ws.raw / "kchch2k/2562/kchch2k2562_99.xlsx", [kh["village_code"], kh["village_name"], kh["k1"], kh["k2"], kh["k3"]],
          [["99010101", "บ้านหนึ่ง", 1, 2, 3], ["99010102", "บ้านสอง", 3, 4, None], ["99010101", "ซ้ำ", 1, 1, 1], ["99010103", "บ้านสาม", 2, None, "3"]])
    s = ingest(ws)
    assert (s.rows_in, s.rows_accepted, s.rows_quarantined) == (4, 2, 2)
    q = _quarantine(ws)
    assert set(zip(q["row"], q["column"], q["rule"])) == {(3, "k2", "level_123"), (4, "village_code", "duplicate_village")}
    k = pd.read_parquet(ws.processed / "kchch2k.parquet")
    assert k.values.tolist() == [[2562, "99010101", 1, 1], [2562, "99010101", 2, 2], [2562, "99010101", 3, 3],
                                 [2562, "99010103", 1, 2], [2562, "99010103", 3, 3]]


def test_accounts_and_capital(tmp_path):
    ws = Workspace(tmp_path)
    v = ws.raw / "villages" / "99010101"
    ah, ch = thai_headers("accounts"), thai_headers("capital")
    _xlsx(v / "accounts.xlsx", [ah[c] for c in ["house_code", "date", "item", "category", "income", "expense", "balance"]], [
        ["99010101001", dt.datetime(2561, 1, 5), "ขายข้าว", "รายได้หลัก", 5000, None, 5000],
        ["99010101001", "6 ม.ค. 61", "ซื้อปุ๋ย", "รายจ่ายเพื่อการผลิต", None, 800, -300],
        ["99010102001", "7/1/2561", "x", "y", None, 1, 0],              # another village's house
        ["99010101001", "เมื่อวาน", "x", "y", None, 1, 0],              # unreadable date
    ])
    _csv(v / "capital.csv", [ch[c] for c in ["kind", "name", "description", "quantity", "value_baht"]], [
        ["ทุนมนุษย์", "ปราชญ์ชาวบ้าน", "", 3, ""], ["สังคม", "ประเพณีบุญบั้งไฟ", "ทุกปี", "", ""],
        ["ทุนพลังงาน", "โซลาร์", "", 1, 10000], ["financial", "กองทุนหมู่บ้าน", "", 1, "1,000,000"],
        ["ทุนทางวัฒนธรรม", "ภูมิปัญญาผ้าทอ", "", "", ""]])
    (v / "votes.csv").write_text("โครงการ,คะแนนเสียง\nก,1\n", encoding="utf-8")
    (v / "photos").mkdir()
    (v / "photos" / "a.jpg").write_bytes(b"\xff\xd8\xff")
    s = ingest(ws)
    assert {f.file: (f.rows_in, f.rows_accepted, f.rows_quarantined) for f in s.files} == {
        "villages/99010101/accounts.xlsx": (4, 2, 2), "villages/99010101/capital.csv": (5, 4, 1)}
    assert {x["file"] for x in s.skipped} == {"villages/99010101/votes.csv", "villages/99010101/photos/a.jpg"}
    acc = pd.read_parquet(ws.processed / "accounts.parquet")
    assert acc["date"].tolist() == [dt.date(2018, 1, 5), dt.date(2018, 1, 6)]
    assert acc["balance"].tolist() == [5000.0, -300.0] and (acc["village_code"] == "99010101").all()
    assert acc["house_key"].nunique() == 1 and acc["house_key"].str.len().eq(16).all()
    cap = pd.read_parquet(ws.processed / "capital.parquet")
    assert cap["kind"].tolist() == ["human", "social", "financial", "social"]
    assert cap["value_baht"].tolist()[2] == 1_000_000.0
    q = _quarantine(ws)
    assert set(zip(q["file"], q["row"], q["rule"])) == {
        ("villages/99010101/accounts.xlsx", 4, "house_code_village"), ("villages/99010101/accounts.xlsx", 5, "date"),
        ("villages/99010101/capital.csv", 4, "category")}


def test_village_folder_must_be_a_code(tmp_path):
    ws = Workspace(tmp_path)
    ch = thai_headers("capital")
    _csv(ws.raw / "villages/บ้านหนึ่ง/capital.csv", [ch["kind"], ch["name"]], [["ทุนมนุษย์", "ก"]])
    (f,) = ingest(ws).files
    assert f.refused and "8-digit village code" in f.refused


def test_summary_type():
    s = IngestSummary()
    assert not s.ok and s.rows_in == 0 and "Ingest summary" in str(s)


def test_user_documentation_lists_every_column_and_rule():
    from vilwork.schemas import RULES

    doc = (Path(__file__).resolve().parents[1] / "docs" / "ingest.md").read_text(encoding="utf-8")
    aliases = pd.read_csv(Path(__file__).resolve().parents[1] / "vilwork" / "definitions" / "aliases.csv", dtype=str, keep_default_na=False)
    for t, c, th in aliases[aliases["table"] != "votes"][["table", "column", "header_th"]].values:
        if c[0] in "qk" and c[1:2].isdigit():
            continue  # answer and level columns are documented as ranges
        assert f"`{c}`" in doc and th in doc, f"docs/ingest.md does not document {t}.{c} ({th})"
    for rule in RULES:
        assert f"`{rule}`" in doc, f"docs/ingest.md does not document rule {rule}"
