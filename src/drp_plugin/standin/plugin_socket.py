"""The from-plugin server: what a running plugin calls on ``/api-server-plugin/v4``.

``/publish`` broadcasts the event, ``/log`` keeps one ``logger.Line`` (and
publishes it as a ``log`` event unless ``IgnorePublish``), ``/leaving`` reports
that the plugin is about to exit.  Anything else: 404 with ``Type`` = method and
``Key`` = path, like the server (``/objects/<prefix>`` included).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..errors import PluginError
from ..models import make_event
from .eventhub import EventHub
from .logs import LogBook, LogRecord, parse_level

PREFIX = "/api-server-plugin/v4"
OK = {"Model": "", "Key": "", "Type": "", "Messages": None, "Code": 200}


def _error(status: int, message: str, request: web.Request) -> web.Response:
    err = PluginError(message, code=status, type=request.method, key=request.path)
    return web.json_response(err.to_dict(), status=err.status)


async def _json(request: web.Request) -> Any:
    return json.loads(await request.read())


def make_app(provider: str, plugin: str, hub: EventHub, logbook: LogBook,
             published: list[dict[str, Any]],
             on_leaving: Callable[[PluginError], None]) -> web.Application:
    """The aiohttp application served on one plugin's from-plugin socket.

    Events the plugin publishes are also appended to ``published``.
    """

    async def publish(request: web.Request) -> web.Response:
        try:
            event = await _json(request)
        except ValueError as exc:
            return _error(409, f"Invalid event: {exc}", request)
        if not isinstance(event, dict):
            return _error(409, "Invalid event: not a JSON object", request)
        published.append(event)
        hub.publish(event)
        return web.json_response(OK)

    async def log(request: web.Request) -> web.Response:
        try:
            line = await _json(request)
            if not isinstance(line, dict):
                raise ValueError("not a JSON object")
            level = parse_level(line.get("Level", "info"))
        except ValueError as exc:
            return _error(400, f"Invalid log line: {exc}", request)
        message = line.get("Message")
        record = LogRecord("log", provider, plugin, level,
                           message if isinstance(message, str) else json.dumps(message),
                           str(line.get("Service") or ""), line)
        logbook.add(record)
        if not line.get("IgnorePublish"):
            event = make_event("log", level, plugin, line)
            event.update(Principal=f"plugin:{plugin}", Original=None)
            hub.publish(event)
        return web.Response(status=204)

    async def leaving(request: web.Request) -> web.Response:
        try:
            body = await _json(request)
        except ValueError as exc:
            return _error(400, f"Invalid error body: {exc}", request)
        on_leaving(PluginError.from_dict(body, 500))
        return web.Response(status=204)

    handlers = {"/publish": publish, "/log": log, "/leaving": leaving}

    async def dispatch(request: web.Request) -> web.StreamResponse:
        path = request.path
        handler = handlers.get(path[len(PREFIX):]) if path.startswith(PREFIX) else None
        if handler is None or request.method != "POST":
            return _error(404, f"No such call: {request.method} {path}", request)
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
