"""Errors of the backup stage (all derive from :class:`~crac_tools.errors.CracError`)."""

from __future__ import annotations

from ..errors import CracError


class BackupError(CracError):
    """A backup target cannot be reached, refuses the credentials, or a backup/restore failed."""


class ManifestError(BackupError):
    """A target manifest is missing, truncated or fails its own checksum."""
