"""What the archive holds, as the field catalog shows it: datasets, their periods, files and data.

A :class:`Dataset` is one NetCDF product set of the project's catalog (``<station>_<product>``), with its
periods from the ingest state (``ARCHIVE/state/ingest/<key>.json``: product file, records, completeness, gaps,
version). Product files are looked up under ``ARCHIVE/products/<key>/`` only, by exact key, and a product file
is opened only when :func:`readable_periods` passes it: the ingest state names paths, and a path that resolves
outside that folder (a link to another dataset's product) is left out as if its period had no file.

Examples
--------
>>> reg = Registry(project)  # doctest: +SKIP
>>> sorted(reg.datasets())  # doctest: +SKIP
['alpha_sonic', 'bravo_met', 'charlie_soil']
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..catalog_project import catalog_entries
from ..config import Project, StationConfig
from ..fsutil import read_json
from . import policy
from .policy import Target, User


@dataclass(frozen=True)
class Period:
    """One product file of a dataset."""

    start: pd.Timestamp
    end: pd.Timestamp
    path: Path
    records: int
    completeness: float | None
    gaps: int
    version: int


@dataclass(frozen=True)
class Dataset:
    """One dataset (a station's product set) with its periods."""

    key: str
    station: StationConfig
    description: str
    metadata: dict
    periods: tuple[Period, ...]
    target: Target
    products: Path

    @property
    def title(self) -> str:
        """Station name and product, e.g. ``"Tower 1 met"``."""
        return f"{self.station.name or self.station.id} {self.station.product}"

    @property
    def coverage(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """First period start and last period end."""
        if not self.periods:
            return None, None
        return self.periods[0].start, self.periods[-1].end

    @property
    def records(self) -> int:
        """Records in every period."""
        return sum(p.records for p in self.periods)

    @property
    def completeness(self) -> float | None:
        """Record-weighted mean completeness."""
        vals = [p.completeness for p in self.periods if p.completeness is not None]
        return float(np.mean(vals)) if vals else None

    @property
    def versions(self) -> list[int]:
        """Product versions present."""
        return sorted({p.version for p in self.periods})

    def files_target(self, folder: Path) -> Target:
        """The same target, with files allowed only under ``folder``."""
        return dataclasses.replace(self.target, root=folder)


def _state_signature(archive: Path) -> tuple:
    folder = archive / "state" / "ingest"
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.json")))
    except OSError:
        return ()


class Registry:
    """The project's datasets, rebuilt whenever an ingest state file changes.

    Parameters
    ----------
    project
        The loaded project.
    rules
        A callable returning the current embargo declarations (they may be edited while the server runs).
    """

    def __init__(self, project: Project, rules) -> None:
        self.project = project
        self.archive = project.archive
        self._rules = rules
        self._lock = threading.Lock()
        self._sig: tuple | None = None
        self._cache: dict[str, Dataset] = {}
        self._attrs: dict[tuple, dict] = {}

    def _build(self) -> dict[str, Dataset]:
        out: dict[str, Dataset] = {}
        rules = tuple(self._rules())
        name = self.project.config.project.name
        by_key = {s.key: s for s in self.project.stations}
        for entry in catalog_entries(self.project):
            if entry.kind != "netcdf" or entry.name not in by_key:
                continue
            st = by_key[entry.name]
            state = read_json(self.archive / "state" / "ingest" / f"{st.key}.json", default=None) or {}
            periods = []
            for start, v in state.get("periods", {}).items():
                path = Path(v["product"])
                periods.append(Period(pd.Timestamp(start), pd.Timestamp(v["end"]), path, int(v.get("records", 0)),
                                      v.get("completeness"), int(v.get("gaps", 0) or 0), int(v.get("version", 1))))
            periods.sort(key=lambda p: p.start)
            target = Target(project=name, station=st.id, keys=(st.key,), root=None, rules=rules)
            out[st.key] = Dataset(st.key, st, entry.description, dict(entry.metadata), tuple(periods), target,
                                  self.archive / "products" / st.key)
        return out

    def datasets(self) -> dict[str, Dataset]:
        """Every dataset by key (not filtered: callers filter with :func:`~crac_tools.web.policy.allowed`)."""
        sig = (_state_signature(self.archive), id(self._rules()))
        with self._lock:
            if sig != self._sig:
                self._cache = self._build()
                self._sig = sig
            return self._cache

    def station_target(self, st: StationConfig) -> Target:
        """The target of a station page or report: every dataset of the station."""
        keys = tuple(s.key for s in self.project.stations if s.id == st.id)
        return Target(project=self.project.config.project.name, station=st.id, keys=keys,
                      root=self.archive / "reports" / st.id, rules=tuple(self._rules()))

    def attrs(self, periods: Sequence[Period]) -> dict[str, Any]:
        """Global attributes and variable summaries of the newest of ``periods`` (cached per file).

        ``periods`` are a dataset's periods that passed :func:`readable_periods`.
        """
        if not periods:
            return {"attrs": {}, "variables": {}}
        path = max(periods, key=lambda p: p.start).path
        try:
            key = (str(path), path.stat().st_mtime_ns)
        except OSError:
            return {"attrs": {}, "variables": {}}
        if key not in self._attrs:
            with xr.open_dataset(path, engine="h5netcdf") as x:
                variables = {str(n): {k: _plain(v) for k, v in da.attrs.items()} | {"dims": list(da.dims),
                                                                                     "dtype": str(da.dtype)}
                             for n, da in x.data_vars.items()}
                self._attrs[key] = {"attrs": {k: _plain(v) for k, v in x.attrs.items()}, "variables": variables}
        return self._attrs[key]


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


def numeric_variables(info: dict) -> list[str]:
    """Numeric time-series variables (for plots and downloads), ``RECORD`` last."""
    names = [n for n, v in info["variables"].items()
             if v.get("dims") == ["time"] and np.dtype(v.get("dtype", "O")).kind in "iuf"]
    return sorted(names, key=lambda n: (n == "RECORD", names.index(n)))


def readable_periods(ds: Dataset, user: User | None, now: dt.datetime,
                     periods: Iterable[Period] | None = None) -> list[Period]:
    """The periods (default: every period of ``ds``) whose product file ``user`` may read at ``now``.

    The check of ``/api/datasets/{key}/files/``: :func:`~crac_tools.web.policy.allowed` with the dataset's
    ``products/<key>`` folder as the root, so a product path that does not resolve inside that folder (a link to
    another dataset's product, a folder that is itself a link) is left out, as if its period had no file. Every
    product file the app opens comes from here.

    Parameters
    ----------
    ds
        The dataset.
    user
        The caller (None: anonymous).
    now
        The current instant (timezone-aware).
    periods
        Some periods of ``ds`` (e.g. :func:`periods_in`); None: all of them.

    Returns
    -------
    list of Period
    """
    target = ds.files_target(ds.products)
    return [p for p in (ds.periods if periods is None else periods) if policy.allowed(target, p.path, user, now)]


def periods_in(ds: Dataset, start: pd.Timestamp | None, end: pd.Timestamp | None) -> list[Period]:
    """The periods overlapping ``[start, end)``."""
    return [p for p in ds.periods if (start is None or p.end > start) and (end is None or p.start < end)]


def estimate_records(ds: Dataset, start: pd.Timestamp | None, end: pd.Timestamp | None) -> int:
    """Records in ``[start, end)``, estimated from the per-period record counts (no file is read)."""
    total = 0.0
    for p in periods_in(ds, start, end):
        lo = max(p.start, start) if start is not None else p.start
        hi = min(p.end, end) if end is not None else p.end
        total += p.records * max(0.0, (hi - lo) / (p.end - p.start))
    return int(np.ceil(total))


def load(periods: Sequence[Period], start: pd.Timestamp | None, end: pd.Timestamp | None,
         variables: Sequence[str] | None) -> xr.Dataset:
    """The data of ``periods`` in ``[start, end)`` (selected variables plus coordinates), one loaded Dataset.

    ``periods`` are a dataset's periods that passed :func:`readable_periods`, in time order. The global
    attributes are the first file's.
    """
    parts = []
    attrs: dict = {}
    for p in periods:
        with xr.open_dataset(p.path, engine="h5netcdf") as x:
            if not attrs:
                attrs = dict(x.attrs)
            names = list(variables) if variables else [n for n, v in x.data_vars.items() if "time" in v.dims]
            names = [n for n in names if n in x.data_vars]
            part = x[names]
            t = part["time"].values
            keep = np.ones(t.shape, bool)
            if start is not None:
                keep &= t >= np.datetime64(start.tz_localize(None) if start.tzinfo else start)
            if end is not None:
                keep &= t < np.datetime64(end.tz_localize(None) if end.tzinfo else end)
            parts.append(part.isel(time=np.flatnonzero(keep)).load())
    if not parts:
        return xr.Dataset(attrs=attrs)
    out = parts[0] if len(parts) == 1 else xr.concat(parts, dim="time", data_vars="minimal", coords="minimal",
                                                     compat="override", join="outer", combine_attrs="override")
    out.attrs = attrs
    return out


def utc(value: str | None, what: str) -> pd.Timestamp | None:
    """Parse a time given in a request (ISO 8601; UTC unless it names a zone) as tz-naive UTC."""
    if value is None or str(value).strip() == "":
        return None
    try:
        t = pd.Timestamp(str(value).strip())
    except (ValueError, TypeError):
        raise ValueError(f"{what}: expected an ISO 8601 time such as 2024-03-10T06:00, got {str(value)[:40]!r}") \
            from None
    if t is pd.NaT:
        raise ValueError(f"{what}: not a time")
    return t.tz_convert("UTC").tz_localize(None) if t.tzinfo else t


def now_utc() -> dt.datetime:
    """The current instant (aware, UTC)."""
    return dt.datetime.now(dt.UTC)
