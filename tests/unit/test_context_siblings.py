"""Context and SyncContext: siblings over BaseContext, reaching the provider only through
the ContextHost protocol (here the real :class:`~drp_plugin.protocol.services.Services`
on a real event loop, with the recording back channel of the in-process test client)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest

from drp_plugin import Context, PluginError, SyncContext
from drp_plugin.context import BaseContext
from drp_plugin.protocol.services import Services
from drp_plugin.testing.inprocess import RecordingBackChannel

log = logging.getLogger("drp_plugin.provider.unit")


def test_siblings_over_one_base() -> None:
    assert issubclass(Context, BaseContext) and issubclass(SyncContext, BaseContext)
    assert not issubclass(SyncContext, Context) and not issubclass(Context, SyncContext)
    assert asyncio.iscoroutinefunction(Context.publish)
    assert not asyncio.iscoroutinefunction(SyncContext.publish)


async def test_without_a_host_names_are_empty_and_the_back_channel_refuses() -> None:
    ctx = Context("unit", log)
    assert (ctx.plugin, ctx.params) == ("", {})
    with pytest.raises(PluginError, match="publish is only available while listening"):
        await ctx.publish("a", "b", "c")
    sync = SyncContext("unit", log)
    with pytest.raises(PluginError, match="leaving is only available while listening"):
        sync.leaving()


@pytest.fixture
def host() -> Iterator[Services]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    services = Services(loop, RecordingBackChannel())
    services.configure({"Name": "unit-1", "unit/secret": "s3cret"})
    yield services
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_names_and_params_come_from_the_host(host: Services) -> None:
    ctx = SyncContext("unit", log, host)
    assert ctx.plugin == "unit-1"
    params = ctx.params
    params["unit/secret"] = "changed"  # a copy: the host's params stay
    assert host.config_params["unit/secret"] == "s3cret"


def test_sync_context_publishes_through_the_loop(host: Services) -> None:
    ctx = SyncContext("unit", log, host)
    ctx.publish("machines", "poked", "m1", {"n": 2})
    ctx.leaving(PluginError("going", code=403))
    channel = host.backchannel
    assert isinstance(channel, RecordingBackChannel)
    assert [(e["Type"], e["Key"], e["Object"]) for e in channel.events] == [("machines", "m1", {"n": 2})]
    assert channel.notices[0]["Code"] == 403


def test_async_context_publishes(host: Services) -> None:
    ctx = Context("unit", log, host)
    asyncio.run_coroutine_threadsafe(ctx.publish("t", "a", "k"), host.loop).result(10)
    channel = host.backchannel
    assert isinstance(channel, RecordingBackChannel)
    assert channel.events[0]["Key"] == "k"
