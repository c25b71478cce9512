"""Publishing: turn a document model into offline files for a village folder.

A village folder (``reports/<village_code>/``) holds km.html, km.pdf, vdr.html, slides.html,
map.html, cards/*.png, km-video.mp4 and one shared ``assets/`` folder; it opens from a USB stick
in a village hall with no internet. Model: :mod:`vilwork.publish.model`; renderers: one module
each. Browser assets come from ``python scripts/fetch_assets.py``.
"""
from __future__ import annotations

from .assets import install_assets
from .model import (
    ALLOWED_TRACES,
    AssetsMissingError,
    BrowserMissingError,
    Card,
    Document,
    Figure,
    Gap,
    Image,
    KeyFact,
    KeyFacts,
    MapBlock,
    Paragraph,
    PublishError,
    Section,
    Slide,
    Table,
    UnsupportedTraceError,
    check_figure,
    provenance_items,
    provenance_line,
)


def __getattr__(name: str):
    # renderers import heavy libraries (WeasyPrint, folium, kaleido): load them on first use
    lazy = {
        "render_html": ".html", "render_pdf": ".pdf", "render_slides": ".slides",
        "render_map": ".maps", "render_static_map": ".maps", "save_folium": ".maps",
        "render_cards": ".cards", "render_video": ".video",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ALLOWED_TRACES", "AssetsMissingError", "BrowserMissingError", "Card", "Document", "Figure", "Gap",
    "Image", "KeyFact", "KeyFacts", "MapBlock", "Paragraph", "PublishError", "Section", "Slide", "Table",
    "UnsupportedTraceError", "check_figure", "install_assets", "provenance_items", "provenance_line",
    "render_cards", "render_html", "render_map", "render_pdf", "render_slides", "render_static_map",
    "render_video", "save_folium",
]
