"""The archive's ASCII rules, shared by every exchange format.

* only printable ASCII (32-126): no TAB, no control characters, no bytes above 126;
* lines of at most :data:`MAX_LINE` (132) characters; long text and long lists are wrapped where the
  format allows it;
* precision tailored to the data: a value is never printed with more significant digits than its
  source holds. A ``float32`` from a logger is printed with the shortest decimal that reads back as the
  same ``float32`` (``np.format_float_positional(unique=True)``); every value of a variable is then
  printed with the same number of decimals (the most any of its values needs, up to
  :data:`MAX_FIXED_DECIMALS`), so a column of 2-decimal temperatures stays a column of 2-decimal
  temperatures; full-precision data (more decimals, or magnitudes outside 1e-6..1e16) are printed value
  by value with their own shortest repr (scientific notation outside that range), never padded;
* scale factors: a real variable with ``d`` decimals may be stored as the integers ``value * 10**d``
  with the scale factor ``10**-d`` when that makes the file smaller (no decimal point, no leading
  ``0.``) and ``integer * scale`` reads back as exactly the same value of the source dtype.

:func:`encode_column` applies the precision and scale rules to one variable; :func:`check_text` /
:func:`check_file` report every rule violation of a written file.

Examples
--------
>>> import numpy as np
>>> col = encode_column(np.array([12.06, 11.5, np.nan], dtype="float32"))
>>> col.text, col.scale_text, col.fill_text
(['1206', '1150', '-9999'], '0.01', '-9999')
>>> encode_column(np.array([12.06, 11.5], dtype="float32"), allow_scale=False).text
['12.06', '11.50']
>>> check_text("ok line\\nbad\\tline\\n")
['line 2: character 0x09 is not printable ASCII (32-126)']
"""

from __future__ import annotations

import os
import textwrap
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import CracError

__all__ = [
    "MAX_LINE",
    "AsciiRuleError",
    "Column",
    "check_file",
    "check_text",
    "encode_column",
    "pick_fill",
    "shortest_repr",
    "to_ascii",
    "wrap_items",
    "wrap_text",
]

#: the longest line the archive accepts
MAX_LINE = 132
#: most decimals treated as a fixed resolution of the data (every value printed with the same decimals);
#: data needing more (full-precision floats) are printed value by value with their shortest repr
MAX_FIXED_DECIMALS = 6


class AsciiRuleError(CracError, ValueError):
    """A text cannot be written within the archive's ASCII rules, or a written file breaks them."""


def to_ascii(text: object) -> str:
    """``text`` as one line of printable ASCII: accents dropped, TABs/newlines as spaces, others removed.

    Examples
    --------
    >>> to_ascii("Température\\t5 °C")
    'Temperature 5 C'
    """
    s = unicodedata.normalize("NFKD", str(text))
    s = "".join(" " if ch in "\t\r\n\v\f" else ch for ch in s)
    return "".join(ch for ch in s if 32 <= ord(ch) <= 126)


def wrap_text(text: object, width: int = MAX_LINE, prefix: str = "", indent: str = "") -> list[str]:
    """Wrap ``text`` (made ASCII) into lines of at most ``width`` characters.

    The first line starts with ``prefix``, continuation lines with ``indent``; embedded newlines start
    new lines. Words longer than a line are broken.

    Examples
    --------
    >>> wrap_text("a " * 5, width=6, prefix="K: ", indent="  ")
    ['K: a a', '  a a', '  a']
    """
    out: list[str] = []
    parts = str(text).split("\n") or [""]
    for i, part in enumerate(parts):
        lines = textwrap.wrap(to_ascii(part), width=width, initial_indent=prefix if i == 0 else indent,
                              subsequent_indent=indent, break_long_words=True, break_on_hyphens=False)
        out.extend(lines or [(prefix if i == 0 else indent).rstrip()])
    return out


def wrap_items(items: Sequence[str], width: int = MAX_LINE, sep: str = " ") -> list[str]:
    """Join ``items`` with ``sep`` into as few lines of at most ``width`` characters as possible.

    For the lists that NASA Ames lets continue on the next line (scale factors, missing values, data
    records). An item longer than ``width`` raises :class:`AsciiRuleError`.

    Examples
    --------
    >>> wrap_items(["1", "22", "333"], width=5)
    ['1 22', '333']
    """
    lines: list[str] = []
    cur = ""
    for item in items:
        if len(item) > width:
            raise AsciiRuleError(f"item {item[:40]!r}... is longer than {width} characters")
        if not cur:
            cur = item
        elif len(cur) + len(sep) + len(item) <= width:
            cur += sep + item
        else:
            lines.append(cur)
            cur = item
    if cur or not lines:
        lines.append(cur)
    return lines


def check_text(text: str, max_line: int = MAX_LINE) -> list[str]:
    """Every violation of the ASCII rules in ``text`` (empty when it is clean).

    Examples
    --------
    >>> check_text("x" * 133)
    ['line 1: 133 characters (at most 132)']
    """
    problems = []
    for n, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        for ch in line:
            if not 32 <= ord(ch) <= 126:
                problems.append(f"line {n}: character {ord(ch):#04x} is not printable ASCII (32-126)")
                break
        if len(line) > max_line:
            problems.append(f"line {n}: {len(line)} characters (at most {max_line})")
    return problems


def check_file(path: str | os.PathLike, max_line: int = MAX_LINE) -> list[str]:
    """Every violation of the ASCII rules in the file at ``path`` (bytes above 126 included).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_bytes(b"caf\\xc3\\xa9\\n")
    >>> check_file(p)
    ['line 1: character 0xc3 is not printable ASCII (32-126)']
    """
    from pathlib import Path

    data = Path(path).read_bytes()
    return check_text(data.decode("latin-1"), max_line)


# ------------------------------------------------------------------------------------------ numbers
def shortest_repr(value: float | np.floating, scientific: bool = False) -> str:
    """The shortest decimal that reads back as the same value of ``value``'s own float type.

    Examples
    --------
    >>> shortest_repr(np.float32(0.1)), float(np.float32(0.1))
    ('0.1', 0.10000000149011612)
    >>> shortest_repr(np.float32(1e-20))
    '1e-20'
    """
    if not isinstance(value, np.floating):
        value = np.float64(value)
    if not scientific and (value == 0 or 1e-6 <= abs(value) < 1e16):
        return np.format_float_positional(value, unique=True, trim="-")
    return np.format_float_scientific(value, unique=True, trim="-", exp_digits=1)


def pick_fill(values: np.ndarray, reserved: Iterable[float] = ()) -> int:
    """A missing-value indicator ``-9999`` (or ``-99999``, ...) below every value of ``values``.

    Examples
    --------
    >>> pick_fill(np.array([-12000.0, 5.0]))
    -99999
    """
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    low = float(finite.min()) if finite.size else 0.0
    fill = -9999
    while fill >= low or fill in set(reserved):
        fill = fill * 10 - 9
    return fill


@dataclass
class Column:
    """One variable encoded as text by the archive's precision and scale rules.

    Attributes
    ----------
    text
        One string per value (the fill text where the value is missing).
    scale
        The scale factor: file value * scale = data value (1.0 when not scaled).
    scale_text
        The scale factor as written in headers (``"1"``, ``"0.01"``).
    fill
        The missing-value indicator (in file units) or None when nothing is missing and none was asked.
    fill_text
        The indicator as written (``"-9999"``).
    decimals
        Decimals of the data values (before scaling); ``-1`` when each value has its own (full precision).
    """

    text: list[str]
    scale: float
    scale_text: str
    fill: int | None
    fill_text: str
    decimals: int

    @property
    def width(self) -> int:
        """Widest text of the column."""
        return max((len(t) for t in self.text), default=0)


def _decimals(s: str) -> int:
    return len(s.split(".", 1)[1]) if "." in s else 0


def _pad(s: str, d: int) -> str:
    have = _decimals(s)
    if d == 0 or have == d:
        return s
    return s + ("" if "." in s else ".") + "0" * (d - have)


def _to_int(s: str, d: int) -> int:
    whole, _, frac = s.partition(".")
    return int(whole + frac + "0" * (d - len(frac)))


def encode_column(values: np.ndarray, allow_scale: bool = True, fill: int | None = None,
                  need_fill: bool = True, reserved: Iterable[float] = (-7777, -8888)) -> Column:
    """Encode one variable's values as text by the precision and scale rules.

    Parameters
    ----------
    values
        1-D numeric array (integer, boolean or float; NaN marks missing values).
    allow_scale
        Store reals as scaled integers when that makes the text smaller and reads back exactly.
    fill
        The missing-value indicator in file units; chosen by :func:`pick_fill` when None.
    need_fill
        Choose a fill even when nothing is missing (headers that declare one for every variable).
    reserved
        Values the fill must not take (ICARTT's ULOD/LLOD flags).

    Returns
    -------
    Column

    Examples
    --------
    >>> c = encode_column(np.array([1013.0, 1013.5], dtype="float32"))
    >>> c.text, c.scale_text
    (['10130', '10135'], '0.1')
    >>> encode_column(np.array([3, 4], dtype="int64")).text
    ['3', '4']
    """
    values = np.asarray(values)
    if values.dtype.kind == "b":
        values = values.astype("i1")
    if values.dtype.kind not in "iuf":
        raise AsciiRuleError(f"cannot encode {values.dtype} values as numbers")
    missing = np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
    if values.dtype.kind in "iu":
        text = [str(int(v)) for v in values]
        numeric = values.astype("f8")
        scale, scale_text, decimals = 1.0, "1", 0
    else:
        uniq, inverse = np.unique(values[~missing], return_inverse=True)
        reprs = [shortest_repr(v) for v in uniq]
        decimals = max((_decimals(r) for r in reprs if "e" not in r), default=0)
        if any("e" in r for r in reprs) or decimals > MAX_FIXED_DECIMALS:
            # full-precision data, not a fixed instrument resolution: each value by its own shortest repr
            allow_scale, decimals = False, -1
        plain = [_pad(r, decimals) if decimals >= 0 else r for r in reprs]
        chosen, scale, scale_text = plain, 1.0, "1"
        numeric = values.astype("f8")
        if allow_scale and decimals > 0:
            ints = np.array([_to_int(r, decimals) for r in reprs], dtype="i8") if reprs else np.zeros(0, "i8")
            scale_text = np.format_float_positional(10.0 ** -decimals, trim="-")
            scale = float(scale_text)
            back = (ints.astype("f8") * scale).astype(values.dtype)
            as_text = [str(i) for i in ints]
            counts = np.bincount(inverse, minlength=len(uniq)) if len(uniq) else np.zeros(0, int)
            smaller = sum(len(t) * c for t, c in zip(as_text, counts, strict=True)) < \
                sum(len(t) * c for t, c in zip(plain, counts, strict=True))
            if smaller and np.array_equal(back, uniq):
                chosen, numeric = as_text, np.zeros(values.shape, "f8")
                numeric[~missing] = ints[inverse]
            else:
                scale, scale_text = 1.0, "1"
        text = [""] * len(values)
        idx = np.flatnonzero(~missing)
        for i, k in zip(idx, inverse, strict=True):
            text[i] = chosen[k]
    if fill is None and (need_fill or missing.any()):
        fill = pick_fill(numeric[~missing] if missing.any() else numeric, reserved)
    fill_text = "" if fill is None else str(int(fill))
    for i in np.flatnonzero(missing):
        text[i] = fill_text
    return Column(text, scale, scale_text, fill, fill_text, decimals)
