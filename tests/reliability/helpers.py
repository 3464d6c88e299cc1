"""Helpers of the reliability tests: a provider running in the background, reachable
from sync code, and raw-socket exchanges with it."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import Any

import h11

from drp_plugin.testing import PluginHost
from tests.helpers import KITCHEN, run_args

MAX_BODY = 256 * 1024


class BackgroundHost:
    """A :class:`PluginHost` whose event loop runs in a thread."""

    def __init__(self, env: dict[str, str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.host = PluginHost(run_args(KITCHEN), env={
            **env, "DRP_PLUGIN_MAX_BODY": str(MAX_BODY), "DRP_PLUGIN_DRP_GONE_GRACE": "3600"})
        self.call(self.host.start())
        assert self.call(self.host.config({"Name": "kitchen"})).status == 200

    def call(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def path(self) -> str:
        return self.host.to_path

    def alive(self) -> bool:
        process = self.host.process
        return process is not None and process.returncode is None

    def close(self) -> None:
        self.call(self.host.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def exchange(path: str, data: bytes, *, half_close: bool = False, timeout: float = 20.0,
             method: str = "POST") -> list[tuple[int, bytes]]:
    """Send raw bytes, read until the server closes; parse every response.

    Requests carry ``Connection: close`` (or the socket is half-closed), so the
    server closes when it is done: no guessing with short timeouts.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse early (413) and close
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return parse_responses(received, method)


def parse_responses(data: bytes, method: str = "POST") -> list[tuple[int, bytes]]:
    """Every HTTP/1.1 response in ``data``; raises if it is not valid HTTP."""
    responses = []
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(data)
    conn.receive_data(b"")
    while True:
        # h11's client needs a request to expect a response: fake the send side.
        conn.send(h11.Request(method="HEAD" if method == "HEAD" else "POST", target="/", headers=[("Host", "x"), ("Content-Length", "0")]))
        conn.send(h11.EndOfMessage())
        status, body = 0, b""
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                if status == 0:  # the server closed between responses: fine
                    return responses
                raise
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                responses.append((status, body))
                break
            elif event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                return responses
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is not h11.DONE:
            return responses
        conn.start_next_cycle()


def is_models_error(body: bytes, status: int) -> bool:
    data = json.loads(body)
    return (isinstance(data, dict) and set(data) == {"Model", "Key", "Type", "Messages", "Code"}
            and data["Code"] == status
            and (data["Messages"] is None or all(isinstance(m, str) for m in data["Messages"])))


def normal_action(path: str) -> tuple[int, bytes]:
    body = json.dumps({"Command": "echo", "Params": {"kitchen/a": 1},
                       "Model": {"Uuid": "u-1"}}).encode()
    request = (b"POST /api-plugin/v4/action HTTP/1.1\r\nHost: unix\r\nContent-Type: application/json\r\n"
               b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    responses = exchange(path, request)
    assert len(responses) == 1
    return responses[0]


async def until_started(host: PluginHost, command: str, count: int, timeout: float = 60) -> None:
    """Wait (bounded) until ``count`` actions ``command`` have started in the provider."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while sum(1 for line in host.logs if line["Message"] == f"Action: {command}") < count:
        assert loop.time() < deadline, "the actions did not start"
        await asyncio.sleep(0.02)
