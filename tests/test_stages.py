"""End to end: the four stage notebooks on demo villages, the KM outputs, and the USB-stick check.

Slow: builds a demo workspace (synth → ingest → indicators), runs `run_village` (papermill, four
kernels) for a complete village and for the village with no กชช. 2ค, votes or profile, then opens
the copied report folder in headless Chromium with the network off.
"""
from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import unicodedata
from pathlib import Path

import pytest

from vilwork.indicators import compute_all
from vilwork.ingest import ingest
from vilwork.run import STAGES, run_village
from vilwork.synth import synthesise
from vilwork.workspace import Workspace

pytestmark = pytest.mark.slow

FULL, GAPS = "99010101", "99010203"
OUTPUTS = ["km.pdf", "km.html", "vdr.html", "tdr.html", "slides.html", "map.html", "km-video.mp4"]
SHOTS = Path("/tmp/vilwork-shots")


def strip_marks(s: str) -> str:
    """Thai text without combining marks (pdftotext reorders them; the picture is what counts)."""
    s = s.replace("\u0e33", "\u0e32")  # SARA AM comes out as SARA AA from pdftotext
    return "".join(c for c in unicodedata.normalize("NFC", s) if unicodedata.category(c) != "Mn")


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("stages")).ensure()
    synthesise(ws)
    assert ingest(ws).ok
    compute_all(ws)
    return ws


@pytest.fixture(scope="module")
def full(ws):
    return run_village(ws, FULL)


@pytest.fixture(scope="module")
def gaps(ws):
    return run_village(ws, GAPS)


def test_full_village_has_every_output(full):
    out = full.out_dir
    for name in OUTPUTS:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    cards = sorted((out / "cards").glob("*.png"))
    assert len(cards) >= 3
    from PIL import Image

    assert Image.open(cards[0]).size == (1080, 1080)
    for stage in STAGES:
        nb = json.loads((out / "notebooks" / f"{stage}.ipynb").read_text(encoding="utf-8"))
        errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert errors == [], stage
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert size < 8 * 1024 * 1024, f"village folder is {size / 1e6:.1f} MB"
    # no temporary folders left beside it
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    # the folder follows the umask like any other (not mkdtemp's owner-only 0700)
    from vilwork.run import current_umask

    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~current_umask()


def test_km_pdf_has_every_part_and_the_village_name(full):
    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils not installed")
    text = subprocess.run(["pdftotext", "-layout", str(full.out_dir / "km.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    flat = strip_marks(re.sub(r"\s+", "", text))
    for title in ["ส่วนที่ 1 ข้อมูลทั่วไปของหมู่บ้าน", "ส่วนที่ 2", "ส่วนที่ 3 ภาคผนวก", "ประวัติความเป็นมา",
                  "แผนที่หมู่บ้าน", "ระบบสารสนเทศภูมิศาสตร์", "การเผยแพร่", "ภาพกิจกรรม", "บ้านหนองบัว", FULL]:
        assert strip_marks(title.replace(" ", "")) in flat, title
    info = subprocess.run(["pdfinfo", str(full.out_dir / "km.pdf")], capture_output=True, text=True).stdout
    assert "A4" in info or "595" in info
    assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) > 10


def test_no_personal_data_in_the_report_folder(full, ws):
    """Published files carry no citizen IDs and no names from the survey records."""
    import pandas as pd

    persons = next((ws.raw / "bmn" / "2562").glob("*persons*"))
    raw = pd.read_excel(persons, dtype=str) if persons.suffix == ".xlsx" else pd.read_csv(persons, dtype=str)
    ids = set(raw.iloc[:, [i for i, c in enumerate(raw.columns) if "ประชาชน" in c][0]].dropna())
    names = {n for n in raw[[c for c in raw.columns if c == "ชื่อ"][0]].dropna() if len(n) > 3}
    for p in full.out_dir.rglob("*"):
        if p.suffix in {".html", ".ipynb", ".svg", ".csv"}:
            text = p.read_text(encoding="utf-8", errors="ignore")
            assert not any(i in text for i in list(ids)[:500]), p
            hits = [n for n in list(names)[:300] if n in text]
            assert not hits, (p, hits[:5])


def test_village_with_gaps_still_gets_every_output_with_marked_gaps(gaps):
    out = gaps.out_dir
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    html = (out / "km.html").read_text(encoding="utf-8")
    assert html.count("ยังไม่มีข้อมูล") >= 5  # history, culture, management, … and กชช. 2ค
    assert "กชช. 2ค" in html


@pytest.mark.browser
def test_report_folder_works_offline_from_a_usb_stick(full, tmp_path):
    pw = pytest.importorskip("playwright.sync_api")
    from vilwork.publish.browser import OFFLINE_FLAGS, find_chromium

    try:
        chromium = find_chromium()
    except Exception:
        pytest.skip("headless Chromium not installed")
    stick = tmp_path / "usb" / FULL
    shutil.copytree(full.out_dir, stick)
    from PIL import Image, ImageStat

    failed: list[str] = []
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=[f for f in OFFLINE_FLAGS if f != "--headless"])
        for page_name in ["km.html", "vdr.html", "tdr.html", "slides.html", "map.html"]:
            ctx = b.new_context(offline=True, viewport={"width": 1280, "height": 800})
            page = ctx.new_page()

            def route(r, page_name=page_name):
                if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
                    r.continue_()
                else:
                    failed.append(f"{page_name}: {r.request.url}")
                    r.abort()

            page.route("**/*", route)
            page.on("requestfailed", lambda r, n=page_name: failed.append(f"{n}: {r.url} {r.failure}"))
            page.on("pageerror", lambda e, n=page_name: failed.append(f"{n}: JS error {e}"))
            page.goto((stick / page_name).as_uri(), wait_until="load")
            page.evaluate("document.fonts.ready.then(() => true)")
            if page_name != "map.html":
                if page_name == "slides.html":
                    page.keyboard.press("ArrowRight")
                    page.keyboard.press("ArrowRight")
                    chart = page.locator("section.present .js-plotly-plot")
                else:
                    chart = page.locator(".js-plotly-plot").first
                chart.wait_for(timeout=15000)
                chart.scroll_into_view_if_needed()
                page.wait_for_timeout(400)
                png = tmp_path / f"chart-{page_name}.png"
                chart.screenshot(path=str(png))
                assert ImageStat.Stat(Image.open(png).convert("L")).stddev[0] > 15, f"{page_name}: chart area blank"
            else:
                page.wait_for_selector(".leaflet-interactive", timeout=15000)
            shot = tmp_path / f"{page_name}.png"
            page.screenshot(path=str(shot))
            SHOTS.mkdir(exist_ok=True)
            shutil.copy2(shot, SHOTS / f"stage-{page_name}.png")
            ctx.close()
        b.close()
    assert failed == []
