"""``RequiredParams``/``OptionalParams`` come out of ``define`` as the author wrote them.

Go writes a nil slice as ``null`` and ``[]string{}`` as ``[]`` (``encoding/json``); a
Go provider's ``OptionalParams: []string{}`` is ``[]`` in its define output, one that
leaves the field out is ``null`` (``tests/data/go-incrementer-define.json``).  The same
holds here for the actions' lists and the plugin's, in the decorator style and the
interface style: not given / ``None`` -> ``null``, ``[]`` -> ``[]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from drp_plugin import App, Provider
from drp_plugin.models import available_action, param_list

PROVIDER = textwrap.dedent('''
    from drp_plugin import App, Provider

    provider = Provider("lists", version="v1.0.0", required_params=[], optional_params=None)

    @provider.action("empty", model="machines", required=[], optional=[])
    def empty(ctx, action):
        return None

    @provider.action("absent")
    def absent(ctx, action):
        return None

    @provider.action("mixed", model="plugins", required=["lists/a"], optional=())
    def mixed(ctx, action):
        return None

    class Plugin:
        def config(self, log, api, params):
            return None

        def action(self, log, action):
            return None

    app = App("applists", Plugin(), version="v1.0.0", definition={
        "AvailableActions": [
            {"Command": "empty", "Model": "machines", "RequiredParams": [],
             "OptionalParams": []},
            {"Command": "absent", "Model": ""},
            {"Command": "nulls", "Model": "", "RequiredParams": None, "OptionalParams": None},
        ],
        "RequiredParams": None,
        "OptionalParams": [],
    })

    if __name__ == "__main__":
        import sys
        (app if sys.argv.pop(1) == "app" else provider).main()
''')


def define(tmp_path: Path, which: str, env: dict[str, str]) -> dict[str, Any]:
    source = tmp_path / "lists.py"
    source.write_text(PROVIDER)
    result = subprocess.run([sys.executable, str(source), which, "define"], capture_output=True,
                            text=True, env={**env, "RS_TOKEN": "catalog"}, cwd=tmp_path,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    definition = json.loads(result.stdout)
    assert isinstance(definition, dict)
    return definition


def test_decorator_style_define_emits_the_lists_as_written(
        tmp_path: Path, clean_env: dict[str, str]) -> None:
    d = define(tmp_path, "provider", clean_env)
    assert d["AvailableActions"] == [
        {"Provider": "", "Model": "machines", "Command": "empty", "RequiredParams": [],
         "OptionalParams": []},
        {"Provider": "", "Model": "", "Command": "absent", "RequiredParams": None,
         "OptionalParams": None},
        {"Provider": "", "Model": "plugins", "Command": "mixed", "RequiredParams": ["lists/a"],
         "OptionalParams": []},
    ]
    assert d["RequiredParams"] == [] and d["OptionalParams"] is None


def test_interface_style_define_emits_the_lists_as_written(
        tmp_path: Path, clean_env: dict[str, str]) -> None:
    d = define(tmp_path, "app", clean_env)
    assert d["AvailableActions"] == [
        {"Provider": "", "Model": "machines", "Command": "empty", "RequiredParams": [],
         "OptionalParams": []},
        {"Provider": "", "Model": "", "Command": "absent", "RequiredParams": None,
         "OptionalParams": None},
        {"Provider": "", "Model": "", "Command": "nulls", "RequiredParams": None,
         "OptionalParams": None},
    ]
    assert d["RequiredParams"] is None and d["OptionalParams"] == []


def test_defaults_are_null_as_before() -> None:
    p = Provider("defaults", version="v1.0.0", base_dir=".")
    p.action("a")(lambda ctx, action: None)
    d = p.definition()
    assert d["RequiredParams"] is None and d["OptionalParams"] is None
    assert d["AvailableActions"][0]["RequiredParams"] is None
    assert d["AvailableActions"][0]["OptionalParams"] is None
    app = App("defaults", type("P", (), {"config": lambda self, log, api, params: None})(),
              version="v1.0.0", base_dir=".")
    assert app.definition()["RequiredParams"] is None
    assert app.definition()["OptionalParams"] is None


def test_an_empty_required_list_checks_nothing() -> None:
    p = Provider("check", version="v1.0.0", base_dir=".")
    p.action("a", required=[], optional=[])(lambda ctx, action: None)
    (spec,) = p.actions["a"]
    assert spec.required == [] and spec.optional == []
    assert spec.missing({}) == []


@pytest.mark.parametrize(("given", "listed"), [
    (None, None), ([], []), ((), []), (["a", "b"], ["a", "b"]), (("a",), ["a"]),
    ("one/param", ["one/param"]), ({"x": 1}, ["x"]),
])
def test_param_list(given: Any, listed: list[str] | None) -> None:
    assert param_list(given) == listed
    assert available_action("c", "", given, None)["RequiredParams"] == listed
    assert available_action("c", "", None, given)["OptionalParams"] == listed


def test_the_definition_does_not_share_the_providers_lists() -> None:
    p = Provider("own", version="v1.0.0", base_dir=".", optional_params=[])
    d = p.definition()
    d["OptionalParams"].append("changed")
    assert p.definition()["OptionalParams"] == []
