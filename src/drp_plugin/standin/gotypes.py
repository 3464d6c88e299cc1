"""Whether a JSON value fits a DRP model field's Go type, worded as Go's ``encoding/json``.

DRP reads a content pack's objects into its Go models; a value of the wrong JSON kind
fails there, and DRP's answer quotes Go's error (recorded TestContentsFunctionalCli,
``contents create`` of a profile whose ``Params`` is ``12``: "Store profiles item p1-bad
failed to load from layer content-PackBad: json: cannot unmarshal number into Go struct
field Profile.Params of type map[string]interface {}").  The field types are v4.8's
(``drp_models.json``, read from ``models/*.go`` by ``tools/gen_drp_models.py``).

Only the kind of each top-level field is checked (object, array, string, number,
boolean): nested values and number ranges are left to the stand-in's own validation.
"""

from __future__ import annotations

import re
from typing import Any

from ..content import drp_models

#: Go types that read a JSON string or number (beyond ``string`` and the number types).
_STRINGISH = ("uuid.UUID", "net.IP", "time.Time")
_NUMBERS = ("int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32",
            "uint64", "float32", "float64")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _underlying(gotype: str, named: dict[str, str]) -> str:
    seen: set[str] = set()
    while gotype in named and gotype not in seen:
        seen.add(gotype)
        gotype = named[gotype]
    return gotype


def _accepts(gotype: str, kind: str, structs: dict[str, Any], named: dict[str, str]) -> bool:
    base = _underlying(gotype.lstrip("*"), named)
    if base in ("interface{}", "json.RawMessage"):
        return True
    if kind == "bool":
        return base == "bool"
    if kind == "number":
        return base in _NUMBERS
    if kind == "string":
        return base == "string" or base in _STRINGISH or base == "[]byte"
    if kind == "array":
        return base.startswith("[]")
    return base.startswith("map[") or base in structs or gotype.lstrip("*") in structs


def _go_name(gotype: str, named: dict[str, str], structs: dict[str, Any]) -> str:
    """A Go type as ``reflect`` prints it (``map[string]interface {}``, ``models.Meta``,
    ``[]models.TemplateInfo``)."""
    return re.sub(r"[A-Za-z_][\w.]*", lambda m: f"models.{m.group()}"
                  if m.group() in named or m.group() in structs else m.group(),
                  gotype).replace("interface{}", "interface {}")


def unmarshal_error(prefix: str, obj: Any) -> str | None:
    """Go's error for the first top-level field of ``obj`` (an object of ``prefix``)
    whose JSON kind its v4.8 model field cannot take, or ``None``."""
    models = drp_models()
    struct = models.get("prefixes", {}).get(prefix)
    fields = models.get("structs", {}).get(struct or "")
    if not struct or not isinstance(fields, dict):
        return None
    structs, named = models.get("structs", {}), models.get("named", {})
    if not isinstance(obj, dict):
        return f"json: cannot unmarshal {_kind(obj)} into Go value of type models.{struct}"
    for name, value in obj.items():
        gotype = fields.get(name)
        if gotype is None or value is None:
            continue
        kind = _kind(value)
        if not _accepts(gotype, kind, structs, named):
            return (f"json: cannot unmarshal {kind} into Go struct field {struct}.{name} "
                    f"of type {_go_name(gotype, named, structs)}")
    return None
