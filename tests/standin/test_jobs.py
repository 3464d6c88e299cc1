"""Jobs as DRP makes them, and their logs (issue 23 item 3).

A provider that writes to the running job's log (Go's ``AddToJobLog``) is tested end to
end: ``ctx.api.append_job_log`` / ``get_job_log`` against the stand-in, and the job
fields DRP sets on the machine (``CurrentJob``, ``JobState``...).  Facts cited in
``drp_plugin.standin.jobs``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from drp_plugin.api import APIError, AsyncClient
from drp_plugin.standin import StandIn
from drp_plugin.standin.jobs import ZERO_UUID
from drp_plugin.standin.settings import Limits


async def _machine(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    resp = await client.post("/machines", json={"Name": name, **fields})
    assert resp.status_code == 201, resp.text
    machine: dict[str, Any] = resp.json()
    return machine


async def test_job_log_through_the_client(drp: StandIn, client: httpx.AsyncClient) -> None:
    """``append_job_log`` answered ``400 invalid character 'd'`` and ``get_job_log`` 404;
    creating a job left the machine's ``CurrentJob`` empty."""
    m1 = await _machine(client, "m1")
    created = await client.post("/jobs", json={"Machine": m1["Uuid"], "Task": "say-hello"})
    assert created.status_code == 201, created.text
    job = created.json()
    assert (job["State"], job["Machine"], job["Task"]) == ("created", m1["Uuid"], "say-hello")
    assert job["Previous"] == ZERO_UUID and job["StartTime"] != "0001-01-01T00:00:00Z"
    machine = (await client.get(f"/machines/{m1['Uuid']}")).json()
    assert machine["CurrentJob"] == job["Uuid"]
    assert "JobState" not in machine  # DRP v4.8's Machine has no job mirror

    async with AsyncClient(drp.endpoint, drp.token) as api:
        await api.append_job_log(job["Uuid"], "doing the thing\n")
        await api.append_job_log(job["Uuid"], b"done\n")
        log = await api.get_job_log(job["Uuid"])
    assert log == f"Log for Job: {job['Uuid']}\ndoing the thing\ndone\n".encode()
    assert drp.job_log(job["Uuid"]) == log.decode()

    # the Go client's rules: PUT answers 204 as JSON (R.Do with a nil value), GET the
    # log as octet-stream
    put = await client.put(f"/jobs/{job['Uuid']}/log", content=b"more\n",
                           headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 204 and put.headers["Content-Type"].startswith("application/json")
    got = await client.get(f"/jobs/{job['Uuid']}/log")
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.content.endswith(b"done\nmore\n")

    # the job fails; the machine still names it as its current job
    patched = await client.patch(f"/jobs/{job['Uuid']}", json=[
        {"op": "replace", "path": "/State", "value": "failed"},
        {"op": "replace", "path": "/ExitState", "value": "failed"}])
    assert patched.status_code == 200, patched.text
    machine = (await client.get(f"/machines/{m1['Uuid']}")).json()
    assert machine["CurrentJob"] == job["Uuid"]

    # a failed job lets the next one start; it names the first as Previous
    second = (await client.post("/jobs", json={"Machine": m1["Uuid"]})).json()
    assert second["Previous"] == job["Uuid"]
    assert (await client.get(f"/machines/{m1['Uuid']}")).json()["CurrentJob"] == second["Uuid"]

    # a deleted job's log goes with it
    assert (await client.delete(f"/jobs/{job['Uuid']}")).status_code == 200
    gone = await client.get(f"/jobs/{job['Uuid']}/log")
    assert gone.status_code == 404
    assert gone.json()["Messages"] == [f"Job {job['Uuid']} does not exist"]


async def test_job_creation_follows_the_task_list(client: httpx.AsyncClient) -> None:
    """frontend/jobs.go ``createJob``: the task comes from the machine's task list, one
    created job at a time, a finished job moves to the next task, none left is 204."""
    for name in ("t1", "t2"):
        assert (await client.post("/tasks", json={"Name": name})).status_code == 201
    m1 = await _machine(client, "m1", Tasks=["t1", "t2"], Stage="none")
    first = await client.post("/jobs", json={"Machine": m1["Uuid"], "Task": "ignored"})
    assert first.status_code == 201
    j1 = first.json()
    assert (j1["Task"], j1["CurrentIndex"], j1["NextIndex"]) == ("t1", 0, 1)

    busy = await client.post("/jobs", json={"Machine": m1["Uuid"]})
    assert busy.status_code == 409
    assert busy.json()["Type"] == "Conflict"
    assert busy.json()["Messages"] == [f"Machine {m1['Uuid']} already has running or created job"]

    await client.patch(f"/jobs/{j1['Uuid']}", json=[
        {"op": "replace", "path": "/State", "value": "finished"}])
    second = await client.post("/jobs", json={"Machine": m1["Uuid"]})
    j2 = second.json()
    assert second.status_code == 201
    assert (j2["Task"], j2["CurrentIndex"], j2["Previous"]) == ("t2", 1, j1["Uuid"])
    machine = (await client.get(f"/machines/{m1['Uuid']}")).json()
    assert (machine["CurrentJob"], machine["CurrentTask"]) == (j2["Uuid"], 1)

    # an incomplete job is answered again (202), not duplicated
    await client.patch(f"/jobs/{j2['Uuid']}", json=[
        {"op": "replace", "path": "/State", "value": "incomplete"}])
    again = await client.post("/jobs", json={"Machine": m1["Uuid"]})
    assert again.status_code == 202 and again.json()["Uuid"] == j2["Uuid"]

    await client.patch(f"/jobs/{j2['Uuid']}", json=[
        {"op": "replace", "path": "/State", "value": "finished"}])
    done = await client.post("/jobs", json={"Machine": m1["Uuid"]})
    assert done.status_code == 204 and done.content == b""
    assert done.headers["Content-Type"].startswith("application/json")
    assert (await client.get(f"/machines/{m1['Uuid']}")).json()["CurrentTask"] == 2


async def test_job_creation_refusals(client: httpx.AsyncClient) -> None:
    no_machine = await client.post("/jobs", json={"Task": "t"})
    assert no_machine.status_code == 400
    assert no_machine.json()["Messages"] == ["Create request must have Machine field"]
    unknown = "3e7031fe-3062-45f1-835c-92541bc9cbd3"
    missing = await client.post("/jobs", json={"Machine": unknown})
    assert (missing.status_code, missing.json()["Type"]) == (422, "ValidationError")
    assert missing.json()["Messages"] == [f"Machine {unknown} does not exist"]
    idle = await _machine(client, "idle")  # DRP makes every new machine Runnable
    assert idle["Runnable"] is True
    idle = (await client.patch(f"/machines/{idle['Uuid']}", json=[
        {"op": "replace", "path": "/Runnable", "value": False}])).json()
    refused = await client.post("/jobs", json={"Machine": idle["Uuid"]})
    assert (refused.status_code, refused.json()["Type"]) == (409, "Conflict")
    assert refused.json()["Messages"] == [f"Machine {idle['Uuid']} is not runnable"]


async def test_job_log_refusals(drp: StandIn, client: httpx.AsyncClient) -> None:
    """415 for another content type (DRP's words), 404 for an unknown job, 403 for a
    token whose claims name another machine, 413 past ``max_job_log`` with nothing appended."""
    drp.job_logs.max_bytes = 1024
    m1, m2 = await _machine(client, "m1"), await _machine(client, "m2")
    job = (await client.post("/jobs", json={"Machine": m1["Uuid"]})).json()
    url = f"/jobs/{job['Uuid']}/log"
    text = await client.put(url, content=b"x", headers={"Content-Type": "text/plain"})
    assert (text.status_code, text.json()["Type"]) == (415, "API ERROR")
    assert text.json()["Messages"] == [
        "job log put must have content-type application/octet-stream"]
    unknown = await client.get("/jobs/nope/log")
    assert (unknown.status_code, unknown.json()["Type"]) == (404, "ValidationError")

    # DRP checks "jobs log <the job's machine>" (the job's AuthKey)
    async def narrowed(machine: dict[str, Any]) -> str:
        resp = await client.get("/users/rocketskates/token", params={
            "scope": "jobs", "action": "log", "specific": machine["Uuid"]})
        token: str = resp.json()["Token"]
        return token

    for token, status in ((await narrowed(m2), 403), (await narrowed(m1), 204)):
        resp = await client.put(url, content=b"line\n",
                                headers={"Authorization": f"Bearer {token}",
                                         "Content-Type": "application/octet-stream"})
        assert resp.status_code == status, resp.text

    before = drp.job_log(job["Uuid"])
    big = await client.put(url, content=b"z" * 2048,
                           headers={"Content-Type": "application/octet-stream"})
    assert big.status_code == 413 and "DRP_PLUGIN_STANDIN_MAX_JOB_LOG" in big.text
    assert drp.job_log(job["Uuid"]) == before


async def test_python_api_creates_jobs_like_rest() -> None:
    async with StandIn(limits=Limits(max_job_log=4096)) as drp:
        machine = await drp.create("machines", {"Name": "m1"})
        job = await drp.create("jobs", {"Machine": machine["Uuid"]})
        assert drp.get("machines", machine["Uuid"])["CurrentJob"] == job["Uuid"]
        assert drp.job_log(job["Uuid"]) == f"Log for Job: {job['Uuid']}\n"
        async with AsyncClient(drp.endpoint, drp.token) as api:
            with pytest.raises(APIError) as err:
                await api.get_job_log("00000000-0000-0000-0000-000000000009")
        assert err.value.status == 404
