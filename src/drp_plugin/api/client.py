"""The asynchronous DRP API client (``httpx.AsyncClient``)."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TypeVar

import httpx

from .core import AsyncRunner, Flow, Request, Step, build, check
from .operations import Operations
from .session import ClientBase

T = TypeVar("T")


class AsyncClient(ClientBase, AsyncRunner, Operations):
    """Async client of the DRP REST API; every API method is a coroutine.

    Arguments: see :class:`~drp_plugin.api.session.ClientBase`.
    """

    def _open(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> None:
        if isinstance(transport, httpx.BaseTransport):
            raise TypeError("AsyncClient needs an httpx.AsyncBaseTransport")
        transport = transport or httpx.AsyncHTTPTransport(**self.settings.transport_options())
        self._http = httpx.AsyncClient(transport=transport, **self.settings.client_options())
        self._auth_lock = asyncio.Lock()

    async def authorization(self) -> str:
        """The ``Authorization`` header value, renewing a user token when due."""
        session = self.settings.session
        if session is None:
            return f"Bearer {self.settings.static_token}"
        if session.due:
            async with self._auth_lock:
                if session.due:
                    await self._run(session.renew())
        return f"Bearer {session.token}"

    async def _run(self, flow: Flow[T]) -> T:
        step = Step(flow)
        while step.request is not None:
            step = Step(flow, await self._send(step.request))
        return step.result

    async def _send(self, request: Request) -> httpx.Response:
        authorization = await self.authorization() if request.authenticate else None
        retries = self.settings.retry.schedule(request)
        while True:
            try:
                response = await self._http.send(build(self._http, request, authorization))
                break
            except httpx.TransportError as exc:
                await asyncio.sleep(retries.after(exc))
        check(request, response, self.settings.secrets)
        return response

    async def close(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    aclose = close

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
