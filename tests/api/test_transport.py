"""Transport behaviour against real servers: retries, unix-socket proxy, errors, secrets."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from pathlib import Path

import pytest
from aiohttp import web

from drp_plugin.api import APIConnectionError, APIError, AsyncClient, Client, Retry
from drp_plugin.errors import PluginError

from .servers import DroppingServer, serve

FAST = Retry(attempts=3, backoff=0.01, max_backoff=0.02)
TOKEN = "s3cr3t-t0ken-value"


async def test_idempotent_requests_are_retried_after_dropped_connections() -> None:
    async with DroppingServer(drops=2) as endpoint, AsyncClient(endpoint, TOKEN, retry=FAST) as api:
        assert await api.get("machines", "m1") == {"ok": True}
        assert await api.put("machines", "m1", {}) == {"ok": True}
        assert await api.delete("machines", "m1") == {"ok": True}
        assert await api.exists("machines", "m1") is True


async def test_retries_are_bounded() -> None:
    server = DroppingServer(drops=100)
    async with server as endpoint, AsyncClient(endpoint, TOKEN, retry=FAST) as api:
        with pytest.raises(APIConnectionError) as caught:
            await api.get("machines", "m1")
    assert len(server.requests) == 1 + FAST.attempts
    error = caught.value
    assert isinstance(error, APIError) and isinstance(error, ConnectionError)
    assert error.type == "CLIENT_ERROR" and error.http_status is None
    assert str(error).startswith("CLIENT_ERROR: machines/m1: GET /api/v3/machines/m1: ")


async def test_requests_that_may_have_arrived_are_not_replayed() -> None:
    server = DroppingServer(drops=2)
    async with server as endpoint, AsyncClient(endpoint, TOKEN, retry=FAST) as api:
        with pytest.raises(APIConnectionError):
            await api.create("machines", {"Name": "m"})
        with pytest.raises(APIConnectionError):
            await api.append_job_log("j1", "line\n")  # a PUT, but appending twice is not idempotent
    assert server.requests == [("POST", "/api/v3/machines"), ("PUT", "/api/v3/jobs/j1/log")]


def test_connection_refused_is_retried_with_backoff_for_any_method() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    retry = Retry(attempts=4, backoff=0.05, max_backoff=0.1)
    with Client(f"http://127.0.0.1:{port}", TOKEN, retry=retry) as api:
        started = time.monotonic()
        with pytest.raises(APIConnectionError, match="ConnectError"):
            api.create("machines", {})
        elapsed = time.monotonic() - started
    assert 0.05 + 0.1 + 0.1 + 0.1 <= elapsed < 2.0


def _recording_app(seen: list[web.Request], status: int = 200, body: object = None) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        seen.append(request)
        await request.read()
        return web.json_response(body if body is not None else {"path": request.path}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def test_requests_go_through_the_local_proxy_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[web.Request] = []
    path = str(tmp_path / "proxy.sock")
    async with serve(_recording_app(seen), unix=path):
        monkeypatch.setenv("RS_LOCAL_PROXY", path)
        monkeypatch.setenv("RS_ENDPOINT", "https://192.0.2.1:8092")  # unreachable: must not be used
        monkeypatch.setenv("RS_TOKEN", TOKEN)
        async with AsyncClient.from_env() as api:
            assert api.settings.local_proxy == path
            assert await api.info() == {"path": "/api/v3/info"}
        with Client.from_env() as sync_api:
            assert await asyncio.to_thread(sync_api.objects) == {"path": "/api/v3/objects"}
    assert [r.headers["Authorization"] for r in seen] == [f"Bearer {TOKEN}"] * 2


async def test_a_local_proxy_that_is_no_socket_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_socket = tmp_path / "file"
    not_a_socket.write_text("")
    monkeypatch.setenv("RS_LOCAL_PROXY", str(not_a_socket))
    async with AsyncClient("https://drp.example:8092", TOKEN) as api:
        assert api.settings.local_proxy is None
        assert api.settings.base_url == "https://drp.example:8092"


async def test_urls_escape_keys_and_keep_param_name_slashes() -> None:
    seen: list[web.Request] = []
    async with serve(_recording_app(seen, body={})) as endpoint, AsyncClient(endpoint, TOKEN) as api:
        await api.get("machines", "Name:a b/c?d#e%f")
        await api.get_param("machines", "u1", "incrementer/parameter", aggregate=True)
        await api.download_file("isos/a b.iso")
        await api.run_action("machines", "u1", "do it", {"x": 1}, plugin="p1")
        await api.upload_plugin_provider("incr", b"\x7fELF", replace_writable=True)
        await api.run_plugin_action("incr", "status", {"a": 1})
        await api.run_system_action("incrstatus", plugin="incr")
    raw = [r.raw_path for r in seen]
    assert raw == [
        "/api/v3/machines/Name:a%20b%2Fc%3Fd%23e%25f",
        "/api/v3/machines/u1/params/incrementer/parameter?aggregate=true",
        "/api/v3/files/isos/a%20b.iso",
        "/api/v3/machines/u1/actions/do%20it?plugin=p1",
        "/api/v3/plugin_providers/incr?replaceWritable=true",
        "/api/v3/plugins/incr/actions/status",
        "/api/v3/system/actions/incrstatus?plugin=incr",
    ]
    assert seen[2].headers["Accept"] == "application/octet-stream"
    assert seen[4].headers["Content-Type"] == "application/octet-stream"


async def test_error_bodies_become_api_errors_without_the_token() -> None:
    echo = {"Model": "machines", "Key": "m1", "Type": "AUTH", "Code": 403,
            "Messages": [f"token {TOKEN} is not allowed", "second"]}
    async with serve(_recording_app([], status=403, body=echo)) as endpoint:
        async with AsyncClient(endpoint, TOKEN) as api:
            with pytest.raises(APIError) as caught:
                await api.get("machines", "m1")
    error = caught.value
    assert isinstance(error, PluginError)
    assert (error.code, error.http_status, error.model, error.key, error.type) == (403, 403, "machines", "m1", "AUTH")
    assert str(error) == "AUTH: machines/m1\n  token <redacted> is not allowed\n  second"
    for text in (str(error), repr(error), repr(api), repr(api.settings)):
        assert TOKEN not in text


async def test_non_json_errors_keep_status_and_context() -> None:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>bad gateway</html>")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serve(app) as endpoint, AsyncClient(endpoint, TOKEN, retry=FAST) as api:
        with pytest.raises(APIError) as caught:
            await api.list("typed-cows")
    assert caught.value.code == 502
    assert str(caught.value) == "API_ERROR: typed-cows: 502 Bad Gateway: <html>bad gateway</html>"


async def test_exists_is_false_only_for_404() -> None:
    async with serve(_recording_app([], status=404, body={})) as endpoint, AsyncClient(endpoint, TOKEN) as api:
        assert await api.exists("machines", "nope") is False
    async with serve(_recording_app([], status=500, body={})) as endpoint, AsyncClient(endpoint, TOKEN) as api:
        with pytest.raises(APIError, match="500"):
            await api.exists("machines", "nope")


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RS_LOCAL_PROXY", raising=False)
    monkeypatch.delenv("RS_ENDPOINT", raising=False)
    monkeypatch.setenv("RS_TOKEN", TOKEN)
    with Client() as api:
        assert api.endpoint == "https://127.0.0.1:8092"
        assert api.authorization() == f"Bearer {TOKEN}"
    monkeypatch.delenv("RS_TOKEN")
    with pytest.raises(ValueError, match="no API credentials"):
        Client()


def test_tls_verification_is_opt_in(tmp_path: Path) -> None:
    def context(api: AsyncClient) -> ssl.SSLContext:
        return api.settings.transport_options()["verify"]

    assert context(AsyncClient("https://x", TOKEN)).verify_mode == ssl.CERT_NONE
    assert context(AsyncClient("https://x", TOKEN, verify=True)).verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ValueError, match="missing-ca.pem: No such file"):
        AsyncClient("https://x", TOKEN, verify=str(tmp_path / "missing-ca.pem"))
    assert "verify" not in AsyncClient("http://x", TOKEN).settings.transport_options()


async def test_job_logs_and_raw_requests() -> None:
    seen: list[tuple[str, str, str, bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((request.method, request.raw_path, request.content_type, body))
        if request.path.endswith("/log") and request.method == "GET":
            return web.Response(body=b"line 1\nline 2\n", content_type="application/octet-stream")
        if request.path == "/api/v3/plain":
            return web.Response(text="Running")
        return web.Response(status=204) if request.method == "PUT" else web.json_response([1])

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serve(app) as endpoint, AsyncClient(endpoint, TOKEN) as api:
        await api.append_job_log("j-1", "line 2\n")
        assert await api.get_job_log("j-1") == b"line 1\nline 2\n"
        assert await api.request("POST", "/events", json={"Type": "x"}, params=[("a", "1")]) == [1]
        assert await api.request("PUT", "/raw", content=b"\x00", content_type="text/plain") is None
        with pytest.raises(APIError, match="answer is not JSON") as caught:
            await api.request("GET", "/plain")
    assert caught.value.type == "CLIENT_ERROR" and caught.value.code == 200
    assert seen == [
        ("PUT", "/api/v3/jobs/j-1/log", "application/octet-stream", b"line 2\n"),
        ("GET", "/api/v3/jobs/j-1/log", "application/octet-stream", b""),
        ("POST", "/api/v3/events?a=1", "application/json", b'{"Type":"x"}'),
        ("PUT", "/api/v3/raw", "text/plain", b"\x00"),
        ("GET", "/api/v3/plain", "application/octet-stream", b""),
    ]
