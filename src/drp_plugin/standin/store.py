"""The in-memory object store of the stand-in: validation, params, events.

Every write is checked like DRP does it (params against their ``Schema``,
plugin-defined objects against the schema built from ``StoreObjects``, machine
names and profiles) and publishes an event: ``create``, ``update`` (with
``Original``), ``save`` (param writes and status changes) or ``delete``.
Secure params are kept in clear and rendered as envelopes (see ``secure``).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import ipaddress
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jsonpatch
import jsonpointer
import jsonschema

from .._types import Obj
from ..errors import PluginError
from ..models import make_event
from . import lifecycle, prefs, tenants, wording
from .claims import from_json as claims_json
from .claims import problems as claim_problems
from .objtypes import ObjectType, builtin_types
from .secure import SecureBox, is_envelope

GLOBAL_PROFILE = "global"
#: Object types of a real DRP the stand-in does not serve (``GET /objects`` of v4).
DRP_PREFIXES = frozenset({
    "activities", "alerts", "batches", "blueprints", "catalog_items",
    "clusters", "contexts", "endpoints", "filters", "identity_providers",
    "interfaces", "isos", "leases", "pipelines", "pools", "prefs", "reservations",
    "resource_brokers", "subnets", "tenants", "trigger_providers",
    "triggers", "users", "ux_options", "ux_settings", "ux_views", "version_sets",
    "work_orders", "zones",
})


_PATCH_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def apply_patch(doc: Any, ops: Any, model: str, key: str) -> Any:
    """``doc`` with the RFC 6902 patch ``ops`` applied (400 invalid patch, 409 failed)."""
    if not isinstance(ops, list):
        raise PluginError("Patch must be a JSON array of operations", code=400,
                          model=model, key=key, type="PATCH")
    for line, op in enumerate(ops):
        if not isinstance(op, dict) or op.get("op") not in _PATCH_OPS \
                or not isinstance(op.get("path"), str):
            raise PluginError(f"Invalid patch: operation {line} needs an op of "
                              f"{', '.join(sorted(_PATCH_OPS))} and a path", code=400,
                              model=model, key=key, type="PATCH")
    for line, op in enumerate(ops):  # DRP reports the failing op by its index
        try:
            doc = jsonpatch.JsonPatch([op]).apply(doc)
        except jsonpatch.InvalidJsonPatch as exc:
            raise PluginError(f"Invalid patch: {exc}", code=400, model=model, key=key,
                              type="PATCH") from None
        except jsonpatch.JsonPatchTestFailed:
            # jsonpatch2 (DRP's): a test of a missing member fails resolving the pointer
            missing = _unresolved(doc, str(op.get("path", "")))
            raise PluginError(f"Patch failed to apply at line {line}",
                              missing or "Test op failed.", code=409, model=model, key=key,
                              type="PATCH") from None
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException):
            if op.get("op") == "remove":  # jsonpatch2 pointer.go Remove (recorded TestMeta)
                raise PluginError(f"Patch failed to apply at line {line}",
                                  f"`{op.get('path')}` does not point to an existing location",
                                  code=409, model=model, key=key, type="PATCH") from None
            target = str(op.get("path", "")).rsplit("/", 1)[-1] if isinstance(op, dict) else ""
            raise PluginError(f"Patch failed to apply at line {line}",
                              f"Selector {target} not a member of map[string]interface {{}}",
                              code=409, model=model, key=key, type="PATCH") from None
    return doc


def _go_value(value: Any) -> str:
    """``fmt``'s ``%#v`` of a decoded JSON value (``map[string]interface {}{...}``)."""
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)}:{_go_value(v)}" for k, v in sorted(value.items()))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_go_value(v) for v in value) + "}"
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else f"{value}"
    return json.dumps(value)


def _unresolved(doc: Any, path: str) -> str:
    """jsonpatch2's words when ``path`` names no member of ``doc`` ("Selector x not a
    member of <%#v of the parent>", pointer.go), else ""."""
    try:
        jsonpointer.resolve_pointer(doc, path)
    except jsonpointer.JsonPointerException:
        parent_path, _, target = path.rpartition("/")
        try:
            parent = jsonpointer.resolve_pointer(doc, parent_path)
        except jsonpointer.JsonPointerException:
            parent = doc
        target = target.replace("~1", "/").replace("~0", "~")
        return f"Selector {target} not a member of {_go_value(parent)}"
    return ""


def valid_name(value: Any, *, first_digit: bool = False, extra: str = "-_. ") -> bool:
    """DRP's name rules (models/utils.go ``validName`` and kin: ``^\\pL+([- _.]+|\\pN+|
    \\pL+)+$``): a letter (or, for machines, a digit) first, then letters, digits and
    ``extra``.  Written without a regex: Python's backtracking engine is exponential on
    that pattern, Go's RE2 is not.  One deviation: a one-character name is accepted
    (DRP's patterns need two), so that short test names keep working.
    """
    if not isinstance(value, str) or not value:
        return False
    first = value[0]
    if not (first.isalpha() or (first_digit and first.isalnum())):
        return False
    return all(c.isalnum() or c in extra for c in value[1:])


_PARAM_CHARS = "-_. /"

#: The architectures DRP v4.8 knows and the name it wants for each spelling
#: (models/machine.go ``SupportedArch``; recorded TestMachineArch).
_ARCH_NAMES: dict[str, tuple[str, ...]] = {
    "rpi4": ("rpi4",),
    "amd64": ("amd64", "x86_64"),
    "386": ("386", "486", "686", "i386", "i486", "i686"),
    "arm": ("arm", "armel", "armhfp"),
    "arm64": ("arm64", "aarch64"),
    "ppc64": ("ppc64", "power9"),
    "ppc64le": ("ppc64le",),
    "mips64": ("mips64",),
    "mips64le": ("mips64le", "mips64el"),
    "s390x": ("s390x",),
    "mips": ("mips",),
    "mipsle": ("mipsle", "mipsel"),
}
_ARCH_ALIASES = {alias: arch for arch, aliases in _ARCH_NAMES.items() for alias in aliases}


def supported_arch(value: Any) -> str | None:
    """The normalised name of an architecture (case-insensitive), ``None`` if unknown."""
    return _ARCH_ALIASES.get(value.lower()) if isinstance(value, str) else None


def arch_errors(value: Any) -> list[str]:
    """A machine's ``Arch`` must be a known architecture in its normalised spelling:
    "Unsupported arch foo", "Please use amd64 for Arch instead of x86_64"."""
    arch = supported_arch(value)
    if arch is None:
        return [f"Unsupported arch {value if isinstance(value, str) else ''}"]
    return [] if arch == value else [f"Please use {arch} for Arch instead of {value}"]


def check_names(prefix: str, obj: Obj, errors: list[str]) -> None:
    """The ``Validate()`` name checks of models/machine.go, profile.go, param.go and
    plugin.go, with their messages ("Invalid Name `{asdgasdg`", as recorded in
    cli/test-data/output/TestParamCli and others)."""

    def need(ok: bool, label: str, value: Any) -> None:
        if not ok:
            errors.append(f"{label} `{value if isinstance(value, str) else ''}`")

    name = obj.get("Name")
    if prefix == "machines":
        errors.extend(arch_errors(obj.get("Arch")))
        need(valid_name(name, first_digit=True), "Invalid Name", name)
        for field, label in (("Stage", "Invalid Stage"), ("BootEnv", "Invalid BootEnv")):
            need(valid_name(obj.get(field)), label, obj.get(field))
        if obj.get("Workflow"):
            need(valid_name(obj.get("Workflow")), "Invalid Workflow", obj.get("Workflow"))
        for profile in obj.get("Profiles") or []:
            need(valid_name(profile), "Invalid Profile", profile)
    elif prefix == "params":
        need(valid_name(name, extra=_PARAM_CHARS), "Invalid Name", name)
    elif prefix in ("tasks", "stages", "bootenvs", "workflows"):
        need(valid_name(name), "Invalid Name", name)  # models/task.go, stage.go, ...
        for pname in [*(obj.get("RequiredParams") or []), *(obj.get("OptionalParams") or [])]:
            need(valid_name(pname, extra=_PARAM_CHARS), "Invalid Param", pname)
    elif prefix == "jobs":
        # models/job.go Validate; recorded TestJobCli: "Invalid State `fred`"
        need(obj.get("State") in JOB_STATES, "Invalid State", obj.get("State"))
        if obj.get("Task"):
            need(valid_name(obj.get("Task")), "Invalid Task", obj.get("Task"))
        if obj.get("Stage"):
            need(valid_name(obj.get("Stage")), "Invalid Stage", obj.get("Stage"))
    elif prefix in ("profiles", "plugins"):
        need(valid_name(name), "Invalid Name", name)
        if prefix == "plugins":
            need(valid_name(obj.get("Provider")), "Invalid Provider", obj.get("Provider"))
        # Deviation: DRP also checks the Params keys of profiles and plugins ("Invalid
        # Param Name"); the stand-in does not, so that clients' tests may store any key.
        if prefix == "profiles":
            for profile in obj.get("Profiles") or []:
                need(valid_name(profile), "Invalid Profile Name", profile)


def locked(model: str, key: str, method: str) -> PluginError:
    """A change to a ``Locked`` machine (recorded: TestMachineLocked, "PATCH:
    machines/<uuid>: Locked" and "DELETE: machines/<uuid>: Locked")."""
    return PluginError("Locked", code=423, model=model, key=key, type=method)


#: The states a job may be in (models/job.go), and those of a job not done yet: a
#: machine has at most one, and it is not deleted.
JOB_STATES = frozenset({"created", "running", "incomplete", "finished", "failed"})
BUSY_JOB_STATES = frozenset({"created", "running"})


def not_found(model: str, key: str, method: str = "GET") -> PluginError:
    """DRP's answer for a missing object."""
    return PluginError("Not Found", code=404, model=model, key=key, type=method)


class Store:
    """Objects by prefix and key, with DRP's validation and events."""

    def __init__(self, box: SecureBox, publish: Callable[[Obj], None]) -> None:
        self.box = box
        self._publish = publish
        self._quiet = False
        self.types: dict[str, ObjectType] = {t.prefix: t for t in builtin_types()}
        self.data: dict[str, dict[str, Obj]] = {p: {} for p in self.types}
        self.pending: dict[str, dict[str, Obj]] = {}
        self.changed: Callable[[], None] = lambda: None
        #: The users holding a role, sorted (the stand-in wires it to its users): a role
        #: in use is not deleted.
        self.role_users: Callable[[str], list[str]] = lambda name: []
        #: The names of the users (the stand-in wires it to its users): a tenant's
        #: ``Users`` must exist.
        self.user_names: Callable[[], list[str]] = lambda: []
        #: The preference naming an object (a default boot environment or stage), if
        #: any (the stand-in wires it to its prefs): such an object is not deleted.
        self.pref_holder: Callable[[str, str], str | None] = lambda prefix, key: None
        #: The fields a new machine takes from the preferences (the stand-in wires it
        #: to :func:`.prefs.for_new_machine`).
        self.machine_defaults: Callable[[Obj], Obj] = lambda body: {}
        # as recorded (cli/test-data/output/TestProfileCli/profiles.list): Bundle
        # "BackingStore", this Description and Meta
        self.data["profiles"][GLOBAL_PROFILE] = self.types["profiles"].fill(
            {"Name": GLOBAL_PROFILE, "Bundle": "BackingStore",
             "Description": "Global profile attached automatically to all machines.",
             "Meta": {"color": "blue", "icon": "world", "title": "Digital Rebar Provision"}}
        )

    # ---- types -------------------------------------------------------------------

    def add_type(self, otype: ObjectType) -> None:
        """Serve a plugin-defined type (objects loaded earlier for it come back)."""
        self.types[otype.prefix] = otype
        self.data[otype.prefix] = self.pending.pop(otype.prefix, {})

    def remove_type(self, prefix: str) -> None:
        """Stop serving a plugin-defined type; its non-content objects are kept aside."""
        self.types.pop(prefix, None)
        kept = {k: o for k, o in self.data.pop(prefix, {}).items() if not o.get("ReadOnly")}
        if kept:
            self.pending[prefix] = kept

    def otype(self, prefix: str, method: str = "GET") -> ObjectType:
        """The served type ``prefix``: a DRP type the stand-in lacks is a 404 that says so;
        any other name is DRP's "No route" (recorded: TestPluginProviderCli/extended.b24ec2283fb58a58c22861abe39a4f40, "POST:
        /api/v3/freds: No route")."""
        try:
            return self.types[prefix]
        except KeyError:
            if prefix in DRP_PREFIXES:
                raise PluginError(
                    f"No such object type: {prefix} (the DRP stand-in does not serve it)",
                    code=404, model=prefix, type=method,
                ) from None
            raise PluginError("No route", code=404, model=f"/api/v3/{prefix}",
                              type=method) from None

    # ---- reads -------------------------------------------------------------------

    def resolve(self, prefix: str, key: str, method: str = "GET") -> str:
        """The real key of ``key``, which may be ``Index:value`` (e.g. ``Name:m1``)."""
        otype = self.otype(prefix, method)
        objs = self.data[prefix]
        if key in objs:
            return key
        index, sep, value = key.partition(":")
        if sep and (index in otype.indexes or index == "Key"):  # Key: the key index
            if index in (otype.key, "Key"):
                if value in objs:
                    return value
            else:
                for k, obj in objs.items():
                    if obj.get(index) == value:
                        return k
        raise not_found(prefix, key, method)

    def get(self, prefix: str, key: str, method: str = "GET") -> Obj:
        """The stored object (not a copy: callers must not modify it)."""
        return self.data[prefix][self.resolve(prefix, key, method)]

    def find(self, prefix: str, key: str) -> Obj | None:
        """The stored object under the exact ``key`` (no ``Index:value``), or ``None``; not
        a copy."""
        return self.data.get(prefix, {}).get(key)

    def objects(self, prefix: str) -> list[Obj]:
        """The stored objects of ``prefix`` in key order (not copies); 404 for a type not
        served."""
        self.otype(prefix)
        return [self.data[prefix][k] for k in sorted(self.data[prefix])]

    def box_public_key(self) -> str:
        """The public key secure values are sealed to, base64 as Go encodes ``[]byte``."""
        return base64.b64encode(self.box.public_key).decode("ascii")

    def param_def(self, name: str) -> Obj | None:
        """The Param (the ``params`` object) named ``name``, or ``None``."""
        return self.data["params"].get(name)

    def param_default(self, name: str) -> tuple[bool, Any]:
        """``(True, default)`` when the Param's Schema has a ``default``."""
        pdef = self.param_def(name)
        schema = pdef.get("Schema") if pdef else None
        if isinstance(schema, dict) and "default" in schema:
            return True, copy.deepcopy(schema["default"])
        return False, None

    def is_secure(self, name: str) -> bool:
        """Whether the Param ``name`` exists and has ``Secure`` set."""
        pdef = self.param_def(name)
        return bool(pdef and pdef.get("Secure"))

    def aggregate(self, prefix: str, obj: Obj) -> dict[str, Any]:
        """Params of ``obj`` merged over its profiles and the global profile; a machine's
        also over its stage's params and profiles, after its own profiles (recorded
        TestMachineCli ``machines params <uuid> --aggregate``: ``sp-direct-param`` set
        on stage2 and ``sp-param`` on its profile stage-prof)."""
        layers: list[dict[str, Any]] = []
        seen: set[str] = set()

        def walk(names: Any) -> None:
            for name in names if isinstance(names, list) else []:
                prof = self.data["profiles"].get(name)
                if prof is None or name in seen:
                    continue
                seen.add(name)
                layers.append(prof.get("Params") or {})
                walk(prof.get("Profiles"))

        if prefix == "profiles":
            seen.add(obj.get("Name", ""))
        walk(obj.get("Profiles"))
        stage = self.data["stages"].get(str(obj.get("Stage") or "")) \
            if prefix == "machines" else None
        if stage is not None:
            layers.append(stage.get("Params") or {})
            walk(stage.get("Profiles"))
        if prefix != "profiles" and GLOBAL_PROFILE not in seen:
            layers.append(self.data["profiles"][GLOBAL_PROFILE].get("Params") or {})
        result: dict[str, Any] = {}
        for layer in reversed(layers):
            result.update(layer)
        result.update(obj.get("Params") or {})
        return copy.deepcopy(result)

    def present_params(self, params: dict[str, Any], decode: bool) -> dict[str, Any]:
        """Params as clients see them: secure values sealed unless ``decode``."""
        out = copy.deepcopy(params)
        if not decode:
            for name, value in out.items():
                if self.is_secure(name):
                    out[name] = self.box.seal(value)
        return out

    def render(self, prefix: str, obj: Obj, *, decode: bool = False,
               aggregate: bool = False) -> Obj:
        """A deep copy of ``obj`` as the API shows it."""
        out = copy.deepcopy(obj)
        if isinstance(out.get("Params"), dict):
            params = self.aggregate(prefix, obj) if aggregate else out["Params"]
            out["Params"] = self.present_params(params, decode)
        return out

    def params(self, prefix: str, key: str, *, aggregate: bool = False,
               decode: bool = False) -> dict[str, Any]:
        """An object's Params as clients see them (``aggregate``: merged over its profiles
        and ``global``; secure values sealed unless ``decode``); 404 for a type without params."""
        obj = self._param_holder(prefix, key, "GET")
        params = self.aggregate(prefix, obj) if aggregate else obj.get("Params") or {}
        return self.present_params(params, decode)

    def param(self, prefix: str, key: str, name: str, *, aggregate: bool = False,
              decode: bool = False) -> Any:
        """One param value; ``None`` when unset (with ``aggregate``: falls back to defaults)."""
        obj = self._param_holder(prefix, key, "GET")
        params = self.aggregate(prefix, obj) if aggregate else obj.get("Params") or {}
        if name in params:
            value = params[name]
        elif aggregate:
            value = self.param_default(name)[1]
        else:
            return None
        return self.box.seal(value) if self.is_secure(name) and not decode else value

    # ---- validation --------------------------------------------------------------

    def check_param(self, name: str, value: Any) -> tuple[Any, list[str]]:
        """``(plain value, errors)`` of ``value`` for param ``name`` (envelopes opened)."""
        pdef = self.param_def(name)
        if pdef is None:
            return value, []
        if pdef.get("Secure") and is_envelope(value):
            try:
                value = self.box.open(value)
            except ValueError as exc:
                return value, [f"Param {name}: {exc}"]
        schema = pdef.get("Schema")
        if not isinstance(schema, dict) or not schema:
            return value, []
        validator = jsonschema.validators.validator_for(schema)(schema)
        errors = wording.param_errors(name, list(validator.iter_errors(value)))
        return value, errors

    def _check_params(self, obj: Obj, errors: list[str]) -> None:
        params = obj.get("Params")
        if not isinstance(params, dict):
            errors.append("Params must be an object")
            return
        for name in list(params):
            params[name], errs = self.check_param(name, params[name])
            errors.extend(errs)

    def _check_profiles(self, prefix: str, key: str, obj: Obj, errors: list[str]) -> None:
        profiles = obj.get("Profiles")
        if not isinstance(profiles, list) or not all(isinstance(p, str) for p in profiles):
            errors.append("Profiles must be a list of names")
            return
        seen: dict[str, int] = {}
        for i, name in enumerate(profiles):
            if name in seen:
                errors.append(f"Duplicate profile {name}: at {seen[name]} and {i}")
            seen.setdefault(name, i)
            if prefix == "profiles" and name == key:
                errors.append(f"Profile {name} (at {i}) cannot include itself")
            elif name not in self.data["profiles"]:
                errors.append(f"Profile {name} (at {i}) does not exist")

    def _check_type(self, otype: ObjectType, key: str, obj: Obj, errors: list[str],
                    internal: bool = False) -> None:
        prefix = otype.prefix
        if prefix == "machines":
            try:
                uuid.UUID(str(obj.get("Uuid")))
            except ValueError:
                errors.append(f"Invalid Uuid `{obj.get('Uuid')}`")
            address = obj.get("Address") or ""
            try:
                if address:
                    ipaddress.ip_address(address)
            except ValueError:
                errors.append(f"Invalid Address `{address}`")
        if prefix == "params":
            schema = obj.get("Schema")
            if schema is not None and not isinstance(schema, (dict, bool)):
                errors.append("Schema must be a JSON schema object")
            elif isinstance(schema, dict):
                try:
                    jsonschema.validators.validator_for(schema).check_schema(schema)
                except jsonschema.SchemaError as exc:
                    errors.append(f"Invalid Schema: {exc.message}")
                else:
                    if "default" in schema:  # models/param.go Validate
                        validator = jsonschema.validators.validator_for(schema)(schema)
                        errors.extend(wording.default_errors(
                            list(validator.iter_errors(schema["default"]))))
        check_names(prefix, obj, errors)
        if prefix in ("tasks", "stages", "bootenvs"):
            lifecycle.fill_templates(obj)
            errors.extend(lifecycle.template_errors(
                obj, lambda name: name in self.data["templates"]))
        if prefix == "roles":
            self._check_claims(obj, errors)
        if prefix == "tenants":
            errors.extend(tenants.problems(self, str(obj.get("Name") or key), obj,
                                            self.user_names()))
        if prefix == "tasks":
            errors.extend(lifecycle.task_errors(obj))
            if not internal:  # a pack's tasks are checked together (packs.py)
                name = str(obj.get("Name") or key)
                errors.extend(lifecycle.prerequisite_errors(
                    name, lifecycle.prerequisites_in({name: obj}, self.data["tasks"])))
        if "Profiles" in otype.defaults:
            self._check_profiles(prefix, key, obj, errors)
        if otype.schema is not None:
            validator = jsonschema.Draft7Validator(otype.schema)
            errors.extend(wording.object_errors(list(validator.iter_errors(obj))))

    def _check_claims(self, obj: Obj, errors: list[str]) -> None:
        """``models.Role.Claims``: a list of ``models.Claim``, stored with DRP's JSON field
        names (``scope``, ``action``, ``specific``; recorded ``TestAuth/roles.list``)."""
        given = obj.get("Claims")
        if given is None:
            given = []
        if not isinstance(given, list):
            errors.append("Claims must be a list of claims")
            return
        stored = []
        for raw in given:
            claim = claims_json(raw)
            if claim is None:
                errors.append(f"Invalid claim {raw!r}: scope, action and specific are "
                              "strings")
                continue
            errors.extend(claim_problems(claim, (t.prefix for t in self.types.values()
                                                 if t.provider)))
            stored.append({"action": claim.action, "scope": claim.scope,
                           "specific": claim.specific})
        obj["Claims"] = stored

    def _prepare(self, otype: ObjectType, body: Any, key_hint: str = "",
                 internal: bool = True, given: str | None = None) -> Obj:
        """A filled, validated copy of ``body`` (422 ValidationError on failure).

        Only the stand-in itself (``internal``) makes objects read-only.
        """
        if not isinstance(body, dict):
            raise PluginError("Body must be a JSON object", code=400, model=otype.prefix,
                              key=key_hint, type="ValidationError")
        obj = otype.fill(otype.known(copy.deepcopy(body)))
        if not internal and "ReadOnly" in obj:
            obj["ReadOnly"] = False
        key = obj.get(otype.key)
        errors: list[str] = []
        if (key is None or key == "") and not key_hint:
            # recorded (TestPluginCli): "CREATE: plugins: Empty key not allowed"
            raise PluginError("Empty key not allowed", code=422, model=otype.prefix,
                              type="CREATE")
        if not isinstance(key, str) or not key:
            errors.append(f"{otype.key} must be a non-empty string")
            key = key_hint
        elif otype.has_params and "/" in key:
            errors.append(f"Invalid {otype.key} `{key}`")
        self._check_type(otype, str(key), obj, errors, internal)
        if otype.has_params:
            self._check_params(obj, errors)
        if errors:  # each once (recorded TestProfileFileImport: "Invalid Name" once)
            raise PluginError(*dict.fromkeys(errors), code=422, model=otype.prefix,
                              key=given if given is not None else str(key),
                              type="ValidationError")
        if otype.provider:  # models.RawModel: DRP never validates it (recorded
            # TestPluginProviderCli, extended -l cows create: Available/Validated false)
            obj.update(Validated=False, Available=False, Errors=[])
        elif "Validated" in otype.defaults:
            missing = lifecycle.reference_errors(self, otype.prefix, obj)
            obj.update(Validated=True, Available=not missing, Errors=missing)
        return obj

    def _moves(self, otype: ObjectType, old: Obj | None, obj: Obj, given: str,
               force: bool = False) -> None:
        """A machine's Stage/Workflow change (:mod:`.lifecycle`); 422 when refused
        (``force``: the client's ``?force=true``)."""
        if otype.prefix != "machines":
            return
        errors = lifecycle.machine_moves(self, old, obj, force)
        if errors:
            raise PluginError(*errors, code=422, model="machines",
                              key=str(obj.get("Uuid") or given), type="ValidationError")

    @staticmethod
    def _on_create(otype: ObjectType, obj: Obj) -> None:
        """What DRP sets on a new object whatever the client sent (drpcli sends every
        field, zero values included): a machine is ``Runnable``, ``PoolStatus`` "Free",
        ``WorkflowComplete`` without a workflow (api/events_test.go ``TestWaitFor``, v4.8),
        ``CurrentTask`` -1 when it has tasks, 0 otherwise; new machines, tasks and stages
        get the feature flags of the server's semantics and a stage ``RunnerWait``
        (recorded: TestMachineCli/machines.create.*, tasks.create.*, stages.create.*)."""
        prefix = otype.prefix
        if prefix == "machines":
            obj.update(Runnable=True, CurrentTask=-1 if obj.get("Tasks") else 0)
            if not obj.get("PoolStatus"):
                obj["PoolStatus"] = "Free"
            if not obj.get("Workflow"):
                obj["WorkflowComplete"] = True
        flags = {"machines": "change-stage-v2", "tasks": "sane-exit-codes"}.get(prefix)
        if flags and isinstance(obj.get("Meta"), dict) and "feature-flags" not in obj["Meta"]:
            obj["Meta"] = {**obj["Meta"], "feature-flags": flags}
        if prefix == "stages":
            obj["RunnerWait"] = True

    def _check_unique(self, otype: ObjectType, obj: Obj, own_key: str | None) -> None:
        for index in otype.unique:
            value = obj.get(index)
            for k, other in self.data[otype.prefix].items():
                if k != own_key and value and other.get(index) == value:
                    raise PluginError(
                        f"{index} {value} already in use by {k}", code=409,
                        model=otype.prefix, key=obj[otype.key], type="ValidationError",
                    )

    # ---- writes ------------------------------------------------------------------

    def _recheck_references(self, prefix: str) -> None:
        """A bootenv or stage came or went: stages and workflows naming one are
        (un)available again (recorded TestBootenvStageHandling: ``stages show fred``
        Available once bootenv fred exists)."""
        if prefix not in ("bootenvs", "stages"):
            return
        for kind in ("stages", "workflows"):
            for obj in self.data.get(kind, {}).values():
                missing = lifecycle.reference_errors(self, kind, obj)
                if obj.get("Validated") and obj.get("Errors", []) != missing:
                    obj.update(Available=not missing, Errors=missing)

    def _emit(self, action: str, prefix: str, key: str, obj: Obj, principal: str,
              original: Obj | None = None) -> None:
        self._recheck_references(prefix)
        event = make_event(prefix, action, key, self.render(prefix, obj))
        event["Principal"] = principal
        event["Original"] = self.render(prefix, original) if original is not None else None
        if not self._quiet:
            self._publish(event)
        self.changed()

    def restacked(self) -> None:
        """DRP rebuilt its content stack (a content pack came or went): the objects of its
        writable layer are read back from it and name it as their ``Bundle``.  Recorded
        TestSecureParams: machine ``bob``, created (``Bundle: ""``) before the licence pack
        was uploaded, shows ``"Bundle": "BackingStore"`` after it; objects created later
        keep ``""`` (every other recording).  No event: nothing about them changed."""
        for objs in self.data.values():
            for obj in objs.values():
                if obj.get("Bundle") == "" and not obj.get("ReadOnly"):
                    obj["Bundle"] = "BackingStore"
        self.changed()

    @contextlib.contextmanager
    def unpublished(self) -> Iterator[None]:
        """Writes inside publish no event: content present from the start
        (``BasicStore``), as DRP loads it before any client could listen."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def _writable(self, prefix: str, key: str, method: str, internal: bool) -> ObjectType:
        otype = self.otype(prefix, method)
        if internal:
            return otype
        if not otype.writable:
            raise PluginError(f"{prefix} cannot be changed with {method}", code=405,
                              model=prefix, key=key, type=method)
        obj = self.find(prefix, key)
        if obj is not None and obj.get("ReadOnly"):
            raise PluginError(f"{prefix}/{key} is read only", code=403, model=prefix,
                              key=key, type=method)
        return otype

    def create(self, prefix: str, body: Any, principal: str = "", *,
               internal: bool = False, replace: bool = False) -> Obj:
        """Store a new object; 409 when it exists (unless ``replace``)."""
        otype = self._writable(prefix, "", "POST", internal)
        if prefix == "machines" and isinstance(body, dict):
            body = {**body, **self.machine_defaults(body)}
        obj = self._prepare(otype, body, internal=internal)
        key = obj[otype.key]
        old = self.data[prefix].get(key)
        if old is not None and not replace:
            raise PluginError("already exists", code=409, model=prefix, key=key,
                              type="CREATE")
        self._check_unique(otype, obj, key)
        if old is None:
            self._moves(otype, None, obj, key)
            self._on_create(otype, obj)
        self.data[prefix][key] = obj
        if old is None:
            self._emit("create", prefix, key, obj, principal)
            tenants.joined(self, principal, prefix, key)
        else:
            self._emit("update", prefix, key, obj, principal, old)
        return obj

    def replace(self, prefix: str, key: str, body: Any, principal: str = "", *,
                internal: bool = False, method: str = "PUT",
                force: bool = False) -> tuple[Obj, Obj]:
        """PUT: replace the whole object; returns ``(old, new)``.  ``force`` (``?force=
        true``) allows what DRP refuses unless forced (a stage change with tasks left).

        Errors name the object by ``key`` as given (``Name:bob``), as DRP does.
        """
        given = key
        key = self.resolve(prefix, key, method)
        otype = self._writable(prefix, key, method, internal)
        if isinstance(body, dict) and not body.get(otype.key):
            body = {**body, otype.key: key}
        obj = self._prepare(otype, body, given, internal, given=given)
        if obj[otype.key] != key:
            raise PluginError(f"Key change from {key} to {obj[otype.key]} not allowed",
                              code=422, model=prefix, key=given, type="ValidationError")
        old = self.data[prefix][key]
        if not internal and old.get("Locked") and obj.get("Locked") and prefix == "machines":
            raise locked(prefix, given, method)
        self._check_unique(otype, obj, key)
        self._moves(otype, old, obj, given, force or internal)
        self.data[prefix][key] = obj
        self._emit("update", prefix, key, obj, principal, old)
        return old, obj

    def patch(self, prefix: str, key: str, ops: Any, principal: str = "", *,
              force: bool = False) -> tuple[Obj, Obj]:
        """PATCH with RFC 6902 ops applied to the object as rendered."""
        real = self.resolve(prefix, key, "PATCH")
        self._writable(prefix, real, "PATCH", False)
        doc = apply_patch(self.render(prefix, self.data[prefix][real]), ops, prefix, key)
        return self.replace(prefix, key, doc, principal, method="PATCH", force=force)

    def remove(self, prefix: str, key: str, principal: str = "", *,
               internal: bool = False) -> Obj:
        """Delete an object and publish ``delete``; returns it.  Unless ``internal``: 405
        for a type not writable, 403 when read-only, 423 for a Locked machine.  409 for
        the global profile or a profile in use."""
        given = key
        key = self.resolve(prefix, key, "DELETE")
        if prefix == "roles" and not internal:
            users = self.role_users(key)
            if users:  # before read-only: recorded TestRoleCLI/roles.destroy.superuser
                raise PluginError(*(f"In use by User {u}" for u in users), code=409,
                                  model="roles", key=key, type="StillInUseError")
        if prefix == "tenants" and not internal:
            tenants.refuse_delete(self.data[prefix][key], key)
        if prefix == "jobs" and not internal \
                and self.data[prefix][key].get("State") in BUSY_JOB_STATES:
            # recorded TestJobCli: "ValidationError: jobs/<uuid>: Jobs <uuid> is not in a
            # deletable state: created"
            raise PluginError(f"Jobs {key} is not in a deletable state: "
                              f"{self.data[prefix][key].get('State')}", code=422,
                              model="jobs", key=key, type="ValidationError")
        self._writable(prefix, key, "DELETE", internal)
        if not internal and self.data[prefix][key].get("Locked") and prefix == "machines":
            raise locked(prefix, given, "DELETE")
        if prefix == "profiles" and (not internal or key == GLOBAL_PROFILE):
            self._check_profile_unused(key)
        held = self.pref_holder(prefix, key) if not internal else None
        if held:
            raise prefs.in_use(prefix, key, held)
        obj = self.data[prefix].pop(key)
        self._emit("delete", prefix, key, obj, principal)
        tenants.left(self, prefix, key)
        return obj

    def _check_profile_unused(self, name: str) -> None:
        if name == GLOBAL_PROFILE:
            raise PluginError("The global profile cannot be deleted", code=409,
                              model="profiles", key=name, type="DELETE")
        for prefix, otype in self.types.items():
            if "Profiles" not in otype.defaults:
                continue
            for key, obj in self.data[prefix].items():
                if name in (obj.get("Profiles") or []):
                    raise PluginError(f"Profile {name} is in use by {prefix}/{key}",
                                      code=409, model="profiles", key=name, type="DELETE")

    def update_fields(self, prefix: str, key: str, fields: Obj, principal: str = "") -> Obj:
        """Internal status change (e.g. ``PluginErrors``) published as ``save``."""
        obj = self.find(prefix, key)
        if obj is None:
            raise not_found(prefix, key, "PUT")
        if all(obj.get(k) == v for k, v in fields.items()):
            return obj
        obj.update(copy.deepcopy(fields))
        self._emit("save", prefix, key, obj, principal)
        return obj

    # ---- param writes ------------------------------------------------------------

    def _param_holder(self, prefix: str, key: str, method: str) -> Obj:
        otype = self.otype(prefix, method)
        if not otype.has_params:
            raise PluginError(f"{prefix} have no params", code=404, model=prefix, key=key,
                              type=method)
        return self.get(prefix, key, method)

    def _save_params(self, prefix: str, key: str, params: dict[str, Any],
                     principal: str) -> tuple[Obj, Obj]:
        real = self.resolve(prefix, key, "PUT")
        otype = self._writable(prefix, real, "PUT", False)
        old = self.data[prefix][real]
        if old.get("Locked") and prefix == "machines":
            raise locked(prefix, key, "PUT")
        obj = self._prepare(otype, {**old, "Params": params}, key, given=key)
        self.data[prefix][real] = obj
        self._emit("save", prefix, real, obj, principal)
        return old, obj

    def set_param(self, prefix: str, key: str, name: str, value: Any,
                  principal: str = "") -> tuple[Obj, Obj]:
        """Set param ``name`` to ``value`` (validated) and publish ``save``; returns
        ``(old, new)`` object."""
        params = dict(self._param_holder(prefix, key, "POST").get("Params") or {})
        self._check_one_param(prefix, key, name, value)
        params[name] = value
        return self._save_params(prefix, key, params, principal)

    def _check_one_param(self, prefix: str, key: str, name: str, value: Any) -> None:
        """A value for ``name`` its Param's schema refuses: DRP's set-param wording."""
        pdef = self.param_def(name)
        schema = pdef.get("Schema") if pdef else None
        if not isinstance(schema, dict) or not schema or (pdef or {}).get("Secure"):
            return
        found = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(value))
        if found:
            raise PluginError(wording.set_param_error(name, value, found), code=422,
                              model=prefix, key=key, type="POST")

    def delete_param(self, prefix: str, key: str, name: str,
                     principal: str = "") -> tuple[Obj, Obj]:
        """Unset param ``name`` (404 when not set) and publish ``save``; returns ``(old, new)``."""
        params = dict(self._param_holder(prefix, key, "DELETE").get("Params") or {})
        if name not in params:  # recorded: "DELETE: params/newparam: Not Found"
            raise PluginError("Not Found", code=404, model="params", key=name,
                              type="DELETE")
        del params[name]
        return self._save_params(prefix, key, params, principal)

    def replace_params(self, prefix: str, key: str, params: Any,
                       principal: str = "") -> tuple[Obj, Obj]:
        """Replace the whole Params with ``params`` (400 unless a JSON object) and publish
        ``save``; returns ``(old, new)``."""
        self._param_holder(prefix, key, "POST")
        if not isinstance(params, dict):
            raise PluginError("Params must be a JSON object", code=400, model=prefix,
                              key=key, type="POST")
        return self._save_params(prefix, key, params, principal)

    def patch_params(self, prefix: str, key: str, ops: Any,
                     principal: str = "") -> tuple[Obj, Obj]:
        """Apply RFC 6902 ``ops`` to the Params as rendered (sealed values are opened again
        on save; 422 if the result is no object) and publish ``save``; returns ``(old, new)``."""
        current = self.params(prefix, key)
        params = apply_patch(current, ops, prefix, key)
        if not isinstance(params, dict):
            raise PluginError("Params must stay a JSON object", code=422, model=prefix,
                              key=key, type="ValidationError")
        return self._save_params(prefix, key, params, principal)

    # ---- persistence -------------------------------------------------------------

    def dump(self) -> dict[str, list[Obj]]:
        """Objects worth saving: everything but providers and content objects."""
        out: dict[str, list[Obj]] = {}
        for prefix, objs in [*self.data.items(), *self.pending.items()]:
            if prefix == "plugin_providers":
                continue
            kept = [o for o in objs.values() if not o.get("ReadOnly")]
            if kept:
                out[prefix] = copy.deepcopy(kept)
        return out

    def load(self, data: dict[str, Any]) -> None:
        """Objects saved by :meth:`dump` (types not served yet wait in ``pending``)."""
        for prefix, objs in data.items():
            if prefix == "plugin_providers" or not isinstance(objs, list):
                continue
            otype = self.types.get(prefix)
            for obj in objs:
                if not isinstance(obj, dict):
                    continue
                if otype is None:
                    self.pending.setdefault(prefix, {})[str(obj.get("Id"))] = obj
                else:
                    self.data[prefix][obj[otype.key]] = otype.fill(obj)
