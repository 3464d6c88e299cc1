"""Every DRP API method, written once for both clients (see :mod:`.core`).

Objects are plain decoded JSON (``dict``), for built-in prefixes and for
plugin-defined ones (StoreObjects such as ``typed-cows``) alike.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any, Union, cast

from . import filters as _filters
from . import patch as _patch
from .core import Flow, Request, bytes_request, json_of, json_request, operation, segment, subpath
from .patch import UNSET

Object = dict[str, Any]
ObjectList = builtins.list[Object]
PatchOps = Sequence[Mapping[str, Any]]
Data = Union[bytes, str, IO[bytes]]  # noqa: UP007 - runs on 3.9


def _object_path(prefix: str, key: str, *rest: str) -> str:
    return "/" + "/".join([segment(prefix), segment(key), *rest])


def _param_path(prefix: str, key: str, name: str) -> str:
    return _object_path(prefix, key, "params", subpath(name))


def _flags(**flags: bool) -> tuple[tuple[str, str], ...]:
    return tuple((name, "true") for name, on in flags.items() if on)


def _read(data: Data) -> bytes | str:
    return data if isinstance(data, (bytes, str)) else data.read()


def _action_request(path: str, params: Mapping[str, Any] | None, plugin: str | None,
                    model: str, key: str) -> Request:
    query = (("plugin", plugin),) if plugin else ()
    return json_request("POST", path, dict(params or {}), params=query, model=model, key=key)


class Operations:
    """The API surface shared by :class:`~drp_plugin.api.Client` and ``AsyncClient``."""

    # -- anything ---------------------------------------------------------------------------------
    @operation
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Iterable[tuple[str, str]] = (),
        json: Any = UNSET,
        content: bytes | None = None,
        content_type: str = "application/octet-stream",
    ) -> Flow[Any]:
        """Any API call: ``path`` is below ``/api/v3`` and already escaped; returns the JSON answer."""
        if content is not None:
            request = bytes_request(
                method, path, content, content_type=content_type, params=tuple(params)
            )
        else:
            request = json_request(method, path, json, params=tuple(params))
        response = yield request
        return json_of(response)

    # -- server -----------------------------------------------------------------------------------
    @operation
    def info(self) -> Flow[Object]:
        """``GET /info``: the server's ``models.Info``."""
        response = yield Request("GET", "/info")
        return cast(Object, json_of(response))

    @operation
    def objects(self) -> Flow[builtins.list[str]]:
        """``GET /objects``: every object prefix the server knows."""
        response = yield Request("GET", "/objects")
        return cast("builtins.list[str]", json_of(response))

    # -- objects ----------------------------------------------------------------------------------
    @operation
    def list(
        self,
        /,
        prefix: str,
        filters: Mapping[str, _filters.FilterValue] | None = None,
        *,
        sort: str | None = None,
        reverse: bool = False,
        limit: int | None = None,
        offset: int | None = None,
        slim: str | Iterable[str] | None = None,
        params: str | Iterable[str] | None = None,
        aggregate: bool = False,
        decode: bool = False,
        **index_filters: _filters.FilterValue,
    ) -> Flow[ObjectList]:
        """``GET /<prefix>``: objects, filtered by index (``Name=Re("^a")``), sorted, paged."""
        query = _filters.query(
            {**(filters or {}), **index_filters},
            sort=sort, reverse=reverse, limit=limit, offset=offset, slim=slim,
            params=params, aggregate=aggregate, decode=decode,
        )
        response = yield Request("GET", "/" + segment(prefix), params=tuple(query), model=prefix)
        return json_of(response) or []

    @operation
    def list_objects(self, prefix: str) -> Flow[ObjectList]:
        """All objects of ``prefix`` (the Go ``ListObjects``, done through the REST API)."""
        response = yield Request("GET", "/" + segment(prefix), model=prefix)
        return json_of(response) or []

    @operation
    def get(
        self,
        prefix: str,
        key: str,
        *,
        aggregate: bool = False,
        decode: bool = False,
        slim: str | Iterable[str] | None = None,
        params: str | Iterable[str] | None = None,
    ) -> Flow[Object]:
        """``GET /<prefix>/<key>``; ``key`` may be an index lookup such as ``Name:phred``."""
        query = _filters.query(slim=slim, params=params, aggregate=aggregate, decode=decode)
        response = yield Request(
            "GET", _object_path(prefix, key), params=tuple(query), model=prefix, key=key
        )
        return cast(Object, json_of(response))

    @operation
    def exists(self, prefix: str, key: str) -> Flow[bool]:
        """``HEAD /<prefix>/<key>``: whether the object exists."""
        response = yield Request(
            "HEAD", _object_path(prefix, key), allow=frozenset({404}), model=prefix, key=key
        )
        return response.status_code < 300

    @operation
    def create(self, prefix: str, obj: Mapping[str, Any]) -> Flow[Object]:
        """``POST /<prefix>``: create ``obj`` (201); returns it as stored."""
        response = yield json_request("POST", "/" + segment(prefix), dict(obj), model=prefix)
        return cast(Object, json_of(response))

    @operation
    def put(self, prefix: str, key: str, obj: Mapping[str, Any]) -> Flow[Object]:
        """``PUT /<prefix>/<key>``: replace the whole object (no conflict detection)."""
        response = yield json_request(
            "PUT", _object_path(prefix, key), dict(obj), model=prefix, key=key
        )
        return cast(Object, json_of(response))

    @operation
    def patch(self, prefix: str, key: str, patch: PatchOps) -> Flow[Object]:
        """``PATCH /<prefix>/<key>`` with an RFC 6902 patch; a failed ``test`` is a 409."""
        response = yield json_request(
            "PATCH", _object_path(prefix, key), [dict(op) for op in patch], model=prefix, key=key
        )
        return cast(Object, json_of(response))

    @operation
    def patch_to(
        self, prefix: str, key: str, old: Mapping[str, Any], new: Mapping[str, Any],
        *, guard: bool = True,
    ) -> Flow[Object]:
        """Patch the object from ``old`` to ``new``; ``guard`` adds ``test`` ops (409 on conflict)."""
        ops = _patch.make_patch(dict(old), dict(new), guard=guard)
        response = yield json_request(
            "PATCH", _object_path(prefix, key), ops, model=prefix, key=key
        )
        return cast(Object, json_of(response))

    @operation
    def delete(self, prefix: str, key: str) -> Flow[Object]:
        """``DELETE /<prefix>/<key>``; returns the deleted object."""
        response = yield Request("DELETE", _object_path(prefix, key), model=prefix, key=key)
        return cast(Object, json_of(response))

    # -- params -----------------------------------------------------------------------------------
    @operation
    def get_params(
        self, prefix: str, key: str, *, aggregate: bool = False, decode: bool = False
    ) -> Flow[Object]:
        """All params of an object (``aggregate``: with profiles'; ``decode``: secure ones decrypted)."""
        response = yield Request(
            "GET", _object_path(prefix, key, "params"),
            params=_flags(aggregate=aggregate, decode=decode), model=prefix, key=key,
        )
        return json_of(response) or {}

    @operation
    def get_param(
        self, prefix: str, key: str, name: str, *, aggregate: bool = False, decode: bool = False
    ) -> Flow[Any]:
        """One param's value (``None`` when unset)."""
        response = yield Request(
            "GET", _param_path(prefix, key, name),
            params=_flags(aggregate=aggregate, decode=decode), model=prefix, key=key,
        )
        return json_of(response)

    @operation
    def set_param(self, prefix: str, key: str, name: str, value: Any) -> Flow[Any]:
        """``POST .../params/<name>`` with the raw JSON value; returns the stored value."""
        response = yield json_request(
            "POST", _param_path(prefix, key, name), value, model=prefix, key=key
        )
        return json_of(response)

    @operation
    def delete_param(self, prefix: str, key: str, name: str) -> Flow[Any]:
        """``DELETE .../params/<name>``; returns the removed value."""
        response = yield Request("DELETE", _param_path(prefix, key, name), model=prefix, key=key)
        return json_of(response)

    @operation
    def set_params(self, prefix: str, key: str, params: Mapping[str, Any]) -> Flow[Object]:
        """``POST .../params``: replace all params of the object with ``params``."""
        response = yield json_request(
            "POST", _object_path(prefix, key, "params"), dict(params), model=prefix, key=key
        )
        return json_of(response) or {}

    @operation
    def patch_params(self, prefix: str, key: str, patch: PatchOps) -> Flow[Object]:
        """``PATCH .../params`` with an RFC 6902 patch of the params map; returns the new map."""
        response = yield json_request(
            "PATCH", _object_path(prefix, key, "params"), [dict(op) for op in patch],
            model=prefix, key=key,
        )
        return json_of(response) or {}

    @operation
    def add_param(self, prefix: str, key: str, name: str, value: Any) -> Flow[Object]:
        """Patch-set one param (RFC 6902 ``add``: creates or overwrites); returns all params."""
        response = yield json_request(
            "PATCH", _object_path(prefix, key, "params"), _patch.param_add(name, value),
            model=prefix, key=key,
        )
        return json_of(response) or {}

    @operation
    def replace_param(
        self, prefix: str, key: str, name: str, value: Any, *, expected: Any = UNSET
    ) -> Flow[Object]:
        """Patch-replace an existing param, only while it equals ``expected`` if given (409)."""
        response = yield json_request(
            "PATCH", _object_path(prefix, key, "params"),
            _patch.param_replace(name, value, expected=expected), model=prefix, key=key,
        )
        return json_of(response) or {}

    @operation
    def remove_param(
        self, prefix: str, key: str, name: str, *, expected: Any = UNSET
    ) -> Flow[Object]:
        """Patch-remove a param, only while it equals ``expected`` if given (409)."""
        response = yield json_request(
            "PATCH", _object_path(prefix, key, "params"),
            _patch.param_remove(name, expected=expected), model=prefix, key=key,
        )
        return json_of(response) or {}

    # -- actions ----------------------------------------------------------------------------------
    @operation
    def list_actions(self, prefix: str, key: str) -> Flow[ObjectList]:
        """``GET /<prefix>/<key>/actions``: the actions available on an object."""
        response = yield Request("GET", _object_path(prefix, key, "actions"), model=prefix, key=key)
        return json_of(response) or []

    @operation
    def run_action(
        self,
        prefix: str,
        key: str,
        command: str,
        params: Mapping[str, Any] | None = None,
        *,
        plugin: str | None = None,
    ) -> Flow[Any]:
        """``POST /<prefix>/<key>/actions/<command>[?plugin=P]``; returns the action's answer."""
        path = _object_path(prefix, key, "actions", segment(command))
        response = yield _action_request(path, params, plugin, prefix, key)
        return json_of(response)

    @operation
    def run_plugin_action(
        self, plugin: str, command: str, params: Mapping[str, Any] | None = None
    ) -> Flow[Any]:
        """Run an action of ``Model: "plugins"`` on the Plugin object named ``plugin``."""
        path = _object_path("plugins", plugin, "actions", segment(command))
        response = yield _action_request(path, params, None, "plugins", plugin)
        return json_of(response)

    @operation
    def list_system_actions(self) -> Flow[ObjectList]:
        """``GET /system/actions``: actions with ``Model: ""``."""
        response = yield Request("GET", "/system/actions", model="system")
        return json_of(response) or []

    @operation
    def run_system_action(
        self, command: str, params: Mapping[str, Any] | None = None, *, plugin: str | None = None
    ) -> Flow[Any]:
        """``POST /system/actions/<command>[?plugin=P]``."""
        path = "/system/actions/" + segment(command)
        response = yield _action_request(path, params, plugin, "system", "")
        return json_of(response)

    # -- files, providers, job logs ---------------------------------------------------------------
    @operation
    def upload_file(self, path: str, data: Data, *, explode: bool = False) -> Flow[Object]:
        """``POST /files/<path>`` (octet-stream); returns ``models.BlobInfo`` ``{"Path", "Size"}``."""
        response = yield bytes_request(
            "POST", "/files/" + subpath(path), _read(data), params=_flags(explode=explode),
            model="files", key=path,
        )
        return json_of(response) or {}

    @operation
    def download_file(self, path: str) -> Flow[bytes]:
        """``GET /files/<path>``: the file's bytes."""
        response = yield Request(
            "GET", "/files/" + subpath(path), accept="application/octet-stream",
            model="files", key=path,
        )
        return response.content

    @operation
    def delete_file(self, path: str) -> Flow[None]:
        """``DELETE /files/<path>``."""
        yield Request("DELETE", "/files/" + subpath(path), model="files", key=path)

    @operation
    def upload_plugin_provider(
        self, name: str, data: Data, *, replace_writable: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> Flow[Object]:
        """``POST /plugin_providers/<name>`` (octet-stream): install or replace a provider.

        ``progress`` is called with the size of each chunk as it is sent.
        """
        response = yield bytes_request(
            "POST", "/plugin_providers/" + segment(name), _read(data),
            params=(("replaceWritable", "true"),) if replace_writable else (),
            model="plugin_providers", key=name, progress=progress,
        )
        return json_of(response) or {}

    @operation
    def append_job_log(self, uuid: str, text: bytes | str) -> Flow[None]:
        """``PUT /jobs/<uuid>/log`` (octet-stream): append to a job's log (never replayed)."""
        yield bytes_request(
            "PUT", _object_path("jobs", uuid, "log"), text, replayable=False,
            model="jobs", key=uuid,
        )

    @operation
    def get_job_log(self, uuid: str) -> Flow[bytes]:
        """``GET /jobs/<uuid>/log``: the job's log."""
        response = yield Request(
            "GET", _object_path("jobs", uuid, "log"), accept="application/octet-stream",
            model="jobs", key=uuid,
        )
        return response.content
