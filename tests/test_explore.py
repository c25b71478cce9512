"""Explorer (vilwork.explore): data prepared once, choices, figures, tables, widgets.

A tiny hand-made workspace: province 99, districts 9901 and 9902, four villages:

    99010101  tambon 990101   indicator 1 (person): 7 of 10 pass   -> 0.70 (red band)
    99010102  tambon 990101   indicator 1 (person): 10 of 10 pass  -> 1.00 (green)
    99010201  tambon 990102   indicator 1 (person): 4 of 5 pass    -> 0.80 (orange: 0.80 is not < 0.80)
    99020101  tambon 990201   platform aggregates only: member 8 of 10 -> 0.80

Every village also has a member row for indicator 1 that must NOT be used where a person row
exists. Group 1: household rows for the first three villages (3/5, 4/4, 1/4); the fourth has none
and falls back to the mean of its group-1 indicator rates (0.80). Higher levels are sums worked
out by hand below. Villages 1–3 have square polygons; the fourth has none.
"""
from __future__ import annotations

import base64
import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vilwork import charts
from vilwork import explore as E

V1, V2, V3, V4 = "99010101", "99010102", "99010201", "99020101"
YEAR = 2562
HDX = Path("/work/shared/data/boundaries/hdx_cod_ab_mapthai")


def _row(level, code, indicator, group, unit, surveyed, passed, source="records"):
    return {"year": YEAR, "level": level, "code": code, "indicator": indicator, "group": group, "unit": unit,
            "surveyed": surveyed, "passed": passed, "failed": surveyed - passed,
            "pass_rate": passed / surveyed if surveyed else np.nan, "source": source}


def _square(x, y, code, name):
    ring = [[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]
    return {"type": "Feature", "properties": {"village_code": code, "name_th": name},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def write_workspace(root: Path, province: str = "99", polygons: bool = True) -> Path:
    """The tiny workspace of the module docstring (province code replaceable for HDX tests)."""
    p = province
    v1, v2, v3, v4 = (p + c[2:] for c in (V1, V2, V3, V4))
    proc = root / "data" / "processed"
    proc.mkdir(parents=True)
    vil = [
        _row("village", v1, 1.0, 1, "person", 10, 7), _row("village", v1, 1.0, 1, "member", 30, 18),
        _row("village", v2, 1.0, 1, "person", 10, 10), _row("village", v2, 1.0, 1, "member", 30, 30),
        _row("village", v3, 1.0, 1, "person", 5, 4), _row("village", v3, 1.0, 1, "member", 20, 12),
        _row("village", v4, 1.0, 1, "member", 10, 8, "aggregates"),
        _row("village", v1, np.nan, 1, "household", 5, 3), _row("village", v1, np.nan, 1, "member", 20, 12),
        _row("village", v2, np.nan, 1, "household", 4, 4),
        _row("village", v3, np.nan, 1, "household", 4, 1),
    ]
    # sums: tambon 990101 = v1 + v2 (person 17/20), 990102 = v3 (4/5), 990201 = v4 (member only)
    tam = [
        _row("tambon", p + "0101", 1.0, 1, "person", 20, 17), _row("tambon", p + "0101", 1.0, 1, "member", 60, 48),
        _row("tambon", p + "0102", 1.0, 1, "person", 5, 4),
        _row("tambon", p + "0201", 1.0, 1, "member", 10, 8, "aggregates"),
        _row("tambon", p + "0101", np.nan, 1, "household", 9, 7),
    ]
    dis = [_row("district", p + "01", 1.0, 1, "person", 25, 21), _row("district", p + "02", 1.0, 1, "member", 10, 8)]
    pro = [_row("province", p, 1.0, 1, "person", 25, 21), _row("province", p, 1.0, 1, "member", 70, 56, "mixed")]
    for level, rows in (("village", vil), ("tambon", tam), ("district", dis), ("province", pro)):
        pd.DataFrame(rows).to_parquet(proc / f"indicators_{level}.parquet", index=False)
    places = pd.DataFrame([
        {"code": p, "level": "province", "name_th": "ตัวอย่าง", "name_en": "Example"},
        {"code": p + "01", "level": "district", "name_th": "เมือง", "name_en": "Mueang"},
        {"code": p + "02", "level": "district", "name_th": "ทุ่ง", "name_en": "Thung"},
        {"code": p + "0101", "level": "tambon", "name_th": "ในเมือง", "name_en": "Nai Mueang"},
        {"code": p + "0102", "level": "tambon", "name_th": "ดอนจาน", "name_en": "Don Chan"},
        {"code": p + "0201", "level": "tambon", "name_th": "หัวเค็ม", "name_en": "Hua Khem"},
        {"code": v1, "level": "village", "name_th": "บ้าน<b>หนึ่ง</b>", "name_en": "One"},
        {"code": v2, "level": "village", "name_th": "บ้านสอง", "name_en": "Two"},
        {"code": v3, "level": "village", "name_th": "บ้านสาม", "name_en": "Three"},
        {"code": v4, "level": "village", "name_th": "บ้านสี่", "name_en": "Four"},
    ])
    places.to_parquet(proc / "places.parquet", index=False)
    if polygons:
        geo = root / "data" / "raw" / "geo"
        geo.mkdir(parents=True)
        fc = {"type": "FeatureCollection", "features": [
            _square(100.0, 15.0, v1, "หนึ่ง"), _square(101.0, 15.0, v2, "สอง"), _square(100.0, 16.0, v3, "สาม")]}
        (geo / f"villages_{p}.geojson").write_text(json.dumps(fc), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def ws_root(tmp_path_factory) -> Path:
    return write_workspace(tmp_path_factory.mktemp("explore"))


@pytest.fixture(scope="module")
def data(ws_root):
    return E.load_explore_data(ws_root)


def sel(**kw) -> E.Selection:
    """A choice; exact numbers (internal) unless a test asks for the public view."""
    base = dict(province="99", district=None, tambon=None, village=V1, key="1", year=YEAR, audience="internal", level="village")
    base.update(kw)
    return E.Selection(**base)


def decode(arr) -> np.ndarray:
    """A base64 typed array of a figure spec back to numbers."""
    if isinstance(arr, dict):
        return np.frombuffer(base64.b64decode(arr["bdata"]), dtype="<" + arr["dtype"])
    return np.asarray(arr, dtype=float)


# ------------------------------------------------------------------------------------------
# colour bands: the same as vilwork.charts


def test_band_index_agrees_with_charts_band_everywhere():
    rates = [0.0, 0.5, 0.7999, 0.8, 0.9, 0.9499, 0.95, 0.99, 1.0, 1.005, 1.2, float("nan")]
    bands = charts.display()["pass_rate_bands"]
    got = E.band_index(rates)
    for r, i in zip(rates, got):
        want = charts.band(r)
        assert (i == -1) if want is None else (bands[i] == want), r
    assert E.band_colors([0.8]) == [charts.band_color(0.8)] == ["#e67e22"]
    assert E.band_colors([float("nan")]) == [charts.band_color(None)]


def test_legend_lists_every_band_label_and_no_data():
    h = E.legend_html("th")
    for b in charts.display()["pass_rate_bands"]:
        assert b["label_th"] in h and b["color"] in h
    assert "ไม่มีข้อมูล" in h


# ------------------------------------------------------------------------------------------
# data prepared once


def test_indicator_frame_prefers_official_units_and_falls_back(ws_root):
    f = E.indicator_frame(E.Workspace(ws_root))
    vil = f[(f["level"] == "village") & (f["key"] == "1")].set_index("code")
    assert vil.loc[V1, "unit"] == "person" and vil.loc[V1, "rate"] == pytest.approx(0.7)
    assert vil.loc[V4, "unit"] == "member" and vil.loc[V4, "rate"] == pytest.approx(0.8)
    grp = f[(f["level"] == "village") & (f["key"] == "g1")].set_index("code")
    assert grp.loc[V1, "rate"] == pytest.approx(0.6)  # household row 3/5, not the member row 12/20
    assert grp.loc[V4, "unit"] == "mean" and grp.loc[V4, "rate"] == pytest.approx(0.8)
    assert math.isnan(grp.loc[V4, "failed"])


def test_load_aligns_frames_with_codes(data):
    assert list(data.codes["village"]) == [V1, V2, V3, V4]
    assert list(data.codes["tambon"]) == ["990101", "990102", "990201"]
    fr = data.frame("village", YEAR, "1")
    np.testing.assert_allclose(fr.rate, [0.7, 1.0, 0.8, 0.8])
    np.testing.assert_allclose(fr.failed, [3, 0, 1, 2])
    assert data.value("tambon", YEAR, "1", "990101")[0] == pytest.approx(17 / 20)
    assert data.value("province", YEAR, "1", "99")[0] == pytest.approx(21 / 25)
    assert data.name(V2) == "บ้านสอง" and data.name("12345678") == "12345678"
    assert data.valued == {V1, V2, V3, V4}
    assert data.years == [YEAR] and data.keys[YEAR] == ["g1", "1"]


def test_shapes_flattened_once_villages_and_dissolved_parents(data):
    sh = data.shapes["village"]
    assert list(sh.has) == [True, True, True, False]  # the fourth village has no polygon
    x = sh.xs[0]
    assert np.isnan(x[-1]) and np.nanmin(x) == pytest.approx(100.0) and np.nanmax(x) == pytest.approx(101.0)
    assert sh.sources == {"villages"}
    tam = data.shapes["tambon"]
    i = data.index("tambon")["990101"]  # two unit squares side by side dissolved into one ring
    assert tam.has[i] and np.nanmax(tam.xs[i]) == pytest.approx(102.0, abs=1e-4)
    assert np.isnan(tam.xs[i]).sum() == 1
    assert not tam.has[data.index("tambon")["990201"]]


def test_children_by_prefix(data):
    assert data.children("village", "990101") == [V1, V2]
    assert data.children("village", "9902") == [V4]
    assert data.children("tambon", "") == ["990101", "990102", "990201"]


# ------------------------------------------------------------------------------------------
# what a choice draws


def test_scope_prefix_never_deeper_than_the_map_levels_parent():
    assert E.scope_prefix(sel()) == "99"
    assert E.scope_prefix(sel(district="9901", tambon="990101")) == "990101"
    assert E.scope_prefix(sel(district="9901", tambon="990101", level="tambon")) == "9901"
    assert E.scope_prefix(sel(district="9901", level="district")) == "99"
    assert E.scope_prefix(sel(level="province")) == ""


def test_ranked_units_lowest_first_with_parents(data):
    r = E.ranked_units(data, sel())
    assert list(r["code"]) == [V1, V4, V3, V2]  # 0.70; then 0.80 with 2 failing before 0.80 with 1; then 1.00
    assert r.loc[0, "tambon"] == pytest.approx(17 / 20)
    assert r.loc[0, "district"] == pytest.approx(21 / 25)
    assert r.loc[0, "province"] == pytest.approx(21 / 25)
    assert list(r["band"]) == [0, 1, 1, 2]
    t = E.ranked_units(data, sel(level="tambon"))
    assert list(t["code"]) == ["990201", "990102", "990101"]  # 0.80 (2 failing), 0.80 (1), 0.85
    assert "tambon" not in t.columns and "district" in t.columns


def test_shown_units_adds_the_chosen_one_below_the_top(data):
    r = E.ranked_units(data, sel())
    s = E.shown_units(r, V2, top=2)
    assert list(s["code"]) == [V1, V4, V2]
    assert list(s["rank"]) == [1, 2, 4] and list(s["chosen"]) == [False, False, True]


def test_mask_count_hides_small_counts_for_the_public():
    k = charts.display()["small_cell_threshold"]
    assert E.mask_count(0, "public") == "0"
    assert E.mask_count(k, "public") == f"<{k + 1}"
    assert E.mask_count(k + 1, "public") == str(k + 1)
    assert E.mask_count(3, "internal") == "3"
    assert E.mask_count(float("nan"), "public") == "–"


def test_map_figure_one_filled_scatter_trace_per_band(data):
    spec = E.map_figure(data, sel(), "th")
    assert {tr["type"] for tr in spec["data"]} == {"scatter"}
    fills = [tr for tr in spec["data"] if tr.get("fill") == "toself"]
    colors = [b["color"] for b in charts.display()["pass_rate_bands"]]
    assert [tr["fillcolor"] for tr in fills] == [*colors, charts.band_color(None)]
    # red: V1; orange: V3 (V4 has no polygon); green: V2 — one NaN gap after each polygon
    assert [int(np.isnan(decode(tr["x"])).sum()) for tr in fills] == [1, 1, 1, 0]
    outline = [tr for tr in spec["data"] if tr.get("line", {}).get("width") == 3]
    assert len(outline) == 1 and np.nanmin(decode(outline[0]["x"])) == pytest.approx(100.0)
    hover = next(tr for tr in spec["data"] if tr.get("name") == "hover")
    assert hover["customdata"] == [V1, V2, V3]
    assert "บ้าน&lt;b&gt;หนึ่ง&lt;/b&gt;" in hover["hovertext"][0]  # names escaped
    assert "ไม่ผ่าน 3 จาก 10" in hover["hovertext"][0] and "70.0%" in hover["hovertext"][0]


def test_map_figure_without_polygons_says_so(tmp_path):
    d = E.load_explore_data(write_workspace(tmp_path, polygons=False))
    spec = E.map_figure(d, sel(), "th")
    assert spec["data"] == [] and "ไม่มีขอบเขต" in spec["layout"]["title"]["text"]


def test_bar_figure_ranked_coloured_chosen_outlined(data, ws_root):
    r = E.ranked_units(data, sel(village=V3))
    shown = E.shown_units(r, V3, 15)
    spec = E.bar_figure(data, sel(village=V3), shown, len(r), "th")
    bar = spec["data"][0]
    assert bar["type"] == "bar" and bar["orientation"] == "h"
    assert list(decode(bar["x"])) == pytest.approx([1.0, 0.8, 0.8, 0.7])  # reversed: lowest on top
    assert bar["marker"]["color"] == ["#27ae60", "#e67e22", "#e67e22", "#c0392b"]
    assert bar["marker"]["line"]["width"] == [0, 3, 0, 0]
    assert "▶" in bar["y"][1] and "99010201" in bar["y"][1]
    # dashed lines at the chosen village's tambon (4/5), district (21/25) and province (21/25)
    xs = [s["x0"] for s in spec["layout"]["shapes"]]
    assert xs == pytest.approx([0.8, 0.84, 0.84])
    assert all("<a " not in y for y in bar["y"])  # no reports, no links


def test_bar_labels_link_to_reports_only_when_they_exist(data, ws_root):
    rep = ws_root / "reports" / V2
    rep.mkdir(parents=True)
    (rep / "km.html").write_text("<html></html>", encoding="utf-8")
    try:
        r = E.ranked_units(data, sel())
        spec = E.bar_figure(data, sel(), E.shown_units(r, V1, 15), len(r), "th", reports_url="vilwork/reports")
        linked = [y for y in spec["data"][0]["y"] if "<a " in y]
        assert len(linked) == 1 and 'href="vilwork/reports/99010102/km.html"' in linked[0]
        assert E.report_links(data.ws, V2, "vilwork/reports/") == [("rep_km", "vilwork/reports/99010102/km.html")]
        assert E.report_links(data.ws, V2, None) == []
    finally:
        (rep / "km.html").unlink()


def test_comparison_table_escapes_marks_chosen_and_masks(data):
    r = E.ranked_units(data, sel())
    h = E.comparison_table_html(data, sel(), E.shown_units(r, V1, 15), "th")
    assert "<b>หนึ่ง</b>" not in h and "บ้าน&lt;b&gt;หนึ่ง&lt;/b&gt;" in h
    assert h.count('class="vx-chosen"') == 1
    assert "3 / 10" in h
    assert "▼ -15.0" in h  # V1 0.70 against its tambon 0.85


def test_detail_tiles_for_every_level(data):
    h = E.detail_html(data, sel(), "th")
    for pct in ("70.0%", "85.0%", "84.0%"):
        assert pct in h
    assert "ยังไม่มีรายงาน" in h


def test_map_svg_paths_in_band_colours_zoomed_to_the_area(data, ws_root):
    h = E.map_svg(data, sel(), "th")
    assert h.count("<path ") == 4  # three villages with polygons + the chosen outline
    assert h.count('fill="#c0392b"') == 1 and h.count('fill="#e67e22"') == 1 and h.count('fill="#27ae60"') == 1
    assert '<path class="vx-chosen"' in h
    assert "บ้าน&lt;b&gt;หนึ่ง&lt;/b&gt; (99010101)" in h and "<b>" not in h
    assert "ไม่ผ่าน 3 จาก 10" in h
    # the three unit squares span 2 × 2 degrees: the view box is that area plus a 2 % margin
    vb = [int(x) for x in re.search(r'viewBox="([^"]+)"', h).group(1).split()]
    k = math.cos(math.radians(15.5))
    assert vb[2] == pytest.approx(2 * k * E.SVG_SCALE * 1.04, rel=0.01) and vb[3] == pytest.approx(2 * E.SVG_SCALE + 0.04 * 2 * k * E.SVG_SCALE, rel=0.01)
    one = E.map_svg(data, sel(district="9901", tambon="990102", village=V3), "th")
    assert one.count("<path ") == 2 and 'data-code="99010201"' in one  # zoomed to tambon 990102


def test_map_svg_areas_are_picked_not_linked(data, ws_root):
    """A click on the map chooses the area (its code is on the path); reports open from the
    bars, the table and the panel, so a map area never jumps away to another page."""
    rep = ws_root / "reports" / V2
    rep.mkdir(parents=True, exist_ok=True)
    (rep / "km.html").write_text("<html></html>", encoding="utf-8")
    try:
        h = E.map_svg(data, sel(), "th")
        assert "<a " not in h
        assert sorted(re.findall(r'<path d="[^"]+" fill="#[0-9a-f]{6}" data-code="(\d{8})"', h)) == [V1, V2, V3]  # V4 has no polygon
    finally:
        (rep / "km.html").unlink()


def test_map_svg_without_polygons_says_so(tmp_path):
    d = E.load_explore_data(write_workspace(tmp_path, polygons=False))
    h = E.map_svg(d, sel(), "th")
    assert "<svg" not in h and "ไม่มีขอบเขต" in h


def test_bars_html_ranked_coloured_chosen_marked(data):
    r = E.ranked_units(data, sel(village=V3))
    h = E.bars_html(data, sel(village=V3), E.shown_units(r, V3, 15), len(r), "th")
    codes = re.findall(r'class="vx-bl[^"]*" data-code="(\d+)"', h)
    assert codes == [V1, V4, V3, V2]  # lowest first, top to bottom
    widths = [float(x) for x in re.findall(r'class="vx-bar[^"]*" style="width:([\d.]+)%', h)]
    assert widths == [70.0, 80.0, 80.0, 100.0]
    colors = re.findall(r"background:(#[0-9a-f]{6})", h)
    assert colors == ["#c0392b", "#e67e22", "#e67e22", "#27ae60"]
    assert re.search(r'class="vx-bl vx-bc" data-code="99010201">▶ ', h)
    refs = [float(x) for x in re.findall(r'class="vx-ref" style="left:([\d.]+)%', h)]
    assert refs == [80.0, 84.0, 84.0]  # tambon 4/5, district 21/25, province 21/25
    assert "<a " not in h
    assert "แสดง 4 จาก 4" in h


# ------------------------------------------------------------------------------------------
# the public view: no rate beside a hidden count, complements among siblings (PDPA)


def test_public_rate_beside_a_hidden_count_is_a_bound(data):
    pub = sel(audience="public")
    sh = E.shown_values(data, "village", YEAR, "1", "public")
    # V1 3 of 10 failing: pass rate > (10 − 5)/10; V3 1 of 5: "> 0%" says nothing; V4 2 of 10
    assert sh.rate_text == [">50.0%", "100.0%", ">0.0%", ">50.0%"]
    assert sh.failed_text == ["<5", "0", "<5", "<5"] and sh.surveyed_text == ["10", "10", "5", "10"]
    assert list(np.isnan(sh.rate)) == [True, False, True, True]
    # the tambon 990101 (3 of 20), district and province (4 of 25) are small cells too
    assert E.shown_values(data, "tambon", YEAR, "1", "public").rate_text == [">75.0%", ">0.0%", ">50.0%"]
    assert E.shown_values(data, "province", YEAR, "1", "public").rate_text == [">80.0%"]
    r = E.ranked_units(data, pub)
    assert list(r["code"]) == [V2, V1, V3, V4]  # hidden rates last, by code: their place would tell
    assert list(r["hidden"]) == [False, True, True, True]
    shown = E.shown_units(r, V1, 15)
    outputs = {
        "hover": " ".join(next(tr for tr in E.map_figure(data, pub, "th")["data"] if tr.get("name") == "hover")["hovertext"]),
        "svg": E.map_svg(data, pub, "th"),
        "table": E.comparison_table_html(data, pub, shown, "th"),
        "detail": E.detail_html(data, pub, "th"),
        "bars": E.bars_html(data, pub, shown, len(r), "th"),
        "figure": json.dumps(E.bar_figure(data, pub, shown, len(r), "th"), ensure_ascii=False),
    }
    for name, h in outputs.items():
        for exact in ("70.0%", "85.0%", "84.0%", "80.0%", "70%", "85%", "84%"):  # bounds (&gt;80.0%) are fine
            assert not re.search(r"(?<![0-9.;<>])" + re.escape(exact), h), (name, exact)
    assert "&gt;50.0%<br>ไม่ผ่าน &lt;5 จาก 10" in outputs["hover"]
    assert "&lt;5 / 10" in outputs["table"] and "&gt;75.0%" in outputs["table"]
    assert "ไม่ผ่าน &lt;5 จาก 20" in outputs["detail"]
    widths = [float(x) for x in re.findall(r'class="vx-bar[^"]*" style="width:([\d.]+)%', outputs["bars"])]
    assert widths == [100.0, 0.0, 0.0, 0.0]  # no bar for a hidden rate, only its bound
    assert not re.findall(r'class="vx-ref"', outputs["bars"])  # no line at a hidden parent rate
    assert "ปิดไว้" in E.legend_html("th", "public") and "ปิดไว้" not in E.legend_html("th")


def _sibling_workspace(root: Path) -> Path:
    proc = root / "data" / "processed"
    proc.mkdir(parents=True)
    vil = [("99010101", 40, 3), ("99010102", 40, 10), ("99010103", 40, 20),   # tambon 990101
           ("99010201", 50, 48), ("99010202", 30, 6),                          # tambon 990102
           ("99010301", 3, 1), ("99010302", 30, 15)]                           # tambon 990103
    rows = {"village": [_row("village", c, 1.0, 1, "person", s, s - f) for c, s, f in vil]}
    tam: dict = {}
    for c, s, f in vil:
        a, b = tam.get(c[:6], (0, 0))
        tam[c[:6]] = (a + s, b + f)
    rows["tambon"] = [_row("tambon", c, 1.0, 1, "person", s, s - f) for c, (s, f) in tam.items()]
    total = (sum(s for _, s, _ in vil), sum(f for _, _, f in vil))
    rows["district"] = [_row("district", "9901", 1.0, 1, "person", total[0], total[0] - total[1])]
    rows["province"] = [_row("province", "99", 1.0, 1, "person", total[0], total[0] - total[1])]
    for level, r in rows.items():
        pd.DataFrame(r).to_parquet(proc / f"indicators_{level}.parquet", index=False)
    return root


def test_public_sibling_villages_cannot_be_worked_back_from_their_tambon(tmp_path):
    d = E.load_explore_data(_sibling_workspace(tmp_path))
    sh = E.shown_values(d, "village", YEAR, "1", "public")
    assert list(d.codes["village"]) == ["99010101", "99010102", "99010103", "99010201", "99010202", "99010301", "99010302"]
    # 990101: 3 failing is small; the tambon's 33 is shown, so the smallest other count (10) is hidden too
    # 990102: 48 of 50 failing leaves 2 passing: a bound, and its sibling's 6 hidden as the complement
    # 990103: 3 surveyed is small; its sibling's 30 surveyed is hidden, and with it its failing and rate
    assert sh.failed_text == ["<5", "*", "20", ">45", "*", "*", "*"]
    assert sh.rate_text == [">87.5%", "*", "50.0%", "<10.0%", "*", "*", "*"]
    assert sh.surveyed_text == ["40", "40", "40", "50", "30", "<5", "*"]
    assert list(sh.hidden) == [True, True, False, True, True, True, True]
    # the tambons' own counts are large: shown exactly
    assert E.shown_values(d, "tambon", YEAR, "1", "public").failed_text == ["33", "54", "16"]
    exact = E.shown_values(d, "village", YEAR, "1", "internal")
    assert exact.failed_text == ["3", "10", "20", "48", "6", "1", "15"] and exact.rate_text[0] == "92.5%"
    # by enumeration: in each tambon, every hidden failing count has at least two values that
    # agree with the shown tambon total, the shown counts and the bounds
    k = 4
    for tambon, members in (("990101", [0, 1, 2]), ("990102", [3, 4]), ("990103", [5, 6])):
        total = int(d.value("tambon", YEAR, "1", tambon)[1])
        hidden = [i for i in members if sh.failed_text[i] in ("<5", "*") or sh.failed_text[i].startswith(">")]
        known = sum(int(sh.failed_text[i]) for i in members if i not in hidden)
        sols = []
        for vals in itertools.product(range(0, 61), repeat=len(hidden)):
            ok = sum(vals) + known == total
            for i, x in zip(hidden, vals):  # what a reader knows of the unit's surveyed count
                txt, s_txt = sh.failed_text[i], sh.surveyed_text[i]
                most = k if s_txt == "<5" else (60 if s_txt == "*" else int(s_txt))
                ok = ok and x <= most and (txt != "<5" or 1 <= x <= k) and (not txt.startswith(">") or most - k <= x < most)
            if ok:
                sols.append(vals)
        for n, i in enumerate(hidden):
            assert len({s_[n] for s_ in sols}) >= 2, (tambon, i, sols)


def test_check_spec_refuses_other_trace_types():
    from vilwork.errors import DefinitionError

    with pytest.raises(DefinitionError, match="choroplethmapbox"):
        E.check_spec({"data": [{"type": "choroplethmapbox"}]})


# ------------------------------------------------------------------------------------------
# the widget app


@pytest.fixture()
def app(data):
    return E.Explorer(data, reports_url=None, audience="internal")


def test_app_opens_on_the_worst_village_and_the_weakest_indicator(app):
    s = app.selection
    assert s.key == "1" and s.village == V1 and s.year == YEAR and s.level == "village"
    assert app.updates == 1 and app.last_update_ms > 0


def test_public_app_opens_on_an_indicator_its_map_can_show(tmp_path):
    """Indicator 3: the province passes it least (21 of 30) but every village fails 2-4 people, all
    hidden in public (a grey map); indicator 2 (households, 40-60 surveyed a village, 89 %) is shown."""
    root = write_workspace(tmp_path / "ws")
    proc = root / "data" / "processed"
    add = {"village": [_row("village", c, 2.0, 1, "household", n, n - f) for c, n, f in ((V1, 60, 6), (V2, 50, 5), (V3, 40, 5))]
           + [_row("village", c, 3.0, 1, "person", 10, 10 - f) for c, f in ((V1, 3), (V2, 2), (V3, 4))],
           "tambon": [_row("tambon", "990101", 2.0, 1, "household", 110, 99), _row("tambon", "990102", 2.0, 1, "household", 40, 35),
                      _row("tambon", "990101", 3.0, 1, "person", 20, 15), _row("tambon", "990102", 3.0, 1, "person", 10, 6)],
           "district": [_row("district", "9901", 2.0, 1, "household", 150, 134), _row("district", "9901", 3.0, 1, "person", 30, 21)],
           "province": [_row("province", "99", 2.0, 1, "household", 150, 134), _row("province", "99", 3.0, 1, "person", 30, 21)]}
    for level, rows in add.items():
        f = proc / f"indicators_{level}.parquet"
        pd.concat([pd.read_parquet(f), pd.DataFrame(rows)], ignore_index=True).to_parquet(f, index=False)
    d = E.load_explore_data(root)
    assert E.Explorer(d, reports_url=None, audience="internal").selection.key == "3"  # 0.70: the weakest
    assert E.Explorer(d, reports_url=None, audience="public").selection.key == "2"


def test_cascading_pickers(app):
    assert [v for _, v in app.w_district.options] == [E.ALL, "9901", "9902"]
    app.choose(district="9901")
    assert [v for _, v in app.w_tambon.options] == [E.ALL, "990101", "990102"]
    assert [v for _, v in app.w_village.options] == [V1, V2, V3]
    app.choose(tambon="990102")
    assert [v for _, v in app.w_village.options] == [V3] and app.w_village.value == V3
    app.choose(district="9902")
    assert [v for _, v in app.w_tambon.options] == [E.ALL, "990201"] and app.w_village.value == V4
    # "all" is a choice the dropdown shows by name (a None value would leave the picker blank)
    app.choose(district=None)
    assert app.w_district.label == "ทุกอำเภอ" and app.w_tambon.label == "ทุกตำบล"
    assert app.selection.district is None and app.selection.tambon is None
    assert [v for _, v in app.w_village.options] == [V1, V2, V3, V4]


def test_choosing_a_village_changes_the_chart_and_the_table(app):
    before = app.w_bars.value
    n = app.updates
    app.w_village.value = V2  # as the dropdown does
    after = app.w_bars.value
    assert app.updates == n + 1 and before != after
    assert 'class="vx-bl vx-bc" data-code="99010102">▶ ' in after
    assert 'class="vx-bl vx-bc" data-code="99010101"' in before
    assert '<tr class="vx-chosen" data-code="99010102">' in app.w_table.value


def test_a_click_on_the_map_a_bar_or_a_row_chooses_that_unit(app):
    """What the browser sends when a map area, a bar or a table row is clicked (the pane's
    message), and what the explorer does with it: the focus moves, the pickers' area stays."""
    assert (app.w_district.value, app.w_tambon.value) == (E.ALL, E.ALL)
    n = app.updates
    app.w_bars._on_msg(app.w_bars, {"pick": V4}, [])
    assert app.selection.village == V4 and app.w_village.value == V4
    assert (app.w_district.value, app.w_tambon.value) == (E.ALL, E.ALL)  # the province's ranking stays in view
    assert app.updates == n + 1  # one redraw
    assert '<tr class="vx-chosen" data-code="99020101">' in app.w_table.value
    app.w_table._on_msg(app.w_table, {"pick": V2}, [])
    assert app.selection.village == V2
    # a tambon on the tambon map: its village that fares worst (V3, the only one of 990102)
    app.choose(level="tambon")
    app.w_map._on_msg(app.w_map, {"pick": "990102"}, [])
    assert app.selection.unit() == "990102" and app.selection.village == V3
    n = app.updates
    app.w_map._on_msg(app.w_map, {"pick": "990102"}, [])  # already there: nothing to redo
    assert app.updates == n
    app.choose(level="district")
    app.w_map._on_msg(app.w_map, {"pick": "9902"}, [])
    assert app.selection.unit() == "9902" and app.selection.village == V4
    # anything else is ignored, and nothing is redrawn
    n = app.updates
    for junk in ({"pick": "99999999"}, {"pick": "<b>"}, {"pick": 99010101}, {"other": 1}, "x", {"pick": "9"}):
        app.w_map._on_msg(app.w_map, junk, [])
    assert app.updates == n and app.selection.unit() == "9902"


def test_the_pane_draws_its_html_and_reports_clicks_from_the_browser():
    """The browser half: the module is inline (offline), draws ``value`` and sends the code of
    the clicked ``data-code`` element, letting report links through."""
    assert 'model.get("value")' in E._PANE_ESM and "model.send({ pick: hit.dataset.code })" in E._PANE_ESM
    assert 'closest("a")' in E._PANE_ESM and "import " not in E._PANE_ESM  # nothing fetched
    p = E.pane()
    p.value = "<b>x</b>"
    got = []
    p.on_pick(got.append)
    p._on_msg(p, {"pick": "99010101"}, [])
    assert got == ["99010101"] and p.value == "<b>x</b>"


def test_export_saves_the_whole_table_as_the_audience_sees_it(app, ws_root):
    """The Excel file: every unit of the area (not only the rows on screen), Thai headers, codes
    as text, shown rates as numbers, hidden ones and small counts as the public sees them."""
    import openpyxl

    app.top = 2  # the screen shows 2 rows; the file has all 4
    app.choose(village=V1, level="village", audience="public", indicator="1")
    app._on_export()
    path = ws_root / "reports" / E.EXPORT_DIR / "99_village_i01_2562_public.xlsx"
    assert path.is_file() and str(path) in app.w_export_status.value and "4 แถว" in app.w_export_status.value
    rows = list(openpyxl.load_workbook(path).active.iter_rows(values_only=True))
    assert rows[0][0].startswith("1. ") and "ปี 2562" in rows[0][0] and "ผู้อ่าน: สาธารณะ" in rows[0][0]
    assert rows[2] == ("ลำดับ", "รหัส", "หมู่บ้าน", "หมู่บ้าน %", "ตำบล %", "อำเภอ %", "จังหวัด %", "ไม่ผ่าน", "สำรวจ")
    body = {r[1]: r for r in rows[3:]}
    assert list(body) == [r[1] for r in rows[3:]] and len(body) == 4
    assert all(isinstance(code, str) and len(code) == 8 for code in body)
    # V2: 10 of 10 pass, a shown rate and an exact 0; V1: 3 of 10 fail, a count the public sees as <5
    assert body[V2][3] == 100 and body[V2][7] == 0 and body[V2][8] == 10
    assert body[V1][7] == "<5" and body[V1][8] == 10
    shown = E.table_frame(app.data, app.selection, "th")
    assert len(shown) == 4 and list(shown["รหัส"]) == [r[1] for r in rows[3:]]
    # staff see the exact counts
    app.choose(audience="internal")
    app._on_export()
    rows = list(openpyxl.load_workbook(path.with_name("99_village_i01_2562_internal.xlsx")).active.iter_rows(values_only=True))
    assert {r[1]: r[7] for r in rows[3:]}[V1] == 3


def test_a_village_outside_the_area_moves_the_area(app):
    app.choose(district="9901", tambon="990101")
    app.choose(village=V4)
    assert (app.w_district.value, app.w_tambon.value, app.w_village.value) == ("9902", "990201", V4)


def test_one_refresh_per_choice(app):
    n = app.updates
    app.choose(indicator="g1", level="tambon", audience="internal")
    assert app.updates == n + 1
    assert app.selection.key == "g1" and app.selection.level == "tambon"
    app.w_group.value = 1  # same group: nothing to do
    assert app.updates == n + 1


def test_run_command_is_vilwork_run_for_the_chosen_village(app, ws_root):
    app.choose(audience="public")
    cmd = app.run_command(V3)
    assert cmd[1] == "-c" and "vilwork.cli" in cmd[2] and cmd[3] == "run"
    assert cmd[cmd.index("--village") + 1] == V3 and cmd[cmd.index("--root") + 1] == str(ws_root.resolve())
    assert cmd[cmd.index("--audience") + 1] == "public" and cmd[cmd.index("--year") + 1] == str(YEAR)


def test_explorer_reads_the_root_from_the_environment(ws_root, monkeypatch):
    monkeypatch.setenv(E.ENV_ROOT, str(ws_root))
    w = E.explorer(None, village=V3, indicator=1)
    assert w.explorer.selection.village == V3 and w.explorer.data.ws.root == ws_root.resolve()


def test_explorer_without_indicators_says_what_to_run(tmp_path):
    with pytest.raises(E.InputError, match="vilwork indicators"):
        E.load_explore_data(tmp_path)


# ------------------------------------------------------------------------------------------
# real HDX COD-AB boundaries


@pytest.mark.skipif(not HDX.is_dir(), reason="shared HDX boundaries not available")
def test_real_hdx_boundaries_load_for_province_and_district(tmp_path):
    root = write_workspace(tmp_path, province="10", polygons=True)
    d = E.load_explore_data(root, boundaries_dir=HDX)
    assert "hdx" in d.shapes["district"].sources and "hdx" in d.shapes["province"].sources
    i = d.index("district")["1001"]  # TH1001 in th_adm2.geojson
    assert d.shapes["district"].has[i]
    assert {c for c in d.codes["district"] if c.startswith("10")} >= {"1001", "1002"}
    assert len(d.codes["province"]) >= 77  # the country: every province is drawn
    assert d.name("1001") == "เมือง"  # the place list wins over the file's name
    assert d.name("1003") not in ("", "1003")  # a district the place list lacks: named from ADM2_TH
    spec = E.map_figure(d, sel(province="10", village="10010101", level="province"), "th")
    hover = next(tr for tr in spec["data"] if tr.get("name") == "hover")
    assert len(hover["customdata"]) >= 77


# ------------------------------------------------------------------------------------------
# the notebook stays thin


def test_notebook_is_parameters_and_one_call():
    import nbformat

    nb = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(not c.get("outputs") for c in code)
    body = "\n".join(c.source for c in code)
    assert "def " not in body and "class " not in body and "/" not in body.replace("//", "")
    assert code[-1].source.strip().startswith("from vilwork.explore import explorer")


def test_run_button_runs_vilwork_run_and_reports_back(app, monkeypatch):
    import subprocess

    calls = []

    def fake_run(cmd, capture_output, text):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1 if len(calls) > 1 else 0, "", "Traceback …\nvilwork run: error: no data")

    monkeypatch.setattr(E.subprocess, "run", fake_run)
    app.choose(village=V2)
    app._on_run()
    app._run_thread.join(10)
    assert calls[0][calls[0].index("--village") + 1] == V2
    assert "เสร็จแล้ว" in app.w_run_status.value and app.w_run.disabled is False
    app._on_run()
    app._run_thread.join(10)
    assert "ไม่สำเร็จ" in app.w_run_status.value and "no data" in app.w_run_status.value


def test_english_labels(data, ws_root):
    d = E.load_explore_data(ws_root, lang="en")
    app = E.Explorer(d)
    assert app.w_district.options[0][0] == "All districts"
    assert "Villages ranked, lowest pass rate first" in app.w_bars.value
    assert d.name(V2) == "Two"


def test_explore_command_serves_the_notebook_with_the_workspace(ws_root):
    from vilwork import commands_interactive as C
    from vilwork.workspace import Workspace

    argv = C.voila_argv(C.explore_notebook(), 8899, open_browser=False)
    assert argv[0].endswith("notebooks/explore.ipynb") and Path(argv[0]).is_file()
    assert "--Voila.ip=127.0.0.1" in argv and "--port=8899" in argv and "--Voila.open_browser=False" in argv
    env = C.explore_env(Workspace(ws_root), boundaries=str(HDX))
    assert env[E.ENV_ROOT] == str(ws_root.resolve()) and env[E.ENV_REPORTS_URL] == C.REPORTS_ROUTE
    assert env[E.ENV_BOUNDARIES] == str(HDX.resolve())


def test_explore_command_options_reach_the_notebook(ws_root, monkeypatch):
    """`vilwork explore --lang en --audience internal --village CODE`: the options travel to the
    kernel as environment variables, and the notebook's explorer() (its parameters left None)
    opens in English, internal view, on that village and its province."""
    from vilwork import commands_interactive as C
    from vilwork.workspace import Workspace

    env = C.explore_env(Workspace(ws_root), lang="en", audience="internal", village=V4)
    assert (env[E.ENV_LANG], env[E.ENV_AUDIENCE], env[E.ENV_VILLAGE]) == ("en", "internal", V4)
    with pytest.raises(Exception, match="8"):
        C.explore_env(Workspace(ws_root), village="9902")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    app = E.explorer().explorer  # what the notebook calls with its default parameters
    sel = app.selection
    assert (sel.village, sel.audience, app.lang) == (V4, "internal", "en")
    assert app.w_district.options[0][0] == "All districts"
    for k in env:
        monkeypatch.delenv(k)
    app = E.explorer(ws_root).explorer
    assert (app.lang, app.selection.audience) == ("th", "public")
