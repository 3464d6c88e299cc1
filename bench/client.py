"""A lean HTTP/1.1 keep-alive client on a unix socket, and the load driver around it.

The request bytes are fixed (built once, byte for byte what h11 writes); every
response is parsed strictly (status, framing) with ``drp_plugin.protocol.http1``,
whose grammar is h11's (differential test in ``tests/wire``) at a fifth of its CPU.

The load runs in ONE forked process that drives all its connections from one
epoll loop, one request in flight per connection, as DRP's Go client does (its
goroutines share one netpoller).  On 2 cores the load generator's CPU is taken
from the provider: four client processes, one per connection, cost 50-70 us of
CPU per request between them (context switches on every reply) and held the
provider to about 18,000 /publish a second at 97% of a core; one process with
one loop costs 31-40 us and leaves the provider the whole of its core.
"""

from __future__ import annotations

import array
import select
import socket
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import h11

from .util import MP, percentile


class KeepAliveClient:
    """One keep-alive connection sending one fixed request over and over."""

    def __init__(self, socket_path: str, path: str, body: bytes, timeout: float = 30.0) -> None:
        from drp_plugin.protocol import http1

        self.http1 = http1
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(socket_path)
        self.parser = http1.Parser(response=True)
        head = h11.Request(method="POST", target=path, headers=[
            ("Host", "unix"), ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))), ("User-Agent", "drp-bench"),
        ])
        probe = h11.Connection(h11.CLIENT)
        self.wire = probe.send(head) + (probe.send(h11.Data(data=body)) or b"") + (
            probe.send(h11.EndOfMessage()) or b"")
        #: When the request in flight was sent (perf_counter_ns), for the load driver.
        self.sent_ns = 0

    def request(self) -> tuple[int, bytes]:
        """Send the request and wait for its response (a blocking socket)."""
        self.sock.sendall(self.wire)
        while True:
            answer = self.answers()
            if answer is not None:
                return answer
            data = self.sock.recv(262144)
            if not data:
                raise ConnectionError("server closed the connection")
            self.parser.feed(data)

    def answers(self) -> tuple[int, bytes] | None:
        """The response complete in what was fed so far, or None."""
        parser = self.parser
        message = self.http1.Parser.MESSAGE
        while True:
            event = parser.next()
            if event is None:
                if parser.stopped:
                    raise ConnectionError("server closed the connection")
                return None
            if event == message:
                head, body = parser.take()
                if parser.stopped:
                    raise ConnectionError("server closes the connection")
                return head.status, bytes(body)

    def close(self) -> None:
        self.sock.close()


def one_request(socket_path: str, path: str, body: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    client = KeepAliveClient(socket_path, path, body, timeout)
    try:
        return client.request()
    finally:
        client.close()


# -- load driver ---------------------------------------------------------------------------------
#: Seconds without any response on any connection before the driver gives up.
ANSWER_TIMEOUT = 30.0


def _client_main(socket_path: str, path: str, body: bytes, conns: int, count: int,
                 duration: float, barrier: Any, out: Connection) -> None:
    """Drive ``conns`` connections from one epoll loop: ``count`` requests in all,
    or new ones for ``duration`` seconds; report latencies and errors on ``out``."""
    try:
        clients = [KeepAliveClient(socket_path, path, body) for _ in range(conns)]
    except OSError as exc:
        barrier.abort()
        out.send({"error": f"connect: {exc}"})
        return
    poller = select.epoll()
    by_fd: dict[int, KeepAliveClient] = {}
    for client in clients:
        # The sockets keep their timeout: epoll says when recv will not wait, and a
        # large body's sendall waits for room as on one connection.
        poller.register(client.sock.fileno(), select.EPOLLIN)
        by_fd[client.sock.fileno()] = client
    lat = array.array("q")
    errors = 0
    first_error = ""
    reply = b""
    perf = time.perf_counter_ns
    try:
        barrier.wait(60)
    except Exception as exc:  # broken barrier: the parent gave up
        out.send({"error": f"barrier: {exc!r}"})
        return
    start = time.monotonic_ns()
    deadline = start + int(duration * 1e9) if duration else 0
    sent = 0
    in_flight = 0

    def more() -> bool:
        return (sent < count) if not duration else (time.monotonic_ns() < deadline)

    def drop(client: KeepAliveClient, exc: BaseException) -> None:
        nonlocal errors, first_error, in_flight
        errors += 1
        first_error = first_error or f"{type(exc).__name__}: {exc}"
        poller.unregister(client.sock.fileno())
        del by_fd[client.sock.fileno()]
        client.close()
        in_flight -= 1

    for client in list(by_fd.values()):
        if not more():
            break
        try:
            client.sent_ns = perf()
            client.sock.sendall(client.wire)
            sent += 1
            in_flight += 1
        except OSError as exc:
            in_flight += 1
            drop(client, exc)
    while in_flight:
        ready = poller.poll(ANSWER_TIMEOUT)
        if not ready:
            errors += in_flight
            first_error = first_error or f"no response within {ANSWER_TIMEOUT:g} s"
            break
        for fd, _ in ready:
            conn = by_fd.get(fd)
            if conn is None:
                continue
            try:
                data = conn.sock.recv(262144)
                if not data:
                    raise ConnectionError("server closed the connection")
                conn.parser.feed(data)
                answer = conn.answers()
                if answer is None:
                    continue
                lat.append(perf() - conn.sent_ns)
                in_flight -= 1
                status, reply = answer
                if status != 200:
                    errors += 1
                    if not first_error:
                        first_error = f"{status}: {reply[:200]!r}"
                if more():
                    conn.sent_ns = perf()
                    conn.sock.sendall(conn.wire)
                    sent += 1
                    in_flight += 1
            except (OSError, conn.http1.HTTPError) as exc:  # a bad response counts
                drop(conn, exc)
    end = time.monotonic_ns()
    for client in by_fd.values():
        client.close()
    poller.close()
    out.send({"start_ns": start, "end_ns": end, "lat": lat.tobytes(), "errors": errors,
              "first_error": first_error, "reply": reply[:200]})


@dataclass
class LoadResult:
    """What ``conns`` clients did: requests, latencies (ns), first start and last end."""

    conns: int
    requests: int = 0
    errors: int = 0
    first_error: str = ""
    start_ns: int = 0
    end_ns: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    reply: bytes = b""
    samples: list[tuple[float, int]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    def latency_ms(self, q: float) -> float:
        return percentile(self.latencies_ns, q) / 1e6


def run_load(socket_path: str, path: str, body: bytes, *, conns: int, total: int = 0,
             duration: float = 0.0, sample: Any = None, sample_every: float = 1.0) -> LoadResult:
    """Drive ``conns`` connections from one client process: ``total`` requests in all,
    or new ones for ``duration`` seconds.  ``sample()`` is called every
    ``sample_every`` seconds while it runs (RSS sampling); its values land in ``samples``."""
    barrier = MP.Barrier(2)
    recv, send = MP.Pipe(duplex=False)
    proc = MP.Process(target=_client_main,
                      args=(socket_path, path, body, conns, total, duration, barrier, send),
                      daemon=True)
    proc.start()
    send.close()
    procs = [proc]
    pipes: list[Connection] = [recv]
    result = LoadResult(conns=conns)
    try:
        barrier.wait(60)
    except Exception:
        pass  # a client failed to connect: its report says why
    t0 = time.monotonic()
    if sample is not None:
        result.samples.append((0.0, sample()))
    reports: list[dict[str, Any]] = []
    pending = list(pipes)
    limit = time.monotonic() + max(600.0, duration * 3)
    next_sample = t0 + sample_every
    while pending:
        timeout = max(0.0, next_sample - time.monotonic()) if sample is not None else 1.0
        for ready in wait(pending, timeout):
            assert isinstance(ready, Connection)
            try:
                reports.append(ready.recv())
            except EOFError:
                reports.append({"error": "client died"})
            pending.remove(ready)
        now = time.monotonic()
        if sample is not None and now >= next_sample:
            result.samples.append((round(now - t0, 2), sample()))
            next_sample += sample_every
        if now > limit:
            reports.append({"error": "clients timed out"})
            break
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.kill()
    starts, ends = [], []
    for rep in reports:
        if "error" in rep:
            result.errors += 1
            result.first_error = result.first_error or rep["error"]
            continue
        lat = array.array("q")
        lat.frombytes(rep["lat"])
        result.latencies_ns.extend(lat)
        result.errors += rep["errors"]
        result.first_error = result.first_error or rep["first_error"]
        result.reply = rep["reply"]
        starts.append(rep["start_ns"])
        ends.append(rep["end_ns"])
    result.requests = len(result.latencies_ns)
    result.latencies_ns.sort()
    result.start_ns = min(starts) if starts else 0
    result.end_ns = max(ends) if ends else 0
    return result
