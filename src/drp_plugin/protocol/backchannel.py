"""Calls from the plugin into DRP on the from-plugin socket (:data:`.paths.FROM_PLUGIN`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..errors import PluginError
from ..models import make_event
from .paths import DRP_LEAVING, DRP_PUBLISH
from .unixclient import UnixHTTPClient


class BackChannel:
    """``publish``, ``leaving`` and raw ``post`` to DRP, on their own connection."""

    def __init__(self, socket_path: str, *, timeout: float = 10.0) -> None:
        self.client = UnixHTTPClient(socket_path, timeout=timeout)

    async def post(self, path: str, obj: Any) -> Any:
        """POST ``obj`` as JSON to ``path`` (one of :mod:`.paths`); a 4xx/5xx raises :class:`PluginError`."""
        try:
            body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False).encode()
        except ValueError as exc:  # NaN or Infinity: Go's encoding/json cannot read them
            raise PluginError(f"cannot send {path} to DRP: {exc}", code=400, model="plugin",
                              type="plugin") from exc
        try:
            status, reply = await self.client.post(path, body)
        except (OSError, EOFError, asyncio.TimeoutError) as exc:
            raise PluginError(f"DRP is unreachable on the from-plugin socket: {exc}",
                              code=503, model="plugin", type="plugin") from exc
        if status >= 400:
            try:
                data: Any = json.loads(reply) if reply else None
            except ValueError:
                data = reply.decode(errors="replace")
            raise PluginError.from_dict(data, status)
        if not reply.strip():
            return None
        try:
            return json.loads(reply)
        except ValueError:
            return reply.decode(errors="replace")

    async def publish(self, type: str, action: str, key: str, obj: Any = None) -> None:
        """Send ``{"Time", "Type", "Action", "Key", "Object"}`` into DRP's event stream."""
        await self.post(DRP_PUBLISH, make_event(type, action, key, obj))

    async def leaving(self, error: PluginError | None = None) -> None:
        """Tell DRP the plugin is about to exit (an error with code 403 removes the provider)."""
        err = error if error is not None else PluginError(code=200)
        await self.post(DRP_LEAVING, err.to_dict())

    async def close(self) -> None:
        """Close the connection to DRP's from-plugin socket (bounded by the client)."""
        await self.client.close()
