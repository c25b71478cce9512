"""The ``vilwork`` command.

Every sub-command takes ``--root DIR`` (default: the current folder) so a workspace can live
anywhere. Errors that a user can cause print one clear line and exit non-zero; they never show a
traceback (set ``VILWORK_DEBUG=1`` to see one).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable

from . import __version__
from .errors import NoUsableDataError, VilworkError
from .workspace import Workspace

_COMMANDS: dict[str, tuple[Callable, Callable[[argparse.ArgumentParser], None], str]] = {}


def command(name: str, help: str):
    """Register a sub-command: the decorated function takes (ws, args) and returns an exit code."""

    def wrap(fn):
        def add_args(p: argparse.ArgumentParser) -> None:
            for a, kw in getattr(fn, "_args", []):
                p.add_argument(*a, **kw)

        _COMMANDS[name] = (fn, add_args, help)
        return fn

    return wrap


def arg(*a, **kw):
    """Attach one argparse argument to a command function."""

    def wrap(fn):
        fn._args = [(a, kw), *getattr(fn, "_args", [])]
        return fn

    return wrap


def _years(text: str | None) -> list[int] | None:
    return [int(y) for y in text.split(",")] if text else None


@command("synth", "เขียนข้อมูลหมู่บ้านตัวอย่าง (สมมุติ) ลง data/raw — write the fictional demo province 99 into data/raw")
@arg("--seed", type=int, default=2562, help="random seed: the same seed writes the same files")
@arg("--villages", type=int, default=12, help="number of demo villages (at least 4; default 12)")
@arg("--persons", type=int, default=None, help="about this many persons in all (scales villages up; for benchmarks)")
@arg("--as", dest="layout", choices=["records", "aggregates"], default="records",
     help="records: household and person files; aggregates: the national platform's village layout")
@arg("--format", dest="fmt", choices=["auto", "xlsx", "csv"], default="auto")
def cmd_synth(ws: Workspace, a) -> int:
    from .synth import synthesise

    if a.villages < 4:
        raise VilworkError(f"--villages must be at least 4 (2 districts × 2 tambons), got {a.villages}")
    print(synthesise(ws.ensure(), seed=a.seed, villages=a.villages, persons=a.persons, layout=a.layout, fmt=a.fmt))
    return 0


@command("ingest", "อ่านข้อมูลดิบ ตรวจสอบ และเขียน Parquet — read data/raw, validate, write data/processed")
def cmd_ingest(ws: Workspace, a) -> int:
    from .ingest import ingest

    summary = ingest(ws.ensure())
    print(summary)
    if not summary.ok:
        raise NoUsableDataError("nothing usable was read from data/raw (see the summary above and data/processed/quarantine.csv)")
    return 0


@command("indicators", "คำนวณตัวชี้วัด ความยากจน และระดับหมู่บ้าน — compute indicators, poverty, กชช. 2ค levels")
def cmd_indicators(ws: Workspace, a) -> int:
    from .indicators import compute_all

    print(compute_all(ws))
    return 0


@command("run", "ทำรายงานของหมู่บ้าน (4 ขั้นตอน) — run the four stage notebooks and publish reports/<village>/")
@arg("--village", required=True, help="8-digit village code, e.g. 99010101")
@arg("--year", type=int, default=None, help="survey year (BE); default the latest")
@arg("--lang", choices=["th", "en"], default="th")
@arg("--audience", choices=["public", "internal"], default="public")
def cmd_run(ws: Workspace, a) -> int:
    from .run import run_village

    print(run_village(ws, a.village, year=a.year, lang=a.lang, audience=a.audience))
    return 0


@command("demo", "ตั้งต้นด้วยข้อมูลตัวอย่าง: synth → ingest → indicators → reports — the whole main job on the demo data")
@arg("--seed", type=int, default=2562)
@arg("--fresh", action="store_true", help="rewrite the demo raw data even if data/raw already has files")
@arg("--no-reports", action="store_true", help="stop after the indicators")
def cmd_demo(ws: Workspace, a) -> int:
    ws.ensure()
    has_raw = any(p.is_file() and p.name != ".gitkeep" for p in ws.raw.rglob("*"))
    if a.fresh or not has_raw:
        cmd_synth(ws, argparse.Namespace(seed=a.seed, villages=12, persons=None, layout="records", fmt="auto"))
    else:
        print(f"data/raw already has files: using them ({ws.raw}); --fresh rewrites the demo data")
    cmd_ingest(ws, a)
    cmd_indicators(ws, a)
    code = 0
    if not a.no_reports:
        from .run import run_all

        code = run_all(ws)
    # The programme layer on the same data: target list, submission register, data quality and
    # the province roll-up (each a few seconds), so the demo shows every kind of output.
    parser = build_parser()
    for cmd in (["select"], ["register"], ["quality"], ["programme"]):
        if cmd[0] == "programme" and a.no_reports:
            continue
        sub = parser.parse_args([*cmd, "--root", str(ws.root)])
        print(f"\n== vilwork {' '.join(cmd)}", flush=True)
        code = max(code, sub.func(ws, sub) or 0)
    return code


# Command modules of later features register themselves with @command when imported.
_COMMAND_MODULES = ("vilwork.commands_programme", "vilwork.commands_batch", "vilwork.commands_interactive", "vilwork.commands_trust")


def _load_command_modules() -> None:
    import importlib

    for name in _COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise


def build_parser() -> argparse.ArgumentParser:
    _load_command_modules()
    p = argparse.ArgumentParser(
        prog="vilwork",
        description="vilwork — หมู่บ้านสารสนเทศเพื่อการพัฒนาคุณภาพชีวิต (Information Village workbench)",
    )
    p.add_argument("--version", action="version", version=f"vilwork {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (fn, add_args, help_) in _COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--root", default=None, help="workspace folder (default: the current folder)")
        sp.add_argument("-v", "--verbose", action="store_true", help="log progress")
        add_args(sp)
        sp.set_defaults(func=fn)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vilwork`` console script."""
    parser = build_parser()
    a = parser.parse_args(argv)
    if not getattr(a, "func", None):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    try:
        code = a.func(Workspace(a.root), a)
    except VilworkError as e:
        if os.environ.get("VILWORK_DEBUG"):
            raise
        print(f"vilwork {a.command}: ข้อผิดพลาด / error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"vilwork {a.command}: interrupted", file=sys.stderr)
        return 130
    logging.getLogger("vilwork").info("%s took %.1f s", a.command, time.perf_counter() - t0)
    return code


if __name__ == "__main__":
    # Run as ``python -m vilwork.cli``: this file is then ``__main__``, while the command modules
    # register with ``vilwork.cli``; dispatch through that module so they are all seen.
    from vilwork.cli import main as _main

    sys.exit(_main())
