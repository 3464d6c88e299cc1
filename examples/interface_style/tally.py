#!/usr/bin/env python3
"""tally: a small provider in the interface style (a port-friendly mirror of Go).

The plugin object has the Go methods: ``config`` (mandatory), ``action``,
``stop``, ``unpack`` and ``validate``.  It keeps a count per machine in memory
and answers ``tally`` (machines) and ``tallies`` (system).
"""

from __future__ import annotations

import os
import threading

from drp_plugin import Action, App, PluginError

TYPE_CHECKING = False  # typing stays out of `define` (start-up time)
if TYPE_CHECKING:
    import logging
    from typing import Any

    from drp_plugin.api import Client
    from drp_plugin.go_interfaces import PluginActor, PluginStop, PluginUnpacker, PluginValidator

DEFINITION = {
    "Name": "tally",
    "Version": "v1.0.0",
    "PluginVersion": 4,
    "AvailableActions": [
        {"Command": "tally", "Model": "machines", "OptionalParams": ["tally/step"]},
        {"Command": "tallies", "Model": ""},
    ],
    "OptionalParams": ["tally/start"],
    "Documentation": "Counts actions per machine.",
}


class Tally:
    """Go-style plugin: methods take a logger first, errors are raised."""

    def __init__(self) -> None:
        self.start = 0
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def config(self, log: logging.Logger, api: Client | None, params: dict[str, Any]) -> None:
        start = params.get("tally/start", 0)
        if not isinstance(start, int):
            raise PluginError("tally/start must be an integer", code=400, model="plugin", key="tally")
        self.start = start
        log.info("configured with %d param(s)", len(params))

    def action(self, log: logging.Logger, action: Action) -> Any:
        if action.command == "tallies":
            with self.lock:
                return dict(self.counts)
        if action.command == "tally":
            uuid = action.uuid  # the definition declares tally on machines only
            if uuid is None:
                raise PluginError("tally needs a machine", code=409, model="plugin", key="tally")
            step = action.params.get("tally/step", 1)
            with self.lock:
                self.counts[uuid] = self.counts.get(uuid, self.start) + int(step)
                return self.counts[uuid]
        raise PluginError(f"Unknown command: {action.command}", code=404,
                          model="plugin", key="tally", type="plugin")

    def unpack(self, log: logging.Logger, directory: str) -> None:
        with open(os.path.join(directory, "tally.txt"), "w", encoding="utf-8") as fh:
            fh.write("tally\n")

    def validate(self, log: logging.Logger, api: Client | None) -> dict[str, Any]:
        # Called by define unless RS_TOKEN=catalog: may change the definition.
        definition = app.definition()
        definition["Documentation"] += " (validated)"
        return definition

    def stop(self, log: logging.Logger) -> None:
        log.info("tally stopping with %d machine(s)", len(self.counts))


app = App("tally", Tally(), definition=DEFINITION)  # App holds Tally to PluginConfig

if TYPE_CHECKING:  # and a type checker to the other Go interfaces it implements
    _implements: tuple[PluginActor, PluginStop, PluginUnpacker, PluginValidator] = (
        Tally(), Tally(), Tally(), Tally())

if __name__ == "__main__":
    app.main()
