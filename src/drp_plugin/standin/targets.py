"""Naming the target of an action: ``prefix/key``, a machine name, or nothing."""

from __future__ import annotations

import uuid
from typing import Any


def parse_target(on: Any) -> tuple[str, str]:
    """``(prefix, key)`` for ``on``; ``("", "")`` means a system action.

    ``on`` is ``None`` (system), ``"prefix/key"`` (e.g. ``typed-cows/bertie``,
    ``machines/Name:m1``), a machine key (a Uuid or ``Index:value`` such as
    ``Name:m1``), a machine name, or an object dict (a machine with ``Uuid``, a
    plugin-defined object with ``Type`` and ``Id``).
    """
    if on is None or on == "":
        return "", ""
    if isinstance(on, dict):
        if "Uuid" in on:
            return "machines", str(on["Uuid"])
        if "Type" in on and "Id" in on:
            return str(on["Type"]), str(on["Id"])
        raise ValueError("cannot tell the type of this object: give prefix/key")
    text = str(on)
    prefix, sep, key = text.partition("/")
    if sep and prefix and key:
        return prefix, key
    if ":" in text:
        return "machines", text
    try:
        return "machines", str(uuid.UUID(text))
    except ValueError:
        return "machines", f"Name:{text}"
