"""CF-1.10 and ACDD-1.3 metadata for station time-series products, plus provenance.

:func:`apply_column_metadata` applies the station configuration's per-column metadata (valid for the
period's dates) to a period dataset; :func:`finalize_product` adds the station coordinates, the
variable and global attributes CF/ACDD ask for, and the provenance of the product.

Examples
--------
>>> import numpy as np, pandas as pd, xarray as xr
>>> ds = xr.Dataset({"T": ("time", np.zeros(2, "f4"))},
...                 coords={"time": pd.date_range("2024-01-01", periods=2, freq="h")})
>>> ensure_variable_attrs(ds)["T"].attrs["units"]
'1'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..config import Project, StationConfig

CONVENTIONS = "CF-1.10, ACDD-1.3"


def options_hash(options: dict) -> str:
    """Short stable hash of processing options (CDAAC: the version names the options of every step)."""
    text = json.dumps(options, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def apply_column_metadata(ds: xr.Dataset, station: StationConfig, start: pd.Timestamp,
                          end: pd.Timestamp) -> xr.Dataset:
    """Apply the station's column metadata valid in ``[start, end)``: names, units, sentinels, ranges.

    The file's own unit string is kept in ``source_units`` when the configuration overrides it; declared
    missing values become NaN with the value kept in ``missing_value``.
    """
    renames = {}
    for name in list(ds.data_vars):
        meta = station.column_meta(str(name), start, end)
        if meta is None:
            continue
        var = ds[name]
        attrs = dict(var.attrs)
        if meta.missing_values and var.dtype.kind in "fiu":
            data = var.values
            bad = np.isin(data, np.asarray(meta.missing_values, dtype=data.dtype if data.dtype.kind == "f"
                                           else "f8"))
            if bad.any():
                data = data.astype("f8" if data.dtype.kind in "iu" else data.dtype, copy=True)
                data[bad] = np.nan
                var = var.copy(data=data)
            attrs["missing_value"] = np.asarray(meta.missing_values, dtype="f8")[0]
        if meta.units is not None:
            if attrs.get("units") not in (None, meta.units):
                attrs["source_units"] = attrs["units"]
            attrs["units"] = meta.units
        for key in ("standard_name", "long_name", "valid_min", "valid_max"):
            value = getattr(meta, key)
            if value is not None:
                attrs[key] = value
        ds[name] = var.copy(deep=False)
        ds[name].attrs = attrs
        if meta.rename:
            renames[name] = meta.rename
    return ds.rename(renames) if renames else ds


def ensure_variable_attrs(ds: xr.Dataset) -> xr.Dataset:
    """Give every variable ``long_name`` and (numeric ones) ``units``; describe the time axis per CF."""
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "M" and "units" in var.attrs:
            # a time-of-extreme column keeps its logger unit string; CF time units come from the encoding
            var.attrs["source_units"] = var.attrs.pop("units")
        if "long_name" not in var.attrs:
            var.attrs["long_name"] = str(name)
        if var.dtype.kind in "fiu" and not var.attrs.get("units"):
            var.attrs["units"] = "1"
            var.attrs.setdefault("comment", "the source file gives no unit for this variable")
    if "RECORD" in ds.data_vars:
        ds["RECORD"].attrs.update(long_name="logger record number", units="1")
    if "time" in ds.coords:
        ds["time"].attrs.update(standard_name="time", long_name="time (UTC)", axis="T")
        ds["time"].attrs.pop("units", None)
    return ds


def _iso(t: pd.Timestamp | np.datetime64) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%S") + "Z"


def finalize_product(
    ds: xr.Dataset,
    project: Project,
    station: StationConfig,
    period: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    sources: list[tuple[str, str]],
    source_attrs: dict[str, Any],
    options: dict,
    run_record: str | None,
    version: str,
) -> xr.Dataset:
    """Add station coordinates, CF/ACDD global attributes and provenance to a period dataset.

    Parameters
    ----------
    sources
        ``(file name, sha256)`` of every raw file that contributed.
    source_attrs
        Header metadata of the (last) source file, kept with a ``source_`` prefix.
    options
        Processing options; stored as JSON with a short hash.
    run_record
        The executed notebook or command line that made the product.
    version
        The crac_tools version.
    """
    info = project.config.project
    loc = station.location
    ds = ensure_variable_attrs(ds)
    ds = ds.assign_coords(
        lat=xr.DataArray(loc.lat, attrs={"standard_name": "latitude", "long_name": "station latitude",
                                         "units": "degrees_north"}),
        lon=xr.DataArray(loc.lon, attrs={"standard_name": "longitude", "long_name": "station longitude",
                                         "units": "degrees_east"}),
        alt=xr.DataArray(loc.alt, attrs={"standard_name": "altitude", "long_name": "station altitude",
                                         "units": "m", "positive": "up", "axis": "Z"}),
        station_id=xr.DataArray(station.id, attrs={"cf_role": "timeseries_id", "long_name": "station id"}),
    )
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    times = ds["time"].values if "time" in ds.coords else np.array([], "datetime64[ns]")
    instruments = ", ".join(i.name + (f" ({i.model})" if i.model and i.model != i.name else "")
                            for i in station.instruments)
    attrs: dict[str, Any] = {
        "Conventions": CONVENTIONS,
        "title": f"{info.title or info.name}: {station.name or station.id} {station.product} "
                 f"{pd.Timestamp(start):%Y-%m-%d %H:%M}",
        "summary": info.summary or f"{station.product} records of station {station.name or station.id}, "
                                   f"one {period} starting {_iso(start)}",
        "keywords": ", ".join(info.keywords) if info.keywords else station.product,
        "id": f"{station.key}_{pd.Timestamp(start):%Y%m%dT%H%M%S}",
        "naming_authority": info.name,
        "project": info.name,
        "institution": info.institution or "unknown",
        "creator_name": info.pi or "unknown",
        "creator_email": info.pi_email or "",
        "license": info.license or "not specified",
        "source": f"{source_attrs.get('file_format', station.format or 'raw')} files from "
                  f"{instruments or station.id}",
        "platform": station.name or station.id,
        "station_id": station.id,
        "station_name": station.name or station.id,
        "product": station.product,
        "instrument": instruments,
        "featureType": "timeSeries",
        "cdm_data_type": "Station",
        "period": period,
        "period_start": _iso(start),
        "period_end": _iso(end),
        "time_coverage_start": _iso(times.min()) if len(times) else _iso(start),
        "time_coverage_end": _iso(times.max()) if len(times) else _iso(start),
        "time_coverage_duration": pd.Timedelta(end - start).isoformat(),
        "geospatial_lat_min": loc.lat, "geospatial_lat_max": loc.lat,
        "geospatial_lon_min": loc.lon, "geospatial_lon_max": loc.lon,
        "geospatial_vertical_min": loc.alt, "geospatial_vertical_max": loc.alt,
        "geospatial_vertical_positive": "up",
        "date_created": now,
        "date_modified": now,
        "product_version": str(project.config.products.version),
        "crac_tools_version": version,
        "processing_options": json.dumps(options, sort_keys=True, default=str),
        "processing_options_hash": options_hash(options),
        "source_files": "\n".join(f"{n} {h}" for n, h in sources),
        "run_record": run_record or "",
        "history": f"{now} crac_tools {version}: assembled from {len(sources)} raw file(s)"
                   + (f" by {run_record}" if run_record else ""),
    }
    if info.references:
        attrs["references"] = info.references
    if "time_interval" in ds.attrs:
        attrs["time_coverage_resolution"] = pd.Timedelta(ds.attrs["time_interval"]).isoformat()
    for k, v in source_attrs.items():
        if isinstance(v, (str, int, float, np.integer, np.floating)) and k not in ("source_file",):
            attrs[f"source_{k}"] = v
    for k, v in station.attrs.items():
        attrs[k] = v
    ds.attrs = {**ds.attrs, **attrs}
    return ds
