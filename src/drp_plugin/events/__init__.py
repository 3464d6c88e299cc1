"""DRP's websocket event stream: subscriptions, filter matching, ``wait_for``.

::

    async with EventStream(api) as stream:
        async for event in await stream.subscribe("machines.update.*"):
            print(event.topic, event.object)
"""

from __future__ import annotations

from .matching import ANY, Pattern, escape, matches, topic_pattern, unescape
from .stream import (
    EventCallback,
    EventStream,
    Subscription,
    wait_for,
)

__all__ = [
    "ANY",
    "EventCallback",
    "EventStream",
    "Pattern",
    "Subscription",
    "escape",
    "matches",
    "topic_pattern",
    "unescape",
    "wait_for",
]
