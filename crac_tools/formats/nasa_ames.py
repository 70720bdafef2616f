"""NASA Ames (Gaines & Hipskind 1998) reader, with the EBAS and NDACC flavours.

Supported File Format Indices (FFI): 1001, 1010, 1020, 2010, 2110, 2160, 2310, 3010 and 4010. The header is
parsed by :mod:`crac_tools.formats.ames_header`; the data block is read as one flat array of numbers
(:func:`~crac_tools.formats.ames_header.parse_flat`: pyarrow on the block translated to one number per line)
and reshaped by the counts from the header, so records that wrap over several lines cost nothing extra.
Only FFI 2160 (string independent and auxiliary variables, one per line) is read line by line.

Layout of the :class:`xarray.Dataset`:

- the unbounded (record) independent variable becomes ``time`` when its header line describes time
  (``... seconds ...``, ``UTC``, ``days from file reference point``, ``hours since 2005-01-01`` ...):
  ``time = DATE (header line 7) + value``; otherwise it becomes a dimension named by the file (e.g.
  ``Altitude`` for "Altitude (km)", units ``km``) and ``time`` is a scalar coordinate holding DATE;
- bounded independent variables (FFI 2010/3010/4010 from NX/NXDEF/DX; 2110/2160/2310 per record) become
  further dimensions; per-record values (2110, 2160, 2310) are put on the sorted union of all values when
  that grid is reasonably dense (at least a quarter filled), else on an index dimension ``<name>_index`` with
  the values as a 2-D coordinate;
- every primary variable one data variable (scale factor applied, missing values -> NaN with the declared
  value, scaled, in ``encoding["_FillValue"]``), auxiliary variables on the record dimension;
- ``units`` and ``long_name`` from "Name (units)" lines (EBAS: "name, units, Key=value, ...");
- header fields and comments -> global attributes: ``originator``, ``organization``, ``data_source``,
  ``mission``, ``file_volume``, ``number_of_volumes``, ``data_date``, ``revision_date``, ``data_interval``,
  ``ffi``, ``special_comments``, ``normal_comments`` and every ``Key: value`` comment line as its own attribute.

EBAS files (normal comment "Data definition: EBAS_1.1") take their short variable names from the last normal
comment line and give the end time as a second datetime variable ``end_time``. NDACC files (one extra line
before ``NLHEAD FFI``) keep that line in ``attrs["preamble"]``. ICARTT-style ``ULOD_FLAG`` / ``LLOD_FLAG``
comments are honoured as in :mod:`crac_tools.formats.icartt`.

Examples
--------
>>> from crac_tools.formats.nasa_ames import read_nasa_ames
>>> ds = read_nasa_ames("1001.na")  # doctest: +SKIP
>>> float(ds["Pressure"][0]), ds["Pressure"].attrs["units"]  # doctest: +SKIP
(1017.6, 'hPa')
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import DataQualityWarning, ParseError, TruncatedRecordWarning, warn
from .ames_header import (
    AmesHeader,
    AmesVar,
    Locator,
    TimeAxis,
    attr_key,
    check_monotonic,
    check_partial_last_line,
    header_attrs,
    iso_date,
    key_values,
    locate_first_line,
    parse_flat,
    parse_header,
    parse_rect,
    split_items,
    split_name,
    time_axis,
    to_float,
    trim_tail,
)
from .common import time_span
from .registry import TimeRange, register, single_table_tree
from .values import netcdf_name

#: ICARTT normal-comment keywords (ICARTT 1.1 and 2.0).
ICARTT_KEYWORDS = ("PI_CONTACT_INFO", "PLATFORM", "LOCATION", "ASSOCIATED_DATA", "INSTRUMENT_INFO", "DATA_INFO",
                   "UNCERTAINTY", "ULOD_FLAG", "ULOD_VALUE", "LLOD_FLAG", "LLOD_VALUE", "DM_CONTACT_INFO",
                   "PROJECT_INFO", "STIPULATIONS_ON_USE", "OTHER_COMMENTS", "REVISION")
#: Meanings of the ``<var>_flag`` variables made for ICARTT detection-limit flags.
FLAG_MEANINGS = "valid missing below_lower_detection_limit above_upper_detection_limit"
_ICARTT_KEY_RE = re.compile(r"R[A-Za-z0-9.]{1,4}|[A-Z][A-Z0-9_]*")
#: A per-record grid (union of bounded values) is used when at least this share of its cells hold data.
MIN_GRID_FILL = 0.25


# ------------------------------------------------------------------------------------------------------------
# metadata
# ------------------------------------------------------------------------------------------------------------


class _Meta:
    """Names, attributes and flags of one file, shared by the layout builders."""

    def __init__(self, h: AmesHeader, flavour: str) -> None:
        self.h = h
        self.flavour = flavour
        self.attrs = header_attrs(h, "icartt" if flavour == "icartt" else "nasa_ames")
        ncom = list(h.ncom)
        self.ebas = any(re.match(r"\s*Data definition\s*:\s*EBAS", line, re.I) for line in ncom)
        if self.ebas:
            self.attrs["data_flavour"] = "ebas"
        elif h.preamble is not None:
            self.attrs["data_flavour"] = "ndacc"
        self.short_names: list[str] | None = None
        icartt_like = flavour == "icartt" or any(line.startswith(("ULOD_FLAG", "PI_CONTACT_INFO")) for line in ncom)
        names_line = ncom[-1].strip() if ncom else ""
        tokens = split_items(names_line) if names_line else []
        expected = 1 + len(h.vars) + (len(h.aux) if h.ffi == 1010 else 0)
        if self.ebas and len(tokens) == expected and ":" not in names_line:
            self.short_names = tokens
        if (self.ebas or icartt_like) and len(tokens) >= 2 and ":" not in names_line:
            # the last normal comment line names the columns (ICARTT rule, EBAS short names)
            ncom = ncom[:-1]
            self.attrs["column_names"] = names_line
        if flavour == "icartt":
            pairs, free = key_values(ncom, is_key=lambda k: k in ICARTT_KEYWORDS or bool(_ICARTT_KEY_RE.fullmatch(k)),
                                     continuation_unindented=True)
        else:
            pairs, free = key_values(ncom)
        for key, value in pairs.items():
            name = attr_key(key)
            while name in self.attrs:
                name += "_comment"
            self.attrs[name] = value
        self.llod = self._flag_value(pairs.get("LLOD_FLAG"))
        self.ulod = self._flag_value(pairs.get("ULOD_FLAG"))
        self.lod_values: list[dict[str, float]] = [{} for _ in h.vars]
        for key, attr in (("LLOD_VALUE", "llod_value"), ("ULOD_VALUE", "ulod_value")):
            try:
                values = [to_float(t) for t in split_items((pairs.get(key) or "").split("\n")[0])]
            except ValueError:
                continue
            if len(values) == 1:
                values = values * len(h.vars)
            if len(values) == len(h.vars):
                for n, value in enumerate(values):
                    self.lod_values[n][attr] = value
        self.used: set[str] = set()
        self.commas = flavour == "icartt" or self.ebas
        self.icartt_v2 = flavour == "icartt" and (h.version or "").upper().startswith("V02")

    @staticmethod
    def _flag_value(text: str | None) -> float | None:
        if not text:
            return None
        items = split_items(text.split("\n")[0])
        try:
            values = {to_float(t) for t in items}
        except ValueError:
            return None
        return values.pop() if len(values) == 1 else None

    def unique(self, name: str, index: int, prefix: str = "var") -> str:
        new = netcdf_name(name, index, prefix)
        if new.lower() == "time":
            new = new + "_"
        return self._claim(new)

    def _claim(self, name: str) -> str:
        """``name``, or ``name_2``, ``name_3`` ... when taken; the result is marked as taken."""
        new, k = name, 2
        while new in self.used:
            new = f"{name}_{k}"
            k += 1
        self.used.add(new)
        return new

    def var_attrs(self, var: AmesVar) -> tuple[str, dict]:
        """(name in the file, attributes) of a variable line in this file's flavour."""
        raw = var.raw
        if self.flavour == "icartt" and "," not in raw and len(raw.split()) > 1:
            # whitespace ICARTT: short names have no blanks, so "name units [long name]"
            parts = raw.split(None, 2)
            attrs = {"units": parts[1], "long_name": parts[2] if len(parts) > 2 else parts[0]}
            return parts[0], attrs
        if self.icartt_v2:
            parts = [p.strip() for p in raw.split(",")]
            name, units = parts[0], (parts[1] if len(parts) > 1 and parts[1] else None)
            attrs: dict = {}
            if len(parts) > 2 and parts[2]:
                attrs["icartt_standard_name"] = parts[2]
            long_name = ", ".join(p for p in parts[3:] if p) or (parts[2] if len(parts) > 2 and parts[2] else name)
        else:
            name, units, extra = split_name(raw, commas=self.commas)
            attrs = {k: v for k, v in extra.items() if k != "description"}
            if self.ebas:
                long_name = raw
            else:
                long_name = extra.get("description") or raw or name
        if units:
            attrs["units"] = units
        attrs["long_name"] = long_name
        return name, attrs

    def x_attrs(self, s: int) -> tuple[str, dict, TimeAxis | None]:
        """(name, attrs, time axis or None) of independent variable ``s`` (1-based; NIV is the unbounded one)."""
        h = self.h
        raw = h.xnames[s - 1]
        name, attrs = self.var_attrs(AmesVar(raw=raw, name=raw, units=None, long_name=raw))
        if self.short_names and s == h.niv:
            name = self.short_names[0]
        axis = None
        if s == h.niv:
            axis = time_axis(raw, attrs.get("units"), h.date, force=self.flavour == "icartt")
        return name, attrs, axis

    def dim_name(self, name: str, attrs: dict, index: int) -> str:
        new = netcdf_name(name, index, "dim")
        if new.lower() == "time":
            unit = re.sub(r"\W+", "_", attrs.get("units", "")).strip("_")
            new = f"time_{unit}" if unit else "time_axis"
        return self._claim(new)


def _apply(raw: np.ndarray, var: AmesVar, meta: _Meta, llod_ulod: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Scaled values with missing (and ICARTT LLOD/ULOD) -> NaN, and a flag array when limits occur."""
    values = np.array(raw, dtype=np.float64, copy=True)
    flags = None
    miss = var.missing
    missing = values == miss if isinstance(miss, float) else np.zeros(values.shape, dtype=bool)
    if llod_ulod and (meta.llod is not None or meta.ulod is not None):
        below = values == meta.llod if meta.llod is not None else None
        above = values == meta.ulod if meta.ulod is not None else None
        if (below is not None and below.any()) or (above is not None and above.any()):
            flags = np.zeros(values.shape, dtype=np.int8)
            flags[missing | np.isnan(values)] = 1  # also cells a record does not fill (2110)
            if below is not None:
                flags[below] = 2
                missing |= below
            if above is not None:
                flags[above] = 3
                missing |= above
    if var.scale != 1.0:
        values *= var.scale
    values[missing] = np.nan
    return values, flags


class _Builder:
    """Collects variables and coordinates, then makes the Dataset."""

    def __init__(self, meta: _Meta) -> None:
        self.meta = meta
        self.data_vars: dict[str, xr.Variable] = {}
        self.coords: dict[str, xr.Variable] = {}

    def add_var(self, var: AmesVar, index: int, dims: tuple[str, ...], raw: np.ndarray, prefix: str = "var",
                name_override: str | None = None) -> str:
        meta = self.meta
        file_name, attrs = meta.var_attrs(var)
        if name_override:
            file_name = name_override
        name = meta.unique(file_name, index, prefix)
        if name != file_name:
            attrs["original_name"] = file_name
        values, flags = _apply(raw, var, meta)
        if var.scale != 1.0:
            attrs["applied_scale_factor"] = float(var.scale)
        if prefix == "var" and index < len(meta.lod_values):
            attrs.update(meta.lod_values[index])
        v = xr.Variable(dims, values, attrs)
        if isinstance(var.missing, float):
            v.encoding["_FillValue"] = float(var.missing * var.scale)
        else:
            v.encoding["_FillValue"] = np.nan
        self.data_vars[name] = v
        if flags is not None:
            fname = meta.unique(f"{name}_flag", index)
            fattrs = {"long_name": f"missing and detection-limit flags of {name}",
                      "flag_values": np.array([0, 1, 2, 3], dtype=np.int8), "flag_meanings": FLAG_MEANINGS}
            if meta.llod is not None:
                fattrs["llod_flag"] = float(meta.llod)
            if meta.ulod is not None:
                fattrs["ulod_flag"] = float(meta.ulod)
            self.data_vars[fname] = xr.Variable(dims, flags, fattrs)
            v.attrs["ancillary_variables"] = fname
        return name

    def add_time_var(self, var: AmesVar, index: int, dims: tuple[str, ...], raw: np.ndarray, axis: TimeAxis,
                     name_override: str | None = None) -> None:
        """A dependent variable that holds times in the unit of the independent one (EBAS end_time)."""
        meta = self.meta
        file_name, attrs = meta.var_attrs(var)
        file_name = name_override or file_name
        name = meta.unique(file_name, index)
        values = np.array(raw, dtype=np.float64)
        if isinstance(var.missing, float):
            values[values == var.missing] = np.nan
        units = attrs.pop("units", None)
        if units:
            attrs["original_units"] = units
        if name != file_name:
            attrs["original_name"] = file_name
        self.data_vars[name] = xr.Variable(dims, axis.convert(values * var.scale), attrs)

    def time_coord(self, dim: str, name: str, attrs: dict, axis: TimeAxis, values: np.ndarray) -> np.ndarray:
        times = axis.convert(values)
        cattrs = {"standard_name": "time", "long_name": "time", "original_name": name}
        if "units" in attrs:
            cattrs["original_units"] = attrs["units"]
        if attrs.get("long_name") and attrs["long_name"] != name:
            cattrs["description"] = attrs["long_name"]
        self.coords["time"] = xr.Variable((dim,), times, cattrs)
        return times

    def scalar_time(self) -> None:
        h = self.meta.h
        self.coords["time"] = xr.Variable((), np.datetime64(iso_date(h.date), "ns"),
                                          {"standard_name": "time", "long_name": "time",
                                           "description": "date of the data (header line 7)"})

    def x_coord(self, s: int, values: np.ndarray) -> str:
        """Coordinate for a non-time independent variable; returns its dimension name."""
        name, attrs, _ = self.meta.x_attrs(s)
        dim = self.meta.dim_name(name, attrs, s - 1)
        if dim != name:
            attrs["original_name"] = name
        self.coords[dim] = xr.Variable((dim,), np.asarray(values, dtype=np.float64), attrs)
        return dim

    def dataset(self) -> xr.Dataset:
        return xr.Dataset(self.data_vars, coords=self.coords, attrs=self.meta.attrs)


# ------------------------------------------------------------------------------------------------------------
# layouts
# ------------------------------------------------------------------------------------------------------------


def _record_block(flat: np.ndarray, recsize: int, data: memoryview, h: AmesHeader,
                  lines_per_record: bool) -> np.ndarray:
    """Reshape a flat block into records of ``recsize`` values.

    A partial last record that starts on a line of its own (and, for one-record-per-line FFI 1001, is that
    last line) is left out with a :class:`~crac_tools.errors.TruncatedRecordWarning`; any other count is a
    ParseError naming the first line whose number of values is wrong (FFI 1001) or where the partial record
    starts."""
    rem = flat.size % recsize
    if rem == 0:
        return flat.reshape(-1, recsize)
    path = h.path
    loc = Locator(data, h.data_line)
    start = flat.size - rem
    line, col, _ = loc.token(start)
    last_line = loc.token(flat.size - 1)[0]
    if col == 1 and (not lines_per_record or line == last_line):
        warn(TruncatedRecordWarning, f"{path}, line {line}: truncated last record left out "
                                     f"(expected {recsize} values, found {rem})")
        return flat[:start].reshape(-1, recsize)
    if lines_per_record:
        for i, text in enumerate(bytes(data).split(b"\n")):
            n = len(split_items(text.decode("latin-1")))
            if n and n != recsize:
                raise ParseError(path, "wrong number of values", line=h.data_line + i,
                                 expected=f"{recsize} values per record", found=f"{n}")
    raise ParseError(path, "wrong number of values: the data do not split into whole records", line=line,
                     expected=f"a multiple of {recsize} values", found=f"{flat.size} values")


def _column_namer(names: list[str], recsize: int):
    def column_of(k: int) -> str | None:
        j = k % recsize
        return names[j] if j < len(names) else None
    return column_of


def _read_fixed(meta: _Meta, raw: bytes, start: int, end: int, use_threads: bool) -> xr.Dataset:
    """FFI 1001, 1010, 1020, 2010, 3010, 4010: records of a fixed number of values."""
    h = meta.h
    nv, na = len(h.vars), len(h.aux)
    bounded = [int(n) for n in h.nx] if h.ffi in (2010, 3010, 4010) else []
    per_var = h.nvpm if h.ffi == 1020 else int(np.prod(bounded)) if bounded else 1
    recsize = 1 + na + nv * per_var
    xname0 = meta.x_attrs(h.niv)[0]
    names = [xname0] + [a.name for a in h.aux] + [v.name for v in h.vars]
    data = memoryview(raw)[start:end]
    if h.ffi == 1001 and h.delimiter == "," and meta.flavour == "icartt":
        end = check_partial_last_line(raw, start, end, recsize, h.path, h.data_line, comma=True)
        data = memoryview(raw)[start:end]
        rec = parse_rect(data, names, h.path, h.data_line, use_threads)
        rec_lines = True
    else:
        rec_lines = False
        flat = parse_flat(data, h.path, h.data_line,
                          _column_namer(names, recsize) if per_var == 1 else None, use_threads)
        rec = _record_block(flat, recsize, data, h, lines_per_record=h.ffi == 1001)
    nrec = rec.shape[0]
    b = _Builder(meta)
    x = rec[:, 0]
    xname, xattrs, axis = meta.x_attrs(h.niv)

    def line_of(i: int) -> int:
        if rec_lines:
            return Locator(data, h.data_line).row(i + 1)
        return Locator(data, h.data_line).token(i * recsize)[0]

    if h.ffi == 1020:
        # NVPM values per record at X + j * DX
        dx = h.dx[0]
        xfull = (x[:, None] + dx * np.arange(h.nvpm)[None, :]).ravel()
        if axis is not None:
            times = b.time_coord("time", xname, xattrs, axis, xfull)
            check_monotonic(times, h.path)
            dim = "time"
        else:
            dim = b.x_coord(h.niv, xfull)
            b.scalar_time()
        for a, av in enumerate(h.aux):
            col = np.full((nrec, h.nvpm), np.nan)  # given at the first X of each record only
            col[:, 0] = rec[:, 1 + a]
            b.add_var(av, a, (dim,), col.ravel(), prefix="aux")
        for n, v in enumerate(h.vars):
            block = rec[:, 1 + na + n * h.nvpm: 1 + na + (n + 1) * h.nvpm].ravel()
            b.add_var(v, n, (dim,), block)
        return b.dataset()

    if axis is not None:
        times = b.time_coord("time", xname, xattrs, axis, x)
        check_monotonic(times, h.path, line_of)
        rdim = "time"
    else:
        rdim = b.x_coord(h.niv, x)
        b.scalar_time()
    dims: tuple[str, ...] = (rdim,)
    if bounded:
        # X(s) for s = NIV-1 .. 1 (X1 varies fastest): values from NXDEF / DX
        bdims = []
        for s in range(h.niv - 1, 0, -1):
            nx, nxdef, xdef = h.nx[s - 1], h.nxdef[s - 1], h.xdef[s - 1]
            if nxdef == nx:
                xs = np.asarray(xdef, dtype=np.float64)
            else:
                xs = xdef[0] + h.dx[s - 1] * np.arange(nx)
            bdims.append(b.x_coord(s, xs))
        dims = (rdim, *bdims)
    shape = (nrec, *reversed(bounded)) if bounded else (nrec,)
    ebas_time = meta.ebas and axis is not None
    for a, av in enumerate(h.aux):
        b.add_var(av, a, (rdim,), rec[:, 1 + a], prefix="aux")
    for n, v in enumerate(h.vars):
        block = rec[:, 1 + na + n * per_var: 1 + na + (n + 1) * per_var].reshape(shape)
        override = meta.short_names[1 + n] if meta.short_names else None
        if ebas_time and n == 0 and (override or v.name).lower() in ("end_time", "endtime"):
            b.add_time_var(v, n, dims, block, axis, override)
            continue
        b.add_var(v, n, dims, block, name_override=override)
    return b.dataset()


def _is_count(x: float) -> bool:
    """True for a finite non-negative integral value (a number of bounded values NX)."""
    return bool(np.isfinite(x) and x >= 0 and x == int(x))


def _grid(rec_id: np.ndarray, x1: np.ndarray, pos: np.ndarray, nrec: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Target cells for ragged per-record values: (column index, column coordinate values or 2-D values).

    The union of values is used when it is dense enough and no value repeats within a record; otherwise the
    position within the record."""
    finite = x1[np.isfinite(x1)]
    union = np.unique(finite)
    if union.size and nrec * union.size <= max(x1.size, 1) / MIN_GRID_FILL and np.isfinite(x1).all():
        col = np.searchsorted(union, x1)
        key = rec_id * union.size + col
        if np.unique(key).size == key.size:
            return col, union
    return pos, None


def _ragged(meta: _Meta, b: _Builder, rdim: str, nrec: int, rec_id: np.ndarray, pos: np.ndarray, x1: np.ndarray,
            vals: np.ndarray) -> None:
    """Put ragged (record, position) values of the bounded variable X1 and the primaries on a grid."""
    h = meta.h
    maxn = int(pos.max()) + 1 if pos.size else 0
    col, union = _grid(rec_id, x1, pos, nrec)
    name, attrs, _ = meta.x_attrs(1)
    if union is not None:
        dim = meta.dim_name(name, attrs, 0)
        if dim != name:
            attrs["original_name"] = name
        b.coords[dim] = xr.Variable((dim,), union, attrs)
        ncol = union.size
    else:
        dim = meta.dim_name(f"{name}_index", {}, 0)
        ncol = maxn
        grid = np.full((nrec, ncol), np.nan)
        grid[rec_id, col] = x1
        cname = meta.dim_name(name, attrs, 0)
        if cname != name:
            attrs["original_name"] = name
        b.coords[cname] = xr.Variable((rdim, dim), grid, attrs)
        b.coords[dim] = xr.Variable((dim,), np.arange(ncol, dtype=np.int32), {"long_name": f"position of {name}"})
    for n, v in enumerate(h.vars):
        grid = np.full((nrec, ncol), np.nan)
        grid[rec_id, col] = vals[:, n]
        # cells without data stay NaN; missing values are compared on the raw values in place
        b.add_var(v, n, (rdim, dim), grid)


def _read_ragged(meta: _Meta, raw: bytes, start: int, end: int, use_threads: bool) -> xr.Dataset:
    """FFI 2110 and 2310: NX (first auxiliary variable) values of X1 per record."""
    h = meta.h
    nv, na = len(h.vars), len(h.aux)
    data = memoryview(raw)[start:end]
    flat = parse_flat(data, h.path, h.data_line, None, use_threads)
    head = 1 + na
    per = (1 + nv) if h.ffi == 2110 else nv
    starts: list[int] = []
    total = flat.size
    # fast path: the same NX in every record
    nx0 = flat[1] if total > 1 else 0
    if total and _is_count(nx0):
        stride = head + int(nx0) * per
        if total % stride == 0 and np.all(flat[1::stride] == nx0):
            starts = list(range(0, total, stride))
    if not starts and total:
        p = 0
        while p < total:
            if p + head > total:
                break
            nx = flat[p + 1]
            if not _is_count(nx):
                line, col, tok = Locator(data, h.data_line).token(p + 1)
                raise ParseError(h.path, "bad number of bounded values (first auxiliary variable)", line=line,
                                 column=h.aux[0].name, expected="a count >= 0", found=repr(tok))
            if p + head + int(nx) * per > total:
                break
            starts.append(p)
            p += head + int(nx) * per
        if p < total:
            line, col, _ = Locator(data, h.data_line).token(p)
            if col != 1:
                raise ParseError(h.path, "wrong number of values: the last record is incomplete", line=line,
                                 expected="complete records", found=f"{total - p} values left over")
            warn(TruncatedRecordWarning, f"{h.path}, line {line}: truncated last record left out "
                                         f"({total - p} values)")
    st = np.asarray(starts, dtype=np.int64)
    nrec = st.size
    x2 = flat[st] if nrec else np.empty(0)
    auxv = flat[st[:, None] + 1 + np.arange(na)[None, :]] if nrec else np.empty((0, na))
    nxs = auxv[:, 0].astype(np.int64) if nrec else np.empty(0, dtype=np.int64)
    rec_id = np.repeat(np.arange(nrec), nxs)
    first = np.repeat(np.cumsum(nxs) - nxs, nxs)
    pos = np.arange(rec_id.size) - first
    body = np.repeat(st + head, nxs)
    b = _Builder(meta)
    xname, xattrs, axis = meta.x_attrs(h.niv)
    if axis is not None:
        times = b.time_coord("time", xname, xattrs, axis, x2)
        check_monotonic(times, h.path, lambda i: Locator(data, h.data_line).token(int(st[i]))[0])
        rdim = "time"
    else:
        rdim = b.x_coord(h.niv, x2)
        b.scalar_time()
    for a, av in enumerate(h.aux):
        b.add_var(av, a, (rdim,), auxv[:, a], prefix="aux")
    if h.ffi == 2110:
        idx = body + pos * per
        x1 = flat[idx]
        vals = flat[idx[:, None] + 1 + np.arange(nv)[None, :]]
    else:
        a_start = auxv[:, 1] * h.aux[1].scale
        a_step = auxv[:, 2] * h.aux[2].scale
        x1 = np.repeat(a_start, nxs) + pos * np.repeat(a_step, nxs)
        nxr = np.repeat(nxs, nxs)
        vals = flat[body[:, None] + np.arange(nv)[None, :] * nxr[:, None] + pos[:, None]]
    _ragged(meta, b, rdim, nrec, rec_id, pos, x1, vals)
    return b.dataset()


def _read_2160(meta: _Meta, raw: bytes, start: int, end: int) -> xr.Dataset:
    """FFI 2160: a string unbounded variable and string auxiliary variables, read line by line."""
    h = meta.h
    path = h.path
    nv, na, nc = len(h.vars), len(h.aux), h.nauxc
    nnum = na - nc
    text = raw[start:end].decode(h.encoding, errors="replace").split("\n")
    lines = [ln.rstrip("\r") for ln in text]
    i = 0
    n_lines = len(lines)
    x2: list[str] = []
    anum: list[list[float]] = []
    astr: list[list[str]] = []
    rec_id: list[int] = []
    pos: list[int] = []
    x1: list[float] = []
    vals: list[list[float]] = []

    def numbers(count: int, what: str) -> list[float] | None:
        nonlocal i
        out: list[float] = []
        while len(out) < count:
            if i >= n_lines:
                return None
            for tok in split_items(lines[i]):
                try:
                    out.append(to_float(tok))
                except ValueError:
                    raise ParseError(path, "not a number", line=h.data_line + i, column=what,
                                     expected="a number", found=repr(tok)) from None
            i += 1
        if len(out) > count:
            raise ParseError(path, "wrong number of values", line=h.data_line + i - 1, column=what,
                             expected=f"{count} values", found=f"{len(out)}")
        return out

    while i < n_lines:
        if not lines[i].strip():
            i += 1
            continue
        rec_line = h.data_line + i
        name = lines[i].strip()
        i += 1
        aux = numbers(nnum, "auxiliary variables")
        strs = lines[i:i + nc] if aux is not None and i + nc <= n_lines else None
        if aux is not None and strs is not None:
            i += nc
            nx = aux[0]
            if not _is_count(nx):
                raise ParseError(path, "bad number of bounded values", line=h.data_line + i - nc - 1,
                                 column=h.aux[0].name, expected="a count >= 0", found=repr(nx))
            body = []
            ok = True
            for _ in range(int(nx)):
                row = numbers(1 + nv, "a bounded record")
                if row is None:
                    ok = False
                    break
                body.append(row)
            if ok:
                r = len(x2)
                x2.append(name)
                anum.append(aux)
                astr.append([s.strip() for s in strs])
                for j, row in enumerate(body):
                    rec_id.append(r)
                    pos.append(j)
                    x1.append(row[0])
                    vals.append(row[1:])
                continue
        warn(TruncatedRecordWarning, f"{path}, line {rec_line}: truncated last record left out")
        break
    nrec = len(x2)
    b = _Builder(meta)
    name2, attrs2, _ = meta.x_attrs(h.niv)
    rdim = meta.dim_name(name2, attrs2, h.niv - 1)
    if rdim != name2:
        attrs2["original_name"] = name2
    b.coords[rdim] = xr.Variable((rdim,), np.array(x2, dtype=object), attrs2)
    b.scalar_time()
    anum_arr = np.asarray(anum, dtype=np.float64).reshape(nrec, nnum)
    for a in range(nnum):
        b.add_var(h.aux[a], a, (rdim,), anum_arr[:, a], prefix="aux")
    for c in range(nc):
        av = h.aux[nnum + c]
        file_name, attrs = meta.var_attrs(av)
        vname = meta.unique(file_name, nnum + c, "aux")
        if vname != file_name:
            attrs["original_name"] = file_name
        if isinstance(av.missing, str):
            attrs["missing_value_string"] = av.missing
        b.data_vars[vname] = xr.Variable((rdim,), np.array([s[c] for s in astr], dtype=object), attrs)
    _ragged(meta, b, rdim, nrec, np.asarray(rec_id, dtype=np.int64), np.asarray(pos, dtype=np.int64),
            np.asarray(x1, dtype=np.float64), np.asarray(vals, dtype=np.float64).reshape(len(vals), nv))
    return b.dataset()


def read_ames(path: str | os.PathLike, flavour: str = "nasa_ames", use_threads: bool = False,
              raw: bytes | None = None) -> xr.Dataset:
    """Read a NASA Ames (``flavour="nasa_ames"``) or ICARTT (``"icartt"``) file into a Dataset.

    Raises
    ------
    ParseError
        Bad or truncated header, non-numbers in the data, wrong number of values, time going backwards.
    """
    path = Path(path)
    if raw is None:
        raw = path.read_bytes()
    h = parse_header(raw, path, icartt=flavour == "icartt")
    meta = _Meta(h, flavour)
    try:
        return _read_data(meta, raw, use_threads)
    except ParseError:
        if h.struct_data_line == h.data_line:
            raise
        nl_line, nl_offset = h.data_line, h.data_offset
        h.data_line, h.data_offset = h.struct_data_line, h.struct_data_offset
        try:
            ds = _read_data(_Meta(h, flavour), raw, use_threads)
        except ParseError:
            h.data_line, h.data_offset = nl_line, nl_offset
            raise
        warn(DataQualityWarning, f"{path}: the data could not be read after NLHEAD lines (line {nl_line}) and "
                                 f"were read after the header structure (line {h.data_line})")
        return ds


def _read_data(meta: _Meta, raw: bytes, use_threads: bool) -> xr.Dataset:
    h = meta.h
    start = h.data_offset
    end = trim_tail(raw, start, h.path)
    if h.ffi in (2110, 2310):
        return _read_ragged(meta, raw, start, end, use_threads)
    if h.ffi == 2160:
        return _read_2160(meta, raw, start, end)
    return _read_fixed(meta, raw, start, end, use_threads)


def sniff_ames(head: bytes) -> tuple[int, int, str] | None:
    """``(FFI, line of NLHEAD FFI, delimiter)`` when ``head`` starts like a NASA Ames / ICARTT file; never raises.

    Besides the first line ``NLHEAD FFI`` it checks line 6 (two volume numbers) and line 7 (two dates).

    Examples
    --------
    >>> sniff_ames(b"25 1001\\nA\\nB\\nC\\nD\\n1 1\\n2000 9 20 2003 4 10\\n")
    (1001, 1, ' ')
    >>> sniff_ames(b"TOA5,x\\n") is None
    True
    """
    try:
        where = locate_first_line(head)
        if where is None:
            return None
        line_no, nlhead, ffi, rest = where
        lines = head.split(b"\n")
        if len(lines) < line_no + 7:
            return None
        first = lines[line_no - 1].decode("latin-1")
        if nlhead < 15 or (rest and not re.fullmatch(r"[A-Za-z0-9_.]{1,20}", rest.strip(" ,"))):
            return None  # ICARTT 2.0 may add a version such as 'V02_2016' after the FFI; nothing else
        vol = split_items(lines[line_no + 4].decode("latin-1"))
        dates = split_items(lines[line_no + 5].decode("latin-1"))
        if len(vol) != 2 or not all(v.isdigit() for v in vol):
            return None
        if len(dates) < 6 or not all(d.isdigit() for d in dates[:6]):
            return None
        y, m, d = int(dates[0]), int(dates[1]), int(dates[2])
        if not (1900 <= y <= 2200 and 1 <= m <= 12 and 1 <= d <= 31):
            return None
        return ffi, line_no, "," if "," in first else " "
    except Exception:  # noqa: BLE001 - sniffing never raises
        return None


class NasaAmesReader:
    """Reader for NASA Ames files (FFIs 1001-4010, EBAS and NDACC flavours).

    Examples
    --------
    >>> NasaAmesReader().sniff(b"25 1001\\nA\\nB\\nC\\nD\\n1 1\\n2000 9 20 2003 4 10\\n", None)
    True
    >>> NasaAmesReader().sniff(b"25, 1001\\nA\\nB\\nC\\nD\\n1, 1\\n2000, 9, 20, 2003, 4, 10\\n", None)
    False
    """

    name = "nasa_ames"
    multi_table = False

    def sniff(self, head: bytes, path: Path | None) -> bool:
        """True for a NASA Ames header; comma-separated ICARTT headers (FFI 1001/2110/2310) are left to the
        ICARTT reader, which is tried first."""
        got = sniff_ames(head)
        if got is None:
            return False
        ffi, _, delim = got
        return not (delim == "," and ffi in (1001, 2110, 2310))

    def read(self, path: str | os.PathLike, table: str | None = None, use_threads: bool = False,
             **options) -> xr.Dataset:
        """Read a NASA Ames file into an :class:`xarray.Dataset`.

        Parameters
        ----------
        path
            The file.
        table
            Accepted for the reader protocol: NASA Ames files hold one table (``"data"``).
        use_threads
            Let pyarrow use several threads.
        **options
            Accepted for the reader protocol; not used.

        Raises
        ------
        ParseError
            Bad or truncated header, a non-number, a wrong number of values, time going backwards.

        Examples
        --------
        >>> ds = NasaAmesReader().read("2010.na")  # doctest: +SKIP
        >>> dict(ds.sizes)  # doctest: +SKIP
        {'Altitude': 5, 'Latitude': 9}
        """
        path = Path(path)
        if table not in (None, "data"):
            raise ParseError(path, f"NASA Ames files hold one table 'data', not {table!r}")
        return read_ames(path, "nasa_ames", use_threads)

    def read_tree(self, path: str | os.PathLike, **options) -> xr.DataTree:
        """The file as a DataTree with one group ``data``."""
        return single_table_tree(self.read(path, **options), "data")

    def time_range(self, path: str | os.PathLike, **options) -> TimeRange:
        """First and last time (reads the file)."""
        return time_span(self.read(path, **options)["time"].values)


register(NasaAmesReader())


def read_nasa_ames(path: str | os.PathLike) -> xr.Dataset:
    """Read a NASA Ames file (see :class:`NasaAmesReader`).

    Examples
    --------
    >>> ds = read_nasa_ames("1010.na")  # doctest: +SKIP
    >>> ds.sizes["Altitude"]  # doctest: +SKIP
    19
    """
    return NasaAmesReader().read(path)
