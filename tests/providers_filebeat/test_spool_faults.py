"""The filebeat spool under a full disk and against planted links (issue 16, items 4-5).

The full disk is real: a subprocess runs the spool under ``RLIMIT_FSIZE``, so its spool
file's writes fail with ``EFBIG`` as they would on a full file system (``ENOSPC``).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from drp_plugin.errors import PluginError
from drp_plugin.standin import StandInThread
from drp_plugin.testing.fixtures import ProviderUnderTest

from .peer import LinePeer
from .test_filebeat import file_params, keys_of, post_events, published, start_filebeat, tcp_params

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "providers" / "filebeat"
LOG = logging.getLogger("test.filebeat.spool")

FULL_DISK = textwrap.dedent("""
    import asyncio, json, logging, resource, sys
    from filebeat_core.spool import Spool, SpoolFile

    LIMIT = int(sys.argv[2])

    async def main():
        spool = Spool(SpoolFile(sys.argv[1]), 4, 1 << 20, logging.getLogger("spool"),
                      retry_min=0.01, retry_max=0.05)
        # Only now: the files already open are not affected by the limit, their size is.
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.RLIM_INFINITY))
        lines = [b'{"n":%06d}\\n' % i for i in range(400)]       # 400 x 13 bytes
        producer = asyncio.ensure_future(_produce(spool, lines))
        while not spool.write_failures:                          # the disk is full
            await asyncio.sleep(0.01)
        held = not producer.done()
        taken = []
        while len(taken) < len(lines):
            batch = await spool.take(100, 10)
            assert batch, "nothing to take"
            taken.extend(batch)
        await producer
        with open(spool.disk.path, "rb") as fh:
            left = fh.read()
        print(json.dumps({"ok": taken == lines, "taken": len(taken), "held": held,
                          "failures": spool.write_failures, "left": left.decode()}))

    async def _produce(spool, lines):
        for line in lines:
            await spool.put(line)

    asyncio.run(main())
""")


def test_a_full_disk_holds_the_stream_back_and_loses_nothing(tmp_path: Path) -> None:
    """On main ``OSError(27, 'File too large')`` from put killed the pump, and the write
    buffer kept the failed line's bytes: after recovery one line was silently dropped."""
    spool_dir = tmp_path / "spool"
    env = {**os.environ, "PYTHONPATH": f"{FOLDER}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "PYTHONDONTWRITEBYTECODE": "1"}
    # 1,000 bytes: 76 lines fit, the 77th is cut short by the limit and must not remain.
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(spool_dir), "1000"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"], result
    assert result["held"] and result["failures"] >= 1
    assert "cannot write to the spool file" in done.stderr and "File too large" in done.stderr
    assert "takes events again" in done.stderr
    assert result["left"] == ""  # read to its end, emptied


def test_a_planted_link_is_never_followed(fb: SimpleNamespace, tmp_path: Path) -> None:
    """On main a planted ``events.jsonl`` link made the plugin forward the target's lines
    as events and then truncate the target to zero."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"line one\nline two\npartial")
    for name in ("events.jsonl", "lock"):
        folder = tmp_path / name.replace(".", "-")
        folder.mkdir(mode=0o700)
        (folder / name).symlink_to(victim)
        with pytest.raises(OSError):
            fb.SpoolFile(str(folder))
        assert victim.read_bytes() == b"line one\nline two\npartial"


async def test_persist_never_writes_through_a_planted_link(fb: SimpleNamespace,
                                                           tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me\n")
    folder = tmp_path / "spool"
    spool = fb.Spool(fb.SpoolFile(str(folder)), 2, 1 << 20, LOG)
    (folder / "events.jsonl.new").symlink_to(victim)
    assert spool.persist([b'{"n":1}\n'], []) == (1, 0)
    spool.close()
    assert victim.read_bytes() == b"keep me\n"
    assert (folder / "events.jsonl").read_bytes() == b'{"n":1}\n'


def test_a_spool_folder_others_can_write_is_refused(fb: SimpleNamespace, tmp_path: Path) -> None:
    """On main only the default spool folder was checked."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(OSError, match="writable by other users"):
        fb.SpoolFile(str(shared))
    assert not (shared / "events.jsonl").exists()


@pytest.mark.slow
def test_the_provider_refuses_such_a_spool_dir(drp_provider: Callable[..., ProviderUnderTest],
                                               drp_standin: StandInThread, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o775)
    with pytest.raises(PluginError) as info:
        start_filebeat(drp_standin, drp_provider, file_params(tmp_path / "out.json", shared))
    assert "filebeat/spool-dir" in str(info.value)
    assert "writable by other users" in str(info.value)


@pytest.mark.slow
def test_the_provider_waits_out_a_full_disk(drp_provider: Callable[..., ProviderUnderTest],
                                            drp_standin: StandInThread, tmp_path: Path) -> None:
    """End to end: the provider's spool file limited to 4 KiB (``prlimit``) while the peer
    is down.  On main the pump died on ``EFBIG``: nothing was forwarded until a restart,
    even after space returned.  Now every event arrives once, in order."""
    peer = LinePeer()
    try:
        port = peer.start()
        peer.stop()  # nobody listens: events go to memory, then to the spool file
        params = tcp_params(port, tmp_path / "spool", **{"filebeat/queue-size": 20})
        plugin = start_filebeat(drp_standin, drp_provider, params)
        process = plugin.drp.standin.providers.running[plugin.plugin_name].process.proc
        assert process is not None
        _, hard = resource.prlimit(process.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (4096, hard))
        post_events(drp_standin, range(300), threads=2)
        spool_file = tmp_path / "spool" / "events.jsonl"
        deadline = time.monotonic() + 30
        while spool_file.stat().st_size < 4096 - 300:  # full (a line is < 300 bytes)
            assert time.monotonic() < deadline, "the spool file did not fill up"
            time.sleep(0.05)
        time.sleep(0.5)  # the next line is refused meanwhile
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (hard, hard))  # space returns
        peer.start()
        peer.wait_for(lambda lines: len(keys_of(lines)) >= 300, 60)
        plugin.wait_log("cannot write to the spool file", timeout=10)
        plugin.wait_log("takes events again", timeout=30)
        time.sleep(0.3)
        assert keys_of(peer.lines) == published(drp_standin)  # once each, in order
    finally:
        peer.close()
