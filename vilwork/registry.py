"""Definitions as data: indicator sets, thresholds, poverty dimensions, กชช. 2ค, capital, areas.

Everything here is read from ``vilwork/definitions/`` (or another folder given by the
``VILWORK_DEFINITIONS`` environment variable). A new survey period is a new folder plus a line in
``periods.yaml``; no code changes.
"""
from __future__ import annotations

import copy
import os
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from .errors import DefinitionError

_RULE_KINDS = {"all_of", "none_of", "min_value"}
_MIN_VALUE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*>=\s*(threshold|\d+(?:\.\d+)?)\s*$")


def definitions_dir() -> Path:
    """The folder the definitions are read from."""
    return Path(os.environ.get("VILWORK_DEFINITIONS") or Path(__file__).parent / "definitions")


@lru_cache(maxsize=128)
def _parse_yaml(path: str, mtime_ns: int, size: int):
    """Parse one YAML file; cached by path, modification time and size (an edit is seen)."""
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise DefinitionError(f"definition file {path} is not valid YAML: {e}") from None


def _read_yaml(rel: str) -> dict:
    """A definition file's content: parsed once per process, a fresh deep copy for every caller.

    Parsing was about 460 times a village (``issue_areas.yaml`` alone 169 times); a deep copy of
    the parsed file costs a fraction of that, and a caller that changes what it got cannot change
    what the next caller gets.
    """
    path = definitions_dir() / rel
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DefinitionError(f"definition file {path} is missing") from None
    try:
        return copy.deepcopy(_parse_yaml(str(path), st.st_mtime_ns, st.st_size))
    except FileNotFoundError:
        raise DefinitionError(f"definition file {path} is missing") from None


def _read_csv(rel: str) -> pd.DataFrame:
    path = definitions_dir() / rel
    if not path.exists():
        raise DefinitionError(f"definition file {path} is missing")
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


@dataclass(frozen=True)
class Rule:
    """How one indicator is passed.

    ``kind`` is ``all_of`` (all items are 1), ``none_of`` (all items are 0) or ``min_value``
    (``items[0] >= value``; ``value`` is None when the threshold comes from thresholds.csv).
    """

    kind: str
    items: tuple[str, ...]
    value: float | None = None

    @property
    def uses_threshold(self) -> bool:
        return self.kind == "min_value" and self.value is None


@dataclass(frozen=True)
class IndicatorSet:
    """One จปฐ. indicator set (e.g. 2560-2564) as read from its folder."""

    name: str
    first_year: int
    last_year: int
    reference_day: str
    indicators: pd.DataFrame = field(repr=False)  # indexed by indicator number
    groups: pd.DataFrame = field(repr=False)  # indexed by group number
    targets: dict = field(repr=False)
    rules: dict = field(repr=False)  # indicator -> Rule

    def person_indicators(self) -> list[int]:
        return [int(i) for i in self.indicators.index[self.indicators["unit"] == "person"]]

    def household_indicators(self) -> list[int]:
        return [int(i) for i in self.indicators.index[self.indicators["unit"] == "household"]]

    def items(self, unit: str | None = None) -> list[str]:
        """Every answer column the rules read (optionally only for one unit), in order."""
        out: list[str] = []
        for i, rule in self.rules.items():
            if unit and self.indicators.at[i, "unit"] != unit:
                continue
            out.extend(c for c in rule.items if c not in out)
        return out

    def indicator_name(self, indicator: int, lang: str = "th", short: bool = False) -> str:
        col = ("short_" if short else "name_") + ("en" if lang == "en" else "th")
        return str(self.indicators.at[int(indicator), col])

    def group_name(self, group: int, lang: str = "th") -> str:
        return str(self.groups.at[int(group), "name_en" if lang == "en" else "name_th"])


def _parse_rule(ind: int, kind: str, items: str) -> Rule:
    if kind not in _RULE_KINDS:
        raise DefinitionError(f"indicator {ind}: unknown rule kind {kind!r} (known: {sorted(_RULE_KINDS)})")
    if kind == "min_value":
        m = _MIN_VALUE.match(items)
        if not m:
            raise DefinitionError(f"indicator {ind}: min_value rule must read 'column>=N' or 'column>=threshold', got {items!r}")
        return Rule(kind, (m.group(1),), None if m.group(2) == "threshold" else float(m.group(2)))
    cols = tuple(c.strip() for c in items.split(";") if c.strip())
    if not cols:
        raise DefinitionError(f"indicator {ind}: rule {kind} names no items")
    return Rule(kind, cols)


def _period(kind: str, year: int) -> dict:
    periods = _read_yaml("periods.yaml").get(kind) or []
    for p in periods:
        if int(p["first_year"]) <= int(year) <= int(p["last_year"]):
            return p
    known = ", ".join(f"{p['first_year']}–{p['last_year']}" for p in periods) or "none"
    raise DefinitionError(f"no {kind} definition set covers survey year {year} (periods defined: {known}); add one to periods.yaml")


@lru_cache(maxsize=None)
def _load_bmn_set(name: str, first: int, last: int, reference_day: str) -> IndicatorSet:
    base = f"bmn/{name}"
    ind = _read_csv(f"{base}/indicators.csv")
    required = {"indicator", "group", "unit", "target", "rule", "items", "name_th", "name_en"}
    missing = required - set(ind.columns)
    if missing:
        raise DefinitionError(f"{base}/indicators.csv lacks columns {sorted(missing)}")
    ind["indicator"] = ind["indicator"].astype(int)
    ind["group"] = ind["group"].astype(int)
    ind = ind.set_index("indicator", drop=False).sort_index()
    bad_unit = set(ind["unit"]) - {"person", "household"}
    if bad_unit:
        raise DefinitionError(f"{base}/indicators.csv: unknown unit(s) {sorted(bad_unit)}")
    groups = _read_csv(f"{base}/groups.csv")
    groups["group"] = groups["group"].astype(int)
    groups = groups.set_index("group", drop=False)
    targets = _read_yaml(f"{base}/targets.yaml")
    rules = {}
    for i, row in ind.iterrows():
        if row["target"] not in targets:
            raise DefinitionError(f"indicator {i}: target group {row['target']!r} is not in {base}/targets.yaml")
        if row["group"] not in groups.index:
            raise DefinitionError(f"indicator {i}: group {row['group']} is not in {base}/groups.csv")
        rules[int(i)] = _parse_rule(int(i), row["rule"], row["items"])
    return IndicatorSet(name, first, last, reference_day, ind, groups, {k: (v or {}) for k, v in targets.items()}, rules)


def indicator_set(year: int) -> IndicatorSet:
    """The จปฐ. indicator set for survey year ``year`` (BE).

    Raises
    ------
    DefinitionError
        When no period in ``periods.yaml`` covers the year, or the set's files are malformed.
    """
    p = _period("bmn", year)
    return _load_bmn_set(str(p["set"]), int(p["first_year"]), int(p["last_year"]), str(p.get("reference_day", "03-31")))


@lru_cache(maxsize=None)
def _thresholds() -> pd.DataFrame:
    t = _read_csv("bmn/thresholds.csv")
    t["year"] = t["year"].astype(int)
    t["indicator"] = t["indicator"].astype(int)
    t["threshold"] = t["threshold"].astype(float)
    return t


def threshold(year: int, indicator: int = 22) -> float:
    """The threshold of ``indicator`` (default 22, income per person per year) in survey year ``year``.

    Raises
    ------
    DefinitionError
        When thresholds.csv has no row for that year: there is no silent default.
    """
    t = _thresholds()
    hit = t[(t["year"] == int(year)) & (t["indicator"] == int(indicator))]
    if hit.empty:
        have = ", ".join(str(y) for y in sorted(t.loc[t["indicator"] == int(indicator), "year"]))
        raise DefinitionError(
            f"no threshold for indicator {indicator} in survey year {year} (years defined: {have}); "
            f"add a row to {definitions_dir() / 'bmn/thresholds.csv'}"
        )
    return float(hit["threshold"].iloc[0])


@dataclass(frozen=True)
class Dimension:
    key: str
    name_th: str
    name_en: str
    indicators: tuple[int, ...]

    def name(self, lang: str = "th") -> str:
        return self.name_en if lang == "en" else self.name_th


def poverty_dimensions(scheme: str = "tpmap") -> list[Dimension]:
    """The poverty dimensions of ``scheme`` (poverty.yaml), each with its จปฐ. indicators."""
    doc = _read_yaml("poverty.yaml")
    if scheme not in doc:
        raise DefinitionError(f"poverty.yaml has no scheme {scheme!r}")
    return [
        Dimension(d["key"], d["name_th"], d["name_en"], tuple(int(i) for i in d["indicators"]))
        for d in doc[scheme]["dimensions"]
    ]


def alkire_foster_settings() -> dict:
    """Cutoff, k and weights for the village Alkire–Foster measure (poverty.yaml)."""
    return dict(_read_yaml("poverty.yaml").get("alkire_foster") or {})


@dataclass(frozen=True)
class KchchSet:
    """One กชช. 2ค definition set."""

    name: str
    aspects: pd.DataFrame = field(repr=False)
    indicators: pd.DataFrame = field(repr=False)
    levels: dict = field(repr=False)

    def village_class(self, indicator_levels) -> int:
        """Class (1 lagging, 2 moderate, 3 advanced) of a village from its indicator levels by the configured rule."""
        vals = [int(v) for v in indicator_levels if v is not None and not pd.isna(v)]
        severe = sum(v == 1 for v in vals)
        mod_or_worse = sum(v in (1, 2) for v in vals)
        for r in self.levels["rule"]:
            w = r.get("when") or {}
            unknown = set(w) - {"severe_min", "moderate_or_worse_min"}
            if unknown:
                raise DefinitionError(f"กชช. 2ค rule has unknown conditions {sorted(unknown)}")
            if severe >= w.get("severe_min", 0) and mod_or_worse >= w.get("moderate_or_worse_min", 0):
                return int(r["class"])
        raise DefinitionError("กชช. 2ค rule list has no rule that always matches; end it with `when: {}`")

    def class_name(self, cls: int, lang: str = "th") -> str:
        return self.levels["village_classes"][int(cls)]["name_en" if lang == "en" else "name_th"]


@lru_cache(maxsize=None)
def _load_kchch(name: str) -> KchchSet:
    base = f"kchch2k/{name}"
    asp = _read_csv(f"{base}/aspects.csv")
    asp["aspect"] = asp["aspect"].astype(int)
    ind = _read_csv(f"{base}/indicators.csv")
    ind["indicator"] = ind["indicator"].astype(int)
    ind["aspect"] = ind["aspect"].astype(int)
    return KchchSet(name, asp.set_index("aspect", drop=False), ind.set_index("indicator", drop=False), _read_yaml(f"{base}/levels.yaml"))


def kchch2k_set(year: int) -> KchchSet:
    """The กชช. 2ค definition set for data year ``year`` (BE)."""
    return _load_kchch(str(_period("kchch2k", year)["set"]))


def capital_kinds() -> list[dict]:
    """The five kinds of community capital (capital.yaml), in order."""
    return list(_read_yaml("capital.yaml")["kinds"])


def issue_areas() -> list[dict]:
    """The five issue areas (issue_areas.yaml) with the indicators and aspects each touches."""
    return list(_read_yaml("issue_areas.yaml")["areas"])


@lru_cache(maxsize=None)
def totals_row_words() -> tuple[str, ...]:
    """Folded words that mark a totals row in an export (``ingest.yaml``), longest first."""
    words = _read_yaml("ingest.yaml").get("totals_row_words") or []
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise DefinitionError("ingest.yaml: totals_row_words must be a list of words")
    return tuple(sorted({_fold(w) for w in words}, key=len, reverse=True))


def _fold(s: str) -> str:
    return " ".join(unicodedata.normalize("NFC", str(s)).replace("\u00a0", " ").split()).casefold()


@lru_cache(maxsize=None)
def column_aliases(table: str) -> dict[str, str]:
    """Map folded header text (Thai header or English alias) to the canonical column of ``table``."""
    a = _read_csv("aliases.csv")
    a = a[a["table"] == table]
    if a.empty:
        raise DefinitionError(f"aliases.csv has no columns for table {table!r}")
    out: dict[str, str] = {}
    for _, r in a.iterrows():
        for alias in [r["header_th"], r["column"], *r["aliases_en"].split(";")]:
            if alias.strip():
                out[_fold(alias)] = r["column"]
    return out


def thai_headers(table: str) -> dict[str, str]:
    """Canonical column → the Thai header an officer's export uses (for writing files)."""
    a = _read_csv("aliases.csv")
    a = a[a["table"] == table]
    return dict(zip(a["column"], a["header_th"]))


def fold_header(s: str) -> str:
    """The folded form of a header used for alias matching (NFC, spaces collapsed, case-folded)."""
    return _fold(s)
