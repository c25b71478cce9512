"""The video's caption frames: Thai captions keep the spaces between their words."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from vilwork.publish import video as V

needs_chromium = pytest.mark.skipif(not Path("/usr/bin/chromium").exists() and not shutil.which("chromium"),
                                     reason="headless Chromium not installed")

CAPTION = "คนในหมู่บ้านที่ยังขาดอย่างน้อย 1 มิติ (TPMAP)"


def _picture(tmp_path: Path) -> Path:
    p = tmp_path / "card.png"
    Image.new("RGB", (1080, 1080), "#0b3d63").save(p)
    return p


def test_caption_words_are_not_flex_items(tmp_path):
    # the caption band is a flex box (centred vertically); words put straight into it become
    # flex items and the spaces between them are dropped: "น้อย1มิติ(TPMAP)"
    from html.parser import HTMLParser

    html = V._frame_html(_picture(tmp_path), CAPTION, "th")

    class Children(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth, self.inside, self.children, self.text = 0, None, [], []

        def handle_starttag(self, tag, attrs):
            if tag == "wbr":
                return
            self.depth += 1
            if ("class", "caption") in attrs:
                self.inside = self.depth
            elif self.inside is not None and self.depth == self.inside + 1:
                self.children.append(tag)

        def handle_endtag(self, tag):
            if self.inside is not None and self.depth == self.inside:
                self.inside = None
            self.depth -= 1

        def handle_data(self, data):
            if self.inside is not None:
                self.text.append(data)

    p = Children()
    p.feed(html)
    assert p.children == ["span"]  # one inline box holds every word
    assert "".join(p.text) == CAPTION


@needs_chromium
@pytest.mark.browser
def test_caption_is_drawn_with_its_spaces(tmp_path):
    from vilwork.publish import browser as B

    page = tmp_path / "frame.html"
    page.write_text(V._frame_html(_picture(tmp_path), CAPTION, "th"), encoding="utf-8")
    b = B.get_browser()
    s = b._tab("shot", 1080, 1080)
    b._navigate(s, page.as_uri())
    b._shot_url = None
    shown = b.evaluate("document.fonts.ready.then(() => document.querySelector('.caption').innerText)", s)
    assert " ".join(shown.split()) == CAPTION  # innerText is the text as laid out
    # a long caption wraps inside the band instead of running off the frame
    page.write_text(V._frame_html(_picture(tmp_path), " ".join([CAPTION] * 3), "th"), encoding="utf-8")
    b._navigate(s, page.as_uri())
    box = b.evaluate("document.fonts.ready.then(() => { const r = document.querySelector('.caption .text')"
                     ".getBoundingClientRect(); return [r.left, r.right, r.height]; })", s)
    assert box[0] >= 0 and box[1] <= 1080 and box[2] > 100
