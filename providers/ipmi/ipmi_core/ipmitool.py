"""``ipmi/mode`` ``ipmitool``: the Go provider's ipmitool calls, without its leaks.

Each action runs the commands Go's ``ipmi`` driver runs, one ``ipmitool`` process
each, and answers the last one's combined output (stdout and stderr in one pipe,
as Go's ``CombinedOutput``), so the operator reads ipmitool's own words:
``Chassis Power is on\\n``, ``Chassis Power Control: Up/On\\n``, ...  A failed
command answers 404 ``ipmi error: exit status N`` / ``ipmi out: <output>``.

Differences from Go's command line: ``-E`` instead of ``-P <password>`` (ipmitool
reads the password from ``IPMI_PASSWORD`` in its environment, which only its own
user and root can read, where a command line is anyone's to read in ``ps``),
``-C <suite>`` when ``DRP_IPMI_CIPHER_SUITE`` is set, and a deadline
(``DRP_IPMI_TIMEOUT``) after which the child is killed.
"""

from __future__ import annotations

import os
from typing import Any

from .errors import rpc_error, unsupported
from .request import DEFAULT_IDENTIFY, Request
from .settings import Settings

NAME = "ipmi"
READ_CHUNK = 64 * 1024

#: ``chassis bootparam set bootflag none options=...``: Go runs it before every boot
#: device change so that the next one is not refused by a BMC that still holds one.
_BOOT_OPTIONS = ["chassis", "bootparam", "set", "bootflag", "none",
                 "options=no-power,no-reset,no-watchdog,no-timeout"]
_SIMPLE = {
    "powerstatus": ["chassis", "power", "status"],
    "poweron": ["chassis", "power", "on"],
    "poweroff": ["chassis", "power", "off"],
    "powercycle": ["chassis", "power", "cycle"],
}
_BOOT_DEVICE = {"nextbootpxe": "pxe", "nextbootdisk": "disk",
                "forcebootpxe": "pxe", "forcebootdisk": "disk"}
#: Go's raw "set boot flags: valid, persistent, EFI" for forced UEFI boots (older
#: ipmitool cannot set efiboot and persistent together): 0x04 PXE, 0x08 disk.
_RAW_PERSISTENT_EFI = {"pxe": "0x04", "disk": "0x08"}


def commands(req: Request) -> list[list[str]] | None:
    """The ipmitool commands of ``req.command`` (Go's order), None when unsupported."""
    if req.command in _SIMPLE:
        return [_SIMPLE[req.command]]
    device = _BOOT_DEVICE.get(req.command)
    if device is not None:
        boot = ["chassis", "bootdev", device]
        if req.command.startswith("next"):
            if req.uefi:
                boot.append("options=efiboot")
        elif req.uefi:
            boot = ["raw", "0x00", "0x08", "0x05", "0xe0", _RAW_PERSISTENT_EFI[device],
                    "0x00", "0x00", "0x00"]
        else:
            boot.append("options=persistent")
        return [_BOOT_OPTIONS, boot]
    if req.command == "identify":
        seconds = req.identify_seconds()
        if seconds is None:
            seconds = DEFAULT_IDENTIFY
        # 0 turns the light off (``chassis identify 0``), as the Redfish mode does;
        # Go ran a bare ``chassis identify`` (ipmitool's 15 s) for 0.
        return [["chassis", "identify", str(seconds)]]
    return None


def argv(settings: Settings, req: Request, command: list[str]) -> list[str]:
    """The ipmitool command line: no password on it (``-E``)."""
    args = [settings.ipmitool, "-I", "lanplus", "-H", req.address, "-U", req.username, "-E"]
    if req.port:
        args += ["-p", str(req.port)]
    if settings.cipher_suite is not None:
        args += ["-C", settings.cipher_suite]
    return args + command


def child_env(password: str) -> dict[str, str]:
    """The child's environment: the provider's without DRP's credentials (RS_*),
    plus the BMC password for ``-E``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RS_")}
    env.pop("IPMITOOL_PASSWORD", None)  # newer ipmitool reads it before IPMI_PASSWORD
    env["IPMI_PASSWORD"] = password
    return env


def _exit_text(code: int) -> str:
    """Go's ``*exec.ExitError`` text: ``exit status N`` or ``signal: <name>``."""
    if code < 0:
        import signal

        try:
            name = signal.strsignal(-code) or f"signal {-code}"
        except ValueError:
            name = f"signal {-code}"
        return f"signal: {name.lower()}"
    return f"exit status {code}"


class Runner:
    """Runs ipmitool children, at most ``settings.max_children`` at once."""

    def __init__(self, settings: Settings) -> None:
        import asyncio

        self.settings = settings
        self.slots = asyncio.Semaphore(settings.max_children)
        self.version_ok = False
        self.running: set[Any] = set()  # asyncio.subprocess.Process

    async def run(self, args: list[str], env: dict[str, str] | None) -> tuple[int, str, str]:
        """Run ``args``; (exit code, combined output, failure text).  The failure text
        is ``""`` on success, else Go's words (``exit status 1``), or why it did
        not start, or that it timed out and was killed."""
        import asyncio
        import signal
        import subprocess

        limit = self.settings.output_limit
        async with self.slots:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, env=env, start_new_session=True)
            except OSError as exc:
                text = exc.strerror or type(exc).__name__
                return -1, "", f"fork/exec {args[0]}: {text[:1].lower()}{text[1:]}"
            self.running.add(proc)
            kept = bytearray()
            dropped = 0

            async def read_all() -> None:
                nonlocal dropped
                assert proc.stdout is not None
                while True:
                    chunk = await proc.stdout.read(READ_CHUNK)
                    if not chunk:
                        break
                    room = limit - len(kept)
                    kept.extend(chunk[:max(room, 0)])
                    dropped += max(len(chunk) - max(room, 0), 0)
                await proc.wait()

            timed_out = False
            try:
                await asyncio.wait_for(read_all(), self.settings.timeout)
            except (TimeoutError, asyncio.TimeoutError):
                timed_out = True
            finally:
                if proc.returncode is None:  # timed out, or the action was cancelled
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                    await proc.wait()
                self.running.discard(proc)
        text = kept.decode("utf-8", errors="replace")
        if dropped:
            text += f"\n[truncated {dropped} bytes]"
        code = proc.returncode if proc.returncode is not None else -1
        if timed_out:
            return code, text, (f"{args[0]} did not finish within "
                                f"{self.settings.timeout:g}s (DRP_IPMI_TIMEOUT) and was killed")
        return code, text, "" if code == 0 else _exit_text(code)

    async def available(self, log: Any) -> bool:
        """Go's probe: ``ipmitool -V`` answers.  A success is remembered."""
        if self.version_ok:
            return True
        env = {k: v for k, v in os.environ.items() if not k.startswith("RS_")}
        code, out, _ = await self.run([self.settings.ipmitool, "-V"], env)
        if code == 0 and out:
            self.version_ok = True
            return True
        log.warning("Missing ipmitool")
        return False

    async def stop(self) -> None:
        """Kill the children still running (the plugin stops)."""
        import signal

        for proc in list(self.running):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


async def action(runner: Runner, log: Any, req: Request) -> Any:
    """Run the action ``req`` in ipmitool mode: its answer, or the Go provider's error."""
    from .errors import unavailable

    if not await runner.available(log):
        raise unavailable(NAME)
    cmds = commands(req)
    if cmds is None:
        raise unsupported(req.command, NAME)
    env = child_env(req.password)
    answer = ""
    for cmd in cmds:
        _code, out, failure = await runner.run(argv(runner.settings, req, cmd), env)
        if failure:
            raise rpc_error(f"ipmi error: {failure}", f"ipmi out: {out}", code=404, type="")
        answer = out
    return answer
