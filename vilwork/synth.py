"""Demo data: the fictional province 99 (จังหวัดตัวอย่าง) as an officer would hold it.

:func:`synthesise` writes the raw tree of ``docs/architecture.md`` for an invented province: จปฐ.
household and person records (or the national platform's village aggregates), กชช. 2ค levels,
village boundaries, the place list, and per village the facilitator's material (profile, forum
votes, important places, household accounts, community capital, photos).

Everything is drawn from one :class:`numpy.random.Generator` stream per village (seeded by the
seed and the village code), so the same seed writes byte-identical files, the records and the
aggregates layouts describe the same households, and nothing depends on the clock. Villages are
generated and written one at a time (the files of a district stay open and receive rows village by
village), so millions of persons can be written without holding them in memory.

How the data are made plausible: every household has a latent wealth (village effect plus noise);
poorer households fail the questionnaire items more often and earn less. The second and later
survey years follow the same households and persons (same citizen IDs, one year older) with a
few deaths, births, moves and somewhat better answers. Which items exist, which persons are asked
which question, and the income threshold are read from the registry (``definitions/``); the
counting of the platform aggregates is :func:`vilwork.rules.village_member_counts`.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import rules
from .errors import DefinitionError
from .log import get_logger
from .registry import capital_kinds, indicator_set, issue_areas, kchch2k_set, thai_headers
from .workspace import Workspace

__all__ = ["SynthSummary", "synthesise", "PROVINCE_CODE"]

log = get_logger(__name__)

#: The demo province's code. No real province uses it, so demo rows can never be mistaken for real ones.
PROVINCE_CODE = "99"
PROVINCE_NAME = ("ตัวอย่าง", "Tua Yang (fictional demo province)")
#: Bounding box (lon0, lat0, lon1, lat1) the invented province is drawn in.
PROVINCE_BOX = (100.5, 15.0, 101.0, 15.4)

LAYOUTS = ("records", "aggregates")
FORMATS = ("auto", "xlsx", "csv")
#: ``fmt="auto"`` writes xlsx up to this many persons a survey year, CSV above.
AUTO_XLSX_MAX_PERSONS = 200_000
_XLSX_MAX_ROWS = 1_048_575
#: Households per village stay in this range whatever the scale.
HOUSEHOLDS_MIN, HOUSEHOLDS_MAX = 100, 300
_MEAN_HOUSEHOLD_SIZE = 3.15  # measured on the generator
_MIN_VILLAGES = 4  # 2 districts x 2 tambons, and two หนองบัว in different tambons
#: Every timestamp inside a written xlsx (zip entries, document properties).
_FIXED_TIME = dt.datetime(2019, 3, 31, 0, 0, 0)

# ---------------------------------------------------------------------------------------------
# vocabulary of the demo province (invented; Thai with the RTGS spelling for English)
# ---------------------------------------------------------------------------------------------
_DISTRICT_NAMES = [
    ("เมืองตัวอย่าง", "Mueang Tua Yang"), ("ทุ่งสมมุติ", "Thung Sommut"), ("ดอนจำลอง", "Don Chamlong"),
    ("นาทดลอง", "Na Thotlong"), ("ห้วยสาธิต", "Huai Sathit"), ("โคกแบบอย่าง", "Khok Baep Yang"),
]
_PLACE_PRE = [
    ("หนอง", "Nong"), ("โนน", "Non"), ("ดอน", "Don"), ("ห้วย", "Huai"), ("โคก", "Khok"), ("นา", "Na"),
    ("ป่า", "Pa"), ("ทุ่ง", "Thung"), ("วัง", "Wang"), ("บึง", "Bueng"), ("คลอง", "Khlong"), ("หัว", "Hua"),
    ("สระ", "Sa"), ("บาง", "Bang"),
]
_PLACE_SUF = [
    ("บัว", "Bua"), ("ใหญ่", "Yai"), ("แดง", "Daeng"), ("ทอง", "Thong"), ("ยาง", "Yang"), ("ไผ่", "Phai"),
    ("สะแก", "Sakae"), ("ม่วง", "Muang"), ("คำ", "Kham"), ("ตะเคียน", "Takhian"), ("กระทุ่ม", "Krathum"),
    ("งาม", "Ngam"), ("สำราญ", "Samran"), ("เจริญ", "Charoen"), ("แก", "Kae"), ("โพธิ์", "Pho"), ("ไทร", "Sai"),
    ("จาน", "Chan"), ("เค็ม", "Khem"), ("สว่าง", "Sawang"),
]
_DUPLICATE_NAME = (0, 0)  # หนองบัว: two villages in different tambons carry it, as in real data
_FIRST_M = (
    ["สม", "บุญ", "ทอง", "ประ", "สุ", "วิ", "ชัย", "อนุ", "กิตติ", "ธีร", "พีร", "สุร", "เกียรติ", "ณัฐ", "ศักดิ์"],
    ["ชาย", "ศักดิ์", "พงษ์", "ชัย", "เดช", "พล", "วุฒิ", "ยุทธ", "ภพ", "กร"],
)
_FIRST_F = (
    ["สม", "บุญ", "ทอง", "ประ", "สุ", "วิ", "มณี", "ดวง", "จันทร์", "แสง", "กัญ", "พร", "ศิริ", "รัตน", "นภ"],
    ["ใจ", "หญิง", "พร", "ศรี", "จันทร์", "รัตน์", "มาลี", "วรรณ", "ทิพย์", "ญา"],
)
_SURNAME = (
    ["ใจ", "ศรี", "บุญ", "ทอง", "แก้ว", "คำ", "สุข", "มั่น", "จันทร์", "พรหม", "ชัย", "เพชร", "วงศ์", "สิงห์", "นาค", "ไชย"],
    ["ดี", "สุข", "มา", "ประเสริฐ", "วงศ์", "สมบูรณ์", "เจริญ", "ไทย", "งาม", "รักษา", "ทอง", "แสง", "ศรี", "พันธ์",
     "มณี", "ยืน", "บุตร", "สวัสดิ์"],
)
_RELATIONS = ["หัวหน้าครัวเรือน", "คู่สมรส", "บุตร", "บิดา/มารดา", "หลาน", "ญาติ"]
HEAD, SPOUSE, CHILD, PARENT, GRANDCHILD, RELATIVE = range(6)
_SEX = ("หญิง", "ชาย")  # index by male (0/1)
_HEALTH_TH = {"normal": "ปกติ", "disabled": "พิการ", "chronic": "ป่วยเรื้อรัง"}
_EDU_ADULT = [
    "ไม่ได้รับการศึกษา", "ประถมศึกษา", "มัธยมศึกษาตอนต้น", "มัธยมศึกษาตอนปลาย", "ปวช.", "ปวส.", "ปริญญาตรี",
    "สูงกว่าปริญญาตรี",
]
# share of each adult level by birth cohort (age on the reference day), in _EDU_ADULT order
_EDU_MIX = {
    60: [0.08, 0.80, 0.06, 0.03, 0.01, 0.00, 0.02, 0.00],
    35: [0.02, 0.45, 0.18, 0.17, 0.05, 0.04, 0.08, 0.01],
    18: [0.005, 0.10, 0.20, 0.30, 0.10, 0.10, 0.18, 0.015],
}
_OCC_STUDENT, _OCC_NONE = "นักเรียน", "ไม่มีอาชีพ"
_OCC_MIX = {  # job of a working person: (names, shares); wealthier households sit further right
    "adult": (["เกษตรกร", "รับจ้างทั่วไป", "ค้าขาย", "ธุรกิจส่วนตัว", "พนักงานบริษัท", "รับราชการ"],
              [0.48, 0.26, 0.09, 0.05, 0.07, 0.05]),
    "elderly": (["เกษตรกร", "รับจ้างทั่วไป", "ค้าขาย", "ธุรกิจส่วนตัว"], [0.70, 0.12, 0.15, 0.03]),
}

# Questionnaire items: (rate of the bad outcome in the first year, slope on household wealth).
# The bad outcome is a 0 for all_of items and a 1 (nuisance/threat present) for none_of items.
# Looked up by item, then by its stem (q4_3 -> q4); unknown items use _BAD_DEFAULT.
_BAD = {
    "q4": (0.015, 0.9), "q5": (0.015, 0.8), "q8_1": (0.02, 1.0), "q8_2": (0.03, 1.0), "q9": (0.04, 0.9),
    "q10": (0.04, 0.9), "q11": (0.015, 0.8), "q12": (0.015, 0.6), "q13": (0.02, 0.7), "q14": (0.007, 0.6),
    "q23": (0.15, 1.1), "q30": (0.05, 0.6), "q31": (0.03, 0.7),
    "q2": (0.25, 0.5), "q3": (0.03, 0.9), "q6": (0.12, 0.6), "q7": (0.22, 0.4), "q15": (0.05, 0.9),
    "q16": (0.02, 1.0), "q19": (0.02, 0.9), "q24": (0.12, 0.3), "q25": (0.13, 0.4), "q26": (0.10, 0.3),
    "q27": (0.03, 0.8), "q28": (0.05, 0.8), "q29": (0.03, 0.8), "q18": (0.45, 0.6),
}
_BAD_DEFAULT = (0.05, 0.8)
_SEX_LOGIT = {"q24": (1.4, -1.6), "q25": (1.3, -2.0)}  # added to the logit of the bad outcome: (male, female)
_DERIVED = {"income_per_member", "birth_weight_g"}  # rule columns that are not questionnaire answers
_INCOME_PARTS = ("income_main", "income_secondary", "income_other", "income_own_produce")
_EXPENSE_PARTS = ("exp_production", "exp_necessary", "exp_unnecessary", "exp_debt")
_FLOAT_COLUMNS = {"lat", "lon"}  # every other float column holds integers with NaN for a blank cell
_IMPROVE_PER_YEAR = 0.3  # logit points fewer bad outcomes per survey year after the first
_KEEP_LATENT = 0.7  # share of a unit's answer draws kept from one year to the next
_INCOME_MEDIAN = 72_000  # baht per member per year at wealth 0 (threshold 38,000 -> about 10% fail)

_ACCOUNT_ITEMS = {  # ledger category (indicator 22's parts; incomes first) -> items booked under it
    "รายได้จากอาชีพหลัก": ["ขายข้าวเปลือก", "ค่าจ้างรายวัน", "ขายผักที่ตลาด", "เงินเดือน", "ขายมันสำปะหลัง"],
    "รายได้อื่น": ["เงินที่ลูกส่งมาให้", "เบี้ยยังชีพผู้สูงอายุ", "ขายไข่ไก่", "ค่าเช่าที่นา"],
    "รายจ่ายเพื่อการผลิต": ["ซื้อปุ๋ย", "ค่าน้ำมันรถไถ", "ซื้อพันธุ์ผัก", "ค่าจ้างแรงงานเกี่ยวข้าว"],
    "รายจ่ายที่จำเป็น": ["ค่าอาหาร", "ค่าไฟฟ้า", "ค่าน้ำประปา", "ค่าเล่าเรียนบุตร", "ค่ารักษาพยาบาล", "ค่าเดินทาง"],
    "รายจ่ายที่ไม่จำเป็น": ["ซื้อลอตเตอรี่", "ค่าเหล้าและบุหรี่", "ค่าขนมและเครื่องดื่ม", "ค่างานเลี้ยงสังสรรค์"],
    "ชำระหนี้": ["ผ่อนชำระกองทุนหมู่บ้าน", "ชำระหนี้ ธ.ก.ส.", "ผ่อนรถจักรยานยนต์"],
    "เงินออม": ["ฝากเงินกลุ่มออมทรัพย์", "ฝากธนาคาร", "ฝากสัจจะออมทรัพย์"],
}


# ---------------------------------------------------------------------------------------------
# public surface
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SynthSummary:
    """What :func:`synthesise` wrote.

    Attributes
    ----------
    root : Path
        The workspace root.
    files : tuple of str
        Files written, relative to the workspace root, in the order written.
    households, persons : dict of int to int
        Households and persons per survey year (BE).
    villages, tambons, districts : int
        Places of the demo province.
    layout, fmt : str
        ``records`` or ``aggregates``; the format the จปฐ. files were written in (``xlsx``/``csv``;
        always ``csv`` for aggregates).
    seed : int
    special : dict of str to str
        Villages with a role in the demo: ``gap`` (no profile, votes or กชช. 2ค row), ``partial``
        (profile with empty fields), ``best``, ``worst``, ``split`` (two rows in the aggregates),
        ``duplicate_name`` (two codes joined by ``;``).
    """

    root: Path
    files: tuple[str, ...]
    households: dict[int, int]
    persons: dict[int, int]
    villages: int
    tambons: int
    districts: int
    layout: str
    fmt: str
    seed: int
    special: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [
            f"ข้อมูลตัวอย่าง จังหวัด{PROVINCE_NAME[0]} ({PROVINCE_CODE}) — fictional demo province {PROVINCE_CODE}: "
            f"{self.root / 'data' / 'raw'}",
            f"  {self.districts} อำเภอ / districts, {self.tambons} ตำบล / tambons, {self.villages:,} หมู่บ้าน / villages",
        ]
        for y in sorted(self.households):
            lines.append(f"  ปี / year {y}: {self.households[y]:,} ครัวเรือน / households, {self.persons[y]:,} คน / persons")
        what = "บันทึกรายครัวเรือนและรายบุคคล / records" if self.layout == "records" else "ข้อมูลสรุประดับหมู่บ้าน / platform aggregates"
        lines.append(f"  {what} ({self.fmt}), seed {self.seed}, {len(self.files):,} ไฟล์ / files")
        if self.special.get("gap"):
            lines.append(f"  หมู่บ้านที่ข้อมูลไม่ครบ (ไม่มีโปรไฟล์ ผลโหวต กชช. 2ค) / village with gaps: {self.special['gap']}")
        return "\n".join(lines)


def synthesise(
    ws: Workspace,
    *,
    seed: int = 2562,
    villages: int = 12,
    persons: int | None = None,
    years: tuple[int, ...] = (2561, 2562),
    layout: str = "records",
    fmt: str = "auto",
    village_folders: int | None = None,
) -> SynthSummary:
    """Write the demo province 99 into ``ws.raw``.

    Parameters
    ----------
    ws : Workspace
        Target workspace; only ``data/raw`` is written. Files of province 99 left there by an
        earlier run (other districts, other layout) are removed first; nothing else is touched.
    seed : int
        The same seed writes byte-identical files.
    villages : int
        Number of villages (at least 4). The default 12 is 2 districts x 2 tambons x 3 villages;
        more villages bring more tambons and districts. Ignored when ``persons`` is given.
    persons : int, optional
        About this many persons per survey year: the number of villages follows (households per
        village stay 100-300), for benchmarks up to millions.
    years : tuple of int
        Survey years (BE) of the จปฐ. files. The first year draws the population; each later year
        follows it (same persons one year older, some births, deaths and moves). Each year needs an
        indicator set and a threshold in the registry.
    layout : {"records", "aggregates"}
        ``records``: household and person files per district and year. ``aggregates``: the same
        households counted as the national platform publishes them (village rows, member counts).
    fmt : {"auto", "xlsx", "csv"}
        Format of the household and person files: xlsx (what an officer exports), csv (UTF-8 with
        BOM, streamed), ``auto`` = xlsx up to 200,000 persons a year, else csv. The aggregates are
        always csv; the other raw files keep the format of docs/architecture.md.
    village_folders : int, optional
        Write ``villages/<code>/`` (profile, votes, places, accounts, capital, photos) for only the
        first this many villages (None: all). Benchmarks on thousands of villages may not need them.

    Returns
    -------
    SynthSummary

    Raises
    ------
    ValueError
        On an unknown layout or format, fewer than 4 villages, or a scale the codes cannot hold.
    DefinitionError
        When a year has no indicator set or threshold, or aliases.csv lacks a header synth writes.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    years = tuple(sorted({int(y) for y in years}))
    if not years:
        raise ValueError("years is empty")
    isets = {y: indicator_set(y) for y in years}
    for y in years:  # a missing threshold should stop the run before anything is written
        for i, r in isets[y].rules.items():
            rules.rule_threshold(r, i, y)

    if persons is not None:
        if persons <= 0:
            raise ValueError(f"persons must be positive, got {persons}")
        n_vil = max(_MIN_VILLAGES, round(persons / (200 * _MEAN_HOUSEHOLD_SIZE)))
        mean_hh = float(np.clip(persons / (n_vil * _MEAN_HOUSEHOLD_SIZE), HOUSEHOLDS_MIN + 15, HOUSEHOLDS_MAX - 15))
    else:
        n_vil, mean_hh = int(villages), 200.0
    if n_vil < _MIN_VILLAGES:
        raise ValueError(f"the demo province needs at least {_MIN_VILLAGES} villages, got {n_vil}")

    plan = _plan_province(n_vil, seed, mean_hh)
    est_persons = sum(v.households for v in plan.villages) * _MEAN_HOUSEHOLD_SIZE
    if layout == "aggregates":
        fmt = "csv"  # the platform publishes csv
    elif fmt == "auto":
        fmt = "xlsx" if est_persons <= AUTO_XLSX_MAX_PERSONS else "csv"
    if fmt == "xlsx" and layout == "records":
        biggest = max(sum(v.households for v in d.villages) for d in plan.districts) * _MEAN_HOUSEHOLD_SIZE * 1.2
        if biggest > _XLSX_MAX_ROWS:
            raise ValueError("a district would exceed the xlsx row limit: use fmt='csv'")
    log.info("synth: %d villages, about %d persons a year, layout %s, %s", n_vil, est_persons, layout, fmt)

    _thai_headers.cache_clear()  # definitions may have changed since the last run (VILWORK_DEFINITIONS)
    defs = {"areas": issue_areas(), "capital": capital_kinds()}
    out = _Output(ws)
    _remove_previous(ws)
    geoms = _village_geometry(plan, seed)
    out.write_text("data/raw/places.csv", _places_csv(plan), bom=True)
    out.write_text(f"data/raw/geo/villages_{PROVINCE_CODE}.geojson", _geojson_villages(plan, geoms))
    for ky in _kchch2k_years(years):
        out.write_bytes(f"data/raw/kchch2k/{ky}/kchch2k{ky}_{PROVINCE_CODE}.xlsx", _kchch2k_xlsx(plan, ky, seed))

    counts_h = {y: 0 for y in years}
    counts_p = {y: 0 for y in years}
    agg = _AggregateWriter(out, years) if layout == "aggregates" else None
    n_folders = len(plan.villages) if village_folders is None else max(0, int(village_folders))
    for d in plan.districts:
        rec = _RecordWriter(out, d.code, years, fmt) if layout == "records" else None
        proc = {y: [] for y in years}
        for v in d.villages:
            sim = _VillageSim(v, geoms[v.code], seed, years[0], isets)
            for y in range(years[0], years[-1] + 1):
                if y > years[0]:
                    sim.step(y)
                if y not in years:
                    continue
                hh, ps = sim.records(y)
                counts_h[y] += len(hh["house_code"])
                counts_p[y] += len(ps["house_code"])
                if rec is not None:
                    rec.append(y, hh, ps)
                if agg is not None:
                    proc[y].append(sim.processed(hh, ps, split=v.code == plan.special.get("split")))
            if v.index < n_folders:
                _write_village_folder(out, plan, v, sim, geoms[v.code], seed, years[-1], defs)
        if rec is not None:
            rec.close()
        log.info("synth: district %s written (%d villages)", d.code, len(d.villages))
        if agg is not None:
            for y in years:
                agg.append(y, proc[y])
    if agg is not None:
        agg.close()
    _write_programme_files(out, plan, years[-1])

    return SynthSummary(
        root=ws.root, files=tuple(out.files), households=counts_h, persons=counts_p, villages=len(plan.villages),
        tambons=sum(len(d.tambons) for d in plan.districts), districts=len(plan.districts), layout=layout,
        fmt=fmt, seed=int(seed), special=dict(plan.special),
    )


# ---------------------------------------------------------------------------------------------
# the province plan: codes, names, village effects
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Village:
    code: str
    name_th: str
    name_en: str
    index: int  # position in the province
    k: int  # position in its district (used in citizen IDs)
    effect: float  # mean household wealth (0 = typical)
    in_municipality: bool
    households: int
    offsets: dict  # item -> extra logit of the bad outcome in this village


@dataclass(frozen=True)
class _Tambon:
    code: str
    name_th: str
    name_en: str
    villages: list


@dataclass(frozen=True)
class _District:
    code: str
    name_th: str
    name_en: str
    tambons: list

    @property
    def villages(self) -> list:
        return [v for t in self.tambons for v in t.villages]


@dataclass(frozen=True)
class _Plan:
    districts: list
    special: dict

    @property
    def villages(self) -> list:
        return [v for d in self.districts for v in d.villages]


def _split_even(n: int, parts: int) -> list[int]:
    """``n`` split into ``parts`` near-equal counts, larger first."""
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def _plan_province(n_villages: int, seed: int, mean_households: float) -> _Plan:
    """Codes, names, sizes and character of every village (a pure function of its arguments)."""
    rng = np.random.default_rng([int(seed), 1])
    n_d = min(99, max(2, math.ceil(math.sqrt(n_villages / 6))))
    per_d = _split_even(n_villages, n_d)
    shape = []  # villages per tambon, per district
    for vd in per_d:
        n_t = min(vd, 99, max(2, math.ceil(math.sqrt(vd / 3))))
        per_t = _split_even(vd, n_t)
        if max(per_t) > 99 or vd > 999:
            raise ValueError(f"{n_villages} villages do not fit the 2-digit codes of 99 districts: ask for fewer persons")
        shape.append(per_t)

    combos = [(i, j) for i in range(len(_PLACE_PRE)) for j in range(len(_PLACE_SUF))]
    dup_pos = {(0, 0, 0), (n_d - 1, len(shape[-1]) - 1, 0)}  # first village of the first and of the last tambon
    # roles are chosen by position, so the default demo is always laid out the same
    flat = [(di, ti, vi) for di, per_t in enumerate(shape) for ti, nv in enumerate(per_t) for vi in range(nv)]
    index_of = {pos: i for i, pos in enumerate(flat)}
    taken: set[int] = set()

    def pick(prefs, distinct: bool = True):
        """The first preferred position that exists and is free, else the first free village."""
        for p in prefs:
            i = index_of.get(p)
            if i is not None and (i not in taken or not distinct):
                taken.add(i)
                return i
        i = next((i for i in range(len(flat)) if i not in taken), len(flat) - 1)
        taken.add(i)
        return i

    # roles that must not share a village; the หนองบัว pair and the split village may hold one too
    last_of_d0 = (0, len(shape[0]) - 1, shape[0][-1] - 1)
    special_ix = {
        "gap": pick([last_of_d0]),
        "best": pick([(0, 1, 0), (0, 1, 1)]),
        "worst": pick([(1, 0, 1), (1, 0, 0), (1, 1, 1)]),
        "partial": pick([(1, 0, 0), (1, 1, 0), (1, 0, 1)]),
    }
    special_ix["split"] = pick([(0, 0, 1), (0, 0, 2), (0, 0, 0)], distinct=False)
    effects = rng.normal(0.0, 0.3, len(flat))
    if len(flat) > 12:  # larger runs get a few more clearly better or worse villages
        extreme = rng.random(len(flat)) < 0.06
        effects[extreme] = rng.choice([-0.9, 0.8], extreme.sum())
    effects[special_ix["best"]] = 0.9
    effects[special_ix["worst"]] = -1.0
    households = np.clip(np.rint(rng.normal(mean_households, 40, len(flat))), HOUSEHOLDS_MIN, HOUSEHOLDS_MAX).astype(int)
    stems = sorted({k.split("_")[0] for k in _BAD} | set(_BAD))
    offsets = rng.normal(0.0, 0.35, (len(flat), len(stems)))
    problem_items = {special_ix["worst"]: {"q9": 1.5, "q10": 1.5, "q24": 0.8}}
    free = [i for i in range(len(flat)) if i not in taken and i not in (index_of[p] for p in dup_pos)]
    if free:  # flavour for the charts: one village drinks and smokes more than the others
        problem_items[free[-1]] = {"q24": 1.2, "q25": 0.8}

    districts = []
    for di, per_t in enumerate(shape):
        d_code = f"{PROVINCE_CODE}{di + 1:02d}"
        if di < len(_DISTRICT_NAMES):
            d_th, d_en = _DISTRICT_NAMES[di]
        else:
            a, b = combos[(di * 37) % len(combos)]
            d_th, d_en = _PLACE_PRE[a][0] + _PLACE_SUF[b][0], f"{_PLACE_PRE[a][1]} {_PLACE_SUF[b][1]}"
        t_names = rng.permutation(len(combos))[: len(per_t)]
        tambons = []
        for ti, nv in enumerate(per_t):
            t_code = f"{d_code}{ti + 1:02d}"
            if di == 0 and ti == 0:
                t_th, t_en = "ในเมือง", "Nai Mueang"
            else:
                a, b = combos[t_names[ti]]
                t_th, t_en = _PLACE_PRE[a][0] + _PLACE_SUF[b][0], f"{_PLACE_PRE[a][1]} {_PLACE_SUF[b][1]}"
            pool = [c for c in rng.permutation(len(combos)) if combos[c] != _DUPLICATE_NAME]
            vills = []
            for vi in range(nv):
                gi = index_of[(di, ti, vi)]
                a, b = _DUPLICATE_NAME if (di, ti, vi) in dup_pos else combos[pool[vi]]
                off = {s: float(offsets[gi, j]) for j, s in enumerate(stems)}
                for item, extra in problem_items.get(gi, {}).items():
                    off[item] = off.get(item, 0.0) + extra
                vills.append(
                    _Village(
                        code=f"{t_code}{vi + 1:02d}",
                        name_th="บ้าน" + _PLACE_PRE[a][0] + _PLACE_SUF[b][0],
                        name_en=f"Ban {_PLACE_PRE[a][1]} {_PLACE_SUF[b][1]}",
                        index=gi,
                        k=sum(per_t[:ti]) + vi,
                        effect=float(effects[gi]),
                        in_municipality=ti == 0,
                        households=int(households[gi]),
                        offsets=off,
                    )
                )
            tambons.append(_Tambon(t_code, t_th, t_en, vills))
        districts.append(_District(d_code, d_th, d_en, tambons))
    codes = [v.code for d in districts for v in d.villages]
    special = {k: codes[i] for k, i in special_ix.items()}
    special["duplicate_name"] = ";".join(codes[index_of[p]] for p in sorted(dup_pos))
    return _Plan(districts, special)


def _places_csv(plan: _Plan) -> str:
    rows = [("code", "level", "name_th", "name_en"), (PROVINCE_CODE, "province", *PROVINCE_NAME)]
    for d in plan.districts:
        rows.append((d.code, "district", d.name_th, d.name_en))
        for t in d.tambons:
            rows.append((t.code, "tambon", t.name_th, t.name_en))
            rows.extend((v.code, "village", v.name_th, v.name_en) for v in t.villages)
    return _csv_text(rows)


def _kchch2k_years(years: tuple[int, ...]) -> list[int]:
    """กชช. 2ค is surveyed every second (even) year: the ones up to the last survey year, from the one before the first."""
    return [y for y in range(years[0] - 1, years[-1] + 1) if y % 2 == 0]


# ---------------------------------------------------------------------------------------------
# geometry: districts, tambons and villages tile the province box without gaps
# ---------------------------------------------------------------------------------------------
def _bands(bounds, weights, axis: str, rng: np.random.Generator, samples: int = 7):
    """Polygons between wiggly cut lines across ``bounds``: they partition the box (and more)."""
    from shapely.geometry import Polygon

    x0, y0, x1, y1 = bounds
    lo, hi, alo, ahi = (x0, x1, y0, y1) if axis == "x" else (y0, y1, x0, x1)
    w = np.asarray(weights, dtype=float)
    cuts = lo + (hi - lo) * np.cumsum(w)[:-1] / w.sum()
    amp = 0.15 * (hi - lo) * w.min() / w.sum()  # < half the narrowest band: cut lines never cross
    pad_a, pad_c = 0.05 * (ahi - alo) + 1e-6, 0.05 * (hi - lo) + 1e-6
    t = np.linspace(alo - pad_a, ahi + pad_a, samples)
    lines = [np.full(samples, lo - pad_c)] + [c + rng.uniform(-amp, amp, samples) for c in cuts] + [np.full(samples, hi + pad_c)]
    out = []
    for a, b in zip(lines[:-1], lines[1:]):
        pts = list(zip(a, t)) + list(zip(b[::-1], t[::-1]))
        if axis == "y":
            pts = [(q, p) for p, q in pts]
        out.append(Polygon(pts))
    return out


def _village_geometry(plan: _Plan, seed: int) -> dict:
    """Village code -> shapely polygon. Districts are columns, tambons rows in them, villages columns in those."""
    from shapely.geometry import box

    rng = np.random.default_rng([int(seed), 2])
    province = box(*PROVINCE_BOX)
    out = {}
    d_bands = _bands(province.bounds, [len(d.villages) for d in plan.districts], "x", rng)
    for d, db in zip(plan.districts, d_bands):
        dpoly = province.intersection(db)
        t_bands = _bands(dpoly.bounds, [len(t.villages) for t in d.tambons], "y", rng)
        for t, tb in zip(d.tambons, t_bands):
            tpoly = dpoly.intersection(tb)
            v_bands = _bands(tpoly.bounds, [1] * len(t.villages), "x", rng)
            for v, vb in zip(t.villages, v_bands):
                out[v.code] = tpoly.intersection(vb)
    return out


def _points_in(poly, n: int, rng: np.random.Generator, spread: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points inside ``poly``, clustered around its representative point (a village centre)."""
    from shapely import contains_xy

    c = poly.representative_point()
    x0, y0, x1, y1 = poly.bounds
    sx, sy = spread * (x1 - x0), spread * (y1 - y0)
    xs, ys = np.empty(0), np.empty(0)
    for _ in range(50):
        need = n - len(xs)
        if need <= 0:
            break
        px = rng.normal(c.x, sx, need * 2)
        py = rng.normal(c.y, sy, need * 2)
        ok = contains_xy(poly, px, py)
        xs, ys = np.concatenate([xs, px[ok]]), np.concatenate([ys, py[ok]])
    if len(xs) < n:  # a pathological shape: fall back to the centre
        xs = np.concatenate([xs, np.full(n - len(xs), c.x)])
        ys = np.concatenate([ys, np.full(n - len(ys), c.y)])
    return np.round(xs[:n], 6), np.round(ys[:n], 6)


def _round_coords(obj, nd: int = 6):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(v), nd) for v in obj]
        return [_round_coords(o, nd) for o in obj]
    return obj


def _geojson_villages(plan: _Plan, geoms: dict) -> str:
    from shapely.geometry import mapping

    feats = []
    for v in plan.villages:
        g = mapping(geoms[v.code])
        feats.append({
            "type": "Feature",
            "properties": {"village_code": v.code, "name_th": v.name_th, "name_en": v.name_en,
                           "tambon_code": v.code[:6], "district_code": v.code[:4]},
            "geometry": {"type": g["type"], "coordinates": _round_coords(g["coordinates"])},
        })
    return json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False, separators=(",", ":")) + "\n"


# ---------------------------------------------------------------------------------------------
# households and persons of one village, year by year
# ---------------------------------------------------------------------------------------------
def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p):
    return np.log(p / (1.0 - p))


def _take(t: dict, idx) -> dict:
    return {k: v[idx] for k, v in t.items()}


def _concat(a: dict, b: dict) -> dict:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def _ymd(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = d.astype("datetime64[Y]").astype(int) + 1970
    m = d.astype("datetime64[M]").astype(int) % 12 + 1
    dd = (d - d.astype("datetime64[M]")).astype(int) + 1
    return y, m, dd


def _ages(birth: np.ndarray, ref: np.datetime64) -> tuple[np.ndarray, np.ndarray]:
    """Completed years and months of age on ``ref``."""
    y, m, d = _ymd(birth)
    ry, rm, rd = (int(v[0]) for v in _ymd(np.array([ref])))
    before = (m > rm) | ((m == rm) & (d > rd))
    years = ry - y - before
    months = (ry - y) * 12 + (rm - m) - (d > rd)
    return years.astype(int), months.astype(int)


def _ref_day(iset, year: int) -> np.datetime64:
    mm, dd = (int(x) for x in str(iset.reference_day).split("-"))
    return np.datetime64(dt.date(year - 543, mm, dd), "D")


def _names(rng: np.random.Generator, parts: tuple[list, list], n: int) -> np.ndarray:
    a, b = parts
    return np.char.add(np.array(a)[rng.integers(0, len(a), n)], np.array(b)[rng.integers(0, len(b), n)]).astype(object)


def _check_digits(d12: np.ndarray) -> np.ndarray:
    """Thai citizen-ID check digit of rows of 12 digits: N13 = (11 - sum((13-j) * N_j) mod 11) mod 10."""
    x = (d12 * np.arange(13, 1, -1)).sum(axis=1) % 11
    return (11 - x) % 10


def _citizen_ids(born: np.ndarray, district: str, k: int, serial: np.ndarray, seed: int) -> np.ndarray:
    """Unique, valid-looking citizen IDs: type digit, ``99`` (no real province), district, scrambled serial, check.

    The 7 digits after the district code are an affine bijection of (village position in the
    district, person serial), so IDs are unique within the district and never repeat across
    districts; the type digit is 3 for persons born before 1984 CE (registered in 2527 BE), else 1.
    """
    n = k * 10_000 + serial.astype(np.int64)
    if (serial >= 10_000).any() or k >= 1000:
        raise ValueError("too many persons in one village or villages in one district for the ID scheme")
    body = (n * 7_919_391 + 1_000_003 * (int(seed) % 997) + 4_242_421) % 10_000_000  # 7_919_391 is coprime to 10
    lead = np.where(born.astype("datetime64[Y]").astype(int) + 1970 < 1984, 3, 1)
    digits = np.zeros((len(n), 12), dtype=np.int64)
    digits[:, 0] = lead
    digits[:, 1], digits[:, 2] = 9, 9
    digits[:, 3], digits[:, 4] = int(district[2]), int(district[3])
    for j in range(7):
        digits[:, 11 - j] = (body // 10**j) % 10
    full = np.concatenate([digits, _check_digits(digits)[:, None]], axis=1)
    return np.array(["".join(map(str, r)) for r in full.tolist()], dtype=object)


class _VillageSim:
    """The households and persons of one village, carried from one survey year to the next.

    All randomness is drawn in :meth:`__init__` and :meth:`step`; :meth:`records` only reads the
    state, so a year's rows are a pure function of the state.
    """

    def __init__(self, v: _Village, poly, seed: int, year: int, isets: dict):
        self.v, self.poly, self.seed, self.isets = v, poly, int(seed), isets
        self.first_year = year
        self.rng = np.random.default_rng([int(seed), int(v.code)])
        iset = isets[year]
        # answer columns written (derived columns such as income_per_member are ingest's job)
        self.h_items = [c for c in iset.items("household") if c not in _DERIVED]
        self.p_items = [c for c in iset.items("person") if c not in _DERIVED]
        self._memo = None
        self.next_serial = 0
        self.next_house = 1
        self.next_base_no = 1
        self.year = year
        h, p = self._new_households(v.households, _ref_day(iset, year))
        self.h, self.p = h, _take(p, np.lexsort((p["serial"], p["house"])))

    # ---- drawing -----------------------------------------------------------------------------
    def _new_households(self, n: int, ref: np.datetime64):
        """``n`` new households and their members, ages drawn on the reference day ``ref``."""
        rng, v = self.rng, self.v
        serial = np.arange(self.next_house, self.next_house + n)
        self.next_house += n
        if self.next_house > 999:
            raise ValueError(f"village {v.code}: more than 999 house codes")
        sub = rng.random(n) < 0.15  # a house sharing the previous one's number: 12/1, 12/2, ...
        if n:
            sub[0] = False  # each batch starts on a new number, so numbers never repeat
        base_no = self.next_base_no - 1 + np.cumsum(~sub)
        self.next_base_no = int(base_no[-1]) + 1 if n else self.next_base_no
        sub_no = np.zeros(n, dtype=int)
        for i in range(1, n):
            sub_no[i] = sub_no[i - 1] + 1 if sub[i] else 0
        house_no = np.array([f"{b}/{s}" if s else str(b) for b, s in zip(base_no, sub_no)], dtype=object)
        lon, lat = _points_in(self.poly, n, rng)
        wealth = v.effect + rng.normal(0.0, 1.0, n)
        h = {
            "serial": serial, "house_no": house_no, "surname": _names(rng, _SURNAME, n), "wealth": wealth,
            "inc_eps": rng.normal(0.0, 1.0, n), "inc_year": rng.normal(0.0, 1.0, n),
            "inc_share": rng.dirichlet([6.0, 1.5, 1.5, 1.0], n), "exp_share": rng.dirichlet([3.0, 5.0, 1.0, 1.5], n),
            "exp_ratio": np.clip(0.85 - 0.06 * wealth + rng.normal(0, 0.08, n), 0.5, 1.2),
            "lat": lat, "lon": lon, "u": rng.random((n, len(self.h_items))),
        }

        # members by role; ages are fractional years on ref
        head_age = np.clip(rng.normal(52, 14, n), 21, 92)
        head_male = rng.random(n) < np.where(head_age > 70, 0.5, 0.7)
        has_sp = rng.random(n) < np.select([head_age < 65, head_age < 75], [0.82, 0.62], 0.42)
        n_ch = rng.poisson(np.select([head_age < 30, head_age < 45, head_age < 60, head_age < 75], [0.8, 1.3, 0.9, 0.4], 0.25))
        n_par = np.where(head_age < 50, rng.binomial(2, 0.2, n), 0)
        n_gc = np.where(head_age >= 48, rng.poisson(np.where(head_age < 70, 0.55, 0.4)), 0)
        n_rel = rng.binomial(1, 0.07, n)

        hi = np.arange(n)
        roles = []
        roles.append((hi, np.full(n, HEAD), head_age, head_male))
        i = hi[has_sp]
        roles.append((i, np.full(len(i), SPOUSE), np.clip(head_age[i] + np.where(head_male[i], -3, 3) + rng.normal(0, 4, len(i)), 18, 95), ~head_male[i]))
        i = np.repeat(hi, n_ch)
        a = head_age[i] - rng.uniform(20, 38, len(i))
        neg = a < 0
        a[neg] = rng.uniform(0, 1, neg.sum()) * np.maximum(head_age[i][neg] - 18, 0.5)
        roles.append((i, np.full(len(i), CHILD), a, rng.random(len(i)) < 0.51))
        i = np.repeat(hi, n_par)
        first = np.r_[True, i[1:] != i[:-1]] if len(i) else np.zeros(0, bool)
        male = np.where(n_par[i] == 2, first, rng.random(len(i)) < 0.35)
        roles.append((i, np.full(len(i), PARENT), np.clip(head_age[i] + rng.uniform(22, 35, len(i)), 0, 99), male))
        i = np.repeat(hi, n_gc)
        a = head_age[i] - rng.uniform(44, 62, len(i))
        neg = a < 0
        a[neg] = rng.uniform(0, 6, neg.sum())
        roles.append((i, np.full(len(i), GRANDCHILD), a, rng.random(len(i)) < 0.51))
        i = hi[n_rel == 1]
        roles.append((i, np.full(len(i), RELATIVE), rng.uniform(5, 80, len(i)), rng.random(len(i)) < 0.5))
        hidx = np.concatenate([r[0] for r in roles])
        rel = np.concatenate([r[1] for r in roles])
        age = np.concatenate([r[2] for r in roles])
        male = np.concatenate([r[3] for r in roles]).astype(bool)
        birth = ref - np.floor(age * 365.2425).astype("timedelta64[D]")
        m = len(hidx)
        own = rng.random(m)
        keep_name = np.select([rel == SPOUSE, rel == PARENT, rel == RELATIVE], [own < 0.85, own < 0.7, own < 0.5], own < 0.95)
        surname = np.where(keep_name, h["surname"][hidx], _names(rng, _SURNAME, m))
        married = np.select(
            [rel == HEAD, rel == SPOUSE, rel == PARENT, rel == CHILD],
            [has_sp[hidx], True, rng.random(m) < 0.9, (age >= 25) & (rng.random(m) < 0.4)],
            (age >= 25) & (rng.random(m) < 0.5),
        )
        p = self._persons(hidx, serial, rel, birth, male, surname, married, h["wealth"][hidx])
        return h, p

    def _persons(self, hidx, h_serial, rel, birth, male, surname, married, wealth) -> dict:
        rng, m = self.rng, len(hidx)
        serial = np.arange(self.next_serial, self.next_serial + m)
        self.next_serial += m
        first = np.where(male, _names(rng, _FIRST_M, m), _names(rng, _FIRST_F, m))
        return {
            "house": h_serial[hidx], "serial": serial, "rel": rel.astype(int), "birth": birth, "male": male,
            "first": first, "surname": surname, "married": married.astype(bool),
            "citizen_id": _citizen_ids(birth, self.v.code[:4], self.v.k, serial, self.seed),
            "bw": np.round(3050 + 120 * wealth + rng.normal(0, 420, m), -1),
            "u_edu": rng.random(m), "u_occ": rng.random(m), "u_job": rng.random(m), "u_type": rng.random(m),
            "u_dis": rng.random(m), "u_chr": rng.random(m), "u_wel": rng.random(m), "u_ans": rng.random(m),
            "u": rng.random((m, len(self.p_items))),
        }

    def step(self, year: int) -> None:
        """Advance the village to survey year ``year``: deaths, moves, births, newcomers, new draws."""
        rng, h, p = self.rng, self.h, self.p
        iset = self.isets.get(year) or indicator_set(year)
        prev_ref, ref = _ref_day(self.isets.get(self.year) or indicator_set(self.year), self.year), _ref_day(iset, year)
        age, _ = _ages(p["birth"], ref)
        # whole households leave; persons die or move out
        h_leave = rng.random(len(h["serial"])) < 0.01
        p_death = np.select([age >= 80, age >= 60, age >= 1], [0.08, 0.025, 0.002], 0.004)
        dead = rng.random(len(age)) < p_death
        moved = (p["rel"] != HEAD) & (age >= 18) & (age <= 35) & (rng.random(len(age)) < 0.04)
        gone_house = np.isin(p["house"], h["serial"][h_leave])
        p = _take(p, ~(dead | moved | gone_house))
        h = _take(h, np.isin(h["serial"], p["house"]))
        # a household that lost its head: the spouse, else the oldest member, takes over
        has_head = np.isin(h["serial"], p["house"][p["rel"] == HEAD])
        if (~has_head).any():
            cand = np.flatnonzero(np.isin(p["house"], h["serial"][~has_head]))
            order = cand[np.lexsort((p["birth"][cand], p["rel"][cand] != SPOUSE, p["house"][cand]))]
            firsts = order[np.r_[True, p["house"][order][1:] != p["house"][order][:-1]]]
            p["rel"][firsts] = HEAD
        # births: at most one per household, to a woman aged 18-42
        age, _ = _ages(p["birth"], prev_ref)
        mothers = np.flatnonzero(~p["male"] & (age >= 18) & (age <= 42) & (rng.random(len(age)) < 0.075))
        mothers = mothers[np.r_[True, p["house"][mothers][1:] != p["house"][mothers][:-1]]] if len(mothers) else mothers
        if len(mothers):
            nb = len(mothers)
            hpos = np.searchsorted(h["serial"], p["house"][mothers])
            days = rng.integers(1, (ref - prev_ref).astype(int) + 1, nb)
            rel = np.select([np.isin(p["rel"][mothers], [HEAD, SPOUSE]), p["rel"][mothers] == CHILD], [CHILD, GRANDCHILD], RELATIVE)
            babies = self._persons(
                hpos, h["serial"], rel, prev_ref + days.astype("timedelta64[D]"), rng.random(nb) < 0.51,
                h["surname"][hpos], np.zeros(nb, bool), h["wealth"][hpos],
            )
            p = _concat(p, babies)
        # answers: most units answer as last year, some draw afresh (and everyone improves a little)
        keep = rng.random(p["u"].shape) < _KEEP_LATENT
        p["u"] = np.where(keep, p["u"], rng.random(p["u"].shape))
        p["u_occ"] = np.where(rng.random(len(p["u_occ"])) < 0.9, p["u_occ"], rng.random(len(p["u_occ"])))
        p["u_ans"] = rng.random(len(p["u_ans"]))
        keep = rng.random(h["u"].shape) < _KEEP_LATENT
        h["u"] = np.where(keep, h["u"], rng.random(h["u"].shape))
        h["inc_year"] = rng.normal(0.0, 1.0, len(h["serial"]))
        # newcomers
        n_new = rng.binomial(max(len(h["serial"]), 1), 0.01)
        if n_new:
            nh, np_ = self._new_households(n_new, ref)
            h, p = _concat(h, nh), _concat(p, np_)
        order = np.lexsort((p["serial"], p["house"]))
        self.h, self.p, self.year, self._memo = h, _take(p, order), year, None

    # ---- reading the state -------------------------------------------------------------------
    def _bad(self, item: str, wealth: np.ndarray, t: int, extra=0.0) -> np.ndarray:
        base, slope = _BAD.get(item) or _BAD.get(item.split("_")[0]) or _BAD_DEFAULT
        off = self.v.offsets.get(item, self.v.offsets.get(item.split("_")[0], 0.0))
        return _expit(_logit(base) - slope * wealth + off + extra - _IMPROVE_PER_YEAR * t)

    def records(self, year: int) -> tuple[dict, dict]:
        """Household and person records of ``year``: canonical column -> array, values as an officer's export has them.

        Strings are object arrays; answer items and birth weights are float arrays with NaN for a
        blank cell (see :func:`_cell_values`). Persons are in file order (household, person number).
        """
        if year != self.year:
            raise ValueError(f"village state is at {self.year}, not {year}")
        if self._memo is not None and self._memo[0] == year:
            return self._memo[1], self._memo[2]
        iset, h, p, v = self.isets[year], self.h, self.p, self.v
        t = year - self.first_year
        ref = _ref_day(iset, year)
        hpos = np.searchsorted(h["serial"], p["house"])
        w = h["wealth"][hpos]
        ay, am = _ages(p["birth"], ref)
        n = len(ay)

        # persons: characteristics on the reference day
        health = np.full(n, "normal", dtype=object)
        p_dis = 0.012 + 0.03 * (ay >= 60) + 0.04 * (ay >= 80)
        p_chr = np.select([ay >= 60, ay >= 35], [0.28, 0.09], 0.01)
        health[p["u_chr"] < _expit(_logit(p_chr) - 0.3 * w)] = "chronic"
        health[p["u_dis"] < p_dis] = "disabled"
        student = ((ay >= 6) & (ay <= 14)) | ((ay >= 15) & (ay <= 17) & (p["u_occ"] < _expit(_logit(0.85) + 0.6 * w))) | (
            (ay >= 18) & (ay <= 22) & (p["u_occ"] < _expit(_logit(0.3) + 0.6 * w))
        )
        jobless = (ay >= 15) & ~student & (p["u_job"] < np.where(ay >= 60, _expit(_logit(0.25) - 0.5 * w), _expit(_logit(0.05) - 0.9 * w)))
        occ = np.full(n, _OCC_NONE, dtype=object)
        occ[student] = _OCC_STUDENT
        shifted = _expit(_logit(np.clip(p["u_type"], 1e-9, 1 - 1e-9)) + 0.5 * w)
        for key, sel in (("adult", (ay >= 15) & (ay < 60)), ("elderly", ay >= 60)):
            names, shares = _OCC_MIX[key]
            work = sel & ~student & ~jobless
            occ[work] = np.array(names, dtype=object)[np.minimum(np.searchsorted(np.cumsum(shares), shifted[work]), len(names) - 1)]
        edu = np.empty(n, dtype=object)
        ue = _expit(_logit(np.clip(p["u_edu"], 1e-9, 1 - 1e-9)) + 0.5 * w)
        unset = np.ones(n, dtype=bool)
        for lo in (60, 35, 18):
            sel = (ay >= lo) & unset
            unset &= ~sel
            edu[sel] = np.array(_EDU_ADULT, dtype=object)[np.minimum(np.searchsorted(np.cumsum(_EDU_MIX[lo]), ue[sel]), len(_EDU_ADULT) - 1)]
        edu[ay < 18] = np.select(
            [ay < 3, ay < 6, ay < 12, ay < 15, student], ["ยังไม่ถึงวัยเรียน", "ก่อนประถมศึกษา", "ประถมศึกษา", "มัธยมศึกษาตอนต้น", "มัธยมศึกษาตอนปลาย"],
            "มัธยมศึกษาตอนต้น",
        )[ay < 18]
        welfare = (ay >= 18) & (p["u_wel"] < _expit(_logit(0.28) - 1.0 * w))

        # person answers, only for the target group of each indicator (targets.yaml)
        frame = {"age_years": ay, "age_months": am, "health": health}
        answers: dict[str, np.ndarray] = {}
        bw = np.full(n, np.nan)
        for i in iset.person_indicators():
            rule = iset.rules[i]
            cond = rules.check_target(iset.indicators.at[i, "target"], iset.targets.get(iset.indicators.at[i, "target"], {}))
            in_target = _in_target(frame, cond)
            for item in rule.items:
                if item == "birth_weight_g":
                    bw = np.where(in_target, p["bw"], np.nan)
                    continue
                if item not in self.p_items:
                    continue
                u = p["u"][:, self.p_items.index(item)]
                if cond.get("answered"):
                    vals = self._answered_item(item, ay, student, u, w, t)
                else:
                    male_off, female_off = _SEX_LOGIT.get(item, (0.0, 0.0))
                    bad = u < self._bad(item, w, t, np.where(p["male"], male_off, female_off))
                    if item == "q19":
                        bad |= edu == _EDU_ADULT[0]
                    elif item in ("q20", "q21"):
                        bad = occ == _OCC_NONE
                    vals = np.where(bad, 1.0, 0.0) if rule.kind == "none_of" else np.where(bad, 0.0, 1.0)
                answers[item] = np.where(in_target, vals, np.nan) if not cond.get("answered") else vals
        title = np.select(
            [ay < 15, p["male"], p["married"] | (ay >= 45)], np.array(["", "นาย", "นาง"], dtype=object), "นางสาว"
        ).astype(object)
        title[ay < 15] = np.where(p["male"][ay < 15], "เด็กชาย", "เด็กหญิง")
        # person order within the household: head, spouse, parents, children, grandchildren, relatives; older first
        rank = np.array([0, 1, 3, 2, 4, 5])[p["rel"]]
        order = np.lexsort((p["birth"], rank, hpos))
        pno = np.empty(n, dtype=int)
        sorted_h = hpos[order]
        starts = np.r_[0, np.flatnonzero(sorted_h[1:] != sorted_h[:-1]) + 1]
        pno[order] = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        house_code = np.array([f"{v.code}{s:03d}" for s in h["serial"]], dtype=object)
        y, mo, d = _ymd(p["birth"])
        cols = {
            "year": np.full(n, year),
            "house_code": house_code[hpos],
            "person_no": pno + 1,
            "title": title,
            "first_name": p["first"],
            "last_name": p["surname"],
            "citizen_id": p["citizen_id"],
            "sex": np.array(_SEX, dtype=object)[p["male"].astype(int)],
            "birth_date": np.array([f"{a:02d}/{b:02d}/{c + 543}" for a, b, c in zip(d, mo, y)], dtype=object),
            "relation": np.array(_RELATIONS, dtype=object)[p["rel"]],
            "education": edu,
            "occupation": occ,
            "health": np.array([_HEALTH_TH[x] for x in health], dtype=object),
            "welfare_card": np.where(welfare, "มี", "ไม่มี").astype(object),
            "birth_weight_g": bw,
        }
        for item in self.p_items:
            cols[item] = answers.get(item, np.full(n, np.nan))
        ps = {k: np.asarray(a)[order] for k, a in cols.items()}
        self._ages = (ay[order], am[order], health[order])

        # households
        nh = len(h["serial"])
        members = np.bincount(hpos, minlength=nh)
        heads = np.flatnonzero(p["rel"] == HEAD)
        head_name = np.empty(nh, dtype=object)
        head_name[hpos[heads]] = [f"{tt}{f} {s}" for tt, f, s in zip(title[heads], p["first"][heads], p["surname"][heads])]
        hw = h["wealth"]
        cols = {
            "year": np.full(nh, year),
            "house_code": house_code,
            "house_no": h["house_no"],
            "head_name": head_name,
            "village_code": np.full(nh, v.code, dtype=object),
            "in_municipality": np.full(nh, "ในเขต" if v.in_municipality else "นอกเขต", dtype=object),
            "lat": h["lat"],
            "lon": h["lon"],
        }
        for i in iset.household_indicators():
            rule = iset.rules[i]
            for item in rule.items:
                if item not in self.h_items:
                    continue
                bad = h["u"][:, self.h_items.index(item)] < self._bad(item, hw, t)
                cols[item] = np.where(bad, 1, 0) if rule.kind == "none_of" else np.where(bad, 0, 1)
        per_member = _INCOME_MEDIAN * np.exp(0.42 * hw + 0.30 * h["inc_eps"] + 0.08 * h["inc_year"] + math.log(1.04) * t)
        total = per_member * np.maximum(members, 1)
        money = {}
        for j, col in enumerate(_INCOME_PARTS):
            money[col] = np.round(total * h["inc_share"][:, j], -2).astype(np.int64)
        spend = total * h["exp_ratio"]
        for j, col in enumerate(_EXPENSE_PARTS):
            money[col] = np.round(spend * h["exp_share"][:, j], -2).astype(np.int64)
        cols.update(money)
        hs = cols
        self._memo = (year, hs, ps)
        return hs, ps

    def _answered_item(self, item, ay, student, u, w, t):
        """Items whose target group is 'whoever answered' (M.3 leavers, school leavers without work)."""
        vals = np.full(len(ay), np.nan)
        if item == "q17":  # finished M.3 this year: asked of most 15-year-olds; passes when still at school
            asked = (ay == 15) & (self.p["u_ans"] < 0.7)
            vals[asked] = np.where(student[asked], 1.0, 0.0)
        elif item == "q18":  # left school, no work: a few older teenagers
            asked = (ay >= 15) & (ay <= 18) & ~student & (self.p["u_ans"] < 0.6)
            vals[asked] = np.where(u[asked] < self._bad("q18", w[asked], t), 0.0, 1.0)
        return vals

    def processed(self, hh: dict, ps: dict, split: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The year's records as frames in the processed schema :mod:`vilwork.rules` reads.

        ``village_code`` holds the platform's 10-digit ``village_ID`` (code + suffix ``01``; a split
        village puts its second half of households under ``02``), so the rules group by it.
        """
        ay, am, health = self._ages
        nh = len(hh["house_code"])
        vid = hh["village_code"] + np.where(np.arange(nh) >= (nh // 2 if split else nh), "02", "01").astype(object)
        hpos = np.searchsorted(hh["house_code"], ps["house_code"])  # house codes are sorted
        members = np.bincount(hpos, minlength=nh)
        income = sum(hh[c] for c in _INCOME_PARTS).astype(float)
        h = pd.DataFrame({
            "house_code": hh["house_code"], "village_code": vid, "members": members,
            **{c: hh[c] for c in hh if c not in ("house_code", "village_code", "house_no", "head_name", "lat", "lon")},
            "income_total": income, "income_per_member": income / np.where(members > 0, members, np.nan),
        })
        p = pd.DataFrame({
            "house_code": ps["house_code"], "village_code": vid[hpos], "age_years": ay, "age_months": am, "health": health,
            **{c: ps[c] for c in ps if c == "birth_weight_g" or re.fullmatch(r"q\d+(_\d+)?", c)},
        })
        return h, p


def _in_target(frame: dict, cond: dict) -> np.ndarray:
    """Who is in a target group (targets.yaml conditions, ANDed, as :data:`vilwork.rules.TARGET_CONDITIONS` defines them).

    ``answered`` needs no test here: those items are asked of chosen persons only.
    """
    mask = np.ones(len(next(iter(frame.values()))), dtype=bool)
    for name, value in cond.items():
        col, op = rules.TARGET_CONDITIONS[name]
        if op == "answered":
            continue
        if op == "in":
            mask &= np.isin(frame[col], rules.health_values(value))
        elif op == ">=":
            mask &= frame[col] >= float(value)
        elif op == "<=":
            mask &= frame[col] <= float(value)
        else:  # a condition kind rules.py learnt and synth has not: fail loudly, never guess
            raise DefinitionError(f"synth cannot generate target condition {name!r} ({op})")
    return mask


# ---------------------------------------------------------------------------------------------
# writing: zip-normalised xlsx, BOM csv, streamed record files
# ---------------------------------------------------------------------------------------------
class _Output:
    """Writes below the workspace root and remembers what it wrote."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.files: list[str] = []

    def path(self, rel: str) -> Path:
        p = self.ws.inside(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def done(self, rel: str) -> None:
        self.files.append(rel)

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.path(rel).write_bytes(data)
        self.done(rel)

    def write_text(self, rel: str, text: str, bom: bool = False) -> None:
        self.write_bytes(rel, (("\ufeff" + text) if bom else text).encode("utf-8"))


def _csv_text(rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerows(rows)
    return buf.getvalue()


def _col_letter(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>'
        "</Relationships>"
    ),
    "docProps/app.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        "<Application>vilwork synth</Application></Properties>"
    ),
    "docProps/core.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:creator>vilwork synth (ข้อมูลสมมุติ / fictional demo data)</dc:creator>"
        '<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        '<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>"
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        "</Relationships>"
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/styles.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<fonts count="1"><font><sz val="11"/><name val="Tahoma"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}


def _cell_tail(v) -> str:
    """A cell's XML after ``<c r="A1"``: its type and value."""
    if isinstance(v, str):
        sp = ' xml:space="preserve"' if v != v.strip() else ""
        return f' t="inlineStr"><is><t{sp}>{_xml_text(v)}</t></is></c>'
    if isinstance(v, (bool, np.bool_)):
        return f' t="b"><v>{int(v)}</v></c>'
    if isinstance(v, (float, np.floating)):
        return f"><v>{float(v)!r}</v></c>"
    return f"><v>{int(v)}</v></c>"


class _XlsxStream:
    """A one-sheet xlsx written row by row straight into its zip (strings inline, no styles).

    openpyxl's writer manages about 60,000 cells a second here and stamps the clock into the
    file; this one is several times faster, streams (the sheet never sits in memory) and every
    timestamp in it is fixed, so equal rows give equal bytes.
    """

    def __init__(self, target, sheet: str, header: list[str]):
        self.zf = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED)
        stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
        for name, text in _XLSX_PARTS.items():
            text = text.replace("{stamp}", stamp).replace("{sheet}", _xml_text(sheet).replace('"', "&quot;"))
            self.zf.writestr(self._info(name), text.encode("utf-8"))
        self.sheet = self.zf.open(self._info("xl/worksheets/sheet1.xml"), "w")
        self.sheet.write(
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        )
        self.letters = [_col_letter(i) for i in range(len(header))]
        self.cache: list[dict] = [{} for _ in header]
        self.row = 0
        self.append([header])

    @staticmethod
    def _info(name: str) -> zipfile.ZipInfo:
        zi = zipfile.ZipInfo(name, date_time=_FIXED_TIME.timetuple()[:6])
        zi.compress_type = zipfile.ZIP_DEFLATED
        zi.external_attr = 0o644 << 16
        return zi

    def append(self, rows) -> None:
        """Append rows (sequences of str, int, float, bool or None = empty cell)."""
        parts = []
        letters, cache = self.letters, self.cache
        for values in rows:
            self.row += 1
            r = self.row
            parts.append(f'<row r="{r}">')
            for j, v in enumerate(values):
                if v is None:
                    continue
                c = cache[j]
                tail = c.get(v)
                if tail is None:
                    tail = _cell_tail(v)
                    if len(c) < 4096:  # repeated values (answers, codes, names) are formatted once
                        c[v] = tail
                parts.append(f'<c r="{letters[j]}{r}"{tail}')
            parts.append("</row>")
        self.sheet.write("".join(parts).encode("utf-8"))

    def close(self) -> None:
        self.sheet.write(b"</sheetData></worksheet>")
        self.sheet.close()
        self.zf.close()


def _cell_values(name: str, a: np.ndarray) -> list:
    """A record column as Python values for a spreadsheet cell: None for blank."""
    if a.dtype.kind == "f" and name not in _FLOAT_COLUMNS:
        blank = np.isnan(a)
        out = np.where(blank, 0, a).astype(np.int64).astype(object)
        out[blank] = None
        return out.tolist()
    return a.tolist()


_NEEDS_QUOTES = re.compile(r'[",\r\n]')


def _write_csv_rows(f, writer, columns: list[list[str]]) -> None:
    """Write columns of text as CSV rows: a plain join when no field needs quoting, else csv.writer."""
    if any(_NEEDS_QUOTES.search("\x00".join(c)) for c in columns):
        writer.writerows(zip(*columns))
    elif columns and columns[0]:
        f.write("\n".join(map(",".join, zip(*columns))) + "\n")


def _text_values(name: str, a: np.ndarray) -> list[str]:
    """A record column as CSV text: integers without a decimal point, blank for a missing value."""
    if a.dtype == object:
        return ["" if x is None else x for x in a.tolist()]
    if a.dtype.kind == "f" and name not in _FLOAT_COLUMNS:
        blank = np.isnan(a)
        out = np.where(blank, 0, a).astype(np.int64).astype(str).astype(object)
        out[blank] = ""
        return out.tolist()
    if a.dtype.kind == "f":
        return [repr(x) for x in a.tolist()]
    return a.astype(str).tolist()


def _xlsx_bytes(sheet: str, header: list[str], rows) -> bytes:
    buf = io.BytesIO()
    x = _XlsxStream(buf, sheet, header)
    x.append(rows)
    x.close()
    return buf.getvalue()


@lru_cache(maxsize=None)
def _thai_headers(table: str) -> dict[str, str]:
    return thai_headers(table)


def _headers(table: str, columns) -> list[str]:
    th = _thai_headers(table)
    missing = [c for c in columns if c not in th]
    if missing:
        raise DefinitionError(f"aliases.csv has no Thai header for {table} column(s) {missing}")
    return [th[c] for c in columns]


class _RecordWriter:
    """The household and person files of one district, one per survey year, filled village by village."""

    _SHEETS = {"households": "ครัวเรือน", "persons": "สมาชิก"}

    def __init__(self, out: _Output, district: str, years, fmt: str):
        self.out, self.district, self.fmt = out, district, fmt
        self.tables: dict = {}
        self.years = years

    def _open(self, year: int, table: str, columns) -> dict:
        rel = f"data/raw/bmn/{year}/bmn{year}_{table}_{self.district}.{self.fmt}"
        header = _headers(table, columns)
        f = open(self.out.path(rel), "wb")
        if self.fmt == "csv":
            f = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            return {"rel": rel, "file": f, "csv": w, "columns": list(columns)}
        return {"rel": rel, "file": f, "xlsx": _XlsxStream(f, self._SHEETS[table], header), "columns": list(columns)}

    def append(self, year: int, hh: dict, ps: dict) -> None:
        for table, cols in (("households", hh), ("persons", ps)):
            key = (year, table)
            if key not in self.tables:
                self.tables[key] = self._open(year, table, list(cols))
            t = self.tables[key]
            if list(cols) != t["columns"]:
                raise ValueError(f"{t['rel']}: columns changed between villages")
            if self.fmt == "csv":
                _write_csv_rows(t["file"], t["csv"], [_text_values(k, a) for k, a in cols.items()])
            else:
                t["xlsx"].append(zip(*(_cell_values(k, a) for k, a in cols.items())))

    def close(self) -> None:
        for key in sorted(self.tables):
            t = self.tables[key]
            if "xlsx" in t:
                t["xlsx"].close()
            t["file"].close()
            self.out.done(t["rel"])
        self.tables = {}


class _AggregateWriter:
    """``aggregates/<year>/<yy>_tpmap_village_99.csv``: the platform's wide village rows, appended per district."""

    def __init__(self, out: _Output, years):
        self.out = out
        self.files = {}
        for y in years:
            rel = f"data/raw/aggregates/{y}/{y % 100:02d}_tpmap_village_{PROVINCE_CODE}.csv"
            inds = [int(i) for i in indicator_set(y).indicators.index]
            cols = (["village_ID", "household.CNT", "HOUSEMEMBER_CNT", "ELDERLY_CNT", "DISABLED_CNT", "CHRONICPATIENT_CNT"]
                    + [f"indicator{i}.ALL" for i in inds] + [f"indicator{i}.CNT" for i in inds] + ["province_ID"])
            f = open(self.out.path(rel), "w", encoding="utf-8", newline="")
            f.write(_csv_text([cols]))
            self.files[y] = (rel, f, cols, inds)

    def append(self, year: int, frames: list) -> None:
        if not frames:
            return
        rel, f, cols, inds = self.files[year]
        hh = pd.concat([h for h, _ in frames], ignore_index=True)
        ps = pd.concat([p for _, p in frames], ignore_index=True)
        counts = rules.village_member_counts(hh, ps, year)
        wide = counts.pivot(index="village_code", columns="indicator", values=["all", "cnt"])
        base = pd.DataFrame({
            "household.CNT": hh.groupby("village_code").size(),
            "HOUSEMEMBER_CNT": ps.groupby("village_code").size(),
            "ELDERLY_CNT": ps[ps["age_years"] >= 60].groupby("village_code").size(),
            "DISABLED_CNT": ps[ps["health"] == "disabled"].groupby("village_code").size(),
            "CHRONICPATIENT_CNT": ps[ps["health"] == "chronic"].groupby("village_code").size(),
        })
        base = base.reindex(sorted(hh["village_code"].unique())).fillna(0).astype("int64")
        for i in inds:
            base[f"indicator{i}.ALL"] = wide[("all", i)].reindex(base.index).fillna(0).astype("int64")
        for i in inds:
            base[f"indicator{i}.CNT"] = wide[("cnt", i)].reindex(base.index).fillna(0).astype("int64")
        base["province_ID"] = PROVINCE_CODE
        base.index.name = "village_ID"
        base.reset_index()[cols].to_csv(f, header=False, index=False, lineterminator="\n")

    def close(self) -> None:
        for y in sorted(self.files):
            rel, f, _, _ = self.files[y]
            f.close()
            self.out.done(rel)


def _remove_previous(ws: Workspace) -> None:
    """Delete what an earlier synth run wrote for province 99 (never anything of another province)."""
    raw = ws.raw
    patterns = [
        f"bmn/*/bmn*_households_{PROVINCE_CODE}??.*", f"bmn/*/bmn*_persons_{PROVINCE_CODE}??.*",
        f"aggregates/*/*_tpmap_village_{PROVINCE_CODE}.csv", f"kchch2k/*/kchch2k*_{PROVINCE_CODE}.xlsx",
        f"geo/villages_{PROVINCE_CODE}.geojson",
        f"programme/*/candidates_{PROVINCE_CODE}.xlsx", f"programme/*/submissions_{PROVINCE_CODE}.csv",
        f"programme/previous_{PROVINCE_CODE}.csv",
    ]
    for pat in patterns:
        for p in sorted(raw.glob(pat)):
            p.unlink()
    vdir = raw / "villages"
    if vdir.is_dir():
        for p in sorted(vdir.glob(f"{PROVINCE_CODE}" + "[0-9]" * 6)):
            shutil.rmtree(p)


# ---------------------------------------------------------------------------------------------
# กชช. 2ค
# ---------------------------------------------------------------------------------------------
def _kchch2k_xlsx(plan: _Plan, year: int, seed: int) -> bytes:
    """One row per village (not the gap village); levels 1 severe / 2 moderate / 3 no problem."""
    kset = kchch2k_set(year)
    inds = [int(i) for i in kset.indicators.index]
    columns = ["year", "village_code", "village_name", *[f"k{i}" for i in inds]]
    rng = np.random.default_rng([int(seed), 3])  # same draws for every year: a village keeps its character
    rows = []
    for v in plan.villages:
        persistent = rng.normal(0.0, 0.6, len(inds))
        noise = np.random.default_rng([int(seed), 3, int(v.code), year]).normal(0.0, 0.4, len(inds))
        if v.code == plan.special["gap"]:
            continue
        s = v.effect + persistent + noise + 0.2 * (year - 2560) / 2
        levels = np.where(s < -1.1, 1, np.where(s < -0.2, 2, 3))
        rows.append([year, v.code, v.name_th, *[int(x) for x in levels]])
    return _xlsx_bytes("กชช2ค", _headers("kchch2k", columns), rows)


# ---------------------------------------------------------------------------------------------
# the village folder: places, accounts, capital, votes, profile, photos
# ---------------------------------------------------------------------------------------------
def _stem(v: _Village) -> str:
    return v.name_th.removeprefix("บ้าน")


def _write_village_folder(out: _Output, plan: _Plan, v: _Village, sim: _VillageSim, poly, seed: int, year: int, defs: dict) -> None:
    rng = np.random.default_rng([int(seed), 4, int(v.code)])
    base = f"data/raw/villages/{v.code}"
    out.write_text(f"{base}/places.geojson", _village_places(v, poly, rng))
    hh, _ = sim.records(year)
    out.write_bytes(f"{base}/accounts.xlsx", _accounts_xlsx(hh, rng, year))
    out.write_text(f"{base}/capital.csv", _capital_csv(defs["capital"], rng), bom=True)
    photos = _photos(rng)
    gap = v.code == plan.special["gap"]
    if not gap:
        out.write_text(f"{base}/votes.csv", _votes_csv(defs["areas"], rng, year), bom=True)
    for name, data, _ in photos:
        out.write_bytes(f"{base}/photos/{name}", data)
    if not gap:
        prof = _profile(plan, v, rng, year, [(n, c) for n, _, c in photos], partial=v.code == plan.special["partial"])
        out.write_text(f"{base}/profile.yaml", _yaml(prof))


def _village_places(v: _Village, poly, rng: np.random.Generator) -> str:
    stem = _stem(v)
    pool = [
        ("วัด", f"วัด{stem}", "วัดประจำหมู่บ้าน ใช้จัดงานบุญประเพณีและเป็นที่ประชุมของผู้สูงอายุ"),
        ("โรงเรียน", f"โรงเรียนบ้าน{stem}", "โรงเรียนประถมศึกษา มีนักเรียนประมาณ 120 คน"),
        ("ศาลาประชาคม", f"ศาลาประชาคมบ้าน{stem}", "ที่ประชุมประชาคมหมู่บ้านและศูนย์ข้อมูลหมู่บ้าน"),
        ("รพ.สต.", f"โรงพยาบาลส่งเสริมสุขภาพตำบลบ้าน{stem}", "บริการตรวจสุขภาพประจำปีและดูแลผู้ป่วยเรื้อรัง"),
        ("แหล่งน้ำ", f"หนองน้ำสาธารณะบ้าน{stem}", "แหล่งน้ำดิบของประปาหมู่บ้าน ใช้เพื่อการเกษตรในฤดูแล้ง"),
        ("กลุ่มอาชีพ", "กลุ่มทอผ้าไหมบ้าน" + stem, "สมาชิก 25 คน ผลิตผ้าไหมลายประจำหมู่บ้าน"),
        ("กลุ่มอาชีพ", "กลุ่มแปรรูปข้าวอินทรีย์", "บรรจุข้าวหอมมะลิอินทรีย์ขายในตลาดชุมชน"),
        ("ตลาด", f"ตลาดนัดชุมชนบ้าน{stem}", "ตลาดนัดทุกวันพุธ จำหน่ายผักปลอดสารพิษ"),
        ("ป่าชุมชน", f"ป่าชุมชนโคก{stem}", "ป่าชุมชน 120 ไร่ แหล่งอาหารและสมุนไพรของหมู่บ้าน"),
        ("ร้านค้าชุมชน", "ร้านค้าชุมชนประชารัฐ", "ร้านค้าของหมู่บ้าน ปันผลให้สมาชิกทุกปี"),
    ]
    n = int(rng.integers(5, 11))
    chosen = [pool[i] for i in sorted(rng.choice(len(pool), n, replace=False))]
    xs, ys = _points_in(poly, n, rng, spread=0.2)
    feats = [
        {"type": "Feature", "properties": {"name_th": name, "kind": kind, "detail_th": detail},
         "geometry": {"type": "Point", "coordinates": [float(x), float(y)]}}
        for (kind, name, detail), x, y in zip(chosen, xs, ys)
    ]
    return json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False, indent=1) + "\n"


def _accounts_xlsx(hh: dict, rng: np.random.Generator, year: int) -> bytes:
    """Ledgers of about ten sample households over January-March of the survey year.

    Each month a household books its main and other income early in the month, then expenses
    of each kind (indicator 22's parts), debt payments and savings; amounts follow the household's
    yearly income and expenses. The balance runs from zero per household.
    """
    n = len(hh["house_code"])
    pick = np.sort(rng.choice(n, min(10, n), replace=False))
    cats = list(_ACCOUNT_ITEMS)  # income categories first
    income_cat = np.array([c.startswith("รายได้") for c in cats])
    m = {c: hh[c][pick] / 12.0 for c in (*_INCOME_PARTS, *_EXPENSE_PARTS)}
    monthly = np.stack([
        m["income_main"] + m["income_secondary"], m["income_other"],
        m["exp_production"], m["exp_necessary"], m["exp_unnecessary"], m["exp_debt"],
        np.zeros(len(pick)),
    ], axis=1)
    left = monthly[:, :2].sum(axis=1) - monthly[:, 2:6].sum(axis=1)
    monthly[:, 6] = np.maximum(0.0, 0.5 * left)  # half of what is left goes to savings
    # entries per (household, month, category): 1-2 for main income and necessities, else 0-1
    shape = (len(pick), 3, len(cats))
    multi = np.array([c in ("รายได้จากอาชีพหลัก", "รายจ่ายที่จำเป็น") for c in cats])
    k = np.where(multi, rng.integers(1, 3, shape), (rng.random(shape) < 0.8).astype(int))
    k = np.where(monthly[:, None, :] < 50, 0, k)
    hi, mo, ci = (np.repeat(a.ravel(), k.ravel()) for a in np.indices(shape))
    g = rng.gamma(1.0, 1.0, len(hi))  # Dirichlet shares within each (household, month, category)
    grp = np.repeat(np.arange(k.size), k.ravel())
    share = g / np.bincount(grp, g, minlength=k.size)[grp]
    value = (np.round(monthly[hi, ci] * share * rng.uniform(0.8, 1.2, len(hi)), -1)).astype(np.int64)
    day = np.where(income_cat[ci], rng.integers(1, 6, len(hi)), rng.integers(3, 29, len(hi)))
    item_ix = (rng.random(len(hi)) * np.array([len(_ACCOUNT_ITEMS[c]) for c in cats])[ci]).astype(int)
    items = np.array([_ACCOUNT_ITEMS[cats[c]][j] for c, j in zip(ci, item_ix)], dtype=object)
    order = np.lexsort((items, ~income_cat[ci], day, mo, hi))
    hi, mo, ci, value, day, items = hi[order], mo[order], ci[order], value[order], day[order], items[order]
    signed = np.where(income_cat[ci], value, -value)
    start = np.r_[0, np.flatnonzero(hi[1:] != hi[:-1]) + 1]
    csum = np.cumsum(signed)
    balance = csum - np.repeat(np.r_[0, csum[start[1:] - 1]], np.diff(np.r_[start, len(hi)]))
    codes = hh["house_code"][pick][hi]
    rows = [
        [code, f"{d:02d}/{mm + 1:02d}/{year}", item, cats[c], int(v) if inc else None, None if inc else int(v), int(b)]
        for code, d, mm, item, c, v, inc, b in zip(codes, day, mo, items, ci, value, income_cat[ci], balance)
    ]
    cols = ["house_code", "date", "item", "category", "income", "expense", "balance"]
    return _xlsx_bytes("บัญชีครัวเรือน", _headers("accounts", cols), rows)


_CAPITAL_ITEMS = {
    "human": [("ปราชญ์ชาวบ้านด้านสมุนไพร", "ถ่ายทอดความรู้การใช้สมุนไพรพื้นบ้าน", (1, 3), None),
              ("อาสาสมัครสาธารณสุขประจำหมู่บ้าน (อสม.)", "ดูแลผู้สูงอายุและผู้ป่วยเรื้อรังในหมู่บ้าน", (8, 16), None),
              ("ช่างฝีมือท้องถิ่น", "ช่างไม้ ช่างปูน รับซ่อมบ้านผู้ยากไร้", (2, 6), None)],
    "social": [("กลุ่มแม่บ้านเกษตรกร", "แปรรูปผลผลิตการเกษตร", (20, 45), None),
               ("ประเพณีบุญบั้งไฟ", "จัดทุกเดือนพฤษภาคม ขอฝนก่อนฤดูทำนา", (1, 1), None),
               ("ชมรมผู้สูงอายุ", "ประชุมทุกเดือน ออกกำลังกายร่วมกัน", (30, 80), None)],
    "physical": [("ศาลาประชาคม", "ใช้ประชุมประชาคมและเป็นศูนย์ข้อมูลหมู่บ้าน", (1, 1), (300_000, 600_000)),
                 ("ระบบประปาหมู่บ้าน", "ประปาบาดาล ให้บริการทุกครัวเรือน", (1, 1), (800_000, 1_500_000)),
                 ("ถนนคอนกรีตในหมู่บ้าน (สาย)", "เชื่อมหมู่บ้านกับถนนสายหลัก", (2, 6), (1_000_000, 3_000_000))],
    "natural": [("ป่าชุมชน (ไร่)", "แหล่งอาหาร สมุนไพร และไม้ใช้สอย", (50, 300), None),
                ("หนองน้ำสาธารณะ", "น้ำดิบสำหรับประปาและการเกษตร", (1, 2), None),
                ("ที่ดินสาธารณประโยชน์ (ไร่)", "ใช้เลี้ยงสัตว์ร่วมกัน", (10, 60), None)],
    "financial": [("กองทุนหมู่บ้านและชุมชนเมือง", "ให้สมาชิกกู้ยืมเพื่อประกอบอาชีพ", (1, 1), (1_000_000, 2_500_000)),
                  ("กลุ่มออมทรัพย์เพื่อการผลิต", "สมาชิกออมเงินทุกเดือน", (1, 1), (200_000, 1_200_000)),
                  ("ธนาคารขยะ", "รับซื้อขยะรีไซเคิลจากครัวเรือน", (1, 1), (10_000, 60_000))],
}


def _capital_csv(kinds: list[dict], rng: np.random.Generator) -> str:
    cols = ["kind", "name", "description", "quantity", "value_baht"]
    rows = [_headers("capital", cols)]
    for kind in kinds:
        items = _CAPITAL_ITEMS.get(kind["key"], [])
        n = int(rng.integers(2, len(items) + 1)) if items else 0
        for name, desc, (qlo, qhi), value in items[:n]:
            q = int(rng.integers(qlo, qhi + 1))
            val = "" if value is None else int(round(rng.uniform(*value), -3))
            rows.append([kind["name_th"], name, desc, q, val])
    return _csv_text(rows)


_PROJECTS = {
    "occupation": ["ส่งเสริมการปลูกผักปลอดสารพิษ", "ฝึกอาชีพทำขนมไทยจำหน่าย", "พัฒนาบรรจุภัณฑ์ข้าวอินทรีย์"],
    "capital": ["จัดตั้งธนาคารขยะ", "ฟื้นฟูป่าชุมชน", "เพิ่มทุนกลุ่มออมทรัพย์"],
    "risk": ["รณรงค์ป้องกันไข้เลือดออก", "ขุดลอกหนองน้ำสาธารณะ", "ลด ละ เลิก เหล้าในงานบุญ"],
    "poverty": ["ซ่อมแซมบ้านผู้ยากไร้", "ทุนการศึกษาเด็กยากจน", "ปลูกผักสวนครัวรั้วกินได้"],
    "administration": ["ป้ายข้อมูลหมู่บ้านและแผนที่", "อบรมการใช้ข้อมูล จปฐ.", "เพจเฟซบุ๊กหมู่บ้าน"],
}


def _write_programme_files(out: _Output, plan: _Plan, fiscal_year: int) -> None:
    """What a province's districts fill in for target selection (docs/programme.md).

    Written so that the demo shows every rule at work, with picks known in advance:

    * ``previous_99.csv``: the province's first village was a district information village four
      years earlier, and it is also its district's keenest candidate: ineligible, skipped, said.
    * ``<FY>/candidates_99.xlsx``: per district the intended pick (first village that is neither
      that one nor the village with gaps) scores 5/5 in the first district and 4/4 elsewhere, so
      the first district's pick is also the province's; the other candidates score 3/3 (a tie,
      broken by the documented order); the village with gaps is a candidate too.
    * ``<FY>/submissions_99.csv``: names sent on time by the first district and 5 days late by the
      others, the province's names on time, and the first district's KM on 25 May.
    """
    avoid = {plan.special.get("gap")}
    first = plan.districts[0].villages[0].code
    avoid.add(first)
    cols = ["village_code", "village_name", "leaders_interest", "joint_support", "note"]
    head = _headers_programme("candidates", cols)
    rows, picks = [], []
    for di, d in enumerate(plan.districts):
        vs = d.villages
        # a small province may have no other village in a district: then the gap village is it
        pick = next((v for v in vs if v.code not in avoid), None) or next((v for v in vs if v.code != first), vs[0])
        picks.append(pick.code)
        for v in vs[:4] + ([x for x in vs if x.code in avoid and x not in vs[:4]]):
            if v is pick:
                score = (5, 5) if di == 0 else (4, 4)
                note = "ผู้นำและกรรมการหมู่บ้านพร้อมทำข้อมูล อบต. สนับสนุนงบ"
            elif v.code == first:
                score, note = (5, 5), "เคยได้รับคัดเลือกมาก่อน"
            else:
                score, note = (3, 3), ""
            rows.append([v.code, v.name_th, score[0], score[1], note])
    out.write_bytes(f"data/raw/programme/{fiscal_year}/candidates_{PROVINCE_CODE}.xlsx", _xlsx_bytes("ผู้สมัคร", head, rows))

    prev = [_headers_programme("previous", ["year", "level", "village_code", "village_name"]),
            [fiscal_year - 4, "อำเภอ", first, plan.districts[0].villages[0].name_th]]
    out.write_text(f"data/raw/programme/previous_{PROVINCE_CODE}.csv", _csv_text(prev), bom=True)

    sub = [_headers_programme("submissions", ["item", "level", "village_code", "sent_date", "note"])]
    for di, code in enumerate(picks):
        day = "20/02" if di == 0 else "05/03"
        sub.append(["รายชื่อ", "อำเภอ", code, f"{day}/{fiscal_year}", "" if di == 0 else "ส่งช้าเพราะรอมติประชาคม"])
    sub.append(["รายชื่อ", "จังหวัด", picks[0], f"27/02/{fiscal_year}", ""])
    sub.append(["ถอดบทเรียน", "อำเภอ", picks[0], f"25/05/{fiscal_year}", ""])
    out.write_text(f"data/raw/programme/{fiscal_year}/submissions_{PROVINCE_CODE}.csv", _csv_text(sub), bom=True)


def _headers_programme(table: str, cols: list[str]) -> list[str]:
    """The Thai header vilwork writes first for each column (programme/columns.yaml)."""
    from .programme import settings

    names = settings("columns")["tables"][table]
    return [names[c][0] for c in cols]


def _votes_csv(areas: list[dict], rng: np.random.Generator, year: int) -> str:
    """Forum votes, one row per project (5-8), two projects tied."""
    candidates = [(a, p) for a in areas for p in _PROJECTS.get(a["key"], [])]
    n = int(rng.integers(5, 9))
    chosen = [candidates[i] for i in rng.choice(len(candidates), n, replace=False)]
    votes = sorted(rng.choice(np.arange(6, 61), n, replace=False).tolist(), reverse=True)
    votes[2] = votes[1]  # a tie for second place: the ranking has to say so
    day = dt.datetime(year - 543, 3, int(rng.integers(5, 26)), 19, 0, 0)
    cols = ["project", "issue_area", "votes", "recorded_at", "note"]
    rows = [_headers("votes", cols)]
    for j, ((area, project), k) in enumerate(zip(chosen, votes)):
        t = day + dt.timedelta(minutes=3 * j + int(rng.integers(0, 3)))
        note = "คะแนนเท่ากับโครงการอื่น ต้องลงมติซ้ำ" if j in (1, 2) else ("เสนอโดยกลุ่มเยาวชน" if j == n - 1 else "")
        rows.append([project, area["name_th"], int(k), t.isoformat() + "+07:00", note])
    return _csv_text(rows)


_STORY = {
    "origin": ["ครอบครัวที่อพยพมาจากหมู่บ้านใกล้เคียง", "ชาวนาจากริมแม่น้ำที่หนีน้ำท่วม", "พ่อค้าเกวียนที่แวะพักริมหนองน้ำ",
               "ญาติพี่น้องสามตระกูลที่มาบุกเบิกที่ทำกิน"],
    "identity": ["หมู่บ้านเกษตรอินทรีย์", "หมู่บ้านผ้าทอมือ", "หมู่บ้านปลอดเหล้าในงานบุญ", "หมู่บ้านจัดการขยะ",
                 "หมู่บ้านสมุนไพร", "หมู่บ้านท่องเที่ยววิถีชุมชน"],
    "economy": ["ส่วนใหญ่ทำนาและปลูกมันสำปะหลัง รับจ้างทั่วไปนอกฤดูเก็บเกี่ยว", "ทำนาปีละสองครั้ง เลี้ยงโคและปลูกผักขาย",
                "ปลูกอ้อยและข้าวโพด คนหนุ่มสาวไปทำงานโรงงานในเมือง", "ค้าขายในตลาดอำเภอ ทำสวนผลไม้และทอผ้าเป็นอาชีพเสริม"],
    "products": [("ข้าวหอมมะลิอินทรีย์", "บรรจุถุง 1 กิโลกรัม ขายในตลาดชุมชนและออนไลน์"),
                 ("ผ้าทอมือลายประจำหมู่บ้าน", "ทอโดยกลุ่มแม่บ้าน รับสั่งทำ"),
                 ("น้ำพริกปลาร้าบอง", "ผลิตโดยกลุ่มแม่บ้าน มีเลข อย."),
                 ("ไม้กวาดดอกหญ้า", "ผลิตช่วงหลังฤดูเก็บเกี่ยว ส่งร้านค้าในอำเภอ"),
                 ("ผักปลอดสารพิษ", "ขายตลาดนัดชุมชนและโรงพยาบาลอำเภอ"),
                 ("สบู่สมุนไพร", "ใช้สมุนไพรจากป่าชุมชน")],
    "tourism": [("ป่าชุมชนโคก{stem}", "เส้นทางเดินศึกษาธรรมชาติ 2 กิโลเมตร"), ("โฮมสเตย์บ้าน{stem}", "รับนักท่องเที่ยว 5 หลัง"),
                ("ตลาดย้อนยุคริมหนอง", "เปิดทุกวันเสาร์"), ("วัด{stem}", "โบสถ์ไม้เก่าอายุกว่า 100 ปี")],
    "needs": ["รายได้และหนี้สินของครัวเรือน", "ผู้สูงอายุและผู้ป่วยติดเตียง", "แหล่งน้ำและพื้นที่เสี่ยงน้ำท่วม",
              "เด็กที่ไม่ได้เรียนต่อ", "ราคาผลผลิตการเกษตร", "ผู้ดื่มสุราและสูบบุหรี่", "กลุ่มอาชีพและตลาด"],
}


def _pick(rng: np.random.Generator, pool: list, k: int) -> list:
    return [pool[i] for i in sorted(rng.choice(len(pool), min(k, len(pool)), replace=False))]


def _person_name(rng: np.random.Generator, male: bool) -> str:
    first = _names(rng, _FIRST_M if male else _FIRST_F, 1)[0]
    return f"{'นาย' if male else 'นาง'}{first} {_names(rng, _SURNAME, 1)[0]}"


def _profile(plan: _Plan, v: _Village, rng: np.random.Generator, year: int, photos, partial: bool) -> dict:
    """The facilitator's narrative (docs/profile-template.yaml), invented."""
    stem = _stem(v)
    founded = int(rng.integers(2420, 2500))
    d = next(d for d in plan.districts if d.code == v.code[:4])
    t = next(t for t in d.tambons if t.code == v.code[:6])
    prof = {
        "village_code": v.code,
        "name_th": v.name_th,
        "moo": int(v.code[-2:]),
        "updated": f"{int(rng.integers(1, 28)):02d}/04/{year}",
        "history": (
            f"{v.name_th} ก่อตั้งเมื่อประมาณ พ.ศ. {founded} โดย{_STORY['origin'][int(rng.integers(len(_STORY['origin'])))]} "
            f"ตั้งชื่อตาม{'หนองน้ำที่มีดอกบัวขึ้นเต็ม' if stem == 'หนองบัว' else 'สภาพพื้นที่และต้นไม้ประจำถิ่น'} "
            f"ต่อมาแยกเป็นหมู่ที่ {int(v.code[-2:])} ตำบล{t.name_th} อำเภอ{d.name_th}\n"
            "(ข้อมูลสมมุติสำหรับสาธิต)"
        ),
        "vision": f"{v.name_th} น่าอยู่ คนมีรายได้ ใช้ข้อมูลพัฒนาคุณภาพชีวิต",
        "identity": " ".join(_pick(rng, _STORY["identity"], 2)) + " และงานบุญประเพณีที่สืบทอดกันมา",
        "leaders": [
            {"name": _person_name(rng, True), "role": "ผู้ใหญ่บ้าน"},
            {"name": _person_name(rng, False), "role": "ผู้ช่วยผู้ใหญ่บ้าน"},
            {"name": _person_name(rng, False), "role": "ประธาน อสม."},
        ],
        "groups": [
            {"name": "กลุ่มแม่บ้านเกษตรกร", "members": int(rng.integers(20, 45)), "activity": "แปรรูปผลผลิตการเกษตร"},
            {"name": "กลุ่มออมทรัพย์เพื่อการผลิต", "members": int(rng.integers(60, 180)), "activity": "ออมเงินรายเดือน ให้กู้ยืม"},
            {"name": "ชมรมผู้สูงอายุ", "members": int(rng.integers(30, 80)), "activity": "ออกกำลังกาย ถ่ายทอดภูมิปัญญา"},
        ],
        "products": [
            {"name": name, "detail": detail, "income_baht_per_year": int(round(rng.uniform(50_000, 400_000), -3))}
            for name, detail in _pick(rng, _STORY["products"], int(rng.integers(1, 4)))
        ],
        "economy": _STORY["economy"][int(rng.integers(len(_STORY["economy"])))],
        "tourism": [
            {"name": name.format(stem=stem), "detail": detail.format(stem=stem)}
            for name, detail in _pick(rng, _STORY["tourism"], int(rng.integers(0, 3)))
        ],
        "culture": [
            {"name": "บุญบั้งไฟ", "month": "พฤษภาคม", "detail": "ขอฝนก่อนฤดูทำนา"},
            {"name": "ลอยกระทง", "month": "พฤศจิกายน", "detail": f"ที่หนองน้ำสาธารณะบ้าน{stem}"},
            {"name": "หมอยาสมุนไพร", "month": "", "detail": "ภูมิปัญญาการรักษาด้วยสมุนไพรพื้นบ้าน"},
        ],
        "information_needs": _pick(rng, _STORY["needs"], int(rng.integers(2, 5))),
        "partners": [
            {"name": "องค์การบริหารส่วนตำบล" + t.name_th, "support": "งบประมาณโครงการและเครื่องมือ"},
            {"name": "สำนักงานพัฒนาชุมชนอำเภอ" + d.name_th, "support": "วิทยากรกระบวนการ"},
            {"name": f"โรงพยาบาลส่งเสริมสุขภาพตำบลบ้าน{stem}", "support": "ข้อมูลสุขภาพ"},
        ],
        "funding": [
            {"source": "องค์การบริหารส่วนตำบล", "amount_baht": int(round(rng.uniform(20_000, 80_000), -3)), "purpose": "ป้ายข้อมูลหมู่บ้าน"},
            {"source": "กองทุนหมู่บ้าน", "amount_baht": int(round(rng.uniform(5_000, 30_000), -3)), "purpose": "ค่าจัดประชุมประชาคม"},
        ],
        "management": {
            "place": f"ศาลาประชาคมบ้าน{stem}",
            "equipment": ["คอมพิวเตอร์ 1 เครื่อง", "เครื่องพิมพ์", "บอร์ดข้อมูลหมู่บ้าน"],
            "team": [
                {"name": _person_name(rng, True), "role": "ประธานคณะทำงาน"},
                {"name": _person_name(rng, False), "role": "ผู้บันทึกข้อมูล"},
                {"name": _person_name(rng, True), "role": "ผู้ประสานงานกับ อบต."},
            ],
        },
        "presentation": (
            "วิเคราะห์ข้อมูล จปฐ. และ กชช. 2ค ร่วมกับคณะทำงาน นำเสนอในเวทีประชาคมด้วยกราฟแท่งและแผนที่หมู่บ้าน "
            "ให้ที่ประชุมเลือกปัญหาที่ต้องแก้ก่อน"
        ),
        "integrated_projects": [
            {"name": "ปลูกผักสวนครัวรั้วกินได้", "year": year - 1, "result": "ครัวเรือนร่วม 80% ลดรายจ่ายค่าอาหาร"},
            {"name": "ธนาคารขยะ", "year": year, "result": "สมาชิก 60 ครัวเรือน มีเงินออมจากการขายขยะ"},
        ],
        "publication": [
            {"channel": "เพจเฟซบุ๊กหมู่บ้าน", "detail": f"{v.name_en} Information Village"},
            {"channel": "ป้ายข้อมูลหน้าศาลาประชาคม", "detail": "ปรับปรุงทุกปีหลังการสำรวจ จปฐ."},
            {"channel": "คลิปวิดีโอ", "detail": "ถ่ายทอดบทเรียนการจัดทำข้อมูลหมู่บ้าน"},
        ],
        "photos": [{"file": f"photos/{n}", "caption": c} for n, c in photos],
        "other": "",
    }
    if partial:  # a facilitator who has not finished: empty fields the report must handle
        prof["tourism"] = []
        prof["vision"] = ""
        prof["funding"] = None
    return prof


class _YamlDumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper, data):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_YamlDumper.add_representer(str, _str_presenter)


def _yaml(doc: dict) -> str:
    head = "# ข้อมูลหมู่บ้าน (สมมุติ) สำหรับสาธิต — แม่แบบและคำอธิบาย: docs/profile-template.yaml\n"
    return head + yaml.dump(doc, Dumper=_YamlDumper, allow_unicode=True, sort_keys=False, width=1000)


def _photos(rng: np.random.Generator) -> list[tuple[str, bytes, str]]:
    """2-3 small generated activity pictures: (file name, bytes, caption)."""
    scenes = [("01_forum.jpg", _scene_forum, "เวทีประชาคมหมู่บ้าน คัดเลือกโครงการ"),
              ("02_field.jpg", _scene_field, "แปลงนาของสมาชิกกลุ่มเกษตรอินทรีย์"),
              ("03_map.png", _scene_map, "แผนที่หมู่บ้านที่วาดร่วมกันในเวทีประชาคม")]
    from PIL import Image

    n = 3 if rng.random() < 0.6 else 2
    out = []
    for name, draw, caption in scenes[:n]:
        img = draw(rng)
        buf = io.BytesIO()
        if name.endswith(".png"):
            img.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(buf, format="PNG", optimize=True)
        else:
            img.save(buf, format="JPEG", quality=70)
        out.append((name, buf.getvalue(), caption))
    return out


def _scene_forum(rng):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 200), (236, 224, 200))
    d = ImageDraw.Draw(img)
    d.polygon([(20, 70), (160, 15), (300, 70)], fill=(150, 60, 40))  # sala roof
    d.rectangle([40, 70, 280, 80], fill=(120, 80, 50))
    for x in (50, 270):
        d.rectangle([x - 4, 80, x + 4, 190], fill=(120, 80, 50))
    d.rectangle([110, 95, 210, 130], fill=(255, 255, 255), outline=(60, 60, 60))  # flip chart
    for j in range(int(rng.integers(3, 6))):  # a bar chart on the flip chart
        d.rectangle([120, 100 + 6 * j, 120 + int(rng.integers(20, 85)), 104 + 6 * j], fill=(40, 110, 190))
    for _ in range(int(rng.integers(10, 18))):
        x, y = int(rng.integers(60, 260)), int(rng.integers(140, 185))
        c = tuple(int(v) for v in rng.integers(40, 220, 3))
        d.ellipse([x - 7, y - 18, x + 7, y - 4], fill=(200, 160, 120))
        d.rectangle([x - 9, y - 4, x + 9, y + 14], fill=c)
    return img


def _scene_field(rng):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 200), (150, 200, 240))
    d = ImageDraw.Draw(img)
    sx = int(rng.integers(40, 280))
    d.ellipse([sx - 18, 20, sx + 18, 56], fill=(250, 210, 60))
    d.polygon([(0, 110), (90, 60), (180, 110)], fill=(90, 120, 100))
    d.polygon([(120, 110), (230, 50), (320, 110)], fill=(70, 105, 90))
    for j in range(6):
        g = 150 + 15 * (j % 2) + int(rng.integers(0, 20))
        d.rectangle([0, 110 + 15 * j, 320, 125 + 15 * j], fill=(60, g, 60))
    hx = int(rng.integers(30, 260))
    d.rectangle([hx, 95, hx + 36, 120], fill=(170, 120, 70))
    d.polygon([(hx - 5, 95), (hx + 18, 80), (hx + 41, 95)], fill=(120, 50, 40))
    return img


def _scene_map(rng):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 200), (250, 246, 230))
    d = ImageDraw.Draw(img)
    pts = [(int(rng.integers(20, 60)), int(rng.integers(20, 60))), (int(rng.integers(260, 300)), int(rng.integers(20, 60))),
           (int(rng.integers(260, 300)), int(rng.integers(140, 180))), (int(rng.integers(20, 60)), int(rng.integers(140, 180)))]
    d.polygon(pts, outline=(180, 40, 40))
    d.line([(0, 100), (320, int(rng.integers(80, 130)))], fill=(120, 120, 120), width=4)
    d.ellipse([200, 120, 250, 160], fill=(120, 170, 230))
    for _ in range(int(rng.integers(5, 9))):
        x, y = int(rng.integers(60, 250)), int(rng.integers(50, 150))
        d.ellipse([x - 5, y - 5, x + 5, y + 5], fill=(220, 40, 40))
    return img
