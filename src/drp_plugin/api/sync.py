"""The blocking DRP API client (``httpx.Client``): same methods as ``AsyncClient``."""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from . import operations as _ops
from .core import Flow, Request, Step, build, check
from .filters import FilterValue
from .operations import Data, Object, ObjectList, PatchOps
from .patch import UNSET
from .session import ClientBase

T = TypeVar("T")


class Client(ClientBase):
    """Blocking client of the DRP REST API (thread-safe); same methods as ``AsyncClient``.

    The arguments are those of ``ClientBase``: with none, ``RS_ENDPOINT`` and
    ``RS_TOKEN`` (what DRP gives a plugin)::

        with Client() as api:
            machine = api.get("machines", "Name:phred")
            api.set_param("machines", machine["Uuid"], "incrementer/parameter", 3)
    """

    def _open(self, transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None) -> None:
        if isinstance(transport, httpx.AsyncBaseTransport):
            raise TypeError("Client needs an httpx.BaseTransport")
        transport = transport or httpx.HTTPTransport(**self.settings.transport_options())
        self._http = httpx.Client(transport=transport, **self.settings.client_options())
        self._auth_lock = threading.Lock()

    def authorization(self) -> str:
        """The ``Authorization`` header value, renewing a user token when due."""
        session = self.settings.session
        if session is None:
            return f"Bearer {self.settings.static_token}"
        if session.due:
            with self._auth_lock:
                if session.due:
                    self._run(session.renew())
        return f"Bearer {session.token}"

    def _run(self, flow: Flow[T]) -> T:
        step = Step(flow)
        while step.request is not None:
            step = Step(flow, self._send(step.request))
        return step.result

    def _send(self, request: Request) -> httpx.Response:
        authorization = self.authorization() if request.authenticate else None
        retries = self.settings.retry.schedule(request)
        while True:
            try:
                response = self._http.send(build(self._http, request, authorization))
                break
            except httpx.TransportError as exc:
                time.sleep(retries.after(exc))
        check(request, response, self.settings.secrets)
        return response

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the API: one method per flow of ``operations`` ----------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Iterable[tuple[str, str]] = (),
        json: Any = UNSET,
        content: bytes | None = None,
        content_type: str = "application/octet-stream",
    ) -> Any:
        """Any API call: ``path`` is below ``/api/v3`` and already escaped; returns the JSON answer."""
        return self._run(
            _ops.request(
                method, path, params=params, json=json, content=content, content_type=content_type,
            )
        )

    def info(self) -> Object:
        """``GET /info``: the server's ``models.Info``."""
        return self._run(_ops.info())

    def objects(self) -> builtins.list[str]:
        """``GET /objects``: every object prefix the server knows."""
        return self._run(_ops.objects())

    def list(
        self,
        /,
        prefix: str,
        filters: Mapping[str, FilterValue] | None = None,
        *,
        sort: str | None = None,
        reverse: bool = False,
        limit: int | None = None,
        offset: int | None = None,
        slim: str | Iterable[str] | None = None,
        params: str | Iterable[str] | None = None,
        aggregate: bool = False,
        decode: bool = False,
        **index_filters: FilterValue,
    ) -> ObjectList:
        """``GET /<prefix>``: objects, filtered by index (``Name=Re("^a")``), sorted, paged."""
        return self._run(
            _ops.list(
                prefix, filters, sort=sort, reverse=reverse, limit=limit, offset=offset, slim=slim,
                params=params, aggregate=aggregate, decode=decode, **index_filters,
            )
        )

    def list_objects(self, prefix: str) -> ObjectList:
        """All objects of ``prefix`` (the Go ``ListObjects``, done through the REST API)."""
        return self._run(_ops.list_objects(prefix))

    def get(
        self,
        prefix: str,
        key: str,
        *,
        aggregate: bool = False,
        decode: bool = False,
        slim: str | Iterable[str] | None = None,
        params: str | Iterable[str] | None = None,
    ) -> Object:
        """``GET /<prefix>/<key>``; ``key`` may be an index lookup such as ``Name:phred``."""
        return self._run(
            _ops.get(prefix, key, aggregate=aggregate, decode=decode, slim=slim, params=params)
        )

    def exists(self, prefix: str, key: str) -> bool:
        """``HEAD /<prefix>/<key>``: whether the object exists."""
        return self._run(_ops.exists(prefix, key))

    def create(self, prefix: str, obj: Mapping[str, Any]) -> Object:
        """``POST /<prefix>``: create ``obj`` (201); returns it as stored."""
        return self._run(_ops.create(prefix, obj))

    def put(self, prefix: str, key: str, obj: Mapping[str, Any]) -> Object:
        """``PUT /<prefix>/<key>``: replace the whole object (no conflict detection)."""
        return self._run(_ops.put(prefix, key, obj))

    def patch(self, prefix: str, key: str, patch: PatchOps) -> Object:
        """``PATCH /<prefix>/<key>`` with an RFC 6902 patch; a failed ``test`` is a 409."""
        return self._run(_ops.patch(prefix, key, patch))

    def patch_to(
        self,
        prefix: str,
        key: str,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        *,
        guard: bool = True,
    ) -> Object:
        """Patch the object from ``old`` to ``new``; ``guard`` adds ``test`` ops (409 on conflict)."""
        return self._run(_ops.patch_to(prefix, key, old, new, guard=guard))

    def delete(self, prefix: str, key: str) -> Object:
        """``DELETE /<prefix>/<key>``; returns the deleted object."""
        return self._run(_ops.delete(prefix, key))

    def get_params(
        self,
        prefix: str,
        key: str,
        *,
        aggregate: bool = False,
        decode: bool = False,
    ) -> Object:
        """All params of an object (``aggregate``: with profiles'; ``decode``: secure ones decrypted)."""
        return self._run(_ops.get_params(prefix, key, aggregate=aggregate, decode=decode))

    def get_param(
        self,
        prefix: str,
        key: str,
        name: str,
        *,
        aggregate: bool = False,
        decode: bool = False,
    ) -> Any:
        """One param's value (``None`` when unset)."""
        return self._run(_ops.get_param(prefix, key, name, aggregate=aggregate, decode=decode))

    def set_param(self, prefix: str, key: str, name: str, value: Any) -> Any:
        """``POST .../params/<name>`` with the raw JSON value; returns the stored value."""
        return self._run(_ops.set_param(prefix, key, name, value))

    def delete_param(self, prefix: str, key: str, name: str) -> Any:
        """``DELETE .../params/<name>``; returns the removed value."""
        return self._run(_ops.delete_param(prefix, key, name))

    def set_params(self, prefix: str, key: str, params: Mapping[str, Any]) -> Object:
        """``POST .../params``: replace all params of the object with ``params``."""
        return self._run(_ops.set_params(prefix, key, params))

    def patch_params(self, prefix: str, key: str, patch: PatchOps) -> Object:
        """``PATCH .../params`` with an RFC 6902 patch of the params map; returns the new map."""
        return self._run(_ops.patch_params(prefix, key, patch))

    def add_param(self, prefix: str, key: str, name: str, value: Any) -> Object:
        """Patch-set one param (RFC 6902 ``add``: creates or overwrites); returns all params."""
        return self._run(_ops.add_param(prefix, key, name, value))

    def replace_param(
        self,
        prefix: str,
        key: str,
        name: str,
        value: Any,
        *,
        expected: Any = UNSET,
    ) -> Object:
        """Patch-replace an existing param, only while it equals ``expected`` if given (409)."""
        return self._run(_ops.replace_param(prefix, key, name, value, expected=expected))

    def remove_param(self, prefix: str, key: str, name: str, *, expected: Any = UNSET) -> Object:
        """Patch-remove a param, only while it equals ``expected`` if given (409)."""
        return self._run(_ops.remove_param(prefix, key, name, expected=expected))

    def list_actions(self, prefix: str, key: str) -> ObjectList:
        """``GET /<prefix>/<key>/actions``: the actions available on an object."""
        return self._run(_ops.list_actions(prefix, key))

    def run_action(
        self,
        prefix: str,
        key: str,
        command: str,
        params: Mapping[str, Any] | None = None,
        *,
        plugin: str | None = None,
    ) -> Any:
        """``POST /<prefix>/<key>/actions/<command>[?plugin=P]``; returns the action's answer."""
        return self._run(_ops.run_action(prefix, key, command, params, plugin=plugin))

    def run_plugin_action(
        self,
        plugin: str,
        command: str,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run an action of ``Model: "plugins"`` on the Plugin object named ``plugin``."""
        return self._run(_ops.run_plugin_action(plugin, command, params))

    def list_system_actions(self) -> ObjectList:
        """``GET /system/actions``: actions with ``Model: ""``."""
        return self._run(_ops.list_system_actions())

    def run_system_action(
        self,
        command: str,
        params: Mapping[str, Any] | None = None,
        *,
        plugin: str | None = None,
    ) -> Any:
        """``POST /system/actions/<command>[?plugin=P]``."""
        return self._run(_ops.run_system_action(command, params, plugin=plugin))

    def upload_file(self, path: str, data: Data, *, explode: bool = False) -> Object:
        """``POST /files/<path>`` (octet-stream); returns ``models.BlobInfo`` ``{"Path", "Size"}``."""
        return self._run(_ops.upload_file(path, data, explode=explode))

    def download_file(self, path: str) -> bytes:
        """``GET /files/<path>``: the file's bytes."""
        return self._run(_ops.download_file(path))

    def delete_file(self, path: str) -> None:
        """``DELETE /files/<path>``."""
        return self._run(_ops.delete_file(path))

    def upload_plugin_provider(
        self,
        name: str,
        data: Data,
        *,
        replace_writable: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> Object:
        """``POST /plugin_providers/<name>`` (octet-stream): install or replace a provider.

    ``progress`` is called with the size of each chunk as it is sent.
    """
        return self._run(
            _ops.upload_plugin_provider(
                name, data, replace_writable=replace_writable, progress=progress,
            )
        )

    def append_job_log(self, uuid: str, text: bytes | str) -> None:
        """``PUT /jobs/<uuid>/log`` (octet-stream): append to a job's log (never replayed)."""
        return self._run(_ops.append_job_log(uuid, text))

    def get_job_log(self, uuid: str) -> bytes:
        """``GET /jobs/<uuid>/log``: the job's log."""
        return self._run(_ops.get_job_log(uuid))
