"""List queries of ``GET /api/v3/<prefix>``: filters, sort, paging, slim, params.

Filters: ``?<Field>=v`` (equality), or ``Eq|Ne|Lt|Lte|Gt|Gte|In|Nin|Re(v)`` and
``Between|Except(a,b)``.  ``<Field>`` is a top-level field of the type or
``Params.<name>``.  The filter text is converted to the type of the object's value
(bool, number or string) before comparing, like DRP's typed indexes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import PluginError

#: Query parameters that are not filters.
RESERVED = frozenset(
    {"sort", "reverse", "limit", "offset", "slim", "params", "aggregate", "decode", "token",
     "commented", "reduced", "force", "replaceWritable"}
)
_OP = re.compile(r"^(Eq|Ne|Lt|Lte|Gt|Gte|In|Nin|Re|Between|Except)\((.*)\)$", re.S)
_MISSING = object()

Test = Callable[[dict[str, Any]], bool]


def _lookup(obj: dict[str, Any], name: str) -> Any:
    if name.startswith("Params."):
        params = obj.get("Params")
        if isinstance(params, dict):
            return params.get(name[len("Params."):], _MISSING)
        return _MISSING
    return obj.get(name, _MISSING)


def _coerce(text: str, sample: Any) -> Any:
    """``text`` converted to the JSON type of ``sample``."""
    if isinstance(sample, bool):
        low = text.strip().lower()
        if low not in ("true", "false"):
            raise ValueError(f"{text!r} is not a boolean")
        return low == "true"
    if isinstance(sample, (int, float)):
        return float(text)
    if isinstance(sample, (list, dict)):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def _comparable(value: Any) -> Any:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _make_test(name: str, expr: str) -> Test:
    match = _OP.match(expr)
    op, arg = (match.group(1), match.group(2)) if match else ("Eq", expr)
    args = arg.split(",") if op in ("In", "Nin", "Between", "Except") else [arg]
    if op in ("Between", "Except") and len(args) != 2:
        raise PluginError(f"{op} needs two values: {expr}", code=406, type="GET")
    regex = None
    if op == "Re":
        try:
            regex = re.compile(arg)
        except re.error as exc:
            raise PluginError(f"Invalid regex {arg!r}: {exc}", code=406, type="GET") from None

    def test(obj: dict[str, Any]) -> bool:
        value = _lookup(obj, name)
        if value is _MISSING:
            return op in ("Ne", "Nin", "Except")
        if regex is not None:
            text = value if isinstance(value, str) else json.dumps(value)
            return regex.search(text) is not None
        try:
            wanted = [_coerce(a, value) for a in args]
        except ValueError:
            return op in ("Ne", "Nin", "Except")
        have = _comparable(value)
        try:
            if op == "Eq":
                return bool(have == wanted[0])
            if op == "Ne":
                return bool(have != wanted[0])
            if op == "In":
                return have in wanted
            if op == "Nin":
                return have not in wanted
            if op == "Lt":
                return bool(have < wanted[0])
            if op == "Lte":
                return bool(have <= wanted[0])
            if op == "Gt":
                return bool(have > wanted[0])
            if op == "Gte":
                return bool(have >= wanted[0])
            inside = bool(wanted[0] <= have <= wanted[1])
            return inside if op == "Between" else not inside
        except TypeError:
            return False

    return test


def _sort_key(name: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    def key(obj: dict[str, Any]) -> tuple[int, Any]:
        value = _lookup(obj, name)
        if value is _MISSING or value is None:
            return (0, 0)
        if isinstance(value, bool):
            return (1, int(value))
        if isinstance(value, (int, float)):
            return (2, value)
        if isinstance(value, str):
            return (3, value)
        return (4, json.dumps(value, sort_keys=True))

    return key


def _int_arg(query: Mapping[str, str], name: str, label: str) -> int | None:
    text = query.get(name)
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise PluginError(f"{label} must be a number", code=406, type="GET") from None
    if value < 0:
        raise PluginError(f"{label} cannot be negative", code=406, type="GET")
    return value


def select(
    objects: list[dict[str, Any]],
    query: Mapping[str, str],
    fields: set[str],
    sort_args: list[str],
    model: str,
) -> list[dict[str, Any]]:
    """Filter, sort and page ``objects`` (already in key order) per ``query``."""
    tests: list[Test] = []
    for name, expr in query.items():
        if name in RESERVED:
            continue
        if name not in fields and not name.startswith("Params."):
            raise PluginError(f"Filter not found: {name}", code=406, model=model, type="GET")
        tests.append(_make_test(name, expr))
    result = [o for o in objects if all(t(o) for t in tests)]
    for name in reversed(sort_args):
        if name not in fields and not name.startswith("Params."):
            raise PluginError(f"Not sortable: {name}", code=406, model=model, type="GET")
        result.sort(key=_sort_key(name))
    if query.get("reverse", "").lower() == "true":
        result.reverse()
    try:
        limit = _int_arg(query, "limit", "Limit")
        offset = _int_arg(query, "offset", "Offset")
    except PluginError as err:
        err.model = model
        raise
    if offset:
        result = result[offset:]
    if limit is not None:
        result = result[:limit]
    return result


def slim(obj: dict[str, Any], query: Mapping[str, str]) -> dict[str, Any]:
    """Apply ``slim=Params,Meta`` and ``params=a,b`` to one rendered object."""
    dropped = {f.strip() for f in query.get("slim", "").split(",") if f.strip()}
    wanted = [p.strip() for p in query.get("params", "").split(",") if p.strip()]
    if not dropped and not wanted:
        return obj
    obj = dict(obj)
    if wanted and "Params" not in dropped and isinstance(obj.get("Params"), dict):
        obj["Params"] = {k: v for k, v in obj["Params"].items() if k in wanted}
    for name in dropped & {"Params", "Meta"}:
        obj.pop(name, None)
    obj["Partial"] = True
    return obj
