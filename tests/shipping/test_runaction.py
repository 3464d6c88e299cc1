"""``drp-plugin system runaction`` / ``plugins runaction`` / ``machines runaction``:
drpcli's command shapes (cli/actionHelper.go) for each kind of action, against the
stand-in's endpoint (issue #23, bug 5)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from drp_plugin.standin import StandInThread
from drp_plugin.tool import cli

FAKE = Path(__file__).resolve().parents[1] / "standin" / "fake_provider.py"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[dict[str, str]]:
    """A stand-in running the fake provider's Plugin ``fake`` and a machine ``m1``:
    the ``RS_*`` environment of drpcli (and ours) for it."""
    with StandInThread() as drp:
        drp.add_provider_from_command("fake", [sys.executable, str(FAKE)])
        drp.create("machines", {"Name": "m1"})
        drp.create("plugins", {"Name": "fake", "Provider": "fake"})
        drp.wait_event(lambda e: e.get("Type") == "plugins" and e.get("Action") == "configed",
                       timeout=60)
        yield {"RS_ENDPOINT": drp.endpoint, "RS_TOKEN": drp.token}


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_system_runaction_posts_to_system_actions(endpoint: dict[str, str]) -> None:
    assert run(endpoint, "system", "runaction", "status") == "Running fake"
    assert run(endpoint, "system", "runaction", "status", "--plugin", "fake") == "Running fake"


def test_plugins_runaction_runs_on_the_plugin(endpoint: dict[str, str]) -> None:
    answer = run(endpoint, "plugins", "runaction", "fake", "plugin-info", "fake/step", "4")
    # models.Action: Model is the object the action runs on, here the Plugin.
    assert (answer["Command"], answer["Plugin"], answer["Model"]["Name"]) == (
        "plugin-info", "fake", "fake")
    assert answer["Model"]["Provider"] == "fake"
    assert answer["Params"]["fake/step"] == 4


def test_machines_runaction_takes_pairs_or_one_map(endpoint: dict[str, str]) -> None:
    pairs = run(endpoint, "machines", "runaction", "Name:m1", "echo", "fake/step", "3",
                "fake/greeting", "hi there")
    assert (pairs["Command"], pairs["Model"]["Name"]) == ("echo", "m1")
    assert {k: pairs["Params"][k] for k in ("fake/step", "fake/greeting")} == {
        "fake/step": 3, "fake/greeting": "hi there"}
    mapped = run(endpoint, "machines", "runaction", "Name:m1", "echo", '{"fake/step": 5}')
    assert mapped["Params"]["fake/step"] == 5
    yaml_stdin = run(endpoint, "machines", "runaction", "Name:m1", "echo", "-",
                     stdin="fake/step: 6\nfake/greeting: yo\n")
    assert (yaml_stdin["Params"]["fake/step"], yaml_stdin["Params"]["fake/greeting"]) == (6, "yo")


def test_the_wrong_kind_of_action_is_drps_404(endpoint: dict[str, str]) -> None:
    """``status`` is a system action: asking the Plugin for it answers 404, as DRP does."""
    result = CliRunner().invoke(cli, ["plugins", "runaction", "fake", "status"], env=endpoint)
    assert result.exit_code == 1
    assert "INVOKE: plugins/fake: Action status on plugins: Not Found" in result.output


@pytest.mark.parametrize("args, message", [
    (["system", "runaction", "status", "a", "1", "b"], "name value pairs, or one JSON or YAML map"),
    (["system", "runaction", "status", "fake/step"], "not a JSON or YAML map"),
    (["system", "runaction", "status", "[1, 2]"], "not a JSON or YAML map"),
    (["plugins", "runaction", "fake", "plugin-info", "{a: [}"], "not a JSON or YAML map"),
])
def test_bad_params_are_a_usage_error(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, args, env={"RS_ENDPOINT": "https://127.0.0.1:1",
                                                "RS_TOKEN": "unused"})
    assert result.exit_code == 2 and message in result.output
