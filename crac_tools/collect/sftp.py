"""Collect from loggers and field PCs over SSH/SFTP, with verified host keys and enforced deadlines.

A source is a URL ``sftp://user@host:port/path/pattern`` (``sftp://host/~/data/*.dat`` for a path below the
login folder); options may follow as query parameters (``?host_key_policy=accept-new&identity=~/.ssh/id_logger``),
see :class:`SshSettings`.

Why paramiko (and not fsspec's ``sftp://``)
-------------------------------------------
With the ``sshfs`` package installed, fsspec maps ``sftp://`` to asyncssh's filesystem, and fsspec's own paramiko
filesystem silently trusts any host key (``AutoAddPolicy``). Collection needs the opposite: an explicit
host-key policy, our own socket (so a watchdog can close it when a link stalls), remote commands on the same
connection (``sha256sum``), and blocking calls that are simple to bound. paramiko's ``SSHClient`` gives all
of that directly, rejects unknown host keys by default and reads OpenSSH key files, the agent and
``~/.ssh/config`` (through :class:`paramiko.SSHConfig`).

Host keys and credentials
-------------------------
Host keys are checked against ``known_hosts`` (``~/.ssh/known_hosts`` and ``/etc/ssh/ssh_known_hosts`` by
default). An unknown key is refused unless ``host_key_policy: accept-new``, which stores a first-seen key
(atomically) and refuses a changed one ever after. Keys come from the SSH agent, ``~/.ssh/config``
(``IdentityFile``), the default key files, or the key file named by ``identity``; a password only from the
environment variable named by ``password_env`` (never from a URL or a file).

Deadlines
---------
paramiko's timeouts do not cover every stall after connect, so a :class:`~crac_tools.collect.deadline.Watchdog`
bounds the connect, each SFTP request or remote command and each whole file, and closes the connection when one
passes. The station then reconnects with backoff and resumes after the last durable file.

Examples
--------
>>> from crac_tools.collect.sftp import parse_sftp_url
>>> t = parse_sftp_url("sftp://logger@10.0.0.5:2222/data/CR1000_*.dat?host_key_policy=accept-new")
>>> (t.user, t.host, t.port, t.path, t.params["host_key_policy"])
('logger', '10.0.0.5', 2222, '/data/CR1000_*.dat', 'accept-new')
"""

from __future__ import annotations

import contextlib
import fnmatch
import getpass
import logging
import os
import re
import shlex
import socket
import stat
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import CollectError
from ..fsutil import TMP_PREFIX, atomic_write_text
from .deadline import DeadlineExceeded, Deadlines, Watchdog, backoff_delays
from .manifest import RawArchive
from .transfer import CollectReport, LinkError, SourceFile, TransferOptions, collect_source

log = logging.getLogger(__name__)

_EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
_HEX64 = re.compile(r"^([0-9a-f]{64})\b")
#: Assumed lower bound of a remote ``sha256sum`` throughput, to give hash commands a size-based deadline.
_HASH_RATE = 20e6


class AccessError(CollectError):
    """The host refused us or we refused the host (host key, authentication): not retried; the message says
    how to fix it."""


class SshSettings(BaseModel):
    """SSH options of a station or an ad hoc source (project ``collect:`` section, station, or URL query).

    Attributes
    ----------
    host_key_policy : {"reject", "accept-new"}
        Unknown host keys are refused (``reject``, default) or stored on first use (``accept-new``); a changed
        key is always refused.
    known_hosts : Path or None
        The known_hosts file to check and (with accept-new) to add to; default ``~/.ssh/known_hosts``.
    identity : Path or None
        A private key file; without it the agent, ``~/.ssh/config`` and the default keys are used.
    password_env, passphrase_env : str or None
        Names of environment variables holding a password / the key's passphrase.
    ssh_config : Path or None
        OpenSSH client configuration to read (``HostName``, ``Port``, ``User``, ``IdentityFile``,
        ``UserKnownHostsFile``); default ``~/.ssh/config`` when it exists. ``"none"`` reads none.
    use_agent : bool
        Offer the keys of a running SSH agent.
    use_commands : bool
        Try remote ``sha256sum`` (verified with a probe; falls back to re-reading when the host refuses).
    connect_timeout, read_timeout, file_timeout : float
        Deadlines in seconds (connect+auth, one request, one whole file).
    retries : int
        Reconnections after a lost link without progress before the station is reported failed.
    backoff : float
        First wait before a retry (doubles each time, capped at 60 s).
    settle : float
        A text file modified less than this many seconds ago is collected up to its last complete line.
    delete_after_verify : bool
        Delete source files after their copies are durable and verified (off by default).
    """

    model_config = ConfigDict(extra="forbid")

    host_key_policy: Literal["reject", "accept-new"] = "reject"
    known_hosts: Path | None = None
    identity: Path | None = None
    password_env: str | None = None
    passphrase_env: str | None = None
    ssh_config: str | None = None
    use_agent: bool = True
    use_commands: bool = True
    connect_timeout: float = Field(default=20.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    file_timeout: float = Field(default=1800.0, gt=0)
    retries: int = Field(default=3, ge=0)
    backoff: float = Field(default=1.0, ge=0)
    settle: float = Field(default=120.0, ge=0)
    delete_after_verify: bool = False

    @property
    def deadlines(self) -> Deadlines:
        """The three deadlines as a :class:`Deadlines`."""
        return Deadlines(self.connect_timeout, self.read_timeout, self.file_timeout)

    def merged(self, params: dict[str, str]) -> SshSettings:
        """These settings overridden by URL query parameters.

        Examples
        --------
        >>> SshSettings().merged({"retries": "5"}).retries
        5
        """
        if not params:
            return self
        try:
            return SshSettings.model_validate({**self.model_dump(exclude_unset=True), **params})
        except ValidationError as err:
            bad = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise CollectError(f"invalid SSH option in the source URL: {bad}") from None


@dataclass
class SftpTarget:
    """A parsed ``sftp://`` source URL.

    Attributes
    ----------
    user : str or None
    host : str
    port : int or None
        None when the URL names none (``~/.ssh/config`` or 22 applies).
    path : str
        Absolute path pattern, or relative to the login folder (``~/`` in the URL).
    params : dict[str, str]
        Query parameters (SSH options).
    """

    user: str | None
    host: str
    port: int | None
    path: str
    params: dict[str, str] = field(default_factory=dict)


def parse_sftp_url(url: str) -> SftpTarget:
    """Parse ``sftp://[user@]host[:port]/path?option=value``; refuse passwords in URLs.

    Examples
    --------
    >>> parse_sftp_url("sftp://pc-alpha/~/loggerdata/*.dat").path
    'loggerdata/*.dat'
    """
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("sftp", "ssh"):
        raise CollectError(f"{url}: not an sftp:// URL")
    if u.password is not None:
        raise CollectError(f"{_redact(url)}: passwords in URLs are refused (they end up in logs and catalogs); "
                           "use a key, or put the password in an environment variable named by password_env")
    if not u.hostname:
        raise CollectError(f"{url}: no host in the URL (expected sftp://user@host:port/path/pattern)")
    path = urllib.parse.unquote(u.path)
    if path.startswith("/~/"):
        path = path[3:]
    elif path in ("", "/"):
        raise CollectError(f"{url}: no path in the URL (expected sftp://user@host/path/pattern)")
    params = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
    try:
        port = u.port
    except ValueError:
        raise CollectError(f"{url}: invalid port") from None
    return SftpTarget(urllib.parse.unquote(u.username) if u.username else None, u.hostname, port, path, params)


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def fingerprint(key) -> str:
    """OpenSSH-style ``SHA256:...`` fingerprint of a paramiko key.

    Examples
    --------
    >>> import paramiko
    >>> fingerprint(paramiko.Ed25519Key.from_private_key_file("id_ed25519")).startswith("SHA256:")  # doctest: +SKIP
    True
    """
    import base64
    import hashlib

    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def _host_entry(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


class _HostKeyPolicy:
    """paramiko MissingHostKeyPolicy: refuse unknown keys, or store them with accept-new."""

    def __init__(self, policy: str, known_hosts: Path, port: int) -> None:
        self.policy = policy
        self.known_hosts = known_hosts
        self.port = port

    def missing_host_key(self, client, hostname: str, key) -> None:
        entry = hostname
        fp = f"{key.get_name()} {fingerprint(key)}"
        known = client.get_host_keys().lookup(entry) or client._system_host_keys.lookup(entry)
        host = entry[1:].split("]:")[0] if entry.startswith("[") else entry
        if known:
            raise AccessError(
                f"host key of {entry} ({fp}) is not the type stored in {self.known_hosts} "
                f"({', '.join(known.keys())}); refusing it (it may be an impostor). If the host was "
                f"reinstalled, confirm the new fingerprint with its administrator, then remove the old entry with "
                f"`ssh-keygen -R '{entry}' -f {self.known_hosts}`")
        if self.policy != "accept-new":
            raise AccessError(
                f"host key of {entry} ({fp}) is unknown: it is not in {self.known_hosts}. Confirm the fingerprint "
                f"with the host's administrator (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host), "
                f"then add it with `ssh-keyscan -p {self.port} {host} >> {self.known_hosts}`, or set "
                "host_key_policy: accept-new (--host-key-policy accept-new) to trust it on first use")
        client.get_host_keys().add(entry, key.get_name(), key)
        line = f"{entry} {key.get_name()} {key.get_base64()}\n"
        old = self.known_hosts.read_text() if self.known_hosts.is_file() else ""
        if old and not old.endswith("\n"):
            old += "\n"
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.known_hosts, old + line)
        log.warning("accept-new: stored the host key of %s (%s) in %s", entry, fp, self.known_hosts)


class SftpSource:
    """One SSH host as a collection source (implements :class:`~crac_tools.collect.transfer.Source`).

    Parameters
    ----------
    target
        Host, port and user (the path of ``target`` is not used; patterns are passed to :meth:`list`).
    settings
        SSH options.

    Examples
    --------
    >>> src = SftpSource(parse_sftp_url("sftp://logger@10.0.0.5/data/*.dat"), SshSettings())  # doctest: +SKIP
    >>> src.connect()  # doctest: +SKIP
    >>> [f.name for f in src.list(["/data/*.dat"])]  # doctest: +SKIP
    ['CR1000_Table1.dat']
    >>> src.close()  # doctest: +SKIP
    """

    def __init__(self, target: SftpTarget, settings: SshSettings | None = None) -> None:
        self.target = target
        self.settings = (settings or SshSettings()).merged(target.params)
        self._client = None
        self._sftp = None
        self._sock: socket.socket | None = None
        self._wd: Watchdog | None = None
        self.commands: bool | None = None
        self.home = ""
        self._resolve()
        self.label = f"sftp://{self.user}@{self.host}:{self.port}"
        #: Every deadline that fired: (label, deadline seconds, elapsed seconds).
        self.deadline_hits: list[tuple[str, float, float]] = []

    # -- configuration -----------------------------------------------------------------------------
    def _resolve(self) -> None:
        import paramiko

        s = self.settings
        cfg: dict = {}
        path = s.ssh_config if s.ssh_config is not None else "~/.ssh/config"
        if path != "none":
            p = Path(path).expanduser()
            if p.is_file():
                cfg = paramiko.SSHConfig.from_path(str(p)).lookup(self.target.host)
            elif s.ssh_config is not None:
                raise CollectError(f"ssh_config {p} does not exist")
        self.host = cfg.get("hostname", self.target.host)
        self.port = self.target.port or int(cfg.get("port", 22))
        self.user = self.target.user or cfg.get("user") or getpass.getuser()
        self.identities = [str(Path(s.identity).expanduser())] if s.identity else [
            os.path.expanduser(x) for x in cfg.get("identityfile", []) if os.path.exists(os.path.expanduser(x))]
        kh = s.known_hosts or (cfg.get("userknownhostsfile", "").split() or [None])[0] or "~/.ssh/known_hosts"
        self.known_hosts = Path(os.path.expanduser(str(kh)))

    # -- connection --------------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the SSH connection and the SFTP session (verifying the host key), within the connect deadline.

        Raises
        ------
        AccessError
            Unknown or changed host key, or authentication refused (not retried).
        LinkError
            The host could not be reached in time.
        """
        import paramiko

        s = self.settings
        self.close()
        self._wd = Watchdog(self._abort)
        label = f"connect to {self.label}"
        try:
            with self._wd.guard(s.connect_timeout, label):
                self._sock = socket.create_connection((self.host, self.port), timeout=s.connect_timeout)
                # small requests back to back (exec, EOF, SFTP reads) would otherwise wait for delayed ACKs
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                client = paramiko.SSHClient()
                self._client = client
                if Path("/etc/ssh/ssh_known_hosts").is_file():
                    with contextlib.suppress(OSError):
                        client.load_system_host_keys("/etc/ssh/ssh_known_hosts")
                if self.known_hosts.is_file():
                    client.load_host_keys(str(self.known_hosts))
                client.set_missing_host_key_policy(_HostKeyPolicy(s.host_key_policy, self.known_hosts, self.port))
                password = passphrase = None
                if s.password_env:
                    password = os.environ.get(s.password_env)
                    if not password:
                        raise AccessError(f"{self.label}: password_env names {s.password_env}, which is not set")
                if s.passphrase_env:
                    passphrase = os.environ.get(s.passphrase_env)
                slack = s.connect_timeout + 5  # paramiko's own timeouts only back up the watchdog
                client.connect(self.host, self.port, username=self.user, password=password,
                               passphrase=passphrase, key_filename=self.identities or None,
                               allow_agent=s.use_agent, look_for_keys=not self.identities,
                               timeout=slack, banner_timeout=slack, auth_timeout=slack, channel_timeout=slack,
                               sock=self._sock)
                self._sftp = client.open_sftp()
                self.home = self._sftp.normalize(".")
        except AccessError:
            self.close()
            raise
        except paramiko.BadHostKeyException as exc:
            self.close()
            entry = _host_entry(self.host, self.port)
            raise AccessError(
                f"HOST KEY CHANGED for {entry}: it presents {exc.key.get_name()} {fingerprint(exc.key)}, but "
                f"{self.known_hosts} holds {fingerprint(exc.expected_key)}. Refusing to connect: this can be an "
                "impostor (man-in-the-middle). If the host was reinstalled, confirm the new fingerprint with its "
                f"administrator, then run `ssh-keygen -R '{entry}' -f {self.known_hosts}` and connect again") from None
        except paramiko.AuthenticationException as exc:
            self.close()
            tried = ", ".join(filter(None, [f"key file {', '.join(self.identities)}" if self.identities else
                                            "default keys (~/.ssh/id_*)", "SSH agent" if s.use_agent else None,
                                            f"password from ${s.password_env}" if s.password_env else None]))
            raise AccessError(
                f"{self.label}: authentication as {self.user!r} failed ({exc}); tried {tried}. Install your public "
                f"key in ~{self.user}/.ssh/authorized_keys on the host (`ssh-copy-id -p {self.port} "
                f"{self.user}@{self.host}`), name the key with identity / --identity, or load it into the agent"
            ) from None
        except DeadlineExceeded as exc:
            self._note(exc)
            self.close()
            raise LinkError(f"{self.label}: {exc}") from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.close()
            raise LinkError(f"{self.label}: cannot connect ({exc.__class__.__name__}: {exc})") from exc
        self.commands = self._probe_commands() if s.use_commands else False
        log.info("%s: connected (remote commands %s)", self.label, "available" if self.commands else "unavailable")

    def _abort(self, label: str) -> None:
        sock, client = self._sock, self._client
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def close(self) -> None:
        """Close the connection (safe to call more than once)."""
        if self._wd is not None:
            self._wd.stop()
            self._wd = None
        self._abort("close")
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._client = self._sftp = self._sock = None

    @property
    def connected(self) -> bool:
        """Whether the connection is up."""
        t = self._client.get_transport() if self._client is not None else None
        return bool(t and t.is_active() and self._sftp is not None and self._wd is not None
                    and self._wd.fired is None)

    def __enter__(self) -> SftpSource:
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _note(self, exc: DeadlineExceeded) -> None:
        self.deadline_hits.append((exc.label, exc.seconds, exc.elapsed))

    @contextlib.contextmanager
    def _op(self, label: str, seconds: float) -> Iterator[None]:
        """Run one remote operation under a deadline; turn link failures into :class:`LinkError`."""
        import paramiko

        if not self.connected:
            raise LinkError(f"{self.label}: {label}: the connection was lost before it started")
        assert self._wd is not None
        try:
            with self._wd.guard(seconds, label):
                yield
        except DeadlineExceeded as exc:
            self._note(exc)
            self.close()
            raise LinkError(f"{self.label}: {exc}") from exc
        except LinkError:
            raise
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if isinstance(exc, OSError) and exc.errno is not None and self.connected:
                raise  # an SFTP status error (no such file, permission denied): about the file, not the link
            self.close()
            raise LinkError(f"{self.label}: {label}: connection lost ({exc.__class__.__name__}: {exc})") from exc

    def _probe_commands(self) -> bool:
        out = self._exec("printf crac-ok; sha256sum </dev/null", 0)
        return out is not None and out.startswith(b"crac-ok" + _EMPTY_SHA.encode())

    def _exec(self, command: str, size: int) -> bytes | None:
        """Run a remote command; its first line of output, or None when the host refuses commands.

        Only the first line is waited for (waiting for the exit status costs a quarter second per command
        with OpenSSH); a failed ``head`` still prints a hash, of the wrong bytes, so it never matches.
        """
        import paramiko

        assert self._client is not None
        transport = self._client.get_transport()
        seconds = self.settings.read_timeout + size / _HASH_RATE
        with self._op(f"remote command on {self.label}", seconds):
            try:
                chan = transport.open_session(timeout=self.settings.read_timeout)
            except paramiko.ChannelException:
                return None
            try:
                try:
                    chan.exec_command(command)
                except paramiko.SSHException:
                    return None
                chan.shutdown_write()
                out = bytearray()
                while b"\n" not in out:
                    block = chan.recv(4096)
                    if not block or len(out) > 4096:
                        return None
                    out += block
            finally:
                chan.close()
        return bytes(out.split(b"\n", 1)[0])

    # -- Source interface --------------------------------------------------------------------------
    def _abs(self, path: str) -> str:
        return path if path.startswith("/") else f"{self.home.rstrip('/')}/{path}"

    def file_id(self, path: str) -> str:
        """The stable id of a remote file in the collection state.

        Examples
        --------
        >>> src.file_id("/data/a.dat")  # doctest: +SKIP
        'sftp://logger@10.0.0.5:22/data/a.dat'
        """
        return f"{self.label}{self._abs(path)}"

    def missing(self, patterns: list[str]) -> list[str]:
        out = []
        for pat in patterns:
            base = self._base(pat)
            try:
                with self._op(f"stat {base}", self.settings.read_timeout):
                    st = self._sftp.stat(base)
                if not stat.S_ISDIR(st.st_mode or 0):
                    out.append(pat)
            except OSError:
                out.append(pat)
        return out

    @staticmethod
    def _parts(pattern: str) -> tuple[str, list[str]]:
        parts = pattern.split("/")
        for i, part in enumerate(parts):
            if any(ch in part for ch in "*?["):
                head = "/".join(parts[:i])
                return (head or ("/" if pattern.startswith("/") else ".")), parts[i:]
        return "/".join(parts[:-1]) or ("/" if pattern.startswith("/") else "."), parts[-1:]

    def _base(self, pattern: str) -> str:
        return self._abs(self._parts(pattern)[0])

    def list(self, patterns: list[str]) -> list[SourceFile]:
        seen: dict[str, SourceFile] = {}
        for pat in patterns:
            base, rest = self._parts(pat)
            for path, attr in sorted(self._walk(self._abs(base), rest), key=lambda x: x[0]):
                fid = self.file_id(path)
                if fid not in seen:
                    seen[fid] = SourceFile(path, fid, int(attr.st_size), int(attr.st_mtime) * 10**9)
        return list(seen.values())

    def _listdir(self, folder: str):
        try:
            with self._op(f"list {folder}", self.settings.read_timeout):
                return self._sftp.listdir_attr(folder)
        except FileNotFoundError:
            return []

    def _walk(self, folder: str, rest: list[str]) -> Iterator[tuple[str, object]]:
        pat = rest[0]
        if pat == "**":
            if len(rest) > 1:
                yield from self._walk(folder, rest[1:])
            for e in self._listdir(folder):
                if stat.S_ISDIR(e.st_mode or 0) and not e.filename.startswith("."):
                    yield from self._walk(f"{folder.rstrip('/')}/{e.filename}", rest)
            return
        for e in self._listdir(folder):
            name = e.filename
            if not fnmatch.fnmatchcase(name, pat) or (name.startswith(".") and not pat.startswith(".")):
                continue
            path = f"{folder.rstrip('/')}/{name}"
            attr = e
            if stat.S_ISLNK(e.st_mode or 0):
                try:
                    with self._op(f"stat {path}", self.settings.read_timeout):
                        attr = self._sftp.stat(path)
                except FileNotFoundError:
                    continue
            mode = attr.st_mode or 0
            if len(rest) == 1:
                if stat.S_ISREG(mode) and not name.startswith(TMP_PREFIX):
                    yield path, attr
            elif stat.S_ISDIR(mode):
                yield from self._walk(path, rest[1:])

    def stream(self, f: SourceFile, offset: int, length: int, sink: Callable[[bytes], None]) -> None:
        rt = self.settings.read_timeout
        with self._op(f"open {f.path}", rt):
            fh = self._sftp.open(f.path, "rb")
        try:
            fh.seek(offset)
            if length > 1 << 16:
                # pipelined requests (one round trip per 32 KiB otherwise); waits stay under the read deadline
                fh.prefetch(offset + length, max_concurrent_requests=64)
            remaining = length
            while remaining > 0:
                with self._op(f"read of {f.path} at byte {offset + length - remaining}", rt):
                    block = fh.read(min(1 << 18, remaining))
                if not block:
                    raise OSError(5, f"{f.id} shrank while being copied ({remaining} of {length} bytes missing)")
                sink(block)
                remaining -= len(block)
        finally:
            if self.connected:
                with contextlib.suppress(Exception), self._op(f"close {f.path}", rt):
                    fh.close()

    def source_sha256(self, f: SourceFile, length: int) -> str | None:
        if not self.commands:
            return None
        out = self._exec(f"LC_ALL=C head -c {int(length)} -- {shlex.quote(f.path)} | sha256sum", length)
        m = _HEX64.match(out.decode("ascii", errors="replace")) if out else None
        return m.group(1) if m else None

    def remove(self, f: SourceFile) -> None:
        with self._op(f"remove {f.path}", self.settings.read_timeout):
            self._sftp.remove(f.path)

    def file_deadline(self, label: str) -> contextlib.AbstractContextManager:
        return self._op(label, self.settings.file_timeout)

    def read_bytes(self, path: str) -> bytes:
        """A whole small remote file (a station list), under the read and file deadlines.

        Examples
        --------
        >>> src.read_bytes("/etc/crac/stations.csv")  # doctest: +SKIP
        b'id,lat,lon,sources\\n...'
        """
        with self._op(f"stat {path}", self.settings.read_timeout):
            st = self._sftp.stat(path)
        buf = bytearray()
        f = SourceFile(path, self.file_id(path), int(st.st_size), int(st.st_mtime) * 10**9)
        with self.file_deadline(f"transfer of {f.id}"):
            self.stream(f, 0, f.size, buf.extend)
        return bytes(buf)


def collect_sftp(urls: list[str], raw: RawArchive, settings: SshSettings | None = None,
                 report: CollectReport | None = None, sleep: Callable[[float], None] = time.sleep) -> CollectReport:
    """Collect ``sftp://`` sources of one station, reconnecting with backoff after a lost or stalled link.

    URLs on the same host, port, user and options share one connection. A lost link is retried up to
    ``settings.retries`` times in a row without progress (a retry that copied something resets the count);
    host-key and authentication refusals are not retried. Failures end up in ``report.failed``; nothing is
    raised, so the caller's other stations go on.

    Parameters
    ----------
    urls
        ``sftp://`` source URLs of the station.
    raw
        The station's raw archive.
    settings
        SSH options (URL query parameters override them per URL).
    report
        A report to add to.
    sleep
        Used to wait between retries (tests pass a recorder).

    Returns
    -------
    CollectReport

    Examples
    --------
    >>> rep = collect_sftp(["sftp://logger@10.0.0.5/data/*.dat"], RawArchive(archive, "alpha_met"))  # doctest: +SKIP
    >>> rep.failed  # doctest: +SKIP
    []
    """
    settings = settings or SshSettings()
    report = report if report is not None else CollectReport()
    groups: dict[tuple, tuple[SftpTarget, list[str]]] = {}
    for url in urls:
        try:
            t = parse_sftp_url(url)
        except CollectError as exc:
            report.failed.append(str(exc))
            continue
        k = (t.user, t.host, t.port, tuple(sorted(t.params.items())))
        groups.setdefault(k, (t, []))[1].append(t.path)
    for target, patterns in groups.values():
        try:
            src = SftpSource(target, settings)
        except CollectError as exc:
            report.failed.append(str(exc))
            continue
        opts = TransferOptions(settle=src.settings.settle, delete_after_verify=src.settings.delete_after_verify)
        delays = backoff_delays(max(src.settings.retries, 1) * 10, base=src.settings.backoff, cap=60.0)
        fails = attempts = 0
        try:
            while True:
                before = len(report.copied)
                try:
                    if not src.connected:
                        src.connect()
                    missing = src.missing(patterns)
                    if missing:
                        report.failed.append(f"{src.label}: source folder(s) not found: {', '.join(missing)}")
                        patterns = [p for p in patterns if p not in missing]
                    collect_source(src, patterns, raw, opts, report)
                    break
                except AccessError as exc:
                    report.failed.append(str(exc))
                    log.error("%s", exc)
                    break
                except LinkError as exc:
                    src.close()
                    fails = 1 if len(report.copied) > before else fails + 1
                    if fails > src.settings.retries or attempts >= len(delays):
                        report.failed.append(f"{exc} (gave up after {fails} attempt(s) without progress)")
                        log.error("%s: gave up: %s", raw.key, exc)
                        break
                    report.retried += 1
                    report.retry_reasons.append(str(exc))
                    delay = delays[fails - 1]  # backoff grows with failures in a row, not over the whole run
                    log.warning("%s: %s; retrying in %.1f s", raw.key, exc, delay)
                    sleep(delay)
                    attempts += 1
        finally:
            report.deadline_hits.extend(src.deadline_hits)
            src.close()
    return report


def fetch_url(url: str, settings: SshSettings | None = None) -> bytes:
    """Read one small remote file (e.g. a station list) over SFTP, with host-key checks and deadlines.

    Examples
    --------
    >>> fetch_url("sftp://ops@central/etc/crac/stations.csv")[:2]  # doctest: +SKIP
    b'id'
    """
    t = parse_sftp_url(url)
    with SftpSource(t, settings) as src:
        try:
            return src.read_bytes(t.path)
        except FileNotFoundError:
            raise CollectError(f"{url}: no such file on the host") from None


__all__ = ["AccessError", "SftpSource", "SftpTarget", "SshSettings", "collect_sftp", "fetch_url", "fingerprint",
           "parse_sftp_url"]
