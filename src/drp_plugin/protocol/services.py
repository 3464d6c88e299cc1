"""What handlers reach through their context while ``listen`` runs.

:class:`Services` is the :class:`~drp_plugin.context.ContextHost` of a running
provider: the names DRP configured, the API clients (built on first use, shared
by every handler), and the back channel.  The in-process test client builds one
with a back channel that records instead of posting.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from typing import Protocol

    from ..api import AsyncClient, Client
    from ..errors import PluginError

    class BackChannelLike(Protocol):
        """The two calls handlers make into DRP (see :class:`.backchannel.BackChannel`)."""

        async def publish(self, type: str, action: str, key: str, obj: Any = None) -> None:
            """Send one event into DRP's event stream."""

        async def leaving(self, error: PluginError | None = None) -> None:
            """Tell DRP the plugin is about to exit."""

T = TypeVar("T")


class Services:
    """The names, API clients and back channel a provider's handlers use.

    ``async_factory`` / ``sync_factory`` build the API clients (default: from
    ``RS_ENDPOINT`` / ``RS_TOKEN``); they are called once, on first use.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        backchannel: BackChannelLike,
        *,
        async_factory: Callable[[], AsyncClient] | None = None,
        sync_factory: Callable[[], Client] | None = None,
    ) -> None:
        self.loop = loop
        self.backchannel = backchannel
        #: ``Name`` of the last config call (the Plugin object).
        self.plugin_name = ""
        self._params: dict[str, Any] = {}
        self._async_factory = async_factory
        self._sync_factory = sync_factory
        self._async_api: AsyncClient | None = None
        self._sync_api: Client | None = None
        self._sync_lock = threading.Lock()

    @property
    def config_params(self) -> Mapping[str, Any]:
        """The params of the last config call (values may be secrets: never log them)."""
        return self._params

    def configure(self, params: dict[str, Any]) -> None:
        """Record a config call's params (and the plugin's name, when given)."""
        self.plugin_name = str(params.get("Name") or self.plugin_name)
        self._params = params

    def async_api(self) -> AsyncClient:
        """The async API client, built on first use."""
        if self._async_api is None:
            if self._async_factory is not None:
                self._async_api = self._async_factory()
            else:
                from ..api import AsyncClient

                self._async_api = AsyncClient.from_env()
        return self._async_api

    def sync_api(self) -> Client:
        """The blocking API client, built on first use (by one of the handler threads
        that ask at once: they all share it, and its one connection pool)."""
        api = self._sync_api
        if api is None:
            with self._sync_lock:
                api = self._sync_api
                if api is None:
                    if self._sync_factory is not None:
                        api = self._sync_factory()
                    else:
                        from ..api import Client

                        api = Client.from_env()
                    self._sync_api = api
        return api

    async def publish(self, type: str, action: str, key: str, obj: Any = None) -> None:
        """Send an event into DRP's event stream."""
        await self.backchannel.publish(type, action, key, obj)

    async def leaving(self, error: PluginError | None = None) -> None:
        """Tell DRP the plugin is about to exit."""
        await self.backchannel.leaving(error)

    def run_from_thread(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the serving loop from a worker thread and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def aclose(self) -> None:
        """Close the API clients that were built."""
        api, self._async_api = self._async_api, None
        if api is not None:
            await api.aclose()
        sync, self._sync_api = self._sync_api, None
        if sync is not None:
            sync.close()
