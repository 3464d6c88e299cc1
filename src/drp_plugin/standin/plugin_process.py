"""The DRP side of one provider process: ``listen``, its two unix sockets, its calls.

The one process host: the stand-in runs every plugin with it (``drp-plugin serve``,
``drp-plugin dev``, the pytest fixtures) and :class:`drp_plugin.testing.PluginHost`
wraps it for protocol tests.  It serves the from-plugin socket (a
:class:`~.plugin_socket.FromPlugin`) BEFORE it spawns
``<argv> listen <to> <from>``, waits for the ``READY!`` line, and reports a
``Failed`` line, an exit before ``READY!`` or no ``READY!`` in time as a
:class:`~drp_plugin.errors.PluginError` carrying the exit status and what the
provider wrote on stderr.  Every other output line goes to ``on_output``.  Calls
go to the to-plugin socket (:mod:`drp_plugin.protocol.paths`) with one
``httpx.AsyncClient``; stopping and killing wait a bounded time at each step.

It lives in the stand-in because it is DRP's side of the protocol: what a built
provider carries (:mod:`drp_plugin.protocol`) never runs it, and
:mod:`drp_plugin.testing` builds on the stand-in, never the other way round.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from ..errors import PluginError
from ..protocol.paths import TO_PLUGIN
from .plugin_socket import FromPlugin

__all__ = ["PluginProcess"]

#: How much of the provider's output is read at once (bytes).
READ_CHUNK = 64 * 1024
JSON = {"Content-Type": "application/json"}

_READY, _FAILED, _EXITED = "ready", "failed", "exited"


async def output_pieces(stream: asyncio.StreamReader, max_line: int) -> AsyncIterator[bytes]:
    """The lines of ``stream``, each with its ``\\n``; a line longer than ``max_line`` bytes
    comes in pieces of ``max_line`` bytes (the last without ``\\n`` until it ends), so
    nothing is lost and no line holds more than ``max_line`` bytes in memory."""
    buf = b""
    while chunk := await stream.read(READ_CHUNK):
        buf += chunk
        start = 0
        while True:
            end = buf.find(b"\n", start, start + max_line)
            if end >= 0:
                yield buf[start:end + 1]
                start = end + 1
            elif len(buf) - start >= max_line:
                yield buf[start:start + max_line]
                start += max_line
            else:
                break
        buf = buf[start:]
    if buf:
        yield buf


class PluginProcess:
    """Start, call and stop one provider's ``listen``.

    ``argv`` runs the provider (``listen <to> <from>`` is appended) with ``env`` in
    ``cwd`` (created if missing).  ``name`` is the plugin's name and ``provider`` the
    provider's, for messages.  ``from_plugin`` is what serves the from-plugin socket
    (``None``: no socket at all, DRP gone); ``on_output(source, piece)`` gets every
    other output line of ``"stdout"`` and ``"stderr"`` as bytes (see
    :func:`output_pieces`); ``on_exit(code)`` is called when the process exits
    without :meth:`stop` or :meth:`kill`.

    Limits: ``timeout`` (seconds, ``None``: none) is the default bound of a call;
    ``max_line`` (bytes, 64 KiB) the longest output piece; ``error_tail`` (bytes,
    4 KiB) how much of the end of stderr a start error quotes; ``exit_wait``
    (seconds, 5) how long a provider that printed ``Failed`` or closed its stdout
    before ``READY!`` may take to exit before it is killed.
    """

    def __init__(
        self,
        argv: list[str],
        to_path: str | os.PathLike[str],
        from_path: str | os.PathLike[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        name: str = "plugin",
        provider: str = "",
        from_plugin: FromPlugin | None = None,
        on_output: Callable[[str, bytes], None] | None = None,
        on_exit: Callable[[int], None] | None = None,
        timeout: float | None = None,
        max_line: int = 64 * 1024,
        error_tail: int = 4096,
        exit_wait: float = 5.0,
    ) -> None:
        self.argv = list(argv)
        self.to_path = os.fspath(to_path)
        self.from_path = os.fspath(from_path)
        self.env = env
        self.cwd = Path(cwd) if cwd is not None else None
        self.name = name
        self.provider = provider or name
        self.from_plugin = from_plugin
        self.on_output = on_output
        self.on_exit = on_exit
        self.timeout = timeout
        self.max_line = max_line
        self.error_tail = error_tail
        self.exit_wait = exit_wait
        self.proc: asyncio.subprocess.Process | None = None
        #: Set by :meth:`stop` and :meth:`kill`: the exit is expected (no ``on_exit``).
        self.stopping = False
        self._stderr_tail = bytearray()
        self._ready: asyncio.Future[str] | None = None
        self._runner: web.AppRunner | None = None
        self._client: httpx.AsyncClient | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._watcher: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self.proc is not None and self.proc.returncode is None

    def _error(self, message: str, code: int = 500) -> PluginError:
        return PluginError(message, code=code, model="plugins", key=self.name)

    # -- start ------------------------------------------------------------------------------
    async def start(self, ready_timeout: float = 30.0) -> None:
        """Serve the from-plugin socket, spawn ``listen`` and wait for ``READY!``.

        A ``Failed`` line, an exit before ``READY!``, no ``READY!`` within
        ``ready_timeout`` seconds or a command that cannot run raise a
        :class:`PluginError` (code 500, model ``plugins``, key ``name``); the process is
        gone and the sockets removed by then.
        """
        try:
            await self._start(ready_timeout)
        except BaseException:
            await self.kill()
            raise
        if self.on_exit is not None:
            self._watcher = asyncio.create_task(self._watch())
        self._client = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=self.to_path),
                                         base_url="http://unix", timeout=self.timeout)

    async def _start(self, ready_timeout: float) -> None:
        for path in (self.to_path, self.from_path):
            Path(path).unlink(missing_ok=True)
        if self.cwd is not None:
            self.cwd.mkdir(parents=True, exist_ok=True)
        if self.from_plugin is not None:
            self._runner = web.AppRunner(self.from_plugin.app(), access_log=None)
            await self._runner.setup()
            await web.UnixSite(self._runner, self.from_path).start()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, "listen", self.to_path, self.from_path,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=self.cwd, env=self.env,
            )
        except OSError as exc:
            raise self._error(f"Cannot run provider {self.provider}: {exc}") from None
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._ready = asyncio.get_running_loop().create_future()
        self._readers = [asyncio.create_task(self._read(self.proc.stdout, "stdout")),
                         asyncio.create_task(self._read(self.proc.stderr, "stderr"))]
        try:
            outcome = await asyncio.wait_for(asyncio.shield(self._ready), ready_timeout)
        except TimeoutError:
            raise self._error(f"Plugin {self.name} did not print READY! in "
                              f"{ready_timeout:g}s") from None
        if outcome == _READY:
            return
        code = await self._exit_status()
        if outcome == _FAILED:
            raise self._error(f"Plugin {self.name} failed to start (printed Failed, exit status "
                              f"{code}): {self._reason()}")
        raise self._error(f"Plugin {self.name} exited with status {code} before READY!: "
                          f"{self._reason()}")

    async def _exit_status(self) -> int:
        """The exit status of a provider that will not get ready: it exits by itself within
        ``exit_wait`` seconds or is killed; then its stderr is read to the end (bounded)."""
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), self.exit_wait)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            code = await asyncio.wait_for(self.proc.wait(), self.exit_wait)
        await asyncio.wait(self._readers, timeout=self.exit_wait)
        return code

    def _reason(self) -> str:
        text = self._stderr_tail.decode(errors="replace").strip()
        if not text:
            return "nothing on stderr"
        return ("..." + text) if len(self._stderr_tail) >= self.error_tail else text

    async def _read(self, stream: asyncio.StreamReader, source: str) -> None:
        ready = self._ready
        assert ready is not None
        async for piece in output_pieces(stream, self.max_line):
            if source == "stderr":
                self._stderr_tail += piece
                del self._stderr_tail[:-self.error_tail]
            elif not ready.done():
                line = piece.decode(errors="replace").strip()
                if line == "READY!":
                    ready.set_result(_READY)
                    continue
                if line == "Failed":
                    ready.set_result(_FAILED)
                    continue
            if self.on_output is not None:
                self.on_output(source, piece)
        if source == "stdout" and not ready.done():
            ready.set_result(_EXITED)

    async def _watch(self) -> None:
        assert self.proc is not None
        code = await self.proc.wait()
        if not self.stopping and self.on_exit is not None:
            self.on_exit(code)

    # -- calls ----------------------------------------------------------------------------------
    async def request(self, method: str, path: str, *, content: bytes | None = None,
                      headers: dict[str, str] | None = None,
                      timeout: Any = httpx.USE_CLIENT_DEFAULT) -> httpx.Response:
        """Send one request on the to-plugin socket; ``httpx`` errors are raised as they are.
        ``timeout`` (seconds, ``None``: none) defaults to the host's ``timeout``."""
        if self._client is None:
            raise self._error(f"Plugin {self.name} is not running", code=409)
        return await self._client.request(method, path, content=content, headers=headers,
                                          timeout=timeout)

    async def call(self, call: str, body: bytes, timeout: float | None = None) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``/api-plugin/v4/<call>`` within ``timeout`` seconds
        (``None``: no bound); returns status and body.  A failed exchange raises
        :class:`PluginError` (500), a host that is not running one of 409."""
        try:
            response = await self.request("POST", f"{TO_PLUGIN}/{call}", content=body,
                                          headers=JSON, timeout=timeout)
        except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: closed meanwhile
            raise self._error(f"Plugin {self.name}: {call} failed: "
                              f"{str(exc) or type(exc).__name__}") from None
        return response.status_code, response.content

    async def config(self, params: dict[str, Any], timeout: float = 60.0) -> None:
        """Send ``/config``; a non-200 reply raises its ``models.Error``."""
        status, body = await self.call("config", json.dumps(params).encode(), timeout)
        if status == 200:
            return
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = body.decode(errors="replace") or f"config failed with status {status}"
        err = PluginError.from_dict(data, status)
        err.model, err.key = err.model or "plugins", err.key or self.name
        raise err

    # -- the end ----------------------------------------------------------------------------------
    async def wait(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the process to exit (``TimeoutError``
        otherwise), then as long again for its output to end; returns the exit status."""
        assert self.proc is not None, "start() first"
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._readers:
            await asyncio.wait(self._readers, timeout=timeout)
        return code

    async def stop(self, timeout: float = 5.0) -> None:
        """``/stop`` with DRP's body ``null``, then wait for the exit; after ``timeout``
        seconds terminate, after as many again kill.  Then clean up."""
        self.stopping = True
        if self.running:
            with contextlib.suppress(PluginError):
                await self.call("stop", b"null", timeout)
            await self._end(timeout, polite=True)
        await self._cleanup()

    async def kill(self, timeout: float = 5.0) -> None:
        """End the process without asking (waiting ``timeout`` seconds at most), clean up."""
        self.stopping = True
        if self.running:
            await self._end(timeout, polite=False)
        await self._cleanup()

    async def _end(self, timeout: float, *, polite: bool) -> None:
        proc = self.proc
        assert proc is not None
        endings = (None, proc.terminate, proc.kill) if polite else (proc.kill,)
        for ending in endings:
            if ending is not None:
                with contextlib.suppress(ProcessLookupError):
                    ending()
            try:
                await asyncio.wait_for(proc.wait(), timeout)
                return
            except TimeoutError:
                continue

    async def close_from_socket(self) -> None:
        """Stop serving the from-plugin socket (DRP gone)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _cleanup(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        tasks = [t for t in (*self._readers, self._watcher)
                 if t is not None and t is not asyncio.current_task()]
        if tasks:
            # The readers end with the pipes; a grandchild holding them must not hold us.
            await asyncio.wait(tasks, timeout=2.0)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._readers, self._watcher = [], None
        await self.close_from_socket()
        for path in (self.to_path, self.from_path):
            Path(path).unlink(missing_ok=True)
