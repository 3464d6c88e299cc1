"""Provider in process: the definition comes from the registrations, and dispatch
checks params and picks the context kind (no subprocess, no server).

The expected JSON is the Go ``models.PluginProvider`` / ``AvailableAction`` shape
(digitalrebar/provision ``models/plugin_provider.go``), the same as the recorded
``tests/data/go-incrementer-define.json``.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from drp_plugin import Action, App, Context, Event, PluginError, Provider, SyncContext


def make() -> Provider:
    return Provider("unit", version="v1.0.0", base_dir=".", required_params=["unit/req"])


def test_definition_lists_every_registered_action_per_model() -> None:
    p = make()

    @p.action("status")
    def status(ctx: SyncContext, action: Action) -> str:
        return "ok"

    @p.action("poke", model=["machines", "clusters"], required=["unit/a"], optional=["unit/b"])
    async def poke(ctx: Context, action: Action) -> None:
        return None

    d = p.definition()
    assert list(d) == ["Meta", "Name", "Version", "PluginVersion", "AutoStart", "HasPublish",
                       "AvailableActions", "RequiredParams", "OptionalParams", "StoreObjects",
                       "Documentation", "Content"]
    assert d["AvailableActions"] == [
        {"Provider": "", "Model": "", "Command": "status", "RequiredParams": None,
         "OptionalParams": None},
        {"Provider": "", "Model": "machines", "Command": "poke", "RequiredParams": ["unit/a"],
         "OptionalParams": ["unit/b"]},
        {"Provider": "", "Model": "clusters", "Command": "poke", "RequiredParams": ["unit/a"],
         "OptionalParams": ["unit/b"]},
    ]
    assert d["RequiredParams"] == ["unit/req"] and d["OptionalParams"] is None
    assert d["Name"] == "unit" and d["Version"] == "v1.0.0" and d["PluginVersion"] == 4
    assert d["Content"] == "" and "IgnoreEvents" not in d


def test_event_selections_are_the_union_in_registration_order() -> None:
    p = make()
    p.on_event("machines.update.*", "jobs.create.*")(lambda ctx, e: None)
    p.on_event("jobs.create.*", "leases.*.*")(lambda ctx, e: None)
    assert p.event_selections() == ["machines.update.*", "jobs.create.*", "leases.*.*"]


def test_registration_mistakes_are_refused() -> None:
    p = make()
    p.action("a")(lambda ctx, a: None)
    with pytest.raises(ValueError, match="already registered"):
        p.action("a")(lambda ctx, a: None)
    with pytest.raises(ValueError, match="type.action.key"):
        p.on_event("machines.update")
    with pytest.raises(ValueError, match="at least one pattern"):
        p.on_event()
    p.config(lambda ctx, params: None)
    with pytest.raises(ValueError, match="config handler is already registered"):
        p.config(lambda ctx, params: None)
    with pytest.raises(TypeError, match="not callable"):
        p.stop(42)  # type: ignore[type-var]
    with pytest.raises(ValueError, match="invalid provider name"):
        Provider("a/b", base_dir=".")


def test_consistency_rules_of_the_go_package_are_plugin_errors() -> None:
    p = Provider("both", has_publish=True, base_dir=".")
    p.on_event("machines.*.*")(lambda ctx, e: None)
    with pytest.raises(PluginError) as caught:
        p.check()
    assert caught.value.to_dict() == {
        "Model": "plugin", "Key": "both", "Type": "plugin", "Code": 400,
        "Messages": ["Plugin can NOT have both HasPublish and EventSelector: both"]}
    assert not p.serves_publish
    q = Provider("pub", has_publish=True, base_dir=".")
    q.publish(lambda ctx, e: None)
    q.check()
    assert q.serves_publish


async def test_unknown_command_is_404_and_missing_params_are_400() -> None:
    p = make()
    p.action("needs", required=["x/a", "x/b"])(lambda ctx, a: "ran")
    with pytest.raises(PluginError) as unknown:
        await p.run_action(None, Action({"Command": "nope"}))
    assert unknown.value.to_dict() == {"Model": "plugin", "Key": "unit", "Type": "plugin",
                                       "Messages": ["Unknown command: nope"], "Code": 404}
    with pytest.raises(PluginError) as missing:
        await p.run_action(None, Action({"Command": "needs", "Params": {"x/b": 1}}))
    assert missing.value.code == 400
    assert missing.value.messages == ["Missing Parameter x/a"]
    ok = await p.run_action(None, Action({"Command": "needs", "Params": {"x/a": 1, "x/b": 2}}))
    assert ok == "ran"


async def test_sync_handlers_run_in_a_worker_with_a_sync_context() -> None:
    p = make()
    seen: dict[str, Any] = {}

    @p.action("sync")
    def sync_handler(ctx: SyncContext, action: Action) -> str:
        seen["sync"] = (type(ctx), threading.current_thread() is threading.main_thread())
        return action.command

    @p.action("async")
    async def async_handler(ctx: Context, action: Action) -> str:
        seen["async"] = (type(ctx), threading.current_thread() is threading.main_thread())
        return action.command

    assert await p.run_action(None, Action({"Command": "sync"})) == "sync"
    assert await p.run_action(None, Action({"Command": "async"})) == "async"
    assert seen["sync"] == (SyncContext, False)
    assert seen["async"] == (Context, True)


async def test_serial_actions_on_one_machine_do_not_overlap() -> None:
    p = make()
    running: list[str] = []
    overlaps: list[str] = []

    @p.action("slow", model="machines", serial=True)
    async def slow(ctx: Context, action: Action) -> int:
        uuid = action.uuid or ""
        if uuid in running:
            overlaps.append(uuid)
        running.append(uuid)
        await asyncio.sleep(0)
        running.remove(uuid)
        return action.received

    actions = []
    for n in range(20):
        a = Action({"Command": "slow", "Model": {"Uuid": f"m{n % 2}"}})
        a.received = n
        actions.append(a)
    results = await asyncio.gather(*(p.run_action(None, a) for a in actions))
    assert results == list(range(20))
    assert overlaps == []


async def test_events_reach_only_the_matching_handlers() -> None:
    p = make()
    got: list[str] = []
    p.on_event("machines.update.*")(lambda ctx, e: got.append("machines:" + e.key))
    p.on_event("jobs.*.*")(lambda ctx, e: got.append("jobs:" + e.key))
    await p.run_event(None, Event({"Type": "machines", "Action": "update", "Key": "m1"}))
    await p.run_event(None, Event({"Type": "machines", "Action": "create", "Key": "m2"}))
    await p.run_event(None, Event({"Type": "jobs", "Action": "create", "Key": "j1"}))
    assert got == ["machines:m1", "jobs:j1"]


def test_validate_and_unpack_run_outside_a_server(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.txt").write_text("A", encoding="utf-8")
    p = Provider("unit", base_dir=tmp_path, assets="files")
    unpacked: list[Path] = []
    p.unpack(lambda ctx, directory: unpacked.append(directory))

    @p.validate
    async def validate(ctx: Context, definition: dict[str, Any]) -> dict[str, Any]:
        return {**definition, "Documentation": "validated"}

    assert p.run_validate({"Name": "unit"}) == {"Name": "unit", "Documentation": "validated"}
    out = tmp_path / "out"
    p.run_unpack(out)
    assert (out / "a.txt").read_text(encoding="utf-8") == "A"  # a folder lands at the top
    assert unpacked == [out]


def test_content_is_bundled_from_the_content_folder(tmp_path: Path) -> None:
    content = tmp_path / "content"
    (content / "params").mkdir(parents=True)
    (content / "._Name.meta").write_text("unit-content\n", encoding="utf-8")
    (content / "params" / "p.yaml").write_text("Name: unit/p\nSchema:\n  type: string\n",
                                               encoding="utf-8")
    p = Provider("unit", content="content", base_dir=tmp_path)
    bundle = p.definition()["Content"]
    assert "unit/p" in bundle and "unit-content" in bundle


async def test_interface_style_without_action_answers_unknown_command() -> None:
    class Plugin:
        def config(self, log: Any, api: Any, params: dict[str, Any]) -> None:
            return None

    app = App("iface", Plugin(), definition={"Name": "iface"})
    with pytest.raises(PluginError) as caught:
        await app.run_action(None, Action({"Command": "x"}))
    assert caught.value.to_dict()["Key"] == "iface" and caught.value.code == 404
