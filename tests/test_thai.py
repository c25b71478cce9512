"""Thai normalisation: digits, text, BE dates, codes, citizen IDs, years. Expected values worked by hand."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vilwork.thai import (
    citizen_id_check_digit,
    citizen_id_valid,
    excel_serial_to_date,
    format_be_date,
    normalise_code,
    normalise_text,
    normalise_text_series,
    normalise_year,
    parse_date,
    parse_dates,
    to_ascii_digits,
    year_from_text,
)

ADMIN = Path("/work/shared/data/admin")
D = dt.date


# --- digits and text ---------------------------------------------------------------------------

def test_thai_digits_become_ascii():
    assert to_ascii_digits("๐๑๒๓๔๕๖๗๘๙") == "0123456789"
    assert to_ascii_digits("บ้านเลขที่ ๑๒/๓") == "บ้านเลขที่ 12/3"


def test_text_spaces_nbsp_and_zero_width():
    assert normalise_text("\u00a0นาย\u00a0\u00a0สมชาย  ใจดี\u200b ") == "นาย สมชาย ใจดี"
    assert normalise_text("สม\u200bชาย") == "สมชาย"  # zero-width removed, not a space inside a word
    assert normalise_text("  \u00a0 ") is None
    assert normalise_text(None) is None


def test_text_nfc():
    assert normalise_text("Cafe\u0301") == "Caf\u00e9"


def test_text_thai_mark_order():
    # SARA AM typed as NIKHAHIT + tone + SARA AA → tone + SARA AM: น้ำ
    assert normalise_text("น\u0e4d\u0e49\u0e32") == "น\u0e49\u0e33"
    # tone mark typed before the upper vowel: ก + ่ + ี → ก + ี + ่ (กี่)
    assert normalise_text("ก\u0e48\u0e35") == "ก\u0e35\u0e48"
    # already correct text is unchanged
    assert normalise_text("ผู้ใหญ่บ้าน") == "ผู้ใหญ่บ้าน"


def test_text_digits_optional():
    assert normalise_text("หมู่ ๓", digits=True) == "หมู่ 3"
    assert normalise_text("หมู่ ๓") == "หมู่ ๓"


def test_text_series_keeps_missing_and_maps_each_value():
    s = pd.Series(["  ชาย", None, "ชาย\u00a0", np.nan, "หญิง"], index=[5, 6, 7, 8, 9])
    out = normalise_text_series(s)
    assert out.tolist() == ["ชาย", None, "ชาย", None, "หญิง"]
    assert out.index.tolist() == [5, 6, 7, 8, 9]


# --- dates --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("15/01/2561", D(2018, 1, 15)),          # BE 2561 = CE 2018
    ("๑๕/๐๑/๒๕๖๑", D(2018, 1, 15)),          # Thai digits
    ("15-1-2561", D(2018, 1, 15)),
    ("15.01.2561", D(2018, 1, 15)),
    ("15/01/61", D(2018, 1, 15)),            # 2-digit BE year 61 → 2561
    ("5 ม.ค. 2561", D(2018, 1, 5)),
    ("5 ม.ค. 61", D(2018, 1, 5)),
    ("5 มกราคม พ.ศ. 2561", D(2018, 1, 5)),
    ("31 ธ.ค. 2561", D(2018, 12, 31)),
    ("วันที่ 29 กุมภาพันธ์ 2563", D(2020, 2, 29)),  # 2020 is a leap year
    ("1 เม.ย. 2562", D(2019, 4, 1)),
    ("2018-01-15", D(2018, 1, 15)),          # ISO, CE
    ("2561-01-15", D(2018, 1, 15)),          # ISO with a BE year
    ("2018-01-15 00:00:00", D(2018, 1, 15)),
    ("15/01/2018", D(2018, 1, 15)),          # a CE year stays CE
    ("25610115", D(2018, 1, 15)),            # yyyymmdd, BE
    ("43115", D(2018, 1, 15)),               # Excel serial: 43101 is 1 Jan 2018
    ("00/00/2530", D(1987, 1, 1)),           # unknown day and month
    ("2530", D(1987, 1, 1)),                 # a lone BE year
    ("5 Jan 2018", D(2018, 1, 5)),
])
def test_parse_date_text(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["31/02/2561", "abc", "", "  ", "15/13/2561", "73??04", "5 ฟฟฟ 2561"])
def test_parse_date_rejects(text):
    assert parse_date(text) is None


def test_parse_date_objects_from_openpyxl():
    assert parse_date(dt.datetime(2561, 1, 15)) == D(2018, 1, 15)  # year > 2400 means BE typed in Excel
    assert parse_date(dt.datetime(2018, 1, 15, 12, 30)) == D(2018, 1, 15)
    assert parse_date(D(2018, 1, 15)) == D(2018, 1, 15)
    assert parse_date(43115) == D(2018, 1, 15)
    assert parse_date(43115.0) == D(2018, 1, 15)
    assert parse_date(None) is None
    assert parse_date(float("nan")) is None


def test_two_digit_year_pivot():
    assert parse_date("05/01/90") == D(2047, 1, 5)              # 2590 without a pivot
    assert parse_date("05/01/90", pivot_year=2561) == D(1947, 1, 5)  # 2490: 2590 is after the survey
    assert parse_date("05/01/61", pivot_year=2561) == D(2018, 1, 5)


def test_excel_serial():
    assert excel_serial_to_date(1) == D(1899, 12, 31)
    assert excel_serial_to_date(0) is None
    assert excel_serial_to_date(10**9) is None


def test_parse_dates_series():
    out = parse_dates(pd.Series(["15/01/61", None, "x", "15/01/61"]))
    assert str(out.dtype) == "datetime64[s]"
    assert out.iloc[0] == pd.Timestamp("2018-01-15")
    assert pd.isna(out.iloc[1]) and pd.isna(out.iloc[2])
    assert out.iloc[3] == pd.Timestamp("2018-01-15")


def test_format_be_date():
    assert format_be_date(D(2019, 3, 31)) == "31 มีนาคม 2562"
    assert format_be_date(D(2019, 3, 31), "th", short=True) == "31 มี.ค. 2562"
    assert format_be_date(D(2019, 3, 31), "en") == "31 March 2019"
    assert format_be_date(pd.Timestamp("2018-01-05")) == "5 มกราคม 2561"
    assert format_be_date("2019-12-01") == "1 ธันวาคม 2562"
    assert format_be_date(None) == ""
    assert format_be_date(pd.NaT) == ""
    with pytest.raises(ValueError):
        format_be_date(D(2019, 3, 31), "fr")


# --- codes --------------------------------------------------------------------------------------

def test_normalise_code_series_text():
    s = pd.Series(["50010621", " ๕๐๐๑๐๖๒๑ ", "50010621.0", "0501", "73??04", "5.0E+07", "", None, "123456789", "5001 0621"])
    assert normalise_code(s, 8).tolist()[:4] == ["50010621", "50010621", "50010621", "00000501"]
    assert normalise_code(s, 8).isna().tolist()[4:] == [True] * 6


def test_normalise_code_numbers():
    assert normalise_code(pd.Series([50010621.0, 1.5, np.nan, -3.0]), 8).tolist()[:1] == ["50010621"]
    assert normalise_code(pd.Series([50010621.0, 1.5, np.nan, -3.0]), 8).isna().tolist() == [False, True, True, True]
    assert normalise_code(pd.Series([10, 501]), 4).tolist() == ["0010", "0501"]
    mixed = pd.Series([50010621, "50010621", 50010621.0, None, "x"], dtype=object)
    assert normalise_code(mixed, 8).tolist()[:3] == ["50010621"] * 3
    assert normalise_code(mixed, 8).isna().tolist()[3:] == [True, True]


def test_normalise_code_scalar():
    assert normalise_code(50010621.0, 8) == "50010621"
    assert normalise_code("73??04", 6) is None
    assert normalise_code(True, 2) is None


# --- citizen ID ---------------------------------------------------------------------------------

def test_citizen_id_check_digit_by_hand():
    # 1·13+2·12+3·11+4·10+5·9+6·8+7·7+8·6+9·5+0·4+1·3+2·2 = 352 = 32·11 → x = 0 → N13 = 11 mod 10 = 1
    assert citizen_id_check_digit("123456789012") == 1
    # 1·13+1·12+0+1·10+7·9+0+0+2·6+3·5+0+7·3+0 = 146, 146 mod 11 = 3 → N13 = 8
    assert citizen_id_check_digit("110170023070") == 8


def test_citizen_id_valid():
    assert citizen_id_valid("1234567890121")
    assert not citizen_id_valid("1234567890122")
    assert citizen_id_valid("1101700230708")
    assert not citizen_id_valid("110170023070")
    assert not citizen_id_valid(None)
    s = pd.Series(["1234567890121", "1101700230705", None, "12", "1101700230708"], index=list("abcde"))
    assert citizen_id_valid(s).tolist() == [True, False, False, False, True]
    assert citizen_id_valid(s).index.tolist() == list("abcde")


# --- years --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, year", [
    ("61_tpmap_village_99", 2561), ("2561/", 2561), ("2561", 2561), ("bmn2561", 2561),
    ("bmn2561_households_9901", 2561), ("kchch2k2562_99", 2562), ("๖๑_ข้อมูล", 2561),
    ("households_2601", None), ("data", None), ("50010621", None), ("610_x", None),
])
def test_year_from_text(text, year):
    assert year_from_text(text) == year


@pytest.mark.parametrize("value, year", [
    ("2561", 2561), ("๒๕๖๑", 2561), (2561, 2561), (2561.0, 2561), ("61", 2561), ("2018", 2561),
    ("พ.ศ. 2562", 2562), ("abc", None), (None, None), ("", None), (2561.5, None),
])
def test_normalise_year(value, year):
    assert normalise_year(value) == year


# --- real code lists (integers in JSON, strings in CSV) -------------------------------------------

def test_real_admin_codes_agree_after_normalising():
    if not ADMIN.is_dir():
        pytest.skip("/work/shared/data/admin is not available")
    tambons_json = json.loads((ADMIN / "thailand_geography_json" / "subdistricts.json").read_text(encoding="utf-8"))
    as_int = pd.Series([t["subdistrictCode"] for t in tambons_json])
    assert as_int.dtype.kind == "i"  # the trap: JSON numbers
    from_json = normalise_code(as_int, 6)
    csv = pd.read_csv(ADMIN / "dhanabhon_thailand_geodata" / "sub_districts.csv", dtype=str)
    from_csv = normalise_code(csv["SUB_DISTRICT_CODE"], 6)
    assert from_json.notna().all() and from_csv.notna().all()
    assert set(from_json) == set(from_csv)
    provinces = json.loads((ADMIN / "thailand_geography_json" / "provinces.json").read_text(encoding="utf-8"))
    codes = normalise_code(pd.Series([p["provinceCode"] for p in provinces]), 2)
    assert codes.str.fullmatch(r"[1-9][0-9]").all() and len(codes) == 77
