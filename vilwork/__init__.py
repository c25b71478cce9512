"""vilwork: a notebook workbench for Thailand's Information Village programme.

The public surface is re-exported here; notebooks import from ``vilwork`` only.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("vilwork")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+src"

from .errors import (  # noqa: E402
    DefinitionError,
    InputError,
    KeyFileError,
    NoUsableDataError,
    VilworkError,
    WorkspaceError,
)
from .log import logger  # noqa: E402
from .registry import (  # noqa: E402
    capital_kinds,
    indicator_set,
    issue_areas,
    kchch2k_set,
    poverty_dimensions,
    threshold,
)
from .workspace import Workspace, check_village_code  # noqa: E402
from .village import Village, open_village  # noqa: E402

__all__ = [
    "__version__",
    "VilworkError",
    "DefinitionError",
    "InputError",
    "KeyFileError",
    "NoUsableDataError",
    "WorkspaceError",
    "logger",
    "Workspace",
    "check_village_code",
    "Village",
    "open_village",
    "indicator_set",
    "threshold",
    "poverty_dimensions",
    "kchch2k_set",
    "capital_kinds",
    "issue_areas",
]
