"""netCDF pass-through reader (CF and ARM conventions; netCDF-3 classic / 64-bit and netCDF-4).

The file is opened with xarray (``h5netcdf`` for netCDF-4/HDF5, ``netCDF4`` for the netCDF-3 formats; ``scipy``
when netCDF4 is missing), decoded following CF (``_FillValue`` / ``missing_value`` -> NaN, ``scale_factor`` /
``add_offset`` applied, times decoded to datetime64[ns]), loaded into memory and closed. The reader then makes
sure the result follows the reader contract (``docs/architecture.md``):

- the time coordinate is named ``time``: an existing datetime ``time`` is kept; otherwise the 1-D variable with
  ``standard_name = "time"`` or ``axis = "T"`` is renamed (its name kept in ``attrs["original_name"]``);
  otherwise ARM's ``base_time`` + ``time_offset`` are combined into ``time``;
- storage details (chunking, compression, source path) are dropped from ``encoding``; the CF packing keys
  (``dtype``, ``_FillValue``, ``missing_value``, ``scale_factor``, ``add_offset``, ``units``, ``calendar``) stay,
  so writing the dataset again reproduces the file's conventions;
- ``attrs["file_format"] = "netcdf"`` and ``attrs["netcdf_format"]`` (``NETCDF3_CLASSIC``,
  ``NETCDF3_64BIT_OFFSET``, ``NETCDF3_64BIT_DATA`` or ``NETCDF4``) are added.

HDF5 files are only claimed when they are neither GEOMS (read by :mod:`.geoms`) nor PyTables files (HiSPARC,
:mod:`.hisparc`). Groups of a netCDF-4 file become the groups of :meth:`NetcdfReader.read_tree`;
:meth:`NetcdfReader.read` reads the root group, or ``table=`` names a group.

Examples
--------
>>> from crac_tools.formats.netcdf import read_netcdf
>>> ds = read_netcdf("bnfmetM1.b1.20250619.000000.cdf")  # doctest: +SKIP
>>> ds["atmos_pressure"].attrs["units"]  # doctest: +SKIP
'kPa'
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DataQualityWarning, ParseError, warn
from .common import no_records, safe_sniff, time_span
from .geoms import has_geoms_attributes, hdf5_signature
from .hisparc import is_pytables
from .registry import TimeRange, register, single_table_tree

_CDF_FORMATS = {1: "NETCDF3_CLASSIC", 2: "NETCDF3_64BIT_OFFSET", 5: "NETCDF3_64BIT_DATA"}
#: Encoding keys kept after loading (CF packing); everything else (chunks, filters, source) is dropped.
KEEP_ENCODING = ("dtype", "_FillValue", "missing_value", "scale_factor", "add_offset", "units", "calendar",
                 "_Unsigned", "coordinates")


def netcdf_format(head: bytes) -> str | None:
    """The netCDF flavour from the first bytes: ``NETCDF3_*`` by the ``CDF`` magic, ``NETCDF4`` for HDF5.

    Examples
    --------
    >>> netcdf_format(b"CDF\\x01\\x00"), netcdf_format(b"CDF\\x02"), netcdf_format(b"\\x89HDF\\r\\n\\x1a\\n")
    ('NETCDF3_CLASSIC', 'NETCDF3_64BIT_OFFSET', 'NETCDF4')
    """
    if head[:3] == b"CDF" and len(head) > 3 and head[3] in _CDF_FORMATS:
        return _CDF_FORMATS[head[3]]
    if hdf5_signature(head):
        return "NETCDF4"
    return None


def _engine(fmt: str) -> str:
    if fmt == "NETCDF4":
        return "h5netcdf"
    try:
        import netCDF4  # noqa: F401
    except ImportError:
        return "scipy"
    return "netcdf4"


def _time_decoder() -> Any:
    try:
        return xr.coders.CFDatetimeCoder(time_unit="ns")
    except (AttributeError, TypeError):  # older xarray: always nanoseconds
        return True


def _clean(ds: xr.Dataset) -> xr.Dataset:
    for var in ds.variables.values():
        var.encoding = {k: v for k, v in var.encoding.items() if k in KEEP_ENCODING}
    ds.encoding = {}
    return ds


def _is_datetime(var: xr.Variable | xr.DataArray) -> bool:
    return np.issubdtype(var.dtype, np.datetime64)


def _as_ns(var: xr.DataArray) -> xr.DataArray:
    if var.dtype != np.dtype("datetime64[ns]"):
        return var.astype("datetime64[ns]")
    return var


def _arm_time(ds: xr.Dataset, path: Path) -> xr.DataArray | None:
    """``base_time`` + ``time_offset`` as datetime64[ns] (ARM convention), or None when absent."""
    if "base_time" not in ds.variables or "time_offset" not in ds.variables:
        return None
    base, offset = ds["base_time"], ds["time_offset"]
    if offset.ndim != 1:
        return None
    if _is_datetime(offset):  # CF-decoded: units "seconds since <base time>"
        return _as_ns(offset)
    if np.issubdtype(offset.dtype, np.timedelta64):
        delta = offset.values.astype("timedelta64[ns]")
    else:
        delta = np.rint(offset.values.astype(np.float64) * 1e9).astype("timedelta64[ns]")
    if _is_datetime(base):
        start = base.values.astype("datetime64[ns]")
    else:
        start = np.datetime64("1970-01-01", "ns") + np.timedelta64(int(np.rint(float(base.values) * 1e9)), "ns")
    return xr.DataArray(start + delta, dims=offset.dims)


def ensure_time(ds: xr.Dataset, path: Path) -> xr.Dataset:
    """Make ``time`` a datetime64[ns] coordinate (rename the CF time variable or build it from ARM base_time).

    Examples
    --------
    >>> ds = xr.Dataset(coords={"t": ("obs", np.array(["2020-01-01"], "datetime64[ns]"), {"axis": "T"})})
    >>> ensure_time(ds, Path("x.nc"))["time"].attrs["original_name"]
    't'
    """
    if "time" in ds.variables and _is_datetime(ds["time"]):
        if "time" not in ds.coords:
            ds = ds.set_coords("time")
        if ds["time"].dims == ("time",):
            return ds.assign_coords(time=_as_ns(ds["time"]))
    candidates = [name for name, var in ds.variables.items()
                  if name != "time" and var.ndim == 1 and _is_datetime(var)
                  and (var.attrs.get("standard_name") == "time" or str(var.attrs.get("axis", "")).upper() == "T")]
    if not candidates and "time" in ds.variables and ds["time"].ndim == 1 and _is_datetime(ds["time"]):
        candidates = ["time"]  # a datetime "time" along another dimension (CF DSG: time(obs))
    if candidates:
        name = candidates[0]
        dim = ds[name].dims[0]
        var = _as_ns(ds[name]).variable.copy()
        if name != "time":
            var.attrs = {**var.attrs, "original_name": name}
        ds = ds.drop_vars(name)
        if "time" in ds.variables:
            ds = ds.rename_vars({"time": "time_original"})
        if dim != "time" and dim in ds.dims:
            if "time" in ds.dims:
                ds = ds.rename_dims({"time": "time_dim_original"})
            ds = ds.rename_dims({dim: "time"})
        return ds.assign_coords(time=(("time",), var.data, var.attrs, var.encoding))
    arm = _arm_time(ds, path)
    if arm is not None:
        dim = arm.dims[0]
        ds = ds.rename_vars({"time": "time_original"}) if "time" in ds.variables else ds
        if dim != "time":
            ds = ds.rename_dims({dim: "time"})
        attrs = {"standard_name": "time", "long_name": "time", "comment": "ARM base_time + time_offset"}
        return ds.assign_coords(time=("time", arm.values, attrs))
    warn(DataQualityWarning, f"{path}: no time coordinate found (no datetime 'time', no standard_name/axis time "
                             "variable, no ARM base_time/time_offset)")
    return ds


def _open(path: Path, group: str | None) -> tuple[xr.Dataset, str]:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    fmt = netcdf_format(head)
    if fmt is None:
        raise ParseError(path, "not a netCDF file", expected="the CDF or HDF5 signature", found=repr(head[:8]))
    engine = _engine(fmt)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")
            kwargs = {"phony_dims": "sort"} if engine == "h5netcdf" else {}
            with xr.open_dataset(path, engine=engine, group=group, decode_times=_time_decoder(), **kwargs) as ds:
                ds = ds.load()
    except OSError as exc:
        if group is not None and "group" in str(exc).lower():
            raise ParseError(path, f"no group {group!r} ({exc})", expected="an existing group",
                             found=repr(group)) from None
        raise ParseError(path, f"cannot read the netCDF file ({exc})", expected=f"a readable {fmt} file",
                         found="an unreadable or truncated file") from None
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ParseError(path, f"cannot decode the netCDF file ({type(exc).__name__}: {exc})",
                         expected=f"a valid {fmt} file", found="undecodable content") from None
    return ds, fmt


def _finish(ds: xr.Dataset, path: Path, fmt: str) -> xr.Dataset:
    ds = ensure_time(_clean(ds), path)
    if "file_format" in ds.attrs and ds.attrs["file_format"] != "netcdf":
        ds.attrs["original_file_format"] = ds.attrs["file_format"]
    ds.attrs["file_format"] = "netcdf"
    ds.attrs["netcdf_format"] = fmt
    ds.attrs.setdefault("source_file", path.name)
    return ds


def _groups(path: Path) -> list[str]:
    """Paths of the sub-groups of a netCDF-4 file (empty for netCDF-3)."""
    import h5py

    found: list[str] = []
    try:
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: found.append("/" + name) if isinstance(obj, h5py.Group) else None)
    except OSError:
        return []
    return found


class NetcdfReader:
    """Pass-through reader for CF / ARM netCDF files.

    Examples
    --------
    >>> NetcdfReader().sniff(b"CDF\\x01\\x00\\x00\\x05\\xa0", None)
    True
    >>> NetcdfReader().sniff(b'"TOA5","x"', None)
    False
    """

    name = "netcdf"
    multi_table = False

    @safe_sniff
    def sniff(self, head: bytes, path: Path | None) -> bool:
        """netCDF-3 by its ``CDF`` magic; HDF5 (netCDF-4) unless the file is a GEOMS or a PyTables file."""
        fmt = netcdf_format(head)
        if fmt is None:
            return False
        if fmt != "NETCDF4":
            return True
        return path is not None and not has_geoms_attributes(path) and not is_pytables(path)

    def read(self, path: str | os.PathLike, table: str | None = None, **options) -> xr.Dataset:
        """Read a netCDF file (root group, or the group ``table``) into memory and close it.

        Raises
        ------
        ParseError
            Not a netCDF file, unreadable / truncated file, undecodable content, or no such group.

        Examples
        --------
        >>> ds = NetcdfReader().read("pocean_timeseries_tt.nc")  # doctest: +SKIP
        >>> ds.sizes["time"]  # doctest: +SKIP
        24
        """
        path = Path(path)
        ds, fmt = _open(path, table)
        return _finish(ds, path, fmt)

    def read_tree(self, path: str | os.PathLike, **options) -> xr.DataTree:
        """The file's groups as a DataTree; a file without groups becomes one group named ``data``."""
        path = Path(path)
        root = self.read(path)
        with open(path, "rb") as fh:
            fmt = netcdf_format(fh.read(4096))
        groups = _groups(path) if fmt == "NETCDF4" else []
        if not groups:
            return single_table_tree(root, "data")
        nodes = {"/": root}
        for group in groups:
            nodes[group] = _finish(_open(path, group)[0], path, fmt or "NETCDF4")
        return xr.DataTree.from_dict(nodes)

    def time_range(self, path: str | os.PathLike, **options) -> TimeRange:
        """First and last time of the root group (reads the file)."""
        ds = self.read(path)
        if "time" not in ds.coords or ds.sizes.get("time", 0) == 0:
            return no_records()
        return time_span(ds["time"].values, skip_nat=True)


register(NetcdfReader())


def read_netcdf(path: str | os.PathLike, table: str | None = None) -> xr.Dataset:
    """Read a netCDF file (see :class:`NetcdfReader`).

    Examples
    --------
    >>> ds = read_netcdf("bnfmetM1.b1.20250619.000000.cdf")  # doctest: +SKIP
    >>> str(ds["time"].dtype)  # doctest: +SKIP
    'datetime64[ns]'
    """
    return NetcdfReader().read(path, table=table)


__all__ = ["NetcdfReader", "ensure_time", "netcdf_format", "read_netcdf"]
