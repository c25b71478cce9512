"""Small-cell suppression: hand-worked cases, and that a suppressed value cannot be worked back."""
from __future__ import annotations

import itertools

import pandas as pd
import pytest

from vilwork import disclosure as d
from vilwork.i18n import format_pct

K = 4


def test_threshold_comes_from_display_yaml():
    assert d.small_cell_threshold() == 4
    assert d.small_label(4) == "<5"


@pytest.mark.parametrize("n, small", [(0, False), (1, True), (4, True), (5, False), (None, False),
                                      (float("nan"), False), ("3", False)])
def test_is_small(n, small):
    assert d.is_small(n, K) is small


@pytest.mark.parametrize("total, part, state", [
    (50, 3, "low"),      # 3 failing
    (50, 48, "high"),    # 2 passing: 48 shown with the total 50 would give them away
    (50, 0, "show"),     # nobody: names nobody
    (50, 50, "show"),
    (50, 45, "show"),    # 5 passing is above the threshold
    (3, 1, "hide"),      # a group of 3
    (0, 0, "show"),
])
def test_share_state(total, part, state):
    assert d.share_state(total, part, K) == state


def test_count_and_share_texts_worked_by_hand():
    # 3 failing of 40: failed "<5"; failing share < 5/40 = 12.5%; pass rate > 87.5%
    assert d.count_text(40, 3, K) == "<5"
    assert d.share_text(40, 3, K, format_pct) == "<12.5%"
    assert d.share_text(40, 3, K, format_pct, complement=True) == ">87.5%"
    # 38 failing of 40 (2 passing): failed > 40-5 = 35, failing share > 87.5%, pass rate < 12.5%
    assert d.count_text(40, 38, K) == ">35"
    assert d.share_text(40, 38, K, format_pct) == ">87.5%"
    assert d.share_text(40, 38, K, format_pct, complement=True) == "<12.5%"
    # a group of 2: the total is "<5", nothing else is said
    assert d.total_text(2, K) == "<5"
    assert d.count_text(2, 1, K) == "*"
    assert d.count_text(2, 0, K) == "*"
    assert d.share_text(2, 1, K, format_pct) == "*"
    # large enough: exact
    assert d.count_text(40, 10, K) == "10"
    assert d.share_text(40, 10, K, format_pct) == "25.0%"


def test_suppress_line_adds_a_complementary_cell():
    # 2 is small; with the total 32 shown, 32-20-10 would give it back: hide the next smallest (10)
    assert d.suppress_line([20, 2, 10], K) == [False, True, True]
    # two small cells already protect each other
    assert d.suppress_line([20, 2, 3], K) == [False, True, True]
    # zeros are never chosen as the complement (they can be worked out anyway)
    assert d.suppress_line([0, 2, 9], K) == [False, True, True]
    # no total shown: only the primary cell
    assert d.suppress_line([20, 2, 10], K, total_shown=False) == [False, True, False]


def test_suppress_grid_worked_by_hand():
    counts = pd.DataFrame({"m": [10, 2, 12], "f": [11, 9, 8]}, index=["a", "b", "c"])
    mask = d.suppress_grid(counts, K)
    # row b: 2 (primary) and 9 (row complement); column m: 2 and 10 (smallest other non-zero);
    # column f has 9 alone: 11 is preferred to the smaller 8 because row a needs a second hidden
    # cell anyway -> a 2×2 rectangle, row c stays exact.
    expected = pd.DataFrame({"m": [True, True, False], "f": [True, True, False]}, index=["a", "b", "c"])
    pd.testing.assert_frame_equal(mask, expected)
    text = d.grid_text(counts, K)
    assert text.loc["b", "m"] == "<5" and text.loc["b", "f"] == "*" and text.loc["c", "m"] == "12"


def _feasible_parts(total_shown: str, part_shown: str, rate_shown: str, complement: bool, max_total: int = 60):
    """Every (total, part) an attacker cannot rule out from the three published texts."""
    out = set()
    for t in range(0, max_total + 1):
        for p in range(0, t + 1):
            if (d.total_text(t, K) == total_shown and d.count_text(t, p, K) == part_shown
                    and d.share_text(t, p, K, format_pct, complement=complement) == rate_shown):
                out.add((t, p))
    return out


def test_published_pairs_cannot_be_worked_back():
    frame = pd.DataFrame({"surveyed": [40, 40, 3, 57], "failed": [3, 38, 1, 20]})
    frame["pass_rate"] = 1 - frame["failed"] / frame["surveyed"]
    frame["share_failing"] = frame["failed"] / frame["surveyed"]
    shown = d.protect_pairs(frame, "surveyed", "failed", K, rates={"pass_rate": True, "share_failing": False})
    assert shown["failed"].tolist() == ["<5", ">35", "*", "20"]
    for i, row in shown.iterrows():
        for rate_col, comp in (("pass_rate", True), ("share_failing", False)):
            cands = _feasible_parts(row["surveyed"], row["failed"], row[rate_col], comp)
            truth = (int(frame.at[i, "surveyed"]), int(frame.at[i, "failed"]))
            assert truth in cands
            if i == 3:
                assert cands == {truth}  # 20 of 57 is not protected: exactly recoverable
            else:
                assert len({p for _t, p in cands}) >= 2, (i, rate_col, cands)
    assert frame.at[0, "failed"] == 3  # the input is not modified


def test_published_grid_cannot_be_worked_back():
    counts = pd.DataFrame({"m": [10, 2, 12], "f": [11, 9, 8]})
    text = d.grid_text(counts, K)
    rows, cols = counts.sum(axis=1).tolist(), counts.sum(axis=0).tolist()  # both published
    hidden = [(i, j) for i in range(3) for j in range(2) if text.iat[i, j] in ("<5", "*")]
    solutions = []
    for vals in itertools.product(range(0, 25), repeat=len(hidden)):
        g = counts.to_numpy().copy()
        for (i, j), v in zip(hidden, vals):
            if text.iat[i, j] == "<5" and not 1 <= v <= K:
                break
            if text.iat[i, j] == "*" and 1 <= v <= K:
                break
            g[i, j] = v
        else:
            if g.sum(axis=1).tolist() == rows and g.sum(axis=0).tolist() == cols:
                solutions.append(tuple(vals))
    assert len(solutions) >= 2
    for n, cell in enumerate(hidden):
        assert len({s[n] for s in solutions}) >= 2, cell


def test_suppress_lines_worked_by_hand_and_cannot_be_worked_back():
    # bars of a histogram: all add up to a published total, the first three to a second one
    values = [0, 2, 10, 6, 20, 6]
    lines = [range(6), [0, 1, 2]]
    mask = d.suppress_lines(values, K, lines)
    # 2 is small; the 10 covers both lines (a 6 would leave the first three with one hidden bar)
    assert mask == [False, True, True, False, False, False]
    assert d.hidden_text(values, mask, K) == ["0", "<5", "*", "6", "20", "6"]
    assert d.suppress_lines([3, 7, 8], K, [range(3)]) == [True, True, False]  # the smallest other one
    assert d.suppress_lines([3, 7, 8], K, []) == [True, False, False]          # no published total
    totals = [sum(values[i] for i in line) for line in lines]
    hidden = [i for i, m in enumerate(mask) if m]
    solutions = []
    for vals in itertools.product(range(0, 30), repeat=len(hidden)):
        g = list(values)
        for i, v in zip(hidden, vals):
            g[i] = v
        if all((1 <= g[i] <= K) == d.is_small(values[i], K) for i in hidden) and \
                [sum(g[i] for i in line) for line in lines] == totals:
            solutions.append(vals)
    for n, cell in enumerate(hidden):
        assert len({s[n] for s in solutions}) >= 2, cell


def test_hides_anything():
    assert d.hides_anything(pd.DataFrame({"a": ["12", "<5"]}))
    assert d.hides_anything(pd.DataFrame({"a": ["12", ">87.5%"]}))
    assert d.hides_anything(pd.DataFrame({"a": ["12", "*"]}))
    assert not d.hides_anything(pd.DataFrame({"a": ["12", "7", "<script>", "*ดาว"]}))


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("-12.5", "-12.5"),   # text that is only a number cannot run
    (-12.5, -12.5), (-3, -3),  # genuine negative numbers stay numbers
    ("บ้าน=1", "บ้าน=1"), ("", ""), (None, None),
])
def test_neutralise(value, expected):
    assert d.neutralise(value) == expected


def test_write_csv_neutralises(tmp_path):
    from vilwork.programme import write_csv

    p = write_csv(pd.DataFrame({"=name": ["=HYPERLINK(\"http://x\",\"y\")", "ok"], "n": [-5, 3]}), tmp_path / "t.csv")
    text = p.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text
    back = pd.read_csv(p, encoding="utf-8-sig")
    assert back.iloc[0, 0].startswith("'=") and back["n"].tolist() == [-5, 3]
