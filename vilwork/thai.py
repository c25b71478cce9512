"""Thai text normalisation: digits, Unicode, spaces, Buddhist-era dates, codes, citizen IDs.

Everything here is pure: values or Series in, values or Series out, inputs never mutated.
The Series functions are vectorised, or map each *distinct* value once (dates, text), which is
what makes them fast on millions of rows: a province's birth dates or sex values have few distinct
values.

Conventions (see ``docs/ingest.md``):

* Buddhist Era (BE) = Common Era (CE) + 543. A 4-digit year above 2400 is BE, one between 1800 and
  2200 is CE. A 2-digit year ``yy`` is BE ``25yy``; with ``pivot_year`` given, a 2-digit year that
  would fall after the pivot is taken from the previous century (``90`` with pivot 2561 → 2490).
* Dates come out as CE :class:`datetime.date` (or ``datetime64`` in Series).
* Codes are strings of ASCII digits. A code that is not all digits after trimming is invalid and
  is never repaired (``73??04`` stays invalid).
"""
from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from numbers import Number

import numpy as np
import pandas as pd

__all__ = [
    "THAI_DIGITS",
    "to_ascii_digits",
    "normalise_text",
    "normalise_text_series",
    "parse_date",
    "parse_dates",
    "excel_serial_to_date",
    "format_be_date",
    "normalise_code",
    "citizen_id_check_digit",
    "citizen_id_valid",
    "year_from_text",
    "normalise_year",
    "map_distinct",
]

BE_OFFSET = 543
THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙"
_DIGIT_TABLE = str.maketrans(THAI_DIGITS, "0123456789")
_HAS_THAI_DIGIT = f"[{THAI_DIGITS}]"

# No-break and other wide spaces become a plain space; invisible zero-width characters are
# removed (turning them into spaces would split Thai words that an editor joined with them).
_SPACE_CHARS = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t\r\n\v\f"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_SPACE_TABLE = {ord(c): " " for c in _SPACE_CHARS} | {ord(c): None for c in _ZERO_WIDTH}
_THAI_CHAR = re.compile("[\u0e00-\u0e7f]")

TH_MONTHS = (
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)
TH_MONTHS_SHORT = (
    "ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.",
    "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.",
)
EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)


def _month_key(name: str) -> str:
    return re.sub(r"[.\s]", "", name).casefold()


_MONTHS: dict[str, int] = {}
for _i, (_full, _short, _en) in enumerate(zip(TH_MONTHS, TH_MONTHS_SHORT, EN_MONTHS), start=1):
    for _name in (_full, _short, _en, _en[:3], "sept" if _i == 9 else _en[:3]):
        _MONTHS[_month_key(_name)] = _i


# ---------------------------------------------------------------------------------------------
# text


def to_ascii_digits(text: str) -> str:
    """Replace Thai digits ``๐``–``๙`` by ASCII ``0``–``9``.

    Examples
    --------
    >>> to_ascii_digits("๒๕๖๑")
    '2561'
    """
    return text.translate(_DIGIT_TABLE)


def _thai_reorder(text: str) -> str:
    # pythainlp.util.normalize reorders tone marks and vowels to the standard order (tone after
    # an upper/lower vowel, NIKHAHIT + SARA AA -> SARA AM with the tone before it), removes
    # repeated vowels and marks and dangling marks at the start: the typing errors met in
    # survey exports. It does not do Unicode NFC or no-break spaces: we do those first.
    from pythainlp.util import normalize

    return normalize(text)


def normalise_text(text, *, digits: bool = False):
    """Normalise one text value.

    Unicode NFC; no-break and other wide spaces → space; zero-width characters removed; runs of
    white space collapsed and trimmed; Thai tone marks and vowels put in the standard order
    (``pythainlp.util.normalize``: e.g. NIKHAHIT + SARA AA → SARA AM, tone mark typed before an
    upper vowel moved after it). With ``digits=True`` Thai digits become ASCII.

    Parameters
    ----------
    text : str or None
        The value. Anything that is not a string is returned unchanged.
    digits : bool
        Also replace Thai digits by ASCII digits.

    Returns
    -------
    str or None
        The normalised text; ``None`` when it is blank after trimming.

    Examples
    --------
    >>> normalise_text("\\u00a0นาย  สมชาย\\u200b ")
    'นาย สมชาย'
    >>> normalise_text("น\\u0e49\\u0e4d\\u0e32") == "น้ำ"
    True
    """
    if not isinstance(text, str):
        return text
    t = unicodedata.normalize("NFC", text).translate(_SPACE_TABLE)
    t = " ".join(t.split())
    if _THAI_CHAR.search(t):
        t = _thai_reorder(t)
    if digits:
        t = to_ascii_digits(t)
    return t or None


def map_distinct(values: pd.Series, fn: Callable, *, dtype=object) -> pd.Series:
    """Apply ``fn`` to each distinct non-missing value of ``values`` once and broadcast back.

    Missing values stay missing (``None``/``NaN``/``NaT`` as ``dtype`` allows). This is the
    vectorised form of a scalar normaliser for columns with few distinct values.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    dtype = np.dtype(dtype)
    mapped = np.empty(len(uniques) + 1, dtype=dtype)
    mapped[-1] = None if dtype == object else (np.datetime64("NaT") if dtype.kind == "M" else np.nan)
    for i, u in enumerate(np.asarray(uniques, dtype=object)):
        mapped[i] = fn(u)
    return pd.Series(mapped[codes], index=values.index, dtype=dtype, name=values.name)


def normalise_text_series(values: pd.Series, *, digits: bool = False) -> pd.Series:
    """:func:`normalise_text` applied to a Series (each distinct value is normalised once).

    Returns an object Series: strings, and ``None`` for missing or blank values.
    """
    return map_distinct(values, lambda v: normalise_text(v if isinstance(v, str) else _scalar_text(v), digits=digits))


def _scalar_text(v) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


# ---------------------------------------------------------------------------------------------
# dates


def _year_to_ce(year: int, two_digit: bool, pivot_year: int | None, force_ce: bool = False) -> int | None:
    if two_digit:
        be = 2500 + year
        if pivot_year is not None and be > pivot_year:
            be -= 100
        return be - BE_OFFSET
    if force_ce:
        return year if 1800 <= year <= 2200 else None
    if year > 2400:
        return year - BE_OFFSET
    if 1800 <= year <= 2200:
        return year
    return None


def _make_date(y: int | None, m: int, d: int) -> dt.date | None:
    if y is None or not (1 <= y <= 9999):
        return None
    # 00 for an unknown day or month (civil-registration style "00/00/2530"): the 1st.
    m = m or 1
    d = d or 1
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


_EXCEL_EPOCH = dt.date(1899, 12, 30)
_RE_TIME = re.compile(r"(?:[ T]\d{1,2}[:.]\d{2}(?:[:.]\d{2}(?:\.\d+)?)?(?:\s*น\.)?)$")
_RE_ERA = re.compile(r"(พ\.\s?ศ\.?|พศ\.?|\bB\.\s?E\.?|\bBE\b)", re.IGNORECASE)
_RE_CE = re.compile(r"(ค\.\s?ศ\.?|คศ\.?|\bC\.\s?E\.?|\bCE\b|\bA\.\s?D\.?|\bAD\b)", re.IGNORECASE)
_RE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_RE_YMD = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_RE_DMY = re.compile(r"^(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{4}|\d{2})$")
_RE_DMONY = re.compile(r"^(\d{1,2})\s*[-/ ]?\s*([^\d\s/\-][^\d]*?)\s*[-/ ]?\s*(\d{4}|\d{2})$")
_RE_DIGITS = re.compile(r"^\d+(?:\.\d+)?$")


def excel_serial_to_date(serial: float) -> dt.date | None:
    """Convert an Excel serial day number (1900 date system) to a date; ``None`` if out of range.

    A date whose year comes out above 2400 was typed as a BE year into a CE spreadsheet and is
    shifted back by 543 years.
    """
    try:
        s = float(serial)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(s) or s < 1 or s > 2958465:
        return None
    d = _EXCEL_EPOCH + dt.timedelta(days=int(s))
    return _from_datetime_like(d)


def _from_datetime_like(d: dt.date) -> dt.date | None:
    # openpyxl hands over the year as typed: a year above 2400 is a BE year typed into Excel.
    y = d.year - BE_OFFSET if d.year > 2400 else d.year
    return _make_date(y, d.month, d.day)


def parse_date(value, *, pivot_year: int | None = None) -> dt.date | None:
    """Parse one date as found in Thai files into a CE date.

    Accepted: ``dd/mm/yyyy`` (BE or CE, also ``-`` or ``.``), ``dd/mm/yy`` (2-digit BE),
    ISO ``yyyy-mm-dd`` (with or without a time), ``yyyy/mm/dd``, ``yyyymmdd``, Thai or English
    month names and abbreviations (``5 ม.ค. 2561``, ``5 มกราคม พ.ศ. 2561``, ``5 Jan 2018``), a
    lone 4-digit BE year (``2530`` → 1 January), Excel serial numbers, and ``date``/``datetime``
    objects (a year above 2400 is BE). Thai digits and no-break spaces are fine. ``00`` as day or
    month means unknown and becomes the 1st.

    Parameters
    ----------
    value : str, date, datetime, int, float or None
    pivot_year : int, optional
        Latest plausible BE year, used for 2-digit years (``90`` with pivot 2561 → 2490).

    Returns
    -------
    datetime.date or None
        ``None`` when the value is blank or not a readable date.

    Examples
    --------
    >>> parse_date("๑๕/๐๑/๒๕๖๑")
    datetime.date(2018, 1, 15)
    >>> parse_date("5 ม.ค. 61")
    datetime.date(2018, 1, 5)
    """
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else _from_datetime_like(value.date())
    if isinstance(value, dt.datetime):
        return _from_datetime_like(value.date())
    if isinstance(value, dt.date):
        return _from_datetime_like(value)
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else _from_datetime_like(pd.Timestamp(value).date())
    if isinstance(value, Number) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            return None
        return _parse_text(str(int(value)) if float(value).is_integer() else str(value), pivot_year)
    if not isinstance(value, str):
        return None
    return _parse_text(value, pivot_year)


_RE_FAST_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


@lru_cache(maxsize=262_144)
def _parse_text(value: str, pivot_year: int | None) -> dt.date | None:
    if m := _RE_FAST_DMY.fullmatch(value):  # the common case: dd/mm/yyyy in ASCII
        d, mo, y = m.groups()
        return _make_date(_year_to_ce(int(y), False, pivot_year), int(mo), int(d))
    s = " ".join(to_ascii_digits(unicodedata.normalize("NFC", value).translate(_SPACE_TABLE)).split())
    if not s:
        return None
    s = re.sub(r"^วันที่\s*", "", s)
    s = _RE_TIME.sub("", s).strip()
    force_ce = bool(_RE_CE.search(s))
    s = _RE_CE.sub(" ", s)
    s = _RE_ERA.sub(" ", s)
    s = s.replace("เดือน", " ").replace("ปี", " ")
    s = " ".join(s.split())
    if m := _RE_ISO.match(s) or _RE_YMD.match(s):
        y, mo, d = (int(g) for g in m.groups())
        return _make_date(_year_to_ce(y, False, pivot_year, force_ce), mo, d)
    if m := _RE_DMY.match(s):
        d, mo, ytxt = m.groups()
        return _make_date(_year_to_ce(int(ytxt), len(ytxt) == 2, pivot_year, force_ce), int(mo), int(d))
    if m := _RE_DMONY.match(s):
        d, mon, ytxt = m.groups()
        month = _MONTHS.get(_month_key(mon))
        if month is None:
            return None
        return _make_date(_year_to_ce(int(ytxt), len(ytxt) == 2, pivot_year, force_ce), month, int(d))
    if _RE_DIGITS.match(s):
        if len(s) == 8:  # yyyymmdd
            return _make_date(_year_to_ce(int(s[:4]), False, pivot_year, force_ce), int(s[4:6]), int(s[6:]))
        if len(s) == 4 and 2400 < int(s) < 2700:  # a lone BE year
            return _make_date(int(s) - BE_OFFSET, 1, 1)
        if "." in s or len(s) <= 6:
            return excel_serial_to_date(float(s))
    return None


def parse_dates(values: pd.Series, *, pivot_year: int | None = None) -> pd.Series:
    """:func:`parse_date` over a Series, each distinct value parsed once.

    Returns
    -------
    pandas.Series
        ``datetime64[s]`` with ``NaT`` where the value is blank or unreadable.
    """
    def one(v):
        d = parse_date(v, pivot_year=pivot_year)
        return np.datetime64("NaT", "s") if d is None else np.datetime64(d, "s")

    return map_distinct(values, one, dtype="datetime64[s]")


def format_be_date(date, lang: str = "th", *, short: bool = False) -> str:
    """Format a date for display: ``31 มีนาคม 2562`` (Thai, BE) or ``31 March 2019`` (English, CE).

    Parameters
    ----------
    date : date, datetime, pandas.Timestamp or ISO string
    lang : {"th", "en"}
    short : bool
        Abbreviated month: ``31 มี.ค. 2562`` / ``31 Mar 2019``.

    Returns
    -------
    str
        Empty for a missing date.

    Examples
    --------
    >>> format_be_date(dt.date(2019, 3, 31))
    '31 มีนาคม 2562'
    """
    if date is None or (not isinstance(date, str) and pd.isna(date)):
        return ""
    if isinstance(date, str):
        date = dt.date.fromisoformat(date[:10])
    if isinstance(date, np.datetime64):
        date = pd.Timestamp(date)
    if isinstance(date, dt.datetime):
        date = date.date()
    if lang == "en":
        month = EN_MONTHS[date.month - 1]
        return f"{date.day} {month[:3] if short else month} {date.year}"
    if lang != "th":
        raise ValueError(f"lang must be 'th' or 'en', got {lang!r}")
    month = (TH_MONTHS_SHORT if short else TH_MONTHS)[date.month - 1]
    return f"{date.day} {month} {date.year + BE_OFFSET}"


# ---------------------------------------------------------------------------------------------
# codes

_RE_CODE_TEXT = r"^[0-9]+(?:\.0*)?$"


def _code_scalar(value, width: int) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Number):
        f = float(value)
        if not math.isfinite(f) or not f.is_integer() or f < 0:
            return None
        s = str(int(value)) if isinstance(value, (int, np.integer)) else str(int(f))
    elif isinstance(value, str):
        s = to_ascii_digits(value.translate(_SPACE_TABLE).strip())
        if not re.match(_RE_CODE_TEXT, s):
            return None
        s = s.split(".", 1)[0]
    else:
        return None
    return s.zfill(width) if len(s) <= width else None


def normalise_code(values, width: int):
    """Administrative or record codes as zero-padded digit strings.

    Integers and integral floats (``50010621.0`` from Excel) and digit strings (Thai digits,
    surrounding spaces and a trailing ``.0`` allowed) become ``width``-digit strings, padded with
    leading zeros. Anything else (``73??04``, ``5.0E+07``, ``12-34``, negative or fractional
    numbers, longer than ``width``) is invalid: never guessed.

    Parameters
    ----------
    values : pandas.Series or scalar
    width : int
        Digits of the code (2 province, 4 district, 6 tambon, 8 village, 11 house, 13 citizen ID).

    Returns
    -------
    pandas.Series or str or None
        A ``str`` Series with missing values where the input was blank or invalid (or the
        scalar result).

    Examples
    --------
    >>> normalise_code(pd.Series([50010621.0, " 0501 ", "73??04"]), 8).tolist()
    ['50010621', '00000501', nan]
    """
    if not isinstance(values, pd.Series):
        return _code_scalar(values, width)
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
        s = values.astype("str")
        out = s.str.zfill(width).where(s.str.len() <= width)
        return out.where(values >= 0).astype("str")
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        # numbers, or objects of mixed types from a spreadsheet
        return map_distinct(values.astype(object), lambda v: _code_scalar(v, width)).astype("str")
    s = values.astype("str")
    if s.str.contains(_HAS_THAI_DIGIT, regex=True, na=False).any():
        s = s.str.translate(_DIGIT_TABLE)
    s = s.str.strip()
    ok = s.str.match(_RE_CODE_TEXT, na=False)
    s = s.str.replace(r"\.0*$", "", regex=True)
    ok &= s.str.len() <= width
    return s.str.zfill(width).where(ok).astype("str")


# ---------------------------------------------------------------------------------------------
# citizen ID

_ID_WEIGHTS = np.arange(13, 1, -1)


def citizen_id_check_digit(first12: str) -> int:
    """The 13th digit of a Thai citizen ID from its first 12: x = Σ(14−i)·Nᵢ mod 11, N13 = (11 − x) mod 10."""
    if not re.fullmatch(r"[0-9]{12}", first12):
        raise ValueError("the first 12 digits of a citizen ID are needed")
    x = sum((13 - i) * int(c) for i, c in enumerate(first12)) % 11
    return (11 - x) % 10


def citizen_id_valid(value):
    """True when ``value`` is 13 ASCII digits with a correct check digit.

    Parameters
    ----------
    value : str or pandas.Series
        Already-normalised IDs (see :func:`normalise_code`); separators are not removed here.

    Returns
    -------
    bool or pandas.Series of bool
        Missing values are not valid.

    Examples
    --------
    >>> citizen_id_valid("1101700230708")
    True
    """
    if not isinstance(value, pd.Series):
        return isinstance(value, str) and bool(re.fullmatch(r"[0-9]{13}", value)) and citizen_id_check_digit(value[:12]) == int(value[12])
    s = value.astype("str")
    fmt = s.str.fullmatch(r"[0-9]{13}").fillna(False).astype(bool).to_numpy()
    out = np.zeros(len(s), dtype=bool)
    if fmt.any():
        digits = np.frombuffer("".join(s.to_numpy()[fmt]).encode("ascii"), dtype=np.uint8).reshape(-1, 13).astype(np.int64) - 48
        x = (digits[:, :12] @ _ID_WEIGHTS) % 11
        out[fmt] = (11 - x) % 10 == digits[:, 12]
    return pd.Series(out, index=value.index, name=value.name)


# ---------------------------------------------------------------------------------------------
# years

_RE_YEAR4 = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_RE_YEAR2_START = re.compile(r"^(\d{2})(?:[_\-\s.]|$)")


def year_from_text(text: str, *, first: int = 2520, last: int = 2599) -> int | None:
    """The BE survey year named in a folder or file name.

    A 4-digit BE year anywhere, not part of a longer number (``2561/``, ``bmn2561_households``),
    else a 2-digit BE year at the start followed by ``_``, ``-``, ``.``, a space or the end
    (``61_tpmap_village_99`` → 2561). Only years ``first``–``last`` count, so district codes
    such as ``2601`` are not read as years.

    Returns
    -------
    int or None

    Examples
    --------
    >>> year_from_text("bmn2561_households_9901"), year_from_text("61_tpmap"), year_from_text("2561/")
    (2561, 2561, 2561)
    """
    t = to_ascii_digits(str(text)).strip().strip("/\\")
    for m in _RE_YEAR4.finditer(t):
        y = int(m.group(1))
        if first <= y <= last:
            return y
    if m := _RE_YEAR2_START.match(t):
        y = 2500 + int(m.group(1))
        if first <= y <= last:
            return y
    return None


def normalise_year(value) -> int | None:
    """A survey-year cell as a BE year: ``2561``, ``๒๕๖๑``, ``2561.0``, ``61`` (2-digit BE), ``2018`` (CE).

    Returns ``None`` for blank or unreadable values.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Number):
        f = float(value)
        if not math.isfinite(f) or not f.is_integer():
            return None
        s = str(int(f))
    else:
        s = to_ascii_digits(str(value).translate(_SPACE_TABLE)).strip()
        s = _RE_ERA.sub("", s).strip()
        if re.fullmatch(r"\d+\.0*", s):
            s = s.split(".")[0]
    if not re.fullmatch(r"\d{2}|\d{4}", s):
        return None
    y = int(s)
    if len(s) == 2:
        return 2500 + y
    if 2400 < y < 2700:
        return y
    if 1900 <= y <= 2200:
        return y + BE_OFFSET
    return None
