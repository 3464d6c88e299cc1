"""The version stamped into a built provider.

In order: the ``--version`` option; the ``[project].version`` of the project's
``pyproject.toml`` (when the version is ``dynamic``, the installed distribution's
version); the ``version=`` given to the :class:`~drp_plugin.Provider`;
``git describe --tags --always --dirty`` run in the project folder; ``v0.0.0``.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import ProjectError

DEFAULT_VERSION = "v0.0.0"




def pyproject_data(pyproject: Path) -> dict[str, object]:
    """The parsed ``pyproject.toml`` (empty when it does not exist)."""
    import tomllib

    if not pyproject.is_file():
        return {}
    try:
        with pyproject.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"cannot read {pyproject}: {exc}") from exc


def pyproject_version(pyproject: Path) -> str | None:
    """``[project].version``, or the installed version of a ``dynamic`` one."""
    project = pyproject_data(pyproject).get("project")
    if not isinstance(project, dict):
        return None
    version = project.get("version")
    if isinstance(version, str) and version.strip():
        return version.strip()
    dynamic = project.get("dynamic") or []
    name = project.get("name")
    if isinstance(name, str) and isinstance(dynamic, list) and "version" in dynamic:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None
    return None


def git_describe(directory: Path) -> str | None:
    """``git describe --tags --always --dirty`` in ``directory``, if it is a git work tree."""
    git = shutil.which("git")
    if git is None:
        return None
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["LC_ALL"] = "C"
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [git, "-C", str(directory), "describe", "--tags", "--always", "--dirty"],
            capture_output=True, text=True, timeout=10, env=env, check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = result.stdout.strip()
    return text if result.returncode == 0 and text else None


def resolve_version(
    explicit: str | None,
    project_dir: Path,
    provider_version: str | None = None,
) -> tuple[str, str]:
    """``(version, where it came from)``, as ``v<semver>`` (what ``define`` shows)."""
    from drp_plugin.models import normalize_version

    version, source = _resolve_version(explicit, project_dir, provider_version)
    return normalize_version(version), source


def _resolve_version(
    explicit: str | None,
    project_dir: Path,
    provider_version: str | None = None,
) -> tuple[str, str]:
    if explicit:
        return explicit, "--version"
    pyproject = project_dir / "pyproject.toml"
    version = pyproject_version(pyproject)
    if version:
        return version, str(pyproject)
    if provider_version:
        return provider_version, "Provider(version=...)"
    version = git_describe(project_dir)
    if version and not re.fullmatch(r"[0-9a-f]{4,40}(-dirty)?", version):  # a bare hash is none
        return version, "git describe"
    return DEFAULT_VERSION, "default"
