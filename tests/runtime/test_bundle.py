"""Content bundles: ``drp-plugin bundle`` and the rules of docs/protocol.md section 6."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from drp_plugin.content import ContentError, bundle_dict
from tests.helpers import GO_DEFINE, ROOT

CONTENT = ROOT / "examples" / "incrementer" / "content"
TOOL = [str(Path(sys.executable).parent / "drp-plugin")]


def test_bundle_command_writes_yaml_and_json(tmp_path: Path) -> None:
    go_content = yaml.safe_load(json.loads(GO_DEFINE.read_text())["Content"])
    out_yaml, out_json = tmp_path / "b.yaml", tmp_path / "b.json"
    for out in (out_yaml, out_json):
        done = subprocess.run([*TOOL, "bundle", str(CONTENT), str(out)], capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
    assert yaml.safe_load(out_yaml.read_text()) == go_content
    assert json.loads(out_json.read_text()) == go_content
    printed = subprocess.run([*TOOL, "bundle", str(CONTENT)], capture_output=True, text=True,
                             timeout=60, check=False)
    assert yaml.safe_load(printed.stdout) == go_content


def test_bundle_rules(tmp_path: Path) -> None:
    (tmp_path / "._Name.meta").write_text("  mine \n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text("Name: nope\n")
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "hello.tmpl").write_text("echo {{.Machine.Name}}\n")
    (templates / "nested").mkdir()
    (templates / "nested" / "skip.tmpl").write_text("no")
    params = tmp_path / "params"
    params.mkdir()
    (params / "a.json").write_text('{"Name": "a/b", "Schema": {"type": "string"}}')
    (params / "b.yml").write_text("Name: a/c\n")
    (params / "notes.txt").write_text("ignored")
    cows = tmp_path / "cows"
    cows.mkdir()
    (cows / "daisy.yaml").write_text("Id: daisy\nSpots: 3\n")
    bundle = bundle_dict(tmp_path)
    assert bundle["meta"]["Name"] == "mine"
    assert bundle["meta"]["Version"] == "v0.0.0" and bundle["meta"]["Type"] == "dynamic"
    assert sorted(bundle["sections"]) == ["cows", "params", "templates"]
    assert bundle["sections"]["templates"]["hello.tmpl"]["Contents"] == "echo {{.Machine.Name}}\n"
    assert sorted(bundle["sections"]["params"]) == ["a/b", "a/c"]
    assert bundle["sections"]["cows"]["daisy"]["Type"] == "cows"
    assert bundle["sections"]["cows"]["daisy"]["Spots"] == 3


def test_bad_content_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "bad.yaml").write_text("Name: [unclosed\n")
    with pytest.raises(ContentError, match="bad.yaml"):
        bundle_dict(tmp_path)
    (tmp_path / "params" / "bad.yaml").write_text("Schema: {}\n")
    with pytest.raises(ContentError, match="no Name"):
        bundle_dict(tmp_path)
    done = subprocess.run([*TOOL, "bundle", str(tmp_path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode != 0 and "no Name" in done.stderr and "Traceback" not in done.stderr
