"""Secrets stay secret: the token and secure param values never reach logs or errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drp_plugin.errors import PluginError
from tests.helpers import INCREMENTER, KITCHEN, ROOT

SECRET = "s3cr3t-value-that-must-not-leak"


@pytest.mark.slow
def test_token_and_secure_params_never_logged(drp_standin: Any, drp_client: Any,
                                              drp_provider: Any) -> None:
    drp_client.create_param("kitchen/required", {"type": "string"}, secure=True)
    kitchen = drp_provider(str(KITCHEN), params={"kitchen/required": SECRET})
    drp_client.create_machine("sec-1")
    assert kitchen.action("echo", on="sec-1", params={"kitchen/a": 1})["uuid"]
    with pytest.raises(PluginError):
        kitchen.action("boom")
    incrementer = drp_provider(str(INCREMENTER))
    assert incrementer.action("increment", on="sec-1") == 1
    with pytest.raises(PluginError):
        incrementer.action("reset_count", on="sec-1", params={"incrementer/touched": "x"})
    everything = json.dumps([vars(r) if hasattr(r, "__dict__") else str(r) for r in drp_standin.logs],
                            default=str)
    assert "kitchen/required" in everything  # the config names its params ...
    assert SECRET not in everything  # ... but never their values
    assert drp_standin.token not in everything


def test_no_shell_anywhere() -> None:
    """No ``shell=True`` and no ``os.system`` in the package, providers or examples."""
    offenders = []
    for folder in ("src", "providers", "examples"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "shell=True" in text or "os.system(" in text or "os.popen(" in text:
                offenders.append(str(path))
    assert offenders == []


def test_define_output_never_carries_the_token(tmp_path: Path, clean_env: dict[str, str]) -> None:
    env = {**clean_env, "RS_TOKEN": "tok-" + SECRET, "RS_ENDPOINT": "https://127.0.0.1:1"}
    for provider in (INCREMENTER, KITCHEN):
        out = subprocess.run([sys.executable, str(provider), "define"], capture_output=True,
                             text=True, env=env, cwd=tmp_path, timeout=60, check=False)
        assert out.returncode == 0
        assert SECRET not in out.stdout + out.stderr
