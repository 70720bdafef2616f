"""GEOMS (Generic Earth Observation Metadata Standard) reader: HDF4, HDF5 and netCDF-4 files.

GEOMS files (NDACC, TOLNet, EVDC) hold one measurement (profile series) per file: global attributes
``PI_*``, ``DO_*``, ``DS_*``, ``DATA_*`` and ``FILE_*``, and one dataset per variable with ``VAR_*``
attributes (``VAR_NAME``, ``VAR_DESCRIPTION``, ``VAR_DEPEND``, ``VAR_UNITS``, ``VAR_FILL_VALUE``,
``VAR_VALID_MIN/MAX``, ``VAR_SI_CONVERSION`` ...). The reader builds an :class:`xarray.Dataset` following the
reader contract (``docs/architecture.md``):

- global attributes -> ``attrs`` (plus ``file_format='geoms'``, ``geoms_container`` and ``source_file``);
- every variable keeps its GEOMS name (dots are valid in netCDF names) and all its ``VAR_*`` attributes;
  ``VAR_UNITS`` -> ``units``, ``VAR_DESCRIPTION`` -> ``long_name``;
- dimensions come from ``VAR_DEPEND`` (matched to the array shape by size); ``CONSTANT`` / ``INDEPENDENT``
  variables become scalars; variables that depend only on themselves (``ALTITUDE``) become coordinates;
- ``DATETIME`` (MJD2K: days since 2000-01-01T00:00:00 UTC) becomes the ``time`` coordinate and the
  ``DATETIME`` dimension is named ``time``; other MJD2K variables (``DATETIME.START/STOP``) become
  datetime64[ns] too;
- ``VAR_FILL_VALUE`` -> NaN (the value kept in ``encoding['_FillValue']``). Some files write one file-wide fill
  value (e.g. -90000) into a variable whose own ``VAR_FILL_VALUE`` differs (-9e19): with ``file_fill=True``
  (default) exact matches of the fill value shared by most variables are masked too, reported with a
  :class:`~crac_tools.errors.DataQualityWarning` and recorded in ``attrs['file_fill_value']``;
- character arrays (``VAR_DATA_TYPE = STRING``) become string variables.

HDF4 needs ``pyhdf``; HDF5 and netCDF-4 files are read with ``h5py`` (netCDF-4 is HDF5 underneath).

Examples
--------
>>> from crac_tools.formats.geoms import read_geoms
>>> ds = read_geoms("groundbased_lidar.o3_uah001_huntsville.al_20180904t175830z_20180904t190354z_001.hdf")
... # doctest: +SKIP
>>> ds["O3.MIXING.RATIO.VOLUME_DERIVED"].dims  # doctest: +SKIP
('ALTITUDE',)
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DataQualityWarning, ParseError, warn
from .common import safe_sniff, time_span
from .registry import TimeRange, register, single_table_tree
from .values import decode_text

HDF4_MAGIC = b"\x0e\x03\x13\x01"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: Global attributes that mark a GEOMS file: ``DATA_TEMPLATE`` alone, or two of the others.
GEOMS_KEYS = ("PI_NAME", "DATA_SOURCE", "DATA_VARIABLES", "FILE_META_VERSION")
#: The GEOMS time epoch (MJD2K day 0).
MJD2K_EPOCH = np.datetime64("2000-01-01T00:00:00", "ns")
_NS_PER_DAY = 86_400 * 10**9
_SCALAR_DEPEND = {"CONSTANT", "INDEPENDENT", ""}
_TIME_UNITS = {"MJD2K", "MJD2000"}
#: HDF5 / netCDF-4 bookkeeping attributes that are not GEOMS metadata.
_SKIP_ATTRS = {"CLASS", "NAME", "REFERENCE_LIST", "DIMENSION_LIST", "_Netcdf4Dimid", "_Netcdf4Coordinates",
               "_NCProperties", "_nc3_strict"}


def hdf5_signature(head: bytes) -> bool:
    """True when ``head`` starts with the HDF5 signature (at offset 0 or a 512/1024/2048 user block)."""
    return any(head[off:off + 8] == HDF5_MAGIC for off in (0, 512, 1024, 2048))


def is_geoms_attrs(keys: set[str]) -> bool:
    """True when a set of global attribute names marks a GEOMS file.

    Examples
    --------
    >>> is_geoms_attrs({"DATA_TEMPLATE"}), is_geoms_attrs({"PI_NAME", "DATA_SOURCE"}), is_geoms_attrs({"title"})
    (True, True, False)
    """
    return "DATA_TEMPLATE" in keys or sum(k in keys for k in GEOMS_KEYS) >= 2


def has_geoms_attributes(path: str | os.PathLike) -> bool:
    """True when the HDF5 / netCDF-4 file at ``path`` carries GEOMS global attributes; never raises."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return is_geoms_attrs(set(f.attrs.keys()))
    except Exception:  # noqa: BLE001 - a sniff never raises
        return False


def safe_attr(value: Any) -> Any:
    """An attribute value as a netCDF-safe ``str``, ``int``, ``float`` or 1-D numeric array (``None`` to drop).

    Examples
    --------
    >>> safe_attr(b"ppmv\\x00"), safe_attr(np.array([-90000.0])), safe_attr([1.0, 2.0])
    ('ppmv', -90000.0, array([1., 2.]))
    """
    if isinstance(value, bytes | np.bytes_):
        return decode_text(bytes(value))[0].rstrip("\x00")
    if isinstance(value, str):
        return value.rstrip("\x00")
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, np.generic):
        return value.item() if value.dtype.kind in "iuf" else safe_attr(value.item())
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple):
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SUO":
            items = [safe_attr(v) for v in value.ravel()]
            if not all(isinstance(v, str) for v in items):
                return None
            return items[0] if len(items) == 1 else ";".join(items)
        if value.dtype.kind == "b":
            value = value.astype(np.int8)
        if value.dtype.kind not in "iuf" or value.ndim > 1 and value.size != max(value.shape):
            return None
        value = value.ravel()
        return value[0].item() if value.size == 1 else value
    return None


@dataclass
class _RawVar:
    name: str
    data: np.ndarray
    attrs: dict[str, Any]


@dataclass
class _Raw:
    container: str
    attrs: dict[str, Any]
    variables: list[_RawVar] = field(default_factory=list)


def _read_hdf4(path: Path) -> _Raw:
    try:
        from pyhdf.error import HDF4Error
        from pyhdf.SD import SD, SDC
    except ImportError:
        raise ParseError(path, "reading GEOMS HDF4 files needs the pyhdf package (pip install pyhdf)") from None
    try:
        sd = SD(str(path), SDC.READ)
    except HDF4Error as exc:
        raise ParseError(path, f"cannot open the HDF4 file ({exc})", expected="an HDF4 SD file",
                         found="an unreadable or truncated file") from None
    try:
        raw = _Raw("HDF4", {k: safe_attr(v) for k, v in sd.attributes().items()})
        order = sorted(sd.datasets().items(), key=lambda kv: kv[1][3])
        for name, _info in order:
            sds = sd.select(name)
            try:
                data = np.asarray(sds.get())
                attrs = {k: safe_attr(v) for k, v in sds.attributes().items()}
            except HDF4Error as exc:
                raise ParseError(path, f"cannot read dataset {name!r} ({exc})", column=name,
                                 expected="readable SDS data", found="a read error") from None
            finally:
                sds.endaccess()
            raw.variables.append(_RawVar(name, data, attrs))
    finally:
        sd.end()
    return raw


def _read_hdf5(path: Path) -> _Raw:
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ParseError(path, f"cannot open the HDF5 file ({exc})", expected="an HDF5 / netCDF-4 file",
                         found="an unreadable or truncated file") from None
    with f:
        container = "netCDF-4" if "_NCProperties" in f.attrs or any(
            "DIMENSION_LIST" in d.attrs or d.attrs.get("CLASS") == b"DIMENSION_SCALE"
            for d in f.values() if isinstance(d, h5py.Dataset)) else "HDF5"
        raw = _Raw(container, {k: safe_attr(_h5attr(f.attrs, k)) for k in f.attrs if k not in _SKIP_ATTRS})
        for name, node in f.items():
            if not isinstance(node, h5py.Dataset):
                continue
            label = node.attrs.get("NAME")
            if isinstance(label, bytes) and label.startswith(b"This is a netCDF dimension but not a netCDF variable"):
                continue
            try:
                data = node[()]
            except (OSError, TypeError, ValueError) as exc:
                raise ParseError(path, f"cannot read dataset {name!r} ({exc})", column=name,
                                 expected="readable data", found="a read error") from None
            data = np.asarray(data)
            if data.dtype.kind == "O":
                data = np.array([decode_text(v)[0] if isinstance(v, bytes) else str(v) for v in data.ravel()],
                                dtype=object).reshape(data.shape).astype(str)
            attrs = {k: safe_attr(_h5attr(node.attrs, k)) for k in node.attrs if k not in _SKIP_ATTRS}
            raw.variables.append(_RawVar(name, data, attrs))
    return raw


def _h5attr(attrs: Any, key: str) -> Any:
    try:
        return attrs[key]
    except (OSError, TypeError, ValueError):  # unsupported attribute types (references, ...)
        return None


def _join_chars(data: np.ndarray) -> np.ndarray:
    """Collapse the last axis of a ``|S1`` character array into strings (blank-stripped)."""
    if data.dtype.kind == "S" and data.dtype.itemsize == 1 and data.ndim >= 1:
        joined = np.ascontiguousarray(data).view(f"S{data.shape[-1]}").reshape(data.shape[:-1])
        data = joined
    if data.dtype.kind == "S":
        data = np.char.decode(data, "latin-1")
    return np.char.strip(data.astype(str))


def mjd2k_to_datetime(days: np.ndarray, fill: float | None = None) -> np.ndarray:
    """MJD2K day numbers (days since 2000-01-01T00:00:00 UTC) -> datetime64[ns]; fill / NaN -> NaT.

    Whole days and the day fraction are converted separately, which keeps sub-microsecond precision.

    Examples
    --------
    >>> mjd2k_to_datetime(np.array([0.5, -90000.0]), fill=-90000.0)
    array(['2000-01-01T12:00:00.000000000',                           'NaT'],
          dtype='datetime64[ns]')
    """
    days = np.asarray(days, dtype=np.float64)
    bad = ~np.isfinite(days)
    if fill is not None:
        bad |= days == fill
    whole = np.floor(np.where(bad, 0.0, days))
    frac_ns = np.rint((np.where(bad, 0.0, days) - whole) * _NS_PER_DAY).astype(np.int64)
    ns = whole.astype(np.int64) * _NS_PER_DAY + frac_ns
    out = (MJD2K_EPOCH + ns.astype("timedelta64[ns]")).astype("datetime64[ns]")
    out[bad] = np.datetime64("NaT")
    return out


def _depend(attrs: dict[str, Any]) -> list[str]:
    text = attrs.get("VAR_DEPEND")
    if not isinstance(text, str):
        return []
    return [d.strip() for d in text.split(";") if d.strip()]


def _fill_of(attrs: dict[str, Any]) -> float | None:
    value = attrs.get("VAR_FILL_VALUE")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace("D", "E").replace("d", "e"))
        except ValueError:
            return None
    return None


def _match_dims(shape: tuple[int, ...], depend: list[str], sizes: dict[str, int]) -> tuple[str, ...] | None:
    """Dimension names for ``shape`` from ``depend`` (VAR_DEPEND), matched by size; ``None`` when impossible."""
    def fits(names: list[str]) -> bool:
        return len(names) == len(shape) and all(sizes.get(d, n) == n for d, n in zip(names, shape, strict=True))

    if fits(depend):
        return tuple(depend)
    if fits(depend[::-1]):
        return tuple(depend[::-1])
    kept = [d for d in depend if sizes.get(d) != 1]  # a length-1 dimension (one DATETIME) may be left out
    if kept != depend:
        if fits(kept):
            return tuple(kept)
        if fits(kept[::-1]):
            return tuple(kept[::-1])
    return None


def _shared_fill(variables: list[_RawVar]) -> float | None:
    """The ``VAR_FILL_VALUE`` used by more than half of the numeric variables, if any."""
    fills = [_fill_of(v.attrs) for v in variables if v.data.dtype.kind in "iuf"]
    counts = Counter(f for f in fills if f is not None)
    if not counts:
        return None
    value, n = counts.most_common(1)[0]
    return value if n * 2 > len(fills) else None


def _dims_of(var: _RawVar, sizes: dict[str, int], path: Path) -> tuple[tuple[str, ...], np.ndarray]:
    """Dimension names of a variable (``DATETIME`` -> ``time``) and its data (size-1 scalars reshaped)."""
    name, data = var.name, var.data
    dep = _depend(var.attrs)
    dims: tuple[str, ...] | None
    if not dep or len(dep) == 1 and dep[0].upper() in _SCALAR_DEPEND:
        dims, data = ((), data.reshape(())) if data.size == 1 else (None, data)
    else:
        dims = _match_dims(data.shape, dep, sizes)
    if dims is None:
        warn(DataQualityWarning, f"{path}: variable {name!r} has shape {data.shape} that does not match "
                                 f"VAR_DEPEND {';'.join(dep) or '(none)'}; generic dimension names used")
        base = name.replace("/", "_")
        dims = tuple(f"{base}_dim{i}" for i in range(data.ndim))
    return tuple("time" if d == "DATETIME" else d for d in dims), data


def _masked(var: _RawVar, data: np.ndarray, fill: float | None, shared: float | None,
            path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """``data`` with its fill values (and, for floats, the file-wide ``shared`` fill) set to NaN."""
    extra: dict[str, Any] = {}
    if data.dtype.kind not in "iuf":
        return data, extra
    mask = np.zeros(data.shape, dtype=bool)
    if fill is not None:
        mask |= data == np.asarray(fill).astype(data.dtype)
    if shared is not None and shared != fill and data.dtype.kind == "f":
        hits = data == np.asarray(shared).astype(data.dtype)
        if hits.any():
            warn(DataQualityWarning, f"{path}: {int(hits.sum())} value(s) of {var.name!r} equal the file-wide "
                                     f"fill value {shared:g} (its own VAR_FILL_VALUE is {fill}); read as NaN")
            extra["file_fill_value"] = shared
            mask |= hits
    if not mask.any():
        return data, extra
    values = data.astype(data.dtype if data.dtype.kind == "f" else np.float64, copy=True)
    values[mask] = np.nan
    return values, extra


def _variable(var: _RawVar, sizes: dict[str, int], shared: float | None, path: Path) -> xr.Variable:
    """One GEOMS variable as an :class:`xarray.Variable` (fill -> NaN, MJD2K -> datetime64, units/long_name)."""
    vattrs = dict(var.attrs)
    dims, data = _dims_of(var, sizes, path)
    fill = _fill_of(vattrs)
    units = vattrs.get("VAR_UNITS")
    units = units.strip() if isinstance(units, str) else ""
    attrs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if (units.upper() in _TIME_UNITS or var.name == "DATETIME") and data.dtype.kind in "iuf":  # GEOMS: MJD2K
        values = mjd2k_to_datetime(data, fill)  # no "units" attr: xarray encodes datetimes itself
    else:
        values, extra = _masked(var, data, fill, shared, path)
        if units:
            attrs["units"] = units
    desc = vattrs.get("VAR_DESCRIPTION")
    if isinstance(desc, str) and desc.strip():
        attrs["long_name"] = desc.strip()
    if var.name == "DATETIME":
        attrs = {"standard_name": "time", "long_name": attrs.get("long_name", "time"), "original_name": "DATETIME"}
    attrs.update(vattrs)
    attrs.update(extra)
    variable = xr.Variable(dims, values, attrs)
    if values.dtype.kind == "f":
        variable.encoding["_FillValue"] = np.nan if fill is None else np.asarray(fill).astype(values.dtype).item()
    return variable


def _prepare(raw: _Raw) -> list[_RawVar]:
    """Variables named by ``VAR_NAME``, container bookkeeping attributes dropped, char arrays joined."""
    out = []
    for var in raw.variables:
        attrs = {k: v for k, v in var.attrs.items() if v is not None}
        attrs.pop("_FillValue", None)  # HDF4 / netCDF copies of VAR_FILL_VALUE and VAR_UNITS
        units = attrs.pop("units", None)
        if not isinstance(attrs.get("VAR_UNITS"), str) and isinstance(units, str):
            attrs["VAR_UNITS"] = units
        name = attrs.get("VAR_NAME")
        name = (name if isinstance(name, str) and name.strip() else var.name).strip()
        data = _join_chars(var.data) if var.data.dtype.kind in "SU" else var.data
        out.append(_RawVar(name, data, attrs))
    return out


def _build(raw: _Raw, path: Path, file_fill: bool = True) -> xr.Dataset:
    attrs = {k: v for k, v in raw.attrs.items() if v is not None}
    if not is_geoms_attrs(set(attrs)):
        raise ParseError(path, "not a GEOMS file", expected="GEOMS global attributes (DATA_TEMPLATE, PI_NAME ...)",
                         found=", ".join(list(attrs)[:6]) or "no global attributes")
    variables = _prepare(raw)
    names = [v.name for v in variables]
    if "DATETIME" not in names:
        raise ParseError(path, "no DATETIME variable", expected="a DATETIME variable (MJD2K)",
                         found=", ".join(names[:6]) or "no variables")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ParseError(path, "duplicated variable", expected="unique VAR_NAME values", found=repr(dup))
    # sizes of the independent variables (those that depend on themselves, e.g. ALTITUDE)
    sizes = {v.name: int(v.data.size) for v in variables if _depend(v.attrs) == [v.name]}
    shared = _shared_fill(variables) if file_fill else None
    coords: dict[str, xr.Variable] = {}
    data_vars: dict[str, xr.Variable] = {}
    for var in variables:
        variable = _variable(var, sizes, shared, path)
        if var.name == "DATETIME":
            coords["time"] = variable.set_dims(("time",)) if variable.ndim == 0 else variable
        elif variable.dims == (var.name,):
            coords[var.name] = variable
        elif "/" in var.name:
            variable.attrs["original_name"] = var.name
            data_vars[var.name.replace("/", "_")] = variable
        else:
            data_vars[var.name] = variable
    attrs["file_format"] = "geoms"
    attrs["geoms_container"] = raw.container
    attrs["source_file"] = path.name
    try:
        return xr.Dataset(data_vars, coords=coords, attrs=attrs)
    except ValueError as exc:
        raise ParseError(path, f"inconsistent GEOMS dimensions ({exc})", expected="VAR_DEPEND sizes that agree",
                         found="conflicting sizes") from None


def _read_raw(path: Path) -> _Raw:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(HDF4_MAGIC):
        return _read_hdf4(path)
    if hdf5_signature(head):
        return _read_hdf5(path)
    raise ParseError(path, "not an HDF4 / HDF5 / netCDF-4 file", expected="the HDF4 or HDF5 signature",
                     found=repr(head[:8]))


class GeomsReader:
    """Reader for GEOMS files (HDF4, HDF5 and netCDF-4 containers; one table per file).

    Examples
    --------
    >>> GeomsReader().sniff(b"CDF\\x01", None)
    False
    """

    name = "geoms"
    multi_table = False

    @safe_sniff
    def sniff(self, head: bytes, path: Path | None) -> bool:
        """HDF4 files (with GEOMS attributes when pyhdf is installed) and HDF5 files with GEOMS attributes."""
        if head.startswith(HDF4_MAGIC):
            if path is None:
                return True
            try:
                from pyhdf.SD import SD, SDC
            except ImportError:
                return True  # nothing else reads HDF4: claim it, read() explains that pyhdf is needed
            sd = SD(str(path), SDC.READ)
            try:
                return is_geoms_attrs(set(sd.attributes()))
            finally:
                sd.end()
        if hdf5_signature(head) and path is not None:
            return has_geoms_attributes(path)
        return False

    def read(self, path: str | os.PathLike, table: str | None = None, file_fill: bool = True,
             **options) -> xr.Dataset:
        """Read a GEOMS file into an :class:`xarray.Dataset`.

        Parameters
        ----------
        path
            The GEOMS file (HDF4, HDF5 or netCDF-4).
        table
            Accepted for the reader protocol: ``None`` or the file's group name (``DATA_SOURCE``).
        file_fill
            Also read the fill value shared by most variables as missing in variables whose own
            ``VAR_FILL_VALUE`` differs (reported with a ``DataQualityWarning``).
        **options
            Accepted for the reader protocol; not used.

        Raises
        ------
        ParseError
            Unreadable container, no GEOMS attributes, no ``DATETIME`` variable, or ``table`` names another group.

        Examples
        --------
        >>> ds = GeomsReader().read("groundbased_lidar.o3_uah001_....hdf")  # doctest: +SKIP
        >>> ds["PRESSURE_INDEPENDENT"].attrs["units"]  # doctest: +SKIP
        'hPa'
        """
        path = Path(path)
        ds = _build(_read_raw(path), path, file_fill=file_fill)
        group = _group_name(ds)
        if table is not None and table != group:
            raise ParseError(path, f"the file holds one table {group!r}, not {table!r}",
                             expected=f"table {group!r}", found=f"table {table!r}")
        return ds

    def read_tree(self, path: str | os.PathLike, **options) -> xr.DataTree:
        """Read the file as a DataTree with one group named by ``DATA_SOURCE`` (``'geoms'`` when absent)."""
        ds = self.read(path, **options)
        return single_table_tree(ds, _group_name(ds))

    def time_range(self, path: str | os.PathLike, **options) -> TimeRange:
        """First and last ``DATETIME`` of the file (reads the file)."""
        ds = self.read(path, **options)
        return time_span(ds["time"].values, skip_nat=True)


def _group_name(ds: xr.Dataset) -> str:
    source = ds.attrs.get("DATA_SOURCE")
    if isinstance(source, str) and source.strip():
        return source.strip().replace("/", "_")
    return "geoms"


register(GeomsReader())


def read_geoms(path: str | os.PathLike, **options) -> xr.Dataset:
    """Read a GEOMS file (see :class:`GeomsReader`).

    Examples
    --------
    >>> ds = read_geoms("groundbased_lidar.o3_uah001_....hdf")  # doctest: +SKIP
    >>> str(ds["time"].values[0])  # doctest: +SKIP
    '2018-09-04T18:31:12.322560034'
    """
    return GeomsReader().read(path, **options)


__all__ = ["GeomsReader", "mjd2k_to_datetime", "read_geoms"]
