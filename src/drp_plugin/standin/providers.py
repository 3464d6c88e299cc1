"""Plugin providers and the lifecycle of their plugins.

Installing a provider runs ``define`` (stdout and stderr read together as the JSON:
anything on stderr makes it invalid), checks ``PluginVersion`` 4, runs
``unpack <webroot>/files/plugin_providers/<name>``, registers its ``StoreObjects``
types and loads its content (params, profiles, templates, plugin-defined objects,
all read-only).  A Plugin starts with ``listen``; it counts as running, and its
``AvailableActions`` as available, only after ``/config`` answered 200
(event ``plugins.configed.<name>``).  A running plugin whose provider has
``HasPublish`` gets every event but ``log`` ones on ``/publish``, in order (log
events are left out: a plugin that logs what it receives would feed itself).
Stopping sends ``/stop`` with ``null`` (event ``plugins.stopped.<name>``).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import shutil
import subprocess
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._types import Obj
from ..content import META_FIELDS
from ..errors import PluginError
from ..models import PLUGIN_VERSION, make_event
from .content import LOADED_SECTIONS, parse_bundle
from .eventhub import EventHub, Subscriber
from .logs import LogBook, LogRecord
from .objtypes import ObjectType, store_object_type
from .plugin_process import PluginProcess
from .plugin_socket import FromPlugin
from .store import Store

SYSTEM = "system"


def provider_meta(meta: Obj, name: str, version: str) -> Obj:
    """A provider's Meta as ``PluginProvider.Store`` (models/plugin_provider.go) makes it
    from its content's meta: Name, Version and Type ``plugin`` set; Description and
    Source defaulted when empty or ``Unspecified`` ("Content layer for <name> plugin
    provider", ``FromPluginProvider``); ``Color``/``Icon`` also as ``color``/``icon``;
    every ``ContentMetaData`` field present."""
    out = {**{f: "" for f in META_FIELDS}, **meta, "Name": name, "Version": version,
           "Type": "plugin"}  # GenerateMetaMap: every ContentMetaData field
    if out.get("Description") in (None, "", "Unspecified"):
        out["Description"] = f"Content layer for {name} plugin provider"
    if out.get("Source") in (None, "", "Unspecified"):
        out["Source"] = "FromPluginProvider"
    for upper, lower in (("Color", "color"), ("Icon", "icon")):
        if upper in out:
            out[lower] = out[upper]
    return out


@dataclass
class Provider:
    """An installed provider: how to run it and what it brought."""

    name: str
    argv: list[str]
    definition: Obj
    bindir: Path | None = None
    content: list[tuple[str, str]] = field(default_factory=list)
    types: list[str] = field(default_factory=list)

    @property
    def required(self) -> list[str]:
        """The definition's ``RequiredParams`` (of the Plugin), as a new list."""
        return list(self.definition.get("RequiredParams") or [])

    @property
    def optional(self) -> list[str]:
        """The definition's ``OptionalParams`` (of the Plugin), as a new list."""
        return list(self.definition.get("OptionalParams") or [])

    @property
    def actions(self) -> list[Obj]:
        """The definition's ``AvailableActions``, each with ``Provider`` set to this provider
        and missing param lists as ``[]``."""
        return [
            {**a, "Provider": self.name, "RequiredParams": a.get("RequiredParams") or [],
             "OptionalParams": a.get("OptionalParams") or []}
            for a in self.definition.get("AvailableActions") or []
        ]


@dataclass
class Running:
    """A configured plugin instance (``forwarder``: its ``/publish`` feed)."""

    process: PluginProcess
    actions: list[Obj]
    forwarder: Subscriber | None = None


def _reject(message: str, name: str, code: int = 400) -> PluginError:
    return PluginError(message, code=code, model="plugin_providers", key=name, type="POST")


def _tail(text: str, limit: int = 2000) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


class Providers:
    """Installed providers and running plugins."""

    def __init__(self, store: Store, hub: EventHub, logbook: LogBook, root: Path,
                 webroot: Path, env: Callable[[bool], dict[str, str]],
                 command_timeout: float = 60.0) -> None:
        self.store = store
        self.hub = hub
        self.logbook = logbook
        self.root = root
        self.webroot = webroot
        self.env = env
        self.command_timeout = command_timeout
        self.providers: dict[str, Provider] = {}
        self.running: dict[str, Running] = {}
        self.published: dict[str, list[Obj]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._counter = itertools.count(1)
        self._background: set[asyncio.Task[None]] = set()
        self._processes: weakref.WeakSet[PluginProcess] = weakref.WeakSet()
        #: Params of the Plugin that the next AutoStart install creates (test fixtures set
        #: it, so that an AutoStart provider never runs with its defaults in a test).
        self.autostart_params: Obj | None = None

    # ---- helpers -----------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def _event(self, action: str, name: str) -> None:
        obj = self.store.find("plugins", name)
        event = make_event("plugins", action, name,
                           self.store.render("plugins", obj) if obj else None)
        event.update(Principal=SYSTEM, Original=None)
        self.hub.publish(event)

    def _fail(self, name: str, provider: str, errors: list[str]) -> None:
        for message in errors:
            self.logbook.note(provider, name, "error", message)
        if self.store.find("plugins", name) is not None:
            self.store.update_fields("plugins", name,
                                     {"PluginErrors": errors, "Available": False}, SYSTEM)

    async def _run(self, argv: list[str], args: list[str], name: str,
                   readonly: bool) -> tuple[int, str]:
        """Run ``argv + args``; returns exit status and stdout+stderr together."""
        scratch = self.root / "scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, *args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, cwd=scratch, env=self.env(readonly),
            )
        except OSError as exc:
            raise _reject(f"Cannot run provider: {exc}", name) from None
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), self.command_timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise _reject(f"{args[0]} did not finish in {self.command_timeout}s", name) from None
        assert proc.returncode is not None
        return proc.returncode, out.decode(errors="replace")

    # ---- install -----------------------------------------------------------------

    async def _define(self, argv: list[str], name: str | None) -> Obj:
        code, out = await self._run(argv, ["define"], name or "", readonly=True)
        if code != 0:
            raise _reject(f"define failed with status {code}: {_tail(out)}", name or "")
        try:
            definition = json.loads(out)
        except ValueError:
            raise _reject("define output (stdout and stderr together) is not valid JSON: "
                          f"{_tail(out, 300)}", name or "") from None
        if not isinstance(definition, dict):
            raise _reject("define output is not a JSON object", name or "")
        pname = definition.get("Name")
        if not isinstance(pname, str) or not pname or "/" in pname:
            raise _reject(f"define gave an invalid Name {pname!r}", name or "")
        if name and pname != name:
            raise _reject(f"define gave Name {pname!r}, uploaded as {name!r}", name)
        if definition.get("PluginVersion") != PLUGIN_VERSION:
            raise _reject(f"PluginVersion must be {PLUGIN_VERSION}, not "
                          f"{definition.get('PluginVersion')!r}", pname)
        for action in definition.get("AvailableActions") or []:
            if not isinstance(action, dict) or not isinstance(action.get("Command"), str) \
                    or not isinstance(action.get("Model") or "", str):
                raise _reject(f"Invalid AvailableAction {action!r}", pname)
        return definition

    def _store_types(self, pname: str, definition: Obj) -> list[ObjectType]:
        declared = definition.get("StoreObjects") or {}
        if not isinstance(declared, dict):
            raise _reject("StoreObjects must be an object", pname)
        types = []
        for prefix, fields in declared.items():
            current = self.store.types.get(prefix)
            if current is not None and current.provider != pname:
                owner = current.provider or "dr-provision"
                raise _reject(f"StoreObjects {prefix} is already defined by {owner}", pname, 409)
            try:
                types.append(store_object_type(prefix, fields, pname))
            except ValueError as exc:
                raise _reject(str(exc), pname) from None
        return types

    def _check_conflicts(self, pname: str, types: list[ObjectType],
                         sections: dict[str, dict[str, Obj]], replace_writable: bool) -> None:
        own = set(self.providers[pname].content) if pname in self.providers else set()
        loadable = set(LOADED_SECTIONS) | {t.prefix for t in types}
        for prefix, objects in sections.items():
            if prefix not in loadable:
                continue
            for key in objects:
                existing = self.store.find(prefix, key)
                if existing is None or (prefix, key) in own:
                    continue
                if existing.get("ReadOnly"):
                    raise _reject(f"{prefix}/{key} is already provided by "
                                  f"{existing.get('Bundle') or 'other content'}", pname, 409)
                if not replace_writable:
                    raise _reject(f"{prefix}/{key} already exists; upload with "
                                  "replaceWritable=true to replace it", pname, 409)

    async def _unpack(self, argv: list[str], pname: str) -> None:
        target = self.webroot / "files" / "plugin_providers" / pname
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        code, out = await self._run(argv, ["unpack", str(target)], pname, readonly=True)
        for line in out.splitlines():
            self.logbook.add(LogRecord("unpack", pname, "", "info", line))
        if code != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise _reject(f"unpack failed with status {code}: {_tail(out)}", pname)
        target.mkdir(parents=True, exist_ok=True)

    async def install(self, name: str | None, argv: list[str], bindir: Path | None = None,
                      replace_writable: bool = False) -> Obj:
        """Install (or replace) a provider run as ``argv``; returns its object."""
        try:
            definition = await self._define(argv, name)
            pname = definition["Name"]
            types = self._store_types(pname, definition)
            try:
                meta, sections = parse_bundle(definition.get("Content"))
            except ValueError as exc:
                raise _reject(str(exc), pname) from None
            self._check_conflicts(pname, types, sections, replace_writable)
            if pname in self.providers:
                await self.remove(pname, final=False)
            await self._unpack(argv, pname)
        except BaseException:
            if bindir is not None:
                shutil.rmtree(bindir, ignore_errors=True)
            raise
        provider = Provider(pname, list(argv), definition, bindir)
        self.providers[pname] = provider
        try:
            self._load(provider, types, meta, sections)
        except PluginError:
            await self.remove(pname)
            raise
        autostart_params, self.autostart_params = self.autostart_params, None
        if definition.get("AutoStart") and self.store.find("plugins", pname) is None:
            self.store.create("plugins", {"Name": pname, "Provider": pname,
                                          "Params": autostart_params or {}}, SYSTEM,
                              internal=True)
        for plugin in self.store.objects("plugins"):
            if plugin.get("Provider") == pname:
                await self.start(plugin["Name"])
        return self.store.render("plugin_providers", self.store.data["plugin_providers"][pname])

    def _load(self, provider: Provider, types: list[ObjectType], meta: Obj,
              sections: dict[str, dict[str, Obj]]) -> None:
        pname = provider.name
        for otype in types:
            self.store.add_type(otype)
            provider.types.append(otype.prefix)
        order = [*LOADED_SECTIONS, *sorted(t.prefix for t in types)]
        for prefix in sorted(set(sections) - set(order)):
            self.logbook.note(pname, "", "warn", f"content section {prefix} "
                              f"({len(sections[prefix])} objects) not loaded: "
                              "the DRP stand-in does not serve it")
        for prefix in order:
            key_field = self.store.types[prefix].key
            for key, obj in sorted(sections.get(prefix, {}).items()):
                body = {**obj, "ReadOnly": True, "Bundle": pname}
                body.setdefault(key_field, key)
                self.store.create(prefix, body, SYSTEM, internal=True, replace=True)
                provider.content.append((prefix, body[key_field]))
        record = {k: copy.deepcopy(v) for k, v in provider.definition.items() if k != "Content"}
        # the actions as the definition gave them until a plugin of the provider runs
        # (see _registered)
        record.update(
            Meta=provider_meta(meta, pname, str(record.get("Version") or "")),
            AvailableActions=copy.deepcopy(provider.definition.get("AvailableActions") or []),
            RequiredParams=provider.required,
            OptionalParams=provider.optional,
            StoreObjects=record.get("StoreObjects") or {},
        )
        self.store.create("plugin_providers", record, SYSTEM, internal=True, replace=True)

    async def remove(self, pname: str, final: bool = True) -> None:
        """Stop the provider's plugins and take away everything it brought."""
        provider = self.providers.pop(pname, None)
        if provider is None:
            raise PluginError("Not Found", code=404, model="plugin_providers", key=pname,
                              type="DELETE")
        for name, running in list(self.running.items()):
            if running.process.provider == pname:
                await self.stop(name)
        if final:
            for plugin in self.store.objects("plugins"):
                if plugin.get("Provider") == pname:
                    self._fail(plugin["Name"], pname, [f"Missing Plugin Provider: {pname}"])
            shutil.rmtree(self.webroot / "files" / "plugin_providers" / pname,
                          ignore_errors=True)
        for prefix, key in reversed(provider.content):
            if self.store.find(prefix, key) is not None:
                self.store.remove(prefix, key, SYSTEM, internal=True)
        for prefix in provider.types:
            self.store.remove_type(prefix)
        if self.store.find("plugin_providers", pname) is not None:
            self.store.remove("plugin_providers", pname, SYSTEM, internal=True)
        if provider.bindir is not None:
            shutil.rmtree(provider.bindir, ignore_errors=True)

    # ---- plugins -----------------------------------------------------------------

    async def start(self, name: str) -> None:
        """Start and configure plugin ``name`` (errors go into its ``PluginErrors``)."""
        async with self._lock(name):
            await self._start(name)

    async def _start(self, name: str) -> None:
        plugin = self.store.find("plugins", name)
        if plugin is None or name in self.running:
            return
        provider = self.providers.get(plugin.get("Provider", ""))
        if provider is None:
            self._fail(name, "", [f"Missing Plugin Provider: {plugin.get('Provider')}"])
            return
        params = plugin.get("Params") or {}
        missing = [p for p in provider.required
                   if p not in params and not self.store.param_default(p)[0]]
        if missing:
            self._fail(name, provider.name, [f"Missing required parameter {p}" for p in missing])
            return
        config: Obj = {}
        for pname in provider.required + provider.optional:
            found, value = self.store.param_default(pname)
            if found:
                config[pname] = value
        config.update(copy.deepcopy(params))
        config["Name"] = name
        n = next(self._counter)
        sockdir = self.root / "s"
        sockdir.mkdir(parents=True, exist_ok=True)
        process: PluginProcess

        def leaving(err: PluginError) -> None:
            self._spawn(self._leaving(name, process, err))

        def exited(code: int) -> None:
            self._spawn(self._exited(name, process, code))

        published = self.published.setdefault(name, [])

        def output(source: str, piece: bytes) -> None:
            self.logbook.add(LogRecord(source, provider.name, name, "info",
                                       piece.decode(errors="replace").rstrip("\r\n")))

        process = PluginProcess(
            provider.argv, sockdir / f"{n}.to", sockdir / f"{n}.from", env=self.env(False),
            cwd=self.root / "run" / str(n), name=name, provider=provider.name,
            from_plugin=FromPlugin(lambda event: self._published(published, event),
                                   lambda line, level: self._logged(name, provider.name, line,
                                                                    level),
                                   leaving),
            on_output=output, on_exit=exited,
        )
        self._processes.add(process)
        try:
            await process.start()
            await process.config(config)
        except PluginError as err:
            await process.kill()
            self._fail(name, provider.name, [str(err)])
            if err.code == 403:
                self._spawn(self._remove_quietly(provider.name))
            return
        running = Running(process, provider.actions)
        if provider.definition.get("HasPublish"):
            running.forwarder = self._forwarder(process)
            self.hub.subscribers.add(running.forwarder)
        self.running[name] = running
        self.store.update_fields("plugins", name, {"PluginErrors": [], "Available": True},
                                 SYSTEM)
        self._registered(provider)
        self._event("configed", name)

    def _registered(self, provider: Provider) -> None:
        """A plugin of ``provider`` runs: DRP registers its actions, filling each entry of
        the provider's ``AvailableActions`` (``Provider`` set, missing param lists
        ``[]``).  Recorded: TestLoadIncrementer ``plugin_providers show incrementer`` right
        after the upload answers the definition's ``"Provider": ""`` and ``null`` lists;
        TestPluginProviderCli ``plugin_providers list``, after plugins of it ran, the
        filled entries; after a new upload the definition's again."""
        if self.store.find("plugin_providers", provider.name) is not None:
            self.store.update_fields("plugin_providers", provider.name,
                                     {"AvailableActions": provider.actions}, SYSTEM)

    def _published(self, published: list[Obj], event: Obj) -> None:
        """A plugin's ``/publish``: recorded (newest ``hub.max_events`` kept) and broadcast."""
        published.append(event)
        if len(published) > self.hub.max_events:
            del published[:len(published) - self.hub.max_events]
        self.hub.publish(event)

    def _logged(self, name: str, provider: str, line: Obj, level: str) -> None:
        """A plugin's ``/log``: one record, and a ``log`` event unless ``IgnorePublish``."""
        message = line.get("Message")
        self.logbook.add(LogRecord("log", provider, name, level,
                                   message if isinstance(message, str) else json.dumps(message),
                                   str(line.get("Service") or ""), line))
        if not line.get("IgnorePublish"):
            event = make_event("log", level, name, line)
            event.update(Principal=f"plugin:{name}", Original=None)
            self.hub.publish(event)

    def _forwarder(self, process: PluginProcess) -> Subscriber:
        async def send(text: str) -> None:
            try:
                status, body = await process.call("publish", text.encode())
            except PluginError as err:
                status, body = err.code, str(err).encode()
            if status != 200:
                self.logbook.note(process.provider, process.name, "error",
                                  f"publish answered {status}: {body[:200]!r}")

        async def close() -> None:
            return None

        def dropped(size: int) -> None:  # counted and noted: never lost silently
            if sub.dropped == 1 or sub.dropped % 1000 == 0:
                self.logbook.note(process.provider, process.name, "error",
                                  f"/publish is more than {self.hub.max_queue_bytes} bytes "
                                  f"behind: {sub.dropped} events not delivered so far")

        sub = Subscriber(send, close, f"plugin:{process.name}",
                         accept=lambda event: event.get("Type") != "log",
                         max_queue_bytes=self.hub.max_queue_bytes, on_overflow=dropped)
        return sub

    async def _detach(self, running: Running) -> None:
        """Stop feeding events to a plugin that stops."""
        if running.forwarder is not None:
            self.hub.subscribers.discard(running.forwarder)
            await running.forwarder.stop()

    async def stop(self, name: str, errors: list[str] | None = None) -> None:
        """Stop plugin ``name`` if it runs; ``errors`` go into its ``PluginErrors``."""
        async with self._lock(name):
            running = self.running.pop(name, None)
            if running is None:
                return
            await self._detach(running)
            await running.process.stop()
            self._event("stopped", name)
            if errors:
                self._fail(name, running.process.provider, errors)

    async def restart(self, name: str) -> None:
        """Stop plugin ``name`` if it runs, then start it again (two steps, each under the
        plugin's lock)."""
        await self.stop(name)
        await self.start(name)

    async def plugin_changed(self, name: str, old: Obj | None, new: Obj | None) -> None:
        """Follow a write of plugin ``name``: start, restart on a change, or stop."""
        if new is None:
            await self.stop(name)
        elif (old is None or name not in self.running
              or old.get("Params") != new.get("Params")
              or old.get("Provider") != new.get("Provider")):
            await self.restart(name)

    async def _remove_quietly(self, pname: str) -> None:
        if pname in self.providers:
            self.logbook.note(pname, "", "error", f"provider {pname} removed (403)")
            await self.remove(pname)

    async def _leaving(self, name: str, process: PluginProcess, err: PluginError) -> None:
        running = self.running.get(name)
        if running is None or running.process is not process:
            return
        self.logbook.note(process.provider, name, "warn", f"plugin is leaving: {err}")
        if err.code == 403:
            await self._remove_quietly(process.provider)
        else:
            await self.stop(name, [f"Plugin left: {err}"])

    async def _exited(self, name: str, process: PluginProcess, code: int) -> None:
        async with self._lock(name):
            running = self.running.get(name)
            if running is None or running.process is not process:
                return
            del self.running[name]
            await self._detach(running)
            await process.kill()
            self._event("stopped", name)
            self._fail(name, process.provider, [f"Plugin exited with status {code}"])

    def actions(self, model: str) -> list[tuple[str, Obj]]:
        """``(plugin, AvailableAction)`` pairs of running plugins for ``model``."""
        return [(name, action) for name, running in sorted(self.running.items())
                for action in running.actions if (action.get("Model") or "") == model]

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every plugin, let background work (leaving, exits) finish, kill leftovers."""
        for name in list(self.running):
            await self.stop(name)
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        for process in list(self._processes):
            await process.kill()
