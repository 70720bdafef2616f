"""The raw archive of one station: files kept under their original names, a sha256 manifest, and the
collection state (what was collected from which source path, its size, mtime and hash).

Layout::

    ARCHIVE/raw/<station_key>/<original name>      raw copies (a rewritten source gets name__vN.ext)
    ARCHIVE/raw/<station_key>/SHA256SUMS           `sha256sum -c` compatible manifest of the folder
    ARCHIVE/state/collect/<station_key>.json        per-source-file collection state

Examples
--------
>>> import tempfile, pathlib
>>> raw = RawArchive(pathlib.Path(tempfile.mkdtemp()), "alpha_met")
>>> raw.files()
[]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..fsutil import atomic_write_json, atomic_write_text, read_json


@dataclass
class ArchivedFile:
    """One file in the raw archive."""

    name: str
    sha256: str
    size: int
    source: str
    collected_at: float
    quarantined: bool = False


class RawArchive:
    """Access to one station's raw folder, manifest and collection state."""

    def __init__(self, archive: Path, key: str) -> None:
        self.archive = Path(archive)
        self.key = key
        self.folder = self.archive / "raw" / key
        self.state_path = self.archive / "state" / "collect" / f"{key}.json"
        self.manifest_path = self.folder / "SHA256SUMS"
        self._state: dict | None = None

    @classmethod
    def at(cls, folder: Path, key: str = "adhoc") -> RawArchive:
        """A raw archive kept directly in ``folder`` (ad hoc collection without a project).

        The copies and ``SHA256SUMS`` go to ``folder``, the state to ``folder/.crac/collect-state.json``.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> RawArchive.at(d).state_path == d / ".crac" / "collect-state.json"
        True
        """
        raw = cls(Path(folder), key)
        raw.folder = Path(folder)
        raw.state_path = raw.folder / ".crac" / "collect-state.json"
        raw.manifest_path = raw.folder / "SHA256SUMS"
        return raw

    # -- state -------------------------------------------------------------------------------------
    @property
    def state(self) -> dict:
        """``{"sources": {source_path: {...}}, "files": {name: {...}}}`` (loaded lazily)."""
        if self._state is None:
            self._state = read_json(self.state_path, default=None) or {"sources": {}, "files": {}}
        return self._state

    def save(self) -> None:
        """Write the manifest and the state atomically (manifest first: it describes durable files)."""
        files = self.state["files"]
        lines = [f"{f['sha256']}  {name}\n" for name, f in sorted(files.items()) if not f.get("quarantined")]
        atomic_write_text(self.manifest_path, "".join(lines))
        atomic_write_json(self.state_path, self.state)

    def files(self, include_quarantined: bool = False) -> list[ArchivedFile]:
        """Archived files in collection order (oldest first)."""
        out = [ArchivedFile(name=n, **{k: v for k, v in f.items() if k in
                                        ("sha256", "size", "source", "collected_at", "quarantined")})
               for n, f in self.state["files"].items()]
        if not include_quarantined:
            out = [f for f in out if not f.quarantined]
        return sorted(out, key=lambda f: (f.collected_at, f.name))

    def path_of(self, name: str) -> Path:
        """Absolute path of an archived file."""
        return self.folder / name

    def record(self, name: str, sha256: str, size: int, source: str) -> None:
        """Note a durable copy in the state (call :meth:`save` afterwards)."""
        self.state["files"][name] = {"sha256": sha256, "size": size, "source": source,
                                     "collected_at": time.time(), "quarantined": False}

    def mark_quarantined(self, name: str, reason: str) -> None:
        """Flag an archived file as quarantined so it is neither ingested nor collected again unchanged."""
        entry = self.state["files"].get(name)
        if entry is not None:
            entry["quarantined"] = True
            entry["quarantine_reason"] = reason

    def free_name(self, name: str, source: str) -> str:
        """An archive name for ``source``: its own name, or ``stem__vN.ext`` when taken by other data."""
        taken = self.state["files"]
        if name not in taken or taken[name]["source"] == source and not (self.folder / name).exists():
            return name
        stem, dot, ext = name.partition(".")
        n = 2
        while True:
            cand = f"{stem}__v{n}{dot}{ext}"
            if cand not in taken and not (self.folder / cand).exists():
                return cand
            n += 1
