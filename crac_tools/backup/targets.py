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

import base64
import contextlib
import ctypes
import errno
import functools
import hashlib
import os
import posixpath
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from ..fsutil import FILE_MODE, TMP_PREFIX, atomic_write_bytes, block_buffer, fsync_dir
from ..fsutil import sha256_and_size as hash_local
from .errors import BackupError, SourceChanged
from .manifest import is_temp_key

_CHUNK = 1 << 22
#: Deadline (seconds) for connecting and for each network read/write that stalls.
NET_TIMEOUT = 60.0
#: Deadline of one S3 call (one PUT of at most ``S3_SINGLE_PUT`` bytes, or one multipart part), enforced
#: around s3fs; a call that misses it is cancelled and retried twice.
CALL_DEADLINE = float(os.environ.get("CRAC_S3_DEADLINE", "120"))
#: Files up to this size go to S3 in one PUT of the bytes that were hashed; larger ones as a multipart upload.
S3_SINGLE_PUT = 16 << 20
#: Part size of S3 multipart uploads (S3's minimum is 5 MiB).
S3_PART = 8 << 20

#: The final key of an object as a function of the sha256 (hex) of its bytes.
KeyOf = Callable[[str], str]


def _probe_key(key: str | KeyOf) -> str:
    """A key in the same folder as the final key (which may depend on the digest only in its name)."""
    return key if isinstance(key, str) else key("0" * 64)


def _final_key(key: str | KeyOf, digest: str) -> str:
    return key if isinstance(key, str) else key(digest)


def _check_digest(src: str | os.PathLike, digest: str, expect: str | None) -> None:
    if expect is not None and digest != expect:
        raise SourceChanged(f"{src}: read with sha256 {digest[:16]}..., expected {expect[:16]}...; not stored",
                            digest)


#: Threads for CPU-bound work on local files (hashing, or reading + hashing + writing from the page cache):
#: one per core, at least 2 and at most 4 (hashlib and file I/O release the GIL).
CPU_THREADS = max(2, min(4, os.cpu_count() or 2))


class Target:
    """Base class of backup targets (keys are POSIX paths relative to the target root)."""

    url: str = ""
    #: Worker threads used to send objects.
    parallel: int = 2
    #: Worker threads used to re-read objects (verify); ``None``: as ``parallel``.
    read_parallel: int | None = None
    #: Whether an object can be stored under a temporary name and renamed (False on S3).
    renames: bool = True

    def list(self) -> dict[str, int]:
        """Every object under the root as ``{key: size}`` (temporary leftovers included)."""
        raise NotImplementedError

    def put_file(self, src: Path, key: str | KeyOf, expect: str | None = None) -> tuple[str, int]:
        """Store the file ``src`` atomically, hashing the very bytes that are stored.

        Parameters
        ----------
        src
            The project file.
        key
            The final key, or a function giving it from the sha256 of the bytes read (so that a file whose
            hash is not known yet is read only once; the function may change only the name, not the folder).
        expect
            The sha256 the bytes must have. When they differ (the file changed since it was hashed, or fails
            its ``SHA256SUMS``), nothing is stored and :class:`~crac_tools.backup.errors.SourceChanged` is raised.

        Returns
        -------
        tuple of (str, int)
            sha256 (hex) and size of the stored bytes.
        """
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

    def remove_temps(self, listing: dict[str, int] | None = None) -> int:
        """Delete temporary objects left by an interrupted backup (found in ``listing``, a fresh
        :meth:`list`, when given); return how many."""
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


# ------------------------------------------------------------------------------------------- local
_LIBC: list = []
#: ``sync_file_range`` flag: start writeback of the range's dirty pages, do not wait for it.
_SYNC_FILE_RANGE_WRITE = 2
#: Copies at least this large have their writeback started at once (for small files the early block
#: allocation costs more CPU than it saves in the final sync).
WRITEBACK_MIN = 1 << 20


def _libc():
    if not _LIBC:
        try:
            _LIBC.append(ctypes.CDLL(None, use_errno=True))
        except OSError:  # pragma: no cover - no C library to load
            _LIBC.append(None)
    return _LIBC[0]


def _start_writeback(fd: int) -> None:
    """Ask the kernel to start writing a file's dirty pages now (asynchronously, Linux only).

    Nothing is promised by this call; it only lets the disk work while later files are copied, so that the
    one :func:`_syncfs` before the commit has little left to wait for.
    """
    libc = _libc()
    fn = getattr(libc, "sync_file_range", None) if libc is not None else None
    if fn is None:
        return
    if fn.argtypes is None:
        fn.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    fn(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


_AT_FDCWD = -100
_AT_EMPTY_PATH = 0x1000


def _link_fd(fd: int, final: str | os.PathLike) -> None:
    """Give the unnamed file open as ``fd`` (``O_TMPFILE``) the name ``final`` (fails if it exists)."""
    libc = _libc()
    fn = getattr(libc, "linkat", None) if libc is not None else None
    if fn is not None:
        if fn.argtypes is None:
            fn.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        if fn(fd, b"", _AT_FDCWD, os.fsencode(final), _AT_EMPTY_PATH) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOENT, errno.EPERM, errno.EINVAL, errno.ENOSYS):
            raise OSError(err, os.strerror(err), str(final))
    os.link(f"/proc/self/fd/{fd}", final, follow_symlinks=True)  # without CAP_DAC_READ_SEARCH on old kernels


def _syncfs(path: Path) -> None:
    """Flush the whole filesystem holding ``path`` (one call instead of one fsync per file)."""
    libc = _libc()
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            if libc is not None and libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    except (OSError, AttributeError):
        pass
    os.sync()


def _rotational(path: Path) -> bool:
    """True when ``path`` (or its nearest existing parent) is on a spinning disk (Linux; False if unknown).

    Virtual disks (virtio, Xen) report "rotational" whatever backs them, so they count as unknown.
    """
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        st = os.stat(path)
        dev = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
        if any(v in str(dev.resolve()) for v in ("/virtio", "/xen", "/vbd-")):
            return False
        for q in (dev / "queue" / "rotational", dev / ".." / "queue" / "rotational"):  # disk, or partition
            if q.exists():
                return q.read_text().strip() == "1"
    except (OSError, ValueError):
        pass
    return False


class LocalTarget(Target):
    """A folder on a local or mounted filesystem (second disk, external drive, NAS mount).

    Each object is copied in one pass that reads the source once, hashes it and writes the copy (so the
    stored bytes are exactly the hashed bytes) to a file that has no name yet (``O_TMPFILE`` in the final
    folder; where the filesystem cannot, a ``.crac-tmp-*`` name beside the final one), which is then linked
    (renamed) into place whole: a partial copy never appears under a final name, and one interrupted by a
    crash leaves nothing behind. The kernel is asked to start writing large copies at once, and
    :meth:`flush` syncs the filesystem once before the manifest is written (the manifest itself is written
    with fsync + rename + directory fsync).
    """

    #: Copies are CPU-bound (read, sha256, write from the page cache): one thread per core, up to 4.
    parallel = CPU_THREADS
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)
        self._dirs: set[str] = set()
        self._made: set[str] = set()
        self._anonymous: bool | None = None  # O_TMPFILE + link works here (probed on the first copy)
        self._probe_lock = threading.Lock()

    @functools.cached_property
    def read_parallel(self) -> int:  # type: ignore[override]
        """Objects read at once by verify and restore: 4 in flight keep an SSD busy while the hashing keeps
        up; on a spinning disk (a USB backup drive) parallel streams only add seeks (probed on first use)."""
        return 1 if _rotational(self.root) else 4

    def _path(self, key: str) -> Path:
        return self.root / key

    def list(self) -> dict[str, int]:
        """Every file under the root as ``{key: size}``."""
        out: dict[str, int] = {}
        if not self.root.is_dir():
            return out

        def walk(path: str, rel: str) -> None:
            try:
                it = os.scandir(path)
            except FileNotFoundError:
                return
            with it:
                for e in it:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            walk(e.path, f"{rel}{e.name}/")
                        else:
                            out[f"{rel}{e.name}"] = e.stat().st_size
                    except FileNotFoundError:
                        continue

        walk(str(self.root), "")
        return out

    def _can_link_anonymous(self, folder: str) -> bool:
        """Whether unnamed files (``O_TMPFILE``) can be created and linked here (probed once)."""
        if self._anonymous is None:
            with self._probe_lock:
                if self._anonymous is None:
                    probe = Path(folder) / f"{TMP_PREFIX}probe.{uuid.uuid4().hex[:8]}"
                    try:
                        fd = os.open(folder, os.O_WRONLY | os.O_TMPFILE | os.O_CLOEXEC, FILE_MODE)
                        try:
                            _link_fd(fd, probe)
                        finally:
                            os.close(fd)
                        probe.unlink()
                        self._anonymous = True
                    except (OSError, AttributeError):  # no O_TMPFILE (filesystem, OS) or no way to link it
                        with contextlib.suppress(OSError):
                            probe.unlink()
                        self._anonymous = False
        return self._anonymous

    def put_file(self, src: Path, key: str | KeyOf, expect: str | None = None) -> tuple[str, int]:
        """Copy ``src`` to an unnamed (or temporary) file in the final key's folder, hashing it on the way,
        and link (or rename) it into place whole (see :meth:`Target.put_file`)."""
        probe = _probe_key(key)
        folder = os.path.dirname(f"{self.url}/{probe}")  # plain strings: pathlib costs show on small files
        if folder not in self._made:
            os.makedirs(folder, exist_ok=True)
            self._made.add(folder)
        tmp: str | None = None
        h = hashlib.sha256()
        buf = block_buffer()
        view = memoryview(buf)
        n = 0
        fin = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with contextlib.suppress(OSError, AttributeError):
                os.posix_fadvise(fin, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            if self._can_link_anonymous(folder):
                fout = os.open(folder, os.O_WRONLY | os.O_TMPFILE | os.O_CLOEXEC, FILE_MODE)
            else:
                tmp = f"{folder}/{TMP_PREFIX}{posixpath.basename(probe)}.{uuid.uuid4().hex[:8]}"
                fout = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
            try:
                while k := os.readv(fin, [buf]):
                    block = view[:k]
                    h.update(block)
                    done = 0
                    while done < k:
                        done += os.write(fout, block[done:])
                    n += k
                os.fchmod(fout, FILE_MODE)  # the creation mode went through the umask
                if n >= WRITEBACK_MIN:
                    _start_writeback(fout)
                digest = h.hexdigest()
                _check_digest(src, digest, expect)
                final = f"{self.url}/{_final_key(key, digest)}"
                if tmp is None:
                    try:
                        _link_fd(fout, final)
                    except FileExistsError:  # replacing a damaged object: name it, then rename over it
                        tmp = f"{folder}/{TMP_PREFIX}{os.path.basename(final)}.{uuid.uuid4().hex[:8]}"
                        _link_fd(fout, tmp)
                        os.replace(tmp, final)
                else:
                    os.replace(tmp, final)
            finally:
                os.close(fout)
        except BaseException:
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            raise
        finally:
            os.close(fin)
        self._dirs.add(folder)
        return digest, n

    def put_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` atomically and durably (fsync, rename, directory fsync)."""
        atomic_write_bytes(self._path(key), data)

    def open(self, key: str) -> BinaryIO:
        """Open ``key`` for binary reading."""
        return open(self._path(key), "rb")

    def sha256(self, key: str) -> tuple[str, int]:
        """Hash the bytes of ``key`` as stored (read sequentially in large blocks)."""
        return hash_local(self._path(key))

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
            self._made.discard(str(parent))
            parent = parent.parent

    def flush(self) -> None:
        """Sync the target filesystem, then fsync every folder that received objects."""
        if self.root.exists():
            _syncfs(self.root)
        for d in sorted(self._dirs):
            fsync_dir(d)
        self._dirs.clear()

    def remove_temps(self, listing: dict[str, int] | None = None) -> int:
        """Delete ``.crac-tmp-*`` leftovers under the root (found in ``listing`` when given)."""
        n = 0
        for key in list(self.list() if listing is None else listing):
            if is_temp_key(key):
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

    #: Concurrent uploads and reads (measured against rclone serve s3 on 2 cores: 16 beats 4 and 128).
    parallel = 16
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
            config_kwargs={"connect_timeout": 20, "read_timeout": NET_TIMEOUT, "retries": {"max_attempts": 3},
                           # reads are judged by our own sha256 against the manifest (a damaged object is then
                           # named "different" instead of failing inside botocore)
                           "response_checksum_validation": "when_required"})
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

    def _retrying(self, afn, name: str, *args, **kwargs):
        """Await ``afn(*args, **kwargs)`` on s3fs's loop under ``CALL_DEADLINE`` (fsspec cancels a call that
        stalls; botocore's own timeouts do not cover every stall), trying a timed-out call three times."""
        import fsspec.asyn

        for _attempt in range(3):
            try:
                return fsspec.asyn.sync(self.fs.loop, afn, *args, timeout=CALL_DEADLINE, **kwargs)
            except TimeoutError:  # fsspec's FSTimeoutError and asyncio's are TimeoutError subclasses
                continue
        raise BackupError(f"{self.url}: the S3 server did not answer {name} within {CALL_DEADLINE:.0f} s "
                          "(3 tries)")

    def _with_deadline(self, fn, *args, **kwargs):
        """Run an s3fs call through its async twin under :meth:`_retrying`; calls without one run as they are."""
        import inspect

        name = getattr(fn, "__name__", "").lstrip("_")  # fsspec's sync wrappers carry the async name
        afn = getattr(self.fs, "_" + name, None)
        if not name or afn is None or not inspect.iscoroutinefunction(afn):
            return fn(*args, **kwargs)
        return self._retrying(afn, name, *args, **kwargs)

    def _s3(self, method: str, **kwargs):
        """One S3 API call under :meth:`_retrying`, errors translated as for :meth:`_call`."""
        with self._translated(FileNotFoundError, BackupError):
            return self._retrying(self.fs._call_s3, method, method, **kwargs)

    @contextlib.contextmanager
    def _translated(self, *passthrough: type[BaseException]):
        """Turn S3 client errors into :class:`BackupError` naming the target (``passthrough`` ones propagate)."""
        try:
            yield
        except passthrough:
            raise
        except Exception as exc:  # noqa: BLE001
            err = _s3_error(exc, self.url)
            if err is not None:
                raise err from None
            raise

    def _call(self, fn, *args, **kwargs):
        with self._translated(FileNotFoundError):
            return self._with_deadline(fn, *args, **kwargs)

    def list(self) -> dict[str, int]:
        """Every object under the prefix as ``{key: size}``."""
        try:
            found = self._call(self.fs.find, self.root, detail=True)
        except FileNotFoundError:
            return {}
        n = len(self.root) + 1
        return {p[n:]: int(info.get("size") or 0) for p, info in found.items()
                if info.get("type", "file") != "directory" and p.startswith(self.root + "/")}

    def _name(self, key: str) -> str:
        """The S3 object name (within the bucket) of ``key``."""
        return f"{self.prefix}/{key}" if self.prefix else key

    def _put_object(self, key: str, data: bytes, digest: str) -> None:
        # the sha256 goes with the PUT: servers that check it (AWS, MinIO, Ceph) store nothing if the body
        # differs, and botocore need not compute a checksum of its own
        self._s3("put_object", Bucket=self.bucket, Key=self._name(key), Body=data,
                 ChecksumSHA256=base64.b64encode(bytes.fromhex(digest)).decode("ascii"))

    def put_file(self, src: Path, key: str | KeyOf, expect: str | None = None) -> tuple[str, int]:
        """Upload ``src`` under its key: files up to ``S3_SINGLE_PUT`` are read once, hashed and sent in one
        PUT (atomic); larger ones as a multipart upload of ``S3_PART`` parts, each call under the deadline,
        completed only when the bytes sent hash as expected (see :meth:`Target.put_file`)."""
        size = os.stat(src).st_size
        if size <= S3_SINGLE_PUT:
            with open(src, "rb") as fh:
                data = fh.read()
            digest = hashlib.sha256(data).hexdigest()
            _check_digest(src, digest, expect)
            self._put_object(_final_key(key, digest), data, digest)
            return digest, len(data)
        if not isinstance(key, str):  # the name needs the hash before the first part is sent
            first, _ = hash_local(src)
            _check_digest(src, first, expect)
            key, expect = key(first), first
        return self._put_multipart(src, key, expect)

    def _put_multipart(self, src: Path, key: str, expect: str | None) -> tuple[str, int]:
        name = self._name(key)
        mpu = self._s3("create_multipart_upload", Bucket=self.bucket, Key=name)
        upload = mpu["UploadId"]
        h = hashlib.sha256()
        n = 0
        parts = []
        try:
            with open(src, "rb") as fh:
                while block := fh.read(S3_PART):
                    h.update(block)
                    n += len(block)
                    out = self._s3("upload_part", Bucket=self.bucket, Key=name, UploadId=upload,
                                   PartNumber=len(parts) + 1, Body=block)
                    parts.append({"PartNumber": len(parts) + 1, "ETag": out["ETag"]})
            digest = h.hexdigest()
            _check_digest(src, digest, expect)
            self._s3("complete_multipart_upload", Bucket=self.bucket, Key=name, UploadId=upload,
                     MultipartUpload={"Parts": parts})
        except BaseException:
            with contextlib.suppress(Exception):
                self._s3("abort_multipart_upload", Bucket=self.bucket, Key=name, UploadId=upload)
            raise
        return digest, n

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

    def _write_atomic(self, key: str | KeyOf, chunks: Iterator[bytes], expect: str | None = None,
                      src: str = "") -> tuple[str, int]:
        probe = self._full(_probe_key(key))
        self._mkdirs(posixpath.dirname(probe))
        tmp = posixpath.join(posixpath.dirname(probe), f"{TMP_PREFIX}{posixpath.basename(probe)}."
                             f"{uuid.uuid4().hex[:8]}")
        deadline = time.monotonic() + max(self.timeout, 1.0) * 60
        h = hashlib.sha256()
        n = 0
        try:
            with self.sftp.open(tmp, "wb") as fh:
                fh.set_pipelined(True)
                for block in chunks:
                    if time.monotonic() > deadline:
                        raise BackupError(f"{self.url}: upload of {_probe_key(key)} exceeded its deadline")
                    h.update(block)
                    n += len(block)
                    fh.write(block)
                self._fsync(fh)
            digest = h.hexdigest()
            _check_digest(src or tmp, digest, expect)
            self.sftp.posix_rename(tmp, self._full(_final_key(key, digest)))
        except BaseException:
            with contextlib.suppress(Exception):
                self.sftp.remove(tmp)
            raise
        return digest, n

    def put_file(self, src: Path, key: str | KeyOf, expect: str | None = None) -> tuple[str, int]:
        """Upload ``src`` to a temporary name, hashing it on the way, and rename it to its key (see
        :meth:`Target.put_file`)."""
        def chunks():
            with open(src, "rb") as fin:
                while block := fin.read(_CHUNK):
                    yield block
        return self._write_atomic(key, chunks(), expect, str(src))

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

    def remove_temps(self, listing: dict[str, int] | None = None) -> int:
        """Delete ``.crac-tmp-*`` leftovers under the root (found in ``listing`` when given)."""
        n = 0
        for key in list(self.list() if listing is None else listing):
            if is_temp_key(key):
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
