"""Backup targets: a local (or mounted) folder, S3-compatible object storage, an SFTP server.

A target is addressed by a URL (``/mnt/backup/crac``, ``file:///mnt/x``, ``s3://bucket/prefix``,
``sftp://user@host:22/path``) and exposes a few whole-object operations on keys relative to its root
(``MANIFEST.json``, ``files/archive/raw/s1_met/x.dat~3f2a...``). Every write is atomic: local and SFTP
targets write a temporary name and rename it into place, S3 uploads a whole object (a PUT either
completes or leaves nothing).

Credentials never come from the project's YAML: S3 keys and endpoint from ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` or the standard AWS config files; SSH keys from the agent,
``~/.ssh`` or an explicit ``key_filename``. SFTP host keys are checked against ``known_hosts`` and unknown
hosts are rejected unless ``host_key_policy="accept-new"`` is chosen explicitly.

Examples
--------
>>> import tempfile
>>> t = open_target(tempfile.mkdtemp())
>>> t.put_bytes("a/b.txt", b"hi")
>>> t.get_bytes("a/b.txt"), t.list()
(b'hi', {'a/b.txt': 2})
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import posixpath
import shutil
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from ..fsutil import FILE_MODE, TMP_PREFIX, atomic_write_bytes, fsync_dir
from .errors import BackupError

_CHUNK = 1 << 22
#: Deadline (seconds) for connecting and for each network read/write that stalls.
NET_TIMEOUT = 60.0
#: Deadline of one S3 call (a PUT of the largest archive file included), enforced around s3fs.
CALL_DEADLINE = float(os.environ.get("CRAC_S3_DEADLINE", "120"))


class Target:
    """Base class of backup targets (keys are POSIX paths relative to the target root)."""

    url: str = ""
    #: Worker threads used to send or read objects.
    parallel: int = 2
    #: Whether an object can be stored under a temporary name and renamed (False on S3).
    renames: bool = True

    def list(self) -> dict[str, int]:
        """Every object under the root as ``{key: size}`` (temporary leftovers included)."""
        raise NotImplementedError

    def put_file(self, src: Path, key: str) -> None:
        """Store the file ``src`` under ``key`` atomically."""
        raise NotImplementedError

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (durable when this returns)."""
        raise NotImplementedError

    def get_bytes(self, key: str) -> bytes:
        """The whole content of ``key`` (raises FileNotFoundError when absent)."""
        with self.open(key) as fh:
            return fh.read()

    def open(self, key: str) -> BinaryIO:
        """A binary reader of ``key``."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error when it is already gone)."""
        raise NotImplementedError

    def flush(self) -> None:
        """Make every object written so far durable (before the manifest is committed)."""

    def remove_temps(self) -> int:
        """Delete temporary objects left by an interrupted backup; return how many."""
        return 0

    def close(self) -> None:
        """Release connections."""

    def sha256(self, key: str) -> tuple[str, int]:
        """Hash the bytes of ``key`` as stored; return ``(hex digest, size)``."""
        h = hashlib.sha256()
        n = 0
        with self.open(key) as fh:
            while True:
                block = fh.read(_CHUNK)
                if not block:
                    break
                h.update(block)
                n += len(block)
        return h.hexdigest(), n

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def _is_temp(key: str) -> bool:
    return posixpath.basename(key).startswith(TMP_PREFIX)


# ------------------------------------------------------------------------------------------- local
def _syncfs(path: Path) -> None:
    """Flush the whole filesystem holding ``path`` (one call instead of one fsync per file)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(path, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    os.sync()


class LocalTarget(Target):
    """A folder on a local or mounted filesystem (second disk, external drive, NAS mount).

    Objects are copied with the kernel's copy (``sendfile``) to a temporary name beside the final one and
    renamed; :meth:`flush` syncs the filesystem once before the manifest is written (the manifest itself is
    written with fsync + rename + directory fsync).
    """

    parallel = 2

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)
        self._dirs: set[Path] = set()

    def _path(self, key: str) -> Path:
        return self.root / key

    def list(self) -> dict[str, int]:
        """Every file under the root as ``{key: size}``."""
        out: dict[str, int] = {}
        if not self.root.is_dir():
            return out
        for dirpath, _dirs, files in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            for f in files:
                key = f if rel == "." else f"{rel}/{f}".replace(os.sep, "/")
                with contextlib.suppress(FileNotFoundError):
                    out[key] = os.stat(os.path.join(dirpath, f)).st_size
        return out

    def put_file(self, src: Path, key: str) -> None:
        """Copy ``src`` to a temporary name beside ``key`` and rename it into place."""
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f"{TMP_PREFIX}{final.name}.{uuid.uuid4().hex[:8]}"
        try:
            shutil.copyfile(src, tmp)
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        self._dirs.add(final.parent)

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` atomically and durably (fsync, rename, directory fsync)."""
        atomic_write_bytes(self._path(key), data)

    def open(self, key: str) -> BinaryIO:
        """Open ``key`` for binary reading."""
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        """Remove ``key`` and any folders it leaves empty."""
        p = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
        parent = p.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def flush(self) -> None:
        """Sync the target filesystem, then fsync every folder that received objects."""
        if self.root.exists():
            _syncfs(self.root)
        for d in sorted(self._dirs):
            fsync_dir(d)
        self._dirs.clear()

    def remove_temps(self) -> int:
        """Delete ``.crac-tmp-*`` leftovers under the root."""
        n = 0
        for key in self.list():
            if _is_temp(key):
                self.delete(key)
                n += 1
        return n


# ---------------------------------------------------------------------------------------------- S3
def _s3_error(exc: BaseException, url: str) -> BackupError | None:
    """A clear BackupError for credential and access problems (None when ``exc`` is something else)."""
    text = f"{type(exc).__name__}: {exc}"
    creds = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "AccessDenied",
             "Forbidden", "403", "AuthorizationHeaderMalformed", "ExpiredToken")
    if "NoCredentials" in text or "Unable to locate credentials" in text:
        return BackupError(f"{url}: no S3 credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                           "(and AWS_ENDPOINT_URL for a non-AWS server) or configure ~/.aws/credentials")
    if isinstance(exc, PermissionError) or any(c in text for c in creds):
        return BackupError(f"{url}: the S3 server refused the credentials ({text.splitlines()[0][:200]}); "
                           "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the AWS profile) and "
                           "AWS_ENDPOINT_URL")
    if "NoSuchBucket" in text:
        return BackupError(f"{url}: the bucket does not exist; create it first (e.g. `aws s3 mb`)")
    if any(c in text for c in ("EndpointConnectionError", "ConnectTimeout", "Connection refused",
                               "Cannot connect to host")):
        return BackupError(f"{url}: cannot reach the S3 endpoint ({text.splitlines()[0][:200]}); "
                           "check AWS_ENDPOINT_URL and the network")
    return None


class S3Target(Target):
    """An S3-compatible bucket and prefix through s3fs (AWS, MinIO, Ceph, SeaweedFS, rclone ...).

    Credentials and endpoint come only from the environment or the standard AWS config files. Each
    object is uploaded whole (a PUT is atomic) and recorded in the manifest afterwards.
    """

    parallel = 4
    renames = False

    def __init__(self, url: str) -> None:
        try:
            import s3fs
        except ImportError as exc:  # pragma: no cover - dependency
            raise BackupError("S3 targets need s3fs: pip install 's3fs[boto3]'") from exc
        parsed = urlparse(url)
        if not parsed.netloc:
            raise BackupError(f"{url}: an S3 URL needs a bucket, e.g. s3://bucket/prefix")
        self.url = url.rstrip("/")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.root = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        client_kwargs = {}
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            client_kwargs["endpoint_url"] = endpoint
        self.fs = s3fs.S3FileSystem(
            skip_instance_cache=True, use_listings_cache=False, client_kwargs=client_kwargs,
            config_kwargs={"connect_timeout": 20, "read_timeout": NET_TIMEOUT, "retries": {"max_attempts": 3}})
        self._check()

    def _check(self) -> None:
        try:
            self.fs.ls(self.bucket, refresh=True)
        except FileNotFoundError:
            raise BackupError(f"{self.url}: the bucket {self.bucket!r} does not exist (or is not visible with "
                              "these credentials); create it first") from None
        except Exception as exc:  # noqa: BLE001 - translated below
            err = _s3_error(exc, self.url)
            if err is not None:
                raise err from None
            raise BackupError(f"{self.url}: cannot open the S3 target: {exc}") from exc

    def _full(self, key: str) -> str:
        return f"{self.root}/{key}"

    def _with_deadline(self, fn, *args, **kwargs):
        """Run an s3fs call under a deadline we enforce (botocore's timeouts do not cover every stall),
        retrying a timed-out call twice; calls without an async twin run as they are."""
        import inspect

        import fsspec.asyn

        afn = getattr(self.fs, "_" + getattr(fn, "__name__", ""), None)
        if afn is None or not inspect.iscoroutinefunction(afn):
            return fn(*args, **kwargs)
        for attempt in range(3):
            try:
                return fsspec.asyn.sync(self.fs.loop, afn, *args, timeout=CALL_DEADLINE, **kwargs)
            except fsspec.asyn.FSTimeoutError:
                if attempt == 2:
                    raise BackupError(f"{self.url}: the S3 server did not answer {fn.__name__} within "
                                      f"{CALL_DEADLINE:.0f} s (3 tries)") from None
        raise AssertionError("unreachable")

    def _call(self, fn, *args, **kwargs):
        try:
            return self._with_deadline(fn, *args, **kwargs)
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001
            err = _s3_error(exc, self.url)
            if err is not None:
                raise err from None
            raise

    def list(self) -> dict[str, int]:
        """Every object under the prefix as ``{key: size}``."""
        try:
            found = self._call(self.fs.find, self.root, detail=True)
        except FileNotFoundError:
            return {}
        n = len(self.root) + 1
        return {p[n:]: int(info.get("size") or 0) for p, info in found.items()
                if info.get("type", "file") != "directory" and p.startswith(self.root + "/")}

    def put_file(self, src: Path, key: str) -> None:
        """Upload ``src`` whole under ``key``."""
        self._call(self.fs.put_file, str(src), self._full(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        """Upload ``data`` whole under ``key``."""
        self._call(self.fs.pipe_file, self._full(key), data)

    def get_bytes(self, key: str) -> bytes:
        """Download ``key`` whole."""
        return self._call(self.fs.cat_file, self._full(key))

    def open(self, key: str) -> BinaryIO:
        """Stream ``key`` (no read-ahead cache)."""
        return self._call(self.fs.open, self._full(key), "rb", block_size=_CHUNK, cache_type="none")

    def sha256(self, key: str) -> tuple[str, int]:
        """Hash ``key`` as stored on the server (small objects in one request)."""
        try:
            data = self.get_bytes(key)
        except FileNotFoundError:
            raise
        return hashlib.sha256(data).hexdigest(), len(data)

    def delete(self, key: str) -> None:
        """Delete ``key``."""
        with contextlib.suppress(FileNotFoundError):
            self._call(self.fs.rm_file, self._full(key))


# -------------------------------------------------------------------------------------------- SFTP
class SFTPTarget(Target):
    """A folder on an SFTP server, with a minimal paramiko client of its own.

    Host keys are checked against ``~/.ssh/known_hosts`` (and ``known_hosts`` if given); an unknown host
    is rejected unless ``host_key_policy="accept-new"``, which records its key in ``known_hosts``. A
    changed host key is always rejected. Each upload goes to a temporary name, is fsynced where the server
    supports ``fsync@openssh.com``, then renamed with ``posix-rename@openssh.com``.
    """

    parallel = 1

    def __init__(self, url: str, known_hosts: str | os.PathLike | None = None, host_key_policy: str = "reject",
                 key_filename: str | os.PathLike | None = None, timeout: float = NET_TIMEOUT) -> None:
        try:
            import paramiko
        except ImportError as exc:  # pragma: no cover - dependency
            raise BackupError("SFTP targets need paramiko: pip install paramiko") from exc
        parsed = urlparse(url)
        if not parsed.hostname:
            raise BackupError(f"{url}: an SFTP URL needs a host, e.g. sftp://user@host/path")
        if host_key_policy not in ("reject", "accept-new"):
            raise BackupError(f"{url}: host_key_policy must be 'reject' or 'accept-new', got {host_key_policy!r}")
        self.url = url.rstrip("/")
        self.host = parsed.hostname
        self.port = parsed.port or 22
        self.root = unquote(parsed.path) or "."
        self.timeout = timeout
        client = paramiko.SSHClient()
        client.load_system_host_keys()
        kh = Path(known_hosts).expanduser() if known_hosts else None
        if kh is not None and kh.exists():
            client.load_host_keys(str(kh))
        if host_key_policy == "accept-new":
            if kh is not None:
                kh.parent.mkdir(parents=True, exist_ok=True)
                kh.touch(exist_ok=True)
                client.load_host_keys(str(kh))
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(self.host, port=self.port, username=parsed.username or None,
                           key_filename=str(key_filename) if key_filename else None, timeout=timeout,
                           banner_timeout=timeout, auth_timeout=timeout, allow_agent=True, look_for_keys=True)
        except paramiko.BadHostKeyException as exc:
            raise BackupError(f"{url}: the host key of {self.host} has CHANGED (possible man-in-the-middle); "
                              f"refusing to connect: {exc}") from None
        except paramiko.SSHException as exc:
            if "not found in known_hosts" in str(exc):
                raise BackupError(f"{url}: unknown host key for {self.host}:{self.port}; add it to known_hosts "
                                  "(ssh-keyscan) or choose host_key_policy: accept-new explicitly") from None
            raise BackupError(f"{url}: SSH connection failed: {exc}") from None
        except OSError as exc:
            raise BackupError(f"{url}: cannot connect to {self.host}:{self.port}: {exc}") from None
        if host_key_policy == "accept-new" and kh is not None:
            client.save_host_keys(str(kh))
        self.client = client
        self.sftp = client.open_sftp()
        self.sftp.get_channel().settimeout(timeout)
        self._made: set[str] = set()

    def _full(self, key: str) -> str:
        return posixpath.join(self.root, key)

    def _mkdirs(self, path: str) -> None:
        parts = []
        while path and path not in ("/", ".") and path not in self._made:
            parts.append(path)
            path = posixpath.dirname(path)
        for p in reversed(parts):
            try:
                self.sftp.mkdir(p)
            except OSError:
                try:
                    if not stat.S_ISDIR(self.sftp.stat(p).st_mode):
                        raise BackupError(f"{self.url}: {p} exists and is not a folder") from None
                except FileNotFoundError:
                    raise BackupError(f"{self.url}: cannot create folder {p}") from None
            self._made.add(p)

    def _walk(self, path: str, rel: str, out: dict[str, int]) -> None:
        try:
            entries = self.sftp.listdir_attr(path)
        except FileNotFoundError:
            return
        for e in entries:
            key = f"{rel}{e.filename}"
            if stat.S_ISDIR(e.st_mode or 0):
                self._walk(posixpath.join(path, e.filename), key + "/", out)
            else:
                out[key] = int(e.st_size or 0)

    def list(self) -> dict[str, int]:
        """Every file under the root as ``{key: size}``."""
        out: dict[str, int] = {}
        self._walk(self.root, "", out)
        return out

    def _fsync(self, fh) -> None:
        from paramiko.sftp import CMD_EXTENDED

        with contextlib.suppress(Exception):
            self.sftp._request(CMD_EXTENDED, "fsync@openssh.com", fh.handle)

    def _write_atomic(self, key: str, chunks: Iterator[bytes]) -> None:
        final = self._full(key)
        self._mkdirs(posixpath.dirname(final))
        tmp = posixpath.join(posixpath.dirname(final), f"{TMP_PREFIX}{posixpath.basename(final)}."
                             f"{uuid.uuid4().hex[:8]}")
        deadline = time.monotonic() + max(self.timeout, 1.0) * 60
        try:
            with self.sftp.open(tmp, "wb") as fh:
                fh.set_pipelined(True)
                for block in chunks:
                    if time.monotonic() > deadline:
                        raise BackupError(f"{self.url}: upload of {key} exceeded its deadline")
                    fh.write(block)
                self._fsync(fh)
            self.sftp.posix_rename(tmp, final)
        except BaseException:
            with contextlib.suppress(Exception):
                self.sftp.remove(tmp)
            raise

    def put_file(self, src: Path, key: str) -> None:
        """Upload ``src`` to a temporary name and rename it to ``key``."""
        def chunks():
            with open(src, "rb") as fin:
                while block := fin.read(_CHUNK):
                    yield block
        self._write_atomic(key, chunks())

    def put_bytes(self, key: str, data: bytes) -> None:
        """Upload ``data`` atomically under ``key``."""
        self._write_atomic(key, iter([data]))

    def open(self, key: str) -> BinaryIO:
        """Open ``key`` for reading (prefetching)."""
        fh = self.sftp.open(self._full(key), "rb")
        fh.prefetch()
        return fh

    def delete(self, key: str) -> None:
        """Remove ``key``."""
        with contextlib.suppress(FileNotFoundError):
            self.sftp.remove(self._full(key))

    def remove_temps(self) -> int:
        """Delete ``.crac-tmp-*`` leftovers under the root."""
        n = 0
        for key in self.list():
            if _is_temp(key):
                self.delete(key)
                n += 1
        return n

    def close(self) -> None:
        """Close the SFTP session and the SSH connection."""
        with contextlib.suppress(Exception):
            self.sftp.close()
        with contextlib.suppress(Exception):
            self.client.close()


def open_target(url: str | os.PathLike, **options) -> Target:
    """Open a backup target from its URL.

    Parameters
    ----------
    url
        A local path or ``file://`` URL, ``s3://bucket/prefix`` or ``sftp://[user@]host[:port]/path``.
    **options
        SFTP only: ``known_hosts``, ``host_key_policy`` (``reject`` or ``accept-new``), ``key_filename``,
        ``timeout``.

    Raises
    ------
    BackupError
        Unknown scheme, unreachable server, refused credentials or unknown host key.

    Examples
    --------
    >>> import tempfile
    >>> open_target(tempfile.mkdtemp()).list()
    {}
    """
    text = os.fspath(url)
    scheme = urlparse(text).scheme if "://" in text else ""
    if scheme in ("", "file"):
        return LocalTarget(unquote(urlparse(text).path) if scheme == "file" else text)
    if scheme in ("s3", "s3a"):
        return S3Target(text)
    if scheme in ("sftp", "ssh"):
        allowed = {"known_hosts", "host_key_policy", "key_filename", "timeout"}
        return SFTPTarget(text, **{k: v for k, v in options.items() if k in allowed and v is not None})
    raise BackupError(f"{text}: unsupported backup target (use a path, s3://bucket/prefix or sftp://host/path)")
