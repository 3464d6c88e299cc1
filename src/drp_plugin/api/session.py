"""Where the API is and how to authenticate: settings and user-token sessions."""

from __future__ import annotations

import base64
import os
import ssl
import stat
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from .core import API_PATH, APIError, Flow, Request, Retry, json_of, segment

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self: 3.11; providers run on 3.9

DEFAULT_ENDPOINT = "https://127.0.0.1:8092"
#: No overall deadline (DRP actions may run long, like the Go client); 10 s to connect.
DEFAULT_TIMEOUT = httpx.Timeout(None, connect=10.0)
#: Lifetime asked for user tokens, in seconds (as the Go ``UserSession``).
DEFAULT_TOKEN_TTL = 600


class _FromEnv:
    def __repr__(self) -> str:
        return "FROM_ENV"


#: Default of ``local_proxy``: take ``RS_LOCAL_PROXY`` from the environment.
FROM_ENV: Any = _FromEnv()


def local_proxy_from_env() -> str | None:
    """``RS_LOCAL_PROXY`` when it names an existing unix socket, else ``None``."""
    path = os.environ.get("RS_LOCAL_PROXY", "")
    if not path:
        return None
    try:
        return path if stat.S_ISSOCK(os.stat(path).st_mode) else None
    except OSError:
        return None


def ca_file_from_env() -> str | None:
    """``RS_CA_FILE``: the CA bundle (PEM) to verify DRP's certificate with, if set."""
    return os.environ.get("RS_CA_FILE", "").strip() or None


def ssl_context(verify: bool | str) -> ssl.SSLContext:
    """TLS settings: ``False`` accepts any certificate (DRP's are self-signed),
    ``True`` verifies against the system CAs, a path against that CA bundle
    (certificate and host name both checked)."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if verify is True:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"CA file {verify}: {exc.strerror or exc}") from None


class TokenSession:
    """A user's token, asked with HTTP Basic auth and renewed after 3/4 of its TTL."""

    def __init__(
        self,
        username: str,
        password: str,
        ttl: int = DEFAULT_TOKEN_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.username = username
        self._password = password
        self.ttl = ttl
        self._clock = clock
        self.token: str | None = None
        self.info: Any = None
        self._renew_at = 0.0
        self._asked_at = 0.0

    @property
    def due(self) -> bool:
        """Whether a (new) token must be fetched before the next request."""
        return self.token is None or self._clock() >= self._renew_at

    def request(self) -> Request:
        """``GET /users/<name>/token?ttl=N`` with Basic auth."""
        self._asked_at = self._clock()
        basic = base64.b64encode(f"{self.username}:{self._password}".encode()).decode()
        return Request(
            "GET",
            f"/users/{segment(self.username)}/token",
            params=(("ttl", str(self.ttl)),),
            authenticate=False,
            headers=(("Authorization", f"Basic {basic}"),),
            model="users",
            key=self.username,
        )

    def renew(self) -> Flow[None]:
        """Fetch a new token (a flow: run it with the client's ``_run``)."""
        request = self.request()
        response = yield request
        answer = json_of(response)
        if not isinstance(answer, dict) or not isinstance(answer.get("Token"), str):
            raise APIError("token answer has no Token", code=response.status_code,
                           model=request.model, key=request.key, type="CLIENT_ERROR")
        self.accept(answer)

    def accept(self, answer: dict[str, Any]) -> None:
        """Take the token from the server's ``{"Token": ..., "Info": ...}`` answer."""
        self.token = answer["Token"]
        self.info = answer.get("Info")
        self._renew_at = self._asked_at + 0.75 * self.ttl

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values never to show in a message or a log (token, password)."""
        return tuple(s for s in (self.token, self._password) if s)

    def __repr__(self) -> str:
        return f"TokenSession(username={self.username!r}, ttl={self.ttl})"


class Settings:
    """Endpoint, credentials, TLS and retry settings of one client."""

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        token_ttl: int = DEFAULT_TOKEN_TTL,
        verify: bool | str | None = None,
        local_proxy: str | None = FROM_ENV,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
    ) -> None:
        self.endpoint = (endpoint or os.environ.get("RS_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        self.session: TokenSession | None = None
        if username is not None:
            self.session = TokenSession(username, password or "", token_ttl)
            token = None
        elif token is None:
            token = os.environ.get("RS_TOKEN") or None
        if self.session is None and not token:
            raise ValueError("no API credentials: give a token or a username (or set RS_TOKEN)")
        self._token = token
        #: ``False``: any certificate; ``True``: the system CAs; a path: that CA bundle.
        #: ``None`` (the default) takes ``RS_CA_FILE`` when set, else ``False``.
        self.verify: bool | str = (ca_file_from_env() or False) if verify is None else verify
        self._tls: ssl.SSLContext | None = None
        if self.verify is not False:
            self._tls = ssl_context(self.verify)  # a bad CA file fails here, not at first use
        self.local_proxy = local_proxy_from_env() if local_proxy is FROM_ENV else local_proxy
        self.timeout = timeout
        self.retry = retry or Retry()

    @property
    def base_url(self) -> str:
        """Where requests go: the endpoint, or ``http://unix`` through the local proxy."""
        return "http://unix" if self.local_proxy else self.endpoint

    @property
    def websocket_url(self) -> str:
        """URL of the event stream."""
        base = self.base_url
        scheme, rest = base.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{API_PATH}/ws"

    @property
    def static_token(self) -> str | None:
        """The token given by the user (``RS_TOKEN``), or ``None`` when logging in."""
        return self._token

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in errors or logs."""
        extra = self.session.secrets if self.session else ()
        return tuple(s for s in (self._token, *extra) if s)

    def tls(self) -> ssl.SSLContext:
        """The TLS context of the API and of the event stream (built once)."""
        if self._tls is None:
            self._tls = ssl_context(self.verify)
        return self._tls

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments shared by ``httpx.Client`` and ``httpx.AsyncClient``."""
        return {"base_url": self.base_url, "timeout": self.timeout, "follow_redirects": False}

    def transport_options(self) -> dict[str, Any]:
        """Keyword arguments of ``httpx.(Async)HTTPTransport``."""
        if self.local_proxy:
            return {"uds": self.local_proxy}
        if self.endpoint.startswith("https:"):
            return {"verify": self.tls()}
        return {}

    def __repr__(self) -> str:
        who = f"username={self.session.username!r}" if self.session else "token=<hidden>"
        proxy = f", local_proxy={self.local_proxy!r}" if self.local_proxy else ""
        return f"Settings(endpoint={self.endpoint!r}, {who}{proxy})"


class ClientBase:
    """What both clients share: their settings, from arguments or the environment.

    With no arguments a client is built from ``RS_ENDPOINT`` / ``RS_TOKEN`` (and
    ``RS_LOCAL_PROXY``); or give ``endpoint`` + ``token``, or ``username`` +
    ``password`` for a user session whose token is renewed after 3/4 of its TTL.
    TLS certificates are not verified unless ``verify`` is ``True`` or a CA file
    (``RS_CA_FILE`` when ``verify`` is not given).
    ``transport`` replaces the httpx transport (sync or async, as the client).
    """

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        token_ttl: int = DEFAULT_TOKEN_TTL,
        verify: bool | str | None = None,
        local_proxy: str | None = FROM_ENV,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = Settings(
            endpoint, token, username=username, password=password, token_ttl=token_ttl,
            verify=verify, local_proxy=local_proxy, timeout=timeout, retry=retry,
        )
        self._open(transport)

    def _open(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> None:
        """Create the httpx client."""
        raise NotImplementedError

    @classmethod
    def from_env(cls, **options: Any) -> Self:
        """A client for ``RS_ENDPOINT`` with ``RS_TOKEN`` (what DRP gives a plugin)."""
        return cls(**options)

    @property
    def endpoint(self) -> str:
        """The API endpoint, e.g. ``https://127.0.0.1:8092``."""
        return self.settings.endpoint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings!r})"
