"""The BMC simulators of the ipmi provider's tests and bench, started and stopped here.

- :class:`IpmiSim`: OpenIPMI's ``ipmi_sim`` (Debian package ``openipmi``) serving
  ``count`` BMCs over IPMI 2.0 LAN on loopback UDP ports, one process: each BMC is
  a management controller (IPMB address 0x20, 0x22, ...) owning LAN channel 1 on
  its own port, with one admin user, and a ``chassis_control`` hook
  (``sim/chassis_control.sh``) that keeps its power, boot device and identify
  state in files of its own folder (:meth:`IpmiSim.state`).
- :class:`SushySim`: sushy-tools' ``sushy-emulator --fake`` (PyPI) on loopback
  HTTPS with a self-signed certificate made here and HTTP basic auth (an htpasswd
  file with a bcrypt digest); its fake driver applies a power change after a random
  delay, so readers wait for the state (:meth:`SushySim.wait_power`).

Both are ready when they answer (an RMCP presence ping per BMC; ``GET /redfish/v1/``),
never after a fixed sleep.  ``IPMI_SIM`` / ``SUSHY_EMULATOR`` name other binaries.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHASSIS_CONTROL = HERE / "sim" / "chassis_control.sh"
#: IPMB addresses a BMC can take in one ipmi_sim: the even ones from 0x20 to 0xfe.
MAX_BMCS = len(range(0x20, 0x100, 2))


def ipmi_sim_binary() -> str | None:
    return shutil.which(os.environ.get("IPMI_SIM", "ipmi_sim"))


def ipmitool_binary() -> str | None:
    return shutil.which("ipmitool")


def sushy_binary() -> str | None:
    name = os.environ.get("SUSHY_EMULATOR", "sushy-emulator")
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name)


def free_udp_ports(count: int) -> list[int]:
    """``count`` distinct UDP ports free on 127.0.0.1 now (bound together, then freed)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rmcp_ping(port: int, timeout: float = 0.2) -> bool:
    """An ASF presence ping (RMCP class 6) to 127.0.0.1:``port``: True on a pong."""
    ping = bytes([0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, 0x01, 0x00, 0x00])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(ping, ("127.0.0.1", port))
            data = s.recv(512)
        except OSError:
            return False
    return len(data) >= 9 and data[3] == 0x06 and data[8] == 0x40


class IpmiSim:
    """``count`` simulated BMCs in one ``ipmi_sim``; use as a context manager."""

    def __init__(self, workdir: Path, count: int = 1, username: str = "admin",
                 password: str = "s3cret-Pa55", power: int = 0) -> None:
        if not 1 <= count <= MAX_BMCS:
            raise ValueError(f"one ipmi_sim serves 1 to {MAX_BMCS} BMCs, not {count}")
        self.workdir = workdir
        self.count = count
        self.username = username
        self.password = password
        self.ports = free_udp_ports(count)
        self.addresses = [0x20 + 2 * i for i in range(count)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.initial_power = power

    def state_dir(self, index: int) -> Path:
        return self.workdir / "bmc" / f"{self.addresses[index]:#04x}"

    def write_config(self) -> Path:
        lines = ['name "drpsim"', ""]
        for i, (addr, port) in enumerate(zip(self.addresses, self.ports, strict=True)):
            state = self.state_dir(i)
            state.mkdir(parents=True, exist_ok=True)
            (state / "power").write_text(f"{self.initial_power}\n")
            lines += [
                f"set_working_mc {addr:#04x}",
                "  startlan 1",
                f"    addr 127.0.0.1 {port}",
                "    priv_limit admin",
                "    allowed_auths_callback none md2 md5 straight",
                "    allowed_auths_user none md2 md5 straight",
                "    allowed_auths_operator none md2 md5 straight",
                "    allowed_auths_admin none md2 md5 straight",
                f"    guid a123456789abcdefa123456789ab{addr:04x}",
                "  endlan",
                f'  chassis_control "/bin/sh {CHASSIS_CONTROL} {state}"',
                f'  user 2 true "{self.username}" "{self.password}" admin 10 none md2 md5 straight',
                "",
            ]
        conf = self.workdir / "lan.conf"
        conf.write_text("\n".join(lines))
        emu = [f"mc_setbmc {self.addresses[0]:#04x}"]
        for addr in self.addresses:
            # device id 0, no device SDRs, rev 0x23, fw 9.8, device support 0x9f
            # (chassis, bridge, event receiver/generator, FRU, SEL, SDR, sensors)
            emu += [f"mc_add {addr:#04x} 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02",
                    f"mc_enable {addr:#04x}"]
        (self.workdir / "sim.emu").write_text("\n".join(emu) + "\n")
        return conf

    def start(self, timeout: float = 30.0) -> IpmiSim:
        binary = ipmi_sim_binary()
        if binary is None:
            raise RuntimeError("ipmi_sim is not installed (Debian package openipmi)")
        conf = self.write_config()
        (self.workdir / "simstate").mkdir(exist_ok=True)
        log = open(self.workdir / "ipmi_sim.log", "wb")  # noqa: SIM115 - the process's
        self.proc = subprocess.Popen(  # noqa: S603
            [binary, "-c", str(conf), "-f", str(self.workdir / "sim.emu"),
             "-s", str(self.workdir / "simstate"), "-n"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        waiting = list(self.ports)
        while waiting:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ipmi_sim exited {self.proc.returncode}: "
                                   f"{(self.workdir / 'ipmi_sim.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"ipmi_sim: {len(waiting)} BMC(s) not answering after "
                                   f"{timeout}s")
            waiting = [p for p in waiting if not rmcp_ping(p)]
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> IpmiSim:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def state(self, index: int = 0) -> dict[str, Any]:
        """What BMC ``index`` holds: power, boot, identify (None when never set) and
        its ``set ...`` log lines."""
        d = self.state_dir(index)

        def read(name: str) -> str | None:
            try:
                return (d / name).read_text().strip()
            except FileNotFoundError:
                return None

        log = read("log")
        return {"power": read("power"), "boot": read("boot"), "identify": read("identify"),
                "log": log.splitlines() if log else []}

    def wait_state(self, index: int, key: str, value: str, timeout: float = 30.0) -> dict[str, Any]:
        """BMC ``index``'s state once its ``key`` is ``value`` (ipmi_sim powers a
        cycled chassis back on after a delay of its own)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(index)
            if state[key] == value:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"BMC {index}: {key} is {state[key]!r}, not {value!r}, "
                                   f"after {timeout}s")
            time.sleep(0.05)

    def set_power(self, index: int, on: bool) -> None:
        (self.state_dir(index) / "power").write_text("1\n" if on else "0\n")

    def params(self, index: int = 0, **extra: Any) -> dict[str, Any]:
        """The machine params pointing at BMC ``index`` in ipmitool mode."""
        return {"ipmi/mode": "ipmitool", "ipmi/address": "127.0.0.1",
                "ipmi/port-ipmitool": self.ports[index], "ipmi/username": self.username,
                "ipmi/password": self.password, "detected-bios-mode": "bios", **extra}


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files in ``workdir``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = workdir / "cert.pem", workdir / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


class SushySim:
    """``sushy-emulator --fake`` on loopback HTTPS with basic auth."""

    def __init__(self, workdir: Path, username: str = "admin",
                 password: str = "rf-s3cret-Pa55") -> None:
        self.workdir = workdir
        self.username = username
        self.password = password
        self.port = free_tcp_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.system_path = ""

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> SushySim:
        import bcrypt
        import httpx

        binary = sushy_binary()
        if binary is None:
            raise RuntimeError("sushy-emulator is not installed (PyPI sushy-tools)")
        cert, key = self_signed(self.workdir)
        htpasswd = self.workdir / "htpasswd"
        digest = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(4)).decode()
        htpasswd.write_text(f"{self.username}:{digest}\n")
        conf = self.workdir / "sushy.conf"
        conf.write_text(
            f"SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\n"
            f"SUSHY_EMULATOR_LISTEN_PORT = {self.port}\n"
            f"SUSHY_EMULATOR_SSL_CERT = {str(cert)!r}\n"
            f"SUSHY_EMULATOR_SSL_KEY = {str(key)!r}\n"
            f"SUSHY_EMULATOR_AUTH_FILE = {str(htpasswd)!r}\n"
            f"SUSHY_EMULATOR_STATE_DIR = {str(self.workdir / 'state')!r}\n"
            "SUSHY_EMULATOR_FAKE_DRIVER = True\n")
        log = open(self.workdir / "sushy.log", "wb")  # noqa: SIM115 - the process's
        self.proc = subprocess.Popen(  # noqa: S603
            [binary, "--config", str(conf), "--fake"], stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("SUSHY_")})
        log.close()
        deadline = time.monotonic() + timeout
        with httpx.Client(verify=False, timeout=2.0) as client:  # noqa: S501
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"sushy-emulator exited {self.proc.returncode}: "
                                       f"{(self.workdir / 'sushy.log').read_text()[-2000:]}")
                try:
                    r = client.get(self.url + "/redfish/v1/Systems", auth=self.auth)
                    if r.status_code == 200:
                        self.system_path = r.json()["Members"][0]["@odata.id"]
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sushy-emulator not answering after {timeout}s")
                time.sleep(0.1)
        return self

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> SushySim:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def system(self) -> dict[str, Any]:
        import httpx

        with httpx.Client(verify=False, timeout=10.0) as client:  # noqa: S501
            r = client.get(self.url + self.system_path, auth=self.auth)
            r.raise_for_status()
            return dict(r.json())

    def wait_power(self, state: str, timeout: float = 30.0) -> dict[str, Any]:
        """The system once its PowerState is ``state`` (the fake driver applies a
        change after a random delay); raises TimeoutError naming what it saw."""
        deadline = time.monotonic() + timeout
        while True:
            system = self.system()
            if system.get("PowerState") == state:
                return system
            if time.monotonic() > deadline:
                raise TimeoutError(f"PowerState still {system.get('PowerState')!r}, "
                                   f"not {state!r}, after {timeout}s")
            time.sleep(0.1)

    def params(self, **extra: Any) -> dict[str, Any]:
        """The machine params pointing at this BMC in redfish mode."""
        return {"ipmi/mode": "redfish", "ipmi/address": "127.0.0.1",
                "ipmi/port-redfish": self.port, "ipmi/username": self.username,
                "ipmi/password": self.password, "detected-bios-mode": "bios", **extra}
