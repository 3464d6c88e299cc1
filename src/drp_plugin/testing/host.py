"""A DRP-side host for one provider process, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from ..standin.plugin_socket import ACCEPT_ALL, FromPlugin, LogSink

__all__ = ["ACCEPT_ALL", "LogSink", "PluginHost", "Reply", "provider_argv"]


class Reply:
    """A reply from the provider: status, raw body, and the body decoded as JSON."""

    def __init__(self, status: int, body: bytes, headers: httpx.Headers) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    def json(self) -> Any:
        """The body decoded as JSON (``ValueError`` when it is not JSON)."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body[:200]!r})"


class PluginHost:
    """Run ``argv + ["listen", to, from]`` and speak docs/protocol.md to it.

    The from-plugin socket is the stand-in's own application
    (:class:`drp_plugin.standin.plugin_socket.FromPlugin`), recording what arrives;
    ``sink`` shapes how ``/log`` answers, and ``sink=None`` means no from-plugin
    socket at all (DRP gone).
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        sink: LogSink | None = ACCEPT_ALL,
        token: str = "test-token",
        endpoint: str = "https://127.0.0.1:1",
        workdir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.sink = sink
        self._tmp = tempfile.TemporaryDirectory(prefix="drp-host-")
        self.dir = Path(workdir) if workdir is not None else Path(self._tmp.name)
        self.to_path = str(Path(self._tmp.name) / "to.sock")
        self.from_path = str(Path(self._tmp.name) / "from.sock")
        self.env = {**os.environ, "RS_TOKEN": token, "RS_ENDPOINT": endpoint,
                    "RS_FILESERVER": "http://127.0.0.1:1", "RS_WEBROOT": str(self.dir),
                    **(env or {})}
        self.logs: list[dict[str, Any]] = []
        self.published: list[dict[str, Any]] = []
        self.leaving: list[dict[str, Any]] = []
        self._from_plugin = FromPlugin(self.published.append,
                                       lambda line, level: self.logs.append(line),
                                       lambda err: self.leaving.append(err.to_dict()),
                                       sink if sink is not None else ACCEPT_ALL)
        self.process: asyncio.subprocess.Process | None = None
        self.stdout_lines: list[str] = []
        self.stderr = b""
        self._runner: web.AppRunner | None = None
        self._client: httpx.AsyncClient | None = None
        self._stdout_task: asyncio.Task[None] | None = None
        self._stderr_task: asyncio.Task[None] | None = None

    # -- the from-plugin socket ------------------------------------------------------------
    @property
    def log_posts(self) -> int:
        """``/log`` requests received (answered or not)."""
        return self._from_plugin.log_posts

    async def _serve_from_socket(self) -> None:
        self._runner = web.AppRunner(self._from_plugin.app(), access_log=None)
        await self._runner.setup()
        await web.UnixSite(self._runner, self.from_path).start()

    async def close_sink(self) -> None:
        """Take the from-plugin socket away (DRP gone)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the provider process -----------------------------------------------------------------
    async def start(self, timeout: float = 20.0) -> None:
        """Spawn the provider with ``listen`` and wait for ``READY!``; on failure the
        process, the from-plugin socket and the temporary directory are cleaned up."""
        try:
            await self._start(timeout)
        except BaseException:
            await self.aclose()
            raise

    async def _start(self, timeout: float) -> None:
        if self.sink is not None:
            await self._serve_from_socket()
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, "listen", self.to_path, self.from_path,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self.env, cwd=self.dir,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self._stderr_task = asyncio.create_task(self._read_stderr(self.process.stderr))
        first = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        line = first.decode().rstrip("\n")
        if line != "READY!":
            await self.process.wait()
            if self._stderr_task is not None:
                await self._stderr_task
            raise RuntimeError(f"provider did not get ready: {line!r}; stderr: {self.stderr!r}")
        self._stdout_task = asyncio.create_task(self._read_stdout(self.process.stdout))
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=self.to_path), base_url="http://unix",
            timeout=httpx.Timeout(30.0),
        )

    async def _read_stdout(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.stdout_lines.append(line.decode(errors="replace").rstrip("\n"))

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.stderr += chunk

    async def request(self, path: str, body: Any = None, *, method: str = "POST",
                      content: bytes | None = None,
                      content_type: str | None = "application/json") -> Reply:
        """Send one request to the provider's to-plugin socket."""
        assert self._client is not None, "start() first"
        headers = {"Content-Type": content_type} if content_type else {}
        if content is None and body is not None:
            content = json.dumps(body).encode()
        response = await self._client.request(method, path, content=content, headers=headers)
        return Reply(response.status_code, response.content, response.headers)

    async def config(self, params: dict[str, Any] | None = None) -> Reply:
        """``POST /api-plugin/v4/config`` with ``params`` (``{}`` when ``None``)."""
        return await self.request("/api-plugin/v4/config", params if params is not None else {})

    async def action(self, command: str, params: dict[str, Any] | None = None,
                     model: Any = None, plugin: str = "") -> Reply:
        """``POST /api-plugin/v4/action`` with a ``models.Action``: ``command``, ``params``,
        ``model`` (the target object's JSON; ``None``: a system action) and ``plugin``."""
        return await self.request("/api-plugin/v4/action", {
            "Command": command, "Plugin": plugin, "Model": model, "Params": params or {}})

    async def publish(self, event: dict[str, Any]) -> Reply:
        """``POST /api-plugin/v4/publish`` with ``event`` (a ``models.Event`` as JSON)."""
        return await self.request("/api-plugin/v4/publish", event)

    async def stop(self) -> Reply:
        """``/stop`` with the body DRP sends: ``null``."""
        return await self.request("/api-plugin/v4/stop", content=b"null")

    async def wait(self, timeout: float = 20.0) -> int:
        """Wait for the process to exit; returns its exit code."""
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), timeout)
        for task in (self._stdout_task, self._stderr_task):
            if task is not None:
                await task
        return code

    def rss_kb(self) -> int:
        """Resident memory of the provider process (kB, from /proc)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    async def aclose(self) -> None:
        """Close the HTTP client, kill the provider if it still runs, take the from-plugin
        socket away and delete the temporary directory."""
        if self._client is not None:
            await self._client.aclose()
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        await self.close_sink()
        self._tmp.cleanup()

    async def __aenter__(self) -> PluginHost:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def provider_argv(path: str | os.PathLike[str]) -> list[str]:
    """How to run a provider file: ``.py`` sources with this interpreter."""
    path = os.path.abspath(os.fspath(path))
    return [sys.executable, path] if path.endswith(".py") else [path]
