"""Event filters ``type.action.key`` and how DRP matches them (PROTOCOL.md section 4).

A filter splits into three parts on its first two dots (so keys may contain dots).
Each part is ``*`` (anything) or a comma-separated list of exact values; inside a
value ``\\1`` stands for ``.``, ``\\2`` for ``,`` and ``\\3`` for ``*``.  Values are
compared after trimming spaces.
"""

from __future__ import annotations

from typing import Optional, Protocol

__all__ = ["Pattern", "escape", "matches", "parse", "topic_pattern", "unescape"]

_ESCAPES = (("\\1", "."), ("\\2", ","), ("\\3", "*"))


def escape(value: str) -> str:
    """``value`` as one exact value of a filter part (``.`` ``,`` ``*`` escaped)."""
    for code, char in _ESCAPES:
        value = value.replace(char, code)
    return value


def topic_pattern(type: str, action: str, key: str) -> str:
    """The filter matching exactly ``type``, ``action`` and ``key`` (each may be ``*``).

    Dots stay as they are in the key: only the first two dots split the filter.
    """

    def exact(value: str, dots: bool) -> str:
        if value == "*":
            return value
        escaped = escape(value)
        return escaped if dots else escaped.replace("\\1", ".")

    return f"{exact(type, True)}.{exact(action, True)}.{exact(key, False)}"


def unescape(value: str) -> str:
    """The exact value a filter value stands for."""
    for code, char in _ESCAPES:
        value = value.replace(code, char)
    return value


class _Topic(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def action(self) -> str: ...

    @property
    def key(self) -> str: ...


Part = Optional[frozenset[str]]  # noqa: UP045 - None: the wildcard (runs on 3.9)


def _parse_part(text: str) -> Part:
    if text.strip() == "*":
        return None
    return frozenset(unescape(value.strip()) for value in text.split(","))


class Pattern:
    """A parsed filter: ``Pattern("machines.create,delete.*").matches(event)``."""

    __slots__ = ("text", "parts")

    def __init__(self, text: str) -> None:
        pieces = text.split(".", 2)
        if len(pieces) != 3:
            raise ValueError(f"event filter {text!r} is not of the form type.action.key")
        self.text = text
        self.parts: tuple[Part, Part, Part] = (
            _parse_part(pieces[0]),
            _parse_part(pieces[1]),
            _parse_part(pieces[2]),
        )

    def matches(self, event: _Topic) -> bool:
        """Whether ``event`` (anything with ``type``, ``action``, ``key``) matches."""
        fields = (event.type, event.action, event.key)
        return all(
            part is None or field.strip() in part
            for part, field in zip(self.parts, fields)  # noqa: B905 - lengths checked; strict= is 3.10+
        )

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


def parse(text: str) -> Pattern:
    """Parse ``text``; raises ``ValueError`` when it has fewer than two dots."""
    return Pattern(text)


def matches(pattern: str | Pattern, event: _Topic) -> bool:
    """Whether ``event`` matches the filter ``pattern``."""
    return (pattern if isinstance(pattern, Pattern) else Pattern(pattern)).matches(event)
