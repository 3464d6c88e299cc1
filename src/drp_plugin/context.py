"""The context handed to every handler: logger, names, API client, back channel.

:class:`Context` (``async def`` handlers) and :class:`SyncContext` (``def``
handlers) are siblings over :class:`BaseContext`, the way httpx's ``Client`` and
``AsyncClient`` share ``BaseClient``: the same names, one awaitable and one
blocking.  Both reach the running provider only through :class:`ContextHost`,
a narrow protocol (``listen``'s runtime and the in-process test client each
provide one).
"""

from __future__ import annotations

from .errors import PluginError, plugin_error

TYPE_CHECKING = False  # typing is not imported: define must stay fast
if TYPE_CHECKING:
    import logging
    from collections.abc import Coroutine, Mapping
    from typing import Any, Protocol, TypeVar

    from .api import AsyncClient, Client
    from .models import Action, Event

    T = TypeVar("T")

    class ContextHost(Protocol):
        """What a context needs from the process serving DRP, and nothing more."""

        @property
        def plugin_name(self) -> str:
            """The Plugin instance name DRP configured."""

        @property
        def config_params(self) -> Mapping[str, Any]:
            """The params of the last config call."""

        def async_api(self) -> AsyncClient:
            """The shared async API client."""

        def sync_api(self) -> Client:
            """The shared blocking API client."""

        async def publish(self, type: str, action: str, key: str, obj: Any = None) -> None:
            """Send an event into DRP's event stream."""

        async def leaving(self, error: PluginError | None = None) -> None:
            """Tell DRP the plugin is about to exit."""

        def run_from_thread(self, coro: Coroutine[Any, Any, T]) -> T:
            """Run ``coro`` on the serving event loop from a worker thread; wait for it."""

    S = TypeVar("S")


class BaseContext:
    """What both contexts have: ``log``, the names, the config params, the thing handled."""

    #: The plugin's state: what the provider's lifespan yielded (set by the provider).
    state: Any = None

    def state_as(self, cls: type[S]) -> S:
        """``state``, checked to be a ``cls`` (typed access for handlers)."""
        if not isinstance(self.state, cls):
            raise plugin_error(
                self.provider_name,
                f"plugin state is {type(self.state).__name__}, not {cls.__name__} "
                "(is the lifespan registered, and has the plugin been configured?)",
                code=500)
        return self.state

    def __init__(
        self,
        provider_name: str,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger],
        host: ContextHost | None = None,
        *,
        action: Action | None = None,
        event: Event | None = None,
    ) -> None:
        self.provider_name = provider_name
        self.log = log
        self.action = action
        self.event = event
        self._host = host

    @property
    def plugin(self) -> str:
        """The Plugin instance name DRP configured (``Name`` of the config call)."""
        return self._host.plugin_name if self._host is not None else ""

    @property
    def params(self) -> dict[str, Any]:
        """The last config params (a copy; values may be secrets: never log them)."""
        return dict(self._host.config_params) if self._host is not None else {}

    def _listening(self, what: str) -> ContextHost:
        if self._host is None:
            raise PluginError(f"{what} is only available while listening", code=500)
        return self._host


class Context(BaseContext):
    """What an ``async def`` handler receives.

    ``log`` is a stdlib logger whose records reach DRP as ``logger.Line``s,
    ``api`` the configured API client, ``publish`` the back channel to DRP.
    """

    @property
    def api(self) -> AsyncClient:
        """The async API client built from ``RS_ENDPOINT``/``RS_TOKEN``."""
        if self._host is None:
            from .api import AsyncClient

            return AsyncClient.from_env()
        return self._host.async_api()

    async def publish(self, type: str, action: str, key: str, obj: Any = None) -> None:
        """Send an event into DRP's event stream (``/api-server-plugin/v4/publish``)."""
        await self._listening("publish").publish(type, action, key, obj)

    async def leaving(self, error: PluginError | None = None) -> None:
        """Tell DRP this plugin is about to exit (code 403 removes the provider)."""
        await self._listening("leaving").leaving(error)


class SyncContext(BaseContext):
    """What a plain ``def`` handler receives: same as :class:`Context`, but blocking.

    Sync handlers run in a worker thread; ``api`` is the sync client and
    ``publish`` waits for DRP's answer without blocking the server's event loop.
    """

    @property
    def api(self) -> Client:
        """The blocking API client built from ``RS_ENDPOINT``/``RS_TOKEN``."""
        if self._host is None:
            from .api import Client

            return Client.from_env()
        return self._host.sync_api()

    def publish(self, type: str, action: str, key: str, obj: Any = None) -> None:
        """Send an event into DRP's event stream; returns once DRP answered."""
        host = self._listening("publish")
        host.run_from_thread(host.publish(type, action, key, obj))

    def leaving(self, error: PluginError | None = None) -> None:
        """Tell DRP this plugin is about to exit; returns once DRP answered."""
        host = self._listening("leaving")
        host.run_from_thread(host.leaving(error))
