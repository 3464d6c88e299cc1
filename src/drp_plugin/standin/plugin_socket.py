"""The from-plugin server: what a running plugin calls on ``/api-server-plugin/v4``
(:data:`drp_plugin.protocol.paths.FROM_PLUGIN`).

One application serves both the stand-in's plugins and
:class:`drp_plugin.testing.PluginHost`: ``/publish`` hands the event on, ``/log``
one ``logger.Line`` (its level checked), ``/leaving`` the plugin's ``models.Error``
before it exits.  Anything else: 404 with ``Type`` = method and ``Key`` = path, like
the server.  A :class:`LogSink` makes ``/log`` slow, failing or hanging up, for
tests of a provider's log shipping.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..errors import PluginError
from ..protocol.paths import DRP_LEAVING, DRP_LOG, DRP_PUBLISH
from .logs import parse_level

OK = {"Model": "", "Key": "", "Type": "", "Messages": None, "Code": 200}
#: Largest request body accepted from a plugin (a log line or an event).
MAX_BODY = 64 * 1024 * 1024
Obj = dict[str, Any]


@dataclass
class LogSink:
    """How ``/log`` behaves: ``delay`` seconds, then ``status``.

    ``hang_up=True`` closes the connection instead of answering.
    """

    delay: float = 0.0
    status: int = 204
    hang_up: bool = False


#: A sink that accepts every line at once (what DRP does).
ACCEPT_ALL = LogSink()


def _error(status: int, message: str, request: web.Request) -> web.Response:
    err = PluginError(message, code=status, type=request.method, key=request.path)
    return web.json_response(err.to_dict(), status=err.status)


async def _json(request: web.Request) -> Any:
    return json.loads(await request.read())


class FromPlugin:
    """The handlers of one plugin's from-plugin socket.

    ``on_publish(event)``, ``on_log(line, level)`` and ``on_leaving(error)`` receive
    what the plugin sent, already decoded and checked; ``log_posts`` counts ``/log`` calls
    (answered or not).
    """

    def __init__(self, on_publish: Callable[[Obj], None],
                 on_log: Callable[[Obj, str], None],
                 on_leaving: Callable[[PluginError], None],
                 sink: LogSink = ACCEPT_ALL, max_body: int = MAX_BODY) -> None:
        self.on_publish = on_publish
        self.on_log = on_log
        self.on_leaving = on_leaving
        self.sink = sink
        self.max_body = max_body
        self.log_posts = 0

    async def publish(self, request: web.Request) -> web.Response:
        """``POST /api-server-plugin/v4/publish``: pass the event to ``on_publish``; 200
        with ``OK`` (a ``models.Error`` of Code 200), 409 when the body is no JSON object."""
        try:
            event = await _json(request)
        except ValueError as exc:
            return _error(409, f"Invalid event: {exc}", request)
        if not isinstance(event, dict):
            return _error(409, "Invalid event: not a JSON object", request)
        self.on_publish(event)
        return web.json_response(OK)

    async def log(self, request: web.Request) -> web.Response:
        """``POST /api-server-plugin/v4/log``: one ``logger.Line``, answered as ``sink`` says
        (delay, hang-up, failing status); a valid line goes to ``on_log`` with its level and
        gets the sink's status (204 by default), a bad line or level 400."""
        self.log_posts += 1
        body = await request.read()
        sink = self.sink
        if sink.delay:
            await asyncio.sleep(sink.delay)
        if sink.hang_up and request.transport is not None:
            request.transport.close()
            return web.Response(status=204)
        if not 200 <= sink.status < 300:
            return _error(sink.status, "log sink failing", request)
        try:
            line = json.loads(body)
            if not isinstance(line, dict):
                raise ValueError("not a JSON object")
            level = parse_level(line.get("Level", "info"))
        except ValueError as exc:
            return _error(400, f"Invalid log line: {exc}", request)
        self.on_log(line, level)
        return web.Response(status=sink.status)

    async def leaving(self, request: web.Request) -> web.Response:
        """``POST /api-server-plugin/v4/leaving``: the plugin's ``models.Error`` before it
        exits, passed to ``on_leaving`` as a ``PluginError``; 204, or 400 for invalid JSON."""
        try:
            body = await _json(request)
        except ValueError as exc:
            return _error(400, f"Invalid error body: {exc}", request)
        self.on_leaving(PluginError.from_dict(body, 500))
        return web.Response(status=204)

    def app(self) -> web.Application:
        """The aiohttp application to serve on the from-plugin unix socket."""
        app = web.Application(client_max_size=self.max_body)
        app.router.add_post(DRP_PUBLISH, self.publish)
        app.router.add_post(DRP_LOG, self.log)
        app.router.add_post(DRP_LEAVING, self.leaving)

        async def unknown(request: web.Request) -> web.StreamResponse:
            return _error(404, f"No such call: {request.method} {request.path}", request)

        app.router.add_route("*", "/{tail:.*}", unknown)
        return app
