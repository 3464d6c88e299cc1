"""The ``concurrency`` section: a rack's worth of slow actions at once (issue 21).

A provider whose actions wait 1 s (``bench/providers/slow.py``: ``time.sleep`` in a
``def`` handler, ``asyncio.sleep`` in an ``async def`` one), built with
``drp-plugin build`` and run on the host's python3 on asyncio's loop, gets N actions
at once, one connection each (``bench/burst.py``, as DRP's Go client sends them).
For each N and kind: the answers by status, refused dials, wall time from the first
dial to the last answer, p50/p99, the provider's peak RSS (``VmHWM``) and peak
threads, and the log lines that reached the sink (one per action).  The same
provider from this source tree (default loop) runs the N = 1,000 cases beside it.

``DRP_PLUGIN_BENCH_GO_SLOW=<binary>``: the same action written with the Go plugin
package (``bench/go/slow``) in the same harness; without it the figures recorded in
issue 21 are shown.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

from .servers import Sink
from .util import PROVIDERS, PYTHON, ROOT, ProviderProcess, action_body, child_env, scratch

#: Go's plugin package, same action and harness (issue 21): wall seconds, peak RSS MB.
GO_RECORDED: dict[int, dict[str, float | None]] = {
    250: {"wall_seconds": 1.06, "rss_mb": None},
    1000: {"wall_seconds": 1.28, "rss_mb": 64.0},
    10000: {"wall_seconds": 3.97, "rss_mb": 481.0},
}
GO_ENV = "DRP_PLUGIN_BENCH_GO_SLOW"
SLOW = PROVIDERS / "slow.py"

#: (N, kind) per run; quick runs are for CI's smoke test.
FULL = [(250, "sync"), (250, "async"), (1000, "sync"), (1000, "async"),
        (10000, "async"), (10000, "sync")]
QUICK = [(50, "sync"), (50, "async")]


def _status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS", "Threads"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


class _Peaks:
    """Samples the provider's thread count every 20 ms while a burst runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.threads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.threads = max(self.threads, _status(self.pid).get("Threads", 0))

    def __enter__(self) -> _Peaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(1)


def _run(argv: list[str], tmp: Path, sink: Sink, env: dict[str, str], n: int, kind: str,
         seconds: float, name: str) -> dict[str, Any]:
    body = tmp / f"{name}.json"
    body.write_text(json.dumps(action_body(f"wait_{kind}", {"slow/seconds": seconds})))
    prov = ProviderProcess(argv, tmp, sink.path, env, to_name=f"{name}.sock")
    prov.start()
    try:
        status, reply = prov.config()
        if status != 200:
            raise RuntimeError(f"config: {status} {reply!r}; stderr: {prov.stderr()}")
        sink.settle()
        before = sink.lines
        with _Peaks(prov.pid) as peaks:
            done = subprocess.run([PYTHON, "-m", "bench.burst", prov.to_path, str(n), str(body),
                                   "--timeout", "120"], capture_output=True, cwd=ROOT,
                                  timeout=300, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"burst client failed: {done.stderr.decode()[-800:]}")
        out: dict[str, Any] = json.loads(done.stdout)
        ok = out["statuses"].get("200", 0)
        out["log_lines"] = sink.wait_lines(before + ok, timeout=10.0) - before
        out["rss_peak_mb"] = round(_status(prov.pid).get("VmHWM", 0) / 1024, 1)
        out["threads_peak"] = peaks.threads
        out["kind"] = kind
    finally:
        prov.stop()
    return out


def _verdict(n: int, row: dict[str, Any], go: dict[str, Any]) -> str:
    all_ok = row["statuses"].get("200", 0) == n and row["log_lines"] >= n
    if n == 1000:
        ok = all_ok and row["wall_seconds"] <= 1.5 and row["rss_peak_mb"] <= 128
        return "PASS" if ok else "FAIL"
    if n == 10000:
        go_wall, go_rss = go.get("wall_seconds"), go.get("rss_mb")
        ok = all_ok and (go_wall is None or row["wall_seconds"] <= 1.5 * go_wall) and \
            (go_rss is None or row["rss_peak_mb"] <= go_rss)
        if row["kind"] == "sync" and not all_ok:
            # The documented bound: past DRP_PLUGIN_SYNC_THREADS, 503 naming it.
            refused = row["statuses"].get("503", 0)
            named = "DRP_PLUGIN_SYNC_THREADS" in row["answers"].get("503", "")
            bounded = refused and named and \
                row["statuses"].get("200", 0) + refused == n and not row["refused_dials"]
            return "BOUND" if bounded else "FAIL"
        return "PASS" if ok else "FAIL"
    return "-"


def bench_concurrency(quick: bool) -> dict[str, Any]:
    from .suite import Built

    cases = QUICK if quick else FULL
    seconds = 0.2 if quick else 1.0
    result: dict[str, Any] = {"action_seconds": seconds, "targets": {
        "1000": "every action 200 and its log line delivered, wall <= 1.5 s, peak RSS <= 128 MB "
                "(sync and async)",
        "10000": "every dial accepted and every action answered, wall <= 1.5x Go's, RSS <= Go's; "
                 "sync: past DRP_PLUGIN_SYNC_THREADS, 503 naming it (BOUND)"}}
    go_bin = os.environ.get(GO_ENV, "")
    with scratch("drp-bench-c-") as tmp, Sink(str(tmp / "from.sock")) as sink:
        built = Built(SLOW)
        built.prepare(tmp)
        runs: dict[str, tuple[list[str], dict[str, str], list[tuple[int, str]]]] = {}
        if built.path is not None:
            runs["built"] = (built.argv(), child_env(tmp, DRP_PLUGIN_LOOP="asyncio"), cases)
        else:
            result["built"] = {"skipped": built.reason}
        source_cases = [c for c in cases if c[0] in (50, 1000)]
        runs["source"] = ([PYTHON, str(SLOW)], child_env(tmp), source_cases)
        if go_bin:
            runs["go"] = ([go_bin], child_env(tmp), [c for c in cases if c[1] == "sync"])
        for label, (argv, env, todo) in runs.items():
            rows: dict[str, Any] = {}
            for i, (n, kind) in enumerate(todo):
                name = f"{label}{i}"
                try:
                    row = _run(argv, tmp, sink, env, n, kind, seconds, name)
                except Exception as exc:
                    row = {"error": f"{type(exc).__name__}: {exc}", "kind": kind}
                rows[f"{n}_{kind}"] = row
            result[label] = rows
    go = result.get("go")
    for label in ("built", "source"):
        for key, row in result.get(label, {}).items():
            if "error" in row or not isinstance(row, dict) or "statuses" not in row:
                continue
            n = int(key.split("_")[0])
            measured = (go or {}).get(f"{n}_sync", {})
            reference = ({"wall_seconds": measured.get("wall_seconds"),
                          "rss_mb": measured.get("rss_peak_mb")} if measured
                         else GO_RECORDED.get(n, {}))
            row["go"] = {**reference, "source": "measured" if measured else "recorded (issue 21)"}
            row["verdict"] = _verdict(n, row, reference) if label == "built" else "-"
    return result
