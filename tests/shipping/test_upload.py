"""``drp-plugin upload`` and ``providers``: against the local DRP stand-in."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from drp_plugin.shipping import BuildResult
from drp_plugin.shipping.connection import Connection
from drp_plugin.shipping.upload import error_text, provider_name_of
from drp_plugin.tool import cli


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    base = {"RS_ENDPOINT": "", "RS_TOKEN": "", "RS_KEY": "", "RS_USERNAME": "", "RS_PASSWORD": ""}
    return CliRunner().invoke(cli, list(args), env={**base, **(env or {})}, catch_exceptions=True)


def failed(result: Result) -> str:
    """The error message of a command that must fail cleanly (exit 1, no traceback)."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    return result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.slow
def test_upload_create_plugin_and_increment(built_incrementer: BuildResult, drp_standin: Any,
                                            drp_client: Any) -> None:
    """End to end: the built file uploaded, started by DRP, acting on a machine."""
    auth = ["-E", drp_standin.endpoint, "-T", drp_standin.token]
    result = invoke("upload", str(built_incrementer.path), *auth)
    assert result.exit_code == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["size"] == built_incrementer.size
    assert "uploading incrementer" in result.stderr  # > 1 MB: progress shown

    listed = invoke("providers", "list", *auth)
    assert listed.exit_code == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0] == ["Name", "Version"]
    assert ["incrementer", built_incrementer.version] in rows

    drp_standin.create_plugin("inc", "incrementer")
    machine = drp_client.create_machine("m1")
    assert drp_client.action("increment", on="m1", plugin="inc") == 1
    assert drp_client.action("increment", on="m1", plugin="inc",
                             params={"incrementer/step": 5}) == 6
    assert drp_client.param("machines", machine["Uuid"], "incrementer/default") == 6
    assert drp_client.param("machines", machine["Uuid"], "incrementer/touched") == 2
    # unpack ran on the stand-in's file server
    served = drp_standin.webroot / "files" / "plugin_providers" / "incrementer" / "testFile"
    assert served.read_text() == "ImaFile"

    drp_standin.delete_plugin("inc")
    deleted = invoke("providers", "delete", "incrementer", *auth)
    assert deleted.exit_code == 0, deleted.stderr
    again = invoke("providers", "list", *auth)
    assert "incrementer" not in again.stdout


def test_api_errors_are_clear(built_incrementer: BuildResult, drp_standin: Any,
                              tmp_path: Path) -> None:
    endpoint = ["-E", drp_standin.endpoint]
    message = failed(invoke("providers", "list", *endpoint, "-T", "wrong-token"))
    assert "authentication failed (401)" in message and "RS_TOKEN" in message

    message = failed(invoke("providers", "list", *endpoint, "-U", "rocketskates", "-P", "nope"))
    assert "authentication failed (401) as user rocketskates" in message

    message = failed(invoke("providers", "delete", "missing", *endpoint, "-T", drp_standin.token))
    assert "404" in message and "plugin_providers/missing" in message

    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    message = failed(invoke("upload", str(empty), "--name", "empty", *endpoint,
                            "-T", drp_standin.token))
    assert "400" in message and "Empty upload" in message

    message = failed(invoke("providers", "list", *endpoint, "-T", drp_standin.token, "--verify"))
    assert "TLS failure" in message and "--no-verify" in message


def test_credentials_from_rs_key(drp_standin: Any) -> None:
    ok = invoke("providers", "list", env={"RS_ENDPOINT": drp_standin.endpoint,
                                          "RS_KEY": "rocketskates:r0cketsk8ts"})
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout.splitlines()[0].split() == ["Name", "Version"]
    bad = invoke("providers", "list", env={"RS_ENDPOINT": drp_standin.endpoint,
                                           "RS_KEY": "rocketskates:wrong"})
    assert "authentication failed" in failed(bad)


def test_connection_refused_from_the_real_command(tmp_path: Path) -> None:
    file = tmp_path / "provider"
    file.write_bytes(b"#!/bin/sh\n")
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "from drp_plugin.tool import main; main()", "upload", str(file),
         "-E", f"https://127.0.0.1:{free_port()}", "-T", "x"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert "connection refused" in result.stderr
    assert "Traceback" not in result.stderr


def test_error_text_is_drps_models_error() -> None:
    assert error_text({"Model": "plugin_providers", "Key": "x", "Type": "POST",
                       "Messages": ["Empty upload"], "Code": 400}) == \
        "POST: plugin_providers/x: Empty upload"
    assert error_text({"Type": "AUTH", "Messages": ["a", "b"]}) == "AUTH\n  a\n  b"  # as Go
    assert error_text("nope") is None


def test_upload_name_comes_from_the_built_file(built_incrementer: BuildResult, tmp_path: Path) -> None:
    renamed = tmp_path / "incrementer-v9"
    renamed.write_bytes(built_incrementer.path.read_bytes())
    assert provider_name_of(renamed) == "incrementer"
    other = tmp_path / "plain-binary"
    other.write_bytes(b"\x7fELF")
    assert provider_name_of(other) == "plain-binary"


def test_upload_streams_through_the_api_client_with_progress(built_incrementer: BuildResult,
                                                            drp_standin: Any) -> None:
    """The upload is ``api.Client.upload_plugin_provider`` with its progress hook: every
    chunk is reported, and their sizes add up to the file."""
    from drp_plugin.shipping.upload import upload

    conn = Connection.resolve(drp_standin.endpoint, drp_standin.token, env={})
    chunks: list[int] = []
    reply = upload(conn, built_incrementer.path, "incrementer", advance=chunks.append)
    assert reply["size"] == built_incrementer.size == sum(chunks)
    assert len(chunks) > 1 and max(chunks) <= 256 * 1024
