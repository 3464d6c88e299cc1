"""listen checks every DRP_PLUGIN_* setting before READY! (issue 14 item 10)."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers import KITCHEN, run_args


@pytest.mark.parametrize(("name", "value"), [
    ("DRP_PLUGIN_ACTION_TIMEOUT", "abc"),
    ("DRP_PLUGIN_MAX_BODY", "lots"),
    ("DRP_PLUGIN_EXIT_GRACE", "-5"),
    ("DRP_PLUGIN_MAX_CONNECTIONS", "lots"),
    ("DRP_PLUGIN_EVENT_PENDING_BYTES", "16M"),
])
def test_a_bad_setting_is_one_line_and_a_failed_start(clean_env: dict[str, str], tmp_path: object,
                                                      name: str, value: str) -> None:
    """Before: ``DRP_PLUGIN_ACTION_TIMEOUT=abc`` crashed listen with a ValueError traceback."""
    result = subprocess.run(
        [*run_args(KITCHEN), "listen", f"{tmp_path}/to.sock", f"{tmp_path}/from.sock"],
        env={**clean_env, "RS_TOKEN": "t", name: value}, capture_output=True, text=True,
        timeout=60, check=False)
    assert result.returncode == 1
    assert result.stdout == "Failed\n"  # never READY!
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: {name}={value!r} is not valid: ")
