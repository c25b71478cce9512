#!/usr/bin/env bash
# Set up vilwork on a fresh Debian machine and run the main job on the bundled demo data.
#
#   bash setup.sh             # install everything, then `vilwork demo`
#   bash setup.sh --no-demo   # install only (CI uses this before the tests)
#
# System packages (Chromium for pages/cards, Thai fonts, poppler for PDF checks, pango for
# WeasyPrint, npm for the offline JS assets) are installed with apt when run as root; otherwise the
# script names what is missing and the command to install it.
set -euo pipefail
cd "$(dirname "$0")"

DEMO=1
for a in "$@"; do
  case "$a" in
    --no-demo) DEMO=0 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

APT_PACKAGES=(chromium fonts-thai-tlwg poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 npm)
say() { printf '\n== %s\n' "$*"; }

say "1/4 system packages"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  # npm may come from elsewhere than Debian (e.g. a NodeSource node): a working npm is enough
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "all present: ${APT_PACKAGES[*]}"
elif [ "$(id -u)" = 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "MISSING system packages: ${missing[*]}" >&2
  echo "  install them with:  sudo apt-get install ${missing[*]}" >&2
  echo "  (without them: no PDF/cards/browser checks; data commands still work)" >&2
fi

say "2/4 Python environment (.venv)"
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "vilwork needs Python 3.11 or newer; found $("$PY" --version 2>&1)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,scale,explore]"
.venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null

say "3/4 offline assets (fonts, plotly.js, reveal.js, leaflet)"
if [ -f scripts/fetch_assets.py ]; then
  .venv/bin/python scripts/fetch_assets.py
fi

if [ "$DEMO" = 1 ]; then
  say "4/4 main job on the demo data: vilwork demo"
  .venv/bin/vilwork demo
  echo
  echo "done: data in data/processed/, reports in reports/. Tests: .venv/bin/python -m pytest"
else
  say "4/4 skipped the demo run (--no-demo)"
fi
