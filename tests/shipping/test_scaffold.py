"""``drp-plugin new``: a project whose tests pass right away, and that builds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from drp_plugin.shipping.scaffold import ScaffoldError, check_name, create_project
from drp_plugin.tool import cli
from tests.shipping.helpers import run_file


@pytest.mark.slow
def test_new_project_tests_pass_and_it_builds(tmp_path: Path, bare_python: str) -> None:
    result = CliRunner().invoke(cli, ["new", "demo", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    project = tmp_path / "demo"
    files = sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())
    assert files == [
        ".gitignore", "README.md", "content/._Description.meta", "content/._DisplayName.meta",
        "content/._Documentation.meta", "content/._Name.meta", "content/._Source.meta",
        "content/._Version.meta", "content/params/greeting.yaml", "demo.py", "files/demo.txt",
        "pyproject.toml", "tests/test_demo.py",
    ]
    readme = (project / "README.md").read_text()
    for command in ("python -m pytest", "drp-plugin build", "drp-plugin upload dist/demo"):
        assert command in readme

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RS_"))}
    tests = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout

    built = CliRunner().invoke(cli, ["build", str(project), "-q"])
    assert built.exit_code == 0, built.output
    path = Path(built.stdout.strip())
    assert path == project / "dist" / "demo"
    define = run_file(bare_python, path, "define", cwd=tmp_path)
    assert define.returncode == 0, define.stderr
    definition = json.loads(define.stdout)
    assert (definition["Name"], definition["Version"]) == ("demo", "v0.1.0")
    assert [a["Command"] for a in definition["AvailableActions"]] == ["greet"]


@pytest.mark.parametrize("name, message", [
    ("1abc", "invalid provider name"),
    ("has space", "invalid provider name"),
    ("json", "clashes with the Python module json"),
    ("yaml", "clashes with the Python module yaml"),
])
def test_bad_names_are_refused(name: str, message: str) -> None:
    with pytest.raises(ScaffoldError, match=message):
        check_name(name)


def test_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match="not empty"):
        create_project("taken", tmp_path)
    result = CliRunner().invoke(cli, ["new", "taken", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "not empty" in result.stderr
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_dashes_make_a_module_name(tmp_path: Path) -> None:
    project = create_project("my-provider", tmp_path)
    assert (project / "my_provider.py").is_file()
    assert 'module = "my_provider.py"' in (project / "pyproject.toml").read_text()
    assert 'Provider(\n    "my-provider"' in (project / "my_provider.py").read_text()
