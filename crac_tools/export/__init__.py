"""Exchange exports of archive products: ICARTT, NASA Ames, INDOEX/JOSS text and CSV.

Every writer takes a product dataset (CF/ACDD attributes as :mod:`crac_tools.conventions.cf` writes them),
an output folder and an optional time range and variable list, names the file by the format's
convention, follows the archive's ASCII rules (:mod:`crac_tools.export.ascii_rules`) and carries the
product version and provenance in its header comments.

=============  ======================================  =============================================
``to``         writer                                  file name
=============  ======================================  =============================================
``icartt``     :func:`~.icartt.write_icartt`           ``dataID_locationID_YYYYMMDD[_hhmmss]_R#.ict``
``nasa_ames``  :func:`~.nasa_ames.write_nasa_ames`     ``station.YYMMDDHHmm.product.na``
``indoex``     :func:`~.joss.write_joss`               ``station.YYMMDDHHmm.product.txt``
``csv``        :func:`~.csv.write_csv`                 ``station.YYMMDDHHmm.product.csv``
=============  ======================================  =============================================

Examples
--------
>>> import tempfile, pathlib, numpy as np, pandas as pd, xarray as xr
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> ds = xr.Dataset({"T": ("time", np.array([12.06, 11.5], "f4"), {"units": "degC"})},
...                 coords={"time": pd.date_range("2024-06-01", periods=2, freq="1s")},
...                 attrs={"station_id": "bravo", "product": "met", "product_version": "1"})
>>> ds.to_netcdf(d / "bravo_met.nc")
>>> [p.name for p in export(d / "bravo_met.nc", "icartt", d / "out")]
['bravo-met_bravo_20240601_R0.ict']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from ._common import ExportError

__all__ = ["FORMATS", "ExportError", "export", "open_product"]

#: export format names and the module that writes them
FORMATS = {"icartt": "icartt", "nasa_ames": "nasa_ames", "indoex": "joss", "csv": "csv"}


def open_product(product: str | os.PathLike | xr.Dataset, config: str | os.PathLike | None = None
                 ) -> tuple[xr.Dataset, str]:
    """Open a product file, or a catalog entry of the project ``config``, as one loaded Dataset.

    Parameters
    ----------
    product
        A product file (NetCDF4/HDF5), a catalog entry name (``bravo_met``), or a Dataset.
    config
        The project's ``crac.yaml`` (or its folder) whose ``ARCHIVE/catalog.yaml`` holds the entry;
        default ``./crac.yaml``.

    Returns
    -------
    dataset, source
        The data and a short description of where it came from (file name or catalog entry).

    Raises
    ------
    ExportError
        ``product`` is neither a file nor an entry of the catalog.

    Examples
    --------
    >>> open_product("no_such_entry", config="/nonexistent/crac.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    crac_tools.export._common.ExportError: 'no_such_entry' is not a file, and there is no project at ...
    """
    if isinstance(product, xr.Dataset):
        return product, str(product.attrs.get("id", "dataset"))
    path = Path(product)
    if path.is_file():
        with xr.open_dataset(path) as ds:
            return ds.load(), path.name
    from ..catalog import open_catalog, open_entry
    from ..config import load_project
    from ..errors import ConfigError

    cfg = Path(config) if config is not None else Path("crac.yaml")
    try:
        project = load_project(cfg)
    except (ConfigError, FileNotFoundError):
        raise ExportError(f"{str(product)!r} is not a file, and there is no project at {cfg} to look it up "
                          "in its catalog") from None
    catalog = project.archive / "catalog.yaml"
    if not catalog.is_file():
        raise ExportError(f"{str(product)!r} is not a file, and the project has no catalog ({catalog})")
    try:
        ds = open_entry(open_catalog(catalog), str(product))
    except KeyError as exc:
        raise ExportError(f"{str(product)!r} is not a file; {exc.args[0]}") from None
    return ds.load(), f"catalog entry {product} of {catalog}"


def export(product: str | os.PathLike | xr.Dataset, to: str, out_dir: str | os.PathLike = ".", *,
           start: object = None, end: object = None, variables: Sequence[str] | None = None,
           config: str | os.PathLike | None = None, **options: Any) -> list[Path]:
    """Export a product (file, catalog entry or Dataset) as exchange file(s); returns the paths written.

    Parameters
    ----------
    product
        See :func:`open_product`.
    to
        ``icartt``, ``nasa_ames``, ``indoex`` (JOSS text) or ``csv``.
    out_dir
        Folder to write into.
    start, end
        Only records in ``[start, end)``.
    variables
        Only these variables (default: every numeric variable on ``time``).
    config
        Project whose catalog holds ``product`` when it is an entry name.
    **options
        Passed to the writer (``time_label``, ``revision``, ``ffi``, ``units_row``, ``allow_scale``...).

    Returns
    -------
    list of Path

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd, xarray as xr
    >>> ds = xr.Dataset({"a": ("time", [1.0, 2.0])}, coords={"time": pd.date_range("2024-01-01", periods=2)})
    >>> [p.suffix for p in export(ds, "csv", tempfile.mkdtemp())]
    ['.csv']
    """
    if to not in FORMATS:
        raise ExportError(f"unknown export format {to!r}; choose one of {', '.join(FORMATS)}")
    ds, source = open_product(product, config)
    import importlib

    module = importlib.import_module(f".{FORMATS[to]}", __name__)
    writer = getattr(module, f"write_{FORMATS[to]}")
    return [writer(ds, out_dir, source=source, start=start, end=end, variables=variables, **options)]
