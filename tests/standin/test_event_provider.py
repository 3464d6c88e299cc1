"""A provider with event selections, end to end: the runtime feeds it DRP's event stream."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.helpers import ROOT

WATCHER = ROOT / "tests" / "providers" / "watcher.py"
UPDATES = 4_000
MACHINES = 10


def _wait_seen(watcher: Any, count: int, timeout: float = 120) -> list[list[Any]]:
    deadline = time.monotonic() + timeout
    while True:
        seen = watcher.action("seen")
        if len(seen) >= count or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


@pytest.mark.slow
def test_every_machine_update_in_order_through_a_slow_handler(drp_standin: Any, drp_client: Any,
                                                              drp_provider: Any) -> None:
    watcher = drp_provider(str(WATCHER))
    uuids = [drp_client.create_machine(f"watched-{n}")["Uuid"] for n in range(MACHINES)]

    def update(uuid: str) -> None:
        for n in range(1, UPDATES // MACHINES + 1):
            drp_client.set_param("machines", uuid, "watch/count", n)

    with ThreadPoolExecutor(MACHINES) as pool:
        list(pool.map(update, uuids))
    seen = _wait_seen(watcher, UPDATES)
    assert len(seen) == UPDATES
    for uuid in uuids:  # each machine's updates arrive once and in order
        assert [count for key, count in seen if key == uuid] == list(range(1, UPDATES // MACHINES + 1))

    # The stand-in drops the websocket: the runtime's stream reconnects and registers again.
    drp_standin.drop_websockets()
    watcher.wait_log("missing", timeout=30)  # the gap notice is logged as a warning
    drp_client.set_param("machines", uuids[0], "watch/count", "after")
    after = _wait_seen(watcher, UPDATES + 1, timeout=30)
    assert after[-1] == [uuids[0], "after"]
