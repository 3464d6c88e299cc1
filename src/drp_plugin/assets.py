"""Embedded assets: files a provider hands to DRP's file server through ``unpack``.

From source they are read from the provider's folder; in a built file they come
from the stamp (:mod:`drp_plugin.stamp`).  Every entry is checked: nothing may land
outside the target directory (absolute paths, ``..`` and links are refused).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from . import stamp
from .errors import AssetError


def safe_relpath(name: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside its root, or :class:`AssetError`."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or name.startswith("\\"):
        raise AssetError(f"asset path {name!r} is absolute or empty")
    if any(part in ("..", "") for part in path.parts) or ".." in name.split("/"):
        raise AssetError(f"asset path {name!r} leaves the unpack directory")
    return path


def collect(base_dir: Path, assets: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[str, int, bytes]]:
    """``(relative path, mode, data)`` for every declared asset.

    A file lands under its own name; a folder's contents land at the top of the
    unpack directory, keeping their relative paths.
    """
    base = base_dir.resolve()
    for entry in assets:
        root = Path(base, entry)
        if root.is_symlink():
            raise AssetError(f"asset {entry} is a link")
        if root.is_file():
            files = [(root.name, root)]
        elif root.is_dir():
            files = [(p.relative_to(root).as_posix(), p) for p in sorted(root.rglob("*"))]
        else:
            raise AssetError(f"asset {entry} does not exist in {base}")
        for rel, file in files:
            if file.is_symlink():
                raise AssetError(f"asset {file} is a link")
            if file.is_file():
                safe_relpath(rel)
                yield rel, stat.S_IMODE(file.stat().st_mode), file.read_bytes()


def _write(directory: Path, rel: str, mode: int, data: bytes) -> None:
    path = safe_relpath(rel)
    target = directory.joinpath(*path.parts)
    # Refuse to follow links planted in the target tree.
    cur = directory
    for part in path.parts[:-1]:
        cur = cur / part
        if cur.is_symlink():
            raise AssetError(f"{cur} is a link: refusing to write {rel} through it")
        cur.mkdir(exist_ok=True)
    if target.is_symlink():
        raise AssetError(f"{target} is a link: refusing to overwrite it")
    # A fresh name made with O_EXCL in the target's own folder: nothing planted there (a
    # hard link to another file, a FIFO) can be written through or block the unpack.
    import tempfile

    fd, tmp_name = tempfile.mkstemp(prefix=".drp-asset-", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode & 0o777 or 0o644)
        os.replace(tmp, target)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def write_assets(base_dir: Path, assets: Iterable[str | os.PathLike[str]], directory: Path) -> int:
    """Write the assets into ``directory`` (idempotent); returns the number of files."""
    directory.mkdir(parents=True, exist_ok=True)
    entries: Iterable[tuple[str, int, bytes]]
    if stamp.ASSETS is not None:
        entries = [(rel, int(mode), data) for rel, (mode, data) in stamp.ASSETS.items()]
    else:
        entries = list(collect(base_dir, assets))
    count = 0
    for rel, mode, data in entries:
        _write(directory, rel, mode, data)
        count += 1
    return count
