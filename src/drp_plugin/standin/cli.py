"""``drp-plugin dev`` and ``drp-plugin serve``: the stand-in from the command line.

``dev`` loads one provider (a ``.py`` file runs with this Python), seeds objects,
starts its Plugin, then either runs one action and prints its JSON result, or
stays up until Ctrl-C/SIGTERM and stops cleanly.  ``serve`` runs a bare stand-in
(on DRP's default ports 8092/8091 unless told otherwise) and echoes the log lines
of the providers uploaded to it; with ``--state-file`` it keeps objects and
uploaded providers across restarts.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

import click
import yaml

from ..errors import PluginError
from ..shipping.drpcli import option_pairs


async def _until_signalled(ready: str) -> None:
    """Print ``ready`` once SIGINT/SIGTERM are handled, then wait for one of them."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    click.echo(ready, err=True)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _announce(drp: Any, to_stderr: bool) -> None:
    click.echo(f"DRP stand-in: {drp.endpoint}  (files: {drp.fileserver})", err=to_stderr)
    click.echo(f"export RS_ENDPOINT={drp.endpoint} RS_TOKEN={drp.token} "
               f"RS_FILESERVER={drp.fileserver} RS_WEBROOT={drp.webroot}", err=to_stderr)


async def _dev(source: str, seed_file: str | None, command: str | None, target: str | None,
               params: dict[str, Any], plugin_name: str | None, plugin_params: dict[str, Any],
               port: int, quiet: bool) -> int:
    from .seed import read_seed, seed
    from .server import StandIn
    from .targets import parse_target

    async with StandIn(api_port=port) as drp:
        _announce(drp, to_stderr=command is not None)
        if not quiet:
            drp.on_log(lambda record: click.echo(str(record), err=True))
        try:
            provider = await drp.add_provider(source)
            if seed_file:
                await seed(drp, read_seed(seed_file))
            name = plugin_name or provider["Name"]
            await drp.ensure_plugin(name, provider["Name"], plugin_params or None)
            click.echo(f"plugin {name} ({provider['Name']} {provider.get('Version', '')}) "
                       "is running", err=True)
            if command is None:
                await _until_signalled("Ctrl-C stops it")
                click.echo("stopping", err=True)
                return 0
            prefix, key = parse_target(target)
            result = await drp.run_action(prefix, key, command, params, plugin=name)
        except (PluginError, ValueError, OSError, yaml.YAMLError) as err:
            click.echo(f"error: {err}", err=True)
            return 1
        click.echo(json.dumps(result, indent=2))
        return 0


@click.command("dev")
@click.argument("provider")
@click.option("--seed", "seed_file", type=click.Path(exists=True, dir_okay=False),
              help="YAML file of objects to create: {machines: [...], profiles: [...], ...}")
@click.option("--action", "command", help="run this action, print its result and exit")
@click.option("--on", "target",
              help="action target: prefix/key (machines/Name:m1, typed-cows/bertie) or a "
                   "machine name; none for a system action")
@click.option("--param", "params", multiple=True, metavar="K=V",
              help="an action param (V is JSON when it parses, else a string)")
@click.option("--plugin-name", help="name of the Plugin (default: the provider's Name)")
@click.option("--plugin-param", "plugin_params", multiple=True, metavar="K=V",
              help="a param of the Plugin (given to config)")
@click.option("--port", type=int, default=0, show_default=True, help="API port (0: any free)")
@click.option("--quiet", is_flag=True, help="do not echo the provider's log lines")
def dev(provider: str, seed_file: str | None, command: str | None, target: str | None,
        params: tuple[str, ...], plugin_name: str | None, plugin_params: tuple[str, ...],
        port: int, quiet: bool) -> None:
    """Run PROVIDER (a .py file, a built provider, or a command) under a local DRP stand-in."""
    if target is not None and command is None:
        raise click.UsageError("--on needs --action")
    code = asyncio.run(_dev(provider, seed_file, command, target, option_pairs(params, "--param"),
                            plugin_name, option_pairs(plugin_params, "--plugin-param"), port, quiet))
    sys.exit(code)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8092, show_default=True, help="HTTPS API port")
@click.option("--file-port", type=int, default=8091, show_default=True,
              help="HTTP file server port")
@click.option("--state-file", type=click.Path(dir_okay=False),
              help="keep objects in this JSON file between runs")
@click.option("--token-ttl", type=float, help="lifetime of the printed token, in seconds")
@click.option("--user", "users", multiple=True, metavar="NAME:PASSWORD",
              help="a user (default rocketskates:r0cketsk8ts); the first is the superuser")
@click.option("--quiet", is_flag=True, help="do not echo the providers' log lines")
@click.option("--access-log", type=click.Path(dir_okay=False),
              help="append one line per HTTP request (API and file server) to this file")
def serve(host: str, port: int, file_port: int, state_file: str | None,
          token_ttl: float | None, users: tuple[str, ...], quiet: bool,
          access_log: str | None) -> None:
    """Run a bare DRP stand-in until Ctrl-C/SIGTERM."""
    accounts = {}
    for item in users:
        name, sep, password = item.partition(":")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME:PASSWORD", param_hint="--user")
        accounts[name] = password

    async def run() -> None:
        from .server import StandIn

        async with StandIn(token_ttl, accounts or None, state_file, host=host,
                           api_port=port, file_port=file_port,
                           access_log=access_log) as drp:
            _announce(drp, to_stderr=False)
            if not quiet:  # uploaded providers' lines, as ``dev`` shows them
                drp.on_log(lambda record: click.echo(str(record), err=True))
            await _until_signalled("Ctrl-C stops it")
            click.echo("stopping", err=True)

    try:
        asyncio.run(run())
    except OSError as err:
        raise click.ClickException(str(err)) from None


@click.group()
def main() -> None:
    """The DRP stand-in (also available as ``drp-plugin dev`` and ``drp-plugin serve``)."""


main.add_command(dev)
main.add_command(serve)

if __name__ == "__main__":
    main()
