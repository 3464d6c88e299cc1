"""Talking to DRP's ``plugin_providers`` API: upload, list, delete.

Where and who: a :class:`~drp_plugin.shipping.connection.Connection`, drpcli's
connection options as every ``drp-plugin`` command reads them
(:mod:`drp_plugin.shipping.connection`).

Every failure becomes an :class:`~drp_plugin.errors.UploadError` whose message
says what happened (authentication, TLS, connection, the server's
``models.Error``), never a traceback.  Requests go through
:class:`drp_plugin.api.Client` (its ``upload_plugin_provider`` streams the file
with a progress hook), so authentication and error bodies are the API client's.
"""

from __future__ import annotations

import json
import ssl
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ..errors import PluginError, UploadError
from .bootstrap import MANIFEST
from .connection import Connection

if TYPE_CHECKING:
    from drp_plugin.api import Client

#: Bounds of one call: an upload of a large file may take minutes; 15 s to connect.
TIMEOUT = httpx.Timeout(300.0, connect=15.0)


# -- errors --------------------------------------------------------------------------------------

def error_text(body: Any) -> str | None:
    """The text form of a ``models.Error`` body (``str`` of :class:`PluginError`)."""
    if not isinstance(body, dict) or "Messages" not in body and "Type" not in body:
        return None
    return str(PluginError.from_dict(body))


def _api_error(what: str, exc: PluginError, conn: Connection) -> UploadError:
    status = getattr(exc, "http_status", None) or exc.code
    text = str(exc)
    if status == 401:
        hint = ("check --token/RS_TOKEN" if conn.token
                else "check --username/--password, RS_USERNAME/RS_PASSWORD or RS_KEY")
        return UploadError(f"{what}: authentication failed (401) as {conn.who}: {text}; {hint}")
    if status == 403:
        return UploadError(f"{what}: forbidden (403) for {conn.who}: {text}")
    return UploadError(f"{what}: the server answered {status}: {text}")


def _is_tls_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLError):
            return True
        cur = cur.__cause__ or cur.__context__
    text = str(exc)
    return "SSL" in text or "CERTIFICATE" in text.upper() or "TLS" in text


def _transport_error(what: str, exc: httpx.TransportError, conn: Connection) -> UploadError:
    detail = str(exc) or type(exc).__name__
    if _is_tls_error(exc):
        hint = " (the certificate is not trusted: use --no-verify)" if conn.verify else ""
        return UploadError(f"{what}: TLS failure talking to {conn.endpoint}: {detail}{hint}")
    if isinstance(exc, httpx.TimeoutException):
        return UploadError(f"{what}: {conn.endpoint} did not answer in time ({detail})")
    if isinstance(exc, httpx.ConnectError):
        if "refused" in detail.lower():
            return UploadError(
                f"{what}: cannot connect to {conn.endpoint}: connection refused "
                "(is dr-provision running there? set --endpoint or RS_ENDPOINT)"
            )
        return UploadError(f"{what}: cannot connect to {conn.endpoint}: {detail}")
    return UploadError(f"{what}: talking to {conn.endpoint} failed: {detail}")


def _call(conn: Connection, what: str, operation: Callable[[Client], Any]) -> Any:
    from drp_plugin.api.core import APIConnectionError, Retry

    try:  # an unreadable CA file is the ToolError of conn.client, left as it is
        with conn.client(local_proxy=None, timeout=TIMEOUT, retry=Retry(attempts=1)) as client:
            return operation(client)
    except APIConnectionError as exc:
        cause = exc.__cause__
        if isinstance(cause, httpx.TransportError):
            raise _transport_error(what, cause, conn) from None
        raise UploadError(f"{what}: talking to {conn.endpoint} failed: {exc}") from None
    except PluginError as exc:
        raise _api_error(what, exc, conn) from None
    except httpx.TransportError as exc:
        raise _transport_error(what, exc, conn) from None
    except (httpx.InvalidURL, ValueError) as exc:
        raise UploadError(f"{what}: invalid endpoint {conn.endpoint}: {exc}") from None


# -- the operations ------------------------------------------------------------------------------

def provider_name_of(path: Path) -> str:
    """The provider name a file is uploaded as: a built file's own name, else the file name."""
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read(MANIFEST))
        name = manifest.get("name")
        if isinstance(name, str) and name:
            return name
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        pass
    return path.name


def upload(
    conn: Connection,
    path: Path,
    name: str,
    *,
    replace_writable: bool = False,
    advance: Callable[[int], None] = lambda n: None,
) -> Any:
    """``POST /plugin_providers/<name>`` with the file as ``application/octet-stream``.

    Returns the server's reply (``{"path": ..., "size": N}``).  ``advance`` is
    called with the size of every chunk sent.
    """
    if not name or "/" in name:
        raise UploadError(f"invalid provider name {name!r}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UploadError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UploadError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) != size:
        raise UploadError(f"{path} changed while it was read")
    return _call(conn, f"upload of {path.name} as {name}",
                 lambda client: client.upload_plugin_provider(
                     name, data, replace_writable=replace_writable, progress=advance))


def list_providers(conn: Connection) -> list[dict[str, Any]]:
    """``GET /plugin_providers``: the providers DRP knows, sorted by name."""
    result = _call(conn, "listing the plugin providers",
                   lambda client: client.list("plugin_providers"))
    if not isinstance(result, list):
        raise UploadError(f"listing the plugin providers: unexpected reply {str(result)[:200]}")
    return sorted((p for p in result if isinstance(p, dict)), key=lambda p: str(p.get("Name", "")))


def delete_provider(conn: Connection, name: str) -> Any:
    """``DELETE /plugin_providers/<name>``."""
    return _call(conn, f"deleting the plugin provider {name}",
                 lambda client: client.delete("plugin_providers", name))
