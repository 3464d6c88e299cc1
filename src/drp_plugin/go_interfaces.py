"""The seven Go plugin interfaces as :class:`typing.Protocol` s, for the interface style.

``github.com/digitalrebar/provision/v4/plugin`` (``plugin/interfaces.go``) defines the interfaces a
Go plugin implements; :class:`~drp_plugin.App` takes a plugin object that has
``config`` and any of the others.  Subclass the protocols (or only annotate) so a
type checker holds the plugin to them::

    class Tally(PluginConfig, PluginActor):
        def config(self, log, api, params): ...
        def action(self, log, action): ...

Each method may be ``def`` (it gets the blocking :class:`~drp_plugin.api.Client`
and runs in a worker thread) or ``async def`` (it gets the
:class:`~drp_plugin.api.AsyncClient`); errors are raised as
:class:`~drp_plugin.errors.PluginError` where Go returns a ``*models.Error``.

This module imports :mod:`typing`; :mod:`drp_plugin.interface` does not import it
(``define`` stays fast), so import it from your plugin only if you want the checks.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .models import Action, Event

__all__ = [
    "PluginActor", "PluginConfig", "PluginEventSelecter", "PluginPublisher", "PluginStop",
    "PluginUnpacker", "PluginValidator",
]


@runtime_checkable
class PluginConfig(Protocol):
    """Go ``PluginConfig``: ``Config(logger.Logger, *api.Client, map[string]interface{}) *models.Error``.

    Mandatory.  ``api`` is ``None`` outside ``listen``; raise to refuse the config.
    """

    def config(self, log: logging.Logger, api: Any, params: dict[str, Any]) -> Any:
        """Mirrors Go ``PluginConfig.Config``: take the Plugin's ``params``; raise a
        ``PluginError`` to refuse them (``api`` is ``None`` outside ``listen``)."""


@runtime_checkable
class PluginActor(Protocol):
    """Go ``PluginActor``: ``Action(logger.Logger, *models.Action) (interface{}, *models.Error)``."""

    def action(self, log: logging.Logger, action: Action) -> Any:
        """Mirrors Go ``PluginActor.Action``: run ``action``; the return value is the
        action's JSON result, a raised ``PluginError`` its error."""


@runtime_checkable
class PluginPublisher(Protocol):
    """Go ``PluginPublisher``: ``Publish(logger.Logger, *models.Event) *models.Error``."""

    def publish(self, log: logging.Logger, event: Event) -> Any:
        """Mirrors Go ``PluginPublisher.Publish``: handle one event (from ``/publish``, or
        from the event stream when :meth:`PluginEventSelecter.select_events` is defined)."""


@runtime_checkable
class PluginEventSelecter(Protocol):
    """Go ``PluginEventSelecter``: ``SelectEvents() []string`` (``type.action.key`` patterns)."""

    def select_events(self) -> list[str]:
        """Mirrors Go ``PluginEventSelecter.SelectEvents``: the ``type.action.key`` patterns
        of the stream events to pass to ``publish`` (having it turns ``/publish`` off)."""


@runtime_checkable
class PluginStop(Protocol):
    """Go ``PluginStop``: ``Stop(logger.Logger)``."""

    def stop(self, log: logging.Logger) -> Any:
        """Mirrors Go ``PluginStop.Stop``: clean up before the plugin exits (``/stop`` or
        SIGTERM)."""


@runtime_checkable
class PluginUnpacker(Protocol):
    """Go ``PluginUnpacker``: ``Unpack(logger.Logger, string) error`` (the directory)."""

    def unpack(self, log: logging.Logger, directory: str) -> Any:
        """Mirrors Go ``PluginUnpacker.Unpack``: write extra files into ``directory``
        (``unpack`` command, after the declared assets); raise to fail the unpack."""


@runtime_checkable
class PluginValidator(Protocol):
    """Go ``PluginValidator``: ``Validate(logger.Logger, *api.Client) (interface{}, *models.Error)``.

    Run by ``define`` (unless ``RS_TOKEN=catalog``); what it returns replaces the
    definition (``None`` keeps it).
    """

    def validate(self, log: logging.Logger, api: Any) -> Any:
        """Mirrors Go ``PluginValidator.Validate``: called by ``define`` with the API client;
        return a replacement definition, or ``None`` to keep it."""
