"""End-to-end: a sample village folder opened from a "USB stick" in Chromium with no network.

Slow and needs headless Chromium (Debian ``chromium``) and the Playwright Python package (its own
browser download is NOT used: ``executable_path`` is the system Chromium). Screenshots are saved
under the test's tmp dir and one of each kind is copied to ``/tmp/vilwork-shots/`` for a look.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

playwright_api = pytest.importorskip("playwright.sync_api")

from vilwork.publish import BrowserMissingError  # noqa: E402
from vilwork.publish.browser import OFFLINE_FLAGS, find_chromium  # noqa: E402

try:
    CHROMIUM = find_chromium()
except BrowserMissingError:  # pragma: no cover - depends on the machine
    pytest.skip("headless Chromium not installed", allow_module_level=True)

SHOTS = Path("/tmp/vilwork-shots")


def keep(png: Path) -> Path:
    """Copy a screenshot to /tmp/vilwork-shots/ for a human look."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy2(png, SHOTS / png.name)
    return png


def pixel_stddev(png: bytes | Path) -> float:
    import io

    from PIL import Image, ImageStat

    im = Image.open(io.BytesIO(png) if isinstance(png, bytes) else png).convert("L")
    return ImageStat.Stat(im).stddev[0]


@pytest.fixture(scope="module")
def usb(tmp_path_factory) -> Path:
    """The sample folder built in one place and copied to a fresh one, as onto a USB stick."""
    from vilwork.publish.sample import build_sample_folder

    built = tmp_path_factory.mktemp("build") / "99010101"
    build_sample_folder(built, pdf=False, cards=False, video=False)
    stick = tmp_path_factory.mktemp("usb") / "99010101"
    shutil.copytree(built, stick)
    shutil.rmtree(built)  # nothing may point back to where it was built
    return stick


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        flags = [f for f in OFFLINE_FLAGS if f != "--headless"]
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        yield b
        b.close()


class Offline:
    """A page with the network off that records every request it could not serve."""

    def __init__(self, browser, width=1200, height=900):
        self.ctx = browser.new_context(offline=True, viewport={"width": width, "height": height})
        self.page = self.ctx.new_page()
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} {r.status}"))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route):
        url = route.request.url
        self.requests.append(url)
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            self.failed.append(f"{url} (network)")
            route.abort()

    def open(self, path: Path, fragment: str = ""):
        self.page.goto(path.as_uri() + fragment, wait_until="load")
        self.page.evaluate("document.fonts.ready.then(() => true)")
        return self.page

    def close(self):
        self.ctx.close()


def test_km_page_offline_charts_drawn(usb, browser, tmp_path):
    o = Offline(browser)
    page = o.open(usb / "km.html")
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=15000)
    charts = page.locator(".js-plotly-plot")
    assert charts.count() >= 2
    assert page.evaluate("document.fonts.check('16px Sarabun')")
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith('"Sarabun"') or \
        page.evaluate("getComputedStyle(document.body).fontFamily").startswith("Sarabun")
    page.wait_for_timeout(500)
    shot = tmp_path / "km-page.png"
    page.screenshot(path=str(shot), full_page=True)
    keep(shot)
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        png = chart.screenshot()
        assert pixel_stddev(png) > 15, f"chart {i} looks blank"
        # bars/pie slices were drawn
        assert chart.locator("g.trace path, g.slice path, g.points path, path.js-line").count() > 0
    chart0 = tmp_path / "km-chart.png"
    charts.nth(1).screenshot(path=str(chart0))
    keep(chart0)
    # the map iframe loaded Leaflet from the same folder
    frame = page.frame_locator("iframe.map-frame")
    frame.locator(".leaflet-interactive").first.wait_for()
    assert frame.locator(".leaflet-interactive").count() >= 2
    iframe = page.locator("iframe.map-frame")
    iframe.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    map_shot = tmp_path / "km-map-iframe.png"
    iframe.screenshot(path=str(map_shot))
    assert pixel_stddev(map_shot) > 5, "map iframe looks blank"
    keep(map_shot)
    # no resource came from anywhere but the folder
    assert o.failed == [], o.failed
    assert o.errors == [], o.errors
    assert all(u.startswith(usb.as_uri()) or u.startswith("data:") for u in o.requests), \
        [u for u in o.requests if not u.startswith(usb.as_uri())]
    o.close()


def test_slides_navigate_offline(usb, browser, tmp_path):
    o = Offline(browser, 1280, 720)
    page = o.open(usb / "slides.html")
    page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=15000)
    assert page.evaluate("Reveal.getIndices().h") == 0
    total = page.evaluate("Reveal.getTotalSlides()")
    assert total == 6  # title + 4 + provenance
    page.keyboard.press("ArrowRight")
    page.wait_for_function("Reveal.getIndices().h === 1")
    present = page.locator(".reveal .slides section.present")
    assert present.get_attribute("data-vw") == "slide-1"
    # body text >= 28 px on the 1280x720 slide, headline larger
    msg_px = float(page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('section.present .message')).fontSize)"))
    head_px = float(page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('section.present h2')).fontSize)"))
    assert msg_px >= 28 and head_px > msg_px
    chart = present.locator(".js-plotly-plot")
    chart.wait_for()
    page.wait_for_timeout(400)
    assert pixel_stddev(chart.screenshot()) > 15
    shot = tmp_path / "slides-chart.png"
    page.screenshot(path=str(shot))
    keep(shot)
    page.keyboard.press("ArrowRight")
    page.wait_for_function("Reveal.getIndices().h === 2")
    facts = tmp_path / "slides-facts.png"
    page.screenshot(path=str(facts))
    keep(facts)
    page.keyboard.press("End")
    page.wait_for_function(f"Reveal.getIndices().h === {total - 1}")
    last = page.locator(".reveal .slides section.present").inner_text()
    assert "ช่วงข้อมูล" in last and "รุ่น vilwork" in last
    assert o.failed == [], o.failed
    assert o.errors == [], o.errors
    o.close()


def test_map_offline_pins_and_popups(usb, browser, tmp_path):
    o = Offline(browser, 1100, 800)
    page = o.open(usb / "map.html")
    page.wait_for_selector(".leaflet-interactive", timeout=15000)
    # one boundary polygon + 5 places
    assert page.locator(".leaflet-interactive").count() == 6
    marker = page.locator("path.leaflet-interactive").nth(1)
    marker.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert re.search(r"[\u0e00-\u0e7f]", popup.inner_text())
    page.wait_for_timeout(400)  # popup fade-in
    shot = tmp_path / "map-page.png"
    page.screenshot(path=str(shot))
    keep(shot)
    assert pixel_stddev(page.locator("#" + page.evaluate(
        "document.querySelector('.folium-map').id")).screenshot()) > 10
    assert o.failed == [], o.failed
    assert o.errors == [], o.errors
    o.close()


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils not installed")
def test_pdf_with_vector_charts_uses_only_sarabun(tmp_path):
    from vilwork.publish.maps import render_static_map
    from vilwork.publish.pdf import render_pdf
    from vilwork.publish.sample import sample_document, sample_geodata, sample_provenance

    static = render_static_map(*sample_geodata(), tmp_path / "map.svg", "แผนที่หมู่บ้าน",
                               provenance=sample_provenance())
    pdf = render_pdf(sample_document(map_image=static), tmp_path / "km.pdf")
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout.splitlines()[2:]
    names = {line.split()[0].split("+")[-1] for line in fonts if line.strip()}
    assert names and all(n.startswith("Sarabun") for n in names), names  # no fallback font, no tofu
    # the chart pages are vector (charts embedded as SVG, not bitmaps)
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True).stdout
    assert len(images.strip().splitlines()) <= 2, images  # header lines only
    for page in (3, 5):
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), str(pdf),
                        str(tmp_path / "km-pdf")], check=True)
    for png in tmp_path.glob("km-pdf-*.png"):
        assert pixel_stddev(png) > 10
        keep(png)


def test_cards_and_video(tmp_path):
    from PIL import Image

    from vilwork.publish.cards import render_cards
    from vilwork.publish.sample import sample_cards, sample_provenance
    from vilwork.publish.video import ffmpeg_exe, render_video

    cards = render_cards(sample_cards(), tmp_path / "cards", provenance=sample_provenance())
    assert len(cards) == 4
    for c in cards:
        with Image.open(c) as im:
            assert im.size == (1080, 1080)
        assert pixel_stddev(c) > 10
    keep(cards[0])
    video = render_video(cards, ["น้ำดื่มสะอาด", "ผู้สูงอายุ", "รายได้", "โครงการ"], tmp_path / "km-video.mp4",
                         provenance=sample_provenance())
    assert video.stat().st_size < 1.5e6
    info = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(video)], capture_output=True, text=True).stderr
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info).groups()
    seconds = int(h) * 3600 + int(m) * 60 + float(s)
    assert 30 <= seconds <= 60
    assert re.search(r"Video: h264.*yuv420p.*1080x1080", info), info
    frame = tmp_path / "video-frame.png"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-ss", "5", "-i", str(video), "-frames:v", "1",
                    str(frame)], check=True)
    assert pixel_stddev(frame) > 10
    keep(frame)
