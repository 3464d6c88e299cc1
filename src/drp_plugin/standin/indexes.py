"""The indexes of each object type, as ``GET /api/v3/indexes[/<prefix>]`` answers them.

``models.Index`` is ``{Type, Unique, Unordered, Regex}`` (models/index.go); drpcli's
``<type> indexes`` reads ``/indexes/<prefix>`` and ``api/client.go`` ``Indexes`` reads
``/indexes``.  The server defines them, so the tables are DRP's recorded answers
(cli/test-data/output/TestCorePieces/<prefix>.indexes, the commit before "Get rid of
most CLI unit tests"); a plugin-defined type has the ``RawModel`` indexes
(``Available``, ``Id``, ``Key``, ``ReadOnly``, ``Type``, ``Valid``) plus one per field
of its ``StoreObjects`` schema (recorded: TestPluginProviderCli, ``extended -l cows
indexes`` and ``-l typed-cows indexes``).  A name that is no type answers ``{}``
(recorded: ``extended -l freds indexes``).
"""

from __future__ import annotations

from typing import Any

from .objtypes import ObjectType

_BOOL = ("boolean", False, True, False)
_STR = ("string", False, False, True)
_KEY = ("string", True, False, True)
_LIST = ("list", False, True, False)
_UUID = ("UUID string", False, False, False)
_UUID_KEY = ("UUID string", True, False, False)
_TIME = ("dateTime", False, False, False)
#: Every stored model: ``Available``, ``Bundle``, ``Key``, ``ReadOnly``, ``Valid``.
_BASE = {"Available": _BOOL, "Bundle": _STR, "Key": _KEY, "ReadOnly": _BOOL, "Valid": _BOOL}

#: (Type, Unique, Unordered, Regex) per index, as recorded per prefix.
BUILTIN: dict[str, dict[str, tuple[str, bool, bool, bool]]] = {
    "bootenvs": {**_BASE, "Name": _KEY, "OnlyUnknown": _BOOL, "OsName": _STR},
    "jobs": {**_BASE, "Archived": _BOOL, "BootEnv": _STR, "Current": ("boolean", False, False, False),
             "EndTime": _TIME, "Machine": _UUID, "Previous": _UUID, "Stage": _STR,
             "StartTime": _TIME, "State": _STR, "Task": _STR, "Uuid": _UUID_KEY,
             "Workflow": _STR},
    "machines": {**_BASE, "Address": ("IP Address", False, False, False), "BootEnv": _STR,
                 "Name": _KEY, "Params": _LIST, "Profiles": _LIST, "Runnable": _BOOL,
                 "Stage": _STR, "Uuid": _UUID_KEY, "Workflow": _STR},
    "params": {**_BASE, "Name": _KEY, "Secure": _BOOL},
    "plugins": {**_BASE, "Name": _KEY, "Params": _LIST, "Provider": _STR},
    "profiles": {**_BASE, "Name": _KEY, "Params": _LIST},
    "roles": {**_BASE, "Name": _KEY},
    "stages": {**_BASE, "BootEnv": _STR, "Name": _KEY, "Params": _LIST, "Profiles": _LIST,
               "Reboot": _BOOL, "Tasks": _LIST},
    "tasks": {**_BASE, "Name": _KEY},
    "templates": {**_BASE, "ID": _KEY},
    "tenants": {**_BASE, "Name": _KEY},
    "users": {**_BASE, "Name": _KEY},
    "workflows": {**_BASE, "Name": _KEY, "Stages": _LIST},
}
_RAW = {"Available": _BOOL, "Id": _STR, "Key": _KEY, "ReadOnly": _BOOL, "Type": _STR,
        "Valid": _BOOL}
#: JSON schema types of a ``StoreObjects`` field and their index (numbers: chosen).
_SCHEMA_INDEX = {"boolean": _BOOL, "string": _STR, "integer": ("number", False, False, False),
                 "number": ("number", False, False, False)}


def _as_json(table: dict[str, tuple[str, bool, bool, bool]]) -> dict[str, dict[str, Any]]:
    return {name: {"Regex": regex, "Type": kind, "Unique": unique, "Unordered": unordered}
            for name, (kind, unique, unordered, regex) in sorted(table.items())}


def of_prefix(prefix: str, types: dict[str, ObjectType]) -> dict[str, dict[str, Any]]:
    """``map[string]models.Index`` of ``prefix``: a stored type's, or the users' (kept
    apart from the store, recorded TestCorePieces ``users indexes``); ``{}`` for a name
    that is no type."""
    if prefix == "users":
        return _as_json(BUILTIN["users"])
    return of_type(types.get(prefix))


def of_type(otype: ObjectType | None) -> dict[str, dict[str, Any]]:
    """``map[string]models.Index`` of one type (``{}`` for ``None``, no such type)."""
    if otype is None:
        return {}
    if otype.prefix in BUILTIN:
        return _as_json(BUILTIN[otype.prefix])
    if otype.prefix == "plugin_providers":
        return {}
    table = dict(_RAW)
    properties = (otype.schema or {}).get("properties", {})
    for name, fragment in properties.items():
        kind = fragment.get("type") if isinstance(fragment, dict) else None
        if name not in table and isinstance(kind, str) and kind in _SCHEMA_INDEX:
            table[name] = _SCHEMA_INDEX[kind]
    return _as_json(table)


def all_types(types: dict[str, ObjectType]) -> dict[str, dict[str, dict[str, Any]]]:
    """``/indexes``: every served type's indexes, by prefix."""
    return {prefix: of_prefix(prefix, types) for prefix in sorted({*types, "users"})
            if prefix != "plugin_providers"}
