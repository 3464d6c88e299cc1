"""The DRP watchdog: what counts as DRP gone (real unix sockets), and the grace period."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from drp_plugin.protocol.watchdog import GONE, GONE_ERRNOS, UNKNOWN, UP, DrpWatchdog, probe


async def test_probe_states_on_real_sockets(tmp_path: Path) -> None:
    path = str(tmp_path / "drp.sock")
    assert (await probe(path))[0] == GONE  # no file
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    try:
        assert await probe(path) == (UP, "")
    finally:
        server.close()
    state, detail = await probe(path)  # the file stays, nobody listens
    assert (state, detail.split(":")[0]) == (GONE, "ECONNREFUSED")


def test_resource_errors_are_not_gone() -> None:
    for code in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.EAGAIN):
        assert code not in GONE_ERRNOS


def test_grace_counts_only_gone_probes(capsys: object) -> None:
    calls: list[int] = []
    dog = DrpWatchdog("/x", lambda: calls.append(1), grace=10.0)
    assert not dog.step(GONE, "ENOENT: gone", 0.0)
    assert not dog.step(UNKNOWN, "EMFILE: Too many open files", 5.0)
    assert not dog.step(UNKNOWN, "EMFILE: Too many open files", 6.0)
    assert not dog.step(UP, "", 7.0)  # back: the count starts again
    assert dog.gone_since is None
    for now in (100.0, 105.0, 109.9):
        assert not dog.step(GONE, "ECONNREFUSED: refused", now)
    assert dog.step(GONE, "ECONNREFUSED: refused", 110.0)


def test_unknown_alone_never_stops() -> None:
    dog = DrpWatchdog("/x", lambda: None, grace=1.0)
    assert not any(dog.step(UNKNOWN, "EMFILE: Too many open files", float(t)) for t in range(100))
    assert dog.gone_since is None
