"""One process host (issue 26 item 2): the stand-in and :class:`PluginHost` run a provider
with the same :class:`~drp_plugin.standin.plugin_process.PluginProcess`, so they report a
start that fails the same way: exit status and the provider's own words on stderr."""

from __future__ import annotations

import asyncio

import pytest

from drp_plugin.errors import PluginError
from drp_plugin.standin import StandIn
from drp_plugin.standin.plugin_process import output_pieces
from drp_plugin.testing import PluginHost
from tests.helpers import KITCHEN, run_args

from .conftest import fake_argv


@pytest.mark.parametrize(("provider", "argv", "env", "expected"), [
    # listen prints Failed for a bad setting, and the reason on stderr
    ("kitchen", run_args(KITCHEN), {"DRP_PLUGIN_MAX_BODY": "abc"},
     ["failed to start (printed Failed, exit status 1)",
      "DRP_PLUGIN_MAX_BODY='abc' is not valid"]),
    # a provider that exits without a word on stdout
    ("fake", fake_argv("crash-listen"), {},
     ["exited with status 3 before READY!: cannot start"]),
])
async def test_a_failed_start_reads_the_same_from_the_standin_and_plugin_host(
        drp: StandIn, monkeypatch: pytest.MonkeyPatch, provider: str, argv: list[str],
        env: dict[str, str], expected: list[str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)  # the stand-in hands its environment to plugins
    await drp.add_provider_from_command(provider, argv)
    params = {"kitchen/required": "x"} if provider == "kitchen" else {}
    plugin = await drp.create_plugin("probe", provider, params, check=False)
    assert plugin["Available"] is False and "probe" not in drp.providers.running

    host = PluginHost(argv, env=env, name="probe")
    with pytest.raises(PluginError) as info:
        await host.start()
    assert host.process is not None and host.process.returncode is not None
    assert not host.dir.exists()  # cleaned up

    assert plugin["PluginErrors"] == [str(info.value)]
    assert info.value.code == 500 and (info.value.model, info.value.key) == ("plugins", "probe")
    for part in expected:
        assert part in str(info.value)


async def _pieces(data: bytes, max_line: int) -> list[bytes]:
    stream = asyncio.StreamReader()
    stream.feed_data(data)
    stream.feed_eof()
    return [piece async for piece in output_pieces(stream, max_line)]


async def test_output_comes_in_lines_and_long_lines_in_pieces_without_loss() -> None:
    assert await _pieces(b"one\ntwo\r\n\nlast", 10) == [b"one\n", b"two\r\n", b"\n", b"last"]
    long = b"x" * 25 + b"\n"
    assert await _pieces(b"a\n" + long + b"b\n", 10) == [
        b"a\n", b"x" * 10, b"x" * 10, b"x" * 5 + b"\n", b"b\n"]
    big = b"".join(b"%d\n" % i for i in range(100_000)) + b"y" * 200_000
    pieces = await _pieces(big, 65536)
    assert b"".join(pieces) == big and max(map(len, pieces)) == 65536
