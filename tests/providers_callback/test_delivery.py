"""Retries, delays, the overall timeout and the proxy, end to end."""

from __future__ import annotations

import time
from typing import Any

import pytest

from drp_plugin.errors import PluginError
from drp_plugin.testing.fixtures import StandInClient

from .conftest import Start
from .servers import Proxy, Recorder, Reply


def do(plugin: Any, name: str, **params: Any) -> Any:
    return plugin.action("callbackDo", on="m1.example.com",
                         params={"callback/action": name, **params})


@pytest.mark.slow
def test_retries_with_delay_until_success(start_callback: Start, recorder: Recorder,
                                          machine: dict[str, Any]) -> None:
    recorder.sequence("/flaky", Reply(503, "busy"), Reply(502, "still busy"), Reply(200, "done"))
    recorder.reply("/down", 500, "broken")
    plugin = start_callback({
        "flaky": {"Url": recorder.url("/flaky"), "Retry": 3, "Delay": 1, "StringResponse": True},
        "down": {"Url": recorder.url("/down"), "Retry": 1},
    })
    assert do(plugin, "flaky") == "done"
    times = [s.at for s in recorder.seen("/flaky")]
    assert len(times) == 3
    assert all(b - a >= 0.9 for a, b in zip(times, times[1:], strict=False))   # Delay 1 s

    with pytest.raises(PluginError) as info:
        do(plugin, "down")
    assert info.value.code == 500
    assert len(recorder.seen("/down")) == 2            # Retry 1: two attempts


@pytest.mark.slow
def test_timeout_bounds_all_attempts(start_callback: Start, recorder: Recorder,
                                     machine: dict[str, Any]) -> None:
    recorder.reply("/busy", 503, "busy")
    recorder.route("/hang", lambda seen: Reply(200, "late", sleep=30))
    plugin = start_callback({
        "busy": {"Url": recorder.url("/busy"), "Retry": 100, "Delay": 1, "Timeout": 2},
        "hang": {"Url": recorder.url("/hang"), "Timeout": 1},
    })
    started = time.monotonic()
    with pytest.raises(PluginError) as busy:
        do(plugin, "busy")
    # Without the 2 s deadline the retries would take ~100 s; the bound is generous
    # because a loaded machine adds seconds to the action's round trip.
    assert time.monotonic() - started < 20
    assert busy.value.code == 503                      # the last upstream status
    assert "Timeout of callback busy" in str(busy.value)
    assert 2 <= len(recorder.seen("/busy")) <= 3

    # One request that never answers is cut at the deadline too.
    started = time.monotonic()
    with pytest.raises(PluginError) as hang:
        do(plugin, "hang")
    assert time.monotonic() - started < 20             # the peer would answer after 30 s
    assert hang.value.code == 400
    assert "Timeout of callback hang" in str(hang.value)


@pytest.mark.slow
def test_connection_failures_are_retried(start_callback: Start, recorder: Recorder,
                                         machine: dict[str, Any]) -> None:
    closed = Recorder()
    dead_url = closed.url("/gone")
    closed.close()                                    # nothing listens there any more
    plugin = start_callback({"dead": {"Url": dead_url, "Retry": 2}})
    with pytest.raises(PluginError) as info:
        do(plugin, "dead")
    assert info.value.code == 400
    assert "Failed to call back" in str(info.value)
    assert str(info.value).count("ConnectError") == 3


@pytest.mark.slow
def test_proxy_is_used(start_callback: Start, recorder: Recorder, proxy: Proxy,
                       machine: dict[str, Any], drp_client: StandInClient) -> None:
    issued: list[str] = []

    def token(seen: Any) -> Reply:
        issued.append("via-proxy")
        return Reply(200, {"token": "via-proxy"})

    recorder.route("/token", token)
    recorder.route("/api", lambda seen: Reply(200, {"via": seen.headers.get("via"),
                                                    "auth": seen.headers.get("authorization")}))
    plugin = start_callback(
        {"cb": {"Url": recorder.url("/api?x=1"), "Auth": "tok", "JsonResponse": True}},
        auths={"tok": {"AuthType": "json-token", "Url": recorder.url("/token"),
                       "TokenField": "token"}},
        proxy=proxy.url(""),
    )
    assert do(plugin, "cb") == {"via": "1.1 test-proxy", "auth": "Bearer via-proxy"}
    targets = [s.target for s in proxy.seen()]
    assert targets == [recorder.url("/token"), recorder.url("/api?x=1")]   # absolute form

    # A proxy that is not there: the callback fails, it does not go around it.
    gone = Proxy()
    gone_url = gone.url("")
    gone.close()
    plugin.restart({"callback/callbacks": {"cb": {"Url": recorder.url("/api")}},
                    "callback/proxy": gone_url})
    with pytest.raises(PluginError) as info:
        do(plugin, "cb")
    assert "ProxyError" in str(info.value) or "ConnectError" in str(info.value)
    assert len(recorder.seen("/api")) == 1


@pytest.mark.slow
def test_config_errors_are_reported(start_callback: Start, recorder: Recorder) -> None:
    with pytest.raises(PluginError) as info:
        start_callback({"cb": {"Url": "ftp://example.invalid/x", "Auths": ["ghost"],
                               "Retries": 3}},
                       proxy="socks9://127.0.0.1:1")
    text = str(info.value)
    assert "callback/callbacks[cb]: Url must be an http:// or https:// URL" in text
    assert "auth 'ghost' is not defined in callback/auths" in text
    assert "callback/proxy must be an http:// or https:// URL" in text
