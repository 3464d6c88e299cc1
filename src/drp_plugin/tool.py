"""The ``drp-plugin`` command: tools for provider authors.

Each subcommand lives with the module it belongs to and is imported only when it
runs, so ``drp-plugin --help`` stays quick:

- ``bundle``: a content directory to YAML or JSON (:mod:`drp_plugin.content`);
- ``dev`` and ``serve``: the local DRP stand-in (:mod:`drp_plugin.standin.cli`);
- ``plugins create``, ``system runaction``, ``plugins runaction``, ``machines runaction``:
  drpcli's commands against any endpoint (:mod:`drp_plugin.shipping.drpcli`);
- ``build``, ``upload``, ``providers``, ``new``: shipping (:mod:`drp_plugin.shipping.cli`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

#: command name -> "module:attribute" of its click command.
COMMANDS = {
    "bundle": "drp_plugin.tool:bundle",
    "dev": "drp_plugin.standin.cli:dev",
    "serve": "drp_plugin.standin.cli:serve",
    "plugins": "drp_plugin.shipping.drpcli:plugins",
    "machines": "drp_plugin.shipping.drpcli:machines",
    "system": "drp_plugin.shipping.drpcli:system",
    "build": "drp_plugin.shipping.cli:build",
    "upload": "drp_plugin.shipping.cli:upload",
    "providers": "drp_plugin.shipping.cli:providers",
    "new": "drp_plugin.shipping.cli:new",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The command names (nothing imported)."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the command ``cmd_name`` (``None`` if unknown)."""
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="drp-plugin", prog_name="drp-plugin")
def cli() -> None:
    """Write, test, build and ship Digital Rebar Provision plugin providers."""


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.argument("out", required=False, type=click.Path(dir_okay=False, writable=True))
def bundle(directory: str, out: str | None) -> None:
    """Bundle a content DIRECTORY into OUT (.yaml or .json), or print it.

    The pure-Python equivalent of ``drpcli contents bundle``.
    """
    from .content import write_bundle
    from .errors import ContentError

    def warn(message: str) -> None:
        click.echo(f"warning: {message}", err=True)

    try:
        text = write_bundle(directory, out, warn)
    except ContentError as exc:
        raise click.ClickException(str(exc)) from exc
    if out is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {out}", err=True)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``drp-plugin`` command."""
    return cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="drp-plugin")
