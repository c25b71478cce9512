"""Display helpers for the stage notebooks: each shows one result the way a reader expects.

Notebooks stay thin: a cell calls one ``vilwork`` function and hands the result to one of these.
All text passes through ``html.escape``: names from data files are never trusted as markup.
"""
from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

import pandas as pd

from .i18n import t
from .village import Village


def _display(obj) -> None:
    from IPython.display import display

    display(obj)


def _html(s: str) -> None:
    from IPython.display import HTML

    _display(HTML(s))


def heading(v: Village, stage: int) -> None:
    """The stage heading: village, area, survey year, and the provenance every report states."""
    rows = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th><td>{html.escape(str(val))}</td></tr>"
                   for k, val in v.provenance_items())
    _html(f"<h2>{html.escape(v.title)}</h2><p>{html.escape(v.location)}</p><table>{rows}</table>")


def text(s: str) -> None:
    """One paragraph of plain text."""
    _html(f"<p style='font-size:1.1em'>{html.escape(str(s))}</p>")


def bullets(items: Iterable[str]) -> None:
    """A bulleted list of plain-text items."""
    _html("<ul>" + "".join(f"<li>{html.escape(str(i))}</li>" for i in items) + "</ul>")


def result(obj) -> None:
    """Show a frame, a figure, a (frame, figure) pair, or a note, whatever a function returned."""
    if isinstance(obj, tuple):
        for part in obj:
            result(part)
    elif isinstance(obj, str):
        text(obj)
    elif obj is None:
        return
    else:
        _display(obj)


def figures(figs: Mapping) -> None:
    """Show several figures; a value may be a figure or a (figure, takeaway) pair."""
    for value in figs.values():
        if isinstance(value, tuple):
            fig, takeaway = value[0], value[1]
            _display(fig)
            if takeaway:
                text(takeaway)
        else:
            _display(value)


def profile_fields(profile, fields: list[str], lang: str = "th") -> None:
    """Show the named fields of a village profile; a missing one as a visible, marked gap."""
    parts = []
    for f in fields:
        val = profile.get(f)
        label = getattr(val, "label", None) or f
        if getattr(val, "missing", False) or val is None:
            hint = getattr(val, "hint", "")
            parts.append(f"<div style='border:2px dashed #c0392b;padding:.5em;margin:.4em 0;color:#8e1b10'>"
                         f"⚠ {html.escape(t('gap', lang))}: <b>{html.escape(str(getattr(val, 'label_th' if lang == 'th' else 'label_en', f)))}</b>"
                         f" — {html.escape(str(hint))}</div>")
            continue
        title = html.escape(str(getattr(profile, "label_of", lambda x, l: x)(f, lang)))
        if isinstance(val, (list, tuple)):
            body = "<ul>" + "".join(f"<li>{html.escape(str(x))}</li>" for x in val) + "</ul>"
        else:
            body = f"<p>{html.escape(str(val))}</p>"
        parts.append(f"<h4>{title or html.escape(label)}</h4>{body}")
    _html("".join(parts))


def village_map(v: Village):
    """The village map (boundary and important places) inline in the notebook."""
    from .build import village_geo
    from .publish.maps import build_map

    boundary, places = village_geo(v)
    m = build_map(boundary, places, title=v.title, lang=v.lang)
    _display(m)


def outline(doc) -> pd.DataFrame:
    """The sections of a document as a table: number, title, blocks, gaps."""
    from .publish import model

    rows = []
    for s in doc.sections:
        gaps = sum(isinstance(b, model.Gap) for b in s.blocks)
        rows.append({"section": s.id, "title": s.title, "blocks": len(s.blocks), "gaps": gaps})
    out = pd.DataFrame(rows)
    _display(out)
    return None
