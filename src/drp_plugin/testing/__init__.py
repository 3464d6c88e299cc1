"""Test helpers: a protocol host that runs one provider process, and the pytest plugin.

:class:`PluginHost` is the DRP side of PROTOCOL.md sections 1 to 3 and nothing else:
it starts a provider with ``listen``, serves the from-plugin socket (recording
publish, log and leaving), and sends config, action, publish and stop.  The whole
local DRP (REST API, events, provider lifecycle) is :mod:`drp_plugin.standin`.
"""

from .host import LogSink, PluginHost, Reply

__all__ = ["LogSink", "PluginHost", "Reply"]
