"""Interactive commands: ``vilwork explore`` (the analyst's explorer served by Voilà) and
``vilwork forum`` (the facilitator's deck with the voting screen).

Imported by :mod:`vilwork.cli`, which adds ``--root`` and ``--verbose`` to each. Heavy imports
(Voilà, tornado) happen only when a command runs.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .cli import arg, command
from .errors import VilworkError
from .log import get_logger
from .workspace import Workspace

log = get_logger(__name__)

#: where the explorer page finds the village report folders (relative to the page)
REPORTS_ROUTE = "vilwork/reports"
DEFAULT_EXPLORE_PORT = 8866
DEFAULT_FORUM_PORT = 8765


class ExplorerMissingError(VilworkError):
    """Raised when ``vilwork explore`` cannot start: Voilà is not installed or the notebook is missing."""


def explore_notebook() -> Path:
    """``notebooks/explore.ipynb`` of the project (``$VILWORK_EXPLORE_NOTEBOOK`` overrides)."""
    env = os.environ.get("VILWORK_EXPLORE_NOTEBOOK")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "notebooks" / "explore.ipynb"


def _reports_handler(reports_dir: Path):
    """A tornado handler serving ``reports/<8-digit code>/…`` read-only; a folder without a file
    name goes to its ``km.html``, or says how to build the reports when there are none."""
    import html

    import tornado.web

    from .explore import EXPORT_DIR

    class ReportsHandler(tornado.web.StaticFileHandler):
        async def get(self, path: str, include_body: bool = True):
            m = re.fullmatch(r"(\d{8})/?", path)
            if m:
                if (reports_dir / m.group(1) / "km.html").is_file():
                    return self.redirect(self.request.path.rstrip("/") + "/km.html")
                self.set_status(404)
                self.set_header("Content-Type", "text/html; charset=utf-8")
                code = html.escape(m.group(1))
                return self.finish(
                    "<!DOCTYPE html><meta charset='utf-8'><body style='font:20px Sarabun,sans-serif;margin:40px'>"
                    f"<h2>ยังไม่มีรายงานของหมู่บ้าน {code}</h2><p>กดปุ่ม “สร้างรายงานของหมู่บ้านนี้” ในหน้าสำรวจ "
                    f"หรือใช้คำสั่ง <code>vilwork run --village {code}</code></p>"
                    f"<p>No reports yet: use the explorer's build button or <code>vilwork run --village {code}</code>.</p>")
            if not (re.fullmatch(r"\d{8}/[^\\]+", path) or re.fullmatch(rf"{EXPORT_DIR}/[\w.-]+\.xlsx", path)):
                raise tornado.web.HTTPError(404)
            return await super().get(path, include_body)

    return ReportsHandler


def make_voila_app(ws: Workspace):
    """A Voilà application that also serves the workspace's village reports under
    ``/vilwork/reports/`` (read-only), so the explorer's links open them."""
    try:
        from jupyter_server.utils import url_path_join
        from voila.app import Voila
    except ImportError as e:  # pragma: no cover - voila is in the explore extra
        raise ExplorerMissingError("Voilà is not installed: pip install 'vilwork[explore]' (or pip install voila)") from e

    reports = ws.reports
    handler = _reports_handler(reports)

    class ExplorerVoila(Voila):
        def init_handlers(self):
            handlers = super().init_handlers()
            ours = (url_path_join(self.server_url, rf"/{REPORTS_ROUTE}/(.*)"), handler, {"path": str(reports)})
            return [ours, *handlers]

    return ExplorerVoila


def voila_argv(notebook: Path, port: int, open_browser: bool) -> list[str]:
    """Voilà's command line: localhost only, tracebacks shown (a user's data error reads in
    the page), a generous time limit for the first run on a slow machine."""
    return [
        str(notebook),
        f"--port={int(port)}",
        "--Voila.ip=127.0.0.1",
        f"--Voila.open_browser={open_browser}",
        "--Voila.port_retries=20",
        "--VoilaConfiguration.show_tracebacks=True",
        "--VoilaExecutor.timeout=600",
        # a closed tab leaves its kernel behind (each holds the data): stop it after 5 idle minutes
        "--MappingKernelManager.cull_idle_timeout=300",
        "--MappingKernelManager.cull_interval=60",
        "--theme=light",
    ]


def explore_env(ws: Workspace, boundaries: str | None = None, *, lang: str | None = None,
                audience: str | None = None, village: str | None = None) -> dict[str, str]:
    """Environment the notebook's kernel inherits: the workspace, the reports route, boundaries,
    and what the page opens on (language, audience, village)."""
    from .explore import ENV_AUDIENCE, ENV_BOUNDARIES, ENV_LANG, ENV_REPORTS_URL, ENV_ROOT, ENV_VILLAGE
    from .workspace import check_village_code

    env = {ENV_ROOT: str(ws.root), ENV_REPORTS_URL: REPORTS_ROUTE}
    if boundaries:
        env[ENV_BOUNDARIES] = str(Path(boundaries).expanduser().resolve())
    for key, value in ((ENV_LANG, lang), (ENV_AUDIENCE, audience)):
        if value:
            env[key] = value
    if village:
        env[ENV_VILLAGE] = check_village_code(village)
    return env


@command("explore", "เปิดหน้าสำรวจตัวชี้วัดหลายหมู่บ้าน (Voilà บนเครื่องนี้) — serve the indicator explorer on localhost")
@arg("--port", type=int, default=DEFAULT_EXPLORE_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_EXPLORE_PORT}; a free one if busy)")
@arg("--no-browser", action="store_true", help="do not open the browser")
@arg("--boundaries", default=None, help="folder of HDX COD-AB files (th_adm1.geojson, th_adm2.geojson)")
@arg("--lang", choices=["th", "en"], default="th", help="language of the page (default Thai)")
@arg("--audience", choices=["public", "internal"], default="public",
     help="public hides counts of 1-4 (default); internal shows them, for staff only")
@arg("--village", default=None, help="open on this village (8-digit code) and its province")
def cmd_explore(ws: Workspace, a) -> int:
    if not (ws.processed / "indicators_village.parquet").exists():
        raise VilworkError(f"no indicators in {ws.processed}: run `vilwork ingest` then `vilwork indicators` first")
    nb = explore_notebook()
    if not nb.is_file():
        raise ExplorerMissingError(f"the explorer notebook {nb} is missing")
    os.environ.update(explore_env(ws, a.boundaries, lang=a.lang, audience=a.audience, village=a.village))
    app = make_voila_app(ws)
    print(f"หน้าสำรวจ: http://127.0.0.1:{a.port}/ (ถ้าพอร์ตไม่ว่างจะใช้พอร์ตถัดไป ดูบรรทัด 'Voilà is running at')  "
          "กด Ctrl+C เพื่อปิด / Ctrl+C to stop", flush=True)
    _stop_on_sigterm()
    app.launch_instance(argv=voila_argv(nb, a.port, not a.no_browser))
    return 0


def _stop_on_sigterm() -> None:
    """Let ``kill`` stop the server like Ctrl-C does, so Voilà shuts its kernels down."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


@command("forum", "เปิดสไลด์เวทีประชาคมเต็มจอและหน้าลงคะแนน — the full-screen forum deck with the voting screen")
@arg("--village", required=True, help="8-digit village code, e.g. 99010101")
@arg("--year", type=int, default=None, help="survey year (BE); default the latest")
@arg("--lang", choices=["th", "en"], default="th")
@arg("--port", type=int, default=DEFAULT_FORUM_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_FORUM_PORT}; 0 = any free one)")
@arg("--no-browser", action="store_true", help="do not open the browser")
def cmd_forum(ws: Workspace, a) -> int:
    from .forum import serve_forum

    return serve_forum(ws.root, a.village, port=a.port, open_browser=not a.no_browser, year=a.year, lang=a.lang)
