"""Collect every station of a project into the raw archive (folder and ``sftp://`` sources, station registry).

Stations are collected in parallel threads (``collect.parallel``, default 4), each under its own lock, so an
unreachable station (bounded by its connect deadline and retries) never blocks or fails the others. The
result of each station lists what was copied, skipped, retried and failed, and any record-number holes.

Examples
--------
>>> from crac_tools.collect.run import collect_project
>>> results = collect_project("demo/crac.yaml")  # doctest: +SKIP
>>> sum(len(r.copied) for r in results)  # doctest: +SKIP
9
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import Project, StationConfig, load_project
from ..errors import CollectError, ConfigError
from .folder import is_local
from .manifest import RawArchive
from .records import RecordEvent
from .sftp import SshSettings, collect_sftp
from .transfer import Collected, CollectReport, TransferOptions, station_lock

log = logging.getLogger(__name__)


class CollectSettings(BaseModel):
    """The ``collect:`` section of ``crac.yaml`` (all optional).

    Attributes
    ----------
    station_list : str or None
        A CSV/YAML station list (path relative to the project, or ``sftp://`` URL), re-read every run.
    ssh : SshSettings
        SSH options for every ``sftp://`` source (a station's ``ssh:`` and URL query parameters override).
    parallel : int
        Stations collected at the same time.
    folder_settle : float
        Like ``ssh.settle`` for folder sources (0: uploads arrive complete).
    folder_delete_after_verify : bool
        Delete collected files from folder sources after verification (off by default).
    """

    model_config = ConfigDict(extra="forbid")

    station_list: str | None = None
    ssh: SshSettings = Field(default_factory=SshSettings)
    parallel: int = Field(default=4, ge=1)
    folder_settle: float = Field(default=0.0, ge=0)
    folder_delete_after_verify: bool = False


def collect_settings(project: Project) -> CollectSettings:
    """The project's collection settings (``crac.yaml`` ``collect:`` section, defaults when absent).

    Examples
    --------
    >>> collect_settings(load_project("demo")).parallel  # doctest: +SKIP
    4
    """
    raw = getattr(project.config, "collect", None)
    if raw is None:
        return CollectSettings()
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(exclude_unset=True)
    try:
        return CollectSettings.model_validate(raw)
    except ValidationError as err:
        e = err.errors()[0]
        raise ConfigError(project.path, f"{e['msg']} (found {e.get('input')!r})",
                          key="collect." + ".".join(str(x) for x in e["loc"])) from None


@dataclass
class StationCollection:
    """What collection did for one station.

    Attributes
    ----------
    key : str
    copied : list[Collected]
    skipped : int
        Files found unchanged.
    retried : int
        Connections retried after a lost link or a passed deadline.
    failed : list[str]
        What failed (a station with failures makes ``crac collect`` exit non-zero).
    records : list[RecordEvent]
        Record-number holes and resets found in the new data.
    deleted : list[str]
        Source files deleted after verification.
    """

    key: str
    copied: list[Collected] = field(default_factory=list)
    error: str | None = None
    skipped: int = 0
    retried: int = 0
    failed: list[str] = field(default_factory=list)
    records: list[RecordEvent] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    deadline_hits: list[tuple[str, float, float]] = field(default_factory=list)

    @classmethod
    def from_report(cls, key: str, rep: CollectReport) -> StationCollection:
        """Build a station result from a :class:`CollectReport`."""
        return cls(key, rep.copied, "; ".join(rep.failed) or None, rep.skipped, rep.retried, list(rep.failed),
                   rep.records, rep.deleted, rep.deadline_hits)


def collect_station(raw: RawArchive, sources: list[str], settings: CollectSettings,
                    ssh: SshSettings | None = None) -> StationCollection:
    """Collect one station's sources (resolved local patterns and ``sftp://`` URLs) into ``raw``.

    Never raises for a source problem: failures are listed in the result.

    Examples
    --------
    >>> raw = RawArchive(Path("archive"), "alpha_met")
    >>> r = collect_station(raw, ["/data/a/*.dat"], CollectSettings())  # doctest: +SKIP
    >>> r.failed  # doctest: +SKIP
    []
    """
    rep = CollectReport()
    local = [s.removeprefix("file://") for s in sources if is_local(s)]
    remote = [s for s in sources if not is_local(s)]
    unsupported = [s for s in remote if not s.startswith(("sftp://", "ssh://"))]
    remote = [s for s in remote if s not in unsupported]
    try:
        with station_lock(raw):
            if unsupported:
                rep.failed.append(f"{raw.key}: unsupported source scheme: {', '.join(unsupported)} "
                                  "(use a path or sftp://)")
            if local:
                opts = TransferOptions(settings.folder_settle, settings.folder_delete_after_verify)
                try:
                    _collect_local(local, raw, opts, rep)
                except CollectError as exc:
                    rep.failed.append(str(exc))
                except OSError as exc:
                    rep.failed.append(f"{raw.key}: collecting {exc.filename or ''} failed: {exc}")
            if remote:
                collect_sftp(remote, raw, ssh or settings.ssh, rep)
    except CollectError as exc:
        rep.failed.append(str(exc))
    except OSError as exc:
        rep.failed.append(f"{raw.key}: {exc}")
    for msg in rep.failed:
        log.error("%s", msg)
    return StationCollection.from_report(raw.key, rep)


def _collect_local(patterns: list[str], raw: RawArchive, opts: TransferOptions, rep: CollectReport) -> None:
    from .transfer import LocalSource, collect_source

    src = LocalSource()
    missing = src.missing(patterns)
    if missing:
        raise CollectError(f"{raw.key}: source folder(s) not found: {', '.join(missing)}")
    collect_source(src, patterns, raw, opts, rep)


def project_stations(project: Project, settings: CollectSettings | None = None) -> tuple[list[StationConfig], dict]:
    """Static stations plus those of the station list (re-read now); and the registry changes.

    Examples
    --------
    >>> stations, changes = project_stations(load_project("demo"))  # doctest: +SKIP
    """
    settings = settings or collect_settings(project)
    if not settings.station_list:
        return list(project.stations), {}
    static = project.static_stations
    from .registry import load_registry

    res = load_registry(settings.station_list, project.archive, project.root,
                        [s.key for s in static], project.config.station_defaults, settings.ssh)
    changes = {"added": res.added, "retired": res.retired, "returned": res.returned, "warning": res.warning}
    return static + res.stations, changes


def collect_project(project: Project | str | os.PathLike,
                    stations: list[str] | None = None) -> list[StationCollection]:
    """Copy new and grown files of every (selected) station's sources into the raw archive.

    One station failing (a missing folder, an unreachable host) is reported in its result and does not
    stop or delay the others (stations run in parallel threads).

    Examples
    --------
    >>> [r.key for r in collect_project("demo")]  # doctest: +SKIP
    ['alpha_sonic', 'bravo_met', 'charlie_soil']
    """
    if not isinstance(project, Project):
        project = load_project(project)
    settings = collect_settings(project)
    all_stations, _changes = project_stations(project, settings)
    if stations:
        wanted = set(stations)
        selected = [s for s in all_stations if s.id in wanted or s.key in wanted]
        unknown = wanted - {s.id for s in selected} - {s.key for s in selected}
        if unknown:
            raise ConfigError(project.path, f"no station {', '.join(sorted(unknown))}; known: "
                              f"{', '.join(s.key for s in all_stations)}", key="stations")
    else:
        selected = all_stations

    def one(st: StationConfig) -> StationCollection:
        ssh = settings.ssh
        extra = getattr(st, "ssh", None)
        if extra:
            ssh = ssh.merged(extra.model_dump(exclude_unset=True) if isinstance(extra, BaseModel) else dict(extra))
        sources = [project.resolve_source(s) for s in st.sources]
        return collect_station(RawArchive(project.archive, st.key), sources, settings, ssh)

    with ThreadPoolExecutor(max_workers=settings.parallel, thread_name_prefix="crac-collect") as pool:
        return list(pool.map(one, selected))


def collect_adhoc(url: str, into: str | os.PathLike, ssh: SshSettings | None = None) -> StationCollection:
    """Pull one source (``sftp://`` URL or local glob) into the folder ``into``, state kept in ``into/.crac``.

    Examples
    --------
    >>> r = collect_adhoc("sftp://logger@10.0.0.5/data/*.dat", "alpha")  # doctest: +SKIP
    >>> [c.name for c in r.copied]  # doctest: +SKIP
    ['CR1000_Met.dat']
    """
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    raw = RawArchive.at(into, key=into.name or "adhoc")
    src = url if not is_local(url) else os.path.abspath(os.path.expanduser(url.removeprefix("file://")))
    return collect_station(raw, [src], CollectSettings(ssh=ssh or SshSettings()), ssh)


__all__ = ["CollectSettings", "StationCollection", "collect_adhoc", "collect_project", "collect_settings",
           "collect_station", "project_stations"]
