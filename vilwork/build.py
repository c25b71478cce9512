"""Stage 3 — building information together (ร่วมกันจัดทำสารสนเทศ).

The village's data classified by category (categories.yaml) with its กชช. 2ค levels, household
accounts, the community-capital inventory, one chart per model area (issue_areas.yaml) with a
one-line takeaway, and the village map's layers (boundary and important places).

Missing inputs (no accounts, no capital, no กชช. 2ค, no places, no boundary) are normal for many
villages: the functions return empty frames with a note saying what is missing, never raise.

:func:`classified` returns canonical columns (show it with :func:`display`); the results a
notebook shows as they are (:func:`accounts_summary`, :func:`capital_inventory`,
:func:`places_table`) come display-ready in the village's language unless ``raw=True``.
Nothing here writes files.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import yaml
from plotly.subplots import make_subplots

from . import charts
from .errors import DefinitionError, InputError
from .i18n import format_baht, format_date, format_int, format_pct, t
from .log import get_logger
from .needs import (
    _clean,
    _fold,
    _note,
    _official_rows,
    _parse_time,
    display,
    legend_below,
)
from .registry import capital_kinds, definitions_dir, issue_areas, kchch2k_set
from .village import Village

log = get_logger(__name__)

__all__ = [
    "AccountsSummary",
    "CapitalInventory",
    "accounts_summary",
    "area_charts",
    "capital_inventory",
    "category_charts",
    "classified",
    "display",
    "places_table",
    "village_geo",
]

# =============================================================================================
# shared pieces
# =============================================================================================


@lru_cache(maxsize=None)
def _categories() -> tuple[dict, ...]:
    """The information categories of process 3 (categories.yaml)."""
    path = definitions_dir() / "categories.yaml"
    try:
        with open(path, encoding="utf-8") as f:
            return tuple((yaml.safe_load(f) or {}).get("categories") or [])
    except (OSError, yaml.YAMLError) as e:
        raise DefinitionError(f"definition file {path} is missing or not valid YAML: {e}") from None


def _name(d: dict, lang: str) -> str:
    return d["name_en"] if lang == "en" else d["name_th"]


def _bmn_rows(v: Village) -> pd.DataFrame:
    """This year's official-unit indicator rows of the village and its tambon (member rows only
    where a village has no records), with integer indicator numbers."""
    df = v.indicators
    if df.empty:
        return df
    df = df[(df["year"] == v.year) & df["indicator"].notna() & df["level"].isin(["village", "tambon"])].copy()
    df["indicator"] = df["indicator"].astype(int)
    return _official_rows(df)


def _rate_table(v: Village, indicators) -> pd.DataFrame:
    """indicator, name, unit, surveyed, failed, pass_rate, tambon_pass_rate for ``indicators``."""
    rows = _bmn_rows(v)
    vil = rows[rows["level"] == "village"].set_index("indicator") if not rows.empty else pd.DataFrame()
    tam = rows[rows["level"] == "tambon"].set_index("indicator") if not rows.empty else pd.DataFrame()
    s = v.indicator_set
    out = []
    for i in indicators:
        i = int(i)
        r = vil.loc[i] if i in vil.index else None
        tr = tam.loc[i] if i in tam.index else None
        out.append({
            "indicator": i,
            "name": s.indicator_name(i, v.lang, short=True) if i in s.indicators.index else str(i),
            "unit": r["unit"] if r is not None else None,
            "surveyed": r["surveyed"] if r is not None else np.nan,
            "failed": r["failed"] if r is not None else np.nan,
            "pass_rate": r["pass_rate"] if r is not None else np.nan,
            "tambon_pass_rate": tr["pass_rate"] if tr is not None else np.nan,
        })
    out = pd.DataFrame(out, columns=["indicator", "name", "unit", "surveyed", "failed", "pass_rate", "tambon_pass_rate"])
    if v.audience == "public" and not out.empty:  # a rate that gives away a small cell is not shown (PDPA)
        from . import disclosure

        k = disclosure.small_cell_threshold()
        keep = [disclosure.share_state(s, x, k) == "show" for s, x in zip(out["surveyed"], out["failed"])]
        out["pass_rate"] = out["pass_rate"].where(pd.Series(keep, index=out.index))
    return out


def _empty_fig(text: str) -> go.Figure:
    return charts.style(go.Figure(), text)


# =============================================================================================
# information classified by category
# =============================================================================================

_CLASSIFIED_COLUMNS = ["category_key", "category", "source_key", "source", "indicator", "name", "unit", "surveyed",
                       "failed", "pass_rate", "tambon_pass_rate", "aspect", "level", "level_name"]


def _village_rows(v: Village, name: str) -> pd.DataFrame:
    """The rows of processed table ``name`` whose ``village_code`` (else the first 8 characters
    of ``house_code``) is the village's, compared as text as the callers did in pandas; filtered
    by DuckDB, so a national table is not read whole on every call. All columns; no rows when
    the table has neither column."""
    cols = v.read(name, "false").columns  # the schema only
    if "village_code" in cols:
        return v.read(name, "CAST(village_code AS VARCHAR) = ?", [v.code])
    if "house_code" in cols:
        return v.read(name, "substr(CAST(house_code AS VARCHAR), 1, 8) = ?", [v.code])
    return v.read(name, "false")


def _kchch_levels(v: Village) -> tuple[pd.DataFrame, int | None]:
    """The village's กชช. 2ค indicator levels (indicator, level) in the latest data year up to the
    survey year, and that year; empty and None when there are none."""
    empty = pd.DataFrame(columns=["indicator", "level"])
    if not v.has("kchch2k.parquet"):
        return empty, None
    df = _village_rows(v, "kchch2k.parquet")
    if df.empty or "village_code" not in df.columns or "year" not in df.columns:
        return empty, None
    df = df[df["village_code"].astype(str) == v.code].copy()
    df["year"] = pd.to_numeric(df["year"], errors="coerce")
    df = df[df["year"] <= v.year]
    if df.empty:
        return empty, None
    year = int(df["year"].max())
    df = df[df["year"] == year]
    if {"indicator", "level"} <= set(df.columns):
        long = df[["indicator", "level"]].copy()
    else:
        kcols = [c for c in df.columns if len(c) > 1 and c[0] == "k" and c[1:].isdigit()]
        long = df.melt(value_vars=kcols, var_name="indicator", value_name="level")[["indicator", "level"]]
    long["indicator"] = pd.to_numeric(long["indicator"].astype(str).str.lstrip("k"), errors="coerce")
    long["level"] = pd.to_numeric(long["level"], errors="coerce")
    long = long.dropna(subset=["indicator"]).astype({"indicator": int}).drop_duplicates("indicator", keep="last")
    return long.set_index("indicator").sort_index().reset_index(), year


def _kchch_set(v: Village, year: int | None):
    try:
        return kchch2k_set(year or v.year)
    except DefinitionError:  # a data year outside every period: name the indicators by the survey year's set
        return v.kchch2k_set


def classified(v: Village) -> pd.DataFrame:
    """The village's information by category (categories.yaml).

    For each category: its จปฐ. indicators with the village's and the tambon's pass rates, and
    the กชช. 2ค indicators of its aspects with the village's problem level (1 severe, 2
    moderate, 3 none) from the latest กชช. 2ค data year up to the survey year.

    Returns
    -------
    pandas.DataFrame
        ``category, source`` (จปฐ. / กชช. 2ค), ``indicator, name, unit, surveyed, failed,
        pass_rate, tambon_pass_rate`` (จปฐ. rows), ``aspect, level, level_name`` (กชช. 2ค rows),
        plus ``category_key, source_key``. ``attrs``: ``kchch2k_year`` (None when there are no
        กชช. 2ค data) and ``note`` (which year was used, or that there are none).
    """
    L = v.lang
    levels, kyear = _kchch_levels(v)
    ks = _kchch_set(v, kyear)
    level_names = ks.levels.get("indicator_levels", {})
    lv = levels.set_index("indicator")["level"] if not levels.empty else pd.Series(dtype=float)
    rows = []
    for cat in _categories():
        rates = _rate_table(v, cat.get("bmn_indicators") or [])
        for _, r in rates.iterrows():
            rows.append({"category_key": cat["key"], "category": _name(cat, L), "source_key": "bmn",
                         "source": t("source_bmn", L), **r.to_dict(), "aspect": None, "level": np.nan, "level_name": None})
        if kyear is None:
            continue
        for a in cat.get("kchch2k_aspects") or []:
            aspect = ks.aspects.at[int(a), "name_en" if L == "en" else "name_th"] if int(a) in ks.aspects.index else str(a)
            for k in ks.indicators.index[ks.indicators["aspect"] == int(a)]:
                level = lv.get(int(k), np.nan)
                name = level_names.get(int(level), {}).get("name_en" if L == "en" else "name_th") if pd.notna(level) else None
                rows.append({"category_key": cat["key"], "category": _name(cat, L), "source_key": "kchch2k",
                             "source": t("source_kchch2k", L), "indicator": int(k),
                             "name": ks.indicators.at[int(k), "name_en" if L == "en" else "name_th"],
                             "unit": None, "surveyed": np.nan, "failed": np.nan, "pass_rate": np.nan,
                             "tambon_pass_rate": np.nan, "aspect": aspect, "level": level, "level_name": name})
    out = pd.DataFrame(rows, columns=_CLASSIFIED_COLUMNS)
    out.attrs["kchch2k_year"] = kyear
    out.attrs["audience"] = v.audience  # display() suppresses small cells for the public
    notes = []
    if v.indicators.empty or out.loc[out["source_key"] == "bmn", "pass_rate"].isna().all():
        notes.append(t("no_indicator_data", L))
    notes.append(t("classified_kchch_year", L, year=kyear) if kyear else t("kchch_missing", L))
    return _note(out, " ".join(notes))


def _level_color(level) -> str:
    """กชช. 2ค level 1/2/3 in the colours of the worst/middle/best pass-rate bands."""
    bands = charts.display()["pass_rate_bands"]
    if pd.isna(level):
        return "#bdbdbd"
    return bands[min(max(int(level), 1), len(bands)) - 1]["color"]


def category_charts(v: Village) -> dict[str, go.Figure]:
    """One figure per category: the จปฐ. pass rates (bars in the shared bands) and, below them,
    the กชช. 2ค problem levels of the category's aspects (3 = no problem), stacked so long Thai
    names fit."""
    c = classified(v)
    L = v.lang
    kyear = c.attrs.get("kchch2k_year")
    out = {}
    for cat in _categories():
        part = c[c["category_key"] == cat["key"]]
        bmn = part[(part["source_key"] == "bmn") & part["pass_rate"].notna()]
        kch = part[(part["source_key"] == "kchch2k") & part["level"].notna()]
        title = _name(cat, L)
        if bmn.empty and kch.empty:
            out[cat["key"]] = _empty_fig(f"{title}: {t('no_data', L)}")
            continue
        panels = [(t("chart_cat_bmn", L), bmn)] if not bmn.empty else []
        if not kch.empty:
            panels.append((t("chart_cat_kchch", L, year=kyear), kch))
        fig = make_subplots(rows=len(panels), cols=1, row_heights=[len(p) for _, p in panels],
                            vertical_spacing=0.12 if len(panels) > 1 else 0, subplot_titles=[x for x, _ in panels])
        for row, (_, p) in enumerate(panels, start=1):
            labels = [f"{i}. {n}" for i, n in zip(p["indicator"], p["name"])][::-1]
            if p["source_key"].iloc[0] == "bmn":
                fig.add_trace(go.Bar(y=labels, x=list(p["pass_rate"])[::-1], orientation="h", showlegend=False,
                                     marker={"color": [charts.band_color(x) for x in p["pass_rate"]][::-1]},
                                     text=[format_pct(x, 0) for x in p["pass_rate"]][::-1], textposition="auto",
                                     hovertemplate="%{y}: %{x:.1%}<extra></extra>"), row=row, col=1)
                fig.update_xaxes(tickformat=".0%", range=[0, 1.05], row=row, col=1)
            else:
                fig.add_trace(go.Bar(y=labels, x=list(p["level"])[::-1], orientation="h", showlegend=False,
                                     marker={"color": [_level_color(x) for x in p["level"]][::-1]},
                                     text=[f"{int(x)} {n}" for x, n in zip(p["level"], p["level_name"])][::-1],
                                     textposition="auto", hovertemplate="%{y}: %{x}<extra></extra>"), row=row, col=1)
                fig.update_xaxes(range=[0, 3.15], tickvals=[1, 2, 3], row=row, col=1)
        n = sum(len(p) for _, p in panels)
        out[cat["key"]] = charts.style(fig, title, height=max(300, 36 * n + 110 * len(panels)), legend=False)
    return out


# =============================================================================================
# household accounts
# =============================================================================================

#: Ledger categories → expense kind (indicator 22's parts) and savings. Exact names first (as
#: officers and ``vilwork synth`` write them), then words found inside a category; "ไม่จำเป็น" is
#: tried before "จำเป็น". A category matching nothing is kept as ``other``, never dropped.
_ACCOUNT_KINDS = {
    "savings": ("เงินออม", "ออม", "savings", "saving"),
    "unnecessary": ("รายจ่ายที่ไม่จำเป็น", "ไม่จำเป็น", "unnecessary", "exp_unnecessary"),
    "necessary": ("รายจ่ายที่จำเป็น", "จำเป็น", "necessary", "exp_necessary"),
    "production": ("รายจ่ายเพื่อการผลิต", "การผลิต", "ผลิต", "production", "exp_production"),
    "debt": ("ชำระหนี้", "หนี้", "debt", "exp_debt"),
}
_EXPENSE_KINDS = ("production", "necessary", "unnecessary", "debt")


def _account_kind(category) -> str:
    f = _fold(category)
    for kind, words in _ACCOUNT_KINDS.items():
        if f == _fold(words[0]) or f in (_fold(w) for w in words):
            return kind
    for kind, words in _ACCOUNT_KINDS.items():
        if any(_fold(w) in f for w in words):
            return kind
    return "other"


class AccountsSummary(NamedTuple):
    """Household accounts of the village: what ``show.result`` and the KM document display in
    order. ``monthly.attrs['households']`` is the number of households keeping accounts. With no
    accounts the frames are empty, the charts None and the note says which file is missing."""

    note: str
    monthly: pd.DataFrame
    monthly_chart: go.Figure | None
    by_kind: pd.DataFrame
    kind_chart: go.Figure | None


def _month_label(month: str, lang: str) -> str:
    try:
        y, m = (int(x) for x in str(month)[:7].split("-"))
    except ValueError:
        return str(month)
    return format_date(dt.date(y, m, 1), lang).split(" ", 1)[1]


def _ledger(v: Village) -> tuple[pd.DataFrame, int | None]:
    """(rows: month, category, income, expense; households keeping accounts) for the village,
    from accounts.parquet, else accounts_summary.parquet."""
    cols = ["month", "category", "income", "expense"]
    if v.has("accounts.parquet"):
        df = _village_rows(v, "accounts.parquet")
        if "village_code" in df.columns:
            df = df[df["village_code"].astype(str) == v.code]
        elif "house_code" in df.columns:
            df = df[df["house_code"].astype(str).str[:8] == v.code]
        else:
            df = df.iloc[0:0]
        if not df.empty:
            if "date" in df.columns and not pd.api.types.is_datetime64_any_dtype(df["date"]):
                parsed = {x: _parse_time(str(x))[0] for x in df["date"].dropna().unique()}
                date = pd.to_datetime(df["date"].map(parsed))
            else:
                date = pd.to_datetime(df.get("date"), errors="coerce")
            hkey = next((c for c in ("house_key", "house_code") if c in df.columns), None)
            rows = pd.DataFrame({
                "month": date.dt.strftime("%Y-%m"),
                "category": df["category"].astype(str) if "category" in df.columns else "",
                "income": pd.to_numeric(df["income"], errors="coerce") if "income" in df.columns else np.nan,
                "expense": pd.to_numeric(df["expense"], errors="coerce") if "expense" in df.columns else np.nan,
            })
            return rows, (int(df[hkey].nunique()) if hkey else None)
    if v.has("accounts_summary.parquet"):
        df = v.read("accounts_summary.parquet", "village_code = ?", [v.code])
        if not df.empty:
            hh = int(df["households"].max()) if "households" in df.columns else None
            return df.reindex(columns=cols), hh
    return pd.DataFrame(columns=cols), None


def accounts_summary(v: Village, raw: bool = False) -> AccountsSummary:
    """The village's household accounts (บัญชีครัวเรือน): income against expense by month,
    expense by kind (production, necessary, unnecessary, debt), savings, households keeping them.

    Parameters
    ----------
    v : Village
    raw : bool
        Canonical columns (``month, income, expense, savings, balance``; ``kind_key, kind,
        amount, share``) instead of the display-ready tables.

    Returns
    -------
    AccountsSummary
        ``note`` (one line of totals, or why there is nothing), ``monthly``, ``monthly_chart``,
        ``by_kind``, ``kind_chart``. Savings are the ledger's savings rows (money put aside);
        balance = income − expense − savings.
    """
    L = v.lang
    rows, households = _ledger(v)
    rows = rows.dropna(subset=["month"]) if not rows.empty else rows
    mcols = ["month", "income", "expense", "savings", "balance"]
    kcols = ["kind_key", "kind", "amount", "share"]
    if rows.empty:
        note = t("accounts_none", L, path=f"data/raw/villages/{v.code}/accounts.xlsx")
        m, k = pd.DataFrame(columns=mcols), pd.DataFrame(columns=kcols)
        return AccountsSummary(note, _note(m, note), None, _note(k, note), None)
    rows = rows.assign(kind=rows["category"].map(_account_kind), income=rows["income"].fillna(0.0),
                       expense=rows["expense"].fillna(0.0))
    saving = rows["kind"] == "savings"
    monthly = pd.DataFrame({
        "income": rows.groupby("month")["income"].sum(),
        "expense": rows[~saving].groupby("month")["expense"].sum(),
        "savings": rows[saving].groupby("month")["expense"].sum(),
    }).fillna(0.0).sort_index()
    monthly["balance"] = monthly["income"] - monthly["expense"] - monthly["savings"]
    monthly = monthly.rename_axis("month").reset_index()[mcols]
    exp = rows[~saving & (rows["expense"] > 0)]
    kinds = [k for k in (*_EXPENSE_KINDS, "other") if k in set(exp["kind"]) or k in _EXPENSE_KINDS]
    amounts = exp.groupby("kind")["expense"].sum()
    total = float(amounts.sum())
    by_kind = pd.DataFrame({
        "kind_key": kinds,
        "kind": [t(f"exp_{k}", L) for k in kinds],
        "amount": [float(amounts.get(k, 0.0)) for k in kinds],
    })
    by_kind["share"] = by_kind["amount"] / total if total else np.nan
    inc, ex, sv = (float(monthly[c].sum()) for c in ("income", "expense", "savings"))
    months = sorted(monthly["month"])
    period = _month_label(months[0], L) + (f" – {_month_label(months[-1], L)}" if len(months) > 1 else "")
    note = t("accounts_note", L, households=format_int(households) if households is not None else "–", period=period,
             income=format_baht(inc, L), expense=format_baht(ex, L), savings=format_baht(sv, L))
    monthly.attrs["households"] = households

    long = monthly.melt(id_vars="month", value_vars=["income", "expense", "savings"], var_name="measure", value_name="baht")
    long["month"] = [_month_label(x, L) for x in long["month"]]
    long["measure"] = [t(f"col_{x}", L) for x in long["measure"]]
    pal = [b["color"] for b in charts.display()["pass_rate_bands"]]
    colors = {t("col_income", L): pal[-1], t("col_expense", L): pal[0], t("col_savings", L): charts.display()["levels_palette"]["village"]}
    mfig = charts.grouped_bars(long, x="month", y="baht", series="measure", colors=colors, pct=False,
                               title=t("chart_accounts_monthly", L, households=format_int(households) if households is not None else "–"))
    mfig.update_yaxes(title=t("baht", L), tickformat=",")
    legend_below(mfig)
    kfig = charts.pie(by_kind["kind"], by_kind["amount"], title=t("chart_accounts_kinds", L)) if total else _empty_fig(t("no_data", L))
    if raw:
        return AccountsSummary(note, monthly, mfig, by_kind, kfig)
    shown_m = display(monthly.assign(month=[_month_label(x, L) for x in monthly["month"]]), L)
    shown_m.attrs["households"] = households
    return AccountsSummary(note, shown_m, mfig, display(by_kind, L), kfig)


# =============================================================================================
# community capital
# =============================================================================================


class CapitalInventory(NamedTuple):
    """The community-capital inventory: a note, the summary by kind, its chart (None when there
    is no inventory), the items."""

    note: str
    summary: pd.DataFrame
    chart: go.Figure | None
    items: pd.DataFrame


def _capital_kind(text) -> str | None:
    f = _fold(text)
    for k in capital_kinds():
        names = {k["key"], k["name_th"], k["name_en"], k["name_th"].removeprefix("ทุน"),
                 k["name_th"].removeprefix("ทุนทาง"), k["name_en"].split(" ")[0]}
        if f in {_fold(n) for n in names}:
            return k["key"]
    return None


def capital_inventory(v: Village, raw: bool = False) -> CapitalInventory:
    """The village's community capital (ทุนชุมชน) grouped by the five kinds of capital.yaml.

    Every kind is listed, an empty one with 0 items (a gap the village may want to fill); an
    entry whose kind is none of the five is kept under the kind as written, with a note.

    Returns
    -------
    CapitalInventory
        ``note``, ``summary`` (``kind, items, value_baht`` per kind), ``chart`` (items per
        kind), ``items`` (``kind, name, description, quantity, value_baht``, by kind). Display-
        ready unless ``raw``.
    """
    L = v.lang
    scols, icols = ["kind_key", "kind", "items", "value_baht"], ["kind_key", "kind", "name", "description", "quantity", "value_baht"]
    df = _village_rows(v, "capital.parquet") if v.has("capital.parquet") else pd.DataFrame()
    if not df.empty and "village_code" in df.columns:
        df = df[df["village_code"].astype(str) == v.code]
    if df.empty or "kind" not in df.columns:
        note = t("capital_none", L, path=f"data/raw/villages/{v.code}/capital.csv")
        s, i = pd.DataFrame(columns=scols), pd.DataFrame(columns=icols)
        return CapitalInventory(note, _note(s, note), None, _note(i, note))
    kinds = capital_kinds()
    order = {k["key"]: n for n, k in enumerate(kinds)}
    items = pd.DataFrame({
        "kind_key": df["kind"].map(_capital_kind),
        "kind_written": df["kind"].map(_clean),
        "name": df["name"].map(_clean) if "name" in df.columns else "",
        "description": df["description"].map(_clean) if "description" in df.columns else "",
        "quantity": pd.to_numeric(df["quantity"], errors="coerce") if "quantity" in df.columns else np.nan,
        "value_baht": pd.to_numeric(df["value_baht"], errors="coerce") if "value_baht" in df.columns else np.nan,
    }).reset_index(drop=True)
    names = {k["key"]: _name(k, L) for k in kinds}
    items["kind"] = [names[k] if isinstance(k, str) else w for k, w in zip(items["kind_key"], items["kind_written"])]
    items["kind_order"] = items["kind_key"].map(order).fillna(len(kinds))
    items = items.sort_values(["kind_order", "kind"], kind="stable").reset_index(drop=True)
    unknown = sorted(set(items.loc[items["kind_key"].isna(), "kind_written"]))
    groups = [(k["key"], names[k["key"]]) for k in kinds] + [(None, u) for u in unknown]
    summary = pd.DataFrame([{
        "kind_key": key, "kind": name,
        "items": int(len(part := items[(items["kind_key"] == key) if key else (items["kind_written"] == name) & items["kind_key"].isna()])),
        "value_baht": float(part["value_baht"].sum()) if part["value_baht"].notna().any() else np.nan,
    } for key, name in groups], columns=scols)
    total_value = summary["value_baht"].sum(min_count=1)
    note = t("capital_note", L, n=format_int(len(items)), kinds=int((summary["kind_key"].notna() & (summary["items"] > 0)).sum()), all=len(kinds),
             value=format_baht(total_value, L) if pd.notna(total_value) else "–")
    if unknown:
        note += " " + t("capital_unknown_kinds", L, kinds=", ".join(unknown))
    fig = charts.hbar(summary["kind"], summary["items"], pct=False, title=t("chart_capital", L), xtitle=t("col_items", L),
                      colors=[charts.display()["levels_palette"]["village"] if n else "#bdbdbd" for n in summary["items"]],
                      text=[f"{format_int(n)} · {format_baht(x, L)}" if pd.notna(x) else format_int(n)
                            for n, x in zip(summary["items"], summary["value_baht"])])
    fig.data[0].textposition = "outside"
    fig.update_xaxes(dtick=1 if summary["items"].max() <= 10 else None, range=[0, max(1, summary["items"].max()) * 1.6])
    items = items[icols]
    if raw:
        return CapitalInventory(note, summary, fig, items)
    return CapitalInventory(note, display(summary, L), fig, display(items, L))


# =============================================================================================
# the five model areas
# =============================================================================================


def area_charts(v: Village) -> dict[str, tuple[go.Figure, str]]:
    """For each of the five issue areas (issue_areas.yaml): the pass rates of its จปฐ.
    indicators, the village (bars in the shared colour bands) beside its tambon (◆), and a
    one-line takeaway naming the indicator to fix first (lowest pass rate, then most failing).

    Returns
    -------
    dict
        area key → (figure, takeaway).
    """
    L = v.lang
    out = {}
    for a in issue_areas():
        title = _name(a, L)
        rates = _rate_table(v, a.get("bmn_indicators") or [])
        rates = rates[rates["pass_rate"].notna()]
        if rates.empty:
            note = t("area_no_data", L, area=title)
            out[a["key"]] = (_empty_fig(note), note)
            continue
        worst = rates.sort_values(["pass_rate", "failed", "indicator"], ascending=[True, False, True]).iloc[0]
        if worst["pass_rate"] >= 1:
            takeaway = t("area_all_pass", L, area=title)
        else:
            takeaway = t("area_takeaway", L, area=title, name=f"{int(worst['indicator'])}. {worst['name']}",
                         pct=format_pct(worst["pass_rate"], 0))
        labels = [f"{i}. {n}" for i, n in zip(rates["indicator"], rates["name"])]
        fig = charts.hbar(labels, rates["pass_rate"], colors=[charts.band_color(x) for x in rates["pass_rate"]],
                          text=[format_pct(x, 0) for x in rates["pass_rate"]], title=title, xtitle=t("pass_rate_axis", L))
        fig.data[0].name = t("level_village", L)
        fig.data[0].showlegend = True
        fig.data[0].update(textposition="inside", insidetextanchor="start")  # clear of the tambon markers
        if rates["tambon_pass_rate"].notna().any():
            fig.add_trace(go.Scatter(
                y=labels[::-1], x=list(rates["tambon_pass_rate"])[::-1], mode="markers", name=t("level_tambon", L),
                marker={"symbol": "diamond", "size": 13, "color": charts.display()["levels_palette"]["tambon"],
                        "line": {"width": 1, "color": "#1a1a1a"}},
                hovertemplate=t("level_tambon", L) + " %{y}: %{x:.1%}<extra></extra>"))
        out[a["key"]] = (charts.check_traces(legend_below(fig)), takeaway)
    return out


# =============================================================================================
# map layers
# =============================================================================================

_CODE_COLUMNS = ("village_code", "village_id", "vill_code", "รหัสหมู่บ้าน")


def _empty_gdf(columns, note: str):
    import geopandas as gpd

    g = gpd.GeoDataFrame({c: pd.Series(dtype=str) for c in columns}, geometry=gpd.GeoSeries([], crs="EPSG:4326"),
                         crs="EPSG:4326")
    g.attrs["note"] = note
    return g


def _read_geo(path):
    import geopandas as gpd

    try:
        g = gpd.read_file(path, engine="pyogrio")
    except Exception as e:  # pyogrio's errors carry GDAL's message: name the file with it
        raise InputError(f"cannot be read as GeoJSON: {e}", str(path)) from None
    if g.crs is None:
        g = g.set_crs("EPSG:4326")
    elif g.crs.to_epsg() != 4326:
        g = g.to_crs("EPSG:4326")
    return g


def _codes(series: pd.Series) -> pd.Series:
    """Village codes as 8-character strings (a numeric property loses no leading zeros here)."""
    if pd.api.types.is_numeric_dtype(series):
        return series.map(lambda x: "" if pd.isna(x) else str(int(x)).zfill(8))
    return series.astype(str).map(_clean)


@lru_cache(maxsize=4)
def _boundary_file(path: str, size: int, mtime_ns: int):
    """A boundary file read once per process while unchanged (by size and time), with its
    village-code column and the codes normalised: a batch worker reads a national file (hundreds
    of MB) once, not twice for every village. Callers select rows; they never change the frame."""
    g = _read_geo(path)
    col = next((c for c in g.columns if _fold(c) in {_fold(x) for x in _CODE_COLUMNS}), None)
    return g, col, (_codes(g[col]) if col is not None else None)


def village_geo(v: Village):
    """The village's map layers as GeoDataFrames in EPSG:4326.

    Returns
    -------
    boundary : geopandas.GeoDataFrame
        Features of ``data/raw/geo/*.geojson`` whose ``village_code`` is the village's
        (``village_code, name_th, geometry``).
    places : geopandas.GeoDataFrame
        ``data/raw/villages/<code>/places.geojson`` (``name_th, kind, detail_th, geometry``).

    Either is empty with ``attrs['note']`` saying what is missing.

    Raises
    ------
    InputError
        When a file exists but is not readable GeoJSON.
    """
    L = v.lang
    geo_dir = v.ws.raw / "geo"
    files = sorted(geo_dir.glob("*.geojson")) if geo_dir.exists() else []
    boundary = None
    for p in files:
        st = p.stat()
        g, col, codes = _boundary_file(str(p), st.st_size, st.st_mtime_ns)
        if col is None:
            continue
        hit = g[codes == v.code]
        if not hit.empty:
            hit = hit.rename(columns={col: "village_code"}).assign(village_code=v.code)
            keep = [c for c in ("village_code", "name_th", "name_en") if c in hit.columns]
            boundary = hit[[*keep, "geometry"]].reset_index(drop=True)
            boundary.attrs["note"] = ""
            break
    if boundary is None:
        boundary = _empty_gdf(["village_code", "name_th"], t("boundary_none", L, code=v.code))
    p = v.raw_dir / "places.geojson"
    if p.exists():
        places = _read_geo(p)
        for c in ("name_th", "kind", "detail_th"):
            if c not in places.columns:
                places[c] = ""
        places = places[["name_th", "kind", "detail_th", "geometry"]].reset_index(drop=True)
        places.attrs["note"] = "" if not places.empty else t("places_none", L, path=f"data/raw/villages/{v.code}/places.geojson")
    else:
        places = _empty_gdf(["name_th", "kind", "detail_th"], t("places_none", L, path=f"data/raw/villages/{v.code}/places.geojson"))
    return boundary, places


def places_table(v: Village, raw: bool = False) -> pd.DataFrame:
    """The village's important places: ``name, kind, detail, lat, lon`` (display-ready unless
    ``raw``); empty with a note when the village has no places.geojson."""
    _, places = village_geo(v)
    cols = ["name", "kind", "detail", "lat", "lon"]
    if places.empty:
        out = _note(pd.DataFrame(columns=cols), places.attrs.get("note", ""))
    else:
        pts = places.geometry.representative_point()
        out = pd.DataFrame({"name": places["name_th"].map(_clean), "kind": places["kind"].map(_clean),
                            "detail": places["detail_th"].map(_clean), "lat": pts.y.values, "lon": pts.x.values})
    return out if raw else display(out, v.lang)

