"""Type aliases shared by the toolkit's modules (the stand-in, the test fixtures).

Kept out of :mod:`drp_plugin.models`: importing :mod:`typing` at run time costs
``define`` milliseconds, and the runtime never needs these aliases outside
annotations.
"""

from __future__ import annotations

from typing import Any

#: A decoded JSON object: a DRP object, a ``models.Error``, a params map.
Obj = dict[str, Any]

__all__ = ["Obj"]
