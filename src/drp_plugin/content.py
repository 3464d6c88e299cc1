"""Content bundles: a content directory turned into the ``Content`` YAML string.

This is the pure-Python equivalent of ``drpcli contents bundle`` (docs/protocol.md
section 6).  Objects are filled with the zero values of their DRP model, the way
the Go tool round-trips them through ``models``, so the bundle equals the Go one as
parsed YAML.

Bundling parses YAML, which is slow to import; :func:`bundle_cached` keeps the
result next to the content directory (in ``__pycache__``) so that ``define`` stays
fast when run from source.
"""

from __future__ import annotations

import json
import os

from .errors import ContentError as ContentError  # re-exported: the tree lives in errors

TYPE_CHECKING = False  # typing/pathlib are not imported up front: define must stay fast
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

META_FIELDS = (
    "Author", "CodeSource", "Color", "Copyright", "Description", "DisplayName",
    "DocUrl", "Documentation", "Icon", "License", "Name", "Order", "Prerequisites",
    "RequiredFeatures", "Source", "Tags", "Type", "Version",
)
META_DEFAULTS = {"Name": "Unspecified", "Version": "v0.0.0", "Type": "dynamic"}

# Fields every DRP model carries (models.Validation, Meta, Owned, Bundled).
_COMMON = {
    "Available": False, "Bundle": "", "Endpoint": "", "Errors": [], "Meta": {},
    "ReadOnly": False, "Validated": False,
}
_DESCRIBED = {"Description": "", "Documentation": ""}

#: Zero values per known prefix, and the field that keys its objects.
MODEL_DEFAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "params": ("Name", {**_COMMON, **_DESCRIBED, "Name": "", "Schema": None, "Secure": False}),
    "profiles": ("Name", {**_COMMON, **_DESCRIBED, "Name": "", "Params": {}, "Profiles": [],
                          "Partial": False}),
    "tasks": ("Name", {**_COMMON, **_DESCRIBED, "Name": "", "Templates": [], "RequiredParams": [],
                       "OptionalParams": [], "Prerequisites": [], "OutputParams": []}),
    "stages": ("Name", {**_COMMON, **_DESCRIBED, "Name": "", "Templates": [], "RequiredParams": [],
                        "OptionalParams": [], "Params": {}, "Profiles": [], "Tasks": [],
                        "BootEnv": "", "Reboot": False, "RunnerWait": False}),
    "workflows": ("Name", {**_COMMON, **_DESCRIBED, "Name": "", "Stages": []}),
    "templates": ("ID", {**_COMMON, **_DESCRIBED, "ID": "", "Contents": ""}),
    "bootenvs": ("Name", {**_COMMON, **_DESCRIBED, "Name": ""}),
}
#: Plugin-defined objects (models.RawModel) are keyed by Id.
RAW_DEFAULTS: dict[str, Any] = {**_COMMON, **_DESCRIBED, "Params": {}, "Id": "", "Type": ""}

_OBJECT_SUFFIXES = (".yaml", ".yml", ".json")




def _load(path: Path) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: not valid YAML/JSON: {exc}") from exc


def _fill(prefix: str, obj: dict[str, Any], path: Path) -> tuple[str, dict[str, Any]]:
    key_field, defaults = MODEL_DEFAULTS.get(prefix, ("Id", RAW_DEFAULTS))
    filled = {**defaults, **obj}
    if key_field == "Id" and prefix not in MODEL_DEFAULTS:
        filled.setdefault("Type", prefix)
        if not filled.get("Type"):
            filled["Type"] = prefix
    key = filled.get(key_field)
    if not isinstance(key, str) or not key:
        raise ContentError(f"{path}: object has no {key_field}")
    return key, filled


def bundle_dict(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a content directory into ``{"meta": ..., "sections": ...}``."""
    from pathlib import Path

    root = Path(directory)
    if not root.is_dir():
        raise ContentError(f"content directory {root} does not exist")
    meta = {field: META_DEFAULTS.get(field, "") for field in META_FIELDS}
    sections: dict[str, dict[str, Any]] = {}
    for entry in sorted(root.iterdir()):
        name = entry.name
        if entry.is_file() and name.startswith("._") and name.endswith(".meta"):
            meta[name[2:-5]] = entry.read_text(encoding="utf-8").strip()
            continue
        if name.startswith(".") or not entry.is_dir():
            continue
        section: dict[str, Any] = {}
        for item in sorted(entry.iterdir()):
            if item.name.startswith(".") or not item.is_file():
                continue  # hidden entries and nested directories are skipped
            if name == "templates" and not item.name.endswith(_OBJECT_SUFFIXES):
                obj: Any = {"ID": item.name, "Contents": item.read_text(encoding="utf-8")}
            elif item.name.endswith(_OBJECT_SUFFIXES):
                obj = _load(item)
            else:
                continue
            if not isinstance(obj, dict):
                raise ContentError(f"{item}: must hold one object, not {type(obj).__name__}")
            key, filled = _fill(name, obj, item)
            if key in section:
                raise ContentError(f"{item}: duplicate {name} key {key!r}")
            section[key] = filled
        if section:
            sections[name] = section
    return {"meta": meta, "sections": sections}


def dump_yaml(data: Any) -> str:
    """YAML with sorted keys, block style, like the Go yaml encoder."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=1 << 16)


def bundle(directory: str | os.PathLike[str]) -> str:
    """The ``Content`` string of a provider definition for ``directory``."""
    return dump_yaml(bundle_dict(directory))


def _fingerprint(root: str) -> str:
    """Names, sizes and modification times of every file under ``root``."""
    parts = ["drp-plugin-bundle-1"]
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            st = os.stat(os.path.join(dirpath, name))
            parts.append(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


def bundle_cached(directory: str | os.PathLike[str]) -> str:
    """:func:`bundle`, remembered in ``<dir>/../__pycache__`` until a file changes.

    A cache that cannot be read or written is simply not used.
    """
    root = os.path.realpath(directory)
    if not os.path.isdir(root):
        raise ContentError(f"content directory {root} does not exist")
    cache_dir = os.path.join(os.path.dirname(root), "__pycache__")
    cache = os.path.join(cache_dir, f"drp-content-{os.path.basename(root)}.json")
    fingerprint = _fingerprint(root)
    try:
        with open(cache, encoding="utf-8") as fh:
            cached = json.load(fh)
        if cached.get("fingerprint") == fingerprint:
            return str(cached["content"])
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    text = bundle(root)
    try:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{cache}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"fingerprint": fingerprint, "content": text}, fh)
        os.replace(tmp, cache)
    except OSError:
        pass
    return text


def write_bundle(directory: str | os.PathLike[str], out: str | os.PathLike[str] | None) -> str:
    """Bundle ``directory`` to ``out`` (``.json`` gives JSON, else YAML) or return it."""
    data = bundle_dict(directory)
    if out is not None and str(out).endswith(".json"):
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    else:
        text = dump_yaml(data)
    if out is not None:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text
