"""A provider that drives an external REST API, as provision-plugins' ``tower`` does.

The pattern of docs/howto/testing.md ("Mocking the provider's external service"): the
lifespan builds the HTTP clients with :data:`transport`, ``None`` (the network) in
production; a test sets an ``httpx.MockTransport`` there and drives the provider with
the in-process ``TestClient``, so no fake server is needed.  ``launch`` is a sync
handler (``httpx.Client``), ``job_status`` an async one (``httpx.AsyncClient``); their
errors have the shapes of Go's ``utils.MakeError``/``ConvertError`` and the config
error the shape of tower's ``Config``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from drp_plugin import Action, Context, Machine, PluginError, Provider, SyncContext

#: The transport of the clients the lifespan builds: ``None`` uses the network; a test
#: sets an ``httpx.MockTransport`` (it serves both the sync and the async client).
transport: httpx.MockTransport | None = None


class State:
    """What the lifespan yields: one sync and one async client of the tower API."""

    def __init__(self) -> None:
        self.http = httpx.Client(transport=transport, timeout=10.0)
        self.ahttp = httpx.AsyncClient(transport=transport, timeout=10.0)

    def configure(self, url: str, token: str) -> None:
        for client in (self.http, self.ahttp):
            client.base_url = httpx.URL(url)
            client.headers["Authorization"] = f"Bearer {token}"


provider = Provider("towerish", version="v1.0.0", required_params=["towerish/url"],
                    optional_params=["towerish/token"], base_dir=".")


@provider.lifespan
async def lifespan(ctx: Context) -> AsyncIterator[State]:
    state = State()
    try:
        yield state
    finally:
        state.http.close()
        await state.ahttp.aclose()


@provider.config
def config(ctx: SyncContext, params: dict[str, Any]) -> None:
    name = str(params.get("Name") or "unknown")
    err = PluginError.config(name)
    url, token = params.get("towerish/url"), params.get("towerish/token")
    if not isinstance(url, str):
        err.messages.append(f"Plugin {name} is missing towerish/url")
    if not isinstance(token, str):
        err.messages.append(f"Plugin {name} is missing towerish/token")
    if err.messages:
        raise err
    assert isinstance(url, str) and isinstance(token, str)
    ctx.state_as(State).configure(url, token)


@provider.action("launch", model="machines", required=["towerish/template"], optional=[])
def launch(ctx: SyncContext, action: Action) -> int:
    """Launch a job template for the machine; the job's id is the result."""
    machine = action.target_as(Machine)
    template = action.params["towerish/template"]
    try:
        reply = ctx.state_as(State).http.post(
            f"/api/v2/job_templates/{template}/launch/",
            json={"limit": machine.name, "extra_vars": {"drp_job": machine.current_job}})
    except httpx.HTTPError as exc:
        raise PluginError.convert(400, exc, key=ctx.plugin) from exc
    if reply.status_code != 201:
        raise PluginError.rpc(
            409, f"Command failed launch: {reply.status_code} {reply.text}", key=ctx.plugin)
    job = reply.json()["job"]
    assert isinstance(job, int)
    return job


@provider.action("job_status", required=["towerish/job"])
async def job_status(ctx: Context, action: Action) -> str:
    """The status of a tower job (a system action)."""
    job = action.params["towerish/job"]
    try:
        reply = await ctx.state_as(State).ahttp.get(f"/api/v2/jobs/{job}/")
    except httpx.HTTPError as exc:
        raise PluginError.convert(400, exc, key=ctx.plugin) from exc
    if reply.status_code == 404:
        raise PluginError.rpc(404, f"Unknown job {job}", key=ctx.plugin)
    status = reply.json()["status"]
    assert isinstance(status, str)
    return status
