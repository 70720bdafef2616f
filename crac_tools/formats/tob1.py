"""Campbell Scientific TOB1 (table-oriented binary) reader.

A TOB1 file has five CRLF-terminated ASCII header lines (file info, field names, units, processing, data
types) followed by fixed-size binary records. The reader builds a numpy structured dtype from the type line
(:mod:`crac_tools.formats.campbell_types`), views the whole data part through it with ``np.frombuffer`` (no
per-record loop) and decodes each field to the array the TOA5 reader gives for the same column, so that a
TOB1 file and the TOA5 that Campbell's CardConvert makes from it read to equal Datasets:

- ``SECONDS`` + ``NANOSECONDS`` (seconds since 1990-01-01) become the ``time`` coordinate (datetime64[ns],
  UTC, tz-naive); ``RECORD`` an int64 variable;
- every other field one variable named by the file, with ``units``, ``process``, ``long_name`` and
  ``campbell_type`` attributes; header line 1 goes to the global attributes;
- a trailing partial record (a file still being written) is left out with a
  :class:`~crac_tools.errors.TruncatedRecordWarning`.

Examples
--------
>>> from crac_tools.formats.tob1 import read_tob1
>>> ds = read_tob1("TOB1_Station_Daily.dat")  # doctest: +SKIP
>>> ds["AirT_Min"].attrs["units"]  # doctest: +SKIP
'Deg C'
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import ParseError, TruncatedRecordWarning, warn
from .campbell_types import (
    HEADER_KEYS,
    Column,
    build_dataset,
    decode_field,
    field_lines,
    header_attrs,
    header_lines,
    header_rows,
    parse_types,
    read_head,
    record_dtype,
    record_variable,
    sniff_header,
    stamp_to_time,
)
from .common import check_table, named_table_tree, no_records, safe_sniff
from .registry import TimeRange, register
from .values import decode_text

_MAGIC = b'"TOB1"'
_LINES = ("file type", "field names", "units", "processing", "data types")


class _Header:
    """The five ASCII header lines of a TOB1 file."""

    def __init__(self, raw: bytes, path: Path) -> None:
        ends, self.data_start = header_lines(raw, path, "TOB1", _LINES)
        text, self.encoding = decode_text(raw[:ends[4]])
        rows = header_rows(text, path)
        self.attrs = header_attrs(rows, path, "TOB1", HEADER_KEYS)
        self.table = self.attrs.get("table_name", "")
        self.names, self.units, self.process, types = field_lines(rows, 2, path)
        self.types = [t.strip() for t in types]
        self.specs = parse_types(self.names, self.types, path, line=5)
        self.dtype = record_dtype(self.specs)
        upper = [n.upper() for n in self.names]
        self.sec = upper.index("SECONDS") if "SECONDS" in upper else None
        self.nsec = upper.index("NANOSECONDS") if "NANOSECONDS" in upper else None
        self.stamp = None  # a single SecNano/NSec TIMESTAMP field instead of SECONDS/NANOSECONDS
        if self.sec is None and "TIMESTAMP" in upper and self.specs[upper.index("TIMESTAMP")].kind == "secnano":
            self.stamp = upper.index("TIMESTAMP")
        if self.sec is None and self.stamp is None:
            raise ParseError(path, "no record time stamp", line=2,
                             expected='"SECONDS" and "NANOSECONDS" fields (or a SecNano "TIMESTAMP")',
                             found=", ".join(self.names[:6]))
        if self.sec is not None and self.specs[self.sec].kind != "int":
            raise ParseError(path, "SECONDS must be an integer field", line=5, column="SECONDS",
                             expected="ULONG or LONG", found=self.types[self.sec])


def _records(raw: bytes, header: _Header, path: Path) -> np.ndarray:
    """All complete records as a structured array; a trailing partial record is warned about and dropped."""
    size = header.dtype.itemsize
    n, rest = divmod(len(raw) - header.data_start, size)
    if rest:
        warn(TruncatedRecordWarning, f"{path}: truncated last record left out ({rest} of {size} bytes, "
                                     f"after {n} complete records)")
    return np.frombuffer(raw, dtype=header.dtype, count=n, offset=header.data_start)


def _time(rec: np.ndarray, header: _Header) -> np.ndarray:
    if header.stamp is not None:
        f = rec[f"f{header.stamp}"]
        return stamp_to_time(f["s"], f["ns"])
    ns = rec[f"f{header.nsec}"] if header.nsec is not None else 0
    return stamp_to_time(rec[f"f{header.sec}"], ns)


def _dataset(rec: np.ndarray, header: _Header, path: Path) -> xr.Dataset:
    time = _time(rec, header)
    skip = {j for j in (header.sec, header.nsec, header.stamp) if j is not None}
    columns = []
    for j, (name, spec) in enumerate(zip(header.names, header.specs, strict=True)):
        if j in skip:
            continue
        values = rec[f"f{j}"]
        if name.upper() == "RECORD" and spec.kind == "int":
            columns.append(record_variable(values))
            columns[-1].attrs = {"campbell_type": header.types[j]}
            continue
        columns.append(Column(name, decode_field(spec, values), units=header.units[j], process=header.process[j],
                              attrs={"campbell_type": header.types[j]}))
    attrs = dict(header.attrs)
    attrs["source_file"] = path.name
    stamp = "TIMESTAMP" if header.stamp is not None else "SECONDS, NANOSECONDS"
    return build_dataset(time, columns, attrs, {"original_name": stamp})


class Tob1Reader:
    """Reader for Campbell Scientific TOB1 binary files (one table per file).

    Examples
    --------
    >>> from crac_tools.formats.tob1 import Tob1Reader
    >>> head = (b'"TOB1","St","CR1000","1","OS","CPU:p.cr1","2","T"\\r\\n"SECONDS","NANOSECONDS"\\r\\n'
    ...         b'"SECONDS","NANOSECONDS"\\r\\n"",""\\r\\n"ULONG","ULONG"\\r\\n')
    >>> Tob1Reader().sniff(head, None)
    True
    >>> Tob1Reader().sniff(b'"TOA5","St","CR1000"', None)
    False
    """

    name = "tob1"
    multi_table = False

    @safe_sniff
    def sniff(self, head: bytes, path: Path | None) -> bool:
        """True for ``"TOB1"`` files whose header lines (as far as ``head`` reaches) are consistent."""
        return sniff_header(head, path, _MAGIC, _Header, lines=5, partial_lines=1)

    def read(self, path: str | os.PathLike, table: str | None = None, **options) -> xr.Dataset:
        """Read a TOB1 file into an :class:`xarray.Dataset`.

        Parameters
        ----------
        path
            The TOB1 file.
        table
            When given, the table name the file must hold (header line 1, last field).
        **options
            Accepted for the reader protocol; not used.

        Returns
        -------
        xarray.Dataset
            One variable per field along ``time``; header metadata in ``attrs``.

        Raises
        ------
        ParseError
            Bad or incomplete header, an unsupported data type, no SECONDS field, or ``table`` differs from
            the file's table.

        Examples
        --------
        >>> ds = Tob1Reader().read("TOB1_full27.dat")  # doctest: +SKIP
        >>> ds.sizes["time"], str(ds["temp(2)"].dtype)  # doctest: +SKIP
        (61, 'float32')
        """
        path = Path(path)
        raw = path.read_bytes()
        header = _Header(raw, path)
        check_table(path, table, header.table, line=1)
        return _dataset(_records(raw, header, path), header, path)

    def read_tree(self, path: str | os.PathLike, **options) -> xr.DataTree:
        """Read the file as a DataTree with one group named by the table (header line 1).

        Examples
        --------
        >>> list(Tob1Reader().read_tree("TOB1_Station_Daily.dat").children)  # doctest: +SKIP
        ['Daily']
        """
        return named_table_tree(self.read(path, **options))

    def time_range(self, path: str | os.PathLike, **options) -> TimeRange:
        """First and last record time and the record count, from the header, first and last record only.

        Examples
        --------
        >>> Tob1Reader().time_range("TOB1_Station_Daily.dat").n  # doctest: +SKIP
        57
        """
        path = Path(path)
        size = path.stat().st_size
        with open(path, "rb") as fh:
            header = _Header(read_head(fh, size, 5), path)
            rsize = header.dtype.itemsize
            n = (size - header.data_start) // rsize
            if n == 0:
                return no_records()
            fh.seek(header.data_start)
            first = np.frombuffer(fh.read(rsize), dtype=header.dtype)
            fh.seek(header.data_start + (n - 1) * rsize)
            last = np.frombuffer(fh.read(rsize), dtype=header.dtype)
        return TimeRange(_time(first, header)[0], _time(last, header)[0], n=int(n))


register(Tob1Reader())


def read_tob1(path: str | os.PathLike) -> xr.Dataset:
    """Read a Campbell TOB1 file (see :class:`Tob1Reader`).

    Examples
    --------
    >>> int(read_tob1("TOB1_Station_Daily.dat").sizes["time"])  # doctest: +SKIP
    57
    """
    return Tob1Reader().read(path)
