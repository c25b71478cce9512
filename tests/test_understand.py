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


def test_trend_changes_and_chart_by_hand(ws):
    # add indicator 11 (household), falling from 50/50 to 44/50: -12 points
    f = ws / "data" / "processed" / "indicators_village.parquet"
    df = pd.read_parquet(f)
    add = pd.DataFrame([_row(2561, "village", V, 11, 2, "household", 50, 50), _row(2562, "village", V, 11, 2, "household", 50, 44)])
    add["indicator"] = add["indicator"].astype("Int64")
    pd.concat([df, add], ignore_index=True).to_parquet(f)
    v = open_village(ws, V)
    ch = understand.trend_changes(v)
    # rises first, largest first (6: 24/40 -> 30/40 = +15, 9: 40/50 -> 45/50 = +10), then the fall;
    # 22 did not move, 2 is hidden from the public (3 infants)
    assert list(ch["indicator"]) == [6, 9, 11]
    assert list(ch["change"].round(4)) == [0.15, 0.1, -0.12]
    assert list(understand.trend_changes(v, top=1)["indicator"]) == [6, 11]
    fig = understand.trend_chart(v)
    bar = fig.data[0]
    assert list(bar.text) == ["−12 จุด", "+10 จุด", "+15 จุด"]  # plotly lists bottom first
    assert bar.marker.color[0] != bar.marker.color[1] == bar.marker.color[2]
    assert fig.layout.xaxis.range[0] < -12 and fig.layout.xaxis.range[1] > 15


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


# ---------------------------------------------------------------------------------------------
# population pyramid and income histogram: small bars for the public (PDPA)


def _persons(spec: dict) -> pd.DataFrame:
    """spec: (age, sex) -> number of persons."""
    rows = [{"age_years": age, "sex": sex} for (age, sex), n in spec.items() for _ in range(n)]
    return pd.DataFrame(rows)


PYRAMID = {(5, "male"): 10, (5, "female"): 12, (15, "male"): 3, (15, "female"): 8, (25, "male"): 9,
           (25, "female"): 7, (75, "male"): 6, (75, "female"): 5, (85, "male"): 2}


def _pyramid(ws, audience):
    v = open_village(ws, V, audience=audience)
    v.__dict__["persons"] = _persons(PYRAMID)  # the cached property, as if read from data/processed
    return understand.population_pyramid(v)


def test_pyramid_public_merges_the_oldest_and_hides_small_bars(ws):
    fig = _pyramid(ws, "public")
    male, female = fig.data
    # 80+ holds 2 men: it joins 70–79 (6 + 2 men, 5 women) as "70+"
    assert list(male.y) == ["0–9", "10–19", "20–29", "30–39", "40–49", "50–59", "60–69", "70+"]
    # 3 men aged 10–19 are a small cell; the bars add up to the 62 persons in the title, so the
    # smallest other bar (5 women 70+) is hidden too; both drawn hatched at 5, not at their value
    assert list(male.customdata) == ["10", "<5", "9", "0", "0", "0", "0", "8"]
    assert list(female.customdata) == ["12", "8", "7", "0", "0", "0", "0", "*"]
    assert list(male.x) == [-10, -5, -9, 0, 0, 0, 0, -8] and list(female.x) == [12, 8, 7, 0, 0, 0, 0, 5]
    assert list(male.marker.pattern.shape) == ["", "/", "", "", "", "", "", ""]
    assert list(female.marker.pattern.shape) == ["", "", "", "", "", "", "", "/"]
    assert "62" in fig.layout.title.text and "<5 คือ 1–4" in fig.layout.annotations[0].text
    # ticks every 5 (the first round step of at least 12 / 3), out to the longest bar (12)
    assert list(fig.layout.xaxis.tickvals) == [-15, -10, -5, 0, 5, 10, 15]


def test_pyramid_internal_is_exact_and_the_threshold_is_configurable(ws, monkeypatch):
    fig = _pyramid(ws, "internal")
    male, female = fig.data
    assert list(male.y)[-2:] == ["70–79", "80+"]
    assert list(male.customdata) == ["10", "3", "9", "0", "0", "0", "0", "6", "2"]
    assert list(female.customdata) == ["12", "8", "7", "0", "0", "0", "0", "5", "0"]
    assert not fig.layout.annotations
    from vilwork import disclosure

    monkeypatch.setattr(disclosure, "small_cell_threshold", lambda: 2)  # display.yaml's small_cell_threshold
    male, female = _pyramid(ws, "public").data
    assert list(male.y)[-1] == "70+"  # 2 men aged 80+ are still small; 3 aged 10–19 are not
    assert list(male.customdata) == ["10", "3", "9", "0", "0", "0", "0", "8"]


def _income(ws, incomes: dict, audience="public"):
    v = open_village(ws, V, audience=audience)
    v.__dict__["households"] = pd.DataFrame({"income_per_member": [x for x, n in incomes.items() for _ in range(n)]})
    return understand.income_vs_threshold(v)


# 44 households; the 98th percentile is 75,000 + 0.14 × 130,000 = 93,200, so the bands are 0k…98k
INCOMES = {15_000: 2, 25_000: 10, 35_000: 6, 55_000: 20, 75_000: 5, 205_000: 1}


def test_income_histogram_public_hides_small_bands(ws):
    fig, facts = _income(ws, INCOMES)  # threshold 38,000 (2562): the band edges fall on it
    bar = fig.data[0]
    # 98k+ (1) joins 88k (0), then 78k (0), then 68k (5): "68k+" holds 6
    assert list(bar.x) == ["0k", "8k", "18k", "28k", "38k", "48k", "58k", "68k+"]
    # every band wholly below or above 38,000: the red bars are the 18 below, no band straddles it
    assert [c for c in bar.marker.color] == ["#c0392b"] * 4 + ["#27ae60"] * 4
    # 2 at 8k: small; its complement is the smallest other red bar (6 at 28k)
    assert list(bar.customdata) == ["0", "<5", "10", "*", "0", "20", "0", "6"]
    assert list(bar.y) == [0, 5, 10, 5, 0, 20, 0, 6]
    assert facts["below"] == 18 and facts["below_text"] == "18" and facts["households"] == 44
    internal, facts_i = _income(ws, INCOMES, "internal")
    assert list(internal.data[0].customdata) == ["0", "2", "10", "6", "0", "20", "0", "5", "0", "0", "1"]
    assert facts_i["below_text"] == "18"


def test_income_below_threshold_count_is_protected_too(ws, monkeypatch):
    # threshold on a band edge (30,000): the red bars (0k, 10k, 20k) add up to the 12 below it, so
    # the complement of the 2 at 10k is the 10 at 20k (it covers both the red bars and all bars)
    monkeypatch.setattr(understand, "threshold", lambda year: 30_000.0)
    fig, facts = _income(ws, INCOMES)
    assert list(fig.data[0].customdata) == ["0", "<5", "*", "6", "0", "20", "0", "6"]
    assert facts["below_text"] == "12" and "ต่ำกว่าเกณฑ์ 12 จาก 44" in fig.layout.title.text
    # 2 households below 20,000: the count is a small cell, in the title and the facts
    monkeypatch.setattr(understand, "threshold", lambda year: 20_000.0)
    fig, facts = _income(ws, INCOMES)
    assert facts["below_text"] == "<5" and "ต่ำกว่าเกณฑ์ <5 จาก 44" in fig.layout.title.text
