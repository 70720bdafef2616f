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
from .units import to_udunits

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
        for key, value in meta.attrs.items():
            attrs[key] = np.asarray(value, dtype=var.dtype) if isinstance(value, list) and var.dtype.kind in "iuf" \
                else value
        ds[name] = var.copy(deep=False)
        ds[name].attrs = attrs
        if meta.rename:
            renames[name] = meta.rename
    return ds.rename(renames) if renames else ds


def ensure_variable_attrs(ds: xr.Dataset) -> xr.Dataset:
    """Give every variable CF/ACDD attributes: ``long_name``, UDUNITS ``units`` (the file's spelling kept in
    ``source_units``), ``coverage_content_type``, valid range in the variable's type; the logger's record number
    becomes an auxiliary coordinate; the time axis is described per CF."""
    if "RECORD" in ds.data_vars and ds["RECORD"].dims == ("time",):
        ds = ds.set_coords("RECORD")
    if "RECORD" in ds.coords:
        ds["RECORD"].attrs.update(long_name="logger record number", units="1",
                                  coverage_content_type="auxiliaryInformation")
    for name, var in ds.data_vars.items():
        attrs = var.attrs
        if var.dtype.kind == "M":
            if "units" in attrs:  # a time-of-extreme column: CF time units come from the encoding
                attrs["source_units"] = attrs.pop("units")
        elif var.dtype.kind in "fiub":
            raw = attrs.get("units")
            if raw in (None, ""):
                attrs["units"] = "1"
                attrs.setdefault("comment", "the source file gives no unit for this variable")
            else:
                good = to_udunits(str(raw))
                if good is None:
                    attrs["units"] = "1"
                    attrs.setdefault("source_units", raw)
                    attrs.setdefault("comment", f"the source unit {raw!r} is not a known UDUNITS unit; see "
                                                "source_units")
                elif good != raw:
                    attrs.setdefault("source_units", raw)
                    attrs["units"] = good
            for key in ("valid_min", "valid_max"):
                if key in attrs:
                    attrs[key] = var.dtype.type(attrs[key])  # CF: the variable's own type
        if "long_name" not in attrs:
            attrs["long_name"] = str(name)
        if "coverage_content_type" not in attrs:
            attrs["coverage_content_type"] = ("qualityInformation" if "flag_meanings" in attrs
                                              else "physicalMeasurement")
    if "time" in ds.coords:
        ds["time"].attrs.update(standard_name="time", long_name="time (UTC)", axis="T",
                                coverage_content_type="coordinate")
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
                                         "units": "degrees_north", "coverage_content_type": "coordinate"}),
        lon=xr.DataArray(loc.lon, attrs={"standard_name": "longitude", "long_name": "station longitude",
                                         "units": "degrees_east", "coverage_content_type": "coordinate"}),
        alt=xr.DataArray(loc.alt, attrs={"standard_name": "altitude", "long_name": "station altitude",
                                         "units": "m", "positive": "up", "axis": "Z",
                                         "coverage_content_type": "coordinate"}),
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
        "standard_name_vocabulary": "CF Standard Name Table v84",
        "geospatial_bounds": f"POINT ({loc.lat} {loc.lon})",
        "geospatial_bounds_crs": "EPSG:4326",
        "geospatial_bounds_vertical_crs": "EPSG:5829",
        "creator_type": "person",
        "creator_url": info.pi_url or "",  # dropped below when empty
        "creator_institution": info.institution or "unknown",
        "publisher_name": info.publisher_name or info.institution or info.pi or "unknown",
        "publisher_email": info.publisher_email or info.pi_email or "",
        "publisher_url": info.publisher_url or info.pi_url or "",
        "acknowledgement": info.acknowledgement or f"Data of {info.title or info.name} "
                                                    f"({info.institution or info.pi or 'the project'}), "
                                                    "collected and processed with crac_tools.",
        "comment": info.comment or "made with crac_tools",
        "processing_level": info.processing_level or "assembled raw records (level 1: no QC applied)",
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
    attrs = {k: v for k, v in attrs.items() if not (isinstance(v, str) and not v.strip()
                                                    and k not in ("run_record",))}
    ds.attrs = {**ds.attrs, **attrs}
    return ds
