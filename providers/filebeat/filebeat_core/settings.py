"""The plugin params, checked: ``filebeat/events``, ``filebeat/mode``, ``filebeat/path``,
``filebeat/tcp``, ``filebeat/queue-size``, ``filebeat/spool-dir``, ``filebeat/spool-max-bytes``."""

from __future__ import annotations

import os
from typing import Any

from drp_plugin.events import Pattern

from .errors import error
from .files import FileSink
from .tcp import TcpSink

DEFAULT_PATH = "/var/log/filebeat-plugin/json.log"
DEFAULT_TCP = "127.0.0.1:9000"
DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_SPOOL_MAX = 1024 * 1024 * 1024


def _split_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(text)
    return host, int(port)


def _integer(params: dict[str, Any], name: str, default: int, minimum: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise error(f"{name} must be an integer", 400)
    if value < minimum:
        raise error(f"{name} must be at least {minimum}", 400)
    return int(value)


class Settings:
    """A checked config: nothing here is applied before all of it is valid."""

    def __init__(self, params: dict[str, Any]) -> None:
        mode = params.get("filebeat/mode", "file")
        if not isinstance(mode, str):
            raise error("filebeat/mode not a string", 500)
        if "filebeat/events" not in params:
            raise error("filebeat/events not specified", 500)
        events = params["filebeat/events"]
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise error("filebeat/events not valid: must be a list of strings", 500)
        try:
            self.patterns: list[Pattern] = [Pattern(e.strip()) for e in dict.fromkeys(events)]
        except ValueError as exc:
            raise error(f"filebeat/events not valid: {exc}", 500) from None
        self.selections = [p.text for p in self.patterns]
        self.mode = mode
        self.path = ""
        self.host, self.port = "", 0
        if mode == "file":
            path = params.get("filebeat/path", DEFAULT_PATH)
            if not isinstance(path, str) or not path:
                raise error("filebeat/path not a string", 500)
            self.path = os.path.abspath(path)
        elif mode == "tcp":
            tcp = params.get("filebeat/tcp", DEFAULT_TCP)
            if not isinstance(tcp, str):
                raise error("filebeat/tcp not a string", 500)
            try:
                self.host, self.port = _split_hostport(tcp)
            except ValueError:
                raise error(f"filebeat/tcp is not host:port: {tcp}", 400) from None
        else:
            raise error(f"filebeat/mode is not valid: {mode}", 400)
        spool_dir = params.get("filebeat/spool-dir", "")
        if not isinstance(spool_dir, str):
            raise error("filebeat/spool-dir not a string", 500)
        self.spool_dir = spool_dir
        self.queue_size = _integer(params, "filebeat/queue-size", DEFAULT_QUEUE_SIZE, 1)
        self.spool_max = _integer(params, "filebeat/spool-max-bytes", DEFAULT_SPOOL_MAX, 0)

    @property
    def destination(self) -> str:
        return self.path if self.mode == "file" else f"{self.host}:{self.port}"

    def sink(self) -> FileSink | TcpSink:
        return FileSink(self.path) if self.mode == "file" else TcpSink(self.host, self.port)
