"""N requests at once, one connection each, as DRP's Go client sends a rack's actions.

``python -m bench.burst SOCKET N BODY_FILE [--timeout 120]`` opens N connections to
the unix socket at once (non-blocking dials: one that finds the listen backlog full
fails at once, as Go's dial on a unix socket does, and counts as refused), writes one
``POST /api-plugin/v4/action`` with ``Connection: close`` on each (Go's
``DisableKeepAlives``), reads each answer to the server's close, and prints one JSON
line: statuses, refused dials, errors, wall time from the first dial to the last
answer, latency percentiles, and the first answer of each status.  One process, one
epoll loop, as the rest of the bench's clients.
"""

from __future__ import annotations

import argparse
import errno
import json
import resource
import select
import socket
import sys
import time
from typing import Any

from .util import percentile


def _request(body: bytes) -> bytes:
    return (b"POST /api-plugin/v4/action HTTP/1.1\r\nHost: unix\r\n"
            b"User-Agent: drp-bench-burst\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: " + str(len(body)).encode() +
            b"\r\n\r\n" + body)


def burst(path: str, n: int, body: bytes, timeout: float = 120.0) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    wire = _request(body)
    ep = select.epoll()
    socks: dict[int, tuple[socket.socket, int, bytearray]] = {}
    refused: dict[str, int] = {}
    errors: dict[str, int] = {}
    statuses: dict[str, int] = {}
    samples: dict[str, str] = {}
    latencies: list[float] = []
    start = time.perf_counter_ns()
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        t0 = time.perf_counter_ns()
        try:
            s.connect(path)
        except OSError as exc:
            if exc.errno != errno.EINPROGRESS:
                s.close()
                name = errno.errorcode.get(exc.errno or 0, str(exc))
                refused[name] = refused.get(name, 0) + 1
                continue
        try:
            s.send(wire)  # a few hundred bytes: the socket buffer takes them whole
        except OSError as exc:
            s.close()
            name = errno.errorcode.get(exc.errno or 0, str(exc))
            errors[f"send {name}"] = errors.get(f"send {name}", 0) + 1
            continue
        socks[s.fileno()] = (s, t0, bytearray())
        ep.register(s.fileno(), select.EPOLLIN)
    dialled = time.perf_counter_ns()
    end = dialled
    deadline = time.monotonic() + timeout
    while socks and time.monotonic() < deadline:
        for fd, _ in ep.poll(0.5):
            s, t0, buf = socks[fd]
            try:
                data = s.recv(65536)
            except OSError as exc:
                data = b""
                name = errno.errorcode.get(exc.errno or 0, str(exc))
                errors[f"recv {name}"] = errors.get(f"recv {name}", 0) + 1
                buf.clear()
            if data:
                buf += data
                continue
            ep.unregister(fd)
            s.close()
            del socks[fd]
            end = time.perf_counter_ns()
            if not buf:
                errors["closed without an answer"] = errors.get("closed without an answer", 0) + 1
                continue
            head, _, payload = bytes(buf).partition(b"\r\n\r\n")
            status = head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/1.1 ") else "bad"
            statuses[status] = statuses.get(status, 0) + 1
            samples.setdefault(status, payload[:300].decode(errors="replace"))
            latencies.append((end - t0) / 1e6)
    unanswered = len(socks)
    for s, _, _ in socks.values():
        s.close()
    latencies.sort()
    return {
        "n": n, "statuses": statuses, "refused_dials": refused, "errors": errors,
        "unanswered": unanswered, "answers": samples,
        "dial_seconds": round((dialled - start) / 1e9, 3),
        "wall_seconds": round((end - start) / 1e9, 3),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("socket")
    parser.add_argument("n", type=int)
    parser.add_argument("body_file")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    with open(args.body_file, "rb") as f:
        body = f.read()
    print(json.dumps(burst(args.socket, args.n, body, args.timeout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
