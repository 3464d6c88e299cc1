"""``tools/replay_cli.py``: DRP's recorded CLI suite replayed against the stand-in.

The pieces that need no drpcli (reading the Go tests, naming each case as
``common_test.go`` ``CliTest.loc`` does, comparing as ``testCli`` does) are tested on
their own.  With ``DRP_PROVISION_GIT`` (a git mirror or checkout of
digitalrebar/provision) and ``DRP_DRPCLI`` (a drpcli binary; ``DRP_INCREMENTER`` the
Go incrementer, optional), the whole suite is replayed and must reach the figure
``docs/protocol/standin.md`` states.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("replay_cli", ROOT / "tools" / "replay_cli.py")
assert _spec is not None and _spec.loader is not None
replay = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("replay_cli", replay)
_spec.loader.exec_module(replay)

GO = '''package cli

import "testing"

var shared = "global"

func TestThing(t *testing.T) {
	var input string = `{
  "Name": "john"
}
`
	bad := "{asdgasdg"
	cliTest(true, false, "profiles").run(t)
	cliTest(false, true, "profiles", "create", bad).run(t)
	cliTest(false, false, "profiles", "create", input).run(t)
	cliTest(false, false, "profiles", "create", "-").Stdin(input + "\\n").run(t)
	for _, name := range []string{"a", "b"} {
		cliTest(false, false, "profiles", "show", name, shared).run(t)
	}
	for _, p := range models.AllPrefixes() {
		cliTest(false, false, p, "indexes").run(t)
	}
	for _, p := range models.AllPrefixes() {
		if p == "preferences" {
			continue
		}
		cliTest(false, false, p, "list").run(t)
	}
	cliTest(false, false,
		"profiles", "show", "Name:john").run(t)
	cliTest(false, false, "files", "x").get(t)
}
'''


def test_extracts_the_go_tests_calls() -> None:
    cases = replay.extract({"x_test.go": GO})
    got = [(c.args, c.usage, c.error, c.stdin, c.curl) for c in cases]
    assert got == [
        (["profiles"], True, False, "", False),
        (["profiles", "create", "{asdgasdg"], False, True, "", False),
        (["profiles", "create", '{\n  "Name": "john"\n}\n'], False, False, "", False),
        (["profiles", "create", "-"], False, False, '{\n  "Name": "john"\n}\n\n', False),
        (["profiles", "show", "a", "global"], False, False, "", False),
        (["profiles", "show", "b", "global"], False, False, "", False),
        (None, False, False, "", False),           # a loop over models.AllPrefixes()
        (None, False, False, "", False),           # unknown without the models
        (["profiles", "show", "Name:john"], False, False, "", False),
        (["files", "x"], False, False, "", True),
    ]
    assert cases[6].why == "argument not computed: p"


def test_unrolls_the_loops_over_the_model_prefixes() -> None:
    """``models.AllPrefixes()`` read from the suite revision's models (``All()`` and each
    model's ``Prefix()``); ``if p == "preferences" { continue }`` skips that iteration
    (TestAuth lists every type as every user so)."""
    models = {"models/utils.go": "func All() []Model {\n\treturn []Model{\n\t\t&BootEnv{},\n"
                                 "\t\t&Pref{},\n\t\t&Role{},\n\t}\n}\n",
              "models/bootenv.go": 'func (b *BootEnv) Prefix() string {\n\treturn "bootenvs"\n}\n',
              "models/preference.go": 'func (p *Pref) Prefix() string {\n\treturn "preferences"\n}',
              "models/role.go": 'func (r *Role) Prefix() string { return "roles" }\n'}
    prefixes = replay.model_prefixes(models)
    assert prefixes == ["bootenvs", "preferences", "roles"]
    cases = replay.extract({"x_test.go": GO}, prefixes)
    assert [c.args for c in cases[6:12]] == [
        ["bootenvs", "indexes"], ["preferences", "indexes"], ["roles", "indexes"],
        ["bootenvs", "list"], ["roles", "list"], ["profiles", "show", "Name:john"]]
    switched = replay.extract({"x_test.go": """package cli

func TestSwitch(t *testing.T) {
\tfor _, p := range models.AllPrefixes() {
\t\tswitch p {
\t\tcase "preferences", "nothing":
\t\t\tcontinue
\t\tdefault:
\t\t\tcliTest(false, false, p, "indexes").run(t)
\t\t}
\t\tcliTest(false, false, p, "list").run(t)
\t}
}
"""}, prefixes)
    assert [c.args for c in switched] == [["bootenvs", "indexes"], ["bootenvs", "list"],
                                          ["roles", "indexes"], ["roles", "list"]]
    with pytest.raises(replay.Unknown):
        replay.model_prefixes({"models/utils.go": "func All() []Model {\n\treturn []Model{"
                                                  "&Gone{},\n\t}\n}\n"})


def test_unrolls_a_loop_over_a_maps_sorted_keys() -> None:
    """TestAuth's users: a ``map[string]string`` literal, its keys collected and sorted
    by a ``func() []string`` literal, and ``m[k]`` in the loop body."""
    go = """package cli

func TestMapped(t *testing.T) {
\tuMap := map[string]string{
\t\t"t1-1": `{"Roles":["stage","task"]}`,
\t\t"t1-0": `{"Roles":["stage"]}`,
\t}
\tusers := func() []string {
\t\tres := make([]string, 0, len(uMap))
\t\tfor k := range uMap {
\t\t\tres = append(res, k)
\t\t}
\t\tsort.Strings(res)
\t\treturn res
\t}()
\tfor _, u := range users {
\t\tr := uMap[u]
\t\tcliTest(false, false, "users", "update", u, r).run(t)
\t}
}
"""
    cases = replay.extract({"x_test.go": go})
    assert [c.args for c in cases] == [
        ["users", "update", "t1-0", '{"Roles":["stage"]}'],
        ["users", "update", "t1-1", '{"Roles":["stage","task"]}']]


def test_names_cases_as_the_recorded_folders() -> None:
    """Names of recorded folders (cli/test-data/output at af452c8a~1)."""
    namer = replay.Namer()
    assert namer.loc("TestLoadIncrementer", ["plugin_providers", "upload", "incrementer",
                                             "from", "../bin/linux/amd64/incrementer"], "") \
        == "TestLoadIncrementer/plugin_providers.upload.incrementer.from/bin/linux/amd64/incrementer"
    create = '{\n  "Name": "john",\n  "Params": {\n    "FRED": "GREG"\n  }\n}\n'
    assert namer.loc("TestProfileCli", ["profiles", "create", create], "") == \
        "TestProfileCli/profiles.create.cad8b2dc207bd6c4e771a38a18144846"
    assert namer.loc("TestProfileCli", ["profiles", "list"], "") == "TestProfileCli/profiles.list"
    assert namer.loc("TestProfileCli", ["profiles", "list"], "") == \
        "TestProfileCli/profiles.list.2"
    assert namer.loc("TestPluginCli", ["plugins", "show", "Key:i-woman"], "") == \
        "TestPluginCli/plugins.show.Key.i-woman"


def test_compares_as_testcli_does() -> None:
    case = replay.Case("T", 0, ["x"])
    assert replay.compare(case, "a\n", "", "a\n", "", False) == []
    assert replay.compare(case, "a\n", "", "b\n", "", False) == ["stdout"]
    assert replay.compare(case, "", "", "", "", True) == ["exit status: expected success"]
    regex = "RE:\n\\{\n  \"Name\": \"[a-z]+\",\n\\}\n"
    assert replay.compare(case, regex, "", '{\n  "Name": "bob",\n  "X": 1,\n}\n', "",
                          False) == []
    assert replay.compare(case, regex, "", '{\n  "Name": "B0B",\n}\n', "", False) == ["stdout"]
    usage = replay.Case("T", 0, ["x"], usage=True, error=True)
    assert replay.compare(usage, "", "Error: no\n", "", "Error: no\nUsage: ...", True) == []
    assert replay.compare(usage, "", "Error: no\n", "", "Error: no\n", True) == \
        ["stderr (usage)"]


def test_version_drift_is_told_apart() -> None:
    """An answer differing only by fields v4.8's model has and the 2019 one had not is
    drift; any other difference is not."""
    replay.NEWER["profiles"] = {"Profiles"}
    case = replay.Case("T", 0, ["profiles", "show", "john"])
    want = '{\n  "Name": "john"\n}\n'
    assert "Profiles" in replay.drift(case, want, "", '{"Name": "john", "Profiles": []}', "")
    assert replay.drift(case, want, "", '{"Name": "john", "CreatedAt": "x"}', "") == ""
    assert replay.drift(case, want, "", '{"Name": "jim", "Profiles": []}', "") == ""
    usage = replay.Case("T", 0, ["profiles"], usage=True)
    assert "usage" in replay.drift(usage, "", "", "", "")


def test_drift_in_patterns_yaml_and_model_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """``RE:`` recordings that are JSON with escaped brackets are rewritten as v4.8
    answers (dropped fields removed, ``VALUE_CHANGES`` applied) and matched again; YAML
    answers are read when drpcli was asked for YAML; a validation message listing a
    model table is compared with v4.8's table.  A real difference stays one."""
    monkeypatch.setitem(replay.NEWER, "machines", {"Pool", "WorkflowComplete"})
    monkeypatch.setitem(replay.OLDER, "machines", {"Profile"})
    case = replay.Case("T", 0, ["machines", "create", "bob"])
    want = ('RE:\n\\{\n  "CurrentTask": -1,\n  "Name": "bob",\n  "Profile": {\n'
            '    "Name": ""\n  },\n  "Tasks": \\[\\],\n  "Workflow": ""\n\\}\n')
    got = ('{\n  "CurrentTask": 0,\n  "Name": "bob",\n  "Pool": "default",\n'
           '  "Tasks": [],\n  "Uuid": "u",\n  "Workflow": "",\n  "WorkflowComplete": true\n}\n')
    why = replay.drift(case, want, "", got, "")
    assert "Profile" in why and "CurrentTask 0" in why
    assert replay.drift(case, want, "", got.replace('"bob"', '"jim"'), "") == ""
    monkeypatch.setitem(replay.NEWER, "bootenvs", {"Loaders"})
    listed = replay.Case("T", 0, ["-F", "yaml", "bootenvs", "list"])
    assert "Loaders" in replay.drift(listed, "- Name: local\n", "",
                                     "- Loaders: {}\n  Name: local\n", "")
    monkeypatch.setattr(replay, "MESSAGE_CHANGES", [("Valid values are: any,linux",
                                                      "Valid values are: any,esxi,linux",
                                                      "validGOOS gained esxi")])
    task = replay.Case("T", 0, ["tasks", "create", "-"], error=True)
    assert replay.drift(task, "", "Valid values are: any,linux\n", "",
                        "Valid values are: any,esxi,linux\n") == "validGOOS gained esxi"
    assert replay.drift(task, "", "Valid values are: any,linux\n", "",
                        "Valid values are: any,bsd,linux\n") == ""
    # drpcli's global options and their values come before the prefix
    as_fred = replay.Case("T", 0, ["-T", "", "-U", "fred", "-P", "fred", "machines", "show",
                                   "Name:bob"])
    assert "CurrentTask 0" in replay.drift(as_fred, want, "", got, "")


def test_nested_struct_fields_count_as_model_drift() -> None:
    """A field a nested struct gained (a task's ``[]TemplateInfo`` gained ``Link``) is
    found through the model's field types."""
    structs = {"Task": {"Name": "string", "Templates": "[]TemplateInfo"},
               "TemplateInfo": {"Name": "string", "Meta": "map[string]string"},
               "Machine": {"Fingerprint": "*MachineFingerprint"},
               "MachineFingerprint": {"SSNHash": "[]byte"}}
    assert replay._nested_structs(structs, "Task") == {"TemplateInfo"}
    assert replay._nested_structs(structs, "Machine") == {"MachineFingerprint"}


def test_summary_counts_cases_that_reach_the_stand_in() -> None:
    """The second figure: served cases making at least one request, and how many of
    those match (drpcli's usage answers make none)."""
    cases = []
    for n, (klass, requests) in enumerate((("match", 1), ("match", 0), ("differs", 2),
                                           ("drift", 0))):
        case = replay.Case("T", n, ["x"])
        case.result = {"class": klass, "served": True, "requests": requests,
                       "problems": ["stdout"], "want_out": "a", "out": "b",
                       "want_err": "", "err": ""}
        cases.append(case)
    summary = replay.summary(cases)
    assert (summary["served"], summary["matched"]) == (4, 2)
    assert (summary["served_requesting"], summary["matched_requesting"]) == (2, 1)
    assert "2 make at least one HTTP request" in replay.markdown(cases)


@pytest.mark.slow
@pytest.mark.skipif(not (os.environ.get("DRP_PROVISION_GIT") and os.environ.get("DRP_DRPCLI")),
                    reason="DRP_PROVISION_GIT (a mirror of digitalrebar/provision) and "
                           "DRP_DRPCLI (a drpcli binary) not set")
def test_recorded_suite_replayed() -> None:
    """The figures of docs/protocol/standin.md, kept: at least 75 % of the served cases
    that reach the stand-in, and 1,300 served cases, answer as DRP did (run17: 1,305 of
    1,566 and 1,307 of 1,802)."""
    inc = os.environ.get("DRP_INCREMENTER")
    cases = replay.replay(os.environ["DRP_PROVISION_GIT"], replay.SUITE_REV,
                          os.environ["DRP_DRPCLI"], Path(inc) if inc else None,
                          [str(Path(sys.executable).with_name("drp-plugin"))])
    summary = replay.summary(cases)
    assert summary["matched"] >= 1300, summary
    assert summary["matched_requesting"] >= 0.75 * summary["served_requesting"], summary


def test_a_tests_file_removals_are_replayed(tmp_path: Path) -> None:
    """``os.Remove("greg.yaml")`` between commands (TestContentCli) is a step of its own,
    done in the working folder only, never outside it."""
    go = """package cli

func TestFiles(t *testing.T) {
\tcliTest(false, false, "contents", "bundlize", "greg.yaml").run(t)
\tos.Remove("greg.yaml")
\tos.Remove("../outside")
}
"""
    cases = replay.extract({"x_test.go": go})
    assert [(c.args, c.removes) for c in cases] == [
        (["contents", "bundlize", "greg.yaml"], ""), (None, "greg.yaml"), (None, "../outside")]
    work = tmp_path / "cli"
    work.mkdir()
    (work / "greg.yaml").write_text("x")
    (tmp_path / "outside").write_text("kept")
    replay.remove_in(work, "greg.yaml")
    replay.remove_in(work, "../outside")
    assert not (work / "greg.yaml").exists() and (tmp_path / "outside").exists()


def test_a_field_no_longer_last_is_drift(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few-line ``RE:`` recording whose last field gained a comma because a v4.8 field
    sorts after it (TestWorkflowSwitch: ``"Workflow": "wf1"``, then ``WorkflowComplete``)
    is version drift; any other difference is not."""
    monkeypatch.setitem(replay.NEWER, "machines", {"WorkflowComplete"})
    case = replay.Case("T", 0, ["machines", "show", "Name:m1"])
    want = 'RE:\n  "Name": "m1",\n  "Workflow": "wf1"\n'
    got = '{\n  "Name": "m1",\n  "Workflow": "wf1",\n  "WorkflowComplete": false\n}\n'
    assert "WorkflowComplete" in replay.drift(case, want, "", got, "")
    assert replay.drift(case, want, "", got.replace("wf1", "wf2"), "") == ""


def test_html_escapes_of_the_2019_printer_are_drift() -> None:
    """The 2019 drpcli printed ``&`` as ``\\u0026`` (json.MarshalIndent); v4.8's printer
    keeps it (recorded TestTemplateCli ``templates upload template.go as greg``)."""
    case = replay.Case("T", 0, ["templates", "upload", "template.go", "as", "greg"])
    want = '{\n  "Contents": "op := \\u0026ops{}"\n}\n'
    got = '{\n  "Contents": "op := &ops{}"\n}\n'
    assert "PrettyColor" in replay.drift(case, want, "", got, "")
    assert replay.drift(case, want, "", got.replace("ops", "opz"), "") == ""
