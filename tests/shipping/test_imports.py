"""The build's import check: every import of the provider's own modules resolves in the
built file, or the build fails naming the module and file:line (issue #23, bug 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drp_plugin.shipping.imports import find_imports, stdlib_minors, unresolved
from tests.shipping.helpers import make_kitchen, zip_names

DRP_PLUGIN = str(Path(sys.executable).parent / "drp-plugin")

LAZY_HANDLERS = '''

@provider.action("sign")
def sign(ctx: SyncContext, action: Action) -> str:
    from cryptography.hazmat.primitives import hashes  # not declared: not carried

    return hashes.SHA256.name


@provider.action("later")
def later(ctx: SyncContext, action: Action) -> str:
    import lazy_helper  # a module of the project, imported only here

    return lazy_helper.WORD


@provider.action("maybe")
def maybe(ctx: SyncContext, action: Action) -> str:
    try:
        import ujson as json  # optional: guarded
    except ImportError:
        import json
    return json.dumps(1)
'''

LAZY_HELPER = '''\
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import mypy_extensions  # never imported at run time

WORD = "later"


def standin():
    from drp_plugin.standin import server  # drp-plugin's stand-in is not carried

    return server
'''


def lazy_project(root: Path) -> Path:
    project = make_kitchen(root)
    source = project / "kitchen.py"
    text = source.read_text(encoding="utf-8")
    marker = '\n\nif __name__ == "__main__":'
    source.write_text(text.replace(marker, LAZY_HANDLERS + marker), encoding="utf-8")
    (project / "lazy_helper.py").write_text(LAZY_HELPER, encoding="utf-8")
    return project


def drp_plugin_build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DRP_PLUGIN, "build", *args], capture_output=True, text=True,  # noqa: S603
                          timeout=300, check=False, stdin=subprocess.DEVNULL)


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.slow
def test_an_import_the_file_does_not_carry_fails_the_build(tmp_path: Path) -> None:
    project = lazy_project(tmp_path / "lazy")
    out = tmp_path / "dist" / "lazy"
    failed = drp_plugin_build(str(project), "-o", str(out), "--deps-from", "env", "--no-check")
    assert failed.returncode == 1, failed.stderr
    sign_line = _line(project / "kitchen.py", "from cryptography")
    standin_line = _line(project / "lazy_helper.py", "drp_plugin.standin")
    assert (f"kitchen.py:{sign_line}: cryptography.hazmat.primitives (not in the standard "
            "library, not a carried package, not a module of the project)") in failed.stderr
    assert (f"lazy_helper.py:{standin_line}: drp_plugin.standin (drp_plugin has no module "
            "standin in the built file)") in failed.stderr
    assert "--allow-import NAME" in failed.stderr
    # The guarded import and the one under TYPE_CHECKING are not reported.
    assert "ujson" not in failed.stderr and "mypy_extensions" not in failed.stderr
    assert not out.exists() and (not out.parent.exists() or list(out.parent.iterdir()) == [])

    built = drp_plugin_build(str(project), "-o", str(out), "--deps-from", "env", "--no-check",
                             "--allow-import", "cryptography",
                             "--allow-import", "drp_plugin.standin", "-q")
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == str(out)
    # The module imported only inside a handler is carried.
    assert "lazy_helper.py" in zip_names(out)


def test_an_allowed_name_must_be_a_module_name(tmp_path: Path) -> None:
    result = drp_plugin_build(str(tmp_path), "--allow-import", "no such")
    assert result.returncode != 0
    assert "--allow-import 'no such': a module name" in result.stderr


def _imports(source: str, package: str = "") -> list[tuple[str, int, bool, str]]:
    return [(i.module, i.line, i.guarded, i.problem)
            for i in find_imports(source.encode(), "m.py", package)]


def test_imports_are_found_at_top_level_in_functions_and_in_calls() -> None:
    source = (
        "import os, xml.etree.ElementTree as ET\n"          # 1
        "def f():\n"                                         # 2
        "    from yaml import safe_load\n"                   # 3
        "    import importlib\n"                             # 4
        "    return importlib.import_module('httpx')\n"      # 5
        "class C:\n"                                         # 6
        "    def g(self):\n"                                 # 7
        "        __import__('json')\n"                       # 8
        "        importlib.import_module(name)\n"            # 9: not a literal
    )
    assert _imports(source) == [
        ("os", 1, False, ""), ("xml.etree.ElementTree", 1, False, ""), ("yaml", 3, False, ""),
        ("importlib", 4, False, ""), ("httpx", 5, False, ""), ("json", 8, False, "")]


def test_guarded_and_type_checking_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"                 # 1
        "import typing, contextlib\n"                        # 2
        "if TYPE_CHECKING:\n"                                # 3
        "    import never\n"                                 # 4
        "else:\n"                                            # 5
        "    import runs\n"                                  # 6
        "if typing.TYPE_CHECKING:\n"                         # 7
        "    import never2\n"                                # 8
        "try:\n"                                             # 9
        "    import a\n"                                     # 10
        "except (ValueError, ModuleNotFoundError):\n"        # 11
        "    import b\n"                                     # 12
        "try:\n"                                             # 13
        "    import c\n"                                     # 14
        "except ValueError:\n"                               # 15
        "    pass\n"                                         # 16
        "try:\n"                                             # 17
        "    import d\n"                                     # 18
        "except:\n"                                          # 19
        "    pass\n"                                         # 20
        "with contextlib.suppress(ImportError):\n"           # 21
        "    import e\n"                                     # 22
        "with open('x'):\n"                                  # 23
        "    import f\n"                                     # 24
    )
    found = {m: (line, guarded) for m, line, guarded, _ in _imports(source)}
    assert "never" not in found and "never2" not in found
    assert found["runs"] == (6, False)
    assert found["a"] == (10, True) and found["b"] == (12, False)
    assert found["c"] == (14, False) and found["d"] == (18, True)
    assert found["e"] == (22, True) and found["f"] == (24, False)


def test_relative_imports_resolve_against_their_package() -> None:
    source = "from . import x\nfrom .sub import y\nfrom .. import z\nfrom ..up import w\n"
    assert _imports(source, "pkg.inner") == [
        ("pkg.inner", 1, False, ""), ("pkg.inner.sub", 2, False, ""),
        ("pkg", 3, False, ""), ("pkg.up", 4, False, "")]
    top = _imports("def f():\n    from . import helpers\n")
    assert top == [(".", 2, False, "a relative import beyond a top-level module")]


def test_the_standard_library_of_every_host_minor() -> None:
    minors = [(3, 9), (3, 10), (3, 11), (3, 12), (3, 13)]
    assert stdlib_minors("json", minors) == minors
    assert stdlib_minors("tomllib", minors) == [(3, 11), (3, 12), (3, 13)]
    assert stdlib_minors("distutils", minors) == [(3, 9), (3, 10), (3, 11)]
    assert stdlib_minors("cgi", minors) == [(3, 9), (3, 10), (3, 11), (3, 12)]
    assert stdlib_minors("yaml", minors) == []


def test_unresolved_names_file_line_and_why() -> None:
    source = ("import tomllib\nimport json\nimport yaml.loader\nimport yaml.nope\n"
              "import distutils.util\nimport fastcrypt.x\nfrom helper import thing\n")
    imports = find_imports(source.encode(), "prov.py")
    archive = ["prov.py", "helper.py", "yaml/__init__.py", "yaml/loader.py", "_drp_stamp"]
    floor_39 = unresolved(imports, archive, {"fastcrypt"}, (3, 9))
    assert floor_39 == [
        "prov.py:1: tomllib (in the standard library of Python 3.11, 3.12, 3.13 only; this "
        "file runs on 3.9 to 3.13)",
        "prov.py:4: yaml.nope (yaml has no module nope in the built file)",
        "prov.py:5: distutils.util (in the standard library of Python 3.9, 3.10, 3.11 only; "
        "this file runs on 3.9 to 3.13)",
    ]
    floor_311 = unresolved(imports, archive, {"fastcrypt"}, (3, 11), allow=["yaml.nope"])
    assert floor_311 == ["prov.py:5: distutils.util (in the standard library of Python 3.11 "
                         "only; this file runs on 3.11 to 3.13)"]
    assert unresolved(imports, archive, {"fastcrypt"}, (3, 11), allow=["yaml", "distutils"]) == []
