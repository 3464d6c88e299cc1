#!/usr/bin/env python3
"""filebeat: forward DRP events, as JSON lines, to a file or a TCP peer (Filebeat, Logstash).

A port of the Go provider ``filebeat`` of digitalrebar/provision-plugins.

Params of the plugin: ``filebeat/events`` (the event selections, ``*.*.*`` by
default), ``filebeat/mode`` (``file`` or ``tcp``), ``filebeat/path`` (file mode),
``filebeat/tcp`` (``host:port``, tcp mode), and for the buffering this port adds:
``filebeat/queue-size``, ``filebeat/spool-dir``, ``filebeat/spool-max-bytes``.

Every event becomes one line of JSON with the fields of DRP's ``models.Event``
(``Time``, ``Type``, ``Action``, ``Key``, ``Principal``, ``Object``, ``Original``).
Machine events are filtered like the Go provider does: the machine's
``gohai-inventory`` param is emptied and its ``OS`` field is renamed ``MachineOS``.

Nothing is dropped on the way::

    event stream --> pump --> spool (memory queue, then a disk file) --> forwarder --> sink

- The event stream of :mod:`drp_plugin.events` is lossless and applies
  backpressure; the pump feeds the spool in order.
- The spool keeps ``filebeat/queue-size`` events in memory; when they are not
  taken fast enough (the TCP peer is down) further events are appended to a file
  in ``filebeat/spool-dir`` and read back in order.  When that file reaches
  ``filebeat/spool-max-bytes`` too, the pump waits, and with it the event stream
  (backpressure up to DRP).
- The forwarder writes to the sink and retries what fails.  In tcp mode an event
  counts as sent once the peer's TCP stack acknowledged its bytes (Linux
  ``SIOCOUTQ``); when the connection breaks, the forwarder reconnects and sends
  again everything not acknowledged, in order.  Delivery is therefore
  *at least once*: after a broken connection the peer may see a few events twice.
  In file mode the file is opened in append mode (created 0600) and reopened when
  it was rotated (moved or deleted); copy-and-truncate rotation works as is.
- Stop flushes (bounded); what could not be delivered in time is written to the
  spool file, sent first by the next start.

This file holds the provider and its handlers; the parts above live in the
package ``filebeat_core/`` beside it (see its ``__init__``), imported when the
plugin is configured.  Run it: ``python filebeat.py define``.
"""

from __future__ import annotations

import filebeat_core

from drp_plugin import Context, Provider

TYPE_CHECKING = False  # typing and asyncio stay out of `define` (start-up time)
if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from typing import Any

    from filebeat_core.pipeline import Pipeline

NAME = filebeat_core.NAME

provider = Provider(
    NAME,
    description="Forwards DRP events as JSON lines to a file or a TCP peer for Filebeat",
    content="content",
    auto_start=True,
    required_params=["filebeat/events"],
    optional_params=["filebeat/path", "filebeat/mode", "filebeat/tcp", "filebeat/queue-size",
                     "filebeat/spool-dir", "filebeat/spool-max-bytes"],
    documentation=(
        "Forwards the DRP events selected by ``filebeat/events`` as JSON lines to the file "
        "``filebeat/path`` or the TCP peer ``filebeat/tcp``, for Filebeat or Logstash."
    ),
)

class State:
    """The plugin's state (``ctx.state``): the pipeline, once a config started it."""

    def __init__(self) -> None:
        self.pipeline: Pipeline | None = None


@provider.lifespan
async def lifespan(ctx: Context) -> AsyncIterator[State]:
    """A :class:`State` from the first config; on stop its pipeline flushes and stops."""
    state = State()
    try:
        yield state
    finally:
        pipeline, state.pipeline = state.pipeline, None
        if pipeline is not None:
            await pipeline.stop()


@provider.config
async def configure(ctx: Context, params: dict[str, Any]) -> None:
    """Check everything, then apply: a refused config leaves the running one as it was."""
    from filebeat_core.errors import error
    from filebeat_core.pipeline import Pipeline
    from filebeat_core.settings import Settings

    settings = Settings(params)
    sink = settings.sink()
    try:
        sink.check()
    except OSError as exc:
        raise error(f"Err: {exc}: file: {settings.path}", 400) from None
    state = ctx.state_as(State)
    if state.pipeline is None:
        pipeline = Pipeline(ctx.api, ctx.plugin or NAME, ctx.log)
        await pipeline.start(settings, sink)
        state.pipeline = pipeline
    else:
        await state.pipeline.reconfigure(settings, sink)
    ctx.log.info("filebeat: forwarding %s to %s %s", ", ".join(settings.selections) or "nothing",
                 settings.mode, settings.destination)


if __name__ == "__main__":
    provider.main()
