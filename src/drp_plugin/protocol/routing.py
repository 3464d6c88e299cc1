"""The to-plugin routes: what DRP's calls do, as a plain async ``handle(request)``.

Routes answer exactly like the Go reference (``plugin`` and ``plugin/mux``): 404
for an unknown path or a method other than POST, 400 for a body that is not JSON,
then ``/config``, ``/action``, ``/publish`` (only when the provider serves it) and
``/stop``.  The router knows no socket: ``listen`` puts it behind the unix-socket
HTTP server, the in-process test client calls :meth:`Router.handle` directly.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..errors import PluginError, error_body, panic_body, plugin_error
from ..models import Action, Event
from .http1 import PreparedJSON, decode_json
from .httpserver import WireRequest
from .logship import new_group
from .paths import TO_PLUGIN as PREFIX
from .threads import ThreadLimitReached, bounded_calls, reset_bounded

if TYPE_CHECKING:
    from typing import Protocol

    from ..provider import BaseProvider
    from .lifecycle import Lifecycle
    from .services import Services
    from .settings import ListenSettings

    class EventsPort(Protocol):
        """Where config opens the provider's event selections."""

        async def open(self, selections: list[str]) -> None:
            """Subscribe to ``selections`` (replacing an older, different set)."""

OK: dict[str, Any] = {"Model": "", "Key": "", "Type": "", "Messages": None, "Code": 200}
#: :data:`OK`, encoded once: config, publish and stop answer it on every success.
OK_REPLY = PreparedJSON(OK)

#: What a route answers: (status, JSON-able body).
Answer = tuple[int, Any]
Route = Callable[[WireRequest, Any], Awaitable[Answer]]

log = logging.getLogger("drp_plugin.runtime")




class Router:
    """DRP's calls to one provider: config, actions, publish and stop."""

    def __init__(self, provider: BaseProvider, services: Services, lifecycle: Lifecycle,
                 settings: ListenSettings, events: EventsPort | None = None) -> None:
        self.provider = provider
        self.services = services
        self.lifecycle = lifecycle
        self.settings = settings
        self.events = events
        self._received = 0
        self.routes: dict[str, Route] = {
            f"{PREFIX}/config": self._config,
            f"{PREFIX}/action": self._action,
            f"{PREFIX}/stop": self._stop,
        }
        if provider.serves_publish:
            self.routes[f"{PREFIX}/publish"] = self._publish

    async def handle(self, request: WireRequest) -> Answer:
        """Route like the Go ``mux``: 404 for unknown paths and non-POST, then decode."""
        route = self.routes.get(request.path)
        if route is None or request.method != "POST":
            return 404, error_body(404, type=request.method, key=request.path)
        if request.media_type != "application/json":
            return 400, error_body(400, f"Invalid content type: {request.content_type}",
                                   type=request.method)
        body: Any = None
        if request.body:
            try:
                body = decode_json(request.body)
            except (ValueError, RecursionError) as exc:
                return 400, error_body(400, f"Invalid JSON: {exc}", type=request.method)
        new_group()
        try:
            return await route(request, body)
        except PluginError as exc:
            return exc.status, exc.to_dict()
        except Exception as exc:
            log.error("%s %s failed:\n%s", request.method, request.path,
                      "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            return 500, panic_body(exc, request.method, request.path)

    async def _config(self, request: WireRequest, body: Any) -> Answer:
        name = self.provider.name
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return 400, plugin_error(name, "config must be a JSON object").to_dict()
        log.info("Setting API session")
        if not self.settings.token_given:
            return 400, plugin_error(name, "Must have a token specified").to_dict()
        self.provider.check()  # a PluginError is answered by handle()
        # Param values may be secrets: only their names are logged.
        log.info("Received Config request: params %s", sorted(body))
        self.services.configure(body)
        try:
            await self.provider.run_config(self.services, body)
        except PluginError as exc:
            return exc.status, error_body(exc.status, exc.to_json())
        selections = self.provider.event_selections()
        if selections and self.events is not None:
            try:
                await self.events.open(selections)
            except Exception as exc:
                # Go: models.NewError("plugins", 500, ...) sets Type (plugin/plugin.go)
                return 500, error_body(500, f"Unable to create event stream: {exc}",
                                       type="plugins")
        return 200, OK_REPLY

    async def _action(self, request: WireRequest, body: Any) -> Answer:
        lifecycle = self.lifecycle
        if lifecycle.stopping:
            return 503, plugin_error(self.provider.name, "plugin is stopping", code=503).to_dict()
        try:
            action = Action(body)
        except TypeError as exc:
            return 400, error_body(400, str(exc), type=request.method)
        self._received += 1
        action.received = self._received
        token = lifecycle.action_started()
        bounded = bounded_calls()
        try:
            log.debug("Action: %s", action.command)
            run = self.provider.run_action(self.services, action)
            timeout = self.settings.action_timeout
            if timeout is None:
                return 200, await run
            try:
                return 200, await asyncio.wait_for(run, timeout)
            except asyncio.TimeoutError:
                # A sync handler's thread cannot be interrupted: it finishes unobserved.
                return 504, plugin_error(
                    self.provider.name, f"action {action.command} timed out after {timeout:g}s",
                    code=504).to_dict()
        except ThreadLimitReached as exc:
            return 503, plugin_error(self.provider.name, f"action {action.command} refused: {exc}",
                                     code=503).to_dict()
        except asyncio.CancelledError:
            if not lifecycle.abandoned():
                raise
            return 503, plugin_error(
                self.provider.name,
                f"plugin stopped: action {action.command} was still running after the "
                f"{lifecycle.stop_timeout:g}s stop timeout", code=503).to_dict()
        finally:
            reset_bounded(bounded)
            lifecycle.action_finished(token)

    async def _publish(self, request: WireRequest, body: Any) -> Answer:
        try:
            event = Event(body)
        except TypeError as exc:
            return 400, error_body(400, str(exc), type=request.method)
        bounded = bounded_calls()
        try:
            await self.provider.run_publish(self.services, event)
        except PluginError as exc:
            return exc.status, error_body(exc.status, exc.to_json())
        except ThreadLimitReached as exc:
            return 503, plugin_error(self.provider.name, f"publish refused: {exc}",
                                     code=503).to_dict()
        finally:
            reset_bounded(bounded)
        return 200, OK_REPLY

    async def _stop(self, request: WireRequest, body: Any) -> Answer:
        """Join the one drain (starting it if needed), then answer 200."""
        await self.lifecycle.join_stop("/stop received")
        request.after_response = self.lifecycle.reply_written
        return 200, OK_REPLY
