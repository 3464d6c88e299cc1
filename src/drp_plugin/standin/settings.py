"""Limits of the stand-in: sizes in bytes, counts, times in seconds.

Each is a constructor argument of :class:`Limits` (and of ``StandIn(limits=...)``)
with its default read from a ``DRP_PLUGIN_STANDIN_...`` environment variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

MIB = 1024 * 1024


def _env(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None
    if value < 0:
        raise ValueError(f"{name} cannot be negative")
    return value


@dataclass
class Limits:
    """What the stand-in keeps and accepts (see the README, "Testing a provider")."""

    #: Bytes queued for one event-stream client before it is disconnected (a gap).
    ws_queue_bytes: int = field(
        default_factory=lambda: _env("DRP_PLUGIN_STANDIN_WS_QUEUE_BYTES", 16 * MIB))
    #: Recorded events kept (``StandIn.events``), by count and by JSON bytes.
    event_history: int = field(
        default_factory=lambda: _env("DRP_PLUGIN_STANDIN_EVENT_HISTORY", 100_000))
    event_history_bytes: int = field(
        default_factory=lambda: _env("DRP_PLUGIN_STANDIN_EVENT_HISTORY_BYTES", 64 * MIB))
    #: Recorded provider log lines kept (``StandIn.logs``), by count and by bytes.
    log_history: int = field(
        default_factory=lambda: _env("DRP_PLUGIN_STANDIN_LOG_HISTORY", 10_000))
    log_history_bytes: int = field(
        default_factory=lambda: _env("DRP_PLUGIN_STANDIN_LOG_HISTORY_BYTES", 16 * MIB))
    #: Largest upload (files, plugin providers), streamed to disk.
    max_upload: int = field(
        default_factory=lambda: _env("DRP_PLUGIN_STANDIN_MAX_UPLOAD", 1024 * MIB))
    #: Largest JSON request body (read into memory).
    max_body: int = field(
        default_factory=lambda: _env("DRP_PLUGIN_STANDIN_MAX_BODY", 64 * MIB))
    #: Memory RE2 may use to compile one ``Re()`` list filter (RE2's own default); a
    #: larger pattern answers 406 naming this setting.
    regex_max_mem: int = field(
        default_factory=lambda: _env("DRP_PLUGIN_STANDIN_REGEX_MAX_MEM", 8 * MIB))
    #: SHA-256 sums of files kept for their ``ETag`` (each keyed by device, inode, size and
    #: mtime, so a changed file is hashed again); the least recently used go first.
    file_sum_cache: int = field(
        default_factory=lambda: _env("DRP_PLUGIN_STANDIN_FILE_SUM_CACHE", 4096))
    #: Largest log of one job (``PUT /jobs/<uuid>/log`` appends past it answer 413).
    max_job_log: int = field(
        default_factory=lambda: _env("DRP_PLUGIN_STANDIN_MAX_JOB_LOG", 64 * MIB))
    #: Text of the faults a content pack's check lists (each task of a prerequisite
    #: cycle names the whole cycle): past it the check stops and says how many tasks
    #: it did not check.
    max_fault_bytes: int = field(
        default_factory=lambda: _env("DRP_PLUGIN_STANDIN_MAX_FAULT_BYTES", MIB))
    #: Longest token life a ``ttl`` may ask for, in seconds: the largest Go
    #: ``time.Duration`` in whole seconds (DRP's ``time.Second * ttl`` overflows past it).
    max_token_ttl: int = field(
        default_factory=lambda: _env("DRP_PLUGIN_STANDIN_MAX_TOKEN_TTL", 9_223_372_036))
