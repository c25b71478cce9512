"""Text from data files (village, project and place names, profile narrative) is shown as text.

Hostile names are published in a document (HTML and PDF), a map, a slide deck and a card; the
fast tests read the files, the slow ones open them in headless Chromium (no dialog may fire, no
injected element may exist, the text must be visible literally).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from vilwork.publish import model as m

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror="window.__pwned=1;alert(1)">'
HOSTILE = [SCRIPT, IMG, "';alert(1);//`${alert(1)}`"]
PROV = {"village": "99010101", "data_period": "2562", "parameters": {"audience": "public"}}


def _figure():
    import plotly.graph_objects as go

    return go.Figure(go.Bar(x=[3, 5], y=[SCRIPT, IMG], orientation="h", text=[SCRIPT, IMG]),
                     layout={"title": {"text": IMG}})


def _document() -> m.Document:
    return m.Document(
        title=f"รายงาน {SCRIPT}", subtitle=IMG, village_name=IMG, province=SCRIPT, provenance=PROV,
        sections=[m.Section("1", f"ส่วน {SCRIPT}", [
            m.Paragraph(f"ประวัติ {SCRIPT} และ {IMG}"),
            m.Gap(SCRIPT, IMG),
            m.KeyFacts([(SCRIPT, IMG, HOSTILE[2])]),
            m.Table(pd.DataFrame({SCRIPT: [IMG, HOSTILE[2]], "n": [1, 2]}), caption=IMG),
            m.Figure(_figure(), caption=SCRIPT, takeaway=IMG),
        ])],
    )


def _geo():
    import geopandas as gpd
    from shapely.geometry import Point, Polygon

    boundary = gpd.GeoDataFrame({"village_code": ["99010101"], "name_th": [SCRIPT]},
                                geometry=[Polygon([(100.0, 15.0), (100.02, 15.0), (100.02, 15.02), (100.0, 15.02)])],
                                crs=4326)
    places = gpd.GeoDataFrame({"name_th": [SCRIPT, IMG], "kind": [IMG, SCRIPT], "detail_th": [HOSTILE[2], IMG]},
                              geometry=[Point(100.005, 15.005), Point(100.015, 15.015)], crs=4326)
    return boundary, places


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    from vilwork import publish

    out = tmp_path_factory.mktemp("hostile")
    doc = _document()
    publish.render_html(doc, out / "km.html")
    boundary, places = _geo()
    publish.render_map(boundary, places, out / "map.html", title=IMG, provenance=PROV)
    slides = [m.Slide(SCRIPT, IMG, figure=_figure(), takeaway=HOSTILE[2], facts=[(SCRIPT, IMG)])]
    publish.render_slides(slides, out / "slides.html", {"title": SCRIPT, "subtitle": IMG, "village_name": IMG,
                                                         "provenance": PROV})
    return out


def test_html_files_hold_no_live_markup_from_data(published):
    for name in ("km.html", "map.html", "slides.html"):
        html = (published / name).read_text(encoding="utf-8")
        assert "<script>alert(1)</script>" not in html, name
        assert "<img src=x" not in html, name
        assert 'onerror="window' not in html, name  # only ever as &#34;/&quot; or \u0022 escaped text


def test_card_html_escapes(tmp_path):
    from vilwork.publish.cards import card_html

    html = card_html(m.Card(SCRIPT, IMG, SCRIPT), kicker=IMG, foot=SCRIPT)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;" in html




def test_pdf_page_css_strings_cannot_end_the_style_sheet():
    """The running header and footer are CSS strings (``content: "…"``), where HTML escaping does
    not apply: a title or part name with quotes, backslashes or ``</style>`` stays inside them."""
    from vilwork.publish.html import css_string
    from vilwork.publish.pdf import _html

    assert str(css_string('a"b\\c</style>\nd')) == 'a\\22 b\\5c c\\3c /style\\3e \\a d'
    for engine in ("chromium", "weasyprint"):
        html = _html(_document(), [{"id": "1", "title": f"ส่วน {SCRIPT}", "level": 1, "blocks": []}], engine)
        style = html[: html.index("</style>")]
        assert "<script" not in style and "</script" not in style and "<img" not in style
        assert html.count("</style>") == 1 and "<script>alert" not in html


@pytest.mark.slow
def test_pdf_shows_hostile_text_literally(tmp_path):
    from vilwork import publish

    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext not installed")
    pdf = publish.render_pdf(_document(), tmp_path / "km.pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True).stdout.decode()
    flat = " ".join(text.split())
    assert SCRIPT in flat
    assert "onerror=" in flat


# --------------------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def browser():
    api = pytest.importorskip("playwright.sync_api")
    from vilwork.publish import BrowserMissingError
    from vilwork.publish.browser import OFFLINE_FLAGS, find_chromium

    try:
        exe = find_chromium()
    except BrowserMissingError:  # pragma: no cover - depends on the machine
        pytest.skip("headless Chromium not installed")
    with api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=[f for f in OFFLINE_FLAGS if f != "--headless"])
        yield b
        b.close()


def _open(browser, path: Path, hover: str | None = None):
    ctx = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(800)
    return ctx, page, dialogs


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("name", ["km.html", "slides.html"])
def test_pages_show_hostile_text_and_run_none_of_it(published, browser, name):
    ctx, page, dialogs = _open(browser, published / name)
    try:
        if name == "slides.html":
            page.wait_for_selector(".reveal .slides section", timeout=15000)
        else:
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=15000)
        text = page.evaluate("document.body.innerText")
        assert SCRIPT in text and 'onerror="window.__pwned=1;alert(1)">' in text
        assert page.evaluate("window.__pwned === undefined")
        assert page.evaluate("document.querySelectorAll('img[src=\"x\"], img[onerror]').length") == 0
        # chart labels and title are SVG text, drawn literally too
        svg = page.evaluate("Array.from(document.querySelectorAll('.main-svg text')).map(t => t.textContent).join(' ')")
        assert SCRIPT in svg and "<img src=x" in svg
        assert dialogs == []
    finally:
        ctx.close()


@pytest.mark.slow
@pytest.mark.browser
def test_map_popups_and_tooltips_show_hostile_text(published, browser):
    ctx, page, dialogs = _open(browser, published / "map.html")
    try:
        page.wait_for_selector(".leaflet-interactive", timeout=15000)
        assert SCRIPT in page.evaluate("document.body.innerText")  # title and legend
        markers = page.locator("path.leaflet-interactive")
        n = markers.count()
        shown = []
        for i in range(n):
            markers.nth(i).click(force=True)
            page.wait_for_timeout(300)
            pop = page.locator(".leaflet-popup-content")
            if pop.count():
                shown.append(pop.first.inner_text())
        joined = " ".join(shown)
        assert SCRIPT in joined and "<img src=x" in joined, shown
        assert page.evaluate("window.__pwned === undefined")
        assert page.evaluate("document.querySelectorAll('img[src=\"x\"], img[onerror]').length") == 0
        assert dialogs == []
    finally:
        ctx.close()
