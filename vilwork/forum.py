"""Forum mode: the full-screen deck a facilitator shows at the community meeting, ending with the
voting screen.

``vilwork forum --village CODE`` builds the deck from the village's data (the slide content of
:func:`vilwork.km.forum_slides`: one finding per screen in plain Thai), serves it on
``127.0.0.1`` with the standard library's HTTP server, and opens the browser. Everything the
page loads comes from the village folder's ``assets/`` (reveal.js, plotly.js basic, Sarabun:
:func:`vilwork.publish.assets.install_assets`), so it works with no internet. Type is at least
32 px on the 1280×720 slide (reveal.js scales the slide to the screen), dark on white. Keyboard
and presentation clickers move between screens: → ← ↑ ↓, Page Down / Page Up, space; F (or a
clicker's F5) is full screen, B or . blanks the screen.

The last screen is the vote: the facilitator types each project proposed at the meeting, its
issue area and the hands counted. Every entry is appended at once to
``data/raw/villages/<code>/votes.csv`` (:func:`append_vote`: one ``write`` of a whole line, then
``fsync``), so a crash or a closed laptop loses nothing already entered; a correction is a new
row (the latest row of a project holds its votes), a withdrawal a row with 0 votes and the note
``ถอนโครงการ``. The ranking shown is :func:`vilwork.needs.rank_votes` of
:func:`vilwork.needs.read_votes`, exactly what stage 2 reads. While the voting screen is shown
the page asks for the ranking every 3 seconds, so entries made on a second screen appear, and a
stopped ``vilwork forum`` is said on screen at once.
"""
from __future__ import annotations

import csv
import datetime as dt
import hmac
import io
import json
import os
import re
import secrets
import threading
import time
import unicodedata
import webbrowser
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import pandas as pd

from .disclosure import neutralise_row
from .errors import InputError, VilworkError
from .log import get_logger
from .registry import column_aliases, fold_header, issue_areas
from .village import Village, open_village

log = get_logger(__name__)

__all__ = [
    "ForumServer",
    "VoteEntryError",
    "VoteFileError",
    "append_vote",
    "clean_entry",
    "deck_html",
    "ranking",
    "serve_forum",
    "start_forum",
]

THAI_TZ = ZoneInfo("Asia/Bangkok")
#: the header a new votes file gets (Thai, as docs/architecture.md and stage 2 expect)
HEADER = {"project": "โครงการ", "issue_area": "ด้าน", "votes": "คะแนนเสียง", "recorded_at": "เวลาบันทึก", "note": "หมายเหตุ"}
#: the note of a withdrawal row (one of forum.yaml's withdraw_notes)
WITHDRAW_NOTE = {"th": "ถอนโครงการ", "en": "withdrawn"}
MAX_TEXT = 120  # characters of a project name
MAX_NOTE = 200
MAX_VOTES = 100_000  # hands in one village hall; anything above is a typing slip
MAX_BODY = 16_384  # bytes of one request
CHART_WIDTH, CHART_HEIGHT, CHART_FONT = 1180, 400, 32

_WORDS = {
    "deck_title": ("เวทีประชาคม {name}", "Community forum · {name}"),
    "deck_sub": ("ข้อมูล จปฐ. ปี {year} · กด → หรือ Page Down เพื่อไปต่อ · กด F เพื่อเต็มจอ",
                 "BMN survey {year} · press → or Page Down to go on · F for full screen"),
    "vote_title": ("ลงคะแนนเลือกโครงการ", "Vote on the projects"),
    "project": ("โครงการ", "Project"),
    "area": ("ด้าน", "Issue area"),
    "area_none": ("ไม่ระบุ", "not given"),
    "votes": ("คะแนน (ยกมือ)", "Votes (hands)"),
    "votes_short": ("คะแนน", "Votes"),
    "save": ("บันทึก", "Save"),
    "rank": ("ลำดับ", "Rank"),
    "share": ("ร้อยละ", "Share"),
    "edit": ("แก้", "Edit"),
    "withdraw": ("ถอน", "Withdraw"),
    "confirm_withdraw": ("ถอนโครงการ “{p}” ออกจากการลงคะแนน?", "Withdraw “{p}” from the vote?"),
    "saved": ("บันทึกแล้ว: {p} = {n} คะแนน อันดับ {rank} (แถวที่ {row} ของไฟล์)",
              "Saved: {p} = {n} votes, rank {rank} (row {row} of the file)"),
    "saved_withdraw": ("ถอนโครงการแล้ว: {p} (แถวที่ {row})", "Withdrawn: {p} (row {row})"),
    "not_saved": ("ยังไม่ได้บันทึก: {e}", "Not saved: {e}"),
    "offline": ("ติดต่อโปรแกรมไม่ได้ — ข้อมูลที่บันทึกแล้วยังอยู่ครบ ตรวจว่าหน้าต่าง vilwork forum ยังเปิดอยู่",
                "Cannot reach vilwork — entries already saved are safe; check that `vilwork forum` is still running"),
    "empty": ("ยังไม่มีโครงการ — พิมพ์ชื่อโครงการและจำนวนมือ แล้วกดบันทึก",
              "No projects yet — type a project and the hands counted, then Save"),
    "total": ("รวม {n} คะแนน · {p} โครงการ · บันทึกที่ {file}", "{n} votes in all · {p} projects · saved in {file}"),
    "rejected": ("ไฟล์มี {n} แถวที่ไม่นำมาใช้ (ดูในขั้นตอนที่ 2)", "{n} rows of the file are not used (see stage 2)"),
    "err_project": ("ใส่ชื่อโครงการ", "type the project's name"),
    "err_project_long": ("ชื่อโครงการยาวเกิน {n} ตัวอักษร", "the project's name is longer than {n} characters"),
    "err_formula": ("ชื่อหรือหมายเหตุขึ้นต้นด้วย = + - @ ไม่ได้", "a name or note cannot start with = + - @"),
    "err_control": ("มีตัวอักษรควบคุมที่พิมพ์ไม่ได้", "it has control characters"),
    "err_votes": ("คะแนนต้องเป็นจำนวนเต็ม 0 ถึง {n}", "votes must be a whole number from 0 to {n}"),
    "err_area": ("ไม่รู้จักด้าน “{a}”", "unknown issue area “{a}”"),
    "err_note_long": ("หมายเหตุยาวเกิน {n} ตัวอักษร", "the note is longer than {n} characters"),
    "err_encoding": ("ไฟล์คะแนนเป็นรหัส Windows ภาษาไทย (cp874) ซึ่งเขียนตัวอักษร “{c}” ไม่ได้",
                     "the votes file is Windows Thai (cp874), which cannot hold “{c}”"),
    "provenance": ("ที่มาของข้อมูล", "Where these numbers come from"),
    "privacy": ("คุ้มครองข้อมูล", "Privacy"),
    "privacy_note": ("จำนวน 1–{k} คนหรือครัวเรือนแสดงเป็น “<{k1}” ไม่มีชื่อหรือเลขบัตรประชาชน",
                     "counts of 1–{k} people or households show as “<{k1}”; no names or ID numbers appear here"),
}


def _w(key: str, lang: str, **fmt) -> str:
    th, en = _WORDS[key]
    s = en if lang == "en" else th
    return s.format(**fmt) if fmt else s


class VoteEntryError(InputError):
    """Raised when an entry from the voting screen is refused; ``errors`` lists every reason."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = list(errors)


class VoteFileError(InputError):
    """Raised when the village's votes file exists but cannot be appended to safely (unreadable
    encoding, or a header without the project or votes column)."""


# =============================================================================================
# entries: validation and the append-only write
# =============================================================================================

_FORMULA = ("=", "+", "-", "@")
_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")


def _text(value) -> str:
    """NFC, zero-width and no-break spaces removed, white space collapsed (as stage 2 reads it)."""
    if value is None:
        return ""
    s = unicodedata.normalize("NFC", str(value))
    s = s.translate(dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff"), None)).replace("\u00a0", " ")
    return " ".join(s.split())


def _bad_chars(s: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs", "Co") for c in s)


def _area_choices(lang: str) -> list[tuple[str, str]]:
    return [(a["key"], a["name_en"] if lang == "en" else a["name_th"]) for a in issue_areas()]


def clean_entry(payload: dict, lang: str = "th") -> dict:
    """Check one entry from the voting screen; every problem is reported at once.

    Parameters
    ----------
    payload : dict
        ``project`` (text), ``votes`` (whole number, Thai digits allowed), ``area`` (an issue-area
        key or name, optional), ``note`` (optional), ``withdraw`` (true: a withdrawal row).

    Returns
    -------
    dict
        ``project, area, votes, note, withdraw`` ready to write (area as its name in ``lang``).

    Raises
    ------
    VoteEntryError
        With every reason, in ``lang``.
    """
    from .needs import area_name, resolve_area

    errors = []
    if not isinstance(payload, dict):
        raise VoteEntryError([_w("err_project", lang)])
    project = _text(payload.get("project"))
    note = _text(payload.get("note"))
    withdraw = bool(payload.get("withdraw"))
    if not project:
        errors.append(_w("err_project", lang))
    elif len(project) > MAX_TEXT:
        errors.append(_w("err_project_long", lang, n=MAX_TEXT))
    if len(note) > MAX_NOTE:
        errors.append(_w("err_note_long", lang, n=MAX_NOTE))
    if any(x.startswith(_FORMULA) for x in (project, note) if x):
        errors.append(_w("err_formula", lang))
    if _bad_chars(project) or _bad_chars(note):
        errors.append(_w("err_control", lang))
    votes = 0
    if withdraw:
        note = WITHDRAW_NOTE["en" if lang == "en" else "th"]
    else:
        raw = payload.get("votes")
        if isinstance(raw, bool):
            raw = None
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            ok = float(raw).is_integer()
            votes = int(raw) if ok else -1
        else:
            s = _text(raw).translate(_THAI_DIGITS).replace(",", "")
            votes = int(s) if re.fullmatch(r"\d{1,9}", s) else -1
        if not 0 <= votes <= MAX_VOTES:
            errors.append(_w("err_votes", lang, n=f"{MAX_VOTES:,}"))
    area_raw = _text(payload.get("area"))
    area = ""
    if area_raw:
        key = resolve_area(area_raw)
        if key is None:
            errors.append(_w("err_area", lang, a=area_raw[:40]))
        else:
            area = area_name(key, lang)
    if errors:
        raise VoteEntryError(errors)
    return {"project": project, "area": area, "votes": votes, "note": note, "withdraw": withdraw}


def votes_path(v: Village) -> Path:
    """``data/raw/villages/<code>/votes.csv``: the file stage 2 reads."""
    return v.raw_dir / "votes.csv"


@dataclass
class _FileShape:
    encoding: str  # utf-8 or cp874
    newline: str
    positions: dict  # canonical column -> index
    width: int
    ends_with_newline: bool
    last_time: pd.Timestamp | None


def _file_shape(path: Path) -> _FileShape | None:
    """How an existing votes file is written: encoding, line ending, column order, last time."""
    from .needs import parse_votes

    data = path.read_bytes()
    if not data.strip():
        return None
    try:
        text, enc = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        try:
            text, enc = data.decode("cp874"), "cp874"
        except UnicodeDecodeError:
            raise VoteFileError("is neither UTF-8 nor Windows Thai (cp874): fix it before the forum", str(path)) from None
    records = list(csv.reader(io.StringIO(text, newline="")))
    header = records[0] if records else []
    aliases = column_aliases("votes")
    pos: dict[str, int] = {}
    for j, h in enumerate(header):
        canon = aliases.get(fold_header(h))
        if canon and canon not in pos:
            pos[canon] = j
    missing = [c for c in ("project", "votes") if c not in pos]
    if missing:
        raise VoteFileError(f"its header {header} lacks {missing}: fix it before the forum (expected e.g. "
                            f"{', '.join(HEADER.values())})", str(path))
    first_end = data.find(b"\n")
    newline = "\r\n" if first_end > 0 and data[first_end - 1:first_end] == b"\r" else "\n"
    last = None
    try:
        _cur, _rej, hist, _wd, _notes = parse_votes(records, source=str(path))
        times = pd.to_datetime(hist["recorded_at"], errors="coerce").dropna()
        last = times.max() if len(times) else None
    except InputError:
        last = None
    return _FileShape(enc, newline, pos, len(header), data.endswith(b"\n"), last)


_LOCK = threading.Lock()


def _now() -> dt.datetime:
    return dt.datetime.now(THAI_TZ).replace(microsecond=0)


def _row_number(path: Path) -> int:
    """The spreadsheet row (header = 1) of the file's last record."""
    from .needs import _read_csv_rows  # the same reading as stage 2

    records, _ = _read_csv_rows(path)
    return len(records)


def append_vote(path: str | os.PathLike, entry: dict, *, now: dt.datetime | None = None, lang: str = "th") -> dict:
    """Append one cleaned entry (:func:`clean_entry`) to a votes file, durably.

    The file is created with a UTF-8 BOM and the Thai header when missing; otherwise the row
    follows the file's own header order, encoding and line ending. The whole line is one
    ``write`` on a file opened for appending, then ``fsync`` (and the folder is synced when the
    file is new), under a lock, so rows never interleave and a saved row survives a crash.
    Nothing already in the file is ever rewritten.

    The time written is now in Thai time; if the file already holds a later time (a laptop
    whose clock is behind), that time is used instead, so the new row is still the latest.

    Returns
    -------
    dict
        ``row`` (spreadsheet row of the new line, header = 1) and ``recorded_at`` (ISO text).

    Raises
    ------
    VoteFileError
        When the existing file cannot be appended to safely.
    VoteEntryError
        When the file is cp874 and the text has characters cp874 cannot hold.
    """
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            new_file = os.fstat(fd).st_size == 0
            shape = None if new_file else _file_shape(path)
            when = now or _now()
            if shape is not None and shape.last_time is not None:
                last = shape.last_time.tz_localize(THAI_TZ) if shape.last_time.tzinfo is None else shape.last_time
                if last > pd.Timestamp(when):
                    when = last.to_pydatetime()
            stamp = when.isoformat(timespec="seconds")
            values = {"project": entry["project"], "issue_area": entry.get("area", ""),
                      "votes": str(int(entry["votes"])), "recorded_at": stamp, "note": entry.get("note", "")}
            values = neutralise_row(values)  # a project typed as "=..." must not run when Excel opens votes.csv
            buf = io.StringIO()
            if shape is None:
                writer = csv.writer(buf, lineterminator="\r\n")
                writer.writerow(list(HEADER.values()))
                writer.writerow([values[k] for k in HEADER])
                blob = "\ufeff" + buf.getvalue()
                encoding = "utf-8"
            else:
                row = [""] * shape.width
                for canon, j in shape.positions.items():
                    if canon in values:
                        row[j] = values[canon]
                csv.writer(buf, lineterminator=shape.newline).writerow(row)
                blob = ("" if shape.ends_with_newline else shape.newline) + buf.getvalue()
                encoding = shape.encoding
            try:
                data = blob.encode(encoding)
            except UnicodeEncodeError as e:
                raise VoteEntryError([_w("err_encoding", lang, c=blob[e.start:e.end])]) from None
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
            if new_file:
                dfd = os.open(path.parent, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
        finally:
            os.close(fd)  # also releases the flock
    return {"row": _row_number(path), "recorded_at": stamp}


def ranking(v: Village) -> dict:
    """The forum's ranking as the voting screen shows it (JSON-ready), from
    :func:`vilwork.needs.read_votes` and :func:`vilwork.needs.rank_votes`."""
    from .needs import rank_votes, read_votes

    vt = read_votes(v)
    r = vt.ranked if not vt.ranked.empty or vt.current.empty else rank_votes(vt)
    rows = []
    for x in r.itertuples(index=False):
        share = getattr(x, "vote_share", None)
        rows.append({"rank": int(x.rank), "project": str(x.project), "area": str(x.area or ""),
                     "votes": int(x.votes), "share": None if share is None or pd.isna(share) else round(float(share), 4),
                     "explanation": str(x.explanation or "")})
    return {"rows": rows, "total": int(sum(r["votes"] for r in rows)), "rejected": int(len(vt.rejected)),
            "notes": list(vt.notes), "file": f"data/raw/villages/{v.code}/votes.csv"}


# =============================================================================================
# the deck
# =============================================================================================

_CSS = """
/* forum mode: everything at least 32px on the 1280x720 slide, dark on white */
.reveal { font-size: 36px; color: #000; }
.reveal h1 { font-size: 72px; color: #062c4a; }
.reveal h2 { font-size: 56px; color: #062c4a; margin-bottom: 12px; }
.reveal .message { font-size: 42px; color: #000; }
.reveal .takeaway { font-size: 38px; color: #000; border-left-color: #062c4a; }
.reveal .fact .value { font-size: 96px; color: #062c4a; }
.reveal .fact .label, .reveal .fact .note { font-size: 32px; color: #000; }
.reveal dl.prov { font-size: 32px; line-height: 1.35; }
.reveal .slide-number { font-size: 32px; }
.reveal .chart { width: 1180px; height: 400px; }
.vw-foot { display: none; }
.reveal .vote h2 { margin-bottom: 8px; }
#vote-form { display: flex; gap: 14px; align-items: flex-end; flex-wrap: nowrap; margin: 0 0 6px; }
#vote-form label { display: flex; flex-direction: column; font-size: 32px; font-weight: 700; color: #000; }
#vote-form input, #vote-form select, #vote-form button, .vote table button {
  font: 32px/1.2 "Sarabun", sans-serif; color: #000; border: 3px solid #062c4a; border-radius: 6px; padding: 4px 10px; }
#v-project { width: 430px; } #v-area { width: 330px; } #v-votes { width: 150px; }
#vote-form button { background: #062c4a; color: #fff; font-weight: 700; padding: 6px 22px; cursor: pointer; }
#v-status { font-size: 32px; min-height: 42px; margin: 0 0 4px; font-weight: 700; line-height: 1.3; }
#v-status.ok { color: #0b6b2b; } #v-status.err { color: #b00020; }
/* the screen never scrolls: the ranking fills what the form leaves and scrolls inside, top first */
.vote .votebox { display: flex; flex-direction: column; height: 606px; }
.vote .rankwrap { flex: 1 1 0; min-height: 0; overflow-y: auto; border-top: 3px solid #062c4a; }
.vote table { width: 100%; border-collapse: collapse; font-size: 32px; line-height: 1.2; }
.vote th { white-space: nowrap; text-align: left; background: #062c4a; color: #fff; padding: 0 12px; position: sticky; top: 0; z-index: 1; }
.vote td { padding: 0 12px; border-bottom: 2px solid #bbb; vertical-align: middle; }
.vote td.n { text-align: right; font-weight: 700; white-space: nowrap; }
.vote td.p, .vote th:nth-child(2) { width: 100%; } .vote td.b { white-space: nowrap; }
.vote tr.first td { background: #fff4c2; }
.vote tr.just td { outline: 4px solid #0b6b2b; outline-offset: -4px; }
.vote table button { font-size: 32px; line-height: 1.05; padding: 0 10px; border-width: 2px; background: #fff; cursor: pointer; }
#v-total { font-size: 32px; color: #000; margin: 4px 0 0; line-height: 1.3; padding-right: 130px; }
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{{ title }}</title>
<link rel="stylesheet" href="assets/reveal/reset.css">
<link rel="stylesheet" href="assets/reveal/reveal.css">
<link rel="stylesheet" href="assets/fonts.css">
<link rel="stylesheet" href="assets/slides.css">
<style>{{ css }}</style>
<script src="assets/plotly-basic.min.js" charset="utf-8"></script>
</head>
<body>
<div class="reveal"><div class="slides">
<section class="title-slide" data-vw="title">
  <h1>{{ title|thwrap }}</h1>
  <p class="sub">{{ subtitle }}</p>
  <p class="message">{{ location|thwrap }}</p>
</section>
{% for s in slides %}
<section data-vw="slide-{{ loop.index }}">
  <h2>{{ s.title|thwrap }}</h2>
  {% if s.message %}<p class="message">{{ s.message|thwrap }}</p>{% endif %}
  {% if s.chart is not none %}<div class="chart">{{ s.chart }}</div>{% endif %}
  {% if s.takeaway %}<p class="takeaway">{{ s.takeaway|thwrap }}</p>{% endif %}
  {% if s.facts %}<div class="facts">{% for f in s.facts %}
    <div class="fact"><div class="value">{{ f.value }}</div><div class="label">{{ f.label|thwrap }}</div>{% if f.note %}<div class="note">{{ f.note }}</div>{% endif %}</div>{% endfor %}
  </div>{% endif %}
</section>
{% endfor %}
<section data-vw="provenance">
  <h2>{{ w.provenance }}</h2>
  <dl class="prov">{% for k, v in provenance %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}</dl>
</section>
<section class="vote" data-vw="vote">
  <h2>{{ w.vote_title }}</h2>
  <div class="votebox">
  <form id="vote-form" autocomplete="off">
    <label>{{ w.project }}<input id="v-project" name="project" maxlength="{{ max_text }}" required></label>
    <label>{{ w.area }}<select id="v-area" name="area"><option value="">— {{ w.area_none }} —</option>
      {% for key, name in areas %}<option value="{{ key }}">{{ name }}</option>{% endfor %}</select></label>
    <label>{{ w.votes }}<input id="v-votes" name="votes" type="number" min="0" max="{{ max_votes }}" step="1" inputmode="numeric" required></label>
    <button type="submit" id="v-save">{{ w.save }}</button>
  </form>
  <p id="v-status" role="status" aria-live="polite"></p>
  <div class="rankwrap"><table id="v-rank"><thead><tr><th>{{ w.rank }}</th><th>{{ w.project }}</th>
    <th>{{ w.votes_short }}</th><th>{{ w.share }}</th><th></th></tr></thead><tbody></tbody></table></div>
  <p id="v-total"></p>
  </div>
</section>
</div></div>
<script src="assets/reveal/reveal.js"></script>
<script id="forum-config" type="application/json">{{ config }}</script>
<script>
(function () {
  var C = JSON.parse(document.getElementById("forum-config").textContent);
  Reveal.initialize({width: 1280, height: 720, margin: 0.03, center: false, hash: true, controls: true,
    progress: true, slideNumber: "c/t", keyboard: true, overview: true, transition: "none",
    backgroundTransition: "none"});
  // a clicker's "start presentation" key is F5: go full screen instead of reloading the page
  document.addEventListener("keydown", function (e) {
    if (e.key !== "F5" || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    var d = document.documentElement;
    if (!document.fullscreenElement && d.requestFullscreen) d.requestFullscreen().catch(function () {});
  }, true);
  var form = document.getElementById("vote-form"), status = document.getElementById("v-status");
  var body = document.querySelector("#v-rank tbody"), total = document.getElementById("v-total");
  var wrap = document.querySelector(".vote .rankwrap");
  function fmt(s, o) { return s.replace(/\\{(\\w+)\\}/g, function (m, k) { return (k in o) ? o[k] : m; }); }
  function say(text, ok) { status.textContent = text; status.className = ok ? "ok" : "err"; }
  function cell(tr, text, cls) { var td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; }
  var shown = "";  // the ranking on screen, as JSON: a poll redraws only when the file changed
  function show(r, saved) {
    shown = JSON.stringify(r);
    body.textContent = "";
    if (!r.rows.length) { var tr = document.createElement("tr"); var td = cell(tr, C.w.empty); td.colSpan = 5; body.appendChild(tr); }
    r.rows.forEach(function (x, i) {
      var tr = document.createElement("tr"); if (x.rank === 1) tr.className = "first";
      tr.title = (x.area ? x.area + " · " : "") + x.explanation;
      cell(tr, String(x.rank), "n"); cell(tr, x.project, "p");
      cell(tr, x.votes.toLocaleString("en-US"), "n");
      cell(tr, x.share === null ? "–" : (100 * x.share).toFixed(0) + "%", "n");
      var td = cell(tr, "", "b");
      var e = document.createElement("button"); e.type = "button"; e.textContent = C.w.edit;
      e.addEventListener("click", function () { form.project.value = x.project; form.votes.value = x.votes;
        var opt = Array.prototype.find.call(form.area.options, function (o) { return o.text === x.area; });
        form.area.value = opt ? opt.value : ""; form.votes.focus(); form.votes.select(); });
      var d = document.createElement("button"); d.type = "button"; d.textContent = C.w.withdraw;
      d.addEventListener("click", function () { if (window.confirm(fmt(C.w.confirm_withdraw, {p: x.project}))) send({project: x.project, withdraw: true}); });
      td.appendChild(e); td.appendChild(document.createTextNode(" ")); td.appendChild(d);
      body.appendChild(tr);
      if (saved && x.project === saved) tr.classList.add("just");
    });
    wrap.scrollTop = 0;  // the hall sees the top of the ranking; the status line gives the saved row's rank
    total.textContent = fmt(C.w.total, {n: r.total.toLocaleString("en-US"), p: r.rows.length, file: r.file}) +
      (r.rejected ? " · " + fmt(C.w.rejected, {n: r.rejected}) : "");
  }
  function load(poll) {
    fetch("api/votes", {cache: "no-store"}).then(function (res) { return res.json(); }).then(function (r) {
      if (status.textContent === C.w.offline) say("", true);  // vilwork forum is back
      if (!poll || JSON.stringify(r) !== shown) show(r);
    }).catch(function () { say(C.w.offline, false); });
  }
  // entries from a second screen (or another tab) appear within seconds; a stopped server is said at once
  setInterval(function () {
    if (!document.hidden && Reveal.getCurrentSlide().dataset.vw === "vote") load(true);
  }, 3000);
  function send(entry) {
    var btn = document.getElementById("v-save"); btn.disabled = true;
    fetch("api/votes", {method: "POST", cache: "no-store",
      headers: {"Content-Type": "application/json", "X-Forum-Token": C.token}, body: JSON.stringify(entry)})
      .then(function (res) { return res.json().then(function (j) { return {ok: res.ok, j: j}; }); })
      .then(function (r) {
        if (!r.ok || !r.j.ok) { say(fmt(C.w.not_saved, {e: (r.j.errors || [r.j.error || "?"]).join("; ")}), false); return; }
        var e = r.j.entry;
        var mine = r.j.ranking.rows.find(function (x) { return x.project === e.project; });
        say(e.withdraw ? fmt(C.w.saved_withdraw, {p: e.project, row: r.j.row})
          : fmt(C.w.saved, {p: e.project, n: e.votes, row: r.j.row, rank: mine ? mine.rank : "–"}), true);
        show(r.j.ranking, e.project);
        if (!entry.withdraw) { form.reset(); form.project.focus(); }
      })
      .catch(function () { say(C.w.offline, false); })
      .finally(function () { btn.disabled = false; });
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    send({project: form.project.value, area: form.area.value, votes: form.votes.value});
  });
  load();
})();
</script>
</body>
</html>
"""


LONG_LABEL = 6  # characters: longer category labels would be drawn sideways under vertical bars
MAX_TICKS = 10  # category labels shown along a horizontal axis at 32 px


def forum_figure(fig):
    """A copy of a slide chart made for the back of a hall: every text at least 32 px, no chart
    title (the screen's headline says it), the legend on top, values written outside the bars,
    and vertical bars whose labels are long words laid down horizontally so the labels read
    left to right. Trace types are unchanged (bar, scatter, pie)."""
    import math

    import plotly.graph_objects as go

    f = go.Figure(fig)
    f.layout.annotations = ()  # a chart's small print (what hatched bars mean) cannot be 32 px; the bars say "<5"
    big = {"size": CHART_FONT}
    f.update_layout(title=None, font=big, legend={"font": big, "orientation": "h", "x": 0, "xanchor": "left",
                                                  "y": 1.02, "yanchor": "bottom", "title": None},
                    uniformtext={"minsize": CHART_FONT, "mode": "show"}, margin={"t": 60, "b": 10, "l": 10, "r": 30})
    bars = [tr for tr in f.data if tr.type == "bar"]
    if bars and all(tr.orientation != "h" for tr in bars):
        cats = [str(c) for tr in bars for c in (tr.x if tr.x is not None else [])]
        if max((len(c) for c in cats), default=0) > LONG_LABEL:
            for tr in f.data:
                if tr.type in ("bar", "scatter"):
                    tr.x, tr.y = tr.y, tr.x
                    tr.hovertemplate = None
                    if tr.type == "bar":
                        tr.orientation = "h"
            xa, ya = f.layout.xaxis.to_plotly_json(), f.layout.yaxis.to_plotly_json()
            f.layout.xaxis, f.layout.yaxis = ya, xa
            f.update_yaxes(autorange="reversed")  # first category on top, as it was on the left
        else:
            n = len(dict.fromkeys(cats))
            if n > MAX_TICKS:
                f.update_xaxes(tickangle=0, dtick=math.ceil(n / MAX_TICKS))
    for ax in (f.update_xaxes, f.update_yaxes):
        ax(tickfont=big, title_font=big, automargin=True)
    for tr in bars:
        if tr.text is not None:
            tr.update(textposition="outside", textfont=big, cliponaxis=False)
    return f


def _chart(fig, div_id: str):
    from .publish.html import figure_div

    return figure_div(forum_figure(fig), div_id, responsive=False, modebar=False, width=CHART_WIDTH,
                      height=CHART_HEIGHT, font_size=CHART_FONT)


def deck_slides(v: Village) -> list:
    """The findings to show: :func:`vilwork.km.forum_slides` without its summary of the votes
    (the voting screen shows them live)."""
    from .i18n import t
    from .km import forum_slides

    votes_title = t("slide_votes", v.lang)
    return [s for s in forum_slides(v) if s.title != votes_title]


def deck_html(v: Village, token: str, slides: list | None = None) -> str:
    """The whole deck as one page (title, findings, provenance, voting screen); every text
    escaped; assets referenced under ``assets/``."""
    from .disclosure import small_cell_threshold
    from .publish.html import jinja_env
    from .publish.model import PROVENANCE_FIELDS, provenance_items

    L = v.lang
    slides = deck_slides(v) if slides is None else slides
    views = []
    for i, s in enumerate(slides, 1):
        chart = _chart(s.figure, f"forum-fig-{i}") if s.figure is not None else None
        views.append({"title": s.title, "message": s.message, "chart": chart, "takeaway": s.takeaway, "facts": s.facts})
    words = {k: _w(k, L) for k in _WORDS}
    config = json.dumps({"token": token, "w": words}, ensure_ascii=False).replace("</", "<\\/")
    tpl = jinja_env().from_string(_TEMPLATE)
    # the hall reads plain words: the run's parameters (code=value) stay in the reports' colophon
    params = PROVENANCE_FIELDS["parameters"][0 if L == "th" else 1]
    k = small_cell_threshold()
    prov = [(a, b) for a, b in provenance_items(v.provenance(), L) if a != params]
    prov.append((_w("privacy", L), _w("privacy_note", L, k=k, k1=k + 1)))
    return tpl.render(
        lang=L, title=_w("deck_title", L, name=v.name), subtitle=_w("deck_sub", L, year=v.year),
        location=f"{v.title} · {v.location}", slides=views, css=_Raw(_CSS), w=words,
        provenance=prov, areas=_area_choices(L), max_text=MAX_TEXT,
        max_votes=MAX_VOTES, config=_Raw(config),
    )


class _Raw(str):
    """Our own CSS, and JSON for a ``<script type="application/json">`` block (``</`` escaped):
    trusted text that autoescaping would break."""

    def __html__(self):
        return str(self)


# =============================================================================================
# the local server
# =============================================================================================

_CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                  ".ttf": "font/ttf", ".png": "image/png", ".json": "application/json", ".txt": "text/plain; charset=utf-8",
                  ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".woff2": "font/woff2"}
_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'")


class ForumServer(ThreadingHTTPServer):
    """The forum's HTTP server on 127.0.0.1: the deck at ``/``, assets under ``/assets/``, the
    ranking at ``GET /api/votes`` and new entries at ``POST /api/votes`` (JSON, with the page's
    token in ``X-Forum-Token``)."""

    daemon_threads = True

    def __init__(self, village: Village, assets_dir: Path, page: str, token: str, port: int = 0):
        self.village = village
        self.assets_dir = Path(assets_dir).resolve()
        self.page = page.encode("utf-8")
        self.token = token
        self.entries = 0
        super().__init__(("127.0.0.1", int(port)), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


class _Handler(BaseHTTPRequestHandler):
    server: ForumServer
    server_version = "vilwork-forum"
    sys_version = ""

    def log_message(self, fmt, *args):  # requests go to the debug log, not the facilitator's terminal
        log.debug("%s " + fmt, self.address_string(), *args)

    # ---- helpers ----------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _host_ok(self) -> bool:
        """Only pages this server served may talk to it (a name resolving to 127.0.0.1 is refused)."""
        host = (self.headers.get("Host") or "").strip().lower()
        return host in {f"127.0.0.1:{self.server.port}", f"localhost:{self.server.port}"}

    # ---- verbs ------------------------------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if not self._host_ok():
            return self._send(HTTPStatus.FORBIDDEN, b"forbidden", "text/plain")
        path = unquote(urlsplit(self.path).path)
        if path in ("/", "/index.html"):
            return self._send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")
        if path == "/api/votes":
            try:
                return self._json(HTTPStatus.OK, ranking(self.server.village))
            except VilworkError as e:
                return self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"ok": False, "error": str(e)})
        if path.startswith("/assets/"):
            rel = path[len("/assets/"):]
            target = (self.server.assets_dir / rel).resolve()
            if self.server.assets_dir in target.parents and target.is_file():
                ctype = _CONTENT_TYPES.get(target.suffix.lower(), "application/octet-stream")
                return self._send(HTTPStatus.OK, target.read_bytes(), ctype, cache=True)
        if path == "/favicon.ico":
            return self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

    def do_POST(self):
        if not self._host_ok():
            return self._json(HTTPStatus.FORBIDDEN, {"ok": False, "error": "forbidden"})
        if unquote(urlsplit(self.path).path) != "/api/votes":
            return self._json(HTTPStatus.NOT_FOUND, {"ok": False, "error": "not found"})
        token = self.headers.get("X-Forum-Token") or ""
        if not hmac.compare_digest(token.encode(), self.server.token.encode()):
            return self._json(HTTPStatus.FORBIDDEN, {"ok": False, "error": "bad token: reload the page"})
        if not (self.headers.get("Content-Type") or "").lower().startswith("application/json"):
            return self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"ok": False, "error": "send JSON"})
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = -1
        if not 0 < n <= MAX_BODY:
            return self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"ok": False, "error": "request too large or empty"})
        v = self.server.village
        try:
            payload = json.loads(self.rfile.read(n).decode("utf-8"))
            entry = clean_entry(payload, v.lang)
            saved = append_vote(votes_path(v), entry, lang=v.lang)
        except (ValueError, UnicodeDecodeError):
            return self._json(HTTPStatus.BAD_REQUEST, {"ok": False, "errors": ["not JSON"]})
        except VoteEntryError as e:
            return self._json(HTTPStatus.BAD_REQUEST, {"ok": False, "errors": e.errors})
        except VilworkError as e:
            return self._json(HTTPStatus.CONFLICT, {"ok": False, "errors": [str(e)]})
        except OSError as e:
            log.error("votes file not written: %s", e)
            return self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"ok": False, "errors": [f"not written: {e}"]})
        self.server.entries += 1
        log.info("vote saved: %s = %s (row %s)", entry["project"], entry["votes"], saved["row"])
        try:
            ranked = ranking(v)
        except VilworkError as e:  # the row is saved; the ranking can be reloaded
            ranked = {"rows": [], "total": 0, "rejected": 0, "notes": [str(e)], "file": str(votes_path(v))}
        return self._json(HTTPStatus.OK, {"ok": True, "entry": entry, **saved, "ranking": ranked})


def start_forum(root, village_code: str, *, port: int = 0, year: int | None = None, lang: str = "th") -> ForumServer:
    """Build the deck and start serving it in a background thread; return the server.

    Call ``server.shutdown()`` to stop. ``port=0`` picks a free port (``server.url``).

    Raises
    ------
    vilwork.errors.InputError
        When the village has no data (see :func:`vilwork.village.open_village`).
    vilwork.publish.AssetsMissingError
        When the offline browser assets are not installed.
    """
    from .publish.assets import install_assets

    v = open_village(root, village_code, year, lang=lang, audience="public")
    assets = install_assets(v.report_dir)
    token = secrets.token_urlsafe(24)
    t0 = time.perf_counter()
    page = deck_html(v, token)
    log.info("forum deck for %s built in %.1f s", v.code, time.perf_counter() - t0)
    server = ForumServer(v, assets, page, token, port)
    threading.Thread(target=server.serve_forever, name="vilwork-forum", daemon=True).start()
    return server


def serve_forum(root, village_code: str, *, port: int = 8765, open_browser: bool = True, year: int | None = None,
                lang: str = "th") -> int:
    """``vilwork forum``: serve the deck until Ctrl-C; return an exit code."""
    try:
        server = start_forum(root, village_code, port=port, year=year, lang=lang)
    except OSError as e:
        if port:
            log.info("port %s busy (%s): using a free one", port, e)
            server = start_forum(root, village_code, port=0, year=year, lang=lang)
        else:
            raise
    v = server.village
    print(f"เวทีประชาคม {v.title}: {server.url}  (กด Ctrl+C เพื่อปิด / Ctrl+C to stop)", flush=True)
    print(f"คะแนนบันทึกทันทีที่ {votes_path(v)} / votes are saved at once to that file", flush=True)
    if open_browser:
        webbrowser.open(server.url)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    print(f"ปิดแล้ว: บันทึก {server.entries} รายการ / stopped: {server.entries} entries saved")
    return 0
