"""The carried third-party packages, resolved by pip for the hosts, not the builder.

A built provider runs on the DRP host's ``python3``: CPython 3.9 to 3.13, x86_64
or aarch64.  So its packages are chosen for that range, not taken from the
builder's ``site-packages``: ``pip download --only-binary=:all: --python-version
X.Y --implementation cp --platform ...`` picks versions whose ``Requires-Python``
admits the floor and wheels for the target platforms.

pip evaluates environment markers (``exceptiongroup; python_version < "3.11"``)
against the interpreter that runs pip, not ``--python-version``; so after each
download the requirements of every wheel are evaluated here for every minor of
the range, and anything missing is asked for explicitly (a few rounds at most).
A dependency true on any supported minor is carried: a backport that a newer
Python does not use just sits unused.

Compiled code: a wheel's extension modules are left out, unless ``--native``
asks for them.  A known optional speedup (:data:`OPTIONAL_NATIVE`) may be left
out, since its package falls back to Python; any other extension module means
the package is compiled-only, and the build fails naming the package and the
module, or, with ``--native``, carries the package's manylinux wheels for each
target CPU and minor (:mod:`drp_plugin.shipping.native`).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DependencyError
from .deps import (
    Package,
    _add_file,
    _keep_metadata,
    evaluate_marker,
    normalize,
    parse_requirement,
)

#: The CPython minors a built provider supports, oldest first.
SUPPORTED_MINORS: tuple[tuple[int, int], ...] = ((3, 9), (3, 10), (3, 11), (3, 12), (3, 13))
#: The CPUs of DRP hosts.
ARCHES = ("x86_64", "aarch64")
#: manylinux levels accepted for carried wheels (glibc 2.17, RHEL 7 era, up to 2.28, RHEL 8).
MANYLINUX = ("manylinux_2_28", "manylinux_2_27", "manylinux_2_26", "manylinux_2_24",
             "manylinux_2_17", "manylinux2014")
#: Extension modules with a pure-Python fallback in their package (module path without
#: suffix): left out of a build without ``--native``.  Anything else compiled fails the build.
OPTIONAL_NATIVE = frozenset({
    "websockets/speedups",          # websockets: utf8 validation and masking in C
    "yaml/_yaml", "_yaml",          # PyYAML: the libyaml binding (pure loader otherwise)
    "markupsafe/_speedups",         # MarkupSafe: escape() in C
    "msgpack/_cmsgpack",            # msgpack: pure fallback when the extension is absent
    "multidict/_multidict", "yarl/_quoting_c", "frozenlist/_frozenlist",
    "propcache/_helpers_c",         # aio-libs speedups, each with a pure-Python twin
    "charset_normalizer/md", "charset_normalizer/md__mypyc",  # mypyc build of pure code
})
#: How long one pip run may take (seconds): resolution downloads the wheels.
PIP_TIMEOUT = float(os.environ.get("DRP_PLUGIN_PIP_TIMEOUT", "600"))

Log = Callable[[str], None]
_WHEEL_RE = re.compile(
    r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-(?P<build>\d[^-]*))?-(?P<py>[^-]+)-(?P<abi>[^-]+)"
    r"-(?P<plat>[^-]+)\.whl$"
)


def minor_text(minor: tuple[int, int]) -> str:
    """``(3, 9)`` -> ``"3.9"``."""
    return f"{minor[0]}.{minor[1]}"


def parse_python_spec(spec: str | None) -> tuple[int, int] | None:
    """The floor of ``--python``: ``">=3.9"``, ``"3.10"``, ``"3.10+"``; None for "auto"."""
    if spec is None or spec.strip() in ("", "auto"):
        return None
    match = re.fullmatch(r"\s*(?:>=\s*)?3\.(\d+)\s*\+?\s*", spec)
    if match is None:
        raise DependencyError(f"--python {spec!r}: give the oldest host Python as '>=3.N'")
    minor = (3, int(match.group(1)))
    if minor not in SUPPORTED_MINORS:
        raise DependencyError(
            f"--python {spec!r}: built providers support {minor_text(SUPPORTED_MINORS[0])} "
            f"to {minor_text(SUPPORTED_MINORS[-1])}")
    return minor


def platform_tags(arch: str) -> list[str]:
    """pip ``--platform`` values for ``arch`` (every accepted manylinux level)."""
    return [f"{level}_{arch}" for level in MANYLINUX]


def marker_env(minor: tuple[int, int], arch: str = "x86_64") -> dict[str, str]:
    """PEP 508 marker variables of a CPython ``minor`` on Linux ``arch``."""
    version = minor_text(minor)
    return {
        "os_name": "posix", "sys_platform": "linux", "platform_machine": arch,
        "platform_python_implementation": "CPython", "platform_release": "",
        "platform_system": "Linux", "platform_version": "", "python_version": version,
        "python_full_version": version + ".0", "implementation_name": "cpython",
        "implementation_version": version + ".0",
    }


@dataclass(frozen=True)
class WheelName:
    """The parts of a wheel file name (PEP 427)."""

    file: str
    name: str
    version: str
    tags: tuple[tuple[str, str, str], ...]

    @classmethod
    def parse(cls, file: str) -> WheelName:
        """Split a wheel file name (PEP 427) into name, version and its expanded
        ``(python, abi, platform)`` tags; :class:`DependencyError` if it is not one."""
        match = _WHEEL_RE.match(file)
        if match is None:
            raise DependencyError(f"{file} is not a wheel file name")
        tags = tuple(
            (py, abi, plat)
            for py in match.group("py").split(".")
            for abi in match.group("abi").split(".")
            for plat in match.group("plat").split(".")
        )
        return cls(file, match.group("name"), match.group("version"), tags)

    @property
    def key(self) -> str:
        """The normalized project name (PEP 503)."""
        return normalize(self.name)


def pip_command() -> list[str]:
    """How pip is run: this interpreter's pip module."""
    return [sys.executable, "-m", "pip"]


def probe_timeout() -> float:
    """Seconds one minor may take while the default floor is searched
    (``DRP_PLUGIN_PIP_PROBE_TIMEOUT``, default 120): pip's resolver can backtrack for
    minutes through old releases before it admits that a minor cannot work."""
    return float(os.environ.get("DRP_PLUGIN_PIP_PROBE_TIMEOUT", "120"))


def pip_download(requirements: Sequence[str], dest: Path, minor: tuple[int, int], arch: str,
                 no_deps: bool = False,
                 timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """``pip download`` of ``requirements`` for CPython ``minor`` on manylinux ``arch``."""
    argv = [*pip_command(), "download", "--disable-pip-version-check", "--no-input",
            "--only-binary=:all:", "--implementation", "cp",
            "--python-version", minor_text(minor), "-d", str(dest)]
    for plat in [*platform_tags(arch), "any"]:
        argv += ["--platform", plat]
    if no_deps:
        argv.append("--no-deps")
    argv += list(requirements)
    env = dict(os.environ)
    env.pop("PIP_REQUIRE_VIRTUALENV", None)
    try:
        return subprocess.run(  # noqa: S603 - pip of this interpreter, our arguments
            argv, capture_output=True, text=True, timeout=timeout or PIP_TIMEOUT, check=False,
            stdin=subprocess.DEVNULL, env=env,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(
            argv, 1, "", f"pip took longer than {timeout or PIP_TIMEOUT:g} s (still resolving)")


def _pip_failure(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stderr or result.stdout).splitlines()
             if line.strip() and not line.startswith("WARNING: Location")]
    return "\n  ".join(lines[-8:])


def _requires(wheel: Path) -> tuple[str, list[str]]:
    """``(Requires-Python, Requires-Dist list)`` from a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next((n for n in zf.namelist()
                     if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None)
        if meta is None:
            raise DependencyError(f"{wheel.name} has no METADATA")
        text = zf.read(meta).decode("utf-8", "replace")
    head = text.split("\n\n", 1)[0]
    requires_python, requires = "", []
    for line in head.splitlines():
        key, _, value = line.partition(":")
        if key == "Requires-Dist":
            requires.append(value.strip())
        elif key == "Requires-Python":
            requires_python = value.strip()
    return requires_python, requires


def _wanted_extras(requirements: Iterable[str]) -> dict[str, set[str]]:
    extras: dict[str, set[str]] = {}
    for text in requirements:
        req = parse_requirement(text)
        extras.setdefault(req.key, set()).update(normalize(e) for e in req.extras)
    return extras


def missing_requirements(wheels: Iterable[Path], requirements: Sequence[str],
                         minors: Sequence[tuple[int, int]], arch: str) -> list[str]:
    """Requirements of the downloaded ``wheels`` that hold on some minor but were not
    downloaded (pip judged the markers by its own interpreter)."""
    have = {WheelName.parse(w.name).key: w for w in wheels}
    extras = _wanted_extras(requirements)
    missing: dict[str, str] = {}
    queue = list(have)
    seen: set[str] = set()
    while queue:
        key = queue.pop()
        if key in seen or key not in have:
            continue
        seen.add(key)
        _, requires = _requires(have[key])
        for text in requires:
            sub = parse_requirement(text)
            if not any(evaluate_marker(sub.marker, extras.get(key, ()), marker_env(m, arch))
                       for m in minors):
                continue
            spec = text.split(";", 1)[0].strip()
            if sub.key not in have:
                missing.setdefault(sub.key, spec)
            else:
                queue.append(sub.key)
                if sub.extras:
                    extras.setdefault(sub.key, set()).update(normalize(e) for e in sub.extras)
    return sorted(missing.values())


def download_for(requirements: Sequence[str], dest: Path, minor: tuple[int, int],
                 arch: str, log: Log, timeout: float | None = None) -> list[Path]:
    """The wheels of ``requirements`` and their dependencies for ``minor`` and newer."""
    minors = [m for m in SUPPORTED_MINORS if m >= minor]
    wanted = list(requirements)
    for _ in range(6):
        if wanted:
            result = pip_download(wanted, dest, minor, arch, timeout=timeout)
            if result.returncode != 0:
                raise DependencyError(
                    f"pip cannot resolve {', '.join(wanted)} for CPython {minor_text(minor)} "
                    f"on {arch}:\n  {_pip_failure(result)}")
        wheels = sorted(dest.glob("*.whl"))
        extra = missing_requirements(wheels, wanted, minors, arch)
        if not extra:
            return wheels
        log(f"adding {', '.join(extra)} (needed on some of Python "
            f"{minor_text(minors[0])}-{minor_text(minors[-1])})")
        wanted += extra
    raise DependencyError(f"the requirements of {', '.join(requirements)} do not settle")


def build_cache_dir() -> Path:
    """Where resolved wheels are kept between builds: ``$DRP_PLUGIN_BUILD_CACHE``, else
    ``$XDG_CACHE_HOME/drp-plugin/build``, else ``~/.cache/drp-plugin/build``."""
    if os.environ.get("DRP_PLUGIN_BUILD_CACHE"):
        return Path(os.environ["DRP_PLUGIN_BUILD_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if xdg.startswith("/") else Path.home() / ".cache") / "drp-plugin" / "build"


#: How long a resolution is reused (seconds; 0: never): new releases count after a day.
CACHE_TTL = float(os.environ.get("DRP_PLUGIN_BUILD_CACHE_TTL", "86400"))


def _cache_key(requirements: Sequence[str], floor: tuple[int, int] | None, arch: str) -> str:
    import hashlib
    import json

    pip_env = {k: v for k, v in sorted(os.environ.items()) if k.startswith("PIP_")}
    text = json.dumps([sorted(requirements), floor, arch, pip_env, MANYLINUX, SUPPORTED_MINORS])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def resolve_floor(requirements: Sequence[str], dest: Path, floor: tuple[int, int] | None,
                  log: Log, arch: str = "x86_64") -> tuple[tuple[int, int], list[Path]]:
    """``(floor, wheels)``: the given floor, or the oldest minor pip can resolve for.

    A resolution of the same requirements is reused for :data:`CACHE_TTL` seconds
    from :func:`build_cache_dir` (pip itself is not asked again).
    """
    cached = build_cache_dir() / "wheels" / _cache_key(requirements, floor, arch)
    reused = _reuse_resolution(cached, dest, log)
    if reused is not None:
        return reused
    chosen, wheels = _resolve_floor(requirements, dest, floor, log, arch)
    if CACHE_TTL > 0:
        _keep_resolution(cached, chosen, wheels, log)
    return chosen, wheels


def _keep_resolution(cached: Path, chosen: tuple[int, int], wheels: Sequence[Path],
                     log: Log) -> None:
    """Keep ``wheels`` resolved for ``chosen`` as the entry ``cached``."""
    import shutil
    import threading

    tmp = cached.with_name(f"{cached.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    old = tmp.with_suffix(".old")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for wheel in wheels:
            shutil.copyfile(wheel, tmp / wheel.name)
        (tmp / "floor").write_text(minor_text(chosen))
        # Swapped by renames, never emptied in place: a build reading the old entry
        # sees it whole or sees its marker change (_reuse_resolution).
        with contextlib.suppress(FileNotFoundError):
            os.rename(cached, old)
        os.replace(tmp, cached)
    except OSError as exc:
        log(f"cannot keep the resolution in {cached}: {exc}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _reuse_resolution(cached: Path, dest: Path,
                      log: Log) -> tuple[tuple[int, int], list[Path]] | None:
    """The kept resolution in ``cached`` copied to ``dest``, or None when there is none
    fresh enough, or another build replaced it while it was read (builds may run at once:
    the entry is swapped whole, so a half-read one is dropped and resolved again)."""
    import shutil
    import time

    marker = cached / "floor"
    try:
        before = marker.stat()
        stamp = before.st_mtime
        if CACHE_TTL <= 0 or time.time() - stamp >= CACHE_TTL:
            return None
        major, minor_part = marker.read_text().split(".")
        wheels = []
        for wheel in sorted(cached.glob("*.whl")):
            shutil.copyfile(wheel, dest / wheel.name)
            wheels.append(dest / wheel.name)
        after = marker.stat()
        if (after.st_ino, after.st_mtime_ns) != (before.st_ino, before.st_mtime_ns):
            raise FileNotFoundError(marker)  # swapped while read
    except (OSError, ValueError):
        for wheel in dest.glob("*.whl"):
            wheel.unlink()
        return None
    log(f"reusing the packages resolved at {time.ctime(stamp)} ({cached})")
    return (int(major), int(minor_part)), wheels


def _resolve_floor(requirements: Sequence[str], dest: Path, floor: tuple[int, int] | None,
                   log: Log, arch: str = "x86_64") -> tuple[tuple[int, int], list[Path]]:
    candidates = [floor] if floor is not None else list(SUPPORTED_MINORS)
    failures = []
    for minor in candidates:
        for old in dest.glob("*.whl"):
            old.unlink()
        try:
            log(f"resolving the packages for CPython >= {minor_text(minor)} with pip")
            last = minor == candidates[-1]
            return minor, download_for(requirements, dest, minor, arch, log,
                                       None if floor is not None or last else probe_timeout())
        except DependencyError as exc:
            failures.append(str(exc))
            if floor is None:
                log(f"not for {minor_text(minor)}: trying the next minor")
    raise DependencyError(failures[-1] if len(failures) == 1 else
                          "no supported Python minor fits every requirement; the last try:\n"
                          + failures[-1])


@dataclass
class UnpackedWheel:
    """A wheel unpacked for the build: its package (files, compiled modules)."""

    wheel: Path
    name: WheelName
    package: Package
    requires: list[str] = field(default_factory=list)

    @property
    def compiled_only(self) -> list[str]:
        """The extension modules without a pure-Python fallback (archive names)."""
        return [n for n in self.package.native if _module_path(n) not in OPTIONAL_NATIVE]


def _module_path(rel: str) -> str:
    """``cryptography/hazmat/bindings/_rust.abi3.so`` -> ``cryptography/hazmat/bindings/_rust``."""
    head, _, name = rel.rpartition("/")
    stem = name.split(".", 1)[0]
    return f"{head}/{stem}" if head else stem


def module_name(rel: str) -> str:
    """The import name of an extension module file."""
    return _module_path(rel).replace("/", ".")


def unpack_wheel(wheel: Path, root: Path, required_by: str) -> UnpackedWheel:
    """Extract the importable part of ``wheel`` under ``root``; scan it for compiled files."""
    name = WheelName.parse(wheel.name)
    target = root / name.key
    pkg = Package(name=name.name, version=name.version, required_by=required_by)
    with zipfile.ZipFile(wheel) as zf:
        infos = sorted(zf.infolist(), key=lambda i: i.filename)
        for info in infos:
            rel = info.filename
            if info.is_dir():
                continue
            first, _, rest = rel.partition("/")
            if first.endswith(".data"):
                kind, _, inner = rest.partition("/")
                if kind not in ("purelib", "platlib") or not inner:
                    continue  # scripts, headers and data files are not importable
                rel = inner
            if rel.startswith("/") or ".." in rel.split("/"):
                raise DependencyError(f"{wheel.name}: refusing the member {info.filename!r}")
            file = target / rel
            if first.endswith(".dist-info"):
                if _keep_metadata(rel):
                    file.parent.mkdir(parents=True, exist_ok=True)
                    file.write_bytes(zf.read(info))
                    pkg.files[rel] = file
                continue
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(zf.read(info))
            _add_file(pkg, rel, file)
    _, requires = _requires(wheel)
    pkg.native.sort()
    return UnpackedWheel(wheel, name, pkg, requires)


def compiled_error(unpacked: Sequence[UnpackedWheel]) -> str | None:
    """The build failure for compiled-only packages without ``--native`` (or None)."""
    lines = []
    for u in unpacked:
        bad = u.compiled_only
        if bad:
            modules = ", ".join(f"{module_name(n)} ({n})" for n in bad[:4])
            more = f" and {len(bad) - 4} more" if len(bad) > 4 else ""
            lines.append(f"{u.package.name} {u.package.version} (required by "
                         f"{u.package.required_by}) has compiled modules without a pure-Python "
                         f"fallback: {modules}{more}")
    if not lines:
        return None
    return ("\n".join(lines) + "\nA built provider carries no compiled code unless asked: "
            "build with --native to carry the manylinux wheels (x86_64 and aarch64) of these "
            "packages, or use a pure-Python alternative.")
