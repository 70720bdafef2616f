"""Vectorised parsing of the data part of a text table (after :mod:`.table_sniff` found the layout).

Line boundaries, blank and comment lines are found with numpy on the whole buffer. Delimiter-separated
data go to :mod:`pyarrow.csv` as they are; whitespace-separated data are first collapsed at the byte level
(runs of spaces/tabs -> one space, leading/trailing blanks dropped) and fixed-width data are cut into
columns by slicing a 2-D byte array, both then fed to pyarrow. Column kinds (int, float, string) come from a
sample of lines; a non-number in a numeric column is a :class:`~crac_tools.errors.ParseError` naming the
line, column and token.

Examples
--------
>>> collapse_whitespace(np.frombuffer(b"  1  2\\t 3 \\r\\n4 5 6\\n", np.uint8)).tobytes()
b'1 2 3\\n4 5 6\\n'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import ParseError, TruncatedRecordWarning, warn
from .table_sniff import FIXED, INT_RE, WHITESPACE, Layout, is_number, tokens

SAMPLE_HEAD = 200
SAMPLE_TAIL = 50
#: Common tokens for "no value"; named in error hints when found undeclared in a numeric column.
COMMON_MISSING_TOKENS = frozenset({"NA", "N/A", "n/a", "na", "NULL", "null", "-", "--", "M", "missing", "#N/A",
                                   "None", "none", "*", "**", "***", "?"})
_CONVERT_RE = re.compile(r"column #(\d+): Row #(\d+): CSV conversion error to (\w+).*?: invalid value '(.*)'", re.S)
_FIELDS_RE = re.compile(r"Row #(\d+): Expected (\d+) columns, got (\d+)")
_SEP = 0x1F  # field separator used for rebuilt (whitespace / fixed-width) buffers


@dataclass
class Parsed:
    """The parsed data: one numpy array per column plus bookkeeping."""

    arrays: list[np.ndarray]  # int64, float64 (NaN for empty) or object (str)
    arrow: list[pa.Array]  # the same columns as Arrow arrays (string columns feed the time parser)
    kinds: list[str]  # "int", "float" or "string"
    lines: np.ndarray  # 1-based file line of each row
    widths: list[tuple[int, int]]  # shortest / longest sampled token per column
    nulls: list[int]  # empty (or declared non-numeric missing) fields per column
    truncated: list[int]
    delim: str  # the delimiter finally used (whitespace may turn to fixed-width)


def _blank_runs(arr: np.ndarray, ws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Runs of the bytes ``ws`` marks: start and end (exclusive) of each run, and the byte just before and just
    after it (a line feed at the start and end of ``arr``)."""
    n = arr.size
    edge = np.diff(ws.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edge == 1)
    ends = np.flatnonzero(edge == -1)
    before = arr[np.maximum(starts - 1, 0)]
    before[starts == 0] = 10
    after = arr[np.minimum(ends, n - 1)]
    after[ends >= n] = 10
    return starts, ends, before, after


def collapse_whitespace(arr: np.ndarray) -> np.ndarray:
    """Runs of blanks -> one space; blanks at line starts/ends and ``\\r`` dropped (bytes in, bytes out)."""
    if arr.size == 0:
        return arr
    ws = (arr == 32) | (arr == 9) | (arr == 13)
    starts, ends, before, after = _blank_runs(arr, ws)
    delim = starts[(before != 10) & (after != 10)]
    keep = ~ws
    keep[delim] = True
    if (arr[delim] != 32).any():
        arr = arr.copy()
        arr[delim] = 32
    return arr[keep]


def strip_fields(arr: np.ndarray, delim: int) -> np.ndarray:
    """Drop blanks around delimiters and at line starts/ends (``" 1.5 , NA"`` -> ``"1.5,NA"``).

    Examples
    --------
    >>> strip_fields(np.frombuffer(b" a , b c ,d\\r\\n1,  2 \\n", np.uint8), ord(",")).tobytes()
    b'a,b c,d\\r\\n1,2\\n'
    """
    n = arr.size
    ws = (arr == 32) | (arr == 9)
    if n == 0 or not ws.any():
        return arr
    starts, ends, before, after = _blank_runs(arr, ws)
    outer = (before == delim) | (before == 10) | (after == delim) | (after == 10) | (after == 13)
    if not outer.any():
        return arr
    drop = np.zeros(n + 1, np.int8)
    drop[starts[outer]] = 1  # runs are apart, so no start is another run's end
    drop[ends[outer]] = -1
    return arr[np.cumsum(drop[:-1]) == 0]


def _line_bounds(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Start and end (exclusive, without ``\\r``) of every line, and whether the last line is terminated."""
    n = arr.size
    nl = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [n]))
    terminated = True
    if starts[-1] >= n:
        starts, ends = starts[:-1], ends[:-1]
    else:
        terminated = False
    if starts.size:
        cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13)
        ends = ends - cr
    return starts, ends, terminated


def _select(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The bytes of the kept lines, each ended by ``\\n``."""
    if keep.all() and starts.size:
        return arr[starts[0]:]  # only the last line's terminator (if any) follows it
    lid = np.zeros(arr.size, np.int64)
    nl = np.flatnonzero(arr == 10)
    lid[nl[nl + 1 < arr.size] + 1] = 1
    np.cumsum(lid, out=lid)
    mask = keep[np.minimum(lid, keep.size - 1)] if keep.size else np.zeros(arr.size, bool)
    out = arr[mask]
    if out.size and out[-1] != 10:
        out = np.concatenate((out, np.array([10], np.uint8)))
    return out


def _grid(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """Lines as a 2-D byte array padded with blanks to ``width``."""
    idx = starts[:, None] + np.arange(width)[None, :]
    valid = idx < ends[:, None]
    return np.where(valid, arr[np.minimum(idx, arr.size - 1)], 32).astype(np.uint8)


def spans_of(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, chunk: int = 50_000) -> list[tuple[int, int]]:
    """Fixed-width column spans (byte positions) from every line: runs of positions used by some line."""
    width = int((ends - starts).max()) if starts.size else 0
    used = np.zeros(width, bool)
    for i in range(0, starts.size, chunk):
        g = _grid(arr, starts[i:i + chunk], ends[i:i + chunk], width)
        used |= ((g != 32) & (g != 9)).any(axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], used.astype(np.int8), [0]))))
    runs = list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
    out, prev = [], 0
    for _, b in runs:
        out.append((prev, b))
        prev = b
    return out


def _fixed_buffer(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, spans: list[tuple[int, int]],
                  chunk: int = 50_000) -> np.ndarray:
    """Cut fixed-width lines into fields joined by :data:`_SEP` (one line per row)."""
    ncol = len(spans)
    width = max(b for _, b in spans)
    total = sum(b - a for a, b in spans) + ncol
    out = np.empty((starts.size, total), np.uint8)
    for i in range(0, starts.size, chunk):
        g = _grid(arr, starts[i:i + chunk], ends[i:i + chunk], width)
        pos = 0
        for j, (a, b) in enumerate(spans):
            out[i:i + chunk, pos:pos + b - a] = g[:, a:b]
            pos += b - a
            out[i:i + chunk, pos] = _SEP if j < ncol - 1 else 10
            pos += 1
    return out.reshape(-1)


def _kind(sample: list[str], decimal: str, missing: set[str]) -> str:
    values = [t for t in sample if t and t not in missing]
    if not values:
        return "float"
    nums = [t for t in values if is_number(t, decimal)]
    if len(nums) * 2 <= len(values):
        return "string"
    if len(nums) == len(values) and all(INT_RE.match(t) for t in nums):
        return "int"
    return "float"


def parse_data(raw: bytes, layout: Layout, path: Path, labels: list[str], null_tokens: set[str],
               string_cols: set[int], use_threads: bool = False) -> Parsed:
    """Parse the data part of ``raw`` laid out as ``layout``.

    Parameters
    ----------
    raw
        The whole file.
    layout
        From :func:`~crac_tools.formats.table_sniff.detect_layout`.
    path
        For error messages.
    labels
        Column labels used in error messages.
    null_tokens
        Non-numeric tokens read as missing in numeric columns (the empty field always is).
    string_cols
        Columns to keep as text whatever they hold (e.g. time columns parsed with a format).
    use_threads
        Let pyarrow use several threads.
    """
    arr = np.frombuffer(raw, np.uint8)[layout.start:]
    ncol = layout.ncol
    starts, ends, terminated = _line_bounds(arr)
    if starts.size:
        solid = (arr != 32) & (arr != 9) & (arr != 13) & (arr != 10)
        keep = np.logical_or.reduceat(solid, starts)  # any non-blank byte in each line
    else:
        keep = np.zeros(0, bool)
    if arr.size and (arr[0] == 35 or raw.find(b"\n#", layout.start) >= 0):
        keep &= arr[np.minimum(starts, max(arr.size - 1, 0))] != 35
    line_no = layout.first_line + np.arange(starts.size)
    truncated: list[int] = []
    delim, spans = layout.delim, layout.spans
    kept = np.flatnonzero(keep)
    if kept.size:
        last = kept[-1]
        text = bytes(arr[starts[last]:ends[last]]).decode(layout.encoding, errors="replace")
        if delim == FIXED:
            short = not terminated and last == starts.size - 1 and len(text.rstrip()) <= spans[-1][0]
            nfields = ncol - 1 if short else ncol
        else:
            nfields = len(tokens(text, delim))
        if nfields < ncol or (nfields > ncol and delim != WHITESPACE and not terminated):
            warn(TruncatedRecordWarning, f"{path}, line {line_no[last]}: truncated last line left out "
                                         f"(expected {ncol} fields, found {nfields})")
            truncated.append(int(line_no[last]))
            keep[last] = False
            kept = kept[:-1]
        elif not terminated and last == starts.size - 1:
            warn(TruncatedRecordWarning, f"{path}, line {line_no[last]}: last line lacks its line terminator "
                                         "(kept: it has all fields)")
    rows_lines = line_no[kept]
    # kinds from a sample of lines
    pick = np.unique(np.concatenate((kept[:SAMPLE_HEAD], kept[-SAMPLE_TAIL:])))
    sample = [tokens(bytes(arr[starts[i]:ends[i]]).decode(layout.encoding, errors="replace"), delim, spans)
              for i in pick]
    sample = [r for r in sample if len(r) == ncol]
    cols = [[r[j] for r in sample] for j in range(ncol)]
    missing_all = set(null_tokens)
    kinds = ["string" if j in string_cols else _kind(cols[j], layout.decimal, missing_all) for j in range(ncol)]
    widths = [(min((len(t) for t in c if t), default=0), max((len(t) for t in c), default=0)) for c in cols]
    if not kept.size:
        empty = [np.empty(0, dtype={"int": np.int64, "float": np.float64}.get(k, object)) for k in kinds]
        types = {"int": pa.int64(), "float": pa.float64(), "string": pa.string()}
        return Parsed(empty, [pa.array([], type=types[k]) for k in kinds],
                      kinds, rows_lines, widths, [0] * ncol, truncated, delim)
    while True:
        if delim == FIXED:
            buf, sep, quote = _fixed_buffer(arr, starts[kept], ends[kept], spans), chr(_SEP), False
        elif delim == WHITESPACE:
            buf, sep, quote = collapse_whitespace(_select(arr, starts, ends, keep)), " ", False
        else:
            buf, sep, quote = _select(arr, starts, ends, keep), delim, '"'
            d = delim.encode()
            text = buf.tobytes()
            padded = (b" " + d) in text or (d + b" ") in text or text.startswith(b" ") or b"\n " in text
            if padded and b'"' not in text:
                buf = strip_fields(buf, ord(delim))
        blanks = {" " * (b - a) for a, b in spans} if delim == FIXED and spans else set()
        try:
            table = _read(buf, ncol, sep, quote, kinds, layout, missing_all | blanks, labels, path, rows_lines,
                          use_threads)
            break
        except _FieldCount as bad:
            if delim == WHITESPACE:
                fixed = spans_of(arr, starts[kept], ends[kept])
                if len(fixed) == ncol and _blank_field(arr, starts, ends, line_no, bad.line, fixed):
                    delim, spans = FIXED, fixed  # aligned columns with a blank field: fixed-width
                    continue
            raise ParseError(path, "wrong number of fields", line=bad.line, expected=f"{ncol} fields",
                             found=f"{bad.found} fields") from None
    arrow, arrays, nulls = [], [], []
    for j in range(ncol):
        col = table.column(j).combine_chunks()
        if kinds[j] == "string":
            if delim == FIXED:
                col = pc.utf8_trim_whitespace(col)
            col = col.fill_null("")
        arrow.append(col)
        nulls.append(col.null_count)
        values = col.to_numpy(zero_copy_only=False)
        if kinds[j] == "string":
            values = np.asarray(values, dtype=object)
        elif values.dtype.kind == "i":
            values = values.astype(np.int64, copy=False)
        else:
            values = values.astype(np.float64, copy=False)
        arrays.append(values)
    return Parsed(arrays, arrow, kinds, rows_lines, widths, nulls, truncated, delim)


def _blank_field(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, line_no: np.ndarray, line: int,
                 spans: list[tuple[int, int]]) -> bool:
    """True when file line ``line`` has a blank field before its last value (a fixed-width gap, not a cut line)."""
    i = int(np.searchsorted(line_no, line))
    text = bytes(arr[starts[i]:ends[i]])
    filled = [bool(text[a:b].strip()) for a, b in spans]
    last = max((k for k, f in enumerate(filled) if f), default=-1)
    return not all(filled[:last + 1])


class _FieldCount(Exception):
    def __init__(self, line: int, found: str) -> None:
        self.line, self.found = line, found


def _read(buf: np.ndarray, ncol: int, sep: str, quote, kinds: list[str], layout: Layout, nulls: set[str],
          labels: list[str], path: Path, rows_lines: np.ndarray, use_threads: bool) -> pa.Table:
    """pyarrow.csv on ``buf``; widen int columns to float where needed; map errors to file lines."""
    encoding = layout.encoding
    names = [f"c{j}" for j in range(ncol)]
    types = {"int": pa.int64(), "float": pa.float64(), "string": pa.string()}
    while True:
        read_opts = pacsv.ReadOptions(column_names=names, use_threads=use_threads, encoding=encoding,
                                      block_size=max(1 << 20, min(buf.size + 1, 1 << 26)))
        parse_opts = pacsv.ParseOptions(delimiter=sep, quote_char=quote, newlines_in_values=False)
        conv_opts = pacsv.ConvertOptions(column_types={n: types[k] for n, k in zip(names, kinds, strict=True)},
                                         null_values=sorted(nulls | {""}), strings_can_be_null=False,
                                         quoted_strings_can_be_null=True, decimal_point=layout.decimal)
        try:
            return pacsv.read_csv(pa.BufferReader(pa.py_buffer(buf)), read_options=read_opts,
                                  parse_options=parse_opts, convert_options=conv_opts)
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            if "UTF8" in msg and encoding != "latin-1":
                encoding = "latin-1"
                continue
            if use_threads and "Row #" not in msg:
                use_threads = False  # single-threaded Arrow reports row numbers
                continue
            fields = _FIELDS_RE.search(msg)
            if fields:
                row = int(fields.group(1))
                raise _FieldCount(_line(rows_lines, row), fields.group(3)) from None
            m = _CONVERT_RE.search(msg)
            if m is None:
                row = re.search(r"Row #(\d+)", msg)
                raise ParseError(path, f"cannot parse the data ({msg.split(': ', 1)[-1]})",
                                 line=_line(rows_lines, int(row.group(1))) if row else None) from None
            j, row, token = int(m.group(1)), int(m.group(2)), m.group(4)
            if kinds[j] == "int" and is_number(token.strip(), layout.decimal):
                kinds[j] = "float"
                continue
            hint = ""
            if layout.names and token.strip() == layout.names[j]:
                hint = " (a repeated header line?)"
            elif token.strip() in COMMON_MISSING_TOKENS:
                hint = f" ({token.strip()!r} is not declared missing by the file; pass spec missing=[...])"
            raise ParseError(path, f"non-numeric value in a numeric column{hint}", line=_line(rows_lines, row),
                             column=labels[j], expected="a number", found=repr(token)) from None


def _line(rows_lines: np.ndarray, row: int) -> int | None:
    if 1 <= row <= rows_lines.size:
        return int(rows_lines[row - 1])
    return None
