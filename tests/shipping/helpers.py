"""Helpers of the build tests: run a built file, a provider project to build."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

INCREMENTER_VERSION = "v9.8.7-test"
KITCHEN_VERSION = "2.5.0"


def clean_env(**extra: str) -> dict[str, str]:
    """What DRP gives a provider: a PATH and the RS_* variables, nothing else."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **extra}


def run_file(python: str | None, path: Path, *args: str, env: dict[str, str] | None = None,
             cwd: Path | None = None, isolated: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a built file (with ``python``, ``-I`` unless told otherwise, or by its ``#!``)."""
    argv: list[str] = [python, *(["-I"] if isolated else []), str(path)] if python else [str(path)]
    return subprocess.run(  # noqa: S603 - test inputs
        [*argv, *args], capture_output=True, text=True, timeout=120, check=False,
        env=env if env is not None else clean_env(RS_TOKEN="catalog"), cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


KITCHEN_SOURCE = '''\
"""A provider exercising what a build must carry."""

import os

from drp_plugin import Provider, SyncContext, Action

import kitchen_helpers

HERE = os.path.dirname(os.path.abspath(__file__))

provider = Provider(
    "kitchen-sink",
    description=kitchen_helpers.DESCRIPTION,
    content=os.path.join(HERE, "content"),
    assets=["files", "extra.txt"],
)


@provider.action("shout", optional=["kitchen/word"])
def shout(ctx: SyncContext, action: Action) -> str:
    return kitchen_helpers.shout(action.params.get("kitchen/word", "hi"))


if __name__ == "__main__":
    provider.main()
'''

KITCHEN_HELPERS = '''\
DESCRIPTION = "described by a helper module"


def shout(word: str) -> str:
    return word.upper() + "!"
'''


def make_kitchen(root: Path) -> Path:
    """A provider project: helper module, content found through ``__file__``, assets
    with several modes and folders, a pyproject version."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "kitchen-sink"\nversion = "{KITCHEN_VERSION}"\n'
        'dependencies = ["drp-plugin"]\n\n[tool.drp-plugin]\nmodule = "kitchen.py"\n',
        encoding="utf-8",
    )
    (root / "kitchen.py").write_text(KITCHEN_SOURCE, encoding="utf-8")
    (root / "kitchen_helpers.py").write_text(KITCHEN_HELPERS, encoding="utf-8")
    content = root / "content"
    (content / "params").mkdir(parents=True, exist_ok=True)
    (content / "._Name.meta").write_text("kitchen-sink\n", encoding="utf-8")
    (content / "params" / "word.yaml").write_text(
        "Name: kitchen/word\nSchema:\n  type: string\n", encoding="utf-8")
    files = root / "files"
    (files / "bin").mkdir(parents=True, exist_ok=True)
    (files / "data").mkdir(parents=True, exist_ok=True)
    tool = files / "bin" / "tool.sh"
    tool.write_text("#!/bin/sh\necho tool\n", encoding="utf-8")
    tool.chmod(0o755)
    secret = files / "data" / "secret.txt"
    secret.write_text("s3cret\n", encoding="utf-8")
    secret.chmod(0o600)
    (files / "readme.txt").write_text("read me\n", encoding="utf-8")
    (files / "readme.txt").chmod(0o644)
    (root / "extra.txt").write_text("extra\n", encoding="utf-8")
    (root / "extra.txt").chmod(0o640)
    return root


def zip_names(path: Path) -> Sequence[str]:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return zf.namelist()
