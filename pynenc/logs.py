"""pynenc's loggers and the ``logging_level`` option.

pynenc logs under the ``pynenc`` logger (``pynenc.runner``, ``pynenc.invocation``, …) and
never configures the root logger. ``logging_level`` is applied only when it was set
explicitly (by any source but the default): it then sets the level of the ``pynenc`` logger
and makes sure the lines are shown. Left unset, pynenc's levels follow the process's
logging configuration, like any library's.

Shown: Python prints nothing below WARNING from a logger that has no handler, so a script
that sets ``logging_level=info`` would see nothing. With ``logging_level`` set, pynenc
attaches one stderr handler to the ``pynenc`` logger; it steps aside for every record that
another handler receives (``logging.basicConfig()``, a framework's configuration, pytest),
whatever the order in which logging was configured, so no line is printed twice.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from pynenc.conf.option import DEFAULT

if TYPE_CHECKING:
    from pynenc.conf import AppConfig

#: The format of the CLI's log lines and of the fallback handler.
FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
LOGGER = "pynenc"


def apply_logging_level(conf: AppConfig) -> None:
    """Set the ``pynenc`` logger's level from ``conf.logging_level`` if it was configured,
    and make sure its lines are shown (see the module docstring)."""
    if conf.source_of("logging_level") == DEFAULT:
        return
    logger = logging.getLogger(LOGGER)
    logger.setLevel(conf.logging_level.upper())
    if not any(isinstance(handler, FallbackHandler) for handler in logger.handlers):
        logger.addHandler(FallbackHandler())


class FallbackHandler(logging.Handler):
    """Writes to ``sys.stderr`` the records that no other handler receives."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT))

    def handle(self, record: logging.LogRecord) -> bool:
        if self._handled_elsewhere(record):
            return False
        return super().handle(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # sys.stderr read now, not kept: it may be replaced (pytest, redirect_stderr)
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)

    def _handled_elsewhere(self, record: logging.LogRecord) -> bool:
        """Whether a handler other than this one gets ``record`` as it propagates."""
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            for handler in logger.handlers:
                if handler is not self and record.levelno >= handler.level:
                    return True
            if not logger.propagate:
                return False
            logger = logger.parent
        return False
