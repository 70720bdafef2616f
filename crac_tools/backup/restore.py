"""Restore a project from a backup target, checking every hash.

``restore_target(URL, DIR)`` rebuilds the backed-up project in ``DIR``: the same files at the same relative
paths (``crac.yaml``, ``stations/``, the whole archive), with their modification times. Every object is
downloaded to a temporary name, hashed and compared with the manifest before it is renamed into place; a
file that fails is reported and left out, never restored silently. An interrupted restore can be re-run
with ``force=True``: files already in ``DIR`` with the right hash are kept.

Examples
--------
>>> report = restore_target("/mnt/usb/crac", "/tmp/restored")  # doctest: +SKIP
>>> report.ok  # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ..fsutil import FILE_MODE, TMP_PREFIX, fsync_dir, sha256_file
from .backup import _bar, _human
from .errors import BackupError, ManifestError
from .manifest import check_relpath, decode_manifest, load_manifest, object_key
from .targets import Target, open_target
from .verify import Problem


@dataclass
class RestoreReport:
    """The result of one restore."""

    target: str
    directory: Path
    restored: int = 0
    kept: int = 0
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    manifest: str = ""

    @property
    def ok(self) -> bool:
        """True when every file was restored and matched its hash."""
        return not self.problems

    def summary(self) -> str:
        """One line, then one line per problem."""
        head = (f"{self.target} -> {self.directory}: {'OK' if self.ok else 'FAILED'}: {self.restored} files "
                f"restored ({_human(self.bytes)}), {self.kept} already present, {len(self.problems)} problem(s) "
                f"in {self.seconds:.1f} s")
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


def _fetch(target: Target, key: str, dest: Path, sha: str, size: int, mtime: float | None) -> int:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f"{TMP_PREFIX}{dest.name}.{uuid.uuid4().hex[:8]}"
    h = hashlib.sha256()
    n = 0
    try:
        with target.open(key) as fin, open(tmp, "wb") as fout:
            while block := fin.read(1 << 22):
                h.update(block)
                fout.write(block)
                n += len(block)
            fout.flush()
            os.fsync(fout.fileno())
        if n != size or h.hexdigest() != sha:
            raise ValueError(f"{n} bytes with sha256 {h.hexdigest()[:16]}..., expected {size} bytes with "
                             f"{sha[:16]}...")
        os.chmod(tmp, FILE_MODE)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return n


def restore(target: Target, directory: str | os.PathLike, force: bool = False, manifest: str | None = None,
            progress: bool = False) -> RestoreReport:
    """Restore the project held by an open target into ``directory``.

    Parameters
    ----------
    target
        From :func:`~crac_tools.backup.targets.open_target`.
    directory
        Where to rebuild the project; must be empty or absent unless ``force``.
    force
        Restore into a non-empty folder: files whose hash already matches are kept, others replaced.
    manifest
        Restore from an earlier manifest (a key such as ``manifests/20260101T000000000000Z.json``)
        instead of ``MANIFEST.json``.
    progress
        Show a tqdm bar (bytes and rate).

    Raises
    ------
    BackupError
        The target holds no intact manifest, or ``directory`` is not empty and ``force`` is False.

    Examples
    --------
    >>> import tempfile
    >>> from crac_tools.backup.targets import open_target
    >>> restore(open_target(tempfile.mkdtemp()), tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    crac_tools.backup.errors.BackupError: ...: no backup found on this target (no MANIFEST.json)
    """
    t0 = time.perf_counter()
    dest = Path(directory).expanduser().resolve()
    rep = RestoreReport(target.url, dest)
    if dest.exists() and any(dest.iterdir()) and not force:
        raise BackupError(f"{dest} is not empty; restore into a new folder (or pass --force to complete an "
                          "interrupted restore)")
    if manifest:
        m = decode_manifest(target.get_bytes(manifest), manifest)
    else:
        m, problems = load_manifest(target)
        if problems:
            raise ManifestError(f"{target.url}: {'; '.join(problems)}. Refusing to restore from a damaged "
                                "manifest; pick an earlier one with --manifest manifests/<time>.json")
        if m is None:
            raise BackupError(f"{target.url}: no backup found on this target (no MANIFEST.json)")
    rep.manifest = m.created
    todo = []
    for path, e in sorted(m.files.items()):
        out = dest / check_relpath(path)
        if force and out.is_file() and out.stat().st_size == e["size"] and sha256_file(out) == e["sha256"]:
            rep.kept += 1
            continue
        todo.append((path, e, out))
    bar = _bar(sum(e["size"] for _p, e, _o in todo), f"restore {target.url}", progress)
    dirs: set[Path] = set()
    with ThreadPoolExecutor(max(1, target.read_parallel or target.parallel)) as ex:
        futures = {ex.submit(_fetch, target, object_key(p, e["sha256"]), out, e["sha256"], e["size"],
                             e.get("mtime")): (p, e, out) for p, e, out in todo}
        for fut in as_completed(futures):
            p, e, out = futures[fut]
            try:
                rep.bytes += fut.result()
                rep.restored += 1
                dirs.add(out.parent)
            except FileNotFoundError:
                rep.problems.append(Problem("missing", p, "object not on the target; not restored"))
            except ValueError as exc:
                rep.problems.append(Problem("different", p, f"fails its hash, not restored: {exc}"))
            except OSError as exc:
                rep.problems.append(Problem("unreadable", p, str(exc)))
            bar.update(e["size"])
    bar.close()
    for d in sorted(dirs):
        fsync_dir(d)
    rep.problems.sort(key=lambda q: q.name)
    rep.seconds = time.perf_counter() - t0
    return rep


def restore_target(url: str, directory: str | os.PathLike, force: bool = False, manifest: str | None = None,
                   progress: bool = False, **options) -> RestoreReport:
    """Open the target at ``url`` and restore it into ``directory`` (see :func:`restore`).

    Examples
    --------
    >>> restore_target("s3://bucket/crac", "restored").ok  # doctest: +SKIP
    True
    """
    with open_target(url, **options) as target:
        return restore(target, directory, force=force, manifest=manifest, progress=progress)
