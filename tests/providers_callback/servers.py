"""Real HTTP servers on loopback for the callback tests: a recording endpoint and a proxy.

Both are ``http.server`` servers in a daemon thread, bound to 127.0.0.1 on a
random port.  The recorder keeps every request it gets and answers from routes
that tests program (a status, a JSON or raw body, headers, or a function of the
request, or a long answer generated as it is sent: :class:`Reply` ``stream``);
the proxy forwards plain-HTTP requests in absolute form and records
that it did.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
               "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade"}


@dataclass
class Seen:
    """One request as a server got it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> str:
        return urlsplit(self.target).query

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = None            # bytes/str sent as is, anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    sleep: float = 0.0          # seconds to wait before answering (bounded by the server's stop)
    #: Bytes of a generated answer (``body`` ignored): written 1 MiB at a time, never
    #: held whole; ``announce``: with a Content-Length (else it ends when the
    #: connection closes).
    stream: int = 0
    announce: bool = True


@dataclass
class Streamed:
    """One generated answer as the server sent it."""

    path: str
    size: int
    sent: int = 0
    #: The client closed the connection before the end.
    cut: bool = False
    done: threading.Event = field(default_factory=threading.Event)


_MIB = b"x" * (1024 * 1024)


Route = Callable[[Seen], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Base:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.owner = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def record(self, seen: Seen) -> None:
        with self.lock:
            self.requests.append(seen)

    def seen(self, path: str | None = None) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Seen]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.seen(path)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} request(s) to {path} in {timeout}s, "
                                     f"expected {count}: {[r.target for r in self.seen()]}")
            time.sleep(0.02)

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> _Base:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RecorderHandler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return None

    def _handle(self) -> None:
        owner: Recorder = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                    body)
        owner.record(seen)
        reply = owner.answer(seen)
        if reply.sleep:
            owner.stopping.wait(reply.sleep)
        if reply.stream:
            self._stream(owner, seen, reply)
            return
        data = reply.body
        if data is None:
            data = b""
        elif isinstance(data, str):
            data = data.encode()
        elif not isinstance(data, bytes):
            data = json.dumps(data).encode()
            reply.headers.setdefault("Content-Type", "application/json")
        try:
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeouts)

    def _stream(self, owner: Recorder, seen: Seen, reply: Reply) -> None:
        record = Streamed(seen.path, reply.stream)
        with owner.lock:
            owner.streams.append(record)
        try:
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if reply.announce:
                self.send_header("Content-Length", str(reply.stream))
            else:
                self.close_connection = True
            self.end_headers()
            while record.sent < reply.stream and not owner.stopping.is_set():
                chunk = memoryview(_MIB)[:reply.stream - record.sent]
                self.wfile.write(chunk)
                record.sent += len(chunk)
            self.wfile.flush()
        except OSError:
            record.cut = True  # the client stopped reading
            self.close_connection = True
        finally:
            record.done.set()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle  # noqa: N815


class Recorder(_Base):
    """An HTTP endpoint that records requests and answers as programmed."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        #: The generated answers (``Reply.stream``) sent so far.
        self.streams: list[Streamed] = []
        super().__init__(_RecorderHandler)

    def streamed(self, path: str) -> list[Streamed]:
        with self.lock:
            return [s for s in self.streams if s.path == path]

    def route(self, path: str, fn: Route) -> None:
        self.routes[path] = fn

    def reply(self, path: str, status: int = 200, body: Any = None,
              headers: dict[str, str] | None = None) -> None:
        self.routes[path] = lambda seen: Reply(status, body, dict(headers or {}))

    def sequence(self, path: str, *replies: Reply) -> None:
        """Answer the requests to ``path`` with ``replies`` in turn (the last one repeats)."""
        count = [0]

        def answer(seen: Seen) -> Reply:
            with self.lock:
                i = min(count[0], len(replies) - 1)
                count[0] += 1
            r = replies[i]
            return Reply(r.status, r.body, dict(r.headers), r.sleep, r.stream, r.announce)

        self.routes[path] = answer

    def answer(self, seen: Seen) -> Reply:
        route = self.routes.get(seen.path)
        if route is None:
            return Reply(200, {"ok": True, "path": seen.path})
        return route(seen)


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _handle(self) -> None:
        owner: Proxy = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                    body)
        owner.record(seen)
        target = urlsplit(self.path)
        if target.scheme != "http" or target.hostname not in ("127.0.0.1", "localhost"):
            self.send_error(502, "this test proxy forwards plain HTTP to loopback only")
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Via"] = "1.1 test-proxy"
        conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
        try:
            path = target.path or "/"
            if target.query:
                path += "?" + target.query
            conn.request(self.command, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for key, value in resp.getheaders():
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        finally:
            conn.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815


class Proxy(_Base):
    """A forwarding HTTP proxy (absolute-form requests, plain HTTP, loopback targets)."""

    def __init__(self) -> None:
        super().__init__(_ProxyHandler)
