"""Daily summaries, instrument status reports and field notes, stored as versioned plain files.

Layout (inside the archive, so backups include them)::

    ARCHIVE/reports/<station>/<report id>/v1.md, v2.md ...   one file per version (YAML header + text)
    ARCHIVE/reports/<station>/<report id>/files/<name>       attachments (PNG, JPEG, GIF or PDF)

A report id is ``<date>-<kind>-<8 random characters>``. A new version never replaces an old one: it is written
to a temporary file and hard-linked to the next free ``vN.md`` (which fails if another writer took that
number first, and is retried), so two participants saving at once both keep their text.

Examples
--------
>>> import tempfile, pathlib, datetime as dt
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> now = dt.datetime(2024, 3, 10, 18, 0, tzinfo=dt.UTC)
>>> rid, v = write_report(root, "s1", "daily", "2024-03-10", "Day 1", "All fine.", "alice", now)
>>> v, read_report(root, "s1", rid).title
(1, 'Day 1')
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..fsutil import FILE_MODE, atomic_write_bytes, fsync_dir, fsync_file

KINDS = {"daily": "daily summary", "status": "instrument status", "note": "field note"}
_RID = re.compile(r"^\d{4}-\d{2}-\d{2}-(daily|status|note)-[a-z0-9]{8}$")
_VERSION = re.compile(r"^v([1-9][0-9]{0,5})\.md$")
_ATTACH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
#: Attachment types accepted: extension -> (content type, leading bytes).
ATTACHMENT_TYPES = {
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    ".pdf": ("application/pdf", (b"%PDF-",)),
}


class ReportError(ValueError):
    """A report or attachment is not acceptable (message says why)."""


@dataclass(frozen=True)
class Report:
    """One version of a report."""

    station: str
    rid: str
    version: int
    versions: int
    kind: str
    date: str
    title: str
    author: str
    created: str
    body: str
    attachments: tuple[str, ...]

    @property
    def kind_label(self) -> str:
        """Readable kind, e.g. ``"instrument status"``."""
        return KINDS.get(self.kind, self.kind)


def valid_id(rid: str) -> bool:
    """Whether ``rid`` is a well-formed report id (nothing else is ever turned into a path).

    Examples
    --------
    >>> valid_id("2024-03-10-daily-abcd1234"), valid_id("../../etc")
    (True, False)
    """
    return bool(_RID.match(rid))


def safe_attachment_name(name: str) -> str:
    """A file name reduced to letters, digits, ``._-`` (path parts dropped); raises when nothing is left.

    Examples
    --------
    >>> safe_attachment_name("C:\\\\photos\\\\mast top (1).JPG")
    'mast_top_1.jpg'
    """
    base = re.split(r"[\\/]", name)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:80]
    out = f"{stem}.{ext.lower()}" if ext else stem
    if not stem or not _ATTACH.match(out):
        raise ReportError(f"unusable attachment name {name[:60]!r}")
    return out


def check_attachment(name: str, data: bytes, limit: int) -> str:
    """Validate an attachment (type by extension and content, size); returns its safe name."""
    safe = safe_attachment_name(name)
    ext = os.path.splitext(safe)[1]
    if ext not in ATTACHMENT_TYPES:
        raise ReportError(f"{safe}: attachments must be {', '.join(sorted(ATTACHMENT_TYPES))}")
    if len(data) > limit:
        raise ReportError(f"{safe}: {len(data) / 1e6:.1f} MB is over the upload limit of {limit / 1e6:.0f} MB "
                          "(serve.upload_limit_mb)")
    if not any(data.startswith(m) for m in ATTACHMENT_TYPES[ext][1]):
        raise ReportError(f"{safe}: the content is not a {ext[1:].upper()} file")
    return safe


def _versions(folder: Path) -> list[int]:
    try:
        return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _VERSION.match(p.name)))
    except FileNotFoundError:
        return []


def write_report(archive: Path, station: str, kind: str, date: str, title: str, body: str, author: str,
                 now: dt.datetime, rid: str | None = None, attachments: list[tuple[str, bytes]] = (),
                 upload_limit: int = 20_000_000) -> tuple[str, int]:
    """Write a new report, or a new version of report ``rid``; returns ``(rid, version)``.

    Parameters
    ----------
    archive
        The archive root (reports go to ``archive/reports/<station>/``).
    station
        Station id (checked by the caller against the project and the policy).
    kind
        ``daily``, ``status`` or ``note``.
    date
        The day the report is about (``YYYY-MM-DD``).
    title, body
        Text (plain text or Markdown).
    author
        The logged-in user.
    now
        Creation instant.
    rid
        Existing report to add a version to.
    attachments
        ``(file name, bytes)`` pairs (PNG, JPEG, GIF, PDF).
    upload_limit
        Largest attachment in bytes.

    Returns
    -------
    tuple
        Report id and version number.

    Examples
    --------
    >>> write_report(root, "s1", "status", "2024-03-10", "Sonic", "Heater off", "bob", now)  # doctest: +SKIP
    ('2024-03-10-status-k3j2h1g0', 1)
    """
    if kind not in KINDS:
        raise ReportError(f"kind must be one of {', '.join(KINDS)}")
    try:
        day = dt.date.fromisoformat(date)
    except (TypeError, ValueError):
        raise ReportError(f"date: expected YYYY-MM-DD, got {str(date)[:20]!r}") from None
    title = " ".join(str(title).split())[:200]
    if not title:
        raise ReportError("a report needs a title")
    if len(body) > 200_000:
        raise ReportError("the text is longer than 200000 characters")
    checked = [(check_attachment(n, d, upload_limit), d) for n, d in attachments if n and d]
    if rid is None:
        rid = f"{day.isoformat()}-{kind}-{secrets.token_hex(4)}"
    elif not valid_id(rid):
        raise ReportError("no such report")
    folder = archive / "reports" / station / rid
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in checked:
        atomic_write_bytes(folder / "files" / name, data)
    names = sorted({*(n for n, _ in checked), *(p.name for p in (folder / "files").glob("*"))}) \
        if (folder / "files").is_dir() else []
    for _ in range(100):
        version = (_versions(folder) or [0])[-1] + 1
        head = {"title": title, "kind": kind, "station": station, "date": day.isoformat(), "author": author,
                "created": now.astimezone(dt.UTC).isoformat(), "version": version, "attachments": names}
        text = "---\n" + yaml.safe_dump(head, sort_keys=False, allow_unicode=True) + "---\n" + body.replace(
            "\r\n", "\n")
        fd, tmp = tempfile.mkstemp(prefix=".crac-tmp-report.", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text if text.endswith("\n") else text + "\n")
            os.chmod(tmp, FILE_MODE)
            fsync_file(tmp)
            try:
                os.link(tmp, folder / f"v{version}.md")  # fails if someone else took this number
            except FileExistsError:
                continue
            fsync_dir(folder)
            return rid, version
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    raise ReportError("could not store the report (too many concurrent versions)")


def read_report(archive: Path, station: str, rid: str, version: int | None = None) -> Report | None:
    """One version (default: the newest) of a report, or None when there is no such report/version."""
    if not valid_id(rid):
        return None
    folder = archive / "reports" / station / rid
    versions = _versions(folder)
    if not versions:
        return None
    v = versions[-1] if version is None else version
    if v not in versions:
        return None
    text = (folder / f"v{v}.md").read_text(encoding="utf-8")
    _, head, body = text.split("---\n", 2)
    h = yaml.safe_load(head) or {}
    return Report(station, rid, v, versions[-1], str(h.get("kind", "")), str(h.get("date", "")),
                  str(h.get("title", "")), str(h.get("author", "")), str(h.get("created", "")), body,
                  tuple(h.get("attachments") or ()))


def list_reports(archive: Path, stations: list[str]) -> list[Report]:
    """The newest version of every report of ``stations``, newest date first."""
    out = []
    for st in stations:
        folder = archive / "reports" / st
        if not folder.is_dir():
            continue
        for sub in folder.iterdir():
            if sub.is_dir() and not sub.is_symlink() and valid_id(sub.name):
                rep = read_report(archive, st, sub.name)
                if rep is not None:
                    out.append(rep)
    return sorted(out, key=lambda r: (r.date, r.created), reverse=True)


def attachment_path(archive: Path, station: str, rid: str, name: str) -> Path | None:
    """The file of an attachment, when the id and name are well-formed (the policy checks where it resolves)."""
    if not valid_id(rid) or not _ATTACH.match(name) or os.path.splitext(name)[1] not in ATTACHMENT_TYPES:
        return None
    return archive / "reports" / station / rid / "files" / name
