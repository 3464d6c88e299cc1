"""Jobs as DRP's server makes them: tied to their machine, each with a log.

Facts (DRP's open-source server, ``frontend/jobs.go`` ``createJob``, ``getJobLog``,
``putJobLog``; drpcli's recorded ``TestJobCli`` outputs, the commit before "Get rid of
most CLI unit tests"):

* ``POST /jobs`` needs ``Machine`` (400 "Create request must have Machine field"); the
  machine must exist (422 ``ValidationError`` "Machine <uuid> does not exist") and be
  Runnable and Available (409 ``Conflict`` "Machine <uuid> is not runnable"); a
  machine whose current job is ``created`` or ``running`` gets 409 ``Conflict``
  "Machine <uuid> already has running or created job".  An ``incomplete`` current job
  is answered again (202); a ``finished`` one moves the machine to its next task; a
  ``failed`` one runs the same task again.
* The new job gets ``State`` ``created``, ``StartTime`` now, ``Previous`` the machine's
  last job (``00000000-0000-0000-0000-000000000000`` when none), the machine's
  ``Stage``, ``BootEnv`` and ``Workflow``, and ``Task``/``CurrentIndex``/``NextIndex``
  from the machine's task list; the machine gets ``CurrentJob`` (and ``CurrentTask``).
  The new job is ``Current`` (recorded ``jobs.create.*``: ``"Current": true``); the job
  it follows no longer is.
  No task left: 204 and no job.
* DRP v4.8's Machine has no ``JobState``/``JobExitState``/``JobResultErrors`` (later
  versions and drppy 4.17 have them): the stand-in answers as v4.8 and leaves them out;
  a client reads the job itself (``CurrentJob``).
* A job's log starts with ``Log for Job: <uuid>`` (recorded ``jobs.log.<uuid>``);
  ``PUT /jobs/<uuid>/log`` (``application/octet-stream`` only, else 415 ``API ERROR``)
  appends the body and answers 204 with ``Content-Type: application/json``;
  ``GET`` answers the whole log as ``application/octet-stream``; an unknown job is 404
  ``ValidationError`` "Job <uuid> does not exist".

Deviations (the stand-in never runs tasks): a machine without a task list gets a job
for the ``Task`` the body names (DRP would answer 204); task-list entries that change
the stage or boot environment (``stage:x``, ``bootenv:y``) move the machine to that
stage or boot environment and are passed; other entries (``action:...``) answer 501.  A log holds at
most ``max_job_log`` bytes (``DRP_PLUGIN_STANDIN_MAX_JOB_LOG``); an append past it is
refused whole with 413.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from .._types import Obj
from ..errors import PluginError
from ..models import now_rfc3339
from .store import BUSY_JOB_STATES as BUSY
from .store import Store

#: Go's zero ``uuid.UUID``, what a machine's first job has as ``Previous``.
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
#: The job states that block a new job for the same machine.
_CHUNK = 1 << 16


def _conflict(message: str) -> PluginError:
    return PluginError(message, code=409, type="Conflict")


def missing_job(key: str) -> PluginError:
    """DRP's answer for the log of a job that does not exist."""
    return PluginError(f"Job {key} does not exist", code=404, type="ValidationError")


def plan(store: Store, body: Any) -> tuple[int, Obj | None, Obj]:
    """What ``POST /jobs`` with ``body`` does: ``(status, job, machine fields)``.

    ``status`` 201: ``job`` is to be created and the machine updated with the fields;
    202: ``job`` is the machine's incomplete current job, answered again; 204: no task
    left (``job`` is ``None``, the machine fields may still move ``CurrentTask``).
    Raises DRP's errors (400, 409, 422, 501).
    """
    if not isinstance(body, dict) or not isinstance(body.get("Machine"), str) \
            or not body["Machine"]:
        raise PluginError("Create request must have Machine field", code=400, model="jobs",
                          type="POST")
    key = body["Machine"]
    machine = store.find("machines", key)
    if machine is None:
        raise PluginError(f"Machine {key} does not exist", code=422, model="jobs",
                          type="ValidationError")
    if not (machine.get("Runnable") and machine.get("Available")):
        raise _conflict(f"Machine {key} is not runnable")
    current_key = str(machine.get("CurrentJob") or "")
    current = store.find("jobs", current_key) if current_key else None
    # DRP stands in a "failed" job for a machine without one
    state = str(current.get("State")) if current is not None else "failed"
    tasks = [str(t) for t in machine.get("Tasks") or []]
    fields: Obj = {}
    job: Obj = {k: v for k, v in body.items()
                if k not in ("State", "ExitState", "StartTime", "EndTime")}
    if tasks:
        index = machine.get("CurrentTask")
        index = index if isinstance(index, int) and not isinstance(index, bool) else 0
        if index >= len(tasks):
            return 204, None, fields
        following = index + 1
        if index < 0:  # starting the task list: an unfinished job is failed
            if current is not None and state in BUSY | {"incomplete"}:
                store.update_fields("jobs", current_key, {"State": "failed"})
                state = "failed"
            index = following = 0
        if state == "incomplete" and current is not None:
            return 202, current, fields
        if state == "finished":
            index = following
        elif state != "failed":
            raise _conflict(f"Machine {key} already has running or created job")
        # a workflow's ``stage:<s>`` and ``bootenv:<b>`` entries move the machine there
        # and are passed (recorded TestWorkflowSwitch: jobs run the stages' tasks)
        while index < len(tasks) and tasks[index].partition(":")[0] in ("stage", "bootenv"):
            kind, _, value = tasks[index].partition(":")
            fields["Stage" if kind == "stage" else "BootEnv"] = value
            index += 1
        fields["CurrentTask"] = index
        if index >= len(tasks):
            return 204, None, fields
        if ":" in tasks[index]:
            raise PluginError(f"The DRP stand-in does not run task-list entries like "
                              f"{tasks[index]!r}", code=501, model="jobs", type="POST")
        job.update(Task=tasks[index], CurrentIndex=index, NextIndex=index + 1)
    elif state in BUSY:
        raise _conflict(f"Machine {key} already has running or created job")
    job.update(
        Uuid=str(body.get("Uuid") or uuid.uuid4()), Machine=machine["Uuid"],
        Previous=current_key or ZERO_UUID, Stage=fields.get("Stage", machine.get("Stage", "")),
        BootEnv=fields.get("BootEnv", machine.get("BootEnv", "")), Workflow=machine.get("Workflow", ""),
        State="created", ExitState="", StartTime=now_rfc3339(), Current=True,
    )
    fields["CurrentJob"] = job["Uuid"]
    return 201, job, fields


class JobLogs:
    """The logs of jobs, one file each under ``folder``, at most ``max_bytes`` each."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    def _file(self, job: str) -> Path:
        try:
            name = str(uuid.UUID(job))
        except ValueError:  # not a UUID: kept inside the folder all the same
            name = "key-" + hashlib.sha256(job.encode()).hexdigest()
        return self.folder / name

    def path(self, job: str) -> Path:
        """The log file of ``job`` (a stored job's key), begun with DRP's first line if it
        does not exist yet."""
        path = self._file(job)
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"Log for Job: {job}\n".encode())
        return path

    def read(self, job: str) -> bytes:
        """The whole log of ``job``."""
        return self.path(job).read_bytes()

    async def append(self, job: str, request: web.Request) -> int:
        """Append the request body to the log of ``job``, streamed; 413 (and nothing
        appended) when the log would pass ``max_bytes``.  Returns the bytes appended."""
        path = self.path(job)
        with path.open("ab") as out:
            start = out.tell()
            added = 0
            try:
                async for block in request.content.iter_chunked(_CHUNK):
                    added += len(block)
                    if start + added > self.max_bytes:
                        raise PluginError(
                            f"The log of job {job} would pass {self.max_bytes} bytes "
                            "(DRP_PLUGIN_STANDIN_MAX_JOB_LOG)", code=413, model="jobs",
                            key=job, type="PUT")
                    out.write(block)
            except BaseException:
                out.flush()
                os.truncate(path, start)
                raise
        return added

    def remove(self, job: str) -> None:
        """Forget the log of a deleted job."""
        self._file(job).unlink(missing_ok=True)
