"""A provider's command line: ``define``, ``unpack``, ``listen``, ``version``, ...

The same commands as the Go ``plugin.InitApp``.  It is a click group, so authors
add their own commands with ``@provider.cli.command()``.  ``define`` has a fast
path that does not import click (DRP runs it for every provider at start; it must
be quick and print nothing on stderr).
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False  # typing is not imported: define must stay fast
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NoReturn

    import click

    from .provider import BaseProvider


def definition_json(provider: BaseProvider) -> str:
    """What ``define`` prints: the definition (or what ``validate`` returns), indented."""
    if provider.has_validator or "logging" in sys.modules:
        import logging

        # Nothing may reach stderr during define: no last-resort log handler, no warnings.
        logging.getLogger().addHandler(logging.NullHandler())
        logging.captureWarnings(True)
    provider.check()
    definition: Any = provider.definition()
    if os.environ.get("RS_TOKEN", "") != "catalog":
        definition = provider.run_validate(definition)
    return json.dumps(definition, indent=2, ensure_ascii=False)


def _fail(message: str, code: int = 1) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.write(f"Error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def silence_warnings() -> None:
    """No warnings on stderr from here on: DRP reads ``define``'s stdout and stderr
    together as JSON.  Called by the ``define`` entry points only (importing
    drp_plugin changes no process-wide setting)."""
    import warnings

    warnings.simplefilter("ignore")


def run_define(provider: BaseProvider) -> None:
    """``define``: print the definition on stdout, or a one-line error and exit 1."""
    silence_warnings()
    try:
        text = definition_json(provider)
    except Exception as exc:  # a clear message, no traceback
        _fail(f"define failed: {exc}")
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def run_unpack(provider: BaseProvider, directory: str) -> None:
    """``unpack <dir>``: write the assets (and run the unpack handler), or exit 1 with a message."""
    from pathlib import Path

    if not directory:
        _fail("Not a valid location: ``")
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
        provider.run_unpack(target)
    except Exception as exc:
        _fail(f"unpack into {directory} failed: {exc}")


def run_listen(provider: BaseProvider, to_path: str, from_path: str, debug: bool) -> None:
    """``listen <to> <from>``: serve DRP until ``/stop`` or SIGTERM; exits with the run's code."""
    from .protocol.runtime import run
    from .protocol.settings import ListenSettings, SettingsError

    # Every DRP_PLUGIN_* setting is checked before READY!: one line naming the bad one.
    try:
        settings = ListenSettings.from_env(os.environ, provider)
    except SettingsError as exc:
        print("Failed", flush=True)
        _fail(str(exc))

    # Linux limits unix socket paths to 107 bytes.
    for path in (to_path, from_path):
        if len(os.fsencode(path)) > 107:
            print("Failed", flush=True)
            _fail(f"socket path is too long ({len(os.fsencode(path))} > 107 bytes): {path}")
    parent = os.path.dirname(os.path.abspath(to_path))
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        print("Failed", flush=True)
        _fail(f"cannot create the socket {to_path}: {parent} is missing or not writable")
    try:
        code = run(provider, to_path, from_path, debug=debug, settings=settings)
    except OSError as exc:
        print("Failed", flush=True)
        _fail(f"listen failed: {exc}")
    raise SystemExit(code)


def build_cli(provider: BaseProvider) -> click.Group:
    """The click group of ``provider`` (used for everything but the ``define`` fast path)."""
    from pathlib import Path

    import click

    @click.group(name=provider.name, help=provider.description,
                 context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--debug", "-d", is_flag=True, help="Log at debug level.")
    @click.pass_context
    def app(ctx: click.Context, debug: bool) -> None:
        ctx.obj = {"debug": debug}

    @app.command(help="Print the provider definition as JSON.")
    def define() -> None:
        run_define(provider)

    @app.command(help="Write the embedded files to DIR for DRP's file server.")
    @click.argument("directory", metavar="DIR")
    def unpack(directory: str) -> None:
        run_unpack(provider, directory)

    @app.command(help="Serve DRP on TO_SOCKET and call back on FROM_SOCKET.")
    @click.argument("sockets", nargs=-1, metavar="TO_SOCKET FROM_SOCKET")
    @click.pass_context
    def listen(ctx: click.Context, sockets: tuple[str, ...]) -> None:
        if len(sockets) != 2:
            print("Failed", flush=True)
            _fail("listen requires 2 arguments: <socket path to plugin> <socket path from plugin>")
        run_listen(provider, sockets[0], sockets[1], bool(ctx.obj and ctx.obj["debug"]))

    @app.command(help="Print the provider version.")
    def version() -> None:
        click.echo(f"Version: {provider.version}")

    @app.command(help="Write a bash completion file to FILE.")
    @click.argument("filename", metavar="FILE")
    def autocomplete(filename: str) -> None:
        from click.shell_completion import get_completion_class

        cls = get_completion_class("bash")
        assert cls is not None
        prog = Path(sys.argv[0]).name or provider.name
        var = "_" + prog.replace("-", "_").replace(".", "_").upper() + "_COMPLETE"
        try:
            Path(filename).write_text(cls(app, {}, prog, var).source() + "\n", encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {filename}: {exc}")

    return app


def main(provider: BaseProvider, argv: Sequence[str] | None = None) -> None:
    """Run the provider's command line with ``argv`` (default ``sys.argv[1:]``).

    DRP's own invocations (``define``, ``listen <to> <from>``) take a fast path that
    does not import click: DRP runs them at every start, and click costs tens of
    milliseconds.  They behave exactly like the click commands, which call the same
    functions.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    plain = [a for a in args if a not in ("--debug", "-d")]
    debug = len(plain) != len(args)
    if plain == ["define"]:
        run_define(provider)
        return
    if len(plain) == 3 and plain[0] == "listen" and not any(a.startswith("-") for a in plain[1:]):
        run_listen(provider, plain[1], plain[2], debug)
        return
    provider.cli.main(args=args, prog_name=os.path.basename(sys.argv[0]) or provider.name)
