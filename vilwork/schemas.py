"""What each raw table must look like: column kinds, pandera schemas, rule messages, typing.

A raw chunk (text cells, canonical column names) goes through three steps:

1. :func:`prepare` turns every cell into the canonical *text* form its column kind expects
   (Thai digits → ASCII, ``1,200`` → ``1200``, ``50010621.0`` → ``50010621``, ``ชาย`` → ``male``,
   dates parsed…) and leaves values it cannot read as they are, so the schema reports them.
   Checks that need several columns or outside facts become *helper* columns named
   ``__<rule>__<column>`` holding True (pass), False (fail) or missing (not applicable).
2. :func:`validate` runs the table's pandera schema **lazily** — every failure of every row at
   once — and returns one line per (row, column, rule).
3. :func:`to_typed` converts the rows that passed to their final types.

Rule names and their Thai/English messages are in :data:`RULES` (documented in
``docs/ingest.md``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc
from pandera import Check

from . import registry
from .thai import citizen_id_valid, map_distinct, normalise_code, normalise_text, normalise_text_series, normalise_year, parse_dates

TABLES = ("households", "persons", "aggregates", "kchch2k", "accounts", "capital", "places")

#: columns a file must have, or it is refused
REQUIRED: dict[str, tuple[str, ...]] = {
    "households": ("house_code", "village_code"),
    "persons": ("house_code", "citizen_id", "birth_date"),
    "aggregates": ("village_id",),
    "kchch2k": ("village_code",),
    "accounts": ("house_code", "date"),
    "capital": ("kind", "name"),
    "places": ("code", "level", "name_th"),
}

#: columns holding personal data: never written to data/processed, masked in quarantine.csv
PERSONAL = ("title", "first_name", "last_name", "head_name", "house_no", "citizen_id", "house_code")

# rule → (Thai, English). {allowed} is filled in for category rules.
RULES: dict[str, tuple[str, str]] = {
    "required_value": ("ต้องมีค่า ห้ามเว้นว่าง", "a value is required"),
    "year": ("ปีสำรวจต้องเป็นปี พ.ศ. เช่น 2561", "survey year must be a BE year such as 2561"),
    "year_missing": ("ไม่มีปีสำรวจ (ไม่มีในคอลัมน์ ชื่อโฟลเดอร์ หรือชื่อไฟล์)", "no survey year (not in the year column, folder or file name)"),
    "year_period": ("ไม่มีชุดนิยามตัวชี้วัดของปีนี้ใน periods.yaml", "no definition set in periods.yaml covers this year"),
    "village_code_format": ("รหัสหมู่บ้านต้องเป็นตัวเลข 8 หลัก", "village code must be 8 digits"),
    "village_code_prefix": (
        "รหัสหมู่บ้านผิดรูปแบบ: รหัสจังหวัด (2 หลักแรก) ต้องไม่ขึ้นต้นด้วย 0 และรหัสอำเภอ ตำบล หมู่ (หลักละ 2) ต้องไม่เป็น 00",
        "malformed village code: the province part (first 2 digits) must not start with 0 and the district, tambon and village parts (2 digits each) must not be 00",
    ),
    "village_not_in_places": ("ไม่พบรหัสหมู่บ้านนี้ในรายชื่อพื้นที่ data/raw/places.csv", "village code is not in the place list data/raw/places.csv"),
    "platform_village_format": ("village_ID ต้องเป็นตัวเลข 10 หลัก (รหัสหมู่บ้าน 8 + 2) หรือ 8 หลัก", "village_ID must be 10 digits (village code 8 + 2) or 8 digits"),
    "province_consistent": ("รหัสจังหวัดไม่ตรงกับ 2 หลักแรกของรหัสหมู่บ้าน", "province code does not match the first 2 digits of the village code"),
    "province_code_format": ("รหัสจังหวัดต้องเป็นตัวเลข 2 หลัก", "province code must be 2 digits"),
    "house_code_format": ("รหัสบ้านต้องเป็นตัวเลข 11 หลัก", "house code must be 11 digits"),
    "house_code_village": ("รหัสบ้านต้องขึ้นต้นด้วยรหัสหมู่บ้าน 8 หลัก", "house code must start with the 8-digit village code"),
    "duplicate_house_code": ("รหัสบ้านซ้ำในปีเดียวกัน (เก็บแถวแรกที่ผ่านการตรวจ)", "duplicate house code in the same year (the first accepted row is kept)"),
    "house_not_found": (
        "ไม่พบครัวเรือนของบุคคลนี้ในข้อมูลครัวเรือนปีเดียวกันที่ผ่านการตรวจ",
        "the person's house code has no accepted household record in the same year",
    ),
    "citizen_id_format": ("เลขประจำตัวประชาชนต้องเป็นตัวเลข 13 หลัก", "citizen ID must be 13 digits"),
    "citizen_id_check_digit": ("เลขประจำตัวประชาชนผิด: หลักตรวจสอบ (หลักที่ 13) ไม่ถูกต้อง", "citizen ID is wrong: the check digit (13th digit) does not match"),
    "duplicate_citizen_id": ("เลขประจำตัวประชาชนซ้ำในปีเดียวกัน (เก็บแถวแรกที่ผ่านการตรวจ)", "duplicate citizen ID in the same year (the first accepted row is kept)"),
    "duplicate_village": ("หมู่บ้านซ้ำในปีเดียวกัน (เก็บแถวแรกที่ผ่านการตรวจ)", "duplicate village in the same year (the first accepted row is kept)"),
    "duplicate_code": ("รหัสซ้ำ (เก็บแถวแรกที่ผ่านการตรวจ)", "duplicate code (the first accepted row is kept)"),
    "answer_01": ("คำตอบต้องเป็น 1 (ใช่/ผ่าน) 0 (ไม่ใช่) หรือเว้นว่าง", "answer must be 1 (yes), 0 (no) or blank"),
    "number": ("ต้องเป็นตัวเลข", "must be a number"),
    "integer": ("ต้องเป็นจำนวนเต็ม", "must be a whole number"),
    "non_negative": ("ต้องไม่ติดลบ", "must not be negative"),
    "level_123": ("ระดับต้องเป็น 1 (มีปัญหามาก) 2 (ปานกลาง) 3 (ไม่มีปัญหา) หรือเว้นว่าง", "level must be 1, 2, 3 or blank"),
    "date": ("อ่านวันที่ไม่ได้ (ใช้ วว/ดด/ปปปป พ.ศ. เช่น 15/01/2530)", "not a readable date (use dd/mm/yyyy BE, e.g. 15/01/2530)"),
    "birth_after_reference": ("วันเกิดอยู่หลังวันอ้างอิงของปีสำรวจ", "birth date is after the survey year's reference day"),
    "age_range": ("อายุ ณ วันอ้างอิงต้องอยู่ระหว่าง 0–120 ปี", "age on the reference day must be 0–120 years"),
    "birth_weight_range": ("น้ำหนักแรกเกิดต้องอยู่ระหว่าง 200–7,000 กรัม", "birth weight must be 200–7,000 g"),
    "category": ("ค่าไม่อยู่ในรายการที่ใช้ได้: {allowed}", "value is not one of: {allowed}"),
    "cnt_le_all": ("จำนวนที่ไม่ผ่าน (CNT) มากกว่าจำนวนทั้งหมด (ALL)", "failing count (CNT) is larger than the total (ALL)"),
    "code_format": ("รหัสต้องเป็นตัวเลข 2, 4, 6 หรือ 8 หลัก", "code must be 2, 4, 6 or 8 digits"),
    "code_level": ("จำนวนหลักของรหัสไม่ตรงกับระดับ (จังหวัด 2 อำเภอ 4 ตำบล 6 หมู่บ้าน 8)", "code length does not match the level (province 2, district 4, tambon 6, village 8)"),
    "row_fields": ("แถวนี้มีจำนวนช่องมากกว่าหัวตาราง (อาจมีจุลภาคเกินในข้อความ)", "the row has more fields than the header (a stray comma?)"),
    "cell_size": ("ข้อความในช่องยาวเกิน 32,767 ตัวอักษร (ขีดจำกัดของ Excel)", "the cell holds more than 32,767 characters (Excel's limit)"),
    "totals_row": (
        "แถวรวม (เช่น รวม / รวมทั้งสิ้น / Total) ท้ายตาราง ไม่ใช่ข้อมูลรายครัวเรือนหรือรายบุคคล จึงไม่นำเข้า",
        "a totals row (e.g. รวม / รวมทั้งสิ้น / Total) under the data, not a household or person record: left out",
    ),
    "control_character": ("ช่องนี้มีอักขระควบคุม (เช่น NUL) ที่ไม่ใช่ข้อความ: ไฟล์อาจเสียหาย", "the cell holds control characters (e.g. NUL) that are not text: the file may be damaged"),
}

#: longest cell read (Excel's own limit); a longer one is quarantined with rule ``cell_size``
MAX_CELL_CHARS = 32_767
_RE_CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


# ---------------------------------------------------------------------------------------------
# value vocabularies (folded text → canonical value)

def _fold(s: str) -> str:
    return registry.fold_header(s).replace(".", "").strip()


def _vocab(pairs: dict[str, list[str]]) -> dict[str, str]:
    out = {}
    for canonical, words in pairs.items():
        for w in [canonical, *words]:
            out[_fold(w)] = canonical
    return out


VOCABULARIES: dict[str, dict[str, str]] = {
    "sex": _vocab({"male": ["ชาย", "ช", "m", "man", "1"], "female": ["หญิง", "ญ", "f", "woman", "2"]}),
    "health": _vocab({
        "normal": ["ปกติ", "สุขภาพปกติ", "healthy", "แข็งแรง"],
        "disabled": ["พิการ", "ผู้พิการ", "คนพิการ", "disability"],
        "chronic": ["ป่วยเรื้อรัง", "ผู้ป่วยเรื้อรัง", "ป่วยเป็นโรคเรื้อรัง", "โรคเรื้อรัง", "chronically ill", "chronic illness"],
    }),
    "yes_no": _vocab({
        "true": ["มี", "มีบัตร", "ได้รับ", "ใช่", "yes", "y", "1", "t"],
        "false": ["ไม่มี", "ไม่มีบัตร", "ไม่ได้รับ", "ไม่ใช่", "no", "n", "0", "f"],
    }),
    "municipality": _vocab({
        "true": ["ในเขต", "ในเขตเทศบาล", "เขตเทศบาล", "เทศบาล", "in", "inside", "urban", "municipal", "1", "yes"],
        "false": ["นอกเขต", "นอกเขตเทศบาล", "อบต", "out", "outside", "rural", "0", "no"],
    }),
    "place_level": _vocab({
        "province": ["จังหวัด", "จ"], "district": ["อำเภอ", "เขต", "อ"],
        "tambon": ["ตำบล", "แขวง", "ต", "subdistrict", "sub-district"], "village": ["หมู่บ้าน", "หมู่", "ม"],
    }),
}

#: how a category is shown in messages (the raw words an officer types)
_VOCAB_SHOWN = {
    "sex": "ชาย, หญิง",
    "health": "ปกติ, พิการ, ป่วยเรื้อรัง",
    "yes_no": "มี, ไม่มี",
    "municipality": "ในเขต, นอกเขต",
    "place_level": "province/จังหวัด, district/อำเภอ, tambon/ตำบล, village/หมู่บ้าน",
}


@lru_cache(maxsize=None)
def capital_vocabulary() -> dict[str, str]:
    """Capital kinds from capital.yaml: key, Thai and English names and their short forms → key."""
    pairs: dict[str, list[str]] = {}
    for k in registry.capital_kinds():
        th, en = k["name_th"], k["name_en"]
        short = re.sub(r"^ทุน(ทาง)?", "", th)
        words = [th, en, short, "ทุน" + short, "ทุนทาง" + short, re.sub(r"\s*\(.*\)", "", en),
                 re.sub(r"\s*capital.*$", "", en, flags=re.I)]
        if short.startswith("ทรัพยากร"):
            rest = short[len("ทรัพยากร"):]
            words += [rest, "ทุน" + rest]
        if k["key"] == "social":  # culture and traditions are social capital (DOMAIN.md)
            words += ["วัฒนธรรม", "ทุนวัฒนธรรม", "ทุนทางวัฒนธรรม", "culture", "cultural"]
        pairs[k["key"]] = words
    return _vocab(pairs)


def vocabulary(name: str) -> dict[str, str]:
    return capital_vocabulary() if name == "capital" else VOCABULARIES[name]


def vocabulary_shown(name: str) -> str:
    if name == "capital":
        return ", ".join(f"{k['key']}/{k['name_th']}" for k in registry.capital_kinds())
    return _VOCAB_SHOWN[name]


# ---------------------------------------------------------------------------------------------
# column kinds


@dataclass(frozen=True)
class Field:
    """One raw column: its kind (how it is cleaned, checked and typed) and whether blanks are allowed."""

    name: str
    kind: str
    nullable: bool = True
    vocab: str | None = None


_ANSWER = re.compile(r"^q[0-9]+(_[0-9]+)?$")
_LEVEL = re.compile(r"^k[0-9]+$")
_KINDS: dict[str, dict[str, tuple]] = {
    "households": {
        "year": ("year",), "house_code": ("house_code", False), "village_code": ("village_code", False),
        "in_municipality": ("category", True, "municipality"),
        **{c: ("money",) for c in ("income_main", "income_secondary", "income_other", "income_own_produce",
                                   "exp_production", "exp_necessary", "exp_unnecessary", "exp_debt")},
    },
    "persons": {
        "year": ("year",), "house_code": ("house_code", False), "citizen_id": ("citizen_id", False),
        "sex": ("category", True, "sex"), "birth_date": ("date",), "relation": ("text",), "education": ("text",),
        "occupation": ("text",), "health": ("category", True, "health"), "welfare_card": ("category", True, "yes_no"),
        "birth_weight_g": ("birth_weight",),
    },
    "aggregates": {
        "year": ("year",), "village_id": ("platform_village", False), "province_id": ("province_code",),
        **{c: ("count",) for c in ("households", "members", "elderly", "disabled", "chronic")},
    },
    "kchch2k": {"year": ("year",), "village_code": ("village_code", False)},
    "accounts": {
        "house_code": ("house_code", False), "date": ("date", False), "item": ("text",), "category": ("text",),
        "income": ("money",), "expense": ("money",), "balance": ("signed",),
    },
    "capital": {
        "kind": ("category", False, "capital"), "name": ("text", False), "description": ("text",),
        "quantity": ("quantity",), "value_baht": ("money",),
    },
    "places": {"code": ("place_code", False), "level": ("category", False, "place_level"), "name_th": ("text", False), "name_en": ("text",)},
}


def field(table: str, column: str) -> Field:
    """The :class:`Field` of ``column`` in ``table``; columns with no kind are ``dropped`` (never read further)."""
    spec = _KINDS.get(table, {}).get(column)
    if spec is None:
        if table in ("households", "persons") and _ANSWER.match(column):
            spec = ("answer",)
        elif table == "kchch2k" and _LEVEL.match(column):
            spec = ("level",)
        elif table == "aggregates" and re.match(r"^(all|cnt)_[0-9]+$", column):
            spec = ("count",)
        else:
            spec = ("dropped",)
    kind, nullable, vocab = (list(spec) + [True, None])[:3]
    return Field(column, kind, nullable, vocab)


def answer_columns(table: str) -> list[str]:
    """The answer items (``q…``) of a record table, in aliases.csv order."""
    return [c for c in registry.thai_headers(table) if _ANSWER.match(c)]


def level_columns() -> list[str]:
    """The กชช. 2ค indicator columns ``k1``… in aliases.csv order."""
    return [c for c in registry.thai_headers("kchch2k") if _LEVEL.match(c)]


def column_label(table: str, column: str) -> str:
    """``รหัสหมู่บ้าน (village_code)``: the Thai header and the canonical name, for messages."""
    try:
        th = registry.thai_headers(table).get(column)
    except Exception:  # noqa: BLE001 - built-in tables have no Thai headers
        th = None
    return f"{th} ({column})" if th and th != column else column


def helper_name(rule: str, column: str = "") -> str:
    """Name of a helper column that carries a check computed outside the column itself."""
    return f"__{rule}__{column}"


def parse_helper(name: str) -> tuple[str, str] | None:
    m = re.fullmatch(r"__([a-z0-9_]+?)__(.*)", name)
    return (m.group(1), m.group(2)) if m else None


# ---------------------------------------------------------------------------------------------
# prepare: raw text → canonical text (+ helper columns)

_CLEAN_TABLE = str.maketrans({**{c: str(i) for i, c in enumerate("๐๑๒๓๔๕๖๗๘๙")}, "\u00a0": " ", "\u200b": None, "\ufeff": None, "\u202f": " "})
_NEEDS_CLEAN = "[๐-๙\u00a0\u200b\ufeff\u202f]"
NUMBER = r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"


def on_distinct(s: pd.Series, fn) -> pd.Series:
    """Apply a vectorised text function to the distinct values of ``s`` only, then broadcast back.

    Survey columns repeat a few values (answers, sex, dates), so this is what keeps cleaning fast
    on millions of rows. Returns a ``str`` Series (missing stays missing).
    """
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    if len(uniq) > len(s) // 2:
        return fn(s.astype("str")).astype("str")
    res = fn(pd.Series(uniq, dtype="str")).to_numpy(dtype=object, na_value=None)
    res = np.append(res, None)
    return pd.Series(res[codes], index=s.index, dtype="str", name=s.name)


def _clean_vec(s: pd.Series) -> pd.Series:
    s = s.astype("str")
    if s.str.contains(_NEEDS_CLEAN, regex=True, na=False).any():
        s = s.str.translate(_CLEAN_TABLE)
    s = s.str.strip()
    return s.where(s.ne("") & s.notna())


def _clean(s: pd.Series) -> pd.Series:
    """Text as ``str`` dtype: Thai digits → ASCII, odd spaces, trimmed; blank → missing."""
    return on_distinct(s, _clean_vec)


def _strip_zero_decimals(s: pd.Series) -> pd.Series:
    hit = s.str.fullmatch(r"-?[0-9]+\.0+").fillna(False).astype(bool)
    return s.where(~hit, s.str.replace(r"\.0+$", "", regex=True)) if hit.any() else s


def _number_text(s: pd.Series) -> pd.Series:
    """``1,200`` → ``1200``; ``500 บาท`` → ``500``; ``+5`` → ``5``."""
    if s.str.contains(r"[,+฿]|บาท|baht", regex=True, na=False).any():
        thousands = s.str.fullmatch(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?").fillna(False).astype(bool)
        s = s.where(~thousands, s.str.replace(",", "", regex=False))
        s = s.str.replace(r" *(บาท|฿|[Bb]aht)$", "", regex=True).str.replace(r"^\+", "", regex=True)
    return s


def to_float(s: pd.Series) -> pd.Series:
    """Canonical number text → float64 (NaN where blank or not a number), via Arrow on distinct values."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    u = pd.Series(uniq, dtype="str")
    valid = u.str.fullmatch(NUMBER).fillna(False).astype(bool).to_numpy()
    vals = np.full(len(u) + 1, np.nan)
    if valid.any():
        vals[:-1][valid] = pc.cast(pa_arrow.array(u[valid].to_numpy(dtype=object)), pa_arrow.float64()).to_numpy(zero_copy_only=False)
    return pd.Series(vals[codes], index=s.index, name=s.name)


def _code_text(s: pd.Series, width: int) -> pd.Series:
    code = normalise_code(s, width)
    return code.where(code.notna(), s)


def _cell_checks(raw: pd.DataFrame, table: str) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Over-long cells and control characters in the columns read: helper columns, and long cells blanked.

    A cell over :data:`MAX_CELL_CHARS` is replaced by a blank before any other cleaning (so no rule
    ever works on megabytes of text); its row fails ``cell_size``. Checked on distinct values, in
    free-text and category columns only: a code, number or date with a stray character already
    fails its own format rule, and those columns hold the many distinct values that would make the
    check costly.
    """
    helpers: dict[str, pd.Series] = {}
    copied = False
    for col in raw.columns:
        if col.startswith("__") or col == "year" or field(table, col).kind not in ("text", "category"):
            continue
        codes, uniq = pd.factorize(raw[col], use_na_sentinel=True)
        if not len(uniq):
            continue
        u = pd.Series(uniq, dtype=object).map(lambda v: v if isinstance(v, str) else str(v)).astype("str")
        too_long = (u.str.len() > MAX_CELL_CHARS).to_numpy()
        control = u.str.contains(_RE_CONTROL, regex=True, na=False).to_numpy() & ~too_long
        if too_long.any():
            bad = np.append(too_long, False)[codes]
            helpers[helper_name("cell_size", col)] = pd.Series(~bad, index=raw.index, dtype="boolean")
            if not copied:  # never change the caller's frame (its values go to the quarantine)
                raw, copied = raw.copy(), True
            raw[col] = raw[col].where(~bad, None)
        if control.any():
            bad = np.append(control, False)[codes]
            helpers[helper_name("control_character", col)] = pd.Series(~bad, index=raw.index, dtype="boolean")
    return raw, helpers


_AFTER_TOTALS_WORD = re.compile(r"[\s0-9๐-๙:(\[\-–]")


def is_totals_label(value) -> bool:
    """True when a cell reads as a totals label: a word of ``ingest.yaml`` alone, or followed by a
    space, number, colon, dash or bracket (``รวม``, ``รวมทั้งสิ้น 120``, ``Total:``, ``รวม (ครัวเรือน)``).

    Examples
    --------
    >>> is_totals_label("รวมทั้งสิ้น"), is_totals_label(" TOTAL: "), is_totals_label("รวมใจ"), is_totals_label(None)
    (True, True, False, False)
    """
    if not isinstance(value, str) or len(value) > 200:  # a label is short; never fold a 10 MB cell
        return False
    v = registry.fold_header(normalise_text(value) or "").rstrip(".:").strip()
    for w in registry.totals_row_words():
        if v == w or (v.startswith(w) and _AFTER_TOTALS_WORD.match(v, len(w))):
            return True
    return False


def mark_totals_rows(fails: pd.DataFrame, raw: pd.DataFrame, table: str) -> pd.DataFrame:
    """Give a totals row one reason, ``totals_row``, instead of the failures of its blank codes and sums.

    Only rows that already fail a rule on a required column are looked at (a code or ID that is
    blank or is not digits), so good records cost nothing. Such a row is a totals row when one of
    its cells reads as a totals label (:func:`is_totals_label`) and a required column is blank or
    holds the label; the reader flags rows labelled in a column it does not read (rule
    ``totals_row`` already, column ``""``).

    Parameters
    ----------
    fails : DataFrame
        :func:`validate` output for the chunk.
    raw : DataFrame
        The raw chunk (text cells, canonical columns, spreadsheet row index).

    Returns
    -------
    DataFrame
        ``fails`` with every line of a totals row replaced by one: ``row``, the column holding the
        label (one that is not personal data if it can; ``""`` when it is not read), ``totals_row``.
    """
    if fails.empty:
        return fails
    req = [c for c in REQUIRED.get(table, ()) if c in raw.columns]
    cand = fails.loc[fails["column"].isin(req) | fails["rule"].eq("totals_row"), "row"].unique()
    if not len(cand):
        return fails
    sub = raw.loc[raw.index.isin(cand), [c for c in raw.columns if not c.startswith("__")]]
    label = sub.apply(lambda col: col.map(is_totals_label)) if len(sub.columns) else sub
    keyless = sub[req].isna().any(axis=1) | label[req].any(axis=1) if req else pd.Series(False, index=sub.index)
    order = sorted(label.columns, key=lambda c: (c in PERSONAL, list(raw.columns).index(c)))
    found: dict[int, str] = {}
    for row in sub.index[keyless.to_numpy(dtype=bool)]:
        hit = [c for c in order if label.at[row, c]]
        if hit:
            found[int(row)] = hit[0]
    flagged = set(fails.loc[fails["rule"].eq("totals_row"), "row"].astype(int))  # labelled in a column not read
    for row in flagged - set(found):
        found[row] = ""
    if not found:
        return fails
    keep = fails[~fails["row"].isin(list(found))]
    lines = pd.DataFrame({"row": list(found), "column": list(found.values()), "rule": "totals_row"})
    lines["row"] = lines["row"].astype(fails["row"].dtype)
    return pd.concat([keep, lines], ignore_index=True).sort_values("row", kind="stable").reset_index(drop=True)


def prepare(raw: pd.DataFrame, table: str, *, default_year: int | None = None) -> pd.DataFrame:
    """Clean a raw chunk into the canonical text form the schema checks.

    Parameters
    ----------
    raw : DataFrame
        Canonical columns of text (``None`` for blank), indexed by spreadsheet row.
    table : str
    default_year : int, optional
        The survey year from the folder or file name (BE): used for rows whose year cell is blank,
        or for every row when there is no year column.

    Returns
    -------
    DataFrame
        Same index; one column per non-dropped field (``year`` first when a year is known or
        there is a year column), helper columns (``__rule__column``), ``_year`` (the year as a
        number) and, for date columns, the parsed date in ``_date_<column>``.
    """
    raw, cell_helpers = _cell_checks(raw, table)
    out: dict[str, pd.Series] = {}
    years = None
    if "year" in raw.columns or default_year is not None:
        if "year" in raw.columns:
            text = _clean(raw["year"])
            num = pd.array(map_distinct(text, normalise_year).to_numpy(), dtype="Int64")
            num = pd.Series(num, index=raw.index)
            if default_year is not None:
                num = num.where(text.notna(), default_year)
            out["year"] = num.astype("str").where(num.notna(), text)
        else:
            num = pd.Series(default_year, index=raw.index, dtype="Int64")
            out["year"] = num.astype("str")
        out["_year"] = num
        years = num
    for col in raw.columns:
        if col.startswith("__"):
            out[col] = raw[col]
            continue
        f = field(table, col)
        if f.kind in ("dropped", "year"):
            continue
        s = raw[col]
        if f.kind == "text":
            out[col] = normalise_text_series(s).astype("str")
            continue
        c = _clean(s)
        if f.kind == "village_code":
            out[col] = _code_text(c, 8)
        elif f.kind == "house_code":
            out[col] = _code_text(c, 11)
        elif f.kind == "citizen_id":
            spaced = c.str.fullmatch(r"[0-9][0-9 \t-]+[0-9]").fillna(False).astype(bool) & c.str.contains(r"[ \t-]", regex=True, na=False)
            if spaced.any():  # 1-2345-67890-12-3
                c = c.where(~spaced, c.str.replace(r"[ \t-]", "", regex=True))
            out[col] = _code_text(c, 13)
        elif f.kind == "platform_village":
            code = normalise_code(c, 10)
            short = c.str.fullmatch(r"[0-9]{8}").fillna(False).astype(bool)
            out[col] = c.where(short, code.where(code.notna(), c))
        elif f.kind == "province_code":
            out[col] = _code_text(c, 2)
        elif f.kind == "place_code":
            out[col] = c.str.replace(r"\.0+$", "", regex=True)
        elif f.kind in ("answer", "level", "count"):
            out[col] = on_distinct(c, lambda u: _strip_zero_decimals(_number_text(u)))
        elif f.kind in ("money", "signed", "quantity", "birth_weight"):
            out[col] = on_distinct(c, _number_text)
        elif f.kind == "date":
            out[col] = c
            out[f"_date_{col}"] = _parse_dates_by_year(c, years)
            out[helper_name("date", col)] = out[f"_date_{col}"].notna().where(c.notna()).astype("boolean")
        elif f.kind == "category":
            vocab = vocabulary(f.vocab)
            mapped = map_distinct(c, lambda v: vocab.get(_fold(normalise_text(v) or "")))
            out[col] = mapped.where(mapped.notna(), c.astype(object))
        else:  # pragma: no cover - every kind is handled above
            raise ValueError(f"unknown kind {f.kind!r}")
    out.update(cell_helpers)
    return pd.DataFrame(out, index=raw.index)


def _parse_dates_by_year(c: pd.Series, years: pd.Series | None) -> pd.Series:
    if years is None or years.isna().all():
        return parse_dates(c)
    parts = []
    for y, idx in c.groupby(years.fillna(-1).astype("int64"), sort=False).groups.items():
        parts.append(parse_dates(c.loc[idx], pivot_year=None if y < 0 else int(y)))
    return pd.concat(parts).reindex(c.index)


# ---------------------------------------------------------------------------------------------
# schemas


def _fullmatch(pattern: str):
    def check(s: pd.Series) -> pd.Series:
        if s.dtype == object:  # few distinct values: match each once
            codes, uniq = pd.factorize(s, use_na_sentinel=True)
            hit = pd.Series(uniq, dtype="str").str.fullmatch(pattern).fillna(False).astype(bool).to_numpy()
            return pd.Series(np.append(hit, False)[codes], index=s.index)
        return s.astype("str").str.fullmatch(pattern).fillna(False).astype(bool)

    return check


def _numeric(s: pd.Series) -> pd.Series:
    return to_float(s)


def _is_number(s):
    return _fullmatch(NUMBER)(s)


def _non_negative(s):
    v = _numeric(s)
    return v.isna() | (v >= 0)


def _is_integer(s):
    return _fullmatch(r"-?[0-9]+")(s)


def _village_prefix(s: pd.Series) -> pd.Series:
    t = s.astype("str")
    eight = t.str.fullmatch(r"[0-9]{8,10}").fillna(False).astype(bool)
    ok = t.str[:1].ne("0") & t.str[2:4].ne("00") & t.str[4:6].ne("00") & t.str[6:8].ne("00")
    return ~eight | ok.fillna(False).astype(bool)


def _citizen_check(s: pd.Series) -> pd.Series:
    t = s.astype("str")
    fmt = t.str.fullmatch(r"[0-9]{13}").fillna(False).astype(bool)
    return ~fmt | citizen_id_valid(t)


def _checks(table: str, f: Field) -> list[Check]:
    k = f.kind
    if k == "village_code":
        return [Check(_fullmatch(r"[0-9]{8}"), name="village_code_format"), Check(_village_prefix, name="village_code_prefix")]
    if k == "house_code":
        return [Check(_fullmatch(r"[0-9]{11}"), name="house_code_format")]
    if k == "citizen_id":
        return [Check(_fullmatch(r"[0-9]{13}"), name="citizen_id_format"), Check(_citizen_check, name="citizen_id_check_digit")]
    if k == "platform_village":
        return [Check(_fullmatch(r"[0-9]{10}|[0-9]{8}"), name="platform_village_format"), Check(_village_prefix, name="village_code_prefix")]
    if k == "province_code":
        return [Check(_fullmatch(r"[0-9]{2}"), name="province_code_format")]
    if k == "place_code":
        return [Check(_fullmatch(r"[0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{8}"), name="code_format")]
    if k == "year":
        return [Check(_fullmatch(r"[0-9]{4}"), name="year")]
    if k == "answer":
        return [Check(lambda s: s.isin(["0", "1"]), name="answer_01")]
    if k == "level":
        return [Check(lambda s: s.isin(["1", "2", "3"]), name="level_123")]
    if k == "count":
        return [Check(_is_integer, name="integer"), Check(_non_negative, name="non_negative")]
    if k in ("money", "quantity"):
        return [Check(_is_number, name="number"), Check(_non_negative, name="non_negative")]
    if k == "signed":
        return [Check(_is_number, name="number")]
    if k == "birth_weight":
        return [Check(_is_number, name="number"),
                Check(lambda s: _numeric(s).isna() | _numeric(s).between(200, 7000), name="birth_weight_range")]
    if k == "category":
        allowed = sorted(set(vocabulary(f.vocab).values()))
        return [Check(lambda s: s.isin(allowed), name="category")]
    return []  # text, date (checked through its helper)


@lru_cache(maxsize=256)
def schema(table: str, columns: tuple[str, ...]) -> pa.DataFrameSchema:
    """The pandera schema for a prepared frame of ``table`` with these ``columns`` (helpers included)."""
    cols = {}
    for c in columns:
        if c.startswith("_date_"):
            continue
        helper = parse_helper(c)
        if helper:
            cols[c] = pa.Column(None, Check(lambda s: s.astype(bool), name=helper[0]), nullable=True, required=False)
            continue
        f = field(table, c)
        if f.kind == "dropped":
            continue
        nullable = f.nullable and c != "year"
        cols[c] = pa.Column(None, _checks(table, f), nullable=nullable, required=False)
    return pa.DataFrameSchema(cols, strict=False, coerce=False, name=table)


def validate(prepared: pd.DataFrame, table: str) -> pd.DataFrame:
    """Run the table's schema lazily and return every failure.

    Returns
    -------
    DataFrame
        Columns ``row`` (index value), ``column`` (the raw column it concerns, empty for a
        row-level rule) and ``rule``; one line per failure, sorted by row.
    """
    sch = schema(table, tuple(prepared.columns))
    try:
        sch.validate(prepared, lazy=True)
        return pd.DataFrame({"row": pd.Series([], dtype="int64"), "column": pd.Series([], dtype=object), "rule": pd.Series([], dtype=object)})
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
    broken = fc[fc["index"].isna()]
    if not broken.empty:  # a check that crashed, or a schema-level problem: a bug, never a data failure
        raise RuntimeError(f"validation of {table} could not run: {broken[['column', 'check', 'failure_case']].to_dict('records')}")
    rules = fc["check"].astype(str).to_numpy().copy()
    cols = fc["column"].astype(str).to_numpy().copy()
    for i, c in enumerate(cols):
        h = parse_helper(c)
        if h:
            rules[i], cols[i] = h
    rules = np.where(rules == "not_nullable", np.where(cols == "year", "year_missing", "required_value"), rules)
    out = pd.DataFrame({"row": fc["index"].astype("int64").to_numpy(), "column": cols, "rule": rules})
    return out.drop_duplicates().sort_values("row", kind="stable").reset_index(drop=True)


def message(rule: str, table: str, column: str) -> str:
    """The Thai / English message of a rule for ``column`` of ``table``."""
    th, en = RULES.get(rule, (rule, rule))
    if rule == "category":
        f = field(table, column)
        shown = vocabulary_shown(f.vocab) if f.vocab else ""
        th, en = th.format(allowed=shown), en.format(allowed=shown)
    return f"{th} / {en}"


# ---------------------------------------------------------------------------------------------
# typing


def to_typed(prepared: pd.DataFrame, table: str) -> pd.DataFrame:
    """Convert validated rows from canonical text to final dtypes.

    answers and levels → ``Int8``; money, quantities, weights → ``float64``; counts → ``Int64``;
    dates → ``datetime64[s]``; yes/no categories → ``boolean``; codes and text → ``str``;
    ``year`` → ``Int16``. Helper columns are dropped.
    """
    out = {}
    for c in prepared.columns:
        if c.startswith("_"):
            continue
        s = prepared[c]
        if c == "year":
            out[c] = to_float(s).astype("Int16")
            continue
        f = field(table, c)
        if f.kind in ("answer", "level"):
            out[c] = to_float(s).astype("Int8")
        elif f.kind == "count":
            out[c] = to_float(s).astype("Int64")
        elif f.kind in ("money", "signed", "quantity", "birth_weight"):
            out[c] = to_float(s).astype("float64")
        elif f.kind == "date":
            out[c] = prepared[f"_date_{c}"]
        elif f.kind == "category" and f.vocab in ("yes_no", "municipality"):
            out[c] = s.map({"true": True, "false": False}).astype("boolean")
        else:
            out[c] = s.astype("str")
    return pd.DataFrame(out, index=prepared.index)


# ---------------------------------------------------------------------------------------------
# output schemas (Parquet): fixed, so every run and every chunk writes the same types

_S, _I16, _I8, _F, _I64 = pa_arrow.string(), pa_arrow.int16(), pa_arrow.int8(), pa_arrow.float64(), pa_arrow.int64()
_MONEY = ("income_main", "income_secondary", "income_other", "income_own_produce",
          "exp_production", "exp_necessary", "exp_unnecessary", "exp_debt")
_CODES = [("village_code", _S), ("tambon_code", _S), ("district_code", _S), ("province_code", _S)]


@lru_cache(maxsize=None)
def output_schema(table: str) -> pa_arrow.Schema:
    """The Parquet schema ingest writes for ``table`` (see docs/architecture.md, Processed layout)."""
    src = [("source_file", _S), ("source_row", _I64)]
    if table == "households":
        fields = [("year", _I16), ("house_key", _S), ("hh_id", _I64), *_CODES, ("in_municipality", pa_arrow.bool_()), ("members", _I64),
                  *[(q, _I8) for q in answer_columns("households")], *[(m, _F) for m in _MONEY],
                  ("income_total", _F), ("income_per_member", _F), *src]
    elif table == "persons":
        fields = [("year", _I16), ("person_key", _S), ("house_key", _S), ("hh_id", _I64), *_CODES, ("sex", _S), ("birth_date", pa_arrow.date32()),
                  ("age_years", _I16), ("age_months", _I16), ("relation", _S), ("education", _S), ("occupation", _S),
                  ("health", _S), ("welfare_card", pa_arrow.bool_()), ("birth_weight_g", _F),
                  *[(q, _I8) for q in answer_columns("persons")], *src]
    elif table == "aggregates":
        fields = [("year", _I16), ("village_code", _S), ("indicator", _I16), ("all", _I64), ("cnt", _I64),
                  ("households", _I64), ("members", _I64), ("elderly", _I64), ("disabled", _I64), ("chronic", _I64)]
    elif table == "kchch2k":
        fields = [("year", _I16), ("village_code", _S), ("indicator", _I16), ("level", _I8)]
    elif table == "accounts":
        fields = [("village_code", _S), ("house_key", _S), ("date", pa_arrow.date32()), ("item", _S), ("category", _S),
                  ("income", _F), ("expense", _F), ("balance", _F), *src]
    elif table == "capital":
        fields = [("village_code", _S), ("kind", _S), ("name", _S), ("description", _S), ("quantity", _F), ("value_baht", _F), *src]
    elif table == "places":
        fields = [("code", _S), ("level", _S), ("name_th", _S), ("name_en", _S), ("parent_code", _S)]
    else:
        raise ValueError(f"no output schema for table {table!r}")
    leak = set(PERSONAL) & {name for name, _ in fields}
    assert not leak, f"personal columns in the {table} output schema: {leak}"  # a guard for edits
    return pa_arrow.schema(fields)
