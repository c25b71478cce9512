"""The pandas reference rules (vilwork.rules) on tiny hand-made frames; expected values by hand.

Every frame is built from "all pass" defaults (household items 1, nuisance/threat items 0, income
50,000 baht per member) so that each test changes only what it is about.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vilwork import rules
from vilwork.errors import DefinitionError
from vilwork.registry import indicator_set

Y = 2561  # threshold for indicator 22: 38,000 baht/person/year
V = "99010101"


def households(rows: list[dict]) -> pd.DataFrame:
    """Household rows; every answer item not given is the passing answer."""
    iset = indicator_set(Y)
    out = []
    for r in rows:
        row = {"house_key": r["house_key"], "village_code": r.get("village_code", V), "members": r.get("members", 1)}
        for item in iset.items("household"):
            row[item] = 0 if item.startswith(("q12_", "q14_")) else 1
        row["income_per_member"] = 50_000.0
        row.update({k: v for k, v in r.items() if k not in row or k in iset.items("household")})
        out.append(row)
    df = pd.DataFrame(out)
    for item in iset.items("household"):
        if item != "income_per_member":
            df[item] = df[item].astype("Int8")
    df["income_per_member"] = df["income_per_member"].astype("float64")
    return df


def persons(rows: list[dict]) -> pd.DataFrame:
    """Person rows; answers not given are blank (null). age_months defaults to age_years * 12."""
    iset = indicator_set(Y)
    items = [c for c in iset.items("person") if c != "birth_weight_g"]
    out = []
    for r in rows:
        row = {"house_key": r["house_key"], "village_code": r.get("village_code", V), "age_years": r.get("age_years"),
               "age_months": r.get("age_months", None if r.get("age_years") is None else r["age_years"] * 12),
               "health": r.get("health", "normal"), "welfare_card": r.get("welfare_card", False),
               "birth_weight_g": r.get("birth_weight_g")}
        row.update({c: r.get(c) for c in items})
        out.append(row)
    cols = ["house_key", "village_code", "age_years", "age_months", "health", "welfare_card", "birth_weight_g", *items]
    df = pd.DataFrame(out, columns=cols)
    for c in items:
        df[c] = pd.array(df[c].tolist(), dtype="Int8")
    df["birth_weight_g"] = pd.to_numeric(df["birth_weight_g"]).astype("float64")
    df["age_years"] = pd.array(df["age_years"].tolist(), dtype="Int16")
    df["age_months"] = pd.array(df["age_months"].tolist(), dtype="Int16")
    return df


def status(hh, ps, indicator, year=Y):
    hs = rules.household_status(hh, ps, year)
    return hs[hs["indicator"] == indicator].set_index("house_key")


def official(hh, ps, indicator, year=Y):
    oc = rules.village_official_counts(hh, ps, year)
    r = oc[(oc["indicator"] == indicator) & (oc["village_code"] == V)].iloc[0]
    return int(r["surveyed"]), int(r["passed"]), int(r["failed"])


# ---------------------------------------------------------------------------------------------
# rule kinds
# ---------------------------------------------------------------------------------------------
def test_all_of_passes_only_when_every_item_is_1():
    # 4 = q4_1..q4_4. a: all 1 -> pass; b: q4_3 = 0 -> fail; c: q4_2 blank -> not applicable
    hh = households([{"house_key": "a"}, {"house_key": "b", "q4_3": 0}, {"house_key": "c", "q4_2": None}])
    s = status(hh, persons([]), 4)
    assert s["applicable"].to_dict() == {"a": True, "b": True, "c": False}
    assert s["failed"].to_dict() == {"a": False, "b": True, "c": False}
    assert official(hh, persons([]), 4) == (2, 1, 1)


@pytest.mark.parametrize("indicator", [12, 14])
def test_none_of_passes_only_when_no_nuisance_or_threat_is_present(indicator):
    # a: all six 0 -> pass; b: item 6 present (1) -> fail; c: item 1 present -> fail; d: item 4 blank -> n/a
    p = f"q{indicator}_"
    hh = households([{"house_key": "a"}, {"house_key": "b", p + "6": 1}, {"house_key": "c", p + "1": 1}, {"house_key": "d", p + "4": None}])
    s = status(hh, persons([]), indicator)
    assert s["applicable"].to_dict() == {"a": True, "b": True, "c": True, "d": False}
    assert s["passed"].to_dict() == {"a": True, "b": False, "c": False, "d": False}
    assert official(hh, persons([]), indicator) == (3, 1, 2)


def test_min_value_with_the_years_threshold_for_22():
    # 2561 threshold 38,000: exactly 38,000 passes (>=), 37,999.5 fails, blank income is not applicable
    hh = households([
        {"house_key": "a", "income_per_member": 38_000.0},
        {"house_key": "b", "income_per_member": 37_999.5},
        {"house_key": "c", "income_per_member": np.nan},
    ])
    s = status(hh, persons([]), 22)
    assert s["applicable"].to_dict() == {"a": True, "b": True, "c": False}
    assert s["passed"].to_dict() == {"a": True, "b": False, "c": False}
    # 2560 has a 30,000 threshold: 35,000 passes there but fails in 2561
    hh2 = households([{"house_key": "x", "income_per_member": 35_000.0}])
    assert bool(status(hh2, persons([]), 22, year=2560).loc["x", "passed"]) is True
    assert bool(status(hh2, persons([]), 22, year=2561).loc["x", "passed"]) is False


def test_a_year_without_a_threshold_is_a_definition_error():
    hh = households([{"house_key": "a"}])
    with pytest.raises(DefinitionError, match="2563"):
        rules.village_member_counts(hh, persons([]), 2563)


def test_min_value_with_a_fixed_value_birth_weight():
    # 1: newborn (age_months <= 11) with birth_weight_g >= 2500
    ps = persons([
        {"house_key": "a", "age_years": 0, "age_months": 3, "birth_weight_g": 2500},  # pass (equal)
        {"house_key": "a", "age_years": 0, "age_months": 11, "birth_weight_g": 2499},  # fail
        {"house_key": "a", "age_years": 1, "age_months": 12, "birth_weight_g": 2000},  # not a newborn
        {"house_key": "a", "age_years": 0, "age_months": 5},  # no weight: not applicable
    ])
    assert official(households([{"house_key": "a"}]), ps, 1) == (2, 1, 1)


# ---------------------------------------------------------------------------------------------
# target groups
# ---------------------------------------------------------------------------------------------
def test_target_group_by_age_in_years():
    # 16: ages 6-14. Every person answered 1; only 6 and 14 are in the group.
    ps = persons([{"house_key": "a", "age_years": a, "q16": 1} for a in (5, 6, 14, 15)] + [{"house_key": "a", "age_years": None, "q16": 1}])
    assert official(households([{"house_key": "a"}]), ps, 16) == (2, 2, 0)
    st = rules.person_status(ps, Y)
    assert st[st["indicator"] == 16]["applicable"].tolist() == [False, True, True, False, False]


def test_target_group_by_age_in_months():
    # 2: infants 6-11 months. 5 months: no; 6 and 11: yes (one fails); 12: no
    ps = persons([
        {"house_key": "a", "age_years": 0, "age_months": 5, "q2": 0},
        {"house_key": "a", "age_years": 0, "age_months": 6, "q2": 1},
        {"house_key": "a", "age_years": 0, "age_months": 11, "q2": 0},
        {"house_key": "a", "age_years": 1, "age_months": 12, "q2": 0},
    ])
    assert official(households([{"house_key": "a"}]), ps, 2) == (2, 1, 1)


def test_target_groups_disabled_and_chronic():
    # 28 applies to disabled persons, 29 to the chronically ill; an answer from anyone else is ignored
    ps = persons([
        {"house_key": "a", "age_years": 40, "health": "disabled", "q28": 0},
        {"house_key": "a", "age_years": 41, "health": "normal", "q28": 1, "q29": 1},
        {"house_key": "a", "age_years": 70, "health": "chronic", "q29": 1},
        {"house_key": "a", "age_years": 71, "health": "chronic", "q29": 0},
    ])
    hh = households([{"house_key": "a"}])
    assert official(hh, ps, 28) == (1, 0, 1)
    assert official(hh, ps, 29) == (2, 1, 1)


def test_answered_target_group_is_whoever_has_an_answer():
    # 17 (M.3 leavers) cannot be derived from the record: in the group when q17 is answered, any age
    ps = persons([
        {"house_key": "a", "age_years": 15, "q17": 1},
        {"house_key": "a", "age_years": 40, "q17": 0},
        {"house_key": "a", "age_years": 16},
    ])
    assert official(households([{"house_key": "a"}]), ps, 17) == (2, 1, 1)


# ---------------------------------------------------------------------------------------------
# member convention
# ---------------------------------------------------------------------------------------------
def test_member_convention_one_failing_child_fails_the_household_of_4():
    # Household a: 4 members, two children 0-12; child 2 is not fully vaccinated (q3 = 0).
    # Household b: 2 members, no child: indicator 3 does not apply to it.
    ps = persons([
        {"house_key": "a", "age_years": 38},
        {"house_key": "a", "age_years": 36},
        {"house_key": "a", "age_years": 9, "q3": 1},
        {"house_key": "a", "age_years": 4, "q3": 0},
        {"house_key": "b", "age_years": 70},
        {"house_key": "b", "age_years": 68},
    ])
    hh = households([{"house_key": "a", "members": 4}, {"house_key": "b", "members": 2}])
    mc = rules.village_member_counts(hh, ps, Y).set_index("indicator")
    assert (mc.loc[3, "all"], mc.loc[3, "cnt"]) == (4, 4)
    # official unit: 2 children surveyed, 1 passed
    assert official(hh, ps, 3) == (2, 1, 1)
    # a household indicator counts the members of both households: 4 + 2; nobody fails 4
    assert (mc.loc[4, "all"], mc.loc[4, "cnt"]) == (6, 0)
    # 21 (60+ has occupation): nobody answered, so it applies to no household
    assert (mc.loc[21, "all"], mc.loc[21, "cnt"]) == (0, 0)
    assert mc.index.tolist() == list(range(1, 32))


def test_members_come_from_the_households_members_column():
    # the column says 5 although only 1 person record was accepted: the platform counts 5
    ps = persons([{"house_key": "a", "age_years": 30, "q7": 0}])
    hh = households([{"house_key": "a", "members": 5}])
    mc = rules.village_member_counts(hh, ps, Y).set_index("indicator")
    assert (mc.loc[7, "all"], mc.loc[7, "cnt"]) == (5, 5)


def test_house_code_is_accepted_as_the_join_key():
    ps = persons([{"house_key": "a", "age_years": 9, "q3": 0}]).rename(columns={"house_key": "house_code"})
    hh = households([{"house_key": "a", "members": 3}]).rename(columns={"house_key": "house_code"})
    mc = rules.village_member_counts(hh, ps, Y).set_index("indicator")
    assert (mc.loc[3, "all"], mc.loc[3, "cnt"]) == (3, 3)


# ---------------------------------------------------------------------------------------------
# group rows
# ---------------------------------------------------------------------------------------------
def test_group_rows_household_passes_a_group_when_it_passes_every_applicable_indicator():
    # Group 3 (education: 15-19, all person indicators).
    # a (3 members): child 8 passes 16, adult 30 fails 19  -> group applies, fails
    # b (2 members): child 4 passes 15                     -> applies, passes
    # c (1 member): adult 70, no education answers         -> group does not apply
    ps = persons([
        {"house_key": "a", "age_years": 8, "q16": 1},
        {"house_key": "a", "age_years": 30, "q19": 0},
        {"house_key": "b", "age_years": 4, "q15": 1},
        {"house_key": "c", "age_years": 70},
    ])
    hh = households([{"house_key": "a", "members": 3}, {"house_key": "b", "members": 2}, {"house_key": "c", "members": 1}])
    g = rules.village_group_counts(hh, ps, Y).set_index(["group", "unit"])
    assert tuple(g.loc[(3, "household"), ["surveyed", "passed", "failed"]]) == (2, 1, 1)
    assert tuple(g.loc[(3, "member"), ["surveyed", "passed", "failed"]]) == (5, 2, 3)
    # group 2 (living, all household indicators) applies to all three; all pass
    assert tuple(g.loc[(2, "household"), ["surveyed", "passed"]]) == (3, 3)
    assert tuple(g.loc[(2, "member"), ["surveyed", "passed"]]) == (6, 6)


def test_official_counts_have_every_indicator_for_every_village():
    hh = households([{"house_key": "a"}, {"house_key": "b", "village_code": "99010102"}])
    oc = rules.village_official_counts(hh, persons([]), Y)
    assert len(oc) == 62
    assert (oc["surveyed"] == oc["passed"] + oc["failed"]).all()
    assert set(oc.loc[oc["indicator"] == 3, "unit"]) == {"person"}
    assert set(oc.loc[oc["indicator"] == 4, "unit"]) == {"household"}


def test_inputs_are_not_mutated():
    hh = households([{"house_key": "a", "q4_1": 0}])
    ps = persons([{"house_key": "a", "age_years": 9, "q3": 0}])
    before = (hh.copy(), ps.copy())
    rules.village_member_counts(hh, ps, Y)
    rules.village_group_counts(hh, ps, Y)
    pd.testing.assert_frame_equal(hh, before[0])
    pd.testing.assert_frame_equal(ps, before[1])


def test_unknown_target_condition_is_a_definition_error():
    with pytest.raises(DefinitionError, match="unknown condition"):
        rules.check_target("odd", {"age_min": 3})
