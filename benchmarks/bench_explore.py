"""Benchmark the explorer's update after a widget change on a province of 1,000 villages.

Usage::

    .venv/bin/python benchmarks/bench_explore.py [--districts 10] [--tambons 10] [--villages 10]
                                                 [--vertices 40] [--rounds 12] [--keep DIR]

Writes a synthetic workspace (a fictional province 98: districts × tambons × villages, default
10 × 10 × 10 = 1,000 villages, two survey years, all 31 indicators and 5 groups at all four
levels, one polygon of ``--vertices`` points per village) into a temporary folder, builds the
explorer (:class:`vilwork.explore.Explorer`, no browser) and then changes one widget at a time as
a user would: another village, another indicator, another group, the other survey year, a
district, a tambon, the map level, the audience. For each change it times what the kernel does
before the browser can draw: picking the precomputed arrays, binning into the colour bands,
building the map (an SVG of all polygons of the area), the ranked bars, the comparison table and
the panel, and encoding every changed widget state as the JSON the kernel sends. Prints
p50/p95/max per kind of change and overall, plus the one-off load time.

``--browser`` also serves the workspace with ``vilwork explore`` and measures, in headless
Chromium, the time from choosing another village (in the dropdown, or by a click on its bar) to
the new map, bars and table painted (kernel, websocket and drawing included).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vilwork.registry import indicator_set  # noqa: E402

PROVINCE = "98"
YEARS = (2561, 2562)


def _codes(nd: int, nt: int, nv: int) -> list[str]:
    return [f"{PROVINCE}{d:02d}{t:02d}{v:02d}" for d in range(1, nd + 1) for t in range(1, nt + 1) for v in range(1, nv + 1)]


def _village_rows(codes: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """Indicator rows of every village as the engine writes them (official, member, group)."""
    frames = []
    for year in YEARS:
        s = indicator_set(year)
        ind = s.indicators
        n = len(codes)
        skill = rng.beta(8, 2, n)  # how well each village does overall
        for i in ind.index:
            unit = str(ind.at[i, "unit"])
            grp = int(ind.at[i, "group"])
            base = rng.beta(9, 1.5)
            p = np.clip(base * (0.6 + 0.4 * skill) + rng.normal(0, 0.05, n), 0, 1)
            for u, scale in ((unit, 1.0), ("member", 3.2)):
                surveyed = rng.integers(15, 220, n) if u != "member" else None
                if u == "member":
                    surveyed = (frames[-1]["surveyed"].to_numpy() * scale).astype(int) + 1
                passed = rng.binomial(surveyed, p)
                frames.append(pd.DataFrame({"year": year, "level": "village", "code": codes, "indicator": float(i), "group": grp,
                                            "unit": u, "surveyed": surveyed, "passed": passed, "failed": surveyed - passed,
                                            "source": "records"}))
        for g in s.groups.index:
            for u in ("household", "member"):
                surveyed = rng.integers(40, 300, n)
                passed = rng.binomial(surveyed, np.clip(0.3 + 0.6 * skill, 0, 1))
                frames.append(pd.DataFrame({"year": year, "level": "village", "code": codes, "indicator": np.nan, "group": int(g),
                                            "unit": u, "surveyed": surveyed, "passed": passed, "failed": surveyed - passed,
                                            "source": "records"}))
    df = pd.concat(frames, ignore_index=True)
    df["pass_rate"] = df["passed"] / df["surveyed"]
    return df


def _roll_up(village: pd.DataFrame, level: str, width: int) -> pd.DataFrame:
    v = village.assign(code=village["code"].str[:width])
    keys = ["year", "code", "indicator", "group", "unit"]
    out = v.groupby(keys, dropna=False, as_index=False)[["surveyed", "passed", "failed"]].sum()
    out["level"] = level
    out["source"] = "records"
    out["pass_rate"] = out["passed"] / out["surveyed"]
    return out


def _polygons(codes: list[str], nt: int, nv: int, vertices: int, rng: np.random.Generator) -> dict:
    """A jittered grid: each village a wobbly cell of ``vertices`` points (about 3 km wide)."""
    feats = []
    size = 0.03
    side = int(np.ceil(np.sqrt(len(codes))))
    for k, code in enumerate(codes):
        r, c = divmod(k, side)
        x0, y0 = 100.0 + c * size, 15.0 + r * size
        t = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
        rad = size * 0.5 * (1 + rng.normal(0, 0.05, vertices))
        xs = x0 + size / 2 + np.clip(rad * np.cos(t), -size / 2, size / 2)
        ys = y0 + size / 2 + np.clip(rad * np.sin(t), -size / 2, size / 2)
        ring = [[float(x), float(y)] for x, y in zip(xs, ys)] + [[float(xs[0]), float(ys[0])]]
        feats.append({"type": "Feature", "properties": {"village_code": code, "name_th": f"บ้านทดสอบ {code[-2:]}"},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": feats}


def synthetic_province(root: Path, districts: int = 10, tambons: int = 10, villages: int = 10, vertices: int = 40,
                       seed: int = 5) -> list[str]:
    """Write the processed files and village polygons the explorer reads; return the village codes."""
    rng = np.random.default_rng(seed)
    codes = _codes(districts, tambons, villages)
    proc = root / "data" / "processed"
    proc.mkdir(parents=True, exist_ok=True)
    vil = _village_rows(codes, rng)
    cols = ["year", "level", "code", "indicator", "group", "unit", "surveyed", "passed", "failed", "pass_rate", "source"]
    vil[cols].to_parquet(proc / "indicators_village.parquet", index=False)
    for level, width in (("tambon", 6), ("district", 4), ("province", 2)):
        _roll_up(vil, level, width)[cols].to_parquet(proc / f"indicators_{level}.parquet", index=False)
    places = [{"code": PROVINCE, "level": "province", "name_th": "จังหวัดทดสอบ", "name_en": "Test province", "parent_code": None}]
    for d in sorted({c[:4] for c in codes}):
        places.append({"code": d, "level": "district", "name_th": f"อำเภอ {d}", "name_en": f"District {d}", "parent_code": d[:2]})
    for tb in sorted({c[:6] for c in codes}):
        places.append({"code": tb, "level": "tambon", "name_th": f"ตำบล {tb}", "name_en": f"Tambon {tb}", "parent_code": tb[:4]})
    for c in codes:
        places.append({"code": c, "level": "village", "name_th": f"บ้านทดสอบ {c}", "name_en": f"Ban {c}", "parent_code": c[:6]})
    pd.DataFrame(places).to_parquet(proc / "places.parquet", index=False)
    geo = root / "data" / "raw" / "geo"
    geo.mkdir(parents=True, exist_ok=True)
    (geo / f"villages_{PROVINCE}.geojson").write_text(json.dumps(_polygons(codes, tambons, villages, vertices, rng)), encoding="utf-8")
    return codes


def _wire_bytes(app) -> int:
    """Encode what the kernel would send for the changed widgets (the JSON of their states)."""
    return sum(len(json.dumps(w.value)) for w in (app.w_map, app.w_bars, app.w_table, app.w_detail, app.w_foot))


def measure(root: Path, rounds: int, seed: int = 7) -> tuple[pd.DataFrame, dict]:
    from vilwork.explore import Explorer, load_explore_data

    t0 = time.perf_counter()
    data = load_explore_data(root)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    app = Explorer(data)
    t_build = time.perf_counter() - t0
    rng = random.Random(seed)
    villages = [c for c in data.codes["village"] if c in data.valued]
    districts = sorted({c[:4] for c in villages})
    keys = [k for k in data.keys[data.years[-1]] if not k.startswith("g")]
    groups = sorted({int(k[1:]) for k in data.keys[data.years[-1]] if k.startswith("g")})
    rows = []

    def timed(kind: str, pick: str | None = None, **kw):
        t = time.perf_counter()
        if pick:
            app.pick(pick)  # what a click on a map area, a bar or a table row does
        else:
            app.choose(**kw)
        nbytes = _wire_bytes(app)
        rows.append({"change": kind, "ms": 1000 * (time.perf_counter() - t), "bytes": nbytes,
                     "level": app.w_level.value, "units": len(app.data.children(app.w_level.value, ""))})

    timed("warm-up", village=villages[0])
    rows.clear()
    for _ in range(rounds):
        app.choose(district=None)  # the whole province: all 1,000 polygons on the map
        timed("village", village=rng.choice(villages))
        timed("click on a bar", pick=rng.choice([c for c in re.findall(r'class="vx-btr" data-code="(\d{8})"', app.w_bars.value)
                                                 if c != app.w_village.value]))
        timed("click on the map", pick=rng.choice([v for v in villages if v != app.w_village.value]))
        timed("indicator", indicator=rng.choice(keys))
        timed("group", group=rng.choice(groups))
        timed("year", year=rng.choice([y for y in data.years if y != app.w_year.value] or data.years))
        timed("audience", audience="internal" if app.w_audience.value == "public" else "public")
        timed("map level: tambon", level="tambon")
        timed("map level: village", level="village")
        timed("district", district=rng.choice(districts))
        timed("tambon", tambon=rng.choice([v for _, v in app.w_tambon.options if v]))
        timed("district: all", district=None)
    return pd.DataFrame(rows), {"load_s": t_load, "build_s": t_build, "villages": len(villages)}


CLI = "import sys; from vilwork.cli import main; sys.exit(main(sys.argv[1:]))"


def browser_latency(root: Path, changes: int = 15) -> pd.DataFrame:
    """Serve ``root`` with ``vilwork explore`` and time village changes in headless Chromium:
    from the dropdown's change event to the new state painted (two animation frames after the
    bars show the new village), and the kernel's own share (the footer's ``data-update-ms``)."""
    import os
    import signal
    import socket
    import subprocess
    import threading

    from playwright.sync_api import sync_playwright

    from vilwork.publish.browser import find_chromium

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", CLI, "explore", "--root", str(root), "--no-browser", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    found: list[str] = []
    threading.Thread(target=lambda: [found.append(m.group(1)) for line in proc.stdout
                                     for m in [re.search(r"(http://127\.0\.0\.1:\d+/)", line)] if m], daemon=True).start()
    rows = []
    try:
        t0 = time.time()
        while not found:
            if proc.poll() is not None or time.time() - t0 > 300:
                raise RuntimeError("vilwork explore did not start")
            time.sleep(0.2)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=find_chromium(), headless=True,
                                  args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = b.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(found[0], timeout=300_000)
            page.wait_for_selector(".vx-bl", timeout=300_000)
            select = page.locator(".widget-dropdown").filter(has=page.get_by_text("หมู่บ้าน", exact=True)).locator("select")
            labels = select.evaluate("s => Array.from(s.options).map(o => o.textContent)")

            def timed(kind: str, code: str, act) -> None:
                """Do ``act``, then wait until the bars show ``code`` chosen and two frames are painted."""
                t = time.perf_counter()
                act()
                page.wait_for_function("c => { const e = document.querySelector('.vx-bl.vx-bc'); return e && e.textContent.includes(c); }",
                                       arg=code, timeout=60_000, polling=10)
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                ms = 1000 * (time.perf_counter() - t)
                kernel = float(page.evaluate("() => +document.querySelector('.vx-foot').dataset.updateMs"))
                rows.append({"change": kind, "end to end ms": ms, "kernel ms": kernel})
                page.wait_for_timeout(200)

            step = max(1, len(labels) // changes)
            for label in labels[step // 2::step][:changes]:
                code = re.search(r"\((\d{8})\)", label).group(1)
                timed("dropdown", code, lambda: select.select_option(label=label))
            for _ in range(changes):  # a click on a bar of another village
                codes = page.evaluate("() => Array.from(document.querySelectorAll('.vx-btr[data-code]:not(:has(.vx-bc))')).map(e => e.dataset.code)")
                code = codes[len(rows) * 7 % len(codes)]
                timed("click on a bar", code, lambda: page.locator(f'.vx-btr[data-code="{code}"]').click())
            b.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--districts", type=int, default=10)
    ap.add_argument("--tambons", type=int, default=10)
    ap.add_argument("--villages", type=int, default=10)
    ap.add_argument("--vertices", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--keep", default=None, help="write the workspace here and keep it")
    ap.add_argument("--browser", action="store_true", help="also time village changes (dropdown, click on a bar) end to end in headless Chromium")
    a = ap.parse_args(argv)
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bench_explore_"))
    try:
        t0 = time.perf_counter()
        codes = synthetic_province(root, a.districts, a.tambons, a.villages, a.vertices)
        print(f"synthetic province {PROVINCE}: {len(codes):,} villages, {a.vertices} vertices each, "
              f"written in {time.perf_counter() - t0:.1f} s ({root})")
        df, info = measure(root, a.rounds)
        print(f"load (DuckDB read of every level, polygons flattened): {info['load_s']:.2f} s; "
              f"first build: {info['build_s']:.2f} s")
        q = df.groupby("change", sort=False)["ms"].describe(percentiles=[0.5, 0.95])
        kb = df.groupby("change", sort=False)["bytes"].median() / 1024
        table = pd.DataFrame({"n": q["count"].astype(int), "p50 ms": q["50%"].round(1), "p95 ms": q["95%"].round(1),
                              "max ms": q["max"].round(1), "sent kB (median)": kb.round(0).astype(int)})
        print(table.to_string())
        p50, p95 = np.percentile(df["ms"], [50, 95])
        print(f"ALL {len(df)} changes on {info['villages']:,} villages: p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
              f"max {df['ms'].max():.0f} ms (target < 300 ms)")
        code = 0 if p95 < 300 else 1
        if a.browser:
            br = browser_latency(root)
            for kind, g in br.groupby("change", sort=False):
                q = g[["end to end ms", "kernel ms"]].quantile([0.5, 0.95])
                print(f"BROWSER {len(g)} village changes by {kind} (-> map, bars and table painted): "
                      f"p50 {q.at[0.5, 'end to end ms']:.0f} ms, p95 {q.at[0.95, 'end to end ms']:.0f} ms; "
                      f"of which the kernel p50 {q.at[0.5, 'kernel ms']:.0f} ms")
                code = code or int(q.at[0.95, "end to end ms"] >= 300)
        return code
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
