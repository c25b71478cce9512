"""Render forum slides as an offline reveal.js deck (``slides.html``).

Made for a projector in a village hall: one message per slide, Sarabun, dark text on white,
body text 34 px and headlines 56 px on a 1280×720 slide (reveal.js scales the whole slide to the
screen), key numbers 96 px, one-line takeaway under each chart, keyboard navigation (arrows,
space, Esc for the overview), provenance on the last slide. reveal.js and plotly.js come from the
folder's ``assets/``; nothing is loaded from the internet.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..log import get_logger
from . import assets as _assets
from .html import figure_div, jinja_env, labels
from .model import Document, PublishError, Slide, complete_provenance, provenance_items, provenance_line

log = get_logger(__name__)

SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720
CHART_WIDTH, CHART_HEIGHT = 1180, 400
CHART_FONT = 22


def _meta(doc_meta: Any) -> dict:
    if isinstance(doc_meta, Document):
        m = {k: getattr(doc_meta, k) for k in ("title", "subtitle", "village_name", "province",
                                                 "date_be", "lang", "provenance")}
    elif isinstance(doc_meta, Mapping):
        m = dict(doc_meta)
    else:
        raise PublishError("doc_meta must be a Document or a dict with title and provenance")
    if not m.get("title"):
        raise PublishError("doc_meta needs a title (the first slide)")
    m.setdefault("lang", "th")
    for k in ("subtitle", "village_name", "province", "date_be"):
        m[k] = m.get(k) or ""
    m["provenance"] = complete_provenance(m.get("provenance") or {})
    return m


def render_slides(slides: Sequence[Slide], path: str | os.PathLike, doc_meta: Any,
                  assets_rel: str = "assets") -> Path:
    """Write a reveal.js deck: a title slide, ``slides``, and a provenance slide.

    Parameters
    ----------
    slides : list of Slide
    path : path
        e.g. ``reports/99010101/slides.html``; the shared ``assets/`` is installed next to it.
    doc_meta : Document or dict
        ``title`` (required), ``subtitle``, ``village_name``, ``province``, ``date_be``,
        ``lang`` and ``provenance`` (village, data_period, parameters, …).
    """
    bad = [type(s).__name__ for s in slides if not isinstance(s, Slide)]
    if bad:
        raise PublishError(f"render_slides takes Slide objects, got {', '.join(bad)}")
    meta = _meta(doc_meta)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    a = _assets.page_assets(path, assets_rel)
    views = []
    for i, s in enumerate(slides, 1):
        chart = None
        if s.figure is not None:
            chart = figure_div(s.figure, f"slide-fig-{i}", responsive=False, modebar=False, width=CHART_WIDTH,
                               height=CHART_HEIGHT, font_size=CHART_FONT)
        views.append({"title": s.title, "message": s.message, "chart": chart, "takeaway": s.takeaway,
                      "facts": s.facts})
    html = jinja_env().get_template("slides.html.j2").render(
        meta=meta,
        L=labels(meta["lang"]),
        assets=a,
        reveal_js=f"{a}/{_assets.REVEAL_JS}",
        reveal_css=f"{a}/{_assets.REVEAL_CSS}",
        plotly_js=f"{a}/{_assets.PLOTLY_JS}",
        has_charts=any(v["chart"] is not None for v in views),
        slides=views,
        provenance=provenance_items(meta["provenance"], meta["lang"]),
        foot=provenance_line(meta["provenance"], meta["lang"], short=True),
        width=SLIDE_WIDTH,
        height=SLIDE_HEIGHT,
    )
    path.write_text(html, encoding="utf-8")
    log.info("wrote %s (%d slides + title + provenance)", path, len(views))
    return path


__all__ = ["render_slides"]
