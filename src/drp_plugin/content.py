"""Content bundles: a content directory turned into the ``Content`` YAML string.

This is the pure-Python equivalent of ``drpcli contents bundle`` (docs/protocol.md
section 6, Go ``api.Client.BundleContent``).  Go decodes each file into its DRP
model struct (``models.New(prefix)`` through ``ghodss/yaml``), and so does this
module, with the field names and types recorded in ``drp_models.json`` (generated
from ``models/*.go`` by ``tools/gen_drp_models.py``):

- a YAML scalar takes the type of the field it lands in: ``Version: 670`` in an
  ``OsInfo.Version`` (a Go ``string``) becomes ``"670"``, as ``ghodss/yaml``
  converts it; a value that cannot become that type (a list into a string, a
  string into a bool) is an error naming the file and the field;
- a field that no model has (``Descriptio``) is dropped, with a warning naming the
  file and the field (Go drops it silently); no field the model lacks is added;
- plugin-defined objects (any other prefix, Go ``models.RawModel``) are kept as
  they are; map keys become strings like ``ghodss/yaml`` makes them;
- templates read as raw files keep their bytes (CRLF included);
- the output has no YAML anchors or aliases, and a file whose aliases expand past
  ``DRP_PLUGIN_CONTENT_MAX_EXPANSION`` bytes (default 64 MiB) is refused before
  anything is expanded (an alias bomb);
- objects are filled with the zero values Go's ``Fill()`` gives them, so the
  bundle equals the Go one as parsed YAML.

Bundling parses YAML, which is slow to import; :func:`bundle_cached` keeps the
result next to the content directory (in ``__pycache__``) so that ``define`` stays
fast when run from source.
"""

from __future__ import annotations

import json
import os

from .errors import ContentError

TYPE_CHECKING = False  # typing/pathlib are not imported up front: define must stay fast
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

META_FIELDS = (
    "Author", "CodeSource", "Color", "Copyright", "Description", "DisplayName",
    "DocUrl", "Documentation", "Icon", "License", "Name", "Order", "Prerequisites",
    "RequiredFeatures", "Source", "Tags", "Type", "Version",
)
META_DEFAULTS = {"Name": "Unspecified", "Version": "v0.0.0", "Type": "dynamic"}

#: Default of ``DRP_PLUGIN_CONTENT_MAX_EXPANSION``: the bytes one content file may
#: stand for once its YAML aliases are expanded.  The largest real content file of
#: provision-plugins is well under 1 MiB; a 532-byte alias bomb stands for GBs.
DEFAULT_MAX_EXPANSION = 64 * 1024 * 1024

# Zero values Go's Fill() gives (models.Validation, Meta, and the per-model Fill).
# Only fields the model has (drp_models.json) are filled.
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
_MODELS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "drp_models.json")




class ContentWarning(UserWarning):
    """Something in a content file that the bundle leaves out (names file and field)."""


# -- DRP's model fields ----------------------------------------------------------------------------

_MODELS: list[dict[str, Any]] = []


def drp_models() -> dict[str, Any]:
    """The recorded DRP model fields (``drp_models.json``; see ``tools/gen_drp_models.py``)."""
    if not _MODELS:
        with open(_MODELS_FILE, encoding="utf-8") as fh:
            _MODELS.append(json.load(fh))
    return _MODELS[0]


def max_expansion() -> int:
    """``DRP_PLUGIN_CONTENT_MAX_EXPANSION`` (bytes), else :data:`DEFAULT_MAX_EXPANSION`."""
    raw = os.environ.get("DRP_PLUGIN_CONTENT_MAX_EXPANSION", "").strip()
    if not raw:
        return DEFAULT_MAX_EXPANSION
    try:
        value = int(raw)
    except ValueError:
        raise ContentError(
            f"DRP_PLUGIN_CONTENT_MAX_EXPANSION must be a number of bytes, not {raw!r}") from None
    if value <= 0:
        raise ContentError("DRP_PLUGIN_CONTENT_MAX_EXPANSION must be a number of bytes > 0")
    return value


def go_float32_string(x: float) -> str:
    """Go's ``strconv.FormatFloat(x, 'g', -1, 32)`` (how ghodss/yaml turns a YAML float
    into a string field)."""
    import math
    import struct

    if math.isnan(x):
        return "NaN"
    try:
        f32 = struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        f32 = math.inf if x > 0 else -math.inf
    if math.isinf(f32):
        return "+Inf" if f32 > 0 else "-Inf"
    if f32 == 0:
        return "-0" if math.copysign(1.0, f32) < 0 else "0"
    sign = "-" if f32 < 0 else ""
    f32 = abs(f32)
    for p in range(1, 10):  # the shortest decimal that reads back as the same float32
        text = f"{f32:.{p - 1}e}"
        if struct.unpack("<f", struct.pack("<f", float(text)))[0] == f32:
            break
    mantissa, _, exponent = text.partition("e")
    digits = mantissa.replace(".", "").rstrip("0") or "0"
    exp = int(exponent)
    if exp < -4 or exp >= 6:  # Go: %e when exp < -4 || exp >= eprec (6 when shortest)
        frac = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{frac}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp >= 0:
        whole = digits[:exp + 1].ljust(exp + 1, "0")
        frac = digits[exp + 1:]
        return f"{sign}{whole}{'.' + frac if frac else ''}"
    return f"{sign}0.{'0' * (-exp - 1)}{digits}"


class _Typer:
    """Gives a decoded file's values the types of DRP's model fields (ghodss/yaml, then
    ``encoding/json``): scalars into strings, case-insensitive field names, unknown
    fields dropped and reported."""

    def __init__(self, path: Path, lenient: bool, warn: Callable[[str], None]) -> None:
        models = drp_models()
        self.structs: dict[str, dict[str, str]] = models["structs"]
        self.named: dict[str, str] = models["named"]
        self.path = path
        self.lenient = lenient  # YAML: ghodss turns numbers and bools into strings
        self.warn = warn

    def fail(self, where: str, value: Any, gotype: str) -> ContentError:
        kind = "null" if value is None else type(value).__name__
        return ContentError(f"{self.path}: field {where}: cannot use a {kind} as Go {gotype}")

    def key(self, key: Any, where: str) -> str:
        if isinstance(key, str):
            return key
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, int):
            return str(key)
        if isinstance(key, float):
            text = go_float32_string(key)
            return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(text, text)
        raise ContentError(f"{self.path}: field {where}: unsupported map key {key!r}")

    def any(self, value: Any, where: str) -> Any:
        """An ``interface{}``: types kept, map keys made strings."""
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                name = self.key(k, where)
                out[name] = self.any(v, f"{where}.{name}")
            return out
        if isinstance(value, list):
            return [self.any(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            raise ContentError(f"{self.path}: field {where}: {value} has no JSON form")
        return value

    def value(self, value: Any, gotype: str, where: str) -> Any:
        """``value`` decoded into Go type ``gotype``."""
        gotype = gotype.lstrip("*")
        while gotype in self.named:
            gotype = self.named[gotype].lstrip("*")
        if value is None:
            return None
        if gotype == "interface{}":
            return self.any(value, where)
        if gotype == "string":
            if isinstance(value, str):
                return value
            if self.lenient and isinstance(value, bool):
                return "true" if value else "false"
            if self.lenient and isinstance(value, int):
                return str(value)
            if self.lenient and isinstance(value, float):
                return go_float32_string(value)
            raise self.fail(where, value, gotype)
        if gotype == "bool":
            if isinstance(value, bool):
                return value
            raise self.fail(where, value, gotype)
        if gotype.startswith(("int", "uint")):
            if isinstance(value, float) and value == int(value):
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool):
                if gotype.startswith("uint") and value < 0:
                    raise self.fail(where, value, gotype)
                return value
            raise self.fail(where, value, gotype)
        if gotype.startswith("float"):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return self.any(value, where)
            raise self.fail(where, value, gotype)
        if gotype.startswith("[]"):
            if not isinstance(value, list):
                raise self.fail(where, value, gotype)
            return [self.value(v, gotype[2:], f"{where}[{i}]") for i, v in enumerate(value)]
        if gotype.startswith("map["):
            if not isinstance(value, dict):
                raise self.fail(where, value, gotype)
            depth, i = 0, 4
            for i in range(4, len(gotype)):  # the element type follows the key's "]"
                depth += {"[": 1, "]": -1}.get(gotype[i], 0)
                if depth < 0:
                    break
            elem = gotype[i + 1:]
            out = {}
            for k, v in value.items():
                name = self.key(k, where)
                out[name] = self.value(v, elem, f"{where}.{name}")
            return out
        if gotype in self.structs:
            if not isinstance(value, dict):
                raise self.fail(where, value, gotype)
            return self.struct(value, gotype, where)
        # A type with its own JSON decoding (uuid.UUID, net.IP, time.Time): as it is.
        return self.any(value, where)

    def struct(self, obj: dict[Any, Any], struct: str, where: str = "") -> dict[str, Any]:
        """The fields of ``obj`` that ``struct`` has, by Go's (case-insensitive) names."""
        fields = self.structs[struct]
        folded = {name.lower(): name for name in reversed(list(fields))}
        out: dict[str, Any] = {}
        for k, v in obj.items():
            key = self.key(k, where or struct)
            name = key if key in fields else folded.get(key.lower())
            path = f"{where}.{key}" if where else key
            if name is None:
                self.warn(f"{self.path}: field {path} is not a field of DRP's {struct}: "
                          "left out (drpcli drops it too)")
                continue
            out[name] = self.value(v, fields[name], f"{where}.{name}" if where else name)
        return out


# -- reading files -----------------------------------------------------------------------------

def _expanded_size(node: Any, limit: int, path: Path) -> int:
    """The bytes a composed YAML node stands for with its aliases expanded, refused
    once past ``limit`` (shared nodes are sized once, so this is linear in the file)."""
    import yaml

    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:  # iterative post-order walk: deep nesting cannot exhaust the C stack
        current, done = stack.pop()
        ident = id(current)
        if ident in sizes and not done:
            continue
        if isinstance(current, yaml.ScalarNode):
            sizes[ident] = len(current.value) + 2
            continue
        children: list[Any] = []
        if isinstance(current, yaml.SequenceNode):
            children = list(current.value)
        elif isinstance(current, yaml.MappingNode):
            children = [n for pair in current.value for n in pair]
        if not done:
            sizes[ident] = -1  # in progress: a cycle counts as nothing more
            stack.append((current, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        total = 2 + sum(max(sizes.get(id(c), 0), 0) for c in children)
        if total > limit:
            raise ContentError(
                f"{path}: its YAML aliases expand to more than {limit} bytes "
                "(DRP_PLUGIN_CONTENT_MAX_EXPANSION): refused")
        sizes[ident] = total
    return max(sizes.get(id(node), 0), 0)


#: How go-yaml v2 (under ghodss/yaml) resolves plain scalars, where it differs from
#: PyYAML's YAML 1.1: ``y``/``n`` are booleans, ``1e3`` is a float, ``12:30`` is a
#: string (no base-60 numbers), timestamps stay strings.  (gopkg.in/yaml.v2 resolve.go)
_GO_BOOL = r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"
_GO_INT = r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"
_GO_FLOAT = (r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
             r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_GO_BOOLS = {"y": True, "yes": True, "true": True, "on": True,
             "n": False, "no": False, "false": False, "off": False}


def _loader_class() -> Any:
    """A safe YAML loader (libyaml when present) that resolves plain scalars the way
    go-yaml v2 does when decoding into an ``interface{}``."""
    import re

    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    cached = _LOADERS.get(base)
    if cached is None:
        replaced = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int",
                    "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"}
        resolvers: dict[Any, list[Any]] = {
            first: [(tag, rx) for tag, rx in items if tag not in replaced]
            for first, items in base.yaml_implicit_resolvers.items()
        }
        for tag, rx, firsts in (
            ("tag:yaml.org,2002:bool", _GO_BOOL, "yYnNtTfFoO"),
            ("tag:yaml.org,2002:int", _GO_INT, "-+0123456789"),
            ("tag:yaml.org,2002:float", _GO_FLOAT, "-+0123456789."),
        ):
            for first in firsts:
                resolvers.setdefault(first, []).append((tag, re.compile(rx)))

        def construct_bool(loader: Any, node: Any) -> bool:
            return _GO_BOOLS[loader.construct_scalar(node).lower()]

        def construct_int(loader: Any, node: Any) -> Any:
            text = loader.construct_scalar(node).replace("_", "")
            sign, digits = (-1, text[1:]) if text[:1] == "-" else (1, text.lstrip("+"))
            for prefix, radix in (("0b", 2), ("0x", 16), ("0o", 8)):
                if digits.startswith(prefix):
                    return sign * int(digits[2:], radix)
            if len(digits) > 1 and digits[0] == "0":
                return sign * int(digits, 8)
            return sign * int(digits)

        constructors = dict(base.yaml_constructors)
        constructors["tag:yaml.org,2002:bool"] = construct_bool
        constructors["tag:yaml.org,2002:int"] = construct_int
        cached = type("ContentLoader", (base,), {"yaml_implicit_resolvers": resolvers,
                                                 "yaml_constructors": constructors})
        _LOADERS[base] = cached
    return cached


_LOADERS: dict[Any, Any] = {}


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError(f"{path}: not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise ContentError(f"{path}: cannot read: {exc}") from None


def _load(path: Path) -> Any:
    """One content file: JSON (``.json``, like Go's JsonCodec) or YAML with aliases bounded."""
    import yaml

    text = _read_text(path)
    if path.name.endswith(".json"):
        try:
            return json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:
            raise ContentError(f"{path}: not valid JSON: {exc}") from None
    loader = _loader_class()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, max_expansion(), path)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ContentError(f"{path}: not valid YAML/JSON: {exc}") from None
    except RecursionError:
        raise ContentError(f"{path}: nested too deeply") from None
    finally:
        loader.dispose()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _warn(message: str) -> None:
    import warnings

    warnings.warn(message, ContentWarning, stacklevel=4)


def _fill(prefix: str, obj: dict[str, Any], path: Path, lenient: bool,
          warn: Callable[[str], None]) -> tuple[str, dict[str, Any]]:
    import copy

    models = drp_models()
    struct = models["prefixes"].get(prefix)
    if struct is None:  # a plugin-defined object (models.RawModel): kept as it is
        typer = _Typer(path, lenient, warn)
        obj = typer.any(obj, prefix)
        key_field, defaults = "Id", RAW_DEFAULTS
    else:
        obj = _Typer(path, lenient, warn).struct(obj, struct)
        fields = models["structs"][struct]
        key_field = models["keys"].get(struct, "Name")
        defaults = {k: v for k, v in MODEL_DEFAULTS.get(prefix, ("", {}))[1].items()
                    if k in fields}
    filled = {**copy.deepcopy(defaults), **obj}
    if struct is None and not filled.get("Type"):
        filled["Type"] = prefix
    key = filled.get(key_field)
    if not isinstance(key, str) or not key:
        raise ContentError(f"{path}: object has no {key_field}")
    return key, filled


def bundle_dict(
    directory: str | os.PathLike[str],
    warn: Callable[[str], None] | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """Read a content directory into ``{"meta": ..., "sections": ...}``.

    ``warn`` gets one message per field left out (default: a :class:`ContentWarning`).
    ``version`` is the meta ``Version`` when there is no ``._Version.meta`` (the
    provider's version; ``drpcli contents bundle ... Version=<v>`` does the same).
    """
    from pathlib import Path

    warn = warn or _warn
    root = Path(directory)
    if not root.is_dir():
        raise ContentError(f"content directory {root} does not exist")
    meta = {field: META_DEFAULTS.get(field, "") for field in META_FIELDS}
    if version:
        meta["Version"] = version
    sections: dict[str, dict[str, Any]] = {}
    for entry in sorted(root.iterdir()):
        name = entry.name
        if entry.is_file() and name.startswith("._") and name.endswith(".meta"):
            if name[2:-5] in meta:  # Go reads only the fields it knows
                meta[name[2:-5]] = _read_text(entry).strip()
            continue
        if name.startswith(".") or not entry.is_dir():
            continue
        section: dict[str, Any] = {}
        for item in sorted(entry.iterdir()):
            if item.name.startswith(".") or not item.is_file():
                continue  # hidden entries and nested directories are skipped
            if name == "templates" and not item.name.endswith(_OBJECT_SUFFIXES):
                obj: Any = {"ID": item.name, "Contents": _read_text(item)}
            elif item.name.endswith(_OBJECT_SUFFIXES):
                obj = _load(item)
            else:
                continue
            if not isinstance(obj, dict):
                raise ContentError(f"{item}: must hold one object, not {type(obj).__name__}")
            key, filled = _fill(name, obj, item, not item.name.endswith(".json"), warn)
            if key in section:
                raise ContentError(f"{item}: duplicate {name} key {key!r}")
            section[key] = filled
        if section:
            sections[name] = section
    return {"meta": meta, "sections": sections}


def _dumper_class() -> Any:
    import re

    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    cached = _DUMPERS.get(base)
    if cached is None:
        # A string that go-yaml would read as something else (``y``, ``1e3``) is quoted,
        # as well as those PyYAML would.
        resolvers = {first: list(items) for first, items in base.yaml_implicit_resolvers.items()}
        for tag, rx, firsts in (  # reversed: go-yaml tries bool, then int, then float
            ("tag:yaml.org,2002:float", _GO_FLOAT, "-+0123456789."),
            ("tag:yaml.org,2002:int", _GO_INT, "-+0123456789"),
            ("tag:yaml.org,2002:bool", _GO_BOOL, "yYnNtTfFoO"),
        ):
            for first in firsts:
                resolvers.setdefault(first, []).insert(0, (tag, re.compile(rx)))
        # drpcli never writes anchors or aliases: every repeated value is written out.
        cached = type("ContentDumper", (base,), {"ignore_aliases": lambda self, data: True,
                                                 "yaml_implicit_resolvers": resolvers})
        _DUMPERS[base] = cached
    return cached


_DUMPERS: dict[Any, Any] = {}


def dump_yaml(data: Any) -> str:
    """YAML with sorted keys, block style, no anchors or aliases, like the Go yaml encoder."""
    import yaml

    return yaml.dump(data, Dumper=_dumper_class(), sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=1 << 16)


def bundle(
    directory: str | os.PathLike[str],
    warn: Callable[[str], None] | None = None,
    version: str | None = None,
) -> str:
    """The ``Content`` string of a provider definition for ``directory``."""
    return dump_yaml(bundle_dict(directory, warn, version))


def _fingerprint(root: str) -> str:
    """Names, sizes and modification times of every file under ``root``."""
    parts = ["drp-plugin-bundle-2"]
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            st = os.stat(os.path.join(dirpath, name))
            parts.append(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


def bundle_cached(directory: str | os.PathLike[str], version: str | None = None) -> str:
    """:func:`bundle`, remembered in ``<dir>/../__pycache__`` until a file changes.

    A cache that cannot be read or written is simply not used.
    """
    root = os.path.realpath(directory)
    if not os.path.isdir(root):
        raise ContentError(f"content directory {root} does not exist")
    cache_dir = os.path.join(os.path.dirname(root), "__pycache__")
    cache = os.path.join(cache_dir, f"drp-content-{os.path.basename(root)}.json")
    fingerprint = f"{_fingerprint(root)}\nversion:{version}"
    try:
        with open(cache, encoding="utf-8") as fh:
            cached = json.load(fh)
        if cached.get("fingerprint") == fingerprint:
            return str(cached["content"])
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    text = bundle(root, warn=lambda message: None, version=version)  # define stays silent
    try:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{cache}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"fingerprint": fingerprint, "content": text}, fh)
        os.replace(tmp, cache)
    except OSError:
        pass
    return text


def write_bundle(
    directory: str | os.PathLike[str],
    out: str | os.PathLike[str] | None,
    warn: Callable[[str], None] | None = None,
) -> str:
    """Bundle ``directory`` to ``out`` (``.json`` gives JSON, else YAML) or return it."""
    data = bundle_dict(directory, warn)
    if out is not None and str(out).endswith(".json"):
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    else:
        text = dump_yaml(data)
    if out is not None:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(text)
    return text
