"""``/api/v3/files``: blobs under ``<webroot>/files``, also served by the file server.

Uploads are streamed to a temporary file next to their target (never held whole
in memory) and renamed into place.  Replies follow the recorded drpcli outputs of
the provision repository (``cli/test-data/output/TestFilesCli``, the commit before
"Get rid of most CLI unit tests"): upload ``{"Path": "/greg", "Size": 1307}``
(``models.BlobInfo`` has no JSON tags), a missing file to delete ``Unable to
delete``, a file where a directory is needed ``Cannot create directory /greg``.
Files carry ``ETag: "SHA256:<hex>"`` and ``X-DRP-SHA256SUM`` (api/client.go
``GetBlob`` sends ``If-None-Match: "SHA256:<sum>"`` and takes 304 as up to date;
``GetBlobSum`` reads either header).

A sum is computed in a worker thread, never on the event loop (an ISO is gigabytes:
hashing one took 4.9 s, during which nothing else was answered), and kept by
:class:`FileSums` under the file's device, inode, size, mtime and ctime, so it is
computed again only when the file changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import posixpath
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from ..errors import PluginError

if TYPE_CHECKING:
    from .settings import Limits

_CHUNK = 1 << 16


def _locate(root: Path, relative: str) -> tuple[Path, str]:
    """The file for ``relative`` (never outside ``root``) and its API key ``/a/b``."""
    key = posixpath.normpath("/" + relative.strip("/"))
    return root.joinpath(*[p for p in key.split("/") if p]), key


def _error(message: str, code: int, key: str, method: str) -> PluginError:
    return PluginError(message, code=code, model="files", key=key, type=method)


class HashStopped(Exception):
    """A file's hashing was stopped (the stand-in is stopping)."""


def sha256_file(path: Path, stop: threading.Event | None = None) -> str:
    """The hex SHA-256 of a file, read in chunks; :class:`HashStopped` once ``stop`` is
    set (checked between chunks)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            if stop is not None and stop.is_set():
                raise HashStopped(str(path))
            digest.update(block)
    return digest.hexdigest()


_Key = tuple[int, int, int, int, int]


def _identity(path: Path) -> _Key:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class FileSums:
    """SHA-256 sums of files, hashed in a worker thread and kept for ``capacity`` files
    (the least recently used go first) by device, inode, size, mtime and ctime.

    Requests for a file being hashed share the one computation; one that gives up
    (its client went away) does not cancel it for the others.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        #: Files hashed so far (requests answered from the cache are not counted).
        self.computed = 0
        self._sums: OrderedDict[_Key, str] = OrderedDict()
        self._running: dict[_Key, asyncio.Task[str]] = {}
        self._stop = threading.Event()

    def close(self) -> None:
        """Stop the hashing under way (its requests fail): the worker threads end within
        one chunk rather than reading a whole ISO at shutdown."""
        self._stop.set()

    def _remember(self, key: _Key, digest: str) -> None:
        if self.capacity <= 0:
            return
        self._sums[key] = digest
        self._sums.move_to_end(key)
        while len(self._sums) > self.capacity:
            self._sums.popitem(last=False)

    async def _hash(self, path: Path, key: _Key) -> str:
        try:
            digest = await asyncio.to_thread(sha256_file, path, self._stop)
            self.computed += 1
            # a file written while it was hashed has no sum worth keeping
            if await asyncio.to_thread(_identity, path) == key:
                self._remember(key, digest)
            return digest
        finally:
            self._running.pop(key, None)

    async def sha256(self, path: Path) -> str:
        """The hex SHA-256 of the file at ``path`` (``OSError`` when it cannot be read)."""
        key = _identity(path)
        known = self._sums.get(key)
        if known is not None:
            self._sums.move_to_end(key)
            return known
        task = self._running.get(key)
        if task is None:
            task = asyncio.create_task(self._hash(path, key))
            # retrieved here too, in case every request waiting for it went away
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._running[key] = task
        return await asyncio.shield(task)


async def receive(request: web.Request, directory: Path, limit: int, model: str,
                  key: str) -> tuple[Path, int]:
    """Stream the request body into a new file in ``directory``: ``(path, size)``.

    More than ``limit`` bytes: 413, and nothing is kept.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=".upload-")
    path = Path(name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for block in request.content.iter_chunked(_CHUNK):
                size += len(block)
                if size > limit:
                    raise PluginError(f"Upload larger than {limit} bytes", code=413,
                                      model=model, key=key, type=request.method)
                out.write(block)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, size


async def _blob_headers(path: Path, sums: FileSums) -> dict[str, str]:
    digest = await sums.sha256(path)
    return {"ETag": f'"SHA256:{digest}"', "X-DRP-SHA256SUM": digest,
            "Content-Type": "application/octet-stream"}


async def handle(request: web.Request, webroot: Path, relative: str,
                 limits: Limits, sums: FileSums) -> web.StreamResponse:
    """Serve one ``files`` request: list, GET/HEAD, POST (octet-stream) or DELETE; the
    sums of GET/HEAD come from ``sums``."""
    root = webroot / "files"
    method = request.method
    if not relative.strip("/") and method == "GET":
        path, key = _locate(root, request.query.get("path", "/"))
        if not path.is_dir():
            raise _error("Not a directory", 404, key, method)
        names = sorted(e.name + ("/" if e.is_dir() else "") for e in path.iterdir())
        return web.json_response(names)
    path, key = _locate(root, relative)
    if method in ("GET", "HEAD"):
        if not path.is_file():
            raise _error("Not a regular file", 404, key, method)
        try:
            headers = await _blob_headers(path, sums)
        except FileNotFoundError:  # removed meanwhile
            raise _error("Not a regular file", 404, key, method) from None
        if request.headers.get("If-None-Match", "").strip() == headers["ETag"]:
            return web.Response(status=304, headers={k: v for k, v in headers.items()
                                                     if k != "Content-Type"})
        if method == "HEAD":
            return web.Response(status=200, headers=headers)
        return web.FileResponse(path, headers=headers)
    if method == "POST":
        parent_key = posixpath.dirname(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise _error(f"Cannot create directory {parent_key}", 409, key, method) from None
        if path.is_dir():
            raise _error(f"Cannot create directory {key}", 409, key, method)
        tmp, size = await receive(request, path.parent, limits.max_upload, "files", key)
        os.replace(tmp, path)
        return web.json_response({"Path": key, "Size": size}, status=201)
    if key == "/":
        raise _error("Unable to delete", 404, key, method)
    try:
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()
    except OSError:
        raise _error("Unable to delete", 404, key, method) from None
    # api/client.go R.Do refuses a 2xx reply that is not application/json
    return web.json_response(None)
