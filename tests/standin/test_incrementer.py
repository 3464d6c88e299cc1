"""End to end: the incrementer example under the stand-in, through the pytest fixtures."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drp_plugin.errors import PluginError
from drp_plugin.testing.fixtures import ProviderUnderTest, StandInClient

INCREMENTER = Path(__file__).resolve().parents[2] / "examples" / "incrementer" / "incrementer.py"


@pytest.fixture(scope="module")
def _runnable() -> None:
    try:
        done = subprocess.run([sys.executable, str(INCREMENTER), "define"],  # noqa: S603
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"incrementer example not runnable: {exc}")
    if done.returncode != 0:
        pytest.skip("incrementer example: define fails")


@pytest.fixture
def inc(_runnable: None, drp_provider: Callable[..., ProviderUnderTest]) -> ProviderUnderTest:
    return drp_provider(INCREMENTER)


def test_increment(inc: ProviderUnderTest, drp_client: StandInClient) -> None:
    machine = drp_client.create_machine("m1")
    uuid = machine["Uuid"]
    assert inc.action("increment", on="m1") == 1
    assert drp_client.param("machines", uuid, "incrementer/default") == 1
    assert drp_client.param("machines", uuid, "incrementer/touched") == 1
    assert inc.action("increment", on=machine, params={"incrementer/step": 5}) == 6
    assert drp_client.param("machines", uuid, "incrementer/touched") == 2
    drp_client.set_param("machines", uuid, "incrementer/parameter", "my/counter")
    assert inc.action("increment", on=f"machines/{uuid}") == 1
    assert drp_client.param("machines", uuid, "my/counter") == 1
    assert drp_client.param("machines", uuid, "incrementer/touched") == 3
    assert "Action: increment" in inc.log_messages


def test_step_from_a_profile_and_reset_count(inc: ProviderUnderTest,
                                             drp_client: StandInClient) -> None:
    drp_client.create_profile("fast", {"incrementer/step": 10})
    machine = drp_client.create_machine("m1", profiles=["fast"])
    assert inc.action("increment", on="m1") == 10
    assert inc.action("reset_count", on="m1") == "Success"
    assert drp_client.param("machines", machine["Uuid"], "incrementer/touched") is None
    with pytest.raises(PluginError) as info:
        inc.action("reset_count", on="m1")
    assert info.value.code == 400
    assert info.value.messages == ["Action reset_count Missing Parameter incrementer/touched"]
    with pytest.raises(PluginError) as info:
        inc.action("increment", on="m1", params={"incrementer/step": "x"})
    assert info.value.code == 422


def test_system_action_and_typed_cows(inc: ProviderUnderTest,
                                      drp_client: StandInClient) -> None:
    assert inc.action("incrstatus") == "Running"
    cows = {c["Id"]: c for c in drp_client.list_objects("typed-cows")}
    assert set(cows) == {"bertie", "bessie"}
    assert cows["bessie"]["Location"] == "Austin" and cows["bessie"]["Spotted"] is True
    assert cows["bertie"]["Type"] == "typed-cows"
    with pytest.raises(PluginError) as info:
        drp_client.create("typed-cows", {"Id": "clara", "Spotted": "yes"})
    assert info.value.code == 422 and info.value.type == "ValidationError"
    with pytest.raises(PluginError) as info:
        drp_client.create("typed-cows", {"Id": "clara"})
    assert info.value.code == 422
    assert drp_client.create("typed-cows", {"Id": "clara", "Spotted": False})["Id"] == "clara"
    assert drp_client.create("cows", {"Id": "any", "Whatever": 1})["Whatever"] == 1
    for name in ("incrementer/step", "incrementer/touched", "cow/object"):
        assert drp_client.get("params", name)["ReadOnly"] is True


def test_published_define_matches_the_go_reference(inc: ProviderUnderTest,
                                                   drp_client: StandInClient) -> None:
    provider: dict[str, Any] = drp_client.get("plugin_providers", "incrementer")
    actions = {(a["Model"], a["Command"]) for a in provider["AvailableActions"]}
    assert actions == {("machines", "increment"), ("machines", "reset_count"),
                       ("", "incrstatus")}
    assert provider["Meta"]["Type"] == "plugin"
    assert provider["Meta"]["DisplayName"] == "Incrementer Test Plugin"
