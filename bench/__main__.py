"""``python -m bench [--quick] [--out FILE] [--only SECTION ...]``: run, print, write JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .report import build_rows, format_table
from .suite import SECTIONS, Plan, run_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, for CI (< 60 s)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="run these sections")
    args = parser.parse_args(argv)

    plan = Plan.make(args.quick)
    results = run_all(plan, args.only, progress=lambda s: print(s, file=sys.stderr, flush=True))
    rows = build_rows(results)
    results["table"] = [r.as_dict() for r in rows]
    load = results["meta"]["machine_before"]["loadavg"]
    print(f"drp-plugin benchmark ({'quick' if plan.quick else 'full'}, "
          f"{results['meta']['machine_before']['cpus']} CPUs, load before {load[0]:.2f}, "
          f"after {results['meta']['machine_after']['loadavg'][0]:.2f}; "
          f"{results['meta']['seconds']:.0f}s)")
    print(format_table(rows))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")
    return 1 if any("error" in s for s in results["sections"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
