"""Campbell Scientific TOA5 (ASCII table) reader.

A TOA5 file has four quoted header lines (file/logger/program/table, column names, units, processing) and
then comma-separated records. Campbell quotes strings and timestamps but not numbers, except the sentinels
``"NAN"``, ``"INF"`` and ``"-INF"``. The reader decides each column's kind from the quoting of the first
data lines, hands the data part to :mod:`pyarrow.csv` with explicit column types, and builds an
:class:`xarray.Dataset` following the reader contract (``docs/architecture.md``):

- ``TIMESTAMP`` becomes the ``time`` coordinate (datetime64[ns], UTC, tz-naive), ``RECORD`` an int64 variable;
- every other column one variable named by the file (made a valid netCDF name only where needed) with
  ``units``, ``process`` and ``long_name`` attributes; header line 1 goes to the global attributes;
- numbers become float32 where every value survives the round trip, else float64; ``NAN`` -> NaN;
- an incomplete last line (a file still being written) is left out with a
  :class:`~crac_tools.errors.TruncatedRecordWarning` and listed in ``attrs["truncated_lines"]``.

Examples
--------
>>> from crac_tools.formats.toa5 import read_toa5
>>> ds = read_toa5("Station_Daily.dat")  # doctest: +SKIP
>>> ds["AirT_Min"].attrs["units"]  # doctest: +SKIP
'Deg C'
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import xarray as xr

from ..errors import ParseError, TruncatedRecordWarning, warn
from .campbell_types import (
    HEADER_KEYS,
    TIME_RE,
    Column,
    build_dataset,
    check_column_lines,
    header_attrs,
    header_lines,
    header_rows,
    read_head,
)
from .common import check_table, named_table_tree
from .registry import TimeRange, in_worker, register
from .values import as_float, as_int, decode_text, empty_values

_BOM = b"\xef\xbb\xbf"
_MAGIC = b'"TOA5"'
_LINES = ("file type", "column names", "units", "processing")
#: Tokens read as missing (NaN) in numeric and time columns. INF/-INF are parsed as +/-inf by Arrow.
NULL_TOKENS = ["NAN", "NaN", "nan", ""]
_SENTINELS = frozenset({"NAN", "NaN", "nan", "INF", "-INF", "+INF", "inf", "-inf"})
#: Data lines looked at to decide each column's kind.
SAMPLE_LINES = 50
_INT_RE = re.compile(r"[-+]?\d+\Z")
_FLOAT_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z|[-+]?(INF|inf|Inf|NAN|NaN|nan)\Z")
_FIELD_RE = re.compile(r'"((?:[^"]|"")*)"|([^,]*)')
_CONVERT_RE = re.compile(r"column #(\d+): Row #(\d+): CSV conversion error to (\w+).*?: invalid value '(.*)'",
                         re.S)
_ROW_RE = re.compile(r"Row #(\d+)")
_EXPECTED = {"int": "a number", "float": "a number", "time": "a timestamp YYYY-MM-DD HH:MM:SS[.fff]"}


def _tokens(line: str) -> list[tuple[str, bool]]:
    """Split one CSV line into ``(value, quoted)`` pairs (used on header-sized inputs only)."""
    out: list[tuple[str, bool]] = []
    pos, n = 0, len(line)
    while True:
        m = _FIELD_RE.match(line, pos)
        if m.group(1) is not None:
            out.append((m.group(1).replace('""', '"'), True))
        else:
            out.append((m.group(2).strip(), False))
        pos = line.find(",", m.end())
        if pos < 0:
            return out
        pos += 1
        if pos == n:
            out.append(("", False))
            return out


class _Header:
    """The four TOA5 header lines of a file."""

    def __init__(self, raw: bytes, path: Path) -> None:
        start = len(_BOM) if raw.startswith(_BOM) else 0
        ends, self.data_start = header_lines(raw, path, "TOA5", _LINES, start=start, unterminated=True)
        text, self.encoding = decode_text(raw[start:ends[3]])
        rows = header_rows(text, path)
        self.attrs = header_attrs(rows, path, "TOA5", HEADER_KEYS)
        self.table = self.attrs.get("table_name", "")
        self.names, self.units, self.process = rows[1], rows[2], rows[3]
        check_column_lines(path, self.names, (("units", self.units), ("processing", self.process)), 2, "column")
        upper = [n.upper() for n in self.names]
        if "TIMESTAMP" in upper:
            self.time_index = upper.index("TIMESTAMP")
        elif self.units and self.units[0] == "TS":
            self.time_index = 0
        else:
            raise ParseError(path, "no TIMESTAMP column", line=2, expected='a "TIMESTAMP" column',
                             found=", ".join(self.names[:5]))


def _column_kinds(sample: list[list[tuple[str, bool]]], header: _Header) -> tuple[list[str], set[int]]:
    """Kind of each column (``int``, ``float``, ``time``, ``string``) from the quoting of sample rows.

    Also returns the columns whose kind is only a guess (all-quoted sentinels), which may turn to string.
    """
    ncol = len(header.names)
    rows = [r for r in sample if len(r) == ncol]
    kinds, guessed = [], set()
    for j, name in enumerate(header.names):
        if j == header.time_index:
            kinds.append("time")
            continue
        if name.upper() == "RECORD":
            kinds.append("int")
            continue
        values = [r[j] for r in rows]
        unquoted = [v for v, q in values if not q]
        quoted = [v for v, q in values if q and v not in _SENTINELS]
        if unquoted:
            ints = all(_INT_RE.match(v) for v in unquoted) and len(unquoted) == len(values)
            kinds.append("int" if ints else "float")
        elif not values or not quoted:
            kinds.append("float")
            guessed.add(j)
        elif all(TIME_RE.match(v) for v in quoted):
            kinds.append("time")
        else:
            kinds.append("string")
    return kinds, guessed


def _line_of_row(data: memoryview, row: int, first_line: int) -> int:
    """File line number of the ``row``-th (1-based) non-empty data line (Arrow skips empty lines)."""
    buf = bytes(data)
    if b"\n\n" not in buf and b"\n\r\n" not in buf and not buf.startswith((b"\n", b"\r\n")):
        return first_line + row - 1
    arr = np.frombuffer(buf, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(arr)]))
    length = stops - starts - (arr[np.maximum(stops - 1, 0)] == 13)
    nonempty = np.flatnonzero(length > 0)
    return first_line + int(nonempty[min(row, len(nonempty)) - 1])


def _arrow_types(header: _Header, kinds: list[str]) -> dict[str, pa.DataType]:
    table = {"int": pa.int64(), "float": pa.float64(), "time": pa.timestamp("ns"), "string": pa.string()}
    return {name: table[kind] for name, kind in zip(header.names, kinds, strict=True)}


def _parse(data: memoryview, header: _Header, kinds: list[str], guessed: set[int], path: Path,
           use_threads: bool, partial_line: int | None) -> pa.Table:
    """Parse the data part with pyarrow.csv; widen int->float / guessed->string and retry where needed.

    Raises a ``_LastLineBad`` when only the unterminated last line fails to convert.
    """
    first_line = 5
    encoding = header.encoding
    while True:
        read_opts = pacsv.ReadOptions(column_names=header.names, use_threads=use_threads, encoding=encoding)
        conv_opts = pacsv.ConvertOptions(column_types=_arrow_types(header, kinds), null_values=NULL_TOKENS,
                                         strings_can_be_null=False, quoted_strings_can_be_null=True)
        try:
            return pacsv.read_csv(pa.BufferReader(pa.py_buffer(data)), read_options=read_opts,
                                  convert_options=conv_opts)
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            if "UTF8" in msg and encoding != "latin-1":
                encoding = "latin-1"
                continue
            m = _CONVERT_RE.search(msg)
            if m is None:
                if not use_threads or "Row #" in msg:
                    row = _ROW_RE.search(msg)
                    line = _line_of_row(data, int(row.group(1)), first_line) if row else None
                    detail = msg.split(": ", 1)[-1] if "CSV parse error" in msg else msg
                    fields = re.search(r"Expected (\d+) columns, got (\d+)", msg)
                    if fields:
                        raise ParseError(path, "wrong number of fields", line=line,
                                         expected=f"{fields.group(1)} fields",
                                         found=f"{fields.group(2)}") from None
                    raise ParseError(path, f"cannot parse the data ({detail})", line=line) from None
                use_threads = False  # single-threaded Arrow reports row numbers
                continue
            j, row, token = int(m.group(1)), int(m.group(2)), m.group(4)
            if kinds[j] == "int" and _FLOAT_RE.match(token) and header.names[j].upper() != "RECORD":
                kinds[j] = "float"
                continue
            if j in guessed and kinds[j] == "float":
                kinds[j] = "string"
                continue
            line = _line_of_row(data, row, first_line)
            if partial_line is not None and line == partial_line and j == len(kinds) - 1:
                raise _LastLineBad(line, token) from None
            raise ParseError(path, f"bad value in a {kinds[j]} column", line=line, column=header.names[j],
                             expected=_EXPECTED.get(kinds[j], "a value"), found=repr(token)) from None


class _LastLineBad(Exception):
    def __init__(self, line: int, token: str) -> None:
        self.line, self.token = line, token


def _split_tail(raw: bytes, start: int) -> tuple[int, int, bool]:
    """Return (end of terminated data, end of all data, whether an unterminated last line exists)."""
    end = len(raw)
    while end > start and raw[end - 1] in b" \t\r\n":
        end -= 1
    if end == start:
        return start, start, False
    if b"\n" in raw[end:] or b"\r" in raw[end:]:
        return end, end, False
    nl = raw.rfind(b"\n", start, end)
    return (nl + 1 if nl >= 0 else start), end, True


def _sample(raw: bytes, start: int, end: int, encoding: str) -> list[list[tuple[str, bool]]]:
    """Tokens of the first :data:`SAMPLE_LINES` non-empty data lines."""
    chunk = raw[start:min(end, start + 64 * 1024)]
    lines = chunk.split(b"\n")
    if start + len(chunk) < end:
        lines = lines[:-1]  # the chunk may cut its last line
    lines = [ln for ln in lines[:SAMPLE_LINES + 10] if ln.strip(b"\r")][:SAMPLE_LINES]
    return [_tokens(ln.decode(encoding, errors="replace").rstrip("\r")) for ln in lines]


def _column_array(col: pa.ChunkedArray, kind: str, is_record: bool) -> np.ndarray:
    """One Arrow column as the numpy array stored in the Dataset (float32 where lossless)."""
    if kind == "string":
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)
    if kind == "time":
        return col.to_numpy(zero_copy_only=False).astype("datetime64[ns]")
    values = col.to_numpy(zero_copy_only=False)  # int64 with nulls comes back as float64 with NaN
    if values.dtype.kind == "i":
        return as_int(values, record=is_record)
    return as_float(values)


def _build(header: _Header, arrays: list[np.ndarray], path: Path, truncated: list[int]) -> xr.Dataset:
    attrs = dict(header.attrs)
    attrs["source_file"] = path.name
    if truncated:
        attrs["truncated_lines"] = ",".join(str(n) for n in truncated)
    # index=j: an unnamed column is named by its place in the file, counting the time column
    columns = [Column(name, values, units=header.units[j], process=header.process[j], index=j)
               for j, (name, values) in enumerate(zip(header.names, arrays, strict=True)) if j != header.time_index]
    return build_dataset(arrays[header.time_index], columns, attrs,
                         {"original_name": header.names[header.time_index]})


class Toa5Reader:
    """Reader for Campbell Scientific TOA5 ASCII files (one table per file).

    Examples
    --------
    >>> from crac_tools.formats.toa5 import Toa5Reader
    >>> Toa5Reader().sniff(b'"TOA5","St","CR1000"', None)
    True
    >>> Toa5Reader().sniff(b'"TOB1","St","CR1000"', None)
    False
    """

    name = "toa5"
    multi_table = False

    def sniff(self, head: bytes, path: Path | None) -> bool:
        """True when the first line starts with ``"TOA5"`` (after an optional UTF-8 BOM)."""
        if head.startswith(_BOM):
            head = head[len(_BOM):]
        return head.startswith(_MAGIC)

    def read(self, path: str | os.PathLike, table: str | None = None, use_threads: bool | None = None,
             **options) -> xr.Dataset:
        """Read a TOA5 file into an :class:`xarray.Dataset`.

        Parameters
        ----------
        path
            The TOA5 file.
        table
            When given, the table name the file must hold (header line 1, last field).
        use_threads
            Let pyarrow use several threads. Default: yes for files over 4 MB read interactively, no inside a
            dask worker (the pipeline parallelises across processes, one thread each).
        **options
            Accepted for the reader protocol; not used.

        Returns
        -------
        xarray.Dataset
            One variable per column along ``time``; header metadata in ``attrs``.

        Raises
        ------
        ParseError
            Bad header, wrong field count or a non-number in a numeric column (names line and column),
            or ``table`` differs from the file's table.

        Examples
        --------
        >>> ds = Toa5Reader().read("TOA5_BBS.FLUX_2023_08_01_1530.dat")  # doctest: +SKIP
        >>> ds.sizes["time"], str(ds["Ux"].dtype)  # doctest: +SKIP
        (18000, 'float32')
        """
        path = Path(path)
        raw = path.read_bytes()
        header = _Header(raw, path)
        check_table(path, table, header.table, line=1)
        start = header.data_start
        stop, end, partial = _split_tail(raw, start)
        ncol = len(header.names)
        truncated: list[int] = []
        last_line = raw.count(b"\n") + 1 if partial else None
        if partial:
            text = raw[stop:end].decode(header.encoding, errors="replace").rstrip("\r")
            nfields = len(_tokens(text))
            if nfields != ncol or text.count('"') % 2:
                why = f"expected {ncol} fields, found {nfields}" if nfields != ncol else "unclosed quote"
                warn(TruncatedRecordWarning, f"{path}, line {last_line}: truncated last line left out ({why})")
                truncated.append(last_line)
                partial, last_line, end = False, None, stop
        kinds, guessed = _column_kinds(_sample(raw, start, end, header.encoding), header)
        tab = None
        if end > start:
            try:
                if use_threads is None:
                    use_threads = end - start > (4 << 20) and not in_worker()
                tab = _parse(memoryview(raw)[start:end], header, kinds, guessed, path, use_threads, last_line)
            except _LastLineBad as bad:
                warn(TruncatedRecordWarning, f"{path}, line {bad.line}: truncated last line left out "
                                             f"(its value {bad.token!r} is incomplete)")
                truncated.append(bad.line)
                partial, last_line, end = False, None, stop
                if end > start:
                    tab = _parse(memoryview(raw)[start:end], header, kinds, guessed, path, use_threads, None)
        if partial:
            warn(TruncatedRecordWarning, f"{path}, line {last_line}: last line lacks its line terminator "
                                         "(kept: it has all fields)")
        if tab is None:
            arrays = [empty_values(k) for k in kinds]
        else:
            arrays = [_column_array(tab.column(j), kinds[j], n.upper() == "RECORD")
                      for j, n in enumerate(header.names)]
        return _build(header, arrays, path, truncated)

    def read_tree(self, path: str | os.PathLike, **options) -> xr.DataTree:
        """Read the file as a DataTree with one group named by the table (header line 1).

        Examples
        --------
        >>> tree = Toa5Reader().read_tree("Station_Daily.dat")  # doctest: +SKIP
        >>> list(tree.children)  # doctest: +SKIP
        ['Daily']
        """
        return named_table_tree(self.read(path, **options))

    def time_range(self, path: str | os.PathLike, **options) -> TimeRange:
        """First and last record time from the header, first data line and last complete line only.

        Examples
        --------
        >>> Toa5Reader().time_range("Station_Daily.dat").first  # doctest: +SKIP
        np.datetime64('2014-04-11T00:00:00.000000000')
        """
        path = Path(path)
        size = path.stat().st_size
        chunk = 64 * 1024
        with open(path, "rb") as fh:
            head = read_head(fh, size, 5, chunk)
            header = _Header(head, path)
            tail_start = max(header.data_start, size - chunk)
            fh.seek(tail_start)
            tail = fh.read()
        ncol = len(header.names)

        def stamp(line: bytes) -> np.datetime64 | None:
            fields = _tokens(line.decode(header.encoding, errors="replace").rstrip("\r"))
            if len(fields) != ncol:
                return None
            text = fields[header.time_index][0]
            if not TIME_RE.match(text):
                raise ParseError(path, "bad timestamp", column=header.names[header.time_index],
                                 expected=_EXPECTED["time"], found=repr(text))
            return np.datetime64(text.replace(" ", "T"), "ns")

        data_lines = [ln for ln in head[header.data_start:].split(b"\n")[:2] if ln.strip(b"\r")]
        first = stamp(data_lines[0]) if data_lines else None
        if first is None:
            nat = np.datetime64("NaT", "ns")
            return TimeRange(nat, nat, n=0 if not data_lines else None)
        lines = tail.split(b"\n")
        if tail_start > header.data_start:
            lines = lines[1:]  # the first line of the chunk may be cut
        last = None
        for line in reversed(lines):
            if line.strip(b"\r \t"):
                last = stamp(line)
                if last is not None:
                    break
        return TimeRange(first, first if last is None else last, n=None)


register(Toa5Reader())


def read_toa5(path: str | os.PathLike) -> xr.Dataset:
    """Read a Campbell TOA5 file (see :class:`Toa5Reader`).

    Examples
    --------
    >>> ds = read_toa5("Station_Daily.dat")  # doctest: +SKIP
    >>> int(ds.sizes["time"])  # doctest: +SKIP
    57
    """
    return Toa5Reader().read(path)
