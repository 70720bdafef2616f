"""Server state shared by the routes: configuration (reloaded when ``crac.yaml`` changes), accounts, audit log,
the dataset registry, and the gate helpers through which every route reaches data.

Every helper that hands a route a dataset, station, report or file calls :func:`crac_tools.web.policy.allowed`
(through the module attribute, so a test can count the calls) and raises :class:`NotFound` otherwise; the app
answers :class:`NotFound` with the same status, body and headers whether the thing is missing or embargoed.

Examples
--------
>>> site = Site(load_project("demo"))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..config import Project, StationConfig
from ..errors import ConfigError
from ..fsutil import atomic_write_json, read_json
from . import policy
from .audit import AuditLog
from .auth import SESSION_COOKIE, AuthStore
from .datasets import Dataset, Period, Registry, now_utc, periods_in, readable_periods
from .policy import SITE, Target, User
from .settings import ServeConfig, load_serve_config

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent


class NotFound(Exception):
    """Missing, or not visible to this caller: the two are answered identically."""


class Unavailable(Exception):
    """The serve configuration became invalid while running: nothing is served until it is fixed."""


@dataclass(frozen=True)
class Ctx:
    """Who is asking, and when."""

    user: User | None
    sid: str | None
    now: dt.datetime
    via: str | None = None  # "session" | "token"
    token: str | None = None


def _file_sig(path: Path) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return ()
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Site:
    """Everything a route needs; see the module docstring.

    Parameters
    ----------
    project
        The loaded project.
    now
        Clock returning the current instant (timezone-aware); tests pass a frozen clock.
    """

    def __init__(self, project: Project, now: Callable[[], dt.datetime] | None = None) -> None:
        self.project = project
        self.now = now or now_utc
        self.archive = project.archive
        self.config: ServeConfig = load_serve_config(project)  # a bad policy stops start-up here
        self._cfg_sig = _file_sig(project.path)
        self._lock = threading.Lock()
        self.broken: str | None = None
        self.auth = AuthStore(self.archive / "state" / "web", self.config)
        self.audit = AuditLog(self.archive / "logs" / "web-audit.jsonl")
        self.registry = Registry(project, lambda: self.config.embargo)
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(["html", "xml"]), trim_blocks=True,
                                     lstrip_blocks=True)
        self._released_file = self.archive / "state" / "web" / "released.json"
        self._released = set(read_json(self._released_file, default=None) or [])
        self._audit_releases(self.clock())

    # -- time and configuration ----------------------------------------------------------------------
    def clock(self) -> dt.datetime:
        """The current instant (checked to be timezone-aware)."""
        now = self.now()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the server clock must return timezone-aware datetimes")
        return now

    def refresh(self, now: dt.datetime) -> None:
        """Reload the serve configuration when ``crac.yaml`` changed; log releases that have come."""
        sig = _file_sig(self.project.path)
        if sig != self._cfg_sig:
            with self._lock:
                if sig != self._cfg_sig:
                    self._cfg_sig = sig
                    try:
                        new = load_serve_config(self.project)
                    except ConfigError as exc:
                        self.broken = str(exc)
                        log.error("serve configuration invalid, serving nothing until fixed: %s", exc)
                        self.audit.write("config-invalid", now, error=str(exc))
                    else:
                        if new.embargo != self.config.embargo:
                            self.audit.write("embargo-changed", now,
                                             old=[e.model_dump(mode="json") for e in self.config.embargo],
                                             new=[e.model_dump(mode="json") for e in new.embargo])
                        self.config = new
                        self.auth.config = new
                        self.broken = None
        if self.broken:
            raise Unavailable(self.broken)
        self._audit_releases(now)

    def _audit_releases(self, now: dt.datetime) -> None:
        for rule in self.config.embargo:
            rel = rule.release_utc()
            if not rule.preliminary or rel is None or rel > now:
                continue
            kind, name = rule.scope
            key = f"{kind}:{name}:{rel.isoformat()}"
            if key in self._released:
                continue
            with self._lock:
                if key in self._released:
                    continue
                self._released.add(key)
                self.audit.write("release", now, scope=kind, name=name, release=rel.isoformat())
                atomic_write_json(self._released_file, sorted(self._released))

    # -- identity ------------------------------------------------------------------------------------
    def identify(self, cookies: dict, authorization: str | None) -> Ctx:
        """The caller of a request (anonymous when nothing valid is presented)."""
        now = self.clock()
        self.refresh(now)
        if authorization:
            scheme, _, token = authorization.partition(" ")
            user = self.auth.token_user(token.strip()) if scheme.lower() == "bearer" else None
            return Ctx(user, None, now, "token" if user else None, token.strip() if user else None)
        sid = cookies.get(SESSION_COOKIE)
        user = self.auth.session_user(sid, now)
        return Ctx(user, sid if user else None, now, "session" if user else None)

    # -- gates: every route reaches data through these -----------------------------------------------
    def site_page(self, ctx: Ctx, path: Path | None = None, root: Path | None = None) -> None:
        """Pages that show no project data (forms, static files under ``root``)."""
        target = SITE if root is None else dataclasses.replace(SITE, root=root)
        if not policy.allowed(target, path, ctx.user, ctx.now):
            raise NotFound

    def visible(self, ctx: Ctx) -> list[Dataset]:
        """The datasets the caller may see, by key."""
        return [d for _, d in sorted(self.registry.datasets().items())
                if policy.allowed(d.target, None, ctx.user, ctx.now)]

    def dataset(self, ctx: Ctx, key: str) -> Dataset:
        """The dataset ``key`` (exact key), or :class:`NotFound`."""
        ds = self.registry.datasets().get(key) if isinstance(key, str) else None
        if ds is None or not policy.allowed(ds.target, None, ctx.user, ctx.now):
            raise NotFound
        return ds

    def file(self, ctx: Ctx, target: Target, path: Path) -> Path:
        """``path`` when it resolves inside ``target.root`` and the caller may see the target."""
        if not policy.allowed(target, path, ctx.user, ctx.now):
            raise NotFound
        return path

    def products(self, ctx: Ctx, d: Dataset, start: pd.Timestamp | None = None,
                 end: pd.Timestamp | None = None) -> list[Period]:
        """The periods of ``d`` overlapping ``[start, end)`` (default: all) whose product file the caller may read
        (:func:`~crac_tools.web.datasets.readable_periods`); the only way a route reaches product files."""
        return readable_periods(d, ctx.user, ctx.now, periods_in(d, start, end))

    def attrs(self, ctx: Ctx, d: Dataset) -> dict:
        """Global attributes and variable summaries of ``d``'s newest product the caller may read."""
        for p in reversed(d.periods):  # newest first: one policy check in the usual case, not one per period
            if readable_periods(d, ctx.user, ctx.now, [p]):
                return self.registry.attrs([p])
        return self.registry.attrs([])

    def station_target(self, st: StationConfig) -> Target:
        """The target of a station and its reports."""
        return self.registry.station_target(st)

    def visible_stations(self, ctx: Ctx) -> list[StationConfig]:
        """Stations the caller may see (every dataset of the station must be visible)."""
        seen, out = set(), []
        for st in self.project.stations:
            if st.id in seen:
                continue
            seen.add(st.id)
            if policy.allowed(self.station_target(st), None, ctx.user, ctx.now):
                out.append(st)
        return out

    def station(self, ctx: Ctx, sid: str) -> StationConfig:
        """The station ``sid`` (exact id), or :class:`NotFound`."""
        for st in self.project.stations:
            if st.id == sid and policy.allowed(self.station_target(st), None, ctx.user, ctx.now):
                return st
        raise NotFound
