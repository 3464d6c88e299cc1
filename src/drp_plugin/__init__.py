"""drp-plugin: write Digital Rebar Provision plugin providers in Python.

The public API is small: :class:`Provider` (decorator style), :class:`App`
(interface style, mirroring the Go ``plugin`` package), :class:`PluginError`, and
the :class:`Action` and :class:`Event` models handed to handlers.
"""

from __future__ import annotations

import sys as _sys

if _sys.argv[1:2] == ["define"] or _sys.argv[1:3] in (["-d", "define"], ["--debug", "define"]):
    # define's stdout and stderr are read together as JSON by DRP: no warnings there.
    import warnings as _warnings

    _warnings.simplefilter("ignore")

from .context import Context, SyncContext  # noqa: E402
from .errors import PluginError  # noqa: E402
from .interface import App  # noqa: E402
from .models import Action, Event, Machine, PluginObject, StoreObject, Target  # noqa: E402
from .provider import Provider  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Action", "App", "Context", "Event", "Machine", "PluginError", "PluginObject",
           "Provider", "StoreObject", "SyncContext", "Target", "__version__"]
