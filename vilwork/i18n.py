"""User-facing words in Thai (default) and English, read from ``definitions/labels.yaml``.

Numbers and dates are formatted here too, so every output writes them the same way.
"""
from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache

import yaml

from .errors import DefinitionError
from .registry import definitions_dir

LANGS = ("th", "en")

_TH_MONTHS = [
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
]


@lru_cache(maxsize=None)
def _labels() -> dict:
    with open(definitions_dir() / "labels.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is ``th`` or ``en``, else raise :class:`DefinitionError`."""
    if lang not in LANGS:
        raise DefinitionError(f"language {lang!r} is not supported (use th or en)")
    return lang


def t(key: str, lang: str = "th", **fmt) -> str:
    """The label ``key`` in ``lang``, formatted with ``fmt``.

    A missing key is a :class:`DefinitionError`: a silent fallback would put English into Thai
    outputs unnoticed.
    """
    entry = _labels().get(key)
    if entry is None:
        raise DefinitionError(f"label {key!r} is not in labels.yaml")
    text = entry.get(check_lang(lang)) or entry["th"]
    return text.format(**fmt) if fmt else text


def be_year(year_ce: int) -> int:
    """Buddhist-era year of a CE year."""
    return int(year_ce) + 543


def format_date(d: dt.date | dt.datetime, lang: str = "th") -> str:
    """A date as a reader expects it: ``23 พฤศจิกายน 2569`` (BE) or ``23 November 2026``."""
    if lang == "en":
        return f"{d.day} {d.strftime('%B')} {d.year}"
    return f"{d.day} {_TH_MONTHS[d.month - 1]} {be_year(d.year)}"


def format_datetime(d: dt.datetime, lang: str = "th") -> str:
    """Date and time, BE in Thai (``23 พฤศจิกายน 2569 เวลา 18:42 น.``)."""
    if lang == "en":
        return f"{format_date(d, lang)} {d:%H:%M}"
    return f"{format_date(d, lang)} เวลา {d:%H:%M} น."


def format_int(n) -> str:
    """An integer with thousands separators; blank for missing."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "–"
    return f"{int(round(float(n))):,}"


def format_pct(x, digits: int = 1) -> str:
    """A share 0–1 as a percentage (``87.5%``); a dash for missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    try:
        import pandas as pd

        if pd.isna(x):
            return "–"
    except (TypeError, ValueError):
        pass
    return f"{100 * float(x):.{digits}f}%"


def format_baht(x, lang: str = "th") -> str:
    """Money in baht (``38,000 บาท``)."""
    return f"{format_int(x)} {'baht' if lang == 'en' else 'บาท'}"
