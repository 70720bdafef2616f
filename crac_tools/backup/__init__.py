"""Backup, verify and restore a whole project to local disks, S3-compatible storage and SFTP servers.

Examples
--------
>>> from crac_tools.backup import backup_project, verify_target, restore_target
>>> [r.ok for r in backup_project("demo/crac.yaml", to="/mnt/usb/crac")]  # doctest: +SKIP
[True]
>>> verify_target("/mnt/usb/crac").ok  # doctest: +SKIP
True
>>> restore_target("/mnt/usb/crac", "/tmp/restored").ok  # doctest: +SKIP
True
"""

from __future__ import annotations

from .backup import BackupResult, backup_project, backup_to, project_settings
from .errors import BackupError, ManifestError
from .manifest import Manifest, scan_project
from .restore import RestoreReport, restore, restore_target
from .settings import BackupConfig, BackupTarget
from .targets import LocalTarget, S3Target, SFTPTarget, Target, open_target
from .verify import Problem, VerifyReport, verify, verify_target

__all__ = [
    "BackupConfig", "BackupError", "BackupResult", "BackupTarget", "LocalTarget", "Manifest", "ManifestError",
    "Problem", "RestoreReport", "S3Target", "SFTPTarget", "Target", "VerifyReport", "backup_project", "backup_to",
    "open_target", "project_settings", "restore", "restore_target", "scan_project", "verify", "verify_target",
]
