"""drp-plugin: write Digital Rebar Provision plugin providers in Python.

The public API is small: :class:`Provider` (decorator style), :class:`App`
(interface style, mirroring the Go ``plugin`` package), :class:`PluginError`, and
the :class:`Action` and :class:`Event` models handed to handlers.
"""

from __future__ import annotations

from .context import Context, SyncContext
from .errors import DRPPluginError, PluginError
from .interface import App
from .models import Action, Event, Machine, PluginObject, StoreObject, Target
from .provider import Provider

__version__ = "0.1.0"

__all__ = ["Action", "App", "Context", "DRPPluginError", "Event", "Machine", "PluginError",
           "PluginObject", "Provider", "StoreObject", "SyncContext", "Target", "__version__"]
