"""Poverty from the จปฐ. records: the TPMAP union rule and the Alkire–Foster method.

TPMAP (Thai People Map and Analytics Platform): a person is poor in a dimension when their
household fails any of the dimension's indicators (member convention, as in
:func:`vilwork.rules.household_status`); poor overall when poor in any dimension (union rule);
"target poor" are poor persons who hold a state welfare card. The dimensions and their indicators
are data (``poverty.yaml``, :func:`vilwork.registry.poverty_dimensions`).

Alkire & Foster (2011), "Counting and multidimensional poverty measurement", J. Public Econ.
95(7–8): 476–487: deprived in a dimension when the achievement is strictly below its cutoff;
poor when the weighted deprivation score reaches k; H, A, M0 = H·A, M1, M2, censored headcounts and
dimension contributions. :func:`village_alkire_foster` applies it to a village's households with
the settings of ``poverty.yaml``.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from . import rules
from .errors import DefinitionError, InputError
from .indicators import (
    LEVELS,
    _close,
    _files,
    _lit,
    _records_pass,
    _source,
    _start_clean,
    connect,
    survey_years,
    write_parquet_atomic,
)
from .locks import processed_lock
from .log import get_logger
from .registry import Dimension, alkire_foster_settings, poverty_dimensions
from .workspace import Workspace, check_village_code

log = get_logger(__name__)

__all__ = [
    "AFResult",
    "POVERTY_SCHEMA",
    "alkire_foster",
    "household_achievements",
    "tpmap_poverty",
    "tpmap_poverty_frame",
    "village_alkire_foster",
    "write_poverty",
]

POVERTY_SCHEMA = pa.schema(
    [
        ("year", pa.int16()),
        ("level", pa.string()),
        ("code", pa.string()),
        ("dimension", pa.string()),
        ("persons", pa.int64()),
        ("poor", pa.int64()),
        ("share", pa.float64()),
        ("target_poor", pa.int64()),
    ]
)
ANY = "any"


# ============================================================================================
# TPMAP union rule
# ============================================================================================
def _check_dimensions(dims: list[Dimension], known: set[int], year: int) -> None:
    for d in dims:
        bad = [i for i in d.indicators if i not in known]
        if bad:
            raise DefinitionError(f"poverty dimension {d.key!r} names indicators {bad} that the indicator set of {year} does not have")


def tpmap_poverty_frame(households: pd.DataFrame, persons: pd.DataFrame, year: int, dimensions: list[Dimension] | None = None) -> pd.DataFrame:
    """TPMAP poverty per village from record frames (the pure version of :func:`tpmap_poverty`).

    Persons are the person records of the households in ``households`` (counted in the
    household's village); a person is poor in a dimension when the household fails any of its
    indicators, poor in ``any`` when poor in at least one; ``target_poor`` = poor with
    ``welfare_card`` true.

    Returns
    -------
    DataFrame
        year, level ('village'), code, dimension (keys in order, then 'any'), persons, poor, share
        (poor / persons, NaN when no persons), target_poor.
    """
    dims = poverty_dimensions() if dimensions is None else list(dimensions)
    key = rules.key_column(households, persons)
    hs = rules.household_status(households, persons, year)
    _check_dimensions(dims, set(hs["indicator"].unique()), year)
    failed = hs.pivot_table(index=key, columns="indicator", values="failed", aggfunc="any")
    flags = pd.DataFrame(index=failed.index)
    for d in dims:
        flags[d.key] = failed[list(d.indicators)].any(axis=1)
    flags[ANY] = flags[[d.key for d in dims]].any(axis=1) if dims else False
    house_village = households.drop_duplicates(key).set_index(key)["village_code"]
    p = persons[persons[key].isin(house_village.index)]
    welfare = p["welfare_card"].fillna(False).astype(bool).to_numpy() if "welfare_card" in p.columns else np.zeros(len(p), bool)
    village = house_village.reindex(p[key]).to_numpy()
    rows = []
    for dim in [d.key for d in dims] + [ANY]:
        poor = flags[dim].reindex(p[key]).fillna(False).to_numpy(dtype=bool)
        g = pd.DataFrame({"code": village, "persons": 1, "poor": poor.astype(int), "target_poor": (poor & welfare).astype(int)})
        g = g.groupby("code")[["persons", "poor", "target_poor"]].sum()
        g = g.reindex(sorted(house_village.dropna().unique()), fill_value=0).rename_axis("code").reset_index()
        g["dimension"] = dim
        rows.append(g)
    out = pd.concat(rows, ignore_index=True)
    out["year"] = int(year)
    out["level"] = "village"
    out["share"] = out["poor"] / out["persons"].where(out["persons"] > 0)
    order = {k: n for n, k in enumerate([d.key for d in dims] + [ANY])}
    out = out.assign(_o=out["dimension"].map(order)).sort_values(["code", "_o"], ignore_index=True)
    return out[[f.name for f in POVERTY_SCHEMA]]


def _long(wide: pd.DataFrame, year: int, dims: list[Dimension]) -> pd.DataFrame:
    """Village rows (one per dimension, then ``any``) from the engine's per-village counts."""
    rows = []
    for n, key in enumerate([d.key for d in dims] + [ANY]):
        rows.append(
            pd.DataFrame(
                {
                    "code": wide["village_code"].astype(str).to_numpy(),
                    "dimension": key,
                    "persons": wide["persons"].fillna(0).astype("int64").to_numpy(),
                    "poor": wide[f"poor_{n}"].fillna(0).astype("int64").to_numpy(),
                    "target_poor": wide[f"target_{n}"].fillna(0).astype("int64").to_numpy(),
                    "_o": n,
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    out.insert(0, "year", int(year))
    return out


def _poverty_table(df: pd.DataFrame, level: str) -> pa.Table:
    n = LEVELS[level]
    df = df.assign(code=df["code"].str.slice(0, n))
    df = df.groupby(["year", "code", "_o", "dimension"], as_index=False, sort=True)[["persons", "poor", "target_poor"]].sum()
    share = (df["poor"] / df["persons"].where(df["persons"] > 0)).to_numpy(dtype="float64")
    return pa.table(
        {
            "year": pa.array(df["year"].to_numpy(np.int16)),
            "level": pa.array([level] * len(df), pa.string()),
            "code": pa.array(df["code"].tolist(), pa.string()),
            "dimension": pa.array(df["dimension"].tolist(), pa.string()),
            "persons": pa.array(df["persons"].to_numpy(np.int64)),
            "poor": pa.array(df["poor"].to_numpy(np.int64)),
            "share": pa.array(share, mask=np.isnan(share)),
            "target_poor": pa.array(df["target_poor"].to_numpy(np.int64)),
        },
        schema=POVERTY_SCHEMA,
    )


def write_poverty(ws: Workspace, village_counts: dict[int, pd.DataFrame], dimensions: list[Dimension]) -> dict[str, Path]:
    """Write ``poverty_<level>.parquet`` from the engine's per-village counts per year
    (``vilwork.indicators`` computes them in the same pass as the indicators)."""
    frames = [_long(w, y, dimensions) for y, w in sorted(village_counts.items()) if len(w)]
    if not frames:
        return {}
    village = pd.concat(frames, ignore_index=True)
    return {level: write_parquet_atomic(_poverty_table(village, level), ws.processed / f"poverty_{level}.parquet") for level in LEVELS}


def tpmap_poverty(ws: Workspace, *, years: list[int] | None = None, threads: int | None = None) -> dict[str, Path]:
    """Write ``poverty_<level>.parquet`` (village, tambon, district, province) from the records.

    Columns: year, level, code, dimension (a poverty.yaml key, or ``any`` for the union), persons,
    poor, share (poor / persons), target_poor (poor and holding a welfare card). Higher levels are
    sums of the village rows. Villages with platform aggregates only have no rows (the platform
    does not publish the households' failures). :func:`vilwork.indicators.compute_all` computes
    the same in its indicator pass. Waits while another indicators run or an ingest works on the
    workspace (:func:`vilwork.locks.processed_lock`).

    Returns
    -------
    dict
        level → path; empty when no year has household records (nothing is written).
    """
    dims = poverty_dimensions()
    with processed_lock(ws, "poverty"):  # as compute_all: takes turns with it and with ingest
        _start_clean(ws)
        todo = sorted(years) if years is not None else survey_years(ws, ("households",))
        t0 = time.perf_counter()
        con = connect(ws, threads)
        counts = {}
        try:
            for y in todo:
                rec = _records_pass(con, ws, int(y), indicators=False, dims=dims)
                if rec is not None and rec.poverty is not None:
                    counts[int(y)] = rec.poverty
        finally:
            _close(con, ws)
        out = write_poverty(ws, counts, dims)
    log.info("poverty for %s in %.1f s", ", ".join(map(str, todo)), time.perf_counter() - t0)
    return out


# ============================================================================================
# Alkire–Foster
# ============================================================================================
@dataclass(frozen=True)
class AFResult:
    """The Alkire–Foster measures of one population.

    Attributes
    ----------
    H : float
        Headcount ratio q / n.
    A : float
        Average deprivation share among the poor (0 when nobody is poor).
    M0 : float
        Adjusted headcount ratio H·A = mean of the censored weighted deprivation scores.
    M1, M2 : float
        Adjusted poverty gap and adjusted squared gap: weighted means of the censored normalised
        gaps (z − x)/z and of their squares.
    k : float
        Poverty cutoff (share of weighted deprivations).
    n, q : int
        Units and poor units.
    weights, cutoffs : Series
        Per dimension (weights normalised to sum 1).
    deprived : DataFrame
        Uncensored deprivation matrix g0 (bool, x < z).
    scores : Series
        Weighted deprivation score c_i of every unit (uncensored).
    poor : Series
        The identified poor (c_i ≥ k).
    censored_headcounts, uncensored_headcounts : Series
        Share of all units that are poor and deprived / deprived in each dimension.
    contributions : Series
        w_j·h_j(k) / M0 per dimension, summing to 1 (NaN when M0 = 0).
    """

    H: float
    A: float
    M0: float
    M1: float
    M2: float
    k: float
    n: int
    q: int
    weights: pd.Series = field(repr=False)
    cutoffs: pd.Series = field(repr=False)
    deprived: pd.DataFrame = field(repr=False)
    scores: pd.Series = field(repr=False)
    poor: pd.Series = field(repr=False)
    censored_headcounts: pd.Series = field(repr=False)
    uncensored_headcounts: pd.Series = field(repr=False)
    contributions: pd.Series = field(repr=False)

    def summary(self) -> pd.DataFrame:
        """One row per dimension: weight, cutoff, uncensored and censored headcount, contribution."""
        return pd.DataFrame(
            {
                "weight": self.weights,
                "cutoff": self.cutoffs,
                "uncensored_headcount": self.uncensored_headcounts,
                "censored_headcount": self.censored_headcounts,
                "contribution": self.contributions,
            }
        )


def _per_dimension(value, dims: pd.Index, what: str) -> pd.Series:
    if isinstance(value, Mapping | pd.Series):
        s = pd.Series(value, dtype="float64") if not isinstance(value, pd.Series) else value.astype("float64")
        missing = [d for d in dims if d not in s.index]
        extra = [d for d in s.index if d not in dims]
        if missing or extra:
            raise ValueError(f"{what} must name exactly the dimensions {list(dims)}; missing {missing}, unknown {extra}")
        return s.reindex(dims)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, a dict or a Series per dimension, got {value!r}") from None
    return pd.Series(v, index=dims, dtype="float64")


def alkire_foster(achievements: pd.DataFrame, cutoffs, weights=None, k: float = 1 / 3) -> AFResult:
    """The Alkire–Foster adjusted headcount family for an achievement matrix.

    Parameters
    ----------
    achievements : DataFrame
        Rows = units (persons or households), columns = dimensions; numeric, no missing values.
    cutoffs : float, dict or Series
        Deprivation cutoff z_j per dimension (one number for all); a unit is deprived in j when
        its achievement is strictly below z_j. Must be > 0 (M1 and M2 divide by it).
    weights : dict or Series, optional
        Non-negative weight per dimension; default equal. Normalised to sum 1.
    k : float, default 1/3
        Poverty cutoff in (0, 1]: poor when the weighted deprivation score c_i ≥ k
        (compared with a 1e-9 tolerance, so 0.2 + 0.2 counts as reaching 0.4).

    Returns
    -------
    AFResult

    Raises
    ------
    ValueError
        On an empty or non-numeric matrix, missing values, cutoffs ≤ 0, negative or all-zero
        weights, dimensions named inconsistently, or k outside (0, 1].
    """
    if not isinstance(achievements, pd.DataFrame) or achievements.shape[0] == 0 or achievements.shape[1] == 0:
        raise ValueError("achievements must be a non-empty DataFrame (rows = units, columns = dimensions)")
    try:
        x = achievements.astype("float64")
    except (TypeError, ValueError):
        raise ValueError("achievements must be numeric") from None
    if x.isna().any().any():
        bad = list(x.columns[x.isna().any()])
        raise ValueError(f"achievements have missing values in {bad}; fill or drop them first")
    dims = x.columns
    z = _per_dimension(cutoffs, dims, "cutoffs")
    if (z <= 0).any() or z.isna().any():
        raise ValueError(f"cutoffs must be > 0 (the normalised gaps (z - x)/z of M1 and M2 divide by them): {z.to_dict()}")
    if weights is None:
        w = pd.Series(1.0, index=dims)
    else:
        w = _per_dimension(weights, dims, "weights")
    if w.isna().any() or (w < 0).any():
        raise ValueError(f"weights must be non-negative numbers: {w.to_dict()}")
    if w.sum() <= 0:
        raise ValueError("weights must not all be zero")
    w = w / w.sum()
    try:
        k = float(k)
    except (TypeError, ValueError):
        raise ValueError(f"k must be a number in (0, 1], got {k!r}") from None
    if not 0 < k <= 1:
        raise ValueError(f"k must be in (0, 1] (a share of weighted deprivations), got {k}")

    X, Z, W = x.to_numpy(), z.to_numpy(), w.to_numpy()
    g0 = X < Z  # deprived: strictly below the cutoff
    c = g0 @ W  # weighted deprivation score per unit
    is_poor = c >= k - 1e-9
    n, q = len(X), int(is_poor.sum())
    gap = np.where(g0, (Z - X) / Z, 0.0)  # normalised gaps, 0 where not deprived
    g0k = g0 & is_poor[:, None]  # censored: only the poor's deprivations count
    g1k = np.where(is_poor[:, None], gap, 0.0)
    M0 = float((g0k @ W).mean())
    M1 = float((g1k @ W).mean())
    M2 = float(((g1k**2) @ W).mean())
    H = q / n
    A = M0 / H if q else 0.0
    hk = pd.Series(g0k.mean(axis=0), index=dims, dtype="float64")
    contrib = (w * hk / M0) if M0 > 0 else pd.Series(np.nan, index=dims)
    g0 = pd.DataFrame(g0, index=x.index, columns=dims)
    scores = pd.Series(c, index=x.index, dtype="float64")
    poor = pd.Series(is_poor, index=x.index)
    return AFResult(
        H=H, A=A, M0=M0, M1=M1, M2=M2, k=k, n=n, q=q,
        weights=w, cutoffs=z, deprived=g0, scores=scores, poor=poor,
        censored_headcounts=hk, uncensored_headcounts=g0.mean(axis=0).astype("float64"), contributions=contrib,
    )


def household_achievements(households: pd.DataFrame, persons: pd.DataFrame, year: int, dimensions: list[Dimension] | None = None) -> pd.DataFrame:
    """Per household and dimension: the share of the dimension's applicable indicators it passes
    (member convention for person indicators); NaN when none of them applies.

    Returns
    -------
    DataFrame
        Indexed by the household key, one column per dimension key.
    """
    dims = poverty_dimensions() if dimensions is None else list(dimensions)
    key = rules.key_column(households, persons)
    hs = rules.household_status(households, persons, year)
    _check_dimensions(dims, set(hs["indicator"].unique()), year)
    out = pd.DataFrame(index=pd.Index(households[key].drop_duplicates(), name=key))
    for d in dims:
        sub = hs[hs["indicator"].isin(d.indicators)]
        g = sub.groupby(key)[["applicable", "passed"]].sum()
        share = g["passed"] / g["applicable"].where(g["applicable"] > 0)
        out[d.key] = share.reindex(out.index).astype("float64")
    return out


def _read_village(ws: Workspace, table: str, village_code: str, year: int) -> pd.DataFrame:
    from .sql import cursor

    files = _files(ws, table, year)
    if not files:
        return pd.DataFrame()
    with cursor() as con:
        return con.execute(f"SELECT * FROM {_source(files)} WHERE village_code = {_lit(village_code)}").df()


def village_alkire_foster(ws: Workspace, village_code: str, year: int) -> AFResult:
    """Alkire–Foster over a village's households for one survey year.

    Achievement per dimension = share of the household's applicable indicators of that dimension
    it passes (:func:`household_achievements`); a dimension where none applies counts as not
    deprived (achievement = its cutoff). Cutoff, k and weights come from ``poverty.yaml``.

    Raises
    ------
    InputError
        When the village has no household records for the year (e.g. platform aggregates only).
    """
    code = check_village_code(village_code)
    hh = _read_village(ws, "households", code, year)
    if hh.empty:
        raise InputError(f"village {code} has no household records for survey year {year} (aggregates only?)", str(ws.processed))
    ps = _read_village(ws, "persons", code, year)
    if ps.empty:
        ps = pd.DataFrame(columns=[rules.key_column(hh), "village_code", "age_years", "age_months", "health"])
    dims = poverty_dimensions()
    settings = alkire_foster_settings()
    cutoff = settings.get("cutoff", 1.0)
    x = household_achievements(hh, ps, year, dims)
    z = _per_dimension(cutoff, x.columns, "cutoff")
    x = x.fillna(z)
    weights = settings.get("weights")
    return alkire_foster(x, z, weights=weights, k=settings.get("k", 1 / 3))

