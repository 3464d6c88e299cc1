"""The model views document every public field, and ``Machine`` reads DRP's job fields.

The field names are Go's ``models.Machine`` (digitalrebar/provision
``models/machine.go``: ``CurrentJob uuid.UUID``, ``CurrentTask int``, ``Tasks``,
``Runnable``, ``Context``, ``WorkflowComplete``), checked against RackN's own Python
client (drppy-client's ``attribute_map``).  An empty ``uuid.UUID`` is written ``""``.
"""

from __future__ import annotations

import ast
import inspect
import types
from pathlib import Path
from typing import Any

import pytest

from drp_plugin import models
from drp_plugin.models import Action, Event, Machine, PluginObject, StoreObject, Target

SOURCE = Path(models.__file__)

#: Python property -> Go field of models.Machine.
JOB_FIELDS = {"current_job": "CurrentJob", "current_task": "CurrentTask", "tasks": "Tasks",
              "runnable": "Runnable", "context": "Context",
              "workflow_complete": "WorkflowComplete"}


def init_fields(cls_name: str) -> dict[str, bool]:
    """Public ``self.<name>`` assignments of ``cls_name.__init__`` -> followed by a
    docstring (what mkdocstrings, IDEs and the site read as the field's documentation)."""
    tree = ast.parse(SOURCE.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls_name)
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    fields: dict[str, bool] = {}
    for i, stmt in enumerate(init.body):
        target = stmt.target if isinstance(stmt, ast.AnnAssign) else (
            stmt.targets[0] if isinstance(stmt, ast.Assign) else None)
        if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                and target.value.id == "self" and not target.attr.startswith("_")):
            continue
        following = init.body[i + 1] if i + 1 < len(init.body) else None
        fields[target.attr] = (isinstance(following, ast.Expr)
                               and isinstance(following.value, ast.Constant)
                               and isinstance(following.value.value, str)
                               and bool(following.value.value.strip()))
    return fields


@pytest.mark.parametrize(("cls", "expected"), [
    (Action, {"raw", "command", "plugin", "command_set", "model", "params", "job", "received",
              "target_model"}),
    (Target, {"model", "raw"}),
    (Event, {"raw", "time", "type", "action", "key", "principal", "object", "original"}),
])
def test_every_public_field_has_a_docstring(cls: type, expected: set[str]) -> None:
    fields = init_fields(cls.__name__)
    assert set(fields) == expected  # every slot that is set is checked
    slots = getattr(cls, "__slots__", ())
    assert {name for name in slots if not name.startswith("_")} == expected
    assert [name for name, documented in fields.items() if not documented] == []


@pytest.mark.parametrize("cls", [Action, Target, Machine, PluginObject, StoreObject, Event])
def test_every_public_property_and_method_has_a_docstring(cls: type) -> None:
    """(The slot fields are documented in ``__init__``: the test above.)"""
    members = {name: member for name, member in vars(cls).items()
               if not name.startswith("_")
               and isinstance(member, (property, types.FunctionType, classmethod))}
    assert members
    assert [name for name, member in members.items() if not inspect.getdoc(member)] == []


def test_the_action_field_docs_say_what_job_and_params_are() -> None:
    docs = {name: documented for name, documented in init_fields("Action").items()}
    assert docs["job"] and docs["params"]
    text = SOURCE.read_text()
    assert "the job DRP created to track this action" in text
    assert "aggregated params" in text


MACHINE: dict[str, Any] = {
    "Name": "m1", "Uuid": "3f8a8d1e-0c55-4f6e-9c1a-5d7f3f1b2c4d",
    "CurrentJob": "9a1c3a8e-7d7e-4b8a-a2b0-6c1f0e9d8b7a", "CurrentTask": 1,
    "Tasks": ["stage:discover", "gohai", "bootenv:local"], "Runnable": True,
    "Context": "drpcli-runner", "WorkflowComplete": False,
}


def test_machine_job_fields() -> None:
    m = Machine("machines", MACHINE)
    assert m.current_job == "9a1c3a8e-7d7e-4b8a-a2b0-6c1f0e9d8b7a"
    assert m.current_task == 1
    assert m.tasks == ["stage:discover", "gohai", "bootenv:local"]
    assert m.runnable is True
    assert m.context == "drpcli-runner"
    assert m.workflow_complete is False


def test_machine_job_fields_of_a_machine_without_a_job() -> None:
    # a new machine: Go writes the empty CurrentJob as "", CurrentTask starts at -1
    m = Machine("machines", {"Uuid": "u", "CurrentJob": "", "CurrentTask": -1, "Tasks": [],
                             "Runnable": True, "Context": "", "WorkflowComplete": True})
    assert (m.current_job, m.current_task, m.tasks) == ("", -1, [])
    assert m.workflow_complete is True
    # fields missing or of the wrong type read as Go's zero values
    bare = Machine("machines", {"CurrentJob": None, "CurrentTask": True, "Tasks": ["a", 3],
                                "Runnable": "yes"})
    assert (bare.current_job, bare.current_task, bare.tasks) == ("", 0, ["a"])
    assert bare.runnable is False and bare.context == "" and bare.workflow_complete is False


def test_an_action_reads_the_machines_current_job() -> None:
    action = Action({"Command": "launch", "Plugin": "tower1", "Model": MACHINE,
                     "Params": {}, "Job": "5d0b6c55-3c0e-4a55-9a57-1d2c3b4a5f6e"})
    action.target_model = "machines"
    assert action.target_as(Machine).current_job == MACHINE["CurrentJob"]
    assert action.job == "5d0b6c55-3c0e-4a55-9a57-1d2c3b4a5f6e"
    assert Action({"Command": "x"}).job is None


def test_job_field_names_are_those_of_rackns_client() -> None:
    client_models = pytest.importorskip("drppy_client.models")
    attribute_map = client_models.Machine.attribute_map
    for name, field in JOB_FIELDS.items():
        assert attribute_map[name] == field
        assert isinstance(inspect.getattr_static(Machine, name), property)
    assert client_models.Action.attribute_map["job"] == "Job"
