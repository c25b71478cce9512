"""Reading files as officers have them: encodings, Thai/English headers, sheets, broken files."""
from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest

from vilwork.errors import InputError
from vilwork.readers import EXTRA_FIELDS, cell_text, detect_encoding, open_table, read_frame, sniff_format

THAI_CSV = "รหัสบ้าน,รหัสหมู่บ้าน,ชื่อหัวหน้าครัวเรือน,ข้อ 23\r\n99010101001,99010101,นาย ทดสอบ,1\r\n99010101002,99010101,นาง ทดสอบ,0\r\n"


def _write(path, text, encoding):
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding, detected", [
    ("utf-8", "utf-8-sig"),       # plain UTF-8 decodes as utf-8-sig too
    ("utf-8-sig", "utf-8-sig"),   # Excel's "CSV UTF-8" with a BOM
    ("cp874", "cp874"),           # Windows-874 / TIS-620
    ("utf-16", "utf-16"),         # "Unicode text" with a BOM
])
def test_encodings_read_the_same(tmp_path, encoding, detected):
    p = _write(tmp_path / "h.csv", THAI_CSV, encoding)
    assert detect_encoding(p) == detected
    src, df = read_frame(p, "households")
    assert src.columns == ["house_code", "village_code", "head_name", "q23"]
    assert df.index.tolist() == [2, 3]
    assert df["house_code"].tolist() == ["99010101001", "99010101002"]
    assert df.loc[3, "head_name"] == "นาง ทดสอบ"


def test_undecodable_text_is_refused(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes("รหัสบ้าน\n".encode("utf-8") + b"\xdb\xdc\xfc\xfd\xfe\n")  # not UTF-8, undefined in cp874
    with pytest.raises(InputError, match="x.csv.*(decode|ตัวอักษร)"):
        open_table(p, "households", name="x.csv")


def test_english_and_thai_headers_give_the_same_columns(tmp_path):
    th = _write(tmp_path / "th.csv", "รหัสบ้าน,เลขประจำตัวประชาชน,วันเดือนปีเกิด,เพศ\n99010101001,1234567890121,15/01/2530,ชาย\n", "utf-8")
    en = _write(tmp_path / "en.csv", "House_ID,PID,DOB,Gender\n99010101001,1234567890121,15/01/2530,ชาย\n", "utf-8")
    a, da = read_frame(th, "persons")
    b, db = read_frame(en, "persons")
    assert a.columns == b.columns == ["house_code", "citizen_id", "birth_date", "sex"]
    pd.testing.assert_frame_equal(da, db)


def test_unknown_columns_ignored_with_a_note(tmp_path):
    p = _write(tmp_path / "h.csv", "รหัสบ้าน,รหัสหมู่บ้าน,สีบ้าน,หมายเหตุ\n99010101001,99010101,แดง,-\n", "utf-8")
    src, df = read_frame(p, "households")
    assert src.ignored == ["สีบ้าน", "หมายเหตุ"]
    assert any("สีบ้าน" in n and "ignored" in n for n in src.notes)
    assert list(df.columns) == ["house_code", "village_code", EXTRA_FIELDS]


def test_header_below_title_rows_keeps_spreadsheet_row_numbers(tmp_path):
    text = "ข้อมูล จปฐ. ปี 2561\n\nรหัสบ้าน,รหัสหมู่บ้าน\n99010101001,99010101\n\n99010101002,99010101\n"
    src, df = read_frame(_write(tmp_path / "h.csv", text, "utf-8"), "households")
    assert src.header_row == 3
    assert df.index.tolist() == [4, 6]  # the blank line 5 is skipped but still counted


def test_row_with_too_many_fields_is_flagged(tmp_path):
    text = "รหัสบ้าน,รหัสหมู่บ้าน\n99010101001,99010101\n99010101002,9901,0101\n"
    _, df = read_frame(_write(tmp_path / "h.csv", text, "utf-8"), "households")
    assert df[EXTRA_FIELDS].tolist() == [True, False]


def test_missing_required_column_is_named(tmp_path):
    p = _write(tmp_path / "h.csv", "รหัสบ้าน,ข้อ 23\n99010101001,1\n", "utf-8")
    with pytest.raises(InputError) as e:
        open_table(p, "households", name="bmn/h.csv")
    assert "bmn/h.csv" in str(e.value)
    assert "รหัสหมู่บ้าน (village_code)" in str(e.value)


def test_table_detected_from_headers(tmp_path):
    hh = _write(tmp_path / "a.csv", "รหัสบ้าน,รหัสหมู่บ้าน,ข้อ 23\n99010101001,99010101,1\n", "utf-8")
    pp = _write(tmp_path / "b.csv", "รหัสบ้าน,รหัสหมู่บ้าน,เลขประจำตัวประชาชน,วันเดือนปีเกิด,ชื่อ\n1,2,3,4,5\n", "utf-8")
    assert open_table(hh).table == "households"
    assert open_table(pp).table == "persons"
    with pytest.raises(InputError, match="which table"):
        open_table(_write(tmp_path / "c.csv", "ก,ข\n1,2\n", "utf-8"))


def _workbook(path, sheets: dict[str, list[list]]):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def test_xlsx_first_matching_sheet_is_used_and_said(tmp_path):
    p = _workbook(tmp_path / "h.xlsx", {
        "คำชี้แจง": [["แบบ จปฐ."], ["กรอกข้อมูลในชีตถัดไป"]],
        "ข้อมูล": [["รหัสบ้าน", "รหัสหมู่บ้าน", "ข้อ 4.1"], [99010101001, 99010101.0, 1], [None, None, None],
                   ["99010101002", "99010101", dt.datetime(2561, 1, 5)]],
        "สำรอง": [["รหัสบ้าน", "รหัสหมู่บ้าน"], [1, 2]],
    })
    src, df = read_frame(p, "households")
    assert src.sheet == "ข้อมูล"
    assert any("ข้อมูล" in n and "คำชี้แจง" in n for n in src.notes)
    assert df.index.tolist() == [2, 4]
    assert df["house_code"].tolist() == ["99010101001", "99010101002"]
    assert df["village_code"].tolist() == ["99010101", "99010101"]  # 99010101.0 from Excel
    assert df.loc[4, "q4_1"] == "2018-01-05"  # a date cell in BE, as ISO CE text


def test_xlsx_with_no_matching_sheet_names_the_missing_columns(tmp_path):
    p = _workbook(tmp_path / "p.xlsx", {"Sheet1": [["รหัสบ้าน", "ชื่อ"], [1, "ก"]]})
    with pytest.raises(InputError) as e:
        open_table(p, "persons", name="p.xlsx")
    assert "เลขประจำตัวประชาชน (citizen_id)" in str(e.value) and "Sheet1" in str(e.value)


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (b"<html><body><table><tr><td>1</td></tr></table></body></html>", "HTML"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
    (b"\x00\x01\x02\x03garbage\x00" * 50, "binary"),
    (b"PK\x03\x04" + b"not really a zip" * 20, "could not be read"),
])
def test_broken_files_become_input_errors(tmp_path, content, words):
    p = tmp_path / "broken.xlsx"
    p.write_bytes(content)
    with pytest.raises(InputError) as e:
        open_table(p, "households", name="bmn/2561/broken.xlsx")
    assert "bmn/2561/broken.xlsx" in str(e.value)
    assert words in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="missing"):
        sniff_format(tmp_path / "nope.csv")


def test_cell_text():
    assert cell_text(50010621.0) == "50010621"
    assert cell_text(12.5) == "12.5"
    assert cell_text(7) == "7"
    assert cell_text(True) == "1"
    assert cell_text(dt.datetime(2018, 1, 15, 10, 0)) == "2018-01-15"
    assert cell_text(dt.datetime(2561, 1, 15)) == "2018-01-15"
    assert cell_text(None) is None
    assert cell_text(float("nan")) is None
    assert cell_text(" ข้อความ ") == " ข้อความ "


def test_chunks_stream_in_pieces(tmp_path):
    rows = "".join(f"990101010{i:02d},99010101\n" for i in range(1, 8))
    src = open_table(_write(tmp_path / "h.csv", "รหัสบ้าน,รหัสหมู่บ้าน\n" + rows, "utf-8"), "households")
    chunks = list(src.chunks(3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert chunks[1].index.tolist() == [5, 6, 7]


def test_headers_with_odd_spaces_and_mark_order_match(tmp_path):
    # no-break spaces, a zero-width space and SARA AM typed as NIKHAHIT + SARA AA (ประจํา)
    header = "\u00a0รหัส\u200bบ้าน ,เลขประจ\u0e4d\u0e32ตัวประชาชน,วันเดือนปีเกิด\n"
    src = open_table(_write(tmp_path / "p.csv", header + "1,2,3\n", "utf-8"), "persons")
    assert src.columns == ["house_code", "citizen_id", "birth_date"]
    assert src.headers["house_code"] == "\u00a0รหัส\u200bบ้าน".strip()
