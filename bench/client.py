"""A lean HTTP/1.1 keep-alive client on a unix socket, and the load driver around it.

The request bytes are fixed (built once, byte for byte what h11 writes); every
response is parsed strictly (status, framing) with ``drp_plugin.protocol.http1``,
whose grammar is h11's (differential test in ``tests/wire``) at a fifth of its CPU:
DRP's Go client is cheaper still, and on 2 cores the load generator's CPU is taken
from the provider.  Each load client runs in its own forked process.
"""

from __future__ import annotations

import array
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

    def request(self) -> tuple[int, bytes]:
        parser = self.parser
        self.sock.sendall(self.wire)
        message = self.http1.Parser.MESSAGE
        while True:
            event = parser.next()
            if event is None:
                if parser.stopped:
                    raise ConnectionError("server closed the connection")
                data = self.sock.recv(262144)
                if not data:
                    raise ConnectionError("server closed the connection")
                parser.feed(data)
            elif event == message:
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
def _client_main(socket_path: str, path: str, body: bytes, count: int, duration: float,
                 barrier: Any, out: Connection) -> None:
    try:
        client = KeepAliveClient(socket_path, path, body)
    except OSError as exc:
        barrier.abort()
        out.send({"error": f"connect: {exc}"})
        return
    lat = array.array("q")
    errors = 0
    first_error = ""
    reply = b""
    perf = time.perf_counter_ns
    try:
        barrier.wait(60)
    except Exception as exc:  # broken barrier: another client failed
        out.send({"error": f"barrier: {exc!r}"})
        return
    start = time.monotonic_ns()
    deadline = start + int(duration * 1e9) if duration else 0
    n = 0
    try:
        while (n < count) if not duration else (time.monotonic_ns() < deadline):
            t0 = perf()
            status, reply = client.request()
            lat.append(perf() - t0)
            n += 1
            if status != 200:
                errors += 1
                if not first_error:
                    first_error = f"{status}: {reply[:200]!r}"
    except (OSError, h11.ProtocolError) as exc:
        errors += 1
        first_error = first_error or f"{type(exc).__name__}: {exc}"
    end = time.monotonic_ns()
    client.close()
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
    """Run ``conns`` client processes: ``total`` requests split between them, or each
    for ``duration`` seconds.  ``sample()`` is called every ``sample_every`` seconds
    while they run (RSS sampling); its values land in ``samples``."""
    barrier = MP.Barrier(conns + 1)
    procs = []
    pipes: list[Connection] = []
    per = [total // conns + (1 if i < total % conns else 0) for i in range(conns)]
    for i in range(conns):
        recv, send = MP.Pipe(duplex=False)
        p = MP.Process(target=_client_main,
                       args=(socket_path, path, body, per[i], duration, barrier, send), daemon=True)
        p.start()
        send.close()
        procs.append(p)
        pipes.append(recv)
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
