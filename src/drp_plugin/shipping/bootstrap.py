"""Start-up of a built provider (copied into the built file as ``_drp_bootstrap.py``).

Runs on every CPython from 3.9 on (the generated ``__main__`` refuses older ones).
The generated ``__main__.py`` answers ``define`` from the definition computed at
build time when it can, installs :func:`install_pycs`, then calls :func:`run`,
which reads what the build stamped (``_drp_stamp``: version, content bundles,
asset index, compiled wheels), fills :mod:`drp_plugin.stamp`, makes the compiled
packages importable (:func:`native_paths`) and runs the provider module as
``__main__`` (like ``python -m <module>``, with ``sys.argv`` left alone so the
program name stays the built file's).

Byte code per minor: zipimport only knows ``x.pyc`` next to ``x.py``, for one
Python minor.  The build compiles every module once per supported minor into
one stored entry per cache tag (``_drp_pyc/cpython-312``: archive name ->
zlib-compressed marshalled code, so a start inflates only what it imports);
:func:`install_pycs` wraps ``zipimport._get_module_code`` (a module function with
the same signature from 3.8 to 3.13) so that a module of this file is taken from
that table.  A module the table lacks, another archive, or a
Python without the function, falls back to zipimport's own behaviour.

Compiled packages (``--native``): the file carries their manylinux wheels; on
first use the wheel that fits this host (interpreter, ABI, CPU, glibc) is
unpacked once into a cache folder named by the wheel's SHA-256, under a lock,
and that folder goes on ``sys.path``.  Later starts only check that it exists.
"""

from __future__ import annotations

import os
import sys
import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, KeysView
    from typing import Any

#: Where the assets live inside the built file (one entry, see ZipAssets).
ASSET_PACK = "_drp_assets.pack"
#: The stamp: marshalled dict of what the build computed.
STAMP = "_drp_stamp"
#: What was built (name, version, packages), readable without running the file.
MANIFEST = "_drp_build.json"
#: Byte code tables, one per cache tag.
PYC_PREFIX = "_drp_pyc/"
#: The define answer, when the provider has no validate handler.
DEFINE = "_drp_define.json"
#: How long a first run waits for another process unpacking the same wheel (seconds).
LOCK_TIMEOUT = float(os.environ.get("DRP_PLUGIN_CACHE_LOCK_TIMEOUT", "120"))


class ZipAssets:
    """``relative path -> (mode, bytes)``, read from the built file on demand.

    All assets sit in one zip entry (:data:`ASSET_PACK`), one after the other;
    the stamp holds ``path -> (mode, offset, length)``, so the number of assets
    does not count against the zip's entries.
    """

    def __init__(self, archive: str, index: dict[str, tuple[int, int, int]]) -> None:
        self.archive = archive
        self.index = dict(index)

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[str]:
        return iter(self.index)

    def __contains__(self, rel: object) -> bool:
        return rel in self.index

    def keys(self) -> KeysView[str]:
        """The asset paths (relative to the unpack folder)."""
        return self.index.keys()

    def __getitem__(self, rel: str) -> tuple[int, bytes]:
        mode, offset, length = self.index[rel]
        import zipfile

        with zipfile.ZipFile(self.archive) as zf, zf.open(ASSET_PACK) as fh:
            fh.seek(offset)
            return mode, _read_exact(fh, length, rel)

    def items(self) -> Iterator[tuple[str, tuple[int, bytes]]]:
        """``(path, (mode, bytes))`` for every asset, read once, forwards, in pack order."""
        if not self.index:
            return
        import zipfile

        with zipfile.ZipFile(self.archive) as zf, zf.open(ASSET_PACK) as fh:
            # In pack order, so a compressed entry is read once, forwards.
            for rel, (mode, offset, length) in sorted(self.index.items(), key=lambda i: i[1][1]):
                if fh.tell() != offset:
                    fh.seek(offset)
                yield rel, (mode, _read_exact(fh, length, rel))

    def values(self) -> Iterator[tuple[int, bytes]]:
        """``(mode, bytes)`` of every asset, in pack order."""
        for _, value in self.items():
            yield value

    def get(self, rel: str, default: Any = None) -> Any:
        """``(mode, bytes)`` of the asset ``rel``, or ``default`` when there is none."""
        return self[rel] if rel in self.index else default

    def __repr__(self) -> str:
        return f"ZipAssets({self.archive!r}, {len(self.index)} file(s))"


def _read_exact(fh: Any, length: int, rel: str) -> bytes:
    data = fh.read(length)
    if len(data) != length:
        raise OSError(f"the asset {rel} is truncated in this file")
    return bytes(data)


def install_pycs(archive: str, table: dict[str, bytes]) -> bool:
    """Serve the modules of ``archive`` from ``table`` (archive name -> zlib-compressed
    marshalled code, inflated when the module is imported)."""
    import marshal
    import zipimport
    import zlib

    original = getattr(zipimport, "_get_module_code", None)
    module_path = getattr(zipimport, "_get_module_path", None)
    if original is None or module_path is None or not table:
        return False

    def _get_module_code(self: Any, fullname: str) -> Any:
        if self.archive == archive:
            path = module_path(self, fullname).replace(os.sep, "/")
            for rel, package in ((path + "/__init__.py", True), (path + ".py", False)):
                data = table.get(rel)
                if data is not None:
                    return marshal.loads(zlib.decompress(data)), package, archive + os.sep + rel.replace("/", os.sep)
        return original(self, fullname)

    zipimport._get_module_code = _get_module_code  # type: ignore[attr-defined]
    return True


# -- compiled wheels ------------------------------------------------------------------------------

def _glibc() -> tuple[int, int] | None:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return None
    name, _, version = text.partition(" ")
    parts = version.split(".")
    if name != "glibc" or len(parts) < 2:
        return None
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except ValueError:
        return None


_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def tag_rank(tag: tuple[str, str, str], minor: tuple[int, int], machine: str,
             glibc: tuple[int, int] | None) -> int | None:
    """How well a wheel tag fits this host (higher is better), None if it does not."""
    py, abi, plat = tag
    mine = f"cp{minor[0]}{minor[1]}"
    if abi == mine and py == mine:
        score = 3000
    elif abi == "abi3" and py.startswith("cp3") and py[3:].isdigit() and int(py[3:]) <= minor[1]:
        score = 2000 + int(py[3:])
    elif abi == "none" and py in (mine, "py3", f"py{minor[0]}{minor[1]}"):
        score = 1000
    else:
        return None
    if plat == "any":
        return score
    if glibc is None:
        return None
    for legacy, version in _LEGACY.items():
        if plat == f"{legacy}_{machine}":
            return score + version[1] if version <= glibc else None
    if plat.startswith("manylinux_") and plat.endswith("_" + machine):
        parts = plat[len("manylinux_"):-len(machine) - 1].split("_")
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            version = (int(parts[0]), int(parts[1]))
            return score + version[1] if version <= glibc else None
    return None


def select_wheel(wheels: list[dict[str, Any]], minor: tuple[int, int] | None = None,
                 machine: str | None = None,
                 glibc: tuple[int, int] | None | bool = True) -> dict[str, Any] | None:
    """The wheel of ``wheels`` (each with ``tags``) that fits this host best, or None."""
    minor = minor or (sys.version_info[0], sys.version_info[1])
    machine = machine or os.uname().machine
    libc = _glibc() if glibc is True else glibc if glibc is not False else None
    best, best_rank = None, -1
    for wheel in wheels:
        for tag in wheel["tags"]:
            rank = tag_rank((tag[0], tag[1], tag[2]), minor, machine, libc)
            if rank is not None and rank > best_rank:
                best, best_rank = wheel, rank
    return best


def cache_root(env: Any = None) -> str:
    """The cache folder: ``$DRP_PLUGIN_CACHE_DIR``, ``$XDG_CACHE_HOME/drp-plugin``,
    ``~/.cache/drp-plugin``, else ``/tmp/drp-plugin-<uid>``."""
    env = os.environ if env is None else env
    if env.get("DRP_PLUGIN_CACHE_DIR"):
        return str(env["DRP_PLUGIN_CACHE_DIR"])
    if env.get("XDG_CACHE_HOME", "").startswith("/"):
        return os.path.join(env["XDG_CACHE_HOME"], "drp-plugin")
    home = env.get("HOME", "")
    if home.startswith("/") and home != "/" and os.path.isdir(home):
        return os.path.join(home, ".cache", "drp-plugin")
    return f"/tmp/drp-plugin-{os.getuid()}"  # noqa: S108 - checked: ours, 0700, no link


def _private_dir(path: str) -> str:
    """Create ``path`` (0700) if needed, and refuse it unless it is ours and private."""
    import stat

    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        raise OSError(f"cannot use the cache folder {path}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(f"the cache folder {path} is a link or not a folder")
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise OSError(f"the cache folder {path} is not private (owner uid {st.st_uid}, "
                      f"mode {stat.S_IMODE(st.st_mode):o}): set DRP_PLUGIN_CACHE_DIR")
    return path


def _lock(path: str, timeout: float) -> int:
    import fcntl
    import time

    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise OSError(f"another process holds {path} for over {timeout:g} s "
                              "(DRP_PLUGIN_CACHE_LOCK_TIMEOUT)") from None
            time.sleep(0.05)


def _unpack_wheel(archive: str, entry: str, sha256: str, folder: str) -> None:
    import hashlib
    import io
    import zipfile

    with zipfile.ZipFile(archive) as outer:
        data = outer.read(entry)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise OSError(f"{entry} in {archive} does not match its recorded SHA-256")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            name = info.filename
            first, _, rest = name.partition("/")
            if first.endswith(".data"):
                kind, _, inner = rest.partition("/")
                if kind not in ("purelib", "platlib") or not inner:
                    continue
                name = inner
            parts = name.split("/")
            if name.startswith("/") or ".." in parts or "\\" in name or info.is_dir():
                continue
            target = os.path.join(folder, *parts)
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(zf.read(info))
            os.chmod(target, 0o500 if name.endswith(".so") or ".so." in name else 0o400)


def native_paths(archive: str, native: list[dict[str, Any]], root: str | None = None) -> list[str]:
    """Unpack (once) the wheels of ``native`` that fit this host; their folders."""
    if not native:
        return []
    base = _private_dir(os.path.join(_private_dir(root or cache_root()), "native"))
    paths = []
    for package in native:
        wheel = select_wheel(package["wheels"])
        if wheel is None:
            raise OSError(
                f"{package['name']} has no wheel in this file for CPython "
                f"{sys.version_info[0]}.{sys.version_info[1]} on {os.uname().machine} "
                f"(glibc {'.'.join(map(str, _glibc() or ())) or 'absent'}); carried: "
                + ", ".join(w["entry"].rsplit("/", 1)[-1] for w in package["wheels"]))
        folder = os.path.join(base, wheel["sha256"])
        if not os.path.isfile(os.path.join(folder, ".complete")):
            fd = _lock(folder + ".lock", LOCK_TIMEOUT)
            try:
                if not os.path.isfile(os.path.join(folder, ".complete")):
                    import shutil
                    import tempfile

                    if os.path.lexists(folder):
                        shutil.rmtree(folder)  # an earlier run died half-way
                    tmp = tempfile.mkdtemp(prefix=".unpack-", dir=base)
                    try:
                        _unpack_wheel(archive, wheel["entry"], wheel["sha256"], tmp)
                        with open(os.path.join(tmp, ".complete"), "w") as fh:
                            fh.write(wheel["entry"] + "\n")
                        os.rename(tmp, folder)
                    except BaseException:
                        shutil.rmtree(tmp, ignore_errors=True)
                        raise
            finally:
                os.close(fd)
        paths.append(folder)
    return paths


def run(loader: Any, main_file: str, module: str) -> None:
    """Stamp the build-time data into :mod:`drp_plugin.stamp`, then run ``module``.

    ``loader`` and ``main_file`` are the ``__loader__`` (a ``zipimporter``) and
    ``__file__`` of the generated ``__main__``.  The stamp holds ``content`` (the
    provider's ``content`` value -> its bundle), ``archive_content`` (a content
    folder given as an absolute path inside the provider's folder, computed from
    ``__file__``, by its path relative to that folder: here it is found under the
    built file's path), the asset index and the compiled wheels.
    """
    import marshal

    # zipimport keys its entries on its own spelling of the file's path (``sys.path[0]``:
    # made absolute, but ``./`` and ``../`` left in), so it reads with that spelling;
    # files are opened by the normalised absolute path (the same whatever the cwd later).
    spelled = getattr(loader, "archive", None) or os.path.dirname(main_file)
    archive = os.path.abspath(spelled)
    stamp_data: dict[str, Any] = marshal.loads(loader.get_data(spelled + os.sep + STAMP))
    try:
        paths = native_paths(archive, stamp_data.get("native") or [])
    except OSError as exc:
        sys.stderr.write(f"{archive}: {exc}\n")
        raise SystemExit(1) from None
    sys.path[1:1] = paths
    try:
        code = loader.get_code(module)
        origin = loader.get_filename(module)
    except ImportError:
        code = None
    if code is None:
        sys.stderr.write(f"{archive}: the provider module {module} is missing from this file\n")
        raise SystemExit(1)

    from drp_plugin import stamp

    bundles = dict(stamp_data["content"])
    for rel, text in stamp_data["archive_content"].items():
        for root in {spelled, archive, os.path.realpath(archive)}:
            bundles.setdefault(os.path.join(root, rel), text)
    stamp.VERSION = stamp_data["version"]
    stamp.CONTENT = bundles
    stamp.ASSETS = ZipAssets(archive, stamp_data["assets"])  # type: ignore[assignment]  # read-only mapping, duck-typed: no typing import at start

    import importlib.machinery

    main = types.ModuleType("__main__")
    main.__file__ = origin
    main.__loader__ = loader
    main.__spec__ = importlib.machinery.ModuleSpec(module, loader, origin=origin)
    main.__package__ = ""
    main.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = main
    exec(code, main.__dict__)  # noqa: S102 - the provider module, from this file
