"""``StandInThread``: the stand-in in a background thread, for synchronous code."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from .._types import Obj
from .logs import LogRecord
from .server import StandIn

T = TypeVar("T")


class StandInThread:
    """A :class:`StandIn` served by its own event loop in a daemon thread.

    Use it as a context manager; attributes mirror the ``StandIn`` ones and the
    methods are blocking wrappers of the async ones.
    """

    def __init__(self, token_ttl: float | None = None, users: dict[str, str] | None = None,
                 state_file: str | os.PathLike[str] | None = None, *,
                 call_timeout: float = 120.0, **kwargs: Any) -> None:
        self._args: dict[str, Any] = dict(token_ttl=token_ttl, users=users,
                                          state_file=state_file, **kwargs)
        self.call_timeout = call_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._standin: StandIn | None = None

    @property
    def standin(self) -> StandIn:
        """The served :class:`StandIn` (use its objects only through :meth:`call`)."""
        if self._standin is None:
            raise RuntimeError("the stand-in is not running")
        return self._standin

    def start(self, timeout: float = 60.0) -> StandInThread:
        """Start the thread and wait until the stand-in serves."""
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._standin = StandIn(**self._args)
                loop.run_until_complete(self._standin.__aenter__())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name="drp-standin", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise TimeoutError("the stand-in did not start")
        if failure:
            self._standin = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop the stand-in and its thread."""
        if self._standin is None or self._loop is None or self._thread is None:
            return
        try:
            self.call(self._standin.stop)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
            self._standin = None
            self._loop = None

    def __enter__(self) -> StandInThread:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def call(self, func: Callable[..., Coroutine[Any, Any, T]], *args: Any,
             timeout: float | None = None, **kwargs: Any) -> T:
        """Run ``await func(*args, **kwargs)`` on the stand-in's loop and return the result."""
        if self._loop is None:
            raise RuntimeError("the stand-in is not running")
        future = asyncio.run_coroutine_threadsafe(func(*args, **kwargs), self._loop)
        return future.result(timeout if timeout is not None else self.call_timeout)

    def _sync(self, func: Callable[[], T]) -> T:
        async def run() -> T:
            return func()

        return self.call(run)

    # ---- attributes --------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The API URL, ``https://<host>:<port>``."""
        return self.standin.endpoint

    @property
    def token(self) -> str:
        """The superuser token issued at start (``token_ttl`` seconds; ``None``: forever)."""
        return self.standin.token

    @property
    def fileserver(self) -> str:
        """The static file server URL, ``http://<host>:<port>``."""
        return self.standin.fileserver

    @property
    def webroot(self) -> Path:
        """The directory the file server serves (``RS_WEBROOT`` of the providers)."""
        return self.standin.webroot

    @property
    def cert_path(self) -> Path:
        """The PEM file of the API's self-signed certificate."""
        return self.standin.cert_path

    @property
    def logs(self) -> list[LogRecord]:
        """A snapshot of the log records."""
        return list(self.standin.logs)

    @property
    def events(self) -> list[Obj]:
        """A snapshot of the recorded events."""
        return list(self.standin.events)

    # ---- methods -----------------------------------------------------------------

    def drop_websockets(self) -> None:
        """Close every event-stream connection (clients should reconnect); blocks until done."""
        self.call(self.standin.drop_websockets)

    @property
    def published(self) -> dict[str, list[Obj]]:
        """A snapshot of the events each plugin published, by plugin name."""
        return {k: list(v) for k, v in list(self.standin.published.items())}

    def add_provider(self, source: str | os.PathLike[str] | Sequence[str],
                     name: str | None = None, replace_writable: bool = False) -> Obj:
        """Install a provider from ``source`` (``.py`` file, built file, command line or argv);
        returns its object.  Blocking :meth:`StandIn.add_provider`."""
        return self.call(self.standin.add_provider, source, name, replace_writable)

    def ensure_plugin(self, name: str, provider: str, params: Obj | None = None) -> Obj:
        """The running Plugin ``name`` of ``provider``, created or updated; ``PluginError``
        when it did not start.  Blocking :meth:`StandIn.ensure_plugin`."""
        return self.call(self.standin.ensure_plugin, name, provider, params)

    def upload_provider(self, name: str | None, path: str | os.PathLike[str],
                        replace_writable: bool = False) -> Obj:
        """Install the built provider file ``path``, as ``POST /plugin_providers/<name>``
        does.  Blocking :meth:`StandIn.upload_provider`."""
        return self.call(self.standin.upload_provider, name, path, replace_writable)

    def add_provider_from_command(self, name: str | None, argv: list[str],
                                  replace_writable: bool = False) -> Obj:
        """Install a provider run as ``argv``.  Blocking
        :meth:`StandIn.add_provider_from_command`."""
        return self.call(self.standin.add_provider_from_command, name, argv, replace_writable)

    def create_plugin(self, name: str, provider: str, params: Obj | None = None,
                      check: bool = True) -> Obj:
        """Create a Plugin and wait until it is configured (``check``: start errors raise).
        Blocking :meth:`StandIn.create_plugin`."""
        return self.call(self.standin.create_plugin, name, provider, params, check)

    def delete_plugin(self, name: str) -> Obj:
        """Delete a Plugin (stopping it first); returns it.  Blocking
        :meth:`StandIn.delete_plugin`."""
        return self.call(self.standin.delete_plugin, name)

    def create(self, prefix: str, obj: Obj) -> Obj:
        """Create any object, like ``POST /api/v3/<prefix>``; returns it.  Blocking
        :meth:`StandIn.create`."""
        return self.call(self.standin.create, prefix, obj)

    def get(self, prefix: str, key: str, *, decode: bool = True, aggregate: bool = False) -> Obj:
        """One object as the API shows it (secure values decoded by default), read on the
        stand-in's loop."""
        return self._sync(lambda: self.standin.get(prefix, key, decode=decode,
                                                   aggregate=aggregate))

    def run_action(self, model: str, key: str, command: str, params: Obj | None = None,
                   plugin: str | None = None) -> Any:
        """Run an action like the REST API does (``model`` ``""``: system action); returns
        its result.  Blocking :meth:`StandIn.run_action`."""
        return self.call(self.standin.run_action, model, key, command, params, plugin)

    def wait_event(self, pattern: str | Callable[[Obj], bool], timeout: float = 10.0,
                   since: int = 0) -> Obj:
        """The first recorded event from index ``since`` matching ``pattern``; waits up to
        ``timeout`` seconds (``TimeoutError`` then)."""
        return self.call(self.standin.wait_event, pattern, timeout, since,
                         timeout=timeout + 5)

    def on_log(self, listener: Callable[[LogRecord], None]) -> None:
        """Call ``listener`` (in the stand-in's thread) for every new log record."""
        self.standin.on_log(listener)
