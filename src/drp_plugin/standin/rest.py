"""The REST API ``/api/v3`` of the stand-in (and the event stream ``/api/v3/ws``).

Routes are declared in one table (:func:`routes`), one small handler each.
Served: ``info``, ``objects``, ``events`` (POST), ``users`` (list, show, create,
update, delete, password, token), ``prefs``, ``whoami``, ``contents``, ``files``, ``system/actions``,
``plugin_providers`` (upload, list, get, delete, binary), ``meta/<prefix>/<key>`` (GET,
PATCH), ``indexes[/<prefix>]`` and,
for every stored type (machines, profiles, params, plugins, templates, tasks, stages,
bootenvs, workflows, jobs, roles, tenants and plugin-defined types):
``GET/HEAD/POST /<prefix>``,
``GET/HEAD/PUT/PATCH/DELETE /<prefix>/<key>``, ``/<prefix>/<key>/params[/<name>]``,
``/<prefix>/<key>/pubkey``, ``/machines/<key>/token``,
``/<prefix>/<key>/actions[/<cmd>]`` and ``/jobs/<uuid>/log`` (GET, PUT).  Every
request is held to its token's claims (:mod:`.claims`): each route's row names the
claim it needs.

What a real client relies on (each cited in ``docs/protocol/standin.md``): every 2xx
reply but HEAD carries ``Content-Type: application/json`` (``api/client.go``
``R.Do``); lists carry ``X-DRP-LIST-COUNT``, ``X-DRP-LIST-FILTER-COUNT`` and
``X-DRP-LIST-TOTAL-COUNT`` (``cli/commandHelper.go`` ``count``); objects carry an
``ETag`` and ``If-None-Match`` + ``Prefer: wait=<dur>`` long-polls (``R.Wait``);
files carry ``ETag: "SHA256:<hex>"`` and ``X-DRP-SHA256SUM`` (``GetBlob``,
``GetBlobSum``).

Not served (a 404 that says so, never a fake success): DHCP (subnets, leases,
reservations), TFTP/ISOs, contexts, pools, work orders, secure file server, HA and
clustering.  Roles and tenants are served (writing them needs the ``rbac`` licence,
:mod:`.licenses`; a tenant's users see its members only, :mod:`.tenants`).  Tasks, stages, bootenvs,
workflows and jobs are stored and validated, never run; a new job becomes its
machine's current job and has a log, as in DRP (:mod:`.jobs`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..errors import PluginError
from ..models import now_rfc3339
from . import claims, files, indexes, jobs, licenses, prefs, query, tenants, wording
from .auth import DEFAULT_TTL, Principal
from .store import apply_patch, valid_name
from .websocket import make_handler

if TYPE_CHECKING:
    from multidict import MultiMapping  # aiohttp's request.query

    from .server import StandIn

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: A provider's Name must be usable as a file name: at most this many bytes (NAME_MAX).
MAX_PROVIDER_NAME = 255
_PROVIDER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
#: The longest ``Prefer: wait=`` honoured: "Maximum 10m" (cli/commandHelper.go ``show``).
MAX_WAIT = 600.0
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)?")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() == "true"


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


async def _body(request: web.Request, model: str, key: str, empty: Any = ...) -> Any:
    """The JSON body; an empty body is ``empty`` when given, else a 400."""
    raw = await request.read()
    if not raw.strip():
        if empty is not ...:
            return empty
        raise PluginError("Empty body", code=400, model=model, key=key, type=request.method)
    try:
        return json.loads(raw)
    except ValueError as exc:  # in encoding/json's words, not Python's
        raise PluginError(wording.json_error(raw, exc), code=400, model=model, key=key,
                          type=request.method) from None


def parse_wait(text: str) -> float:
    """Seconds of a ``Prefer: wait=`` value: a Go duration (``1m30s``) or plain seconds."""
    text = text.strip()
    if not text:
        raise ValueError("empty duration")
    total, pos = 0.0, 0
    while pos < len(text):
        match = _DURATION.match(text, pos)
        if match is None:
            raise ValueError(f"invalid duration {text!r}")
        unit = match.group(2) or "s"
        if match.group(2) is None and match.end() != len(text):
            raise ValueError(f"invalid duration {text!r}")
        total += float(match.group(1)) * _UNITS[unit]
        pos = match.end()
    return min(total, MAX_WAIT)


def parse_ttl(request: web.Request, default: float, most: float, model: str,
              key: str) -> float:
    """Seconds of the ``ttl`` query parameter (``default`` when absent): a finite number
    of seconds above 0 and at most ``most`` (``Limits.max_token_ttl``), else 400.  DRP
    reads ``ttl`` with ``strconv.ParseInt``, so ``nan``, ``inf`` and ``1e400`` are
    refused there too (frontend/users.go ``getUserToken``)."""
    text = request.query.get("ttl", "")
    if not text.strip():
        return default
    try:
        ttl = float(text)
    except ValueError:
        ttl = math.nan
    if not math.isfinite(ttl) or ttl <= 0:
        raise PluginError(f"ttl must be a finite number of seconds above 0, not {text!r}",
                          code=400, model=model, key=key, type="GET")
    if ttl > most:
        raise PluginError(f"ttl {text} is longer than {most:.0f} seconds "
                          "(DRP_PLUGIN_STANDIN_MAX_TOKEN_TTL)", code=400, model=model,
                          key=key, type="GET")
    return ttl


def object_etag(obj: dict[str, Any]) -> str:
    """The ``ETag`` of a stored object: the SHA-256 of its canonical JSON, quoted."""
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return '"' + hashlib.sha256(data).hexdigest() + '"'


def machine_claims(uid: str) -> tuple[claims.Claim, ...]:
    """What a machine token may do (chosen: DRP's machine claims are not recorded)."""
    return (claims.Claim("machines", "*", uid), claims.Claim("jobs", "*", "*"),
            claims.Claim("params,profiles,tasks,stages,bootenvs,workflows,templates,info",
                         "get,list", "*"))


#: The attribute of a routed handler holding its row's :data:`ClaimRule`.
_CLAIM_ATTRIBUTE = "drp_claim_rule"
ClaimRule = Callable[[web.Request], "tuple[str, str, str]"]


def _fixed(scope: str, action: str) -> ClaimRule:
    """``scope action`` with an empty specific (lists, ``info``, ``events``...)."""
    return lambda request: (scope, action, "")


def _named(scope: str, action: str, field: str) -> ClaimRule:
    """``scope action <the path's field>`` (``users token <user>``, ``files get <path>``)."""
    return lambda request: (scope, action, request.match_info.get(field, ""))


def _secure(action: str, request: web.Request) -> str:
    """``get``/``list`` of a request asking ``?decode=true`` needs ``getSecure``."""
    return "getSecure" if request.query.get("decode", "").lower() == "true" else action


def _on_type(action: str) -> ClaimRule:
    """``<prefix> action`` on the whole type (``list`` is ``getSecure`` with decode)."""
    return lambda request: (request.match_info["prefix"], _secure(action, request)
                            if action == "list" else action, "")


def _on_object(action: str) -> ClaimRule:
    """``<prefix> action <key>`` (``get`` is ``getSecure`` with decode)."""
    return lambda request: (request.match_info.get("prefix", ""), _secure(action, request)
                            if action == "get" else action, request.match_info.get("key", ""))


def _run_command(scope: str | None) -> ClaimRule:
    """``action:<cmd>`` on an object (``scope`` None: the path's prefix) or the system."""
    def rule(request: web.Request) -> tuple[str, str, str]:
        info = request.match_info
        return (scope or info["prefix"], f"action:{info['cmd']}",
                "" if scope else info.get("key", ""))
    return rule


def _count_headers(count: int, filtered: int, total: int) -> dict[str, str]:
    """The ``X-DRP-LIST-*`` headers of a list (cli/commandHelper.go ``count`` reads
    ``X-Drp-List-Filter-Count`` from a HEAD)."""
    return {"X-DRP-LIST-COUNT": str(count), "X-DRP-LIST-FILTER-COUNT": str(filtered),
            "X-DRP-LIST-TOTAL-COUNT": str(total)}


def _page(objects: list[dict[str, Any]], params: MultiMapping[str], fields: set[str],
          model: str, samples: Mapping[str, Any] | None = None,
          regex_max_mem: int = query.REGEX_MAX_MEM,
          ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The objects a list query selects (filters, ``sort``, ``limit``, ``offset``) and
    its count headers: the total before filters, the count after filters before paging,
    the count answered."""
    sort = params.getall("sort", [])
    unfiltered = {k: v for k, v in params.items() if k in query.RESERVED
                  and k not in ("limit", "offset")}
    unpaged = {k: v for k, v in params.items() if k not in ("limit", "offset")}
    total = len(query.select(objects, unfiltered, fields, sort, model, samples, regex_max_mem))
    filtered = len(query.select(objects, unpaged, fields, sort, model, samples, regex_max_mem))
    chosen = query.select(objects, params, fields, sort, model, samples, regex_max_mem)
    return chosen, _count_headers(len(chosen), filtered, total)


class _Hidden(Exception):
    """A list the principal's role claims do not allow: DRP answers it empty (recorded
    TestAuth ``tasks list`` as a user whose roles only claim stages, and TestUserCli
    ``users list`` as a user without roles: ``[]``)."""


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except _Hidden:
        empty = _count_headers(0, 0, 0)
        if request.method == "HEAD":
            return web.Response(status=200, headers=empty)
        return _json([], headers=empty)
    except PluginError as err:
        headers = {"WWW-Authenticate": "dr-provision"} if err.status == 401 else None
        return web.json_response(err.to_dict(), status=err.status, headers=headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        where = f"{request.method} {request.path}"
        message = (f"Method Not Allowed: {where}" if exc.status == 405 else
                   f"Not Found: the DRP stand-in does not serve {where}"
                   if exc.status == 404 else exc.reason)
        failure = PluginError(message, code=exc.status, type=request.method)
        return web.json_response(failure.to_dict(), status=exc.status)
    except Exception as exc:  # a bug of the stand-in: answer like DRP, keep the trace
        log.exception("stand-in failure on %s %s", request.method, request.path)
        crash = PluginError(f"Internal error: {exc!r}", code=500, type=request.method)
        return web.json_response(crash.to_dict(), status=500)


class Api:
    """The handlers of ``/api/v3``; :func:`routes` maps them to methods and paths."""

    def __init__(self, drp: StandIn) -> None:
        self.drp = drp
        self.store = drp.store

    def principal(self, request: web.Request, *, check_claims: bool = True) -> Principal:
        """Who sent ``request`` (401/403 otherwise); read-only tokens may only read, and
        the token's claims must allow what the request does (see ``claims``; a handler
        passing ``check_claims=False`` checks them itself)."""
        principal = self.drp.auth.authenticate(request)
        if principal.readonly and request.method not in ("GET", "HEAD"):
            raise PluginError("This token may only read", code=403, type=request.method)
        if check_claims and principal.claims is not claims.EVERYTHING:
            rule = claim_rule(request)
            if rule is None:  # a route without a rule leaves the check to its handler
                raise PluginError("Forbidden", code=403, type=request.method)
            self.require(request, principal, *rule(request))
        licenses.require(self.store, request.match_info.get("prefix", ""), request.method,
                         request.path)
        self._tenant_check(request, principal)
        return principal

    def _tenant_check(self, request: web.Request, principal: Principal) -> None:
        """404, as DRP answers, for an object of the request's path that the caller's
        tenant keeps from it (:mod:`.tenants`)."""
        tenant = tenants.of(self.store, principal.user)
        if tenant is None:
            return
        info = request.match_info
        prefix = info.get("prefix") or ("users" if "name" in info else "")
        key = info.get("key") or info.get("name") or ""
        if not prefix or not key:
            return
        real = key
        if prefix in self.store.types:
            try:
                real = self.store.resolve(prefix, key, request.method)
            except PluginError:
                return  # the handler answers for an object that does not exist
        if tenants.hides(tenant, prefix, real):
            raise PluginError("Not Found", code=404, model=prefix, key=key,
                              type=request.method)

    @staticmethod
    def require(request: web.Request, principal: Principal, scope: str, action: str,
                specific: str) -> None:
        """403 (DRP's AUTH answer) unless the token's claims allow the request.  For a
        principal holding its roles' claims, a ``list`` they do not allow answers ``[]``
        and a ``get`` ``Not Found``, as DRP recorded (cli/test-data/output/TestAuth:
        ``tasks list`` ``[]``, ``tasks show task1`` "GET: tasks/task1: Not Found")."""
        if claims.allowed(principal.claims, scope, action, specific):
            return
        if principal.from_roles and action == "list":
            raise _Hidden()
        if principal.from_roles and action == "get" and specific:
            raise PluginError("Not Found", code=404, model=scope, key=specific,
                              type=request.method)
        raise claims.refuse(str(request.rel_url), scope, action, specific)

    def _prefix(self, request: web.Request) -> str:
        prefix = request.match_info["prefix"]
        self.store.otype(prefix, request.method)
        return prefix

    # ---- misc --------------------------------------------------------------------

    async def info(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/info``: the stand-in's ``models.Info``."""
        self.principal(request)
        return _json(self.drp.info())

    async def objects(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/objects``: the sorted prefixes of the object types served.  A user
        logged in with its password (or its roles' token) may always read them, whatever
        its roles (chosen: DRP's answer to a user without roles is not recorded; drppy's
        tests list them as such a user); a token with explicit claims needs ``objects
        list``."""
        principal = self.principal(request, check_claims=False)
        if not principal.from_roles and principal.claims is not claims.EVERYTHING:
            self.require(request, principal, "objects", "list", "")
        return _json(sorted(self.store.types))

    async def post_event(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/v3/events``: publish the body as a ``models.Event`` (422 without a
        ``Type``); ``Time``, the caller as ``Principal`` and the other fields are filled in
        only when the body lacks them.  Answers the event as published."""
        principal = self.principal(request)
        event = await _body(request, "events", "")
        if not isinstance(event, dict) or not event.get("Type"):
            raise PluginError("An event needs a Type", code=422, model="events",
                              type="ValidationError")
        event = {"Time": now_rfc3339(), "Action": "", "Key": "", "Principal": principal.user,
                 "Object": None, "Original": None, **event}
        self.drp.hub.publish(event)
        # api/client.go R.Do refuses a 2xx reply that is not application/json
        return _json(event)

    async def user_token(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/users/<user>/token``: a new ``UserToken`` (``Token``, ``Info``).

        Without ``scope``/``action``/``specific`` the token carries the claims of the
        user's roles; with them (an unrestricted caller only; a restricted one gets its
        own claims) exactly that claim.  A user logged in with its password (or holding
        its roles' token) may always get its own token (drpcli's login,
        ``api.UserSessionToken``); anyone else needs ``users token <user>``.  ``roles``
        other than ``superuser`` answer 501; ``ttl`` is whole seconds (DRP reads it with
        ``strconv.ParseInt``, recorded TestUserCli ``ttl cow``), 400 otherwise, and at
        most ``Limits.max_token_ttl`` (see :func:`parse_ttl`); 404 for an unknown user."""
        principal = self.principal(request, check_claims=False)
        user = request.match_info["user"]
        auth = self.drp.auth
        if principal.readonly:
            raise PluginError("Forbidden", code=403, model="users", key=user, type="GET")
        if not (principal.from_roles and principal.user == user):
            self.require(request, principal, "users", "token", user)
        if user not in auth.users:
            raise PluginError("Not Found", code=404, model="users", key=user, type="GET")
        text = request.query.get("ttl", "").strip()
        if text and not re.fullmatch(r"[+-]?[0-9]+", text):
            raise PluginError(f'strconv.ParseInt: parsing "{text}": invalid syntax',
                              code=400, model="users", key=user, type="GET")
        ttl = parse_ttl(request, auth.token_ttl if auth.token_ttl is not None else DEFAULT_TTL,
                        self.drp.limits.max_token_ttl, "users", user)
        # A role named in ?roles= would narrow the token to it; only superuser is granted
        # that way (a narrower token comes from scope/action/specific).
        roles = [r for r in request.query.get("roles", "").split(",") if r.strip()]
        unknown = [r.strip() for r in roles if r.strip() != "superuser"]
        if unknown:
            raise PluginError(f"roles are not served by the stand-in: {', '.join(unknown)} "
                              "(only superuser)", code=501, model="users", key=user, type="GET")
        wanted = claims.Claim(request.query.get("scope", "*"), request.query.get("action", "*"),
                              request.query.get("specific", "*"))
        unrestricted = principal.claims is claims.EVERYTHING
        if wanted != claims.Claim():
            # a restricted token never gets a wider one (DRP checks Claims.Contains)
            granted = (wanted,) if unrestricted else principal.claims
            token = auth.issue(user, ttl, claims=granted, from_roles=not unrestricted
                               and principal.from_roles)
        elif unrestricted or principal.from_roles:
            token = auth.issue(user, ttl, claims=auth.user_claims(user), from_roles=True)
        else:
            token = auth.issue(user, ttl, claims=principal.claims)
        return _json({"Token": token, "Info": self.drp.info()})

    # ---- users, prefs, machine tokens ---------------------------------------------

    def _user(self, name: str) -> dict[str, Any]:
        """``models.User`` of a stand-in user, as DRP answers it (``PasswordHash`` and
        ``Secret`` never leave it: recorded TestUserCli ``users create fred``)."""
        return {"Name": name, "Roles": list(self.drp.auth.roles.get(name, [])),
                "Description": self.drp.auth.details.get(name, {}).get("Description", ""),
                "Validated": True, "Available": True, "Errors": [], "ReadOnly": False,
                "Meta": dict(self.drp.auth.details.get(name, {}).get("Meta", {})),
                "Endpoint": "", "Bundle": ""}

    async def list_users(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/users``: the users as ``models.User``, sorted, selected by the
        query (filters such as ``Name=fred``, ``sort``, ``limit``, ``offset``; recorded
        TestUserCli ``users list Name=fred``: ``[]``), with the ``X-DRP-LIST-*`` count
        headers."""
        principal = self.principal(request)
        users = tenants.visible(self.store, principal.user, "users",
                                [self._user(n) for n in sorted(self.drp.auth.users)], "Name")
        fields = set(self._user("")) | {"Secret", "PasswordHash"}
        chosen, headers = _page(users, request.query, fields, "users",
                                regex_max_mem=self.drp.limits.regex_max_mem)
        return _json(chosen, headers=headers)

    def _known_user(self, request: web.Request, name: str) -> None:
        if name not in self.drp.auth.users:
            raise PluginError("Not Found", code=404, model="users", key=name,
                              type=request.method)

    async def get_user(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/users/<name>``: that ``models.User``; 404 when unknown."""
        self.principal(request)
        name = request.match_info["name"]
        self._known_user(request, name)
        return _json(self._user(name))

    def _roles_of(self, body: dict[str, Any], name: str) -> list[str]:
        """``Roles`` of a user body: names of existing roles (422 otherwise)."""
        roles = body.get("Roles")
        if roles is None:
            return []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise PluginError("Roles must be a list of role names", code=422, model="users",
                              key=name, type="ValidationError")
        missing = [r for r in roles if self.store.find("roles", r) is None]
        if missing:
            raise PluginError(*(f"Role {r} does not exist" for r in missing), code=422,
                              model="users", key=name, type="ValidationError")
        return list(roles)

    def _save_user(self, name: str, body: dict[str, Any]) -> None:
        """Keep ``Roles``, ``Description`` and ``Meta`` of a user body."""
        self.drp.auth.roles[name] = self._roles_of(body, name)
        description, meta = body.get("Description"), body.get("Meta")
        self.drp.auth.details[name] = {
            "Description": description if isinstance(description, str) else "",
            "Meta": meta if isinstance(meta, dict) else {}}

    async def create_user(self, request: web.Request) -> web.StreamResponse:
        """``POST /users``: a new user (no password until ``PUT .../password``) holding the
        body's ``Roles`` (none by default, ``User.Fill``)."""
        self.principal(request)
        body = await _body(request, "users", "")
        name = body.get("Name") if isinstance(body, dict) else None
        if not valid_name(name, extra="-@_. "):  # models/utils.go validUserName
            raise PluginError(f"Invalid Name `{name if isinstance(name, str) else ''}`",
                              code=422, model="users", key=str(name or ""),
                              type="ValidationError")
        assert isinstance(name, str) and isinstance(body, dict)
        if name in self.drp.auth.users:
            raise PluginError("already exists", code=409, model="users", key=name,
                              type="CREATE")
        roles = self._roles_of(body, name)
        password = body.get("Password")
        self.drp.auth.add(name, password if isinstance(password, str) else "", roles)
        self._save_user(name, body)
        return _json(self._user(name), status=201)

    async def update_user(self, request: web.Request) -> web.StreamResponse:
        """``PUT``/``PATCH /users/<name>`` (``drpcli users update``): the user with its
        ``Roles``, ``Description`` and ``Meta`` replaced (``Name`` stays; recorded
        TestSecureParams ``users update fred {"Roles":["secretSetter"]}``); a role that
        does not exist is 422."""
        self.principal(request)
        name = request.match_info["name"]
        self._known_user(request, name)
        body = await _body(request, "users", name)
        if request.method == "PATCH":
            body = apply_patch(self._user(name), body, "users", name)
        if not isinstance(body, dict):
            raise PluginError("Body must be a models.User object", code=400, model="users",
                              key=name, type=request.method)
        if body.get("Name", name) != name:
            raise PluginError("Name cannot change", code=422, model="users", key=name,
                              type="ValidationError")
        self._save_user(name, body)
        return _json(self._user(name))

    async def delete_user(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /users/<name>`` (``drpcli users destroy``, recorded TestUserCli
        ``Deleted user fred``): answers the user as it was; the stand-in's first user
        is not deleted (409); 404 when unknown."""
        self.principal(request)
        name = request.match_info["name"]
        self._known_user(request, name)
        if name == self.drp.auth.superuser:
            raise PluginError("The stand-in's superuser cannot be deleted", code=409,
                              model="users", key=name, type="DELETE")
        user = self._user(name)
        self.drp.auth.forget(name)
        tenants.user_left(self.store, name)
        return _json(user)

    async def user_password(self, request: web.Request) -> web.StreamResponse:
        """``PUT /users/<name>/password`` with ``models.UserPassword`` ``{"Password"}``: a
        user logged in as itself, or a caller with ``users password <name>``."""
        principal = self.principal(request, check_claims=False)
        name = request.match_info["name"]
        if not (principal.from_roles and principal.user == name):
            self.require(request, principal, "users", "password", name)
        self._known_user(request, name)
        body = await _body(request, "users", name)
        password = body.get("Password") if isinstance(body, dict) else None
        if not isinstance(password, str) or not password:
            raise PluginError("Password must be a non-empty string", code=422, model="users",
                              key=name, type="ValidationError")
        self.drp.auth.users[name] = password
        return _json(self._user(name))

    async def get_prefs(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/prefs``: the prefs, name -> string value (see :mod:`.prefs`)."""
        self.principal(request)
        return _json(prefs.listed(self.drp.prefs))

    async def set_prefs(self, request: web.Request) -> web.StreamResponse:
        """``POST /prefs``: string values checked as DRP does (:mod:`.prefs`), then merged
        into the prefs, all or none (recorded TestPrefsCli: "Invalid prefs: ... cannot
        unmarshal string into Go value of type map[string]string" for a body that is not
        an object of strings)."""
        self.principal(request)
        body = await _body(request, "prefs", "")
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            raise PluginError("Invalid prefs: values must be strings", code=400,
                              model="prefs", type="POST")
        self.drp.prefs.update(prefs.checked(
            body, lambda prefix, key: self.store.find(prefix, key) is not None))
        return _json(prefs.listed(self.drp.prefs))

    async def whoami(self, request: web.Request) -> web.StreamResponse:
        """``POST /whoami``: the machine a ``models.Whoami`` describes, in ``Result``
        (``Score``, ``Uuid``, and a machine ``Token``).  DRP's scoring is server-side and
        not published; the stand-in scores OnDiskUUID = Uuid 100, each known MAC 25, each
        equal non-empty Fingerprint field 25."""
        self.principal(request)
        body = await _body(request, "whoami", "")
        if not isinstance(body, dict):
            raise PluginError("Body must be a models.Whoami object", code=400,
                              model="whoami", type="POST")
        macs = {str(m).lower() for m in body.get("MacAddrs") or [] if isinstance(m, str)}
        given = body.get("Fingerprint")
        prints: dict[str, Any] = given if isinstance(given, dict) else {}
        best: tuple[int, dict[str, Any] | None] = (0, None)
        for machine in self.store.objects("machines"):
            score = 100 if body.get("OnDiskUUID") and body["OnDiskUUID"] == machine["Uuid"] \
                else 0
            score += 25 * len(macs & {str(m).lower() for m in machine.get("HardwareAddrs") or []})
            known = machine.get("Fingerprint") or {}
            score += 25 * len([f for f in ("SSNHash", "CSNHash", "CloudInstanceID", "SystemUUID")
                               if prints.get(f) and prints.get(f) == known.get(f)])
            if score > best[0]:
                best = (score, machine)
        result: dict[str, Any] = {}
        if best[1] is not None:
            uid = str(best[1]["Uuid"])
            result = {"Score": best[0], "Uuid": uid,
                      "Token": self.drp.auth.issue(f"machine:{uid}", DEFAULT_TTL,
                                                   claims=machine_claims(uid))}
        return _json({**body, "Result": result})

    async def machine_token(self, request: web.Request) -> web.StreamResponse:
        """``GET /machines/<key>/token``: a ``UserToken`` limited to that machine (and
        reading what a machine's tasks read)."""
        self.principal(request)
        prefix, key = self._params_target(request)
        if prefix != "machines":
            return await self._slashed_key(request, "token")
        machine = self.store.get("machines", key, "GET")
        ttl = parse_ttl(request, DEFAULT_TTL, self.drp.limits.max_token_ttl, "machines", key)
        uid = str(machine["Uuid"])
        token = self.drp.auth.issue(f"machine:{uid}", ttl, claims=machine_claims(uid))
        return _json({"Token": token, "Info": self.drp.info()})

    async def contents(self, request: web.Request) -> web.StreamResponse:
        """``/contents``: list summaries (GET), load (POST), show the Content (GET
        /contents/<name>), replace (PUT), remove (DELETE) - drppy ``ContentsApi``."""
        self.principal(request)
        packs, name = self.drp.packs, request.match_info.get("name")
        if request.method == "GET":
            return _json(packs.content(name) if name else packs.summaries())
        if request.method == "DELETE" and name:
            return _json(packs.remove(name))
        body = await _body(request, "contents", name or "")
        return _json(packs.load(body, replace=request.method == "PUT"),
                     status=201 if request.method == "POST" else 200)

    async def files(self, request: web.Request) -> web.StreamResponse:
        """``/api/v3/files[/<path>]``: list a directory (GET ``/files``), download (GET/HEAD),
        upload (POST) or delete a file below ``<webroot>/files`` (see :func:`.files.handle`)."""
        self.principal(request)
        return await files.handle(request, self.drp.webroot,
                                  request.match_info.get("path", ""), self.drp.limits,
                                  self.drp.file_sums)

    async def upload(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/v3/plugin_providers/<name>``: install the uploaded provider executable
        (``replaceWritable=true`` allowed); 201 with ``{"path": name, "size": bytes}``.
        400 for an invalid name or an empty upload."""
        self.principal(request)
        name = request.match_info["name"]
        if len(name.encode()) > MAX_PROVIDER_NAME or not _PROVIDER_NAME.match(name):
            # no recorded answer: 400 as for the other refused uploads, DRP's name wording
            raise PluginError(f"Invalid Name `{name}`", code=400, model="plugin_providers",
                              key=name, type="POST")
        path, size = await files.receive(request, self.drp.upload_dir(),
                                         self.drp.limits.max_upload, "plugin_providers", name)
        if size == 0:
            path.unlink(missing_ok=True)
            raise PluginError("Empty upload", code=400, model="plugin_providers", key=name,
                              type="POST")
        await self.drp.install_file(name, path, _flag(request, "replaceWritable"))
        # models.PluginProviderUploadInfo, as recorded: cli/test-data/output/
        # TestPluginProviderCli/plugin_providers.upload.incrementer.as.incrementer
        return _json({"path": name, "size": size}, status=201)

    async def binary(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/plugin_providers/<name>/binary``: the provider's executable as
        ``application/octet-stream``; 404 when unknown or installed from a command."""
        self.principal(request)
        name = request.match_info["name"]
        provider = self.drp.providers.providers.get(name)
        if provider is None or provider.bindir is None:
            raise PluginError("Not Found", code=404, model="plugin_providers", key=name,
                              type=request.method)
        return web.FileResponse(provider.bindir / name,
                                headers={"Content-Type": "application/octet-stream"})

    async def meta(self, request: web.Request) -> web.StreamResponse:
        """``GET /meta/<prefix>/<key>``: the object's Meta (``drpcli <type> meta``)."""
        self.principal(request)
        prefix, key = self._prefix(request), request.match_info["key"]
        obj = self.store.get(prefix, key, request.method)
        return _json(obj.get("Meta") or {})

    async def patch_meta(self, request: web.Request) -> web.StreamResponse:
        """``PATCH /meta/<prefix>/<key>``: apply the RFC 6902 patch of the body to the
        object's Meta (string values, models.Meta); answers the new Meta
        (cli/metaHelper.go ``meta add|set|remove``)."""
        principal = self.principal(request)
        prefix, key = self._prefix(request), request.match_info["key"]
        ops = await _body(request, prefix, key)
        obj = self.store.get(prefix, key, request.method)
        meta = apply_patch(dict(obj.get("Meta") or {}), ops, prefix, key)
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise PluginError("Meta values must be strings", code=422, model=prefix, key=key,
                              type="ValidationError")
        real = self.store.resolve(prefix, key, request.method)
        shown = self.store.render(prefix, obj)
        await self.drp.service.replace(prefix, real, {**shown, "Meta": meta}, principal.user)
        return _json(meta)

    async def all_indexes(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/indexes``: every served type's ``models.Index`` es, by prefix."""
        self.principal(request)
        return _json(indexes.all_types(self.store.types))

    async def indexes(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/indexes/<prefix>``: that type's indexes; ``{}`` for a name that
        is no type (recorded ``extended -l freds indexes``)."""
        self.principal(request)
        return _json(indexes.of_prefix(request.match_info["prefix"], self.store.types))

    # ---- job logs ----------------------------------------------------------------

    def _job_for_log(self, request: web.Request, principal: Principal) -> str:
        """The stored key of the job named in the path (404 ``ValidationError`` "Job <key>
        does not exist", as DRP), once the claims allow ``jobs log <machine>`` (DRP
        checks the job's ``AuthKey``, its machine)."""
        key = request.match_info["key"]
        try:
            real = self.store.resolve("jobs", key, request.method)
        except PluginError:
            raise jobs.missing_job(key) from None
        if principal.claims is not claims.EVERYTHING:
            machine = str(self.store.data["jobs"][real].get("Machine") or "")
            self.require(request, principal, "jobs", "log", machine)
        return real

    async def job_log(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/jobs/<uuid>/log``: the job's log as ``application/octet-stream``
        (it begins ``Log for Job: <uuid>``)."""
        principal = self.principal(request, check_claims=False)
        real = self._job_for_log(request, principal)
        return web.FileResponse(self.drp.job_logs.path(real),
                                headers={"Content-Type": "application/octet-stream"})

    async def append_job_log(self, request: web.Request) -> web.StreamResponse:
        """``PUT /api/v3/jobs/<uuid>/log``: append the ``application/octet-stream`` body to
        the job's log (415 for another content type, as DRP); 204 with an empty JSON
        reply.  413 past ``max_job_log`` bytes."""
        principal = self.principal(request, check_claims=False)
        if request.headers.get("Content-Type", "") != "application/octet-stream":
            raise PluginError("job log put must have content-type application/octet-stream",
                              code=415, type="API ERROR")
        real = self._job_for_log(request, principal)
        await self.drp.job_logs.append(real, request)
        # frontend/jobs.go: c.Data(http.StatusNoContent, gin.MIMEJSON, nil)
        return web.Response(status=204, content_type="application/json")

    # ---- system actions ----------------------------------------------------------

    async def system_actions(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/system/actions``: the system ``AvailableAction`` s of running
        plugins (``plugin=`` keeps one plugin's)."""
        self.principal(request)
        return _json(self.drp.actions.available("", request.query.get("plugin") or None))

    async def system_action(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/system/actions/<cmd>``: that system action; 404 when no running
        plugin offers it."""
        self.principal(request)
        return self._one_action(request, "", "")

    async def run_system_action(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/v3/system/actions/<cmd>``: run the system action with the JSON body as
        params (empty body: ``{}``); answers its result (``plugin=`` picks the plugin)."""
        self.principal(request)
        return await self._run_action(request, "", "")

    # ---- lists -------------------------------------------------------------------

    async def list(self, request: web.Request) -> web.StreamResponse:
        """``GET``/``HEAD /api/v3/<prefix>``: the objects the query selects (filters, ``sort``,
        ``limit``, ``offset``), rendered (``decode``, ``aggregate``, slim), with the
        ``X-DRP-LIST-*`` count headers; HEAD answers only the headers."""
        principal = self.principal(request)
        prefix = self._prefix(request)
        otype = self.store.types[prefix]
        shown = tenants.visible(self.store, principal.user, prefix, self.store.objects(prefix),
                                otype.key)
        # off the event loop: however long the filters take, other requests are answered
        chosen, headers = await asyncio.to_thread(
            _page, shown, request.query, otype.fields, prefix,
            otype.defaults, self.drp.limits.regex_max_mem)
        if request.method == "HEAD":
            return web.Response(status=200, headers=headers)
        return _json([self._render(request, prefix, o) for o in chosen], headers=headers)

    async def create(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/v3/<prefix>``: create the object of the JSON body; 201 with it and its
        ``ETag``.  A job is made as DRP makes it (:mod:`.jobs`): 201, 202 for the
        machine's incomplete job, or 204 (empty JSON reply) when it has no task left."""
        principal = self.principal(request)
        prefix = self._prefix(request)
        body = await _body(request, prefix, "")
        if prefix == "jobs":
            status, job = await self.drp.service.create_job(body, principal.user)
            if job is None:  # frontend/jobs.go: c.Data(204, gin.MIMEJSON, nil)
                return web.Response(status=204, content_type="application/json")
            return _json(job, status=status, headers=self._etag_header(prefix, job))
        obj = await self.drp.service.create(prefix, body, principal.user)
        return _json(obj, status=201, headers=self._etag_header(prefix, obj))

    # ---- one object --------------------------------------------------------------

    def _render(self, request: web.Request, prefix: str, obj: dict[str, Any]) -> dict[str, Any]:
        shown = self.store.render(prefix, obj, decode=_flag(request, "decode"),
                                  aggregate=_flag(request, "aggregate"))
        return query.slim(shown, request.query)

    def _etag_header(self, prefix: str, shown: dict[str, Any]) -> dict[str, str]:
        key = shown.get(self.store.types[prefix].key) if prefix in self.store.types else None
        stored = self.store.find(prefix, key) if isinstance(key, str) else None
        return {"ETag": object_etag(stored)} if stored is not None else {}

    async def _wait_change(self, request: web.Request, prefix: str, key: str) -> bool:
        """Long-poll (api/client.go ``R.Wait``): ``True`` when the object's ETag differs
        from ``If-None-Match`` now or before the ``Prefer: wait=`` time runs out."""
        wanted = request.headers.get("If-None-Match")
        prefer = request.headers.get("Prefer", "")
        if not wanted or not prefer.strip().startswith("wait="):
            return True
        try:
            seconds = parse_wait(prefer.strip()[len("wait="):])
        except ValueError:
            raise PluginError(f"Invalid Prefer header: {prefer}", code=400, model=prefix,
                              key=key, type=request.method) from None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        real = self.store.resolve(prefix, key, request.method)
        while object_etag(self.store.get(prefix, real, request.method)) == wanted.strip():
            left = deadline - loop.time()
            if left <= 0:
                return False
            try:
                await self.drp.hub.wait_for(
                    lambda e: e.get("Type") == prefix and e.get("Key") == real, left,
                    since=self.drp.hub.next_index)
            except TimeoutError:
                return False
            if self.store.find(prefix, real) is None:
                raise PluginError("Not Found", code=404, model=prefix, key=key,
                                  type=request.method)
        return True

    async def get(self, request: web.Request) -> web.StreamResponse:
        """``GET``/``HEAD /api/v3/<prefix>/<key>`` (``key`` may be ``Index:value``): the object
        and its ``ETag``; with ``If-None-Match`` and ``Prefer: wait=`` it long-polls, 304
        when nothing changed in time."""
        self.principal(request)
        prefix, key = self._prefix(request), request.match_info["key"]
        changed = await self._wait_change(request, prefix, key)
        obj = self.store.get(prefix, key, request.method)
        headers = {"ETag": object_etag(obj)}
        if not changed:
            return web.Response(status=304, headers=headers)
        if request.method == "HEAD":
            return web.Response(status=200, headers=headers)
        return _json(self._render(request, prefix, obj), headers=headers)

    async def put(self, request: web.Request) -> web.StreamResponse:
        """``PUT /api/v3/<prefix>/<key>``: replace the object with the JSON body; answers it
        with its ``ETag``."""
        principal = self.principal(request)
        prefix, key = self._prefix(request), request.match_info["key"]
        body = await _body(request, prefix, key)
        obj = await self.drp.service.replace(prefix, key, body, principal.user,
                                             force=_flag(request, "force"))
        return _json(obj, headers=self._etag_header(prefix, obj))

    async def patch(self, request: web.Request) -> web.StreamResponse:
        """``PATCH /api/v3/<prefix>/<key>``: apply the RFC 6902 patch of the body; answers
        the object with its ``ETag``."""
        principal = self.principal(request)
        prefix, key = self._prefix(request), request.match_info["key"]
        ops = await _body(request, prefix, key)
        obj = await self.drp.service.patch(prefix, key, ops, principal.user,
                                           force=_flag(request, "force"))
        return _json(obj, headers=self._etag_header(prefix, obj))

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /api/v3/<prefix>/<key>``: delete the object (a provider: uninstall it);
        answers the deleted object."""
        principal = self.principal(request)
        prefix, key = self._prefix(request), request.match_info["key"]
        return _json(await self.drp.service.remove(prefix, key, principal.user))

    async def pubkey(self, request: web.Request) -> web.StreamResponse:
        """``GET /<prefix>/<key>/pubkey``: the key to seal secure params with, as Go's
        ``[]byte`` encodes it (base64 string; cli/new_common.go ``maybeEncryptParam``)."""
        self.principal(request)
        prefix, key = self._params_target(request)
        if prefix is None:
            return await self._slashed_key(request, "pubkey")
        self.store.get(prefix, key, request.method)
        return _json(self.store.box_public_key())

    # ---- params ------------------------------------------------------------------

    def _params_target(self, request: web.Request) -> tuple[str | None, str]:
        """``(prefix, key)`` of a params/actions/pubkey route; prefix ``None`` when the
        type has no params (the path is then a key with slashes, like a Param Name)."""
        prefix = self._prefix(request)
        if not self.store.types[prefix].has_params:
            return None, ""
        return prefix, request.match_info["key"]

    async def _slashed_key(self, request: web.Request, tail: str) -> web.StreamResponse:
        """Re-route ``/<prefix>/<a>/<tail>...`` of a type without params as key ``a/tail...``."""
        info = request.match_info
        rest = "/".join(p for p in (info.get("name"), info.get("cmd")) if p)
        key = "/".join(p for p in (info["key"], tail, rest) if p)
        handler = {"GET": self.get, "HEAD": self.get, "PUT": self.put, "PATCH": self.patch,
                   "DELETE": self.delete}.get(request.method)
        if handler is None:
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD", "PUT", "PATCH",
                                                            "DELETE"])
        request.match_info["key"] = key
        return await handler(request)

    async def get_params(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/<prefix>/<key>/params``: the object's params (``aggregate``,
        ``decode``).  For a type without params, this and the other params routes treat
        the path as a key with slashes."""
        self.principal(request)
        prefix, key = self._params_target(request)
        if prefix is None:
            return await self._slashed_key(request, "params")
        params = self.store.params(prefix, key, aggregate=_flag(request, "aggregate"),
                                   decode=_flag(request, "decode"))
        wanted = [p.strip() for p in request.query.get("params", "").split(",") if p.strip()]
        if wanted:  # drpcli <type> params <key> --params a,b (recorded TestProfileCli)
            params = {k: v for k, v in params.items() if k in wanted}
        return _json(params)

    async def put_params(self, request: web.Request) -> web.StreamResponse:
        """``POST``/``PUT /api/v3/<prefix>/<key>/params``: replace all params with the JSON
        body; answers the new params."""
        principal = self.principal(request)
        prefix, key = self._params_target(request)
        if prefix is None:
            return await self._slashed_key(request, "params")
        body = await _body(request, prefix, key)
        return _json(await self.drp.service.replace_params(prefix, key, body, principal.user))

    async def patch_params(self, request: web.Request) -> web.StreamResponse:
        """``PATCH /api/v3/<prefix>/<key>/params``: apply the RFC 6902 patch of the body to
        the params; answers the new params."""
        principal = self.principal(request)
        prefix, key = self._params_target(request)
        if prefix is None:
            return await self._slashed_key(request, "params")
        body = await _body(request, prefix, key)
        return _json(await self.drp.service.patch_params(prefix, key, body, principal.user))

    async def get_param(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/<prefix>/<key>/params/<name>``: one value, ``null`` when unset
        (``aggregate`` falls back to the Param default; ``decode`` opens secure values)."""
        self.principal(request)
        prefix, key = self._params_target(request)
        if prefix is None:
            return await self._slashed_key(request, "params")
        return _json(self.store.param(prefix, key, request.match_info["name"],
                                      aggregate=_flag(request, "aggregate"),
                                      decode=_flag(request, "decode")))

    async def set_param(self, request: web.Request) -> web.StreamResponse:
        """``POST``/``PUT /api/v3/<prefix>/<key>/params/<name>``: set the param to the JSON
        body (a restricted token needs ``updateSecure`` for a secure one); answers the
        stored value."""
        principal = self.principal(request)
        prefix, key = self._params_target(request)
        if prefix is None:
            return await self._slashed_key(request, "params")
        if principal.claims is not claims.EVERYTHING \
                and self.store.is_secure(request.match_info["name"]):
            self.require(request, principal, prefix, "updateSecure", key)
        # drpcli sends a null value as an empty body (cli/paramHelper.go); DRP stores null
        value = await _body(request, prefix, key, empty=None)
        return _json(await self.drp.service.set_param(prefix, key, request.match_info["name"],
                                                      value, principal.user))

    async def delete_param(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /api/v3/<prefix>/<key>/params/<name>``: unset the param; answers the
        value it had (404 when not set)."""
        principal = self.principal(request)
        prefix, key = self._params_target(request)
        if prefix is None:
            return await self._slashed_key(request, "params")
        return _json(await self.drp.service.delete_param(prefix, key, request.match_info["name"],
                                                         principal.user))

    # ---- object actions ----------------------------------------------------------

    async def actions(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/<prefix>/<key>/actions``: the actions running plugins offer on
        ``prefix`` (``plugin=`` keeps one plugin's); 404 when the object does not exist."""
        self.principal(request)
        prefix, key = self._params_target(request)
        if prefix is None:
            return await self._slashed_key(request, "actions")
        target = self.store.get(prefix, key, request.method)
        return _json(self.drp.actions.available(prefix, request.query.get("plugin") or None,
                                                target))

    async def action(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v3/<prefix>/<key>/actions/<cmd>``: that action; 404 when the object
        or the action is unknown."""
        self.principal(request)
        prefix, key = self._params_target(request)
        if prefix is None:
            return await self._slashed_key(request, "actions")
        target = self.store.get(prefix, key, request.method)
        return self._one_action(request, prefix, key, target)

    async def run_action(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/v3/<prefix>/<key>/actions/<cmd>``: run the action on the object with
        the JSON body as params (empty: ``{}``); answers its result.  405 for a type
        without params."""
        self.principal(request)
        prefix, key = self._params_target(request)
        if prefix is None:
            raise web.HTTPMethodNotAllowed("POST", ["GET", "HEAD", "PUT", "PATCH", "DELETE"])
        return await self._run_action(request, prefix, key)

    def _one_action(self, request: web.Request, prefix: str, key: str,
                    target: dict[str, Any] | None = None) -> web.StreamResponse:
        cmd = request.match_info["cmd"]
        for action in self.drp.actions.available(prefix, request.query.get("plugin") or None):
            if action.get("Command") != cmd:
                continue
            missing = self.drp.actions.missing(prefix, target, action) if target else None
            if missing:  # recorded TestMachineCli: "GET: machines/<uuid>: Action
                # reset_count Missing Parameter incrementer/touched"
                raise PluginError(f"Action {cmd} Missing Parameter {missing}", code=400,
                                  model=prefix, key=key, type="GET")
            return _json(action)
        # recorded (TestSystemCli/system.action.command): "GET: profiles/global: command:
        # Not Found" (system actions belong to the global profile)
        raise PluginError(f"{cmd}: Not Found", code=404, model=prefix or "profiles",
                          key=key or "global", type="GET")

    async def _run_action(self, request: web.Request, prefix: str,
                          key: str) -> web.StreamResponse:
        params = await _body(request, prefix, key, empty={})
        result = await self.drp.actions.run(prefix, key, request.match_info["cmd"], params,
                                            request.query.get("plugin") or None)
        return _json(result)


def _with_claim(handler: Handler, rule: ClaimRule | None) -> Handler:
    """``handler`` carrying its row's claim rule (read back by :func:`claim_rule`), as
    starlette's routes carry their own data."""
    async def run(request: web.Request) -> web.StreamResponse:
        return await handler(request)
    run.__doc__ = handler.__doc__
    setattr(run, _CLAIM_ATTRIBUTE, rule)  # noqa: B010 - a function attribute
    return run


def claim_rule(request: web.Request) -> ClaimRule | None:
    """The claim rule of the route ``request`` matched (``None``: the handler checks)."""
    rule: ClaimRule | None = getattr(request.match_info.handler, _CLAIM_ATTRIBUTE, None)
    return rule


def routes(api: Api) -> list[web.RouteDef]:
    """The route table of ``/api/v3``, most specific first (aiohttp tries them in order).

    Each row is ``(methods, path, handler, claim)``: ``claim`` computes the
    ``(scope, action, specific)`` a request of that row needs (models/role.go names),
    ``None`` when the handler checks the claims itself.  Every GET route also answers
    HEAD (aiohttp adds it), with the GET row's claim.
    """
    v3 = "/api/v3"
    obj = v3 + "/{prefix}/{key}"
    table: list[tuple[tuple[str, ...], str, Handler, ClaimRule | None]] = [
        (("GET",), v3 + "/info", api.info, _fixed("info", "get")),
        (("GET",), v3 + "/objects", api.objects, _fixed("objects", "list")),
        (("GET",), v3 + "/indexes", api.all_indexes, _fixed("objects", "list")),
        (("GET",), v3 + "/indexes/{prefix}", api.indexes, _on_type("list")),
        (("POST",), v3 + "/events", api.post_event, _fixed("events", "post")),
        (("GET",), v3 + "/users/{user}/token", api.user_token, _named("users", "token", "user")),
        (("GET",), v3 + "/users", api.list_users, _fixed("users", "list")),
        (("POST",), v3 + "/users", api.create_user, _fixed("users", "create")),
        (("GET",), v3 + "/users/{name}", api.get_user, _named("users", "get", "name")),
        (("PUT", "PATCH"), v3 + "/users/{name}", api.update_user,
         _named("users", "update", "name")),
        (("DELETE",), v3 + "/users/{name}", api.delete_user,
         _named("users", "delete", "name")),
        (("PUT",), v3 + "/users/{name}/password", api.user_password,
         _named("users", "password", "name")),
        (("GET",), v3 + "/prefs", api.get_prefs, _fixed("preferences", "list")),
        (("POST",), v3 + "/prefs", api.set_prefs, _fixed("preferences", "post")),
        (("POST",), v3 + "/whoami", api.whoami, _fixed("machines", "whoami")),
        (("GET",), v3 + "/contents", api.contents, _fixed("contents", "list")),
        (("POST",), v3 + "/contents", api.contents, _fixed("contents", "create")),
        (("GET",), v3 + "/contents/{name}", api.contents, _named("contents", "get", "name")),
        (("PUT",), v3 + "/contents/{name}", api.contents,
         _named("contents", "update", "name")),
        (("DELETE",), v3 + "/contents/{name}", api.contents,
         _named("contents", "delete", "name")),
        (("GET",), v3 + "/files", api.files, _fixed("files", "list")),
        (("GET",), v3 + "/files/{path:.+}", api.files, _named("files", "get", "path")),
        (("POST",), v3 + "/files/{path:.+}", api.files, _named("files", "post", "path")),
        (("DELETE",), v3 + "/files/{path:.+}", api.files, _named("files", "delete", "path")),
        (("GET",), v3 + "/system/actions", api.system_actions, _fixed("system", "actions")),
        (("GET",), v3 + "/system/actions/{cmd}", api.system_action, _run_command("system")),
        (("POST",), v3 + "/system/actions/{cmd}", api.run_system_action,
         _run_command("system")),
        (("POST",), v3 + "/plugin_providers/{name}", api.upload,
         _named("plugin_providers", "create", "name")),
        (("GET",), v3 + "/plugin_providers/{name}/binary", api.binary,
         _named("plugin_providers", "get", "name")),
        (("GET",), v3 + "/meta/{prefix}/{key:.+}", api.meta, _on_object("get")),
        (("PATCH",), v3 + "/meta/{prefix}/{key:.+}", api.patch_meta, _on_object("update")),
        (("GET",), v3 + "/jobs/{key}/log", api.job_log, None),
        (("PUT",), v3 + "/jobs/{key}/log", api.append_job_log, None),
        (("GET",), v3 + "/{prefix}", api.list, _on_type("list")),
        (("POST",), v3 + "/{prefix}", api.create, _on_type("create")),
        (("GET",), obj + "/params", api.get_params, _on_object("get")),
        (("POST", "PUT"), obj + "/params", api.put_params, _on_object("update")),
        (("PATCH",), obj + "/params", api.patch_params, _on_object("update")),
        (("GET",), obj + "/params/{name:.+}", api.get_param, _on_object("get")),
        (("POST", "PUT"), obj + "/params/{name:.+}", api.set_param, _on_object("update")),
        (("DELETE",), obj + "/params/{name:.+}", api.delete_param, _on_object("delete")),
        # recorded TestSecureParams: "Cannot access /api/v3/machines/Name:bob/pubkey" /
        # "Requires: machines updateSecure Name:bob" (the key encrypts a value to store)
        (("GET",), obj + "/pubkey", api.pubkey, _on_object("updateSecure")),
        (("GET",), obj + "/token", api.machine_token, _on_object("token")),
        (("GET",), obj + "/actions", api.actions, _on_object("actions")),
        (("GET",), obj + "/actions/{cmd}", api.action, _on_object("actions")),
        (("POST",), obj + "/actions/{cmd}", api.run_action, _run_command(None)),
        (("GET",), v3 + "/{prefix}/{key:.+}", api.get, _on_object("get")),
        (("PUT",), v3 + "/{prefix}/{key:.+}", api.put, _on_object("update")),
        (("PATCH",), v3 + "/{prefix}/{key:.+}", api.patch, _on_object("update")),
        (("DELETE",), v3 + "/{prefix}/{key:.+}", api.delete, _on_object("delete")),
    ]
    return [web.route(method, path, _with_claim(handler, claim))
            for methods, path, handler, claim in table for method in methods]


def make_app(drp: StandIn) -> web.Application:
    """The HTTPS application: ``/api/v3`` and ``/api/v3/ws``."""
    app = web.Application(middlewares=[_errors], client_max_size=drp.limits.max_body)
    app.router.add_get("/api/v3/ws", make_handler(drp.hub, drp.auth))
    app.router.add_routes(routes(Api(drp)))
    return app
