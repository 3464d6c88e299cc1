"""define, version, unpack and the command line, run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers import GO_DEFINE, INCREMENTER, KITCHEN, TALLY


def run(*args: str, env: dict[str, str] | None = None, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=60, check=False)


def test_incrementer_define_equals_go_reference(clean_env: dict[str, str]) -> None:
    result = run(str(INCREMENTER), "define", env={**clean_env, "RS_TOKEN": "catalog"})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    ours = json.loads(result.stdout)
    go = json.loads(GO_DEFINE.read_text())
    assert set(ours) == set(go)
    for field in go:
        if field in ("Version", "Content"):
            continue
        assert ours[field] == go[field], field
    assert yaml.safe_load(ours["Content"]) == yaml.safe_load(go["Content"])
    assert ours["PluginVersion"] == 4


def test_define_is_silent_on_stderr_with_warnings_enabled(clean_env: dict[str, str], tmp_path: Path) -> None:
    env = {**clean_env, "PYTHONWARNINGS": "default", "RS_TOKEN": "catalog"}
    for provider in (INCREMENTER, KITCHEN, TALLY):
        result = run(str(provider), "define", env=env, cwd=str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", provider
        json.loads(result.stdout)


def test_define_does_not_import_the_server_stack(clean_env: dict[str, str]) -> None:
    code = (
        "import runpy, sys; sys.argv = [sys.argv[1], 'define']\n"
        "import io, contextlib\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('asyncio', 'h11', 'httpx', 'click', 'yaml', 'websockets', 'aiohttp')"
        " or m.startswith('drp_plugin.protocol')))\n"
    )
    # Warm the content cache first (a cache miss imports yaml to bundle).
    run(str(INCREMENTER), "define", env={**clean_env, "RS_TOKEN": "catalog"})
    result = run("-c", code, str(INCREMENTER), env={**clean_env, "RS_TOKEN": "catalog"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().replace("'", '"')) == []


def test_validate_runs_unless_catalog(clean_env: dict[str, str]) -> None:
    catalog = run(str(TALLY), "define", env={**clean_env, "RS_TOKEN": "catalog"})
    assert json.loads(catalog.stdout)["Documentation"] == "Counts actions per machine."
    validated = run(str(TALLY), "define", env={**clean_env, "RS_TOKEN": "secret-token",
                                                 "RS_ENDPOINT": "https://127.0.0.1:1"})
    assert validated.returncode == 0, validated.stderr
    assert validated.stderr == ""
    assert json.loads(validated.stdout)["Documentation"].endswith("(validated)")
    assert "secret-token" not in validated.stdout


def test_interface_style_definition(clean_env: dict[str, str]) -> None:
    d = json.loads(run(str(TALLY), "define", env={**clean_env, "RS_TOKEN": "catalog"}).stdout)
    assert d["Name"] == "tally" and d["Version"] == "v1.0.0"
    assert d["AvailableActions"] == [
        {"Provider": "", "Model": "machines", "Command": "tally", "RequiredParams": None,
         "OptionalParams": ["tally/step"]},
        {"Provider": "", "Model": "", "Command": "tallies", "RequiredParams": None,
         "OptionalParams": None},
    ]
    assert d["OptionalParams"] == ["tally/start"]


def test_decorator_definition_fields(clean_env: dict[str, str]) -> None:
    d = json.loads(run(str(KITCHEN), "define", env={**clean_env, "RS_TOKEN": "catalog"}).stdout)
    assert d["Version"] == "v1.2.3"
    assert d["RequiredParams"] == ["kitchen/required"]
    assert d["OptionalParams"] == ["kitchen/optional"]
    assert d["Documentation"] == "Kitchen sink provider."
    echo = next(a for a in d["AvailableActions"] if a["Command"] == "echo")
    assert echo == {"Provider": "", "Model": "machines", "Command": "echo",
                    "RequiredParams": ["kitchen/a"], "OptionalParams": ["kitchen/b"]}


def test_version_command(clean_env: dict[str, str]) -> None:
    result = run(str(KITCHEN), "version", env=clean_env)
    assert result.stdout == "Version: v1.2.3\n"


def test_unpack_creates_directory_and_writes_assets(clean_env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    result = run(str(INCREMENTER), "unpack", str(target), env=clean_env)
    assert result.returncode == 0, result.stderr
    assert (target / "testFile").read_text() == "ImaFile"
    again = run(str(INCREMENTER), "unpack", str(target), env=clean_env)  # idempotent
    assert again.returncode == 0
    tally = run(str(TALLY), "unpack", str(tmp_path / "t"), env=clean_env)
    assert tally.returncode == 0, tally.stderr
    assert (tmp_path / "t" / "tally.txt").read_text() == "tally\n"


def test_unpack_into_unwritable_place_is_a_clear_error(clean_env: dict[str, str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(str(INCREMENTER), "unpack", str(blocker / "sub"), env=clean_env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "unpack into" in result.stderr


def test_listen_with_wrong_arguments_prints_failed(clean_env: dict[str, str]) -> None:
    result = run(str(KITCHEN), "listen", "only-one", env=clean_env)
    assert result.returncode != 0
    assert result.stdout.splitlines()[0] == "Failed"
    assert "Traceback" not in result.stderr


def test_listen_with_too_long_socket_path(clean_env: dict[str, str], tmp_path: Path) -> None:
    long = str(tmp_path / ("x" * 120))
    result = run(str(KITCHEN), "listen", long, str(tmp_path / "from"), env=clean_env)
    assert result.returncode != 0
    assert "too long" in result.stderr and "Traceback" not in result.stderr


def test_autocomplete_writes_bash_completion(clean_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "kitchen.bash"
    result = run(str(KITCHEN), "autocomplete", str(out), env=clean_env)
    assert result.returncode == 0, result.stderr
    assert "complete" in out.read_text()


def test_authors_can_add_commands(clean_env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "custom.py"
    script.write_text(
        "from drp_plugin import Provider\n"
        "import click\n"
        "provider = Provider('custom')\n"
        "@provider.cli.command()\n"
        "@click.argument('who')\n"
        "def hello(who):\n"
        "    click.echo(f'hello {who}')\n"
        "provider.main()\n"
    )
    result = run(str(script), "hello", "drp", env=clean_env)
    assert result.stdout == "hello drp\n", result.stderr
    assert os.path.exists(script)
