"""The plugin params, checked and turned into objects.

``callback/callbacks`` and ``callback/auths`` are maps of JSON objects whose field
names are the Go plugin's (``Url``, ``Retry``, ``AuthType``, ...).  Every problem
is collected, so that one config error names all of them.  Fields this provider
does not know are reported separately (as warnings: the Go plugin ignored them
silently, and a typo such as ``Retries`` for ``Retry`` deserves a word).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: Total time of a callback (and of a token request) when ``Timeout`` is not positive.
DEFAULT_TIMEOUT = 7200
#: The setting (provider environment) bounding the bytes read of an answer.
RESPONSE_MAX_BYTES = "CALLBACK_RESPONSE_MAX_BYTES"
#: Its default: far above a callback's or token request's usual answer (a status,
#: a record, a token), far below what would strain the plugin's memory (an answer
#: returned to DRP is held about four times over: read, base64, JSON, sent).
DEFAULT_RESPONSE_MAX_BYTES = 16 * 1024 * 1024
AUTH_TYPES = ("basic", "json-token", "exec")

_CALLBACK_FIELDS = {
    "Url": str, "Method": str, "Headers": dict, "Retry": int, "Timeout": int, "Delay": int,
    "NoBody": bool, "JsonResponse": bool, "StringResponse": bool, "Aggregate": bool,
    "Decode": bool, "ExcludeParams": list, "RawBody": bool, "Auth": str, "Auths": list,
}
_AUTH_FIELDS = {
    "AuthType": str, "Path": str, "Username": str, "Password": str, "Url": str,
    "Method": str, "Data": str, "Query": str, "TokenField": str, "DurationField": str,
    "Retry": int, "Timeout": int, "Delay": int,
}
_ZERO: dict[type, Any] = {str: "", int: 0, bool: False, dict: {}, list: []}
_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean", dict: "an object",
               list: "a list"}


@dataclass(frozen=True)
class CallbackSpec:
    """One entry of ``callback/callbacks``."""

    name: str
    url: str
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    retry: int = 0
    timeout: int = DEFAULT_TIMEOUT
    delay: int = 0
    no_body: bool = False
    json_response: bool = False
    string_response: bool = False
    aggregate: bool = False
    decode: bool = False
    exclude_params: tuple[str, ...] = ()
    raw_body: bool = False
    #: ``Auth`` then ``Auths``: the names of the auths to try, in order.
    auth_chain: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthSpec:
    """One entry of ``callback/auths``."""

    name: str
    auth_type: str
    path: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    url: str = ""
    method: str = "GET"
    data: str = field(default="", repr=False)
    query: str = field(default="", repr=False)
    token_field: str = ""
    duration_field: str = ""
    retry: int = 0
    timeout: int = DEFAULT_TIMEOUT
    delay: int = 0


@dataclass
class Settings:
    """Everything the plugin params say, plus what was wrong with them."""

    callbacks: dict[str, CallbackSpec] = field(default_factory=dict)
    auths: dict[str, AuthSpec] = field(default_factory=dict)
    proxy: str = ""
    #: ``CALLBACK_RESPONSE_MAX_BYTES``: bytes read at most of an answer that is used.
    max_response: int = DEFAULT_RESPONSE_MAX_BYTES
    errors: list[str] = field(default_factory=list)
    #: Unknown fields (never values: these may be secrets).
    warnings: list[str] = field(default_factory=list)


def env_limit(name: str, default: float, parse: Callable[[str], float]) -> float:
    """The positive number in environment variable ``name`` (``default`` when unset or
    empty); ``ValueError`` naming the variable for anything else."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        value = -1
    if not value > 0:
        raise ValueError(f"{name}={raw!r} is not valid: expected a positive number")
    return value


def _typed(where: str, raw: dict[str, Any], spec: dict[str, type],
           errors: list[str], warnings: list[str]) -> dict[str, Any]:
    """The fields of ``raw`` with their types checked (``None`` counts as unset)."""
    out: dict[str, Any] = {}
    for name, kind in spec.items():
        value = raw.get(name)
        if value is None:
            out[name] = _ZERO[kind]
            continue
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is int and isinstance(value, float) and value.is_integer():
            value, ok = int(value), True
        if not ok:
            errors.append(f"{where}: {name} must be {_TYPE_NAMES[kind]}")
            out[name] = _ZERO[kind]
            continue
        out[name] = value
    unknown = sorted(set(raw) - set(spec))
    if unknown:
        warnings.append(f"{where}: unknown field(s) ignored: {', '.join(unknown)}")
    return out


def _strings(where: str, name: str, value: Any, errors: list[str]) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in value):
        errors.append(f"{where}: {name} must be a list of strings")
        return ()
    return tuple(value)


def _check_url(where: str, name: str, url: str, errors: list[str], templated: bool) -> None:
    if not url:
        errors.append(f"{where}: {name} is required")
        return
    if templated and ("{{" in url or "{%" in url):
        return  # checked after rendering
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors.append(f"{where}: {name} must be an http:// or https:// URL")


def _timeout(value: int) -> int:
    return value if value > 0 else DEFAULT_TIMEOUT


def parse_callback(name: str, raw: Any, errors: list[str], warnings: list[str]) -> CallbackSpec:
    where = f"callback/callbacks[{name}]"
    if not isinstance(raw, dict):
        errors.append(f"{where} must be an object")
        return CallbackSpec(name, "")
    f = _typed(where, raw, _CALLBACK_FIELDS, errors, warnings)
    _check_url(where, "Url", f["Url"], errors, templated=True)
    headers = f["Headers"]
    if not all(isinstance(v, str) for v in headers.values()):
        errors.append(f"{where}: Headers values must be strings")
        headers = {}
    for what in ("Retry", "Delay"):
        if f[what] < 0:
            errors.append(f"{where}: {what} must not be negative")
    chain = ((f["Auth"],) if f["Auth"] else ()) + _strings(where, "Auths", f["Auths"], errors)
    return CallbackSpec(
        name=name,
        url=f["Url"],
        method=(f["Method"].strip() or "POST").upper(),
        headers=dict(headers),
        retry=max(f["Retry"], 0),
        timeout=_timeout(f["Timeout"]),
        delay=max(f["Delay"], 0),
        no_body=f["NoBody"],
        json_response=f["JsonResponse"],
        string_response=f["StringResponse"],
        aggregate=f["Aggregate"],
        decode=f["Decode"],
        exclude_params=_strings(where, "ExcludeParams", f["ExcludeParams"], errors),
        raw_body=f["RawBody"],
        auth_chain=chain,
    )


def parse_auth(name: str, raw: Any, errors: list[str], warnings: list[str]) -> AuthSpec:
    where = f"callback/auths[{name}]"
    if not isinstance(raw, dict):
        errors.append(f"{where} must be an object")
        return AuthSpec(name, "basic")
    f = _typed(where, raw, _AUTH_FIELDS, errors, warnings)
    kind = f["AuthType"]
    if kind not in AUTH_TYPES:
        errors.append(f"{where}: AuthType must be one of {', '.join(AUTH_TYPES)}"
                      + (f", not {kind!r}" if kind else ""))
    elif kind == "exec" and not f["Path"]:
        errors.append(f"{where}: Path is required for an exec auth")
    elif kind == "json-token":
        _check_url(where, "Url", f["Url"], errors, templated=False)
        if not f["TokenField"]:
            errors.append(f"{where}: TokenField is required for a json-token auth")
    for what in ("Retry", "Delay"):
        if f[what] < 0:
            errors.append(f"{where}: {what} must not be negative")
    return AuthSpec(
        name=name,
        auth_type=kind,
        path=f["Path"],
        username=f["Username"],
        password=f["Password"],
        url=f["Url"],
        method=(f["Method"].strip() or "GET").upper(),
        data=f["Data"],
        query=f["Query"],
        token_field=f["TokenField"],
        duration_field=f["DurationField"],
        retry=max(f["Retry"], 0),
        timeout=_timeout(f["Timeout"]),
        delay=max(f["Delay"], 0),
    )


def _check_proxy(proxy: str, errors: list[str]) -> None:
    try:
        parts = urlsplit(proxy)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        errors.append(f"callback/proxy: not a URL ({exc})")
        return
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors.append("callback/proxy must be an http:// or https:// URL with a host")


def _entries(params: dict[str, Any], param: str, errors: list[str]) -> list[tuple[str, Any]]:
    raw = params.get(param)
    if raw is None:
        return []
    if not isinstance(raw, dict):
        errors.append(f"{param} must be an object (name -> definition)")
        return []
    return [(str(name), value) for name, value in raw.items()]


def parse(params: dict[str, Any]) -> Settings:
    """Read the plugin params (as DRP sends them to ``/config``), and
    ``CALLBACK_RESPONSE_MAX_BYTES`` from the environment."""
    out = Settings()
    errors, warnings = out.errors, out.warnings
    for name, value in _entries(params, "callback/auths", errors):
        out.auths[name] = parse_auth(name, value, errors, warnings)
    for name, value in _entries(params, "callback/callbacks", errors):
        out.callbacks[name] = parse_callback(name, value, errors, warnings)
    proxy = params.get("callback/proxy")
    if proxy is not None and not isinstance(proxy, str):
        errors.append("callback/proxy must be a string")
    elif proxy and proxy.strip():
        out.proxy = proxy.strip()
        _check_proxy(out.proxy, errors)
    try:
        out.max_response = int(env_limit(RESPONSE_MAX_BYTES, DEFAULT_RESPONSE_MAX_BYTES, int))
    except ValueError as exc:
        errors.append(f"{exc} (a number of bytes, set in the provider's environment)")
    for cb in out.callbacks.values():
        for auth in cb.auth_chain:
            if auth not in out.auths:
                errors.append(f"callback/callbacks[{cb.name}]: auth {auth!r} is not "
                              "defined in callback/auths")
    return out
