"""Helpers of the wire tests: a provider process and raw unix-socket clients."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

WIRE = Path(__file__).resolve().parent / "wire_provider.py"
ARGV = [sys.executable, str(WIRE)]


def action_request(command: str, params: dict[str, object] | None = None, *,
                   content_type: bytes = b"application/json", body: bytes | None = None,
                   extra: bytes = b"") -> bytes:
    """The bytes of one action request as DRP's Go client writes it."""
    if body is None:
        body = json.dumps({"Command": command, "Params": params or {}, "Model": None,
                           "Plugin": ""}).encode()
    return (b"POST /api-plugin/v4/action HTTP/1.1\r\nHost: unix\r\nUser-Agent: Go-http-client/1.1\r\n"
            b"Content-Type: %s\r\nContent-Length: %d\r\n%s\r\n" % (content_type, len(body), extra)
            + body)


def connect(path: str, timeout: float = 30.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(path)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return data
        if not chunk:
            return data
        data += chunk


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """One response with a Content-Length body (what the provider writes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(data)
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(data)
        rest += chunk
    return status, rest[:length]
