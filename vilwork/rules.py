"""The จปฐ. indicator rules on pandas frames: the reference implementation.

This is the straightforward, readable version of what :mod:`vilwork.indicators` computes with
DuckDB over the whole survey. It is used by the demo-data generator (``synth`` writes platform
aggregates with :func:`village_member_counts`), by the tests as the oracle for the engine, and by
``benchmarks/bench_indicators.py`` as the baseline. Nothing here touches disk.

Frames are in the processed schema (docs/architecture.md): households carry ``house_key`` (or
``house_code``), ``village_code``, ``members``, the household answer items and
``income_per_member``; persons carry ``house_key``/``house_code``, ``village_code``,
``age_years``, ``age_months``, ``health`` (normal/disabled/chronic), the person answer items and
``birth_weight_g``.

The rules (registry ``indicators.csv``) are read, never hard-coded:

* ``all_of``   pass when every item is 1;
* ``none_of``  pass when every item is 0 (12 and 14: no nuisance, no threat present);
* ``min_value`` pass when the column is at least the value, or at least the year's threshold from
  ``thresholds.csv`` (22: income per member); a year without a threshold raises
  :class:`~vilwork.errors.DefinitionError`.

An indicator applies to a person (household) when the target group of ``targets.yaml`` holds and
every item is answered (non-null). Two ways of counting follow (see docs/indicators.md):

* **official** (questionnaire units): person indicators count persons, household indicators count
  households;
* **member** (the national platform's ``indicatorN.ALL``/``.CNT``): every indicator counts the
  members of the households it applies to, and the members of failing households as failing; a
  household fails a person indicator when any of its target persons fails.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .errors import DefinitionError
from .registry import IndicatorSet, Rule, indicator_set, threshold

__all__ = [
    "TARGET_CONDITIONS",
    "household_status",
    "person_status",
    "rule_threshold",
    "village_group_counts",
    "village_member_counts",
    "village_official_counts",
]

#: Target-group conditions targets.yaml may use (ANDed). Ages are on the period's reference day;
#: ``age_months`` is the completed months of age (so ``age_months_max: 11`` = under one year).
TARGET_CONDITIONS = {
    "age_years_min": ("age_years", ">="),
    "age_years_max": ("age_years", "<="),
    "age_months_min": ("age_months", ">="),
    "age_months_max": ("age_months", "<="),
    "health": ("health", "in"),
    "answered": (None, "answered"),
}

_KEYS = ("house_key", "house_code")


# --------------------------------------------------------------------------------------------
# helpers shared with the engine
# --------------------------------------------------------------------------------------------
def key_column(*frames: pd.DataFrame) -> str:
    """The household join key the frames share: ``house_key`` if all have it, else ``house_code``."""
    for k in _KEYS:
        if all(k in f.columns for f in frames):
            return k
    raise KeyError("frames share no household key column (house_key or house_code)")


def check_target(name: str, cond: Mapping) -> dict:
    """Validate one target group's conditions; return them as a plain dict.

    Raises
    ------
    DefinitionError
        On an unknown condition or ``answered`` other than true.
    """
    cond = dict(cond or {})
    unknown = set(cond) - set(TARGET_CONDITIONS)
    if unknown:
        raise DefinitionError(
            f"target group {name!r} has unknown condition(s) {sorted(unknown)} (known: {sorted(TARGET_CONDITIONS)})"
        )
    if "answered" in cond and cond["answered"] is not True:
        raise DefinitionError(f"target group {name!r}: 'answered' can only be true")
    return cond


def health_values(value) -> list[str]:
    """The health status(es) a ``health`` condition admits (a string or a list)."""
    return [value] if isinstance(value, str) else [str(v) for v in value]


def rule_threshold(rule: Rule, indicator: int, year: int) -> float | None:
    """The comparison value of a ``min_value`` rule in ``year`` (None for other kinds).

    Raises
    ------
    DefinitionError
        When the rule uses the year's threshold and thresholds.csv has none for that year.
    """
    if rule.kind != "min_value":
        return None
    return float(threshold(year, indicator)) if rule.uses_threshold else float(rule.value)


def _column(frame: pd.DataFrame, col: str) -> pd.Series:
    """A column as float (NaN = missing); a column the frame lacks is all missing."""
    if col not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[col], errors="coerce").astype("float64")


def _target_mask(frame: pd.DataFrame, cond: dict) -> np.ndarray:
    """True where a row is in the target group (conditions ANDed; a missing age is not in it)."""
    mask = np.ones(len(frame), dtype=bool)
    for name, value in cond.items():
        col, op = TARGET_CONDITIONS[name]
        if op == "answered":
            continue  # implied by "every item answered"
        if op == "in":
            s = frame[col] if col in frame.columns else pd.Series(pd.NA, index=frame.index)
            mask &= s.isin(health_values(value)).to_numpy(dtype=bool)
            continue
        x = _column(frame, col).to_numpy()
        with np.errstate(invalid="ignore"):
            mask &= (x >= float(value)) if op == ">=" else (x <= float(value))
    return mask


def _evaluate(frame: pd.DataFrame, rule: Rule, cond: dict, value: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(applicable, passed) for every row of ``frame`` under one rule; passed is False where not applicable."""
    cols = [_column(frame, c).to_numpy() for c in rule.items]
    answered = np.ones(len(frame), dtype=bool)
    for x in cols:
        answered &= ~np.isnan(x)
    applicable = _target_mask(frame, cond) & answered
    if rule.kind == "all_of":
        ok = np.ones(len(frame), dtype=bool)
        for x in cols:
            ok &= x == 1
    elif rule.kind == "none_of":
        ok = np.ones(len(frame), dtype=bool)
        for x in cols:
            ok &= x == 0
    elif rule.kind == "min_value":
        with np.errstate(invalid="ignore"):
            ok = cols[0] >= value
    else:  # the registry refuses other kinds; keep the guard for hand-built sets
        raise DefinitionError(f"unknown rule kind {rule.kind!r}")
    return applicable, applicable & ok


def _set_and_values(year: int) -> tuple[IndicatorSet, dict[int, float | None]]:
    iset = indicator_set(year)
    values = {i: rule_threshold(r, i, year) for i, r in iset.rules.items()}
    return iset, values


def _target_of(iset: IndicatorSet, indicator: int) -> dict:
    name = iset.indicators.at[indicator, "target"]
    cond = check_target(name, iset.targets.get(name, {}))
    if iset.indicators.at[indicator, "unit"] == "household" and set(cond) - {"answered"}:
        raise DefinitionError(f"indicator {indicator} is a household indicator but its target {name!r} has person conditions")
    return cond


# --------------------------------------------------------------------------------------------
# per unit
# --------------------------------------------------------------------------------------------
def person_status(persons: pd.DataFrame, year: int) -> pd.DataFrame:
    """Status of every person for every person indicator of the year's set.

    Parameters
    ----------
    persons : DataFrame
        Person records (processed schema).
    year : int
        Survey year (BE); picks the indicator set and thresholds.

    Returns
    -------
    DataFrame
        Long, one row per person × person indicator: the household key column, ``village_code``,
        ``person`` (0-based row position in ``persons``), ``indicator``, ``applicable`` (bool),
        ``passed`` (bool; False where not applicable).
    """
    iset, values = _set_and_values(year)
    key = key_column(persons)
    n = len(persons)
    parts = []
    for i in iset.person_indicators():
        app, ok = _evaluate(persons, iset.rules[i], _target_of(iset, i), values[i])
        parts.append(
            pd.DataFrame(
                {
                    key: persons[key].to_numpy(),
                    "village_code": persons["village_code"].to_numpy(),
                    "person": np.arange(n, dtype="int64"),
                    "indicator": np.full(n, i, dtype="int64"),
                    "applicable": app,
                    "passed": ok,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=[key, "village_code", "person", "indicator", "applicable", "passed"])
    return pd.concat(parts, ignore_index=True)


def household_status(households: pd.DataFrame, persons: pd.DataFrame, year: int) -> pd.DataFrame:
    """Status of every household for every indicator (all of the set), member convention.

    A household indicator applies when its items are answered. A person indicator applies to a
    household when at least one of its persons is in the target group with an answer, and the
    household fails it when any such person fails.

    Returns
    -------
    DataFrame
        Long, one row per household × indicator: the key column, ``village_code``, ``indicator``,
        ``group``, ``unit`` (official unit of the indicator), ``applicable``, ``passed``,
        ``failed`` (bools; passed and failed False where not applicable), ``members`` (the
        household's ``members`` column; the count of its person records when that column is
        absent).
    """
    iset, values = _set_and_values(year)
    key = key_column(households, persons)
    hh_keys = households[key].to_numpy()
    n = len(households)
    if "members" in households.columns:
        members = pd.to_numeric(households["members"], errors="coerce").fillna(0).astype("int64").to_numpy()
    else:
        members = households[key].map(persons.groupby(key).size()).fillna(0).astype("int64").to_numpy()

    ps = person_status(persons, year)
    by_house = (
        ps.assign(fail=ps["applicable"] & ~ps["passed"])
        .groupby([key, "indicator"], sort=False)[["applicable", "fail"]]
        .any()
    )
    parts = []
    for i in iset.indicators.index:
        i = int(i)
        unit = iset.indicators.at[i, "unit"]
        if unit == "household":
            app, ok = _evaluate(households, iset.rules[i], _target_of(iset, i), values[i])
            fail = app & ~ok
        else:
            sub = by_house.xs(i, level="indicator") if len(by_house) else by_house
            app = pd.Series(hh_keys).map(sub["applicable"]).fillna(False).to_numpy(dtype=bool)
            fail = pd.Series(hh_keys).map(sub["fail"]).fillna(False).to_numpy(dtype=bool)
        parts.append(
            pd.DataFrame(
                {
                    key: hh_keys,
                    "village_code": households["village_code"].to_numpy(),
                    "indicator": np.full(n, i, dtype="int64"),
                    "group": np.full(n, int(iset.indicators.at[i, "group"]), dtype="int64"),
                    "unit": unit,
                    "applicable": app,
                    "passed": app & ~fail,
                    "failed": fail,
                    "members": members,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------------------------
# per village
# --------------------------------------------------------------------------------------------
def village_member_counts(households: pd.DataFrame, persons: pd.DataFrame, year: int) -> pd.DataFrame:
    """Platform-convention counts per village and indicator (what ``indicatorN.ALL``/``.CNT`` hold).

    ``all`` = members of the households the indicator applies to; ``cnt`` = members of the
    households failing it. Every village of ``households`` gets a row for every indicator.

    Returns
    -------
    DataFrame
        ``village_code``, ``indicator``, ``all``, ``cnt`` (int64), sorted by village and indicator.
    """
    hs = household_status(households, persons, year)
    hs = hs.assign(
        all=np.where(hs["applicable"], hs["members"], 0),
        cnt=np.where(hs["failed"], hs["members"], 0),
    )
    out = hs.groupby(["village_code", "indicator"], as_index=False)[["all", "cnt"]].sum()
    out = out.astype({"all": "int64", "cnt": "int64", "indicator": "int64"})
    return out.sort_values(["village_code", "indicator"], ignore_index=True)


def village_official_counts(households: pd.DataFrame, persons: pd.DataFrame, year: int) -> pd.DataFrame:
    """Counts in the questionnaire's units per village and indicator.

    Person indicators count persons (by the person's ``village_code``) in the target group with an
    answer; household indicators count households with an answer.

    Returns
    -------
    DataFrame
        ``village_code``, ``indicator``, ``unit`` (person/household), ``surveyed``, ``passed``,
        ``failed`` (int64); every village of either frame has a row for every indicator.
    """
    iset, values = _set_and_values(year)
    villages = sorted(set(households["village_code"].dropna()) | set(persons["village_code"].dropna()))
    rows = []
    for i in iset.indicators.index:
        i = int(i)
        unit = iset.indicators.at[i, "unit"]
        frame = households if unit == "household" else persons
        app, ok = _evaluate(frame, iset.rules[i], _target_of(iset, i), values[i])
        g = pd.DataFrame({"village_code": frame["village_code"].to_numpy(), "s": app, "p": ok})
        g = g.groupby("village_code")[["s", "p"]].sum()
        g = g.reindex(villages, fill_value=0)
        rows.append(
            pd.DataFrame(
                {
                    "village_code": villages,
                    "indicator": i,
                    "unit": unit,
                    "surveyed": g["s"].to_numpy(dtype="int64"),
                    "passed": g["p"].to_numpy(dtype="int64"),
                }
            )
        )
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["village_code", "indicator", "unit", "surveyed", "passed"]
    )
    out["failed"] = out["surveyed"] - out["passed"]
    out["indicator"] = out["indicator"].astype("int64")
    return out.sort_values(["village_code", "indicator"], ignore_index=True)


def village_group_counts(households: pd.DataFrame, persons: pd.DataFrame, year: int) -> pd.DataFrame:
    """Group rows per village: a household passes a group when it passes every indicator of the
    group that applies to it (member convention for person indicators); the group applies when at
    least one of its indicators does.

    Returns
    -------
    DataFrame
        ``village_code``, ``group``, ``unit`` (``household``: households; ``member``: their
        members), ``surveyed``, ``passed``, ``failed`` (int64), sorted by village, group, unit.
    """
    hs = household_status(households, persons, year)
    key = key_column(households, persons)
    per = hs.groupby([key, "village_code", "group"], as_index=False).agg(
        applicable=("applicable", "any"), failed=("failed", "any"), members=("members", "first")
    )
    per["passed"] = per["applicable"] & ~per["failed"]
    per["m_app"] = np.where(per["applicable"], per["members"], 0)
    per["m_pass"] = np.where(per["passed"], per["members"], 0)
    g = per.groupby(["village_code", "group"], as_index=False).agg(
        h_s=("applicable", "sum"), h_p=("passed", "sum"), m_s=("m_app", "sum"), m_p=("m_pass", "sum")
    )
    hh = g[["village_code", "group"]].assign(unit="household", surveyed=g["h_s"], passed=g["h_p"])
    mm = g[["village_code", "group"]].assign(unit="member", surveyed=g["m_s"], passed=g["m_p"])
    out = pd.concat([hh, mm], ignore_index=True)
    out = out.astype({"surveyed": "int64", "passed": "int64", "group": "int64"})
    out["failed"] = out["surveyed"] - out["passed"]
    return out.sort_values(["village_code", "group", "unit"], ignore_index=True)
