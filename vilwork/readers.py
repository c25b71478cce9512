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

Files come from outside and may be hostile: a password-protected or damaged workbook, a zip that
unpacks to gigabytes, XML entity definitions, a million formatted blank rows. The limits below
keep memory and time bounded; what they refuse is listed in ``docs/ingest.md`` and
``docs/security.md`` ("Hostile files").
"""
from __future__ import annotations

import codecs
import csv
import zipfile
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
from .schemas import REQUIRED, TABLES, column_label, is_totals_label
from .thai import map_distinct, normalise_text

log = get_logger(__name__)

CHUNK_ROWS = 500_000
HEADER_SCAN_ROWS = 20  # a header may sit below a few title rows
_SPARE_FIELDS = 16  # extra CSV fields tolerated per row (reported as a row failure, not a crash)
#: workbook parts openpyxl loads whole into memory (shared strings, styles, …) may unpack to at most this
MAX_XLSX_PART_BYTES = 100 * 2**20
MAX_XLSX_MEMBERS = 10_000  # parts in one workbook zip
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXTRA_FIELDS = "__row_fields__"  # helper column: False when a CSV row has more fields than the header
#: helper column: False on a totals row whose label ("รวม") sits in a column the table does not read
#: (a "ลำดับ" column, a merged label cell) while a required column is blank
TOTALS_LABEL = "__totals_row__"

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
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "xlsx"
    if head.startswith(_OLE_MAGIC[:4]):
        raise InputError(_ole_message(path), file=name)
    probe = head.lstrip(codecs.BOM_UTF8)[:2048].lower()
    if probe.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _utf16_without_bom(head):
        return "csv"
    if re.search(rb"<\s*(html|!doctype|table|\?xml|workbook)", probe):
        raise InputError(
            "เป็นหน้าเว็บ (HTML/XML) ที่ตั้งชื่อเป็นไฟล์ตาราง: เปิดด้วย Excel แล้วบันทึกเป็น .xlsx หรือ .csv / "
            "an HTML/XML page saved with a spreadsheet name: open it in Excel and save it as .xlsx or .csv", file=name)
    if head.startswith(b"PK"):
        raise InputError(_DAMAGED_ZIP, file=name)
    controls = sum(head.count(bytes([b])) for b in (*range(0, 9), *range(14, 27), *range(28, 32)))
    if controls > max(2, len(head) // 50):  # text has a few stray control bytes at most (those rows are quarantined)
        raise InputError(
            "ไม่ใช่ไฟล์ข้อความหรือ Excel (ข้อมูลไบนารี หรือไฟล์เสียหาย) / "
            "not a spreadsheet or text file (binary data, or a damaged file)", file=name)
    return "csv"


_DAMAGED_ZIP = (
    "ไฟล์ Excel เสียหายหรือไม่ครบ (เช่น ดาวน์โหลดไม่จบ): ขอไฟล์ใหม่ หรือเปิดด้วย Excel แล้วบันทึกใหม่ / "
    "the workbook could not be read: it is damaged or incomplete (e.g. a download that stopped): get the file again, or open it in Excel and save it again")


def _ole_message(path: Path) -> str:
    """What an OLE compound file (the container of old Office files) holds, as a refusal message.

    The stream names sit in the container's directory, UTF-16 encoded; the file is scanned in
    blocks for them (an encrypted workbook can be large, its directory anywhere).
    """
    names = {
        "encrypted": "EncryptedPackage".encode("utf-16-le"),
        "xls": "Workbook".encode("utf-16-le"),
        "xls5": "Book\x00".encode("utf-16-le"),
    }
    found: set[str] = set()
    tail = b""
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            data = tail + block
            found |= {k for k, v in names.items() if v in data}
            if "encrypted" in found:
                break
            tail = data[-64:]
    if "encrypted" in found:
        return ("ไฟล์ Excel มีรหัสผ่าน (เข้ารหัสไว้): เปิดด้วย Excel ใส่รหัสผ่าน แล้วบันทึกใหม่โดยไม่ใส่รหัสผ่าน (ไฟล์ > ข้อมูล > ป้องกันเวิร์กบุ๊ก) / "
                "the workbook is password-protected (encrypted): open it in Excel with the password and save it "
                "without one (File > Info > Protect Workbook)")
    if found & {"xls", "xls5"}:
        return ("เป็นไฟล์ Excel รุ่นเก่า (.xls): เปิดด้วย Excel แล้วบันทึกเป็น .xlsx / "
                "an old-format Excel workbook (.xls): open it in Excel and save it as .xlsx")
    return ("เป็นไฟล์ Microsoft Office รุ่นเก่าที่ไม่ใช่ตาราง Excel (เช่น .doc): บันทึกข้อมูลเป็น .xlsx หรือ .csv / "
            "an old-format Microsoft Office file that is not a workbook (e.g. a .doc): save the data as .xlsx or .csv")


def _utf16_without_bom(head: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` when text looks like UTF-16 without a BOM (ASCII with every other byte 0)."""
    sample = head[:4096]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]

    def high(b: bytes) -> bool:  # high bytes of Latin and Thai characters, ASCII present
        return b.count(0) + b.count(0x0E) > 0.8 * len(b) and b.count(0) > 0.1 * len(b)

    if high(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if high(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


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
        head = f.read(4096)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if enc16 := _utf16_without_bom(head):
        return enc16
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
    last_row: int | None = None  # xlsx: the last row with a value (rows below are blank); None: unknown

    @property
    def columns(self) -> list[str]:
        """The canonical columns the file has, in file order."""
        return sorted(self.positions, key=self.positions.get)

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        """Stream the data rows, ``rows`` at a time.

        Each chunk has the canonical columns (object dtype: text or ``None``), is indexed by the
        1-based spreadsheet row number, and leaves out rows that are blank in every read column.
        CSV chunks also carry :data:`EXTRA_FIELDS` (False when the row has more fields than the
        header); a chunk holding a totals row labelled in a column that is not read carries
        :data:`TOTALS_LABEL` (False on that row).

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
            raise InputError(_failure_message(e, self.width), file=self.name) from e

    def _xlsx_chunks(self, rows: int) -> Iterator[pd.DataFrame]:
        with _workbook(self.path) as wb:
            ws = wb[self.sheet]
            ws.reset_dimensions()  # some exporters write a wrong sheet size
            cols = self.columns
            pos = [self.positions[c] for c in cols]
            buf: list[list] = []
            idx: list[int] = []
            totals: list[int] = []  # rows labelled "รวม" in a column not read
            req = [self.positions[c] for c in REQUIRED[self.table] if c in self.positions]
            posset = set(pos)
            last = self.last_row
            for r, row in enumerate(ws.iter_rows(values_only=True), start=1):
                if r <= self.header_row:
                    continue
                if last is not None and r > last:
                    break  # only blank (e.g. formatted) rows below: not worth parsing a million of them
                n = len(row)
                vals = [row[i] if i < n else None for i in pos]
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in vals):
                    continue
                if any(i >= n or row[i] is None or (isinstance(row[i], str) and not row[i].strip()) for i in req) and any(
                        j not in posset and is_totals_label(v) for j, v in enumerate(row)):
                    totals.append(r)
                buf.append(vals)
                idx.append(r)
                if len(buf) >= rows:
                    yield self._xlsx_frame(buf, idx, cols, totals)
                    buf, idx, totals = [], [], []
            if buf:
                yield self._xlsx_frame(buf, idx, cols, totals)

    @staticmethod
    def _xlsx_frame(buf, idx, cols, totals=()) -> pd.DataFrame:
        df = pd.DataFrame(buf, columns=cols, index=pd.Index(idx, dtype="int64", name="row"), dtype=object)
        for c in cols:
            df[c] = map_distinct(df[c], cell_text)
        if totals:
            _mark_totals(df, np.isin(df.index.to_numpy(), totals))
        return df

    def _csv_chunks(self, rows: int) -> Iterator[pd.DataFrame]:
        names = [f"c{i}" for i in range(self.width + _SPARE_FIELDS)]
        cols = self.columns
        spare = names[self.width:]
        start = self.header_row + 1
        req = [c for c in REQUIRED[self.table] if c in cols]
        unread = [f"c{i}" for i in range(self.width) if i not in set(self.positions.values())]
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
                    blank_key = df[req].isna().any(axis=1).to_numpy() & keep if req else None
                    if blank_key is not None and unread and blank_key.any():
                        # a "รวม" in a column not read, on a row without its codes: a totals row
                        sub = chunk.iloc[np.flatnonzero(blank_key)][unread]
                        hit = sub.apply(lambda col: col.map(is_totals_label)).any(axis=1).to_numpy()
                        if hit.any():
                            mark = np.zeros(len(df), dtype=bool)
                            mark[np.flatnonzero(blank_key)[hit]] = True
                            _mark_totals(df, mark)
                    del chunk  # the parser's frame (with the spare columns) is not needed any more
                    df[EXTRA_FIELDS] = ~extra
                    out = df[keep] if not keep.all() else df
                    del df
                    yield out
                    del out


def _mark_totals(df: pd.DataFrame, rows: np.ndarray) -> None:
    """Add :data:`TOTALS_LABEL` to a chunk: False on ``rows``, missing elsewhere."""
    df[TOTALS_LABEL] = pd.array(np.where(rows, False, pd.NA), dtype="boolean")


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
    f = open(path, "rb")  # a file object: openpyxl would refuse a workbook named .csv by its extension
    try:
        try:
            wb = openpyxl.load_workbook(f, read_only=True, data_only=True)
        finally:
            _read_only.ReadOnlyWorksheet._get_size = get_size
        try:
            yield wb
        finally:
            wb.close()
    finally:
        f.close()


def _describe(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _failure_message(e: BaseException, width: int = 0) -> str:
    """A refusal message for an exception raised while reading a file (the cause chain is looked at too)."""
    chain, c = [], e
    while c is not None and c not in chain and len(chain) < 10:
        chain.append(c)
        c = c.__cause__ or c.__context__
    for c in chain:
        if type(c).__name__ in ("EntitiesForbidden", "DTDForbidden", "ExternalReferenceForbidden", "NotSupportedError"):
            e = c
            break
    kind = type(e).__name__
    if isinstance(e, (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError)) or kind in ("InvalidFileException",):
        return f"{_DAMAGED_ZIP} [{_describe(e)}]"
    if kind in ("EntitiesForbidden", "DTDForbidden", "ExternalReferenceForbidden", "NotSupportedError"):
        return ("ไฟล์ Excel มีการประกาศ XML (DTD/entity) ที่ Excel ไม่สร้าง อาจเป็นไฟล์อันตราย: ไม่อ่าน / "
                f"the workbook contains XML declarations (DTD/entities) that Excel never writes; it may be hostile and is not read [{kind}]")
    if kind == "ParserError" and (m := re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))):
        return (f"บรรทัด {m.group(2)} มี {m.group(3)} ช่อง มากกว่าหัวตาราง ({width} ช่อง) มากเกินไป: ตรวจเครื่องหมายคั่นที่เกินมา / "
                f"line {m.group(2)} has {m.group(3)} fields, far more than the header's {width}: look for stray separators")
    if isinstance(e, UnicodeDecodeError):
        return ("อ่านตัวอักษรไม่ได้: ไฟล์ต้องเป็น UTF-8, UTF-16 หรือ Windows-874 (TIS-620) / "
                f"cannot decode the text: the file must be UTF-8, UTF-16 or Windows-874 (TIS-620) [{_describe(e)}]")
    return f"อ่านไฟล์ไม่สำเร็จ / the file could not be read: {_describe(e)}"


def check_workbook_zip(path: Path, name: str) -> None:
    """Refuse a workbook zip that is damaged, is not a workbook, or would unpack to too much memory.

    Raises
    ------
    InputError
        A damaged zip, a zip without ``xl/workbook.xml``, more than :data:`MAX_XLSX_MEMBERS` parts,
        or a part that openpyxl loads whole (shared strings, styles…) larger than
        :data:`MAX_XLSX_PART_BYTES` when unpacked (a "zip bomb").
    """
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as e:
        raise InputError(f"{_DAMAGED_ZIP} [{_describe(e)}]", file=name) from None
    names = {i.filename.lstrip("/") for i in infos}
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        if "EncryptedPackage" in names:
            raise InputError(_ole_message(path), file=name)
        raise InputError(
            "เป็นไฟล์ zip แต่ไม่ใช่ตาราง Excel (.xlsx) เช่น .docx หรือ .zip ที่เปลี่ยนชื่อ / "
            "a zip file that is not an Excel workbook (.xlsx), e.g. a renamed .docx or .zip", file=name)
    if "xl/workbook.bin" in names:
        raise InputError("เป็นไฟล์ Excel แบบไบนารี (.xlsb): บันทึกเป็น .xlsx / a binary Excel workbook (.xlsb): save it as .xlsx", file=name)
    if len(infos) > MAX_XLSX_MEMBERS:
        raise InputError(f"ไฟล์ Excel มีส่วนประกอบมากผิดปกติ ({len(infos):,}) / the workbook has an abnormal number of parts ({len(infos):,})", file=name)
    for i in infos:
        n = i.filename.lstrip("/")
        if n.startswith("xl/worksheets/") or not n.endswith(".xml"):
            continue  # sheets are streamed; pictures and the like are never read
        if i.file_size > MAX_XLSX_PART_BYTES:
            raise InputError(
                f"ส่วน {n} ของไฟล์ Excel ขยายได้ {i.file_size / 2**20:,.0f} MB เกินขีดจำกัด {MAX_XLSX_PART_BYTES // 2**20} MB "
                f"(ไฟล์ใหญ่มากหรือไฟล์อันตรายแบบ zip bomb): บันทึกเป็น CSV / "
                f"the workbook part {n} unpacks to {i.file_size / 2**20:,.0f} MB, over the {MAX_XLSX_PART_BYTES // 2**20} MB "
                f"limit (a huge workbook, or a zip bomb): save the data as CSV", file=name)


_RE_ROW_NUM = re.compile(rb'<row\b[^>]*?\sr="([0-9]+)"')
_RE_CELL_REF = re.compile(rb'<c\b[^>]*?\sr="([A-Z]{1,3})([0-9]+)"')
_RE_UNCACHED = re.compile(rb'<c\b([^>]*)>\s*<f\b[^>]*?(?:/>|>[^<]*</f>)\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>')


def scan_sheet_xml(path: Path, sheet_part: str) -> tuple[int | None, int, str | None]:
    """One fast pass over a sheet's raw XML (no XML parsing).

    Returns
    -------
    last_row : int or None
        The last row holding a cell with content (a self-closing ``<c …/>`` is a formatted blank),
        or None when it cannot be told; rows below it need not be parsed.
    uncached : int
        Formula cells without a saved value (the file was not saved by a spreadsheet program).
    first_uncached : str or None
        The first such cell, e.g. ``E2``.
    """
    last: int | None = 0
    uncached, first = 0, None
    overlap = 8192  # longer than any one cell element's start and formula
    tail = b""
    with zipfile.ZipFile(path) as z, z.open(sheet_part.lstrip("/")) as f:
        block = f.read(1 << 22)
        while block:
            following = f.read(1 << 22)
            data = tail + block
            end = data.rfind(b"</c>")
            if end >= 0 and last is not None:
                seg = data[max(0, end - 65536):end]
                cells = list(_RE_CELL_REF.finditer(seg))
                rows = list(_RE_ROW_NUM.finditer(seg))
                if cells:
                    last = max(last, int(cells[-1].group(2)))
                elif rows:
                    last = max(last, int(rows[-1].group(1)))
                else:
                    last = None  # cells without references: the row cannot be told cheaply
            if b"<f" in data:
                # a match is counted in the block where it starts, unless it starts in the overlap kept for the next one
                stop = len(data) - overlap if following else len(data)
                for m in _RE_UNCACHED.finditer(data):
                    if m.start() >= stop:
                        break
                    uncached += 1
                    if first is None and (ref := re.search(rb'\sr="([A-Z]+[0-9]+)"', m.group(1))):
                        first = ref.group(1).decode()
            tail = data[-overlap:]
            block = following
    return last, uncached, first


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
    limit = csv.field_size_limit()
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
    csv.field_size_limit(max(limit, 1 << 30))  # a huge cell near the top is a row problem, not a reader crash
    try:
        for r, values in enumerate(csv.reader(io.StringIO("".join(lines), newline=""), delimiter=delim), start=1):
            if any(v.strip() for v in values):
                rows.append((r, [v if len(v) <= 4096 else v[:4096] for v in values]))
    finally:
        csv.field_size_limit(limit)
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
            check_workbook_zip(path, name)
            src, ignored, dups, headers = _open_xlsx(path, name, table, tables)
    except InputError:
        raise
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as e:  # noqa: BLE001 - corrupt workbooks raise all sorts of errors
        raise InputError(_failure_message(e), file=name) from e
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
            src.last_row, uncached, first = scan_sheet_xml(path, ws._worksheet_path)
            if uncached:
                raise InputError(
                    f"ชีต '{ws.title}' มีสูตร {uncached:,} ช่องที่ไม่มีค่าที่คำนวณไว้ (เช่น {first}) เพราะไฟล์ไม่ได้บันทึกจาก Excel: "
                    f"เปิดด้วย Excel แล้วบันทึกใหม่ / sheet '{ws.title}' has {uncached:,} formula cells without a saved value "
                    f"(first: {first}), so the file was not saved by a spreadsheet program: open it in Excel and save it again",
                    file=name)
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
