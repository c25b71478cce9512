"""Roll-ups, trends, maps on the real HDX COD-AB boundaries, and the shared writers.

Tests that read ``/work/shared/data`` (or ``$VILWORK_SHARED_DATA``) skip when it is absent; the
files are never copied into the repository.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from vilwork import programme as pg
from vilwork.workspace import Workspace

SHARED = Path(os.environ.get("VILWORK_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
HDX = SHARED / "boundaries" / "hdx_cod_ab_mapthai"
CODES = SHARED / "admin" / "dhanabhon_thailand_geodata"
needs_hdx = pytest.mark.skipif(not (HDX / "th_adm2.geojson").exists(), reason="shared boundary files absent")
needs_codes = pytest.mark.skipif(not (CODES / "districts.csv").exists(), reason="shared code lists absent")


def rows(year, level, code, indicator, unit, surveyed, passed, group=1):
    return {"year": year, "level": level, "code": code, "indicator": None if indicator is None else float(indicator), "group": group,
            "unit": unit, "surveyed": surveyed, "passed": passed, "failed": surveyed - passed,
            "pass_rate": passed / surveyed if surveyed else None, "source": "records"}


# ---- trends -----------------------------------------------------------------------------------
def test_two_year_trend_worked_by_hand():
    ind = pd.DataFrame([
        rows(2561, "village", "99010101", 1, "person", 10, 8),       # 0.80 → 0.90: +0.10 better
        rows(2562, "village", "99010101", 1, "person", 10, 9),
        rows(2561, "village", "99010101", 4, "household", 100, 95),  # 0.95 → 0.94: −0.01, within ±0.01: unchanged
        rows(2562, "village", "99010101", 4, "household", 100, 94),
        rows(2561, "village", "99010101", 4, "member", 400, 200),    # member rows lose to the household unit
        rows(2562, "village", "99010101", 4, "member", 400, 400),
        rows(2561, "village", "99010101", 9, "household", 10, 7),    # 0.70 → 0.50: worse
        rows(2562, "village", "99010101", 9, "household", 10, 5),
        rows(2561, "village", "99010102", 1, "person", 4, 4),        # no 2562 row: not comparable
        rows(2562, "village", "99010102", None, "household", 5, 5),  # group row: not an indicator
    ])
    t = pg.trends(ind, 2561, 2562, tolerance=0.01)
    got = {(r.code, r.indicator): (r.direction, None if pd.isna(r.change) else round(r.change, 4)) for r in t.itertuples()}
    assert got == {("99010101", 1): ("better", 0.1), ("99010101", 4): ("unchanged", -0.01),
                   ("99010101", 9): ("worse", -0.2), ("99010102", 1): ("not_comparable", None)}
    s = pg.trend_summary(t, 4).set_index("code")
    assert s.loc["9901"].tolist() == [1, 1, 1, 1]
    assert pg.trends(ind, 2561, 2562, tolerance=0.0).set_index(["code", "indicator"]).loc[("99010101", 4), "direction"] == "worse"


# ---- roll-ups ---------------------------------------------------------------------------------
def test_pass_rates_mean_of_indicators_and_group_rates():
    ind = pd.DataFrame([
        rows(2562, "district", "9901", 1, "person", 10, 8),
        rows(2562, "district", "9901", 1, "member", 40, 10),        # ignored: the person unit is there
        rows(2562, "district", "9901", 4, "household", 10, 6),
        rows(2562, "district", "9901", None, "household", 10, 5, group=1),
        rows(2562, "district", "9901", None, "member", 40, 4, group=1),
        rows(2562, "district", "9902", 1, "member", 10, 10),        # aggregates only: member unit used
        rows(2561, "district", "9902", 1, "member", 10, 0),         # another year
    ])
    pr = pg.pass_rates(ind, 2562).set_index("code")
    assert pr.loc["9901", "mean_pass_rate"] == pytest.approx((0.8 + 0.6) / 2)
    assert pr.loc["9901", "group_1"] == pytest.approx(0.5)
    assert pr.loc["9902", "mean_pass_rate"] == 1.0


def test_development_levels_count_villages_per_class_in_the_latest_year():
    lv = pd.DataFrame({"year": [2560, 2562, 2562, 2562, 2564], "village_code": ["99010101", "99010101", "99010102", "99020101", "99020101"],
                       "class": [1, 2, 3, 1, 3]})
    d = pg.development_levels(lv, 2562, 4).set_index("code")
    assert d.loc["9901"].tolist() == [2, 0, 1, 1]   # villages, class 1, 2, 3
    assert d.loc["9902"].tolist() == [1, 1, 0, 0]   # 2564 is after the survey year


# ---- writers ----------------------------------------------------------------------------------
def test_clean_code_never_pads_or_repairs():
    assert pg.clean_code("๙๙๐๑๐๑๐๑", 8) == "99010101"
    assert pg.clean_code(" 50010621.0 ", 8) == "50010621"
    assert pg.clean_code("9901011", 8) is None and pg.clean_code("73??04", 6) is None


def test_neutralise_and_xlsx_text_cells(tmp_path):
    assert pg.neutralise("=SUM(A1)") == "'=SUM(A1)" and pg.neutralise("@x") == "'@x" and pg.neutralise(-3) == -3
    p = pg.write_xlsx({"s": pd.DataFrame({"code": ["01000001"], "f": ["=1+1"], "n": [2.5]})}, tmp_path / "x.xlsx")
    from openpyxl import load_workbook

    sh = load_workbook(p)["s"]
    assert [(c.value, c.data_type) for c in sh[2]] == [("01000001", "s"), ("=1+1", "s"), (2.5, "n")]


# ---- real boundaries and code lists -----------------------------------------------------------
@needs_hdx
def test_hdx_codes_lose_their_th_prefix():
    adm1 = pg.read_boundaries(HDX / "th_adm1.geojson", "province")
    adm2 = pg.read_boundaries(HDX / "th_adm2.geojson", "district")
    assert len(adm1) == 77 and len(adm2) == 928
    assert adm1["code"].str.fullmatch(r"\d{2}").all() and adm2["code"].str.fullmatch(r"\d{4}").all()
    assert adm1.set_index("code").loc["50", "name_th"] == "เชียงใหม่"
    assert adm1.set_index("code").loc["10", "name_en"] == "Bangkok"
    assert (adm2["code"].str[:2].isin(adm1["code"])).all()
    assert adm1.crs.to_epsg() == 4326


@needs_codes
def test_code_lists_join_on_dopa_codes_not_surrogate_keys():
    cl = pg.read_code_lists(CODES).set_index("code")
    assert cl.loc["50", "name_th"] == "เชียงใหม่" and cl.loc["5001", "level"] == "district"
    raw = pd.read_csv(CODES / "districts.csv", dtype=str)
    # the trap: PROVINCE_ID is a surrogate key (1..77), not the province code
    r = raw.set_index("DISTRICT_CODE").loc["5001"]
    assert r["PROVINCE_ID"] != "50" and cl.loc["5001", "name_th"] == r["DISTRICT_THAI"]
    assert cl.loc["100101", "level"] == "tambon" and 13 < cl.loc["100101", "lat"] < 14


@needs_hdx
@needs_codes
def test_hdx_districts_and_the_official_list_agree():
    adm2 = pg.read_boundaries(HDX / "th_adm2.geojson", "district")
    cl = pg.read_code_lists(CODES)
    assert set(adm2["code"]) == set(cl.loc[cl["level"] == "district", "code"])


def chiang_mai_workspace(tmp_path) -> Workspace:
    """Indicators for three real districts of Chiang Mai (50) and two villages with candidates."""
    ws = Workspace(tmp_path / "cm").ensure()
    vill, dist = [], []
    for d, rate in (("5001", 0.97), ("5002", 0.90), ("5003", 0.70)):
        for v in ("0101", "0201"):
            for y in (2561, 2562):
                vill.append(rows(y, "village", d + v, 1, "person", 100, int(rate * 100)))
        for y in (2561, 2562):
            dist.append(rows(y, "district", d, 1, "person", 200, int(rate * 200)))
    pd.DataFrame(vill).to_parquet(ws.processed / "indicators_village.parquet")
    pd.DataFrame(dist).to_parquet(ws.processed / "indicators_district.parquet")
    pd.DataFrame([rows(2562, "province", "50", 1, "person", 600, 514)]).to_parquet(ws.processed / "indicators_province.parquet")
    (ws.raw / "programme" / "2562").mkdir(parents=True)
    (ws.raw / "programme" / "2562" / "candidates.csv").write_text(
        "รหัสหมู่บ้าน,คะแนนความสนใจ,คะแนนการสนับสนุน\n50010101,5,5\n50030201,4,4\n", encoding="utf-8")
    return ws


@needs_hdx
@needs_codes
def test_district_map_of_a_real_province_with_targets(tmp_path):
    ws = chiang_mai_workspace(tmp_path)
    p = pg.open_programme(ws.root, "50", boundaries_dir=str(HDX), code_lists_dir=str(CODES), today="2019-03-01")
    assert p.year == 2562 and p.fiscal_year == 2562
    g = pg.map_frame(p, "district").set_index("code")
    n_cm = sum(1 for c in pg.read_boundaries(HDX / "th_adm2.geojson", "district")["code"] if c.startswith("50"))
    assert len(g) == n_cm and set(g["source"]) == {"hdx"}
    # bands of display.yaml: < 0.80 red, < 0.95 orange, else green; no data grey
    assert g.loc["5001", "color"] == "#27ae60" and g.loc["5002", "color"] == "#e67e22" and g.loc["5003", "color"] == "#c0392b"
    assert g.loc["5004", "color"] == "#e0e0e0"
    assert g.loc["5001", "name"] == "เมืองเชียงใหม่"
    pts = pg.target_points(p).set_index(["level", "village_code"])
    # no village boundaries in this workspace: the target sits on its tambon's point from the code list
    assert pts.loc[("district", "50010101"), "located"] == "tambon"
    assert 18 < pts.loc[("district", "50010101"), "lat"] < 19.5
    m = pg.folium_map(p, "district")
    html = m.get_root().render()
    assert not [k for k in m._children if k.startswith("tile_layer")]  # tiles=None: no tile server
    if pg._leaflet_data_uris() is not None:  # with the vendored Leaflet nothing is fetched at all
        import re

        assert re.findall(r"(?:src|href)=\"(https?://[^\"]+)", html) == []
    assert "CC BY-IGO" in pg.map_sources(p).to_string()  # the boundaries drawn are credited
    svg = pg.svg_map(p, "district")
    assert svg.count("<path") == n_cm and svg.count("<circle") == 3  # 2 district targets + the province target
    prov = pg.map_frame(p, "province")
    assert len(prov) == 77 and prov.set_index("code").loc["50", "rate_text"] == "85.7%"


def test_areas_missing_from_the_boundary_file_are_drawn_from_village_boundaries(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    ws = Workspace(tmp_path / "demo").ensure()
    (ws.raw / "geo").mkdir(parents=True)
    gpd.GeoDataFrame({"village_code": ["99010101", "99010102", "99020101"]},
                     geometry=[box(100, 15, 100.1, 15.1), box(100.1, 15, 100.2, 15.1), box(100, 15.1, 100.2, 15.2)],
                     crs=4326).to_file(ws.raw / "geo" / "villages_99.geojson", driver="GeoJSON")
    pd.DataFrame([rows(2562, "district", "9901", 1, "person", 10, 9), rows(2562, "district", "9902", 1, "person", 10, 7)]
                 ).to_parquet(ws.processed / "indicators_district.parquet")
    pd.DataFrame([rows(2562, "village", "99010101", 1, "person", 10, 9)]).to_parquet(ws.processed / "indicators_village.parquet")
    p = pg.open_programme(ws.root, "99", boundaries_dir=str(tmp_path / "none"))
    g = pg.map_frame(p, "district").set_index("code")
    assert set(g.index) == {"9901", "9902"} and set(g["source"]) == {"villages"}
    assert g.loc["9901"].geometry.area == pytest.approx(0.02)  # two 0.1° × 0.1° villages dissolved
    assert g.loc["9902", "color"] == "#c0392b"
    # no HDX file drawn: no HDX credit either
    assert "CC BY-IGO" not in pg.map_sources(p).to_string()


@pytest.mark.slow
@needs_hdx
@needs_codes
def test_programme_notebook_runs_and_writes_an_offline_page(tmp_path):
    from vilwork.commands_programme import run_programme

    ws = chiang_mai_workspace(tmp_path)
    files = run_programme(ws, province="50", today="2019-03-01", boundaries_dir=str(HDX), code_lists_dir=str(CODES))
    names = {f.name for f in files}
    assert {"programme_50.ipynb", "programme_50_2562.html", "programme_50_2562_map_district.html"} <= names
    page = (ws.reports / "_programme" / "programme_50_2562.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<svg" in page and "เมืองเชียงใหม่" in page and "50010101" in page
