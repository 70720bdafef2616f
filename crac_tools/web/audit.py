"""The audit log of the field catalog: releases, embargo changes, downloads, logins and denials.

One JSON object per line in ``ARCHIVE/logs/web-audit.jsonl`` (appended under a lock, flushed and fsynced).

Examples
--------
>>> import tempfile, pathlib, datetime as dt
>>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl")
>>> log.write("download", dt.datetime(2024, 1, 1, tzinfo=dt.UTC), user="alice", dataset="s1_met")
>>> log.read()[0]["event"]
'download'
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any


class AuditLog:
    """Append-only JSON-lines audit log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, event: str, now: dt.datetime, **fields: Any) -> None:
        """Append one event (``now`` is the server clock's instant)."""
        rec = {"time": now.astimezone(dt.UTC).isoformat(), "event": event, **fields}
        line = json.dumps(rec, sort_keys=True, default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())

    def read(self) -> list[dict]:
        """Every event so far."""
        try:
            with open(self.path, encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        except FileNotFoundError:
            return []
