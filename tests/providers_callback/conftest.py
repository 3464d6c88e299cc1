"""Fixtures of the callback provider tests: the provider under the stand-in, HTTP servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drp_plugin.testing.fixtures import ProviderUnderTest, StandInClient

from .servers import Proxy, Recorder

PROVIDER_DIR = Path(__file__).resolve().parents[2] / "providers" / "callback"
PROVIDER = PROVIDER_DIR / "callback.py"

Start = Callable[..., ProviderUnderTest]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """An HTTP endpoint on 127.0.0.1 that records the callbacks it gets."""
    server = Recorder()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    """A forwarding HTTP proxy on 127.0.0.1 that records what went through it."""
    server = Proxy()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def start_callback(drp_provider: Callable[..., ProviderUnderTest]) -> Start:
    """``start_callback(callbacks, auths=None, proxy=None, source=PROVIDER)``: the provider's
    Plugin running with those params."""

    def start(callbacks: dict[str, Any], auths: dict[str, Any] | None = None,
              proxy: str | None = None, source: Path = PROVIDER) -> ProviderUnderTest:
        params: dict[str, Any] = {"callback/callbacks": callbacks}
        if auths is not None:
            params["callback/auths"] = auths
        if proxy is not None:
            params["callback/proxy"] = proxy
        return drp_provider(source, params=params)

    return start


@pytest.fixture
def machine(drp_client: StandInClient) -> dict[str, Any]:
    """A machine ``m1.example.com`` with a few params."""
    return drp_client.create_machine(
        "m1.example.com", params={"site": "lab-3", "rack": 7},
        Address="192.0.2.10", HardwareAddrs=["52:54:00:ab:cd:ef"],
    )
