"""Shared fixtures of the build tests: built providers and a Python without packages
(helpers are in ``helpers.py``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from drp_plugin.shipping import BuildResult, build
from tests.helpers import INCREMENTER
from tests.shipping.helpers import INCREMENTER_VERSION, make_kitchen


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


@pytest.fixture(scope="session")
def kitchen(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    project = make_kitchen(tmp_path_factory.mktemp("kitchen") / "kitchen-sink")
    return build(project)
