"""Benchmark ingest on a generated province: rows per second and peak memory.

Usage::

    python benchmarks/bench_ingest.py                 # 1,000,000 persons
    python benchmarks/bench_ingest.py --persons 5000000 --keep /tmp/bench

The CSV files (Thai headers, about 3 persons per household) are generated with numpy in a few
seconds; ingest then runs in a child process so its peak RSS (``resource.getrusage``) is its
own, not the generator's. Nothing here depends on ``vilwork.synth``.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

YEAR = 2561


def _citizen_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    base = 110_000_000_000 + rng.permutation(n).astype(np.int64) * 7  # unique 12-digit numbers
    digits = (base[:, None] // 10 ** np.arange(11, -1, -1, dtype=np.int64)) % 10
    x = (digits @ np.arange(13, 1, -1)) % 11
    return (base * 10 + (11 - x) % 10).astype(str)


def generate(raw: Path, persons: int, seed: int = 1) -> tuple[int, int]:
    """Write one household CSV and one person CSV (Thai headers) for ``persons`` persons."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from vilwork.registry import thai_headers

    rng = np.random.default_rng(seed)
    households = max(persons // 3, 1)
    villages = max(households // 150, 1)
    folder = raw / "bmn" / str(YEAR)
    folder.mkdir(parents=True, exist_ok=True)

    # village codes 99 DD TT VV with every part 01..99
    v = np.arange(villages)
    village = 99_000_000 + (v // 9801 % 99 + 1) * 10_000 + (v // 99 % 99 + 1) * 100 + (v % 99 + 1)
    hh_village = np.repeat(village, -(-households // villages))[:households]
    house = hh_village.astype(np.int64) * 1000 + np.tile(np.arange(1, 1000), -(-households // 999))[:households]
    hh = thai_headers("households")
    answers01 = np.array(["1", "0"])
    cols = {
        hh["house_code"]: house.astype(str),
        hh["village_code"]: hh_village.astype(str),
        hh["house_no"]: (np.arange(households) % 300 + 1).astype(str),
        hh["head_name"]: np.full(households, "นาย ทดสอบ"),
        hh["in_municipality"]: np.array(["ในเขต", "นอกเขต"])[rng.integers(0, 2, households)],
    }
    for q in [c for c in hh if c.startswith("q")]:
        cols[hh[q]] = answers01[rng.integers(0, 2, households)]
    for m in ("income_main", "income_secondary", "income_other", "income_own_produce", "exp_necessary"):
        cols[hh[m]] = rng.integers(0, 200_000, households).astype(str)
    pacsv.write_csv(pa.table(cols), folder / f"bmn{YEAR}_households_99.csv")

    pp = thai_headers("persons")
    members = rng.integers(0, households, persons)
    members[:households] = np.arange(households)  # every household has someone
    members.sort()
    days = np.arange(np.datetime64("1920-01-01"), np.datetime64("2018-03-01"))
    pool = np.array([f"{d.day:02d}/{d.month:02d}/{d.year + 543}" for d in days.astype(object)])
    answers = np.array(["1", "0", ""])
    cols = {
        pp["house_code"]: house[members].astype(str),
        pp["person_no"]: np.ones(persons, dtype=np.int64).astype(str),
        pp["title"]: np.array(["นาย", "นาง", "นางสาว", "เด็กชาย"])[rng.integers(0, 4, persons)],
        pp["first_name"]: np.full(persons, "ทดสอบ"),
        pp["last_name"]: np.full(persons, "ใจดี"),
        pp["citizen_id"]: _citizen_ids(persons, rng),
        pp["sex"]: np.array(["ชาย", "หญิง"])[rng.integers(0, 2, persons)],
        pp["birth_date"]: pool[rng.integers(0, len(pool), persons)],
        pp["relation"]: np.array(["หัวหน้าครัวเรือน", "คู่สมรส", "บุตร"])[rng.integers(0, 3, persons)],
        pp["education"]: np.array(["ประถมศึกษา", "มัธยมศึกษา", "ปริญญาตรี"])[rng.integers(0, 3, persons)],
        pp["occupation"]: np.array(["เกษตรกร", "รับจ้าง", "ค้าขาย"])[rng.integers(0, 3, persons)],
        pp["health"]: np.array(["ปกติ", "ปกติ", "ปกติ", "พิการ", "ป่วยเรื้อรัง"])[rng.integers(0, 5, persons)],
        pp["welfare_card"]: np.array(["มี", "ไม่มี"])[rng.integers(0, 2, persons)],
    }
    for q in [c for c in pp if c.startswith("q")]:
        cols[pp[q]] = answers[rng.integers(0, 3, persons)]
    pacsv.write_csv(pa.table(cols), folder / f"bmn{YEAR}_persons_99.csv")
    return households, persons


def run_child(root: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from vilwork.ingest import ingest
    from vilwork.workspace import Workspace

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    s = ingest(Workspace(root))
    secs = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    peak_mb = r1.ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"rows_in": s.rows_in, "rows_accepted": s.rows_accepted, "rows_quarantined": s.rows_quarantined,
                      "seconds": secs, "cpu_seconds": cpu, "peak_rss_mb": peak_mb}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--persons", type=int, default=1_000_000)
    p.add_argument("--keep", help="workspace folder to keep (default: a temporary folder, removed)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        run_child(a.child)
        return 0
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="vilwork-bench-"))
    try:
        shutil.rmtree(root / "data", ignore_errors=True)
        shutil.rmtree(root / ".vilwork", ignore_errors=True)
        t0 = time.perf_counter()
        hh, pp = generate(root / "data" / "raw", a.persons)
        gen = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in (root / "data" / "raw").rglob("*.csv")) / 1e6
        print(f"generated {hh:,} households + {pp:,} persons ({size:,.0f} MB of CSV) in {gen:.1f} s")
        out = subprocess.run([sys.executable, __file__, "--child", str(root)], capture_output=True, text=True)
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return out.returncode
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"ingest: {r['rows_in']:,} rows in ({r['rows_accepted']:,} accepted, {r['rows_quarantined']:,} quarantined) "
              f"in {r['seconds']:.1f} s = {r['rows_in'] / r['seconds']:,.0f} rows/s "
              f"(CPU {r['cpu_seconds']:.1f} s = {r['rows_in'] / r['cpu_seconds']:,.0f} rows per CPU-second); "
              f"peak RSS {r['peak_rss_mb']:,.0f} MB")
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
