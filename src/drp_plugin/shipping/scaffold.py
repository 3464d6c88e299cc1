"""``drp-plugin new``: a ready-to-run provider project.

::

    NAME/
      pyproject.toml        depends on drp-plugin; [tool.drp-plugin].module
      NAME.py               the provider: one action (greet) and a config handler
      content/              ._Name.meta ... and params/greeting.yaml (no ._Version.meta:
                            the bundle's version is the provider's, from pyproject.toml)
      files/NAME.txt        an asset written by ``unpack``
      tests/test_NAME.py    define, unpack, and the action on the local DRP stand-in
      README.md             how to test, build and upload
      .gitignore

The templates live in ``templates/`` next to this module (``{{name}}``,
``{{module}}``, ``{{description}}`` and ``{{framework_version}}`` are filled in).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ..errors import ScaffoldError

TEMPLATES = Path(__file__).resolve().parent / "templates"
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
#: Top-level modules every built provider carries: a provider module cannot take these names.
RESERVED = frozenset({
    "drp_plugin", "h11", "httpx", "httpcore", "anyio", "idna", "certifi", "sniffio",
    "websockets", "yaml", "_yaml", "click", "jsonpatch", "jsonpointer", "typing_extensions",
    "tests", "test", "conftest", "setup",
})




def module_name(name: str) -> str:
    """The Python module name of provider ``name`` (``-`` becomes ``_``)."""
    return name.replace("-", "_")


def check_name(name: str) -> str:
    """``name`` if it can name a provider and its module, else :class:`ScaffoldError`."""
    if not _NAME_RE.match(name):
        raise ScaffoldError(
            f"invalid provider name {name!r}: use letters, digits, '-' and '_', "
            "starting with a letter"
        )
    module = module_name(name)
    if module in sys.stdlib_module_names or module in RESERVED:
        raise ScaffoldError(f"{name!r} clashes with the Python module {module}: choose another name")
    return name


def render(template: str, values: dict[str, str]) -> str:
    """``template`` with every ``{{key}}`` replaced."""
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    leftover = re.search(r"\{\{\w+\}\}", text)
    if leftover:
        raise ScaffoldError(f"template {template}: no value for {leftover.group()}")
    return text


def project_files(name: str) -> dict[str, str]:
    """Relative path -> text of every file of a new project ``name``."""
    from drp_plugin import __version__

    module = module_name(check_name(name))
    description = f"The {name} Digital Rebar Provision plugin provider"
    values = {"name": name, "module": module, "description": description,
              "framework_version": __version__}
    return {
        "pyproject.toml": render("pyproject.toml.tmpl", values),
        f"{module}.py": render("provider.py.tmpl", values),
        f"tests/test_{module}.py": render("test_provider.py.tmpl", values),
        "README.md": render("README.md.tmpl", values),
        ".gitignore": render("gitignore.tmpl", values),
        "content/._Name.meta": f"{name}\n",
        "content/._DisplayName.meta": f"{name}\n",
        "content/._Description.meta": f"Content of the {name} plugin provider\n",
        "content/._Documentation.meta": (
            f"Params used by the {name} plugin provider; bundled into its definition.\n"
        ),
        "content/._Source.meta": "drp-plugin new\n",
        "content/params/greeting.yaml": render("greeting.yaml.tmpl", values),
        f"files/{name}.txt": render("asset.txt.tmpl", values),
    }


def create_project(name: str, parent: str | Path | None = None) -> Path:
    """Write the project ``name`` into ``parent/name`` (which must not hold files yet)."""
    files = project_files(name)
    target = Path(parent if parent is not None else ".").joinpath(name).resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not empty")
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (target / f"{module_name(name)}.py").chmod(0o755)
    return target
