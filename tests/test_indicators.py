"""The DuckDB indicator engine on tiny workspaces written as processed Parquet.

Expected values are worked out by hand in the comments, except in the equivalence test, where the
pandas reference (vilwork.rules, itself tested by hand in test_rules.py) is the oracle.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from test_rules import households, persons  # the hand-made frame builders
from vilwork import rules
from vilwork.errors import DefinitionError, InputError, NoUsableDataError
from vilwork.indicators import LEVELS, OUTPUT_SCHEMA, compute_all, compute_indicators, load_indicators
from vilwork.registry import indicator_set
from vilwork.workspace import Workspace

Y = 2561


def write(ws: Workspace, table: str, df: pd.DataFrame, year: int = Y, name: str = "t") -> None:
    d = ws.processed / table / f"year={year}"
    d.mkdir(parents=True, exist_ok=True)
    df = df.copy()
    df.insert(0, "year", np.int16(year))
    df.to_parquet(d / f"{name}.parquet", index=False)


def aggregates(rows: list[tuple[str, int, int, int]]) -> pd.DataFrame:
    """(village_code, indicator, all, cnt) rows in the processed long layout."""
    return pd.DataFrame(rows, columns=["village_code", "indicator", "all", "cnt"]).astype({"indicator": "int16", "all": "int64", "cnt": "int64"})


def rows(df: pd.DataFrame, **match) -> pd.DataFrame:
    for k, v in match.items():
        df = df[df[k].isna()] if v is None else df[df[k] == v]
    return df


def one(df: pd.DataFrame, **match) -> tuple[int, int, int]:
    r = rows(df, **match)
    assert len(r) == 1, (match, r)
    r = r.iloc[0]
    return int(r["surveyed"]), int(r["passed"]), int(r["failed"])


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path).ensure()


def _read(ws: Workspace, level: str = "village") -> pd.DataFrame:
    return pq.read_table(ws.processed / f"indicators_{level}.parquet").to_pandas()


# ---------------------------------------------------------------------------------------------
# hand-checked cases
# ---------------------------------------------------------------------------------------------
def test_member_convention_and_official_units(ws):
    # a: 4 members, children 9 (vaccinated) and 4 (not): indicator 3 fails for all 4 members.
    # b: 2 elderly members, no child; q4_1 = 0 so b fails indicator 4.
    write(ws, "households", households([{"house_key": "a", "members": 4}, {"house_key": "b", "members": 2, "q4_1": 0}]))
    write(ws, "persons", persons([
        {"house_key": "a", "age_years": 38}, {"house_key": "a", "age_years": 36},
        {"house_key": "a", "age_years": 9, "q3": 1}, {"house_key": "a", "age_years": 4, "q3": 0},
        {"house_key": "b", "age_years": 70}, {"house_key": "b", "age_years": 68},
    ]))
    compute_indicators(ws)
    v = _read(ws)
    assert one(v, indicator=3, unit="member") == (4, 0, 4)  # ALL 4, CNT 4
    assert one(v, indicator=3, unit="person") == (2, 1, 1)  # two children, one passes
    assert one(v, indicator=4, unit="household") == (2, 1, 1)
    assert one(v, indicator=4, unit="member") == (6, 4, 2)  # 4 + 2 members, b's 2 fail
    assert one(v, indicator=21, unit="member") == (0, 0, 0)  # nobody answered
    assert rows(v, indicator=21, unit="person")["pass_rate"].isna().all()  # 0 surveyed: null rate
    assert one(v, indicator=4, unit="household") and rows(v, indicator=4, unit="household")["pass_rate"].iloc[0] == 0.5
    assert set(v["source"]) == {"records"}


def test_rule_kinds_in_sql_none_of_and_min_value(ws):
    # 12 none_of: a clean, b has nuisance 3 -> 1 of 2 pass. 14: c's item 2 blank -> n/a for c.
    # 22 threshold 38,000 (2561): a 38,000 passes, b 37,999 fails, c blank -> n/a
    write(ws, "households", households([
        {"house_key": "a", "income_per_member": 38_000.0},
        {"house_key": "b", "q12_3": 1, "income_per_member": 37_999.0},
        {"house_key": "c", "q14_2": None, "income_per_member": np.nan},
    ]))
    write(ws, "persons", persons([]))
    compute_indicators(ws)
    v = _read(ws)
    assert one(v, indicator=12, unit="household") == (3, 2, 1)
    assert one(v, indicator=14, unit="household") == (2, 2, 0)
    assert one(v, indicator=22, unit="household") == (2, 1, 1)


def test_target_groups_in_sql(ws):
    # 16 (6-14): ages 5, 6, 14, 15 all answered 1 -> 2 surveyed. 2 (6-11 months): 5 m no, 6 m yes.
    # 28 (disabled) answered by a normal person -> ignored. 17 (answered) -> whoever has an answer.
    write(ws, "households", households([{"house_key": "a", "members": 8}]))
    write(ws, "persons", persons([
        {"house_key": "a", "age_years": 5, "q16": 1}, {"house_key": "a", "age_years": 6, "q16": 1},
        {"house_key": "a", "age_years": 14, "q16": 1, "q17": 0}, {"house_key": "a", "age_years": 15, "q16": 1},
        {"house_key": "a", "age_years": 0, "age_months": 5, "q2": 1}, {"house_key": "a", "age_years": 0, "age_months": 6, "q2": 0},
        {"house_key": "a", "age_years": 40, "health": "normal", "q28": 1}, {"house_key": "a", "age_years": 41, "health": "disabled", "q28": 1},
    ]))
    compute_indicators(ws)
    v = _read(ws)
    assert one(v, indicator=16, unit="person") == (2, 2, 0)
    assert one(v, indicator=2, unit="person") == (1, 0, 1)
    assert one(v, indicator=2, unit="member") == (8, 0, 8)
    assert one(v, indicator=28, unit="person") == (1, 1, 0)
    assert one(v, indicator=17, unit="person") == (1, 0, 1)


def test_group_rows(ws):
    # Group 3 (education). a (3 members): child 8 passes 16, adult 30 fails 19 -> fails.
    # b (2): child 4 passes 15 -> passes. c (1): nobody answered -> the group does not apply.
    write(ws, "households", households([{"house_key": "a", "members": 3}, {"house_key": "b", "members": 2}, {"house_key": "c", "members": 1}]))
    write(ws, "persons", persons([
        {"house_key": "a", "age_years": 8, "q16": 1}, {"house_key": "a", "age_years": 30, "q19": 0},
        {"house_key": "b", "age_years": 4, "q15": 1}, {"house_key": "c", "age_years": 70},
    ]))
    compute_indicators(ws)
    v = _read(ws)
    assert one(v, indicator=None, group=3, unit="household") == (2, 1, 1)
    assert one(v, indicator=None, group=3, unit="member") == (5, 2, 3)
    assert one(v, indicator=None, group=2, unit="household") == (3, 3, 0)
    assert len(rows(v, indicator=None)) == 10  # 5 groups x (household, member)


def test_missing_threshold_propagates_a_definition_error(ws):
    write(ws, "households", households([{"house_key": "a"}]), year=2563)
    write(ws, "persons", persons([]), year=2563)
    with pytest.raises(DefinitionError, match="no threshold for indicator 22 in survey year 2563"):
        compute_indicators(ws)


def test_house_code_as_join_key(ws):
    write(ws, "households", households([{"house_key": "99010101001", "members": 3}]).rename(columns={"house_key": "house_code"}))
    write(ws, "persons", persons([{"house_key": "99010101001", "age_years": 9, "q3": 0}]).rename(columns={"house_key": "house_code"}))
    compute_indicators(ws)
    assert one(_read(ws), indicator=3, unit="member") == (3, 0, 3)


def test_no_data_is_a_clear_error(ws):
    with pytest.raises(NoUsableDataError, match="ingest"):
        compute_indicators(ws)


# ---------------------------------------------------------------------------------------------
# aggregates-only villages and roll-ups
# ---------------------------------------------------------------------------------------------
def _two_tambons(ws):
    """Records for 99010101 and 99010201; aggregates for 99010202 (only aggregates) and 99010101
    (also records: the records win); 99020101 in another district, records."""
    write(ws, "households", households([
        {"house_key": "a", "village_code": "99010101", "members": 3, "q9": 0},
        {"house_key": "b", "village_code": "99010201", "members": 2},
        {"house_key": "c", "village_code": "99020101", "members": 5, "q23": 0},
    ]))
    write(ws, "persons", persons([
        {"house_key": "a", "village_code": "99010101", "age_years": 8, "q16": 0},
        {"house_key": "b", "village_code": "99010201", "age_years": 40, "q6": 1},
        {"house_key": "c", "village_code": "99020101", "age_years": 40, "q6": 0},
    ]))
    write(ws, "aggregates", aggregates([("99010202", 4, 120, 10), ("99010202", 9, 120, 30), ("99010101", 4, 999, 999)]))


def test_aggregates_only_village_passes_through(ws):
    _two_tambons(ws)
    compute_indicators(ws)
    v = _read(ws)
    agg = rows(v, code="99010202")
    assert set(agg["unit"]) == {"member"} and set(agg["source"]) == {"aggregates"}
    assert one(v, code="99010202", indicator=4) == (120, 110, 10)  # passed = all - cnt
    assert one(v, code="99010202", indicator=9) == (120, 90, 30)
    assert len(agg) == 2
    # the records village ignores its aggregate row
    assert one(v, code="99010101", indicator=4, unit="member") == (3, 3, 0)
    assert set(rows(v, code="99010101")["source"]) == {"records"}


def test_rollups_add_up_level_by_level(ws):
    _two_tambons(ws)
    compute_indicators(ws)
    key = ["year", "indicator", "group", "unit"]
    frames = {lv: _read(ws, lv) for lv in LEVELS}
    for lv, n in LEVELS.items():
        assert (frames[lv]["code"].str.len() == n).all()
    for lower, upper in (("village", "tambon"), ("tambon", "district"), ("district", "province")):
        lo = frames[lower].assign(code=frames[lower]["code"].str.slice(0, LEVELS[upper]))
        summed = lo.groupby(["code", *key], dropna=False)[["surveyed", "passed", "failed"]].sum().sort_index()
        up = frames[upper].set_index(["code", *key])[["surveyed", "passed", "failed"]].sort_index()
        pd.testing.assert_frame_equal(summed, up, check_dtype=False)
    # by hand: tambon 990102 = village 99010201 (records, 2 members pass 4) + 99010202 (120, 110)
    t = frames["tambon"]
    assert one(t, code="990102", indicator=4, unit="member") == (122, 112, 10)
    assert rows(t, code="990102", indicator=4, unit="member")["source"].iloc[0] == "mixed"
    assert rows(t, code="990102", indicator=4, unit="household")["source"].iloc[0] == "records"
    assert rows(t, code="990102", indicator=4, unit="member")["pass_rate"].iloc[0] == pytest.approx(112 / 122)
    # province 99: indicator 23 (savings) 3 households, c fails -> 2/3; members 3 + 2 + 5, c's 5 fail
    p = frames["province"]
    assert one(p, code="99", indicator=23, unit="household") == (3, 2, 1)
    assert one(p, code="99", indicator=23, unit="member") == (10, 5, 5)


def test_output_columns_types_and_deterministic_order(ws):
    _two_tambons(ws)
    compute_indicators(ws)
    first = {lv: pq.read_table(ws.processed / f"indicators_{lv}.parquet") for lv in LEVELS}
    compute_indicators(ws)
    for lv in LEVELS:
        t = pq.read_table(ws.processed / f"indicators_{lv}.parquet")
        assert t.schema.names == OUTPUT_SCHEMA.names
        assert t.schema.equals(OUTPUT_SCHEMA, check_metadata=False)
        assert t.equals(first[lv])
        df = t.to_pandas()
        unit_rank = df["unit"].map({"person": 0, "household": 1, "member": 2})
        order = pd.DataFrame({"y": df["year"], "c": df["code"], "i": df["indicator"].fillna(99), "g": df["group"], "u": unit_rank})
        assert order.equals(order.sort_values(["y", "c", "i", "g", "u"]))
        assert (df["surveyed"] == df["passed"] + df["failed"]).all()
    # no temporary files left behind
    leftovers = [p.name for p in ws.processed.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_years_argument_keeps_other_years(ws):
    for y in (2561, 2562):
        write(ws, "households", households([{"house_key": "a", "members": 2, "q23": 0 if y == 2561 else 1}]), year=y)
        write(ws, "persons", persons([]), year=y)
    compute_indicators(ws)
    compute_indicators(ws, years=[2562])
    v = _read(ws)
    assert sorted(v["year"].unique()) == [2561, 2562]
    assert one(v, year=2561, indicator=23, unit="household") == (1, 0, 1)
    assert one(v, year=2562, indicator=23, unit="household") == (1, 1, 0)
    assert list(v["year"]) == sorted(v["year"])


def test_load_indicators_filters(ws):
    _two_tambons(ws)
    compute_indicators(ws)
    df = load_indicators(ws, "tambon", year=Y, code="990101", unit="member")
    assert set(df["code"]) == {"990101"} and set(df["unit"]) == {"member"}
    assert len(df) == 31 + 5
    with pytest.raises(ValueError, match="level"):
        load_indicators(ws, "region")


def test_load_indicators_before_compute_is_a_clear_error(ws):
    with pytest.raises(InputError, match="indicators"):
        load_indicators(ws)


# ---------------------------------------------------------------------------------------------
# the engine equals the pandas reference
# ---------------------------------------------------------------------------------------------
def random_frames(seed: int = 3, n_households: int = 90) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Households in 4 villages (2 tambons) with random answers, blanks, out-of-group answers,
    missing ages, disabled and chronically ill persons, orphan persons and an empty household."""
    rng = np.random.default_rng(seed)
    iset = indicator_set(Y)
    villages = np.array(["99010101", "99010102", "99010201", "99020101"])
    hh = pd.DataFrame({"house_key": [f"h{i:03d}" for i in range(n_households)], "village_code": rng.choice(villages, n_households)})
    for item in iset.items("household"):
        if item == "income_per_member":
            continue
        v = (rng.random(n_households) < (0.1 if item.startswith(("q12_", "q14_")) else 0.9)).astype(float)
        v[rng.random(n_households) < 0.08] = np.nan
        hh[item] = pd.array(np.where(np.isnan(v), None, v).tolist(), dtype="Int8")
    inc = rng.choice([20_000.0, 37_999.0, 38_000.0, 60_000.0, np.nan], n_households)
    hh["income_per_member"] = inc
    n_p = rng.integers(0, 7, n_households)  # some households have no person records
    ps = pd.DataFrame({"house_key": np.repeat(hh["house_key"], n_p).to_numpy()})
    ps = pd.concat([ps, pd.DataFrame({"house_key": ["orphan1", "orphan2"]})], ignore_index=True)  # no household row
    ps["village_code"] = ps["house_key"].map(hh.set_index("house_key")["village_code"]).fillna("99010101")
    n = len(ps)
    age = rng.integers(0, 90, n).astype(float)
    age[rng.random(n) < 0.05] = np.nan
    months = age * 12 + rng.integers(0, 12, n)
    young = rng.random(n) < 0.15  # plenty of infants
    age[young], months[young] = 0, rng.integers(0, 12, young.sum())
    ps["age_years"] = pd.array(np.where(np.isnan(age), None, age).tolist(), dtype="Int16")
    ps["age_months"] = pd.array(np.where(np.isnan(months), None, months).tolist(), dtype="Int16")
    ps["health"] = rng.choice(["normal", "disabled", "chronic"], n, p=[0.6, 0.2, 0.2])
    ps["welfare_card"] = rng.random(n) < 0.4
    bw = rng.choice([2000.0, 2499.0, 2500.0, 3200.0, np.nan], n)
    ps["birth_weight_g"] = bw
    for item in iset.items("person"):
        if item == "birth_weight_g":
            continue
        v = (rng.random(n) < 0.8).astype(float)
        v[rng.random(n) < 0.3] = np.nan  # blanks, and answers outside the target group
        ps[item] = pd.array(np.where(np.isnan(v), None, v).tolist(), dtype="Int8")
    members = hh["house_key"].map(ps.groupby("house_key").size()).fillna(0).astype(int)
    hh.insert(2, "members", (members + rng.integers(0, 2, n_households)).astype("int32"))  # the column rules
    return hh, ps


def test_engine_equals_the_pandas_reference_for_all_31_indicators(ws):
    hh, ps = random_frames()
    write(ws, "households", hh.iloc[:50], name="part1")  # two files per table, as ingest may write
    write(ws, "households", hh.iloc[50:], name="part2")
    write(ws, "persons", ps.iloc[: len(ps) // 2], name="part1")
    write(ws, "persons", ps.iloc[len(ps) // 2 :], name="part2")
    compute_indicators(ws)
    v = _read(ws)
    ind = v[v["indicator"].notna()].astype({"indicator": "int64"})

    off = rules.village_official_counts(hh, ps, Y).rename(columns={"village_code": "code"})
    got = ind[ind["unit"] != "member"].merge(off, on=["code", "indicator", "unit"], how="outer", suffixes=("", "_ref"), indicator=True)
    assert (got["_merge"] == "both").all()
    assert (got["surveyed"] == got["surveyed_ref"]).all() and (got["passed"] == got["passed_ref"]).all()
    assert sorted(got["indicator"].unique()) == list(range(1, 32))

    mem = rules.village_member_counts(hh, ps, Y).rename(columns={"village_code": "code"})
    got = ind[ind["unit"] == "member"].merge(mem, on=["code", "indicator"], how="outer", indicator=True)
    assert (got["_merge"] == "both").all()
    assert (got["surveyed"] == got["all"]).all() and (got["failed"] == got["cnt"]).all()
    assert got["all"].sum() > 0 and got["cnt"].sum() > 0  # the comparison is not vacuous

    grp = rules.village_group_counts(hh, ps, Y).rename(columns={"village_code": "code"})
    got = v[v["indicator"].isna()].merge(grp, on=["code", "group", "unit"], how="outer", suffixes=("", "_ref"), indicator=True)
    assert (got["_merge"] == "both").all()
    assert (got["surveyed"] == got["surveyed_ref"]).all() and (got["passed"] == got["passed_ref"]).all()


# ---------------------------------------------------------------------------------------------
# compute_all
# ---------------------------------------------------------------------------------------------
def test_compute_all_writes_everything_and_skips_missing_optional_inputs(ws):
    _two_tambons(ws)
    s = compute_all(ws)
    for name in ("indicators_village", "indicators_province", "poverty_village", "poverty_province"):
        assert s.outputs[name].exists()
    assert "kchch2k_levels" not in s.outputs
    text = str(s)
    assert text.splitlines()[0].startswith("คำนวณตัวชี้วัด")
    assert "kchch2k" in text and "accounts" in text and "capital" in text  # skipped, with notes
    assert (s.villages_records, s.villages_aggregates) == (3, 1)


def test_compute_all_kchch2k_accounts_capital(ws):
    _two_tambons(ws)
    # กชช. 2ค, long layout: village A has 6 severe problems -> class 1 by levels.yaml (severe_min 6);
    # B has 1 severe, 2 moderate -> class 2 (severe_min 1); C has only level 3 -> class 3
    k = [("99010101", i, 1) for i in range(1, 7)] + [("99010101", 7, 3)]
    k += [("99010201", 1, 1), ("99010201", 2, 2), ("99010201", 3, 2), ("99010201", 4, 3)]
    k += [("99020101", i, 3) for i in range(1, 34)]
    rows_k = [(2562, *r) for r in k] + [(2570, "99010101", 1, 1)]  # 2570: no กชช. 2ค set -> skipped with a note
    pd.DataFrame(rows_k, columns=["year", "village_code", "indicator", "level"]).to_parquet(ws.processed / "kchch2k.parquet")
    pd.DataFrame({
        "village_code": ["99010101"] * 3, "house_key": ["a", "a", "b"],
        "date": pd.to_datetime(["2019-01-05", "2019-01-20", "2019-02-01"]),
        "item": ["rice", "fertiliser", "eggs"], "category": ["income_main", "exp_production", "income_main"],
        "income": [1000.0, 0.0, 200.0], "expense": [0.0, 300.0, 0.0], "balance": [1000.0, 700.0, 200.0],
    }).to_parquet(ws.processed / "accounts.parquet")
    pd.DataFrame({
        "village_code": ["99010101"] * 3, "kind": ["social", "natural", "natural"], "name": ["temple fair", "forest", "pond"],
        "description": ["", "", ""], "quantity": [1, 1, 2], "value_baht": [None, 50_000.0, 10_000.0],
    }).to_parquet(ws.processed / "capital.parquet")
    s = compute_all(ws)
    lv = pd.read_parquet(s.outputs["kchch2k_levels"]).set_index("village_code")
    assert lv.loc["99010101", ["n_severe", "n_moderate", "n_none", "class"]].tolist() == [6, 0, 1, 1]
    assert lv.loc["99010201", ["n_severe", "n_moderate", "n_none", "class"]].tolist() == [1, 2, 1, 2]
    assert lv.loc["99020101", "class"] == 3 and lv.loc["99020101", "class_name_en"] == "Advanced"
    assert lv.loc["99010101", "class_name_th"] == "ล้าหลัง"
    assert len(lv) == 3 and any("2570" in n for n in s.notes)
    acc = pd.read_parquet(s.outputs["accounts_summary"])
    jan = acc[(acc["month"] == "2019-01") & (acc["category"] == "income_main")].iloc[0]
    assert (jan["income"], jan["households"]) == (1000.0, 1)
    assert list(acc.columns) == ["village_code", "month", "category", "income", "expense", "households"]
    cap = pd.read_parquet(s.outputs["capital_summary"]).set_index("kind")
    assert (cap.loc["natural", "items"], cap.loc["natural", "value_baht"]) == (2, 60_000.0)
    assert cap.loc["human", "items"] == 0  # every kind is listed
    assert list(cap.index) == ["human", "social", "physical", "natural", "financial"]


def test_households_without_person_files_and_persons_without_household_files(ws, tmp_path):
    # only households: person indicators apply to nobody; household indicator 23 counted
    write(ws, "households", households([{"house_key": "a", "members": 2, "q23": 0}]))
    compute_indicators(ws)
    v = _read(ws)
    assert one(v, indicator=23, unit="household") == (1, 0, 1)
    assert one(v, indicator=23, unit="member") == (2, 0, 2)
    assert one(v, indicator=3, unit="member") == (0, 0, 0)
    # only persons: official person rows; no household, so no member counts
    ws2 = Workspace(tmp_path / "other").ensure()
    write(ws2, "persons", persons([{"house_key": "a", "age_years": 9, "q3": 0}]))
    compute_indicators(ws2)
    v2 = _read(ws2)
    assert one(v2, indicator=3, unit="person") == (1, 0, 1)
    assert one(v2, indicator=3, unit="member") == (0, 0, 0)


def test_a_year_with_aggregates_only_needs_no_threshold(ws):
    # 2563 has no income threshold; platform aggregates need none (they are counts already)
    write(ws, "aggregates", aggregates([("99010101", 22, 50, 20)]), year=2563)
    compute_indicators(ws)
    assert one(_read(ws), year=2563, indicator=22, unit="member") == (50, 30, 20)


def test_load_indicators_keeps_indicator_a_nullable_integer(ws):
    _two_tambons(ws)
    compute_indicators(ws)
    df = load_indicators(ws, year=Y, code="99010101")
    assert str(df["indicator"].dtype) == "Int16"
    assert df["indicator"].isna().sum() == 10 and df["indicator"].max() == 31


def test_compute_all_removes_stale_outputs_it_cannot_rebuild(ws):
    (ws.processed / "poverty_village.parquet").write_bytes(b"old")
    (ws.processed / "capital_summary.parquet").write_bytes(b"old")
    write(ws, "aggregates", aggregates([("99010101", 4, 10, 1)]))
    compute_all(ws)
    assert not (ws.processed / "poverty_village.parquet").exists()
    assert not (ws.processed / "capital_summary.parquet").exists()


# ---------------------------------------------------------------------------------------------
# the fused single-query engine equals the previous query structure, written plainly
# ---------------------------------------------------------------------------------------------
def _plain_counts(ws: Workspace, year: int, dims) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Village counts the way the engine computed them before it fused its household queries, and
    without its packing: official person counts in their own query; a temporary table of the
    households with their persons' applies/fails ORed per household; then one unpacked
    ``CASE`` sum per count. Only the compiled rule expressions are shared with the engine."""
    from vilwork import indicators as ind

    con = ind.connect(ws)
    try:
        plan, pfiles, hfiles, pcols, hcols = ind.records_plan(con, ws, year)
        k = plan.key
        every = [int(i) for i in plan.iset.indicators.index]
        a = lambda i: f"COALESCE({plan.applies[i]}, false)"  # noqa: E731
        f = lambda i: f"COALESCE({plan.fails(i)}, false)"  # noqa: E731
        count = lambda cond, w="1": f"sum(CASE WHEN {cond} THEN {w} ELSE 0 END)"  # noqa: E731
        off = ", ".join(f"{count(a(i))} AS s_{i}, {count(plan.passes(i))} AS p_{i}" for i in plan.person)
        official = con.execute(f"SELECT village_code, {off} FROM {ind._source(pfiles)} WHERE village_code IS NOT NULL GROUP BY village_code").df()
        hp = ", ".join(f"bool_or({a(i)}) AS a_{i}, bool_or({f(i)}) AS f_{i}" for i in plan.person)
        con.execute(f"CREATE TEMP TABLE plain_hp AS SELECT {k}, {hp}, count(*) AS n_persons, "
                    f"sum(CASE WHEN welfare_card THEN 1 ELSE 0 END) AS n_welfare FROM {ind._source(pfiles)} GROUP BY {k}")
        own = ", ".join(f"{a(i)} AS a_{i}, {f(i)} AS f_{i}" for i in plan.household)
        theirs = ", ".join(f"COALESCE(p.a_{i}, false) AS a_{i}, COALESCE(p.f_{i}, false) AS f_{i}" for i in plan.person)
        con.execute(f"CREATE TEMP TABLE plain_hh AS SELECT h.*, {theirs}, COALESCE(p.n_persons, 0) AS n_persons, COALESCE(p.n_welfare, 0) AS n_welfare "
                    f"FROM (SELECT {k}, village_code, COALESCE(TRY_CAST(members AS BIGINT), 0) AS m, {own} FROM {ind._source(hfiles)}) h "
                    f"LEFT JOIN plain_hp p ON h.{k} = p.{k}")
        sums = []
        for i in every:
            if i in plan.household:
                sums += [f"{count(f'a_{i}')} AS s_{i}", f"{count(f'a_{i} AND NOT f_{i}')} AS p_{i}"]
            sums += [f"{count(f'a_{i}', 'm')} AS ms_{i}", f"{count(f'f_{i}', 'm')} AS mf_{i}"]
        for g, inds in plan.groups().items():
            ga, gf = " OR ".join(f"a_{i}" for i in inds), " OR ".join(f"f_{i}" for i in inds)
            sums += [f"{count(ga)} AS gs_{g}", f"{count(f'({ga}) AND NOT ({gf})')} AS gp_{g}",
                     f"{count(ga, 'm')} AS gms_{g}", f"{count(f'({ga}) AND NOT ({gf})', 'm')} AS gmp_{g}"]
        sums.append("sum(n_persons) AS persons")
        sets = [list(d.indicators) for d in dims] + [sorted({i for d in dims for i in d.indicators})]
        for n, inds in enumerate(sets):
            poor = " OR ".join(f"f_{i}" for i in inds)
            sums += [f"{count(poor, 'n_persons')} AS poor_{n}", f"{count(poor, 'n_welfare')} AS target_{n}"]
        household = con.execute(f"SELECT village_code, {', '.join(sums)} FROM plain_hh WHERE village_code IS NOT NULL GROUP BY village_code").df()
    finally:
        ind._close(con, ws)
    wide = official.merge(household, on="village_code", how="outer").fillna(0).set_index("village_code").sort_index().astype("int64")
    return wide, household.set_index("village_code").sort_index()


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory) -> Workspace:
    from vilwork.ingest import ingest
    from vilwork.synth import synthesise

    w = Workspace(tmp_path_factory.mktemp("demo"))
    synthesise(w, seed=7, villages=4, fmt="csv")
    ingest(w)
    return w


@pytest.mark.parametrize("data", ["demo", "random"])
def test_fused_engine_equals_the_previous_query_structure(data, demo_ws, ws):
    """Every per-village count of the engine (official, member, group, poverty) equals
    :func:`_plain_counts` on the demo data (both survey years) and on random frames with orphan
    persons, blanks and an empty household."""
    from vilwork import indicators as ind
    from vilwork.registry import poverty_dimensions

    if data == "demo":
        w, years = demo_ws, [2561, 2562]
    else:
        hh, ps = random_frames(seed=11)
        write(ws, "households", hh)
        write(ws, "persons", ps)
        w, years = ws, [Y]
    dims = poverty_dimensions()
    for year in years:
        plain, household = _plain_counts(w, year, dims)
        con = ind.connect(w)
        try:
            rec = ind._records_pass(con, w, year, dims=dims)
        finally:
            ind._close(con, w)
        got = rec.wide.set_index("village_code").sort_index()
        assert list(got.index) == list(plain.index) and len(got) >= 4
        for c in got.columns:  # the engine leaves out nothing the plain query has, and vice versa
            assert (got[c].to_numpy() == plain[c].to_numpy()).all(), (year, c)
        assert set(got.columns) == set(plain.columns) - {"persons"} - {c for c in plain.columns if c.startswith(("poor_", "target_"))}
        pov = rec.poverty.set_index("village_code")
        assert list(pov.index) == list(household.index)
        for c in pov.columns:
            assert (pov[c].to_numpy() == household[c].to_numpy().astype("int64")).all(), (year, c)
        assert plain.filter(like="mf_").to_numpy().sum() > 0 and pov["poor_0"].sum() > 0  # not vacuous


# ---------------------------------------------------------------------------------------------
# the integer household id (hh_id) and workspaces ingested before it existed
# ---------------------------------------------------------------------------------------------
def _with_ids(hh: pd.DataFrame, ps: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frames with 16-hex-digit house keys and the hh_id ingest writes beside them."""
    from vilwork.pseudonym import pseudonym_ids, pseudonymise

    out = []
    for df in (hh, ps):
        df = df.copy()
        df["house_key"] = pseudonymise(df["house_key"], b"k" * 32)
        df.insert(1, "hh_id", pseudonym_ids(df["house_key"]))
        out.append(df)
    return out[0], out[1]


def _all_outputs(w: Workspace) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(w.processed.glob("*.parquet"))}


def test_outputs_identical_with_and_without_hh_id(tmp_path):
    """The engine joins on hh_id when every file has it, else on house_key (a workspace ingested
    before hh_id existed, or one with a file without it): the same bytes in every output."""
    from vilwork import indicators as ind

    hh, ps = _with_ids(*random_frames(seed=5))
    cases = {
        "hh_id": (hh, ps),
        "old": (hh.drop(columns="hh_id"), ps.drop(columns="hh_id")),
        "mixed": (hh, ps),  # the second persons file lacks hh_id: its rows would get a null key
    }
    outputs, keys = {}, {}
    for name, (h, p) in cases.items():
        w = Workspace(tmp_path / name).ensure()
        write(w, "households", h)
        write(w, "persons", p.iloc[: len(p) // 2], name="part1")
        write(w, "persons", p.iloc[len(p) // 2 :].drop(columns="hh_id") if name == "mixed" else p.iloc[len(p) // 2 :], name="part2")
        con = ind.connect(w)
        try:
            keys[name] = ind.records_plan(con, w, Y)[0].key
        finally:
            ind._close(con, w)
        compute_all(w)
        outputs[name] = _all_outputs(w)
    assert keys == {"hh_id": "hh_id", "old": "house_key", "mixed": "house_key"}
    assert "poverty_village.parquet" in outputs["hh_id"] and len(outputs["hh_id"]) == 8
    assert outputs["hh_id"] == outputs["old"] == outputs["mixed"]
    v = pq.read_table(tmp_path / "hh_id" / "data" / "processed" / "indicators_village.parquet").to_pandas()
    assert v["failed"].sum() > 0 and (v["unit"] == "member").any()  # not vacuous


def test_poverty_alone_uses_hh_id_and_matches_compute_all(ws):
    from vilwork.poverty import tpmap_poverty

    hh, ps = _with_ids(*random_frames(seed=8))
    write(ws, "households", hh)
    write(ws, "persons", ps)
    compute_all(ws)
    before = {lv: (ws.processed / f"poverty_{lv}.parquet").read_bytes() for lv in LEVELS}
    for lv in LEVELS:
        (ws.processed / f"poverty_{lv}.parquet").unlink()
    tpmap_poverty(ws)
    assert {lv: (ws.processed / f"poverty_{lv}.parquet").read_bytes() for lv in LEVELS} == before


def test_previous_output_is_read_only_when_it_has_other_years(tmp_path):
    """Recomputing a year keeps the other years' rows of the previous output; a file whose footer
    shows only the years being recomputed (or is unsure) decides without reading the rows."""
    import pyarrow as pa

    from vilwork.indicators import _only_years

    def file(name, years, row_group_size=None):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"year": pa.array(years, pa.int16())}), path, row_group_size=row_group_size)
        return path

    assert _only_years(file("one", [2561, 2561]), [2561])
    assert _only_years(file("two", [2561, 2562], row_group_size=1), [2561, 2562])
    assert not _only_years(file("other", [2561, 2562]), [2561])
    assert not _only_years(file("gap", [2560, 2562]), [2560, 2562])  # 2561 could lie between min and max
    assert not _only_years(file("null", [2561, None]), [2561])
    assert not _only_years(tmp_path / "missing.parquet", [2561])
