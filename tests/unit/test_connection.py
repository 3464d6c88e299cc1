"""The connection options of ``drp-plugin`` (drp_plugin.shipping.connection): read once,
as drpcli reads them, by every command that talks to a DRP endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from drp_plugin.errors import ToolError
from drp_plugin.shipping.connection import Connection
from drp_plugin.tool import cli

#: Every command with the connection options, with its other arguments.
COMMANDS = [
    ["upload", "{file}"],
    ["providers", "list"],
    ["providers", "delete", "p"],
    ["plugins", "create", "p"],
    ["system", "runaction", "status"],
    ["plugins", "runaction", "p", "status"],
    ["machines", "runaction", "Name:m1", "status"],
]

CLEAN = {"RS_ENDPOINT": "", "RS_TOKEN": "", "RS_KEY": "", "RS_USERNAME": "", "RS_PASSWORD": "",
         "RS_CA_FILE": ""}


def test_connection_settings_follow_drpcli() -> None:
    env = {"RS_ENDPOINT": "https://drp:8092/", "RS_TOKEN": "tok", "RS_KEY": "u:p"}
    assert Connection.resolve(env=env) == Connection("https://drp:8092", token="tok")
    # Explicit credentials beat the environment's token.
    assert Connection.resolve(username="me", password="pw", env=env) == Connection(
        "https://drp:8092", username="me", password="pw")
    assert Connection.resolve(env={"RS_KEY": "u:p"}) == Connection(
        "https://127.0.0.1:8092", username="u", password="p")
    assert Connection.resolve(env={"RS_USERNAME": "a", "RS_PASSWORD": "b"}).username == "a"
    assert Connection.resolve(env={}) == Connection(
        "https://127.0.0.1:8092", username="rocketskates", password="r0cketsk8ts")
    assert Connection.resolve(token="t", env=env).auth_headers() == {"Authorization": "Bearer t"}
    with pytest.raises(ToolError, match="RS_KEY must be username:password"):
        Connection.resolve(env={"RS_KEY": "nocolon"})
    with pytest.raises(ToolError, match="must start with https://"):
        Connection.resolve(endpoint="drp:8092", env={})


def test_the_ca_file_wins_over_verify_and_comes_from_rs_ca_file() -> None:
    assert Connection.resolve(token="t", env={}).verify is False
    assert Connection.resolve(token="t", verify=True, env={}).verify is True
    assert Connection.resolve(token="t", verify=True, ca_file="/ca.pem", env={}).verify == "/ca.pem"
    assert Connection.resolve(token="t", env={"RS_CA_FILE": "/env.pem"}).verify == "/env.pem"
    assert Connection.resolve(token="t", ca_file="/opt.pem",
                              env={"RS_CA_FILE": "/env.pem"}).verify == "/opt.pem"


def test_an_unreadable_ca_file_is_a_tool_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ToolError, match=f"CA file {missing}"):
        Connection.resolve(token="t", ca_file=str(missing), env={}).client()


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_refuses_a_malformed_rs_key(args: list[str], tmp_path: Path) -> None:
    """On main ``upload`` refused ``RS_KEY=nocolon`` while ``system runaction`` took it
    as the user ``nocolon``: one parser now, the same refusal everywhere (before any
    request: the endpoint is unreachable)."""
    file = tmp_path / "provider"
    file.write_bytes(b"#!/bin/sh\n")
    argv = [a.format(file=file) for a in args]
    env = {**CLEAN, "RS_ENDPOINT": "https://127.0.0.1:1", "RS_KEY": "nocolon"}
    result = CliRunner().invoke(cli, argv, env=env)
    assert result.exit_code == 1, result.output
    assert "RS_KEY must be username:password" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_has_the_same_options(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args[:2], "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--endpoint", "--token", "--username", "--password", "--verify",
                   "--ca-file"):
        assert option in result.output, (args, option)
