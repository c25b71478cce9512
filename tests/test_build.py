"""Stage 3 (build): classification, accounts, capital, model areas, map layers — on tiny hand-made
workspaces. Every expected value below was worked out by hand from the rows written here.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import pytest

from vilwork import build
from vilwork.errors import InputError
from vilwork.village import Village
from vilwork.workspace import Workspace

CODE = "99010101"
OTHER = "99010102"
TAMBON = "990101"
YEAR = 2562


def _ind(level, code, indicator, unit, surveyed, failed, year=YEAR):
    return {"year": year, "level": level, "code": code, "indicator": indicator, "group": 1, "unit": unit,
            "surveyed": surveyed, "passed": surveyed - failed, "failed": failed,
            "pass_rate": (surveyed - failed) / surveyed if surveyed else None, "source": "records"}


ROWS = [
    _ind("village", CODE, 22, "household", 20, 5),   # .75
    _ind("village", CODE, 20, "person", 40, 4),      # .90
    _ind("village", CODE, 18, "person", 10, 1),      # .90, 1 failing (22 is worse anyway)
    _ind("village", CODE, 31, "household", 10, 0),   # 1.0: administration passes all it has
    _ind("village", CODE, 9, "household", 20, 2),    # .90 (risk)
    _ind("tambon", TAMBON, 22, "household", 100, 10),  # .90
    _ind("tambon", TAMBON, 20, "person", 100, 5),      # .95
]


def _village(tmp_path, rows=ROWS) -> Village:
    proc = tmp_path / "data" / "processed"
    proc.mkdir(parents=True)
    cols = ["year", "level", "code", "indicator", "group", "unit", "surveyed", "passed", "failed", "pass_rate", "source"]
    df = pd.DataFrame(rows, columns=cols).astype({"indicator": "Int16", "year": "int16"})
    for level in ("village", "tambon"):
        df[df["level"] == level].to_parquet(proc / f"indicators_{level}.parquet", index=False)
    (tmp_path / "data" / "raw" / "villages" / CODE).mkdir(parents=True)
    return Village(Workspace(tmp_path), CODE, YEAR)


@pytest.fixture
def v(tmp_path):
    # exact numbers: these tests check the arithmetic; the public view is tested on its own
    return dataclasses.replace(_village(tmp_path), audience="internal")


def _empty_village(tmp_path) -> Village:
    return Village(Workspace(tmp_path), CODE, YEAR)


# ---------------------------------------------------------------------------------------------
# classification with กชช. 2ค


def test_classified_uses_latest_kchch2k_year_up_to_the_survey_year(v):
    k = pd.DataFrame({
        "year": [2560, 2560, 2562, 2562, 2564, 2562],
        "village_code": [CODE, CODE, CODE, CODE, CODE, OTHER],
        "indicator": [8, 9, 8, 9, 8, 8],
        "level": [1, 1, 3, 2, 1, 1],
    })
    k.to_parquet(v.processed("kchch2k.parquet"), index=False)
    c = build.classified(v)
    assert c.attrs["kchch2k_year"] == 2562  # 2564 is after the survey year; 2560 is older
    assert "2562" in c.attrs["note"]
    econ = c[c["category_key"] == "economy"]
    bmn = econ[econ["source_key"] == "bmn"].set_index("indicator")
    assert bmn.index.tolist() == [20, 21, 22, 23]
    assert bmn.at[22, "pass_rate"] == pytest.approx(0.75) and bmn.at[22, "tambon_pass_rate"] == pytest.approx(0.90)
    assert bmn.at[20, "pass_rate"] == pytest.approx(0.90)
    assert pd.isna(bmn.at[21, "pass_rate"])  # not surveyed: shown as a gap, not dropped
    kch = econ[econ["source_key"] == "kchch2k"].set_index("indicator")
    assert kch.index.tolist() == [8, 9, 10, 11, 12, 13]  # aspect 2 (economy and labour)
    assert kch.at[8, "level"] == 3 and kch.at[8, "level_name"] == "ไม่มีปัญหา"
    assert kch.at[9, "level"] == 2 and kch.at[9, "level_name"] == "มีปัญหาปานกลาง"
    assert pd.isna(kch.at[10, "level"])
    env = c[(c["category_key"] == "environment") & (c["source_key"] == "kchch2k")]
    assert env["indicator"].tolist() == list(range(27, 34))  # aspects 6 and 7
    shown = build.display(c, "th")
    assert {"หมวด", "แหล่งข้อมูล", "ผ่านเกณฑ์ (หมู่บ้าน)", "ระดับปัญหา กชช. 2ค"} <= set(shown.columns)
    assert "category_key" not in shown.columns


def test_classified_reads_wide_kchch2k_and_says_when_there_is_none(v):
    wide = pd.DataFrame({"year": [2560], "village_code": [CODE], **{f"k{i}": [2] for i in range(1, 34)}})
    wide.to_parquet(v.processed("kchch2k.parquet"), index=False)
    c = build.classified(v)
    assert c.attrs["kchch2k_year"] == 2560
    assert set(c.loc[c["source_key"] == "kchch2k", "level"]) == {2}
    v.processed("kchch2k.parquet").unlink()
    c = build.classified(v)
    assert c.attrs["kchch2k_year"] is None and (c["source_key"] == "bmn").all()
    assert "กชช. 2ค" in c.attrs["note"]


def test_category_charts_one_per_category_with_offline_traces(v):
    figs = build.category_charts(v)
    assert list(figs) == ["economy", "society", "health", "education", "infrastructure", "environment"]
    econ = figs["economy"]
    assert [tr.type for tr in econ.data] == ["bar"]
    assert list(econ.data[0].x) == pytest.approx([0.75, 0.90])  # 22 then 20, drawn bottom-up
    assert all(tr.type in {"bar", "scatter", "pie"} for f in figs.values() for tr in f.data)


# ---------------------------------------------------------------------------------------------
# household accounts


def _ledger(v):
    d = dt.date
    rows = [  # house, date, category, income, expense
        ("h1", d(2019, 1, 2), "รายได้จากอาชีพหลัก", 1000, None),
        ("h1", d(2019, 1, 3), "รายได้อื่น", 200, None),
        ("h1", d(2019, 1, 5), "รายจ่ายเพื่อการผลิต", None, 300),
        ("h2", d(2019, 1, 6), "รายจ่ายที่จำเป็น", None, 400),
        ("h2", d(2019, 1, 7), "รายจ่ายที่ไม่จำเป็น", None, 50),
        ("h2", d(2019, 1, 8), "ชำระหนี้", None, 100),
        ("h2", d(2019, 1, 9), "เงินออม", None, 150),
        ("h1", d(2019, 2, 2), "รายได้จากอาชีพหลัก", 800, None),
        ("h1", d(2019, 2, 4), "รายจ่ายที่จำเป็น", None, 500),
        ("h1", d(2019, 2, 5), "ค่าอื่นๆ", None, 30),
    ]
    df = pd.DataFrame(rows, columns=["house_key", "date", "category", "income", "expense"])
    df["village_code"] = CODE
    other = df.head(2).assign(village_code=OTHER, house_key="x9")
    pd.concat([df, other]).to_parquet(v.processed("accounts.parquet"), index=False)


def test_accounts_income_expense_savings_by_month_and_expense_by_kind(v):
    _ledger(v)
    a = build.accounts_summary(v, raw=True)
    m = a.monthly.set_index("month")
    # January: income 1000 + 200; expense 300 + 400 + 50 + 100; savings 150; balance 1200 − 850 − 150
    assert m.loc["2019-01"].tolist() == [1200, 850, 150, 200]
    # February: income 800; expense 500 + 30 (unknown category kept as other); balance 270
    assert m.loc["2019-02"].tolist() == [800, 530, 0, 270]
    assert a.monthly.attrs["households"] == 2
    k = a.by_kind.set_index("kind_key")
    assert k["amount"].to_dict() == {"production": 300, "necessary": 900, "unnecessary": 50, "debt": 100, "other": 30}
    assert k.at["necessary", "share"] == pytest.approx(900 / 1380)
    assert k.at["necessary", "kind"] == "รายจ่ายที่จำเป็น"
    assert a.note == ("บัญชีครัวเรือน 2 ครัวเรือน ช่วง มกราคม 2562 – กุมภาพันธ์ 2562: "
                      "รายรับรวม 2,000 บาท รายจ่าย 1,380 บาท เงินออม 150 บาท")
    assert {tr.type for tr in a.monthly_chart.data} == {"bar"} and a.kind_chart.data[0].type == "pie"
    shown = build.accounts_summary(v)
    assert list(shown.monthly.columns) == ["เดือน", "รายรับ (บาท)", "รายจ่าย (บาท)", "เงินออม (บาท)", "คงเหลือ (บาท)"]
    assert shown.monthly.iloc[0].tolist() == ["มกราคม 2562", "1,200", "850", "150", "200"]
    assert isinstance(shown, tuple)  # show.result and the KM document take it part by part


def test_accounts_from_the_summary_file_when_the_ledger_is_absent(v):
    pd.DataFrame({"village_code": [CODE, CODE, OTHER], "month": ["2019-03", "2019-03", "2019-03"],
                  "category": ["รายได้จากอาชีพหลัก", "ชำระหนี้", "ชำระหนี้"], "income": [500.0, 0.0, 0.0],
                  "expense": [0.0, 120.0, 99.0], "households": [3, 2, 7]}).to_parquet(
        v.processed("accounts_summary.parquet"), index=False)
    a = build.accounts_summary(v, raw=True)
    assert a.monthly.iloc[0].tolist() == ["2019-03", 500, 120, 0, 380]
    assert a.monthly.attrs["households"] == 3


# ---------------------------------------------------------------------------------------------
# community capital


def test_capital_grouped_by_the_five_kinds_with_unknown_kinds_kept(v):
    pd.DataFrame({
        "village_code": [CODE] * 5 + [OTHER],
        "kind": ["ทุนมนุษย์", "human", "financial", "ทุนทางสังคม", "ทุนประหลาด", "natural"],
        "name": ["ปราชญ์สมุนไพร", "อสม.", "กองทุนหมู่บ้าน", "บุญบั้งไฟ", "ของแปลก", "ป่า"],
        "description": ["", "", "ให้กู้ยืม", "", "", ""],
        "quantity": [2, 12, 1, 1, 1, 100],
        "value_baht": [None, None, 1_500_000, None, None, None],
    }).to_parquet(v.processed("capital.parquet"), index=False)
    c = build.capital_inventory(v, raw=True)
    s = c.summary.set_index("kind")
    assert s["items"].to_dict() == {"ทุนมนุษย์": 2, "ทุนทางสังคม": 1, "ทุนกายภาพ": 0, "ทุนทรัพยากรธรรมชาติ": 0,
                                    "ทุนทางการเงิน": 1, "ทุนประหลาด": 1}
    assert s.at["ทุนทางการเงิน", "value_baht"] == 1_500_000 and pd.isna(s.at["ทุนมนุษย์", "value_baht"])
    assert c.items["name"].tolist() == ["ปราชญ์สมุนไพร", "อสม.", "บุญบั้งไฟ", "กองทุนหมู่บ้าน", "ของแปลก"]
    assert c.note.startswith("ทุนชุมชน 5 รายการ มีครบ 3 จาก 5 ประเภท มูลค่าที่ระบุรวม 1,500,000 บาท")
    assert "ทุนประหลาด" in c.note
    shown = build.capital_inventory(v)
    assert list(shown.items.columns) == ["ประเภท", "ชื่อ", "รายละเอียด", "จำนวน", "มูลค่า (บาท)"]


# ---------------------------------------------------------------------------------------------
# the five model areas


def test_area_charts_takeaways(v):
    areas = build.area_charts(v)
    assert list(areas) == ["occupation", "capital", "risk", "poverty", "administration"]
    fig, take = areas["occupation"]  # 18: .90, 20: .90, 22: .75 → 22 first
    name22 = v.indicator_set.indicator_name(22, "th", short=True)
    assert take == f"ด้านอาชีพ: ตัวชี้วัดที่ต้องแก้ไขก่อนคือ 22. {name22} (ผ่าน 75%)"
    assert [tr.type for tr in fig.data] == ["bar", "scatter"]
    # bars and tambon markers bottom-up: 22, 20, 18; the tambon has no row for 18
    assert list(fig.data[0].x) == pytest.approx([0.75, 0.90, 0.90])
    assert list(fig.data[1].x) == pytest.approx([0.90, 0.95, float("nan")], nan_ok=True)
    assert areas["administration"][1] == "ด้านการบริหารจัดการชุมชน: ผ่านเกณฑ์ครบทุกตัวชี้วัด"
    assert areas["capital"][1] == "ด้านทุนชุมชน: ไม่มีข้อมูลตัวชี้วัด"
    assert fig.data[0].marker.color[0] == "#c0392b"  # 22 (.75) is in the urgent band, drawn at the bottom


def test_area_takeaway_breaks_equal_rates_by_people_failing(tmp_path):
    v = _village(tmp_path, [_ind("village", CODE, 20, "person", 10, 1), _ind("village", CODE, 18, "person", 50, 5)])
    take = build.area_charts(v)["occupation"][1]
    assert "18. " in take and "(ผ่าน 90%)" in take  # both .90; 18 has 5 failing, 20 has 1


# ---------------------------------------------------------------------------------------------
# map layers


def _fc(features):
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def _square(code, x0, props=None):
    return {"type": "Feature", "properties": {"village_code": code, "name_th": f"บ้าน{code}", **(props or {})},
            "geometry": {"type": "Polygon", "coordinates": [[[x0, 15], [x0 + 1, 15], [x0 + 1, 16], [x0, 16], [x0, 15]]]}}


def test_village_geo_and_places_table(v):
    geo = v.ws.raw / "geo"
    geo.mkdir(parents=True)
    (geo / "villages_99.geojson").write_text(_fc([_square(OTHER, 100), _square(CODE, 102)]), encoding="utf-8")
    (v.raw_dir / "places.geojson").write_text(_fc([
        {"type": "Feature", "properties": {"name_th": "วัดหนองบัว", "kind": "วัด", "detail_th": "วัดประจำหมู่บ้าน"},
         "geometry": {"type": "Point", "coordinates": [102.5, 15.25]}},
        {"type": "Feature", "properties": {"name_th": "โรงเรียน", "kind": "โรงเรียน"},
         "geometry": {"type": "Point", "coordinates": [102.1, 15.75]}},
    ]), encoding="utf-8")
    boundary, places = build.village_geo(v)
    assert boundary["village_code"].tolist() == [CODE] and boundary.crs.to_epsg() == 4326
    assert boundary.geometry.iloc[0].bounds == (102, 15, 103, 16)
    assert places["name_th"].tolist() == ["วัดหนองบัว", "โรงเรียน"]
    t = build.places_table(v, raw=True)
    assert t[["lat", "lon"]].values.tolist() == [[15.25, 102.5], [15.75, 102.1]]
    assert t["detail"].tolist() == ["วัดประจำหมู่บ้าน", ""]
    assert list(build.places_table(v).columns) == ["ชื่อ", "ประเภท", "รายละเอียด", "ละติจูด", "ลองจิจูด"]


def test_numeric_village_codes_in_a_boundary_file_keep_their_leading_zeros(tmp_path):
    code = "09010101"
    (tmp_path / "data" / "raw" / "geo").mkdir(parents=True)
    feat = _square(code, 100)
    feat["properties"]["village_code"] = int(code)  # written as a number: 9010101
    (tmp_path / "data" / "raw" / "geo" / "v.geojson").write_text(_fc([feat]), encoding="utf-8")
    boundary, _ = build.village_geo(Village(Workspace(tmp_path), code, YEAR))
    assert boundary["village_code"].tolist() == [code]


def test_a_boundary_file_is_read_once_per_process_while_unchanged(tmp_path, monkeypatch):
    """A batch worker reads a (national) boundary file once for all its villages; a file changed
    on disk is read again."""
    import os

    build._boundary_file.cache_clear()
    reads = []
    real = build._read_geo
    monkeypatch.setattr(build, "_read_geo", lambda p: reads.append(str(p)) or real(p))
    geo = tmp_path / "data" / "raw" / "geo"
    geo.mkdir(parents=True)
    f = geo / "villages.geojson"
    f.write_text(_fc([_square(OTHER, 100), _square(CODE, 102)]), encoding="utf-8")
    ws = Workspace(tmp_path)
    a, _ = build.village_geo(Village(ws, CODE, YEAR))
    b, _ = build.village_geo(Village(ws, OTHER, YEAR))
    assert a["village_code"].tolist() == [CODE] and b["village_code"].tolist() == [OTHER]
    assert reads == [str(f)]
    f.write_text(_fc([_square(CODE, 104)]), encoding="utf-8")
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    c, _ = build.village_geo(Village(ws, CODE, YEAR))
    assert c.geometry.iloc[0].bounds == (104, 15, 105, 16) and len(reads) == 2
    d, _ = build.village_geo(Village(ws, OTHER, YEAR))
    assert d.empty and len(reads) == 2


def test_unreadable_places_file_names_the_file(v):
    (v.raw_dir / "places.geojson").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="places.geojson"):
        build.village_geo(v)


# ---------------------------------------------------------------------------------------------
# nothing at all


def test_village_with_nothing_gets_empty_results_and_notes(tmp_path):
    v = _empty_village(tmp_path)
    c = build.classified(v)
    assert c["pass_rate"].isna().all() and c.attrs["kchch2k_year"] is None and c.attrs["note"]
    assert all(f.layout.title.text for f in build.category_charts(v).values())
    a = build.accounts_summary(v)
    assert a.monthly.empty and a.by_kind.empty and "accounts.xlsx" in a.note and a.monthly_chart is None
    cap = build.capital_inventory(v)
    assert cap.items.empty and cap.summary.empty and "capital.csv" in cap.note and cap.chart is None
    assert all(take.endswith("ไม่มีข้อมูลตัวชี้วัด") for _, take in build.area_charts(v).values())
    boundary, places = build.village_geo(v)
    assert boundary.empty and places.empty and boundary.attrs["note"] and places.attrs["note"]
    assert build.places_table(v).empty
