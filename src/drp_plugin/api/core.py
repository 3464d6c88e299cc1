"""The I/O-free core shared by the sync and async clients.

Every API call is written once, as a generator that yields ``Request``
descriptions and receives the ``httpx.Response`` to each (a "flow", in
``operations``). ``Client`` runs a flow with blocking I/O and ``AsyncClient`` as a
coroutine; each has one real method per flow, with the flow's parameters.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from ..errors import PluginError
from .patch import UNSET

API_PATH = "/api/v3"

T = TypeVar("T")

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def segment(value: str) -> str:
    """``value`` escaped as one URL path segment (``/`` too; ``:`` stays readable)."""
    return quote(value, safe=":@")


def subpath(value: str) -> str:
    """``value`` escaped as a path whose ``/`` separate segments (file paths, param names)."""
    return quote(value.lstrip("/"), safe=":@/")


@dataclass(frozen=True)
class Request:
    """One API request, relative to ``/api/v3``; ``path`` is already escaped."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = field(default=None, repr=False)
    content_type: str | None = None
    accept: str = "application/json"
    #: Error statuses the flow handles itself instead of raising.
    allow: frozenset[int] = frozenset()
    #: Retry transport failures after the request may have reached the server.
    replayable: bool | None = None
    #: Send the bearer token (off for the token request, which uses ``headers``).
    authenticate: bool = True
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold credentials
    #: ``Model`` and ``Key`` given to errors that carry none.
    model: str = ""
    key: str = ""
    #: Called with the size of each chunk of ``body`` as it is sent (a progress bar).
    progress: Callable[[int], None] | None = field(default=None, repr=False, compare=False)

    @property
    def idempotent(self) -> bool:
        """Whether the request may be sent again after a network failure."""
        if self.replayable is not None:
            return self.replayable
        return self.method in _IDEMPOTENT


#: Chunk size of a body sent with a progress hook (bytes).
PROGRESS_CHUNK = 256 * 1024


def _chunks(body: bytes, progress: Callable[[int], None]) -> Iterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), PROGRESS_CHUNK):
        chunk = bytes(view[start:start + PROGRESS_CHUNK])
        yield chunk
        progress(len(chunk))


async def _achunks(body: bytes, progress: Callable[[int], None]) -> AsyncIterator[bytes]:
    for chunk in _chunks(body, progress):
        yield chunk


def json_request(method: str, path: str, value: Any = UNSET, **options: Any) -> Request:
    """A request whose body, if given, is ``value`` as JSON (``None`` is ``null``)."""
    if value is UNSET:
        return Request(method, path, **options)
    body = json.dumps(value, separators=(",", ":")).encode()
    return Request(method, path, body=body, content_type="application/json", **options)


def bytes_request(
    method: str,
    path: str,
    data: bytes | str,
    content_type: str = "application/octet-stream",
    **options: Any,
) -> Request:
    """A request with a raw body (text is sent as UTF-8), octet-stream by default."""
    body = data.encode() if isinstance(data, str) else bytes(data)
    return Request(method, path, body=body, content_type=content_type, **options)


def json_of(response: httpx.Response) -> Any:
    """The JSON body of ``response``, ``None`` when it is empty."""
    if not response.content.strip():
        return None
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise APIError(
            f"{response.request.method} {response.request.url.path}: answer is not JSON: {exc}",
            code=response.status_code, type="CLIENT_ERROR", http_status=response.status_code,
        ) from None


# -- errors -----------------------------------------------------------------------------------


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


class APIError(PluginError):
    """An error answer of the DRP API: its ``models.Error`` (``code`` = ``Code``).

    ``http_status`` is the HTTP status of the answer (``None`` when there was none).
    """

    def __init__(
        self,
        *messages: str,
        code: int = 400,
        model: str = "",
        key: str = "",
        type: str = "",
        http_status: int | None = None,
    ) -> None:
        self.http_status = http_status
        super().__init__(*messages, code=code, model=model, key=key, type=type)

    @classmethod
    def from_response(
        cls, request: Request, response: httpx.Response, secrets: Iterable[str] = ()
    ) -> APIError:
        """The error a non-2xx ``response`` stands for; ``secrets`` never appear in it."""
        status = response.status_code
        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not ({"Messages", "Code", "Type"} & data.keys()):
            text = response.text.strip()[:500]
            reason = response.reason_phrase or "error"
            data = {"Type": "API_ERROR", "Messages": [f"{status} {reason}: {text}" if text else f"{status} {reason}"]}
        messages = data.get("Messages") or []
        if not isinstance(messages, list):
            messages = [messages]
        secrets = list(secrets)
        code = data.get("Code")
        if not isinstance(code, int) or isinstance(code, bool) or code == 0:
            code = status
        return cls(
            *[_redact(str(m), secrets) for m in messages],
            code=code,
            model=_redact(str(data.get("Model") or request.model), secrets),
            key=_redact(str(data.get("Key") or request.key), secrets),
            type=_redact(str(data.get("Type") or ""), secrets),
            http_status=status,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, model={self.model!r}, key={self.key!r}, "
            f"type={self.type!r}, messages={self.messages!r})"
        )


class APIConnectionError(APIError, ConnectionError):
    """The API could not be reached (after the retries the request allows)."""

    @classmethod
    def from_exception(cls, request: Request, exc: Exception) -> APIConnectionError:
        """The error for ``request`` that failed with ``exc`` before an answer (``code`` 0)."""
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return cls(
            f"{request.method} {API_PATH}{request.path}: {what}",
            code=0,
            model=request.model,
            key=request.key,
            type="CLIENT_ERROR",
        )


def check(request: Request, response: httpx.Response, secrets: Iterable[str] = ()) -> None:
    """Raise :class:`APIError` for an error status the request does not allow."""
    if response.status_code >= 400 and response.status_code not in request.allow:
        raise APIError.from_response(request, response, secrets)


# -- transport failures -----------------------------------------------------------------------

#: Failures before anything reached the server: always safe to retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Failures that may happen after the server got the request.
_TRANSIENT = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)


def _refused_certificate(exc: BaseException) -> bool:
    """Whether ``exc`` comes from a failed certificate check (retrying cannot help)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


@dataclass(frozen=True)
class Retry:
    """Bounded exponential backoff for transport failures.

    A request is retried when nothing was sent, or when it is idempotent
    (GET, HEAD, PUT, DELETE); ``attempts`` counts the retries after the first try.
    """

    attempts: int = 5
    backoff: float = 0.1
    max_backoff: float = 2.0

    def schedule(self, request: Request) -> RetrySchedule:
        """The retries left for one request."""
        return RetrySchedule(self, request)


class RetrySchedule:
    """Retries left for one request: ``after(exc)`` is the delay before the next try."""

    __slots__ = ("_retry", "_request", "_tries")

    def __init__(self, retry: Retry, request: Request) -> None:
        self._retry = retry
        self._request = request
        self._tries = 0

    def after(self, exc: Exception) -> float:
        """Seconds to wait before trying again; raises :class:`APIConnectionError` when done."""
        retry, request = self._retry, self._request
        allowed = isinstance(exc, _NOT_SENT) or (request.idempotent and isinstance(exc, _TRANSIENT))
        if not allowed or _refused_certificate(exc) or self._tries >= retry.attempts:
            raise APIConnectionError.from_exception(request, exc) from exc
        delay = min(retry.backoff * 2.0**self._tries, retry.max_backoff)
        self._tries += 1
        return delay


# -- one method, two clients -------------------------------------------------------------------

#: A flow: yields requests, gets their responses, returns the method's result.
Flow = Generator[Request, httpx.Response, T]


class Step(Generic[T]):
    """Where a flow stands: the next ``request`` to send, or its ``result`` once done."""

    __slots__ = ("request", "result")

    def __init__(self, flow: Flow[T], response: httpx.Response | None = None) -> None:
        self.request: Request | None
        try:
            self.request = next(flow) if response is None else flow.send(response)
        except StopIteration as stop:
            self.request = None
            self.result: T = stop.value


def build(
    http: httpx.Client | httpx.AsyncClient, request: Request, authorization: str | None
) -> httpx.Request:
    """The ``httpx.Request`` for ``request`` (``authorization``: the header value, if any)."""
    headers = {"Accept": request.accept, **dict(request.headers)}
    if request.content_type:
        headers["Content-Type"] = request.content_type
    if authorization:
        headers["Authorization"] = authorization
    content: Any = request.body
    if request.progress is not None and request.body:
        # Streamed in chunks (a fresh stream for every retry), with its length announced.
        headers["Content-Length"] = str(len(request.body))
        chunks = _achunks if isinstance(http, httpx.AsyncClient) else _chunks
        content = chunks(request.body, request.progress)
    return http.build_request(
        request.method,
        API_PATH + request.path,
        params=list(request.params) or None,
        content=content,
        headers=headers,
    )
