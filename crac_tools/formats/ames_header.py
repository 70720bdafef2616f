"""The NASA Ames header (``NLHEAD FFI`` ...) shared by the NASA Ames and ICARTT readers, and fast number parsing.

A NASA Ames file (Gaines & Hipskind 1998, "Format Specification for Data Exchange", version 1.3) starts with a
header of ``NLHEAD`` lines whose first line is ``NLHEAD FFI``; the File Format Index (FFI) decides the rest of
the header and the layout of the data block. ICARTT (.ict) files are NASA Ames FFI 1001 / 2110 / 2310 with
commas and fixed conventions for the variable and comment lines. This module parses the header of every
supported FFI into an :class:`AmesHeader` and turns data blocks into float arrays without per-value Python:

- :func:`parse_flat` reads every number of a block (whitespace and/or comma separated, records wrapping over
  any number of lines) into one flat ``float64`` array: the block is translated to one number per line
  (``bytes.translate``) and parsed by :mod:`pyarrow.csv`;
- :func:`parse_rect` reads a block of one record per line (ICARTT) with :mod:`pyarrow.csv`.

Both raise :class:`~crac_tools.errors.ParseError` naming the file line, the column and the token found.

Examples
--------
>>> split_name("Ozone concentration (cm-3)")
('Ozone concentration', 'cm-3', {})
>>> split_name("pressure, hPa, Location=instrument internal", commas=True)
('pressure', 'hPa', {'Location': 'instrument internal'})
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import DataQualityWarning, ParseError, TruncatedRecordWarning, warn
from .values import decode_text

#: File Format Indices of Gaines & Hipskind 1998 that the readers support.
SUPPORTED_FFI = (1001, 1010, 1020, 2010, 2110, 2160, 2310, 3010, 4010)
#: Number of independent variables of each FFI.
NIV = {1001: 1, 1010: 1, 1020: 1, 2010: 2, 2110: 2, 2160: 2, 2310: 2, 3010: 3, 4010: 4}
_FIRST_RE = re.compile(r"^\s*(\d{1,6})\s*[,\s]\s*(\d{4})\s*(?:[,\s]\s*(\S.*?))?\s*$")
_ITEM_SPLIT = re.compile(r"[,\s]+")
_NUM_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eEdD][-+]?\d+)?\Z")
_KEY_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_ .\-/()+&']{0,63}?)\s*:(?:\s+(.*)|\s*)$")
_TIGHT_KEY_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]{0,63})\s*:(.*)$")
_UNITS_TAIL_RE = re.compile(r"^(.*?\S)\s*[(\[]([^()\[\]]*)[)\]]\s*$")
_ATTR_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-]+")
_CONVERT_RE = re.compile(r"column #(\d+): Row #(\d+): CSV conversion error to \w+.*?: invalid value '(.*)'", re.S)
_ROW_RE = re.compile(r"Row #(\d+)")
_FIELDS_RE = re.compile(r"Expected (\d+) columns, got (\d+)")
#: Bytes that separate numbers in a data block (comma, blanks, line ends), all mapped to a line feed.
_TO_NEWLINE = bytes.maketrans(b" \t\r\f\v,;", b"\n" * 7)
_WS = b" \t\r\n\f\v,;"


class HeaderLines:
    """Lazy access to the text lines at the top of a file (1-based line numbers), decoded UTF-8 / Latin-1.

    Examples
    --------
    >>> hl = HeaderLines(b"a\\r\\nb\\n", Path("f"))
    >>> hl.line(2), hl.end_offset(1)
    ('b', 3)
    """

    def __init__(self, raw: bytes, path: Path) -> None:
        self.raw = raw
        self.path = path
        self.starts = [0]  # byte offset where line i+1 starts
        self.encoding = "utf-8"

    def _extend(self, n: int) -> bool:
        """Make sure offsets of lines 1..n+1 are known; False when the file has fewer than n lines."""
        raw = self.raw
        while len(self.starts) <= n:
            pos = self.starts[-1]
            if pos >= len(raw):
                return False
            nl = raw.find(b"\n", pos)
            self.starts.append(len(raw) if nl < 0 else nl + 1)
        return True

    def has(self, n: int) -> bool:
        """True when the file has a line ``n`` (1-based)."""
        return self._extend(n)

    def n_lines(self) -> int:
        """Number of lines in the file (reads the whole file; used on error paths)."""
        return self.raw.count(b"\n") + (0 if self.raw.endswith(b"\n") or not self.raw else 1)

    def line(self, n: int) -> str:
        """Line ``n`` (1-based) without its line end."""
        if not self._extend(n):
            raise IndexError(n)
        text, encoding = decode_text(self.raw[self.starts[n - 1]:self.starts[n]].rstrip(b"\r\n"))
        if encoding != "utf-8":
            self.encoding = encoding
        return text

    def end_offset(self, n: int) -> int:
        """Byte offset just after line ``n`` (the start of line ``n + 1``)."""
        if not self._extend(n):
            return len(self.raw)
        return self.starts[n]


@dataclass
class AmesVar:
    """One variable line of the header (dependent or auxiliary), with its scale and missing value."""

    raw: str
    name: str
    units: str | None
    long_name: str
    scale: float = 1.0
    missing: float | str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class AmesHeader:
    """The parsed header of a NASA Ames / ICARTT file (see Gaines & Hipskind 1998 for the field names)."""

    path: Path
    nlhead: int
    ffi: int
    version: str | None = None
    preamble: str | None = None
    first_line: int = 1  # file line of "NLHEAD FFI"
    oname: str = ""
    org: str = ""
    sname: str = ""
    mname: str = ""
    ivol: int = 1
    nvol: int = 1
    date: tuple[int, int, int] = (1970, 1, 1)
    rdate: tuple[int, int, int] = (1970, 1, 1)
    dx: list[float] = field(default_factory=list)
    nx: list[int] = field(default_factory=list)
    nxdef: list[int] = field(default_factory=list)
    xdef: list[list[float]] = field(default_factory=list)
    nvpm: int = 0
    lenx: int = 0
    xnames: list[str] = field(default_factory=list)  # s = 1 .. NIV (X1 varies fastest)
    xname_lines: list[int] = field(default_factory=list)
    vars: list[AmesVar] = field(default_factory=list)
    aux: list[AmesVar] = field(default_factory=list)
    nauxc: int = 0
    lena: list[int] = field(default_factory=list)
    scom: list[str] = field(default_factory=list)
    ncom: list[str] = field(default_factory=list)
    header_end_line: int = 0  # last header line by structure (file line number)
    data_line: int = 0  # file line number of the first data line
    data_offset: int = 0  # byte offset of the data block
    struct_data_line: int = 0  # first data line by the header structure (when it differs from NLHEAD)
    struct_data_offset: int = 0
    delimiter: str = " "
    encoding: str = "utf-8"

    @property
    def niv(self) -> int:
        return NIV[self.ffi]


def _first_line_match(text: str) -> tuple[int, int, str | None] | None:
    m = _FIRST_RE.match(text.lstrip("\ufeff"))
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), m.group(3)


def locate_first_line(head: bytes) -> tuple[int, int, int, str | None] | None:
    """``(line number, NLHEAD, FFI, rest)`` of the ``NLHEAD FFI`` line among the first two lines, else None.

    The second line is accepted for the NDACC flavour, whose files carry one extra line before it.

    Examples
    --------
    >>> locate_first_line(b"25 1001\\nme\\n")
    (1, 25, 1001, None)
    >>> locate_first_line(b"NDACC something\\n 40, 2010\\n")
    (2, 40, 2010, None)
    """
    lines = head.split(b"\n", 2)
    for i, raw in enumerate(lines[:2]):
        text = raw.decode("latin-1").rstrip("\r")
        got = _first_line_match(text)
        if got and got[1] in SUPPORTED_FFI and got[0] >= 15:
            return (i + 1, *got)
    return None


def split_items(text: str) -> list[str]:
    """Split a header line of numbers on commas and/or blanks.

    Examples
    --------
    >>> split_items(" 2017, 03, 08, 2019 04 19 ")
    ['2017', '03', '08', '2019', '04', '19']
    """
    return [t for t in _ITEM_SPLIT.split(text.strip()) if t]


def to_float(token: str) -> float:
    """A Fortran-friendly float (``1.0D+03`` is accepted); raises ValueError."""
    if not _NUM_RE.match(token):
        raise ValueError(token)
    return float(token.replace("D", "E").replace("d", "e"))


def split_name(text: str, commas: bool = False) -> tuple[str, str | None, dict[str, str]]:
    """Split a variable line into ``(name, units, extra)``.

    ``"Name (units)"`` / ``"Name [units]"`` always; with ``commas`` (ICARTT, EBAS) ``"name, units, more..."``
    where ``Key=value`` parts of ``more`` go to ``extra``; without ``commas`` a comma form is only used when the
    second part looks like a unit (no blanks, at most 20 characters).

    Examples
    --------
    >>> split_name("Altitude (km)")
    ('Altitude', 'km', {})
    >>> split_name("Start_UTC, s, seconds since midnight", commas=True)
    ('Start_UTC', 's', {'description': 'seconds since midnight'})
    >>> split_name("numflag", commas=True)
    ('numflag', None, {})
    """
    text = text.strip()
    if commas or "," in text:
        parts = [p.strip() for p in text.split(",")]
        units_ok = len(parts) > 1 and (commas or (parts[1] and " " not in parts[1] and len(parts[1]) <= 20))
        if units_ok and parts[0]:
            extra: dict[str, str] = {}
            free: list[str] = []
            for part in parts[2:]:
                if "=" in part and not part.startswith("="):
                    k, v = part.split("=", 1)
                    extra[attr_key(k)] = v.strip()
                elif part:
                    free.append(part)
            if free:
                extra["description"] = ", ".join(free)
            return parts[0], (parts[1] or None), extra
        if commas:
            return text, None, {}
    m = _UNITS_TAIL_RE.match(text)
    if m and m.group(2).strip():
        return m.group(1).strip(), m.group(2).strip(), {}
    return text, None, {}


def attr_key(key: str) -> str:
    """A global-attribute name from a comment key: runs of other characters than letters, digits, ``_`` and
    ``-`` become ``_``.

    Examples
    --------
    >>> attr_key("Station WDCA-ID"), attr_key("Orig. time res."), attr_key("PI_CONTACT_INFO")
    ('Station_WDCA-ID', 'Orig_time_res', 'PI_CONTACT_INFO')
    """
    new = _ATTR_KEY_CHARS.sub("_", key.strip()).strip("_")
    if not new:
        return "comment"
    if not (new[0].isalpha() or new[0] == "_"):
        new = "k_" + new
    return new


def key_values(lines: list[str], is_key=None,
               continuation_unindented: bool = False) -> tuple[dict[str, str], list[str]]:
    """``Key: value`` pairs of comment lines; returns ``(pairs, free-text lines)``.

    A key line has no leading blank, a short key and a colon followed by a blank or the line end (so
    ``http://...`` is not a key). Indented lines after a key line continue its value; with
    ``continuation_unindented`` (ICARTT) any non-key line after a key does. A repeated key collects its values
    on separate lines. ``is_key(key)`` may narrow which keys count.

    Examples
    --------
    >>> key_values(["Station code: US1200R", "Comment: a", "  b", "free", "Comment: c"])
    ({'Station code': 'US1200R', 'Comment': 'a\\nb\\nc'}, ['free'])
    """
    pairs: dict[str, list[str]] = {}
    free: list[str] = []
    current: str | None = None
    for line in lines:
        m = _KEY_RE.match(line) if line[:1] not in (" ", "\t") else None
        if m is None and is_key is not None and line[:1] not in (" ", "\t"):
            m = _TIGHT_KEY_RE.match(line)  # 'REVISION:R0' (no blank after the colon) for listed keys only
        key = m.group(1).strip() if m else None
        if key is not None and (is_key is None or is_key(key)):
            current = key
            pairs.setdefault(key, []).append((m.group(2) or "").strip())
        elif current is not None and line.strip() and (line[:1] in (" ", "\t") or continuation_unindented):
            pairs[current].append(line.strip())
        else:
            if line.strip():
                free.append(line)
            if not continuation_unindented:
                current = None
    return {k: "\n".join(v for v in vals if v) for k, vals in pairs.items()}, free


class _Reader:
    """Sequential reading of header items with line numbers for error messages."""

    def __init__(self, lines: HeaderLines, start: int, nlhead: int, ffi: int) -> None:
        self.lines = lines
        self.n = start  # next line to read
        self.nlhead = nlhead
        self.first = start - 1
        self.ffi = ffi

    def text(self, what: str) -> str:
        if not self.lines.has(self.n):
            total = self.lines.n_lines()
            raise ParseError(self.lines.path, f"truncated header: NLHEAD says {self.nlhead} lines, the file has "
                             f"{total - self.first + 1}", line=self.n, expected=what, found="end of file")
        text = self.lines.line(self.n)
        self.n += 1
        return text

    def numbers(self, count: int, what: str, kind=float) -> list:
        """``count`` numbers, possibly over several lines (never more than the count on the last line)."""
        out: list = []
        first = self.n
        while len(out) < count:
            line_no = self.n
            text = self.text(what)
            items = split_items(text)
            if not items and line_no == first:
                raise ParseError(self.lines.path, f"missing {what}", line=line_no, expected=what,
                                 found="an empty line")
            for tok in items:
                try:
                    value = to_float(tok)
                except ValueError:
                    raise ParseError(self.lines.path, f"bad {what}", line=line_no, expected=what,
                                     found=repr(tok)) from None
                if kind is int:
                    if value != int(value):
                        raise ParseError(self.lines.path, f"bad {what}", line=line_no,
                                         expected=f"{what} (an integer)", found=repr(tok))
                    value = int(value)
                out.append(value)
            if len(out) > count:
                raise ParseError(self.lines.path, f"too many values for {what}", line=line_no,
                                 expected=f"{count} value(s)", found=f"{len(out)}")
        return out

    def one_int(self, what: str, minimum: int = 0) -> int:
        line_no = self.n
        value = self.numbers(1, what, int)[0]
        if value < minimum:
            raise ParseError(self.lines.path, f"bad {what}", line=line_no, expected=f">= {minimum}",
                             found=str(value))
        return value


def _read_vars(r: _Reader, count: int, label: str, icartt: bool) -> list[AmesVar]:
    if count == 0:
        return []
    scale = r.numbers(count, f"{count} {label} scale factor(s)")
    missing = r.numbers(count, f"{count} {label} missing value(s)")
    out = []
    for j in range(count):
        raw = r.text(f"{label} name {j + 1} of {count}")
        out.append(_make_var(raw, j, icartt, scale[j], missing[j]))
    return out


def _make_var(raw: str, index: int, icartt: bool, scale: float = 1.0, missing: float | None = None) -> AmesVar:
    raw = raw.strip()
    name, units, extra = split_name(raw, commas=icartt)
    long_name = extra.get("description") or raw or name
    return AmesVar(raw=raw, name=name or f"var_{index + 1}", units=units, long_name=long_name, scale=scale,
                   missing=missing, extra=extra)


def parse_header(raw: bytes, path: Path, icartt: bool = False) -> AmesHeader:
    """Parse the NASA Ames / ICARTT header at the top of ``raw``.

    The data block starts after the ``NLHEAD`` lines counted from the ``NLHEAD FFI`` line (as every NASA Ames
    reader does); when the header structure (the counts in it) ends elsewhere a
    :class:`~crac_tools.errors.DataQualityWarning` says so.

    Raises
    ------
    ParseError
        Not a NASA Ames first line, an unsupported FFI, a truncated header (fewer lines than NLHEAD) or a
        bad item, naming the line.

    Examples
    --------
    >>> text = (b"15 1001\\nMe\\nLab\\nSrc\\nProj\\n1 1\\n2020 01 02 2020 01 03\\n0\\nTime (s)\\n1\\n1\\n-9\\n"
    ...         b"T (K)\\n0\\n0\\n0 280\\n")
    >>> h = parse_header(text, Path("x.na"))
    >>> h.ffi, h.date, h.vars[0].name, h.vars[0].units, h.data_line
    (1001, (2020, 1, 2), 'T', 'K', 16)
    """
    lines = HeaderLines(raw, path)
    head = raw[:8192]
    where = locate_first_line(head)
    if where is None:
        first = lines.line(1) if lines.has(1) else ""
        got = _first_line_match(first)
        if got and got[1] not in SUPPORTED_FFI:
            raise ParseError(path, f"unsupported NASA Ames file format index {got[1]}", line=1,
                             expected=f"FFI one of {', '.join(map(str, SUPPORTED_FFI))}", found=str(got[1]))
        raise ParseError(path, "not a NASA Ames / ICARTT file", line=1, expected="'NLHEAD FFI' (e.g. '40 1001')",
                         found=repr(first[:60]))
    line_no, nlhead, ffi, rest = where
    h = AmesHeader(path=path, nlhead=nlhead, ffi=ffi, first_line=line_no)
    first_text = lines.line(line_no)
    h.delimiter = "," if "," in first_text else " "
    if rest:
        h.version = rest.strip(" ,")
    if line_no == 2:
        h.preamble = lines.line(1).strip()
    r = _Reader(lines, line_no + 1, nlhead, ffi)
    h.oname = r.text("the originator name (ONAME)").strip()
    h.org = r.text("the organisation (ORG)").strip()
    h.sname = r.text("the source (SNAME)").strip()
    h.mname = r.text("the mission (MNAME)").strip()
    h.ivol, h.nvol = r.numbers(2, "IVOL NVOL", int)
    date_line = r.n
    d = r.numbers(6, "the dates DATE RDATE (yyyy mm dd yyyy mm dd)", int)
    for a, b in ((0, 3), (3, 6)):
        y, mo, dd = d[a:b]
        if not (1 <= mo <= 12 and 1 <= dd <= 31 and 1000 <= y <= 9999):
            raise ParseError(path, "bad date", line=date_line, expected="yyyy mm dd", found=f"{y} {mo} {dd}")
    h.date, h.rdate = tuple(d[:3]), tuple(d[3:])
    niv = NIV[ffi]
    if ffi in (1001, 1010, 2110):
        text = r.text("the interval DX")
        items = split_items(text)
        try:
            h.dx = [to_float(t) for t in items]
        except ValueError:
            raise ParseError(path, "bad interval DX", line=r.n - 1, expected="number(s)", found=repr(text)) from None
        if not h.dx or len(h.dx) > niv:
            raise ParseError(path, "bad interval DX", line=r.n - 1, expected=f"{niv} number(s)", found=repr(text))
    elif ffi == 1020:
        h.dx = r.numbers(1, "the interval DX")
        h.nvpm = r.one_int("the number of values per record NVPM", 1)
    elif ffi in (2010, 3010, 4010):
        h.dx = r.numbers(niv, f"{niv} intervals DX")
        h.nx = r.numbers(niv - 1, "the numbers of values NX", int)
        h.nxdef = r.numbers(niv - 1, "the numbers of defined values NXDEF", int)
        for s in range(niv - 1):
            if h.nxdef[s] < 1 or h.nxdef[s] > h.nx[s]:
                raise ParseError(path, "bad NXDEF", line=r.n - 1, expected=f"1..{h.nx[s]}", found=str(h.nxdef[s]))
        h.xdef = [r.numbers(h.nxdef[s], f"{h.nxdef[s]} values of independent variable {s + 1}")
                  for s in range(niv - 1)]
    elif ffi == 2160:
        h.dx = r.numbers(1, "the interval DX")
        h.lenx = r.one_int("the string length LENX")
    elif ffi == 2310:
        h.dx = r.numbers(1, "the interval DX")
    for s in range(niv):
        h.xname_lines.append(r.n)
        h.xnames.append(r.text(f"the name of independent variable {s + 1}").strip())
    nv = r.one_int("the number of variables NV", 1)
    h.vars = _read_vars(r, nv, "variable", icartt)
    if ffi != 1001:
        nauxv = r.one_int("the number of auxiliary variables NAUXV")
        if ffi in (2110, 2160, 2310) and nauxv < (3 if ffi == 2310 else 1):
            raise ParseError(path, f"FFI {ffi} needs auxiliary variables", line=r.n - 1,
                             expected="NAUXV >= 3 (NX, X start, DX)" if ffi == 2310 else "NAUXV >= 1 (NX)",
                             found=str(nauxv))
        if ffi == 2160:
            h.nauxc = r.one_int("the number of string auxiliary variables NAUXC")
            if h.nauxc > nauxv - 1:
                raise ParseError(path, "bad NAUXC", line=r.n - 1, expected=f"<= {nauxv - 1}", found=str(h.nauxc))
            nnum = nauxv - h.nauxc
            ascal = r.numbers(nnum, "auxiliary scale factors")
            amiss: list = r.numbers(nnum, "auxiliary missing values")
            h.lena = r.numbers(h.nauxc, "string lengths LENA", int) if h.nauxc else []
            amiss += [r.text("string missing value").strip() for _ in range(h.nauxc)]
            ascal += [1.0] * h.nauxc
            h.aux = [_make_var(r.text(f"auxiliary name {j + 1}"), j, icartt, ascal[j], amiss[j])
                     for j in range(nauxv)]
        elif ffi != 1001:
            h.aux = _read_vars(r, nauxv, "auxiliary", icartt)
    nscom = r.one_int("the number of special comment lines NSCOML")
    h.scom = [r.text(f"special comment line {j + 1} of {nscom}") for j in range(nscom)]
    nncom = r.one_int("the number of normal comment lines NNCOML")
    h.ncom = [r.text(f"normal comment line {j + 1} of {nncom}") for j in range(nncom)]
    h.header_end_line = r.n - 1
    h.encoding = lines.encoding
    expected_end = line_no - 1 + nlhead
    if not lines.has(expected_end):
        total = lines.n_lines()
        raise ParseError(path, f"truncated header: NLHEAD says {nlhead} lines, the file has {total - line_no + 1}",
                         line=total + 1, expected=f"{nlhead} header lines", found=f"{total - line_no + 1}")
    if h.header_end_line != expected_end:
        warn(DataQualityWarning, f"{path}, line {line_no}: the header structure ends on line "
                                 f"{h.header_end_line} but NLHEAD says {nlhead} lines (line {expected_end}); "
                                 "the data are read after NLHEAD lines (after the structure if that fails)")
    h.data_line = expected_end + 1
    h.data_offset = lines.end_offset(expected_end)
    h.struct_data_line = h.header_end_line + 1
    h.struct_data_offset = lines.end_offset(h.header_end_line)
    return h


def iso_date(date: tuple[int, int, int]) -> str:
    """``YYYY-MM-DD`` of a (year, month, day) tuple.

    Examples
    --------
    >>> iso_date((2017, 3, 8))
    '2017-03-08'
    """
    y, m, d = date
    return f"{y:04d}-{m:02d}-{d:02d}"


def header_attrs(h: AmesHeader, file_format: str) -> dict:
    """The global attributes common to every FFI (netCDF-safe values)."""
    attrs: dict = {"file_format": file_format, "ffi": int(h.ffi), "nlhead": int(h.nlhead)}
    if h.version:
        attrs["format_version"] = h.version
    if h.preamble:
        attrs["preamble"] = h.preamble
    for key, value in (("originator", h.oname), ("organization", h.org), ("data_source", h.sname),
                       ("mission", h.mname)):
        attrs[key] = value
    attrs["file_volume"] = int(h.ivol)
    attrs["number_of_volumes"] = int(h.nvol)
    attrs["data_date"] = iso_date(h.date)
    attrs["revision_date"] = iso_date(h.rdate)
    if h.dx:
        attrs["data_interval"] = float(h.dx[0]) if len(h.dx) == 1 else np.asarray(h.dx, dtype=np.float64)
    if h.scom:
        attrs["special_comments"] = "\n".join(h.scom)
    if h.ncom:
        attrs["normal_comments"] = "\n".join(h.ncom)
    attrs["source_file"] = h.path.name
    return attrs


# ------------------------------------------------------------------------------------------------------------
# data blocks
# ------------------------------------------------------------------------------------------------------------


def trim_tail(raw: bytes, start: int, path: Path) -> int:
    """End of the data block: trailing blanks, empty lines and NUL padding are dropped (NUL with a warning)."""
    end = len(raw)
    while end > start and raw[end - 1] in b" \t\r\n\x00\x1a":
        end -= 1
    if b"\x00" in raw[end:]:
        nul_line = raw.count(b"\n", 0, end + raw[end:].index(b"\x00")) + 1
        warn(DataQualityWarning, f"{path}, line {nul_line}: NUL bytes after the last record were ignored")
    return end


class Locator:
    """Maps token and row indices of a data block back to file lines (used on error paths only)."""

    def __init__(self, data: bytes | memoryview, first_line: int) -> None:
        self.data = bytes(data)
        self.first_line = first_line

    def token(self, k: int) -> tuple[int, int, str]:
        """(file line, 1-based field in that line, token) of the ``k``-th (0-based) number in the block."""
        seen = 0
        for i, line in enumerate(self.data.split(b"\n")):
            toks = line.translate(_TO_NEWLINE).split()
            if seen + len(toks) > k:
                tok = toks[k - seen].decode("latin-1")
                return self.first_line + i, k - seen + 1, tok
            seen += len(toks)
        return self.first_line + self.data.count(b"\n"), 0, ""

    def token_index_of_line(self, line: int) -> int:
        """Number of tokens before file line ``line``."""
        n = line - self.first_line
        head = b"\n".join(self.data.split(b"\n")[:n])
        return len(head.translate(_TO_NEWLINE).split())

    def row(self, row: int) -> int:
        """File line of the ``row``-th (1-based) non-empty line (as Arrow counts rows)."""
        arr = np.frombuffer(self.data, dtype=np.uint8)
        ends = np.flatnonzero(arr == 10)
        starts = np.concatenate(([0], ends + 1))
        stops = np.concatenate((ends, [len(arr)]))
        length = stops - starts - (arr[np.maximum(stops - 1, 0)] == 13)
        nonempty = np.flatnonzero(length > 0)
        if nonempty.size == 0:
            return self.first_line
        return self.first_line + int(nonempty[min(row, len(nonempty)) - 1])

    def line_text(self, line: int) -> str:
        lines = self.data.split(b"\n")
        i = line - self.first_line
        return lines[i].decode("latin-1").rstrip("\r") if 0 <= i < len(lines) else ""


def _arrow_read(data, names: list[str], use_threads: bool, trailing: bool = False) -> pa.Table:
    """Float64 columns (an empty field is an error); ``trailing`` adds a string column for a trailing comma."""
    types = {n: pa.float64() for n in names}
    if trailing:
        names = [*names, "_trailing"]
        types["_trailing"] = pa.string()
    read_opts = pacsv.ReadOptions(column_names=names, use_threads=use_threads)
    conv = pacsv.ConvertOptions(column_types=types, null_values=[], strings_can_be_null=False)
    parse = pacsv.ParseOptions(delimiter=",", quote_char=False)
    return pacsv.read_csv(pa.BufferReader(pa.py_buffer(data)), read_options=read_opts, parse_options=parse,
                          convert_options=conv)


def parse_flat(data: bytes | memoryview, path: Path, first_line: int, column_of=None,
               use_threads: bool = False) -> np.ndarray:
    """Every number of a data block as one flat float64 array (any mix of blanks, commas and line ends).

    ``column_of(k)`` may name the variable of the ``k``-th token for error messages.

    Raises
    ------
    ParseError
        A token that is not a number, naming the file line, column and token.

    Examples
    --------
    >>> parse_flat(b" 1 2.5\\n3,-4e2\\n", Path("f"), 10)
    array([   1. ,    2.5,    3. , -400. ])
    >>> parse_flat(b"1 2\\n3 x\\n", Path("f"), 10)
    Traceback (most recent call last):
    ...
    crac_tools.errors.ParseError: f, line 11, column 'field 2': not a number (expected a number, found 'x')
    """
    if len(data) == 0:
        return np.empty(0, dtype=np.float64)
    buf = bytes(data).translate(_TO_NEWLINE)
    fortran = False
    while True:
        try:
            tab = _arrow_read(buf, ["v"], use_threads)
            return tab.column(0).to_numpy().astype(np.float64, copy=False)
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            m = _CONVERT_RE.search(msg)
            if m is None and use_threads:
                use_threads = False
                continue
            if m is not None and not fortran and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[dD][-+]?\d+", m.group(3)):
                buf = buf.translate(bytes.maketrans(b"dD", b"eE"))
                fortran = True
                continue
            if m is None:
                raise ParseError(path, f"cannot parse the data block ({msg})", line=first_line) from None
            k = int(m.group(2)) - 1
            line, col, tok = Locator(data, first_line).token(k)
            column = column_of(k) if column_of else None
            raise ParseError(path, "not a number", line=line, column=column or f"field {col}",
                             expected="a number", found=repr(tok or m.group(3))) from None


def parse_rect(data: bytes | memoryview, names: list[str], path: Path, first_line: int,
               use_threads: bool = False) -> np.ndarray:
    """A comma-separated block of one record per line as a ``(rows, len(names))`` float64 array.

    Raises
    ------
    ParseError
        A wrong number of fields (line, expected and found counts) or a non-number (line, column, token).
    """
    if len(data) == 0:
        return np.empty((0, len(names)), dtype=np.float64)
    cols = [f"c{j}" for j in range(len(names))]
    trailing = False
    first_error = None
    while True:
        try:
            tab = _arrow_read(data, cols, use_threads, trailing)
            break
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            if trailing and _FIELDS_RE.search(msg) and first_error:
                msg = first_error  # some lines end with a comma, others not: report the first problem
            m = _CONVERT_RE.search(msg)
            row = _ROW_RE.search(msg)
            if row is None and use_threads:
                use_threads = False
                continue
            loc = Locator(data, first_line)
            line = loc.row(int(row.group(1))) if row else None
            if m is not None:
                j = int(m.group(1))
                raise ParseError(path, "not a number", line=line, column=names[j], expected="a number",
                                 found=repr(m.group(3))) from None
            f = _FIELDS_RE.search(msg)
            if f and not trailing and int(f.group(2)) == len(names) + 1 and \
                    loc.line_text(line).rstrip(" \t").endswith(","):
                trailing = True  # every line may end with a comma: allowed when that last field is empty
                first_error = msg
                continue
            if f:
                got = int(f.group(2)) - (1 if trailing and msg is not first_error else 0)
                raise ParseError(path, "wrong number of values", line=line, expected=f"{len(names)} values",
                                 found=f"{got}") from None
            raise ParseError(path, f"cannot parse the data ({msg.split(': ', 1)[-1]})", line=line) from None
    if trailing:
        extra = tab.column(len(names))
        bad = pc.not_equal(pc.utf8_trim_whitespace(extra), "")
        if pc.any(bad).as_py():
            row = int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0]) + 1
            raise ParseError(path, "wrong number of values", line=Locator(data, first_line).row(row),
                             expected=f"{len(names)} values", found=f"{len(names) + 1}")
    out = np.empty((len(names), tab.num_rows), dtype=np.float64)  # column-major: columns are contiguous
    for j in range(len(names)):
        out[j] = tab.column(j).to_numpy()
    return out.T


def check_partial_last_line(raw: bytes, start: int, end: int, nfields: int, path: Path, first_line: int,
                            comma: bool) -> int:
    """For one-record-per-line blocks: drop an incomplete last line (fewer fields) with a
    :class:`~crac_tools.errors.TruncatedRecordWarning`; return the new end of the block."""
    if end <= start:
        return end
    nl = raw.rfind(b"\n", start, end)
    last = raw[nl + 1:end]
    n = len(last.split(b",")) if comma else len(last.split())
    if n < nfields:
        line = first_line + raw.count(b"\n", start, nl + 1) if nl >= start else first_line
        warn(TruncatedRecordWarning, f"{path}, line {line}: truncated last line left out "
                                     f"(expected {nfields} values, found {n})")
        new_end = nl if nl >= start else start
        while new_end > start and raw[new_end - 1] in b"\r\n":
            new_end -= 1
        return new_end
    return end


# ------------------------------------------------------------------------------------------------------------
# time
# ------------------------------------------------------------------------------------------------------------

_UNIT_NS = {"second": 1_000_000_000, "minute": 60_000_000_000, "hour": 3_600_000_000_000,
            "day": 86_400_000_000_000}
_UNIT_WORDS = re.compile(r"\b(seconds?|secs?|s|minutes?|mins?|hours?|hrs?|h|days?|d)\b", re.I)
_UNIT_MAP = {"s": "second", "sec": "second", "secs": "second", "second": "second", "seconds": "second",
             "min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute",
             "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour",
             "d": "day", "day": "day", "days": "day"}
_SINCE_RE = re.compile(r"(seconds?|minutes?|hours?|days?)\s+since\s+(\d{4})-(\d{1,2})-(\d{1,2})"
                       r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d*)?))?)?", re.I)
_TIMEISH = re.compile(r"time|utc|\but\b|julian|day of year|\bdoy\b|since|reference point|seconds|"
                      r"\bhours\b|\bdays\b|\bjday\b", re.I)
_LONG_UNIT_RE = re.compile(r"\b(seconds?|minutes?|hours?|days?)\b", re.I)


@dataclass
class TimeAxis:
    """How an independent variable maps to datetime64: ``epoch + value * unit`` (``doy``: day of year 1 = epoch)."""

    epoch: np.datetime64
    unit: str
    doy: bool = False

    def convert(self, values: np.ndarray) -> np.ndarray:
        """Values -> datetime64[ns]; day- and hour-based times are rounded to the second, others to 1 us."""
        v = np.asarray(values, dtype=np.float64)
        if self.doy:
            v = v - 1.0
        ns = v * _UNIT_NS[self.unit]
        step = 1e9 if self.unit in ("day", "hour") else 1e3
        with np.errstate(invalid="ignore"):
            ns = np.rint(ns / step) * step
        out = np.full(v.shape, np.datetime64("NaT", "ns"))
        ok = np.isfinite(ns)
        out[ok] = self.epoch + ns[ok].astype(np.int64).astype("timedelta64[ns]")
        return out


def time_axis(raw_name: str, units: str | None, date: tuple[int, int, int], force: bool = False) -> TimeAxis | None:
    """The time meaning of an independent variable's header line, or None when it is not time.

    ``force`` (ICARTT, whose independent variable is always UTC time) defaults to seconds.

    Examples
    --------
    >>> time_axis("Time in UT Seconds from 0000 hours on the data date", None, (2000, 9, 20)).unit
    'second'
    >>> time_axis("days from file reference point", None, (2020, 1, 1)).unit
    'day'
    >>> time_axis("Altitude (km)", "km", (2000, 1, 1)) is None
    True
    """
    epoch = np.datetime64(iso_date(date), "ns")
    m = _SINCE_RE.search(raw_name)
    if m:
        y, mo, d = int(m.group(2)), int(m.group(3)), int(m.group(4))
        hh, mm = int(m.group(5) or 0), int(m.group(6) or 0)
        ss = float(m.group(7) or 0)
        base = np.datetime64(f"{iso_date((y, mo, d))}T{hh:02d}:{mm:02d}", "ns")
        base = base + np.timedelta64(int(round(ss * 1e9)), "ns")
        return TimeAxis(base, _UNIT_MAP[m.group(1).lower()])
    low = raw_name.lower()
    doy = "julian" in low or "day of year" in low or re.search(r"\bdoy\b|\bjday\b", low) is not None
    unit = None
    if units:
        u = units.strip().lower()
        unit = _UNIT_MAP.get(u)
        if unit is None:
            mm_ = _LONG_UNIT_RE.search(u)
            unit = _UNIT_MAP[mm_.group(1).lower()] if mm_ else None
    if unit is None:
        mm_ = _LONG_UNIT_RE.search(raw_name)
        if mm_:
            unit = _UNIT_MAP[mm_.group(1).lower()]
    timeish = _TIMEISH.search(raw_name) is not None
    if doy:
        return TimeAxis(np.datetime64(iso_date((date[0], 1, 1)), "ns"), "day", doy=True)
    if unit is not None and (timeish or force):
        return TimeAxis(epoch, unit)
    if unit is None and (force or re.search(r"utc|\but\b", low)):
        return TimeAxis(epoch, "second")
    return None


def check_monotonic(times: np.ndarray, path: Path, line_of=None, label: str = "time") -> None:
    """ParseError at the first record whose time is earlier than the one before; a warning for repeats."""
    if times.size < 2:
        return
    t = times.astype("datetime64[ns]").astype(np.int64)
    d = np.diff(t)
    back = np.flatnonzero(d < 0)
    if back.size:
        i = int(back[0]) + 1
        line = line_of(i) if line_of else None
        raise ParseError(path, f"{label} goes backwards", line=line, expected=f"{label} after {times[i - 1]}",
                         found=str(times[i]))
    same = np.flatnonzero(d == 0)
    if same.size:
        i = int(same[0]) + 1
        where = f", line {line_of(i)}" if line_of else ""
        warn(DataQualityWarning, f"{path}{where}: {same.size} record(s) repeat the time of the record before "
                                 f"(first {times[i]})")
