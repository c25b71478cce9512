"""The indicator engine: จปฐ. indicators per village, tambon, district and province with DuckDB.

The rules are compiled from the registry (``indicators.csv``, ``targets.yaml``,
``thresholds.csv``) into SQL; nothing here knows what indicator 12 or 22 is. Per survey year, one
scan of the persons and two queries, whatever the number of indicators:

0. every person gets a status word (one ``CASE`` per person indicator sets an "applies" bit and
   a "fails" bit), kept with the household key and the village in a temporary table;
1. from it, per village, one sum per person indicator gives the official person counts;
2. one ``GROUP BY`` household key ORs the persons' words (the member convention: a household
   fails a person indicator when any target person fails), joined once to the households, whose
   own indicators add their bits; the joined rows go straight into per-village sums of
   household counts, member counts and group rows (and, for :func:`compute_all`, the TPMAP
   poverty counts). Every count is read from a status word by a shift and a mask.

The household key is ``hh_id``, the integer ingest writes beside ``house_key``; workspaces
ingested before it existed are joined on ``house_key`` (the same groups, a little slower).

Villages that only have platform aggregates (``aggregates/``) get member rows from ``all``/``cnt``.
Tambon, district and province rows are sums of the village rows (numpy, in output order).
See docs/indicators.md.
"""
from __future__ import annotations

import errno
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import atomic
from .errors import DefinitionError, InputError, NoUsableDataError, OutputError
from .locks import processed_lock
from .log import get_logger
from .registry import IndicatorSet, indicator_set, kchch2k_set
from .rules import TARGET_CONDITIONS, check_target, health_values, rule_threshold
from .workspace import Workspace

log = get_logger(__name__)

__all__ = [
    "LEVELS",
    "OUTPUT_SCHEMA",
    "CompiledRules",
    "ComputeSummary",
    "compile_rules",
    "compute_all",
    "compute_indicators",
    "connect",
    "load_indicators",
    "survey_years",
]

#: Output levels and the length of their codes.
LEVELS: dict[str, int] = {"village": 8, "tambon": 6, "district": 4, "province": 2}

OUTPUT_SCHEMA = pa.schema(
    [
        ("year", pa.int16()),
        ("level", pa.string()),
        ("code", pa.string()),
        ("indicator", pa.int16()),
        ("group", pa.int16()),
        ("unit", pa.string()),
        ("surveyed", pa.int64()),
        ("passed", pa.int64()),
        ("failed", pa.int64()),
        ("pass_rate", pa.float64()),
        ("source", pa.string()),
    ]
)


# ============================================================================================
# DuckDB connection and file discovery
# ============================================================================================
def _total_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def connect(ws: Workspace, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for the engine.

    ``threads``: worker threads (default: DuckDB's, the number of cores). Memory limit: the
    ``VILWORK_DUCKDB_MEMORY`` environment variable (e.g. ``16GB``), else 70 % of physical memory;
    what does not fit spills to ``data/processed/.duckdb_tmp`` (removed again by :func:`_close`).
    """
    con = duckdb.connect(":memory:")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    mem = os.environ.get("VILWORK_DUCKDB_MEMORY")
    if not mem:
        total = _total_memory()
        mem = f"{max(1, int(total * 0.7) // 2**20)}MB" if total else None
    if mem:
        con.execute(f"SET memory_limit = '{mem}'")
    tmp = ws.processed / ".duckdb_tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = {_lit(tmp.as_posix())}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


def _close(con: duckdb.DuckDBPyConnection, ws: Workspace) -> None:
    con.close()
    tmp = ws.processed / ".duckdb_tmp"
    if tmp.is_dir():
        shutil.rmtree(tmp, ignore_errors=True)


def _files(ws: Workspace, table: str, year: int) -> list[str]:
    d = ws.processed / table / f"year={int(year)}"
    return sorted(p.as_posix() for p in d.rglob("*.parquet")) if d.is_dir() else []


def survey_years(ws: Workspace, tables: Iterable[str] = ("households", "persons", "aggregates")) -> list[int]:
    """Survey years (BE) with Parquet under ``data/processed/<table>/year=YYYY/``."""
    years: set[int] = set()
    for table in tables:
        base = ws.processed / table
        if not base.is_dir():
            continue
        for d in base.glob("year=*"):
            y = d.name.split("=", 1)[1]
            if y.isdigit() and any(d.rglob("*.parquet")):
                years.add(int(y))
    return sorted(years)


def _source(files: list[str]) -> str:
    return f"read_parquet([{', '.join(_lit(f) for f in files)}], hive_partitioning = true, union_by_name = true)"


def _columns(con: duckdb.DuckDBPyConnection, files: list[str]) -> set[str]:
    if not files:
        return set()
    return {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {_source(files)}").fetchall()}


# ============================================================================================
# compiling rules to SQL
# ============================================================================================
def _id(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _lit(value) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    f = float(value)
    # an integer literal keeps integer columns integer (12.0 would be a DECIMAL and cast every row)
    return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)


@dataclass(frozen=True)
class CompiledRules:
    """The year's indicator set compiled to SQL.

    ``applies[i]`` (in the target group, every item answered) and ``ok[i]`` (the rule holds,
    read only where ``applies[i]``) are SQL boolean expressions over one row of the unit's table;
    they may be NULL, which means false. ``passes``/``fails`` combine them.

    Status bits: every indicator has a word and a position ``bits[i] = (word, k)``; a BIGINT status
    word ``c<word>`` has bit ``k`` set when the indicator applies and bit ``k + 31`` when it
    fails. One ``CASE`` per indicator and row yields both, and ``bit_or`` over a household's
    persons gives the member convention (applies when any target person has an answer, fails
    when any fails).
    """

    year: int
    iset: IndicatorSet = field(repr=False)
    person: tuple[int, ...]
    household: tuple[int, ...]
    applies: dict[int, str] = field(repr=False)
    ok: dict[int, str] = field(repr=False)
    bits: dict[int, tuple[int, int]] = field(repr=False)
    key: str = "house_key"
    missing: tuple[str, ...] = ()

    @property
    def words(self) -> int:
        return max(w for w, _ in self.bits.values()) + 1 if self.bits else 1

    def passes(self, i: int) -> str:
        return f"({self.applies[i]} AND {self.ok[i]})"

    def fails(self, i: int) -> str:
        return f"({self.applies[i]} AND NOT {self.ok[i]})"

    def groups(self) -> dict[int, list[int]]:
        """group → its indicators, in order."""
        out: dict[int, list[int]] = {}
        for i, g in self.iset.indicators["group"].items():
            out.setdefault(int(g), []).append(int(i))
        return dict(sorted(out.items()))

    def status_word(self, indicators: Iterable[int], word: int) -> str:
        """SQL BIGINT: the status bits of ``indicators`` (those in ``word``) for one row."""
        parts = []
        for i in indicators:
            w, k = self.bits[i]
            if w != word or self.applies[i] == "FALSE":
                continue
            a, f = 1 << k, 1 << (k + _FAIL_SHIFT)
            if i in self.household:  # mostly applies: one flat CASE costs a quarter less than two nested
                parts.append(f"CASE WHEN ({self.applies[i]}) IS NOT TRUE THEN 0 WHEN {self.ok[i]} THEN {a} ELSE {a | f} END")
            else:  # mostly outside the target group: the inner CASE runs on the few inside
                parts.append(f"CASE WHEN {self.applies[i]} THEN (CASE WHEN {self.ok[i]} THEN {a} ELSE {a | f} END) ELSE 0 END")
        return f"CAST({' | '.join(parts) if parts else '0'} AS BIGINT)"

    def applies_bit(self, i: int, prefix: str = "c") -> str:
        w, k = self.bits[i]
        return f"(({prefix}{w} & {1 << k}) <> 0)"

    def fails_bit(self, i: int, prefix: str = "c") -> str:
        w, k = self.bits[i]
        return f"(({prefix}{w} & {1 << (k + _FAIL_SHIFT)}) <> 0)"

    def any_bit(self, indicators: Iterable[int], fail: bool, prefix: str = "c") -> str:
        """SQL: any of ``indicators`` applies (``fail=False``) / fails (``fail=True``)."""
        masks: dict[int, int] = {}
        for i in indicators:
            w, k = self.bits[int(i)]
            masks[w] = masks.get(w, 0) | (1 << (k + (_FAIL_SHIFT if fail else 0)))
        if not masks:
            return "FALSE"
        return "(" + " OR ".join(f"({prefix}{w} & {m}) <> 0" for w, m in sorted(masks.items())) + ")"


_FAIL_SHIFT = 31  # fail bits sit 31 above the applies bits, so 31 indicators share one BIGINT


def compile_rules(year: int, person_columns: Iterable[str], household_columns: Iterable[str], key: str = "house_key") -> CompiledRules:
    """Compile the indicator set of ``year`` into SQL over the columns the tables have.

    An indicator whose items or target columns a table lacks does not apply (logged once).

    Raises
    ------
    DefinitionError
        When no set covers the year, a rule needs the year's threshold and there is none, or a
        target group uses an unknown condition.
    """
    iset = indicator_set(year)
    cols = {"person": set(person_columns), "household": set(household_columns)}
    applies: dict[int, str] = {}
    ok: dict[int, str] = {}
    bits: dict[int, tuple[int, int]] = {}
    missing: list[str] = []
    for n, i in enumerate(int(x) for x in iset.indicators.index):
        bits[i] = (n // _FAIL_SHIFT, n % _FAIL_SHIFT)
        unit = iset.indicators.at[i, "unit"]
        rule = iset.rules[i]
        value = rule_threshold(rule, i, year)  # DefinitionError for a year without a threshold
        target = iset.indicators.at[i, "target"]
        cond = check_target(target, iset.targets.get(target, {}))
        need = list(rule.items)
        terms: list[str] = []
        for name, v in cond.items():
            col, op = TARGET_CONDITIONS[name]
            if op == "answered":
                continue  # implied by "every item answered"
            if unit == "household":
                raise DefinitionError(f"indicator {i} is a household indicator but its target {target!r} has person conditions")
            need.append(col)
            if op == "in":
                terms.append(f"{_id(col)} IN ({', '.join(_lit(h) for h in health_values(v))})")
            else:
                terms.append(f"{_id(col)} {op} {_lit(v)}")
        absent = [c for c in need if c not in cols[unit]]
        if absent:
            missing.extend(f"{unit}s.{c}" for c in absent)
            applies[i], ok[i] = "FALSE", "FALSE"
            continue
        items = [_id(c) for c in rule.items]
        terms += [f"{c} IS NOT NULL" for c in items]
        if rule.kind == "all_of":
            rule_sql = " AND ".join(f"{c} = 1" for c in items)
        elif rule.kind == "none_of":
            rule_sql = " AND ".join(f"{c} = 0" for c in items)
        elif rule.kind == "min_value":
            rule_sql = f"{items[0]} >= {_lit(value)}"
        else:
            raise DefinitionError(f"indicator {i}: unknown rule kind {rule.kind!r}")
        applies[i] = f"({' AND '.join(terms)})"
        ok[i] = f"({rule_sql})"
    if missing:
        log.warning("year %s: columns missing from the processed data, their indicators do not apply: %s", year, ", ".join(sorted(set(missing))))
    return CompiledRules(
        year=int(year),
        iset=iset,
        person=tuple(iset.person_indicators()),
        household=tuple(iset.household_indicators()),
        applies=applies,
        ok=ok,
        bits=bits,
        key=key,
        missing=tuple(sorted(set(missing))),
    )


def person_status_sql(plan: CompiledRules, person_files: list[str], person_columns: set[str], *,
                      village: bool = False, welfare: bool = False) -> str:
    """SQL: one row per person: the household key, ``village_code`` (with ``village``), the status
    words ``c<w>`` of the person indicators and, with ``welfare``, ``w`` (1 for a welfare-card
    holder, else 0)."""
    cols = [_id(plan.key)] + (["village_code"] if village else []) + [f"{plan.status_word(plan.person, w)} AS c{w}" for w in range(plan.words)]
    if welfare:
        cols.append(f"{'CASE WHEN welfare_card THEN 1 ELSE 0 END' if 'welfare_card' in person_columns else '0'} AS w")
    return f"SELECT {', '.join(cols)} FROM {_source(person_files)}"


def house_masks_sql(plan: CompiledRules, person_files: list[str], person_columns: set[str],
                    counts: Iterable[str] = ("n_persons", "n_welfare"), persons: str | None = None) -> str:
    """SQL: one row per household key from the persons: status words ``c<w>`` of the person
    indicators ORed over the household's persons (the member convention: applies when any target
    person answered, fails when any fails), and the ``counts`` asked for: ``n_persons``,
    ``n_welfare`` (welfare-card holders). Each count is one more aggregate per person (and
    ``n_welfare`` one more column read), so the engine asks only for those it uses.

    ``persons``: a table of the persons' status already computed (:func:`person_status_sql`, with
    ``welfare`` when ``n_welfare`` is asked for); by default they are computed from the files."""
    k = _id(plan.key)
    words = range(plan.words)
    counts = [c for c in ("n_persons", "n_welfare") if c in set(counts)]
    if not person_files:
        cols = [f"CAST(NULL AS {_KEY_TYPES[plan.key]}) AS {k}"] + [f"CAST(0 AS BIGINT) AS c{w}" for w in words] + [f"CAST(0 AS BIGINT) AS {c}" for c in counts]
        return f"SELECT {', '.join(cols)} WHERE FALSE"
    src = persons or f"({person_status_sql(plan, person_files, person_columns, welfare='n_welfare' in counts)})"
    aggs = [f"bit_or(c{w}) AS c{w}" for w in words] + [{"n_persons": "count(*) AS n_persons", "n_welfare": "sum(w) AS n_welfare"}[c] for c in counts]
    return f"SELECT {k}, {', '.join(aggs)} FROM {src} GROUP BY {k}"


def households_joined_sql(plan: CompiledRules, household_files: list[str], household_columns: set[str], hp: str = "hp", hp_columns: Iterable[str] = ()) -> str:
    """SQL: one row per household: ``village_code``, members ``m``, and status words ``c<w>`` of
    every indicator (household indicators from the row, person indicators from the CTE ``hp``
    of :func:`house_masks_sql`, joined once).

    ``m`` is the household's ``members`` column (null = 0), or its number of person records when
    the households have no such column. ``hp_columns`` are passed through from ``hp`` (null = 0).
    """
    words = range(plan.words)
    k = _id(plan.key)
    has_members = "members" in household_columns
    m = "COALESCE(TRY_CAST(h.members AS BIGINT), 0)" if has_members else f"COALESCE({hp}.n_persons, 0)"
    inner = [k, "village_code"] + (["members"] if has_members else []) + [f"{plan.status_word(plan.household, w)} AS hc{w}" for w in words]
    sel = (
        ["h.village_code AS village_code", f"{m} AS m"]
        + [f"h.hc{w} | COALESCE({hp}.c{w}, 0) AS c{w}" for w in words]
        + [f"COALESCE({hp}.{_id(c)}, 0) AS {_id(c)}" for c in hp_columns]
    )
    return (
        f"SELECT {', '.join(sel)} FROM (SELECT {', '.join(inner)} FROM {_source(household_files)}) h "
        f"LEFT JOIN {hp} ON h.{k} = {hp}.{k}"
    )


def records_plan(con: duckdb.DuckDBPyConnection, ws: Workspace, year: int) -> tuple[CompiledRules, list[str], list[str], set[str], set[str]] | None:
    """(plan, person files, household files, person columns, household columns) of ``year``,
    or None when the year has no records."""
    pfiles, hfiles = _files(ws, "persons", year), _files(ws, "households", year)
    if not pfiles and not hfiles:
        return None
    pcols, hcols = _columns(con, pfiles), _columns(con, hfiles)
    key = _join_key(pcols, hcols, year, pfiles + hfiles)
    return compile_rules(year, pcols, hcols, key), pfiles, hfiles, pcols, hcols


#: Household keys the persons and households may share, in order of preference, and their SQL types.
_KEY_TYPES = {"hh_id": "BIGINT", "house_key": "VARCHAR", "house_code": "VARCHAR"}


def _join_key(pcols: set[str], hcols: set[str], year: int, files: list[str] = ()) -> str:
    """``hh_id`` (ingest's integer household id: grouping and joining on it costs less than on the
    16-character ``house_key`` it is read from) when every one of ``files`` has it as an integer;
    else ``house_key`` (workspaces ingested before ``hh_id`` existed: the same groups), else
    ``house_code``. A file without ``hh_id`` among files with it would give its rows a null key
    (``union_by_name``), hence every file."""
    if files and all(_has_int_column(f, "hh_id") for f in files):
        return "hh_id"
    for k in ("house_key", "house_code"):
        if (k in pcols or not pcols) and (k in hcols or not hcols):
            return k
    raise InputError(f"survey year {year}: persons and households share no household key (hh_id, house_key or house_code)")


def _has_int_column(path: str, name: str) -> bool:
    """``path`` (Parquet) has an integer column ``name`` (read from the footer only)."""
    schema = pq.read_schema(path)
    i = schema.get_field_index(name)
    return i >= 0 and pa.types.is_integer(schema.field(i).type)


# ============================================================================================
# one survey year: village counts (DuckDB) → dense village × row-template matrices (numpy)
# ============================================================================================
_BITPAIR = 1 | (1 << _FAIL_SHIFT)  # a status word shifted right by k, masked: applies + fails * 2**31
_BITPAIR_LIMIT = 2**22  # ... summed as DOUBLE, exact while a village's total stays below 2**22


def _bitpair(plan: CompiledRules, i: int, weight: str | None = None) -> str:
    """SQL: the packed pair (rows where indicator ``i`` applies, where it fails) of a status word,
    as one DOUBLE sum: ``(c >> k) & (1 | 1 << 31)`` is applies + fails * 2**31, no ``CASE``."""
    w, k = plan.bits[i]
    e = f"CAST((c{w} >> {k}) & {_BITPAIR} AS DOUBLE)"
    return f"sum({e} * {weight})" if weight else f"sum({e})"


def _anypair(applies: str, fails: str, weight: str | None = None) -> str:
    """SQL: the packed pair (rows where ``applies``, where ``fails``; booleans) as one DOUBLE sum."""
    e = f"(CAST({applies} AS DOUBLE) + CAST({fails} AS DOUBLE) * {1 << _FAIL_SHIFT}.0)"
    return f"sum({e} * {weight})" if weight else f"sum({e})"


def _unpack_bits(total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(applies, fails) counts of a :func:`_bitpair` / :func:`_anypair` sum."""
    t = np.rint(np.asarray(total, dtype="float64")).astype(np.int64)
    return t & ((1 << _FAIL_SHIFT) - 1), t >> _FAIL_SHIFT


@dataclass
class _Records:
    plan: CompiledRules
    wide: pd.DataFrame | None  # per-village indicator counts (see _records_pass)
    poverty: pd.DataFrame | None  # per-village poverty counts: village_code, persons, poor_<n>, target_<n>


def _records_pass(con: duckdb.DuckDBPyConnection, ws: Workspace, year: int, *, indicators: bool = True, dims=None) -> _Records | None:
    """Village counts of ``year``'s records (None without records).

    0. when both queries below need the persons, their status (:func:`person_status_sql`:
       household key, village, status words) is computed once, into a temporary table;
    1. per village, over the persons' status: official person counts (``s_<i>``/``p_<i>``);
    2. one query over the households: the persons' status words ORed per household
       (``GROUP BY`` the household key), joined once to the households, and summed per village
       straight from the join: household and member counts and group rows (``s_<i>``/``p_<i>``
       for household indicators, ``ms_<i>``/``mf_<i>`` members of households the indicator
       applies to / fails, ``gs``/``gp``/``gms``/``gmp_<g>``) and, with ``dims`` (poverty
       dimensions), the TPMAP counts.

    Two counts share one DOUBLE sum: the conditional sums, not the scans, are the cost of a
    grouped DuckDB aggregate. Both are :func:`_bitpair`, read from the status word without a
    ``CASE`` (exact below 2**22 persons, households and members a village; checked).
    """
    found = records_plan(con, ws, year)
    if found is None:
        return None
    plan, pfiles, hfiles, pcols, hcols = found
    out = _Records(plan, None, None)
    if dims is not None:
        _check_dimensions(plan, year, dims)
    status = None
    if indicators and pfiles and hfiles and plan.person:
        # one scan and one evaluation of the person rules for both queries: writing three
        # integer-sized columns costs less than reading the persons and evaluating the rules again
        # (with the 16-character house_key as the key it did not)
        status = _STATUS_TABLE
        con.execute(f"CREATE OR REPLACE TEMP TABLE {status} AS {person_status_sql(plan, pfiles, pcols, village=True, welfare=dims is not None)}")
    try:
        pv = _person_counts(con, plan, year, pfiles, pcols, status) if indicators else {}
        hv = _household_counts(con, plan, year, pfiles, pcols, hfiles, hcols, indicators=indicators, dims=dims, status=status) if hfiles else None
    finally:
        if status:
            con.execute(f"DROP TABLE IF EXISTS {status}")
    if indicators:
        out.wide = _wide(pv, hv[0] if hv else {})
    if dims is not None and hv is not None:
        out.poverty = hv[1]
    return out


_STATUS_TABLE = "vilwork_person_status"


def _person_counts(con, plan: CompiledRules, year: int, pfiles: list[str], pcols: set[str], status: str | None = None) -> dict[str, np.ndarray]:
    """Official person counts by the person's village, from the persons' status words (the table
    ``status`` of :func:`person_status_sql` with ``village``, else computed from the files)."""
    if not (pfiles and plan.person):
        return {}
    src = status or f"({person_status_sql(plan, pfiles, pcols, village=True)})"
    cols = ", ".join(f"{_bitpair(plan, i)} AS sf_{i}" for i in plan.person)
    pv = con.execute(f"SELECT village_code, count(*) AS n, {cols} FROM {src} WHERE village_code IS NOT NULL GROUP BY village_code").fetchnumpy()
    if len(pv["n"]) and pv["n"].max() >= _BITPAIR_LIMIT:
        raise InputError(f"survey year {year}: a village code has {pv['n'].max():,} person rows; that is no village (check village_code)")
    res = {"village_code": _codes(pv["village_code"])}
    for i in plan.person:
        s_, f_ = _unpack_bits(pv[f"sf_{i}"])
        res[f"s_{i}"], res[f"p_{i}"] = s_, s_ - f_
    return res


def _check_dimensions(plan: CompiledRules, year: int, dims) -> None:
    known = set(plan.bits)
    for d in dims:
        bad = [i for i in d.indicators if i not in known]
        if bad:
            raise DefinitionError(f"poverty dimension {d.key!r} names indicators {bad} that the indicator set of {year} does not have")


def _household_counts(con, plan: CompiledRules, year: int, pfiles: list[str], pcols: set[str], hfiles: list[str], hcols: set[str], *,
                      indicators: bool, dims, status: str | None = None) -> tuple[dict[str, np.ndarray], pd.DataFrame | None]:
    """Per household village: indicator counts (``indicators``) and TPMAP poverty counts (``dims``).

    One query: the households joined to their persons' status words (:func:`house_masks_sql`,
    :func:`households_joined_sql`) feed the village sums directly (a temporary table in between
    costs more than it saves). Poverty: persons (the person records of the village's
    households), and per dimension (then the union, ``any``) the persons whose household fails
    any of its indicators (``poor_<n>``) and those of them with a welfare card (``target_<n>``).
    """
    aggs = ["count(*) AS n", "sum(md) AS nm"]
    if indicators:
        for i in (int(x) for x in plan.iset.indicators.index):
            if i in plan.household:
                aggs.append(f"{_bitpair(plan, i)} AS sf_{i}")
            aggs.append(f"{_bitpair(plan, i, 'md')} AS msf_{i}")
        for g, inds in plan.groups().items():
            ga, gf = plan.any_bit(inds, fail=False), plan.any_bit(inds, fail=True)
            aggs += [f"{_anypair(ga, gf)} AS gsf_{g}", f"{_anypair(ga, gf, 'md')} AS gmsf_{g}"]
    sets: list[list[int]] = []
    if dims is not None:
        sets = [list(d.indicators) for d in dims] + [sorted({i for d in dims for i in d.indicators})]
        aggs.append("sum(n_persons) AS persons")
        for n, inds in enumerate(sets):
            poor = plan.any_bit(inds, fail=True)
            aggs += [f"sum(CASE WHEN {poor} THEN n_persons ELSE 0 END) AS poor_{n}", f"sum(CASE WHEN {poor} THEN n_welfare ELSE 0 END) AS target_{n}"]
    extra = ["n_persons", "n_welfare"] if dims is not None else []
    joined = households_joined_sql(plan, hfiles, hcols, hp_columns=extra)
    need = extra + ([] if "members" in hcols else ["n_persons"])  # m falls back to the persons counted
    hv = con.execute(
        f"WITH hp AS ({house_masks_sql(plan, pfiles, pcols, need, persons=status)}) "
        f"SELECT village_code, {', '.join(aggs)} FROM (SELECT *, CAST(m AS DOUBLE) AS md FROM ({joined})) "
        "WHERE village_code IS NOT NULL GROUP BY village_code"
    ).fetchnumpy()
    if len(hv["n"]) and max(hv["n"].max(), hv["nm"].max()) >= _BITPAIR_LIMIT:
        raise InputError(f"survey year {year}: a village code has {hv['n'].max():,} households / {hv['nm'].max():,.0f} members; check village_code and members")
    codes = _codes(hv["village_code"])
    res: dict[str, np.ndarray] = {"village_code": codes}
    if indicators:
        for i in (int(x) for x in plan.iset.indicators.index):
            if i in plan.household:
                s_, f_ = _unpack_bits(hv[f"sf_{i}"])
                res[f"s_{i}"], res[f"p_{i}"] = s_, s_ - f_
            res[f"ms_{i}"], res[f"mf_{i}"] = _unpack_bits(hv[f"msf_{i}"])
        for g in plan.groups():
            s_, f_ = _unpack_bits(hv[f"gsf_{g}"])
            res[f"gs_{g}"], res[f"gp_{g}"] = s_, s_ - f_
            s_, f_ = _unpack_bits(hv[f"gmsf_{g}"])
            res[f"gms_{g}"], res[f"gmp_{g}"] = s_, s_ - f_
    poverty = None
    if dims is not None:
        order = np.argsort(codes, kind="stable")
        cols = ["persons"] + [f"{x}_{n}" for n in range(len(sets)) for x in ("poor", "target")]
        poverty = pd.DataFrame({"village_code": codes[order], **{c: _ints(hv[c])[order] for c in cols}})
    return res, poverty


def _codes(values) -> np.ndarray:
    """Village codes as an object array of ``str``."""
    return np.array([str(v) for v in np.asarray(values, dtype=object)], dtype=object)


def _ints(values) -> np.ndarray:
    """A DuckDB sum column (HUGEINT arrives as float64, nulls masked) as int64, null = 0."""
    a = np.ma.filled(np.ma.asarray(values), 0) if np.ma.isMaskedArray(values) else np.asarray(values)
    return np.rint(a.astype("float64")).astype(np.int64)


def _wide(pv: dict[str, np.ndarray], hv: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per village code of either part: the person and household columns (disjoint), 0 where absent."""
    parts = [p for p in (pv, hv) if p]
    codes = np.array(sorted({c for p in parts for c in p["village_code"]}), dtype=object)
    out: dict[str, np.ndarray] = {"village_code": codes}
    for p in parts:
        rows = np.searchsorted(codes, p["village_code"]) if len(codes) else np.zeros(0, np.int64)
        for name, v in p.items():
            if name != "village_code":
                col = np.zeros(len(codes), np.int64)
                col[rows] = v
                out[name] = col
    return pd.DataFrame(out)


def _aggregates_long(con: duckdb.DuckDBPyConnection, ws: Workspace, year: int, iset: IndicatorSet) -> pd.DataFrame | None:
    """Platform aggregates of ``year`` summed per (village, indicator): village_code, indicator, all, cnt."""
    files = _files(ws, "aggregates", year)
    if not files:
        return None
    agg = con.execute(
        'SELECT CAST(village_code AS VARCHAR) AS village_code, CAST(indicator AS INTEGER) AS indicator, '
        'CAST(COALESCE(sum("all"), 0) AS BIGINT) AS "all", CAST(COALESCE(sum(cnt), 0) AS BIGINT) AS cnt '
        f"FROM {_source(files)} WHERE village_code IS NOT NULL AND indicator IS NOT NULL GROUP BY ALL"
    ).df()
    known = agg["indicator"].isin(iset.indicators.index)
    if not known.all():
        log.warning("year %s: aggregates name indicators not in set %s, ignored: %s", year, iset.name, sorted(set(agg.loc[~known, "indicator"])))
    return agg[known]


@dataclass
class _YearRows:
    """One year's village rows as dense matrices over a fixed row template (output order).

    ``template``: (indicator or 0 for group rows, group, unit) per row; ``codes``: sorted village
    codes; ``surveyed``/``passed``: villages × rows; ``rec``/``agg``: the row exists from records /
    from aggregates.
    """

    year: int
    template: list[tuple[int, int, str]]
    codes: np.ndarray
    surveyed: np.ndarray
    passed: np.ndarray
    rec: np.ndarray
    agg: np.ndarray

    def rollup(self, length: int) -> "_YearRows":
        """Sums over codes sharing their first ``length`` digits (codes are sorted, so contiguous)."""
        if length >= 8 or len(self.codes) == 0:
            return self
        prefix = np.array([c[:length] for c in self.codes], dtype=object)
        starts = np.flatnonzero(np.r_[True, prefix[1:] != prefix[:-1]])
        red = lambda m: np.add.reduceat(m, starts, axis=0)  # noqa: E731
        return _YearRows(
            self.year, self.template, prefix[starts], red(self.surveyed), red(self.passed),
            red(self.rec.astype(np.int64)) > 0, red(self.agg.astype(np.int64)) > 0,
        )

    def table(self, level: str) -> pa.Table:
        """The rows that exist, village-major in template order, as an OUTPUT_SCHEMA table."""
        exists = self.rec | self.agg
        vi, ti = np.nonzero(exists)  # row-major: by code, then template order
        ind = np.array([t[0] for t in self.template], dtype=np.int16)[ti]
        grp = np.array([t[1] for t in self.template], dtype=np.int16)[ti]
        units = sorted({t[2] for t in self.template})
        unit_idx = np.array([units.index(t[2]) for t in self.template], dtype=np.int32)[ti]
        s, p = self.surveyed[vi, ti], self.passed[vi, ti]
        src_idx = np.where(self.rec[vi, ti], np.where(self.agg[vi, ti], 2, 0), 1).astype(np.int32)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(s > 0, p / np.where(s > 0, s, 1), np.nan)
        codes = pa.array(self.codes.astype(str) if len(self.codes) else np.array([], dtype=str), type=pa.string())
        n = len(vi)
        return pa.table(
            {
                "year": pa.array(np.full(n, self.year, dtype=np.int16)),
                "level": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([level])).cast(pa.string()),
                "code": pa.DictionaryArray.from_arrays(pa.array(vi.astype(np.int32)), codes).cast(pa.string()),
                "indicator": pa.array(ind, mask=ind == 0),
                "group": pa.array(grp),
                "unit": pa.DictionaryArray.from_arrays(pa.array(unit_idx), pa.array(units)).cast(pa.string()),
                "surveyed": pa.array(s.astype(np.int64)),
                "passed": pa.array(p.astype(np.int64)),
                "failed": pa.array((s - p).astype(np.int64)),
                "pass_rate": pa.array(rate, mask=~(s > 0)),
                "source": pa.DictionaryArray.from_arrays(pa.array(src_idx), pa.array(["records", "aggregates", "mixed"])).cast(pa.string()),
            },
            schema=OUTPUT_SCHEMA,
        )


def _template(iset: IndicatorSet) -> list[tuple[int, int, str]]:
    """Row template in output order: per indicator its official-unit row then its member row;
    then per group its household row and member row (indicator 0 = null)."""
    rows = []
    for i, g, unit in zip(iset.indicators.index, iset.indicators["group"], iset.indicators["unit"]):  # (.at per cell costs 11 ms a year)
        rows += [(int(i), int(g), str(unit)), (int(i), int(g), "member")]
    groups = sorted({int(g) for g in iset.indicators["group"]})
    for g in groups:
        rows += [(0, g, "household"), (0, g, "member")]
    return rows


def _year_rows(con: duckdb.DuckDBPyConnection, ws: Workspace, year: int, rec: "_Records | None") -> _YearRows | None:
    rec = (rec.wide, rec.plan) if rec is not None and rec.wide is not None else None
    iset = rec[1].iset if rec else indicator_set(year)
    agg = _aggregates_long(con, ws, year, iset)
    wide_codes = rec[0]["village_code"].to_numpy(dtype=object) if rec else np.zeros(0, dtype=object)
    rec_codes = set(wide_codes)
    if agg is not None:
        dropped = set(agg["village_code"]) & rec_codes
        if dropped:
            log.info("year %s: %d villages have records and aggregates; the records are used", year, len(dropped))
        agg = agg[~agg["village_code"].isin(rec_codes)]
    agg_codes = set(agg["village_code"]) if agg is not None else set()
    codes = np.array(sorted(rec_codes | agg_codes), dtype=object)
    if not len(codes):
        return None
    template = _template(iset)
    where = {t: j for j, t in enumerate(template)}
    V, R = len(codes), len(template)
    S, P = np.zeros((V, R), np.int64), np.zeros((V, R), np.int64)
    is_rec, is_agg = np.zeros((V, R), bool), np.zeros((V, R), bool)
    if rec:
        wide = rec[0]
        rows = np.searchsorted(codes, wide_codes)
        names = [c for c in wide.columns if c != "village_code"]
        values = wide[names].to_numpy(np.int64)  # one conversion, not one pandas lookup per template row
        where_col = {c: n for n, c in enumerate(names)}
        col = lambda c: values[:, where_col[c]] if c in where_col else np.zeros(len(wide), np.int64)  # noqa: E731
        for j, (i, g, unit) in enumerate(template):
            if i and unit != "member":
                S[rows, j], P[rows, j] = col(f"s_{i}"), col(f"p_{i}")
            elif i:
                S[rows, j], P[rows, j] = col(f"ms_{i}"), col(f"ms_{i}") - col(f"mf_{i}")
            elif unit == "household":
                S[rows, j], P[rows, j] = col(f"gs_{g}"), col(f"gp_{g}")
            else:
                S[rows, j], P[rows, j] = col(f"gms_{g}"), col(f"gmp_{g}")
        is_rec[rows, :] = True
    if agg is not None and len(agg):
        rows = np.searchsorted(codes, agg["village_code"].to_numpy(dtype=object))
        groups = iset.indicators["group"].astype(int)
        j = np.array([where[(int(i), int(groups[int(i)]), "member")] for i in agg["indicator"]], dtype=np.int64)
        S[rows, j] = agg["all"].to_numpy(np.int64)
        P[rows, j] = agg["all"].to_numpy(np.int64) - agg["cnt"].to_numpy(np.int64)
        is_agg[rows, j] = True
    return _YearRows(int(year), template, codes, S, P, is_rec, is_agg)


# ============================================================================================
# writing
# ============================================================================================
def write_parquet_atomic(table: pa.Table, path: Path) -> Path:
    """Write ``table`` to ``path`` through a temporary file in the same folder, ``fsync`` and ``os.replace``.

    A run killed while writing leaves the previous file whole (see :mod:`vilwork.atomic`).

    Raises
    ------
    OutputError
        When the file cannot be written (disk full, no permission); the previous file is kept.
    """
    path = Path(path)
    try:
        return atomic.write_parquet_atomic(table, path, pause=f"indicators:write:{path.name}")
    except OSError as e:
        full = e.errno in (errno.ENOSPC, errno.EDQUOT)
        reason = "ดิสก์เต็ม / the disk is full" if full else (e.strerror or str(e))
        raise OutputError(f"เขียน {path.name} ไม่สำเร็จ: {reason}; ไฟล์เดิมยังอยู่ / could not write {path.name}: {reason}; "
                          "the previous file is unchanged") from None


def _start_clean(ws: Workspace) -> None:
    """Finish or discard what a killed ingest left, and remove temporary files of killed runs.

    Called under :func:`vilwork.locks.processed_lock`, which holds the ingest's lock, so the
    ingest's own recovery runs here without taking it again (it would wait for this process).
    """
    if any((ws.processed / n).exists() for n in (".ingest-new", ".ingest-old")):
        from .ingest import _recover_locked  # only then: importing ingest (pandera) takes a second

        done = _recover_locked(ws)
        if done:
            log.warning("data/processed: an interrupted ingest was %s", done)
    atomic.remove_stale_tmp(ws.processed)


def _only_years(path: Path, years: list[int]) -> bool:
    """True when the footer's statistics show that every row of ``path`` is of one of ``years``
    (nothing to keep: recomputing a year need not read the previous output); False when unsure."""
    try:
        meta = pq.ParquetFile(path).metadata
        col = meta.schema.to_arrow_schema().get_field_index("year")
        if col < 0:
            return False
        for g in range(meta.num_row_groups):
            st = meta.row_group(g).column(col).statistics
            if st is None or not st.has_min_max or st.null_count != 0 or not set(range(int(st.min), int(st.max) + 1)) <= set(years):
                return False
    except (OSError, pa.ArrowException):
        return False  # unreadable: read_table says why
    return True


def _with_other_years(new: pa.Table, path: Path, years: list[int]) -> pa.Table:
    """``new`` plus the rows of other years already in ``path``, year-major (each block keeps its order)."""
    if not path.exists() or _only_years(path, years):
        return new
    old = pq.read_table(path)
    keep = pc.invert(pc.is_in(old["year"], value_set=pa.array(years, type=old.schema.field("year").type)))
    old = old.filter(keep).cast(OUTPUT_SCHEMA)
    if old.num_rows == 0:
        return new
    both = pa.concat_tables([old, new])
    order = np.argsort(both["year"].to_numpy(), kind="stable")
    return both.take(pa.array(order))


# ============================================================================================
# public API
# ============================================================================================
def compute_indicators(ws: Workspace, *, years: list[int] | None = None, threads: int | None = None) -> dict[str, Path]:
    """Compute the จปฐ. indicators and write ``indicators_<level>.parquet`` for every level.

    Parameters
    ----------
    ws : Workspace
    years : list of int, optional
        Survey years (BE) to compute; default every year with records or aggregates. When given,
        rows of other years already in the outputs are kept.
    threads : int, optional
        DuckDB worker threads (default: all cores).

    Returns
    -------
    dict
        level → path written (village, tambon, district, province).

    Waits while another run of the engine or an ingest works on the workspace
    (:func:`vilwork.locks.processed_lock`).

    Raises
    ------
    NoUsableDataError
        When ``data/processed`` holds no household, person or aggregate Parquet for the years.
    DefinitionError
        When a year has no indicator set, or records of a year need a threshold it lacks.
    """
    with processed_lock(ws):
        return _compute(ws, years=years, threads=threads)[0]


def _compute(ws: Workspace, *, years: list[int] | None, threads: int | None, dims=None) -> tuple[dict[str, Path], list[_YearRows], dict[int, pd.DataFrame]]:
    """Indicators (and, with ``dims``, the TPMAP village counts from the same pass) per year."""
    _start_clean(ws)
    all_years = survey_years(ws)
    todo = sorted({int(y) for y in years}) if years is not None else all_years
    todo = [y for y in todo if y in all_years]
    if not todo:
        what = "years " + ", ".join(map(str, years)) if years else "any year"
        raise NoUsableDataError(f"no household, person or aggregate Parquet under {ws.processed} for {what}: run `vilwork ingest` first")
    t0 = time.perf_counter()
    con = connect(ws, threads)
    blocks: list[_YearRows] = []
    poverty: dict[int, pd.DataFrame] = {}
    try:
        for y in todo:
            rec = _records_pass(con, ws, y, dims=dims)
            if rec is not None and rec.poverty is not None:
                poverty[y] = rec.poverty
            block = _year_rows(con, ws, y, rec)
            if block is not None:
                blocks.append(block)
    finally:
        _close(con, ws)
    out: dict[str, Path] = {}
    for level, length in LEVELS.items():
        parts = [b.rollup(length).table(level) for b in blocks]
        table = pa.concat_tables(parts) if parts else OUTPUT_SCHEMA.empty_table()
        path = ws.processed / f"indicators_{level}.parquet"
        if years is not None:
            table = _with_other_years(table, path, todo)
        out[level] = write_parquet_atomic(table, path)
    log.info("indicators for %s in %.1f s", ", ".join(map(str, todo)), time.perf_counter() - t0)
    return out, blocks, poverty


def load_indicators(
    ws: Workspace, level: str = "village", *, year: int | None = None, code: str | None = None, unit: str | None = None
) -> pd.DataFrame:
    """Read ``indicators_<level>.parquet`` (optionally one year, code and unit) for a notebook.

    Raises
    ------
    ValueError
        When ``level`` is not one of village, tambon, district, province.
    InputError
        When the indicators have not been computed yet.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {list(LEVELS)}, got {level!r}")
    path = ws.processed / f"indicators_{level}.parquet"
    if not path.exists():
        raise InputError("no indicators yet: run `vilwork indicators` (compute_indicators) first", str(path))
    filters = []
    if year is not None:
        filters.append(("year", "=", int(year)))
    if code is not None:
        filters.append(("code", "=", str(code)))
    if unit is not None:
        filters.append(("unit", "=", str(unit)))
    df = pq.read_table(path, filters=filters or None).to_pandas().reset_index(drop=True)
    df["indicator"] = df["indicator"].astype("Int16")  # null on group rows
    return df


# ============================================================================================
# compute_all: indicators + poverty + กชช. 2ค + accounts + capital
# ============================================================================================
@dataclass
class ComputeSummary:
    """What :func:`compute_all` wrote; ``str()`` is a short Thai-first summary."""

    outputs: dict[str, Path] = field(default_factory=dict)
    years: list[int] = field(default_factory=list)
    villages_records: int = 0
    villages_aggregates: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        yrs = ", ".join(map(str, self.years)) or "–"
        lines = [
            f"คำนวณตัวชี้วัด จปฐ. ปี {yrs}: หมู่บ้านจากข้อมูลรายครัวเรือน {self.villages_records:,} หมู่บ้าน, "
            f"จากข้อมูลสรุป {self.villages_aggregates:,} หมู่บ้าน ({self.seconds:.1f} วินาที)",
            f"Indicators for {yrs}: {self.villages_records:,} villages from records, "
            f"{self.villages_aggregates:,} from platform aggregates ({self.seconds:.1f} s)",
            "ไฟล์ที่เขียน / files written: " + ", ".join(sorted(p.name for p in self.outputs.values())),
        ]
        lines += [f"หมายเหตุ / note: {n}" for n in self.notes]
        return "\n".join(lines)


def compute_all(ws: Workspace, *, threads: int | None = None) -> ComputeSummary:
    """Indicators, TPMAP poverty, กชช. 2ค village levels, account and capital summaries.

    Optional inputs (``kchch2k.parquet``, ``accounts.parquet``, ``capital.parquet``) that are
    missing are skipped with a note. Errors of the indicator engine propagate. Waits while
    another ``compute_all`` / ``compute_indicators`` or an ingest runs on the workspace
    (:func:`vilwork.locks.processed_lock`).
    """
    from .registry import poverty_dimensions

    dims = poverty_dimensions()
    with processed_lock(ws):
        t0 = time.perf_counter()
        s = _compute_all(ws, threads, dims)
        s.seconds = time.perf_counter() - t0
    return s


def _compute_all(ws: Workspace, threads: int | None, dims) -> ComputeSummary:
    from .poverty import write_poverty

    s = ComputeSummary()
    paths, blocks, poverty_counts = _compute(ws, years=None, threads=threads, dims=dims)
    s.outputs.update({f"indicators_{k}": v for k, v in paths.items()})
    s.years = sorted({b.year for b in blocks})
    rec_codes = {c for b in blocks for c, r in zip(b.codes, b.rec.any(axis=1)) if r}
    agg_codes = {c for b in blocks for c, a, r in zip(b.codes, b.agg.any(axis=1), b.rec.any(axis=1)) if a and not r}
    s.villages_records, s.villages_aggregates = len(rec_codes), len(agg_codes)
    if s.villages_aggregates:
        s.notes.append(
            f"{s.villages_aggregates} หมู่บ้านมีเฉพาะข้อมูลสรุป: ไม่มีตัวชี้วัดรายคน/รายครัวเรือน รายหมวด และความยากจน / "
            "villages with platform aggregates only: member rows only, no official, group or poverty rows"
        )
    pov = write_poverty(ws, poverty_counts, dims)
    if pov:
        s.outputs.update({f"poverty_{k}": v for k, v in pov.items()})
    else:
        s.notes.append("ไม่มีข้อมูลรายครัวเรือน: ข้ามการคำนวณความยากจน / no household records: poverty skipped")
        _remove_stale(ws, [f"poverty_{lv}.parquet" for lv in LEVELS])
    for name, fn in (("kchch2k_levels", kchch2k_levels), ("accounts_summary", accounts_summary), ("capital_summary", capital_summary)):
        p, note = fn(ws)
        if p is not None:
            s.outputs[name] = p
        else:
            _remove_stale(ws, [f"{name}.parquet"])
        if note:
            s.notes.append(note)
    return s


def _remove_stale(ws: Workspace, names: list[str]) -> None:
    """Delete outputs of an earlier run that this run could not rebuild (they would mislead)."""
    for name in names:
        p = ws.processed / name
        if p.exists():
            p.unlink()
            log.info("removed %s: its input is gone", p.name)


def kchch2k_levels(ws: Workspace) -> tuple[Path | None, str | None]:
    """``kchch2k_levels.parquet``: per year and village the counts of levels 1/2/3 and the class.

    Reads ``kchch2k.parquet`` wide (``k1..kN``) or long (``indicator``, ``level``).
    Returns (path or None, note or None).
    """
    src = ws.processed / "kchch2k.parquet"
    if not src.exists():
        return None, "ไม่มีข้อมูล กชช. 2ค: ข้าม / no kchch2k.parquet: กชช. 2ค levels skipped"
    df = pd.read_parquet(src)
    if {"indicator", "level"} <= set(df.columns):
        long = df[["year", "village_code", "indicator", "level"]]
    else:
        kcols = [c for c in df.columns if len(c) > 1 and c[0] == "k" and c[1:].isdigit()]
        if not kcols:
            return None, "kchch2k.parquet has neither k1..kN columns nor indicator/level: กชช. 2ค levels skipped"
        long = df.melt(id_vars=["year", "village_code"], value_vars=kcols, var_name="indicator", value_name="level")
    long = long.assign(level=pd.to_numeric(long["level"], errors="coerce")).dropna(subset=["level", "year", "village_code"])
    counts = (
        long.assign(n_severe=long["level"] == 1, n_moderate=long["level"] == 2, n_none=long["level"] == 3)
        .groupby(["year", "village_code"], sort=True)[["n_severe", "n_moderate", "n_none"]]
        .sum()
        .astype("int32")
        .reset_index()
    )
    cols = ["year", "village_code", "n_severe", "n_moderate", "n_none", "class", "class_name_th", "class_name_en"]
    parts, notes = [], []
    for year, g in counts.groupby("year", sort=True):
        try:
            ks = kchch2k_set(int(year))
        except DefinitionError as e:
            notes.append(f"กชช. 2ค ปี {int(year)} ไม่มีเกณฑ์: ข้าม / skipped: {e}")
            continue
        # the registry's rule decides the class from the levels (a list with the counted levels)
        cls = [ks.village_class([1] * a + [2] * b + [3] * c) for a, b, c in zip(g["n_severe"], g["n_moderate"], g["n_none"])]
        parts.append(g.assign(**{"class": cls, "class_name_th": [ks.class_name(c, "th") for c in cls], "class_name_en": [ks.class_name(c, "en") for c in cls]}))
    out = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    out = out.astype({"year": "int16", "village_code": str, "n_severe": "int32", "n_moderate": "int32", "n_none": "int32", "class": "int8"})
    path = write_parquet_atomic(pa.Table.from_pandas(out, preserve_index=False), ws.processed / "kchch2k_levels.parquet")
    return path, "; ".join(notes) or None


def accounts_summary(ws: Workspace) -> tuple[Path | None, str | None]:
    """``accounts_summary.parquet``: village_code, month (YYYY-MM), category, income, expense, households."""
    src = ws.processed / "accounts.parquet"
    if not src.exists():
        return None, "ไม่มีบัญชีครัวเรือน: ข้าม / no accounts.parquet: account summary skipped"
    df = pd.read_parquet(src)
    if "village_code" not in df.columns:
        if "house_code" not in df.columns:
            return None, "accounts.parquet has no village_code: account summary skipped"
        df["village_code"] = df["house_code"].astype(str).str.slice(0, 8)
    hkey = next((c for c in ("house_key", "house_code") if c in df.columns), None)
    date = pd.to_datetime(df["date"], errors="coerce") if "date" in df.columns else pd.Series(pd.NaT, index=df.index)
    work = pd.DataFrame(
        {
            "village_code": df["village_code"].astype(str),
            "month": date.dt.strftime("%Y-%m"),
            "category": df["category"].astype(str) if "category" in df.columns else "",
            "income": pd.to_numeric(df.get("income"), errors="coerce") if "income" in df.columns else 0.0,
            "expense": pd.to_numeric(df.get("expense"), errors="coerce") if "expense" in df.columns else 0.0,
            "hh": df[hkey].astype(str) if hkey else "",
        }
    )
    out = (
        work.groupby(["village_code", "month", "category"], dropna=False, sort=True)
        .agg(income=("income", "sum"), expense=("expense", "sum"), households=("hh", "nunique"))
        .reset_index()
    )
    out = out.astype({"income": "float64", "expense": "float64", "households": "int64"})
    return write_parquet_atomic(pa.Table.from_pandas(out, preserve_index=False), ws.processed / "accounts_summary.parquet"), None


def capital_summary(ws: Workspace) -> tuple[Path | None, str | None]:
    """``capital_summary.parquet``: village_code, kind, items (entries), value_baht (sum), every kind listed."""
    from .registry import capital_kinds

    src = ws.processed / "capital.parquet"
    if not src.exists():
        return None, "ไม่มีข้อมูลทุนชุมชน: ข้าม / no capital.parquet: capital summary skipped"
    df = pd.read_parquet(src)
    if "village_code" not in df.columns or "kind" not in df.columns:
        return None, "capital.parquet lacks village_code or kind: capital summary skipped"
    value = pd.to_numeric(df["value_baht"], errors="coerce") if "value_baht" in df.columns else pd.Series(np.nan, index=df.index)
    work = pd.DataFrame({"village_code": df["village_code"].astype(str), "kind": df["kind"].astype(str), "value_baht": value})
    g = work.groupby(["village_code", "kind"]).agg(items=("kind", "size"), value_baht=("value_baht", "sum")).reset_index()
    kinds = [k["key"] for k in capital_kinds()]
    full = pd.MultiIndex.from_product([sorted(work["village_code"].unique()), kinds], names=["village_code", "kind"]).to_frame(index=False)
    out = full.merge(g, on=["village_code", "kind"], how="outer")
    out["items"] = out["items"].fillna(0).astype("int64")
    out["value_baht"] = out["value_baht"].fillna(0.0).astype("float64")
    order = {k: n for n, k in enumerate(kinds)}
    out = out.assign(_o=out["kind"].map(order).fillna(len(kinds))).sort_values(["village_code", "_o", "kind"]).drop(columns="_o")
    return write_parquet_atomic(pa.Table.from_pandas(out.reset_index(drop=True), preserve_index=False), ws.processed / "capital_summary.parquet"), None
