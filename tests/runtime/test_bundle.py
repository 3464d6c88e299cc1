"""Content bundles: ``drp-plugin bundle`` and the rules of docs/protocol.md section 6."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from drp_plugin.content import bundle, bundle_dict, go_float32_string, write_bundle
from drp_plugin.errors import ContentError
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


def _has_anchors_or_aliases(text: str) -> bool:
    """Whether YAML ``text`` holds any anchor (``&id001``) or alias (``*id001``)."""
    return any(isinstance(e, yaml.AliasEvent) or getattr(e, "anchor", None)
               for e in yaml.parse(text))


def test_bundle_equals_drpcli_in_meaning(tmp_path: Path) -> None:
    """What ``drpcli contents bundle`` (Go ``api.Client.BundleContent``) makes of each file:
    ``store.YamlCodec.Decode`` (ghodss/yaml ``convertToJSONableObject``, then
    ``encoding/json``) into the model struct of ``models.New(prefix)``.

    Typed scalars (vmware's ``bootenvs/*/OS/Version: 670`` is the string "670"), template
    bytes kept (CRLF), no anchors/aliases in the output, misspelled fields dropped with a
    warning naming file and field, no field the model lacks added.
    """
    (tmp_path / "bootenvs").mkdir()
    (tmp_path / "bootenvs" / "esxi.yaml").write_text(
        "Name: esxi_670\n"
        "OS:\n  Name: esxi\n  Version: 670\n  Codename: 6.7\n  Family: true\n"
        "  SupportedArchitectures:\n    amd64:\n      Kernel: 1.5e0\n      Initrds: [7, x, y, 12:30, 0o17, 1_000]\n"
        "Meta:\n  color: 3\n  icon: yes\n"
        "OnlyUnknown: false\n"
        "Loaders:\n  amd64-uefi: 12\n")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "p.yaml").write_text(
        "Name: p/q\nDoccumentation: typo\ndescription: lower case, as Go matches it\n"
        "Schema:\n  type: string\n  default: 2021-01-02\n  enum: [1, 2.0]\n"
        "Meta: &m\n  a: b\n")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "shared.yaml").write_text(
        "Name: shared\nParams:\n  x: &x {deep: [1, 2]}\n  z: *x\n  1: one\n  n: yes\n")
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "t.yaml").write_text("Name: t\nOutputParams: [a]\n")
    (tmp_path / "templates").mkdir()
    crlf = b"Write-Host 'hi'\r\n$x = 1\r\n\r\nexit 0\r\n"
    (tmp_path / "templates" / "win.ps1.tmpl").write_bytes(crlf)
    warnings: list[str] = []
    text = bundle(tmp_path, warn=warnings.append)
    assert not _has_anchors_or_aliases(text)
    data = yaml.safe_load(text)
    env = data["sections"]["bootenvs"]["esxi_670"]
    assert env["OS"]["Version"] == "670" and env["OS"]["Codename"] == "6.7"
    assert env["OS"]["Family"] == "true"
    arch = env["OS"]["SupportedArchitectures"]["amd64"]
    assert arch["Kernel"] == "1.5" and arch["Initrds"] == ["7", "x", "true", "12:30", "15", "1000"]
    assert env["Meta"] == {"color": "3", "icon": "true"} and env["Loaders"] == {"amd64-uefi": "12"}
    param = data["sections"]["params"]["p/q"]
    assert "Doccumentation" not in param and param["Description"] == "lower case, as Go matches it"
    # interface{} values keep their YAML types; timestamps stay strings (go-yaml's interface{})
    assert param["Schema"] == {"type": "string", "default": "2021-01-02", "enum": [1, 2.0]}
    params = data["sections"]["profiles"]["shared"]["Params"]
    assert params == {"x": {"deep": [1, 2]}, "z": {"deep": [1, 2]}, "1": "one", "false": True}
    assert "OutputParams" not in data["sections"]["tasks"]["t"]  # not in DRP v4.8's Task
    template = data["sections"]["templates"]["win.ps1.tmpl"]
    assert template["Contents"].encode() == crlf and "Documentation" not in template
    assert warnings == [
        f"{tmp_path / 'params' / 'p.yaml'}: field Doccumentation is not a field of DRP's "
        "Param: left out (drpcli drops it too)",
        f"{tmp_path / 'tasks' / 't.yaml'}: field OutputParams is not a field of DRP's "
        "Task: left out (drpcli drops it too)",
    ]
    as_json = json.loads(write_bundle(tmp_path, tmp_path.parent / "b.json", warn=lambda m: None))
    assert as_json == data


def test_bundle_type_errors_name_file_and_field(tmp_path: Path) -> None:
    """Values Go's ``encoding/json`` cannot decode into the field are refused, as drpcli
    refuses them (``cannot unmarshal ... into Go struct field``)."""
    (tmp_path / "params").mkdir()
    bad = tmp_path / "params" / "bad.yaml"
    bad.write_text("Name: a/b\nSecure: maybe\n")
    with pytest.raises(ContentError, match=r"bad.yaml: field Secure: cannot use a str as Go bool"):
        bundle_dict(tmp_path)
    bad.write_text("Name: [a, b]\n")
    with pytest.raises(ContentError, match=r"bad.yaml: field Name: cannot use a list"):
        bundle_dict(tmp_path)
    bad.unlink()
    # .json files go through encoding/json alone (no ghodss conversion): a number is no string
    (tmp_path / "params" / "n.json").write_text('{"Name": "a/b", "Description": 5}')
    with pytest.raises(ContentError, match=r"n.json: field Description: cannot use a int"):
        bundle_dict(tmp_path)


def test_bundle_tool_prints_dropped_fields(tmp_path: Path) -> None:
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "p.yaml").write_text("Name: a/b\nDescriptio: typo\n")
    done = subprocess.run([*TOOL, "bundle", str(tmp_path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "p.yaml: field Descriptio is not a field of DRP's Param" in done.stderr
    assert "Descriptio:" not in done.stdout


BILLION_LAUGHS = """\
Name: lol
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_is_refused_naming_the_file(tmp_path: Path) -> None:
    """Issue 10 item 6: a ~530-byte billion laughs (10^9 strings once expanded) is refused
    before anything is expanded; the bound is ``DRP_PLUGIN_CONTENT_MAX_EXPANSION``."""
    assert len(BILLION_LAUGHS) < 600
    (tmp_path / "lols").mkdir()
    (tmp_path / "lols" / "bomb.yaml").write_text(BILLION_LAUGHS)
    with pytest.raises(ContentError, match=r"bomb.yaml: its YAML aliases expand to more than"):
        bundle_dict(tmp_path)
    env = {**os.environ, "DRP_PLUGIN_CONTENT_MAX_EXPANSION": "1000000"}
    done = subprocess.run([*TOOL, "bundle", str(tmp_path)], capture_output=True, text=True,
                          timeout=60, check=False, env=env)
    assert done.returncode == 1
    assert "bomb.yaml: its YAML aliases expand to more than 1000000 bytes" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_alias_bomb_in_define_is_refused(tmp_path: Path) -> None:
    """``define`` of a provider whose content holds the bomb fails with the file named."""
    (tmp_path / "content" / "lols").mkdir(parents=True)
    (tmp_path / "content" / "lols" / "bomb.yaml").write_text(BILLION_LAUGHS)
    provider = tmp_path / "bomb.py"
    provider.write_text("from drp_plugin import Provider\n"
                        "provider = Provider('bomb', content='content')\n"
                        "if __name__ == '__main__':\n    provider.main()\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RS_")}
    done = subprocess.run([sys.executable, str(provider), "define"], capture_output=True,
                          text=True, timeout=60, check=False, env=env)
    assert done.returncode != 0
    assert "bomb.yaml: its YAML aliases expand to more than" in done.stdout + done.stderr


def test_anchors_within_the_bound_are_expanded(tmp_path: Path) -> None:
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "p.yaml").write_text(
        "Name: a/b\nSchema: &s {type: object, properties: {x: {type: string}}}\n"
        "Meta: {x: y}\n")
    (tmp_path / "params" / "q.yaml").write_text("Name: a/c\nSchema: {items: [&i 1, *i]}\n")
    text = bundle(tmp_path)
    assert not _has_anchors_or_aliases(text)
    assert yaml.safe_load(text)["sections"]["params"]["a/c"]["Schema"] == {"items": [1, 1]}


@pytest.mark.parametrize("content", sorted(
    str(p.relative_to(ROOT)) for p in [*ROOT.glob("examples/*/content"),
                                       *ROOT.glob("providers/*/content")]))
def test_every_project_content_dir_bundles_without_aliases(content: str) -> None:
    warnings: list[str] = []
    text = bundle(ROOT / content, warn=warnings.append)
    assert not _has_anchors_or_aliases(text)
    assert warnings == []
    assert yaml.safe_load(text)["sections"]


@pytest.mark.parametrize(("value", "expected"), [
    (1.0, "1"), (6.7, "6.7"), (1234567.0, "1.234567e+06"), (100000.0, "100000"),
    (1e6, "1e+06"), (0.0001, "0.0001"), (1e-05, "1e-05"), (3.14159265, "3.1415927"),
    (1e40, "+Inf"), (-2.5, "-2.5"), (0.0, "0"), (16777217.0, "1.6777216e+07"),
])
def test_go_float32_string(value: float, expected: str) -> None:
    """Go ``strconv.FormatFloat(v, 'g', -1, 32)``, which ghodss/yaml applies to a float
    landing in a string field; expected values are Go's (go1.16 playground semantics:
    shortest float32 digits, %e when exp < -4 || exp >= 6)."""
    assert go_float32_string(value) == expected


@pytest.mark.skipif(not os.environ.get("DRP_PROVISION_PLUGINS_GIT"),
                    reason="DRP_PROVISION_PLUGINS_GIT (a mirror of provision-plugins) not set")
def test_real_provision_plugins_content(tmp_path: Path) -> None:
    """The 19 content dirs of digitalrebar/provision-plugins bundle with no aliases; the
    misspelled fields the issue found are dropped with warnings; vmware's
    ``bootenvs/*/OS/Version: 670`` is the string "670"; image-deploy's Windows
    templates keep their CRLF."""
    git_dir = os.environ["DRP_PROVISION_PLUGINS_GIT"]
    archive = subprocess.run(["git", f"--git-dir={git_dir}", "archive", "HEAD", "cmds"],
                             capture_output=True, check=True, timeout=120).stdout
    subprocess.run(["tar", "x", "-C", str(tmp_path)], input=archive, check=True, timeout=120)
    dirs = sorted((tmp_path / "cmds").glob("*/content"))
    assert len(dirs) >= 19
    warnings: list[str] = []
    for content in dirs:
        assert not _has_anchors_or_aliases(bundle(content, warn=warnings.append))
    dropped = sorted(w.split(": field ")[1].split(" ")[0] for w in warnings)
    assert dropped == ["Descriptio", "Doccumentation", "Documentaiton"]
    vmware = bundle_dict(tmp_path / "cmds" / "vmware" / "content", warn=lambda m: None)
    versions = [b["OS"]["Version"] for b in vmware["sections"]["bootenvs"].values()]
    assert "670" in versions and all(isinstance(v, str) for v in versions)
    deploy = bundle_dict(tmp_path / "cmds" / "image-deploy" / "content", warn=lambda m: None)
    crlf = [k for k, t in deploy["sections"]["templates"].items() if "\r\n" in t["Contents"]]
    assert len(crlf) == 6
