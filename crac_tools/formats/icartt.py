"""ICARTT (.ict) reader: FFI 1001 and 2110 (and 2310), ICARTT 1.1 (2008) and 2.0 (V02_2016) headers.

ICARTT files are NASA Ames files with commas and fixed conventions (see :mod:`crac_tools.formats.nasa_ames`,
which holds the shared layout code, and :mod:`crac_tools.formats.ames_header` for the header):

- the independent variable (``Start_UTC``, ``Time_Mid``, ``UTC`` ...) is seconds since 00:00 UTC of the date
  of data collection (header line 7), also past midnight (> 86400 s): ``time = DATE + seconds``. It must not
  go backwards (ParseError); repeated times give a :class:`~crac_tools.errors.DataQualityWarning`. Other time
  columns (``Stop_UTC``, ``Mid_UTC``) stay numbers in seconds, as in the file;
- variable lines ``name, units[, long name]`` (1.1) or ``name, units, standard name[, long name]`` (2.0, whose
  first line ends with the version, e.g. ``V02_2016``) give the variable name, ``units``, ``long_name`` and
  (2.0) ``icartt_standard_name``;
- normal comments ``KEYWORD: value`` (``PI_CONTACT_INFO``, ``PLATFORM``, ``LOCATION``, ``ASSOCIATED_DATA``,
  ``INSTRUMENT_INFO``, ``DATA_INFO``, ``UNCERTAINTY``, ``ULOD_FLAG``, ``ULOD_VALUE``, ``LLOD_FLAG``,
  ``LLOD_VALUE``, ``DM_CONTACT_INFO``, ``PROJECT_INFO``, ``STIPULATIONS_ON_USE``, ``OTHER_COMMENTS``,
  ``REVISION``, ``R0``, ``R1`` ...) become global attributes; lines that follow a keyword line continue its
  value; the last normal comment line (the column names) goes to ``attrs["column_names"]``;
- missing values (line 12, per variable) and the ``ULOD_FLAG`` / ``LLOD_FLAG`` values become NaN; where a
  variable holds detection-limit flags an int8 ``<var>_flag`` variable keeps them (``flag_values`` 0..3,
  ``flag_meanings`` "valid missing below_lower_detection_limit above_upper_detection_limit") and the variable
  names it in ``ancillary_variables``;
- FFI 2110: the unbounded variable (time) and the bounded one (e.g. altitude, NX values per record from the
  first auxiliary variable) give the dimensions ``(time, <bounded name>)``; auxiliary variables are on ``time``.

Comma-separated 1001 data are parsed by :mod:`pyarrow.csv`; whitespace-separated (old NASA Ames-style) files
and 2110 records are read as one flat array of numbers and reshaped. A lone NUL line or NUL padding at the
end of a file is ignored with a warning; an incomplete last line is left out with a
:class:`~crac_tools.errors.TruncatedRecordWarning`.

Sniffing accepts comma-separated ICARTT headers (``NLHEAD, FFI``); whitespace-separated files such as
``36 1001`` are NASA Ames 1001 files for :mod:`~crac_tools.formats.nasa_ames` (which reads the ICARTT keywords
and flags too); ``format="icartt"`` reads them here.

Examples
--------
>>> from crac_tools.formats.icartt import read_icartt
>>> ds = read_icartt("icartt_example.ict")  # doctest: +SKIP
>>> ds["H"].attrs["units"], ds.attrs["PLATFORM"]  # doctest: +SKIP
('W/m^2', 'Dynamic Aviation King Air (N87Q)')
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import ParseError
from .ames_header import parse_header, split_items, split_name, time_axis, to_float, trim_tail
from .common import no_records, time_span
from .nasa_ames import read_ames, sniff_ames
from .registry import TimeRange, register, single_table_tree

#: File Format Indices of ICARTT.
ICARTT_FFI = (1001, 2110, 2310)


class IcarttReader:
    """Reader for ICARTT files (one table per file).

    Examples
    --------
    >>> head = b"50, 1001\\nA\\nB\\nC\\nD\\n1, 1\\n2017, 03, 08, 2019, 04, 19\\n"
    >>> IcarttReader().sniff(head, None)
    True
    >>> IcarttReader().sniff(head.replace(b",", b""), None)
    False
    """

    name = "icartt"
    multi_table = False

    def sniff(self, head: bytes, path: Path | None) -> bool:
        """True for a comma-separated ``NLHEAD, FFI`` first line with FFI 1001, 2110 or 2310 and valid
        volume and date lines."""
        got = sniff_ames(head)
        return got is not None and got[0] in ICARTT_FFI and got[2] == ","

    def read(self, path: str | os.PathLike, table: str | None = None, use_threads: bool = False,
             **options) -> xr.Dataset:
        """Read an ICARTT file into an :class:`xarray.Dataset`.

        Parameters
        ----------
        path
            The .ict file.
        table
            Accepted for the reader protocol: ICARTT files hold one table (``"data"``).
        use_threads
            Let pyarrow use several threads (off by default: the pipeline parallelises across processes).
        **options
            Accepted for the reader protocol; not used.

        Returns
        -------
        xarray.Dataset
            Variables along ``time`` (2110: ``(time, <bounded variable>)``), header metadata in ``attrs``.

        Raises
        ------
        ParseError
            Truncated header (fewer lines than NLHEAD), a non-number (line, column, token), a wrong number of
            values on a line, time going backwards.

        Examples
        --------
        >>> ds = IcarttReader().read("ACTAMERICA-flag-metadata_B200_20170308_R0_L2.ict")  # doctest: +SKIP
        >>> str(ds.time[0].values)  # doctest: +SKIP
        '2017-03-08T20:53:22.000000000'
        """
        path = Path(path)
        if table not in (None, "data"):
            raise ParseError(path, f"ICARTT files hold one table 'data', not {table!r}")
        return read_ames(path, "icartt", use_threads)

    def read_tree(self, path: str | os.PathLike, **options) -> xr.DataTree:
        """The file as a DataTree with one group ``data``."""
        return single_table_tree(self.read(path, **options), "data")

    def time_range(self, path: str | os.PathLike, **options) -> TimeRange:
        """First and last time from the header and the first and last data lines (FFI 1001), else by reading.

        Examples
        --------
        >>> IcarttReader().time_range("icartt_example.ict").first  # doctest: +SKIP
        np.datetime64('2022-04-19T16:04:56.000000000')
        """
        path = Path(path)
        raw = path.read_bytes()
        h = parse_header(raw, path, icartt=True)
        if h.ffi != 1001:
            return time_span(self.read(path, **options)["time"].values, ordered=True)
        end = trim_tail(raw, h.data_offset, path)
        lines = [ln for ln in raw[h.data_offset:end].split(b"\n") if ln.strip()]
        if not lines:
            return no_records()
        axis = time_axis(h.xnames[0], split_name(h.xnames[0], commas=True)[1], h.date, force=True)
        ncol = 1 + len(h.vars)

        def first_value(line: bytes, lineno: int | None) -> float:
            items = split_items(line.decode("latin-1"))
            try:
                return to_float(items[0])
            except (ValueError, IndexError):
                raise ParseError(path, "bad time value", line=lineno, column=h.xnames[0].split(",")[0],
                                 expected="seconds (a number)", found=repr(items[0] if items else "")) from None

        t0 = first_value(lines[0], h.data_line)
        last = lines[-1]
        if len(split_items(last.decode("latin-1"))) < ncol and len(lines) > 1:
            last = lines[-2]  # an incomplete last line is left out by read()
        t1 = first_value(last, None)
        times = axis.convert(np.array([t0, t1]))
        return TimeRange(times[0], times[1], n=None)


register(IcarttReader())


def read_icartt(path: str | os.PathLike) -> xr.Dataset:
    """Read an ICARTT file (see :class:`IcarttReader`).

    Examples
    --------
    >>> ds = read_icartt("icartt_example.ict")  # doctest: +SKIP
    >>> ds.sizes["time"]  # doctest: +SKIP
    13
    """
    return IcarttReader().read(path)
