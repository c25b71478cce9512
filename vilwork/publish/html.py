"""Render a :class:`~vilwork.publish.model.Document` as an offline HTML page (km.html, vdr.html).

The page references the folder's shared ``assets/`` (fonts, CSS, ``plotly-basic.min.js``) and no
URL on the internet. Every text from data (village names, narrative, table cells, captions) is
escaped by Jinja2's autoescape; plotly figure JSON is escaped by plotly (``<`` as ``\\u003c``).

This module also holds the helpers the other renderers share: the Jinja2 environment, the Thai
labels, number formatting and the house chart style.
"""
from __future__ import annotations

import copy
import hashlib
import math
import numbers
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import jinja2
from markupsafe import Markup

from ..log import get_logger
from . import assets as _assets
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
    check_figure,
    provenance_items,
)

log = get_logger(__name__)

TEMPLATES = Path(__file__).parent / "templates"

#: labels the renderers add, per language.
LABELS: dict[str, dict[str, str]] = {
    "th": {
        "toc": "สารบัญ", "gap": "ยังไม่มีข้อมูล", "page": "หน้า", "provenance": "ที่มาของข้อมูลในเอกสารนี้",
        "open_map": "เปิดแผนที่เต็มจอ", "village": "หมู่บ้าน", "province": "จังหวัด",
        "made_with": "จัดทำด้วย vilwork", "map_missing": "ยังไม่มีภาพแผนที่สำหรับพิมพ์",
        "map_missing_hint": "สร้างด้วย render_static_map แล้วใส่ใน MapBlock.static_image_path",
        "thanks": "ขอบคุณ", "source": "ที่มา",
    },
    "en": {
        "toc": "Contents", "gap": "Not written yet", "page": "Page", "provenance": "Provenance",
        "open_map": "Open the map full screen", "village": "Village", "province": "Province",
        "made_with": "Made with vilwork", "map_missing": "No printable map picture yet",
        "map_missing_hint": "make one with render_static_map and set MapBlock.static_image_path",
        "thanks": "Thank you", "source": "Source",
    },
}

_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
FONT_STACK = "Sarabun, Laksaman, Garuda, Tahoma, sans-serif"
COLORWAY = ["#1f6f9f", "#e08a00", "#2a9d5b", "#c0392b", "#7d5ba6", "#5d6d7e", "#b5651d", "#17becf"]


# --------------------------------------------------------------------------- shared helpers


_THAI_CHAR = re.compile(r"[\u0e00-\u0e7f]")


def thai_wrap(text: Any) -> Markup:
    """Escape ``text`` and let it break only between Thai words (pythainlp ``newmm``).

    Browsers break Thai with their own dictionary and split compounds such as ผู้|สูงอายุ in
    large headlines; here each word is kept whole (``white-space: nowrap``) with ``<wbr>``
    between words. Used for headlines, slide messages, cards and video captions.
    """
    from markupsafe import escape

    s = "" if text is None else str(text)
    if not _THAI_CHAR.search(s):
        return escape(s)
    from pythainlp.tokenize import word_tokenize

    out = []
    for tok in word_tokenize(s, engine="newmm", keep_whitespace=True):
        if tok.isspace():
            out.append(escape(tok))
        else:
            out.append(Markup('<span class="w">%s</span><wbr>') % tok)
    return Markup("").join(out)


@lru_cache(maxsize=1)
def jinja_env() -> jinja2.Environment:
    """The template environment: autoescape ON for every template and string.

    One per process: a template is compiled once (a new environment compiled it again for every
    card, frame and page: 75 compilations, 0.5 CPU s a village) and recompiled when its file
    changes (``auto_reload``). Templates and filters hold no state between renders.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thwrap"] = thai_wrap
    env.filters["css_string"] = css_string
    return env


def css_string(value: Any) -> str:
    """``value`` for the inside of a double-quoted CSS string (``content: "…"``): backslash,
    quote and line breaks escaped as CSS escapes, ``<`` too so that no ``</style>`` can end the
    style sheet (the template's autoescape does not apply inside CSS)."""
    out = []
    for ch in str(value):
        if ch in '\\"<>&' or ord(ch) < 0x20:  # line breaks too
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return Markup("".join(out))


def labels(lang: str) -> dict[str, str]:
    return LABELS.get(lang, LABELS["th"])


def format_number(value: Any, spec: str | None = None, thai_digits: bool = False) -> str:
    """Format a number for a Thai reader: thousands separators, ``–`` for missing.

    Integers (and floats with no fraction) as ``1,234``; other floats with one decimal
    ``1,234.5`` unless ``spec`` (a ``str.format`` spec such as ``"{:,.2f}"``) says otherwise.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return "–"
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return str(value)
    if spec:
        text = spec.format(value)
    elif isinstance(value, numbers.Integral) or float(value).is_integer():
        text = f"{int(value):,}"
    else:
        text = f"{float(value):,.1f}"
    return text.translate(_THAI_DIGITS) if thai_digits else text


def _house_template():
    import plotly.graph_objects as go

    axis = dict(gridcolor="#e3e8ee", linecolor="#8c959f", zerolinecolor="#8c959f",
                title=dict(font=dict(size=15)), automargin=True,
                autotypenumbers="strict")  # "2561" stays a label, not 2,561
    return go.layout.Template(
        layout=dict(
            font=dict(family=FONT_STACK, size=16, color="#1b1b1b"),
            colorway=COLORWAY,
            paper_bgcolor="#ffffff",
            plot_bgcolor="#ffffff",
            title=dict(x=0, xanchor="left", font=dict(size=20, color="#0b3d63")),
            xaxis=axis,
            yaxis=axis,
            legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
            margin=dict(l=60, r=24, t=70, b=60),
            hoverlabel=dict(font=dict(family=FONT_STACK, size=15)),
            separators=".,",
        )
    )


def style_figure(fig: Any, *, width: int | None = None, height: int | None = None,
                 font_size: int | None = None):
    """A copy of ``fig`` in the house style (Sarabun, high-contrast colours); ``fig`` is untouched."""
    import plotly.graph_objects as go

    check_figure(fig)
    out = go.Figure(fig)
    out.update_layout(template=_house_template())
    if width is not None:
        out.update_layout(width=width)
    if height is not None:
        out.update_layout(height=height)
    elif out.layout.height is None:
        out.update_layout(height=440)
    if font_size is not None:
        out.update_layout(font_size=font_size)
    return out


@lru_cache(maxsize=1)
def _house_template_dict() -> dict:
    return _house_template().to_plotly_json()


def _merge(into: dict, update: Mapping) -> None:
    """Merge ``update`` into ``into`` as plotly's ``update`` does for nested properties."""
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        elif isinstance(v, Mapping):
            into[k] = copy.deepcopy(dict(v))
        else:
            into[k] = copy.deepcopy(v)


def _drop_empty(x):
    """Without empty objects (``title: {}``), as plotly's copy of a figure has them."""
    if isinstance(x, dict):
        out = {}
        for k, v in x.items():
            v = _drop_empty(v)
            if not (isinstance(v, dict) and not v):
                out[k] = v
        return out
    if isinstance(x, list) and x and isinstance(x[0], dict):
        return [_drop_empty(v) for v in x]
    return x


def style_figure_dict(fig: Any, *, width: int | None = None, height: int | None = None,
                      font_size: int | None = None) -> dict:
    """:func:`style_figure` as a plain figure dict, without plotly's validation.

    The same JSON as ``style_figure(fig).to_plotly_json()`` (tests check it), for about a tenth
    of the CPU: the figure is already valid, and the house template was validated once. A figure
    without a template (plotly adds the default one when it copies such a figure) takes
    :func:`style_figure`.
    """
    check_figure(fig)
    if getattr(fig, "layout", None) is None or fig.layout.template is None or not hasattr(fig, "to_dict"):
        return style_figure(fig, width=width, height=height, font_size=font_size).to_plotly_json()
    d = _drop_empty(fig.to_dict())  # a deep copy: ``fig`` is untouched
    layout = d.setdefault("layout", {})
    layout["template"] = copy.deepcopy(_house_template_dict())  # replaces, as update_layout(template=) does
    if width is not None:
        layout["width"] = width
    if height is not None:
        layout["height"] = height
    elif layout.get("height") is None:
        layout["height"] = 440
    if font_size is not None:
        _merge(layout, {"font": {"size": font_size}})
    return d


def figure_div(fig: Any, div_id: str, *, responsive: bool = True, modebar: bool = True,
               **style) -> Markup:
    """plotly figure -> ``<div>`` + ``<script>`` that needs ``Plotly`` loaded by the page."""
    import plotly.io as pio

    f = style_figure_dict(fig, **style)
    html = pio.to_html(
        f,
        validate=False,
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": responsive, "displayModeBar": "hover" if modebar else False,
                "modeBarButtonsToRemove": ["toImage", "sendDataToCloud"]},
    )
    return Markup(html)  # plotly writes the data as JSON with <, >, & escaped


def prepare_image(src: str | os.PathLike, out_dir: str | os.PathLike, max_px: int = 1600) -> Path:
    """Copy a picture into ``out_dir`` (downscaled to ``max_px``, photos as JPEG); return the copy.

    Photos straight from a phone are 3–8 MB; the whole village folder has an 8 MB budget.
    """
    from PIL import Image as PILImage, ImageOps

    src = Path(src)
    if not src.is_file():
        raise PublishError(f"image {src} does not exist")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    st = src.stat()
    key = hashlib.sha1(f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}|{max_px}".encode()).hexdigest()[:10]
    if src.suffix.lower() == ".svg":
        dst = out_dir / f"{_safe_stem(src)}-{key}.svg"
        if not dst.exists():
            dst.write_bytes(src.read_bytes())
        return dst
    with PILImage.open(src) as im:
        im = ImageOps.exif_transpose(im)
        photo = im.mode not in ("P", "LA", "RGBA", "1") and src.suffix.lower() in (".jpg", ".jpeg")
        dst = out_dir / f"{_safe_stem(src)}-{key}.{'jpg' if photo else 'png'}"
        if dst.exists():
            return dst
        im.thumbnail((max_px, max_px))
        if photo:
            im.convert("RGB").save(dst, "JPEG", quality=80, optimize=True, progressive=True)
        else:
            im.save(dst, "PNG", optimize=True)
    return dst


def _safe_stem(p: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", p.stem)[:40] or "img"


def _rel_url(target: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(Path(target).resolve(), page_dir.resolve())).as_posix()


def table_view(t: Table) -> dict:
    """Header and cell texts of a :class:`Table`, numbers formatted, numeric columns flagged."""
    import pandas as pd

    df = t.df
    cols = [str(c) for c in df.columns]
    numeric = []
    for c in df.columns:
        s = df[c]
        numeric.append(bool(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)))
    specs: list[str | None] = []
    for c in df.columns:
        if isinstance(t.number_format, Mapping):
            specs.append(t.number_format.get(c) or t.number_format.get(str(c)))
        else:
            specs.append(t.number_format)
    rows = []
    for rec in df.itertuples(index=False, name=None):
        row = []
        for v, is_num, spec in zip(rec, numeric, specs):
            if is_num:
                row.append((format_number(v, spec, t.thai_digits), True))
            else:
                row.append(("–" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v), False))
        rows.append(row)
    return {"kind": "table", "caption": t.caption, "columns": list(zip(cols, numeric)), "rows": rows}


def paragraphs(text: str) -> list[str]:
    """Split narrative on blank lines; single line breaks become spaces."""
    return [re.sub(r"\s*\n\s*", " ", p).strip() for p in re.split(r"\n\s*\n", str(text)) if p.strip()]


def toc(doc: Document) -> list[dict]:
    return [{"id": s.id, "title": s.title, "level": s.level} for s in doc.sections]


# --------------------------------------------------------------------------- HTML page


def _block_views(doc: Document, page_dir: Path, assets_url: str) -> list[dict]:
    sections = []
    media = page_dir / "media"
    n_fig = 0
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
                n_fig += 1
                views.append({"kind": "figure", "html": figure_div(b.fig, f"fig-{n_fig}"),
                              "caption": b.caption, "takeaway": b.takeaway})
            elif isinstance(b, Image):
                img = prepare_image(b.path, media)
                views.append({"kind": "image", "src": _rel_url(img, page_dir), "caption": b.caption})
            elif isinstance(b, MapBlock):
                views.append(_map_view(b, page_dir, media, assets_url, s.id))
            elif isinstance(b, KeyFacts):
                views.append({"kind": "facts", "facts": b.items})
            else:  # pragma: no cover - Section validates block types
                raise PublishError(f"cannot render {type(b).__name__}")
        sections.append({"id": s.id, "title": s.title, "level": s.level, "blocks": views})
    return sections


def _map_view(b: MapBlock, page_dir: Path, media: Path, assets_url: str, sid: str) -> dict:
    html_src = None
    if b.folium_map is not None:
        from .maps import save_folium

        out = page_dir / f"map-{sid}.html"
        save_folium(b.folium_map, out, assets_rel=assets_url)
        html_src = _rel_url(out, page_dir)
    elif b.html_path is not None:
        if not b.html_path.is_file():
            raise PublishError(f"map page {b.html_path} does not exist")
        html_src = _rel_url(b.html_path, page_dir)
    static = None
    if b.static_image_path is not None:
        static = _rel_url(prepare_image(b.static_image_path, media), page_dir)
    return {"kind": "map", "html_src": html_src, "static": static, "caption": b.caption}


def render_html(doc: Document, path: str | os.PathLike, assets_rel: str = "assets") -> Path:
    """Write ``doc`` as an offline HTML page; install the shared assets next to it once.

    Parameters
    ----------
    doc : Document
    path : path
        The page to write, e.g. ``reports/99010101/km.html``.
    assets_rel : str
        The assets folder relative to the page (default ``assets``, installed if missing).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    assets_url = _assets.page_assets(path, assets_rel)
    page_dir = path.resolve().parent
    tpl = jinja_env().get_template("page.html.j2")
    html = tpl.render(
        doc=doc,
        L=labels(doc.lang),
        assets=assets_url,
        plotly_js=f"{assets_url}/{_assets.PLOTLY_JS}",
        toc=toc(doc),
        sections=_block_views(doc, page_dir, assets_url),
        provenance=provenance_items(doc.provenance, doc.lang),
        has_figures=bool(doc.figures()),
    )
    path.write_text(html, encoding="utf-8")
    log.info("wrote %s", path)
    return path


__all__ = ["render_html", "format_number", "style_figure", "style_figure_dict", "figure_div", "prepare_image", "LABELS"]
