"""The upload-folder daemon (``crac watch``): a central ``incoming/`` folder served safely.

Stations (or people) upload into ``<incoming>/<station id or key>/``. The daemon

1. waits for files (inotify through ``inotify_simple`` when it is installed, otherwise polling that backs off
   from ``poll_min`` to ``poll_max`` seconds while nothing arrives: never a busy loop);
2. takes a file only when its uploader is done: temporary names (dot files, ``*.part``, ``*.tmp``,
   ``*.crdownload``) are ignored, and a file's size and mtime must be unchanged for ``settle_seconds``;
3. claims it by an atomic rename into ``<incoming>/.work/<station>/`` (a claim survives a crash);
4. copies it into the station's raw archive (temp + fsync + rename, sha256 verified, manifest updated) and only
   then removes the claim — a re-delivered identical file is recognised by its hash and not archived twice;
5. runs the same ingest as ``crac ingest`` for the stations that received files (an unparseable file is moved to
   the quarantine with a note, exactly as there) and refreshes the catalog.

On start it re-queues claims left by a crash and removes stale temp files. A second daemon on the same folder
refuses to start (or waits with ``wait=True``), naming the holder of the lock. SIGTERM and SIGINT finish the
current file and batch, then exit cleanly.

This avoids the weak points of the HiSPARC datastore writer: one bad file never stops the daemon (it is
quarantined), claims are re-scanned after a crash, products are rebuilt into temp files (never appended in
place), nothing is unpickled, and the loop sleeps.

Examples
--------
>>> from crac_tools.collect.watch import Watcher
>>> Watcher("demo/crac.yaml").run(max_batches=1)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Project, StationConfig, load_project
from ..errors import CollectError
from ..fsutil import TMP_PREFIX, copy_atomic, fsync_dir, remove_stale_temps, sha256_file
from .manifest import RawArchive

log = logging.getLogger(__name__)

WORK = ".work"
_IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".filepart")


@dataclass
class WatchStats:
    """What a daemon run did."""

    archived: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unassigned: list[str] = field(default_factory=list)
    batches: int = 0
    ingest_failures: int = 0


def _ignored(p: Path) -> bool:
    return (p.name.startswith(".") or p.name.startswith(TMP_PREFIX) or p.name.endswith(_IGNORED_SUFFIXES)
            or not p.is_file())


class FolderLock:
    """An exclusive flock on ``path`` whose file names the holder (pid, host, since)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = None

    def acquire(self, wait: bool = False, poll: float = 1.0) -> None:
        """Take the lock; raise :class:`CollectError` naming the holder unless ``wait``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                if not wait:
                    fh.close()
                    raise CollectError(f"{self.path.parent} is already watched by {holder}") from None
                time.sleep(poll)
        fh.seek(0)
        fh.truncate()
        fh.write(f"crac watch pid {os.getpid()} on {socket.gethostname()} since "
                 f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
        fh.flush()
        self.fh = fh

    def release(self) -> None:
        """Release the lock."""
        if self.fh is not None:
            self.fh.truncate(0)
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()
            self.fh = None


class _Waiter:
    """Sleep until something may have arrived: inotify when available, else polling with backoff."""

    def __init__(self, folders: list[Path], poll_min: float, poll_max: float) -> None:
        self.poll_min, self.poll_max = poll_min, poll_max
        self.delay = poll_min
        self.inotify = None
        try:
            import inotify_simple

            self.inotify = inotify_simple.INotify()
            mask = inotify_simple.flags.CLOSE_WRITE | inotify_simple.flags.MOVED_TO | inotify_simple.flags.CREATE
            for f in folders:
                self.inotify.add_watch(str(f), mask)
        except (ImportError, OSError):
            self.inotify = None

    def wait(self, busy: bool, stop) -> None:
        if busy:
            self.delay = self.poll_min
            return
        if self.inotify is not None:
            self.inotify.read(timeout=int(self.poll_max * 1000))
            return
        end = time.monotonic() + self.delay
        while time.monotonic() < end and not stop():
            time.sleep(min(0.2, self.delay))
        self.delay = min(self.delay * 2, self.poll_max)


class Watcher:
    """Serve a project's upload folder; see the module documentation.

    Parameters
    ----------
    project
        A project or the path of its ``crac.yaml``.
    ingest_each_batch
        Run ingest (and the catalog) after each batch of archived files (the daemon's normal mode).
    client
        A ``distributed.Client`` to ingest on; by default one local cluster lives as long as the daemon.
    """

    def __init__(self, project: Project | str | os.PathLike, ingest_each_batch: bool = True, client=None) -> None:
        self.project = project if isinstance(project, Project) else load_project(project)
        cfg = self.project.config.watch
        self.incoming = (self.project.root / cfg.incoming).resolve()
        self.work = self.incoming / WORK
        self.cfg = cfg
        self.ingest_each_batch = ingest_each_batch
        self.client = client
        self.stats = WatchStats()
        self._stop = False
        self._seen: dict[Path, tuple[int, int, float]] = {}

    # -- station folders -----------------------------------------------------------------------------
    def station_for(self, folder_name: str) -> StationConfig | None:
        """The station whose id or key names an upload subfolder."""
        for s in self.project.stations:
            if folder_name in (s.key, s.id):
                return s
        return None

    def _folders(self) -> list[Path]:
        self.incoming.mkdir(parents=True, exist_ok=True)
        out = []
        for s in self.project.stations:
            d = self.incoming / s.id
            d.mkdir(exist_ok=True)
            out.append(d)
        return out

    # -- scanning and claiming -------------------------------------------------------------------------
    def ready_files(self) -> list[tuple[StationConfig, Path]]:
        """Upload files whose size and mtime have been stable for ``settle_seconds``."""
        now = time.monotonic()
        ready = []
        present = set()
        for sub in sorted(p for p in self.incoming.iterdir() if p.is_dir() and p.name != WORK):
            station = self.station_for(sub.name)
            for f in sorted(sub.iterdir()):
                if _ignored(f):
                    continue
                if station is None:
                    if str(f) not in self.stats.unassigned:
                        log.error("%s: no station is named %r; files go into %s/<station id>/", f, sub.name,
                                  self.incoming)
                        self.stats.unassigned.append(str(f))
                    continue
                present.add(f)
                try:
                    st = f.stat()
                except FileNotFoundError:
                    continue
                sig = (st.st_size, st.st_mtime_ns)
                prev = self._seen.get(f)
                if prev is None or prev[:2] != sig:
                    self._seen[f] = (*sig, now)
                    if self.cfg.settle_seconds > 0:
                        continue
                elif now - prev[2] < self.cfg.settle_seconds:
                    continue
                ready.append((station, f))
        for f in list(self._seen):
            if f not in present:
                del self._seen[f]
        return ready

    def claim(self, station: StationConfig, f: Path) -> Path | None:
        """Move an upload into the work folder by an atomic rename; None when someone else took it."""
        dest_dir = self.work / station.key
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / f.name
        n = 1
        while dest.exists():
            n += 1
            dest = dest_dir / f"{f.stem}__{n}{f.suffix}"
        try:
            os.replace(f, dest)
        except FileNotFoundError:
            return None
        fsync_dir(dest_dir)
        fsync_dir(f.parent)
        self._seen.pop(f, None)
        return dest

    def archive_claim(self, station: StationConfig, claimed: Path) -> str | None:
        """Copy a claimed file into the raw archive, verified; remove the claim. Returns the archived name."""
        raw = RawArchive(self.project.archive, station.key)
        digest = sha256_file(claimed)
        original = claimed.name
        for name, entry in raw.state["files"].items():
            if entry.get("sha256") == digest and (raw.path_of(name).exists() or entry.get("quarantined")):
                log.info("%s: identical to archived %s; not archived twice", claimed, name)
                self.stats.duplicates.append(original)
                claimed.unlink()
                fsync_dir(claimed.parent)
                return None
        name = raw.free_name(original, f"watch:{original}:{digest}")
        copied = copy_atomic(claimed, raw.path_of(name))
        if copied != digest:
            raise CollectError(f"{claimed}: file changed while it was archived; left in {claimed.parent}")
        raw.record(name, digest, claimed.stat().st_size, f"watch:{station.id}/{original}")
        raw.save()
        claimed.unlink()
        fsync_dir(claimed.parent)
        self.stats.archived.append(name)
        log.info("%s: archived %s", station.key, name)
        return name

    def recover(self) -> list[tuple[StationConfig, Path]]:
        """Claims left by a crash (to finish first) after removing stale temp files."""
        for root in (self.incoming, self.project.archive):
            if root.exists():
                remove_stale_temps(root)
        left = []
        if self.work.exists():
            for sub in sorted(self.work.iterdir()):
                station = self.station_for(sub.name)
                if station is None or not sub.is_dir():
                    continue
                left.extend((station, f) for f in sorted(sub.iterdir()) if f.is_file())
        if left:
            log.warning("re-queuing %d claim(s) left by an interrupted run", len(left))
        return left

    # -- the loop --------------------------------------------------------------------------------------
    def stop(self, *_args) -> None:
        """Ask the loop to finish the current file and batch, then return."""
        self._stop = True

    def _ingest(self, keys: set[str]) -> None:
        from ..catalog_project import build_catalog
        from ..pipeline import ingest

        report = ingest(self.project, sorted(keys), client=self.client, run_record="crac watch")
        if not report.ok:
            self.stats.ingest_failures += 1
            log.warning(report.summary())
        build_catalog(self.project)

    def run(self, max_batches: int | None = None, idle_exit: float | None = None,
            wait_for_lock: bool = False) -> WatchStats:
        """Serve the upload folder until stopped (or ``max_batches`` batches / ``idle_exit`` idle seconds)."""
        old = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        with contextlib.suppress(ValueError):  # not in the main thread: the caller stops us
            for sig in old:
                signal.signal(sig, self.stop)
        lock = FolderLock(self.incoming / ".crac-watch.lock")
        try:
            lock.acquire(wait=wait_for_lock)
        except BaseException:
            with contextlib.suppress(ValueError):
                for sig, handler in old.items():
                    signal.signal(sig, handler)
            raise
        ctx = contextlib.nullcontext(self.client)
        if self.ingest_each_batch and self.client is None:
            from ..cluster import dask_client

            ctx = dask_client(self.project.config.dask.scheduler, self.project.config.dask.n_workers)
        try:
            with ctx as client:
                self.client = client
                waiter = _Waiter(self._folders(), self.cfg.poll_min, self.cfg.poll_max)
                pending = self.recover()
                idle_since = time.monotonic()
                # after a restart, ingest every station once: a file archived just before a crash may not have
                # been ingested yet (ingest is idempotent: unchanged periods are skipped)
                first = {s.key for s in self.project.stations}
                while not self._stop:
                    keys, first = set(first), set()
                    for station, f in pending:
                        try:
                            if self.archive_claim(station, f) is not None:
                                keys.add(station.key)
                        except (OSError, CollectError) as exc:
                            log.error("%s: %s", f, exc)
                    pending = []
                    for station, f in self.ready_files():
                        if self._stop:
                            break
                        claimed = self.claim(station, f)
                        if claimed is None:
                            continue
                        try:
                            if self.archive_claim(station, claimed) is not None:
                                keys.add(station.key)
                        except (OSError, CollectError) as exc:
                            log.error("%s: %s", claimed, exc)
                    if keys and self.ingest_each_batch:
                        self._ingest(keys)
                    if keys:
                        self.stats.batches += 1
                        idle_since = time.monotonic()
                        if max_batches is not None and self.stats.batches >= max_batches:
                            break
                    elif idle_exit is not None and time.monotonic() - idle_since > idle_exit and not self._seen:
                        break
                    waiter.wait(bool(keys) or bool(self._seen), lambda: self._stop)
        finally:
            with contextlib.suppress(ValueError):
                for sig, handler in old.items():
                    signal.signal(sig, handler)
            lock.release()
        return self.stats
