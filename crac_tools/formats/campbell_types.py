"""Campbell Scientific binary data types, the header checks and the shared Dataset builder of the Campbell readers.

The TOB1 and TOB3 readers describe one record with a numpy structured dtype built from the type line of the
file header (:func:`record_dtype`), view the whole data buffer through it (``np.frombuffer``) and turn each
field into the array the TOA5 reader would give for the same column (:func:`decode_field`), so that
``crac.read`` of a binary file and of the TOA5 that Campbell's CardConvert makes from it give equal Datasets:

========================  ===================================================================================
Campbell type             variable
========================  ===================================================================================
IEEE4[L], IEEE4B          float32 (rounded to 7 significant digits, as CardConvert and the logger print them)
IEEE8[L], IEEE8B          float64, or float32 where every value fits (15 significant digits)
FP2                       float32 (Campbell two-byte decimal float; +INF, -INF, NaN codes decoded)
UINT1, INT1, UINT2,       int32 (int64 when a value does not fit); ``RECORD`` is always int64
INT2, UINT4, INT4,
USHORT, SHORT, ULONG,
LONG
BOOL, BOOL2, BOOL4        int32, -1 (true) or 0 (false), as in TOA5
BOOL8                     8-character strings of '0'/'1', first character = least significant bit
ASCII(n)                  strings (text up to the first NUL byte)
SecNano, NSec, Sec        datetime64[ns] (seconds since 1990-01-01 plus nanoseconds)
========================  ===================================================================================

Byte order follows Campbell's data-type table: ``IEEE4``/``IEEE8`` (also spelled ``IEEE4L``/``IEEE8L``),
``USHORT``, ``SHORT``, ``ULONG``, ``LONG`` and ``SecNano`` are little-endian; ``FP2``, ``UINT2``, ``INT2``,
``UINT4``, ``INT4``, ``IEEE4B``, ``IEEE8B``, ``NSec`` and ``Sec`` are big-endian.

Examples
--------
>>> import numpy as np
>>> spec = parse_type("FP2")
>>> raw = np.array([0x6000 | 428, 0x9FFE], dtype=">u2")  # 0.428 and the FP2 NaN code
>>> decode_field(spec, raw)
array([0.428,   nan], dtype=float32)
>>> round_significant(np.array([0.55422193]), 7)
array([0.5542219])
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import xarray as xr

from ..errors import ParseError
from .registry import SNIFF_BYTES
from .values import as_float, as_int, decode_text, netcdf_name

#: Seconds from 1970-01-01 (numpy epoch) to 1990-01-01 (Campbell epoch).
CAMPBELL_EPOCH_S = 631_152_000
_NS = 1_000_000_000
#: A Campbell timestamp ``YYYY-MM-DD HH:MM[:SS[.fff]]`` (space or ``T``), shared by the TOA5, CSIXML and binary
#: readers: a string column whose every value matches becomes a time variable.
TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\Z")
#: Header line 1 fields of TOA5 and TOB1 files, in file order, as global attribute names.
HEADER_KEYS = ("file_format", "station_name", "logger_model", "logger_serial", "logger_os",
               "program_name", "program_signature", "table_name")


@dataclass(frozen=True)
class CampbellType:
    """One Campbell data type: its name as written in the header, raw numpy dtype and decoding kind."""

    name: str
    raw: np.dtype
    kind: str  # ieee4, ieee8, fp2, int, bool, bool8, ascii, secnano, sec

    @property
    def size(self) -> int:
        """Bytes per value."""
        return self.raw.itemsize


def _stamp(order: str) -> np.dtype:
    return np.dtype([("s", f"{order}i4"), ("ns", f"{order}i4")])


_TYPES: dict[str, tuple[np.dtype | str, str]] = {
    "IEEE4": ("<f4", "ieee4"), "IEEE4L": ("<f4", "ieee4"), "IEEE4B": (">f4", "ieee4"),
    "IEEE8": ("<f8", "ieee8"), "IEEE8L": ("<f8", "ieee8"), "IEEE8B": (">f8", "ieee8"),
    "FP2": (">u2", "fp2"),
    "UINT1": ("u1", "int"), "BYTE": ("u1", "int"), "INT1": ("i1", "int"),
    "UINT2": (">u2", "int"), "INT2": (">i2", "int"), "UINT4": (">u4", "int"), "INT4": (">i4", "int"),
    "USHORT": ("<u2", "int"), "SHORT": ("<i2", "int"), "ULONG": ("<u4", "int"), "LONG": ("<i4", "int"),
    "BOOL": ("u1", "bool"), "BOOL2": (">u2", "bool"), "BOOL4": (">u4", "bool"),
    "BOOL8": ("u1", "bool8"),
    "SECNANO": (_stamp("<"), "secnano"), "NSEC": (_stamp(">"), "secnano"), "SEC": (">i4", "sec"),
}
_ASCII_RE = re.compile(r"ASCII\((\d+)\)\Z", re.I)
#: Type names with no decoder here (named in the error message).
SUPPORTED_TYPES = tuple(sorted(_TYPES)) + ("ASCII(n)",)


def parse_type(text: str) -> CampbellType | None:
    """The :class:`CampbellType` for a header type name (case-insensitive), or ``None`` when unknown.

    Examples
    --------
    >>> parse_type("ieee4b").raw
    dtype('>f4')
    >>> parse_type("ASCII(12)").size
    12
    >>> parse_type("FP3") is None
    True
    """
    name = text.strip()
    m = _ASCII_RE.match(name)
    if m:
        n = int(m.group(1))
        return CampbellType(name, np.dtype(f"S{n}"), "ascii") if n > 0 else None
    entry = _TYPES.get(name.upper())
    if entry is None:
        return None
    return CampbellType(name, np.dtype(entry[0]), entry[1])


# --------------------------------------------------------------------------------------------------
# header lines (shared by toa5, tob1, tob3)
# --------------------------------------------------------------------------------------------------


def header_lines(raw: bytes, path: Path, file_type: str, labels: Sequence[str], start: int = 0,
                 unterminated: bool = False) -> tuple[list[int], int]:
    """Find the ``len(labels)`` header lines at the top of a Campbell file.

    Parameters
    ----------
    raw
        The file's first bytes (at least the whole header).
    path
        The file (named in errors).
    file_type
        ``"TOA5"``, ``"TOB1"`` or ``"TOB3"`` (named in errors).
    labels
        What each header line holds, in order (named in errors).
    start
        Offset of the first header line (after a byte-order mark).
    unterminated
        Accept a last header line without a line end (a file that holds only the header).

    Returns
    -------
    ends : list of int
        Offset of the line end of each header line.
    data_start : int
        Offset of the first byte after the header.

    Raises
    ------
    ParseError
        The file has fewer header lines than ``labels``, naming the first missing one.

    Examples
    --------
    >>> header_lines(b'"TOB1"\\r\\n"a"\\r\\n1234', Path("t.dat"), "TOB1", ("file type", "field names"))
    ([7, 12], 13)
    """
    ends, pos = [], start
    for _ in range(len(labels)):
        nl = raw.find(b"\n", pos)
        if nl < 0:
            if unterminated and raw[pos:].strip():  # a last header line without newline
                ends.append(len(raw))
                pos = len(raw)
            break
        ends.append(nl)
        pos = nl + 1
    if len(ends) < len(labels):
        n = len(ends)
        raise ParseError(path, f"incomplete {file_type} header", line=n + 1,
                         expected=f"{len(labels)} header lines (line {n + 1}: {labels[n]})", found=f"{n} line(s)")
    return ends, pos


def header_attrs(rows: list[list[str]], path: Path, file_type: str, keys: Sequence[str]) -> dict:
    """Global attributes from the fields of header line 1, whose first field must be ``file_type``.

    Parameters
    ----------
    rows
        The header lines split into fields (:func:`header_rows`).
    path
        The file (named in errors).
    file_type
        The expected first field (``"TOA5"``, ``"TOB1"``, ``"TOB3"``).
    keys
        Attribute names of the fields, in file order (extra fields are dropped, missing ones left out).

    Returns
    -------
    dict
        ``{key: field}``.

    Raises
    ------
    ParseError
        Line 1 does not start with ``file_type``.

    Examples
    --------
    >>> header_attrs([["TOB1", "St1", "CR1000X"]], Path("t.dat"), "TOB1", HEADER_KEYS)
    {'file_format': 'TOB1', 'station_name': 'St1', 'logger_model': 'CR1000X'}
    """
    first = rows[0]
    if not first or first[0] != file_type:
        raise ParseError(path, f"not a {file_type} file", line=1, expected=f'"{file_type}" as first field',
                         found=repr(first[0] if first else ""))
    return dict(zip(keys, first, strict=False))


def check_column_lines(path: Path, names: list[str], lines: Sequence[tuple[str, list[str]]], names_line: int,
                       what: str = "field") -> None:
    """Check that the header lines after the names line have one field per name and that names are unique.

    Parameters
    ----------
    path
        The file (named in errors).
    names
        The column names (header line ``names_line``).
    lines
        ``(label, fields)`` of the lines that follow the names line, in order (units, processing, ...).
    names_line
        1-based line number of the names.
    what
        What the file calls a column (``"column"`` in TOA5, ``"field"`` in TOB1/TOB3), for the messages.

    Raises
    ------
    ParseError
        A line with another number of fields than names (naming that line), or a repeated name.

    Examples
    --------
    >>> check_column_lines(Path("t.dat"), ["a", "b"], [("units", ["m", "s"])], 2)
    >>> try:
    ...     check_column_lines(Path("t.dat"), ["a", "a"], [("units", ["m", "s"])], 2, "column")
    ... except ParseError as exc:
    ...     print(exc)
    t.dat, line 2: duplicate column name (expected unique names, found 'a')
    """
    for lineno, (label, row) in enumerate(lines, start=names_line + 1):
        if len(row) != len(names):
            raise ParseError(path, f"the {label} line does not match the {what} names", line=lineno,
                             expected=f"{len(names)} fields (one per name on line {names_line})",
                             found=f"{len(row)} fields")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ParseError(path, f"duplicate {what} name", line=names_line, expected="unique names",
                             found=repr(name))
        seen.add(name)


def field_lines(rows: list[list[str]], names_line: int, path: Path
                ) -> tuple[list[str], list[str], list[str], list[str]]:
    """The field names, units, processing and data type lines of a TOB1 / TOB3 header, checked.

    Parameters
    ----------
    rows
        The header lines split into fields (:func:`header_rows`).
    names_line
        1-based line number of the field names (2 in TOB1, 3 in TOB3); the other three lines follow it.
    path
        The file (named in errors).

    Returns
    -------
    tuple of list of str
        names, units, processing, data types.

    Raises
    ------
    ParseError
        No field names, a line whose field count differs from the names, or a repeated name.

    Examples
    --------
    >>> field_lines([["TOB1"], ["a", "b"], ["m", ""], ["Smp", "Smp"], ["FP2", "ULONG"]], 2, Path("t.dat"))[3]
    ['FP2', 'ULONG']
    """
    names, units, process, types = rows[names_line - 1:names_line + 3]
    if not names:
        raise ParseError(path, "no field names", line=names_line, expected="quoted field names", found="an empty line")
    check_column_lines(path, names, (("units", units), ("processing", process), ("data type", types)), names_line)
    return names, units, process, types


def sniff_header(head: bytes, path: Path | None, magic: bytes, parse: Callable[[bytes, Path], object],
                 lines: int, partial_lines: int) -> bool:
    """Sniff a binary Campbell file (TOB1, TOB3) by its magic and, as far as ``head`` reaches, its header.

    Parameters
    ----------
    head
        The first bytes of the file.
    path
        The file, or None.
    magic
        What the file starts with (``b'"TOB1"'``).
    parse
        The header parser ``parse(raw, path)``; it raises on an inconsistent header.
    lines
        Number of header lines: when ``head`` holds them all, the header must parse.
    partial_lines
        A header longer than the sniffed bytes is accepted when ``head`` is full (the file goes on) and holds
        at least this many lines.

    Returns
    -------
    bool
        Whether the file is of this type (``parse`` may raise: wrap the caller in
        :func:`~crac_tools.formats.common.safe_sniff`).

    Examples
    --------
    >>> sniff_header(b'"TOB9"\\n', None, b'"TOB9"', lambda raw, path: None, 1, 1)
    True
    >>> sniff_header(b'"TOB9"', None, b'"TOB9"', lambda raw, path: None, 1, 1)
    False
    """
    if not head.startswith(magic):
        return False
    if head.count(b"\n") >= lines:
        parse(head, Path(str(path)) if path is not None else Path("<head>"))
        return True
    # a header longer than the sniffed bytes: accept only when the file goes on
    return len(head) >= SNIFF_BYTES and head.count(b"\n") >= partial_lines


def read_head(fh: BinaryIO, size: int, lines: int, chunk: int = 64 * 1024) -> bytes:
    """The first bytes of an open file: whole chunks until they hold ``lines`` line ends or the file ends.

    Parameters
    ----------
    fh
        The file, opened in binary mode at its start.
    size
        The file size in bytes.
    lines
        How many ``\\n`` the result must hold (header lines, plus the first data line where needed).
    chunk
        Bytes read at a time.

    Returns
    -------
    bytes
        The head of the file.

    Examples
    --------
    >>> import io
    >>> read_head(io.BytesIO(b"a\\nb\\nc\\n" * 4), 24, 5, chunk=4)
    b'a\\nb\\nc\\na\\nb\\nc\\n'
    """
    head = fh.read(chunk)
    while head.count(b"\n") < lines and len(head) < size:
        head += fh.read(chunk)
    return head


def header_rows(text: str, path: Path, strip: bool = False) -> list[list[str]]:
    """Split quoted, comma-separated header lines (one list of fields per line); a line the csv module cannot
    parse (stray CR or quote) is a :class:`ParseError` naming the line."""
    rows = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            rows.append([])
            continue
        try:
            fields = next(csv.reader([line]))
        except csv.Error as exc:
            raise ParseError(path, f"unreadable header line ({exc})", line=lineno,
                             expected="quoted, comma-separated fields", found=repr(line[:60])) from None
        rows.append([f.strip() for f in fields] if strip else fields)
    return rows


def parse_types(names: list[str], type_names: list[str], path: Path, line: int) -> list[CampbellType]:
    """Parse the header's type line; an unknown type is a :class:`ParseError` naming the column."""
    specs = []
    for name, text in zip(names, type_names, strict=True):
        spec = parse_type(text)
        if spec is None:
            raise ParseError(path, "unsupported Campbell data type", line=line, column=name,
                             expected="one of " + ", ".join(SUPPORTED_TYPES), found=repr(text))
        specs.append(spec)
    return specs


def record_dtype(specs: list[CampbellType]) -> np.dtype:
    """Packed structured dtype of one record, fields named ``f0``, ``f1``, ...

    Examples
    --------
    >>> record_dtype([parse_type("ULONG"), parse_type("FP2"), parse_type("SecNano")]).itemsize
    14
    """
    return np.dtype([(f"f{j}", s.raw) for j, s in enumerate(specs)])


# --------------------------------------------------------------------------------------------------
# decoding
# --------------------------------------------------------------------------------------------------

_FP2_SCALE = np.array([1.0, 10.0, 100.0, 1000.0])


def decode_fp2(raw: np.ndarray) -> np.ndarray:
    """Campbell FP2 (big-endian: sign bit, 2-bit negative decimal exponent, 13-bit mantissa) to float64.

    ``0x1FFF`` is +INF, ``0x9FFF`` -INF and ``0x9FFE`` NaN. The division by a power of ten is correctly
    rounded, so the result equals the float parsed from the decimal text Campbell prints (``0.428``).

    Examples
    --------
    >>> decode_fp2(np.array([0x2000 | 1234, 0x8000 | 5, 0x1FFF, 0x9FFF], dtype=">u2"))
    array([123.4,  -5. ,   inf,  -inf])
    """
    v = raw.astype(np.uint16)
    mant = (v & 0x1FFF).astype(np.float64)
    out = mant / _FP2_SCALE[(v >> 13) & 0x3]
    neg = (v & 0x8000) != 0
    np.negative(out, out=out, where=neg)
    out[v == 0x1FFF] = np.inf
    out[v == 0x9FFF] = -np.inf
    out[v == 0x9FFE] = np.nan
    return out


_SPLITTER = 134217729.0  # 2**27 + 1 (Dekker split)
_EXACT_POW10 = 10.0 ** np.arange(23)  # 1e0 .. 1e22 are exact in float64


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a*b`` as ``p + err`` exactly (Dekker), for operands far from overflow and underflow."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, err


def _round_scaled(v: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer nearest to ``v * 10**p`` (exactly decided) and the rounded value ``k * 10**-p``; |p| <= 22."""
    up = p >= 0
    k = np.empty_like(v)
    out = np.empty_like(v)
    if up.any():
        s = _EXACT_POW10[p[up]]
        hi, lo = _two_prod(v[up], s)
        kk = np.rint(hi)
        frac = hi - kk  # exact
        kk += (frac - 0.5) > -lo  # frac + lo > 1/2, decided exactly
        kk -= (frac + 0.5) < -lo
        k[up] = kk
        out[up] = kk / s
    dn = ~up
    if dn.any():
        s = _EXACT_POW10[-p[dn]]
        vv = v[dn]
        kk = np.rint(vv / s)
        ph, pl = _two_prod(kk, s)
        rem = (vv - ph) - pl  # vv - kk*s, exact to rounding far below s/2
        half = 0.5 * s
        kk += rem > half
        kk -= rem < -half
        k[dn] = kk
        out[dn] = kk * s
    return k, out


def round_significant(x: np.ndarray, digits: int, single: bool = False) -> np.ndarray:
    """Round to ``digits`` significant decimal digits exactly as ``float(f"{v:.{digits}g}")`` does, vectorized.

    This is how Campbell software prints binary floats (7 digits for IEEE4, 15 for IEEE8); doing the same
    makes values decoded from TOB1/TOB3 equal to those parsed from the TOA5 that CardConvert writes. The
    decision is exact (error-free products); ties go to the even digit. ``single=True`` says every value came
    from a float32, whose product with ``10**p`` (p <= 10) is exact in float64 (the fast path). Values whose
    scale needs a power of ten beyond 1e22 (e.g. denormals) fall back to string formatting, one by one.

    Examples
    --------
    >>> round_significant(np.array([0.55422193, -1234.5678, np.nan, 0.0]), 4)
    array([ 5.542e-01, -1.235e+03,        nan,  0.000e+00])
    """
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    ok &= x != 0
    whole = bool(ok.all())
    idx = None if whole else np.flatnonzero(ok)
    v = x if whole else x[idx]
    if v.size == 0:
        return x.copy()
    with np.errstate(divide="ignore"):
        e = np.floor(np.log10(np.abs(v))).astype(np.int64)
    lo_k, hi_k = 10.0 ** (digits - 1), 10.0 ** digits
    res = np.empty_like(v)
    todo = np.arange(v.size)
    for _ in range(3):  # log10 may misjudge the decade by one next to a power of ten
        if todo.size == 0:
            break
        vv, p = v[todo], digits - 1 - e[todo]
        k = np.empty_like(vv)
        r = np.empty_like(vv)
        easy = (p >= 0) & (p <= 10) if single else np.zeros(vv.size, dtype=bool)
        if easy.all():
            s = _EXACT_POW10[p]
            k = np.rint(vv * s)  # float32 * 10**p (p <= 10) is exact in float64
            r = k / s
        else:
            if easy.any():
                s = _EXACT_POW10[p[easy]]
                k[easy] = np.rint(vv[easy] * s)
                r[easy] = k[easy] / s
            hard = ~easy & (np.abs(p) <= 22)
            if hard.any():
                k[hard], r[hard] = _round_scaled(vv[hard], p[hard])
            slow = np.flatnonzero(~easy & ~hard)
            if slow.size:  # extreme exponents (denormals, > 1e29): format each distinct value once
                uniq, inv = np.unique(vv[slow], return_inverse=True)
                r[slow] = np.array([float(f"{u:.{digits}g}") for u in uniq.tolist()])[inv]
                k[slow] = lo_k
        ak = np.abs(k)
        low, high = ak < lo_k, ak > hi_k
        bad = low | high
        if not bad.any():
            res[todo] = r
            break
        good = ~bad
        res[todo[good]] = r[good]
        e[todo[low]] -= 1
        e[todo[high]] += 1
        todo = todo[bad]
    if whole:
        return res
    out = x.copy()
    out[idx] = res
    return out


def stamp_to_time(seconds: np.ndarray, nanoseconds: np.ndarray | int = 0) -> np.ndarray:
    """Seconds since 1990-01-01 plus nanoseconds -> datetime64[ns].

    Examples
    --------
    >>> stamp_to_time(np.array([1140342377]), np.array([100_000_000]))
    array(['2026-02-19T09:46:17.100000000'], dtype='datetime64[ns]')
    """
    ns = (np.asarray(seconds, dtype=np.int64) + CAMPBELL_EPOCH_S) * _NS + np.asarray(nanoseconds, dtype=np.int64)
    return ns.astype("datetime64[ns]")


def _ascii_uniques(raw: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Distinct texts of fixed-size ASCII fields and each record's index into them (pyarrow hashing)."""
    import pyarrow as pa

    flat = np.ascontiguousarray(raw).reshape(-1)
    if (flat == flat[0]).all():  # a constant field (common: serial numbers, program ids): no hashing
        values, indices = [flat[0].tobytes()], np.zeros(flat.size, dtype=np.int32)
    else:
        encoded = pa.array(flat).dictionary_encode()
        values, indices = encoded.dictionary.to_pylist(), encoded.indices.to_numpy(zero_copy_only=False)
    texts = [decode_text(b.split(b"\x00", 1)[0])[0] for b in values]  # one Python step per distinct value
    return texts, indices


def decode_ascii_column(raw: np.ndarray) -> np.ndarray:
    """ASCII fields -> strings, or datetime64[ns] when every value is a timestamp; work done per distinct value."""
    if raw.size == 0:
        return np.empty(0, dtype=object)
    texts, inverse = _ascii_uniques(raw)
    if all(TIME_RE.match(u) for u in texts):
        return np.array(texts, dtype="datetime64[ns]")[inverse]
    return np.array(texts, dtype=object)[inverse]


_BOOL8 = np.array([format(i, "08b")[::-1] for i in range(256)], dtype=object)


def decode_bool8(raw: np.ndarray) -> np.ndarray:
    """BOOL8 bytes -> 8-character '0'/'1' strings, least significant bit first (as CardConvert writes).

    Examples
    --------
    >>> decode_bool8(np.array([0, 255, 1], dtype=np.uint8)).tolist()
    ['00000000', '11111111', '10000000']
    """
    return _BOOL8[raw.astype(np.uint8)]


def decode_field(spec: CampbellType, raw: np.ndarray, record: bool = False) -> np.ndarray:
    """Decode one field of every record (``raw`` has ``spec.raw`` dtype) to its Dataset array."""
    raw = np.asarray(raw)
    kind = spec.kind
    if kind in ("ieee4", "ieee8"):
        with np.errstate(invalid="ignore"):  # signalling-NaN bit patterns
            values = raw.astype(np.float64)
        if kind == "ieee4":
            return as_float(round_significant(values, 7, single=True))
        return as_float(round_significant(values, 15))
    if kind == "fp2":
        return as_float(decode_fp2(raw))
    if kind == "int":
        return as_int(raw, record=record)
    if kind == "bool":
        return np.where(raw != 0, -1, 0).astype(np.int32)
    if kind == "bool8":
        return decode_bool8(raw)
    if kind == "ascii":
        return decode_ascii_column(raw)
    if kind == "secnano":
        return stamp_to_time(raw["s"], raw["ns"])
    if kind == "sec":
        return stamp_to_time(raw)
    raise AssertionError(kind)  # pragma: no cover


# --------------------------------------------------------------------------------------------------
# Dataset building (shared by toa5, tob1, tob3, csixml, cr10x)
# --------------------------------------------------------------------------------------------------


@dataclass
class Column:
    """One decoded column on its way into a Dataset."""

    name: str
    values: np.ndarray
    units: str = ""
    process: str = ""
    attrs: dict | None = None
    fill_value: float | None = None
    #: Position used to name the column when its name is empty (``column_<index + 1>``); default: its place in
    #: the list handed to :func:`build_dataset`.
    index: int | None = None


def build_dataset(time: np.ndarray, columns: list[Column], attrs: dict, time_attrs: dict | None = None
                  ) -> xr.Dataset:
    """Dataset with a ``time`` coordinate and one variable per column, attrs as the TOA5 reader sets them.

    Each variable gets ``units`` and ``process`` (when not empty), ``long_name`` = ``"name (process)"`` and
    ``original_name`` when the name had to change to be a valid netCDF name. Float variables get
    ``encoding["_FillValue"]`` (NaN unless the column declares a fill value).
    """
    tattrs = {"standard_name": "time", "long_name": "time"}
    tattrs.update(time_attrs or {})
    coords = {"time": ("time", np.asarray(time, dtype="datetime64[ns]"), tattrs)}
    data_vars: dict[str, xr.Variable] = {}
    for j, col in enumerate(columns):
        new = netcdf_name(col.name, j if col.index is None else col.index)
        if new == "time":
            new = "time_"
        while new in data_vars:
            new += "_"
        var_attrs: dict = {}
        if col.units:
            var_attrs["units"] = col.units
        if col.process:
            var_attrs["process"] = col.process
        var_attrs["long_name"] = f"{col.name} ({col.process})" if col.process else col.name
        if new != col.name:
            var_attrs["original_name"] = col.name
        var_attrs.update(col.attrs or {})
        # object (text) arrays go in as they are: xarray would round-trip them through pandas strings
        var = xr.Variable(("time",), col.values, var_attrs, fastpath=col.values.dtype == object)
        if col.values.dtype.kind == "f":
            var.encoding["_FillValue"] = (np.nan if col.fill_value is None
                                          else col.values.dtype.type(col.fill_value))
        data_vars[new] = var
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def record_variable(values: np.ndarray) -> Column:
    """The ``RECORD`` column (int64, units ``RN``) as the TOA5 reader builds it."""
    return Column("RECORD", np.asarray(values).astype(np.int64), units="RN")


__all__ = ["CAMPBELL_EPOCH_S", "HEADER_KEYS", "CampbellType", "Column", "TIME_RE", "build_dataset",
           "check_column_lines", "decode_bool8", "decode_field", "decode_fp2", "field_lines", "header_attrs",
           "header_lines", "header_rows", "parse_type", "parse_types", "read_head", "record_dtype",
           "round_significant", "sniff_header", "stamp_to_time"]
