"""What :class:`~drp_plugin._provider_logger.ProviderLogger` relies on in the stdlib,
pinned on every CPython a built provider runs on (3.9 to 3.13, pyenv's; a minor
missing here is skipped, saying so).

The logger overrides the private ``Logger._log`` (its short path to DRP) and
re-implements ``findCaller`` (so records name the handler's line, with 3.11's
``stacklevel`` rules on every minor).  Both rest on stdlib details that are not
public API: every public method (``debug`` ... ``critical``, ``exception``,
``log``) reaches ``_log`` with its keyword arguments, ``_log`` and ``findCaller``
keep their signatures, logging's frames all live in one file, and a record built
by the stdlib path asks ``findCaller``.  The check below runs the module itself
(loaded from its file: it needs only the stdlib) in each interpreter.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import MINORS, ROOT, interpreter

MODULE = ROOT / "src" / "drp_plugin" / "_provider_logger.py"

CHECK = r'''
import importlib.util, inspect, logging, sys

spec = importlib.util.spec_from_file_location("_provider_logger", sys.argv[1])
pl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pl)

# The private signatures the override and the re-implementation take.
assert list(inspect.signature(logging.Logger._log).parameters) == [
    "self", "level", "msg", "args", "exc_info", "extra", "stack_info", "stacklevel"], \
    inspect.signature(logging.Logger._log)
assert list(inspect.signature(logging.Logger.findCaller).parameters) == [
    "self", "stack_info", "stacklevel"], inspect.signature(logging.Logger.findCaller)
# logging's own frames are all in one file (the caller is the first frame outside it).
assert logging.Logger.info.__code__.co_filename == pl._LOGGING_FILE
assert logging.Logger._log.__code__.co_filename == pl._LOGGING_FILE


class Sink(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines, self.records = [], []

    def ship(self, levelno, message, pathname, lineno, ignore_publish):
        self.lines.append((levelno, message, pathname, lineno, ignore_publish))

    def emit(self, record):
        self.records.append((record.levelno, record.getMessage(), record.pathname,
                             record.lineno, record.funcName))


sink = Sink()
parent = logging.getLogger("check")
parent.propagate = False
parent.addHandler(sink)
pl.set_sink(sink)
log = pl.provider_logger("check.provider")
assert type(log) is pl.ProviderLogger
log.setLevel(logging.DEBUG)
# Every public method takes the short path, naming this file and line.
calls = [
    (logging.DEBUG, lambda: log.debug("d %s", 1)),
    (logging.INFO, lambda: log.info("i %(x)s", {"x": 2})),
    (logging.WARNING, lambda: log.warning("w")),
    (logging.ERROR, lambda: log.error("e", extra={"ignore_publish": True})),
    (logging.CRITICAL, lambda: log.critical("c")),
    (25, lambda: log.log(25, "l")),
]
for level, call in calls:
    expected = call.__code__.co_firstlineno
    call()
    got = sink.lines[-1]
    assert got[0] == level and got[2] == call.__code__.co_filename and got[3] == expected, got
assert [l[1] for l in sink.lines] == ["d 1", "i 2", "w", "e", "c", "l"], sink.lines
assert [l[4] for l in sink.lines] == [False, False, False, True, False, False]
assert sink.records == [], sink.records

# The stdlib path (exc_info, a filter): a LogRecord naming the caller, never this module.
def handler():
    log.info("through a handler")
    return sys._getframe().f_lineno - 1

def helper():
    log.info("named by the caller", stacklevel=2)

def caller():
    helper()
    return sys._getframe().f_lineno - 1

try:
    raise ValueError("boom")
except ValueError:
    log.exception("failed")
    exc_line = sys._getframe().f_lineno - 1
assert sink.records[-1][1:] == ("failed", __file__, exc_line, "<module>"), sink.records
sink.addFilter(lambda record: True)
first = handler()
assert sink.records[-1][1:4] == ("through a handler", handler.__code__.co_filename, first), \
    sink.records[-1]
assert sink.records[-1][4] == "handler"
at = caller()
assert sink.records[-1][1:] == ("named by the caller", caller.__code__.co_filename, at,
                                "caller"), sink.records[-1]
assert len(sink.lines) == 6, "the stdlib path took the short one"
print("ok", sys.version_info[:2])
'''


@pytest.mark.parametrize("minor", MINORS)
def test_what_the_provider_logger_relies_on(minor: str, tmp_path: Path) -> None:
    script = tmp_path / "check.py"
    script.write_text(CHECK, encoding="utf-8")
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [interpreter(minor), "-I", str(script), str(MODULE)],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"ok ({minor.replace('.', ', ')})"
