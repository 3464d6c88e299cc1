"""``listen``: the to-plugin server, its routes and the provider's lifecycle.

PROTOCOL.md sections 1 to 3.  The routes answer exactly like the Go reference
(``plugin`` and ``plugin/mux``), minus its faults: ``/stop`` answers before the
process exits and removes its socket, and logging never blocks a reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import traceback
from typing import TYPE_CHECKING, Any

from ..errors import PluginError
from ..models import Action, Event
from .backchannel import BackChannel
from .httpserver import DEFAULT_MAX_BODY, Request, UnixHTTPServer, error_body
from .logship import LogShipper, new_group

if TYPE_CHECKING:
    from ..api import AsyncClient, Client
    from ..provider import Provider

PREFIX = "/api-plugin/v4"
OK = {"Model": "", "Key": "", "Type": "", "Messages": None, "Code": 200}

log = logging.getLogger("drp_plugin.runtime")


def _plugin_error(code: int, message: str, key: str) -> dict[str, Any]:
    return PluginError(message, code=code, model="plugin", key=key, type="plugin").to_dict()


def _crash(exc: BaseException, method: str, path: str) -> dict[str, Any]:
    """The 500 answer for a handler that raised something else than PluginError."""
    name = type(exc).__name__
    text = str(exc)
    return error_body(500, f"Panic recovered: {name}: {text}" if text else f"Panic recovered: {name}",
                      type=method, key=path)


class Runtime:
    """One ``listen`` process: serves DRP's calls and runs the provider's handlers."""

    def __init__(
        self,
        provider: Provider,
        to_path: str,
        from_path: str,
        *,
        debug: bool = False,
        max_body: int = DEFAULT_MAX_BODY,
        stop_timeout: float = 10.0,
    ) -> None:
        self.provider = provider
        self.to_path = to_path
        self.from_path = from_path
        self.debug = debug
        self.stop_timeout = stop_timeout
        self.loop = asyncio.get_running_loop()
        limit = os.environ.get("DRP_PLUGIN_MAX_BODY")
        self.server = UnixHTTPServer(to_path, self.handle, max_body=int(limit) if limit else max_body)
        self.backchannel = BackChannel(from_path)
        self.shipper = LogShipper(provider.name, from_path, self.loop)
        self.plugin_name = ""
        self.config_params: dict[str, Any] = {}
        self.stopping = False
        self._done = asyncio.Event()
        self._actions = 0
        self._received = 0
        self._actions_idle = asyncio.Event()
        self._actions_idle.set()
        self._async_api: AsyncClient | None = None
        self._sync_api: Client | None = None
        self._events: Any = None
        self._events_task: asyncio.Task[None] | None = None
        self._selections: list[str] = []
        grace = os.environ.get("DRP_PLUGIN_DRP_GONE_GRACE")
        #: Seconds DRP's from-plugin socket may stay unreachable before we exit.
        self.drp_gone_grace = float(grace) if grace else 30.0
        timeout = os.environ.get("DRP_PLUGIN_ACTION_TIMEOUT")
        self.action_timeout = float(timeout) if timeout else provider.action_timeout
        self.routes = {
            f"{PREFIX}/config": self._config,
            f"{PREFIX}/action": self._action,
            f"{PREFIX}/stop": self._stop,
        }
        if provider.serves_publish:
            self.routes[f"{PREFIX}/publish"] = self._publish

    # -- API clients handed to handlers ------------------------------------------------------
    def async_api(self) -> AsyncClient:
        if self._async_api is None:
            from ..api import AsyncClient

            self._async_api = AsyncClient.from_env()
        return self._async_api

    def sync_api(self) -> Client:
        if self._sync_api is None:
            from ..api import Client

            self._sync_api = Client.from_env()
        return self._sync_api

    # -- lifecycle ------------------------------------------------------------------------------
    async def serve(self) -> int:
        root = logging.getLogger()
        root.setLevel(logging.DEBUG if self.debug else logging.INFO)
        root.addHandler(self.shipper)
        # httpx announces every request at INFO: that is noise in DRP's log.
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.shipper.start()
        await self.server.start()
        try:
            await self.backchannel.client.connect()
        except OSError as exc:
            print(f"drp-plugin: from-plugin socket {self.from_path} is not reachable yet: {exc}",
                  file=sys.stderr, flush=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self._on_signal, sig)
        sys.stdout.write("READY!\n")
        sys.stdout.flush()
        watchdog = self.loop.create_task(self._watch_drp())
        await self._done.wait()
        watchdog.cancel()
        await self._close()
        return 0

    async def _drp_reachable(self) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_unix_connection(self.from_path), 2.0)
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True

    async def _watch_drp(self, interval: float = 1.0) -> None:
        """Exit cleanly when DRP's from-plugin socket stays unreachable for the grace period."""
        gone_since: float | None = None
        while not self.stopping:
            await asyncio.sleep(interval)
            if await self._drp_reachable():
                gone_since = None
                continue
            now = self.loop.time()
            if gone_since is None:
                gone_since = now
                print(f"drp-plugin: DRP's socket {self.from_path} is unreachable; exiting if it "
                      f"stays so for {self.drp_gone_grace:g}s", file=sys.stderr, flush=True)
            elif now - gone_since >= self.drp_gone_grace:
                print("drp-plugin: DRP is gone: stopping", file=sys.stderr, flush=True)
                await self._shutdown_then_exit()
                return

    def _on_signal(self, sig: int) -> None:
        if not self.stopping:
            log.info("%s received: stopping", signal.Signals(sig).name)
            self.loop.create_task(self._shutdown_then_exit())

    async def _shutdown_then_exit(self) -> None:
        await self._shutdown()
        self._done.set()

    async def _shutdown(self) -> None:
        """Run the provider's stop, close the event stream, let actions finish (bounded)."""
        self.stopping = True
        try:
            await asyncio.wait_for(self.provider.run_stop(self), self.stop_timeout)
        except Exception as exc:
            log.error("stop handler failed: %s", exc)
        await self._close_events()
        try:
            await asyncio.wait_for(self._actions_idle.wait(), self.stop_timeout)
        except (asyncio.TimeoutError, TimeoutError):  # noqa: UP041 - distinct before 3.11
            log.warning("stopping with %d action(s) still running", self._actions)

    async def _close(self) -> None:
        log.info("STOPPING")
        await self.server.close()
        await self.shipper.aclose(timeout=2.0)
        logging.getLogger().removeHandler(self.shipper)
        await self.backchannel.close()
        if self._async_api is not None:
            await self._async_api.aclose()
        if self._sync_api is not None:
            self._sync_api.close()

    # -- dispatch ---------------------------------------------------------------------------------
    async def handle(self, request: Request) -> tuple[int, Any]:
        """Route like the Go ``mux``: 404 for unknown paths and non-POST, then decode."""
        route = self.routes.get(request.path)
        if route is None or request.method != "POST":
            return 404, error_body(404, None, type=request.method, key=request.path)
        if "APPLICATION/JSON" not in request.content_type.upper():
            return 400, error_body(400, f"Invalid content type: {request.content_type}",
                                   type=request.method)
        body: Any = None
        if request.body:
            try:
                body = json.loads(request.body)
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
            return 500, _crash(exc, request.method, request.path)

    async def _config(self, request: Request, body: Any) -> tuple[int, Any]:
        name = self.provider.name
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return 400, _plugin_error(400, "config must be a JSON object", name)
        log.info("Setting API session")
        if not os.environ.get("RS_TOKEN"):
            return 400, _plugin_error(400, "Must have a token specified", name)
        self.provider.check()  # a PluginError is answered by handle()
        # Param values may be secrets: only their names are logged.
        log.info("Received Config request: params %s", sorted(body))
        self.plugin_name = str(body.get("Name") or self.plugin_name)
        self.config_params = body
        try:
            await self.provider.run_config(self, body)
        except PluginError as exc:
            return exc.status, {**OK, "Code": exc.status, "Messages": [exc.to_json()]}
        selections = self.provider.event_selections()
        if selections:
            try:
                await self._open_events(selections)
            except Exception as exc:
                return 500, PluginError(f"Unable to create event stream: {exc}", code=500,
                                        model="plugins").to_dict()
        return 200, OK

    async def _action(self, request: Request, body: Any) -> tuple[int, Any]:
        if self.stopping:
            return 503, _plugin_error(503, "plugin is stopping", self.provider.name)
        try:
            action = Action(body)
        except TypeError as exc:
            return 400, error_body(400, str(exc), type=request.method)
        self._received += 1
        action.received = self._received
        self._actions += 1
        self._actions_idle.clear()
        try:
            log.debug("Action: %s", action.command)
            if self.action_timeout is None:
                return 200, await self.provider.run_action(self, action)
            try:
                result = await asyncio.wait_for(self.provider.run_action(self, action),
                                                self.action_timeout)
            except (asyncio.TimeoutError, TimeoutError):  # noqa: UP041 - distinct before 3.11
                # A sync handler's thread cannot be interrupted: it finishes unobserved.
                return 504, _plugin_error(
                    504, f"action {action.command} timed out after {self.action_timeout:g}s",
                    self.provider.name)
            return 200, result
        finally:
            self._actions -= 1
            if self._actions == 0:
                self._actions_idle.set()

    async def _publish(self, request: Request, body: Any) -> tuple[int, Any]:
        try:
            event = Event(body)
        except TypeError as exc:
            return 400, error_body(400, str(exc), type=request.method)
        try:
            await self.provider.run_publish(self, event)
        except PluginError as exc:
            return exc.status, {**OK, "Code": exc.status, "Messages": [exc.to_json()]}
        return 200, OK

    async def _stop(self, request: Request, body: Any) -> tuple[int, Any]:
        if not self.stopping:
            await self._shutdown()
        request.after_response = self._done.set
        return 200, OK

    # -- event stream --------------------------------------------------------------------------------
    async def _open_events(self, selections: list[str]) -> None:
        """(Re)open the event stream; an unchanged selection keeps the running one,
        so a repeated config loses none of the events already queued."""
        from ..events import EventStream

        if self._events is not None and self._events_task is not None \
                and not self._events_task.done() and self._selections == selections:
            return
        await self._close_events()
        self._selections = list(selections)
        stream = EventStream(self.async_api())
        subscription = await stream.subscribe(*selections)
        self._events = stream
        self._events_task = self.loop.create_task(self._consume(subscription))

    async def _consume(self, subscription: Any) -> None:
        async for event in subscription:
            new_group()
            if event.type == "websocket" and event.action == "gap":
                log.warning("Event stream was down (%s): events published meanwhile may be "
                            "missing", event.object)
            try:
                await self.provider.run_event(self, event)
            except PluginError as exc:
                log.error("Error processing event %s: %s", event.topic, exc)
            except Exception as exc:
                log.error("Event handler crashed on %s:\n%s", event.topic,
                          "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))

    async def _close_events(self) -> None:
        task, stream = self._events_task, self._events
        self._events_task = self._events = None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if stream is not None:
            await stream.close()


async def _listen(provider: Provider, to_path: str, from_path: str, debug: bool) -> int:
    runtime = Runtime(provider, to_path, from_path, debug=debug)
    return await runtime.serve()


def run(provider: Provider, to_path: str, from_path: str, *, debug: bool = False) -> int:
    """Serve until ``/stop`` or SIGTERM; returns the exit code."""
    return asyncio.run(_listen(provider, to_path, from_path, debug))
