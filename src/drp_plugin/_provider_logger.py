"""The provider's logger (``ctx.log``): a stdlib :class:`logging.Logger` with a short
path to DRP.

While ``listen`` runs, every record reaches DRP through one handler on the root
logger, :class:`~drp_plugin.protocol.logship.LogShipper`.  A record built the
stdlib way (caller lookup, ``LogRecord``, the handler walk and its lock) costs
more than encoding and queueing the line itself, and a provider logs on every
action.  So when a call on this logger would reach that handler and nothing
else, it hands the shipper the four things a ``logger.Line`` holds (level,
message, file, line) directly.  Whenever anything else could see the record
(another handler, a filter, a custom record factory, ``exc_info``,
``stack_info``, ``stacklevel``, any ``extra`` but ``ignore_publish``), the call
takes the stdlib path unchanged.  Levels, ``disabled``, ``propagate`` and
``logging.disable`` behave as for any logger.

It overrides the private ``Logger._log`` and re-implements ``findCaller``: what
that relies on in the stdlib (the signatures, every public method reaching
``_log``, logging's frames in one file) is pinned on each CPython from 3.9 to 3.13
by ``tests/runtime/test_provider_logger_minors.py``; a new minor is added there
before providers are built for it.

This module imports nothing beyond :mod:`logging` and :mod:`sys`: ``define`` may
build the logger (for a validate handler) and must stay light.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from types import FrameType
from typing import Any, Protocol


class LineSink(Protocol):
    """What the fast path hands a line to (``LogShipper``)."""

    level: int
    filters: list[Any]

    def ship(self, levelno: int, message: str, pathname: str, lineno: int,
             ignore_publish: bool) -> None:
        """Queue one line; never blocks, never raises."""


#: The handler on the root logger while ``listen`` runs (see :func:`set_sink`).
_sink: LineSink | None = None
#: Frames in these files are logging's own: the caller is the first frame outside them.
_LOGGING_FILE = logging.addLevelName.__code__.co_filename
_THIS_FILE = sys._getframe(0).f_code.co_filename
_ONLY_IGNORE = frozenset({"ignore_publish"})


def set_sink(sink: LineSink | None) -> None:
    """Name the root handler that fast-path lines go to (None: every call is stdlib)."""
    global _sink
    _sink = sink


class ProviderLogger(logging.Logger):
    """A :class:`logging.Logger` whose records skip the stdlib machinery when the
    shipper to DRP is their only reader (see the module docstring)."""

    def _log(self, level: int, msg: object, args: Any, exc_info: Any = None,
             extra: Mapping[str, object] | None = None, stack_info: bool = False,
             stacklevel: int = 1) -> None:
        sink = _sink
        if sink is None or exc_info or stack_info or stacklevel != 1 \
                or (extra and not _ONLY_IGNORE.issuperset(extra)) \
                or logging.getLogRecordFactory() is not logging.LogRecord \
                or not self._only_sink(sink, level):
            super()._log(level, msg, args, exc_info, extra, stack_info, stacklevel)
            return
        try:
            message = str(msg)
            if args:
                # LogRecord's rule: one non-empty mapping argument is used for %(name)s.
                if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
                    args = args[0]
                message = message % args
        except Exception:  # a bad format: the stdlib path reports it as usual
            super()._log(level, msg, args, exc_info, extra, stack_info, stacklevel)
            return
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename == _LOGGING_FILE:
            frame = frame.f_back
        if frame is None:
            pathname, lineno = "(unknown file)", 0
        else:
            pathname, lineno = frame.f_code.co_filename, frame.f_lineno
        ignore = bool(extra.get("ignore_publish", False)) if extra else False
        sink.ship(level, message, pathname, lineno, ignore)

    def findCaller(self, stack_info: bool = False,  # noqa: N802 - the stdlib's name
                   stacklevel: int = 1) -> tuple[str, int, str, str | None]:
        """The stdlib's lookup (3.11 rules for ``stacklevel``) that also skips this
        module, so records of the stdlib path name the handler's line, not ours."""
        frame = sys._getframe(0)
        while stacklevel > 0:
            back = frame.f_back
            if back is None:
                break
            frame = back
            name = frame.f_code.co_filename
            if name != _LOGGING_FILE and name != _THIS_FILE \
                    and not ("importlib" in name and "_bootstrap" in name):
                stacklevel -= 1
        code = frame.f_code
        info = None
        if stack_info:
            import traceback

            info = "Stack (most recent call last):\n" + "".join(traceback.format_stack(frame))
            if info.endswith("\n"):
                info = info[:-1]
        return code.co_filename, frame.f_lineno, code.co_name, info

    def _only_sink(self, sink: LineSink, level: int) -> bool:
        """Whether a record at ``level`` would reach ``sink`` and no other handler or filter."""
        if self.disabled or sink.filters or level < sink.level:
            return False
        found = False
        target: object = sink
        logger: logging.Logger | None = self
        while logger is not None:
            if logger.filters:
                return False
            for handler in logger.handlers:
                if handler is not target or found:
                    return False
                found = True
            if not logger.propagate:
                break
            logger = logger.parent
        return found


def provider_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)``, made a :class:`ProviderLogger` if it is new.

    A logger that already exists under that name (someone called ``getLogger``
    first) is returned as it is: it takes the stdlib path for every record.
    """
    manager = logging.Logger.manager
    existing = manager.loggerDict.get(name)
    if isinstance(existing, logging.Logger):
        return existing
    previous = manager.loggerClass
    manager.setLoggerClass(ProviderLogger)
    try:
        return logging.getLogger(name)
    finally:
        manager.loggerClass = previous
