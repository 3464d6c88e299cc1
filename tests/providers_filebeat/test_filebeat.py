"""filebeat end to end: the provider under the DRP stand-in, real files and a real TCP peer.

Events come from the stand-in's REST API (``POST /events``, machine creates and
updates); what arrives at the file or the peer is compared with the order the
stand-in published them in.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from drp_plugin.errors import PluginError
from drp_plugin.standin import StandInThread
from drp_plugin.testing.fixtures import ProviderUnderTest, StandInClient
from tests.helpers import build_and_define, define_silently

from .peer import LinePeer

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = ROOT / "providers" / "filebeat" / "filebeat.py"
PY = sys.executable
Params = dict[str, Any]


@pytest.fixture
def peer() -> Iterator[LinePeer]:
    p = LinePeer(rcvbuf=4096)
    yield p
    p.close()


def post_events(drp: StandInThread, keys: range, threads: int = 4, kind: str = "fbtest") -> None:
    """Publish one event per key through the REST API, from a few clients at once."""
    clients = [StandInClient(drp) for _ in range(threads)]

    def work(n: int) -> None:
        for i in keys[n::threads]:
            clients[n].request("POST", "/events", {"Type": kind, "Action": "tick",
                                                   "Key": str(i), "Object": {"n": i}})

    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(threads)))
    finally:
        for client in clients:
            client.close()


def published(drp: StandInThread, kind: str = "fbtest") -> list[str]:
    """Keys of the events of type ``kind``, in the order the stand-in published them."""
    return [e["Key"] for e in drp.events if e.get("Type") == kind]


def keys_of(lines: list[bytes], kind: str = "fbtest") -> list[str]:
    found = []
    for line in lines:
        event = json.loads(line)
        if event["Type"] == kind:
            found.append(event["Key"])
    return found


def file_lines(*paths: Path) -> list[bytes]:
    lines: list[bytes] = []
    for path in paths:
        if path.exists():
            lines.extend(path.read_bytes().splitlines(keepends=True))
    return lines


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


def start_filebeat(drp_standin: StandInThread, drp_provider: Callable[..., ProviderUnderTest],
                   params: Params, source: Path = PROVIDER) -> ProviderUnderTest:
    """Install the provider with a Plugin already holding ``params``: its AutoStart would
    otherwise run it first with the defaults (writing to /var/log/filebeat-plugin)."""
    drp_standin.create_plugin("filebeat", "filebeat", params, check=False)
    return drp_provider(source, params=params)


def reconfigure(plugin: ProviderUnderTest, params: Params) -> None:
    """A second /config to the running process (DRP may send one; the stand-in restarts
    plugins on param changes, so its process is called directly)."""
    running = plugin.drp.standin.providers.running[plugin.plugin_name]
    plugin.drp.call(running.process.config, {**params, "Name": plugin.plugin_name})


def file_params(path: Path, spool: Path, events: list[str] | None = None) -> Params:
    return {"filebeat/mode": "file", "filebeat/path": str(path),
            "filebeat/events": events or ["fbtest.*.*"], "filebeat/spool-dir": str(spool)}


def tcp_params(port: int, spool: Path, **more: Any) -> Params:
    return {"filebeat/mode": "tcp", "filebeat/tcp": f"127.0.0.1:{port}",
            "filebeat/events": ["fbtest.*.*"], "filebeat/spool-dir": str(spool), **more}


def check_at_least_once_in_order(connections: list[list[bytes]], expected: list[str]) -> int:
    """Every expected key arrived, in order; a connection may repeat the end of the one
    before (resent after the break) but never skips.  Returns the number of repeats."""
    position = {key: i for i, key in enumerate(expected)}
    next_new, repeats = 0, 0
    for lines in connections:
        keys = keys_of(lines)
        if not keys:
            continue
        indexes = [position[k] for k in keys]
        assert indexes == list(range(indexes[0], indexes[0] + len(indexes))), \
            "a connection skipped or reordered events"
        assert indexes[0] <= next_new, f"events {next_new}..{indexes[0] - 1} were lost"
        repeats += max(0, next_new - indexes[0])
        next_new = max(next_new, indexes[-1] + 1)
    assert next_new == len(expected), f"only {next_new} of {len(expected)} events arrived"
    return repeats


# -- definition and content ----------------------------------------------------------------------

def _define() -> dict[str, Any]:
    return define_silently([PY, str(PROVIDER)])


def test_define_from_source_is_json_and_silent() -> None:
    definition = _define()
    assert definition["Name"] == "filebeat"
    assert definition["AutoStart"] is True
    assert definition["HasPublish"] is False
    assert definition["AvailableActions"] == []
    assert definition["RequiredParams"] == ["filebeat/events"]
    assert definition["OptionalParams"][:3] == ["filebeat/path", "filebeat/mode", "filebeat/tcp"]
    sections = yaml.safe_load(definition["Content"])["sections"]
    assert sections["params"]["filebeat/events"]["Schema"]["default"] == ["*.*.*"]
    assert sections["params"]["filebeat/mode"]["Schema"]["enum"] == ["file", "tcp"]
    assert sections["params"]["filebeat/path"]["Schema"]["default"] == \
        "/var/log/filebeat-plugin/json.log"
    assert sections["params"]["filebeat/tcp"]["Schema"]["default"] == "127.0.0.1:9000"
    assert sections["profiles"]["bootstrap-filebeat"]["Params"]["filebeat/mode"] == "tcp"
    assert [t["Name"] for t in sections["tasks"]["filebeat-setup"]["Templates"]] == [
        "filebeat-install.sh", "filebeat.yml", "filebeat-start.sh"]


@pytest.mark.slow
def test_params_are_installed(drp_provider: Callable[..., ProviderUnderTest],
                              drp_standin: StandInThread, drp_client: StandInClient,
                              tmp_path: Path) -> None:
    start_filebeat(drp_standin, drp_provider,
                   file_params(tmp_path / "out.json", tmp_path / "spool"))
    for name in ("filebeat/events", "filebeat/mode", "filebeat/path", "filebeat/tcp",
                 "filebeat/elasticsearch", "filebeat/queue-size", "filebeat/spool-dir",
                 "filebeat/spool-max-bytes"):
        param = drp_client.get("params", name)
        assert "default" in param["Schema"], name
        assert param["Documentation"], name


# -- file mode ---------------------------------------------------------------------------------------

def test_file_mode_filters_machine_events(drp_provider: Callable[..., ProviderUnderTest],
                                          drp_standin: StandInThread,
                                          drp_client: StandInClient, tmp_path: Path) -> None:
    out = tmp_path / "logs" / "fb.json"
    start_filebeat(drp_standin, drp_provider, file_params(out, tmp_path / "spool",
                                              ["machines.*.*", "profiles.*.*"]))
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    big = {"cpus": [{"model": "x" * 100}] * 50}
    machine = drp_client.create_machine("m1", params={"gohai-inventory": big, "keep": 1},
                                        OS="centos-8")
    drp_client.patch("machines", machine["Uuid"], [{"op": "replace", "path": "/OS",
                                                    "value": "alma-9"}])
    drp_client.create_machine("m2")  # no gohai-inventory: the Go provider adds it, empty
    drp_client.create_profile("p1", params={"gohai-inventory": big})
    wait_until(lambda: len(file_lines(out)) >= 4, 20, "four events in the file")
    events = [json.loads(line) for line in file_lines(out)]
    assert [(e["Type"], e["Action"]) for e in events] == [
        ("machines", "create"), ("machines", "update"), ("machines", "create"),
        ("profiles", "create")]
    for event in events:
        assert sorted(event) == ["Action", "Key", "Object", "Original", "Principal", "Time",
                                 "Type"]
    created, updated, plain, profile = events
    assert created["Object"]["Params"] == {"gohai-inventory": {}, "keep": 1}
    assert created["Object"]["MachineOS"] == "centos-8" and "OS" not in created["Object"]
    # Go's filter decodes a machine event's Original into a map: null is written {}
    # (cmds/filebeat/filebeat.go, Plugin.filter)
    assert created["Original"] == {}
    assert updated["Object"]["MachineOS"] == "alma-9"
    assert updated["Original"]["MachineOS"] == "centos-8" and "OS" not in updated["Original"]
    assert updated["Original"]["Params"]["gohai-inventory"] == {}
    assert plain["Object"]["Params"] == {"gohai-inventory": {}}
    assert profile["Object"]["Params"] == {"gohai-inventory": big}  # machines only
    assert created["Principal"] == "rocketskates"


@pytest.mark.slow
def test_file_mode_survives_rotation(drp_provider: Callable[..., ProviderUnderTest],
                                     drp_standin: StandInThread, tmp_path: Path) -> None:
    out = tmp_path / "logs" / "fb.json"
    start_filebeat(drp_standin, drp_provider, file_params(out, tmp_path / "spool"))
    rotated = [tmp_path / "logs" / "fb.json.1", tmp_path / "logs" / "fb.json.2"]
    rotations: list[int] = []

    def rotate() -> None:
        # Move the file away twice while events flow (logrotate's default scheme).
        for target in rotated:
            wait_until(lambda: out.exists() and len(file_lines(out)) >= 300, 30, "lines")
            os.rename(out, target)
            rotations.append(len(published(drp_standin)))

    rotator = threading.Thread(target=rotate)
    rotator.start()
    post_events(drp_standin, range(3000))
    rotator.join()
    expected = published(drp_standin)
    wait_until(lambda: len(file_lines(*rotated, out)) >= 3000, 30, "3000 lines")
    assert keys_of(file_lines(*rotated, out)) == expected  # all, in order, once
    assert all(len(file_lines(p)) > 0 for p in rotated)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    # Deleted rather than moved: a new file appears for the next events.
    out.unlink()
    post_events(drp_standin, range(3000, 3010), threads=1)
    wait_until(lambda: len(file_lines(out)) >= 10, 20, "a new file")
    assert keys_of(file_lines(out)) == [str(i) for i in range(3000, 3010)]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.slow
def test_failed_reconfig_keeps_forwarding(drp_provider: Callable[..., ProviderUnderTest],
                                          drp_standin: StandInThread, tmp_path: Path) -> None:
    out = tmp_path / "fb.json"
    params = file_params(out, tmp_path / "spool")
    plugin = start_filebeat(drp_standin, drp_provider, params)
    post_events(drp_standin, range(5), threads=1)
    cases: list[tuple[Params, str]] = [
        ({"filebeat/mode": "udp"}, "filebeat/mode is not valid: udp"),
        ({"filebeat/events": "*.*.*"}, "filebeat/events not valid"),
        ({"filebeat/events": ["nodots"]}, "filebeat/events not valid"),
        ({"filebeat/mode": "tcp", "filebeat/tcp": "nowhere"}, "filebeat/tcp is not host:port"),
        ({"filebeat/path": str(out / "under-a-file")}, "file:"),
    ]
    for bad, message in cases:
        with pytest.raises(PluginError) as info:
            reconfigure(plugin, {**params, **bad})
        assert message in str(info.value)
    post_events(drp_standin, range(5, 10), threads=1)
    wait_until(lambda: len(file_lines(out)) >= 10, 20, "ten lines")
    assert keys_of(file_lines(out)) == [str(i) for i in range(10)]


@pytest.mark.slow
def test_reconfig_moves_selections_and_destination(
        drp_provider: Callable[..., ProviderUnderTest], drp_standin: StandInThread,
        tmp_path: Path) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    plugin = start_filebeat(drp_standin, drp_provider, file_params(first, tmp_path / "spool"))
    post_events(drp_standin, range(100))
    reconfigure(plugin, file_params(second, tmp_path / "spool", ["other.*.*", "fbtest.*.*"]))
    post_events(drp_standin, range(100, 200))
    post_events(drp_standin, range(5), kind="other", threads=1)
    reconfigure(plugin, file_params(second, tmp_path / "spool", ["other.*.*"]))
    post_events(drp_standin, range(200, 210), threads=1)
    post_events(drp_standin, range(5, 10), kind="other", threads=1)
    wait_until(lambda: len(keys_of(file_lines(second), "other")) >= 10, 20, "other events")
    # fbtest: every event up to the last switch, once and in order, across both files.
    assert keys_of(file_lines(first, second)) == published(drp_standin)[:200]
    assert keys_of(file_lines(second), "other") == [str(i) for i in range(10)]


@pytest.mark.slow
def test_event_stream_loss_is_reported_and_survived(
        drp_provider: Callable[..., ProviderUnderTest], drp_standin: StandInThread,
        tmp_path: Path) -> None:
    out = tmp_path / "fb.json"
    plugin = start_filebeat(drp_standin, drp_provider, file_params(out, tmp_path / "spool"))
    post_events(drp_standin, range(10), threads=1)
    wait_until(lambda: len(file_lines(out)) >= 10, 20, "ten lines")
    drp_standin.drop_websockets()
    plugin.wait_log("the event stream was down")  # after it reconnected and registered
    post_events(drp_standin, range(10, 20), threads=1)
    wait_until(lambda: len(file_lines(out)) >= 20, 20, "twenty lines")
    assert keys_of(file_lines(out)) == [str(i) for i in range(20)]
    assert b"websocket" not in out.read_bytes()  # the gap notice is not a DRP event


# -- tcp mode ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_tcp_10000_events_through_an_outage(drp_provider: Callable[..., ProviderUnderTest],
                                            drp_standin: StandInThread, peer: LinePeer,
                                            tmp_path: Path) -> None:
    port = peer.start()
    spool = tmp_path / "spool"
    plugin = start_filebeat(drp_standin, drp_provider,
                            tcp_params(port, spool, **{"filebeat/queue-size": 500}))
    outage: dict[str, float] = {}

    def disturb() -> None:
        # Stop the listener mid-stream, restart it on the same port a little later.
        wait_until(lambda: len(published(drp_standin)) >= 3000, 60, "3000 published")
        peer.stop(hard=True)
        outage["stopped_at"] = len(published(drp_standin))
        wait_until(lambda: len(published(drp_standin)) >= 7000, 60, "7000 published")
        outage["restarted_at"] = len(published(drp_standin))
        peer.start()

    disturber = threading.Thread(target=disturb)
    disturber.start()
    started = time.monotonic()
    post_events(drp_standin, range(10_000))
    disturber.join()
    expected = published(drp_standin)
    assert len(expected) == 10_000
    peer.wait_for(lambda lines: len(set(keys_of(lines))) >= 10_000, 60)
    elapsed = time.monotonic() - started
    connections = peer.per_connection()
    repeats = check_at_least_once_in_order(connections, expected)
    assert len(connections) >= 2
    # The peer crashed with bytes unacknowledged in the plugin's send queue: without
    # sending them again, the check above would have found them missing.
    lost = plugin.wait_log("lost (")
    resent = int(lost.message.split("); ")[1].split()[0])
    assert resent > 0
    messages = "\n".join(plugin.log_messages)
    assert "spilling to" in messages  # the outage outlasted the memory queue
    assert "works again" in messages
    print(f"\n10000 events in {elapsed:.1f}s through an outage "
          f"(published {outage['stopped_at']:.0f}..{outage['restarted_at']:.0f} while down), "
          f"{len(connections)} connections, {resent} unacknowledged events sent again, "
          f"{repeats} received twice")


@pytest.mark.slow
def test_undelivered_events_survive_a_restart(drp_provider: Callable[..., ProviderUnderTest],
                                              drp_standin: StandInThread, peer: LinePeer,
                                              tmp_path: Path) -> None:
    port = peer.start()
    peer.stop()  # nobody listens: everything waits
    spool = tmp_path / "spool"
    params = tcp_params(port, spool, **{"filebeat/queue-size": 100})
    plugin = start_filebeat(drp_standin, drp_provider, params)
    post_events(drp_standin, range(1000))
    spool_file = spool / "events.jsonl"
    # 100 in memory, the rest on disk: then the plugin has received all 1000.
    wait_until(lambda: len(file_lines(spool_file)) == 900, 20, "900 spooled events")
    # A param change restarts the plugin: stop (the spool keeps all 1000), start again.
    plugin.restart({**params, "filebeat/queue-size": 101})
    plugin.wait_log("1000 event(s) left by the previous run")
    assert stat.S_IMODE(spool_file.stat().st_mode) == 0o600
    peer.start()
    lines = peer.wait_for(lambda lines: len(lines) >= 1000, 30)
    time.sleep(0.3)
    assert keys_of(peer.lines) == published(drp_standin)  # once each, in order
    assert len(lines) == 1000
    wait_until(lambda: not spool_file.exists() or spool_file.stat().st_size == 0, 10,
               "the spool file emptied")


@pytest.mark.slow
def test_stop_flushes_to_a_live_peer(drp_provider: Callable[..., ProviderUnderTest],
                                     drp_standin: StandInThread, peer: LinePeer,
                                     tmp_path: Path) -> None:
    port = peer.start()
    plugin = start_filebeat(drp_standin, drp_provider, tcp_params(port, tmp_path / "spool"))
    post_events(drp_standin, range(2000))
    drp_standin.delete_plugin(plugin.plugin_name)
    record = plugin.wait_log("filebeat: stopping:")
    received = int(record.message.split(": ")[2].split()[0])
    assert received > 0
    assert keys_of(peer.lines) == published(drp_standin)[:received]


@pytest.mark.slow
def test_built_single_file(tmp_path: Path, drp_provider: Callable[..., ProviderUnderTest],
                           drp_standin: StandInThread) -> None:
    built = tmp_path / "dist" / "filebeat"
    assert build_and_define(PROVIDER, built)["Name"] == "filebeat"
    out = tmp_path / "fb.json"
    start_filebeat(drp_standin, drp_provider, file_params(out, tmp_path / "spool"), built)
    post_events(drp_standin, range(20), threads=1)
    wait_until(lambda: len(file_lines(out)) >= 20, 20, "20 lines")
    assert keys_of(file_lines(out)) == [str(i) for i in range(20)]
