"""Fast tests of vilwork.publish: model checks, escaping, offline references, assets, PDF text.

Needs the vendored browser assets (``python scripts/fetch_assets.py``) and, for the PDF test,
poppler-utils (``pdftotext``, ``pdfinfo``). No browser: charts are not exported here (see
test_publish_browser.py).
"""
from __future__ import annotations

import re
import shutil
import subprocess

import pandas as pd
import plotly.graph_objects as go
import pytest

from vilwork.publish import (
    AssetsMissingError,
    Document,
    Figure,
    Gap,
    KeyFacts,
    Paragraph,
    PublishError,
    Section,
    Slide,
    Table,
    UnsupportedTraceError,
    install_assets,
    render_html,
    render_slides,
)
from vilwork.publish.html import format_number
from vilwork.publish.video import plan_seconds

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '<img src=x onerror="alert(2)">'
PROV = {"village": "บ้านทดสอบ (99010101)", "data_period": "จปฐ. 2562", "parameters": {"unit": "household"}}

# a resource the page would load: src=/href= attributes and CSS url(); links in text are fine
RESOURCE_URL = re.compile(r"""(?:\b(?:src|href)\s*=\s*["']?\s*|url\(\s*["']?\s*)(?:https?:)?//""", re.I)


def resource_urls(text: str) -> list[str]:
    return [text[m.start(): m.end() + 40] for m in RESOURCE_URL.finditer(text)]


def bar(title="ร้อยละ"):
    fig = go.Figure(go.Bar(x=["ก", "ข"], y=[1, 2]))
    fig.update_layout(title=title)
    return fig


def small_doc(village=XSS_SCRIPT, **kw) -> Document:
    df = pd.DataFrame({"ชื่อ": [XSS_IMG, "ครัวเรือน"], "จำนวน": [1234567, 89], "ร้อยละ": [12.345, None]})
    return Document(
        title="องค์ความรู้ หมู่บ้าน " + village,
        subtitle="ทดสอบ",
        village_code="99010101",
        provenance=dict(PROV, village=village),
        village_name=village,
        province="ทดสอบ",
        date_be="31 พฤษภาคม 2562",
        sections=[
            Section("part1", "ส่วนที่ 1 ข้อมูลทั่วไปของหมู่บ้าน", [
                Gap("ประวัติหมู่บ้าน", "กรอกใน profile.yaml หัวข้อ history"),
                Paragraph("ย่อหน้าแรก " + XSS_IMG + "\n\nย่อหน้าที่สอง"),
                KeyFacts([("ครัวเรือน", "142")]),
            ]),
            Section("part2", "ส่วนที่ 2 การพัฒนาหมู่บ้านเป็นหมู่บ้านสารสนเทศ", [
                Table(df, caption="ตาราง " + XSS_SCRIPT),
                *kw.get("extra", []),
            ]),
            Section("part3", "ส่วนที่ 3 ภาคผนวก", [Paragraph("ภาพกิจกรรม")]),
        ],
    )


# --------------------------------------------------------------------------- model


def test_provenance_missing_keys_are_reported_together():
    with pytest.raises(PublishError) as e:
        Document(title="t", provenance={"village": "x"})
    assert "data_period" in str(e.value) and "parameters" in str(e.value)


def test_document_fills_run_time_and_version_once():
    d = Document(title="t", provenance=PROV)
    assert "run_time" in d.provenance and "vilwork_version" in d.provenance


def test_figure_outside_basic_bundle_fails_loudly():
    with pytest.raises(UnsupportedTraceError, match="heatmap"):
        Figure(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))
    with pytest.raises(UnsupportedTraceError):
        Slide("x", figure=go.Figure(go.Scattergl(x=[1], y=[1])))
    Figure(go.Figure([go.Bar(x=[1], y=[1]), go.Scatter(x=[1], y=[1]), go.Pie(values=[1])]))


def test_section_id_must_be_a_link_target():
    with pytest.raises(PublishError):
        Section("part 1", "x")


def test_format_number_thai_reader():
    assert format_number(1234567) == "1,234,567"
    assert format_number(1234.56) == "1,234.6"
    assert format_number(2.0) == "2"
    assert format_number(float("nan")) == "–"
    assert format_number(None) == "–"
    assert format_number(0.1234, "{:,.2f}") == "0.12"
    assert format_number(1234, thai_digits=True) == "๑,๒๓๔"


def test_video_length_is_kept_within_30_to_60_seconds():
    assert plan_seconds(4, None, closing=True) == pytest.approx((45 - 4) / 4)
    assert plan_seconds(5, 8, closing=False) == 8
    with pytest.raises(PublishError, match="30–60"):
        plan_seconds(20, 5, closing=False)
    with pytest.raises(PublishError):
        plan_seconds(2, 5, closing=False)


# --------------------------------------------------------------------------- HTML


def test_html_escapes_text_from_data(tmp_path):
    doc = small_doc(extra=[Figure(bar("</script><script>alert(3)</script>"), caption=XSS_IMG,
                                  takeaway=XSS_SCRIPT)])
    html = render_html(doc, tmp_path / "km.html").read_text(encoding="utf-8")
    assert XSS_SCRIPT not in html
    assert "<img src=x" not in html
    assert "alert(3)</script>" not in html and "<script>alert(3)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html
    # the only scripts are plotly's loader and its newPlot call
    assert html.count("<script") == 2


def test_table_numbers_formatted_and_right_aligned(tmp_path):
    html = render_html(small_doc(), tmp_path / "km.html").read_text(encoding="utf-8")
    assert '<td class="num">1,234,567</td>' in html
    assert '<td class="num">12.3</td>' in html
    assert '<td class="num">–</td>' in html


def test_gap_is_a_visible_marked_box(tmp_path):
    html = render_html(small_doc(), tmp_path / "km.html").read_text(encoding="utf-8")
    m = re.search(r'<div class="gap".*?</div>', html, re.S)
    assert m, "no gap box"
    box = m.group(0)
    assert "ยังไม่มีข้อมูล: ประวัติหมู่บ้าน" in box
    assert "กรอกใน profile.yaml หัวข้อ history" in box
    css = (tmp_path / "assets" / "vilwork.css").read_text(encoding="utf-8")
    assert re.search(r"\.gap\s*\{[^}]*border:[^}]*dashed", css)


def test_provenance_on_every_output(tmp_path):
    doc = small_doc(village="บ้านหนองบัว")
    km = render_html(doc, tmp_path / "km.html").read_text(encoding="utf-8")
    sl = render_slides([Slide("หัวข้อ", "ข้อความ")], tmp_path / "slides.html", doc).read_text(encoding="utf-8")
    for page in (km, sl):
        for label in ("หมู่บ้าน", "ช่วงข้อมูล", "พารามิเตอร์", "เวลาที่สร้าง", "รุ่น vilwork"):
            assert label in page
        assert "จปฐ. 2562" in page and "unit=household" in page


def test_slides_are_local_and_escaped(tmp_path):
    doc = small_doc()
    slides = [Slide(XSS_SCRIPT, "ข้อความ " + XSS_IMG, figure=bar(), takeaway="สรุป"),
              Slide("ตัวเลข", facts=[("ครัวเรือน", "142")])]
    html = render_slides(slides, tmp_path / "slides.html", doc).read_text(encoding="utf-8")
    assert XSS_SCRIPT not in html and "<img src=x" not in html
    assert 'src="assets/reveal/reveal.js"' in html and 'src="assets/plotly-basic.min.js"' in html
    assert html.count("<section") == len(slides) + 2  # title + slides + provenance
    assert resource_urls(html) == []


def test_map_is_offline_and_escaped(tmp_path):
    from vilwork.publish.maps import render_map
    from vilwork.publish.sample import sample_geodata

    boundary, places = sample_geodata()
    places.loc[0, "name_th"] = XSS_IMG + "`${alert(4)}`"
    places.loc[1, "detail_th"] = XSS_SCRIPT
    html = render_map(boundary, places, tmp_path / "map.html", "แผนที่ " + XSS_SCRIPT,
                      provenance=PROV).read_text(encoding="utf-8")
    assert resource_urls(html) == []
    assert "cdn." not in html and "jquery" not in html.lower()
    assert 'src="assets/leaflet/leaflet.js"' in html
    assert XSS_SCRIPT not in html and "<img src=x" not in html and "${alert(4)}" not in html
    assert html.count("circleMarker(") == len(places)
    assert "บ้านทดสอบ" in html  # provenance in the legend


def test_save_folium_refuses_what_needs_the_internet(tmp_path):
    import folium

    from vilwork.publish.maps import save_folium

    m = folium.Map()  # OpenStreetMap tiles by default
    with pytest.raises(PublishError, match="tile"):
        save_folium(m, tmp_path / "m.html")
    m = folium.Map(tiles=None)
    folium.Marker([16, 102], popup="x").add_to(m)
    with pytest.raises(PublishError, match="Popup"):
        save_folium(m, tmp_path / "m.html")


def test_no_internet_resource_in_any_generated_file(tmp_path):
    from vilwork.publish.maps import render_map
    from vilwork.publish.sample import sample_geodata

    doc = small_doc(extra=[Figure(bar()), Figure(bar())])
    render_html(doc, tmp_path / "km.html")
    render_slides([Slide("ก", figure=bar())], tmp_path / "slides.html", doc)
    render_map(*sample_geodata(), tmp_path / "map.html", "แผนที่", provenance=PROV)
    checked = 0
    for p in list(tmp_path.glob("*.html")) + list((tmp_path / "assets").rglob("*.css")):
        assert resource_urls(p.read_text(encoding="utf-8")) == [], p
        checked += 1
    assert checked >= 3 + 5


def test_assets_copied_once_and_referenced_relatively(tmp_path):
    doc = small_doc(extra=[Figure(bar())])
    render_html(doc, tmp_path / "km.html")
    js = tmp_path / "assets" / "plotly-basic.min.js"
    first = js.stat().st_mtime_ns
    render_html(doc, tmp_path / "vdr.html")
    render_slides([Slide("ก", figure=bar())], tmp_path / "slides.html", doc)
    assert js.stat().st_mtime_ns == first, "assets were copied again"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["assets"]
    for name in ("km.html", "vdr.html", "slides.html"):
        html = (tmp_path / name).read_text(encoding="utf-8")
        assert 'href="assets/fonts.css"' in html
        assert "file:" not in html and str(tmp_path) not in html
    fonts = sorted(p.name for p in (tmp_path / "assets" / "fonts").glob("*.ttf"))
    assert fonts == ["Sarabun-Bold.ttf", "Sarabun-Italic.ttf", "Sarabun-Regular.ttf"]
    css = (tmp_path / "assets" / "fonts.css").read_text(encoding="utf-8")
    assert 'url("fonts/Sarabun-Regular.ttf")' in css and ".woff" not in css
    # a changed file is refreshed, an unchanged one is not touched
    (tmp_path / "assets" / "vilwork.css").write_text("/* stale */", encoding="utf-8")
    install_assets(tmp_path)
    assert "stale" not in (tmp_path / "assets" / "vilwork.css").read_text(encoding="utf-8")
    assert js.stat().st_mtime_ns == first


def test_missing_vendor_files_name_the_script(tmp_path, monkeypatch):
    monkeypatch.setenv("VILWORK_VENDOR", str(tmp_path / "empty"))
    with pytest.raises(AssetsMissingError, match="scripts/fetch_assets.py"):
        install_assets(tmp_path / "out")


# --------------------------------------------------------------------------- PDF

_MARKS = re.compile(r"[\s\u0e31\u0e34-\u0e3a\u0e47-\u0e4e]")


def skeleton(text: str) -> str:
    """Thai text without spaces and above/below marks (pdftotext reorders marks at line ends)."""
    return _MARKS.sub("", text.replace("\u0e33", "\u0e32"))


def _chromium_or_skip(engine: str) -> str:
    if engine == "chromium":
        from vilwork.publish.browser import find_chromium

        try:
            find_chromium()
        except Exception as e:  # noqa: BLE001
            pytest.skip(f"no Chromium: {e}")
    return engine


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils not installed")
@pytest.mark.parametrize("engine", ["chromium", "weasyprint"])
def test_pdf_has_thai_part_titles_toc_numbers_and_pages(tmp_path, engine):
    """Both PDF engines: Chromium (the default, in the process's persistent browser) and
    WeasyPrint (the fallback) give the same parts, contents page numbers, headers and footers."""
    from vilwork.publish.pdf import render_pdf

    big = pd.DataFrame({"ตัวชี้วัด": [f"ตัวชี้วัดที่ {i}" for i in range(80)], "ผ่าน": range(80)})
    doc = small_doc(village="บ้านหนองบัว", extra=[Table(big, caption="ตารางยาว")])
    pdf = render_pdf(doc, tmp_path / "km.pdf", engine=_chromium_or_skip(engine))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages > 1
    texts = [subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), str(pdf), "-"],
                            capture_output=True, text=True).stdout for i in range(1, pages + 1)]
    whole = skeleton("".join(texts))
    for title in ("ส่วนที่ 1 ข้อมูลทั่วไปของหมู่บ้าน", "ส่วนที่ 2 การพัฒนาหมู่บ้านเป็นหมู่บ้านสารสนเทศ",
                  "ส่วนที่ 3 ภาคผนวก", "ยังไม่มีข้อมูล: ประวัติหมู่บ้าน", "บ้านหนองบัว"):
        assert skeleton(title) in whole, title
    # the table of contents gives the page the part starts on
    toc = skeleton(texts[1])
    m = re.search(skeleton("ส่วนที่ 3 ภาคผนวก") + r"\.*(\d+)", toc)
    assert m, toc[:300]
    part3_page = next(i for i, t in enumerate(texts, 1) if i > 2 and skeleton("ภาพกิจกรรม") in skeleton(t))
    assert int(m.group(1)) == part3_page
    # footer page number and provenance on an inner page
    assert skeleton("หน้า 3") in skeleton(texts[2]) and "จปฐ.2562" in skeleton(texts[2])
    # the long table goes over a page break with its header cell repeated on every page
    header = re.compile(skeleton("ตัวชี้วัด") + "(?!" + skeleton("ที่") + ")")
    table_pages = [i for i, t in enumerate(texts, 1) if skeleton("ตัวชี้วัดที่ 40") in skeleton(t)
                   or skeleton("ตัวชี้วัดที่ 79") in skeleton(t) or skeleton("ตัวชี้วัดที่ 0") in skeleton(t)]
    assert len(table_pages) >= 2
    assert all(header.search(skeleton(texts[i - 1])) for i in table_pages), table_pages
    # the running header: the document's title, and the part's title on a page the part does not start on
    assert skeleton(doc.title) in skeleton(texts[table_pages[-1] - 1])
    part2 = skeleton("ส่วนที่ 2 การพัฒนาหมู่บ้านเป็นหมู่บ้านสารสนเทศ")
    part2_first = next(i for i, t in enumerate(texts, 1) if i > 2 and part2 in skeleton(t))
    assert table_pages[-1] > part2_first
    assert part2 in skeleton(texts[table_pages[-1] - 1])
    assert skeleton(doc.title) not in skeleton(texts[0].split("ทดสอบ")[-1])  # no header on the cover


def test_pdf_falls_back_to_weasyprint_when_chromium_cannot_print(tmp_path, monkeypatch, caplog):
    """A print that fails (a page Chromium cannot lay out, a browser that died) still gives a
    PDF, by WeasyPrint; only a browser failure counts against the persistent browser."""
    from vilwork.publish import browser, pdf

    def broken(*a, **k):
        raise PublishError("no page found for the headings ['part1'] in Chromium's PDF")

    monkeypatch.setattr(pdf, "_render_chromium", broken)
    before = browser._failures
    with caplog.at_level("WARNING"):
        out = pdf.render_pdf(small_doc(village="บ้านหนองบัว"), tmp_path / "km.pdf", engine="chromium")
    assert out.read_bytes().startswith(b"%PDF") and "using WeasyPrint" in caplog.text
    assert browser._failures == before
