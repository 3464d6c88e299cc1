"""Errors answered by the plugin: ``models.Error`` with Model ``plugin``, Key = plugin name."""

from __future__ import annotations

from drp_plugin import PluginError
from drp_plugin.errors import plugin_error

#: The Key of errors made here; the handlers of ``callback.py`` replace it with the
#: Plugin instance name (``ctx.plugin``) on the way out (:func:`with_plugin_key`).
DEFAULT_KEY = "callback"


def fail(code: int, *messages: str) -> PluginError:
    """A :class:`PluginError` answered with ``code`` (an upstream status is kept as is)."""
    return plugin_error(DEFAULT_KEY, *messages, code=code, type="rpc")


def with_plugin_key(exc: PluginError, plugin: str) -> PluginError:
    """``exc`` keyed by the Plugin instance ``plugin`` when :func:`fail` made it."""
    if plugin and exc.model == "plugin" and exc.key == DEFAULT_KEY:
        exc.key = plugin
    return exc


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
