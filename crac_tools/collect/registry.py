"""The station registry: a station list (CSV or YAML, local or over SFTP) re-read on every run.

A project may point at a station list instead of (or besides) one YAML file per station, so stations can be
added, moved or retired without editing code. Each row is a station: ``id``, ``lat``, ``lon`` and ``sources``
(several separated by ``;`` or whitespace) are required; ``product``, ``name``, ``alt``, ``format``,
``table``, ``interval``, ``period`` are optional. A YAML list holds the same keys as station files.

A station that disappears from the list keeps its archive and is marked *retired* in
``ARCHIVE/state/collect/registry.json`` (for the catalog), and becomes active again if it returns. When the
list cannot be read, the last good copy (kept beside the registry state) is used and nothing is retired.

Examples
--------
CSV station list::

    id,product,lat,lon,alt,format,sources
    alpha,met,47.5,8.2,410,toa5,sftp://logger@10.0.0.5/data/CR1000_Met*.dat
    bravo,met,47.6,8.3,520,toa5,/srv/upload/bravo/*.dat

>>> from crac_tools.collect.registry import parse_station_list
>>> text = b"id,lat,lon,sources\\nalpha,47.5,8.2,/data/a/*.dat\\n"
>>> [s.key for s in parse_station_list(text, "stations.csv")]
['alpha_data']
"""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..config import StationConfig
from ..errors import CollectError, ConfigError
from ..fsutil import atomic_write_bytes, atomic_write_json, read_json

log = logging.getLogger(__name__)

_NUMBERS = ("lat", "lon", "alt")


def parse_station_list(data: bytes, name: str, defaults: dict | None = None) -> list[StationConfig]:
    """Parse a CSV or YAML station list into validated stations.

    Parameters
    ----------
    data
        The file's bytes.
    name
        Its name (``.csv`` is read as CSV, anything else as YAML); used in error messages.
    defaults
        Project ``station_defaults`` merged under every row.

    Raises
    ------
    ConfigError
        Naming the row and key of the first invalid station.

    Examples
    --------
    >>> parse_station_list(b"- {id: a, location: {lat: 1, lon: 2}, sources: [/x/*.dat]}", "s.yaml")[0].id
    'a'
    """
    text = data.decode("utf-8-sig")
    rows: list[dict]
    if name.lower().endswith(".csv"):
        rows = []
        for rec in csv.DictReader(io.StringIO(text)):
            rec = {k.strip(): (v or "").strip() for k, v in rec.items() if k}
            if not any(rec.values()) or rec.get("id", "").startswith("#"):
                continue
            loc = {k: rec.pop(k) for k in _NUMBERS if k in rec and rec[k] != ""}
            rec = {k: v for k, v in rec.items() if v != "" and k not in _NUMBERS}
            rec["location"] = loc
            rec["sources"] = [s for s in rec.get("sources", "").replace(";", " ").split() if s]
            rows.append(rec)
    else:
        try:
            obj = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(name, f"not valid YAML ({exc})") from None
        if isinstance(obj, dict):
            obj = obj.get("stations", [])
        if not isinstance(obj, list):
            raise ConfigError(name, "expected a list of stations (or a mapping with a 'stations' list)")
        rows = obj
    out = []
    for i, row in enumerate(rows, start=1):
        try:
            out.append(StationConfig.model_validate({**(defaults or {}), **row}))
        except ValidationError as err:
            e = err.errors()[0]
            key = ".".join(str(x) for x in e["loc"])
            raise ConfigError(name, f"station {i} ({row.get('id', '?')}): {e['msg']} (found {e.get('input')!r})",
                              key=key) from None
    seen: set[str] = set()
    for s in out:
        if s.key in seen:
            raise ConfigError(name, f"station {s.key} is listed twice", key="id")
        seen.add(s.key)
    return out


@dataclass
class RegistryResult:
    """The stations of this run and what changed in the registry.

    Attributes
    ----------
    stations : list[StationConfig]
        Active stations from the list (static station files come on top).
    added, retired, returned : list[str]
        Station keys new in the list, gone from it, and back after being retired.
    warning : str or None
        Set when the list could not be read and the last good copy was used.
    """

    stations: list[StationConfig] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    warning: str | None = None


def _read_list(location: str, root: Path, ssh_settings) -> tuple[bytes, str]:
    if location.startswith(("sftp://", "ssh://")):
        from .sftp import fetch_url

        return fetch_url(location, ssh_settings), location.split("?", 1)[0]
    p = Path(location).expanduser()
    p = p if p.is_absolute() else root / p
    try:
        return p.read_bytes(), str(p)
    except OSError as exc:
        raise CollectError(f"station list {p} cannot be read: {exc}") from None


def load_registry(location: str, archive: Path, root: Path, static_keys: list[str] | None = None,
                  defaults: dict | None = None, ssh_settings=None) -> RegistryResult:
    """Read the station list, update the registry state and return the active stations.

    Parameters
    ----------
    location
        Path (relative to ``root``) or ``sftp://`` URL of a ``.csv`` or ``.yaml`` station list.
    archive
        The archive root (state in ``archive/state/collect/registry.json``).
    root
        Folder relative paths are resolved against (the project root).
    static_keys
        Keys of stations defined by station files (they win over list entries with the same key).
    defaults
        ``station_defaults`` of the project.
    ssh_settings
        :class:`~crac_tools.collect.sftp.SshSettings` for an ``sftp://`` list.

    Returns
    -------
    RegistryResult

    Raises
    ------
    ConfigError
        The list (or its last good copy) is invalid.
    CollectError
        The list cannot be read and no earlier copy exists.

    Examples
    --------
    >>> res = load_registry("stations.csv", Path("archive"), Path("."))  # doctest: +SKIP
    >>> res.retired  # doctest: +SKIP
    ['charlie_met']
    """
    state_dir = Path(archive) / "state" / "collect"
    state_path = state_dir / "registry.json"
    state = read_json(state_path, default=None) or {"stations": {}}
    cache = state_dir / ("station_list.cache" + (".csv" if location.split("?")[0].lower().endswith(".csv")
                                                  else ".yaml"))
    res = RegistryResult()
    try:
        data, name = _read_list(location, root, ssh_settings)
        stations = parse_station_list(data, name, defaults)
        atomic_write_bytes(cache, data)
    except CollectError as exc:
        if not cache.is_file():
            raise
        res.warning = f"{exc}; using the copy read on an earlier run (nothing retired)"
        log.warning("%s", res.warning)
        stations = parse_station_list(cache.read_bytes(), str(cache), defaults)
    static = set(static_keys or [])
    for s in stations:
        if s.key in static:
            log.warning("station %s is defined by a station file and in the station list; the file wins", s.key)
    stations = [s for s in stations if s.key not in static]
    now = time.time()
    entries = state["stations"]
    listed = {s.key for s in stations} | static  # a station moved to a station file is not retired
    for s in stations:
        e = entries.get(s.key)
        if e is None:
            entries[s.key] = {"first_seen": now, "last_seen": now, "retired": False, "sources": s.sources,
                              "config": s.model_dump(mode="json", exclude={"path"}, by_alias=True)}
            res.added.append(s.key)
            continue
        if e.get("retired"):
            res.returned.append(s.key)
        e.update(last_seen=now, retired=False, sources=s.sources,
                 config=s.model_dump(mode="json", exclude={"path"}, by_alias=True))
        e.pop("retired_at", None)
    if res.warning is None:
        for key, e in entries.items():
            if key not in listed and not e.get("retired"):
                e.update(retired=True, retired_at=now)
                res.retired.append(key)
    state["list"] = location.split("?", 1)[0]
    atomic_write_json(state_path, state)
    res.stations = stations
    return res


def retired_stations(archive: Path) -> list[str]:
    """Keys of stations marked retired in the registry state (for the catalog).

    Examples
    --------
    >>> retired_stations(Path("/nonexistent"))
    []
    """
    state = read_json(Path(archive) / "state" / "collect" / "registry.json", default=None) or {"stations": {}}
    return sorted(k for k, e in state["stations"].items() if e.get("retired"))


__all__ = ["RegistryResult", "load_registry", "parse_station_list", "retired_stations"]
