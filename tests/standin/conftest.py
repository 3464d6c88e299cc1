"""Fixtures of the stand-in tests: a running StandIn, an HTTPS client, the fake provider."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from drp_plugin.standin import StandIn

FAKE = Path(__file__).with_name("fake_provider.py")


def fake_argv(variant: str = "ok", name: str = "fake") -> list[str]:
    """The command line of the stdlib fake provider."""
    return [sys.executable, str(FAKE), "--name", name, "--variant", variant]


@pytest.fixture
async def drp() -> AsyncIterator[StandIn]:
    async with StandIn() as standin:
        yield standin


@pytest.fixture
async def client(drp: StandIn) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=drp.endpoint + "/api/v3", verify=False,
                                 headers={"Authorization": f"Bearer {drp.token}"},
                                 timeout=30) as http:
        yield http


@pytest.fixture
async def fake(drp: StandIn) -> dict[str, Any]:
    """The fake provider installed, with its Plugin ``fake`` running."""
    await drp.add_provider_from_command("fake", fake_argv())
    return await drp.create_plugin("fake", "fake")


@pytest.fixture
async def machine(client: httpx.AsyncClient) -> dict[str, Any]:
    resp = await client.post("/machines", json={"Name": "m1"})
    assert resp.status_code == 201, resp.text
    machine: dict[str, Any] = resp.json()
    return machine
