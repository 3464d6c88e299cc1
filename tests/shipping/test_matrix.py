"""Built providers on every CPython of the machine image (3.9 to 3.13).

Each interpreter runs the built incrementer and a provider that uses ``ctx.api``
from an action and from an event handler: ``define`` (equal to the builder's),
``listen`` and config through the local DRP stand-in, an action that writes
through the API, an event whose handler writes through the API, and ``/stop``
answered with the process exiting 0.  Each also starts the built files through every
form of path (relative, ``./``, ``../``, an absolute path with ``./`` in it, a link).
The interpreters are pyenv's; a minor that is missing here is skipped, saying so.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drp_plugin.shipping import BuildResult, build
from drp_plugin.testing import PluginHost
from tests.helpers import INCREMENTER, MINORS, interpreter
from tests.shipping.helpers import clean_env

COURIER = Path(__file__).parent / "providers" / "courier" / "courier.py"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuildResult]:
    out = tmp_path_factory.mktemp("matrix")
    return {
        "incrementer": build(INCREMENTER, out / "incrementer", version="v1.2.3", python=">=3.9"),
        "courier": build(COURIER, out / "courier", python=">=3.9"),
    }


def _define(python: str, path: Path) -> dict[str, Any]:
    result = subprocess.run(  # noqa: S603 - test interpreter, our built file
        [python, "-I", str(path), "define"], capture_output=True, text=True, timeout=120,
        env=clean_env(RS_TOKEN="catalog"), check=False, stdin=subprocess.DEVNULL)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    definition: dict[str, Any] = json.loads(result.stdout)
    return definition


def _path_forms(path: Path) -> list[str]:
    """The ways to name ``path`` from the folder above its own (the cwd of the runs)."""
    folder = path.parent
    link = folder / f"{path.name}-link"
    if not link.is_symlink():
        link.symlink_to(path.name)
    return [f"{folder.name}/{path.name}", f"./{folder.name}/{path.name}",
            f"../{folder.parent.name}/{folder.name}/{path.name}",
            f"{folder.parent}/./{folder.name}/../{folder.name}/{path.name}",
            f"./{folder.name}/{link.name}"]


def _until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@pytest.mark.parametrize("minor", MINORS)
def test_define_matches_the_builder(built: dict[str, BuildResult], minor: str) -> None:
    python = interpreter(minor)
    for result in built.values():
        assert result.floor == (3, 9)
        mine = _define(python, result.path)
        assert mine == _define(interpreter("3.11"), result.path)
        assert mine["Name"] == result.name


@pytest.mark.parametrize("minor", MINORS)
def test_every_form_of_path_runs(built: dict[str, BuildResult], minor: str,
                                 tmp_path: Path) -> None:
    """``version`` and ``unpack`` (incrementer) and a ``define`` run by the bootstrap
    (courier: validate handler, content found through ``__file__``)."""
    python = interpreter(minor)
    inc, courier = built["incrementer"].path, built["courier"].path
    expected = _define(python, courier)
    assert "courier/parcel" in expected["Content"]
    for form in _path_forms(inc):
        result = subprocess.run(  # noqa: S603 - test interpreter, our built file
            [python, "-I", form, "version"], capture_output=True, text=True, timeout=120,
            env=clean_env(), cwd=inc.parent.parent, check=False, stdin=subprocess.DEVNULL)
        assert (result.returncode, result.stdout, result.stderr) == (0, "Version: v1.2.3\n", ""), form
    for form in _path_forms(courier):
        result = subprocess.run(  # noqa: S603 - test interpreter, our built file
            [python, "-I", form, "define"], capture_output=True, text=True, timeout=120,
            env=clean_env(RS_TOKEN="catalog"), cwd=courier.parent.parent, check=False,
            stdin=subprocess.DEVNULL)
        assert result.returncode == 0 and result.stderr == "", (form, result.stderr)
        assert json.loads(result.stdout) == expected, form
    target = tmp_path / "unpacked"
    result = subprocess.run(  # noqa: S603 - test interpreter, our built file
        [python, "-I", _path_forms(inc)[1], "unpack", str(target)], capture_output=True,
        text=True, timeout=120, env=clean_env(), cwd=inc.parent.parent, check=False,
        stdin=subprocess.DEVNULL)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert sorted(p.name for p in target.iterdir()) == sorted(
        p.name for p in (INCREMENTER.parent / "files").iterdir())


@pytest.mark.parametrize("minor", MINORS)
def test_incrementer_listens_configures_and_acts_through_the_api(
        built: dict[str, BuildResult], minor: str, drp_provider: Any, drp_client: Any) -> None:
    python = interpreter(minor)
    inc = drp_provider([python, "-I", str(built["incrementer"].path)])
    drp_client.create_machine("m1")
    assert inc.action("increment", on="m1", params={"incrementer/step": 5}) == 5
    assert inc.action("increment", on="m1", params={"incrementer/step": 2}) == 7
    assert drp_client.param("machines", "Name:m1", "incrementer/touched") == 2


@pytest.mark.parametrize("minor", MINORS)
def test_courier_acts_and_handles_events_through_the_api(
        built: dict[str, BuildResult], minor: str, drp_provider: Any, drp_client: Any) -> None:
    python = interpreter(minor)
    courier = drp_provider([python, "-I", str(built["courier"].path)])
    drp_client.create_machine("m2")
    assert courier.action("deliver", on="m2", params={"courier/parcel": "crate"}) == "crate"
    assert drp_client.param("machines", "Name:m2", "courier/delivered") == "crate"
    # The event stream opens after config: ring until the handler answers.
    deadline = time.monotonic() + 60
    answered = None
    while answered is None and time.monotonic() < deadline:
        drp_client.set_param("machines", "Name:m2", "courier/ring", "ding")
        answered = _until(lambda: drp_client.param("machines", "Name:m2", "courier/answered"), 2)
    assert answered == "ding", courier.log_messages


@pytest.mark.parametrize("minor", MINORS)
async def test_stop_is_answered_and_the_process_exits_0(
        built: dict[str, BuildResult], minor: str) -> None:
    python = interpreter(minor)
    for result in [built["incrementer"]]:  # (courier's config needs an event stream)
        async with PluginHost([python, "-I", str(result.path)], env=clean_env()) as host:
            assert (await host.config({"Name": result.name})).status == 200
            assert (await host.stop()).status == 200
            assert await host.wait() == 0
        assert b"Traceback" not in host.stderr
