#!/usr/bin/env python3
"""endpoint-exec: run whitelisted commands on the DRP host on behalf of a machine.

A port of the Go provider ``endpoint-exec`` of digitalrebar/provision-plugins.

The plugin param ``endpoint-exec/actions`` maps action names to commands::

    {"true-call": {"Path": "/bin/true"},
     "inventory": {"Path": "/opt/tools/inventory.py", "BaseArgs": "--site 'rack 4'",
                   "Timeout": 60}}

The machine action ``endpointExecDo`` runs the command named by
``endpoint-exec/action`` with ``BaseArgs`` followed by ``endpoint-exec/parameters``
(both split with shell quoting rules, never run through a shell) and answers
``{"ReturnCode": N, "StandardErr": "...", "StandardOut": "..."}``.

The command's environment is the plugin's (``endpoint-exec/minimal-env``: only
``MINIMAL_ENV`` of it) plus ``RS_UUID`` (the machine), ``RS_ENDPOINT`` and
``RS_TOKEN`` (the plugin's API endpoint and token; not with ``"Token": false``)
and ``ENDPOINT_EXEC_RUN``.  Each run is bounded in time (``Timeout`` of the
action, else ``endpoint-exec/timeout``; on expiry every process of the run is
killed) and in memory (at most ``endpoint-exec/output-limit`` bytes of each
stream are kept).  ``"OperandsOnly": true`` puts ``--`` before the parameters.
"""

from __future__ import annotations

import os

from drp_plugin import Action, Context, PluginError, Provider
from drp_plugin.errors import plugin_error

TYPE_CHECKING = False  # typing and asyncio stay out of `define` (start-up time)
if TYPE_CHECKING:
    import asyncio
    from collections.abc import AsyncIterator
    from typing import Any

NAME = "endpoint-exec"
#: Seconds a command may run when neither its action nor the plugin says otherwise.
DEFAULT_TIMEOUT = 300
#: Bytes of standard output (and of standard error) kept per run.
DEFAULT_OUTPUT_LIMIT = 1024 * 1024
#: Seconds between SIGTERM and SIGKILL to the processes of a timed-out command.
KILL_GRACE = 2.0
#: Seconds to wait, once the command exited, for processes it left behind to close
#: its output; then the answer is sent and our ends of the pipes are closed.
PIPE_GRACE = 1.0
READ_CHUNK = 64 * 1024
#: Variable set, with a value unique to the run, in the environment of every command:
#: its descendants inherit it, which is how a timeout finds those that left the
#: command's process group (``setsid``, daemons).
RUN_MARKER = "ENDPOINT_EXEC_RUN"
#: What a command's environment holds with ``endpoint-exec/minimal-env`` (when the
#: plugin has them), besides RS_UUID, RS_ENDPOINT, RS_TOKEN and the run marker.
MINIMAL_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME")
#: Rounds of stopping (SIGSTOP) newly found processes of a run before killing them all:
#: a process that forks while the tree is walked is caught by the next round.
FREEZE_ROUNDS = 20

provider = Provider(
    NAME,
    description="Runs whitelisted commands on the DRP endpoint on behalf of a machine",
    content="content",
    auto_start=True,
    required_params=["endpoint-exec/actions"],
    optional_params=["endpoint-exec/timeout", "endpoint-exec/output-limit",
                     "endpoint-exec/minimal-env"],
    documentation=(
        "Runs the commands listed in ``endpoint-exec/actions`` on the DRP endpoint "
        "when a machine calls the ``endpointExecDo`` action."
    ),
)


def _error(message: str, code: int = 400, model: str = "plugin") -> PluginError:
    # Keyed NAME here; the handlers key it by the Plugin instance on the way out (_keyed).
    return plugin_error(NAME, message, code=code, model=model)


def _keyed(exc: PluginError, plugin: str) -> PluginError:
    """``exc`` keyed by the Plugin instance ``plugin`` when :func:`_error` made it."""
    if plugin and exc.key == NAME:
        exc.key = plugin
    return exc


# -- configuration --------------------------------------------------------------------------------

class ExecAction:
    """One whitelisted command: its path, its base arguments and its own timeout;
    ``operands_only``: ``--`` goes before the machine's parameters, so that they
    cannot be options; ``token``: RS_TOKEN is in its environment."""

    __slots__ = ("name", "path", "base_args", "timeout", "operands_only", "token")

    def __init__(self, name: str, path: str, base_args: list[str], timeout: float | None,
                 operands_only: bool = False, token: bool = True) -> None:
        self.name = name
        self.path = path
        self.base_args = base_args
        self.timeout = timeout  # None: the plugin's timeout
        self.operands_only = operands_only
        self.token = token

    def arguments(self, parameters: list[str]) -> list[str]:
        """``BaseArgs``, then the machine's parameters (after ``--`` if operands only)."""
        if self.operands_only and parameters:
            return [*self.base_args, "--", *parameters]
        return [*self.base_args, *parameters]


def _integer(params: dict[str, Any], name: str, default: int, minimum: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise _error(f"{name} must be an integer", model="plugins")
    if value < minimum:
        raise _error(f"{name} must be at least {minimum}", model="plugins")
    return int(value)


def parse_actions(raw: Any) -> dict[str, ExecAction]:
    """The ``endpoint-exec/actions`` param, checked (error messages never quote values)."""
    import shlex

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _error("endpoint-exec/actions must be an object of action name -> "
                     "{Path, BaseArgs}", model="plugins")
    actions: dict[str, ExecAction] = {}
    for name, spec in raw.items():
        where = f"endpoint-exec/actions: action {name!r}"
        if not isinstance(spec, dict):
            raise _error(f"{where} must be an object with Path and BaseArgs", model="plugins")
        path = spec.get("Path")
        if not isinstance(path, str) or not path.strip():
            raise _error(f"{where}: Path must be a non-empty string", model="plugins")
        base = spec.get("BaseArgs")
        if base is None:
            base = ""
        if not isinstance(base, str):
            raise _error(f"{where}: BaseArgs must be a string", model="plugins")
        try:
            base_args = shlex.split(base)
        except ValueError as exc:
            raise _error(f"{where}: BaseArgs cannot be split into arguments: {exc}",
                         model="plugins") from None
        timeout = spec.get("Timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or timeout < 0):
            raise _error(f"{where}: Timeout must be a number of seconds >= 0", model="plugins")
        flags = {}
        for flag, default in (("OperandsOnly", False), ("Token", True)):
            value = spec.get(flag, default)
            if not isinstance(value, bool):
                raise _error(f"{where}: {flag} must be true or false", model="plugins")
            flags[flag] = value
        # Delay and Retry are in the param's schema (as in the Go provider) and unused.
        actions[name] = ExecAction(name, path, base_args, float(timeout) if timeout else None,
                                   operands_only=flags["OperandsOnly"], token=flags["Token"])
    return actions


class State:
    """The plugin's state (``ctx.state``): what the last successful config set, and the
    commands running now.  Made by :func:`lifespan` on the first config."""

    def __init__(self) -> None:
        self.actions: dict[str, ExecAction] = {}
        self.timeout: float | None = float(DEFAULT_TIMEOUT)
        self.output_limit = DEFAULT_OUTPUT_LIMIT
        self.minimal_env = False
        self.running: set[Any] = set()  # asyncio.subprocess.Process


@provider.lifespan
async def lifespan(ctx: Context) -> AsyncIterator[State]:
    """One :class:`State` from the first config to stop (the stop handler ends what runs)."""
    yield State()


@provider.config
async def configure(ctx: Context, params: dict[str, Any]) -> None:
    state = ctx.state_as(State)
    try:
        actions = parse_actions(params.get("endpoint-exec/actions"))
        timeout = _integer(params, "endpoint-exec/timeout", DEFAULT_TIMEOUT, 0)
        limit = _integer(params, "endpoint-exec/output-limit", DEFAULT_OUTPUT_LIMIT, 1)
        minimal_env = params.get("endpoint-exec/minimal-env", False)
        if not isinstance(minimal_env, bool):
            raise _error("endpoint-exec/minimal-env must be true or false", model="plugins")
    except PluginError as exc:
        raise _keyed(exc, ctx.plugin) from None
    # Only now that everything is valid: a refused config keeps the previous one.
    state.actions = actions
    state.timeout = float(timeout) if timeout else None
    state.output_limit = limit
    state.minimal_env = minimal_env
    # Names only: paths and arguments may carry secrets.
    ctx.log.info("endpoint-exec: %d action(s) configured: %s", len(actions),
                 ", ".join(sorted(actions)) or "none")


# -- running one command ----------------------------------------------------------------------------

class Capture:
    """A read-pipe protocol keeping at most ``limit`` bytes and counting the rest.

    (Duck-typed ``asyncio.Protocol``: subclassing it would import asyncio on define.)
    """

    def __init__(self, limit: int, closed: asyncio.Future[None], state: State) -> None:
        self.state = state
        self.limit = limit
        self.kept = bytearray()
        self.total = 0
        self.closed = closed
        self.transport: Any = None

    def __call__(self) -> Capture:
        """The protocol factory of ``connect_read_pipe``: this capture."""
        return self

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.total += len(data)
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += data[:room]

    def eof_received(self) -> None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def text(self) -> str:
        """What was kept, decoded (invalid UTF-8 replaced), and how much was not."""
        text = self.kept.decode("utf-8", errors="replace")
        dropped = self.total - len(self.kept)
        if dropped:
            text = _append_line(text, f"[truncated {dropped} bytes]")
        return text


def _append_line(text: str, line: str) -> str:
    """``line`` after ``text``, on a line of its own."""
    if text and not text.endswith("\n"):
        text += "\n"
    return text + line


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _members(root: int | None, marker: bytes) -> set[int]:
    """The processes of one run still alive: those whose environment holds ``marker``
    (``RUN_MARKER=<id>``, inherited by every descendant, whatever its session or
    process group) and the descendants of ``root`` (the command, None once it was
    reaped: its pid may be someone else's then) found through their parents.
    Only this user's processes can be read, and signalled."""
    me = os.getpid()
    parents: dict[int, int] = {}
    found: set[int] = set()
    try:
        names = os.listdir("/proc")
    except OSError:  # no /proc: the process group is all there is to go by
        return found
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            if fields[0] == b"Z":  # a zombie: dead already, its parent reaps it
                continue
            parents[pid] = int(fields[1])
            with open(f"/proc/{name}/environ", "rb") as fh:
                if marker in fh.read().split(b"\0"):
                    found.add(pid)
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or another user's
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    todo = [*found] if root is None else [root, *found]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    if root is not None and root in parents:
        found.add(root)
    return found


async def _kill_tree(proc: Any, marker: bytes) -> None:
    """SIGTERM the run's processes (its process group and every process of the run
    found by :func:`_members`), SIGKILL them after ``KILL_GRACE``.  Before the
    SIGKILL the processes are stopped (SIGSTOP) round after round until no new one
    appears, so that none escapes by forking meanwhile."""
    import asyncio
    import signal

    _signal_group(proc.pid, signal.SIGTERM)
    for pid in _members(proc.pid if proc.returncode is None else None, marker):
        _signal(pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), KILL_GRACE)
    except (TimeoutError, asyncio.TimeoutError):
        pass
    _freeze_and_kill(proc, marker)
    await proc.wait()


def _freeze_and_kill(proc: Any, marker: bytes) -> None:
    """Stop every process of the run (rounds until no new one appears), then SIGKILL."""
    import signal

    root = proc.pid
    stopped: set[int] = set()
    for _ in range(FREEZE_ROUNDS):
        _signal_group(root, signal.SIGSTOP)
        new = _members(root if proc.returncode is None else None, marker) - stopped
        if not new:
            break
        for pid in new:
            _signal(pid, signal.SIGSTOP)
        stopped |= new
    _signal_group(root, signal.SIGKILL)
    for pid in stopped:
        _signal(pid, signal.SIGKILL)


def _exit_text(code: int) -> str:
    import signal

    if code < 0:
        try:
            name = signal.strsignal(-code) or f"signal {-code}"
        except ValueError:
            name = f"signal {-code}"
        return f"signal: {name.lower()}"
    return f"exit status {code}"


def _start_error(path: str, exc: BaseException) -> str:
    """Why ``path`` could not start, in the words of Go's ``exec.Cmd`` (the Go
    provider answers ``Exec failed: <that>``): ``fork/exec <path>: <errno text>``,
    or for a bare name not found on ``PATH``, ``exec: "<name>": executable file not
    found in $PATH``."""
    import errno
    import json

    if not isinstance(exc, OSError) or not exc.strerror:
        return str(exc)
    if exc.errno == errno.ENOENT and "/" not in path:
        return f"exec: {json.dumps(path)}: executable file not found in $PATH"
    return f"fork/exec {path}: {_errno_text(exc)}"


def _errno_text(exc: OSError) -> str:
    """The text of ``exc``'s errno as Go writes it (glibc's, first letter lower case)."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


async def execute(path: str, args: list[str], env: dict[str, str], timeout: float | None,
                  limit: int, state: State) -> dict[str, Any]:
    """Run ``path args`` (no shell) and answer like the Go ``ActionReturn``.

    ``ReturnCode`` is the exit status, or -1 when the command could not start or
    was killed by a signal (Go's ``ExitCode()``).  When the command failed and
    wrote nothing on standard error, ``StandardErr`` says why (``Exec failed: ...``).
    The command's environment also gets ``RUN_MARKER``; on timeout every process
    of the run is killed (see :func:`_kill_tree`).  Once the answer is ready our
    ends of its output pipes are closed, whoever else still holds them.
    """
    import asyncio
    import secrets
    import subprocess

    loop = asyncio.get_running_loop()
    marker = secrets.token_hex(16)
    tag = f"{RUN_MARKER}={marker}".encode()
    env = {**env, RUN_MARKER: marker}
    fds: list[int] = []  # out_r, out_w, err_r, err_w (close-on-exec)
    try:
        fds.extend(os.pipe())
        fds.extend(os.pipe())
    except OSError as exc:  # EMFILE, ENFILE: what was opened is closed again
        for fd in fds:
            os.close(fd)
        return {"ReturnCode": -1, "StandardErr": f"Exec failed: pipe: {_errno_text(exc)}",
                "StandardOut": ""}
    try:
        # The pipes are not the transport's: wait() then returns when the command
        # exits, even if something it started keeps them open.
        proc = await asyncio.create_subprocess_exec(
            path, *args, stdin=subprocess.DEVNULL, stdout=fds[1], stderr=fds[3], env=env,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        for fd in fds:
            os.close(fd)
        return {"ReturnCode": -1, "StandardErr": f"Exec failed: {_start_error(path, exc)}",
                "StandardOut": ""}
    os.close(fds[1])
    os.close(fds[3])
    captures = []
    for fd in (fds[0], fds[2]):
        capture = Capture(limit, loop.create_future(), state)
        pipe = open(fd, "rb", buffering=0)  # noqa: SIM115 - the transport closes it
        await loop.connect_read_pipe(capture, pipe)  # type: ignore[type-var]  # duck-typed
        captures.append(capture)
    out, err = captures
    proc.endpoint_exec_tag = tag  # type: ignore[attr-defined]  # for stop()
    state.running.add(proc)
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            timed_out = True
            await _kill_tree(proc, tag)
        except BaseException:
            # Cancelled (the plugin stops, or the framework's action timeout): the
            # command must not outlive its action.
            _freeze_and_kill(proc, tag)
            raise
    finally:
        state.running.discard(proc)
        await asyncio.wait([out.closed, err.closed], timeout=PIPE_GRACE)
        for capture in captures:
            # Something the command started may hold the pipe for good (a daemon):
            # it is not ours to drain; its next write gets EPIPE.
            if capture.transport is not None:
                capture.transport.close()
    code = proc.returncode if proc.returncode is not None else -1
    stderr = err.text()
    if timed_out:
        stderr = _append_line(stderr, f"Exec failed: timed out after {timeout:g}s; "
                                      "the command and every process it started were killed")
    elif code != 0 and not stderr:
        stderr = f"Exec failed: {_exit_text(code)}"
    return {"ReturnCode": code if code >= 0 else -1, "StandardErr": stderr,
            "StandardOut": out.text()}


# -- the action -----------------------------------------------------------------------------------

def child_environment(plugin_env: dict[str, str], minimal: bool, uuid: str, endpoint: str,
                      token: str | None) -> dict[str, str]:
    """A command's environment: the plugin's (``minimal``: only ``MINIMAL_ENV`` of it,
    with a default ``PATH``), then ``RS_UUID``, ``RS_ENDPOINT`` and ``RS_TOKEN``
    (``token`` None: the action said ``"Token": false``, and none is passed on)."""
    if minimal:
        env = {k: plugin_env[k] for k in MINIMAL_ENV if k in plugin_env}
        env.setdefault("PATH", os.defpath)
    else:
        env = dict(plugin_env)
    env["RS_UUID"] = uuid
    env["RS_ENDPOINT"] = endpoint
    if token is None:
        env.pop("RS_TOKEN", None)
    else:
        env["RS_TOKEN"] = token
    return env


def _string_param(action: Action, name: str, default: str | None = None) -> str:
    value = action.params.get(name, default)
    if value is None:
        raise _error(f"Must specify {name}")
    if not isinstance(value, str):
        raise _error(f"{name} must be a string")
    return value


@provider.action("endpointExecDo", model="machines", required=["endpoint-exec/action"],
                 optional=["endpoint-exec/parameters"])
async def endpoint_exec_do(ctx: Context, action: Action) -> dict[str, Any]:
    try:
        return await _endpoint_exec_do(ctx, action, ctx.state_as(State))
    except PluginError as exc:
        raise _keyed(exc, ctx.plugin) from None


async def _endpoint_exec_do(ctx: Context, action: Action, state: State) -> dict[str, Any]:
    import shlex
    import time

    name = _string_param(action, "endpoint-exec/action")
    extra = _string_param(action, "endpoint-exec/parameters", "")
    uuid = action.uuid
    if uuid is None:
        raise _error("endpointExecDo needs a machine: the action's Model has no Uuid")
    spec = state.actions.get(name)
    if spec is None:
        known = ", ".join(sorted(state.actions))
        raise _error(f"endpoint-exec action {name!r} is not configured in endpoint-exec/actions "
                     f"({'known actions: ' + known if known else 'no action is configured'})",
                     code=404)
    try:
        args = spec.arguments(shlex.split(extra))
    except ValueError as exc:
        raise _error(f"endpoint-exec/parameters cannot be split into arguments: {exc}") from None

    api = ctx.api
    token = (api.settings.static_token or os.environ.get("RS_TOKEN", "")) if spec.token else None
    env = child_environment(dict(os.environ), state.minimal_env, uuid, api.endpoint, token)
    timeout = spec.timeout if spec.timeout is not None else state.timeout

    # Never the arguments nor the environment: they may hold secrets.
    ctx.log.info("endpointExecDo: running action %s for machine %s", name, uuid)
    started = time.monotonic()
    result = await execute(spec.path, args, env, timeout, state.output_limit, state)
    ctx.log.info("endpointExecDo: action %s for machine %s: return code %d in %.2fs",
                 name, uuid, result["ReturnCode"], time.monotonic() - started)
    return result


@provider.stop
async def stop(ctx: Context) -> None:
    """Kill what still runs: every process of every running command (see _kill_tree)."""
    import asyncio
    import signal

    state = ctx.state
    if not isinstance(state, State):
        return  # never configured
    procs = list(state.running)
    for proc in procs:
        _signal_group(proc.pid, signal.SIGTERM)
        for pid in _members(proc.pid if proc.returncode is None else None, proc.endpoint_exec_tag):
            _signal(pid, signal.SIGTERM)
    if procs:
        await asyncio.wait([asyncio.ensure_future(p.wait()) for p in procs], timeout=KILL_GRACE)
        for proc in procs:
            _freeze_and_kill(proc, proc.endpoint_exec_tag)


if __name__ == "__main__":
    provider.main()
