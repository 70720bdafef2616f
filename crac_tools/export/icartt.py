"""ICARTT v2 (``V02_2016``) exchange files: FFI 1001 for time series, FFI 2110 for profiles.

* FFI 1001 when every exported variable depends on ``time`` only; FFI 2110 when some depend on
  ``(time, z)`` (a profile: ``z`` is the bounded independent variable, the time-only variables become
  auxiliary variables after the required number-of-levels one).
* ``Time_Start`` is seconds since midnight UTC of the first day (continuing past 86400 for multi-day
  exports). When the record interval is longer than one second, ``Time_Stop`` is added and the data
  interval is 0, as the standard asks; ``time_label`` tells whether the product's time stamps mark the
  start (default) or the end of each interval.
* Every header line of the v2 standard, with all required normal-comment keywords (``PI_CONTACT_INFO``
  ... ``REVISION`` and the ``R#`` lines); the product version and provenance go into ``OTHER_COMMENTS``.
* Missing values are a declared fill (``-9999``, or ``-99999``... below the data), reals are printed
  with the precision of the source and stored as scaled integers when that makes the file smaller
  (see :mod:`crac_tools.export.ascii_rules`); the file name follows the ICARTT convention.

Examples
--------
>>> import tempfile, numpy as np, pandas as pd, xarray as xr
>>> ds = xr.Dataset({"T": ("time", np.array([12.06, np.nan, 11.5], "f4"), {"units": "degC"})},
...                 coords={"time": pd.date_range("2024-06-01", periods=3, freq="1s")},
...                 attrs={"station_id": "bravo", "product": "met", "product_version": "1"})
>>> path = write_icartt(ds, tempfile.mkdtemp())
>>> path.name
'bravo-met_bravo_20240601_R0.ict'
>>> path.read_text().splitlines()[0]
'38, 1001, V02_2016'
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from ..conventions.naming import format_name
from ._common import (
    ExportError,
    day_start,
    encode,
    long_name_of,
    meta_of,
    nominal_interval,
    provenance,
    seconds_column,
    short_name,
    units_of,
    write_ascii,
)
from .ascii_rules import MAX_LINE, AsciiRuleError, Column, check_text, to_ascii, wrap_text

__all__ = ["REQUIRED_KEYWORDS", "icartt_text", "write_icartt"]

VERSION = "V02_2016"
#: the normal-comment keywords ICARTT v2 requires, in the order it requires them
REQUIRED_KEYWORDS = ("PI_CONTACT_INFO", "PLATFORM", "LOCATION", "ASSOCIATED_DATA", "INSTRUMENT_INFO", "DATA_INFO",
                     "UNCERTAINTY", "ULOD_FLAG", "ULOD_VALUE", "LLOD_FLAG", "LLOD_VALUE", "DM_CONTACT_INFO",
                     "PROJECT_INFO", "STIPULATIONS_ON_USE", "OTHER_COMMENTS", "REVISION")
_KEYLIKE = re.compile(r"R[a-zA-Z0-9]{1,2}")
SEP = ", "


def _clean(text: object) -> str:
    """ASCII without commas (fields of a variable line are comma separated)."""
    return re.sub(r"\s+", " ", to_ascii(text).replace(",", ";")).strip()


def _keyword(key: str, values: Sequence[str]) -> list[str]:
    """``KEY: value`` then continuation lines that no reader mistakes for a keyword."""
    values = [v for v in values if str(v).strip()] or ["N/A"]
    lines = wrap_text(values[0], MAX_LINE, prefix=f"{key}: ", indent="  ")
    for v in values[1:]:
        lines += wrap_text(v, MAX_LINE, prefix="  - ", indent="    ")
    out = [lines[0]]
    for line in lines[1:]:
        head = line.split(":")[0].strip()
        if head in REQUIRED_KEYWORDS or _KEYLIKE.match(head):
            line = "  ~ " + line.strip()
        out.append(line)
    return out


def _revision(ds: xr.Dataset, revision: int | str | None) -> str:
    if revision is not None:
        return str(revision).lstrip("R")
    try:
        return str(max(int(str(ds.attrs.get("product_version", "1"))) - 1, 0))
    except ValueError:
        return "0"


def _var_line(name: str, units: str, long_name: str, standard: str | None = None) -> str:
    line = SEP.join([name, _clean(units) or "none", _clean(standard or name), _clean(long_name) or name])
    return line if len(line) <= MAX_LINE else line[:MAX_LINE]


def _time_columns(ds: xr.Dataset, time_label: str) -> tuple[pd.Timestamp, dict[str, Column], float]:
    t = ds["time"].values.astype("datetime64[ns]")
    iv = nominal_interval(ds)
    step = np.timedelta64(int(round(iv * 1e9)), "ns")
    if iv > 1:
        t0, t1 = (t - step, t) if time_label == "end" else (t, t + step)
    else:
        t0, t1 = t, None
    ref = day_start(t0)
    cols = {"Time_Start": seconds_column(t0, ref)}
    if t1 is not None:
        cols["Time_Stop"] = seconds_column(t1, ref)
        cols["Time_Stop"].fill, cols["Time_Stop"].fill_text = -9999, "-9999"
    return ref, cols, iv


def icartt_text(ds: xr.Dataset, *, time_label: Literal["start", "end"] = "start", revision: int | str | None = None,
                allow_scale: bool = True, source: str | None = None) -> tuple[str, dict]:
    """The ICARTT v2 text of a product and the fields of its file name.

    Parameters
    ----------
    ds
        The data to write (as :func:`crac_tools.export._common.select` returns it): variables on
        ``time`` only (FFI 1001), or some on ``(time, z)`` (FFI 2110).
    time_label
        Whether the product's time stamps are the start or the end of each record interval.
    revision
        ICARTT revision number; default: product version - 1 (R0 for version 1).
    allow_scale
        Store reals as scaled integers where that makes the file smaller.
    source
        Name of the product file, written to ``ASSOCIATED_DATA`` and the provenance.

    Returns
    -------
    text, name_fields
        The file's text and the fields for ``format_name("icartt", **name_fields)``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> ds = xr.Dataset({"T": ("time", np.array([1.5, 2.0], "f4"))},
    ...                 coords={"time": pd.date_range("2024-06-01T00:01", periods=2, freq="1min")})
    >>> text, fields = icartt_text(ds)
    >>> text.splitlines()[-2:]
    ['60, 120, 15', '120, 180, 20']
    """
    if time_label not in ("start", "end"):
        raise ExportError(f"time_label must be 'start' or 'end', not {time_label!r}")
    meta = meta_of(ds)
    profile = [n for n in ds.data_vars if ds[n].ndim == 2]
    series = [n for n in ds.data_vars if ds[n].ndim == 1]
    if [n for n in ds.data_vars if ds[n].ndim > 2]:
        raise ExportError("ICARTT takes variables on (time) or (time, z) only")
    zdim = None
    if profile:
        dims = {ds[n].dims[1] for n in profile}
        if len(dims) > 1:
            raise ExportError(f"ICARTT 2110 takes one vertical dimension, the data have {sorted(dims)}")
        zdim = dims.pop()
    ref, tcols, iv = _time_columns(ds, time_label)
    taken = set(tcols) | {"NumLevels"}
    names = {n: short_name(str(n), taken) for n in (*series, *profile)}
    cols = encode(ds, series, allow_scale)
    rev = _revision(ds, revision)
    day = ref.strftime("%Y-%m-%d")

    tdesc = (f"seconds since 00:00:00 UTC of {day}; the product's time stamps are the "
             f"{time_label} of each {iv:g} s interval" if "Time_Stop" in tcols else f"seconds since 00:00 UTC {day}")
    ivar = _var_line("Time_Start", "seconds", f"start of record; seconds from 0000 UTC {day}", "Time_Start")
    stop_line = _var_line("Time_Stop", "seconds", f"end of record; seconds from 0000 UTC {day}", "Time_Stop")
    dep_lines: list[str] = []
    dep_cols: dict[str, Column] = {}
    aux_cols: dict[str, Column] = {}
    aux_lines: list[str] = []
    if zdim is None:
        if "Time_Stop" in tcols:
            dep_cols["Time_Stop"] = tcols["Time_Stop"]
            dep_lines.append(stop_line)
        for n in series:
            dep_cols[names[n]] = cols[n]
            dep_lines.append(_var_line(names[n], units_of(ds[n]), long_name_of(ds[n], n),
                                       ds[n].attrs.get("standard_name")))
    else:
        nz = ds.sizes[zdim]
        aux_cols["NumLevels"] = Column([str(nz)] * ds.sizes["time"], 1.0, "1", -9999, "-9999", 0)
        aux_lines.append(_var_line("NumLevels", "none", f"number of {zdim} levels that follow", "NumLevels"))
        if "Time_Stop" in tcols:
            aux_cols["Time_Stop"] = tcols["Time_Stop"]
            aux_lines.append(stop_line)
        for n in series:
            aux_cols[names[n]] = cols[n]
            aux_lines.append(_var_line(names[n], units_of(ds[n]), long_name_of(ds[n], n),
                                       ds[n].attrs.get("standard_name")))
        for n in profile:
            dep_cols[names[n]] = encode(xr.Dataset({n: ds[n].stack(_r=("time", zdim))}), [n], allow_scale)[n]
            dep_lines.append(_var_line(names[n], units_of(ds[n]), long_name_of(ds[n], n),
                                       ds[n].attrs.get("standard_name")))
        zvar = ds[zdim] if zdim in ds.coords else xr.DataArray(np.arange(nz), dims=zdim)
        zcol = encode(xr.Dataset({"z": xr.DataArray(np.tile(zvar.values, ds.sizes["time"]))}), ["z"], False)["z"]
        zname = short_name(str(zdim), taken)
        ibvar = _var_line(zname, units_of(zvar), long_name_of(zvar, str(zdim)), zvar.attrs.get("standard_name"))

    # ------------------------------------------------------------------------ normal comments
    a = ds.attrs
    var_info = [f"{n}: {long_name_of(ds[n], n)} [{units_of(ds[n])}]"
                + (f"; standard_name {ds[n].attrs['standard_name']}" if ds[n].attrs.get("standard_name") else "")
                + (f"; {ds[n].attrs['process']}" if ds[n].attrs.get("process") else "")
                + ("" if names[n] == n else f"; product name {n}") for n in names]
    scaled = [f"{names[n]} x {c.scale_text}" for n, c in {**cols, **dep_cols}.items()
              if n in names and c.scale != 1.0]
    sizes = {n: ds[n].attrs.get("uncertainty") for n in names if ds[n].attrs.get("uncertainty")}
    uncertainty = ([f"{names[n]}: {u}" for n, u in sizes.items()] or
                   ["not given in the product; values are printed with the resolution of the source data"])
    provenance_lines = [f"{k}={v}" for k, v in provenance(ds, source)]
    normal: list[str] = []
    normal += _keyword("PI_CONTACT_INFO", [f"{meta.pi}; {meta.organization}; {a.get('creator_email', '')}".strip("; ")])
    normal += _keyword("PLATFORM", [meta.platform])
    normal += _keyword("LOCATION", [meta.location])
    normal += _keyword("ASSOCIATED_DATA", [f"product file {source}" if source else "N/A"])
    normal += _keyword("INSTRUMENT_INFO", [meta.instrument])
    normal += _keyword("DATA_INFO", [f"Time_Start: {tdesc}"] + var_info
                       + ([f"stored as scaled integers: {', '.join(scaled)}"] if scaled else []))
    normal += _keyword("UNCERTAINTY", uncertainty)
    normal += ["ULOD_FLAG: -7777", "ULOD_VALUE: N/A", "LLOD_FLAG: -8888", "LLOD_VALUE: N/A"]
    normal += _keyword("DM_CONTACT_INFO", [f"{meta.pi}; {meta.organization}; {a.get('creator_email', '')}".strip("; ")])
    normal += _keyword("PROJECT_INFO", [f"{meta.mission}: {to_ascii(a.get('title', ''))}".strip(": "),
                                        to_ascii(a.get("summary", ""))])
    normal += _keyword("STIPULATIONS_ON_USE", [to_ascii(a.get("license", "N/A"))])
    normal += _keyword("OTHER_COMMENTS", provenance_lines)
    normal.append(f"REVISION: R{rev}")
    for r in range(int(rev) if rev.isdigit() else 0, -1, -1):
        what = "first release" if r == 0 else "reprocessed release"
        normal += _keyword(f"R{r}", [f"{what}; product version {r + 1}"
                                     + (f"; exported by crac_tools from {source}" if r == int(rev) and source else "")])
    short = ["Time_Start"] + ([zname] if zdim else []) + list(dep_cols) + list(aux_cols)
    if zdim is None:
        normal.append(SEP.join(["Time_Start", *dep_cols]))
    else:
        normal.append(SEP.join(short))

    # ------------------------------------------------------------------------ header
    today = meta.revision_date
    head: list[str] = [to_ascii(meta.pi), meta.organization, _clean_line(meta.source), meta.mission, "1, 1",
                       f"{ref:%Y, %m, %d}, {today:%Y, %m, %d}"]
    if zdim is None:
        head.append(f"{iv:g}" if 0 < iv <= 1 else "0")
        head.append(ivar)
    else:
        zstep = np.unique(np.diff(np.asarray(zvar.values, "f8"))) if nz > 1 else np.array([0.0])
        head.append(f"{iv:g}, {zstep[0]:g}" if (0 < iv <= 1 and zstep.size == 1) else
                    f"{iv if 0 < iv <= 1 else 0:g}, {zstep[0] if zstep.size == 1 else 0:g}")
        head += [ibvar, ivar]
    head += [str(len(dep_cols)), SEP.join(c.scale_text for c in dep_cols.values()),
             SEP.join(c.fill_text for c in dep_cols.values()), *dep_lines]
    if zdim is not None:
        head += [str(len(aux_cols)), SEP.join(c.scale_text for c in aux_cols.values()),
                 SEP.join(c.fill_text for c in aux_cols.values()), *aux_lines]
    head += ["0", str(len(normal)), *normal]
    nhead = len(head) + 1
    lines = [f"{nhead}, {'2110' if zdim else '1001'}, {VERSION}", *head]

    # ------------------------------------------------------------------------ data
    t = tcols["Time_Start"].text
    if zdim is None:
        columns = [t, *(c.text for c in dep_cols.values())]
        lines += [SEP.join(row) for row in zip(*columns, strict=True)]
    else:
        nz = ds.sizes[zdim]
        for i in range(ds.sizes["time"]):
            lines.append(SEP.join([t[i], *(c.text[i] for c in aux_cols.values())]))
            for k in range(nz):
                j = i * nz + k
                lines.append(SEP.join([zcol.text[j], *(c.text[j] for c in dep_cols.values())]))
    text = "\n".join(lines) + "\n"
    problems = check_text(text)
    if problems:
        raise AsciiRuleError("the ICARTT file would break the ASCII rules (ICARTT cannot wrap data or scale lines; "
                             "export fewer variables with --variables): " + "; ".join(problems[:5]))
    fields = {"data_id": meta.data_id, "location_id": meta.location_id, "start": ref.to_pydatetime(),
              "timed": False, "revision": rev}
    return text, fields


def _clean_line(text: str) -> str:
    return to_ascii(text)[:MAX_LINE]


def write_icartt(ds: xr.Dataset, out_dir: str | os.PathLike, *, time_label: Literal["start", "end"] = "start",
                 revision: int | str | None = None, allow_scale: bool = True, source: str | None = None,
                 start: object = None, end: object = None, variables: Sequence[str] | None = None) -> Path:
    """Write ``ds`` as an ICARTT v2 file into ``out_dir``, named by the ICARTT convention.

    Parameters
    ----------
    ds
        A product dataset (CF attributes as :mod:`crac_tools.conventions.cf` writes them).
    out_dir
        Folder to write into (created when missing).
    time_label, revision, allow_scale, source
        See :func:`icartt_text`.
    start, end, variables
        Export only ``[start, end)`` and these variables (default: every numeric time variable).

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd, xarray as xr
    >>> ds = xr.Dataset({"T": ("time", np.arange(3, dtype="f4"))},
    ...                 coords={"time": pd.date_range("2024-06-01T12:00", periods=3, freq="1s")})
    >>> write_icartt(ds, tempfile.mkdtemp()).name
    'station-data_station_20240601_120000_R0.ict'
    """
    from ._common import select

    sel = select(ds, start, end, variables)
    text, fields = icartt_text(sel, time_label=time_label, revision=revision, allow_scale=allow_scale,
                               source=source)
    first = pd.Timestamp(sel["time"].values.min())
    if first != first.normalize():  # several files a day: the name carries the start time
        fields.update(start=first.to_pydatetime(), timed=True)
    return write_ascii(Path(out_dir) / format_name("icartt", **fields), text)

