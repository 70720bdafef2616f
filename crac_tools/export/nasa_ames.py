"""NASA Ames exchange files (Gaines & Hipskind), with the FFI the data's shape requires.

========  ====================================================================================
FFI       chosen when
========  ====================================================================================
1001      every variable depends on ``time`` only
1010      as 1001, plus auxiliary variables (``aux=`` or time-varying numeric coordinates such
          as a moving platform's ``lat``/``lon``/``alt``)
2010      some variables depend on ``(time, z)`` with one ``z`` axis for all records; the
          ``time``-only variables become auxiliary variables
2110      as 2010 but the ``z`` coordinate varies with time (a 2-D ``z(time, z)``, e.g. the
          altitudes of each sounding); the first auxiliary variable is the number of levels
========  ====================================================================================

The unbounded independent variable is ``Time_Start``, seconds since midnight UTC of ``DATE`` (the
first day; it continues past 86400). Lists (``VSCAL``, ``VMISS``, ``X``) and data records are wrapped
at 132 characters as the format allows; numbers follow :mod:`crac_tools.export.ascii_rules`
(precision of the source, scaled integers where smaller, declared missing values). File names use the
INDOEX/JOSS-style ``source.YYMMDDHHmm.product.na`` convention unless a template is given.

Examples
--------
>>> import tempfile, numpy as np, pandas as pd, xarray as xr
>>> ds = xr.Dataset({"T": ("time", np.array([12.06, np.nan], "f4"), {"units": "degC"})},
...                 coords={"time": pd.date_range("2024-06-01", periods=2, freq="1s")},
...                 attrs={"station_id": "bravo", "product": "met"})
>>> path = write_nasa_ames(ds, tempfile.mkdtemp())
>>> path.name, path.read_text().splitlines()[0]
('bravo.2406010000.met.na', '25 1001')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..fsutil import atomic_path
from ._common import (
    ExportError,
    day_start,
    encode,
    indoex_name,
    interval_seconds,
    long_name_of,
    meta_of,
    provenance,
    seconds_column,
    select,
    units_of,
)
from .ascii_rules import MAX_LINE, AsciiRuleError, Column, check_text, encode_column, to_ascii, wrap_items, wrap_text

__all__ = ["choose_ffi", "nasa_ames_text", "write_nasa_ames"]


def _aux_names(ds: xr.Dataset, aux: Sequence[str] | None) -> list[str]:
    if aux is not None:
        return list(aux)
    return [str(c) for c, v in ds.coords.items()
            if c != "time" and v.dims == ("time",) and v.dtype.kind in "iuf"]


def choose_ffi(ds: xr.Dataset, aux: Sequence[str] | None = None) -> int:
    """The NASA Ames FFI for the shape of ``ds`` (see the module table).

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2024-01-01", periods=2, freq="h")
    >>> choose_ffi(xr.Dataset({"a": ("time", [1.0, 2.0])}, coords={"time": t}))
    1001
    >>> choose_ffi(xr.Dataset({"a": (("time", "z"), np.ones((2, 3)))}, coords={"time": t, "z": [1, 2, 3]}))
    2010
    """
    nd = {ds[n].ndim for n in ds.data_vars}
    if max(nd) > 2:
        raise ExportError("NASA Ames export takes variables on (time) or (time, z)")
    if max(nd) == 1:
        return 1010 if _aux_names(ds, aux) else 1001
    zdims = {ds[n].dims[1] for n in ds.data_vars if ds[n].ndim == 2}
    if len(zdims) > 1:
        raise ExportError(f"one vertical dimension per NASA Ames file; the data have {sorted(zdims)}")
    z = zdims.pop()
    for c in ds.coords.values():
        if c.ndim == 2 and set(c.dims) == {"time", z}:
            return 2110
    return 2010


def _zcoord(ds: xr.Dataset, z: str) -> xr.DataArray:
    for c in ds.coords.values():
        if c.ndim == 2 and set(c.dims) == {"time", z}:
            return c.transpose("time", z)
    return ds[z] if z in ds.coords else xr.DataArray(np.arange(ds.sizes[z]), dims=z, attrs={"long_name": z})


def _vname(da: xr.DataArray, name: str) -> str:
    text = f"{name}: {long_name_of(da, name)} ({units_of(da)})"
    return to_ascii(text)[:MAX_LINE]


def nasa_ames_text(ds: xr.Dataset, *, ffi: int | None = None, aux: Sequence[str] | None = None,
                   allow_scale: bool = True, source: str | None = None) -> str:
    """The NASA Ames text of ``ds``.

    Parameters
    ----------
    ds
        Data on ``time`` (and one ``z`` dimension), as :func:`crac_tools.export._common.select` gives.
    ffi
        Force an FFI (1001, 1010, 2010, 2110); default :func:`choose_ffi`.
    aux
        Time-dependent variables or coordinates to write as auxiliary variables (1010/2010/2110).
    allow_scale
        Store reals as scaled integers where that makes the file smaller.
    source
        The product file's name, for the comments.

    Returns
    -------
    str

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2024-01-01", periods=2, freq="h")
    >>> ds = xr.Dataset({"a": (("time", "z"), [[1.5, 2.5], [3.5, np.nan]])}, coords={"time": t, "z": [10, 20]})
    >>> nasa_ames_text(ds).splitlines()[-4:]
    ['0', '15 25', '3600', '35 -9999']
    """
    ffi = ffi or choose_ffi(ds, aux)
    if ffi not in (1001, 1010, 2010, 2110):
        raise ExportError(f"FFI {ffi} is not supported (1001, 1010, 2010, 2110)")
    meta = meta_of(ds)
    series = [str(n) for n in ds.data_vars if ds[n].ndim == 1]
    profile = [str(n) for n in ds.data_vars if ds[n].ndim == 2]
    aux_names = [a for a in _aux_names(ds, aux) if a not in series] if ffi in (1010,) or aux is not None else []
    if ffi in (2010, 2110):
        aux_names = [a for a in _aux_names(ds, aux) if a not in profile and a not in series] + series
        primary = profile
    else:
        primary = [n for n in series if n not in aux_names]
    if ffi in (1001, 1010) and profile:
        raise ExportError(f"FFI {ffi} takes time-only variables; {profile} have two dimensions")
    if ffi in (2010, 2110) and not profile:
        raise ExportError(f"FFI {ffi} needs variables on (time, z)")
    if ffi == 1010 and not aux_names:
        raise ExportError("FFI 1010 needs auxiliary variables")

    t = ds["time"].values.astype("datetime64[ns]")
    ref = day_start(t)
    tcol = seconds_column(t, ref)
    nt = len(t)
    dx_t = interval_seconds(ds)
    xname_t = f"Time_Start: time (seconds since {ref:%Y-%m-%d} 00:00:00 UTC)"

    v_cols: dict[str, Column] = {}
    a_cols: dict[str, Column] = {}
    zname = ""
    nz = 0
    x1_text: list[str] = []
    zvals = None
    if ffi in (1001, 1010):
        v_cols = encode(ds, primary, allow_scale)
    else:
        z = ds[profile[0]].dims[1]
        zc = _zcoord(ds, z)
        nz = ds.sizes[z]
        zname = f"{z}: {long_name_of(zc, z)} ({units_of(zc)})"
        for n in primary:
            v_cols[n] = encode_column(ds[n].transpose("time", z).values.ravel(), allow_scale=allow_scale)
        if ffi == 2010:
            zvals = np.asarray(zc.values)
            x1_text = encode_column(zvals, allow_scale=False, need_fill=False).text
        else:
            zvals = np.asarray(zc.values)
            a_cols["NX"] = Column([str(int(np.isfinite(zvals[i]).sum())) for i in range(nt)], 1.0, "1", -9999,
                                  "-9999", 0)
    for a in aux_names:
        a_cols[a] = encode_column(np.asarray(ds[a].values).ravel(), allow_scale=allow_scale)

    # -------------------------------------------------------------------------- comments
    scom: list[str] = []
    for k, v in provenance(ds, source):
        scom += wrap_text(f"{k}: {v}", MAX_LINE, indent="  ")
    ncom: list[str] = []
    a = ds.attrs
    ncom += wrap_text(f"PLATFORM: {meta.platform}", MAX_LINE, indent="  ")
    ncom += wrap_text(f"LOCATION: {meta.location}", MAX_LINE, indent="  ")
    ncom += wrap_text(f"INSTRUMENT: {meta.instrument}", MAX_LINE, indent="  ")
    ncom += wrap_text(f"CONTACT: {meta.pi}; {meta.organization}; {a.get('creator_email', '')}".rstrip("; "),
                      MAX_LINE, indent="  ")
    if a.get("license"):
        ncom += wrap_text(f"LICENSE: {a['license']}", MAX_LINE, indent="  ")
    for n in [*primary, *aux_names]:
        da = ds[n]
        info = [f"{k} {da.attrs[k]}" for k in ("standard_name", "process", "comment") if da.attrs.get(k)]
        if info:
            ncom += wrap_text(f"{n}: " + "; ".join(map(str, info)), MAX_LINE, indent="  ")
    scaled = [f"{n} x {c.scale_text}" for n, c in {**v_cols, **a_cols}.items() if c.scale != 1.0]
    if scaled:
        ncom += wrap_text("Stored as scaled integers (value = file value x scale): " + ", ".join(scaled),
                          MAX_LINE, indent="  ")
    columns = ["Time_Start", *a_cols, *v_cols] if ffi != 2110 else ["Time_Start", *a_cols, z, *v_cols]
    ncom += wrap_items(columns, MAX_LINE)

    # -------------------------------------------------------------------------- header
    head = [to_ascii(meta.pi), meta.organization, to_ascii(meta.source)[:MAX_LINE], meta.mission, "1 1",
            f"{ref:%Y %m %d} {meta.revision_date:%Y %m %d}"]
    if ffi in (1001, 1010):
        head += [f"{dx_t:g}", xname_t]
    else:
        zf = np.asarray(zvals, "f8")
        steps = np.unique(np.diff(zf)) if ffi == 2010 and nz > 1 else np.array([])
        dz = f"{steps[0]:g}" if steps.size == 1 else "0"
        head.append(f"{dz} {dx_t:g}")
        if ffi == 2010:
            head += [str(nz), str(nz), *wrap_items(x1_text, MAX_LINE)]
        head += [zname[:MAX_LINE], xname_t]
    head += [str(len(v_cols)), *wrap_items([c.scale_text for c in v_cols.values()]),
             *wrap_items([c.fill_text for c in v_cols.values()]),
             *(_vname(ds[n], n) for n in v_cols)]
    if ffi != 1001:
        head.append(str(len(a_cols)))
        if a_cols:
            head += [*wrap_items([c.scale_text for c in a_cols.values()]),
                     *wrap_items([c.fill_text for c in a_cols.values()])]
            head += [("NX: number of levels in the record (1)" if n == "NX" and ffi == 2110 else _vname(ds[n], n))
                     for n in a_cols]
    head += [str(len(scom)), *scom, str(len(ncom)), *ncom]
    lines = [f"{len(head) + 1} {ffi}", *head]

    # -------------------------------------------------------------------------- data
    if ffi == 1001:
        for i in range(nt):
            lines += wrap_items([tcol.text[i], *(c.text[i] for c in v_cols.values())])
    elif ffi == 1010:
        for i in range(nt):
            lines += wrap_items([tcol.text[i], *(c.text[i] for c in a_cols.values())])
            lines += wrap_items([c.text[i] for c in v_cols.values()])
    elif ffi == 2010:
        for i in range(nt):
            lines += wrap_items([tcol.text[i], *(c.text[i] for c in a_cols.values())])
            for c in v_cols.values():
                lines += wrap_items(c.text[i * nz:(i + 1) * nz])
    else:
        ztext = encode_column(np.asarray(zvals, "f8").ravel() if zvals.dtype.kind == "f" else zvals.ravel(),
                              allow_scale=False, need_fill=False).text
        for i in range(nt):
            lines += wrap_items([tcol.text[i], *(c.text[i] for c in a_cols.values())])
            for k in range(nz):
                j = i * nz + k
                if not np.isfinite(zvals[i, k]):
                    continue
                lines += wrap_items([ztext[j], *(c.text[j] for c in v_cols.values())])
    text = "\n".join(lines) + "\n"
    problems = check_text(text)
    if problems:
        raise AsciiRuleError("the NASA Ames file would break the ASCII rules: " + "; ".join(problems[:5]))
    return text


def write_nasa_ames(ds: xr.Dataset, out_dir: str | os.PathLike, *, ffi: int | None = None,
                    aux: Sequence[str] | None = None, allow_scale: bool = True, source: str | None = None,
                    start: object = None, end: object = None, variables: Sequence[str] | None = None,
                    name_template: str | None = None) -> Path:
    """Write ``ds`` as a NASA Ames file into ``out_dir``.

    Parameters
    ----------
    ds
        A product dataset.
    out_dir
        Folder to write into.
    ffi, aux, allow_scale, source
        See :func:`nasa_ames_text`.
    start, end, variables
        Export only ``[start, end)`` and these variables (default: every numeric time variable).
    name_template
        A naming template (fields ``source``, ``product``, ``start``); default the INDOEX convention
        ``<station>.<YYMMDDHHmm>.<product>.na``.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pandas as pd, xarray as xr
    >>> t = pd.date_range("2024-01-01", periods=2, freq="h")
    >>> ds = xr.Dataset({"a": ("time", [1.0, 2.0])}, coords={"time": t})
    >>> write_nasa_ames(ds, tempfile.mkdtemp()).name
    'station.2401010000.data.na'
    """
    keep = list(aux or [])
    sel = select(ds, start, end, variables)
    for a in keep:
        if a not in sel.variables:
            sel[a] = ds[a].sel(time=sel["time"])
    text = nasa_ames_text(sel, ffi=ffi, aux=aux, allow_scale=allow_scale, source=source)
    path = Path(out_dir) / indoex_name(ds, sel, "na", name_template)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="ascii", newline="\n")
    return path
