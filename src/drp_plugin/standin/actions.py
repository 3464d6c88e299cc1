"""Running plugin actions (docs/protocol.md sections 2 and 4).

Given params are checked against their Param schemas; missing required and
optional params are filled from the target's aggregated params (the global
profile for system actions), then from the Param default; a required param still
missing is ``400 Missing Parameter <p>``.  The provider gets a ``models.Action``;
its error comes back with status = error Code and ``Type`` = ``INVOKE``; a 2xx
reply that is empty or not JSON becomes 409.
"""

from __future__ import annotations

import json
from typing import Any

from .._types import Obj
from ..errors import PluginError
from .providers import Providers
from .store import GLOBAL_PROFILE, Store


class Actions:
    """Lists and runs the actions of running plugins."""

    def __init__(self, store: Store, providers: Providers) -> None:
        self.store = store
        self.providers = providers

    def available(self, model: str, plugin: str | None = None,
                  target: Obj | None = None) -> list[Obj]:
        """The AvailableActions for objects of ``model`` (``""``: system actions); for a
        ``target`` object, only those whose required params it has (recorded
        TestMachineCli: ``machines actions <uuid>`` lists ``reset_count``, which requires
        ``incrementer/touched``, only while the machine has that param)."""
        return [a for name, a in self.providers.actions(model) if plugin in (None, name)
                and (target is None or self.missing(model, target, a) is None)]

    def _known(self, model: str, target: Obj | None) -> dict[str, Any]:
        """The params an action on ``target`` may take from it: its aggregated params, or
        the global profile's for a system action."""
        if target is not None and isinstance(target.get("Params"), dict):
            return self.store.aggregate(model, target)
        return dict(self.store.data["profiles"][GLOBAL_PROFILE].get("Params") or {})

    def missing(self, model: str, target: Obj | None, action: Obj) -> str | None:
        """The first required param of ``action`` that neither ``target`` nor a param
        default gives, if any."""
        known = self._known(model, target)
        for pname in action.get("RequiredParams") or []:
            if pname not in known and not self.store.param_default(pname)[0]:
                return str(pname)
        return None

    def find(self, model: str, key: str, command: str, plugin: str | None,
             target: Obj | None) -> tuple[str, Obj]:
        """``(plugin name, action)`` that serves ``command`` on ``model``."""
        candidates = [(name, a) for name, a in self.providers.actions(model)
                      if a.get("Command") == command and plugin in (None, name)]
        if model == "plugins" and target is not None and plugin is None:
            own = [c for c in candidates if c[0] == target.get("Name")]
            candidates = own or candidates
        if not candidates:  # recorded: "INVOKE: system/global: Action command on
            # system: Not Found", "INVOKE: machines/<uuid>: Action command on machines: ..."
            where = f" from plugin {plugin}" if plugin else ""
            raise PluginError(f"Action {command} on {model or 'system'}{where}: Not Found",
                              code=404, model=model or "system", key=key or GLOBAL_PROFILE,
                              type="INVOKE")
        return candidates[0]

    async def run(self, model: str, key: str, command: str, params: Any,
                  plugin: str | None = None) -> Any:
        """Run ``command`` on ``model/key`` (``model`` ``""``: a system action)."""
        target = self.store.get(model, key, "POST") if model else None
        name, action = self.find(model, key, command, plugin, target)
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise PluginError("Action params must be a JSON object", code=400,
                              model=model or "system", key=key, type="POST")
        params = dict(params)
        errors: list[str] = []
        for pname in list(params):
            params[pname], errs = self.store.check_param(pname, params[pname])
            errors.extend(errs)
        if errors:  # recorded: "INVOKE: machines/<uuid>: Action increment: Invalid ..."
            raise PluginError(*(f"Action {command}: {e}" for e in errors), code=422,
                              model=model or "system", key=key or GLOBAL_PROFILE,
                              type="INVOKE")
        known = self._known(model, target)
        required = action.get("RequiredParams") or []
        for pname in [*required, *(action.get("OptionalParams") or [])]:
            if pname in params:
                continue
            if pname in known:
                params[pname] = known[pname]
                continue
            found, default = self.store.param_default(pname)
            if found:
                params[pname] = default
            elif pname in required:
                # recorded: "INVOKE: machines/<uuid>: Action reset_count Missing
                # Parameter incrementer/touched"
                raise PluginError(f"Action {command} Missing Parameter {pname}", code=400,
                                  model=model or "system", key=key or GLOBAL_PROFILE,
                                  type="INVOKE")
        body = {
            "Model": self.store.render(model, target) if target is not None else None,
            "Plugin": name,
            "Command": command,
            "CommandSet": "",
            "Params": params,
        }
        process = self.providers.running[name].process
        status, reply = await process.call("action", json.dumps(body).encode())
        try:
            value = json.loads(reply) if reply.strip() else None
            decoded = bool(reply.strip())
        except ValueError:
            value, decoded = reply.decode(errors="replace"), False
        if 200 <= status < 300:
            if not decoded:
                raise PluginError(f"Plugin {name} gave an invalid action reply: {reply[:200]!r}",
                                  code=409, model=model or "system", key=key, type="INVOKE")
            return value
        if value is None:
            value = f"Plugin {name} answered {status} without a body"
        err = PluginError.from_dict(value, status)
        err.type = "INVOKE"
        raise err
