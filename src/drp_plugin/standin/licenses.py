"""RackN licences: the enterprise features the stand-in serves only when licensed.

Facts: the answers DRP recorded for TestAuth and TestRoleCLI
(cli/test-data/output, provision ``af452c8a~1``) and the licence those tests upload
(cli/common_test.go ``licenseLayer``):

* before a licence is loaded, writing ``roles`` or ``tenants`` is refused:
  ``LICENSE_EXCEEDED: rbac`` with the messages "rbac is a licensed enterprise
  feature.", "Contact support@rackn.com" and "Access to /api/v3/roles denied";
* the licence is the ``rackn-license`` content pack: a ``rackn-license`` profile whose
  ``rackn/license-object`` param lists ``Licenses``, each with a ``Name`` (``rbac``,
  ``secure-params``); with it loaded, roles and tenants are served.

Chosen: the stand-in grants the features its ``rackn-license`` profile names and checks
neither the licence's signature (``rackn/license``; RackN's key is not public) nor its
dates (a test fixture's licence must not expire under a test suite).  Reading roles and
tenants is never refused (nothing recorded refuses it, and the ``superuser`` role is
always there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import PluginError

if TYPE_CHECKING:
    from .store import Store

#: The profile carrying the licence, and its param.
PROFILE = "rackn-license"
PARAM = "rackn/license-object"
#: Object types whose writes need a licensed feature.
GATED = {"roles": "rbac", "tenants": "rbac"}


def pack(*names: str) -> dict[str, object]:
    """A content pack that licenses ``names`` (default ``rbac`` and ``secure-params``)
    in the stand-in, shaped as DRP's own test licence (cli/common_test.go
    ``licenseLayer``) without its signature: ``POST /contents`` it before writing
    roles or tenants."""
    licensed = names or ("rbac", "secure-params")
    return {"meta": {"Name": PROFILE, "Version": "v0.0.1",
                     "Description": "Licence for the DRP stand-in"},
            "sections": {"profiles": {PROFILE: {"Name": PROFILE, "Params": {PARAM: {
                "Owner": "drp-plugin stand-in",
                "Licenses": [{"Name": n, "Version": "v2.*"} for n in licensed]}}}}}}


def features(store: Store) -> set[str]:
    """The features the loaded licence names."""
    profile = store.find("profiles", PROFILE)
    licence = ((profile or {}).get("Params") or {}).get(PARAM)
    if not isinstance(licence, dict) or not isinstance(licence.get("Licenses"), list):
        return set()
    return {entry["Name"] for entry in licence["Licenses"]
            if isinstance(entry, dict) and isinstance(entry.get("Name"), str)}


def require(store: Store, prefix: str, method: str, path: str) -> None:
    """``LICENSE_EXCEEDED`` (403) for a write to a type whose feature is not licensed."""
    feature = GATED.get(prefix)
    if feature is None or method in ("GET", "HEAD") or feature in features(store):
        return
    raise PluginError(f"{feature} is a licensed enterprise feature.",
                      "Contact support@rackn.com", f"Access to {path} denied",
                      code=403, model=feature, type="LICENSE_EXCEEDED")
