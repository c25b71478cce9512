"""Render a :class:`~vilwork.publish.model.Document` as an A4 PDF: Chromium, or WeasyPrint.

Measured on this machine (Debian 12, Chromium 156, WeasyPrint 70, pango 1.50), the 27-page KM
document of a demo village:

* **Chromium** (default): ``Page.printToPDF`` in the process's persistent headless browser
  (:mod:`.browser`), 0.5–0.6 CPU s a print, the browser's CPU included; printed twice, the
  second time with the contents' page numbers, which are read from the first PDF's link
  destinations (pypdf): Chromium has no ``target-counter()``. The running header (the document's
  title; the part's title by a named page per part) and footer (provenance, "หน้า N") are
  ``@page`` margin boxes, which Chromium draws since version 131. Thai line breaking by ICU's
  dictionary, marks placed by HarfBuzz, fonts embedded as subsets; bookmarks from the headings.
* **WeasyPrint** (``VILWORK_PDF=weasyprint``, no browser, or Chromium failed): the same HTML and
  CSS; the contents' numbers by ``target-counter()``. 3.5–4 CPU s for the same document (layout
  2.1: Pango's Thai line breaking, tables' widths; drawing 0.9). Whole Sarabun TTFs via
  ``@font-face`` (woff2 ``unicode-range`` subsets mis-render); Pango breaks Thai lines between
  words (libthai).
* Charts: vector SVG from plotly by ``Plotly.toImage`` in the persistent headless Chromium
  (plotly.js loaded once per process), or kaleido 1.x (``BROWSER_PATH``, one sync server per
  process, MathJax off) when that fails; drawn with the same Sarabun. PNG at 2× is the fallback
  when SVG export fails.
* Layout: cover page, table of contents with page numbers, running header, "หน้า N" footer with
  the provenance on every page, part titles on new pages, table headers repeated when a table
  splits across pages, visible Gap boxes, provenance colophon at the end.
"""
from __future__ import annotations

import base64
import math
import os
import re
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


_SVG_PATTERN = re.compile(r'<pattern id="([^"]+)" width="([0-9.]+)px" height="([0-9.]+)px" '
                          r'patternUnits="userSpaceOnUse" patternTransform="">(.*?)</pattern>', re.S)
_SVG_PATTERN_FILLED = re.compile(r'<path (?=[^>]*class="pattern_filled")[^>]*/>')
_SVG_RECT_PATH = re.compile(r'd="M(-?[0-9.]+),(-?[0-9.]+)V(-?[0-9.]+)H(-?[0-9.]+)V(-?[0-9.]+)Z"')
_SVG_FILL_URL = re.compile(r"fill: url\('#([^']+)'\);")
_SVG_OPACITY = re.compile(r"(?<![-\w])opacity: ([0-9.]+);")


def vector_patterns(svg: str) -> str:
    """plotly's pattern-filled bars (the hatched ``<5`` bands) as clipped vector strokes.

    Chromium's PDF printer draws an SVG ``<pattern>`` fill as a picture of the whole plot area
    at 96 dpi: about 145 kB for each hatched bar, soft on paper. Each rectangular bar filled by a
    plotly pattern (``userSpaceOnUse``, no transform, opaque strokes) becomes its pattern's tiles
    drawn inside a clip path of the bar: the same strokes at the same places, as vectors. Any
    other pattern use is left as it is.
    """
    pats = {}
    for m in _SVG_PATTERN.finditer(svg):
        inner = m.group(4)
        if re.search(r'opacity="(?!1")', inner) or "<image" in inner:
            continue  # overlapping tiles would darken translucent strokes
        pats[m.group(1)] = (float(m.group(2)), float(m.group(3)), inner)
    if not pats:
        return svg
    n = 0

    def repl(m: re.Match) -> str:
        nonlocal n
        el = m.group(0)
        rect, fill = _SVG_RECT_PATH.search(el), _SVG_FILL_URL.search(el)
        if not rect or not fill or fill.group(1) not in pats:
            return el
        w, h, inner = pats[fill.group(1)]
        x0, y0, y1, x1, y2 = (float(v) for v in rect.groups())
        if y2 != y0 or w <= 0 or h <= 0:
            return el
        xs, ys = sorted((x0, x1)), sorted((y0, y1))
        i0, i1 = math.floor(xs[0] / w), math.floor(xs[1] / w)
        j0, j1 = math.floor(ys[0] / h), math.floor(ys[1] / h)
        if (i1 - i0 + 1) * (j1 - j0 + 1) > 4000:
            return el
        n += 1
        cid = f"vw-hatch-{n}"
        op = _SVG_OPACITY.search(el)
        tiles = "".join(f'<g transform="translate({i * w:.3f},{j * h:.3f})">{inner}</g>'
                        for i in range(i0, i1 + 1) for j in range(j0, j1 + 1))
        return (f'<clipPath id="{cid}"><path {rect.group(0)}/></clipPath>'
                f'<g clip-path="url(#{cid})" style="opacity: {op.group(1) if op else 1}">{tiles}</g>')

    return _SVG_PATTERN_FILLED.sub(repl, svg)


def figure_data_uri(fig, width: int = PDF_FIGURE_WIDTH, height: int | None = None) -> str:
    """A ``data:`` URI of the figure: SVG, or PNG at 2× if the SVG export fails."""
    try:
        svg = figure_image(fig, "svg", width, height)
        if not svg.lstrip().startswith((b"<svg", b"<?xml")):
            raise PublishError("kaleido returned no SVG")
        svg = vector_patterns(svg.decode("utf-8")).encode("utf-8")
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


def _parts(sections: list[dict]) -> list[dict]:
    """Sections grouped by part: a level-1 section starts a part (a new page whose running header
    carries the part's title); sections before the first level-1 one form an untitled part."""
    parts: list[dict] = []
    for s in sections:
        if s["level"] == 1 or not parts:
            parts.append({"title": s["title"] if s["level"] == 1 else None, "sections": []})
        parts[-1]["sections"].append(s)
    return parts


#: ``VILWORK_PDF=weasyprint`` makes every PDF with WeasyPrint (the fallback otherwise)
def pdf_engine() -> str:
    """``chromium`` (the process's persistent browser) unless turned off, else ``weasyprint``."""
    from . import browser as _browser

    want = os.environ.get("VILWORK_PDF", "auto").strip().lower()
    if want == "weasyprint" or not _browser.devtools_enabled():
        return "weasyprint"
    return "chromium"


def _html(doc: Document, sections: list[dict], engine: str, toc_pages: dict | None = None) -> str:
    fonts = {f"{w}{s}": _assets.font_path(w, s).as_uri() for _f, w, s in _assets.FONT_FACES}
    return jinja_env().get_template("pdf.html.j2").render(
        doc=doc,
        L=labels(doc.lang),
        fonts=fonts,
        toc=toc(doc),
        toc_pages=toc_pages or {},
        parts=_parts(sections),
        engine=engine,
        provenance=provenance_items(doc.provenance, doc.lang),
        footer_line=provenance_line(doc.provenance, doc.lang, short=True),
    )


def _destination_pages(pdf: bytes) -> tuple[dict[str, int], int]:
    """Page number (1-based) of every named destination (an element id a link points at), and
    the number of pages."""
    import io

    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(pdf))
    out = {}
    for name, dest in reader.named_destinations.items():
        page = reader.get_destination_page_number(dest)
        if page is not None and page >= 0:
            out[str(name).lstrip("/")] = page + 1
    return out, len(reader.pages)


#: fill the table of contents' page numbers (a JSON object id → number) in the open page
_FILL_TOC = ("(() => { const p = %s; for (const e of document.querySelectorAll('nav.toc .pg[data-toc]')) "
             "{ e.textContent = String(p[e.dataset.toc] ?? ''); } return true; })()")


def _render_chromium(doc: Document, sections: list[dict], tmp: Path, path: Path) -> int:
    """Print with the process's persistent Chromium: once with room for the page numbers, then,
    once the pages of the headings are known from the first PDF's link destinations, again with
    the numbers in the table of contents. Returns the number of pages."""
    import json

    from . import browser as _browser

    ids = [t["id"] for t in toc(doc)]
    page = tmp / "pdf.html"
    # first pass: two-digit placeholders keep the contents lines as wide as the final ones
    page.write_text(_html(doc, sections, "chromium", {i: "00" for i in ids}), encoding="utf-8")
    br = _browser.get_browser()
    pdf = br.print_pdf(page)
    for _round in range(3):
        pages, n = _destination_pages(pdf)
        missing = [i for i in ids if i not in pages]
        if missing and len(ids) > 1:
            raise PublishError(f"no page found for the headings {missing[:5]} in Chromium's PDF")
        if len(ids) <= 1:
            break
        pdf = br.print_pdf(None, _FILL_TOC % json.dumps({i: pages[i] for i in ids}))
        pages2, n = _destination_pages(pdf)
        if all(pages2.get(i) == pages[i] for i in ids):
            break  # the numbers moved nothing
    else:
        log.warning("%s: the contents' page numbers still moved after 3 prints", path.name)
    tmp_pdf = path.with_name(path.name + ".part")
    tmp_pdf.write_bytes(pdf)
    tmp_pdf.replace(path)
    return n


def render_pdf(doc: Document, path: str | os.PathLike, engine: str | None = None) -> Path:
    """Write ``doc`` as an A4 PDF (Thai, Sarabun, vector charts); return ``path``.

    ``engine``: ``chromium`` (the persistent headless browser: 0.5–0.6 CPU s for a 27-page KM
    document, against WeasyPrint's 3.5–4), ``weasyprint``, or ``None`` for :func:`pdf_engine`.
    If Chromium fails, WeasyPrint makes the PDF. Logs pages and seconds at INFO level.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    engine = engine or pdf_engine()
    with tempfile.TemporaryDirectory(prefix="vilwork-pdf-") as tmp:
        sections = _views(doc, Path(tmp))
        t_fig = time.perf_counter() - t0
        n = None
        if engine == "chromium":
            try:
                n = _render_chromium(doc, sections, Path(tmp), path)
            except Exception as e:  # noqa: BLE001 - any failure: WeasyPrint below
                from . import browser as _browser

                if isinstance(e, (_browser.DevToolsError, OSError)):  # the browser, not this page
                    _browser.browser_failed(e)
                log.warning("Chromium could not print %s (%s); using WeasyPrint", path.name, e)
                engine = "weasyprint"
        if n is None:
            from weasyprint import HTML

            document = HTML(string=_html(doc, sections, "weasyprint"), base_url=tmp).render()
            document.write_pdf(path)
            n = len(document.pages)
    dt = time.perf_counter() - t0
    log.info("wrote %s with %s: %d pages in %.2f s (%.2f s/page; charts %.2f s)", path, engine, n, dt, dt / max(n, 1), t_fig)
    return path


__all__ = ["render_pdf", "pdf_engine", "vector_patterns", "figure_image", "figure_data_uri"]
