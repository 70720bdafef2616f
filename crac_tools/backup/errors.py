"""Errors of the backup stage (all derive from :class:`~crac_tools.errors.CracError`)."""

from __future__ import annotations

from ..errors import CracError


class BackupError(CracError):
    """A backup target cannot be reached, refuses the credentials, or a backup/restore failed."""


class ManifestError(BackupError):
    """A target manifest is missing, truncated or fails its own checksum."""


class SourceChanged(BackupError):
    """The bytes read from a project file do not hash to what was expected (it changed, or is damaged);
    nothing was stored under its key."""

    def __init__(self, message: str, digest: str = "") -> None:
        super().__init__(message)
        #: sha256 of the bytes actually read.
        self.digest = digest
