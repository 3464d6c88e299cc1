"""List filters: ``?<Index>=Op(value)`` query values of ``GET /api/v3/<prefix>``.

>>> str(Between(1, 5))
'Between(1,5)'
>>> query({"Name": Re("^n"), "Arch": In("amd64", "arm64")}, sort="Name", limit=2)
[('Name', 'Re(^n)'), ('Arch', 'In(amd64,arm64)'), ('sort', 'Name'), ('limit', '2')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Union

__all__ = [
    "Between",
    "Eq",
    "Except",
    "Filter",
    "FilterValue",
    "Gt",
    "Gte",
    "In",
    "Lt",
    "Lte",
    "Ne",
    "Nin",
    "Re",
    "query",
    "query_value",
]


def query_value(value: Any) -> str:
    """A scalar as DRP reads it in a query: booleans are ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Filter:
    """One index operation, rendered ``Op(arg,arg...)``."""

    __slots__ = ("op", "args")

    def __init__(self, op: str, *args: Any) -> None:
        self.op = op
        self.args: tuple[str, ...] = tuple(query_value(a) for a in args)

    def __str__(self) -> str:
        return f"{self.op}({','.join(self.args)})"

    def __repr__(self) -> str:
        return f"Filter({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filter) and (self.op, self.args) == (other.op, other.args)

    def __hash__(self) -> int:
        return hash((self.op, self.args))


def Eq(value: Any) -> Filter:
    """Index equal to ``value``."""
    return Filter("Eq", value)


def Ne(value: Any) -> Filter:
    """Index not equal to ``value``."""
    return Filter("Ne", value)


def Lt(value: Any) -> Filter:
    """Index less than ``value``."""
    return Filter("Lt", value)


def Lte(value: Any) -> Filter:
    """Index less than or equal to ``value``."""
    return Filter("Lte", value)


def Gt(value: Any) -> Filter:
    """Index greater than ``value``."""
    return Filter("Gt", value)


def Gte(value: Any) -> Filter:
    """Index greater than or equal to ``value``."""
    return Filter("Gte", value)


def Re(pattern: str) -> Filter:
    """Index matching the RE2 regular expression ``pattern`` (regex indexes only)."""
    return Filter("Re", pattern)


def In(*values: Any) -> Filter:
    """Index equal to one of ``values`` (values cannot contain commas)."""
    return Filter("In", *values)


def Nin(*values: Any) -> Filter:
    """Index equal to none of ``values``."""
    return Filter("Nin", *values)


def Between(lower: Any, upper: Any) -> Filter:
    """Index between ``lower`` and ``upper``, both inclusive."""
    return Filter("Between", lower, upper)


def Except(lower: Any, upper: Any) -> Filter:
    """Index outside ``lower`` .. ``upper``."""
    return Filter("Except", lower, upper)


#: What one index may be filtered with: an operation, a plain value (equality),
#: or several of them (each becomes its own query parameter).
FilterValue = Union[Filter, str, int, float, bool, Iterable[Filter]]  # noqa: UP007 - runs on 3.9


def _names(value: str | Iterable[str]) -> str:
    return value if isinstance(value, str) else ",".join(value)


def query(
    filters: Mapping[str, FilterValue] | None = None,
    *,
    sort: str | None = None,
    reverse: bool = False,
    limit: int | None = None,
    offset: int | None = None,
    slim: str | Iterable[str] | None = None,
    params: str | Iterable[str] | None = None,
    aggregate: bool = False,
    decode: bool = False,
) -> list[tuple[str, str]]:
    """The query parameters of a filtered list, in a stable order."""
    result: list[tuple[str, str]] = []
    for index, value in (filters or {}).items():
        if isinstance(value, (Filter, str, int, float, bool)):
            result.append((index, query_value(value)))
        else:
            result.extend((index, str(item)) for item in value)
    if sort is not None:
        result.append(("sort", sort))
    if reverse:
        result.append(("reverse", "true"))
    if limit is not None:
        result.append(("limit", str(limit)))
    if offset is not None:
        result.append(("offset", str(offset)))
    if slim is not None:
        result.append(("slim", _names(slim)))
    if params is not None:
        result.append(("params", _names(params)))
    if aggregate:
        result.append(("aggregate", "true"))
    if decode:
        result.append(("decode", "true"))
    return result
