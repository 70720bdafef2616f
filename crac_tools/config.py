"""Typed project and station configuration, validated on load.

A project is one ``crac.yaml`` plus one YAML file per station under ``stations/``. Loading validates
every file with pydantic; any problem raises :class:`~crac_tools.errors.ConfigError` naming the file, the
key and what was expected versus found. Credentials never live here: SSH keys come from the agent or
``~/.ssh``, object-store keys from the environment.

Examples
--------
>>> from crac_tools.config import load_project
>>> project = load_project("demo/crac.yaml")  # doctest: +SKIP
>>> [s.id for s in project.stations]  # doctest: +SKIP
['alpha', 'bravo', 'charlie']
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError

Period = Literal["hour", "day", "week", "month"]
PERIODS: tuple[str, ...] = ("hour", "day", "week", "month")

#: Length of the fixed chunk unit of each period (a month is chunked by days).
CHUNK_UNIT = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1), "week": pd.Timedelta(weeks=1),
              "month": pd.Timedelta(days=1)}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Location(_Model):
    """Station position (WGS84 degrees, metres above mean sea level)."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=360)
    alt: float = 0.0


class Instrument(_Model):
    """An instrument or logger at a station."""

    name: str
    model: str | None = None
    serial: str | None = None
    description: str | None = None


class ColumnMeta(_Model):
    """Metadata for one column over a date range (a logger program change is data, not code)."""

    standard_name: str | None = None
    long_name: str | None = None
    units: str | None = None
    valid_min: float | None = None
    valid_max: float | None = None
    missing_values: list[float] = Field(default_factory=list)
    rename: str | None = None
    #: Further variable attributes (e.g. flag_values, flag_meanings, comment, coverage_content_type).
    attrs: dict[str, str | int | float | list[int] | list[float]] = Field(default_factory=dict)
    valid_from: dt.datetime | None = Field(default=None, alias="from")
    valid_until: dt.datetime | None = Field(default=None, alias="until")

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _utc_naive(cls, v: dt.datetime | None) -> dt.datetime | None:
        # times are UTC and tz-naive everywhere; an aware bound would make applies() raise TypeError
        if v is not None and v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
        return v

    def applies(self, start: pd.Timestamp, end: pd.Timestamp) -> bool:
        """Whether this entry's date range overlaps ``[start, end)``."""
        lo = pd.Timestamp(self.valid_from) if self.valid_from else pd.Timestamp.min
        hi = pd.Timestamp(self.valid_until) if self.valid_until else pd.Timestamp.max
        return lo < end and hi > start


class StationConfig(_Model):
    """One station (or one product of a station): where its files are and how to describe them."""

    id: str
    name: str | None = None
    location: Location
    instruments: list[Instrument] = Field(default_factory=list)
    product: str = "data"
    format: str | None = None
    table: str | None = None
    interval: str | None = None
    period: Period | None = None
    sources: list[str] = Field(default_factory=list)
    columns: dict[str, list[ColumnMeta]] = Field(default_factory=dict)
    attrs: dict[str, str | int | float] = Field(default_factory=dict)
    #: SSH options for this station's sftp:// sources, merged over the project's ``collect.ssh``
    #: (validated by :func:`crac_tools.collect.run.collect_settings`; see docs/collection.md).
    ssh: dict[str, Any] = Field(default_factory=dict)
    #: Product convention: ``cf`` (CF/ACDD NetCDF) or ``geoms`` (also a GEOMS HDF5 file beside it).
    product_format: Literal["cf", "geoms"] = "cf"
    #: GEOMS metadata template (relative to the project root) used in ``geoms`` mode.
    geoms_template: Path | None = None
    #: The YAML file this station came from (filled in on load).
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("id", "product")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError(f"must be letters, digits, '_', '.' or '-' (starting with a letter or digit), "
                             f"got {v!r}")
        return v

    @field_validator("columns", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: (m if isinstance(m, list) else [m]) for k, m in v.items()}
        return v

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if re.fullmatch(r"\s*[-+]?[0-9.]+\s*", v):
            # pandas reads a bare number as nanoseconds; demand a unit rather than guess
            raise ValueError(f"expected a duration with a unit such as '1s', '1min' or '30min', got {v!r}")
        try:
            td = pd.Timedelta(v)
        except (ValueError, TypeError):
            raise ValueError(f"expected a duration such as '1s', '1min' or '30min', got {v!r}") from None
        if td <= pd.Timedelta(0):
            raise ValueError(f"expected a positive duration, got {v!r}")
        return v

    @property
    def key(self) -> str:
        """Unique name of this station product, e.g. ``alpha_met``."""
        return f"{self.id}_{self.product}"

    @property
    def interval_td(self) -> pd.Timedelta | None:
        """The logger interval as a Timedelta (None when not configured)."""
        return None if self.interval is None else pd.Timedelta(self.interval)

    def column_meta(self, name: str, start: pd.Timestamp, end: pd.Timestamp) -> ColumnMeta | None:
        """The metadata entry for column ``name`` valid in ``[start, end)``, if any."""
        for meta in self.columns.get(name, []):
            if meta.applies(start, end):
                return meta
        return None


class ProjectInfo(_Model):
    """Who made the data and under which terms (feeds ACDD attributes)."""

    name: str
    title: str | None = None
    summary: str | None = None
    pi: str | None = None
    pi_email: str | None = None
    institution: str | None = None
    license: str | None = None
    keywords: list[str] = Field(default_factory=list)
    references: str | None = None
    pi_url: str | None = None
    publisher_name: str | None = None
    publisher_email: str | None = None
    publisher_url: str | None = None
    acknowledgement: str | None = None
    comment: str | None = None
    processing_level: str | None = None


class NamingConfig(_Model):
    """How product files are named (fields: station, product, period, start, end, version)."""

    template: str = "{station}_{product}_{start:%Y%m%dT%H%M%S}_v{version}.nc"
    #: Quick-look image names (same fields; the suffix is replaced by .png). Empty: the product's name.
    #: E.g. the ESPO image convention: ``"IM{start:%Y%m%d_%H%M}_{station}.png"``.
    image_template: str = ""

    @field_validator("template", "image_template")
    @classmethod
    def _check(cls, v: str) -> str:
        if v == "":
            return v
        try:
            v.format(station="s", product="p", period="day", start=dt.datetime(2000, 1, 1),
                     end=dt.datetime(2000, 1, 2), version=1)
        except (KeyError, ValueError, IndexError, AttributeError, TypeError) as exc:
            raise ValueError(f"template uses an unknown field or format ({exc}); fields are station, "
                             "product, period, start, end, version") from None
        if "{start" not in v:
            raise ValueError("template must contain {start...} so each period gets its own constant name")
        return v


class ProductConfig(_Model):
    """Product file options."""

    compression: Literal["none", "zlib"] = "none"
    complevel: int = Field(default=1, ge=1, le=9)
    version: int = Field(default=1, ge=1)
    #: ``replace``: a reprocessed period replaces its file (ESPO archive practice); ``keep``: it is written
    #: beside the old one with the next version number (CDAAC practice; the template must use {version}).
    versioning: Literal["replace", "keep"] = "replace"
    mirror: bool = True


class WatchConfig(_Model):
    """The upload-folder daemon (``crac watch``)."""

    #: Upload folder; files go into ``<incoming>/<station id or key>/``.
    incoming: Path = Path("incoming")
    #: Seconds a file's size and mtime must stay unchanged before it is taken (uploaders that do not rename).
    settle_seconds: float = Field(default=2.0, ge=0)
    #: Polling interval bounds: it backs off from ``poll_min`` to ``poll_max`` while nothing arrives.
    poll_min: float = Field(default=0.5, gt=0)
    poll_max: float = Field(default=30.0, gt=0)
    #: Log file (rotated), relative to the archive; empty for no file log.
    log_file: str = "logs/watch.log"


class DaskConfig(_Model):
    """Where ingest runs: a local cluster of processes by default, or an existing scheduler."""

    scheduler: str | None = None
    n_workers: int | None = Field(default=None, ge=1)
    #: Runs with less raw input than this (MB) are built in the calling process: starting a local cluster
    #: costs more than such a run. 0 always uses the cluster. Ignored when a scheduler is given.
    inline_below_mb: float = Field(default=64.0, ge=0)


class ProjectConfig(_Model):
    """The project file ``crac.yaml``."""

    project: ProjectInfo
    archive: Path = Path("archive")
    stations_dir: Path = Path("stations")
    period: Period = "day"
    naming: NamingConfig = Field(default_factory=NamingConfig)
    products: ProductConfig = Field(default_factory=ProductConfig)
    dask: DaskConfig = Field(default_factory=DaskConfig)
    watch: WatchConfig = Field(default_factory=WatchConfig)
    #: Collection settings (station_list, ssh, parallel, folder_settle, folder_delete_after_verify), validated by
    #: :func:`crac_tools.collect.run.collect_settings` (kept a plain mapping here to avoid an import cycle).
    collect: dict[str, Any] = Field(default_factory=dict)
    #: Backup targets and retention, validated by :mod:`crac_tools.backup.settings` (see docs/backup.md).
    backup: dict[str, Any] = Field(default_factory=dict)
    #: The on-line catalog (users, members, embargoes), validated by :mod:`crac_tools.web.settings` when serving.
    serve: dict[str, Any] = Field(default_factory=dict)
    station_defaults: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _keep_needs_version(self) -> ProjectConfig:
        if self.products.versioning == "keep" and "{version" not in self.naming.template:
            raise ValueError("products.versioning 'keep' needs {version} in naming.template, or two versions of a "
                             "period would get the same file name")
        return self


class Project:
    """A loaded project: the validated ``crac.yaml`` plus its stations, with paths resolved.

    Attributes
    ----------
    path : Path
        The ``crac.yaml`` file.
    config : ProjectConfig
    stations : list[StationConfig]
    """

    def __init__(self, path: Path, config: ProjectConfig, stations: list[StationConfig],
                 listed: set[str] | None = None) -> None:
        self.path = path
        self.config = config
        self.stations = stations
        #: Keys of the stations that came from the station list (the others have station files).
        self.listed = set(listed or ())

    @property
    def static_stations(self) -> list[StationConfig]:
        """Stations defined by station files (not by the station list)."""
        return [s for s in self.stations if s.key not in self.listed]

    @property
    def root(self) -> Path:
        """Folder of ``crac.yaml``; relative paths in the configuration are relative to it."""
        return self.path.parent

    @property
    def archive(self) -> Path:
        """The archive root folder."""
        return (self.root / self.config.archive).resolve()

    def period_of(self, station: StationConfig) -> str:
        """The accumulation period of a station (its own, or the project's)."""
        return station.period or self.config.period

    def station(self, key: str) -> StationConfig:
        """Find a station by ``id`` or ``id_product`` key."""
        for s in self.stations:
            if key in (s.id, s.key):
                return s
        raise ConfigError(self.path, f"no station {key!r}; known: {', '.join(s.key for s in self.stations)}",
                          key="stations")

    def select(self, keys: list[str] | tuple[str, ...] | None) -> list[StationConfig]:
        """Stations named by ``keys`` (ids or keys); all when ``keys`` is empty."""
        if not keys:
            return list(self.stations)
        out: list[StationConfig] = []
        for k in keys:
            matched = [s for s in self.stations if k in (s.id, s.key)]
            if not matched:
                self.station(k)  # raises with the list of known stations
            out.extend(m for m in matched if m not in out)
        return out

    def resolve_source(self, pattern: str) -> str:
        """A source glob with ``~`` expanded and relative paths made relative to the project root."""
        if "://" in pattern and not pattern.startswith("file://"):
            return pattern
        pattern = pattern.removeprefix("file://")
        p = os.path.expanduser(pattern)
        return p if os.path.isabs(p) else str(self.root / p)


def _format_validation(path: Path, err: ValidationError) -> ConfigError:
    lines = []
    first_key = None
    for e in err.errors():
        key = ".".join(str(x) for x in e["loc"]) or "(top level)"
        first_key = first_key or key
        found = e.get("input")
        if e["type"] == "missing":
            lines.append(f"{key}: required key is missing")
        elif e["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key (found {found!r}); check the spelling")
        else:
            shown = repr(found)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            lines.append(f"{key}: {e['msg']} (found {shown})")
    msg = "invalid configuration:\n  " + "\n  ".join(lines)
    err_out = ConfigError(path, msg)
    err_out.key = first_key
    return err_out


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key given twice in one mapping (PyYAML silently keeps the last)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # unhashable key: construct_mapping reports it
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {first + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _load_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "file not found (create one with `crac init DIR`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(path, f"{where}not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, f"expected a mapping of keys at the top level, found {type(data).__name__}")
    return data


def load_station(path: str | os.PathLike, defaults: dict | None = None) -> StationConfig:
    """Load and validate one station YAML file.

    Examples
    --------
    >>> st = load_station("demo/stations/alpha.yaml")  # doctest: +SKIP
    >>> st.location.lat  # doctest: +SKIP
    47.5
    """
    path = Path(path)
    data = {**(defaults or {}), **_load_yaml(path)}
    try:
        st = StationConfig.model_validate(data)
    except ValidationError as err:
        raise _format_validation(path, err) from None
    st.path = path
    return st


def _listed_stations(path: Path, cfg: ProjectConfig, static: set[str]) -> list[StationConfig]:
    """Stations of the project's station list, from the copy the last collection kept in the archive.

    ``crac collect`` re-reads the list (locally or over SFTP) every run and keeps a copy; every other stage
    (ingest on the workers, quick-looks, catalog) sees the same stations without touching the network.
    Stations defined by a station file win over the list.
    """
    if not cfg.collect.get("station_list"):
        return []
    folder = (path.parent / cfg.archive).resolve() / "state" / "collect"
    caches = sorted(folder.glob("station_list.cache.*")) if folder.is_dir() else []
    if not caches:
        return []
    from .collect.registry import parse_station_list  # collect imports config: import here

    listed = parse_station_list(caches[0].read_bytes(), str(caches[0]), cfg.station_defaults)
    return [s for s in listed if s.key not in static]


def load_project(path: str | os.PathLike = "crac.yaml") -> Project:
    """Load and validate a project's ``crac.yaml`` and every station YAML under its stations folder.

    Parameters
    ----------
    path
        The project file, or a folder holding ``crac.yaml``.

    Raises
    ------
    ConfigError
        Naming the file and key of the first problem (all problems of that file are listed).

    Examples
    --------
    >>> project = load_project("demo")  # doctest: +SKIP
    >>> project.archive.name  # doctest: +SKIP
    'archive'
    """
    path = Path(path)
    if path.is_dir():
        path = path / "crac.yaml"
    path = path.resolve()
    data = _load_yaml(path)
    try:
        cfg = ProjectConfig.model_validate(data)
    except ValidationError as err:
        raise _format_validation(path, err) from None
    sdir = (path.parent / cfg.stations_dir)
    stations: list[StationConfig] = []
    if sdir.is_dir():
        for f in sorted(sdir.glob("*.y*ml")):
            stations.append(load_station(f, cfg.station_defaults))
    listed = _listed_stations(path, cfg, {s.key for s in stations})
    stations += listed
    seen: dict[str, Path | None] = {}
    for s in stations:
        if s.key in seen:
            raise ConfigError(s.path, f"station {s.id!r} product {s.product!r} is also defined in "
                              f"{seen[s.key]}", key="id")
        seen[s.key] = s.path
    return Project(path, cfg, stations, {s.key for s in listed})
