"""``StandIn``: a local dr-provision for plugin providers, on loopback.

HTTPS (self-signed) REST API and event stream on one port, a plain HTTP file
server for the webroot on another, a from-plugin unix socket per running plugin.
See ``rest`` for what is (and is not) served, ``providers`` for the lifecycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import platform
import shlex
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from .._types import Obj
from ..errors import PluginError
from ..models import now_rfc3339
from . import basic, prefs
from .actions import Actions
from .auth import Auth
from .certs import make_certificate, server_context
from .claims import EVERYTHING, Claim, of_roles
from .eventhub import EventHub
from .files import FileSums
from .jobs import JobLogs
from .logs import LogBook, LogRecord
from .packs import Packs
from .providers import Providers
from .rest import make_app
from .secure import SecureBox
from .service import ObjectWrites
from .settings import Limits
from .store import Store

VERSION = "v4.8.0-standin"
DEFAULT_USERS = {"rocketskates": "r0cketsk8ts"}
#: Key of the installed providers in the state file (not an object prefix).
PROVIDERS_KEY = "_providers"


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class StandIn:
    """A dr-provision stand-in; use ``async with StandIn() as drp:``.

    ``token_ttl`` (seconds, ``None``: never) bounds the life of ``drp.token``;
    ``users`` maps user names to passwords (the first one is the superuser);
    ``state_file`` keeps objects between runs (JSON, written on changes and at stop).
    """

    def __init__(self, token_ttl: float | None = None, users: dict[str, str] | None = None,
                 state_file: str | os.PathLike[str] | None = None, *, host: str = "127.0.0.1",
                 api_port: int = 0, file_port: int = 0,
                 webroot: str | os.PathLike[str] | None = None,
                 limits: Limits | None = None,
                 access_log: str | os.PathLike[str] | None = None) -> None:
        self.limits = limits if limits is not None else Limits()
        self.host = host
        #: The endpoint's ``uuid`` in ``info`` (one per stand-in).
        self.uuid = str(uuid.uuid4())
        self._ports = (api_port, file_port)
        self.state_file = Path(state_file) if state_file is not None else None
        self.root = Path(tempfile.mkdtemp(prefix="drp-standin-"))
        self._own_webroot = webroot is None
        self.webroot = Path(webroot) if webroot is not None else self.root / "webroot"
        (self.webroot / "files").mkdir(parents=True, exist_ok=True)
        self.auth = Auth(users if users is not None else DEFAULT_USERS, token_ttl)
        self.token = self.auth.token
        #: ``/prefs`` (name -> string value).
        self.prefs: dict[str, str] = prefs.defaults()
        #: Claims of the token a running plugin gets (``RS_TOKEN``); narrow them to test a
        #: provider under a restricted token, e.g. ``(Claim("machines", "get,update"),)``.
        self.provider_claims: tuple[Claim, ...] = EVERYTHING
        self.hub = EventHub(self.limits.event_history, self.limits.event_history_bytes,
                            self.limits.ws_queue_bytes)
        self.logbook = LogBook(self.limits.log_history, self.limits.log_history_bytes)
        #: SHA-256 sums of the files served (``ETag``, ``X-DRP-SHA256SUM``), hashed off the
        #: event loop and kept while a file does not change.
        self.file_sums = FileSums(self.limits.file_sum_cache)
        self.store = Store(SecureBox(), self.hub.publish)
        # users hold roles (roles objects); a role held by a user is not deleted
        self.auth.claims_of_roles = lambda names: of_roles(
            self.store.find("roles", name) for name in names)
        # a boot environment or stage a preference names is not deleted
        self.store.pref_holder = lambda prefix, key: prefs.holder(self.prefs, prefix, key)
        self.store.machine_defaults = lambda body: prefs.for_new_machine(self.prefs, body)
        self.store.role_users = lambda role: sorted(
            user for user, held in self.auth.roles.items() if role in held)
        # a tenant's users exist
        self.store.user_names = lambda: sorted(self.auth.users)
        self.providers = Providers(self.store, self.hub, self.logbook, self.root, self.webroot,
                                   self._provider_env)
        #: Job logs (``PUT``/``GET /jobs/<uuid>/log``), one file each under the scratch root.
        self.job_logs = JobLogs(self.root / "joblogs", self.limits.max_job_log)
        self.service = ObjectWrites(self.store, self.providers, self.job_logs)
        self.actions = Actions(self.store, self.providers)
        self.packs = Packs(self)
        self.packs.load_quietly(basic.content())
        self.endpoint = ""
        self.fileserver = ""
        self.api_port = 0
        self.file_port = 0
        self.cert_path = self.root / "cert.pem"
        self._runners: list[web.AppRunner] = []
        self._uploads = itertools.count(1)
        self._save_task: asyncio.Task[None] | None = None
        self._started = False
        #: ``access_log``: one line per request (API and file server) as it arrives.
        self.access_log = Path(access_log) if access_log is not None else None
        self._access: Any = None

    # ---- attributes --------------------------------------------------------------

    @property
    def logs(self) -> list[LogRecord]:
        """Log lines received from providers (``/log`` posts and other output)."""
        return self.logbook.records

    @property
    def events(self) -> list[Obj]:
        """Every event published so far, in order."""
        return self.hub.events

    @property
    def published(self) -> dict[str, list[Obj]]:
        """Events each plugin sent to ``/publish``, by plugin name."""
        return self.providers.published

    def info(self) -> Obj:
        """``models.Info`` (JSON field names as DRP sends them)."""
        return {
            "arch": {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(),
                                                               platform.machine()),
            "os": platform.system().lower(),
            "version": VERSION,
            "id": "drp-standin",
            "local_id": "drp-standin",
            "ha_id": "drp-standin",
            "api_port": self.api_port,
            "file_port": self.file_port,
            "secure_file_port": 0,
            "dhcp_port": 0,
            "binl_port": 0,
            "tftp_port": 0,
            "tftp_enabled": False,
            "dhcp_enabled": False,
            "binl_enabled": False,
            "prov_enabled": True,
            "secure_prov_enabled": False,
            "address": self.host,
            "server_hostname": "localhost",
            "manager": False,
            "stats": [
                {"name": "machines.count", "count": len(self.store.data["machines"])},
                {"name": "subnets.count", "count": 0},
                {"name": "contexts.count", "count": 0},
            ],
            # secure-params-in-content-packs: packs are shown with secure params decoded
            # (drpcli seals them itself) and uploaded so (packs.Packs.content)
            "features": ["secure-params", "secure-params-in-content-packs", "drp-standin"],
            "scopes": {},
            # models.LicenseBundle and models.ClusterState with Go's zero values
            "License": {"Contact": "", "ContactEmail": "", "ContactId": "", "Endpoints": [],
                        "GenerationVersion": "", "Grantor": "", "GrantorEmail": "",
                        "Licenses": [], "MaxDrpVersion": "", "Owner": "", "OwnerEmail": "",
                        "OwnerId": "", "Version": ""},
            "errors": [],
            "ha_enabled": False,
            "ha_virtual_address": "",
            "ha_is_active": True,
            "ha_status": "Up",
            "ha_active_id": "drp-standin",
            "ha_passive_state": [],
            "ha_consensus_id": "",
            "dns_enabled": False,
            "dns_port": 0,
            "uuid": self.uuid,
            "extra_api_ports": [],
            "extra_file_ports": [],
            "extra_secure_file_ports": [],
            "ClusterState": {"ActiveUri": self.endpoint, "ConsensusEnabled": False,
                             "ConsensusJoin": "", "Enabled": False, "HaID": "drp-standin",
                             "LoadBalanced": False, "Nodes": [], "Roots": [],
                             "ServerHostname": "localhost", "Token": "", "Valid": False,
                             "VirtAddr": ""},
        }

    def _provider_env(self, readonly: bool) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RS_")}
        token = self.auth.issue(self.auth.superuser, 3600.0, readonly=True) if readonly \
            else self.auth.issue(self.auth.superuser, None, claims=self.provider_claims)
        env.update(RS_ENDPOINT=self.endpoint, RS_TOKEN=token, RS_FILESERVER=self.fileserver,
                   RS_WEBROOT=str(self.webroot))
        return env

    # ---- start / stop ------------------------------------------------------------

    async def start(self) -> None:
        """Bind the ports, load the state file and serve."""
        saved_providers: list[Obj] = []
        if self.state_file is not None and self.state_file.exists():
            state = json.loads(self.state_file.read_text())
            saved_providers = state.pop(PROVIDERS_KEY, None) or []
            self.store.load(state)
        cert, key = make_certificate(self.root, self.host)
        api_sock, file_sock = _bind(self.host, self._ports[0]), _bind(self.host, self._ports[1])
        self.api_port, self.file_port = api_sock.getsockname()[1], file_sock.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.endpoint = f"https://{host}:{self.api_port}"
        self.fileserver = f"http://{host}:{self.file_port}"
        files_app = web.Application()
        files_app.router.add_static("/", self.webroot, show_index=True)
        api_app = make_app(self)
        if self.access_log is not None:
            self._access = self.access_log.open("a", buffering=1)
            api_app.middlewares.insert(0, self._log_request("api"))
            files_app.middlewares.insert(0, self._log_request("files"))
        for app, sock, ssl in ((api_app, api_sock, server_context(cert, key)),
                               (files_app, file_sock, None)):
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            self._runners.append(runner)
            await web.SockSite(runner, sock, ssl_context=ssl).start()
        self._started = True
        await self._restore_providers(saved_providers)
        for plugin in self.store.objects("plugins"):
            if plugin.get("Provider") not in self.providers.providers:
                self.store.data["plugins"][plugin["Name"]].update(
                    PluginErrors=[f"Missing Plugin Provider: {plugin.get('Provider')}"],
                    Available=False)
        self.store.changed = self._schedule_save

    def _log_request(self, server: str) -> Any:
        """A middleware writing ``<time> <server> <method> <path?query>`` to the access
        log before the request is handled (so a client that got its answer finds its
        line there)."""

        @web.middleware
        async def log_request(request: web.Request, handler: Any) -> web.StreamResponse:
            if self._access is not None:
                self._access.write(f"{now_rfc3339()} {server} {request.method} "
                                   f"{request.path_qs}\n")
            response: web.StreamResponse = await handler(request)
            return response

        return log_request

    # ---- the state file ----------------------------------------------------------

    def _binaries_dir(self) -> Path:
        assert self.state_file is not None
        return self.state_file.with_name(self.state_file.name + ".providers")

    async def _restore_providers(self, saved: list[Obj]) -> None:
        """Install again the providers a state file lists (uploaded binaries are kept
        next to it, in ``<state file>.providers/``)."""
        for record in saved:
            name = record.get("Name")
            try:
                if record.get("File"):
                    kept = self._binaries_dir() / str(record["File"])
                    await self.upload_provider(name, kept)
                elif isinstance(record.get("Argv"), list):
                    await self.add_provider_from_command(name, [str(a) for a in record["Argv"]])
            except (PluginError, OSError) as exc:
                self.logbook.note(str(name), "", "error",
                                  f"provider {name} from the state file not restored: {exc}")

    def _saved_providers(self) -> list[Obj]:
        """The installed providers, as the state file records them (binaries copied)."""
        out: list[Obj] = []
        for name, provider in sorted(self.providers.providers.items()):
            if provider.bindir is None:
                out.append({"Name": name, "Argv": list(provider.argv)})
                continue
            source = Path(provider.argv[0])
            kept = self._binaries_dir() / name
            try:
                stat = source.stat()
                if not kept.exists() or kept.stat().st_size != stat.st_size \
                        or kept.stat().st_mtime != stat.st_mtime:
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    tmp = kept.with_name(f".{name}.tmp")
                    shutil.copy2(source, tmp)
                    os.replace(tmp, kept)
            except OSError as exc:
                self.logbook.note(name, "", "error", f"provider {name} not kept: {exc}")
                continue
            out.append({"Name": name, "File": name})
        return out

    async def stop(self) -> None:
        """Stop plugins (``/stop`` with ``null``), close connections, save, clean up."""
        started, self._started = self._started, False
        try:
            self.file_sums.close()
            if started:
                await self.providers.shutdown()
                await self.hub.close_all()
                for runner in reversed(self._runners):
                    await runner.cleanup()
                self._runners.clear()
                if self._save_task is not None:
                    self._save_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._save_task
                self.save_state()
        finally:
            if not self._own_webroot:
                shutil.rmtree(self.webroot / "files" / "plugin_providers", ignore_errors=True)
            shutil.rmtree(self.root, ignore_errors=True)
            if self._access is not None:
                self._access.close()
                self._access = None

    async def __aenter__(self) -> StandIn:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def _schedule_save(self) -> None:
        if self.state_file is None or (self._save_task and not self._save_task.done()):
            return

        async def later() -> None:
            await asyncio.sleep(0.2)
            self.save_state()

        self._save_task = asyncio.create_task(later())

    def save_state(self) -> None:
        """Write the state file now (no-op without one)."""
        if self.state_file is None:
            return
        state: dict[str, Any] = dict(self.store.dump())
        state[PROVIDERS_KEY] = self._saved_providers()
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        os.replace(tmp, self.state_file)

    # ---- Python API --------------------------------------------------------------

    async def drop_websockets(self) -> None:
        """Close every event-stream connection (clients should reconnect)."""
        await self.hub.close_all()

    def upload_dir(self) -> Path:
        """Where uploads are streamed before they are installed (same file system)."""
        return self.root / "uploads"

    async def install_file(self, name: str | None, upload: Path,
                           replace_writable: bool = False, filename: str = "") -> Obj:
        """Install a provider executable from ``upload`` (moved, made mode 0755).

        ``name`` ``None`` takes the Name ``define`` gives.
        """
        bindir = self.root / "providers" / str(next(self._uploads))
        bindir.mkdir(parents=True)
        path = bindir / (name or filename or "provider")
        try:
            shutil.move(str(upload), path)
        except BaseException:
            shutil.rmtree(bindir, ignore_errors=True)
            raise
        path.chmod(0o755)
        return await self.providers.install(name, [str(path)], bindir, replace_writable)

    async def install_binary(self, name: str | None, data: bytes, replace_writable: bool = False,
                             filename: str = "") -> Obj:
        """Store provider executable bytes and install them (see :meth:`install_file`)."""
        self.upload_dir().mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.upload_dir(), prefix=".upload-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return await self.install_file(name, Path(tmp), replace_writable, filename)

    async def upload_provider(self, name: str | None, path: str | os.PathLike[str],
                              replace_writable: bool = False) -> Obj:
        """Install a built provider file, as ``POST /plugin_providers/<name>`` does."""
        path = Path(path)
        self.upload_dir().mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.upload_dir(), prefix=".upload-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        return await self.install_file(name, Path(tmp), replace_writable, path.name)

    async def add_provider_from_command(self, name: str | None, argv: list[str],
                                        replace_writable: bool = False) -> Obj:
        """Install a provider run as ``argv`` (e.g. ``[sys.executable, "x.py"]``).

        ``name`` (``None``: whatever ``define`` says) must match the defined Name.
        Arguments naming existing relative paths are made absolute, since the
        provider runs in a scratch directory.
        """
        argv = [os.path.abspath(a) if i and not os.path.isabs(a) and os.path.exists(a) else a
                for i, a in enumerate(argv)]
        if argv and os.sep in argv[0] and not os.path.isabs(argv[0]) \
                and os.path.exists(argv[0]):
            argv[0] = os.path.abspath(argv[0])
        return await self.providers.install(name, argv, None, replace_writable)

    async def add_provider(self, source: str | os.PathLike[str] | Sequence[str],
                           name: str | None = None, replace_writable: bool = False) -> Obj:
        """Install a provider from ``source``; returns its object.

        ``source`` is a ``.py`` file (run from source with this Python), a built
        provider file (uploaded), a command line string, or an argv list.
        """
        if not isinstance(source, (str, os.PathLike)):
            return await self.add_provider_from_command(name, list(source), replace_writable)
        path = Path(source)
        if path.suffix == ".py" and path.is_file():
            return await self.add_provider_from_command(
                name, [sys.executable, str(path.resolve())], replace_writable)
        if path.is_file():
            return await self.upload_provider(name, path, replace_writable)
        return await self.add_provider_from_command(name, shlex.split(str(source)),
                                                    replace_writable)

    async def ensure_plugin(self, name: str, provider: str, params: Obj | None = None) -> Obj:
        """The running Plugin ``name`` of ``provider``: created, or updated when it exists
        (as after ``AutoStart``); raises ``PluginError`` when it did not start."""
        existing = self.store.find("plugins", name)
        if existing is None:
            return await self.create_plugin(name, provider, params)
        if existing.get("Provider") != provider or params is not None:
            body = {**existing, "Provider": provider,
                    "Params": params if params is not None else existing.get("Params", {})}
            await self.service.replace("plugins", name, body, self.auth.superuser)
        plugin = self.get("plugins", name, decode=False)
        if plugin.get("PluginErrors") or name not in self.providers.running:
            raise PluginError(*(plugin.get("PluginErrors") or ["not running"]), code=409,
                              model="plugins", key=name, type="START")
        return plugin

    async def create_plugin(self, name: str, provider: str, params: Obj | None = None,
                            check: bool = True) -> Obj:
        """Create a Plugin and wait for it to be configured.

        With ``check``, start errors (its ``PluginErrors``) raise ``PluginError``.
        """
        plugin = await self.service.create(
            "plugins", {"Name": name, "Provider": provider, "Params": params or {}},
            self.auth.superuser)
        if check and plugin.get("PluginErrors"):
            raise PluginError(*plugin["PluginErrors"], code=409, model="plugins", key=name,
                              type="START")
        return plugin

    async def delete_plugin(self, name: str) -> Obj:
        """Delete a Plugin (stopping it first)."""
        return await self.service.remove("plugins", name, self.auth.superuser)

    async def create(self, prefix: str, obj: Obj) -> Obj:
        """Create any object, like ``POST /api/v3/<prefix>``."""
        return await self.service.create(prefix, obj, self.auth.superuser)

    def get(self, prefix: str, key: str, *, decode: bool = True,
            aggregate: bool = False) -> Obj:
        """One object as the API shows it (secure values decoded by default)."""
        return self.store.render(prefix, self.store.get(prefix, key), decode=decode,
                                 aggregate=aggregate)

    async def run_action(self, model: str, key: str, command: str,
                         params: Obj | None = None, plugin: str | None = None) -> Any:
        """Run an action like the REST API does (``model`` ``""``: system action)."""
        return await self.actions.run(model, key, command, params or {}, plugin)

    async def wait_event(self, pattern: str | Callable[[Obj], bool], timeout: float = 10.0,
                         since: int = 0) -> Obj:
        """The first recorded event from index ``since`` matching ``pattern``."""
        return await self.hub.wait_for(pattern, timeout, since)

    def job_log(self, job: str) -> str:
        """The log of a job (``Log for Job: <uuid>`` and what was appended), as
        ``GET /jobs/<uuid>/log`` answers it; ``PluginError`` 404 for an unknown job."""
        real = self.store.resolve("jobs", job)
        return self.job_logs.read(real).decode("utf-8", "replace")

    def on_log(self, listener: Callable[[LogRecord], None]) -> None:
        """Call ``listener`` for every new log record."""
        self.logbook.listeners.append(listener)
