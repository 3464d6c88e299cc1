"""The shipping commands of ``drp-plugin``: ``build``, ``upload``, ``providers``, ``new``.

Loaded lazily by :mod:`drp_plugin.tool`.  Failures are reported as one clear
message and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import ToolError
from .connection import Connection, connection_options
from .zipapp import DEFAULT_SHEBANG

F = TypeVar("F", bound=Callable[..., Any])

_MB = 1024 * 1024


def _size(n: int) -> str:
    return f"{n / _MB:.1f} MB" if n >= _MB else f"{n / 1024:.0f} kB"


# -- build ---------------------------------------------------------------------------------------

@click.command()
@click.argument("source", default=".", type=click.Path(exists=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="The file to write [default: <project>/dist/<provider name>].")
@click.option("--module", metavar="FILE.py",
              help="The provider module, when SOURCE is a folder holding several.")
@click.option("--python", "python", metavar="'>=3.N'",
              help="The oldest host Python (3.9 to 3.13) [default: the oldest every "
                   "requirement allows].")
@click.option("--native", is_flag=True,
              help="Carry compiled packages as manylinux wheels (x86_64 and aarch64), "
                   "unpacked once into a cache on the host.")
@click.option("--deps-from", type=click.Choice(["pip", "env"]), default="pip", show_default=True,
              help="Resolve the packages with pip for the hosts, or take the ones installed "
                   "here (offline; the floor is then this Python).")
@click.option("--pyc-python", "pythons", multiple=True, metavar="PATH",
              help="An interpreter to compile byte code with (repeatable; python3.N on PATH "
                   "and pyenv's are found by themselves).")
@click.option("--shebang", default=DEFAULT_SHEBANG, show_default=True,
              help="The interpreter of the #! line.")
@click.option("--version", "version", metavar="V",
              help="The version to stamp [default: pyproject version, else git describe].")
@click.option("--allow-import", "allow_imports", multiple=True, metavar="NAME",
              help="Build even though the provider imports the module NAME (and its "
                   "submodules), which the file does not carry (repeatable).")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Run `define` of the built file (isolated Python) before finishing.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the path of the built file.")
def build(source: str, output: str | None, module: str | None, python: str | None,
          native: bool, deps_from: str, pythons: tuple[str, ...], shebang: str,
          version: str | None, allow_imports: tuple[str, ...], check: bool, quiet: bool) -> None:
    """Build the provider SOURCE (a project folder or its .py) into ONE executable file.

    The file is a zip application for CPython 3.9-3.13 (or from --python on) on
    x86_64 and aarch64, holding the provider, its content bundle and assets,
    drp-plugin and the packages they need, resolved by pip for those hosts.
    Every import of the provider's modules must resolve in the file (the standard
    library of every host Python, a carried package, the project): guard an
    optional one with try/except ImportError, or name it with --allow-import.
    Upload it with `drp-plugin upload`.
    """
    from ..errors import ToolError
    from .zipapp import build as build_provider

    def log(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    try:
        result = build_provider(source, output, module=module, shebang=shebang, python=python,
                                version=version, check=check, native=native,
                                deps_from=deps_from, pythons=pythons,
                                allow_imports=allow_imports, log=log)
    except ToolError as exc:  # BuildError, DependencyError, ProjectError
        raise click.ClickException(str(exc)) from None
    if quiet:
        click.echo(str(result.path))
        return
    packages = ", ".join(f"{p.name} {p.version}" for p in result.packages)
    click.echo(f"packages: {packages}", err=True)
    compiled = ", ".join(f"{m[0]}.{m[1]}" for m in result.compiled_for) or "none"
    click.echo(f"python >= {result.floor[0]}.{result.floor[1]}; byte code for {compiled}"
               + (f"; compiled wheels: {', '.join(result.native_wheels)}"
                  if result.native_wheels else ""), err=True)
    click.echo(f"built {result.path}: {result.name} {result.version} "
               f"(version from {result.version_source}), {_size(result.size)}, "
               f"sha256 {result.sha256}")


# -- the API commands ----------------------------------------------------------------------------

def _api_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ToolError as exc:  # UploadError: a failed call, said in one line
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="The provider name [default: the built file's provider name].")
@connection_options
@click.option("--replace-writable", is_flag=True, help="Replace identically named writable objects.")
@_api_errors
def upload(file: Path, name: str | None, replace_writable: bool, connection: Connection) -> None:
    """Upload FILE to DRP as a plugin provider (POST /api/v3/plugin_providers/NAME)."""
    from .upload import provider_name_of
    from .upload import upload as upload_file

    name = name or provider_name_of(file)
    size = file.stat().st_size
    show = sys.stderr.isatty() or size > _MB
    if show:
        with click.progressbar(length=size, label=f"uploading {name} ({_size(size)})",
                               file=sys.stderr) as bar:
            reply = upload_file(connection, file, name, replace_writable=replace_writable,
                                advance=bar.update)
    else:
        reply = upload_file(connection, file, name, replace_writable=replace_writable)
    click.echo(json.dumps(reply, indent=2) if not isinstance(reply, str) else reply)
    click.echo(f"uploaded {file} as the plugin provider {name} to {connection.endpoint}", err=True)


@click.group()
def providers() -> None:
    """List or delete the plugin providers of a DRP endpoint."""


@providers.command(name="list")
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print the reply as JSON.")
@_api_errors
def list_command(as_json: bool, connection: Connection) -> None:
    """List the plugin providers (GET /api/v3/plugin_providers): name and version."""
    from .upload import list_providers

    found = list_providers(connection)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    rows = [("Name", "Version")] + [(str(p.get("Name", "")), str(p.get("Version", ""))) for p in found]
    width = max(len(r[0]) for r in rows)
    for row_name, row_version in rows:
        click.echo(f"{row_name:<{width}}  {row_version}".rstrip())


@providers.command(name="delete")
@click.argument("name")
@connection_options
@_api_errors
def delete_command(name: str, connection: Connection) -> None:
    """Delete the plugin provider NAME (DELETE /api/v3/plugin_providers/NAME)."""
    from .upload import delete_provider

    delete_provider(connection, name)
    click.echo(f"deleted the plugin provider {name} from {connection.endpoint}")


# -- new -----------------------------------------------------------------------------------------

@click.command()
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="The folder to create the project NAME in [default: the current folder].")
def new(name: str, directory: Path | None) -> None:
    """Create a ready-to-run provider project NAME (provider, content, tests, README)."""
    from ..errors import ScaffoldError
    from .scaffold import create_project

    try:
        target = create_project(name, directory)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {target}")
    click.echo(f"  cd {target}")
    click.echo("  python -m pytest            # run its tests on the local DRP stand-in")
    click.echo("  drp-plugin build            # -> dist/" + name)
    click.echo(f"  drp-plugin upload dist/{name}")
