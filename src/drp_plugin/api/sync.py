"""The blocking DRP API client (``httpx.Client``): same methods as ``AsyncClient``."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TypeVar

import httpx

from .core import Flow, Request, Step, SyncRunner, build, check
from .operations import Operations
from .session import ClientBase

T = TypeVar("T")


class Client(ClientBase, SyncRunner, Operations):
    """Blocking client of the DRP REST API (thread-safe); same methods as ``AsyncClient``.

    Arguments: see :class:`~drp_plugin.api.session.ClientBase`.
    """

    def _open(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> None:
        if isinstance(transport, httpx.AsyncBaseTransport):
            raise TypeError("Client needs an httpx.BaseTransport")
        transport = transport or httpx.HTTPTransport(**self.settings.transport_options())
        self._http = httpx.Client(transport=transport, **self.settings.client_options())
        self._auth_lock = threading.Lock()

    def authorization(self) -> str:
        """The ``Authorization`` header value, renewing a user token when due."""
        session = self.settings.session
        if session is None:
            return f"Bearer {self.settings.static_token}"
        if session.due:
            with self._auth_lock:
                if session.due:
                    self._run(session.renew())
        return f"Bearer {session.token}"

    def _run(self, flow: Flow[T]) -> T:
        step = Step(flow)
        while step.request is not None:
            step = Step(flow, self._send(step.request))
        return step.result

    def _send(self, request: Request) -> httpx.Response:
        authorization = self.authorization() if request.authenticate else None
        retries = self.settings.retry.schedule(request)
        while True:
            try:
                response = self._http.send(build(self._http, request, authorization))
                break
            except httpx.TransportError as exc:
                time.sleep(retries.after(exc))
        check(request, response, self.settings.secrets)
        return response

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
