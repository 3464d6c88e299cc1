"""Property-based fuzzing of the to-plugin server (hypothesis, real unix socket).

Whatever arrives, the process stays up, every reply is valid HTTP/1.1, every error
is a ``models.Error`` with the reply's status, and a normal action is answered
right after.  ``--heavy`` runs 10,000 cases per property instead of a few hundred.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.helpers import (
    MAX_BODY,
    BackgroundHost,
    exchange,
    is_models_error,
    normal_action,
)

PATHS = ["/api-plugin/v4/action", "/api-plugin/v4/config", "/api-plugin/v4/publish",
         "/api-plugin/v4/unknown", "/", "/api-plugin/v4/action?x=1", "/api-plugin/v4/action/"]
METHODS = ["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "BREW"]
CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                 "text/plain", "", "application/x-www-form-urlencoded"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
action_like = st.fixed_dictionaries({}, optional={
    "Command": json_values | st.sampled_from(["echo", "boom", "teapot", "incrstatus", "log"]),
    "Model": json_values, "Params": json_values, "Plugin": json_values, "CommandSet": json_values,
    "Type": json_values, "Action": json_values, "Key": json_values, "Object": json_values,
})
bodies = st.one_of(
    action_like.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    action_like.map(lambda d: json.dumps(d).encode()).flatmap(
        lambda b: st.integers(0, max(len(b) - 1, 0)).map(lambda n: b[:n])),  # truncated
    st.integers(50, 3000).map(lambda depth: b"[" * depth + b"]" * depth),  # deeply nested
    st.just(b"\xff\xfe\x00 not utf-8"),
)


def heavy(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--heavy"))


def request_bytes(method: str, path: str, content_type: str, body: bytes, length: int | None,
                  close: bool = True) -> bytes:
    headers = [f"{method} {path} HTTP/1.1", "Host: unix"]
    if close:
        headers.append("Connection: close")
    if content_type:
        headers.append(f"Content-Type: {content_type}")
    headers.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def check(host: BackgroundHost, responses: list[tuple[int, bytes]], expect_one: bool = True) -> None:
    assert host.alive(), "provider process died"
    if expect_one:
        assert responses, "no valid HTTP response"
    for status, body in responses:
        assert 100 <= status <= 599
        if status >= 400 and body:
            assert is_models_error(body, status), body[:300]


@pytest.fixture(scope="module")
def examples(request: pytest.FixtureRequest) -> int:
    return 10_000 if heavy(request) else 300


@pytest.mark.slow
def test_fuzz_requests(background_host: BackgroundHost, examples: int) -> None:
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(METHODS), st.sampled_from(PATHS), st.sampled_from(CONTENT_TYPES), bodies)
    def case(method: str, path: str, content_type: str, body: bytes) -> None:
        responses = exchange(background_host.path, request_bytes(method, path, content_type, body, None),
                             method=method)
        check(background_host, responses)
        if path.startswith("/api-plugin/v4/action") and "?" not in path and method == "POST" \
                and "json" in content_type.lower():
            status, _ = responses[0]
            assert status in (200, 400, 404, 418, 500), status

    case()
    assert normal_action(background_host.path)[0] == 200


def test_fuzz_raw_garbage(background_host: BackgroundHost, examples: int) -> None:
    @settings(max_examples=examples // 3, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.binary(min_size=1, max_size=400))
    def case(data: bytes) -> None:
        responses = exchange(background_host.path, data, half_close=True, timeout=5)
        check(background_host, responses, expect_one=False)

    case()
    assert normal_action(background_host.path)[0] == 200


def test_pipelined_requests_are_answered_in_order(background_host: BackgroundHost) -> None:
    one = request_bytes("POST", "/api-plugin/v4/action", "application/json",
                        json.dumps({"Command": "echo", "Params": {"kitchen/a": 1}}).encode(), None,
                        close=False)
    two = request_bytes("POST", "/api-plugin/v4/action", "application/json",
                        json.dumps({"Command": "teapot"}).encode(), None, close=False)
    three = request_bytes("GET", "/api-plugin/v4/action", "", b"", None)
    responses = exchange(background_host.path, one + two + three)
    assert [status for status, _ in responses] == [200, 418, 404]


def test_half_closed_connection_still_gets_its_answer(background_host: BackgroundHost) -> None:
    data = request_bytes("POST", "/api-plugin/v4/action", "application/json",
                         json.dumps({"Command": "echo", "Params": {"kitchen/a": 1}}).encode(), None)
    responses = exchange(background_host.path, data, half_close=True)
    assert [status for status, _ in responses] == [200]


def test_oversized_body_is_refused_before_it_is_read(background_host: BackgroundHost) -> None:
    head = request_bytes("POST", "/api-plugin/v4/action", "application/json", b"", MAX_BODY + 1)
    # Only the head is sent: the 413 must come without the body.
    responses = exchange(background_host.path, head)
    assert [status for status, _ in responses] == [413]
    assert is_models_error(responses[0][1], 413)
    chunked = (b"POST /api-plugin/v4/action HTTP/1.1\r\nHost: unix\r\nContent-Type: application/json\r\n"
               b"Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    payload = chunked + b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(6))
    responses = exchange(background_host.path, payload)
    assert [status for status, _ in responses] == [413]
    assert normal_action(background_host.path)[0] == 200


def test_wrong_json_types_for_every_field(background_host: BackgroundHost) -> None:
    wrong: list[object] = [1, "x", [1], {"a": 1}, True, 1.5]
    for field in ("Command", "Plugin", "CommandSet", "Params"):
        for value in wrong:
            if field == "Params" and isinstance(value, dict):
                continue
            if field != "Params" and isinstance(value, str):
                continue
            body = json.dumps({"Command": "echo", field: value}).encode()
            responses = exchange(background_host.path,
                                 request_bytes("POST", "/api-plugin/v4/action", "application/json", body, None))
            assert [s for s, _ in responses] == [400], (field, value, responses)
            assert field in json.loads(responses[0][1])["Messages"][0]
    for field in ("Type", "Action", "Key", "Time", "Principal"):
        body = json.dumps({field: 5}).encode()
        responses = exchange(background_host.path,
                             request_bytes("POST", "/api-plugin/v4/config", "application/json", body, None))
        assert responses[0][0] == 200  # config is a free-form object
    assert normal_action(background_host.path)[0] == 200
