"""Stage 1 on a hand-made workspace: every expected value below is worked out by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from vilwork import understand
from vilwork.errors import InputError, WorkspaceError
from vilwork.village import open_village

V = "99010101"


def _row(year, level, code, ind, group, unit, surveyed, passed, source="records"):
    return {"year": year, "level": level, "code": code, "indicator": ind, "group": group, "unit": unit,
            "surveyed": surveyed, "passed": passed, "failed": surveyed - passed,
            "pass_rate": passed / surveyed if surveyed else None, "source": source}


@pytest.fixture
def ws(tmp_path):
    p = tmp_path / "data" / "processed"
    p.mkdir(parents=True)
    rows = {lv: [] for lv in ("village", "tambon", "district", "province")}
    codes = {"village": V, "tambon": V[:6], "district": V[:4], "province": V[:2]}
    # indicator 2 (person): 3 infants, 1 fails -> 66.7%, unreliable (3 < 10)
    # indicator 6 (person): 40 aged 35+, 30 pass -> 75%
    # indicator 9 (household): 50 households, 45 pass -> 90%
    # indicator 22 (household): 50 households, 50 pass -> 100%
    for year, (p6, p9) in {2561: (24, 40), 2562: (30, 45)}.items():
        rows["village"] += [
            _row(year, "village", V, 2, 1, "person", 3, 2),
            _row(year, "village", V, 6, 1, "person", 40, p6),
            _row(year, "village", V, 9, 2, "household", 50, p9),
            _row(year, "village", V, 22, 4, "household", 50, 50),
            _row(year, "village", V, 9, 2, "member", 160, 140),
        ]
        for lv in ("tambon", "district", "province"):
            rows[lv] += [_row(year, lv, codes[lv], 6, 1, "person", 400, 320), _row(year, lv, codes[lv], 9, 2, "household", 500, 480)]
    for lv, r in rows.items():
        df = pd.DataFrame(r)
        df["indicator"] = df["indicator"].astype("Int64")
        df.to_parquet(p / f"indicators_{lv}.parquet")
    pd.DataFrame([{"year": 2562, "village_code": V, "n_severe": 1, "n_moderate": 4, "n_none": 28, "class": 2}]).to_parquet(p / "kchch2k_levels.parquet")
    pd.DataFrame([{"code": V, "level": "village", "name_th": "บ้านทดสอบ", "name_en": "Ban Test"}]).to_parquet(p / "places.parquet")
    return tmp_path


def test_open_village_defaults_to_latest_year_and_refuses_bad_input(ws):
    v = open_village(ws, V)
    assert v.year == 2562 and v.name == "บ้านทดสอบ"
    with pytest.raises(InputError, match="2563"):
        open_village(ws, V, 2563)
    with pytest.raises(InputError, match="99999999"):
        open_village(ws, "99999999")
    with pytest.raises(WorkspaceError):
        open_village(ws, "../../etc")


def test_indicator_comparison_prefers_official_units(ws):
    f = understand.indicator_comparison(open_village(ws, V)).set_index("indicator")
    assert f.loc[6, "village"] == pytest.approx(30 / 40)
    assert f.loc[6, "tambon"] == pytest.approx(320 / 400)
    assert f.loc[9, "unit"] == "household" and f.loc[9, "village"] == pytest.approx(0.9)
    assert pd.isna(f.loc[1, "village"])  # not measured
    assert len(f) == 31


def test_failing_ranked_puts_tiny_denominators_last(ws):
    f = understand.failing_ranked(open_village(ws, V, audience="internal"), top=None)
    # 6 fails 25% of 40, 9 fails 10% of 50, 2 fails 33% of only 3 people; 22 passes fully
    assert list(f["indicator"]) == [6, 9, 2]
    # the public never sees the rate over 3 people (a group of 1..4 is a small cell, PDPA)
    assert list(understand.failing_ranked(open_village(ws, V), top=None)["indicator"]) == [6, 9]


def test_trend_two_years_by_hand(ws):
    tr = understand.trend(open_village(ws, V)).set_index("indicator")
    assert tr.attrs["previous"] == 2561
    assert tr.loc[6, "change"] == pytest.approx(30 / 40 - 24 / 40)
    assert tr.loc[6, "direction"] == "ดีขึ้น"
    assert tr.loc[22, "direction"] == "คงเดิม"


def test_kchch2k_status_text(ws):
    k = understand.kchch2k_status(open_village(ws, V))
    assert k["class"] == 2 and k["name"] == "ปานกลาง"
    assert "2562" in k["text"]
    en = understand.kchch2k_status(open_village(ws, V, lang="en"))
    assert en["name"] == "Moderate"


def test_group_fallback_to_mean_of_indicators(ws):
    g = understand.group_comparison(open_village(ws, V)).set_index("group")
    # no group rows in this workspace: health = mean of indicators 2 and 6 = (2/3 + 3/4) / 2
    assert g.loc[1, "village"] == pytest.approx((2 / 3 + 0.75) / 2)


def test_data_inventory_marks_missing_sources(ws):
    inv = understand.data_inventory(open_village(ws, V))
    assert len(inv) == 10
    assert inv.iloc[:, 1].str.startswith("✗").sum() >= 8
