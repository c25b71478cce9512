"""Running the programme across villages: shared I/O of the programme layer, roll-ups by district
and province, maps on the real HDX COD-AB boundaries, trends between two survey years.

The programme layer (issue 6) is four modules: :mod:`vilwork.selection` (target villages),
:mod:`vilwork.deadlines` (due dates and the submission register), :mod:`vilwork.quality`
(data quality across villages) and this one, which also holds what the others share: the
definitions under ``definitions/programme/``, their labels, reading the files a district fills in,
place names, and writing Excel, CSV and HTML safely. ``notebooks/programme.ipynb`` calls the
functions below one per cell; ``vilwork programme`` runs it.
"""
from __future__ import annotations

import datetime as dt
import html
import math
import os
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import __version__
from .errors import DefinitionError, InputError, WorkspaceError
from .i18n import check_lang, format_datetime, format_pct
from .log import get_logger
from .registry import definitions_dir, fold_header
from .workspace import Workspace

log = get_logger(__name__)

OUT_DIR = "_programme"
LEVEL_WIDTH = {"province": 2, "district": 4, "tambon": 6, "village": 8}
_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")


# =============================================================================================
# definitions and labels
# =============================================================================================
def settings(name: str) -> dict:
    """One definition file of the programme layer, ``definitions/programme/<name>.yaml``.

    Raises
    ------
    DefinitionError
        When the file is missing or not valid YAML.
    """
    return dict(_settings(str(definitions_dir()), name))


@lru_cache(maxsize=None)
def _settings(base: str, name: str) -> dict:
    path = Path(base) / "programme" / f"{name}.yaml"
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f) or {}
    except FileNotFoundError:
        raise DefinitionError(f"definition file {path} is missing") from None
    except yaml.YAMLError as e:
        raise DefinitionError(f"definition file {path} is not valid YAML: {e}") from None


def label(key: str, lang: str = "th", /, **fmt) -> str:
    """A programme label (``definitions/programme/labels.yaml``) in ``lang``, formatted with ``fmt``.

    Raises
    ------
    DefinitionError
        When the key is missing: a silent fallback would put English into Thai outputs.
    """
    entry = settings("labels").get(key)
    if entry is None:
        raise DefinitionError(f"label {key!r} is not in definitions/programme/labels.yaml")
    text = entry.get(check_lang(lang)) or entry["th"]
    return text.format(**fmt) if fmt else text


def yes_no(values, lang: str = "th") -> list[str]:
    """Booleans as the words a reader expects (ใช่/ไม่ใช่, yes/no)."""
    return [label("word_yes" if bool(v) else "word_no", lang) for v in values]


def out_dir(ws: Workspace) -> Path:
    """``reports/_programme/``: where every programme output goes."""
    return ws.reports / OUT_DIR


def raw_dir(ws: Workspace) -> Path:
    """``data/raw/programme/``: the files the district fills in (never written by vilwork)."""
    return ws.raw / "programme"


# =============================================================================================
# reading the files a district fills in
# =============================================================================================
def clean_text(value) -> str | None:
    """Trimmed NFC text with Thai digits as ASCII and no-break spaces as spaces; None when blank."""
    import unicodedata

    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    s = unicodedata.normalize("NFC", str(value)).replace("\u00a0", " ").replace("\ufeff", "")
    s = " ".join(s.translate(_THAI_DIGITS).split())
    return s or None


def clean_code(value, width: int) -> str | None:
    """``value`` as a code of exactly ``width`` digits, else None (never padded or repaired).

    Province codes run 10–96, so a village code never starts with 0: a 7-digit value is a wrong
    code, not a lost leading zero. A trailing ``.0`` from Excel is accepted.
    """
    s = clean_text(value)
    if s is None:
        return None
    s = re.sub(r"\.0+$", "", s)
    return s if len(s) == width and s.isdigit() else None


def clean_number(value) -> float | None:
    """A number from a cell (Thai digits, thousands commas allowed); None when blank or not a number."""
    s = clean_text(value)
    if s is None:
        return None
    try:
        x = float(s.replace(",", ""))
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def canonical_value(kind: str, value) -> str | None:
    """A cell read as a canonical word of ``columns.yaml`` ``values.<kind>`` (e.g. อำเภอ → district)."""
    s = clean_text(value)
    if s is None:
        return None
    folded = fold_header(s)
    for canon, words in (settings("columns")["values"][kind] or {}).items():
        if folded in {fold_header(str(w)) for w in words}:
            return str(canon)
    return None


def _read_any(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            return pd.read_excel(path, dtype=str, sheet_name=0)
        except Exception as e:  # openpyxl raises many kinds for a broken file
            raise InputError(f"cannot read the workbook: {e}", str(path)) from None
    for enc in ("utf-8-sig", "cp874"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise InputError("the file is empty", str(path)) from None
    raise InputError("the file is neither UTF-8 nor Windows-874 text", str(path))


def read_table(path: str | os.PathLike, table: str) -> pd.DataFrame:
    """Read a CSV or Excel file of ``table`` (candidates, previous, submissions, targets).

    Headers are matched to canonical names through ``columns.yaml`` (Thai or English). Values
    stay text; ``source_file`` and ``source_row`` (the 1-based spreadsheet row, header = 1) are
    added so every message can point at the cell.

    Raises
    ------
    InputError
        When the file cannot be read or lacks a required column (the message lists the headers
        accepted).
    """
    path = Path(path)
    spec = settings("columns")
    cols: dict = spec["tables"][table]
    raw = _read_any(path)
    lookup = {fold_header(str(alias)): canon for canon, aliases in cols.items() for alias in aliases}
    rename = {}
    for c in raw.columns:
        canon = lookup.get(fold_header(str(c)))
        if canon and canon not in rename.values():
            rename[c] = canon
    df = raw.rename(columns=rename)[list(rename.values())].copy()
    missing = [c for c in spec["required"][table] if c not in df.columns]
    if missing:
        want = "; ".join(f"{c} ({cols[c][0]})" for c in missing)
        raise InputError(f"no column for {want}; headers found: {', '.join(map(str, raw.columns))}", str(path))
    for c in cols:
        if c not in df.columns:
            df[c] = None
    df = df[list(cols)].astype(object).where(df[list(cols)].notna(), None)
    df = df.map(lambda v: None if v is None or str(v).strip() == "" else v)
    keep = df.notna().any(axis=1)  # spreadsheet rows left blank are not records
    df["source_file"] = path.name
    df["source_row"] = np.arange(2, len(df) + 2)
    return df[keep].reset_index(drop=True)


def read_tables(paths, table: str) -> pd.DataFrame:
    """Every file of ``paths`` read with :func:`read_table` and stacked (empty frame if none)."""
    frames = [read_table(p, table) for p in paths]
    if not frames:
        cols = list(settings("columns")["tables"][table]) + ["source_file", "source_row"]
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)


def find_files(folder: Path, stem: str) -> list[Path]:
    """CSV and Excel files in ``folder`` whose name starts with ``stem`` (sorted; ~$ lock files skipped)."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and p.name.lower().startswith(stem) and p.suffix.lower() in (".csv", ".xlsx", ".xlsm")
        and not p.name.startswith("~$")
    )


# =============================================================================================
# places: names of areas, from the workspace's place list and the official code lists
# =============================================================================================
def _search(ws: Workspace, folders: list[str], first: str | os.PathLike | None, filename: str) -> Path | None:
    cands = ([Path(first)] if first else []) + [ws.root / f for f in folders]
    for d in cands:
        if (d / filename).is_file():
            return d / filename
    return None


def read_code_lists(folder: str | os.PathLike) -> pd.DataFrame:
    """The official code lists in ``folder`` (``maps.yaml`` ``code_lists``) as one place table.

    Returns columns ``code, level, name_th, name_en, lat, lon`` (lat/lon only for tambons).
    Codes are the DOPA codes (``CODE``, ``DISTRICT_CODE``, ``SUB_DISTRICT_CODE``); the ``*_ID``
    columns are surrogate keys and are never used.
    """
    spec = settings("maps")["code_lists"]["levels"]
    frames = []
    for level, s in spec.items():
        p = Path(folder) / s["file"]
        if not p.is_file():
            continue
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        f = pd.DataFrame({
            "code": [clean_code(c, LEVEL_WIDTH[level]) for c in raw[s["code"]]],
            "level": level,
            "name_th": raw[s["name_th"]].map(clean_text),
            "name_en": raw[s["name_en"]].map(clean_text),
        })
        f["lat"] = pd.to_numeric(raw[s["lat"]], errors="coerce") if s.get("lat") else np.nan
        f["lon"] = pd.to_numeric(raw[s["lon"]], errors="coerce") if s.get("lon") else np.nan
        frames.append(f[f["code"].notna()])
    if not frames:
        return pd.DataFrame(columns=["code", "level", "name_th", "name_en", "lat", "lon"])
    return pd.concat(frames, ignore_index=True)


def place_names(ws: Workspace, code_lists_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Names of every place: the workspace's place list first, then the official code lists.

    Columns ``code, level, name_th, name_en, lat, lon``; one row per code.
    """
    frames = []
    p = ws.processed / "places.parquet"
    if p.exists():
        pl = pd.read_parquet(p)
        pl = pl.assign(code=pl["code"].astype(str))
        for c in ("name_th", "name_en"):
            if c not in pl.columns:
                pl[c] = None
        pl["lat"] = np.nan
        pl["lon"] = np.nan
        frames.append(pl[["code", "level", "name_th", "name_en", "lat", "lon"]])
    spec = settings("maps")["code_lists"]
    first = spec["levels"]["province"]["file"]
    found = _search(ws, spec["search"], code_lists_dir, first)
    folder = found.parent if found else (Path(code_lists_dir) if code_lists_dir else None)
    if folder is not None and folder.is_dir():
        frames.append(read_code_lists(folder))
    if not frames:
        return pd.DataFrame(columns=["code", "level", "name_th", "name_en", "lat", "lon"])
    out = pd.concat(frames, ignore_index=True)
    return out.drop_duplicates("code", keep="first").reset_index(drop=True)


def name_of(names: pd.DataFrame, code: str | None, lang: str = "th") -> str:
    """The name of ``code`` in ``names`` (Thai, or English when there is one); the code if unknown."""
    if code is None or (isinstance(code, float) and math.isnan(code)):
        return ""
    hit = names.loc[names["code"] == str(code)] if len(names) else names
    if hit.empty:
        return str(code)
    col = "name_en" if lang == "en" and clean_text(hit["name_en"].iloc[0]) else "name_th"
    return clean_text(hit[col].iloc[0]) or str(code)


# =============================================================================================
# writing: Excel with text codes and no formulas, CSV safe for Excel, escaped HTML
# =============================================================================================
from .disclosure import neutralise  # noqa: E402  (the one formula-neutralising helper; re-exported here)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` as UTF-8 CSV with a BOM (Excel opens Thai correctly), formulas neutralised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safe = frame.astype(object).map(neutralise) if len(frame) else frame
    tmp = path.with_name(f".{path.name}.tmp")
    safe.to_csv(tmp, index=False, encoding="utf-8-sig")
    os.replace(tmp, path)
    return path


def write_xlsx(sheets: dict[str, pd.DataFrame], path: str | os.PathLike, *, notes: dict[str, str] | None = None) -> Path:
    """Write one sheet per frame. Every text value is a text cell (so codes keep their leading
    digits and nothing is ever a formula); numbers stay numbers; headers bold, first row frozen.

    ``notes`` maps a sheet name to a line written above the table (e.g. what the sheet is).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    wb.remove(wb.active)
    head_fill = PatternFill("solid", fgColor="DDE6F0")
    for name, frame in sheets.items():
        ws = wb.create_sheet(_sheet_title(name))
        r0 = 1
        note = (notes or {}).get(name)
        if note:
            c = ws.cell(row=1, column=1)
            _set_text(c, note)
            c.font = Font(italic=True)
            r0 = 3
        for j, col in enumerate(frame.columns, start=1):
            c = ws.cell(row=r0, column=j)
            _set_text(c, str(col))
            c.font = Font(bold=True)
            c.fill = head_fill
            c.alignment = Alignment(wrap_text=True, vertical="top")
        for i, row in enumerate(frame.itertuples(index=False), start=r0 + 1):
            for j, v in enumerate(row, start=1):
                c = ws.cell(row=i, column=j)
                if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
                    continue
                if isinstance(v, (bool, np.bool_)):
                    _set_text(c, "✓" if v else "✗")
                elif isinstance(v, (int, float, np.integer, np.floating)):
                    c.value = float(v) if isinstance(v, (float, np.floating)) else int(v)
                elif isinstance(v, (dt.date, dt.datetime, pd.Timestamp)):
                    _set_text(c, str(v))
                else:
                    _set_text(c, str(v))
        for j, col in enumerate(frame.columns, start=1):
            width = max([len(str(col))] + [len(str(v)) for v in frame.iloc[:200, j - 1].tolist()])
            ws.column_dimensions[get_column_letter(j)].width = min(60, max(8, width * 1.1 + 2))
        ws.freeze_panes = ws.cell(row=r0 + 1, column=1)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    wb.save(tmp)
    os.replace(tmp, path)
    return path


def _set_text(cell, text: str) -> None:
    # openpyxl turns a value starting with "=" into a formula; forcing the type keeps it text.
    cell.value = text
    cell.data_type = "s"
    cell.number_format = "@"


def _sheet_title(name: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", name)[:31]


_CSS = """
body{font-family:Sarabun,Laksaman,'TH Sarabun New','Noto Sans Thai',sans-serif;margin:2em auto;max-width:1150px;color:#1a1a1a;font-size:16px;line-height:1.5}
h1{color:#1f4e79;font-size:1.7em;margin-bottom:.2em}h2{color:#1f4e79;border-bottom:2px solid #dde6f0;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.92em}th,td{border:1px solid #c8d2dc;padding:.25em .55em;vertical-align:top}
th{background:#dde6f0;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.prov th{background:none;border:none;padding-right:1em}.prov td{border:none}
.note{color:#555;font-style:italic}.warn{color:#8e1b10;font-weight:bold}.ok{color:#1e7b34}
.maps{display:flex;flex-wrap:wrap;gap:1em}.maps figure{margin:0}.legend span{display:inline-block;width:1em;height:1em;margin:0 .3em 0 1em;vertical-align:middle;border:1px solid #999}
"""


def html_table(frame: pd.DataFrame, *, pct: tuple = (), colors: dict | None = None, max_rows: int | None = None) -> str:
    """An escaped HTML table of ``frame``; ``pct`` columns shown as percentages, ``colors`` maps a
    column to a function value → background colour."""
    if frame is None or frame.empty:
        return "<p class='note'>–</p>"
    rows = frame if max_rows is None else frame.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in rows.columns)
    body = []
    for rec in rows.itertuples(index=False):
        cells = []
        for col, v in zip(rows.columns, rec):
            missing = v is None or v is pd.NA or v is pd.NaT or (isinstance(v, (float, np.floating)) and math.isnan(v))
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            if missing:
                text = "–"
            elif col in pct:
                text = format_pct(v)
            elif isinstance(v, (float, np.floating)):
                text = f"{v:,.2f}".rstrip("0").rstrip(".")
            elif isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
                text = f"{v:,}" if abs(v) >= 10000 else str(v)
            else:
                text = str(v)
            style = ""
            if colors and col in colors and not missing:
                style = f" style='background:{html.escape(colors[col](v))}'"
            cells.append(f"<td class='{'num' if num else ''}'{style}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = "" if max_rows is None or len(frame) <= max_rows else f"<p class='note'>… {len(frame) - max_rows:,} more</p>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def provenance(params: dict, data_period: str, run_time: dt.datetime, lang: str = "th") -> dict:
    """What every programme output states: parameters, data period, run time, version."""
    return {
        label("prov_parameters", lang): ", ".join(f"{k}={v}" for k, v in params.items() if v is not None),
        label("prov_period", lang): data_period,
        label("prov_run_time", lang): format_datetime(run_time, lang),
        label("prov_version", lang): f"vilwork {__version__}",
    }


def html_page(title: str, parts: list[str], prov: dict, lang: str = "th") -> str:
    """A self-contained HTML page (no scripts, no external files): title, provenance, ``parts``
    (already-escaped HTML fragments)."""
    prov_rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in prov.items())
    return (
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<table class='prov'>{prov_rows}</table>{''.join(parts)}</body></html>"
    )


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write ``text`` atomically (a killed run never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


# =============================================================================================
# the programme view: one province (or the whole workspace) in one survey year
# =============================================================================================
@dataclass
class Programme:
    """What ``notebooks/programme.ipynb`` works on: the workspace, optionally one province, one
    survey year, one fiscal year. Open it with :func:`open_programme`; every notebook cell calls
    one function with it."""

    ws: Workspace
    province: str | None
    year: int | None
    fiscal_year: int
    lang: str = "th"
    boundaries_dir: str | None = None
    code_lists_dir: str | None = None
    today: dt.date = field(default_factory=dt.date.today)
    run_time: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))

    @cached_property
    def names(self) -> pd.DataFrame:
        return place_names(self.ws, self.code_lists_dir)

    def name(self, code: str) -> str:
        return name_of(self.names, code, self.lang)

    def in_scope(self, codes: pd.Series) -> pd.Series:
        """Mask of codes inside the chosen province (all True without one)."""
        codes = codes.astype(str)
        return codes.str.startswith(self.province) if self.province else pd.Series(True, index=codes.index)

    def read(self, name: str) -> pd.DataFrame:
        """A processed Parquet file restricted to the province (empty frame when absent).

        The filter runs in DuckDB, so a national file is never loaded whole for one province.
        """
        import duckdb

        p = self.ws.processed / name
        if not p.exists():
            return pd.DataFrame()
        with duckdb.connect() as con:
            cols = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [p.as_posix()]).fetchall()]
            col = "code" if "code" in cols else "village_code"
            sql = "SELECT * FROM read_parquet(?)"
            params: list = [p.as_posix()]
            if self.province:
                sql += f" WHERE CAST({col} AS VARCHAR) LIKE ?"
                params.append(f"{self.province}%")
            df = con.execute(sql, params).df()
        df[col] = df[col].astype(str)
        return df.reset_index(drop=True)

    @cached_property
    def selection(self):
        """The target selection of the fiscal year (None when no candidates file exists)."""
        from .selection import select

        try:
            return select(self.ws, self.fiscal_year, code_lists_dir=self.code_lists_dir)
        except InputError as e:
            log.info("no selection: %s", e)
            return None

    @property
    def targets(self) -> pd.DataFrame:
        """``level, village_code, …`` of the picks inside the province (empty without a selection)."""
        s = self.selection
        if s is None or s.targets.empty:
            return pd.DataFrame(columns=["level", "province_code", "district_code", "tambon_code", "village_code", "score", "reason_th", "reason_en"])
        t = s.targets
        return t[self.in_scope(t["village_code"])].reset_index(drop=True)

    @cached_property
    def register(self):
        from .deadlines import submission_register

        return submission_register(self.ws, self.fiscal_year, self.today, code_lists_dir=self.code_lists_dir)

    def provenance(self) -> dict:
        return provenance({"province": self.province or "all", "year": self.year, "fiscal_year": self.fiscal_year,
                           "lang": self.lang, "today": self.today.isoformat()},
                          label("pg_period", self.lang, year=self.year or "–", fy=self.fiscal_year), self.run_time, self.lang)

    @property
    def title(self) -> str:
        area = f"{label('level_province', self.lang)} {self.name(self.province)}" if self.province else label("pg_all_areas", self.lang)
        return label("pg_title", self.lang, area=area, fy=self.fiscal_year)


def open_programme(root: str | os.PathLike | None = None, province: str | None = None, year: int | None = None,
                   fiscal_year: int | None = None, lang: str = "th", boundaries_dir: str | None = None,
                   code_lists_dir: str | None = None, today: str | dt.date | None = None) -> Programme:
    """Open the programme view of the workspace at ``root``.

    Parameters
    ----------
    province : str, optional
        2-digit province code; default every province of the workspace.
    year : int, optional
        BE survey year; default the latest with indicators.
    fiscal_year : int, optional
        BE fiscal year of the selection and deadlines; default the latest with a candidates file,
        else the fiscal year of ``today``.
    boundaries_dir, code_lists_dir : str, optional
        Folders of the HDX COD-AB files and the official code lists (``maps.yaml`` says where
        they are looked for otherwise).
    today : str or date, optional
        The day the submission register is for (ISO or BE ``dd/mm/yyyy``); default today.

    Raises
    ------
    WorkspaceError
        When ``province`` is not a 2-digit code.
    """
    from .deadlines import parse_today
    from .selection import default_fiscal_year

    ws = Workspace(root)
    check_lang(lang)
    if province is not None:
        province = clean_code(province, 2)
        if province is None:
            raise WorkspaceError("province must be a 2-digit code, e.g. 50")
    day = parse_today(today) if isinstance(today, str) else (today or dt.date.today())
    if year is None:
        p = ws.processed / "indicators_village.parquet"
        year = int(pd.read_parquet(p, columns=["year"])["year"].max()) if p.exists() else None
    fy = int(fiscal_year) if fiscal_year else default_fiscal_year(ws, day)
    return Programme(ws, province, int(year) if year else None, fy, lang, boundaries_dir, code_lists_dir, day)


def heading(p: Programme):
    """The title and provenance of the programme notebook, as HTML for the notebook."""
    from IPython.display import HTML

    rows = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in p.provenance().items())
    return HTML(f"<h2>{html.escape(p.title)}</h2><table>{rows}</table>")


# =============================================================================================
# selection, deadlines and register in the notebook
# =============================================================================================
def targets_table(p: Programme) -> pd.DataFrame:
    """The target list inside the province, in the department's shape."""
    from .selection import target_list

    if p.selection is None:
        return pd.DataFrame({label("col_message", p.lang): [label("pg_no_selection", p.lang, fy=p.fiscal_year)]})
    tl = target_list(p.selection, p.lang)
    code_col = settings("columns")["tables"]["targets"]["village_code"][0] if p.lang == "th" else "village_code"
    return tl[p.in_scope(tl[code_col])].reset_index(drop=True)


def selection_status(p: Programme) -> pd.DataFrame:
    """Every district and province: picked, blocked, no candidates, no eligible — with the message."""
    from .selection import status_sheet

    if p.selection is None:
        return pd.DataFrame()
    s = status_sheet(p.selection, p.lang)
    return s[p.in_scope(s[label("col_code", p.lang)])].reset_index(drop=True)


def deadlines_table(p: Programme) -> pd.DataFrame:
    """The fiscal year and the due dates (BE), with the days left on ``today``."""
    from .deadlines import deadline_table

    return deadline_table(p.fiscal_year, p.today, p.lang)


def register_rates(p: Programme) -> pd.DataFrame:
    """Completeness and on-time rates per district and province."""
    from .deadlines import rates_sheet

    s = rates_sheet(p.register, p.lang)
    return s[p.in_scope(s[label("col_code", p.lang)])].reset_index(drop=True)


def overdue_table(p: Programme) -> pd.DataFrame:
    """The overdue submissions inside the province, longest overdue first."""
    from .deadlines import Register, register_sheet

    r = p.register
    od = r.overdue
    od = od[p.in_scope(od["code"])]
    return register_sheet(Register(r.fiscal_year, r.today, r.due, od, r.rates, r.problems, r.names), p.lang)


# =============================================================================================
# roll-ups by district and province
# =============================================================================================
def _official(ind: pd.DataFrame, unit_order: list[str]) -> pd.DataFrame:
    """One row per (year, code, indicator): the first unit of ``unit_order`` present."""
    order = {u: i for i, u in enumerate(unit_order)}
    ind = ind.assign(_u=ind["unit"].map(order).fillna(len(order)))
    return ind.sort_values("_u").drop_duplicates(["year", "code", "indicator"], keep="first").drop(columns="_u")


def pass_rates(indicators: pd.DataFrame, year: int, unit_order: list[str] | None = None) -> pd.DataFrame:
    """Per area: the mean pass rate over its indicators and the pass rate of each group.

    ``indicators``: rows of ``indicators_<level>.parquet``. Group rates use the ``household``
    unit, else ``member``. Columns ``code, indicators, mean_pass_rate, group_1 … group_5``.
    """
    unit_order = unit_order or settings("trends")["unit_order"]
    df = indicators[indicators["year"].astype(int) == int(year)]
    ind = _official(df[df["indicator"].notna()], unit_order)
    out = ind.groupby("code").agg(indicators=("indicator", "nunique"), mean_pass_rate=("pass_rate", "mean"))
    grp = df[df["indicator"].isna() & df["group"].notna()]
    if len(grp):
        grp = grp.assign(indicator=grp["group"])  # reuse the unit choice on group rows
        grp = _official(grp, ["household", "member"])
        wide = grp.pivot_table(index="code", columns="group", values="pass_rate", aggfunc="first")
        wide.columns = [f"group_{int(g)}" for g in wide.columns]
        out = out.join(wide, how="outer")
    return out.reset_index()


def pass_rate_table(p: Programme, level: str = "district") -> pd.DataFrame:
    """Pass rates by ``level`` (district or province) in the survey year, labelled for reading."""
    from .registry import indicator_set

    ind = p.read(f"indicators_{level}.parquet")
    if ind.empty or p.year is None:
        return pd.DataFrame()
    pr = pass_rates(ind, p.year)
    iset = indicator_set(p.year)
    out = pd.DataFrame({label("col_code", p.lang): pr["code"], label("col_name", p.lang): [p.name(c) for c in pr["code"]],
                        label("pg_mean_pass", p.lang): pr["mean_pass_rate"].round(4)})
    for c in [c for c in pr.columns if c.startswith("group_")]:
        out[iset.group_name(int(c.split("_")[1]), p.lang)] = pr[c].round(4)
    return out


def pass_rate_chart(p: Programme, level: str = "district"):
    """Mean pass rate per area as horizontal bars in the shared colour bands."""
    from . import charts

    ind = p.read(f"indicators_{level}.parquet")
    if ind.empty or p.year is None:
        return None
    pr = pass_rates(ind, p.year).sort_values("mean_pass_rate", ascending=False)
    return charts.hbar([f"{p.name(c)} ({c})" for c in pr["code"]], pr["mean_pass_rate"],
                       colors=[charts.band_color(x) for x in pr["mean_pass_rate"]],
                       text=[format_pct(x) for x in pr["mean_pass_rate"]],
                       title=label("pg_chart_pass", p.lang, level=label(f"level_{level}", p.lang), year=p.year))


def poverty_table(p: Programme, level: str = "district") -> pd.DataFrame:
    """Share of people poor (TPMAP union, and by dimension) per area in the survey year."""
    from .registry import poverty_dimensions

    pov = p.read(f"poverty_{level}.parquet")
    if pov.empty or p.year is None:
        return pd.DataFrame()
    pov = pov[pov["year"].astype(int) == int(p.year)]
    wide = pov.pivot_table(index="code", columns="dimension", values="share", aggfunc="first")
    persons = pov.groupby("code")["persons"].max()
    out = pd.DataFrame({label("col_code", p.lang): wide.index, label("col_name", p.lang): [p.name(c) for c in wide.index],
                        label("pg_persons", p.lang): persons.reindex(wide.index).to_numpy()})
    if "any" in wide.columns:
        out[label("pg_poor_any", p.lang)] = wide["any"].round(4).to_numpy()
    for d in poverty_dimensions():
        if d.key in wide.columns:
            out[d.name(p.lang)] = wide[d.key].round(4).to_numpy()
    return out.reset_index(drop=True)


def development_levels(levels: pd.DataFrame, year: int | None, length: int) -> pd.DataFrame:
    """Villages per กชช. 2ค class per area (code of ``length`` digits) in the latest year ≤ ``year``.

    Columns ``code, villages, class_1, class_2, class_3`` (counts).
    """
    if levels.empty:
        return pd.DataFrame(columns=["code", "villages", "class_1", "class_2", "class_3"])
    lv = levels.assign(year=levels["year"].astype(int))
    if year is not None:
        lv = lv[lv["year"] <= int(year)]
    lv = lv.sort_values("year").groupby("village_code").tail(1)
    lv = lv.assign(code=lv["village_code"].str[:length])
    counts = lv.pivot_table(index="code", columns="class", values="village_code", aggfunc="count", fill_value=0)
    counts = counts.reindex(columns=[1, 2, 3], fill_value=0)
    counts.columns = [f"class_{c}" for c in counts.columns]
    counts.insert(0, "villages", counts.sum(axis=1))
    return counts.reset_index()


def development_table(p: Programme, level: str = "district") -> pd.DataFrame:
    """Villages per development level (กชช. 2ค) per district or province."""
    from .registry import kchch2k_set

    dl = development_levels(p.read("kchch2k_levels.parquet"), p.year, LEVEL_WIDTH[level])
    if dl.empty:
        return pd.DataFrame()
    ks = kchch2k_set(p.year) if p.year else None
    out = pd.DataFrame({label("col_code", p.lang): dl["code"], label("col_name", p.lang): [p.name(c) for c in dl["code"]],
                        label("pg_villages", p.lang): dl["villages"]})
    for c in (1, 2, 3):
        out[f"{c} {ks.class_name(c, p.lang) if ks else c}"] = dl[f"class_{c}"]
    return out


# =============================================================================================
# trends: two survey years, indicator by indicator, village by village
# =============================================================================================
def trends(indicators: pd.DataFrame, before: int, after: int, tolerance: float | None = None,
           unit_order: list[str] | None = None) -> pd.DataFrame:
    """Pass rate of every (village, indicator) in ``before`` and ``after`` and the direction.

    ``direction`` is ``better`` when the pass rate rose by more than ``tolerance``, ``worse`` when
    it fell by more, ``unchanged`` within ±tolerance (inclusive), ``not_comparable`` when a year
    is missing. Defaults from ``trends.yaml``.
    """
    cfg = settings("trends")
    tol = float(cfg["tolerance"] if tolerance is None else tolerance)
    ind = _official(indicators[indicators["indicator"].notna() & indicators["year"].astype(int).isin([before, after])],
                    unit_order or cfg["unit_order"])
    a = ind[ind["year"].astype(int) == before].set_index(["code", "indicator"])["pass_rate"].rename("before")
    b = ind[ind["year"].astype(int) == after].set_index(["code", "indicator"])["pass_rate"].rename("after")
    out = pd.concat([a, b], axis=1).reset_index()
    out["indicator"] = out["indicator"].astype(int)
    out["change"] = out["after"] - out["before"]
    ch = out["change"].round(9)  # 0.95 − 0.94 is 0.0100000000000000089 in binary floating point
    out["direction"] = np.select([ch.isna(), ch > tol, ch < -tol], ["not_comparable", "better", "worse"], default="unchanged")
    return out.sort_values(["code", "indicator"]).reset_index(drop=True)


def trend_summary(tr: pd.DataFrame, length: int = 8) -> pd.DataFrame:
    """Counts of better / worse / unchanged / not comparable per area (code of ``length`` digits)."""
    t = tr.assign(area=tr["code"].str[:length])
    out = t.pivot_table(index="area", columns="direction", values="indicator", aggfunc="count", fill_value=0)
    out = out.reindex(columns=["better", "worse", "unchanged", "not_comparable"], fill_value=0)
    return out.reset_index().rename(columns={"area": "code"})


def survey_years(p: Programme) -> list[int]:
    ind = p.read("indicators_village.parquet")
    return sorted(int(y) for y in ind["year"].unique()) if len(ind) else []


def trend_table(p: Programme) -> pd.DataFrame:
    """Village by village, indicator by indicator: the last two survey years side by side."""
    from .registry import indicator_set

    years = [y for y in survey_years(p) if p.year is None or y <= p.year]
    if len(years) < 2:
        return pd.DataFrame({label("col_message", p.lang): [label("pg_one_year", p.lang)]})
    tr = trends(p.read("indicators_village.parquet"), years[-2], years[-1])
    iset = indicator_set(years[-1])
    return pd.DataFrame({
        label("col_village", p.lang): tr["code"], label("col_village_name", p.lang): [p.name(c) for c in tr["code"]],
        label("pg_indicator", p.lang): [f"{i} {iset.indicator_name(i, p.lang, short=True)}" for i in tr["indicator"]],
        str(years[-2]): tr["before"].round(4), str(years[-1]): tr["after"].round(4),
        label("pg_change", p.lang): tr["change"].round(4),
        label("pg_direction", p.lang): [label(f"dir_{d}", p.lang) for d in tr["direction"]],
    })


def trend_overview(p: Programme, level: str = "village") -> pd.DataFrame:
    """How many indicators got better, worse, stayed unchanged, per village (or district)."""
    years = [y for y in survey_years(p) if p.year is None or y <= p.year]
    if len(years) < 2:
        return pd.DataFrame({label("col_message", p.lang): [label("pg_one_year", p.lang)]})
    s = trend_summary(trends(p.read("indicators_village.parquet"), years[-2], years[-1]), LEVEL_WIDTH[level])
    out = pd.DataFrame({label("col_code", p.lang): s["code"], label("col_name", p.lang): [p.name(c) for c in s["code"]]})
    for d in ("better", "worse", "unchanged", "not_comparable"):
        out[label(f"dir_{d}", p.lang)] = s[d].to_numpy()
    out.attrs["years"] = (years[-2], years[-1])
    return out


def quality_overview(p: Programme) -> pd.DataFrame:
    """Per district: rule errors, outliers and incomplete sources (the full report: ``vilwork quality``)."""
    from .quality import quality_report
    from .selection import workspace_districts

    rows = []
    for d in workspace_districts(p.ws):
        if p.province and not d.startswith(p.province):
            continue
        try:
            rep = quality_report(p.ws, d, p.year, code_lists_dir=p.code_lists_dir)
        except InputError:
            continue
        f = rep.findings
        rows.append({label("col_code", p.lang): d, label("col_name", p.lang): p.name(d),
                     label("pg_villages", p.lang): len(rep.villages),
                     label("q_errors", p.lang): int((f["severity"] == "error").sum()),
                     label("q_outliers", p.lang): int((f["severity"] == "outlier").sum()),
                     label("q_incomplete", p.lang): int((f["severity"] == "incomplete").sum())})
    return pd.DataFrame(rows)


# =============================================================================================
# maps: HDX COD-AB boundaries (real), village boundaries for areas the files do not have
# =============================================================================================
def find_boundary_file(ws: Workspace, level: str, boundaries_dir: str | os.PathLike | None = None) -> Path | None:
    """The boundary file of ``level`` (province or district): ``boundaries_dir`` first, then the
    folders of ``maps.yaml``; None when there is none."""
    spec = settings("maps")["boundaries"]
    return _search(ws, spec["search"], boundaries_dir, spec["levels"][level]["file"])


def read_boundaries(path: str | os.PathLike, level: str):
    """Read an HDX COD-AB file as a GeoDataFrame ``code, name_th, name_en, geometry`` (EPSG:4326).

    The ``TH`` prefix of ``ADM1_PCODE``/``ADM2_PCODE`` is removed, so codes are DOPA codes
    (``TH5001`` → ``5001``). A feature whose code does not have the level's width is dropped.
    """
    p = Path(path)
    return _read_boundaries(str(p.resolve()), p.stat().st_mtime_ns, level).copy()


@lru_cache(maxsize=8)
def _read_boundaries(path: str, mtime_ns: int, level: str):
    import geopandas as gpd

    spec = settings("maps")["boundaries"]
    lv = spec["levels"][level]
    g = gpd.read_file(path)
    if g.crs is None:
        g = g.set_crs(4326)
    elif g.crs.to_epsg() != 4326:
        g = g.to_crs(4326)
    prefix = spec["code_prefix"]
    codes = g[lv["code"]].astype(str).str.strip()
    codes = codes.where(~codes.str.startswith(prefix), codes.str[len(prefix):])
    out = gpd.GeoDataFrame({"code": [clean_code(c, LEVEL_WIDTH[level]) for c in codes],
                            "name_th": g[lv["name_th"]].map(clean_text), "name_en": g[lv["name_en"]].map(clean_text)},
                           geometry=g.geometry.values, crs=4326)
    return out[out["code"].notna()].reset_index(drop=True)


def village_boundaries(ws: Workspace):
    """The workspace's village polygons (``data/raw/geo/*.geojson``) as ``code, geometry``; None if none."""
    import geopandas as gpd

    spec = settings("maps")["boundaries"]
    folder = ws.root / spec["village_geo"]
    frames = []
    for f in sorted(folder.glob("*.geojson")) if folder.is_dir() else []:
        g = gpd.read_file(f)
        if spec["village_code_property"] not in g.columns:
            continue
        g = g.set_crs(4326) if g.crs is None else g.to_crs(4326)
        frames.append(gpd.GeoDataFrame({"code": g[spec["village_code_property"]].astype(str)}, geometry=g.geometry.values, crs=4326))
    if not frames:
        return None
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)


def area_boundaries(p: Programme, level: str, codes: list[str] | None = None):
    """Polygons of ``level`` areas: the HDX file for real codes; the workspace's village
    boundaries dissolved for codes the file lacks (e.g. the demo province 99).

    Returns a GeoDataFrame ``code, name, source, geometry`` (``source`` = ``hdx`` or
    ``villages``), restricted to ``codes`` when given.
    """
    import geopandas as gpd

    frames = []
    path = find_boundary_file(p.ws, level, p.boundaries_dir)
    if path is not None:
        b = read_boundaries(path, level)
        if codes is not None:
            b = b[b["code"].isin(codes)]
        frames.append(b.assign(source="hdx"))
    have = set(frames[0]["code"]) if frames else set()
    want = set(codes or []) - have
    if want:
        v = village_boundaries(p.ws)
        if v is not None:
            v = v.assign(code=v["code"].str[: LEVEL_WIDTH[level]])
            v = v[v["code"].isin(want)]
            if len(v):
                import shapely

                d = v.dissolve(by="code").reset_index()[["code", "geometry"]]
                # villages drawn edge to edge without shared vertices leave zero-width rings
                # inside the dissolved area: close them (out and back by ~1 m)
                eps = float(settings("maps")["boundaries"].get("dissolve_close_deg", 0))
                if eps:
                    d["geometry"] = shapely.buffer(shapely.buffer(d.geometry.values, eps), -eps)
                frames.append(gpd.GeoDataFrame(d.assign(source="villages"), geometry="geometry", crs=4326))
    if not frames:
        return gpd.GeoDataFrame({"code": [], "name": [], "source": []}, geometry=[], crs=4326)
    out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)
    names = []
    for rec in out.drop(columns="geometry").to_dict("records"):
        known = name_of(p.names, rec["code"], p.lang)  # the place list and code lists first
        in_file = rec.get("name_en" if p.lang == "en" else "name_th")  # else the boundary file's own name
        names.append(known if known != rec["code"] else (in_file if isinstance(in_file, str) and in_file else rec["code"]))
    out["name"] = names
    return out[["code", "name", "source", "geometry"]]


def target_points(p: Programme) -> pd.DataFrame:
    """Where to draw each target: the village polygon's inner point, else its tambon's point in
    the code list. Columns ``level, village_code, name, lat, lon, located`` (village / tambon / none)."""
    t = p.targets
    vb = village_boundaries(p.ws)
    rows = []
    for x in t.itertuples():
        lat = lon = None
        located = "none"
        if vb is not None:
            hit = vb[vb["code"] == x.village_code]
            if len(hit):
                pt = hit.geometry.union_all().representative_point()
                lat, lon, located = pt.y, pt.x, "village"
        if lat is None:
            tb = p.names[(p.names["code"] == x.village_code[:6]) & p.names["lat"].notna()]
            if len(tb):
                lat, lon, located = float(tb["lat"].iloc[0]), float(tb["lon"].iloc[0]), "tambon"
        rows.append({"level": x.level, "village_code": x.village_code, "name": p.name(x.village_code), "lat": lat, "lon": lon, "located": located})
    return pd.DataFrame(rows, columns=["level", "village_code", "name", "lat", "lon", "located"])


def _area_values(p: Programme, level: str) -> pd.Series:
    ind = p.read(f"indicators_{level}.parquet")
    if ind.empty or p.year is None:
        return pd.Series(dtype=float)
    return pass_rates(ind, p.year).set_index("code")["mean_pass_rate"]


def map_frame(p: Programme, level: str):
    """The polygons to draw for ``level`` with their mean pass rate and colour.

    Province level: every province of the boundary file (the country) plus the workspace's;
    district level: the districts of the chosen province (or of every workspace province).
    """
    from .charts import band_color

    vals = _area_values(p, level)
    data_codes = sorted(vals.index)
    if level == "province":
        codes = None if find_boundary_file(p.ws, "province", p.boundaries_dir) else data_codes
        g = area_boundaries(p, level, codes)
        missing = sorted(set(data_codes) - set(g["code"]))
        if missing:
            g2 = area_boundaries(p, level, missing)
            g = pd.concat([g, g2[g2["source"] == "villages"]], ignore_index=True)
    else:
        provinces = {p.province} if p.province else {c[:2] for c in data_codes}
        all_d = None
        path = find_boundary_file(p.ws, "district", p.boundaries_dir)
        if path is not None:
            b = read_boundaries(path, "district")
            all_d = sorted(c for c in b["code"] if c[:2] in provinces)
        g = area_boundaries(p, level, sorted(set(all_d or []) | set(data_codes)))
    style = settings("maps")["style"]
    g = g.assign(rate=g["code"].map(vals))
    g["color"] = [band_color(r) if pd.notna(r) else style["no_data_color"] for r in g["rate"]]
    g["rate_text"] = [format_pct(r) for r in g["rate"]]
    return g


@lru_cache(maxsize=None)
def _leaflet_data_uris() -> tuple[str, str] | None:
    """Leaflet's JS and CSS as ``data:`` URIs from the project's vendored copy (``vilwork/assets/
    vendor/leaflet``, fetched by ``scripts/fetch_assets.py``); None when it is not there."""
    import base64

    try:
        from .publish.assets import vendor_dir
    except ImportError:
        return None
    d = vendor_dir() / "leaflet"
    if not (d / "leaflet.js").is_file() or not (d / "leaflet.css").is_file():
        return None
    b64 = lambda f: base64.b64encode((d / f).read_bytes()).decode("ascii")  # noqa: E731
    return f"data:text/javascript;base64,{b64('leaflet.js')}", f"data:text/css;base64,{b64('leaflet.css')}"


def offline_map(m):
    """Make a folium map load nothing from the internet: no tiles (``tiles=None``), and Leaflet
    inlined from the vendored copy instead of folium's CDN links (jQuery, Bootstrap and the
    marker icons are not needed by polygons and circle markers, so they are dropped). Without the
    vendored copy the map is left as it is and a note is logged."""
    uris = _leaflet_data_uris()
    if uris is None:
        log.info("no vendored Leaflet (run scripts/fetch_assets.py): the folium map loads Leaflet from its CDN")
        return m
    m.default_js = [("leaflet", uris[0])]
    m.default_css = [("leaflet_css", uris[1])]
    return m


def folium_map(p: Programme, level: str = "district"):
    """An interactive map (folium, ``tiles=None`` and Leaflet inlined: nothing is loaded from the
    internet): areas coloured by mean pass rate in the shared bands; targets as circles."""
    import folium

    g = map_frame(p, level)
    style = settings("maps")["style"]
    m = offline_map(folium.Map(tiles=None, control_scale=True, zoom_snap=0.25))
    if len(g):
        folium.GeoJson(
            g.to_json(),
            name=label(f"level_{level}", p.lang),
            style_function=lambda f: {"fillColor": f["properties"]["color"], "color": style["line_color"], "weight": 0.8, "fillOpacity": 0.85},
            tooltip=folium.GeoJsonTooltip(fields=["code", "name", "rate_text"],
                                          aliases=[label("col_code", p.lang), label("col_name", p.lang), label("pg_mean_pass", p.lang)]),
        ).add_to(m)
        focus = g[g["rate"].notna()] if level == "province" and g["rate"].notna().any() else g
        minx, miny, maxx, maxy = focus.total_bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    pts = target_points(p)
    pts = pts.assign(_o=(pts["level"] == "district").astype(int)).sort_values("_o")  # the small district circle on top
    for t in pts[pts["lat"].notna()].itertuples():
        color = style["target_province_color"] if t.level == "province" else style["target_district_color"]
        folium.CircleMarker([t.lat, t.lon], radius=9 if t.level == "province" else 6, color="white", weight=2, fill=True,
                            fill_color=color, fill_opacity=1,
                            tooltip=f"{label('level_' + t.level, p.lang)}: {t.name} ({t.village_code})").add_to(m)
    return m


def svg_map(p: Programme, level: str = "district", width: int | None = None, height: int | None = None) -> str:
    """The same map as static SVG (no script, no tiles): for the offline HTML report."""
    style = settings("maps")["style"]
    width, height = width or style["svg_width"], height or style["svg_height"]
    g = map_frame(p, level)
    if g.empty:
        return f"<p class='note'>{html.escape(label('pg_no_boundaries', p.lang))}</p>"
    minx, miny, maxx, maxy = g.total_bounds  # the whole country / the whole province
    k = math.cos(math.radians((miny + maxy) / 2))
    sx = (width - 20) / max((maxx - minx) * k, 1e-9)
    sy = (height - 20) / max(maxy - miny, 1e-9)
    s = min(sx, sy)

    def xy(x, y):
        return f"{10 + (x - minx) * k * s:.1f},{10 + (maxy - y) * s:.1f}"

    def path(geom) -> str:
        polys = getattr(geom, "geoms", [geom])
        d = []
        for poly in polys:
            for ring in [poly.exterior, *poly.interiors]:
                d.append("M" + " L".join(xy(x, y) for x, y in ring.coords) + "Z")
        return " ".join(d)

    shapes = []
    for r in g.itertuples():
        if r.geometry is None or r.geometry.is_empty:
            continue
        shapes.append(f"<path d='{path(r.geometry)}' fill='{html.escape(r.color)}' stroke='{style['line_color']}' stroke-width='0.6'>"
                      f"<title>{html.escape(f'{r.code} {r.name}: {r.rate_text}')}</title></path>")
    labels_ = []
    for r in g[g["rate"].notna()].itertuples():
        pt = r.geometry.representative_point()
        labels_.append(f"<text x='{xy(pt.x, pt.y).split(',')[0]}' y='{xy(pt.x, pt.y).split(',')[1]}' font-size='11' text-anchor='middle' "
                       f"style='paint-order:stroke' stroke='white' stroke-width='3'>{html.escape(str(r.name))}</text>")
    marks = []
    pts = target_points(p)
    pts = pts.assign(_o=(pts["level"] == "district").astype(int)).sort_values("_o")  # the small district circle on top
    for t in pts[pts["lat"].notna()].itertuples():
        if not (minx - 1 <= t.lon <= maxx + 1 and miny - 1 <= t.lat <= maxy + 1):
            continue
        x, y = xy(t.lon, t.lat).split(",")
        color = style["target_province_color"] if t.level == "province" else style["target_district_color"]
        rad = 8 if t.level == "province" else 5
        marks.append(f"<circle cx='{x}' cy='{y}' r='{rad}' fill='{color}' stroke='white' stroke-width='2'>"
                     f"<title>{html.escape(label('level_' + t.level, p.lang) + ': ' + t.name + ' (' + t.village_code + ')')}</title></circle>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
            f"font-family='Sarabun, sans-serif' role='img'><title>{html.escape(label('level_' + level, p.lang))}</title>"
            f"<clipPath id='c{level}'><rect width='{width}' height='{height}'/></clipPath><g clip-path='url(#c{level})'>"
            + "".join(shapes) + "".join(labels_) + "".join(marks) + "</g></svg>")


def map_legend(p: Programme) -> str:
    """The colour bands and target symbols as HTML."""
    from .charts import display

    style = settings("maps")["style"]
    key = "label_en" if p.lang == "en" else "label_th"
    items = [f"<span style='background:{b['color']}'></span>{html.escape(b[key])}" for b in display()["pass_rate_bands"]]
    items.append(f"<span style='background:{style['no_data_color']}'></span>{html.escape(label('pg_no_data', p.lang))}")
    items.append(f"<span style='background:{style['target_district_color']};border-radius:50%'></span>{html.escape(label('pg_target_district', p.lang))}")
    items.append(f"<span style='background:{style['target_province_color']};border-radius:50%'></span>{html.escape(label('pg_target_province', p.lang))}")
    return f"<p class='legend'>{''.join(items)}</p>"


def map_sources(p: Programme) -> pd.DataFrame:
    """Which file each map level came from (the HDX file, or the village boundaries), with credit."""
    rows, found = [], False
    for level in ("province", "district"):
        f = find_boundary_file(p.ws, level, p.boundaries_dir)
        found = found or f is not None
        rows.append({label("col_level", p.lang): label(f"level_{level}", p.lang),
                     label("col_file", p.lang): str(f) if f else label("pg_no_boundary_file", p.lang)})
    if found:  # credit the HDX/RTSD boundaries only where a map is drawn from them
        rows.append({label("col_level", p.lang): label("pg_credit_label", p.lang), label("col_file", p.lang): label("pg_credit", p.lang)})
    return pd.DataFrame(rows)


# =============================================================================================
# the offline HTML of the key tables and maps
# =============================================================================================
def write_programme_report(p: Programme, out: str | os.PathLike | None = None) -> pd.DataFrame:
    """Write ``programme_<province|all>_<FY>.html`` (no scripts, no external files: opens
    offline) with the targets, register, roll-ups, SVG maps, trends and data-quality overview.

    Returns the files written with their sizes.
    """
    from .charts import band_color

    out = Path(out) if out else out_dir(p.ws)
    L = p.lang

    def h2(key: str, **f) -> str:
        return f"<h2>{html.escape(label(key, L, **f))}</h2>"

    def table(df: pd.DataFrame | None, colored: bool = False) -> str:
        if df is None or df.empty:
            return "<p class='note'>–</p>"
        # the roll-up frames hold shares as floats in 0–1 (rates, poverty shares): shown as %;
        # the change column of the trends is a difference, not a share
        pc = tuple(c for c in df.columns if df[c].dtype.kind == "f" and df[c].dropna().between(0, 1).all() and c != label("pg_change", L))
        return html_table(df, pct=pc, colors={c: band_color for c in pc} if colored else None)

    parts = [h2("pg_h_targets", fy=p.fiscal_year), table(targets_table(p)), table(selection_status(p)),
             h2("pg_h_deadlines"), table(deadlines_table(p)), table(register_rates(p)),
             h2("pg_h_overdue"), table(overdue_table(p)),
             h2("pg_h_maps", year=p.year or "–"), map_legend(p),
             "<div class='maps'>"
             f"<figure>{svg_map(p, 'province')}<figcaption>{html.escape(label('pg_map_province', L))}</figcaption></figure>"
             f"<figure>{svg_map(p, 'district')}<figcaption>{html.escape(label('pg_map_district', L))}</figcaption></figure></div>",
             table(map_sources(p)),
             h2("pg_h_pass", year=p.year or "–"), table(pass_rate_table(p, "district"), True), table(pass_rate_table(p, "province"), True),
             h2("pg_h_poverty"), table(poverty_table(p, "district")), table(poverty_table(p, "province")),
             h2("pg_h_development"), table(development_table(p, "district")), table(development_table(p, "province")),
             h2("pg_h_trends"), table(trend_overview(p, "district")), table(trend_overview(p, "village")),
             h2("pg_h_quality"), f"<p>{html.escape(label('pg_quality_hint', L))}</p>", table(quality_overview(p))]
    area = p.province or "all"
    maps = []
    for level in ("province", "district"):  # the interactive maps beside the page
        m = folium_map(p, level)
        mp = out / label("file_programme_map", "th", area=area, fy=p.fiscal_year, level=level)
        mp.parent.mkdir(parents=True, exist_ok=True)
        m.save(str(mp))
        maps.append(mp)
    links = " · ".join(f"<a href='{html.escape(mp.name)}'>{html.escape(label('pg_map_' + lv, L))}</a>"
                       for mp, lv in zip(maps, ("province", "district")))
    parts.insert(parts.index(map_legend(p)) + 1, f"<p>{html.escape(label('pg_interactive', L))}: {links}</p>")
    path = write_text(html_page(p.title, parts, p.provenance(), L), out / label("file_programme_html", "th", area=area, fy=p.fiscal_year))
    files = [path, *maps]
    return pd.DataFrame({"file": [str(f) for f in files], "kB": [round(f.stat().st_size / 1024) for f in files]})
