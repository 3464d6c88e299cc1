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
    """The newest log records (bounded by count and bytes), plus listeners called for
    each new one.  ``dropped`` counts the records let go."""

    def __init__(self, max_records: int = 10_000, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.records: list[LogRecord] = []
        self.listeners: list[Callable[[LogRecord], None]] = []
        self.max_records = max_records
        self.max_bytes = max_bytes
        #: Bytes of the kept records (message and line).
        self.bytes = 0
        self.dropped = 0
        self._sizes: list[int] = []

    @staticmethod
    def _size(record: LogRecord) -> int:
        line = record.line
        return len(record.message) + (sum(len(str(v)) for v in line.values()) if line else 0)

    def add(self, record: LogRecord) -> None:
        """Keep ``record`` (the oldest records go past ``max_records``/``max_bytes``, the
        newest always stays) and call each listener with it."""
        size = self._size(record)
        self.records.append(record)
        self._sizes.append(size)
        self.bytes += size
        cut = 0
        while cut < len(self.records) - 1 and (
                len(self.records) - cut > self.max_records or self.bytes > self.max_bytes):
            self.bytes -= self._sizes[cut]
            cut += 1
        if cut:
            del self.records[:cut]
            del self._sizes[:cut]
            self.dropped += cut
        for listener in list(self.listeners):
            listener(record)

    def note(self, provider: str, plugin: str, level: str, message: str) -> None:
        """Record a note of the stand-in itself about a provider or plugin."""
        self.add(LogRecord("standin", provider, plugin, level, message))
