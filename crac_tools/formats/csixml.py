"""Campbell Scientific CSIXML reader.

CSIXML (LoggerNet's XML table format) holds one table::

    <?xml version="1.0" standalone="yes"?>
    <csixml version="1.0">
      <head>
        <environment><station-name>..</station-name><table-name>..</table-name><model>..</model>
          <serial-no>..</serial-no><os-version>..</os-version><dld-name>..</dld-name><dld-sig>..</dld-sig>
        </environment>
        <fields><field name="AirTC_Avg" type="xsd:float" units="Deg C" process="Avg"/> ...</fields>
      </head>
      <data>
        <r no="10" time="2010-12-20T11:37:45"><v1>13.29</v1><v2>21.04</v2></r> ...
      </data>
    </csixml>

The document is parsed with :mod:`xml.parsers.expat` (streaming, with line numbers for errors); the values
of each field are collected as strings and converted column by column with numpy. The Dataset follows the
TOA5 reader: ``time`` from ``r/@time`` (datetime64[ns]), ``RECORD`` (int64) from ``r/@no``, one variable per
field with ``units``, ``process`` and ``long_name``; ``xsd:float``/``xsd:double`` become float32 where
every value survives (else float64), integer types int32/int64, ``xsd:boolean`` -1/0, ``xsd:dateTime``
datetime64[ns], anything else strings. ``NAN``/``INF`` are read as NaN/inf. A file cut off while being
written (no closing tags, or a last record cut short) keeps its complete records with a
:class:`~crac_tools.errors.TruncatedRecordWarning`. Records are kept in file order (event-driven tables may
repeat times).

Examples
--------
>>> from crac_tools.formats.csixml import read_csixml
>>> ds = read_csixml("station_Daily.xml")  # doctest: +SKIP
>>> ds["BattV_Min"].attrs["units"]  # doctest: +SKIP
'Volts'
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from xml.parsers import expat

import numpy as np
import xarray as xr

from ..errors import ParseError, TruncatedRecordWarning, warn
from .campbell_types import TIME_RE, Column, build_dataset, record_variable
from .common import check_table, named_table_tree, safe_sniff, time_span
from .registry import TimeRange, register
from .values import as_float, as_int, empty_values

_SNIFF_RE = re.compile(rb"\A(\xef\xbb\xbf)?\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<csixml[\s>]", re.S)
#: environment elements -> global attribute names (the TOA5 reader's names where they exist).
ENV_KEYS = {"station-name": "station_name", "table-name": "table_name", "model": "logger_model",
            "serial-no": "logger_serial", "os-version": "logger_os", "dld-name": "program_name",
            "dld-sig": "program_signature"}
_FLOAT_TYPES = {"float", "double", "decimal"}
_INT_TYPES = {"int", "integer", "long", "short", "byte", "unsignedint", "unsignedlong", "unsignedshort",
              "unsignedbyte", "nonnegativeinteger", "positiveinteger", "negativeinteger", "nonpositiveinteger"}
_NAN = {"NAN", "NaN", "nan", ""}
_TRUE = {"true", "-1", "1"}
_FALSE = {"false", "0"}
_NUM_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z|[-+]?(INF|inf|Inf|NAN|NaN|nan)\Z")


class _Truncated(Exception):
    pass


class _Parser:
    """Streaming expat handlers: header fields and environment, then one string list per column."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.p = expat.ParserCreate()
        self.p.buffer_text = True
        self.p.StartElementHandler = self.start
        self.p.EndElementHandler = self.end
        self.p.CharacterDataHandler = self.chars
        self.stack: list[str] = []
        self.env: dict[str, str] = {}
        self.version = ""
        self.fields: list[dict[str, str]] = []
        self.fields_line = 0
        self.cols: list[list[str]] = []
        self.times: list[str] = []
        self.nos: list[str | None] = []
        self.text: list[str] = []
        self.row: list[str | None] | None = None
        self.row_line = 0
        self.v = -1
        self.in_data = False
        self.closed = False

    def error(self, message: str, expected: str | None = None, found: str | None = None,
              column: str | None = None) -> ParseError:
        return ParseError(self.path, message, line=self.p.CurrentLineNumber, expected=expected, found=found,
                          column=column)

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        depth = len(self.stack)
        self.stack.append(tag)
        if depth == 0:
            if tag != "csixml":
                raise self.error("not a CSIXML document", expected="<csixml> root element", found=f"<{tag}>")
            self.version = attrs.get("version", "")
        elif tag == "field" and self.stack[1:3] == ["head", "fields"]:
            if "name" not in attrs:
                raise self.error("a field without a name", expected='<field name="..." type="..."/>',
                                 found=f"attributes {sorted(attrs)}")
            self.fields.append(attrs)
        elif tag == "data" and depth == 1:
            if not self.fields:
                raise self.error("no field definitions before <data>", expected="<head><fields><field .../>",
                                 found="<data>")
            self.in_data = True
            self.cols = [[] for _ in self.fields]
        elif tag == "r" and self.in_data and depth == 2:
            if "time" not in attrs:
                raise self.error("a record without a time", expected='<r time="YYYY-MM-DDTHH:MM:SS">',
                                 found=f"attributes {sorted(attrs)}")
            self.row = [None] * len(self.fields)
            self.row_time, self.row_no = attrs["time"], attrs.get("no")
            self.row_line = self.p.CurrentLineNumber
        elif self.row is not None and depth == 3:
            if tag[:1] != "v" or not tag[1:].isdigit():
                raise self.error("unexpected element in a record", expected="<v1> ... <vN>", found=f"<{tag}>")
            self.v = int(tag[1:]) - 1
            if not 0 <= self.v < len(self.fields):
                raise self.error("value element beyond the fields", expected=f"<v1> ... <v{len(self.fields)}>",
                                 found=f"<{tag}>")
        self.text = []

    def chars(self, data: str) -> None:
        self.text.append(data)

    def end(self, tag: str) -> None:
        self.stack.pop()
        depth = len(self.stack)
        if depth == 3 and self.stack == ["csixml", "head", "environment"]:
            self.env[tag] = "".join(self.text).strip()
        elif self.row is not None and depth == 3 and tag.startswith("v"):
            self.row[self.v] = "".join(self.text).strip()
        elif self.row is not None and depth == 2 and tag == "r":
            missing = [j for j, val in enumerate(self.row) if val is None]
            if missing:
                j = missing[0]
                raise ParseError(self.path, "a record lacks a value", line=self.row_line,
                                 column=self.fields[j]["name"], expected=f"<v{j + 1}>", found="no such element")
            for col, val in zip(self.cols, self.row, strict=True):
                col.append(val)
            self.times.append(self.row_time)
            self.nos.append(self.row_no)
            self.row = None
        elif depth == 0:
            self.closed = True
        self.text = []

    def parse(self, raw: bytes) -> bool:
        """Parse the document; return True when it was cut off (the partial record is dropped)."""
        try:
            self.p.Parse(raw, False)
        except expat.ExpatError as exc:
            raise ParseError(self.path, f"malformed XML ({expat.errors.messages[exc.code]})", line=exc.lineno,
                             expected="well-formed CSIXML", found=f"error at column {exc.offset + 1}") from None
        try:
            self.p.Parse(b"", True)
        except expat.ExpatError as exc:
            if not self.in_data:
                raise ParseError(self.path, "the file ends inside the CSIXML header", line=exc.lineno,
                                 expected="<head> ... </head><data>", found="end of file") from None
            return True
        return False


def _float_column(values: list[str], name: str, path: Path) -> np.ndarray:
    arr = np.array(values, dtype=object)
    nan = np.isin(arr, list(_NAN))
    try:
        out = np.where(nan, "nan", arr).astype(np.float64)
    except ValueError:
        bad = next(v for v in values if v not in _NAN and not _NUM_RE.match(v))
        raise ParseError(path, "bad value in a number field", column=name, expected="a number",
                         found=repr(bad)) from None
    return as_float(out)


def _convert(kind: str, values: list[str], name: str, path: Path) -> np.ndarray:
    if kind == "float":
        return _float_column(values, name, path)
    if kind == "int":
        arr = np.array(values, dtype=object)
        if np.isin(arr, list(_NAN | {"INF", "-INF", "inf", "-inf"})).any():
            return _float_column(values, name, path)
        try:
            return as_int(np.array(values, dtype=str).astype(np.int64))
        except (ValueError, OverflowError):
            if all(_NUM_RE.match(v) for v in values):
                return _float_column(values, name, path)
            bad = next(v for v in values if not re.fullmatch(r"[-+]?\d+", v))
            raise ParseError(path, "bad value in an integer field", column=name, expected="an integer",
                             found=repr(bad)) from None
    if kind == "bool":
        low = np.char.lower(np.array(values, dtype=str))
        true, false = np.isin(low, list(_TRUE)), np.isin(low, list(_FALSE))
        if not (true | false).all():
            bad = values[int(np.flatnonzero(~(true | false))[0])]
            raise ParseError(path, "bad value in a boolean field", column=name,
                             expected="true/false, -1/0 or 1/0", found=repr(bad))
        return np.where(true, -1, 0).astype(np.int32)
    if kind == "time":
        return _times(values, name, path)
    return np.array(values, dtype=object)


def _times(values: list[str], name: str, path: Path, line: int | None = None) -> np.ndarray:
    if len(values) == 0:
        return np.empty(0, dtype="datetime64[ns]")
    arr = np.array(values, dtype=str)
    blank = np.isin(arr, list(_NAN))
    try:
        return np.where(blank, "NaT", np.char.replace(arr, " ", "T")).astype("datetime64[ns]")
    except ValueError:
        bad = next(v for v in values if v not in _NAN and not TIME_RE.match(v))
        raise ParseError(path, "bad time stamp", line=line, column=name,
                         expected="an ISO time YYYY-MM-DDTHH:MM:SS[.fff]", found=repr(bad)) from None


def _kind(xsd: str) -> str:
    t = xsd.split(":")[-1].strip()
    low = t.lower()
    if low in _FLOAT_TYPES:
        return "float"
    if low in {x.lower() for x in _INT_TYPES}:
        return "int"
    if low == "boolean":
        return "bool"
    if low == "datetime":
        return "time"
    return "string"


_ENCODING_RE = re.compile(rb"(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']+)[\"']")
_R_TAG = re.compile(r"<r\b([^>]*)>")
_V_OPEN = re.compile(r"<v(\d+)[\s>]")
_V_CLOSE = re.compile(r"</v(\d+)\s*>")
_V_TEXT = re.compile(r"<v\d+(?:\s[^>]*)?>\s*([^<]*?)\s*</v\d+\s*>")
_TIME_ATTR = re.compile(r"\stime\s*=\s*[\"']([^\"']*)[\"']")
_NO_ATTR = re.compile(r"\sno\s*=\s*[\"']([^\"']*)[\"']")


def _fast(raw: bytes, parser: _Parser) -> bool:
    """Fill ``parser`` from a complete, regular document with regular expressions over the data part.

    The records of a CSIXML file are uniform (``<r time= no=><v1>..</v1>...<vN>..</vN></r>``); when the file
    is well-formed and its data part has exactly that shape (checked by counting every tag), the values are
    extracted in C (``re.findall``) instead of one Python callback per element. Anything else (a cut-off file,
    comments, CDATA, empty ``<v/>`` elements, missing values) returns False and the caller uses the streaming
    parser, which reports errors with line numbers.
    """
    decl = _ENCODING_RE.match(raw)
    if decl and decl.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        return False  # the values are decoded as UTF-8 here
    try:
        expat.ParserCreate().Parse(raw, True)  # well-formed and complete (no Python callbacks: fast)
    except expat.ExpatError:
        return False
    i = raw.find(b"<data")
    j = raw.rfind(b"</data>")
    if i < 0 or j < i or raw[i + 5:i + 6] not in (b">", b" ", b"\t", b"\r", b"\n"):
        return False
    try:
        parser.p.Parse(raw[:i] + b"<data></data></csixml>", True)
    except (expat.ExpatError, ParseError):
        return False
    nf = len(parser.fields)
    if not nf or not parser.in_data:
        return False
    try:
        data = raw[i:j].decode("utf-8")
    except UnicodeDecodeError:
        return False
    if "\r" in data:
        data = data.replace("\r\n", "\n").replace("\r", "\n")
    tags = _R_TAG.findall(data)
    n = len(tags)
    if data.count("<") != 1 + 2 * n + 2 * n * nf:  # <data>, <r></r>, <vK></vK> and nothing else
        return False
    opens, closes, texts = _V_OPEN.findall(data), _V_CLOSE.findall(data), _V_TEXT.findall(data)
    if not len(opens) == len(closes) == len(texts) == n * nf:
        return False
    if n:
        idx = np.array(opens).astype(np.int64)
        if not (np.array_equal(idx, np.array(closes).astype(np.int64))
                and (idx.reshape(n, nf) == np.arange(1, nf + 1)).all()):
            return False
    attrs = "\x00".join(tags) + "\x00"
    times, nos = _TIME_ATTR.findall(attrs), _NO_ATTR.findall(attrs)
    if len(times) != n or len(nos) not in (0, n):
        return False
    values = np.array(texts, dtype=str).reshape(n, nf) if n else np.empty((0, nf), dtype=str)
    if "&" in data:  # entities: replaced as expat does, then stripped again
        values = np.array([html.unescape(v).strip() if "&" in v else v for v in texts], dtype=str).reshape(n, nf)
    parser.cols = [values[:, k] for k in range(nf)]
    parser.times = times
    parser.nos = nos if nos else [None] * n
    parser.closed = True
    return True


def _dataset(parser: _Parser, path: Path, truncated: bool) -> xr.Dataset:
    if parser.fields and not parser.in_data and not parser.closed:
        raise ParseError(path, "no <data> element", expected="<data> after </head>", found="end of document")
    if not parser.fields:
        raise ParseError(path, "no field definitions", expected="<head><fields><field .../>", found="none")
    n = len(parser.times)
    if truncated:
        what = "a partial record left out" if parser.row is not None else "its closing tags are missing"
        warn(TruncatedRecordWarning, f"{path}: the document is cut off after {n} complete records ({what})")
    time = _times(parser.times, "time", path)
    if np.isnat(time).any():
        raise ParseError(path, "a record with an empty time", column="time", expected="a time stamp", found="''")
    columns = []
    nos = list(parser.nos)
    if any(x is not None for x in nos):
        if any(x is None for x in nos):
            j = nos.index(None)
            raise ParseError(path, "record numbers on some records only", column="no",
                             expected="a no= attribute on every record", found=f"none on record {j + 1}")
        try:
            columns.append(record_variable(np.array(nos, dtype=str).astype(np.int64)))
        except ValueError:
            bad = next(x for x in nos if not x.strip().isdigit())
            raise ParseError(path, "bad record number", column="no", expected="an integer",
                             found=repr(bad)) from None
    for j, field in enumerate(parser.fields):
        name = field["name"]
        kind = _kind(field.get("type", "xsd:string"))
        values = _convert(kind, parser.cols[j], name, path) if n else empty_values(kind)
        columns.append(Column(name, values, units=field.get("units", ""), process=field.get("process", ""),
                              attrs={"xsd_type": field.get("type", "")} if field.get("type") else None))
    attrs: dict = {"file_format": "CSIXML"}
    for key, value in parser.env.items():
        attrs[ENV_KEYS.get(key, key.replace("-", "_"))] = value
    if parser.version:
        attrs["csixml_version"] = parser.version
    attrs["source_file"] = path.name
    return build_dataset(time, columns, attrs)


class CsixmlReader:
    """Reader for Campbell Scientific CSIXML files (one table per file).

    Examples
    --------
    >>> from crac_tools.formats.csixml import CsixmlReader
    >>> CsixmlReader().sniff(b'<?xml version="1.0" standalone="yes"?>\\n<csixml version="1.0">', None)
    True
    >>> CsixmlReader().sniff(b'<?xml version="1.0"?><kml>', None)
    False
    """

    name = "csixml"
    multi_table = False

    @safe_sniff
    def sniff(self, head: bytes, path: Path | None) -> bool:
        """True when the root element is ``<csixml>`` (after an optional XML declaration and comments)."""
        return _SNIFF_RE.match(head) is not None

    def read(self, path: str | os.PathLike, table: str | None = None, **options) -> xr.Dataset:
        """Read a CSIXML file into an :class:`xarray.Dataset`.

        Parameters
        ----------
        path
            The CSIXML file.
        table
            When given, the table name the file must hold (``<table-name>``).
        **options
            Accepted for the reader protocol; not used.

        Returns
        -------
        xarray.Dataset
            ``RECORD`` (when records are numbered) and one variable per field along ``time``; the
            ``<environment>`` elements in ``attrs``.

        Raises
        ------
        ParseError
            Malformed XML (with its line), a record without time or a value, a value that does not fit its
            field type, or ``table`` differs from the file's table.

        Examples
        --------
        >>> ds = CsixmlReader().read("station_Daily.xml")  # doctest: +SKIP
        >>> ds.attrs["table_name"]  # doctest: +SKIP
        'Daily'
        """
        path = Path(path)
        raw = path.read_bytes()
        parser = _Parser(path)
        truncated = False
        if not _fast(raw, parser):
            parser = _Parser(path)
            truncated = parser.parse(raw)
        ds = _dataset(parser, path, truncated)
        check_table(path, table, ds.attrs.get("table_name", ""))
        return ds

    def read_tree(self, path: str | os.PathLike, **options) -> xr.DataTree:
        """Read the file as a DataTree with one group named by the table (``<table-name>``)."""
        return named_table_tree(self.read(path, **options))

    def time_range(self, path: str | os.PathLike, **options) -> TimeRange:
        """First and last record time and the record count (the file is read)."""
        return time_span(self.read(path, **options)["time"].values, ordered=True)


register(CsixmlReader())


def read_csixml(path: str | os.PathLike) -> xr.Dataset:
    """Read a Campbell CSIXML file (see :class:`CsixmlReader`)."""
    return CsixmlReader().read(path)
