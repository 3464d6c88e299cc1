"""taskcomplete and jobfail callbacks, sent from DRP's event stream, once, in order per machine."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from drp_plugin.testing.fixtures import StandInClient

from .conftest import Start
from .servers import Recorder, Reply


def set_fields(client: StandInClient, machine: dict[str, Any], **fields: Any) -> None:
    client.patch("machines", machine["Uuid"],
                 [{"op": "replace", "path": f"/{k}", "value": v} for k, v in fields.items()])


def job_event(client: StandInClient, machine_uuid: str, job_uuid: str, state: str,
              before: str | None, action: str = "update") -> None:
    """Publish a jobs event (the stand-in does not run jobs; DRP sends these)."""
    job = {"Uuid": job_uuid, "Machine": machine_uuid, "State": state, "Task": "some-task"}
    client.request("POST", "/events", {
        "Type": "jobs", "Action": action, "Key": job_uuid, "Object": job,
        "Original": {**job, "State": before} if before is not None else None,
    })


@pytest.mark.slow
def test_taskcomplete_once_per_completion(start_callback: Start, recorder: Recorder,
                                          machine: dict[str, Any],
                                          drp_client: StandInClient) -> None:
    start_callback({"taskcomplete": {"Url": recorder.url("/done/{{ Machine.Name }}"),
                                     "ExcludeParams": ["rack"]}})
    set_fields(drp_client, machine, Tasks=["stage:one", "task-a", "task-b"], CurrentTask=-1)
    set_fields(drp_client, machine, CurrentTask=1)
    set_fields(drp_client, machine, CurrentTask=3)                 # finished its task list
    set_fields(drp_client, machine, Description="touched")         # still finished: no repeat
    drp_client.set_param("machines", machine["Uuid"], "site", "lab-4")
    set_fields(drp_client, machine, Runnable=False)
    first = recorder.wait_for("/done/m1.example.com")
    time.sleep(0.5)
    assert len(recorder.seen("/done/m1.example.com")) == 1
    body = first[0].json()
    assert body["Uuid"] == machine["Uuid"] and body["CurrentTask"] == 3
    assert "site" in body["Params"] and "rack" not in body["Params"]   # ExcludeParams applies

    # The same task list runs again: its new completion is sent, once.
    set_fields(drp_client, machine, CurrentTask=0)
    set_fields(drp_client, machine, CurrentTask=3)
    set_fields(drp_client, machine, Description="again")
    recorder.wait_for("/done/m1.example.com", 2)
    time.sleep(0.5)
    assert len(recorder.seen("/done/m1.example.com")) == 2
    assert recorder.seen("/done/m1.example.com")[1].json()["Params"]["site"] == "lab-4"


@pytest.mark.slow
def test_taskcomplete_queues_in_order_per_machine(start_callback: Start, recorder: Recorder,
                                                  drp_client: StandInClient) -> None:
    recorder.route("/done/slow", lambda seen: Reply(200, "ok", sleep=1.0))
    plugin = start_callback({"taskcomplete": {"Url": recorder.url("/done/{{ Machine.Name }}"),
                                              "NoBody": True}})
    slow = drp_client.create_machine("slow", Tasks=["t"], CurrentTask=0)
    fast = drp_client.create_machine("fast", Tasks=["t"], CurrentTask=0)
    set_fields(drp_client, slow, CurrentTask=1)
    set_fields(drp_client, slow, CurrentTask=0)
    set_fields(drp_client, slow, CurrentTask=1)
    set_fields(drp_client, fast, CurrentTask=1)
    slow_calls = recorder.wait_for("/done/slow", 2)
    fast_calls = recorder.wait_for("/done/fast", 1)
    # The slow machine's second callback waited for its first; the fast one did not wait.
    assert slow_calls[1].at - slow_calls[0].at >= 0.95
    assert fast_calls[0].at < slow_calls[1].at
    assert plugin.logs


@pytest.mark.slow
def test_jobfail_once_per_failed_job(start_callback: Start, recorder: Recorder,
                                     machine: dict[str, Any], drp_client: StandInClient) -> None:
    plugin = start_callback({
        "jobfail": {"Url": recorder.url("/failed/{{ Machine.Name }}"), "Aggregate": True},
        "taskcomplete": {"Url": recorder.url("/done")},
    })
    job1, job2, job3 = (str(uuid.uuid4()) for _ in range(3))
    job_event(drp_client, machine["Uuid"], job1, "running", "created")     # not a failure
    job_event(drp_client, machine["Uuid"], job1, "failed", "running")      # sent
    job_event(drp_client, machine["Uuid"], job1, "failed", "running")      # same job: not again
    job_event(drp_client, machine["Uuid"], job1, "failed", None, "save")   # same job: not again
    job_event(drp_client, machine["Uuid"], job2, "failed", "failed")       # failed before
    job_event(drp_client, machine["Uuid"], job3, "failed", None, "save")   # new failure: sent
    calls = recorder.wait_for("/failed/m1.example.com", 2)
    time.sleep(0.5)
    assert len(recorder.seen("/failed/m1.example.com")) == 2
    assert calls[0].json()["Uuid"] == machine["Uuid"]
    assert recorder.seen("/done") == []                # no task list finished
    assert not [r for r in plugin.logs if r.level == "error"]
