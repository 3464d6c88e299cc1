"""The build cache's kept resolutions under builds running at once (two pytest workers,
two terminals): a reader gets one whole entry or none, never a mix or a half."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from drp_plugin.shipping.wheels import _keep_resolution, _reuse_resolution


def _generation(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    wheels = []
    for name in ("alpha", "beta", "gamma"):
        wheel = folder / f"{name}-1.0-py3-none-any.whl"
        wheel.write_bytes(f"{n}:".encode() * 2000)
        wheels.append(wheel)
    return wheels


def test_a_reader_gets_a_whole_entry_while_writers_swap_it(tmp_path: Path) -> None:
    cached = tmp_path / "cache" / "key"
    logs: list[str] = []
    _keep_resolution(cached, (3, 9), _generation(tmp_path / "gen0", 0), logs.append)
    assert logs == []
    stop = threading.Event()

    def writer(first: int) -> None:
        n = first
        while not stop.is_set():
            _keep_resolution(cached, (3, 9 + n % 3), _generation(tmp_path / f"w{first}", n),
                             logs.append)
            n += 2

    writers = [threading.Thread(target=writer, args=(k,)) for k in (1, 2)]
    for thread in writers:
        thread.start()
    whole = 0
    deadline = time.monotonic() + 1.0
    try:
        while time.monotonic() < deadline:
            dest = tmp_path / "dest"
            dest.mkdir(exist_ok=True)
            got = _reuse_resolution(cached, dest, logs.append)
            if got is None:
                assert not list(dest.glob("*.whl"))        # nothing half-copied is left
                continue
            floor, wheels = got
            contents = {w.read_bytes() for w in wheels}
            assert len(wheels) == 3 and len(contents) == 1, [w.name for w in wheels]
            generation = int(contents.pop().split(b":")[0])
            assert floor == (3, 9 + generation % 3)        # the floor of the same entry
            whole += 1
            for wheel in wheels:
                wheel.unlink()
    finally:
        stop.set()
        for thread in writers:
            thread.join(timeout=10)
    assert whole > 0
    # two writers at once: the later swap may find the name taken, and only says so
    assert all(m.startswith("reusing the packages") or "Directory not empty" in m
               for m in logs), logs[:5]
    leftovers = [p.name for p in cached.parent.iterdir() if p != cached]
    assert leftovers == []                                 # no .tmp or .old entry stays


def test_an_expired_or_missing_entry_is_not_reused(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    assert _reuse_resolution(tmp_path / "none", dest, print) is None
    cached = tmp_path / "key"
    _keep_resolution(cached, (3, 10), _generation(tmp_path / "g", 1), print)
    reused = _reuse_resolution(cached, dest, print)
    assert reused is not None and reused[0] == (3, 10) and len(reused[1]) == 3
