#!/usr/bin/env python3
"""Fetch the vendored browser assets into ``vilwork/assets/vendor/`` (git-ignored).

Run once per machine, after ``pip install -e .`` and with ``npm`` on the PATH::

    python scripts/fetch_assets.py            # fetch what is missing or out of date
    python scripts/fetch_assets.py --check    # exit 1 when vendor files are missing

What it fetches, from the npm registry with ``npm pack`` (no ``node_modules``, no install
scripts run), and the only files it keeps:

==========================  ========  =================================================
npm package                 version   kept files
==========================  ========  =================================================
plotly.js-basic-dist-min    auto*     plotly-basic.min.js (bar, scatter, pie only)
reveal.js                   6.0.2     dist/reveal.js, dist/reveal.css, dist/reset.css
leaflet                     1.9.4     dist/leaflet.js, dist/leaflet.css, dist/images/*
==========================  ========  =================================================

(*) the plotly.js version that the installed plotly Python package bundles (``plotly 7.1`` ->
``4.1.1``), so the figure JSON that plotly.py writes is read by the same plotly.js; pass
``--plotly-version X`` to force one. The Sarabun fonts and plotly.py itself come from PyPI
(``fontpkg-sarabun``, ``plotly``) and are not vendored.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "vilwork" / "assets" / "vendor"

#: npm package -> (version, {path inside the package: path below vendor/}).
PACKAGES: dict[str, tuple[str, dict[str, str]]] = {
    "plotly.js-basic-dist-min": (
        "auto",
        {"plotly-basic.min.js": "plotly-basic.min.js", "LICENSE": "plotly.LICENSE"},
    ),
    "reveal.js": (
        "6.0.2",
        {
            "dist/reveal.js": "reveal/reveal.js",
            "dist/reveal.css": "reveal/reveal.css",
            "dist/reset.css": "reveal/reset.css",
            "LICENSE": "reveal/LICENSE",
        },
    ),
    "leaflet": (
        "1.9.4",
        {
            "dist/leaflet.js": "leaflet/leaflet.js",
            "dist/leaflet.css": "leaflet/leaflet.css",
            "dist/images/marker-icon.png": "leaflet/images/marker-icon.png",
            "dist/images/marker-icon-2x.png": "leaflet/images/marker-icon-2x.png",
            "dist/images/marker-shadow.png": "leaflet/images/marker-shadow.png",
            "dist/images/layers.png": "leaflet/images/layers.png",
            "dist/images/layers-2x.png": "leaflet/images/layers-2x.png",
            "LICENSE": "leaflet/LICENSE",
        },
    ),
}
FALLBACK_PLOTLY_JS = "4.1.1"


def plotly_js_version() -> str:
    """The plotly.js version bundled by the installed plotly Python package."""
    try:
        from plotly.offline import get_plotlyjs_version
    except ImportError:
        return FALLBACK_PLOTLY_JS
    return get_plotlyjs_version()


def wanted(plotly_version: str | None = None) -> dict[str, str]:
    """npm package -> exact version this script installs."""
    out = {}
    for name, (ver, _files) in PACKAGES.items():
        if ver == "auto":
            ver = plotly_version or plotly_js_version()
        out[name] = ver
    return out


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def status(versions: dict[str, str]) -> list[str]:
    """Problems with the current vendor folder (empty list = complete and current)."""
    manifest = VENDOR / "VERSIONS.json"
    if not manifest.is_file():
        return [f"{manifest} is missing"]
    data = json.loads(manifest.read_text(encoding="utf-8"))
    problems = []
    for name, ver in versions.items():
        got = data.get("packages", {}).get(name, {}).get("version")
        if got != ver:
            problems.append(f"{name}: have {got}, want {ver}")
    for rel, digest in data.get("files", {}).items():
        p = VENDOR / rel
        if not p.is_file() or _sha256(p) != digest:
            problems.append(f"{rel} missing or changed")
    return problems


def _npm_pack(name: str, version: str, workdir: Path) -> Path:
    npm = shutil.which("npm")
    if not npm:
        sys.exit("fetch_assets: npm is not on the PATH (Debian: apt-get install nodejs npm)")
    res = subprocess.run(
        [npm, "pack", f"{name}@{version}", "--silent", "--pack-destination", str(workdir)],
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    if res.returncode != 0:
        sys.exit(f"fetch_assets: npm pack {name}@{version} failed:\n{res.stderr.strip()}")
    tgz = workdir / res.stdout.strip().splitlines()[-1]
    if not tgz.is_file():
        sys.exit(f"fetch_assets: npm pack {name}@{version} wrote no tarball ({res.stdout!r})")
    return tgz


def fetch(versions: dict[str, str]) -> None:
    """Download, extract the kept files, write ``VERSIONS.json``."""
    staging = VENDOR.with_name("vendor.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    manifest: dict = {"packages": {}, "files": {}}
    with tempfile.TemporaryDirectory(prefix="vilwork-npm-") as tmp:
        tmpd = Path(tmp)
        for name, (_ver, files) in PACKAGES.items():
            ver = versions[name]
            print(f"fetch_assets: npm pack {name}@{ver}")
            tgz = _npm_pack(name, ver, tmpd)
            with tarfile.open(tgz) as tf:
                members = {m.name.removeprefix("package/"): m for m in tf.getmembers() if m.isfile()}
                for src, dst in files.items():
                    m = members.get(src)
                    if m is None:
                        sys.exit(f"fetch_assets: {name}@{ver} has no {src}; update PACKAGES in {__file__}")
                    out = staging / dst
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(tf.extractfile(m).read())
                    manifest["files"][dst] = _sha256(out)
            manifest["packages"][name] = {"version": ver, "tarball_sha256": _sha256(tgz)}
    (staging / "VERSIONS.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    shutil.rmtree(VENDOR, ignore_errors=True)
    staging.rename(VENDOR)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report; exit 1 when missing or stale")
    ap.add_argument("--force", action="store_true", help="fetch even when the vendor folder is current")
    ap.add_argument("--plotly-version", help="plotly.js-basic-dist-min version (default: match plotly.py)")
    args = ap.parse_args(argv)
    versions = wanted(args.plotly_version)
    problems = status(versions)
    if args.check:
        for p in problems:
            print(f"fetch_assets: {p}")
        print("fetch_assets: vendor assets " + ("INCOMPLETE" if problems else "complete"))
        return 1 if problems else 0
    if problems or args.force:
        fetch(versions)
        problems = status(versions)
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
    size = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    print(f"fetch_assets: {VENDOR} complete ({size / 1e6:.2f} MB): "
          + ", ".join(f"{k}@{v}" for k, v in versions.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
