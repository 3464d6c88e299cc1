"""``drp-plugin new``: a project whose tests pass right away, and that builds."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from drp_plugin.errors import ScaffoldError
from drp_plugin.shipping.scaffold import check_name, create_project
from drp_plugin.standin import StandInThread
from drp_plugin.tool import cli
from tests.shipping.helpers import run_file

MARKED_TEST = '''\
import pytest


@pytest.mark.slow
def test_marked_slow() -> None:
    """The testing how-to marks long tests so; the project registers the mark."""
    assert True
'''


def readme_commands(readme: str, section: str) -> list[list[str]]:
    """The ``drp-plugin`` command lines of the first ``sh`` block of ``## section``."""
    block = readme.split(f"## {section}\n", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("drp-plugin ")]


@pytest.mark.slow
def test_new_project_tests_pass_and_it_builds(tmp_path: Path, bare_python: str) -> None:
    result = CliRunner().invoke(cli, ["new", "demo", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    project = tmp_path / "demo"
    files = sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())
    assert files == [
        ".gitignore", "README.md", "content/._Description.meta", "content/._DisplayName.meta",
        "content/._Documentation.meta", "content/._Name.meta", "content/._Source.meta",
        "content/params/greeting.yaml", "demo.py", "files/demo.txt",
        "pyproject.toml", "tests/test_demo.py",
    ]
    readme = (project / "README.md").read_text()
    for command in ("python -m pytest", "drp-plugin build", "drp-plugin upload dist/demo"):
        assert command in readme

    # The slow mark the testing how-to recommends is registered.
    (project / "tests" / "test_marked.py").write_text(MARKED_TEST, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RS_"))}
    tests = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-W", "error::pytest.PytestUnknownMarkWarning"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "5 passed" in tests.stdout

    built = CliRunner().invoke(cli, ["build", str(project), "-q"])
    assert built.exit_code == 0, built.output
    path = Path(built.stdout.strip())
    assert path == project / "dist" / "demo"
    define = run_file(bare_python, path, "define", cwd=tmp_path)
    assert define.returncode == 0, define.stderr
    definition = json.loads(define.stdout)
    assert (definition["Name"], definition["Version"]) == ("demo", "v0.1.0")
    assert [a["Command"] for a in definition["AvailableActions"]] == ["greet"]
    assert yaml.safe_load(definition["Content"])["meta"]["Version"] == "v0.1.0"

    # The README's upload commands, as written, against a DRP (the stand-in).
    commands = readme_commands(readme, "Upload")
    assert [c[:2] for c in commands] == [["upload", "dist/demo"], ["plugins", "create"],
                                         ["system", "runaction"], ["providers", "list"]]
    with StandInThread() as drp:
        env = {"RS_ENDPOINT": drp.endpoint, "RS_TOKEN": drp.token, "RS_KEY": ""}
        outputs = []
        for args in commands:
            args = [str(project / a) if a.startswith("dist/") else a for a in args]
            ran = CliRunner().invoke(cli, args, env=env)
            assert ran.exit_code == 0, (args, ran.output)
            outputs.append(ran.stdout)
            if args[:2] == ["plugins", "create"]:
                drp.wait_event(lambda e: e.get("Type") == "plugins"
                               and e.get("Action") == "configed", timeout=60)
        assert json.loads(outputs[2]) == "Hello from demo"
        assert "demo  v0.1.0" in outputs[3]


def test_content_version_follows_the_project_version(tmp_path: Path) -> None:
    """One version source: after a bump in pyproject.toml, ``define`` and the content
    bundle's meta both say the new version."""
    project = create_project("bumped", tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', 'version = "0.2.0"'))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RS_")},
           "RS_TOKEN": "catalog"}
    result = subprocess.run([sys.executable, str(project / "bumped.py"), "define"],  # noqa: S603
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    definition = json.loads(result.stdout)
    assert definition["Version"] == "v0.2.0"
    assert yaml.safe_load(definition["Content"])["meta"]["Version"] == "v0.2.0"


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


@pytest.mark.slow
def test_scaffold_installs_from_the_wheel_in_a_fresh_venv(tmp_path: Path) -> None:
    """The flow of a new user before drp-plugin is on PyPI: drp-plugin's wheel made by
    ``python -m build`` (``twine check`` clean), a fresh venv, the scaffolded project
    installed with ``--find-links``, its own tests pass without warnings, it builds, and
    its built file answers ``define``."""
    root = Path(__file__).resolve().parents[2]
    dist = tmp_path / "dist"
    made = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "build", "--outdir", str(dist), str(root)],
        capture_output=True, text=True, timeout=900, check=False)
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    wheels = sorted(dist.glob("drp_plugin-*.whl"))
    assert len(wheels) == 1 and len(sorted(dist.glob("drp_plugin-*.tar.gz"))) == 1
    twine = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *dist.iterdir()],  # noqa: S603
                           capture_output=True, text=True, timeout=300, check=False)
    assert twine.returncode == 0, twine.stdout + twine.stderr

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)  # noqa: S603
    python, tool = venv / "bin" / "python", venv / "bin" / "drp-plugin"
    create_project("demo", tmp_path)
    project = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "RS_", "VIRTUAL_ENV", "PYTHONPATH"))}
    installed = subprocess.run(  # noqa: S603
        [str(python), "-m", "pip", "install", "-q", "--find-links", str(dist), "-e", ".[dev]"],
        cwd=project, env=env, capture_output=True, text=True, timeout=1200, check=False)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    where = subprocess.run([str(python), "-c", "import drp_plugin; print(drp_plugin.__file__)"],  # noqa: S603
                           capture_output=True, text=True, env=env, timeout=60, check=True)
    assert str(venv) in where.stdout  # the wheel, not this source tree

    tests = subprocess.run(  # noqa: S603
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "4 passed" in tests.stdout and "warning" not in tests.stdout.lower()

    built = subprocess.run([str(tool), "build", "-q"], cwd=project, env=env,  # noqa: S603
                           capture_output=True, text=True, timeout=1200, check=False)
    assert built.returncode == 0, built.stderr[-3000:]
    define = run_file(str(python), project / "dist" / "demo", "define", cwd=tmp_path)
    assert define.returncode == 0, define.stderr
    assert json.loads(define.stdout)["Name"] == "demo"
