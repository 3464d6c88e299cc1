"""The docs site's check (docs/hooks/docstrings.py) on rendered HTML as mkdocstrings writes it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("yaml")

HOOK = Path(__file__).resolve().parents[2] / "docs" / "hooks" / "docstrings.py"


@pytest.fixture(scope="module")
def hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hook_docstrings", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _heading(path: str, kind: str) -> str:
    return (
        f'<h2 id="{path}" class="doc doc-heading">\n'
        f'<span class="doc doc-object-name doc-{kind}-name">{path.rpartition(".")[2]}</span></h2>'
    )


OBJECTS = {"drp_plugin.api.Client": "class", "drp_plugin.errors.PluginError": "class"}


def test_a_role_naming_a_rendered_object_becomes_a_link(hook: ModuleType) -> None:
    problems: list[str] = []
    html = _heading("drp_plugin.api.Client", "class") + (
        "<p>Raises :class:<code>~drp_plugin.errors.PluginError</code> or :exc:<code>PluginError</code>.</p>"
    )
    out = hook._link_roles(html, OBJECTS, "api.md", problems)
    assert problems == []
    assert out.count('<autoref identifier="drp_plugin.errors.PluginError">') == 2
    assert "<code>PluginError</code></autoref>" in out  # ~ shows the last part only
    assert list(hook._check_page(out, "api.md")) == []


def test_a_role_naming_an_unrendered_object_stays_code(hook: ModuleType) -> None:
    problems: list[str] = []
    html = _heading("drp_plugin.api", "module") + "<p>written in :mod:<code>.operations</code>.</p>"
    out = hook._link_roles(html, OBJECTS, "api.md", problems)
    assert problems == []
    assert out.endswith("<p>written in <code>operations</code>.</p>")


def test_a_role_naming_nothing_fails(hook: ModuleType) -> None:
    problems: list[str] = []
    html = _heading("drp_plugin.api.Client", "class") + "<p>see :class:<code>x</code>.</p>"
    out = hook._link_roles(html, OBJECTS, "api.md", problems)
    assert len(problems) == 1 and "names no Python object" in problems[0]
    assert any("reST role left as text" in p for p in hook._check_page(out, "api.md"))


@pytest.mark.parametrize(
    "text",
    [
        "<p>see :class:Client there</p>",  # a role whose backquotes were lost
        "<p>a <code>~drp_plugin.api.Client</code> path</p>",
        "<p>Example::</p>\n<p>not code</p>",
    ],
)
def test_what_is_left_fails(hook: ModuleType, text: str) -> None:
    assert len(list(hook._check_page(text, "page.md"))) == 1


def test_literal_block_markers_become_a_colon(hook: ModuleType) -> None:
    html = '<p>Example::</p>\n<div class="highlight"><pre>x</pre></div><p>::</p>\n<pre><code>y</code></pre>'
    out = hook.on_page_content(html, page=None)
    assert out == '<p>Example:</p>\n<div class="highlight"><pre>x</pre></div>\n<pre><code>y</code></pre>'
    assert list(hook._check_page(out, "page.md")) == []


def test_a_function_without_a_signature_fails(hook: ModuleType) -> None:
    contents = '<div class="doc doc-contents "><p>Doc.</p></div>'
    signature = '<div class="doc-signature highlight"><pre><code>get()</code></pre></div>'
    head = _heading("drp_plugin.api.Client.get", "function")
    assert list(hook._check_page(head + signature + contents, "api.md")) == []
    [problem] = hook._check_page(head + contents, "api.md")
    assert "drp_plugin.api.Client.get is rendered without a signature" in problem


def test_filters_follow_mkdocstrings_rules(hook: ModuleType) -> None:
    filters = ["!^_", "!^run_", "!^(check|action_spec)$"]
    assert not hook._keep("run_config", filters)
    assert not hook._keep("check", filters)
    assert hook._keep("checkpoint", filters)
    assert hook._keep("action", filters)
    assert not hook._keep("_private", filters)


def test_every_public_client_method_is_readable_and_rendered(hook: ModuleType) -> None:
    hook._state.update(filters=["!^_"], blocks={})
    objects = {"drp_plugin.api.Client": "class"}
    problems = list(hook._check_classes(objects))
    # nothing of Client is rendered here: each public method is reported missing, none unreadable
    assert any(p.startswith("drp_plugin.api.Client.get_param: a public method missing") for p in problems)
    assert not any("cannot read" in p for p in problems)
    objects.update({f"drp_plugin.api.Client.{p.split(':')[0].rpartition('.')[2]}": "function"
                    for p in problems})
    assert list(hook._check_classes(objects)) == []
