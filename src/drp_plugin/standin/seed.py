"""Seeding a stand-in from YAML: ``{params: [...], profiles: [...], machines: [...], <prefix>: [...]}``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from .._types import Obj
from ..errors import PluginError

if TYPE_CHECKING:
    from .server import StandIn

#: Prefixes created first, in this order (others follow sorted, plugins last).
ORDER = ("params", "profiles", "machines")


def read_seed(path: str | os.PathLike[str]) -> dict[str, list[Obj]]:
    """The objects of a seed file, by prefix (a section may also map keys to objects)."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a seed file maps prefixes to lists of objects")
    out: dict[str, list[Obj]] = {}
    for prefix, objects in data.items():
        if isinstance(objects, dict):
            objects = list(objects.values())
        if not isinstance(objects, list) or not all(isinstance(o, dict) for o in objects):
            raise ValueError(f"{path}: {prefix} must be a list of objects")
        out[str(prefix)] = objects
    return out


def _order(prefixes: list[str]) -> list[str]:
    rest = sorted(p for p in prefixes if p not in ORDER and p != "plugins")
    return [p for p in ORDER if p in prefixes] + rest + (["plugins"] if "plugins" in prefixes else [])


async def seed(drp: StandIn, data: dict[str, list[Obj]]) -> list[Obj]:
    """Create the objects of ``data``; returns them as created."""
    created = []
    for prefix in _order(list(data)):
        for obj in data[prefix]:
            try:
                created.append(await drp.create(prefix, obj))
            except PluginError as err:
                err.messages.insert(0, f"seeding {prefix}")
                raise
    return created
