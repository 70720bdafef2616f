"""Collect new and grown files from local or mounted folders (glob patterns, ``**`` recursive).

A source file is copied into the station's raw archive when it is new, or when it grew since the last
collection and its already-collected prefix is unchanged (the archive copy is replaced atomically by the
longer one). A file that shrank or whose collected prefix changed is a *new version*: it is kept beside
the old copy under ``name__vN.ext``, never over it. Unchanged files (same size and mtime) are not read.
Every copy lands under a temporary name, is verified by re-reading its sha256, fsynced and renamed; the
state is saved after each copy is durable, so a second run copies nothing. The algorithm itself lives in
:mod:`crac_tools.collect.transfer` and is shared with SFTP sources.

Examples
--------
>>> from crac_tools.collect.folder import collect_folder
>>> result = collect_folder(["/data/alpha/*.dat"], archive, "alpha_met")  # doctest: +SKIP
>>> [c.action for c in result]  # doctest: +SKIP
['new', 'new']
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import CollectError
from .manifest import RawArchive
from .transfer import Collected, CollectReport, LocalSource, TransferOptions, collect_source

log = logging.getLogger(__name__)


def expand_sources(patterns: list[str]) -> list[Path]:
    """Files matched by glob ``patterns`` (sorted, de-duplicated, temp files and folders left out).

    Examples
    --------
    >>> expand_sources(["/nonexistent/*.dat"])
    []
    """
    return [Path(f.path) for f in LocalSource().list(patterns)]


def collect_folder(patterns: list[str], archive: Path, key: str, options: TransferOptions | None = None,
                   report: CollectReport | None = None) -> list[Collected]:
    """Copy new or grown files matched by ``patterns`` into the raw archive of station ``key``.

    Parameters
    ----------
    patterns
        Absolute glob patterns of local or mounted files.
    archive
        The archive root.
    key
        The station key (``<id>_<product>``); files go to ``archive/raw/<key>/``.
    options
        Partial-line and deletion options (default: whole files, nothing deleted).
    report
        A report to fill with skipped files and record-number events, when the caller wants them.

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
    source = LocalSource()
    missing = source.missing(patterns)
    if missing:
        raise CollectError(f"{key}: source folder(s) not found: {', '.join(missing)}")
    report = report if report is not None else CollectReport()
    before = len(report.copied)
    try:
        collect_source(source, patterns, RawArchive(archive, key), options, report)
    except OSError as exc:
        raise CollectError(f"{key}: collecting {exc.filename or ''} failed: {exc}") from exc
    return report.copied[before:]


def is_local(pattern: str) -> bool:
    """Whether a source pattern is a local path (not an ``sftp://`` or other URL).

    Examples
    --------
    >>> is_local("/data/*.dat"), is_local("sftp://logger@10.0.0.5/data/*.dat")
    (True, False)
    """
    return "://" not in pattern or pattern.startswith("file://")


__all__ = ["Collected", "collect_folder", "expand_sources", "is_local"]
