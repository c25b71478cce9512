"""Small-cell suppression for public outputs (PDPA): pure functions over counts and tables.

A count of people or households from 1 to ``k`` (``small_cell_threshold`` in display.yaml, 4 by
default) is shown as ``"<5"`` (``"<k+1"``) to the public audience. Hiding the cell is not enough
when the same table shows numbers it can be worked back from, so these functions also apply
*complementary suppression*:

* **part of a shown total** (failed out of surveyed; poor out of persons): when the part or its
  complement (total − part) is 1..k, the part is shown as a bound (``<5`` or ``>45`` for 46..49
  of 50) and every share computed from it is shown as the matching bound (``<10.0%``,
  ``>90.0%``), which says no more than "<5" does. A total of 1..k hides the part and the share.
* **cells adding up to a shown total** (rows or columns of a cross table): when a line has exactly
  one suppressed cell, the smallest other non-zero cell of the line is suppressed too
  (:func:`suppress_line`, :func:`suppress_grid`).

Zero is never suppressed (a count of nobody names nobody). The ``internal`` audience sees exact
numbers: callers only use these functions for ``audience == "public"``. Nothing here reads files
except :func:`small_cell_threshold`.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import pandas as pd

#: a cell hidden only because it would reveal a suppressed neighbour
COMPLEMENT = "*"

SHOW, LOW, HIGH, HIDE = "show", "low", "high", "hide"


def small_cell_threshold() -> int:
    """``small_cell_threshold`` of display.yaml (counts 1..k are small)."""
    from .charts import display

    return int(display().get("small_cell_threshold", 4))


def _num(x) -> float | None:
    if x is None or isinstance(x, str):
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def is_small(n, k: int) -> bool:
    """True when ``n`` is a count from 1 to ``k`` (missing values and 0 are not small)."""
    f = _num(n)
    return f is not None and 1 <= f <= k


def small_label(k: int) -> str:
    """How a small count is written: ``"<5"`` for k = 4."""
    return f"<{k + 1}"


def share_state(total, part, k: int) -> str:
    """How much of ``part`` out of ``total`` may be shown.

    Returns
    -------
    str
        ``"show"`` (exact), ``"low"`` (part is 1..k), ``"high"`` (total − part is 1..k),
        ``"hide"`` (the total itself is 1..k: neither the part nor the share is shown).
        Missing or zero totals are ``"show"`` (there is nothing to reveal).
    """
    t, p = _num(total), _num(part)
    if t is None or t == 0:
        return SHOW
    if is_small(t, k):
        return HIDE
    if p is None:
        return SHOW
    if is_small(p, k):
        return LOW
    if is_small(t - p, k):
        return HIGH
    return SHOW


def count_text(total, part, k: int, fmt: Callable = lambda n: f"{int(n):,}") -> str:
    """``part`` as the public may see it, next to a shown ``total``."""
    s = share_state(total, part, k)
    if _num(part) is None:
        return "–"
    if s == SHOW:
        return fmt(part)
    if s == LOW:
        return small_label(k)
    if s == HIGH:
        return ">" + fmt(_num(total) - k - 1)
    return COMPLEMENT  # a total of 1..k: nothing about its members is shown


def total_text(total, k: int, fmt: Callable = lambda n: f"{int(n):,}") -> str:
    """A total as the public may see it (small totals as ``"<5"``)."""
    if _num(total) is None:
        return "–"
    return small_label(k) if is_small(total, k) else fmt(total)


def share_text(total, part, k: int, fmt: Callable, *, complement: bool = False) -> str:
    """The share ``part/total`` (or ``1 − part/total`` with ``complement``) for the public.

    A suppressed part gives a bound that says no more than its ``<k+1``: with 3 failing of 40,
    the failing share is ``<12.5%`` and the pass rate ``>87.5%``. ``fmt`` formats a share 0–1.
    """
    t, p = _num(total), _num(part)
    if t is None or t == 0 or p is None:
        return fmt(None)
    s = share_state(t, p, k)
    if s == HIDE:
        return COMPLEMENT
    if s == SHOW:
        return fmt(1 - p / t if complement else p / t)
    low = (k + 1) / t  # part < k+1  <=>  share < (k+1)/t
    if (s == LOW) != complement:  # the shown share is the small side
        return "<" + fmt(low)
    return ">" + fmt(1 - low)


def suppress_line(values: Sequence, k: int, *, total_shown: bool = True,
                  already: Sequence[bool] | None = None, prefer: Sequence[bool] | None = None) -> list[bool]:
    """Which cells of one line (cells that add up to a total) must be hidden.

    Primary: every cell 1..k. Complementary: when the total is shown and exactly one cell is
    hidden, the smallest other non-zero cell is hidden too (ties: the first), so the hidden cell
    cannot be had as total − the others.

    Parameters
    ----------
    values : sequence of numbers
    k : int
    total_shown : bool
        Whether the line's total is published (exactly).
    already : sequence of bool, optional
        Cells hidden for another reason (e.g. by a crossing line).
    prefer : sequence of bool, optional
        Cells to pick first as the complement (in a cross table: cells whose crossing line needs
        a second hidden cell anyway), so fewer cells are hidden in all.
    """
    mask = [bool(a) for a in already] if already is not None else [False] * len(values)
    mask = [m or is_small(v, k) for m, v in zip(mask, values)]
    if total_shown and sum(mask) == 1:
        pref = list(prefer) if prefer is not None else [False] * len(values)
        cand = [(not pref[i], float(_num(v)), i) for i, (v, m) in enumerate(zip(values, mask))
                if not m and (_num(v) or 0) > 0]
        if cand:
            mask[min(cand)[2]] = True
    return mask


def suppress_grid(counts: pd.DataFrame, k: int, *, row_totals: bool = True,
                  col_totals: bool = True) -> pd.DataFrame:
    """Which cells of a cross table must be hidden when its row and/or column totals are shown.

    Applies :func:`suppress_line` to every row and column until nothing changes.

    Returns
    -------
    DataFrame of bool
        Same shape, index and columns as ``counts`` (which is not modified).
    """
    vals = counts.to_numpy(dtype=float).tolist()
    mask = [[is_small(v, k) for v in row] for row in vals]
    changed = True
    while changed:
        changed = False
        ncol = len(vals[0]) if vals else 0
        if row_totals:
            for i, row in enumerate(vals):
                lonely_cols = [col_totals and sum(m[j] for m in mask) == 1 for j in range(ncol)]
                new = suppress_line(row, k, already=mask[i], prefer=lonely_cols)
                if new != mask[i]:
                    mask[i], changed = new, True
        if col_totals:
            for j in range(ncol):
                col = [r[j] for r in vals]
                lonely_rows = [row_totals and sum(m) == 1 for m in mask]
                new = suppress_line(col, k, already=[m[j] for m in mask], prefer=lonely_rows)
                for i, flag in enumerate(new):
                    if flag and not mask[i][j]:
                        mask[i][j], changed = True, True
    return pd.DataFrame(mask, index=counts.index, columns=counts.columns)


def suppress_lines(values: Sequence, k: int, lines: Sequence[Sequence[int]]) -> list[bool]:
    """Which of ``values`` must be hidden when several sums of them are published.

    For the bars of a chart whose totals are shown elsewhere: ``lines`` holds, for each published
    total, the positions of the values adding up to it (e.g. every bar of a histogram, whose total
    is in the title; the bars below a threshold, whose number is given too). :func:`suppress_line`
    is applied to every line until nothing changes, so no line has exactly one hidden value.

    Returns
    -------
    list of bool
        One flag per value: small (1..k) or hidden as a complement.
    """
    lines = [list(line) for line in lines]
    mask = [is_small(v, k) for v in values]
    changed = True
    while changed:
        changed = False
        for j, line in enumerate(lines):
            # a complement that also gives another line its second hidden cell hides less in all
            lonely = {i for o, other in enumerate(lines) if o != j and sum(mask[x] for x in other) == 1 for i in other}
            new = suppress_line([values[i] for i in line], k, already=[mask[i] for i in line],
                                prefer=[i in lonely for i in line])
            for i, flag in zip(line, new):
                if flag and not mask[i]:
                    mask[i], changed = True, True
    return mask


def hidden_text(values: Sequence, mask: Sequence[bool], k: int, fmt: Callable = lambda n: f"{int(n):,}") -> list[str]:
    """Values as public text after :func:`suppress_lines`: ``<5`` for small, ``*`` for complements."""
    return [(small_label(k) if is_small(v, k) else COMPLEMENT) if m else ("–" if _num(v) is None else fmt(v))
            for v, m in zip(values, mask)]


def grid_text(counts: pd.DataFrame, k: int, fmt: Callable = lambda n: f"{int(n):,}", **kw) -> pd.DataFrame:
    """A cross table as public text: small cells ``<5``, complementary cells ``*``."""
    mask = suppress_grid(counts, k, **kw)
    out = counts.astype(object).copy()
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            v = counts.iat[i, j]
            out.iat[i, j] = (small_label(k) if is_small(v, k) else COMPLEMENT) if mask.iat[i, j] else (
                "–" if _num(v) is None else fmt(v))
    return out


def protect_pairs(frame: pd.DataFrame, total: str, part: str, k: int, *,
                  rates: dict[str, bool] | None = None, count_fmt: Callable = lambda n: f"{int(n):,}",
                  rate_fmt: Callable | None = None, extra_parts: Sequence[str] = ()) -> pd.DataFrame:
    """A copy of ``frame`` with ``total``, ``part`` and the shares computed from them as public text.

    Parameters
    ----------
    frame : DataFrame
        One row per (total, part) pair, e.g. ``surveyed`` and ``failed`` of an indicator.
    total, part : str
        Column names of the numbers.
    k : int
    rates : dict, optional
        Share columns computed from this row's pair: name → ``True`` when the column is
        ``1 − part/total`` (a pass rate next to a failed count), ``False`` for ``part/total``.
    extra_parts : sequence of str
        Other columns that equal total − part (a ``passed`` column), shown as bounds too.
    """
    from .i18n import format_pct

    rate_fmt = rate_fmt or format_pct
    out = frame.copy()
    tot = frame[total].tolist()
    par = frame[part].tolist()
    out[total] = [total_text(t, k, count_fmt) for t in tot]
    out[part] = [count_text(t, p, k, count_fmt) for t, p in zip(tot, par)]
    for c in extra_parts:
        out[c] = [count_text(t, (_num(t) or 0) - (_num(p) or 0), k, count_fmt) if _num(p) is not None else "–"
                  for t, p in zip(tot, par)]
    for c, comp in (rates or {}).items():
        out[c] = [share_text(t, p, k, rate_fmt, complement=comp) for t, p in zip(tot, par)]
    return out


def hides_anything(frame: pd.DataFrame) -> bool:
    """True when a public table carries a suppressed cell (``<5``, ``>45``, ``<12.5%``, ``*``)."""
    return any(isinstance(x, str) and _MARK.fullmatch(x.strip()) is not None
               for col in frame.columns for x in frame[col])


_MARK = re.compile(r"[<>][0-9][0-9,.]*%?|\*")


# ---------------------------------------------------------------------------------------------
# spreadsheet cells (CSV/Excel "formula injection")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9,]*(?:\.[0-9]+)?")


def neutralise(value):
    """A cell value made safe for spreadsheets: text starting with ``= + - @``, tab or CR gets a
    leading apostrophe, so Excel or LibreOffice shows it instead of running it as a formula.

    Numbers (``int``, ``float``) are left alone, so a genuine negative number stays a number;
    text that is only a plain number (``"-12.5"``) cannot run and is left alone too.

    Examples
    --------
    >>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise(-3), neutralise("-3"), neutralise("-1+1")
    ('\\'=HYPERLINK("http://x")', -3, '-3', "'-1+1")
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and header) passed through :func:`neutralise`."""
    out = frame.astype(object).map(neutralise) if len(frame) else frame.copy()
    out.columns = [neutralise(c) for c in frame.columns]
    return out


def neutralise_row(row):
    """A row (list or dict of cells) for ``csv.writer``/``DictWriter`` with :func:`neutralise` applied."""
    if isinstance(row, dict):
        return {k: neutralise(v) for k, v in row.items()}
    return [neutralise(v) for v in row]


__all__ = [
    "COMPLEMENT", "small_cell_threshold", "is_small", "small_label", "share_state", "count_text",
    "total_text", "share_text", "suppress_line", "suppress_grid", "suppress_lines", "hidden_text", "grid_text",
    "protect_pairs",
    "hides_anything", "neutralise", "neutralise_frame", "neutralise_row",
]
