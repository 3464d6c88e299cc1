"""``python -m bench.ipmi_rack [--machines 100] [--rounds 3] [--go PATH] [--out FILE]``

Rack scale for ``providers/ipmi``: ``--machines`` simulated BMCs in one OpenIPMI
``ipmi_sim`` (one LAN channel each, on its own loopback UDP port), and for each provider
(ours from source; the Go provider too when ``--go`` or ``DRP_IPMI_GO_BINARY`` names
a built one) one process speaking the plugin protocol: ``/config``, then
``powerstatus`` on every machine at once, then ``poweron`` on every machine at once
(every BMC powered off before), ``--rounds`` times, interleaved Go/ours.  Each wave
is timed from the first request to the last answer; every answer must be Go's text
and every BMC must end powered on (read from the simulator's state files).

Both providers run the same ``ipmitool`` through the same wrapper, which adds
``-C 3`` (Debian's ipmi_sim 2.0.33 ignores ipmitool's cipher-suite query, ~10 s a
call, and has no suite 17); the wrapper's own ``/bin/sh`` start is in both figures.
The Go provider's config needs DRP's ``/info``: a stand-in serves it, with the
``secure-param-upgrade`` feature.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROVIDER = ROOT / "providers" / "ipmi" / "ipmi.py"
WRAPPER = "#!/bin/sh\nexec {ipmitool} -C 3 \"$@\"\n"
EXPECTED = {"powerstatus": "Chassis Power is off\n", "poweron": "Chassis Power Control: Up/On\n"}


async def wave(host: Any, sim: Any, command: str) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=host.to_path),
                                 base_url="http://unix", timeout=600.0,
                                 limits=httpx.Limits(max_connections=1000)) as client:
        async def one(i: int) -> tuple[int, Any, float]:
            started = time.perf_counter()
            body = {"Command": command, "Plugin": "ipmi",
                    "Model": {"Uuid": f"00000000-0000-0000-0000-{i:012d}", "Name": f"m{i}"},
                    "Params": {k: v for k, v in sim.params(i).items()}}
            r = await client.post("/api-plugin/v4/action", content=json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json"})
            return r.status_code, r.json(), time.perf_counter() - started

        started = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(sim.count)))
        elapsed = time.perf_counter() - started
    ok = sum(1 for status, body, _ in results if status == 200 and body == EXPECTED[command])
    latencies = sorted(r[2] for r in results)
    return {"command": command, "seconds": elapsed, "answered": len(results), "ok": ok,
            "p50": latencies[len(latencies) // 2], "max": latencies[-1],
            "bad": [r[:2] for r in results if not (r[0] == 200 and r[1] == EXPECTED[command])][:3]}


async def run_provider(name: str, argv: list[str], env: dict[str, str], sim: Any,
                       drp: Any) -> list[dict[str, Any]]:
    from drp_plugin.testing import PluginHost

    host = PluginHost(argv, env=env, endpoint=drp.endpoint, token=drp.token)
    await host.start(timeout=60)
    try:
        reply = await host.config({})
        if reply.status != 200:
            raise RuntimeError(f"{name}: config answered {reply.status} {reply.body[:300]!r}")
        out = []
        for i in range(sim.count):
            sim.set_power(i, False)
        for command in ("powerstatus", "poweron"):
            result = await wave(host, sim, command)
            result["provider"] = name
            out.append(result)
        on = sum(1 for i in range(sim.count) if sim.state(i)["power"] == "1")
        out[-1]["bmcs_on"] = on
        return out
    finally:
        import httpx

        try:
            await host.stop()
        except httpx.HTTPError:
            pass  # Go's provider closes the connection without an answer to /stop
        try:
            await host.wait(20)
        except (asyncio.TimeoutError, TimeoutError):  # noqa: UP041
            if host.process is not None:
                host.process.kill()
        await host.close_sink()


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from drp_plugin.standin import StandInThread
    from tests.providers_ipmi.simulators import IpmiSim, ipmitool_binary

    parser = argparse.ArgumentParser(prog="python -m bench.ipmi_rack", description=__doc__)
    parser.add_argument("--machines", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--go", default=os.environ.get("DRP_IPMI_GO_BINARY"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    real = ipmitool_binary()
    if real is None or shutil.which("ipmi_sim") is None:
        print("ipmitool and ipmi_sim are needed (Debian packages ipmitool, openipmi)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="ipmi-rack-"))
    bindir = work / "bin"
    bindir.mkdir()
    (bindir / "ipmitool").write_text(WRAPPER.format(ipmitool=real))
    (bindir / "ipmitool").chmod(0o755)
    env = {"PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
           "DRP_IPMI_IPMITOOL": str(bindir / "ipmitool")}
    providers = [("python", [sys.executable, str(PROVIDER)])]
    if args.go:
        providers.insert(0, ("go", [args.go]))
    results: list[dict[str, Any]] = []
    with IpmiSim(work / "sim", count=args.machines) as sim, StandInThread() as drp:
        plain = drp.standin.info
        drp.standin.info = lambda: {**plain(), "features": [*plain()["features"],  # type: ignore[method-assign]
                                                             "secure-param-upgrade"]}
        for rnd in range(args.rounds):
            for name, cmd in providers:
                for r in asyncio.run(run_provider(name, cmd, env, sim, drp)):
                    r["round"] = rnd
                    results.append(r)
                    print(json.dumps(r), file=sys.stderr, flush=True)
    load = os.getloadavg()
    print(f"ipmi rack: {args.machines} machines, {args.rounds} rounds, load {load[0]:.1f}")
    print(f"{'provider':8} {'command':12} {'wave s (min/median/max)':>26} {'ok':>9} {'BMCs on':>8}")
    for name, _ in providers:
        for command in ("powerstatus", "poweron"):
            rows = [r for r in results if r["provider"] == name and r["command"] == command]
            secs = [r["seconds"] for r in rows]
            oks = min(r["ok"] for r in rows)
            on = min((r.get("bmcs_on", args.machines) for r in rows), default=0)
            print(f"{name:8} {command:12} {min(secs):8.2f} {statistics.median(secs):8.2f} "
                  f"{max(secs):8.2f} {oks:>5}/{args.machines} "
                  f"{on if command == 'poweron' else '':>8}")
    if args.out is not None:
        args.out.write_text(json.dumps({"machines": args.machines, "results": results,
                                        "load": load}, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    bad = [r for r in results if r["ok"] != args.machines or r.get("bmcs_on", args.machines)
           != args.machines]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
