"""The analyst's explorer: indicators across many villages, interactively.

``notebooks/explore.ipynb`` calls :func:`explorer` once; ``vilwork explore`` serves that notebook
with Voilà on localhost, and it also runs inside JupyterLab. The app has cascading
province → district → tambon → village pickers, indicator group and indicator, survey year,
audience and map level; a map coloured by the chosen indicator; a ranked bar chart; a comparison
table (each unit beside its tambon, district and province) whose rows and bars link to the
village's reports; and a panel for the chosen village with a button that runs ``vilwork run``.

Speed (issue 5: under 300 ms per change for a province of 1,000 villages): every indicator value
of every level is read once with DuckDB and laid out as one array per (level, year, indicator)
aligned with that level's units (:class:`ExploreData`); polygons are simplified, projected and
turned into SVG paths once. A change only picks arrays, bins them into the shared colour bands
and rebuilds three HTML strings (``benchmarks/bench_explore.py`` measures it, in the kernel and
end to end in Chromium).

Map: one SVG (:func:`map_svg`), a path per unit filled with its colour band, a tooltip, a link to
the village's reports, zoomed to the chosen area: it needs no tiles, no script and no internet,
and the browser redraws 1,000 villages in tens of milliseconds (a plotly figure of the same
polygons took seconds to rebuild there; :func:`map_figure` and :func:`bar_figure` give the plotly
versions, only ``scatter`` and ``bar`` traces, for notebooks). Boundaries: the workspace's village
polygons (``data/raw/geo/*.geojson``); districts and provinces from HDX COD-AB files
(``ADM1_PCODE``/``ADM2_PCODE``, :func:`vilwork.programme.read_boundaries`) when found; tambons,
and areas the files lack, are the villages dissolved. Colours: the pass-rate bands of
``display.yaml`` (:func:`vilwork.charts.band`), the same on the map, the bars, the table, the
tiles and the one legend.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from . import __version__, charts, disclosure
from .errors import InputError, VilworkError
from .i18n import check_lang, format_int, format_pct, t
from .log import get_logger
from .registry import indicator_set
from .village import AUDIENCES, LEVELS, read_places
from .workspace import Workspace, check_village_code

log = get_logger(__name__)

__all__ = [
    "ExploreData",
    "Explorer",
    "Selection",
    "band_index",
    "bars_html",
    "bar_figure",
    "explorer",
    "export_table",
    "indicator_frame",
    "load_explore_data",
    "map_figure",
    "map_svg",
    "pane",
    "report_links",
    "shown_values",
    "table_frame",
]

#: code width of each level
WIDTH = {"province": 2, "district": 4, "tambon": 6, "village": 8}
#: the level of a code, from its width
LEVEL_OF_WIDTH = {w: lv for lv, w in WIDTH.items()}
#: report files a village folder may hold, in the order the explorer lists them
REPORT_FILES = (("km.html", "rep_km"), ("vdr.html", "rep_vdr"), ("tdr.html", "rep_tdr"),
                ("slides.html", "rep_slides"), ("km.pdf", "rep_pdf"))
#: environment set by ``vilwork explore`` for the notebook's kernel
ENV_ROOT = "VILWORK_ROOT"
ENV_REPORTS_URL = "VILWORK_REPORTS_URL"
ENV_BOUNDARIES = "VILWORK_BOUNDARIES"
ENV_LANG = "VILWORK_EXPLORE_LANG"
ENV_AUDIENCE = "VILWORK_EXPLORE_AUDIENCE"
ENV_VILLAGE = "VILWORK_EXPLORE_VILLAGE"
#: the value of a picker's "all districts" / "all tambons" choice (ipywidgets shows a None value as a blank)
ALL = ""
HDX_CREDIT = "OCHA/HDX, Royal Thai Survey Department (COD-AB, CC BY-IGO)"
# the vilwork command in a child process (``python -m vilwork.cli`` would miss the command modules)
_CLI = "import sys; from vilwork.cli import main; sys.exit(main(sys.argv[1:]))"

# Words only the explorer uses (the shared ones come from labels.yaml through ``t``).
_WORDS = {
    "all_districts": ("ทุกอำเภอ", "All districts"),
    "all_tambons": ("ทุกตำบล", "All tambons"),
    "group": ("หมวด", "Group"),
    "indicator": ("ตัวชี้วัด", "Indicator"),
    "year": ("ปีสำรวจ", "Survey year"),
    "audience": ("ผู้อ่าน", "Audience"),
    "aud_public": ("สาธารณะ (ปิดตัวเลขน้อย)", "Public (small counts hidden)"),
    "aud_internal": ("ภายใน", "Internal"),
    "map_level": ("แผนที่ระดับ", "Map by"),
    "group_all": ("หมวด {g} ทั้งหมวด: ครัวเรือนผ่านทุกข้อ", "Group {g} as a whole: households passing all"),
    "map_title": ("{ind} · ปี {year}", "{ind} · {year}"),
    "bars_title": ("เรียง{level}จากผ่านเกณฑ์น้อยไปมาก", "{level}s ranked, lowest pass rate first"),
    "bars_note": ("แสดง {n} จาก {total} {level} (น้อยที่สุดก่อน)", "Showing {n} of {total} {level}s (lowest first)"),
    "chosen": ("ที่เลือก", "chosen"),
    "failing_of": ("ไม่ผ่าน {failed} จาก {surveyed}", "{failed} of {surveyed} failing"),
    "no_geo": ("ไม่มีขอบเขตพื้นที่ระดับนี้ (ใส่ไฟล์ data/raw/geo/*.geojson หรือไฟล์ HDX COD-AB)",
               "No boundaries at this level (add data/raw/geo/*.geojson or HDX COD-AB files)"),
    "no_values": ("ไม่มีค่าตัวชี้วัดนี้ในพื้นที่ที่เลือก", "No values of this indicator in the chosen area"),
    "no_data_band": ("ไม่มีข้อมูล", "No data"),
    "no_data_band_public": ("ไม่มีข้อมูล หรือปิดไว้ (ตัวเลขน้อย)", "No data, or hidden (small numbers)"),
    "hidden_note": ("<5 = 1–4 คน/ครัวเรือน, * = ไม่แสดงเพื่อไม่ให้คำนวณย้อนกลับได้; ค่าที่ปิดไว้เรียงไว้ท้าย",
                    "<5 = 1–4 people/households, * = hidden so it cannot be worked back; hidden values are listed last"),
    "col_reports": ("รายงาน", "Reports"),
    "col_counts": ("ไม่ผ่าน / สำรวจ", "Failing / surveyed"),
    "col_gap": ("ต่างจาก{level}", "vs {level}"),
    "reports_none": ("ยังไม่มีรายงาน", "no reports yet"),
    "detail_title": ("{name} · {ind}", "{name} · {ind}"),
    "run_button": ("สร้างรายงานของหมู่บ้านนี้ (vilwork run)", "Build this village's reports (vilwork run)"),
    "run_started": ("กำลังสร้างรายงาน {code} … (ใช้เวลาประมาณ 1–2 นาที)", "Building the reports of {code} … (about 1–2 minutes)"),
    "run_done": ("สร้างรายงาน {code} เสร็จแล้ว ({s:.0f} วินาที)", "Reports of {code} built ({s:.0f} s)"),
    "run_failed": ("สร้างรายงาน {code} ไม่สำเร็จ: {err}", "Building the reports of {code} failed: {err}"),
    "run_busy": ("กำลังสร้างรายงานอีกหมู่บ้านอยู่ รอให้เสร็จก่อน", "Another village's reports are being built; wait for it"),
    "reports_path": ("รายงานอยู่ที่ {path}", "Reports are in {path}"),
    "export_button": ("บันทึกตารางเป็น Excel", "Save the table as Excel"),
    "export_done": ("บันทึกแล้ว {n} แถว: {path}", "Saved {n} rows: {path}"),
    "export_open": ("เปิดไฟล์", "open the file"),
    "export_note": ("{ind} · ปี {year} · {area} · ผู้อ่าน: {aud} · สร้าง {time} · vilwork {version}",
                    "{ind} · {year} · {area} · audience: {aud} · made {time} · vilwork {version}"),
    "col_code": ("รหัส", "Code"),
    "col_failed": ("ไม่ผ่าน", "Failing"),
    "col_surveyed": ("สำรวจ", "Surveyed"),
    "footer": ("ข้อมูล: {root} · ปีสำรวจ {years} · ขอบเขต: {sources} · vilwork {version} · อัปเดตล่าสุดใช้ {ms} ms",
               "Data: {root} · survey years {years} · boundaries: {sources} · vilwork {version} · last update {ms} ms"),
    "src_villages": ("ขอบเขตหมู่บ้านของพื้นที่ทำงาน", "the workspace's village boundaries"),
    "legend": ("สีตามเกณฑ์ผ่าน (ใช้เหมือนกันทั้งแผนที่ กราฟ และตาราง)", "Colour bands (the same on the map, chart and table)"),
}


def _w(key: str, lang: str, **fmt) -> str:
    th, en = _WORDS[key]
    s = en if lang == "en" else th
    return s.format(**fmt) if fmt else s


# =============================================================================================
# colour bands, shared with vilwork.charts
# =============================================================================================


@lru_cache(maxsize=None)
def _bands() -> tuple[tuple[float, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    b = charts.display()["pass_rate_bands"]
    return (tuple(float(x["max"]) for x in b), tuple(x["color"] for x in b),
            tuple(x["label_th"] for x in b), tuple(x["label_en"] for x in b))


NO_DATA_COLOR = charts.band_color(None)


def band_index(rates) -> np.ndarray:
    """The band number (0, 1, …) of each pass rate, ``-1`` for missing.

    Vectorised twin of :func:`vilwork.charts.band`: a rate falls in the first band whose
    ``max`` it is below, and anything above the last ``max`` in the last band.
    """
    r = np.asarray(rates, dtype=float)
    maxes = np.asarray(_bands()[0])
    idx = np.searchsorted(maxes, r, side="right")
    idx = np.minimum(idx, len(maxes) - 1)
    return np.where(np.isnan(r), -1, idx)


def band_colors(rates) -> list[str]:
    colors = _bands()[1]
    return [colors[i] if i >= 0 else NO_DATA_COLOR for i in band_index(rates)]


def band_labels(lang: str) -> list[str]:
    b = _bands()
    return list(b[3] if lang == "en" else b[2])


def legend_html(lang: str, audience: str = "internal") -> str:
    """The one legend of the page: band swatches with their labels from display.yaml (public:
    the grey also stands for rates hidden because of small numbers, and says what ``<5`` and
    ``*`` mean)."""
    grey = _w("no_data_band_public" if audience == "public" else "no_data_band", lang)
    items = list(zip(_bands()[1], band_labels(lang))) + [(NO_DATA_COLOR, grey)]
    sw = "".join(
        f'<span class="vx-sw"><i style="background:{c}"></i>{html.escape(lbl)}</span>' for c, lbl in items)
    note = f' <span class="vx-note">{html.escape(_w("hidden_note", lang))}</span>' if audience == "public" else ""
    return f'<div class="vx-legend"><b>{html.escape(_w("legend", lang))}</b> {sw}{note}</div>'


# =============================================================================================
# data: one DuckDB read, then arrays per (level, year, indicator)
# =============================================================================================

_INDICATOR_SQL = """
WITH src AS (
    SELECT CAST(year AS INTEGER) AS year, level, code, indicator, CAST("group" AS INTEGER) AS grp,
           unit, surveyed, failed, pass_rate
    FROM read_parquet(?, union_by_name = true)
),
ind AS (
    SELECT *, row_number() OVER (
        PARTITION BY year, level, code, indicator
        ORDER BY CASE WHEN unit IN ('person', 'household') THEN 0 ELSE 1 END) AS rn
    FROM src WHERE indicator IS NOT NULL
),
picked AS (
    SELECT year, level, code, CAST(CAST(indicator AS INTEGER) AS VARCHAR) AS key, grp, unit,
           CAST(surveyed AS DOUBLE) AS surveyed, CAST(failed AS DOUBLE) AS failed, pass_rate AS rate
    FROM ind WHERE rn = 1
),
grp AS (
    SELECT year, level, code, 'g' || CAST(grp AS VARCHAR) AS key, grp, unit,
           CAST(surveyed AS DOUBLE) AS surveyed, CAST(failed AS DOUBLE) AS failed, pass_rate AS rate
    FROM src WHERE indicator IS NULL AND unit = 'household'
),
fallback AS (  -- villages known from platform aggregates only: mean of the group's indicators
    SELECT p.year, p.level, p.code, 'g' || CAST(p.grp AS VARCHAR) AS key, p.grp, 'mean' AS unit,
           CAST(NULL AS DOUBLE) AS surveyed, CAST(NULL AS DOUBLE) AS failed, avg(p.rate) AS rate
    FROM picked p ANTI JOIN grp g
      ON g.year = p.year AND g.level = p.level AND g.code = p.code AND g.grp = p.grp
    GROUP BY p.year, p.level, p.code, p.grp
)
SELECT * FROM picked UNION ALL SELECT * FROM grp UNION ALL SELECT * FROM fallback
"""


def indicator_frame(ws: Workspace) -> pd.DataFrame:
    """Every level's indicator values in one long frame, read once with DuckDB.

    One row per (year, level, code, key): ``key`` is the indicator number as text (``"22"``;
    the official unit, persons or households, where records exist, else the platform's member
    count) or ``g<N>`` for indicator group N (the share of households passing all of the
    group's indicators; for villages known from platform aggregates only, the mean of the
    group's indicator pass rates). Columns ``year, level, code, key, grp, unit, surveyed,
    failed, rate``.

    Raises
    ------
    InputError
        When the workspace has no ``indicators_village.parquet`` yet.
    """
    files = [str(ws.processed / f"indicators_{lv}.parquet") for lv in LEVELS]
    if not Path(files[0]).exists():
        raise InputError("no indicators yet: run `vilwork ingest` then `vilwork indicators` first", str(ws.processed))
    files = [f for f in files if Path(f).exists()]
    with duckdb.connect() as con:
        return con.execute(_INDICATOR_SQL, [files]).df()


@dataclass
class Frame:
    """One (level, year, key): values aligned with :attr:`ExploreData.codes` of the level."""

    rate: np.ndarray
    failed: np.ndarray
    surveyed: np.ndarray
    unit: str


#: projected units per degree of latitude in the SVG map (20,000: one unit is about 5.5 m)
SVG_SCALE = 20_000


@dataclass
class Shapes:
    """A level's polygons prepared once, aligned with the level's codes.

    ``xs[i]``/``ys[i]`` are the unit's rings in lon/lat for plotly (float32, each ring closed and
    followed by NaN, so polygons of one trace stay apart); ``paths[i]`` the same rings as an SVG
    path in projected whole units (x = lon·cos(φ₀)·:data:`SVG_SCALE`, y = −lat·SVG_SCALE, relative
    moves) and ``boxes[i]`` its projected bounds; ``coarse[i]`` a path simplified about four times
    more, for views of most of the level (a province of 1,000 villages sends less than half);
    empty where the unit has no polygon.
    """

    xs: list
    ys: list
    cx: np.ndarray
    cy: np.ndarray
    sources: set = field(default_factory=set)
    paths: list = field(default_factory=list)
    boxes: np.ndarray | None = None
    coarse: list = field(default_factory=list)  # lighter paths for a view of most of the level
    extent: float = 1.0  # projected width or height of the whole level, whichever is larger

    @property
    def has(self) -> np.ndarray:
        return np.array([len(x) > 0 for x in self.xs], dtype=bool)


@dataclass
class ExploreData:
    """Everything the explorer shows, prepared once.

    Attributes
    ----------
    ws : Workspace
    codes : dict
        level → sorted array of codes (units with values or polygons).
    names : dict
        code → name in ``lang`` (the code itself when no place list names it).
    frames : dict
        (level, year, key) → :class:`Frame`.
    years : list of int
    shapes : dict
        level → :class:`Shapes`.
    """

    ws: Workspace
    lang: str
    codes: dict
    names: dict
    frames: dict
    years: list
    shapes: dict
    keys: dict  # year -> list of keys present
    valued: set = field(default_factory=set)  # village codes with indicator values
    load_seconds: float = 0.0
    shown_cache: dict = field(default_factory=dict, repr=False)  # (level, year, key, audience) -> Shown

    def index(self, level: str) -> dict:
        return self._idx[level]

    def __post_init__(self):
        self._idx = {lv: {c: i for i, c in enumerate(self.codes[lv])} for lv in self.codes}

    def name(self, code: str) -> str:
        return self.names.get(code, code)

    def frame(self, level: str, year: int, key: str) -> Frame | None:
        return self.frames.get((level, int(year), str(key)))

    def value(self, level: str, year: int, key: str, code: str) -> tuple[float, float, float]:
        """(rate, failed, surveyed) of one unit; NaNs when unknown."""
        f = self.frame(level, year, key)
        i = self._idx[level].get(code)
        if f is None or i is None:
            return (math.nan, math.nan, math.nan)
        return float(f.rate[i]), float(f.failed[i]), float(f.surveyed[i])

    def children(self, level: str, prefix: str) -> list[str]:
        """Codes of ``level`` that start with ``prefix`` (all when ``prefix`` is empty)."""
        c = self.codes[level]
        if not prefix:
            return list(c)
        lo = np.searchsorted(c, prefix, side="left")
        hi = np.searchsorted(c, prefix + "\uffff", side="left")
        return list(c[lo:hi])


def _frames(long: pd.DataFrame, codes: dict) -> dict:
    out = {}
    for level, part in long.groupby("level", sort=False):
        idx = pd.Index(codes[level])
        n = len(idx)
        pos_all = idx.get_indexer(part["code"])
        part = part.assign(_pos=pos_all)
        for (year, key), g in part.groupby(["year", "key"], sort=False):
            rate = np.full(n, np.nan)
            failed = np.full(n, np.nan)
            surveyed = np.full(n, np.nan)
            pos = g["_pos"].to_numpy()
            rate[pos] = g["rate"].to_numpy(dtype=float, na_value=np.nan)
            failed[pos] = g["failed"].to_numpy(dtype=float, na_value=np.nan)
            surveyed[pos] = g["surveyed"].to_numpy(dtype=float, na_value=np.nan)
            units = g["unit"].dropna().unique()
            out[(level, int(year), str(key))] = Frame(rate, failed, surveyed, str(units[0]) if len(units) == 1 else "mixed")
    return out


def _rings(geom) -> list[np.ndarray]:
    """Exterior rings of a (multi)polygon as (n, 2) arrays (holes are left out: a filled map)."""
    if geom is None or geom.is_empty:
        return []
    gt = geom.geom_type
    if gt == "Polygon":
        return [np.asarray(geom.exterior.coords)[:, :2]]
    if gt in ("MultiPolygon", "GeometryCollection"):
        out = []
        for g in geom.geoms:
            out += _rings(g)
        return out
    return []


def _svg_path(rings: list[np.ndarray], k: float) -> tuple[str, tuple[int, int, int, int]]:
    """Rings as one SVG path of relative moves in whole projected units, and its bounds."""
    parts = []
    lo = [math.inf, math.inf]
    hi = [-math.inf, -math.inf]
    for r in rings:
        p = np.column_stack([np.round(r[:, 0] * k * SVG_SCALE), np.round(-r[:, 1] * SVG_SCALE)]).astype(np.int64)
        keep = np.ones(len(p), bool)
        keep[1:] = np.any(p[1:] != p[:-1], axis=1)  # points closer than one unit add nothing
        p = p[keep]
        if len(p) < 3:
            continue
        lo = np.minimum(lo, p.min(axis=0))
        hi = np.maximum(hi, p.max(axis=0))
        d = np.diff(p, axis=0).ravel().tolist()
        parts.append(f"M{p[0, 0]} {p[0, 1]}l" + " ".join(map(str, d)) + "z")
    if not parts:
        return "", (0, 0, 0, 0)
    return "".join(parts), (int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))


def _flatten(geoms, tolerance: float, k: float = 1.0) -> Shapes:
    import shapely

    xs, ys, cx, cy, paths, boxes = [], [], [], [], [], []
    arr = np.asarray(geoms, dtype=object)
    simple = shapely.simplify(arr, tolerance, preserve_topology=True) if tolerance > 0 and len(arr) else arr
    for g, s in zip(arr, simple):
        rings = _rings(s)
        d, box = _svg_path(rings, k) if rings else ("", (0, 0, 0, 0))
        if not d:
            xs.append(np.empty(0, np.float32))
            ys.append(np.empty(0, np.float32))
            cx.append(np.nan)
            cy.append(np.nan)
            paths.append("")
            boxes.append(box)
            continue
        xs.append(np.concatenate([np.append(r[:, 0], np.nan) for r in rings]).astype(np.float32))
        ys.append(np.concatenate([np.append(r[:, 1], np.nan) for r in rings]).astype(np.float32))
        p = g.representative_point()
        cx.append(p.x)
        cy.append(p.y)
        paths.append(d)
        boxes.append(box)
    coarse = paths
    if tolerance > 0 and len(arr):
        rough = shapely.simplify(arr, COARSE * tolerance, preserve_topology=True)
        coarse = [(_svg_path(_rings(r), k)[0] or d) if d else "" for r, d in zip(rough, paths)]
    boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    has = np.array([bool(d) for d in paths])
    extent = float(max((boxes[has, 2].max() - boxes[has, 0].min()), (boxes[has, 3].max() - boxes[has, 1].min()), 1)) if has.any() else 1.0
    return Shapes(xs, ys, np.asarray(cx, float), np.asarray(cy, float), set(), paths, boxes, coarse, extent)


#: the coarse paths are simplified this many times more than the fine ones
COARSE = 4
#: views wider than this share of the whole level use the coarse paths
COARSE_VIEW = 0.35


def _village_polygons(ws: Workspace):
    """The workspace's village polygons as a GeoDataFrame ``code, geometry`` (None when none)."""
    from .programme import village_boundaries

    try:
        g = village_boundaries(ws)
    except Exception as e:  # a broken geo file must not stop the explorer: say so, draw no map
        log.warning("village boundaries unreadable: %s", e)
        return None
    if g is None or g.empty:
        return None
    g = g[g["code"].str.fullmatch(r"\d{8}")]
    return g.dissolve(by="code").reset_index() if g["code"].duplicated().any() else g


def _hdx(ws: Workspace, level: str, boundaries_dir):
    """HDX COD-AB polygons of ``level`` (province/district) as ``code, name_th, name_en, geometry``."""
    from .programme import find_boundary_file, read_boundaries

    path = find_boundary_file(ws, level, boundaries_dir)
    if path is None:
        return None
    try:
        return read_boundaries(path, level)
    except Exception as e:
        log.warning("boundary file %s unreadable: %s", path, e)
        return None


def _level_geometry(level: str, villages, hdx, wanted: list[str]):
    """code → geometry for ``level``: the HDX file's areas, else the villages dissolved."""
    geo = {}
    sources = set()
    if hdx is not None and len(hdx):
        for c, g in zip(hdx["code"], hdx.geometry):
            geo[c] = g
        sources.add("hdx")
    missing = [c for c in wanted if c not in geo]
    if villages is not None and missing:
        import shapely

        v = villages.assign(code=villages["code"].str[: WIDTH[level]])
        v = v[v["code"].isin(missing)]
        if len(v):
            eps = 1e-5  # close the hair-line gaps between villages drawn edge to edge
            for c, part in v.groupby("code"):
                geo[c] = shapely.buffer(shapely.buffer(shapely.union_all(part.geometry.values), eps, quad_segs=1, join_style="mitre"), -eps, quad_segs=1, join_style="mitre")
            sources.add("villages")
    return geo, sources


def load_explore_data(root=None, *, lang: str = "th", boundaries_dir=None, simplify: float | None = None) -> ExploreData:
    """Read the workspace once for the explorer.

    Parameters
    ----------
    root : str or Path, optional
        The workspace (default ``$VILWORK_ROOT``, else the current folder).
    lang : {"th", "en"}
    boundaries_dir : str or Path, optional
        A folder with HDX COD-AB ``th_adm1.geojson``/``th_adm2.geojson`` (default
        ``$VILWORK_BOUNDARIES``, then the folders of ``definitions/programme/maps.yaml``).
    simplify : float, optional
        Polygon simplification tolerance in degrees for close views (default: 1/3000 of the
        level's extent; views of most of the level use paths simplified :data:`COARSE` times more,
        about one screen pixel).

    Raises
    ------
    InputError
        When the workspace has no indicators yet.
    """
    t0 = time.perf_counter()
    check_lang(lang)
    ws = Workspace(root or os.environ.get(ENV_ROOT) or None)
    boundaries_dir = boundaries_dir or os.environ.get(ENV_BOUNDARIES) or None
    long = indicator_frame(ws)
    long["code"] = long["code"].astype(str)
    codes = {lv: set(long.loc[long["level"] == lv, "code"]) for lv in LEVELS}
    villages = _village_polygons(ws)
    if villages is not None:
        codes["village"] |= set(villages["code"])
    for lv in ("tambon", "district", "province"):  # parents of every village are units too
        codes[lv] |= {c[: WIDTH[lv]] for c in codes["village"]}
    hdx = {lv: _hdx(ws, lv, boundaries_dir) for lv in ("province", "district")}
    geos, sources = {}, {}
    if villages is not None:
        geos["village"] = dict(zip(villages["code"], villages.geometry))
        sources["village"] = {"villages"}
    provinces = {c for c in codes["province"]}
    for lv in ("tambon", "district", "province"):
        h = hdx.get(lv)
        if h is not None and lv == "district":  # every district of the workspace's provinces
            h = h[h["code"].str[:2].isin(provinces)]
        geos[lv], sources[lv] = _level_geometry(lv, villages, h, sorted(codes[lv]))
        codes[lv] |= set(geos[lv])
    codes = {lv: np.array(sorted(codes[lv]), dtype=object) for lv in LEVELS}

    names = {}
    for lv in ("province", "district"):
        h = hdx.get(lv)
        if h is not None:
            col = "name_en" if lang == "en" else "name_th"
            names.update({c: n for c, n in zip(h["code"], h[col]) if isinstance(n, str) and n})
    places = read_places(ws)  # the workspace's place list wins over the boundary files' names
    for c, th, en in zip(places["code"].astype(str), places["name_th"], places["name_en"]):
        n = en if lang == "en" and isinstance(en, str) and en else th
        if isinstance(n, str) and n:
            names[c] = n

    shapes = {}
    k = _projection(geos)
    for lv in LEVELS:
        g = geos.get(lv) or {}
        arr = [g.get(c) for c in codes[lv]]
        tol = simplify
        if tol is None:
            present = [x for x in arr if x is not None]
            if present:
                import shapely

                b = shapely.total_bounds(np.asarray(present, dtype=object))
                tol = max(b[2] - b[0], b[3] - b[1]) / 3000
            else:
                tol = 0.0
        shapes[lv] = _flatten(arr, tol, k)
        shapes[lv].sources = sources.get(lv, set())

    frames = _frames(long, codes)
    years = sorted(int(y) for y in long.loc[long["level"] == "village", "year"].unique())
    keys = {}
    for y in years:
        ks = set(long.loc[(long["year"] == y) & (long["level"] == "village"), "key"])
        keys[y] = sorted(ks, key=_key_order)
    valued = set(long.loc[long["level"] == "village", "code"])
    data = ExploreData(ws, lang, codes, names, frames, years, shapes, keys, valued)
    data.load_seconds = time.perf_counter() - t0
    log.info("explorer data: %d villages, %d frames, %.2f s", len(codes["village"]), len(frames), data.load_seconds)
    return data


def _projection(geos: dict) -> float:
    """cos(mean latitude) of the workspace's villages (else of any level): one east-west
    stretch for every level, so areas keep their shape on the SVG map."""
    import shapely

    for lv in LEVELS:
        g = [x for x in (geos.get(lv) or {}).values() if x is not None]
        if g:
            b = shapely.total_bounds(np.asarray(g, dtype=object))
            return max(math.cos(math.radians((b[1] + b[3]) / 2)), 0.2)
    return 1.0


def _key_order(k: str) -> tuple:
    return (int(k[1:]), 0) if k.startswith("g") else (99, int(k))


# =============================================================================================
# what is chosen, and what to draw for it (pure functions of the data and the choice)
# =============================================================================================


@dataclass(frozen=True)
class Selection:
    """The explorer's state: the choice of place, indicator, year, audience and map level."""

    province: str
    district: str | None
    tambon: str | None
    village: str | None
    key: str
    year: int
    audience: str = "public"
    level: str = "village"

    @property
    def scope(self) -> str:
        """The most specific area chosen (tambon, else district, else province code)."""
        return self.tambon or self.district or self.province

    def unit(self, level: str | None = None) -> str | None:
        """The chosen village's code at ``level`` (the map level by default)."""
        lv = level or self.level
        base = self.village or self.scope
        return base[: WIDTH[lv]] if base and len(base) >= WIDTH[lv] else None


def scope_prefix(sel: Selection) -> str:
    """The code prefix of the units drawn at the map level: the chosen area, but never deeper
    than the map level's parent (a tambon map of a chosen tambon shows its whole district)."""
    if sel.level == "province":
        return ""
    parent = LEVELS[LEVELS.index(sel.level) + 1]
    return sel.scope[: WIDTH[parent]] if len(sel.scope) >= WIDTH[parent] else sel.scope


def key_label(key: str, year: int, lang: str, short: bool = True) -> str:
    s = indicator_set(year)
    if key.startswith("g"):
        g = int(key[1:])
        return f"{_w('group', lang)} {g} {s.group_name(g, lang)}"
    return f"{int(key)}. {s.indicator_name(int(key), lang, short=short)}"


def mask_count(x: float, audience: str) -> str:
    """A count as shown: public outputs hide 1 to the small-cell threshold (display.yaml)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    n = int(round(float(x)))
    k = int(charts.display()["small_cell_threshold"])
    if audience == "public" and 0 < n <= k:
        return f"<{k + 1}"
    return format_int(n)


@dataclass
class Shown:
    """One (level, year, key) as an audience may see it, aligned with the level's codes.

    ``rate`` is what colours, bar lengths and ranking use: NaN where the public may not see the
    exact rate. ``rate_text``, ``failed_text`` and ``surveyed_text`` are the cells as written
    (``<5``, ``>45``, ``>87.5%``, ``*``); ``hidden`` marks units whose rate is not shown exactly.
    """

    rate: np.ndarray
    rate_text: list
    failed_text: list
    surveyed_text: list
    hidden: np.ndarray


def shown_values(data: ExploreData, level: str, year: int, key: str, audience: str) -> Shown | None:
    """What the explorer shows of every unit of ``level`` (None when the indicator has no values).

    ``internal``: exact. ``public`` (PDPA, as in the reports; threshold ``small_cell_threshold``):

    * a failing count of 1..k, or a passing count of 1..k (surveyed − failing), is shown as a
      bound (``<5``, ``>45``) and the pass rate beside it as the matching bound (``>87.5%``);
      a surveyed count of 1..k is ``<5`` and its failing count and rate ``*``;
    * the units of one parent (the villages of a tambon…) add up to the parent's counts, which
      are shown too: where only one of them would be hidden, the smallest other non-zero count
      is hidden as well (``*``, its rate too), so no hidden count is the parent's minus the rest.

    A hidden rate is NaN in ``rate``: drawn in the no-data colour and ranked after the others.
    """
    f = data.frame(level, year, key)
    if f is None:
        return None
    cache_key = (level, int(year), str(key), audience)
    if cache_key in data.shown_cache:
        return data.shown_cache[cache_key]
    n = len(f.rate)
    if audience != "public":
        out = Shown(f.rate, [format_pct(r) for r in f.rate], [mask_count(x, audience) for x in f.failed],
                    [mask_count(x, audience) for x in f.surveyed], np.zeros(n, dtype=bool))
        data.shown_cache[cache_key] = out
        return out
    k = disclosure.small_cell_threshold()
    sv, fv = f.surveyed.tolist(), f.failed.tolist()
    state = [disclosure.share_state(a, b, k) for a, b in zip(sv, fv)]
    small_s = [disclosure.is_small(a, k) for a in sv]
    hide_f = [st != disclosure.SHOW for st in state]  # the failing count is a bound or hidden
    comp_s, comp_f = [False] * n, [False] * n
    lines = []
    if level != "province":  # units of one parent add up to its (shown) counts
        width = WIDTH[LEVELS[LEVELS.index(level) + 1]]
        groups: dict = {}
        for i, c in enumerate(data.codes[level]):
            if not math.isnan(sv[i]):
                groups.setdefault(c[:width], []).append(i)
        lines = [g for g in groups.values() if len(g) > 1]
    changed = True
    while changed:
        changed = False
        for g in lines:
            for vals, hid, comp in ((sv, small_s, comp_s), (fv, hide_f, comp_f)):
                already = [hid[i] or comp[i] for i in g]
                new = disclosure.suppress_line([vals[i] for i in g], k, already=already)
                for i, flag, was in zip(g, new, already):
                    if flag and not was:
                        comp[i], changed = True, True
            for i in g:  # a hidden surveyed count hides the failing count (rate × surveyed would give it)
                if comp_s[i] and not (hide_f[i] or comp_f[i]):
                    comp_f[i], changed = True, True
    rate = f.rate.copy()
    rate_text, failed_text, surveyed_text, hidden = [], [], [], np.zeros(n, dtype=bool)
    for i in range(n):
        s_, x_, st = sv[i], fv[i], state[i]
        if math.isnan(s_):  # no counts (a group's mean of rates): the rate names nobody
            rate_text.append(format_pct(rate[i]))
            failed_text.append("–")
            surveyed_text.append("–")
            continue
        surveyed_text.append(disclosure.small_label(k) if small_s[i] else disclosure.COMPLEMENT if comp_s[i]
                             else format_int(s_))
        if small_s[i] or comp_s[i]:
            failed_text.append(disclosure.COMPLEMENT)
            rate_text.append(disclosure.COMPLEMENT)
        elif st in (disclosure.LOW, disclosure.HIGH):
            failed_text.append(disclosure.count_text(s_, x_, k, format_int))
            rate_text.append(disclosure.share_text(s_, x_, k, format_pct, complement=True))
        elif comp_f[i]:
            failed_text.append(disclosure.COMPLEMENT)
            rate_text.append(disclosure.COMPLEMENT)
        else:
            failed_text.append(format_int(x_))
            rate_text.append(format_pct(rate[i]))
            continue
        hidden[i] = True
        rate[i] = np.nan
    out = Shown(rate, rate_text, failed_text, surveyed_text, hidden)
    data.shown_cache[cache_key] = out
    return out


def _shown_at(data: ExploreData, sel: Selection, level: str, code: str) -> tuple[float, str, str, str]:
    """(rate or NaN, rate text, failing text, surveyed text) of one unit for the selection's audience."""
    sh = shown_values(data, level, sel.year, sel.key, sel.audience)
    i = data.index(level).get(code)
    if sh is None or i is None:
        return math.nan, "–", "–", "–"
    return float(sh.rate[i]), sh.rate_text[i], sh.failed_text[i], sh.surveyed_text[i]


def ranked_units(data: ExploreData, sel: Selection) -> pd.DataFrame:
    """The units drawn at the map level in the chosen area, lowest pass rate first.

    Columns ``code, name, rate, failed, surveyed, band``, the pass rate of each parent level
    (``tambon``, ``district``, ``province``: the unit's own parents), and the cells as the
    audience sees them: ``rate_text, failed_text, surveyed_text`` and ``hidden``. Units without
    a value are left out. For the public, a unit whose rate is hidden (a small count,
    :func:`shown_values`) has ``rate`` NaN and is listed after the others, by code: its place in
    the ranking would tell its rate. ``failed`` and ``surveyed`` are exact (for code, not for
    display).
    """
    level = sel.level
    codes = data.children(level, scope_prefix(sel))
    f = data.frame(level, sel.year, sel.key)
    cols = ["code", "name", "rate", "failed", "surveyed", "band", "rate_text", "failed_text", "surveyed_text", "hidden"]
    if f is None or not codes:
        return pd.DataFrame(columns=cols)
    sh = shown_values(data, level, sel.year, sel.key, sel.audience)
    idx = data.index(level)
    pos = np.fromiter((idx[c] for c in codes), int, len(codes))
    keep = ~np.isnan(f.rate[pos])
    pos = pos[keep]
    out = pd.DataFrame({"code": np.asarray(codes, dtype=object)[keep], "rate": sh.rate[pos],
                        "failed": f.failed[pos], "surveyed": f.surveyed[pos]})
    out["name"] = [data.name(c) for c in out["code"]]
    out["band"] = band_index(out["rate"].to_numpy())
    out["rate_text"] = [sh.rate_text[i] for i in pos]
    out["failed_text"] = [sh.failed_text[i] for i in pos]
    out["surveyed_text"] = [sh.surveyed_text[i] for i in pos]
    out["hidden"] = sh.hidden[pos]
    for parent in LEVELS[LEVELS.index(level) + 1:]:
        ps = shown_values(data, parent, sel.year, sel.key, sel.audience)
        pidx = data.index(parent)
        if ps is None:
            out[parent], out[f"{parent}_text"] = np.nan, "–"
            continue
        ppos = np.array([pidx.get(c[: WIDTH[parent]], -1) for c in out["code"]], dtype=int)
        out[parent] = np.where(ppos >= 0, ps.rate[np.maximum(ppos, 0)], np.nan)
        out[f"{parent}_text"] = [ps.rate_text[i] if i >= 0 else "–" for i in ppos]
    # hidden rates last (by code); "failed" orders only exact rates, so it tells nothing more
    out["_failed"] = np.where(out["hidden"], 0.0, out["failed"].fillna(0.0))
    out = out.sort_values(["hidden", "rate", "_failed", "code"], ascending=[True, True, False, True], kind="mergesort")
    return out.drop(columns="_failed").reset_index(drop=True)


def shown_units(ranked: pd.DataFrame, chosen: str | None, top: int) -> pd.DataFrame:
    """The first ``top`` ranked units, plus the chosen one when it ranks lower (marked)."""
    head = ranked.head(top)
    if chosen is not None and chosen not in set(head["code"]):
        extra = ranked[ranked["code"] == chosen]
        head = pd.concat([head, extra])
    head = head.assign(rank=[int(i) + 1 for i in head.index], chosen=head["code"] == chosen)
    return head.reset_index(drop=True)


def report_links(ws: Workspace, code: str, reports_url: str | None) -> list[tuple[str, str]]:
    """(label key, href) of the village's existing report files; hrefs under ``reports_url``
    (served by ``vilwork explore``), else none (the path is shown instead)."""
    if not reports_url or len(code) != 8:
        return []
    d = ws.reports / code
    base = reports_url.rstrip("/") + "/" + code + "/"
    return [(key, base + f) for f, key in REPORT_FILES if (d / f).is_file()]


# =============================================================================================
# figures
# =============================================================================================

_MAP_HEIGHT = 560
_BAR_ROW = 30
_DASH = {"tambon": "dot", "district": "dash", "province": "longdash"}


def _array(a, dtype: str = "f4") -> dict:
    """A numeric array as plotly.js reads it fastest: base64 typed array (NaN = a gap)."""
    import base64

    arr = np.ascontiguousarray(np.asarray(a, dtype="<" + dtype))
    return {"dtype": dtype, "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}


@lru_cache(maxsize=None)
def _styled(kind: str) -> str:
    """The house style (:func:`vilwork.charts.style` / :func:`vilwork.charts.hbar`) of an empty
    map or bar chart, as JSON, built once: updates fill in data instead of building plotly
    objects, which costs ~100 ms a figure."""
    import plotly.graph_objects as go

    if kind == "map":
        fig = charts.style(go.Figure(), "title", height=_MAP_HEIGHT, legend=True)
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.update_layout(hovermode="closest", dragmode="pan", margin={"l": 4, "r": 4, "t": 50, "b": 4},
                          legend={"orientation": "h", "yanchor": "top", "y": -0.01, "x": 0, "font": {"size": 13}})
    else:
        fig = charts.hbar(["a"], [0.5], colors=["#000000"], text=["50%"], title="title")
        fig.update_layout(margin={"l": 10, "r": 40, "t": 90, "b": 40})
    return fig.to_json()


def _spec(kind: str) -> dict:
    return json.loads(_styled(kind))


def _title(spec: dict, text: str) -> None:
    spec["layout"]["title"] = {**spec["layout"].get("title", {}), "text": text}


def check_spec(spec: dict) -> dict:
    """Raise like :func:`vilwork.charts.check_traces` when a spec uses another trace type."""
    bad = {tr.get("type", "scatter") for tr in spec.get("data", [])} - charts.ALLOWED_TRACES
    if bad:
        from .errors import DefinitionError

        raise DefinitionError(f"trace types {sorted(bad)} are not allowed (use {sorted(charts.ALLOWED_TRACES)})")
    return spec


def _unit_text(sh: Shown | None, i: int, lang: str, sep: str = "<br>") -> str:
    """A unit's value and counts as the audience sees them, HTML-escaped: ``&gt;50.0%`` then
    ``ไม่ผ่าน &lt;5 จาก 10``, joined by ``sep``."""
    if sh is None:
        return "–"
    parts = [sh.rate_text[i]]
    if sh.surveyed_text[i] != "–":
        parts.append(_w("failing_of", lang, failed=sh.failed_text[i], surveyed=sh.surveyed_text[i]))
    return sep.join(html.escape(p) for p in parts)


def _no_data_label(sel: Selection, lang: str) -> str:
    return _w("no_data_band_public" if sel.audience == "public" else "no_data_band", lang)


def map_figure(data: ExploreData, sel: Selection, lang: str) -> dict:
    """The choropleth as a plotly figure spec of ``scatter`` traces: one filled trace per colour
    band and one grey for no data (polygons apart by gaps), an outline of the chosen unit, and
    invisible markers carrying the hover text. ``plotly.graph_objects.Figure(spec)`` makes it a
    figure."""
    level = sel.level
    sh = data.shapes[level]
    codes = data.children(level, scope_prefix(sel))
    idx = data.index(level)
    pos = np.fromiter((idx[c] for c in codes), int, len(codes)) if codes else np.empty(0, int)
    pos = pos[sh.has[pos]] if len(pos) else pos
    vals = shown_values(data, level, sel.year, sel.key, sel.audience)
    rate = vals.rate[pos] if vals is not None else np.full(len(pos), np.nan)
    bands = band_index(rate)
    ind = key_label(sel.key, sel.year, lang)
    spec = _spec("map")
    if not len(pos):
        _title(spec, _w("no_geo", lang))
        spec["layout"]["showlegend"] = False
        return spec
    colors = list(_bands()[1])
    names = band_labels(lang)
    traces = []
    for b in [*range(len(colors)), -1]:
        part = pos[bands == b]
        color = colors[b] if b >= 0 else NO_DATA_COLOR
        name = names[b] if b >= 0 else _no_data_label(sel, lang)
        x = np.concatenate([sh.xs[i] for i in part]) if len(part) else np.empty(0, np.float32)
        y = np.concatenate([sh.ys[i] for i in part]) if len(part) else np.empty(0, np.float32)
        # a band with no area still gets its (empty) trace: the legend always shows every band
        traces.append({"type": "scatter", "mode": "lines", "fill": "toself", "fillcolor": color, "name": name,
                       "x": _array(x), "y": _array(y), "line": {"color": "#ffffff", "width": 0.8},
                       "hoverinfo": "skip", "showlegend": True, "legendgroup": name})
    chosen = sel.unit()
    ci = idx.get(chosen) if chosen else None
    if ci is not None and sh.has[ci]:
        traces.append({"type": "scatter", "mode": "lines", "x": _array(sh.xs[ci]), "y": _array(sh.ys[ci]),
                       "line": {"color": "#111111", "width": 3}, "hoverinfo": "skip", "showlegend": False,
                       "name": _w("chosen", lang)})
    fcodes = data.codes[level][pos]
    ind_e = html.escape(ind)
    hover = [f"<b>{html.escape(data.name(c))}</b> ({c})<br>{ind_e}: {_unit_text(vals, i, lang)}"
             for c, i in zip(fcodes, pos)]
    traces.append({"type": "scatter", "mode": "markers", "x": _array(sh.cx[pos], "f8"), "y": _array(sh.cy[pos], "f8"),
                   "marker": {"size": 12, "color": "rgba(0,0,0,0)"}, "hovertext": hover, "hoverinfo": "text",
                   "showlegend": False, "customdata": list(fcodes), "name": "hover"})
    allx = np.concatenate([sh.xs[i] for i in pos])
    ally = np.concatenate([sh.ys[i] for i in pos])
    x0, x1, y0, y1 = (float(np.nanmin(allx)), float(np.nanmax(allx)), float(np.nanmin(ally)), float(np.nanmax(ally)))
    pad = 0.03 * max(x1 - x0, y1 - y0, 1e-6)
    lay = spec["layout"]
    lay["xaxis"] = {**lay.get("xaxis", {}), "range": [x0 - pad, x1 + pad]}
    lay["yaxis"] = {**lay.get("yaxis", {}), "range": [y0 - pad, y1 + pad], "scaleanchor": "x",
                    "scaleratio": 1 / max(math.cos(math.radians((y0 + y1) / 2)), 0.2)}
    _title(spec, html.escape(_w("map_title", lang, ind=ind, year=sel.year)))
    spec["data"] = traces
    return check_spec(spec)


_SVG_W, _SVG_PAD = 680, 0.02


def map_svg(data: ExploreData, sel: Selection, lang: str) -> str:
    """The map the explorer shows: one SVG, each unit of the chosen area a path filled with its
    colour band (the shared bands), a tooltip (name, code, value, counts), its code in
    ``data-code`` (a click chooses it: :func:`pane`), the chosen unit outlined; zoomed to the area.

    A page draws 1,000 villages this way in a few tens of milliseconds, where a plotly figure
    of the same polygons takes seconds to rebuild in the browser; nothing but the page itself is
    needed (no tiles, no script). :func:`map_figure` is the same map as a plotly figure.
    """
    level = sel.level
    sh = data.shapes[level]
    codes = data.children(level, scope_prefix(sel))
    idx = data.index(level)
    pos = np.fromiter((idx[c] for c in codes), int, len(codes)) if codes else np.empty(0, int)
    pos = pos[sh.has[pos]] if len(pos) else pos
    ind = key_label(sel.key, sel.year, lang)
    title = html.escape(_w("map_title", lang, ind=ind, year=sel.year))
    if not len(pos):
        return f'<div class="vx-map"><div class="vx-maptitle">{title}</div><p class="vx-note">{html.escape(_w("no_geo", lang))}</p></div>'
    vals = shown_values(data, level, sel.year, sel.key, sel.audience)
    n = len(pos)
    rate = vals.rate[pos] if vals is not None else np.full(n, np.nan)
    colors = band_colors(rate)
    box = sh.boxes[pos]
    x0, y0 = box[:, 0].min(), box[:, 1].min()
    w, h = max(box[:, 2].max() - x0, 1), max(box[:, 3].max() - y0, 1)
    pad = int(_SVG_PAD * max(w, h))
    height = int(round(_SVG_W * min(max((h + 2 * pad) / (w + 2 * pad), 0.4), 1.6)))
    ind_e = html.escape(ind)
    paths = sh.coarse if max(w, h) > COARSE_VIEW * sh.extent else sh.paths
    out = []
    for i, c, color in zip(pos, data.codes[level][pos], colors):
        tip = f"{html.escape(data.name(c))} ({c})\n{ind_e}: {_unit_text(vals, i, lang, sep=chr(10))}"
        out.append(f'<path d="{paths[i]}" fill="{color}" data-code="{c}"><title>{tip}</title></path>')
    chosen = sel.unit()
    ci = idx.get(chosen) if chosen else None
    if ci is not None and sh.has[ci]:
        out.append(f'<path class="vx-chosen" d="{paths[ci]}"/>')
    view = f"{x0 - pad} {y0 - pad} {w + 2 * pad} {h + 2 * pad}"
    return (f'<div class="vx-map"><div class="vx-maptitle">{title}</div>'
            f'<svg viewBox="{view}" width="100%" style="max-height:{height}px" preserveAspectRatio="xMidYMid meet" '
            f'role="img" aria-label="{title}">{"".join(out)}</svg></div>')


def bars_html(data: ExploreData, sel: Selection, shown: pd.DataFrame, total: int, lang: str,
              reports_url: str | None = None) -> str:
    """The ranked bar chart the explorer shows, as HTML: lowest pass rate on top, each bar in its
    colour band (the shared bands), the value at its end, the chosen unit marked ▶ and outlined,
    lines at the chosen unit's tambon, district and province values, village names linking to
    their reports when served. The house style of :func:`vilwork.charts.hbar` (Sarabun, white,
    0–100 % axis) without a plotly rebuild in the browser on every change; :func:`bar_figure` is
    the same chart as a plotly figure."""
    level = sel.level
    lvl_name = t(f"level_{level}", lang)
    ind = key_label(sel.key, sel.year, lang)
    head = (f'<div class="vx-bt">{html.escape(_w("bars_title", lang, level=lvl_name))}</div>'
            f'<div class="vx-bs">{html.escape(ind)} · '
            f'{html.escape(_w("bars_note", lang, n=format_int(len(shown)), total=format_int(total), level=lvl_name))}</div>')
    if shown.empty:
        return f'<div class="vx-bars">{head}<p class="vx-note">{html.escape(_w("no_values", lang))}</p></div>'
    link = bool(reports_url) and level == "village"
    rows = []
    for code, name, rate, text, chosen in zip(shown["code"], shown["name"], shown["rate"], _rate_texts(shown), shown["chosen"]):
        label = html.escape(f"{name} ({code})")
        if chosen:
            label = f"▶ {label}"
        if link and (data.ws.reports / code / "km.html").is_file():
            label = f'<a href="{html.escape(reports_url.rstrip("/"))}/{code}/km.html" target="_blank">{label}</a>'
        w = 0.0 if math.isnan(rate) else 100 * min(max(float(rate), 0.0), 1.0)  # a hidden rate: no bar, its bound
        rows.append(f'<div class="vx-bl{" vx-bc" if chosen else ""}" data-code="{code}">{label}</div>'
                    f'<div class="vx-btr" data-code="{code}"><div class="vx-bar{" vx-bc" if chosen else ""}" style="width:{w:.2f}%;background:{band_colors([rate])[0]}"></div>'
                    f'<span class="vx-bv" style="left:{w:.2f}%">{html.escape(text)}</span></div>')
    refs, keys = [], []
    chosen = sel.unit()
    for parent in LEVELS[LEVELS.index(level) + 1:] if chosen else ():
        r = _shown_at(data, sel, parent, chosen[: WIDTH[parent]])[0]
        if math.isnan(r):
            continue
        text = f"{t(f'level_{parent}', lang)} {format_pct(r, 0)}"
        refs.append(f'<i class="vx-ref" style="left:{100 * min(max(r, 0), 1):.2f}%;border-left-style:{_CSS_DASH[parent]}" '
                    f'title="{html.escape(text)}"></i>')
        keys.append(f'<span class="vx-rk"><i style="border-left-style:{_CSS_DASH[parent]}"></i>{html.escape(text)}</span>')
    ticks = "".join(f'<span style="left:{x}%">{x}%</span>' for x in range(0, 101, 20))
    return (f'<div class="vx-bars">{head}<div class="vx-bbody"><div class="vx-bgrid">{"".join(rows)}'
            f'<div></div><div class="vx-bax">{ticks}</div></div>'
            f'<div class="vx-bover">{"".join(refs)}</div></div>'
            f'<div class="vx-rkeys">{"".join(keys)}</div></div>')


_CSS_DASH = {"tambon": "dotted", "district": "dashed", "province": "solid"}


def _rate_texts(shown: pd.DataFrame) -> list:
    """The rate of each ranked unit as written (a frame from before ``rate_text``: exact)."""
    return list(shown["rate_text"]) if "rate_text" in shown else [format_pct(r) for r in shown["rate"]]


def bar_figure(data: ExploreData, sel: Selection, shown: pd.DataFrame, total: int, lang: str,
               reports_url: str | None = None) -> dict:
    """Ranked horizontal bars as a plotly figure spec in the house style of
    :func:`vilwork.charts.hbar` (first on top, shares 0–100 %), coloured by the shared bands,
    lowest first; the chosen unit outlined and marked ▶; dashed lines at the chosen unit's
    tambon, district and province values; village names link to their reports when served."""
    level = sel.level
    lvl_name = t(f"level_{level}", lang)
    ind = key_label(sel.key, sel.year, lang)
    spec = _spec("bar")
    if shown.empty:
        _title(spec, html.escape(_w("no_values", lang)))
        spec["data"] = []
        spec["layout"]["height"] = 300
        return spec
    labels = []
    for code, name, chosen in zip(shown["code"], shown["name"], shown["chosen"]):
        text = html.escape(f"{name} ({code})")
        if chosen:
            text = f"<b>▶ {text}</b>"
        if reports_url and level == "village" and report_links(data.ws, code, reports_url):
            text = f'<a href="{html.escape(reports_url.rstrip("/"))}/{code}/km.html" target="_blank">{text}</a>'
        labels.append(text)
    n = len(shown)
    rates = shown["rate"].to_numpy(dtype=float)
    bar = dict(spec["data"][0])
    bar.update(y=labels[::-1], x=_array(rates[::-1], "f8"), text=_rate_texts(shown)[::-1],
               textposition="outside", cliponaxis=False, customdata=list(shown["code"])[::-1],
               marker={"color": band_colors(rates)[::-1], "line": {"color": "#111111",
                                                                   "width": [3 if c else 0 for c in shown["chosen"]][::-1]}})
    lay = spec["layout"]
    lay["height"] = max(300, _BAR_ROW * n + 130)
    _title(spec, f"{html.escape(_w('bars_title', lang, level=lvl_name))}<br><sup>{html.escape(ind)} · "
                 f"{html.escape(_w('bars_note', lang, n=format_int(n), total=format_int(total), level=lvl_name))}</sup>")
    chosen = sel.unit()
    shapes, notes = [], []
    for k, parent in enumerate(LEVELS[LEVELS.index(level) + 1:] if chosen else ()):
        r = _shown_at(data, sel, parent, chosen[: WIDTH[parent]])[0]
        if math.isnan(r):
            continue
        # one dash style per level; labels stacked above the plot so close values stay readable
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": r, "x1": r, "y0": 0, "y1": 1,
                       "line": {"color": "#333333", "width": 1.5, "dash": _DASH[parent]}})
        notes.append({"xref": "x", "yref": "paper", "x": r, "y": 1, "yanchor": "bottom", "yshift": 2 + 17 * k,
                      "showarrow": False, "xanchor": "left", "font": {"size": 13, "color": "#333333"},
                      "text": f"┆ {html.escape(t(f'level_{parent}', lang))} {format_pct(r, 0)}"})
    lay["shapes"], lay["annotations"] = shapes, notes
    lay["margin"] = {**lay.get("margin", {}), "t": 90 + 17 * len(notes)}
    lay["height"] += 17 * len(notes)
    spec["data"] = [bar]
    return check_spec(spec)


# =============================================================================================
# tables and panels (HTML strings; every text escaped)
# =============================================================================================


def _cell(rate: float, text: str | None = None) -> str:
    """A rate cell in its band colour; a hidden rate (NaN) shows its text (``>50.0%``, ``*``) uncoloured."""
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return f'<td class="vx-num vx-nd">{html.escape(text or "–")}</td>'
    c = band_colors([rate])[0]
    return f'<td class="vx-num" style="background:{c};color:#fff">{html.escape(text or format_pct(rate))}</td>'


def _gap(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b):
        return '<td class="vx-num">–</td>'
    d = 100 * (a - b)
    arrow = "▲" if d > 0.05 else ("▼" if d < -0.05 else "=")
    return f'<td class="vx-num">{arrow} {d:+.1f}</td>'


def comparison_table_html(data: ExploreData, sel: Selection, shown: pd.DataFrame, lang: str,
                          reports_url: str | None = None) -> str:
    """The comparison table: each shown unit's value beside its tambon, district and province
    (cells coloured by the shared bands), failing/surveyed (small counts hidden for the public),
    and links to the village's reports."""
    level = sel.level
    parents = LEVELS[LEVELS.index(level) + 1:]
    head = [t("col_rank", lang), t(f"level_{level}", lang), t(f"level_{level}", lang) + " %",
            *[t(f"level_{p}", lang) + " %" for p in parents]]
    if parents:
        head.append(_w("col_gap", lang, level=t(f"level_{parents[0]}", lang)))
    head += [_w("col_counts", lang)]
    if level == "village":
        head.append(_w("col_reports", lang))
    rows = []
    for r in shown.itertuples(index=False):
        cls = ' class="vx-chosen"' if r.chosen else ""
        cells = [f'<td class="vx-num">{r.rank}</td>',
                 f'<td>{"▶ " if r.chosen else ""}{html.escape(str(r.name))} <span class="vx-code">({html.escape(r.code)})</span></td>',
                 _cell(r.rate, getattr(r, "rate_text", None)),
                 *[_cell(getattr(r, p), getattr(r, f"{p}_text", None)) for p in parents]]
        if parents:
            cells.append(_gap(r.rate, getattr(r, parents[0])))
        if math.isnan(r.surveyed):
            counts = "–"
        elif hasattr(r, "failed_text"):
            counts = f"{r.failed_text} / {r.surveyed_text}"
        else:
            counts = f"{mask_count(r.failed, sel.audience)} / {mask_count(r.surveyed, sel.audience)}"
        cells.append(f'<td class="vx-num">{html.escape(counts)}</td>')
        if level == "village":
            links = report_links(data.ws, r.code, reports_url)
            if links:
                cells.append("<td>" + " · ".join(f'<a href="{html.escape(h)}" target="_blank">{html.escape(_rep(k, lang))}</a>'
                                                 for k, h in links) + "</td>")
            else:
                cells.append(f'<td class="vx-nd">{html.escape(_w("reports_none", lang))}</td>')
        rows.append(f"<tr{cls} data-code=\"{html.escape(r.code)}\">{''.join(cells)}</tr>")
    if not rows:
        return f'<p class="vx-note">{html.escape(_w("no_values", lang))}</p>'
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f'<table class="vx-table"><thead><tr>{th}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


#: where the explorer saves its tables (under the workspace's ``reports/``; served read-only)
EXPORT_DIR = "_explore"


def table_frame(data: ExploreData, sel: Selection, lang: str) -> pd.DataFrame:
    """The comparison table as a sheet: every unit of the chosen area at the map level (not only
    the rows on screen), lowest pass rate first, with its parents' rates and the counts, exactly
    as the audience sees them: a shown rate is a number (per cent, one decimal), a hidden one its
    text (``*``, ``>50.0%``); for the public, a count of 1 to the small-cell threshold is ``<5``."""
    level = sel.level
    ranked = ranked_units(data, sel)
    parents = LEVELS[LEVELS.index(level) + 1:]

    def rate(value: float, text: str):
        return text if math.isnan(value) else round(100 * float(value), 1)

    def count(exact: float, text: str):
        if isinstance(exact, float) and math.isnan(exact):
            return None
        return text if sel.audience == "public" and not str(text).isdigit() else int(round(float(exact)))

    name = t(f"level_{level}", lang)
    out = pd.DataFrame({
        t("col_rank", lang): range(1, len(ranked) + 1),
        _w("col_code", lang): ranked["code"].astype(str),
        name: ranked["name"].astype(str),
        f"{name} %": [rate(r, x) for r, x in zip(ranked["rate"], ranked["rate_text"])],
    })
    for p in parents:
        out[f"{t(f'level_{p}', lang)} %"] = [rate(r, x) for r, x in zip(ranked[p], ranked[f"{p}_text"])]
    out[_w("col_failed", lang)] = [count(e, x) for e, x in zip(ranked["failed"], ranked["failed_text"])]
    out[_w("col_surveyed", lang)] = [count(e, x) for e, x in zip(ranked["surveyed"], ranked["surveyed_text"])]
    return out


def export_table(data: ExploreData, sel: Selection, lang: str) -> tuple[Path, int]:
    """Write :func:`table_frame` to ``reports/_explore/<area>_<indicator>_<year>_<audience>.xlsx``
    (Thai headers by default, codes as text, a line above the table saying what it is, for whom
    and when); return the file and its number of rows. The file is replaced atomically."""
    from .i18n import format_datetime
    from .programme import write_xlsx

    frame = table_frame(data, sel, lang)
    area = sel.scope or sel.province
    key = sel.key if sel.key.startswith("g") else f"i{int(sel.key):02d}"
    path = data.ws.reports / EXPORT_DIR / f"{area}_{sel.level}_{key}_{sel.year}_{sel.audience}.xlsx"
    note = _w("export_note", lang, ind=key_label(sel.key, sel.year, lang, short=False), year=sel.year,
              area=f"{data.name(area)} ({area})", aud=_w(f"aud_{sel.audience}", lang),
              time=format_datetime(dt.datetime.now(), lang), version=__version__)
    sheet = key_label(sel.key, sel.year, lang)
    write_xlsx({sheet: frame}, path, notes={sheet: note})
    return path, len(frame)


_REP_WORDS = {"rep_km": ("เอกสาร KM", "KM document"), "rep_vdr": ("VDR", "VDR"), "rep_tdr": ("TDR", "TDR"),
              "rep_slides": ("สไลด์", "slides"), "rep_pdf": ("PDF", "PDF")}


def _rep(key: str, lang: str) -> str:
    th, en = _REP_WORDS[key]
    return en if lang == "en" else th


def detail_html(data: ExploreData, sel: Selection, lang: str, reports_url: str | None = None) -> str:
    """The chosen village: its value and its tambon's, district's and province's, as tiles in
    the shared colours, with links to its reports (or where they would be)."""
    code = sel.village
    if not code:
        return ""
    ind = key_label(sel.key, sel.year, lang, short=False)
    tiles = []
    for lv in LEVELS:
        c = code[: WIDTH[lv]]
        r, rate_text, failed_text, surveyed_text = _shown_at(data, sel, lv, c)
        color = band_colors([r])[0]
        counts = _w("failing_of", lang, failed=failed_text, surveyed=surveyed_text) if surveyed_text != "–" else ""
        tiles.append(
            f'<div class="vx-tile" style="border-top:8px solid {color}"><div class="vx-tl">{html.escape(t(f"level_{lv}", lang))}'
            f' {html.escape(data.name(c))}</div><div class="vx-tv" style="color:{color}">{html.escape(rate_text)}</div>'
            f'<div class="vx-tc">{html.escape(counts)}</div></div>')
    links = report_links(data.ws, code, reports_url)
    if links:
        rep = " · ".join(f'<a href="{html.escape(h)}" target="_blank">{html.escape(_rep(k, lang))}</a>' for k, h in links)
    elif (data.ws.reports / code / "km.html").is_file():
        rep = html.escape(_w("reports_path", lang, path=str(data.ws.reports / code)))
    else:
        rep = html.escape(_w("reports_none", lang))
    title = _w("detail_title", lang, name=f"{data.name(code)} ({code})", ind=ind)
    return (f'<div class="vx-detail"><h3>{html.escape(title)}</h3><div class="vx-tiles">{"".join(tiles)}</div>'
            f'<div class="vx-reports"><b>{html.escape(_w("col_reports", lang))}:</b> {rep}</div></div>')


# =============================================================================================
# the widget app
# =============================================================================================

_CSS = """
.vx-app, .vx-app .widget-label, .vx-app select, .vx-app button, .vx-app .widget-html-content {
  font-family: Sarabun, Laksaman, Tahoma, sans-serif; }
.vx-app { font-size: 16px; }
.vx-app h2 { color: #0b3d63; margin: 4px 0 8px; font-size: 26px; }
.vx-legend { font-size: 15px; line-height: 1.9; }
.vx-sw { display: inline-block; margin-right: 16px; white-space: nowrap; }
.vx-sw i { display: inline-block; width: 18px; height: 14px; margin-right: 6px; vertical-align: -2px; border: 1px solid #555; }
.vx-table { border-collapse: collapse; font-size: 15px; width: 100%; }
.vx-table th { background: #0b3d63; color: #fff; padding: 6px 8px; text-align: left; position: sticky; top: 0; }
.vx-table td { padding: 4px 8px; border-bottom: 1px solid #ddd; }
.vx-table tr.vx-chosen td { font-weight: 700; border-top: 3px solid #111; border-bottom: 3px solid #111; }
.vx-app a { color: #0b5cad; text-decoration: underline; }
.vx-num { text-align: right; white-space: nowrap; }
.vx-nd { color: #666; }
.vx-code { color: #555; font-size: 13px; }
.vx-detail h3 { margin: 4px 0 8px; color: #0b3d63; font-size: 20px; }
.vx-tiles { display: flex; gap: 12px; flex-wrap: wrap; }
.vx-tile { flex: 1; min-width: 160px; background: #f6f8fa; padding: 6px 10px; }
.vx-tl { font-size: 15px; } .vx-tv { font-size: 34px; font-weight: 700; } .vx-tc { font-size: 14px; color: #333; }
.vx-reports { margin-top: 8px; font-size: 16px; }
.vx-foot { font-size: 13px; color: #444; }
.vx-note { color: #444; }
.vx-maptitle { font-size: 18px; color: #1a1a1a; margin: 10px 0 6px; }
.vx-map svg { display: block; }
.vx-map path { stroke: #ffffff; stroke-width: 0.8px; vector-effect: non-scaling-stroke; stroke-linejoin: round; }
.vx-map path:hover { stroke: #111111; stroke-width: 2px; }
.vx-pane [data-code] { cursor: pointer; } .vx-table tbody tr[data-code]:hover td { box-shadow: inset 0 0 0 9999px rgba(0, 0, 0, 0.06); }
.vx-map path.vx-chosen { fill: none; stroke: #111111; stroke-width: 3px; pointer-events: none; }
.vx-bars { padding: 4px 8px 0 0; }
.vx-bt { font-size: 18px; color: #1a1a1a; margin-top: 10px; } .vx-bs { font-size: 14px; color: #333; margin-bottom: 8px; }
.vx-bbody { position: relative; }
.vx-bgrid { display: grid; grid-template-columns: minmax(120px, 42%) 1fr; column-gap: 8px; row-gap: 5px; align-items: center; }
.vx-bl { text-align: right; font-size: 15px; line-height: 1.25; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.vx-bl.vx-bc { font-weight: 700; }
.vx-btr { position: relative; height: 24px; margin-right: 54px; background: linear-gradient(90deg, #e6e6e6 1px, transparent 1px) 0 0 / 20% 100%; }
.vx-bar { height: 100%; min-width: 1px; } .vx-bar.vx-bc { outline: 3px solid #111; outline-offset: -1px; }
/* a value is written over the reference lines (white behind it), never crossed by them */
.vx-bv { position: absolute; top: 1px; margin-left: 3px; padding: 0 2px; font-size: 14px; white-space: nowrap;
  background: rgba(255, 255, 255, 0.9); z-index: 2; }
.vx-bax { position: relative; height: 20px; margin-right: 54px; border-top: 1px solid #999; }
.vx-bax span { position: absolute; transform: translateX(-50%); font-size: 13px; color: #333; }
.vx-bover { position: absolute; top: 0; bottom: 20px; left: calc(42% + 8px); right: 54px; pointer-events: none; z-index: 1; }
.vx-ref { position: absolute; top: 0; bottom: 0; border-left: 2px dashed #333; }
.vx-rkeys { font-size: 13px; color: #333; margin-top: 4px; }
.vx-rk { margin-right: 14px; white-space: nowrap; } .vx-rk i { display: inline-block; height: 12px; border-left: 2px dashed #333; margin-right: 4px; vertical-align: -1px; }
"""


@lru_cache(maxsize=1)
def _font_css() -> str:
    """Sarabun embedded as data URIs, so the explorer's Thai looks like the reports everywhere
    (the served page has no route to the font files)."""
    import base64

    try:
        from .publish.assets import font_path
    except ImportError:  # pragma: no cover
        return ""
    out = []
    for weight in (400, 700):
        try:
            b64 = base64.b64encode(font_path(weight).read_bytes()).decode("ascii")
        except Exception:  # fonts missing: the system's Thai font is used
            return ""
        out.append(f"@font-face{{font-family:Sarabun;font-weight:{weight};src:url(data:font/ttf;base64,{b64}) format('truetype');}}")
    return "".join(out)


#: the browser side of :func:`pane` (an anywidget module): draw the HTML; a click on anything
#: carrying ``data-code`` (a map area, a bar, a table row) tells Python, unless it hit a link
_PANE_ESM = """
function render({ model, el }) {
  const draw = () => { el.innerHTML = model.get("value"); };
  const click = (e) => {
    if (e.target.closest("a")) return;  // a report link opens the report
    const hit = e.target.closest("[data-code]");
    if (hit && el.contains(hit)) model.send({ pick: hit.dataset.code });
  };
  model.on("change:value", draw);
  el.addEventListener("click", click);
  el.classList.add("vx-pane");
  draw();
  return () => { model.off("change:value", draw); el.removeEventListener("click", click); };
}
export default { render };
"""


@lru_cache(maxsize=1)
def _pane_class():
    import anywidget
    import traitlets

    class Pane(anywidget.AnyWidget):
        """HTML that reports clicks: ``value`` is the HTML (as :class:`ipywidgets.HTML`), and
        :meth:`on_pick` callbacks get the ``data-code`` of what was clicked."""

        _esm = _PANE_ESM
        value = traitlets.Unicode("").tag(sync=True)

        def __init__(self, **kw):
            super().__init__(**kw)
            self._picks = []
            self.on_msg(self._on_msg)

        def on_pick(self, callback) -> None:
            self._picks.append(callback)

        def _on_msg(self, _widget, content, _buffers) -> None:
            code = content.get("pick") if isinstance(content, dict) else None
            if isinstance(code, str):
                for cb in self._picks:
                    cb(code)

    return Pane


def pane(**kw):
    """An HTML widget whose map areas, bars and table rows choose their unit when clicked (an
    anywidget: works in Voilà and JupyterLab, offline; the module is inline)."""
    return _pane_class()(**kw)


class Explorer:
    """The explorer app (ipywidgets). Build it with :func:`explorer`.

    Attributes
    ----------
    widget : ipywidgets.VBox
        What the notebook shows.
    last_update_ms : float
        How long the last change took in Python (figures and tables rebuilt and serialised).
    """

    def __init__(self, data: ExploreData, *, province: str | None = None, village: str | None = None,
                 indicator: str | int | None = None, year: int | None = None, audience: str = "public",
                 level: str = "village", top: int = 15, reports_url: str | None = None):
        import ipywidgets as W

        self.data = data
        self.lang = data.lang
        self.top = int(top)
        self.reports_url = reports_url if reports_url is not None else os.environ.get(ENV_REPORTS_URL) or None
        self.last_update_ms = 0.0
        self.updates = 0
        self._hold = False
        self._run_thread: threading.Thread | None = None
        L = self.lang
        if audience not in AUDIENCES:
            raise InputError(f"audience {audience!r} is not one of {AUDIENCES}")
        provinces = [c for c in data.codes["province"] if len(data.children("village", c))]
        if not provinces:
            raise InputError("the workspace has no villages with indicator values", str(data.ws.processed))
        province = province if province in provinces else provinces[0]
        year = int(year) if year is not None and int(year) in data.years else data.years[-1]
        lay = W.Layout(width="auto")
        style = {"description_width": "initial"}
        self.w_province = W.Dropdown(description=t("province", L), options=self._opts("province", ""), value=province, layout=lay, style=style)
        self.w_district = W.Dropdown(description=t("district", L), layout=lay, style=style)
        self.w_tambon = W.Dropdown(description=t("tambon", L), layout=lay, style=style)
        self.w_village = W.Dropdown(description=t("village", L), layout=W.Layout(width="320px"), style=style)
        self.w_year = W.Dropdown(description=_w("year", L), options=[(str(y), y) for y in data.years], value=year, layout=lay, style=style)
        self.w_group = W.Dropdown(description=_w("group", L), layout=W.Layout(width="360px"), style=style)
        self.w_indicator = W.Dropdown(description=_w("indicator", L), layout=W.Layout(width="460px"), style=style)
        self.w_audience = W.ToggleButtons(description=_w("audience", L), options=[(_w("aud_public", L), "public"), (_w("aud_internal", L), "internal")],
                                          value=audience, style={"button_width": "auto", **style})
        self.w_level = W.ToggleButtons(description=_w("map_level", L), options=[(t(f"level_{lv}", L), lv) for lv in LEVELS],
                                       value=level if level in LEVELS else "village", style={"button_width": "auto", **style})
        self.w_map = pane(layout=W.Layout(width="49%", min_width="420px"))
        self.w_bars = pane(layout=W.Layout(width="49%", min_width="420px"))
        self.w_table = pane(layout=W.Layout(max_height="520px", overflow="auto"))
        for w in (self.w_map, self.w_bars, self.w_table):
            w.on_pick(self.pick)
        self.w_detail = W.HTML()
        self.w_run = W.Button(description=_w("run_button", L), icon="play", layout=W.Layout(width="auto"))
        self.w_run_status = W.HTML()
        self.w_export = W.Button(description=_w("export_button", L), icon="download", layout=W.Layout(width="auto"))
        self.w_export_status = W.HTML()
        self.w_foot = W.HTML()
        self.w_legend = W.HTML(legend_html(L, audience))
        self._fill_cascade(village=village)
        self._fill_groups(self._initial_key(indicator))
        if not village:  # open on the village that fares worst on the opening indicator
            self._hold = True
            try:
                self._fill_villages(self._worst_village([c for _, c in self.w_village.options]))
            finally:
                self._hold = False
        head = W.HTML(f"<style>{_font_css()}{_CSS}</style>")
        self.widget = W.VBox([
            head,
            W.HBox([self.w_province, self.w_district, self.w_tambon, self.w_village], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.w_group, self.w_indicator, self.w_year], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.w_level, self.w_audience], layout=W.Layout(flex_flow="row wrap")),
            self.w_legend,
            W.HBox([self.w_map, self.w_bars], layout=W.Layout(flex_flow="row wrap", width="100%")),
            self.w_detail,
            W.HBox([self.w_run, self.w_run_status]),
            self.w_table,
            W.HBox([self.w_export, self.w_export_status]),
            self.w_foot,
        ])
        self.widget.add_class("vx-app")
        self.w_province.observe(self._reacting(self._fill_cascade), "value")
        self.w_district.observe(self._reacting(self._cascade_district), "value")
        self.w_tambon.observe(self._reacting(self._fill_villages), "value")
        self.w_group.observe(self._reacting(self._fill_indicators), "value")
        self.w_year.observe(self._reacting(self._cascade_year), "value")
        for w in (self.w_village, self.w_indicator, self.w_audience, self.w_level):
            w.observe(self._reacting(), "value")
        self.w_run.on_click(self._on_run)
        self.w_export.on_click(self._on_export)
        self.refresh()

    # ---- options ------------------------------------------------------------------------
    def _opts(self, level: str, prefix: str, all_label: str | None = None) -> list:
        codes = self.data.children(level, prefix)
        if level == "village":
            codes = [c for c in codes if c in self.data.valued]
        opts = [(f"{self.data.name(c)} ({c})", c) for c in codes]
        return ([(all_label, ALL)] if all_label else []) + opts

    def _fill_cascade(self, village: str | None = None, district: str | None = None, tambon: str | None = None) -> None:
        L = self.lang
        p = self.w_province.value
        if village:
            village = check_village_code(village)
            district, tambon = district or village[:4], tambon or village[:6]
        self._hold = True
        try:
            self.w_district.options = self._opts("district", p, _w("all_districts", L))
            self.w_district.value = district if district in dict((v, k) for k, v in self.w_district.options) else ALL
            d = self.w_district.value
            self.w_tambon.options = self._opts("tambon", d, _w("all_tambons", L)) if d else [(_w("all_tambons", L), ALL)]
            self.w_tambon.value = tambon if tambon in dict((v, k) for k, v in self.w_tambon.options) else ALL
            self._fill_villages(village)
        finally:
            self._hold = False

    def _fill_villages(self, village: str | None = None) -> None:
        scope = self.w_tambon.value or self.w_district.value or self.w_province.value
        opts = self._opts("village", scope)
        codes = [c for _, c in opts]
        old = self.w_village.value
        self.w_village.options = opts
        want = village if village in codes else (old if old in codes else (self._worst_village(codes) if codes else None))
        self.w_village.value = want

    def _worst_village(self, codes: list[str]) -> str:
        """The village that fares worst on the chosen indicator: the natural first look."""
        key = getattr(self, "w_indicator", None) and self.w_indicator.value
        f = shown_values(self.data, "village", self.w_year.value, key, self.w_audience.value) if key else None
        if f is None:
            return codes[0]
        idx = self.data.index("village")
        rates = np.array([f.rate[idx[c]] for c in codes])  # public: hidden rates do not pick the village
        return codes[int(np.nanargmin(rates))] if np.isfinite(rates).any() else codes[0]

    def _initial_key(self, indicator) -> str:
        keys = self.data.keys.get(self.w_year.value, [])
        if indicator is not None and str(indicator) in keys:
            return str(indicator)
        # default: the indicator the province passes least among those whose map shows most of its
        # villages (public: a village's rate is hidden when 1..k fail, so a rare indicator opens grey)
        year, aud, prov = self.w_year.value, self.w_audience.value, self.w_province.value
        rows = [i for c, i in self.data.index("village").items() if str(c).startswith(str(prov))]
        best, worst, widest, cover_max = None, math.inf, None, -1.0
        for k in keys:
            if k.startswith("g"):
                continue
            sh = shown_values(self.data, "province", year, k, aud)
            i = self.data.index("province").get(prov)
            r = float(sh.rate[i]) if sh is not None and i is not None else math.nan  # public: hidden rates are NaN
            vs = shown_values(self.data, "village", year, k, aud)
            cover = float(np.mean([not math.isnan(float(vs.rate[j])) for j in rows])) if vs is not None and rows else 0.0
            if cover > cover_max:
                widest, cover_max = k, cover
            if not math.isnan(r) and r < worst and cover >= 0.5:
                best, worst = k, r
        return best or widest or (keys[0] if keys else "g1")

    def _fill_groups(self, key: str) -> None:
        L, y = self.lang, self.w_year.value
        s = indicator_set(y)
        self._hold = True
        try:
            self.w_group.options = [(f"{g}. {s.group_name(g, L)}", int(g)) for g in s.groups.index]
            grp = int(key[1:]) if key.startswith("g") else int(s.indicators.at[int(key), "group"])
            self.w_group.value = grp
            self._fill_indicators(key)
        finally:
            self._hold = False

    def _fill_indicators(self, key: str | None = None) -> None:
        L, y, g = self.lang, self.w_year.value, self.w_group.value
        s = indicator_set(y)
        have = set(self.data.keys.get(y, []))
        opts = [(_w("group_all", L, g=g), f"g{g}")] if f"g{g}" in have else []
        opts += [(key_label(str(int(i)), y, L), str(int(i))) for i in s.indicators.index
                 if int(s.indicators.at[i, "group"]) == g and str(int(i)) in have]
        self.w_indicator.options = opts
        codes = [v for _, v in opts]
        self.w_indicator.value = key if key in codes else (codes[0] if codes else None)

    # ---- events: each handler applies its cascade, then one refresh --------------------------
    def _held(self, fn, *args) -> None:
        """Run a cascade step with change events muted (one refresh at the end, not one per widget)."""
        self._hold = True
        try:
            fn(*args)
        finally:
            self._hold = False

    def _cascade_district(self) -> None:
        L, d = self.lang, self.w_district.value
        self.w_tambon.options = self._opts("tambon", d, _w("all_tambons", L)) if d else [(_w("all_tambons", L), ALL)]
        self.w_tambon.value = ALL
        self._fill_villages()

    def _cascade_year(self) -> None:
        self._fill_groups(self.w_indicator.value or "g1")

    def _reacting(self, step=None):
        """An observer: unless the pickers are being refilled, run ``step`` (the cascade below
        the changed picker, held so it does not trigger itself) and redraw."""
        def observer(_):
            if self._hold:
                return
            if step is not None:
                self._held(step)
            self.refresh()
        return observer

    # ---- state --------------------------------------------------------------------------
    @property
    def selection(self) -> Selection:
        return Selection(self.w_province.value, self.w_district.value or None, self.w_tambon.value or None, self.w_village.value,
                         self.w_indicator.value or "g1", int(self.w_year.value), self.w_audience.value, self.w_level.value)

    def choose(self, **kw) -> None:
        """Set widgets by name as a user would, with one refresh at the end: ``province``,
        ``district``, ``tambon``, ``village`` (its district and tambon follow when it lies
        outside the chosen area), ``year``, ``group``, ``indicator`` (its group follows),
        ``audience``, ``level``. Used by tests and the benchmark."""
        names = ("province", "district", "tambon", "year", "group", "indicator", "village", "audience", "level")
        unknown = set(kw) - set(names)
        if unknown:
            raise TypeError(f"choose() got unknown widget(s) {sorted(unknown)}")

        def apply():
            if "province" in kw:
                self.w_province.value = kw["province"]
                self._fill_cascade()
            if "year" in kw:
                self.w_year.value = int(kw["year"])
                self._cascade_year()
            village = kw.get("village")
            if village and village not in {c for _, c in self.w_village.options}:
                v = check_village_code(village)  # outside the chosen area: move the area to it
                kw.setdefault("district", v[:4])
                kw.setdefault("tambon", v[:6])
            if "district" in kw:
                self.w_district.value = kw["district"] or ALL
                self._cascade_district()
            if "tambon" in kw:
                self.w_tambon.value = kw["tambon"] or ALL
                self._fill_villages()
            key = str(kw["indicator"]) if kw.get("indicator") is not None else None
            group = kw.get("group")
            if key is not None and group is None:
                s = indicator_set(int(self.w_year.value))
                group = int(key[1:]) if key.startswith("g") else int(s.indicators.at[int(key), "group"])
            if group is not None:
                self.w_group.value = int(group)
                self._fill_indicators(key)
            if village:
                self.w_village.value = village
            for name in ("audience", "level"):
                if name in kw:
                    getattr(self, f"w_{name}").value = kw[name]

        self._held(apply)
        self.refresh()

    def pick(self, code: str) -> None:
        """Focus on the unit a click on the map, a bar or a table row names. The pickers' area
        stays (the ranking in view does not change): a village becomes the chosen village; a
        tambon or district its village that fares worst, unless the chosen one already lies in
        it; a province (on the province map) becomes the chosen province."""
        code = str(code)
        level = LEVEL_OF_WIDTH.get(len(code))
        if not (code.isdigit() and level) or code not in self.data.index(level):
            log.warning("explorer: ignored a pick of %r", code)
            return
        if level == "village":
            if code in self.data.valued and code != self.w_village.value:
                self.choose(village=code)
        elif level == "province" and code != self.w_province.value:
            self.choose(province=code)
        elif not (self.w_village.value or "").startswith(code):
            villages = [c for c in self.data.children("village", code) if c in self.data.valued]
            if villages:
                self.choose(village=self._worst_village(villages))

    def refresh(self) -> None:
        """Rebuild the map, the bars, the table and the panel for the current choice."""
        t0 = time.perf_counter()
        sel = self.selection
        L = self.lang
        ranked = ranked_units(self.data, sel)
        shown = shown_units(ranked, sel.unit(), self.top)
        self.w_map.value = map_svg(self.data, sel, L)
        self.w_bars.value = bars_html(self.data, sel, shown, len(ranked), L, self.reports_url)
        self.w_table.value = comparison_table_html(self.data, sel, shown, L, self.reports_url)
        self.w_detail.value = detail_html(self.data, sel, L, self.reports_url)
        self.w_legend.value = legend_html(L, sel.audience)
        self.w_run.disabled = not sel.village
        self.last_update_ms = 1000 * (time.perf_counter() - t0)
        self.updates += 1
        self.w_foot.value = self._footer()

    def _footer(self) -> str:
        L = self.lang
        srcs = set()
        for lv in LEVELS:
            srcs |= self.data.shapes[lv].sources
        names = [HDX_CREDIT if s == "hdx" else _w("src_villages", L) for s in sorted(srcs)]
        text = _w("footer", L, root=str(self.data.ws.root), years=", ".join(map(str, self.data.years)),
                  sources="; ".join(names) or "–", version=__version__, ms=f"{self.last_update_ms:.0f}")
        return f'<div class="vx-foot" data-update-ms="{self.last_update_ms:.1f}" data-updates="{self.updates}">{html.escape(text)}</div>'

    # ---- vilwork run --------------------------------------------------------------------
    def run_command(self, code: str) -> list[str]:
        """The ``vilwork run`` command line for village ``code`` with the current choice."""
        sel = self.selection
        return [sys.executable, "-c", _CLI, "run", "--root", str(self.data.ws.root), "--village",
                check_village_code(code), "--year", str(sel.year), "--lang", self.lang, "--audience", sel.audience]

    def _on_export(self, _=None) -> None:
        """Save the table as it is now (the whole area, not only the rows on screen) and say where."""
        L = self.lang
        try:
            path, n = export_table(self.data, self.selection, L)
        except (OSError, VilworkError) as e:
            self.w_export_status.value = html.escape(str(e))
            return
        text = html.escape(_w("export_done", L, n=format_int(n), path=str(path)))
        if self.reports_url:
            href = f"{self.reports_url.rstrip('/')}/{EXPORT_DIR}/{path.name}"
            text += f' · <a href="{html.escape(href)}" download>{html.escape(_w("export_open", L))}</a>'
        self.w_export_status.value = text

    def _on_run(self, _=None) -> None:
        L = self.lang
        code = self.w_village.value
        if not code:
            return
        if self._run_thread is not None and self._run_thread.is_alive():
            self.w_run_status.value = html.escape(_w("run_busy", L))
            return
        cmd = self.run_command(code)
        self.w_run.disabled = True
        self.w_run_status.value = html.escape(_w("run_started", L, code=code))

        def work():
            t0 = time.perf_counter()
            try:
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode == 0:
                    msg = _w("run_done", L, code=code, s=time.perf_counter() - t0)
                else:
                    err = (r.stderr or r.stdout).strip().splitlines()[-1:] or [f"exit {r.returncode}"]
                    msg = _w("run_failed", L, code=code, err=err[0])
            except OSError as e:
                msg = _w("run_failed", L, code=code, err=str(e))
            self.w_run_status.value = html.escape(msg)
            self.w_run.disabled = False
            self.refresh()

        self._run_thread = threading.Thread(target=work, daemon=True)
        self._run_thread.start()


def explorer(root=None, *, province: str | None = None, village: str | None = None, indicator=None,
             year: int | None = None, lang: str | None = None, audience: str | None = None, level: str = "village",
             boundaries: str | None = None, top: int = 15, reports_url: str | None = None):
    """Build the explorer for the workspace at ``root`` and return its widget.

    Parameters
    ----------
    root : str or Path, optional
        The workspace (default ``$VILWORK_ROOT`` set by ``vilwork explore``, else the current
        folder).
    province, village : str, optional
        What to open on (default: ``$VILWORK_EXPLORE_VILLAGE`` set by ``vilwork explore
        --village``, else the first province and its village that fares worst; a village
        brings its province).
    indicator : int or str, optional
        An indicator number or ``"g<N>"`` for a whole group (default: the indicator the
        province passes least).
    year : int, optional
        BE survey year (default: the latest).
    lang : {"th", "en"}, optional
        Default ``$VILWORK_EXPLORE_LANG`` (``vilwork explore --lang``), else Thai.
    audience : {"public", "internal"}, optional
        Public hides counts from 1 to the small-cell threshold. Default
        ``$VILWORK_EXPLORE_AUDIENCE`` (``vilwork explore --audience``), else public.
    level : {"village", "tambon", "district", "province"}
        The map's level.
    boundaries : str, optional
        Folder of HDX COD-AB files (``th_adm1.geojson``, ``th_adm2.geojson``).
    top : int
        Bars and table rows shown (the chosen unit is added when it ranks lower).
    reports_url : str, optional
        Where the village report folders are served (``vilwork explore`` sets it).

    Returns
    -------
    ipywidgets.VBox
        The app; the :class:`Explorer` behind it is its ``explorer`` attribute.
    """
    lang = lang or os.environ.get(ENV_LANG) or "th"
    audience = audience or os.environ.get(ENV_AUDIENCE) or "public"
    village = village or os.environ.get(ENV_VILLAGE) or None
    if village and not province:
        province = check_village_code(village)[:2]
    data = load_explore_data(root, lang=lang, boundaries_dir=boundaries)
    app = Explorer(data, province=province, village=village, indicator=indicator, year=year,
                   audience=audience, level=level, top=top, reports_url=reports_url)
    app.widget.explorer = app
    return app.widget
