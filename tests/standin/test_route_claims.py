"""Each route of the stand-in's REST table carries the claim it needs (issue #26 item 4):
no second table string-matches request paths.  models/role.go names the claims."""

from __future__ import annotations

import httpx

from drp_plugin.standin import StandIn
from drp_plugin.standin.rest import Api, routes


def test_every_route_row_carries_its_claim_rule(drp: StandIn) -> None:
    """Only the job-log routes leave the check to their handler (``jobs log <machine>``,
    known once the job is read)."""
    without = []
    for route in routes(Api(drp)):
        if getattr(route.handler, "drp_claim_rule", None) is None:
            without.append((route.method, route.path))
    assert without == [("GET", "/api/v3/jobs/{key}/log"), ("PUT", "/api/v3/jobs/{key}/log")]


async def test_new_routes_are_held_to_the_claims(drp: StandIn,
                                                 client: httpx.AsyncClient) -> None:
    """The meta PATCH needs ``<prefix> update <key>``, the indexes ``<prefix> list``."""
    await client.post("/profiles", json={"Name": "bob"})
    got = await client.get("/users/rocketskates/token",
                           params={"scope": "profiles", "action": "get,list", "specific": "*"})
    headers = {"Authorization": f"Bearer {got.json()['Token']}"}
    async with httpx.AsyncClient(base_url=drp.endpoint + "/api/v3", verify=False,
                                 headers=headers) as reader:
        assert (await reader.get("/meta/profiles/bob")).status_code == 200
        assert (await reader.get("/indexes/profiles")).status_code == 200
        denied = await reader.patch("/meta/profiles/bob", json=[
            {"op": "add", "path": "/a", "value": "b"}])
        assert denied.status_code == 403
        assert denied.json()["Messages"] == ["Cannot access /api/v3/meta/profiles/bob",
                                             "Requires: profiles update bob"]
        assert (await reader.get("/indexes/machines")).status_code == 403
        assert (await reader.delete("/profiles/bob")).status_code == 403
