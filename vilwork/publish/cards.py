"""Social-media cards: 1080×1080 PNGs, one finding each, big Thai text.

Drawn as HTML and photographed by headless Chromium (the process's persistent browser on a
1080×1080 viewport, else ``--screenshot --window-size=1080,1080``: the same picture), so Thai vowels and tone marks stack correctly and lines break between words. (Pillow here has
RAQM and could shape Thai too, but has no Thai line breaking; one renderer for cards, captions
and pages keeps them alike.)
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

from ..log import get_logger
from . import assets as _assets
from .browser import screenshots
from .html import jinja_env
from .model import Card, PublishError, complete_provenance, provenance_line

log = get_logger(__name__)

CARD_SIZE = 1080


def _fonts() -> dict[str, str]:
    return {f"{w}{s}": _assets.font_path(w, s).as_uri() for _f, w, s in _assets.FONT_FACES}


def value_font_px(value: str) -> int:
    """Font size of the big number: as large as fits the 900 px text width."""
    n = len(value or "")
    return 230 if n <= 4 else 180 if n <= 6 else 140 if n <= 8 else 110 if n <= 11 else 84


def card_html(card: Card, *, kicker: str = "", foot: str = "", lang: str = "th") -> str:
    """The HTML page of one card (fonts and CSS by absolute file URIs)."""
    return jinja_env().get_template("card.html.j2").render(
        card=card, kicker=kicker, foot=foot, lang=lang, fonts=_fonts(),
        card_css=(_assets.CSS_DIR / "card.css").as_uri(), value_px=value_font_px(card.value),
    )


def render_cards(cards: Sequence[Card], out_dir: str | os.PathLike, *, provenance: Mapping,
                 lang: str = "th", kicker: str | None = None, prefix: str = "card") -> list[Path]:
    """Write ``out_dir/card-01.png`` … (1080×1080), one per :class:`Card`.

    Parameters
    ----------
    cards : list of Card
    out_dir : path
    provenance : dict
        Printed small at the foot of every card (village, data period, run time, version).
    kicker : str, optional
        Line above the number; default: the provenance's village.
    """
    bad = [type(c).__name__ for c in cards if not isinstance(c, Card)]
    if bad:
        raise PublishError(f"render_cards takes Card objects, got {', '.join(bad)}")
    prov = complete_provenance(provenance)
    foot = provenance_line(prov, lang, short=True)
    if kicker is None:
        kicker = str(prov.get("village", ""))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    with tempfile.TemporaryDirectory(prefix="vilwork-cards-") as tmp:
        for i, c in enumerate(cards, 1):
            page = Path(tmp) / f"{prefix}-{i:02d}.html"
            page.write_text(card_html(c, kicker=kicker, foot=foot, lang=lang), encoding="utf-8")
            jobs.append((page, out_dir / f"{prefix}-{i:02d}.png"))
        paths = screenshots(jobs, CARD_SIZE, CARD_SIZE)
    log.info("wrote %d card(s) into %s", len(paths), out_dir)
    return paths


__all__ = ["render_cards", "card_html"]
