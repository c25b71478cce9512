"""The package logger: one logger, ``vilwork``, with children per module."""
from __future__ import annotations

import logging

logger = logging.getLogger("vilwork")


def get_logger(name: str) -> logging.Logger:
    """Return the child logger for a vilwork module (``vilwork.<name>``)."""
    return logger.getChild(name.rsplit(".", 1)[-1])
