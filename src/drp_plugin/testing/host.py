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

from ..protocol import paths
from ..standin.plugin_process import PluginProcess
from ..standin.plugin_socket import ACCEPT_ALL, FromPlugin, LogSink

__all__ = ["ACCEPT_ALL", "LogSink", "PluginHost", "HostReply", "provider_argv"]


class HostReply:
    """A reply from the provider: status, raw body, and the body decoded as JSON."""

    def __init__(self, status: int, body: bytes, headers: httpx.Headers) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    def json(self) -> Any:
        """The body decoded as JSON (``ValueError`` when it is not JSON)."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"HostReply({self.status}, {self.body[:200]!r})"


class PluginHost:
    """Run ``argv + ["listen", to, from]`` and speak docs/protocol.md to it.

    The process is run by the stand-in's own process host
    (:class:`drp_plugin.standin.plugin_process.PluginProcess`), and the from-plugin
    socket is the stand-in's own application
    (:class:`drp_plugin.standin.plugin_socket.FromPlugin`), recording what arrives;
    ``sink`` shapes how ``/log`` answers, and ``sink=None`` means no from-plugin
    socket at all (DRP gone).  ``name`` is the plugin's name in error messages (default:
    the stem of the last word of ``argv``, the provider's file).
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
        name: str | None = None,
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
        self.stdout_lines: list[str] = []
        self._stderr = bytearray()
        self._from_plugin = FromPlugin(self.published.append,
                                       lambda line, level: self.logs.append(line),
                                       lambda err: self.leaving.append(err.to_dict()),
                                       sink if sink is not None else ACCEPT_ALL)
        self._host = PluginProcess(
            self.argv, self.to_path, self.from_path, env=self.env, cwd=self.dir,
            name=name if name is not None else Path(self.argv[-1]).stem,
            from_plugin=self._from_plugin if sink is not None else None,
            on_output=self._output, timeout=30.0)

    def _output(self, source: str, piece: bytes) -> None:
        if source == "stderr":
            self._stderr += piece
        else:
            self.stdout_lines.append(piece.decode(errors="replace").rstrip("\n"))

    @property
    def process(self) -> asyncio.subprocess.Process | None:
        """The provider process (``None`` before :meth:`start`)."""
        return self._host.proc

    @property
    def stderr(self) -> bytes:
        """Everything the provider wrote on stderr so far."""
        return bytes(self._stderr)

    # -- the from-plugin socket ------------------------------------------------------------
    @property
    def log_posts(self) -> int:
        """``/log`` requests received (answered or not)."""
        return self._from_plugin.log_posts

    async def close_sink(self) -> None:
        """Take the from-plugin socket away (DRP gone)."""
        await self._host.close_from_socket()

    # -- the provider process -----------------------------------------------------------------
    async def start(self, timeout: float = 20.0) -> None:
        """Spawn the provider with ``listen`` and wait for ``READY!``.

        A ``Failed`` line, an exit before ``READY!`` or no ``READY!`` within ``timeout``
        seconds raise :class:`~drp_plugin.errors.PluginError` with the exit status and
        the end of stderr, as the stand-in reports it in ``PluginErrors``; the process,
        the from-plugin socket and the temporary directory are cleaned up by then.
        """
        try:
            await self._host.start(timeout)
        except BaseException:
            await self.aclose()
            raise

    async def request(self, path: str, body: Any = None, *, method: str = "POST",
                      content: bytes | None = None,
                      content_type: str | None = "application/json") -> HostReply:
        """Send one request to the provider's to-plugin socket (``httpx`` errors are raised
        as they are)."""
        headers = {"Content-Type": content_type} if content_type else {}
        if content is None and body is not None:
            content = json.dumps(body).encode()
        response = await self._host.request(method, path, content=content, headers=headers)
        return HostReply(response.status_code, response.content, response.headers)

    async def config(self, params: dict[str, Any] | None = None) -> HostReply:
        """``POST /api-plugin/v4/config`` with ``params`` (``{}`` when ``None``)."""
        return await self.request(paths.CONFIG, params if params is not None else {})

    async def action(self, command: str, params: dict[str, Any] | None = None,
                     model: Any = None, plugin: str = "") -> HostReply:
        """``POST /api-plugin/v4/action`` with a ``models.Action``: ``command``, ``params``,
        ``model`` (the target object's JSON; ``None``: a system action) and ``plugin``."""
        return await self.request(paths.ACTION, {
            "Command": command, "Plugin": plugin, "Model": model, "Params": params or {}})

    async def publish(self, event: dict[str, Any]) -> HostReply:
        """``POST /api-plugin/v4/publish`` with ``event`` (a ``models.Event`` as JSON)."""
        return await self.request(paths.PUBLISH, event)

    async def stop(self) -> HostReply:
        """``/stop`` with the body DRP sends: ``null``."""
        return await self.request(paths.STOP, content=b"null")

    async def wait(self, timeout: float = 20.0) -> int:
        """Wait for the process to exit, then for its output to end; returns its exit code."""
        return await self._host.wait(timeout)

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
        await self._host.kill()
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
