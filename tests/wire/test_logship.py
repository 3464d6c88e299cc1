"""LogShipper over real unix sockets: the cheap line encoder, bounded shutdown,
lines that could not be written are kept and delivered later."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator

import pytest

from drp_plugin.protocol import http1
from drp_plugin.protocol.logship import LogShipper, level_name, log_group


class Sink:
    """DRP's from-plugin socket: counts ``/log`` lines, or never answers (``mute``)."""

    def __init__(self, path: str, mute: bool = False) -> None:
        self.path = path
        self.mute = mute
        self.lines: list[dict[str, object]] = []
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> Sink:
        self.server = await asyncio.start_unix_server(self._serve, path=self.path)
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = http1.Parser()
        date = http1.DateCache()
        try:
            while data := await reader.read(65536):
                if self.mute:
                    continue
                parser.feed(data)
                while (event := parser.next()) is not None:
                    if event == http1.Parser.MESSAGE:
                        _, body = parser.take()
                        self.lines.append(json.loads(body))
                        writer.write(b"HTTP/1.1 204 No Content\r\nDate: %s\r\n\r\n" % date.get())
        finally:
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


@pytest.fixture
async def tmp_socket() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory(prefix="wire-") as tmp:
        yield os.path.join(tmp, "from.sock")


def record(message: str, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("t", level, "/src/some \"file\".py", 7, "%s", (message,), None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


async def test_encoder_writes_what_json_dumps_writes(tmp_socket: str) -> None:
    """The hand-built line is byte for byte ``json.dumps`` of the ``logger.Line``."""
    shipper = LogShipper("svc \"q\" é", tmp_socket, asyncio.get_running_loop())
    log_group.set(42)
    for message, extra in [("plain", {}), ("quote \" backslash \\ tab \t nl \n", {}),
                           ("ctl \x00\x1f del \x7f é ☃ \U0001f600", {}),
                           ("no republish", {"ignore_publish": True})]:
        rec = record(message, logging.WARNING, **extra)
        line = shipper.encode(rec)
        data = json.loads(line)
        expected = {"Group": 42, "Seq": data["Seq"], "Time": data["Time"],
                    "Service": "svc \"q\" é", "Principal": "", "Level": level_name(logging.WARNING),
                    "File": rec.pathname, "Line": 7, "Message": message, "Data": [],
                    "IgnorePublish": bool(extra)}
        assert line == json.dumps(expected, separators=(",", ":"), ensure_ascii=False).encode()


async def test_aclose_is_bounded_when_drp_never_answers(tmp_socket: str) -> None:
    """Issue 10 item 3: a sink that takes the lines and never answers cannot park the
    shutdown: aclose returns (the lines are counted as not delivered)."""
    sink = await Sink(tmp_socket, mute=True).start()
    shipper = LogShipper("svc", tmp_socket, asyncio.get_running_loop())
    shipper.start()
    for i in range(10):
        shipper.emit(record(f"line {i}"))
    await asyncio.sleep(0.2)
    await asyncio.wait_for(shipper.aclose(timeout=0.5), 30)  # a hang guard, not a timing
    assert shipper.sent == 0
    await sink.close()


async def test_lines_wait_while_drp_is_unreachable_then_arrive(tmp_socket: str) -> None:
    """Lines that could not be written at all (no socket, or no descriptor left) are
    kept in order and delivered once DRP's socket answers: none lost, none twice."""
    shipper = LogShipper("svc", tmp_socket, asyncio.get_running_loop())
    shipper.start()
    for i in range(50):
        shipper.emit(record(f"line {i}"))
    await asyncio.sleep(0.3)  # the shipper fails to connect and backs off
    assert shipper.stats()["queued"] == 50
    sink = await Sink(tmp_socket).start()
    assert await shipper.drain(timeout=30)
    assert [line["Message"] for line in sink.lines] == [f"line {i}" for i in range(50)]
    await shipper.aclose()
    assert shipper.stats()["sent"] == 50 and shipper.failed == shipper.dropped == 0
    await sink.close()


async def test_queue_bounded_in_bytes_oldest_dropped_and_counted(tmp_socket: str) -> None:
    """Issue 10 item 5: the queue holds at most ``max_queue_bytes``; the oldest lines go
    first and are counted; a long line is cut with a marker and counted."""
    shipper = LogShipper("svc", tmp_socket, asyncio.get_running_loop(),
                         max_queue_bytes=64 * 1024, max_line=4096)
    for i in range(100):
        shipper.emit(record(f"{i:03d} " + "y" * 10000))
    stats = shipper.stats()
    assert stats["queued_bytes"] <= 64 * 1024
    assert stats["queued"] + stats["dropped"] == 100
    assert stats["truncated"] == 100 and stats["cut_bytes"] > 100 * 5000
    first = json.loads(shipper.queue[0])
    assert first["Message"].startswith(f"{stats['dropped']:03d} ")
    assert first["Message"].endswith(" bytes]") and len(shipper.queue[0]) <= 4096
    await shipper.aclose(timeout=0.1)

