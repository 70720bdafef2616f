"""Helpers the exchange writers share: selecting data, times, names, metadata and provenance lines."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import CracError
from ..fsutil import atomic_path
from .ascii_rules import Column, encode_column, to_ascii


class ExportError(CracError, ValueError):
    """A product cannot be exported as asked (no data in the range, unknown variable, unsupported shape)."""


def select(ds: xr.Dataset, start: object = None, end: object = None,
           variables: Sequence[str] | None = None) -> xr.Dataset:
    """The part of ``ds`` in ``[start, end)`` with only ``variables`` (all numeric ones when None).

    Examples
    --------
    >>> ds = xr.Dataset({"a": ("time", [1.0, 2.0, 3.0]), "s": ("time", ["x", "y", "z"])},
    ...                 coords={"time": pd.date_range("2024-01-01", periods=3, freq="h")})
    >>> list(select(ds, end="2024-01-01T01:30").data_vars), select(ds, end="2024-01-01T01:30").sizes["time"]
    (['a'], 2)
    """
    if "time" not in ds.dims:
        raise ExportError("the product has no 'time' dimension")
    ds = ds.sortby("time")
    if start is not None or end is not None:
        ds = ds.isel(time=np.flatnonzero(time_mask(ds["time"].values, start, end)))
    if ds.sizes["time"] == 0:
        raise ExportError(f"no records in [{start}, {end})")
    names = pick_variables(ds, variables, "time", "no numeric time-dependent variables to export")
    for n in names:
        if ds[n].dims[0] != "time" and "time" in ds[n].dims:
            ds[n] = ds[n].transpose("time", ...)
    return ds[names]


def _utc(t: object) -> np.datetime64:
    """A time bound as naive UTC (times with a zone or offset are converted, naive ones are UTC already)."""
    ts = pd.Timestamp(t)
    return np.datetime64((ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts).as_unit("ns"))


def time_mask(t: np.ndarray, start: object = None, end: object = None) -> np.ndarray:
    """Which of the (naive UTC) times ``t`` lie in ``[start, end)``; a bound with a UTC offset is converted.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01T06:00", periods=4, freq="h").values
    >>> time_mask(t, start="2024-01-01T09:00+02:00").tolist()
    [False, True, True, True]
    """
    t = np.asarray(t).astype("datetime64[ns]")
    keep = np.ones(t.shape, bool)
    if start is not None:
        keep &= t >= _utc(start)
    if end is not None:
        keep &= t < _utc(end)
    return keep


def pick_variables(ds: xr.Dataset, variables: Sequence[str] | None, dim: str, none: str) -> list[str]:
    """The variables to export: ``variables`` (each must exist and be numeric), else every numeric one on ``dim``.

    Raises :class:`ExportError` naming the unknown or non-numeric variables, or with ``none`` when nothing is left.

    Examples
    --------
    >>> ds = xr.Dataset({"a": ("time", [1.0]), "s": ("time", ["x"])}, coords={"time": [0]})
    >>> pick_variables(ds, None, "time", "nothing")
    ['a']
    """
    if variables:
        unknown = [v for v in variables if v not in ds.data_vars]
        if unknown:
            raise ExportError(f"unknown variable(s) {', '.join(unknown)}; the product has "
                              f"{', '.join(map(str, ds.data_vars))}")
        names = list(variables)
    else:
        names = [str(v) for v, da in ds.data_vars.items() if da.dtype.kind in "biuf" and dim in da.dims]
    if not names:
        raise ExportError(none)
    for n in names:
        if ds[n].dtype.kind not in "biuf":
            raise ExportError(f"variable {n!r} is {ds[n].dtype}, not numeric")
    return names


def write_ascii(path: Path, text: str) -> Path:
    """Write an exchange file atomically (temp + fsync + rename), ASCII with ``\\n`` line ends; return ``path``.

    Examples
    --------
    >>> import tempfile
    >>> write_ascii(Path(tempfile.mkdtemp()) / "x.txt", "a b\\n").read_text()
    'a b\\n'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="ascii", newline="\n")
    return path


def day_start(times: np.ndarray) -> pd.Timestamp:
    """Midnight UTC of the first time."""
    return pd.Timestamp(times.min()).normalize()


def seconds_column(times: np.ndarray, ref: pd.Timestamp) -> Column:
    """Seconds since ``ref`` as exact decimal text (only as many decimals as the times need).

    Examples
    --------
    >>> t = pd.to_datetime(["2024-01-01T00:00:01.5", "2024-01-02T00:00:00"], format="ISO8601").values
    >>> seconds_column(t, pd.Timestamp("2024-01-01")).text
    ['1.5', '86400.0']
    """
    ns = (times.astype("datetime64[ns]") - np.datetime64(ref, "ns")).astype("i8")
    sec, frac = np.divmod(ns, 1_000_000_000)
    d = 0
    for d in range(10):
        if not (frac % 10 ** (9 - d)).any():
            break
    text = [f"{s}" if d == 0 else f"{s}.{f // 10 ** (9 - d):0{d}d}" for s, f in zip(sec, frac, strict=True)]
    return Column(text, 1.0, "1", None, "", d)


def interval_seconds(ds: xr.Dataset) -> float:
    """The constant record interval in seconds, or 0 when the records are not evenly spaced."""
    t = ds["time"].values.astype("datetime64[ns]").astype("i8")
    if t.size < 2:
        iv = ds.attrs.get("time_interval")
        return pd.Timedelta(iv).total_seconds() if iv else 0.0
    d = np.diff(t)
    return float(d[0]) / 1e9 if (d == d[0]).all() else 0.0


def nominal_interval(ds: xr.Dataset) -> float:
    """The product's nominal record interval in seconds (``time_interval`` attribute or median step)."""
    iv = ds.attrs.get("time_interval")
    if iv:
        try:
            return pd.Timedelta(iv).total_seconds()
        except ValueError:
            pass
    t = ds["time"].values.astype("datetime64[ns]").astype("i8")
    return float(np.median(np.diff(t))) / 1e9 if t.size > 1 else 0.0


_NAME_BAD = re.compile(r"[^A-Za-z0-9_]")


def short_name(name: str, taken: set[str], maxlen: int = 31) -> str:
    """An ICARTT-valid short name (letters, digits, ``_``; a letter first; at most 31 characters).

    Examples
    --------
    >>> short_name("2m T-air", set())
    'V2m_T_air'
    """
    s = _NAME_BAD.sub("_", to_ascii(name)) or "var"
    if not s[0].isalpha():
        s = "V" + s
    s = s[:maxlen]
    base, n = s, 1
    while s in taken:
        n += 1
        s = f"{base[:maxlen - len(str(n)) - 1]}_{n}"
    taken.add(s)
    return s


def units_of(da: xr.DataArray, none: str = "none") -> str:
    """The variable's units as ASCII (``none`` when it has none)."""
    u = to_ascii(da.attrs.get("units", "")).strip()
    return u if u and u != "1" else none


def long_name_of(da: xr.DataArray, name: str) -> str:
    """The variable's long name as ASCII."""
    return to_ascii(da.attrs.get("long_name", name)).strip() or name


@dataclass
class Meta:
    """Header metadata of an export, taken from the product's global attributes."""

    pi: str
    organization: str
    source: str
    mission: str
    platform: str
    location: str
    instrument: str
    data_id: str
    location_id: str
    version: str
    revision_date: dt.date
    lat: float | None
    lon: float | None
    alt: float | None


def _scalar(ds: xr.Dataset, name: str) -> float | None:
    if name in ds.coords and ds[name].ndim == 0 and ds[name].dtype.kind in "iuf":
        return float(ds[name].values)
    return None


def meta_of(ds: xr.Dataset) -> Meta:
    """Header metadata from a product's attributes (CF/ACDD names of :mod:`crac_tools.conventions.cf`)."""
    a = ds.attrs
    scalar_id = "station_id" in ds.coords and ds["station_id"].ndim == 0  # not a dimension of several stations
    station = str(a.get("station_id") or (ds["station_id"].values if scalar_id else "") or "station")
    product = str(a.get("product") or "data")
    pi = to_ascii(a.get("creator_name") or "unknown")
    if "," not in pi and " " in pi.strip():
        first, last = pi.strip().rsplit(" ", 1)
        pi = f"{last}, {first}"
    lat, lon, alt = _scalar(ds, "lat"), _scalar(ds, "lon"), _scalar(ds, "alt")
    location = to_ascii(a.get("station_name") or station)
    if lat is not None and lon is not None:
        location += f", lat {lat} deg N, lon {lon} deg E" + (f", alt {alt} m" if alt is not None else "")
    created = a.get("date_modified") or a.get("date_created")
    try:
        rdate = pd.Timestamp(created).date() if created else dt.datetime.now(dt.UTC).date()
    except ValueError:
        rdate = dt.datetime.now(dt.UTC).date()
    return Meta(
        pi=pi,
        organization=to_ascii(a.get("institution") or "unknown"),
        source=to_ascii(f"{a.get('station_name') or station} {product}: {a.get('instrument') or a.get('source') or ''}")
        .strip().rstrip(":"),
        mission=to_ascii(a.get("project") or a.get("naming_authority") or "unknown"),
        platform=to_ascii(a.get("platform") or a.get("station_name") or station),
        location=location,
        instrument=to_ascii(a.get("instrument") or a.get("source") or "unknown"),
        data_id=re.sub(r"[^A-Za-z0-9-]", "-", f"{station}-{product}"),
        location_id=re.sub(r"[^A-Za-z0-9-]", "-", station),
        version=str(a.get("product_version", "1")),
        revision_date=rdate,
        lat=lat, lon=lon, alt=alt,
    )


def provenance(ds: xr.Dataset, source: str | None = None) -> list[tuple[str, str]]:
    """``(key, value)`` pairs of the product version and provenance every export carries.

    Examples
    --------
    >>> ds = xr.Dataset(attrs={"product_version": "2", "crac_tools_version": "0.1.0",
    ...                        "source_files": "a.dat 00ff\\nb.dat 11ee"})
    >>> [k for k, _ in provenance(ds)][:4]
    ['product_version', 'product_crac_tools_version', 'exported_by', 'export_date']
    """
    from .. import __version__

    a = ds.attrs
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = [("product_version", str(a.get("product_version", "unknown"))),
           ("product_crac_tools_version", str(a.get("crac_tools_version", "unknown"))),
           ("exported_by", f"crac_tools {__version__}"),
           ("export_date", now)]
    if source:
        out.append(("source_product", to_ascii(source)))
    for key in ("id", "processing_options_hash", "run_record", "license", "period_start", "period_end"):
        if a.get(key):
            out.append((key, to_ascii(a[key])))
    for line in str(a.get("source_files", "")).splitlines():
        if line.strip():
            out.append(("source_file", to_ascii(line.strip())))
    return out


def indoex_name(ds: xr.Dataset, first: object, ext: str, template: str | None = None) -> str:
    """File name by the INDOEX convention ``<station>.<YYMMDDHHmm of the first record>.<product>.<ext>``.

    ``first`` is the time of the first record written; ``template`` (a naming template with fields ``source``,
    ``product``, ``start``, ``ext``) replaces the convention.

    Examples
    --------
    >>> ds = xr.Dataset(attrs={"station_id": "s1", "product": "met"})
    >>> indoex_name(ds, "2024-06-02T06:00", "txt")
    's1.2406020600.met.txt'
    """
    from ..conventions.naming import format_name

    meta = meta_of(ds)
    product = re.sub(r"[^A-Za-z0-9_-]", "-", str(ds.attrs.get("product") or "data"))
    fields = {"source": meta.location_id, "product": product,
              "start": pd.Timestamp(first).to_pydatetime(), "ext": ext}
    return format_name(template or "indoex", **fields)


def encode(ds: xr.Dataset, names: Sequence[str], allow_scale: bool = True,
           fill: int | None = None) -> dict[str, Column]:
    """Encode every named 1-D variable of ``ds`` with the ASCII precision/scale rules."""
    return {n: encode_column(np.asarray(ds[n].values).ravel(), allow_scale=allow_scale, fill=fill) for n in names}
