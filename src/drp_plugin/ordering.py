"""Run work one at a time per key, in arrival order (the Go providers' per-id queue).

``KeyedLocks`` hands out a FIFO lock per key (a machine's Uuid, say) and forgets
the key when nobody holds or waits for it, so memory follows the number of busy
keys, not the number of keys ever seen.  ``serial=True`` on an action does this
for you, keyed by the action's target object.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable


class KeyedLocks:
    """FIFO locks per key: ``async with locks.hold(uuid): ...``."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Hold the lock of ``key`` for the ``async with`` body (FIFO among waiters)."""
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()  # asyncio.Lock wakes waiters first come, first served
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        """How many keys are held or waited for right now."""
        return len(self._locks)
