"""Collect new and grown files from local or mounted folders (glob patterns, ``**`` recursive).

A source file is copied into the station's raw archive when it is new, or when it grew since the last
collection and its already-collected prefix is unchanged (the archive copy is replaced atomically by the
longer one). A file that shrank or whose collected prefix changed is a *new version*: it is kept beside
the old copy under ``name__vN.ext``, never over it. Unchanged files (same size and mtime) are not read.
Every copy lands under a temporary name, is verified by re-reading its sha256, fsynced and renamed; the
state is saved after the copies are durable, so a second run copies nothing.

Examples
--------
>>> from crac_tools.collect.folder import collect_folder
>>> result = collect_folder(["/data/alpha/*.dat"], archive, "alpha_met")  # doctest: +SKIP
>>> [c.action for c in result]  # doctest: +SKIP
['new', 'new']
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import CollectError
from ..fsutil import TMP_PREFIX, copy_atomic, sha256_file
from .manifest import RawArchive

log = logging.getLogger(__name__)


@dataclass
class Collected:
    """One file copied by a collection run."""

    source: str
    name: str
    action: str  # "new", "grown" or "version"
    size: int
    sha256: str


def expand_sources(patterns: list[str]) -> list[Path]:
    """Files matched by glob ``patterns`` (sorted, de-duplicated, temp files and folders left out)."""
    seen: dict[str, Path] = {}
    for pat in patterns:
        for m in sorted(glob.glob(pat, recursive=True)):
            p = Path(m)
            if p.is_file() and not p.name.startswith(TMP_PREFIX):
                seen.setdefault(str(p.resolve()), p.resolve())
    return list(seen.values())


def collect_folder(patterns: list[str], archive: Path, key: str) -> list[Collected]:
    """Copy new or grown files matched by ``patterns`` into the raw archive of station ``key``.

    Parameters
    ----------
    patterns
        Absolute glob patterns of local or mounted files.
    archive
        The archive root.
    key
        The station key (``<id>_<product>``); files go to ``archive/raw/<key>/``.

    Returns
    -------
    list[Collected]
        What was copied (empty when nothing was new).

    Raises
    ------
    CollectError
        When no pattern points at an existing folder (a typo or an unmounted disk), or a copy fails.

    Examples
    --------
    >>> collect_folder(["/mnt/field/alpha/*.dat"], Path("archive"), "alpha_met")  # doctest: +SKIP
    []
    """
    raw = RawArchive(archive, key)
    missing = [p for p in patterns if not _base_dir(p).is_dir()]
    if missing:
        raise CollectError(f"{key}: source folder(s) not found: {', '.join(missing)}")
    out: list[Collected] = []
    sources = raw.state["sources"]
    try:
        for src in expand_sources(patterns):
            st = src.stat()
            prev = sources.get(str(src))
            if prev and prev["size"] == st.st_size and prev["mtime_ns"] == st.st_mtime_ns:
                continue
            action = "new"
            name = None
            if prev:
                old = raw.state["files"].get(prev["name"], {})
                if st.st_size == prev["size"] and sha256_file(src) == prev["sha256"]:
                    prev["mtime_ns"] = st.st_mtime_ns  # touched, not changed
                    continue
                if (st.st_size > prev["size"] and not old.get("quarantined")
                        and sha256_file(src, limit=prev["size"]) == prev["sha256"]):
                    action, name = "grown", prev["name"]
                else:
                    action = "version"
            if name is None:
                name = raw.free_name(src.name, str(src)) if action == "new" else raw.free_name(
                    src.name, "\0" + str(src))
            digest = copy_atomic(src, raw.path_of(name), length=st.st_size)
            raw.record(name, digest, st.st_size, str(src))
            sources[str(src)] = {"name": name, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                 "sha256": digest}
            out.append(Collected(str(src), name, action, st.st_size, digest))
            log.info("%s: %s %s -> %s", key, action, src, name)
    except OSError as exc:
        raise CollectError(f"{key}: collecting {exc.filename or ''} failed: {exc}") from exc
    finally:
        if out or raw._state is not None:
            raw.folder.mkdir(parents=True, exist_ok=True)
            raw.save()
    return out


def _base_dir(pattern: str) -> Path:
    """The folder part of a glob pattern before its first wildcard."""
    head = pattern
    for i, ch in enumerate(pattern):
        if ch in "*?[":
            head = pattern[:i]
            break
    p = Path(head)
    return p if head.endswith(os.sep) or p.is_dir() else p.parent


def is_local(pattern: str) -> bool:
    """Whether a source pattern is a local path (not an ``sftp://`` or other URL)."""
    return "://" not in pattern or pattern.startswith("file://")


__all__ = ["Collected", "collect_folder", "expand_sources", "is_local"]
