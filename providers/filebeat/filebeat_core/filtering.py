"""What DRP events become: the Go provider's ``filter``, then one line of JSON."""

from __future__ import annotations

import json
from typing import Any


def _rename_os(obj: dict[str, Any]) -> None:
    if "OS" in obj:
        obj["MachineOS"] = obj.pop("OS")


def shape_event(raw: dict[str, Any]) -> dict[str, Any]:
    """The JSON object written for one event (the Go provider's ``filter``).

    The fields of ``models.Event``, in that shape whatever the server sent.  For
    machine events, ``Object.Params["gohai-inventory"]`` becomes ``{}`` (always
    present, as the Go provider sets it) and ``OS`` is renamed ``MachineOS`` in
    ``Object`` and ``Original``; an ``Original`` that has ``gohai-inventory`` has
    it emptied too.  A machine event's ``Object`` or ``Original`` that is ``null``
    is written ``{}``, as Go's ``filter`` writes it (it decodes each into a map).
    Nothing of ``raw`` is modified.
    """
    data: dict[str, Any] = {
        "Time": raw.get("Time") or "0001-01-01T00:00:00Z",
        "Type": raw.get("Type") or "",
        "Action": raw.get("Action") or "",
        "Key": raw.get("Key") or "",
        "Principal": raw.get("Principal") or "",
        "Object": raw.get("Object"),
        "Original": raw.get("Original"),
    }
    if data["Type"] != "machines":
        return data
    obj = data["Object"]
    if isinstance(obj, dict):
        obj = dict(obj)
        params = obj.get("Params")
        params = dict(params) if isinstance(params, dict) else {}
        params["gohai-inventory"] = {}
        obj["Params"] = params
        _rename_os(obj)
        data["Object"] = obj
    if data["Object"] is None:
        data["Object"] = {}
    original = data["Original"]
    if original is None:
        data["Original"] = {}
    elif isinstance(original, dict):
        original = dict(original)
        params = original.get("Params")
        if isinstance(params, dict) and "gohai-inventory" in params:
            original["Params"] = {**params, "gohai-inventory": {}}
        _rename_os(original)
        data["Original"] = original
    return data


def encode_event(raw: dict[str, Any]) -> bytes:
    """One event as one line of JSON (keys sorted, like Go's ``json.Marshal`` of a map)."""
    text = json.dumps(shape_event(raw), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return text.encode("utf-8", errors="replace") + b"\n"
