"""Village maps: an offline interactive map (folium/Leaflet) and a static picture for the PDF.

Offline rules (PLATFORM.md): basemap tiles are never offline, so the map has ``tiles=None`` and
draws the village boundary and the important places as vector layers; Leaflet's JS/CSS come from
the folder's ``assets/leaflet/``. folium's default jQuery, Bootstrap, Font-Awesome and
awesome-markers CDN files are dropped: pins are circle markers, popups and tooltips are bound with
plain Leaflet calls (folium's ``Popup`` needs jQuery). Every text from data is HTML-escaped and
embedded as a JSON string, never pasted into JavaScript source.

The static map is drawn with plotly (scatter traces only, so the basic bundle's rules hold)
and exported by kaleido through Chromium, which shapes Thai labels correctly.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Mapping

from markupsafe import escape

from ..log import get_logger
from . import assets as _assets
from .html import COLORWAY, FONT_STACK
from .model import PublishError, complete_provenance, provenance_line

log = get_logger(__name__)

BOUNDARY_STYLE = {"color": "#0b3d63", "weight": 3, "fillColor": "#1f6f9f", "fillOpacity": 0.08}
MAP_LABELS = {
    "th": {"legend": "สัญลักษณ์", "boundary": "ขอบเขตหมู่บ้าน", "place": "สถานที่"},
    "en": {"legend": "Legend", "boundary": "Village boundary", "place": "Place"},
}
_URL_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(https?:)?//""", re.I)
_URL_CSS = re.compile(r"""url\(\s*["']?\s*(https?:)?//""", re.I)


def _text(value: Any) -> str:
    """HTML-escape text from data; also ``` ` ``` and ``$`` (safe inside JS template literals)."""
    s = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    return str(escape(s)).replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def _js_string(html: str) -> str:
    """A JSON string literal that is safe inside ``<script>``."""
    return (json.dumps(html, ensure_ascii=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _column(df, *names: str):
    for n in names:
        if n in df.columns:
            return df[n]
    return None


def _to_wgs84(gdf, what: str):
    if gdf is None:
        return None
    if not hasattr(gdf, "geometry"):
        raise PublishError(f"{what} must be a GeoDataFrame")
    if gdf.crs is None:
        log.warning("%s has no CRS; assuming longitude/latitude (EPSG:4326)", what)
        return gdf
    return gdf if gdf.crs.to_epsg() == 4326 else gdf.to_crs(4326)


def kind_colors(kinds) -> dict[str, str]:
    """One colour per place kind, in order of first appearance (same on every map)."""
    out: dict[str, str] = {}
    for k in kinds:
        k = "" if k is None else str(k)
        if k not in out:
            out[k] = COLORWAY[len(out) % len(COLORWAY)]
    return out


def _places_table(places):
    """(lon, lat, name, kind, detail) per point place."""
    if places is None or len(places) == 0:
        return []
    names = _column(places, "name_th", "name", "name_en")
    kinds = _column(places, "kind", "type")
    details = _column(places, "detail_th", "detail", "detail_en")
    rows = []
    for i, geom in enumerate(places.geometry):
        if geom is None or geom.is_empty:
            continue
        pt = geom if geom.geom_type == "Point" else geom.representative_point()
        rows.append((pt.x, pt.y,
                     "" if names is None else names.iloc[i],
                     "" if kinds is None else kinds.iloc[i],
                     "" if details is None else details.iloc[i]))
    return rows


# --------------------------------------------------------------------------- folium


def _bind_element(popup_html: str, tooltip_html: str):
    from branca.element import MacroElement
    from jinja2 import Template

    class _Bind(MacroElement):
        _template = Template(
            "{% macro script(this, kwargs) %}"
            "{{ this._parent.get_name() }}.bindPopup({{ this.popup }}, {maxWidth: 320});"
            "{{ this._parent.get_name() }}.bindTooltip({{ this.tooltip }});"
            "{% endmacro %}"
        )

        def __init__(self):
            super().__init__()
            self._name = "VilworkBind"
            self.popup = _js_string(popup_html)
            self.tooltip = _js_string(tooltip_html)

    return _Bind()


def build_map(boundary, places, title: str, lang: str = "th", provenance: Mapping | None = None):
    """A folium map of the village (no tiles, boundary + pins + legend); not yet saved."""
    import folium

    L = MAP_LABELS.get(lang, MAP_LABELS["th"])
    boundary = _to_wgs84(boundary, "boundary")
    places = _to_wgs84(places, "places")
    if boundary is None or len(boundary) == 0:
        raise PublishError("render_map needs a boundary with at least one polygon")
    minx, miny, maxx, maxy = boundary.total_bounds
    rows = _places_table(places)
    for x, y, *_ in rows:
        minx, miny, maxx, maxy = min(minx, x), min(miny, y), max(maxx, x), max(maxy, y)
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=14, tiles=None,
                   control_scale=True, prefer_canvas=False, zoom_snap=0.25)
    # only the geometry goes into the page: boundary files can carry other attributes
    geo = json.loads(boundary.geometry.to_json())
    folium.GeoJson(geo, name=L["boundary"], style_function=lambda _f: dict(BOUNDARY_STYLE)).add_to(m)
    colors = kind_colors(r[3] for r in rows)
    for x, y, name, kind, detail in rows:
        color = colors["" if kind is None else str(kind)]
        mk = folium.CircleMarker(location=[y, x], radius=9, color="#222", weight=2, fill=True,
                                 fill_color=color, fill_opacity=0.95)
        popup = f'<div class="vw-popup"><b>{_text(name)}</b>'
        if kind:
            popup += f"<br>{_text(kind)}"
        if detail:
            popup += f"<br>{_text(detail)}"
        popup += "</div>"
        mk.add_child(_bind_element(popup, _text(name)))
        mk.add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]], padding_top_left=(30, 70), padding_bottom_right=(30, 30))
    legend = [f'<div class="vw-legend"><b>{_text(L["legend"])}</b><br>'
              f'<span class="sw area" style="background:{BOUNDARY_STYLE["fillColor"]}33;'
              f'border-color:{BOUNDARY_STYLE["color"]}"></span>{_text(L["boundary"])}']
    for kind, color in colors.items():
        legend.append(f'<br><span class="sw" style="background:{color}"></span>{_text(kind or L["place"])}')
    if provenance is not None:
        legend.append(f'<div class="prov">{_text(provenance_line(complete_provenance(provenance), lang, short=True))}</div>')
    legend.append("</div>")
    root = m.get_root()
    root.html.add_child(folium.Element(f'<div class="vw-map-title">{_text(title)}</div>'))
    root.html.add_child(folium.Element("".join(legend)))
    root.title = _text(title)  # folium pastes the title unescaped
    return m


_LOCAL_JS = {"leaflet": _assets.LEAFLET_JS}
_LOCAL_CSS = {"leaflet_css": _assets.LEAFLET_CSS}
# folium defaults that a map drawn with vilwork's helpers does not need
_DROPPABLE = {"jquery", "bootstrap", "awesome_markers", "bootstrap_css", "glyphicons_css",
              "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css"}


def _walk(el):
    yield el
    for child in getattr(el, "_children", {}).values():
        yield from _walk(child)


def save_folium(m, path: str | os.PathLike, assets_rel: str = "assets", lang: str = "th") -> Path:
    """Save a folium map with local Leaflet files; refuse anything that would need the internet.

    Raises
    ------
    PublishError
        When the map uses a folium feature whose JS/CSS is not shipped offline (folium ``Popup``
        and ``Icon`` need jQuery/Bootstrap/Font-Awesome; tile layers need the internet).
    """
    import folium

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    a = _assets.page_assets(path, assets_rel)
    problems = []
    for el in _walk(m):
        if isinstance(el, folium.TileLayer):
            problems.append("a tile layer (basemap tiles are never offline: use tiles=None)")
        if isinstance(el, folium.Popup):
            problems.append("folium.Popup (needs jQuery): use vilwork.publish.maps.build_map")
        if isinstance(el, folium.Icon):
            problems.append("folium.Icon (needs Bootstrap/Font-Awesome): use circle markers")
        if isinstance(el, folium.Map):
            el.default_js = [(k, f"{a}/{_LOCAL_JS[k]}") for k, _u in el.default_js if k in _LOCAL_JS]
            el.default_css = [(k, f"{a}/{_LOCAL_CSS[k]}") for k, _u in el.default_css if k in _LOCAL_CSS]
            continue
        for attr in ("default_js", "default_css"):
            for name, url in getattr(el, attr, None) or []:
                if name not in _DROPPABLE and url.startswith(("http:", "https:", "//")):
                    problems.append(f"{type(el).__name__} needs {url}")
    if problems:
        raise PublishError("map cannot work offline: " + "; ".join(sorted(set(problems))))
    root = m.get_root()
    root.header.add_child(folium.Element(
        f'<link rel="stylesheet" href="{escape(a)}/fonts.css"><link rel="stylesheet" href="{escape(a)}/map.css">'
    ), name="vilwork_css")
    html = root.render()
    html = html.replace("<html>", f'<html lang="{escape(lang)}">', 1)
    bad = [mm.group(0) for mm in _URL_ATTR.finditer(html)] + [mm.group(0) for mm in _URL_CSS.finditer(html)]
    if bad:
        raise PublishError(f"map page would load from the internet: {bad[:3]}")
    path.write_text(html, encoding="utf-8")
    return path


def render_map(boundary, places, path: str | os.PathLike, title: str, lang: str = "th", *,
               provenance: Mapping | None = None, assets_rel: str = "assets") -> Path:
    """Write an offline village map page (``map.html``): boundary, pins with popups, legend.

    Parameters
    ----------
    boundary : GeoDataFrame
        Village polygon(s); any CRS (reprojected to EPSG:4326).
    places : GeoDataFrame or None
        Points with ``name_th`` (or ``name``), ``kind``, ``detail_th`` (or ``detail``).
    path : path
    title : str
    lang : "th" or "en"
    provenance : dict, optional
        Printed under the legend (village, data period, run time, vilwork version).
    """
    m = build_map(boundary, places, title, lang, provenance)
    out = save_folium(m, path, assets_rel, lang)
    log.info("wrote %s", out)
    return out


# --------------------------------------------------------------------------- static map


def static_map_figure(boundary, places, title: str, lang: str = "th",
                      provenance: Mapping | None = None):
    """A plotly figure of the map (scatter traces only) with Thai labels."""
    import plotly.graph_objects as go

    L = MAP_LABELS.get(lang, MAP_LABELS["th"])
    boundary = _to_wgs84(boundary, "boundary")
    places = _to_wgs84(places, "places")
    if boundary is None or len(boundary) == 0:
        raise PublishError("render_static_map needs a boundary with at least one polygon")
    fig = go.Figure()
    first = True
    for geom in boundary.geometry:
        if geom is None or geom.is_empty:
            continue
        polys = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
        for poly in polys:
            for i, ring in enumerate([poly.exterior, *poly.interiors]):
                xs, ys = zip(*ring.coords)
                fig.add_trace(go.Scatter(
                    x=list(xs), y=list(ys), mode="lines", fill="toself" if i == 0 else None,
                    fillcolor="rgba(31,111,159,0.10)", line=dict(color="#0b3d63", width=3),
                    name=L["boundary"], legendgroup="boundary", showlegend=first, hoverinfo="skip"))
                first = False
    rows = _places_table(places)
    colors = kind_colors(r[3] for r in rows)
    for kind, color in colors.items():
        sel = [r for r in rows if ("" if r[3] is None else str(r[3])) == kind]
        fig.add_trace(go.Scatter(
            x=[r[0] for r in sel], y=[r[1] for r in sel], mode="markers+text",
            text=[str(r[2]) for r in sel], textposition="top center",
            textfont=dict(size=18, color="#111"),
            marker=dict(size=16, color=color, line=dict(color="#222", width=2)),
            name=kind or L["place"]))
    minx, miny, maxx, maxy = boundary.total_bounds
    lat = (miny + maxy) / 2
    pad_x, pad_y = (maxx - minx) * 0.08 or 0.002, (maxy - miny) * 0.1 or 0.002
    fig.update_layout(
        title=dict(text=str(title)),
        xaxis=dict(visible=False, range=[minx - pad_x, maxx + pad_x]),
        yaxis=dict(visible=False, range=[miny - pad_y, maxy + pad_y], scaleanchor="x",
                   scaleratio=1 / math.cos(math.radians(lat))),
        legend=dict(orientation="v", x=1, xanchor="right", y=0, yanchor="bottom", font=dict(size=17),
                    bgcolor="rgba(255,255,255,0.9)", bordercolor="#8aa", borderwidth=1),
        font=dict(family=FONT_STACK),
        margin=dict(l=20, r=20, t=60, b=40),
        annotations=[dict(text="N ↑", x=0.01, y=0.99, xref="paper", yref="paper", showarrow=False,
                          font=dict(size=18, color="#0b3d63"))],
    )
    if provenance is not None:
        fig.add_annotation(text=_text(provenance_line(complete_provenance(provenance), lang, short=True)),
                           x=0, y=-0.02, xref="paper", yref="paper", xanchor="left", yanchor="top",
                           showarrow=False, font=dict(size=10, color="#555"))
    return fig


def render_static_map(boundary, places, path: str | os.PathLike, title: str, lang: str = "th", *,
                      provenance: Mapping | None = None, width: int = 900, height: int = 760) -> Path:
    """Write the map as SVG (vector, for the PDF) or PNG (2×), chosen by ``path``'s suffix."""
    from .pdf import figure_image

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png"):
        raise PublishError(f"static map must be .svg or .png, not {path.name}")
    fig = static_map_figure(boundary, places, title, lang, provenance)
    data = figure_image(fig, fmt, width=width, height=height, scale=2 if fmt == "png" else 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    log.info("wrote %s", path)
    return path


__all__ = ["build_map", "render_map", "render_static_map", "save_folium", "static_map_figure"]
