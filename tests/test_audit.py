"""PDPA audit: planted IDs, names and house numbers are found, masked, and fail the command."""
from __future__ import annotations

import pandas as pd
import pytest

from vilwork import audit
from vilwork.cli import main
from vilwork.workspace import Workspace

# 1-1017-00230-70-? : check digit worked by hand: 1·13 + 1·12 + 0·11 + 1·10 + 7·9 + 0·8 + 0·7
# + 2·6 + 3·5 + 0·4 + 7·3 + 0·2 = 146; 146 mod 11 = 3; (11 − 3) mod 10 = 8  ->  1101700230708
GOOD_ID = "1101700230708"
BAD_ID = "1101700230709"  # wrong check digit

PERSONS = (
    "ปีสำรวจ,รหัสบ้าน,ลำดับที่,คำนำหน้า,ชื่อ,นามสกุล,เลขประจำตัวประชาชน,เพศ,วันเดือนปีเกิด\n"
    f"2562,99010101001,1,นาย,สมปอง,ทดสอบดี,{GOOD_ID},ชาย,01/01/2520\n"
    "2562,99010101001,2,นาง,มาลี,ทดสอบดี,3100600133452,หญิง,02/02/2522\n"
)
HOUSEHOLDS = (
    "ปีสำรวจ,รหัสบ้าน,บ้านเลขที่,ชื่อหัวหน้าครัวเรือน,รหัสหมู่บ้าน\n"
    "2562,99010101001,77/3,นายสมปอง ทดสอบดี,99010101\n"
)


def test_check_digit_by_hand():
    assert audit.valid_citizen_id(GOOD_ID)
    assert not audit.valid_citizen_id(BAD_ID)


def _ids():
    ids = audit.Identifiers()
    ids.add_name("สมปอง", "ทดสอบดี")
    ids.house_numbers.add("77/3")
    return ids


@pytest.mark.parametrize("text", [
    f"id {GOOD_ID}.",
    "id 1-1017-00230-70-8",
    "id 1 1017 00230 70 8",
    "เลข ๑๑๐๑๗๐๐๒๓๐๗๐๘ ครับ",
])
def test_ids_in_any_spelling_are_found_and_masked(text):
    hits = audit.scan_text(text, _ids(), "f.txt")
    assert [h.kind for h in hits] == ["citizen ID / เลขประจำตัวประชาชน"]
    assert hits[0].sample == "1-1017-xxxxx-xx-8"
    assert GOOD_ID not in str(hits[0])


@pytest.mark.parametrize("text", [
    f"id {BAD_ID}",                 # invalid check digit
    "0.1101700230708",               # a decimal, not an ID
    f"key 3{GOOD_ID[1:]}abcd",       # the start of a hex pseudonym
    f"{GOOD_ID}4",                   # 14 digits
])
def test_no_false_ids(text):
    assert not [h for h in audit.scan_text(text, audit.Identifiers(), "f.txt") if "ID" in h.kind]


def test_names_and_house_numbers():
    ids = _ids()
    assert audit.scan_text("ผู้ใหญ่บ้านนายสมปอง ทดสอบดี กล่าวว่า", ids, "f")[0].kind.startswith("person name")
    assert audit.scan_text("สมปอง,ทดสอบดี", ids, "f")  # two CSV cells
    assert not audit.scan_text("สมปอง ใจดี และ มาลี ทดสอบดี", ids, "f")  # not one person's first + last
    assert audit.scan_text("บ้านเลขที่ 77/3 หมู่ 1", ids, "f")[0].kind.startswith("house number")
    assert not audit.scan_text("ร้อยละ 77/3", ids, "f")  # a number without house-number context


@pytest.fixture
def ws(tmp_path):
    w = Workspace(tmp_path).ensure()
    d = w.raw / "bmn" / "2562"
    d.mkdir(parents=True)
    (d / "bmn2562_persons_9901.csv").write_text(PERSONS, encoding="utf-8-sig")
    (d / "bmn2562_households_9901.csv").write_text(HOUSEHOLDS, encoding="utf-8-sig")
    rep = w.reports / "99010101"
    rep.mkdir()
    (rep / "km.html").write_text("<html><body><p>บ้านหนองบัว 45.0%</p></body></html>", encoding="utf-8")
    pd.DataFrame({"person_key": ["e58d7cc3fc3e8062"], "village_code": ["99010101"]}).to_parquet(w.processed / "p.parquet")
    return w


def test_names_are_read_from_raw_like_ingest(ws):
    ids = audit.load_identifiers(ws)
    assert ids.last_to_first == {"ทดสอบดี": {"สมปอง", "มาลี"}}
    assert ids.house_numbers == {"77/3"}


def test_names_from_workbooks_are_the_same_by_either_reader(tmp_path, monkeypatch):
    """Workbooks are read by python-calamine (fast) and, when it is missing or fails, by
    openpyxl as ingest reads them: the same names and house numbers either way (a title row
    above the header, house numbers stored as numbers and as text, blank rows and cells)."""
    import openpyxl

    pytest.importorskip("python_calamine")
    w = Workspace(tmp_path).ensure()
    d = w.raw / "bmn" / "2562"
    d.mkdir(parents=True)
    for table, text in (("persons", PERSONS), ("households", HOUSEHOLDS)):
        wb = openpyxl.Workbook()
        sh = wb.active
        sh.append(["แบบสำรวจ จปฐ. ปี 2562"])
        sh.append([])
        lines = [line.split(",") for line in text.strip().splitlines()]
        sh.append(lines[0])
        for row in lines[1:]:
            sh.append(row)
            sh.append([None] * len(row))
        if table == "households":
            sh.append(["2562", "99010101002", 12, "นางสาวบุญมา ใจงาม", "99010101"])  # a number, not text
        wb.save(d / f"bmn2562_{table}_9901.xlsx")
    read, calamine_frame = [], audit._calamine_frame
    monkeypatch.setattr(audit, "_calamine_frame", lambda src: read.append(src.name) or calamine_frame(src))
    fast = audit.load_identifiers(w)
    assert len(read) == 2  # both workbooks by python-calamine
    audit._CACHE.clear()
    monkeypatch.setattr(audit, "_calamine_frame", lambda src: None)
    slow = audit.load_identifiers(w)
    assert fast.last_to_first == slow.last_to_first == {"ทดสอบดี": {"สมปอง", "มาลี"}, "ใจงาม": {"บุญมา"}}
    assert fast.house_numbers == slow.house_numbers == {"77/3", "12"}


def test_clean_workspace_passes(ws, capsys):
    assert main(["audit", "--root", str(ws.root)]) == 0
    assert "no personal data found" in capsys.readouterr().out


def test_planted_name_and_id_fail_loudly(ws, capsys):
    km = ws.reports / "99010101" / "km.html"
    km.write_text("<html><body><td>มาลี</td><td>ทดสอบดี</td>\n<p>บ้านเลขที่ 77/3</p></body></html>", encoding="utf-8")
    pd.DataFrame({"x": [f"{GOOD_ID[:1]}-{GOOD_ID[1:5]}-{GOOD_ID[5:10]}-{GOOD_ID[10:12]}-{GOOD_ID[12]}"]}).to_csv(
        ws.processed / "leak.csv", index=False)
    assert main(["audit", "--root", str(ws.root)]) == 1
    out = capsys.readouterr().out
    assert "reports/99010101/km.html: line 1" in out and "person name" in out
    assert "reports/99010101/km.html: line 2" in out and "house number" in out
    assert "data/processed/leak.csv: line 2" in out and "1-1017-xxxxx-xx-8" in out
    assert GOOD_ID not in out and "00230" not in out and "มาลี" not in out
    with pytest.raises(audit.AuditError, match="PDPA audit failed"):
        audit.check_outputs(ws, [ws.reports / "99010101"], "village 99010101")


def test_planted_id_in_parquet_and_xlsx(ws):
    pd.DataFrame({"cid": [int(GOOD_ID)]}).to_parquet(ws.processed / "ids.parquet")
    pd.DataFrame({"a": ["x"], "b": [GOOD_ID]}).to_excel(ws.reports / "99010101" / "t.xlsx", index=False)
    rep = audit.audit_workspace(ws)
    where = {(h.file, h.location.split(":")[0]) for h in rep.hits}
    assert ("data/processed/ids.parquet", "column cid") in where
    assert ("reports/99010101/t.xlsx", "sheet Sheet1 row 2") in where


def test_pictures_are_listed_not_scanned(ws):
    (ws.reports / "99010101" / "card.png").write_bytes(b"\x89PNG\r\n\x1a\n" + GOOD_ID.encode())
    rep = audit.audit_workspace(ws)
    assert rep.ok and ("reports/99010101/card.png", "picture, video or font") in rep.not_scanned


def test_symlinks_are_not_followed(ws, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text(GOOD_ID)
    (ws.reports / "99010101" / "link.txt").symlink_to(outside)
    rep = audit.audit_workspace(ws)
    assert ("reports/99010101/link.txt", "symbolic link (not followed)") in rep.not_scanned


def test_a_record_of_clean_files_skips_only_what_is_unchanged(ws):
    """A batch keeps a record of the files it found clean: unchanged files are not read again,
    a changed file, a file with a hit, or new raw names (another identifiers list) are."""
    import os

    record = ws.reports / "audited.json"
    big = ws.processed / "big.parquet"
    pd.DataFrame({"v": ["บ้านหนองบัว"] * 1000, "n": range(1000)}).to_parquet(big)
    first = audit.audit_paths(ws, [ws.processed], record=record)
    assert first.ok and first.remembered == 0 and first.scanned == 2 and record.is_file()
    again = audit.audit_paths(ws, [ws.processed], record=record)
    assert again.ok and again.remembered == 2 and "unchanged since an earlier clean audit" in str(again)
    # other contents under the old time stamp (and another inode, from the rename)
    leak = ws.processed / "leak.parquet"
    pd.DataFrame({"v": ["บ้านหนองบัว"] * 999 + ["มาลี ทดสอบดี"], "n": range(1000)}).to_parquet(leak)
    st = big.stat()
    os.utime(leak, ns=(st.st_atime_ns, st.st_mtime_ns))
    leak.replace(big)
    hit = audit.audit_paths(ws, [ws.processed], record=record)
    assert not hit.ok and hit.remembered == 1  # p.parquet only
    assert not audit.audit_paths(ws, [ws.processed], record=record).ok  # a file with hits is never remembered
    big.unlink()
    audit.audit_paths(ws, [ws.processed], record=record)
    assert audit.audit_paths(ws, [ws.processed], record=record).remembered == 1
    # new names in the raw files: nothing is trusted
    hh = ws.raw / "bmn" / "2562" / "bmn2562_households_9901.csv"
    hh.write_text(HOUSEHOLDS + "2562,99010101002,12,นายบุญมา ใจงาม,99010101\n", encoding="utf-8-sig")
    assert audit.audit_paths(ws, [ws.processed], record=record).remembered == 0


def _scan_text_line_by_line(text, ids, file, where=""):
    """The audit's first scan_text, kept as the reference: one line at a time in Python."""
    import re as _re

    hits = []
    text = audit._norm(text)
    lengths = sorted({len(k) for k in ids.last_to_first}, reverse=True)
    starts = {k[0] for k in ids.last_to_first}
    for n, line in enumerate(text.splitlines() or [""], 1):
        loc = f"{where}line {n}" if where else f"line {n}"
        for m in audit._ID_CANDIDATE.finditer(line):
            digits = _re.sub(r"\D", "", m.group(1))
            if audit.valid_citizen_id(digits):
                hits.append(audit.Hit(file, f"{loc}, col {m.start() + 1}", "citizen ID / เลขประจำตัวประชาชน", audit.mask_id(digits)))
        if ids.house_numbers:
            for m in audit._HOUSE_CONTEXT.finditer(line):
                if m.group(1) in ids.house_numbers:
                    hits.append(audit.Hit(file, f"{loc}, col {m.start() + 1}", "house number / บ้านเลขที่", "value hidden"))
        if lengths:
            toks = [t for t in audit._TOKEN_SPLIT.split(line) if t]
            for a, b in zip(toks, toks[1:]):
                if b[0] not in starts:
                    continue
                for L in lengths:
                    if len(b) < L:
                        continue
                    firsts = ids.last_to_first.get(b[:L])
                    if firsts and any(a.endswith(f) for f in firsts):
                        hits.append(audit.Hit(file, loc, "person name / ชื่อ-นามสกุล", f"{a[:1]}… {b[:1]}…"))
                        break
    return hits


def test_whole_text_scan_finds_what_the_line_by_line_scan_found():
    """scan_text runs its patterns over the whole text: the same hits, in the same order, as one
    line at a time — also where a pattern could have run across a line break."""
    import random

    ids = _ids()
    ids.add_name("Somchai", "Jaidee")
    rng = random.Random(7)
    spaced = f"{GOOD_ID[0]} {GOOD_ID[1:5]} {GOOD_ID[5:10]} {GOOD_ID[10:12]} {GOOD_ID[12]}"
    pieces = [GOOD_ID, BAD_ID, spaced, "๑๑๐๑๗๐๐๒๓๐๗๐๘", f"x{GOOD_ID}", f"{GOOD_ID}.5", "บ้านเลขที่ 77/3",
              "บ้านเลขที่", "77/3", "house no. 77/3", "สมปอง ทดสอบดี", "สมปอง", "ทดสอบดี", "นายสมปอง,ทดสอบดี",
              "Somchai Jaidee", "มาลี ทดสอบดีมาก", "ร้อยละ 77/3", "99010101", "e58d7cc3fc3e8062", "", " ", "\t"]
    seps = ["\n", "\r\n", "\r", "\u2028", "\x0b", "\x85", " ", ", "]
    for _ in range(300):
        text = "".join(rng.choice(pieces) + rng.choice(seps) for _ in range(rng.randint(1, 12)))
        assert audit.scan_text(text, ids, "f", "column c: ") == _scan_text_line_by_line(text, ids, "f", "column c: "), repr(text)
    assert audit.scan_text("", ids, "f") == [] and audit.scan_text("บ้านเลขที่\n77/3", ids, "f") == []


def test_parquet_columns_of_every_kind_are_read(ws):
    """Names split over two text columns (one dictionary-encoded, with gaps), an ID kept as a
    float, nullable integers, dates: found where they are, 200,000 rows at a time."""
    import datetime as dt

    df = pd.DataFrame({
        "first": ["x", None, "มาลี"],
        "last": pd.Categorical(["y", "z", "ทดสอบดี"]),
        "f": [1.5, float(GOOD_ID), None],
        "n": pd.array([1, None, 3], dtype="Int64"),
        "when": pd.to_datetime(["2019-01-01", "2019-01-02", None]),
        "day": [dt.date(2019, 1, 1), None, dt.date(2019, 1, 3)],
    })
    df.to_parquet(ws.processed / "mixed.parquet")
    hits = audit.audit_paths(ws, [ws.processed / "mixed.parquet"]).hits
    where = sorted((h.location.split(",")[0], h.kind.split(" /")[0]) for h in hits)
    assert where == [("column f: line 1", "citizen ID"), ("rows: line 3", "person name")]
    lines = dict(audit._parquet_lines(ws.processed / "mixed.parquet"))
    assert lines["column n: "] == "1\n3" and lines["column day: "] == "2019-01-01\n2019-01-03"
    assert "column when: " not in lines and lines["rows: "].splitlines()[1] == " , z"
