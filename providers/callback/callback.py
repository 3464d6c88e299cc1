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

import callback_core  # noqa: F401 - an empty package; the build carries what is imported

from drp_plugin import Action, Context, Event, PluginError, Provider

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from typing import Any

    from callback_core.engine import Engine


async def lifespan(ctx: Context) -> AsyncIterator[Engine]:
    """The plugin's state, an :class:`~callback_core.engine.Engine`: made on the first
    config (httpx and Jinja2 load only then), stopped on stop."""
    from callback_core.engine import Engine

    engine = Engine()
    try:
        yield engine
    finally:
        await engine.stop(ctx.log)


# The version is [project].version of pyproject.toml beside this file.
provider = Provider(
    "callback",
    lifespan=lifespan,
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



def engine(ctx: Context) -> Engine:
    """The plugin's state (typed)."""
    from callback_core.engine import Engine

    return ctx.state_as(Engine)


@provider.config
async def configure(ctx: Context, params: dict[str, Any]) -> None:
    from callback_core.errors import with_plugin_key

    try:
        await engine(ctx).configure(ctx.log, params)
    except PluginError as exc:
        raise with_plugin_key(exc, str(params.get("Name") or "")) from None


@provider.action("callbackDo", model="machines", required=["callback/action"],
                 optional=["callback/data-override"])
async def callback_do(ctx: Context, action: Action) -> Any:
    from callback_core.errors import with_plugin_key

    try:
        return await engine(ctx).action(ctx.api, ctx.log, action)
    except PluginError as exc:
        raise with_plugin_key(exc, ctx.plugin) from None


@provider.on_event("machines.update.*", "machines.delete.*", "jobs.update.*", "jobs.save.*")
async def on_event(ctx: Context, event: Event) -> None:
    await engine(ctx).event(ctx.api, ctx.log, event)


if __name__ == "__main__":
    provider.main()
