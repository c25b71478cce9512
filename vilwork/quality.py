"""Data quality across the villages of a district: rules, outliers, completeness of each source.

Three kinds of finding, each naming the village, the number and why it looks wrong:

* **rules** (``quality.yaml`` ``rules``): arithmetic that must hold, e.g. ``failed <= surveyed``,
  ``members >= households``, ``elderly <= members``; checked on the indicators, the village
  counts, the household records (with file and row) and the platform aggregates;
* **outliers**: per indicator, a village whose pass rate is far from the other villages of its
  district by the modified z-score of Iglewicz and Hoaglin, ``M = 0.6745 (x − median) / MAD``,
  flagged when ``|M| > 3.5`` (both from ``quality.yaml``);
* **completeness**: per village, each source (household and person records, answers, กชช. 2ค,
  boundary, profile, places) present, partial or missing.

:func:`quality_report` builds a :class:`QualityReport` for one district; :func:`write_quality_report`
writes it as Excel and HTML under ``reports/_programme/quality/``.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DefinitionError, InputError
from .i18n import format_pct
from .log import get_logger
from .programme import (
    html_page,
    html_table,
    label,
    name_of,
    out_dir,
    place_names,
    provenance,
    settings,
    write_text,
    write_xlsx,
)
from .workspace import Workspace

log = get_logger(__name__)

FINDING_COLUMNS = ["severity", "district_code", "village_code", "year", "source", "check", "item", "value",
                   "reference", "message_th", "message_en", "file", "row"]
SEVERITIES = ("error", "outlier", "incomplete")


# =============================================================================================
# rules as data: `a + b <= c`
# =============================================================================================
_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op><=|>=|==|!=|<|>)|(?P<sign>[+\-]))")
_OPS: dict[str, Callable] = {"<=": np.less_equal, ">=": np.greater_equal, "==": np.equal, "!=": np.not_equal, "<": np.less, ">": np.greater}


@dataclass(frozen=True)
class Check:
    """A parsed rule ``lhs OP rhs``; each side is a list of ``(sign, column or number)``."""

    text: str
    lhs: tuple
    op: str
    rhs: tuple

    @property
    def columns(self) -> set[str]:
        return {v for _, v in self.lhs + self.rhs if isinstance(v, str)}


def parse_check(text: str) -> Check:
    """Parse ``a + b <= c`` (columns, numbers, + and −, one comparison).

    Raises
    ------
    DefinitionError
        When the text is not of that form (rules are data; nothing is ``eval``-ed).
    """
    pos, sides, op, sign, cur = 0, [[], []], None, 1, 0
    expect_term = True
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise DefinitionError(f"quality rule {text!r}: cannot read {text[pos:]!r}")
        pos = m.end()
        if m.group("op"):
            if op or expect_term:
                raise DefinitionError(f"quality rule {text!r}: misplaced comparison")
            op, cur, expect_term = m.group("op"), 1, True
        elif m.group("sign"):
            if not expect_term and sign == 1:
                sign, expect_term = (1 if m.group("sign") == "+" else -1), True
            else:
                raise DefinitionError(f"quality rule {text!r}: misplaced {m.group('sign')}")
        else:
            if not expect_term:
                raise DefinitionError(f"quality rule {text!r}: two terms without an operator")
            value = float(m.group("num")) if m.group("num") else m.group("name")
            sides[cur].append((sign, value))
            sign, expect_term = 1, False
    if op is None or expect_term or not sides[0] or not sides[1]:
        raise DefinitionError(f"quality rule {text!r}: must read `expression OP expression`")
    return Check(text, tuple(sides[0]), op, tuple(sides[1]))


def _side(frame: pd.DataFrame, terms) -> pd.Series:
    total = pd.Series(0.0, index=frame.index)
    for sign, v in terms:
        total = total + sign * (pd.to_numeric(frame[v], errors="coerce").astype(float) if isinstance(v, str) else float(v))
    return total


def violations(frame: pd.DataFrame, check: Check) -> pd.Series:
    """Boolean mask of rows of ``frame`` that break ``check`` (rows with a blank value: False)."""
    left, right = _side(frame, check.lhs), _side(frame, check.rhs)
    known = left.notna() & right.notna()
    ok = pd.Series(_OPS[check.op](left.fillna(0).to_numpy(), right.fillna(0).to_numpy()), index=frame.index)
    if check.op == "==":
        ok = pd.Series(np.isclose(left.fillna(0), right.fillna(0)), index=frame.index)
    return known & ~ok


def rule_findings(tables: dict[str, pd.DataFrame], rules: list[dict] | None = None, district: str | None = None) -> pd.DataFrame:
    """Every row of ``tables`` that breaks a rule of ``quality.yaml``, as findings.

    A rule whose table is absent or lacks a column it needs is skipped (the table does not apply).
    """
    rules = rules if rules is not None else settings("quality")["rules"]
    out = []
    for r in rules:
        frame = tables.get(r["table"])
        if frame is None or frame.empty:
            continue
        chk = parse_check(r["check"])
        if not chk.columns <= set(frame.columns):
            log.info("rule %s skipped: %s lacks %s", r["id"], r["table"], sorted(chk.columns - set(frame.columns)))
            continue
        bad = frame[violations(frame, chk)]
        for _, row in bad.iterrows():
            vals = {c: _num(row[c]) for c in r.get("show", sorted(chk.columns))}
            code = str(row.get("village_code", row.get("code", "")))
            item = _item(r["table"], row)
            out.append({
                "severity": "error", "district_code": district or code[:4], "village_code": code,
                "year": _int(row.get("year")), "source": r["table"], "check": r["id"], "item": item,
                "value": ", ".join(f"{k}={v}" for k, v in vals.items()), "reference": r["check"],
                "message_th": r["th"].format(**vals), "message_en": r["en"].format(**vals),
                "file": row.get("source_file"), "row": _int(row.get("source_row")),
            })
    return pd.DataFrame(out, columns=FINDING_COLUMNS)


def _num(v):
    if v is None or pd.isna(v):
        return "–"
    f = float(v)
    return f"{int(f):,}" if f.is_integer() else f"{f:,.3f}"


def _int(v):
    return None if v is None or pd.isna(v) else int(v)


def _item(table: str, row) -> str:
    if table in ("indicators", "aggregates") and "indicator" in row and pd.notna(row["indicator"]):
        unit = f" ({row['unit']})" if "unit" in row and pd.notna(row.get("unit")) else ""
        return f"{int(row['indicator'])}{unit}"
    if table == "households" and "house_key" in row:
        return str(row["house_key"])[:10]
    return ""


# =============================================================================================
# outliers: modified z-score
# =============================================================================================
def modified_z(values: pd.Series, constant: float = 0.6745, mad_zero: str = "mean_ad", mean_ad_constant: float = 1.253314) -> pd.Series:
    """Modified z-scores of ``values`` (Iglewicz & Hoaglin 1993).

    ``M_i = constant · (x_i − median) / MAD`` with ``MAD = median |x_i − median|``. When MAD is 0
    (more than half the values are equal) and ``mad_zero == "mean_ad"``, ``M_i = (x_i − median) /
    (mean_ad_constant · mean |x_i − median|)``; when that is 0 too (all equal), every M is 0.
    With ``mad_zero == "skip"`` the scores are NaN. Missing values stay NaN.

    Examples
    --------
    >>> modified_z(pd.Series([0.90, 0.92, 0.95, 0.93, 0.40])).round(3).tolist()
    [-0.674, 0.0, 1.012, 0.337, -17.537]
    """
    x = pd.to_numeric(values, errors="coerce").astype(float)
    med = x.median()
    dev = (x - med).abs()
    mad = dev.median()
    if mad > 0:
        return constant * (x - med) / mad
    if mad_zero == "skip":
        return pd.Series(np.nan, index=x.index)
    mean_ad = dev.mean()
    if not mean_ad or pd.isna(mean_ad):
        return (x - med) * 0.0
    return (x - med) / (mean_ad_constant * mean_ad)


def outliers(frame: pd.DataFrame, value: str, by: list[str], cfg: dict | None = None) -> pd.DataFrame:
    """Rows of ``frame`` whose ``value`` is an outlier within its ``by`` group (``|M| > threshold``).

    Adds ``median``, ``mad`` and ``z``; groups with fewer than ``min_villages`` values are not tested.
    """
    cfg = cfg or settings("quality")["outliers"]
    parts = []
    for _, g in frame.dropna(subset=[value]).groupby(by, sort=True):
        if len(g) < int(cfg["min_villages"]):
            continue
        z = modified_z(g[value], cfg["constant"], cfg.get("mad_zero", "mean_ad"), cfg.get("mean_ad_constant", 1.253314))
        med = g[value].median()
        parts.append(g.assign(median=med, mad=(g[value] - med).abs().median(), z=z))
    if not parts:
        return frame.iloc[0:0].assign(median=[], mad=[], z=[])
    allz = pd.concat(parts)
    return allz[allz["z"].abs() > float(cfg["threshold"])]


def indicator_outliers(indicators: pd.DataFrame, cfg: dict | None = None, lang_names: Callable[[int, int], tuple[str, str]] | None = None) -> pd.DataFrame:
    """Outlying pass rates per (year, district, indicator) across villages, as findings.

    ``indicators``: village rows (``year, code, indicator, unit, surveyed, pass_rate``). For each
    village and indicator the first unit of ``unit_order`` present is used; rates over fewer than
    ``min_surveyed`` people or households are not tested, and an outlier closer than
    ``min_difference`` to the median is not reported (a tight district makes tiny gaps "outlying").
    """
    cfg = cfg or settings("quality")["outliers"]
    df = indicators[indicators["indicator"].notna() & indicators["pass_rate"].notna()].copy()
    if "surveyed" in df.columns:
        df = df[pd.to_numeric(df["surveyed"], errors="coerce").fillna(0) >= int(cfg.get("min_surveyed", 0))]
    if df.empty:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    order = {u: i for i, u in enumerate(cfg["unit_order"])}
    df["_u"] = df["unit"].map(order).fillna(len(order))
    df = df.sort_values("_u").drop_duplicates(["year", "code", "indicator"], keep="first")
    df["district_code"] = df["code"].str[:4]
    df["indicator"] = df["indicator"].astype(int)
    hits = outliers(df, "pass_rate", ["year", "district_code", "indicator"], cfg)
    hits = hits[(hits["pass_rate"] - hits["median"]).abs() >= float(cfg.get("min_difference", 0)) - 1e-9]
    out = []
    for _, h in hits.sort_values(["district_code", "code", "indicator"]).iterrows():
        th, en = lang_names(int(h["year"]), int(h["indicator"])) if lang_names else (str(int(h["indicator"])), str(int(h["indicator"])))
        fmt = dict(value=format_pct(h["pass_rate"]), median=format_pct(h["median"]), z=f"{h['z']:+.1f}", thr=cfg["threshold"],
                   surveyed=_num(h.get("surveyed")))
        out.append({
            "severity": "outlier", "district_code": h["district_code"], "village_code": h["code"], "year": int(h["year"]),
            "source": "indicators", "check": "modified_z", "item": f"{int(h['indicator'])} {th}",
            "value": format_pct(h["pass_rate"]), "reference": f"median {format_pct(h['median'])}, M = {h['z']:+.2f}",
            "message_th": label("q_outlier_indicator", "th", name=th, **fmt), "message_en": label("q_outlier_indicator", "en", name=en, **fmt),
            "file": None, "row": None,
        })
    return pd.DataFrame(out, columns=FINDING_COLUMNS)


def ratio_outliers(counts: pd.DataFrame, cfg: dict | None = None) -> pd.DataFrame:
    """Outlying village ratios (members per household, share elderly, … from ``quality.yaml``)."""
    cfg = cfg or settings("quality")["outliers"]
    out = []
    for key, spec in (cfg.get("ratios") or {}).items():
        if not {spec["numerator"], spec["denominator"]} <= set(counts.columns):
            continue
        num = pd.to_numeric(counts[spec["numerator"]], errors="coerce")
        den = pd.to_numeric(counts[spec["denominator"]], errors="coerce")
        df = counts.assign(ratio=(num / den.where(den > 0)), district_code=counts["village_code"].str[:4])
        for _, h in outliers(df, "ratio", ["year", "district_code"], cfg).iterrows():
            fmt = dict(value=f"{h['ratio']:.2f}", median=f"{h['median']:.2f}", z=f"{h['z']:+.1f}", thr=cfg["threshold"])
            out.append({
                "severity": "outlier", "district_code": h["district_code"], "village_code": h["village_code"], "year": _int(h["year"]),
                "source": "village_counts", "check": "modified_z", "item": label(f"q_ratio_{key}", "th"),
                "value": f"{h['ratio']:.3f}", "reference": f"median {h['median']:.3f}, M = {h['z']:+.2f}",
                "message_th": label("q_outlier_ratio", "th", name=label(f"q_ratio_{key}", "th"), **fmt),
                "message_en": label("q_outlier_ratio", "en", name=label(f"q_ratio_{key}", "en"), **fmt),
                "file": None, "row": None,
            })
    return pd.DataFrame(out, columns=FINDING_COLUMNS)


# =============================================================================================
# reading one district's data
# =============================================================================================
def _read(ws: Workspace, name: str, district: str, year: int | None, code_col: str = "village_code", columns: str = "*") -> pd.DataFrame:
    import duckdb

    p = ws.processed / name
    if not p.exists() or (p.is_dir() and not any(p.rglob("*.parquet"))):
        return pd.DataFrame()
    src = f"{p.as_posix()}/**/*.parquet" if p.is_dir() else p.as_posix()
    with duckdb.connect() as con:
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{src}', hive_partitioning = true, union_by_name = true)").fetchall()]
        if code_col not in cols:
            return pd.DataFrame()
        sql = f"SELECT {columns} FROM read_parquet('{src}', hive_partitioning = true, union_by_name = true) WHERE CAST({code_col} AS VARCHAR) LIKE ?"
        params: list = [f"{district}%"]
        if year is not None and "year" in cols:
            sql += " AND CAST(year AS INTEGER) = ?"
            params.append(int(year))
        return con.execute(sql, params).df()


def village_counts(households: pd.DataFrame, persons: pd.DataFrame, aggregates: pd.DataFrame) -> pd.DataFrame:
    """Per village and year: households, members, elderly, disabled, chronic.

    From the platform aggregates when a village has them (their own counts), else counted from
    the records (members = person records; elderly = age 60 or more; disabled, chronic from the
    health column).
    """
    cols = ["year", "village_code", "households", "members", "elderly", "disabled", "chronic", "source"]
    parts = []
    if len(aggregates) and {"households", "members"} <= set(aggregates.columns):
        a = aggregates.groupby(["year", "village_code"], as_index=False).first()
        a = a.reindex(columns=["year", "village_code", "households", "members", "elderly", "disabled", "chronic"])
        parts.append(a.assign(source="aggregates"))
    if len(households):
        h = households.groupby(["year", "village_code"]).size().rename("households")
        if len(persons):
            p = persons.assign(
                elderly=(pd.to_numeric(persons.get("age_years"), errors="coerce") >= 60) if "age_years" in persons else False,
                disabled=(persons["health"] == "disabled") if "health" in persons else False,
                chronic=(persons["health"] == "chronic") if "health" in persons else False,
            )
            pc = p.groupby(["year", "village_code"]).agg(members=("village_code", "size"), elderly=("elderly", "sum"),
                                                         disabled=("disabled", "sum"), chronic=("chronic", "sum"))
            r = pd.concat([h, pc], axis=1).reset_index()
        else:
            r = h.reset_index()
        r = r.fillna({"members": 0})
        done = set(map(tuple, parts[0][["year", "village_code"]].astype({"year": int}).values)) if parts else set()
        r = r[[(int(y), v) not in done for y, v in zip(r["year"], r["village_code"])]]
        parts.append(r.reindex(columns=cols[:-1]).assign(source="records"))
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    return out.astype({"year": int, "village_code": str})[cols]


# =============================================================================================
# completeness of each source per village
# =============================================================================================
def _m_processed_rows(ctx, villages, spec) -> pd.Series:
    df = ctx["tables"].get(spec["table"], pd.DataFrame())
    if df.empty:
        return pd.Series(np.nan if spec.get("optional") else 0.0, index=villages)
    n = df.groupby("village_code").size()
    return pd.Series([1.0 if n.get(v, 0) > 0 else 0.0 for v in villages], index=villages)


def _m_answered_share(ctx, villages, spec) -> pd.Series:
    df = ctx["tables"].get(spec["table"], pd.DataFrame())
    qcols = [c for c in df.columns if re.fullmatch(r"q\d+(_\d+)?", c)]
    if df.empty or not qcols:
        return pd.Series(0.0, index=villages)
    share = df[qcols].notna().mean(axis=1).groupby(df["village_code"]).mean()
    return pd.Series([float(share.get(v, 0.0)) for v in villages], index=villages)


def _m_kchch2k_share(ctx, villages, spec) -> pd.Series:
    from .registry import kchch2k_set

    df = ctx["tables"].get("kchch2k", pd.DataFrame())
    if df.empty:
        return pd.Series(0.0, index=villages)
    df = df.sort_values("year").groupby("village_code").tail(1) if "indicator" not in df.columns else df
    out = {}
    for v in villages:
        g = df[df["village_code"] == v]
        if g.empty:
            out[v] = 0.0
            continue
        year = int(g["year"].max())
        try:
            n_ind = len(kchch2k_set(year).indicators)
        except DefinitionError:
            n_ind = 33
        if "indicator" in g.columns:
            got = g[(g["year"] == year) & g["level"].notna()]["indicator"].nunique()
        else:
            kcols = [c for c in g.columns if re.fullmatch(r"k\d+", c)]
            got = int(g[kcols].notna().sum(axis=1).iloc[-1]) if kcols else 0
        out[v] = min(1.0, got / n_ind) if n_ind else 0.0
    return pd.Series(out).reindex(villages)


def _m_village_file(ctx, villages, spec) -> pd.Series:
    ws: Workspace = ctx["ws"]
    return pd.Series([1.0 if (ws.raw / "villages" / v / spec["file"]).is_file() else 0.0 for v in villages], index=villages)


def _m_geo(ctx, villages, spec) -> pd.Series:
    codes = ctx.setdefault("_geo_codes", _geo_codes(ctx["ws"]))
    return pd.Series([1.0 if v in codes else 0.0 for v in villages], index=villages)


def _geo_codes(ws: Workspace) -> set[str]:
    m = settings("maps")["boundaries"]
    folder = ws.root / m["village_geo"]
    codes: set[str] = set()
    for p in sorted(folder.glob("*.geojson")) if folder.is_dir() else []:
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for f in doc.get("features", []):
            c = (f.get("properties") or {}).get(m["village_code_property"])
            if c is not None:
                codes.add(str(c))
    return codes


COMPLETENESS_MEASURES: dict[str, Callable] = {
    "processed_rows": _m_processed_rows,
    "answered_share": _m_answered_share,
    "kchch2k_share": _m_kchch2k_share,
    "village_file": _m_village_file,
    "geo": _m_geo,
}


def source_completeness(ctx: dict, villages: list[str], cfg: dict | None = None) -> pd.DataFrame:
    """Long table ``village_code, source, share, status`` (complete / partial / missing / not_used)."""
    cfg = cfg or settings("quality")["completeness"]
    rows = []
    for spec in cfg["sources"]:
        fn = COMPLETENESS_MEASURES.get(spec["kind"])
        if fn is None:
            raise DefinitionError(f"quality.yaml: completeness kind {spec['kind']!r} unknown (known: {', '.join(COMPLETENESS_MEASURES)})")
        vals = fn(ctx, villages, spec)
        for v in villages:
            s = vals.get(v, np.nan)
            if pd.isna(s):
                status = "not_used"
            elif s <= 0:
                status = "missing"
            elif s < float(cfg["partial_below"]):
                status = "partial"
            else:
                status = "complete"
            rows.append({"village_code": v, "source": spec["key"], "share": None if pd.isna(s) else float(s), "status": status})
    return pd.DataFrame(rows, columns=["village_code", "source", "share", "status"])


def completeness_findings(comp: pd.DataFrame, district: str, year: int | None) -> pd.DataFrame:
    """Missing or partial sources as findings (one per village and source)."""
    out = []
    for r in comp[comp["status"].isin(["missing", "partial"])].itertuples():
        src_th, src_en = label(f"q_src_{r.source}", "th"), label(f"q_src_{r.source}", "en")
        key = f"q_{r.status}"
        share = format_pct(r.share) if r.status == "partial" else "–"
        out.append({"severity": "incomplete", "district_code": district, "village_code": r.village_code, "year": year,
                    "source": r.source, "check": f"completeness_{r.status}", "item": src_th, "value": share, "reference": None,
                    "message_th": label(key, "th", source=src_th, share=share), "message_en": label(key, "en", source=src_en, share=share),
                    "file": None, "row": None})
    return pd.DataFrame(out, columns=FINDING_COLUMNS)


# =============================================================================================
# the report
# =============================================================================================
@dataclass
class QualityReport:
    """The data-quality findings of one district in one survey year."""

    district: str
    year: int | None
    villages: list[str]
    findings: pd.DataFrame
    completeness: pd.DataFrame
    names: pd.DataFrame = field(repr=False)
    run_time: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))
    files: list[Path] = field(default_factory=list)

    def summary(self, lang: str = "th") -> pd.DataFrame:
        """Per village: number of rule errors, outliers and incomplete sources."""
        f = self.findings
        rows = []
        for v in self.villages:
            g = f[f["village_code"] == v]
            rows.append({label("col_village", lang): v, label("col_village_name", lang): name_of(self.names, v, lang),
                         label("q_errors", lang): int((g["severity"] == "error").sum()),
                         label("q_outliers", lang): int((g["severity"] == "outlier").sum()),
                         label("q_incomplete", lang): int((g["severity"] == "incomplete").sum())})
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        f = self.findings
        n = {s: int((f["severity"] == s).sum()) for s in SEVERITIES}
        head = label("q_summary", "th", district=self.district, name=name_of(self.names, self.district), year=self.year or "–",
                     v=len(self.villages), **n)
        head_en = label("q_summary", "en", district=self.district, name=name_of(self.names, self.district, "en"), year=self.year or "–",
                        v=len(self.villages), **n)
        return "\n".join([head, head_en] + [f"  → {p}" for p in self.files])


def latest_year(ws: Workspace) -> int | None:
    """The latest survey year of the village indicators (None without indicators)."""
    p = ws.processed / "indicators_village.parquet"
    if not p.exists():
        return None
    y = pd.read_parquet(p, columns=["year"])["year"]
    return int(y.max()) if len(y) else None


def quality_report(ws: Workspace, district: str, year: int | None = None, *, code_lists_dir: str | None = None) -> QualityReport:
    """Rules, outliers and completeness for the villages of ``district`` in survey ``year``.

    Raises
    ------
    InputError
        When the district has no villages in the workspace.
    """
    from .registry import indicator_set

    cfg = settings("quality")
    year = year or latest_year(ws)
    tables = {
        "indicators": _read(ws, "indicators_village.parquet", district, year, code_col="code"),
        "households": _read(ws, "households", district, year),
        "persons": _read(ws, "persons", district, year),
        "aggregates": _read(ws, "aggregates", district, year),
        "kchch2k": _read(ws, "kchch2k.parquet", district, None),
    }
    ind = tables["indicators"]
    if len(ind):
        ind["village_code"] = ind["code"].astype(str)
    counts = village_counts(tables["households"], tables["persons"], tables["aggregates"])
    tables["village_counts"] = counts
    villages = set(ind["code"].astype(str)) if len(ind) else set()
    for k in ("households", "aggregates", "kchch2k"):
        if len(tables[k]):
            villages |= set(tables[k]["village_code"].astype(str))
    names = place_names(ws, code_lists_dir)
    villages |= set(names.loc[(names["level"] == "village") & names["code"].str.startswith(district), "code"])
    villages = sorted(villages)
    if not villages:
        raise InputError(label("q_no_villages", "en", district=district), str(ws.processed))

    def ind_names(y: int, i: int) -> tuple[str, str]:
        try:
            s = indicator_set(y)
            return s.indicator_name(i, "th", short=True), s.indicator_name(i, "en", short=True)
        except Exception:
            return str(i), str(i)

    # rules look at households one row each; a household's aggregates are by village
    agg = tables["aggregates"]
    findings = pd.concat([
        rule_findings({k: v for k, v in tables.items() if k != "kchch2k"} | {"aggregates": agg}, cfg["rules"], district),
        indicator_outliers(ind, cfg["outliers"], ind_names) if len(ind) else pd.DataFrame(columns=FINDING_COLUMNS),
        ratio_outliers(counts, cfg["outliers"]) if len(counts) else pd.DataFrame(columns=FINDING_COLUMNS),
    ], ignore_index=True)
    comp = source_completeness({"ws": ws, "tables": tables}, villages, cfg["completeness"])
    findings = pd.concat([findings, completeness_findings(comp, district, year)], ignore_index=True)
    findings["_s"] = findings["severity"].map({s: i for i, s in enumerate(SEVERITIES)})
    findings = findings.sort_values(["village_code", "_s", "source", "item"], kind="stable").drop(columns="_s").reset_index(drop=True)
    return QualityReport(district, year, villages, findings, comp, names)


def workspace_quality(ws: Workspace, district: str | None = None, year: int | None = None, **kw) -> list[QualityReport]:
    """A report for ``district``, or for every district of the workspace."""
    from .selection import workspace_districts

    districts = [district] if district else workspace_districts(ws)
    if not districts:
        raise InputError(label("q_no_districts", "en"), str(ws.processed))
    return [quality_report(ws, d, year, **kw) for d in districts]


def findings_sheet(rep: QualityReport, lang: str = "th") -> pd.DataFrame:
    f = rep.findings
    return pd.DataFrame({
        label("col_village", lang): f["village_code"],
        label("col_village_name", lang): [name_of(rep.names, v, lang) for v in f["village_code"]],
        label("q_col_kind", lang): [label(f"q_sev_{s}", lang) for s in f["severity"]],
        label("q_col_source", lang): [label(f"q_src_{s}", lang) for s in f["source"]],
        label("q_col_item", lang): f["item"],
        label("col_value", lang): f["value"],
        label("q_col_why", lang): f[f"message_{lang}"],
        label("q_col_rule", lang): f["reference"],
        label("col_file", lang): f["file"],
        label("col_row", lang): f["row"].astype("Int64"),
    })


def completeness_sheet(rep: QualityReport, lang: str = "th") -> pd.DataFrame:
    c = rep.completeness
    if c.empty:
        return pd.DataFrame()
    wide = c.pivot(index="village_code", columns="source", values="status")
    order = [s["key"] for s in settings("quality")["completeness"]["sources"] if s["key"] in wide.columns]
    wide = wide[order]
    out = pd.DataFrame({label("col_village", lang): wide.index,
                        label("col_village_name", lang): [name_of(rep.names, v, lang) for v in wide.index]})
    for s in order:
        out[label(f"q_src_{s}", lang)] = [label(f"q_st_{x}", lang) for x in wide[s]]
    return out.reset_index(drop=True)


def _status_color(text: str) -> str:
    for key, color in (("complete", "#d4edda"), ("partial", "#fff3cd"), ("missing", "#f8d7da")):
        if text in (label(f"q_st_{key}", "th"), label(f"q_st_{key}", "en")):
            return color
    return "#ffffff"


def write_quality_report(ws: Workspace, rep: QualityReport, lang: str = "th") -> list[Path]:
    """Write ``reports/_programme/quality/คุณภาพข้อมูล_<district>_<year>.xlsx`` and
    ``data_quality_<district>_<year>.html`` (ASCII name for the page)."""
    out = out_dir(ws) / "quality"
    year = rep.year or "na"
    prov = provenance({"district": rep.district, "year": rep.year, "lang": lang}, label("q_period", lang, year=rep.year or "–"), rep.run_time, lang)
    title = label("q_title", lang, district=rep.district, name=name_of(rep.names, rep.district, lang), year=rep.year or "–")
    fs, cs, summ = findings_sheet(rep, lang), completeness_sheet(rep, lang), rep.summary(lang)
    cfg = settings("quality")
    rules = pd.DataFrame([{label("q_col_rule", lang): r["check"], label("q_col_why", lang): r[lang]} for r in cfg["rules"]]
                         + [{label("q_col_rule", lang): f"|M| > {cfg['outliers']['threshold']}", label("q_col_why", lang): label("q_outlier_rule", lang)}])
    sheets = {label("q_sheet_summary", lang): summ, label("q_sheet_findings", lang): fs,
              label("q_sheet_completeness", lang): cs, label("q_sheet_rules", lang): rules,
              label("sheet_provenance", lang): pd.DataFrame(list(prov.items()), columns=[label("col_item", lang), label("col_value", lang)])}
    xlsx = write_xlsx(sheets, out / label("file_quality_xlsx", "th", district=rep.district, year=year),
                      notes={label("q_sheet_findings", lang): label("q_how_to_read", lang)})
    comp_colors = {c: _status_color for c in cs.columns[2:]} if len(cs) else {}
    h = lambda key: f"<h2>{html.escape(label(key, lang))}</h2>"  # noqa: E731
    parts = [f"<p>{html.escape(label('q_how_to_read', lang))}</p>",
             h("q_sheet_summary"), html_table(summ),
             h("q_sheet_findings"), html_table(fs.drop(columns=[label("q_col_rule", lang)])),
             h("q_sheet_completeness"), html_table(cs, colors=comp_colors),
             h("q_sheet_rules"), html_table(rules)]
    page = write_text(html_page(title, parts, prov, lang), out / label("file_quality_html", "th", district=rep.district, year=year))
    rep.files = [xlsx, page]
    return rep.files


__all__ = [
    "parse_check", "violations", "rule_findings", "modified_z", "outliers", "indicator_outliers", "ratio_outliers",
    "village_counts", "source_completeness", "quality_report", "workspace_quality", "write_quality_report", "QualityReport",
    "COMPLETENESS_MEASURES",
]
