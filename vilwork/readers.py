"""Read spreadsheet and CSV files as they come from officers: any sheet, any encoding, Thai headers.

:func:`open_table` looks at a file (format by content, CSV encoding and delimiter, the sheet and
header row that match the table) and returns a :class:`TableSource`; its :meth:`TableSource.chunks`
streams the data rows as DataFrames with the *canonical* column names of the table
(``definitions/aliases.csv``), indexed by the spreadsheet row number (the header is row 1 in a
plain file, so the first data row is 2). Cell values are text (``None`` for blank); typing and
validation happen in :mod:`vilwork.schemas`.

Every failure to read a file, expected or not (missing, empty, corrupt zip, an HTML page saved as
.xlsx, binary garbage, undecodable text), becomes an :class:`~vilwork.errors.InputError` naming
the file. Nothing here ever writes.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from . import registry
from .errors import DefinitionError, InputError
from .log import get_logger
from .schemas import REQUIRED, TABLES, column_label
from .thai import map_distinct, normalise_text

log = get_logger(__name__)

CHUNK_ROWS = 500_000
HEADER_SCAN_ROWS = 20  # a header may sit below a few title rows
_SPARE_FIELDS = 16  # extra CSV fields tolerated per row (reported as a row failure, not a crash)
EXTRA_FIELDS = "__row_fields__"  # helper column: False when a CSV row has more fields than the header

# Tables whose headers are not in aliases.csv: the platform's published layout and the place list.
_BUILTIN_ALIASES: dict[str, dict[str, str]] = {
    "aggregates": {
        "village_id": "village_id", "village_code": "village_id", "รหัสหมู่บ้าน": "village_id",
        "province_id": "province_id", "รหัสจังหวัด": "province_id",
        "year": "year", "survey_year": "year", "ปีสำรวจ": "year", "ปี": "year",
        "household.cnt": "households", "household_cnt": "households",
        "housemember_cnt": "members", "elderly_cnt": "elderly", "disabled_cnt": "disabled",
        "chronicpatient_cnt": "chronic",
        **{f"indicator{n}.all": f"all_{n}" for n in range(1, 61)},
        **{f"indicator{n}.cnt": f"cnt_{n}" for n in range(1, 61)},
    },
    "places": {
        "code": "code", "place_code": "code", "รหัส": "code",
        "level": "level", "ระดับ": "level",
        "name_th": "name_th", "name": "name_th", "ชื่อ": "name_th", "ชื่อภาษาไทย": "name_th", "ชื่อ (ไทย)": "name_th",
        "name_en": "name_en", "ชื่อภาษาอังกฤษ": "name_en", "ชื่อ (อังกฤษ)": "name_en",
    },
}


@lru_cache(maxsize=None)
def table_aliases(table: str) -> dict[str, str]:
    """Folded header text → canonical column for ``table`` (aliases.csv, or the built-in layout).

    Raises
    ------
    DefinitionError
        When the table is unknown.
    """
    builtin = {registry.fold_header(k): v for k, v in _BUILTIN_ALIASES.get(table, {}).items()}
    try:
        return {**builtin, **registry.column_aliases(table)}
    except DefinitionError:
        if builtin:
            return builtin
        raise


def map_headers(headers: list, table: str) -> tuple[dict[str, int], list[str], list[str]]:
    """Match a header row to the table's columns.

    Returns
    -------
    positions : dict
        canonical column → 0-based position (the first header wins when two map to one column)
    ignored : list of str
        headers that match nothing (their columns are not read)
    duplicates : list of str
        headers that map to a column already taken
    """
    aliases = table_aliases(table)
    positions: dict[str, int] = {}
    ignored: list[str] = []
    duplicates: list[str] = []
    for i, h in enumerate(headers):
        text = "" if h is None else str(h)
        if not text.strip():
            continue
        col = aliases.get(registry.fold_header(text)) or aliases.get(registry.fold_header(normalise_text(text) or ""))
        if col is None:
            ignored.append(text.strip())
        elif col in positions:
            duplicates.append(text.strip())
        else:
            positions[col] = i
    return positions, ignored, duplicates


def cell_text(value) -> str | None:
    """A spreadsheet cell as text: integral numbers without ``.0``, dates as ISO CE (a year above 2400 is BE).

    Examples
    --------
    >>> cell_text(50010621.0), cell_text(dt.datetime(2561, 1, 15)), cell_text(None)
    ('50010621', '2018-01-15', None)
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e17 else repr(value)
    if isinstance(value, (dt.datetime, dt.date)):
        y = value.year - 543 if value.year > 2400 else value.year
        return f"{y:04d}-{value.month:02d}-{value.day:02d}"
    return str(value)


# ---------------------------------------------------------------------------------------------
# format and encoding


def sniff_format(path: Path, name: str | None = None) -> str:
    """``"xlsx"`` or ``"csv"`` from the file's first bytes, whatever its extension says.

    Raises
    ------
    InputError
        Missing or empty file, an old .xls workbook, an HTML/XML page, or binary data.
    """
    name = name or str(path)
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except FileNotFoundError:
        raise InputError("ไม่พบไฟล์ / the file is missing", file=name) from None
    except OSError as e:
        raise InputError(f"อ่านไฟล์ไม่ได้ / cannot open the file ({e.strerror})", file=name) from None
    if not head.strip():
        raise InputError("ไฟล์ว่างเปล่า / the file is empty", file=name)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(
            "เป็นไฟล์ Excel รุ่นเก่า (.xls): เปิดด้วย Excel แล้วบันทึกเป็น .xlsx / "
            "an old-format Excel workbook (.xls): open it in Excel and save it as .xlsx", file=name)
    probe = head.lstrip(codecs.BOM_UTF8)[:2048].lower()
    if probe.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "csv"
    if re.search(rb"<\s*(html|!doctype|table|\?xml|workbook)", probe):
        raise InputError(
            "เป็นหน้าเว็บ (HTML/XML) ที่ตั้งชื่อเป็นไฟล์ตาราง: เปิดด้วย Excel แล้วบันทึกเป็น .xlsx หรือ .csv / "
            "an HTML/XML page saved with a spreadsheet name: open it in Excel and save it as .xlsx or .csv", file=name)
    if b"\x00" in head:
        raise InputError("ไม่ใช่ไฟล์ข้อความหรือ Excel (ข้อมูลไบนารี) / not a spreadsheet or text file (binary data)", file=name)
    return "csv"


def detect_encoding(path: Path, name: str | None = None) -> str:
    """The encoding of a CSV file: UTF-16 (BOM), UTF-8 with or without BOM, else Windows-874 (TIS-620).

    UTF-8 is tried strictly over the whole file (in blocks, so big files are fine), then cp874.

    Raises
    ------
    InputError
        When neither decodes the file.
    """
    name = name or str(path)
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for enc in ("utf-8-sig", "cp874"):
        dec = codecs.getincrementaldecoder(enc)(errors="strict")
        try:
            with open(path, "rb") as f:
                while block := f.read(1 << 24):
                    dec.decode(block)
                dec.decode(b"", final=True)
            return enc
        except UnicodeDecodeError:
            continue
    raise InputError(
        "อ่านตัวอักษรไม่ได้: ไฟล์ต้องเป็น UTF-8, UTF-16 หรือ Windows-874 (TIS-620) / "
        "cannot decode the text: the file must be UTF-8, UTF-16 or Windows-874 (TIS-620)", file=name)


def _sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


# ---------------------------------------------------------------------------------------------
# opening a table


@dataclass
class TableSource:
    """A file opened for one table: where its header is and which columns are read.

    Attributes
    ----------
    path : Path
    name : str
        The name used in messages (the path relative to ``data/raw``).
    table : str
    format : {"csv", "xlsx"}
    header_row : int
        1-based row (line) of the header.
    positions : dict
        canonical column → 0-based position in the row.
    sheet : str or None
        The sheet read (xlsx).
    encoding, delimiter : str or None
        CSV only.
    width : int
        Number of header fields (CSV).
    notes : list of str
        Things the user should know (sheet chosen, columns ignored).
    ignored : list of str
        Headers that matched no column of the table.
    headers : dict
        canonical column → the header text in the file.
    """

    path: Path
    name: str
    table: str
    format: str
    header_row: int
    positions: dict[str, int]
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    width: int = 0
    notes: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """The canonical columns the file has, in file order."""
        return sorted(self.positions, key=self.positions.get)

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        """Stream the data rows, ``rows`` at a time.

        Each chunk has the canonical columns (object dtype: text or ``None``), is indexed by the
        1-based spreadsheet row number, and leaves out rows that are blank in every read column.
        CSV chunks also carry :data:`EXTRA_FIELDS` (False when the row has more fields than the
        header).

        Raises
        ------
        InputError
            When the file cannot be read to the end.
        """
        try:
            if self.format == "xlsx":
                yield from self._xlsx_chunks(rows)
            else:
                yield from self._csv_chunks(rows)
        except InputError:
            raise
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as e:  # noqa: BLE001 - any reader failure is a refusal of this file
            raise InputError(f"อ่านไฟล์ไม่สำเร็จ / the file could not be read: {_describe(e)}", file=self.name) from e

    def _xlsx_chunks(self, rows: int) -> Iterator[pd.DataFrame]:
        with _workbook(self.path) as wb:
            ws = wb[self.sheet]
            ws.reset_dimensions()  # some exporters write a wrong sheet size
            cols = self.columns
            pos = [self.positions[c] for c in cols]
            buf: list[list] = []
            idx: list[int] = []
            for r, row in enumerate(ws.iter_rows(values_only=True), start=1):
                if r <= self.header_row:
                    continue
                n = len(row)
                vals = [row[i] if i < n else None for i in pos]
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in vals):
                    continue
                buf.append(vals)
                idx.append(r)
                if len(buf) >= rows:
                    yield self._xlsx_frame(buf, idx, cols)
                    buf, idx = [], []
            if buf:
                yield self._xlsx_frame(buf, idx, cols)

    @staticmethod
    def _xlsx_frame(buf, idx, cols) -> pd.DataFrame:
        df = pd.DataFrame(buf, columns=cols, index=pd.Index(idx, dtype="int64", name="row"), dtype=object)
        for c in cols:
            df[c] = map_distinct(df[c], cell_text)
        return df

    def _csv_chunks(self, rows: int) -> Iterator[pd.DataFrame]:
        names = [f"c{i}" for i in range(self.width + _SPARE_FIELDS)]
        cols = self.columns
        spare = names[self.width:]
        start = self.header_row + 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = pd.read_csv(
                self.path, sep=self.delimiter, encoding=self.encoding, header=None, names=names,
                skiprows=self.header_row, dtype=object, keep_default_na=False, na_values=[""],
                skip_blank_lines=False, chunksize=rows, engine="c", index_col=False,
            )
            with reader:
                for chunk in reader:
                    n = len(chunk)
                    index = pd.RangeIndex(start, start + n)
                    start += n
                    df = chunk[[f"c{self.positions[c]}" for c in cols]].astype(object)  # keep object: no str inference
                    df.columns = cols
                    df.index = pd.Index(np.arange(index.start, index.stop, dtype=np.int64), name="row")
                    keep = df.notna().any(axis=1).to_numpy()
                    extra = chunk[spare].notna().any(axis=1).to_numpy()
                    del chunk  # the parser's frame (with the spare columns) is not needed any more
                    df[EXTRA_FIELDS] = ~extra
                    out = df[keep] if not keep.all() else df
                    del df
                    yield out
                    del out


@contextmanager
def _workbook(path: Path):
    """Open a workbook read-only without openpyxl's up-front size scan.

    openpyxl reads each sheet's ``<dimension>`` when it opens the workbook; when a writer left it
    out, that means parsing every sheet to the end, twice per file. We never use the stored size
    (:meth:`reset_dimensions` is called before reading, since some writers store a wrong one), so
    the scan is skipped while the workbook is opened.
    """
    import openpyxl
    from openpyxl.worksheet import _read_only

    get_size = _read_only.ReadOnlyWorksheet._get_size
    _read_only.ReadOnlyWorksheet._get_size = lambda self: None
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    finally:
        _read_only.ReadOnlyWorksheet._get_size = get_size
    try:
        yield wb
    finally:
        wb.close()


def _describe(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _candidate_tables(table: str | None) -> tuple[str, ...]:
    return (table,) if table else TABLES


def _best_header(rows: list[tuple[int, list]], tables: tuple[str, ...]):
    """Find the header row: the first row holding every required column of a table.

    Returns (table, row_number, positions, ignored, duplicates, headers) or None, plus the
    best partial match (for the refusal message).
    """
    best_partial = None
    for r, values in rows:
        hits = []
        for t in tables:
            positions, ignored, dups = map_headers(values, t)
            missing = [c for c in REQUIRED[t] if c not in positions]
            if not missing:
                hits.append((len(positions), t, positions, ignored, dups))
            elif positions and (best_partial is None or len(positions) > best_partial[0]):
                best_partial = (len(positions), t, r, missing)
        if hits:
            hits.sort(key=lambda h: (-h[0], tables.index(h[1])))
            _, t, positions, ignored, dups = hits[0]
            return (t, r, positions, ignored, dups, values), best_partial
    return None, best_partial


def _missing_message(table: str | None, partial) -> str:
    if partial is None:
        if table:
            need = ", ".join(column_label(table, c) for c in REQUIRED[table])
            return f"ไม่พบหัวตารางที่ต้องมี / no header row with the required columns: {need}"
        return "ไม่รู้ว่าเป็นข้อมูลตารางใด: หัวตารางไม่ตรงกับตารางที่รู้จัก / cannot tell which table this is: the headers match no known table"
    _, t, r, missing = partial
    need = ", ".join(column_label(t, c) for c in missing)
    return f"ขาดคอลัมน์ที่ต้องมี / missing required column(s) for {t}: {need} (หัวตารางแถว / header row {r})"


def _scan_csv(path: Path, name: str) -> tuple[str, str, list[tuple[int, list]]]:
    enc = detect_encoding(path, name)
    rows: list[tuple[int, list]] = []
    with open(path, encoding=enc, newline="") as f:
        first = ""
        lines = []
        for _ in range(HEADER_SCAN_ROWS):
            line = f.readline()
            if not line:
                break
            lines.append(line)
            if not first and line.strip():
                first = line
    delim = _sniff_delimiter(first)
    for r, values in enumerate(csv.reader(io.StringIO("".join(lines)), delimiter=delim), start=1):
        if any(v.strip() for v in values):
            rows.append((r, values))
    return enc, delim, rows


def open_table(path: str | Path, table: str | None = None, *, name: str | None = None) -> TableSource:
    """Open a CSV or xlsx file for ``table`` (or find out which table it holds).

    For a workbook, the first sheet whose header row has every required column of the table is
    read, and the choice is noted. The header row is the first of the top
    :data:`HEADER_SCAN_ROWS` rows with every required column.

    Parameters
    ----------
    path : str or Path
    table : str, optional
        The table the file should hold; ``None`` to detect it from the headers.
    name : str, optional
        The name used in messages (default: the path).

    Returns
    -------
    TableSource

    Raises
    ------
    InputError
        When the file cannot be read or no sheet/header row has the required columns (the message
        names the missing columns).
    """
    path = Path(path)
    name = name or str(path)
    fmt = sniff_format(path, name)
    tables = _candidate_tables(table)
    try:
        if fmt == "csv":
            enc, delim, rows = _scan_csv(path, name)
            found, partial = _best_header(rows, tables)
            if found is None:
                raise InputError(_missing_message(table, partial), file=name)
            t, r, positions, ignored, dups, headers = found
            src = TableSource(path, name, t, "csv", r, positions, encoding=enc, delimiter=delim, width=len(headers))
            if enc != "utf-8-sig":
                src.notes.append(f"การเข้ารหัส / encoding: {enc}")
        else:
            src, ignored, dups, headers = _open_xlsx(path, name, table, tables)
    except InputError:
        raise
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - corrupt workbooks raise all sorts of errors
        raise InputError(f"อ่านไฟล์ไม่สำเร็จ / the file could not be read: {_describe(e)}", file=name) from e
    src.headers = {c: str(headers[i]).strip() for c, i in src.positions.items()}
    src.ignored = list(ignored)
    if ignored:
        src.notes.append("ไม่ใช้คอลัมน์ / columns ignored: " + ", ".join(ignored))
    if dups:
        src.notes.append("คอลัมน์ซ้ำ ใช้คอลัมน์แรก / duplicate columns, the first is used: " + ", ".join(dups))
    return src


def _open_xlsx(path: Path, name: str, table: str | None, tables: tuple[str, ...]):
    with _workbook(path) as wb:
        skipped: list[str] = []
        best_partial = None
        for ws in wb.worksheets:
            ws.reset_dimensions()
            rows = []
            for r, values in enumerate(ws.iter_rows(values_only=True, max_row=HEADER_SCAN_ROWS), start=1):
                vals = [cell_text(v) for v in values]
                if any(v is not None and str(v).strip() for v in vals):
                    rows.append((r, vals))
            found, partial = _best_header(rows, tables)
            if found is None:
                skipped.append(ws.title)
                if partial and (best_partial is None or partial[0] > best_partial[0]):
                    best_partial = (partial[0], partial[1], f"{partial[2]} ('{ws.title}')", partial[3])
                continue
            t, r, positions, ignored, dups, headers = found
            src = TableSource(path, name, t, "xlsx", r, positions, sheet=ws.title, width=len(headers))
            if skipped:
                src.notes.append(
                    f"ใช้ชีต '{ws.title}' (ชีต {', '.join(repr(s) for s in skipped)} หัวตารางไม่ตรง) / "
                    f"used sheet '{ws.title}' (sheet {', '.join(repr(s) for s in skipped)}: headers do not match)")
            return src, ignored, dups, headers
        if not wb.worksheets:
            raise InputError("ไม่มีชีตในไฟล์ / the workbook has no sheets", file=name)
        raise InputError(_missing_message(table, best_partial) + f" — ชีตที่ดู / sheets looked at: {', '.join(skipped)}", file=name)


def read_frame(path: str | Path, table: str | None = None, *, name: str | None = None) -> tuple[TableSource, pd.DataFrame]:
    """Open and read a whole (small) file: the source and all its rows in one DataFrame."""
    src = open_table(path, table, name=name)
    chunks = list(src.chunks())
    df = pd.concat(chunks) if chunks else pd.DataFrame(columns=src.columns, dtype=object)
    return src, df
