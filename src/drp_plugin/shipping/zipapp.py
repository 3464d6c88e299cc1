"""``drp-plugin build``: a provider turned into ONE executable file.

DRP stores a plugin provider as a single file and runs it directly (docs/protocol.md
section 1), so a Python provider ships as a zip application: a
``#!/usr/bin/env python3`` line followed by a zip archive that Python runs through its ``__main__.py``.  The archive holds

- the provider module (run as ``__main__``) and the helper modules it imports
  from its own folder;
- the framework (:mod:`drp_plugin` without its stand-in, test helpers and
  shipping tool) and the third-party packages it and the provider project need,
  resolved by pip for the oldest host Python (:mod:`.wheels`);
- ``_drp_pyc/cpython-3N``: every module compiled by each supported CPython minor
  found on the build machine (:func:`find_interpreters`), one stored entry per
  minor whose modules are compressed one by one (:func:`pyc_table`);
- ``_drp_stamp`` (version, content bundles computed at build time, the asset
  index, the compiled wheels), ``_drp_assets.pack`` (every asset, one entry),
  ``_drp_define.json`` (the ``define`` answer, when no validate handler can
  change it), ``_drp_build.json`` (the manifest);
- with ``--native``, ``_drp_native/*.whl``: the manylinux wheels of the compiled
  packages for x86_64 and aarch64 and each minor (or abi3).

**Hosts.**  CPython from the floor (``--python '>=3.9'``; default: the oldest
minor pip can resolve every requirement for) to 3.13, x86_64 and aarch64.
``__main__`` refuses an older Python with one line naming both versions.

**Start-up time.**  ``define`` is answered by ``__main__`` from
``_drp_define.json`` without importing anything; the other commands load their
modules from the per-minor byte code (:func:`.bootstrap.install_pycs`), so no
minor compiles at start.  The zip holds sources and data files once, plus a
handful of entries, because zipimport reads the whole central directory at
every start.

**Reproducible.**  The same tree and the same resolved packages give the same
bytes: entries are sorted, every entry has the timestamp 1980-01-01 00:00:00,
mode 0644 (0755 for directories) and Unix as creator; byte code is compiled in
fresh interpreters with ``PYTHONHASHSEED=0`` and names its source by its path
inside the archive.  What can change the bytes: other package versions on the
index (pin them in the project), other interpreters, a different zlib, the
version string.

**Failures.**  Every failure is a :class:`~drp_plugin.errors.ToolError` saying what
to fix (:class:`BuildError`; :class:`~drp_plugin.errors.DependencyError` for a
requirement that cannot be resolved or carried, :class:`~drp_plugin.errors.ProjectError`
for an unreadable ``pyproject.toml``); the
output path is written only by renaming a file that passed its ``define``
check, so a failed build writes nothing there.  An import of the provider's own
modules that the file could not satisfy (not the standard library of every host
minor, not carried, not the project's) is one (:mod:`.imports`, ``--allow-import``).
"""

from __future__ import annotations

import hashlib
import io
import json
import marshal
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import BuildError
from . import bootstrap
from .deps import (
    FRAMEWORK,
    RUNTIME_REQUIREMENTS,
    Package,
    framework_package,
    is_native,
    normalize,
    parse_requirement,
    project_requirements,
    resolve,
)
from .imports import Import, local_modules, report, unresolved
from .probe import ProbeResult
from .version import pyproject_data, resolve_version
from .wheels import (
    ARCHES,
    SUPPORTED_MINORS,
    UnpackedWheel,
    WheelName,
    compiled_error,
    minor_text,
    parse_python_spec,
    pip_download,
    resolve_floor,
    unpack_wheel,
)

DEFAULT_SHEBANG = "/usr/bin/env python3"
#: Zip entries carry this timestamp (the earliest a zip can store).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
BOOTSTRAP_MODULE = "_drp_bootstrap"
ASSET_PACK = bootstrap.ASSET_PACK
MANIFEST = bootstrap.MANIFEST
NATIVE_PREFIX = "_drp_native/"
#: zipimport reads no ZIP64 before 3.13: at most this many entries.
MAX_ENTRIES = 65535
#: Longest asset file or folder name, in bytes (Linux NAME_MAX).
MAX_ASSET_NAME = 255
#: Longest asset path below the unpack folder, in bytes (leaves room in PATH_MAX 4096
#: for the unpack folder DRP chooses).
MAX_ASSET_PATH = 1024
_FILE_ATTR = (stat.S_IFREG | 0o644) << 16
_DIR_ATTR = (stat.S_IFDIR | 0o755) << 16 | 0x10  # 0x10: MS-DOS directory flag
_SKIP_SOURCE_NAMES = {"setup.py", "conftest.py", "noxfile.py"}
_SHEBANG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ./_+=-")
_SH_HEADER = """#!/bin/sh
# The DRP plugin provider {name} {version}: a zip application for python3 >= {floor}.
# `define` is answered here, from the definition computed at build time; every other
# command runs the zip below with {python}.
if [ "$#" -eq 1 ] && [ "$1" = define ]; then
printf '%s' '{define}'
exit 0
fi
exec {python} "$0" "$@"
"""


def shell_header(python: str, define: bytes, name: str, version: str,
                 floor: tuple[int, int]) -> bytes:
    """A ``/bin/sh`` prefix that prints ``define`` itself and runs the zip with ``python``.

    ``define`` (UTF-8 JSON with its newline) is one single-quoted shell word, so the
    shell prints it byte for byte; a start of ``python3`` is not needed for it.
    """
    quoted = define.replace(b"'", b"'\\''")
    head = _SH_HEADER.format(name=name.replace("\n", " "), version=version.replace("\n", " "),
                             floor=minor_text(floor), python=python, define="@DEFINE@")
    return head.encode("utf-8").replace(b"@DEFINE@", quoted)




@dataclass
class BuildResult:
    """What :func:`build` produced."""

    path: Path
    name: str
    version: str
    version_source: str
    size: int
    sha256: str
    packages: list[Package] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    entries: int = 0
    #: the oldest CPython minor the file runs on
    floor: tuple[int, int] = (3, 9)
    #: the minors whose byte code the file carries
    compiled_for: list[tuple[int, int]] = field(default_factory=list)
    #: carried compiled wheels (file names)
    native_wheels: list[str] = field(default_factory=list)
    #: whether define is answered from the build-time definition
    static_define: bool = False


@dataclass(frozen=True)
class BuildOptions:
    """The knobs of one build (see :func:`build`)."""

    module: str | None = None
    shebang: str = DEFAULT_SHEBANG
    python: str | None = None
    version: str | None = None
    check: bool = True
    native: bool = False
    deps_from: str = "pip"
    pythons: tuple[str, ...] = ()
    allow_imports: tuple[str, ...] = ()


Log = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# -- stage 1: the provider ------------------------------------------------------------------------

def _module_from_pyproject(project_dir: Path) -> Path | None:
    data = pyproject_data(project_dir / "pyproject.toml")
    tool = data.get("tool")
    if isinstance(tool, dict):
        ours = tool.get("drp-plugin")
        module = ours.get("module") if isinstance(ours, dict) else None
        if isinstance(module, str):
            return project_dir / module
    project = data.get("project")
    name = project.get("name") if isinstance(project, dict) else None
    if isinstance(name, str):
        candidate = project_dir / (name.replace("-", "_").replace(".", "_") + ".py")
        if candidate.is_file():
            return candidate
    return None


def find_module(source: str | os.PathLike[str], module: str | None = None) -> tuple[Path, Path]:
    """``(project folder, provider module file)`` for a folder or a ``.py`` file.

    In a folder: ``module`` if given, else ``[tool.drp-plugin].module`` or the
    project name of ``pyproject.toml``, else the only ``.py`` file there that
    imports ``drp_plugin`` and calls ``.main(``.
    """
    src = Path(source).resolve()
    if src.is_file():
        if module:
            raise BuildError("--module is only for a project folder, not a file")
        return src.parent, src
    if not src.is_dir():
        raise BuildError(f"{source} is neither a provider module nor a project folder")
    if module:
        file = (src / module).resolve()
        if not file.is_file():
            raise BuildError(f"the module {module} does not exist in {src}")
        return src, file
    found = _module_from_pyproject(src)
    if found is not None:
        if not found.is_file():
            raise BuildError(f"{found} (named in pyproject.toml) does not exist")
        return src, found.resolve()
    candidates = []
    for file in sorted(src.glob("*.py")):
        if file.name in _SKIP_SOURCE_NAMES or file.name.startswith("test_"):
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "drp_plugin" in text and ".main(" in text:
            candidates.append(file)
    if len(candidates) == 1:
        return src, candidates[0].resolve()
    if not candidates:
        raise BuildError(f"no provider module in {src}: give the file, or --module NAME.py")
    names = ", ".join(c.name for c in candidates)
    raise BuildError(f"several provider modules in {src} ({names}): choose one with --module")


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in ("PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONWARNINGS"):
        env.pop(key, None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def probe_provider(module_file: Path, python: str | None = None) -> ProbeResult:
    """Import ``module_file`` in a child process and describe its provider."""
    with tempfile.TemporaryDirectory(prefix="drp-build-") as tmp:
        out = Path(tmp, "probe.json")
        result = subprocess.run(  # noqa: S603 - our interpreter, our module
            [python or sys.executable, "-m", "drp_plugin.shipping.probe", str(module_file),
             str(out)],
            capture_output=True, text=True, cwd=module_file.parent, env=_child_env(),
            stdin=subprocess.DEVNULL, timeout=120, check=False,
        )
        if result.returncode != 0 or not out.is_file():
            detail = (result.stderr or result.stdout).strip().splitlines()[-15:]
            raise BuildError(f"cannot load the provider from {module_file}:\n  " + "\n  ".join(detail))
        try:
            return ProbeResult.from_json(out.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BuildError(f"the provider probe of {module_file} answered nonsense: {exc}") from exc


@dataclass(frozen=True)
class Project:
    """Stage 1: the provider module, its folder and what it declares."""

    folder: Path
    module_file: Path
    module_name: str
    probe: ProbeResult
    version: str
    version_source: str

    @property
    def name(self) -> str:
        """The provider's name (as its ``define`` reports it)."""
        return self.probe.name


def load_project(source: str | os.PathLike[str], options: BuildOptions, log: Log) -> Project:
    """Find the provider module, check its name and the options, probe it."""
    project_dir, module_file = find_module(source, options.module)
    module_name = module_file.stem
    if not module_name.isidentifier() or module_file.suffix != ".py":
        raise BuildError(f"{module_file.name}: the provider module must be NAME.py with NAME an identifier")
    if module_name in sys.stdlib_module_names or module_name in ("__main__", BOOTSTRAP_MODULE):
        raise BuildError(f"{module_file.name}: rename the module, {module_name} is a standard module name")
    shebang = options.shebang
    if not shebang.strip() or "\n" in shebang or not shebang.strip().startswith("/"):
        raise BuildError(f"invalid --shebang {shebang!r}: an absolute interpreter path, "
                         "e.g. '/usr/bin/env python3'")
    if len(shebang.strip().encode()) > 125:
        raise BuildError("--shebang is too long for a #! line (Linux reads 127 bytes)")
    if not set(shebang.strip()) <= _SHEBANG_CHARS:
        raise BuildError(f"invalid --shebang {shebang!r}: letters, digits, spaces and ./_+=- only")
    parse_python_spec(options.python)  # a bad --python fails before any work
    log(f"loading {module_file}")
    info = probe_provider(module_file)
    chosen, version_source = resolve_version(options.version, project_dir, info.version)
    return Project(project_dir, module_file, module_name, info, chosen, version_source)


def find_local_modules(project: Project) -> tuple[Project, list[Import]]:
    """The project with every module of its folder that the provider imports (also
    those imported only inside functions, which the probe cannot see), and every
    import of the modules it carries (for :func:`.imports.unresolved`)."""
    found, imports = local_modules(project.module_file.parent, project.module_file,
                                   project.probe.local_modules, project.folder)
    if found != sorted(project.probe.local_modules, key=lambda m: m.name):
        project = replace(project, probe=replace(project.probe, local_modules=found))
    return project, imports


# -- stage 2: content and assets ------------------------------------------------------------------

@dataclass(frozen=True)
class Stamp:
    """Stage 2: what the build computes once for the runtime (``_drp_stamp``)."""

    content: dict[str, str]
    archive_content: dict[str, str]
    assets: list[tuple[str, int, bytes]]


def make_content(project: Project) -> tuple[dict[str, str], dict[str, str]]:
    """The content bundle, made now: a built provider does not parse YAML on define."""
    from drp_plugin.content import bundle
    from drp_plugin.errors import ContentError

    content: dict[str, str] = {}
    archive_content: dict[str, str] = {}
    key = project.probe.content
    if key is None:
        return content, archive_content
    try:
        text = bundle(os.path.join(project.probe.base_dir, key), version=project.version)
    except ContentError as exc:
        raise BuildError(f"content: {exc}") from exc
    rel = os.path.relpath(key, project.module_file.parent) if os.path.isabs(key) else ""
    if rel and not rel.startswith(".."):
        # Computed from __file__: in the built file it is under the file's own path
        # (and the build folder must not leak into the file).
        archive_content[rel.replace(os.sep, "/")] = text
    else:
        content[key] = text
    return content, archive_content


def check_asset_name(rel: str) -> None:
    """Refuse an asset path that ``unpack`` could not write (:class:`BuildError`)."""
    from drp_plugin.assets import safe_relpath
    from drp_plugin.errors import AssetError

    try:
        safe_relpath(rel)
    except AssetError as exc:
        raise BuildError(f"assets: {exc}") from exc
    if "\\" in rel or any(ord(c) < 32 for c in rel):
        raise BuildError(f"assets: refusing the file name {rel!r}")
    for part in rel.split("/"):
        if len(os.fsencode(part)) > MAX_ASSET_NAME:
            raise BuildError(f"assets: the name {part[:40]!r}... is {len(os.fsencode(part))} "
                             f"bytes; unpack can write names of at most {MAX_ASSET_NAME} bytes")
    if len(os.fsencode(rel)) > MAX_ASSET_PATH:
        raise BuildError(f"assets: the path {rel[:40]!r}... is {len(os.fsencode(rel))} bytes; "
                         f"asset paths are limited to {MAX_ASSET_PATH} bytes")


def collect_assets(probe: ProbeResult) -> list[tuple[str, int, bytes]]:
    """``(path, mode, data)`` of every asset, sorted; names checked for ``unpack``."""
    from drp_plugin.assets import collect
    from drp_plugin.errors import AssetError

    try:
        found = list(collect(Path(probe.base_dir), probe.assets))
    except (AssetError, OSError) as exc:
        raise BuildError(f"assets: {exc}") from exc
    seen: dict[str, int] = {}
    for rel, mode, _ in found:
        check_asset_name(rel)
        if rel in seen:
            raise BuildError(f"assets: two files would be unpacked as {rel}")
        seen[rel] = mode
    return sorted(((rel, mode & 0o777, data) for rel, mode, data in found), key=lambda t: t[0])


def pack_assets(assets: Sequence[tuple[str, int, bytes]]) -> tuple[bytes, dict[str, tuple[int, int, int]]]:
    """One blob of every asset and its index ``path -> (mode, offset, length)``."""
    blob = io.BytesIO()
    index: dict[str, tuple[int, int, int]] = {}
    for rel, mode, data in assets:
        index[rel] = (mode, blob.tell(), len(data))
        blob.write(data)
    return blob.getvalue(), index


# -- stage 3: packages ----------------------------------------------------------------------------

@dataclass
class Resolution:
    """Stage 3: the packages to carry, the floor, and the compiled wheels."""

    floor: tuple[int, int]
    packages: list[Package]
    unpacked: list[UnpackedWheel] = field(default_factory=list)
    native: list[dict[str, Any]] = field(default_factory=list)
    native_files: dict[str, bytes] = field(default_factory=dict)


def _requirements(project: Project) -> list[tuple[str, str]]:
    requirements = [(r, FRAMEWORK) for r in RUNTIME_REQUIREMENTS]
    pyproject = project.folder / "pyproject.toml"
    if pyproject.is_file():
        for text in project_requirements(pyproject):
            if parse_requirement(text).key != normalize(FRAMEWORK):
                requirements.append((text, f"{project.name} ({pyproject})"))
    return requirements


def _required_by(unpacked: list[UnpackedWheel], requirements: list[tuple[str, str]]) -> None:
    direct = {parse_requirement(r).key: why for r, why in requirements}
    parents: dict[str, str] = {}
    for u in unpacked:
        for text in u.requires:
            parents.setdefault(parse_requirement(text).key, u.package.name)
    for u in unpacked:
        u.package.required_by = direct.get(u.name.key) or parents.get(u.name.key, "a dependency")


def download_native(unpacked: UnpackedWheel, floor: tuple[int, int], dest: Path,
                    log: Log) -> list[tuple[WheelName, Path]]:
    """The wheels of a compiled package for every CPU and every minor from ``floor``."""
    pkg = unpacked.package
    found: dict[str, Path] = {}
    for arch in ARCHES:
        for minor in [m for m in SUPPORTED_MINORS if m >= floor]:
            if any(_fits(WheelName.parse(f), minor, arch) for f in found):
                continue  # an abi3 wheel already covers it
            target = dest / f"{arch}-{minor_text(minor)}"
            target.mkdir(parents=True, exist_ok=True)
            log(f"fetching {pkg.name} {pkg.version} for CPython {minor_text(minor)} on {arch}")
            result = pip_download([f"{pkg.name}=={pkg.version}"], target, minor, arch, no_deps=True)
            wheels = sorted(target.glob("*.whl"))
            if result.returncode != 0 or not wheels:
                raise BuildError(
                    f"--native: {pkg.name} {pkg.version} has no manylinux wheel for CPython "
                    f"{minor_text(minor)} on {arch}; pin a version that has, or raise the "
                    f"floor with --python")
            for wheel in wheels:
                found.setdefault(wheel.name, wheel)
    return [(WheelName.parse(name), path) for name, path in sorted(found.items())]


def _fits(name: WheelName, minor: tuple[int, int], arch: str) -> bool:
    return any(bootstrap.tag_rank(tag, minor, arch, (2, 28)) is not None for tag in name.tags)


def resolve_packages(project: Project, options: BuildOptions, tmp: Path, log: Log) -> Resolution:
    """Stage 3: resolve the carried packages (pip for the floor, or this environment)."""
    requirements = _requirements(project)
    if options.deps_from == "env":
        floor = (sys.version_info[0], sys.version_info[1])
        packages = resolve([("drp-plugin", project.name)]
                           + [r for r in requirements if r[1] != FRAMEWORK])
        return Resolution(floor, packages)
    floor_wanted = parse_python_spec(options.python)
    downloads = tmp / "wheels"
    downloads.mkdir()
    floor, wheel_files = resolve_floor([r for r, _ in requirements], downloads, floor_wanted, log)
    site = tmp / "site"
    unpacked = [unpack_wheel(w, site, "") for w in wheel_files]
    _required_by(unpacked, requirements)
    resolution = Resolution(floor, [framework_package()], unpacked)
    message = compiled_error(unpacked)
    natives = [u for u in unpacked if u.compiled_only]
    if message is not None and not options.native:
        raise BuildError(message)
    for u in unpacked:
        if u in natives:
            wheels = download_native(u, floor, tmp / "native" / u.name.key, log)
            entries = []
            for name, path in wheels:
                data = path.read_bytes()
                entry = NATIVE_PREFIX + name.file
                resolution.native_files[entry] = data
                entries.append({"entry": entry, "sha256": hashlib.sha256(data).hexdigest(),
                                "tags": [list(t) for t in name.tags]})
            resolution.native.append({"name": u.package.name, "version": u.package.version,
                                      "wheels": entries})
        else:
            resolution.packages.append(u.package)
    resolution.packages.sort(key=lambda p: p.key)
    return resolution


# -- stage 4: the archive entries -----------------------------------------------------------------

class Entries:
    """Archive name -> bytes, refusing two different files under one name."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.owner: dict[str, str] = {}

    def add(self, name: str, data: bytes, owner: str) -> None:
        """Add ``data`` as ``name`` for ``owner``; :class:`BuildError` for a name that would
        leave the archive or that two owners fill with different bytes."""
        if name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise BuildError(f"refusing the archive entry {name!r} of {owner}")
        previous = self.data.get(name)
        if previous is not None and previous != data:
            raise BuildError(f"{name} comes from both {self.owner[name]} and {owner}")
        self.data[name] = data
        self.owner.setdefault(name, owner)

    def drop_top_level(self, top: str) -> None:
        """Remove the module or package ``top`` (``top.py`` or everything under ``top/``)."""
        for name in [n for n in self.data if n == f"{top}.py" or n.startswith(f"{top}/")]:
            del self.data[name]
            del self.owner[name]

    def top_levels(self) -> dict[str, str]:
        """Each top-level module or package in the archive, with the owner that added it."""
        tops: dict[str, str] = {}
        for name, owner in self.owner.items():
            first, _, rest = name.partition("/")
            top = first[:-3] if not rest and first.endswith(".py") else first if rest else ""
            if top and top.isidentifier():
                tops.setdefault(top, owner)
        return tops


def _zipinfo(name: str, is_dir: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.create_system = 3  # Unix: the modes below are Unix modes
    info.external_attr = _DIR_ATTR if is_dir else _FILE_ATTR
    info.compress_type = zipfile.ZIP_STORED if is_dir else zipfile.ZIP_DEFLATED
    return info


def write_archive(entries: dict[str, bytes], shebang: str | bytes | None, compress: bool = True,
                  stored: Sequence[str] = ()) -> bytes:
    """A zip of ``entries`` (sorted, fixed metadata), after a ``#!`` line if given.

    ``stored`` names entries kept uncompressed (wheels are compressed already).
    More than :data:`MAX_ENTRIES` entries is a :class:`BuildError`: zipimport reads
    no ZIP64 before Python 3.13.
    """
    buf = io.BytesIO()
    if isinstance(shebang, bytes):
        buf.write(shebang)  # a whole header (see shell_header)
    elif shebang:
        buf.write(b"#!" + shebang.encode("utf-8") + b"\n")
    dirs: set[str] = set()
    for name in entries:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]) + "/")
    names = sorted(set(entries) | dirs)
    if len(names) > MAX_ENTRIES:
        raise BuildError(
            f"the file would hold {len(names)} zip entries; Python's zip importer reads at "
            f"most {MAX_ENTRIES} (no ZIP64 before 3.13). Carry fewer modules or data files.")
    with zipfile.ZipFile(buf, "w", allowZip64=False) as zf:
        for name in names:
            if name in dirs:
                zf.writestr(_zipinfo(name, is_dir=True), b"")
                continue
            info = _zipinfo(name)
            if not compress or name in stored:
                info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, entries[name],
                        compresslevel=6 if info.compress_type == zipfile.ZIP_DEFLATED else None)
    return buf.getvalue()


_IMPORT_CHECK = r"""
import json, sys
archive, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, archive)
results = {}
for name in names:
    try:
        __import__(name)
        results[name] = None
    except BaseException as exc:
        results[name] = "%s: %s" % (type(exc).__name__, exc)
with open(out, "w", encoding="utf-8") as fh:
    json.dump(results, fh)
"""


def check_pure(entries: Entries, packages: list[Package], tmp: Path, log: Log) -> list[str]:
    """Import every package whose compiled files were left out, from a staging archive.

    A top-level module that fails to import while another one of the same package
    works is left out (PyYAML's ``_yaml`` shim); a package none of whose modules
    imports is compiled-only: :class:`BuildError`.  Returns the left-out modules.
    """
    natives = [p for p in packages if p.native]
    if not natives:
        return []
    names: list[str] = []
    for pkg in natives:
        names.extend(pkg.top_level)
        for file in pkg.native:
            parent = ".".join(file.split("/")[:-1])
            if parent and parent.split(".")[0] in pkg.top_level and parent not in names:
                names.append(parent)
    staging = tmp / "staging.zip"
    staging.write_bytes(write_archive(entries.data, None, compress=False))
    out = tmp / "imports.json"
    result = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-I", "-S", "-W", "ignore", "-c", _IMPORT_CHECK, str(staging), str(out),
         *names],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False,
        cwd=tmp,
    )
    if result.returncode != 0 or not out.is_file():
        raise BuildError(f"checking the packages without their compiled code failed:\n{result.stderr}")
    failures: dict[str, str | None] = json.loads(out.read_text(encoding="utf-8"))
    left_out: list[str] = []
    for pkg in natives:
        failed = {n: e for n, e in failures.items() if e and n.split(".")[0] in pkg.top_level}
        working = [t for t in pkg.top_level if not failures.get(t)]
        broken_parents = [n for n in failed if "." in n]
        if not working or broken_parents:
            detail = "; ".join(f"import {n}: {e}" for n, e in sorted(failed.items()))
            raise BuildError(
                f"{pkg.name} {pkg.version} (required by {pkg.required_by}) needs its compiled "
                f"code ({', '.join(pkg.native)}), which a built provider carries only with "
                f"--native. {detail}"
            )
        for top in sorted(failed):
            entries.drop_top_level(top)
            pkg.top_level.remove(top)
            left_out.append(top)
            log(f"left out {top} of {pkg.name}: it only works with compiled code ({failed[top]})")
    return left_out


def _add_local_modules(entries: Entries, probe: ProbeResult) -> list[str]:
    names = []
    for local in probe.local_modules:
        path = Path(local.path)
        owner = f"the provider's module {local.name}"
        if local.package:
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for fname in sorted(filenames):
                    file = Path(dirpath, fname)
                    rel = f"{local.name}/{file.relative_to(path).as_posix()}"
                    if is_native(rel):
                        raise BuildError(f"{rel}: compiled modules cannot go into a built provider")
                    if fname.endswith((".pyc", ".pyo")) or file.is_symlink():
                        continue
                    entries.add(rel, file.read_bytes(), owner)
        else:
            entries.add(f"{local.name}.py", path.read_bytes(), owner)
        names.append(local.name)
    return names


_MAIN = '''\
# -*- coding: utf-8 -*-
# The DRP plugin provider {name} {version}, built by drp-plugin {framework}.
# Run by dr-provision as: <file> define | unpack <dir> | listen <to> <from>
import sys

if sys.version_info < {floor!r}:
    sys.stderr.write("%s: this provider needs Python >= {floor_text}, this host's python3 is %s\\n"
                     % (sys.argv[0], sys.version.split()[0]))
    sys.exit(1)
if {static_define!r} and sys.argv[1:] == ["define"]:
    # The definition computed at build time: nothing to import.
    _out = getattr(sys.stdout, "buffer", sys.stdout)
    _out.write(__loader__.get_data(__loader__.archive + "/{define}"))
    _out.flush()
    sys.exit(0)
import marshal
import zlib

try:
    _pycs = marshal.loads(__loader__.get_data(
        __loader__.archive + "/{pyc_prefix}" + str(sys.implementation.cache_tag)))
except (OSError, ValueError, EOFError, TypeError):
    _pycs = {{}}  # a minor without byte code here: zipimport compiles the sources
_boot = type(sys)("{bootstrap}")
_boot.__file__ = __loader__.archive + "/{bootstrap}.py"
_boot.__loader__ = __loader__
sys.modules["{bootstrap}"] = _boot
_code = _pycs.get("{bootstrap}.py")
exec(marshal.loads(zlib.decompress(_code)) if _code else __loader__.get_code("{bootstrap}"),
     _boot.__dict__)
_boot.install_pycs(__loader__.archive, _pycs)
del _code, _pycs
_boot.run(__loader__, __file__, {module!r})
'''


def main_source(name: str, version: str, module: str, floor: tuple[int, int],
                static_define: bool, framework: str) -> str:
    """The generated ``__main__.py`` (parseable by old Pythons, to refuse them clearly)."""
    return _MAIN.format(
        name=name, version=version, framework=framework, floor=tuple(floor),
        floor_text=minor_text(floor), static_define=static_define, define=bootstrap.DEFINE,
        pyc_prefix=bootstrap.PYC_PREFIX, bootstrap=BOOTSTRAP_MODULE, module=module,
    )


def assemble(project: Project, resolution: Resolution, stamp: Stamp, tmp: Path,
             log: Log) -> tuple[Entries, list[str]]:
    """Stage 4: every archive entry but the byte code and the define answer."""
    from drp_plugin import __version__ as framework_version

    entries = Entries()
    for pkg in resolution.packages:
        for rel, file in sorted(pkg.files.items()):
            entries.add(rel, file.read_bytes(), f"{pkg.name} {pkg.version}")
    package_tops = entries.top_levels()
    native_tops = {t for u in resolution.unpacked if u.compiled_only for t in u.package.top_level}
    local_names = _add_local_modules(entries, project.probe)
    for local in [project.module_name, *local_names]:
        owner = package_tops.get(local) or (f"a compiled package ({local})"
                                            if local in native_tops else None)
        if owner is not None:
            raise BuildError(f"the provider's module {local} has the same name as a module of {owner}")
    entries.add(f"{project.module_name}.py", project.module_file.read_bytes(), "the provider")
    entries.add(f"{BOOTSTRAP_MODULE}.py", Path(bootstrap.__file__).read_bytes(), "drp-plugin build")
    pack, index = pack_assets(stamp.assets)
    if stamp.assets:
        entries.add(ASSET_PACK, pack, "the provider's assets")
    entries.add(bootstrap.STAMP, marshal.dumps({
        "version": project.version,
        "content": dict(sorted(stamp.content.items())),
        "archive_content": dict(sorted(stamp.archive_content.items())),
        "assets": index,
        "native": resolution.native,
    }, 4), "drp-plugin build")
    for entry, data in sorted(resolution.native_files.items()):
        entries.add(entry, data, "a compiled wheel")
    manifest = {
        "name": project.name,
        "version": project.version,
        "module": project.module_name,
        "built_by": f"drp-plugin {framework_version}",
        "python": f">={minor_text(resolution.floor)}",
        "packages": {p.name: p.version for p in resolution.packages},
        "native": {n["name"]: [w["entry"][len(NATIVE_PREFIX):] for w in n["wheels"]]
                   for n in resolution.native},
    }
    entries.add(MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(),
                "drp-plugin build")
    log("checking that every package works without its optional compiled code")
    left_out = check_pure(entries, resolution.packages, tmp, log)
    return entries, left_out


# -- stage 5: byte code per minor -----------------------------------------------------------------

_COMPILE_SCRIPT = r"""
import json, marshal, sys
with open(sys.argv[1], encoding="utf-8") as fh:
    jobs = json.load(fh)
out = {}
for name, path in jobs:
    with open(path, "rb") as fh:
        source = fh.read()
    try:
        code = compile(source, name, "exec", dont_inherit=True, optimize=0)
    except (SyntaxError, ValueError):
        continue  # left to zipimport (an import of it fails the same way)
    out[name] = marshal.dumps(code)
with open(sys.argv[2], "wb") as fh:
    marshal.dump(out, fh, 4)
"""


def find_interpreters(minors: Sequence[tuple[int, int]],
                      extra: Sequence[str] = ()) -> dict[tuple[int, int], str]:
    """A CPython for each of ``minors`` on this machine: ``extra`` (``--pyc-python``,
    ``DRP_PLUGIN_PYTHONS``), this interpreter, ``python3.N`` on ``PATH``, pyenv's."""
    candidates = [*extra, *os.environ.get("DRP_PLUGIN_PYTHONS", "").split(os.pathsep), sys.executable]
    for minor in minors:
        candidates.append(shutil.which(f"python{minor_text(minor)}") or "")
        pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
        candidates += sorted((str(p) for p in pyenv.glob(f"{minor_text(minor)}.*/bin/python3")),
                             reverse=True)
    found: dict[tuple[int, int], str] = {}
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        probe = subprocess.run(  # noqa: S603 - an interpreter we were told about or found
            [candidate, "-I", "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
            capture_output=True, text=True, check=False, timeout=60, stdin=subprocess.DEVNULL)
        parts = probe.stdout.split()
        if probe.returncode == 0 and len(parts) == 3 and parts[0] == "cpython":
            minor = (int(parts[1]), int(parts[2]))
            if minor in minors:
                found.setdefault(minor, candidate)
    return found


def compile_pycs(sources: dict[str, bytes], tmp: Path, python: str | None = None) -> dict[str, bytes]:
    """``archive name -> marshalled code`` of ``sources`` compiled by ``python``.

    Compiled in a fresh interpreter with ``PYTHONHASHSEED=0``, in sorted order,
    so that the marshalled bytes do not depend on this process.
    """
    src_dir = tmp / "src"
    src_dir.mkdir(parents=True, exist_ok=True)
    jobs = []
    for i, name in enumerate(sorted(sources)):
        path = src_dir / f"{i}.py"
        path.write_bytes(sources[name])
        jobs.append((name, str(path)))
    jobs_file, out_file = tmp / "jobs.json", tmp / "pycs.marshal"
    jobs_file.write_text(json.dumps(jobs), encoding="utf-8")
    env = {"PYTHONHASHSEED": "0", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    result = subprocess.run(  # noqa: S603 - our interpreter, our script
        [python or sys.executable, "-S", "-s", "-W", "ignore", "-X", "utf8", "-c",
         _COMPILE_SCRIPT, str(jobs_file), str(out_file)],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise BuildError(f"compiling the byte code with {python} failed:\n{result.stderr.strip()}")
    pycs: dict[str, bytes] = marshal.loads(out_file.read_bytes())
    return pycs


def add_pycs(entries: Entries, floor: tuple[int, int], options: BuildOptions, tmp: Path,
             log: Log) -> list[tuple[int, int]]:
    """Stage 5: one byte code table per supported minor with an interpreter here."""
    minors = [m for m in SUPPORTED_MINORS if m >= floor]
    pythons = find_interpreters(minors, options.pythons)
    sources = {n: d for n, d in entries.data.items()
               if n.endswith(".py") and ".dist-info/" not in n}
    missing = [minor_text(m) for m in minors if m not in pythons]
    if missing:
        log(f"no interpreter here for Python {', '.join(missing)}: hosts with it compile the "
            "modules at every start (give one with --pyc-python)")
    from concurrent.futures import ThreadPoolExecutor

    order = sorted(pythons.items())
    for minor, python in order:
        log(f"compiling {len(sources)} modules with {python} ({minor_text(minor)})")
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        tables = list(pool.map(
            lambda item: compile_pycs(sources, tmp / f"pyc-{minor_text(item[0])}", item[1]), order))
    for (minor, _), table in zip(order, tables, strict=True):
        entries.add(f"{bootstrap.PYC_PREFIX}cpython-{minor[0]}{minor[1]}",
                    pyc_table(table), "drp-plugin build")
    return [minor for minor, _ in order]


def pyc_table(table: dict[str, bytes]) -> bytes:
    """One minor's byte code table: ``archive name -> zlib-compressed marshalled code``.

    Each module is compressed on its own and the table is stored uncompressed in
    the zip, so a start inflates only the modules it imports (inflating the whole
    4 MB table cost ~28 ms per start, a third of ``import asyncio``).
    """
    return marshal.dumps({name: zlib.compress(code, 9) for name, code in sorted(table.items())}, 4)


# -- stage 6: write, check, define ----------------------------------------------------------------

def _run_define(path: Path, tmp: Path) -> subprocess.CompletedProcess[bytes]:
    with tempfile.TemporaryDirectory(prefix="drp-build-check-", dir=tmp) as cwd:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RS_TOKEN": "catalog",
               "DRP_PLUGIN_CACHE_DIR": str(tmp / "cache")}
        return subprocess.run(  # noqa: S603 - our interpreter, the file we just built
            [sys.executable, "-I", "-S", str(path), "define"],
            capture_output=True, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            timeout=120, check=False,
        )


def _run_directly(path: Path, tmp: Path) -> bytes | None:
    """``define`` of the file executed as DRP does (through its ``#!`` line); None when
    the output folder does not allow executing files (a ``noexec`` mount)."""
    try:
        result = subprocess.run(  # noqa: S603 - the file we just built
            [str(path), "define"], capture_output=True, cwd=tmp, stdin=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RS_TOKEN": "catalog"},
            timeout=120, check=False)
    except PermissionError:
        return None
    if result.returncode != 0 or result.stderr:
        raise BuildError(f"the built file, run directly, fails `define`: {result.stderr!r}")
    return result.stdout


def check_define(path: Path, name: str, version: str, tmp: Path) -> bytes:
    """Run ``define`` of the built file (isolated interpreter, no site-packages); its output."""
    result = _run_define(path, tmp)
    stderr = result.stderr.decode("utf-8", "replace").strip()
    if result.returncode != 0 or stderr:
        raise BuildError(f"the built file fails `define` (exit {result.returncode}):\n{stderr}")
    try:
        definition = json.loads(result.stdout)
    except ValueError as exc:
        raise BuildError(f"the built file's `define` is not JSON: {exc}") from exc
    if definition.get("Name") != name or definition.get("Version") != version:
        raise BuildError(
            f"the built file defines {definition.get('Name')} {definition.get('Version')}, "
            f"expected {name} {version}"
        )
    return result.stdout


def _write_file(out: Path, blob: bytes) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{out.name[:100]}.", suffix=".partial", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.chmod(partial, 0o755)
    except OSError as exc:
        os.unlink(partial)
        raise BuildError(f"cannot write {out}: {exc}") from exc
    return Path(partial)


def build(
    source: str | os.PathLike[str] = ".",
    output: str | os.PathLike[str] | None = None,
    *,
    module: str | None = None,
    shebang: str = DEFAULT_SHEBANG,
    python: str | None = None,
    version: str | None = None,
    check: bool = True,
    native: bool = False,
    deps_from: str = "pip",
    pythons: Sequence[str] = (),
    allow_imports: Sequence[str] = (),
    log: Log = _quiet,
) -> BuildResult:
    """Build the provider at ``source`` (a project folder or its ``.py``) into one file.

    The output defaults to ``<project>/dist/<provider name>``.  ``shebang`` is the
    interpreter of the ``#!`` line; ``python`` the oldest host Python (``">=3.9"``;
    None: the oldest the requirements allow); ``native`` carries compiled packages
    as manylinux wheels; ``deps_from="env"`` takes the packages installed here
    instead of resolving them with pip (the floor is then this Python);
    ``pythons`` are interpreters to compile byte code with; ``check`` runs the
    built file's ``define`` (the static define answer needs it).  Every import of
    the provider's own modules must resolve in the file (:mod:`.imports`), but for
    the modules of ``allow_imports`` (each with its submodules).  Every failure is
    a :class:`~drp_plugin.errors.ToolError` saying what to fix (:class:`BuildError`,
    :class:`~drp_plugin.errors.DependencyError`, :class:`~drp_plugin.errors.ProjectError`),
    and leaves nothing at the output.
    """
    for name in allow_imports:
        if not name or not all(part.isidentifier() for part in name.split(".")):
            raise BuildError(f"--allow-import {name!r}: a module name, e.g. cryptography")
    options = BuildOptions(module=module, shebang=shebang, python=python, version=version,
                           check=check, native=native, deps_from=deps_from, pythons=tuple(pythons),
                           allow_imports=tuple(allow_imports))
    if deps_from not in ("pip", "env"):
        raise BuildError(f"deps_from={deps_from!r}: 'pip' or 'env'")
    try:
        return _build(source, output, options, log)
    except OSError as exc:
        raise BuildError(f"{exc.filename or 'build'}: {exc.strerror or exc}") from exc


def _build(source: str | os.PathLike[str], output: str | os.PathLike[str] | None,
           options: BuildOptions, log: Log) -> BuildResult:
    from drp_plugin import __version__ as framework_version

    project = load_project(source, options, log)
    project, imports = find_local_modules(project)
    out = Path(output) if output is not None else project.folder / "dist" / project.name
    content, archive_content = make_content(project)
    stamp = Stamp(content, archive_content, collect_assets(project.probe))
    with tempfile.TemporaryDirectory(prefix="drp-build-") as tmp_name:
        tmp = Path(tmp_name)
        resolution = resolve_packages(project, options, tmp, log)
        entries, left_out = assemble(project, resolution, stamp, tmp, log)
        log("checking that every import of the provider resolves in the file")
        native_tops = {t for u in resolution.unpacked if u.compiled_only for t in u.package.top_level}
        problems = unresolved(imports, entries.data, native_tops, resolution.floor,
                              options.allow_imports)
        if problems:
            raise BuildError(report(problems))
        compiled_for = add_pycs(entries, resolution.floor, options, tmp, log)
        # Wheels are compressed already; byte code tables hold compressed modules.
        stored = [*resolution.native_files,
                  *(n for n in entries.data if n.startswith(bootstrap.PYC_PREFIX))]

        def file_with(static: bool, answer: bytes = b"") -> bytes:
            entries.data.pop("__main__.py", None)
            entries.owner.pop("__main__.py", None)
            entries.add("__main__.py", main_source(
                project.name, project.version, project.module_name, resolution.floor, static,
                framework_version).encode("utf-8"), "drp-plugin build")
            header: str | bytes = options.shebang.strip()
            if static:
                header = shell_header(options.shebang.strip(), answer, project.name,
                                      project.version, resolution.floor)
            return write_archive(entries.data, header, stored=stored)

        blob = file_with(False)
        partial = _write_file(out, blob)
        try:
            static = False
            if options.check:
                log("checking `define` of the built file")
                answer = check_define(partial, project.name, project.version, tmp)
                if not project.probe.has_validate:
                    entries.add(bootstrap.DEFINE, answer, "drp-plugin build")
                    blob = file_with(True, answer)
                    partial.unlink()
                    partial = _write_file(out, blob)
                    if check_define(partial, project.name, project.version, tmp) != answer:
                        raise BuildError("the stored define answer differs from the computed one")
                    direct = _run_directly(partial, tmp)
                    if direct is None:
                        log(f"{out.parent} does not allow executing files: the shell header's "
                            "define was not checked")
                    elif direct != answer:
                        raise BuildError("the file's shell header answers define differently")
                    static = True
            os.replace(partial, out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return BuildResult(
        path=out, name=project.name, version=project.version,
        version_source=project.version_source, size=len(blob),
        sha256=hashlib.sha256(blob).hexdigest(), packages=resolution.packages,
        left_out=left_out, entries=len(entries.data), floor=resolution.floor,
        compiled_for=compiled_for,
        native_wheels=[w["entry"][len(NATIVE_PREFIX):] for n in resolution.native
                       for w in n["wheels"]],
        static_define=static,
    )
