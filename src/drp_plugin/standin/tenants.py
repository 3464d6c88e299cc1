"""DRP's tenants (``models.Tenant``): which objects a user in a tenant sees.

Facts: v4.8's ``models/tenant.go`` (``Members`` maps an object type to the keys of its
objects in the tenant, ``Users`` names the tenant's users; a ``Members`` type must be
one of ``models.All()``'s prefixes) and the answers DRP recorded for TestAuth
(cli/test-data/output/TestAuth, provision ``af452c8a~1``):

* a user in a tenant sees, of each type its ``Members`` names, only the objects listed
  there, whatever its roles: a superuser in a tenant whose ``bootenvs`` are ``[]`` lists
  no boot environment, and ``stages show none`` is "GET: stages/none: Not Found";
  types ``Members`` does not name (``profiles``, ``roles``) stay whole;
* an object a tenant's user creates joins that tenant (``stages create stage3`` by a
  user of tenant1: tenant1 lists it, tenant2 no longer does);
* a deleted object leaves every tenant, and a deleted user leaves its tenant;
* creating an object the user cannot see is "CREATE: stages/stage2: already exists",
  deleting it "DELETE: stages/stage2: Not Found";
* a tenant with users is not deleted: "StillInUseError: tenants/tenant1: Constraining
  Users: [t1-0 t1-1 t1-2 t1-3]".

Chosen where nothing is recorded: a user belongs to at most one tenant, and a
tenant's ``Users`` must exist ("User <name> does not exist", "User <name> is already in
tenant <other>").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._types import Obj
from ..errors import PluginError

if TYPE_CHECKING:
    from .store import Store

#: v4.8's ``models.AllPrefixes()``: the types a tenant's ``Members`` may name.
MEMBER_TYPES = frozenset({
    "bootenvs", "interfaces", "jobs", "leases", "contexts", "machines", "params",
    "plugin_providers", "plugins", "preferences", "profiles", "reservations", "roles",
    "stages", "subnets", "tasks", "templates", "users", "workflows", "tenants", "pools",
    "endpoints", "version_sets", "catalog_items",
})


def of(store: Store, user: str) -> Obj | None:
    """The tenant ``user`` is in, if any (not a copy)."""
    if not user:
        return None
    for tenant in store.data.get("tenants", {}).values():
        if user in (tenant.get("Users") or []):
            return tenant
    return None


def hides(tenant: Obj, prefix: str, key: str) -> bool:
    """Whether ``tenant`` keeps object ``prefix``/``key`` from its users."""
    members = tenant.get("Members") or {}
    return prefix in members and key not in (members[prefix] or [])


def visible(store: Store, user: str, prefix: str, objects: list[Obj], key_field: str
            ) -> list[Obj]:
    """``objects`` of ``prefix`` less those ``user``'s tenant hides."""
    tenant = of(store, user)
    members = (tenant.get("Members") or {}) if tenant is not None else {}
    if prefix not in members:
        return objects
    shown = set(members[prefix] or [])
    return [o for o in objects if o.get(key_field) in shown]


def problems(store: Store, key: str, tenant: Obj, users: Iterable[str]) -> list[str]:
    """What is wrong with ``tenant`` (to be stored under ``key``); ``users`` are the
    users that exist."""
    errors: list[str] = []
    members = tenant.get("Members")
    if not isinstance(members, dict) or not all(
            isinstance(v, list) and all(isinstance(k, str) for k in v)
            for v in members.values()):
        errors.append("Members must map each object type to a list of keys")
    else:
        errors.extend(f"Invalid member type {t!r}: not a DRP object type"
                      for t in sorted(members) if t not in MEMBER_TYPES)
    names = tenant.get("Users")
    if not isinstance(names, list) or not all(isinstance(u, str) for u in names):
        return [*errors, "Users must be a list of user names"]
    known = set(users)
    for user in names:
        if user not in known:
            errors.append(f"User {user} does not exist")
            continue
        other = of(store, user)
        if other is not None and other.get("Name") != key:
            errors.append(f"User {user} is already in tenant {other.get('Name')}")
    return errors


def refuse_delete(tenant: Obj, key: str) -> None:
    """409 for a tenant that still has users."""
    users = list(tenant.get("Users") or [])
    if users:
        raise PluginError(f"Constraining Users: [{' '.join(users)}]", code=409,
                          model="tenants", key=key, type="StillInUseError")


def joined(store: Store, user: str, prefix: str, key: str) -> None:
    """Object ``prefix``/``key`` created by ``user`` joins its tenant."""
    tenant = of(store, user)
    if tenant is None:
        return
    members: dict[str, Any] = tenant.get("Members") or {}
    if prefix in members and key not in members[prefix]:
        changed = {**members, prefix: [*members[prefix], key]}
        store.update_fields("tenants", tenant["Name"], {"Members": changed})


def left(store: Store, prefix: str, key: str) -> None:
    """Deleted object ``prefix``/``key`` leaves every tenant."""
    for name, tenant in list(store.data.get("tenants", {}).items()):
        members: dict[str, Any] = tenant.get("Members") or {}
        if key in (members.get(prefix) or []):
            changed = {**members, prefix: [k for k in members[prefix] if k != key]}
            store.update_fields("tenants", name, {"Members": changed})


def user_left(store: Store, user: str) -> None:
    """Deleted ``user`` leaves its tenant, and every tenant's ``users`` members."""
    tenant = of(store, user)
    if tenant is not None:
        store.update_fields("tenants", tenant["Name"],
                            {"Users": [u for u in tenant["Users"] if u != user]})
    left(store, "users", user)

