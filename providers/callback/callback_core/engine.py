"""The state of a callback plugin: its config, the action, the events, the queues.

One :class:`Engine` lives in the plugin process.  ``configure`` swaps in a new
:class:`Running` config (requests under way finish with the old one, whose HTTP
client is closed once they are done).  ``taskcomplete`` and ``jobfail`` sends
go through one queue per machine, worked off in order by one task per machine
that ends when its queue is empty.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from drp_plugin import Action, Event, PluginError
from drp_plugin.errors import plugin_error

from . import settings as settings_mod
from .auth import AuthState, run_program
from .errors import fail, text_of
from .render import Renderer, TemplateData, is_template
from .send import Outbound, send
from .settings import CallbackSpec, Settings

if TYPE_CHECKING:
    import httpx

    from drp_plugin.api import AsyncClient

Log = logging.Logger | logging.LoggerAdapter[logging.Logger]
Job = Callable[[], Awaitable[None]]

#: Sends waiting per machine before new ones are refused (and logged).
QUEUE_LIMIT = 100
#: Failed jobs remembered, so that one failure triggers one ``jobfail``.
FAILED_JOBS_KEPT = 10_000
TASKCOMPLETE = "taskcomplete"
JOBFAIL = "jobfail"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class Running:
    """One config: the settings, their HTTP client and auth states, and who uses them."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self.auths = {name: AuthState(spec, settings.max_response)
                      for name, spec in settings.auths.items()}
        self.users = 0
        self.retired = False
        self.closed = False

    def chain(self, spec: CallbackSpec) -> list[AuthState]:
        return [self.auths[name] for name in spec.auth_chain]

    def acquire(self) -> None:
        self.users += 1

    async def release(self) -> None:
        self.users -= 1
        if self.retired and self.users <= 0:
            await self.close()

    async def retire(self) -> None:
        """No new work; close the client when the work under way is done."""
        self.retired = True
        if self.users <= 0:
            await self.close()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.client.aclose()


class Engine:
    """Everything the handlers of ``callback.py`` delegate to."""

    def __init__(self) -> None:
        self.running: Running | None = None
        self._renderer: Renderer | None = None
        self.queues: dict[str, asyncio.Queue[tuple[Running, Job]]] = {}
        self.workers: dict[str, asyncio.Task[None]] = {}
        #: Machine UUID -> task list whose completion was already sent.
        self.completed: dict[str, tuple[str, ...]] = {}
        self.failed_jobs: OrderedDict[str, None] = OrderedDict()

    # -- config -----------------------------------------------------------------------------
    async def configure(self, log: Log, params: dict[str, Any]) -> None:
        import httpx

        name = str(params.get("Name") or "callback")
        parsed = settings_mod.parse(params)
        for warning in parsed.warnings:
            log.warning("%s", warning)
        if parsed.errors:
            raise plugin_error(name, *parsed.errors, model="plugins")
        client = httpx.AsyncClient(
            verify=False,            # DRP sites use self-signed certificates, as the Go plugin allowed
            trust_env=False,         # only callback/proxy chooses a proxy
            proxy=parsed.proxy or None,
            follow_redirects=True,
            timeout=None,            # every request gets the time left before its deadline
        )
        # No Accept header unless a request sets one (callbacks do, token requests do
        # not): the Go plugin's token requests have none, httpx would send */*.
        del client.headers["Accept"]
        old, self.running = self.running, Running(parsed, client)
        if old is not None:
            await old.retire()
        log.info("Configured %d callback(s) [%s] and %d auth(s)%s", len(parsed.callbacks),
                 ", ".join(sorted(parsed.callbacks)), len(parsed.auths),
                 " through a proxy" if parsed.proxy else "")

    def _configured(self) -> Running:
        if self.running is None:
            raise fail(409, "the callback plugin is not configured yet")
        return self.running

    # -- preparing a callback ---------------------------------------------------------------
    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = Renderer()
        return self._renderer

    async def _render(self, source: str, data: TemplateData, what: str) -> str:
        if not is_template(source):
            return source
        return await self.renderer.render(source, data, what)

    async def prepare(self, api: AsyncClient, running: Running, spec: CallbackSpec,
                      machine: dict[str, Any], override: Any = None) -> Outbound:
        """The request of callback ``spec`` about ``machine`` (body, rendered Url)."""
        deadline = time.monotonic() + spec.timeout    # for GetAuthString's program
        uuid = str(machine.get("Uuid") or "")
        full = override is not None
        try:
            params = await api.get_params("machines", uuid, aggregate=spec.aggregate or full,
                                          decode=spec.decode or full)
            info = await api.info()
        except PluginError as exc:
            raise fail(400, f"Err: {text_of(exc)}") from None
        machine = {**machine, "Params": params}

        async def param_default(name: str) -> Any:
            try:
                param = await api.get("params", name)
            except PluginError:
                return None
            schema = param.get("Schema") if isinstance(param, dict) else None
            return schema.get("default") if isinstance(schema, dict) else None

        async def program(name: str) -> str:
            auth = running.settings.auths.get(name)
            if auth is None:
                raise fail(400, f"no auth named {name!r} in callback/auths")
            if auth.auth_type != "exec":
                raise fail(400, f"auth {name!r} is {auth.auth_type}: only exec auths give a string")
            return await run_program(auth.path, deadline)

        data = TemplateData(machine, info if isinstance(info, dict) else {}, param_default, program)
        payload: bytes | None = None
        if spec.no_body:
            payload = None
        elif override is None:
            body = dict(machine)
            body["Params"] = {k: v for k, v in params.items() if k not in spec.exclude_params}
            payload = _dumps(body)
        elif isinstance(override, str):
            text = await self._render(override, data, "callback/data-override")
            payload = text.encode() if spec.raw_body else _dumps(text)
        else:
            payload = _dumps(override)
        url = (await self._render(spec.url, data, f"Url of callback {spec.name}")).strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise fail(400, f"Url of callback {spec.name} is not an http(s) URL: {url[:200]!r}")
        subject = f"machine {machine.get('Name') or uuid}"
        return Outbound(spec, url, payload, subject)

    # -- the action ---------------------------------------------------------------------------
    async def action(self, api: AsyncClient, log: Log, action: Action) -> Any:
        """``callbackDo``: send the callback named by ``callback/action``; its answer."""
        running = self._configured()
        name = action.params.get("callback/action")
        if not isinstance(name, str) or not name:
            raise fail(400, "callback/action must be a non-empty string")
        machine = action.model
        if not isinstance(machine, dict) or not machine.get("Uuid"):
            raise fail(400, "callbackDo runs on a machine")
        spec = running.settings.callbacks.get(name)
        if spec is None:
            known = sorted(running.settings.callbacks)
            detail = (f"known callbacks: {', '.join(known)}" if known
                      else "callback/callbacks of this plugin is empty")
            raise fail(404, f"Unknown callback action {name!r} ({detail})")
        running.acquire()
        try:
            out = await self.prepare(api, running, spec, machine,
                                     action.params.get("callback/data-override"))
            return await send(running.client, out, running.chain(spec), log,
                              max_response=running.settings.max_response)
        finally:
            await running.release()

    # -- events -------------------------------------------------------------------------------
    async def event(self, api: AsyncClient, log: Log, event: Event) -> None:
        """Prepare and queue ``taskcomplete``/``jobfail`` sends for the events that call for them.

        As in the Go plugin, the request is prepared (params fetched, Url rendered)
        when the event arrives, so it shows the machine as it was then; only the
        sending waits in the machine's queue.
        """
        obj = event.object if isinstance(event.object, dict) else {}
        if event.type == "machines":
            uuid = str(obj.get("Uuid") or event.key)
            if event.action == "delete":
                self.completed.pop(uuid, None)
            elif event.action == "update":
                await self._machine_update(api, log, uuid, obj)
        elif event.type == "jobs" and event.action in ("update", "save"):
            await self._job_change(api, log, obj, event)

    async def _machine_update(self, api: AsyncClient, log: Log, uuid: str,
                              machine: dict[str, Any]) -> None:
        running = self.running
        if running is None or TASKCOMPLETE not in running.settings.callbacks:
            return
        tasks = machine.get("Tasks")
        tasks = tasks if isinstance(tasks, list) else []
        if machine.get("CurrentTask") != len(tasks):
            self.completed.pop(uuid, None)   # running (again): its next completion counts
            return
        marker = tuple(str(t) for t in tasks)
        if self.completed.get(uuid) == marker:
            return                           # this completion was already sent
        self.completed[uuid] = marker
        await self._queue_send(api, log, running, running.settings.callbacks[TASKCOMPLETE],
                               uuid, machine)

    async def _job_change(self, api: AsyncClient, log: Log, job: dict[str, Any],
                          event: Event) -> None:
        running = self.running
        if running is None or JOBFAIL not in running.settings.callbacks:
            return
        if job.get("State") != "failed":
            return
        original = event.original
        if isinstance(original, dict) and original.get("State") not in ("running", "created"):
            return                           # it had failed before this change
        job_id = str(job.get("Uuid") or event.key)
        if job_id in self.failed_jobs:
            return                           # this failure was already sent
        self.failed_jobs[job_id] = None
        while len(self.failed_jobs) > FAILED_JOBS_KEPT:
            self.failed_jobs.popitem(last=False)
        machine_id = job.get("Machine")
        if not isinstance(machine_id, str) or not machine_id:
            return
        try:
            machine = await api.get("machines", machine_id)
        except PluginError as exc:
            log.error("jobfail callback for job %s: machine %s: %s", job_id, machine_id,
                      text_of(exc))
            return
        await self._queue_send(api, log, running, running.settings.callbacks[JOBFAIL],
                               machine_id, machine)

    async def _queue_send(self, api: AsyncClient, log: Log, running: Running,
                          spec: CallbackSpec, uuid: str, machine: dict[str, Any]) -> None:
        who = machine.get("Name") or uuid
        try:
            out = await self.prepare(api, running, spec, machine)
        except PluginError as exc:
            log.error("%s callback for machine %s could not be prepared: %s", spec.name, who,
                      text_of(exc))
            return

        async def job() -> None:
            try:
                # Nobody uses an event callback's answer: it is not read (beyond 64 KiB).
                await send(running.client, out, running.chain(spec), log,
                           max_response=running.settings.max_response, want_answer=False)
            except PluginError as exc:
                log.error("%s callback for machine %s failed: %s", spec.name, who, text_of(exc))

        self._enqueue(uuid, running, job, log)

    # -- per-machine queues -----------------------------------------------------------------
    def _enqueue(self, key: str, running: Running, job: Job, log: Log) -> None:
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = asyncio.Queue()
            self.workers[key] = asyncio.create_task(self._work(key, queue, log))
        if queue.qsize() >= QUEUE_LIMIT:
            log.error("machine %s has %d callbacks waiting: this one is dropped", key,
                      queue.qsize())
            return
        running.acquire()
        queue.put_nowait((running, job))

    async def _work(self, key: str, queue: asyncio.Queue[tuple[Running, Job]], log: Log) -> None:
        try:
            while True:
                try:
                    running, job = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    await job()
                except Exception:
                    log.exception("callback for machine %s crashed", key)
                finally:
                    await running.release()
        finally:
            if self.queues.get(key) is queue:
                del self.queues[key]
                self.workers.pop(key, None)

    async def idle(self) -> None:
        """Wait until every queued send is done (tests, orderly stops)."""
        while self.workers:
            await asyncio.gather(*list(self.workers.values()), return_exceptions=True)

    # -- stop ---------------------------------------------------------------------------------
    async def stop(self, log: Log) -> None:
        waiting = sum(q.qsize() for q in self.queues.values())
        workers = list(self.workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for queue in list(self.queues.values()):
            while not queue.empty():
                running, _ = queue.get_nowait()
                await running.release()
        self.queues.clear()
        if waiting or workers:
            log.warning("Stopping: %d callback(s) under way and %d waiting were abandoned",
                        len(workers), waiting)
        if self.running is not None:
            await self.running.retire()
            await self.running.close()
