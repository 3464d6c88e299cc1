"""The settings object: every DRP_PLUGIN_* variable parsed in one place, checked, typed."""

from __future__ import annotations

import asyncio

import pytest

from drp_plugin import Provider
from drp_plugin.protocol.settings import (
    DEFAULT_MAX_BODY,
    VARIABLES,
    ListenSettings,
    SettingsError,
    loop_in_use,
)


def test_defaults_without_any_variable() -> None:
    s = ListenSettings.from_env({})
    assert s == ListenSettings()
    assert (s.max_body, s.action_timeout, s.drp_gone_grace, s.drp_probe_interval,
            s.stop_timeout, s.log_flush_timeout, s.exit_grace) == (
        DEFAULT_MAX_BODY, None, 30.0, 1.0, 10.0, 2.0, 5.0)
    assert s.log_flush_timeout < s.exit_grace  # the grace covers the log flush


def test_every_variable_is_read() -> None:
    env = {"DRP_PLUGIN_MAX_BODY": "1024", "DRP_PLUGIN_ACTION_TIMEOUT": "2.5",
           "DRP_PLUGIN_DRP_GONE_GRACE": "7", "DRP_PLUGIN_DRP_PROBE": "0.25",
           "DRP_PLUGIN_STOP_TIMEOUT": "3", "DRP_PLUGIN_LOG_FLUSH": "0.5",
           "DRP_PLUGIN_EXIT_GRACE": "4", "DRP_PLUGIN_MAX_HEADER": "2048",
           "DRP_PLUGIN_MAX_BUFFERED": "4096", "DRP_PLUGIN_MAX_CONNECTIONS": "8",
           "DRP_PLUGIN_IDLE_TIMEOUT": "60", "DRP_PLUGIN_HEADER_TIMEOUT": "1.5",
           "DRP_PLUGIN_BODY_TIMEOUT": "2", "DRP_PLUGIN_LOG_QUEUE_BYTES": "65536",
           "DRP_PLUGIN_LOG_LINE_BYTES": "1024", "DRP_PLUGIN_EVENT_MAX_BYTES": "100",
           "DRP_PLUGIN_EVENT_PENDING_BYTES": "200", "DRP_PLUGIN_EVENT_WS_QUEUE": "2",
           "DRP_PLUGIN_EVENT_MAX_BACKOFF": "3", "DRP_PLUGIN_EVENT_STABLE_AFTER": "4",
           "DRP_PLUGIN_LOOP": "asyncio", "DRP_PLUGIN_SYNC_THREADS": "12",
           "DRP_PLUGIN_SYNC_IDLE": "0.5"}
    assert set(env) == set(VARIABLES)
    assert ListenSettings.from_env(env) == ListenSettings(
        max_body=1024, action_timeout=2.5, drp_gone_grace=7.0, drp_probe_interval=0.25,
        stop_timeout=3.0, log_flush_timeout=0.5, exit_grace=4.0, max_header=2048,
        max_buffered=4096, max_connections=8, idle_timeout=60.0, header_timeout=1.5,
        body_timeout=2.0, log_queue_bytes=65536, log_line_bytes=1024, event_max_bytes=100,
        event_pending_bytes=200, event_ws_queue=2, event_max_backoff=3.0,
        event_stable_after=4.0, loop="asyncio", sync_threads=12, sync_idle=0.5)


def test_defaults_are_the_components_own() -> None:
    """One object parses the variables; its defaults must be the ones each part uses alone."""
    from drp_plugin.events import stream
    from drp_plugin.protocol import logship
    from drp_plugin.protocol.httpserver import ServerLimits
    from drp_plugin.protocol.threads import HandlerThreads

    s = ListenSettings()
    assert s.limits() == ServerLimits()
    threads = HandlerThreads()
    assert (s.sync_threads, s.sync_idle) == (threads.limit, threads.idle_timeout)
    assert (s.log_queue_bytes, s.log_line_bytes) == (logship.DEFAULT_QUEUE_BYTES,
                                                     logship.DEFAULT_LINE_BYTES)
    assert (s.event_max_bytes, s.event_pending_bytes, s.event_ws_queue, s.event_max_backoff,
            s.event_stable_after) == (stream.MAX_EVENT_SIZE, stream.PENDING_BYTES,
                                      stream.WS_QUEUE, stream.MAX_BACKOFF, stream.STABLE_AFTER)


def test_the_provider_gives_the_action_timeout_default_and_the_variable_wins() -> None:
    provider = Provider("p", action_timeout=9.0, base_dir=".")
    assert ListenSettings.from_env({}, provider).action_timeout == 9.0
    assert ListenSettings.from_env({"DRP_PLUGIN_ACTION_TIMEOUT": "1"}, provider).action_timeout == 1.0
    assert ListenSettings.from_env({"DRP_PLUGIN_ACTION_TIMEOUT": "none"}, provider).action_timeout is None
    assert ListenSettings.from_env({"DRP_PLUGIN_ACTION_TIMEOUT": " "}, provider).action_timeout == 9.0


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("DRP_PLUGIN_ACTION_TIMEOUT", "abc", "number of seconds"),
    ("DRP_PLUGIN_ACTION_TIMEOUT", "-1", "number of seconds"),
    ("DRP_PLUGIN_DRP_GONE_GRACE", "nan", "finite"),
    ("DRP_PLUGIN_STOP_TIMEOUT", "inf", "finite"),
    ("DRP_PLUGIN_EXIT_GRACE", "0", "positive"),
    ("DRP_PLUGIN_MAX_BODY", "64MB", "whole number of bytes"),
    ("DRP_PLUGIN_MAX_BODY", "0", "positive"),
    ("DRP_PLUGIN_MAX_BODY", "1.5", "whole number of bytes"),
    ("DRP_PLUGIN_MAX_CONNECTIONS", "many", "whole number"),
    ("DRP_PLUGIN_IDLE_TIMEOUT", "-3", "positive"),
    ("DRP_PLUGIN_LOG_QUEUE_BYTES", "16MiB", "whole number of bytes"),
    ("DRP_PLUGIN_EVENT_WS_QUEUE", "0", "positive"),
    ("DRP_PLUGIN_EVENT_MAX_BACKOFF", "soon", "number of seconds"),
    ("DRP_PLUGIN_LOOP", "trio", "asyncio, uvloop or auto"),
])
def test_a_bad_value_names_its_variable_on_one_line(name: str, value: str, reason: str) -> None:
    with pytest.raises(SettingsError) as info:
        ListenSettings.from_env({name: value})
    text = str(info.value)
    assert text.startswith(f"{name}={value!r} is not valid: ")
    assert reason in text
    assert "\n" not in text
    assert (info.value.variable, info.value.value) == (name, value)
    assert isinstance(info.value, ValueError)


def test_other_variables_are_left_alone() -> None:
    assert ListenSettings.from_env({"DRP_PLUGIN_SOMETHING_ELSE": "x", "PATH": "/bin"}) == ListenSettings()


def test_the_loop_setting_and_the_loops_it_makes() -> None:
    from drp_plugin.protocol.runtime import new_event_loop

    uvloop = pytest.importorskip("uvloop")  # in the dev extra: CI has it
    assert ListenSettings().loop == "auto"
    assert ListenSettings.from_env({"DRP_PLUGIN_LOOP": "UVLoop"}).loop == "uvloop"
    assert [loop_in_use(k) for k in ("asyncio", "uvloop", "auto")] == ["asyncio", "uvloop", "uvloop"]
    for kind, expected in (("asyncio", asyncio.SelectorEventLoop), ("uvloop", uvloop.Loop),
                           ("auto", uvloop.Loop)):
        loop = new_event_loop(kind)
        try:
            assert isinstance(loop, expected), kind
        finally:
            loop.close()


def test_uvloop_asked_for_but_absent_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without uvloop, ``uvloop`` is refused before READY! and ``auto`` means asyncio."""
    import importlib.util
    import sys

    from drp_plugin.protocol.runtime import new_event_loop

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "uvloop" else real(name, *a))
    monkeypatch.setitem(sys.modules, "uvloop", None)  # ``import uvloop`` raises ImportError
    with pytest.raises(SettingsError) as info:
        ListenSettings.from_env({"DRP_PLUGIN_LOOP": "uvloop"})
    assert "uvloop is not installed" in str(info.value) and "\n" not in str(info.value)
    assert ListenSettings.from_env({"DRP_PLUGIN_LOOP": "auto"}).loop == "auto"
    assert loop_in_use("auto") == "asyncio"
    loop = new_event_loop("auto")
    try:
        assert type(loop) is type(asyncio.new_event_loop()) or isinstance(loop, asyncio.SelectorEventLoop)
    finally:
        loop.close()
