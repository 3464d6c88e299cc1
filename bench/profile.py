"""Profile the action path inside a listening provider with py-spy.

``python -m bench.profile [--seconds 10] [--conns 1] [--out FILE]`` starts the
incrementer against the lean log sink, attaches ``py-spy record`` (sampling, all
threads, non-blocking), drives ``incrstatus`` for the given time, and prints:

- samples per thread (event loop vs executor workers);  py-spy runs with
  ``--gil``: only the thread holding the GIL is sampled, so shares are shares
  of the Python CPU time that serializes the process;
- inclusive share of the phases of one action (a sample counts for every phase
  on its stack, so these do not add up to 100 %);
- self time by module and the top functions.

py-spy is in the ``bench`` extra: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .client import run_load
from .servers import Sink
from .util import (
    ACTION_PATH,
    INCREMENTER,
    PROVIDERS,
    PUBLISH_PATH,
    ROOT,
    ProviderProcess,
    action_body,
    cpu_seconds,
    event_body,
    provider_argv,
    scratch,
    summary,
)

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

#: Phases of an action, by a frame on the stack: (label, function regex, file regex).
PHASES: list[tuple[str, str, str]] = [
    ("http1.Parser.next: requests, and DRP's answers to /log", r"Parser\.next$", r"protocol/http1"),
    ("server: run + answer a request (UnixHTTPServer._answer)", r"UnixHTTPServer\._answer$", r""),
    ("dispatch: Router.handle (all of the app)", r"Router\.handle$", r""),
    ("  decode_json of the request body", r"^decode_json$", r""),
    ("  Router._action -> provider.run_action", r"Router\._action$", r""),
    ("  Router._publish -> provider.run_publish", r"Router\._publish$", r""),
    ("  Handler.__call__ (executor hop, event-loop side)", r"Handler\.__call__$", r""),
    ("handler: incrstatus incl. its logging", r"^incrstatus$", r""),
    ("  logging: Logger.info -> the shipper", r"Logger\.(info|_log)$|ProviderLogger\._log$",
     r"logging/|_provider_logger"),
    ("  LogShipper.emit / ship (build + queue the line)", r"LogShipper\.(emit|ship)$", r""),
    ("  call_soon_threadsafe (wake the loop)", r"call_soon_threadsafe$", r""),
    ("executor machinery (ThreadPoolExecutor, futures)", r".", r"concurrent/futures|threading\.py"),
    ("log shipping: LogShipper._run (POST /log)", r"LogShipper\._run$", r""),
    ("  UnixHTTPClient.post_pipelined (write, read answers)",
     r"UnixHTTPClient\.(post|post_pipelined|_exchange|_drain_and_read)$", r""),
    ("asyncio loop: _run_once / selector / callbacks", r"_run_once$|select$|Handle\._run$",
     r"asyncio/|selectors"),
    ("http1 codec (server and client)", r".", r"protocol/http1"),
    ("json (loads + dumps)", r".", r"(^|/)json/"),
    ("logging module", r".", r"(^|/)logging/"),
]


def parse_raw(text: str) -> list[tuple[str, list[tuple[str, str]], int]]:
    """py-spy ``--format raw``: ``thread (id);frame;frame count`` -> (thread, frames, n)."""
    out = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        parts = stack.split(";")
        thread = parts[0] if parts[0].startswith("thread") else ""
        frames = []
        for frame in parts[1 if thread else 0:]:
            m = _FRAME.match(frame)
            frames.append((m["func"], m["file"]) if m else (frame, ""))
        out.append((thread, frames, int(count)))
    return out


def _thread_kind(thread: str, frames: list[tuple[str, str]]) -> str:
    name = thread.partition(": ")[2]
    if name == "MainThread":
        return "event loop (MainThread)"
    if name.startswith("asyncio_") or any("concurrent/futures/thread" in f for _, f in frames):
        return "executor workers (asyncio_N)"
    return name or "unknown"


def analyse(samples: list[tuple[str, list[tuple[str, str]], int]]) -> dict[str, Any]:
    total = sum(n for _, _, n in samples) or 1
    threads: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    compiled = [(label, re.compile(fn), re.compile(fl)) for label, fn, fl in PHASES]
    for thread, frames, n in samples:
        threads[_thread_kind(thread, frames)] += n
        for label, fn, fl in compiled:
            if any(fn.search(func) and fl.search(file) for func, file in frames):
                phases[label] += n
        if frames:
            func, file = frames[-1]
            modules[_module(file)] += n
            functions[f"{func} ({file})"] += n
    pct = lambda n: round(100 * n / total, 1)  # noqa: E731
    return {
        "samples": total,
        "threads_pct": {k: pct(v) for k, v in threads.most_common()},
        "phases_pct": {label: pct(phases[label]) for label, _, _ in PHASES},
        "self_by_module_pct": {k: pct(v) for k, v in modules.most_common(15)},
        "top_self_functions_pct": {k: pct(v) for k, v in functions.most_common(25)},
    }


def _module(file: str) -> str:
    if not file:
        return "(native / unknown)"
    for marker in ("drp_plugin/", "h11/", "asyncio/", "json/", "logging/", "concurrent/"):
        i = file.find(marker)
        if i >= 0:
            rest = file[i:]
            return rest if marker == "drp_plugin/" else marker.rstrip("/")
    return file.rsplit("/", 1)[-1]


def format_report(result: dict[str, Any]) -> str:
    lines = [f"py-spy: {result['samples']} samples of non-idle threads, "
             f"{result['actions']} actions in {result['seconds']}s over {result['conns']} conn(s); "
             f"provider CPU {result['provider_cpu_us_per_action']} us/action"]
    for title, key in (("threads", "threads_pct"), ("phases (inclusive)", "phases_pct"),
                       ("self time by module", "self_by_module_pct"),
                       ("top functions (self)", "top_self_functions_pct")):
        lines.append(f"\n{title}:")
        lines.extend(f"  {v:5.1f}%  {k}" for k, v in result[key].items())
    return "\n".join(lines)


def profile(seconds: float, conns: int, rate: int, raw_out: Path | None,
            gil: bool = True, publish: bool = False) -> dict[str, Any]:
    spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    if publish:  # events into publish_counter's async handler, as the events section does
        script, path, body = PROVIDERS / "publish_counter.py", PUBLISH_PATH, event_body()
    else:
        script, path = INCREMENTER, ACTION_PATH
        body = json.dumps(action_body("incrstatus")).encode()
    with scratch() as tmp, Sink(str(tmp / "from.sock")) as sink:
        prov = ProviderProcess(provider_argv(script), tmp, sink.path)
        prov.start()
        try:
            prov.config()
            run_load(prov.to_path, path, body, conns=conns, total=500)  # warm up
            raw = raw_out or tmp / "spy.txt"
            extra = ["--gil"] if gil else ["--idle"]
            rec = subprocess.Popen([spy, "record", "--pid", str(prov.pid), "--rate", str(rate),
                                    "--format", "raw", "--threads", *extra,
                                    "--duration", str(int(seconds) + 1), "-o", str(raw)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.5)
            cpu0 = cpu_seconds(prov.pid)
            res = run_load(prov.to_path, path, body, conns=conns, duration=seconds)
            cpu = cpu_seconds(prov.pid) - cpu0
            _, err = rec.communicate(timeout=seconds + 60)
            if rec.returncode != 0:
                raise SystemExit(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
            result = analyse(parse_raw(raw.read_text()))
        finally:
            prov.stop()
    result.update({"conns": conns, "seconds": seconds, "actions": res.requests,
                   "provider_cpu_us_per_action": round(cpu * 1e6 / max(res.requests, 1), 1)})
    return result


VARIANTS = ("status-sync", "status-async", "status-sync-quiet", "status-async-quiet")


def ablation(count: int, reps: int) -> dict[str, Any]:
    """CPU per action of the four ``incrstatus`` variants and of the floor (1 conn)."""
    from .servers import Floor, RawFloor
    from .suite import _floor_run, _provider_run

    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in (*VARIANTS, "floor", "floor-no-h11")}
    with scratch() as tmp, Sink(str(tmp / "from.sock")) as sink, \
            Floor(str(tmp / "floor.sock")) as floor, RawFloor(str(tmp / "raw.sock")) as raw:
        prov = ProviderProcess(provider_argv(PROVIDERS / "variants.py"), tmp, sink.path)
        prov.start()
        try:
            prov.config()
            sink.settle()
            bodies = {v: json.dumps(action_body(v)).encode() for v in VARIANTS}
            for v in VARIANTS:  # warm up every path
                _provider_run(prov, sink, bodies[v], 1, 300, lines_per=0 if "quiet" in v else 1)
            for _ in range(reps):
                for v in VARIANTS:
                    runs[v].append(_provider_run(prov, sink, bodies[v], 1, count,
                                                 lines_per=0 if "quiet" in v else 1))
                runs["floor"].append(_floor_run(floor, bodies[VARIANTS[0]], 1, count))
                runs["floor-no-h11"].append(_floor_run(raw, bodies[VARIANTS[0]], 1, count))
        finally:
            prov.stop()
    out: dict[str, Any] = {}
    for v, rs in runs.items():
        cpu_key = "cpu_us_per_request" if v.startswith("floor") else "provider_cpu_us_per_action"
        out[v] = {"cpu_us": summary([r[cpu_key] for r in rs])["median"],
                  "p50_ms": summary([r["p50_ms"] for r in rs])["median"],
                  "responses_per_s": summary([r["responses_per_s"] for r in rs])["median"],
                  "lines_per_action": summary([r.get("lines_per_action", 0) for r in rs])["median"]}
    return out


def format_ablation(result: dict[str, Any]) -> str:
    lines = ["ablation, 1 conn (medians):",
             f"  {'variant':20s} {'CPU us/action':>14s} {'p50 ms':>8s} {'resp/s':>8s} {'lines':>6s}"]
    for v, r in result.items():
        lines.append(f"  {v:20s} {r['cpu_us']:14.0f} {r['p50_ms']:8.3f} "
                     f"{r['responses_per_s']:8.0f} {r['lines_per_action']:6.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--conns", type=int, default=1)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--no-gil", action="store_true",
                        help="sample all threads (idle included) instead of the GIL holder")
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw (collapsed) stacks here")
    parser.add_argument("--out", type=Path, help="write the analysis as JSON here")
    parser.add_argument("--publish", action="store_true",
                        help="profile POST /publish into publish_counter instead of incrstatus")
    parser.add_argument("--ablation", action="store_true",
                        help="also measure CPU/action of sync/async x log/no-log variants")
    args = parser.parse_args(argv)
    result = profile(args.seconds, args.conns, args.rate, args.raw, not args.no_gil,
                     args.publish)
    print(format_report(result))
    if args.ablation:
        result["ablation"] = ablation(3000, 3)
        print("\n" + format_ablation(result["ablation"]))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
