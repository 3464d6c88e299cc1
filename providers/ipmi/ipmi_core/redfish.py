"""``ipmi/mode`` ``redfish``: the Go provider's Redfish calls, made with httpx.

The Go provider speaks Redfish through gofish v0.6.0: it opens a session, reads the
service root and the first ComputerSystem of ``Systems`` (its "probe"), runs the
action, and logs out.  Here every request carries HTTP basic auth instead of a
session (every Redfish service takes it, the Redfish specification requires it;
sushy-emulator, the simulator of the tests, has no SessionService at all), over
one pooled HTTPS client (certificates not verified, as gofish's ``Insecure: true``).

Answers are Go's: ``powerstatus`` is the system's ``PowerState`` (``On``); power
actions answer the string ``{}``; ``getInfo`` and ``getBoot`` are gofish's
``ComputerSystem`` and ``Boot`` as Go serialised them (see :func:`gofish_system`);
``status`` folds the healths the way Go does.  Where Go fails although the BMC did
what was asked (a PATCH answered 204 with no body: Go's ``Redfish json error:
EOF``), the answer is ``{}``; where Go panics (no ``Bios`` link), a 404 says why.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import rpc_error, unavailable, unsupported
from .request import Request
from .settings import Settings

NAME = "redfish"
OK = "OK"
CRITICAL = "Critical"
#: Seconds between two reads of PowerState while waiting for Off (powercycle).
POWER_POLL = 0.5


class RedfishError(Exception):
    """An HTTP status the BMC answered with, in gofish's words: ``<status>: <body>``."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        super().__init__(f"{status}: {body}")


class Client:
    """One pooled httpx client for every BMC (connections per BMC are reused)."""

    def __init__(self, settings: Settings) -> None:
        import httpx

        self.settings = settings
        self.http = httpx.AsyncClient(
            verify=False,  # noqa: S501 - BMC certificates are self-signed; gofish Insecure: true
            timeout=settings.timeout, follow_redirects=True, trust_env=False,
            limits=httpx.Limits(max_connections=settings.redfish_connections,
                                max_keepalive_connections=settings.redfish_connections))

    async def close(self) -> None:
        await self.http.aclose()


class Session:
    """The requests of one action to one BMC."""

    def __init__(self, client: Client, req: Request) -> None:
        host = f"[{req.address}]" if ":" in req.address else req.address
        self.client = client
        self.base = f"https://{host}:{req.port}"
        self.auth = (req.username, req.password)
        self.system: dict[str, Any] = {}

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """One request; (status, body) for 200/201/202/204, else :class:`RedfishError`.
        The body is read up to ``DRP_IPMI_REDFISH_MAX_BODY`` bytes."""
        limit = self.client.settings.redfish_max_body
        url = path if path.startswith("http") else self.base + path
        kwargs: dict[str, Any] = {"auth": self.auth}
        if body is not None:
            kwargs["json"] = body
        async with self.client.http.stream(method, url, **kwargs) as resp:
            data = bytearray()
            async for chunk in resp.aiter_bytes():
                data.extend(chunk)
                if len(data) > limit:
                    raise RedfishError(resp.status_code, f"answer larger than {limit} bytes "
                                       "(DRP_IPMI_REDFISH_MAX_BODY)")
        if resp.status_code not in (200, 201, 202, 204):
            raise RedfishError(resp.status_code, data.decode("utf-8", errors="replace"))
        return resp.status_code, bytes(data)

    async def get(self, path: str) -> dict[str, Any]:
        _status, data = await self.request("GET", path)
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise RedfishError(200, f"not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise RedfishError(200, "not a JSON object")
        return value

    async def members(self, link: str | None) -> list[dict[str, Any]]:
        """The resources of the collection at ``link`` (gofish: none when no link)."""
        if not link:
            return []
        collection = await self.get(link)
        out = []
        for member in collection.get("Members") or []:
            ref = member.get("@odata.id") if isinstance(member, dict) else None
            if isinstance(ref, str):
                out.append(await self.get(ref))
        return out

    def link(self, name: str, obj: dict[str, Any] | None = None) -> str | None:
        value = (self.system if obj is None else obj).get(name)
        ref = value.get("@odata.id") if isinstance(value, dict) else None
        return ref if isinstance(ref, str) and ref else None

    async def probe(self, log: Any) -> bool:
        """Go's probe: the service root, then the first system of ``Systems``."""
        import httpx

        try:
            root = await self.get("/redfish/v1/")
            systems = self.link("Systems", root) or "/redfish/v1/Systems"
            collection = await self.get(systems)
        except (RedfishError, httpx.HTTPError) as exc:
            log.error("Unable to get connect to redfish: %s", _describe(exc))
            return False
        refs: list[str] = [m["@odata.id"] for m in collection.get("Members") or []
                           if isinstance(m, dict) and isinstance(m.get("@odata.id"), str)]
        if not refs:
            log.info("No systems defined")
            return False
        try:
            self.system = await self.get(refs[0])
        except (RedfishError, httpx.HTTPError):
            log.error("Unable to get systems information from redfish")
            return False
        return True

    async def power_state(self) -> str:
        path = self.system.get("@odata.id") or ""
        state = (await self.get(path)).get("PowerState")
        return state if isinstance(state, str) else ""


def _describe(exc: BaseException) -> str:
    """An error's words, never empty (httpx's timeouts have no message)."""
    return str(exc) or type(exc).__name__


def _decode_answer(data: bytes) -> Any:
    """The JSON a PATCH/POST answered; ``{}`` for an empty body (Go: ``EOF``)."""
    if not data.strip():
        return {}
    try:
        return json.loads(data)
    except ValueError as exc:
        raise rpc_error(f"Redfish json error: {exc}") from None


# -- gofish's serialisation of the system (what Go answers for getInfo and getBoot) -----------------

def _s(obj: Any, key: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else ""


def _n(obj: Any, key: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _status(obj: Any) -> dict[str, Any]:
    status = obj.get("Status") if isinstance(obj, dict) else None
    out: dict[str, Any] = {}  # gofish's common.Status: Health omitted when empty
    if _s(status, "Health"):
        out["Health"] = _s(status, "Health")
    out["State"] = _s(status, "State")
    return out


def gofish_boot(system: dict[str, Any]) -> dict[str, Any]:
    """gofish's ``Boot`` of a system."""
    boot = system.get("Boot")
    return {k: _s(boot, k) for k in ("BootSourceOverrideEnabled", "BootSourceOverrideMode",
                                      "BootSourceOverrideTarget", "UefiTargetBootSourceOverride")}


def reset_types(system: dict[str, Any]) -> list[str]:
    """``ResetType@Redfish.AllowableValues`` of the system's reset action."""
    act = (system.get("Actions") or {}).get("#ComputerSystem.Reset") or {}
    values = act.get("ResetType@Redfish.AllowableValues") if isinstance(act, dict) else None
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def gofish_system(system: dict[str, Any]) -> dict[str, Any]:
    """gofish v0.6.0's ``ComputerSystem`` as Go's ``encoding/json`` wrote it (its field
    set and order, Go's zero values for what the BMC left out, ``Client: null``)."""
    watchdog = system.get("HostWatchdogTimer") if isinstance(system.get("HostWatchdogTimer"),
                                                              dict) else {}
    memory = system.get("MemorySummary") if isinstance(system.get("MemorySummary"), dict) else {}
    cpus = system.get("ProcessorSummary") if isinstance(system.get("ProcessorSummary"),
                                                        dict) else {}
    roles = system.get("HostingRoles")
    modules = system.get("TrustedModules")
    return {
        "@odata.id": _s(system, "@odata.id"), "Id": _s(system, "Id"), "Client": None,
        "@odata.context": _s(system, "@odata.context"), "@odata.type": _s(system, "@odata.type"),
        "AssetTag": _s(system, "AssetTag"), "BiosVersion": _s(system, "BiosVersion"),
        "Boot": gofish_boot(system), "Description": _s(system, "Description"),
        "HostName": _s(system, "HostName"),
        "HostWatchdogTimer": {
            "FunctionEnabled": isinstance(watchdog, dict) and watchdog.get("FunctionEnabled") is True,
            "Status": _status(watchdog), "TimeoutAction": _s(watchdog, "TimeoutAction"),
            "WarningAction": _s(watchdog, "WarningAction")},
        "HostedServices": "", "HostingRoles": roles if isinstance(roles, list) else None,
        "IndicatorLED": _s(system, "IndicatorLED"), "Manufacturer": _s(system, "Manufacturer"),
        "MemorySummary": {
            "MemoryMirroring": _s(memory, "MemoryMirroring"), "Status": _status(memory),
            "TotalSystemMemoryGiB": _n(memory, "TotalSystemMemoryGiB"),
            "TotalSystemPersistentMemoryGiB": _n(memory, "TotalSystemPersistentMemoryGiB")},
        "Model": _s(system, "Model"), "Name": _s(system, "Name"),
        "PCIeDevices@odata.count": _n(system, "PCIeDevices@odata.count"),
        "PCIeFunctions@odata.count": _n(system, "PCIeFunctions@odata.count"),
        "PartNumber": _s(system, "PartNumber"),
        "PowerRestorePolicy": _s(system, "PowerRestorePolicy"),
        "PowerState": _s(system, "PowerState"),
        "ProcessorSummary": {
            "Count": _n(cpus, "Count"), "LogicalProcessorCount": _n(cpus, "LogicalProcessorCount"),
            "Model": _s(cpus, "Model"), "Status": _status(cpus)},
        "Redundancy": "", "Redundancy@odata.count": "",
        "SKU": _s(system, "SKU"), "SerialNumber": _s(system, "SerialNumber"),
        "Status": _status(system), "SubModel": _s(system, "SubModel"),
        "SystemType": _s(system, "SystemType"),
        "TrustedModules": modules if isinstance(modules, list) else None,
        "UUID": _s(system, "UUID"), "SupportedResetTypes": reset_types(system),
    }


# -- the actions ---------------------------------------------------------------------------------

_BOOT = {
    "nextbootcd": ("Once", "Cd"), "nextbootpxe": ("Once", "Pxe"),
    "nextbootdisk": ("Once", "Hdd"), "forcebootpxe": ("Continuous", "Pxe"),
    "forcebootdisk": ("Continuous", "Hdd"),
}
#: get* actions answering a collection of the system: (link name, words of Go's error).
_COLLECTIONS = {
    "getEthernetInterfaces": ("EthernetInterfaces", "ethernet interfaces"),
    "getNetworkInterfaces": ("NetworkInterfaces", "network interfaces"),
    "getProcessor": ("Processors", "processor"),
    "getSimpleStorage": ("SimpleStorage", "simple storage"),
    "getStorage": ("Storage", "storage"),
    "getMemory": ("Memory", "memory"),
}


def _first(allowed: set[str], *choices: str) -> str:
    for choice in choices[:-1]:
        if choice in allowed:
            return choice
    return choices[-1]


async def _reset(session: Session, reset_type: str) -> None:
    act = (session.system.get("Actions") or {}).get("#ComputerSystem.Reset") or {}
    target = act.get("target") if isinstance(act, dict) else None
    if not isinstance(target, str) or not target:
        raise RedfishError(0, "the system has no #ComputerSystem.Reset action")
    await session.request("POST", target, {"ResetType": reset_type})


async def _power(session: Session, command: str) -> str:
    allowed = set(reset_types(session.system))
    state = session.system.get("PowerState")

    def for_on() -> str:
        return _first(allowed, "ForceOn", "On", "PushPowerButton", "ForceRestart")

    def for_off() -> str:
        return _first(allowed, "ForceOff", "Off", "GracefulShutdown", "PushPowerButton",
                      "ForceRestart")

    if command == "poweron":
        if state != "On":
            await _reset(session, for_on())
    elif command == "poweroff":
        if state != "Off":
            await _reset(session, for_off())
    elif "PowerCycle" in allowed or "ForceRestart" in allowed:
        await _reset(session, "PowerCycle" if "PowerCycle" in allowed else "ForceRestart")
    else:
        if state != "Off":
            await _reset(session, for_off())
            await _wait_off(session)  # Go slept 2 s, whatever the BMC did
        await _reset(session, for_on())
    return "{}"


async def _wait_off(session: Session) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + session.client.settings.power_wait
    while await session.power_state() != "Off":
        if time.monotonic() >= deadline:
            raise RedfishError(0, f"the system was not Off within "
                               f"{session.client.settings.power_wait:g}s (DRP_IPMI_POWER_WAIT)")
        await asyncio.sleep(POWER_POLL)


async def _health(session: Session, link: str) -> str:
    """Go's fold of a collection's health: Critical when it cannot be read, else the
    first member's Health that is set and not OK, else OK."""
    import httpx

    try:
        items = await session.members(session.link(link))
    except (RedfishError, httpx.HTTPError):
        return CRITICAL
    for item in items:
        health: str = _s(item.get("Status"), "Health")
        if health and health != OK:
            return health
    return OK


async def _status_of(session: Session) -> dict[str, Any]:
    system = session.system
    return {
        "Status": _s(system.get("Status"), "Health"),
        "ProcessorStatus": _s((system.get("ProcessorSummary") or {}).get("Status"), "Health"),
        "MemoryStatus": _s((system.get("MemorySummary") or {}).get("Status"), "Health"),
        "EthernetStatus": await _health(session, "EthernetInterfaces"),
        "StorageStatus": await _health(session, "Storage"),
        "SimpleStorageStatus": await _health(session, "SimpleStorage"),
    }


async def _virtual_cd(session: Session) -> tuple[str, str]:
    """(manager path, the virtual CD's path): Go's walk (the first manager, its
    VirtualMedia, the second member: "First one is removeable disk, second is cd")."""
    root = await session.get("/redfish/v1/")
    managers = await session.get(session.link("Managers", root) or "/redfish/v1/Managers")
    refs = [m["@odata.id"] for m in managers.get("Members") or []
            if isinstance(m, dict) and isinstance(m.get("@odata.id"), str)]
    if not refs:
        raise rpc_error("bad struct: no manager")
    manager = refs[0]
    media = session.link("VirtualMedia", await session.get(manager))
    if media is None:
        raise rpc_error("No virtual media field")
    members = [m["@odata.id"] for m in (await session.get(media)).get("Members") or []
               if isinstance(m, dict) and isinstance(m.get("@odata.id"), str)]
    if len(members) < 2:
        raise rpc_error(f"bad struct: {len(members)} virtual media device(s), the CD is the second")
    return manager, members[1]


async def _virtual_media(session: Session, req: Request) -> Any:
    manager, cd = await _virtual_cd(session)
    if req.command == "statusVirtualMedia":
        data = await session.get(cd)
        return {"Inserted": data.get("Inserted"), "Image": data.get("Image")}
    body: dict[str, Any] = {}
    next_boot = False
    if req.command == "mountVirtualMedia":
        image = req.params.get("ipmi/virtual-media-url")
        next_boot_param = req.params.get("ipmi/virtual-media-boot")
        if not isinstance(image, str) or not image:
            raise rpc_error("ipmi/virtual-media-url must be a non-empty string")
        if not isinstance(next_boot_param, bool):
            raise rpc_error("ipmi/virtual-media-boot must be true or false")
        next_boot = next_boot_param
        body["Image"] = image
        action = "Actions/VirtualMedia.InsertMedia"
    else:
        action = "Actions/VirtualMedia.EjectMedia"
    dell = "iDRAC" in cd
    cd = cd if cd.endswith("/") else cd + "/"
    if next_boot and not dell:  # Go assumes HPE: its OEM boot-on-next-reset flag
        body["Oem"] = {"Hpe": {"BootOnNextServerReset": True}}
        status, answer = await session.request("PATCH", cd, body)
    else:
        status, answer = await session.request("POST", cd + action, body)
    if status != 204 and answer.strip():
        return _decode_answer(answer)
    if next_boot and dell:
        target = (manager if manager.endswith("/") else manager + "/") + \
            "Actions/Oem/EID_674_Manager.ImportSystemConfiguration"
        await session.request("POST", target, {
            "ShareParameters": {"Target": "ALL"},
            "ImportBuffer": '<SystemConfiguration><Component FQDD="iDRAC.Embedded.1">'
                            '<Attribute Name="ServerBoot.1#BootOnce">Enabled</Attribute>'
                            '<Attribute Name="ServerBoot.1#FirstBootDevice">VCD-DVD</Attribute>'
                            '</Component></SystemConfiguration>'})
    return "Success"


async def action(client: Client, log: Any, req: Request) -> Any:
    """Run the action ``req`` in redfish mode: its answer, or the Go provider's error."""
    import httpx

    session = Session(client, req)
    if not await session.probe(log):
        raise unavailable(NAME)
    system = session.system
    cmd = req.command
    try:
        if cmd == "powerstatus":
            return system.get("PowerState") or ""
        if cmd in ("poweron", "poweroff", "powercycle"):
            try:
                return await _power(session, cmd)
            except (RedfishError, httpx.HTTPError) as exc:
                raise rpc_error(f"Redfish error: {_describe(exc)}") from None
        if cmd in _BOOT or cmd == "identify":
            if cmd == "identify":
                seconds = req.identify_seconds()
                body: dict[str, Any] = {"IndicatorLED": "Blinking" if seconds is None or seconds > 0
                                        else "Off"}
            else:
                enabled, target = _BOOT[cmd]
                body = {"Boot": {"BootSourceOverrideEnabled": enabled,
                                 "BootSourceOverrideTarget": target}}
            try:
                _status, data = await session.request("PATCH", system.get("@odata.id") or "", body)
            except (RedfishError, httpx.HTTPError) as exc:
                raise rpc_error(f"Redfish error: {_describe(exc)}") from None
            return _decode_answer(data)
        if cmd == "getInfo":
            return gofish_system(system)
        if cmd == "getBoot":
            return gofish_boot(system)
        if cmd == "status":
            return await _status_of(session)
        if cmd in _COLLECTIONS:
            link, words = _COLLECTIONS[cmd]
            try:
                return await session.members(session.link(link))
            except (RedfishError, httpx.HTTPError) as exc:
                raise rpc_error(f"Redfish {words} error: {_describe(exc)}") from None
        if cmd in ("getBios", "getSecureBoot"):
            found = session.link("Bios" if cmd == "getBios" else "SecureBoot")
            words = "bios" if cmd == "getBios" else "secure boot"
            if found is None:
                if cmd == "getSecureBoot":
                    return {"SecureBootEnable": False}  # Go: an empty SecureBoot
                raise rpc_error("Redfish bios error: the system has no Bios resource", code=404)
            try:
                return await session.get(found)
            except (RedfishError, httpx.HTTPError) as exc:
                raise rpc_error(f"Redfish {words} error: {_describe(exc)}") from None
        if cmd in ("statusVirtualMedia", "mountVirtualMedia", "unmountVirtualMedia"):
            try:
                return await _virtual_media(session, req)
            except (RedfishError, httpx.HTTPError) as exc:
                raise rpc_error(_describe(exc)) from None
    except httpx.HTTPError as exc:  # a read of another resource failed
        raise rpc_error(f"Redfish error: {_describe(exc)}") from None
    raise unsupported(cmd, NAME)
