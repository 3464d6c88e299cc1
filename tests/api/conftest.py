"""Fixtures: the local DRP stand-in and both clients behind one awaitable face."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from drp_plugin.api import AsyncClient, Client
from drp_plugin.standin import StandIn


class Api:
    """``await api.get(...)`` on either client: the sync one runs in a worker thread
    (the stand-in shares the test's event loop, which must keep running)."""

    def __init__(self, client: AsyncClient | Client) -> None:
        self.client = client
        self.kind = "sync" if isinstance(client, Client) else "async"

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.client, name)
        if isinstance(self.client, Client):
            return lambda *args, **kwargs: asyncio.to_thread(method, *args, **kwargs)
        return method


@pytest.fixture
async def drp() -> AsyncIterator[StandIn]:
    async with StandIn() as standin:
        yield standin


@pytest.fixture(params=["async", "sync"])
async def api(request: pytest.FixtureRequest, drp: StandIn) -> AsyncIterator[Api]:
    if request.param == "async":
        async with AsyncClient(drp.endpoint, drp.token) as client:
            yield Api(client)
    else:
        with Client(drp.endpoint, drp.token) as sync_client:
            yield Api(sync_client)
