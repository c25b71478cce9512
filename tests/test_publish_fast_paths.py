"""The cheaper rendering paths (docs/scaling.md): one Chromium per process over DevTools with a
fallback to one Chromium per picture, plotly.js kept loaded for chart export, the variable-frame-rate
video, the definition-file cache and the per-village read memo."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from vilwork.publish import browser as B

needs_chromium = pytest.mark.skipif(not Path("/usr/bin/chromium").exists() and not __import__("shutil").which("chromium"),
                                     reason="headless Chromium not installed")


def _page(tmp_path: Path, text: str = "ตัวชี้วัด จปฐ. ที่ทุกคนผ่านเกณฑ์") -> Path:
    p = tmp_path / "page.html"
    p.write_text(f'<!DOCTYPE html><html lang="th"><meta charset="utf-8"><body style="margin:0;background:#0b3d63">'
                 f'<h1 style="color:#fff;font:700 80px Sarabun">{text}</h1></body></html>', encoding="utf-8")
    return p


@needs_chromium
@pytest.mark.browser
def test_persistent_browser_screenshot_is_1080_square(tmp_path):
    from PIL import Image, ImageStat

    b = B.get_browser()
    pid = b.proc.pid
    out = B.screenshots([(_page(tmp_path), tmp_path / "a.png"), (_page(tmp_path, "รายได้"), tmp_path / "b.png")])
    assert [p.name for p in out] == ["a.png", "b.png"]
    for p in out:
        with Image.open(p) as im:
            assert im.size == (1080, 1080)
            assert ImageStat.Stat(im.convert("L")).stddev[0] > 10  # text on the blue page
    assert B.get_browser().proc.pid == pid  # the same browser served both


@needs_chromium
@pytest.mark.browser
def test_fallback_to_one_chromium_per_picture_when_devtools_fails(tmp_path, monkeypatch, caplog):
    from PIL import Image

    calls = []

    def broken(*a, **k):
        calls.append(1)
        raise B.DevToolsError("simulated DevTools failure")

    monkeypatch.setattr(B.DevToolsBrowser, "screenshot", broken)
    monkeypatch.setattr(B, "_failures", 0)
    out = B.screenshots([(_page(tmp_path), tmp_path / "c.png")])
    assert calls == [1]
    with Image.open(out[0]) as im:
        assert im.size == (1080, 1080)
    assert "falling back" in caplog.text


def test_browser_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("VILWORK_BROWSER", "subprocess")
    with pytest.raises(B.DevToolsError):
        B.get_browser()


@needs_chromium
@pytest.mark.browser
def test_chart_export_keeps_plotly_loaded_and_is_vector(monkeypatch):
    import plotly.graph_objects as go

    from vilwork.publish import pdf

    fig = go.Figure(go.Bar(x=[0.2, 0.9], y=["น้ำดื่มสะอาด", "รายได้"], orientation="h"))
    svg = pdf.figure_image(fig, "svg")
    assert svg.lstrip().startswith(b"<svg") and b"<text" in svg and "น้ำดื่มสะอาด".encode() in svg
    png = pdf.figure_image(fig, "png", scale=2)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # kaleido is the fallback: with the persistent browser off the SVG is the same drawing
    monkeypatch.setenv("VILWORK_BROWSER", "subprocess")
    svg2 = pdf.figure_image(fig, "svg")
    norm = lambda s: re.sub(rb'(id|clip|href|class)="[^"]*"|url\(#[^)]*\)', b"", s)  # noqa: E731
    assert norm(svg) == norm(svg2)


def test_video_plan_holds_each_picture_as_one_frame():
    from vilwork.publish import video as V

    plan = V.frame_times([8.2, 4.0])
    k = round(V.FADE * V.FPS)
    assert len(plan) == 2 * (2 * k + 1)
    first = plan[: 2 * k + 1]
    assert [a for _i, a, _t in first][: k + 2] == [j / k for j in range(k)] + [1.0, 1.0]
    assert first[k][2] == pytest.approx(V.FADE)  # held from the end of the fade-in
    assert first[-1][2] == pytest.approx(8.2 - 1 / V.FPS)  # last fade-out frame
    assert plan[2 * k + 1][2] == pytest.approx(8.2) and plan[2 * k + 1][1] == 0.0  # next picture starts black
    with pytest.raises(Exception):
        V.frame_times([0.5])


@needs_chromium
@pytest.mark.browser
def test_video_is_h264_30_to_60_s_with_few_frames(tmp_path):
    from PIL import Image

    from vilwork.publish import video as V

    pics = []
    for i, colour in enumerate(["#0b3d63", "#7a1f1f", "#1f7a3a"]):
        p = tmp_path / f"c{i}.png"
        Image.new("RGB", (1080, 1080), colour).save(p)
        pics.append(p)
    out = V.render_video(pics, ["น้ำดื่มสะอาด", "", "รายได้"], tmp_path / "v.mp4", 10.0)
    info = subprocess.run([V.ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info).groups()
    assert 30 <= int(h) * 3600 + int(m) * 60 + float(s) <= 60
    assert re.search(r"Video: h264.*yuv420p.*1080x1080", info)
    count = subprocess.run([V.ffmpeg_exe(), "-hide_banner", "-i", str(out), "-map", "0:v", "-f", "null", "-"],
                           capture_output=True, text=True).stderr
    frames = int(re.findall(r"frame=\s*(\d+)", count)[-1])
    assert frames == 3 * (2 * round(V.FADE * V.FPS) + 1)  # not 30 s × 25 fps
    mid = tmp_path / "mid.png"
    subprocess.run([V.ffmpeg_exe(), "-loglevel", "error", "-y", "-ss", "15", "-i", str(out), "-frames:v", "1", str(mid)],
                   check=True)
    with Image.open(mid) as im:
        r, g, b = im.convert("RGB").getpixel((540, 100))
    assert r > g and r > b  # the second picture (red) is shown at 15 s


def test_yaml_cache_returns_unmutated_data(monkeypatch, tmp_path):
    import shutil

    from vilwork import registry

    areas = registry.issue_areas()
    areas[0]["key"] = "changed"
    areas.append({"key": "extra"})
    again = registry.issue_areas()
    assert again[0]["key"] != "changed" and all(a.get("key") != "extra" for a in again)
    # an edited file is read again (cache keyed by modification time and size)
    d = tmp_path / "defs"
    shutil.copytree(registry.definitions_dir(), d)
    monkeypatch.setenv("VILWORK_DEFINITIONS", str(d))
    assert registry.capital_kinds() == registry.capital_kinds()
    (d / "capital.yaml").write_text("kinds:\n  - {key: only}\n", encoding="utf-8")
    assert registry.capital_kinds() == [{"key": "only"}]


def test_village_read_is_memoised_and_copies(tmp_path, monkeypatch):
    import pandas as pd

    from vilwork import village as vmod
    from vilwork.village import Village
    from vilwork.workspace import Workspace

    ws = Workspace(tmp_path)
    ws.processed.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"code": ["99010101", "99010102"], "x": [1, 2]}).to_parquet(ws.processed / "t.parquet")
    v = Village(ws, "99010101", 2562)
    connects = []
    real = vmod.cursor
    monkeypatch.setattr(vmod, "cursor", lambda *a, **k: connects.append(1) or real(*a, **k))
    a = v.read("t.parquet", "code = ?", ["99010101"])
    a.loc[0, "x"] = 99
    b = v.read("t.parquet", "code = ?", ["99010101"])
    assert len(connects) == 1 and b["x"].tolist() == [1]
    assert v.read("t.parquet").shape == (2, 2) and len(connects) == 2
    assert v.read("missing.parquet").empty


def test_village_once_computes_once_and_hands_out_copies(tmp_path):
    import pandas as pd
    import plotly.graph_objects as go

    from vilwork.village import Village
    from vilwork.workspace import Workspace

    v = Village(Workspace(tmp_path), "99010101", 2562)
    calls = []

    def facts(village, n=1):
        calls.append(n)
        return {"n": n, "nested": {"k": [1, 2]}}, pd.DataFrame({"a": [n]}), go.Figure()

    a, df, fig = v.once(facts)
    a["nested"]["k"].append(3)
    df.loc[0, "a"] = 99
    b, df2, fig2 = v.once(facts)
    assert calls == [1]
    assert b == {"n": 1, "nested": {"k": [1, 2]}} and df2["a"].tolist() == [1]
    assert fig2 is fig  # figures are not copied (renderers style a copy)
    v.once(facts, 2)
    assert calls == [1, 2]
    v.once(lambda village, x: calls.append("u"), [1])  # unhashable argument: computed, not kept
    v.once(lambda village, x: calls.append("u"), [1])
    assert calls.count("u") == 2
    assert Village(Workspace(tmp_path), "99010101", 2562).once(facts)[0]["n"] == 1 and calls[-1] == 1  # per Village


def _figures():
    import plotly.graph_objects as go

    from vilwork import charts

    yield charts.hbar(["น้ำดื่มสะอาด", "รายได้"], [0.4, 0.9], title="ตัวชี้วัด", text=["40%", "90%"])
    f = go.Figure(go.Bar(x=["ก", "ข"], y=[1, 2], name="หมู่บ้าน"))
    f.add_trace(go.Scatter(x=["ก", "ข"], y=[2, 1], name="ตำบล"))
    f.update_layout(title="กราฟ", annotations=[{"text": "หมายเหตุ", "x": 0, "y": 1, "showarrow": False}])
    yield f
    yield go.Figure(go.Pie(labels=["ก", "ข"], values=[3, 4]))


@pytest.mark.parametrize("kw", [{}, {"width": 760}, {"width": 760, "height": 300}, {"width": 1180, "height": 400, "font_size": 22}])
def test_style_figure_dict_is_style_figure_without_validation(kw):
    import json

    import plotly.io as pio

    from vilwork.publish.html import style_figure, style_figure_dict

    for fig in _figures():
        before = pio.to_json(fig, validate=False)
        fast = style_figure_dict(fig, **kw)
        slow = style_figure(fig, **kw)
        assert json.loads(pio.to_json(fast, validate=False)) == json.loads(pio.to_json(slow, validate=False))
        assert pio.to_json(fig, validate=False) == before  # the figure given is untouched
        fast["layout"]["template"]["layout"]["font"]["size"] = 99  # the cached template is not shared
        assert style_figure_dict(fig, **kw)["layout"]["template"]["layout"]["font"]["size"] == 16


def test_audit_hashes_a_file_once_while_it_is_unchanged(tmp_path, monkeypatch):
    import hashlib
    import os

    from vilwork import audit

    p = tmp_path / "a.js"
    p.write_text("var a = 1;", encoding="utf-8")
    reads = []
    real = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda b=b"": reads.append(1) or real(b))
    d = audit._sha256(p)
    os.link(p, tmp_path / "b.js")  # a hard link (the batch's shared assets) is the same file
    assert audit._sha256(tmp_path / "b.js") == d and len(reads) == 1
    p.write_text("var a = 2;", encoding="utf-8")  # changed: hashed again
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert audit._sha256(p) == real(b"var a = 2;").hexdigest() and len(reads) == 2


@needs_chromium
@pytest.mark.browser
def test_pages_written_into_the_tab_look_as_after_a_navigation(tmp_path):
    from PIL import Image, ImageChops

    from vilwork.publish.cards import card_html
    from vilwork.publish.model import Card

    pages = []
    for i, (head, value) in enumerate([("ตัวชี้วัด จปฐ. ที่ทุกคนผ่านเกณฑ์", "31/38"), ("คนที่ยังขาด 1 มิติ (TPMAP)", "77%")]):
        p = tmp_path / f"card-{i}.html"
        p.write_text(card_html(Card(head, "บ้านโนนไทร", value), kicker="บ้านโนนไทร", foot="vilwork"), encoding="utf-8")
        pages.append(p)
    b = B.get_browser()
    written = []
    real = B.DevToolsBrowser._write_page
    monkey = lambda self, s, url: written.append(url) or real(self, s, url)  # noqa: E731
    B.DevToolsBrowser._write_page = monkey
    try:
        fast = B.screenshots([(p, tmp_path / f"w{i}.png") for i, p in enumerate(pages)])
    finally:
        B.DevToolsBrowser._write_page = real
    assert len(written) == 2
    slow = []
    for i, p in enumerate(pages):
        b._shot_url = None  # force a navigation
        slow.append(b.screenshot(p, tmp_path / f"n{i}.png"))
    quick = B.screenshots([(p, tmp_path / f"q{i}.png") for i, p in enumerate(pages)], fast_png=True)
    for f, s, q in zip(fast, slow, quick):
        with Image.open(f) as a, Image.open(s) as c, Image.open(q) as d:
            assert ImageChops.difference(a.convert("RGB"), c.convert("RGB")).getbbox() is None
            assert ImageChops.difference(d.convert("RGB"), c.convert("RGB")).getbbox() is None  # less compressed, same pixels
