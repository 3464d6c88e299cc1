"""The settings of ``listen``: every ``DRP_PLUGIN_*`` variable, parsed and checked in one place.

:meth:`ListenSettings.from_env` reads them all before ``READY!``; a bad value raises
:class:`SettingsError`, whose text is one line naming the variable (``listen``
prints it and exits 1, the way DRP reads a failed start).  Sizes are bytes, times
are seconds.  The defaults, and why:

==============================  =========  ==============================================
variable                        default    meaning
==============================  =========  ==============================================
``DRP_PLUGIN_MAX_BODY``         64 MiB     largest request body (413 above); DRP's own
                                           requests are a machine object plus params
``DRP_PLUGIN_ACTION_TIMEOUT``   none       an action running longer is answered 504
                                           (``Provider(action_timeout=)`` when unset;
                                           ``none`` means no limit)
``DRP_PLUGIN_DRP_GONE_GRACE``   30 s       DRP's socket may be refused or missing this
                                           long before the provider stops by itself (DRP
                                           restarts take seconds)
``DRP_PLUGIN_DRP_PROBE``        1 s        how often DRP's socket is probed
``DRP_PLUGIN_STOP_TIMEOUT``     10 s       the whole drain on ``/stop`` or SIGTERM: the
                                           stop handler, then in-flight actions; actions
                                           still running then are answered 503 (DRP's own
                                           stop waits for the plugin about this long)
``DRP_PLUGIN_LOG_FLUSH``        2 s        after the drain, how long queued log lines may
                                           take to reach DRP
``DRP_PLUGIN_EXIT_GRACE``       5 s        after the drain, the process exits within this
                                           time whatever handlers left running (threads,
                                           a sync handler past its timeout): it must
                                           cover the log flush, so it is larger
``DRP_PLUGIN_MAX_HEADER``       64 KiB     largest request head (431 above)
``DRP_PLUGIN_MAX_BUFFERED``     256 MiB    request bytes held across all connections
                                           (503 above)
``DRP_PLUGIN_MAX_CONNECTIONS``  16384      concurrent connections (DRP opens one per
                                           request in flight: a rack's actions at once);
                                           at the limit idle ones are closed first, then
                                           a new one is answered 503 naming the setting
                                           (the open-file soft limit is raised to the
                                           hard limit at start, as Go does)
``DRP_PLUGIN_SYNC_THREADS``     2048       ``def`` handlers running at once for actions
                                           and ``/publish`` (a thread each, as Go runs a
                                           goroutine); one more is answered 503 naming
                                           the setting.  Past ~2,000 threads waking at
                                           once, CPython's GIL hand-offs take seconds
``DRP_PLUGIN_SYNC_IDLE``        30 s       a handler thread with nothing to do ends
                                           after this long
``DRP_PLUGIN_IDLE_TIMEOUT``     300 s      an idle keep-alive connection is closed
``DRP_PLUGIN_HEADER_TIMEOUT``   10 s       from a connection's start, or a head's first
                                           byte, to the head's end (408, or closed when
                                           no byte came)
``DRP_PLUGIN_BODY_TIMEOUT``     30 s       a body may go this long without a byte (408)
``DRP_PLUGIN_LOG_QUEUE_BYTES``  16 MiB     log lines waiting for DRP (oldest dropped,
                                           counted)
``DRP_PLUGIN_LOG_LINE_BYTES``   64 KiB     one log line (longer ones are cut, counted)
``DRP_PLUGIN_EVENT_*``          see        the event stream's bounds, checked here and
                                README     read by :mod:`drp_plugin.events.stream`
``DRP_PLUGIN_LOOP``             auto       the event loop: ``auto`` (uvloop when it is
                                           installed, else asyncio's, as uvicorn does),
                                           ``asyncio`` or ``uvloop`` (must be
                                           installed); uvloop takes 5-8% less CPU per
                                           request and ~4 ms more at start
==============================  =========  ==============================================

The server's bounds reach :class:`~drp_plugin.protocol.httpserver.ServerLimits` and the log
queue's reach :class:`~drp_plugin.protocol.logship.LogShipper` from here, so each
variable is parsed once; ``tests/unit/test_protocol_settings.py`` checks that these
defaults are the components' own.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..provider import BaseProvider
    from .httpserver import ServerLimits

DEFAULT_MAX_BODY = 64 * 1024 * 1024
#: Defaults of ``DRP_PLUGIN_SYNC_THREADS`` and ``DRP_PLUGIN_SYNC_IDLE`` (see :mod:`.threads`).
DEFAULT_SYNC_THREADS = 2048
DEFAULT_SYNC_IDLE = 30.0


class SettingsError(ValueError):
    """A ``DRP_PLUGIN_*`` variable has a value that cannot be used; the text names it."""

    def __init__(self, variable: str, value: str, reason: str) -> None:
        self.variable = variable
        self.value = value
        self.reason = reason
        super().__init__(f"{variable}={value!r} is not valid: {reason}")


@dataclass(frozen=True)
class ListenSettings:
    """What ``listen`` runs with; see the module docstring for each field's variable."""

    #: Largest request body, bytes.
    max_body: int = DEFAULT_MAX_BODY
    #: Seconds an action may run before it is answered 504 (None: no limit).
    action_timeout: float | None = None
    #: Seconds DRP's from-plugin socket may stay refused or missing before we stop.
    drp_gone_grace: float = 30.0
    #: Seconds between two probes of DRP's socket.
    drp_probe_interval: float = 1.0
    #: Seconds the drain (stop handler, then in-flight actions) may take.
    stop_timeout: float = 10.0
    #: Seconds queued log lines may take to reach DRP once the drain is over.
    log_flush_timeout: float = 2.0
    #: Seconds from the end of the drain to the process's exit, whatever is left running.
    exit_grace: float = 5.0
    #: Largest request head, bytes.
    max_header: int = 64 * 1024
    #: Request bytes held across all connections.
    max_buffered: int = 256 * 1024 * 1024
    #: Concurrent connections on the to-plugin socket.
    max_connections: int = 16384
    #: ``def`` handlers running at once for DRP's requests (actions, ``/publish``).
    sync_threads: int = DEFAULT_SYNC_THREADS
    #: Seconds an idle handler thread waits for work before it ends.
    sync_idle: float = DEFAULT_SYNC_IDLE
    #: Seconds an idle keep-alive connection is kept.
    idle_timeout: float = 300.0
    #: Seconds from a request head's first byte to its end.
    header_timeout: float = 10.0
    #: Seconds a request body may go without a byte.
    body_timeout: float = 30.0
    #: Bytes of log lines waiting for DRP.
    log_queue_bytes: int = 16 * 1024 * 1024
    #: Bytes of one encoded log line.
    log_line_bytes: int = 64 * 1024
    #: Largest event message, bytes (``DRP_PLUGIN_EVENT_MAX_BYTES``).
    event_max_bytes: int = 64 * 1024 * 1024
    #: Unread event bytes per subscription (``DRP_PLUGIN_EVENT_PENDING_BYTES``).
    event_pending_bytes: int = 16 * 1024 * 1024
    #: Websocket frames the library may buffer (``DRP_PLUGIN_EVENT_WS_QUEUE``).
    event_ws_queue: int = 4
    #: Longest wait between two reconnections, seconds (``DRP_PLUGIN_EVENT_MAX_BACKOFF``).
    event_max_backoff: float = 5.0
    #: Seconds a connection must stay up before backoff starts small again.
    event_stable_after: float = 10.0
    #: The event loop: ``auto``, ``asyncio`` or ``uvloop`` (``DRP_PLUGIN_LOOP``).
    loop: str = "auto"
    #: Whether DRP gave the plugin a token (``RS_TOKEN`` set and not empty): config
    #: answers 400 without one, as Go's plugin package does.
    token_given: bool = False

    def limits(self) -> ServerLimits:
        """The to-plugin server's bounds."""
        from .httpserver import ServerLimits

        return ServerLimits(max_body=self.max_body, max_head=self.max_header,
                      max_buffered=self.max_buffered, max_connections=self.max_connections,
                      idle_timeout=self.idle_timeout, header_timeout=self.header_timeout,
                      body_timeout=self.body_timeout)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 provider: BaseProvider | None = None) -> ListenSettings:
        """Every ``DRP_PLUGIN_*`` variable of ``environ`` (default ``os.environ``), checked.

        Unset or empty variables keep the default; ``provider.action_timeout`` is the
        default of the action timeout.  Raises :class:`SettingsError` on the first bad
        value.  ``DRP_PLUGIN_*`` names that are not listed here are left alone (other
        parts may read their own).
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {"token_given": bool(env.get("RS_TOKEN"))}
        if provider is not None:
            values["action_timeout"] = provider.action_timeout
        for name, (field, parse) in _VARIABLES.items():
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[field] = parse(raw.strip())
            except ValueError as exc:
                raise SettingsError(name, raw, str(exc)) from None
        return replace(cls(), **values)  # type: ignore[arg-type]


def _bytes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError("expected a whole number of bytes, e.g. 67108864") from None
    if value <= 0:
        raise ValueError("must be a positive number of bytes")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError("expected a whole number, e.g. 16") from None
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number of seconds, e.g. 2.5") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a positive, finite number of seconds")
    return value


def _optional_seconds(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        return _seconds(text)
    except ValueError:
        raise ValueError("expected a number of seconds, e.g. 30, or 'none' for no limit") from None


def _uvloop_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("uvloop") is not None


def loop_in_use(kind: str) -> str:
    """The loop a ``DRP_PLUGIN_LOOP`` of ``kind`` runs on here: ``auto`` is uvloop when
    it is installed, else asyncio (what :func:`.runtime.new_event_loop` makes)."""
    if kind == "auto":
        return "uvloop" if _uvloop_installed() else "asyncio"
    return kind


def _loop(text: str) -> str:
    kind = text.lower()
    if kind not in ("asyncio", "uvloop", "auto"):
        raise ValueError("expected asyncio, uvloop or auto")
    if kind == "uvloop" and not _uvloop_installed():
        raise ValueError("uvloop is not installed for this Python "
                         "(pip install 'drp-plugin[uvloop]'), or use asyncio or auto")
    return kind


#: Variable -> (field, parser).  A new setting is one row here plus one field above.
_VARIABLES: dict[str, tuple[str, Callable[[str], object]]] = {
    "DRP_PLUGIN_MAX_BODY": ("max_body", _bytes),
    "DRP_PLUGIN_ACTION_TIMEOUT": ("action_timeout", _optional_seconds),
    "DRP_PLUGIN_DRP_GONE_GRACE": ("drp_gone_grace", _seconds),
    "DRP_PLUGIN_DRP_PROBE": ("drp_probe_interval", _seconds),
    "DRP_PLUGIN_STOP_TIMEOUT": ("stop_timeout", _seconds),
    "DRP_PLUGIN_LOG_FLUSH": ("log_flush_timeout", _seconds),
    "DRP_PLUGIN_EXIT_GRACE": ("exit_grace", _seconds),
    "DRP_PLUGIN_MAX_HEADER": ("max_header", _bytes),
    "DRP_PLUGIN_MAX_BUFFERED": ("max_buffered", _bytes),
    "DRP_PLUGIN_MAX_CONNECTIONS": ("max_connections", _count),
    "DRP_PLUGIN_SYNC_THREADS": ("sync_threads", _count),
    "DRP_PLUGIN_SYNC_IDLE": ("sync_idle", _seconds),
    "DRP_PLUGIN_IDLE_TIMEOUT": ("idle_timeout", _seconds),
    "DRP_PLUGIN_HEADER_TIMEOUT": ("header_timeout", _seconds),
    "DRP_PLUGIN_BODY_TIMEOUT": ("body_timeout", _seconds),
    "DRP_PLUGIN_LOG_QUEUE_BYTES": ("log_queue_bytes", _bytes),
    "DRP_PLUGIN_LOG_LINE_BYTES": ("log_line_bytes", _bytes),
    "DRP_PLUGIN_EVENT_MAX_BYTES": ("event_max_bytes", _bytes),
    "DRP_PLUGIN_EVENT_PENDING_BYTES": ("event_pending_bytes", _bytes),
    "DRP_PLUGIN_EVENT_WS_QUEUE": ("event_ws_queue", _count),
    "DRP_PLUGIN_EVENT_MAX_BACKOFF": ("event_max_backoff", _seconds),
    "DRP_PLUGIN_EVENT_STABLE_AFTER": ("event_stable_after", _seconds),
    "DRP_PLUGIN_LOOP": ("loop", _loop),
}

#: The names of every setting variable.
VARIABLES = tuple(_VARIABLES)
