"""The object types the stand-in stores: DRP's built-in ones and plugin-defined ones.

Only the types a plugin provider works with are modelled: ``machines``,
``profiles``, ``params``, ``plugins``, ``plugin_providers``, ``templates``, the stored
tasks/stages/bootenvs/workflows/jobs and the types a provider declares in
``StoreObjects``.  Each built-in type has exactly the JSON fields of DRP v4.8.0's
model (``drp_models.json``, read from ``models/*.go`` at ec1ea89a), the version the
stand-in answers as; defaults mirror what DRP fills in (Go zero values, ``Fill()``
and validation results).
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Fields of models.Validation, Access, Meta, Owned and Bundled, embedded in every model.
COMMON: dict[str, Any] = {
    "Validated": True,
    "Available": True,
    "Errors": [],
    "ReadOnly": False,
    "Meta": {},
    "Endpoint": "",
    "Bundle": "",
}
#: ``MachineFingerprint.Fill`` (models/machine.go): empty ``[]byte`` s encode as "".
FINGERPRINT: dict[str, Any] = {
    "SSNHash": "",
    "CSNHash": "",
    "CloudInstanceID": "",
    "SystemUUID": "",
    "MemoryIds": [],
}


@dataclass
class ObjectType:
    """One object prefix: its key field, defaults, indexes and schema."""

    prefix: str
    key: str
    defaults: dict[str, Any]
    factories: dict[str, Callable[[], Any]] = field(default_factory=dict)
    unique: tuple[str, ...] = ()
    schema: dict[str, Any] | None = None
    provider: str = ""
    writable: bool = True
    #: Drop fields the type does not have, as Go's struct decoding does (plugin-defined
    #: types are ``models.RawModel`` maps, which keep every field).
    strict: bool = True
    #: String fields whose empty value is replaced by the default (``Fill``: ``Arch``
    #: "" becomes amd64).
    empty_defaults: tuple[str, ...] = ()

    @property
    def has_params(self) -> bool:
        """Objects of this type carry ``Params`` (and take params/actions routes)."""
        return "Params" in self.defaults

    @property
    def indexes(self) -> tuple[str, ...]:
        """Fields usable in ``Field:value`` keys."""
        return (self.key, *self.unique)

    def known(self, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` without the fields this type does not have (when ``strict``)."""
        if not self.strict:
            return obj
        fields = self.fields | {"Secret"}
        return {k: v for k, v in obj.items() if k in fields}

    @property
    def fields(self) -> set[str]:
        """Top-level fields known for this type (filters and sort accept these)."""
        known = set(self.defaults) | set(self.factories) | {self.key}
        if self.schema:
            known |= set(self.schema.get("properties", {}))
        return known

    def fill(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Add missing fields with their defaults (in place) and return ``obj``."""
        for name, value in self.defaults.items():
            if name not in obj or obj[name] is None and isinstance(value, (list, dict)):
                obj[name] = copy.deepcopy(value)
            elif name in self.empty_defaults and obj[name] == "":
                obj[name] = value
            elif isinstance(value, dict) and value and isinstance(obj[name], dict):
                # a struct field (Fingerprint, OS): its fields as Go's Fill leaves them
                for inner, default in value.items():
                    if obj[name].get(inner) is None:
                        obj[name][inner] = copy.deepcopy(default)
        for name, factory in self.factories.items():
            if not obj.get(name):
                obj[name] = factory()
        return obj


def _machine_secret() -> str:
    return secrets.token_urlsafe(12)


def _uuid() -> str:
    return str(uuid.uuid4())


def builtin_types() -> list[ObjectType]:
    """Fresh definitions of the built-in types."""
    return [
        ObjectType(
            "machines",
            "Uuid",
            {
                **COMMON,
                "Partial": False,
                "Name": "",
                "Description": "",
                "CurrentJob": "",
                "Address": "",
                "Stage": "none",
                "BootEnv": "local",
                "Profiles": [],
                "Params": {},
                "Tasks": [],
                "CurrentTask": 0,
                "RetryTaskAttempt": 0,
                "TaskErrorStacks": [],
                "Runnable": True,
                "OS": "",
                "HardwareAddrs": [],
                "Workflow": "",
                "Arch": "amd64",
                "Locked": False,
                "Context": "",
                "Fingerprint": FINGERPRINT,
                "Pool": "default",
                "PoolAllocated": False,
                "PoolStatus": "Free",
                "WorkflowComplete": True,
            },
            factories={"Uuid": _uuid, "Secret": _machine_secret},
            unique=("Name",),
            empty_defaults=("Arch", "BootEnv", "Stage", "Pool"),
        ),
        ObjectType(
            "profiles",
            "Name",
            {
                **COMMON,
                "Partial": False,
                "Description": "",
                "Documentation": "",
                "Params": {},
                "Profiles": [],
            },
        ),
        ObjectType(
            "params",
            "Name",
            {**COMMON, "Description": "", "Documentation": "", "Secure": False, "Schema": {}},
        ),
        ObjectType(
            "plugins",
            "Name",
            {
                **COMMON,
                "Partial": False,
                "Description": "",
                "Documentation": "",
                "Params": {},
                "Provider": "",
                "PluginErrors": [],
            },
        ),
        ObjectType(
            "plugin_providers",
            "Name",
            {
                "Meta": {},
                "Version": "",
                "PluginVersion": 4,
                "AutoStart": False,
                "HasPublish": False,
                "AvailableActions": [],
                "RequiredParams": [],
                "OptionalParams": [],
                "StoreObjects": {},
                "Documentation": "",
            },
            writable=False,
        ),
        ObjectType("templates", "ID", {**COMMON, "Description": "", "Contents": ""}),
        # Stored and validated, never run: enough for content packs and for providers
        # that react to jobs.* events or task lists (fields with drppy's required ones).
        ObjectType("tasks", "Name", {
            **COMMON, "Description": "", "Documentation": "", "Templates": [],
            "RequiredParams": [], "OptionalParams": [], "Prerequisites": [],
            "ExtraClaims": [], "ExtraRoles": [],
        }),
        ObjectType("stages", "Name", {
            **COMMON, "Description": "", "Documentation": "", "BootEnv": "",
            "Templates": [], "RequiredParams": [], "OptionalParams": [], "Tasks": [],
            "Params": {}, "Profiles": [], "Reboot": False, "RunnerWait": False, "Partial": False,
        }),
        ObjectType("bootenvs", "Name", {
            **COMMON, "Description": "", "Documentation": "",
            "OS": {"Name": "", "Family": "", "Codename": "", "Version": "", "IsoFile": "",
                   "IsoSha256": "", "IsoUrl": "", "SupportedArchitectures": {}},
            "Templates": [], "Kernel": "", "Initrds": [], "BootParams": "",
            "RequiredParams": [], "OptionalParams": [], "OnlyUnknown": False,
            "Loaders": {},
        }),
        # models.Role; Claims are models.Claim (JSON scope/action/specific).
        ObjectType("roles", "Name", {
            **COMMON, "Description": "", "Documentation": "", "Claims": [],
        }),
        # models.Tenant (see tenants.py)
        ObjectType("tenants", "Name", {
            **COMMON, "Description": "", "Documentation": "", "Members": {}, "Users": [],
        }),
        ObjectType("workflows", "Name", {
            **COMMON, "Description": "", "Documentation": "", "Stages": [],
        }),
        ObjectType("jobs", "Uuid", {
            **COMMON, "Machine": "", "Task": "", "Stage": "", "Workflow": "",
            "BootEnv": "", "State": "created", "ExitState": "", "Current": True,
            "CurrentIndex": 0, "NextIndex": 0, "Previous": "",
            "StartTime": "0001-01-01T00:00:00Z",
            "EndTime": "0001-01-01T00:00:00Z", "Archived": False, "Context": "",
            "ExtraClaims": [], "Token": "",
        }, factories={"Uuid": _uuid}),
    ]


def store_object_type(prefix: str, fields: Any, provider: str) -> ObjectType:
    """The type of a provider's ``StoreObjects`` entry (field name -> schema fragment).

    ``"isrequired": true`` in a fragment makes the field required; ``Type`` must be
    the prefix and ``Id`` (the key) a non-empty string.
    """
    if not isinstance(fields, dict):
        raise ValueError(f"StoreObjects[{prefix!r}] must be an object of field schemas")
    properties: dict[str, Any] = {}
    required = ["Id", "Type"]
    for name, fragment in fields.items():
        if not isinstance(fragment, dict):
            raise ValueError(f"StoreObjects[{prefix!r}][{name!r}] must be a JSON schema object")
        fragment = dict(fragment)
        if fragment.pop("isrequired", False):
            required.append(name)
        properties[name] = fragment
    properties["Type"] = {"type": "string", "const": prefix}
    properties["Id"] = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
    schema = {"type": "object", "properties": properties, "required": required}
    defaults = {**COMMON, "Type": prefix, "Description": "", "Documentation": "", "Params": {}}
    return ObjectType(prefix, "Id", defaults, schema=schema, provider=provider, strict=False)
