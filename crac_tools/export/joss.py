"""INDOEX/JOSS header-then-columns text files.

A header of ``KEY = value`` lines (``DID``, ``FILE START TIME``, ``FILE STOP TIME``, ``PI NAME``,
``PLATFORM``, ``INSTRUMENT``, ``LOCATION``, ``DATA VERSION``, then ``REMARKS`` lines with the missing
value, the product version and the provenance), ``##END OF HEADER##``, a parameter line, a unit line
and whitespace-separated columns, the first the UTC time (``YYYY-MM-DDThh:mm:ss``). Values keep the
precision of the source (:mod:`crac_tools.export.ascii_rules`); they are not scaled (the format has no
scale factors). Columns are aligned when the rows fit in 132 characters. Files are named by the
INDOEX convention ``<station>.<YYMMDDHHmm>.<product>.txt``.

Examples
--------
>>> import tempfile, numpy as np, pandas as pd, xarray as xr
>>> ds = xr.Dataset({"T": ("time", np.array([12.06, np.nan], "f4"), {"units": "degC"})},
...                 coords={"time": pd.date_range("2024-06-01", periods=2, freq="1min")},
...                 attrs={"station_id": "bravo", "product": "met", "product_version": "1"})
>>> path = write_joss(ds, tempfile.mkdtemp())
>>> path.name
'bravo.2406010000.met.txt'
>>> print("\\n".join(path.read_text().splitlines()[-4:]))
UTC                       T
yyyy-mm-ddThh:mm:ss    degC
2024-06-01T00:00:00   12.06
2024-06-01T00:01:00   -9999
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ._common import ExportError, indoex_name, meta_of, provenance, select, units_of, write_ascii
from .ascii_rules import MAX_LINE, AsciiRuleError, check_text, encode_column, pick_fill, to_ascii, wrap_text

__all__ = ["END_OF_HEADER", "joss_text", "utc_text", "write_joss"]

END_OF_HEADER = "##END OF HEADER##"


def utc_text(times: np.ndarray) -> list[str]:
    """ISO 8601 UTC time stamps with only the fractional digits the times need.

    Examples
    --------
    >>> utc_text(pd.to_datetime(["2024-01-01T00:00:00.5", "2024-01-01T00:00:01"], format="ISO8601").values)
    ['2024-01-01T00:00:00.5', '2024-01-01T00:00:01.0']
    """
    ns = times.astype("datetime64[ns]")
    frac = ns.astype("i8") % 1_000_000_000
    d = next(d for d in range(10) if not (frac % 10 ** (9 - d)).any())
    base = np.datetime_as_string(ns, unit="s")
    if d == 0:
        return [str(b) for b in base]
    return [f"{b}.{f // 10 ** (9 - d):0{d}d}" for b, f in zip(base, frac, strict=True)]


def _fill(ds: xr.Dataset, names: Sequence[str]) -> int:
    fills = [pick_fill(np.asarray(ds[n].values, dtype="f8")) for n in names]
    return min(fills) if fills else -9999


def joss_text(ds: xr.Dataset, *, source: str | None = None, align: bool = True) -> str:
    """The JOSS text of ``ds`` (variables on ``time`` only).

    Parameters
    ----------
    ds
        Data as :func:`crac_tools.export._common.select` gives.
    source
        The product file's name, for the provenance remarks.
    align
        Right-align the columns when the rows still fit in 132 characters.

    Returns
    -------
    str

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=1, freq="h")
    >>> joss_text(xr.Dataset({"a": ("time", [1.5])}, coords={"time": t})).splitlines()[0]
    'DID = station-data'
    """
    names = [str(n) for n in ds.data_vars]
    if any(ds[n].ndim != 1 for n in names):
        raise ExportError("JOSS export takes variables on (time) only; use nasa_ames for profiles")
    meta = meta_of(ds)
    fill = _fill(ds, names)
    t = ds["time"].values
    cols = {"UTC": utc_text(t)}
    for n in names:
        cols[n] = encode_column(np.asarray(ds[n].values), allow_scale=False, fill=fill).text
    units = {"UTC": "yyyy-mm-ddThh:mm:ss", **{n: units_of(ds[n]).replace(" ", "_") for n in names}}
    a = ds.attrs
    head = {
        "DID": meta.data_id,
        "FILE START TIME": f"{pd.Timestamp(t.min()):%Y/%m/%d %H:%M:%S} UTC",
        "FILE STOP TIME": f"{pd.Timestamp(t.max()):%Y/%m/%d %H:%M:%S} UTC",
        "PI NAME": f"{meta.pi} ({meta.organization})" + (f" {a['creator_email']}" if a.get("creator_email") else ""),
        "PLATFORM": meta.platform,
        "INSTRUMENT": meta.instrument,
        "LOCATION": meta.location,
        "DATA VERSION": meta.version,
    }
    lines: list[str] = []
    for k, v in head.items():
        lines += wrap_text(v, MAX_LINE, prefix=f"{k} = ", indent=" " * (len(k) + 3))
    remarks = [f"missing values are {fill}", "time column UTC: ISO 8601 time stamps in UTC"]
    remarks += [f"{n}: {to_ascii(ds[n].attrs.get('long_name', n))}" for n in names]
    remarks += [f"{k}: {v}" for k, v in provenance(ds, source)]
    for r in remarks:
        lines += wrap_text(r, MAX_LINE, prefix="REMARKS = ", indent="          ")
    lines.append(END_OF_HEADER)
    table = [list(cols), [units[c] for c in cols], *zip(*cols.values(), strict=True)]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(cols))]
    if align and sum(widths) + 3 * (len(widths) - 1) <= MAX_LINE:
        lines += ["   ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in
                               enumerate(zip(row, widths, strict=True))).rstrip() for row in table]
    else:
        lines += [" ".join(map(str, row)) for row in table]
    text = "\n".join(lines) + "\n"
    problems = check_text(text)
    if problems:
        raise AsciiRuleError("the JOSS file would break the ASCII rules (rows cannot wrap; export fewer "
                             "variables with --variables): " + "; ".join(problems[:5]))
    return text


def write_joss(ds: xr.Dataset, out_dir: str | os.PathLike, *, source: str | None = None, align: bool = True,
               start: object = None, end: object = None, variables: Sequence[str] | None = None) -> Path:
    """Write ``ds`` as a JOSS text file into ``out_dir`` (INDOEX name, ``.txt``).

    Parameters
    ----------
    ds
        A product dataset.
    out_dir
        Folder to write into.
    source, align
        See :func:`joss_text`.
    start, end, variables
        Export only ``[start, end)`` and these variables.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile
    >>> t = pd.date_range("2024-01-01", periods=2, freq="h")
    >>> write_joss(xr.Dataset({"a": ("time", [1.0, 2.0])}, coords={"time": t}), tempfile.mkdtemp()).name
    'station.2401010000.data.txt'
    """
    sel = select(ds, start, end, variables)
    text = joss_text(sel, source=source, align=align)
    return write_ascii(Path(out_dir) / indoex_name(ds, sel["time"].values.min(), "txt"), text)
