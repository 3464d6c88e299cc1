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
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
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


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def _blob_headers(path: Path) -> dict[str, str]:
    digest = sha256_file(path)
    return {"ETag": f'"SHA256:{digest}"', "X-DRP-SHA256SUM": digest,
            "Content-Type": "application/octet-stream"}


async def handle(request: web.Request, webroot: Path, relative: str,
                 limits: Limits) -> web.StreamResponse:
    """Serve one ``files`` request: list, GET/HEAD, POST (octet-stream) or DELETE."""
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
        headers = _blob_headers(path)
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
