"""``RS_CA_FILE`` / ``--ca-file``: DRP's certificate verified with a given CA, for the REST API
and the event websocket alike (issue 16, TLS).  The stand-in serves HTTPS with its own
self-signed certificate (``StandIn.cert_path``), which is also its CA."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from drp_plugin.api import AsyncClient, Client
from drp_plugin.api.core import APIError
from drp_plugin.events import EventStream
from drp_plugin.standin import StandIn
from drp_plugin.standin.certs import make_certificate
from drp_plugin.standin.thread import StandInThread


@pytest.fixture
async def drp() -> AsyncIterator[StandIn]:
    async with StandIn() as standin:
        yield standin


async def test_the_ca_file_verifies_the_api_and_the_event_stream(
    drp: StandIn, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RS_CA_FILE", str(drp.cert_path))
    async with AsyncClient(drp.endpoint, drp.token) as api:
        assert api.settings.verify == str(drp.cert_path)
        async with EventStream(api) as stream:
            subscription = await stream.subscribe("machines.create.*")
            machine = await api.create("machines", {"Name": "m1"})
            event = await asyncio.wait_for(subscription.get(), 10)
    assert event.key == machine["Uuid"]

    def sync_get() -> str:  # in a thread: the stand-in runs on this test's event loop
        with Client(drp.endpoint, drp.token) as sync_api:
            return str(sync_api.get("machines", machine["Uuid"])["Name"])

    assert await asyncio.to_thread(sync_get) == "m1"


async def test_a_certificate_the_ca_file_did_not_sign_is_refused(
    drp: StandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """On main ``RS_CA_FILE`` was ignored: any certificate was accepted."""
    other, _ = make_certificate(tmp_path)
    monkeypatch.setenv("RS_CA_FILE", str(other))
    async with AsyncClient(drp.endpoint, drp.token) as api:
        with pytest.raises(APIError, match="(?i)certificate"):
            await api.list("machines")
        stream = EventStream(api, max_reconnects=0)
        with pytest.raises(Exception, match="(?i)certificate"):
            await stream.subscribe("machines.*.*")
        await stream.close()
    # An explicit argument wins over the environment.
    async with AsyncClient(drp.endpoint, drp.token, verify=False) as api:
        assert await api.list("machines") == []


def test_an_unreadable_ca_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    monkeypatch.setenv("RS_CA_FILE", str(missing))
    with pytest.raises(ValueError, match=f"CA file {missing}"):
        Client("https://127.0.0.1:1", "t")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ValueError, match=f"CA file {junk}"):
        Client("https://127.0.0.1:1", "t", verify=str(junk))


def test_the_tool_takes_ca_file(drp_standin: StandInThread, tmp_path: Path) -> None:
    """``drp-plugin providers list --ca-file``: verified with that CA, refused with another."""
    from drp_plugin.tool import cli

    drp = drp_standin.standin
    base = ["providers", "list", "-E", drp.endpoint, "-T", drp.token]
    good = CliRunner().invoke(cli, [*base, "--ca-file", str(drp.cert_path)])
    assert good.exit_code == 0, good.output
    other, _ = make_certificate(tmp_path)
    bad = CliRunner().invoke(cli, [*base, "--ca-file", str(other)])
    assert bad.exit_code != 0 and "TLS failure" in bad.output, bad.output
