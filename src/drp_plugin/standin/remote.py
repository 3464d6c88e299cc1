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

They go through :class:`drp_plugin.api.Client`, with drpcli's connection options
(``-E/-T/-U/-P``, defaults from ``RS_ENDPOINT``, ``RS_TOKEN``, ``RS_USERNAME`` /
``RS_PASSWORD`` or ``RS_KEY=user:pass``).  Replies print as JSON, errors as drpcli
prints a ``models.Error`` (``Type: Model/Key: Message``).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import yaml

from ..errors import PluginError
from .cli import option_pairs, option_value

F = TypeVar("F", bound=Callable[..., Any])


def _connection(fn: F) -> F:
    for option in reversed([
        click.option("-E", "--endpoint", help="DRP API URL [env RS_ENDPOINT; "
                                               "https://127.0.0.1:8092]."),
        click.option("-T", "--token", help="Bearer token [env RS_TOKEN]."),
        click.option("-U", "--username", help="User [env RS_USERNAME or RS_KEY=user:pass]."),
        click.option("-P", "--password", help="Password [env RS_PASSWORD or RS_KEY]."),
    ]):
        fn = option(fn)
    return fn


def client(endpoint: str | None, token: str | None, username: str | None,
           password: str | None) -> Any:
    """A blocking API client from drpcli-style options and the environment."""
    from ..api import Client

    key_user, _, key_password = os.environ.get("RS_KEY", "").partition(":")
    username = username or os.environ.get("RS_USERNAME") or None
    password = password or os.environ.get("RS_PASSWORD") or None
    if token is None and username is None and not os.environ.get("RS_TOKEN"):
        username = key_user or "rocketskates"
        password = password or key_password or "r0cketsk8ts"
    try:
        if username is not None:
            return Client(endpoint, username=username, password=password or "")
        return Client(endpoint, token)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PluginError as err:
            where = "/".join(p for p in (err.model, err.key) if p)
            head = f"{err.type}: {where}" if where else str(err.type)
            messages = list(err.messages)
            text = head + (": " + messages[0] if len(messages) == 1 else
                           "".join("\n  " + m for m in messages))
            raise click.ClickException(text) from None

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


def _run(endpoint: str | None, token: str | None, username: str | None, password: str | None,
         prefix: str | None, key: str, command: str, params: tuple[str, ...],
         plugin: str | None) -> None:
    values = action_params(params)
    with client(endpoint, token, username, password) as api:
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
@_connection
@_errors
def system_runaction(command: str, params: tuple[str, ...], plugin: str | None,
                     endpoint: str | None, token: str | None, username: str | None,
                     password: str | None) -> None:
    """Run the system action COMMAND with PARAMS (``name value`` pairs, or one JSON or YAML
    map), like ``drpcli system runaction COMMAND [name value]...``:
    ``POST /api/v3/system/actions/COMMAND``."""
    _run(endpoint, token, username, password, None, "", command, params, plugin)


@click.group("plugins")
def plugins() -> None:
    """Plugins (running instances of providers) on a DRP endpoint."""


@plugins.command("create")
@click.argument("name")
@click.option("--provider", help="the plugin provider [default: NAME]")
@click.option("--param", "params", multiple=True, metavar="K=V",
              help="a param of the Plugin (V is JSON when it parses, else a string)")
@click.option("--description", default="", help="the Plugin's Description")
@_connection
@_errors
def create_plugin(name: str, provider: str | None, params: tuple[str, ...], description: str,
                  endpoint: str | None, token: str | None, username: str | None,
                  password: str | None) -> None:
    """Create the Plugin NAME (like ``drpcli plugins create``); prints it."""
    body = {"Name": name, "Provider": provider or name, "Description": description,
            "Params": option_pairs(params, "--param")}
    with client(endpoint, token, username, password) as api:
        click.echo(json.dumps(api.create("plugins", body), indent=2))


@plugins.command("runaction")
@click.argument("name")
@click.argument("command")
@click.argument("params", nargs=-1)
@_PLUGIN_OPTION
@_connection
@_errors
def plugins_runaction(name: str, command: str, params: tuple[str, ...], plugin: str | None,
                      endpoint: str | None, token: str | None, username: str | None,
                      password: str | None) -> None:
    """Run COMMAND (an action with ``Model: "plugins"``) on the Plugin NAME with PARAMS
    (``name value`` pairs, or one JSON or YAML map), like ``drpcli plugins runaction NAME
    COMMAND [name value]...``: ``POST /api/v3/plugins/NAME/actions/COMMAND``."""
    _run(endpoint, token, username, password, "plugins", name, command, params, plugin)


@click.group("machines")
def machines() -> None:
    """Machines on a DRP endpoint."""


@machines.command("runaction")
@click.argument("key")
@click.argument("command")
@click.argument("params", nargs=-1)
@_PLUGIN_OPTION
@_connection
@_errors
def runaction(key: str, command: str, params: tuple[str, ...], plugin: str | None,
              endpoint: str | None, token: str | None, username: str | None,
              password: str | None) -> None:
    """Run COMMAND on machine KEY (``Name:m1`` or a UUID) with PARAMS (``name value``
    pairs, or one JSON or YAML map), like ``drpcli machines runaction KEY COMMAND
    [name value]...``: ``POST /api/v3/machines/KEY/actions/COMMAND``."""
    _run(endpoint, token, username, password, "machines", key, command, params, plugin)
