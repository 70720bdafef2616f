"""CSV exchange files: a ``time`` column in UTC, one column per variable, an optional units row.

``# key: value`` comment lines first carry the product version and provenance (``comments=False`` leaves
them out); then the header row, the units row (``units_row=True``), and the data. Values keep the
precision of the source (:mod:`crac_tools.export.ascii_rules`); missing values are empty fields unless
``missing`` gives a token. Files are named by the INDOEX convention ``<station>.<YYMMDDHHmm>.<product>.csv``.

Examples
--------
>>> import tempfile, numpy as np, pandas as pd, xarray as xr
>>> ds = xr.Dataset({"T": ("time", np.array([12.06, np.nan], "f4"), {"units": "degC"})},
...                 coords={"time": pd.date_range("2024-06-01", periods=2, freq="1min")},
...                 attrs={"station_id": "bravo", "product": "met"})
>>> path = write_csv(ds, tempfile.mkdtemp(), units_row=True, comments=False)
>>> path.read_text().splitlines()
['time,T', 'UTC,degC', '2024-06-01T00:00:00,12.06', '2024-06-01T00:01:00,']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ._common import ExportError, indoex_name, meta_of, provenance, select, units_of, write_ascii
from .ascii_rules import MAX_LINE, AsciiRuleError, check_text, encode_column, to_ascii, wrap_text
from .joss import utc_text

__all__ = ["csv_text", "write_csv"]


def _field(text: str) -> str:
    text = to_ascii(text)
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"') else text


def csv_text(ds: xr.Dataset, *, units_row: bool = False, comments: bool = True, missing: str = "",
             source: str | None = None) -> str:
    """The CSV text of ``ds`` (variables on ``time`` only).

    Parameters
    ----------
    ds
        Data as :func:`crac_tools.export._common.select` gives.
    units_row
        Write a second header row with each column's units.
    comments
        Start with ``# key: value`` lines: product version, provenance, missing-value token.
    missing
        Text of a missing value (default: empty field).
    source
        The product file's name, for the provenance.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd, xarray as xr
    >>> t = pd.date_range("2024-01-01", periods=1, freq="h")
    >>> csv_text(xr.Dataset({"a": ("time", [1.5])}, coords={"time": t}), comments=False)
    'time,a\\n2024-01-01T00:00:00,1.5\\n'
    """
    names = [str(n) for n in ds.data_vars]
    if any(ds[n].ndim != 1 for n in names):
        raise ExportError("CSV export takes variables on (time) only; use nasa_ames for profiles")
    cols = {"time": utc_text(ds["time"].values)}
    for n in names:
        col = encode_column(np.asarray(ds[n].values), allow_scale=False, need_fill=False)
        cols[n] = [missing if t == col.fill_text and col.fill is not None else t for t in col.text]
    lines: list[str] = []
    if comments:
        meta = meta_of(ds)
        info = [("station", meta.platform), ("location", meta.location), ("instrument", meta.instrument),
                ("missing_value", missing or "(empty field)"), ("time", "UTC, ISO 8601"),
                *provenance(ds, source)]
        for k, v in info:
            lines += wrap_text(f"{k}: {v}", MAX_LINE, prefix="# ", indent="#   ")
    lines.append(",".join(_field(c) for c in cols))
    if units_row:
        lines.append(",".join(_field(u) for u in ["UTC", *(units_of(ds[n], "1") for n in names)]))
    lines += [",".join(row) for row in zip(*cols.values(), strict=True)]
    text = "\n".join(lines) + "\n"
    problems = check_text(text)
    if problems:
        raise AsciiRuleError("the CSV file would break the ASCII rules (rows cannot wrap; export fewer "
                             "variables with --variables): " + "; ".join(problems[:5]))
    return text


def write_csv(ds: xr.Dataset, out_dir: str | os.PathLike, *, units_row: bool = False, comments: bool = True,
              missing: str = "", source: str | None = None, start: object = None, end: object = None,
              variables: Sequence[str] | None = None) -> Path:
    """Write ``ds`` as a CSV file into ``out_dir`` (INDOEX name, ``.csv``).

    Parameters
    ----------
    ds
        A product dataset.
    out_dir
        Folder to write into.
    units_row, comments, missing, source
        See :func:`csv_text`.
    start, end, variables
        Export only ``[start, end)`` and these variables.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pandas as pd, xarray as xr
    >>> t = pd.date_range("2024-01-01", periods=2, freq="h")
    >>> write_csv(xr.Dataset({"a": ("time", [1.0, 2.0])}, coords={"time": t}), tempfile.mkdtemp()).name
    'station.2401010000.data.csv'
    """
    sel = select(ds, start, end, variables)
    text = csv_text(sel, units_row=units_row, comments=comments, missing=missing, source=source)
    return write_ascii(Path(out_dir) / indoex_name(ds, sel["time"].values.min(), "csv"), text)
