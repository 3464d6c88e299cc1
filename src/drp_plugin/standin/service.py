"""Object writes with their side effects: a changed Plugin starts, restarts or stops; a
new Job becomes its machine's current job (see :mod:`.jobs`)."""

from __future__ import annotations

from typing import Any

from .._types import Obj
from ..errors import PluginError
from . import jobs
from .providers import Providers
from .store import Store


class ObjectWrites:
    """The write operations behind the REST API, the seeds and the Python API."""

    def __init__(self, store: Store, providers: Providers,
                 job_logs: jobs.JobLogs | None = None) -> None:
        self.store = store
        self.providers = providers
        self.job_logs = job_logs

    async def _after(self, prefix: str, key: str, old: Obj | None, new: Obj | None) -> Obj:
        if prefix == "plugins":
            await self.providers.plugin_changed(key, old, new)
        elif prefix == "jobs":
            self._job_changed(key, new)
        current = self.store.find(prefix, key) if new is not None else None
        return self.store.render(prefix, current or new or old or {})

    def _job_changed(self, key: str, job: Obj | None) -> None:
        """Forget the log of a deleted job."""
        if job is None and self.job_logs is not None:
            self.job_logs.remove(key)

    async def create_job(self, body: Any, principal: str) -> tuple[int, Obj | None]:
        """``POST /jobs`` as DRP does it (:func:`.jobs.plan`): ``(201, job)`` for a new job
        (its machine's ``CurrentJob``), ``(202, job)`` for the machine's incomplete job,
        ``(204, None)`` when the machine has no task left."""
        status, job, fields = jobs.plan(self.store, body)
        if status == 201:
            assert job is not None
            previous = self.store.find("jobs", str(job.get("Previous") or ""))
            job = self.store.create("jobs", job, principal)
            if previous is not None and previous.get("Current"):
                self.store.update_fields("jobs", previous["Uuid"], {"Current": False},
                                         principal)
            if self.job_logs is not None:
                self.job_logs.path(job["Uuid"])       # begun with "Log for Job: <uuid>"
        if fields:
            machine = self.store.find("machines", str(body["Machine"]))
            if machine is not None:
                self.store.replace("machines", machine["Uuid"], {**machine, **fields},
                                   principal, internal=True)
        return status, self.store.render("jobs", job) if job is not None else None

    async def create(self, prefix: str, body: Any, principal: str) -> Obj:
        """Create an object and apply its side effects (a new Plugin starts); returns it
        rendered.  ``plugin_providers`` are uploaded instead: 405.  A job is created as
        :meth:`create_job` does (``{}`` when the machine has no task left)."""
        if prefix == "plugin_providers":
            raise PluginError("Upload the executable with POST /plugin_providers/<name>",
                              code=405, model=prefix, type="POST")
        if prefix == "jobs":
            return (await self.create_job(body, principal))[1] or {}
        obj = self.store.create(prefix, body, principal)
        return await self._after(prefix, obj[self.store.types[prefix].key], None, obj)

    async def replace(self, prefix: str, key: str, body: Any, principal: str,
                      force: bool = False) -> Obj:
        """PUT: replace an object (a Plugin starts, or restarts when its Params or Provider
        changed); returns it rendered."""
        old, new = self.store.replace(prefix, key, body, principal, force=force)
        return await self._after(prefix, new[self.store.types[prefix].key], old, new)

    async def patch(self, prefix: str, key: str, ops: Any, principal: str,
                    force: bool = False) -> Obj:
        """PATCH with RFC 6902 ``ops``, side effects as for :meth:`replace`; returns the
        object rendered."""
        old, new = self.store.patch(prefix, key, ops, principal, force=force)
        return await self._after(prefix, new[self.store.types[prefix].key], old, new)

    async def remove(self, prefix: str, key: str, principal: str) -> Obj:
        """Delete an object (a Plugin stops; for ``plugin_providers`` the provider is
        uninstalled); returns it rendered."""
        if prefix == "plugin_providers":
            real = self.store.resolve(prefix, key, "DELETE")
            obj = self.store.render(prefix, self.store.data[prefix][real])
            await self.providers.remove(real)
            return obj
        old = self.store.remove(prefix, key, principal)
        return await self._after(prefix, old[self.store.types[prefix].key], old, None)

    async def set_param(self, prefix: str, key: str, name: str, value: Any,
                        principal: str) -> Any:
        """Set param ``name`` of an object (a Plugin restarts); returns the stored value as
        the API shows it (secure values sealed)."""
        old, new = self.store.set_param(prefix, key, name, value, principal)
        await self._after(prefix, new[self.store.types[prefix].key], old, new)
        return self.store.param(prefix, key, name)

    async def delete_param(self, prefix: str, key: str, name: str, principal: str) -> Any:
        """Unset param ``name`` of an object (404 when not set); returns the value it had as
        the API showed it."""
        value = self.store.param(prefix, key, name)
        old, new = self.store.delete_param(prefix, key, name, principal)
        await self._after(prefix, new[self.store.types[prefix].key], old, new)
        return value

    async def replace_params(self, prefix: str, key: str, params: Any,
                             principal: str) -> dict[str, Any]:
        """Replace all Params of an object; returns them as the API shows them."""
        old, new = self.store.replace_params(prefix, key, params, principal)
        await self._after(prefix, new[self.store.types[prefix].key], old, new)
        return self.store.params(prefix, key)

    async def patch_params(self, prefix: str, key: str, ops: Any,
                           principal: str) -> dict[str, Any]:
        """Apply RFC 6902 ``ops`` to an object's Params; returns them as the API shows them."""
        old, new = self.store.patch_params(prefix, key, ops, principal)
        await self._after(prefix, new[self.store.types[prefix].key], old, new)
        return self.store.params(prefix, key)
