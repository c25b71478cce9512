"""Offline assets: fonts, CSS and JavaScript copied once into a report folder's ``assets/``.

Every page of a village folder (km.html, vdr.html, slides.html, map.html, …) references the same
files relatively (``assets/plotly-basic.min.js``), so the folder works from a USB stick in a
village hall with no internet. Layout of an installed ``assets/``::

    fonts/Sarabun-{Regular,Bold,Italic}.ttf, fonts/OFL.txt   from PyPI fontpkg-sarabun
    fonts.css vilwork.css slides.css map.css                   vilwork/assets/css/
    plotly-basic.min.js                                         npm plotly.js-basic-dist-min
    reveal/reveal.js reveal/reveal.css reveal/reset.css         npm reveal.js
    leaflet/leaflet.js leaflet/leaflet.css leaflet/images/*     npm leaflet
    MANIFEST.json                                               what was copied, with hashes

The npm files are fetched by ``python scripts/fetch_assets.py`` into ``vilwork/assets/vendor/``
(git-ignored); without them :class:`AssetsMissingError` says so.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from functools import lru_cache
from pathlib import Path

from ..log import get_logger
from .model import AssetsMissingError

log = get_logger(__name__)

PACKAGE_ASSETS = Path(__file__).resolve().parents[1] / "assets"
CSS_DIR = PACKAGE_ASSETS / "css"
FETCH_SCRIPT = "python scripts/fetch_assets.py"

#: files below ``vilwork/assets/vendor/`` -> path below an installed ``assets/``.
VENDOR_FILES = {
    "plotly-basic.min.js": "plotly-basic.min.js",
    "plotly.LICENSE": "plotly.LICENSE",
    "reveal/reveal.js": "reveal/reveal.js",
    "reveal/reveal.css": "reveal/reveal.css",
    "reveal/reset.css": "reveal/reset.css",
    "reveal/LICENSE": "reveal/LICENSE",
    "leaflet/leaflet.js": "leaflet/leaflet.js",
    "leaflet/leaflet.css": "leaflet/leaflet.css",
    "leaflet/images/marker-icon.png": "leaflet/images/marker-icon.png",
    "leaflet/images/marker-icon-2x.png": "leaflet/images/marker-icon-2x.png",
    "leaflet/images/marker-shadow.png": "leaflet/images/marker-shadow.png",
    "leaflet/images/layers.png": "leaflet/images/layers.png",
    "leaflet/images/layers-2x.png": "leaflet/images/layers-2x.png",
    "leaflet/LICENSE": "leaflet/LICENSE",
}
#: Sarabun faces shipped with every folder: (file, css weight, css style).
FONT_FACES = (
    ("Sarabun-Regular.ttf", 400, "normal"),
    ("Sarabun-Bold.ttf", 700, "normal"),
    ("Sarabun-Italic.ttf", 400, "italic"),
)
CSS_FILES = ("fonts.css", "vilwork.css", "slides.css", "map.css")  # card.css: used in place

# relative paths of the main files, for templates
PLOTLY_JS = "plotly-basic.min.js"
REVEAL_JS = "reveal/reveal.js"
REVEAL_CSS = "reveal/reveal.css"
LEAFLET_JS = "leaflet/leaflet.js"
LEAFLET_CSS = "leaflet/leaflet.css"


def vendor_dir() -> Path:
    """Where ``scripts/fetch_assets.py`` puts the npm files (``VILWORK_VENDOR`` overrides)."""
    return Path(os.environ.get("VILWORK_VENDOR") or PACKAGE_ASSETS / "vendor")


def sarabun_dir() -> Path:
    """The folder of the Sarabun TTFs installed by PyPI ``fontpkg-sarabun``."""
    try:
        import fontpkg_sarabun
    except ImportError as e:  # pragma: no cover - a dependency of vilwork
        raise AssetsMissingError("fontpkg-sarabun is not installed: pip install fontpkg-sarabun") from e
    d = Path(fontpkg_sarabun.ROOT) / "files"
    missing = [f for f, _w, _s in FONT_FACES if not (d / f).is_file()]
    if missing:
        raise AssetsMissingError(f"fontpkg-sarabun at {d} lacks {', '.join(missing)}")
    return d


def font_path(weight: int = 400, style: str = "normal") -> Path:
    """Absolute path of one shipped Sarabun face."""
    for f, w, s in FONT_FACES:
        if w == weight and s == style:
            return sarabun_dir() / f
    raise KeyError((weight, style))


def check_vendor() -> Path:
    """Return the vendor folder or raise :class:`AssetsMissingError` naming the missing files."""
    vd = vendor_dir()
    missing = [rel for rel in VENDOR_FILES if not (vd / rel).is_file()]
    if missing:
        raise AssetsMissingError(
            f"offline browser assets are missing in {vd} ({', '.join(missing[:3])}"
            f"{', …' if len(missing) > 3 else ''}): run `{FETCH_SCRIPT}` from the repository "
            "root once (needs npm and the npm registry)"
        )
    return vd


def asset_sources() -> dict[str, Path]:
    """Every file of an installed ``assets/``: relative destination -> source path."""
    vd = check_vendor()
    src: dict[str, Path] = {dst: vd / rel for rel, dst in VENDOR_FILES.items()}
    fonts = sarabun_dir()
    for f, _w, _s in FONT_FACES:
        src[f"fonts/{f}"] = fonts / f
    lic = fonts.parent / "LICENSE"
    if lic.is_file():
        src["fonts/OFL.txt"] = lic
    for css in CSS_FILES:
        src[css] = CSS_DIR / css
    return src


@lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _sha(p: Path) -> str:
    st = p.stat()
    return _digest(str(p), st.st_size, st.st_mtime_ns)


def install_assets(dest_dir: str | os.PathLike, assets_rel: str = "assets") -> Path:
    """Copy the shared offline assets into ``dest_dir/assets_rel`` once; return that folder.

    Files already there with the same content are left alone, so calling this for every page of
    a folder costs a few hashes. Nothing else in the folder is touched.

    Raises
    ------
    AssetsMissingError
        When the vendored npm files or the Sarabun fonts are not installed.
    """
    target = (Path(dest_dir) / assets_rel).resolve()
    sources = asset_sources()
    target.mkdir(parents=True, exist_ok=True)
    copied = 0
    manifest = {}
    for rel, src in sorted(sources.items()):
        dst = target / rel
        digest = _sha(src)
        manifest[rel] = digest
        if dst.is_file() and dst.stat().st_size == src.stat().st_size and _sha(dst) == digest:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        copied += 1
    if copied:
        (target / "MANIFEST.json").write_text(
            json.dumps({"files": manifest}, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        log.info("installed %d asset file(s) into %s", copied, target)
    return target


def assets_size(assets: str | os.PathLike) -> int:
    """Bytes used by an installed ``assets/`` folder."""
    return sum(p.stat().st_size for p in Path(assets).rglob("*") if p.is_file())


def page_assets(page_path: str | os.PathLike, assets_rel: str = "assets") -> str:
    """Install assets for a page written at ``page_path``; return the URL prefix to use in it."""
    page_dir = Path(page_path).resolve().parent
    install_assets(page_dir, assets_rel)
    return Path(assets_rel).as_posix().rstrip("/")


_FONTCONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <dir>{fonts}</dir>
  <cachedir>{cache}</cachedir>
</fontconfig>
"""


def fontconfig_file() -> Path:
    """A fontconfig file that adds Sarabun to the system fonts, for Chromium child processes.

    Chromium (cards, kaleido's chart export) then measures and draws "Sarabun" with the real
    font instead of a fallback, so SVG text positions match what WeasyPrint later draws.
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vilwork"
    base.mkdir(parents=True, exist_ok=True)
    conf = base / "fonts.conf"
    text = _FONTCONF.format(fonts=sarabun_dir(), cache=base / "fontconfig")
    if not conf.is_file() or conf.read_text(encoding="utf-8") != text:
        conf.write_text(text, encoding="utf-8")
    return conf


__all__ = [
    "FETCH_SCRIPT",
    "assets_size",
    "check_vendor",
    "font_path",
    "fontconfig_file",
    "install_assets",
    "page_assets",
    "sarabun_dir",
    "vendor_dir",
]
