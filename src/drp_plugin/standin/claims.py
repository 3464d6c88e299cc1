"""DRP's claims model (models/role.go), enough to hold a restricted token to account.

A claim is ``scope action specific``: comma lists or ``*``.  A request needs one
``(scope, action, specific)``; a token allows it when one of its claims contains it.
An action ``action:<cmd>`` or ``update:<pointer>`` is also allowed by a claim on the
plain ``action`` / ``update`` (``scopeNode.contains``).  Tokens come from
``/users/<u>/token?scope=&action=&specific=`` (cli/user.go ``token``); without them a
token carries the user's claims (every user of the stand-in is a superuser).

Request to claim (models/role.go ``allScopes`` names): list ``list``, show ``get``,
create ``create``, PUT/PATCH ``update``, DELETE ``delete``, ``?decode=true``
``getSecure``, a write of a Secure param ``updateSecure``, an action
``action:<cmd>``, ``info get``, ``objects list``, ``events post``, ``files
list|get|post|delete``, ``users token <user>``.  A refusal is 403 with DRP's words
(recorded: cli/test-data/output/TestSecureParams/0200f4c03e439abf609e4f5d5750ecfe):
``AUTH`` / ``Cannot access <path>`` / ``Requires: plugins getSecure Name:bob``.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def allowed(claims: tuple[Claim, ...], scope: str, action: str, specific: str) -> bool:
    """Whether one of ``claims`` allows the request."""
    return any(c.allows(scope, action, specific) for c in claims)


def refuse(path: str, scope: str, action: str, specific: str) -> PluginError:
    """DRP's 403 for a request the token's claims do not allow."""
    return PluginError(f"Cannot access {path}", f"Requires: {scope} {action} {specific}",
                       code=403, type="AUTH")
