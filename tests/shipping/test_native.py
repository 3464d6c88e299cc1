"""``drp-plugin build --native``: compiled packages carried as manylinux wheels.

Acceptance of issue 12: a provider using ``cryptography`` (an EC key action,
imported lazily in the handler) and one using PyNaCl build and run here
(x86_64); for aarch64 the file carries the right wheels and the host-side
selection picks them by tag.  The tag choice is checked against
``packaging.tags.sys_tags()`` (the library pip uses).
"""

from __future__ import annotations

import marshal
import os
import stat
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

from drp_plugin.errors import BuildError
from drp_plugin.shipping import BuildResult, build
from drp_plugin.shipping.bootstrap import native_paths, select_wheel, tag_rank
from drp_plugin.shipping.wheels import WheelName
from tests.shipping.helpers import clean_env

PROVIDERS = Path(__file__).parent / "providers"

# The two native builds are module fixtures (13 s each): one worker builds them once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("native")]


@pytest.fixture(scope="module")
def ecsign(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return build(PROVIDERS / "ecsign", tmp_path_factory.mktemp("ecsign") / "ecsign", native=True)


@pytest.fixture(scope="module")
def sealer(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return build(PROVIDERS / "sealer", tmp_path_factory.mktemp("sealer") / "sealer", native=True)


def _stamp(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as zf:
        stamp: dict[str, Any] = marshal.loads(zf.read("_drp_stamp"))
    return stamp


def test_without_native_the_build_names_package_and_module(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"(?s)cryptography .*hazmat.bindings._rust.*--native"):
        build(PROVIDERS / "ecsign", tmp_path / "ecsign", check=False)
    assert not (tmp_path / "ecsign").exists()


def test_ec_key_action_runs_from_the_built_file(ecsign: BuildResult, drp_provider: Any,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRP_PLUGIN_CACHE_DIR", str(tmp_path / "cache"))
    provider = drp_provider([sys.executable, "-I", str(ecsign.path)])
    reply = provider.action("sign", params={"ecsign/message": "attest"})
    assert reply == {"curve": "secp256r1", "verified": True, "signature_bytes": reply["signature_bytes"]}
    assert 68 <= reply["signature_bytes"] <= 72
    folders = [p for p in (tmp_path / "cache" / "native").iterdir() if p.is_dir()]
    assert folders and all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in folders)


def test_pynacl_action_runs_from_the_built_file(sealer: BuildResult, drp_provider: Any,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRP_PLUGIN_CACHE_DIR", str(tmp_path / "cache"))
    provider = drp_provider([sys.executable, "-I", str(sealer.path)])
    assert provider.action("seal", params={"sealer/message": "secret"}) == {
        "opened": "secret", "sealed_bytes": 46}


@pytest.mark.parametrize("minor", [(3, 9), (3, 10), (3, 11), (3, 12), (3, 13)])
def test_aarch64_wheels_are_carried_and_selected_by_tag(ecsign: BuildResult, sealer: BuildResult,
                                                        minor: tuple[int, int]) -> None:
    for result in (ecsign, sealer):
        names = set(zipfile.ZipFile(result.path).namelist())
        for package in _stamp(result.path)["native"]:
            for machine in ("x86_64", "aarch64"):
                chosen = select_wheel(package["wheels"], minor=minor, machine=machine,
                                      glibc=(2, 34))  # RHEL 9
                assert chosen is not None, (package["name"], minor, machine)
                assert chosen["entry"] in names
                tags = WheelName.parse(chosen["entry"].rsplit("/", 1)[-1]).tags
                assert all(plat.endswith("_" + machine) for _, _, plat in tags)
                assert any(abi in (f"cp{minor[0]}{minor[1]}", "abi3") for _, abi, _ in tags)
            # glibc 2.17 (RHEL 7) is too old for a manylinux_2_28-only wheel: refused, not guessed.
            old = select_wheel(package["wheels"], minor=minor, machine="aarch64", glibc=(2, 5))
            assert old is None


def test_tag_choice_agrees_with_packaging(ecsign: BuildResult, sealer: BuildResult) -> None:
    """Differential: our tag test says yes exactly where ``packaging`` lists the tag."""
    from packaging.tags import sys_tags

    supported = {(t.interpreter, t.abi, t.platform) for t in sys_tags()}
    minor = (sys.version_info[0], sys.version_info[1])
    machine = os.uname().machine
    libc = tuple(int(p) for p in os.confstr("CS_GNU_LIBC_VERSION").split()[1].split(".")[:2])
    tags = {tuple(t) for r in (ecsign, sealer) for p in _stamp(r.path)["native"]
            for w in p["wheels"] for t in w["tags"]}
    tags |= {("cp39", "abi3", f"manylinux_2_{n}_{machine}") for n in (5, 17, 28, 99)}
    tags |= {(f"cp3{n}", f"cp3{n}", "linux_x86_64") for n in (9, 11)}
    tags |= {("py3", "none", "any"), ("cp311", "none", "any"), ("cp39", "cp39", "any")}
    for tag in sorted(tags):
        ours = tag_rank(tag, minor, machine, libc) is not None  # type: ignore[arg-type]
        if tag[2].startswith("linux_"):
            # A plain linux_ wheel was built for one machine: never carried, never chosen
            # (packaging accepts it for the machine it runs on).
            assert not ours, tag
            continue
        assert ours == (tag in supported), tag


def test_first_runs_race_and_later_runs_reuse_the_cache(sealer: BuildResult, tmp_path: Path) -> None:
    """Eight concurrent first runs unpack each wheel once (the lock), into 0700 folders."""
    env = clean_env(RS_TOKEN="catalog", DRP_PLUGIN_CACHE_DIR=str(tmp_path / "cache"))
    results: list[subprocess.CompletedProcess[str]] = []

    def run() -> None:
        results.append(subprocess.run(  # noqa: S603 - our built file
            [sys.executable, "-I", str(sealer.path), "version"], capture_output=True, text=True,
            env=env, timeout=300, check=False, stdin=subprocess.DEVNULL))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results]
    native = tmp_path / "cache" / "native"
    folders = sorted(p for p in native.iterdir() if p.is_dir())
    assert [p.name for p in folders if p.name.startswith(".unpack-")] == []
    assert len(folders) == len(_stamp(sealer.path)["native"])  # one wheel per package here
    for folder in folders:
        assert (folder / ".complete").is_file()
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_cache_folder_of_someone_else_is_refused(sealer: BuildResult, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(OSError, match="is not private"):
        native_paths(str(sealer.path), _stamp(sealer.path)["native"], root=str(shared))
    result = subprocess.run(  # noqa: S603 - our built file
        [sys.executable, "-I", str(sealer.path), "version"], capture_output=True, text=True,
        env=clean_env(DRP_PLUGIN_CACHE_DIR=str(shared)), timeout=300, check=False)
    assert result.returncode == 1 and "is not private" in result.stderr
    assert "Traceback" not in result.stderr
