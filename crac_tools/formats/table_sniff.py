"""Layout detection for the generic header-then-table text reader (:mod:`crac_tools.formats.table`).

Finds, from the bytes of a file (and an optional :class:`~crac_tools.formats.table.TableSpec`): the text
encoding, where the header ends and the data begin, the delimiter (comma, tab, semicolon, pipe, runs of
whitespace or fixed-width columns), the column-name and units lines, header metadata (``KEY = value``,
``key : value``, NOAA GML ``var:attr : value`` lines, JOSS ``REMARKS``), and the missing-value tokens the
file declares. Known file families are recognised by their structure (see :mod:`.table_known`).

Everything here works on the header and a sample of data lines in Python; the data themselves are parsed
in :mod:`.table_parse` with vectorised code.

Examples
--------
>>> looks_tabular(b"date,temp\\n2021-01-01,1.5\\n2021-01-02,1.7\\n")
True
>>> looks_tabular(b"\\x00\\x01\\x02binary")
False
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ParseError
from . import table_known as known

BOM = b"\xef\xbb\xbf"
#: Bytes of the file start analysed for the header (a header longer than this is not detected).
HEAD_BYTES = 1 << 20
#: Bytes of the file end sampled to learn the data lines' shape.
TAIL_BYTES = 64 * 1024
TAIL_LINES = 60
DELIMITERS = (",", "\t", ";", "|")
WHITESPACE = " "
FIXED = "fixed"
COMMENT_CHARS = ("#", "%", "!")

NUM_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\Z")
NUM_COMMA_RE = re.compile(r"[-+]?(?:\d+,?\d*|,\d+)(?:[eE][-+]?\d+)?\Z")
INT_RE = re.compile(r"[-+]?\d+\Z")
NAN_WORDS = frozenset({"nan", "NaN", "NAN", "inf", "-inf", "+inf", "Inf", "-Inf", "INF", "-INF"})
_DATE_RE = re.compile(
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{1,2}[- ][A-Za-z]{3,9}[- ]\d{4})"
    r"(?:[T ]+\d{1,2}:\d{2}(?::\d{1,2}(?:[.,]\d+)?)?)?(?:\s*[AaPp]\.?[Mm]\.?)?(?:\s*(?:Z|UTC|[+-]\d{2}:?\d{2}))?\Z")
_CLOCK_RE = re.compile(r"\d{1,2}:\d{2}(?::\d{1,2}(?:[.,]\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?\Z")
_SEPARATOR_RE = re.compile(r"^[\s\-=_*+~.:|#]*$")
_KV_EQ_RE = re.compile(r"^\s*([A-Za-z][\w .()/,'&+-]{0,60}?)\s*=\s*(.*?)\s*$")
_KV_COLON_RE = re.compile(r"^\s*([A-Za-z][\w .()/'&+-]{0,40}?)\s*:\s+(.*?)\s*$")
_GML_VAR_RE = re.compile(r"^\s*([A-Za-z_]\w*):([A-Za-z_]\w*)\s*:\s*(.*?)\s*$")
_GML_HEADER_RE = re.compile(r"^#\s*header_lines\s*:\s*(\d+)\s*$", re.I)
_END_HEADER_RE = re.compile(r"^\s*#+\s*END\s+OF\s+HEADER\s*#*\s*$", re.I)
_MISSING_KEY_RE = re.compile(
    r"(missing|fill|no[\s_-]?data|nodata|undef|invalid)[\s_-]*(value|values|data|code|codes|flag|indicator|val)?s?$",
    re.I)
_MISSING_TOKEN_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NaN|NAN|nan|NA|N/A|n/a|NULL|null|M|--?|\*+")
_MISSING_PHRASE_RES = (
    re.compile(r"(?<![\w.])(?P<tok>[-+]?\d+(?:\.\d+)?|NaN|NAN|nan|NA|N/A)\s*(?:=|:|means|indicates|denotes|is)\s*"
               r"(?:an?\s+)?(?:missing|no\s+data|not\s+a\s+number|not\s+available|fill)", re.I),
    re.compile(r"(?:missing|no[\s-]data)[\w\s()]{0,40}?\b(?:is|are|=|:)\s*(?:indicated|denoted|represented|flagged|"
               r"coded|reported|given|set|written|marked|shown)?\s*(?:by|as|with|to)?\s*"
               r"(?P<tok>[-+]?\d+(?:\.\d+)?|NaN|NAN|nan|NA|N/A)(?!\w|\.\d)", re.I),
)


@dataclass
class Layout:
    """Where the data are and how they are laid out (header analysis result)."""

    encoding: str
    start: int  # byte offset of the first data line
    first_line: int  # 1-based line number of the first data line
    delim: str  # one of DELIMITERS, WHITESPACE or FIXED
    ncol: int
    spans: list[tuple[int, int]] | None = None  # fixed-width byte spans
    names: list[str] | None = None
    units: list[str] | None = None
    names_line: int | None = None
    units_line: int | None = None
    header: list[str] = field(default_factory=list)  # header lines (text, without line ends)
    attrs: dict[str, str] = field(default_factory=dict)
    col_attrs: dict[str, dict[str, str]] = field(default_factory=dict)  # by the file's column name
    missing: set[str] = field(default_factory=set)  # tokens declared missing for every column
    col_missing: dict[str | int, set[str]] = field(default_factory=dict)  # by column name or 0-based index
    index_attrs: dict[int, dict[str, str]] = field(default_factory=dict)  # by 0-based column index
    convention: str | None = None
    decimal: str = "."
    empty_is_missing: bool = False  # the file type documents empty fields as "no value"


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Decode header text: ``encoding`` when given, else UTF-8 with a Latin-1 fallback (never fails)."""
    if encoding:
        return data.decode(encoding, errors="replace"), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data.decode("utf-8", errors="ignore"), "utf-8"  # a multi-byte character cut by the read
        return data.decode("latin-1"), "latin-1"


def is_binary(head: bytes) -> bool:
    """True when ``head`` holds NUL bytes or many control characters (not a text table)."""
    if not head:
        return False
    if b"\x00" in head:
        return True
    ctrl = sum(head.count(bytes([c])) for c in range(1, 32) if c not in (9, 10, 12, 13))
    return ctrl > max(2, len(head) // 100)


def tokens(line: str, delim: str, spans: list[tuple[int, int]] | None = None) -> list[str]:
    """Split one text line into stripped fields (CSV quoting for character delimiters)."""
    if delim == WHITESPACE:
        return line.split()
    if delim == FIXED:
        return [line[a:b].strip() for a, b in spans or []]
    try:
        row = next(csv.reader([line], delimiter=delim))
    except (csv.Error, StopIteration):
        row = line.split(delim)
    return [f.strip() for f in row]


def is_number(tok: str, decimal: str = ".") -> bool:
    """True for a decimal number (``decimal`` is the decimal mark) or a NaN/Inf spelling."""
    if tok in NAN_WORDS:
        return True
    return bool((NUM_COMMA_RE if decimal == "," else NUM_RE).match(tok))


def is_datetime_text(tok: str) -> bool:
    """True for a date, date-time or clock string (ISO, dd.mm.yyyy, mm/dd/yy hh:mm:ss AM, hh:mm, ...)."""
    return bool(_DATE_RE.match(tok) or _CLOCK_RE.match(tok))


def _value_like(tok: str, decimal: str, missing: set[str]) -> bool:
    return is_number(tok, decimal) or is_datetime_text(tok) or tok in missing


def _data_like(fields: list[str], decimal: str, missing: set[str]) -> bool:
    """At least half of the non-empty fields are numbers, dates or declared missing tokens."""
    full = [f for f in fields if f]
    if not full:
        return False
    good = sum(_value_like(f, decimal, missing) for f in full)
    return good * 2 >= len(full) and any(is_number(f, decimal) or is_datetime_text(f) for f in full)


def _names_like(fields: list[str], decimal: str) -> bool:
    full = [f for f in fields if f]
    if full and full[-1].endswith((".", ":")) and len(full) > 2:
        return False  # a sentence, not column names
    return bool(full) and sum(not is_number(f, decimal) for f in full) * 2 > len(full)


def _is_separator(line: str) -> bool:
    return bool(line.strip()) and bool(_SEPARATOR_RE.match(line))


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith(COMMENT_CHARS)


# --------------------------------------------------------------------------------------------------------
# delimiter
# --------------------------------------------------------------------------------------------------------

def _delimiter_score(lines: list[str], delim: str, decimal: str) -> tuple[float, float, int, int]:
    """(consistency, value-like fraction, modal field count, line count with it) of ``lines`` split by ``delim``."""
    rows = [tokens(ln, delim) for ln in lines]
    counts = Counter(len(r) for r in rows)
    ncol, n = counts.most_common(1)[0]
    if ncol < 2:
        return 0.0, 0.0, ncol, n
    good = [r for r in rows if len(r) == ncol]
    full = [f for r in good for f in r if f]
    frac = sum(is_number(f, decimal) or is_datetime_text(f) for f in full) / max(1, len(full))
    return n / len(rows), frac, ncol, n


def guess_decimal(lines: list[str], delim: str) -> str:
    """``","`` when the numbers use a decimal comma (only possible when ``delim`` is not a comma)."""
    if delim == ",":
        return "."
    toks = [t for ln in lines for t in tokens(ln, delim) if t]
    comma = sum(bool(re.fullmatch(r"[-+]?\d+,\d+", t)) for t in toks)
    dot = sum(bool(re.fullmatch(r"[-+]?\d*\.\d+([eE][-+]?\d+)?", t)) for t in toks)
    return "," if comma > dot else "."


def choose_delimiter(lines: list[str]) -> tuple[str, int]:
    """Pick the delimiter giving the most consistent, most value-like split of sample data lines.

    Returns ``(delimiter, ncol)``; ``delimiter`` is one of :data:`DELIMITERS` or :data:`WHITESPACE`.

    Examples
    --------
    >>> choose_delimiter(["2021-04-01 00:00:00,1.5,2", "2021-04-01 00:01:00,1.6,3"])
    (',', 3)
    >>> choose_delimiter(["1 3 19 0030 E 28.6", "1 3 19 0130 E 36.0"])
    (' ', 6)
    >>> choose_delimiter(["01.02.2021;1,5;80", "02.02.2021;1,7;81"])
    (';', 3)
    """
    best: tuple | None = None
    for rank, delim in enumerate((*DELIMITERS, WHITESPACE)):
        if delim != WHITESPACE and not any(delim in ln for ln in lines):
            continue
        decimal = guess_decimal(lines, delim)
        cons, frac, ncol, n = _delimiter_score(lines, delim, decimal)
        if ncol < 2 or (n < 2 and len(lines) > 1):
            continue
        key = (cons >= 0.9, round(frac, 2), cons, ncol if delim != WHITESPACE else 0, -rank)
        if best is None or key > best[0]:
            best = (key, delim, ncol)
    if best is None:
        return WHITESPACE, max((len(ln.split()) for ln in lines), default=0)
    return best[1], best[2]


def fixed_spans(lines: list[str]) -> list[tuple[int, int]]:
    """Column spans of fixed-width lines: maximal runs of positions not blank in every line.

    Examples
    --------
    >>> fixed_spans(["  1  2.5 ab", " 10      cd", "  3 12.5 ef"])
    [(0, 3), (3, 8), (8, 11)]
    """
    width = max((len(ln) for ln in lines), default=0)
    used = [False] * width
    for ln in lines:
        for i, ch in enumerate(ln):
            if not ch.isspace():
                used[i] = True
    spans, start = [], None
    for i in range(width + 1):
        if i < width and used[i]:
            if start is None:
                start = i
        elif start is not None:
            spans.append((start, i))
            start = None
    # widen each span leftwards over the blanks before it (right-aligned numbers grow to the left)
    out, prev = [], 0
    for _, b in spans:
        out.append((prev, b))
        prev = b
    return out


# --------------------------------------------------------------------------------------------------------
# header metadata
# --------------------------------------------------------------------------------------------------------

def attr_name(key: str) -> str:
    """A netCDF-safe attribute name for a header key (``"Data Type"`` -> ``"Data_Type"``)."""
    name = re.sub(r"[^\w.+-]+", "_", key.strip()).strip("_")
    if not name or not (name[0].isalpha()):
        name = "h_" + name
    return name


def missing_tokens(text: str) -> list[str]:
    """Missing-value tokens in a declaration value (``"-999.99, NaN"`` -> ``["-999.99", "NaN"]``)."""
    return [m.group(0) for m in _MISSING_TOKEN_RE.finditer(text)
            if m.group(0) and not (m.group(0).isdigit() and len(m.group(0)) == 1 and m.group(0) != "0")]


def declared_missing(lines: list[str]) -> set[str]:
    """Tokens the header text declares as missing (``MISSING VALUE = -999``, ``NAN=not a number or no data``).

    Examples
    --------
    >>> sorted(declared_missing(["MISSING VALUE = -999.99", "#  NAN=not a number or no data"]))
    ['-999.99', 'NAN']
    >>> sorted(declared_missing(["Missing values are indicated by -9999."]))
    ['-9999']
    """
    out: set[str] = set()
    for raw in lines:
        line = raw.strip().lstrip("#%!").strip()
        m = _KV_EQ_RE.match(line) or _KV_COLON_RE.match(line)
        if m and _MISSING_KEY_RE.search(m.group(1).strip()):
            out.update(missing_tokens(m.group(2)))
            continue
        for rx in _MISSING_PHRASE_RES:
            for hit in rx.finditer(line):
                out.add(hit.group("tok"))
    return out


def header_attrs(lines: list[str], layout: Layout) -> None:
    """Fill ``layout.attrs`` / ``col_attrs`` / ``col_missing`` from header lines (key-value pairs, GML, REMARKS)."""
    remarks: list[str] = []
    in_remarks = False
    for raw in lines:
        line = raw.strip()
        body = line.lstrip("#%!").strip()
        if _END_HEADER_RE.match(line):
            break
        if not body or _is_separator(body):
            continue
        if body.upper().rstrip(":") in ("REMARKS", "COMMENTS"):
            in_remarks = True
            continue
        if in_remarks:
            remarks.append(body)
            continue
        gml = _GML_VAR_RE.match(body)
        if gml:
            var, key, value = gml.groups()
            if key in ("_FillValue", "missing_value"):
                layout.col_missing.setdefault(var, set()).update(missing_tokens(value))
            elif value:
                layout.col_attrs.setdefault(var, {})[key] = value
            continue
        m = _KV_EQ_RE.match(body) or _KV_COLON_RE.match(body)
        if m and m.group(2) and not re.match(r"^\d{1,2}$", m.group(1)):
            name = attr_name(m.group(1))
            if name not in layout.attrs:
                layout.attrs[name] = m.group(2)
    if remarks:
        layout.attrs["remarks"] = "\n".join(remarks)


# --------------------------------------------------------------------------------------------------------
# names and units
# --------------------------------------------------------------------------------------------------------

def _split_lines(data: bytes) -> tuple[list[bytes], list[int]]:
    """Lines of ``data`` (without ``\\r\\n``) and each line's byte offset."""
    parts = data.split(b"\n")
    offsets, pos = [], 0
    for p in parts:
        offsets.append(pos)
        pos += len(p) + 1
    if parts and parts[-1] == b"":
        parts.pop()
        offsets.pop()
    return [p[:-1] if p.endswith(b"\r") else p for p in parts], offsets


def _names_units_before(lines: list[str], start: int, stop: int, layout: Layout) -> None:
    """Find the names (and units) line(s) among ``lines[start:stop]`` just before the data."""
    cands: list[int] = []
    i = stop - 1
    while i >= start and len(cands) < 2:
        text = lines[i]
        if not text.strip() or _is_separator(text):
            i -= 1
            continue
        body = text.lstrip().lstrip("#%!").lstrip() if (_is_comment(text) and not cands) else text
        if _is_comment(text) and cands:
            break
        row = tokens(body, layout.delim, layout.spans)
        if layout.delim == FIXED and len(body.split()) == layout.ncol:
            row = body.split()  # names are often aligned differently from the numbers
        if len(row) != layout.ncol or not _names_like(row, layout.decimal):
            # a units line may hold fewer words than columns ("-"), but a names line must match exactly
            break
        cands.append(i)
        i -= 1
    if not cands:
        return
    if len(cands) == 2:
        names_i, units_i = cands[1], cands[0]
    else:
        names_i, units_i = cands[0], None
    layout.names = _row(_strip_comment(lines[names_i]), layout)
    layout.names_line = names_i + 1
    if units_i is not None:
        layout.units = _row(lines[units_i], layout)
        layout.units_line = units_i + 1


def _row(text: str, layout: Layout) -> list[str]:
    if layout.delim == FIXED and len(text.split()) == layout.ncol:
        return text.split()
    return tokens(text, layout.delim, layout.spans)


def _strip_comment(text: str) -> str:
    return text.lstrip().lstrip("#%!").lstrip() if _is_comment(text) else text


# --------------------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------------------

def _tail_sample(raw: bytes, body: int, encoding: str) -> list[str]:
    """Up to :data:`TAIL_LINES` non-blank, non-comment lines from the end of the file (cut first line dropped)."""
    start = max(body, len(raw) - TAIL_BYTES)
    chunk = raw[start:]
    lines = chunk.split(b"\n")
    if start > body:
        lines = lines[1:]
    text = [ln.rstrip(b"\r").decode(encoding, errors="replace") for ln in lines]
    text = [t for t in text if t.strip() and not _is_comment(t)]
    return text[-TAIL_LINES:]


def _interior_blank(line: str, spans: list[tuple[int, int]]) -> bool:
    """True when ``line`` has a blank fixed-width field before its last value."""
    filled = [bool(line[a:b].strip()) for a, b in spans]
    last = max((k for k, f in enumerate(filled) if f), default=-1)
    return not all(filled[:last + 1])


def _data_tail(sample: list[str]) -> list[str]:
    """The trailing run of ``sample`` lines whose blank-separated words are mostly values."""
    out: list[str] = []
    for k, ln in enumerate(reversed(sample)):
        if not _data_like(ln.split(), ".", set()):
            if k == 0:
                continue  # a cut last line
            break
        out.append(ln)
    return out[::-1]


def detect_layout(raw: bytes, path: Path, spec) -> Layout:
    """Analyse the header and data shape of a text table (see the module docstring).

    Raises
    ------
    ParseError
        For binary content, an empty file, or a header that does not match the data.
    """
    body = len(BOM) if raw.startswith(BOM) else 0
    if is_binary(raw[body:body + 65536]):
        pos = raw.find(b"\x00", body)
        raise ParseError(path, "binary content, not a text table", line=1, expected="text lines",
                         found=f"byte 0x{raw[pos]:02x} at offset {pos}" if pos >= 0 else "control characters")
    head = raw[body:body + HEAD_BYTES]
    if len(raw) > body + HEAD_BYTES:
        head = head[:head.rfind(b"\n") + 1]
    blines, offsets = _split_lines(head)
    _, encoding = decode(head, spec.encoding)
    lines = [b.decode(encoding, errors="replace") for b in blines]
    if not any(ln.strip() for ln in lines):
        raise ParseError(path, "the file holds no text lines", line=1, expected="a header or data lines",
                         found="only blank lines")

    layout = Layout(encoding=encoding, start=0, first_line=1, delim=WHITESPACE, ncol=0)
    after, hobo = _markers(lines, layout, spec, path)

    # the delimiter and column count, from data lines at the end of the file
    sample = _tail_sample(raw, body, encoding)
    if spec.delimiter:
        layout.delim = spec.delimiter
    elif hobo:
        layout.delim = ","
    if layout.delim == FIXED:
        layout.spans = ([(sum(spec.widths[:i]), sum(spec.widths[:i + 1])) for i in range(len(spec.widths))]
                        if spec.widths else fixed_spans(_data_tail(sample) or sample))
        layout.ncol = len(layout.spans)
    elif hobo and layout.names:
        layout.ncol = len(layout.names)
    elif spec.delimiter:
        counts = Counter(len(tokens(ln, layout.delim)) for ln in sample)
        layout.ncol = counts.most_common(1)[0][0] if counts else 0
    else:
        layout.delim, layout.ncol = choose_delimiter(sample) if sample else (WHITESPACE, 0)
        if layout.delim == WHITESPACE:
            tail = _data_tail(sample)
            counts = Counter(len(ln.split()) for ln in tail)
            spans = fixed_spans(tail) if len(tail) >= 3 and counts.most_common(1)[0][1] < 0.9 * len(tail) else []
            if len(spans) >= 2 and any(_interior_blank(ln, spans) for ln in tail):
                layout.delim, layout.spans, layout.ncol = FIXED, spans, len(spans)
            elif tail:
                layout.ncol = counts.most_common(1)[0][0]
    layout.decimal = spec.decimal or guess_decimal(sample, layout.delim)
    if spec.delimiter and layout.ncol < 2 and sample:
        raise ParseError(path, "the spec delimiter does not split the data lines", line=None,
                         expected=f"fields separated by {spec.delimiter!r}", found=repr(sample[-1][:60]))

    # where the data start
    if spec.header_lines is not None:
        data_i = spec.header_lines
    else:
        data_i = _find_data_start(lines, after, layout)
        if data_i is None:
            if len(raw) > body + len(head):
                raise ParseError(path, "no data lines found in the first MiB", line=len(lines),
                                 expected=f"lines of {layout.ncol} values", found="header text only")
            data_i = len(lines)
    if data_i > len(lines):
        raise ParseError(path, "the header is longer than the file", line=len(lines),
                         expected=f"{data_i} header lines", found=f"{len(lines)} lines")

    # names and units
    if spec.names_line:
        layout.names = tokens(_strip_comment(lines[spec.names_line - 1]), layout.delim, layout.spans)
        layout.names_line = spec.names_line
        if spec.units_line:
            layout.units = tokens(_strip_comment(lines[spec.units_line - 1]), layout.delim, layout.spans)
            layout.units_line = spec.units_line
    elif layout.names is None and not hobo:
        lo = 0 if layout.convention == "gml_ccgg" else after
        _names_units_before(lines, lo, data_i, layout)
        if layout.names is None and after > 0 and _is_comment(lines[after - 1]):
            _names_units_before(lines, after - 1, after, layout)  # names on the last comment line
    skip = {layout.names_line, layout.units_line}
    header = [ln for i, ln in enumerate(lines[:data_i]) if i + 1 not in skip]
    layout.header = header
    header_attrs(header, layout)
    layout.missing |= declared_missing(header)
    known.apply(layout, lines, data_i, sample)
    if spec.names is not None:
        layout.names = list(spec.names)
    if layout.names is not None and len(layout.names) != layout.ncol:
        raise ParseError(path, "the column names do not match the data", line=layout.names_line,
                         expected=f"{layout.ncol} names (one per data column)", found=f"{len(layout.names)} names")
    layout.first_line = data_i + 1
    layout.start = body + (offsets[data_i] if data_i < len(offsets) else len(head))
    return layout


def _markers(lines: list[str], layout: Layout, spec, path: Path) -> tuple[int, bool]:
    """Recognise explicit header markers; return (index of the first line after the header block, is_hobo)."""
    first = lines[0].lstrip("\ufeff") if lines else ""
    gml = _GML_HEADER_RE.match(first.strip())
    if gml and spec.header_lines is None:
        n = int(gml.group(1))
        if n > len(lines):
            raise ParseError(path, "truncated header", line=len(lines), expected=f"{n} header lines",
                             found=f"{len(lines)} lines")
        layout.convention = "gml_ccgg"
        spec_names_line = n  # the last header line holds the variable names
        if not spec.names_line:
            spec.names_line = spec_names_line
        spec.header_lines = n
        return n, False
    if known.is_hobo(first, lines[1] if len(lines) > 1 else ""):
        layout.convention = "hobo"
        layout.empty_is_missing = True
        title = re.match(r'^\s*"?Plot Title:\s*(.*?)"?\s*$', first)
        names_i = 1 if title else 0
        if title:
            layout.attrs["plot_title"] = title.group(1)
        layout.names = tokens(lines[names_i], ",")
        layout.names_line = names_i + 1
        if spec.header_lines is None:
            spec.header_lines = names_i + 1
        return names_i + 1, True
    for i, ln in enumerate(lines[:5000]):
        if _END_HEADER_RE.match(ln):
            layout.convention = "joss"
            return i + 1, False
    i = 0
    while i < len(lines) and (_is_comment(lines[i]) or not lines[i].strip()):
        i += 1
    return i, False


def _find_data_start(lines: list[str], after: int, layout: Layout, run: int = 5) -> int | None:
    """Index of the first line from ``after`` that starts a run of data-like lines of ``ncol`` fields."""
    n = len(lines)
    ok_cache: dict[int, bool] = {}

    def ok(i: int) -> bool:
        if i not in ok_cache:
            text = lines[i]
            if layout.delim == FIXED:
                row = tokens(text, FIXED, layout.spans)
                good = len(text.rstrip()) > (layout.spans[-1][0] if layout.spans else 0) // 2
            else:
                row = tokens(text, layout.delim)
                good = len(row) == layout.ncol
            ok_cache[i] = good and not _is_comment(text) and _data_like(row, layout.decimal, layout.missing)
        return ok_cache[i]

    for i in range(after, n):
        text = lines[i]
        if not text.strip() or not ok(i):
            continue
        # the next few lines must be mostly data too (a bad line among them is reported by the parser)
        j, seen, good = i + 1, 0, 0
        while j < n and seen < run:
            if lines[j].strip() and not _is_comment(lines[j]):
                seen += 1
                good += ok(j)
            j += 1
        if good * 2 >= seen:
            return i
    return None


def looks_tabular(head: bytes, complete: bool = False) -> bool | None:
    """Cheap sniff: text (not binary) whose last complete lines split into >= 2 consistent, value-like columns.

    Returns None when undecided: ``head`` (a first chunk, not the ``complete`` file start) shows only header
    lines so far. GML ``# header_lines`` and HOBO exports are accepted from their first lines.
    """
    if head.startswith(BOM):
        head = head[len(BOM):]
    if not head.strip() or is_binary(head):
        return False
    stripped = head.lstrip()
    if stripped[:1] in (b"<", b"{", b"[") or stripped.startswith((b"%PDF", b"PK\x03", b"\x89HDF", b"CDF")):
        return False
    text, _ = decode(head)
    lines = text.split("\n")
    more = len(head) >= 4096 and not complete
    if (more or complete) and len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the read may cut the last line
    lines = [ln.rstrip("\r") for ln in lines]
    if lines and (_GML_HEADER_RE.match(lines[0].strip().lstrip("\ufeff"))
                  or known.is_hobo(lines[0], lines[1] if len(lines) > 1 else "")):
        return True
    data = [ln for ln in lines if ln.strip() and not _is_comment(ln)]
    if data:
        sample = data[-TAIL_LINES:]
        delim, ncol = choose_delimiter(sample)
        if ncol >= 2:
            decimal = guess_decimal(sample, delim)
            ok = [len(r) == ncol and _data_like(r, decimal, set()) for r in (tokens(ln, delim) for ln in sample)]
            last = ok[-5:]
            if sum(last) >= min(2, len(last)) and sum(last) * 2 >= len(last):  # >= 2 data lines
                return True
    return None if more else False
