"""A stand-in driven by RackN's own Python client, ``drppy-client`` (PyPI, pinned in ``dev``).

drppy's generated models raise ``ValueError("Invalid value for `x`, must not be `None`")``
when a field its swagger spec marks required is missing (``client_side_validation`` is
on by default), so a reply that deserializes is a reply with every required field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import urllib3

drppy_client = pytest.importorskip("drppy_client")

from drppy_client.api_client import ApiClient  # noqa: E402
from drppy_client.configuration import Configuration  # noqa: E402

from drp_plugin.standin import StandInThread  # noqa: E402

# The stand-in's certificate is self-signed, as a fresh DRP's is.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

FAKE = Path(__file__).parents[1] / "standin" / "fake_provider.py"


@pytest.fixture(scope="module")
def standin() -> Iterator[StandInThread]:
    with StandInThread() as drp:
        yield drp


def make_client(drp: StandInThread, token: str | None = None,
                basic: tuple[str, str] | None = None) -> ApiClient:
    """A drppy ``ApiClient`` on the stand-in (token auth unless ``basic`` is given)."""
    conf = Configuration()
    conf.host = drp.endpoint + "/api/v3"
    conf.verify_ssl = False
    conf.client_side_validation = True
    if basic is not None:
        conf.username, conf.password = basic
    else:
        conf.api_key["Authorization"] = token or drp.token
        conf.api_key_prefix["Authorization"] = "Bearer"
    return ApiClient(conf)


@pytest.fixture(scope="module")
def api(standin: StandInThread) -> ApiClient:
    return make_client(standin)


@pytest.fixture(scope="module")
def client_factory() -> Callable[..., ApiClient]:
    """:func:`make_client`, for tests that need another identity or default headers."""
    return make_client


@pytest.fixture(scope="module")
def fake_provider_file() -> Path:
    """The stdlib fake provider of ``tests/standin`` (an executable script)."""
    return FAKE
