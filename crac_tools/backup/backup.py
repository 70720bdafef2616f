"""Incremental, resumable backup of a whole project to one or more targets.

One backup of one target:

1. list the project; hashes come from the cache (keyed by size, mtime and inode), the other files are hashed
   while they are copied (read once) or, when the target may already hold them, first;
2. read the target's newest intact manifest and list its objects;
3. send every file version the target lacks (each under its own ``~sha16`` name: an unnamed or temporary file
   linked/renamed into place on disks and SFTP, whole-object PUT or a checked multipart upload on S3), always
   storing exactly the bytes that were hashed; an object left by an interrupted run is re-hashed before it is
   trusted;
4. make the objects durable (one ``syncfs`` on disks), write ``MANIFEST.json`` (the commit), then a copy in
   ``manifests/<time>.json``;
5. only then delete versions beyond the retention count (never the current copy, never a removed file's
   last copy).

A file that fails (changed during the copy, I/O error, fails ``SHA256SUMS``) keeps its previous backed-up
version, and so does every other file of its zarr store, so the committed manifest never mixes two versions
of one store. The archive is locked (the ingest lock) while the project is hashed and copied, and the hash
cache is saved at the end.

Examples
--------
>>> results = backup_project("demo/crac.yaml", to="/mnt/usb/crac")  # doctest: +SKIP
>>> print(results[0].summary())  # doctest: +SKIP
/mnt/usb/crac: 812 files (1.2 GiB), 812 sent (1.2 GiB), 0 unchanged, 0 failed, 0 old versions deleted in 9.8 s
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from pydantic import ValidationError

from ..config import ProjectConfig, _format_validation, _load_yaml
from ..errors import ConfigError
from ..fsutil import atomic_write_json, read_json
from .errors import BackupError, SourceChanged
from .manifest import (
    FILES,
    HISTORY,
    KEEP_HISTORY,
    MANIFEST,
    Manifest,
    Snapshot,
    SourceFile,
    encode_manifest,
    history_keys,
    is_temp_key,
    load_manifest,
    object_key,
    scan_project,
    split_object_key,
    unit_of,
)
from .settings import BackupConfig, BackupTarget, duration_seconds
from .targets import CPU_THREADS, Target, open_target


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _bar(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not enabled,
                file=sys.stderr, leave=False)


@dataclass
class ProjectSettings:
    """Where a project's files are and its ``backup:`` section."""

    config_path: Path
    root: Path
    archive: Path
    stations_dir: Path
    backup: BackupConfig


def project_settings(config: str | os.PathLike = "crac.yaml") -> ProjectSettings:
    """Read a project's paths and its ``backup:`` section (validated; errors name file and key).

    Examples
    --------
    >>> s = project_settings("demo/crac.yaml")  # doctest: +SKIP
    >>> s.archive.name  # doctest: +SKIP
    'archive'
    """
    path = Path(config)
    if path.is_dir():
        path = path / "crac.yaml"
    path = path.resolve()
    data = _load_yaml(path)  # only crac.yaml: a broken station file must not stop a backup
    try:
        cfg = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        raise _format_validation(path, exc) from None
    try:
        bcfg = BackupConfig.model_validate(cfg.backup)
    except ValidationError as exc:
        e = exc.errors()[0]
        key = "backup." + ".".join(str(x) for x in e["loc"])
        raise ConfigError(path, f"{e['msg']}", key=key.rstrip(".")) from None
    root = path.parent
    return ProjectSettings(path, root, (root / cfg.archive).resolve(), root / cfg.stations_dir, bcfg)


@dataclass
class BackupResult:
    """What one backup of one target did."""

    target: str
    files: int = 0
    bytes: int = 0
    sent: int = 0
    sent_bytes: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    committed: bool = False

    @property
    def ok(self) -> bool:
        """True when every file was backed up and the manifest committed."""
        return self.committed and not self.failed

    def summary(self) -> str:
        """One line per target, then one line per failure."""
        head = (f"{self.target}: {'OK' if self.ok else 'FAILED'}: {self.files} files ({_human(self.bytes)}), "
                f"{self.sent} sent ({_human(self.sent_bytes)}), {self.unchanged} unchanged, "
                f"{len(self.failed)} failed, {self.deleted} old versions deleted in {self.seconds:.1f} s")
        return "\n".join([head, *(f"  note: {n}" for n in self.notes), *(f"  FAILED: {f}" for f in self.failed)])


def _now() -> tuple[str, str]:
    t = dt.datetime.now(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), t.strftime("%Y%m%dT%H%M%S%fZ")


class _Failed(BackupError):
    """One file could not be backed up; ``key`` names an object that was stored anyway (to clean up), and
    ``problem`` is the full message when the file fails the archive's ``SHA256SUMS``."""

    def __init__(self, message: str, key: str | None = None, problem: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.problem = problem


def _send(target: Target, f: SourceFile, key: str | None) -> tuple[str, str, int]:
    """Send one project file; return ``(key, sha256, size)`` of the stored object.

    With ``key=None`` the file's hash is not known yet: the target hashes the bytes as it stores them and
    names the object after that hash (one read of the file). Either way the stored bytes are exactly the
    hashed ones: a file that no longer has the expected hash stores nothing, and one whose size, inode or
    mtime changed during the copy fails (its object, consistent with its own name, is cleaned up later).
    """
    expect = f.sha256 if key is not None else (f.expect or None)
    try:
        digest, n = target.put_file(f.abspath, key if key is not None else partial(object_key, f.path), expect)
    except SourceChanged as exc:
        if key is None and f.expect and f.unchanged():  # read whole and steady: it fails its SHA256SUMS
            f.sha256 = exc.digest
            problem = f.sums_problem()
            raise _Failed(problem or str(exc), problem=problem) from None
        raise _Failed("changed while being backed up; run the backup again") from None
    final = key if key is not None else object_key(f.path, digest)
    if not f.unchanged():
        raise _Failed("changed while being backed up; run the backup again", key=final)
    if key is None:
        f.sha256 = digest
    return final, digest, n


def _on_target(listing: dict[str, int]) -> dict[str, set[int]]:
    """Sizes of the objects a target holds for each project path (any version, committed or not)."""
    out: dict[str, set[int]] = {}
    for key, size in listing.items():
        parts = split_object_key(key)
        if parts is not None:
            out.setdefault(parts[0], set()).add(size)
    return out


def backup_to(snap: Snapshot, target: Target, keep: int = 3, progress: bool = False) -> BackupResult:
    """Back up a project snapshot to one open target (see the module docstring for the steps).

    Files of a ``lazy`` snapshot that are not hashed yet are hashed while they are copied when the target
    holds no object of the same path and size (the common case of a new or changed file), else hashed
    first so that an object already on the target is reused.

    Parameters
    ----------
    snap
        From :func:`~crac_tools.backup.manifest.scan_project`.
    target
        From :func:`~crac_tools.backup.targets.open_target`.
    keep
        Versions kept of each changed file (1 = only the current one).
    progress
        Show a tqdm bar (bytes and rate).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from crac_tools.backup.manifest import scan_project
    >>> from crac_tools.backup.targets import open_target
    >>> r = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (r / "crac.yaml").write_text("project: {name: x}")
    >>> res = backup_to(scan_project(r, r / "archive", r / "stations"), open_target(r / "bk"))
    >>> res.ok, res.sent
    (True, 1)
    """
    t0 = time.perf_counter()
    res = BackupResult(target.url, files=len(snap.files), bytes=sum(f.size for f in snap.files.values()))
    listing = target.list()
    removed_temps = target.remove_temps(listing)
    if removed_temps:
        res.notes.append(f"removed {removed_temps} temporary object(s) of an interrupted backup")
        listing = {k: v for k, v in listing.items() if not is_temp_key(k)}
    old, problems = load_manifest(target, listing)
    res.notes.extend(f"target: {p}" for p in problems)
    if old is None:
        old = Manifest()
    committed = old.objects()
    failed: dict[str, str] = {p.split(":", 1)[0]: p for p in snap.problems}
    # files not hashed yet: hash now only those the target may already hold (same path and size)
    sizes = _on_target(listing)
    unhashed = [f for p, f in snap.files.items() if not f.sha256 and p not in failed]
    first = [f for f in unhashed if f.size in sizes.get(f.path, ())]
    hbar = _bar(sum(f.size for f in first), f"hashing for {target.url}", progress and bool(first))
    failed.update((p.split(":", 1)[0], p) for p in snap.hash(first, threads=CPU_THREADS, progress=hbar.update))
    hbar.close()
    todo: list[tuple[str, str | None]] = []
    used: set[str] = set()
    for path, f in snap.files.items():
        if path in failed:
            continue
        if not f.sha256:
            todo.append((path, None))  # hashed while it is copied
            continue
        key = object_key(path, f.sha256)
        if key in committed and listing.get(key) == f.size and committed[key][2]["sha256"] == f.sha256:
            res.unchanged += 1
        elif listing.get(key) == f.size and target.renames and key not in committed:
            # left by an interrupted run and never committed: trust it only after re-reading it
            try:
                digest, _ = target.sha256(key)
            except OSError:
                digest = ""
            if digest == f.sha256:
                res.unchanged += 1
                used.add(key)
            else:
                todo.append((path, key))
        elif listing.get(key) == f.size and not target.renames:
            res.unchanged += 1  # a whole-object PUT of hashed bytes either completed or left nothing
            used.add(key)
        else:
            todo.append((path, key))
    todo.sort(key=lambda pk: -snap.files[pk[0]].size)  # large files first: the threads finish together
    bar = _bar(sum(snap.files[p].size for p, _ in todo), f"backup {target.url}", progress)
    sent_keys: list[str] = []
    tried = {k for _p, k in todo if k is not None}
    with ThreadPoolExecutor(max(1, target.parallel)) as ex:
        futures = {ex.submit(_send, target, snap.files[p], k): p for p, k in todo}
        for fut in as_completed(futures):
            p = futures[fut]
            try:
                key, _digest, n = fut.result()
                sent_keys.append(key)
                tried.add(key)
                res.sent += 1
                res.sent_bytes += n
            except _Failed as exc:
                if exc.key is not None:
                    sent_keys.append(exc.key)
                    tried.add(exc.key)
                failed[p] = exc.problem or f"{p}: {exc}"
                if exc.problem:
                    snap.problems.append(exc.problem)
            except Exception as exc:  # noqa: BLE001 - every failure is reported by name
                failed[p] = f"{p}: {exc}"
            bar.update(snap.files[p].size)
    bar.close()
    res.failed = sorted(failed.values())
    created, stamp = _now()
    orphans = _orphans(target, listing, committed, tried | used, created)
    new = _plan(old, snap, set(failed), keep, created, orphans)
    new.source = f"{os.uname().nodename}:{snap.root}"
    try:
        target.flush()
        data = encode_manifest(new)
        target.put_bytes(MANIFEST, data)  # the commit
        target.put_bytes(f"{HISTORY}/{stamp}.json", data)  # fallback copy, should MANIFEST.json be damaged
    except Exception as exc:  # noqa: BLE001
        res.failed.append(f"{MANIFEST}: could not be written ({exc}); the previous backup stays current")
        res.seconds = time.perf_counter() - t0
        return res
    res.committed = True
    # retention, strictly after the commit: drop versions the new manifest no longer refers to
    keepers = new.objects()
    for key, (_role, _path, _e) in committed.items():
        if key not in keepers and key in listing:
            target.delete(key)
            res.deleted += 1
    for key in sent_keys:  # copies of files whose store failed: the project still holds them
        if key not in keepers:
            target.delete(key)
    for key in orphans.get("", []):  # never committed and damaged: useless
        target.delete(key)
    for path, entries in orphans.items():
        for e in entries if path else []:
            key = object_key(path, e["sha256"])
            if key not in keepers:
                target.delete(key)
                res.deleted += 1
    for key in history_keys(listing)[KEEP_HISTORY - 1:]:
        target.delete(key)
    res.seconds = time.perf_counter() - t0
    return res


def _orphans(target: Target, listing: dict[str, int], committed: dict, skip: set[str],
             created: str) -> dict[str, list[dict]]:
    """Objects an interrupted backup sent but never committed, by path (key ``""``: damaged ones).

    Their content may since have left the project (the file changed again), so the target may hold the
    only copy: they are adopted as older versions (subject to retention) rather than deleted.
    """
    out: dict[str, list[dict]] = {}
    for key, size in listing.items():
        if not key.startswith(FILES + "/") or key in committed or key in skip or is_temp_key(key):
            continue
        parts = split_object_key(key)
        try:
            digest, n = target.sha256(key)
        except OSError:
            continue
        if parts is None or digest[:16] != parts[1] or n != size:
            out.setdefault("", []).append(key)
            continue
        path = parts[0]
        out.setdefault(path, []).append({"sha256": digest, "size": n, "mtime": None, "replaced": created,
                                         "uncommitted": True})
    return out


def _plan(old: Manifest, snap: Snapshot, failed: set[str], keep: int, created: str,
          orphans: dict[str, list[dict]] | None = None) -> Manifest:
    """The next manifest: current files, retained versions and removed files (see :func:`backup_to`)."""
    orphans = orphans or {}
    bad_units = {unit_of(p) for p in failed}
    new = Manifest(created=created, keep=keep)
    new.removed = {p: e for p, e in old.removed.items()}
    new.versions = {p: list(vs) for p, vs in old.versions.items()}
    for path in sorted(set(snap.files) | set(old.files)):
        if unit_of(path) in bad_units:
            if path in old.files:
                new.files[path] = old.files[path]
            continue
        f = snap.files.get(path)
        prev = old.files.get(path)
        if f is None:  # gone from the project: the target may hold the only copy, keep it
            new.removed[path] = {**prev, "removed": created}
            if orphans.get(path):
                new.versions[path] = orphans[path] + new.versions.get(path, [])
            continue
        entry = {"sha256": f.sha256, "size": f.size, "mtime": f.mtime}
        new.files[path] = entry
        prev = prev or new.removed.pop(path, None)
        new.removed.pop(path, None)
        versions = new.versions.get(path, [])
        if prev is not None and prev["sha256"] != f.sha256:
            versions.insert(0, {k: v for k, v in prev.items() if k != "removed"} | {"replaced": created})
        versions = list(orphans.get(path, [])) + versions
        seen = {f.sha256}
        kept = []
        for v in versions:
            if v["sha256"] not in seen:
                seen.add(v["sha256"])
                kept.append(v)
        kept = kept[: max(0, keep - 1)]
        if kept:
            new.versions[path] = kept
        else:
            new.versions.pop(path, None)
    return new


def _state_path(archive: Path) -> Path:
    return archive / "state" / "backup" / "targets.json"


def _due(archive: Path, t: BackupTarget) -> bool:
    if not t.every:
        return True
    last = (read_json(_state_path(archive), default={}) or {}).get(t.url, {}).get("last_ok")
    if last is None:
        return True
    age = dt.datetime.now(dt.UTC) - dt.datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return age.total_seconds() >= duration_seconds(t.every)


def backup_project(config: str | os.PathLike = "crac.yaml", to: str | list[str] | None = None,
                   keep: int | None = None, progress: bool = False, due_only: bool = False,
                   options: dict | None = None) -> list[BackupResult]:
    """Back up a project (config files, stations and the whole archive) to its targets.

    Parameters
    ----------
    config
        The project's ``crac.yaml`` (or its folder).
    to
        One URL (or a list) to back up to instead of the configured targets.
    keep
        Versions kept of each changed file (default: the target's ``keep``, else ``backup.keep``, else 3).
    progress
        Show tqdm bars (bytes and rate) while hashing and sending.
    due_only
        Skip configured targets whose last successful backup is newer than their ``every``.
    options
        SFTP options for ``to`` targets (``known_hosts``, ``host_key_policy``, ``key_filename``).

    Returns
    -------
    list of BackupResult
        One per target; a target that could not be opened has ``committed=False`` and its error in
        ``failed``.

    Raises
    ------
    BackupError
        No target given or configured.

    Examples
    --------
    >>> for r in backup_project("demo/crac.yaml", to="/mnt/usb/crac"):  # doctest: +SKIP
    ...     print(r.summary())
    """
    from ..pipeline import archive_lock

    st = project_settings(config)
    if to:
        targets = [BackupTarget(url=u, **{k: v for k, v in (options or {}).items() if v is not None})
                   for u in ([to] if isinstance(to, str) else to)]
    else:
        targets = [t for t in st.backup.targets if not due_only or _due(st.archive, t)]
        if not st.backup.targets:
            raise BackupError(f"{st.config_path}: no backup targets configured (add a `backup: targets:` list) "
                              "and none given with --to")
    results: list[BackupResult] = []
    if not targets:
        return results
    with archive_lock(st.archive):
        # lazy: files missing from the hash cache are hashed while they are copied (read once)
        snap = scan_project(st.root, st.archive, st.stations_dir, st.config_path.name, lazy=True)
        try:
            _backup_targets(st, snap, targets, keep, progress, results)
        finally:
            snap.save_cache()
    return results


def _backup_targets(st: ProjectSettings, snap: Snapshot, targets: list[BackupTarget], keep: int | None,
                    progress: bool, results: list[BackupResult]) -> None:
    """Back up ``snap`` to each target in turn, appending one result per target and recording its state."""
    for t in targets:
        t0 = time.perf_counter()
        try:
            with open_target(t.url, **t.options()) as target:
                res = backup_to(snap, target, keep or st.backup.keep_of(t), progress)
        except BackupError as exc:
            res = BackupResult(t.url, files=len(snap.files), failed=[str(exc)],
                               seconds=time.perf_counter() - t0)
        results.append(res)
        if st.archive.is_dir():
            state = read_json(_state_path(st.archive), default={}) or {}
            rec = state.setdefault(res.target if res.target == t.url else t.url, {})
            rec["last_attempt"] = _now()[0]
            if res.ok:
                rec["last_ok"] = rec["last_attempt"]
            rec["ok"] = res.ok
            atomic_write_json(_state_path(st.archive), state)
