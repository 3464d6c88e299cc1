"""Auth chains end to end: basic, json-token (with its cache), exec, fallthrough on 401/403."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from drp_plugin.errors import PluginError

from .conftest import Start
from .servers import Recorder, Reply, Seen


def do(plugin: Any, name: str, **params: Any) -> Any:
    return plugin.action("callbackDo", on="m1.example.com",
                         params={"callback/action": name, **params})


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def guarded(accepted: set[str], forbidden: frozenset[str] | set[str] = frozenset()) -> Any:
    """A route answering 200 to an accepted Authorization header, 403 to a forbidden one,
    401 to any other (or none)."""

    def answer(seen: Seen) -> Reply:
        header = seen.headers.get("authorization")
        if header in accepted:
            return Reply(200, {"hello": header})
        return Reply(403 if header in forbidden else 401, "denied")

    return answer


@pytest.mark.slow
def test_basic_auth(start_callback: Start, recorder: Recorder, machine: dict[str, Any]) -> None:
    recorder.route("/api", guarded({basic("drp", "s3cret")}))
    plugin = start_callback(
        {"cb": {"Url": recorder.url("/api"), "Auth": "site", "JsonResponse": True},
         "anonymous": {"Url": recorder.url("/api")}},
        auths={"site": {"AuthType": "basic", "Username": "drp", "Password": "s3cret"}},
    )
    assert do(plugin, "cb") == {"hello": basic("drp", "s3cret")}
    with pytest.raises(PluginError) as info:
        do(plugin, "anonymous")
    assert info.value.code == 401
    # Secrets never reach DRP's log.
    assert not any("s3cret" in line for line in plugin.log_messages)


@pytest.mark.slow
def test_fallthrough_after_401_and_403_and_failed_auths(
        start_callback: Start, recorder: Recorder, machine: dict[str, Any]) -> None:
    recorder.route("/api", guarded({basic("good", "pw")}, forbidden={basic("locked", "pw")}))
    recorder.reply("/token", 500, "token service down")
    plugin = start_callback(
        {"cb": {"Url": recorder.url("/api"), "Auth": "broken-token",
                "Auths": ["wrong-user", "locked-user", "good"], "StringResponse": True,
                "Retry": 1},
         "none-left": {"Url": recorder.url("/api"), "Auths": ["locked-user"], "Retry": 1}},
        auths={
            "broken-token": {"AuthType": "json-token", "Url": recorder.url("/token"),
                             "TokenField": "token"},
            "wrong-user": {"AuthType": "basic", "Username": "bad", "Password": "pw"},
            "locked-user": {"AuthType": "basic", "Username": "locked", "Password": "pw"},
            "good": {"AuthType": "basic", "Username": "good", "Password": "pw"},
        },
    )
    assert json.loads(do(plugin, "cb")) == {"hello": basic("good", "pw")}
    assert len(recorder.seen("/token")) == 1          # the token auth failed: next one
    tries = [s.headers.get("authorization") for s in recorder.seen("/api")]
    # 401, then 403: each refused auth is left at once (no retry with refused credentials)
    assert tries == [basic("bad", "pw"), basic("locked", "pw"), basic("good", "pw")]

    with pytest.raises(PluginError) as info:
        do(plugin, "none-left")
    assert info.value.code == 403                     # the last auth's refusal, kept
    assert len(recorder.seen("/api")) == 5            # the last auth is retried (Retry 1)


@pytest.mark.slow
def test_json_token_flow_and_cache(start_callback: Start, recorder: Recorder,
                                   machine: dict[str, Any]) -> None:
    issued: list[str] = []

    def token(seen: Seen) -> Reply:
        issued.append(f"tok-{len(issued) + 1}")
        return Reply(200, {"access_token": issued[-1], "expires_in": 2})

    recorder.route("/oauth/token", token)
    recorder.route("/api", lambda seen: Reply(
        200 if issued and seen.headers.get("authorization") == f"Bearer {issued[-1]}" else 401,
        {"auth": seen.headers.get("authorization"),
         "authentication": seen.headers.get("authentication")}))
    plugin = start_callback(
        {"cb": {"Url": recorder.url("/api"), "Auth": "oauth", "JsonResponse": True}},
        auths={"oauth": {"AuthType": "json-token", "Url": recorder.url("/oauth/token?old=1"),
                         "Method": "POST", "Data": "grant_type=client_credentials",
                         "Query": "scope=drp", "TokenField": "access_token",
                         "DurationField": "expires_in"}},
    )
    assert do(plugin, "cb") == {"auth": "Bearer tok-1", "authentication": "Bearer tok-1"}
    assert do(plugin, "cb")["auth"] == "Bearer tok-1"          # cached
    requests = recorder.seen("/oauth/token")
    assert len(requests) == 1
    assert requests[0].method == "POST"
    assert requests[0].query == "scope=drp"                    # Query replaces the URL's
    assert requests[0].body == b"grant_type=client_credentials"
    time.sleep(1.6)                                            # 3/4 of the 2 s lifetime passed
    assert do(plugin, "cb")["auth"] == "Bearer tok-2"
    assert len(recorder.seen("/oauth/token")) == 2


@pytest.mark.slow
def test_refused_cached_token_is_fetched_again(start_callback: Start, recorder: Recorder,
                                               machine: dict[str, Any]) -> None:
    issued: list[str] = []

    def token(seen: Seen) -> Reply:
        issued.append(f"t{len(issued) + 1}")
        return Reply(200, {"token": issued[-1]})              # no duration: 1 h, reused 45 min

    recorder.route("/token", token)
    recorder.route("/api", lambda seen: Reply(
        200 if seen.headers.get("authorization") == f"Bearer {issued[-1]}" else 401, "ok"))
    plugin = start_callback(
        {"cb": {"Url": recorder.url("/api"), "Auth": "tok", "StringResponse": True}},
        auths={"tok": {"AuthType": "json-token", "Url": recorder.url("/token"),
                       "TokenField": "token"}})
    assert do(plugin, "cb") == "ok"
    issued.append("revoked-and-reissued")                      # the server forgets t1
    assert do(plugin, "cb") == "ok"
    assert [s.headers.get("authorization") for s in recorder.seen("/api")] == [
        "Bearer t1", "Bearer t1", "Bearer t3"]


@pytest.mark.slow
def test_exec_auth_and_get_auth_string(start_callback: Start, recorder: Recorder,
                                       machine: dict[str, Any], tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    script = tmp_path / "token.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"echo run >> '{runs}'\n"
        "echo 'a warning on stderr' >&2\n"
        "printf '  exec-token-42 \\n\\n'\n"
    )
    script.chmod(0o755)
    failing = tmp_path / "fail.sh"
    failing.write_text("#!/bin/sh\necho 'no token for you' >&2\nexit 3\n")
    failing.chmod(0o755)
    recorder.route("/api", guarded({"Bearer exec-token-42"}))
    plugin = start_callback(
        {"cb": {"Url": recorder.url("/api"), "Auths": ["broken", "script"],
                "StringResponse": True},
         "body": {"Url": recorder.url("/body"), "RawBody": True}},
        auths={"script": {"AuthType": "exec", "Path": str(script)},
               "broken": {"AuthType": "exec", "Path": str(failing)}})
    assert "exec-token-42" in do(plugin, "cb")
    assert "exec-token-42" in do(plugin, "cb")
    assert runs.read_text().count("run") == 1                    # cached (45 minutes)
    assert any("exit status 3" in line for line in plugin.log_messages)

    do(plugin, "body", **{"callback/data-override": '{"t": "{{ GetAuthString("script") }}"}'})
    assert recorder.seen("/body")[-1].json() == {"t": "exec-token-42"}
    with pytest.raises(PluginError) as info:
        do(plugin, "body", **{"callback/data-override": '{{ GetAuthString("broken") }}'})
    assert info.value.code == 400 and "GetAuthString broken" in str(info.value)
