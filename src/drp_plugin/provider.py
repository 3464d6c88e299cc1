"""Writing a provider: :class:`Provider` (the decorator style) and what both styles share.

:class:`BaseProvider` holds what a provider is to the runtime, whichever style wrote
it: its name, version, content and assets, the definition ``define`` prints, the
command line, and the ``run_*`` calls the runtime makes.  Its two siblings (as
:class:`~drp_plugin.context.Context` and :class:`~drp_plugin.context.SyncContext`
are over their base): :class:`Provider`, whose handlers are registered with
decorators, and :class:`~drp_plugin.interface.App`, whose handlers are the methods
of a Go-style plugin object.

In the decorator style, actions, event handlers, config, stop, unpack and validate
are registered with decorators.  The definition DRP reads (``AvailableActions``,
params) is derived from the registrations, so the definition and the dispatch
cannot disagree::

    provider = Provider("incrementer", content="content")

    @provider.action("incrstatus")
    def status(ctx, action):
        return "Running"

    if __name__ == "__main__":
        provider.main()

Every handler is ``fn(ctx, <thing>)`` and may be ``def`` (run in a worker thread
with a :class:`~drp_plugin.context.SyncContext`) or ``async def`` (run on the event
loop with a :class:`~drp_plugin.context.Context`).
"""

from __future__ import annotations

import functools
import os
import sys

from . import stamp
from .context import Context, SyncContext
from .errors import PluginError, plugin_error
from .models import PLUGIN_VERSION, available_action, normalize_version, param_list

# Neither typing nor pathlib nor logging is imported at run time: ``define`` must
# stay fast (each costs milliseconds of start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path
    from typing import Any, TypeVar

    import click

    from .context import ContextHost  # what handlers' contexts reach the running provider through
    from .events.matching import Pattern
    from .models import Action, Event
    from .ordering import KeyedLocks

    F = TypeVar("F", bound=Callable[..., Any])


_CO_COROUTINE = 0x80
_CO_GENERATOR = 0x20
_CO_ASYNC_GENERATOR = 0x200


def is_async_callable(fn: Any) -> bool:
    """``inspect.iscoroutinefunction`` without importing ``inspect`` (define stays fast)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    code = getattr(fn, "__code__", None)
    if code is None and not hasattr(fn, "__func__"):
        code = getattr(getattr(fn, "__call__", None), "__code__", None)  # noqa: B004
    if code is None:
        code = getattr(getattr(fn, "__func__", None), "__code__", None)
    return bool(code is not None and code.co_flags & _CO_COROUTINE)


class Handler:
    """A registered function and how to call it (on the loop, or in a worker thread)."""

    __slots__ = ("fn", "is_async")

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"{fn!r} is not callable")
        self.fn = fn
        self.is_async = is_async_callable(fn)

    def context(
        self, name: str, log: Any, host: ContextHost | None, **kw: Any
    ) -> Context | SyncContext:
        """The context this handler gets: a :class:`SyncContext` for ``def``, a
        :class:`Context` for ``async def``."""
        cls = Context if self.is_async else SyncContext
        return cls(name, log, host, **kw)

    async def __call__(self, *args: Any) -> Any:
        if self.is_async:
            return await self.fn(*args)
        import asyncio
        import contextvars

        loop = asyncio.get_running_loop()
        call = functools.partial(contextvars.copy_context().run, self.fn, *args)
        return await loop.run_in_executor(None, call)

    def call_sync(self, *args: Any) -> Any:
        """Call outside a server (define, unpack): coroutines get their own loop."""
        if self.is_async:
            import asyncio

            return asyncio.run(self.fn(*args))
        return self.fn(*args)


class ActionSpec:
    """One registered action on one model: the command, its params and its handler.

    A command may be registered once per model, with params of its own (Go's
    ``AvailableActions`` lists one entry per ``(Command, Model)``).  ``required`` and
    ``optional`` are lists (``[]`` when not given); the definition shows them as
    written: ``None`` (not given) as ``null``, ``[]`` as ``[]``.
    """

    __slots__ = ("command", "model", "required", "optional", "handler", "serial", "_declared")

    def __init__(
        self,
        command: str,
        model: str,
        required: Sequence[str] | None,
        optional: Sequence[str] | None,
        handler: Handler,
        serial: bool = False,
    ) -> None:
        self.serial = serial
        self.command = command
        self.model = model
        self._declared = (param_list(required), param_list(optional))
        self.required: list[str] = list(self._declared[0] or ())
        self.optional: list[str] = list(self._declared[1] or ())
        self.handler = handler

    def available_action(self) -> dict[str, Any]:
        """The ``AvailableAction`` of this registration (one command on one model)."""
        return available_action(self.command, self.model, *self._declared)

    def missing(self, params: dict[str, Any]) -> list[str]:
        """The required params absent from ``params``, in declaration order."""
        return [p for p in self.required if p not in params]


def infer_target_model(obj: Any, candidates: Sequence[str]) -> str:
    """Which of ``candidates`` (models one command is registered on) an action's
    target object belongs to.

    DRP's ``models.Action`` carries the object, not its model.  ``""`` (system) when
    there is no object; a plugin-defined object names its prefix in ``Type``; else
    the candidate whose DRP model has the object's key field and the most of its
    fields (``drp_models.json``) wins, the first registered on a tie.
    """
    if len(candidates) == 1:
        return candidates[0]
    if not isinstance(obj, dict) or not obj:
        return "" if "" in candidates else candidates[0]
    kind = obj.get("Type")
    if isinstance(kind, str) and kind in candidates and "Id" in obj:
        return kind
    from .content import drp_models

    models = drp_models()
    best, best_score = "", -1
    for model in candidates:
        struct = models["prefixes"].get(model)
        if struct is None:
            continue
        if models["keys"].get(struct, "Name") not in obj:
            continue
        fields = models["structs"][struct]
        score = sum(1 for k in obj if k in fields)
        if score > best_score:
            best, best_score = model, score
    if best_score >= 0:
        return best
    return next((m for m in candidates if m), candidates[0])


class _ThreadedContextManager:
    """A sync context manager entered and exited in a worker thread (a sync lifespan)."""

    def __init__(self, cm: Any) -> None:
        self.cm = cm

    async def __aenter__(self) -> Any:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.cm.__enter__)

    async def __aexit__(self, *exc: Any) -> Any:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(None, self.cm.__exit__, *exc)


def _target_key(action: Action) -> str:
    """What ``serial`` actions are ordered by: the target's Uuid, Id or Name."""
    model = action.model
    if isinstance(model, dict):
        for field in ("Uuid", "Id", "Name"):
            value = model.get(field)
            if isinstance(value, str) and value:
                return value
    return ""


def _caller_dir(depth: int = 2) -> str:
    frame = sys._getframe(depth)
    file = frame.f_globals.get("__file__")
    return os.path.dirname(os.path.realpath(file)) if file else os.getcwd()


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


class BaseProvider:
    """What a provider is to the runtime, whichever style it is written in.

    The base of :class:`Provider` (decorator style) and
    :class:`~drp_plugin.interface.App` (interface style): the name, version,
    content and assets, the definition ``define`` prints, the command line
    (:attr:`cli`, :meth:`main`), and the ``run_*`` calls the runtime
    (:mod:`drp_plugin.protocol`, :class:`~drp_plugin.testing.TestClient`) makes.
    Each sibling says where its handlers come from.
    """

    def __init__(
        self,
        name: str,
        *,
        base_dir: str | os.PathLike[str],
        version: str | None = None,
        description: str = "",
        content: str | os.PathLike[str] | None = None,
        assets: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        store_objects: dict[str, dict[str, Any]] | None = None,
        documentation: str = "",
        auto_start: bool = False,
        has_publish: bool = False,
        required_params: Sequence[str] | None = None,
        optional_params: Sequence[str] | None = None,
        ignore_events: bool = False,
        meta: dict[str, str] | None = None,
        action_timeout: float | None = None,
    ) -> None:
        if not name or "/" in name:
            raise ValueError(f"invalid provider name {name!r}")
        self.name = name
        self.description = description or f"DRP plugin provider {name}"
        self._version = version
        self.base_dir: str = os.fspath(base_dir)
        self.content = content
        self.assets: list[str | os.PathLike[str]] = (
            [assets] if isinstance(assets, (str, os.PathLike)) else list(assets or [])
        )
        self.store_objects = store_objects
        self.documentation = documentation
        self.auto_start = auto_start
        self.has_publish = has_publish
        #: The Plugin's ``RequiredParams`` as written (``None``: not given, ``null`` in
        #: the definition; ``[]`` stays ``[]``).
        self.required_params: list[str] | None = param_list(required_params)
        #: The Plugin's ``OptionalParams``, likewise.
        self.optional_params: list[str] | None = param_list(optional_params)
        self.ignore_events = ignore_events
        self.meta = meta
        #: Seconds an action may run before it is answered 504 (None: no limit).
        self.action_timeout = action_timeout
        #: The plugin's state (``ctx.state`` in handlers): what a :class:`Provider`'s
        #: lifespan yielded; ``None`` before the first config, after stop, and always
        #: for an ``App`` (its plugin object is its state).
        self.state: Any = None
        self._cli: click.Group | None = None

    # -- the definition --------------------------------------------------------------
    @property
    def version(self) -> str:
        """``v<semver>``, from one source: what the build stamped, else ``version=``,
        else ``[project].version`` of a ``pyproject.toml`` beside the provider (the
        build reads the same, so source and built file agree), else ``v0.0.0``."""
        return normalize_version(stamp.VERSION or self._version or self._project_version)

    @functools.cached_property
    def _project_version(self) -> str | None:
        path = os.path.join(self.base_dir, "pyproject.toml")
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, ValueError):
            return None
        from .models import pyproject_version

        version = pyproject_version(text)
        return version if version and version.strip() else None

    def content_bundle(self) -> str:
        """The ``Content`` YAML string (pre-bundled in a built file)."""
        if self.content is None:
            return ""
        key = os.fspath(self.content)
        if stamp.CONTENT is not None and key in stamp.CONTENT:
            return stamp.CONTENT[key]
        from .content import bundle_cached

        return bundle_cached(os.path.join(self.base_dir, key), version=self.version)

    def available_actions(self) -> list[dict[str, Any]]:
        """The ``AvailableActions`` of the definition."""
        raise NotImplementedError

    def event_selections(self) -> list[str]:
        """The event patterns the runtime subscribes to on config."""
        raise NotImplementedError

    def has_event_receiver(self) -> bool:
        """Whether events have somewhere to go (Go: the plugin implements Publish)."""
        raise NotImplementedError

    @property
    def has_validator(self) -> bool:
        """Whether ``define`` runs a validate handler (unless ``RS_TOKEN=catalog``)."""
        raise NotImplementedError

    @property
    def serves_publish(self) -> bool:
        """Whether ``/api-plugin/v4/publish`` is routed (Go: HasPublish, a Publish
        handler and no event selector)."""
        raise NotImplementedError

    def definition(self) -> dict[str, Any]:
        """The ``PluginProvider`` JSON object, in Go field order."""
        definition: dict[str, Any] = {
            "Meta": self.meta,
            "Name": self.name,
            "Version": self.version,
            "PluginVersion": PLUGIN_VERSION,
            "AutoStart": self.auto_start,
            "HasPublish": self.has_publish,
            "AvailableActions": self.available_actions(),
            "RequiredParams": param_list(self.required_params),
            "OptionalParams": param_list(self.optional_params),
            "StoreObjects": self.store_objects,
            "Documentation": self.documentation,
            "Content": self.content_bundle(),
        }
        if self.ignore_events:
            definition["IgnoreEvents"] = True
        return definition

    def error(self, *messages: str, code: int = 400) -> PluginError:
        """A :class:`PluginError` tagged with this provider (``Model: plugin``,
        ``Key: <name>``, ``Type: plugin``), as the Go ``plugin`` package answers."""
        return plugin_error(self.name, *messages, code=code)

    def check(self) -> None:
        """The Go package's consistency rules, as a :class:`PluginError` (400)."""
        selections = self.event_selections()
        if self.has_publish and selections:
            raise self.error(f"Plugin can NOT have both HasPublish and EventSelector: {self.name}")
        if selections and not self.has_event_receiver():
            raise self.error(f"Plugin has an EventSelector, but no Publish function: {self.name}")

    # -- dispatch (called by the runtime) ------------------------------------------------
    def logger(self) -> logging.Logger:
        """The logger handed to handlers (``drp_plugin.provider.<name>``)."""
        return self._logger

    # Built on first use, not in __init__: logging, asyncio and the pattern parser
    # are not imported by ``define``.
    @functools.cached_property
    def _logger(self) -> logging.Logger:
        from ._provider_logger import provider_logger

        return provider_logger(f"drp_plugin.provider.{self.name}")

    async def run_config(self, host: ContextHost | None, params: dict[str, Any]) -> None:
        """Configure the plugin with its Plugin's ``params``; a :class:`PluginError`
        refuses the config."""
        raise NotImplementedError

    async def run_action(self, host: ContextHost | None, action: Action) -> Any:
        """Run ``action``; what it returns is the answer (404 for an unknown command)."""
        raise NotImplementedError

    async def run_event(self, host: ContextHost | None, event: Event) -> None:
        """Deliver one event of DRP's event stream."""
        raise NotImplementedError

    async def run_publish(self, host: ContextHost | None, event: Event) -> None:
        """Deliver one ``/publish`` call."""
        raise NotImplementedError

    async def run_stop(self, host: ContextHost | None) -> None:
        """``/stop`` or SIGTERM: run the stop handler, if any."""
        raise NotImplementedError

    async def _exit_lifespan(self) -> None:
        """Leave what the first config entered (nothing here: a :class:`Provider`'s
        lifespan is the one thing entered)."""

    def run_unpack(self, directory: Path) -> None:
        """``unpack``: write the declared assets into ``directory``."""
        from pathlib import Path

        from .assets import write_assets

        write_assets(Path(self.base_dir), self.assets, directory)

    def run_validate(self, definition: dict[str, Any]) -> Any:
        """The definition ``define`` prints: what the validate handler returns, if anything."""
        raise NotImplementedError

    # -- command line --------------------------------------------------------------------
    @property
    def cli(self) -> click.Group:
        """The provider's click group; add your own commands with ``@provider.cli.command()``."""
        if self._cli is None:
            from .provider_cli import build_cli

            self._cli = build_cli(self)
        return self._cli

    def main(self, argv: Sequence[str] | None = None) -> None:
        """Run the command line (``define``, ``unpack``, ``listen``, ``version``, ...)."""
        from .provider_cli import main

        main(self, argv)


class Provider(BaseProvider):
    """A DRP plugin provider, described by its registrations (the decorator style).

    ``content`` names a content directory (relative to the file that creates the
    provider) bundled into the definition; ``assets`` names files or folders that
    ``unpack`` writes for DRP's file server.  ``store_objects`` declares
    plugin-defined object types (prefix -> field -> JSON-schema fragment, with
    ``"isrequired": True`` for required fields).  ``action_timeout`` bounds how
    long an action may run (504 when exceeded; ``DRP_PLUGIN_ACTION_TIMEOUT`` in the
    environment overrides it).
    """

    def __init__(
        self,
        name: str,
        *,
        version: str | None = None,
        description: str = "",
        content: str | os.PathLike[str] | None = None,
        assets: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        store_objects: dict[str, dict[str, Any]] | None = None,
        documentation: str = "",
        auto_start: bool = False,
        has_publish: bool = False,
        required_params: Sequence[str] | None = None,
        optional_params: Sequence[str] | None = None,
        ignore_events: bool = False,
        meta: dict[str, str] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        action_timeout: float | None = None,
        lifespan: Callable[[Context], Any] | None = None,
    ) -> None:
        super().__init__(
            name,
            base_dir=base_dir if base_dir is not None else _caller_dir(),
            version=version,
            description=description,
            content=content,
            assets=assets,
            store_objects=store_objects,
            documentation=documentation,
            auto_start=auto_start,
            has_publish=has_publish,
            required_params=required_params,
            optional_params=optional_params,
            ignore_events=ignore_events,
            meta=meta,
            action_timeout=action_timeout,
        )
        #: Registered actions: command -> one :class:`ActionSpec` per model.
        self.actions: dict[str, list[ActionSpec]] = {}
        self.event_handlers: list[tuple[list[str], Handler]] = []
        self.config_handler: Handler | None = None
        self.publish_handler: Handler | None = None
        self.stop_handler: Handler | None = None
        self.unpack_handler: Handler | None = None
        self.validate_handler: Handler | None = None
        self._lifespan: Callable[[Any], Any] | None = None
        self._lifespan_cm: Any = None
        # The lifespan's start while it runs: configs that arrive meanwhile share it.
        self._lifespan_starting: Any = None
        if lifespan is not None:
            self.lifespan(lifespan)

    # -- registration -------------------------------------------------------------
    def action(
        self,
        command: str,
        *,
        model: str | Sequence[str] = "",
        required: Sequence[str] | None = None,
        optional: Sequence[str] | None = None,
        serial: bool = False,
    ) -> Callable[[F], F]:
        """Register ``fn(ctx, action)`` for ``command`` on ``model`` (``""`` = system).

        ``required`` params are checked before the handler runs (400 naming the
        missing param); both lists go into ``AvailableActions`` as written (not given:
        ``null``; ``[]``: ``[]``, like Go's ``OptionalParams: []string{}``).  ``serial=True``
        runs the actions on one target object one at a time, in arrival order.

        One command may be registered once per model, each with its own params and
        handler, or stacked on one handler (Go's certs plugin declares
        ``deleteroot`` so)::

            @provider.action("deleteroot", model="plugins", required=["certs/root"])
            @provider.action("deleteroot", model="machines",
                             required=["certs/root", "certs/root-pw"])
            def deleteroot(ctx, action): ...   # action.target_model says which

        The param check follows the model the action was called on.
        """
        models = _as_list(model) or [""]

        def register(fn: F) -> F:
            registered = self.actions.setdefault(command, [])
            for m in models:
                if any(spec.model == m for spec in registered):
                    raise ValueError(
                        f"action {command!r} on {m or 'system'!r} is already registered")
            handler = Handler(fn)
            for m in models:
                registered.append(ActionSpec(command, m, required, optional, handler, serial))
            return fn

        return register

    def on_event(self, *patterns: str) -> Callable[[F], F]:
        """Register ``fn(ctx, event)`` for events matching ``type.action.key`` patterns.

        The runtime opens DRP's event stream on config and registers the patterns.
        """
        if not patterns:
            raise ValueError("on_event needs at least one pattern, e.g. 'machines.update.*'")
        for p in patterns:
            if p.count(".") < 2:
                raise ValueError(f"event pattern {p!r} must be type.action.key")

        def register(fn: F) -> F:
            self.event_handlers.append((list(patterns), Handler(fn)))
            return fn

        return register

    def _single(self, attr: str, fn: F) -> F:
        if getattr(self, attr) is not None:
            raise ValueError(f"{attr.replace('_handler', '')} handler is already registered")
        setattr(self, attr, Handler(fn))
        return fn

    def lifespan(self, fn: F) -> F:
        """Register the plugin's lifespan, in the style of Starlette's.

        ``fn(ctx)`` is an async generator function (or returns an async context
        manager; a plain generator function runs in a worker thread).  It is entered
        on the first config, before the config handler runs; what it yields is the
        plugin's state, ``ctx.state`` (typed: ``ctx.state_as(MyState)``) in every
        handler.  It is exited on stop, after the stop handler (within the stop
        bound)::

            @provider.lifespan
            async def lifespan(ctx: Context) -> AsyncIterator[State]:
                state = State(client=make_client())
                yield state
                await state.client.close()
        """
        if self._lifespan is not None:
            raise ValueError("lifespan is already registered")
        if not callable(fn):
            raise TypeError(f"{fn!r} is not callable")
        self._lifespan = fn
        return fn

    async def _enter_lifespan(self, host: ContextHost | None) -> None:
        """Enter the lifespan once: concurrent configs wait for the same start (a failed
        start fails each of them, and the next config tries again)."""
        fn = self._lifespan
        if fn is None or self._lifespan_cm is not None:
            return
        import asyncio

        starting = self._lifespan_starting
        if starting is None:
            starting = asyncio.ensure_future(self._start_lifespan(fn, host))
            # Retrieved here too: a config cancelled while it waits must not leave the
            # start's error unretrieved.
            starting.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._lifespan_starting = starting
        try:
            await asyncio.shield(starting)
        finally:
            if starting.done() and self._lifespan_starting is starting:
                self._lifespan_starting = None

    async def _start_lifespan(self, fn: Callable[[Any], Any], host: ContextHost | None) -> None:
        flags = getattr(getattr(fn, "__code__", None), "co_flags", 0)
        if flags & _CO_GENERATOR and not flags & _CO_ASYNC_GENERATOR:
            import contextlib

            sync_cm = contextlib.contextmanager(fn)(
                SyncContext(self.name, self.logger(), host))
            cm: Any = _ThreadedContextManager(sync_cm)
        elif flags & _CO_ASYNC_GENERATOR:
            import contextlib

            cm = contextlib.asynccontextmanager(fn)(Context(self.name, self.logger(), host))
        else:
            cm = fn(Context(self.name, self.logger(), host))
        if not (hasattr(cm, "__aenter__") and hasattr(cm, "__aexit__")):
            raise TypeError(f"lifespan {fn!r} must be an async generator function or return "
                            "an async context manager")
        state = await cm.__aenter__()
        self._lifespan_cm = cm
        self.state = state

    async def _exit_lifespan(self) -> None:
        starting = self._lifespan_starting
        if starting is not None and not starting.done():
            # A stop during the start: let it finish, so that what it enters is left.
            import asyncio

            try:
                await asyncio.shield(starting)
            except Exception:
                pass  # it failed: nothing was entered
        cm, self._lifespan_cm = self._lifespan_cm, None
        if cm is not None:
            try:
                await cm.__aexit__(None, None, None)
            finally:
                self.state = None

    def _context(self, h: Handler, host: ContextHost | None, **kw: Any) -> Context | SyncContext:
        """The context of one handler call, with the plugin's state."""
        c = h.context(self.name, self.logger(), host, **kw)
        c.state = self.state
        return c

    def config(self, fn: F) -> F:
        """Register ``fn(ctx, params)``; raise :class:`PluginError` to refuse the config."""
        return self._single("config_handler", fn)

    def publish(self, fn: F) -> F:
        """Register ``fn(ctx, event)`` for ``/publish`` (needs ``has_publish=True``)."""
        return self._single("publish_handler", fn)

    def stop(self, fn: F) -> F:
        """Register ``fn(ctx)``, run when DRP stops the plugin or on SIGTERM."""
        return self._single("stop_handler", fn)

    def unpack(self, fn: F) -> F:
        """Register ``fn(ctx, directory)``, run by ``unpack <dir>`` after the assets."""
        return self._single("unpack_handler", fn)

    def validate(self, fn: F) -> F:
        """Register ``fn(ctx, definition) -> definition | None``, run by ``define``.

        Skipped when ``RS_TOKEN=catalog``; what it returns is printed instead.
        """
        return self._single("validate_handler", fn)

    # -- the definition, from the registrations ----------------------------------------
    def available_actions(self) -> list[dict[str, Any]]:
        """The ``AvailableActions`` of the definition, from the registered actions."""
        return [spec.available_action() for specs in self.actions.values() for spec in specs]

    def event_selections(self) -> list[str]:
        """The union of the registered event patterns, in registration order."""
        seen: dict[str, None] = {}
        for patterns, _ in self.event_handlers:
            seen.update(dict.fromkeys(patterns))
        return list(seen)

    def has_event_receiver(self) -> bool:
        """Whether an event handler is registered (Go: the plugin implements Publish)."""
        return bool(self.event_handlers)

    @property
    def has_validator(self) -> bool:
        """Whether a validate handler is registered."""
        return self.validate_handler is not None

    @property
    def serves_publish(self) -> bool:
        """Whether ``/api-plugin/v4/publish`` is routed (Go: HasPublish, no selector)."""
        return self.has_publish and self.publish_handler is not None and not self.event_selections()

    # -- dispatch (called by the runtime) ------------------------------------------------
    @functools.cached_property
    def _serial_locks(self) -> KeyedLocks:
        from .ordering import KeyedLocks

        return KeyedLocks()

    @functools.cached_property
    def _event_patterns(self) -> list[list[Pattern]]:
        from .events.matching import Pattern

        return [[Pattern(p) for p in patterns] for patterns, _ in self.event_handlers]

    async def run_config(self, host: ContextHost | None, params: dict[str, Any]) -> None:
        """Enter the lifespan, then run the config handler; a :class:`PluginError` refuses it."""
        await self._enter_lifespan(host)
        if self.config_handler is not None:
            h = self.config_handler
            await h(self._context(h, host), params)

    def action_spec(self, action: Action) -> ActionSpec:
        """The registration ``action`` is for (its command, on the model it was called
        on); sets ``action.target_model``.  Unknown commands raise 404."""
        specs = self.actions.get(action.command)
        if not specs:
            raise self.error(f"Unknown command: {action.command}", code=404)
        if len(specs) == 1:  # registered on one model: nothing to infer
            action.target_model = specs[0].model
            return specs[0]
        model = infer_target_model(action.model, [s.model for s in specs])
        action.target_model = model
        return next(s for s in specs if s.model == model)

    async def run_action(self, host: ContextHost | None, action: Action) -> Any:
        """Dispatch ``action``: 404 for an unknown command, 400 for a missing required param."""
        spec = self.action_spec(action)
        missing = spec.missing(action.params)
        if missing:
            raise self.error(*[f"Missing Parameter {p}" for p in missing])
        h = spec.handler
        call = h(self._context(h, host, action=action), action)
        if spec.serial:
            async with self._serial_locks.hold(_target_key(action)):
                return await call
        return await call

    async def run_event(self, host: ContextHost | None, event: Event) -> None:
        """Run every ``on_event`` handler with a pattern matching ``event`` (one from the
        event stream), in registration order, each awaited in turn."""
        # same length by construction (no strict=: this runs on CPython 3.9)
        for parsed, (_, h) in zip(self._event_patterns, self.event_handlers):  # noqa: B905
            if any(p.matches(event) for p in parsed):
                await h(self._context(h, host, event=event), event)

    async def run_publish(self, host: ContextHost | None, event: Event) -> None:
        """Run the publish handler for one ``/publish`` call."""
        if self.publish_handler is not None:
            h = self.publish_handler
            await h(self._context(h, host, event=event), event)

    async def run_stop(self, host: ContextHost | None) -> None:
        """Run the stop handler (``/stop`` or SIGTERM), then leave the lifespan."""
        try:
            if self.stop_handler is not None:
                h = self.stop_handler
                await h(self._context(h, host))
        finally:
            await self._exit_lifespan()

    def run_unpack(self, directory: Path) -> None:
        """Write the assets into ``directory``, then run the unpack handler."""
        super().run_unpack(directory)
        if self.unpack_handler is not None:
            h = self.unpack_handler
            h.call_sync(self._context(h, None), directory)

    def run_validate(self, definition: dict[str, Any]) -> Any:
        """The definition ``define`` prints: what the validate handler returns, if anything."""
        if self.validate_handler is None:
            return definition
        h = self.validate_handler
        result = h.call_sync(self._context(h, None), definition)
        return definition if result is None else result
