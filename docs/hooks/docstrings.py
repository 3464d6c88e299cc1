"""mkdocs hook: render the docstrings' reST, and fail the build on what would render wrong.

The docstrings are written for ``help()`` and Sphinx-style readers (mkdocs.yml:
``docstring_style: sphinx``). mkdocstrings renders their text as Markdown, so
this hook does what Sphinx would do with two reST conventions:

- a role, ``:class:`X``` (``:func:``, ``:meth:``, ``:mod:``, ``:attr:``, ``:exc:``,
  ``:data:``, ``:obj:``, ``:const:``), becomes a link to ``X`` in the reference.
  ``X`` is looked up as Sphinx does: a full ``drp_plugin.`` path as written, else
  from the object whose docstring holds it outwards, else a unique object of that
  name; ``~`` shows only its last part. A role naming a Python object the site
  does not render (an internal class, a constant) stays inline code, as in Sphinx;
  a role naming nothing at all (a typo, a renamed object) is an error;
- a paragraph ending in ``::`` before a code block ends in ``:``, and a paragraph
  that is only ``::`` goes.

Then it checks every page and logs an error (``mkdocs build --strict`` fails, with or
without ``--quiet``, which hides mere warnings from strict mode's count) on:

- a role left as text (``:class:`` not followed by a name), or ``~drp_plugin.``;
- a paragraph ending in ``::`` that no code block follows (a literal block that
  did not render: usually a missing blank line or indent);
- a function or method rendered without its signature;
- a public method of a class of the reference that ``inspect.signature`` cannot
  read (a descriptor that hides the method behind ``(*args, **kwargs)``), or that
  is rendered neither with its class nor with the base class defining it, unless
  the ``filters`` of that class's ``:::`` block (or the handler's) leave it out on
  purpose (internals such as ``Provider.run_config``).
"""

from __future__ import annotations

import html as htmllib
import importlib
import inspect
import logging
import re
import textwrap
from collections.abc import Iterable
from typing import Any

import yaml

log = logging.getLogger("mkdocs.hooks.docstrings")

_ROLES = "class|func|meth|mod|attr|exc|data|obj|const"
#: A role as mkdocstrings renders it: the role's text, then the target in inline code.
_ROLE = re.compile(rf":(?:py:)?(?:{_ROLES}):<code>(~?)(\.?)([A-Za-z_][\w.]*)</code>")
#: What must not be left in a rendered page.
_LEFT_ROLE = re.compile(rf":(?:py:)?(?:{_ROLES}|ref|doc):(?!//)")
_TILDE = re.compile(r"~drp_plugin\.")
_CODE_AFTER = r'(?=\s*(?:<div class="highlight"|<pre))'
_ONLY_COLONS = re.compile(r"<p>::</p>" + _CODE_AFTER)
_COLONS_BEFORE_CODE = re.compile(r"::</p>" + _CODE_AFTER)
_COLONS_END = re.compile(r"::</p>")
#: The heading of one rendered object; its kind is the class of its name's span.
_HEADING = re.compile(
    r'<h(\d) id="(drp_plugin(?:\.\w+)*)" class="doc doc-heading">\s*'
    r'(?:<code[^>]*>)?\s*<span class="doc doc-object-name doc-(\w+)-name">'
)
_CONTENTS = '<div class="doc doc-contents'
_SIGNATURE = 'class="doc-signature'
#: A ``::: identifier`` block of a page and its indented YAML options.
_BLOCK = re.compile(r"^:::[ \t]+(\S+)[ \t]*\n((?:[ \t]+\S.*\n?|[ \t]*\n)*)", re.MULTILINE)

_state: dict[str, Any] = {}


def on_config(config: Any, **kwargs: Any) -> Any:
    """Remember the handler's default ``filters``; start a build afresh."""
    options = config["plugins"]["mkdocstrings"].config["handlers"]["python"].get("options", {})
    _state.clear()
    _state["filters"] = list(options.get("filters", ["!^_[^_]"]))
    _state["blocks"] = {}
    return config


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Record the options of each ``:::`` block (their ``filters`` say what is left out)."""
    for match in _BLOCK.finditer(markdown):
        text = textwrap.dedent(match.group(2)) if match.group(2).strip() else ""
        options = (yaml.safe_load(text) or {}).get("options", {}) if text else {}
        _state["blocks"][match.group(1)] = options or {}
    return markdown


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    """reST literal-block markers: ``text::`` before a code block is ``text:``."""
    html = _ONLY_COLONS.sub("", html)
    return _COLONS_BEFORE_CODE.sub(":</p>", html)


def on_env(env: Any, config: Any, files: Any) -> Any:
    """Link the roles (before autorefs, which runs late), then check every page."""
    pages = [f.page for f in files if f.page is not None and f.page.content]
    objects: dict[str, str] = {}  # rendered object path -> kind
    for page in pages:
        for match in _HEADING.finditer(page.content):
            objects[match.group(2)] = match.group(3)
    problems: list[str] = []
    for page in pages:
        page.content = _link_roles(page.content, objects, page.file.src_path, problems)
        problems.extend(_check_page(page.content, page.file.src_path))
    problems.extend(_check_classes(objects))
    for problem in problems:
        log.error(problem)  # an error: --quiet drops warnings before --strict counts them
    return env


def _link_roles(html: str, objects: dict[str, str], where: str, problems: list[str]) -> str:
    headings = [(m.start(), m.group(2)) for m in _HEADING.finditer(html)]

    def link(match: re.Match[str]) -> str:
        tilde, _dot, name = match.groups()
        context = ""
        for start, path in headings:
            if start > match.start():
                break
            context = path
        target = _resolve(name, context, objects)
        title = name.rsplit(".", 1)[-1] if tilde else name
        if target is None:
            if _exists(name, context):
                return f"<code>{htmllib.escape(title)}</code>"
            problems.append(
                f"{where}: {match.group(0)!r} (in {context or 'the page'}) names no Python "
                "object: fix the name, or write plain ``code``"
            )
            return match.group(0)
        return f'<autoref identifier="{target}"><code>{htmllib.escape(title)}</code></autoref>'

    return _ROLE.sub(link, html)


def _resolve(name: str, context: str, objects: dict[str, str]) -> str | None:
    if name.startswith("drp_plugin."):
        return name if name in objects else None
    scope = context
    while scope:
        if f"{scope}.{name}" in objects:
            return f"{scope}.{name}"
        scope = scope.rpartition(".")[0]
    ends = sorted((p for p in objects if p.endswith("." + name)), key=lambda p: (len(p), p))
    return ends[0] if ends else None


def _exists(name: str, context: str) -> bool:
    """Whether ``name`` is an object seen from ``context`` (outwards, and its module's)."""
    scopes: list[str] = []
    scope = context
    while scope:
        scopes.append(scope)
        scope = scope.rpartition(".")[0]
    try:
        module = inspect.getmodule(_import(context)) if context else None
    except (ImportError, AttributeError):
        module = None
    if module is not None:
        scope = module.__name__
        while scope:
            scopes.append(scope)
            scope = scope.rpartition(".")[0]
    for prefix in ([""] if name.startswith("drp_plugin.") else []) + [s + "." for s in scopes]:
        try:
            _import(prefix + name)
        except (ImportError, AttributeError):
            continue
        return True
    return False


def _check_page(html: str, where: str) -> Iterable[str]:
    for pattern, what in (
        (_LEFT_ROLE, "a reST role left as text"),
        (_TILDE, "a '~drp_plugin.' path left as text"),
        (_COLONS_END, "a paragraph ending in '::' with no code block after it"),
    ):
        for match in pattern.finditer(html):
            text = re.sub(r"<[^>]+>", "", html[max(0, match.start() - 80):match.end() + 40])
            yield f"{where}: {what}: ...{' '.join(text.split())}..."
    headings = list(_HEADING.finditer(html))
    for match in headings:
        if match.group(3) != "function":
            continue
        end = html.find(_CONTENTS, match.end())
        if _SIGNATURE not in html[match.end():end if end >= 0 else None]:
            yield f"{where}: {match.group(2)} is rendered without a signature"


def _import(path: str) -> Any:
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(path)


def _keep(name: str, filters: list[str]) -> bool:
    """mkdocstrings-python's rule: the last filter matching the name decides."""
    keep, rules = None, set()
    for text in filters:
        exclude = text.startswith("!")
        rules.add(exclude)
        if re.search(text.removeprefix("!"), name):
            keep = not exclude
    return keep if keep is not None else rules != {False}


def _check_classes(objects: dict[str, str]) -> Iterable[str]:
    classes = {path: _import(path) for path, kind in objects.items() if kind == "class"}
    rendered = {
        (id(classes[path.rpartition(".")[0]]), path.rpartition(".")[2])
        for path in objects
        if path.rpartition(".")[0] in classes
    }
    for path, cls in classes.items():
        options = _state["blocks"].get(path, {})
        if options.get("members") is False:
            continue
        filters = options.get("filters", _state["filters"])
        for name in dir(cls):
            if name.startswith("_") or not _keep(name, filters):
                continue
            owner = next((k for k in cls.__mro__ if name in vars(k)), None)
            if owner is None or not owner.__module__.startswith("drp_plugin"):
                continue  # object's, Exception's, a dataclass's own machinery
            member = vars(owner)[name]
            if isinstance(member, property) or not callable(getattr(cls, name, None)):
                continue
            try:
                inspect.signature(getattr(cls, name))
            except (TypeError, ValueError) as exc:
                yield f"{path}.{name}: inspect.signature cannot read it ({exc})"
                continue
            if isinstance(member, type):
                continue  # a nested class: rendered (or not) as a class
            if (id(cls), name) not in rendered and (id(owner), name) not in rendered:
                yield (
                    f"{path}.{name}: a public method missing from the reference (render it, "
                    f"e.g. inherited_members, or leave it out with the block's filters)"
                )
