"""Headless Chromium, run the offline-safe way (screenshots, chart export and print-to-PDF).

Every run gets a fresh ``--user-data-dir`` and the flags that keep Chromium from reaching for
the network (PLATFORM.md): no component updates, no background networking, no sync, no QUIC.
Fonts: the child process sees Sarabun through :func:`~vilwork.publish.assets.fontconfig_file`.

Two ways to run it:

* :class:`DevToolsBrowser` — one Chromium per process, kept running and driven over the
  DevTools protocol on a pipe (no port): a card or video frame costs about 0.3 CPU s instead
  of a 1.5 CPU s browser start. :func:`screenshots` and :func:`~vilwork.publish.pdf.figure_image`
  use it first.
* :func:`run_chromium` — one Chromium per picture (``--screenshot``), the fallback when the
  persistent browser cannot start or fails, and the only way with ``VILWORK_BROWSER=subprocess``.
"""
from __future__ import annotations

import atexit
import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
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
                height: int = 1080, workers: int = 2, *, fast_png: bool = False) -> list[Path]:
    """Several screenshots: by the persistent browser, else ``workers`` Chromium processes at a time.

    ``fast_png``: the persistent browser compresses the PNGs less (the same pixels, about 40 %
    larger files, 20-30 ms less a picture): for pictures that are read back at once, such as
    video frames.
    """
    jobs = list(jobs)
    done: list[Path] = []
    if jobs and devtools_enabled():
        try:
            b = get_browser()
            for page, png in jobs:
                done.append(b.screenshot(page, png, width, height, fast_png=fast_png))
            return done
        except Exception as e:  # noqa: BLE001 - any failure: the subprocess path below
            browser_failed(e)
    from concurrent.futures import ThreadPoolExecutor

    rest = jobs[len(done):]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
        return done + list(ex.map(lambda j: screenshot(j[0], j[1], width, height), rest))


# ---------------------------------------------------------------------------------------------
# one persistent Chromium per process, driven over the DevTools protocol


class DevToolsError(PublishError):
    """The persistent browser failed (start, protocol, timeout); callers fall back to a subprocess."""


#: ``VILWORK_BROWSER=subprocess`` turns the persistent browser off (one Chromium per picture).
def devtools_enabled() -> bool:
    """Whether the persistent browser is to be tried: not turned off, not failed too often."""
    off = os.environ.get("VILWORK_BROWSER", "devtools").strip().lower() in ("subprocess", "off", "0", "no")
    return not off and _failures < MAX_FAILURES


#: fonts in use loaded, then two animation frames: layout and paint are done
_PAINTED = ("document.fonts.ready.then(() => new Promise(r => requestAnimationFrame("
            "() => requestAnimationFrame(() => r(true)))))")
#: replace the document by the HTML (a JSON string) and wait for its load event (pictures and
#: style sheets loaded); listeners are added after document.close() as open() removes them
_WRITE_DOCUMENT = ("new Promise(r => { document.open(); document.write(%s); document.close(); "
                   "if (document.readyState === 'complete') r(true); "
                   "else window.addEventListener('load', () => r(true), {once: true}); })")


class DevToolsBrowser:
    """One headless Chromium, kept running, driven over ``--remote-debugging-pipe``.

    Same executable, offline flags and fontconfig as :func:`run_chromium`; its own fresh
    profile folder, removed on :meth:`close`. Messages are NUL-terminated JSON on fds 3 (to the
    browser) and 4 (from it); no network port is opened. One lock serialises all use, so the
    object is safe to share between threads. Tabs: one for screenshots, one with plotly.js
    loaded once for chart export (:meth:`plotly_image`).
    """

    def __init__(self, timeout: float = 60):
        self.timeout = timeout
        self.pid_owner = os.getpid()
        self._lock = threading.RLock()
        self._next_id = 0
        self._buf = b""
        self._events: list[dict] = []
        self._tabs: dict[str, str] = {}  # role -> sessionId
        self._plotly_js: str | None = None
        self.calls = 0
        self._profile = tempfile.mkdtemp(prefix="vilwork-chromium-")
        exe = find_chromium()
        # the browser reads commands on fd 3 and writes replies on fd 4: move our pipe ends to fds
        # >= 10 so that bash's `3<&A 4>&B` cannot clobber one with the other (no preexec_fn,
        # which is unsafe in a process with threads such as a Dask worker; dash allows fds 0-9 only)
        shell = shutil.which("bash") or "/bin/bash"
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        a = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10)
        b = fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
        os.close(to_r)
        os.close(from_w)
        cmd = [shell, "-c", f'exec "$0" "$@" 3<&{a} 4>&{b} {a}<&- {b}>&-', exe, *OFFLINE_FLAGS,
               f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "--default-background-color=ffffffff",
               # no startup page: with one, the renderer of our tab died at random ("Render
               # process gone") on Chromium 156; tabs are made with Target.createTarget
               "--no-startup-window"]
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, pass_fds=(a, b), env=chromium_env(),
                                         start_new_session=True)
        except OSError as e:
            for fd in (a, b, to_w, from_r):
                os.close(fd)
            shutil.rmtree(self._profile, ignore_errors=True)
            raise DevToolsError(f"could not start Chromium: {e}") from e
        os.close(a)
        os.close(b)
        self._w, self._r = to_w, from_r
        try:
            self.call("Browser.getVersion", timeout=30)
        except Exception:
            self.close()
            raise

    # ---- protocol ----------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DevToolsError("Chromium did not answer in time")
            ready, _, _ = select.select([self._r], [], [], min(left, 1.0))
            if not ready:
                if self.proc.poll() is not None:
                    raise DevToolsError(f"Chromium exited (code {self.proc.returncode})")
                continue
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise DevToolsError(f"Chromium closed the DevTools pipe (exit code {self.proc.poll()})")
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict:
        """Send one command and return its result (events that arrive meanwhile are kept)."""
        with self._lock:
            self._next_id += 1
            mid = self._next_id
            msg = {"id": mid, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            data = json.dumps(msg).encode() + b"\0"
            try:
                while data:
                    n = os.write(self._w, data)
                    data = data[n:]
            except OSError as e:
                raise DevToolsError(f"cannot write to Chromium: {e}") from e
            deadline = time.monotonic() + (timeout or self.timeout)
            while True:
                m = self._read_message(deadline)
                if m.get("id") == mid:
                    if "error" in m:
                        raise DevToolsError(f"{method}: {m['error'].get('message')} {m['error'].get('data', '')}".strip())
                    return m.get("result", {})
                if "method" in m:
                    self._events.append(m)

    def wait_event(self, method: str, session: str | None, timeout: float | None = None) -> dict:
        with self._lock:
            deadline = time.monotonic() + (timeout or self.timeout)
            while True:
                for i, e in enumerate(self._events):
                    if e["method"] == method and e.get("sessionId") == session:
                        del self._events[: i + 1]
                        return e
                m = self._read_message(deadline)
                if "method" in m:
                    self._events.append(m)

    def evaluate(self, expression: str, session: str, timeout: float | None = None):
        r = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True},
                      session, timeout)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            text = (d.get("exception") or {}).get("description") or d.get("text")
            raise DevToolsError(f"JavaScript error: {text}")
        return r.get("result", {}).get("value")

    def _tab(self, role: str, width: int, height: int) -> str:
        s = self._tabs.get(role)
        if s is None:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            s = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            self.call("Page.enable", session=s)
            self.call("Emulation.setDefaultBackgroundColorOverride",
                      {"color": {"r": 255, "g": 255, "b": 255, "a": 1}}, s)
            self._tabs[role] = s
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, s)
        return s

    def _navigate(self, session: str, url: str) -> None:
        self._events = [e for e in self._events if e.get("sessionId") != session]
        r = self.call("Page.navigate", {"url": url}, session)
        if r.get("errorText"):
            raise DevToolsError(f"cannot open {url}: {r['errorText']}")
        self.wait_event("Page.loadEventFired", session)

    # ---- what vilwork asks of it -------------------------------------------------------------
    def screenshot(self, target: str | os.PathLike, out_png: str | os.PathLike, width: int = 1080,
                   height: int = 1080, *, fast_png: bool = False) -> Path:
        """A ``width``×``height`` PNG of a page once it, its pictures and its fonts have loaded."""
        out = Path(out_png).resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        url = _as_url(target)
        with self._lock:
            s = self._tab("shot", width, height)
            if not self._write_page(s, url):
                self._navigate(s, url)
                self._shot_url = url
            # fonts in use loaded, then two frames so that layout and paint are done
            self.evaluate(_PAINTED, s)
            params = {"format": "png", "fromSurface": True, **({"optimizeForSpeed": True} if fast_png else {})}
            data = self.call("Page.captureScreenshot", params, s)["data"]
            self.calls += 1
        tmp = out.with_name(out.name + ".part")
        tmp.write_bytes(base64.b64decode(data))
        tmp.replace(out)
        return out

    def _write_page(self, session: str, url: str) -> bool:
        """Show the page at ``url`` by writing its HTML into the tab's current document.

        A navigation costs the browser about 0.14 CPU s a picture (a new document, its styles
        and fonts set up again); ``document.open/write/close`` in the page already shown costs
        about 0.05 and paints the same pixels (compared for every card and video frame). Only for
        a local HTML file in the same folder as the page shown (so that relative URLs resolve as
        they would after a navigation); False when not applicable or when it fails, and the
        caller navigates.
        """
        prev = getattr(self, "_shot_url", None)
        self._shot_url = None  # until this page is shown for sure
        if not (prev and prev.startswith("file:") and url.startswith("file:") and "#" not in url):
            return False
        try:
            path = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))
            if path.parent != Path(urllib.parse.unquote(urllib.parse.urlparse(prev).path)).parent:
                return False
            if path.suffix.lower() not in (".html", ".htm"):
                return False
            html = path.read_text(encoding="utf-8")
            self._events = [e for e in self._events if e.get("sessionId") != session]
            self.evaluate(_WRITE_DOCUMENT % json.dumps(html), session)
        except (OSError, UnicodeDecodeError, DevToolsError) as e:
            log.info("writing %s into the page failed (%s); navigating", url, e)
            return False
        self._shot_url = url
        return True

    def print_pdf(self, target: str | os.PathLike | None, script: str | None = None) -> bytes:
        """The page at ``target`` printed as PDF (``Page.printToPDF``), its CSS ``@page`` size.

        ``target=None`` prints the page already open in the PDF tab again, after ``script`` (a
        JavaScript expression, awaited) has changed it: a second pass without a new layout of
        fonts and pictures. Background colours printed, a document outline (bookmarks) from the
        headings; pictures, style sheets and fonts loaded before printing.
        """
        with self._lock:
            s = self._tab("pdf", 794, 1123)  # A4 at 96 dpi; the print layout takes @page
            if target is not None:
                self._navigate(s, _as_url(target))
            if script:
                self.evaluate(script, s)
            # fonts loaded; not _PAINTED: animation frames never come in a tab in the background
            # (the picture tab is in front once it exists), and printing lays the page out anew
            self.evaluate("document.fonts.ready.then(() => true)", s)
            # untagged, as WeasyPrint's: the structure tree would make a KM document 2.5 times the
            # size (661 against 259 kB) for the same pages
            data = self.call("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True,
                                                 "generateDocumentOutline": True, "generateTaggedPDF": False},
                             s)["data"]
            self.calls += 1
        return base64.b64decode(data)

    def plotly_image(self, figure_json: str, fmt: str, width: int, height: int, scale: float = 1) -> bytes:
        """A plotly figure (JSON) as SVG or PNG bytes via ``Plotly.toImage`` — plotly.js loaded once."""
        if fmt not in ("svg", "png"):
            raise DevToolsError(f"plotly export format {fmt!r} is not svg or png")
        with self._lock:
            s = self._tabs.get("plotly")
            if s is None:
                s = self._tab("plotly", max(width, 800), max(height, 600))
                page = Path(self._profile) / "vilwork-plotly.html"
                page.write_text(
                    '<!DOCTYPE html><html><head><meta charset="utf-8">'
                    f'<script src="{plotly_js_path().as_uri()}" charset="utf-8"></script></head><body></body></html>',
                    encoding="utf-8")
                self._navigate(s, page.as_uri())
                if not self.evaluate("typeof Plotly === 'object' && !!Plotly.toImage", s):
                    self._tabs.pop("plotly", None)
                    raise DevToolsError("plotly.js did not load in the chart tab")
            expr = (f"(() => {{ const f = {figure_json}; return Plotly.toImage("
                    "{data: f.data || [], layout: f.layout || {}, config: f.config || {}}, "
                    f"{{format: '{fmt}', width: {int(width)}, height: {int(height)}, scale: {float(scale)}, "
                    "imageDataOnly: true}); })()")
            value = self.evaluate(expr, s)
            self.calls += 1
        if not isinstance(value, str) or not value:
            raise DevToolsError("Plotly.toImage returned nothing")
        return value.encode("utf-8") if fmt == "svg" else base64.b64decode(value)

    # ---- lifetime ----------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.proc.poll() is None and os.getpid() == self.pid_owner

    def close(self) -> None:
        """Close the browser (politely, then by signal), reap it, remove its profile."""
        proc = getattr(self, "proc", None)
        if proc is not None and os.getpid() == self.pid_owner:
            if proc.poll() is None:
                try:
                    msg = json.dumps({"id": 10**9, "method": "Browser.close", "params": {}}).encode() + b"\0"
                    os.write(self._w, msg)
                    proc.wait(timeout=5)
                except Exception:  # noqa: BLE001 - then by signal
                    pass
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:  # pragma: no cover
                    pass
        for fd in (getattr(self, "_w", None), getattr(self, "_r", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._w = self._r = None
        shutil.rmtree(self._profile, ignore_errors=True)


def plotly_js_path() -> Path:
    """plotly.js of the installed plotly.py (the one kaleido uses: all trace types, same version)."""
    import plotly

    p = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not p.is_file():
        raise DevToolsError(f"plotly.js not found at {p}")
    return p


_browser: DevToolsBrowser | None = None
_browser_lock = threading.Lock()
_failures = 0
#: after this many failures in one process the persistent browser is not tried again
MAX_FAILURES = 3


def get_browser() -> DevToolsBrowser:
    """This process's persistent browser, started on first use (and again if it died).

    Raises
    ------
    DevToolsError
        When it is turned off (``VILWORK_BROWSER=subprocess``), failed too often, or cannot start.
    """
    global _browser
    if not devtools_enabled():
        raise DevToolsError("the persistent browser is turned off (VILWORK_BROWSER=subprocess)")
    with _browser_lock:
        if _failures >= MAX_FAILURES:
            raise DevToolsError(f"the persistent browser failed {_failures} times in this process; not retried")
        b = _browser
        if b is not None and b.alive():
            return b
        if b is not None and os.getpid() == b.pid_owner:
            b.close()
        t = time.perf_counter()
        _browser = DevToolsBrowser()
        log.debug("persistent Chromium started in %.2f s (pid %s)", time.perf_counter() - t, _browser.proc.pid)
        return _browser


def browser_failed(err: BaseException) -> None:
    """Record a failure of the persistent browser: close it (the next use starts a fresh one)."""
    global _browser, _failures
    with _browser_lock:
        _failures += 1
        b, _browser = _browser, None
    log.warning("persistent Chromium failed (%s); falling back to one Chromium per picture", err)
    if b is not None:
        try:
            b.close()
        except Exception:  # noqa: BLE001
            pass


def close_browser() -> None:
    """Close this process's persistent browser, if any (also run at exit)."""
    global _browser
    with _browser_lock:
        b, _browser = _browser, None
    if b is not None:
        b.close()


atexit.register(close_browser)


__all__ = ["OFFLINE_FLAGS", "DevToolsBrowser", "DevToolsError", "close_browser", "find_chromium", "get_browser",
           "print_to_pdf", "run_chromium", "screenshot", "screenshots"]
