"""Campbell Scientific mixed-array (CR10, CR10X, CR23X, 21X ...) final-storage reader.

Mixed-array loggers write comma-separated lines with no header; the first field of each line is the
*array id* (the output instruction's id), so one file may hold several tables with different field counts::

    101,2024,258,1800,13.61,.427,13.37,5.829,21,4.412,96.5,1010,4.528
    102,2024,259,0,12.9,4.41

- Each array id becomes one table: :meth:`Cr10xReader.read_tree` gives one group per id (``array_101``);
  :meth:`Cr10xReader.read` returns the only one, or the one named by ``table=`` (``101``, ``"101"``,
  ``"array_101"`` or the table name from the .DEF), and raises a :class:`~crac_tools.errors.ParseError`
  listing the ids when there are several and none is named.
- Column names come from a Campbell program summary (Short Cut ``.DEF``) found beside the data file: any
  ``*.DEF`` in the same folder whose output tables define the file's array ids (with matching field counts).
  A station config can pass them instead as ``columns={101: ["ID", "Year_RTM", ...]}`` (with or without the
  id field). Otherwise the fields are named ``field_5``, ``field_6``, ... by their position in the line.
- Time: year (2 or 4 digits), day of year and HHMM (no leading zeros; ``2400`` is midnight at the end of
  that day), optionally seconds. With names, the fields are found by name (``Year``, ``Day``,
  ``Hour_Minute``, ``Seconds``, with or without ``_RTM``); without names, fields 2-4 must be
  year, day and HHMM. A table without a year field needs ``year=``. The time fields become the ``time``
  coordinate (UTC is assumed: the logger clock has no zone); the id field goes to ``attrs["array_id"]``.
- Values are floats (leading-dot decimals such as ``.427`` included); the over-range sentinels
  ``-6999`` and ``6999`` become NaN, with ``-6999`` kept as ``encoding["_FillValue"]``.
- An unterminated last line with too few fields (a file cut while being written) is left out with a
  :class:`~crac_tools.errors.TruncatedRecordWarning`; any other line with the wrong field count is a
  :class:`~crac_tools.errors.ParseError` naming the line. Records stay in file order (a logger clock set
  back makes time go backwards; that is kept, not an error).

Parsing is vectorized: line boundaries, field counts and array ids come from numpy over the whole buffer,
and the lines of each array id are handed to :mod:`pyarrow.csv` in one piece.

Examples
--------
>>> from crac_tools.formats.cr10x import read_cr10x
>>> ds = read_cr10x("CR10X_array_WX_data.dat")  # doctest: +SKIP
>>> ds["AirTC_AVG"].values[0]  # doctest: +SKIP
np.float32(4.412)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import xarray as xr

from ..errors import DataQualityWarning, ParseError, TruncatedRecordWarning, warn
from .campbell_types import Column, build_dataset
from .common import no_records, safe_sniff, time_span
from .registry import SNIFF_BYTES, TimeRange, register
from .values import as_float

#: Over-range values written by mixed-array loggers (FP2 +-6999), read as NaN.
SENTINELS = (-6999.0, 6999.0)
_MAX_ID = 1023
_DEF_TABLE_RE = re.compile(r"^\s*(\d+)\s+(\S+)\s+([0-9.]+)\s+([A-Za-z]+)\s*$")
_DEF_ENTRY_RE = re.compile(r"^\s*(\d+)\s+(\S+)(?:\s+([A-Za-z]{1,2}))?\s*$")
_SNIFF_LINE_RE = re.compile(rb"[0-9]{1,4}(,[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)){3,}")
_CONVERT_RE = re.compile(r"column #(\d+): Row #(\d+): CSV conversion error to \w+.*?: invalid value '(.*)'", re.S)
_FIELDS_RE = re.compile(r"Row #(\d+): Expected (\d+) columns, got (\d+)")


# --------------------------------------------------------------------------------------------------
# .DEF program summaries
# --------------------------------------------------------------------------------------------------


@dataclass
class DefTable:
    """One output array of a Short Cut ``.DEF`` program summary."""

    array_id: int
    name: str
    interval: str
    labels: list[str] = field(default_factory=list)


def parse_def(text: str) -> dict[int, DefTable]:
    """Output arrays of a Short Cut ``.DEF`` summary: id -> :class:`DefTable` (labels include the id field).

    An output table starts with ``<id> <name> <interval> <unit>`` followed by ``1 <id> L``, then one
    ``<n> <label> <L|H>`` line per field.

    Examples
    --------
    >>> t = parse_def("101 Output_Table  30.00 Min\\n1 101 L\\n2 Year_RTM  L\\n3 Day_RTM  L\\n")[101]
    >>> t.name, t.interval, t.labels
    ('Output_Table', '30.00 Min', ['101', 'Year_RTM', 'Day_RTM'])
    """
    lines = text.splitlines()
    tables: dict[int, DefTable] = {}
    i = 0
    while i < len(lines):
        m = _DEF_TABLE_RE.match(lines[i])
        first = _DEF_ENTRY_RE.match(lines[i + 1]) if m and i + 1 < len(lines) else None
        if m and first and first.group(1) == "1" and first.group(2) == m.group(1):
            table = DefTable(int(m.group(1)), m.group(2), f"{m.group(3)} {m.group(4)}")
            i += 1
            n = 1
            while i < len(lines):
                e = _DEF_ENTRY_RE.match(lines[i])
                if not e or int(e.group(1)) != n:
                    break
                table.labels.append(e.group(2))
                n += 1
                i += 1
            tables.setdefault(table.array_id, table)
            continue
        i += 1
    return tables


def _def_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".def" and p.is_file())
    except OSError:
        return []


def find_def(path: Path, counts: dict[int, int], warn_mismatch: bool = False
             ) -> tuple[Path | None, dict[int, DefTable]]:
    """The ``.DEF`` beside ``path`` that defines the most of the array ids in ``counts`` (id -> field count).

    An array counts only when the .DEF gives it the same number of fields as the data lines have.
    """
    best: tuple[int, Path | None, dict[int, DefTable]] = (0, None, {})
    for def_path in _def_files(path.parent):
        try:
            tables = parse_def(def_path.read_bytes().decode("latin-1"))
        except OSError:
            continue
        hits = {i: t for i, t in tables.items() if i in counts and len(t.labels) == counts[i]}
        for i, t in tables.items():
            if warn_mismatch and i in counts and len(t.labels) != counts[i]:
                warn(DataQualityWarning, f"{path}: {def_path.name} defines array {i} with {len(t.labels)} "
                                         f"fields but the data lines have {counts[i]}; its names are not used")
        if len(hits) > best[0]:
            best = (len(hits), def_path, hits)
    return best[1], best[2]


# --------------------------------------------------------------------------------------------------
# line scanning (numpy over the whole buffer)
# --------------------------------------------------------------------------------------------------


class _Lines:
    """Line boundaries, field counts and array ids of the whole file."""

    def __init__(self, raw: bytes, path: Path) -> None:
        arr = np.frombuffer(raw, dtype=np.uint8)
        nl = np.flatnonzero(arr == 10)
        starts = np.concatenate(([0], nl + 1))
        ends = np.concatenate((nl, [arr.size]))
        if starts[-1] == arr.size:  # the file ends with a newline: no last line after it
            starts, ends = starts[:-1], ends[:-1]
        next_starts = np.concatenate((starts[1:], [arr.size]))
        self.terminated_last = bool(raw.endswith(b"\n"))
        # blank lines (nothing but spaces, tabs or CR) are skipped, as pyarrow skips them
        ink = np.concatenate(([0], np.cumsum((arr != 32) & (arr != 9) & (arr != 13) & (arr != 10))))
        blank = ink[ends] == ink[starts]
        ends = ends - ((ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13))
        keep = ~blank
        self.lineno = np.flatnonzero(keep) + 1  # 1-based file line numbers of the data lines
        self.starts, self.ends, self.next_starts = starts[keep], ends[keep], next_starts[keep]
        commas = np.flatnonzero(arr == 44)
        c0 = np.searchsorted(commas, self.starts)
        self.nfields = np.searchsorted(commas, self.ends) - c0 + 1
        first_end = self.ends.copy()
        multi = self.nfields > 1
        first_end[multi] = commas[c0[multi]]
        self.ids = self._ids(arr, self.starts, first_end, path)

    def _ids(self, arr: np.ndarray, starts: np.ndarray, stops: np.ndarray, path: Path) -> np.ndarray:
        ln = stops - starts
        bad = (ln < 1) | (ln > 4)
        ids = np.zeros(starts.size, dtype=np.int64)
        for k in range(4):  # at most 4 digits: vectorized over lines
            has = k < ln
            digit = arr[np.minimum(starts + k, arr.size - 1)].astype(np.int64) - 48
            bad |= has & ((digit < 0) | (digit > 9))
            ids = np.where(has, ids * 10 + digit, ids)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            token = bytes(arr[starts[j]:stops[j]][:20]).decode("latin-1")
            raise ParseError(path, "a line does not start with an array id", line=int(self.lineno[j]),
                             column="array id", expected="an integer array id (1-4 digits)", found=repr(token))
        return ids

    def __len__(self) -> int:
        return int(self.starts.size)


# --------------------------------------------------------------------------------------------------
# time fields
# --------------------------------------------------------------------------------------------------

_ROLE_PATTERNS = (
    ("year", re.compile(r"^(year|yr|yyyy|yy)(_?rtm)?$", re.I)),
    ("day", re.compile(r"^(day|doy|jday|julian_?day|day_?of_?year)(_?rtm)?$", re.I)),
    ("hhmm", re.compile(r"^(hour_?minute|hourminute|hour_?min|hhmm|hrmin|time)(_?rtm)?$", re.I)),
    ("seconds", re.compile(r"^(sec|secs|second|seconds)(_?rtm)?$", re.I)),
)


def _time_roles(names: list[str]) -> dict[str, int]:
    """Positions of the year/day/HHMM/seconds fields among the first fields after the id, found by name."""
    roles: dict[str, int] = {}
    for j, name in enumerate(names[1:6], start=1):
        for role, pattern in _ROLE_PATTERNS:
            if role not in roles and pattern.match(name.strip()):
                roles[role] = j
                break
    return roles


def _valid_hhmm(hhmm: np.ndarray) -> np.ndarray:
    return (hhmm >= 0) & (hhmm <= 2400) & (hhmm % 100 < 60) & (hhmm == np.floor(hhmm))


def _guess_roles(cols: list[np.ndarray]) -> dict[str, int] | None:
    """Fields 2-4 as year, day of year and HHMM when every value fits; else None."""
    if len(cols) < 4:
        return None
    year, day, hhmm = cols[1], cols[2], cols[3]
    with np.errstate(invalid="ignore"):
        ok = (year == np.floor(year)) & (((year >= 0) & (year <= 99)) | ((year >= 1970) & (year <= 2100)))
        ok &= (day == np.floor(day)) & (day >= 1) & (day <= 366)
        ok &= _valid_hhmm(hhmm)
    return {"year": 1, "day": 2, "hhmm": 3} if bool(ok.all()) else None


def _build_time(cols: list[np.ndarray], roles: dict[str, int], year: int | None, lineno: np.ndarray,
                names: list[str], path: Path) -> np.ndarray:
    n = cols[0].size

    def check(mask: np.ndarray, role: str, expected: str) -> None:
        if not mask.all():
            j = int(np.flatnonzero(~mask)[0])
            raise ParseError(path, f"bad {role} value", line=int(lineno[j]), column=names[roles[role]],
                             expected=expected, found=repr(float(cols[roles[role]][j])))

    if "year" in roles:
        y = cols[roles["year"]]
        with np.errstate(invalid="ignore"):
            check((y == np.floor(y)) & (((y >= 0) & (y <= 99)) | ((y >= 1900) & (y <= 2200))), "year",
                  "a 2- or 4-digit year")
        y = y.astype(np.int64)
        y = np.where(y < 70, y + 2000, np.where(y < 100, y + 1900, y))
    elif year is not None:
        y = np.full(n, int(year), dtype=np.int64)
    else:
        raise ParseError(path, "the array has no year field", column=names[0],
                         expected="a year field, or the year= option", found=", ".join(names[:5]))
    if "day" not in roles or "hhmm" not in roles:
        raise ParseError(path, "no day-of-year and hour-minute fields", column=names[0],
                         expected="day of year and HHMM fields (by name or as fields 3 and 4)",
                         found=", ".join(names[:5]))
    d = cols[roles["day"]]
    with np.errstate(invalid="ignore"):
        check((d == np.floor(d)) & (d >= 1) & (d <= 366), "day", "a day of year 1-366")
        hm = cols[roles["hhmm"]]
        check(_valid_hhmm(hm), "hhmm", "HHMM between 0 and 2400 with minutes < 60")
    hm = hm.astype(np.int64)
    t = (y - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype("datetime64[ns]").astype(np.int64)
    t = t + (d.astype(np.int64) - 1) * 86_400_000_000_000
    t = t + (hm // 100) * 3_600_000_000_000 + (hm % 100) * 60_000_000_000
    if "seconds" in roles:
        s = cols[roles["seconds"]]
        with np.errstate(invalid="ignore"):
            check((s >= 0) & (s < 60), "seconds", "seconds 0-59.999")
        t = t + np.rint(s * 1e9).astype(np.int64)
    return t.astype("datetime64[ns]")


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


def _columns_option(columns: object, path: Path) -> dict[int, list[str]]:
    """``columns={array_id: [names]}`` from a station config; keys that are not array ids are ignored."""
    out: dict[int, list[str]] = {}
    if not isinstance(columns, dict):
        return out
    for key, names in columns.items():
        text = str(key).strip()
        if text.lower().startswith("array_"):
            text = text[6:]
        if not text.isdigit():
            continue
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise ParseError(path, f"columns option for array {text} is not a list of names",
                             expected="a list of column names", found=type(names).__name__)
        out[int(text)] = list(names)
    return out


def _parse_group(raw: bytes, lines: _Lines, sel: np.ndarray, nfields: int, path: Path) -> list[np.ndarray]:
    """float64 columns of the selected lines (all with ``nfields`` fields), parsed by pyarrow in one piece."""
    if sel.size == 0:
        return [np.empty(0) for _ in range(nfields)]
    first, last = int(sel[0]), int(sel[-1])
    contiguous = last - first + 1 == sel.size and bool(
        (lines.next_starts[first:last] == lines.starts[first + 1:last + 1]).all())
    if contiguous:  # one run of lines without blank lines in between: no copy needed
        buf = raw[lines.starts[first]:lines.next_starts[last]]
    else:
        arr = np.frombuffer(raw, dtype=np.uint8)
        st, en = lines.starts[sel], lines.ends[sel]
        lens = en - st + 1
        idx = np.repeat(st - np.cumsum(np.r_[0, lens[:-1]]), lens) + np.arange(int(lens.sum()))
        data = arr[np.minimum(idx, arr.size - 1)].copy()
        data[np.cumsum(lens) - 1] = 10  # each line ends with '\n'
        buf = data.tobytes()
    names = [f"f{j}" for j in range(nfields)]
    read_opts = pacsv.ReadOptions(column_names=names, use_threads=False)
    conv = pacsv.ConvertOptions(column_types={n: pa.float64() for n in names}, null_values=[],
                                strings_can_be_null=False)
    try:
        tab = pacsv.read_csv(pa.BufferReader(buf), read_options=read_opts, convert_options=conv)
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        m = _CONVERT_RE.search(msg)
        if m:
            row = int(m.group(2))
            line = int(lines.lineno[sel[row - 1]]) if row - 1 < sel.size else None
            raise ParseError(path, "bad value", line=line, column=f"field {int(m.group(1)) + 1}",
                             expected="a number", found=repr(m.group(3))) from None
        f = _FIELDS_RE.search(msg)
        if f:
            row = int(f.group(1))
            line = int(lines.lineno[sel[row - 1]]) if row - 1 < sel.size else None
            raise ParseError(path, "wrong number of fields", line=line, expected=f"{f.group(2)} fields",
                             found=f.group(3)) from None
        raise ParseError(path, f"cannot parse the data ({msg})") from None
    if tab.num_rows != sel.size:
        raise ParseError(path, "blank or malformed lines in the data", expected=f"{sel.size} records",
                         found=f"{tab.num_rows}")
    return [tab.column(j).to_numpy() for j in range(nfields)]


@dataclass
class _Table:
    array_id: int
    nfields: int
    sel: np.ndarray
    names: list[str]
    names_from: str
    def_table: DefTable | None = None


class Cr10xReader:
    """Reader for Campbell mixed-array (CR10X, CR23X, CR10, 21X) comma-separated final-storage files.

    Examples
    --------
    >>> from crac_tools.formats.cr10x import Cr10xReader
    >>> head = b"101,2024,258,1800,13.61,.427\\n101,2024,258,1830,13.73,.85\\n101,2024,258,1900,14.2,2.3\\n"
    >>> Cr10xReader().sniff(head, None)
    True
    >>> Cr10xReader().sniff(b"a,b,c\\n1,2,3\\n", None)
    False
    """

    name = "cr10x"
    multi_table = True

    # ---------------------------------------------------------------------------------------------- sniff
    @safe_sniff
    def sniff(self, head: bytes, path: Path | None) -> bool:
        """Conservative test: number-only lines keyed by a small integer array id.

        Accepted when the complete lines in ``head`` are all numeric with a consistent field count per id
        and either a ``.DEF`` beside the file defines those ids with the same field counts, or fields 2-4 of
        every line (at least 3) are a valid year, day of year and HHMM that never go backwards within an id
        (and strictly increase when the year has 2 digits).
        """
        text = head
        if len(head) >= SNIFF_BYTES:  # the last line may be cut
            text = head[:head.rfind(b"\n") + 1]
        lines = [ln.strip() for ln in text.split(b"\n") if ln.strip()]
        if not lines or not all(_SNIFF_LINE_RE.fullmatch(ln) for ln in lines):
            return False
        rows = [ln.split(b",") for ln in lines]
        counts: dict[int, int] = {}
        for r in rows:
            i = int(r[0])
            if not 1 <= i <= _MAX_ID or counts.setdefault(i, len(r)) != len(r):
                return False
        if len(counts) > 20:
            return False
        if path is not None:
            _, tables = find_def(Path(path), counts)
            if tables and set(tables) == set(counts):
                return True
        if len(rows) < 3:
            return False
        last: dict[int, tuple[float, float, float]] = {}
        for r in rows:
            if len(r) < 5 or any(b"." in x for x in r[1:4]):
                return False
            y, d, hm = int(r[1]), int(r[2]), int(r[3])
            if not (0 <= y <= 99 or 1970 <= y <= 2100) or not 1 <= d <= 366:
                return False
            if not (0 <= hm <= 2400 and hm % 100 < 60):
                return False
            yy = y + 2000 if y < 70 else (y + 1900 if y < 100 else y)
            key = (yy, d, hm)
            prev = last.get(int(r[0]))
            # time never goes back; with 2-digit years it must strictly increase (more evidence needed)
            if prev is not None and (key < prev or (key == prev and y < 100)):
                return False
            last[int(r[0])] = key
        return True

    # ---------------------------------------------------------------------------------------------- scan
    def _tables(self, raw: bytes, path: Path, columns: object) -> tuple[_Lines, dict[int, _Table], list, Path | None]:
        lines = _Lines(raw, path)
        if len(lines) == 0:
            raise ParseError(path, "no data lines", expected="comma-separated lines starting with an array id",
                             found="an empty file")
        truncated: list[int] = []
        keep = np.ones(len(lines), dtype=bool)
        counts: dict[int, int] = {}
        uniq, inverse = np.unique(lines.ids, return_inverse=True)
        for k, array_id in enumerate(uniq.tolist()):
            sel = np.flatnonzero(inverse == k)
            nf = lines.nfields[sel]
            vals, freq = np.unique(nf, return_counts=True)
            counts[array_id] = int(vals[np.argmax(freq)])
        last = len(lines) - 1
        if not lines.terminated_last:
            exp = counts[int(lines.ids[last])]
            alone = int((lines.ids == lines.ids[last]).sum()) == 1 and len(lines) > 1
            alone &= int(lines.nfields[last]) < 4  # a line cut inside its array id
            if lines.nfields[last] < exp or alone:
                keep[last] = False
                truncated.append(int(lines.lineno[last]))
                warn(TruncatedRecordWarning, f"{path}, line {int(lines.lineno[last])}: truncated last line left out "
                     f"(expected {exp} fields, found {int(lines.nfields[last])}; no line terminator)")
                if alone:
                    del counts[int(lines.ids[last])]
            else:
                warn(TruncatedRecordWarning, f"{path}, line {int(lines.lineno[last])}: last line lacks its line "
                                             "terminator (kept: it has all fields)")
        expected = np.array([counts.get(int(i), -1) for i in uniq.tolist()])[inverse.reshape(-1)]
        wrong = keep & (lines.nfields != expected)
        if wrong.any():
            j = int(np.flatnonzero(wrong)[0])
            raise ParseError(path, f"wrong number of fields for array {int(lines.ids[j])}", line=int(lines.lineno[j]),
                             expected=f"{int(expected[j])} fields (as the other lines of array {int(lines.ids[j])})",
                             found=f"{int(lines.nfields[j])} fields")
        given = _columns_option(columns, path)
        def_path, defs = (None, {}) if all(i in given for i in counts) else find_def(path, counts, True)
        tables: dict[int, _Table] = {}
        for array_id, nf in counts.items():
            sel = np.flatnonzero(keep & (lines.ids == array_id))
            names, source, dt = None, "generic", None
            if array_id in given:
                names = given[array_id]
                if len(names) == nf - 1:
                    names = [str(array_id), *names]
                if len(names) != nf:
                    raise ParseError(path, f"columns option for array {array_id} does not match the data",
                                     expected=f"{nf} names (or {nf - 1} without the id)",
                                     found=f"{len(given[array_id])} names")
                source = "columns option"
            elif array_id in defs:
                dt = defs[array_id]
                names, source = list(dt.labels), def_path.name
            if names is None:
                names = ["array_id"] + [f"field_{j + 1}" for j in range(1, nf)]
            tables[array_id] = _Table(array_id, nf, sel, names, source, dt)
        return lines, tables, truncated, def_path

    # ---------------------------------------------------------------------------------------------- build
    def _dataset(self, raw: bytes, lines: _Lines, table: _Table, path: Path, year: int | None,
                 sentinels: tuple[float, ...], truncated: list[int]) -> xr.Dataset:
        cols = _parse_group(raw, lines, table.sel, table.nfields, path)
        lineno = lines.lineno[table.sel]
        names = table.names
        roles = _time_roles(names) if table.names_from != "generic" else {}
        if "day" not in roles or "hhmm" not in roles:  # no names, or names that do not say: look at the values
            guessed = _guess_roles(cols) if lineno.size else {"year": 1, "day": 2, "hhmm": 3}
            if guessed is None:
                raise ParseError(path, f"cannot find the time fields of array {table.array_id}",
                                 line=int(lineno[0]), column=names[1] if len(names) > 1 else names[0],
                                 expected="fields 2-4 = year, day of year, HHMM (or names from a .DEF / columns=)",
                                 found=", ".join(f"{c[0]:g}" for c in cols[1:4]))
            roles = guessed
        time = _build_time(cols, roles, year, lineno, names, path) if lineno.size else \
            np.empty(0, "datetime64[ns]")
        used = {0, *roles.values()}
        sent = np.asarray(sentinels, dtype=np.float64)
        out = []
        for j, (name, values) in enumerate(zip(names, cols, strict=True)):
            if j in used:
                continue
            values = np.where(np.isin(values, sent), np.nan, values) if sent.size else values
            col = Column(name, as_float(values), attrs={"field_number": j + 1})
            if sent.size:
                col.fill_value = float(sent.min())
                col.attrs["comment"] = ("logger over-range values " + ", ".join(f"{s:g}" for s in sentinels)
                                        + " read as NaN")
            out.append(col)
        attrs: dict = {"file_format": "CR10X", "array_id": table.array_id, "source_file": path.name,
                       "column_names_from": table.names_from}
        if table.def_table is not None:
            attrs["table_name"] = table.def_table.name
            attrs["output_interval"] = table.def_table.interval
        if truncated:
            attrs["truncated_lines"] = ",".join(str(n) for n in truncated)
        tnames = [names[roles[r]] for r in ("year", "day", "hhmm", "seconds") if r in roles]
        return build_dataset(time, out, attrs, {"original_name": ", ".join(tnames)})

    @staticmethod
    def _pick(tables: dict[int, _Table], table: object, path: Path) -> _Table:
        names = ", ".join(f"array_{i}" + (f" ({t.def_table.name})" if t.def_table else "") for i, t in tables.items())
        if table is None:
            if len(tables) == 1:
                return next(iter(tables.values()))
            raise ParseError(path, f"the file holds several arrays: {names}; pass table= to choose one",
                             expected="table=<array id>", found=f"{len(tables)} arrays")
        text = str(table).strip()
        if text.lower().startswith("array_"):
            text = text[6:]
        if text.isdigit() and int(text) in tables:
            return tables[int(text)]
        for t in tables.values():
            if t.def_table is not None and t.def_table.name == text:
                return t
        raise ParseError(path, f"no array {table!r} in the file (it holds {names})", expected=f"one of {names}",
                         found=repr(table))

    # ---------------------------------------------------------------------------------------------- API
    def read(self, path: str | os.PathLike, table: str | int | None = None, columns: object = None,
             year: int | None = None, sentinels: tuple[float, ...] = SENTINELS, **options) -> xr.Dataset:
        """Read one array of a mixed-array file into an :class:`xarray.Dataset`.

        Parameters
        ----------
        path
            The data file.
        table
            The array to read (``101``, ``"101"``, ``"array_101"`` or its .DEF table name); needed when the
            file holds several arrays.
        columns
            ``{array_id: [names]}``: column names per array (with or without the id field), instead of a .DEF.
        year
            The year, for arrays that store no year field.
        sentinels
            Values read as NaN (default ``-6999`` and ``6999``).
        **options
            Accepted for the reader protocol; not used.

        Returns
        -------
        xarray.Dataset
            One float variable per value field along ``time``; ``array_id``, the .DEF table name and
            interval in ``attrs``.

        Raises
        ------
        ParseError
            Several arrays and no ``table=`` (the message lists them), an unknown table, a line with the
            wrong field count, a non-number, or bad time fields (each naming the line).

        Examples
        --------
        >>> ds = Cr10xReader().read("CR10X_array_WX_data.dat")  # doctest: +SKIP
        >>> ds.attrs["array_id"], ds.attrs["table_name"]  # doctest: +SKIP
        (101, 'Output_Table')
        """
        path = Path(path)
        raw = path.read_bytes()
        lines, tables, truncated, _ = self._tables(raw, path, columns)
        picked = self._pick(tables, table, path)
        return self._dataset(raw, lines, picked, path, year, tuple(sentinels), truncated)

    def read_tree(self, path: str | os.PathLike, columns: object = None, year: int | None = None,
                  sentinels: tuple[float, ...] = SENTINELS, **options) -> xr.DataTree:
        """Read every array into a DataTree with one group per array id (``array_101``, ...).

        Examples
        --------
        >>> list(Cr10xReader().read_tree("CR10X_array_WX_data.dat").children)  # doctest: +SKIP
        ['array_101']
        """
        path = Path(path)
        raw = path.read_bytes()
        lines, tables, truncated, _ = self._tables(raw, path, columns)
        groups = {f"array_{i}": self._dataset(raw, lines, t, path, year, tuple(sentinels), truncated)
                  for i, t in sorted(tables.items())}
        return xr.DataTree.from_dict(groups, name=None)

    def time_range(self, path: str | os.PathLike, **options) -> TimeRange:
        """First and last record time over all arrays and the record count (the file is read)."""
        tree = self.read_tree(path, **options)
        times = [node.ds["time"].values for node in tree.children.values() if node.ds.sizes.get("time")]
        if not times:
            return no_records()
        return time_span(np.concatenate(times))


register(Cr10xReader())


def read_cr10x(path: str | os.PathLike, table: str | int | None = None, **options) -> xr.Dataset:
    """Read one array of a Campbell mixed-array file (see :class:`Cr10xReader`)."""
    return Cr10xReader().read(path, table=table, **options)


__all__ = ["Cr10xReader", "DefTable", "find_def", "parse_def", "read_cr10x"]
