"""The one access decision of the field catalog: :func:`allowed`.

Every route of the app, every listing, search, count, map point, page, plot, quick-look, report, attachment,
download, API answer, intake catalog, STAC document, zarr mirror key, map tile and static file, and
``crac publish``, asks :func:`allowed` before it shows anything. Nothing is ever decided by a prefix comparison:
datasets, stations and roles are compared as whole names, and files are compared as resolved paths component by
component (``public`` is not ``public_embargo``), after resolving symbolic links, so no link can lead out of the
folder a target owns.

Rules
-----
* A declaration applies to a target by exact name: ``project`` (every dataset and station of the project),
  ``station`` (that station, its datasets and reports), ``dataset`` (that dataset; for a station target,
  any of the station's datasets).
* A declaration is *active* while ``preliminary`` is true and ``now < release`` (no release: always).
  At the release instant itself it is inactive: ``T - 1 s`` is refused, ``T`` is served.
* A caller passes an active declaration when it is logged in and its user name is among ``members`` or
  one of its roles among ``roles``. It must pass **every** active declaration that applies (a narrower
  declaration can only restrict further).
* A file path is allowed only when it exists, resolves (symbolic links followed) to a location inside the
  target's ``root`` folder, and carries no NUL byte. The ``root`` folder itself must not be a symbolic link
  (``mirror/public_met.zarr -> public_embargo_met.zarr`` would make another dataset's folder the root).

Examples
--------
>>> import datetime as dt
>>> from crac_tools.web.settings import EmbargoConfig
>>> rule = EmbargoConfig(dataset="s1_met", release="2030-01-01T00:00:00Z", members=("alice",))
>>> s1 = Target("proj", "s1", ("s1_met",), rules=(rule,))
>>> sib = Target("proj", "s1_met2", ("s1_met2",), rules=(rule,))
>>> t = dt.datetime(2029, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
>>> allowed(s1, None, None, t), allowed(s1, None, User("alice"), t), allowed(sib, None, None, t)
(False, True, True)
>>> allowed(s1, None, None, t + dt.timedelta(seconds=1))
True
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from .settings import EmbargoConfig

__all__ = ["SITE", "Target", "User", "allowed", "active_rules"]


@dataclass(frozen=True)
class User:
    """An authenticated caller."""

    name: str
    roles: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Target:
    """What a request touches.

    Attributes
    ----------
    project
        The project name ("" for a site page that shows no data, such as the login form).
    station
        Station id, or None for the project or site itself.
    keys
        The dataset keys concerned (one for a dataset page; every dataset of a station for a station page).
    root
        The only folder files of this target may be served from (None: no files); it must not itself be a
        symbolic link.
    rules
        Every embargo declaration of the server (the applicable ones are chosen here, by exact name).
    """

    project: str
    station: str | None = None
    keys: tuple[str, ...] = ()
    root: Path | None = None
    rules: tuple[EmbargoConfig, ...] = ()

    @property
    def key(self) -> str | None:
        """The dataset key of a single-dataset target."""
        return self.keys[0] if len(self.keys) == 1 else None


#: A site page that shows no data (login form, style sheets): no embargo applies; files need a root.
SITE = Target(project="")


def _applies(rule: EmbargoConfig, target: Target) -> bool:
    kind, name = rule.scope
    if not target.project:  # a site page holds no project data
        return False
    if kind == "project":
        return name == target.project
    if kind == "station":
        return target.station is not None and name == target.station
    return name in target.keys  # exact membership of a tuple, never a prefix test


def _is_active(rule: EmbargoConfig, now: dt.datetime) -> bool:
    if not rule.preliminary:
        return False
    release = rule.release_utc()
    return release is None or now < release


def active_rules(target: Target, now: dt.datetime) -> list[EmbargoConfig]:
    """The declarations that restrict ``target`` at ``now``.

    Examples
    --------
    >>> import datetime as dt
    >>> active_rules(SITE, dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    []
    """
    return [r for r in target.rules if _applies(r, target) and _is_active(r, now)]


def _passes(rule: EmbargoConfig, user: User | None) -> bool:
    if user is None:
        return False
    return user.name in rule.members or bool(user.roles.intersection(rule.roles))


def _real_root(root: Path) -> Path | None:
    """``root`` resolved, or None when it is missing or itself a symbolic link (the folders above it may be links:
    they keep its name, so a link can move a dataset's folder but never put another dataset's folder in its place).
    """
    try:
        base = root.resolve(strict=True)
        above = root.parent.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    return base if base == above / root.name else None


def _inside(path: os.PathLike | str, root: Path) -> bool:
    text = os.fspath(path)
    base = _real_root(root)
    if base is None or "\x00" in text or not os.path.isabs(text):
        return False
    try:
        real = Path(text).resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return real == base or real.is_relative_to(base)  # component-wise, after following every link


def allowed(target: Target, path: os.PathLike | str | None, user: User | None, now: dt.datetime) -> bool:
    """Whether ``user`` may see ``target`` (and the file ``path`` of it) at the instant ``now``.

    Parameters
    ----------
    target
        What is asked for (:class:`Target`; :data:`SITE` for pages that show no data).
    path
        A file to be served, or None. It must exist and resolve inside ``target.root``.
    user
        The authenticated caller, or None for anonymous.
    now
        The current instant (timezone-aware).

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        ``now`` has no timezone (a naive clock would shift every release by the server's zone).

    Examples
    --------
    >>> import datetime as dt
    >>> allowed(SITE, None, None, dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    True
    >>> allowed(SITE, "/etc/passwd", None, dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    False
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("allowed() needs a timezone-aware 'now'")
    if path is not None and (target.root is None or not _inside(path, target.root)):
        return False
    return all(_passes(rule, user) for rule in active_rules(target, now))
