"""filebeat's file sink never writes through a symbolic link (issue 10 item 10).

Real files and links in a temporary folder; the sink is ``filebeat_core.files.FileSink``.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest


@pytest.fixture(scope="module")
def files(fb: SimpleNamespace) -> tuple[Any, Any]:
    return fb.FileSink, fb.SinkError


def test_a_link_at_the_path_is_refused_at_config(files: Any, tmp_path: Path) -> None:
    file_sink, _ = files
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    path = tmp_path / "out" / "json.log"
    path.parent.mkdir()
    path.symlink_to(victim)
    with pytest.raises(OSError, match="is a symbolic link: refusing to follow it"):
        file_sink(str(path)).check()
    assert victim.read_bytes() == b"precious\n"


async def test_a_link_planted_after_rotation_is_not_followed(files: Any, tmp_path: Path) -> None:
    file_sink, sink_error = files
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    path = tmp_path / "json.log"
    sink = file_sink(str(path))
    await sink.open()
    await sink.write(b'{"n":1}\n')
    os.rename(path, tmp_path / "json.log.1")  # logrotate moves it away ...
    path.symlink_to(victim)                   # ... and someone plants a link in its place
    with pytest.raises(sink_error, match="symbolic link"):
        await sink.write(b'{"n":2}\n')
    assert victim.read_bytes() == b"precious\n"
    path.unlink()  # the link is gone: the retried write creates a real file
    await sink.write(b'{"n":2}\n')
    await sink.close()
    assert not path.is_symlink()
    assert path.read_bytes() == b'{"n":2}\n'
    assert (tmp_path / "json.log.1").read_bytes() == b'{"n":1}\n'
    assert victim.read_bytes() == b"precious\n"
