"""List queries of ``GET /api/v3/<prefix>``: filters, sort, paging, slim, params.

Filters (api/client.go ``R.Filter``): ``?<Field>=v`` (equality), or
``Eq|Ne|Lt|Lte|Gt|Gte|In|Nin|Re(v)`` and ``Between|Except(a,b)``; on a list or map
field (``Profiles``, ``Params``) ``Eq|Ne|In|Nin`` test its members.  ``<Field>`` is a
top-level field of the type; any other name is a param filter (``?<param>=Eq(v)``,
also written ``Params.<param>``).  Values are compared by the field's index type:
``Address`` as an IP address, ``Uuid`` as a UUID, booleans and numbers as such
(recorded drpcli errors: "Invalid UUID: false", "Invalid address: fred", "Runnable
must be true or false", cli/test-data/output/TestMachineCli/machines.list.*).
``Re(v)`` is an RE2 expression matched in linear time, as Go's ``regexp`` (DRP's) does:
no backtracking, so no filter can take exponential time (Python's ``re`` took minutes
on ``Re((a+)+$)``); compiling one may use ``regex_max_mem`` bytes (a setting).
List options the stand-in does not implement (``filter``, ``raw``, ``group-by``,
``range-only``, ``exclude-self``, ``expand``) answer 501 naming the option.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import re2

from ..errors import PluginError

#: List options of DRP the stand-in does not implement (answered 501, named).
UNSUPPORTED = frozenset({"filter", "raw", "group-by", "range-only", "exclude-self", "expand"})
#: Fields compared as IP addresses / UUIDs (DRP's index types).
IP_FIELDS = frozenset({"Address"})
#: Fields compared as times (DRP's ``dateTime`` indexes), given as RFC 3339.
TIME_FIELDS = frozenset({"StartTime", "EndTime"})
#: Go's ``time.RFC3339`` layout, element by element, with what each element reads.
_RFC3339 = (("2006", r"\d{4}"), ("-", "-"), ("01", r"\d{2}"), ("-", "-"), ("02", r"\d{2}"),
            ("T", "T"), ("15", r"\d{2}"), (":", ":"), ("04", r"\d{2}"), (":", ":"),
            ("05", r"\d{2}(?:\.\d+)?"), ("Z07:00", r"Z|[+-]\d{2}:\d{2}"))
_RANGES = (("month", 2, 1, 12), ("day", 4, 1, 31), ("hour", 6, 0, 23), ("minute", 8, 0, 59),
           ("second", 10, 0, 59))
UUID_FIELDS = frozenset({"Uuid", "CurrentJob", "Machine"})
#: Index names that filter another field: DRP's ``Valid`` index is ``Validated``
#: (recorded TestBootEnvCli ``bootenvs list Valid=true`` / "Valid must be true or false").
ALIASES = {"Valid": "Validated"}
#: Query parameters that are not filters.
RESERVED = frozenset(
    {"sort", "reverse", "limit", "offset", "slim", "params", "aggregate", "decode", "token",
     "commented", "reduced", "force", "replaceWritable"}
)
_OP = re.compile(r"^(Eq|Ne|Lt|Lte|Gt|Gte|In|Nin|Re|Between|Except)\((.*)\)$", re.S)
_MISSING = object()
#: RE2's own budget for compiling one expression (``Limits.regex_max_mem``'s default).
REGEX_MAX_MEM = 8 * 1024 * 1024

Test = Callable[[dict[str, Any]], bool]


def _lookup(obj: dict[str, Any], name: str) -> Any:
    if name.startswith("Params.") and name not in obj:
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


def _index_value(name: str, text: str, sample: Any, model: str, label: str = "") -> Any:
    """``text`` as a value of index ``name`` (406 naming the index, as ``label`` if
    given, when it is not one)."""
    label = label or name
    if name in IP_FIELDS:
        try:
            return ipaddress.ip_address(text.strip())
        except ValueError:
            raise PluginError(f"Invalid address: {text}", code=406, model=model,
                              type="GET") from None
    if name in UUID_FIELDS:
        try:
            return uuid.UUID(text.strip())
        except ValueError:
            raise PluginError(f"Invalid UUID: {text}", code=406, model=model,
                              type="GET") from None
    if name in TIME_FIELDS:
        problem = rfc3339_error(text)
        if problem is not None:
            raise PluginError(problem, code=406, model=model, type="GET")
    if isinstance(sample, bool):
        low = text.strip().lower()
        if low not in ("true", "false"):
            raise PluginError(f"{label} must be true or false", code=406, model=model,
                              type="GET")
        return low == "true"
    if isinstance(sample, (int, float)):
        try:
            return float(text)
        except ValueError:
            raise PluginError(f"{label} must be a number", code=406, model=model,
                              type="GET") from None
    return text


def rfc3339_error(text: str) -> str | None:
    """Go's ``time.Parse(time.RFC3339, text)`` error text, or ``None`` when it parses
    (recorded TestJobCli ``jobs list StartTime=fred``: 'parsing time "fred" as
    "2006-01-02T15:04:05Z07:00": cannot parse "fred" as "2006"')."""
    layout = "".join(element for element, _ in _RFC3339)
    rest, read = text, []
    for element, pattern in _RFC3339:
        found = re.match(pattern, rest)
        if found is None:
            return f'parsing time "{text}" as "{layout}": cannot parse "{rest}" as "{element}"'
        read.append(found.group())
        rest = rest[found.end():]
    if rest:
        return f'parsing time "{text}": extra text: "{rest}"'
    for label, at, low, high in _RANGES:
        if not low <= int(read[at].split(".")[0]) <= high:
            return f'parsing time "{text}": {label} out of range'
    return None


def _typed(name: str, value: Any) -> Any:
    """An object's field value in its index type (IP, UUID) for comparing."""
    try:
        if name in IP_FIELDS and isinstance(value, str) and value:
            return ipaddress.ip_address(value)
        if name in UUID_FIELDS and isinstance(value, str) and value:
            return uuid.UUID(value)
    except ValueError:
        return value
    return _comparable(value)


def _index_test(name: str, op: str, args: list[str], sample: Any, model: str,
                label: str = "") -> Test:
    wanted = [_index_value(name, a, sample, model, label) for a in args]

    def test(obj: dict[str, Any]) -> bool:
        value = _lookup(obj, name)
        if value is _MISSING:
            return op in ("Ne", "Nin", "Except")
        return _compare(op, _typed(name, value), wanted)

    return test


def _members_test(name: str, op: str, args: list[str]) -> Test:
    """A filter on a list field (``Profiles``) or a map field (``Params``, by its keys):
    ``Eq(a,b)`` holds when the object has every one of them, ``Ne`` when it has not,
    ``In(a,b)`` when it has any, ``Nin`` when it has none (recorded
    TestMachineProfilesAndParams: ``machines list Profiles Eq foo,bar`` answers bob, whose
    Profiles are foo and bar, not fred with bar alone; ``Params Eq dog,cat`` answers the
    machine having both params)."""
    wanted = {a for arg in args for a in arg.split(",")}

    def test(obj: dict[str, Any]) -> bool:
        value = _lookup(obj, name)
        have = {h for h in value if isinstance(h, str)} \
            if isinstance(value, (list, dict)) else set()
        if op in ("Eq", "Ne"):
            return wanted <= have if op == "Eq" else not wanted <= have
        return bool(wanted & have) if op == "In" else not wanted & have

    return test


def _compare(op: str, have: Any, wanted: list[Any]) -> bool:
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
    except TypeError:  # e.g. an IPv4 against an IPv6 address, or an empty Address
        return op in ("Ne", "Nin", "Except")


def compile_regex(pattern: str, max_mem: int = REGEX_MAX_MEM) -> Any:
    """``pattern`` compiled by RE2 (Go's syntax, linear-time matching) within ``max_mem``
    bytes; 406 naming the setting when it is too large, or when it is not valid."""
    options = re2.Options()
    options.max_mem = max_mem
    options.log_errors = False          # RE2 would print each bad pattern on stderr
    try:
        regex = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        if "too large" in text:
            text += (f" (RE2 may use {max_mem} bytes to compile a filter: "
                     "DRP_PLUGIN_STANDIN_REGEX_MAX_MEM)")
        raise PluginError(f"Invalid regex {pattern!r}: {text}", code=406, type="GET") from None
    finally:
        # re2's module cache would keep up to 128 compiled expressions (and their match
        # caches, up to max_mem each) for the life of the stand-in: each lives for its
        # request only.
        re2.purge()
    return regex


def _make_test(name: str, expr: str, sample: Any = _MISSING, model: str = "",
               regex_max_mem: int = REGEX_MAX_MEM, label: str = "") -> Test:
    match = _OP.match(expr)
    op, arg = (match.group(1), match.group(2)) if match else ("Eq", expr)
    args = arg.split(",") if op in ("In", "Nin", "Between", "Except") else [arg]
    if op in ("Between", "Except") and len(args) != 2:
        raise PluginError(f"{op} needs two values: {expr}", code=406, type="GET")
    if isinstance(sample, (list, dict)) and op in ("Eq", "Ne", "In", "Nin"):
        return _members_test(name, op, args)
    if sample is not _MISSING and op != "Re":
        return _index_test(name, op, args, sample, model, label)
    regex = compile_regex(arg, regex_max_mem) if op == "Re" else None

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
        return _compare(op, _comparable(value), wanted)

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
    samples: Mapping[str, Any] | None = None,
    regex_max_mem: int = REGEX_MAX_MEM,
) -> list[dict[str, Any]]:
    """Filter, sort and page ``objects`` (already in key order) per ``query``.

    ``samples`` maps a field to a value of its type (the type's default), which makes
    its filter an index filter compared by that type.  Reads the objects only, so it
    may run in a worker thread (the stand-in runs it there, off its event loop).
    """
    tests: list[Test] = []
    for name, expr in query.items():
        if name in UNSUPPORTED:
            raise PluginError(f"The DRP stand-in does not implement the list option {name}",
                              code=501, model=model, type="GET")
        if name in RESERVED:
            continue
        if name not in fields and ALIASES.get(name) in fields:
            field = ALIASES[name]
            tests.append(_make_test(field, expr, (samples or {}).get(field, _MISSING), model,
                                    regex_max_mem, label=name))
        elif name in fields:
            typed = name in IP_FIELDS or name in UUID_FIELDS
            sample = (samples or {}).get(name, "" if typed else _MISSING)
            tests.append(_make_test(name, expr, sample, model, regex_max_mem))
        else:  # a param filter: ?<param>=Op(v), or ?Params.<param>=...
            param = name if name.startswith("Params.") else f"Params.{name}"
            tests.append(_make_test(param, expr, regex_max_mem=regex_max_mem))
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
    """Apply ``slim=params,meta`` and ``params=a,b`` to one rendered object, as recorded
    (cli/test-data/output/TestProfileCli/profiles.show.john.*, ``--slim``/``--params``):
    a slimmed field is answered empty (``"Params": {}``), names case-insensitive;
    ``params=`` keeps those params (even with ``slim=params``); either marks the object
    ``Partial``."""
    dropped = {f.strip().lower() for f in query.get("slim", "").split(",") if f.strip()}
    wanted = [p.strip() for p in query.get("params", "").split(",") if p.strip()]
    if not dropped and not wanted:
        return obj
    obj = dict(obj)
    if wanted and isinstance(obj.get("Params"), dict):
        obj["Params"] = {k: v for k, v in obj["Params"].items() if k in wanted}
    elif "params" in dropped and "Params" in obj:
        obj["Params"] = {}
    if "meta" in dropped and "Meta" in obj:
        obj["Meta"] = {}
    obj["Partial"] = True
    return obj
