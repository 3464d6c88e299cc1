"""Errors answered by the plugin: ``models.Error`` with Model ``plugin``, Key = plugin name."""

from __future__ import annotations

from drp_plugin import PluginError
from drp_plugin.errors import plugin_error

_plugin_name = ["callback"]


def set_plugin_name(name: str) -> None:
    """The Plugin instance name that errors carry as their Key (from ``/config``)."""
    _plugin_name[0] = name or "callback"


def fail(code: int, *messages: str) -> PluginError:
    """A :class:`PluginError` answered with ``code`` (an upstream status is kept as is)."""
    return plugin_error(_plugin_name[0], *messages, code=code, type="rpc")


def clip(text: str | bytes, limit: int = 300) -> str:
    """A response body or program output shortened for an error message or a log line."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def text_of(exc: BaseException) -> str:
    """The messages of an error, without the ``Type: Model/Key:`` head of ``str(PluginError)``."""
    messages = getattr(exc, "messages", None)
    if isinstance(messages, list) and messages:
        return "; ".join(str(m).strip() for m in messages)
    return str(exc)
