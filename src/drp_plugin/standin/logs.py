"""Log lines received from providers: ``/log`` posts and their stdout/stderr."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..models import LEVELS


@dataclass(frozen=True)
class LogRecord:
    """One log line.

    ``source`` is ``log`` (a ``logger.Line`` posted to ``/log``, kept in ``line``),
    ``stdout``/``stderr`` (other output of ``listen``), ``unpack`` or ``standin``
    (the stand-in's own notes about a provider).
    """

    source: str
    provider: str
    plugin: str
    level: str
    message: str
    service: str = ""
    line: dict[str, Any] | None = field(default=None, compare=False)

    def __str__(self) -> str:
        who = self.plugin or self.provider or "standin"
        return f"[{who}] {self.level}: {self.message.rstrip()}"


def parse_level(value: Any) -> str:
    """A ``logger.Line`` level, given as a name or as the number 0..7."""
    if isinstance(value, str) and value.lower() in LEVELS:
        return value.lower()
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(LEVELS):
        return LEVELS[value]
    raise ValueError(f"invalid log level {value!r}")


class LogBook:
    """The kept log records, plus listeners called for each new one."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self.listeners: list[Callable[[LogRecord], None]] = []

    def add(self, record: LogRecord) -> None:
        self.records.append(record)
        for listener in list(self.listeners):
            listener(record)

    def note(self, provider: str, plugin: str, level: str, message: str) -> None:
        """Record a note of the stand-in itself about a provider or plugin."""
        self.add(LogRecord("standin", provider, plugin, level, message))
