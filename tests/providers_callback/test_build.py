"""The callback provider as one built file: define is fast and silent, Jinja2 runs from the zip."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from .conftest import PROVIDER, PROVIDER_DIR, Start
from .servers import Recorder

DRP_PLUGIN = Path(sys.executable).with_name("drp-plugin")


def define_times(argv: list[str], runs: int = 7) -> tuple[list[float], dict[str, Any]]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RS_TOKEN": "catalog"}
    times = []
    definition: dict[str, Any] = {}
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([*argv, "define"], capture_output=True, env=env,  # noqa: S603
                              stdin=subprocess.DEVNULL, timeout=60, check=False)
        times.append(time.perf_counter() - started)
        assert done.returncode == 0 and done.stderr == b"", done.stderr
        definition = json.loads(done.stdout)
    return times, definition


def test_define_from_source_is_silent_and_complete() -> None:
    times, definition = define_times([sys.executable, str(PROVIDER)], runs=3)
    assert definition["Name"] == "callback" and definition["PluginVersion"] == 4
    assert definition["AutoStart"] is True
    assert definition["RequiredParams"] == ["callback/callbacks"]
    assert definition["OptionalParams"] == ["callback/auths", "callback/proxy"]
    [action] = definition["AvailableActions"]
    assert (action["Command"], action["Model"]) == ("callbackDo", "machines")
    assert action["RequiredParams"] == ["callback/action"]
    assert action["OptionalParams"] == ["callback/data-override"]
    content = definition["Content"]
    for name in ("callback/callbacks", "callback/auths", "callback/proxy", "callback/action",
                 "callback/data-override", "callback-task", "callback-complete"):
        assert name in content
    # define loads neither httpx nor Jinja2
    probe = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import runpy, sys; sys.argv = ['callback.py', 'define'];"
         "sys.path.insert(0, sys.argv[0]);"
         f"runpy.run_path({str(PROVIDER)!r}, run_name='not_main');"
         "print(sorted(m for m in ('httpx', 'jinja2', 'callback_core.engine') if m in sys.modules))"],
        capture_output=True, text=True, timeout=60, check=False, cwd=PROVIDER_DIR)
    assert probe.stdout.strip() == "[]", probe.stderr


@pytest.mark.slow
@pytest.mark.skipif(not DRP_PLUGIN.exists(), reason="drp-plugin build is not installed")
def test_built_file(tmp_path: Path, start_callback: Start, recorder: Recorder,
                    capsys: pytest.CaptureFixture[str]) -> None:
    help_text = subprocess.run([str(DRP_PLUGIN), "build", "--help"], capture_output=True,  # noqa: S603
                               text=True, timeout=60, check=False)
    if help_text.returncode != 0:
        pytest.skip("this drp-plugin has no build command")
    out = tmp_path / "callback"
    done = subprocess.run([str(DRP_PLUGIN), "build", str(PROVIDER_DIR), "-o", str(out)],  # noqa: S603
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
    assert {"callback.py", "callback_core/engine.py", "callback_core/render.py",
            "jinja2/sandbox.py", "markupsafe/_native.py"} <= names
    assert not [n for n in names if n.endswith(".so")]     # pure Python only

    # An isolated interpreter (no site-packages): everything comes from the file.
    times, definition = define_times([sys.executable, "-I", "-S", str(out)])
    assert definition["Name"] == "callback"
    with capsys.disabled():
        print(f"\n[callback build] {out.stat().st_size / 1e6:.1f} MB; define took "
              f"min {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms "
              f"over {len(times)} runs")

    # The built file under the stand-in, rendering a template (Jinja2 + MarkupSafe from the zip).
    plugin = start_callback({"t": {"Url": recorder.url("/built/{{ Machine.Name | upper }}"),
                                   "StringResponse": True}}, source=out)
    plugin.client.create_machine("b1")
    answer = plugin.action("callbackDo", on="b1", params={"callback/action": "t"})
    assert json.loads(answer) == {"ok": True, "path": "/built/B1"}
