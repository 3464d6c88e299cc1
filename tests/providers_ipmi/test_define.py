"""define equals the Go ipmi provider's (tests/providers_ipmi/data/define.json): every
field but Version, the content bundle equal in meaning (drp-plugin bundle's rules: a
zero value Go's bundler writes for a field the file leaves out is the same to DRP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import yaml

from .conftest import PROVIDER, reference

_ZEROS: tuple[Any, ...] = ("", False, None, 0, [], {})


def meaning(value: Any) -> Any:
    """``value`` without the Go zero values a bundle may leave out."""
    if isinstance(value, dict):
        return {k: meaning(v) for k, v in value.items()
                if not any(v is z or (v == z and type(v) is type(z)) for z in _ZEROS)}
    if isinstance(value, list):
        return [meaning(v) for v in value]
    return value


def define(argv: list[str]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RS_")}
    done = subprocess.run([*argv, "define"], capture_output=True, text=True, timeout=120,
                          env={**env, "RS_TOKEN": "catalog"}, check=False)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def assert_same_definition(ours: dict[str, Any], go: dict[str, Any]) -> None:
    assert set(ours) == set(go)
    for field in go:
        if field not in ("Version", "Content"):
            assert ours[field] == go[field], field
    our_content, go_content = yaml.safe_load(ours["Content"]), yaml.safe_load(go["Content"])
    assert our_content["meta"].pop("Version") == ours["Version"]
    go_content["meta"].pop("Version")
    assert our_content["meta"] == go_content["meta"]
    assert meaning(our_content["sections"]) == meaning(go_content["sections"])
    # nothing the Go bundle lacks, and every object of it
    for section, objects in go_content["sections"].items():
        assert sorted(our_content["sections"][section]) == sorted(objects), section
        for name, obj in objects.items():
            assert set(our_content["sections"][section][name]) <= set(obj), (section, name)


def test_define_equals_go_reference() -> None:
    ours = define([sys.executable, str(PROVIDER)])
    assert_same_definition(ours, reference("define.json"))
    assert len(ours["AvailableActions"]) == 24
    assert ours["Version"] == "v0.1.0"


@pytest.mark.skipif(not os.environ.get("DRP_IPMI_GO_BINARY"),
                    reason="DRP_IPMI_GO_BINARY (a built Go ipmi provider) is not given")
def test_define_equals_go_binary() -> None:
    go = define([os.environ["DRP_IPMI_GO_BINARY"]])
    assert_same_definition(define([sys.executable, str(PROVIDER)]), go)


def test_define_loads_no_driver() -> None:
    code = ("import runpy, sys, io, contextlib; sys.argv = [sys.argv[1], 'define'];"
            "sys.path.insert(0, sys.argv[0].rsplit('/', 1)[0])\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
            "print(sorted(m for m in sys.modules if m.startswith('ipmi_core.') or m == 'httpx'))")
    done = subprocess.run([sys.executable, "-c", code, str(PROVIDER)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "RS_TOKEN": "catalog"},
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
