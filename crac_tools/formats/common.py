"""Reader wiring shared by the format modules: sniff guard, table check, DataTree and time range helpers.

A reader (see :class:`~crac_tools.formats.registry.Reader`) keeps what is specific to its format: how to
recognise it, how to read it, how it names its table. The steps every reader takes the same way are here:

- :func:`safe_sniff` makes ``sniff`` never raise (an exception means "not this format");
- :func:`check_table` refuses a ``table=`` the file does not hold;
- :func:`named_table_tree` wraps a single-table Dataset as a DataTree group named by ``attrs["table_name"]``;
- :func:`time_span` and :func:`no_records` build the :class:`~crac_tools.formats.registry.TimeRange` that
  ``time_range`` returns.

Examples
--------
>>> import numpy as np
>>> time_span(np.array(["2024-01-01T00:10", "2024-01-01T00:00"], dtype="datetime64[ns]")).n
2
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import xarray as xr

from ..errors import ParseError
from .registry import TimeRange, single_table_tree

_R = TypeVar("_R")


def safe_sniff(sniff: Callable[[_R, bytes, Path | None], bool]) -> Callable[[_R, bytes, Path | None], bool]:
    """Decorate a reader's ``sniff`` so that it never raises: any exception means "not this format".

    The decorated method keeps its name, signature and docstring.

    Parameters
    ----------
    sniff
        The method ``sniff(self, head, path) -> bool``.

    Returns
    -------
    callable
        The same test, returning False where ``sniff`` raises.

    Examples
    --------
    >>> class Reader:
    ...     @safe_sniff
    ...     def sniff(self, head, path):
    ...         return head.decode("ascii").startswith("X")
    >>> Reader().sniff(b"X1", None), Reader().sniff(b"\\xff", None)
    (True, False)
    """

    @functools.wraps(sniff)
    def guarded(self: _R, head: bytes, path: Path | None) -> bool:
        try:
            return sniff(self, head, path)
        except Exception:  # noqa: BLE001 - a sniff never raises
            return False

    return guarded


def check_table(path: str | os.PathLike, table: str | None, have: str, line: int | None = None) -> None:
    """Raise a :class:`~crac_tools.errors.ParseError` when ``table`` is given and is not the file's table.

    Parameters
    ----------
    path
        The file (named in the error).
    table
        The ``table=`` the caller asked for; ``None`` accepts any.
    have
        The name of the table the file holds.
    line
        The header line that names the table, when there is one.

    Raises
    ------
    ParseError
        ``table`` differs from ``have``.

    Examples
    --------
    >>> check_table("t.dat", None, "Daily"), check_table("t.dat", "Daily", "Daily")
    (None, None)
    >>> try:
    ...     check_table("t.dat", "Hourly", "Daily", line=1)
    ... except ParseError as exc:
    ...     print(exc)
    t.dat, line 1: the file holds table 'Daily', not 'Hourly' (expected table 'Hourly', found table 'Daily')
    """
    if table is not None and table != have:
        raise ParseError(path, f"the file holds table {have!r}, not {table!r}", line=line,
                         expected=f"table {table!r}", found=f"table {have!r}")


def named_table_tree(ds: xr.Dataset) -> xr.DataTree:
    """A single-table Dataset as a DataTree with one group named by ``attrs["table_name"]`` (else ``table``).

    Parameters
    ----------
    ds
        What the reader's ``read`` returns.

    Returns
    -------
    xarray.DataTree
        An unnamed root with one child group.

    Examples
    --------
    >>> list(named_table_tree(xr.Dataset(attrs={"table_name": "Daily"})).children)
    ['Daily']
    >>> list(named_table_tree(xr.Dataset()).children)
    ['table']
    """
    return single_table_tree(ds, ds.attrs.get("table_name") or "table")


def no_records() -> TimeRange:
    """The :class:`~crac_tools.formats.registry.TimeRange` of a file without records: NaT to NaT, ``n=0``.

    Returns
    -------
    TimeRange
        ``TimeRange(NaT, NaT, n=0)``.

    Examples
    --------
    >>> no_records().n, bool(np.isnat(no_records().first))
    (0, True)
    """
    nat = np.datetime64("NaT", "ns")
    return TimeRange(nat, nat, n=0)


def time_span(times: np.ndarray, ordered: bool = False, skip_nat: bool = False) -> TimeRange:
    """The :class:`~crac_tools.formats.registry.TimeRange` of the record times of a file.

    Parameters
    ----------
    times
        datetime64 record times (a scalar counts as one record).
    ordered
        The records are in time order: take the first and last time instead of the earliest and latest.
    skip_nat
        Leave missing (NaT) times out of the first and last time (they still count in ``n``).

    Returns
    -------
    TimeRange
        First and last time and the record count; :func:`no_records` when there is no (valid) time.

    Examples
    --------
    >>> t = np.array(["2024-01-02", "NaT", "2024-01-01"], dtype="datetime64[ns]")
    >>> tr = time_span(t, skip_nat=True)
    >>> str(tr.first), str(tr.last), tr.n
    ('2024-01-01T00:00:00.000000000', '2024-01-02T00:00:00.000000000', 3)
    >>> time_span(t[:0]).n
    0
    """
    t = np.atleast_1d(times)
    count = int(t.size)
    if skip_nat:
        t = t[~np.isnat(t)]
    if t.size == 0:
        return no_records()
    if ordered:
        return TimeRange(t[0], t[-1], n=count)
    return TimeRange(t.min(), t.max(), n=count)


__all__ = ["check_table", "named_table_tree", "no_records", "safe_sniff", "time_span"]
