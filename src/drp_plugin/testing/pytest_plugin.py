"""pytest fixtures for provider tests, on the local DRP stand-in.

Registered through the ``pytest11`` entry point, so it loads in every pytest
session: it imports nothing heavy at import time (all imports are inside fixtures).

- ``drp_standin``: a running :class:`~drp_plugin.standin.StandInThread`.
- ``drp_client``: a :class:`~drp_plugin.testing.fixtures.StandInClient` on it
  (``create_machine``, ``create_profile``, ``param``, ``action``, ...).
- ``drp_provider``: a factory ``drp_provider(source, name=None, plugin=None,
  params=None)`` that installs a provider (``.py`` file run from source, built
  file, or argv list), starts its Plugin and returns a
  :class:`~drp_plugin.testing.fixtures.ProviderUnderTest` (``action``, ``logs``,
  ``published``).

Example::

    def test_increment(drp_provider, drp_client):
        inc = drp_provider("examples/incrementer/incrementer.py")
        drp_client.create_machine("m1")
        assert inc.action("increment", on="m1") == 1
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..standin import StandInThread
    from .fixtures import ProviderUnderTest, StandInClient


@pytest.fixture
def drp_standin() -> Iterator[StandInThread]:
    """A stand-in serving on loopback for the duration of one test."""
    from ..standin import StandInThread

    with StandInThread() as drp:
        yield drp


@pytest.fixture
def drp_client(drp_standin: StandInThread) -> Iterator[StandInClient]:
    """A REST client of ``drp_standin`` with its superuser token."""
    from .fixtures import StandInClient

    with StandInClient(drp_standin) as client:
        yield client


@pytest.fixture
def drp_provider(drp_standin: StandInThread,
                 drp_client: StandInClient) -> Callable[..., ProviderUnderTest]:
    """Factory: install a provider into ``drp_standin`` and start a Plugin for it."""
    from .fixtures import load_provider

    def factory(source: Any, **kwargs: Any) -> ProviderUnderTest:
        return load_provider(drp_standin, drp_client, source, **kwargs)

    return factory
