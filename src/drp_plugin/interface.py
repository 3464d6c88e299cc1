"""The interface style: a plugin object with Go-like methods, for people porting Go.

The object must have ``config(log, api, params)`` (Go ``PluginConfig``) and may
have any of ``action(log, action)``, ``publish(log, event)``,
``select_events()``, ``stop(log)``, ``unpack(log, directory)`` and
``validate(log, api)`` (``PluginActor``, ``PluginPublisher``,
``PluginEventSelecter``, ``PluginStop``, ``PluginUnpacker``,
``PluginValidator``).  Methods may be ``def`` or ``async def``; errors are raised
as :class:`~drp_plugin.errors.PluginError`.  The static definition is given as a
dict, like the Go ``models.PluginProvider``::

    app = drp_plugin.App("incrementer", MyPlugin(), definition={...}, version="v1.0.0")
    app.main()

The seven interfaces are :class:`typing.Protocol` s in :mod:`drp_plugin.go_interfaces`
(subclass them so a type checker holds the plugin to Go's methods).  ``App`` and
:class:`~drp_plugin.Provider` are siblings over
:class:`~drp_plugin.provider.BaseProvider` (name, version, content, definition,
command line, what the runtime calls): an ``App`` has no decorators
(``@app.action``, ``@app.on_event``, ...), its handlers are the plugin object's
methods and its actions the definition's ``AvailableActions``.
"""

from __future__ import annotations

import os

from .errors import plugin_error
from .models import available_action
from .provider import BaseProvider, Handler, _caller_dir, infer_target_model

TYPE_CHECKING = False  # typing is not imported: define must stay fast
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path
    from typing import Any

    from .context import ContextHost  # what handlers' contexts reach the running provider through
    from .go_interfaces import PluginConfig
    from .models import Action, Event


class App(BaseProvider):
    """A provider driven by a Go-style plugin object (the interface style): its
    handlers are the object's methods, its definition is given as a dict."""

    def __init__(
        self,
        name: str,
        plugin: PluginConfig,
        *,
        definition: dict[str, Any] | None = None,
        version: str | None = None,
        description: str = "",
        content: str | os.PathLike[str] | None = None,
        assets: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if not callable(getattr(plugin, "config", None)):
            raise TypeError(f"{type(plugin).__name__} must implement config(log, api, params)")
        d = dict(definition or {})
        super().__init__(
            name,
            base_dir=base_dir if base_dir is not None else _caller_dir(),
            version=version or d.get("Version") or None,
            description=description,
            content=content,
            assets=assets,
            store_objects=d.get("StoreObjects"),
            documentation=d.get("Documentation") or "",
            auto_start=bool(d.get("AutoStart")),
            has_publish=bool(d.get("HasPublish")),
            # as written: a missing or null list stays null, [] stays [] (as Go's slices)
            required_params=d.get("RequiredParams"),
            optional_params=d.get("OptionalParams"),
            ignore_events=bool(d.get("IgnoreEvents")),
            meta=d.get("Meta"),
        )
        self.plugin = plugin
        self._static_actions = [
            available_action(
                a.get("Command", ""), a.get("Model", ""),
                a.get("RequiredParams"), a.get("OptionalParams"),
            )
            for a in d.get("AvailableActions") or []
        ]
        self._static_content = d.get("Content")
        self._method_handlers: dict[str, Handler] = {
            m: Handler(getattr(plugin, m))
            for m in ("config", "action", "publish", "stop", "unpack", "validate")
            if callable(getattr(plugin, m, None))
        }
        if "action" not in self._method_handlers and self._static_actions:
            raise TypeError("the definition lists AvailableActions but the plugin has no action()")

    def _handler(self, method: str) -> Handler | None:
        return self._method_handlers.get(method)

    def available_actions(self) -> list[dict[str, Any]]:
        """The ``AvailableActions`` of the static definition."""
        return [dict(a) for a in self._static_actions]

    def content_bundle(self) -> str:
        """The definition's ``Content``, or the bundle of ``content=``."""
        if self.content is None and isinstance(self._static_content, str):
            return self._static_content
        return super().content_bundle()

    def event_selections(self) -> list[str]:
        """What the plugin's ``select_events()`` returns (none without it)."""
        select = getattr(self.plugin, "select_events", None)
        return list(select()) if callable(select) else []

    def has_event_receiver(self) -> bool:
        """Whether the plugin has a ``publish`` method."""
        return self._handler("publish") is not None

    @property
    def has_validator(self) -> bool:
        """Whether the plugin has a ``validate`` method."""
        return self._handler("validate") is not None

    @property
    def serves_publish(self) -> bool:
        """Whether ``/publish`` is routed (Go: HasPublish, a Publish method and no selector)."""
        has_selector = callable(getattr(self.plugin, "select_events", None))
        return self.has_publish and self._handler("publish") is not None and not has_selector

    async def _call(self, method: str, host: ContextHost | None, *args: Any, **ctx: Any) -> Any:
        h = self._method_handlers[method]
        c = h.context(self.name, self.logger(), host, **ctx)
        return await h(c.log, *args)

    async def run_config(self, host: ContextHost | None, params: dict[str, Any]) -> None:
        """Call ``plugin.config(log, api, params)``."""
        h = self._method_handlers["config"]
        c = h.context(self.name, self.logger(), host)
        await h(c.log, c.api if host is not None else None, params)

    async def run_action(self, host: ContextHost | None, action: Action) -> Any:
        """Call ``plugin.action(log, action)``; 404 when the plugin has no ``action``."""
        if "action" not in self._method_handlers:
            raise plugin_error(self.name, f"Unknown command: {action.command}", code=404)
        models = [a["Model"] for a in self._static_actions if a["Command"] == action.command]
        if models:
            action.target_model = infer_target_model(action.model, models)
        return await self._call("action", host, action, action=action)

    async def run_publish(self, host: ContextHost | None, event: Event) -> None:
        """Call ``plugin.publish(log, event)`` (for ``/publish`` and stream events)."""
        await self._call("publish", host, event, event=event)

    #: Go's plugins get stream events and ``/publish`` calls through the same Publish.
    run_event = run_publish

    async def run_stop(self, host: ContextHost | None) -> None:
        """Call ``plugin.stop(log)`` if the plugin has it."""
        if "stop" in self._method_handlers:
            await self._call("stop", host)

    def run_unpack(self, directory: Path) -> None:
        """Write the assets, then call ``plugin.unpack(log, directory)`` if it has it."""
        super().run_unpack(directory)  # the declared assets
        h = self._handler("unpack")
        if h is not None:
            h.call_sync(self.logger(), str(directory))

    def run_validate(self, definition: dict[str, Any]) -> Any:
        """Call ``plugin.validate(log, api)``; what it returns replaces the definition."""
        h = self._handler("validate")
        if h is None:
            return definition
        c = h.context(self.name, self.logger(), None)
        result = h.call_sync(c.log, c.api)
        return definition if result is None else result
