"""``unpack`` writes each asset through a fresh temp file (issue 16 item 10).

The old code opened ``.<name>.<pid>.tmp`` with ``O_TRUNC`` and no ``O_EXCL``: a
hard link planted there made another file's contents become the asset and
changed that file's mode, and a FIFO there blocked ``unpack`` forever.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from drp_plugin.assets import write_assets


def _project(tmp_path: Path) -> Path:
    base = tmp_path / "provider"
    (base / "files").mkdir(parents=True)
    (base / "files" / "asset.txt").write_text("the asset\n")
    (base / "files" / "asset.txt").chmod(0o755)
    return base


def test_planted_hard_link_at_the_old_temp_name_is_harmless(tmp_path: Path) -> None:
    base = _project(tmp_path)
    target = tmp_path / "unpack"
    target.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("victim data\n")
    victim.chmod(0o600)
    os.link(victim, target / f".asset.txt.{os.getpid()}.tmp")
    assert write_assets(base, ["files"], target) == 1
    assert victim.read_text() == "victim data\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert (target / "asset.txt").read_text() == "the asset\n"
    assert stat.S_IMODE((target / "asset.txt").stat().st_mode) == 0o755


def test_planted_fifo_at_the_old_temp_name_does_not_block(tmp_path: Path) -> None:
    base = _project(tmp_path)
    target = tmp_path / "unpack"
    target.mkdir()
    os.mkfifo(target / f".asset.txt.{os.getpid()}.tmp")
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(write_assets(base, ["files"], target)),
                              daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert done == [1], "unpack blocked on a FIFO planted in the target folder"
    assert (target / "asset.txt").read_text() == "the asset\n"
    leftovers = [p.name for p in target.iterdir() if p.name.startswith(".drp-asset-")]
    assert leftovers == []
