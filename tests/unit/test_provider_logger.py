"""The provider logger's short path to the shipper, checked against the stdlib path.

A real :class:`LogShipper` (not started: lines stay in its queue) is the only
handler of a parent logger that does not propagate (pytest 9 adds its capture
handlers to such loggers for the test's call phase: :func:`fresh_logger` sets them
aside, pytest removes them as usual).
The same calls are made once on the short path and once with a no-op filter on
the shipper, which sends every record through ``LogRecord`` and
``Handler.handle``: both must queue the same ``logger.Line`` (but for Seq and
Time), and ``shipped`` counts the lines that took the short path.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from drp_plugin import _provider_logger
from drp_plugin._provider_logger import ProviderLogger, provider_logger, set_sink
from drp_plugin.protocol.logship import LogShipper

_names = iter(range(1_000_000))


class CountingShipper(LogShipper):
    """A LogShipper that counts the lines handed to it on the short path."""

    shipped = 0
    #: The logger whose only handler this is (children of it reach it alone).
    parent = ""

    def ship(self, *args: Any) -> None:
        self.shipped += 1
        super().ship(*args)


@pytest.fixture
def shipper() -> Iterator[CountingShipper]:
    loop = asyncio.new_event_loop()
    ship = CountingShipper("unit", "/nonexistent/from.sock", loop)
    ship.parent = f"unit-shipper{next(_names)}"
    parent = logging.getLogger(ship.parent)
    parent.setLevel(logging.DEBUG)
    parent.propagate = False
    parent.addHandler(ship)
    set_sink(ship)
    try:
        yield ship
    finally:
        set_sink(None)
        parent.removeHandler(ship)
        loop.close()


def fresh_logger(ship: CountingShipper) -> logging.Logger:
    """A new provider logger under the shipper's parent, the shipper its only reader."""
    parent = logging.getLogger(ship.parent)
    for handler in parent.handlers[:]:
        if handler is not ship:
            parent.removeHandler(handler)
    return provider_logger(f"{ship.parent}.provider{next(_names)}")


def lines(ship: LogShipper) -> list[dict[str, Any]]:
    out = [json.loads(raw) for raw in ship.queue]
    ship.queue.clear()
    ship.queued_bytes = 0
    for line in out:  # the two that differ between any two calls
        line.pop("Seq")
        line.pop("Time")
    return out


class _PassAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return True


def both_paths(ship: CountingShipper, call: Callable[[logging.Logger], None]) -> tuple[
        list[dict[str, Any]], list[dict[str, Any]]]:
    """``call`` on the short path, then on the stdlib path (a filter on the shipper)."""
    log = fresh_logger(ship)
    assert isinstance(log, ProviderLogger)
    call(log)
    short = lines(ship)
    assert ship.shipped == len(short)
    flt = _PassAll()
    ship.addFilter(flt)
    try:
        call(log)
    finally:
        ship.removeFilter(flt)
    assert ship.shipped == len(short)  # none of these took the short path
    return short, lines(ship)


def _levels(log: logging.Logger) -> None:
    log.debug("d")
    log.critical("c")
    log.log(5, "trace")


CALLS: dict[str, Callable[[logging.Logger], None]] = {
    "plain": lambda log: log.info("Action: incrstatus"),
    "args": lambda log: log.warning("%d param(s) from %s", 3, "drp"),
    "mapping": lambda log: log.error("%(who)s did %(what)s", {"who": "drp", "what": "it"}),
    "non-str": lambda log: log.info(42),
    "levels": lambda log: _levels(log),
    "ignore_publish": lambda log: log.info("quiet", extra={"ignore_publish": True}),
    "unicode": lambda log: log.info("caf\u00e9 \u2603 \"quoted\"\n"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_short_path_queues_the_line_the_stdlib_path_queues(shipper: CountingShipper, name: str) -> None:
    short, stdlib = both_paths(shipper, CALLS[name])
    assert short and short == stdlib


def test_file_and_line_are_the_callers_on_both_paths(shipper: CountingShipper) -> None:
    log = fresh_logger(shipper)
    log.info("short")
    log.info("stdlib", extra={"job": "j1"})
    here = test_file_and_line_are_the_callers_on_both_paths.__code__
    short, stdlib = lines(shipper)
    assert shipper.shipped == 1
    assert short["File"] == stdlib["File"] == here.co_filename
    assert (short["Line"], stdlib["Line"]) == (here.co_firstlineno + 2, here.co_firstlineno + 3)


def test_stack_info_and_stacklevel_name_the_right_frames(shipper: CountingShipper) -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    log = fresh_logger(shipper)
    log.addHandler(Keep())

    def helper() -> None:
        log.info("from the helper's caller", stacklevel=2)

    helper()
    log.info("with a stack", stack_info=True)
    here = test_stack_info_and_stacklevel_name_the_right_frames.__code__
    assert [r.funcName for r in seen] == [here.co_name, here.co_name]
    assert seen[0].lineno == here.co_firstlineno + 13
    assert seen[1].stack_info is not None
    assert seen[1].stack_info.startswith("Stack (most recent call last):\n")
    assert "_provider_logger" not in seen[1].stack_info.splitlines()[-1]
    assert not seen[1].stack_info.endswith("\n")


def test_a_bad_format_is_counted_like_the_stdlib_path(shipper: CountingShipper) -> None:
    log = fresh_logger(shipper)
    log.info("%d apples", "not a number")
    assert shipper.failed == 1
    assert not shipper.queue


def test_another_handler_sees_every_record(shipper: CountingShipper) -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    log = fresh_logger(shipper)
    keep = Keep()
    log.addHandler(keep)
    log.info("both see this")
    assert [r.getMessage() for r in seen] == ["both see this"]
    assert [line["Message"] for line in lines(shipper)] == ["both see this"]


def test_levels_disabled_and_propagate_are_honoured(shipper: CountingShipper) -> None:
    log = fresh_logger(shipper)
    log.setLevel(logging.WARNING)
    log.info("below the logger's level")
    shipper.setLevel(logging.ERROR)
    log.warning("below the handler's level")
    shipper.setLevel(logging.NOTSET)
    log.disabled = True
    log.error("disabled")
    log.disabled = False
    log.propagate = False
    log.error("not propagated")  # no handler at all: the stdlib's last resort, not DRP
    assert lines(shipper) == []


def test_exc_info_and_extra_fields_take_the_stdlib_path(shipper: CountingShipper) -> None:
    log = fresh_logger(shipper)
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    log.info("tagged", extra={"job": "j1"})
    got = lines(shipper)
    assert got[0]["Message"].startswith("failed\nTraceback")
    assert "ValueError: boom" in got[0]["Message"]
    assert got[1]["Message"] == "tagged"


def test_without_a_sink_every_call_is_stdlib(shipper: CountingShipper) -> None:
    set_sink(None)
    assert _provider_logger._sink is None
    log = fresh_logger(shipper)
    log.info("through Handler.handle")
    assert [line["Message"] for line in lines(shipper)] == ["through Handler.handle"]


def test_an_existing_logger_is_kept_as_it_is() -> None:
    name = f"drp_plugin.provider.made-first{next(_names)}"
    first = logging.getLogger(name)
    assert provider_logger(name) is first
    assert type(first) is logging.Logger
    assert logging.Logger.manager.loggerClass is None  # the class was not left changed
