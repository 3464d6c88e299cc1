"""Every DRP API call, written once as a flow for both clients (see ``core``).

A flow is a generator that yields ``Request`` descriptions and receives the
``httpx.Response`` to each; ``Client`` runs it with blocking I/O, ``AsyncClient``
as a coroutine. Each flow here has one method of the same name and parameters on
both clients, where its docstring is (``tests/api/test_signatures.py`` holds the
three together). Internal: use the clients.

Objects are plain decoded JSON (``dict``), for built-in prefixes and for
plugin-defined ones (StoreObjects such as ``typed-cows``) alike.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any, Union, cast

from . import filters as _filters
from . import patch as _patch
from .core import Flow, Request, bytes_request, json_of, json_request, segment, subpath
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


# -- anything ---------------------------------------------------------------------------------
def request(
    method: str,
    path: str,
    *,
    params: Iterable[tuple[str, str]] = (),
    json: Any = UNSET,
    content: bytes | None = None,
    content_type: str = "application/octet-stream",
) -> Flow[Any]:
    if content is not None:
        request = bytes_request(
            method, path, content, content_type=content_type, params=tuple(params)
        )
    else:
        request = json_request(method, path, json, params=tuple(params))
    response = yield request
    return json_of(response)


# -- server -----------------------------------------------------------------------------------
def info() -> Flow[Object]:
    response = yield Request("GET", "/info")
    return cast(Object, json_of(response))


def objects() -> Flow[builtins.list[str]]:
    response = yield Request("GET", "/objects")
    return cast("builtins.list[str]", json_of(response))


# -- objects ----------------------------------------------------------------------------------
def list(
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
    query = _filters.query(
        {**(filters or {}), **index_filters},
        sort=sort, reverse=reverse, limit=limit, offset=offset, slim=slim,
        params=params, aggregate=aggregate, decode=decode,
    )
    response = yield Request("GET", "/" + segment(prefix), params=tuple(query), model=prefix)
    return json_of(response) or []


def list_objects(prefix: str) -> Flow[ObjectList]:
    response = yield Request("GET", "/" + segment(prefix), model=prefix)
    return json_of(response) or []


def get(
    prefix: str,
    key: str,
    *,
    aggregate: bool = False,
    decode: bool = False,
    slim: str | Iterable[str] | None = None,
    params: str | Iterable[str] | None = None,
) -> Flow[Object]:
    query = _filters.query(slim=slim, params=params, aggregate=aggregate, decode=decode)
    response = yield Request(
        "GET", _object_path(prefix, key), params=tuple(query), model=prefix, key=key
    )
    return cast(Object, json_of(response))


def exists(prefix: str, key: str) -> Flow[bool]:
    response = yield Request(
        "HEAD", _object_path(prefix, key), allow=frozenset({404}), model=prefix, key=key
    )
    return response.status_code < 300


def create(prefix: str, obj: Mapping[str, Any]) -> Flow[Object]:
    response = yield json_request("POST", "/" + segment(prefix), dict(obj), model=prefix)
    return cast(Object, json_of(response))


def put(prefix: str, key: str, obj: Mapping[str, Any]) -> Flow[Object]:
    response = yield json_request(
        "PUT", _object_path(prefix, key), dict(obj), model=prefix, key=key
    )
    return cast(Object, json_of(response))


def patch(prefix: str, key: str, patch: PatchOps) -> Flow[Object]:
    response = yield json_request(
        "PATCH", _object_path(prefix, key), [dict(op) for op in patch], model=prefix, key=key
    )
    return cast(Object, json_of(response))


def patch_to(
    prefix: str, key: str, old: Mapping[str, Any], new: Mapping[str, Any],
    *, guard: bool = True,
) -> Flow[Object]:
    ops = _patch.make_patch(dict(old), dict(new), guard=guard)
    response = yield json_request(
        "PATCH", _object_path(prefix, key), ops, model=prefix, key=key
    )
    return cast(Object, json_of(response))


def delete(prefix: str, key: str) -> Flow[Object]:
    response = yield Request("DELETE", _object_path(prefix, key), model=prefix, key=key)
    return cast(Object, json_of(response))


# -- params -----------------------------------------------------------------------------------
def get_params(
    prefix: str, key: str, *, aggregate: bool = False, decode: bool = False
) -> Flow[Object]:
    response = yield Request(
        "GET", _object_path(prefix, key, "params"),
        params=_flags(aggregate=aggregate, decode=decode), model=prefix, key=key,
    )
    return json_of(response) or {}


def get_param(
    prefix: str, key: str, name: str, *, aggregate: bool = False, decode: bool = False
) -> Flow[Any]:
    response = yield Request(
        "GET", _param_path(prefix, key, name),
        params=_flags(aggregate=aggregate, decode=decode), model=prefix, key=key,
    )
    return json_of(response)


def set_param(prefix: str, key: str, name: str, value: Any) -> Flow[Any]:
    response = yield json_request(
        "POST", _param_path(prefix, key, name), value, model=prefix, key=key
    )
    return json_of(response)


def delete_param(prefix: str, key: str, name: str) -> Flow[Any]:
    response = yield Request("DELETE", _param_path(prefix, key, name), model=prefix, key=key)
    return json_of(response)


def set_params(prefix: str, key: str, params: Mapping[str, Any]) -> Flow[Object]:
    response = yield json_request(
        "POST", _object_path(prefix, key, "params"), dict(params), model=prefix, key=key
    )
    return json_of(response) or {}


def patch_params(prefix: str, key: str, patch: PatchOps) -> Flow[Object]:
    response = yield json_request(
        "PATCH", _object_path(prefix, key, "params"), [dict(op) for op in patch],
        model=prefix, key=key,
    )
    return json_of(response) or {}


def add_param(prefix: str, key: str, name: str, value: Any) -> Flow[Object]:
    response = yield json_request(
        "PATCH", _object_path(prefix, key, "params"), _patch.param_add(name, value),
        model=prefix, key=key,
    )
    return json_of(response) or {}


def replace_param(
    prefix: str, key: str, name: str, value: Any, *, expected: Any = UNSET
) -> Flow[Object]:
    response = yield json_request(
        "PATCH", _object_path(prefix, key, "params"),
        _patch.param_replace(name, value, expected=expected), model=prefix, key=key,
    )
    return json_of(response) or {}


def remove_param(
    prefix: str, key: str, name: str, *, expected: Any = UNSET
) -> Flow[Object]:
    response = yield json_request(
        "PATCH", _object_path(prefix, key, "params"),
        _patch.param_remove(name, expected=expected), model=prefix, key=key,
    )
    return json_of(response) or {}


# -- actions ----------------------------------------------------------------------------------
def list_actions(prefix: str, key: str) -> Flow[ObjectList]:
    response = yield Request("GET", _object_path(prefix, key, "actions"), model=prefix, key=key)
    return json_of(response) or []


def run_action(
    prefix: str,
    key: str,
    command: str,
    params: Mapping[str, Any] | None = None,
    *,
    plugin: str | None = None,
) -> Flow[Any]:
    path = _object_path(prefix, key, "actions", segment(command))
    response = yield _action_request(path, params, plugin, prefix, key)
    return json_of(response)


def run_plugin_action(
    plugin: str, command: str, params: Mapping[str, Any] | None = None
) -> Flow[Any]:
    path = _object_path("plugins", plugin, "actions", segment(command))
    response = yield _action_request(path, params, None, "plugins", plugin)
    return json_of(response)


def list_system_actions() -> Flow[ObjectList]:
    response = yield Request("GET", "/system/actions", model="system")
    return json_of(response) or []


def run_system_action(
    command: str, params: Mapping[str, Any] | None = None, *, plugin: str | None = None
) -> Flow[Any]:
    path = "/system/actions/" + segment(command)
    response = yield _action_request(path, params, plugin, "system", "")
    return json_of(response)


# -- files, providers, job logs ---------------------------------------------------------------
def upload_file(path: str, data: Data, *, explode: bool = False) -> Flow[Object]:
    response = yield bytes_request(
        "POST", "/files/" + subpath(path), _read(data), params=_flags(explode=explode),
        model="files", key=path,
    )
    return json_of(response) or {}


def download_file(path: str) -> Flow[bytes]:
    response = yield Request(
        "GET", "/files/" + subpath(path), accept="application/octet-stream",
        model="files", key=path,
    )
    return response.content


def delete_file(path: str) -> Flow[None]:
    yield Request("DELETE", "/files/" + subpath(path), model="files", key=path)


def upload_plugin_provider(
    name: str, data: Data, *, replace_writable: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Flow[Object]:
    response = yield bytes_request(
        "POST", "/plugin_providers/" + segment(name), _read(data),
        params=(("replaceWritable", "true"),) if replace_writable else (),
        model="plugin_providers", key=name, progress=progress,
    )
    return json_of(response) or {}


def append_job_log(uuid: str, text: bytes | str) -> Flow[None]:
    yield bytes_request(
        "PUT", _object_path("jobs", uuid, "log"), text, replayable=False,
        model="jobs", key=uuid,
    )


def get_job_log(uuid: str) -> Flow[bytes]:
    response = yield Request(
        "GET", _object_path("jobs", uuid, "log"), accept="application/octet-stream",
        model="jobs", key=uuid,
    )
    return response.content
