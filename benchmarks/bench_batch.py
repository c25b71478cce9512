"""Benchmark ``vilwork batch`` against the loop a user would write, and profile a village.

Usage::

    .venv/bin/python benchmarks/bench_batch.py [--villages N] [--workers W] [--root DIR]
                                               [--skip-naive] [--naive-villages K] [--profile K]

Builds a demo workspace of N villages (default 24: ``synth --villages N``, ingest, indicators)
in a temporary folder (or uses ``--root``), then measures in the same run:

(a) ``vilwork batch --root DIR`` as a user runs it (a subprocess; warm Dask workers, one per
    core);
(b) the naive loop: for each village, the papermill CLI on each of the four stage notebooks (a
    fresh kernel each, fresh imports, kaleido's Chromium started again in stage 4), writing the
    same outputs to a folder per village, one village after the other. With ``--naive-villages
    K`` only the first K villages are run and the loop's time is scaled to N (printed as such).

It prints both times, the ratio, seconds per village per core, the extrapolation to the 878
target villages and to all 75,086 villages, the machine's load average sampled during each
measurement (the machine is shared: a busy neighbour inflates both), and the CPU seconds each
used (load-independent). It checks that both produced the same files for every village.

``--profile K`` runs K villages in this process on the warm engine and breaks the time of a
village down by stage and, inside stage 4, by renderer (documents, SVG chart export, the PDF,
HTML, slides, map, cards and video frames via the persistent Chromium, ffmpeg), wall and CPU
seconds (CPU includes child processes, live ones too: the persistent Chromium, ffmpeg).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_VILLAGES = 878
ALL_VILLAGES = 75_086
VENV_BIN = Path(sys.executable).parent
STAGES = ("1-understand", "2-needs", "3-build", "4-publish")


# ---------------------------------------------------------------------------------------------
# measuring


class LoadSampler:
    """Samples the 1-minute load average every few seconds in a thread."""

    def __init__(self, every: float = 5.0):
        self.every, self.samples, self._stop = every, [], threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self.every)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    def summary(self) -> str:
        s = self.samples or [os.getloadavg()[0]]
        return f"load avg {min(s):.1f}–{max(s):.1f} (mean {sum(s) / len(s):.1f}) on {os.cpu_count()} cores"


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_now() -> float:
    """CPU seconds of this process, its finished children, and its live descendants."""
    total = time.process_time() + _children_cpu()
    try:
        import psutil

        for p in psutil.Process().children(recursive=True):
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
    except ImportError:
        pass
    return total


def run_timed(cmd: list[str], **kw) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run a command; return (wall seconds, CPU seconds of it and its descendants, result)."""
    c0, t0 = _children_cpu(), time.perf_counter()
    res = subprocess.run(cmd, **kw)
    return time.perf_counter() - t0, _children_cpu() - c0, res


# ---------------------------------------------------------------------------------------------
# the workspace


def make_workspace(root: Path, villages: int) -> None:
    vw = str(VENV_BIN / "vilwork")
    for step in (["synth", "--villages", str(villages)], ["ingest"], ["indicators"]):
        subprocess.run([vw, *step, "--root", str(root)], check=True, stdout=subprocess.DEVNULL)


def village_codes(root: Path) -> list[str]:
    from vilwork.village import list_villages
    from vilwork.workspace import Workspace

    return list_villages(Workspace(root))


# ---------------------------------------------------------------------------------------------
# (a) the batch and (b) the naive loop


def bench_batch(root: Path, workers: int | None) -> dict:
    cmd = [str(VENV_BIN / "vilwork"), "batch", "--root", str(root)]
    if workers:
        cmd += ["--workers", str(workers)]
    with LoadSampler() as load:
        wall, cpu, res = run_timed(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        print(res.stdout[-3000:], res.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"vilwork batch failed (exit {res.returncode})")
    ledger = (root / "reports" / "_batch" / "ledger.csv").read_text(encoding="utf-8-sig")
    rows = ledger.strip().splitlines()[1:]
    stages = {s: [] for s in STAGES}
    import csv

    for r in csv.DictReader(ledger.splitlines()):
        st = json.loads(r["stage_seconds"] or "{}")
        for s in STAGES:
            if s in st:
                stages[s].append(st[s])
    return {"wall": wall, "cpu": cpu, "load": load.summary(), "villages": len(rows), "stdout": res.stdout,
            "stage_mean": {s: sum(v) / len(v) for s, v in stages.items() if v}}


def bench_naive(root: Path, codes: list[str], out_base: Path) -> dict:
    """papermill CLI per stage notebook, fresh kernel each, one village after the other."""
    from vilwork.run import notebooks_dir

    nb = notebooks_dir()
    pm = str(VENV_BIN / "papermill")
    times = []
    with LoadSampler() as load:
        c0, t0 = _children_cpu(), time.perf_counter()
        for code in codes:
            v0 = time.perf_counter()
            tmp = out_base / f".{code}.tmp"
            (tmp / "notebooks").mkdir(parents=True, exist_ok=True)
            for stage in STAGES:
                subprocess.run([pm, str(nb / f"{stage}.ipynb"), str(tmp / "notebooks" / f"{stage}.ipynb"),
                                "-p", "village_code", code, "-p", "root", str(root), "-p", "out_dir", str(tmp),
                                "--cwd", str(root), "--no-progress-bar"],
                               check=True, capture_output=True)
            final = out_base / code
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
            times.append(time.perf_counter() - v0)
        wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    return {"wall": wall, "cpu": cpu, "load": load.summary(), "villages": len(codes), "per_village": times}


_VOLATILE = re.compile(r"-[0-9a-f]{10}(\.\w+)$")


def same_files(a: Path, b: Path) -> list[str]:
    """Differences between two report folders' file lists (hashed media names normalised)."""
    def names(d: Path) -> set[str]:
        return {_VOLATILE.sub(r"-H\1", str(p.relative_to(d))) for p in d.rglob("*") if p.is_file()}

    na, nb = names(a), names(b)
    return sorted(na ^ nb)


# ---------------------------------------------------------------------------------------------
# profile: where the time of a village goes


def profile(root: Path, codes: list[str]) -> list[dict]:
    """Run villages on the warm engine in this process, timing stages and stage-4 renderers."""
    from vilwork import engine

    t0 = time.perf_counter()
    c0 = cpu_now()
    engine.preload()
    setup = (time.perf_counter() - t0, cpu_now() - c0)
    import vilwork.km as km
    import vilwork.publish as P
    import vilwork.publish.browser as B
    import vilwork.publish.cards as C
    import vilwork.publish.html as H
    import vilwork.publish.maps as M
    import vilwork.publish.pdf as PDF
    import vilwork.publish.slides as S
    import vilwork.publish.video as V

    acc: dict[str, list[float]] = {}

    def timed(name, fn):
        @functools.wraps(fn)
        def g(*a, **k):
            w0, c0 = time.perf_counter(), cpu_now()
            try:
                return fn(*a, **k)
            finally:
                x = acc.setdefault(name, [0.0, 0.0, 0])
                x[0] += time.perf_counter() - w0
                x[1] += cpu_now() - c0
                x[2] += 1
        return g

    # chart export is called from inside render_pdf and render_static_map: time it apart (the
    # rows starting with spaces are parts of the rows above them)
    PDF.figure_image = timed("  of which chart export (SVG)", PDF.figure_image)
    B.DevToolsBrowser.screenshot = timed("  of which Chromium screenshots", B.DevToolsBrowser.screenshot)
    V.encode_frames = timed("  of which ffmpeg encode", V.encode_frames)
    for mod, name, label in [(km, "vdr_document", "documents"), (km, "tdr_document", "documents"),
                             (km, "km_document", "documents"), (P, "install_assets", "assets"),
                             (M, "render_map", "map.html (folium)"), (M, "render_static_map", "map.svg (plotly)"),
                             (H, "render_html", "html pages"), (PDF, "render_pdf", "km.pdf (print+charts)"),
                             (S, "render_slides", "slides.html"), (C, "render_cards", "cards (Chromium)"),
                             (V, "render_video", "video (frames+ffmpeg)")]:
        setattr(mod, name, timed(label, getattr(mod, name)))
    for name in ("render_map", "render_static_map", "render_html", "render_pdf", "render_slides", "render_cards", "render_video"):
        P.__dict__.pop(name, None)
    P.render_map, P.render_static_map, P.render_html = M.render_map, M.render_static_map, H.render_html
    P.render_pdf, P.render_slides, P.render_cards, P.render_video = PDF.render_pdf, S.render_slides, C.render_cards, V.render_video
    orig_run = subprocess.run

    def run(cmd, *a, **k):
        name = "  of which ffmpeg (other)" if "ffmpeg" in str(cmd[0]) else "  of which Chromium launches" if "chrom" in str(cmd[0]) else None
        if not name:
            return orig_run(cmd, *a, **k)
        w0, c0 = time.perf_counter(), _children_cpu()
        try:
            return orig_run(cmd, *a, **k)
        finally:
            x = acc.setdefault(name, [0.0, 0.0, 0])
            x[0] += time.perf_counter() - w0
            x[1] += _children_cpu() - c0
            x[2] += 1
    subprocess.run = run
    B.subprocess.run = run

    from vilwork.run import run_village
    from vilwork.workspace import Workspace

    ws = Workspace(root)
    out = []
    for code in codes:
        acc.clear()
        w0, c0 = time.perf_counter(), cpu_now()
        r = run_village(ws, code, engine="vilwork")
        out.append({"village": code, "wall": time.perf_counter() - w0, "cpu": cpu_now() - c0,
                    "stages": dict(r.stage_seconds), "parts": {k: tuple(v) for k, v in acc.items()},
                    "bytes": sum(p.stat().st_size for p in r.out_dir.rglob("*") if p.is_file()),
                    "assets_bytes": sum(p.stat().st_size for p in (r.out_dir / "assets").rglob("*") if p.is_file()),
                    "load": os.getloadavg()[0]})
    try:
        import psutil

        me = psutil.Process()
        rss = me.memory_info().rss + sum(p.memory_info().rss for p in me.children(recursive=True))
    except Exception:
        rss = 0
    for o in out:
        o["setup"] = setup
        o["rss_mb"] = rss / 1e6
    return out


def print_profile(rows: list[dict]) -> None:
    print(f"\nProfile: {len(rows)} village(s) on the warm engine in one process "
          f"(setup once: {rows[0]['setup'][0]:.1f} s wall, {rows[0]['setup'][1]:.1f} s CPU; "
          f"RSS with children {rows[0]['rss_mb']:.0f} MB)")
    for r in rows:
        print(f"  {r['village']}: {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU, load {r['load']:.1f}, "
              f"{r['bytes'] / 1e6:.2f} MB ({r['assets_bytes'] / 1e6:.2f} MB shared assets); stages "
              + ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items()))
    names = sorted({k for r in rows for k in r["parts"]}, key=lambda k: (k.startswith("  "), k))
    print(f"  {'stage 4 part (mean per village)':<34} {'wall s':>8} {'CPU s':>8} {'calls':>6}")
    n = len(rows)
    for k in names:
        w = sum(r["parts"].get(k, (0, 0, 0))[0] for r in rows) / n
        c = sum(r["parts"].get(k, (0, 0, 0))[1] for r in rows) / n
        calls = sum(r["parts"].get(k, (0, 0, 0))[2] for r in rows) / n
        print(f"  {k:<34} {w:>8.2f} {c:>8.2f} {calls:>6.1f}")


# ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--villages", type=int, default=24)
    ap.add_argument("--workers", type=int, default=None, help="batch workers (default: one per core)")
    ap.add_argument("--root", default=None, help="use this workspace (default: a fresh demo workspace)")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--naive-villages", type=int, default=None, help="run the naive loop on the first K villages only and scale")
    ap.add_argument("--profile", type=int, default=0, help="also profile K villages in this process")
    ap.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    a = ap.parse_args(argv)

    tmp = None
    if a.root:
        root = Path(a.root).resolve()
    else:
        tmp = Path(tempfile.mkdtemp(prefix="vilwork-bench-batch-"))
        root = tmp / "ws"
        print(f"demo workspace with {a.villages} villages in {root} …", flush=True)
        make_workspace(root, a.villages)
    codes = village_codes(root)
    cores = len(os.sched_getaffinity(0))
    workers = a.workers or cores
    print(f"{len(codes)} villages; {cores} cores; load now {os.getloadavg()}", flush=True)
    try:
        res_b = res_n = None
        if not a.skip_batch:
            shutil.rmtree(root / "reports", ignore_errors=True)
            res_b = bench_batch(root, a.workers)
            print(f"(a) vilwork batch: {res_b['wall']:.1f} s wall, {res_b['cpu']:.1f} s CPU for {res_b['villages']} villages "
                  f"on {workers} workers — {res_b['load']}", flush=True)
            print("    stage means: " + ", ".join(f"{k} {v:.1f} s" for k, v in res_b["stage_mean"].items()))
        if not a.skip_naive:
            k = min(a.naive_villages or len(codes), len(codes))
            naive_out = (tmp or Path(tempfile.mkdtemp(prefix="vilwork-bench-naive-"))) / "naive"
            naive_out.mkdir(parents=True, exist_ok=True)
            res_n = bench_naive(root, codes[:k], naive_out)
            scale = len(codes) / k
            print(f"(b) naive loop (papermill CLI per stage): {res_n['wall']:.1f} s wall, {res_n['cpu']:.1f} s CPU for {k} villages"
                  + (f", scaled to {len(codes)}: {res_n['wall'] * scale:.1f} s" if k < len(codes) else "")
                  + f" — {res_n['load']}", flush=True)
            res_n["wall_all"] = res_n["wall"] * scale
            res_n["cpu_all"] = res_n["cpu"] * scale
            if res_b:
                diffs = {c: same_files(root / "reports" / c, naive_out / c) for c in codes[:k]}
                bad = {c: d for c, d in diffs.items() if d}
                print("    same files in batch and naive outputs: " + ("yes, every village" if not bad else f"NO: {bad}"))
        if res_b:
            per_core = res_b["wall"] * workers / len(codes)
            cpu_per = res_b["cpu"] / len(codes)
            print(f"\nbatch: {per_core:.1f} s per village per core (wall × workers / villages); {cpu_per:.1f} CPU s per village")
            for n in (TARGET_VILLAGES, ALL_VILLAGES):
                print(f"  {n:>6} villages on {workers} cores: {per_core * n / workers / 60:8.1f} min "
                      f"({per_core * n / workers / 3600:.2f} h); at the CPU-seconds rate on an idle machine "
                      f"{cpu_per * n / workers / 60:.1f} min")
            print(f"  75,086 villages in 8 h need {per_core * ALL_VILLAGES / (8 * 3600):.0f} cores at this rate "
                  f"({cpu_per * ALL_VILLAGES / (8 * 3600):.0f} at the CPU rate)")
        if res_b and res_n:
            ratio = res_n["wall_all"] / res_b["wall"]
            cpu_ratio = res_n["cpu_all"] / res_b["cpu"] if res_b["cpu"] else float("nan")
            print(f"\nratio naive / batch: {ratio:.1f}× wall, {cpu_ratio:.1f}× CPU (goal ≥ 10×); "
                  f"naive {res_n['wall_all'] / len(codes):.1f} s per village on 1 core")
        if a.profile:
            print_profile(profile(root, codes[: a.profile]))
    finally:
        if tmp and not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp:
            print(f"kept {tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
