"""The runtime dependencies of a built provider, collected from this environment.

Everything comes from the installed distributions (``importlib.metadata``): no
network, no pip.  Requirements are followed transitively; environment markers
are evaluated for the interpreter running the build (PEP 508), extras are
honoured.  Only the files a pure-Python runtime needs are taken:

- compiled extension modules and shared libraries (``.so``, ``.pyd``, ``.dylib``,
  ``.dll``) are left out and remembered: a package must work without them (it
  falls back to its Python code, like websockets' ``speedups`` or PyYAML's
  ``_yaml``), which the builder checks by importing it from the built file;
- byte code caches, type stubs (``.pyi``, ``py.typed``), C/Cython sources and
  the scripts installed outside ``site-packages`` are left out;
- of the ``.dist-info`` folder only ``METADATA``, ``WHEEL``, ``top_level.txt``,
  ``entry_points.txt`` and the license files are kept, so that
  ``importlib.metadata.version()`` works inside the built file and the licenses
  travel with the code (``RECORD`` would list the files that were left out, and
  ``direct_url.json`` holds a local path).

The version specifiers of requirements are not checked: what is installed is
what gets bundled (run the build in the environment you tested with).
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import os
import platform
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DependencyError

#: The distribution of the framework itself (bundled from its package folder).
FRAMEWORK = "drp-plugin"
#: The import name of the framework.
FRAMEWORK_PACKAGE = "drp_plugin"
#: Parts of the framework that a provider never runs: the local DRP stand-in, the test
#: helpers, the build tool (they need aiohttp, cryptography, ...) and the ``drp-plugin``
#: command.
FRAMEWORK_EXCLUDED = ("standin", "testing", "shipping", "tool.py")
#: What every provider runs on (the framework's runtime dependencies, all pure Python;
#: their own requirements are followed: httpx brings httpcore, anyio, idna, certifi...).
RUNTIME_REQUIREMENTS = (
    "h11>=0.14",
    "httpx>=0.27",
    "websockets>=12",
    "PyYAML>=6",
    "click>=8.1",
    "jsonpatch>=1.33",
)

_NATIVE_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".pyi", ".c", ".h", ".cpp", ".pyx", ".pxd", ".pxi")
_SKIPPED_NAMES = ("py.typed",)
_METADATA_KEEP = ("METADATA", "WHEEL", "top_level.txt", "entry_points.txt")
_LICENSE_RE = re.compile(r"^(licen[cs]e|copying|notice|authors)", re.IGNORECASE)


def normalize(name: str) -> str:
    """The PEP 503 normalized form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_native(path: str) -> bool:
    """Whether ``path`` is a compiled extension module or a shared library."""
    name = path.rsplit("/", 1)[-1]
    return name.endswith(_NATIVE_SUFFIXES) or ".so." in name


# -- requirements and markers (PEP 508) ---------------------------------------------------------

@dataclass(frozen=True)
class Requirement:
    """A parsed requirement: name, extras and environment marker (versions are ignored)."""

    name: str
    extras: tuple[str, ...] = ()
    marker: str = ""
    text: str = ""

    @property
    def key(self) -> str:
        """The normalized project name (PEP 503), what requirements are matched by."""
        return normalize(self.name)


_REQ_RE = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[([^\]]*)\])?")


def parse_requirement(text: str) -> Requirement:
    """Parse ``name[extra,...] <spec or @ url> ; marker``."""
    spec, _, marker = text.partition(";")
    match = _REQ_RE.match(spec)
    if match is None:
        raise DependencyError(f"cannot parse the requirement {text!r}")
    extras = tuple(e.strip() for e in (match.group(2) or "").split(",") if e.strip())
    return Requirement(match.group(1), extras, marker.strip(), text.strip())


def marker_environment() -> dict[str, str]:
    """The PEP 508 marker variables of the running interpreter."""
    impl = sys.implementation
    iv = impl.version
    impl_version = f"{iv.major}.{iv.minor}.{iv.micro}"
    if iv.releaselevel != "final":
        impl_version += iv.releaselevel[0] + str(iv.serial)
    return {
        "os_name": os.name,
        "sys_platform": sys.platform,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "python_full_version": platform.python_version(),
        "implementation_name": impl.name,
        "implementation_version": impl_version,
    }


_VERSION_VARS = {"python_version", "python_full_version", "implementation_version"}
_TOKEN_RE = re.compile(
    r"""\s*(?:(?P<paren>[()])|(?P<str>'[^']*'|"[^"]*")|(?P<op>===|==|!=|<=|>=|~=|<|>)"""
    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"""
)


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.strip().split("."):
        digits = re.match(r"\d+", piece)
        if digits is None:
            break
        parts.append(int(digits.group()))
        if digits.group() != piece:
            break
    return tuple(parts)


def _compare_versions(left: str, op: str, right: str) -> bool:
    a, b = _version_tuple(left), _version_tuple(right)
    if op == "~=":
        prefix = b[:-1] if len(b) > 1 else b
        return a >= b and a[: len(prefix)] == prefix
    if op != "===" and "*" in right and op in ("==", "!="):
        prefix = _version_tuple(right.replace(".*", ""))
        same = a[: len(prefix)] == prefix
        return same if op == "==" else not same
    width = max(len(a), len(b))
    a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
    return {
        "==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b,
        "===": left == right,
    }[op]


class _MarkerParser:
    """A recursive-descent evaluator of PEP 508 markers."""

    def __init__(self, marker: str, env: dict[str, str], extras: Iterable[str]) -> None:
        self.marker = marker
        self.env = env
        self.extras = {normalize(e) for e in extras}
        self.tokens = self._tokenize(marker)
        self.pos = 0

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens, pos = [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN_RE.match(text, pos)
            if match is None:
                raise DependencyError(f"cannot parse the marker {text!r}")
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind)))
            pos = match.end()
        return tokens

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("", "")

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        self.pos += 1
        return token

    def evaluate(self) -> bool:
        result = self._or()
        if self.pos != len(self.tokens):
            raise DependencyError(f"cannot parse the marker {self.marker!r}")
        return result

    def _or(self) -> bool:
        result = self._and()
        while self._peek() == ("word", "or"):
            self._take()
            right = self._and()
            result = result or right
        return result

    def _and(self) -> bool:
        result = self._atom()
        while self._peek() == ("word", "and"):
            self._take()
            right = self._atom()
            result = result and right
        return result

    def _atom(self) -> bool:
        if self._peek() == ("paren", "("):
            self._take()
            result = self._or()
            if self._take() != ("paren", ")"):
                raise DependencyError(f"unbalanced parentheses in the marker {self.marker!r}")
            return result
        left_kind, left = self._value()
        op = self._operator()
        right_kind, right = self._value()
        return self._compare(left_kind, left, op, right_kind, right)

    def _value(self) -> tuple[str, str]:
        kind, text = self._take()
        if kind == "str":
            return "str", text[1:-1]
        if kind == "word" and text not in ("and", "or", "in", "not"):
            return "var", text
        raise DependencyError(f"unexpected {text!r} in the marker {self.marker!r}")

    def _operator(self) -> str:
        kind, text = self._take()
        if kind == "op" or text == "in":
            return text
        if text == "not" and self._take() == ("word", "in"):
            return "not in"
        raise DependencyError(f"unexpected {text!r} in the marker {self.marker!r}")

    def _compare(self, lk: str, left: str, op: str, rk: str, right: str) -> bool:
        var = left if lk == "var" else right if rk == "var" else ""
        if var == "extra":
            value = right if lk == "var" else left
            hit = normalize(value) in self.extras
            if op in ("==", "==="):
                return hit
            if op == "!=":
                return not hit
            return False
        lv = self.env.get(left, "") if lk == "var" else left
        rv = self.env.get(right, "") if rk == "var" else right
        if op == "in":
            return lv in rv
        if op == "not in":
            return lv not in rv
        if var in _VERSION_VARS:
            return _compare_versions(lv, op, rv)
        if op in ("==", "==="):
            return lv == rv
        if op == "!=":
            return lv != rv
        return _compare_versions(lv, op, rv)


def evaluate_marker(marker: str, extras: Iterable[str] = (),
                    env: dict[str, str] | None = None) -> bool:
    """Whether ``marker`` holds for this interpreter and the requested ``extras``."""
    if not marker.strip():
        return True
    return _MarkerParser(marker, env if env is not None else marker_environment(), extras).evaluate()


# -- distributions -------------------------------------------------------------------------------

@dataclass
class Package:
    """One distribution to bundle: its files (archive name -> installed file)."""

    name: str
    version: str
    files: dict[str, Path] = field(default_factory=dict)
    #: compiled files that were left out (archive names)
    native: list[str] = field(default_factory=list)
    #: importable top-level modules and packages
    top_level: list[str] = field(default_factory=list)
    #: who asked for it (for messages)
    required_by: str = ""

    @property
    def key(self) -> str:
        """The normalized project name (PEP 503), what requirements are matched by."""
        return normalize(self.name)


def _keep_file(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return (
        "__pycache__" not in parts
        and not name.endswith(_SKIPPED_SUFFIXES)
        and name not in _SKIPPED_NAMES
        and not name.endswith(".pth")
    )


def _keep_metadata(rel: str) -> bool:
    # rel is "<name>.dist-info/<...>"
    inner = rel.split("/", 1)[1] if "/" in rel else ""
    first = inner.split("/", 1)[0]
    return inner in _METADATA_KEEP or first == "licenses" or bool(_LICENSE_RE.match(first))


def _top_level_of(rel: str) -> str | None:
    """The importable top-level name that ``rel`` belongs to, if any."""
    first, _, rest = rel.partition("/")
    if not rest:
        if first.endswith(".py") and first[:-3].isidentifier():
            return first[:-3]
        return None
    if first.isidentifier():
        return first
    return None


def _walk(root: Path, prefix: str, exclude: tuple[str, ...] = ()) -> Iterator[tuple[str, Path]]:
    """``(archive name, file)`` for every file under ``root`` (sorted, links refused)."""
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        dirnames[:] = sorted(
            d for d in dirnames
            if d != "__pycache__" and not (rel_dir == "." and d in exclude)
        )
        for name in sorted(filenames):
            if rel_dir == "." and name in exclude:
                continue
            file = Path(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            yield f"{prefix}/{rel}" if prefix else rel, file


def _files_from_spec(top: str) -> Iterator[tuple[str, Path]]:
    """The files of the importable ``top`` module or package (editable installs)."""
    spec = importlib.util.find_spec(top)
    if spec is None:
        return
    if spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            yield from _walk(Path(location), top)
    elif spec.origin and spec.has_location:
        origin = Path(spec.origin)
        yield origin.name, origin


def _add_file(pkg: Package, rel: str, file: Path) -> None:
    if is_native(rel):
        pkg.native.append(rel)
        return
    if not _keep_file(rel):
        return
    if file.is_symlink() or not file.is_file():
        return
    pkg.files[rel] = file
    top = _top_level_of(rel)
    if top is not None and top not in pkg.top_level:
        pkg.top_level.append(top)


def package_of(dist: metadata.Distribution, required_by: str = "") -> Package:
    """The files of an installed distribution worth bundling."""
    name = dist.metadata["Name"] or "unknown"
    pkg = Package(name=name, version=dist.version, required_by=required_by)
    records = [str(p).replace(os.sep, "/") for p in (dist.files or [])]
    for rel in sorted(records):
        if rel.startswith("../") or rel.startswith("/"):
            continue  # scripts and data installed outside site-packages
        file = Path(str(dist.locate_file(rel)))
        if ".dist-info/" in rel:
            if rel.split("/", 1)[0].endswith(".dist-info") and _keep_metadata(rel) and file.is_file():
                pkg.files[rel] = file
            continue
        _add_file(pkg, rel, file)
    if not pkg.top_level and not pkg.native:
        # An editable install (a .pth or an import hook): take the modules it names.
        tops = (dist.read_text("top_level.txt") or "").split()
        for top in sorted(set(tops)):
            for rel, file in _files_from_spec(top):
                _add_file(pkg, rel, file)
    pkg.native.sort()
    return pkg


def framework_package() -> Package:
    """drp_plugin itself, without the stand-in, the test helpers and the build tool."""
    spec = importlib.util.find_spec(FRAMEWORK_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(f"{FRAMEWORK_PACKAGE} is not importable in this environment")
    root = Path(list(spec.submodule_search_locations)[0])
    try:
        dist: metadata.Distribution | None = metadata.distribution(FRAMEWORK)
    except metadata.PackageNotFoundError:
        dist = None
    version = dist.version if dist is not None else "0"
    pkg = Package(name=FRAMEWORK, version=version, required_by="the provider runtime")
    for rel, file in _walk(root, FRAMEWORK_PACKAGE, exclude=FRAMEWORK_EXCLUDED):
        _add_file(pkg, rel, file)
    for path in (dist.files or []) if dist is not None else []:
        rel = str(path).replace(os.sep, "/")
        if rel.endswith(".dist-info/METADATA") and rel.count("/") == 1:
            file = Path(str(path.locate()))
            if file.is_file():
                pkg.files[rel] = file
    return pkg


def resolve(requirements: Iterable[tuple[str, str]]) -> list[Package]:
    """The packages for ``(requirement, required_by)`` pairs and everything they need.

    The framework's own requirements are replaced by :data:`RUNTIME_REQUIREMENTS`
    (its development tools are not bundled).  Raises :class:`DependencyError` for a
    requirement that is not installed.
    """
    env = marker_environment()
    packages: dict[str, Package] = {}
    extras_seen: dict[str, set[str]] = {}
    queued: dict[str, set[str]] = {}
    queue = [(parse_requirement(text), why) for text, why in requirements]
    while queue:
        req, why = queue.pop(0)
        if req.key == normalize(FRAMEWORK):
            if req.key not in packages:
                packages[req.key] = framework_package()
                queue.extend((parse_requirement(r), FRAMEWORK) for r in RUNTIME_REQUIREMENTS)
            continue
        wanted = {normalize(e) for e in req.extras}
        if req.key in packages and wanted <= extras_seen[req.key]:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise DependencyError(
                f"{req.name} (required by {why}) is not installed in this environment "
                f"({sys.prefix}); install it there (pip install '{req.text or req.name}') "
                "and build again"
            ) from None
        if req.key not in packages:
            packages[req.key] = package_of(dist, why)
        active = extras_seen.setdefault(req.key, set())
        active.update(wanted)
        done = queued.setdefault(req.key, set())
        for text in dist.requires or []:
            if text in done:
                continue
            sub = parse_requirement(text)
            if evaluate_marker(sub.marker, active, env):
                done.add(text)
                queue.append((sub, packages[req.key].name))
    return sorted(packages.values(), key=lambda p: p.key)


def project_requirements(pyproject: Path) -> list[str]:
    """``[project].dependencies`` of a ``pyproject.toml`` (empty when absent)."""
    import tomllib

    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DependencyError(f"cannot read {pyproject}: {exc}") from exc
    deps = data.get("project", {}).get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise DependencyError(f"{pyproject}: [project].dependencies must be a list of strings")
    return list(deps)
