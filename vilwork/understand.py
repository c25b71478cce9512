"""Stage 1 — shared understanding of the village's data (สร้างความเข้าใจร่วมกัน).

Which data the village has, what they say (every indicator beside the tambon, district and
province; failing indicators; poverty; กชช. 2ค level; population; income) and what the data are
used for.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import yaml

from . import charts, disclosure
from .i18n import format_baht, format_int, format_pct, t
from .registry import definitions_dir, poverty_dimensions, threshold
from .village import LEVELS, Village

_RAW_SOURCES = (
    # (label key, processed name or raw glob, kind)
    ("src_bmn_households", "households", "processed"),
    ("src_bmn_persons", "persons", "processed"),
    ("src_aggregates", "aggregates", "processed"),
    ("src_kchch2k", "kchch2k.parquet", "processed"),
    ("src_accounts", "accounts.parquet", "processed"),
    ("src_capital", "capital.parquet", "processed"),
    ("src_places", "places.geojson", "village"),
    ("src_votes", "votes.csv", "village"),
    ("src_profile", "profile.yaml", "village"),
    ("src_photos", "photos", "village"),
)


def _rows(v: Village, name: str) -> tuple[int, list[int]]:
    """Rows of this village in a processed table, and the years they cover."""
    if not v.has(name):
        return 0, []
    df = v.read(name, "village_code = ?", [v.code])
    if df.empty:
        return 0, []
    years = sorted(int(y) for y in df["year"].dropna().unique()) if "year" in df.columns else []
    return len(df), years


def data_inventory(v: Village) -> pd.DataFrame:
    """Which data the village has: source, present, years, records, completeness note."""
    out = []
    for key, name, kind in _RAW_SOURCES:
        if kind == "processed":
            n, years = _rows(v, name)
            present = n > 0
            note = ""
            if name == "households" and present:
                hh = v.households
                answered = hh.filter(like="q").notna().mean().mean() if not hh.empty else np.nan
                note = t("inv_complete", v.lang, pct=format_pct(answered))
        else:
            p = v.raw_dir / name
            if name == "photos":
                files = sorted(x for x in p.glob("*") if x.suffix.lower() in {".jpg", ".jpeg", ".png"}) if p.exists() else []
                n, present, years, note = len(files), bool(files), [], ""
            else:
                present, n, years, note = p.exists(), (1 if p.exists() else 0), [], ""
        out.append({
            t("col_source", v.lang): t(key, v.lang),
            t("col_present", v.lang): "✓" if present else "✗ " + t("missing", v.lang),
            t("col_years", v.lang): ", ".join(map(str, years)) if years else "–",
            t("col_records", v.lang): format_int(n) if present else "–",
            t("col_note", v.lang): note,
        })
    return pd.DataFrame(out)


def _unit_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Official-unit rows where records exist, else the platform's member rows."""
    off = df[df["unit"].isin(["person", "household"])]
    mem = df[df["unit"] == "member"]
    keys = ["year", "level", "code", "indicator"]
    if off.empty:
        return mem
    rest = mem.merge(off[keys].drop_duplicates(), on=keys, how="left", indicator=True)
    rest = rest[rest["_merge"] == "left_only"].drop(columns="_merge")
    return pd.concat([off, rest], ignore_index=True)


def indicator_comparison(v: Village, year: int | None = None) -> pd.DataFrame:
    """Every indicator's pass rate: the village beside its tambon, district and province.

    Columns: indicator, group, name, unit, surveyed, failed, and one pass-rate column per level
    (``village``, ``tambon``, ``district``, ``province``). Counts are the village's.
    """
    year = year or v.year
    df = v.indicators
    df = df[(df["year"] == year) & df["indicator"].notna()]
    df = _unit_rows(df)
    if df.empty:
        return pd.DataFrame()
    wide = df.pivot_table(index="indicator", columns="level", values="pass_rate", aggfunc="first")
    vil = df[df["level"] == "village"].set_index("indicator")
    s = v.indicator_set
    out = pd.DataFrame({
        "indicator": s.indicators.index.astype(int),
        "group": s.indicators["group"].astype(int).values,
        "name": [s.indicator_name(i, v.lang, short=True) for i in s.indicators.index],
    }).set_index("indicator", drop=False)
    out["unit"] = vil["unit"].reindex(out.index)
    out["surveyed"] = vil["surveyed"].reindex(out.index)
    out["failed"] = vil["failed"].reindex(out.index)
    for level in LEVELS:
        out[level] = wide[level].reindex(out.index) if level in wide.columns else np.nan
    return out.reset_index(drop=True)


def display_indicators(v: Village, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """``indicator_comparison`` with labelled columns and formatted numbers, for tables."""
    f = indicator_comparison(v) if frame is None else frame
    if f.empty:
        return f
    L = v.lang
    surveyed = [format_int(x) for x in f["surveyed"]]
    failed = [format_int(x) for x in f["failed"]]
    village = [format_pct(x) for x in f["village"]]
    if v.audience == "public":  # small cells and the rates that would give them away (PDPA)
        shown = disclosure.protect_pairs(f, "surveyed", "failed", disclosure.small_cell_threshold(),
                                         rates={"village": True}, count_fmt=format_int)
        surveyed, failed, village = shown["surveyed"].tolist(), shown["failed"].tolist(), shown["village"].tolist()
    return pd.DataFrame({
        t("col_indicator", L): f["indicator"].astype(int),
        t("col_name", L): f["name"],
        t("col_unit", L): [t(f"unit_{u}", L) if isinstance(u, str) else "–" for u in f["unit"]],
        t("col_surveyed", L): surveyed,
        t("col_failed", L): failed,
        t("level_village", L): village,
        t("level_tambon", L): [format_pct(x) for x in f["tambon"]],
        t("level_district", L): [format_pct(x) for x in f["district"]],
        t("level_province", L): [format_pct(x) for x in f["province"]],
    })


def group_comparison(v: Village) -> pd.DataFrame:
    """Per indicator group: the share of households passing all of the group's indicators, by level.

    Falls back to the mean of the group's indicator pass rates where group rows are missing
    (villages known only from platform aggregates).
    """
    df = v.indicators
    df = df[(df["year"] == v.year)]
    rows = []
    s = v.indicator_set
    for g in s.groups.index:
        row = {"group": int(g), "name": s.group_name(g, v.lang)}
        for level in LEVELS:
            part = df[(df["level"] == level) & df["indicator"].isna() & (df["group"] == g) & (df["unit"] == "household")]
            if not part.empty:
                row[level] = float(part["pass_rate"].iloc[0])
            else:
                ind = _unit_rows(df[(df["level"] == level) & df["indicator"].notna() & (df["group"] == g)])
                row[level] = float(ind["pass_rate"].mean()) if not ind.empty else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def group_chart(v: Village) -> go.Figure:
    """Grouped bars: each indicator group, the village beside its tambon, district and province."""
    g = group_comparison(v)
    long = g.melt(id_vars=["group", "name"], value_vars=list(LEVELS), var_name="level", value_name="rate")
    long["level"] = [t(f"level_{x}", v.lang) for x in long["level"]]
    pal = charts.display()["levels_palette"]
    colors = {t(f"level_{k}", v.lang): c for k, c in pal.items()}
    return charts.grouped_bars(long, x="name", y="rate", series="level", colors=colors, title=t("chart_groups", v.lang))


def indicator_chart(v: Village, group: int | None = None) -> go.Figure:
    """Horizontal bars of the village's pass rate per indicator, coloured by the shared bands."""
    f = indicator_comparison(v).dropna(subset=["village"])
    if group is not None:
        f = f[f["group"] == group]
    labels = [f"{i}. {n}" for i, n in zip(f["indicator"], f["name"])]
    title = t("chart_indicators", v.lang) if group is None else v.indicator_set.group_name(group, v.lang)
    if v.audience == "public":  # a rate that would give away a small cell is left out (PDPA)
        f = f.assign(village=f["village"].where(_shown_rows(f)))
    return charts.hbar(labels, f["village"], colors=[charts.band_color(x) for x in f["village"]],
                       text=[format_pct(x, 0) for x in f["village"]], title=title)


def _shown_rows(f: pd.DataFrame) -> pd.Series:
    """Rows whose surveyed/failed pair may be shown exactly to the public (no small cell)."""
    k = disclosure.small_cell_threshold()
    return pd.Series([disclosure.share_state(s, x, k) == "show" for s, x in zip(f["surveyed"], f["failed"])],
                     index=f.index, dtype=bool)


def failing_ranked(v: Village, top: int | None = 10) -> pd.DataFrame:
    """Indicators that do not fully pass, worst first (share failing, then number failing)."""
    f = indicator_comparison(v)
    f = f[f["village"].notna() & (f["village"] < 1.0)].copy()
    f["share_failing"] = 1 - f["village"]
    # a share over a handful of people (3 infants) is not the village's biggest problem:
    # rates on fewer than min_denominator people or households rank after the others
    f["reliable"] = f["surveyed"].fillna(0) >= charts.display().get("min_denominator", 10)
    if v.audience == "public":  # public charts, slides and cards: only rates that hide no small cell
        f = f[_shown_rows(f)]
    f = f.sort_values(["reliable", "share_failing", "failed"], ascending=[False, False, False])
    return f.head(top) if top else f


def failing_chart(v: Village, top: int = 10) -> go.Figure:
    f = failing_ranked(v, top)
    labels = [f"{i}. {n}" for i, n in zip(f["indicator"], f["name"])]
    return charts.hbar(labels, f["share_failing"], colors=[charts.band_color(x) for x in f["village"]],
                       text=[format_pct(x, 0) for x in f["share_failing"]], title=t("chart_failing", v.lang),
                       xtitle=t("share_failing", v.lang))


def poverty_summary(v: Village) -> pd.DataFrame:
    """TPMAP poverty: share of people poor in each dimension and overall (union), by level."""
    p = v.poverty
    if p.empty:
        return pd.DataFrame()
    p = p[p["year"] == v.year]
    names = {d.key: d.name(v.lang) for d in poverty_dimensions()}
    names["any"] = t("poverty_any", v.lang)
    wide = p.pivot_table(index="dimension", columns="level", values="share", aggfunc="first")
    vil = p[p["level"] == "village"].set_index("dimension")
    order = [*names]
    out = pd.DataFrame({"dimension": order, "name": [names[k] for k in order]}).set_index("dimension", drop=False)
    out["persons"] = vil["persons"].reindex(out.index)
    out["poor"] = vil["poor"].reindex(out.index)
    if "target_poor" in vil.columns:
        out["target_poor"] = vil["target_poor"].reindex(out.index)
    for level in LEVELS:
        out[level] = wide[level].reindex(out.index) if level in wide.columns else np.nan
    return out.reset_index(drop=True)


def poverty_chart(v: Village) -> go.Figure:
    p = poverty_summary(v)
    if p.empty:
        return charts.style(go.Figure(), t("no_data", v.lang))
    if v.audience == "public":  # a share that would give away 1..k poor people is left out (PDPA)
        k = disclosure.small_cell_threshold()
        p = p.assign(village=[x if disclosure.share_state(n, q, k) == "show" else np.nan
                              for x, n, q in zip(p["village"], p["persons"], p["poor"])])
    long = p.melt(id_vars=["dimension", "name"], value_vars=list(LEVELS), var_name="level", value_name="share")
    long["level"] = [t(f"level_{x}", v.lang) for x in long["level"]]
    pal = charts.display()["levels_palette"]
    colors = {t(f"level_{k}", v.lang): c for k, c in pal.items()}
    fig = charts.grouped_bars(long, x="name", y="share", series="level", colors=colors, title=t("chart_poverty", v.lang))
    fig.update_yaxes(range=None)
    return fig


def alkire_foster_summary(v: Village) -> pd.DataFrame:
    """Alkire–Foster for the village's households: H, A, M0, M1, M2 and dimension contributions."""
    from .poverty import village_alkire_foster

    try:
        r = village_alkire_foster(v.ws, v.code, v.year)
    except Exception as e:  # no household records (aggregates only): say so, don't fail the stage
        return pd.DataFrame({t("col_measure", v.lang): [t("af_unavailable", v.lang)], t("col_value", v.lang): [str(e)]})
    k = disclosure.small_cell_threshold()
    hidden = v.audience == "public" and disclosure.share_state(r.n, r.q, k) != "show"
    # with 1..k poor households, H would give their number and A, M0–M2 and the contributions
    # describe those few households: the public sees a bound for H and nothing of the rest
    h = disclosure.share_text(r.n, r.q, k, format_pct) if hidden else format_pct(r.H)
    x = (lambda s: disclosure.COMPLEMENT) if hidden else (lambda s: s)  # noqa: E731
    rows = [
        (t("af_H", v.lang), h),
        (t("af_A", v.lang), x(format_pct(r.A))),
        (t("af_M0", v.lang), x(f"{r.M0:.3f}")),
        (t("af_M1", v.lang), x(f"{r.M1:.3f}")),
        (t("af_M2", v.lang), x(f"{r.M2:.3f}")),
    ]
    names = {d.key: d.name(v.lang) for d in poverty_dimensions()}
    for dim, share in r.contributions.items():
        rows.append((t("af_contribution", v.lang, dim=names.get(dim, dim)), x(format_pct(share))))
    return pd.DataFrame(rows, columns=[t("col_measure", v.lang), t("col_value", v.lang)])


def kchch2k_status(v: Village) -> dict:
    """The village's กชช. 2ค class in the latest data year up to the survey year, with counts."""
    lv = v.read("kchch2k_levels.parquet", "village_code = ? AND year <= ?", [v.code, v.year])
    if lv.empty:
        return {"available": False, "text": t("kchch_missing", v.lang)}
    r = lv.sort_values("year").iloc[-1]
    cls = int(r["class"])
    name = v.kchch2k_set.class_name(cls, v.lang)
    return {
        "available": True, "year": int(r["year"]), "class": cls, "name": name,
        "severe": int(r["n_severe"]), "moderate": int(r["n_moderate"]), "none": int(r["n_none"]),
        "text": t("kchch_text", v.lang, year=int(r["year"]), cls=cls, name=name,
                  severe=int(r["n_severe"]), moderate=int(r["n_moderate"]), none=int(r["n_none"])),
    }


_NOTE_MARGIN = 112


def _hidden_note(fig: go.Figure, k: int, lang: str) -> go.Figure:
    """Say under a chart what its hatched bars mean (public audience)."""
    fig.add_annotation(text=t("chart_hidden_note", lang, small=disclosure.small_label(k), k=k), showarrow=False,
                       xref="paper", yref="paper", x=0, xanchor="left", y=0, yanchor="bottom", yshift=-_NOTE_MARGIN + 4,
                       font={"size": 13, "color": "#444444"}, align="left")
    fig.update_layout(margin={"b": _NOTE_MARGIN})  # the note on the last line, under the axis title
    return fig


def _bar_marks(hidden: list[bool]) -> dict:
    """Hatched bars for hidden counts (drawn at the threshold's bound, not at their value)."""
    return {"shape": ["/" if h else "" for h in hidden], "solidity": 0.35}


def population_pyramid(v: Village, band: int = 10) -> go.Figure:
    """Population by age band and sex (bars left for men, right for women).

    For the public audience the top age band joins the one below while it holds 1..k
    (``small_cell_threshold``) men or women ("70+"); any other bar of 1..k people is drawn hatched
    at k + 1 and labelled ``<5``; the bars add up to the persons in the title, so when only one
    bar would be hidden the smallest other one is hidden too (``*``), as in every public table.
    """
    p = v.persons
    if p.empty:
        return charts.style(go.Figure(), t("no_records", v.lang))
    bins = list(range(0, 90, band)) + [200]
    labels = [f"{a}–{b - 1}" for a, b in zip(bins[:-2], bins[1:-1])] + [f"{bins[-2]}+"]
    age = pd.cut(p["age_years"], bins=bins, right=False, labels=labels)
    counts = pd.crosstab(age, p["sex"]).reindex(labels, fill_value=0)
    male = counts.get("ชาย", counts.get("male", pd.Series(0, index=labels)))
    female = counts.get("หญิง", counts.get("female", pd.Series(0, index=labels)))
    male, female = [int(x) for x in male], [int(x) for x in female]
    k = disclosure.small_cell_threshold()
    public = v.audience == "public"
    while public and len(labels) > 1 and (disclosure.is_small(male[-1], k) or disclosure.is_small(female[-1], k)):
        # few of the oldest: the top band joins the one below ("70+") rather than being hidden
        labels = labels[:-2] + [labels[-2].split("–")[0] + "+"]
        male, female = male[:-2] + [male[-2] + male[-1]], female[:-2] + [female[-2] + female[-1]]
    values = [*male, *female]
    hidden = disclosure.suppress_lines(values, k, [range(len(values))]) if public else [False] * len(values)
    text = disclosure.hidden_text(values, hidden, k, format_int)
    drawn = [k + 1 if h else x for x, h in zip(values, hidden)]
    n = len(labels)
    traces = []
    for sex, sign, color, part in (("male", -1, "#1f77b4", slice(0, n)), ("female", 1, "#e377c2", slice(n, 2 * n))):
        hid = hidden[part]
        traces.append(go.Bar(
            y=labels, x=[sign * x for x in drawn[part]], orientation="h", name=t(sex, v.lang),
            marker={"color": color, "pattern": _bar_marks(hid)}, customdata=text[part],
            text=[s if h else "" for s, h in zip(text[part], hid)], textposition="outside",
            hovertemplate="%{y}: %{customdata}<extra></extra>"))
    fig = go.Figure(traces)
    m = int(max(max(drawn), 1))
    # a round step (1, 2, 5, 10, 20, 50…) giving about three ticks a side, reaching the longest bar
    step = next(b * 10 ** e for e in range(7) for b in (1, 2, 5) if b * 10 ** e >= m / 3)
    reach = -(-m // step) * step
    ticks = list(range(-reach, reach + 1, step))
    fig.update_layout(barmode="relative", bargap=0.05)
    fig.update_xaxes(tickvals=ticks, ticktext=[str(abs(x)) for x in ticks], title=t("persons", v.lang))
    fig = charts.style(fig, t("chart_pyramid", v.lang, n=format_int(len(p))))
    return _hidden_note(fig, k, v.lang) if any(hidden) else fig


def income_vs_threshold(v: Village) -> tuple[go.Figure, dict]:
    """Income per household member per year against the indicator-22 threshold.

    Returns the figure (households by income band, bands below the threshold in red) and facts:
    threshold, households, households below (``below``; ``below_text`` as it may be published),
    median income per member. For the public audience the top band joins the one below while it
    holds 1..k households (never across the threshold); any other band of 1..k is drawn hatched
    at k + 1 and labelled ``<5``, with a complement (``*``) where the bars would give it away
    (all bars add up to the households in the title; the bands start on the threshold, so the red
    bars add up to the households below it); ``below_text`` is a bound when 1..k households are
    below the threshold or 1..k are not.
    """
    hh = v.households
    thr = threshold(v.year)
    if hh.empty or "income_per_member" not in hh.columns:
        return charts.style(go.Figure(), t("no_records", v.lang)), {"threshold": thr}
    x = hh["income_per_member"].dropna()
    step = 10_000
    # band edges on the threshold (…, 28k, 38k, 48k, … for 38,000): every band is wholly below or
    # above it, so the red bars are exactly the households below, as the chart's takeaway says
    offset = int(thr) % step
    top = int(min(x.quantile(0.98), 400_000) // step + 1) * step + offset
    edges = ([0] if offset else []) + list(range(offset, top + step, step))
    cats = pd.cut(x.clip(upper=top - 1), bins=edges, right=False)
    counts = cats.value_counts(sort=False)
    lows = [int(iv.left) for iv in counts.index]
    labels = [f"{lo / 1000:g}k" for lo in lows]
    colors = ["#c0392b" if lo + step <= thr else ("#e67e22" if lo < thr else "#27ae60") for lo in lows]
    values = [int(c) for c in counts.values]
    below = int((x < thr).sum())
    k = disclosure.small_cell_threshold()
    public = v.audience == "public"
    while public and len(values) > 1 and disclosure.is_small(values[-1], k) and lows[-2] >= thr:
        # the few richest households: the top band joins the one below ("170k+") rather than being hidden
        values, lows, colors = values[:-2] + [values[-2] + values[-1]], lows[:-1], colors[:-1]
    labels = [f"{lo / 1000:g}k" for lo in lows]
    if len(lows) < len(counts):
        labels[-1] += "+"
    hidden = [False] * len(values)
    if public:
        lines = [range(len(values))]
        if not any(lo < thr < lo + step for lo in lows):  # the threshold on an edge: "below" is a sum of bars
            red = [i for i, lo in enumerate(lows) if lo + step <= thr]
            lines += [red, [i for i in range(len(values)) if i not in red]]
        hidden = disclosure.suppress_lines(values, k, lines)
    text = disclosure.hidden_text(values, hidden, k, format_int)
    fig = go.Figure(go.Bar(x=labels, y=[k + 1 if h else c for c, h in zip(values, hidden)],
                           marker={"color": colors, "pattern": _bar_marks(hidden)}, customdata=text,
                           text=[s if h else "" for s, h in zip(text, hidden)], textposition="outside",
                           hovertemplate="%{x}: %{customdata}<extra></extra>"))
    fig.update_xaxes(title=t("income_axis", v.lang))
    fig.update_yaxes(title=t("households", v.lang))
    below_text = disclosure.count_text(len(x), below, k, format_int) if public else format_int(below)
    facts = {"threshold": thr, "households": int(len(x)), "below": below, "below_text": below_text,
             "median": float(x.median())}
    title = t("chart_income", v.lang, thr=format_baht(thr, v.lang), below=below_text, n=format_int(len(x)))
    fig = charts.style(fig, title, legend=False)
    return (_hidden_note(fig, k, v.lang) if any(hidden) else fig), facts


@lru_cache(maxsize=None)
def _uses() -> list[dict]:
    with open(definitions_dir() / "uses.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)["uses"]


def data_uses(lang: str = "th") -> list[str]:
    """What the village uses its data for (uses.yaml)."""
    return [u["en" if lang == "en" else "th"] for u in _uses()]


#: a change in pass rate smaller than this (half a percentage point) counts as unchanged
TREND_EPS = 0.005


def trend(v: Village) -> pd.DataFrame:
    """Indicator by indicator: this year against the previous survey year (better/worse/unchanged)."""
    df = _unit_rows(v.indicators[(v.indicators["level"] == "village") & v.indicators["indicator"].notna()])
    years = sorted(int(y) for y in df["year"].unique() if y <= v.year)
    if len(years) < 2:
        return pd.DataFrame()
    prev, cur = years[-2], years[-1]
    a = df[df["year"] == prev].set_index("indicator")["pass_rate"]
    b = df[df["year"] == cur].set_index("indicator")["pass_rate"]
    if v.audience == "public":  # rates that would give away a small cell are not compared (PDPA)
        a = a.where(_shown_rows(df[df["year"] == prev].set_index("indicator")))
        b = b.where(_shown_rows(df[df["year"] == cur].set_index("indicator")))
    idx = sorted(set(a.index) | set(b.index))
    out = pd.DataFrame({"indicator": [int(i) for i in idx]})
    out["name"] = [v.indicator_set.indicator_name(i, v.lang, short=True) for i in out["indicator"]]
    out["before"] = a.reindex(idx).values
    out["after"] = b.reindex(idx).values
    out["change"] = out["after"] - out["before"]
    out["direction"] = np.select(
        [out["change"] > TREND_EPS, out["change"] < -TREND_EPS, out["change"].notna()],
        [t("better", v.lang), t("worse", v.lang), t("unchanged", v.lang)], default="–")
    out.attrs.update(previous=prev, current=cur)
    return out


def trend_changes(v: Village, top: int = 3) -> pd.DataFrame:
    """The indicators that moved most since the previous survey: up to ``top`` that got better
    (largest rise first) then up to ``top`` that got worse (largest fall first); changes smaller
    than half a percentage point, and rates hidden from the public, are left out."""
    tr = v.once(trend)
    if tr.empty:
        return tr
    moved = tr[tr["change"].notna()]
    up = moved[moved["change"] > TREND_EPS].sort_values(["change", "indicator"], ascending=[False, True]).head(top)
    down = moved[moved["change"] < -TREND_EPS].sort_values(["change", "indicator"]).head(top)
    out = pd.concat([up, down], ignore_index=True)
    out.attrs.update(tr.attrs)
    return out


def trend_chart(v: Village, top: int = 3, changes: pd.DataFrame | None = None) -> go.Figure | None:
    """Bars of the biggest changes since the previous survey, in percentage points: rises in the
    passing colour on top, falls in the failing colour below (None when nothing moved).
    ``changes`` is :func:`trend_changes` when the caller already has it."""
    ch = trend_changes(v, top) if changes is None else changes
    if ch.empty:
        return None
    L = v.lang
    pts = 100 * ch["change"].to_numpy(dtype=float)
    labels = [f"{i}. {n}" for i, n in zip(ch["indicator"], ch["name"])]
    colors = [charts.band_color(1.0) if x > 0 else charts.band_color(0.0) for x in pts]
    text = [t("points", L, n=f"{x:+.0f}".replace("-", "−")) for x in pts]
    fig = charts.hbar(labels, pts, colors=colors, text=text, pct=False,
                      title=t("chart_trend", L, prev=ch.attrs["previous"], cur=ch.attrs["current"]),
                      xtitle=t("trend_axis", L))
    fig.update_traces(textposition="outside", cliponaxis=False,
                      hovertemplate="%{y}: %{x:+.1f}<extra></extra>")
    span = max(5.0, float(np.abs(pts).max()) * 1.35)
    return fig.update_xaxes(range=[-span if (pts < 0).any() else 0, span if (pts > 0).any() else 0],
                            zeroline=True, zerolinecolor="#333", zerolinewidth=2)


def key_facts(v: Village) -> dict:
    """Headline numbers for the cover, the slides and the cards."""
    f = indicator_comparison(v)
    hh = v.households
    passed_all = f["village"].notna() & (f["village"] >= 1.0)
    worst = failing_ranked(v, 1)
    pov = poverty_summary(v)
    any_pov = pov[pov["dimension"] == "any"] if not pov.empty else pov
    poor_share = float(any_pov["village"].iloc[0]) if not any_pov.empty else None
    poor_text = format_pct(poor_share)
    if v.audience == "public" and poor_share is not None:
        k = disclosure.small_cell_threshold()
        n, q = any_pov["persons"].iloc[0], any_pov["poor"].iloc[0]
        if disclosure.share_state(n, q, k) != "show":  # a bound in the text; no slide or card
            poor_text, poor_share = disclosure.share_text(n, q, k, format_pct), None
    return {
        "households": int(len(hh)) if not hh.empty else None,
        "persons": int(len(v.persons)) if not v.persons.empty else None,
        "indicators_measured": int(f["village"].notna().sum()),
        "indicators_full_pass": int(passed_all.sum()),
        "worst_indicator": (int(worst["indicator"].iloc[0]) if not worst.empty else None),
        "worst_name": (worst["name"].iloc[0] if not worst.empty else None),
        "worst_share_failing": (float(worst["share_failing"].iloc[0]) if not worst.empty else None),
        "poor_share": poor_share,
        "poor_share_text": poor_text,
        "kchch2k": kchch2k_status(v),
    }
