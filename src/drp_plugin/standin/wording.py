"""DRP's wording for errors the stand-in finds with Python libraries.

DRP validates with gojsonschema, decodes with Go's encoding/json and patches with
its own JSON patch code; the stand-in uses jsonschema, json and jsonpatch, whose
messages would leak Python (``'x' is not of type 'boolean'``, ``Expecting property
name enclosed in double quotes``, ``(<class 'str'>)``).  These functions give the
messages DRP's clients see (recorded drpcli outputs, provision ``af452c8a~1``):

- ``ValidationError: typed-cows/fred1: Error in value: Spotted: Invalid type.
  Expected: boolean, given: string`` (TestPluginProviderCli/extended.5c9d4c569c536fdbe4545f7d3d5fc6ca);
- ``INVOKE: machines/<uuid>: Action increment: Invalid Parameter: incrementer/step:
  : (root): Invalid type. Expected: integer, given: string`` (TestMachineCli);
- ``PATCH: profiles/john`` / ``Patch failed to apply at line 0`` / ``Test op failed.``
  (TestProfileCli/profiles.params.john.c79821955caebca7a1384913728d3792).
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema


def json_type(value: Any) -> str:
    """gojsonschema's name of ``value``'s JSON type (``integer`` apart from ``number``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def field_of(error: jsonschema.ValidationError) -> str:
    """gojsonschema's ``%field%``: ``(root)`` or the dotted path."""
    path = [str(p) for p in error.absolute_path]
    return ".".join(path) if path else "(root)"


def schema_message(error: jsonschema.ValidationError) -> str:
    """``<field>: <description>`` in gojsonschema's words where they are known."""
    kind = error.validator
    field = field_of(error)
    if kind == "type":
        expected = error.validator_value
        if isinstance(expected, list):
            expected = ",".join(str(e) for e in expected)
        return f"{field}: Invalid type. Expected: {expected}, given: {json_type(error.instance)}"
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"{field}: {missing} is required"
    if kind == "enum":
        options = ", ".join(json.dumps(v) for v in error.validator_value)
        return f"{field}: {field} must be one of the following: {options}"
    if kind == "const":
        return f"{field}: {field} does not match: {json.dumps(error.validator_value)}"
    if kind in ("minimum", "maximum"):
        word = "greater" if kind == "minimum" else "less"
        return f"{field}: Must be {word} than or equal to {error.validator_value}"
    if kind in ("minLength", "maxLength"):
        word = "greater" if kind == "minLength" else "less"
        return (f"{field}: String length must be {word} than or equal to "
                f"{error.validator_value}")
    if kind == "pattern":
        return f"{field}: Does not match pattern '{error.validator_value}'"
    if kind == "additionalProperties":
        return f"{field}: Additional property is not allowed"
    return f"{field}: {error.message}"


def param_errors(name: str, errors: list[jsonschema.ValidationError]) -> list[str]:
    """Messages for a param value its schema refuses (``Invalid Parameter: <p>: : ...``)."""
    return [f"Invalid Parameter: {name}: : {schema_message(e)}" for e in errors]


def object_errors(errors: list[jsonschema.ValidationError]) -> list[str]:
    """Messages for a plugin-defined object its StoreObjects schema refuses: gojsonschema's
    ``e.String()``, ``(root): `` prefix included (recorded "Error in value: (root):
    Spotted is required", "Error in value: Spotted: Invalid type...")."""
    return [f"Error in value: {schema_message(e)}" for e in errors]


def default_errors(errors: list[jsonschema.ValidationError]) -> list[str]:
    """A Param whose Schema ``default`` its schema refuses (models/param.go ``Validate``:
    "Error in default value: (root): Invalid type. Expected: string, given: boolean")."""
    return [f"Error in default value: {schema_message(e)}" for e in errors]


def set_param_error(name: str, value: Any, errors: list[jsonschema.ValidationError]) -> str:
    """``<type> set <key> param <name> to <value>`` with a value the Param's schema
    refuses (recorded TestParamValidation: "Key 'goodDefault': invalid val '[5]': :
    (root): Invalid type. Expected: string, given: array")."""
    text = json.dumps(value, separators=(",", ":"))
    return f"Key '{name}': invalid val '{text}': : " + \
        "; ".join(schema_message(e) for e in errors)


def json_error(text: bytes, exc: ValueError) -> str:
    """Go's encoding/json wording for a body that is not JSON."""
    pos = getattr(exc, "pos", None)
    raw = text.decode("utf-8", errors="replace")
    if pos is None or pos >= len(raw.rstrip()):
        return "unexpected end of JSON input"
    return f"invalid character {raw[pos]!r} at offset {pos}"
