"""The first step of a request runs where its bytes arrive (``httpserver._first_step``).

Most requests finish in that step and are answered without waking the
connection's task; one that suspends is finished by the task.  These tests check,
over a real unix socket against a provider process, that this is invisible to
handlers and to DRP: pipelined requests that finish at once and ones that sleep
are answered in order with their own replies; a handler sees a current task and
can use ``asyncio.timeout`` and a ``TaskGroup``; each request keeps its own log
Group, also across its suspension.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from drp_plugin.protocol import http1
from drp_plugin.testing import LogSink, PluginHost
from tests.wire.helpers import ARGV, action_request, connect


@pytest.fixture
async def host(clean_env: dict[str, str]) -> AsyncIterator[PluginHost]:
    h = PluginHost(ARGV, env={**clean_env, "DRP_PLUGIN_DRP_GONE_GRACE": "600"}, sink=LogSink())
    await h.start()
    assert (await h.config({})).status == 200
    yield h
    await h.aclose()


def pipelined(path: str, requests: list[bytes]) -> list[tuple[int, Any]]:
    """Write every request in one go, then read as many replies (several may come in
    one read: the parser keeps what follows a reply)."""
    parser = http1.Parser(response=True)
    replies: list[tuple[int, Any]] = []
    with connect(path) as sock:
        sock.sendall(b"".join(requests))
        while len(replies) < len(requests):
            event = parser.next()
            if event is None:
                data = sock.recv(65536)
                if not data:
                    raise EOFError(f"closed after {len(replies)} replies")
                parser.feed(data)
            elif event == http1.Parser.MESSAGE:
                head, body = parser.take()
                replies.append((head.status, json.loads(body)))
    return replies


async def test_pipelined_answers_keep_their_order(host: PluginHost) -> None:
    batch = [action_request("ok"), action_request("nap", {"seconds": 0.05}),
             action_request("ok"), action_request("nap", {"seconds": 0}),
             action_request("value", {"kind": "2.5"}), action_request("ok")]
    replies = await asyncio.to_thread(pipelined, host.to_path, batch * 5)
    expected = [(200, "ok"), (200, "slept 0.05"), (200, "ok"), (200, "slept 0"),
                (200, {"x": 2.5}), (200, "ok")]
    assert replies == expected * 5


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout and TaskGroup are 3.11+")
async def test_a_handler_has_its_task(host: PluginHost) -> None:
    for _ in range(3):
        reply = await host.action("taskbound")
        assert (reply.status, reply.json()) == (
            200, {"task": True, "group": "ab", "timed_out": True}), reply


async def test_each_request_keeps_its_log_group(host: PluginHost) -> None:
    replies = await asyncio.gather(*[
        asyncio.to_thread(pipelined, host.to_path,
                          [action_request("nap", {"seconds": 0.02})] * 4) for _ in range(3)])
    assert all(r == [(200, "slept 0.02")] * 4 for r in replies)
    groups: dict[int, list[str]] = {}
    for _ in range(100):
        naps = [line for line in host.logs if str(line["Message"]).startswith("nap ")]
        if len(naps) == 24:
            break
        await asyncio.sleep(0.05)
    for line in naps:
        groups.setdefault(int(line["Group"]), []).append(str(line["Message"]))
    assert len(groups) == 12  # one per request, none shared
    assert all(messages == ["nap starts", "nap ends"] for messages in groups.values())
