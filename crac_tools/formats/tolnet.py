"""TOLNet standardized ASCII profile format (ozone lidar profiles) reader.

A TOLNet file (format v1.0) is a general header, general comments, then repeated profile blocks::

    18       ; NUMBER OF GENERAL HEADER LINES (AFTER THIS LINE)
    v1.0     ; TOLNET STANDARDIZED FORMAT VERSION FOR PROFILE DATA
    8        ; NUMBER OF PROFILES IN THIS FILE
    14       ; NUMBER OF DATA COLUMNS FOR ALL PROFILES
    ALT, m, Altitude above sea level (center of sampling bin)   ; COLUMN 1
    ...                                                         ; (one definition per column)
    -9999, -9999, ...                                           ; MISSING DATA VALUES
    5        ; NUMBER OF GENERAL COMMENTS LINES (AFTER THIS LINE)
    UAH_O3_DIAL                                                 ; INSTRUMENT NAME
    ...
    #BEGIN PROFILE ;---------
    12       ; NUMBER OF HEADER LINES IN THIS PROFILE"S HEADER (AFTER THIS LINE)
    383      ; NUMBER OF DATA LINES IN THIS PROFILE
    2013- 4-29, 21:24:26                                        ; PROFILE DATE, TIME (UT) START
    ...                                                         ; (END, MEAN, a-priori source, comments)
    ALT, O3ND, O3NDUncert, ...                                  ; (column names)
    716.0, 1.591e+018, ...                                      ; (data lines)

Every value is followed by ``; label``. The reader follows the line counts, parses all data lines of all
profiles with one :mod:`pyarrow.csv` call, and returns a Dataset on ``(time, altitude)``:

- ``time``: the profile MEAN time (UTC; START when a profile has no MEAN line); ``start_time`` and
  ``end_time`` are variables along ``time``;
- ``altitude``: the union of the profiles' altitude grids (first column, ``original_name`` ``ALT``);
  a profile lacking a level has NaN there;
- one variable per other column with ``units`` and ``long_name`` from the column definitions; the
  declared missing values become NaN (kept in ``encoding["_FillValue"]``);
- per-profile header items (processing date/version, quality, a-priori source, operator comments) as
  variables along ``time``; general header and comment items as global attributes.

A file that ends inside a profile's data (a file still being written) keeps the complete lines of that
profile with a :class:`~crac_tools.errors.TruncatedRecordWarning`; profile times going backwards, bad
counts, a missing ``#BEGIN PROFILE`` line or a non-number are :class:`~crac_tools.errors.ParseError`.

Examples
--------
>>> import crac_tools as crac
>>> ds = crac.read("TOLNet-O3Lidar_UAH_20130429_R0.dat")  # doctest: +SKIP
>>> dict(ds.sizes)  # doctest: +SKIP
{'time': 8, 'altitude': 383}
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
from .common import safe_sniff, time_span
from .registry import TimeRange, register, single_table_tree
from .table_parse import _line_bounds
from .table_sniff import attr_name
from .values import as_float

_FIRST_RE = re.compile(rb"^\s*\d+\s*;\s*NUMBER OF GENERAL HEADER LINES", re.I)
_TIME_RE = re.compile(r"^\s*(\d{4})\s*-\s*(\d{1,2})\s*-\s*(\d{1,2})\s*,?\s+(\d{1,2})\s*:\s*(\d{1,2})"
                      r"(?:\s*:\s*(\d{1,2}(?:\.\d*)?))?\s*$")
_MEAN_RE = re.compile(rb"^([^;\r\n]*);\s*PROFILE DATE, TIME \(UT\) MEAN", re.I | re.M)
_CONVERT_RE = re.compile(r"column #(\d+): Row #(\d+): CSV conversion error to (\w+).*?: invalid value '(.*)'", re.S)
_FIELDS_RE = re.compile(r"Row #(\d+): Expected (\d+) columns, got (\d+)")
#: Profile header labels (upper case, start of label) -> variable name and kind.
_PROFILE_ITEMS = (
    ("DATA PROCESSING DATE", "processing_time", "time"),
    ("DATA PROCESSING VERSION", "processing_version", "str"),
    ("RESULTS QUALITY", "quality", "str"),
    ("PROFILE DATE, TIME (UT) START", "start_time", "time"),
    ("PROFILE DATE, TIME (UT) END", "end_time", "time"),
    ("PROFILE DATE, TIME (UT) MEAN", "mean_time", "time"),
    ("SOURCE OF A PRIORI", "apriori_source", "str"),
    ("SOURCE DATE, TIME", "apriori_time", "time"),
    ("SOURCE LONGITUDE, LATITUDE, ELEVATION", "apriori_location", "lonlatalt"),
    ("OPERATOR COMMENTS", "operator_comments", "str"),
)


class _Lines:
    """Random access to the lines of a byte buffer (split at ``\\n``, ``\\r`` dropped)."""

    def __init__(self, raw: bytes, path: Path) -> None:
        self.raw, self.path = raw, path
        self.arr = np.frombuffer(raw, np.uint8)
        self.starts, self.ends, self.terminated = _line_bounds(self.arr)
        self.n = self.starts.size

    def text(self, i: int, what: str) -> str:
        if i >= self.n:
            raise ParseError(self.path, "the file ends inside the header", line=self.n,
                             expected=f"line {i + 1}: {what}", found="end of file")
        return self.raw[self.starts[i]:self.ends[i]].decode("latin-1")

    def item(self, i: int, what: str) -> tuple[str, str]:
        """(value, label) of a ``value ; label`` line."""
        value, _, label = self.text(i, what).partition(";")
        return value.strip(), label.strip()

    def count(self, i: int, what: str) -> int:
        value, _ = self.item(i, what)
        if not re.fullmatch(r"\d+", value):
            raise ParseError(self.path, f"bad {what}", line=i + 1, expected="a whole number", found=repr(value))
        return int(value)


def _parse_time(text: str, path: Path, line: int) -> np.datetime64:
    m = _TIME_RE.match(text)
    if not m:
        raise ParseError(path, "bad date/time", line=line, expected="'YYYY-MM-DD, hh:mm:ss'", found=repr(text))
    y, mo, d, h, mi = (int(g) for g in m.groups()[:5])
    sec = float(m.group(6) or 0)
    try:
        day = np.datetime64(f"{y:04d}-{mo:02d}-{d:02d}", "D")
    except ValueError:
        raise ParseError(path, "bad date", line=line, expected="a valid calendar date", found=repr(text)) from None
    if not (0 <= h < 24 and 0 <= mi < 60 and 0 <= sec < 61):
        raise ParseError(path, "bad time of day", line=line, expected="hh:mm:ss", found=repr(text))
    ns = (day.astype("datetime64[ns]").astype(np.int64) + (h * 3600 + mi * 60) * 10**9 + int(round(sec * 1e9)))
    return np.datetime64(int(ns), "ns")


def _label_key(label: str) -> str:
    """Attribute name for a ``; LABEL`` (parenthesised remarks and ``#`` dropped): ``data_revision``."""
    return attr_name(re.sub(r"\(.*?\)|#", " ", label)).lower()


def _numbers(text: str) -> list[float]:
    out = []
    for tok in text.split(","):
        try:
            out.append(float(tok))
        except ValueError:
            out.append(np.nan)
    return out


class TolnetReader:
    """Reader for TOLNet standardized ASCII lidar profile files.

    Examples
    --------
    >>> TolnetReader().sniff(b"18 ; NUMBER OF GENERAL HEADER LINES (AFTER THIS LINE)\\r\\n"
    ...                      b"v1.0 ; TOLNET STANDARDIZED FORMAT VERSION FOR PROFILE DATA\\r\\n", None)
    True
    >>> TolnetReader().sniff(b"2021,1,1,0,0\\n", None)
    False
    """

    name = "tolnet"
    multi_table = False

    @safe_sniff
    def sniff(self, head: bytes, path: Path | None) -> bool:
        """True when line 1 counts the general header lines and the header names TOLNet or a profile block."""
        if not _FIRST_RE.match(head):
            return False
        upper = head.upper()
        return b"TOLNET" in upper or b"#BEGIN PROFILE" in upper

    def read(self, path: str | os.PathLike, table: str | None = None, use_threads: bool = False,
             **options) -> xr.Dataset:
        """Read a TOLNet file into a Dataset on ``(time, altitude)``.

        Parameters
        ----------
        path
            The TOLNet ``.dat`` file.
        table
            Accepted for the reader protocol; must be None or ``"profiles"``.
        use_threads
            Let pyarrow use several threads.
        **options
            Accepted for the reader protocol; not used.

        Raises
        ------
        ParseError
            Bad or truncated header, missing ``#BEGIN PROFILE``, wrong field count, non-number, profile
            times going backwards (naming line, column, expected and found).

        Examples
        --------
        >>> ds = TolnetReader().read("TOLNet-O3Lidar_UAH_20130429_R0.dat")  # doctest: +SKIP
        >>> ds["O3MR"].attrs["units"]  # doctest: +SKIP
        'ppbv'
        """
        path = Path(path)
        if table not in (None, "profiles"):
            raise ParseError(path, f"a TOLNet file holds one table, not {table!r}", expected="table=None",
                             found=repr(table))
        raw = path.read_bytes()
        if b"\x00" in raw[:65536]:
            raise ParseError(path, "binary content, not a TOLNet text file", line=1, expected="text lines",
                             found="NUL bytes")
        lines = _Lines(raw, path)
        attrs, cols, missing, i = self._general(lines, path)
        ncol = len(cols)
        profiles, i_trunc = self._profiles(lines, attrs["number_of_profiles"], ncol, i, path)
        if not profiles:
            raise ParseError(path, "no profiles", line=lines.n, expected="#BEGIN PROFILE", found="end of file")
        values = self._data(lines, profiles, cols, path, use_threads)
        return self._build(path, attrs, cols, missing, profiles, values, i_trunc)

    # ----------------------------------------------------------------------------------------------------
    def _general(self, lines: _Lines, path: Path):
        n_gen = lines.count(0, "number of general header lines")
        version, _ = lines.item(1, "format version")
        n_prof = lines.count(2, "number of profiles")
        ncol = lines.count(3, "number of data columns")
        if n_gen < ncol + 4:
            raise ParseError(path, "the general header is too short for its column definitions", line=1,
                             expected=f">= {ncol + 4} lines", found=f"{n_gen}")
        cols = []
        for k in range(ncol):
            value, _ = lines.item(4 + k, f"definition of column {k + 1}")
            parts = [p.strip() for p in value.split(",", 2)]
            if not parts[0]:
                raise ParseError(path, "empty column name", line=5 + k, expected="'NAME, units, description'",
                                 found=repr(value))
            parts += [""] * (3 - len(parts))
            cols.append(tuple(parts))
        miss_text, _ = lines.item(4 + ncol, "missing data values")
        missing = _numbers(miss_text)
        if len(missing) == 1:
            missing = missing * ncol
        if len(missing) != ncol:
            raise ParseError(path, "the missing-value line does not match the columns", line=5 + ncol,
                             expected=f"{ncol} values", found=f"{len(missing)} values")
        attrs: dict = {"format_version": version, "number_of_profiles": n_prof}
        for k in range(4 + ncol + 1, 1 + n_gen):
            value, label = lines.item(k, "general header line")
            if label:
                attrs.setdefault(_label_key(label), value)
        i = 1 + n_gen
        n_com = lines.count(i, "number of general comment lines")
        for k in range(i + 1, i + 1 + n_com):
            value, label = lines.item(k, "general comment line")
            key = _label_key(label) if label else f"comment_{k - i}"
            nums = _numbers(value)
            if "LONGITUDE, LATITUDE, ELEVATION" in label.upper() and len(nums) >= 3 and np.isfinite(nums[:3]).all():
                prefix = key.split("longitude")[0] or "site_"
                for suffix, v in zip(("longitude", "latitude", "elevation"), nums, strict=False):
                    attrs.setdefault(prefix + suffix, v)
                continue
            attrs.setdefault(key, value)
        return attrs, cols, missing, i + 1 + n_com

    def _profiles(self, lines: _Lines, n_prof: int, ncol: int, i: int, path: Path):
        """Headers of the profiles: list of dicts with items, data line range; and the truncated line (or None)."""
        out: list[dict] = []
        trunc = None
        for p in range(n_prof):
            if i >= lines.n:
                warn(TruncatedRecordWarning, f"{path}, line {lines.n}: the file ends after {p} of {n_prof} "
                                             "profiles (kept the complete ones)")
                trunc = lines.n
                break
            text = lines.text(i, "#BEGIN PROFILE")
            if not text.strip().upper().startswith("#BEGIN PROFILE"):
                raise ParseError(path, f"profile {p + 1} does not start where the counts say", line=i + 1,
                                 expected="#BEGIN PROFILE", found=repr(text[:60]))
            n_ph = lines.count(i + 1, "number of profile header lines")
            n_data = lines.count(i + 2, "number of data lines")
            items: dict = {}
            for k in range(i + 3, i + 2 + n_ph):
                value, label = lines.item(k, "profile header line")
                up = label.upper()
                for key, name, kind in _PROFILE_ITEMS:
                    if up.startswith(key) and name not in items:
                        items[name] = (value, kind, k + 1)
                        break
            names = [s.strip() for s in lines.item(i + 1 + n_ph, "column names line")[0].split(",")]
            if len(names) != ncol:
                raise ParseError(path, "the profile's column names do not match the column definitions",
                                 line=i + 2 + n_ph, expected=f"{ncol} names", found=f"{len(names)} names")
            first = i + 2 + n_ph
            last = first + n_data  # exclusive
            if last > lines.n:
                trunc = lines.n
                warn(TruncatedRecordWarning, f"{path}, line {lines.n}: the file ends inside profile {p + 1} "
                                             f"({lines.n - first} of {n_data} data lines; kept the complete ones)")
                last = lines.n
            out.append({"items": items, "first": first, "last": last, "names": names, "begin": i + 1,
                        "short": bool(trunc)})
            i = last
            if trunc:
                break
        else:
            rest = [k for k in range(i, lines.n) if lines.text(k, "").strip()]
            if rest:
                raise ParseError(path, "more lines than the declared profiles", line=rest[0] + 1,
                                 expected=f"end of file after {n_prof} profiles",
                                 found=repr(lines.text(rest[0], "")[:60]))
        return out, trunc

    def _data(self, lines: _Lines, profiles: list[dict], cols, path: Path, use_threads: bool) -> np.ndarray:
        """All data lines of all profiles as one float64 array (rows, ncol)."""
        ncol = len(cols)
        last = profiles[-1]
        if last["last"] > last["first"]:
            k = last["last"] - 1
            text = lines.text(k, "data line")
            unterminated = k == lines.n - 1 and not lines.terminated
            if len(text.split(",")) != ncol or (unterminated and last.get("short")):
                warn(TruncatedRecordWarning, f"{path}, line {k + 1}: truncated last line left out "
                                             f"({len(text.split(','))} of {ncol} fields, no line end)")
                last["last"] = k
                last["truncated"] = k + 1
        pieces, line_no = [], []
        for prof in profiles:
            a, b = prof["first"], prof["last"]
            if b > a:
                pieces.append(lines.arr[lines.starts[a]:lines.ends[b - 1]])
                pieces.append(np.array([10], np.uint8))
                line_no.append(np.arange(a + 1, b + 1))
        if not pieces:
            return np.empty((0, ncol))
        buf = np.concatenate(pieces)
        rows = np.concatenate(line_no)
        names = [f"c{j}" for j in range(ncol)]
        read_opts = pacsv.ReadOptions(column_names=names, use_threads=use_threads,
                                      block_size=max(1 << 20, min(buf.size + 1, 1 << 26)))
        conv = pacsv.ConvertOptions(column_types={n: pa.float64() for n in names}, null_values=[""])
        try:
            table = pacsv.read_csv(pa.BufferReader(pa.py_buffer(buf)), read_options=read_opts,
                                   convert_options=conv)
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            m = _CONVERT_RE.search(msg)
            f = _FIELDS_RE.search(msg)
            if m:
                j, row = int(m.group(1)), int(m.group(2))
                raise ParseError(path, "non-numeric value", line=int(rows[row - 1]), column=cols[j][0],
                                 expected="a number", found=repr(m.group(4))) from None
            if f:
                raise ParseError(path, "wrong number of fields", line=int(rows[int(f.group(1)) - 1]),
                                 expected=f"{ncol} fields", found=f"{f.group(3)} fields") from None
            raise ParseError(path, f"cannot parse the data ({msg})") from None
        if table.num_rows != rows.size:
            raise ParseError(path, "blank line inside a profile's data", expected=f"{rows.size} data lines",
                             found=f"{table.num_rows} non-blank lines")
        return np.column_stack([table.column(j).to_numpy(zero_copy_only=False).astype(np.float64)
                                for j in range(ncol)])

    def _build(self, path: Path, attrs: dict, cols, missing, profiles, values: np.ndarray, trunc) -> xr.Dataset:
        ncol = len(cols)
        for j in range(ncol):
            if np.isfinite(missing[j]):
                values[values[:, j] == missing[j], j] = np.nan
        counts = [p["last"] - p["first"] for p in profiles]
        bounds = np.concatenate(([0], np.cumsum(counts)))
        alt_all = values[:, 0]
        if np.isnan(alt_all).any():
            k = int(np.flatnonzero(np.isnan(alt_all))[0])
            raise ParseError(path, "missing altitude", line=self._row_line(profiles, counts, k), column=cols[0][0],
                             expected="an altitude", found="the missing value")
        alts = np.unique(alt_all)
        nt = len(profiles)
        grid = np.full((nt, alts.size, ncol - 1), np.nan)
        for p in range(nt):
            sl = slice(bounds[p], bounds[p + 1])
            alt = values[sl, 0]
            if np.unique(alt).size != alt.size:
                raise ParseError(path, f"profile {p + 1} repeats an altitude", line=profiles[p]["first"] + 1,
                                 column=cols[0][0], expected="one line per altitude", found="a repeated altitude")
            grid[p, np.searchsorted(alts, alt)] = values[sl, 1:]
        # per-profile header items
        per: dict[str, list] = {}
        for p, prof in enumerate(profiles):
            for name, (value, kind, line) in prof["items"].items():
                if kind == "time":
                    per.setdefault(name, [np.datetime64("NaT", "ns")] * nt)[p] = _parse_time(value, path, line)
                elif kind == "lonlatalt":
                    nums = (_numbers(value) + [np.nan] * 3)[:3]
                    for suffix, v in zip(("longitude", "latitude", "elevation"), nums, strict=True):
                        per.setdefault(f"apriori_{suffix}", [np.nan] * nt)[p] = v
                else:
                    per.setdefault(name, [""] * nt)[p] = value
        key = "mean_time" if "mean_time" in per else "start_time"
        if key not in per or any(np.isnat(t) for t in per[key]):
            line = profiles[0]["begin"]
            raise ParseError(path, "a profile has no date/time", line=line, expected="PROFILE DATE, TIME (UT) MEAN",
                             found="no such header line")
        time = np.array(per.pop(key), dtype="datetime64[ns]")
        steps = np.diff(time.astype(np.int64))
        if (steps < 0).any():
            p = int(np.flatnonzero(steps < 0)[0]) + 1
            raise ParseError(path, "profile times go backwards", line=profiles[p]["items"].get(
                "mean_time", profiles[p]["items"].get("start_time"))[2],
                expected=f"a time >= {time[p - 1]}", found=str(time[p]))
        name0, units0, desc0 = cols[0]
        coords = {"time": ("time", time, {"standard_name": "time", "long_name": f"profile {key.split('_')[0]} time "
                                                                                  "(UTC)"}),
                  "altitude": ("altitude", alts.astype(np.float64),
                               {"standard_name": "altitude", "units": units0 or "m", "long_name": desc0 or name0,
                                "original_name": name0, "positive": "up"})}
        data_vars: dict[str, xr.Variable] = {}
        for j in range(1, ncol):
            name, units, desc = cols[j]
            var = re.sub(r"[/\s]+", "_", name) or f"column_{j + 1}"
            arr = as_float(grid[:, :, j - 1])
            vattrs = {"long_name": desc or name}
            if units:
                vattrs["units"] = units
            if var != name:
                vattrs["original_name"] = name
            v = xr.Variable(("time", "altitude"), arr, vattrs)
            v.encoding["_FillValue"] = float(missing[j]) if np.isfinite(missing[j]) else np.nan
            while var in data_vars or var in coords:
                var += "_"
            data_vars[var] = v
        for name, vals in per.items():
            arr = np.array(vals, dtype="datetime64[ns]") if name.endswith("_time") else (
                np.array(vals, dtype=np.float64) if name.startswith("apriori_") and name != "apriori_source"
                else np.array(vals, dtype=object))
            long = name.replace("_", " ")
            vattrs = {"long_name": long}
            if name in ("apriori_longitude", "apriori_latitude"):
                vattrs["units"] = "degrees_east" if name.endswith("longitude") else "degrees_north"
            elif name == "apriori_elevation":
                vattrs["units"] = "m"
            data_vars[name] = xr.Variable(("time",), arr, vattrs)
        gattrs = {k: v for k, v in attrs.items()}
        gattrs["file_format"] = "tolnet"
        gattrs["source_file"] = path.name
        gattrs["time_source"] = f"profile {key.replace('_time', '').upper()} time"
        if trunc or profiles[-1].get("truncated"):
            gattrs["truncated_lines"] = str(profiles[-1].get("truncated") or trunc)
        return xr.Dataset(data_vars, coords=coords, attrs=gattrs)

    @staticmethod
    def _row_line(profiles, counts, k: int) -> int:
        for p, c in zip(profiles, counts, strict=True):
            if k < c:
                return p["first"] + k + 1
            k -= c
        return 0

    def read_tree(self, path: str | os.PathLike, **options) -> xr.DataTree:
        """The file as a DataTree with one group, ``profiles``."""
        return single_table_tree(self.read(path, **options), "profiles")

    def time_range(self, path: str | os.PathLike, **options) -> TimeRange:
        """First and last profile MEAN time and the profile count, from the profile header lines only.

        Examples
        --------
        >>> TolnetReader().time_range("TOLNet-O3Lidar_UAH_20130429_R0.dat").n  # doctest: +SKIP
        8
        """
        path = Path(path)
        raw = path.read_bytes()
        hits = _MEAN_RE.findall(raw)
        if not hits:
            return time_span(self.read(path)["time"].values, ordered=True)
        first = _parse_time(hits[0].decode("latin-1").strip(), path, 0)
        last = _parse_time(hits[-1].decode("latin-1").strip(), path, 0)
        return TimeRange(first, last, n=len(hits))


register(TolnetReader())


def read_tolnet(path: str | os.PathLike) -> xr.Dataset:
    """Read a TOLNet ASCII profile file (see :class:`TolnetReader`).

    Examples
    --------
    >>> ds = read_tolnet("TOLNet-O3Lidar_UAH_20130429_R0.dat")  # doctest: +SKIP
    >>> int(ds.sizes["altitude"])  # doctest: +SKIP
    383
    """
    return TolnetReader().read(path)
