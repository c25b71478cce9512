"""Headless Chromium, run the offline-safe way (screenshots and print-to-PDF).

Every run gets a fresh ``--user-data-dir`` and the flags that keep Chromium from reaching for
the network (PLATFORM.md): no component updates, no background networking, no sync, no QUIC.
Fonts: the child process sees Sarabun through :func:`~vilwork.publish.assets.fontconfig_file`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Sequence

from ..log import get_logger
from .assets import fontconfig_file
from .model import BrowserMissingError, PublishError

log = get_logger(__name__)

#: flags that keep headless Chromium quiet offline (measured, PLATFORM.md).
OFFLINE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--force-device-scale-factor=1",
)
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str:
    """Path of the Chromium executable: ``VILWORK_CHROMIUM``, ``BROWSER_PATH``, then the PATH.

    Raises
    ------
    BrowserMissingError
        With the install command, when none is found.
    """
    for var in ("VILWORK_CHROMIUM", "BROWSER_PATH"):
        p = os.environ.get(var)
        if p and Path(p).is_file() and os.access(p, os.X_OK):
            return p
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    for name in _CANDIDATES:
        p = shutil.which(name)
        if p:
            return p
    raise BrowserMissingError(
        "headless Chromium was not found (cards, video captions and chart export need it): "
        "on Debian/Ubuntu run `apt-get install chromium`, or set VILWORK_CHROMIUM to the browser"
    )


def chromium_env() -> dict[str, str]:
    """Environment for a Chromium child: Sarabun visible to fontconfig."""
    env = dict(os.environ)
    env.setdefault("FONTCONFIG_FILE", str(fontconfig_file()))
    return env


def _as_url(target: str | os.PathLike) -> str:
    s = str(target)
    if s.startswith(("file:", "data:", "about:", "http:", "https:")):
        return s
    s, hash_, frag = s.partition("#")
    return Path(s).resolve().as_uri() + hash_ + frag


def run_chromium(args: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run headless Chromium once with the offline flags and a fresh profile."""
    exe = find_chromium()
    with tempfile.TemporaryDirectory(prefix="vilwork-chromium-") as profile:
        cmd = [exe, *OFFLINE_FLAGS, f"--user-data-dir={profile}", *args]
        t = time.perf_counter()
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=chromium_env())
        except subprocess.TimeoutExpired as e:
            raise PublishError(f"headless Chromium timed out after {timeout:.0f} s: {' '.join(args)}") from e
        log.debug("chromium %.2f s: %s", time.perf_counter() - t, " ".join(args))
    return res


def screenshot(target: str | os.PathLike, out_png: str | os.PathLike, width: int = 1080,
               height: int = 1080, virtual_time_budget: int = 3000) -> Path:
    """Screenshot a page (path or URL) at ``width``×``height`` CSS pixels into ``out_png``."""
    out = Path(out_png).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    res = run_chromium([
        f"--screenshot={out}",
        f"--window-size={width},{height}",
        f"--virtual-time-budget={virtual_time_budget}",
        "--default-background-color=ffffffff",
        _as_url(target),
    ])
    if not out.is_file():
        raise PublishError(f"Chromium wrote no screenshot for {target}: {res.stderr.strip()[-500:]}")
    return out


def print_to_pdf(target: str | os.PathLike, out_pdf: str | os.PathLike,
                 virtual_time_budget: int = 5000) -> Path:
    """Print a page to PDF with Chromium (JavaScript charts included)."""
    out = Path(out_pdf).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    res = run_chromium([
        f"--print-to-pdf={out}",
        "--no-pdf-header-footer",
        f"--virtual-time-budget={virtual_time_budget}",
        _as_url(target),
    ])
    if not out.is_file():
        raise PublishError(f"Chromium wrote no PDF for {target}: {res.stderr.strip()[-500:]}")
    return out


def screenshots(jobs: Sequence[tuple[str | os.PathLike, str | os.PathLike]], width: int = 1080,
                height: int = 1080, workers: int = 2) -> list[Path]:
    """Several screenshots, ``workers`` Chromium processes at a time (2 cores here)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
        return list(ex.map(lambda j: screenshot(j[0], j[1], width, height), jobs))


__all__ = ["OFFLINE_FLAGS", "find_chromium", "print_to_pdf", "run_chromium", "screenshot", "screenshots"]
