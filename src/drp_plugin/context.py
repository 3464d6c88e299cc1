"""The context handed to every handler: logger, names, API client, back channel."""

from __future__ import annotations

from .errors import PluginError

TYPE_CHECKING = False  # typing is not imported: define must stay fast
if TYPE_CHECKING:
    import logging
    from typing import Any, TypeVar

    from .api import AsyncClient, Client
    from .models import Action, Event
    from .protocol.runtime import Runtime

    S = TypeVar("S")


class Context:
    """What an ``async def`` handler receives.

    ``log`` is a stdlib logger whose records reach DRP as ``logger.Line``s,
    ``api`` the configured API client, ``publish`` the back channel to DRP,
    ``state`` what the provider's lifespan yielded (``None`` without one).
    """

    #: The plugin's state: what the provider's lifespan yielded (set by the provider).
    state: Any = None

    def state_as(self, cls: type[S]) -> S:
        """``state``, checked to be a ``cls`` (typed access for handlers)."""
        if not isinstance(self.state, cls):
            raise PluginError(
                f"plugin state is {type(self.state).__name__}, not {cls.__name__} "
                "(is the lifespan registered, and has the plugin been configured?)",
                code=500, model="plugin", key=self.provider_name, type="plugin")
        return self.state

    def __init__(
        self,
        provider_name: str,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger],
        runtime: Runtime | None = None,
        *,
        action: Action | None = None,
        event: Event | None = None,
    ) -> None:
        self.provider_name = provider_name
        self.log = log
        self.action = action
        self.event = event
        self._runtime = runtime

    @property
    def plugin(self) -> str:
        """The Plugin instance name DRP configured (``Name`` of the config call)."""
        return self._runtime.plugin_name if self._runtime else ""

    @property
    def params(self) -> dict[str, Any]:
        """The last config params (read-only view; values may be secrets: never log them)."""
        return dict(self._runtime.config_params) if self._runtime else {}

    @property
    def api(self) -> AsyncClient:
        """The async API client built from ``RS_ENDPOINT``/``RS_TOKEN``."""
        if self._runtime is None:
            from .api import AsyncClient

            return AsyncClient.from_env()
        return self._runtime.async_api()

    async def publish(self, type: str, action: str, key: str, obj: Any = None) -> None:
        """Send an event into DRP's event stream (``/api-server-plugin/v4/publish``)."""
        if self._runtime is None:
            raise PluginError("publish is only available while listening", code=500)
        await self._runtime.backchannel.publish(type, action, key, obj)

    async def leaving(self, error: PluginError | None = None) -> None:
        """Tell DRP this plugin is about to exit (code 403 removes the provider)."""
        if self._runtime is None:
            raise PluginError("leaving is only available while listening", code=500)
        await self._runtime.backchannel.leaving(error)


class SyncContext(Context):
    """What a plain ``def`` handler receives: same as :class:`Context`, but blocking.

    Sync handlers run in a worker thread; ``api`` is the sync client and
    ``publish`` waits for DRP's answer without blocking the server's event loop.
    """

    @property
    def api(self) -> Client:  # type: ignore[override]
        if self._runtime is None:
            from .api import Client

            return Client.from_env()
        return self._runtime.sync_api()

    def publish(self, type: str, action: str, key: str, obj: Any = None) -> None:  # type: ignore[override]
        self._run(Context.publish(self, type, action, key, obj))

    def leaving(self, error: PluginError | None = None) -> None:  # type: ignore[override]
        self._run(Context.leaving(self, error))

    def _run(self, coro: Any) -> Any:
        import asyncio

        if self._runtime is None:
            coro.close()
            raise PluginError("only available while listening", code=500)
        return asyncio.run_coroutine_threadsafe(coro, self._runtime.loop).result()
