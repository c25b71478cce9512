"""Target-village selection: one village per district, one per province from the district picks.

Inputs (``docs/programme.md`` describes the files):

* ``data/raw/programme/<FY>/candidates*.csv|xlsx``: the villages each district proposes, with the
  leaders' interest and the joint-support scores the district gives them;
* ``data/raw/programme/previous*.csv|xlsx``: earlier district- and province-level information
  villages (year, level, village code);
* the processed จปฐ. indicators and กชช. 2ค levels (data completeness, development level).

The rules (minimum scores, weights, tie-break order) are ``definitions/programme/selection.yaml``.
The pure functions :func:`candidate_table` and :func:`pick_targets` do the work; :func:`select`
reads the workspace and :func:`write_target_list` writes ``reports/_programme/``.

Nothing is picked silently: a district whose candidate data are missing or contradictory gets no
pick and a message naming it; a district with no eligible candidate is reported, not filled.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DefinitionError, InputError
from .log import get_logger
from .programme import (
    canonical_value,
    clean_code,
    clean_number,
    clean_text,
    find_files,
    label,
    name_of,
    out_dir,
    place_names,
    provenance,
    raw_dir,
    read_tables,
    settings,
    write_csv,
    write_xlsx,
    yes_no,
)
from .workspace import Workspace

log = get_logger(__name__)

TIE_KEYS = ("score", "leaders_interest", "joint_support", "completeness", "kchch2k_points", "bmn_pass_rate", "village_code")
PROBLEM_COLUMNS = ["district_code", "village_code", "file", "row", "column", "value", "problem", "message_th", "message_en", "blocking"]


# =============================================================================================
# rules
# =============================================================================================
def selection_rules() -> dict:
    """``selection.yaml``, checked: weights known, tie-break keys known and ending with village_code.

    Raises
    ------
    DefinitionError
        When a weight or tie-break key is unknown or the tie-break order can leave a tie.
    """
    r = settings("selection")
    unknown_w = set(r.get("weights", {})) - {"leaders_interest", "joint_support", "completeness", "kchch2k"}
    if unknown_w:
        raise DefinitionError(f"selection.yaml: unknown weights {sorted(unknown_w)}")
    tb = r.get("tie_break") or []
    bad = [t["key"] for t in tb if t.get("key") not in TIE_KEYS or t.get("order") not in ("asc", "desc")]
    if bad:
        raise DefinitionError(f"selection.yaml: tie_break keys {bad} unknown or without order asc/desc (keys: {', '.join(TIE_KEYS)})")
    if not tb or tb[-1]["key"] != "village_code":
        raise DefinitionError("selection.yaml: tie_break must end with village_code, so every tie is decided by a stated rule")
    return r


def fiscal_data_years(fiscal_year: int, rules: dict | None = None) -> tuple[int, int]:
    """The latest จปฐ. and กชช. 2ค years a selection for ``fiscal_year`` may use."""
    r = rules or selection_rules()
    return int(fiscal_year) + int(r.get("bmn_year_offset", 0)), int(fiscal_year) + int(r.get("kchch2k_year_offset", 0))


# =============================================================================================
# the facts about each village the rules need
# =============================================================================================
def village_facts(ws: Workspace, fiscal_year: int, rules: dict | None = None) -> pd.DataFrame:
    """Per known village: whether it has จปฐ. and กชช. 2ค data, its class and mean pass rate.

    Columns ``village_code, bmn_year, has_bmn, bmn_pass_rate, kchch2k_year, has_kchch2k,
    kchch2k_class``. Known villages are those of the place list, the indicators and กชช. 2ค.
    """
    bmn_max, k_max = fiscal_data_years(fiscal_year, rules)
    codes: set[str] = set()
    p = ws.processed / "places.parquet"
    if p.exists():
        pl = pd.read_parquet(p)
        codes |= set(pl.loc[pl["level"] == "village", "code"].astype(str))
    ind = pd.DataFrame(columns=["year", "code", "indicator", "unit", "pass_rate"])
    p = ws.processed / "indicators_village.parquet"
    if p.exists():
        ind = pd.read_parquet(p, columns=["year", "code", "indicator", "unit", "pass_rate"])
        ind = ind.assign(code=ind["code"].astype(str), year=ind["year"].astype(int))
        codes |= set(ind["code"])
    kl = pd.DataFrame(columns=["year", "village_code", "class"])
    p = ws.processed / "kchch2k_levels.parquet"
    if p.exists():
        kl = pd.read_parquet(p)
        kl = kl.assign(village_code=kl["village_code"].astype(str), year=kl["year"].astype(int))
        codes |= set(kl["village_code"])
    return facts_from_frames(sorted(codes), ind, kl, bmn_max, k_max)


def facts_from_frames(codes: list[str], indicators: pd.DataFrame, kchch: pd.DataFrame, bmn_max: int, kchch_max: int) -> pd.DataFrame:
    """Pure core of :func:`village_facts`: the latest year not after ``bmn_max`` / ``kchch_max``
    for each village; the mean pass rate over indicators in the official unit (person or
    household), the platform's member unit when that is all there is."""
    out = pd.DataFrame({"village_code": list(codes)})
    ind = indicators[(indicators["year"] <= bmn_max) & indicators["indicator"].notna() & indicators["pass_rate"].notna()]
    if not ind.empty:
        latest = ind.groupby("code")["year"].max().rename("bmn_year")
        ind = ind.join(latest, on="code")
        ind = ind[ind["year"] == ind["bmn_year"]]
        official = ind[ind["unit"].isin(["person", "household"])]
        member = ind[~ind["code"].isin(official["code"])]
        use = pd.concat([official, member[member["unit"] == "member"]])
        rate = use.groupby("code")["pass_rate"].mean().rename("bmn_pass_rate")
        out = out.join(latest, on="village_code").join(rate, on="village_code")
    else:
        out["bmn_year"] = np.nan
        out["bmn_pass_rate"] = np.nan
    out["has_bmn"] = out["bmn_year"].notna()
    k = kchch[kchch["year"] <= kchch_max]
    if not k.empty:
        k = k.sort_values("year").groupby("village_code").tail(1).set_index("village_code")
        out["kchch2k_year"] = out["village_code"].map(k["year"])
        out["kchch2k_class"] = out["village_code"].map(k["class"])
    else:
        out["kchch2k_year"] = np.nan
        out["kchch2k_class"] = np.nan
    out["has_kchch2k"] = out["kchch2k_class"].notna()
    return out


# =============================================================================================
# candidate table (pure)
# =============================================================================================
def _problem(district, village, row, column, value, key, /, blocking=True, **fmt) -> dict:
    """One data problem; a ``fmt`` value may be a function of the language."""
    th = {k: (v("th") if callable(v) else v) for k, v in fmt.items()}
    en = {k: (v("en") if callable(v) else v) for k, v in fmt.items()}
    return {
        "district_code": district, "village_code": village,
        "file": row.get("source_file") if row is not None else None,
        "row": row.get("source_row") if row is not None else None,
        "column": column, "value": None if value is None else str(value), "problem": key,
        "message_th": label(f"sel_{key}", "th", **th), "message_en": label(f"sel_{key}", "en", **en),
        "blocking": blocking,
    }


def _previous_index(previous: pd.DataFrame, rules: dict) -> tuple[dict[str, list[tuple[str, int]]], list[dict]]:
    """Village code → the earlier information-village records that exclude it; plus problems."""
    win = rules["previous"]
    levels = set(win["levels"])
    hits: dict[str, list[str]] = {}
    problems = []
    for _, r in previous.iterrows():
        code = clean_code(r["village_code"], 8)
        year = clean_number(r["year"])
        lvl = canonical_value("level", r["level"])
        if code is None or year is None or lvl is None:
            problems.append(_problem(None, clean_text(r["village_code"]), r, "village_code/year/level",
                                     f"{r['village_code']} / {r['year']} / {r['level']}", "previous_unreadable", blocking=False))
            continue
        year = int(year)
        if int(win["first_year"]) <= year <= int(win["last_year"]) and lvl in levels:
            hits.setdefault(code, []).append((lvl, year))
    return hits, problems


def _score_component(value: float | None, scale: dict) -> float:
    lo, hi = float(scale["min"]), float(scale["max"])
    return 0.0 if value is None else (value - lo) / (hi - lo)


def candidate_table(candidates: pd.DataFrame, previous: pd.DataFrame, facts: pd.DataFrame, fiscal_year: int,
                    rules: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every proposed village with its eligibility on each criterion, its score and its rank.

    Parameters
    ----------
    candidates : DataFrame
        Rows of the candidates file(s) (:func:`vilwork.programme.read_table` ``candidates``).
    previous : DataFrame
        Rows of the previous-information-villages list (``previous``).
    facts : DataFrame
        :func:`village_facts`: per village, data presence, กชช. 2ค class, mean pass rate.
    fiscal_year : int
        BE fiscal year of the selection.
    rules : dict, optional
        ``selection.yaml`` (default: read it).

    Returns
    -------
    (table, problems)
        ``table``: one row per candidate village. ``problems``: missing, unreadable or
        contradictory data (``PROBLEM_COLUMNS``); ``blocking`` problems stop their district's pick.
    """
    r = rules or selection_rules()
    el = r["eligibility"]
    prev_hits, problems = _previous_index(previous, r)
    facts = facts.set_index("village_code") if "village_code" in facts.columns else facts
    known = set(facts.index)
    rows_by_code: dict[str, list] = {}
    for _, row in candidates.iterrows():
        code = clean_code(row["village_code"], 8)
        dcol = clean_code(row.get("district_code"), 4)
        if code is None:
            d = dcol or (clean_text(row.get("district_code")) or None)
            problems.append(_problem(d, None, row, "village_code", row["village_code"], "bad_village_code"))
            continue
        if clean_text(row.get("district_code")) is not None and dcol != code[:4]:
            problems.append(_problem(code[:4], code, row, "district_code", row.get("district_code"), "district_mismatch", district=code[:4]))
        rows_by_code.setdefault(code, []).append(row)

    # A garbled code whose row names no district belongs to the district of the rest of its file
    # (one file per district is the usual way): that district is named and waits for the fix.
    file_districts: dict[str, set[str]] = {}
    for code, rows in rows_by_code.items():
        for x in rows:
            file_districts.setdefault(x.get("source_file"), set()).add(code[:4])
    for pr in problems:
        if pr["problem"] == "bad_village_code" and not pr["district_code"]:
            ds = file_districts.get(pr["file"], set())
            if len(ds) == 1:
                pr["district_code"] = next(iter(ds))

    scales = r["scores"]
    records = []
    for code, rows in rows_by_code.items():
        district = code[:4]
        row = rows[0]
        vals = {}
        bad = False
        for col in ("leaders_interest", "joint_support"):
            seen = {clean_text(x[col]) for x in rows}
            if len(seen) > 1:
                problems.append(_problem(district, code, rows[1], col, " / ".join(sorted(str(x) for x in seen)), "duplicate_conflict", n=len(rows)))
                bad = True
                continue
            raw = clean_text(row[col])
            x = clean_number(raw)
            if raw is None:
                problems.append(_problem(district, code, row, col, None, "missing_score", what=lambda lang, c=col: label(f"col_{c}", lang)))
                bad = True
            elif x is None or not (scales[col]["min"] <= x <= scales[col]["max"]):
                problems.append(_problem(district, code, row, col, raw, "bad_score", what=lambda lang, c=col: label(f"col_{c}", lang),
                                         lo=scales[col]["min"], hi=scales[col]["max"]))
                bad = True
            vals[col] = x
        declared = canonical_value("yes_no", row.get("previously_declared"))
        prev = prev_hits.get(code, [])
        if declared == "no" and prev:
            problems.append(_problem(district, code, row, "previously_declared", row.get("previously_declared"),
                                     "previous_contradiction", records=lambda lang, prev=prev: _records(prev, lang)))
            bad = True
        if code not in known:
            problems.append(_problem(district, code, row, "village_code", code, "unknown_village"))
            bad = True
        f = facts.loc[code] if code in known else None
        has = {"bmn": bool(f["has_bmn"]) if f is not None else False,
               "kchch2k": bool(f["has_kchch2k"]) if f is not None else False}
        sources = list(r["completeness_sources"])
        completeness = sum(has[s] for s in sources) / len(sources) if sources else 1.0
        cls = f["kchch2k_class"] if f is not None else np.nan
        cls = None if cls is None or pd.isna(cls) else int(cls)
        points = float(r["kchch2k_points"].get(cls, 0.0)) if cls is not None else 0.0
        reasons: list[tuple[str, dict]] = []  # (label key, format values): rendered in Thai and English
        if prev or declared == "yes":
            reasons.append(("why_previous", {"records": prev or None}))
        li, js = vals.get("leaders_interest"), vals.get("joint_support")
        if li is not None and li < el["leaders_interest_min"]:
            reasons.append(("why_interest", {"value": _fmt(li), "min": el["leaders_interest_min"]}))
        if js is not None and js < el["joint_support_min"]:
            reasons.append(("why_support", {"value": _fmt(js), "min": el["joint_support_min"]}))
        missing_req = [s for s in el.get("required_sources", []) if not has.get(s, False)]
        if missing_req:
            reasons.append(("why_required", {"sources": missing_req}))
        if completeness < el["completeness_min"]:
            reasons.append(("why_completeness", {"value": f"{completeness:.0%}", "min": f"{el['completeness_min']:.0%}"}))
        if cls is None and el.get("kchch2k_required"):
            reasons.append(("why_kchch2k_missing", {}))
        if cls is not None and cls not in el["kchch2k_classes"]:
            reasons.append(("why_kchch2k_class", {"cls": cls}))
        if bad:
            reasons.append(("why_data_problem", {}))
        w = r["weights"]
        parts = {
            "leaders_interest": w["leaders_interest"] * _score_component(li, scales["leaders_interest"]),
            "joint_support": w["joint_support"] * _score_component(js, scales["joint_support"]),
            "completeness": w["completeness"] * completeness,
            "kchch2k": w["kchch2k"] * points,
        }
        records.append({
            "fiscal_year": int(fiscal_year),
            "province_code": code[:2], "district_code": district, "tambon_code": code[:6], "village_code": code,
            "village_name_file": clean_text(row.get("village_name")),
            "leaders_interest": li, "joint_support": js,
            "previous": _records(prev, "th") or None,
            "has_bmn": has["bmn"], "has_kchch2k": has["kchch2k"], "completeness": completeness,
            "kchch2k_class": cls, "kchch2k_points": points,
            "bmn_pass_rate": (float(f["bmn_pass_rate"]) if f is not None and pd.notna(f["bmn_pass_rate"]) else np.nan),
            "points_interest": parts["leaders_interest"], "points_support": parts["joint_support"],
            "points_completeness": parts["completeness"], "points_kchch2k": parts["kchch2k"],
            "score": round(sum(parts.values()), int(r.get("score_decimals", 2))),
            "eligible": not reasons,
            "ineligible_reasons": _render_reasons(reasons, "th"), "ineligible_reasons_en": _render_reasons(reasons, "en"),
            "data_problem": bad,
        })
    cols = ["fiscal_year", "province_code", "district_code", "tambon_code", "village_code", "village_name_file",
            "leaders_interest", "joint_support", "previous", "has_bmn", "has_kchch2k", "completeness", "kchch2k_class",
            "kchch2k_points", "bmn_pass_rate", "points_interest", "points_support", "points_completeness", "points_kchch2k",
            "score", "eligible", "ineligible_reasons", "ineligible_reasons_en", "data_problem"]
    table = pd.DataFrame(records, columns=cols)
    table = rank_candidates(table, r)
    return table, pd.DataFrame(problems, columns=PROBLEM_COLUMNS)


def _records(prev: list[tuple[str, int]], lang: str) -> str:
    return ", ".join(f"{label('level_' + lvl, lang)} {year}" for lvl, year in prev)


def _render_reasons(reasons: list[tuple[str, dict]], lang: str) -> str | None:
    out = []
    for key, fmt in reasons:
        f = dict(fmt)
        if key == "why_previous":
            f["records"] = _records(f["records"], lang) if f["records"] else label("declared_in_file", lang)
        if key == "why_required":
            f["sources"] = ", ".join(label(f"source_{s}", lang) for s in f["sources"])
        out.append(label(key, lang, **f))
    return "; ".join(out) or None


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:g}" if isinstance(x, (int, float, np.integer, np.floating)) else str(x)


def _key_value(row, key: str, decimals: int):
    v = row[key]
    if key == "village_code":
        return str(v)
    if v is None or pd.isna(v):
        return None
    return round(float(v), decimals if key == "score" else 6)


def _sort_key(row, tie_break: list[dict], decimals: int) -> tuple:
    key = []
    for tb in tie_break:
        v = _key_value(row, tb["key"], decimals)
        if tb["key"] == "village_code":
            key.append((0, v))
        elif v is None:
            key.append((1, 0.0))  # missing values rank after every known value
        else:
            key.append((0, -v if tb["order"] == "desc" else v))
    return tuple(key)


def decided_by(a, b, tie_break: list[dict], decimals: int = 2) -> tuple[str, object, object] | None:
    """The first tie-break key on which candidates ``a`` (ranked first) and ``b`` differ, with
    their two values; None when they are identical on every key."""
    for tb in tie_break:
        va, vb = _key_value(a, tb["key"], decimals), _key_value(b, tb["key"], decimals)
        if va != vb:
            return tb["key"], va, vb
    return None


def _explain_pair(a, b, tie_break, decimals, lang) -> str:
    """Why ``a`` ranks above ``b``: the higher score, or the tie-break key that decided."""
    key, va, vb = decided_by(a, b, tie_break, decimals)
    if key == "score":
        return label("why_higher_score", lang, a_code=a["village_code"], b_code=b["village_code"], a=_fmt(va), b=_fmt(vb))
    direction = label("order_" + next(t["order"] for t in tie_break if t["key"] == key), lang)
    return label("why_tie", lang, a_code=a["village_code"], b_code=b["village_code"], score=_fmt(a["score"]),
                 key=label(f"key_{key}", lang), a=_fmt(va), b=_fmt(vb), direction=direction)


def rank_candidates(table: pd.DataFrame, rules: dict) -> pd.DataFrame:
    """Rank the eligible candidates of each district by the tie-break order; explain each rank.

    Adds ``rank`` (1 = best eligible; blank for ineligible) and ``explanation_th``/``_en``.
    """
    tb, dec = rules["tie_break"], int(rules.get("score_decimals", 2))
    out = table.copy()
    out["rank"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["explanation_th"] = None
    out["explanation_en"] = None
    for _, g in out.groupby("district_code", sort=True):
        el = g[g["eligible"]]
        order = sorted(el.index, key=lambda i: _sort_key(out.loc[i], tb, dec))
        for pos, i in enumerate(order):
            out.at[i, "rank"] = pos + 1
            for lang in ("th", "en"):
                score = _fmt(out.at[i, "score"])
                if len(order) == 1:
                    text = label("why_only_eligible", lang, score=score)
                elif pos == 0:
                    text = label("why_first", lang, n=len(order), score=score) + " " + _explain_pair(out.loc[i], out.loc[order[1]], tb, dec, lang)
                else:  # ranked below the one above it: say why
                    text = label("why_rank", lang, rank=pos + 1, n=len(order)) + " " + _explain_pair(out.loc[order[pos - 1]], out.loc[i], tb, dec, lang)
                if pos == 0:  # a better-scoring village that is not eligible is named, never skipped silently
                    for _, x in g[~g["eligible"] & (g["score"] > out.at[i, "score"])].sort_values("score", ascending=False).iterrows():
                        text += " " + label("why_skipped", lang, code=x["village_code"], score=_fmt(x["score"]),
                                            reasons=x["ineligible_reasons" if lang == "th" else "ineligible_reasons_en"])
                out.at[i, f"explanation_{lang}"] = text
        for i in g.index.difference(el.index):
            out.at[i, "explanation_th"] = label("why_ineligible", "th", reasons=out.at[i, "ineligible_reasons"])
            out.at[i, "explanation_en"] = label("why_ineligible", "en", reasons=out.at[i, "ineligible_reasons_en"])
    return out.sort_values(["district_code", "rank", "village_code"], na_position="last").reset_index(drop=True)


# =============================================================================================
# picks (pure)
# =============================================================================================
def pick_targets(table: pd.DataFrame, problems: pd.DataFrame, districts: list[str], rules: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The district picks and the province picks, and the status of every district and province.

    Parameters
    ----------
    table, problems : DataFrame
        From :func:`candidate_table`.
    districts : list of str
        Every 4-digit district that must pick (those of the workspace).

    Returns
    -------
    (targets, status)
        ``targets``: one row per pick: ``level`` (district/province), codes, ``village_code``,
        ``score``, ``reason_th``/``reason_en``. ``status``: one row per district and province:
        ``level, code, status, message_th, message_en`` with status ``picked``, ``blocked``
        (missing or contradictory data), ``no_candidates`` or ``no_eligible``.
    """
    r = rules or selection_rules()
    tb, dec = r["tie_break"], int(r.get("score_decimals", 2))
    blocking = problems[problems["blocking"].astype(bool)] if len(problems) else problems
    all_districts = sorted(set(districts) | set(table["district_code"]) | set(blocking["district_code"].dropna()))
    targets, status = [], []
    for d in all_districts:
        g = table[table["district_code"] == d]
        probs = blocking[blocking["district_code"] == d] if len(blocking) else blocking
        if len(probs):
            what = "; ".join(f"{p.village_code or '?'} {p.message_th}" for p in probs.itertuples())
            what_en = "; ".join(f"{p.village_code or '?'} {p.message_en}" for p in probs.itertuples())
            status.append(_status("district", d, "blocked", label("st_blocked", "th", code=d, n=len(probs), what=what),
                                  label("st_blocked", "en", code=d, n=len(probs), what=what_en)))
            continue
        if g.empty:
            status.append(_status("district", d, "no_candidates", label("st_no_candidates", "th", code=d), label("st_no_candidates", "en", code=d)))
            continue
        best = g[g["rank"] == 1]
        if best.empty:
            status.append(_status("district", d, "no_eligible", label("st_no_eligible", "th", code=d, n=len(g)),
                                  label("st_no_eligible", "en", code=d, n=len(g))))
            continue
        b = best.iloc[0]
        targets.append(_target("district", b, b["explanation_th"], b["explanation_en"]))
        status.append(_status("district", d, "picked", label("st_picked", "th", code=d, village=b["village_code"]),
                              label("st_picked", "en", code=d, village=b["village_code"])))
    dpicks = pd.DataFrame([t for t in targets if t["level"] == "district"])
    provinces = sorted({d[:2] for d in all_districts})
    for p in provinces:
        waiting = [s["code"] for s in status if s["level"] == "district" and s["code"][:2] == p and s["status"] == "blocked"]
        if waiting:
            status.append(_status("province", p, "blocked", label("st_province_waits", "th", code=p, districts=", ".join(waiting)),
                                  label("st_province_waits", "en", code=p, districts=", ".join(waiting))))
            continue
        pool = dpicks[dpicks["province_code"] == p] if len(dpicks) else dpicks
        if pool.empty:
            status.append(_status("province", p, "no_eligible", label("st_province_none", "th", code=p), label("st_province_none", "en", code=p)))
            continue
        pool_rows = table.set_index("village_code").loc[pool["village_code"]].reset_index()
        order = sorted(pool_rows.index, key=lambda i: _sort_key(pool_rows.loc[i], tb, dec))
        b = pool_rows.loc[order[0]]
        reasons = {}
        for lang in ("th", "en"):
            if len(order) == 1:
                reasons[lang] = label("why_province_only", lang)
            else:
                reasons[lang] = label("why_province_first", lang, n=len(order)) + " " + _explain_pair(b, pool_rows.loc[order[1]], tb, dec, lang)
        targets.append(_target("province", b, reasons["th"], reasons["en"]))
        status.append(_status("province", p, "picked", label("st_picked", "th", code=p, village=b["village_code"]),
                              label("st_picked", "en", code=p, village=b["village_code"])))
    tcols = ["level", "province_code", "district_code", "tambon_code", "village_code", "score", "reason_th", "reason_en"]
    return pd.DataFrame(targets, columns=tcols), pd.DataFrame(status, columns=["level", "code", "status", "message_th", "message_en"])


def _status(level, code, status, th, en) -> dict:
    return {"level": level, "code": code, "status": status, "message_th": th, "message_en": en}


def _target(level, row, th, en) -> dict:
    return {"level": level, "province_code": row["province_code"], "district_code": row["district_code"],
            "tambon_code": row["tambon_code"], "village_code": row["village_code"], "score": float(row["score"]),
            "reason_th": th, "reason_en": en}


# =============================================================================================
# workspace: read, select, write
# =============================================================================================
@dataclass
class SelectionResult:
    """Everything one selection run produced (frames are in memory; :func:`write_target_list`
    writes them)."""

    fiscal_year: int
    bmn_year: int
    kchch2k_year: int
    candidates: pd.DataFrame
    problems: pd.DataFrame
    targets: pd.DataFrame
    status: pd.DataFrame
    names: pd.DataFrame = field(repr=False)
    inputs: list[str] = field(default_factory=list)
    run_time: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))
    files: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [label("sel_summary", "th", fy=self.fiscal_year, n=len(self.candidates),
                       d=int((self.targets["level"] == "district").sum()), p=int((self.targets["level"] == "province").sum())),
                 label("sel_summary", "en", fy=self.fiscal_year, n=len(self.candidates),
                       d=int((self.targets["level"] == "district").sum()), p=int((self.targets["level"] == "province").sum()))]
        for s in self.status.itertuples():
            if s.status != "picked":
                lines.append(f"  ⚠ {s.message_th} / {s.message_en}")
        for p in self.problems.itertuples():
            if not p.district_code or not p.blocking:  # not already said in a district's status
                lines.append(f"  ⚠ {p.file or ''}:{p.row or ''} {p.message_th} / {p.message_en}")
        lines += [f"  → {f}" for f in self.files]
        return "\n".join(lines)


def workspace_districts(ws: Workspace) -> list[str]:
    """Every district of the workspace: the place list's districts and those of its villages."""
    codes: set[str] = set()
    p = ws.processed / "places.parquet"
    if p.exists():
        pl = pd.read_parquet(p)
        pl = pl.assign(code=pl["code"].astype(str))
        codes |= set(pl.loc[pl["level"] == "district", "code"])
        codes |= {c[:4] for c in pl.loc[pl["level"] == "village", "code"]}
    p = ws.processed / "indicators_district.parquet"
    if p.exists():
        codes |= set(pd.read_parquet(p, columns=["code"])["code"].astype(str))
    return sorted(c for c in codes if len(c) == 4 and c.isdigit())


def fiscal_years_with_candidates(ws: Workspace) -> list[int]:
    """Fiscal years (BE) that have a ``data/raw/programme/<FY>/`` folder with a candidates file."""
    base = raw_dir(ws)
    if not base.is_dir():
        return []
    return sorted(int(d.name) for d in base.iterdir() if d.is_dir() and d.name.isdigit() and find_files(d, "candidates"))


def default_fiscal_year(ws: Workspace, today: dt.date | None = None) -> int:
    """The latest fiscal year with a candidates file; else the fiscal year of ``today``."""
    from .deadlines import fiscal_year_of

    years = fiscal_years_with_candidates(ws)
    return years[-1] if years else fiscal_year_of(today or dt.date.today())


def select(ws: Workspace, fiscal_year: int | None = None, *, code_lists_dir: str | None = None) -> SelectionResult:
    """Build the candidate table of every district and pick the targets for ``fiscal_year``.

    Raises
    ------
    InputError
        When the fiscal year has no candidates file (the message says where to put it and which
        columns it needs).
    """
    r = selection_rules()
    fy = int(fiscal_year) if fiscal_year else default_fiscal_year(ws)
    folder = raw_dir(ws) / str(fy)
    cand_files = find_files(folder, "candidates")
    if not cand_files:
        cols = settings("columns")["tables"]["candidates"]
        need = ", ".join(cols[c][0] for c in settings("columns")["required"]["candidates"])
        raise InputError(label("sel_no_candidates_file", "th", fy=fy, cols=need) + " / " + label("sel_no_candidates_file", "en", fy=fy, cols=need), str(folder))
    prev_files = find_files(raw_dir(ws), "previous")
    candidates = read_tables(cand_files, "candidates")
    previous = read_tables(prev_files, "previous")
    facts = village_facts(ws, fy, r)
    districts = workspace_districts(ws)
    table, problems = candidate_table(candidates, previous, facts, fy, r)
    if not prev_files:
        problems = pd.concat([problems, pd.DataFrame([_problem(None, None, None, None, None, "no_previous_list", blocking=False)])],
                             ignore_index=True)
    targets, status = pick_targets(table, problems, districts, r)
    bmn_year, k_year = fiscal_data_years(fy, r)
    return SelectionResult(fy, bmn_year, k_year, table, problems, targets, status, place_names(ws, code_lists_dir),
                           [str(p.relative_to(ws.root)) for p in cand_files + prev_files])


# ---- output shapes ---------------------------------------------------------------------------
def target_list(result: SelectionResult, lang: str = "th") -> pd.DataFrame:
    """The department's shape: one row per target with level, province, district, tambon,
    village code and name, score and reason; Thai headers (``columns.yaml`` ``targets``)."""
    heads = {k: (v[0] if lang == "th" else k) for k, v in settings("columns")["tables"]["targets"].items()}
    n = result.names
    rows = []
    t = result.targets.sort_values(["level", "province_code", "district_code"], key=lambda s: s.map({"province": 0, "district": 1}) if s.name == "level" else s)
    for i, x in enumerate(t.itertuples(), start=1):
        rows.append({
            heads["order"]: i,
            heads["level"]: label(f"level_{x.level}", lang),
            heads["province_code"]: x.province_code, heads["province_name"]: name_of(n, x.province_code, lang),
            heads["district_code"]: x.district_code, heads["district_name"]: name_of(n, x.district_code, lang),
            heads["tambon_code"]: x.tambon_code, heads["tambon_name"]: name_of(n, x.tambon_code, lang),
            heads["village_code"]: x.village_code, heads["moo"]: int(x.village_code[-2:]),
            heads["village_name"]: _village_name(result, x.village_code, lang),
            heads["score"]: round(float(x.score), 2),
            heads["reason"]: x.reason_th if lang == "th" else x.reason_en,
        })
    return pd.DataFrame(rows, columns=list(heads.values()))


def _village_name(result: SelectionResult, code: str, lang: str) -> str:
    name = name_of(result.names, code, lang)
    if name == code:  # not in the place list: the name the district wrote in its file
        hit = result.candidates.loc[result.candidates["village_code"] == code, "village_name_file"]
        if len(hit) and hit.iloc[0]:
            return str(hit.iloc[0])
    return name


def candidates_sheet(result: SelectionResult, lang: str = "th") -> pd.DataFrame:
    """The whole candidate table with labelled columns: every criterion, score part and reason."""
    c = result.candidates
    L = lambda k: label(f"cand_{k}", lang)  # noqa: E731
    out = pd.DataFrame({
        L("district_code"): c["district_code"],
        L("district_name"): [name_of(result.names, d, lang) for d in c["district_code"]],
        L("village_code"): c["village_code"],
        L("village_name"): [_village_name(result, v, lang) for v in c["village_code"]],
        L("leaders_interest"): _compact(c["leaders_interest"]),
        L("joint_support"): _compact(c["joint_support"]),
        L("previous"): c["previous"].fillna("–"),
        L("has_bmn"): yes_no(c["has_bmn"], lang),
        L("has_kchch2k"): yes_no(c["has_kchch2k"], lang),
        L("completeness"): c["completeness"],
        L("kchch2k_class"): c["kchch2k_class"].astype("Int64"),
        L("bmn_pass_rate"): c["bmn_pass_rate"].round(4),
        L("points_interest"): c["points_interest"].round(2),
        L("points_support"): c["points_support"].round(2),
        L("points_completeness"): c["points_completeness"].round(2),
        L("points_kchch2k"): c["points_kchch2k"].round(2),
        L("score"): c["score"],
        L("eligible"): yes_no(c["eligible"], lang),
        L("rank"): c["rank"],
        L("explanation"): c[f"explanation_{lang}"],
    })
    return out


def _compact(values: pd.Series) -> pd.Series:
    """Whole-number scores as integers (4, not 4.0); others unchanged."""
    v = pd.to_numeric(values, errors="coerce")
    return v.astype("Int64") if v.dropna().apply(float.is_integer).all() else v


def status_sheet(result: SelectionResult, lang: str = "th") -> pd.DataFrame:
    s = result.status
    return pd.DataFrame({
        label("col_level", lang): [label(f"level_{x}", lang) for x in s["level"]],
        label("col_code", lang): s["code"],
        label("col_name", lang): [name_of(result.names, x, lang) for x in s["code"]],
        label("col_status", lang): [label(f"status_{x}", lang) for x in s["status"]],
        label("col_message", lang): s[f"message_{lang}"],
    })


def problems_sheet(problems: pd.DataFrame, lang: str = "th") -> pd.DataFrame:
    p = problems
    return pd.DataFrame({
        label("col_district", lang): p["district_code"],
        label("col_village", lang): p["village_code"],
        label("col_file", lang): p["file"],
        label("col_row", lang): p["row"],
        label("col_column", lang): p["column"],
        label("col_value", lang): p["value"],
        label("col_message", lang): p[f"message_{lang}"],
        label("col_blocking", lang): yes_no(p["blocking"], lang),
    })


def _rule_value(v, lang: str, prefix: str = "source_") -> str:
    """A rule's value as a reader reads it: yes/no, lists joined, known words (sources, status) in ``lang``."""
    if isinstance(v, bool):
        return yes_no([v], lang)[0]
    if isinstance(v, (list, tuple)):
        return ", ".join(_rule_value(x, lang, prefix) for x in v)
    key = f"{prefix}{v}"
    return label(key, lang) if isinstance(v, str) and key in settings("labels") else str(v)


def rules_sheet(lang: str = "th") -> pd.DataFrame:
    """The rules used, as a table: minimum scores, weights, tie-break order (for the record)."""
    r = selection_rules()
    rows = [(label("rule_previous", lang), f"{r['previous']['first_year']}–{r['previous']['last_year']}: {', '.join(label(f'level_{x}', lang) for x in r['previous']['levels'])}")]
    rows += [(label(f"rule_{k}", lang), _rule_value(v, lang)) for k, v in r["eligibility"].items()]
    rows += [(label("rule_weight", lang, key=label(f"key_{k}" if k != "kchch2k" else "key_kchch2k_points", lang)), str(v)) for k, v in r["weights"].items()]
    rows += [(label("rule_tie_break", lang, n=i), f"{label('key_' + t['key'], lang)} ({label('order_' + t['order'], lang)})") for i, t in enumerate(r["tie_break"], 1)]
    rows.append((label("rule_status", lang), _rule_value(r.get("status", ""), lang, prefix="status_")))
    return pd.DataFrame(rows, columns=[label("col_rule", lang), label("col_value", lang)])


def target_list_names(fiscal_year: int) -> tuple[str, str]:
    """File names of the target list: the Thai Excel name and its ASCII CSV alias."""
    return (label("file_targets_xlsx", "th", fy=fiscal_year), label("file_targets_csv", "th", fy=fiscal_year))


def write_target_list(ws: Workspace, result: SelectionResult, lang: str = "th") -> list[Path]:
    """Write ``reports/_programme/รายชื่อหมู่บ้านเป้าหมาย_<FY>.xlsx`` (targets, candidate table,
    district status, data problems, rules, provenance) and ``target_villages_<FY>.csv`` (the
    targets only), plus ``candidate_table_<FY>.csv``."""
    xlsx_name, csv_name = target_list_names(result.fiscal_year)
    out = out_dir(ws)
    tl = target_list(result, lang)
    prov = provenance({"fiscal_year": result.fiscal_year, "lang": lang, "inputs": " ".join(result.inputs)},
                      label("sel_period", lang, bmn=result.bmn_year, k=result.kchch2k_year), result.run_time, lang)
    sheets = {
        label("sheet_targets", lang): tl,
        label("sheet_candidates", lang): candidates_sheet(result, lang),
        label("sheet_status", lang): status_sheet(result, lang),
        label("sheet_problems", lang): problems_sheet(result.problems, lang),
        label("sheet_rules", lang): rules_sheet(lang),
        label("sheet_provenance", lang): pd.DataFrame(list(prov.items()), columns=[label("col_item", lang), label("col_value", lang)]),
    }
    notes = {label("sheet_targets", lang): label("note_targets", lang, fy=result.fiscal_year)}
    files = [write_xlsx(sheets, out / xlsx_name, notes=notes), write_csv(tl, out / csv_name),
             write_csv(candidates_sheet(result, lang), out / label("file_candidates_csv", "th", fy=result.fiscal_year))]
    result.files = files
    return files


def read_target_list(ws: Workspace, fiscal_year: int) -> pd.DataFrame | None:
    """The target list written by :func:`write_target_list` (the CSV), canonical columns; None if absent."""
    from .programme import read_table

    p = out_dir(ws) / target_list_names(fiscal_year)[1]
    if not p.exists():
        return None
    df = read_table(p, "targets")
    df["level"] = df["level"].map(lambda v: canonical_value("level", v))
    df["village_code"] = df["village_code"].map(lambda v: clean_code(v, 8))
    return df[df["village_code"].notna()].reset_index(drop=True)


__all__ = [
    "SelectionResult", "candidate_table", "pick_targets", "rank_candidates", "select", "write_target_list",
    "read_target_list", "target_list", "village_facts", "facts_from_frames", "selection_rules", "decided_by",
    "workspace_districts", "default_fiscal_year",
]
