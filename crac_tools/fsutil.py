"""Atomic file writing, hashing and locking helpers shared by every stage.

Every final file the project writes appears by ``os.replace`` of a fsynced temporary file in the same
directory, followed by an fsync of the directory (reliability rule 2).

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_path(d / "out.txt") as tmp:
...     _ = tmp.write_text("hello")
>>> (d / "out.txt").read_text()
'hello'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TMP_PREFIX = ".crac-tmp-"
#: Permissions of final files (mkstemp would leave 0600; archives are shared and served).
FILE_MODE = 0o644
_CHUNK = 1 << 20


def fsync_dir(path: str | os.PathLike) -> None:
    """Fsync a directory so a rename inside it is durable (no-op where unsupported)."""
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a closed file's data to disk."""
    fd = os.open(os.fspath(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success fsync it and rename it into place.

    The temporary file is removed when the block raises, so a partial file never appears under the
    final name. ``suffix`` lets libraries that look at the extension (netCDF, matplotlib) see one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.bin") as tmp:
    ...     _ = tmp.write_bytes(b"x")
    >>> sorted(p.name for p in d.iterdir())
    ['a.bin']
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX + final.name + ".", suffix=suffix or final.suffix,
                                dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, FILE_MODE)
    try:
        yield tmp
        if tmp.is_dir():
            raise IsADirectoryError(f"atomic_path: {tmp} became a directory; use atomic_dir")
        fsync_file(tmp)
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            if tmp.is_dir():  # unlink() would raise IsADirectoryError and hide the real error
                shutil.rmtree(tmp)
            else:
                tmp.unlink()
        raise


def atomic_write_bytes(final: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``final`` atomically and return the final path."""
    with atomic_path(final) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(final)


def atomic_write_text(final: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``final`` atomically and return the final path."""
    return atomic_write_bytes(final, text.encode("utf-8"))


def atomic_write_json(final: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON to ``final`` atomically."""
    return atomic_write_text(final, json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    """Read JSON from ``path``; return ``default`` when the file does not exist."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return default


def sha256_file(path: str | os.PathLike, limit: int | None = None) -> str:
    """Return the hex sha256 of a file, or of its first ``limit`` bytes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:12]
    'ba7816bf8f01'
    """
    if limit is None:
        return sha256_and_size(path)[0]
    h = hashlib.sha256()
    remaining = limit
    with open(path, "rb") as fh:
        while True:
            n = _CHUNK if remaining is None else min(_CHUNK, remaining)
            if n == 0:
                break
            block = fh.read(n)
            if not block:
                break
            h.update(block)
            if remaining is not None:
                remaining -= len(block)
    return h.hexdigest()


_TLS = threading.local()


def block_buffer() -> bytearray:
    """A per-thread 1 MiB block buffer (allocating and zeroing one per file costs more than it seems)."""
    buf = getattr(_TLS, "buf", None)
    if buf is None:
        buf = _TLS.buf = bytearray(_CHUNK)
    return buf


def sha256_and_size(path: str | os.PathLike) -> tuple[str, int]:
    """The sha256 (hex) and size of a file, read once, sequentially, in large blocks (threads may share it).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_and_size(p)[0][:12], sha256_and_size(p)[1]
    ('ba7816bf8f01', 3)
    """
    h = hashlib.sha256()
    buf = block_buffer()
    view = memoryview(buf)
    n = 0
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(OSError, AttributeError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while k := os.readv(fd, [buf]):
            h.update(view[:k])
            n += k
    finally:
        os.close(fd)
    return h.hexdigest(), n


def copy_atomic(src: str | os.PathLike, dst: str | os.PathLike, length: int | None = None) -> str:
    """Copy ``src`` (or its first ``length`` bytes) to ``dst`` atomically; return the copy's sha256.

    The hash is computed from the bytes written, and the written copy is re-read and compared before
    the rename, so a copy that does not match what was read never appears under the final name.
    """
    h = hashlib.sha256()
    with atomic_path(dst) as tmp:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            remaining = length
            while remaining is None or remaining > 0:
                n = _CHUNK if remaining is None else min(_CHUNK, remaining)
                block = fin.read(n)
                if not block:
                    break
                h.update(block)
                fout.write(block)
                if remaining is not None:
                    remaining -= len(block)
        if remaining:
            raise OSError(f"{src} shrank while being copied ({remaining} of {length} bytes missing)")
        digest = h.hexdigest()
        if sha256_file(tmp) != digest:
            raise OSError(f"verification of the copy of {src} failed (re-read hash differs)")
        shutil.copystat(src, tmp)
        os.chmod(tmp, FILE_MODE)  # copystat copied the source's mode (maybe 0600 or read-only)
    return digest


def remove_stale_temps(root: str | os.PathLike) -> int:
    """Delete temporary files left by an interrupted run under ``root``; return how many."""
    n = 0
    for p in Path(root).rglob(TMP_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
            n += 1
    return n
