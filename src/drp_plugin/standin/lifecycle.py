"""What DRP does to a machine when its ``Stage`` or ``Workflow`` changes, and the
checks of templates and of references between tasks, stages, bootenvs and workflows.

Facts (the answers DRP recorded for ``cli/*_test.go``, provision ``af452c8a~1``:
``TestJobCli``, ``TestWorkflowCli``, ``TestWorkflowSwitch``, ``TestBootenvStageHandling``;
v4.8's ``models/templateInfo.go`` and ``models/task.go`` for the template checks):

* A machine whose ``Stage`` changes (or a new machine with a stage) gets the stage's
  ``Tasks`` as its task list, ``CurrentTask`` -1, and the stage's ``BootEnv`` when the
  stage names one.  A stage that does not exist is a ``ValidationError``
  "Stage <name> does not exist".
* A machine whose ``Workflow`` changes to a workflow gets, for each of its stages,
  ``stage:<stage>``, then ``bootenv:<bootenv>`` when the stage names one, then the
  stage's tasks; its ``Stage`` and ``BootEnv`` are those of the first stage.  A
  workflow that does not exist or is not available is a ``ValidationError``
  "Machine <uuid> wants Workflow <name>, which is not available".  Leaving a workflow
  (``Workflow`` "") puts the machine in stage ``none`` with no tasks.
* A machine whose ``BootEnv`` changes (a new workflow's or stage's bootenv, or its
  own) is no longer ``Runnable`` until a client says so (``TestCurrentTaskReposition``
  and ``TestWorkflowCli``: ``Workflow`` wf2 moving m0 from bootenv local to Fred answers
  ``Runnable: false``; wf1 and wf3, which leave the bootenv alone, keep it true).
* A stored machine asked for a bootenv that does not exist is refused:
  ``ValidationError`` "Bootenv <name> does not exist" (``TestMachineCli``
  ``machines bootenv <uuid> john2``).  A new machine may name any bootenv.
* A stage naming a bootenv that does not exist, and a workflow naming a stage that
  does not exist, are stored but not ``Available``, with "BootEnv <name> does not
  exist" / "Stage <name> does not exist" in ``Errors``.
* A boot environment with a ``Kernel`` but neither a ``pxelinux`` nor an ``ipxe``
  template (or their ``-mac`` forms) is stored but not ``Available``: "bootenv: Missing
  elilo or pxelinux template" (``TestBootEnvCli`` ``bootenvs update john`` with a
  Kernel; the rule of DRP's open-source ``backend/bootenv.go`` ``Validate``).
* A template (``TemplateInfo``) without ``Meta`` gets ``{}``; a task may not mix
  templates with and without ``OS`` metadata, and OS values must be known.

Deviation: a new machine created with its own non-empty ``Tasks`` keeps them (DRP
would take the stage's), so that a client may set a task list up in one request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._types import Obj

if TYPE_CHECKING:
    from .store import Store

#: The stage a machine leaving its workflow is put in (BasicStore's ``none``).
NO_STAGE = "none"
#: ``validGOOS`` of models/task.go: the OS values a task template may name.
VALID_OS = frozenset({"any", "darwin", "freebsd", "linux", "netbsd", "openbsd", "solaris",
                      "windows", "esxi"})
_TEMPLATE_FIELDS = {"Name": "", "Path": "", "Contents": "", "ID": "", "Link": ""}


def template_errors(obj: Obj, exists: Callable[[str], bool]) -> list[str]:
    """A ``TemplateInfo`` naming by ``ID`` a template that does not exist: "Templates[i]:
    No common template for <ID>" (models.MergeTemplates; recorded TestContentCli
    ``contents create test-data/content.yaml``, whose bootenvs name
    ``default-pxelinux.tmpl`` and others)."""
    return [f"Templates[{i}]: No common template for {tmpl['ID']}"
            for i, tmpl in enumerate(obj.get("Templates") or [])
            if isinstance(tmpl, dict) and isinstance(tmpl.get("ID"), str) and tmpl["ID"]
            and not exists(tmpl["ID"])]


def fill_templates(obj: Obj) -> None:
    """``TemplateInfo.SanityCheck``'s filling: every template has its fields and a
    ``Meta`` map."""
    templates = obj.get("Templates")
    if not isinstance(templates, list):
        return
    for i, tmpl in enumerate(templates):
        if not isinstance(tmpl, dict):
            continue
        filled = {**_TEMPLATE_FIELDS, **tmpl}
        if filled.get("Meta") is None:
            filled["Meta"] = {}
        templates[i] = filled


def task_errors(obj: Obj) -> list[str]:
    """The template checks of ``Task.Validate`` (models/task.go)."""
    errors: list[str] = []
    templates = [t for t in obj.get("Templates") or [] if isinstance(t, dict)]
    names: dict[Any, int] = {}
    with_os = 0
    listed = False
    for i, tmpl in enumerate(templates):
        name = tmpl.get("Name")
        if name in names:
            errors.append(f"Template {i} and {names[name]} have the same name {name}")
        else:
            names[name] = i
        meta: dict[str, Any] = tmpl["Meta"] if isinstance(tmpl.get("Meta"), dict) else {}
        if "OS" in meta:
            with_os += 1
            for os_name in str(meta["OS"]).split(","):
                if os_name.strip().lower() in VALID_OS:
                    continue
                errors.append(f"Template[{i}]: Invalid OS value {os_name}")
                if not listed:
                    errors.append("Valid values are: " + ",".join(sorted(VALID_OS)))
                    listed = True
    if with_os and with_os != len(names):
        errors.append("Cannot mix templates with OS metadata and templates without OS metadata")
        for i, tmpl in enumerate(templates):
            meta = tmpl["Meta"] if isinstance(tmpl.get("Meta"), dict) else {}
            if "OS" in meta:
                errors.append(f"Template[{i}] {tmpl.get('Name')} has OS metadata {meta['OS']}")
            else:
                errors.append(f"Template[{i}] {tmpl.get('Name')} is missing OS metadata")
    return errors


#: The templates a boot environment with a ``Kernel`` needs one of.
NETBOOT_TEMPLATES = frozenset({"pxelinux", "pxelinux-mac", "ipxe", "ipxe-mac"})


def reference_errors(store: Store, prefix: str, obj: Obj) -> list[str]:
    """References to objects that do not exist: the object is stored, not Available."""
    if prefix == "stages":
        env = obj.get("BootEnv")
        if env and store.find("bootenvs", str(env)) is None:
            return [f"BootEnv {env} does not exist"]
    if prefix == "workflows":
        return [f"Stage {s} does not exist" for s in obj.get("Stages") or []
                if store.find("stages", str(s)) is None]
    if prefix == "bootenvs" and obj.get("Kernel"):
        names = {t.get("Name") for t in obj.get("Templates") or [] if isinstance(t, dict)}
        if not names & NETBOOT_TEMPLATES:
            return ["bootenv: Missing elilo or pxelinux template"]
    return []


def _stage(store: Store, name: str) -> Obj | None:
    return store.find("stages", name)


def machine_moves(store: Store, old: Obj | None, new: Obj, force: bool = False) -> list[str]:
    """Apply to ``new`` (the machine about to be stored; ``old`` before, ``None`` for a
    new machine) what a change of Workflow or Stage does; returns validation errors.
    A stored machine may not be moved to a bootenv that does not exist; one whose
    ``BootEnv`` changes (itself or through its new stage) is no longer ``Runnable``; one
    with tasks left may not change its stage (outside a workflow) unless ``force``."""
    if old is not None and not force and _pending_stage_change(old, new):
        return ["Can not change stages with pending tasks unless forced"]
    asked = new.get("BootEnv")
    if old is not None and asked != old.get("BootEnv") and asked \
            and store.find("bootenvs", str(asked)) is None:
        return [f"Bootenv {asked} does not exist"]
    errors = _workflow_and_stage(store, old, new)
    if not errors and old is not None and new.get("BootEnv") != old.get("BootEnv"):
        new["Runnable"] = False
    return errors


def _pending_stage_change(old: Obj, new: Obj) -> bool:
    """A stage change, outside a workflow, of a machine with tasks left: DRP's
    ``OnChange`` ("Can not change stages with pending tasks unless forced"; recorded
    TestMachineCli ``machines stage <uuid> stage2`` from stage1, whose tasks had not
    run, refused, and allowed with ``--force``)."""
    tasks = old.get("Tasks") or []
    current = old.get("CurrentTask")
    return bool(tasks) and isinstance(current, int) and current < len(tasks) \
        and (new.get("Stage") or NO_STAGE) != (old.get("Stage") or NO_STAGE) \
        and not new.get("Workflow") and new.get("Workflow") == old.get("Workflow")


def _workflow_and_stage(store: Store, old: Obj | None, new: Obj) -> list[str]:
    uid = new.get("Uuid", "")
    flow = str(new.get("Workflow") or "")
    old_flow = str(old.get("Workflow") or "") if old is not None else ""
    if flow and flow != old_flow:
        workflow = store.find("workflows", flow)
        if workflow is None or not workflow.get("Available", True):
            return [f"Machine {uid} wants Workflow {flow}, which is not available"]
        tasks: list[str] = []
        seen: set[str] = set()
        first: Obj | None = None
        for name in workflow.get("Stages") or []:
            found = _stage(store, str(name)) or {}
            first = found if first is None else first
            tasks.append(f"stage:{name}")
            if found.get("BootEnv"):
                tasks.append(f"bootenv:{found['BootEnv']}")
                seen = set()  # after a reboot, prerequisites run again
            expanded, missing = expand_tasks(store, found.get("Tasks") or [], seen)
            tasks.extend(expanded)
            if missing:
                return missing
        new.update(Tasks=tasks, CurrentTask=-1)
        if first is not None:
            new["Stage"] = first.get("Name", new.get("Stage"))
            if first.get("BootEnv"):
                new["BootEnv"] = first["BootEnv"]
        return []
    if old_flow and not flow:
        new.update(Stage=NO_STAGE, Tasks=[], CurrentTask=-1)
        return []
    if flow:
        return []
    name = str(new.get("Stage") or "")
    if old is not None and name == old.get("Stage"):
        return []
    stage = _stage(store, name)
    if stage is None:
        return [f"Stage {name} does not exist"] if name and name != NO_STAGE else []
    if old is not None or not new.get("Tasks"):
        expanded, missing = expand_tasks(store, stage.get("Tasks") or [], set())
        if missing:
            return missing
        new.update(Tasks=expanded, CurrentTask=-1)
    if stage.get("BootEnv"):
        new["BootEnv"] = stage["BootEnv"]
    return []


def prerequisites_in(*layers: Mapping[str, Any]) -> Callable[[str], list[str]]:
    """Each task's ``Prerequisites`` (as names), looked up in ``layers`` by name, the
    first layer holding the task winning (a task being written over the stored ones, a
    pack's tasks over the stored ones)."""
    def prerequisites_of(name: str) -> list[str]:
        found = next((layer[name] for layer in layers if name in layer), None)
        listed = found.get("Prerequisites") if isinstance(found, dict) else None
        return [str(p) for p in listed] if isinstance(listed, list) else []
    return prerequisites_of


def expand_tasks(store: Store, tasks: list[Any], seen: set[str]) -> tuple[list[str], list[str]]:
    """A stage's task list as a machine runs it: before each task, its prerequisites
    (depth first, in order) not yet in ``seen``; ``seen`` grows, and a workflow empties it
    at each stage with a bootenv (a reboot).  Returns the list and the errors ("Task bar1
    missing prerequisite foo2").  Recorded TestTaskPrereqs: flat1's ``foo1 foo4 bar1 bar2
    bar4`` runs as ``foo1 foo4 foo2 foo3 bar1 bar2 foo5 foo6 bar3 foo7 bar4``; in workflow
    wfPrereqs (flat2, flat1, flat3), flat1 adds none and flat3, after bootenv three, all
    again.  The first missing prerequisite stops it, as DRP reports only that one."""
    out: list[str] = []
    errors: list[str] = []
    listed = prerequisites_in(store.data["tasks"])

    def prerequisites_of(name: str) -> Iterator[str]:
        return iter(listed(name))

    def prerequisites(task: str) -> None:
        # depth first without recursion: a long chain of prerequisites is no stack
        # overflow; ``chain`` holds the tasks being expanded (a cycle is not followed)
        chain, stack = [task], [prerequisites_of(task)]
        expanding = {task}
        while stack:
            pre = next(stack[-1], None)
            if pre is None:
                stack.pop()
                done = chain.pop()
                expanding.discard(done)
                if stack:  # a prerequisite: it runs before the task that needs it
                    out.append(done)
                    seen.add(done)
                continue
            if pre in seen or pre in expanding:
                continue
            if store.find("tasks", pre) is None:
                errors.append(f"Task {chain[-1]} missing prerequisite {pre}")
                return
            chain.append(pre)
            expanding.add(pre)
            stack.append(prerequisites_of(pre))

    for task in (str(t) for t in tasks):
        if ":" not in task:  # stage:, bootenv:, action: entries have none
            prerequisites(task)
            seen.add(task)
        if errors:
            break
        out.append(task)
    return out, errors


def prerequisite_errors(name: str, prerequisites_of: Callable[[str], list[str]],
                        acyclic: set[str] | None = None) -> list[str]:
    """Cycles through task ``name``'s prerequisites: for each prerequisite, the first
    path (depth first, in order) that comes back to a task on it, as DRP words it.
    Recorded TestTaskPrereqs and TestTasksInContentBundles: "Task t2 depends on itself!"
    with "t2: t3: t2 (cycle at 0)" when the path comes back to ``name``, otherwise "Task
    t2 depends on a task with a circular dependency" with "t1: t2: t3: t2 (cycle at 1)"
    (the task named is where the cycle starts).  ``acyclic``, shared by the caller over
    several tasks of one graph, keeps the tasks known to reach no cycle."""
    errors: list[str] = []
    acyclic = set() if acyclic is None else acyclic

    def walk(node: str, path: list[str]) -> tuple[list[str], int] | None:
        """The first cycle reached from ``node`` below ``path``, depth first without
        recursion; a task whose whole subtree holds none is remembered as acyclic."""
        if node in path:
            return [*path, node], path.index(node)
        if node in acyclic:
            return None
        path = [*path, node]
        on_path = set(path)
        stack = [iter(prerequisites_of(node))]
        while stack:
            pre = next(stack[-1], None)
            if pre is None:
                stack.pop()
                done = path.pop()
                on_path.discard(done)
                acyclic.add(done)
                continue
            if pre in on_path:
                return [*path, pre], path.index(pre)
            if pre not in acyclic:
                path.append(pre)
                on_path.add(pre)
                stack.append(iter(prerequisites_of(pre)))
        return None

    for pre in prerequisites_of(name):
        found = walk(pre, [name])
        if found is not None:
            path, at = found
            errors.append(f"Task {name} depends on itself!" if at == 0 else
                          f"Task {path[at]} depends on a task with a circular dependency")
            errors.append(f"{': '.join(path)} (cycle at {at})")
    return errors
