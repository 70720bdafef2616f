"""Registry of format readers and content sniffing.

A reader is a small class with a ``name``, a ``sniff`` test on the first bytes of a file, and ``read`` /
``read_tree`` functions that follow the reader contract (see ``docs/architecture.md``). Readers register
themselves with :func:`register`; :func:`get_reader` picks one by name or by content, never by suffix alone.

Examples
--------
>>> from crac_tools.formats.registry import formats
>>> "toa5" in formats()
True
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import xarray as xr

from ..errors import ParseError, UnknownFormatError

log = logging.getLogger(__name__)

#: How many leading bytes are handed to ``sniff``.
SNIFF_BYTES = 4096

#: Modules imported (lazily, on first use) to populate the registry, in sniffing order: specific
#: signatures first, the heuristic generic ``table`` reader last.
_READER_MODULES = tuple(f"crac_tools.formats.{m}" for m in (
    "toa5", "tob1", "tob3", "csixml", "cr10x", "icartt", "nasa_ames", "geoms", "hisparc", "tolnet", "netcdf",
    "table"))


class Reader(Protocol):
    """What a format reader provides."""

    name: str
    #: Whether the format can hold several tables (then ``read`` needs ``table=`` when there are several).
    multi_table: bool

    def sniff(self, head: bytes, path: Path) -> bool:
        """Return True when ``head`` (the first bytes of ``path``) is this format."""

    def read(self, path: Path, table: str | None = None, **options) -> xr.Dataset:
        """Read one table of the file into a Dataset following the reader contract."""

    def read_tree(self, path: Path, **options) -> xr.DataTree:
        """Read every table into a DataTree, one group per table."""

    def time_range(self, path: Path, **options) -> TimeRange:
        """First and last record time and an estimated record count, as cheaply as the format allows."""


@dataclass(frozen=True)
class TimeRange:
    """The span of records in a file, as found by a cheap scan."""

    first: np.datetime64
    last: np.datetime64
    #: Number of records when known exactly, else ``None``.
    n: int | None = None


_REGISTRY: dict[str, Reader] = {}
_loaded = False


def register(reader: Reader) -> Reader:
    """Add a reader instance to the registry (idempotent by name) and return it."""
    _REGISTRY[reader.name] = reader
    return reader


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for mod in _READER_MODULES:
        importlib.import_module(mod)
    _loaded = True


def _sniff_order() -> list[Reader]:
    """Readers in ``_READER_MODULES`` order (whatever order they happened to be imported in)."""
    rank = {m: i for i, m in enumerate(_READER_MODULES)}
    return sorted(_REGISTRY.values(), key=lambda r: rank.get(type(r).__module__, len(rank)))


def formats() -> list[str]:
    """Names of the supported formats, in sniffing order.

    Examples
    --------
    >>> formats()[0]
    'toa5'
    """
    _load()
    return [r.name for r in _sniff_order()]


def read_head(path: str | os.PathLike, n: int = SNIFF_BYTES) -> bytes:
    """Return the first ``n`` bytes of ``path``."""
    with open(path, "rb") as fh:
        return fh.read(n)


def get_reader(path: str | os.PathLike, format: str | None = None) -> Reader:
    """Return the reader for ``path``: the named one, or the first whose ``sniff`` accepts the content.

    Raises
    ------
    UnknownFormatError
        When ``format`` is not a known name, or no reader recognises the content.
    """
    _load()
    path = Path(path)
    if format is not None:
        try:
            return _REGISTRY[format]
        except KeyError:
            raise UnknownFormatError(path, list(_REGISTRY),
                                     f"format {format!r} is not a known format") from None
    try:
        head = read_head(path)
    except IsADirectoryError:
        raise UnknownFormatError(path, list(_REGISTRY), "it is a directory") from None
    if not head:
        raise UnknownFormatError(path, list(_REGISTRY), "the file is empty")
    for reader in _sniff_order():
        try:
            if reader.sniff(head, path):
                return reader
        except Exception as exc:  # noqa: BLE001 - a sniff that fails means "not this format", for any reader
            log.debug("%s: the %s reader's sniff failed (%s); trying the others", path, reader.name, exc)
    raise UnknownFormatError(path, list(_REGISTRY))


def read(path: str | os.PathLike, format: str | None = None, table: str | None = None,
         **options) -> xr.Dataset:
    """Read one table of a data file into an :class:`xarray.Dataset`.

    Parameters
    ----------
    path
        The file to read.
    format
        A name from :func:`formats`; ``None`` sniffs the content.
    table
        For multi-table files, the table (group) to read.
    **options
        Reader-specific options (e.g. ``columns`` metadata from a station config).

    Returns
    -------
    xarray.Dataset
        Data variables per column, a ``time`` coordinate (datetime64[ns], UTC), header metadata in attrs.

    Examples
    --------
    >>> import crac_tools as crac
    >>> ds = crac.read("TOA5_station.dat")  # doctest: +SKIP
    >>> ds["AirTC"].attrs["units"]  # doctest: +SKIP
    'Deg C'
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    return get_reader(path, format).read(path, table=table, **options)


def read_tree(path: str | os.PathLike, format: str | None = None, **options) -> xr.DataTree:
    """Read every table of a data file into an :class:`xarray.DataTree` (one group per table).

    Examples
    --------
    >>> import crac_tools as crac
    >>> tree = crac.read_tree("TOA5_station.dat")  # doctest: +SKIP
    >>> list(tree.children)  # doctest: +SKIP
    ['Daily']
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    return get_reader(path, format).read_tree(path, **options)


def in_worker() -> bool:
    """Whether this code runs inside a dask worker (readers then stay single-threaded)."""
    import sys

    if "distributed" not in sys.modules:
        return False
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def single_table_tree(ds: xr.Dataset, name: str) -> xr.DataTree:
    """Wrap a single-table Dataset as a DataTree with one child group ``name``."""
    return xr.DataTree.from_dict({name: ds}, name=None)


__all__ = ["ParseError", "Reader", "TimeRange", "formats", "get_reader", "read", "read_tree", "register"]
