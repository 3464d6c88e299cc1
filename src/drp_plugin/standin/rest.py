"""The REST API ``/api/v3`` of the stand-in (and the event stream ``/api/v3/ws``).

Served: ``info``, ``objects``, ``events`` (POST), ``users/<u>/token``, ``files``,
``system/actions``, ``plugin_providers`` (upload, list, get, delete, binary) and,
for every stored type (machines, profiles, params, plugins, templates and
plugin-defined types): ``GET/POST /<prefix>``, ``GET/HEAD/PUT/PATCH/DELETE
/<prefix>/<key>``, ``/<prefix>/<key>/params[/<name>]`` and
``/<prefix>/<key>/actions[/<cmd>]``.

Not served (a 404 that says so, never a fake success): DHCP (subnets, leases,
reservations), TFTP/ISOs, bootenvs, stages, tasks, workflows, jobs, contexts,
pools, users other than their tokens, roles, tenants, contents, prefs, licenses,
machine tokens and pubkeys, secure file server, HA and clustering.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from ..errors import PluginError
from ..models import now_rfc3339
from . import files, query
from .auth import DEFAULT_TTL, Principal
from .websocket import make_handler

if TYPE_CHECKING:
    from .server import StandIn

log = logging.getLogger(__name__)
_PROVIDER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() == "true"


async def _body(request: web.Request, model: str, key: str, empty: Any = ...) -> Any:
    """The JSON body; an empty body is ``empty`` when given, else a 400."""
    raw = await request.read()
    if not raw.strip():
        if empty is not ...:
            return empty
        raise PluginError("Empty body", code=400, model=model, key=key, type=request.method)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise PluginError(f"Invalid JSON: {exc}", code=400, model=model, key=key,
                          type=request.method) from None


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except PluginError as err:
        headers = {"WWW-Authenticate": "dr-provision"} if err.status == 401 else None
        return web.json_response(err.to_dict(), status=err.status, headers=headers)
    except web.HTTPException:
        raise
    except Exception as exc:  # a bug of the stand-in: answer like DRP, keep the trace
        log.exception("stand-in failure on %s %s", request.method, request.path)
        failure = PluginError(f"Internal error: {exc!r}", code=500, type=request.method)
        return web.json_response(failure.to_dict(), status=500)


class Api:
    """Routes one ``/api/v3`` request to the stand-in."""

    def __init__(self, drp: StandIn) -> None:
        self.drp = drp
        self.store = drp.store

    async def handle(self, request: web.Request) -> web.StreamResponse:
        principal = self.drp.auth.authenticate(request)
        if principal.readonly and request.method not in ("GET", "HEAD"):
            raise PluginError("This token may only read", code=403, type=request.method)
        raw = request.rel_url.raw_path[len("/api/v3"):]
        segs = [unquote(s) for s in raw.split("/") if s]
        if not segs:
            return self._missing(request, "")
        head, rest = segs[0], segs[1:]
        method = request.method
        if head == "info" and not rest and method == "GET":
            return web.json_response(self.drp.info())
        if head == "objects" and not rest and method == "GET":
            return web.json_response(sorted(self.store.types))
        if head == "events" and not rest and method == "POST":
            return await self._post_event(request, principal)
        if head == "users" and len(rest) == 2 and rest[1] == "token" and method == "GET":
            return self._user_token(request, principal, rest[0])
        if head == "files":
            return await files.handle(request, self.drp.webroot, "/".join(rest))
        if head == "system" and rest[:1] == ["actions"]:
            return await self._actions(request, "", "", rest[1:], principal)
        if head == "plugin_providers" and len(rest) == 1 and method == "POST":
            return await self._upload(request, rest[0])
        if head == "plugin_providers" and len(rest) == 2 and rest[1] == "binary":
            return self._binary(request, rest[0])
        if head in self.store.types:
            return await self._objects(request, head, rest, principal)
        return self._missing(request, head)

    def _missing(self, request: web.Request, model: str) -> web.StreamResponse:
        raise PluginError(
            f"Not Found: the DRP stand-in does not serve {request.method} {request.path}",
            code=404, model=model, type=request.method,
        )

    # ---- misc --------------------------------------------------------------------

    async def _post_event(self, request: web.Request, principal: Principal) -> web.Response:
        event = await _body(request, "events", "")
        if not isinstance(event, dict) or not event.get("Type"):
            raise PluginError("An event needs a Type", code=422, model="events",
                              type="ValidationError")
        event = {"Time": now_rfc3339(), "Action": "", "Key": "", "Principal": principal.user,
                 "Object": None, "Original": None, **event}
        self.drp.hub.publish(event)
        return web.Response(status=204)

    def _user_token(self, request: web.Request, principal: Principal, user: str) -> web.Response:
        auth = self.drp.auth
        if principal.readonly or principal.user not in (user, auth.superuser):
            raise PluginError("Forbidden", code=403, model="users", key=user, type="GET")
        if user not in auth.users:
            raise PluginError("Not Found", code=404, model="users", key=user, type="GET")
        ttl: float | None = auth.token_ttl if auth.token_ttl is not None else DEFAULT_TTL
        if "ttl" in request.query:
            try:
                ttl = float(request.query["ttl"])
            except ValueError:
                raise PluginError("ttl must be a number of seconds", code=400, model="users",
                                  key=user, type="GET") from None
        return web.json_response({"Token": auth.issue(user, ttl), "Info": self.drp.info()})

    async def _upload(self, request: web.Request, name: str) -> web.Response:
        if not _PROVIDER_NAME.match(name):
            raise PluginError(f"Invalid provider name {name!r}", code=400,
                              model="plugin_providers", key=name, type="POST")
        data = await request.read()
        if not data:
            raise PluginError("Empty upload", code=400, model="plugin_providers", key=name,
                              type="POST")
        await self.drp.install_binary(name, data, _flag(request, "replaceWritable"))
        return web.json_response({"path": name, "size": len(data)}, status=201)

    def _binary(self, request: web.Request, name: str) -> web.StreamResponse:
        provider = self.drp.providers.providers.get(name)
        if provider is None or provider.bindir is None:
            raise PluginError("Not Found", code=404, model="plugin_providers", key=name,
                              type=request.method)
        return web.FileResponse(provider.bindir / name,
                                headers={"Content-Type": "application/octet-stream"})

    # ---- objects -----------------------------------------------------------------

    async def _objects(self, request: web.Request, prefix: str, rest: list[str],
                       principal: Principal) -> web.StreamResponse:
        otype = self.store.types[prefix]
        method = request.method
        if not rest:
            if method in ("GET", "HEAD"):
                return self._list(request, prefix)
            if method == "POST":
                obj = await self.drp.service.create(prefix, await _body(request, prefix, ""),
                                                    principal.user)
                return web.json_response(obj, status=201)
            return self._missing(request, prefix)
        if otype.has_params:
            key, sub = rest[0], rest[1:]
        else:
            key, sub = "/".join(rest), []
        if not sub:
            return await self._object(request, prefix, key, principal)
        if sub[0] == "params":
            return await self._params(request, prefix, key, sub[1:], principal)
        if sub[0] == "actions":
            return await self._actions(request, prefix, key, sub[1:], principal)
        return self._missing(request, prefix)

    def _render(self, request: web.Request, prefix: str, obj: dict[str, Any]) -> dict[str, Any]:
        shown = self.store.render(prefix, obj, decode=_flag(request, "decode"),
                                  aggregate=_flag(request, "aggregate"))
        return query.slim(shown, request.query)

    def _list(self, request: web.Request, prefix: str) -> web.StreamResponse:
        objects = self.store.objects(prefix)
        unpaged = {k: v for k, v in request.query.items() if k not in ("limit", "offset")}
        fields = self.store.types[prefix].fields
        sort = request.query.getall("sort", [])
        total = len(query.select(objects, unpaged, fields, sort, prefix))
        chosen = query.select(objects, request.query, fields, sort, prefix)
        headers = {"X-DRP-LIST-COUNT": str(len(chosen)), "X-DRP-LIST-TOTAL-COUNT": str(total)}
        if request.method == "HEAD":
            return web.Response(status=200, headers=headers)
        return web.json_response([self._render(request, prefix, o) for o in chosen],
                                 headers=headers)

    async def _object(self, request: web.Request, prefix: str, key: str,
                      principal: Principal) -> web.StreamResponse:
        method = request.method
        service = self.drp.service
        if method in ("GET", "HEAD"):
            obj = self.store.get(prefix, key, method)
            if method == "HEAD":
                return web.Response(status=200)
            return web.json_response(self._render(request, prefix, obj))
        if method == "PUT":
            body = await _body(request, prefix, key)
            return web.json_response(await service.replace(prefix, key, body, principal.user))
        if method == "PATCH":
            ops = await _body(request, prefix, key)
            return web.json_response(await service.patch(prefix, key, ops, principal.user))
        if method == "DELETE":
            return web.json_response(await service.remove(prefix, key, principal.user))
        return self._missing(request, prefix)

    async def _params(self, request: web.Request, prefix: str, key: str, name_parts: list[str],
                      principal: Principal) -> web.StreamResponse:
        method = request.method
        service = self.drp.service
        decode, aggregate = _flag(request, "decode"), _flag(request, "aggregate")
        if not name_parts:
            if method == "GET":
                return web.json_response(
                    self.store.params(prefix, key, aggregate=aggregate, decode=decode))
            if method in ("POST", "PUT"):
                body = await _body(request, prefix, key)
                return web.json_response(
                    await service.replace_params(prefix, key, body, principal.user))
            if method == "PATCH":
                body = await _body(request, prefix, key)
                return web.json_response(
                    await service.patch_params(prefix, key, body, principal.user))
            return self._missing(request, prefix)
        name = "/".join(name_parts)
        if method == "GET":
            return web.json_response(
                self.store.param(prefix, key, name, aggregate=aggregate, decode=decode))
        if method in ("POST", "PUT"):
            value = await _body(request, prefix, key)
            return web.json_response(
                await service.set_param(prefix, key, name, value, principal.user))
        if method == "DELETE":
            return web.json_response(
                await service.delete_param(prefix, key, name, principal.user))
        return self._missing(request, prefix)

    async def _actions(self, request: web.Request, prefix: str, key: str, cmd: list[str],
                       principal: Principal) -> web.StreamResponse:
        method = request.method
        plugin = request.query.get("plugin") or None
        actions = self.drp.actions
        if prefix:
            self.store.get(prefix, key, method)
        if not cmd and method == "GET":
            return web.json_response(actions.available(prefix, plugin))
        if len(cmd) != 1:
            return self._missing(request, prefix)
        if method == "GET":
            for action in actions.available(prefix, plugin):
                if action.get("Command") == cmd[0]:
                    return web.json_response(action)
            raise PluginError(f"Action {cmd[0]} not found", code=404,
                              model=prefix or "system", key=key, type="GET")
        if method == "POST":
            params = await _body(request, prefix, key, empty={})
            result = await actions.run(prefix, key, cmd[0], params, plugin)
            return web.json_response(result)
        return self._missing(request, prefix)


def make_app(drp: StandIn) -> web.Application:
    """The HTTPS application: ``/api/v3`` and ``/api/v3/ws``."""
    app = web.Application(middlewares=[_errors], client_max_size=1024 ** 3)
    app.router.add_get("/api/v3/ws", make_handler(drp.hub, drp.auth))
    api = Api(drp)
    app.router.add_route("*", "/api/v3", api.handle)
    app.router.add_route("*", "/api/v3/{tail:.*}", api.handle)

    async def elsewhere(request: web.Request) -> web.StreamResponse:
        raise PluginError(f"Not Found: the DRP stand-in serves only /api/v3, not {request.path}",
                          code=404, type=request.method)

    app.router.add_route("*", "/{tail:.*}", elsewhere)
    return app
