"""The event stream ``/api/v3/ws``: registration, matching, ordering, drops."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest

from drp_plugin.standin import StandIn


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


async def _connect(session: aiohttp.ClientSession, drp: StandIn,
                   **kwargs: Any) -> aiohttp.ClientWebSocketResponse:
    kwargs.setdefault("headers", {"Authorization": f"Bearer {drp.token}"})
    url = drp.endpoint.replace("https://", "wss://") + "/api/v3/ws"
    return await session.ws_connect(url, ssl=False, **kwargs)


async def _next(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5) -> dict[str, Any]:
    msg = await ws.receive(timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def _register(ws: aiohttp.ClientWebSocketResponse, pattern: str,
                    verb: str = "register") -> None:
    await ws.send_str(f"{verb} {pattern}")
    ack = await _next(ws)
    assert (ack["Type"], ack["Action"], ack["Key"]) == ("websocket", verb, pattern)


async def test_register_ack_and_object_events(drp: StandIn, client: httpx.AsyncClient,
                                              session: aiohttp.ClientSession) -> None:
    ws = await _connect(session, drp)
    await _register(ws, "machines.*.*")
    m1 = (await client.post("/machines", json={"Name": "m1"})).json()
    created = await _next(ws)
    assert (created["Type"], created["Action"], created["Key"]) == ("machines", "create",
                                                                    m1["Uuid"])
    assert created["Object"]["Name"] == "m1" and created["Principal"] == "rocketskates"
    await client.put(f"/machines/{m1['Uuid']}", json={**m1, "Description": "d"})
    updated = await _next(ws)
    assert updated["Action"] == "update"
    assert updated["Original"]["Description"] == "" and updated["Object"]["Description"] == "d"
    await client.post(f"/machines/{m1['Uuid']}/params/x", json=1)
    assert (await _next(ws))["Action"] == "save"
    await _register(ws, "machines.*.*", "deregister")
    await _register(ws, "profiles.create.*")
    await client.delete(f"/machines/{m1['Uuid']}")
    await client.post("/profiles", json={"Name": "p1"})
    assert (await _next(ws))["Type"] == "profiles"
    await ws.close()


async def test_filter_lists_and_escapes(drp: StandIn, client: httpx.AsyncClient,
                                        session: aiohttp.ClientSession) -> None:
    ws = await _connect(session, drp)
    await _register(ws, r"profiles.create, delete.a\1b,c\2d")
    # "c,d" is not a valid profile Name (models/utils.go), so the events are posted
    for name in ("x", "a.b", "c,d"):
        await client.post("/events", json={"Type": "profiles", "Action": "create", "Key": name})
    await client.post("/events", json={"Type": "profiles", "Action": "delete", "Key": "a.b"})
    keys = [(e["Action"], e["Key"]) for e in [await _next(ws) for _ in range(3)]]
    assert keys == [("create", "a.b"), ("create", "c,d"), ("delete", "a.b")]
    await ws.close()


async def test_token_in_query_and_auth_required(drp: StandIn,
                                                session: aiohttp.ClientSession) -> None:
    url = drp.endpoint.replace("https://", "wss://") + "/api/v3/ws"
    ws = await session.ws_connect(f"{url}?token={drp.token}", ssl=False)
    await _register(ws, "*.*.*")
    await ws.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await session.ws_connect(url, ssl=False)
    assert info.value.status == 401


@pytest.mark.slow
async def test_delivery_is_lossless_and_ordered(drp: StandIn, client: httpx.AsyncClient,
                                                session: aiohttp.ClientSession) -> None:
    ws = await _connect(session, drp)
    await _register(ws, "machines.create.*")
    count = 200
    async with httpx.AsyncClient(base_url=client.base_url, headers=client.headers, verify=False,
                                 limits=httpx.Limits(max_connections=20)) as pooled:
        replies = await asyncio.gather(*[pooled.post("/machines", json={"Name": f"m{i}"})
                                         for i in range(count)])
    assert all(r.status_code == 201 for r in replies)
    received = [(await _next(ws))["Key"] for _ in range(count)]
    recorded = [e["Key"] for e in drp.events if e["Type"] == "machines"]
    assert received == recorded and len(set(received)) == count
    await ws.close()


async def test_drop_websockets(drp: StandIn, session: aiohttp.ClientSession) -> None:
    ws = await _connect(session, drp)
    await _register(ws, "*.*.*")
    await drp.drop_websockets()
    msg = await ws.receive(5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    for _ in range(100):
        if not drp.hub.subscribers:
            break
        await asyncio.sleep(0.01)
    assert not drp.hub.subscribers
    again = await _connect(session, drp)  # a reconnect works
    await _register(again, "*.*.*")
    await again.close()
