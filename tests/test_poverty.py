"""TPMAP union-rule poverty and the Alkire–Foster method; expected values worked out by hand."""
from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from test_indicators import random_frames, write  # tiny-workspace helpers
from test_rules import households, persons
from vilwork import poverty
from vilwork.errors import DefinitionError, InputError
from vilwork.registry import Dimension
from vilwork.workspace import Workspace

Y = 2561
V = "99010101"


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace(tmp_path).ensure()


# ---------------------------------------------------------------------------------------------
# Alkire–Foster on a 4-person x 4-dimension example (in the style of Alkire & Foster 2011, §2)
# ---------------------------------------------------------------------------------------------
# achievements y (rows = persons 1-4; columns = income, years of schooling, a 0-4 score, access 0/1)
#        income  school  score  access
#   p1    700      14      4      1
#   p2    300      13      1      0
#   p3    400       3      1      0
#   p4    500      17      0      1
# cutoffs z = (500, 12, 3, 1); deprived when STRICTLY below:
#   p1: none                                  -> 0 0 0 0, c = 0
#   p2: 300<500, 1<3, 0<1                     -> 1 0 1 1, c = 3/4
#   p3: 400<500, 3<12, 1<3, 0<1               -> 1 1 1 1, c = 1
#   p4: income 500 is not < 500; 0<3          -> 0 0 1 0, c = 1/4
# equal weights 1/4, k = 1/2: poor = p2, p3 (q = 2, n = 4)
#   H = 2/4 = 0.5;  A = (3/4 + 1)/2 = 7/8;  M0 = H*A = 7/16 = 0.4375
#   normalised gaps (z-x)/z of the poor: p2: 200/500 = 0.4, (3-1)/3 = 2/3, 1/1 = 1
#                                        p3: 100/500 = 0.2, 9/12 = 0.75, 2/3, 1
#   M1 = (1/4)*(0.4 + 2/3 + 1 + 0.2 + 0.75 + 2/3 + 1)/4 = 4.68333.../16 = 0.292708333...
#   M2 = (1/4)*(0.16 + 4/9 + 1 + 0.04 + 0.5625 + 4/9 + 1)/4 = 3.651388.../16 = 0.228211805...
#   censored headcounts: income 2/4, school 1/4, score 2/4 (p4 is censored away), access 2/4
#   uncensored score headcount: 3/4
#   contributions w*h/M0: income (1/4 * 1/2)/(7/16) = 2/7, school 1/7, score 2/7, access 2/7
Y_AF = pd.DataFrame(
    {"income": [700, 300, 400, 500], "school": [14, 13, 3, 17], "score": [4, 1, 1, 0], "access": [1, 0, 0, 1]},
    index=["p1", "p2", "p3", "p4"],
)
Z_AF = {"income": 500, "school": 12, "score": 3, "access": 1}


def test_alkire_foster_hand_example_k_half():
    r = poverty.alkire_foster(Y_AF, Z_AF, k=0.5)
    assert (r.n, r.q) == (4, 2)
    assert r.poor.tolist() == [False, True, True, False]
    assert r.scores.tolist() == pytest.approx([0, 0.75, 1.0, 0.25])
    assert r.H == pytest.approx(0.5)
    assert r.A == pytest.approx(7 / 8)
    assert r.M0 == pytest.approx(7 / 16)
    assert r.M0 == pytest.approx(r.H * r.A)
    assert r.M1 == pytest.approx((0.4 + 2 / 3 + 1 + 0.2 + 0.75 + 2 / 3 + 1) / 16)
    assert r.M2 == pytest.approx((0.16 + 4 / 9 + 1 + 0.04 + 0.5625 + 4 / 9 + 1) / 16)
    assert r.censored_headcounts.to_dict() == pytest.approx({"income": 0.5, "school": 0.25, "score": 0.5, "access": 0.5})
    assert r.uncensored_headcounts["score"] == pytest.approx(0.75)
    assert r.contributions.to_dict() == pytest.approx({"income": 2 / 7, "school": 1 / 7, "score": 2 / 7, "access": 2 / 7})
    assert r.contributions.sum() == pytest.approx(1.0)
    assert bool(r.deprived.loc["p4", "income"]) is False  # equal to the cutoff is not deprived


def test_alkire_foster_union_and_intersection():
    # union (k = 1/4, any one dimension): p2, p3, p4 poor -> H = 3/4, M0 = (3/4 + 1 + 1/4)/4 = 1/2, A = 2/3
    u = poverty.alkire_foster(Y_AF, Z_AF, k=0.25)
    assert (u.H, u.M0, u.A) == pytest.approx((0.75, 0.5, 2 / 3))
    # intersection (k = 1): only p3 -> H = 1/4, A = 1, M0 = 1/4
    i = poverty.alkire_foster(Y_AF, Z_AF, k=1.0)
    assert (i.H, i.A, i.M0) == pytest.approx((0.25, 1.0, 0.25))


def test_alkire_foster_weights_are_normalised():
    # weights (2, 1, 1, 0) -> (1/2, 1/4, 1/4, 0). c: p1 0, p2 1/2 + 1/4 = 3/4, p3 1, p4 1/4
    # k = 1/2: p2, p3 poor; M0 = (3/4 + 1)/4 = 7/16; contributions: income 1/2*1/2/(7/16) = 4/7,
    # school 1/4*1/4/(7/16) = 1/7, score 1/4*1/2/(7/16) = 2/7, access 0
    r = poverty.alkire_foster(Y_AF, Z_AF, weights={"income": 2, "school": 1, "score": 1, "access": 0}, k=0.5)
    assert r.weights.to_dict() == pytest.approx({"income": 0.5, "school": 0.25, "score": 0.25, "access": 0.0})
    assert r.scores.tolist() == pytest.approx([0, 0.75, 1.0, 0.25])
    assert r.M0 == pytest.approx(7 / 16)
    assert r.contributions.to_dict() == pytest.approx({"income": 4 / 7, "school": 1 / 7, "score": 2 / 7, "access": 0.0})


def test_alkire_foster_k_reached_exactly_counts_as_poor():
    # 5 equal weights (0.2 each), k = 0.4: a unit deprived in 2 dimensions has c = 0.2 + 0.2 = 0.4
    x = pd.DataFrame({d: [0.0, 1.0] for d in "abcde"})
    x.loc[0, ["c", "d", "e"]] = 1.0  # unit 0 deprived in a, b only
    r = poverty.alkire_foster(x, 1.0, k=0.4)
    assert r.poor.tolist() == [True, False]
    assert r.H == pytest.approx(0.5)


def test_alkire_foster_nobody_poor():
    r = poverty.alkire_foster(Y_AF.iloc[[0]], Z_AF, k=0.5)
    assert (r.H, r.A, r.M0, r.M1, r.M2, r.q) == (0.0, 0.0, 0.0, 0.0, 0.0, 0)
    assert r.contributions.isna().all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"achievements": pd.DataFrame()}, "non-empty"),
        ({"cutoffs": {"income": 500}}, "missing"),
        ({"cutoffs": {**Z_AF, "extra": 1}}, "unknown"),
        ({"cutoffs": {**Z_AF, "access": 0}}, "> 0"),
        ({"weights": {"income": -1, "school": 1, "score": 1, "access": 1}}, "non-negative"),
        ({"weights": {"income": 0, "school": 0, "score": 0, "access": 0}}, "all be zero"),
        ({"k": 0}, r"\(0, 1\]"),
        ({"k": 1.5}, r"\(0, 1\]"),
        ({"achievements": Y_AF.astype(float).where(Y_AF > 300)}, "missing values"),
    ],
)
def test_alkire_foster_validates_inputs(kwargs, message):
    args = {"achievements": Y_AF, "cutoffs": Z_AF, "k": 0.5, **kwargs}
    with pytest.raises(ValueError, match=message):
        poverty.alkire_foster(**args)


# ---------------------------------------------------------------------------------------------
# TPMAP union rule
# ---------------------------------------------------------------------------------------------
DIMS = [
    Dimension("health", "สุขภาพ", "Health", (1, 4, 5, 7)),
    Dimension("education", "การศึกษา", "Education", (15, 16, 17, 19)),
    Dimension("income", "รายได้", "Income", (20, 21, 22)),
]


def village_frames():
    """Three households of one village.

    a (3 persons): child 8 fails 16 (education); elder 65 holds a welfare card.
    b (2 persons): income per member 20,000 < 38,000 fails 22 (income); adult 30 holds a card.
    c (1 person):  passes everything, no card.
    By hand: persons 6; health 0 poor; education 3 (a), target 1 (the elder);
    income 2 (b), target 1; any 5 (a and b), target 2; share any 5/6.
    """
    hh = households([
        {"house_key": "a", "members": 3}, {"house_key": "b", "members": 2, "income_per_member": 20_000.0}, {"house_key": "c", "members": 1},
    ])
    ps = persons([
        {"house_key": "a", "age_years": 40, "q7": 1, "q19": 1, "q20": 1},
        {"house_key": "a", "age_years": 8, "q7": 1, "q16": 0},
        {"house_key": "a", "age_years": 65, "q7": 1, "q21": 1, "q27": 1, "welfare_card": True},
        {"house_key": "b", "age_years": 30, "q7": 1, "q19": 1, "q20": 1, "welfare_card": True},
        {"house_key": "b", "age_years": 50, "q7": 1, "q19": 1, "q20": 1},
        {"house_key": "c", "age_years": 45, "q7": 1, "q19": 1, "q20": 1},
    ])
    return hh, ps


def test_tpmap_union_rule_by_hand():
    hh, ps = village_frames()
    f = poverty.tpmap_poverty_frame(hh, ps, Y, DIMS).set_index("dimension")
    assert f["persons"].tolist() == [6, 6, 6, 6]
    assert f["poor"].to_dict() == {"health": 0, "education": 3, "income": 2, "any": 5}
    assert f["target_poor"].to_dict() == {"health": 0, "education": 1, "income": 1, "any": 2}
    assert f.loc["any", "share"] == pytest.approx(5 / 6)
    assert list(f.index) == ["health", "education", "income", "any"]


def test_dimension_with_an_unknown_indicator_is_a_definition_error():
    hh, ps = village_frames()
    with pytest.raises(DefinitionError, match="99"):
        poverty.tpmap_poverty_frame(hh, ps, Y, [Dimension("x", "x", "x", (99,))])


def test_tpmap_poverty_files_by_hand_and_rolled_up(ws):
    # with poverty.yaml's mapping: education has 16 (a fails), income has 22 (b fails); nothing
    # else fails, so by hand: education 3, income 2, any 5 of 6; target any 2
    hh, ps = village_frames()
    write(ws, "households", hh)
    write(ws, "persons", ps)
    paths = poverty.tpmap_poverty(ws)
    v = pq.read_table(paths["village"]).to_pandas().set_index("dimension")
    assert v.loc["education", ["persons", "poor", "target_poor"]].tolist() == [6, 3, 1]
    assert v.loc["income", ["persons", "poor", "target_poor"]].tolist() == [6, 2, 1]
    assert v.loc["any", ["persons", "poor", "target_poor"]].tolist() == [6, 5, 2]
    assert v.loc["any", "share"] == pytest.approx(5 / 6)
    assert v.index[-1] == "any"
    p = pq.read_table(paths["province"]).to_pandas()
    assert set(p["code"]) == {"99"} and p.set_index("dimension").loc["any", "poor"] == 5
    assert list(p.columns) == ["year", "level", "code", "dimension", "persons", "poor", "share", "target_poor"]


def test_tpmap_engine_equals_the_frame_version(ws):
    hh, ps = random_frames(seed=11)
    write(ws, "households", hh)
    write(ws, "persons", ps)
    paths = poverty.tpmap_poverty(ws)
    got = pq.read_table(paths["village"]).to_pandas()
    ref = poverty.tpmap_poverty_frame(hh, ps, Y)
    m = got.merge(ref, on=["code", "dimension"], how="outer", suffixes=("", "_ref"), indicator=True)
    assert (m["_merge"] == "both").all()
    for c in ("persons", "poor", "target_poor"):
        assert (m[c] == m[f"{c}_ref"]).all(), c
    assert m["poor"].sum() > 0 and m["target_poor"].sum() > 0
    # roll-ups add up
    t = pq.read_table(paths["tambon"]).to_pandas()
    s = got.assign(code=got["code"].str.slice(0, 6)).groupby(["code", "dimension"])[["persons", "poor", "target_poor"]].sum()
    pd.testing.assert_frame_equal(s.sort_index(), t.set_index(["code", "dimension"])[["persons", "poor", "target_poor"]].sort_index(), check_dtype=False)


# ---------------------------------------------------------------------------------------------
# village Alkire–Foster
# ---------------------------------------------------------------------------------------------
def test_household_achievements_share_of_applicable_indicators_passed():
    hh, ps = village_frames()
    x = poverty.household_achievements(hh, ps, Y, DIMS)
    # a: education applies via 16 (fails) and 19 (adult passes) -> 1/2
    # b: income applies via 20 (both adults pass) and 22 (fails) -> 1/2
    # health: 4, 5 (household) and 7 (everyone passes), 1 not applicable -> 3/3 for all
    assert x.loc["a", "education"] == pytest.approx(0.5)
    assert x.loc["b", "income"] == pytest.approx(0.5)
    assert x["health"].tolist() == [1.0, 1.0, 1.0]
    assert x.loc["c", "education"] == pytest.approx(1.0)  # 19 applies (adult 45), passes


def test_village_alkire_foster_uses_poverty_yaml_settings(ws):
    # poverty.yaml: cutoff 1.0, k 0.4, 5 dimensions weighted 0.2 each.
    # a is deprived in education only (c = 0.2), b in income only (0.2), c nowhere: nobody poor.
    hh, ps = village_frames()
    write(ws, "households", hh)
    write(ws, "persons", ps)
    r = poverty.village_alkire_foster(ws, V, Y)
    assert r.n == 3 and r.q == 0 and r.M0 == 0.0
    assert r.scores.tolist() == pytest.approx([0.2, 0.2, 0.0])
    # make b also fail 9 (living): b deprived in living and income -> c = 0.4 >= k: poor.
    # H = 1/3, A = 0.4, M0 = 0.4/3; M1: b's gaps 1 - 3/4 (living: 8, 9, 10, 11 -> 3 of 4 pass)
    # and 1 - 1/2 (income) -> (0.2*0.25 + 0.2*0.5)/3 = 0.05
    hh.loc[hh["house_key"] == "b", "q9"] = 0
    write(ws, "households", hh)
    r = poverty.village_alkire_foster(ws, V, Y)
    assert (r.q, r.H, r.A, r.M0) == (1, pytest.approx(1 / 3), pytest.approx(0.4), pytest.approx(0.4 / 3))
    assert r.M1 == pytest.approx(0.05)
    assert r.contributions.to_dict() == pytest.approx({"health": 0, "living": 0.5, "education": 0, "income": 0.5, "access": 0})


def test_village_alkire_foster_without_records_is_a_clear_error(ws):
    with pytest.raises(InputError, match="no household records"):
        poverty.village_alkire_foster(ws, V, Y)
