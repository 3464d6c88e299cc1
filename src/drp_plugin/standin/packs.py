"""``/api/v3/contents``: content packs loaded as read-only objects, and the content
layers of installed providers, summarised as ``models.ContentSummary``
(``{"meta": {...}, "Counts": {prefix: n}, "Warnings": [...]}``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import PluginError
from . import gotypes, lifecycle, versions
from .content import LOADED_SECTIONS

if TYPE_CHECKING:
    from .server import StandIn

Obj = dict[str, Any]
SYSTEM = "system"


def _meta(meta: Any, name: str) -> Obj:
    base = {"Name": name, "Version": "", "Type": "dynamic", "Description": "",
            "Source": "", "Documentation": "", "Writable": False, "Overwritable": False}
    return {**base, **(meta if isinstance(meta, dict) else {}), "Name": name}


def _check_references(sections: Obj, templates: Obj, tasks: Obj,
                      max_fault_bytes: int) -> None:
    """What a pack's objects name exists and holds together, counting the pack's own and
    the stored objects; otherwise nothing is loaded and DRP's answer lists every fault
    under "Failed to load backing objects from cache".  Recorded: TestContentCli
    ``contents create test-data/content.yaml`` ("Templates[0]: No common template for
    default-pxelinux.tmpl"...) and TestTasksInContentBundles (a task's prerequisites:
    "Task t1 missing prerequisite f1", and cycles, "Task t1 depends on itself!" / "t1:
    t2: t1 (cycle at 0)", task by task)."""
    known = set(templates) | set((sections.get("templates") or {}).keys())
    faults: list[str] = []
    for prefix in ("tasks", "bootenvs", "stages"):
        for _, obj in sorted((sections.get(prefix) or {}).items()):
            if isinstance(obj, dict):
                faults.extend(lifecycle.template_errors(obj, known.__contains__))
    own = {str(o.get("Name") or k): o for k, o in (sections.get("tasks") or {}).items()
           if isinstance(o, dict)}
    prerequisites_of = lifecycle.prerequisites_in(own, tasks)

    for name in sorted(own):
        faults.extend(f"Task {name} missing prerequisite {pre}" for pre in prerequisites_of(name)
                      if pre not in own and pre not in tasks)
    acyclic: set[str] = set()
    names = sorted(own)
    size = sum(len(f) for f in faults)
    for done, name in enumerate(names):
        if size > max_fault_bytes:
            faults.append(f"... {len(names) - done} more tasks not checked: the faults "
                          f"listed passed {max_fault_bytes} bytes "
                          "(DRP_PLUGIN_STANDIN_MAX_FAULT_BYTES)")
            break
        found = lifecycle.prerequisite_errors(name, prerequisites_of, acyclic)
        size += sum(len(f) for f in found)
        faults.extend(found)
    if faults:
        raise PluginError(*faults, code=422, type="Failed to load backing objects from cache")


class Packs:
    """Content packs posted to the stand-in (by name), with their objects."""

    def __init__(self, drp: StandIn) -> None:
        self.drp = drp
        self.packs: dict[str, tuple[Obj, list[tuple[str, str]], list[str]]] = {}

    def summaries(self) -> list[Obj]:
        """Every layer: posted packs, then each provider's content."""
        out = [self.summary(name) for name in sorted(self.packs)]
        for name, provider in sorted(self.drp.providers.providers.items()):
            if not provider.content:
                continue
            record = self.drp.store.find("plugin_providers", name) or {}
            out.append(self._summarise(_meta(record.get("Meta"), name), provider.content, []))
        return out

    def content(self, name: str) -> Obj:
        """``models.Content`` of a posted pack: its meta and its objects as the layer
        keeps them, as DRP answers it (recorded TestContentCli ``contents show
        withProfile --key``): validation cleared (``Available``, ``Validated`` and
        ``ReadOnly`` false, no ``Errors``) and secure params decoded, which drpcli seals
        again with a key of its own (the ``secure-params-in-content-packs`` feature: it
        refuses to show such a pack without ``--key``)."""
        self.summary(name)
        meta, keys, _ = self.packs[name]
        sections: dict[str, Obj] = {}
        for prefix, key in keys:
            obj = self.drp.store.find(prefix, key)
            if obj is not None:
                shown = self.drp.store.render(prefix, obj, decode=True)
                shown.pop("Errors", None)
                shown.update(Available=False, Validated=False, ReadOnly=False)
                sections.setdefault(prefix, {})[key] = shown
        return {"meta": meta, "sections": sections}

    def summary(self, name: str, method: str = "GET") -> Obj:
        """``models.ContentSummary`` of the posted pack ``name``; ``PluginError`` 404 when
        there is none, worded as DRP words it (recorded TestContentCli ``contents show
        john2``: "GET: contents/john2: No such content store"; ``contents destroy john``
        once gone: "DELETE: contents/john: ...")."""
        if name not in self.packs:
            raise PluginError("No such content store", code=404, model="contents", key=name,
                              type=method)
        meta, keys, warnings = self.packs[name]
        return self._summarise(meta, keys, warnings)

    @staticmethod
    def _summarise(meta: Obj, keys: list[tuple[str, str]], warnings: list[str]) -> Obj:
        counts: dict[str, int] = {}
        for prefix, _ in keys:
            counts[prefix] = counts.get(prefix, 0) + 1
        return {"meta": meta, "Counts": counts, "Warnings": list(warnings)}

    def load(self, body: Any, replace: bool, layer: str = "dynamic") -> Obj:
        """Load a ``models.Content`` (``meta`` + ``sections``) as read-only objects.

        An uploaded pack is a ``dynamic`` layer whatever its ``meta.Type`` says (recorded
        TestContentVersions: ``Type: dynamic`` for packs uploaded with no Type, drpcli
        sending ``""``); the stand-in's own layers (``BasicStore``) keep theirs.
        """
        if not isinstance(body, dict) or not isinstance(body.get("meta"), dict) \
                or not isinstance(body["meta"].get("Name"), str) or not body["meta"]["Name"]:
            raise PluginError("Content needs meta.Name", code=422, model="contents",
                              type="ValidationError")
        name = body["meta"]["Name"]
        if name in self.packs and not replace:  # recorded TestContentCli, contents create
            raise PluginError(f"Content {name} already exists", code=409, model="contents",
                              key=name, type="POST")
        store = self.drp.store
        sections = body.get("sections") or {}
        if not isinstance(sections, dict) or not all(
                isinstance(v, dict) or v is None for v in sections.values()):
            raise PluginError("sections must map each prefix to an object of objects",
                              code=422, model="contents", key=name, type="ValidationError")
        try:
            warnings = versions.check_layer(name, body["meta"], (
                (layer["meta"]["Name"], str(layer["meta"].get("Version") or ""))
                for layer in self.summaries() if layer["meta"]["Name"] != name))
        except ValueError as err:
            raise PluginError(str(err), code=422, model="contents", key=name,
                              type="PUT" if replace else "POST") from None
        self._check_layer(name, sections, replace)
        if name in self.packs:  # only once the new body is known to be well formed
            self.remove(name, quiet=True)
        _check_references(sections, store.data["templates"], store.data["tasks"],
                          self.drp.limits.max_fault_bytes)
        keys: list[tuple[str, str]] = []
        order = [p for p in LOADED_SECTIONS if p in sections] + sorted(
            p for p in sections if p not in LOADED_SECTIONS and p in store.types)
        for prefix in sorted(set(sections) - set(order)):
            warnings.append(f"section {prefix} not loaded: the DRP stand-in does not serve it")
        try:
            for prefix in order:
                key_field = store.types[prefix].key
                for key, obj in sorted((sections[prefix] or {}).items()):
                    item = {**(obj if isinstance(obj, dict) else {}), "ReadOnly": True,
                            "Bundle": name}
                    item.setdefault(key_field, key)
                    store.create(prefix, item, SYSTEM, internal=True, replace=True)
                    keys.append((prefix, item[key_field]))
        except PluginError:
            for prefix, key in reversed(keys):
                if store.find(prefix, key) is not None:
                    store.remove(prefix, key, SYSTEM, internal=True)
            raise
        meta = _meta(body["meta"], name)
        if layer:
            meta["Type"] = layer
        warnings.extend(self._dangling_profiles())
        self.packs[name] = (meta, keys, warnings)
        if layer == "dynamic":
            store.restacked()
        return self.summary(name)

    def _check_layer(self, name: str, sections: Obj, replace: bool) -> None:
        """DRP's checks of a new layer against its Go models and the other layers.

        Recorded TestContentsFunctionalCli: a field of the wrong JSON kind fails the load
        with Go's unmarshal error ("Store profiles item p1-bad failed to load from layer
        content-PackBad: json: cannot unmarshal number into Go struct field Profile.Params
        ...", "Try manually replacing content layer PackBad"; the ``PUT`` of a replaced
        pack names it: "PUT: contents/Pack1"); a key another pack holds is refused
        ("STORE_ERROR: contents: New layer violates key restrictions:
        keysCannotBeOverridden: p1-prof is already in layer 1", layers counted from the
        writable one, 0)."""
        for prefix in sorted(p for p in sections if p in self.drp.store.types):
            for key, obj in sorted((sections[prefix] or {}).items()):
                problem = gotypes.unmarshal_error(prefix, obj)
                if problem is not None:
                    raise PluginError(
                        f"Store {prefix} item {key} failed to load from layer content-{name}: "
                        f"{problem}", f"Try manually replacing content layer {name}",
                        code=422, **({"model": "contents", "key": name, "type": "PUT"}
                                     if replace else
                                     {"type": "Failed to load backing objects from cache"}))
        # the stack: the writable layer, the dynamic packs in the order they came, then
        # the stand-in's own (BasicStore, Overwritable: packs may replace its objects)
        others = [p for p in self.packs if p != name]
        dynamic = [p for p in others if self.packs[p][0].get("Type") == "dynamic"]
        layers = ["BackingStore", *dynamic, *(p for p in others if p not in dynamic)]
        guarded = {p for p in others if not self.packs[p][0].get("Overwritable")}
        for prefix in sorted(p for p in sections if p in self.drp.store.types):
            key_field = self.drp.store.types[prefix].key
            for key, obj in sorted((sections[prefix] or {}).items()):
                real = obj.get(key_field, key) if isinstance(obj, dict) else key
                held = self.drp.store.find(prefix, str(real))
                owner = (held or {}).get("Bundle")
                if owner in guarded:
                    raise PluginError(
                        "New layer violates key restrictions: keysCannotBeOverridden: "
                        f"{real} is already in layer {layers.index(owner)}", code=409,
                        model="contents", type="STORE_ERROR")

    def _dangling_profiles(self) -> list[str]:
        """What the stored objects say of the profiles they name that are gone, as DRP's
        load warnings (recorded TestContentsFunctionalCli: replacing Pack1 without the
        profile a machine holds answers "Profile p1-prof (at 0) does not exist")."""
        store = self.drp.store
        found: list[str] = []
        for prefix, otype in store.types.items():
            if "Profiles" not in otype.defaults:
                continue
            for obj in store.objects(prefix):
                for i, profile in enumerate(obj.get("Profiles") or []):
                    if isinstance(profile, str) and store.find("profiles", profile) is None:
                        found.append(f"Profile {profile} (at {i}) does not exist")
        return list(dict.fromkeys(found))

    def load_quietly(self, body: Obj) -> Obj:
        """:meth:`load` without events: a layer present from the start (``BasicStore``),
        as DRP loads it before any client could listen."""
        with self.drp.store.unpublished():
            return self.load(body, replace=True, layer="")

    def remove(self, name: str, quiet: bool = False) -> Obj:
        """Unload posted pack ``name``, deleting its objects, those in use included (DRP
        warns instead, see :meth:`_dangling_profiles`); returns its summary (404 when
        there is no such pack).  ``quiet``: part of a replacement, the stack is rebuilt
        once the new pack is in."""
        summary = self.summary(name, "DELETE")
        _, keys, _ = self.packs.pop(name)
        for prefix, key in reversed(keys):
            if self.drp.store.find(prefix, key) is not None:
                self.drp.store.remove(prefix, key, SYSTEM, internal=True)
        if not quiet:
            self.drp.store.restacked()
        return summary
