"""Incremental, resumable backup of a whole project to one or more targets.

One backup of one target:

1. hash the project (cached by size, mtime and inode; raw files checked against ``SHA256SUMS``);
2. read the target's newest intact manifest and list its objects;
3. send every file version the target lacks (each under its own ``~sha16`` name: temp + rename on disks
   and SFTP, whole-object PUT on S3); an object left by an interrupted run is re-hashed before it is trusted;
4. make the objects durable, write ``MANIFEST.json`` (the commit), then a copy in ``manifests/<time>.json``;
5. only then delete versions beyond the retention count (never the current copy, never a removed file's
   last copy).

A file that fails (changed during the copy, I/O error, fails ``SHA256SUMS``) keeps its previous backed-up
version, and so does every other file of its zarr store, so the committed manifest never mixes two versions
of one store. The archive is locked (the ingest lock) while the project is hashed and copied.

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
from pathlib import Path

from pydantic import ValidationError

from ..config import ProjectConfig, _format_validation, _load_yaml
from ..errors import ConfigError
from ..fsutil import TMP_PREFIX, atomic_write_json, read_json
from .errors import BackupError
from .manifest import (
    FILES,
    HISTORY,
    KEEP_HISTORY,
    MANIFEST,
    Manifest,
    Snapshot,
    encode_manifest,
    load_manifest,
    object_key,
    scan_project,
    unit_of,
)
from .settings import BackupConfig, BackupTarget, duration_seconds
from .targets import Target, open_target


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


def _send(target: Target, snap: Snapshot, path: str, key: str) -> None:
    f = snap.files[path]
    target.put_file(f.abspath, key)
    st = f.abspath.stat()
    if (st.st_ino, st.st_mtime_ns) != f.stamp or st.st_size != f.size:
        target.delete(key)
        raise BackupError(f"{path}: changed while being backed up; run the backup again")


def backup_to(snap: Snapshot, target: Target, keep: int = 3, progress: bool = False) -> BackupResult:
    """Back up a hashed project snapshot to one open target (see the module docstring for the steps).

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
    removed_temps = target.remove_temps()
    if removed_temps:
        res.notes.append(f"removed {removed_temps} temporary object(s) of an interrupted backup")
    listing = target.list()
    old, problems = load_manifest(target, listing)
    res.notes.extend(f"target: {p}" for p in problems)
    if old is None:
        old = Manifest()
    committed = old.objects()
    failed: dict[str, str] = {p.split(":", 1)[0]: p for p in snap.problems}
    todo: list[tuple[str, str]] = []
    used: set[str] = set()
    for path, f in snap.files.items():
        if path in failed:
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
            res.unchanged += 1  # a whole-object PUT either completed or left nothing
            used.add(key)
        else:
            todo.append((path, key))
    bar = _bar(sum(snap.files[p].size for p, _ in todo), f"backup {target.url}", progress)
    sent_keys: list[str] = []
    with ThreadPoolExecutor(max(1, target.parallel)) as ex:
        futures = {ex.submit(_send, target, snap, p, k): (p, k) for p, k in todo}
        for fut in as_completed(futures):
            p, k = futures[fut]
            try:
                fut.result()
                sent_keys.append(k)
                res.sent += 1
                res.sent_bytes += snap.files[p].size
            except Exception as exc:  # noqa: BLE001 - every failure is reported by name
                failed[p] = f"{p}: {exc}"
            bar.update(snap.files[p].size)
    bar.close()
    res.failed = sorted(failed.values())
    created, stamp = _now()
    orphans = _orphans(target, listing, committed, {k for _p, k in todo} | used, created)
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
    history = sorted((k for k in listing if k.startswith(HISTORY + "/") and
                      not os.path.basename(k).startswith(TMP_PREFIX)), reverse=True)
    for key in history[KEEP_HISTORY - 1:]:
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
    prefix = FILES + "/"
    for key, size in listing.items():
        if not key.startswith(prefix) or key in committed or key in skip or TMP_PREFIX in key:
            continue
        path, sep, short = key[len(prefix):].rpartition("~")
        try:
            digest, n = target.sha256(key)
        except OSError:
            continue
        if not sep or not path or digest[:16] != short or n != size:
            out.setdefault("", []).append(key)
            continue
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
        from tqdm import tqdm

        bar = tqdm(desc="hashing", unit="B", unit_scale=True, unit_divisor=1024, disable=not progress,
                   file=sys.stderr, leave=False)
        snap = scan_project(st.root, st.archive, st.stations_dir, st.config_path.name, progress=bar.update)
        bar.close()
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
    return results
