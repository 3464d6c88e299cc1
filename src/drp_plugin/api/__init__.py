"""Clients of the DRP REST API: ``AsyncClient`` (asyncio) and ``Client`` (blocking).

Both have the same methods, written once in :mod:`.operations`::

    async with AsyncClient() as api:              # RS_ENDPOINT / RS_TOKEN
        machine = await api.get("machines", "Name:phred")
        await api.set_param("machines", machine["Uuid"], "incrementer/parameter", 3)
"""

from .client import AsyncClient
from .core import APIConnectionError, APIError, Request, Retry
from .filters import Between, Eq, Except, Filter, Gt, Gte, In, Lt, Lte, Ne, Nin, Re
from .patch import UNSET, make_patch
from .session import Settings, TokenSession
from .sync import Client

__all__ = [
    "APIConnectionError",
    "APIError",
    "AsyncClient",
    "Between",
    "Client",
    "Eq",
    "Except",
    "Filter",
    "Gt",
    "Gte",
    "In",
    "Lt",
    "Lte",
    "Ne",
    "Nin",
    "Re",
    "Request",
    "Retry",
    "Settings",
    "TokenSession",
    "UNSET",
    "make_patch",
]
