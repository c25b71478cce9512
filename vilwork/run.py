"""Run the four stage notebooks for a village with papermill and publish its report folder.

Outputs are built in a temporary folder beside ``reports/<village_code>/`` and swapped in only
when every stage succeeded, so a failed or killed run never leaves a half-written report.
"""
from __future__ import annotations

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


def run_village(ws: Workspace, village_code: str, *, year: int | None = None, lang: str = "th",
                audience: str = "public", kernel: str = "python3") -> RunResult:
    """Execute the four stage notebooks for one village and publish ``reports/<village_code>/``.

    Raises
    ------
    StageError
        When a stage fails: the message names the stage, the cell and the error; the previous
        report folder (if any) is left as it was.
    """
    import papermill as pm

    code = check_village_code(village_code)
    check_lang(lang)
    if audience not in AUDIENCES:
        raise VilworkError(f"audience {audience!r} is not one of {AUDIENCES}")
    ws.reports.mkdir(parents=True, exist_ok=True)
    final = ws.village_reports(code)
    tmp = Path(tempfile.mkdtemp(prefix=f".{code}.tmp-", dir=ws.reports))
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    params = {"village_code": code, "year": year, "lang": lang, "audience": audience,
              "root": str(ws.root), "out_dir": str(tmp)}
    try:
        (tmp / "notebooks").mkdir()
        for stage in STAGES:
            src = notebooks_dir() / f"{stage}.ipynb"
            dst = tmp / "notebooks" / f"{stage}.ipynb"
            s0 = time.perf_counter()
            try:
                pm.execute_notebook(str(src), str(dst), parameters=params, kernel_name=kernel,
                                    progress_bar=False, cwd=str(ws.root), log_output=False)
            except pm.PapermillExecutionError as e:
                raise StageError(f"village {code}, stage {stage}: cell {e.exec_count}: {e.ename}: {e.evalue}") from None
            except Exception as e:
                detail = _failing_cell(dst) or f"{type(e).__name__}: {e}"
                raise StageError(f"village {code}, stage {stage}: {detail}") from None
            timings[stage] = time.perf_counter() - s0
        old = final.with_name(f".{code}.old-{os.getpid()}")
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    files = sorted(p for p in final.rglob("*") if p.is_file())
    return RunResult(code, year, final, time.perf_counter() - t0, timings, files)


def run_all(ws: Workspace, villages: list[str] | None = None, **kw) -> int:
    """Run every village (or ``villages``); print a line each; return 1 if any failed, else 0."""
    codes = villages or list_villages(ws)
    failed = []
    for code in codes:
        try:
            print(run_village(ws, code, **kw), flush=True)
        except VilworkError as e:
            failed.append(code)
            print(f"✗ {e}", flush=True)
    print(f"รายงาน / reports: {len(codes) - len(failed)} สำเร็จ / done, {len(failed)} ล้มเหลว / failed"
          + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


__all__ = ["run_village", "run_all", "RunResult", "StageError", "STAGES", "available_years"]
