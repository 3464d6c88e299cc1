"""One running plugin: its ``listen`` process and both of its unix sockets.

The stand-in listens on the from-plugin socket BEFORE it spawns
``<provider> listen <to> <from>``, waits for the ``READY!`` line (``Failed`` or
an exit is an error), keeps every other output line as a log record, and talks
to the plugin over the to-plugin socket (``/api-plugin/v4/...``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from ..errors import PluginError
from ..models import make_event
from .eventhub import EventHub
from .logs import LogBook, LogRecord
from .plugin_socket import FromPlugin

API = "http://unix/api-plugin/v4"


class PluginProcess:
    """Start, call and stop one plugin instance."""

    def __init__(self, name: str, provider: str, argv: list[str], env: dict[str, str],
                 workdir: Path, sockets: tuple[Path, Path], hub: EventHub, logbook: LogBook,
                 published: list[dict[str, Any]], on_leaving: Callable[[PluginError], None],
                 on_exit: Callable[[int], None]) -> None:
        self.name = name
        self.provider = provider
        self.argv = argv
        self.env = env
        self.workdir = workdir
        self.to_path, self.from_path = sockets
        self.hub = hub
        self.logbook = logbook
        self.published = published
        self.on_leaving = on_leaving
        self.on_exit = on_exit
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def _published(self, event: dict[str, Any]) -> None:
        """``/publish``: recorded (newest ``hub.max_events`` kept) and broadcast."""
        self.published.append(event)
        if len(self.published) > self.hub.max_events:
            del self.published[:len(self.published) - self.hub.max_events]
        self.hub.publish(event)

    def _logged(self, line: dict[str, Any], level: str) -> None:
        """``/log``: one record, and a ``log`` event unless ``IgnorePublish``."""
        message = line.get("Message")
        self.logbook.add(LogRecord("log", self.provider, self.name, level,
                                   message if isinstance(message, str) else json.dumps(message),
                                   str(line.get("Service") or ""), line))
        if not line.get("IgnorePublish"):
            event = make_event("log", level, self.name, line)
            event.update(Principal=f"plugin:{self.name}", Original=None)
            self.hub.publish(event)

    def _log(self, source: str, text: str) -> None:
        self.logbook.add(LogRecord(source, self.provider, self.name, "info", text))

    async def _pump(self, stream: asyncio.StreamReader, source: str) -> None:
        while line := await stream.readline():
            self._log(source, line.decode(errors="replace").rstrip("\r\n"))

    async def start(self, ready_timeout: float = 30.0) -> None:
        """Serve the from-plugin socket, spawn ``listen`` and wait for ``READY!``."""
        for path in (self.to_path, self.from_path):
            path.unlink(missing_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        sink = FromPlugin(self._published, self._logged, self.on_leaving)
        self._runner = web.AppRunner(sink.app(), access_log=None)
        await self._runner.setup()
        await web.UnixSite(self._runner, str(self.from_path)).start()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, "listen", str(self.to_path), str(self.from_path),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=self.workdir, env=self.env,
            )
        except OSError as exc:
            await self._cleanup()
            raise PluginError(f"Cannot run provider {self.provider}: {exc}", code=500,
                              model="plugins", key=self.name) from None
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._tasks.append(asyncio.create_task(self._pump(self.proc.stderr, "stderr")))
        try:
            await asyncio.wait_for(self._wait_ready(self.proc.stdout), ready_timeout)
        except (PluginError, TimeoutError) as exc:
            await self.kill()
            if isinstance(exc, PluginError):
                raise
            raise PluginError(f"Plugin {self.name} did not print READY! in {ready_timeout}s",
                              code=500, model="plugins", key=self.name) from None
        self._tasks.append(asyncio.create_task(self._pump(self.proc.stdout, "stdout")))
        self._tasks.append(asyncio.create_task(self._watch()))
        self._session = aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=str(self.to_path)),
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def _wait_ready(self, stdout: asyncio.StreamReader) -> None:
        while True:
            raw = await stdout.readline()
            if not raw:
                assert self.proc is not None
                code = await self.proc.wait()
                raise PluginError(f"Plugin {self.name} exited with status {code} before READY!",
                                  code=500, model="plugins", key=self.name)
            line = raw.decode(errors="replace").rstrip("\r\n")
            if line == "READY!":
                return
            if line.strip() == "Failed":
                raise PluginError(f"Plugin {self.name} failed to start (printed Failed)",
                                  code=500, model="plugins", key=self.name)
            self._log("stdout", line)

    async def _watch(self) -> None:
        assert self.proc is not None
        code = await self.proc.wait()
        if not self.stopping:
            self.on_exit(code)

    async def call(self, call: str, body: bytes, timeout: float | None = None) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``/api-plugin/v4/<call>``; returns status and body."""
        if self._session is None:
            raise PluginError(f"Plugin {self.name} is not running", code=409,
                              model="plugins", key=self.name)
        try:
            async with self._session.post(
                f"{API}/{call}", data=body, headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                return resp.status, await resp.read()
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:  # RuntimeError: closed
            raise PluginError(f"Plugin {self.name}: {call} failed: {exc or type(exc).__name__}",
                              code=500, model="plugins", key=self.name) from None

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

    async def kill(self) -> None:
        """End the process without asking, and clean up."""
        self.stopping = True
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        await self._cleanup()

    async def stop(self, timeout: float = 5.0) -> None:
        """``/stop`` with body ``null``, wait for the exit (then terminate, kill)."""
        self.stopping = True
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(PluginError):
                await self.call("stop", b"null", timeout)
            for ending in (None, self.proc.terminate, self.proc.kill):
                if ending is not None:
                    with contextlib.suppress(ProcessLookupError):
                        ending()
                try:
                    await asyncio.wait_for(self.proc.wait(), timeout)
                    break
                except TimeoutError:
                    continue
        await self._cleanup()

    async def _cleanup(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        for task in self._tasks:
            if task is not asyncio.current_task():
                try:
                    await asyncio.wait_for(task, 2.0)
                except (TimeoutError, asyncio.CancelledError):
                    task.cancel()
        self._tasks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for path in (self.to_path, self.from_path):
            path.unlink(missing_ok=True)
