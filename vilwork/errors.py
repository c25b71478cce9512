"""Exceptions raised by vilwork.

Every error a user can meet derives from :class:`VilworkError`, so the command line can print a
clear message instead of a traceback.
"""
from __future__ import annotations


class VilworkError(Exception):
    """Base class of every vilwork error."""


class DefinitionError(VilworkError):
    """Raised when a definition file is missing, malformed, or has no entry for a survey year."""


class WorkspaceError(VilworkError):
    """Raised when a workspace path is missing, unsafe, or outside the workspace root."""


class InputError(VilworkError):
    """Raised when an input file cannot be read at all (missing, empty, wrong format, no year).

    Attributes
    ----------
    file : str
        The file that could not be read.
    """

    def __init__(self, message: str, file: str | None = None):
        super().__init__(f"{file}: {message}" if file else message)
        self.file = file


class NoUsableDataError(VilworkError):
    """Raised when a run read nothing usable (every file refused or every row quarantined)."""


class KeyFileError(VilworkError):
    """Raised when the pseudonym key is missing where data keyed with it already exist, or unreadable."""


class OutputError(VilworkError):
    """Raised when an output cannot be written (disk full, no permission); the previous outputs are kept."""
