"""A provider's content bundle (the ``Content`` YAML of ``define``), read for loading."""

from __future__ import annotations

from typing import Any

import yaml

from .._types import Obj

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Content sections the stand-in loads (besides plugin-defined prefixes), in load order.
LOADED_SECTIONS = ("params", "profiles", "templates", "tasks", "bootenvs", "stages",
                   "workflows")


def parse_bundle(text: Any) -> tuple[Obj, dict[str, dict[str, Obj]]]:
    """``(meta, sections)`` of a bundle; ``ValueError`` when it is malformed."""
    if text in (None, ""):
        return {}, {}
    if not isinstance(text, str):
        raise ValueError("Content must be a YAML string")
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise ValueError(f"Content is not valid YAML: {exc}") from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ValueError("Content must be a mapping with meta and sections")
    meta = data.get("meta") or {}
    sections = data.get("sections") or {}
    if not isinstance(meta, dict) or not isinstance(sections, dict):
        raise ValueError("Content meta and sections must be mappings")
    out: dict[str, dict[str, Obj]] = {}
    for prefix, objects in sections.items():
        if objects is None:
            continue
        if not isinstance(objects, dict) or not all(isinstance(o, dict) for o in objects.values()):
            raise ValueError(f"Content section {prefix} must map keys to objects")
        out[str(prefix)] = {str(k): v for k, v in objects.items()}
    return {str(k): v for k, v in meta.items()}, out
