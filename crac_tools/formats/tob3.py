"""Campbell Scientific TOB3 (frame-based binary) reader.

A TOB3 file has six ASCII header lines (file info; table name, record interval, frame size, intended table
size, validation stamp, frame time resolution, ring record, card removal time; field names; units;
processing; data types) and then fixed-size frames. Each frame has a 12-byte header (seconds since
1990-01-01, sub-seconds in units of the frame time resolution, record number of its first record), records
of the size given by the type line, and a 4-byte footer (bits 0-10 offset, 11 file mark, 12 ring mark,
13 empty frame, 14 minor frame, 16-31 validation stamp).

- Frames whose footer stamp is neither the header's validation stamp nor its ones' complement are stale
  (left over from an earlier use of the card's ring buffer) and are skipped; so are empty frames.
- A frame with the minor-frame flag holds several minor frames, each with its own 12-byte header and 4-byte
  footer: the major footer's offset is the unused space at the end of the frame, and each minor footer's
  offset is the size of its minor frame, so the frame is walked backwards from its end. A logger writes one
  when a lapse in the record interval falls inside a frame. A frame whose minor frames do not add up to its
  size is skipped with a :class:`~crac_tools.errors.DataQualityWarning`.
- Record times are the (minor) frame time plus the record's position times the record interval; record
  numbers count on from the frame header's. The records are then sorted by time and record number (a ring
  buffer that wrapped holds its newest frames first).

Full frames are decoded without Python loops: the buffer is reshaped to ``(frames, frame_size)``, headers
and footers are viewed with numpy, and the records of all full frames are viewed through the record's
structured dtype (:mod:`crac_tools.formats.campbell_types`). Only minor frames are walked one by one.
Values and dtypes follow the TOA5 reader, so a TOB3 file and the TOA5 that CardConvert makes from it read to
equal Datasets.

Examples
--------
>>> from crac_tools.formats.tob3 import read_tob3
>>> ds = read_tob3("TOB3_long27.dat")  # doctest: +SKIP
>>> int(ds.sizes["time"])  # doctest: +SKIP
79
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import DataQualityWarning, ParseError, TruncatedRecordWarning, warn
from .campbell_types import (
    Column,
    build_dataset,
    decode_field,
    field_lines,
    header_attrs,
    header_lines,
    header_rows,
    parse_types,
    record_dtype,
    record_variable,
    sniff_header,
    stamp_to_time,
)
from .common import check_table, named_table_tree, safe_sniff, time_span
from .registry import TimeRange, register
from .values import decode_text

_MAGIC = b'"TOB3"'
_LINES = ("file type", "table information", "field names", "units", "processing", "data types")
#: Header line 1 fields, in file order, as global attribute names.
HEADER_KEYS = ("file_format", "station_name", "logger_model", "logger_serial", "logger_os", "program_name",
               "program_signature", "file_creation_time")
FRAME_HEADER = 12
FRAME_FOOTER = 4
_FRAME_HEADER_DTYPE = np.dtype([("s", "<i4"), ("sub", "<i4"), ("rec", "<i4")])
#: Frame time resolutions (header line 2, field 6) in nanoseconds.
RESOLUTIONS = {"SECMSEC": 1_000_000, "SEC100USEC": 100_000, "SEC10USEC": 10_000, "SECUSEC": 1_000,
               "SECNSEC": 1, "SECNANO": 1}
_UNITS_NS = {"NSEC": 1, "USEC": 1_000, "MSEC": 1_000_000, "SEC": 1_000_000_000, "MIN": 60_000_000_000,
             "HR": 3_600_000_000_000, "HOUR": 3_600_000_000_000, "DAY": 86_400_000_000_000}
_INTERVAL_RE = re.compile(r"\s*([0-9.]+)\s*([A-Za-z]+)\s*\Z")


def parse_interval(text: str) -> int | None:
    """Record interval such as ``'5 MSEC'`` or ``'30 MIN'`` in nanoseconds (``None`` when not understood).

    Examples
    --------
    >>> parse_interval("5 MSEC"), parse_interval("30 MIN"), parse_interval("1 HR")
    (5000000, 1800000000000, 3600000000000)
    """
    m = _INTERVAL_RE.match(text)
    if not m:
        return None
    unit = m.group(2).upper()
    if unit.endswith("S") and unit not in _UNITS_NS:
        unit = unit[:-1]  # 'MINS', 'HOURS', 'DAYS'
    if unit not in _UNITS_NS:
        return None
    return int(round(float(m.group(1)) * _UNITS_NS[unit]))


class _Header:
    """The six ASCII header lines of a TOB3 file."""

    def __init__(self, raw: bytes, path: Path) -> None:
        ends, self.data_start = header_lines(raw, path, "TOB3", _LINES)
        text, self.encoding = decode_text(raw[:ends[5]])
        rows = header_rows(text, path, strip=True)
        self.attrs: dict = header_attrs(rows, path, "TOB3", HEADER_KEYS)
        table = rows[1]
        if len(table) < 6:
            raise ParseError(path, "incomplete table line", line=2,
                             expected="table name, interval, frame size, table size, validation stamp, "
                                      "time resolution", found=f"{len(table)} fields")
        self.table = table[0]
        self.attrs["table_name"] = table[0]
        self.attrs["record_interval"] = table[1]
        self.interval = parse_interval(table[1])
        if self.interval is None:
            raise ParseError(path, "bad record interval", line=2, column="record interval",
                             expected="a number and a unit such as '5 MSEC' or '30 MIN'", found=repr(table[1]))
        ints = {}
        for j, key in ((2, "frame_size"), (3, "intended_table_size"), (4, "validation_stamp"),
                       (6, "ring_record"), (7, "card_removal_time")):
            if j >= len(table):
                continue
            try:
                ints[key] = int(table[j])
            except ValueError:
                raise ParseError(path, f"bad {key.replace('_', ' ')}", line=2, column=key,
                                 expected="an integer", found=repr(table[j])) from None
            self.attrs[key] = ints[key]
        self.frame_size = ints["frame_size"]
        self.stamp = ints["validation_stamp"]
        if not 0 <= self.stamp <= 0xFFFF:
            raise ParseError(path, "bad validation stamp", line=2, column="validation_stamp",
                             expected="an integer 0..65535", found=str(self.stamp))
        self.attrs["frame_time_resolution"] = table[5]
        self.resolution = RESOLUTIONS.get(table[5].upper())
        if self.resolution is None:
            raise ParseError(path, "unknown frame time resolution", line=2, column="frame_time_resolution",
                             expected=" or ".join(["SecMsec", "Sec100Usec", "Sec10Usec", "SecUsec"]),
                             found=repr(table[5]))
        for j, extra in enumerate(table[8:], start=9):
            self.attrs[f"table_line_field_{j}"] = extra
        self.names, self.units, self.process, types = field_lines(rows, 3, path)
        self.types = types
        self.specs = parse_types(self.names, types, path, line=6)
        self.dtype = record_dtype(self.specs)
        self.record_size = self.dtype.itemsize
        self.lines_per_frame = (self.frame_size - FRAME_HEADER - FRAME_FOOTER) // self.record_size
        if self.lines_per_frame < 1:
            raise ParseError(path, "frame too small for one record", line=2, column="frame_size",
                             expected=f"at least {FRAME_HEADER + FRAME_FOOTER + self.record_size} bytes "
                                      f"(record size {self.record_size})", found=str(self.frame_size))


class _Frames:
    """Records (raw bytes), times and record numbers gathered from the valid frames of a file."""

    def __init__(self, raw: bytes, header: _Header, path: Path) -> None:
        fs = header.frame_size
        nframes, rest = divmod(len(raw) - header.data_start, fs)
        if rest:
            warn(TruncatedRecordWarning, f"{path}: truncated last frame left out ({rest} of {fs} bytes, "
                                         f"after {nframes} complete frames)")
        buf = np.frombuffer(raw, dtype=np.uint8, count=nframes * fs, offset=header.data_start)
        frames = buf.reshape(nframes, fs)
        heads = np.ascontiguousarray(frames[:, :FRAME_HEADER]).view(_FRAME_HEADER_DTYPE).reshape(-1)
        foot = np.ascontiguousarray(frames[:, fs - FRAME_FOOTER:]).view("<u4").reshape(-1)
        stamp = foot >> 16
        valid = (stamp == header.stamp) | (stamp == (0xFFFF ^ header.stamp))
        empty = (foot & 0x2000) != 0
        minor = (foot & 0x4000) != 0
        offset = (foot & 0x7FF).astype(np.int64)
        self.skipped = int((~valid).sum())
        full = valid & ~minor & ~empty
        walk = valid & minor & (offset > 0)
        full |= valid & minor & (offset == 0)  # no space after the last minor frame: read as one frame

        nl, rs = header.lines_per_frame, header.record_size
        idx = np.flatnonzero(full)
        pos = np.arange(nl, dtype=np.int64)
        # full frames: records, times and numbers of all of them at once (no loop)
        self.blocks = [frames[idx, FRAME_HEADER:FRAME_HEADER + nl * rs].reshape(-1, rs)]
        t0 = self._frame_time(heads[idx], header)
        times = [(t0[:, None] + pos * header.interval).reshape(-1)]
        recs = [(heads["rec"][idx].astype(np.int64)[:, None] + pos).reshape(-1)]
        arr = np.frombuffer(raw, dtype=np.uint8)
        for j in np.flatnonzero(walk):  # frames holding minor frames: walked backwards from the frame end
            o, t, r = self._walk_minor(raw, header, int(j), int(offset[j]), path)
            self.blocks.append(arr[o[:, None] + np.arange(rs)])
            times.append(t)
            recs.append(r)
        self.times = np.concatenate(times)
        self.records = np.concatenate(recs)

    def data(self, header: _Header) -> np.ndarray:
        """All records found, in frame order, as one structured array."""
        return np.concatenate(self.blocks).reshape(-1).view(header.dtype)

    @staticmethod
    def _frame_time(heads: np.ndarray, header: _Header) -> np.ndarray:
        sub = heads["sub"].astype(np.int64) * header.resolution
        return stamp_to_time(heads["s"], sub).astype(np.int64)

    def _walk_minor(self, raw: bytes, header: _Header, j: int, tail: int, path: Path
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fs, rs = header.frame_size, header.record_size
        start = header.data_start + j * fs
        end = fs - tail
        pieces = []
        while end > 0:
            if end < FRAME_HEADER + FRAME_FOOTER:
                break
            footer = int.from_bytes(raw[start + end - FRAME_FOOTER:start + end], "little")
            size = footer & 0x7FF
            if size < FRAME_HEADER + FRAME_FOOTER or size > end:
                break
            n = (size - FRAME_HEADER - FRAME_FOOTER) // rs
            head = np.frombuffer(raw, dtype=_FRAME_HEADER_DTYPE, count=1, offset=start + end - size)
            pieces.append((start + end - size, n, head))
            end -= size
        if end != 0:
            warn(DataQualityWarning, f"{path}: frame {j + 1} (byte {start}): its minor frames do not add up to the "
                                     "frame size; the frame is skipped")
            pieces = []
        offsets, times, recs = [], [], []
        for mstart, n, head in reversed(pieces):
            pos = np.arange(n, dtype=np.int64)
            offsets.append(mstart + FRAME_HEADER + pos * rs)
            times.append(self._frame_time(head, header)[0] + pos * header.interval)
            recs.append(int(head["rec"][0]) + pos)
        if not offsets:
            return (np.empty(0, np.int64),) * 3
        return np.concatenate(offsets), np.concatenate(times), np.concatenate(recs)


def _dataset(raw: bytes, header: _Header, path: Path) -> xr.Dataset:
    frames = _Frames(raw, header, path)
    order = np.lexsort((frames.records, frames.times))
    rec = frames.data(header)[order]
    columns = [record_variable(frames.records[order])]
    for j, (name, spec) in enumerate(zip(header.names, header.specs, strict=True)):
        columns.append(Column(name, decode_field(spec, rec[f"f{j}"]), units=header.units[j],
                              process=header.process[j], attrs={"campbell_type": header.types[j]}))
    attrs = dict(header.attrs)
    attrs["source_file"] = path.name
    attrs["frames_skipped"] = frames.skipped
    return build_dataset(frames.times[order].astype("datetime64[ns]"), columns, attrs,
                         {"comment": "frame time plus record position times the record interval"})


class Tob3Reader:
    """Reader for Campbell Scientific TOB3 binary files (one table per file).

    Examples
    --------
    >>> from crac_tools.formats.tob3 import Tob3Reader
    >>> Tob3Reader().sniff(b'"TOB1","St","CR1000"', None)
    False
    """

    name = "tob3"
    multi_table = False

    @safe_sniff
    def sniff(self, head: bytes, path: Path | None) -> bool:
        """True for ``"TOB3"`` files whose header lines (as far as ``head`` reaches) are consistent."""
        return sniff_header(head, path, _MAGIC, _Header, lines=6, partial_lines=2)

    def read(self, path: str | os.PathLike, table: str | None = None, **options) -> xr.Dataset:
        """Read a TOB3 file into an :class:`xarray.Dataset`.

        Parameters
        ----------
        path
            The TOB3 file.
        table
            When given, the table name the file must hold (header line 2, first field).
        **options
            Accepted for the reader protocol; not used.

        Returns
        -------
        xarray.Dataset
            ``RECORD`` and one variable per field along ``time`` (sorted); header metadata in ``attrs``
            (``frames_skipped`` counts frames with a stale validation stamp).

        Raises
        ------
        ParseError
            Bad or incomplete header, an unsupported data type, or ``table`` differs from the file's table.

        Examples
        --------
        >>> ds = Tob3Reader().read("TOB3_long27.dat")  # doctest: +SKIP
        >>> str(ds["time"].values[0])  # doctest: +SKIP
        '2026-02-19T09:46:17.005000000'
        """
        path = Path(path)
        raw = path.read_bytes()
        header = _Header(raw, path)
        check_table(path, table, header.table, line=2)
        return _dataset(raw, header, path)

    def read_tree(self, path: str | os.PathLike, **options) -> xr.DataTree:
        """Read the file as a DataTree with one group named by the table (header line 2).

        Examples
        --------
        >>> list(Tob3Reader().read_tree("TOB3_long27.dat").children)  # doctest: +SKIP
        ['TOB3_Long']
        """
        return named_table_tree(self.read(path, **options))

    def time_range(self, path: str | os.PathLike, **options) -> TimeRange:
        """First and last record time and the record count (frames are validated, so the file is read).

        Examples
        --------
        >>> Tob3Reader().time_range("TOB3_long27.dat").n  # doctest: +SKIP
        79
        """
        path = Path(path)
        raw = path.read_bytes()
        header = _Header(raw, path)
        frames = _Frames(raw, header, path)
        return time_span(frames.times.astype("datetime64[ns]"))


register(Tob3Reader())


def read_tob3(path: str | os.PathLike) -> xr.Dataset:
    """Read a Campbell TOB3 file (see :class:`Tob3Reader`).

    Examples
    --------
    >>> int(read_tob3("TOB3_long27.dat").sizes["time"])  # doctest: +SKIP
    79
    """
    return Tob3Reader().read(path)
