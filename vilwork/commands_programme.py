"""Commands of the programme layer: ``vilwork select``, ``register``, ``quality``, ``programme``.

Imported by :mod:`vilwork.cli`, which adds ``--root`` and ``--verbose`` to each.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from .cli import arg, command
from .errors import VilworkError
from .workspace import Workspace


class ProgrammeRunError(VilworkError):
    """Raised when ``notebooks/programme.ipynb`` fails; names the cell and the error."""


@command("select", "คัดเลือกหมู่บ้านเป้าหมาย อำเภอละ 1 จังหวัดละ 1 — pick the target villages (one per district, one per province)")
@arg("--fiscal-year", type=int, default=None, help="ปีงบประมาณ พ.ศ. / BE fiscal year (default: the latest with a candidates file)")
@arg("--lang", choices=["th", "en"], default="th")
@arg("--code-lists", default=None, help="folder of the official code lists (names of districts and tambons)")
def cmd_select(ws: Workspace, a) -> int:
    from .selection import select, write_target_list

    res = select(ws, a.fiscal_year, code_lists_dir=a.code_lists)
    write_target_list(ws, res, a.lang)
    print(res)
    return 0


@command("register", "ทะเบียนการส่งงานและกำหนดส่ง — submission register, deadlines, completeness and on-time rates")
@arg("--fiscal-year", type=int, default=None, help="ปีงบประมาณ พ.ศ. / BE fiscal year")
@arg("--today", default=None, help="วันที่ของทะเบียน / the register's day: 2019-03-01 or 01/03/2562 (default: today)")
@arg("--lang", choices=["th", "en"], default="th")
@arg("--code-lists", default=None, help="folder of the official code lists")
def cmd_register(ws: Workspace, a) -> int:
    from .deadlines import parse_today, submission_register, write_register

    reg = submission_register(ws, a.fiscal_year, parse_today(a.today), code_lists_dir=a.code_lists)
    write_register(ws, reg, a.lang)
    print(reg)
    return 0


@command("quality", "รายงานคุณภาพข้อมูลรายอำเภอ — data-quality report per district (Excel + HTML)")
@arg("--district", default=None, help="รหัสอำเภอ 4 หลัก / 4-digit district code (default: every district)")
@arg("--year", type=int, default=None, help="ปีสำรวจ พ.ศ. / BE survey year (default: the latest)")
@arg("--lang", choices=["th", "en"], default="th")
@arg("--code-lists", default=None, help="folder of the official code lists")
def cmd_quality(ws: Workspace, a) -> int:
    from .programme import clean_code
    from .quality import workspace_quality, write_quality_report

    district = None
    if a.district:
        district = clean_code(a.district, 4)
        if district is None:
            raise VilworkError(f"--district {a.district!r} is not a 4-digit district code (e.g. 9901)")
    for rep in workspace_quality(ws, district, a.year, code_lists_dir=a.code_lists):
        write_quality_report(ws, rep, a.lang)
        print(rep)
    return 0


@command("programme", "ภาพรวมโครงการรายจังหวัด: รันสมุดบันทึก programme.ipynb — run notebooks/programme.ipynb (roll-ups, maps, trends) into reports/_programme/")
@arg("--province", default=None, help="รหัสจังหวัด 2 หลัก / 2-digit province code (default: every province)")
@arg("--year", type=int, default=None, help="ปีสำรวจ พ.ศ. / BE survey year (default: the latest)")
@arg("--fiscal-year", type=int, default=None, help="ปีงบประมาณ พ.ศ. / BE fiscal year")
@arg("--today", default=None, help="the day of the submission register (default: today)")
@arg("--lang", choices=["th", "en"], default="th")
@arg("--boundaries", default=None, help="folder of the HDX COD-AB files th_adm1.geojson / th_adm2.geojson")
@arg("--code-lists", default=None, help="folder of the official code lists (provinces.csv, districts.csv, sub_districts.csv)")
def cmd_programme(ws: Workspace, a) -> int:
    res = run_programme(ws, province=a.province, year=a.year, fiscal_year=a.fiscal_year, today=a.today, lang=a.lang,
                        boundaries_dir=a.boundaries, code_lists_dir=a.code_lists)
    for f in res:
        print(f"→ {f}")
    return 0


def programme_notebook() -> Path:
    """``notebooks/programme.ipynb`` of the project (or ``$VILWORK_NOTEBOOKS/../programme.ipynb``)."""
    env = os.environ.get("VILWORK_PROGRAMME_NOTEBOOK")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "notebooks" / "programme.ipynb"


def run_programme(ws: Workspace, *, province: str | None = None, year: int | None = None, fiscal_year: int | None = None,
                  today: str | None = None, lang: str = "th", boundaries_dir: str | None = None,
                  code_lists_dir: str | None = None, kernel: str = "python3") -> list[Path]:
    """Execute the programme notebook with papermill into ``reports/_programme/``.

    The executed notebook is ``programme_<province|all>.ipynb``; its last cell writes the
    offline HTML. Returns the files written.

    Raises
    ------
    ProgrammeRunError
        When a cell fails (the message names the cell and the error).
    """
    import papermill as pm

    from .programme import clean_code, open_programme, out_dir
    from .run import kernel_options

    if province is not None and clean_code(province, 2) is None:
        raise VilworkError(f"--province {province!r} is not a 2-digit province code (e.g. 50)")
    p = open_programme(ws.root, province, year, fiscal_year, lang, boundaries_dir, code_lists_dir, today)  # fails early, clearly
    out = out_dir(ws)
    out.mkdir(parents=True, exist_ok=True)
    area = p.province or "all"
    dst = out / f"programme_{area}.ipynb"
    params = {"root": str(ws.root), "province": p.province, "year": p.year, "fiscal_year": p.fiscal_year,
              "today": p.today.isoformat(), "lang": lang, "boundaries_dir": boundaries_dir, "code_lists_dir": code_lists_dir,
              "out_dir": str(out)}
    t0 = time.time()
    try:
        pm.execute_notebook(str(programme_notebook()), str(dst), parameters=params, kernel_name=kernel,
                            progress_bar=False, cwd=str(ws.root), log_output=False, **kernel_options(None))
    except pm.PapermillExecutionError as e:
        raise ProgrammeRunError(f"programme notebook, cell {e.exec_count}: {e.ename}: {e.evalue} (see {dst})") from None
    return sorted(f for f in out.iterdir() if f.is_file() and f.stat().st_mtime >= t0 - 1 and f.name.startswith("programme_"))
