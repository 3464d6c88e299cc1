"""The to-plugin routes, in-process through :class:`drp_plugin.testing.inprocess.TestClient`.

The replies are those of the Go ``plugin/mux`` (PROTOCOL.md section 2); the same
router serves ``listen`` (tests/runtime/test_listen.py checks it over real sockets).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from drp_plugin import Action, App, Context, Event, PluginError, Provider, SyncContext
from drp_plugin.protocol.settings import ListenSettings
from drp_plugin.testing.inprocess import InProcessReply, TestClient

OK = {"Model": "", "Key": "", "Type": "", "Messages": None, "Code": 200}
MACHINE = {"Uuid": "3e7031fe-3062-45f1-835c-92541bc9cbd3", "Name": "m1"}


def make_provider(**kw: Any) -> Provider:
    provider = Provider("unit", base_dir=".", **kw)
    seen: dict[str, Any] = {"started": threading.Event()}
    provider.seen = seen  # type: ignore[attr-defined]

    @provider.config
    def configure(ctx: SyncContext, params: dict[str, Any]) -> None:
        if params.get("unit/refuse"):
            raise PluginError("refused", code=403, model="plugin", key="unit")
        seen["config"] = (ctx.plugin, ctx.params)

    @provider.action("echo", model="machines", required=["unit/a"])
    def echo(ctx: SyncContext, action: Action) -> Any:
        return {"params": action.params, "uuid": action.uuid, "plugin": ctx.plugin}

    @provider.action("boom")
    def boom(ctx: SyncContext, action: Action) -> None:
        raise ValueError("kaboom")

    @provider.action("nan")
    def nan(ctx: SyncContext, action: Action) -> float:
        return float("nan")

    @provider.action("teapot")
    async def teapot(ctx: Context, action: Action) -> None:
        raise PluginError("short and stout", code=418, model="pots", key="brown", type="kettle")

    @provider.action("sleep")
    async def sleep(ctx: Context, action: Action) -> str:
        seen["started"].set()
        await asyncio.sleep(float(action.params.get("seconds", 0)))
        return "slept"

    @provider.action("publish_async")
    async def publish_async(ctx: Context, action: Action) -> str:
        await ctx.publish("unit", "cooked", "dish", {"n": 1})
        ctx.log.info("published %s", "dish")
        return "ok"

    @provider.action("publish_sync")
    def publish_sync(ctx: SyncContext, action: Action) -> str:
        ctx.publish("unit", "cooked", "sync", None)
        ctx.leaving(PluginError("bye", code=403))
        return "ok"

    @provider.stop
    def stop(ctx: SyncContext) -> None:
        seen["stopped"] = True

    return provider


@pytest.fixture
def client() -> Any:
    with TestClient(make_provider()) as c:
        yield c


def test_mux_errors(client: TestClient) -> None:
    assert client.request("/api-plugin/v4/nope", {}).status == 404
    get = client.request("/api-plugin/v4/config", method="GET")
    assert (get.status, get.body) == (404, {"Model": "", "Key": "/api-plugin/v4/config",
                                            "Type": "GET", "Messages": None, "Code": 404})
    text = client.request("/api-plugin/v4/config", content=b"{}", content_type="text/plain")
    assert (text.status, text.messages) == (400, ["Invalid content type: text/plain"])
    bad = client.request("/api-plugin/v4/config", content=b"{nope")
    assert bad.status == 400 and bad.messages[0].startswith("Invalid JSON: ")
    assert client.config([1, 2]).status == 400  # type: ignore[arg-type]


def test_replies_that_are_not_json_are_a_500_as_on_the_wire(client: TestClient) -> None:
    """The server refuses to write NaN (Go cannot read it); the test client answers alike."""
    reply = client.action("nan")
    assert reply.status == 500
    assert reply.body["Code"] == 500
    assert reply.messages[0].startswith("reply is not JSON: ")


def test_config_needs_a_token_and_records_params() -> None:
    provider = make_provider()
    with TestClient(provider, environ={}) as c:
        reply = c.config({})
        assert (reply.status, reply.messages) == (400, ["Must have a token specified"])
    with TestClient(provider) as c:
        reply = c.config({"Name": "unit-1", "unit/x": 1})
        assert (reply.status, reply.body) == (200, OK)
        assert provider.seen["config"] == ("unit-1", {"Name": "unit-1", "unit/x": 1})  # type: ignore[attr-defined]
        refused = c.config({"unit/refuse": True})
        assert refused.status == 403
        assert refused.body["Code"] == 403 and len(refused.messages) == 1
        assert "Params:" not in str(c.records)  # config logs names only
        assert any(r.getMessage() == "Received Config request: params ['Name', 'unit/x']"
                   for r in c.records)


def test_actions(client: TestClient) -> None:
    reply = client.action("echo", {"unit/a": 1}, MACHINE)
    assert (reply.status, reply.body) == (200, {"params": {"unit/a": 1}, "uuid": MACHINE["Uuid"],
                                                "plugin": ""})
    missing = client.action("echo", {}, MACHINE)
    assert (missing.status, missing.messages) == (400, ["Missing Parameter unit/a"])
    unknown = client.action("moo")
    assert (unknown.status, unknown.messages) == (404, ["Unknown command: moo"])
    crash = client.action("boom")
    assert (crash.status, crash.messages) == (500, ["Panic recovered: ValueError: kaboom"])
    pot = client.action("teapot")
    assert pot.body == {"Model": "pots", "Key": "brown", "Type": "kettle",
                        "Messages": ["short and stout"], "Code": 418}
    assert client.request("/api-plugin/v4/action", ["not", "an", "object"]).status == 400


def test_action_timeout_answers_504() -> None:
    with TestClient(make_provider(), settings=ListenSettings(action_timeout=0.05)) as c:
        reply = c.action("sleep", {"seconds": 30})
        assert (reply.status, reply.messages) == (504, ["action sleep timed out after 0.05s"])
        assert c.action("sleep", {"seconds": 0}).body == "slept"


def test_back_channel_and_logs_from_async_and_sync_handlers(client: TestClient) -> None:
    assert client.action("publish_async").body == "ok"
    assert client.action("publish_sync").body == "ok"
    assert [(e["Type"], e["Action"], e["Key"], e["Object"]) for e in client.published] == [
        ("unit", "cooked", "dish", {"n": 1}), ("unit", "cooked", "sync", None)]
    assert all(e["Time"].endswith("Z") for e in client.published)
    assert client.leaving == [{"Model": "", "Key": "", "Type": "", "Messages": ["bye"],
                               "Code": 403}]
    assert "published dish" in [r.getMessage() for r in client.records]


def test_publish_is_routed_only_when_served() -> None:
    plain = make_provider()
    with TestClient(plain) as c:
        assert c.publish({"Type": "x", "Action": "y", "Key": "z"}).status == 404
    served = make_provider(has_publish=True)
    events: list[str] = []

    @served.publish
    def on_publish(ctx: SyncContext, event: Event) -> None:
        if event.type == "bad":
            raise PluginError("bad event", code=422)
        events.append(event.topic)

    with TestClient(served) as c:
        assert c.publish({"Type": "machines", "Action": "save", "Key": "k"}).body == OK
        bad = c.publish({"Type": "bad", "Action": "x", "Key": "k"})
        assert bad.status == 422 and bad.body["Code"] == 422
    assert events == ["machines.save.k"]


def test_events_reach_the_matching_handlers() -> None:
    provider = make_provider()
    got: list[str] = []

    @provider.on_event("machines.update.*")
    async def on_update(ctx: Context, event: Event) -> None:
        got.append(event.key)

    @provider.on_event("profiles.*.*")
    def on_profile(ctx: SyncContext, event: Event) -> None:
        raise ValueError("handler bug")  # logged, never raised

    with TestClient(provider) as c:
        assert c.config({}).status == 200
        c.event({"Type": "machines", "Action": "update", "Key": "m1"})
        c.event({"Type": "machines", "Action": "delete", "Key": "m2"})
        c.event({"Type": "profiles", "Action": "save", "Key": "p"})
        assert got == ["m1"]
        assert any("Event handler crashed on profiles.save.p" in r.getMessage() for r in c.records)


def test_stop_runs_the_stop_handler_then_refuses_actions() -> None:
    provider = make_provider()
    with TestClient(provider) as c:
        assert (c.stop().status, c.stopping) == (200, True)
        assert provider.seen["stopped"] is True  # type: ignore[attr-defined]
        late = c.action("sleep")
        assert (late.status, late.messages) == (503, ["plugin is stopping"])
        assert c.stop().body == OK  # a later stop joins the finished drain


def test_stops_join_one_drain_and_in_flight_actions_finish() -> None:
    """Two stops while an action runs: the action is answered, then both stops."""
    provider = make_provider()
    with TestClient(provider) as c:
        done: dict[str, InProcessReply] = {}

        def run(name: str, call: Any) -> None:
            done[name] = call()

        slow = threading.Thread(target=run, args=("action", lambda: c.action("sleep", {"seconds": 0.5})))
        slow.start()
        assert provider.seen["started"].wait(30)  # type: ignore[attr-defined]
        stops = [threading.Thread(target=run, args=(f"stop{n}", c.stop)) for n in (1, 2)]
        for t in stops:
            t.start()
        for t in [slow, *stops]:
            t.join(30)
        assert done["action"].body in ("slept", {"Model": "plugin", "Key": "unit",
                                                 "Type": "plugin", "Code": 503,
                                                 "Messages": ["plugin is stopping"]})
        assert done["stop1"].body == done["stop2"].body == OK


def test_actions_past_the_stop_timeout_are_answered_503() -> None:
    provider = make_provider()
    with TestClient(provider, settings=ListenSettings(stop_timeout=0.2)) as c:
        out: list[InProcessReply] = []
        t = threading.Thread(target=lambda: out.append(c.action("sleep", {"seconds": 3600})))
        t.start()
        assert provider.seen["started"].wait(30)  # type: ignore[attr-defined]
        assert c.stop().body == OK
        t.join(30)
        assert out[0].status == 503
        assert out[0].messages == ["plugin stopped: action sleep was still running after the "
                                   "0.2s stop timeout"]


def test_interface_style_app() -> None:
    class Tally:
        def __init__(self) -> None:
            self.start = 0

        def config(self, log: Any, api: Any, params: dict[str, Any]) -> None:
            self.start = int(params.get("tally/start", 0))

        async def action(self, log: Any, action: Action) -> int:
            if action.command != "tally":
                raise PluginError(f"Unknown command: {action.command}", code=404)
            self.start += 1
            return self.start

    app = App("tally", Tally(), definition={"AvailableActions": [{"Command": "tally"}]},
              base_dir=".")
    with TestClient(app) as c:
        assert c.config({"tally/start": 10}).status == 200
        assert c.action("tally").body == 11
        assert c.action("nope").status == 404
