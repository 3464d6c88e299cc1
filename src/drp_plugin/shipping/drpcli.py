"""drpcli's commands for a plugin author, against any endpoint (the stand-in or a real
DRP): ``plugins create``, and ``runaction`` for each kind of action, with drpcli's
command shapes (cli/actionHelper.go):

- ``drp-plugin system runaction COMMAND [PARAMS]``: an action with ``Model: ""``
  (``POST /api/v3/system/actions/COMMAND``);
- ``drp-plugin plugins runaction NAME COMMAND [PARAMS]``: ``Model: "plugins"``, on the
  Plugin NAME (``POST /api/v3/plugins/NAME/actions/COMMAND``);
- ``drp-plugin machines runaction KEY COMMAND [PARAMS]``: ``Model: "machines"``, on a
  machine (``POST /api/v3/machines/KEY/actions/COMMAND``).

PARAMS are ``name value`` pairs (a value is JSON when it parses, else a string), or
one JSON or YAML map (``-``: read it from stdin); ``--plugin P`` picks the Plugin
when several offer the action.

They go through :class:`drp_plugin.api.Client`, with drpcli's connection options as
every ``drp-plugin`` command reads them (:mod:`drp_plugin.shipping.connection`:
``-E/-T/-U/-P``, ``--verify/--ca-file``, ``RS_ENDPOINT``, ``RS_TOKEN``, ``RS_USERNAME`` /
``RS_PASSWORD`` or ``RS_KEY=user:pass``, ``RS_CA_FILE``).  Replies print as JSON, errors
as drpcli prints a ``models.Error`` (``Type: Model/Key: Message``).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import yaml

from ..errors import PluginError, ToolError
from .connection import Connection, connection_options

F = TypeVar("F", bound=Callable[..., Any])


def option_value(text: str) -> Any:
    """A command-line value: JSON when it parses, else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def option_pairs(values: tuple[str, ...], what: str) -> dict[str, Any]:
    """``k=v`` options (``what`` names the option in errors) as a dict of
    :func:`option_value` values."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not K=V", param_hint=what)
        out[key] = option_value(text)
    return out


def _errors(fn: F) -> F:
    """DRP's error answers as drpcli prints them (``str`` of :class:`PluginError`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PluginError as err:
            raise click.ClickException(str(err)) from None
        except ToolError as err:  # an unreadable CA file
            raise click.ClickException(str(err)) from None

    return wrapper  # type: ignore[return-value]


def action_params(params: tuple[str, ...]) -> dict[str, Any]:
    """drpcli's action params: one argument is a JSON or YAML map (``-``: read from
    stdin), more are ``name value`` pairs (each value JSON when it parses, else a string)."""
    if len(params) == 1:
        text = sys.stdin.read() if params[0] == "-" else params[0]
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise click.UsageError(f"PARAMS is not a JSON or YAML map: {exc}") from None
        if values is None:
            return {}
        if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
            raise click.UsageError("PARAMS is not a JSON or YAML map of param names")
        return values
    if len(params) % 2:
        raise click.UsageError("PARAMS are name value pairs, or one JSON or YAML map")
    return {params[i]: option_value(params[i + 1]) for i in range(0, len(params), 2)}


def _run(connection: Connection, prefix: str | None, key: str, command: str,
         params: tuple[str, ...], plugin: str | None) -> None:
    values = action_params(params)
    with connection.client() as api:
        if prefix is None:
            result = api.run_system_action(command, values, plugin=plugin)
        else:
            result = api.run_action(prefix, key, command, values, plugin=plugin)
    click.echo(json.dumps(result, indent=2))


_PLUGIN_OPTION = click.option("--plugin", help="run the action of this Plugin (when several "
                                                "offer COMMAND)")


@click.group("system")
def system() -> None:
    """System actions (``Model: ""``) on a DRP endpoint."""


@system.command("runaction")
@click.argument("command")
@click.argument("params", nargs=-1)
@_PLUGIN_OPTION
@connection_options
@_errors
def system_runaction(command: str, params: tuple[str, ...], plugin: str | None,
                     connection: Connection) -> None:
    """Run the system action COMMAND with PARAMS (``name value`` pairs, or one JSON or YAML
    map), like ``drpcli system runaction COMMAND [name value]...``:
    ``POST /api/v3/system/actions/COMMAND``."""
    _run(connection, None, "", command, params, plugin)


@click.group("plugins")
def plugins() -> None:
    """Plugins (running instances of providers) on a DRP endpoint."""


@plugins.command("create")
@click.argument("name")
@click.option("--provider", help="the plugin provider [default: NAME]")
@click.option("--param", "params", multiple=True, metavar="K=V",
              help="a param of the Plugin (V is JSON when it parses, else a string)")
@click.option("--description", default="", help="the Plugin's Description")
@connection_options
@_errors
def create_plugin(name: str, provider: str | None, params: tuple[str, ...], description: str,
                  connection: Connection) -> None:
    """Create the Plugin NAME (like ``drpcli plugins create``); prints it."""
    body = {"Name": name, "Provider": provider or name, "Description": description,
            "Params": option_pairs(params, "--param")}
    with connection.client() as api:
        click.echo(json.dumps(api.create("plugins", body), indent=2))


@plugins.command("runaction")
@click.argument("name")
@click.argument("command")
@click.argument("params", nargs=-1)
@_PLUGIN_OPTION
@connection_options
@_errors
def plugins_runaction(name: str, command: str, params: tuple[str, ...], plugin: str | None,
                      connection: Connection) -> None:
    """Run COMMAND (an action with ``Model: "plugins"``) on the Plugin NAME with PARAMS
    (``name value`` pairs, or one JSON or YAML map), like ``drpcli plugins runaction NAME
    COMMAND [name value]...``: ``POST /api/v3/plugins/NAME/actions/COMMAND``."""
    _run(connection, "plugins", name, command, params, plugin)


@click.group("machines")
def machines() -> None:
    """Machines on a DRP endpoint."""


@machines.command("runaction")
@click.argument("key")
@click.argument("command")
@click.argument("params", nargs=-1)
@_PLUGIN_OPTION
@connection_options
@_errors
def runaction(key: str, command: str, params: tuple[str, ...], plugin: str | None,
              connection: Connection) -> None:
    """Run COMMAND on machine KEY (``Name:m1`` or a UUID) with PARAMS (``name value``
    pairs, or one JSON or YAML map), like ``drpcli machines runaction KEY COMMAND
    [name value]...``: ``POST /api/v3/machines/KEY/actions/COMMAND``."""
    _run(connection, "machines", key, command, params, plugin)
