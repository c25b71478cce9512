"""Render a :class:`~vilwork.publish.model.Document` as an A4 PDF with WeasyPrint.

Measured on this machine (Debian 12, WeasyPrint 70, pango 1.50):

* Thai text: whole Sarabun TTFs via ``@font-face`` (woff2 ``unicode-range`` subsets mis-render).
  Pango breaks Thai lines between words by itself (libthai): in a no-space test paragraph every
  line ended on a word boundary, so no zero-width spaces are inserted.
* Charts: vector SVG from plotly by ``Plotly.toImage`` in the persistent headless Chromium of
  :mod:`.browser` (plotly.js loaded once per process), or kaleido 1.x (``BROWSER_PATH``, one sync
  server per process, MathJax off) when that fails; WeasyPrint draws the SVG text with the same Sarabun, marks
  stacked right. PNG at 2× is the fallback when SVG export fails.
* Layout: cover page, table of contents with page numbers (``target-counter``), running header,
  "หน้า N" footer with the provenance on every page, part titles on new pages, table headers
  repeated when a table splits across pages, visible Gap boxes, provenance colophon at the end.
"""
from __future__ import annotations

import base64
import os
import tempfile
import threading
import time
from pathlib import Path

from ..log import get_logger
from . import assets as _assets
from .html import jinja_env, labels, paragraphs, prepare_image, style_figure, style_figure_dict, table_view, toc
from .model import (
    Document,
    Figure,
    Gap,
    Image,
    KeyFacts,
    MapBlock,
    Paragraph,
    PublishError,
    Table,
    provenance_items,
    provenance_line,
)

log = get_logger(__name__)

#: chart size in CSS px for the A4 text width (174 mm); scaled to the page width.
PDF_FIGURE_WIDTH = 760
PDF_FIGURE_HEIGHT = 430

_kaleido_lock = threading.Lock()
_kaleido_started = False


def _start_kaleido() -> None:
    """Start kaleido's sync server once per process (0.2–0.4 s per image afterwards)."""
    global _kaleido_started
    with _kaleido_lock:
        if _kaleido_started:
            return
        from .browser import find_chromium

        os.environ.setdefault("BROWSER_PATH", find_chromium())
        # Chromium measures "Sarabun" with the real font, so SVG text positions match the PDF.
        os.environ.setdefault("FONTCONFIG_FILE", str(_assets.fontconfig_file()))
        import kaleido

        kaleido.start_sync_server(mathjax=False, silence_warnings=True)
        _kaleido_started = True


def figure_image(fig, fmt: str = "svg", width: int = PDF_FIGURE_WIDTH,
                 height: int | None = None, scale: float = 1) -> bytes:
    """Export a plotly figure in the house style as SVG or PNG bytes.

    ``Plotly.toImage`` in the process's persistent Chromium, where plotly.js stays loaded
    (0.07 CPU s a chart); kaleido 1.x, which reloads plotly.js for every figure (0.44 CPU s),
    when that browser is off or fails. Both run the same plotly.js of plotly.py with the same
    options, in the same Chromium with the same fonts.
    """
    from . import browser as _browser

    f = style_figure_dict(fig, width=width, height=height)
    h = f["layout"].get("height") or PDF_FIGURE_HEIGHT
    if _browser.devtools_enabled():
        try:
            import plotly.io as pio

            return _browser.get_browser().plotly_image(pio.to_json(f, validate=False), fmt, width, h, scale)
        except Exception as e:  # noqa: BLE001 - any failure: kaleido below
            _browser.browser_failed(e)
    _start_kaleido()
    import kaleido

    return kaleido.calc_fig_sync(style_figure(fig, width=width, height=height),
                                 opts={"format": fmt, "width": width, "height": h, "scale": scale})


def figure_data_uri(fig, width: int = PDF_FIGURE_WIDTH, height: int | None = None) -> str:
    """A ``data:`` URI of the figure: SVG, or PNG at 2× if the SVG export fails."""
    try:
        svg = figure_image(fig, "svg", width, height)
        if not svg.lstrip().startswith((b"<svg", b"<?xml")):
            raise PublishError("kaleido returned no SVG")
        return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
    except Exception as e:  # noqa: BLE001 - any export failure falls back to PNG
        log.warning("SVG export failed (%s); using PNG at 2x", e)
        png = figure_image(fig, "png", width, height, scale=2)
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _views(doc: Document, tmp: Path) -> list[dict]:
    out = []
    for s in doc.sections:
        views = []
        for b in s.blocks:
            if isinstance(b, Paragraph):
                views.append({"kind": "paragraph", "paras": paragraphs(b.text)})
            elif isinstance(b, Gap):
                views.append({"kind": "gap", "label": b.label, "hint": b.hint})
            elif isinstance(b, Table):
                views.append(table_view(b))
            elif isinstance(b, Figure):
                views.append({"kind": "figure", "src": figure_data_uri(b.fig),
                              "caption": b.caption, "takeaway": b.takeaway})
            elif isinstance(b, Image):
                views.append({"kind": "image", "src": prepare_image(b.path, tmp).as_uri(),
                              "caption": b.caption})
            elif isinstance(b, MapBlock):
                src = None
                if b.static_image_path is not None:
                    src = prepare_image(b.static_image_path, tmp, max_px=2400).as_uri()
                views.append({"kind": "map", "src": src, "caption": b.caption})
            elif isinstance(b, KeyFacts):
                views.append({"kind": "facts", "facts": b.items})
            else:  # pragma: no cover
                raise PublishError(f"cannot render {type(b).__name__}")
        out.append({"id": s.id, "title": s.title, "level": s.level, "blocks": views})
    return out


def render_pdf(doc: Document, path: str | os.PathLike) -> Path:
    """Write ``doc`` as an A4 PDF (Thai, Sarabun, vector charts); return ``path``.

    Logs pages and seconds per page at INFO level (``vilwork.pdf``).
    """
    from weasyprint import HTML

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fonts = {f"{w}{s}": _assets.font_path(w, s).as_uri() for _f, w, s in _assets.FONT_FACES}
    with tempfile.TemporaryDirectory(prefix="vilwork-pdf-") as tmp:
        sections = _views(doc, Path(tmp))
        t_fig = time.perf_counter() - t0
        html = jinja_env().get_template("pdf.html.j2").render(
            doc=doc,
            L=labels(doc.lang),
            fonts=fonts,
            toc=toc(doc),
            sections=sections,
            provenance=provenance_items(doc.provenance, doc.lang),
            footer_line=provenance_line(doc.provenance, doc.lang, short=True),
        )
        document = HTML(string=html, base_url=tmp).render()
        document.write_pdf(path)
    dt = time.perf_counter() - t0
    n = len(document.pages)
    log.info("wrote %s: %d pages in %.2f s (%.2f s/page; charts %.2f s)", path, n, dt, dt / max(n, 1), t_fig)
    return path


__all__ = ["render_pdf", "figure_image", "figure_data_uri"]
