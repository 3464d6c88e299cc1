"""The build's parts: requirements and markers, packages, versions, finding the module."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from drp_plugin.errors import BuildError
from drp_plugin.models import normalize_version
from drp_plugin.shipping.deps import (
    evaluate_marker,
    framework_package,
    parse_requirement,
    resolve,
)
from drp_plugin.shipping.version import DEFAULT_VERSION, resolve_version
from drp_plugin.shipping.zipapp import find_module
from drp_plugin.tool import cli
from tests.helpers import INCREMENTER

ENV = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux",
       "platform_machine": "aarch64", "platform_python_implementation": "CPython",
       "implementation_name": "cpython", "os_name": "posix"}


def test_parse_requirement() -> None:
    req = parse_requirement("httpcore[asyncio,http2] ==1.* ; python_version >= '3.8'")
    assert (req.name, req.extras, req.marker) == ("httpcore", ("asyncio", "http2"),
                                                  "python_version >= '3.8'")
    assert parse_requirement("PyYAML>=6").key == "pyyaml"
    assert parse_requirement("zope.interface").key == "zope-interface"


@pytest.mark.parametrize("marker, extras, expected", [
    ('python_version < "3.15"', (), True),
    ('python_version >= "3.12"', (), False),
    ("python_full_version >= '3.11.7'", (), True),
    ('python_version ~= "3.9"', (), True),
    ('python_version == "3.11.*"', (), True),
    ('python_version != "3.11.*"', (), False),
    ("extra == 'brotli'", (), False),
    ("extra == 'brotli'", ("Brotli",), True),
    ("(platform_python_implementation == 'CPython') and extra == 'brotli'", ("brotli",), True),
    ('sys_platform == "win32" or platform_machine == "aarch64"', (), True),
    ('sys_platform == "win32" or python_version < "3.8" and os_name == "posix"', (), False),
    ('"linux" in sys_platform and "arm" not in platform_machine', (), True),
    ('implementation_name == "pypy"', (), False),
])
def test_markers(marker: str, extras: tuple[str, ...], expected: bool) -> None:
    assert evaluate_marker(marker, extras, ENV) is expected


def test_runtime_packages_are_the_pure_runtime_set() -> None:
    packages = {p.key: p for p in resolve([("drp-plugin", "test")])}
    assert {"drp-plugin", "h11", "httpx", "httpcore", "anyio", "idna", "certifi", "websockets",
            "pyyaml", "click", "jsonpatch", "jsonpointer"} <= set(packages)
    # the stand-in's tools are not a provider's runtime
    assert not {"aiohttp", "cryptography", "jsonschema", "pytest"} & set(packages)
    assert packages["pyyaml"].native and packages["websockets"].native
    for pkg in packages.values():
        assert not [f for f in pkg.files if f.endswith((".so", ".pyc", ".pyi"))], pkg.name
        assert not [f for f in pkg.files if f.endswith("/RECORD")], pkg.name


def test_framework_package_leaves_out_the_tools() -> None:
    files = framework_package().files
    assert "drp_plugin/provider.py" in files and "drp_plugin/protocol/runtime.py" in files
    assert not [f for f in files if f.split("/")[1] in ("standin", "testing", "shipping", "tool.py")]


def test_version_order(tmp_path: Path) -> None:
    # one format, v<semver>, whatever the source (what define shows)
    assert resolve_version("v1", tmp_path, "v2") == ("v1.0.0", "--version")
    assert resolve_version(None, tmp_path, "v2") == ("v2.0.0", "Provider(version=...)")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "3.0"\n')
    assert resolve_version(None, tmp_path, "v2") == ("v3.0.0", str(tmp_path / "pyproject.toml"))


def test_version_from_git_or_default(tmp_path: Path) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("no git")
    outside = subprocess.run([git, "-C", str(tmp_path), "rev-parse"], capture_output=True,  # noqa: S603
                             check=False)
    if outside.returncode != 0:
        assert resolve_version(None, tmp_path) == (DEFAULT_VERSION, "default")
    described = subprocess.run(  # noqa: S603
        [git, "-C", str(INCREMENTER.parent), "describe", "--tags", "--always", "--dirty"],
        capture_output=True, text=True, check=False)
    if described.returncode != 0:
        pytest.skip("examples are not in a git work tree")
    text = described.stdout.strip()
    if not re.fullmatch(r"[0-9a-f]{4,40}(-dirty)?", text):  # a tag
        assert resolve_version(None, INCREMENTER.parent) == (normalize_version(text), "git describe")
    else:  # a bare commit hash is no version
        assert resolve_version(None, INCREMENTER.parent) == (DEFAULT_VERSION, "default")


def test_find_module(tmp_path: Path) -> None:
    assert find_module(INCREMENTER) == (INCREMENTER.parent, INCREMENTER)
    assert find_module(INCREMENTER.parent) == (INCREMENTER.parent, INCREMENTER)
    (tmp_path / "a.py").write_text("import drp_plugin\np.main()\n")
    (tmp_path / "b.py").write_text("import drp_plugin\np.main()\n")
    with pytest.raises(BuildError, match=r"several provider modules .*\(a.py, b.py\)"):
        find_module(tmp_path)
    assert find_module(tmp_path, "b.py")[1] == tmp_path / "b.py"
    (tmp_path / "pyproject.toml").write_text('[tool.drp-plugin]\nmodule = "a.py"\n')
    assert find_module(tmp_path)[1] == tmp_path / "a.py"


def test_build_command_errors_are_clean(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import drp_plugin\nraise RuntimeError('boom')\n")
    result = CliRunner().invoke(cli, ["build", str(tmp_path / "broken.py")])
    assert result.exit_code == 1
    assert "cannot load the provider" in result.stderr and "boom" in result.stderr
    (tmp_path / "plain.py").write_text("x = 1\n")
    result = CliRunner().invoke(cli, ["build", str(tmp_path / "plain.py")])
    assert result.exit_code == 1 and "creates no drp_plugin.Provider" in result.stderr
    (tmp_path / "json.py").write_text("x = 1\n")
    result = CliRunner().invoke(cli, ["build", str(tmp_path / "json.py")])
    assert result.exit_code == 1 and "standard module name" in result.stderr
    result = CliRunner().invoke(cli, ["build", str(INCREMENTER), "--shebang", "python3"])
    assert result.exit_code == 1 and "absolute interpreter path" in result.stderr
    result = CliRunner().invoke(cli, ["build", str(INCREMENTER), "--python", "python3"])
    assert result.exit_code == 1 and "give the oldest host Python as '>=3.N'" in result.stderr
    result = CliRunner().invoke(cli, ["build", str(INCREMENTER), "--python", ">=3.7"])
    assert result.exit_code == 1 and "support 3.9 to 3.13" in result.stderr
    broken = tmp_path / "broken-project"
    broken.mkdir()
    (broken / "pyproject.toml").write_text("[project\n")
    result = CliRunner().invoke(cli, ["build", str(broken)])
    assert result.exit_code == 1 and "cannot read" in result.stderr
    assert isinstance(result.exception, SystemExit)


def test_probe_needs_no_patching_of_provider_main(tmp_path: Path) -> None:
    """An unguarded ``provider.main()`` runs as ``define`` (output swallowed) and the module
    goes on; a provider made inside a function is found; the result is typed."""
    from drp_plugin.provider import Provider
    from drp_plugin.shipping.zipapp import probe_provider

    main_before = Provider.main
    (tmp_path / "unguarded.py").write_text(
        "from drp_plugin import Provider\n"
        "p = Provider('unguarded', version='v3')\n"
        "p.main()\n"
        "AFTER = True\n")
    info = probe_provider(tmp_path / "unguarded.py")
    assert (info.name, info.version, info.has_validate) == ("unguarded", "v3", False)
    (tmp_path / "inner.py").write_text(
        "from drp_plugin import Provider\n"
        "def make():\n"
        "    p = Provider('inner')\n"
        "    @p.validate\n"
        "    def check(ctx, definition):\n"
        "        return definition\n"
        "    p.main()\n"
        "    return p\n"
        "KEEP = make()\n")
    info = probe_provider(tmp_path / "inner.py")
    assert (info.name, info.has_validate) == ("inner", True)
    assert Provider.main is main_before
