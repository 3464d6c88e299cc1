"""Shared fixtures of the build tests: built providers and a Python without packages."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from drp_plugin.shipping import BuildResult, build
from tests.conftest import INCREMENTER

INCREMENTER_VERSION = "v9.8.7-test"
KITCHEN_VERSION = "2.5.0"


def clean_env(**extra: str) -> dict[str, str]:
    """What DRP gives a provider: a PATH and the RS_* variables, nothing else."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **extra}


def run_file(python: str | None, path: Path, *args: str, env: dict[str, str] | None = None,
             cwd: Path | None = None, isolated: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a built file (with ``python``, ``-I`` unless told otherwise, or by its ``#!``)."""
    argv: list[str] = [python, *(["-I"] if isolated else []), str(path)] if python else [str(path)]
    return subprocess.run(  # noqa: S603 - test inputs
        [*argv, *args], capture_output=True, text=True, timeout=120, check=False,
        env=env if env is not None else clean_env(RS_TOKEN="catalog"), cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The python of a fresh venv without pip: no package at all is importable."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,  # noqa: S603
                   timeout=120)
    python = venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import yaml"], capture_output=True, check=False)  # noqa: S603
    assert probe.returncode != 0, "the bare venv must not see any package"
    return str(python)


@pytest.fixture(scope="session")
def built_incrementer(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """examples/incrementer built once, copied alone into an empty folder."""
    out = tmp_path_factory.mktemp("incrementer-dist") / "incrementer"
    return build(INCREMENTER, out, version=INCREMENTER_VERSION)


KITCHEN_SOURCE = '''\
"""A provider exercising what a build must carry."""

import os

from drp_plugin import Provider, SyncContext, Action

import kitchen_helpers

HERE = os.path.dirname(os.path.abspath(__file__))

provider = Provider(
    "kitchen-sink",
    description=kitchen_helpers.DESCRIPTION,
    content=os.path.join(HERE, "content"),
    assets=["files", "extra.txt"],
)


@provider.action("shout", optional=["kitchen/word"])
def shout(ctx: SyncContext, action: Action) -> str:
    return kitchen_helpers.shout(action.params.get("kitchen/word", "hi"))


if __name__ == "__main__":
    provider.main()
'''

KITCHEN_HELPERS = '''\
DESCRIPTION = "described by a helper module"


def shout(word: str) -> str:
    return word.upper() + "!"
'''


def make_kitchen(root: Path) -> Path:
    """A provider project: helper module, content found through ``__file__``, assets
    with several modes and folders, a pyproject version."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "kitchen-sink"\nversion = "{KITCHEN_VERSION}"\n'
        'dependencies = ["drp-plugin"]\n\n[tool.drp-plugin]\nmodule = "kitchen.py"\n',
        encoding="utf-8",
    )
    (root / "kitchen.py").write_text(KITCHEN_SOURCE, encoding="utf-8")
    (root / "kitchen_helpers.py").write_text(KITCHEN_HELPERS, encoding="utf-8")
    content = root / "content"
    (content / "params").mkdir(parents=True, exist_ok=True)
    (content / "._Name.meta").write_text("kitchen-sink\n", encoding="utf-8")
    (content / "params" / "word.yaml").write_text(
        "Name: kitchen/word\nSchema:\n  type: string\n", encoding="utf-8")
    files = root / "files"
    (files / "bin").mkdir(parents=True, exist_ok=True)
    (files / "data").mkdir(parents=True, exist_ok=True)
    tool = files / "bin" / "tool.sh"
    tool.write_text("#!/bin/sh\necho tool\n", encoding="utf-8")
    tool.chmod(0o755)
    secret = files / "data" / "secret.txt"
    secret.write_text("s3cret\n", encoding="utf-8")
    secret.chmod(0o600)
    (files / "readme.txt").write_text("read me\n", encoding="utf-8")
    (files / "readme.txt").chmod(0o644)
    (root / "extra.txt").write_text("extra\n", encoding="utf-8")
    (root / "extra.txt").chmod(0o640)
    return root


@pytest.fixture(scope="session")
def kitchen(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    project = make_kitchen(tmp_path_factory.mktemp("kitchen") / "kitchen-sink")
    return build(project)


def zip_names(path: Path) -> Sequence[str]:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return zf.namelist()
