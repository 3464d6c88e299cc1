#!/usr/bin/env python3
"""callback: outbound HTTP callbacks from DRP, a port of the Go ``callback`` plugin.

- Action ``callbackDo`` (machines): sends the callback of ``callback/callbacks``
  named by ``callback/action``, with the machine (or ``callback/data-override``)
  as the body, and answers the response.
- Events: a machine that finishes its task list gets the ``taskcomplete``
  callback, a job that fails gets the ``jobfail`` callback of its machine (when
  those callbacks are configured); once per completion or failure, in order per
  machine.

See README.md beside this file.  Run it: ``python callback.py define``.
"""

from __future__ import annotations

import callback_core

from drp_plugin import Action, Context, Event, Provider

provider = Provider(
    "callback",
    version=callback_core.VERSION,
    description="Outbound HTTP callbacks from machine actions and events",
    content="content",
    auto_start=True,
    required_params=["callback/callbacks"],
    optional_params=["callback/auths", "callback/proxy"],
    documentation=(
        "Sends HTTP callbacks described by ``callback/callbacks``: on request with "
        "the ``callbackDo`` machine action, and on their own when a machine completes "
        "its tasks (``taskcomplete``) or a job fails (``jobfail``)."
    ),
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from callback_core.engine import Engine

_engine: list[Engine] = []


def engine() -> Engine:
    """The plugin's state, created on first use (httpx and Jinja2 load only then)."""
    if not _engine:
        from callback_core.engine import Engine

        _engine.append(Engine())
    return _engine[0]


@provider.config
async def configure(ctx: Context, params: dict[str, Any]) -> None:
    await engine().configure(ctx.log, params)


@provider.action("callbackDo", model="machines", required=["callback/action"],
                 optional=["callback/data-override"])
async def callback_do(ctx: Context, action: Action) -> Any:
    return await engine().action(ctx.api, ctx.log, action)


@provider.on_event("machines.update.*", "machines.delete.*", "jobs.update.*", "jobs.save.*")
async def on_event(ctx: Context, event: Event) -> None:
    await engine().event(ctx.api, ctx.log, event)


@provider.stop
async def stop(ctx: Context) -> None:
    if _engine:
        await _engine[0].stop(ctx.log)


if __name__ == "__main__":
    provider.main()
