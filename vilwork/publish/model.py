"""The document model the publishers render: documents, sections, blocks, slides, cards.

The model is plain data. Stage notebooks fill it from village data; the renderers in this package
(:func:`~vilwork.publish.html.render_html`, :func:`~vilwork.publish.pdf.render_pdf`,
:func:`~vilwork.publish.slides.render_slides`, …) turn it into offline files. Nothing here reads
or writes files.

Charts are restricted to the trace types of the small plotly.js bundle every page ships
(``plotly.js-basic-dist-min``: ``bar``, ``scatter``, ``pie``), see :data:`ALLOWED_TRACES`; a
:class:`Figure` or :class:`Slide` with another trace type raises :class:`UnsupportedTraceError`
when it is built, not when a village hall opens a blank page.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, Union

import pandas as pd

from ..errors import VilworkError

#: plotly trace types the shipped ``plotly.js-basic-dist-min`` bundle can draw.
ALLOWED_TRACES = frozenset({"bar", "scatter", "pie"})


class PublishError(VilworkError):
    """Raised when a document model cannot be rendered (bad block, missing provenance, …)."""


class AssetsMissingError(PublishError):
    """Raised when the vendored browser assets are missing: run ``python scripts/fetch_assets.py``."""


class BrowserMissingError(PublishError):
    """Raised when no headless Chromium is found (Debian: ``apt-get install chromium``)."""


class UnsupportedTraceError(PublishError):
    """Raised when a figure uses a plotly trace type outside :data:`ALLOWED_TRACES`."""


# --------------------------------------------------------------------------- provenance

#: provenance keys every output states, with their Thai and English labels, in display order.
PROVENANCE_FIELDS: dict[str, tuple[str, str]] = {
    "village": ("หมู่บ้าน", "Village"),
    "data_period": ("ช่วงข้อมูล", "Data period"),
    "parameters": ("พารามิเตอร์", "Parameters"),
    "run_time": ("เวลาที่สร้าง", "Generated"),
    "vilwork_version": ("รุ่น vilwork", "vilwork version"),
}
_REQUIRED_PROVENANCE = ("village", "data_period", "parameters")

_TH_MONTHS = ("ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.",
              "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.")


def _format_run_time(value: Any, lang: str) -> str:
    if isinstance(value, dt.datetime):
        if lang == "th":
            return f"{value.day} {_TH_MONTHS[value.month - 1]} {value.year + 543} {value:%H:%M} น."
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _format_parameters(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "—"
    return str(value)


def complete_provenance(provenance: Mapping[str, Any]) -> dict:
    """A copy of ``provenance`` with ``run_time`` (now) and ``vilwork_version`` filled in."""
    from .. import __version__

    out = dict(provenance or {})
    out.setdefault("run_time", dt.datetime.now().replace(microsecond=0))
    out.setdefault("vilwork_version", __version__)
    return out


def provenance_items(provenance: Mapping[str, Any], lang: str = "th") -> list[tuple[str, str]]:
    """(label, text) pairs to print in a footer or colophon, in a fixed order.

    ``provenance`` must have ``village``, ``data_period`` and ``parameters``; ``run_time``
    defaults to now and ``vilwork_version`` to the installed version. Other keys are printed
    after these with their own names.

    Raises
    ------
    PublishError
        Naming every missing key at once.
    """
    missing = [k for k in _REQUIRED_PROVENANCE if provenance.get(k) in (None, "")]
    if missing:
        raise PublishError(
            "provenance is missing " + ", ".join(missing)
            + " (every output states village, data period, parameters, run time, vilwork version)"
        )
    values = complete_provenance(provenance)
    idx = 0 if lang == "th" else 1
    out = []
    for key, labels in PROVENANCE_FIELDS.items():
        v = values.pop(key)
        if key == "run_time":
            text = _format_run_time(v, lang)
        elif key == "parameters":
            text = _format_parameters(v)
        else:
            text = str(v)
        out.append((labels[idx], text))
    out.extend((str(k), _format_parameters(v)) for k, v in values.items())
    return out


def provenance_line(provenance: Mapping[str, Any], lang: str = "th", short: bool = False) -> str:
    """The provenance as one line (``label: value · label: value``) for footers and cards.

    ``short`` leaves out the parameters (page footers; the colophon has them all).
    """
    items = provenance_items(provenance, lang)
    if short:
        skip = PROVENANCE_FIELDS["parameters"][0 if lang == "th" else 1]
        items = [(k, v) for k, v in items if k != skip]
    return " · ".join(f"{k}: {v}" for k, v in items)


# --------------------------------------------------------------------------- blocks


def check_figure(fig: Any) -> Any:
    """Return ``fig`` when every trace type is in :data:`ALLOWED_TRACES`, else raise.

    Raises
    ------
    UnsupportedTraceError
        Naming the trace types the shipped plotly.js bundle cannot draw.
    PublishError
        When ``fig`` is not a plotly figure.
    """
    data = getattr(fig, "data", None)
    if data is None or not hasattr(fig, "to_plotly_json"):
        raise PublishError(f"expected a plotly.graph_objects.Figure, got {type(fig).__name__}")
    bad = sorted({t.type for t in data if t.type not in ALLOWED_TRACES})
    if bad:
        raise UnsupportedTraceError(
            f"trace type(s) {', '.join(bad)} are not in the offline plotly.js bundle "
            f"(plotly.js-basic-dist-min draws only {', '.join(sorted(ALLOWED_TRACES))}); "
            "draw the chart as bar/scatter/pie (px.line with many points: render_mode='svg')"
        )
    return fig


@dataclass
class Paragraph:
    """Narrative text (plain text; blank lines start new paragraphs)."""

    text: str


@dataclass
class Gap:
    """Narrative the village has not written yet: a visible warning box, never invented text.

    Parameters
    ----------
    label : str
        What is missing, e.g. ``"ประวัติหมู่บ้าน"``.
    hint : str
        Where to fill it in, e.g. ``"กรอกใน profile.yaml หัวข้อ history"``.
    """

    label: str
    hint: str = ""


@dataclass
class Table:
    """A data table.

    Parameters
    ----------
    df : pandas.DataFrame
        Rendered as is (no index); column names are the headers.
    caption : str
    number_format : str or dict, optional
        A ``str.format`` spec for every numeric column (``"{:,.1f}"``) or a dict column -> spec.
        Default: integers ``1,234``, other numbers ``1,234.5``; missing values ``–``.
    thai_digits : bool
        Write numbers in Thai digits (๑,๒๓๔).
    """

    df: pd.DataFrame
    caption: str = ""
    number_format: Union[str, Mapping[str, str], None] = None
    thai_digits: bool = False

    def __post_init__(self):
        if not isinstance(self.df, pd.DataFrame):
            raise PublishError(f"Table.df must be a pandas DataFrame, got {type(self.df).__name__}")


@dataclass
class Figure:
    """A plotly chart with a caption and a one-line takeaway (what the chart says)."""

    fig: Any
    caption: str = ""
    takeaway: str = ""

    def __post_init__(self):
        check_figure(self.fig)


@dataclass
class Image:
    """A picture file (activity photo, diagram)."""

    path: Union[str, os.PathLike]
    caption: str = ""

    def __post_init__(self):
        self.path = Path(self.path)


@dataclass
class MapBlock:
    """A village map: an interactive HTML map for pages, a static picture for the PDF.

    Parameters
    ----------
    html_path : path, optional
        A map written by :func:`~vilwork.publish.maps.render_map` (shown in an ``<iframe>``).
    static_image_path : path, optional
        PNG or SVG from :func:`~vilwork.publish.maps.render_static_map` (used by the PDF and as
        the page's fallback).
    caption : str
    folium_map : folium.Map, optional
        Instead of ``html_path``: a map object, saved next to the page with local assets.
    """

    html_path: Union[str, os.PathLike, None] = None
    static_image_path: Union[str, os.PathLike, None] = None
    caption: str = ""
    folium_map: Any = None

    def __post_init__(self):
        if self.html_path is None and self.folium_map is None and self.static_image_path is None:
            raise PublishError("MapBlock needs html_path, folium_map or static_image_path")
        self.html_path = Path(self.html_path) if self.html_path is not None else None
        self.static_image_path = (
            Path(self.static_image_path) if self.static_image_path is not None else None
        )


@dataclass
class KeyFact:
    """One big number: ``value`` (already formatted) with its ``label`` and an optional note."""

    label: str
    value: str
    note: str = ""


def _key_facts(items: Iterable[Any]) -> list[KeyFact]:
    out = []
    for it in items:
        if isinstance(it, KeyFact):
            out.append(it)
        elif isinstance(it, Mapping):
            out.append(KeyFact(str(it["label"]), str(it["value"]), str(it.get("note", ""))))
        elif isinstance(it, (tuple, list)) and len(it) in (2, 3):
            out.append(KeyFact(*(str(x) for x in it)))
        else:
            raise PublishError(f"key fact {it!r}: give (label, value[, note]), a dict or a KeyFact")
    return out


@dataclass
class KeyFacts:
    """A row of big numbers. ``items``: KeyFact, ``(label, value[, note])`` or dicts."""

    items: Sequence[Any]

    def __post_init__(self):
        self.items = _key_facts(self.items)


Block = Union[Paragraph, Gap, Table, Figure, Image, MapBlock, KeyFacts]
_BLOCK_TYPES = (Paragraph, Gap, Table, Figure, Image, MapBlock, KeyFacts)
_SECTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass
class Section:
    """A titled part of a document. ``level`` 1 = part (ส่วนที่ 1), 2 = sub-section (2.1)."""

    id: str
    title: str
    blocks: list = field(default_factory=list)
    level: int = 1

    def __post_init__(self):
        if not _SECTION_ID.fullmatch(str(self.id)):
            raise PublishError(
                f"section id {self.id!r}: use letters, digits, '.', '_' or '-' (it becomes a link target)"
            )
        bad = [type(b).__name__ for b in self.blocks if not isinstance(b, _BLOCK_TYPES)]
        if bad:
            raise PublishError(f"section {self.id!r}: unknown block type(s) {', '.join(bad)}")
        if self.level not in (1, 2, 3):
            raise PublishError(f"section {self.id!r}: level must be 1, 2 or 3, not {self.level}")


@dataclass
class Document:
    """A report: KM lesson-learned document, Village or Tambon Development Report.

    Parameters
    ----------
    title, subtitle : str
    lang : str
        ``"th"`` (default) or ``"en"``: labels the renderers add (contents, page, gap, …).
    village_code : str
        8 digits.
    provenance : dict
        ``village``, ``data_period``, ``parameters`` (required), ``run_time``,
        ``vilwork_version`` (filled in when absent); printed on every output.
    sections : list of Section
    village_name, province : str
        For the cover page.
    date_be : str
        The document date as the caller wants it printed (e.g. ``"31 พฤษภาคม 2562"``).
    """

    title: str
    subtitle: str = ""
    lang: str = "th"
    village_code: str = ""
    provenance: dict = field(default_factory=dict)
    sections: list = field(default_factory=list)
    village_name: str = ""
    province: str = ""
    date_be: str = ""

    def __post_init__(self):
        if self.lang not in ("th", "en"):
            raise PublishError(f"lang must be 'th' or 'en', not {self.lang!r}")
        ids = [s.id for s in self.sections]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise PublishError(f"duplicate section id(s): {', '.join(dup)}")
        provenance_items(self.provenance, self.lang)  # fail early, all missing keys at once
        self.provenance = complete_provenance(self.provenance)  # one run time for every output

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]


# --------------------------------------------------------------------------- slides and cards


@dataclass
class Slide:
    """One forum slide with one message.

    Parameters
    ----------
    title : str
        Short headline.
    message : str
        The one thing the slide says (one or two lines).
    figure : plotly Figure, optional
    takeaway : str, optional
        One line under the chart.
    facts : list, optional
        Big numbers, as for :class:`KeyFacts`.
    """

    title: str
    message: str = ""
    figure: Any = None
    takeaway: str = ""
    facts: Sequence[Any] | None = None

    def __post_init__(self):
        if self.figure is not None:
            check_figure(self.figure)
        self.facts = _key_facts(self.facts or [])


@dataclass
class Card:
    """A 1080×1080 social-media card: one finding.

    ``value`` is the big number (formatted text, e.g. ``"92%"``), ``headline`` what it is,
    ``detail`` one supporting line.
    """

    headline: str
    detail: str = ""
    value: str = ""


__all__ = [
    "ALLOWED_TRACES",
    "AssetsMissingError",
    "BrowserMissingError",
    "Card",
    "Document",
    "Figure",
    "Gap",
    "Image",
    "KeyFact",
    "KeyFacts",
    "MapBlock",
    "Paragraph",
    "PublishError",
    "Section",
    "Slide",
    "Table",
    "UnsupportedTraceError",
    "check_figure",
    "complete_provenance",
    "provenance_items",
    "provenance_line",
]
