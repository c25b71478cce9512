"""One village in one survey year: its names, its data, and its numbers beside its tambon,
district and province. Stage notebooks open a :class:`Village` once and pass it to every
function.
"""
from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from . import __version__
from .errors import InputError, WorkspaceError
from .i18n import check_lang, t
from .registry import indicator_set, kchch2k_set
from .sql import cursor
from .workspace import Workspace, check_village_code

LEVELS = ("village", "tambon", "district", "province")
AUDIENCES = ("public", "internal")
_CODE_LEN = {"village": 8, "tambon": 6, "district": 4, "province": 2}


def parent_code(code: str, level: str) -> str:
    """The code of ``level`` that contains the 8-digit village ``code``."""
    return code[: _CODE_LEN[level]]


@dataclass
class Village:
    """A village opened for analysis.

    Parameters are the stage notebooks' parameters; ``run_time`` is fixed when the village is
    opened so every output of one run states the same time.
    """

    ws: Workspace
    code: str
    year: int
    lang: str = "th"
    audience: str = "public"
    run_time: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))
    #: results of :meth:`read`, by (name, where, params, file state): a village's documents and
    #: notebooks ask the same queries many times (85 reads a village, most of them repeats)
    _reads: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    #: results of :meth:`once`, by (function, arguments)
    _once: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    # ---- names -------------------------------------------------------------------------------
    @cached_property
    def places(self) -> pd.DataFrame:
        """The workspace's place list (code, level, name_th, name_en); empty when there is none."""
        return read_places(self.ws)

    def name_of(self, code: str, lang: str | None = None) -> str:
        """Thai (or English) name of a place code; the code itself when the place list lacks it."""
        lang = lang or self.lang
        p = self.places
        hit = p[p["code"] == code] if not p.empty else p
        if hit.empty:
            return code
        col = "name_en" if lang == "en" and hit["name_en"].notna().all() and (hit["name_en"] != "").all() else "name_th"
        return str(hit[col].iloc[0])

    @property
    def name(self) -> str:
        return self.name_of(self.code)

    def code_at(self, level: str) -> str:
        return parent_code(self.code, level)

    @property
    def title(self) -> str:
        """``บ้านหนองบัว หมู่ 3 (99010203)`` style heading used across outputs."""
        return f"{self.name} ({self.code})"

    @property
    def location(self) -> str:
        """Tambon, district, province as one line."""
        parts = [
            (t("tambon", self.lang), self.name_of(self.code_at("tambon"))),
            (t("district", self.lang), self.name_of(self.code_at("district"))),
            (t("province", self.lang), self.name_of(self.code_at("province"))),
        ]
        return " ".join(f"{a}{b}" if self.lang == "th" else f"{a} {b}" for a, b in parts)

    # ---- folders -----------------------------------------------------------------------------
    @property
    def raw_dir(self) -> Path:
        return self.ws.village_raw(self.code)

    @property
    def report_dir(self) -> Path:
        return self.ws.village_reports(self.code)

    # ---- provenance --------------------------------------------------------------------------
    def provenance(self) -> dict:
        """What every report states: village, data period, parameters, run time, version.

        Keys are the canonical ones of :mod:`vilwork.publish.model` (labels are added there).
        """
        return {
            "village": f"{self.title} · {self.location}",
            "data_period": t("prov_period", self.lang, year=self.year, set=indicator_set(self.year).name),
            "parameters": {"village_code": self.code, "year": self.year, "lang": self.lang, "audience": self.audience},
            "run_time": self.run_time,
            "vilwork_version": __version__,
        }

    def provenance_items(self) -> list[tuple[str, str]]:
        """The provenance as (label, text) pairs in the village's language."""
        from .publish.model import provenance_items

        return provenance_items(self.provenance(), self.lang)

    # ---- data --------------------------------------------------------------------------------
    def processed(self, name: str) -> Path:
        return self.ws.processed / name

    def has(self, name: str) -> bool:
        p = self.processed(name)
        return p.exists() and (p.is_file() or any(p.rglob("*.parquet")))

    def read(self, name: str, where: str = "", params: list | None = None) -> pd.DataFrame:
        """Read processed Parquet (a file or a hive-partitioned folder) with an optional SQL filter.

        Memoised per village: the same query on an unchanged file (same modification time and
        size; folders by their own modification time) is read once; every caller gets its own
        copy of the frame.
        """
        p = self.processed(name)
        try:
            st = p.stat()
            state = (st.st_mtime_ns, st.st_size)
        except OSError:
            state = None
        try:
            key = (name, where, tuple(params or ()), state)
            hash(key)
        except TypeError:  # unhashable parameters: not memoised
            key = None
        if key is not None and key in self._reads:
            return self._reads[key].copy()
        if not self.has(name):
            df = pd.DataFrame()
        else:
            src = f"{p}/**/*.parquet" if p.is_dir() else str(p)
            sql = f"SELECT * FROM read_parquet('{src}', hive_partitioning = true, union_by_name = true)"
            if where:
                sql += f" WHERE {where}"
            with cursor() as con:
                df = con.execute(sql, params or []).df()
        if key is not None:
            self._reads[key] = df
            return df.copy()
        return df

    def once(self, fn, *args):
        """``fn(self, *args)`` computed once for this Village; later calls get a copy of it.

        For the pure functions of a village's data that several documents of stage 4 ask for
        (key facts, charts, ranked problems: 5 calls of ``understand.key_facts`` a village).
        Frames, mappings and lists are copied, so a caller that changes its result changes
        nothing for the next; plotly figures are handed out as they are (the renderers style a
        copy and never change the figure they are given).
        """
        key = (getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn)), args)
        try:
            hit = key in self._once
        except TypeError:  # unhashable arguments: not memoised
            return fn(self, *args)
        if not hit:
            self._once[key] = fn(self, *args)
        return _copy_result(self._once[key])

    @cached_property
    def indicators(self) -> pd.DataFrame:
        """Indicator rows of this village and its tambon, district and province, all years."""
        frames = []
        for level in LEVELS:
            df = self.read(f"indicators_{level}.parquet", "code = ?", [self.code_at(level)])
            if not df.empty:
                frames.append(df)
        if not frames:
            return pd.DataFrame(columns=["year", "level", "code", "indicator", "group", "unit", "surveyed", "passed", "failed", "pass_rate", "source"])
        return pd.concat(frames, ignore_index=True)

    @cached_property
    def poverty(self) -> pd.DataFrame:
        frames = [self.read(f"poverty_{lv}.parquet", "code = ?", [self.code_at(lv)]) for lv in LEVELS]
        frames = [f for f in frames if not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @cached_property
    def persons(self) -> pd.DataFrame:
        """This village's pseudonymised person rows for the year (no names, no IDs)."""
        return self.read("persons", "village_code = ? AND year = ?", [self.code, self.year])

    @cached_property
    def households(self) -> pd.DataFrame:
        return self.read("households", "village_code = ? AND year = ?", [self.code, self.year])

    @property
    def indicator_set(self):
        return indicator_set(self.year)

    @property
    def kchch2k_set(self):
        return kchch2k_set(self.year)


def _copy_result(x):
    """A copy of a memoised result that its caller may change freely (figures excepted)."""
    if isinstance(x, (pd.DataFrame, pd.Series)):
        return x.copy()
    if isinstance(x, tuple):
        return tuple(_copy_result(e) for e in x)
    if isinstance(x, (dict, list, set)):
        return copy.deepcopy(x)
    return x


def read_places(ws: Workspace) -> pd.DataFrame:
    """The place list from data/processed/places.parquet, else empty (codes are then shown as codes)."""
    p = ws.processed / "places.parquet"
    if not p.exists():
        return pd.DataFrame(columns=["code", "level", "name_th", "name_en"])
    df = pd.read_parquet(p)
    for c in ("code", "level", "name_th", "name_en"):
        if c not in df.columns:
            df[c] = ""
    return df.astype({"code": str})


def available_years(ws: Workspace, code: str) -> list[int]:
    """Survey years with indicator rows for village ``code``."""
    p = ws.processed / "indicators_village.parquet"
    if not p.exists():
        return []
    with cursor() as con:
        rows = con.execute(f"SELECT DISTINCT year FROM read_parquet('{p}') WHERE code = ? ORDER BY year", [code]).fetchall()
    return [int(r[0]) for r in rows]


def list_villages(ws: Workspace) -> list[str]:
    """Every village code that has indicator rows, sorted."""
    p = ws.processed / "indicators_village.parquet"
    if not p.exists():
        return []
    with cursor() as con:
        rows = con.execute(f"SELECT DISTINCT code FROM read_parquet('{p}') ORDER BY code").fetchall()
    return [r[0] for r in rows]


def open_village(root: str | Path | None, village_code: str, year: int | None = None, lang: str = "th", audience: str = "public") -> Village:
    """Open a village of the workspace at ``root`` for one survey year.

    Parameters
    ----------
    root : str or Path or None
        Workspace folder (None: the current folder).
    village_code : str
        8-digit village code.
    year : int, optional
        BE survey year; default the latest year with data for the village.
    lang : {"th", "en"}
    audience : {"public", "internal"}
        ``public`` outputs suppress small counts and carry no personal data.

    Raises
    ------
    WorkspaceError
        When the code is malformed or the audience unknown.
    InputError
        When the workspace has no indicators yet, or none for this village/year.
    """
    ws = Workspace(root)
    code = check_village_code(village_code)
    check_lang(lang)
    if audience not in AUDIENCES:
        raise WorkspaceError(f"audience {audience!r} is not one of {AUDIENCES}")
    years = available_years(ws, code)
    if not (ws.processed / "indicators_village.parquet").exists():
        raise InputError("no indicators yet: run `vilwork ingest` then `vilwork indicators` first", str(ws.processed))
    if not years:
        raise InputError(f"village {code} has no data in this workspace (villages: {', '.join(list_villages(ws)[:12])} …)", str(ws.processed))
    if year is None:
        year = years[-1]
    elif int(year) not in years:
        raise InputError(f"village {code} has no data for survey year {year} (years: {', '.join(map(str, years))})", str(ws.processed))
    return Village(ws, code, int(year), lang, audience)
