"""Interleaved A/B of source trees: ``python -m bench.ab WORKLOAD NAME=SRC [NAME=SRC ...]``.

On a machine whose speed drifts from minute to minute, two runs taken one after the
other compare the minutes, not the code.  This starts one provider per source tree
(``PYTHONPATH=<SRC>``, like ``DRP_PLUGIN_BENCH_SRC``), each once, then sends short
runs to each in turn for several rounds, so every tree sees the same drift.  It
prints, per tree, the highest and the median throughput and the lowest and the
median provider CPU per request (from ``/proc``).  For actions every log line is
waited for before the next run.

Workloads: ``publish`` (POST /publish into ``providers/publish_counter.py``),
``action`` (``incrstatus`` of the incrementer).  Example, a change against main::

    git worktree add /tmp/main-tree main
    python -m bench.ab publish --conns 4 base=/tmp/main-tree/src new=src
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from .client import run_load
from .servers import Sink
from .suite import _started
from .util import (
    ACTION_PATH,
    INCREMENTER,
    PROVIDERS,
    PUBLISH_PATH,
    ProviderProcess,
    action_body,
    child_env,
    cpu_seconds,
    event_body,
    provider_argv,
    scratch,
)


def compare(workload: str, trees: dict[str, str], conns: int, rounds: int,
            requests: int) -> dict[str, dict[str, list[float]]]:
    """Per tree: the throughput (/s) and provider CPU per request (us) of each round."""
    if workload == "publish":
        script, path, body = PROVIDERS / "publish_counter.py", PUBLISH_PATH, event_body()
    else:
        script, path = INCREMENTER, ACTION_PATH
        body = json.dumps(action_body("incrstatus")).encode()
    out: dict[str, dict[str, list[float]]] = {name: {"rate": [], "cpu": []} for name in trees}
    with scratch() as tmp:
        sinks: dict[str, Sink] = {}
        provs: dict[str, ProviderProcess] = {}
        try:
            for name, src in trees.items():
                sinks[name] = Sink(str(tmp / f"{name}-from.sock")).start()
                env = child_env(tmp)
                env["PYTHONPATH"] = src
                provs[name] = _started(ProviderProcess(provider_argv(script), tmp,
                                                       sinks[name].path, env,
                                                       to_name=f"{name}.sock"))
                run_load(provs[name].to_path, path, body, conns=conns, total=2000)  # warm up
            for _ in range(rounds):
                for name, prov in provs.items():
                    sink = sinks[name]
                    lines = sink.lines
                    cpu0 = cpu_seconds(prov.pid)
                    result = run_load(prov.to_path, path, body, conns=conns, total=requests)
                    if workload == "action":
                        sink.wait_lines(lines + requests)
                    cpu = cpu_seconds(prov.pid) - cpu0
                    out[name]["rate"].append(result.requests / result.seconds)
                    out[name]["cpu"].append(cpu * 1e6 / requests)
        finally:
            for prov in provs.values():
                prov.stop()
            for sink in sinks.values():
                sink.close()
    return out


def report(workload: str, conns: int, rounds: int, requests: int,
           result: dict[str, dict[str, list[float]]]) -> str:
    lines = [f"{workload}, {conns} connection(s), {rounds} rounds of {requests} requests:"]
    width = max(len(name) for name in result)
    for name, runs in result.items():
        rate, cpu = runs["rate"], runs["cpu"]
        lines.append(f"  {name:{width}s}  /s max {max(rate):8,.0f}  median {statistics.median(rate):8,.0f}"
                     f"   CPU/request min {min(cpu):6.1f}  median {statistics.median(cpu):6.1f} us")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=["publish", "action"])
    parser.add_argument("trees", nargs="+", metavar="NAME=SRC",
                        help="a name and the source folder whose drp_plugin to run")
    parser.add_argument("--conns", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=5000, help="requests per run")
    args = parser.parse_args(argv)
    trees: dict[str, Any] = {}
    for item in args.trees:
        name, sep, src = item.partition("=")
        if not sep or not name or not src:
            parser.error(f"{item!r} is not NAME=SRC")
        trees[name] = str(Path(src).resolve())
    result = compare(args.workload, trees, args.conns, args.rounds, args.requests)
    print(report(args.workload, args.conns, args.rounds, args.requests, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
