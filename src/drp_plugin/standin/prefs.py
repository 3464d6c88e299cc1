"""DRP's preferences (``GET``/``POST /api/v3/prefs``): the set, defaults and checks.

Facts: the answers DRP recorded for ``drpcli prefs list`` and ``prefs set``
(cli/test-data/output/TestPrefsCli, provision ``af452c8a~1``):

* the listed set and its defaults: the log levels ``debugBootEnv``, ``debugDhcp``,
  ``debugFrontend``, ``debugPlugins``, ``debugRenderer`` and ``logLevel`` (``warn``),
  ``defaultBootEnv`` ``local``, ``defaultStage`` ``none``, ``knownTokenTimeout``
  ``3600``, ``unknownBootEnv`` ``ignore``, ``unknownTokenTimeout`` ``600``;
* a log level may be given as a number: ``0`` is ``warn``, ``1`` ``info``, ``2``
  ``debug`` (``prefs set debugRenderer 1 debugDhcp 2`` lists ``info``/``debug``);
* refusals, one message each, nothing applied: ``defaultBootEnv: Bootenv illegal does
  not exist``, ``baseTokenSecret: Must be 32 bytes long``, ``knownTokenTimeout:
  strconv.Atoi: parsing "illegal": invalid syntax``;
* ``baseTokenSecret`` is accepted but never listed;
* the boot environment or stage a preference names is not deleted: ``StillInUseError:
  bootenvs/local3: BootEnv local3 is the active defaultBootEnv, cannot remove it``.
* ``defaultWorkflow`` names a workflow ("defaultWorkflow: Workflow foo does not exist",
  ``""`` unsets it), and a new machine takes it (TestWorkflowCli ``machines create m4``
  with ``defaultWorkflow`` wf3: Workflow wf3, its first stage and that stage's bootenv).

Chosen where nothing is recorded: ``defaultStage`` and ``unknownBootEnv`` are checked
like ``defaultBootEnv`` ("Stage <x> does not exist"); an unknown log level is
"<name>: Invalid log level <x>"; ``trace`` is ``3``.  DRP refuses a preference it does
not know ("Unknown Preference greg"); the stand-in keeps such a value instead, as its
Python clients' tests rely on (``tests/standin_drppy``: ``set_prefs({"drppy": ...})``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ..errors import PluginError

#: The log-level preferences.
LEVEL_PREFS = ("debugBootEnv", "debugDhcp", "debugFrontend", "debugPlugins",
               "debugRenderer", "logLevel")
#: Log level names, and the numbers DRP reads as them.
LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "panic")
LEVEL_NUMBERS = {"0": "warn", "1": "info", "2": "debug", "3": "trace"}
#: Preferences never listed.
SECRET = frozenset({"baseTokenSecret"})


def defaults() -> dict[str, str]:
    """A fresh preference set with DRP's defaults."""
    return {**{name: "warn" for name in LEVEL_PREFS}, "defaultBootEnv": "local",
            "defaultStage": "none", "knownTokenTimeout": "3600", "unknownBootEnv": "ignore",
            "unknownTokenTimeout": "600"}


def listed(prefs: Mapping[str, str]) -> dict[str, str]:
    """What ``GET /prefs`` shows: every preference but the secret ones."""
    return {k: v for k, v in sorted(prefs.items()) if k not in SECRET}


def checked(changes: Mapping[str, str], exists: Callable[[str, str], bool]) -> dict[str, str]:
    """``changes`` as stored (log levels by name); ``PluginError`` 422 with one message
    per refused preference.  ``exists(prefix, key)`` tells whether an object exists."""
    errors: list[str] = []
    result: dict[str, str] = {}
    for name, value in changes.items():
        if name in ("defaultBootEnv", "unknownBootEnv"):
            if not exists("bootenvs", value):
                errors.append(f"{name}: Bootenv {value} does not exist")
        elif name == "defaultStage":
            if not exists("stages", value):
                errors.append(f"{name}: Stage {value} does not exist")
        elif name == "defaultWorkflow":  # recorded TestWorkflowCli; "" unsets it
            if value and not exists("workflows", value):
                errors.append(f"{name}: Workflow {value} does not exist")
        elif name in LEVEL_PREFS:
            level = LEVEL_NUMBERS.get(value.strip(), value.strip().lower())
            if level not in LEVELS:
                errors.append(f"{name}: Invalid log level {value}")
                continue
            value = level
        elif name in ("knownTokenTimeout", "unknownTokenTimeout"):
            if not re.fullmatch(r"[+-]?[0-9]+", value):
                errors.append(f'{name}: strconv.Atoi: parsing "{value}": invalid syntax')
        elif name == "baseTokenSecret" and len(value.encode()) != 32:
            errors.append(f"{name}: Must be 32 bytes long")
        result[name] = value
    if errors:
        raise PluginError(*errors, code=422, model="prefs", type="POST")
    return result


def for_new_machine(prefs: Mapping[str, str], body: Mapping[str, object]) -> dict[str, str]:
    """What a new machine takes from the preferences where its body leaves a field
    empty: ``defaultWorkflow`` (when set), ``defaultStage``, ``defaultBootEnv``
    (recorded TestWorkflowCli: with ``defaultWorkflow`` wf3, ``machines create m4``
    answers Workflow wf3, its first stage james and bootenv Fred)."""
    fields: dict[str, str] = {}
    if not body.get("Workflow") and prefs.get("defaultWorkflow"):
        fields["Workflow"] = prefs["defaultWorkflow"]
    if not body.get("Stage") and prefs.get("defaultStage"):
        fields["Stage"] = prefs["defaultStage"]
    if not body.get("BootEnv") and prefs.get("defaultBootEnv"):
        fields["BootEnv"] = prefs["defaultBootEnv"]
    return fields


def holder(prefs: Mapping[str, str], prefix: str, key: str) -> str | None:
    """The preference naming ``prefix``/``key`` (a boot environment or a stage), if
    any: such an object is not deleted."""
    names = {"bootenvs": ("defaultBootEnv", "unknownBootEnv"),
             "stages": ("defaultStage",), "workflows": ("defaultWorkflow",)}.get(prefix, ())
    return next((n for n in names if prefs.get(n) == key), None)


def in_use(prefix: str, key: str, name: str) -> PluginError:
    """DRP's refusal to delete what preference ``name`` names."""
    kind = {"bootenvs": "BootEnv", "stages": "Stage", "workflows": "Workflow"}[prefix]
    return PluginError(f"{kind} {key} is the active {name}, cannot remove it", code=409,
                       model=prefix, key=key, type="StillInUseError")
