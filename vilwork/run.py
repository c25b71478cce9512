"""Run the four stage notebooks for a village with papermill and publish its report folder.

Outputs are built in a temporary folder beside ``reports/<village_code>/`` and swapped in only
when every stage succeeded (one atomic exchange of the two folders), so a failed or killed run
never leaves a half-written report. Many villages at once: :mod:`vilwork.batch`.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .errors import VilworkError
from .i18n import check_lang
from .log import get_logger
from .village import AUDIENCES, available_years, list_villages
from .workspace import Workspace, check_village_code

log = get_logger(__name__)

STAGES = ("1-understand", "2-needs", "3-build", "4-publish")


class StageError(VilworkError):
    """Raised when a stage notebook fails; names the notebook, the cell and the error."""


def notebooks_dir() -> Path:
    """Folder of the stage notebooks: ``notebooks/stages`` of the project (or VILWORK_NOTEBOOKS)."""
    env = os.environ.get("VILWORK_NOTEBOOKS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent / "notebooks" / "stages"
    if here.exists():
        return here
    return Path(str(resources.files("vilwork") / "notebooks" / "stages"))


@dataclass
class RunResult:
    village: str
    year: int | None
    out_dir: Path
    seconds: float
    stage_seconds: dict = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        size = sum(f.stat().st_size for f in self.files if f.exists()) / 1e6
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in self.stage_seconds.items())
        return f"{self.village}: {len(self.files)} ไฟล์ / files, {size:.1f} MB → {self.out_dir} ({self.seconds:.1f} s: {stages})"


def _failing_cell(nb_path: Path) -> str:
    """The source line and error of the first failing cell of an executed notebook."""
    import nbformat

    try:
        nb = nbformat.read(nb_path, as_version=4)
    except Exception:
        return ""
    for i, c in enumerate(nb.cells):
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                first = (c.source.strip().splitlines() or [""])[0]
                return f"cell {i}: `{first}` → {o.get('ename')}: {o.get('evalue')}"
    return ""


TMP_MARK = ".tmp-"  # temporary build folders: .<code>.tmp-<pid>-<random>


def _link_tree(src: Path, dst: Path) -> None:
    """Fill ``dst`` with hard links to the files below ``src`` (copies across file systems)."""
    for d, _dirs, files in os.walk(src):
        rel = Path(d).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for f in files:
            try:
                os.link(Path(d) / f, dst / rel / f)
            except OSError:
                shutil.copy2(Path(d) / f, dst / rel / f)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two folders (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def publish_dir(tmp: Path, final: Path) -> None:
    """Replace ``final`` by the finished folder ``tmp`` so that at every moment ``final`` is the
    old report or the new one, never a mix (and, without RENAME_EXCHANGE, at worst missing)."""
    if final.exists() and _exchange(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old report
        return
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def run_village(ws: Workspace, village_code: str, *, year: int | None = None, lang: str = "th",
                audience: str = "public", kernel: str = "python3", engine: str | None = None,
                notebooks: Path | None = None, assets_from: Path | None = None) -> RunResult:
    """Execute the four stage notebooks for one village and publish ``reports/<village_code>/``.

    Parameters
    ----------
    engine : str, optional
        papermill engine; default papermill's own (a fresh kernel per notebook). ``vilwork``
        runs the notebooks in this process's warm shell (:mod:`vilwork.engine`).
    notebooks : Path, optional
        Folder of the stage notebooks (default :func:`notebooks_dir`).
    assets_from : Path, optional
        An installed ``assets/`` folder to hard-link into the report before the stages run, so
        that stage 4 finds the shared offline assets in place instead of copying them.

    Raises
    ------
    StageError
        When a stage fails: the message names the stage, the cell and the error; the previous
        report folder (if any) is left as it was.
    vilwork.audit.AuditError
        When the finished report holds personal data (:mod:`vilwork.audit`); it is not published.
    """
    import papermill as pm

    if engine is not None:
        from .engine import ENGINE_NAME, register

        if engine == ENGINE_NAME:
            register()  # also when the package's entry points are not installed
    code = check_village_code(village_code)
    check_lang(lang)
    if audience not in AUDIENCES:
        raise VilworkError(f"audience {audience!r} is not one of {AUDIENCES}")
    ws.reports.mkdir(parents=True, exist_ok=True)
    final = ws.village_reports(code)
    ws.check_writable(ws.reports)
    ws.check_writable(final)  # a reports/<code> symlink to elsewhere is refused, not followed
    tmp = Path(tempfile.mkdtemp(prefix=f".{code}{TMP_MARK}{os.getpid()}-", dir=ws.reports))
    tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700; a published report follows the umask like any folder
    nb_dir = Path(notebooks) if notebooks else notebooks_dir()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    params = {"village_code": code, "year": year, "lang": lang, "audience": audience,
              "root": str(ws.root), "out_dir": str(tmp)}
    try:
        (tmp / "notebooks").mkdir()
        if assets_from is not None:
            _link_tree(Path(assets_from), tmp / "assets")
        for stage in STAGES:
            src = nb_dir / f"{stage}.ipynb"
            dst = tmp / "notebooks" / f"{stage}.ipynb"
            s0 = time.perf_counter()
            try:
                pm.execute_notebook(str(src), str(dst), parameters=params, kernel_name=kernel,
                                    progress_bar=False, cwd=str(ws.root), log_output=False,
                                    engine_name=engine, **kernel_options(engine))
            except pm.PapermillExecutionError as e:
                raise StageError(f"village {code}, stage {stage}: cell {e.exec_count}: {e.ename}: {e.evalue}") from None
            except Exception as e:
                detail = _failing_cell(dst) or f"{type(e).__name__}: {e}"
                raise StageError(f"village {code}, stage {stage}: {detail}") from None
            timings[stage] = time.perf_counter() - s0
        # PDPA: a report with a citizen ID, a name or a house number is never published
        from .audit import check_outputs

        s0 = time.perf_counter()
        check_outputs(ws, [tmp], f"village {code}")
        timings["audit"] = time.perf_counter() - s0
        publish_dir(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    files = sorted(p for p in final.rglob("*") if p.is_file())
    return RunResult(code, year, final, time.perf_counter() - t0, timings, files)


def kernel_options(engine: str | None) -> dict:
    """For a fresh kernel (papermill's own engine): CurveZMQ-encrypted sockets, so household data
    never cross loopback TCP in plain text (and ipykernel ≥ 7.3 stops warning on every start), and
    the kernel's own log kept to critical messages: jupyter_client interrupts every kernel it shuts
    down, which ipykernel logs as an error. A failing cell still fails the stage, with its message."""
    if engine not in (None, "nbclient"):
        return {}
    from traitlets.config import Config

    return {"config": Config({"KernelManager": {"transport_encryption": "required"}}),
            "extra_arguments": ["--IPKernelApp.log_level=CRITICAL"]}


def current_umask() -> int:
    """The process's umask, read without changing it (``os.umask`` would, for a moment, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def run_all(ws: Workspace, villages: list[str] | None = None, **kw) -> int:
    """Run every village (or ``villages``) as one batch; return 1 if any failed, else 0.

    Uses :func:`vilwork.batch.run_batch` (warm Dask workers, one per core, a ledger in
    ``reports/_batch/``); ``kw`` may hold ``year``, ``lang``, ``audience``, ``workers``.
    """
    from .batch import run_batch

    kw.pop("kernel", None)
    result = run_batch(ws, villages or list_villages(ws), **kw)
    print(result, flush=True)
    return result.exit_code


__all__ = ["run_village", "run_all", "RunResult", "StageError", "STAGES", "available_years"]
