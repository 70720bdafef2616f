"""Test helpers: a real OpenSSH sshd on 127.0.0.1 and a TCP proxy that cuts and stalls connections."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def require_sshd() -> str:
    """The sshd binary; fail under CI (make test installs it), skip elsewhere."""
    if not os.path.isfile(SSHD):
        msg = ("OpenSSH server not installed (/usr/sbin/sshd missing); "
               "`apt-get install -y --no-install-recommends openssh-server` (make test does it)")
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return SSHD


def write_ed25519(path: Path) -> str:
    """Write an unencrypted OpenSSH ed25519 private key to ``path`` (+ .pub); return the public line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    Path(str(path) + ".pub").write_text(pub + " crac-test\n")
    return pub


def _low_fd_limit() -> None:
    """Containers often allow ~1M descriptors; sshd's children then spend 0.1-0.3 s closing them all."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 4096), min(hard, 4096)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Sshd:
    """A running sshd: its port, host key line and the client key file."""

    port: int
    host_pub: str
    user_key: Path
    proc: subprocess.Popen
    log: Path

    def known_hosts_line(self, port: int | None = None) -> str:
        return f"[127.0.0.1]:{port or self.port} {self.host_pub}\n"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_sshd(folder: Path, force_sftp: bool = False, user_key: Path | None = None) -> Sshd:
    """Start ``sshd -D`` on 127.0.0.1 with its own host key; ``force_sftp`` refuses remote commands."""
    binary = require_sshd()
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    host_key = folder / "ssh_host_ed25519_key"
    host_pub = write_ed25519(host_key)
    if user_key is None:
        user_key = folder / "id_ed25519"
        write_ed25519(user_key)
    auth = folder / "authorized_keys"
    auth.write_text(Path(str(user_key) + ".pub").read_text())
    port = free_port()
    cfg = folder / "sshd_config"
    cfg.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"AuthorizedKeysFile {auth}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
        "PermitRootLogin prohibit-password", "PidFile none", "Subsystem sftp internal-sftp", "LogLevel ERROR",
        "MaxStartups 100", "MaxSessions 100",
        *(["ForceCommand internal-sftp"] if force_sftp else []), ""]))
    log = folder / "sshd.log"
    proc = subprocess.Popen([binary, "-D", "-e", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=open(log, "wb"), preexec_fn=_low_fd_limit)  # noqa: SIM115
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("sshd did not start within 10 s")
    return Sshd(port, host_pub, user_key, proc, log)


@dataclass
class Stall:
    start: float
    end: float | None = None


@dataclass
class FaultProxy:
    """A TCP proxy to ``target_port`` injecting faults at cumulative server->client byte offsets.

    ``faults`` is a list of ``(offset, "cut"|"stall")``: at a cut the connection is closed right after the
    byte at that offset; at a stall nothing more is forwarded either way and the sockets stay open until the
    client gives up (the time it took is recorded in ``stalls``).
    """

    target_port: int
    faults: list[tuple[int, str]] = field(default_factory=list)
    total: int = 0
    cuts: int = 0
    stalls: list[Stall] = field(default_factory=list)
    connections: int = 0
    #: Seconds to sleep before forwarding each block of at most 8 KiB server->client (a slow link).
    throttle: float = 0.0

    def __post_init__(self) -> None:
        self.faults = sorted(self.faults)
        self._lock = threading.Lock()
        self._srv = socket.socket()
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(50)
        self.port = self._srv.getsockname()[1]
        self._stop = False
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                c, _ = self._srv.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                c.close()
                continue
            with self._lock:
                self.connections += 1
                self._socks += [c, s]
            state = {"stall": None, "closed": False}
            threading.Thread(target=self._up, args=(c, s, state), daemon=True).start()
            threading.Thread(target=self._down, args=(c, s, state), daemon=True).start()

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for x in socks:
            with contextlib.suppress(OSError):
                x.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                x.close()

    def _up(self, c: socket.socket, s: socket.socket, state: dict) -> None:
        """client -> server; while stalled, swallow bytes and wait for the client to give up."""
        while True:
            try:
                data = c.recv(65536)
            except OSError:
                data = b""
            if not data:
                st = state["stall"]
                if st is not None and st.end is None:
                    st.end = time.monotonic()
                self._close(c, s)
                return
            if state["stall"] is None and not state["closed"]:
                with contextlib.suppress(OSError):
                    s.sendall(data)

    def _down(self, c: socket.socket, s: socket.socket, state: dict) -> None:
        """server -> client, counting bytes and injecting the faults."""
        while True:
            try:
                if self.throttle:
                    time.sleep(self.throttle)
                data = s.recv(8192 if self.throttle else 65536)
            except OSError:
                data = b""
            if not data:
                if state["stall"] is None:
                    self._close(c, s)
                return
            fault = None
            with self._lock:
                if self.faults and self.total + len(data) >= self.faults[0][0]:
                    offset, fault = self.faults.pop(0)
                    cut = max(0, offset - self.total)
                    data = data[:cut]
                self.total += len(data)
            with contextlib.suppress(OSError):
                c.sendall(data)
            if fault == "cut":
                self.cuts += 1
                state["closed"] = True
                self._close(c, s)
                return
            if fault == "stall":
                state["stall"] = Stall(time.monotonic())
                self.stalls.append(state["stall"])
                return  # stop reading the server; the client side ends the stall by closing

    def pending(self) -> int:
        return len(self.faults)

    def close(self) -> None:
        self._stop = True
        self._close(self._srv)
        with self._lock:
            self._close(*self._socks)


def random_faults(rng: random.Random, n_cuts: int, n_stalls: int, lo: int, hi: int) -> list[tuple[int, str]]:
    kinds = ["cut"] * n_cuts + ["stall"] * n_stalls
    rng.shuffle(kinds)
    return sorted((rng.randrange(lo, hi), k) for k in kinds)
