"""``/api/v3/files``: blobs under ``<webroot>/files``, also served by the file server."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from aiohttp import web

from ..errors import PluginError


def _locate(root: Path, relative: str) -> tuple[Path, str]:
    """The file for ``relative`` (never outside ``root``) and its API key ``/a/b``."""
    key = posixpath.normpath("/" + relative.strip("/"))
    return root.joinpath(*[p for p in key.split("/") if p]), key


def _error(message: str, code: int, key: str, method: str) -> PluginError:
    return PluginError(message, code=code, model="files", key=key, type=method)


async def handle(request: web.Request, webroot: Path, relative: str) -> web.StreamResponse:
    """Serve one ``files`` request: list, GET, POST (octet-stream) or DELETE."""
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
        return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})
    if method == "POST":
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise _error(f"Failed to ensure final directory for {path.name} exists", 409,
                         key, method) from None
        if path.is_dir():
            raise _error(f"{key} is a directory", 409, key, method)
        data = await request.read()
        tmp = path.with_name(f".{path.name}.upload")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return web.json_response({"path": key, "size": len(data)}, status=201)
    if method == "DELETE":
        if key == "/":
            raise _error("Unable to delete", 404, key, method)
        try:
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()
        except OSError:
            raise _error("Unable to delete", 404, key, method) from None
        return web.Response(status=204)
    raise _error(f"Method {method} not allowed on files", 405, key, method)
