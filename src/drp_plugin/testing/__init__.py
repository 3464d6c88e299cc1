"""Test helpers: a protocol host that runs one provider process, and the pytest plugin.

:class:`PluginHost` is the DRP side of docs/protocol.md sections 1 to 3 and nothing else:
it starts a provider with ``listen``, serves the from-plugin socket (recording
publish, log and leaving), and sends config, action, publish and stop.  The whole
local DRP (REST API, events, provider lifecycle) is :mod:`drp_plugin.standin`.

Names are imported lazily: the pytest plugin loads this package in every pytest
session, and the host pulls in aiohttp and httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .host import HostReply, LogSink, PluginHost

__all__ = ["LogSink", "PluginHost", "HostReply"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import host

        return getattr(host, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
