"""The recorded DRP model fields (``src/drp_plugin/drp_models.json``) and their generator.

The data comes from ``models/*.go`` of github.com/digitalrebar/provision (the commit is
recorded in the file); ``tools/gen_drp_models.py`` regenerates it.  With
``DRP_PROVISION_GIT`` naming a git mirror or checkout of that repository (and
``DRP_PROVISION_REV``, default the recorded commit), the recorded file is checked
against the sources.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from drp_plugin.content import drp_models

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("gen_drp_models", ROOT / "tools" / "gen_drp_models.py")
assert _spec is not None and _spec.loader is not None
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

GO = '''package models

type Meta map[string]string
type PoolStatus string

// Validation is embedded
type Validation struct {
	Validated bool
	Errors    []string
	self      interface{}
}

type Thing struct {
	Validation
	Meta
	// Name is the key
	Name string `index:",key"`
	Count int `json:"Count,omitempty"`
	Hidden string `json:"-"`
	Renamed string `json:"other"`
	Errors map[string]string // shadows the embedded field
	OS   OsInfo
	Status PoolStatus
	A, B []*Thing
}

func (t *Thing) Prefix() string {
	return "things"
}
'''


def test_parser_reads_fields_as_encoding_json_sees_them() -> None:
    data = gen.parse_go({"models/thing.go": GO})
    assert data["prefixes"] == {"things": "Thing"}
    assert data["keys"] == {"Thing": "Name"}
    assert data["named"] == {"Meta": "map[string]string", "PoolStatus": "string"}
    assert data["structs"]["Thing"] == {
        "Meta": "Meta", "Name": "string", "Count": "int", "other": "string",
        "Errors": "map[string]string", "OS": "OsInfo", "Status": "PoolStatus",
        "A": "[]*Thing", "B": "[]*Thing", "Validated": "bool",
    }


def test_recorded_data_has_what_the_bundler_relies_on() -> None:
    data = drp_models()
    assert data["source"]["repository"] == "github.com/digitalrebar/provision"
    assert len(data["source"]["commit"]) == 40
    structs = data["structs"]
    assert structs["OsInfo"]["Version"] == "string"
    assert "OutputParams" not in structs["Task"]          # DRP v4.8's Task has none
    assert "Documentation" not in structs["Template"]
    assert data["prefixes"]["bootenvs"] == "BootEnv" and data["keys"]["Template"] == "ID"
    assert set(data["prefixes"]) >= {"params", "profiles", "tasks", "stages", "workflows",
                                     "templates", "bootenvs", "machines", "plugins"}
    text = (ROOT / "src" / "drp_plugin" / "drp_models.json").read_text()
    assert text == gen.dumps(json.loads(text))  # the file is in the generator's form


@pytest.mark.skipif(not os.environ.get("DRP_PROVISION_GIT"),
                    reason="DRP_PROVISION_GIT (a mirror of digitalrebar/provision) not set")
def test_recorded_data_matches_the_go_sources() -> None:
    rev = os.environ.get("DRP_PROVISION_REV") or drp_models()["source"]["commit"]
    assert gen.main([os.environ["DRP_PROVISION_GIT"], "--rev", rev, "--check"]) == 0
