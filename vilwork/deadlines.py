"""Deadlines of the fiscal year and the submission register (who sent what, when).

Fiscal year N (BE) runs from 1 October N−1 to 30 September N. The names of the target villages
are due on 28 February and the KM documents on 31 May of BE year N (``deadlines.yaml``).

The register has one row per expected submission: for every district and every province, the
names of its target village and the KM documents of that village. Names count as sent when the
submission log (``data/raw/programme/<FY>/submissions*.csv|xlsx``) has them; KM counts as
complete when every KM output is in ``reports/<village_code>/`` (``deadlines.yaml`` ``outputs``).
Like the reporting rates of district health information systems (DHIS2), each district and
province gets a completeness rate (received / expected) and an on-time rate (received by the due
date / expected). "Today" is a parameter, so a register can be reproduced for any day.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DefinitionError, InputError
from .i18n import format_date
from .log import get_logger
from .programme import (
    canonical_value,
    clean_code,
    clean_text,
    find_files,
    label,
    name_of,
    out_dir,
    place_names,
    provenance,
    raw_dir,
    read_tables,
    settings,
    write_csv,
    write_xlsx,
    yes_no,
)
from .workspace import Workspace

log = get_logger(__name__)

BE = 543
ITEMS = ("names", "km")
STATUSES = ("on_time", "late", "overdue", "pending")


# =============================================================================================
# dates
# =============================================================================================
def fiscal_year_of(day: dt.date) -> int:
    """The BE fiscal year a CE date falls in (1 October 2018 → 2562)."""
    s = settings("deadlines")["fiscal_year_start"]
    start = dt.date(day.year, int(s["month"]), int(s["day"]))
    return day.year + BE + (1 if day >= start else 0)


def fiscal_year_bounds(fiscal_year: int) -> tuple[dt.date, dt.date]:
    """First and last day (CE dates) of BE fiscal year ``fiscal_year`` (2562 → 2018-10-01, 2019-09-30)."""
    s = settings("deadlines")["fiscal_year_start"]
    start = dt.date(int(fiscal_year) - BE - 1, int(s["month"]), int(s["day"]))
    end = dt.date(int(fiscal_year) - BE, int(s["month"]), int(s["day"])) - dt.timedelta(days=1)
    return start, end


def due_dates(fiscal_year: int) -> dict[str, dt.date]:
    """Due date (CE ``date``) of each item for BE fiscal year ``fiscal_year``.

    Raises
    ------
    DefinitionError
        When an item's day does not exist in that year or an override cannot be read.
    """
    from .thai import parse_date

    d = settings("deadlines")
    out = {}
    for item in d["items"]:
        due = item["due"]
        year_ce = int(fiscal_year) + int(due.get("year_offset", 0)) - BE
        try:
            out[item["key"]] = dt.date(year_ce, int(due["month"]), int(due["day"]))
        except ValueError as e:
            raise DefinitionError(f"deadlines.yaml: {item['key']} due {due} does not exist in fiscal year {fiscal_year}: {e}") from None
    for key, text in ((d.get("overrides") or {}).get(int(fiscal_year)) or {}).items():
        day = parse_date(str(text))
        if day is None or key not in out:
            raise DefinitionError(f"deadlines.yaml: override {key}: {text!r} for fiscal year {fiscal_year} is not a known item with a date")
        out[key] = day
    return out


def km_outputs() -> list[str]:
    """The files a target village's ``reports/<code>/`` must hold for its KM to count as complete."""
    for item in settings("deadlines")["items"]:
        if item["key"] == "km":
            return list(item.get("outputs") or [])
    raise DefinitionError("deadlines.yaml has no km item")


def deadline_table(fiscal_year: int, today: dt.date | None = None, lang: str = "th") -> pd.DataFrame:
    """The due dates of the fiscal year in BE, with days left (negative: days overdue)."""
    today = today or dt.date.today()
    start, end = fiscal_year_bounds(fiscal_year)
    rows = [{label("col_item", lang): label("fy_bounds", lang, fy=fiscal_year), label("col_due", lang): f"{format_date(start, lang)} – {format_date(end, lang)}",
             label("col_days_left", lang): pd.NA}]
    for key, day in due_dates(fiscal_year).items():
        rows.append({label("col_item", lang): label(f"item_{key}", lang), label("col_due", lang): format_date(day, lang),
                     label("col_days_left", lang): (day - today).days})
    out = pd.DataFrame(rows)
    out[label("col_days_left", lang)] = out[label("col_days_left", lang)].astype("Int64")
    return out


# =============================================================================================
# the register (pure core)
# =============================================================================================
def read_log(log_rows: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Submission-log rows as ``item, level, village_code, sent_date (date)``; unreadable rows as problems."""
    from .thai import parse_date

    rows, problems = [], []
    for _, r in log_rows.iterrows():
        item = canonical_value("item", r["item"])
        lvl = canonical_value("level", r.get("level")) if r.get("level") is not None else "district"
        code = clean_code(r["village_code"], 8)
        day = parse_date(r["sent_date"]) if r["sent_date"] is not None else None
        if item is None or lvl is None or code is None or day is None:
            problems.append({"level": lvl, "code": code[:4] if code else None, "item": item, "village_code": code,
                             "file": r.get("source_file"), "row": r.get("source_row"),
                             "message_th": label("reg_log_unreadable", "th", item=r["item"], level=r.get("level"), code=r["village_code"], date=r["sent_date"]),
                             "message_en": label("reg_log_unreadable", "en", item=r["item"], level=r.get("level"), code=r["village_code"], date=r["sent_date"])})
            continue
        rows.append({"item": item, "level": lvl, "village_code": code, "sent_date": day,
                     "file": r.get("source_file"), "row": r.get("source_row")})
    return pd.DataFrame(rows, columns=["item", "level", "village_code", "sent_date", "file", "row"]), problems


def km_file_status(reports_dir: Path, village_codes, outputs: list[str]) -> pd.DataFrame:
    """Per village: which KM outputs are missing from ``reports/<code>/`` and the date the last
    present one was written (local time)."""
    rows = []
    for code in sorted(set(village_codes)):
        d = Path(reports_dir) / code
        present = [f for f in outputs if (d / f).is_file()]
        missing = [f for f in outputs if f not in present]
        ready = max((dt.datetime.fromtimestamp((d / f).stat().st_mtime).date() for f in present), default=None)
        rows.append({"village_code": code, "km_complete": not missing and bool(outputs), "km_missing": missing, "km_ready": ready})
    return pd.DataFrame(rows, columns=["village_code", "km_complete", "km_missing", "km_ready"])


def register_rows(areas: pd.DataFrame, targets: pd.DataFrame, log_rows: pd.DataFrame, km: pd.DataFrame,
                  due: dict[str, dt.date], today: dt.date) -> tuple[pd.DataFrame, list[dict]]:
    """One row per expected submission (area × item) with its status on ``today``.

    Parameters
    ----------
    areas : DataFrame
        ``level, code``: every district and province expected to submit.
    targets : DataFrame
        ``level, village_code``: the target list (a village's district or province from its code).
    log_rows : DataFrame
        :func:`read_log` output.
    km : DataFrame
        :func:`km_file_status` output.
    due : dict
        Due date per item (:func:`due_dates`).
    today : date
        The day the register is for.

    Returns
    -------
    (register, problems)
        ``register`` columns: ``level, code, item, village_code, due, due_passed, done, date,
        date_source, status`` (on_time, late, overdue, pending), ``days`` (late or overdue: days past due;
        pending: days left), ``missing``. ``problems``: log rows that contradict the target list.
    """
    width = {"district": 4, "province": 2}
    tmap = {}
    for t in targets.itertuples():
        tmap[(t.level, t.village_code[: width[t.level]])] = t.village_code
    km = km.set_index("village_code") if len(km) else km
    rows, problems = [], []
    for a in areas.itertuples():
        target = tmap.get((a.level, a.code))
        for item in ITEMS:
            sent = log_rows[(log_rows["item"] == item) & (log_rows["level"] == a.level)
                            & (log_rows["village_code"].str[: width[a.level]] == a.code)] if len(log_rows) else log_rows
            sent = sent.sort_values("sent_date")
            if len(sent) and target and set(sent["village_code"]) - {target}:
                other = ", ".join(sorted(set(sent["village_code"]) - {target}))
                problems.append({"level": a.level, "code": a.code, "item": item, "village_code": other,
                                 "file": sent["file"].iloc[0], "row": sent["row"].iloc[0],
                                 "message_th": label("reg_log_other_village", "th", sent=other, target=target),
                                 "message_en": label("reg_log_other_village", "en", sent=other, target=target)})
            missing: list[str] = []
            if item == "names":
                done = bool(len(sent))
                date = sent["sent_date"].iloc[0] if done else None
                source = "log" if done else None
            else:
                k = km.loc[target] if target and len(km) and target in km.index else None
                complete = bool(k is not None and k["km_complete"])
                missing = list(k["km_missing"]) if k is not None else []
                done = complete
                if complete and len(sent):
                    date, source = sent["sent_date"].iloc[0], "log"
                elif complete:
                    date, source = k["km_ready"], "files"
                else:
                    date, source = None, None
                if len(sent) and not complete:
                    problems.append({"level": a.level, "code": a.code, "item": item, "village_code": target,
                                     "file": sent["file"].iloc[0], "row": sent["row"].iloc[0],
                                     "message_th": label("reg_logged_incomplete", "th", missing=", ".join(missing) or label("reg_no_target", "th")),
                                     "message_en": label("reg_logged_incomplete", "en", missing=", ".join(missing) or label("reg_no_target", "en"))})
            d = due[item]
            if done:
                status = "on_time" if date <= d else "late"
                days = max(0, (date - d).days)
            elif today > d:
                status, days = "overdue", (today - d).days
            else:
                status, days = "pending", (d - today).days
            rows.append({"level": a.level, "code": a.code, "item": item, "village_code": target, "due": d, "due_passed": today > d,
                         "done": done, "date": date, "date_source": source, "status": status, "days": days,
                         "missing": ", ".join(missing) or None})
    cols = ["level", "code", "item", "village_code", "due", "due_passed", "done", "date", "date_source", "status", "days", "missing"]
    return pd.DataFrame(rows, columns=cols), problems


def reporting_rates(register: pd.DataFrame) -> pd.DataFrame:
    """Completeness and on-time rates per district and per province (DHIS2-style).

    A district counts its own rows; a province counts its districts' rows and its own.
    ``completeness`` = received / expected (every item of the fiscal year);
    ``on_time_rate`` = received on time / items already due (blank while nothing is due yet).
    Columns ``level, code, expected, due, received, on_time, overdue, completeness, on_time_rate``.
    """
    rows = []

    def add(level, code, part):
        n = len(part)
        passed = part["due_passed"].astype(bool)
        due = int(passed.sum())
        rec = int(part["done"].sum())
        ok = int(((part["status"] == "on_time") & passed).sum())
        rows.append({"level": level, "code": code, "expected": n, "due": due, "received": rec, "on_time": ok,
                     "overdue": int((part["status"] == "overdue").sum()),
                     "completeness": rec / n if n else np.nan, "on_time_rate": ok / due if due else np.nan})

    for code, part in register[register["level"] == "district"].groupby("code", sort=True):
        add("district", code, part)
    for p in sorted(set(register["code"].str[:2])):
        add("province", p, register[register["code"].str[:2] == p])
    return pd.DataFrame(rows, columns=["level", "code", "expected", "due", "received", "on_time", "overdue", "completeness", "on_time_rate"])


# =============================================================================================
# workspace
# =============================================================================================
@dataclass
class Register:
    """The submission register of one fiscal year on one day."""

    fiscal_year: int
    today: dt.date
    due: dict
    rows: pd.DataFrame
    rates: pd.DataFrame
    problems: pd.DataFrame
    names: pd.DataFrame = field(repr=False)
    targets_from: str = ""
    run_time: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))
    files: list[Path] = field(default_factory=list)

    @property
    def overdue(self) -> pd.DataFrame:
        """The overdue submissions, longest overdue first."""
        return self.rows[self.rows["status"] == "overdue"].sort_values(["days", "level", "code"], ascending=[False, True, True])

    def __str__(self) -> str:
        lines = [label("reg_summary", "th", fy=self.fiscal_year, today=format_date(self.today, "th"),
                       names=format_date(self.due["names"], "th"), km=format_date(self.due["km"], "th")),
                 label("reg_summary", "en", fy=self.fiscal_year, today=format_date(self.today, "en"),
                       names=format_date(self.due["names"], "en"), km=format_date(self.due["km"], "en"))]
        for r in self.rates.itertuples():
            lines.append(f"  {label('level_' + r.level)} {r.code} {name_of(self.names, r.code)}: "
                         f"{label('reg_rate_line', 'th', received=r.received, expected=r.expected, c=_pct(r.completeness), o=_pct(r.on_time_rate), overdue=r.overdue)}")
        for o in self.overdue.itertuples():
            lines.append(f"  ⚠ {label('reg_overdue_line', 'th', level=label('level_' + o.level), code=o.code, item=label('item_' + o.item), days=o.days)}")
        lines += [f"  → {f}" for f in self.files]
        return "\n".join(lines)


def _pct(x) -> str:
    return "–" if x is None or pd.isna(x) else f"{100 * x:.0f}%"


def expected_areas(ws: Workspace, targets: pd.DataFrame | None) -> pd.DataFrame:
    """Every district of the workspace and every province of those districts."""
    from .selection import workspace_districts

    districts = set(workspace_districts(ws))
    if targets is not None and len(targets):
        districts |= {v[:4] for v in targets["village_code"]}
    rows = [("district", d) for d in sorted(districts)] + [("province", p) for p in sorted({d[:2] for d in districts})]
    return pd.DataFrame(rows, columns=["level", "code"])


def submission_register(ws: Workspace, fiscal_year: int | None = None, today: dt.date | None = None, *,
                        code_lists_dir: str | None = None) -> Register:
    """The register of ``fiscal_year`` on ``today`` (default: the real today).

    The targets come from the target list ``vilwork select`` wrote; when there is none yet, the
    selection is made in memory (and the register says so).
    """
    from .selection import default_fiscal_year, read_target_list, select

    today = today or dt.date.today()
    fy = int(fiscal_year) if fiscal_year else default_fiscal_year(ws, today)
    targets = read_target_list(ws, fy)
    source = label("reg_targets_file", "th")
    if targets is None:
        try:
            res = select(ws, fy, code_lists_dir=code_lists_dir)
            targets = res.targets[["level", "village_code"]]
            source = label("reg_targets_memory", "th")
        except InputError:
            targets = pd.DataFrame(columns=["level", "village_code"])
            source = label("reg_targets_none", "th")
    targets = targets[["level", "village_code"]]
    logs = read_tables(find_files(raw_dir(ws) / str(fy), "submissions"), "submissions")
    log_rows, problems = read_log(logs)
    km = km_file_status(ws.reports, targets["village_code"], km_outputs())
    due = due_dates(fy)
    rows, p2 = register_rows(expected_areas(ws, targets), targets, log_rows, km, due, today)
    probs = pd.DataFrame(problems + p2, columns=["level", "code", "item", "village_code", "file", "row", "message_th", "message_en"])
    return Register(fy, today, due, rows, reporting_rates(rows), probs, place_names(ws, code_lists_dir), source)


def register_sheet(reg: Register, lang: str = "th") -> pd.DataFrame:
    r = reg.rows
    return pd.DataFrame({
        label("col_level", lang): [label(f"level_{x}", lang) for x in r["level"]],
        label("col_code", lang): r["code"],
        label("col_name", lang): [name_of(reg.names, x, lang) for x in r["code"]],
        label("col_item", lang): [label(f"item_{x}", lang) for x in r["item"]],
        label("col_target", lang): r["village_code"].fillna("–"),
        label("col_village_name", lang): [name_of(reg.names, x, lang) if isinstance(x, str) else "–" for x in r["village_code"]],
        label("col_due", lang): [format_date(x, lang) for x in r["due"]],
        label("col_done", lang): yes_no(r["done"], lang),
        label("col_date", lang): [format_date(x, lang) if x is not None and not pd.isna(x) else "–" for x in r["date"]],
        label("col_date_source", lang): [label(f"src_{x}", lang) if isinstance(x, str) else "–" for x in r["date_source"]],
        label("col_reg_status", lang): [label(f"reg_{x}", lang) for x in r["status"]],
        label("col_days", lang): r["days"],
        label("col_missing", lang): [m if isinstance(m, str) else (label("reg_no_target", lang) if not v else "")
                                     for m, v in zip(r["missing"], r["village_code"])],
    })


def rates_sheet(reg: Register, lang: str = "th") -> pd.DataFrame:
    r = reg.rates
    return pd.DataFrame({
        label("col_level", lang): [label(f"level_{x}", lang) for x in r["level"]],
        label("col_code", lang): r["code"],
        label("col_name", lang): [name_of(reg.names, x, lang) for x in r["code"]],
        label("col_expected", lang): r["expected"],
        label("col_due_so_far", lang): r["due"],
        label("col_received", lang): r["received"],
        label("col_on_time", lang): r["on_time"],
        label("col_overdue", lang): r["overdue"],
        label("col_completeness", lang): r["completeness"].round(4),
        label("col_on_time_rate", lang): r["on_time_rate"].round(4),
    })


def write_register(ws: Workspace, reg: Register, lang: str = "th") -> list[Path]:
    """Write ``reports/_programme/ทะเบียนการส่งงาน_<FY>.xlsx`` (register, rates, overdue, problems,
    due dates) and ``submission_register_<FY>.csv``."""
    out = out_dir(ws)
    overdue = register_sheet(Register(reg.fiscal_year, reg.today, reg.due, reg.overdue, reg.rates, reg.problems, reg.names), lang)
    p = reg.problems
    probs = pd.DataFrame({label("col_level", lang): [label(f"level_{x}", lang) if x else "–" for x in p["level"]],
                          label("col_code", lang): p["code"], label("col_village", lang): p["village_code"],
                          label("col_file", lang): p["file"], label("col_row", lang): p["row"],
                          label("col_message", lang): p[f"message_{lang}"]})
    prov = provenance({"fiscal_year": reg.fiscal_year, "today": reg.today.isoformat(), "lang": lang, "targets": reg.targets_from},
                      label("reg_period", lang, fy=reg.fiscal_year), reg.run_time, lang)
    sheets = {
        label("sheet_register", lang): register_sheet(reg, lang),
        label("sheet_rates", lang): rates_sheet(reg, lang),
        label("sheet_overdue", lang): overdue,
        label("sheet_log_problems", lang): probs,
        label("sheet_deadlines", lang): deadline_table(reg.fiscal_year, reg.today, lang),
        label("sheet_provenance", lang): pd.DataFrame(list(prov.items()), columns=[label("col_item", lang), label("col_value", lang)]),
    }
    notes = {label("sheet_register", lang): label("note_register", lang, fy=reg.fiscal_year, today=format_date(reg.today, lang))}
    files = [write_xlsx(sheets, out / label("file_register_xlsx", "th", fy=reg.fiscal_year), notes=notes),
             write_csv(register_sheet(reg, lang), out / label("file_register_csv", "th", fy=reg.fiscal_year))]
    reg.files = files
    return files


def parse_today(text: str | None) -> dt.date | None:
    """A ``--today`` value: ISO ``2019-03-01`` or BE ``01/03/2562`` (Thai digits allowed)."""
    from .thai import parse_date

    if not text:
        return None
    day = parse_date(clean_text(text))
    if day is None:
        raise InputError(label("reg_bad_today", "en", value=text))
    return day


__all__ = [
    "fiscal_year_of", "fiscal_year_bounds", "due_dates", "km_outputs", "deadline_table", "read_log", "km_file_status",
    "register_rows", "reporting_rates", "submission_register", "write_register", "Register", "parse_today",
]
