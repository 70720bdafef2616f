"""One-file conversion: read any supported file and write its structured product (CF/ACDD or GEOMS).

The seed's "strip data and metadata, generate the structured file" in one call: :func:`convert` reads the file
with :func:`crac_tools.read`, builds a minimal project and station description from the file's own header
(name, PI, institution, position when the file gives one; see :func:`station_from_attrs`), and writes

- ``to="cf"``: a CF-1.10 / ACDD-1.3 NetCDF-4 product (:mod:`crac_tools.conventions.cf`, written atomically by
  :func:`crac_tools.store.write_product`), named ``<station>_<product>_<start>_v<version>.nc``;
- ``to="geoms"``: a GEOMS HDF5 file (:mod:`crac_tools.conventions.geoms`), named by the GEOMS convention, with
  attribute values from a GEOMS metadata template when one is given.

Examples
--------
>>> from crac_tools.convert import convert
>>> convert("Station_Daily.dat", to="geoms", out_dir="out")  # doctest: +SKIP
PosixPath('out/groundbased_cr1000_station_station_20140411t000000z_20140606t000000z_001.h5')
"""

from __future__ import annotations

import logging
import os
import re
import shlex
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from .config import Location, Project, ProjectConfig, ProjectInfo, StationConfig
from .errors import CracError

_ID_RE = re.compile(r"[^A-Za-z0-9_.-]+")

log = logging.getLogger(__name__)


class ConvertError(CracError, ValueError):
    """A file cannot be converted (no time axis, unknown target ...)."""


def _first(attrs: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and value.strip() and value.strip().upper() not in ("N/A", "NA", "NONE"):
            return value.strip()
    return None


def _plain_id(text: str) -> str:
    text = _ID_RE.sub("_", text).strip("_.-")
    return text if text and text[0].isalnum() else f"s{text}" if text else "station"


def _position(ds: xr.Dataset) -> Location | None:
    """A fixed position from the file: scalar lat/lon variables, or constant ones along time."""
    names = {str(n).lower(): str(n) for n in ds.variables}

    def value(*aliases: str) -> float | None:
        for alias in aliases:
            name = names.get(alias)
            if name is not None and ds[name].dtype.kind in "iuf":
                v = ds[name].values.astype("f8").ravel()
                v = v[np.isfinite(v)]
                if v.size and np.ptp(v) == 0:
                    return float(v[0])
        return None

    lat = value("latitude.instrument", "lat", "latitude")
    lon = value("longitude.instrument", "lon", "longitude")
    if lat is None or lon is None or not -90 <= lat <= 90:
        return None
    alt = value("altitude.instrument", "alt", "altitude")
    return Location(lat=lat, lon=lon if lon <= 180 else lon - 360, alt=alt or 0.0)


def station_from_attrs(ds: xr.Dataset, path: str | os.PathLike) -> tuple[StationConfig, bool]:
    """A minimal station description from a file's own header (and whether its position is known).

    Examples
    --------
    >>> st, known = station_from_attrs(xr.Dataset(attrs={"station_name": "Alpha 1", "table_name": "Daily"}),
    ...                                "x.dat")
    >>> st.id, st.product, known
    ('Alpha_1', 'Daily', False)
    """
    a = ds.attrs
    name = _first(a, "station_name", "station_id", "PLATFORM", "DATA_LOCATION", "LOCATION") or Path(path).stem
    product = _first(a, "table_name", "product", "DATA_SOURCE") or a.get("file_format") or "data"
    loc = _position(ds)
    instruments = []
    model = _first(a, "logger_model", "INSTRUMENT_INFO", "instrument")
    if model:
        instruments.append({"name": model[:60], "model": model[:60], "serial": _first(a, "logger_serial")})
    station = StationConfig(id=_plain_id(name)[:60], name=name, location=loc or Location(lat=0.0, lon=0.0),
                            product=_plain_id(str(product))[:60], format=str(a.get("file_format") or "") or None,
                            instruments=instruments)
    return station, loc is not None


def project_from_attrs(ds: xr.Dataset, path: str | os.PathLike) -> Project:
    """A minimal project (name, PI, institution) from a file's header, for one-file products.

    Examples
    --------
    >>> p = project_from_attrs(xr.Dataset(attrs={"originator": "Wolfe, Glenn", "organization": "NASA"}), "a.ict")
    >>> p.config.project.pi, p.config.project.institution
    ('Wolfe, Glenn', 'NASA')
    """
    a = ds.attrs
    pi = _first(a, "PI_NAME", "originator", "creator_name", "pi")
    if pi and ";" in pi:
        last, _, first = pi.partition(";")
        pi = f"{first.strip()} {last.strip()}".strip()
    info = ProjectInfo(
        name=_plain_id(_first(a, "mission", "PROJECT_INFO", "project", "FILE_ACCESS") or "crac-convert")[:60],
        title=_first(a, "title", "DATA_DESCRIPTION", "data_source", "mission"),
        pi=pi, institution=_first(a, "PI_AFFILIATION", "organization", "institution"),
        pi_email=_first(a, "PI_EMAIL", "creator_email"),
        license=_first(a, "DATA_RULES_OF_USE", "STIPULATIONS_ON_USE", "license"),
        comment=f"converted from {Path(path).name} by crac convert")
    return Project(Path(path).resolve(), ProjectConfig(project=info), [])


def _cf_product(ds: xr.Dataset, path: Path, station: StationConfig, known: bool, project: Project,
                version: int) -> tuple[xr.Dataset, str]:
    from . import __version__
    from .conventions.cf import finalize_product
    from .conventions.naming import product_name
    from .fsutil import sha256_file

    times = ds["time"].values
    start, stop = pd.Timestamp(np.nanmin(times)), pd.Timestamp(np.nanmax(times))
    ds = _cf_clean(ds)
    options = {"convert": "cf", "input": path.name, "format": ds.attrs.get("file_format")}
    out = finalize_product(ds, project, station, "file", start, stop, [(path.name, sha256_file(path))],
                           dict(ds.attrs), options, f"crac convert {shlex.quote(str(path))} --to cf", __version__)
    out.attrs["product_version"] = str(version)
    out.attrs.pop("period", None)
    if not known:  # no position in the file: do not invent one
        for c in ("lat", "lon", "alt"):
            out[c] = xr.DataArray(np.float64(np.nan), attrs=out[c].attrs)
            out[c].encoding["_FillValue"] = -9999.0
        for k in [k for k in out.attrs if k.startswith("geospatial")]:
            out.attrs.pop(k)
        out.attrs["comment"] = f"{out.attrs.get('comment', '')}; the file gives no station position".lstrip("; ")
    name = product_name(project.config.naming.template, station.id, station.product, "file", start, stop, version)
    return out, name


def _cf_clean(ds: xr.Dataset) -> xr.Dataset:
    """Drop reader attributes that are not valid CF variable attributes (GEOMS ``VAR_*`` kept as they are)."""
    ds = ds.copy()
    for name in list(ds.variables):
        attrs = ds[name].attrs
        for key in ("valid_range",):
            attrs.pop(key, None)
        if ds[name].dtype.kind == "M":
            for key in ("VAR_VALID_MIN", "VAR_VALID_MAX", "VAR_FILL_VALUE"):
                attrs.pop(key, None)
    ds = ds.rename({n: _plain_id(str(n)).replace(".", "_") for n in ds.variables if "." in str(n)})
    return ds


def convert(input: str | os.PathLike, to: Literal["cf", "geoms"] = "cf", template: str | os.PathLike | None = None,
            out_dir: str | os.PathLike = ".", station: StationConfig | None = None, project: Project | None = None,
            version: int = 1, fmt: Literal["hdf5", "netcdf4"] = "hdf5", attrs: dict[str, Any] | None = None,
            echo: bool = True) -> Path:
    """Read one file and write its structured product; return (and print) the path written.

    Parameters
    ----------
    input
        Any file :func:`crac_tools.read` reads (TOA5, ICARTT, NASA Ames, GEOMS ...).
    to
        ``cf`` (CF-1.10 / ACDD-1.3 NetCDF-4) or ``geoms`` (GEOMS HDF5, or netCDF-4 with ``fmt='netcdf4'``).
    template
        GEOMS metadata template file (``to='geoms'`` only).
    out_dir
        Folder for the product (created when missing).
    station, project
        Descriptions to use instead of the ones built from the file's header.
    version
        Product version (``_v1`` in CF names, ``_001`` in GEOMS names).
    fmt
        GEOMS container.
    attrs
        GEOMS global attributes overriding everything else (``to='geoms'`` only).
    echo
        Log the path written (the ``crac convert`` command prints it).

    Raises
    ------
    ConvertError
        Unknown target, template given for CF, or the file has no time axis.

    Examples
    --------
    >>> convert("ACTAMERICA-flag-metadata_B200_20170308_R0_L2.ict", to="cf", out_dir="out")  # doctest: +SKIP
    PosixPath('out/NASA_B200_aircraft_located_within_data_file_icartt_20170308T205322_v1.nc')
    """
    import crac_tools

    path = Path(input)
    if to not in ("cf", "geoms"):
        raise ConvertError(f"unknown product convention {to!r}; use 'cf' or 'geoms'")
    if template is not None and to != "geoms":
        raise ConvertError("--template is a GEOMS metadata template: use it with --to geoms")
    ds = crac_tools.read(path)
    if "time" not in ds.coords or ds.sizes.get("time", 0) == 0:
        raise ConvertError(f"{path}: no time axis to build a product from")
    own_station, known = station_from_attrs(ds, path)
    known = known or station is not None
    station = station or own_station
    project = project or project_from_attrs(ds, path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if to == "geoms":
        from .conventions.geoms import to_geoms, write_geoms

        g = to_geoms(ds, template=template, station=station if known else None, attrs=attrs, project=project,
                     version=version, fmt=fmt)
        written = write_geoms(g, out_dir, fmt=fmt)
    else:
        from .store import write_product

        product, name = _cf_product(ds, path, station, known, project, version)
        written = write_product(product, out_dir / name)
    if echo:
        log.info("wrote %s", written)
    return written


__all__ = ["ConvertError", "convert", "project_from_attrs", "station_from_attrs"]
