"""Answers are read only as far as they are used (issue 22 item 2); token requests carry
no Accept header, as in the Go plugin (issue 23 item 12).

Before, every answer was read whole: a ``callbackDo`` against a target answering
256 MiB took the provider to 1,066-1,123 MiB, and a wrong URL (or one built from a
machine param) could get it killed for memory, stopping every callback.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from drp_plugin.errors import PluginError
from drp_plugin.testing.fixtures import ProviderUnderTest, StandInClient

from .conftest import PROVIDER_DIR, Start
from .servers import Recorder, Reply

MIB = 1024 * 1024
HUGE = 256 * MIB
#: The provider's peak resident memory must stay under this with 256 MiB answers.
PEAK_LIMIT = 300 * MIB
SETTING = "CALLBACK_RESPONSE_MAX_BYTES"


def do(plugin: Any, name: str, **params: Any) -> Any:
    return plugin.action("callbackDo", on="m1.example.com",
                         params={"callback/action": name, **params})


def failure(plugin: Any, name: str) -> PluginError:
    with pytest.raises(PluginError) as info:
        do(plugin, name)
    return info.value


def peak_rss(plugin: ProviderUnderTest) -> int:
    """The highest resident memory (VmHWM) of the plugin's process so far, in bytes."""
    proc = plugin.drp.standin.providers.running[plugin.plugin_name].process.proc
    assert proc is not None
    pid = proc.pid
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


@pytest.fixture
def no_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider runs with the default limit (whatever the test run's environment says)."""
    monkeypatch.delenv(SETTING, raising=False)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status")
def test_huge_answers_are_not_read_and_memory_stays_bounded(
        no_setting: None, start_callback: Start, recorder: Recorder, machine: dict[str, Any],
        drp_client: StandInClient) -> None:
    recorder.sequence("/huge", Reply(200, stream=HUGE))                      # Content-Length
    recorder.sequence("/token", Reply(200, stream=HUGE, announce=False))      # until close
    recorder.sequence("/failing", Reply(500, stream=HUGE))
    recorder.sequence("/moved", Reply(302, headers={"Location": "/small"}, stream=HUGE))
    recorder.sequence("/finished", Reply(200, stream=HUGE))
    plugin = start_callback(
        {"big": {"Url": recorder.url("/huge")},
         "with-token": {"Url": recorder.url("/small"), "Auth": "fat"},
         "failing": {"Url": recorder.url("/failing")},
         "moved": {"Url": recorder.url("/moved"), "JsonResponse": True},
         "small": {"Url": recorder.url("/small"), "StringResponse": True},
         "taskcomplete": {"Url": recorder.url("/finished")}},
        auths={"fat": {"AuthType": "json-token", "Url": recorder.url("/token"),
                       "TokenField": "token"}},
    )

    # The answer of callbackDo is returned to DRP: past the limit, the action fails.
    try:
        outcome: Any = do(plugin, "big")
    except PluginError as exc:
        outcome = exc
    peak = peak_rss(plugin)
    assert peak < PEAK_LIMIT, f"provider peak RSS {peak / MIB:.0f} MiB"
    assert isinstance(outcome, PluginError), f"answered {str(outcome)[:100]!r}..."
    big = outcome
    assert big.code == 400
    assert (f"Answer of callback big for machine m1.example.com is too large: {HUGE} bytes, "
            f"over {SETTING} ({16 * MIB} bytes); it was not read further") in str(big)

    # A token answer is read up to the limit too; the auth fails, and so the callback.
    token = failure(plugin, "with-token")
    assert token.code == 400
    assert "Failed to get auths for callback with-token" in str(token)
    assert f"Auth API answer is too large: over {SETTING} ({16 * MIB} bytes)" in str(token)
    assert recorder.seen("/small") == []

    # An error answer is only quoted: its first bytes are read.
    failing = failure(plugin, "failing")
    assert failing.code == 500
    assert "Callback API returned 500" in str(failing)
    assert f"xxxx... ({HUGE} bytes, not read further)" in str(failing)

    # A redirect's answer is not used; the redirect is followed.
    assert do(plugin, "moved") == {"ok": True, "path": "/small"}

    # An event callback's answer is not used at all.
    drp_client.patch("machines", machine["Uuid"], [
        {"op": "replace", "path": "/Tasks", "value": ["t"]},
        {"op": "replace", "path": "/CurrentTask", "value": 1}])
    plugin.wait_log("callback taskcomplete for machine m1.example.com: POST 200 after 1 attempt(s)")

    for path in ("/huge", "/token", "/failing", "/moved", "/finished"):
        (streamed,) = recorder.streamed(path)
        assert streamed.done.wait(30), path
        assert streamed.cut and streamed.sent < HUGE, (path, streamed.sent)

    # The plugin is alive and well, and its memory never came near the answers' size.
    assert do(plugin, "small") == '{"ok": true, "path": "/small"}'
    peak = peak_rss(plugin)
    assert peak < PEAK_LIMIT, f"provider peak RSS {peak / MIB:.0f} MiB"


@pytest.mark.slow
def test_the_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch, start_callback: Start,
                                recorder: Recorder, machine: dict[str, Any]) -> None:
    monkeypatch.setenv(SETTING, "1000")
    recorder.reply("/exact", 200, b"y" * 1000)
    recorder.reply("/over", 200, b"y" * 1001)
    recorder.sequence("/unannounced", Reply(200, stream=5000, announce=False))
    recorder.reply("/token", 200, {"token": "t" * 2000})
    recorder.reply("/nope", 404, "z" * 5000)
    plugin = start_callback(
        {"exact": {"Url": recorder.url("/exact")},
         "over": {"Url": recorder.url("/over")},
         "unannounced": {"Url": recorder.url("/unannounced"), "StringResponse": True},
         "tokened": {"Url": recorder.url("/api"), "Auth": "tok"},
         "nope": {"Url": recorder.url("/nope")}},
        auths={"tok": {"AuthType": "json-token", "Url": recorder.url("/token"),
                       "TokenField": "token"}},
    )
    assert base64.b64decode(do(plugin, "exact")) == b"y" * 1000   # exactly the limit: fine
    over = failure(plugin, "over")
    assert over.code == 400
    assert f"too large: 1001 bytes, over {SETTING} (1000 bytes)" in str(over)
    unannounced = failure(plugin, "unannounced")
    assert f"too large: more than 1000 bytes, over {SETTING} (1000 bytes)" in str(unannounced)
    assert f"Auth API answer is too large: over {SETTING} (1000 bytes)" in str(
        failure(plugin, "tokened"))
    # An error answer is quoted shortened, the same whatever the limit.
    nope = failure(plugin, "nope")
    assert nope.code == 404 and "zzz... (5000 chars)" in str(nope)


@pytest.mark.slow
def test_token_requests_send_no_accept_header(no_setting: None, start_callback: Start,
                                              recorder: Recorder,
                                              machine: dict[str, Any]) -> None:
    recorder.reply("/token", 200, {"token": "tok-1"})
    plugin = start_callback(
        {"cb": {"Url": recorder.url("/api"), "Auth": "tok"},
         "own-accept": {"Url": recorder.url("/api"), "Headers": {"Accept": "text/plain"}}},
        auths={"tok": {"AuthType": "json-token", "Url": recorder.url("/token"),
                       "Method": "POST", "Data": "{}", "TokenField": "token"}},
    )
    do(plugin, "cb")
    (token,) = recorder.seen("/token")
    assert "accept" not in token.headers          # as the Go plugin: no Accept header
    assert token.headers["content-length"] == "2"
    callback = recorder.seen("/api")[-1]
    assert callback.headers["accept"] == "application/json"   # the callbacks' default
    assert callback.headers["authorization"] == "Bearer tok-1"
    do(plugin, "own-accept")
    assert recorder.seen("/api")[-1].headers["accept"] == "text/plain"


# -- in process ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def settings_mod() -> Iterator[ModuleType]:
    sys.path.insert(0, str(PROVIDER_DIR))
    try:
        import callback_core.settings

        yield callback_core.settings
    finally:
        sys.path.remove(str(PROVIDER_DIR))


@pytest.mark.parametrize("raw, expected", [
    (None, 16 * MIB), ("", 16 * MIB), (" 4096 ", 4096), ("0", None), ("-5", None),
    ("16MiB", None), ("1.5", None),
])
def test_the_setting_is_checked(settings_mod: ModuleType, monkeypatch: pytest.MonkeyPatch,
                                raw: str | None, expected: int | None) -> None:
    if raw is None:
        monkeypatch.delenv(SETTING, raising=False)
    else:
        monkeypatch.setenv(SETTING, raw)
    parsed = settings_mod.parse({"callback/callbacks": {}})
    if expected is not None:
        assert parsed.errors == [] and parsed.max_response == expected
    else:
        assert parsed.errors == [f"{SETTING}={os.environ[SETTING]!r} is not valid: expected a "
                                 "positive number (a number of bytes, set in the provider's "
                                 "environment)"]
