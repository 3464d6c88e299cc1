"""Drive a provider in this process, with no socket, the way starlette's TestClient drives an app.

:class:`TestClient` sends DRP's calls (config, action, publish, stop) through the
very wiring ``listen`` uses (:class:`drp_plugin.protocol.runtime.Wiring`: the
router, settings, lifecycle and contexts); only the transport is missing, and DRP's
event stream (events are delivered with :meth:`TestClient.event`).  The
back channel records what handlers publish and send as ``leaving``; log records
are kept in :attr:`TestClient.records`::

    from drp_plugin.testing.inprocess import TestClient

    def test_increment():
        with TestClient(provider) as client:
            assert client.config({"Name": "incrementer"}).status == 200
            reply = client.action("incrstatus")
            assert (reply.status, reply.body) == (200, "Running")

The provider runs on an event loop in a background thread, so sync handlers,
``SyncContext.publish`` and async handlers behave as under ``listen``.  Handlers
that use ``ctx.api`` need an API: pass ``api=`` (an ``AsyncClient`` factory) and
``sync_api=``, or ``environ={"RS_ENDPOINT": ..., "RS_TOKEN": ...}`` (a stand-in's);
the process environment is not read.  For the
wire itself (HTTP, sockets, process exit) use :class:`drp_plugin.testing.PluginHost`.

Because the handlers run in the test's process, whatever the test sets up in this
process reaches them: an ``httpx.MockTransport`` in place of the provider's external
service, a monkeypatched module attribute.  A provider that builds its HTTP client in
its lifespan with a transport the test can set (a module attribute read by the
lifespan) is tested without a fake server; docs/howto/testing.md shows the pattern.
The lifespan is entered by the first :meth:`TestClient.config` and left by
:meth:`TestClient.stop`, or by :meth:`TestClient.close` when the test did not stop, so
the next test builds its own state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import PluginError
from ..models import Event, make_event
from ..protocol import paths
from ..protocol.httpserver import WireRequest, reply_payload
from ..protocol.runtime import Wiring
from ..protocol.settings import ListenSettings

if TYPE_CHECKING:
    from ..api import AsyncClient, Client
    from ..provider import BaseProvider

T = TypeVar("T")

__all__ = ["InProcessReply", "RecordingBackChannel", "TestClient"]


class InProcessReply:
    """What the router answered: ``status`` and ``body`` (the decoded JSON)."""

    __slots__ = ("status", "body")

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body

    def json(self) -> Any:
        """The body (already decoded; for symmetry with :class:`~drp_plugin.testing.HostReply`)."""
        return self.body

    @property
    def messages(self) -> list[str]:
        """``Messages`` of a ``models.Error`` body (empty for anything else)."""
        if isinstance(self.body, dict):
            return list(self.body.get("Messages") or [])
        return []

    def __repr__(self) -> str:
        return f"InProcessReply({self.status}, {self.body!r})"


class RecordingBackChannel:
    """The back channel of the test client: keeps what would have been posted to DRP."""

    def __init__(self) -> None:
        #: Events sent with ``ctx.publish``, as DRP would receive them.
        self.events: list[dict[str, Any]] = []
        #: ``models.Error`` bodies sent with ``ctx.leaving``.
        self.notices: list[dict[str, Any]] = []

    async def publish(self, type: str, action: str, key: str, obj: Any = None) -> None:
        """Record one event (encoded as JSON, as on the wire)."""
        event = make_event(type, action, key, obj)
        self.events.append(json.loads(json.dumps(event)))

    async def leaving(self, error: PluginError | None = None) -> None:
        """Record a leaving notice."""
        err = error if error is not None else PluginError(code=200)
        self.notices.append(err.to_dict())


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class TestClient:
    """Run ``provider``'s routes in-process; use as a context manager.

    ``settings`` default to :class:`~drp_plugin.protocol.settings.ListenSettings` with the
    provider's action timeout (the environment is not read).  ``environ`` is what
    config checks ``RS_TOKEN`` in (default: a test token).  ``timeout`` bounds each
    call, in seconds.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        provider: BaseProvider,
        *,
        settings: ListenSettings | None = None,
        environ: Mapping[str, str] | None = None,
        api: Callable[[], AsyncClient] | None = None,
        sync_api: Callable[[], Client] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.provider = provider
        self.environ = dict(environ) if environ is not None else {"RS_TOKEN": "test-token"}
        # Whether config finds a token is the environment's say, as under listen.
        self.settings = replace(
            settings if settings is not None else ListenSettings(
                action_timeout=provider.action_timeout),
            token_given=bool(self.environ.get("RS_TOKEN")))
        self.timeout = timeout
        self.backchannel = RecordingBackChannel()
        self._api = api if api is not None else self._env_async_api
        self._sync_api = sync_api if sync_api is not None else self._env_sync_api
        self._records = _Records()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._wiring: Wiring | None = None
        self._saved_level = logging.NOTSET

    def _env_async_api(self) -> AsyncClient:
        from ..api import AsyncClient

        return AsyncClient(self.environ.get("RS_ENDPOINT"), self.environ.get("RS_TOKEN"))

    def _env_sync_api(self) -> Client:
        from ..api import Client

        return Client(self.environ.get("RS_ENDPOINT"), self.environ.get("RS_TOKEN"))

    # -- what was sent to DRP ---------------------------------------------------------------
    @property
    def published(self) -> list[dict[str, Any]]:
        """Events handlers published."""
        return self.backchannel.events

    @property
    def leaving(self) -> list[dict[str, Any]]:
        """Leaving notices handlers sent."""
        return self.backchannel.notices

    @property
    def records(self) -> list[logging.LogRecord]:
        """Every log record emitted while the client ran (each would be one ``/log`` line)."""
        return self._records.records

    @property
    def state(self) -> Any:
        """The plugin's state: what the provider's lifespan yielded on the first config
        (``ctx.state`` in handlers); ``None`` before it and after stop or close."""
        return self.provider.state

    @property
    def stopping(self) -> bool:
        """Whether a stop was requested."""
        return self._wiring is not None and self._wiring.lifecycle.stopping

    # -- lifetime -----------------------------------------------------------------------------
    def __enter__(self) -> TestClient:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the event loop thread and build the router on it."""
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="drp-plugin-testclient",
                                        daemon=True)
        self._thread.start()
        logging.getLogger().addHandler(self._records)
        # Every record of the framework and the provider, as ``listen --debug`` ships them.
        framework = logging.getLogger("drp_plugin")
        self._saved_level = framework.level
        framework.setLevel(logging.DEBUG)
        self._call(self._build())

    async def _build(self) -> None:
        # listen's wiring; only the back channel records and events come from event().
        self._wiring = Wiring(self.provider, self.settings, self.backchannel, api=self._api,
                              sync_api=self._sync_api,
                              stream_events=False)

    def close(self) -> None:
        """Stop the loop (without a ``/stop``), close the API clients, drop the log handler.

        A lifespan still entered (no :meth:`stop` was sent) is left first, on the
        provider's loop, as stop would leave it (the stop handler is not run): what it
        built (HTTP clients, ...) is closed, and the next client of the same provider
        enters it anew.
        """
        loop = self._loop
        if loop is None:
            return
        try:
            try:
                self._call(self.provider._exit_lifespan())
            finally:
                if self._wiring is not None:
                    self._call(self._wiring.services.aclose())
        finally:
            logging.getLogger().removeHandler(self._records)
            logging.getLogger("drp_plugin").setLevel(self._saved_level)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(self.timeout)
            loop.close()
            self._loop = None

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the TestClient is not started: use it as a context manager")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout)

    # -- DRP's calls ------------------------------------------------------------------------------
    def request(self, path: str, body: Any = None, *, method: str = "POST",
                content: bytes | None = None,
                content_type: str = "application/json") -> InProcessReply:
        """Send one request through the router; ``content`` overrides the JSON of ``body``."""
        if content is None:
            content = b"" if body is None else json.dumps(body).encode()
        headers = {"content-type": content_type} if content_type else {}
        request = WireRequest(method, path, headers, content)
        return self._call(self._handle(request))

    async def _handle(self, request: WireRequest) -> InProcessReply:
        assert self._wiring is not None
        status, body = await self._wiring.router.handle(request)
        # The server writes the reply, then runs this (``/stop`` counts its replies).
        if request.after_response is not None:
            request.after_response()
        # Decoded from the JSON the server would write (a reply that is not JSON is a 500).
        status, payload = reply_payload(status, body, request)
        return InProcessReply(status, json.loads(payload))

    def config(self, params: dict[str, Any] | None = None) -> InProcessReply:
        """``POST /config`` with ``params``."""
        return self.request(paths.CONFIG, params if params is not None else {})

    def action(self, command: str, params: dict[str, Any] | None = None, model: Any = None,
               plugin: str = "") -> InProcessReply:
        """``POST /action``: run ``command`` on ``model`` (a machine object, or None)."""
        return self.request(paths.ACTION, {"Command": command, "Plugin": plugin,
                                           "Model": model, "Params": params or {}})

    def publish(self, event: dict[str, Any]) -> InProcessReply:
        """``POST /publish`` (routed only when the provider serves it: else 404)."""
        return self.request(paths.PUBLISH, event)

    def stop(self) -> InProcessReply:
        """``POST /stop`` with DRP's ``null`` body: runs the drain, answers once it is over."""
        return self.request(paths.STOP, content=b"null")

    def event(self, event: dict[str, Any]) -> None:
        """Deliver one event from DRP's stream to the provider's ``on_event`` handlers."""
        if self._wiring is None:
            raise RuntimeError("the TestClient is not started: use it as a context manager")
        self._call(self._wiring.deliver(Event(event)))
