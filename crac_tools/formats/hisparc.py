"""HiSPARC cosmic-ray station data: PyTables HDF5 files and the TSV exports of the public database.

HDF5 (written by the HiSPARC datastore, the public database and SAPPHIRE with PyTables) comes in two
layouts: the datastore / public-database layout ``/hisparc/cluster_*/station_*/{events,singles,weather,...}``
(or ``/s501/...``) beside a ``blobs`` VLArray of compressed traces, and the event-summary (ESD) layout with the
tables at any level (``/events``, ``/singles``, ``/weather``, ``/lightning`` ...). Every PyTables table becomes
one group of :meth:`HisparcReader.read_tree`, at the table's own HDF5 path; ``read(path, table=...)`` reads one
table by path or by its (unique) name. Tables are read with :mod:`h5py` in one vectorised call per table: the
``timestamp`` columns use the HDF5 TIME class (PyTables ``Time32Col`` / ``Time64Col``) that h5py cannot convert,
so the rows are read as raw bytes and viewed with a structured dtype built from the file's compound type.
PyTables itself is not used, and no attribute is ever unpickled (PyTables stores some attributes as pickles;
those are skipped). Blosc-compressed tables need :mod:`hdf5plugin` (imported when present).

The TSV exports (``events-s501-20120101.tsv``, ``weather-...tsv``) have a ``#`` header documenting each column
(``name (4x): description [unit]``), tab-separated rows and a trailing ``# Finished downloading.`` line.

Time: HiSPARC ``timestamp`` values count GPS seconds since 1970-01-01 (GPS time, no leap seconds). ``time`` is
``timestamp`` (+ ``nanoseconds`` where the table has them) converted to UTC by subtracting GPS-UTC from the
leap-second table :data:`LEAP_SECONDS` (the same convention as HiSPARC's SAPPHIRE ``gps_to_utc``: the offset of
a date applies from that date's 00:00:00 in the GPS-based count). ``time_scale="gps"`` keeps GPS time. The raw
``timestamp`` and ``nanoseconds`` columns stay as integer variables. Multi-valued columns (``pulseheights``
(N, 4) ...) get a ``detector`` dimension (1-4); in the TSV exports they are flat ``name_1`` ... ``name_4``
columns, as the file names them. ``-999`` (HiSPARC's "no data / analysis failed" value) becomes NaN in
floating columns (``encoding['_FillValue'] = -999``); ``-1`` ("no detector 3/4", but also a valid temperature)
is kept.

Examples
--------
>>> from crac_tools.formats.hisparc import read_hisparc_tree
>>> tree = read_hisparc_tree("publicdb_esd_2017_1_1.h5")  # doctest: +SKIP
>>> sorted(n.name for n in tree.leaves)  # doctest: +SKIP
['events', 'singles', 'weather']
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import xarray as xr

from ..errors import ParseError, TruncatedRecordWarning, warn
from .common import no_records, safe_sniff
from .geoms import hdf5_signature, safe_attr
from .registry import TimeRange, register
from .values import decode_text

#: GPS - UTC (seconds) from each date on (IERS Bulletin C; no leap second announced after 2017-01-01).
LEAP_SECONDS = (
    ("1981-07-01", 1), ("1982-07-01", 2), ("1983-07-01", 3), ("1985-07-01", 4), ("1988-01-01", 5),
    ("1990-01-01", 6), ("1991-01-01", 7), ("1992-07-01", 8), ("1993-07-01", 9), ("1994-07-01", 10),
    ("1996-01-01", 11), ("1997-07-01", 12), ("1999-01-01", 13), ("2006-01-01", 14), ("2009-01-01", 15),
    ("2012-07-01", 16), ("2015-07-01", 17), ("2017-01-01", 18),
)
_LEAP_STARTS = np.array([np.datetime64(d, "s").astype(np.int64) for d, _ in LEAP_SECONDS])
_LEAP_OFFSETS = np.array([0] + [n for _, n in LEAP_SECONDS], dtype=np.int64)
#: The value HiSPARC writes for "no data" (masked to NaN in floating columns).
SENTINEL = -999.0
_TSV_MARK = b"This data contains the following columns"
_DOC_RE = re.compile(r"#\s*([A-Za-z_][\w.]*)\s*(?:\((\d+)x\))?\s*:\s*(.*?)\s*$")
_UNIT_RE = re.compile(r"^(.*?)\s*\[([^\]]*)\]$")
_STATION_RE = re.compile(r"#\s*Station:\s*\((\d+)\)\s*(.*?)\s*$")
_PERIOD_RE = re.compile(r"#\s*Data taken from (.+?) to (.+?)\s*$")
_VALUES_RE = re.compile(r"Values? of (.+?) (?:for|indicate)", re.S)
_STRING_COLUMNS = {"date", "time"}
_INT_COLUMNS = {"timestamp", "nanoseconds", "ext_timestamp", "event_id"}
#: Units and descriptions of well-known HiSPARC table columns (from the public-database TSV headers).
COLUMN_INFO: dict[str, tuple[str | None, str]] = {
    "timestamp": ("s", "GPS-based unix timestamp (seconds since 1970-01-01 in GPS time)"),
    "nanoseconds": ("ns", "nanoseconds after timestamp"),
    "ext_timestamp": ("ns", "GPS-based unix timestamp in nanoseconds"),
    "pulseheights": ("ADC", "maximum signal pulseheight"),
    "integrals": ("ADC.sample", "integral of the signal"),
    "baseline": ("ADC", "signal baseline"),
    "std_dev": ("ADC", "standard deviation of the baseline"),
    "n_peaks": (None, "number of peaks in the signal"),
    "t_trigger": ("ns", "relative time of the trigger timestamp"),
    "temp_inside": ("deg C", "temperature inside"),
    "temp_outside": ("deg C", "temperature outside"),
    "humidity_inside": ("%", "relative humidity of the air inside"),
    "humidity_outside": ("%", "relative humidity of the air"),
    "barometer": ("hPa", "barometer data"),
    "wind_dir": ("deg", "wind direction"),
    "wind_speed": ("m/s", "wind speed"),
    "solar_rad": ("W/m/m", "intensity of solar radiation"),
    "uv": ("0-16", "measurement for UV intensity"),
    "evapotranspiration": ("mm", "amount of evaporated and transpirated water"),
    "rain_rate": ("mm/h", "amount of rainfall"),
    "heat_index": ("deg C", "perceived temperature taking humidity into account"),
    "dew_point": ("deg C", "dew point"),
    "wind_chill": ("deg C", "perceived temperature taking wind into account"),
}
for _k in range(1, 5):
    COLUMN_INFO[f"n{_k}"] = (None, f"estimate for the number of particles in detector {_k}")
    COLUMN_INFO[f"t{_k}"] = ("ns", f"relative time of arrival of the first particle in detector {_k}")


# ------------------------------------------------------------------------------------------------ time

def gps_to_utc(seconds: np.ndarray, nanoseconds: np.ndarray | None = None,
               time_scale: str = "utc") -> tuple[np.ndarray, np.ndarray]:
    """GPS-based unix seconds (+ nanoseconds) -> (datetime64[ns] UTC, GPS-UTC offset in seconds).

    Integer seconds are converted exactly; float seconds (``Time64Col``) are rounded to the nanosecond.

    Examples
    --------
    >>> t, off = gps_to_utc(np.array([1483228806]), np.array([377192541]))
    >>> str(t[0]), int(off[0])
    ('2016-12-31T23:59:48.377192541', 18)
    """
    seconds = np.asarray(seconds)
    if seconds.dtype.kind == "f":
        whole = np.floor(seconds)
        ns = whole.astype(np.int64) * 10**9 + np.rint((seconds - whole) * 1e9).astype(np.int64)
        secs = whole.astype(np.int64)
    else:
        secs = seconds.astype(np.int64)
        ns = secs * 10**9
    if nanoseconds is not None:
        ns = ns + np.asarray(nanoseconds).astype(np.int64)
    if time_scale == "gps":
        offset = np.zeros(secs.shape, dtype=np.int64)
    elif time_scale == "utc":
        offset = _LEAP_OFFSETS[np.searchsorted(_LEAP_STARTS, secs, side="right")]
    else:
        raise ValueError(f"time_scale must be 'utc' or 'gps', not {time_scale!r}")
    return (ns - offset * 10**9).astype("datetime64[ns]"), offset


def _time_coord(seconds: np.ndarray, nanoseconds: np.ndarray | None, time_scale: str) -> xr.Variable:
    values, offset = gps_to_utc(seconds, nanoseconds, time_scale)
    source = "timestamp + nanoseconds" if nanoseconds is not None else "timestamp"
    attrs: dict[str, Any] = {"standard_name": "time", "long_name": "time", "original_name": "timestamp"}
    if time_scale == "utc":
        attrs["time_scale"] = "UTC"
        attrs["comment"] = (f"HiSPARC GPS-based {source} converted to UTC (GPS - UTC leap seconds removed, "
                            "SAPPHIRE gps_to_utc convention)")
        if offset.size and offset.min() == offset.max():
            attrs["gps_minus_utc"] = int(offset[0])
    else:
        attrs["time_scale"] = "GPS"
        attrs["comment"] = f"HiSPARC GPS-based {source} (GPS time scale: not UTC, leap seconds not removed)"
    return xr.Variable(("time",), values, attrs)


# ------------------------------------------------------------------------------------------------ HDF5

def _is_pytables_root(attrs: Any) -> bool:
    keys = set(attrs.keys())
    if "PYTABLES_FORMAT_VERSION" in keys:
        return True
    cls = attrs.get("CLASS") if "CLASS" in keys else None
    return cls in (b"GROUP", "GROUP") and "TITLE" in keys and "VERSION" in keys


def is_pytables(path: str | os.PathLike) -> bool:
    """True when ``path`` is an HDF5 file written by PyTables (root ``CLASS='GROUP'``, ``PYTABLES_FORMAT_VERSION``).

    Never raises.
    """
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return _is_pytables_root(f.attrs)
    except Exception:  # noqa: BLE001 - used by sniffers
        return False


def _is_table(obj: Any) -> bool:
    import h5py

    if not isinstance(obj, h5py.Dataset) or obj.id.get_type().get_class() != h5py.h5t.COMPOUND:
        return False
    return obj.attrs.get("CLASS") in (b"TABLE", "TABLE")


def _table_fields(obj: Any) -> set[str]:
    t = obj.id.get_type()
    return {t.get_member_name(i).decode("utf-8", "replace") for i in range(t.get_nmembers())}


def is_hisparc_hdf5(path: str | os.PathLike) -> bool:
    """True when ``path`` is a PyTables file with a HiSPARC table (``event_id`` and ``timestamp`` columns).

    Never raises.
    """
    try:
        import h5py

        with h5py.File(path, "r") as f:
            if not _is_pytables_root(f.attrs):
                return False

            def visit(_name: str, obj: Any) -> bool | None:
                if _is_table(obj) and {"event_id", "timestamp"} <= _table_fields(obj):
                    return True
                return None

            return bool(f.visititems(visit))
    except Exception:  # noqa: BLE001 - a sniff never raises
        return False


def _looks_pickled(value: Any) -> bool:
    """True for PyTables pickled attribute values (never unpickled: they are skipped)."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "S" and value.size == 1:
        value = value.ravel()[0]
    if isinstance(value, str):
        value = value.encode("latin-1", "replace")
    if not isinstance(value, bytes | np.bytes_):
        return False
    raw = bytes(value)
    return raw.startswith(b"\x80") or (raw.endswith(b".") and raw[:1] in b"(cIFSVNL]}ld" and b"\n" in raw)


def _attrs_of(node: Any, skip: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in node.attrs:
        if key in skip or re.match(r"FIELD_\d+_(FILL|NAME)\Z", key):
            continue
        try:
            value = node.attrs[key]
        except (OSError, TypeError, ValueError):
            continue
        if _looks_pickled(value):
            continue
        value = safe_attr(value)
        if value is not None:
            out[key] = value
    return out


_SYSTEM_ATTRS = {"CLASS", "VERSION", "FILTERS", "NROWS", "PYTABLES_FORMAT_VERSION", "EXTDIM", "PSEUDOATOM",
                 "AUTO_INDEX", "FILTERS_INDEX", "DIRTY"}


def _member_dtype(mtype: Any) -> np.dtype:
    """numpy dtype of one compound member; HDF5 TIME members as int32 (Time32) / float64 (Time64)."""
    import h5py

    cls = mtype.get_class()
    if cls == h5py.h5t.TIME:
        big = mtype in (h5py.h5t.UNIX_D32BE, h5py.h5t.UNIX_D64BE)
        base = "i4" if mtype.get_size() == 4 else "f8"
        return np.dtype((">" if big else "<") + base)
    if cls == h5py.h5t.BITFIELD and mtype.get_size() == 1:
        return np.dtype(np.bool_)  # PyTables BoolCol
    if cls == h5py.h5t.ARRAY:
        return np.dtype((_member_dtype(mtype.get_super()), tuple(mtype.get_array_dims())))
    return mtype.dtype


def read_table_array(dset: Any) -> np.ndarray:
    """All rows of a PyTables table dataset as a structured numpy array (one raw read, TIME columns as numbers)."""
    import h5py

    ftype = dset.id.get_type()
    names, formats, offsets = [], [], []
    for i in range(ftype.get_nmembers()):
        names.append(ftype.get_member_name(i).decode("utf-8", "replace"))
        formats.append(_member_dtype(ftype.get_member_type(i)))
        offsets.append(ftype.get_member_offset(i))
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": ftype.get_size()})
    buf = np.empty(dset.shape, dtype=np.dtype((np.void, ftype.get_size())))
    if buf.size:
        dset.id.read(h5py.h5s.ALL, h5py.h5s.ALL, buf, mtype=ftype)
    return buf.view(dtype)


def _column(values: np.ndarray, name: str, mask_sentinels: bool) -> xr.Variable:
    values = np.ascontiguousarray(values)
    if values.dtype.byteorder not in "=|":
        values = values.astype(values.dtype.newbyteorder("="))
    dims: tuple[str, ...] = ("time",)
    if values.ndim > 1:
        dims += tuple("detector" if values.shape[1:] == (4,) else f"{name}_dim{i}"
                      for i in range(1, values.ndim))
    if values.dtype.kind == "S":
        values = np.char.decode(values, "utf-8", "replace")
    attrs: dict[str, Any] = {}
    units, long_name = COLUMN_INFO.get(name, (None, ""))
    if units:
        attrs["units"] = units
    if long_name:
        attrs["long_name"] = long_name
    var = xr.Variable(dims, values, attrs)
    if values.dtype.kind == "f" and mask_sentinels:
        bad = values == SENTINEL
        if bad.any():
            var = var.copy(data=np.where(bad, np.nan, values).astype(values.dtype))
        var.encoding["_FillValue"] = SENTINEL
    return var


def _decode_traces(blobs: np.ndarray, index: np.ndarray) -> np.ndarray:
    """zlib-compressed comma-separated traces referenced by ``index`` (events x detectors) -> float32 array."""
    traces: dict[int, np.ndarray] = {}
    for i in np.unique(index[index >= 0]):
        raw = bytes(np.asarray(blobs[i], dtype=np.uint8))
        text = zlib.decompress(raw).strip(b", \r\n")
        traces[int(i)] = np.array(text.split(b","), dtype=np.float32) if text else np.empty(0, np.float32)
    length = max((t.size for t in traces.values()), default=0)
    out = np.full(index.shape + (length,), np.nan, dtype=np.float32)
    for pos in zip(*np.nonzero(index >= 0), strict=True):
        trace = traces[int(index[pos])]
        out[pos + (slice(0, trace.size),)] = trace
    return out


def _table_dataset(path: Path, hpath: str, dset: Any, time_scale: str, mask_sentinels: bool,
                   traces: bool) -> xr.Dataset:
    rows = read_table_array(dset)
    fields = list(rows.dtype.names or ())
    data_vars: dict[str, xr.Variable] = {}
    coords: dict[str, xr.Variable] = {}
    if "timestamp" in fields:
        nanos = rows["nanoseconds"] if "nanoseconds" in fields else None
        coords["time"] = _time_coord(rows["timestamp"], nanos, time_scale)
    for name in fields:
        var = _column(rows[name], name, mask_sentinels)
        if "timestamp" not in fields:
            var = var.rename({"time": "row"})
        new = "time_" if name == "time" else name
        if new != name:
            var.attrs["original_name"] = name
        data_vars[new] = var
    if traces and "traces" in fields:
        parent = dset.parent
        if "blobs" in parent:
            blobs = parent["blobs"][()]
            data_vars["trace"] = xr.Variable(("time", "detector", "sample"),
                                             _decode_traces(blobs, rows["traces"]),
                                             {"units": "ADC", "long_name": "detector signal trace (from blobs)"})
    if any("detector" in v.dims for v in data_vars.values()):
        coords["detector"] = xr.Variable(("detector",), np.arange(1, 5, dtype=np.int32))
    attrs = {"file_format": "hisparc", "source_file": path.name, "table": hpath}
    attrs.update({k.lower(): v for k, v in _attrs_of(dset, _SYSTEM_ATTRS).items()})
    station = re.search(r"(?:station_|/s)(\d+)(?:/|$)", hpath)
    if station:
        attrs["station_number"] = int(station.group(1))
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _open_h5(path: Path) -> Any:
    import h5py

    try:
        import hdf5plugin  # noqa: F401 - registers the blosc / bitshuffle filters with HDF5
    except ImportError:
        pass
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ParseError(path, f"cannot open the HDF5 file ({exc})", expected="a PyTables HDF5 file",
                         found="an unreadable or truncated file") from None


def _table_paths(f: Any) -> list[str]:
    found: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if _is_table(obj):
            found.append("/" + name)

    f.visititems(visit)
    return found


def _select(path: Path, tables: list[str], table: str | None) -> str:
    if not tables:
        raise ParseError(path, "no PyTables table in the file", expected="events / singles / weather tables",
                         found="none")
    if table is None:
        if len(tables) == 1:
            return tables[0]
        raise ParseError(path, f"the file holds {len(tables)} tables, pass table= one of: {', '.join(tables)}",
                         expected="table=<one of the tables>", found="table=None")
    want = "/" + table.strip("/")
    hits = [t for t in tables if t == want] or [t for t in tables if t.endswith(want)]
    if len(hits) == 1:
        return hits[0]
    what = "several tables match" if hits else "no such table"
    raise ParseError(path, f"{what}: {table!r} (tables: {', '.join(hits or tables)})",
                     expected="a table path or a unique table name", found=repr(table))


def _read_h5(path: Path, table: str | None, time_scale: str, mask_sentinels: bool, traces: bool) -> xr.Dataset:
    with _open_h5(path) as f:
        hpath = _select(path, _table_paths(f), table)
        return _table_error(path, hpath, lambda: _table_dataset(path, hpath, f[hpath], time_scale, mask_sentinels,
                                                                traces))


def _table_error(path: Path, hpath: str, fn: Any) -> Any:
    try:
        return fn()
    except (OSError, ValueError, TypeError, zlib.error) as exc:
        if isinstance(exc, ParseError):
            raise
        hint = " (blosc-compressed tables need the hdf5plugin package)" if "filter" in str(exc).lower() else ""
        raise ParseError(path, f"cannot read table {hpath} ({exc}){hint}", column=hpath,
                         expected="a readable PyTables table", found="a read error") from None


def _read_h5_tree(path: Path, time_scale: str, mask_sentinels: bool, traces: bool) -> xr.DataTree:
    with _open_h5(path) as f:
        tables = _table_paths(f)
        if not tables:
            _select(path, tables, None)
        groups: dict[str, xr.Dataset] = {}
        for hpath in tables:
            groups[hpath] = _table_error(
                path, hpath, lambda hp=hpath: _table_dataset(path, hp, f[hp], time_scale, mask_sentinels, traces))
        root_attrs = {"file_format": "hisparc", "source_file": path.name}
        root_attrs.update({k.lower(): v for k, v in _attrs_of(f, _SYSTEM_ATTRS).items()})
        skipped = []

        def visit(name: str, obj: Any) -> None:
            if hasattr(obj, "shape") and "/" + name not in groups:
                skipped.append("/" + name)

        f.visititems(visit)
        if skipped:
            root_attrs["skipped_nodes"] = ", ".join(skipped)
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs=root_attrs), **groups})


# ------------------------------------------------------------------------------------------------ TSV

@dataclass
class _TsvHeader:
    attrs: dict[str, Any]
    columns: list[tuple[str, str, str | None, int]]  # (name, description, unit, multiplicity)
    n_lines: int
    data_start: int
    sentinels: set[float]


def _tsv_header(raw: bytes, path: Path) -> _TsvHeader:
    pos, lines = 0, []
    while pos < len(raw) and raw.startswith(b"#", pos):
        nl = raw.find(b"\n", pos)
        end = len(raw) if nl < 0 else nl
        lines.append(decode_text(raw[pos:end])[0].rstrip("\r"))
        pos = end + 1 if nl >= 0 else len(raw)
    if not lines:
        raise ParseError(path, "not a HiSPARC TSV export", line=1, expected="a '#' header",
                         found=repr(decode_text(raw[:40])[0]))
    attrs: dict[str, Any] = {"title": lines[0].lstrip("#").strip()}
    columns: list[tuple[str, str, str | None, int]] = []
    in_columns, done = False, False
    comment: list[str] = []
    for lineno, line in enumerate(lines, start=1):
        body = line.lstrip("#").strip()
        if _TSV_MARK.decode() in line:
            in_columns = True
            continue
        if in_columns and not done:
            if not body:
                done = bool(columns)
                continue
            m = _DOC_RE.match(line)
            if not m:
                raise ParseError(path, "bad column description", line=lineno,
                                 expected="'# name: description [unit]'", found=repr(line[:60]))
            name, mult, text = m.group(1), int(m.group(2) or 1), m.group(3)
            unit_m = _UNIT_RE.match(text)
            desc, unit = (unit_m.group(1), unit_m.group(2)) if unit_m else (text, None)
            if any(c[0] == name for c in columns):
                raise ParseError(path, "duplicated column name", line=lineno, expected="unique column names",
                                 found=repr(name))
            columns.append((name, desc, unit, mult))
            continue
        if m := _STATION_RE.match(line):
            attrs["station_number"] = int(m.group(1))
            attrs["station_name"] = m.group(2)
        elif m := _PERIOD_RE.match(line):
            attrs["data_start"], attrs["data_end"] = m.group(1), m.group(2)
        elif "licensed" in body:
            attrs["license"] = body
        elif done and body:
            comment.append(body)
    if not columns:
        raise ParseError(path, "no column descriptions in the header", line=len(lines),
                         expected=f"'# {_TSV_MARK.decode()}:' and one line per column", found="none")
    sentinels: set[float] = set()
    if comment:
        attrs["comment"] = " ".join(comment)
        for m in _VALUES_RE.finditer(attrs["comment"]):
            sentinels |= {float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", m.group(1))}
    return _TsvHeader(attrs, columns, len(lines), pos, sentinels)


def _line_of_row(data: bytes, row: int, first_line: int) -> int:
    """File line of the ``row``-th (1-based) non-empty data line."""
    lines = data.split(b"\n")
    nonempty = [i for i, ln in enumerate(lines) if ln.strip(b"\r")]
    return first_line + nonempty[min(row, len(nonempty)) - 1] if nonempty else first_line


def _table_name(title: str) -> str:
    """``'Event Summary Data - Weather'`` -> ``'weather'``; ``'Event Summary Data'`` -> ``'events'``."""
    if " - " in title:
        return re.sub(r"\W+", "_", title.rsplit(" - ", 1)[1].strip().lower()).strip("_") or "events"
    return "events"


def _read_tsv(path: Path, time_scale: str, mask_sentinels: bool) -> xr.Dataset:
    raw = path.read_bytes()
    header = _tsv_header(raw, path)
    names: list[str] = []
    info: list[tuple[str, str, str | None, int | None]] = []
    for name, desc, unit, mult in header.columns:
        for k in range(1, mult + 1):
            names.append(f"{name}_{k}" if mult > 1 else name)
            info.append((name, desc, unit, k if mult > 1 else None))
    if "timestamp" not in names:
        raise ParseError(path, "no timestamp column", line=header.n_lines, expected="a 'timestamp' column",
                         found=", ".join(names[:6]))
    # data: after the header, before the trailing '#' comment lines
    start, end = header.data_start, len(raw)
    trailer = False
    while True:
        cut = start + len(raw[start:end].rstrip(b"\r\n \t"))
        line_start = raw.rfind(b"\n", start, cut) + 1 or start
        if cut > start and raw.startswith(b"#", line_start):
            end, trailer = line_start, True
            continue
        end = cut
        break
    first_line = header.n_lines + 1
    ncol = len(names)
    truncated: list[int] = []
    terminated = trailer or raw[end:].startswith((b"\n", b"\r\n"))
    if end > start and not terminated:
        nl = raw.rfind(b"\n", start, end)
        last = raw[nl + 1:end]
        nfields = last.count(b"\t") + 1
        if nfields != ncol:
            line = first_line + raw.count(b"\n", start, nl + 1) if nl >= 0 else first_line
            warn(TruncatedRecordWarning, f"{path}, line {line}: truncated last line left out "
                                         f"(expected {ncol} fields, found {nfields})")
            truncated.append(line)
            end = nl + 1 if nl >= 0 else start
    data = raw[start:end]
    types = {n: pa.string() if n in _STRING_COLUMNS else pa.int64() if n in _INT_COLUMNS else pa.float64()
             for n in names}
    try:
        tab = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pacsv.ConvertOptions(column_types=types))
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        row = re.search(r"Row #(\d+)", msg)
        line = _line_of_row(data, int(row.group(1)), first_line) if row else None
        fields = re.search(r"Expected (\d+) columns, got (\d+)", msg)
        if fields:
            raise ParseError(path, "wrong number of fields", line=line, expected=f"{fields.group(1)} tab-separated "
                             "fields", found=fields.group(2)) from None
        conv = re.search(r"column #(\d+).*invalid value '(.*)'", msg, re.S)
        if conv:
            raise ParseError(path, "bad value", line=line, column=names[int(conv.group(1))], expected="a number",
                             found=repr(conv.group(2))) from None
        raise ParseError(path, f"cannot parse the data ({msg})", line=line) from None
    except pa.ArrowException as exc:
        raise ParseError(path, f"cannot parse the data ({exc})", line=first_line) from None
    seconds = tab.column("timestamp").to_numpy(zero_copy_only=False)
    nanos = tab.column("nanoseconds").to_numpy(zero_copy_only=False) if "nanoseconds" in names else None
    if seconds.dtype.kind == "f" or (nanos is not None and nanos.dtype.kind == "f"):
        raise ParseError(path, "empty timestamp", line=first_line, column="timestamp", expected="an integer",
                         found="an empty field")
    time = _time_coord(seconds, nanos, time_scale)
    back = np.flatnonzero(np.diff(time.values.astype(np.int64)) < 0)
    if back.size:
        line = _line_of_row(data, int(back[0]) + 2, first_line)
        raise ParseError(path, "time goes backwards", line=line, column="timestamp",
                         expected=f"a time >= {time.values[back[0]]}", found=str(time.values[back[0] + 1]))
    masked = {SENTINEL} & header.sentinels if mask_sentinels else set()
    data_vars: dict[str, xr.Variable] = {}
    for name, (base, desc, unit, k) in zip(names, info, strict=True):
        if name in _STRING_COLUMNS:
            continue  # GPS date / time of day: the same instant as timestamp (see the time coordinate)
        values = tab.column(name).to_numpy(zero_copy_only=False)
        attrs: dict[str, Any] = {}
        if unit:
            attrs["units"] = unit
        attrs["long_name"] = desc if k is None else f"{desc} (detector {k})"
        if k is not None:
            attrs["original_name"] = base
        var = xr.Variable(("time",), values, attrs)
        if values.dtype.kind == "f":
            for s in masked:
                values = np.where(values == s, np.nan, values)
            var = var.copy(data=values)
            var.encoding["_FillValue"] = SENTINEL if masked else np.nan
        data_vars[name] = var
    attrs = dict(header.attrs)
    attrs.update({"file_format": "hisparc", "source_file": path.name, "table": _table_name(attrs["title"])})
    if truncated:
        attrs["truncated_lines"] = ",".join(map(str, truncated))
    return xr.Dataset(data_vars, coords={"time": time}, attrs=attrs)


def _is_tsv(head: bytes) -> bool:
    return head.startswith(b"#") and _TSV_MARK in head and (
        head.startswith(b"# Event Summary Data") or b"HiSPARC" in head)


# ------------------------------------------------------------------------------------------------ reader

class HisparcReader:
    """Reader for HiSPARC PyTables HDF5 files (several tables) and TSV exports (one table).

    Examples
    --------
    >>> HisparcReader().sniff(b"# Event Summary Data\\n#\\n# This data contains the following columns:\\n", None)
    True
    >>> HisparcReader().sniff(b"# some other file\\n", None)
    False
    """

    name = "hisparc"
    multi_table = True

    @safe_sniff
    def sniff(self, head: bytes, path: Path | None) -> bool:
        """TSV exports by their header text; PyTables HDF5 files holding a table with event_id and timestamp."""
        if _is_tsv(head):
            return True
        return bool(hdf5_signature(head) and path is not None and is_hisparc_hdf5(path))

    def read(self, path: str | os.PathLike, table: str | None = None, time_scale: str = "utc",
             mask_sentinels: bool = True, traces: bool = False, **options) -> xr.Dataset:
        """Read one table of a HiSPARC file into an :class:`xarray.Dataset`.

        Parameters
        ----------
        path
            A HiSPARC HDF5 file or TSV export.
        table
            HDF5: the table's path (``/hisparc/cluster_amsterdam/station_501/events``) or a unique name
            (``events``); required when the file holds several tables. TSV: ``None`` or the export's table name.
        time_scale
            ``"utc"`` (default) converts the GPS-based timestamps to UTC; ``"gps"`` keeps GPS time.
        mask_sentinels
            Read -999 in floating columns as NaN (default).
        traces
            Datastore layout: decode the ``traces`` column's blobs into a ``trace`` (time, detector, sample)
            variable (slow: one zlib stream per trace).
        **options
            Accepted for the reader protocol; not used.

        Raises
        ------
        ParseError
            Several tables and no ``table=`` (the message lists them), unknown table, unreadable file, bad TSV
            header / field count / number, time going backwards in a TSV export.

        Examples
        --------
        >>> ds = HisparcReader().read("sapphire_publicdb.h5", table="events")  # doctest: +SKIP
        >>> ds["pulseheights"].dims  # doctest: +SKIP
        ('time', 'detector')
        """
        path = Path(path)
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if hdf5_signature(head):
            return _read_h5(path, table, time_scale, mask_sentinels, traces)
        ds = _read_tsv(path, time_scale, mask_sentinels)
        if table is not None and table != ds.attrs["table"]:
            raise ParseError(path, f"the file holds table {ds.attrs['table']!r}, not {table!r}", line=1,
                             expected=f"table {ds.attrs['table']!r}", found=f"table {table!r}")
        return ds

    def read_tree(self, path: str | os.PathLike, time_scale: str = "utc", mask_sentinels: bool = True,
                  traces: bool = False, **options) -> xr.DataTree:
        """Every table as a DataTree group at its HDF5 path (TSV: one group named by the table).

        Examples
        --------
        >>> tree = HisparcReader().read_tree("sapphire_esd_load_data.h5")  # doctest: +SKIP
        >>> sorted(tree.children)  # doctest: +SKIP
        ['events', 'lightning', 'singles', 'weather']
        """
        path = Path(path)
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if hdf5_signature(head):
            return _read_h5_tree(path, time_scale, mask_sentinels, traces)
        ds = _read_tsv(path, time_scale, mask_sentinels)
        return xr.DataTree.from_dict({ds.attrs["table"]: ds}, name=None)

    def time_range(self, path: str | os.PathLike, **options) -> TimeRange:
        """First and last time over all tables (reads the file); ``n`` only for single-table files."""
        tree = self.read_tree(path, **options)
        firsts, lasts, counts = [], [], []
        for node in tree.subtree:
            if "time" in node.dataset.dims and node.dataset.sizes["time"]:
                t = node.dataset["time"].values
                firsts.append(t.min())
                lasts.append(t.max())
                counts.append(t.size)
        if not firsts:
            return no_records()
        return TimeRange(min(firsts), max(lasts), n=counts[0] if len(counts) == 1 else None)


register(HisparcReader())


def read_hisparc(path: str | os.PathLike, table: str | None = None, **options) -> xr.Dataset:
    """Read one HiSPARC table (see :meth:`HisparcReader.read`).

    Examples
    --------
    >>> ds = read_hisparc("weather-s501-20120101.tsv")  # doctest: +SKIP
    >>> ds["temperature_outside"].attrs["units"]  # doctest: +SKIP
    'deg C'
    """
    return HisparcReader().read(path, table=table, **options)


def read_hisparc_tree(path: str | os.PathLike, **options) -> xr.DataTree:
    """Read every HiSPARC table (see :meth:`HisparcReader.read_tree`)."""
    return HisparcReader().read_tree(path, **options)


__all__ = ["LEAP_SECONDS", "HisparcReader", "gps_to_utc", "is_hisparc_hdf5", "is_pytables", "read_hisparc",
           "read_hisparc_tree", "read_table_array"]
