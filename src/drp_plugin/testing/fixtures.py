"""What the pytest fixtures hand to tests: a REST client and a loaded provider.

Both talk to a :class:`~drp_plugin.standin.StandInThread` the way a provider's
users would: over the real HTTPS API, through drp-plugin's own API client
(:class:`drp_plugin.api.Client`), so a test exercises the client providers use.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._types import Obj
from ..api import UNSET, Client
from ..api.core import segment, subpath
from ..standin.targets import parse_target

if TYPE_CHECKING:
    from ..standin import LogRecord, StandInThread

_NO_BODY = object()


def _query(query: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for name, value in (query or {}).items():
        if isinstance(value, bool):
            value = str(value).lower()
        for item in value if isinstance(value, (list, tuple)) else [value]:
            out.append((name, str(item)))
    return tuple(out)


class StandInClient:
    """A blocking client of the stand-in's REST API for tests; errors raise
    :class:`~drp_plugin.api.APIError` (a ``PluginError``).

    Built on :class:`drp_plugin.api.Client` (``.api``: every API method is there too),
    with shortcuts for what tests do most: ``create_machine``, ``param``, ``action``.
    """

    def __init__(self, drp: StandInThread, timeout: float = 60.0) -> None:
        self.drp = drp
        #: The underlying API client (the stand-in's certificate is self-signed).
        self.api = Client(drp.endpoint, drp.token, verify=False, local_proxy=None,
                          timeout=timeout)

    def close(self) -> None:
        """Close the connections."""
        self.api.close()

    def __enter__(self) -> StandInClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def request(self, method: str, path: str, body: Any = _NO_BODY,
                params: dict[str, Any] | None = None) -> Any:
        """Send one request (``path`` below ``/api/v3``, not escaped); the decoded JSON
        reply (``None`` when empty)."""
        escaped = "/" + subpath(path)
        return self.api.request(method, escaped, params=_query(params),
                                json=UNSET if body is _NO_BODY else body)

    # ---- objects -----------------------------------------------------------------

    def list_objects(self, prefix: str, **query: Any) -> list[Obj]:
        """``GET /<prefix>`` with raw query parameters (filters, ``sort``, ``limit``)."""
        result: list[Obj] = self.api.request("GET", "/" + segment(prefix),
                                             params=_query(query)) or []
        return result

    def get(self, prefix: str, key: str, **query: Any) -> Obj:
        """One object; ``key`` may be ``Index:value``."""
        result: Obj = self.api.request("GET", f"/{segment(prefix)}/{segment(key)}",
                                       params=_query(query))
        return result

    def create(self, prefix: str, obj: Obj) -> Obj:
        """``POST /<prefix>``: create ``obj``; returns it as stored."""
        return self.api.create(prefix, obj)

    def update(self, prefix: str, key: str, obj: Obj) -> Obj:
        """``PUT /<prefix>/<key>``: replace the whole object with ``obj``; returns it as stored."""
        return self.api.put(prefix, key, obj)

    def patch(self, prefix: str, key: str, ops: list[Obj]) -> Obj:
        """``PATCH /<prefix>/<key>`` with RFC 6902 ``ops``; returns the patched object."""
        return self.api.patch(prefix, key, ops)

    def delete(self, prefix: str, key: str) -> Obj:
        """``DELETE /<prefix>/<key>``; returns the deleted object."""
        return self.api.delete(prefix, key)

    def params(self, prefix: str, key: str, aggregate: bool = False,
               decode: bool = False) -> Obj:
        """All params of an object (``aggregate``: with its profiles' and global ones;
        ``decode``: secure values in clear)."""
        return self.api.get_params(prefix, key, aggregate=aggregate, decode=decode)

    def param(self, prefix: str, key: str, name: str, aggregate: bool = False,
              decode: bool = False) -> Any:
        """One param's value, ``None`` when unset (``aggregate`` also falls back to the
        Param's default; ``decode``: a secure value in clear)."""
        return self.api.get_param(prefix, key, name, aggregate=aggregate, decode=decode)

    def set_param(self, prefix: str, key: str, name: str, value: Any) -> Any:
        """``POST .../params/<name>`` with ``value``; returns the stored value."""
        return self.api.set_param(prefix, key, name, value)

    def create_machine(self, name: str, params: Obj | None = None,
                       profiles: list[str] | None = None, **fields: Any) -> Obj:
        """Create machine ``name`` with ``params``, ``profiles`` and any other ``fields``;
        returns it as stored."""
        return self.create("machines", {"Name": name, "Params": params or {},
                                        "Profiles": profiles or [], **fields})

    def create_profile(self, name: str, params: Obj | None = None, **fields: Any) -> Obj:
        """Create profile ``name`` with ``params`` and any other ``fields``; returns it as
        stored."""
        return self.create("profiles", {"Name": name, "Params": params or {}, **fields})

    def create_param(self, name: str, schema: Obj | None = None, secure: bool = False,
                     **fields: Any) -> Obj:
        """Create the Param (definition) ``name`` with JSON ``schema``, ``secure`` and any
        other ``fields``; returns it as stored."""
        return self.create("params", {"Name": name, "Schema": schema or {}, "Secure": secure,
                                      **fields})

    # ---- actions -----------------------------------------------------------------

    def action(self, command: str, on: Any = None, params: Obj | None = None,
               plugin: str | None = None) -> Any:
        """Run an action: ``on`` is ``None`` (system), ``prefix/key``, a machine name or dict."""
        prefix, key = parse_target(on)
        if prefix:
            return self.api.run_action(prefix, key, command, params or {}, plugin=plugin)
        return self.api.run_system_action(command, params or {}, plugin=plugin)

    def actions(self, on: Any = None) -> list[Obj]:
        """The actions available on ``on`` (``None``: system actions)."""
        prefix, key = parse_target(on)
        if prefix:
            return self.api.list_actions(prefix, key)
        return self.api.list_system_actions()


class ProviderUnderTest:
    """A provider loaded into the stand-in, with its running Plugin."""

    def __init__(self, drp: StandInThread, client: StandInClient, provider: Obj,
                 plugin: Obj) -> None:
        self.drp = drp
        self.client = client
        self.provider = provider
        self.plugin = plugin

    @property
    def name(self) -> str:
        """The provider's Name."""
        return str(self.provider["Name"])

    @property
    def plugin_name(self) -> str:
        """The running Plugin's Name (``plugin`` of :func:`load_provider`, else the
        provider's Name)."""
        return str(self.plugin["Name"])

    def action(self, command: str, on: Any = None, params: Obj | None = None) -> Any:
        """Run one of this plugin's actions through the REST API."""
        return self.client.action(command, on, params, plugin=self.plugin_name)

    @property
    def logs(self) -> list[LogRecord]:
        """Log records of this provider and its plugin."""
        return [r for r in self.drp.logs
                if r.plugin == self.plugin_name or (not r.plugin and r.provider == self.name)]

    @property
    def log_messages(self) -> list[str]:
        """The ``message`` of each of :attr:`logs`, in order."""
        return [r.message for r in self.logs]

    @property
    def published(self) -> list[Obj]:
        """Events the plugin sent to ``/publish``."""
        return self.drp.published.get(self.plugin_name, [])

    def wait_log(self, text: str, timeout: float = 10.0) -> LogRecord:
        """The first log record of this plugin whose message contains ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.logs:
                if text in record.message:
                    return record
            if time.monotonic() > deadline:
                raise TimeoutError(f"no log line containing {text!r} in {timeout}s")
            time.sleep(0.02)

    def restart(self, params: Obj | None = None) -> Obj:
        """Set the Plugin's Params (``None`` keeps the current ones) and wait until it runs.

        As in DRP, a Plugin is restarted when its Params change (or when it is not
        running); the same Params leave a running Plugin as it is.
        """
        if params is None:
            params = dict(self.plugin.get("Params") or {})
        self.plugin = self.drp.ensure_plugin(self.plugin_name, self.name, params)
        return self.plugin


def load_provider(drp: StandInThread, client: StandInClient,
                  source: str | os.PathLike[str] | Sequence[str], *, name: str | None = None,
                  plugin: str | None = None, params: Obj | None = None,
                  replace_writable: bool = False) -> ProviderUnderTest:
    """Install ``source`` (``.py`` file, built file, command) and start a Plugin for it.

    An ``AutoStart`` provider's own Plugin starts with ``params`` too, never with its
    defaults (which could write to real paths of the test machine).
    """
    drp.standin.providers.autostart_params = params
    try:
        provider = drp.add_provider(source, name, replace_writable)
    finally:
        drp.standin.providers.autostart_params = None
    plugin_obj = drp.ensure_plugin(plugin or provider["Name"], provider["Name"], params)
    return ProviderUnderTest(drp, client, provider, plugin_obj)
