"""Value, dtype and name decisions shared by the format readers.

Every reader turns its columns into the same kinds of variables (see ``docs/architecture.md``): numbers become
float32 where that loses nothing, else float64; integers int32 where they fit, else int64; names stay as the
file writes them unless netCDF refuses them. The rules live here so that the readers agree (a TOB1 file and
the TOA5 that CardConvert makes from it read to equal Datasets):

- :func:`fits_float32`, :func:`as_float`: the float32-or-float64 decision;
- :func:`fits_int32`, :func:`as_int`: the int32-or-int64 decision (``RECORD`` always int64);
- :func:`empty_values`: the zero-length array of a column kind (a file without records);
- :func:`netcdf_name`: a netCDF-safe variable name close to the file's;
- :func:`decode_text`: header text as UTF-8 with a Latin-1 fallback.

Examples
--------
>>> import numpy as np
>>> as_float(np.array([1.016, np.nan])).dtype, as_float(np.array([0.123456789])).dtype
(dtype('float32'), dtype('float64'))
>>> netcdf_name("a/b", 0)
'a_b'
"""

from __future__ import annotations

import re

import numpy as np

#: Characters netCDF does not accept in a name (``/`` and control characters); each becomes ``_``.
_BAD_NAME_CHARS = re.compile(r"[/\x00-\x1f\x7f]")
#: Powers of ten 1e-340 .. 1e329 by table lookup (np.power is ~10x slower than a take).
_POW10_OFFSET = 340
with np.errstate(over="ignore"):
    _POW10 = 10.0 ** np.arange(-_POW10_OFFSET, 330, dtype=np.float64)
#: Array dtype of an empty column per kind (anything else: float64).
_EMPTY_DTYPES = {"int": np.int64, "bool": np.int32, "time": "datetime64[ns]", "string": object}


def fits_float32(x: np.ndarray) -> bool:
    """Whether every finite value of a float64 array is stored losslessly as float32.

    A value fits when it has at most 7 significant digits and survives the float32 round trip: with
    ``s = 10**(6 - floor(log10|x|))``, (a) ``x*s`` is an integer (to 1e-6) and (b) ``|float32(x) - x| * s <= 0.5``
    (half a unit of the 7th significant digit). NaN, infinities and zeros always fit; denormals and values
    beyond the float32 range never do. ``x`` is not modified.

    Parameters
    ----------
    x
        A float64 array (any shape is treated as flat).

    Returns
    -------
    bool
        True when ``x.astype(np.float32)`` prints every value as the file wrote it.

    Examples
    --------
    >>> fits_float32(np.array([1.016, 0.5542219, np.nan, 0.0]))
    True
    >>> fits_float32(np.array([-0.471105068922043])), fits_float32(np.array([4.09545187592563e-312]))
    (False, False)
    """
    a = np.abs(x)
    ok = np.isfinite(a)
    ok &= a != 0
    if not ok.all():
        a, x = a[ok], x[ok]
    if a.size == 0:
        return True
    if a.max() > 3.4e38 or a.min() < 1.1754944e-38:  # float32 overflow or denormal
        return False
    with np.errstate(all="ignore"):
        e = np.log10(a, out=a)
        np.floor(e, out=e)
        k = e.astype(np.int64)
        np.subtract(_POW10_OFFSET + 6, k, out=k)
        s = _POW10.take(k)  # 10 ** (6 - floor(log10|x|)), by table lookup (np.power is ~10x slower)
        y = np.multiply(x, s, out=a)  # in [1e6, 1e7)
        back = x.astype(np.float32).astype(np.float64)
        back *= s
        back -= y
        np.abs(back, out=back)
        if not (back <= 0.5).all():
            return False
        np.subtract(y, np.rint(y, out=s), out=y)
        np.abs(y, out=y)
        return bool((y < 1e-6).all())


def as_float(values: np.ndarray) -> np.ndarray:
    """A numeric column as float32 where every value fits (:func:`fits_float32`), else float64.

    Parameters
    ----------
    values
        Numbers of any numeric dtype (NaN for missing values).

    Returns
    -------
    numpy.ndarray
        float32, or float64 (``values`` itself when it already is float64).

    Examples
    --------
    >>> as_float(np.array([13.29, 21.04])).dtype, as_float(np.array([4.09545187592563e-312])).dtype
    (dtype('float32'), dtype('float64'))
    """
    values = np.asarray(values, dtype=np.float64)
    if fits_float32(values):
        return values.astype(np.float32)
    return values


def fits_int32(values: np.ndarray) -> bool:
    """Whether a non-empty integer array holds only values in the int32 range.

    Parameters
    ----------
    values
        An integer array.

    Returns
    -------
    bool
        False for an empty array (it keeps int64).

    Examples
    --------
    >>> fits_int32(np.array([-5, 2**31 - 1])), fits_int32(np.array([2**31])), fits_int32(np.array([], int))
    (True, False, False)
    """
    return bool(values.size and values.min() >= -(2**31) and values.max() < 2**31)


def as_int(values: np.ndarray, record: bool = False) -> np.ndarray:
    """An integer column as int32 when every value fits (:func:`fits_int32`), else int64.

    Parameters
    ----------
    values
        Integers of any integer dtype.
    record
        The ``RECORD`` column: always int64.

    Returns
    -------
    numpy.ndarray
        int32, or int64 (``values`` itself when it already is int64).

    Examples
    --------
    >>> as_int(np.array([1, 2], dtype=np.uint8)).dtype, as_int(np.array([1, 2]), record=True).dtype
    (dtype('int32'), dtype('int64'))
    """
    values = np.asarray(values).astype(np.int64, copy=False)
    if not record and fits_int32(values):
        return values.astype(np.int32)
    return values


def empty_values(kind: str) -> np.ndarray:
    """The zero-length array of a column kind, for a file without records.

    Parameters
    ----------
    kind
        ``"int"`` (int64), ``"bool"`` (int32), ``"time"`` (datetime64[ns]), ``"string"`` (object); anything
        else float64.

    Returns
    -------
    numpy.ndarray
        An empty array of that dtype.

    Examples
    --------
    >>> empty_values("time").dtype, empty_values("float").dtype
    (dtype('<M8[ns]'), dtype('float64'))
    """
    return np.empty(0, dtype=_EMPTY_DTYPES.get(kind, np.float64))


def netcdf_name(name: str, index: int, prefix: str = "column") -> str:
    """A variable name: ``name`` unchanged when netCDF accepts it, else a close valid name.

    ``/`` and control characters become ``_``, blanks around the name are dropped and a name that does not
    start with a letter, a digit or ``_`` gets a leading ``v``.

    Parameters
    ----------
    name
        The name the file gives.
    index
        The column's 0-based position, for the name of an unnamed column.
    prefix
        Start of the name of an unnamed column: ``<prefix>_<index + 1>``.

    Returns
    -------
    str
        A name netCDF and zarr accept.

    Examples
    --------
    >>> netcdf_name("NO2/NOx ratio", 0), netcdf_name("", 3), netcdf_name("", 3, "var"), netcdf_name("+x", 0)
    ('NO2_NOx ratio', 'column_4', 'var_4', 'v+x')
    """
    new = _BAD_NAME_CHARS.sub("_", name.strip())
    if not new:
        return f"{prefix}_{index + 1}"
    if not (new[0].isalnum() or new[0] == "_"):
        new = "v" + new
    return new


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode header text as UTF-8, falling back to Latin-1 (which never fails).

    Parameters
    ----------
    data
        Bytes from the file.

    Returns
    -------
    tuple of str
        The text and the encoding used (``"utf-8"`` or ``"latin-1"``).

    Examples
    --------
    >>> decode_text("°C".encode()), decode_text("°C".encode("latin-1"))
    (('°C', 'utf-8'), ('°C', 'latin-1'))
    """
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


__all__ = ["as_float", "as_int", "decode_text", "empty_values", "fits_float32", "fits_int32", "netcdf_name"]
