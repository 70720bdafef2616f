"""The version ledger: every product version ever written, in ``ARCHIVE/ledger.jsonl``.

One JSON object per line (station, product, period, version, file, sha256, input fingerprint, crac_tools
version, when, and the file it replaced — or ``kept`` beside, in ``keep`` versioning). The file is rewritten
atomically (temp + fsync + rename) by the ingest coordinator, which holds the archive lock.

Examples
--------
>>> versions = read_ledger("demo/archive")  # doctest: +SKIP
>>> versions[0]["version"]  # doctest: +SKIP
1
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd

from . import __version__
from .config import StationConfig
from .fsutil import atomic_write_text

LEDGER = "ledger.jsonl"


def read_ledger(archive: str | os.PathLike) -> list[dict]:
    """All ledger entries, oldest first (empty when there is no ledger yet)."""
    path = Path(archive) / LEDGER
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def record_versions(archive: Path, station: StationConfig, policy: str,
                    entries: list[tuple[pd.Timestamp, pd.Timestamp, int, str, str | None, str, str | None]]) -> None:
    """Append ``(start, end, version, path, sha256, fingerprint, previous path)`` entries to the ledger."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = Path(archive) / LEDGER
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = []
    for start, end, version, product, sha, fingerprint, previous in entries:
        rel = os.path.relpath(product, archive)
        prev_rel = os.path.relpath(previous, archive) if previous else None
        lines.append(json.dumps({
            "station": station.id, "product": station.product, "period_start": pd.Timestamp(start).isoformat(),
            "period_end": pd.Timestamp(end).isoformat(), "version": version, "file": rel, "sha256": sha,
            "input_fingerprint": fingerprint, "crac_tools_version": __version__, "written": now,
            "previous": prev_rel, "previous_action": (None if prev_rel is None else
                                                      "replaced" if prev_rel == rel or policy == "replace"
                                                      else "kept"),
        }, sort_keys=True))
    atomic_write_text(path, old + "".join(line + "\n" for line in lines))
