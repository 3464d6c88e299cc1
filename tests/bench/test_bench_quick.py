"""The benchmark suite's quick mode runs end to end and loses nothing (no timing asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SECTIONS = {"define", "spawn", "actions", "events", "rss", "growth", "concurrency"}


@pytest.mark.slow
def test_quick_benchmark_writes_complete_json(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "metric" in done.stdout and "median" in done.stdout
    results = json.loads(out.read_text())
    sections = results["sections"]
    assert set(sections) == SECTIONS
    for name, section in sections.items():
        assert "error" not in section, (name, section.get("traceback"))
    assert results["table"], "no table rows"

    define = sections["define"]
    assert define["source"]["n"] == results["meta"]["plan"]["define_reps"]
    assert "skipped" in define["built"] or define["built"]["n"] > 0

    actions = sections["actions"]
    for name in ("provider_1", "provider_4"):
        for run in actions[name]["runs"]:
            assert run["errors"] == 0, run
            assert run["requests"] > 0
            assert run["log_lines"] == run["requests"], run  # every log line reached the sink
    for name in ("floor_1", "floor_4"):
        assert all(r["errors"] == 0 and r["requests"] > 0 for r in actions[name]["runs"])

    events = sections["events"]
    # uvloop is in the dev extra: the default loop is uvloop, and asyncio's is measured too
    assert (events["loop"] == "uvloop") is ("async_asyncio" in events)
    for variant in ("async", "async_asyncio", "sync"):
        if variant not in events:
            continue
        assert events[variant]["lost_total"] == 0
        assert all(r["errors"] == 0 and r["handled"] == r["sent"] for r in events[variant]["runs"])
    ws = events["websocket"]
    assert "skipped" in ws or ws["lost_total"] == 0

    concurrency = sections["concurrency"]
    for label in ("built", "source"):
        for key, row in concurrency.get(label, {}).items():
            if not isinstance(row, dict) or "skipped" in row:
                continue
            n = int(key.split("_")[0])
            assert "error" not in row, row
            # every action answered 200 and its log line delivered; no dial refused
            assert row["statuses"] == {"200": n}, row
            assert row["log_lines"] == n and not row["refused_dials"], row
    assert concurrency["source"], "the source tree's runs are missing"

    rss = sections["rss"]
    assert rss["errors"] == 0 and rss["actions"] > 0
    assert rss["peak_mb"] > 0
    assert set(rss["phases"]) == {"1", "4"}
    for phase in rss["phases"].values():
        assert phase["samples"] and phase["emitted"] > 0
        assert phase["not_delivered"] == 0, phase  # every log line reached the sink
    assert sections["spawn"]["ratio_source"]["n"] > 0
    assert sections["define"]["ratio_source"]["n"] > 0
    assert "per_s_1" in actions["go"] and "per_s_4" in actions["go"]

    growth = sections["growth"]
    assert set(growth["actions"]) == {"1", "10", "100"}
    assert set(growth["bodies"]) == {"1KB", "100KB", "1MB"}
    for group in (growth["actions"], growth["bodies"]):
        for entry in group.values():
            for run in entry["runs"]:
                assert run["errors"] == 0, run
                assert run["log_lines"] == run["requests"], run
