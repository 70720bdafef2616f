"""Generic header-then-table text reader (``table``), the last resort of content sniffing.

Reads delimited text tables of many origins: a header of some kind (``KEY = value`` lines with
``REMARKS`` and ``##END OF HEADER##`` as in UCAR/JOSS INDOEX files, NOAA GML ``# header_lines : N`` with
``var:attr : value`` lines, ``#`` comment blocks, Onset HOBO CSV exports with a ``Plot Title`` line and
quoted ``"Temp, °C (LGR S/N: ...)"`` names, or plain prose before a column-name line), then rows separated by
commas, tabs, semicolons, pipes, runs of blanks, or in fixed-width columns. Date and time may be one text
column or be assembled from several columns (year month day hour minute, year + day-of-year, HHMM,
dd.mm.yyyy ...); files that name no columns get their date/time columns found from the values and the
other columns named ``col_<n>`` (n = 1-based position in the line).

The layout is found by :mod:`.table_sniff`, the data parsed by :mod:`.table_parse` (pyarrow / numpy, no
per-row Python loop) and the time built by :mod:`.table_time`. A :class:`TableSpec` (or a dict with its
fields, passed as ``spec=`` or as reader options) fixes what sniffing cannot know: column names, units,
time columns and format, UTC offset, missing tokens, delimiter, header lines.

Missing values: only what the file declares (a ``MISSING ...`` / ``_FillValue`` / ``missing_value`` header
line, a sentence such as "missing values are -9999"), what the spec declares, and the documented
conventions of the file families in :mod:`.table_known` become NaN. ``NaN``/``nan``/``inf`` spellings are
read as the IEEE values. An empty field has no value and becomes NaN; unless the file type documents that,
a :class:`~crac_tools.errors.DataQualityWarning` says so. A common sentinel (-999, -9999.9, ...) that nobody
declared is kept as a number, with a warning.

Examples
--------
>>> import crac_tools as crac
>>> ds = crac.read("met_brw_insitu_1_obop_hour_2020.txt")  # doctest: +SKIP
>>> ds.attrs["time_source"]  # doctest: +SKIP
'Y M D h'
>>> ds = crac.read("odd.txt", format="table", spec={"delimiter": ";", "time_columns": ["Datum", "Zeit"],
...                                                  "time_format": "%d.%m.%Y %H:%M", "utc_offset": "+01:00"})
... # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xarray as xr

from ..errors import DataQualityWarning, ParseError, warn
from . import table_time as tt
from .common import safe_sniff, time_span
from .registry import TimeRange, register, single_table_tree
from .table_parse import parse_data
from .table_sniff import FIXED, HEAD_BYTES, WHITESPACE, detect_layout, is_number, looks_tabular
from .values import as_float, as_int

#: Values often used as "missing" without saying so; reported (not replaced) when undeclared.
COMMON_SENTINELS = (-99.9, -99.99, -999.0, -999.9, -999.99, -9999.0, -9999.9, -99999.0, 9999.0, 99999.0, 9999.9)
_DELIM_ALIASES = {"whitespace": WHITESPACE, "space": WHITESPACE, "spaces": WHITESPACE, "ws": WHITESPACE,
                  " ": WHITESPACE, "\\s+": WHITESPACE, "tab": "\t", "\t": "\t", "comma": ",", ",": ",",
                  "semicolon": ";", ";": ";", "pipe": "|", "|": "|", "fixed": FIXED, "fixed-width": FIXED}
_UNIT_STOP = frozenset({"max", "min", "avg", "mean", "std", "sd", "total", "sum", "inst", "median", "raw"})
_HOBO_NAME = re.compile(r"^(?P<n>[^,(]+?)\s*(?:,\s*(?P<u>[^(]*?))?\s*(?:\((?P<info>[^)]*)\))?\s*$")
_BRACKET_UNITS = re.compile(r"^(?P<n>.+?)\s*[(\[](?P<u>[^)\]]{1,25})[)\]]\s*$")
_SAMPLE_ROWS = 5000
_TZ_KEYS = ("time_zone", "timezone", "utc_offset", "tz", "time_zone_offset", "gmt_offset")


@dataclass
class TableSpec:
    """What sniffing cannot know about a text table; every field is optional.

    Attributes
    ----------
    names
        Column names in file order (override a names line; required length = number of columns).
    units
        Units: a list in file order or a mapping name -> units.
    long_names
        Descriptions: a list in file order or a mapping name -> description.
    time_columns
        The columns time is built from: names or 1-based positions.
    time_format
        A ``strptime``-style format for the time columns joined by one blank, e.g. ``"%d.%m.%Y %H:%M"``,
        ``"%Y %j %H%M"`` (``%H%M`` also reads HHMM numbers without leading zeros), or ``"unix"`` for seconds
        since 1970 in one column. Without it, the roles of ``time_columns`` are found from their values.
    utc_offset
        Offset of the file's clock from UTC (``"+01:00"``, ``"GMT-05:00"``, or hours); subtracted.
    missing
        Tokens meaning "no value": a list for every column, or a mapping name/1-based position -> list.
    delimiter
        ``","``, ``"tab"``, ``";"``, ``"|"``, ``"whitespace"`` or ``"fixed"``.
    widths
        Field widths (characters) for ``delimiter="fixed"``; default: found from blank columns.
    header_lines
        Number of lines before the first data line (names/units lines included).
    names_line, units_line
        1-based line numbers of the names and units lines.
    decimal
        Decimal mark (``","`` for decimal commas); default: guessed.
    encoding
        Text encoding; default UTF-8, falling back to Latin-1.
    """

    names: Sequence[str] | None = None
    units: Sequence[str] | Mapping[str, str] | None = None
    long_names: Sequence[str] | Mapping[str, str] | None = None
    time_columns: Sequence[str | int] | None = None
    time_format: str | None = None
    utc_offset: str | float | None = None
    missing: Sequence[str | float] | Mapping[str | int, Sequence[str | float]] | None = None
    delimiter: str | None = None
    widths: Sequence[int] | None = None
    header_lines: int | None = None
    names_line: int | None = None
    units_line: int | None = None
    decimal: str | None = None
    encoding: str | None = None


_SPEC_FIELDS = {f.name for f in dataclasses.fields(TableSpec)}


def make_spec(spec: TableSpec | Mapping | None = None, **options) -> TableSpec:
    """A fresh :class:`TableSpec` from ``spec`` (dataclass or dict) updated with matching reader options.

    Examples
    --------
    >>> make_spec({"delimiter": "tab"}, header_lines=2).header_lines
    2
    """
    if spec is None:
        base = TableSpec()
    elif isinstance(spec, TableSpec):
        base = dataclasses.replace(spec)
    elif isinstance(spec, Mapping):
        unknown = set(spec) - _SPEC_FIELDS
        if unknown:
            raise ValueError(f"unknown table spec field(s) {sorted(unknown)}; known: {sorted(_SPEC_FIELDS)}")
        base = TableSpec(**spec)
    else:
        raise TypeError(f"spec must be a TableSpec or a dict, not {type(spec).__name__}")
    extra = {k: v for k, v in options.items() if k in _SPEC_FIELDS and v is not None}
    base = dataclasses.replace(base, **extra)
    if base.delimiter is not None:
        key = base.delimiter if base.delimiter in _DELIM_ALIASES else str(base.delimiter).lower()
        if key not in _DELIM_ALIASES:
            raise ValueError(f"unknown delimiter {base.delimiter!r}; use one of {sorted(set(_DELIM_ALIASES))}")
        base.delimiter = _DELIM_ALIASES[key]
    return base


def split_name(name: str, hobo: bool) -> tuple[str, str | None, dict[str, str]]:
    """(base name, units, extra attrs) from a column title such as ``"Temp, °C (LGR S/N: 1, SEN S/N: 2)"``.

    Examples
    --------
    >>> split_name("Temp, °C (LGR S/N: 10234567, SEN S/N: 10234568)", hobo=True)
    ('Temp', '°C', {'logger_serial': '10234567', 'sensor_serial': '10234568'})
    >>> split_name("O3 (ppb)", hobo=False)
    ('O3', 'ppb', {})
    """
    extra: dict[str, str] = {}
    if hobo or "S/N" in name:
        m = _HOBO_NAME.match(name)
        if m:
            info = m.group("info") or ""
            for key, label in (("logger_serial", "LGR S/N"), ("sensor_serial", "SEN S/N"), ("label", "LBL")):
                hit = re.search(re.escape(label) + r":\s*([^,)]+)", info)
                if hit:
                    extra[key] = hit.group(1).strip()
            return m.group("n").strip(), (m.group("u") or "").strip() or None, extra
    m = _BRACKET_UNITS.match(name)
    if m and m.group("u").strip().lower() not in _UNIT_STOP and m.group("u").count(" ") <= 2:
        return m.group("n").strip(), m.group("u").strip(), extra
    return name, None, extra


def _var_name(name: str, j: int) -> str:
    if name.strip() == "#":
        return "record"  # HOBO's record-number column
    new = re.sub(r"\s+", "_", re.sub(r"[/\x00-\x1f\x7f]", "_", name.strip()))
    if not new:
        return f"col_{j + 1}"
    if not (new[0].isalnum() or new[0] == "_"):
        new = "v" + new
    return new


def _lookup(spec_value, j: int, name: str | None):
    """Per-column spec value from a list (file order) or a mapping by name / 1-based position."""
    if spec_value is None:
        return None
    if isinstance(spec_value, Mapping):
        for key in (name, j + 1, str(j + 1), f"col_{j + 1}"):
            if key is not None and key in spec_value:
                return spec_value[key]
        return None
    return spec_value[j] if j < len(spec_value) else None


def _column_index(key: str | int, names: list[str] | None, ncol: int, path: Path) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        if 1 <= key <= ncol:
            return key - 1
    else:
        for j in range(ncol):
            if key in ((names[j] if names else None), f"col_{j + 1}"):
                return j
    raise ParseError(path, "a spec time column is not in the file", expected=f"a name or 1..{ncol}",
                     found=repr(key))


def _missing_sets(layout, spec: TableSpec, names: list[str] | None) -> tuple[set[str], list[set[str]]]:
    """Declared missing tokens: (non-numeric tokens for the parser, per-column token sets)."""
    glob = set(layout.missing)
    per = [set() for _ in range(layout.ncol)]
    if isinstance(spec.missing, Mapping):
        for key, toks in spec.missing.items():
            j = _column_index(key if not str(key).isdigit() else int(key), names, layout.ncol, Path("spec"))
            per[j].update(str(t) for t in toks)
    elif spec.missing is not None:
        glob.update(str(t) for t in spec.missing)
    for key, toks in layout.col_missing.items():
        if isinstance(key, int):
            if key < layout.ncol:
                per[key].update(toks)
        elif names and key in names:
            per[names.index(key)].update(toks)
    for s in per:
        s.update(glob)
    text = {t for s in per for t in s if t and not is_number(t)}
    return text, per


def _time_offset(spec: TableSpec, layout, used_names: list[str | None], path: Path) -> int:
    if spec.utc_offset is not None:
        off = tt.utc_offset(spec.utc_offset)
        if off is None:
            raise ValueError(f"cannot read the UTC offset {spec.utc_offset!r} (use '+hh:mm' or hours)")
        return off
    for name in used_names:
        off = tt.name_offset(name)
        if off is not None:
            return off
    for key, value in layout.attrs.items():
        if key.lower() in _TZ_KEYS:
            off = tt.utc_offset(value)
            if off is not None:
                return off
    return 0


def _build_time(cols: list[tt.Column], parsed, spec: TableSpec, layout, path: Path) -> tt.TimeResult:
    names = layout.names
    if spec.time_columns:
        idx = [_column_index(k, names, layout.ncol, path) for k in spec.time_columns]
        if spec.time_format in ("unix", "epoch"):
            if len(idx) != 1:
                raise ParseError(path, "time_format 'unix' takes one column", expected="1 time column",
                                 found=f"{len(idx)} columns")
            arrow = parsed.arrow[idx[0]]
            try:
                secs = pc.cast(pc.utf8_trim_whitespace(arrow), pa.float64()).to_numpy(zero_copy_only=False)
            except pa.ArrowInvalid:
                secs = np.full(len(arrow), np.nan)
            if not np.isfinite(secs).all():
                bad = int(np.flatnonzero(~np.isfinite(secs))[0])
                raise ParseError(path, "bad Unix time", line=int(parsed.lines[bad]), column=_label(names, idx[0]),
                                 expected="seconds since 1970-01-01", found=repr(arrow[bad].as_py()))
            result = tt.TimeResult(np.rint(secs * tt.NS).astype(np.int64), idx, "unix seconds")
        elif spec.time_format:
            try:
                rx = tt.strptime_regex(spec.time_format)
            except ValueError as exc:
                raise ParseError(path, str(exc)) from None
            joined = parsed.arrow[idx[0]] if len(idx) == 1 else pc.binary_join_element_wise(
                *[parsed.arrow[j] for j in idx], " ")
            ns, ok = tt.parse_regex(joined, rx)
            if not ok.all():
                bad = int(np.flatnonzero(~ok)[0])
                raise ParseError(path, "a time value does not match the spec time_format", line=int(parsed.lines[bad]),
                                 column=" + ".join(_label(names, j) for j in idx),
                                 expected=spec.time_format, found=repr(joined[bad].as_py()))
            result = tt.TimeResult(ns, idx, f"format {spec.time_format}")
        else:
            found = tt.best(tt.candidates(cols, restrict=idx)) or tt.best_broken(tt.candidates(cols, restrict=idx))
            if found is None:
                raise ParseError(path, "cannot build time from the spec time columns",
                                 column=" + ".join(_label(names, j) for j in idx),
                                 expected="date/time values (or pass time_format)", found="no matching pattern")
            result = tt.TimeResult(found.ns, found.used, found.how)
    else:
        found = None
        if cols and cols[0].values.size > 2 * _SAMPLE_ROWS:  # choose on a sample, check on every row
            found = tt.best(tt.candidates(tt.sample_columns(cols, _SAMPLE_ROWS)))
            if found is not None:
                found.ns, ok = tt.rebuild(found, cols)
                if not ok.all() or (np.diff(found.ns) < 0).any():
                    found = None
        misses: list[tuple[int, int, str]] = []
        if found is None:
            cands = tt.candidates(cols, misses=misses)
            found = tt.best(cands) or tt.best_broken(cands)
        if found is None and misses:
            j, row, fmt = misses[0]
            raise ParseError(path, "bad date/time value", line=int(parsed.lines[row]), column=_label(names, j),
                             expected=f"a date/time like the other rows ({fmt})",
                             found=repr(parsed.arrow[j][row].as_py()))
        if found is None:
            raise ParseError(path, "no date/time columns found", line=layout.first_line,
                             expected="a date-time column or year/month/day(/hour/minute) columns "
                                      "(or pass spec time_columns=...)",
                             found=f"{layout.ncol} columns: " + ", ".join(_label(names, j) for j in
                                                                           range(min(layout.ncol, 8))))
        result = tt.TimeResult(found.ns, found.used, found.how)
    steps = np.diff(result.ns)
    if (steps < 0).any():
        k = int(np.flatnonzero(steps < 0)[0])
        raise ParseError(path, "time goes backwards", line=int(parsed.lines[k + 1]),
                         column=" + ".join(_label(names, j) for j in result.used),
                         expected=f"a time >= {np.datetime64(int(result.ns[k]), 'ns')}",
                         found=str(np.datetime64(int(result.ns[k + 1]), "ns")))
    result.offset = _time_offset(spec, layout, [names[j] if names else None for j in result.used], path)
    if result.offset:
        result.ns = result.ns - result.offset * tt.NS
    return result


def _label(names: list[str] | None, j: int) -> str:
    return names[j] if names else f"col_{j + 1}"


def _values(values: np.ndarray, kind: str, sentinels: set[str]) -> tuple[np.ndarray, float | None, int]:
    """Apply numeric sentinels; return (array, first sentinel that is declared, number replaced)."""
    nums = sorted({float(t) for t in sentinels if is_number(t) and t.lower() not in ("nan", "inf", "-inf")},
                  key=lambda v: -abs(v))
    if kind == "string":
        return values, None, 0
    replaced = 0
    if nums:
        values = values.astype(np.float64)
        hit = np.isin(values, nums)
        replaced = int(hit.sum())
        values[hit] = np.nan
    if values.dtype.kind == "i":
        return as_int(values), None, 0
    return as_float(values), (nums[0] if nums else None), replaced


def _dataset(parsed, layout, spec: TableSpec, time: tt.TimeResult, per_missing: list[set[str]],
             path: Path) -> xr.Dataset:
    names = layout.names
    hobo = layout.convention == "hobo"
    data_vars: dict[str, xr.Variable] = {}
    undeclared: list[str] = []
    empties: list[str] = []
    for j in range(layout.ncol):
        if j in time.used:
            continue
        raw_name = names[j] if names else None
        attrs: dict[str, str] = {}
        if raw_name is not None:
            base, units, extra = split_name(raw_name, hobo)
            attrs.update(extra)
            var = _var_name(base, j)
        else:
            base, units, var = None, None, f"col_{j + 1}"
        if layout.units and j < len(layout.units) and layout.units[j] not in ("", "-", "--"):
            units = layout.units[j]
        attrs.update(layout.col_attrs.get(raw_name or "", {}))
        attrs.update(layout.index_attrs.get(j, {}))
        if units and "units" not in attrs:
            attrs["units"] = units
        for key, spec_value in (("units", spec.units), ("long_name", spec.long_names)):
            value = _lookup(spec_value, j, raw_name)
            if value:
                attrs[key] = str(value)
        attrs.setdefault("long_name", "record number" if var == "record" and base == "#" else
                         base if base else f"column {j + 1}")
        if raw_name is not None and var != raw_name:
            attrs["original_name"] = raw_name
        if var == "time":
            var = "time_"
        while var in data_vars:
            var += "_"
        kind = parsed.kinds[j]
        values, fill, _ = _values(parsed.arrays[j], kind, per_missing[j])
        if kind == "string":
            fmt, _ = tt.text_format(parsed.arrow[j])
            if fmt is not None:
                ns, ok = tt.parse_text(parsed.arrow[j], fmt)
                empty = (pc.utf8_trim_whitespace(parsed.arrow[j]).to_numpy(zero_copy_only=False) == "")
                if (ok | empty).all():
                    values = np.where(ok, ns, np.iinfo(np.int64).min).astype("datetime64[ns]")
        else:
            text_tokens = any(not is_number(t) for t in per_missing[j])
            if parsed.nulls[j] and not layout.empty_is_missing and not text_tokens:
                empties.append(f"{var} ({parsed.nulls[j]})")
            declared = {float(t) for t in per_missing[j] if is_number(t)}
            if values.size:
                common = [v for v in COMMON_SENTINELS if v not in declared and np.any(values == v)]
                if common:
                    undeclared.append(f"{var} ({', '.join(f'{v:g}' for v in common)})")
        variable = xr.Variable(("time",), values, attrs)
        if values.dtype.kind == "f":
            variable.encoding["_FillValue"] = np.nan if fill is None else fill
        data_vars[var] = variable
    if undeclared:
        warn(DataQualityWarning, f"{path}: common missing-value codes kept as numbers (the file does not declare "
                                 f"them; pass spec missing=[...] if they mean 'no value'): {'; '.join(undeclared)}")
    if empties:
        warn(DataQualityWarning, f"{path}: empty fields read as NaN (missing): {'; '.join(empties)}")
    used = [_label(names, j) for j in time.used]
    tattrs = {"standard_name": "time", "long_name": "time (UTC)", "original_name": " + ".join(used)}
    if time.offset:
        sign = "-" if time.offset < 0 else "+"
        tattrs["comment"] = (f"file times are UTC{sign}{abs(time.offset) // 3600:02d}:"
                             f"{abs(time.offset) % 3600 // 60:02d}; converted to UTC")
    coords = {"time": ("time", time.ns.astype("datetime64[ns]"), tattrs)}
    attrs = {k: v for k, v in layout.attrs.items() if k not in ("file_format", "source_file")}
    attrs["file_format"] = "table"
    attrs["source_file"] = path.name
    if layout.convention:
        attrs["convention"] = layout.convention
    attrs["delimiter"] = {WHITESPACE: "whitespace", FIXED: "fixed-width", "\t": "tab"}.get(parsed.delim,
                                                                                           parsed.delim)
    attrs["time_source"] = time.how
    if layout.header:
        attrs["header"] = "\n".join(layout.header)
    if parsed.truncated:
        attrs["truncated_lines"] = ",".join(str(n) for n in parsed.truncated)
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _from_utf16(raw: bytes) -> bytes:
    """UTF-16 text (with BOM, e.g. a Windows "Unicode" export) as UTF-8 bytes; line numbers are unchanged."""
    return raw.decode("utf-16", errors="replace").encode("utf-8")


class TableReader:
    """Reader for generic header-then-table text files (see the module docstring).

    Examples
    --------
    >>> TableReader().sniff(b"year month day temp\\n2021 1 1 -3.5\\n2021 1 2 -4.0\\n", None)
    True
    >>> TableReader().sniff(b"\\x89HDF\\r\\n\\x1a\\n\\x00\\x00", None)
    False
    """

    name = "table"
    multi_table = False

    @safe_sniff
    def sniff(self, head: bytes, path: Path | None) -> bool:
        """True for text (not binary) whose lines split into consistent columns; never raises."""
        if head.startswith(_UTF16_BOMS):
            head = _from_utf16(head[:len(head) // 2 * 2])
        verdict = looks_tabular(head)
        if verdict is None and path is not None:
            with open(path, "rb") as fh:
                more = fh.read(HEAD_BYTES)
            verdict = looks_tabular(_from_utf16(more) if more.startswith(_UTF16_BOMS) else more, complete=True)
        return bool(verdict)

    def read(self, path: str | os.PathLike, table: str | None = None, spec: TableSpec | Mapping | None = None,
             use_threads: bool = False, **options) -> xr.Dataset:
        """Read a text table into an :class:`xarray.Dataset`.

        Parameters
        ----------
        path
            The file.
        table
            Accepted for the reader protocol (a text table holds one table); must be None or ``"table"``.
        spec
            A :class:`TableSpec` or a dict with its fields; its fields may also be passed as options.
        use_threads
            Let pyarrow use several threads.
        **options
            :class:`TableSpec` fields (override ``spec``); other options are ignored.

        Returns
        -------
        xarray.Dataset
            One variable per column along ``time`` (UTC); header metadata in ``attrs``.

        Raises
        ------
        ParseError
            Binary or empty file, no data lines, wrong field count, non-number in a numeric column, no
            date/time columns, time going backwards (each naming line, column, expected and found).

        Examples
        --------
        >>> ds = TableReader().read("anltwr_mar19met.data")  # doctest: +SKIP
        >>> float(ds["col_6"][0])  # doctest: +SKIP
        28.6
        """
        path = Path(path)
        if table not in (None, "table"):
            raise ParseError(path, f"a text table holds one table, not {table!r}", expected="table=None",
                             found=repr(table))
        spec = make_spec(spec, **options)
        raw = path.read_bytes()
        if raw.startswith(_UTF16_BOMS):
            raw = _from_utf16(raw)
        if not raw.strip(b" \t\r\n\xef\xbb\xbf"):
            raise ParseError(path, "the file is empty", line=1, expected="a header or data lines", found="nothing")
        layout = detect_layout(raw, path, spec)
        names = layout.names
        labels = [_label(names, j) for j in range(layout.ncol)]
        null_tokens, per_missing = _missing_sets(layout, spec, names)
        string_cols = set()
        if spec.time_columns and spec.time_format:
            string_cols = {_column_index(k, names, layout.ncol, path) for k in spec.time_columns}
        parsed = parse_data(raw, layout, path, labels, null_tokens, string_cols, use_threads)
        if parsed.lines.size == 0:
            raise ParseError(path, "no data lines", line=layout.first_line, expected=f"rows of {layout.ncol} fields",
                             found="none")
        cols = [tt.Column(j, names[j] if names else None, parsed.kinds[j], parsed.arrays[j], parsed.arrow[j],
                          parsed.widths[j]) for j in range(layout.ncol)]
        time = _build_time(cols, parsed, spec, layout, path)
        return _dataset(parsed, layout, spec, time, per_missing, path)

    def read_tree(self, path: str | os.PathLike, **options) -> xr.DataTree:
        """The file as a DataTree with one group, ``table``."""
        return single_table_tree(self.read(path, **options), "table")

    def time_range(self, path: str | os.PathLike, **options) -> TimeRange:
        """First and last time and the record count (reads the file)."""
        return time_span(self.read(path, **options)["time"].values, ordered=True)


register(TableReader())


def read_table(path: str | os.PathLike, spec: TableSpec | Mapping | None = None, **options) -> xr.Dataset:
    """Read a generic text table (see :class:`TableReader`).

    Examples
    --------
    >>> ds = read_table("brw_CCl4_Day.dat")  # doctest: +SKIP
    >>> int(ds.sizes["time"])  # doctest: +SKIP
    15
    """
    return TableReader().read(path, spec=spec, **options)
