"""Finding and building the ``time`` coordinate of a text table.

Time can come from one text column (ISO ``2021-04-01 00:00:00``, ``dd.mm.yyyy hh:mm``,
``mm/dd/yy hh:mm:ss AM``, ``15-Apr-2021`` ...), a date column plus a clock column, or several numeric
columns (year, month, day, day-of-year, hour, minute, second, HHMM, HHMMSS, YYYYMMDD, 2-digit years). Without
a spec the columns are found from their values: every role pattern (``Y M D h m s``, ``Y DOY M D h m``,
``D M YY HHMM``, ...) is tried on the leading columns, and among the patterns whose values are in range and
give non-decreasing times the one with the most distinct, most regular times and the most columns wins
(a day-of-year column that agrees with month/day, or a decimal-hour column that agrees with hour/minute,
count in favour). Everything is vectorised (numpy, ``pyarrow.compute.extract_regex``).

Examples
--------
>>> import numpy as np, pyarrow as pa
>>> ns, ok = parse_text(pa.array(["04/15/21 10:00:00 PM", "2021-04-15T22:15:00Z"]), "mdy/")
>>> ok.tolist()
[True, False]
>>> str(np.datetime64(int(ns[0]), "ns"))
'2021-04-15T22:00:00.000000000'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NS = 1_000_000_000
DAY = 86_400 * NS
_T = (r"(?:(?:[T ]|,\s*)\s*(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{1,2}(?:[.,]\d+)?))?"
      r"\s*(?P<p>[AaPp]\.?[Mm]\.?)?)?")
_Z = r"\s*(?P<z>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$"
#: Text date(-time) formats, in preference order (month-first before day-first for ambiguous slashes).
TEXT_FORMATS = {
    "iso": r"^\s*(?P<Y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})" + _T + _Z,
    "ymd/": r"^\s*(?P<Y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})" + _T + _Z,
    "ymd.": r"^\s*(?P<Y>\d{4})\.(?P<m>\d{1,2})\.(?P<d>\d{1,2})" + _T + _Z,
    "dmy.": r"^\s*(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<Y>\d{4}|\d{2})" + _T + _Z,
    "mdy/": r"^\s*(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<Y>\d{4}|\d{2})" + _T + _Z,
    "dmy/": r"^\s*(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<Y>\d{4}|\d{2})" + _T + _Z,
    "dmy-": r"^\s*(?P<d>\d{1,2})-(?P<m>\d{1,2})-(?P<Y>\d{4})" + _T + _Z,
    "dby": r"^\s*(?P<d>\d{1,2})[- ](?P<b>[A-Za-z]{3,9})\.?[- ,]+(?P<Y>\d{4})" + _T + _Z,
    "bdy": r"^\s*(?P<b>[A-Za-z]{3,9})\.?[- ](?P<d>\d{1,2}),?[- ]+(?P<Y>\d{4})" + _T + _Z,
}
CLOCK = r"^\s*(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{1,2}(?:[.,]\d+)?))?\s*(?P<p>[AaPp]\.?[Mm]\.?)?\s*$"
_MONTHS = pa.array(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
_OFFSET_RE = re.compile(r"(?:GMT|UTC)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\s*$")
_NAME_OFFSET_RE = re.compile(r"(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?", re.I)

#: Role patterns for numeric date columns and numeric time-of-day columns.
DATES = (("Y", "M", "D"), ("Y", "J", "M", "D"), ("Y", "J"), ("D", "M", "Y"), ("M", "D", "Y"), ("y2", "M", "D"),
         ("D", "M", "y2"), ("M", "D", "y2"), ("YMD",), ("Y", "M"))
TIMES = (("h", "m", "s"), ("h", "m"), ("HMS",), ("HM",), ("h",), ())
PATTERNS = tuple(d + t for d in DATES for t in TIMES if not (d == ("Y", "M") and t))
MAX_START = 4
_ROLE_WORDS = {
    "Y": {"year", "yr", "yyyy", "jahr"}, "y2": {"yy", "year", "yr"}, "M": {"month", "mon", "mo", "mm"},
    "D": {"day", "dd", "dy", "dom"}, "J": {"doy", "jday", "jd", "julian_day", "day_of_year", "dayofyear", "yday"},
    "h": {"hour", "hr", "hh", "hours"}, "m": {"minute", "min", "mi", "mn", "mm", "minutes"},
    "s": {"second", "sec", "ss", "seconds"}, "HM": {"hhmm", "hrmn", "time", "hm"}, "HMS": {"hhmmss", "time"},
    "YMD": {"yyyymmdd", "date"}, "text": {"time", "date", "datetime", "date_time", "timestamp", "date time"},
}


@dataclass
class Column:
    """What time detection needs to know about one parsed column."""

    index: int
    name: str | None
    kind: str  # "int", "float" or "string"
    values: np.ndarray
    arrow: pa.Array
    width: tuple[int, int]  # shortest / longest sampled token


@dataclass
class TimeResult:
    """The time coordinate (int64 ns since 1970, UTC) and the columns it was built from."""

    ns: np.ndarray
    used: list[int]
    how: str  # e.g. "Y M D h m" or "text iso"
    offset: int = 0  # UTC offset (s) subtracted from the file's local times


def utc_offset(text: str | float | int | None) -> int | None:
    """Seconds east of UTC from ``"+05:30"``, ``"GMT-05:00"``, ``"-7"``, ``"UTC"`` or a number of hours.

    Examples
    --------
    >>> utc_offset("GMT-05:00"), utc_offset("+01"), utc_offset(5.5), utc_offset("UTC")
    (-18000, 3600, 19800, 0)
    """
    if text is None:
        return None
    if isinstance(text, int | float):
        return int(round(float(text) * 3600))
    t = str(text).strip()
    if t.upper() in ("UTC", "GMT", "Z", "UT"):
        return 0
    m = _OFFSET_RE.search(t)
    if not m:
        return None
    sec = int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60
    return -sec if m.group(1) == "-" else sec


def name_offset(name: str | None) -> int | None:
    """UTC offset written in a column name (``"Date Time, GMT-05:00"`` -> -18000)."""
    if not name:
        return None
    m = _NAME_OFFSET_RE.search(name)
    if m:
        sec = int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60
        return -sec if m.group(1) == "-" else sec
    if re.search(r"\b(UTC|GMT)\b", name, re.I):
        return 0
    return None


# --------------------------------------------------------------------------------------------------------
# components -> ns
# --------------------------------------------------------------------------------------------------------

def _days_ymd(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of (year, month, day) and whether each date exists."""
    months = (y - 1970) * 12 + (m - 1)
    ok = (m >= 1) & (m <= 12) & (d >= 1)
    months = np.where(ok, months, 0)
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    nxt = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    ok &= d <= nxt - first
    return first + d - 1, ok


def _days_doy(y: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first = (y - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    nxt = (y - 1969).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    return first + j - 1, (j >= 1) & (j <= nxt - first)


def assemble(parts: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """ns since 1970 and validity from components ``Y y2 M D J YMD h m s HM HMS`` (any sensible subset)."""
    zero = np.zeros(n, np.int64)
    ok = np.ones(n, bool)
    if "YMD" in parts:
        v = parts["YMD"]
        y, mo, d = v // 10000, (v // 100) % 100, v % 100
    else:
        y = parts["Y"] if "Y" in parts else np.where(parts["y2"] < 69, 2000, 1900) + parts["y2"]
        mo, d = parts.get("M"), parts.get("D")
    if "J" in parts:
        days, ok_j = _days_doy(y, parts["J"])
        ok &= ok_j
        if mo is not None and d is not None:
            days_md, ok_md = _days_ymd(y, mo, d)
            ok &= ok_md & (days_md == days)
    else:
        days, ok_d = _days_ymd(y, mo if mo is not None else zero + 1, d if d is not None else zero + 1)
        ok &= ok_d
    if "HMS" in parts:
        v = parts["HMS"]
        h, mi, s = v // 10000, (v // 100) % 100, (v % 100).astype(np.float64)
    elif "HM" in parts:
        v = parts["HM"]
        h, mi, s = v // 100, v % 100, zero.astype(np.float64)
    else:
        h, mi = parts.get("h", zero), parts.get("m", zero)
        s = parts.get("s", zero).astype(np.float64)
    ok &= (h >= 0) & (h <= 24) & (mi >= 0) & (mi < 60) & (s >= 0) & (s < 61)
    ok &= (h < 24) | ((mi == 0) & (s == 0))  # 24:00 = end of the day
    ns = days * DAY + h * 3600 * NS + mi * 60 * NS + np.rint(s * NS).astype(np.int64)
    return ns, ok


# --------------------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------------------

def _field(st: pa.StructArray, name: str, valid: pa.Array | None) -> pa.Array | None:
    try:
        f = st.field(name)
    except KeyError:
        return None
    return f if valid is None else pc.if_else(valid, f, "")


def _to_num(a: pa.Array | None, n: int, dtype=np.int64, default: int = 0) -> np.ndarray:
    """Digits (``""`` = ``default``) to numbers; a leading ``0`` is joined on so ``""`` casts as 0."""
    if a is None:
        return np.full(n, default, dtype)
    if dtype is np.float64:
        a = pc.replace_substring(a, ",", ".")
    out = pc.cast(pc.binary_join_element_wise("0", a, ""), pa.float64() if dtype is np.float64 else pa.int64())
    out = out.to_numpy(zero_copy_only=False)
    if default:
        out = np.where(pc.equal(a, "").to_numpy(zero_copy_only=False), default, out)
    return out


def parse_regex(arr: pa.Array, pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """ns since 1970 (local time, minus any offset written in the values) and validity of each text value.

    ``pattern`` is an RE2 regex with named groups ``Y`` (2 or 4 digits), ``m``, ``d``, ``b`` (month name),
    ``j`` (day of year), ``H``, ``M``, ``S`` (may hold a fraction), ``f`` (fraction digits), ``p`` (AM/PM)
    and ``z`` (``Z``/``UTC``/``+hh:mm``); missing date groups default to 1, time groups to 0.
    """
    n = len(arr)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    st = pc.extract_regex(pc.fill_null(arr, ""), pattern)
    valid = st.is_valid() if st.null_count else None
    ok = np.ones(n, bool) if valid is None else valid.to_numpy(zero_copy_only=False).copy()
    ys = _field(st, "Y", valid)
    y = _to_num(ys, n, default=1970)
    if ys is not None:
        short = (pc.utf8_length(ys).to_numpy(zero_copy_only=False) == 2)
        y = np.where(short, np.where(y < 69, 2000, 1900) + y, y)
    b = _field(st, "b", valid)
    if b is not None:
        idx = pc.index_in(pc.utf8_slice_codeunits(pc.utf8_lower(b), 0, 3), value_set=_MONTHS)
        mo = pc.fill_null(idx, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
        ok &= mo >= 1
    else:
        mo = _to_num(_field(st, "m", valid), n, default=1)
    parts = {"Y": y, "M": mo, "D": _to_num(_field(st, "d", valid), n, default=1)}
    if "(?P<j>" in pattern:
        parts = {"Y": y, "J": _to_num(_field(st, "j", valid), n, default=1)}
    h = _to_num(_field(st, "H", valid), n)
    p = _field(st, "p", valid)
    if p is not None:
        first = pc.utf8_lower(pc.utf8_slice_codeunits(p, 0, 1)).to_numpy(zero_copy_only=False)
        pm, am = first == "p", first == "a"
        ok &= ~(pm | am) | ((h >= 1) & (h <= 12))
        h = np.where(am & (h == 12), 0, np.where(pm & (h < 12), h + 12, h))
    sec = _to_num(_field(st, "S", valid), n, np.float64)
    frac = _field(st, "f", valid)
    if frac is not None:
        digits = pc.utf8_length(frac).to_numpy(zero_copy_only=False)
        sec = sec + _to_num(frac, n, np.float64) / 10.0 ** digits
    parts.update(h=h, m=_to_num(_field(st, "M", valid), n), s=sec)
    ns, ok_c = assemble(parts, n)
    ok &= ok_c
    z = _field(st, "z", valid)
    if z is not None:
        zz = pc.extract_regex(z, r"^(?P<sg>[+-])(?P<zh>\d{2}):?(?P<zm>\d{2})?$")
        zv = zz.is_valid() if zz.null_count else None
        off = (_to_num(_field(zz, "zh", zv), n) * 3600 + _to_num(_field(zz, "zm", zv), n) * 60)
        sign = np.where(_field(zz, "sg", zv).to_numpy(zero_copy_only=False) == "-", -1, 1)
        ns = ns - sign * off * NS
    return ns, ok


def parse_text(arr: pa.Array, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse text in one of :data:`TEXT_FORMATS` (or ``"clock"``): ns since 1970 and validity."""
    if fmt == "iso" and len(arr) and not arr.null_count:
        for typ in (pa.timestamp("ns"), pa.timestamp("ns", tz="UTC")):
            try:  # Arrow's ISO-8601 parser: ~50x faster than the regex path
                out = pc.cast(pc.utf8_trim_whitespace(arr), typ)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            return out.cast(pa.int64()).to_numpy(zero_copy_only=False), np.ones(len(arr), bool)
    return parse_regex(arr, CLOCK if fmt == "clock" else TEXT_FORMATS[fmt])


def strptime_regex(fmt: str) -> str:
    """An RE2 regex for a ``strptime``-style format (``%Y %y %m %d %j %H %I %M %S %f %p %b %B %z %%``).

    ``%H%M`` written together also matches ``HHMM`` numbers without leading zeros (``"230"`` = 02:30).

    Examples
    --------
    >>> strptime_regex("%d.%m.%Y %H:%M")
    '^\\\\s*(?P<d>\\\\d{1,2})\\\\.(?P<m>\\\\d{1,2})\\\\.(?P<Y>\\\\d{4})\\\\s+(?P<H>\\\\d{1,2}):(?P<M>\\\\d{2})\\\\s*$'
    """
    table = {"Y": r"(?P<Y>\d{4})", "y": r"(?P<Y>\d{2})", "m": r"(?P<m>\d{1,2})", "d": r"(?P<d>\d{1,2})",
             "j": r"(?P<j>\d{1,3})", "H": r"(?P<H>\d{1,2})", "I": r"(?P<H>\d{1,2})", "M": r"(?P<M>\d{2})",
             "S": r"(?P<S>\d{1,2}(?:[.,]\d+)?)", "f": r"(?P<f>\d+)", "p": r"(?P<p>[AaPp]\.?[Mm]\.?)",
             "b": r"(?P<b>[A-Za-z]{3,9})\.?", "B": r"(?P<b>[A-Za-z]{3,9})", "z": r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)",
             "%": "%"}
    out, i = [r"^\s*"], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            code = fmt[i + 1]
            if code not in table:
                raise ValueError(f"unsupported time format directive %{code} in {fmt!r}")
            if code == "H" and fmt[i + 2:i + 4] == "%M":
                out.append(r"(?P<H>\d{0,2})")
            else:
                out.append(table[code])
            i += 2
        elif ch.isspace():
            out.append(r"\s+")
            while i < len(fmt) and fmt[i].isspace():
                i += 1
        else:
            out.append(re.escape(ch))
            i += 1
    out.append(r"\s*$")
    return "".join(out)


# --------------------------------------------------------------------------------------------------------
# detection
# --------------------------------------------------------------------------------------------------------

def _ints(c: Column) -> np.ndarray | None:
    v = c.values
    if c.kind == "int":
        return v
    if c.kind == "float" and v.size and np.isfinite(v).all() and (v == np.floor(v)).all():
        return v.astype(np.int64)
    return None


def _feasible(c: Column, role: str, cache: dict) -> np.ndarray | None:
    """The column's values when they fit ``role`` everywhere, else None."""
    key = (c.index, role)
    if key in cache:
        return cache[key]
    out = None
    if c.kind != "string":
        v = _ints(c)
        if v is not None and v.size:
            lo, hi = int(v.min()), int(v.max())
            wide = c.width[1]
            fits = {"Y": 1800 <= lo and hi <= 2200, "y2": 0 <= lo and hi <= 99 and c.width == (2, 2),
                    "M": 1 <= lo and hi <= 12, "D": 1 <= lo and hi <= 31, "J": 1 <= lo and hi <= 366,
                    "J+": 13 <= hi <= 366 and lo >= 1,
                    "h": 0 <= lo and hi <= 24, "m": 0 <= lo and hi <= 59, "s": 0 <= lo and hi <= 60,
                    "HM": 0 <= lo and hi <= 2400 and wide >= 3 and bool((v % 100 < 60).all()),
                    "HMS": 0 <= lo and hi <= 240000 and wide >= 5
                    and bool((v % 100 < 60).all() and ((v // 100) % 100 < 60).all()),
                    "YMD": 18000101 <= lo and hi <= 22001231 and wide == 8}.get(role, False)
            out = v if fits else None
    cache[key] = out
    return out


def _quality(ns: np.ndarray) -> tuple[float, float, bool]:
    """(distinct fraction, regularity, non-decreasing) of a time series."""
    n = ns.size
    if n < 2:
        return 1.0, 1.0, True
    steps = np.diff(ns)
    mono = bool((steps >= 0).all())
    distinct = 1.0 - float((steps == 0).sum()) / (n - 1)
    pos = steps[steps > 0]
    if pos.size == 0:
        return distinct, 0.0, mono
    _, counts = np.unique(pos, return_counts=True)
    return distinct, float(counts.max()) / (n - 1), mono


def _name_hits(cols: list[Column], roles: tuple[str, ...]) -> int:
    hits = 0
    for c, role in zip(cols, roles, strict=True):
        name = (c.name or "").strip().lower()
        words = _ROLE_WORDS.get(role, set())
        if name in words or any(name.endswith(w) for w in words if len(w) >= 3):
            hits += 1
    return hits


def _decimal_hour_bonus(cols: list[Column], j: int, parts: dict[str, np.ndarray]) -> int:
    """1 when column ``j`` holds the decimal hour of the assembled time of day."""
    if j >= len(cols) or cols[j].kind != "float" or not ({"h", "HM", "HMS"} & parts.keys()):
        return 0
    v = cols[j].values
    if "HM" in parts:
        h, m, s = parts["HM"] // 100, parts["HM"] % 100, 0
    elif "HMS" in parts:
        h, m, s = parts["HMS"] // 10000, (parts["HMS"] // 100) % 100, parts["HMS"] % 100
    else:
        h, m, s = parts["h"], parts.get("m", 0), parts.get("s", 0)
    with np.errstate(invalid="ignore"):
        return int(bool(np.all(np.abs(v - (h + m / 60 + s / 3600)) < 0.01)))


@dataclass
class _Cand:
    key: tuple
    ns: np.ndarray
    used: list[int]
    how: str
    mono: bool
    ncols: int
    name_col: str | None
    recipe: tuple = ()  # ("roles", roles) or ("text", fmt, with_clock): how to rebuild from other rows


def rebuild(cand: _Cand, cols: list[Column]) -> tuple[np.ndarray, np.ndarray]:
    """Recompute a candidate's times on ``cols`` (e.g. all rows after choosing on a sample)."""
    by_index = {c.index: c for c in cols}
    window = [by_index[j] for j in cand.used]
    n = window[0].values.size
    if cand.recipe[0] == "roles":
        parts = {}
        for c, role in zip(window, cand.recipe[1], strict=True):
            v = _feasible(c, role, {})
            if v is None:
                return np.zeros(n, np.int64), np.zeros(n, bool)
            parts[role] = v
        return assemble(parts, n)
    ns, ok = parse_text(window[0].arrow, cand.recipe[1])
    if cand.recipe[2]:
        tns, tok = parse_text(window[1].arrow, "clock")
        ns, ok = ns + tns, ok & tok
    return ns, ok


def sample_columns(cols: list[Column], k: int) -> list[Column]:
    """The first and last ``k`` rows of each column (for choosing a time recipe on large files)."""
    n = cols[0].values.size
    idx = np.r_[0:k, n - k:n]
    return [Column(c.index, c.name, c.kind, c.values[idx], pa.concat_arrays([c.arrow.slice(0, k),
                                                                            c.arrow.slice(n - k, k)]), c.width)
            for c in cols]


def candidates(cols: list[Column], restrict: list[int] | None = None,
               misses: list[tuple[int, int, str]] | None = None) -> list[_Cand]:
    """Every plausible way to build time from ``cols`` (all columns, or only ``restrict``).

    ``misses`` collects (column index, first bad row, format) of text columns whose sampled values are dates but
    some other value is not.
    """
    n = cols[0].values.size if cols else 0
    pool = [cols[j] for j in restrict] if restrict is not None else cols
    out: list[_Cand] = []
    cache: dict = {}
    # numeric role patterns on consecutive columns
    for start in range(min(MAX_START, len(pool)) if restrict is None else 1):
        for pi, roles in enumerate(PATTERNS):
            if start + len(roles) > len(pool) or (restrict is not None and len(roles) != len(pool)):
                continue
            window = pool[start:start + len(roles)]
            parts = {}
            for c, role in zip(window, roles, strict=True):
                strict = role == "J" and "M" not in roles and _name_hits([c], ("J",)) == 0
                v = _feasible(c, "J+" if strict else role, cache)
                if v is None:
                    break
                parts[role] = v
            else:
                ns, ok = assemble(parts, n)
                if not ok.all():
                    continue
                distinct, regular, mono = _quality(ns)
                bonus = ("J" in roles and "M" in roles) + _decimal_hour_bonus(pool, start + len(roles), parts)
                key = (distinct, regular, len(roles) + bonus, _name_hits(window, roles), -start, -pi)
                out.append(_Cand(key, ns, [c.index for c in window], " ".join(roles), mono, len(roles),
                                 window[0].name, ("roles", roles)))
    # text columns: a date(-time) column, optionally followed by a clock column
    for k, c in enumerate(pool):
        if c.kind != "string" or not c.values.size:
            continue
        fmt, has_clock = text_format(c.arrow)
        if fmt is None:
            continue
        ns, ok = parse_text(c.arrow, fmt)
        if not ok.all():
            if misses is not None:
                misses.append((c.index, int(np.flatnonzero(~ok)[0]), fmt))
            continue
        used, how = [c.index], f"text {fmt}"
        if not has_clock and k + 1 < len(pool) and pool[k + 1].kind == "string":
            tns, tok = parse_text(pool[k + 1].arrow, "clock")
            if tok.all():
                ns = ns + tns
                used.append(pool[k + 1].index)
                how += " + clock"
                has_clock = True
        if restrict is not None and len(used) != len(pool):
            continue
        distinct, regular, mono = _quality(ns)
        hits = int((c.name or "").strip().lower() in _ROLE_WORDS["text"]) + int(
            (c.name or "").strip().lower() == "time")
        key = (distinct, regular, 2 + 2 * has_clock, hits, -k, 0)
        out.append(_Cand(key, ns, used, how, mono, 3, c.name, ("text", fmt, len(used) == 2)))
    return out


def text_format(arr: pa.Array, sample: int = 200) -> tuple[str | None, bool]:
    """The first of :data:`TEXT_FORMATS` matching every non-empty sampled value, and whether it has a clock."""
    head = pc.drop_null(arr.slice(0, sample))
    head = pc.filter(head, pc.not_equal(pc.utf8_trim_whitespace(head), ""))
    if len(head) == 0:
        return None, False
    best_fmt, best_score, clock = None, 0.0, False
    allowed = max(1, len(head) // 10)  # a bad value or two is reported by the caller, not a reason to give up
    for fmt, rx in TEXT_FORMATS.items():  # the format that reads the most sampled values wins
        st = pc.extract_regex(head, rx)
        if st.null_count > allowed:
            continue
        _, ok = parse_regex(head, rx)
        score = float(ok.mean())
        if ok.sum() >= min(2, len(head)) and (~ok).sum() <= allowed and score > best_score:
            hours = pc.utf8_length(pc.fill_null(st.field("H"), "")).to_numpy(zero_copy_only=False)
            best_fmt, best_score, clock = fmt, score, bool((hours > 0).any())
    return best_fmt, clock


def best(cands: list[_Cand]) -> _Cand | None:
    """The best monotonic candidate, else None."""
    mono = [c for c in cands if c.mono]
    return max(mono, key=lambda c: c.key) if mono else None


def best_broken(cands: list[_Cand]) -> _Cand | None:
    """The best convincing candidate among those whose time goes backwards (for the error message)."""
    good = [c for c in cands if not c.mono and c.ncols >= 3 and c.key[0] > 0.5]
    return max(good, key=lambda c: c.key) if good else None
