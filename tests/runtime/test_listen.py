"""listen: the to-plugin server, as DRP sees it (real processes, real unix sockets)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from drp_plugin.testing import LogSink, PluginHost
from tests.helpers import INCREMENTER, KITCHEN, TALLY, run_args

OK = {"Model": "", "Key": "", "Type": "", "Messages": None, "Code": 200}
MACHINE = {"Uuid": "3e7031fe-3062-45f1-835c-92541bc9cbd3", "Name": "m1"}

HostFactory = Callable[..., Any]


@pytest.fixture
async def make_host(clean_env: dict[str, str]) -> AsyncIterator[HostFactory]:
    hosts: list[PluginHost] = []

    async def make(path: Any = KITCHEN, config: dict[str, Any] | None = None, **kw: Any) -> PluginHost:
        kw.setdefault("env", clean_env)
        host = PluginHost(run_args(path), **kw)
        hosts.append(host)
        await host.start()
        if config is not None:
            reply = await host.config(config)
            assert reply.status == 200, reply
        return host

    yield make
    for host in hosts:
        await host.aclose()


async def test_ready_socket_mode_and_config_reply(make_host: HostFactory) -> None:
    host = await make_host()
    assert stat.S_IMODE(os.stat(host.to_path).st_mode) == 0o600
    reply = await host.config({"Name": "kitchen-1"})
    assert reply.status == 200
    assert reply.json() == OK
    assert reply.headers["content-type"] == "application/json"
    assert reply.body.endswith(b"\n")


async def test_incrementer_incrstatus_and_unknown_command(make_host: HostFactory) -> None:
    host = await make_host(INCREMENTER, config={})
    reply = await host.action("incrstatus", plugin="incrementer")
    assert (reply.status, reply.body) == (200, b'"Running"\n')
    unknown = await host.action("moo")
    assert unknown.status == 404
    assert unknown.json() == {"Model": "plugin", "Key": "incrementer", "Type": "plugin",
                              "Messages": ["Unknown command: moo"], "Code": 404}


async def test_error_replies_of_the_protocol(make_host: HostFactory) -> None:
    host = await make_host(config={})
    for method in ("GET", "PUT", "DELETE"):
        reply = await host.request("/api-plugin/v4/action", method=method, content_type=None)
        assert reply.status == 404
        assert reply.json() == {"Model": "", "Key": "/api-plugin/v4/action", "Type": method,
                                "Messages": None, "Code": 404}
    unknown = await host.request("/api-plugin/v4/nothing", {})
    assert unknown.status == 404 and unknown.json()["Key"] == "/api-plugin/v4/nothing"
    assert unknown.json()["Type"] == "POST"
    # /publish is not served without HasPublish
    publish = await host.publish({"Type": "x", "Action": "y", "Key": "z"})
    assert publish.status == 404 and publish.json()["Key"] == "/api-plugin/v4/publish"
    bad_ct = await host.request("/api-plugin/v4/action", content=b"{}", content_type="text/plain")
    assert bad_ct.status == 400
    assert bad_ct.json() == {"Model": "", "Key": "", "Type": "POST",
                             "Messages": ["Invalid content type: text/plain"], "Code": 400}
    no_ct = await host.request("/api-plugin/v4/action", content=b"{}", content_type=None)
    assert no_ct.status == 400 and no_ct.json()["Messages"] == ["Invalid content type: "]
    bad_json = await host.request("/api-plugin/v4/action", content=b'{"Command": ')
    assert bad_json.status == 400 and bad_json.json()["Type"] == "POST"
    assert bad_json.json()["Code"] == 400 and bad_json.json()["Messages"]
    wrong_type = await host.request("/api-plugin/v4/action", {"Command": 5})
    assert wrong_type.status == 400 and "Command" in wrong_type.json()["Messages"][0]
    empty = await host.request("/api-plugin/v4/action", content=b"")
    assert empty.status == 404 and empty.json()["Messages"] == ["Unknown command: "]
    crash = await host.action("boom")
    assert crash.status == 500
    assert crash.json()["Messages"][0].startswith("Panic recovered: ValueError: kaboom")
    assert crash.json()["Code"] == 500
    teapot = await host.action("teapot")
    assert teapot.status == 418
    assert teapot.json() == {"Model": "pots", "Key": "brown", "Type": "kettle",
                             "Messages": ["short and stout"], "Code": 418}
    zero = await host.action("zero")
    assert zero.status == 500 and zero.json()["Code"] == 500
    not_json = await host.action("not_json")
    assert not_json.status == 500 and "not JSON" in not_json.json()["Messages"][0]
    # still answering normally afterwards
    assert (await host.action("echo", {"kitchen/a": 1}, MACHINE)).status == 200


async def test_required_action_params_are_checked(make_host: HostFactory) -> None:
    host = await make_host(config={"Name": "k1"})
    missing = await host.action("echo", {"kitchen/b": 2}, MACHINE)
    assert missing.status == 400
    assert missing.json()["Messages"] == ["Missing Parameter kitchen/a"]
    ok = await host.action("echo", {"kitchen/a": 1}, MACHINE, plugin="k1")
    assert ok.status == 200
    assert ok.json() == {"params": {"kitchen/a": 1}, "uuid": MACHINE["Uuid"], "plugin": "k1"}


async def test_config_errors(make_host: HostFactory, clean_env: dict[str, str]) -> None:
    host = await make_host()
    refused = await host.config({"kitchen/refuse": True})
    assert refused.status == 403
    body = refused.json()
    assert body["Code"] == 403
    assert json.loads(body["Messages"][0])["Messages"] == ["refused by config"]
    not_object = await host.request("/api-plugin/v4/config", [1, 2])
    assert not_object.status == 400
    no_token = await make_host(token="")
    reply = await no_token.config({})
    assert reply.status == 400 and reply.json()["Messages"] == ["Must have a token specified"]


async def test_publish_when_has_publish(make_host: HostFactory, clean_env: dict[str, str]) -> None:
    host = await make_host(env={**clean_env, "KITCHEN_HAS_PUBLISH": "1"}, config={})
    event = {"Time": "2026-11-26T11:00:00Z", "Type": "machines", "Action": "update", "Key": "k"}
    assert (await host.publish(event)).json() == OK
    bad = await host.publish({**event, "Type": "bad"})
    assert bad.status == 422 and json.loads(bad.json()["Messages"][0])["Messages"] == ["bad event"]
    assert (await host.action("events")).json() == ["machines.update.k"]


async def test_back_channel_publish(make_host: HostFactory) -> None:
    host = await make_host(config={})
    assert (await host.action("publish")).json() == "published"
    assert len(host.published) == 1
    event = host.published[0]
    assert {k: event[k] for k in ("Type", "Action", "Key", "Object")} == {
        "Type": "kitchen", "Action": "cooked", "Key": "dish", "Object": {"n": 1}}
    assert event["Time"].endswith("Z")


async def test_stop_replies_then_exits_and_removes_socket(make_host: HostFactory) -> None:
    host = await make_host(config={})
    reply = await host.stop()
    assert reply.status == 200 and reply.json() == OK
    assert await host.wait() == 0
    assert not os.path.exists(host.to_path)
    messages = [line["Message"] for line in host.logs]
    assert "kitchen closing" in messages


async def test_sigterm_stops_cleanly(make_host: HostFactory) -> None:
    host = await make_host(config={})
    assert host.process is not None
    host.process.send_signal(signal.SIGTERM)
    assert await host.wait() == 0
    assert not os.path.exists(host.to_path)


async def test_stop_lets_in_flight_actions_finish(make_host: HostFactory) -> None:
    host = await make_host(config={})
    slow = asyncio.create_task(host.action("sleep_async", {"seconds": 0.5}))
    await asyncio.sleep(0.1)
    stop = await host.stop()
    assert stop.status == 200
    reply = await slow
    assert (reply.status, reply.json()) == (200, "slept")
    assert await host.wait() == 0


async def test_sync_handlers_do_not_block_the_server(make_host: HostFactory) -> None:
    host = await make_host(config={})
    slow = asyncio.create_task(host.action("sleep_sync", {"seconds": 5.0}))
    await asyncio.sleep(0.1)
    async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=host.to_path),
                                 base_url="http://unix") as client:
        reply = await client.post("/api-plugin/v4/action", json={"Command": "echo",
                                  "Params": {"kitchen/a": 1}, "Model": MACHINE})
    assert reply.status_code == 200
    # answered while the sync handler still sleeps in its worker thread
    assert not slow.done()
    assert (await slow).json() == "slept"


async def test_log_lines_have_the_go_shape(make_host: HostFactory) -> None:
    host = await make_host(config={"Name": "k", "kitchen/secret": "hunter2-value"})
    await host.action("log", {"count": 3})
    await host.action("log", {"count": 1, "quiet": True})
    await host.stop()
    await host.wait()
    lines = [line for line in host.logs if line["Message"].startswith("line ")]
    assert [line["Message"] for line in lines] == ["line 0", "line 1", "line 2", "line 0"]
    assert [line["IgnorePublish"] for line in lines] == [False, False, False, True]
    lines = lines[:3]
    first = lines[0]
    assert set(first) == {"Group", "Seq", "Time", "Service", "Principal", "Level", "File", "Line",
                          "Message", "Data", "IgnorePublish"}
    assert first["Service"] == "kitchen" and first["Level"] == "info"
    assert first["File"].endswith("kitchen.py") and isinstance(first["Line"], int)
    assert len({line["Group"] for line in lines}) == 1
    seqs = [line["Seq"] for line in host.logs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert first["Time"][19] == "." and len(first["Time"].split(".")[1]) == 10  # 9 digits + Z
    # config logs param names, never values
    dump = json.dumps(host.logs)
    assert "hunter2-value" not in dump and "test-token" not in dump
    assert any("kitchen/secret" in line["Message"] for line in host.logs)


async def test_slow_log_sink_does_not_delay_actions(make_host: HostFactory) -> None:
    """Replies never wait for the log sink: with a sink that holds every ``/log`` post
    for 3 s, ten logging actions are all answered within 10 s (had each reply waited
    for its post, they would take 30 s); the teardown waits out the held posts."""
    host = await make_host(sink=LogSink(delay=3.0), config={})

    async def ten_actions() -> list[int]:
        return [(await host.action("log", {"count": 2})).status for _ in range(10)]

    # 10 s is a bound against hanging, not a performance figure (those live in bench/).
    assert await asyncio.wait_for(ten_actions(), 10.0) == [200] * 10


@pytest.mark.slow
@pytest.mark.parametrize("sink", [LogSink(status=500), LogSink(hang_up=True), None],
                         ids=["sink-500", "sink-hangs-up", "no-sink"])
async def test_failing_or_missing_log_sink(make_host: HostFactory, sink: LogSink | None,
                                           clean_env: dict[str, str]) -> None:
    # DRP being gone makes the provider exit after a grace period: keep it long here.
    env = {**clean_env, "DRP_PLUGIN_DRP_GONE_GRACE": "600"}
    host = await make_host(sink=sink, env=env, config={})
    for _ in range(200):
        assert (await host.action("log", {"count": 2})).status == 200
    await asyncio.sleep(0.3)
    rss_before = host.rss_kb()
    posts_before = host.log_posts
    for _ in range(2000):
        assert (await host.action("log", {"count": 2})).status == 200
    await asyncio.sleep(0.3)
    rss_after = host.rss_kb()
    # at most one post per line logged (no retry storm, no failure loop)
    assert host.log_posts - posts_before <= 2000 * 2 + 10
    assert rss_after - rss_before < 4096, (rss_before, rss_after)
    stop = await host.stop()
    assert stop.status == 200
    assert await host.wait() == 0
    assert b"not delivered" in host.stderr or b"cannot be delivered" in host.stderr


async def test_interface_style_provider(make_host: HostFactory) -> None:
    host = await make_host(TALLY, config={"tally/start": 10})
    assert (await host.action("tally", {}, MACHINE)).json() == 11
    assert (await host.action("tally", {"tally/step": 5}, MACHINE)).json() == 16
    assert (await host.action("tallies")).json() == {MACHINE["Uuid"]: 16}
    assert (await host.action("nope")).status == 404
    bad = await host.config({"tally/start": "x"})
    assert bad.status == 400
    await host.stop()
    assert await host.wait() == 0


@pytest.mark.parametrize("loop", ["asyncio", "uvloop", ""])
async def test_each_event_loop_serves_actions_logs_and_stop(
        make_host: HostFactory, clean_env: dict[str, str], loop: str) -> None:
    """``DRP_PLUGIN_LOOP``: the same provider on asyncio's loop and on uvloop's, which
    ``auto``, the default (the variable empty, as unset: ``PluginHost`` adds
    ``os.environ``, where CI sets it), picks when it is installed."""
    pytest.importorskip("uvloop")
    host = await make_host(INCREMENTER, env={**clean_env, "DRP_PLUGIN_LOOP": loop}, config={})
    assert host.process is not None
    with open(f"/proc/{host.process.pid}/maps", encoding="utf-8") as fh:
        assert ("uvloop" in fh.read()) is (loop != "asyncio")
    replies = await asyncio.gather(*(host.action("incrstatus", plugin="incrementer")
                                     for _ in range(20)))
    assert {(r.status, r.body) for r in replies} == {(200, b'"Running"\n')}
    await host.stop()
    assert await host.wait() == 0
    assert not os.path.exists(host.to_path)
    # every action's log line reached the sink before the exit
    assert sum(1 for line in host.logs if "incrstatus" in line["Message"]) == 20, host.logs


async def test_action_timeout_answers_504(make_host: HostFactory, clean_env: dict[str, str]) -> None:
    host = await make_host(env={**clean_env, "DRP_PLUGIN_ACTION_TIMEOUT": "0.2"}, config={})
    reply = await host.action("sleep_async", {"seconds": 2})
    assert reply.status == 504
    assert reply.json()["Messages"] == ["action sleep_async timed out after 0.2s"]
    assert (await host.action("echo", {"kitchen/a": 1}, MACHINE)).status == 200


@pytest.mark.slow
async def test_exits_cleanly_when_drp_goes_away(make_host: HostFactory, clean_env: dict[str, str]) -> None:
    host = await make_host(env={**clean_env, "DRP_PLUGIN_DRP_GONE_GRACE": "1"}, config={})
    assert (await host.action("echo", {"kitchen/a": 1}, MACHINE)).status == 200
    await host.close_sink()
    if os.path.exists(host.from_path):
        os.unlink(host.from_path)
    assert await host.wait(timeout=15) == 0
    assert b"DRP is gone" in host.stderr
    assert not os.path.exists(host.to_path)
