"""Shared test fixtures (constants and helpers are in ``tests/helpers.py``)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--heavy", action="store_true", help="run the heavy reliability cases")


if os.environ.get("DRP_PLUGIN_LOOP") == "uvloop":
    # Provider subprocesses run on uvloop whenever it is installed (``auto``, the
    # default; ``.ci/run`` runs the protocol tests once more with
    # ``DRP_PLUGIN_LOOP=asyncio``).  In-process async tests run on asyncio's loop,
    # and on uvloop's with ``DRP_PLUGIN_LOOP=uvloop``.
    import uvloop

    def pytest_asyncio_loop_factories(config: pytest.Config,
                                      item: pytest.Item) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
        return {"uvloop": uvloop.new_event_loop}


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment for provider subprocesses: bytecode allowed, no warnings filter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RS_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


#: Where every test starts provider processes, builds files or installs packages: end
#: to end, so they run in the full suite (the README's test command, CI) and stay out of
#: the quick subset ``pytest -m "not slow"``.  A test elsewhere that takes more than
#: about 2 s carries ``@pytest.mark.slow`` itself.
END_TO_END = (
    "tests/shipping/",
    "tests/providers_endpoint_exec/",
    "tests/runtime/test_listen.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        rel = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else ""
        if rel.startswith(END_TO_END):
            item.add_marker(pytest.mark.slow)
