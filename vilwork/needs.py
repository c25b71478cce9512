"""Stage 2 — defining needs together (กำหนดความต้องการร่วมกัน).

The village's problems from its failing จปฐ. indicators, the community forum's votes (read from
the append-only ``votes.csv`` and ranked with the tie-break rules of ``forum.yaml``), the
narrative the village writes in ``profile.yaml`` (vision, information needs, partners, funding),
and the plan that joins them.

Frames come out with canonical (English, snake_case) columns so other functions can take them
back in; :func:`display` turns any of them into a table for readers, with Thai (or English)
headers and formatted numbers. Nothing here writes files.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import yaml

from . import charts
from .errors import DefinitionError, InputError
from .i18n import check_lang, format_datetime, format_int, format_pct, t
from .log import get_logger
from .registry import column_aliases, definitions_dir, fold_header, issue_areas
from .village import Village

log = get_logger(__name__)

__all__ = [
    "Missing",
    "Profile",
    "VoteTable",
    "PROFILE_FIELDS",
    "TIE_BREAK_RULES",
    "area_name",
    "display",
    "forum_settings",
    "legend_below",
    "load_profile",
    "parse_votes",
    "plan_table",
    "problems_chart",
    "problems_ranked",
    "rank_votes",
    "read_votes",
    "resolve_area",
    "votes_chart",
]

# =============================================================================================
# text helpers
# =============================================================================================

_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff"), None)


def _clean(value) -> str:
    """Text as written, made comparable: NFC, no-break and zero-width spaces removed, runs of
    white space collapsed, trimmed. None and NaN become ``""``."""
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return ""
    s = unicodedata.normalize("NFC", str(value)).translate(_INVISIBLE).replace("\u00a0", " ")
    return " ".join(s.split())


def _fold(value) -> str:
    """The identity of a name: cleaned and case-folded (``Road`` and ``road `` are one project)."""
    return _clean(value).casefold()


def _label(key: str, lang: str, **fmt) -> str | None:
    """The label ``key`` or None when labels.yaml has no such key."""
    try:
        return t(key, lang, **fmt)
    except DefinitionError:
        return None


def _note(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """Attach a reader-facing note (e.g. why a frame is empty) to ``frame.attrs['note']``."""
    frame.attrs["note"] = text
    return frame


# =============================================================================================
# display: canonical frame -> table for readers
# =============================================================================================

#: How :func:`display` formats a canonical column (columns not listed are shown as they are).
_FORMATS = {
    "share_failing": "pct", "tambon_share_failing": "pct", "vote_share": "pct", "pass_rate": "pct",
    "tambon_pass_rate": "pct", "share": "pct",
    "surveyed": "int", "failed": "int", "votes": "int", "households": "int", "items": "int", "level": "int",
    "quantity": "num",
    "income": "money", "expense": "money", "balance": "money", "savings": "money", "amount": "money",
    "value_baht": "money",
    "recorded_at": "datetime",
    "lat": "coord", "lon": "coord",
    "unit": "unit", "status": "status", "reliable": "reliable",
}
#: Internal columns :func:`display` leaves out (keys, sort helpers, audit details).
_HIDDEN = {"order", "decided_by", "tied_with", "first_recorded_at", "first_row", "indicators",
           "superseded_by", "failing_addressed", "withdraw", "kind_order"}


def _hidden(col: str) -> bool:
    return col in _HIDDEN or col.endswith("_key") or col.endswith("_keys")


def _fmt_cell(x, kind: str | None, lang: str):
    if isinstance(x, (list, tuple)):
        return ", ".join(str(_fmt_cell(y, kind, lang)) for y in x)
    if x is None or (np.ndim(x) == 0 and not isinstance(x, str) and pd.isna(x)):
        return "–"
    if kind is None:
        return x
    try:
        return _fmt_value(x, kind, lang)
    except (TypeError, ValueError):  # a cell kept as written (a rejected row's "abc" votes)
        return str(x)


def _fmt_value(x, kind: str, lang: str):
    if kind == "pct":
        return format_pct(x)
    if kind in ("int", "money"):
        return format_int(x)
    if kind == "num":
        f = float(x)
        return format_int(f) if f.is_integer() else f"{f:,.2f}"
    if kind == "coord":
        return f"{float(x):.5f}"
    if kind == "datetime":  # text (a rejected row's time as written) stays as written
        return x if isinstance(x, str) else format_datetime(pd.Timestamp(x).to_pydatetime(), lang)
    if kind == "unit":
        return _label(f"unit_{x}", lang) or str(x)
    if kind == "status":
        return _label(f"vote_status_{x}", lang) or str(x)
    if kind == "reliable":
        return "" if bool(x) else t("problem_few_surveyed", lang, n=format_int(charts.display().get("min_denominator", 10)))
    return x


def _protect(frame: pd.DataFrame) -> pd.DataFrame:
    """Public copy: surveyed/failed and the village's failing share as suppressed text (PDPA)."""
    from . import disclosure

    rates = {c: comp for c, comp in (("share_failing", False), ("pass_rate", True)) if c in frame.columns}
    return disclosure.protect_pairs(frame, "surveyed", "failed", disclosure.small_cell_threshold(),
                                    rates=rates, count_fmt=format_int)


def display(frame: pd.DataFrame, lang: str = "th") -> pd.DataFrame:
    """A canonical frame of this module or :mod:`vilwork.build` as a table for readers.

    Headers become the ``col_<column>`` labels of labels.yaml in ``lang``; shares become
    percentages, counts and baht get thousands separators, lists are joined with commas, units
    and vote statuses are translated, internal columns (keys, sort helpers) are left out.
    Columns without a label are kept as they are, so a frame already shown is returned unchanged.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`problems_ranked`, :func:`rank_votes`, :func:`plan_table`,
        :func:`vilwork.build.classified`, … (never modified).
    lang : {"th", "en"}

    Returns
    -------
    pandas.DataFrame
        Text cells, labelled headers; ``attrs`` (the note) carried over.
    """
    check_lang(lang)
    if frame.attrs.get("audience") == "public" and {"surveyed", "failed"} <= set(frame.columns):
        frame = _protect(frame)
    out = {}
    for col in frame.columns:
        if _hidden(str(col)) or (col == "reliable" and frame[col].fillna(True).astype(bool).all()):
            continue  # the "ranked last" note column only when some row needs it
        label = _label(f"col_{col}", lang) or str(col)
        kind = _FORMATS.get(str(col))
        out[label] = [_fmt_cell(x, kind, lang) for x in frame[col]]
    shown = pd.DataFrame(out, index=range(len(frame)))
    shown.attrs.update(frame.attrs)
    return shown


# =============================================================================================
# issue areas
# =============================================================================================


@lru_cache(maxsize=None)
def _area_aliases() -> dict[str, str]:
    """Folded ways a forum writes an area (key, names, name without ``ด้าน``, its position) → key."""
    out: dict[str, str] = {}
    for pos, a in enumerate(issue_areas(), start=1):
        names = [a["key"], a["name_th"], a["name_en"], str(pos)]
        th = _clean(a["name_th"])
        bare = th[len("ด้าน"):].strip() if th.startswith("ด้าน") else th
        names.append(bare)
        m = re.match(r"^(.*?)\s*\((.*)\)\s*$", bare)
        if m:  # "การบริหารจัดการความเสี่ยงชุมชน (ภูมิคุ้มกัน)": either part names the area
            names += [m.group(1), m.group(2), "ด้าน" + m.group(1)]
        for n in names:
            out.setdefault(_fold(n), a["key"])
    return out


def _area_by_key() -> dict[str, dict]:
    return {a["key"]: a for a in issue_areas()}


def area_name(key: str, lang: str = "th") -> str:
    """The issue area's name in ``lang``; the key itself for an area issue_areas.yaml lacks."""
    a = _area_by_key().get(key)
    return (a["name_en"] if lang == "en" else a["name_th"]) if a else key


def resolve_area(text) -> str | None:
    """The issue-area key (issue_areas.yaml) that a forum's ``ด้าน`` text names, or None.

    Accepts the key (``occupation``), the Thai or English name, the Thai name without ``ด้าน``
    (``อาชีพ``), either part of a name with a parenthesis (``ภูมิคุ้มกัน``) and the position 1–5.
    """
    return _area_aliases().get(_fold(text)) if _clean(text) else None


def _area_indicators() -> dict[str, set[int]]:
    return {a["key"]: {int(i) for i in a.get("bmn_indicators") or []} for a in issue_areas()}


def _areas_of_indicator() -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for a in issue_areas():
        for i in a.get("bmn_indicators") or []:
            out.setdefault(int(i), []).append(a["key"])
    return out


# =============================================================================================
# problems from the failing indicators
# =============================================================================================

_PROBLEM_COLUMNS = ["rank", "indicator", "name", "unit", "surveyed", "failed", "share_failing",
                    "tambon_share_failing", "areas", "area_keys", "reliable"]


def _official_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Per (level, indicator): the official-unit row (person/household); the platform's member
    row only where no official row exists (villages known from aggregates alone)."""
    if df.empty:
        return df
    rank = df["unit"].map({"person": 0, "household": 0, "member": 1}).fillna(2)
    df = df.assign(_u=rank).sort_values(["level", "indicator", "_u"])
    df = df[df["_u"] < 2].drop_duplicates(["level", "indicator"], keep="first")
    return df.drop(columns="_u")


def _competition_rank(keys: list[tuple]) -> list[int]:
    """Standard competition ranks ("1, 2, 2, 4") of already sorted keys."""
    ranks, prev = [], object()
    for pos, k in enumerate(keys, start=1):
        ranks.append(ranks[-1] if k == prev else pos)
        prev = k
    return ranks


def problems_ranked(v: Village, top: int | None = None) -> pd.DataFrame:
    """The village's problems: its failing จปฐ. indicators in survey year ``v.year``, worst first.

    Ranked by the share failing (failed / surveyed = 1 − pass rate), then by the people or
    households affected (failed), then by indicator number; equal on both keys share a rank.
    A share over fewer than ``min_denominator`` (display.yaml) people or households surveyed —
    3 of 3 infants failing is 100 % — ranks after every other problem, as in stage 1
    (:func:`vilwork.understand.failing_ranked`); ``reliable`` is False for those rows and
    :func:`display` says so in a note column.
    Counting is official (persons for person indicators, households for household indicators);
    a village known only from platform aggregates falls back to the platform's member counts
    (``unit`` says which).

    Parameters
    ----------
    v : Village
    top : int, optional
        Keep only the first ``top`` problems.

    Returns
    -------
    pandas.DataFrame
        ``rank, indicator, name`` (short name in ``v.lang``), ``unit, surveyed, failed,
        share_failing, tambon_share_failing`` (the tambon's, same unit; NaN when unknown),
        ``areas`` (list of the issue-area names the indicator touches, issue_areas.yaml),
        ``area_keys`` and ``reliable`` (surveyed ≥ ``min_denominator``). Empty (with
        ``attrs['note']``) when there is nothing to rank.
    """
    df = v.indicators
    if df.empty:
        return _note(pd.DataFrame(columns=_PROBLEM_COLUMNS), t("no_indicator_data", v.lang))
    df = df[(df["year"] == v.year) & df["indicator"].notna()].copy()
    df["indicator"] = df["indicator"].astype(int)
    rows = _official_rows(df)
    vil = rows[(rows["level"] == "village") & (rows["surveyed"] > 0) & (rows["failed"] > 0)]
    if vil.empty:
        note = "problems_none" if not rows[rows["level"] == "village"].empty else "no_indicator_data"
        return _note(pd.DataFrame(columns=_PROBLEM_COLUMNS), t(note, v.lang))
    tam = rows[rows["level"] == "tambon"].set_index(["indicator", "unit"])
    min_n = charts.display().get("min_denominator", 10)
    areas = _areas_of_indicator()
    s = v.indicator_set
    out = []
    for _, r in vil.iterrows():
        i, unit = int(r["indicator"]), str(r["unit"])
        tr = tam.loc[(i, unit)] if (i, unit) in tam.index else None
        tshare = (float(tr["failed"]) / float(tr["surveyed"])) if tr is not None and tr["surveyed"] > 0 else np.nan
        keys = areas.get(i, [])
        out.append({
            "indicator": i,
            "name": s.indicator_name(i, v.lang, short=True),
            "unit": unit,
            "surveyed": int(r["surveyed"]),
            "failed": int(r["failed"]),
            "share_failing": float(r["failed"]) / float(r["surveyed"]),
            "tambon_share_failing": tshare,
            "areas": [area_name(k, v.lang) for k in keys],
            "area_keys": keys,
            "reliable": bool(r["surveyed"] >= min_n),
        })
    # a share over a handful of people is not the village's biggest problem (and, for the public,
    # topping the list with "100 %" would point at those few): small denominators rank last
    f = pd.DataFrame(out).sort_values(["reliable", "share_failing", "failed", "indicator"],
                                      ascending=[False, False, False, True])
    f.insert(0, "rank", _competition_rank(list(zip(f["reliable"], f["share_failing"], f["failed"]))))
    f = f.reset_index(drop=True)[_PROBLEM_COLUMNS]
    f = f.head(top).reset_index(drop=True) if top else f
    f.attrs["audience"] = v.audience  # display() suppresses small cells for the public
    return f


def problems_chart(v: Village, top: int | None = 10) -> go.Figure:
    """Bars of the share failing per problem (worst on top, coloured by the pass-rate bands)
    with the tambon's share as a marker beside each bar."""
    p = problems_ranked(v, None if v.audience == "public" else top)
    if v.audience == "public":  # shares that would give away a small cell are left out (PDPA)
        from . import disclosure

        k = disclosure.small_cell_threshold()
        p = p[[disclosure.share_state(s, x, k) == "show" for s, x in zip(p["surveyed"], p["failed"])]]
        p = (p.head(top) if top else p).reset_index(drop=True)
    if p.empty:
        return charts.style(go.Figure(), p.attrs.get("note") or t("no_data", v.lang))
    labels = [f"{i}. {n}" for i, n in zip(p["indicator"], p["name"])]
    fig = charts.hbar(labels, p["share_failing"], colors=[charts.band_color(1 - x) for x in p["share_failing"]],
                      text=[f"{format_pct(x, 0)} ({format_int(n)})" for x, n in zip(p["share_failing"], p["failed"])],
                      title=t("chart_problems", v.lang), xtitle=t("share_failing", v.lang))
    fig.data[0].name = t("level_village", v.lang)
    fig.data[0].showlegend = True
    fig.data[0].textposition = "outside"
    top_share = float(pd.concat([p["share_failing"], p["tambon_share_failing"]]).max())
    fig.update_xaxes(range=[0, min(1.05, max(0.1, top_share * 1.35))])
    if p["tambon_share_failing"].notna().any():
        fig.add_trace(go.Scatter(
            y=labels[::-1], x=list(p["tambon_share_failing"])[::-1], mode="markers", name=t("level_tambon", v.lang),
            marker={"symbol": "diamond", "size": 13, "color": charts.display()["levels_palette"]["tambon"],
                    "line": {"width": 1, "color": "#1a1a1a"}},
            hovertemplate=t("level_tambon", v.lang) + " %{y}: %{x:.1%}<extra></extra>"))
    return charts.check_traces(legend_below(fig))


def legend_below(fig: go.Figure) -> go.Figure:
    """Show the legend in one row under the plot, where it cannot cover the title."""
    fig.update_layout(showlegend=True, legend={"orientation": "h", "x": 0, "xanchor": "left", "y": -0.18, "yanchor": "top"},
                      margin={"b": 110}, height=(fig.layout.height or 420) + 70)
    return fig


# =============================================================================================
# forum votes
# =============================================================================================

#: Tie-break rules vilwork implements, by the name forum.yaml uses. Each maps a project row
#: (with ``votes``, ``failing_addressed``, ``first_recorded_at``, ``first_row``) to a sort key:
#: smaller sorts first.
TIE_BREAK_RULES = {
    "votes_desc": lambda r: -int(r["votes"]),
    "addresses_more_failing_indicators": lambda r: -int(r["failing_addressed"]),
    "earliest_recorded": lambda r: (
        pd.Timestamp(r["first_recorded_at"]).value if pd.notna(r["first_recorded_at"]) else np.iinfo(np.int64).min,
        int(r["first_row"]),
    ),
}


@lru_cache(maxsize=None)
def forum_settings() -> dict:
    """forum.yaml: ``tie_break`` (rule names in order), ``rules`` (their labels) and
    ``withdraw_notes``.

    Raises
    ------
    DefinitionError
        When the file is missing or malformed, names a rule vilwork does not implement, or puts
        ``votes_desc`` anywhere but first (votes always make the rank).
    """
    path = definitions_dir() / "forum.yaml"
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
    except FileNotFoundError:
        raise DefinitionError(f"definition file {path} is missing") from None
    except yaml.YAMLError as e:
        raise DefinitionError(f"definition file {path} is not valid YAML: {e}") from None
    rules = list(doc.get("tie_break") or ["votes_desc"])
    _check_rules(rules, path)
    described = doc.get("rules") or {}
    for r in rules:
        if r not in described:
            raise DefinitionError(f"{path}: tie-break rule {r!r} has no name_th/name_en under `rules`")
    return {"tie_break": rules, "rules": described,
            "withdraw_notes": frozenset(_fold_note(x) for x in doc.get("withdraw_notes") or [])}


def _check_rules(rules: list[str], where) -> None:
    unknown = [r for r in rules if r not in TIE_BREAK_RULES]
    if unknown:
        raise DefinitionError(f"{where}: unknown tie-break rule(s) {unknown} (known: {sorted(TIE_BREAK_RULES)})")
    if "votes_desc" in rules and rules[0] != "votes_desc":
        raise DefinitionError(f"{where}: votes_desc must come first in tie_break (votes make the rank; the rest break ties)")


def _fold_note(s) -> str:
    return _fold(s).strip(" .,;:!?-–—()[]\"'")


_VOTE_COLUMNS = ["project", "area", "area_key", "votes", "recorded_at", "first_recorded_at", "first_row", "row"]
_RANK_COLUMNS = ["rank", "project", "area", "votes", "vote_share", "explanation", "order", "area_key",
                 "failing_addressed", "decided_by", "tied_with", "first_recorded_at", "first_row"]
_REJECT_COLUMNS = ["row", "project", "area", "votes", "recorded_at", "note", "reason"]
_HISTORY_COLUMNS = ["row", "recorded_at", "project", "area", "votes", "note", "status", "superseded_by", "reason"]


@dataclass
class VoteTable:
    """The forum's votes as read from ``votes.csv``.

    Attributes
    ----------
    current : pandas.DataFrame
        One row per project still standing: ``project, area, area_key, votes, recorded_at``
        (of the row that holds its votes), ``first_recorded_at, first_row`` (when it was first
        proposed), ``row``.
    ranked : pandas.DataFrame
        :func:`rank_votes` of ``current``.
    rejected : pandas.DataFrame
        Rows not used, as written, with the reason(s): ``row, project, area, votes,
        recorded_at, note, reason`` (row = 1-based spreadsheet row, the header is row 1).
    history : pandas.DataFrame
        Every row of the file in file order with its ``status`` (current, superseded, withdrawn,
        rejected) and the row that superseded it.
    withdrawn : list of str
        Projects whose latest row withdraws them.
    failing : frozenset of int
        The village's failing indicators (for the tie-break rule on failing indicators).
    notes : list of str
        Reader-facing notes (no file, encoding used, unknown columns, …).
    """

    current: pd.DataFrame
    ranked: pd.DataFrame
    rejected: pd.DataFrame
    history: pd.DataFrame
    withdrawn: list[str] = field(default_factory=list)
    failing: frozenset = frozenset()
    lang: str = "th"
    notes: list[str] = field(default_factory=list)
    path: Path | None = None

    @property
    def empty(self) -> bool:
        return self.current.empty


def _parse_votes_number(raw: str) -> tuple[int | None, str | None]:
    """``(votes, None)`` or ``(None, reason_key)`` for a cell of the votes column."""
    s = _clean(raw).translate(_THAI_DIGITS).replace(",", "").replace(" ", "")
    try:
        x = float(s)
    except ValueError:
        return None, "vote_reason_not_number"
    if not np.isfinite(x):
        return None, "vote_reason_not_number"
    if x < 0:
        return None, "vote_reason_negative"
    if not float(x).is_integer():
        return None, "vote_reason_not_whole"
    return int(x), None


_BE_YEAR = re.compile(r"(?<!\d)(2[45]\d\d)(?!\d)")
_SHORT_BE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{2})(?!\d)")


def _parse_time(raw: str) -> tuple[pd.Timestamp | None, bool]:
    """``(timestamp or None, ok)``: ISO or day-first dates, BE or CE years (a 2-digit year
    ``15/03/62`` is BE 2562), Thai digits; a time-zone-aware value is taken in Thai time and
    made naive."""
    s = _clean(raw).translate(_THAI_DIGITS)
    if not s:
        return None, True
    s = _SHORT_BE.sub(lambda m: f"{m.group(1)}/{m.group(3)}/{2500 + int(m.group(4)) - 543}", s)
    s = _BE_YEAR.sub(lambda m: str(int(m.group(1)) - 543), s)
    try:
        ts = pd.to_datetime(s, dayfirst=not re.match(r"^\d{4}-", s))
    except (ValueError, OverflowError, TypeError):
        return None, False
    if pd.isna(ts):
        return None, False
    if ts.tzinfo is not None:
        ts = ts.tz_convert("Asia/Bangkok").tz_localize(None)
    return ts, True


def _read_csv_rows(path: Path) -> tuple[list[list[str]], list[str]]:
    """Records of a CSV (UTF-8 with or without BOM; Windows Thai cp874 as a fallback, noted)."""
    notes = []
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp874")
        except UnicodeDecodeError:
            raise InputError("is neither UTF-8 nor Windows Thai (cp874) text; save it as CSV UTF-8", str(path)) from None
        notes.append("cp874")
    return list(csv.reader(io.StringIO(text, newline=""))), notes


def parse_votes(records: list[list[str]], *, withdraw_notes=None, source: str = "votes.csv",
                lang: str = "th") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """Apply the append-only rules to the records of a votes file (header first).

    The latest row of a project (by ``recorded_at``, then file order) holds its votes; a row
    with votes empty or 0 whose note is a withdraw word (forum.yaml ``withdraw_notes``) withdraws
    it; a later row brings it back. Rows without a time take the time of the row above. Bad rows
    are kept aside with every reason, never dropped.

    Parameters
    ----------
    records : list of list of str
        CSV records, the header first (Thai or English headers, aliases.csv table ``votes``).
    withdraw_notes : set of str, optional
        Folded withdraw words; default forum.yaml's.
    source : str
        File name for messages.
    lang : {"th", "en"}
        Language of the reasons.

    Returns
    -------
    current, rejected, history : pandas.DataFrame
    withdrawn : list of str
    notes : list of str

    Raises
    ------
    InputError
        When the header lacks the project or votes column, or names a column twice.
    """
    withdraw_notes = forum_settings()["withdraw_notes"] if withdraw_notes is None else withdraw_notes
    notes: list[str] = []
    records = list(records)
    empty = (pd.DataFrame(columns=_VOTE_COLUMNS), pd.DataFrame(columns=_REJECT_COLUMNS),
             pd.DataFrame(columns=_HISTORY_COLUMNS), [], notes)
    if not records or not any(_clean(c) for c in records[0]):
        notes.append(t("votes_empty_file", lang))
        return empty
    aliases = column_aliases("votes")
    header = records[0]
    pos: dict[str, int] = {}
    unknown = []
    for j, h in enumerate(header):
        canon = aliases.get(fold_header(h))
        if canon is None:
            if _clean(h):
                unknown.append(_clean(h))
            continue
        if canon in pos:
            raise InputError(f"column {canon!r} appears twice in the header ({header[pos[canon]]!r}, {h!r})", source)
        pos[canon] = j
    missing = [c for c in ("project", "votes") if c not in pos]
    if missing:
        raise InputError(f"header lacks {missing} (expected e.g. โครงการ, ด้าน, คะแนนเสียง, เวลาบันทึก, หมายเหตุ); found {header}", source)
    if unknown:
        notes.append(t("votes_unknown_columns", lang, cols=", ".join(unknown)))
    width = len(header)

    rows = []
    for n, rec in enumerate(records[1:], start=2):
        if not any(_clean(c) for c in rec):
            continue  # blank line
        cell = {c: (rec[j] if j < len(rec) else "") for c, j in pos.items()}
        r = {"row": n, "project_raw": cell.get("project", ""), "area_raw": cell.get("issue_area", ""),
             "votes_raw": cell.get("votes", ""), "time_raw": cell.get("recorded_at", ""),
             "note": _clean(cell.get("note", "")), "reasons": []}
        extra = [c for c in rec[width:] if _clean(c)]
        if extra:
            r["reasons"].append(t("vote_reason_extra_cells", lang, cells=", ".join(map(_clean, extra))))
        project = _clean(r["project_raw"])
        if not project:
            r["reasons"].append(t("vote_reason_no_project", lang))
        withdraw = _fold_note(r["note"]) in withdraw_notes if r["note"] else False
        votes = None
        if not _clean(r["votes_raw"]):
            if not withdraw:
                r["reasons"].append(t("vote_reason_missing", lang))
        else:
            votes, why = _parse_votes_number(r["votes_raw"])
            if why:
                r["reasons"].append(t(why, lang, value=_clean(r["votes_raw"])))
            elif withdraw and votes != 0:
                r["reasons"].append(t("vote_reason_withdraw_with_votes", lang, value=votes, note=r["note"]))
        ts, ok = _parse_time(r["time_raw"])
        if not ok:
            r["reasons"].append(t("vote_reason_bad_time", lang, value=_clean(r["time_raw"])))
        r.update(project=project, key=_fold(project), area=_clean(r["area_raw"]), votes=votes, time=ts,
                 withdraw=withdraw)
        rows.append(r)

    ok = [r for r in rows if not r["reasons"]]
    # Append-only: a row without a time was written after the row above it.
    last = None
    for r in ok:
        r["eff_time"] = r["time"] if r["time"] is not None else last
        last = r["eff_time"]
    never = pd.Timestamp.min
    by_project: dict[str, list[dict]] = {}
    for r in sorted(ok, key=lambda r: (r["eff_time"] if r["eff_time"] is not None else never, r["row"])):
        by_project.setdefault(r["key"], []).append(r)

    status: dict[int, tuple[str, int | None]] = {}
    current, withdrawn = [], []
    for key, seq in by_project.items():
        latest = seq[-1]
        for r in seq[:-1]:
            status[r["row"]] = ("superseded", latest["row"])
        if latest["withdraw"]:
            status[latest["row"]] = ("withdrawn", None)
            withdrawn.append(latest["project"])
            continue
        status[latest["row"]] = ("current", None)
        cut = max((k for k, r in enumerate(seq) if r["withdraw"]), default=-1)
        since = seq[cut + 1:]
        area = next((r["area"] for r in reversed(seq) if r["area"]), "")
        first = since[0]
        current.append({
            "project": latest["project"], "area": area, "area_key": resolve_area(area),
            "votes": int(latest["votes"]), "recorded_at": latest["time"],
            "first_recorded_at": first["eff_time"], "first_row": first["row"], "row": latest["row"],
        })
    unknown_areas = sorted({c["area"] for c in current if c["area"] and c["area_key"] is None})
    if unknown_areas:
        notes.append(t("votes_unknown_areas", lang, areas=", ".join(unknown_areas)))

    def when(r):
        return r["time"] if r["time"] is not None else pd.NaT

    rejected = pd.DataFrame([{
        "row": r["row"], "project": _clean(r["project_raw"]), "area": _clean(r["area_raw"]),
        "votes": _clean(r["votes_raw"]), "recorded_at": _clean(r["time_raw"]), "note": r["note"],
        "reason": "; ".join(r["reasons"])} for r in rows if r["reasons"]], columns=_REJECT_COLUMNS)
    history = pd.DataFrame([{
        "row": r["row"], "recorded_at": when(r), "project": r["project"] or _clean(r["project_raw"]),
        "area": r["area"], "votes": r["votes"] if not r["reasons"] else _clean(r["votes_raw"]), "note": r["note"],
        "status": "rejected" if r["reasons"] else status[r["row"]][0],
        "superseded_by": None if r["reasons"] else status[r["row"]][1],
        "reason": "; ".join(r["reasons"])} for r in rows], columns=_HISTORY_COLUMNS)
    cur = pd.DataFrame(current, columns=_VOTE_COLUMNS)
    if rejected.shape[0]:
        notes.append(t("votes_rejected_note", lang, n=len(rejected)))
    return cur, rejected, history, withdrawn, notes


def read_votes(v: Village) -> VoteTable:
    """The forum's votes for the village: ``data/raw/villages/<code>/votes.csv``.

    A missing file is normal (the forum has not met yet): the table is empty and says so.

    Returns
    -------
    VoteTable
        ``current``, ``ranked`` (:func:`rank_votes`), ``rejected`` (with reasons), ``history``.

    Raises
    ------
    InputError
        When the file cannot be read as a votes table (encoding, header).
    """
    path = v.raw_dir / "votes.csv"
    failing = frozenset(int(i) for i in problems_ranked(v)["indicator"])
    if not path.exists():
        cur = pd.DataFrame(columns=_VOTE_COLUMNS)
        vt = VoteTable(cur, pd.DataFrame(columns=_RANK_COLUMNS), pd.DataFrame(columns=_REJECT_COLUMNS),
                       pd.DataFrame(columns=_HISTORY_COLUMNS), failing=failing, lang=v.lang,
                       notes=[t("votes_missing_file", v.lang, path=f"data/raw/villages/{v.code}/votes.csv")], path=None)
        vt.ranked = _note(vt.ranked, vt.notes[0])
        return vt
    records, enc = _read_csv_rows(path)
    cur, rejected, history, withdrawn, notes = parse_votes(records, source=str(path), lang=v.lang)
    if enc:
        notes.insert(0, t("votes_cp874", v.lang))
    vt = VoteTable(cur, pd.DataFrame(), rejected, history, withdrawn, failing, v.lang, notes, path)
    vt.ranked = rank_votes(vt)
    return vt


def _rule_text(rule: str, lang: str) -> str:
    d = forum_settings()["rules"].get(rule) or {}
    return d.get("name_en" if lang == "en" else "name_th") or rule


def _rule_value(rule: str, r, lang: str, same_time: bool) -> str:
    d = forum_settings()["rules"].get(rule) or {}
    tmpl = d.get("value_en" if lang == "en" else "value_th") or "{n}"
    if rule == "votes_desc":
        return tmpl.format(n=format_int(r["votes"]))
    if rule == "addresses_more_failing_indicators":
        return tmpl.format(n=int(r["failing_addressed"]))
    ts = r["first_recorded_at"]
    row = t("vote_file_row", lang, row=int(r["first_row"]))
    when = row if pd.isna(ts) else format_datetime(pd.Timestamp(ts).to_pydatetime(), lang) + (f" ({row})" if same_time else "")
    return tmpl.format(when=when)


def rank_votes(votes, *, failing=None, lang: str | None = None, rules: list[str] | None = None) -> pd.DataFrame:
    """Rank the forum's projects by votes and explain every tie.

    The rank is standard competition ranking over votes (most first; equal votes share a rank:
    1, 2, 2, 4). Within a tie the forum's order follows the tie-break rules of forum.yaml
    (``addresses_more_failing_indicators``: the project whose issue area touches more of the
    village's failing indicators; ``earliest_recorded``: the project proposed first). For each
    tied project the explanation names the projects it ties with, says that the rank is shared,
    and names the rule that decided its place, with every tied project's value — or that the
    rules do not separate them and the tie stands.

    Parameters
    ----------
    votes : VoteTable or pandas.DataFrame
        A :class:`VoteTable` (its ``current``, ``failing`` and ``lang`` are used) or a frame with
        ``project`` and ``votes`` and optionally ``area``, ``area_key``, ``first_recorded_at``,
        ``first_row`` (default: the frame's row order).
    failing : iterable of int, optional
        The village's failing indicators (default: the VoteTable's, else none).
    lang : {"th", "en"}, optional
        Default: the VoteTable's, else Thai.
    rules : list of str, optional
        Tie-break rules (default forum.yaml ``tie_break``).

    Returns
    -------
    pandas.DataFrame
        ``rank, project, area, votes, vote_share, explanation`` and, for code, ``order`` (the
        forum's order after tie-breaks; still-tied projects share it), ``area_key,
        failing_addressed, decided_by`` (rule name, ``"tie_stands"`` or None), ``tied_with``,
        ``first_recorded_at, first_row``. Sorted by ``order``.
    """
    notes: list[str] = []
    if isinstance(votes, VoteTable):
        failing = votes.failing if failing is None else failing
        lang = lang or votes.lang
        notes = list(votes.notes)
        frame = votes.current
    else:
        frame = votes
    lang = check_lang(lang or "th")
    rules = list(rules) if rules is not None else list(forum_settings()["tie_break"])
    _check_rules(rules, "tie-break rules")
    if rules[:1] != ["votes_desc"]:
        rules = ["votes_desc", *rules]
    if frame is None or frame.empty:
        out = pd.DataFrame(columns=_RANK_COLUMNS)
        return _note(out, " ".join(notes) or t("votes_none", lang))
    failing = {int(i) for i in (failing or ())}
    area_ind = _area_indicators()
    f = frame.copy().reset_index(drop=True)
    if "area" not in f.columns:
        f["area"] = ""
    f["area"] = f["area"].fillna("").map(_clean)
    if "area_key" not in f.columns:
        f["area_key"] = f["area"].map(resolve_area)
    if "first_recorded_at" not in f.columns:
        f["first_recorded_at"] = pd.NaT
    if "first_row" not in f.columns:
        f["first_row"] = np.arange(1, len(f) + 1)
    f["votes"] = f["votes"].astype(int)
    f["failing_addressed"] = [len(area_ind.get(k, set()) & failing) if isinstance(k, str) else 0 for k in f["area_key"]]
    # Show the area in the reader's language when it is a known area.
    f["area"] = [area_name(k, lang) if isinstance(k, str) and k else a for k, a in zip(f["area_key"], f["area"])]
    total = int(f["votes"].sum())
    f["vote_share"] = f["votes"] / total if total else np.nan

    recs = f.to_dict("records")
    keyed = [tuple(TIE_BREAK_RULES[r](rec) for r in rules) for rec in recs]
    order_idx = sorted(range(len(recs)), key=lambda k: (keyed[k], _fold(recs[k]["project"])))
    recs = [recs[k] for k in order_idx]
    keyed = [keyed[k] for k in order_idx]
    ranks = _competition_rank([k[:1] for k in keyed])
    orders = _competition_rank(keyed)
    for rec, rank, order in zip(recs, ranks, orders):
        rec["rank"], rec["order"] = rank, order

    # explanations, tie group by tie group
    groups: dict[int, list[int]] = {}
    for k, rec in enumerate(recs):
        groups.setdefault(rec["rank"], []).append(k)
    for members in groups.values():
        if len(members) == 1:
            rec = recs[members[0]]
            rec.update(explanation=t("vote_no_tie", lang), decided_by=None, tied_with=[])
            continue
        times = [recs[k]["first_recorded_at"] for k in members]
        for k in members:
            rec = recs[k]
            others = [recs[j]["project"] for j in members if j != k]
            decided = None
            for depth in range(2, len(rules) + 1):
                if all(keyed[k][:depth] != keyed[j][:depth] for j in members if j != k):
                    decided = rules[depth - 1]
                    break
            common = dict(others=", ".join(others), votes=t("vote_points", lang, n=format_int(rec["votes"])))
            if decided is None:
                still = [recs[j]["project"] for j in members if j != k and keyed[j] == keyed[k]]
                used = ", ".join(_rule_text(r, lang) for r in rules[1:]) or "–"
                rec.update(explanation=t("vote_tie_stands", lang, rules=used, still=", ".join(still), **common),
                           decided_by="tie_stands", tied_with=others)
            else:
                # every rule that separated this project from some of those still tied with it,
                # each with the values of the projects it compared
                steps, peers = [], list(members)
                for depth in range(2, len(rules) + 1):
                    narrower = [j for j in peers if keyed[j][:depth] == keyed[k][:depth]]
                    if len(narrower) < len(peers):
                        rule = rules[depth - 1]
                        same_time = sum(1 for x in times if pd.notna(x) and x == rec["first_recorded_at"]) > 1 \
                            or pd.isna(rec["first_recorded_at"])
                        values = "; ".join(f"{recs[j]['project']}: {_rule_value(rule, recs[j], lang, same_time)}" for j in peers)
                        steps.append(t("vote_tie_step", lang, rule=_rule_text(rule, lang), values=values))
                    peers = narrower
                    if len(peers) == 1:
                        break
                pos = sum(1 for j in members if keyed[j] < keyed[k]) + 1
                rec.update(explanation=t("vote_tie_decided", lang, steps=t("vote_tie_then", lang).join(steps),
                                         pos=pos, n=len(members), **common),
                           decided_by=decided, tied_with=others)
    out = pd.DataFrame(recs)
    out = out[[c for c in _RANK_COLUMNS if c in out.columns]].reset_index(drop=True)
    if notes:
        out.attrs["note"] = " ".join(notes)
    return out


def votes_chart(ranked, lang: str = "th") -> go.Figure:
    """Horizontal bars of the votes per project in the forum's order (first on top)."""
    r = ranked.ranked if isinstance(ranked, VoteTable) else ranked
    if r is None or r.empty:
        return charts.style(go.Figure(), t("votes_none", lang))
    labels = [f"{k}. {p}" for k, p in zip(r["rank"], r["project"])]
    fig = charts.hbar(labels, r["votes"], pct=False, title=t("chart_votes", lang), xtitle=t("col_votes", lang),
                      text=[f"{format_int(x)} ({format_pct(s, 0)})" for x, s in zip(r["votes"], r["vote_share"])])
    return fig


# =============================================================================================
# the village profile (narrative the village writes)
# =============================================================================================

#: Fields of profile.yaml (docs/profile-template.yaml), with the KM document part each feeds.
PROFILE_FIELDS = {
    "history": "1.1", "population_notes": "1.2", "leaders": "1.3", "groups": "1.3", "identity": "1.3",
    "products": "1.4", "income_notes": "1.4", "tourism": "1.5", "culture": "1.7", "festivals": "1.7",
    "wisdom": "1.7", "other": "1.8",
    "vision": "2", "information_needs": "2", "partners": "2.4", "funding_sources": "2.4",
    "management": "2.1", "analysis_presentation": "2.2", "gis_notes": "2.3", "participation_notes": "2.4",
    "projects": "2.4", "integrated_projects": "2.5", "publication": "2.6",
}
#: Other names a profile may use for a field (the first one present is read).
_FIELD_ALIASES = {
    "income_notes": ("economy", "income"),
    "analysis_presentation": ("presentation", "analysis"),
    "funding_sources": ("funding",),
    "population_notes": ("population",),
    "gis_notes": ("gis",),
    "participation_notes": ("participation",),
    "integrated_projects": ("successful_projects",),
    "publication": ("publications", "channels"),
}
#: Fields that are mappings with fixed sub-fields (reached as ``management.place``).
_SUBFIELDS = {"management": ("place", "equipment", "team")}
#: Cell text that says nothing: treated as a gap, never shown as the village's words.
_PLACEHOLDERS = {"", "-", "–", "—", "...", "…", "todo", "tbd", "xxx", "?"}


@dataclass(frozen=True)
class Missing:
    """A visible gap: the field the village has not written yet, never invented text.

    Falsy, so ``if profile.get("vision"):`` reads naturally; ``str()`` gives the marked gap
    text a document shows.
    """

    field: str
    label_th: str
    label_en: str
    hint: str
    lang: str = "th"
    missing: bool = True

    @property
    def label(self) -> str:
        return self.label_en if self.lang == "en" else self.label_th

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return t("profile_gap", self.lang, label=self.label)


def _template_path() -> Path | None:
    here = Path(__file__).resolve().parent
    for p in (here / "templates" / "profile-template.yaml", here.parent / "docs" / "profile-template.yaml"):
        if p.exists():
            return p
    return None


@lru_cache(maxsize=None)
def _template_values() -> dict:
    """Example values of the profile template, folded, by dotted field path (entries of a list
    share the list's path), and under ``""`` the template's own example village code.

    The examples describe that example village; for any other village a value identical to an
    example is the template's text left in place, not the village's, and is treated as a gap.
    """
    p = _template_path()
    if p is None:
        return {}
    try:
        with open(p, encoding="utf-8-sig") as f:
            doc = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        log.warning("profile template %s unreadable (%s): placeholders not recognised", p, e)
        return {}
    out: dict[str, set[str]] = {}

    def walk(prefix: str, val) -> None:
        if isinstance(val, dict):
            for k, x in val.items():
                walk(f"{prefix}.{k}" if prefix else str(k), x)
        elif isinstance(val, list):
            for x in val:
                walk(prefix, x)
        elif _clean(val):
            out.setdefault(prefix, set()).add(_fold(val))

    if isinstance(doc, dict):
        walk("", doc)
        out[""] = {_clean(doc.get("village_code"))}
    return out


def _flat(x):
    """A sub-field value as text a document can print: list entries that are mappings become
    ``"value — value"`` (``{name: ..., role: ...}`` → ``"นายสมชาย — ประธาน"``)."""
    if isinstance(x, list):
        return [" — ".join(str(y) for y in e.values() if _clean(y)) if isinstance(e, dict) else e for e in x]
    return x


@dataclass
class Profile:
    """A village's profile.yaml: narrative only the village can write.

    ``get(field)`` returns the text (str), a list, a mapping, or a :class:`Missing` marker.
    """

    path: Path
    data: dict
    lang: str = "th"
    exists: bool = True
    code: str = ""

    def label_of(self, fld: str, lang: str | None = None) -> str:
        """The reader-facing name of a field (``management.place`` works too)."""
        return _label(f"profile_{fld.replace('.', '_')}", lang or self.lang) or fld

    def _missing(self, fld: str) -> Missing:
        key = fld.replace(".", "_")
        hint = _label(f"profile_hint_{key}", self.lang) or ""
        where = t("profile_where", self.lang, field=fld, path=self._rel_path())
        return Missing(fld, _label(f"profile_{key}", "th") or fld, _label(f"profile_{key}", "en") or fld,
                       f"{hint} — {where}" if hint else where, self.lang)

    def _rel_path(self) -> str:
        parts = self.path.parts
        return "/".join(parts[parts.index("data"):]) if "data" in parts else str(self.path)

    def _examples(self, fld: str) -> set[str]:
        """The template's example values for ``fld`` under any of its names (none when this is
        the template's own example village)."""
        tv = _template_values()
        if self.code in tv.get("", set()):
            return set()
        head, _, rest = fld.partition(".")
        out: set[str] = set()
        for name in (head, *_FIELD_ALIASES.get(head, ())):
            out |= tv.get(f"{name}.{rest}" if rest else name, set())
        return out

    def _value(self, fld: str, val):
        placeholders = self._examples(fld)

        def empty(s) -> bool:
            # Only a distinctive example (elided with "...", or a long sentence) is taken for the
            # template's text left in place; a short phrase may well be the village's own words.
            f = _fold(s)
            return f in _PLACEHOLDERS or (f in placeholders and ("..." in f or "…" in f or len(f) >= 40))

        def example_entry(d: dict) -> bool:  # a record whose every filled value is the template's
            filled = {k: y for k, y in d.items() if _clean(y) and not isinstance(y, (list, dict))}
            return len(filled) >= 2 and all(_fold(y) in self._examples(f"{fld}.{k}") for k, y in filled.items())

        if isinstance(val, dict):
            out = {}
            for k, x in val.items():
                sub = self._value(f"{fld}.{k}", x)
                if not isinstance(sub, Missing):
                    out[str(k)] = sub
            return out or self._missing(fld)
        if isinstance(val, (list, tuple)):
            items = []
            for x in val:
                if isinstance(x, dict):
                    d = {str(k): _clean(y) if not isinstance(y, (list, dict)) else y for k, y in x.items()}
                    if any(not isinstance(y, str) or not empty(y) for y in d.values()) and not example_entry(d):
                        items.append(d)
                elif not empty(x):
                    items.append(_clean(x))
            return items or self._missing(fld)
        if val is None or empty(val):
            return self._missing(fld)
        text = unicodedata.normalize("NFC", str(val)).strip()
        return text

    def _node(self, fld: str):
        """The raw value at a dotted path, trying the field's other names; None when absent."""
        head, _, rest = fld.partition(".")
        for name in (head, *_FIELD_ALIASES.get(head, ())):
            node = self.data.get(name) if isinstance(self.data, dict) else None
            for part in rest.split(".") if rest else ():
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                return node
        return None

    def get(self, fld: str):
        """The field's content, or a :class:`Missing` marker when absent, empty or still the
        template's example text.

        ``management`` gives a mapping of its sub-fields (place, equipment, team) under their
        reader-facing names, a missing one as a :class:`Missing` marker; ``management.place``
        reaches one sub-field.
        """
        node = self._node(fld)
        if fld in _SUBFIELDS and (node is None or isinstance(node, dict)):
            subs = {s: self.get(f"{fld}.{s}") for s in _SUBFIELDS[fld]}
            extra = {str(k): self._value(f"{fld}.{k}", x) for k, x in (node or {}).items() if k not in _SUBFIELDS[fld]}
            if all(isinstance(x, Missing) for x in subs.values()) and not any(not isinstance(x, Missing) for x in extra.values()):
                return self._missing(fld)
            return {self.label_of(f"{fld}.{k}"): _flat(x) for k, x in {**subs, **extra}.items()}
        return self._value(fld, node)

    @property
    def projects(self) -> list[dict]:
        """``projects`` entries (project, lead, funding_source, …) keyed as written."""
        p = self.get("projects")
        return [x for x in p if isinstance(x, dict)] if isinstance(p, list) else []

    def gaps(self, fields=None) -> pd.DataFrame:
        """The fields still to write: ``field, label, hint`` (default every field of the template)."""
        rows = []
        for fld in fields or PROFILE_FIELDS:
            val = self.get(fld)
            if isinstance(val, Missing):
                rows.append({"field": fld, "label": val.label, "hint": val.hint})
            elif isinstance(val, dict):
                rows += [{"field": x.field, "label": x.label, "hint": x.hint} for x in val.values() if isinstance(x, Missing)]
        return pd.DataFrame(rows, columns=["field", "label", "hint"])


def load_profile(v: Village) -> Profile:
    """The village's ``data/raw/villages/<code>/profile.yaml`` (template: docs/profile-template.yaml).

    A missing file is normal: every field is then a :class:`Missing` gap.

    Raises
    ------
    InputError
        When the file is not valid YAML (the message names the file and the line) or is not a
        mapping of field: text.
    """
    path = v.raw_dir / "profile.yaml"
    if not path.exists():
        return Profile(path, {}, v.lang, exists=False, code=v.code)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"is not UTF-8 text (byte {e.start}); save it as UTF-8", str(path)) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown line"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InputError(f"is not valid YAML at {where}: {problem}", str(path)) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InputError(f"must be a mapping of field: text (e.g. `history: ...`), not a {type(doc).__name__}", str(path))
    return Profile(path, {str(k): x for k, x in doc.items()}, v.lang, code=v.code)


# =============================================================================================
# the plan
# =============================================================================================

_PLAN_COLUMNS = ["project", "area", "indicators_addressed", "lead", "funding_source", "priority",
                 "area_key", "indicators", "order"]
_LEAD_KEYS = ("lead", "responsible", "ผู้รับผิดชอบ", "ผู้รับผิดชอบโครงการ")
_FUNDING_KEYS = ("funding_source", "funding", "แหล่งงบประมาณ", "แหล่งทุน")
_NAME_KEYS = ("project", "name", "โครงการ", "ชื่อโครงการ")


def _first(entry: dict, keys) -> str:
    for k in keys:
        if k in entry and _clean(entry[k]):
            return _clean(entry[k]) if not isinstance(entry[k], list) else ", ".join(map(_clean, entry[k]))
    return ""


def plan_table(v: Village, votes_ranked=None, problems: pd.DataFrame | None = None) -> pd.DataFrame:
    """The village plan: the forum's projects in priority order with what each addresses.

    Parameters
    ----------
    v : Village
    votes_ranked : pandas.DataFrame or VoteTable, optional
        :func:`rank_votes` output (default: the village's votes, ranked).
    problems : pandas.DataFrame, optional
        :func:`problems_ranked` output (default: computed).

    Returns
    -------
    pandas.DataFrame
        ``project, area, indicators_addressed`` (the village's failing indicators that the
        project's issue area touches, worst first, as ``"22. name"``), ``lead`` and
        ``funding_source`` (from the profile's ``projects`` entries, or a ``funding_sources``
        entry whose ``project``/``purpose`` is the project; ``ยังไม่ระบุ`` where not given —
        never guessed), ``priority`` (the vote rank; tied projects share it, rows follow the
        forum's tie-broken order), and for code ``area_key, indicators, order``.
    """
    if votes_ranked is None:
        votes_ranked = read_votes(v)
    if isinstance(votes_ranked, VoteTable):
        votes_ranked = votes_ranked.ranked if not votes_ranked.ranked.empty or votes_ranked.current.empty else rank_votes(votes_ranked)
    if problems is None:
        problems = problems_ranked(v)
    L = v.lang
    if votes_ranked.empty:
        return _note(pd.DataFrame(columns=_PLAN_COLUMNS), votes_ranked.attrs.get("note") or t("votes_none", L))
    profile = load_profile(v)
    entries = {}
    for e in profile.projects:
        name = _first(e, _NAME_KEYS)
        if name:
            entries[_fold(name)] = e
    funding = {}  # funding_sources entries that name the project they pay for
    fs = profile.get("funding_sources")
    for e in fs if isinstance(fs, list) else []:
        if isinstance(e, dict) and _first(e, ("project", "purpose", "โครงการ")):
            funding.setdefault(_fold(_first(e, ("project", "purpose", "โครงการ"))), _first(e, ("source", "name", "แหล่ง")))
    area_ind = _area_indicators()
    failing = [(int(i), str(n)) for i, n in zip(problems["indicator"], problems["name"])] if not problems.empty else []
    # no failing indicator because there are no results at all is not "nothing to fix"
    nothing = problems.attrs.get("note") if problems.empty and problems.attrs.get("note") else t("plan_no_failing", L)
    unspecified = t("plan_unspecified", L)
    rows = []
    ranked = votes_ranked.sort_values(["order", "rank"]) if "order" in votes_ranked.columns else votes_ranked.sort_values("rank")
    for _, r in ranked.iterrows():
        key = r.get("area_key") if isinstance(r.get("area_key"), str) else resolve_area(r.get("area", ""))
        touched = area_ind.get(key, set()) if key else set()
        hit = [(i, n) for i, n in failing if i in touched]
        if not key:
            addressed = [t("plan_area_unknown", L)]
        elif not hit:
            addressed = [nothing]
        else:
            addressed = [f"{i}. {n}" for i, n in hit]
        e = entries.get(_fold(r["project"]), {})
        rows.append({
            "project": r["project"], "area": area_name(key, L) if key else (r.get("area") or unspecified),
            "indicators_addressed": addressed, "lead": _first(e, _LEAD_KEYS) or unspecified,
            "funding_source": _first(e, _FUNDING_KEYS) or funding.get(_fold(r["project"])) or unspecified,
            "priority": int(r["rank"]),
            "area_key": key, "indicators": [i for i, _ in hit], "order": int(r.get("order", r["rank"])),
        })
    return pd.DataFrame(rows, columns=_PLAN_COLUMNS)

