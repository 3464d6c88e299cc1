"""Fixtures of the reliability tests (helpers are in ``helpers.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.helpers import BackgroundHost


@pytest.fixture(scope="module")
def background_host(clean_env_module: dict[str, str]) -> Iterator[BackgroundHost]:
    host = BackgroundHost(clean_env_module)
    yield host
    host.close()


@pytest.fixture(scope="module")
def clean_env_module() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("RS_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env
