"""``vilwork audit``: the PDPA scan of every output (see :mod:`vilwork.audit`)."""
from __future__ import annotations

from .cli import arg, command
from .workspace import Workspace


@command("audit", "ตรวจว่าไม่มีข้อมูลส่วนบุคคลในผลลัพธ์ (PDPA) — scan reports/ and data/processed/ for citizen IDs, names, house numbers")
@arg("--village", default=None, help="scan only reports/<village code>/")
def cmd_audit(ws: Workspace, a) -> int:
    from .audit import audit_paths, audit_workspace

    rep = audit_paths(ws, [ws.village_reports(a.village)]) if a.village else audit_workspace(ws)
    print(rep)
    return 0 if rep.ok else 1
