"""The ``serve:`` section of ``crac.yaml``: users, embargo declarations and server limits.

Every model forbids unknown keys, and names are checked against the project (a member that is not a user, a
station or dataset that does not exist, another project's name), so a misspelled policy key stops the server
at start-up instead of silently opening access.

Examples
--------
>>> cfg = ServeConfig.model_validate({"embargo": [{"dataset": "s1_met", "release": "2030-01-01T00:00:00Z"}]})
>>> cfg.embargo[0].release.isoformat()
'2030-01-01T00:00:00+00:00'
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..config import Project, _load_yaml
from ..errors import ConfigError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserConfig(_Model):
    """A participant who may log in."""

    name: str | None = None
    email: str | None = None
    roles: tuple[str, ...] = ()
    #: ``scrypt$...`` hash made by ``crac serve --set-password`` (never a plain password).
    password_hash: str | None = None

    @field_validator("password_hash")
    @classmethod
    def _hashed(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("scrypt$"):
            raise ValueError("must be a hash made by `crac serve --set-password USER` (starting 'scrypt$'), "
                             "never a plain password")
        return v


class EmbargoConfig(_Model):
    """One embargo declaration: the project, a station or a dataset is preliminary until ``release``."""

    project: str | None = None
    station: str | None = None
    dataset: str | None = None
    preliminary: bool = True
    #: The instant the data become public (timezone required, e.g. ``2025-03-01T00:00:00Z``); none = never.
    release: AwareDatetime | None = None
    members: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_scope(self) -> EmbargoConfig:
        given = [k for k in ("project", "station", "dataset") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of project, station or dataset (found {given or 'none'})")
        return self

    @property
    def scope(self) -> tuple[str, str]:
        """``(kind, name)``, e.g. ``("dataset", "s1_met")``."""
        for k in ("project", "station", "dataset"):
            v = getattr(self, k)
            if v is not None:
                return k, v
        raise AssertionError("validated: one scope")  # pragma: no cover

    def release_utc(self) -> dt.datetime | None:
        """The release instant in UTC."""
        return None if self.release is None else self.release.astimezone(dt.UTC)


class ServeConfig(_Model):
    """The ``serve:`` section."""

    users: dict[str, UserConfig] = Field(default_factory=dict)
    embargo: tuple[EmbargoConfig, ...] = ()
    #: Hours a login session lasts.
    session_hours: float = Field(default=12.0, gt=0, le=24 * 90)
    #: Largest download (estimated size of the delivered file) in MB; larger requests get 413.
    download_limit_mb: float = Field(default=200.0, gt=0)
    #: Largest report attachment in MB.
    upload_limit_mb: float = Field(default=20.0, gt=0)
    #: Failed logins (per user name and per client address) before back-off starts.
    login_max_failures: int = Field(default=3, ge=1)
    #: First back-off after too many failures; doubles with every further failure (at most 15 minutes).
    login_backoff_seconds: float = Field(default=2.0, ge=0)
    #: Public base URL when behind a proxy (used in intake catalogs); default: the request's own URL.
    public_url: str | None = None
    #: Contact shown in the file catalog table.
    contact: str | None = None
    #: A local folder of XYZ map tiles (``{z}/{x}/{y}.png``, relative to ``crac.yaml``) served at
    #: ``/tiles/{z}/{x}/{y}.png`` as the map background; none: a plain coordinate plot.
    tiles: Path | None = None

    @field_validator("users")
    @classmethod
    def _user_names(cls, v: dict[str, UserConfig]) -> dict[str, UserConfig]:
        for name in v:
            if not _NAME_RE.match(name):
                raise ValueError(f"user name {name!r}: letters, digits, '_', '.', '@' or '-'")
        return v


def _check_names(project: Project, cfg: ServeConfig) -> list[str]:
    problems = []
    stations = {s.id for s in project.stations}
    keys = {s.key for s in project.stations}
    for i, e in enumerate(cfg.embargo):
        kind, name = e.scope
        if kind == "project" and name != project.config.project.name:
            problems.append(f"serve.embargo.{i}.project: {name!r} is not this project "
                            f"({project.config.project.name!r})")
        if kind == "station" and name not in stations:
            problems.append(f"serve.embargo.{i}.station: no station {name!r}; known: {', '.join(sorted(stations))}")
        if kind == "dataset" and name not in keys:
            problems.append(f"serve.embargo.{i}.dataset: no dataset {name!r}; known: {', '.join(sorted(keys))}")
        for m in e.members:
            if m not in cfg.users:
                problems.append(f"serve.embargo.{i}.members: {m!r} is not a user under serve.users")
        known_roles = {r for u in cfg.users.values() for r in u.roles}
        for r in e.roles:
            if r not in known_roles:
                problems.append(f"serve.embargo.{i}.roles: no user has role {r!r}")
        if e.preliminary and not e.members and not e.roles:
            problems.append(f"serve.embargo.{i}: preliminary data needs members or roles who may see them")
    return problems


def load_serve_config(project: Project, data: dict[str, Any] | None = None) -> ServeConfig:
    """Validate the ``serve:`` section of ``project``'s ``crac.yaml`` (or ``data``) against the project.

    Parameters
    ----------
    project
        The loaded project (station ids and dataset keys are checked against it).
    data
        The section as a mapping; default: read ``crac.yaml`` again.

    Raises
    ------
    ConfigError
        Naming ``crac.yaml`` and every problem (unknown key, unknown station, member or role...).

    Examples
    --------
    >>> cfg = load_serve_config(project)  # doctest: +SKIP
    >>> [e.scope for e in cfg.embargo]  # doctest: +SKIP
    [('dataset', 'bravo_met')]
    """
    path = Path(project.path)
    if data is None:
        data = _load_yaml(path).get("serve") or {}
    if not isinstance(data, dict):
        raise ConfigError(path, f"serve: expected a mapping, found {type(data).__name__}", key="serve")
    try:
        cfg = ServeConfig.model_validate(data)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            key = "serve." + ".".join(str(x) for x in e["loc"])
            if e["type"] == "extra_forbidden":
                lines.append(f"{key}: unknown key; check the spelling")
            else:
                lines.append(f"{key}: {e['msg']} (found {str(e.get('input'))[:60]!r})")
        raise ConfigError(path, "invalid serve configuration:\n  " + "\n  ".join(lines), key="serve") from None
    problems = _check_names(project, cfg)
    if cfg.tiles is not None:
        tiles = (Path(project.root) / cfg.tiles).resolve()
        if not tiles.is_dir():
            problems.append(f"serve.tiles: no folder {str(tiles)!r} (a folder of {{z}}/{{x}}/{{y}}.png map tiles)")
        cfg = cfg.model_copy(update={"tiles": tiles})
    if problems:
        raise ConfigError(path, "invalid serve configuration:\n  " + "\n  ".join(problems), key="serve")
    return cfg
