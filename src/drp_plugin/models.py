"""The JSON models exchanged with dr-provision (docs/protocol.md section 5).

They are thin, attribute-style views over the decoded JSON: the raw dict is always
kept (``.raw``), so nothing the server sends is lost.  No dataclasses here: this
module is on the ``define`` path, which must stay fast.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported: define must stay fast
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, TypeVar

    T = TypeVar("T", bound="Target")

#: ``PluginVersion`` every v4 provider declares.
PLUGIN_VERSION = 4

#: The version of a provider that says none.
DEFAULT_VERSION = "v0.0.0"


def pyproject_version(text: str) -> str | None:
    """``[project].version`` of a ``pyproject.toml`` text, or ``None``.

    A small reader for this one key (``tomllib`` costs several milliseconds of
    ``define``, and CPython 3.9 has none): a basic or literal string on one line, in
    the ``[project]`` table (``version`` of a dotted or inline form is not read:
    ``None``).  Tested against ``tomllib`` (``tests/providers/test_declared.py``).
    """
    table = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            end = line.find("]")
            table = line[1:end].strip().replace(" ", "") if end > 0 else ""
            continue
        if table != "project" or not line.startswith("version"):
            continue
        name, sep, value = line.partition("=")
        if not sep or name.strip() != "version":
            continue
        value = value.strip()
        quote = value[:1]
        if quote not in ("'", '"') or value.startswith(quote * 3):
            return None
        end = value.find(quote, 1)
        if end < 0 or (quote == '"' and "\\" in value[1:end]):
            return None
        return value[1:end]
    return None


def normalize_version(version: str | None) -> str:
    """The one format DRP shows a provider and content version in: ``v<semver>``.

    ``0.1.0`` -> ``v0.1.0``; ``v1.2.3-4-gabc`` stays; ``1.2`` -> ``v1.2.0``; empty ->
    ``v0.0.0``.  Anything that does not start with a number (a bare git hash) is kept
    as build metadata: ``v0.0.0+<text>``.
    """
    text = (version or "").strip()
    if text[:1] in ("v", "V") and text[1:2].isdigit():
        text = text[1:]
    if not text:
        return DEFAULT_VERSION
    if not text[:1].isdigit():
        return f"{DEFAULT_VERSION}+{text}"
    end = len(text)
    for i, ch in enumerate(text):
        if not (ch.isdigit() or ch == "."):
            end = i
            break
    core, rest = text[:end].rstrip("."), text[end:]
    parts = [str(int(p)) for p in core.split(".") if p]
    while len(parts) < 3:
        parts.append("0")
    return "v" + ".".join(parts) + rest

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "panic", "audit")


def _mapping(data: Any, what: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TypeError(f"{what} must be a JSON object, not {type(data).__name__}")
    return data


def _opt_str(data: dict[str, Any], field: str, what: str) -> str:
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{what}.{field} must be a string, not {type(value).__name__}")
    return value


#: The field that keys the objects of a model (Go ``Key()``); others use ``Name``.
KEY_FIELDS = {"machines": "Uuid", "jobs": "Uuid", "templates": "ID", "leases": "Addr",
              "reservations": "Addr", "pools": "Id", "endpoints": "Id", "version_sets": "Id",
              "catalog_items": "Id"}


class Target:
    """A read-only view of the object an action was called on.

    ``model`` is its prefix (``machines``, ``plugins``, or a StoreObjects prefix);
    ``raw`` the object's JSON as DRP sent it.  Subclasses (:class:`Machine`,
    :class:`PluginObject`, :class:`StoreObject`) add typed accessors; read one with
    :meth:`Action.target_as`.
    """

    #: The model this view is for (``None``: any).
    MODEL: str | None = None

    __slots__ = ("model", "raw")

    def __init__(self, model: str, raw: dict[str, Any]) -> None:
        self.model: str = model
        """The prefix of the object's model: ``machines``, ``plugins``, or the prefix of a
        plugin-defined type (the action's :attr:`Action.target_model`)."""
        self.raw: dict[str, Any] = raw
        """The object's JSON as DRP sent it (the action's :attr:`Action.model`): every
        field, including those no accessor reads."""

    def _str(self, field: str) -> str:
        value = self.raw.get(field)
        return value if isinstance(value, str) else ""

    @property
    def key(self) -> str:
        """The object's key in its model (``Uuid`` of a machine, ``Name`` of a plugin,
        ``Id`` of a plugin-defined object)."""
        return self._str(KEY_FIELDS.get(self.model, "Id" if "Id" in self.raw else "Name"))

    @property
    def name(self) -> str:
        """The object's ``Name`` (``""`` when missing or not a string)."""
        return self._str("Name")

    @property
    def params(self) -> dict[str, Any]:
        """The object's own ``Params`` (not the aggregated ones; those come with the
        action's ``params`` for the declared names)."""
        value = self.raw.get("Params")
        return value if isinstance(value, dict) else {}

    def get(self, field: str, default: Any = None) -> Any:
        """Any field of the object, as DRP sent it."""
        return self.raw.get(field, default)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r}, {self.key!r})"


class Machine(Target):
    """A ``models.Machine`` the action was called on."""

    MODEL = "machines"
    __slots__ = ()

    @property
    def uuid(self) -> str:
        """The machine's ``Uuid`` (``""`` when missing)."""
        return self._str("Uuid")

    @property
    def address(self) -> str:
        """The machine's ``Address`` (its IP as a string; ``""`` when missing)."""
        return self._str("Address")

    @property
    def workflow(self) -> str:
        """The name of the machine's ``Workflow`` (``""`` when none)."""
        return self._str("Workflow")

    @property
    def stage(self) -> str:
        """The name of the machine's current ``Stage`` (``""`` when missing)."""
        return self._str("Stage")

    @property
    def bootenv(self) -> str:
        """The name of the machine's ``BootEnv`` (``""`` when missing)."""
        return self._str("BootEnv")

    @property
    def arch(self) -> str:
        """The machine's ``Arch`` (e.g. ``amd64``; ``""`` when missing)."""
        return self._str("Arch")

    @property
    def profiles(self) -> list[str]:
        """The names in the machine's ``Profiles``, in order (non-strings skipped; ``[]``
        when missing)."""
        value = self.raw.get("Profiles")
        return [p for p in value if isinstance(p, str)] if isinstance(value, list) else []

    @property
    def locked(self) -> bool:
        """Whether the machine is ``Locked`` (only a JSON ``true`` counts)."""
        return self.raw.get("Locked") is True

    # -- the job and task fields DRP keeps on the machine (Go models/machine.go) ----------
    @property
    def current_job(self) -> str:
        """``CurrentJob``: the UUID of the machine's current job (Go: "the job that is
        currently running on the machine"; read the job's ``State`` to know whether it
        still runs); ``""`` when there is none (Go writes an empty ``uuid.UUID`` so).

        A provider that writes to the running job's log passes it to
        ``ctx.api.append_job_log(machine.current_job, text)`` (Go's ``AddToJobLog``)::

            machine = action.target_as(Machine)
            if machine.current_job:
                ctx.api.append_job_log(machine.current_job, "tower job 42 started\\n")
        """
        return self._str("CurrentJob")

    @property
    def current_task(self) -> int:
        """``CurrentTask``: the index in :attr:`tasks` of the task that is running (when
        a job runs) or runs next; ``-1``: the first task runs next; ``len(tasks)``: every
        task has finished.  ``0`` when missing or not an integer (Go's zero value)."""
        value = self.raw.get("CurrentTask")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def tasks(self) -> list[str]:
        """``Tasks``: the machine's task list, as set by its workflow and stages, in order
        (``stage:``, ``bootenv:``, ``action:`` and ``context:`` entries included;
        non-strings skipped; ``[]`` when missing)."""
        value = self.raw.get("Tasks")
        return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []

    @property
    def runnable(self) -> bool:
        """``Runnable``: whether the machine may run jobs (a failed job sets it
        ``false``; only a JSON ``true`` counts)."""
        return self.raw.get("Runnable") is True

    @property
    def context(self) -> str:
        """``Context``: the execution context that runs the machine's tasks (``""``: the
        agent on the machine itself; another name: an agent running in that context)."""
        return self._str("Context")

    @property
    def workflow_complete(self) -> bool:
        """``WorkflowComplete``: whether the machine's workflow has finished (only a JSON
        ``true`` counts)."""
        return self.raw.get("WorkflowComplete") is True


class PluginObject(Target):
    """A ``models.Plugin`` (a configured instance of a provider) the action was called on."""

    MODEL = "plugins"
    __slots__ = ()

    @property
    def provider(self) -> str:
        """The ``Provider`` this Plugin is an instance of (``""`` when missing)."""
        return self._str("Provider")


class StoreObject(Target):
    """A plugin-defined object (``models.RawModel`` of a StoreObjects prefix)."""

    __slots__ = ()

    @property
    def id(self) -> str:
        """The object's ``Id``, its key (``""`` when missing)."""
        return self._str("Id")

    @property
    def type(self) -> str:
        """The object's ``Type``: the plugin-defined type it belongs to (``""`` when
        missing)."""
        return self._str("Type")


class Action:
    """A ``models.Action``: what DRP sends to ``/api-plugin/v4/action``.

    ``model`` is the target object's JSON as DRP sent it (Go's ``Action.Model``);
    ``target_model`` the model the action was called on (``machines``, ``plugins``,
    a StoreObjects prefix, or ``""`` for a system action), set before the handler
    runs; ``target`` and ``target_as(Machine)`` read the object.
    """

    __slots__ = ("raw", "model", "plugin", "command", "command_set", "params", "job", "received",
                 "target_model")

    def __init__(self, data: Any) -> None:
        data = _mapping(data, "Action")
        self.raw: dict[str, Any] = data
        """The ``models.Action`` JSON object as DRP sent it (fields this class does not
        read, from newer servers, are here)."""
        self.command: str = _opt_str(data, "Command", "Action")
        """``Command``: the action's name, as registered with ``@provider.action``."""
        self.plugin: str = _opt_str(data, "Plugin", "Action")
        """``Plugin``: the name of the Plugin (the configured instance of this provider)
        the action was sent to; ``""`` when DRP sent none."""
        self.command_set: str = _opt_str(data, "CommandSet", "Action")
        """``CommandSet``: the scope of the command, usually the target model's prefix
        (``machines``); ``""`` when DRP sent none."""
        model = data.get("Model")
        self.model: Any = model
        """``Model``: the object the action was called on, as DRP sent it (the machine's
        JSON for a machine action, the Plugin's for a plugin action; ``None`` for a
        system action).  Read it through :attr:`target` or :meth:`target_as`."""
        params = data.get("Params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise TypeError(f"Action.Params must be a JSON object, not {type(params).__name__}")
        self.params: dict[str, Any] = params
        """``Params``: the action's params, param name -> value (``{}`` when DRP sent
        none).  DRP fills each of the action's declared ``required`` and ``optional``
        params the caller left out from the target's aggregated params (the global
        profile's for a system action), then from the param's default, so a declared
        param is here whenever it is set anywhere; a required one still missing is
        answered 400 before the handler runs.  Undeclared params are here only when the
        caller gave them.  The object's own ``Params`` are in ``target.params``."""
        self.job: Any = data.get("Job")
        """``Job``: the UUID (a string) of the job DRP created to track this action, sent
        by newer servers; ``None`` when DRP sent none (servers without the field): test
        it before use.  It is not the machine's job: that is
        ``action.target_as(Machine).current_job``."""
        self.received = 0
        """Arrival number given by the runtime (increasing in the order actions arrive)."""
        self.target_model = ""
        """The model the action was called on: ``machines``, ``plugins``, a StoreObjects
        prefix, or ``""`` for a system action; set by the dispatch before the handler
        runs (from the command's registrations and the object)."""

    @property
    def uuid(self) -> str | None:
        """The target object's ``Uuid`` (machines), or ``None``."""
        if isinstance(self.model, dict):
            value = self.model.get("Uuid")
            return value if isinstance(value, str) else None
        return None

    @property
    def target(self) -> Target | None:
        """The object the action was called on (``None`` for a system action)."""
        if not isinstance(self.model, dict) or not self.target_model:
            return None
        cls = {"machines": Machine, "plugins": PluginObject}.get(self.target_model)
        if cls is None:
            cls = StoreObject if "Id" in self.model and "Type" in self.model else Target
        return cls(self.target_model, self.model)

    def target_as(self, cls: type[T]) -> T:
        """The target object as ``cls`` (:class:`Machine`, :class:`PluginObject`, ...).

        Raises :class:`~drp_plugin.errors.PluginError` (409) when the action was not
        called on that model, so a handler registered on several models cannot
        mistake one for another.
        """
        wanted = cls.MODEL
        if (not isinstance(self.model, dict) or not self.target_model
                or (wanted is not None and wanted != self.target_model)
                or (cls is StoreObject and self.target_model in KNOWN_MODELS)):
            from .errors import PluginError

            where = self.target_model or "system"
            raise PluginError(
                f"{self.command} was called on {where}, not on {wanted or cls.__name__}",
                code=409, model="plugin", key=self.plugin, type="plugin",
            )
        return cls(self.target_model, self.model)

    def __repr__(self) -> str:
        return (f"Action(command={self.command!r}, plugin={self.plugin!r}, "
                f"target_model={self.target_model!r})")


#: DRP's own models, which are not plugin-defined objects.
KNOWN_MODELS = frozenset((
    "bootenvs", "catalog_items", "contexts", "endpoints", "jobs", "leases", "machines",
    "params", "plugins", "pools", "preferences", "profiles", "reservations", "roles", "stages",
    "subnets", "tasks", "templates", "tenants", "users", "version_sets", "workflows",
))


class Event:
    """A ``models.Event`` from DRP's event stream or ``/publish``."""

    __slots__ = ("raw", "time", "type", "action", "key", "principal", "object", "original")

    def __init__(self, data: Any) -> None:
        data = _mapping(data, "Event")
        self.raw: dict[str, Any] = data
        """The ``models.Event`` JSON object as DRP sent it."""
        self.time: str = _opt_str(data, "Time", "Event")
        """``Time``: when the event happened, RFC 3339 (``""`` when missing)."""
        self.type: str = _opt_str(data, "Type", "Event")
        """``Type``: the model (``machines``, ``jobs``, ...) or the event kind."""
        self.action: str = _opt_str(data, "Action", "Event")
        """``Action``: what happened (``create``, ``save``, ``update``, ``delete``, ...)."""
        self.key: str = _opt_str(data, "Key", "Event")
        """``Key``: the key of the object concerned (a machine's ``Uuid``, ...)."""
        self.principal: str = _opt_str(data, "Principal", "Event")
        """``Principal``: who caused the event (``""`` when missing)."""
        self.object: Any = data.get("Object")
        """``Object``: the object after the change, as JSON (``None`` when missing)."""
        self.original: Any = data.get("Original")
        """``Original``: the object before the change (``update`` and ``save``; else
        ``None``)."""

    @property
    def topic(self) -> str:
        """``type.action.key``, the form event selections match against."""
        return f"{self.type}.{self.action}.{self.key}"

    def __repr__(self) -> str:
        return f"Event({self.topic!r})"


def now_rfc3339() -> str:
    """UTC time in RFC 3339 with nanoseconds, like Go's ``time.Time`` JSON."""
    import time

    secs, frac = divmod(time.time_ns(), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def make_event(type: str, action: str, key: str, obj: Any = None) -> dict[str, Any]:
    """The JSON of a ``models.Event`` as the Go ``Publish`` sends it."""
    return {"Time": now_rfc3339(), "Type": type, "Action": action, "Key": key, "Object": obj}


def available_action(
    command: str,
    model: str = "",
    required: Iterable[str] | None = None,
    optional: Iterable[str] | None = None,
) -> dict[str, Any]:
    """One ``AvailableAction`` in Go field order.

    The param lists come out as written, like a Go slice: ``None`` (not given) is
    ``null``, ``[]`` is ``[]`` (see :func:`param_list`).
    """
    return {
        "Provider": "",
        "Model": model,
        "Command": command,
        "RequiredParams": param_list(required),
        "OptionalParams": param_list(optional),
    }


def param_list(names: Iterable[str] | None) -> list[str] | None:
    """A ``RequiredParams``/``OptionalParams`` list as the author wrote it: ``None`` stays
    ``None`` (JSON ``null``, Go's nil slice), any other iterable becomes a list, an
    empty one ``[]`` (Go's ``[]string{}``).  A lone string is one name, not letters."""
    if names is None:
        return None
    if isinstance(names, str):
        return [names]
    return list(names)
