"""The ``backup:`` section of ``crac.yaml``: targets, retention, schedule (credentials never go here).

Example section::

    backup:
      keep: 3                        # versions kept of each changed file (default for every target)
      targets:
        - /mnt/backup/crac           # a bare URL
        - url: s3://my-bucket/crac
          keep: 5
          every: 1d                  # `crac backup --due` skips it when the last backup is newer
          sample: 0.05               # share of files `crac verify` re-reads by default
        - url: sftp://backup@nas.example.org/srv/crac
          known_hosts: ~/.ssh/known_hosts
          host_key_policy: reject    # or accept-new (explicit choice)

Examples
--------
>>> cfg = BackupConfig.model_validate({"keep": 2, "targets": ["/mnt/b", {"url": "s3://b/p", "keep": 4}]})
>>> [(t.url, cfg.keep_of(t)) for t in cfg.targets]
[('/mnt/b', 2), ('s3://b/p', 4)]
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_UNITS = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|min|m|h|d|w)\s*$", re.IGNORECASE)


def duration_seconds(v: str) -> float:
    """Seconds of a duration such as ``30min``, ``6h``, ``1d`` or ``1w``.

    Examples
    --------
    >>> duration_seconds("1d"), duration_seconds("30min")
    (86400.0, 1800.0)
    """
    m = _DURATION.match(v)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"expected a positive duration such as '1d', '6h' or '30min', got {v!r}")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


_SECRET_WORDS = ("secret", "password", "passphrase", "access_key", "token", "credential")


def _no_secrets(data: Any) -> Any:
    if isinstance(data, dict):
        for k in data:
            if any(w in str(k).lower() for w in _SECRET_WORDS):
                raise ValueError(f"{k!r}: credentials never go in the project YAML; use the environment "
                                 "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL), ~/.aws or SSH keys")
    return data


class BackupTarget(BaseModel):
    """One backup target: URL, retention, schedule, verify sample and SFTP host-key options."""

    model_config = ConfigDict(extra="forbid")

    url: str
    keep: int | None = Field(default=None, ge=1)
    every: str | None = None
    sample: float = Field(default=1.0, gt=0, le=1)
    known_hosts: str | None = None
    host_key_policy: Literal["reject", "accept-new"] = "reject"
    key_filename: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_url(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"url": data}
        return _no_secrets(data)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if "@" in v.split("://", 1)[-1].split("/", 1)[0] and ":" in v.split("://", 1)[-1].split("@", 1)[0]:
            raise ValueError("a password in the URL is not allowed; use SSH keys or the environment")
        return v

    @field_validator("every")
    @classmethod
    def _every(cls, v: str | None) -> str | None:
        if v is not None:
            duration_seconds(v)
        return v

    def options(self) -> dict[str, Any]:
        """Keyword options for :func:`~crac_tools.backup.targets.open_target`."""
        return {"known_hosts": self.known_hosts, "host_key_policy": self.host_key_policy,
                "key_filename": self.key_filename}


class BackupConfig(BaseModel):
    """The ``backup:`` section: default retention and the list of targets."""

    model_config = ConfigDict(extra="forbid")

    keep: int = Field(default=3, ge=1)
    targets: list[BackupTarget] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if isinstance(data, list):
            return {"targets": data}
        return _no_secrets(data)

    def keep_of(self, target: BackupTarget) -> int:
        """Versions kept on ``target`` (its own ``keep`` or the section's default)."""
        return target.keep or self.keep
