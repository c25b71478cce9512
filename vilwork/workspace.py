"""Workspace paths: raw inputs, processed outputs, reports, local secrets.

Only this module turns a root folder into paths, so every command honours ``--root``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import WorkspaceError

_VILLAGE_CODE = re.compile(r"^[0-9]{8}$")  # \d would also accept Thai digits


@dataclass(frozen=True)
class Workspace:
    """A vilwork workspace rooted at ``root``.

    Parameters
    ----------
    root : str or Path
        The workspace folder; created folders live below it and nothing is written outside it.
    """

    root: Path

    def __init__(self, root: str | os.PathLike | None = None):
        object.__setattr__(self, "root", Path(root or os.getcwd()).expanduser().resolve())

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def processed(self) -> Path:
        return self.root / "data" / "processed"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def secrets(self) -> Path:
        return self.root / ".vilwork"

    def village_raw(self, village_code: str) -> Path:
        """The village's own raw folder (profile, votes, places, photos, accounts, capital)."""
        return self.raw / "villages" / check_village_code(village_code)

    def village_reports(self, village_code: str) -> Path:
        """The village's report folder ``reports/<village_code>/``."""
        return self.reports / check_village_code(village_code)

    def inside(self, path: str | os.PathLike) -> Path:
        """Resolve ``path`` against the root and refuse anything that escapes it."""
        p = (self.root / path).resolve()
        if p != self.root and self.root not in p.parents:
            raise WorkspaceError(f"path {path!s} is outside the workspace {self.root}")
        return p

    def ensure(self) -> "Workspace":
        """Create the standard folders (never touches what is in them).

        Raises
        ------
        WorkspaceError
            When ``data/processed`` or ``reports`` is a symbolic link to a folder outside the
            root: nothing is ever written outside the workspace (``data/raw`` may point
            anywhere, it is only read).
        """
        for d in (self.raw, self.processed, self.reports):
            d.mkdir(parents=True, exist_ok=True)
        for d in (self.processed, self.reports):
            self.check_writable(d)
        return self

    def check_writable(self, path: str | os.PathLike) -> Path:
        """``path`` if it (following every symbolic link) stays inside the root, else raise.

        Raises
        ------
        WorkspaceError
            Naming the path and where it really leads.
        """
        p = Path(path)
        real = p.resolve()
        if real != self.root and self.root not in real.parents:
            raise WorkspaceError(f"{p} leads outside the workspace {self.root} (to {real}); "
                                 f"vilwork writes only inside the workspace: remove the link")
        return p


def check_village_code(code: object) -> str:
    """Return ``code`` as an 8-digit string or raise :class:`WorkspaceError`.

    Refuses anything path-like (``../..``), so a village code can be used as a folder name.
    """
    s = str(code).strip()
    if not _VILLAGE_CODE.match(s):
        raise WorkspaceError(
            f"village code {s!r} is not 8 digits (province 2 + district 2 + tambon 2 + village 2, e.g. 99010101)"
        )
    return s
