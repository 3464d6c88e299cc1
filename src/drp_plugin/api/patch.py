"""RFC 6902 JSON patches for DRP's ``PATCH`` endpoints.

``make_patch(old, new, guard=True)`` puts ``test`` operations in front that check
every value the patch changes still holds its old value, so the server rejects the
patch (409) when someone else changed the object in between.  ``param_*`` build
patches for ``PATCH /<prefix>/<key>/params``, whose document is the params map:
param names contain ``/``, which JSON pointers escape as ``~1``.
"""

from __future__ import annotations

from typing import Any

import jsonpatch

__all__ = [
    "UNSET",
    "Unset",
    "guards",
    "make_patch",
    "param_add",
    "param_remove",
    "param_replace",
    "pointer",
]

Operation = dict[str, Any]


class Unset:
    """Type of :data:`UNSET`, "no value given" (``None`` is the JSON ``null``)."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()


def pointer(*parts: str | int) -> str:
    """The JSON pointer (RFC 6901) of ``parts``: ``pointer("a/b", "~")`` is ``/a~1b/~0``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it (``True`` is not ``1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))  # noqa: B905 - lengths checked; strict= is 3.10+
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    return bool(a == b)


def _collect_guards(old: Any, new: Any, parts: list[str], out: list[Operation]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key, value in old.items():
            if key not in new or not _json_equal(value, new[key]):
                _collect_guards(value, new.get(key, UNSET), [*parts, key], out)
        return
    if isinstance(new, Unset) or not _json_equal(old, new):
        out.append({"op": "test", "path": pointer(*parts), "value": old})


def guards(old: Any, new: Any) -> list[Operation]:
    """``test`` ops checking the old value of everything that differs in ``new``.

    Objects are compared member by member; a changed list or scalar is tested whole.
    Members only ``new`` has cannot be tested (RFC 6902 has no "absent" test).
    """
    out: list[Operation] = []
    _collect_guards(old, new, [], out)
    return out


def make_patch(old: Any, new: Any, *, guard: bool = False) -> list[Operation]:
    """The patch turning ``old`` into ``new``, optionally guarded by ``test`` ops."""
    ops: list[Operation] = list(jsonpatch.make_patch(old, new))
    if guard and ops:
        return guards(old, new) + ops
    return ops


def _tested(path: str, expected: Any) -> list[Operation]:
    return [] if isinstance(expected, Unset) else [{"op": "test", "path": path, "value": expected}]


def param_add(name: str, value: Any) -> list[Operation]:
    """Set param ``name`` (RFC 6902 ``add``: creates it or overwrites it)."""
    return [{"op": "add", "path": pointer(name), "value": value}]


def param_replace(name: str, value: Any, *, expected: Any = UNSET) -> list[Operation]:
    """Replace an existing param, first testing it still equals ``expected`` if given."""
    path = pointer(name)
    return [*_tested(path, expected), {"op": "replace", "path": path, "value": value}]


def param_remove(name: str, *, expected: Any = UNSET) -> list[Operation]:
    """Remove a param, first testing it still equals ``expected`` if given."""
    path = pointer(name)
    return [*_tested(path, expected), {"op": "remove", "path": path}]
