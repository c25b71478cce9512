"""``vilwork batch``: every village's reports in one command (see :mod:`vilwork.batch`)."""
from __future__ import annotations

from .cli import arg, command
from .workspace import Workspace


@command("batch", "ทำรายงานทุกหมู่บ้านในครั้งเดียว (Dask, ทำต่อได้) — every village's reports at once on Dask workers, resumable")
@arg("--villages", default=None, help="รหัสหมู่บ้านคั่นด้วยจุลภาค / comma-separated village codes, e.g. 99010101,99010102")
@arg("--province", default=None, help="ทุกหมู่บ้านของจังหวัด / every village of a province (2-digit code)")
@arg("--targets", action="store_true", help="หมู่บ้านเป้าหมายจาก `vilwork select` / the programme's target villages")
@arg("--fiscal-year", type=int, default=None, help="ปีงบประมาณของรายชื่อเป้าหมาย / fiscal year of the target list (with --targets)")
@arg("--workers", type=int, default=None, help="จำนวน worker / local worker processes (default: one per core; "
     "0: one village after the other in this process, no Dask)")
@arg("--scheduler", default=None, help="ที่อยู่ Dask scheduler ที่มีอยู่ / an existing Dask scheduler, tcp://host:port "
     "(its workers must see the workspace at the same path)")
@arg("--resume", action="store_true", help="ทำเฉพาะที่ล้มเหลว ขาด หรือข้อมูลเปลี่ยน / redo only failed, missing or stale villages")
@arg("--year", type=int, default=None, help="survey year (BE); default each village's latest")
@arg("--lang", choices=["th", "en"], default="th")
@arg("--audience", choices=["public", "internal"], default="public")
def cmd_batch(ws: Workspace, a) -> int:
    from .batch import BatchError, run_batch, select_villages

    chosen = [x for x in (a.villages, a.province, a.targets) if x]
    if len(chosen) > 1:
        raise BatchError("choose one of --villages, --province, --targets")
    if a.workers is not None and a.workers < 0:
        raise BatchError(f"--workers must be 0 or more, got {a.workers}")
    villages = [c.strip() for c in a.villages.split(",") if c.strip()] if a.villages else None
    codes = select_villages(ws, villages, province=a.province, targets=a.targets, fiscal_year=a.fiscal_year)
    result = run_batch(ws, codes, year=a.year, lang=a.lang, audience=a.audience, workers=a.workers,
                       scheduler=a.scheduler, resume=a.resume)
    print(result)
    return result.exit_code
