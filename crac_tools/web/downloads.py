"""Subset downloads with conversion on delivery: NetCDF, CSV, ICARTT, NASA Ames.

A request names a time range (``start``, ``end``, ISO 8601, UTC unless a zone is given), variables
(``variables=a,b`` or repeated) and, for moving platforms, a lat/lon box (``lat_min lat_max lon_min lon_max``:
records whose position lies outside are left out; a fixed station outside the box has no records). The size of
the delivered file is estimated from the record counts before anything is read; a request over the limit gets
HTTP 413 naming the limit, never a silently shortened file. Every file carries the product version and
provenance (the exporters' header comments; NetCDF global attributes ``download_*``); CSV is streamed and ends
with a completion line ``# end of data: complete, N records``.

Examples
--------
>>> sel = parse_selection({"format": "csv", "start": "2024-03-10T06:00", "variables": "AirTC_Avg"})
>>> sel.fmt, str(sel.start), sel.variables
('csv', '2024-03-10 06:00:00', ('AirTC_Avg',))
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import __version__
from ..export import ExportError
from ..export._common import indoex_name
from ..export.ascii_rules import MAX_LINE, to_ascii, wrap_text
from ..export.csv import csv_text
from ..export.icartt import write_icartt
from ..export.nasa_ames import write_nasa_ames
from .datasets import Dataset, Period, estimate_records, load, utc

#: Delivery formats: name -> (media type, estimated bytes per value).
FORMATS = {"csv": ("text/csv", 10), "icartt": ("text/plain", 10), "nasa_ames": ("text/plain", 10),
           "netcdf": ("application/x-netcdf", 8)}
_HEADER_BYTES = 16_000


class BadRequest(ValueError):
    """The selection is malformed (HTTP 400) or selects nothing (HTTP 422 when ``empty``)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class TooLarge(ValueError):
    """The delivery would exceed the server's download limit (HTTP 413)."""


@dataclass(frozen=True)
class Selection:
    """A parsed download request."""

    fmt: str
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    variables: tuple[str, ...]
    box: tuple[float, float, float, float] | None  # lat_min, lat_max, lon_min, lon_max

    def describe(self) -> str:
        """One line for provenance and the audit log."""
        parts = [f"start={self.start.isoformat() if self.start is not None else '(first)'}",
                 f"end={self.end.isoformat() if self.end is not None else '(last)'}",
                 f"variables={','.join(self.variables) or '(all)'}"]
        if self.box:
            parts.append("box=lat[{},{}] lon[{},{}]".format(*self.box))
        return " ".join(parts)


def _getlist(params, name: str) -> list[str]:
    if hasattr(params, "getlist"):
        vals = params.getlist(name)
    else:
        v = params.get(name)
        vals = [] if v is None else [v]
    out = []
    for v in vals:
        out += [x.strip() for x in str(v).split(",") if x.strip()]
    return out


def parse_selection(params: Mapping) -> Selection:
    """Parse query parameters into a :class:`Selection` (no dataset-specific checks: those come after the
    policy has allowed the dataset).

    Examples
    --------
    >>> parse_selection({"format": "xls"})
    Traceback (most recent call last):
    ...
    crac_tools.web.downloads.BadRequest: format: choose one of csv, icartt, nasa_ames, netcdf (got 'xls')
    """
    fmt = str(params.get("format") or "csv").strip().lower()
    if fmt not in FORMATS:
        raise BadRequest(f"format: choose one of {', '.join(FORMATS)} (got {fmt[:20]!r})")
    try:
        start, end = utc(params.get("start"), "start"), utc(params.get("end"), "end")
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if start is not None and end is not None and end <= start:
        raise BadRequest("end must be after start")
    variables = tuple(_getlist(params, "variables"))
    if len(variables) > 500 or any(len(v) > 100 for v in variables):
        raise BadRequest("too many or too long variable names")
    box_keys = ("lat_min", "lat_max", "lon_min", "lon_max")
    given = [params.get(k) not in (None, "") for k in box_keys]
    box = None
    if any(given):
        if not all(given):
            raise BadRequest("a lat/lon box needs all of lat_min, lat_max, lon_min, lon_max")
        try:
            box = tuple(float(params.get(k)) for k in box_keys)
        except ValueError:
            raise BadRequest("lat_min, lat_max, lon_min, lon_max must be numbers") from None
        if not (-90 <= box[0] <= box[1] <= 90) or not (-180 <= box[2] <= 360 and -180 <= box[3] <= 360):
            raise BadRequest("the lat/lon box is out of range (lat -90..90, lon -180..360, min <= max)")
    return Selection(fmt, start, end, variables, box)


def estimate_bytes(ds: Dataset, sel: Selection, n_variables: int) -> int:
    """Estimated size of the delivered file (from record counts; nothing is read).

    Examples
    --------
    >>> estimate_bytes(dataset, sel, 3)  # doctest: +SKIP
    187200
    """
    records = estimate_records(ds, sel.start, sel.end)
    return _HEADER_BYTES + records * (n_variables + 1) * FORMATS[sel.fmt][1]


def check_size(ds: Dataset, sel: Selection, n_variables: int, limit_mb: float) -> int:
    """Raise :class:`TooLarge` when the estimate is over ``limit_mb``; return the estimate."""
    size = estimate_bytes(ds, sel, n_variables)
    if size > limit_mb * 1e6:
        raise TooLarge(f"this request would deliver about {size / 1e6:.1f} MB, over this server's download limit "
                       f"of {limit_mb:g} MB (serve.download_limit_mb); ask for a shorter time range or fewer "
                       "variables")
    return size


def _position_vars(x: xr.Dataset) -> tuple[str | None, str | None]:
    lat = lon = None
    for n, v in x.data_vars.items():
        if v.dims == ("time",):
            sn = str(v.attrs.get("standard_name", ""))
            lat = lat or (str(n) if sn == "latitude" else None)
            lon = lon or (str(n) if sn == "longitude" else None)
    return lat, lon


def select_data(ds: Dataset, periods: Sequence[Period], sel: Selection, variables: list[str]) -> xr.Dataset:
    """Load the selected records (time range, variables, lat/lon box) from ``periods``, the dataset's periods in
    the range whose product file the caller may read (:meth:`~crac_tools.web.site.Site.products`)."""
    want = list(variables)
    data = load(periods, sel.start, sel.end, None if sel.box else want)
    if "time" not in data.dims or data.sizes["time"] == 0:
        raise BadRequest("no records in the selection", 422)
    if sel.box:
        la0, la1, lo0, lo1 = sel.box
        latn, lonn = _position_vars(data)
        if latn and lonn:
            lat, lon = data[latn].values, data[lonn].values % 360
            lo0m, lo1m = lo0 % 360, lo1 % 360
            inlon = (lon >= lo0m) & (lon <= lo1m) if lo0m <= lo1m else (lon >= lo0m) | (lon <= lo1m)
            keep = (lat >= la0) & (lat <= la1) & inlon
            data = data.isel(time=np.flatnonzero(keep))
        else:
            lat, lon = ds.station.location.lat, ds.station.location.lon % 360
            if not (la0 <= lat <= la1 and lo0 % 360 <= lon <= lo1 % 360):
                data = data.isel(time=slice(0, 0))
        data = data[want]
    if data.sizes["time"] == 0:
        raise BadRequest("no records in the selection", 422)
    return data


def provenance_lines(ds: Dataset, periods: Sequence[Period], sel: Selection, user: str | None, now: dt.datetime,
                     url: str) -> list[tuple]:
    """``(key, value)`` pairs describing this download (``periods``: those read, as for :func:`select_data`)."""
    files = sorted({p.path.name for p in periods})
    return [("download_dataset", ds.key), ("download_selection", sel.describe()),
            ("download_versions", ",".join(str(v) for v in ds.versions)),
            ("download_files", " ".join(files)), ("download_by", user or "anonymous"),
            ("download_date", now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("download_server", f"crac_tools {__version__} {url}")]


def render(ds: Dataset, sel: Selection, data: xr.Dataset, prov: list[tuple]) -> tuple[bytes, str]:
    """The delivered file's bytes and name."""
    source = f"{ds.key} ({sel.describe()})"
    names = [str(n) for n in data.data_vars]
    with tempfile.TemporaryDirectory(prefix="crac-dl-") as tmp:
        if sel.fmt == "netcdf":
            out = data.copy()
            out.attrs.update({k: to_ascii(v) for k, v in prov})
            for v in out.variables.values():
                v.encoding = {k: v.encoding[k] for k in ("dtype", "_FillValue", "units", "calendar")
                              if k in v.encoding}
            t0 = pd.Timestamp(out["time"].values.min()).strftime("%Y%m%dT%H%M%S")
            path = Path(tmp) / f"{ds.key}_{t0}_v{max(ds.versions or [1])}_subset.nc"
            out.to_netcdf(path, engine="h5netcdf")
            return path.read_bytes(), path.name
        if sel.fmt == "csv":
            head = []
            for k, v in prov:
                head += wrap_text(f"{k}: {v}", MAX_LINE, prefix="# ", indent="#   ")
            text = "\n".join(head) + "\n" + csv_text(data[names], source=source)
            return text.encode("ascii"), indoex_name(data, data["time"].values.min(), "csv")
        writer = write_icartt if sel.fmt == "icartt" else write_nasa_ames
        path = writer(data, tmp, source=source)
        return path.read_bytes(), path.name


def completion_line(records: int) -> bytes:
    """The last line of a streamed text download.

    Examples
    --------
    >>> completion_line(3)
    b'# end of data: complete, 3 records\\n'
    """
    return f"# end of data: complete, {records} records\n".encode("ascii")


__all__ = ["FORMATS", "BadRequest", "ExportError", "Selection", "TooLarge", "check_size", "completion_line",
           "estimate_bytes", "parse_selection", "provenance_lines", "render", "select_data"]
