"""The collection algorithm, over a small "source filesystem" interface shared by folder and SFTP sources.

A :class:`Source` lists files matching glob patterns (with size and mtime), streams a byte range of a file,
and optionally hashes a prefix of a file on its own side (``sha256sum`` over SSH). :func:`collect_source`
decides per file what to do, from the per-source state kept in the station's raw archive:

- unchanged (same size and mtime): skipped without reading;
- same size, new mtime, same hash: only the mtime is remembered (a ``touch``);
- grown, with the already-collected prefix unchanged (hash of the first ``size`` bytes): the local copy is
  verified against its recorded hash, then extended with the new bytes only, into a temp file that ends equal
  to the source's first ``length`` bytes, verified and renamed over the old copy (action ``"grown"``);
- shrunk, or prefix changed (rewritten): a new version ``name__vN.ext`` beside the old copy (``"version"``);
- new: copied (``"new"``).

A text file modified within the last ``settle`` seconds whose last line has no newline is still being
written: it is collected up to its last complete line, and the rest is picked up by a later run.

Every transfer lands under a temp name, is verified (the sha256 of what was written is re-read from disk,
and compared with the source's own hash when the source can compute one cheaply), fsynced and renamed; the
state and manifest are saved atomically after each durable copy, so a crash or a dropped link loses at most
the file in flight and the next run resumes after the last durable file. Deleting at the source is off by
default; when enabled it happens only after the copy is durable and the source's hash (or a re-read)
matches it.

Examples
--------
>>> from crac_tools.collect.transfer import LocalSource, collect_source
>>> from crac_tools.collect.manifest import RawArchive
>>> report = collect_source(LocalSource(), ["/data/alpha/*.dat"], RawArchive(archive, "alpha_met"))  # doctest: +SKIP
>>> [c.action for c in report.copied]  # doctest: +SKIP
['new']
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..errors import CollectError
from ..fsutil import FILE_MODE, TMP_PREFIX, atomic_path, sha256_file
from .manifest import RawArchive
from .records import RecordEvent, RecordTracker, events_to_json, is_record_numbered

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
#: How far back from the end a still-written file is searched for its last newline (then further, by steps).
_TAIL = 64 * 1024


class LinkError(CollectError):
    """The connection to a source failed or was aborted (transient: retried with a new connection)."""


@dataclass
class SourceFile:
    """One file found at a source.

    Attributes
    ----------
    path : str
        The path as the source understands it.
    id : str
        The stable identifier kept in the collection state (a resolved local path, or an ``sftp://`` URL).
    size : int
    mtime_ns : int
    """

    path: str
    id: str
    size: int
    mtime_ns: int

    @property
    def name(self) -> str:
        """The file's base name."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]


class Source(Protocol):
    """What :func:`collect_source` needs from a source (local folder or SFTP server)."""

    label: str

    def missing(self, patterns: list[str]) -> list[str]:
        """Patterns whose base folder does not exist."""

    def list(self, patterns: list[str]) -> list[SourceFile]:
        """Files matching the glob patterns (sorted, de-duplicated, temp files and folders left out)."""

    def stream(self, f: SourceFile, offset: int, length: int, sink: Callable[[bytes], None]) -> None:
        """Pass bytes ``[offset, offset+length)`` of ``f`` to ``sink``; raise OSError if the file is shorter."""

    def source_sha256(self, f: SourceFile, length: int) -> str | None:
        """The sha256 of the first ``length`` bytes computed at the source, or None when it cannot."""

    def remove(self, f: SourceFile) -> None:
        """Delete ``f`` at the source."""

    def file_deadline(self, label: str) -> contextlib.AbstractContextManager:
        """A context manager bounding one whole file transfer."""


class LocalSource:
    """Local or mounted folders (no deadlines: the kernel's own I/O errors apply).

    Examples
    --------
    >>> src = LocalSource()
    >>> src.list(["/nonexistent/*.dat"])
    []
    """

    label = "local"

    def missing(self, patterns: list[str]) -> list[str]:
        return [p for p in patterns if not _base_dir(p).is_dir()]

    def list(self, patterns: list[str]) -> list[SourceFile]:
        seen: dict[str, SourceFile] = {}
        for pat in patterns:
            for m in sorted(glob.glob(pat, recursive=True)):
                p = Path(m)
                if p.is_file() and not p.name.startswith(TMP_PREFIX):
                    r = p.resolve()
                    if str(r) not in seen:
                        st = r.stat()
                        seen[str(r)] = SourceFile(str(r), str(r), st.st_size, st.st_mtime_ns)
        return list(seen.values())

    def stream(self, f: SourceFile, offset: int, length: int, sink: Callable[[bytes], None]) -> None:
        with open(f.path, "rb") as fh:
            fh.seek(offset)
            remaining = length
            while remaining > 0:
                block = fh.read(min(_CHUNK, remaining))
                if not block:
                    raise OSError(errno.EIO, f"{f.path} shrank while being copied ({remaining} of {length} "
                                  "bytes missing)", f.path)
                sink(block)
                remaining -= len(block)

    def source_sha256(self, f: SourceFile, length: int) -> str | None:
        return None  # re-reading locally is what the verification does anyway

    def remove(self, f: SourceFile) -> None:
        os.unlink(f.path)

    def file_deadline(self, label: str) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()


@dataclass
class Collected:
    """One file copied by a collection run.

    Attributes
    ----------
    source : str
        The source file's id (local path or ``sftp://`` URL).
    name : str
        Its name in the raw archive.
    action : str
        ``"new"``, ``"grown"`` or ``"version"``.
    size : int
        Length of the archive copy.
    sha256 : str
        Its sha256.
    transferred : int
        Bytes read from the source for this copy (less than ``size`` for a grown file).
    partial : bool
        Whether the source had an incomplete last line that was left for a later run.
    """

    source: str
    name: str
    action: str
    size: int
    sha256: str
    transferred: int = 0
    partial: bool = False


@dataclass
class CollectReport:
    """What collecting one source (or one station) did.

    Attributes
    ----------
    copied : list[Collected]
    skipped : int
        Files found unchanged.
    retried : int
        Transfers or connections retried after a failure.
    failed : list[str]
        Messages of files or connections that failed for good in this run.
    deleted : list[str]
        Source files deleted after verification (only with ``delete_after_verify``).
    records : list[RecordEvent]
        Holes and resets of record numbers found in the new data.
    retry_reasons : list[str]
        Why each retry happened (deadline passed, connection lost, ...).
    deadline_hits : list[tuple[str, float, float]]
        Every deadline that fired: what, the deadline and the elapsed seconds when it was aborted.
    """

    copied: list[Collected] = field(default_factory=list)
    skipped: int = 0
    retried: int = 0
    failed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    records: list[RecordEvent] = field(default_factory=list)
    retry_reasons: list[str] = field(default_factory=list)
    deadline_hits: list[tuple[str, float, float]] = field(default_factory=list)


@dataclass
class TransferOptions:
    """Options of :func:`collect_source`.

    Attributes
    ----------
    settle : float
        A text file modified less than this many seconds ago is collected up to its last complete line.
    delete_after_verify : bool
        Delete each fully collected source file after its copy is durable and verified against the source.
        Off by default; files modified within ``settle`` seconds (or the last minute) are never deleted.
    """

    settle: float = 0.0
    delete_after_verify: bool = False


def collect_source(source: Source, patterns: list[str], raw: RawArchive, options: TransferOptions | None = None,
                   report: CollectReport | None = None) -> CollectReport:
    """Copy new and grown files of one source into a raw archive (see the module docstring).

    Parameters
    ----------
    source
        A :class:`LocalSource` or an :class:`~crac_tools.collect.sftp.SftpSource`.
    patterns
        Glob patterns in the source's own terms.
    raw
        The station's raw archive (state and manifest are saved after every durable copy).
    options
        Partial-line and deletion options.
    report
        A report to add to (retries of a station accumulate into one report).

    Returns
    -------
    CollectReport

    Raises
    ------
    LinkError
        The connection failed; everything copied before is durable and recorded.
    CollectError
        No pattern's folder exists, or a local write failed.

    Examples
    --------
    >>> rep = collect_source(LocalSource(), ["/mnt/field/alpha/*.dat"], raw)  # doctest: +SKIP
    >>> rep.skipped, len(rep.copied)  # doctest: +SKIP
    (3, 1)
    """
    options = options or TransferOptions()
    report = report if report is not None else CollectReport()
    sources = raw.state["sources"]
    try:
        for f in source.list(patterns):
            try:
                _one_file(source, f, raw, sources, options, report)
            except FileNotFoundError:
                log.info("%s: %s disappeared before it was collected (rotated or deleted)", raw.key, f.id)
                report.skipped += 1
    finally:
        if raw._state is not None:
            raw.folder.mkdir(parents=True, exist_ok=True)
            raw.save()
    return report


def _one_file(source: Source, f: SourceFile, raw: RawArchive, sources: dict, options: TransferOptions,
              report: CollectReport) -> None:
    prev = sources.get(f.id)
    now_ns = time.time_ns()
    recent = options.settle > 0 and (now_ns - f.mtime_ns) < options.settle * 1e9
    if prev and prev["size"] == f.size and prev["mtime_ns"] == f.mtime_ns and "source_size" not in prev:
        report.skipped += 1
        return
    if prev and prev.get("source_size") == f.size and prev["mtime_ns"] == f.mtime_ns and recent:
        report.skipped += 1  # still the same incomplete last line
        return
    action, name, start, prev_sha = "new", None, 0, None
    if prev:
        old = raw.state["files"].get(prev["name"], {})
        if f.size == prev["size"] and "source_size" not in prev:
            if _source_hash(source, f, f.size) == prev["sha256"]:
                prev["mtime_ns"] = f.mtime_ns  # touched, not changed
                raw.save()
                report.skipped += 1
                return
            action = "version"
        elif (f.size >= prev["size"] and not old.get("quarantined") and raw.path_of(prev["name"]).is_file()
              and _source_hash(source, f, prev["size"]) == prev["sha256"]):
            action, name, start, prev_sha = "grown", prev["name"], prev["size"], prev["sha256"]
        else:
            action = "version"
    length = f.size
    if recent and length > start:
        length = _complete_length(source, f, start, f.size)
    if length == start and action == "grown":
        report.skipped += 1  # only an incomplete line was added
        return
    if length == 0 and action == "new":
        report.skipped += 1
        return
    if name is None:
        name = raw.free_name(f.name, f.id) if action == "new" else raw.free_name(f.name, "\0" + f.id)
    with source.file_deadline(f"transfer of {f.id}"):
        digest = _transfer(source, f, raw, name, start, prev_sha, length)
    raw.record(name, digest, length, f.id)
    entry = {"name": name, "size": length, "mtime_ns": f.mtime_ns, "sha256": digest}
    if length < f.size:
        entry["source_size"] = f.size
    sources[f.id] = entry
    events = _scan_records(raw, name, start, length)
    raw.save()
    report.copied.append(Collected(f.id, name, action, length, digest, length - start, length < f.size))
    report.records.extend(events)
    for e in events:
        log.warning("%s: %s", raw.key, e)
    log.info("%s: %s %s -> %s (%d bytes, %d transferred)", raw.key, action, f.id, name, length, length - start)
    if options.delete_after_verify and length == f.size:
        _delete_verified(source, f, digest, now_ns, options, raw, report)


def _source_hash(source: Source, f: SourceFile, length: int) -> str:
    """The sha256 of the first ``length`` bytes at the source (its own command, or a re-read)."""
    digest = source.source_sha256(f, length)
    if digest is not None:
        return digest
    h = hashlib.sha256()
    source.stream(f, 0, length, h.update)
    return h.hexdigest()


def _complete_length(source: Source, f: SourceFile, start: int, size: int) -> int:
    """Length up to the last newline in ``(start, size]`` of a text file; ``size`` for binary files."""
    end = size
    while end > start:
        lo = max(start, end - _TAIL)
        buf = bytearray()
        source.stream(f, lo, end - lo, buf.extend)
        if b"\0" in buf:
            return size  # binary: no lines to complete
        i = buf.rfind(b"\n")
        if i >= 0:
            return lo + i + 1
        end = lo
    return start


def _transfer(source: Source, f: SourceFile, raw: RawArchive, name: str, start: int, prev_sha: str | None,
              length: int) -> str:
    """Write the archive copy ``name`` = source bytes ``[0, length)`` atomically; return its sha256."""
    final = raw.path_of(name)
    h = hashlib.sha256()
    with atomic_path(final) as tmp:
        with open(tmp, "wb") as out:
            if start:
                with open(final, "rb") as old:
                    remaining = start
                    while remaining > 0:
                        block = old.read(min(_CHUNK, remaining))
                        if not block:
                            break
                        h.update(block)
                        out.write(block)
                        remaining -= len(block)
                if remaining or h.hexdigest() != prev_sha:
                    raise CollectError(f"{raw.key}: the archive copy {final} no longer matches its recorded "
                                       f"sha256 {prev_sha}; it was changed after collection (check the disk "
                                       "and the manifest with `sha256sum -c SHA256SUMS`)")

            def sink(block: bytes) -> None:
                h.update(block)
                out.write(block)

            source.stream(f, start, length - start, sink)
        digest = h.hexdigest()
        if sha256_file(tmp) != digest:
            raise CollectError(f"{raw.key}: verification of the copy of {f.id} failed (the bytes re-read from "
                               f"{tmp} differ from those received); the disk may be failing")
        remote = source.source_sha256(f, length)
        if remote is not None and remote != digest:
            raise LinkError(f"{raw.key}: {f.id} changed while it was copied (sha256 at the source {remote[:12]}, "
                            f"copy {digest[:12]}); it is collected again on the next attempt")
        os.utime(tmp, ns=(f.mtime_ns, f.mtime_ns))
        os.chmod(tmp, FILE_MODE)
    return digest


def _scan_records(raw: RawArchive, name: str, start: int, length: int) -> list[RecordEvent]:
    """Feed the new bytes of a record-numbered text file to the station's record tracker."""
    path = raw.path_of(name)
    with open(path, "rb") as fh:
        head = fh.read(4096)
        if not is_record_numbered(head):
            return []
        table = _table_name(head)
        trackers = raw.state.setdefault("records", {})
        tracker = RecordTracker.from_state(trackers.get(table))
        header = start == 0 or tracker.columns is None
        if header:
            start = 0  # (re)read the header; records before `start` were not counted yet
        else:
            # resume at the start of the line holding byte `start` (an incomplete line collected earlier
            # was not counted then)
            lo = max(0, start - _TAIL)
            fh.seek(lo)
            back = fh.read(start - lo)
            i = back.rfind(b"\n")
            start = lo + i + 1 if i >= 0 else start
        fh.seek(start)
        data = fh.read(length - start)
    events = tracker.feed(data, name, header=header)
    trackers[table] = tracker.state()
    if events:
        raw.state.setdefault("record_events", []).extend(events_to_json(events))
    return events


def _table_name(head: bytes) -> str:
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    fields = [x.strip('"') for x in first.split(",")]
    if fields and fields[0].lstrip("\ufeff") == "TOA5" and len(fields) >= 8:
        return f"{fields[1]}.{fields[7]}"
    return "RECORD"


def _delete_verified(source: Source, f: SourceFile, digest: str, now_ns: int, options: TransferOptions,
                     raw: RawArchive, report: CollectReport) -> None:
    quiet = max(options.settle, 60.0)
    if now_ns - f.mtime_ns < quiet * 1e9:
        return  # may still be written to
    if _source_hash(source, f, f.size) != digest:
        report.failed.append(f"{f.id}: not deleted at the source: its hash no longer matches the copy")
        return
    source.remove(f)
    report.deleted.append(f.id)
    raw.state["sources"][f.id]["deleted_at_source"] = time.time()
    raw.save()
    log.info("%s: deleted %s at the source after verification", raw.key, f.id)


def _base_dir(pattern: str) -> Path:
    """The folder part of a glob pattern before its first wildcard."""
    head = pattern
    for i, ch in enumerate(pattern):
        if ch in "*?[":
            head = pattern[:i]
            break
    p = Path(head)
    return p if head.endswith(os.sep) or p.is_dir() else p.parent


@contextlib.contextmanager
def station_lock(raw: RawArchive) -> Iterator[None]:
    """Hold the collection lock of a station (a second collector of the same station fails fast).

    The lock file names its holder (pid, host, time). The lock is an ``flock``, so it is released by the
    kernel when its holder dies: a stale lock file never blocks.

    Examples
    --------
    >>> with station_lock(RawArchive(archive, "alpha_met")):  # doctest: +SKIP
    ...     pass
    """
    path = raw.state_path.with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip() or "unknown"
            raise CollectError(f"{raw.key}: another collection of this station is running ({holder}); "
                               "wait for it to finish") from None
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        yield
    finally:
        os.close(fd)


__all__ = ["Collected", "CollectReport", "LinkError", "LocalSource", "Source", "SourceFile", "TransferOptions",
           "collect_source", "station_lock"]
