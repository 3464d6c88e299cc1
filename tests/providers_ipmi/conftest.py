"""Fixtures of the ipmi provider's tests: the BMC simulators (one per session), a
stand-in DRP that advertises ``secure-param-upgrade`` (the Go provider's config
requires it; DRP >= 4.6 has it, the stand-in does not say so yet), and the provider
driven in process (:class:`~drp_plugin.testing.inprocess.TestClient`) or as a
process under the stand-in (``drp_plugin.testing.fixtures.load_provider``).

The simulators are skipped, with the reason, only when their binaries are absent
(CI installs them: Debian ``openipmi`` and ``ipmitool``, PyPI ``sushy-tools``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .simulators import IpmiSim, SushySim, ipmi_sim_binary, ipmitool_binary, sushy_binary

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_DIR = ROOT / "providers" / "ipmi"
PROVIDER = PROVIDER_DIR / "ipmi.py"
DATA = Path(__file__).resolve().parent / "data"
#: ipmi_sim 2.0.33 (Debian) ignores ipmitool's cipher-suite query (~10 s per call) and
#: has no SHA-256 suite (17): suite 3 (HMAC-SHA1/AES-128) is named for it.
CIPHER_SUITE = "3"
#: A wrapper in front of ipmitool recording each child's command line, as /proc has it.
WRAPPER = """#!/bin/sh
{{ tr '\\0' ' ' < /proc/$$/cmdline; echo; }} >> {log}
if [ -n "$IPMI_PASSWORD" ]; then echo "password-in-env" >> {log}; fi
exec {ipmitool} "$@"
"""


def load_module() -> Any:
    """providers/ipmi/ipmi.py as a module (its package ``ipmi_core`` importable)."""
    if str(PROVIDER_DIR) not in sys.path:
        sys.path.insert(0, str(PROVIDER_DIR))
    existing = sys.modules.get("ipmi_provider")
    if existing is not None:
        return existing
    spec = importlib.util.spec_from_file_location("ipmi_provider", PROVIDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ipmi_provider"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def ipmi_bmcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpmiSim]:
    """Four simulated IPMI BMCs (one ipmi_sim), power off at start."""
    if ipmi_sim_binary() is None:
        pytest.skip("ipmi_sim is not installed (Debian package openipmi)")
    if ipmitool_binary() is None:
        pytest.skip("ipmitool is not installed (Debian package ipmitool)")
    with IpmiSim(tmp_path_factory.mktemp("ipmi_sim"), count=4) as sim:
        yield sim


@pytest.fixture(scope="session")
def redfish_bmc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SushySim]:
    """sushy-emulator --fake on loopback HTTPS with basic auth."""
    if sushy_binary() is None:
        pytest.skip("sushy-emulator is not installed (PyPI sushy-tools, the dev extra)")
    with SushySim(tmp_path_factory.mktemp("sushy")) as sim:
        yield sim


@pytest.fixture(scope="session")
def ipmitool_wrapper(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wrapper script, its log of command lines) in front of the real ipmitool."""
    real = ipmitool_binary()
    if real is None:
        pytest.skip("ipmitool is not installed (Debian package ipmitool)")
    d = tmp_path_factory.mktemp("wrapper")
    log = d / "cmdlines.log"
    script = d / "ipmitool"
    script.write_text(WRAPPER.format(log=log, ipmitool=real))
    script.chmod(0o755)
    return script, log


@pytest.fixture(scope="module")
def provider_env(ipmitool_wrapper: tuple[Path, Path]) -> Iterator[dict[str, str]]:
    """The provider's settings for the simulators (set in this process's environment,
    which in-process handlers and the stand-in's provider processes both see)."""
    env = {"DRP_IPMI_CIPHER_SUITE": CIPHER_SUITE, "DRP_IPMI_IPMITOOL": str(ipmitool_wrapper[0]),
           "DRP_IPMI_TIMEOUT": "60"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        yield env


@pytest.fixture(scope="module")
def standin() -> Iterator[Any]:
    """A stand-in DRP whose ``/info`` lists ``secure-param-upgrade``."""
    from drp_plugin.standin import StandInThread

    with StandInThread() as drp:
        server = drp.standin
        plain = server.info

        def info() -> dict[str, Any]:
            answer = plain()
            answer["features"] = [*answer["features"], "secure-param-upgrade"]
            return answer

        server.info = info  # type: ignore[method-assign]
        yield drp


@pytest.fixture(scope="module")
def inproc(standin: Any, provider_env: dict[str, str]) -> Iterator[Any]:
    """The provider in this process, configured against ``standin``."""
    from drp_plugin.testing.inprocess import TestClient

    module = load_module()
    with TestClient(module.provider, environ={"RS_ENDPOINT": standin.endpoint,
                                              "RS_TOKEN": standin.token}) as client:
        reply = client.config({"Name": "ipmi"})
        assert reply.status == 200, reply.body
        yield client


def reference(name: str) -> dict[str, Any]:
    import json

    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def env_has(name: str) -> bool:
    return bool(os.environ.get(name))
