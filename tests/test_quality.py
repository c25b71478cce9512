"""Data quality across villages: rules as data, the modified z-score worked by hand, completeness."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vilwork import quality as q
from vilwork.errors import DefinitionError
from vilwork.workspace import Workspace


def test_modified_z_worked_by_hand():
    # x = 0.90 0.92 0.95 0.93 0.40; median 0.92; |x − median| = 0.02 0 0.03 0.01 0.52; MAD = 0.02
    # M = 0.6745 (x − 0.92) / 0.02: −0.6745, 0, 1.01175, 0.33725, −17.5370
    z = q.modified_z(pd.Series([0.90, 0.92, 0.95, 0.93, 0.40]))
    assert z.tolist() == pytest.approx([-0.6745, 0.0, 1.01175, 0.33725, -17.537], abs=1e-6)


def test_modified_z_when_mad_is_zero_uses_the_mean_absolute_deviation():
    # 1 1 1 1 0.5: median 1, MAD 0; mean |x − 1| = 0.1; M(0.5) = −0.5 / (1.253314 · 0.1) = −3.98942
    z = q.modified_z(pd.Series([1.0, 1.0, 1.0, 1.0, 0.5]))
    assert z.tolist() == pytest.approx([0, 0, 0, 0, -3.98942], abs=1e-5)
    assert q.modified_z(pd.Series([0.7] * 5)).tolist() == [0.0] * 5
    assert q.modified_z(pd.Series([1.0, 1.0, 1.0, 0.5]), mad_zero="skip").isna().all()


def _ind(rates, district="9901", indicator=3, year=2562, surveyed=50, unit="person"):
    return pd.DataFrame({"year": year, "level": "village", "code": [f"{district}01{i + 1:02d}" for i in range(len(rates))],
                         "indicator": float(indicator), "group": 1, "unit": unit, "surveyed": surveyed,
                         "passed": [round(r * surveyed) for r in rates], "failed": [surveyed - round(r * surveyed) for r in rates],
                         "pass_rate": rates, "source": "records"})


def test_indicator_outliers_flag_one_village_of_one_district():
    ind = pd.concat([_ind([0.90, 0.92, 0.95, 0.93, 0.40]),
                     _ind([0.90, 0.40, 0.95], district="9902"),          # 3 villages: fewer than min_villages, not tested
                     _ind([0.30, 0.30, 0.30, 0.30, 0.30], indicator=3, unit="member")])  # member rows lose to person rows
    f = q.indicator_outliers(ind)
    assert f["village_code"].tolist() == ["99010105"]
    assert f["value"].tolist() == ["40.0%"] and "M = -17.54" in f["reference"].iloc[0]
    assert "median 92.0%" in f["message_en"].iloc[0] and f["item"].iloc[0].startswith("3 ")


def test_tiny_gaps_in_a_tight_district_are_not_reported():
    # 0.97 ×4, 0.94: MAD 0; mean |x − 0.97| = 0.006; M(0.94) = −0.03 / (1.253314 · 0.006) = −3.99 > 3.5,
    # but 3 points from the median is under min_difference (5 points)
    assert q.modified_z(pd.Series([0.97] * 4 + [0.94])).iloc[-1] == pytest.approx(-3.9894, abs=1e-4)
    assert q.indicator_outliers(_ind([0.97] * 4 + [0.94])).empty
    assert q.indicator_outliers(_ind([0.97] * 4 + [0.90]))["village_code"].tolist() == ["99010105"]


def test_small_denominators_are_not_tested():
    ind = _ind([0.90, 0.92, 0.95, 0.93, 0.40], surveyed=4)
    assert q.indicator_outliers(ind).empty


def test_rules_as_data_point_at_village_number_and_row():
    tables = {
        "indicators": pd.DataFrame({"year": 2562, "code": ["99010101", "99010102"], "indicator": [5.0, 5.0], "unit": "household",
                                    "surveyed": [10, 10], "passed": [8, -2], "failed": [2, 12]}),
        "village_counts": pd.DataFrame({"year": 2562, "village_code": ["99010101", "99010102"], "households": [6, 3],
                                        "members": [5, 9], "elderly": [7, 1], "disabled": [0, 0], "chronic": [0, None]}),
        "households": pd.DataFrame({"year": 2562, "village_code": ["99010101", "99010101"], "house_key": ["aaaa", "bbbb"],
                                    "members": [3, 0], "source_file": "bmn2562_households_9901.xlsx", "source_row": [2, 3]}),
    }
    f = q.rule_findings(tables)
    got = sorted(zip(f["check"], f["village_code"]))
    assert got == [("elderly_le_members", "99010101"), ("failed_le_surveyed", "99010102"),
                   ("household_has_members", "99010101"), ("members_ge_households", "99010101")]
    m = f.set_index("check")
    assert m.loc["failed_le_surveyed", "message_en"] == "failing (12) exceeds surveyed (10)"
    assert m.loc["members_ge_households", "value"] == "members=5, households=6"
    assert (m.loc["household_has_members", "file"], m.loc["household_has_members", "row"]) == ("bmn2562_households_9901.xlsx", 3)
    # passed + failed == surveyed holds for both rows (8 + 2, −2 + 12): not reported


def test_parse_check_reads_only_the_rule_grammar():
    c = q.parse_check("passed + failed == surveyed")
    assert c.columns == {"passed", "failed", "surveyed"} and c.op == "=="
    df = pd.DataFrame({"a": [1, 5, np.nan], "b": [2, 2, 2]})
    assert q.violations(df, q.parse_check("a - 1 <= b")).tolist() == [False, True, False]
    for bad in ("a <=", "a b <= c", "<= a", "a <= b <= c", "__import__('os') <= 1"):
        with pytest.raises(DefinitionError):
            q.parse_check(bad)


def test_village_counts_from_records_or_aggregates():
    hh = pd.DataFrame({"year": 2562, "village_code": ["99010101", "99010101", "99010102"]})
    ps = pd.DataFrame({"year": 2562, "village_code": ["99010101"] * 3 + ["99010102"], "age_years": [70, 30, 61, 5],
                       "health": ["normal", "disabled", "chronic", "normal"]})
    agg = pd.DataFrame({"year": 2562, "village_code": ["99010102", "99010102"], "indicator": [1, 2], "households": 40,
                        "members": 120, "elderly": 20, "disabled": 2, "chronic": 9})
    c = q.village_counts(hh, ps, agg).set_index("village_code")
    assert c.loc["99010101", ["households", "members", "elderly", "disabled", "chronic", "source"]].tolist() == [2, 3, 2, 1, 1, "records"]
    assert c.loc["99010102", ["households", "members", "source"]].tolist() == [40, 120, "aggregates"]


def _workspace(tmp_path) -> Workspace:
    ws = Workspace(tmp_path / "ws").ensure()
    ind = _ind([0.90, 0.92, 0.95, 0.93, 0.40])
    ind.to_parquet(ws.processed / "indicators_village.parquet")
    hh_dir = ws.processed / "households" / "year=2562"
    hh_dir.mkdir(parents=True)
    # 99010101: two households, q4_1..q4_4; one answer missing → answered (1 + 0.75) / 2 = 0.875 (partial)
    pd.DataFrame({"house_key": ["h1", "h2", "h3"], "village_code": ["99010101", "99010101", "99010102"], "members": [2, 0, 1],
                  "q4_1": [1, 1, 1], "q4_2": [1, None, 1], "q4_3": [1, 1, 1], "q4_4": [0, 1, 1],
                  "source_file": "hh.xlsx", "source_row": [2, 3, 4]}).to_parquet(hh_dir / "hh.parquet")
    pd.DataFrame({"year": 2562, "village_code": ["99010101"], **{f"k{i}": [3] for i in range(1, 34)}}).to_parquet(ws.processed / "kchch2k.parquet")
    (ws.raw / "villages" / "99010101").mkdir(parents=True)
    (ws.raw / "villages" / "99010101" / "profile.yaml").write_text("name: x\n")
    return ws


def test_source_completeness_per_village(tmp_path):
    ws = _workspace(tmp_path)
    tables = {"households": q._read(ws, "households", "9901", 2562), "persons": pd.DataFrame(), "aggregates": pd.DataFrame(),
              "kchch2k": q._read(ws, "kchch2k.parquet", "9901", None)}
    c = q.source_completeness({"ws": ws, "tables": tables}, ["99010101", "99010102"]).set_index(["village_code", "source"])
    assert c.loc[("99010101", "answers"), "share"] == pytest.approx(0.875)
    assert c.loc[("99010101", "answers"), "status"] == "partial"
    assert c.loc[("99010102", "answers"), "status"] == "complete"
    assert c.loc[("99010101", "kchch2k"), "status"] == "complete" and c.loc[("99010102", "kchch2k"), "status"] == "missing"
    assert c.loc[("99010101", "profile"), "status"] == "complete" and c.loc[("99010102", "profile"), "status"] == "missing"
    assert c.loc[("99010101", "aggregates"), "status"] == "not_used"


def test_quality_report_of_a_district_is_written_as_excel_and_html(tmp_path):
    ws = _workspace(tmp_path)
    rep = q.quality_report(ws, "9901", 2562)
    f = rep.findings
    assert set(f["severity"]) == {"error", "outlier", "incomplete"}
    assert ("99010105", "outlier") in set(zip(f["village_code"], f["severity"]))
    err = f[f["check"] == "household_has_members"]
    assert err[["village_code", "file", "row"]].values.tolist() == [["99010101", "hh.xlsx", 3]]
    files = q.write_quality_report(ws, rep)
    assert {p.name for p in files} == {"คุณภาพข้อมูล_9901_2562.xlsx", "data_quality_9901_2562.html"}
    page = files[1].read_text(encoding="utf-8")
    assert "99010105" in page and "<script" not in page
    from openpyxl import load_workbook

    sh = load_workbook(files[0])["รายการที่ต้องตรวจ"]
    rows = [[c.value for c in r] for r in sh.iter_rows(min_row=4)]
    assert any(r[0] == "99010101" and "hh.xlsx" in r for r in rows)
