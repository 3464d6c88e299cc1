"""Errors: those answered by the plugin, and a failed write to a sink."""

from __future__ import annotations

from drp_plugin import PluginError
from drp_plugin.errors import plugin_error

from . import NAME


def error(message: str, code: int) -> PluginError:
    """A ``models.Error`` answered with ``code``: Model ``plugin``, Key ``filebeat``."""
    return plugin_error(NAME, message, code=code, type="rpc")


class SinkError(Exception):
    """Writing to the sink failed (what reached it is counted in the sink's ``written``)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause) or type(cause).__name__)
