"""Manifests: what a project holds (a snapshot with sha256 per file) and what a target holds.

Target layout::

    TARGET/MANIFEST.json                      the current manifest, written last by every backup
    TARGET/manifests/<UTC time>.json          earlier manifests (fallback when MANIFEST.json is damaged)
    TARGET/files/<relative path>~<sha16>      one object per version of each file

An object's name carries the first 16 hex digits of its sha256, so a new version never overwrites an object
the committed manifest refers to: the target always holds one consistent snapshot (a zarr store's chunks
and metadata of one backup, never a mix of two), and older versions stay available for retention.

A manifest is canonical JSON followed by a line ``#sha256=<hex of the JSON bytes>``, so a flipped bit or a
truncation anywhere in it is detected.

Examples
--------
>>> m = Manifest(files={"crac.yaml": {"sha256": "ab" * 32, "size": 3, "mtime": 0.0}})
>>> decode_manifest(encode_manifest(m), "MANIFEST.json").files["crac.yaml"]["size"]
3
>>> object_key("archive/raw/s1/x.dat", "0123456789abcdef" * 4)
'files/archive/raw/s1/x.dat~0123456789abcdef'
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import posixpath
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fsutil import TMP_PREFIX, atomic_write_json, read_json
from .errors import ManifestError

FORMAT = "crac-backup/1"
MANIFEST = "MANIFEST.json"
HISTORY = "manifests"
FILES = "files"
#: Earlier manifests kept in ``manifests/``.
KEEP_HISTORY = 10
_TRAILER = b"\n#sha256="
#: Files modified less than this many seconds ago are never taken from the hash cache (racy timestamps).
_RACY = 2.0


def object_key(path: str, sha256: str) -> str:
    """The target key of one version of a project file.

    Examples
    --------
    >>> object_key("crac.yaml", "f" * 64)
    'files/crac.yaml~ffffffffffffffff'
    """
    return f"{FILES}/{path}~{sha256[:16]}"


def is_temp_key(key: str) -> bool:
    """Whether ``key`` names a temporary object (an interrupted copy's ``.crac-tmp-*`` file).

    Examples
    --------
    >>> is_temp_key("files/a/.crac-tmp-b~0.1234"), is_temp_key("files/a/b~0123")
    (True, False)
    """
    return posixpath.basename(key).startswith(TMP_PREFIX)


def split_object_key(key: str) -> tuple[str, str] | None:
    """``(project path, short hash)`` of a version object ``files/<path>~<sha16>``; None for any other key
    (manifests, temporary objects, malformed names).

    Examples
    --------
    >>> split_object_key(object_key("archive/x.nc", "ab" * 32)), split_object_key("MANIFEST.json")
    (('archive/x.nc', 'abababababababab'), None)
    """
    if not key.startswith(FILES + "/") or is_temp_key(key):
        return None
    path, sep, short = key[len(FILES) + 1:].rpartition("~")
    return (path, short) if sep and path else None


def history_keys(listing) -> list[str]:
    """The manifest copies under ``manifests/`` in a listing, newest first (temporary objects left out)."""
    return sorted((k for k in listing if k.startswith(HISTORY + "/") and not is_temp_key(k)), reverse=True)


def unit_of(path: str) -> str:
    """The consistency unit of a path: the enclosing ``*.zarr`` store, else the file itself.

    Examples
    --------
    >>> unit_of("archive/mirror/s1_met.zarr/RH/c/0")
    'archive/mirror/s1_met.zarr'
    >>> unit_of("archive/catalog.yaml")
    'archive/catalog.yaml'
    """
    parts = path.split("/")
    for i, p in enumerate(parts[:-1]):
        if p.endswith(".zarr"):
            return "/".join(parts[: i + 1])
    return path


def check_relpath(path: str) -> str:
    """Reject manifest paths that are absolute or climb out of the restore folder.

    Examples
    --------
    >>> check_relpath("archive/x.nc")
    'archive/x.nc'
    """
    if not path or path.startswith("/") or ".." in path.split("/") or "\\" in path or "\x00" in path:
        raise ManifestError(f"unsafe path in manifest: {path!r}")
    return path


@dataclass
class Manifest:
    """One backup generation: ``files`` (current), ``versions`` (older versions), ``removed`` (gone from
    the project but kept, since the target may hold the only copy)."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    removed: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: str = ""
    source: str = ""
    keep: int = 1

    def objects(self) -> dict[str, tuple[str, str, dict[str, Any]]]:
        """Every object this manifest refers to: ``{key: (role, path, entry)}``, role current/version/removed."""
        out: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for path, e in self.removed.items():
            out[object_key(path, e["sha256"])] = ("removed", path, e)
        for path, vs in self.versions.items():
            for e in vs:
                out[object_key(path, e["sha256"])] = ("version", path, e)
        for path, e in self.files.items():
            out[object_key(path, e["sha256"])] = ("current", path, e)
        return out


def encode_manifest(m: Manifest) -> bytes:
    """Canonical JSON of ``m`` plus its own checksum line."""
    body = json.dumps({"format": FORMAT, "created": m.created, "source": m.source, "keep": m.keep,
                       "files": m.files, "versions": m.versions, "removed": m.removed},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return body + _TRAILER + hashlib.sha256(body).hexdigest().encode("ascii") + b"\n"


def decode_manifest(data: bytes, name: str = MANIFEST) -> Manifest:
    """Parse and check a manifest; raise :class:`ManifestError` naming ``name`` when it is damaged."""
    body, sep, trailer = data.rpartition(_TRAILER)
    if not sep:
        raise ManifestError(f"{name}: damaged manifest (checksum line missing; truncated or altered)")
    digest = trailer.strip().decode("ascii", "replace")
    if hashlib.sha256(body).hexdigest() != digest or not trailer.endswith(b"\n"):
        raise ManifestError(f"{name}: damaged manifest (checksum mismatch: a bit flipped or it was altered)")
    try:
        d = json.loads(body)
    except ValueError as exc:
        raise ManifestError(f"{name}: damaged manifest (not JSON: {exc})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ManifestError(f"{name}: not a crac backup manifest (format {d.get('format')!r})")
    m = Manifest(files=d["files"], versions=d.get("versions", {}), removed=d.get("removed", {}),
                 created=d.get("created", ""), source=d.get("source", ""), keep=int(d.get("keep", 1)))
    for p in [*m.files, *m.versions, *m.removed]:
        check_relpath(p)
    return m


def load_manifest(target, listing: dict[str, int] | None = None) -> tuple[Manifest | None, list[str]]:
    """The target's newest intact manifest and the problems met on the way.

    Returns ``(None, [])`` for an empty target. When ``MANIFEST.json`` is damaged or missing but earlier
    manifests exist, the newest intact one is returned and the damage is listed in the problems.
    """
    listing = target.list() if listing is None else listing
    problems: list[str] = []
    if MANIFEST in listing:
        try:
            return decode_manifest(target.get_bytes(MANIFEST), MANIFEST), problems
        except FileNotFoundError:
            problems.append(f"{MANIFEST}: missing")
        except ManifestError as exc:
            problems.append(str(exc))
    history = history_keys(listing)
    if MANIFEST not in listing and (history or any(k.startswith(FILES + "/") for k in listing)):
        problems.append(f"{MANIFEST}: missing")
    for key in history:
        try:
            return decode_manifest(target.get_bytes(key), key), problems
        except (ManifestError, FileNotFoundError) as exc:
            problems.append(str(exc))
    return None, problems


# ------------------------------------------------------------------------------------------ source
@dataclass
class SourceFile:
    """One file of the project: relative path, absolute path, size, mtime and sha256 (``""`` until hashed)."""

    path: str
    abspath: Path
    size: int
    mtime: float
    sha256: str = ""
    #: (inode, mtime in ns): with size, the key of the hash cache.
    stamp: tuple[int, int] = (0, 0)
    #: The sha256 the archive's ``SHA256SUMS`` records for this (raw) file, else ``""``.
    expect: str = ""

    def unchanged(self) -> bool:
        """True when size, inode and mtime are still those seen by the scan."""
        try:
            st = self.abspath.stat()
        except OSError:
            return False
        return (st.st_ino, st.st_mtime_ns) == self.stamp and st.st_size == self.size

    def sums_problem(self) -> str | None:
        """The problem to report when the (known) hash fails the archive's ``SHA256SUMS``, else None."""
        if self.expect and self.sha256 and self.expect != self.sha256:
            return (f"{self.path}: the archive copy no longer matches its SHA256SUMS entry "
                    f"(expected {self.expect[:16]}..., found {self.sha256[:16]}...); not backed up")
        return None


@dataclass
class Snapshot:
    """Every file of a project to back up (``problems`` lists files failing the archive's ``SHA256SUMS``).

    A snapshot taken with ``lazy=True`` leaves files missing from the hash cache unhashed (``sha256 == ""``):
    :func:`~crac_tools.backup.backup.backup_to` hashes them while copying them (one read per file) or, when
    the target may already hold them, with :meth:`hash`.
    """

    root: Path
    archive: Path
    files: dict[str, SourceFile]
    problems: list[str] = field(default_factory=list)
    #: The hash cache as read (``{path: [size, mtime_ns, inode, sha256]}``).
    cache: dict[str, list] = field(default_factory=dict, repr=False)
    #: When the scan began (before any file was looked at): a file modified within ``_RACY`` seconds of it
    #: may change again without a new mtime on coarse-clock filesystems, so its hash is not cached.
    scanned_at: float = field(default_factory=time.time)

    def hash(self, files: list[SourceFile], threads: int = 2, progress=None) -> list[str]:
        """Hash ``files`` (in ``threads`` threads); record ``SHA256SUMS`` mismatches in ``problems`` and
        return them."""
        from .targets import hash_local

        def work(f: SourceFile) -> SourceFile:
            f.sha256, _ = hash_local(f.abspath)
            if progress is not None:
                progress(f.size)
            return f

        found: list[str] = []
        if not files:
            return found
        with ThreadPoolExecutor(max(1, threads)) as ex:
            for f in ex.map(work, files):
                problem = f.sums_problem()
                if problem is not None:
                    found.append(problem)
        self.problems.extend(found)
        return found

    def save_cache(self) -> None:
        """Write the hash cache: every hashed file not modified within ``_RACY`` seconds before the scan."""
        if not self.archive.is_dir():
            return
        new_cache = {}
        for rel, f in self.files.items():
            ino, mtime_ns = f.stamp
            if f.sha256 and self.scanned_at - f.mtime > _RACY:
                new_cache[rel] = [f.size, mtime_ns, ino, f.sha256]
        if new_cache != self.cache:
            atomic_write_json(self.archive / "state" / "backup" / "hashcache.json", new_cache)
            self.cache = new_cache


#: Patterns (relative to the archive) never backed up: locks, temp files, this stage's own cache.
EXCLUDE = ("state/*.lock", "state/**/*.lock", "state/backup/*", f"*{TMP_PREFIX}*", "**/__pycache__/*")
_EXCLUDE_RE = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in EXCLUDE))


def _excluded(rel_archive: str) -> bool:
    name = os.path.basename(rel_archive)
    if name.startswith(TMP_PREFIX):
        return True
    return _EXCLUDE_RE.match(rel_archive) is not None


def _raw_sums(archive: Path, prefix: str) -> dict[str, str]:
    """Hashes recorded by collection in ``raw/<key>/SHA256SUMS`` as ``{relative path: sha256}``."""
    out: dict[str, str] = {}
    raw = archive / "raw"
    if not raw.is_dir():
        return out
    for sums in raw.glob("*/SHA256SUMS"):
        for line in sums.read_text(encoding="utf-8", errors="replace").splitlines():
            digest, _, name = line.partition("  ")
            if len(digest) == 64 and name:
                out[f"{prefix}raw/{sums.parent.name}/{name}"] = digest
    return out


def scan_project(root: Path, archive: Path, stations_dir: Path, config_name: str = "crac.yaml",
                 threads: int = 2, progress=None, lazy: bool = False) -> Snapshot:
    """List and hash every file of a project: ``crac.yaml``, station files and the whole archive.

    Hashes are cached in ``ARCHIVE/state/backup/hashcache.json`` keyed by size, mtime and inode, so an
    unchanged file is not read again; a file whose size, mtime or inode changed is re-hashed and only sent
    when its hash differs. Raw files are checked against the archive's ``SHA256SUMS``: a raw file that no
    longer matches it is listed in ``problems`` (and must not replace a good backup copy).

    Parameters
    ----------
    lazy
        Leave files missing from the hash cache unhashed (the backup hashes them while copying them) and do
        not write the cache (call :meth:`Snapshot.save_cache` once the hashes are known).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> r = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (r / "crac.yaml").write_text("x")
    >>> snap = scan_project(r, r / "archive", r / "stations")
    >>> list(snap.files)
    ['crac.yaml']
    """
    root = Path(root).resolve()
    archive = Path(archive).resolve()
    try:
        prefix = archive.relative_to(root).as_posix() + "/"
    except ValueError:
        prefix = "archive/"
    if prefix == "./":
        prefix = ""
    scanned_at = time.time()  # before any stat: see Snapshot.scanned_at
    files: dict[str, SourceFile] = {}

    def add(rel: str, p: Path, st: os.stat_result | None = None) -> None:
        st = st or p.stat()
        files[rel] = SourceFile(rel, p, st.st_size, st.st_mtime, stamp=(st.st_ino, st.st_mtime_ns))

    cfg = root / config_name
    if cfg.is_file():
        add(config_name, cfg)
    sdir = (root / stations_dir).resolve()
    if sdir.is_dir():
        for p in sorted(sdir.rglob("*")):
            if p.is_file() and not p.name.startswith(TMP_PREFIX):
                try:
                    rel = p.relative_to(root).as_posix()
                except ValueError:
                    rel = "stations/" + p.relative_to(sdir).as_posix()
                add(rel, p)

    def walk(path: str, rel: str) -> None:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for e in entries:
            ra = rel + e.name
            try:
                if e.is_dir(follow_symlinks=False):
                    walk(e.path, ra + "/")
                elif e.is_file() and not _excluded(ra):
                    add(prefix + ra, Path(e.path), e.stat())
            except FileNotFoundError:  # removed while listing
                continue

    if archive.is_dir():
        walk(str(archive), "")
    cache = read_json(archive / "state" / "backup" / "hashcache.json", default={}) or {}
    todo: list[SourceFile] = []
    for rel, f in files.items():
        ino, mtime_ns = f.stamp
        c = cache.get(rel)
        if c and c[0] == f.size and c[1] == mtime_ns and c[2] == ino:
            f.sha256 = c[3]
        else:
            todo.append(f)
    snap = Snapshot(root, archive, files, cache=cache, scanned_at=scanned_at)
    for rel, want in _raw_sums(archive, prefix).items():
        if rel in files:
            files[rel].expect = want
    for f in files.values():
        problem = f.sums_problem()
        if problem is not None:
            snap.problems.append(problem)
    if not lazy:
        snap.hash(todo, threads, progress)
        snap.save_cache()
    return snap
