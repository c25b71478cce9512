"""A short video (``km-video.mp4``) from the cards, with Thai captions burned in.

Each frame is an HTML page (card picture + caption band) photographed by headless Chromium, so
Thai shapes correctly (the process's persistent Chromium, see :mod:`.browser`); the frames are
encoded with the ffmpeg binary that PyPI ``imageio-ffmpeg`` ships (H.264, yuv420p, 1080×1080,
still-image tuning: a 45 s video is a few hundred kB). The file has a variable frame rate: a
picture is one frame held for seconds, fades are :data:`FPS` frames a second (:func:`frame_times`).
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
#: frames a second of the fades (a held picture is one frame): 12.5 steps a second in a 0.4 s
#: fade are 5 steps; ffmpeg encodes 66 frames for 6 pictures (25 fps: 126 frames, +1.5–2 CPU s)
FPS = 12.5
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


def _fade_frames() -> int:
    return max(1, round(FADE * FPS))


def frame_times(durations: Sequence[float]) -> list[tuple[int, float, float]]:
    """The frames of a variable-frame-rate video: (picture, brightness 0–1, start in seconds).

    Each picture fades in from black in ``FADE × FPS`` frames a ``1/FPS`` s apart, is held as
    ONE frame, and fades out as many frames: 6 pictures are 66 frames to encode instead of the
    1125 of a constant 25 fps (brightness as ffmpeg's ``fade`` filter sampled at ``FPS``: 0, 0.2,
    … 0.8, then 1, then 1, 0.8, … 0.2 at 12.5 fps).
    """
    k, step = _fade_frames(), 1.0 / FPS
    out, t = [], 0.0
    for i, d in enumerate(durations):
        if d - 2 * k * step <= 0:
            raise PublishError(f"a picture shown {d:g} s is too short for fades of {FADE:g} s")
        out += [(i, j / k, t + j * step) for j in range(k)]
        out.append((i, 1.0, t + k * step))
        out += [(i, 1 - j / k, t + d - (k - j) * step) for j in range(k)]
        t += d
    return out


def _setpts(times: Sequence[float]) -> str:
    """``setpts`` expression giving frame N its start time (frames arrive at a constant FPS)."""
    step = 1.0 / FPS
    jumps = [(n, (times[n] - times[n - 1]) - step) for n in range(1, len(times))
             if abs((times[n] - times[n - 1]) - step) > 1e-9]
    expr = f"N*{step:.6f}" + "".join(f"+gte(N,{n})*{dj:.6f}" for n, dj in jumps)
    return f"setpts='({expr})/TB'"


def encode_frames(frames: Sequence[Path], durations: Sequence[float], path: Path, crf: int = 30) -> Path:
    """Encode pictures held for ``durations`` seconds with fades through black as H.264 (VFR).

    Each picture is decoded once (Pillow); the fade frames are the picture through a brightness
    lookup table (what ``fade`` does, in RGB); raw RGB frames go to ffmpeg on a pipe and
    ``setpts`` gives each its time. ffmpeg converts to yuv420p and encodes as before.
    """
    from PIL import Image

    plan = frame_times(durations)
    total = float(sum(durations))
    pics = []
    for f in frames:
        with Image.open(f) as im:
            pics.append(im.convert("RGB"))
    size = pics[0].size
    if any(p.size != size for p in pics):
        raise PublishError(f"video frames differ in size: {sorted({p.size for p in pics})}")
    times = [t for _i, _a, t in plan] + [total]  # a last black frame marks the end
    cmd = [ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}", "-r", str(FPS), "-i", "pipe:0",
           "-vf", _setpts(times), "-fps_mode", "vfr", "-t", f"{total:.3f}",
           # one thread: a batch worker is one core, and x264's frame threads cost 5-10 % more CPU
           "-threads", "1", "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-crf", str(crf),
           "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        luts: dict[float, list[int]] = {}
        black = bytes(size[0] * size[1] * 3)
        made: dict[tuple[int, float], bytes] = {}  # a picture's fade-out repeats its fade-in
        try:
            for i, alpha, _t in [*plan, (0, 0.0, total)]:
                if alpha <= 0:
                    proc.stdin.write(black)
                    continue
                data = made.get((i, alpha))
                if data is None:
                    made = {k: v for k, v in made.items() if k[0] == i}  # one picture's frames at a time
                    pic = pics[i]
                    if alpha < 1:
                        lut = luts.get(alpha)
                        if lut is None:
                            lut = luts[alpha] = [int(v * alpha + 0.5) for v in range(256)] * 3
                        pic = pic.point(lut)
                    data = made[(i, alpha)] = pic.tobytes()
                proc.stdin.write(data)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        rc = proc.wait()
        err.seek(0)
        msg = err.read().decode("utf-8", "replace")
    if rc != 0 or not path.is_file():
        raise PublishError(f"ffmpeg failed: {msg.strip()[-800:]}")
    return path


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
        frames = screenshots(jobs, CARD_SIZE, CARD_SIZE, fast_png=True)  # read back at once
        t_frames = time.perf_counter() - t0
        encode_frames(frames, durations, path, crf)
    log.info("wrote %s: %.0f s, %.2f MB in %.1f s (frames %.1f s)", path, sum(durations),
             path.stat().st_size / 1e6, time.perf_counter() - t0, t_frames)
    return path


__all__ = ["render_video", "plan_seconds", "ffmpeg_exe"]
