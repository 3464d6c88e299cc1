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

    def config(self, log, api, params):  # type: ignore[no-untyped-def]
        start = params.get("tally/start", 0)
        if not isinstance(start, int):
            raise PluginError("tally/start must be an integer", code=400, model="plugin", key="tally")
        self.start = start
        log.info("configured with %d param(s)", len(params))

    def action(self, log, action: Action):  # type: ignore[no-untyped-def]
        if action.command == "tallies":
            with self.lock:
                return dict(self.counts)
        if action.command == "tally":
            uuid = action.uuid
            if uuid is None:
                raise PluginError("tally needs a machine", code=409, model="plugin", key="tally")
            step = action.params.get("tally/step", 1)
            with self.lock:
                self.counts[uuid] = self.counts.get(uuid, self.start) + int(step)
                return self.counts[uuid]
        raise PluginError(f"Unknown command: {action.command}", code=404,
                          model="plugin", key="tally", type="plugin")

    def unpack(self, log, directory: str) -> None:  # type: ignore[no-untyped-def]
        with open(os.path.join(directory, "tally.txt"), "w", encoding="utf-8") as fh:
            fh.write("tally\n")

    def validate(self, log, api):  # type: ignore[no-untyped-def]
        # Called by define unless RS_TOKEN=catalog: may change the definition.
        definition = app.definition()
        definition["Documentation"] += " (validated)"
        return definition

    def stop(self, log) -> None:  # type: ignore[no-untyped-def]
        log.info("tally stopping with %d machine(s)", len(self.counts))


app = App("tally", Tally(), definition=DEFINITION)

if __name__ == "__main__":
    app.main()
