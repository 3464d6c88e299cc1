"""DRP's claims model (models/role.go), enough to hold a restricted token to account.

A claim is ``scope action specific``: comma lists or ``*``.  A request needs one
``(scope, action, specific)``; a token allows it when one of its claims contains it.
An action ``action:<cmd>`` or ``update:<pointer>`` is also allowed by a claim on the
plain ``action`` / ``update`` (``scopeNode.contains``).  Tokens come from
``/users/<u>/token?scope=&action=&specific=`` (cli/user.go ``token``); without them a
token carries the claims of the user's roles (``roles`` objects, :func:`of_roles`; the
built-in role ``superuser`` is ``* * *``, a user made by ``POST /users`` has none).

Request to claim (models/role.go ``allScopes`` names): list ``list``, show ``get``,
create ``create``, PUT/PATCH ``update``, DELETE ``delete``, ``?decode=true``
``getSecure``, a write of a Secure param and the ``pubkey`` that seals it
``updateSecure``, an action ``action:<cmd>``, ``info get``, ``objects list``, ``events post``, ``files
list|get|post|delete``, ``users token <user>``.  A refusal is 403 with DRP's words
(recorded: cli/test-data/output/TestSecureParams/0200f4c03e439abf609e4f5d5750ecfe):
``AUTH`` / ``Cannot access <path>`` / ``Requires: plugins getSecure Name:bob``.  A
role's claims must name scopes and actions DRP knows (:func:`problems`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import PluginError


def _items(text: str) -> set[str] | None:
    """``models.csm``: ``*`` is everything (``None``), else the comma list."""
    if text.strip() == "*":
        return None
    return {part.strip() for part in text.split(",")}


@dataclass(frozen=True)
class Claim:
    """One ``models.Claim``."""

    scope: str = "*"
    action: str = "*"
    specific: str = "*"

    def allows(self, scope: str, action: str, specific: str) -> bool:
        """Whether this claim contains ``scope action specific``."""
        scopes = _items(self.scope)
        if scopes is not None and scope not in scopes:
            return False
        actions = _items(self.action)
        if actions is not None and action not in actions \
                and action.split(":", 1)[0] not in actions:
            return False
        specifics = _items(self.specific)
        return specifics is None or specific in specifics


#: What a superuser's token may do.
EVERYTHING = (Claim(),)


def from_json(value: Any) -> Claim | None:
    """The ``Claim`` of a ``models.Claim`` JSON object (``scope``/``action``/``specific``,
    any case of the field names, as Go's decoding reads them); ``None`` when it is not
    one (not an object, a field that is not a string)."""
    if not isinstance(value, dict):
        return None
    fields = {str(k).lower(): v for k, v in value.items()}
    parts = [fields.get(name, "") for name in ("scope", "action", "specific")]
    if not all(isinstance(p, str) for p in parts):
        return None
    return Claim(*parts)


def of_roles(roles: Iterable[Any]) -> tuple[Claim, ...]:
    """The claims of ``roles`` (``models.Role`` objects); :data:`EVERYTHING` itself when
    one of them is ``* * *`` (the ``superuser`` role), so callers may test identity."""
    found: list[Claim] = []
    for role in roles:
        for raw in (role.get("Claims") or []) if isinstance(role, dict) else []:
            claim = from_json(raw)
            if claim is None:
                continue
            if all(_items(part) is None for part in (claim.scope, claim.action,
                                                     claim.specific)):
                return EVERYTHING
            found.append(claim)
    return tuple(found)


#: v4.8's ``models.AllPrefixes()`` (``models/utils.go`` ``All``): each a claim scope.
_PREFIXES = (
    "bootenvs", "interfaces", "jobs", "leases", "contexts", "machines", "params",
    "plugin_providers", "plugins", "preferences", "profiles", "reservations", "roles",
    "stages", "subnets", "tasks", "templates", "users", "workflows", "tenants", "pools",
    "endpoints", "version_sets", "catalog_items",
)
#: v4.8's ``allScopes`` (models/role.go): the scopes a role's claim may name, each with
#: its actions (``extraScopes``, then every prefix with the basic and value-scoped
#: actions plus ``addedActions``, or ``overriddenActions``).
SCOPES: dict[str, frozenset[str]] = {
    "contents": frozenset({"list", "get", "create", "update", "delete"}),
    "files": frozenset({"list", "get", "post", "delete"}),
    "info": frozenset({"get"}),
    "system": frozenset({"upgrade"}),
    "objects": frozenset({"list"}),
    "isos": frozenset({"list", "get", "post", "delete"}),
    **{prefix: frozenset({"list", "get", "create", "delete", "actions", "update", "action"}
                         | {"users": {"token", "password"}, "jobs": {"log"},
                            "machines": {"getSecure", "updateSecure", "updateTaskList"},
                            "plugins": {"getSecure", "updateSecure"},
                            "profiles": {"getSecure", "updateSecure"},
                            "stages": {"getSecure", "updateSecure"}}.get(prefix, set()))
       for prefix in _PREFIXES},
    "preferences": frozenset({"list", "post"}),
}
#: The actions of a plugin-defined type (``UpdateAllScopesWithRawModel``).
RAW_MODEL_ACTIONS = frozenset({"list", "get", "create", "delete", "actions", "update",
                               "action", "getSecure", "updateSecure"})


def problems(claim: Claim, extra_scopes: Iterable[str] = ()) -> list[str]:
    """What ``Claim.Validate`` (models/role.go ``compile``) says of ``claim``: each scope
    must exist ("No such scope 'bar'"), and each action in each named scope ("No such
    action ''"; ``action:<cmd>`` names the action ``action``).  ``extra_scopes`` are
    plugin-defined types."""
    scopes = {**SCOPES, **{name: RAW_MODEL_ACTIONS for name in extra_scopes}}
    named = _items(claim.scope)
    found = []
    errors = []
    for scope in sorted(scopes) if named is None else sorted(named):
        if scope in scopes:
            found.append(scope)
        else:
            errors.append(f"No such scope '{scope}'")
    actions = _items(claim.action)
    for scope in found:
        for action in sorted(actions or ()):
            if action.split(":", 1)[0] not in scopes[scope]:
                errors.append(f"No such action '{action}'")
    return errors


def allowed(claims: tuple[Claim, ...], scope: str, action: str, specific: str) -> bool:
    """Whether one of ``claims`` allows the request."""
    return any(c.allows(scope, action, specific) for c in claims)


def refuse(path: str, scope: str, action: str, specific: str) -> PluginError:
    """DRP's 403 for a request the token's claims do not allow."""
    return PluginError(f"Cannot access {path}", f"Requires: {scope} {action} {specific}",
                       code=403, type="AUTH")
