"""Shared test fixtures (constants and helpers are in ``tests/helpers.py``)."""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--heavy", action="store_true", help="run the heavy reliability cases")


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment for provider subprocesses: bytecode allowed, no warnings filter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RS_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env
