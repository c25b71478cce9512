"""A short video (``km-video.mp4``) from the cards, with Thai captions burned in.

Each frame is an HTML page (card picture + caption band) photographed by headless Chromium, so
Thai shapes correctly; the frames are encoded with the ffmpeg binary that PyPI ``imageio-ffmpeg``
ships (H.264, yuv420p, 1080×1080, still-image tuning: a 45 s video is a few hundred kB).
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Mapping, Sequence

from ..log import get_logger
from .browser import screenshots
from .cards import CARD_SIZE, card_html
from .html import jinja_env
from .model import Card, PublishError, complete_provenance, provenance_line

log = get_logger(__name__)

MIN_SECONDS, MAX_SECONDS, TARGET_SECONDS = 30.0, 60.0, 45.0
CLOSING_SECONDS = 4.0
FPS = 25
FADE = 0.4


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped by PyPI ``imageio-ffmpeg``."""
    try:
        import imageio_ffmpeg
    except ImportError as e:  # pragma: no cover - a dependency of vilwork
        raise PublishError("imageio-ffmpeg is not installed: pip install imageio-ffmpeg") from e
    return imageio_ffmpeg.get_ffmpeg_exe()


def _frame_html(image: Path, caption: str, lang: str) -> str:
    from .cards import _fonts
    from . import assets as _assets

    return jinja_env().get_template("card.html.j2").render(
        image=image.resolve().as_uri(), caption=caption, lang=lang, fonts=_fonts(),
        card_css=(_assets.CSS_DIR / "card.css").as_uri(),
    )


def plan_seconds(n_cards: int, seconds_per_card: float | None, closing: bool) -> float:
    """Seconds per card so that the whole video lasts 30–60 s (45 s when not given)."""
    extra = CLOSING_SECONDS if closing else 0.0
    if n_cards < 1:
        raise PublishError("render_video needs at least one card")
    if seconds_per_card is None:
        seconds_per_card = min(12.0, max(3.0, (TARGET_SECONDS - extra) / n_cards))
    total = n_cards * seconds_per_card + extra
    if not MIN_SECONDS <= total <= MAX_SECONDS:
        raise PublishError(
            f"video would last {total:.0f} s ({n_cards} cards × {seconds_per_card:g} s"
            f"{' + closing' if closing else ''}); keep it within {MIN_SECONDS:.0f}–{MAX_SECONDS:.0f} s "
            "by changing seconds_per_card or the number of cards"
        )
    return float(seconds_per_card)


def render_video(card_pngs: Sequence[str | os.PathLike], captions: Sequence[str] | None,
                 path: str | os.PathLike, seconds_per_card: float | None = None, *,
                 provenance: Mapping | None = None, lang: str = "th", crf: int = 30) -> Path:
    """Encode the cards as an H.264 video with burned-in Thai captions.

    Parameters
    ----------
    card_pngs : list of path
        1080×1080 pictures (from :func:`~vilwork.publish.cards.render_cards`).
    captions : list of str, optional
        One caption per card ('' for none).
    path : path
        e.g. ``reports/99010101/km-video.mp4``.
    seconds_per_card : float, optional
        Default: what makes the video about 45 s; the total must stay within 30–60 s.
    provenance : dict, optional
        Adds a closing frame with the provenance (recommended).
    """
    cards = [Path(p) for p in card_pngs]
    missing = [str(p) for p in cards if not p.is_file()]
    if missing:
        raise PublishError(f"card picture(s) not found: {', '.join(missing)}")
    caps = list(captions) if captions is not None else [""] * len(cards)
    if len(caps) != len(cards):
        raise PublishError(f"{len(cards)} cards but {len(caps)} captions")
    spc = plan_seconds(len(cards), seconds_per_card, provenance is not None)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vilwork-video-") as tmp:
        tmpd = Path(tmp)
        jobs, durations = [], []
        for i, (png, cap) in enumerate(zip(cards, caps), 1):
            page = tmpd / f"frame-{i:02d}.html"
            page.write_text(_frame_html(png, cap or "", lang), encoding="utf-8")
            jobs.append((page, tmpd / f"frame-{i:02d}.png"))
            durations.append(spc)
        if provenance is not None:
            prov = complete_provenance(provenance)
            closing = Card(headline="ที่มาของข้อมูล" if lang == "th" else "Where the numbers come from",
                           detail=provenance_line(prov, lang), value="")
            page = tmpd / "frame-closing.html"
            page.write_text(card_html(closing, kicker=str(prov.get("village", "")), foot="vilwork", lang=lang),
                            encoding="utf-8")
            jobs.append((page, tmpd / "frame-closing.png"))
            durations.append(CLOSING_SECONDS)
        frames = screenshots(jobs, CARD_SIZE, CARD_SIZE)
        t_frames = time.perf_counter() - t0
        # concat demuxer: each picture is decoded once; fps duplicates frames; fades by timestamp
        listing = tmpd / "frames.txt"
        lines = []
        for f, d in zip(frames, durations):
            lines += [f"file '{f.as_posix()}'", f"duration {d:.3f}"]
        lines.append(f"file '{frames[-1].as_posix()}'")  # the demuxer needs the last file twice
        listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
        fades, t = [], 0.0
        for d in durations:
            # enable=…: outside its window a fade passes frames through (else fade-out stays black)
            a, b = t, t + d - FADE
            fades.append(f"fade=t=in:st={a:.3f}:d={FADE}:enable='between(t,{a:.3f},{a + FADE:.3f})'")
            fades.append(f"fade=t=out:st={b:.3f}:d={FADE}:enable='between(t,{b:.3f},{b + FADE:.3f})'")
            t += d
        vf = f"fps={FPS},format=yuv420p," + ",".join(fades)
        cmd = [ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error", "-f", "concat", "-safe", "0",
               "-i", str(listing), "-vf", vf, "-t", f"{t:.3f}",
               "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-crf", str(crf),
               "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0 or not path.is_file():
            raise PublishError(f"ffmpeg failed: {res.stderr.strip()[-800:]}")
    log.info("wrote %s: %.0f s, %.2f MB in %.1f s (frames %.1f s)", path, sum(durations),
             path.stat().st_size / 1e6, time.perf_counter() - t0, t_frames)
    return path


__all__ = ["render_video", "plan_seconds", "ffmpeg_exe"]
