"""Every village's reports in one command: warm Dask workers, a ledger, resumable, atomic.

``vilwork batch`` (and :func:`vilwork.run.run_all`) produce for each village exactly what
``vilwork run`` produces — the same :func:`~vilwork.run.run_village`, the same four stage
notebooks through papermill — but:

* **Warm workers.** Each Dask worker process keeps one warm IPython shell
  (:mod:`vilwork.engine`, papermill engine ``vilwork``): pandas, plotly, WeasyPrint, vilwork
  and kaleido's Chromium are loaded once per worker, not once per stage of every village.
  Every notebook still gets a fresh namespace, and the executed notebooks are kept in
  ``reports/<code>/notebooks/`` as the audit trail.
* **Shared work once.** The offline assets are installed once per batch in
  ``reports/_batch/assets/<hash>/`` and hard-linked into each report; input hashes for every
  village come from one DuckDB pass per processed table. Indicator tables and roll-ups come
  from ``vilwork indicators`` (run once, before).
* **Dask.** A :class:`distributed.LocalCluster` (processes, one thread each) by default;
  ``scheduler="tcp://host:port"`` uses an existing cluster whose workers see the same
  workspace path.
* **Nothing lost, nothing half-done.** ``reports/_batch/ledger.csv`` (rewritten atomically:
  temporary file, fsync, rename) records village, status, started, finished, seconds, input
  hash, error (failing notebook, cell and message). Reports are built in temporary folders and
  swapped in atomically by :func:`~vilwork.run.publish_dir`. One failing village never stops the
  others. ``resume=True`` redoes only villages that failed, are missing, or whose input hash
  changed (their processed rows and their tambon's, the raw village folder, the boundary, the
  notebooks, the vilwork source, library versions, parameters).
* **One batch per workspace.** An OS lock (``fcntl.flock`` on ``reports/_batch/.lock``) makes
  a second batch refuse with a clear message; the kernel drops the lock when its process dies,
  so a killed batch never blocks the next one.

Cost per village and stage, memory, and the arithmetic for 75,086 villages: ``docs/scaling.md``.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import os
import socket
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .atomic import write_text_atomic
from .errors import VilworkError
from .i18n import check_lang
from .log import get_logger
from .workspace import Workspace, check_village_code

log = get_logger(__name__)

BATCH_DIR = "_batch"
LEDGER_NAME = "ledger.csv"
LOCK_NAME = ".lock"
#: the files of reports/_batch and data/processed the end-of-batch PDPA audit found clean
AUDIT_RECORD = "audited.json"
#: ledger columns (UTF-8 with BOM, so Excel shows the Thai error messages).
LEDGER_FIELDS = ("village", "status", "started", "finished", "seconds", "input_hash", "error",
                 "stage_seconds", "worker", "report_id")
OK, FAILED, QUEUED = "ok", "failed", "queued"
#: libraries whose version is part of every input hash (a new WeasyPrint may draw differently).
HASHED_LIBRARIES = ("pandas", "duckdb", "plotly", "kaleido", "weasyprint", "pypdf", "folium", "geopandas",
                    "papermill", "nbformat", "ipykernel", "pythainlp", "jinja2", "imageio-ffmpeg")
#: processed files that no report reads (rewritten by every ingest; not part of any hash).
UNREAD_PROCESSED = ("ingest_summary.json", "quarantine.csv")


class BatchError(VilworkError):
    """Raised when a batch cannot start (no indicators, unknown villages, bad options)."""


class BatchLockedError(BatchError):
    """Raised when another batch holds the workspace's lock; names its process and start time."""


# ---------------------------------------------------------------------------------------------
# small helpers


def batch_dir(ws: Workspace) -> Path:
    """``reports/_batch/``: the ledger, the lock, the shared asset cache."""
    return ws.reports / BATCH_DIR


def _now() -> str:
    return dt.datetime.now().astimezone().replace(microsecond=0).isoformat()


def _sha(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, default=str, ensure_ascii=False).encode())
        h.update(b"\0")
    return h.hexdigest()


class _FileHashes:
    """sha256 of files, cached by (size, mtime) in ``reports/_batch/filehash.json``.

    The content hash is what counts; size and mtime only decide whether to read the file again.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self.cache: dict[str, list] = {}
        self.dirty = False
        if path and path.is_file():
            with contextlib.suppress(Exception):
                self.cache = json.loads(path.read_text(encoding="utf-8"))

    def __call__(self, p: Path) -> str:
        st = p.stat()
        key = str(p)
        hit = self.cache.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        self.cache[key] = [st.st_size, st.st_mtime_ns, digest]
        self.dirty = True
        return digest

    def tree(self, root: Path, exclude: tuple[str, ...] = ("__pycache__",)) -> list[tuple[str, str]]:
        """(relative path, sha256) of every file below ``root``, sorted."""
        out = []
        if not root.exists():
            return out
        for d, dirs, files in os.walk(root):
            dirs[:] = sorted(x for x in dirs if x not in exclude and not x.startswith("."))
            for f in sorted(files):
                if f.endswith((".pyc", ".pyo")) or f.startswith("."):
                    continue
                p = Path(d) / f
                out.append((p.relative_to(root).as_posix(), self(p)))
        return out

    def save(self) -> None:
        if self.path and self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(json.dumps(self.cache), self.path)
            self.dirty = False


# ---------------------------------------------------------------------------------------------
# what a report depends on: hashes


def library_hash(hashes: _FileHashes | None = None) -> str:
    """Hash of the vilwork package (source, definitions, templates, assets) and the versions of
    the libraries that draw the outputs. A worker computes it once, when it imports vilwork."""
    from importlib.metadata import PackageNotFoundError, version

    hashes = hashes or _FileHashes(None)
    pkg = Path(__file__).resolve().parent
    versions = {}
    for name in HASHED_LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return _sha("library", hashes.tree(pkg), versions, _chromium_identity(), sys.version_info[:2])


def _chromium_identity() -> list:
    """Which Chromium draws the PDF, cards, frames and SVG charts: its executable's path, size and
    modification time (Debian's ``/usr/bin/chromium`` is a wrapper script: the binary it starts
    too). An upgraded browser makes every report stale; no browser is an identity too."""
    from .publish.browser import find_chromium

    try:
        exe = Path(find_chromium()).resolve()
    except Exception:  # noqa: BLE001 - BrowserMissingError: reports are made without it
        return [None]
    out = []
    for p in (exe, Path("/usr/lib/chromium/chromium")):
        try:
            st = p.stat()
            out.append([str(p), st.st_size, st.st_mtime_ns])
        except OSError:
            pass
    return out


def code_hash(notebooks: Path, hashes: _FileHashes | None = None, library: str | None = None) -> str:
    """Hash of the code that makes a report: the stage notebooks and :func:`library_hash`."""
    from .run import STAGES

    hashes = hashes or _FileHashes(None)
    nbs = [(s, hashes(Path(notebooks) / f"{s}.ipynb")) for s in STAGES]
    return _sha("code", nbs, library or library_hash(hashes))


def _parquet_sources(ws: Workspace) -> list[tuple[str, str]]:
    """(table name, read_parquet pattern) of every processed Parquet file or partitioned folder."""
    out = []
    base = ws.processed
    if not base.is_dir():
        return out
    for p in sorted(base.iterdir()):
        if p.name.startswith(".") or p.name in UNREAD_PROCESSED:
            continue
        if p.is_file() and p.suffix == ".parquet":
            out.append((p.stem, str(p)))
        elif p.is_dir() and any(p.rglob("*.parquet")):
            out.append((p.name, f"{p}/**/*.parquet"))
    return out


def data_digests(ws: Workspace) -> dict[str, dict[str, str]]:
    """Per processed table, a digest per key: 8-digit village rows grouped by tambon (a village's
    tambon report shows its neighbours), area rows (tambon, district, province) by code.

    One DuckDB pass per table: ``count(*)`` and the sum of row hashes (order-free, duplicates
    counted), so the cost does not grow with the number of villages in the batch.
    """
    import duckdb

    out: dict[str, dict[str, str]] = {}
    with duckdb.connect() as con:
        for name, src in _parquet_sources(ws):
            rel = f"read_parquet('{src}', hive_partitioning = true, union_by_name = true)"
            cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
            key = next((c for c in ("village_code", "code") if c in cols), None)
            if key is None:  # a table without codes: every village depends on all of it
                n, h = con.execute(f"SELECT count(*), sum(hash(t))::HUGEINT FROM {rel} t").fetchone()
                out[name] = {"*": f"{n}:{h}"}
                continue
            rows = con.execute(
                f"""SELECT CASE WHEN length(k) = 8 THEN 'v' || substr(k, 1, 6) ELSE 'a' || k END AS g,
                           string_agg(k || ':' || n || ':' || h, ',' ORDER BY k) AS d
                    FROM (SELECT CAST({key} AS VARCHAR) AS k, count(*) AS n, sum(hash(t))::HUGEINT AS h
                          FROM {rel} t WHERE {key} IS NOT NULL GROUP BY 1)
                    GROUP BY 1""").fetchall()
            out[name] = {g: hashlib.sha256(d.encode()).hexdigest() for g, d in rows}
    return out


def boundary_digests(ws: Workspace, hashes: _FileHashes) -> dict[str, list[str]]:
    """Per village code, digests of its features in ``data/raw/geo/*.geojson`` (file order)."""
    from .build import _CODE_COLUMNS, _codes, _fold

    import pandas as pd

    folded = {_fold(c) for c in _CODE_COLUMNS}
    out: dict[str, list[str]] = {}
    geo = ws.raw / "geo"
    for p in sorted(geo.glob("*.geojson")) if geo.is_dir() else []:
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            feats = data.get("features", [])
        except Exception:  # unreadable: every village depends on the file as it is
            out.setdefault("*", []).append(f"{p.name}:{hashes(p)}")
            continue
        for f in feats:
            props = f.get("properties") or {}
            col = next((k for k in props if _fold(k) in folded), None)
            if col is None:
                continue
            code = _codes(pd.Series([props[col]])).iloc[0]
            out.setdefault(code, []).append(f"{p.name}:{_sha(f)}")
    return out


def village_hashes(ws: Workspace, codes: list[str], params: dict, hashes: _FileHashes) -> dict[str, str]:
    """The data part of each village's input hash (the code part is added by :func:`input_hash`)."""
    tables = data_digests(ws)
    geo = boundary_digests(ws, hashes)
    out = {}
    for code in codes:
        parts = []
        for name, d in sorted(tables.items()):
            parts.append((name, d.get("*"), d.get("v" + code[:6]), d.get("a" + code[:6]), d.get("a" + code[:4]),
                          d.get("a" + code[:2])))
        raw = hashes.tree(ws.village_raw(code))
        out[code] = _sha("data", code, params, parts, raw, geo.get(code), geo.get("*"))
    return out


def input_hash(data_hash: str, code: str) -> str:
    """The ledger's input hash: a village's data hash combined with the code hash."""
    return _sha(data_hash, code)[:32]


# ---------------------------------------------------------------------------------------------
# the ledger


def ledger_path(ws: Workspace) -> Path:
    return batch_dir(ws) / LEDGER_NAME


def read_ledger(ws: Workspace) -> dict[str, dict]:
    """The ledger's rows by village (empty when there is none yet)."""
    p = ledger_path(ws)
    if not p.is_file():
        return {}
    with open(p, encoding="utf-8-sig", newline="") as f:
        return {r["village"]: r for r in csv.DictReader(f) if r.get("village")}


def write_ledger(ws: Workspace, rows: dict[str, dict]) -> Path:
    """Rewrite the whole ledger atomically, villages in code order."""
    from .disclosure import neutralise_row

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LEDGER_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for code in sorted(rows):
        w.writerow(neutralise_row({k: rows[code].get(k, "") for k in LEDGER_FIELDS}))  # error texts from data
    p = ledger_path(ws)
    p.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(buf.getvalue(), p, encoding="utf-8-sig")
    return p


# ---------------------------------------------------------------------------------------------
# one batch per workspace


class BatchLock:
    """An exclusive ``fcntl.flock`` on ``reports/_batch/.lock`` for the life of a batch.

    The file holds who has the lock (pid, host, start, command) for the refusal message. The
    kernel releases a flock when its holder dies, so a lock left by a killed batch is free.
    """

    def __init__(self, ws: Workspace):
        self.path = batch_dir(ws) / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> "BatchLock":
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
            except (OSError, ValueError):
                holder = {}
            os.close(fd)
            who = (f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"
                   if holder else "another process")
            raise BatchLockedError(
                f"another batch is already running on this workspace ({who}): wait for it to finish, "
                f"or stop it; a stopped batch frees the lock by itself ({self.path})") from None
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": _now(),
                           "command": " ".join(sys.argv)}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing drops the flock
            self.fd = None


# ---------------------------------------------------------------------------------------------
# which villages


def select_villages(ws: Workspace, villages: list[str] | None = None, province: str | None = None,
                    targets: bool = False, fiscal_year: int | None = None) -> list[str]:
    """The villages of a batch: the given codes, a province's villages, the programme's target
    villages (``vilwork select``), or every village with indicators.

    Raises
    ------
    BatchError
        When the workspace has no indicators, a code is unknown, or no target list exists.
    """
    from .village import list_villages

    known = list_villages(ws)
    if not known:
        raise BatchError(f"no indicators in {ws.processed}: run `vilwork ingest` then `vilwork indicators` first")
    if villages:
        codes = [check_village_code(c) for c in villages]
        unknown = [c for c in codes if c not in set(known)]
        if unknown:
            raise BatchError(f"village(s) without data in this workspace: {', '.join(unknown[:10])}"
                             f"{' …' if len(unknown) > 10 else ''} (e.g. {', '.join(known[:5])})")
        return list(dict.fromkeys(codes))
    if targets:
        from .selection import default_fiscal_year, read_target_list

        fy = fiscal_year or default_fiscal_year(ws)
        tl = read_target_list(ws, fy)
        if tl is None:
            raise BatchError(f"no target list for fiscal year {fy}: run `vilwork select --fiscal-year {fy}` first")
        codes = [c for c in dict.fromkeys(tl["village_code"]) if c in set(known)]
        missing = [c for c in dict.fromkeys(tl["village_code"]) if c not in set(known)]
        if missing:
            log.warning("%d target village(s) have no indicators and are left out: %s", len(missing), ", ".join(missing[:10]))
        return codes
    if province:
        p = str(province).strip()
        if not (len(p) == 2 and p.isascii() and p.isdigit()):
            raise BatchError(f"province code {p!r} is not 2 digits (e.g. 99)")
        codes = [c for c in known if c.startswith(p)]
        if not codes:
            raise BatchError(f"no village of province {p} has data in this workspace")
        return codes
    return known


# ---------------------------------------------------------------------------------------------
# the worker side


_WORKER_LOCK = threading.Lock()
_WORKER: dict[str, Any] = {}


def _worker_setup(parent_pid: int | None, browser: bool = True) -> dict:
    """Once per worker process: the warm shell, the engine, imports, kaleido, the code hash."""
    if _WORKER:
        return _WORKER
    if parent_pid:
        # a LocalCluster worker dies with the batch that started it (no orphan finishing a
        # village after a SIGKILL of the batch; the report would be whole anyway)
        with contextlib.suppress(Exception):
            import ctypes
            import signal

            if os.getppid() == parent_pid:
                ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    from . import engine

    t0 = time.perf_counter()
    engine.register()
    preload = engine.preload(start_browser=browser)
    _WORKER.update(pid=os.getpid(), host=socket.gethostname(), preload_seconds=preload,
                   setup_seconds=time.perf_counter() - t0, tasks=0, library=library_hash())
    return _WORKER


def _rss_mb() -> float:
    """Resident memory of this process and its children (Chromium, ffmpeg), in MB."""
    try:
        import psutil

        me = psutil.Process()
        procs = [me, *me.children(recursive=True)]
        return round(sum(p.memory_info().rss for p in procs if p.is_running()) / 1e6, 1)
    except Exception:
        return float("nan")


def process_village(task: dict) -> dict:
    """Run one village on this worker (a Dask task); never raises, returns a ledger row.

    ``task`` holds root, village, year, lang, audience, notebooks, assets_from, data_hash,
    parent_pid and preload_browser. The row's input hash combines the task's data hash with the code hash computed
    here, so the ledger says what really ran even if vilwork changed while the batch started.
    """
    from .run import StageError, run_village

    with _WORKER_LOCK:  # one village at a time per process (the shell, cwd and stdout are global)
        code = task["village"]
        started, t0 = _now(), time.perf_counter()
        row = {"village": code, "started": started, "worker": f"{socket.gethostname()}:{os.getpid()}"}
        try:
            w = _worker_setup(task.get("parent_pid"), task.get("preload_browser", True))
            nb_dir = Path(task["notebooks"])
            lib = code_hash(nb_dir, library=w["library"])
            row["input_hash"] = input_hash(task["data_hash"], lib)
            row["code_hash"] = lib
            ws = Workspace(task["root"])
            if not ws.processed.is_dir():
                raise BatchError(f"workspace {ws.root} is not visible on worker {row['worker']} (a cluster's workers need the same path)")
            r = run_village(ws, code, year=task.get("year"), lang=task["lang"], audience=task["audience"],
                            engine="vilwork", notebooks=nb_dir,
                            assets_from=Path(task["assets_from"]) if task.get("assets_from") else None)
            row.update(status=OK, error="", stages={k: round(v, 2) for k, v in r.stage_seconds.items()},
                       report_id=_report_id(r.out_dir))
        except StageError as e:
            row.update(status=FAILED, error=str(e))
        except Exception as e:  # noqa: BLE001 - one village never stops the others
            row.update(status=FAILED, error=f"{type(e).__name__}: {e}")
        w = _WORKER or {}
        w["tasks"] = w.get("tasks", 0) + 1
        row.update(finished=_now(), seconds=round(time.perf_counter() - t0, 2), rss_mb=_rss_mb(),
                   setup_seconds=round(w.get("setup_seconds", 0.0), 2) if w.get("tasks") == 1 else 0.0)
        row.setdefault("input_hash", input_hash(task["data_hash"], "?"))
        return row


def _report_id(path: Path) -> str:
    """Identity of a published report folder (device:inode): a later ``vilwork run`` replaces it."""
    with contextlib.suppress(OSError):
        st = path.stat()
        return f"{st.st_dev}:{st.st_ino}"
    return ""


# ---------------------------------------------------------------------------------------------
# progress and the summary


class Progress:
    """``[####......] 12/24 done · 1 failed · 3.1 s/village · ETA 0:00:37`` — one updating line
    on a terminal, a plain line every ``every`` seconds (and at the end) otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None, every: float = 10.0, width: int = 24):
        self.total, self.stream, self.every, self.width = total, stream or sys.stdout, every, width
        self.done = self.failed = 0
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def line(self) -> str:
        n = self.done + self.failed
        frac = n / self.total if self.total else 1.0
        bar = "#" * int(frac * self.width) + "." * (self.width - int(frac * self.width))
        el = time.perf_counter() - self.t0
        rate = el / n if n else None
        eta = rate * (self.total - n) if rate is not None else None
        parts = [f"[{bar}] {n}/{self.total}", f"{self.done} สำเร็จ/done", f"{self.failed} ล้มเหลว/failed"]
        if rate is not None:
            parts.append(f"{rate:.1f} s/village")
        parts.append(f"ETA {_hms(eta) if eta is not None else '?'}")
        parts.append(f"elapsed {_hms(el)}")
        return " · ".join(parts)

    def update(self, ok: bool, final: bool = False) -> None:
        if ok:
            self.done += 1
        else:
            self.failed += 1
        self.show(final=(self.done + self.failed) >= self.total)

    def show(self, final: bool = False) -> None:
        now = time.perf_counter()
        if self.tty:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
            self.stream.flush()
        elif final or now - self.last >= self.every:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self.last = now


def _hms(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class BatchResult:
    """What a batch did: rows of the villages it ran, those it skipped as up to date."""

    rows: list[dict]
    skipped: list[str]
    wall: float
    workers: int
    ledger: Path
    plan_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    audit_ok: bool = True  # the PDPA audit of the batch's own files and data/processed

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r.get("status") != OK]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or not self.audit_ok else 0

    def table(self, max_rows: int = 30) -> str:
        """The timing table: one line per village (up to ``max_rows``), else per-stage statistics."""
        from .run import STAGES

        ok = [r for r in self.rows if r.get("status") == OK]
        lines = []
        if self.rows and len(self.rows) <= max_rows:
            head = f"{'village':<10} {'status':<7} {'seconds':>8} " + " ".join(f"{s:>12}" for s in STAGES) + f" {'MB':>7}  worker"
            lines += [head, "-" * len(head)]
            for r in sorted(self.rows, key=lambda r: r["village"]):
                st = r.get("stages") or {}
                lines.append(f"{r['village']:<10} {r.get('status', ''):<7} {float(r.get('seconds') or 0):>8.1f} "
                             + " ".join(f"{st[s]:>12.1f}" if s in st else f"{'–':>12}" for s in STAGES)
                             + f" {r.get('rss_mb', float('nan')):>7.0f}  {r.get('worker', '')}")
        if ok:
            lines.append("")
            lines.append(f"{'per village (ok)':<18} {'mean':>8} {'median':>8} {'p95':>8} {'max':>8}")
            series = {"total": [float(r["seconds"]) for r in ok]}
            for s in STAGES:
                series[s] = [r["stages"][s] for r in ok if s in (r.get("stages") or {})]
            for name, xs in series.items():
                if xs:
                    xs = sorted(xs)
                    p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
                    lines.append(f"{name:<18} {statistics.mean(xs):>8.1f} {statistics.median(xs):>8.1f} {p95:>8.1f} {xs[-1]:>8.1f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        n_ok = len(self.rows) - len(self.failed)
        lines = [self.table(), ""]
        per = self.wall * self.workers / len(self.rows) if self.rows else 0.0
        lines.append(f"รายงาน / reports: {n_ok} สำเร็จ / done, {len(self.failed)} ล้มเหลว / failed, "
                     f"{len(self.skipped)} ข้าม (เป็นปัจจุบัน) / up to date, skipped — "
                     f"{_hms(self.wall)} on {self.workers} worker(s)"
                     + (f", {per:.1f} s per village per worker" if self.rows else "")
                     + f" (planning {self.plan_seconds:.1f} s)")
        for r in self.failed[:50]:
            lines.append(f"  ✗ {r['village']}: {r.get('error', '')}")
        if len(self.failed) > 50:
            lines.append(f"  … {len(self.failed) - 50} more in the ledger")
        lines += [f"  ⚠ {n}" for n in self.notes]
        lines.append(f"ledger: {self.ledger}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# the batch


def _cleanup_temp(ws: Workspace) -> int:
    """Remove build folders left by killed runs on this host (``.<code>.tmp-<pid>-…`` whose
    process is gone, and ``.<code>.old-<pid>``); never a published report."""
    from .run import TMP_MARK

    n = 0
    if not ws.reports.is_dir():
        return 0
    import shutil

    for p in ws.reports.iterdir():
        name = p.name
        if not name.startswith(".") or not p.is_dir():
            continue
        pid = None
        if TMP_MARK in name:
            pid = name.split(TMP_MARK, 1)[1].split("-", 1)[0]
        elif ".old-" in name:
            pid = name.split(".old-", 1)[1]
        if pid is None or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running (a `vilwork run` beside the batch)
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(p, ignore_errors=True)
        n += 1
    return n


def shared_assets(ws: Workspace) -> Path | None:
    """Install the offline assets once per batch in ``reports/_batch/assets/<hash>/assets``."""
    from .publish import install_assets
    from .publish.assets import asset_sources

    try:
        srcs = asset_sources()
    except VilworkError as e:  # the stage notebooks will say so for each village
        log.warning("no shared assets: %s", e)
        return None
    fh = _FileHashes(None)
    key = _sha(sorted((k, fh(v)) for k, v in srcs.items()))[:16]
    base = batch_dir(ws) / "assets"
    target = base / key
    if not (target / "assets" / "MANIFEST.json").is_file():
        tmp = base / f".{key}.tmp-{os.getpid()}"
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        install_assets(tmp)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    for old in base.iterdir():  # earlier versions and killed installs (we hold the batch lock)
        if old.name != key:
            import shutil

            shutil.rmtree(old, ignore_errors=True)
    return target / "assets"


@dataclass
class Plan:
    """Villages to run (with why) and villages up to date, with each village's data hash."""

    todo: list[str]
    skipped: list[str]
    reasons: dict[str, str]
    data_hashes: dict[str, str]
    code_hash: str


def plan_batch(ws: Workspace, codes: list[str], params: dict, *, resume: bool, notebooks: Path) -> Plan:
    """Decide what to run: everything, or with ``resume`` only what is failed, missing or stale."""
    hashes = _FileHashes(batch_dir(ws) / "filehash.json")
    data = village_hashes(ws, codes, params, hashes)
    lib = code_hash(notebooks, hashes)
    hashes.save()
    ledger = read_ledger(ws) if resume else {}
    todo, skipped, reasons = [], [], {}
    for code in codes:
        row = ledger.get(code)
        final = ws.village_reports(code)
        if not resume:
            why = "requested"
        elif row is None:
            why = "new"
        elif row.get("status") != OK:
            why = row.get("status") or "unknown"
        elif not final.is_dir():
            why = "missing"
        elif row.get("input_hash") != input_hash(data[code], lib):
            why = "stale"
        elif row.get("report_id") and row["report_id"] != _report_id(final):
            why = "replaced"
        else:
            skipped.append(code)
            continue
        todo.append(code)
        reasons[code] = why
    return Plan(todo, skipped, reasons, data, lib)


def _start_client(workers: int, scheduler: str | None):
    import dask
    from distributed import Client, LocalCluster

    import logging

    for name in ("distributed", "distributed.nanny", "distributed.scheduler", "distributed.worker"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if scheduler:
        return Client(scheduler, timeout="30s"), None
    # a village that kills its worker twice is a failed village, not a reason to kill more
    dask.config.set({"distributed.scheduler.allowed-failures": 1})
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=50)
    return Client(cluster), cluster


def default_workers() -> int:
    """One worker per core (2 on the project's machines)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover
        return max(1, os.cpu_count() or 1)


def run_batch(ws: Workspace, villages: list[str] | None = None, *, year: int | None = None, lang: str = "th",
              audience: str = "public", workers: int | None = None, scheduler: str | None = None,
              resume: bool = False, notebooks: Path | None = None, stream: TextIO | None = None,
              ledger_every: float = 1.0, preload_browser: bool = True) -> BatchResult:
    """Produce the reports of ``villages`` (default: every village) on Dask; see the module doc.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (default: one per core); ignored with ``scheduler``. ``0`` runs
        the villages one after the other in this process, without Dask (debugging, tests).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:port``).
    resume : bool
        Redo only villages that failed, are missing, or whose inputs changed.
    notebooks : Path, optional
        Folder of the stage notebooks (default :func:`vilwork.run.notebooks_dir`).
    preload_browser : bool
        Start kaleido's Chromium when a worker starts (what stage 4 needs; off for tests).

    Raises
    ------
    BatchLockedError
        When another batch runs on the same workspace.
    BatchError
        When the workspace has no indicators or a village is unknown.
    """
    from .run import notebooks_dir
    from .village import AUDIENCES

    out = stream or sys.stdout
    check_lang(lang)
    if audience not in AUDIENCES:
        raise BatchError(f"audience {audience!r} is not one of {AUDIENCES}")
    nb_dir = Path(notebooks) if notebooks else notebooks_dir()
    workers = default_workers() if workers is None else int(workers)
    if workers < 0:
        raise BatchError(f"workers must be 0 (in this process) or more, got {workers}")
    t0 = time.perf_counter()
    ws.reports.mkdir(parents=True, exist_ok=True)
    with BatchLock(ws):
        codes = select_villages(ws, villages) if villages else select_villages(ws)
        params = {"year": year, "lang": lang, "audience": audience}
        removed = _cleanup_temp(ws)
        if removed:
            log.info("removed %d build folder(s) left by killed runs", removed)
        plan = plan_batch(ws, codes, params, resume=resume, notebooks=nb_dir)
        assets = shared_assets(ws) if plan.todo else None
        ledger = read_ledger(ws)
        for code in plan.todo:
            prev = ledger.get(code, {})
            ledger[code] = {**{k: "" for k in LEDGER_FIELDS}, "village": code, "status": QUEUED,
                            "input_hash": input_hash(plan.data_hashes[code], plan.code_hash),
                            "error": (f"previous: {prev.get('status')} {prev.get('error', '')}".strip()
                                      if prev.get("status") == FAILED else "")}
        lpath = write_ledger(ws, ledger)
        plan_s = time.perf_counter() - t0
        why = {}
        for c in plan.todo:
            why[plan.reasons[c]] = why.get(plan.reasons[c], 0) + 1
        out.write(f"vilwork batch: {len(codes)} หมู่บ้าน / villages — run {len(plan.todo)} "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(why.items())) or 'none'}), "
                  f"up to date {len(plan.skipped)}; "
                  + (f"scheduler {scheduler}" if scheduler else f"{workers} worker(s)" if workers else "in this process")
                  + "\n")
        out.flush()
        rows: list[dict] = []
        notes: list[str] = []
        if plan.todo:
            try:
                workers = _execute(ws, plan, params, nb_dir, assets, workers, scheduler, ledger, rows, out,
                                   ledger_every, preload_browser)
            finally:
                write_ledger(ws, ledger)
            odd = {r.get("code_hash") for r in rows if r.get("code_hash") and r.get("code_hash") != plan.code_hash}
            if odd:
                notes.append(f"{sum(r.get('code_hash') in odd for r in rows)} village(s) ran with a vilwork or notebooks "
                             "different from this one (changed during the batch, or cluster workers started earlier: "
                             "restart them); `--resume` will redo them")
        write_ledger(ws, ledger)
    # PDPA: each village's report was audited before it was published (run_village); the batch's
    # own files (ledger) and data/processed are audited here, and a hit fails the batch. Files
    # found clean before and unchanged since are not read again (a national data/processed is GBs)
    from .audit import audit_paths

    rep = audit_paths(ws, [batch_dir(ws), ws.processed], record=batch_dir(ws) / AUDIT_RECORD)
    if not rep.ok:
        notes.append(f"PDPA audit failed\n{rep}")
    res = BatchResult(rows, plan.skipped, time.perf_counter() - t0, workers, lpath, plan_s, notes, rep.ok)
    return res


def _execute(ws, plan: Plan, params, nb_dir, assets, workers, scheduler, ledger, rows, out, ledger_every,
             preload_browser=True) -> int:
    """Run the villages (on Dask, or here when ``workers`` is 0 and no scheduler); collect
    ``rows`` as they finish, updating the ledger and the progress line. Returns the workers."""
    inline = not scheduler and workers == 0
    client = cluster = None
    if not inline:
        client, cluster = _start_client(workers, scheduler)
    try:
        parent = os.getpid() if cluster is not None else None
        tasks = []
        for code in plan.todo:
            tasks.append({"root": str(ws.root), "village": code, **params, "notebooks": str(nb_dir),
                          "assets_from": str(assets) if assets else None, "data_hash": plan.data_hashes[code],
                          "parent_pid": parent, "preload_browser": preload_browser})
        progress = Progress(len(tasks), out)
        progress.show()
        last_write = [time.perf_counter()]

        def collect(code: str, row: dict) -> None:
            rows.append(row)
            ledger[code] = {**row, "stage_seconds": json.dumps(row.get("stages") or {}, sort_keys=True)}
            progress.update(row.get("status") == OK)
            if time.perf_counter() - last_write[0] >= ledger_every:
                write_ledger(ws, ledger)
                last_write[0] = time.perf_counter()

        if inline:
            for task in tasks:
                collect(task["village"], process_village(task))
            return 1
        from distributed import as_completed

        n_workers = len(client.scheduler_info().get("workers", {})) or workers
        futures = {client.submit(process_village, t, key=f"village-{t['village']}-{os.getpid()}-{time.time_ns()}",
                                 pure=False): t["village"] for t in tasks}
        for fut in as_completed(list(futures)):
            code = futures.pop(fut)
            try:
                row = fut.result()
            except Exception as e:  # the worker died under this village (KilledWorker) or similar
                row = {"village": code, "status": FAILED, "finished": _now(), "seconds": "",
                       "input_hash": input_hash(plan.data_hashes[code], plan.code_hash),
                       "error": f"worker lost: {type(e).__name__}: {e}"}
            collect(code, row)
            fut.release()
        seen = len({r.get("worker") for r in rows if r.get("worker")})
        return n_workers if cluster is not None else max(n_workers, seen)
    finally:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=10)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=20)


__all__ = [
    "BatchError", "BatchLock", "BatchLockedError", "BatchResult", "LEDGER_FIELDS", "Plan", "Progress",
    "batch_dir", "code_hash", "library_hash", "data_digests", "input_hash", "plan_batch",
    "process_village", "read_ledger", "run_batch", "select_villages", "shared_assets", "village_hashes",
    "write_ledger",
]
