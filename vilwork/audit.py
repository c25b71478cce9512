"""PDPA audit: scan every output file for citizen IDs, names and house numbers of surveyed people.

``vilwork audit`` scans ``reports/`` and ``data/processed/``; :func:`vilwork.run.run_village`
scans each report before it is published (a report with a hit is never swapped in). What is
looked for:

* **citizen IDs**: 13 digits with a valid check digit, also written with dashes or spaces
  (``1-2345-67890-12-3``) or in Thai digits;
* **names** of the people in the raw household and person files (``data/raw``, read the way
  ingest reads them): a first name followed by its last name, as exact strings (a title glued
  to the first name, ``นายสมชาย ใจดี``, still matches);
* **house numbers** of the raw household files in a house-number context (``บ้านเลขที่ 12/3``,
  ``เลขที่ 12/3``, ``house no. 12/3``).

Text is taken from PDF (``pdftotext``, else ``pypdf``), HTML/SVG/JS/CSS/JSON/GeoJSON/CSV/TXT/
ipynb (HTML entities and ``\\uXXXX`` escapes decoded), XLSX cells and Parquet columns. Pictures
and video (cards, ``km-video.mp4``, photos, fonts) cannot be text-scanned: they are listed, not
scanned; the cards and the video are drawn only from the headline texts of
:func:`vilwork.km.social_cards`, which are aggregated numbers and place names. A hit never
prints the value: IDs are masked (``1-2345-xxxxx-xx-3``), names and house numbers are not shown.
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .errors import VilworkError
from .log import get_logger
from .pseudonym import mask_id
from .thai import citizen_id_check_digit, to_ascii_digits
from .workspace import Workspace

log = get_logger(__name__)

TEXT_SUFFIXES = {".html", ".htm", ".svg", ".js", ".mjs", ".css", ".json", ".geojson", ".csv", ".txt", ".md",
                 ".yaml", ".yml", ".xml", ".ipynb", ".tsv", ".log"}
#: formats that hold no extractable text: listed by the audit, never scanned
UNSCANNABLE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".mp4", ".webm", ".woff", ".woff2",
                        ".ttf", ".otf", ".eot", ".ico", ".zip"}


class AuditError(VilworkError):
    """Raised when an output holds personal data (a citizen ID, a name or a house number)."""


@dataclass(frozen=True)
class Hit:
    """One finding: the file (relative to the workspace), where in it, what kind, a masked sample."""

    file: str
    location: str
    kind: str
    sample: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.location}: {self.kind}" + (f" ({self.sample})" if self.sample else "")


@dataclass
class AuditReport:
    hits: list[Hit] = field(default_factory=list)
    scanned: int = 0
    not_scanned: list[tuple[str, str]] = field(default_factory=list)
    remembered: int = 0  # of ``scanned``: found clean by an earlier audit, unchanged since

    @property
    def ok(self) -> bool:
        return not self.hits

    def __str__(self) -> str:
        lines = []
        if self.hits:
            lines.append(f"พบข้อมูลส่วนบุคคล {len(self.hits)} จุด / personal data found at {len(self.hits)} place(s):")
            lines += [f"  {h}" for h in self.hits[:200]]
            if len(self.hits) > 200:
                lines.append(f"  … and {len(self.hits) - 200} more")
        else:
            lines.append(f"ไม่พบข้อมูลส่วนบุคคล / no personal data found: {self.scanned} file(s) scanned"
                         + (f" ({self.remembered} unchanged since an earlier clean audit)" if self.remembered else ""))
        if self.not_scanned:
            by_reason: dict[str, set[str]] = {}
            for f, why in self.not_scanned:
                by_reason.setdefault(why, set()).add(Path(f).suffix.lower() or f)
            for why, kinds in by_reason.items():
                n = sum(1 for _f, w in self.not_scanned if w == why)
                lines.append(f"ไม่ได้สแกน / not text-scanned: {n} file(s), {why} ({', '.join(sorted(kinds))})")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# what to look for


@dataclass
class Identifiers:
    """Names and house numbers of the raw files (kept in memory only, never written)."""

    last_to_first: dict[str, set[str]] = field(default_factory=dict)
    house_numbers: set[str] = field(default_factory=set)
    #: which raw files (names, sizes, times) the lists come from; "" when built by hand
    fingerprint: str = ""

    def add_name(self, first: str | None, last: str | None) -> None:
        first, last = _norm(first or "").strip(), _norm(last or "").strip()
        if len(first) >= 2 and len(last) >= 2 and " " not in last:
            self.last_to_first.setdefault(last, set()).add(first.split()[-1])

    @property
    def names(self) -> int:
        return sum(len(v) for v in self.last_to_first.values())


# not inside a longer run of digits or letters (hex pseudonyms, decimals), Thai text around is fine
_ID_CANDIDATE = re.compile(r"(?<![0-9A-Za-z.])([1-8](?:[ \-]?[0-9]){12})(?![0-9A-Za-z]|\.[0-9])")
_HOUSE_CONTEXT = re.compile(r"(?:บ้านเลขที่|เลขที่|house\s*(?:no\.?|number)|บ้าน\s*เลข)\s*[:.]?\s*([0-9]+(?:/[0-9]+)?)", re.I)
_TOKEN_SPLIT = re.compile(r"[\s,;|\"'<>()\[\]{}=:\\/.·•\-–—]+")
_TITLE = re.compile(r"^(?:นางสาว|นาง|นาย|เด็กชาย|เด็กหญิง|น\.ส\.|ด\.ช\.|ด\.ญ\.)")
_U_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_TAG = re.compile(r"<[^<>]{0,2000}>")


def _norm(text: str) -> str:
    return to_ascii_digits(unicodedata.normalize("NFC", str(text)))


def valid_citizen_id(digits: str) -> bool:
    """13 ASCII digits with the right check digit."""
    return len(digits) == 13 and digits.isdigit() and citizen_id_check_digit(digits[:12]) == int(digits[12])


_CACHE: dict[tuple, Identifiers] = {}


def _raw_fingerprint(files) -> tuple:
    out = []
    for p, name, table in files:
        try:
            st = p.stat()
        except OSError:
            continue
        out.append((name, table, st.st_size, st.st_mtime_ns))
    return tuple(out)


#: workbooks up to this size are read with python-calamine, which holds the sheet in memory
#: (about 30 bytes a cell); larger ones are streamed by openpyxl as ingest reads them
FAST_XLSX_MAX_BYTES = 64 * 1024 * 1024


def _wanted_rows(src):
    """The rows of ``src``'s columns (``src.positions``), as text: one frame from python-calamine
    for a workbook (Rust; the 12 demo villages' person and household sheets in 0.7 CPU s against
    9 with openpyxl, paid by every batch worker at its first village), else, or if that fails,
    the readers' own chunks. Values as ``readers.cell_text`` makes them, blank cells ``None``."""
    if src.format == "xlsx":
        try:
            frame = _calamine_frame(src)
        except Exception as e:  # noqa: BLE001 - any failure: the slower reader below
            log.info("audit: %s not read by python-calamine (%s); using openpyxl", src.name, e)
            frame = None
        if frame is not None:
            yield frame
            return
    yield from src.chunks()


def _calamine_frame(src):
    import pandas as pd

    try:
        import python_calamine
    except ImportError:
        return None
    if src.path.stat().st_size > FAST_XLSX_MAX_BYTES:
        return None
    from .readers import cell_text

    wb = python_calamine.CalamineWorkbook.from_path(str(src.path))
    rows = wb.get_sheet_by_name(src.sheet).to_python(skip_empty_area=False)  # row 0 is row 1
    body = rows[src.header_row: src.last_row]
    cols = src.columns
    out = {}
    for c in cols:
        i = src.positions[c]
        out[c] = [None if (v := (r[i] if i < len(r) else None)) is None or v == "" else cell_text(v) for r in body]
    return pd.DataFrame(out, columns=cols, dtype=object)


def load_identifiers(ws: Workspace) -> Identifiers:
    """Names (first + last, head of household) and house numbers from the raw household and
    person files, read with ingest's readers (header aliases, encodings). Cached per process
    while the files are unchanged."""
    from .ingest import discover
    from .readers import open_table

    if not ws.raw.is_dir():
        return Identifiers()
    files, _ = discover(ws.raw)
    files = [f for f in files if f[2] in ("persons", "households", None)]
    key = (str(ws.raw), _raw_fingerprint(files))
    if key in _CACHE:
        return _CACHE[key]
    import hashlib

    ids = Identifiers(fingerprint=hashlib.sha256(repr(key).encode("utf-8")).hexdigest())
    wanted = {"first_name", "last_name", "head_name", "house_no"}
    for p, name, table in files:
        if table is None:
            continue  # tables found from headers (aggregates, kchch2k, …) carry no names
        try:
            src = open_table(p, table, name=name)
        except VilworkError as e:  # a file ingest refuses holds nothing ingest could publish
            log.info("audit: %s not read: %s", name, e)
            continue
        src.positions = {k: v for k, v in src.positions.items() if k in wanted}
        if not src.positions:
            continue
        try:
            for ch in _wanted_rows(src):
                if "first_name" in ch.columns and "last_name" in ch.columns:
                    for f, lname in zip(ch["first_name"], ch["last_name"]):
                        ids.add_name(f, lname)
                if "head_name" in ch.columns:
                    for h in ch["head_name"].dropna():
                        parts = _norm(h).split()
                        if len(parts) >= 2:
                            ids.add_name(_TITLE.sub("", parts[-2]) or parts[-2], parts[-1])
                if "house_no" in ch.columns:
                    ids.house_numbers.update(_norm(x).strip() for x in ch["house_no"].dropna() if str(x).strip())
        except VilworkError as e:
            log.info("audit: %s not fully read: %s", name, e)
    _CACHE.clear()
    _CACHE[key] = ids
    return ids


# ---------------------------------------------------------------------------------------------
# scanning text


#: _HOUSE_CONTEXT for text whose lines are joined by "\n": its spaces never cross a line
_HOUSE_CONTEXT_JOINED = re.compile(_HOUSE_CONTEXT.pattern.replace(r"\s", r"[^\S\n]"), _HOUSE_CONTEXT.flags)


def scan_text(text: str, ids: Identifiers, file: str, where: str = "") -> list[Hit]:
    """Hits in one piece of text (already decoded); ``where`` prefixes the line number.

    Line by line in meaning (no match spans two lines), but the patterns run over the whole
    text at once and only lines holding a possible surname start are split into words: a
    million-line Parquet column of codes is scanned in C, not in a Python loop (8× faster on a
    persons table; the same hits in the same order).
    """
    import bisect
    import itertools

    text = _norm(text)
    lines = text.splitlines() or [""]
    joined = "\n".join(lines)  # every line break now "\n"; none of the patterns' spaces matches it
    breaks: list[int] = []

    def where_is(pos: int) -> tuple[int, int]:
        if not breaks and len(lines) > 1:  # where each "\n" is, worked out at the first hit only
            breaks.extend(itertools.accumulate(len(line) + 1 for line in lines[:-1]))
        n = bisect.bisect_right(breaks, pos)  # lines before pos (breaks[i] is where line i + 1 starts)
        return n, pos - (breaks[n - 1] if n else 0)

    found: list[tuple[int, int, int, Hit]] = []  # (line, kind order, column, hit)

    def loc(n: int) -> str:
        return f"{where}line {n + 1}" if where else f"line {n + 1}"

    for m in _ID_CANDIDATE.finditer(joined):
        digits = re.sub(r"\D", "", m.group(1))
        if valid_citizen_id(digits):
            n, col = where_is(m.start())
            found.append((n, 0, col, Hit(file, f"{loc(n)}, col {col + 1}", "citizen ID / เลขประจำตัวประชาชน", mask_id(digits))))
    if ids.house_numbers:
        for m in _HOUSE_CONTEXT_JOINED.finditer(joined):
            if m.group(1) in ids.house_numbers:
                n, col = where_is(m.start())
                found.append((n, 1, col, Hit(file, f"{loc(n)}, col {col + 1}", "house number / บ้านเลขที่", "value hidden")))
    if ids.last_to_first:
        lengths = sorted({len(k) for k in ids.last_to_first}, reverse=True)
        starts = {k[0] for k in ids.last_to_first}
        start_re = re.compile("[" + "".join(re.escape(c) for c in sorted(starts)) + "]")
        todo = sorted({where_is(m.start())[0] for m in start_re.finditer(joined)})
        for n in todo:
            toks = [t for t in _TOKEN_SPLIT.split(lines[n]) if t]
            for a, b in zip(toks, toks[1:]):
                if b[0] not in starts:
                    continue
                for L in lengths:
                    if len(b) < L:
                        continue
                    firsts = ids.last_to_first.get(b[:L])
                    if firsts and any(a.endswith(f) for f in firsts):
                        found.append((n, 2, 0, Hit(file, loc(n), "person name / ชื่อ-นามสกุล", f"{a[:1]}… {b[:1]}…")))
                        break
    found.sort(key=lambda x: (x[0], x[1], x[2]))
    return [h for *_k, h in found]


def _decode(text: str) -> str:
    text = _U_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = text.replace("\\n", "\n").replace("\\t", " ")
    return html.unescape(text)


def _read_text_file(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        return None
    for enc in ("utf-8-sig", "cp874"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def _pdf_pages(path: Path) -> list[str]:
    exe = shutil.which("pdftotext")
    if exe:
        r = subprocess.run([exe, "-enc", "UTF-8", str(path), "-"], capture_output=True, timeout=300)
        if r.returncode == 0:
            return r.stdout.decode("utf-8", errors="replace").split("\f")
    try:
        import pypdf
    except ImportError:
        raise AuditError(f"cannot read the text of {path.name}: install poppler-utils (pdftotext) or pypdf") from None
    return [p.extract_text() or "" for p in pypdf.PdfReader(str(path)).pages]


def _xlsx_rows(path: Path):
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        for ws in wb.worksheets:
            for i, row in enumerate(ws.iter_rows(values_only=True), 1):
                yield ws.title, i, " , ".join("" if v is None else str(v) for v in row)
    finally:
        wb.close()


#: rows of a Parquet file scanned at a time: memory stays bounded on a national table
PARQUET_BATCH_ROWS = 200_000


def _parquet_lines(path: Path):
    """(where, text) to scan: each column's values one per line, and the text columns of each row
    together (names split over two columns), ``PARQUET_BATCH_ROWS`` rows at a time.

    Text is made by Arrow (casts and joins in C): numbers and text as they print; floats only
    where they hold a 13-digit integer (an ID survives as a float exactly); times and durations
    are left out; other types (dates, lists) print as Python prints them.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        text_cols = []
        for name, col in zip(batch.schema.names, batch.columns):
            t = col.type
            if pa.types.is_dictionary(t):
                col, t = col.dictionary_decode(), t.value_type
            if pa.types.is_floating(t):
                v = col.to_numpy(zero_copy_only=False)
                with np.errstate(invalid="ignore"):
                    keep = (np.abs(v) >= 1e12) & (np.abs(v) < 1e13) & (np.floor(v) == v)
                vals = [str(int(x)) for x in v[keep].tolist()]
            elif pa.types.is_timestamp(t) or pa.types.is_duration(t):
                continue
            elif pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
                vals = pc.cast(pc.drop_null(col), pa.string()).to_pylist()
                if pa.types.is_string(t) or pa.types.is_large_string(t):
                    text_cols.append(pc.fill_null(pc.cast(col, pa.string()), ""))
            else:
                vals = [str(x) for x in col.to_pylist() if x is not None]
            yield f"column {name}: ", "\n".join(vals)
        if len(text_cols) >= 2:  # names split over two columns
            rows = pc.binary_join_element_wise(*text_cols, " , ")
            yield "rows: ", "\n".join(rows.to_pylist())


def scan_file(path: Path, ids: Identifiers, rel: str) -> tuple[list[Hit], bool]:
    """Hits in one file and whether it could be scanned."""
    suf = path.suffix.lower()
    if suf in UNSCANNABLE_SUFFIXES:
        return [], False
    if suf == ".pdf":
        hits = []
        for i, page in enumerate(_pdf_pages(path), 1):
            hits += scan_text(page, ids, rel, f"page {i}, ")
        return hits, True
    if suf in (".xlsx", ".xlsm"):
        hits = []
        for sheet, i, line in _xlsx_rows(path):
            hits += [Hit(h.file, f"sheet {sheet} row {i}", h.kind, h.sample) for h in scan_text(line, ids, rel)]
        return hits, True
    if suf == ".parquet":
        hits = []
        for where, text in _parquet_lines(path):
            hits += scan_text(text, ids, rel, where)
        return hits, True
    text = _read_text_file(path)
    if text is None:
        return [], False
    decoded = _decode(text)
    hits = scan_text(decoded, ids, rel)
    if suf in (".html", ".htm", ".svg", ".ipynb", ".xml"):
        stripped = _TAG.sub(" ", decoded)  # names split by markup (<td>first</td><td>last</td>)
        seen = {(h.location, h.kind) for h in hits}
        hits += [h for h in scan_text(stripped, ids, rel) if (h.location, h.kind) not in seen]
    return hits, True


#: SHA-256 of files by (device, inode, size, modification time): the shipped assets are hard
#: links to one copy per batch, so each is read and hashed once per process, not once per village
_DIGESTS: dict[tuple, str] = {}


def _sha256(p: Path, st=None) -> str:
    import hashlib

    st = st or p.stat()
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    d = _DIGESTS.get(key)
    if d is None:
        d = hashlib.sha256(p.read_bytes()).hexdigest()
        if len(_DIGESTS) > 10_000:
            _DIGESTS.clear()
        _DIGESTS[key] = d
    return d


def _shipped_assets() -> dict[int, set[str]]:
    """Size -> SHA-256 of the browser assets vilwork ships (plotly.js, reveal.js, Leaflet, fonts,
    CSS): an identical copy in a report is library code, not data, and is not scanned."""
    try:
        from .publish.assets import asset_sources

        srcs = asset_sources().values()
    except Exception:  # no vendored assets installed: nothing is exempt
        return {}
    out: dict[int, set[str]] = {}
    for p in srcs:
        if p.is_file():
            st = p.stat()
            out.setdefault(st.st_size, set()).add(_sha256(p, st))
    return out


def _is_shipped(p: Path, shipped: dict[int, set[str]], st=None) -> bool:
    st = st or p.stat()
    digests = shipped.get(st.st_size)
    return bool(digests) and _sha256(p, st) in digests


def _read_record(path: Path | None, fingerprint: str) -> dict:
    import json

    if path is None or not fingerprint:
        return {}
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(rec, dict) or rec.get("identifiers") != fingerprint or rec.get("version") != _RECORD_VERSION:
        return {}
    files = rec.get("clean")
    return files if isinstance(files, dict) else {}


def _write_record(path: Path, fingerprint: str, clean: dict) -> None:
    import json

    from .atomic import write_text_atomic

    try:
        write_text_atomic(json.dumps({"version": _RECORD_VERSION, "identifiers": fingerprint, "clean": clean},
                                     ensure_ascii=False), path)
    except OSError as e:  # a record not kept only means a full scan next time
        log.info("audit record %s not written: %s", path, e)


#: bump when what a scan looks for changes: earlier clean records are then not trusted
_RECORD_VERSION = 1


def audit_paths(ws: Workspace, paths, ids: Identifiers | None = None, *, record: Path | None = None) -> AuditReport:
    """Scan the files below ``paths`` (files or folders inside the workspace).

    ``record``: a JSON file of the files found clean (path, size, modification time, inode),
    with the raw files the names came from. A file unchanged since then, audited against the same
    names, is not scanned again — a batch does not read a national ``data/processed`` (GBs) at
    every run, only after an ingest changed it. Files with hits are never recorded.
    """
    ids = ids if ids is not None else load_identifiers(ws)
    shipped = _shipped_assets()
    rep = AuditReport()
    known = _read_record(record, ids.fingerprint)
    clean: dict[str, list] = {}
    for top in paths:
        top = Path(top)
        if not top.exists():
            continue
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*"))
        for p in files:
            try:
                rel = p.relative_to(ws.root).as_posix()
            except ValueError:
                rel = str(p)
            if p.is_symlink():
                rep.not_scanned.append((rel, "symbolic link (not followed)"))
                continue
            if not p.is_file():
                continue
            st = p.stat()
            if _is_shipped(p, shipped, st):
                rep.not_scanned.append((rel, "vilwork's own browser asset, identical to the shipped copy"))
                continue
            stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
            if record is not None and known.get(rel) == stamp:
                rep.scanned += 1
                rep.remembered += 1
                clean[rel] = stamp
                continue
            try:
                hits, scanned = scan_file(p, ids, rel)
            except AuditError:
                raise
            except Exception as e:  # a file the audit cannot read is a failure, not a pass
                rep.hits.append(Hit(rel, "whole file", "unreadable / อ่านไม่ได้", f"{type(e).__name__}"))
                continue
            rep.hits += hits
            if scanned:
                rep.scanned += 1
                if not hits:
                    clean[rel] = stamp
            else:
                rep.not_scanned.append((rel, "picture, video or font"))
    if record is not None and ids.fingerprint:
        _write_record(record, ids.fingerprint, clean)
    return rep


def audit_workspace(ws: Workspace) -> AuditReport:
    """Scan everything under ``reports/`` and ``data/processed/``."""
    return audit_paths(ws, [ws.reports, ws.processed])


def check_outputs(ws: Workspace, paths, what: str) -> AuditReport:
    """:func:`audit_paths`, raising :class:`AuditError` (with every hit) when anything is found."""
    rep = audit_paths(ws, paths)
    if not rep.ok:
        raise AuditError(f"{what}: PDPA audit failed\n{rep}")
    return rep


__all__ = ["AuditError", "AuditReport", "Hit", "Identifiers", "audit_paths", "audit_workspace", "check_outputs",
           "load_identifiers", "scan_text", "valid_citizen_id"]
