"""Talking to DRP's ``plugin_providers`` API: upload, list, delete.

Where and who, like ``drpcli``: ``--endpoint`` or ``RS_ENDPOINT`` (default
``https://127.0.0.1:8092``); ``--token`` or ``RS_TOKEN`` (a bearer token), else
``--username``/``--password``, ``RS_USERNAME``/``RS_PASSWORD`` or ``RS_KEY``
(``user:password``), else drpcli's default user ``rocketskates``.  TLS
certificates are not verified unless asked (DRP's are self-signed).

Every failure becomes an :class:`UploadError` whose message says what happened
(authentication, TLS, connection, the server's ``models.Error``), never a
traceback.  Requests go through :class:`drp_plugin.api.Client` (its
``upload_plugin_provider`` streams the file with a progress hook), so the
endpoint defaults, authentication and error bodies are the API client's.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ..errors import PluginError
from ..errors import UploadError as UploadError  # re-exported: the tree lives in errors
from .bootstrap import MANIFEST

if TYPE_CHECKING:
    from drp_plugin.api import Client

DEFAULT_ENDPOINT = "https://127.0.0.1:8092"
DEFAULT_USERNAME = "rocketskates"
DEFAULT_PASSWORD = "r0cketsk8ts"  # noqa: S105 - drpcli's documented default, not a secret
API_PATH = "/api/v3"
CHUNK = 256 * 1024




@dataclass(frozen=True)
class Connection:
    """Where the DRP API is and how to authenticate."""

    endpoint: str
    token: str | None = None
    username: str | None = None
    password: str | None = None
    verify: bool | str = False  # a str: the CA bundle to verify with

    @classmethod
    def resolve(
        cls,
        endpoint: str | None = None,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify: bool | str = False,
        env: Mapping[str, str] | None = None,
    ) -> Connection:
        """Options first, then ``RS_*`` variables, then drpcli's defaults."""
        env = os.environ if env is None else env
        endpoint = (endpoint or env.get("RS_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        if not endpoint.startswith(("http://", "https://")):
            raise UploadError(f"the endpoint {endpoint!r} must start with https:// or http://")
        if token:
            return cls(endpoint, token=token, verify=verify)
        if username or password:
            user, pw = _credentials(env)
            return cls(endpoint, username=username or user, password=password or pw, verify=verify)
        if env.get("RS_TOKEN"):
            return cls(endpoint, token=env["RS_TOKEN"], verify=verify)
        user, pw = _credentials(env)
        return cls(endpoint, username=user, password=pw, verify=verify)

    @property
    def who(self) -> str:
        """Who is asking, for error messages: ``a token`` or ``user <name>`` (never a secret)."""
        return "a token" if self.token else f"user {self.username}"

    def auth_headers(self) -> dict[str, str]:
        """The ``Authorization`` header: ``Bearer`` with a token, else ``Basic`` user:password."""
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        pair = f"{self.username or ''}:{self.password or ''}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    def client(self) -> Client:
        """A :class:`drp_plugin.api.Client` for this endpoint and these credentials."""
        from drp_plugin.api import Client
        from drp_plugin.api.core import Retry

        credentials: dict[str, Any] = (
            {"token": self.token} if self.token
            else {"username": self.username or DEFAULT_USERNAME, "password": self.password or ""})
        try:
            return Client(self.endpoint, verify=self.verify, local_proxy=None,
                          timeout=httpx.Timeout(300.0, connect=15.0),
                          retry=Retry(attempts=1), **credentials)
        except ValueError as exc:  # an unreadable CA file (--ca-file, RS_CA_FILE)
            raise UploadError(str(exc)) from None


def _credentials(env: Mapping[str, str]) -> tuple[str, str]:
    user, password = DEFAULT_USERNAME, DEFAULT_PASSWORD
    key = env.get("RS_KEY", "")
    if key:
        k_user, sep, k_password = key.partition(":")
        if not sep or not k_user or not k_password:
            raise UploadError("RS_KEY must be username:password")
        user, password = k_user, k_password
    return env.get("RS_USERNAME") or user, env.get("RS_PASSWORD") or password


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
    from drp_plugin.api.core import APIConnectionError

    try:
        with conn.client() as client:
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
