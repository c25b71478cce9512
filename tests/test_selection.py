"""Target selection: hand-made candidate sets whose scores and picks were worked out by hand.

Default rules (selection.yaml): interest and support on 1–5, each weighted 40 as (x − 1) / 4;
completeness (share of bmn, kchch2k present) weighted 10; กชช. 2ค points {1: 1, 2: 0.5, 3: 0}
weighted 10. So interest 5, support 5, full data, class 1 = 40 + 40 + 10 + 10 = 100.
"""
from __future__ import annotations

import shutil

import pandas as pd
import pytest

from vilwork import selection as sel
from vilwork.errors import DefinitionError, InputError
from vilwork.programme import read_table, settings
from vilwork.workspace import Workspace


def facts(rows):
    """rows: (village_code, has_bmn, kchch2k_class or None, bmn_pass_rate)."""
    return pd.DataFrame([{"village_code": c, "has_bmn": b, "has_kchch2k": k is not None, "kchch2k_class": k, "bmn_pass_rate": r,
                          "bmn_year": 2561 if b else None, "kchch2k_year": 2562 if k else None} for c, b, k, r in rows])


def cands(rows, **extra):
    """rows: (village_code, interest, support) as the district typed them (text)."""
    df = pd.DataFrame([{"village_code": c, "village_name": None, "district_code": None, "leaders_interest": i,
                        "joint_support": s, "previously_declared": None, "note": None} for c, i, s in rows])
    for k, v in extra.items():
        df[k] = v
    df["source_file"] = "candidates.csv"
    df["source_row"] = range(2, len(df) + 2)
    return df


def prev(rows=()):
    return pd.DataFrame([{"year": y, "level": lv, "village_code": c, "village_name": None, "source_file": "previous.csv", "source_row": i + 2}
                         for i, (y, lv, c) in enumerate(rows)], columns=["year", "level", "village_code", "village_name", "source_file", "source_row"])


F9901 = facts([("99010101", True, 1, 0.80), ("99010102", True, 2, 0.90), ("99010201", True, 2, 0.85), ("99010202", True, 3, 0.95)])


def run(c, p=prev(), f=F9901, districts=("9901",)):
    table, problems = sel.candidate_table(c, p, f, 2562)
    targets, status = sel.pick_targets(table, problems, list(districts))
    return table, problems, targets, status


def test_tie_at_85_broken_by_leaders_interest_and_the_ineligible_best_village_is_named():
    c = cands([("99010101", "5", "5"), ("99010102", "4", "5"), ("99010201", "5", "4"), ("99010202", "2", "5")])
    table, problems, targets, status = run(c, prev([("2558", "อำเภอ", "99010101")]))
    t = table.set_index("village_code")
    # by hand: 0101 = 40+40+10+10 = 100 (but district information village in 2558);
    # 0102 = 30+40+10+5 = 85; 0201 = 40+30+10+5 = 85; 0202 = 10+40+10+0 = 60 (interest 2 < 3)
    assert t.loc["99010101", "score"] == 100 and not t.loc["99010101", "eligible"]
    assert t.loc["99010102", "score"] == 85 and t.loc["99010201", "score"] == 85
    assert t.loc["99010202", "score"] == 60 and not t.loc["99010202", "eligible"]
    assert t.loc["99010201", "rank"] == 1 and t.loc["99010102", "rank"] == 2
    assert pd.isna(t.loc["99010101", "rank"])
    why = t.loc["99010201", "explanation_en"]
    assert "tie at 85" in why and "leaders' interest" in why and "5 vs 4" in why
    assert "99010101 scores 100 but is skipped" in why and "2558" in why
    assert "เคยเป็นหมู่บ้านสารสนเทศ (อำเภอ 2558)" in t.loc["99010101", "explanation_th"]
    assert "leaders' interest 2 below the minimum 3" in t.loc["99010202", "explanation_en"]
    assert problems.empty
    d = targets[targets["level"] == "district"]
    assert d["village_code"].tolist() == ["99010201"]
    assert targets[targets["level"] == "province"]["village_code"].tolist() == ["99010201"]


def test_a_district_with_no_candidates_is_reported_not_filled():
    c = cands([("99010102", "4", "4")])
    _, _, targets, status = run(c, districts=("9901", "9902"))
    s = status.set_index(["level", "code"])
    assert s.loc[("district", "9902"), "status"] == "no_candidates"
    assert "9902" in s.loc[("district", "9902"), "message_en"]
    assert "9902" not in set(targets["district_code"])
    # the province still picks from the districts that did pick
    assert s.loc[("province", "99"), "status"] == "picked"


def test_full_tie_goes_to_the_lower_pass_rate_then_the_village_code():
    f = facts([("99010101", True, 2, 0.90), ("99010102", True, 2, 0.70), ("99010103", True, 2, None), ("99010104", True, 2, None)])
    c = cands([("99010101", "4", "4"), ("99010102", "4", "4")])
    t, _, targets, _ = run(c, f=f)
    # same score 75, interest, support, completeness: the village with more to gain (0.70) first
    assert t.set_index("village_code").loc["99010102", "rank"] == 1
    assert "mean BMN pass rate (lower first): 0.7 vs 0.9" in t.set_index("village_code").loc["99010102", "explanation_en"]
    c = cands([("99010104", "4", "4"), ("99010103", "4", "4")])
    t, _, targets, _ = run(c, f=f)
    # identical on every key but the code: the lower code wins, and the output says so
    assert targets.iloc[0]["village_code"] == "99010103"
    assert "decided by village code (lower first)" in t.set_index("village_code").loc["99010103", "explanation_en"]


def test_missing_score_blocks_the_district_and_the_province_with_a_message_naming_it():
    c = cands([("99010101", "5", "5"), ("99010102", None, "5"), ("99020101", "4", "4")])
    f = facts([("99010101", True, 1, 0.8), ("99010102", True, 2, 0.9), ("99020101", True, 2, 0.9)])
    table, problems, targets, status = run(c, f=f, districts=("9901", "9902"))
    assert problems["district_code"].tolist() == ["9901"] and problems["problem"].tolist() == ["missing_score"]
    assert problems["row"].tolist() == [3] and problems["column"].tolist() == ["leaders_interest"]
    s = status.set_index(["level", "code"])
    assert s.loc[("district", "9901"), "status"] == "blocked"
    assert "district 9901" in s.loc[("district", "9901"), "message_en"] and "99010102" in s.loc[("district", "9901"), "message_en"]
    # never a silent pick: 99010101 (score 100) is not picked while its district's data are wrong
    assert "9901" not in set(targets["district_code"])
    assert s.loc[("district", "9902"), "status"] == "picked"
    assert s.loc[("province", "99"), "status"] == "blocked" and "9901" in s.loc[("province", "99"), "message_en"]
    assert (targets["level"] == "province").sum() == 0


@pytest.mark.parametrize("rows, extra, previous, problem", [
    ([("99010101", "5", "5"), ("99010101", "4", "5")], {}, (), "duplicate_conflict"),
    ([("99010101", "5", "5")], {"district_code": "9902"}, (), "district_mismatch"),
    ([("99010101", "5", "5")], {"previously_declared": "ไม่เคย"}, [("2557", "จังหวัด", "99010101")], "previous_contradiction"),
    ([("99019999", "5", "5")], {}, (), "unknown_village"),
    ([("99010101", "6", "5")], {}, (), "bad_score"),
    ([("99010101", "ห้า", "5")], {}, (), "bad_score"),
])
def test_contradictory_or_invalid_candidate_data_blocks_the_district(rows, extra, previous, problem):
    table, problems, targets, status = run(cands(rows, **extra), prev(previous))
    assert problem in set(problems["problem"])
    assert set(problems["district_code"]) == {"9901"}
    assert status.set_index(["level", "code"]).loc[("district", "9901"), "status"] == "blocked"
    assert targets.empty


def test_a_garbled_code_blocks_the_district_of_its_file():
    c = cands([("99010101", "5", "5"), ("9901??02", "5", "5")])
    table, problems, targets, status = run(c)
    assert problems["problem"].tolist() == ["bad_village_code"] and problems["district_code"].tolist() == ["9901"]
    assert problems["value"].tolist() == ["9901??02"] and problems["row"].tolist() == [3]
    assert status.set_index(["level", "code"]).loc[("district", "9901"), "status"] == "blocked"


def test_exact_duplicate_rows_are_one_candidate():
    table, problems, targets, _ = run(cands([("99010102", "4", "5"), ("99010102", "4", "5")]))
    assert len(table) == 1 and problems.empty and targets["village_code"].tolist()[:1] == ["99010102"]


def test_no_eligible_candidate_is_reported():
    c = cands([("99010101", "2", "5"), ("99010102", "5", "1")])
    _, _, targets, status = run(c)
    assert status.set_index(["level", "code"]).loc[("district", "9901"), "status"] == "no_eligible"
    assert targets.empty


def test_previous_list_window_and_levels():
    c = cands([("99010101", "5", "5"), ("99010102", "5", "5"), ("99010201", "5", "5")])
    # 2553 is before the window, 2561 after it; a tambon-level record is not district/province
    p = prev([("2553", "อำเภอ", "99010101"), ("2561", "province", "99010102"), ("๒๕๕๙", "district", "99010201")])
    t = run(c, p)[0].set_index("village_code")
    assert t.loc["99010101", "eligible"] and t.loc["99010102", "eligible"]
    assert not t.loc["99010201", "eligible"] and t.loc["99010201", "previous"] == "อำเภอ 2559"


def test_completeness_and_kchch2k_points_worked_by_hand():
    f = facts([("99010101", True, None, 0.8), ("99010102", False, 3, None), ("99010201", True, 1, 0.5)])
    c = cands([("99010101", "3", "3"), ("99010102", "5", "5"), ("99010201", "3", "3")])
    t = run(c, f=f)[0].set_index("village_code")
    # 0101: 20 + 20 + 10·0.5 + 0 (no class) = 45; 0201: 20 + 20 + 10 + 10 = 60
    assert t.loc["99010101", "completeness"] == 0.5 and t.loc["99010101", "score"] == 45
    assert t.loc["99010201", "score"] == 60
    # 0102 has no จปฐ. data, a required source: not eligible whatever its score (40+40+5+0 = 85)
    assert t.loc["99010102", "score"] == 85 and not t.loc["99010102", "eligible"]
    assert "no BMN data" in t.loc["99010102", "explanation_en"]


def test_province_picks_the_best_district_pick():
    f = facts([("99010101", True, 2, 0.8), ("99020101", True, 1, 0.8), ("98010101", True, 2, 0.8)])
    c = cands([("99010101", "4", "5"), ("99020101", "5", "5"), ("98010101", "3", "3")])
    _, _, targets, status = run(c, f=f, districts=("9901", "9902", "9801"))
    prov = targets[targets["level"] == "province"].set_index("province_code")
    # 99: 9901 pick scores 30+40+10+5 = 85, 9902 pick 40+40+10+10 = 100
    assert prov.loc["99", "village_code"] == "99020101"
    assert "best of the province's 2 district targets" in prov.loc["99", "reason_en"]
    assert prov.loc["98", "village_code"] == "98010101"
    assert (targets["level"] == "district").sum() == 3


def test_tie_break_order_must_end_with_village_code(tmp_path, monkeypatch):
    from vilwork.registry import definitions_dir

    d = tmp_path / "defs"
    shutil.copytree(definitions_dir(), d)
    p = d / "programme" / "selection.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("  - {key: village_code, order: asc}\n", ""), encoding="utf-8")
    monkeypatch.setenv("VILWORK_DEFINITIONS", str(d))
    with pytest.raises(DefinitionError, match="village_code"):
        sel.selection_rules()


# ---- files ------------------------------------------------------------------------------------
def _workspace(tmp_path) -> Workspace:
    ws = Workspace(tmp_path / "ws").ensure()
    places = pd.DataFrame({"code": ["99", "9901", "990101", "99010101", "99010102", "9902"],
                           "level": ["province", "district", "tambon", "village", "village", "district"],
                           "name_th": ["ตัวอย่าง", "เมือง", "ในเมือง", "บ้านหนองบัว", "บ้านโนนไทร", "ทุ่ง"],
                           "name_en": ["Tua Yang", "Mueang", "Nai Mueang", "Ban Nong Bua", "Ban Non Sai", "Thung"]})
    places.to_parquet(ws.processed / "places.parquet")
    ind = pd.DataFrame({"year": [2561] * 2, "level": "village", "code": ["99010101", "99010102"], "indicator": [1.0, 1.0], "group": 1,
                        "unit": "person", "surveyed": 10, "passed": [9, 8], "failed": [1, 2], "pass_rate": [0.9, 0.8], "source": "records"})
    ind.to_parquet(ws.processed / "indicators_village.parquet")
    pd.DataFrame({"year": [2562, 2562], "village_code": ["99010101", "99010102"], "n_severe": 0, "n_moderate": 0, "n_none": 33,
                  "class": [3, 2]}).to_parquet(ws.processed / "kchch2k_levels.parquet")
    (ws.raw / "programme" / "2562").mkdir(parents=True)
    return ws


def test_select_writes_the_target_list_with_thai_headers_text_codes_and_no_formulas(tmp_path):
    ws = _workspace(tmp_path)
    (ws.raw / "programme" / "2562" / "candidates.csv").write_text(
        "\ufeffรหัสหมู่บ้าน,ชื่อหมู่บ้าน,คะแนนความสนใจของผู้นำและประชาชน,คะแนนการทำงานร่วมกับหน่วยงานและ อปท.\n"
        "99010101,=HYPERLINK(\"http://x\"),๔,5\n99010102,บ้านโนนไทร,3,3\n", encoding="utf-8")
    (ws.raw / "programme" / "previous_villages.csv").write_text("ปี,ระดับ,รหัสหมู่บ้าน\n2556,จังหวัด,99010102\n", encoding="utf-8")
    res = sel.select(ws)
    assert res.fiscal_year == 2562 and res.bmn_year == 2561
    files = sel.write_target_list(ws, res)
    names = {f.name for f in files}
    assert {"รายชื่อหมู่บ้านเป้าหมาย_2562.xlsx", "target_villages_2562.csv"} <= names
    # 9902 has no candidates: reported; 99010101 (30+40+10+0 = 80) picked for 9901 and province 99
    assert res.status.set_index("code").loc["9902", "status"] == "no_candidates"
    csv = pd.read_csv(ws.reports / "_programme" / "target_villages_2562.csv", dtype=str, encoding="utf-8-sig")
    assert list(csv.columns[:4]) == ["ลำดับ", "ระดับ", "รหัสจังหวัด", "จังหวัด"]
    assert csv["รหัสหมู่บ้าน"].tolist() == ["99010101", "99010101"]
    assert csv["ระดับ"].tolist() == ["จังหวัด", "อำเภอ"] and csv["คะแนน"].tolist() == ["80.0", "80.0"]
    assert csv["ชื่อหมู่บ้าน"].tolist() == ["บ้านหนองบัว"] * 2  # the place list's name wins over the file's

    from openpyxl import load_workbook

    wb = load_workbook(ws.reports / "_programme" / "รายชื่อหมู่บ้านเป้าหมาย_2562.xlsx")
    sh = wb["หมู่บ้านเป้าหมาย"]
    header = [c.value for c in sh[3]]
    code_col = header.index("รหัสหมู่บ้าน") + 1
    cell = sh.cell(row=4, column=code_col)
    assert cell.value == "99010101" and cell.data_type == "s"
    cands_sheet = wb["ตารางหมู่บ้านที่เสนอ"]
    assert not any(c.data_type == "f" for row in cands_sheet.iter_rows() for c in row)
    assert read_target_list_roundtrip(ws) == [("province", "99010101"), ("district", "99010101")]


def read_target_list_roundtrip(ws):
    df = sel.read_target_list(ws, 2562)
    return list(zip(df["level"], df["village_code"]))


def test_formula_in_an_unknown_name_is_neutralised_in_csv_and_xlsx(tmp_path):
    ws = _workspace(tmp_path)
    (ws.processed / "places.parquet").unlink()  # no place list: the name typed in the file is used
    (ws.raw / "programme" / "2562" / "candidates.csv").write_text(
        "รหัสหมู่บ้าน,ชื่อหมู่บ้าน,คะแนนความสนใจ,คะแนนการสนับสนุน\n99010101,=cmd|' /C calc'!A0,5,5\n", encoding="utf-8")
    res = sel.select(ws, 2562)
    sel.write_target_list(ws, res)
    text = (ws.reports / "_programme" / "target_villages_2562.csv").read_text(encoding="utf-8-sig")
    assert "'=cmd|" in text
    from openpyxl import load_workbook

    sh = load_workbook(ws.reports / "_programme" / "รายชื่อหมู่บ้านเป้าหมาย_2562.xlsx")["หมู่บ้านเป้าหมาย"]
    vals = [c for row in sh.iter_rows() for c in row if isinstance(c.value, str) and "cmd" in c.value]
    assert vals and all(c.data_type == "s" for c in vals)


def test_no_candidates_file_says_where_and_what(tmp_path):
    ws = _workspace(tmp_path)
    with pytest.raises(InputError, match="candidates") as e:
        sel.select(ws, 2562)
    assert "รหัสหมู่บ้าน" in str(e.value) and "2562" in str(e.value)


def test_read_table_aliases_thai_digits_and_missing_columns(tmp_path):
    p = tmp_path / "candidates.csv"
    p.write_text("Village Code , interest,SUPPORT\n๙๙๐๑๐๑๐๑,๕,4\n,,\n", encoding="utf-8")
    df = read_table(p, "candidates")
    assert df["village_code"].tolist() == ["๙๙๐๑๐๑๐๑"] and len(df) == 1  # the blank row is not a record
    assert df["source_row"].tolist() == [2]
    q = tmp_path / "candidates_bad.csv"
    q.write_text("รหัสหมู่บ้าน,คะแนนความสนใจ\n99010101,5\n", encoding="utf-8")
    with pytest.raises(InputError, match="joint_support"):
        read_table(q, "candidates")
    assert settings("columns")["tables"]["candidates"]["village_code"][0] == "รหัสหมู่บ้าน"


def test_read_table_from_excel_with_numeric_code_cells(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    sh = wb.active
    sh.append(["รหัสหมู่บ้าน", "คะแนนความสนใจ", "คะแนนการสนับสนุน"])
    sh.append([99010101, 4, 4.0])  # Excel keeps numbers: the code is a number cell here
    wb.save(tmp_path / "candidates.xlsx")
    df = read_table(tmp_path / "candidates.xlsx", "candidates")
    t, problems = sel.candidate_table(df, prev(), F9901, 2562)
    assert problems.empty and t["village_code"].tolist() == ["99010101"]
    assert t["score"].tolist() == [30 + 30 + 10 + 10]


def test_rules_sheet_reads_as_words_not_python():
    from vilwork.selection import rules_sheet

    for lang in ("th", "en"):
        text = rules_sheet(lang).to_string()
        for raw in ("[", "True", "False", "unconfirmed", "district, province"):
            assert raw not in text, (lang, raw)
    assert "2555–2560: อำเภอ, จังหวัด" in rules_sheet("th").to_string()
