"""Raw → processed: read every input under ``data/raw``, validate it, write Parquet and a quarantine.

:func:`ingest` is the one entry point. What it reads, the rules it applies and the files it writes
are described for users in ``docs/ingest.md`` and, as a contract, in ``docs/architecture.md``.

The shape of a run:

1. the pseudonym key is loaded (or created; :class:`~vilwork.errors.KeyFileError` if processed data
   exist without it);
2. the files under ``data/raw`` are classified by folder and name (else by their headers);
3. the place list, then household files, then person files (so a person's household can be
   checked across chunks and files), then platform aggregates, กชช. 2ค, accounts and capital are
   read in chunks; each chunk is cleaned, validated lazily (:mod:`vilwork.schemas`), checked for
   duplicates and membership, and its accepted rows are pseudonymised and typed;
4. households get their member counts and income per member; ``quarantine.csv`` and
   ``ingest_summary.json`` close the run.

Crash safety: everything is written into a hidden staging folder ``data/processed/.ingest-new``,
flushed to disk and marked complete, and only then moved into place (:func:`publish_staged`),
the summary last. A run killed before the mark leaves the previous outputs untouched (the next
run deletes the staging folder); a run killed while moving is finished by the next ``ingest`` or
``indicators`` (:func:`recover`). Two ingests of one workspace never run at once (a lock file).

A file is processed as a unit: if it cannot be read to the end, nothing of it is kept and it is
reported as refused. For every file and in total, rows in = accepted + quarantined.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import registry
from .atomic import fsync_path, pause_point, remove_stale_tmp, replace_durably, tmp_path, write_parquet_atomic, write_text_atomic
from .disclosure import neutralise_frame
from .errors import DefinitionError, InputError, OutputError
from .locks import INGEST_LOCK, processed_lock
from .log import get_logger
from .pseudonym import load_key, mask_id, mask_value, pseudonym_ids, pseudonymise
from .readers import CHUNK_ROWS, TableSource, open_table
from .schemas import (
    answer_columns,
    helper_name,
    level_columns,
    mark_totals_rows,
    message,
    output_schema,
    prepare,
    to_float,
    to_typed,
    validate,
)
from .thai import to_ascii_digits, year_from_text
from .workspace import Workspace

log = get_logger(__name__)

#: what ingest owns in data/processed (replaced as a whole by every run; the summary is moved last)
OWNED = ("households", "persons", "aggregates", "kchch2k.parquet", "accounts.parquet", "capital.parquet",
         "places.parquet", "quarantine.csv", "ingest_summary.json")
STAGE = ".ingest-new"      # the run being written (invisible to readers until published)
_OLD = ".ingest-old"       # previous outputs on their way out during publishing
_COMMIT = ".complete"      # in STAGE: the run is whole on disk and may be published
_LOCK = INGEST_LOCK  # ingest's own lock file (see vilwork.locks)
_LEGACY = (".ingest-tmp",)  # scratch folder of earlier versions
DATA_SUFFIXES = {".csv", ".tsv", ".xlsx", ".xlsm", ".xls"}
QUARANTINE_COLUMNS = ["file", "row", "column", "value", "rule", "message"]
_INCOME = ("income_main", "income_secondary", "income_other", "income_own_produce")
_PHASES = ("places", "households", "persons", "aggregates", "kchch2k", "accounts", "capital")
_NOT_INGESTED = {
    "votes.csv": "คะแนนเสียงประชาคม อ่านโดยขั้นตอนถัดไป / forum votes: read by a later stage",
    "profile.yaml": "ข้อมูลหมู่บ้าน อ่านโดยขั้นตอนถัดไป / village profile: read by a later stage",
    "places.geojson": "สถานที่สำคัญ อ่านโดยขั้นตอนถัดไป / important places: read by a later stage",
}
_YEAR_HELP = (
    "ไม่พบปีสำรวจ: เพิ่มคอลัมน์ ปีสำรวจ หรือวางไฟล์ในโฟลเดอร์ชื่อปี พ.ศ. (เช่น 2561/) หรือใส่ปีในชื่อไฟล์ (เช่น bmn2561_… หรือ 61_…) / "
    "no survey year: add a ปีสำรวจ (year) column, put the file in a folder named by the BE year (e.g. 2561/), "
    "or put the year in the file name (e.g. bmn2561_… or 61_…)"
)


# ---------------------------------------------------------------------------------------------
# results


@dataclass
class FileResult:
    """What happened to one input file.

    ``rows_in`` counts the non-blank data rows read; ``rows_in = rows_accepted +
    rows_quarantined`` always. A refused file has all three at 0 and ``refused`` set.
    """

    file: str
    table: str | None = None
    year: int | None = None
    years: list[int] = field(default_factory=list)
    rows_in: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    refused: str | None = None
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@dataclass
class IngestSummary:
    """The result of :func:`ingest`: one :class:`FileResult` per file, totals, and whether anything usable was read."""

    files: list[FileResult] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return sum(f.rows_in for f in self.files)

    @property
    def rows_accepted(self) -> int:
        return sum(f.rows_accepted for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def refused(self) -> list[FileResult]:
        return [f for f in self.files if f.refused]

    @property
    def ok(self) -> bool:
        """False only when no data row at all was accepted (the place list alone does not count)."""
        return any(f.rows_accepted > 0 for f in self.files if f.table != "places")

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "totals": {"files": len(self.files), "files_refused": len(self.refused), "rows_in": self.rows_in,
                       "rows_accepted": self.rows_accepted, "rows_quarantined": self.rows_quarantined},
            "files": [asdict(f) for f in self.files],
            "skipped": self.skipped,
            "notes": self.notes,
        }

    def __str__(self) -> str:
        head = ("ไฟล์ / file", "ตาราง / table", "ปี / year", "เข้า / in", "ผ่าน / accepted", "กักกัน / quarantined")
        rows = []
        for f in self.files:
            year = str(f.year) if f.year else ",".join(str(y) for y in f.years) or "–"
            if f.refused:
                rows.append((f.file, f.table or "?", year, "ปฏิเสธ", "refused", ""))
            else:
                rows.append((f.file, f.table or "?", year, f"{f.rows_in:,}", f"{f.rows_accepted:,}", f"{f.rows_quarantined:,}"))
        rows.append(("รวม / total", "", "", f"{self.rows_in:,}", f"{self.rows_accepted:,}", f"{self.rows_quarantined:,}"))
        widths = [max(_width(r[i]) for r in [head, *rows]) for i in range(len(head))]

        def line(r):
            return "  ".join(_pad(c, w, right=i >= 3) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

        out = ["สรุปการนำเข้าข้อมูล / Ingest summary", line(head), "-" * (sum(widths) + 2 * (len(widths) - 1))]
        out += [line(r) for r in rows[:-1]]
        out += ["-" * (sum(widths) + 2 * (len(widths) - 1)), line(rows[-1])]
        out.append(
            f"แถวที่อ่าน {self.rows_in:,} = ผ่าน {self.rows_accepted:,} + กักกัน {self.rows_quarantined:,} / "
            f"rows in {self.rows_in:,} = accepted {self.rows_accepted:,} + quarantined {self.rows_quarantined:,}"
        )
        if self.refused:
            out.append("")
            out.append(f"ไฟล์ที่ถูกปฏิเสธ / refused files ({len(self.refused)}):")
            out += [f"  {f.file}: {f.refused}" for f in self.refused]
        noted = [f for f in self.files if f.notes and not f.refused]
        if noted:
            out.append("")
            out.append("หมายเหตุ / notes:")
            for f in noted:
                out += [f"  {f.file}: {n}" for n in f.notes]
        out += [f"  {n}" for n in self.notes]
        if self.skipped:
            out.append(f"ไม่ได้นำเข้า (อ่านโดยขั้นตอนอื่นหรือไม่ใช่ไฟล์ข้อมูล) / not ingested (read by other stages or not data): {len(self.skipped)} files")
        if self.rows_quarantined:
            out.append("แถวที่กักกันดูได้ใน / quarantined rows are listed in data/processed/quarantine.csv")
        if not self.ok:
            out.append("ไม่มีข้อมูลที่ใช้ได้ / nothing usable was read")
        return "\n".join(out)


def _width(s: str) -> int:
    # Thai combining marks take no column on a terminal
    import unicodedata

    return sum(0 if unicodedata.combining(c) or unicodedata.category(c) == "Mn" else 1 for c in str(s))


def _pad(s: str, w: int, right: bool) -> str:
    fill = " " * (w - _width(s))
    return fill + s if right else s + fill


# ---------------------------------------------------------------------------------------------
# discovering files


def _table_from_path(parts: tuple[str, ...]) -> str | None:
    name = parts[-1].lower()
    top = parts[0].lower() if len(parts) > 1 else ""
    if len(parts) == 1 and name == "places.csv":
        return "places"
    if top == "villages":
        stem = name.rsplit(".", 1)[0]
        if stem in ("accounts", "capital"):
            return stem
        if "บัญชี" in stem or "account" in stem:
            return "accounts"
        if "ทุน" in stem or "capital" in stem:
            return "capital"
        return None
    if top == "aggregates" or "tpmap" in name:
        return "aggregates"
    if top == "kchch2k" or "kchch" in name or "กชช" in name:
        return "kchch2k"
    if top == "bmn" or "bmn" in name or "จปฐ" in name:
        if re.search(r"household|ครัวเรือน|(^|[_\-])hh([_\-.]|$)", name):
            return "households"
        if re.search(r"person|member|people|บุคคล|สมาชิก|ประชากร", name):
            return "persons"
    return None


def display_name(rel: PurePosixPath | Path) -> str:
    """A path under ``data/raw`` as valid text: a name that is not UTF-8 is read as Windows-874.

    Zip files made on Thai Windows store names in Windows-874; unpacked on Linux they become bytes
    that are not UTF-8, which could not be written to the summary, the quarantine or Parquet.
    """
    text = rel.as_posix()
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        raw = os.fsencode(text)
        try:
            return raw.decode("cp874")
        except UnicodeDecodeError:
            return raw.decode("utf-8", errors="replace")


def discover(raw: Path) -> tuple[list[tuple[Path, str, str | None]], list[dict]]:
    """The files ingest reads, each with its name relative to ``data/raw`` and the table its path suggests.

    Returns
    -------
    files : list of (path, name, table or None)
        Sorted by name. ``None``: the table is found from the headers.
    skipped : list of dict
        Files that are not ingested (photos, votes, profiles, boundaries, other formats) and why.
    """
    files, skipped = [], []
    for p in sorted(raw.rglob("*"), key=lambda q: q.relative_to(raw).as_posix()):
        rel = p.relative_to(raw)
        if any(part.startswith((".", "~$")) for part in rel.parts):
            continue  # hidden files, Excel lock files
        if p.is_dir():
            continue
        name = display_name(rel)
        if not p.is_file():  # a pipe would block the run, a device never ends
            skipped.append({"file": name, "reason": "ไม่ใช่ไฟล์ปกติ (ท่อ อุปกรณ์ หรือลิงก์เสีย) / not a regular file (a pipe, a device or a broken link)"})
            continue
        parts = PurePosixPath(name).parts
        low = p.name.lower()
        if parts[0] == "villages" and (low in _NOT_INGESTED or "photos" in parts[:-1]):
            skipped.append({"file": name, "reason": _NOT_INGESTED.get(low, "ภาพกิจกรรม / activity photo: read by a later stage")})
            continue
        if parts[0] == "geo":
            skipped.append({"file": name, "reason": "ขอบเขตหมู่บ้าน อ่านโดยขั้นตอนแผนที่ / boundaries: read by the map stage"})
            continue
        if parts[0] in ("programme", "boundaries", "admin"):
            skipped.append({"file": name, "reason": "ไฟล์ของงานบริหารโครงการ อ่านโดย vilwork select/register/programme / "
                                                    "programme files: read by vilwork select, register and programme"})
            continue
        if p.suffix.lower() not in DATA_SUFFIXES:
            skipped.append({"file": name, "reason": "ไม่ใช่ไฟล์ตาราง (.csv/.xlsx) / not a table file (.csv/.xlsx)"})
            continue
        files.append((p, name, _table_from_path(parts)))
    return files, skipped


def path_year(name: str) -> tuple[int | None, str | None]:
    """The BE year a file's path names: a 4-digit year folder (nearest first), else the file name.

    Returns
    -------
    (year, where) : where is ``"folder"`` or ``"file name"``; ``(None, None)`` when there is none.
    """
    p = PurePosixPath(name)
    for folder in reversed(p.parts[:-1]):
        t = to_ascii_digits(folder)
        if re.fullmatch(r"[0-9]{4}", t) and year_from_text(t):
            return int(t), "folder"
    y = year_from_text(p.stem)
    return (y, "file name") if y else (None, None)


# ---------------------------------------------------------------------------------------------
# small helpers


class _KeySet:
    """A growing set of int64 keys, kept as one sorted array (compact for millions of keys)."""

    def __init__(self):
        self.keys = np.empty(0, dtype=np.int64)

    def contains(self, values: np.ndarray) -> np.ndarray:
        return _isin_sorted(values, self.keys)

    def add(self, values: Iterable[np.ndarray]) -> None:
        parts = [np.asarray(v, dtype=np.int64) for v in values]
        if parts:
            self.keys = np.unique(np.concatenate([self.keys, *parts]))


def _isin_sorted(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0 or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    i = np.searchsorted(sorted_keys, values)
    i[i >= len(sorted_keys)] = len(sorted_keys) - 1
    return sorted_keys[i] == values


def _int_codes(s: pd.Series) -> np.ndarray:
    """Well-formed digit strings → int64 (missing → -1), through Arrow's cast."""
    arr = pa.array(s.astype("str").fillna("-1").to_numpy(dtype=object))
    return np.asarray(pc.cast(arr, pa.int64()))


def _arrow_table(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pandas(_conform(df, schema), schema=schema, preserve_index=False)


_PANDAS_NA_DTYPES = {pa.int8(): "Int8", pa.int16(): "Int16", pa.int64(): "Int64", pa.float64(): "float64",
                     pa.string(): "str", pa.bool_(): "boolean", pa.date32(): "datetime64[s]"}


def _conform(df: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    out = {}
    for f in schema:
        if f.name in df.columns:
            out[f.name] = df[f.name]
        else:  # a column the file did not have: all missing, with the column's type
            out[f.name] = pd.Series([None] * len(df), index=df.index, dtype=_PANDAS_NA_DTYPES[f.type])
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def _write_parquet_atomic(table: pa.Table, path: Path) -> None:
    write_parquet_atomic(table, path, compression="zstd")


def _village_rows(src: TableSource, typed: pd.DataFrame, village: str, keep: tuple, scrub: tuple,
                  **after_code) -> pd.DataFrame:
    """Rows of a village's own file (accounts, capital): its code, ``after_code`` columns, the
    ``keep`` columns as typed, the free-text ``scrub`` columns cleaned, and where each row came from."""
    out = pd.DataFrame(index=typed.index)
    out["village_code"] = village
    for name, values in after_code.items():
        out[name] = values
    for c in keep:
        if c in typed:
            out[c] = typed[c]
    for c in scrub:
        if c in typed:
            out[c] = _scrub(typed[c])
    out["source_file"] = src.name
    out["source_row"] = typed.index.to_numpy(dtype=np.int64)
    return out.reset_index(drop=True)


def _codes_from_village(vc: pd.Series) -> dict[str, pd.Series]:
    vc = vc.astype("str")
    return {"village_code": vc, "tambon_code": vc.str[:6], "district_code": vc.str[:4], "province_code": vc.str[:2]}


def _scrub(s: pd.Series) -> pd.Series:
    """Free text that goes to Parquet: any 13-digit run (a possible citizen ID) is masked."""
    s = s.astype("str")
    hit = s.str.contains(r"[0-9]{13}|[0-9][ -][0-9]{4}[ -][0-9]{5}[ -][0-9]{2}[ -][0-9]", regex=True, na=False)
    if hit.any():
        s = s.where(~hit, s[hit].map(mask_id))
    return s


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SHOWN_CHARS = 200


def _shown_value(v):
    """A value as the quarantine shows it: control characters escaped (``\\x00``), a huge value cut short."""
    if not isinstance(v, str):
        return v
    if len(v) > _SHOWN_CHARS:
        v = f"{v[:_SHOWN_CHARS]}… ({len(v):,} ตัวอักษร / characters)"
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", v)


def _ages(birth: pd.Series, years: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Whole years and whole months of age on each row's reference day (periods.yaml)."""
    ref = pd.Series(pd.NaT, index=birth.index, dtype="datetime64[s]")
    for y in years.dropna().unique():
        try:
            md = registry.indicator_set(int(y)).reference_day
        except DefinitionError:
            continue
        ref[years == y] = np.datetime64(f"{int(y) - 543:04d}-{md}", "s")
    b, r = birth, ref
    by, bm, bd = b.dt.year, b.dt.month, b.dt.day
    ry, rm, rd = r.dt.year, r.dt.month, r.dt.day
    before = (rm < bm) | ((rm == bm) & (rd < bd))
    age_y = (ry - by - before.astype("Int64")).astype("Int64")
    age_m = ((ry - by) * 12 + (rm - bm) - (rd < bd).astype("Int64")).astype("Int64")
    return age_y, age_m


# ---------------------------------------------------------------------------------------------
# one file at a time


@dataclass
class _Stage:
    """What one file adds to the run; committed only when the whole file was read."""

    result: FileResult
    qpart: Path
    keys: dict[str, list[np.ndarray]] = field(default_factory=dict)
    frames: list[tuple[str, int | None, object]] = field(default_factory=list)  # (table, year, frame or staged Arrow)
    writers: dict[int, tuple[pq.ParquetWriter | None, Path, Path]] = field(default_factory=dict)
    members: list[np.ndarray] = field(default_factory=list)

    def add_keys(self, name: str, keys: np.ndarray) -> None:
        self.keys.setdefault(name, []).append(keys)


class _Run:
    def __init__(self, ws: Workspace, key: bytes, chunk_rows: int, check_places: bool):
        self.ws = ws
        self.key = key
        self.chunk_rows = chunk_rows
        self.check_places = check_places
        self.out = ws.processed / STAGE  # every output is written here first (see publish_staged)
        self.tmp = self.out / ".scratch"
        self.sets: dict[str, _KeySet] = {}
        self.places: dict[str, set[str]] = {}
        self.pending_households: list[tuple[str, int, tuple[pa.Table, np.ndarray]]] = []
        self.member_keys: list[np.ndarray] = []
        self.tables: dict[str, list[pd.DataFrame]] = {}
        self.qparts: list[Path] = []
        self.used_names: set[Path] = set()
        self.summary = IngestSummary()
        self._n = 0

    # -- bookkeeping -------------------------------------------------------------------------

    def keyset(self, name: str) -> _KeySet:
        return self.sets.setdefault(name, _KeySet())

    def seen(self, stage: _Stage, name: str, keys: np.ndarray) -> np.ndarray:
        """Which keys were already accepted (in the run or earlier in this file)."""
        hit = self.keyset(name).contains(keys)
        staged = stage.keys.get(name)
        if staged:
            hit |= _isin_sorted(keys, np.unique(np.concatenate(staged)))
        return hit

    def output_path(self, folder: str, year: int, stem: str) -> Path:
        base = self.out / folder / f"year={year}"
        path = base / f"{stem}.parquet"
        n = 2
        while path in self.used_names:
            path = base / f"{stem}-{n}.parquet"
            n += 1
        self.used_names.add(path)
        return path

    def rel_out(self, path: Path) -> str:
        """The path an output will have once published, relative to the workspace root."""
        return (self.ws.processed.relative_to(self.ws.root) / path.relative_to(self.out)).as_posix()

    # -- a file ----------------------------------------------------------------------------------

    def run_file(self, path: Path, name: str, table: str | None, src: TableSource | None = None) -> FileResult:
        res = FileResult(file=name, table=table)
        self._n += 1
        stage = _Stage(res, self.tmp / f"quarantine-{self._n:05d}.csv")
        try:
            if src is None:
                src = open_table(path, table, name=name)
            res.table, res.sheet = src.table, src.sheet
            res.notes.extend(src.notes)
            handler = getattr(self, f"_file_{src.table}")
            handler(src, stage)
        except InputError as e:
            self._rollback(stage)
            msg = str(e)
            if e.file and msg.startswith(f"{e.file}: "):
                msg = msg[len(e.file) + 2:]
            res.refused = msg
            res.rows_in = res.rows_accepted = res.rows_quarantined = 0
            res.years, res.year, res.outputs = [], None, []
            log.info("refused %s: %s", name, msg)
        else:
            self._commit(stage)
        assert res.rows_in == res.rows_accepted + res.rows_quarantined, f"row accounting broken for {name}"
        self.summary.files.append(res)
        return res

    def _rollback(self, stage: _Stage) -> None:
        for w, tmp, _ in stage.writers.values():
            if w is not None:
                w.close()
            if tmp.exists():
                tmp.unlink()
        if stage.qpart.exists():
            stage.qpart.unlink()

    def _commit(self, stage: _Stage) -> None:
        for name, parts in stage.keys.items():
            self.keyset(name).add(parts)
        self.member_keys.extend(stage.members)
        for kind, year, frame in stage.frames:
            if kind == "households":
                self.pending_households.append((stage.result.file, year, frame))
            elif kind in ("aggregates",):
                self._write_aggregates(stage, year, frame)
            else:
                self.tables.setdefault(kind, []).append(frame)
        for year, (w, tmp, final) in sorted(stage.writers.items()):
            if w is not None:
                w.close()
            replace_durably(tmp, final)
            stage.result.outputs.append(self.rel_out(final))
        if stage.qpart.exists():
            self.qparts.append(stage.qpart)
        res = stage.result
        res.years = sorted(set(res.years))
        res.year = res.years[0] if len(res.years) == 1 else None

    # -- the chunk pipeline shared by every table ---------------------------------------------

    def _chunks(self, src: TableSource, stage: _Stage, *, default_year: int | None, extra=None, dup=None):
        """Prepare, check and validate each chunk; yield (prepared accepted rows, typed accepted rows).

        ``extra(prepared)`` adds helper columns; ``dup(prepared)`` returns (keyset name, keys, rule,
        column) for the duplicate rule, evaluated on rows that passed everything else.
        """
        table = src.table
        res = stage.result
        for chunk in src.chunks(self.chunk_rows):
            prep = prepare(chunk, table, default_year=default_year)
            if "year" in prep.columns:
                self._year_period(prep, table)
            if extra is not None:
                extra(prep)
            fails = mark_totals_rows(validate(prep, table), chunk, table)  # "รวม" rows: one reason
            bad = np.isin(prep.index.to_numpy(), fails["row"].to_numpy())
            extra_fails = []
            if dup is not None and (~bad).any():
                cand = prep[~bad]
                name, keys, rule, column = dup(cand)
                isdup = pd.Series(keys).duplicated(keep="first").to_numpy() | self.seen(stage, name, keys)
                if isdup.any():
                    extra_fails.append(pd.DataFrame({"row": cand.index[isdup], "column": column, "rule": rule}))
                    bad[np.isin(prep.index.to_numpy(), cand.index[isdup])] = True
                stage.add_keys(name, keys[~isdup])
            if extra_fails:
                fails = pd.concat([fails, *extra_fails], ignore_index=True).sort_values("row", kind="stable")
            self._quarantine(stage, src, table, chunk, fails)
            nbad = int(bad.sum())
            res.rows_in += len(chunk)
            res.rows_quarantined += nbad
            res.rows_accepted += len(chunk) - nbad
            if "_year" in prep.columns:
                res.years.extend(int(y) for y in prep["_year"].dropna().unique())
            log.info("%s: %d rows read, %d quarantined so far", res.file, res.rows_in, res.rows_quarantined)
            del chunk, fails, extra_fails  # only one chunk's frames alive at a time: bounded memory
            if (~bad).any():
                acc = prep[~bad]
                del prep
                typed = to_typed(acc, table)
                yield acc, typed
                del acc, typed
            else:
                del prep
        if res.rows_in == 0:
            raise InputError("ไม่มีแถวข้อมูล (มีแต่หัวตาราง) / the file has no data rows (only a header)", file=res.file)

    def _year_period(self, prep: pd.DataFrame, table: str) -> None:
        check = registry.kchch2k_set if table == "kchch2k" else registry.indicator_set
        years = prep["_year"]
        ok = {}
        for y in years.dropna().unique():
            try:
                check(int(y))
                ok[y] = True
            except DefinitionError:
                ok[y] = False
        prep[helper_name("year_period", "year")] = years.map(ok).astype("boolean")

    def _in_places(self, codes: pd.Series) -> pd.Series:
        """True/False for well-formed village codes; missing where not applicable."""
        well = codes.astype("str").str.fullmatch(r"[0-9]{8}").fillna(False).astype(bool)
        for level, width in (("village", 8), ("tambon", 6), ("district", 4), ("province", 2)):
            known = self.places.get(level)
            if known:
                return codes.astype("str").str[:width].isin(known).where(well).astype("boolean")
        return pd.Series(pd.NA, index=codes.index, dtype="boolean")

    def _quarantine(self, stage: _Stage, src: TableSource, table: str, raw: pd.DataFrame, fails: pd.DataFrame) -> None:
        if fails.empty:
            return
        values = []
        for row, col in zip(fails["row"].to_numpy(), fails["column"].to_numpy()):
            v = raw.at[row, col] if col in raw.columns else None
            values.append(_shown_value(mask_value(col, v)))
        msgs = [message(r, table, c) for r, c in zip(fails["rule"], fails["column"])]
        headers = src.headers
        msgs = [f"[{headers[c]}] {m}" if c in headers and headers[c] != c else m for c, m in zip(fails["column"], msgs)]
        q = pd.DataFrame({"file": stage.result.file, "row": fails["row"].to_numpy(), "column": fails["column"].to_numpy(),
                          "value": values, "rule": fails["rule"].to_numpy(), "message": msgs})
        stage.qpart.parent.mkdir(parents=True, exist_ok=True)
        q = neutralise_frame(q)  # a raw value starting with "=" must not run when Excel opens the quarantine
        q.to_csv(stage.qpart, mode="a", header=False, index=False, encoding="utf-8", lineterminator="\n")

    def _years_or_refuse(self, src: TableSource, stage: _Stage) -> int | None:
        year, where = path_year(src.name)
        if "year" not in src.positions:
            if year is None:
                raise InputError(_YEAR_HELP, file=src.name)
            try:
                (registry.kchch2k_set if src.table == "kchch2k" else registry.indicator_set)(year)
            except DefinitionError as e:
                raise InputError(f"ปีสำรวจ {year} (จาก{'โฟลเดอร์' if where == 'folder' else 'ชื่อไฟล์'}): {e}", file=src.name) from None
            stage.result.notes.append(
                f"ปีสำรวจ {year} จาก{'ชื่อโฟลเดอร์' if where == 'folder' else 'ชื่อไฟล์'} / survey year {year} from the {where}")
        return year

    # -- tables ------------------------------------------------------------------------------------

    def _file_places(self, src: TableSource, stage: _Stage) -> None:
        def extra(prep):
            code = prep["code"].astype("str")
            width = prep["level"].map({"province": 2, "district": 4, "tambon": 6, "village": 8})
            ok = code.str.len().eq(width) & code.str.fullmatch(r"[0-9]+").fillna(False)
            prep[helper_name("code_level", "code")] = ok.where(width.notna() & code.str.fullmatch(r"[0-9]+").fillna(False)).astype("boolean")

        def dup(c):
            return "places", _int_codes(c["code"]) + c["code"].str.len().to_numpy() * 10**9, "duplicate_code", "code"

        for acc, typed in self._chunks(src, stage, default_year=None, extra=extra, dup=dup):
            typed["parent_code"] = typed["code"].str[:-2].where(typed["code"].str.len() > 2)
            stage.frames.append(("places", None, typed.reset_index(drop=True)))

    def _file_households(self, src: TableSource, stage: _Stage) -> None:
        year = self._years_or_refuse(src, stage)

        def extra(prep):
            hc, vc = prep["house_code"].astype("str"), prep["village_code"].astype("str")
            well = hc.str.fullmatch(r"[0-9]{11}").fillna(False).astype(bool) & vc.str.fullmatch(r"[0-9]{8}").fillna(False).astype(bool)
            prep[helper_name("house_code_village", "house_code")] = hc.str[:8].eq(vc).where(well).astype("boolean")
            if self.check_places:
                prep[helper_name("village_not_in_places", "village_code")] = self._in_places(vc)

        def dup(c):
            return "house", _int_codes(c["year"]) * 10**11 + _int_codes(c["house_code"]), "duplicate_house_code", "house_code"

        answers = answer_columns("households")
        schema = output_schema("households")
        for acc, typed in self._chunks(src, stage, default_year=year, extra=extra, dup=dup):
            out = pd.DataFrame(index=typed.index)
            out["year"] = typed["year"]
            out["house_key"] = pseudonymise(typed["house_code"], self.key)
            out["hh_id"] = pseudonym_ids(out["house_key"])  # their order; replaced by the number (index_households)
            for k, v in _codes_from_village(typed["village_code"]).items():
                out[k] = v
            if "in_municipality" in typed:
                out["in_municipality"] = typed["in_municipality"]
            for c in answers + [c for c in typed.columns if c.startswith(("income_", "exp_"))]:
                if c in typed:
                    out[c] = typed[c]
            out["source_file"] = src.name
            out["source_row"] = typed.index.to_numpy(dtype=np.int64)
            out["members"] = pd.Series(0, index=out.index, dtype="Int64")  # filled in by finish_households
            income = [c for c in _INCOME if c in out]
            out["income_total"] = out[income].sum(axis=1, min_count=1).astype("float64") if income else np.nan
            out["income_per_member"] = np.nan
            house_int = typed["year"].astype("int64").to_numpy() * 10**11 + _int_codes(typed["house_code"])
            for y, part in out.groupby("year", sort=True):
                rows = out.index.get_indexer(part.index)
                # Arrow keeps the pending households compact until the persons have been counted
                stage.frames.append(("households", int(y), (_arrow_table(part, schema), house_int[rows])))
            del out, acc, typed

    def _file_persons(self, src: TableSource, stage: _Stage) -> None:
        year = self._years_or_refuse(src, stage)
        households = self.keyset("house")

        def extra(prep):
            hc = prep["house_code"].astype("str")
            years = prep["_year"]
            well = hc.str.fullmatch(r"[0-9]{11}").fillna(False).astype(bool) & years.notna()
            keys = years.fillna(0).astype("int64").to_numpy() * 10**11 + _int_codes(hc.where(well, "0"))
            prep[helper_name("house_not_found", "house_code")] = pd.Series(households.contains(keys), index=prep.index).where(well).astype("boolean")
            age_y, age_m = _ages(prep["_date_birth_date"], years)
            prep["_age_years"], prep["_age_months"] = age_y, age_m
            prep[helper_name("birth_after_reference", "birth_date")] = (age_m >= 0).astype("boolean")
            prep[helper_name("age_range", "birth_date")] = (age_y <= 120).where(age_m >= 0).astype("boolean")

        def dup(c):
            return "person", _int_codes(c["year"]) * 10**13 + _int_codes(c["citizen_id"]), "duplicate_citizen_id", "citizen_id"

        schema = output_schema("persons")
        stem = Path(src.name).stem
        for acc, typed in self._chunks(src, stage, default_year=year, extra=extra, dup=dup):
            out = pd.DataFrame(index=typed.index)
            out["year"] = typed["year"]
            out["person_key"] = pseudonymise(typed["citizen_id"], self.key)
            out["house_key"] = pseudonymise(typed["house_code"], self.key)
            house_int = typed["year"].astype("int64").to_numpy() * 10**11 + _int_codes(typed["house_code"])
            out["hh_id"] = self.house_ids(house_int, out.index)
            for k, v in _codes_from_village(typed["house_code"].str[:8]).items():
                out[k] = v
            for c in ("sex", "birth_date", "health", "welfare_card", "birth_weight_g"):
                if c in typed:
                    out[c] = typed[c]
            out["age_years"] = acc["_age_years"].astype("Int16")
            out["age_months"] = acc["_age_months"].astype("Int16")
            for c in ("relation", "education", "occupation"):
                if c in typed:
                    out[c] = _scrub(typed[c])
            for c in answer_columns("persons"):
                if c in typed:
                    out[c] = typed[c]
            out["source_file"] = src.name
            out["source_row"] = typed.index.to_numpy(dtype=np.int64)
            stage.members.append(house_int)
            for y, part in out.groupby("year", sort=True):
                y = int(y)
                if y not in stage.writers:
                    final = self.output_path("persons", y, stem)
                    final.parent.mkdir(parents=True, exist_ok=True)
                    stage.writers[y] = (None, tmp_path(final), final)
                w, tmp, final = stage.writers[y]
                table = _arrow_table(part, schema)
                if w is None:
                    w = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                    stage.writers[y] = (w, tmp, final)
                w.write_table(table)
                del table, part
            del out, acc, typed

    def _file_aggregates(self, src: TableSource, stage: _Stage) -> None:
        year = self._years_or_refuse(src, stage)
        cols = src.columns
        pairs = sorted({int(c.split("_")[1]) for c in cols if re.fullmatch(r"(all|cnt)_[0-9]+", c)})
        if not pairs:
            raise InputError("ไม่มีคอลัมน์ indicatorN.ALL / indicatorN.CNT / no indicatorN.ALL or indicatorN.CNT columns", file=src.name)

        def extra(prep):
            vid = prep["village_id"].astype("str")
            well = vid.str.fullmatch(r"[0-9]{8}|[0-9]{10}").fillna(False).astype(bool)
            if "province_id" in prep:
                pid = prep["province_id"].astype("str")
                both = well & pid.str.fullmatch(r"[0-9]{2}").fillna(False).astype(bool)
                prep[helper_name("province_consistent", "province_id")] = vid.str[:2].eq(pid).where(both).astype("boolean")
            for n in pairs:
                a, c = f"all_{n}", f"cnt_{n}"
                if a in prep and c in prep:
                    av, cv = to_float(prep[a]), to_float(prep[c])
                    prep[helper_name("cnt_le_all", c)] = (cv <= av).where(av.notna() & cv.notna()).astype("boolean")
            if self.check_places:
                prep[helper_name("village_not_in_places", "village_id")] = self._in_places(vid.str[:8].where(well))

        def dup(c):
            vid = c["village_id"].astype("str")
            flag = np.where(vid.str.len().to_numpy() == 8, 10**10, 0)
            return "platform", _int_codes(c["year"]) * 10**11 + flag + _int_codes(vid), "duplicate_village", "village_id"

        frames = [typed for _, typed in self._chunks(src, stage, default_year=year, extra=extra, dup=dup)]
        if frames:
            df = pd.concat(frames)
            for y, part in df.groupby("year", sort=True):
                stage.frames.append(("aggregates", int(y), part))

    def _write_aggregates(self, stage: _Stage, year: int, df: pd.DataFrame) -> None:
        df = df.assign(village_code=df["village_id"].str[:8])
        counts = [c for c in df.columns if c in ("households", "members", "elderly", "disabled", "chronic") or re.fullmatch(r"(all|cnt)_[0-9]+", c)]
        g = df.groupby("village_code", sort=True)[counts].sum(min_count=1)
        known = set(registry.indicator_set(year).indicators.index)
        present = sorted({int(c.split("_")[1]) for c in counts if c.startswith(("all_", "cnt_"))})
        unknown = [n for n in present if n not in known]
        if unknown:
            stage.result.notes.append(f"ตัวชี้วัดที่ไม่มีในชุดปี {year} ไม่ได้ใช้ / indicators not in the {year} set ignored: {unknown}")
        long = []
        for n in (n for n in present if n in known):
            part = pd.DataFrame({"village_code": g.index, "indicator": n,
                                 "all": g[f"all_{n}"].to_numpy() if f"all_{n}" in g else pd.NA,
                                 "cnt": g[f"cnt_{n}"].to_numpy() if f"cnt_{n}" in g else pd.NA})
            for c in ("households", "members", "elderly", "disabled", "chronic"):
                part[c] = g[c].to_numpy() if c in g else pd.NA
            long.append(part)
        out = pd.concat(long, ignore_index=True)
        out = out[out["all"].notna() | out["cnt"].notna()]
        out.insert(0, "year", year)
        out = out.sort_values(["village_code", "indicator"], kind="stable")
        for c in ("all", "cnt", "households", "members", "elderly", "disabled", "chronic"):
            out[c] = out[c].astype("Int64")
        out["year"] = out["year"].astype("Int16")
        out["indicator"] = out["indicator"].astype("Int16")
        path = self.output_path("aggregates", year, Path(stage.result.file).stem)
        _write_parquet_atomic(_arrow_table(out, output_schema("aggregates")), path)
        stage.result.outputs.append(self.rel_out(path))

    def _file_kchch2k(self, src: TableSource, stage: _Stage) -> None:
        year = self._years_or_refuse(src, stage)

        def extra(prep):
            if self.check_places:
                prep[helper_name("village_not_in_places", "village_code")] = self._in_places(prep["village_code"])

        def dup(c):
            return "kchch2k", _int_codes(c["year"]) * 10**8 + _int_codes(c["village_code"]), "duplicate_village", "village_code"

        levels = [c for c in level_columns() if c in src.positions]
        if not levels:
            raise InputError("ไม่มีคอลัมน์ตัวชี้วัด กชช. 2ค (ตัวชี้วัดที่ 1…) / no กชช. 2ค indicator columns (k1…)", file=src.name)
        for _, typed in self._chunks(src, stage, default_year=year, extra=extra, dup=dup):
            long = typed.melt(id_vars=["year", "village_code"], value_vars=levels, var_name="indicator", value_name="level")
            long = long[long["level"].notna()]
            long["indicator"] = long["indicator"].str[1:].astype("int64").astype("Int16")
            stage.frames.append(("kchch2k", None, long))

    def _village_folder(self, src: TableSource) -> str:
        parts = PurePosixPath(src.name).parts
        if len(parts) < 3 or parts[0] != "villages":
            raise InputError(f"ไฟล์{'บัญชีครัวเรือน' if src.table == 'accounts' else 'ทุนชุมชน'}ต้องอยู่ในโฟลเดอร์ villages/<รหัสหมู่บ้าน>/ / "
                             f"{src.table} files must be in villages/<village_code>/", file=src.name)
        code = to_ascii_digits(parts[1])
        if not re.fullmatch(r"[0-9]{8}", code):
            raise InputError(f"ชื่อโฟลเดอร์ {parts[1]!r} ไม่ใช่รหัสหมู่บ้าน 8 หลัก / folder {parts[1]!r} is not an 8-digit village code", file=src.name)
        if self.check_places:
            known = self._in_places(pd.Series([code]))
            if known.notna().all() and not bool(known.iloc[0]):
                raise InputError(f"หมู่บ้าน {code} ไม่อยู่ในรายชื่อพื้นที่ places.csv / village {code} is not in data/raw/places.csv", file=src.name)
        return code

    def _file_accounts(self, src: TableSource, stage: _Stage) -> None:
        village = self._village_folder(src)

        def extra(prep):
            hc = prep["house_code"].astype("str")
            well = hc.str.fullmatch(r"[0-9]{11}").fillna(False).astype(bool)
            prep[helper_name("house_code_village", "house_code")] = hc.str[:8].eq(village).where(well).astype("boolean")

        for _, typed in self._chunks(src, stage, default_year=None, extra=extra):
            out = _village_rows(src, typed, village, ("date", "income", "expense", "balance"), ("item", "category"),
                                house_key=pseudonymise(typed["house_code"], self.key))
            stage.frames.append(("accounts", None, out))

    def _file_capital(self, src: TableSource, stage: _Stage) -> None:
        village = self._village_folder(src)
        for _, typed in self._chunks(src, stage, default_year=None):
            stage.frames.append(("capital", None, _village_rows(src, typed, village, ("kind", "quantity", "value_baht"),
                                                                ("name", "description"))))

    # -- the end of the run ----------------------------------------------------------------------

    def finish_places(self) -> None:
        frames = self.tables.get("places", [])
        if not frames:
            return
        df = pd.concat(frames, ignore_index=True)
        for level, part in df.groupby("level"):
            self.places[str(level)] = set(part["code"].astype(str))

    def index_households(self) -> None:
        """Number the run's households 0, 1, 2 … in the order of their pseudonyms: ``hh_id``.

        The number is what the indicator engine groups and joins persons and households on (an
        integer costs less than the 16-character ``house_key``). Dense and small, it can never be
        read as a 13-digit citizen ID (the house pseudonym as a 64-bit number could, once in about
        10 million households, and the PDPA audit would flag it); in pseudonym order, it says
        nothing about the house codes. It holds within one run: use ``house_key`` across runs.
        """
        codes = [hk for _, _, (_, hk) in self.pending_households]
        order = [t.column("hh_id").to_numpy(zero_copy_only=False) for _, _, (t, _) in self.pending_households]
        codes = np.concatenate(codes) if codes else np.empty(0, dtype=np.int64)
        order = np.concatenate(order).astype(np.int64) if order else np.empty(0, dtype=np.int64)
        number = np.empty(len(order), dtype=np.int64)
        # pseudonyms in their text order (as unsigned numbers); one house in two years: by year
        number[np.lexsort((codes, order.view(np.uint64)))] = np.arange(len(order))
        by_code = np.argsort(codes, kind="stable")
        self.house_codes, self.house_numbers = codes[by_code], number[by_code]

    def house_ids(self, house_int: np.ndarray, index=None) -> pd.Series:
        """``hh_id`` of the households ``year * 10**11 + house_code`` (missing where unknown)."""
        codes = getattr(self, "house_codes", np.empty(0, dtype=np.int64))
        found = _isin_sorted(house_int, codes)
        i = np.minimum(np.searchsorted(codes, house_int), max(len(codes) - 1, 0))
        ids = np.where(found, self.house_numbers[i] if len(codes) else 0, 0)
        return pd.Series(pd.arrays.IntegerArray(ids.astype(np.int64), ~found), index=index)

    def finish_households(self) -> None:
        """Count each household's accepted persons, derive income per member, write the households."""
        keys = np.concatenate(self.member_keys) if self.member_keys else np.empty(0, dtype=np.int64)
        uniq, counts = np.unique(keys, return_counts=True)
        del keys
        by_file: dict[tuple[str, int], list[tuple[pa.Table, np.ndarray]]] = {}
        for name, year, staged in self.pending_households:
            by_file.setdefault((name, year), []).append(staged)
        self.pending_households = []
        results = {f.file: f for f in self.summary.files}
        for (name, year), parts in by_file.items():
            path = self.output_path("households", year, Path(name).stem)
            tmp = tmp_path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = None
            try:
                while parts:
                    table, hk = parts.pop(0)
                    members = np.zeros(len(hk), dtype=np.int64)
                    if len(uniq):
                        i = np.minimum(np.searchsorted(uniq, hk), len(uniq) - 1)
                        found = uniq[i] == hk
                        members[found] = counts[i[found]]
                    total = table["income_total"].to_numpy(zero_copy_only=False)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        per = np.where(members > 0, total / np.where(members > 0, members, 1), np.nan)
                    table = table.set_column(table.schema.get_field_index("members"), "members", pa.array(members, pa.int64()))
                    ids = self.house_ids(hk)
                    table = table.set_column(table.schema.get_field_index("hh_id"), "hh_id", pa.array(ids.to_numpy("int64", na_value=0), pa.int64(), mask=ids.isna().to_numpy()))
                    table = table.set_column(table.schema.get_field_index("income_per_member"), "income_per_member", pa.array(per, pa.float64()))
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                    writer.write_table(table)
                    pause_point("ingest:households-write")  # test hook: the file is torn here
                writer.close()
                replace_durably(tmp, path)
            finally:
                if tmp.exists():
                    tmp.unlink()
            results[name].outputs.append(self.rel_out(path))

    def finish_tables(self) -> None:
        processed = self.out
        for table in ("places", "kchch2k", "accounts", "capital"):
            frames = self.tables.get(table)
            if not frames:
                continue
            df = pd.concat(frames, ignore_index=True)
            if table == "kchch2k":
                df = df.sort_values(["year", "village_code", "indicator"], kind="stable")
            elif table == "places":
                df = df.sort_values(["code"], kind="stable")
            path = processed / f"{table}.parquet"
            _write_parquet_atomic(_arrow_table(df, output_schema(table)), path)
            for f in self.summary.files:
                if f.table == table and not f.refused and f.rows_accepted:
                    f.outputs.append(self.rel_out(path))

    def finish_quarantine(self) -> None:
        path = self.out / "quarantine.csv"
        tmp = tmp_path(path)
        with open(tmp, "wb") as out:
            out.write(("\ufeff" + ",".join(QUARANTINE_COLUMNS) + "\n").encode("utf-8"))
            for part in self.qparts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out)
        replace_durably(tmp, path)


# ---------------------------------------------------------------------------------------------
# publishing a run, and recovering from a killed one


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def _fsync_tree(root: Path) -> None:
    for folder, _, names in os.walk(root):
        for n in names:
            fsync_path(Path(folder) / n)
        fsync_path(Path(folder))


def _mark_complete(out: Path, names: list[str]) -> None:
    """Flush the staged run to disk, then mark it publishable (the mark itself is atomic)."""
    _fsync_tree(out)
    write_text_atomic(json.dumps({"publish": names}) + "\n", out / _COMMIT)


def publish_staged(ws: Workspace) -> bool:
    """Move a complete staged run (``data/processed/.ingest-new``) into place; idempotent.

    The previous summary goes first and the new summary comes last, so a summary present always
    describes the outputs beside it. Each output is swapped by ``rename``; an output the new run
    does not have is removed. Safe to repeat after a crash at any point of it.

    Returns
    -------
    bool
        True when there was a complete staged run to publish.
    """
    processed = ws.processed
    out, old = processed / STAGE, processed / _OLD
    mark = out / _COMMIT
    if not mark.is_file():
        return False
    names = set(json.loads(mark.read_text(encoding="utf-8"))["publish"])
    old.mkdir(exist_ok=True)
    order = ["ingest_summary.json", *[n for n in OWNED if n != "ingest_summary.json"]]
    for i, name in enumerate(order):
        new, cur = out / name, processed / name
        if name == "ingest_summary.json" and i == 0:  # retire the old summary first
            if new.exists() and (cur.exists() or cur.is_symlink()):
                _remove(old / name)
                os.rename(cur, old / name)
            continue
        if name in names:
            if not new.exists():
                continue  # moved already (a repeated publish)
            if cur.exists() or cur.is_symlink():
                _remove(old / name)
                os.rename(cur, old / name)
            os.rename(new, cur)
            pause_point("ingest:publish")  # test hook: killed between two renames
        elif cur.exists() or cur.is_symlink():
            _remove(old / name)
            os.rename(cur, old / name)
    new, cur = out / "ingest_summary.json", processed / "ingest_summary.json"
    if new.exists():
        os.rename(new, cur)
    fsync_path(processed)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    return True


def _recover_locked(ws: Workspace) -> str | None:
    processed = ws.processed
    done = None
    if (processed / STAGE / _COMMIT).is_file():
        publish_staged(ws)
        done = "published"
    elif (processed / STAGE).exists():
        shutil.rmtree(processed / STAGE, ignore_errors=True)
        done = "discarded"
    for name in (_OLD, *_LEGACY):
        if (processed / name).exists():
            shutil.rmtree(processed / name, ignore_errors=True)
    for folder in (processed, *(processed / n for n in ("households", "persons", "aggregates"))):
        remove_stale_tmp(folder, recursive=folder != processed)
    return done


def recover(ws: Workspace) -> str | None:
    """Finish or discard what a killed ingest left in ``data/processed``.

    A complete staged run is published; an incomplete one is deleted (the previous outputs were
    never touched); stale temporary files are removed. Does nothing while an ingest is running.

    Returns
    -------
    str or None
        ``"published"``, ``"discarded"`` or None (nothing to do, or an ingest is running).
    """
    if not ws.processed.is_dir():
        return None
    if not any((ws.processed / n).exists() for n in (STAGE, _OLD, *_LEGACY)):
        for folder in (ws.processed, *(ws.processed / n for n in ("households", "persons", "aggregates"))):
            remove_stale_tmp(folder, recursive=folder != ws.processed)
        return None
    with processed_lock(ws, "ingest", wait=False) as locked:
        if not locked:
            return None
        done = _recover_locked(ws)
    if done:
        log.warning("data/processed: an interrupted ingest was %s", done)
    return done


def _output_error(e: OSError) -> OutputError:
    reason = "ดิสก์เต็ม / the disk is full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else (
        "ไม่มีสิทธิ์เขียน / permission denied" if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else e.strerror or str(e))
    where = f" ({e.filename})" if getattr(e, "filename", None) else ""
    return OutputError(
        f"เขียนผลลัพธ์ใน data/processed ไม่สำเร็จ: {reason}{where}; ผลลัพธ์ครั้งก่อนยังอยู่ครบ / "
        f"could not write data/processed: {reason}{where}; the previous outputs are unchanged")


def ingest(ws: Workspace, *, places_required: bool | None = None, chunk_rows: int = CHUNK_ROWS) -> IngestSummary:
    """Read everything under ``data/raw``, validate it and write ``data/processed``.

    Parameters
    ----------
    ws : Workspace
    places_required : bool or None
        ``None`` (default): check village codes against ``data/raw/places.csv`` when it exists.
        ``True``: the place list must exist and be readable (else :class:`InputError`).
        ``False``: never check village codes against it (it is still written to places.parquet).
    chunk_rows : int
        Rows per chunk when streaming big files.

    Returns
    -------
    IngestSummary
        Also written to ``data/processed/ingest_summary.json``. ``ok`` is False only when no data
        row at all was accepted.

    Raises
    ------
    KeyFileError
        When processed data exist but the pseudonym key is missing.
    InputError
        When ``places_required`` is True and the place list is missing or unreadable, or
        ``data/raw`` does not exist.
    """
    raw = ws.raw
    if not raw.is_dir():
        raise InputError("ไม่พบโฟลเดอร์ข้อมูลดิบ / the raw-data folder does not exist", file=str(raw))
    key = load_key(ws)
    places_csv = raw / "places.csv"
    if places_required and not places_csv.is_file():
        raise InputError("ต้องมีรายชื่อพื้นที่ แต่ไม่พบไฟล์ / the place list is required but missing", file="data/raw/places.csv")
    files, skipped = discover(raw)

    # find the table of files whose path does not tell (their headers do)
    detected: list[tuple[Path, str, str | None, TableSource | None, str | None]] = []
    for path, name, table in files:
        src = err = None
        if table is None:
            try:
                src = open_table(path, None, name=name)
                table = src.table
            except InputError as e:
                err = str(e)[len(name) + 2:] if str(e).startswith(f"{name}: ") else str(e)
        detected.append((path, name, table, src, err))

    check_places = bool(places_required) or (places_required is None and places_csv.is_file())
    try:
        ws.processed.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _output_error(e) from None
    with processed_lock(ws, "ingest"):  # waits for a running ingest or indicators run
        _recover_locked(ws)
        try:
            return _ingest_locked(ws, key, chunk_rows, detected, skipped, check_places, places_required, places_csv)
        except OSError as e:
            raise _output_error(e) from None
        finally:
            shutil.rmtree(ws.processed / STAGE / ".scratch", ignore_errors=True)
            if not (ws.processed / STAGE / _COMMIT).is_file():
                shutil.rmtree(ws.processed / STAGE, ignore_errors=True)  # a failed run leaves the previous outputs


def _ingest_locked(ws: Workspace, key: bytes, chunk_rows: int, detected, skipped, check_places: bool,
                   places_required: bool | None, places_csv: Path) -> IngestSummary:
    run = _Run(ws, key, chunk_rows, check_places=False)
    run.tmp.mkdir(parents=True, exist_ok=True)
    run.summary.skipped = skipped
    for path, name, table, src, err in detected:
        if err is not None:
            run.summary.files.append(FileResult(file=name, refused=err))
    try:
        for phase in _PHASES:
            for path, name, table, src, err in detected:
                if table == phase and err is None:
                    run.run_file(path, name, table, src)
            if phase == "places":
                run.finish_places()
                if check_places and not run.places:
                    if places_required:
                        raise InputError("อ่านรายชื่อพื้นที่ไม่ได้ / the place list could not be read (see the summary)", file="data/raw/places.csv")
                    run.summary.notes.append("อ่าน places.csv ไม่ได้: ไม่ได้ตรวจรหัสหมู่บ้าน / places.csv could not be read: village codes were not checked")
                    check_places = False
                run.check_places = check_places
            if phase == "households":
                run.index_households()  # before the persons, who carry their household's number
            if phase == "persons":
                pause_point("ingest:read")  # test hook: every record file read, nothing published
                run.finish_households()
        run.finish_tables()
        run.finish_quarantine()
    finally:
        shutil.rmtree(run.tmp, ignore_errors=True)
    summary = run.summary
    summary.files.sort(key=lambda f: f.file)
    if not check_places and places_required is None and not places_csv.is_file():
        summary.notes.append("ไม่มี data/raw/places.csv: ไม่ได้ตรวจรหัสหมู่บ้านกับรายชื่อพื้นที่ / no data/raw/places.csv: village codes were not checked against a place list")
    assert summary.rows_in == summary.rows_accepted + summary.rows_quarantined
    write_text_atomic(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2) + "\n", run.out / "ingest_summary.json")
    _mark_complete(run.out, [n for n in OWNED if (run.out / n).exists()])
    pause_point("ingest:complete")  # test hook: staged and marked, not yet published
    publish_staged(ws)
    return summary
