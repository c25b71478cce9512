"""The hostile-input corpus of ``tests/data/bad``: malformed files an officer might hand in.

Every item is listed in :data:`ITEMS` (and, for people, in ``MANIFEST.csv``, written from it):
the file, where ingest finds it in a workspace (``place_as``, under ``data/raw``), what is wrong,
and what must happen: ``refused`` (the expected text is a substring of the refusal message),
``quarantined`` (the expected rules, ``;``-separated, with the rows read and quarantined) or
``accepted`` (an optional substring of the file's notes).

Small items are committed; rewrite them with ``python tests/data/bad/generate.py``. The real
encrypted workbook (``encrypted_msoffcrypto.xlsx``) is committed once and never rewritten; only
remaking it needs ``msoffcrypto-tool`` (ingest tells an encrypted workbook by its container, and
the tests use the committed file, so neither needs the package). Big ones
(a 10 MB cell, a million blank rows, a zip bomb) are never committed: :func:`make` writes them
into a temporary folder when a test needs them. Everything is deterministic (fixed seeds, fixed
timestamps), so a regeneration changes nothing unless an item changes.

Nothing here imports vilwork: the files are what an outside program would write, with headers
spelled out as officers see them.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import random
import struct
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "MANIFEST.csv"
MANIFEST_COLUMNS = ["file", "place_as", "source", "slow", "problem", "outcome", "expect", "rows_in", "quarantined"]
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)

# ---------------------------------------------------------------------------------------------
# rows, spelled as an officer's export spells them

HH = ["รหัสบ้าน", "บ้านเลขที่", "ชื่อหัวหน้าครัวเรือน", "รหัสหมู่บ้าน", "เขตการปกครอง", "ข้อ 4.1", "ข้อ 23", "รายได้จากอาชีพหลัก (บาท/ปี)"]
PP = ["รหัสบ้าน", "ชื่อ", "เลขประจำตัวประชาชน", "เพศ", "วันเดือนปีเกิด", "สถานะสุขภาพ", "อาชีพ"]
BASE_PLACE = "bmn/2561/bmn2561_households_base.csv"  # the good households every workspace gets
BASE_VILLAGE, VILLAGE = "99010101", "99010102"     # base households / households of the corpus


def cid(n: int, good: bool = True) -> str:
    """A citizen ID with a correct (or, with ``good=False``, a wrong) check digit."""
    first = f"3{n:011d}"
    x = sum((13 - i) * int(c) for i, c in enumerate(first)) % 11
    check = (11 - x) % 10
    return first + str(check if good else (check + 1) % 10)


def hh_rows(n: int = 3, village: str = VILLAGE, start: int = 1) -> list[list[str]]:
    return [[f"{village}{i:03d}", str(i), "นาย ทดสอบ ระบบ", village, "นอกเขต", "1", "1", "60000"] for i in range(start, start + n)]


def pp_rows(n: int = 3) -> list[list[str]]:
    """Persons of the base households (house codes 99010101001…003)."""
    return [[f"{BASE_VILLAGE}{(i % 3) + 1:03d}", f"คน{i}", cid(900 + i), "หญิง" if i % 2 else "ชาย", "15/01/2530", "ปกติ", "ทำนา"]
            for i in range(n)]


def csv_text(header: list[str], rows: list[list[str]], *, delimiter: str = ",", newline: str = "\r\n") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_base(raw: Path) -> Path:
    """The companion households file (3 good rows in village 99010101) of every test workspace."""
    p = raw / BASE_PLACE
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(codecs.BOM_UTF8 + csv_text(HH, hh_rows(3, BASE_VILLAGE)).encode("utf-8"))
    return p


# ---------------------------------------------------------------------------------------------
# writers: xlsx through openpyxl (what scripts write) and by hand (for exact control), OLE by hand


def _openpyxl_book(path: Path, sheets: list[tuple[str, list[list]]], merges: dict[str, list[str]] | None = None) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(r)
        for rng in (merges or {}).get(title, []):
            ws.merge_cells(rng)
    wb.properties.created = wb.properties.modified = dt.datetime(2020, 1, 1)
    buf = io.BytesIO()
    wb.save(buf)
    _rezip(buf.getvalue(), path)


def _rezip(data: bytes, path: Path) -> None:
    """Rewrite a zip with fixed timestamps so regenerating gives the same bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                import re

                body = re.sub(rb"<dcterms:(created|modified)([^>]*)>[^<]*<", rb"<dcterms:\1\2>2020-01-01T00:00:00Z<", body)
            out.writestr(zipfile.ZipInfo(info.filename, _FIXED_TIME), body, zipfile.ZIP_DEFLATED)


_CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
       '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       '<Default Extension="xml" ContentType="application/xml"/>'
       '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
       '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
       '{extra}</Types>')
_SST_CT = '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
         '</Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8"?>{dtd}<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
       '<sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '{extra}</Relationships>')
_SST_REL = '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'


def _col(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _esc(v: str) -> str:
    return v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def row_xml(r: int, values: list) -> str:
    """One ``<row>`` of inline strings (numbers as numbers)."""
    cells = []
    for i, v in enumerate(values):
        ref = f"{_col(i)}{r}"
        if v is None:
            continue
        if isinstance(v, (int, float)):
            cells.append(f'<c r="{ref}"><v>{v}</v></c>')
        else:
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{_esc(str(v))}</t></is></c>')
    return f'<row r="{r}">{"".join(cells)}</row>'


def raw_xlsx(path: Path, rows, *, sheet_name: str = "Sheet1", shared_strings=None, dtd: str = "") -> None:
    """A minimal workbook written by hand: ``rows`` yields ``<row>`` XML text, streamed into the zip.

    ``shared_strings`` yields the ``<si>`` elements of a shared-string table; ``dtd`` goes before the
    workbook element (for an entity declaration).
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        def put(name, text):
            z.writestr(zipfile.ZipInfo(name, _FIXED_TIME), text, zipfile.ZIP_DEFLATED)

        put("[Content_Types].xml", _CT.format(extra=_SST_CT if shared_strings is not None else ""))
        put("_rels/.rels", _RELS)
        put("xl/workbook.xml", _WB.format(name=sheet_name, dtd=dtd))
        put("xl/_rels/workbook.xml.rels", _WB_RELS.format(extra=_SST_REL if shared_strings is not None else ""))
        if shared_strings is not None:
            info = zipfile.ZipInfo("xl/sharedStrings.xml", _FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            with z.open(info, "w", force_zip64=True) as f:
                f.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
                for chunk in shared_strings:
                    f.write(chunk.encode("utf-8"))
                f.write(b"</sst>")
        info = zipfile.ZipInfo("xl/worksheets/sheet1.xml", _FIXED_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            f.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            buf = []
            for x in rows:
                buf.append(x)
                if len(buf) >= 5000:
                    f.write("".join(buf).encode("utf-8"))
                    buf = []
            f.write("".join(buf).encode("utf-8"))
            f.write(b"</sheetData></worksheet>")


def ole_container(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE compound file (version 3, 512-byte sectors) holding ``streams`` at the root.

    Enough for a reader that looks at the directory, as ingest does: the container of an old .xls
    (a ``Workbook`` stream) and of an encrypted .xlsx (``EncryptionInfo`` + ``EncryptedPackage``).
    Streams are padded to 4,096 bytes so none goes to the mini stream.
    """
    end, free, fatsect, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    names = sorted(streams, key=lambda n: (len(n), n.upper()))  # the directory's sort order
    bodies = [streams[n] + b"\0" * (-len(streams[n]) % 512 if len(streams[n]) >= 4096 else 4096 - len(streams[n])) for n in names]
    fat = [fatsect, end]
    starts = []
    for b in bodies:
        first = len(fat)
        count = len(b) // 512
        starts.append(first)
        fat += [first + i + 1 for i in range(count - 1)] + [end]
    assert len(fat) <= 128, "one FAT sector only"
    fat += [free] * (128 - len(fat))

    def entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0" if name else b""
        return (raw.ljust(64, b"\0") + struct.pack("<HBBIII", len(raw), kind, 1, nostream, right, child)
                + b"\0" * 16 + struct.pack("<I", 0) + b"\0" * 16 + struct.pack("<IQ", start, size))

    dirs = [entry("Root Entry", 5, 1 if names else nostream, nostream, end, 0)]
    for i, (n, s) in enumerate(zip(names, starts), start=1):
        dirs.append(entry(n, 2, nostream, i + 1 if i < len(names) else nostream, s, len(streams[n])))
    assert len(dirs) <= 4, "one directory sector only"
    while len(dirs) < 4:
        dirs.append(b"\0" * 64 + struct.pack("<HBBIII", 0, 0, 0, nostream, nostream, nostream) + b"\0" * 36 + struct.pack("<IQ", 0, 0))
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0) + struct.pack("<I", 0) + struct.pack("<I", free) * 108)
    assert len(header) == 512
    return header + struct.pack("<128I", *fat) + b"".join(dirs) + b"".join(bodies)


def _biff_workbook() -> bytes:
    """A BIFF8 workbook stream: BOF (workbook globals), EOF."""
    bof = struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x06)
    return bof + struct.pack("<HH", 0x000A, 0)


def _encrypted_streams(seed: int = 7) -> dict[str, bytes]:
    """What Excel writes for a password-protected .xlsx: agile EncryptionInfo and the encrypted package."""
    rng = random.Random(seed)
    info = (struct.pack("<HHI", 4, 4, 0x40)
            + b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<encryption '
              b'xmlns="http://schemas.microsoft.com/office/2006/encryption" '
              b'xmlns:p="http://schemas.microsoft.com/office/2006/keyencryptor/password">'
              b'<keyData saltSize="16" blockSize="16" keyBits="256" hashSize="64" cipherAlgorithm="AES" '
              b'cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512" saltValue="AAAAAAAAAAAAAAAAAAAAAA=="/>'
              b'</encryption>')
    package = struct.pack("<Q", 6000) + bytes(rng.getrandbits(8) for _ in range(6016))
    return {"EncryptionInfo": info, "EncryptedPackage": package}


# ---------------------------------------------------------------------------------------------
# the items


@dataclass(frozen=True)
class Item:
    file: str
    place_as: str
    problem: str
    outcome: str          # refused | quarantined | accepted
    expect: str = ""      # refusal substring | rules (;) | note substring
    rows_in: int | None = None
    quarantined: int | None = None
    generated: bool = False
    slow: bool = False


H = "bmn/2561/bmn2561_households_{}"
P = "bmn/2561/bmn2561_persons_{}"

ITEMS: list[Item] = [
    # -- files that cannot be read at all: refused, with a message saying what to do
    Item("truncated.xlsx", H.format("truncated.xlsx"), "a workbook cut off half-way (a download that stopped)", "refused", "damaged or incomplete"),
    Item("encrypted.xlsx", H.format("encrypted.xlsx"), "a password-protected workbook (OLE container with EncryptionInfo/EncryptedPackage)", "refused", "password-protected"),
    Item("encrypted_msoffcrypto.xlsx", H.format("encrypted_real.xlsx"), "a real password-protected workbook (agile AES-256, made once with msoffcrypto-tool)", "refused", "password-protected"),
    Item("html_saved_as.xls", H.format("html.xls"), "an HTML page saved as .xls by a web system", "refused", "HTML"),
    Item("old_format.xls", H.format("old.xls"), "an old binary Excel 97-2003 workbook (OLE container with a BIFF8 Workbook stream)", "refused", "old-format Excel workbook"),
    Item("word_document.xls", H.format("word.xls"), "an old Word document renamed .xls (OLE container without a workbook)", "refused", "not a workbook"),
    Item("empty.csv", H.format("empty.csv"), "an empty file (0 bytes)", "refused", "the file is empty"),
    Item("blank_lines_only.csv", H.format("blank_lines.csv"), "only blank lines and spaces", "refused", "the file is empty"),
    Item("header_only.csv", H.format("header_only.csv"), "a header row and no data", "refused", "no data rows"),
    Item("header_only.xlsx", H.format("header_only.xlsx"), "a workbook with a header row and no data", "refused", "no data rows"),
    Item("garbage.csv", H.format("garbage.csv"), "4 KB of random bytes named .csv", "refused", "binary data"),
    Item("garbage.xlsx", H.format("garbage.xlsx"), "4 KB of random bytes named .xlsx", "refused", "binary data"),
    Item("garbage_pk.xlsx", H.format("garbage_pk.xlsx"), "a zip signature followed by random bytes", "refused", "damaged or incomplete"),
    Item("not_a_workbook.xlsx", H.format("zip.xlsx"), "a valid zip holding a text file, named .xlsx", "refused", "not an Excel workbook"),
    Item("xml_entity_bomb.xlsx", H.format("entities.xlsx"), "a workbook whose XML declares nested entities (billion laughs)", "refused", "DTD/entities"),
    Item("formula_uncached.xlsx", H.format("formulas.xlsx"), "income cells are formulas with no saved value (written by a script, never opened in Excel)", "refused", "formula cells without a saved value"),
    Item("no_matching_sheet.xlsx", H.format("no_sheet.xlsx"), "two sheets, neither with the household headers", "refused", "sheets looked at"),
    Item("missing_required.csv", H.format("missing_required.csv"), "the village-code column is missing", "refused", "missing required column(s) for households: รหัสหมู่บ้าน (village_code)"),
    Item("unknown_headers.csv", "bmn/2561/export_9901.csv", "headers of no known table, in a file whose name does not tell the table", "refused", "cannot tell which table"),
    Item("no_year.csv", "bmn/bmn_households_9901.csv", "no year column, folder or file-name year", "refused", "no survey year"),
    Item("too_many_fields.csv", H.format("too_many_fields.csv"), "a row with 40 stray separators (more than the 16 extra fields tolerated)", "refused", "far more than the header"),
    Item("zip_bomb_shared_strings.xlsx", H.format("zip_bomb.xlsx"), "a 150 KB workbook whose shared-string table unpacks to 150 MB", "refused", "zip bomb", generated=True),
    # -- read correctly
    Item("windows874.csv", H.format("windows874.csv"), "Thai text in Windows-874 (TIS-620), as old Excel saves CSV", "accepted", "cp874", 3, 0),
    Item("utf16_bom.csv", H.format("utf16.csv"), "UTF-16 with a BOM, tab-separated (Excel's 'Unicode text')", "accepted", "utf-16", 3, 0),
    Item("utf16le_no_bom.csv", H.format("utf16_nobom.csv"), "UTF-16 little-endian without a BOM", "accepted", "utf-16-le", 3, 0),
    Item("merged_header.xlsx", H.format("merged.xlsx"), "a merged title row and merged group cells above the header row", "accepted", "", 3, 0),
    Item("excel_serial_dates.xlsx", P.format("serial_dates.xlsx"), "birth dates as Excel serial numbers and as date cells (one typed as a BE year)", "accepted", "", 3, 0),
    Item("extra_sheets.xlsx", H.format("extra_sheets.xlsx"), "an instructions sheet first, the data in a sheet with an unexpected name, a summary sheet after", "accepted", "used sheet 'ข้อมูล 2561'", 3, 0),
    Item("duplicate_columns.csv", H.format("duplicate_columns.csv"), "the village-code column twice (the second different)", "accepted", "duplicate columns", 3, 0),
    Item("unknown_extra_headers.csv", H.format("extra_headers.csv"), "known columns plus columns no table has", "accepted", "columns ignored", 3, 0),
    Item("thai_digits.csv", H.format("thai_digits.csv"), "every code and number in Thai digits", "accepted", "", 3, 0),
    Item("year_2digit_be.csv", H.format("year_2digit.csv"), "a year column of 2-digit BE years (61)", "accepted", "", 3, 0),
    Item("year_ce.csv", P.format("year_ce.csv"), "a year column in CE (2018) and birth dates in CE (ISO)", "accepted", "", 3, 0),
    Item("mixed_line_endings.csv", H.format("line_endings.csv"), "CRLF, LF and CR line endings in one file", "accepted", "", 4, 0),
    Item("xlsx_named_csv.csv", H.format("xlsx_named.csv"), "a real workbook named .csv", "accepted", "", 3, 0),
    Item("csv_named_xlsx.xlsx", H.format("csv_named.xlsx"), "CSV text named .xlsx", "accepted", "", 3, 0),
    Item("blank_rows_1m.xlsx", H.format("blank_rows.xlsx"), "3 data rows then 1,000,000 formatted blank rows", "accepted", "", 3, 0, generated=True, slow=True),
    Item("blank_rows_1m.csv", H.format("blank_rows.csv"), "3 data rows then 1,000,000 lines of empty fields", "accepted", "", 3, 0, generated=True, slow=True),
    # -- read, with the bad rows quarantined
    Item("future_birth_dates.csv", P.format("future.csv"), "a birth date after the survey (2570 BE); a 2-digit BE year (15/01/30)", "quarantined", "birth_after_reference", 3, 1),
    Item("citizen_id_check_digit.csv", P.format("check_digit.csv"), "two citizen IDs with a wrong check digit", "quarantined", "citizen_id_check_digit", 3, 2),
    Item("negative_members.csv", "aggregates/2561/61_tpmap_village_99.csv", "platform aggregates with a negative member count", "quarantined", "non_negative", 2, 1),
    Item("non_numeric_income.csv", H.format("income_text.csv"), "income written as words and n/a", "quarantined", "number", 3, 2),
    Item("nul_bytes.csv", P.format("nul.csv"), "a NUL byte inside a text cell", "quarantined", "control_character", 3, 1),
    Item("bom_in_middle.csv", H.format("concatenated.csv"), "two exports concatenated: a BOM and a second header row in the middle", "quarantined", "house_code_format;village_code_format", 5, 1),
    Item("totals_row.xlsx", H.format("totals.xlsx"), "a totals row (รวม) under the data", "quarantined", "totals_row", 4, 1),
    Item("totals_rows_grand.csv", H.format("totals_grand.csv"), "a subtotal row (รวมย่อย) and a grand total (รวมทั้งสิ้น 3 ครัวเรือน, village code filled in)", "quarantined", "totals_row", 5, 2),
    Item("totals_row_unread_column.xlsx", H.format("totals_seq.xlsx"), "a ลำดับ (sequence) column households do not read, and a totals row whose label รวมทั้งสิ้น is merged across it and the code columns", "quarantined", "totals_row", 4, 1),
    Item("totals_row_unread_column.csv", H.format("totals_seq.csv"), "a ลำดับ (sequence) column households do not read, holding รวม on the totals row", "quarantined", "totals_row", 4, 1),
    Item("totals_row_persons.xlsx", P.format("totals.xlsx"), "a Total row in the name column with the count in the sequence column; a person whose first name is รวม is kept", "quarantined", "totals_row", 5, 1),
    Item("stray_comma.csv", H.format("stray_comma.csv"), "an unquoted comma inside a name shifts one row", "quarantined", "row_fields", 3, 1),
    Item("negative_and_wrong_answers.csv", H.format("answers.csv"), "a negative income and answers other than 0/1", "quarantined", "non_negative;answer_01", 3, 2),
    Item("big_cell_10mb.csv", P.format("big_cell.csv"), "a 10 MB cell (occupation)", "quarantined", "cell_size", 3, 1, generated=True),
    Item("big_cell_10mb.xlsx", P.format("big_cell.xlsx"), "a 10 MB cell (occupation) in a workbook", "quarantined", "cell_size", 3, 1, generated=True, slow=True),
]


def _bom_csv(header, rows, **kw) -> bytes:
    return codecs.BOM_UTF8 + csv_text(header, rows, **kw).encode("utf-8")


def _xlsx_bytes(sheets, merges=None) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.xlsx"
        _openpyxl_book(p, sheets, merges)
        return p.read_bytes()


def _content(item: Item, folder: Path) -> bytes | None:
    """The bytes of a small item (None: written straight to ``folder`` by the maker)."""
    f = item.file
    rng = random.Random(f)
    good_xlsx = lambda: _xlsx_bytes([("Sheet1", [HH, *hh_rows()])])  # noqa: E731
    if f == "truncated.xlsx":
        data = good_xlsx()
        return data[: len(data) // 2]
    if f == "encrypted.xlsx":
        return ole_container(_encrypted_streams())
    if f == "encrypted_msoffcrypto.xlsx":
        if (folder / f).exists():
            return None  # committed once: the encryption is salted at random, so it is not regenerated
        from msoffcrypto.format.ooxml import OOXMLFile  # pip install msoffcrypto-tool (only to remake this file)

        out = io.BytesIO()
        OOXMLFile(io.BytesIO(_xlsx_bytes([("Sheet1", [HH, *hh_rows()])]))).encrypt("รหัสผ่าน", out)
        return out.getvalue()
    if f == "html_saved_as.xls":
        cells = "".join(f"<th>{h}</th>" for h in HH)
        body = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in r) + "</tr>" for r in hh_rows())
        return (f'<html xmlns:x="urn:schemas-microsoft-com:office:excel"><head><meta charset="utf-8"></head>'
                f"<body><table><tr>{cells}</tr>{body}</table></body></html>").encode("utf-8")
    if f == "old_format.xls":
        return ole_container({"Workbook": _biff_workbook(), "\x05SummaryInformation": b"\0" * 64})
    if f == "word_document.xls":
        return ole_container({"WordDocument": b"\xec\xa5" + b"\0" * 100, "1Table": b"\0" * 64})
    if f == "empty.csv":
        return b""
    if f == "blank_lines_only.csv":
        return b"\r\n   \r\n\t\n\n"
    if f == "header_only.csv":
        return _bom_csv(HH, [])
    if f == "header_only.xlsx":
        return _xlsx_bytes([("Sheet1", [HH])])
    if f in ("garbage.csv", "garbage.xlsx"):
        return bytes(rng.getrandbits(8) for _ in range(4096))
    if f == "garbage_pk.xlsx":
        return b"PK\x03\x04" + bytes(rng.getrandbits(8) for _ in range(4092))
    if f == "not_a_workbook.xlsx":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(zipfile.ZipInfo("readme.txt", _FIXED_TIME), "ไม่ใช่ตาราง / not a table\n")
        return buf.getvalue()
    if f == "xml_entity_bomb.xlsx":
        dtd = ('<!DOCTYPE workbook [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
               '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
               '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">'
               '<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>')
        raw_xlsx(folder / f, (row_xml(i + 1, r) for i, r in enumerate([HH, *hh_rows()])), dtd=dtd)
        return None
    if f == "formula_uncached.xlsx":
        rows = [r[:-1] + [f"=5000*12+{i}"] for i, r in enumerate(hh_rows())]
        return _xlsx_bytes([("Sheet1", [HH, *rows])])
    if f == "no_matching_sheet.xlsx":
        return _xlsx_bytes([("คำอธิบาย", [["แบบสำรวจ จปฐ."], ["กรอกข้อมูลในชีตถัดไป"]]), ("สรุป", [["อำเภอ", "จำนวน"], ["เมือง", 3]])])
    if f == "missing_required.csv":
        return _bom_csv([h for h in HH if h != "รหัสหมู่บ้าน"], [r[:3] + r[4:] for r in hh_rows()])
    if f == "unknown_headers.csv":
        return _bom_csv(["สินค้า", "ยอดขาย", "ผู้บันทึก"], [["ข้าวสาร", "100", "ทดสอบ"]])
    if f == "no_year.csv":
        return _bom_csv(HH, hh_rows())
    if f == "too_many_fields.csv":
        rows = hh_rows()
        rows[1] = rows[1] + [""] * 40
        return _bom_csv(HH, rows)
    if f == "windows874.csv":
        return csv_text(HH, hh_rows()).encode("cp874")
    if f == "utf16_bom.csv":
        return codecs.BOM_UTF16_LE + csv_text(HH, hh_rows(), delimiter="\t").encode("utf-16-le")
    if f == "utf16le_no_bom.csv":
        return csv_text(HH, hh_rows()).encode("utf-16-le")
    if f == "merged_header.xlsx":
        title = ["ข้อมูลความจำเป็นพื้นฐาน (จปฐ.) ปี 2561 หมู่ที่ 2"] + [None] * 7
        groups = [None, None, None, None, None, "หมวดที่ 1 สุขภาพ", None, "รายได้"]
        return _xlsx_bytes([("Sheet1", [title, groups, HH, *hh_rows()])], {"Sheet1": ["A1:H1", "F2:G2"]})
    if f == "excel_serial_dates.xlsx":
        rows = pp_rows()
        rows[0][4] = 32158                     # 15/01/1988 as a serial number
        rows[1][4] = dt.datetime(2530, 1, 15)  # a BE year typed into a date cell
        rows[2][4] = dt.datetime(1987, 1, 15)
        return _xlsx_bytes([("Sheet1", [PP, *rows])])
    if f == "extra_sheets.xlsx":
        return _xlsx_bytes([("คำอธิบาย", [["กรอกข้อมูลในชีตถัดไป"]]), ("ข้อมูล 2561", [HH, *hh_rows()]), ("สรุป", [["รวม", 3]])])
    if f == "duplicate_columns.csv":
        return _bom_csv(HH + ["รหัสหมู่บ้าน"], [r + ["00000000"] for r in hh_rows()])
    if f == "unknown_extra_headers.csv":
        return _bom_csv(HH + ["หมายเหตุของ อสม.", "Unnamed: 12"], [r + ["ตรวจแล้ว", ""] for r in hh_rows()])
    if f == "thai_digits.csv":
        table = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
        return _bom_csv(HH, [[v.translate(table) for v in r] for r in hh_rows()])
    if f == "year_2digit_be.csv":
        return _bom_csv(["ปีสำรวจ", *HH], [["61", *r] for r in hh_rows()])
    if f == "year_ce.csv":
        rows = [["2018", *r[:4], "1987-01-15", *r[5:]] for r in pp_rows()]
        return _bom_csv(["ปีสำรวจ", *PP], rows)
    if f == "mixed_line_endings.csv":
        lines = csv_text(HH, hh_rows(4), newline="\n").splitlines()
        ends = ["\r\n", "\n", "\r", "\r\n", "\n"]
        return codecs.BOM_UTF8 + "".join(line + e for line, e in zip(lines, ends)).encode("utf-8")
    if f == "xlsx_named_csv.csv":
        return good_xlsx()
    if f == "csv_named_xlsx.xlsx":
        return _bom_csv(HH, hh_rows())
    if f == "future_birth_dates.csv":
        rows = pp_rows()
        rows[1][4] = "01/06/2570"
        rows[2][4] = "15/01/30"
        return _bom_csv(PP, rows)
    if f == "citizen_id_check_digit.csv":
        rows = pp_rows()
        rows[0][2] = cid(900, good=False)
        rows[2][2] = cid(902, good=False)
        return _bom_csv(PP, rows)
    if f == "negative_members.csv":
        head = ["village_ID", "household.CNT", "HOUSEMEMBER_CNT", "indicator1.ALL", "indicator1.CNT"]
        return _bom_csv(head, [["9901010201", "40", "150", "150", "3"], ["9901010301", "35", "-3", "120", "2"]])
    if f == "non_numeric_income.csv":
        rows = hh_rows()
        rows[0][7], rows[1][7], rows[2][7] = "สามหมื่น", "n/a", "1,200"
        return _bom_csv(HH, rows)
    if f == "nul_bytes.csv":
        rows = pp_rows()
        rows[1][6] = "ทำ\x00นา"
        return _bom_csv(PP, rows)
    if f == "bom_in_middle.csv":
        return _bom_csv(HH, hh_rows(2)) + _bom_csv(HH, hh_rows(2, start=3))
    if f == "totals_row.xlsx":
        total = ["รวม", None, None, None, None, None, None, 180000]
        return _xlsx_bytes([("Sheet1", [HH, *[[int(v) if v.isdigit() and len(v) < 6 else v for v in r] for r in hh_rows()], total])])
    if f == "totals_rows_grand.csv":
        rows = hh_rows(2)
        rows.append(["รวมย่อย", "", "", "", "", "2", "2", "120000"])
        rows += hh_rows(1, start=3)
        rows.append(["รวมทั้งสิ้น 3 ครัวเรือน", "", "", VILLAGE, "", "3", "3", "180000"])
        return _bom_csv(HH, rows)
    if f in ("totals_row_unread_column.xlsx", "totals_row_unread_column.csv"):
        head = ["ลำดับ", *HH]
        rows = [[str(i + 1), *r] for i, r in enumerate(hh_rows())]
        if f.endswith(".csv"):
            return _bom_csv(head, [*rows, ["รวม", "", "", "", "", "", "3", "3", "180000"]])
        rows = [[int(v) if v.isdigit() and len(v) < 6 else v for v in r] for r in rows]
        total = ["รวมทั้งสิ้น", None, None, None, None, None, 3, 3, 180000]
        return _xlsx_bytes([("Sheet1", [head, *rows, total])], {"Sheet1": ["A5:E5"]})
    if f == "totals_row_persons.xlsx":
        head = ["ลำดับที่", *PP]
        rows = [[str(i + 1), *r] for i, r in enumerate(pp_rows())]
        named = pp_rows(4)[3]
        named[1] = "รวม"  # a first name, with a house code and a citizen ID: a person
        rows.append(["4", *named])
        rows.append(["4 คน", "", "Total", "", "", "", "", ""])
        return _xlsx_bytes([("Sheet1", [head, *rows])])
    if f == "stray_comma.csv":
        text = csv_text(HH, hh_rows())
        lines = text.split("\r\n")
        lines[2] = lines[2].replace("นาย ทดสอบ ระบบ", "นาย ทดสอบ, ระบบ")
        return codecs.BOM_UTF8 + "\r\n".join(lines).encode("utf-8")
    if f == "negative_and_wrong_answers.csv":
        rows = hh_rows()
        rows[0][7] = "-5000"
        rows[2][5] = "2"
        return _bom_csv(HH, rows)
    raise KeyError(f)


def _make_generated(item: Item, path: Path) -> None:
    f = item.file
    if f == "zip_bomb_shared_strings.xlsx":
        si = "<si><t>" + "ก" * 1000 + "</t></si>"   # 3 KB of XML per string, compresses ~1000:1
        count = 150 * 2**20 // len(si.encode())
        rows = [row_xml(1, HH), *(row_xml(i + 2, r) for i, r in enumerate(hh_rows()))]
        raw_xlsx(path, iter(rows), shared_strings=(si * 1000 for _ in range(count // 1000)))
    elif f == "blank_rows_1m.xlsx":
        def rows():
            yield row_xml(1, HH)
            for i, r in enumerate(hh_rows()):
                yield row_xml(i + 2, r)
            for r in range(5, 1_000_005):  # what Excel writes when formatting is applied to whole columns
                yield f'<row r="{r}" spans="1:8"><c r="A{r}" s="1"/><c r="H{r}" s="1"/></row>'
        raw_xlsx(path, rows())
    elif f == "blank_rows_1m.csv":
        with open(path, "wb") as out:
            out.write(_bom_csv(HH, hh_rows()))
            out.write(("," * (len(HH) - 1) + "\r\n").encode() * 1_000_000)
    elif f == "big_cell_10mb.csv":
        rows = pp_rows()
        rows[1][6] = "ทำนา" * (10 * 2**20 // 12)  # 10 MB of UTF-8
        path.write_bytes(_bom_csv(PP, rows))
    elif f == "big_cell_10mb.xlsx":
        rows = pp_rows()
        rows[1][6] = "ทำนา" * (10 * 2**20 // 12)
        raw_xlsx(path, (row_xml(i + 1, r) for i, r in enumerate([PP, *rows])))
    else:
        raise KeyError(f)


def make(item: Item, folder: Path) -> Path:
    """Write ``item`` into ``folder`` (generated items) or return its committed file."""
    if not item.generated:
        return HERE / item.file
    path = Path(folder) / item.file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _make_generated(item, path)
    return path


def write_small(folder: Path = HERE) -> list[Path]:
    """Write every committed (small) item and the manifest into ``folder``."""
    out = []
    for item in ITEMS:
        if item.generated:
            continue
        data = _content(item, folder)
        if data is not None:
            (folder / item.file).write_bytes(data)
        out.append(folder / item.file)
    with open(folder / MANIFEST.name, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(MANIFEST_COLUMNS)
        for i in ITEMS:
            w.writerow([i.file, i.place_as, "generated" if i.generated else "committed", "yes" if i.slow else "no", i.problem,
                        i.outcome, i.expect, "" if i.rows_in is None else i.rows_in, "" if i.quarantined is None else i.quarantined])
    return out


def read_manifest(path: Path = MANIFEST) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


if __name__ == "__main__":
    files = write_small(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
    print(f"{len(files)} committed items and MANIFEST.csv written; {sum(i.generated for i in ITEMS)} items are generated by the tests")
