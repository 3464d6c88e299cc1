"""The results table: metric, min/median/max, target, pass/fail, Go reference."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Row:
    metric: str
    unit: str
    min: float | None = None
    median: float | None = None
    max: float | None = None
    target: str = ""
    verdict: str = ""  # PASS, FAIL, SKIP, ERROR or "" (no target)
    reference: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _stats(s: dict[str, Any] | None) -> tuple[float | None, float | None, float | None]:
    if not s:
        return None, None, None
    return s.get("min"), s.get("median"), s.get("max")


def _median(s: dict[str, Any] | None) -> float | None:
    return s.get("median") if s else None


def _check(value: float | None, ok: Callable[[float], bool]) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "FAIL"
    return "PASS" if ok(value) else "FAIL"


def build_rows(results: dict[str, Any]) -> list[Row]:
    sec = results.get("sections", {})
    rows: list[Row] = []

    def err(name: str) -> bool:
        s = sec.get(name)
        if s is None:
            return True
        if "error" in s:
            rows.append(Row(f"{name}: section failed", "", verdict="ERROR", note=s["error"][:120]))
            return True
        return False

    if not err("define"):
        d = sec["define"]
        rows.append(Row("define floor: python -c pass", "ms", *_stats(d["floor"])))
        rows.append(Row("define floor: python -I -c pass", "ms", *_stats(d.get("floor_isolated"))))
        rows.append(Row("define from source (incrementer.py)", "ms", *_stats(d["source"]),
                        reference="~4 ms"))
        rows.append(Row("define from source / python -I -c pass", "x", *_stats(d.get("ratio_source")),
                        "" if "ratio_built" in d else "<= 1.3",
                        "" if "ratio_built" in d else
                        _check(_median(d.get("ratio_source")), lambda v: v <= 1.3)))
        if "skipped" in d["built"]:
            rows.append(Row("define of built file", "ms", target="<= 1.3x python3 -I -c pass",
                            verdict="SKIP", reference="~4 ms", note=d["built"]["skipped"]))
        else:
            if "floor_system" in d:
                rows.append(Row("define floor: system python3 -I -c pass", "ms",
                                *_stats(d.get("floor_system_isolated"))))
            rows.append(Row("define of built file, executed as DRP does", "ms",
                            *_stats(d["built"]), reference="~4 ms",
                            note=f"run as: {d['built']['command']}"))
            rows.append(Row("define of built file / python3 -I -c pass", "x",
                            *_stats(d.get("ratio_built")), "<= 1.3",
                            _check(_median(d.get("ratio_built")), lambda v: v <= 1.3)))
            if "built_python" in d:
                rows.append(Row("define of built file through python3", "ms",
                                *_stats(d["built_python"]),
                                note=f"run as: {d['built_python']['command']}"))
                rows.append(Row("  ... / python3 -I -c pass", "x",
                                *_stats(d.get("ratio_built_python"))))

    if not err("spawn"):
        s = sec["spawn"]
        rows.append(Row("spawn floor: python prints READY!", "ms", *_stats(s["floor_ms"])))
        rows.append(Row("spawn floor: python -I -c 'import asyncio'", "ms",
                        *_stats(s.get("floor_asyncio_source_ms"))))
        rows.append(Row("spawn to READY! (listen)", "ms", *_stats(s["ready_ms"]), reference="~6 ms"))
        rows.append(Row("spawn to READY! / import asyncio", "x", *_stats(s.get("ratio_source")),
                        "<= 1.25", _check(_median(s.get("ratio_source")), lambda v: v <= 1.25)))
        if "ratio_source_asyncio" in s:
            rows.append(Row("spawn to READY! (source, DRP_PLUGIN_LOOP=asyncio)", "ms",
                            *_stats(s["ready_source_asyncio_ms"])))
            rows.append(Row("  ... / import asyncio", "x", *_stats(s["ratio_source_asyncio"])))
        if "skipped" not in s["ready_built_ms"]:
            rows.append(Row("spawn floor: python3 -I -c 'import asyncio' (built's python)", "ms",
                            *_stats(s.get("floor_asyncio_built_ms"))))
            rows.append(Row("spawn to READY! (built file)", "ms", *_stats(s["ready_built_ms"]),
                            reference="~6 ms"))
            rows.append(Row("spawn to READY! (built) / import asyncio", "x",
                            *_stats(s.get("ratio_built")), "<= 1.25",
                            _check(_median(s.get("ratio_built")), lambda v: v <= 1.25)))
        rows.append(Row("RSS after READY!", "MB", *_stats(s["rss_ready_mb"])))
        rows.append(Row("RSS after config", "MB", *_stats(s["rss_config_mb"])))

    if not err("actions"):
        a = sec["actions"]
        go = a.get("go", {})
        for conns in (1, 4):
            p, f = a[f"provider_{conns}"], a[f"floor_{conns}"]
            frac = a[f"fraction_of_floor_{conns}"]
            go_per_s = go.get(f"per_s_{conns}", {})
            go_ref = go_per_s.get("max" if go.get("source", "").startswith("recorded") else "median")
            ref = (f"{go_per_s.get('min', 0):,.0f}-{go_per_s.get('max', 0):,.0f}/s "
                   f"({go.get('source', 'recorded')})") if go_per_s else ""
            if go_ref:
                target = f">= 2x Go = {2 * go_ref:,.0f}"
                median = p["per_s"]["median"]
                verdict = "FAIL" if median is None else (
                    "PASS" if median >= 2 * float(go_ref) else "FAIL")
            else:
                target, verdict = "", ""
            rows.append(Row(f"actions {conns} conn, log-complete", "/s", *_stats(p["per_s"]),
                            target, verdict, ref))
            b = a.get(f"built_{conns}")
            if b is not None:
                built_median = b["per_s"]["median"]
                rows.append(Row(f"actions {conns} conn, log-complete, built file (asyncio)", "/s",
                                *_stats(b["per_s"]), target, "" if not go_ref else (
                                    "PASS" if built_median is not None
                                    and built_median >= 2 * float(go_ref) else "FAIL"), ref))
                blpa = b["lines_per_action"]
                rows.append(Row(f"actions {conns} conn, built file: log lines/action", "",
                                *_stats(blpa), "= 1 in every run",
                                "PASS" if blpa["min"] == blpa["max"] == 1 else "FAIL"))
                rows.append(Row(f"actions {conns} conn, built file: p99", "ms", *_stats(b["p99_ms"])))
            rows.append(Row(f"actions {conns} conn, responses only", "/s",
                            *_stats(p["responses_per_s"])))
            lpa = p["lines_per_action"]
            rows.append(Row(f"actions {conns} conn, log lines/action", "",
                            *_stats(lpa), "= 1 in every run",
                            "PASS" if lpa["min"] == lpa["max"] == 1 else "FAIL"))
            rows.append(Row(f"actions {conns} conn, p50", "ms", *_stats(p["p50_ms"])))
            rows.append(Row(f"actions {conns} conn, p99", "ms", *_stats(p["p99_ms"]),
                            "<= 1" if conns == 1 else "",
                            _check(p["p99_ms"]["median"], lambda v: v <= 1.0) if conns == 1 else "",
                            "0.92 ms" if conns == 1 else ""))
            rows.append(Row(f"actions {conns} conn, provider CPU/action", "us",
                            *_stats(p["provider_cpu_us_per_action"])))
            rows.append(Row(f"actions {conns} conn, sink CPU/log line", "us",
                            *_stats(p["sink_cpu_us_per_line"])))
            rows.append(Row(f"floor {conns} conn (asyncio+h11)", "/s", *_stats(f["per_s"])))
            rows.append(Row(f"floor {conns} conn, CPU/request", "us", *_stats(f["cpu_us_per_request"])))
            rows.append(Row(f"floor {conns} conn, p99", "ms", *_stats(f["p99_ms"])))
            scaled = {k: (v * 100 if isinstance(v, float) else v) for k, v in frac.items()}
            rows.append(Row(f"actions {conns} conn / floor", "%", *_stats(scaled)))
            errors = p["errors"]["max"]
            if errors:
                rows.append(Row(f"actions {conns} conn, errors", "", *_stats(p["errors"]),
                                "0", "FAIL", note=next((r["first_error"] for r in p["runs"]
                                                        if r["first_error"]), "")))

    if not err("events"):
        e = sec["events"]
        loop = e.get("loop", "asyncio")
        for variant in ("async", "async_asyncio", "sync"):
            v = e.get(variant)
            if v is None:
                continue  # asyncio is the default loop here: no second asyncio run
            name = ("async handler, DRP_PLUGIN_LOOP=asyncio" if variant == "async_asyncio"
                    else f"{variant} handler, {loop} (default)")
            timed = variant.startswith("async")
            rows.append(Row(f"events 4 conn, {name}", "/s", *_stats(v["responses_per_s"]),
                            ">= 20,000" if timed else "",
                            _check(v["responses_per_s"]["median"], lambda x: x >= 20000)
                            if timed else ""))
            rows.append(Row(f"events {variant}: provider CPU/event", "us",
                            *_stats(v["provider_cpu_us_per_event"])))
            rows.append(Row(f"events {variant}: lost", "", v["lost_total"], v["lost_total"],
                            v["lost_total"], "0", "PASS" if v["lost_total"] == 0 else "FAIL"))
            rows.append(Row(f"events {variant}: RSS after", "MB", v["rss_after_mb"],
                            v["rss_after_mb"], v["rss_after_mb"]))
        ws = e["websocket"]
        if "skipped" in ws:
            rows.append(Row("events via websocket (stand-in)", "/s", verdict="SKIP",
                            note=ws["skipped"]))
        else:
            rows.append(Row("events via websocket, stand-in -> handler", "/s",
                            *_stats(ws["per_s"])))
            rows.append(Row("events websocket: lost", "", ws["lost_total"], ws["lost_total"],
                            ws["lost_total"], "0", "PASS" if ws["lost_total"] == 0 else "FAIL"))
            rows.append(Row("events websocket: provider RSS after", "MB", ws["rss_after_mb"],
                            ws["rss_after_mb"], ws["rss_after_mb"]))

    if not err("rss"):
        r = sec["rss"]
        secs = r["seconds"]
        for conns, phase in sorted(r.get("phases", {}).items()):
            rows.append(Row(f"{secs:g}s on {conns} conn: actions/s, log-complete", "/s",
                            phase["per_s"], phase["per_s"], phase["per_s"]))
            rows.append(Row(f"{secs:g}s on {conns} conn: lines emitted / not delivered", "",
                            phase["emitted"], phase["not_delivered"], phase["not_delivered"],
                            "0 not delivered",
                            "PASS" if phase["not_delivered"] == 0 and phase["emitted"] else "FAIL"))
        rows.append(Row(f"RSS peak, {secs:g}s on 1 then {secs:g}s on 4 conn", "MB",
                        r["peak_mb"], r["peak_mb"], r["peak_mb"], "<= 40",
                        _check(r["peak_mb"], lambda v: v <= 40), "~17 MB"))
        rows.append(Row("RSS steady (2nd half of run)", "MB", *_stats(r["steady_mb"])))
        rows.append(Row("RSS growth (last third - first third)", "MB", r["growth_mb"],
                        r["growth_mb"], r["growth_mb"], "flat: <= 1",
                        _check(r["growth_mb"], lambda v: v <= 1.0)))
        rows.append(Row("RSS after run, log queue drained", "MB", r["after_mb"], r["after_mb"],
                        r["after_mb"]))

    if not err("concurrency"):
        c = sec["concurrency"]
        for label in ("built", "source"):
            for key, row in (c.get(label) or {}).items():
                if not isinstance(row, dict) or "statuses" not in row:
                    if isinstance(row, dict) and "error" in row:
                        rows.append(Row(f"{label} {key}: run failed", "", verdict="ERROR",
                                        note=row["error"][:120]))
                    continue
                n, kind = key.split("_")
                ok = row["statuses"].get("200", 0)
                others = {k: v for k, v in row["statuses"].items() if k != "200"}
                refused = sum(row["refused_dials"].values())
                go = row.get("go", {})
                go_ref = (f"{go['wall_seconds']:g} s" if go.get("wall_seconds") else "") + \
                    (f", {go['rss_mb']:g} MB" if go.get("rss_mb") else "")
                target = {"1000": "all 200, <= 1.5 s, <= 128 MB",
                          "10000": "all answered, <= 1.5x Go, RSS <= Go"}.get(n, "")
                note = (f"{ok} answered 200" + (f", {others}" if others else "") +
                        (f", {refused} dials refused" if refused else "") +
                        f", {row['log_lines']} log lines, p50 {row['p50_ms']} ms, "
                        f"{row['threads_peak']} threads")
                rows.append(Row(f"{label}: {n} x {kind} 1 s actions at once, wall", "s",
                                row["wall_seconds"], row["wall_seconds"], row["wall_seconds"],
                                target if label == "built" else "", row.get("verdict", "-")
                                if label == "built" and target else "", go_ref, note))
                rows.append(Row(f"{label}: {n} x {kind}: peak RSS", "MB", row["rss_peak_mb"],
                                row["rss_peak_mb"], row["rss_peak_mb"]))

    if not err("growth"):
        g = sec["growth"]
        for n, v in g["actions"].items():
            rows.append(Row(f"latency, {n} registered action(s): p50", "ms", *_stats(v["p50_ms"])))
            rows.append(Row(f"latency, {n} registered action(s): p99", "ms", *_stats(v["p99_ms"])))
            rows.append(Row(f"{n} registered action(s): provider CPU/action", "us",
                            *_stats(v["provider_cpu_us_per_action"])))
        for label, v in g["bodies"].items():
            rows.append(Row(f"latency, {label} machine in body: p50", "ms", *_stats(v["p50_ms"])))
            rows.append(Row(f"latency, {label} machine in body: p99", "ms", *_stats(v["p99_ms"])))
            rows.append(Row(f"{label} machine in body: provider CPU/action", "us",
                            *_stats(v["provider_cpu_us_per_action"])))
            lpa = v["lines_per_action"]
            if not lpa["min"] == lpa["max"] == 1:
                rows.append(Row(f"{label} body: log lines/action", "", *_stats(lpa), "= 1", "FAIL"))
    return rows


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if unit == "/s":
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if value else "0"


def format_table(rows: list[Row]) -> str:
    header = ("metric", "unit", "min", "median", "max", "target", "result", "Go ref")
    body = [(r.metric, r.unit, _fmt(r.min, r.unit), _fmt(r.median, r.unit), _fmt(r.max, r.unit),
             r.target, r.verdict, r.reference) for r in rows]
    widths = [max(len(str(x[i])) for x in [header, *body]) for i in range(len(header))]
    lines = []
    for n, row in enumerate([header, *body]):
        cells = [str(c).ljust(w) if i in (0, 1, 5, 6, 7) else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  * {r.metric}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + ([""] + notes if notes else []))
