"""``drp-plugin build``: one executable file that runs on a bare Python."""

from __future__ import annotations

import json
import os
import shutil
import stat
import statistics
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from drp_plugin.errors import BuildError, DependencyError
from drp_plugin.shipping import BuildResult, build
from drp_plugin.shipping.zipapp import write_archive
from tests.helpers import INCREMENTER
from tests.shipping.helpers import (
    INCREMENTER_VERSION,
    KITCHEN_VERSION,
    clean_env,
    make_kitchen,
    run_file,
    zip_names,
)


def alone(result: BuildResult, folder: Path) -> Path:
    """The built file copied alone into an empty folder."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / result.path.name
    shutil.copy2(result.path, target)
    return target


def source_define(path: Path, cwd: Path) -> dict[str, object]:
    env = {**os.environ, "RS_TOKEN": "catalog"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    result = subprocess.run([sys.executable, str(path), "define"], capture_output=True,  # noqa: S603
                            text=True, env=env, cwd=cwd, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


# -- the file ------------------------------------------------------------------------------------

def test_built_file_is_an_executable_zipapp(built_incrementer: BuildResult) -> None:
    path = built_incrementer.path
    head = path.read_bytes()[:200_000]
    assert head.startswith(b"#!/bin/sh\n")  # answers define itself, then execs python3
    assert b'\nexec /usr/bin/env python3 "$0" "$@"\n' in head
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert built_incrementer.size == path.stat().st_size
    names = set(zip_names(path))
    assert {"__main__.py", "incrementer.py", "_drp_assets.pack", "_drp_stamp",
            "_drp_define.json", "drp_plugin/provider.py", "yaml/__init__.py",
            "httpx/__init__.py", "websockets/__init__.py", "click/__init__.py",
            "jsonpatch.py", "jsonpointer.py", "h11/__init__.py", "certifi/cacert.pem"} <= names
    # No compiled code, no development parts of drp_plugin.
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dylib")) or ".so." in n]
    for part in ("standin", "testing", "build"):
        assert not [n for n in names if n.startswith(f"drp_plugin/{part}/")], part
    assert "drp_plugin/tool.py" not in names
    assert not [n for n in names if n.startswith("_yaml/")]
    # Byte code lives in one table per minor, not next to the sources.
    assert not [n for n in names if n.endswith(".pyc")]
    tables = {f"_drp_pyc/cpython-{m[0]}{m[1]}" for m in built_incrementer.compiled_for}
    assert tables <= names and f"_drp_pyc/cpython-{sys.version_info[0]}{sys.version_info[1]}" in tables
    manifest = json.loads(zipfile.ZipFile(path).read("_drp_build.json"))
    assert manifest["name"] == "incrementer" and manifest["version"] == INCREMENTER_VERSION
    assert manifest["python"] == ">=3.9" and built_incrementer.floor == (3, 9)
    assert built_incrementer.static_define


def test_byte_code_tables_cover_every_module(built_incrementer: BuildResult) -> None:
    import marshal

    with zipfile.ZipFile(built_incrementer.path) as zf:
        infos = zf.infolist()
        sources = {i.filename for i in infos if i.filename.endswith(".py")}
        table = marshal.loads(zf.read(f"_drp_pyc/{sys.implementation.cache_tag}"))
        # stored, each module compressed on its own: a start inflates only what it imports
        kind = zf.getinfo(f"_drp_pyc/{sys.implementation.cache_tag}").compress_type
    assert kind == zipfile.ZIP_STORED
    assert set(table) == sources - {"__main__.py"}
    code = marshal.loads(zlib.decompress(table["drp_plugin/provider.py"]))
    assert code.co_filename == "drp_plugin/provider.py"  # no build-machine path inside
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)


def test_define_on_a_bare_python_equals_the_source(built_incrementer: BuildResult,
                                                   bare_python: str, tmp_path: Path) -> None:
    path = alone(built_incrementer, tmp_path / "alone")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = run_file(bare_python, path, "define", cwd=scratch)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    built = json.loads(result.stdout)
    source = source_define(INCREMENTER, scratch)
    assert built.pop("Version") == INCREMENTER_VERSION
    source.pop("Version")
    # one version: the content meta says the stamped version too (v0.0.0 from source)
    source["Content"] = source["Content"].replace("  Version: v0.0.0\n",
                                                  f"  Version: {INCREMENTER_VERSION}\n")
    assert built == source
    assert list(scratch.iterdir()) == []  # define writes nothing


def test_define_is_silent_with_warnings_and_without_home(built_incrementer: BuildResult,
                                                         bare_python: str, tmp_path: Path) -> None:
    env = clean_env(RS_TOKEN="catalog", PYTHONWARNINGS="default")
    result = run_file(bare_python, built_incrementer.path, "define", env=env, cwd=tmp_path,
                      isolated=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    json.loads(result.stdout)


@pytest.mark.slow
def test_define_is_fast(built_incrementer: BuildResult, bare_python: str, tmp_path: Path) -> None:
    """Median under 50 ms (about 25 ms here); on a loaded machine, compared with an
    empty interpreter start measured alongside."""
    env = clean_env(RS_TOKEN="catalog")

    def timed(*argv: str) -> float:
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, env=env, cwd=tmp_path, check=False)  # noqa: S603
        elapsed = time.perf_counter() - start
        assert result.returncode == 0 and result.stderr == b""
        return elapsed

    define = [bare_python, "-I", str(built_incrementer.path), "define"]
    for _ in range(2):
        timed(*define)  # warm the page cache
    runs, empty = [], []
    for _ in range(15):
        runs.append(timed(*define))
        empty.append(timed(bare_python, "-I", "-c", "pass"))
    median, baseline = statistics.median(runs), statistics.median(empty)
    assert median < 0.050 or median < 3.5 * baseline, (median, baseline)


def test_define_loads_only_what_it_needs(built_incrementer: BuildResult, bare_python: str,
                                         tmp_path: Path) -> None:
    """define is answered from the build-time definition: nothing of the file is imported."""
    result = subprocess.run(  # noqa: S603
        [bare_python, "-I", "-X", "importtime", str(built_incrementer.path), "define"],
        capture_output=True, text=True, env=clean_env(RS_TOKEN="catalog"), cwd=tmp_path,
        check=False)
    assert result.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    heavy = {"zipfile", "yaml", "httpx", "h11", "asyncio", "click", "websockets", "jsonpatch",
             "drp_plugin", "_drp_bootstrap", "json"}
    assert not heavy & imported, heavy & imported


def test_byte_code_is_used_not_the_sources(built_incrementer: BuildResult, tmp_path: Path) -> None:
    """On every minor with byte code in the file, no module is compiled at start: with
    every source replaced by a ``raise``, the provider still runs (``version`` loads
    click, the provider and drp_plugin)."""
    with zipfile.ZipFile(built_incrementer.path) as zf:
        entries = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    for name in [n for n in entries if n.endswith(".py") and n != "__main__.py"]:
        entries[name] = b"raise SystemExit('the source was compiled')\n"
    path = tmp_path / "incrementer"
    path.write_bytes(write_archive(entries, "/usr/bin/env python3"))
    ran = []
    for minor in built_incrementer.compiled_for:
        python = _python(minor[1])
        if python is None:
            continue
        result = run_file(python, path, "version", cwd=tmp_path)
        assert result.returncode == 0, (minor, result.stderr)
        assert result.stdout.strip() == f"Version: {INCREMENTER_VERSION}"
        ran.append(minor)
    assert (sys.version_info[0], sys.version_info[1]) in ran


def test_version_command_and_stamp(built_incrementer: BuildResult, bare_python: str) -> None:
    result = run_file(bare_python, built_incrementer.path, "version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Version: {INCREMENTER_VERSION}"
    assert built_incrementer.version_source == "--version"


def test_runs_by_its_header_through_a_relative_path(built_incrementer: BuildResult,
                                                   tmp_path: Path) -> None:
    """``./dist/demo version`` as the docs write it (the header execs ``python3 "$0"``)."""
    folder = built_incrementer.path.parent
    for form in (f"./{folder.name}/{built_incrementer.path.name}",
                 f"{folder.name}/../{folder.name}/{built_incrementer.path.name}"):
        result = subprocess.run([form, "version"], capture_output=True, text=True,  # noqa: S603
                                env=clean_env(), cwd=folder.parent, timeout=60, check=False)
        assert (result.returncode, result.stderr) == (0, ""), (form, result.stderr)
        assert result.stdout.strip() == f"Version: {INCREMENTER_VERSION}"
        target = tmp_path / form.replace("/", "_")
        result = subprocess.run([form, "unpack", str(target)], capture_output=True, text=True,  # noqa: S603
                                env=clean_env(), cwd=folder.parent, timeout=60, check=False)
        assert (result.returncode, result.stderr) == (0, ""), (form, result.stderr)
        assert (target / "testFile").read_text() == "ImaFile"


def _python(minor: int) -> str | None:
    """A real interpreter of Python 3.<minor> (not a pyenv shim), if there is one."""
    candidates = [f"/usr/bin/python3.{minor}", f"/usr/local/bin/python3.{minor}"]
    candidates += sorted(str(p) for p in Path.home().glob(f".pyenv/versions/3.{minor}.*/bin/python3"))
    for candidate in candidates:
        if os.path.exists(candidate):
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[1])"],  # noqa: S603
                                   capture_output=True, text=True, check=False)
            if probe.stdout.strip() == str(minor):
                return candidate
    return None


def test_too_old_python_is_refused_clearly(built_incrementer: BuildResult) -> None:
    old = next((p for p in (_python(8), _python(7), _python(6)) if p is not None), None)
    if old is None:
        pytest.skip("no Python older than 3.9 here")
    for command in ("define", "listen"):
        result = run_file(old, built_incrementer.path, command)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert "needs Python >= 3.9, this host's python3 is 3." in lines[0]


def test_unpack_writes_the_assets_idempotently(built_incrementer: BuildResult, bare_python: str,
                                               tmp_path: Path) -> None:
    target = tmp_path / "web" / "files" / "plugin_providers" / "incrementer"
    for _ in range(2):
        result = run_file(bare_python, built_incrementer.path, "unpack", str(target), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    assert [p.name for p in target.iterdir()] == ["testFile"]
    assert (target / "testFile").read_text() == "ImaFile"
    source_mode = stat.S_IMODE((INCREMENTER.parent / "files" / "testFile").stat().st_mode)
    assert stat.S_IMODE((target / "testFile").stat().st_mode) == source_mode


@pytest.mark.slow
def test_kitchen_provider_assets_keep_modes(kitchen: BuildResult, bare_python: str,
                                            tmp_path: Path) -> None:
    target = tmp_path / "out"
    result = run_file(bare_python, kitchen.path, "unpack", str(target), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    modes = {p.relative_to(target).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in target.rglob("*") if p.is_file()}
    assert modes == {"bin/tool.sh": 0o755, "data/secret.txt": 0o600, "readme.txt": 0o644,
                     "extra.txt": 0o640}
    tool = subprocess.run([str(target / "bin" / "tool.sh")], capture_output=True, text=True,  # noqa: S603
                          check=True)
    assert tool.stdout == "tool\n"


@pytest.mark.slow
def test_kitchen_provider_runs_from_the_built_file(kitchen: BuildResult, bare_python: str,
                                                   tmp_path: Path) -> None:
    assert kitchen.name == "kitchen-sink"
    assert kitchen.path.name == "kitchen-sink" and kitchen.path.parent.name == "dist"
    # one format, v<semver>: pyproject's 2.5.0 is shown v2.5.0
    assert (kitchen.version, kitchen.version_source.endswith("pyproject.toml")) == (f"v{KITCHEN_VERSION}", True)
    result = run_file(bare_python, alone(kitchen, tmp_path / "alone"), "define", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    definition = json.loads(result.stdout)
    assert definition["Version"] == f"v{KITCHEN_VERSION}"
    assert "kitchen/word" in definition["Content"]  # found through __file__, bundled
    assert "kitchen_helpers.py" in zip_names(kitchen.path)
    helped = run_file(bare_python, kitchen.path, "--help", cwd=tmp_path)
    assert "described by a helper module" in helped.stdout


@pytest.mark.slow
async def test_kitchen_provider_listens_on_a_bare_python(kitchen: BuildResult,
                                                         bare_python: str) -> None:
    """The whole runtime (h11, asyncio server, log shipping) from the built file."""
    from drp_plugin.testing import PluginHost

    async with PluginHost([bare_python, "-I", str(kitchen.path)], env=clean_env()) as host:
        assert (await host.config({"Name": "sink"})).status == 200
        reply = await host.action("shout", {"kitchen/word": "word"})
        assert (reply.status, reply.json()) == (200, "WORD!")
        assert (await host.stop()).status == 200
        assert await host.wait() == 0
    assert b"Traceback" not in host.stderr


@pytest.mark.slow
def test_crafted_dotdot_asset_is_refused_at_unpack(built_incrementer: BuildResult, bare_python: str,
                                                   tmp_path: Path) -> None:
    import marshal

    with zipfile.ZipFile(built_incrementer.path) as zf:
        entries = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    stamp = marshal.loads(entries["_drp_stamp"])
    assert set(stamp["assets"]) == {"testFile"}
    for evil in ("../escaped", "/tmp/absolute-escape", "sub/../../escaped2"):
        crafted = dict(entries)
        crafted["_drp_stamp"] = marshal.dumps(
            {**stamp, "assets": {evil: (0o644, 0, 4), **stamp["assets"]}}, 4)
        path = tmp_path / "crafted"
        path.write_bytes(write_archive(crafted, "/usr/bin/env python3"))
        target = tmp_path / "unpack" / "here"
        result = run_file(bare_python, path, "unpack", str(target), cwd=tmp_path)
        assert result.returncode != 0, evil
        assert "leaves the unpack directory" in result.stderr or "absolute" in result.stderr
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "unpack" / "escaped").exists()
        assert not (tmp_path / "escaped2").exists()
        assert not Path("/tmp/absolute-escape").exists()


# -- reproducible --------------------------------------------------------------------------------

@pytest.mark.slow
def test_same_tree_same_bytes(kitchen: BuildResult, tmp_path: Path) -> None:
    project = make_kitchen(tmp_path / "kitchen-sink")
    later = time.time() + 3600
    for file in project.rglob("*"):
        os.utime(file, (later, later))  # other timestamps must not matter
    again = build(project, tmp_path / "again")
    assert again.sha256 == kitchen.sha256
    assert again.path.read_bytes() == kitchen.path.read_bytes()


# -- refusals ------------------------------------------------------------------------------------

def test_build_refuses_a_linked_asset(tmp_path: Path) -> None:
    project = make_kitchen(tmp_path / "linked")
    (project / "files" / "link.txt").symlink_to(project / "extra.txt")
    with pytest.raises(BuildError, match="is a link"):
        build(project, tmp_path / "out", check=False)


def test_build_refuses_colliding_asset_names(tmp_path: Path) -> None:
    project = make_kitchen(tmp_path / "collide")
    (project / "files" / "extra.txt").write_text("clash\n")
    with pytest.raises(BuildError, match="two files would be unpacked as extra.txt"):
        build(project, tmp_path / "out", check=False)


def test_build_explains_a_missing_dependency(tmp_path: Path) -> None:
    project = make_kitchen(tmp_path / "missing")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        '"drp-plugin"', '"drp-plugin", "no-such-package-xyz-drp>=1"'))
    out = tmp_path / "out"
    with pytest.raises(DependencyError, match=r"(?s)no-such-package-xyz-drp.*no supported Python minor"
                                         r"|pip cannot resolve .*no-such-package-xyz-drp"):
        build(project, out, check=False)
    assert not out.exists() and list(tmp_path.glob(".out*")) == []


def fake_wheel(folder: Path, name: str, files: dict[str, bytes], tag: str = "py3-none-any",
               requires: tuple[str, ...] = ()) -> Path:
    """A wheel file ``name``-1.0 holding ``files`` (for a --find-links folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_")
    info = f"{dist}-1.0.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nRequires-Python: >=3.9\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    members = {**files, f"{info}/METADATA": meta.encode(),
               f"{info}/WHEEL": f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n".encode()}
    members[f"{info}/RECORD"] = "".join(f"{m},,\n" for m in [*members, f"{info}/RECORD"]).encode()
    path = folder / f"{dist}-1.0-{tag}.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


COMPILED_TAG = "cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64"


def _project_with(tmp_path: Path, name: str, dependency: str) -> Path:
    project = make_kitchen(tmp_path / name)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"drp-plugin"', f'"drp-plugin", "{dependency}"'))
    return project


@pytest.mark.slow
def test_compiled_only_dependency_fails_and_pure_fallback_passes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled check scans every file of a package, so an extension module imported
    lazily, below a package whose ``__init__`` is empty (cryptography's
    ``hazmat/bindings/_rust``), fails the build; a known optional speedup does not."""
    links = tmp_path / "links"
    so = "abi3.so"
    fake_wheel(links, "drp-test-lazyonly", {
        "drp_test_lazyonly/__init__.py": b"def run():\n    from .hazmat.bindings import _rust\n",
        "drp_test_lazyonly/hazmat/__init__.py": b"",
        "drp_test_lazyonly/hazmat/bindings/__init__.py": b"",
        f"drp_test_lazyonly/hazmat/bindings/_rust.{so}": b"\x7fELF not really",
    }, tag=COMPILED_TAG)
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("DRP_PLUGIN_BUILD_CACHE", str(tmp_path / "cache"))
    project = _project_with(tmp_path, "lazy", "drp-test-lazyonly")
    out = tmp_path / "out" / "lazy"
    with pytest.raises(BuildError, match=r"(?s)drp.test.lazyonly 1.0 .*without a pure-Python fallback: "
                                         r"drp_test_lazyonly\.hazmat\.bindings\._rust "
                                         r"\(drp_test_lazyonly/hazmat/bindings/_rust\.abi3\.so\)"
                                         r".*--native"):
        build(project, out, check=False)
    assert not out.exists() and not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.mark.slow
def test_failed_define_check_leaves_nothing_at_the_output(tmp_path: Path) -> None:
    project = make_kitchen(tmp_path / "failing")
    source = project / "kitchen.py"
    source.write_text(source.read_text().replace(
        "provider = Provider(", "import sys\nif 'kitchen_helpers' in sys.modules and "
        "__name__ == '__main__':\n    raise SystemExit('broken at run time')\nprovider = Provider("))
    out = tmp_path / "dist" / "failing"
    with pytest.raises(BuildError, match="fails `define`"):
        build(project, out)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


@pytest.mark.slow
def test_long_asset_names_unpack_and_too_long_paths_are_refused_at_build(
        tmp_path: Path, bare_python: str) -> None:
    """A 255-byte name (NAME_MAX) unpacks: the temp file no longer adds to its name.
    Longer names, and paths over 1024 bytes, are refused when building, naming the limit."""
    from drp_plugin.shipping.zipapp import check_asset_name

    project = make_kitchen(tmp_path / "long")
    longest = "a" * 251 + ".txt"
    (project / "files" / longest).write_text("fits\n")
    built = build(project, tmp_path / "ok")
    target = tmp_path / "unpacked"
    result = run_file(bare_python, built.path, "unpack", str(target))
    assert result.returncode == 0, result.stderr
    assert (target / longest).read_text() == "fits\n"
    with pytest.raises(BuildError, match=r"is 256 bytes; unpack can write names of at most 255"):
        check_asset_name("b" * 256)
    deep = project / "files" / "/".join(["d" * 200] * 6)
    deep.mkdir(parents=True)
    (deep / "x.txt").write_text("deep\n")
    with pytest.raises(BuildError, match=r"bytes; asset paths are limited to 1024 bytes"):
        build(project, tmp_path / "bad", check=False)
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_entry_count_is_checked_and_assets_do_not_count(tmp_path: Path) -> None:
    """zipimport below 3.13 reads no ZIP64: more than 65,535 entries is a clear error;
    65,536 assets (one past that) go into one entry and build fine."""
    with pytest.raises(BuildError, match=r"65536 zip entries; .*at most 65535 \(no ZIP64"):
        write_archive({f"m{i}.py": b"" for i in range(65536)}, None, compress=False)
    project = make_kitchen(tmp_path / "many")
    many = project / "files" / "many"
    many.mkdir()
    for i in range(65_536):
        (many / str(i)).write_bytes(b"%d" % i)
    built = build(project, tmp_path / "out", check=False)
    assert len(zip_names(built.path)) < 1000
    target = tmp_path / "unpacked"
    result = run_file(sys.executable, built.path, "unpack", str(target))
    assert result.returncode == 0, result.stderr
    assert (target / "many" / "65535").read_bytes() == b"65535"
    assert len(list((target / "many").iterdir())) == 65_536


def test_define_from_the_shell_header_equals_python(tmp_path: Path, bare_python: str) -> None:
    """Run directly (as DRP does), ``define`` is printed by the ``/bin/sh`` header without
    starting Python, byte for byte what the provider prints: quotes, ``$``, backslashes,
    newlines and non-ASCII survive the shell."""
    source = tmp_path / "quoting.py"
    tricky = "it's \"$HOME\" `x` \\n ' '' \u00e9 \u2713"
    source.write_text(
        "from drp_plugin import Provider\n"
        f"provider = Provider('quoting', version='v1', documentation={tricky!r})\n"
        "if __name__ == '__main__':\n    provider.main()\n", encoding="utf-8")
    built = build(source, tmp_path / "quoting")
    assert built.static_define and built.path.read_bytes().startswith(b"#!/bin/sh\n")
    direct = subprocess.run([str(built.path), "define"], capture_output=True, timeout=60,  # noqa: S603
                            env=clean_env(RS_TOKEN="catalog"), check=False)
    through_python = run_file(bare_python, built.path, "define")
    assert direct.returncode == 0 and direct.stderr == b""
    assert direct.stdout.decode("utf-8") == through_python.stdout
    assert json.loads(direct.stdout)["Documentation"] == tricky
    other = subprocess.run([str(built.path), "version"], capture_output=True, text=True,  # noqa: S603
                           timeout=60, env=clean_env(), check=False)
    assert other.returncode == 0 and other.stdout.strip() == "Version: v1.0.0"  # v<semver>


@pytest.mark.slow
def test_default_floor_is_the_oldest_the_requirements_allow(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dependency that needs Python >= 3.11 raises the floor to 3.11 by itself; a 3.10
    host then gets one line naming both versions.  ``--python '>=3.9'`` cannot be met."""
    links = tmp_path / "links"
    fake_wheel(links, "drp-test-needs311", {"drp_test_needs311/__init__.py": b"X = 1\n"})
    wheel = next(links.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    meta = "drp_test_needs311-1.0.dist-info/METADATA"
    members[meta] = members[meta].replace(b"Requires-Python: >=3.9", b"Requires-Python: >=3.11")
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("DRP_PLUGIN_BUILD_CACHE", str(tmp_path / "cache"))
    # pip backtracks through old releases before it gives a minor up: bound each try.
    monkeypatch.setenv("DRP_PLUGIN_PIP_PROBE_TIMEOUT", "10")
    project = _project_with(tmp_path, "needs311", "drp-test-needs311")
    built = build(project, tmp_path / "out" / "needs311")
    assert built.floor == (3, 11)
    assert "drp_test_needs311/__init__.py" in zip_names(built.path)
    older = _python(10)
    if older is not None:
        result = run_file(older, built.path, "listen")
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"{built.path}: this provider needs Python >= 3.11, this host's python3 is "
            f"{result.stderr.split(' is ')[-1].strip()}"]
        assert "3.10." in result.stderr
