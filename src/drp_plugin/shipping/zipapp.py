"""``drp-plugin build``: a provider turned into ONE executable file.

DRP stores a plugin provider as a single file and runs it directly
(docs/protocol.md section 1), so a Python provider ships as a zip application: a
``#!/usr/bin/env python3`` line followed by a zip archive that Python runs
through its ``__main__.py``.  The archive holds

- the provider module (run as ``__main__``) and the helper modules it imports
  from its own folder;
- the framework (:mod:`drp_plugin` without its stand-in, test helpers and build
  tool) and its runtime dependencies: h11, httpx (httpcore, anyio, idna,
  certifi, ...), websockets, PyYAML's ``yaml``, click, jsonpatch, jsonpointer;
- the dependencies of the provider project (``[project].dependencies`` of its
  ``pyproject.toml``), followed transitively;
- ``_drp_bootstrap.py`` and a generated ``__main__.py`` that stamp the version,
  the content bundle (bundled at build time) and the asset list into
  :mod:`drp_plugin.stamp`;
- the assets under ``_drp_assets/``, read with :mod:`zipfile` only when
  ``unpack`` runs.

**Pure Python only.**  The server's ``python3`` runs the file, on whatever CPU
the server has (x86_64 or aarch64), so the file carries no compiled code:
extension modules (``.so``) are left out, and every package that had some is
imported from the built archive at build time to prove that it falls back to
Python (websockets without its ``speedups``, PyYAML without ``_yaml``).  A
package that cannot work without its compiled code fails the build, naming it.
The result runs on CPython >= 3.11 on x86_64 and aarch64 alike (sources are
text, pycs are marshal data, which has no byte order or word size, zip is
portable; nothing depends on the build machine's CPU); ``__main__`` refuses
older versions with a clear message.  The ``#!`` line finds ``python3`` on the
server's ``PATH`` (``--python`` picks another interpreter line).

**Start-up time.**  Next to every ``.py`` source the archive holds its ``.pyc``,
compiled by the build interpreter as an *unchecked hash-based* pyc (PEP 552), so
``zipimport`` neither compiles nor compares timestamps at start.  On another
Python minor version the magic number does not match and ``zipimport`` compiles
the sources instead (correct, only slower: compilation is not cached in a zip).

**Reproducible.**  The same tree gives the same bytes: entries are sorted, every
entry has the timestamp 1980-01-01 00:00:00, mode 0644 (0755 for directories)
and Unix as creator; pycs are compiled in a fresh interpreter with
``PYTHONHASHSEED=0`` (set and frozenset constants are marshalled in hash order)
and name their source by its path inside the archive, not the build machine's.
A content folder given as an absolute path under the provider's folder is
stamped by its relative path, so the build folder does not leak into the file.
Assets keep their file modes (stored in ``__main__``).  What can still change
the bytes: a different build interpreter (pyc format), different installed
package versions, a different zlib (the deflate stream), and the version
string (``git describe`` says ``-dirty`` for uncommitted changes).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BuildError as BuildError  # re-exported: the tree lives in errors
from . import bootstrap
from .deps import DependencyError, Package, is_native, project_requirements, resolve
from .version import ProjectError, pyproject_data, resolve_version

DEFAULT_PYTHON = "/usr/bin/env python3"
#: Zip entries carry this timestamp (the earliest a zip can store).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
BOOTSTRAP_MODULE = "_drp_bootstrap"
ASSET_PREFIX = bootstrap.ASSET_PREFIX
MANIFEST = bootstrap.MANIFEST
_FILE_ATTR = (stat.S_IFREG | 0o644) << 16
_DIR_ATTR = (stat.S_IFDIR | 0o755) << 16 | 0x10  # 0x10: MS-DOS directory flag
_SKIP_SOURCE_NAMES = {"setup.py", "conftest.py", "noxfile.py"}




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


Log = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# -- the provider ---------------------------------------------------------------------------------

def _module_from_pyproject(project_dir: Path) -> Path | None:
    data = pyproject_data(project_dir / "pyproject.toml")
    tool = data.get("tool")
    if isinstance(tool, dict):
        ours = tool.get("drp-plugin")
        if isinstance(ours, dict) and isinstance(ours.get("module"), str):
            return project_dir / ours["module"]
    project = data.get("project")
    if isinstance(project, dict) and isinstance(project.get("name"), str):
        candidate = project_dir / (project["name"].replace("-", "_").replace(".", "_") + ".py")
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


def probe_provider(module_file: Path, python: str | None = None) -> dict[str, Any]:
    """Import ``module_file`` in a child process and describe its provider (JSON)."""
    with tempfile.TemporaryDirectory(prefix="drp-build-") as tmp:
        out = Path(tmp, "probe.json")
        result = subprocess.run(  # noqa: S603 - our interpreter, our module
            [python or sys.executable, "-m", "drp_plugin.shipping.probe", str(module_file), str(out)],
            capture_output=True, text=True, cwd=module_file.parent, env=_child_env(),
            stdin=subprocess.DEVNULL, timeout=120, check=False,
        )
        if result.returncode != 0 or not out.is_file():
            detail = (result.stderr or result.stdout).strip().splitlines()[-15:]
            raise BuildError(f"cannot load the provider from {module_file}:\n  " + "\n  ".join(detail))
        info: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return info


# -- the archive ----------------------------------------------------------------------------------

class Entries:
    """Archive name -> bytes, refusing two different files under one name."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.owner: dict[str, str] = {}

    def add(self, name: str, data: bytes, owner: str) -> None:
        if name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise BuildError(f"refusing the archive entry {name!r} of {owner}")
        previous = self.data.get(name)
        if previous is not None and previous != data:
            raise BuildError(f"{name} comes from both {self.owner[name]} and {owner}")
        self.data[name] = data
        self.owner.setdefault(name, owner)

    def drop_top_level(self, top: str) -> None:
        for name in [n for n in self.data if n == f"{top}.py" or n.startswith(f"{top}/")]:
            del self.data[name]
            del self.owner[name]

    def top_levels(self) -> dict[str, str]:
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


def write_archive(entries: dict[str, bytes], shebang: str | None, compress: bool = True) -> bytes:
    """A zip of ``entries`` (sorted, fixed metadata), after a ``#!`` line if given."""
    buf = io.BytesIO()
    if shebang:
        buf.write(b"#!" + shebang.encode("utf-8") + b"\n")
    dirs: set[str] = set()
    for name in entries:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]) + "/")
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(set(entries) | dirs):
            if name in dirs:
                zf.writestr(_zipinfo(name, is_dir=True), b"")
                continue
            info = _zipinfo(name)
            if not compress:
                info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, entries[name], compresslevel=6 if compress else None)
    return buf.getvalue()


_COMPILE_SCRIPT = r"""
import importlib.util, json, marshal, sys
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
    header = importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")  # hash-based, unchecked
    out[name] = header + importlib.util.source_hash(source) + marshal.dumps(code)
with open(sys.argv[2], "wb") as fh:
    marshal.dump(out, fh)
"""


def compile_pycs(sources: dict[str, bytes], tmp: Path) -> dict[str, bytes]:
    """Unchecked hash-based pycs of ``sources`` (archive name -> source), reproducibly.

    Compiled in a fresh interpreter with ``PYTHONHASHSEED=0``, in sorted order,
    so that the marshalled bytes do not depend on this process.
    """
    src_dir = tmp / "src"
    jobs = []
    for i, name in enumerate(sorted(sources)):
        path = src_dir / f"{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(sources[name])
        jobs.append((name, str(path)))
    jobs_file, out_file = tmp / "jobs.json", tmp / "pycs.marshal"
    jobs_file.write_text(json.dumps(jobs), encoding="utf-8")
    env = {"PYTHONHASHSEED": "0", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    result = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-S", "-s", "-W", "ignore", "-X", "utf8", "-c", _COMPILE_SCRIPT,
         str(jobs_file), str(out_file)],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise BuildError(f"compiling the byte code failed:\n{result.stderr.strip()}")
    import marshal

    pycs: dict[str, bytes] = marshal.loads(out_file.read_bytes())
    return pycs


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
    """Import every package that had compiled files from a staging archive.

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
                f"code ({', '.join(pkg.native)}), which a built provider cannot carry: it must "
                f"run on any CPU with pure Python. {detail}"
            )
        for top in sorted(failed):
            entries.drop_top_level(top)
            pkg.top_level.remove(top)
            left_out.append(top)
            log(f"left out {top} of {pkg.name}: it only works with compiled code ({failed[top]})")
    return left_out


def _main_source(name: str, version: str, module: str, content: dict[str, str],
                 archive_content: dict[str, str], assets: dict[str, int], framework: str) -> str:
    def literal(value: Any) -> str:
        return repr(value)

    return (
        f"# The DRP plugin provider {name} {version}, built by drp-plugin {framework}.\n"
        "# Run by dr-provision as: <file> define | unpack <dir> | listen <to> <from>\n"
        "import sys\n"
        "\n"
        "if sys.version_info < (3, 11):\n"
        "    sys.stderr.write('%s needs Python >= 3.11, this is %s\\n'\n"
        "                     % (sys.argv[0], sys.version.split()[0]))\n"
        "    sys.exit(1)\n"
        "\n"
        f"from {BOOTSTRAP_MODULE} import run\n"
        "\n"
        "run(\n"
        "    __loader__,\n"
        "    __file__,\n"
        f"    module={literal(module)},\n"
        f"    version={literal(version)},\n"
        f"    content={literal(dict(sorted(content.items())))},\n"
        f"    archive_content={literal(dict(sorted(archive_content.items())))},\n"
        f"    assets={literal(dict(sorted(assets.items())))},\n"
        ")\n"
    )


def _collect_assets(info: dict[str, Any]) -> list[tuple[str, int, bytes]]:
    from drp_plugin.assets import AssetError, collect, safe_relpath

    try:
        found = list(collect(Path(info["base_dir"]), info["assets"]))
    except (AssetError, OSError) as exc:
        raise BuildError(f"assets: {exc}") from exc
    seen: dict[str, int] = {}
    for rel, mode, _ in found:
        try:
            safe_relpath(rel)
        except AssetError as exc:
            raise BuildError(f"assets: {exc}") from exc
        if "\\" in rel or any(ord(c) < 32 for c in rel):
            raise BuildError(f"assets: refusing the file name {rel!r}")
        if rel in seen:
            raise BuildError(f"assets: two files would be unpacked as {rel}")
        seen[rel] = mode
    return sorted(((rel, mode & 0o777, data) for rel, mode, data in found), key=lambda t: t[0])


def _add_local_modules(entries: Entries, info: dict[str, Any]) -> list[str]:
    names = []
    for local in info.get("local_modules") or []:
        name, path = local["name"], Path(local["path"])
        owner = f"the provider's module {name}"
        if local["package"]:
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for fname in sorted(filenames):
                    file = Path(dirpath, fname)
                    rel = f"{name}/{file.relative_to(path).as_posix()}"
                    if is_native(rel):
                        raise BuildError(f"{rel}: compiled modules cannot go into a built provider")
                    if fname.endswith((".pyc", ".pyo")) or file.is_symlink():
                        continue
                    entries.add(rel, file.read_bytes(), owner)
        else:
            entries.add(f"{name}.py", path.read_bytes(), owner)
        names.append(name)
    return names


def _check_define(path: Path, name: str, version: str) -> None:
    """Run ``define`` of the built file with an isolated interpreter, no site-packages."""
    with tempfile.TemporaryDirectory(prefix="drp-build-check-") as cwd:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RS_TOKEN": "catalog"}
        result = subprocess.run(  # noqa: S603 - our interpreter, the file we just built
            [sys.executable, "-I", "-S", str(path), "define"],
            capture_output=True, text=True, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            timeout=120, check=False,
        )
    if result.returncode != 0 or result.stderr:
        raise BuildError(
            f"the built file fails `define` (exit {result.returncode}):\n{result.stderr.strip()}"
        )
    try:
        definition = json.loads(result.stdout)
    except ValueError as exc:
        raise BuildError(f"the built file's `define` is not JSON: {exc}") from exc
    if definition.get("Name") != name or definition.get("Version") != version:
        raise BuildError(
            f"the built file defines {definition.get('Name')} {definition.get('Version')}, "
            f"expected {name} {version}"
        )


def build(
    source: str | os.PathLike[str] = ".",
    output: str | os.PathLike[str] | None = None,
    *,
    module: str | None = None,
    python: str = DEFAULT_PYTHON,
    version: str | None = None,
    check: bool = True,
    log: Log = _quiet,
) -> BuildResult:
    """Build the provider at ``source`` (a project folder or its ``.py``) into one file.

    The output defaults to ``<project>/dist/<provider name>``.  ``python`` is the
    interpreter of the ``#!`` line; ``check`` runs the built file's ``define``.
    Every failure is a :class:`BuildError` saying what to fix.
    """
    try:
        return _build(source, output, module, python, version, check, log)
    except (DependencyError, ProjectError) as exc:
        raise BuildError(str(exc)) from exc
    except OSError as exc:
        raise BuildError(f"{exc.filename or 'build'}: {exc.strerror or exc}") from exc


def _build(source: str | os.PathLike[str], output: str | os.PathLike[str] | None,
           module: str | None, python: str, version: str | None, check: bool,
           log: Log) -> BuildResult:
    from drp_plugin import __version__ as framework_version
    from drp_plugin.content import ContentError, bundle

    project_dir, module_file = find_module(source, module)
    module_name = module_file.stem
    if not module_name.isidentifier() or module_file.suffix != ".py":
        raise BuildError(f"{module_file.name}: the provider module must be NAME.py with NAME an identifier")
    if module_name in sys.stdlib_module_names or module_name in ("__main__", BOOTSTRAP_MODULE):
        raise BuildError(f"{module_file.name}: rename the module, {module_name} is a standard module name")
    if not python.strip() or "\n" in python or not python.strip().startswith("/"):
        raise BuildError(f"invalid --python {python!r}: an absolute interpreter path, "
                         "e.g. '/usr/bin/env python3'")
    if len(python.strip().encode()) > 125:
        raise BuildError("--python is too long for a #! line (Linux reads 127 bytes)")

    log(f"loading {module_file}")
    info = probe_provider(module_file)
    name = str(info["name"])
    chosen, version_source = resolve_version(version, project_dir, info.get("version"))
    out = Path(output) if output is not None else project_dir / "dist" / name

    entries = Entries()
    # The content bundle, made now: a built provider does not parse YAML on define.
    content: dict[str, str] = {}
    archive_content: dict[str, str] = {}
    if info.get("content") is not None:
        key = str(info["content"])
        try:
            text = bundle(os.path.join(info["base_dir"], key), version=chosen)
        except ContentError as exc:
            raise BuildError(f"content: {exc}") from exc
        rel = os.path.relpath(key, module_file.parent) if os.path.isabs(key) else ""
        if rel and not rel.startswith(".."):
            # Computed from __file__: in the built file it is under the file's own path
            # (and the build folder must not leak into the file).
            archive_content[rel.replace(os.sep, "/")] = text
        else:
            content[key] = text
    assets = _collect_assets(info)
    for rel, _, data in assets:
        entries.add(ASSET_PREFIX + rel, data, "the provider's assets")

    requirements = [("drp-plugin", name)]
    pyproject = project_dir / "pyproject.toml"
    if pyproject.is_file():
        requirements.extend((r, f"{name} ({pyproject})") for r in project_requirements(pyproject))
    packages = resolve(requirements)
    for pkg in packages:
        for rel, file in sorted(pkg.files.items()):
            entries.add(rel, file.read_bytes(), f"{pkg.name} {pkg.version}")
    package_tops = entries.top_levels()
    local_names = _add_local_modules(entries, info)
    for local in [module_name, *local_names]:
        owner = package_tops.get(local)
        if owner is not None:
            raise BuildError(f"the provider's module {local} has the same name as a module of {owner}")
    entries.add(f"{module_name}.py", module_file.read_bytes(), "the provider")
    entries.add(f"{BOOTSTRAP_MODULE}.py", Path(bootstrap.__file__).read_bytes(), "drp-plugin build")
    manifest = {
        "name": name,
        "version": chosen,
        "module": module_name,
        "built_by": f"drp-plugin {framework_version}",
        "python": f">=3.11 (byte code for {sys.implementation.cache_tag})",
        "packages": {p.name: p.version for p in packages},
    }
    entries.add(MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(),
                "drp-plugin build")
    entries.add("__main__.py", _main_source(
        name, chosen, module_name, content, archive_content,
        {rel: mode for rel, mode, _ in assets}, framework_version,
    ).encode("utf-8"), "drp-plugin build")

    with tempfile.TemporaryDirectory(prefix="drp-build-") as tmp_name:
        tmp = Path(tmp_name)
        log("checking that every package works without compiled code")
        left_out = check_pure(entries, packages, tmp, log)
        sources = {
            n: d for n, d in entries.data.items()
            if n.endswith(".py") and not n.startswith(ASSET_PREFIX) and ".dist-info/" not in n
        }
        log(f"compiling {len(sources)} modules")
        for pyc_name, pyc in compile_pycs(sources, tmp).items():
            entries.add(pyc_name[:-3] + ".pyc", pyc, entries.owner[pyc_name])
        blob = write_archive(entries.data, python.strip())

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(blob)
        os.chmod(partial, 0o755)
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BuildError(f"cannot write {out}: {exc}") from exc
    if check:
        log("checking `define` of the built file")
        _check_define(out, name, chosen)
    return BuildResult(
        path=out, name=name, version=chosen, version_source=version_source, size=len(blob),
        sha256=hashlib.sha256(blob).hexdigest(), packages=packages, left_out=left_out,
        entries=len(entries.data),
    )
