"""Tests of the demo-data generator (vilwork.synth).

The files are read back the way an officer's export would be read (Thai headers, BE dates,
text codes) and checked with small hand-written helpers: the check-digit formula, ages on the
reference day, the target group of each question. Runs use 4 villages to stay fast.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from vilwork import rules
from vilwork.errors import DefinitionError
from vilwork.registry import capital_kinds, issue_areas, thai_headers
from vilwork.synth import SynthSummary, synthesise
from vilwork.workspace import Workspace

SEED = 7
YEARS = (2561, 2562)
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# helpers written out by hand (not taken from the code under test)
# ---------------------------------------------------------------------------------------------
def check_digit_ok(cid: str) -> bool:
    """x = sum((14 - i) * N_i, i = 1..12) mod 11; N13 = (11 - x) mod 10."""
    if len(cid) != 13 or not cid.isdigit():
        return False
    x = sum((14 - i) * int(cid[i - 1]) for i in range(1, 13)) % 11
    return (11 - x) % 10 == int(cid[12])


def age_on_reference_day(birth_be: str, year: int) -> tuple[int, int]:
    """Completed (years, months) on 31 March of BE survey year ``year`` for a BE dd/mm/yyyy date."""
    d, m, y = (int(x) for x in birth_be.split("/"))
    y -= 543
    ry, rm, rd = year - 543, 3, 31
    years = ry - y - (1 if (m, d) > (rm, rd) else 0)
    months = (ry - y) * 12 + (rm - m) - (1 if d > rd else 0)
    return years, months


# who is asked each question (targets.yaml, written out): (age years, age months, health) -> bool
TARGET = {
    "q2": lambda a, mo, h: 6 <= mo <= 11,
    "q3": lambda a, mo, h: a <= 12,
    "q6": lambda a, mo, h: a >= 35,
    "q7": lambda a, mo, h: a >= 6,
    "q15": lambda a, mo, h: 3 <= a <= 5,
    "q16": lambda a, mo, h: 6 <= a <= 14,
    "q19": lambda a, mo, h: 15 <= a <= 59,
    "q20": lambda a, mo, h: 15 <= a <= 59,
    "q21": lambda a, mo, h: a >= 60,
    "q24": lambda a, mo, h: a >= 15,
    "q25": lambda a, mo, h: a >= 15,
    "q26": lambda a, mo, h: a >= 6,
    "q27": lambda a, mo, h: a >= 60,
    "q28": lambda a, mo, h: h == "พิการ",
    "q29": lambda a, mo, h: h == "ป่วยเรื้อรัง",
}
NONE_OF_STEMS = ("q12_", "q14_")  # 1 = nuisance / threat present


def read_table(path: Path, table: str) -> pd.DataFrame:
    """A bmn file read as text with canonical column names (Thai header -> column)."""
    if path.suffix == ".xlsx":
        df = pd.read_excel(path, dtype=str)
    else:
        df = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    back = {th: col for col, th in thai_headers(table).items()}
    return df.rename(columns=back)


def load_year(ws: Workspace, year: int, ext: str = "xlsx") -> tuple[pd.DataFrame, pd.DataFrame]:
    hh = pd.concat([read_table(p, "households") for p in sorted((ws.raw / "bmn" / str(year)).glob(f"*households*.{ext}"))], ignore_index=True)
    ps = pd.concat([read_table(p, "persons") for p in sorted((ws.raw / "bmn" / str(year)).glob(f"*persons*.{ext}"))], ignore_index=True)
    ages = [age_on_reference_day(b, year) for b in ps["birth_date"]]
    ps["age_years"] = [a for a, _ in ages]
    ps["age_months"] = [m for _, m in ages]
    return hh, ps


def failed_items(hh: pd.DataFrame) -> pd.Series:
    """Number of household questionnaire items with the bad answer, per household."""
    items = [c for c in hh.columns if c.startswith("q")]
    bad = [(pd.to_numeric(hh[c]) == (1 if c.startswith(NONE_OF_STEMS) else 0)) for c in items]
    return sum(b.astype(int) for b in bad)


def income_per_member(hh: pd.DataFrame, ps: pd.DataFrame) -> pd.Series:
    parts = ["income_main", "income_secondary", "income_other", "income_own_produce"]
    income = sum(pd.to_numeric(hh[c]) for c in parts)
    members = hh["house_code"].map(ps["house_code"].value_counts())
    return income / members


def processed_frames(hh: pd.DataFrame, ps: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The records in the processed schema vilwork.rules reads (what ingest will produce)."""
    h = hh.copy()
    for c in h.columns:
        if c.startswith(("q", "income", "exp")):
            h[c] = pd.to_numeric(h[c])
    h["members"] = h["house_code"].map(ps["house_code"].value_counts()).astype(int)
    h["income_per_member"] = income_per_member(hh, ps)
    p = ps.copy()
    for c in p.columns:
        if c.startswith("q") or c == "birth_weight_g":
            p[c] = pd.to_numeric(p[c])
    p["village_code"] = p["house_code"].str[:8]
    p["health"] = p["health"].map({"ปกติ": "normal", "พิการ": "disabled", "ป่วยเรื้อรัง": "chronic"})
    return h, p


def all_files(ws: Workspace) -> dict[str, bytes]:
    return {str(p.relative_to(ws.root)): p.read_bytes() for p in sorted(ws.raw.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------
# fixtures: one small demo province (records, xlsx) shared by most tests
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Workspace, SynthSummary]:
    ws = Workspace(tmp_path_factory.mktemp("demo"))
    return ws, synthesise(ws, seed=SEED, villages=4)


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory) -> tuple[Workspace, SynthSummary]:
    """The same seed written as csv (reading xlsx back is slow; the two hold the same data, see below)."""
    ws = Workspace(tmp_path_factory.mktemp("demo_csv"))
    return ws, synthesise(ws, seed=SEED, villages=4, fmt="csv", village_folders=0)


@pytest.fixture(scope="module")
def years(demo_csv) -> dict[int, tuple[pd.DataFrame, pd.DataFrame]]:
    ws, _ = demo_csv
    return {y: load_year(ws, y, "csv") for y in YEARS}


# ---------------------------------------------------------------------------------------------
# layout and determinism
# ---------------------------------------------------------------------------------------------
def test_writes_the_raw_layout(demo):
    ws, s = demo
    assert (s.villages, s.tambons, s.districts, s.layout, s.fmt) == (4, 4, 2, "records", "xlsx")
    raw = ws.raw
    for y in YEARS:
        for d in ("9901", "9902"):
            assert (raw / f"bmn/{y}/bmn{y}_households_{d}.xlsx").is_file()
            assert (raw / f"bmn/{y}/bmn{y}_persons_{d}.xlsx").is_file()
    for y in (2560, 2562):
        assert (raw / f"kchch2k/{y}/kchch2k{y}_99.xlsx").is_file()
    assert (raw / "places.csv").is_file() and (raw / "geo/villages_99.geojson").is_file()
    assert not (raw / "aggregates").exists()
    assert set(s.files) == set(all_files(ws))
    assert s.households[2561] > 0 and s.persons[2562] > s.households[2562]
    text = str(s)
    assert "99" in text and "villages" in text and "2561" in text and "ครัวเรือน" in text


def test_same_seed_same_bytes_other_seed_other_data(demo, tmp_path):
    ws, _ = demo
    again = Workspace(tmp_path / "again")
    synthesise(again, seed=SEED, villages=4)
    first, second = all_files(ws), all_files(again)
    assert first.keys() == second.keys()
    differing = [k for k in first if first[k] != second[k]]
    assert differing == []

    other = Workspace(tmp_path / "other")
    synthesise(other, seed=SEED + 1, villages=4, years=(2561,), village_folders=0)
    third = all_files(other)
    for rel in ("data/raw/bmn/2561/bmn2561_persons_9901.xlsx", "data/raw/bmn/2561/bmn2561_households_9902.xlsx"):
        assert third[rel] != first[rel]


def test_xlsx_carries_thai_headers_and_sheet_names(demo):
    from openpyxl import load_workbook

    ws, _ = demo
    for table, sheet in (("households", "ครัวเรือน"), ("persons", "สมาชิก")):
        wb = load_workbook(ws.raw / f"bmn/2561/bmn2561_{table}_9901.xlsx", read_only=True)
        assert wb.sheetnames == [sheet]
        header = next(wb[sheet].iter_rows(max_row=1, values_only=True))
        th = thai_headers(table)
        assert set(header) <= set(th.values())
        assert th["house_code"] in header and th["year"] in header
        wb.close()


# ---------------------------------------------------------------------------------------------
# household and person records
# ---------------------------------------------------------------------------------------------
def test_codes_ids_and_households_per_village(years):
    for y, (hh, ps) in years.items():
        assert hh["house_code"].str.fullmatch(r"\d{11}").all()
        assert (hh["house_code"].str[:8] == hh["village_code"]).all()
        assert hh["village_code"].str.startswith("99").all()
        per_village = hh.groupby("village_code").size()
        assert len(per_village) == 4
        assert per_village.between(100, 300).all(), per_village
        assert hh["house_code"].is_unique
        assert ps["citizen_id"].map(check_digit_ok).all()
        assert ps["citizen_id"].is_unique
        assert set(ps["house_code"]) == set(hh["house_code"])
        assert set(ps["sex"]) == {"ชาย", "หญิง"}
        assert set(ps["health"]) <= {"ปกติ", "พิการ", "ป่วยเรื้อรัง"}
        assert set(ps["welfare_card"]) <= {"มี", "ไม่มี"}
        assert set(hh["in_municipality"]) <= {"ในเขต", "นอกเขต"}
        assert hh["house_no"].str.fullmatch(r"\d+(/\d+)?").all() and hh["house_no"].str.contains("/").any()
        assert not hh.duplicated(["village_code", "house_no"]).any()
        heads = ps[ps["relation"] == "หัวหน้าครัวเรือน"].groupby("house_code").size()
        assert (heads == 1).all() and len(heads) == len(hh)
        assert ps["birth_date"].str.fullmatch(r"\d\d/\d\d/2[45]\d\d").all()  # Buddhist Era


def test_birth_weight_only_for_infants(years):
    for y, (hh, ps) in years.items():
        infant = ps["age_months"] <= 11
        assert infant.sum() > 0
        assert ps.loc[infant, "birth_weight_g"].notna().all()
        assert ps.loc[~infant, "birth_weight_g"].isna().all()
        w = pd.to_numeric(ps.loc[infant, "birth_weight_g"])
        assert w.between(1000, 5500).all() and (w < 2500).any() is not None


def test_person_answers_blank_outside_target_groups(years):
    for y, (hh, ps) in years.items():
        for q, who in TARGET.items():
            in_group = pd.Series([who(a, m, h) for a, m, h in zip(ps["age_years"], ps["age_months"], ps["health"])], index=ps.index)
            answered = ps[q].notna()
            assert not (answered & ~in_group).any(), f"{y} {q}: answers outside the target group"
            assert answered[in_group].all(), f"{y} {q}: target persons without an answer"
            assert set(ps.loc[answered, q]) <= {"0", "1"}
        for q in ("q17", "q18"):  # asked of a few teenagers only
            asked = ps[q].notna()
            assert 0 < asked.sum() < 0.05 * len(ps)
            assert ps.loc[asked, "age_years"].between(15, 18).all()


def test_poorer_households_fail_more(years):
    for y, (hh, ps) in years.items():
        ipm = income_per_member(hh, ps)
        bad = failed_items(hh)
        poor, rich = ipm <= ipm.quantile(0.25), ipm >= ipm.quantile(0.75)
        assert bad[poor].mean() > 3 * bad[rich].mean(), (y, bad[poor].mean(), bad[rich].mean())
        below = (ipm < 38_000).mean()
        assert 0.03 <= below <= 0.25, below


def test_second_year_follows_the_first(years):
    (h1, p1), (h2, p2) = years[2561], years[2562]
    kept = p1.merge(p2, on="citizen_id", suffixes=("_1", "_2"))
    assert len(kept) >= 0.95 * len(p1)
    assert (kept["birth_date_1"] == kept["birth_date_2"]).all()
    assert (kept["age_years_2"] - kept["age_years_1"] == 1).all()
    assert (kept["first_name_1"] == kept["first_name_2"]).all()
    assert (kept["house_code_1"] == kept["house_code_2"]).all()
    new = p2[~p2["citizen_id"].isin(p1["citizen_id"])]
    newborn = new["age_months"] <= 11
    in_new_house = ~new["house_code"].isin(h1["house_code"])
    assert newborn.sum() > 0 and (newborn | in_new_house).all()
    assert len(p1) > len(kept)  # some died or moved away
    # the second year is somewhat better
    assert failed_items(h2).mean() < failed_items(h1).mean()


# ---------------------------------------------------------------------------------------------
# places, boundaries, กชช. 2ค and the village folders
# ---------------------------------------------------------------------------------------------
def test_places_and_duplicate_village_name(demo):
    ws, s = demo
    with open(ws.raw / "places.csv", encoding="utf-8-sig", newline="") as f:
        places = list(csv.DictReader(f))
    levels = {}
    for r in places:
        levels.setdefault(r["level"], []).append(r)
    assert [r["code"] for r in levels["province"]] == ["99"]
    assert len(levels["district"]) == 2 and len(levels["tambon"]) == 4 and len(levels["village"]) == 4
    assert all(r["name_th"] and r["name_en"] for r in places)
    nong_bua = [r["code"] for r in levels["village"] if r["name_th"] == "บ้านหนองบัว"]
    assert len(nong_bua) == 2 and nong_bua[0][:6] != nong_bua[1][:6]
    assert ";".join(nong_bua) == s.special["duplicate_name"]


def test_village_polygons_tile_the_province(demo, years):
    shapely = pytest.importorskip("shapely")
    from shapely.geometry import Point, box, shape

    ws, _ = demo
    doc = json.loads((ws.raw / "geo/villages_99.geojson").read_text(encoding="utf-8"))
    feats = doc["features"]
    assert len(feats) == 4
    polys = {f["properties"]["village_code"]: shape(f["geometry"]) for f in feats}
    for f in feats:
        p = f["properties"]
        assert p["tambon_code"] == p["village_code"][:6] and p["district_code"] == p["village_code"][:4] and p["name_th"]
    assert all(p.is_valid for p in polys.values())
    province = box(100.5, 15.0, 101.0, 15.4)
    union = shapely.union_all(list(polys.values()))
    assert union.area == pytest.approx(province.area, rel=1e-4)
    assert sum(p.area for p in polys.values()) == pytest.approx(province.area, rel=1e-4)  # no overlaps
    hh, _ = years[2561]
    sample = hh.iloc[::25]
    assert all(polys[v].contains(Point(float(x), float(y))) for v, x, y in zip(sample["village_code"], sample["lon"], sample["lat"]))


def test_kchch2k_rows_and_levels(demo):
    ws, s = demo
    th = thai_headers("kchch2k")
    for y in (2560, 2562):
        k = pd.read_excel(ws.raw / f"kchch2k/{y}/kchch2k{y}_99.xlsx", dtype=str)
        assert list(k.columns[:3]) == [th["year"], th["village_code"], th["village_name"]]
        assert [c for c in k.columns[3:]] == [th[f"k{i}"] for i in range(1, 34)]
        assert set(k[th["year"]]) == {str(y)}
        assert len(k) == s.villages - 1 and s.special["gap"] not in set(k[th["village_code"]])
        assert set(np.unique(k.iloc[:, 3:].to_numpy())) <= {"1", "2", "3"}


def test_gap_village_and_partial_profile(demo):
    ws, s = demo
    codes = [p.name for p in sorted((ws.raw / "villages").iterdir())]
    assert len(codes) == 4
    gap = ws.village_raw(s.special["gap"])
    assert gap.is_dir() and (gap / "places.geojson").is_file()
    assert not (gap / "profile.yaml").exists() and not (gap / "votes.csv").exists()
    for code in codes:
        if code != s.special["gap"]:
            assert (ws.village_raw(code) / "profile.yaml").is_file() and (ws.village_raw(code) / "votes.csv").is_file()
    partial = yaml.safe_load((ws.village_raw(s.special["partial"]) / "profile.yaml").read_text(encoding="utf-8"))
    empty = [k for k, v in partial.items() if v in ("", [], None)]
    assert {"vision", "tourism", "funding"} <= set(empty)
    template = yaml.safe_load((ROOT / "docs/profile-template.yaml").read_text(encoding="utf-8"))
    assert list(partial) == list(template)


def test_village_folder_contents(demo):
    from PIL import Image

    ws, s = demo
    area_names = {a["name_th"] for a in issue_areas()} | {a["key"] for a in issue_areas()}
    kinds = {k["name_th"] for k in capital_kinds()}
    categories = {"รายได้จากอาชีพหลัก", "รายได้อื่น", "รายจ่ายเพื่อการผลิต", "รายจ่ายที่จำเป็น", "รายจ่ายที่ไม่จำเป็น", "ชำระหนี้", "เงินออม"}
    for vdir in sorted((ws.raw / "villages").iterdir()):
        places = json.loads((vdir / "places.geojson").read_text(encoding="utf-8"))["features"]
        assert 5 <= len(places) <= 10
        assert all(f["geometry"]["type"] == "Point" and f["properties"]["name_th"] and f["properties"]["kind"] for f in places)

        cap = pd.read_csv(vdir / "capital.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
        th = thai_headers("capital")
        assert list(cap.columns) == [th[c] for c in ("kind", "name", "description", "quantity", "value_baht")]
        assert set(cap[th["kind"]]) == kinds
        assert (vdir / "capital.csv").read_bytes().startswith(b"\xef\xbb\xbf")

        acc = pd.read_excel(vdir / "accounts.xlsx", dtype={thai_headers("accounts")["house_code"]: str})
        ta = thai_headers("accounts")
        assert set(acc[ta["category"]]) <= categories
        assert acc[ta["house_code"]].str.startswith(vdir.name).all() and 5 <= acc[ta["house_code"]].nunique() <= 10
        assert acc[ta["date"]].str.fullmatch(r"\d\d/0[1-3]/2562").all()
        for _, g in acc.groupby(ta["house_code"], sort=False):
            running = (g[ta["income"]].fillna(0) - g[ta["expense"]].fillna(0)).cumsum()
            assert (running.to_numpy() == g[ta["balance"]].to_numpy()).all()

        photos = sorted((vdir / "photos").iterdir())
        assert 2 <= len(photos) <= 3
        for p in photos:
            assert p.stat().st_size < 30_000
            Image.open(p).verify()

        if vdir.name == s.special["gap"]:
            continue
        with open(vdir / "votes.csv", encoding="utf-8-sig", newline="") as f:
            votes = list(csv.DictReader(f))
        tv = thai_headers("votes")
        assert 5 <= len(votes) <= 8
        counts = [int(v[tv["votes"]]) for v in votes]
        assert len(counts) - len(set(counts)) >= 1  # a tie
        assert all(v[tv["issue_area"]] in area_names for v in votes)
        assert all(dt.datetime.fromisoformat(v[tv["recorded_at"]]).tzinfo is not None for v in votes)


# ---------------------------------------------------------------------------------------------
# csv, aggregates, scaling, refusals
# ---------------------------------------------------------------------------------------------
def test_csv_holds_what_xlsx_holds(demo, demo_csv):
    for year, table in ((2562, "persons"),):
        p_csv = demo_csv[0].raw / f"bmn/{year}/bmn{year}_{table}_9902.csv"
        assert p_csv.read_bytes().startswith(b"\xef\xbb\xbf")
        from_csv = read_table(p_csv, table)
        from_xlsx = read_table(demo[0].raw / f"bmn/{year}/bmn{year}_{table}_9902.xlsx", table)
        pd.testing.assert_frame_equal(from_csv, from_xlsx)


def test_aggregates_count_the_same_households(years, tmp_path):
    ws = Workspace(tmp_path / "agg")
    synthesise(ws, seed=SEED, villages=4, years=(2561,), fmt="csv", village_folders=0)
    s = synthesise(ws, seed=SEED, villages=4, layout="aggregates", village_folders=0)
    assert (s.layout, s.fmt) == ("aggregates", "csv")
    assert not list((ws.raw / "bmn").rglob("*_99*"))  # the records of the earlier run are gone
    for y in YEARS:
        agg = pd.read_csv(ws.raw / f"aggregates/{y}/{y % 100}_tpmap_village_99.csv", dtype={"village_ID": str, "province_ID": str})
        assert agg["village_ID"].str.fullmatch(r"99\d{8}").all()
        assert set(agg["province_ID"]) == {"99"}
        split = agg[agg["village_ID"].str[:8] == s.special["split"]]
        assert sorted(split["village_ID"].str[8:]) == ["01", "02"]
        assert list(agg.columns[:6]) == ["village_ID", "household.CNT", "HOUSEMEMBER_CNT", "ELDERLY_CNT", "DISABLED_CNT", "CHRONICPATIENT_CNT"]
        summed = agg.assign(village_code=agg["village_ID"].str[:8]).drop(columns=["village_ID", "province_ID"]).groupby("village_code").sum()

        hh, ps = years[y]  # the records of the same seed, read back from its files
        assert summed["household.CNT"].to_dict() == hh.groupby("village_code").size().to_dict()
        assert summed["HOUSEMEMBER_CNT"].to_dict() == ps.groupby(ps["house_code"].str[:8]).size().to_dict()
        elderly = ps[ps["age_years"] >= 60].groupby(ps["house_code"].str[:8]).size()
        assert summed["ELDERLY_CNT"].to_dict() == elderly.to_dict()
        h, p = processed_frames(hh, ps)
        expected = rules.village_member_counts(h, p, y).set_index(["village_code", "indicator"])
        for i in range(1, 32):
            assert summed[f"indicator{i}.ALL"].to_dict() == expected.xs(i, level="indicator")["all"].to_dict(), i
            assert summed[f"indicator{i}.CNT"].to_dict() == expected.xs(i, level="indicator")["cnt"].to_dict(), i
        # the member convention: a household indicator covers every member
        assert (summed["indicator4.ALL"] == summed["HOUSEMEMBER_CNT"]).all()


def test_persons_sets_the_scale(tmp_path):
    ws = Workspace(tmp_path)
    s = synthesise(ws, seed=3, persons=4_000, years=(2561,), fmt="auto", village_folders=0)
    assert s.villages == 6 and s.fmt == "xlsx"
    assert 0.75 * 4_000 <= s.persons[2561] <= 1.25 * 4_000
    assert sorted(s.households) == [2561] and not (ws.raw / "bmn/2562").exists()


def test_refuses_bad_arguments_before_writing(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(ValueError):
        synthesise(ws, villages=3)
    with pytest.raises(ValueError):
        synthesise(ws, layout="wide")
    with pytest.raises(ValueError):
        synthesise(ws, fmt="ods")
    with pytest.raises(DefinitionError):
        synthesise(ws, villages=4, years=(2563,))  # no income threshold for 2563
    assert not ws.raw.exists()


# ---------------------------------------------------------------------------------------------
# programme inputs: the demo shows every selection rule at work
# ---------------------------------------------------------------------------------------------
def test_demo_programme_files_give_the_intended_targets(tmp_path):
    from vilwork.indicators import compute_all
    from vilwork.ingest import ingest
    from vilwork.selection import select

    ws = Workspace(tmp_path)
    synthesise(ws, seed=SEED, villages=12)
    prog = ws.raw / "programme"
    assert (prog / "2562" / "candidates_99.xlsx").is_file()
    prev = list(csv.reader((prog / "previous_99.csv").open(encoding="utf-8-sig")))
    assert prev[1][:3] == ["2558", "อำเภอ", "99010101"]
    ingest(ws)
    compute_all(ws)
    res = select(ws, 2562)
    picks = {(r.level, r.village_code) for r in res.targets.itertuples()}
    # 99010101 scores 5/5 but was a district information village in 2558: skipped, and said so;
    # 99010102 is the first village of district 9901 that is neither it nor the village with gaps.
    assert picks == {("district", "99010102"), ("district", "99020101"), ("province", "99010102")}
    first = res.candidates.set_index("village_code").loc["99010101"]
    assert not bool(first["eligible"])
    # nothing in the demo blocks a district
    assert res.problems.empty
