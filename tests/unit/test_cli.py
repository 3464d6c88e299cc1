"""A provider's command line in process, through click's ``CliRunner`` (the same
commands as the Go ``plugin.InitApp``: define, unpack, listen, version, autocomplete)."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from drp_plugin import Context, PluginError, Provider, SyncContext
from drp_plugin.provider_cli import definition_json, main


@pytest.fixture(autouse=True)
def _restore_warnings() -> Iterator[None]:
    """define silences warnings and captures them into logging for its process:
    keep that inside each test."""
    with warnings.catch_warnings():
        yield
    logging.captureWarnings(False)


def make(tmp_path: Path) -> Provider:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "tool.sh").write_text("#!/bin/sh\n", encoding="utf-8")
    (tmp_path / "files" / "tool.sh").chmod(0o755)
    p = Provider("clitest", version="v2.0.0", base_dir=tmp_path, assets="files")
    p.action("hello", model="machines")(lambda ctx, a: "hi")
    return p


def test_define_prints_the_definition(tmp_path: Path) -> None:
    p = make(tmp_path)
    result = CliRunner().invoke(p.cli, ["define"], env={"RS_TOKEN": "catalog"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == p.definition()
    assert result.stderr == ""


def test_define_keeps_warnings_off_stderr(tmp_path: Path) -> None:
    """DRP reads define's stdout and stderr together as JSON: a warning raised while
    defining must not reach stderr (the filter is set by define, not by the import)."""
    p = make(tmp_path)

    @p.validate
    def validate(ctx: SyncContext, definition: dict[str, Any]) -> None:
        warnings.warn("noisy dependency", DeprecationWarning, stacklevel=1)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        result = CliRunner().invoke(p.cli, ["define"], env={"RS_TOKEN": "secret"})
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    json.loads(result.stdout)


def test_define_failure_is_one_line_and_exit_1(tmp_path: Path) -> None:
    p = make(tmp_path)

    @p.validate
    async def validate(ctx: Context, definition: dict[str, Any]) -> None:
        raise PluginError("missing ipmitool", code=500)

    result = CliRunner().invoke(p.cli, ["define"], env={"RS_TOKEN": "secret"})
    assert result.exit_code == 1
    assert result.stderr == "Error: define failed: missing ipmitool\n"


def test_validate_is_skipped_for_the_catalog(tmp_path: Path) -> None:
    p = make(tmp_path)
    p.validate(lambda ctx, d: {**d, "Documentation": "validated"})
    monkey = {"RS_TOKEN": "catalog"}
    assert json.loads(CliRunner().invoke(p.cli, ["define"], env=monkey).stdout)[
        "Documentation"] == ""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RS_TOKEN", "t")
        assert json.loads(definition_json(p))["Documentation"] == "validated"


def test_unpack_writes_the_assets_with_their_modes(tmp_path: Path) -> None:
    p = make(tmp_path)
    out = tmp_path / "unpacked"
    result = CliRunner().invoke(p.cli, ["unpack", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "tool.sh").stat().st_mode & 0o777 == 0o755
    empty = CliRunner().invoke(p.cli, ["unpack", ""])
    assert empty.exit_code == 1 and "Not a valid location" in empty.stderr


def test_version_and_autocomplete(tmp_path: Path) -> None:
    p = make(tmp_path)
    assert CliRunner().invoke(p.cli, ["version"]).stdout == "Version: v2.0.0\n"
    target = tmp_path / "complete.bash"
    result = CliRunner().invoke(p.cli, ["autocomplete", str(target)])
    assert result.exit_code == 0, result.output
    assert "complete" in target.read_text(encoding="utf-8")


def test_listen_needs_two_sockets(tmp_path: Path) -> None:
    p = make(tmp_path)
    result = CliRunner().invoke(p.cli, ["listen", "/tmp/only-one"])
    assert result.exit_code == 1
    assert result.stdout == "Failed\n"
    assert "listen requires 2 arguments" in result.stderr


def test_listen_refuses_a_socket_path_linux_cannot_bind(tmp_path: Path) -> None:
    p = make(tmp_path)
    long_path = "/tmp/" + "s" * 120
    result = CliRunner().invoke(p.cli, ["listen", long_path, "/tmp/from.sock"])
    assert result.exit_code == 1
    assert "socket path is too long" in result.stderr


def test_user_commands_join_the_group(tmp_path: Path) -> None:
    p = make(tmp_path)

    @p.cli.command()
    def hello() -> None:
        print("hello from the author")

    assert CliRunner().invoke(p.cli, ["hello"]).stdout == "hello from the author\n"
    assert "hello" in CliRunner().invoke(p.cli, ["--help"]).stdout


def test_fast_define_path_matches_the_click_command(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    p = make(tmp_path)
    monkeypatch.setenv("RS_TOKEN", "catalog")
    with warnings.catch_warnings():
        main(p, ["--debug", "define"])
    fast = capsys.readouterr()
    assert fast.err == ""
    assert json.loads(fast.out) == json.loads(CliRunner().invoke(p.cli, ["define"]).stdout)
