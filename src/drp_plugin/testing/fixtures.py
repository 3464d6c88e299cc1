"""What the pytest fixtures hand to tests: a small REST client and a loaded provider.

Both talk to a :class:`~drp_plugin.standin.StandInThread` the way a provider's
users would: over the real HTTPS API.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from .._types import Obj
from ..errors import PluginError
from ..standin.targets import parse_target

if TYPE_CHECKING:
    from ..standin import LogRecord, StandInThread

_NO_BODY = object()


class DRPTestClient:
    """A synchronous client of the stand-in's REST API; errors raise ``PluginError``."""

    def __init__(self, drp: StandInThread, timeout: float = 60.0) -> None:
        self.drp = drp
        self.http = httpx.Client(base_url=drp.endpoint + "/api/v3", verify=False,
                                 headers={"Authorization": f"Bearer {drp.token}"},
                                 timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> DRPTestClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def request(self, method: str, path: str, body: Any = _NO_BODY,
                params: dict[str, Any] | None = None) -> Any:
        """Send one request; the decoded JSON reply (``None`` when empty)."""
        kwargs: dict[str, Any] = {"params": params}
        if body is not _NO_BODY:
            kwargs["json"] = body
        resp = self.http.request(method, path, **kwargs)
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            data = resp.text
        if resp.status_code >= 400:
            raise PluginError.from_dict(data, resp.status_code)
        return data

    # ---- objects -----------------------------------------------------------------

    def list_objects(self, prefix: str, **query: Any) -> list[Obj]:
        result: list[Obj] = self.request("GET", f"/{prefix}", params=query or None)
        return result

    def get(self, prefix: str, key: str, **query: Any) -> Obj:
        result: Obj = self.request("GET", f"/{prefix}/{key}", params=query or None)
        return result

    def create(self, prefix: str, obj: Obj) -> Obj:
        result: Obj = self.request("POST", f"/{prefix}", obj)
        return result

    def update(self, prefix: str, key: str, obj: Obj) -> Obj:
        result: Obj = self.request("PUT", f"/{prefix}/{key}", obj)
        return result

    def patch(self, prefix: str, key: str, ops: list[Obj]) -> Obj:
        result: Obj = self.request("PATCH", f"/{prefix}/{key}", ops)
        return result

    def delete(self, prefix: str, key: str) -> Obj:
        result: Obj = self.request("DELETE", f"/{prefix}/{key}")
        return result

    def params(self, prefix: str, key: str, aggregate: bool = False,
               decode: bool = False) -> Obj:
        query = {"aggregate": str(aggregate).lower(), "decode": str(decode).lower()}
        result: Obj = self.request("GET", f"/{prefix}/{key}/params", params=query)
        return result

    def param(self, prefix: str, key: str, name: str, aggregate: bool = False,
              decode: bool = False) -> Any:
        query = {"aggregate": str(aggregate).lower(), "decode": str(decode).lower()}
        return self.request("GET", f"/{prefix}/{key}/params/{name}", params=query)

    def set_param(self, prefix: str, key: str, name: str, value: Any) -> Any:
        return self.request("POST", f"/{prefix}/{key}/params/{name}", value)

    def create_machine(self, name: str, params: Obj | None = None,
                       profiles: list[str] | None = None, **fields: Any) -> Obj:
        return self.create("machines", {"Name": name, "Params": params or {},
                                        "Profiles": profiles or [], **fields})

    def create_profile(self, name: str, params: Obj | None = None, **fields: Any) -> Obj:
        return self.create("profiles", {"Name": name, "Params": params or {}, **fields})

    def create_param(self, name: str, schema: Obj | None = None, secure: bool = False,
                     **fields: Any) -> Obj:
        return self.create("params", {"Name": name, "Schema": schema or {}, "Secure": secure,
                                      **fields})

    # ---- actions -----------------------------------------------------------------

    def action(self, command: str, on: Any = None, params: Obj | None = None,
               plugin: str | None = None) -> Any:
        """Run an action: ``on`` is ``None`` (system), ``prefix/key``, a machine name or dict."""
        prefix, key = parse_target(on)
        path = f"/{prefix}/{key}/actions/{command}" if prefix else f"/system/actions/{command}"
        return self.request("POST", path, params or {},
                            params={"plugin": plugin} if plugin else None)

    def actions(self, on: Any = None) -> list[Obj]:
        """The actions available on ``on`` (``None``: system actions)."""
        prefix, key = parse_target(on)
        result: list[Obj] = self.request(
            "GET", f"/{prefix}/{key}/actions" if prefix else "/system/actions")
        return result


class ProviderUnderTest:
    """A provider loaded into the stand-in, with its running Plugin."""

    def __init__(self, drp: StandInThread, client: DRPTestClient, provider: Obj,
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
        """Update the Plugin's Params (which restarts it) and wait until it runs again."""
        self.plugin = self.drp.ensure_plugin(self.plugin_name, self.name,
                                             params if params is not None else {})
        return self.plugin


def load_provider(drp: StandInThread, client: DRPTestClient,
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
