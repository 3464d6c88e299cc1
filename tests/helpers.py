"""Shared test constants and helpers (a plain module: importable by ``pytest`` and
``python -m pytest`` alike, since ``pythonpath = ["."]`` puts the repository root on
``sys.path``; fixtures stay in ``conftest.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INCREMENTER = ROOT / "examples" / "incrementer" / "incrementer.py"
TALLY = ROOT / "examples" / "interface_style" / "tally.py"
KITCHEN = ROOT / "tests" / "providers" / "kitchen.py"
GO_DEFINE = ROOT / "tests" / "data" / "go-incrementer-define.json"


def run_args(path: Path) -> list[str]:
    return [sys.executable, str(path)]


def define_silently(argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``argv + ["define"]`` without RS_* settings; it must succeed with empty stderr."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RS_")}
    result = subprocess.run([*argv, "define"], capture_output=True, text=True, env=env,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    definition: dict[str, Any] = json.loads(result.stdout)
    return definition


def build_and_define(provider: Path, out: Path) -> dict[str, Any]:
    """``drp-plugin build`` ``provider`` into ``out``, then run the file's ``define``
    offline (clean environment, ``RS_TOKEN=catalog``); prints the size and define time."""
    import time

    tool = Path(sys.executable).with_name("drp-plugin")
    subprocess.run([str(tool), "build", str(provider), "-o", str(out), "-q"], check=True,
                   capture_output=True, timeout=300)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RS_TOKEN": "catalog"}
    started = time.monotonic()
    definition = define_silently([str(out)], env)
    elapsed = time.monotonic() - started
    print(f"\nbuilt {out.name}: {out.stat().st_size} bytes, define took {elapsed * 1000:.0f} ms")
    return definition


#: The CPython minors a built provider runs on (``shipping.wheels.SUPPORTED_MINORS``).
MINORS = ["3.9", "3.10", "3.11", "3.12", "3.13"]


def interpreter(minor: str) -> str:
    """The pyenv CPython of ``minor`` (the newest patch release), or skip the test."""
    import pytest

    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(root.glob(f"{minor}.*/bin/python3"), reverse=True)
    if not found:
        pytest.skip(f"no CPython {minor} under {root}")
    return str(found[0])
