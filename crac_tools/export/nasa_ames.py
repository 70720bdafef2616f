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
2160      the records are labelled by text, not by time: the variables are on ``(label, z)``
          where ``label`` is a dimension other than ``time`` whose coordinate holds character
          strings (station or site names, date strings; datetime labels are written as ISO 8601
          text) and ``z`` is numeric (a 1-D axis or a 2-D ``z(label, z)``) or ``time``; the
          first auxiliary variable is the number of levels, then the ``label``-only numeric
          variables and coordinates (a ``time(label)`` as seconds since ``DATE``), then the
          ``label``-only text coordinates and variables as character auxiliary variables
========  ====================================================================================

The rule is unambiguous: a data variable with a dimension of text (other than ``time``) gives 2160, and
only one such dimension is allowed per file; without one, the outer dimension is ``time`` and the number of
dimensions and the kind of ``z`` axis pick 1001-2110. ``ffi=`` forces an FFI; a shape the FFI cannot hold
raises :class:`~crac_tools.export._common.ExportError` saying why.

The unbounded independent variable is ``Time_Start``, seconds since midnight UTC of ``DATE`` (the
first day; it continues past 86400), except in FFI 2160 where it is the label. Lists (``VSCAL``, ``VMISS``,
``X``) and data records are wrapped at 132 characters as the format allows; numbers follow
:mod:`crac_tools.export.ascii_rules` (precision of the source, scaled integers where smaller, declared
missing values). File names use the INDOEX/JOSS-style ``source.YYMMDDHHmm.product.na`` convention unless a
template is given.

FFI 2160 details: every record starts with its label alone on a line (``LENX`` is the longest label), then
``NX`` and the numeric auxiliary variables, then one line per character auxiliary variable (``LENA`` their
longest value; a missing one is written as its declared missing text), then one line per level
``X1 V1 ... VNV``. Labels must be unique, non-empty ASCII of at most 132 characters; they are written in
sorted order, as the format wants a strictly monotonic independent variable, with blanks as ``_``. Levels
whose ``z`` is missing are left out of their record. ``DATE`` is the day of the ``time`` coordinate
(scalar, per label or the inner dimension), else of datetime labels, else of the ``period_start``
attribute. Data without text auxiliary variables, or labels with blanks, get one more, ``<label>_label``,
the whole labels: ``nappy`` 2.0.2 cannot read a 2160 header with ``NAUXC = 0`` nor a label line with
blanks, but reads a character auxiliary variable whole.

Examples
--------
>>> import tempfile, numpy as np, pandas as pd, xarray as xr
>>> ds = xr.Dataset({"T": ("time", np.array([12.06, np.nan], "f4"), {"units": "degC"})},
...                 coords={"time": pd.date_range("2024-06-01", periods=2, freq="1s")},
...                 attrs={"station_id": "bravo", "product": "met"})
>>> path = write_nasa_ames(ds, tempfile.mkdtemp())
>>> path.name, path.read_text().splitlines()[0]
('bravo.2406010000.met.na', '25 1001')
>>> sites = xr.Dataset({"O3": (("site", "z"), [[31.5, 30.25], [28.0, np.nan]], {"units": "ppbv"})},
...                    coords={"site": ["alpha", "bravo"], "z": ("z", [0.0, 500.0], {"units": "m"}),
...                            "time": pd.Timestamp("2024-06-01T12:00")})
>>> path = write_nasa_ames(sites, tempfile.mkdtemp())
>>> path.read_text().splitlines()[0], path.read_text().splitlines()[-10:]
('35 2160', ['alpha', '2', 'alpha', '0 3150', '500 3025', 'bravo', '2', 'bravo', '0 2800', '500 -9999'])
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ._common import (
    ExportError,
    Meta,
    day_start,
    encode,
    indoex_name,
    interval_seconds,
    long_name_of,
    meta_of,
    pick_variables,
    provenance,
    seconds_column,
    select,
    time_mask,
    units_of,
    write_ascii,
)
from .ascii_rules import (
    MAX_LINE,
    AsciiRuleError,
    Column,
    check_text,
    encode_column,
    shortest_repr,
    to_ascii,
    wrap_items,
    wrap_text,
)

__all__ = ["FFIS", "choose_ffi", "nasa_ames_text", "write_nasa_ames"]

#: the File Format Indices this module writes
FFIS = (1001, 1010, 2010, 2110, 2160)


def _aux_names(ds: xr.Dataset, aux: Sequence[str] | None) -> list[str]:
    if aux is not None:
        return list(aux)
    return [str(c) for c, v in ds.coords.items()
            if c != "time" and v.dims == ("time",) and v.dtype.kind in "iuf"]


def _is_text(values: np.ndarray) -> bool:
    if values.dtype.kind in "US":
        return True
    if values.dtype.kind == "O":
        return values.size > 0 and all(isinstance(v, str | bytes) for v in values.ravel())
    return False


def _label_dims(ds: xr.Dataset) -> list[str]:
    """Dimensions of the data variables, other than ``time``, whose coordinate holds text or datetimes."""
    out: list[str] = []
    for n in ds.data_vars:
        for d in map(str, ds[n].dims):
            if d != "time" and d not in out and d in ds.coords and ds[d].ndim == 1:
                values = ds[d].values
                if _is_text(values) or values.dtype.kind == "M":
                    out.append(d)
    return out


def _one_label(labels: list[str]) -> str:
    if len(labels) != 1:
        have = f"the data have {labels}" if labels else "the data have none"
        raise ExportError("FFI 2160 needs exactly one dimension of character strings (station or site names, "
                          f"date strings) besides time; {have}")
    return labels[0]


def choose_ffi(ds: xr.Dataset, aux: Sequence[str] | None = None) -> int:
    """The NASA Ames FFI for the shape of ``ds`` (see the module table).

    Parameters
    ----------
    ds
        Data on ``time`` (and one ``z`` dimension), or on one dimension of text labels (and one ``z``).
    aux
        Auxiliary variables asked for (they make time series 1010 instead of 1001).

    Returns
    -------
    int
        1001, 1010, 2010, 2110 or 2160.

    Raises
    ------
    ExportError
        Variables of more than two dimensions, more than one ``z`` or text dimension.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2024-01-01", periods=2, freq="h")
    >>> choose_ffi(xr.Dataset({"a": ("time", [1.0, 2.0])}, coords={"time": t}))
    1001
    >>> choose_ffi(xr.Dataset({"a": (("time", "z"), np.ones((2, 3)))}, coords={"time": t, "z": [1, 2, 3]}))
    2010
    >>> choose_ffi(xr.Dataset({"a": (("site", "z"), np.ones((2, 3)))}, coords={"site": ["x", "y"], "z": [1, 2, 3]}))
    2160
    """
    if not ds.data_vars:
        raise ExportError("no variables to export")
    nd = {ds[n].ndim for n in ds.data_vars}
    if max(nd) > 2:
        deep = [str(n) for n in ds.data_vars if ds[n].ndim > 2]
        raise ExportError(f"NASA Ames export takes variables on (time), (time, z) or (label, z) with a dimension "
                          f"of text labels; {deep} have more than two dimensions")
    labels = _label_dims(ds)
    if len(labels) > 1:
        raise ExportError(f"one dimension of text labels per NASA Ames file (FFI 2160); the data have {labels}")
    if labels:
        return 2160
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


def _zcoord(ds: xr.Dataset, z: str, outer: str = "time") -> xr.DataArray:
    for c in ds.coords.values():
        if c.ndim == 2 and set(c.dims) == {outer, z}:
            return c.transpose(outer, z)
    return ds[z] if z in ds.coords else xr.DataArray(np.arange(ds.sizes[z]), dims=z, attrs={"long_name": z})


def _vname(da: xr.DataArray, name: str) -> str:
    text = f"{name}: {long_name_of(da, name)} ({units_of(da)})"
    return to_ascii(text)[:MAX_LINE]


# ------------------------------------------------------------------------------------------ shared parts
def _header_top(meta: Meta, ref: pd.Timestamp) -> list[str]:
    """Header lines 2-7: originator, organisation, source, mission, volumes, dates."""
    return [to_ascii(meta.pi), meta.organization, to_ascii(meta.source)[:MAX_LINE], meta.mission, "1 1",
            f"{ref:%Y %m %d} {meta.revision_date:%Y %m %d}"]


def _v_section(ds: xr.Dataset, v_cols: dict[str, Column]) -> list[str]:
    """NV, VSCAL, VMISS and VNAME lines."""
    return [str(len(v_cols)), *wrap_items([c.scale_text for c in v_cols.values()]),
            *wrap_items([c.fill_text for c in v_cols.values()]), *(_vname(ds[n], n) for n in v_cols)]


def _comments(ds: xr.Dataset, meta: Meta, described: Sequence[str], cols: dict[str, Column],
              columns: Sequence[str], source: str | None) -> list[str]:
    """NSCOML, the special comments (provenance), NNCOML and the normal comments."""
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
    for n in described:
        da = ds[n]
        info = [f"{k} {da.attrs[k]}" for k in ("standard_name", "process", "comment") if da.attrs.get(k)]
        if info:
            ncom += wrap_text(f"{n}: " + "; ".join(map(str, info)), MAX_LINE, indent="  ")
    scaled = [f"{n} x {c.scale_text}" for n, c in cols.items() if c.scale != 1.0]
    if scaled:
        ncom += wrap_text("Stored as scaled integers (value = file value x scale): " + ", ".join(scaled),
                          MAX_LINE, indent="  ")
    ncom += wrap_items([to_ascii(c) for c in columns], MAX_LINE)
    return [str(len(scom)), *scom, str(len(ncom)), *ncom]


def _finish(ffi: int, head: list[str], data: list[str]) -> str:
    """The whole file: ``NLHEAD FFI``, header and data, checked against the ASCII rules."""
    text = "\n".join([f"{len(head) + 1} {ffi}", *head, *data]) + "\n"
    problems = check_text(text)
    if problems:
        raise AsciiRuleError("the NASA Ames file would break the ASCII rules: " + "; ".join(problems[:5]))
    return text


def nasa_ames_text(ds: xr.Dataset, *, ffi: int | None = None, aux: Sequence[str] | None = None,
                   allow_scale: bool = True, source: str | None = None) -> str:
    """The NASA Ames text of ``ds``.

    Parameters
    ----------
    ds
        Data on ``time`` (and one ``z`` dimension), as :func:`crac_tools.export._common.select` gives, or on
        one dimension of text labels (and one ``z`` dimension) for FFI 2160.
    ffi
        Force an FFI (1001, 1010, 2010, 2110, 2160); default :func:`choose_ffi`.
    aux
        Time-dependent (FFI 2160: label-dependent) variables or coordinates to write as auxiliary variables
        (1010/2010/2110/2160).
    allow_scale
        Store reals as scaled integers where that makes the file smaller.
    source
        The product file's name, for the comments.

    Returns
    -------
    str

    Raises
    ------
    ExportError
        The data's shape does not fit the FFI (the message says why).

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2024-01-01", periods=2, freq="h")
    >>> ds = xr.Dataset({"a": (("time", "z"), [[1.5, 2.5], [3.5, np.nan]])}, coords={"time": t, "z": [10, 20]})
    >>> nasa_ames_text(ds).splitlines()[-4:]
    ['0', '15 25', '3600', '35 -9999']
    >>> ds = xr.Dataset({"a": (("site", "z"), [[1.5, 2.5], [3.5, np.nan]])},
    ...                 coords={"site": ["x", "y"], "z": [10, 20], "time": t[0]})
    >>> nasa_ames_text(ds).splitlines()[-10:]
    ['x', '2', 'x', '10 15', '20 25', 'y', '2', 'y', '10 35', '20 -9999']
    """
    ffi = ffi or choose_ffi(ds, aux)
    if ffi not in FFIS:
        raise ExportError(f"FFI {ffi} is not supported ({', '.join(map(str, FFIS))})")
    if ffi == 2160:
        return _text_2160(ds, aux=aux, allow_scale=allow_scale, source=source)
    if "time" not in ds.dims:
        raise ExportError(f"FFI {ffi} needs a 'time' dimension; the data are on {sorted(map(str, ds.dims))}")
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

    columns = ["Time_Start", *a_cols, *v_cols] if ffi != 2110 else ["Time_Start", *a_cols, z, *v_cols]
    comments = _comments(ds, meta, [*primary, *aux_names], {**v_cols, **a_cols}, columns, source)

    # -------------------------------------------------------------------------- header
    head = _header_top(meta, ref)
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
    head += _v_section(ds, v_cols)
    if ffi != 1001:
        head.append(str(len(a_cols)))
        if a_cols:
            head += [*wrap_items([c.scale_text for c in a_cols.values()]),
                     *wrap_items([c.fill_text for c in a_cols.values()])]
            head += [("NX: number of levels in the record (1)" if n == "NX" and ffi == 2110 else _vname(ds[n], n))
                     for n in a_cols]
    head += comments

    # -------------------------------------------------------------------------- data
    lines: list[str] = []
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
    return _finish(ffi, head, lines)


# ------------------------------------------------------------------------------------------ FFI 2160
def _iso(values: np.ndarray) -> list[str]:
    """Datetimes as ISO 8601 text, as coarse as the values allow (``2024-06-01``, ``2024-06-01T12:30:00``)."""
    t = np.asarray(values).astype("datetime64[ns]")
    for unit in ("D", "s", "ms", "us", "ns"):
        if (t.astype(f"datetime64[{unit}]").astype("datetime64[ns]") == t).all():
            break
    return [str(s) for s in np.datetime_as_string(t, unit=unit)]


def _text_values(values: np.ndarray) -> list[str]:
    """Each value as one stripped line of printable ASCII ('' where missing)."""
    out = []
    for v in np.asarray(values).ravel():
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append("")
        else:
            out.append(to_ascii(v.decode("utf-8", "replace") if isinstance(v, bytes) else v).strip())
    return out


def _labels(da: xr.DataArray, name: str) -> tuple[list[str], list[str]]:
    """The label of every record as written (blanks as ``_``) and whole: unique, non-empty, <= 132 characters."""
    values = da.values
    if values.dtype.kind == "M":
        if np.isnat(values).any():
            raise ExportError(f"the labels {name!r} have missing (NaT) values")
        text = _iso(values)
    else:
        text = _text_values(values)
    if "" in text:
        raise ExportError(f"the labels {name!r} have empty or missing values (record {text.index('')})")
    long = [s for s in text if len(s) > MAX_LINE]
    if long:
        raise ExportError(f"labels {name!r} longer than {MAX_LINE} characters: {long[0][:40]!r}...")
    written = [re.sub(r"\s+", "_", s) for s in text]
    dup = sorted(s for s, n in Counter(written).items() if n > 1)
    if dup:
        raise ExportError(f"the labels {name!r} must be unique (an independent variable); repeated: {dup[:5]}")
    return written, text


def _first_time(ds: xr.Dataset, label: str) -> pd.Timestamp:
    """The first time of labelled data: ``time`` coordinate, datetime labels or ``period_start``."""
    for name in ("time", label):
        if name in ds.variables and ds[name].dtype.kind == "M":
            t = np.asarray(ds[name].values).ravel().astype("datetime64[ns]")
            t = t[~np.isnat(t)]
            if t.size:
                return pd.Timestamp(t.min())
    for key in ("period_start", "time_coverage_start"):
        if ds.attrs.get(key):
            try:
                ts = pd.Timestamp(ds.attrs[key])
            except ValueError:
                continue
            return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts
    raise ExportError(f"FFI 2160 needs a date for its header (DATE): give the data on {label!r} a 'time' "
                      "coordinate or a 'period_start' attribute")


def _step(values: list[np.ndarray]) -> float | None:
    """The one step between successive values of every record (DX), or None."""
    steps = np.unique(np.concatenate([np.diff(v) for v in values if v.size > 1] or [np.zeros(0)]))
    return float(steps[0]) if steps.size == 1 and steps[0] != 0 else None


def _text_2160(ds: xr.Dataset, *, aux: Sequence[str] | None, allow_scale: bool, source: str | None) -> str:
    lab = _one_label(_label_dims(ds))
    names = [str(n) for n in ds.data_vars]
    elsewhere = [n for n in names if lab not in ds[n].dims]
    if elsewhere:
        raise ExportError(f"FFI 2160 holds variables on ({lab}, z) and ({lab}) only; {elsewhere} are not on "
                          f"{lab!r} (export them separately with --variables)")
    deep = [n for n in names if ds[n].ndim > 2]
    if deep:
        raise ExportError(f"FFI 2160 takes variables on ({lab}, z); {deep} have more than two dimensions")
    profile = [n for n in names if ds[n].ndim == 2]
    series = [n for n in names if ds[n].ndim == 1]
    if not profile:
        raise ExportError(f"FFI 2160 needs variables on ({lab}, z), a bounded dimension besides {lab!r}; "
                          f"{series} are on ({lab}) only")
    zdims = sorted({str(d) for n in profile for d in ds[n].dims if d != lab})
    if len(zdims) > 1:
        raise ExportError(f"one bounded dimension per NASA Ames file; the data have {zdims} besides {lab!r}")
    z = zdims[0]
    text_labels, whole = _labels(ds[lab], lab)
    order = sorted(range(len(text_labels)), key=text_labels.__getitem__)
    ds = ds.isel({lab: order})
    text_labels, whole = [text_labels[i] for i in order], [whole[i] for i in order]
    nl = len(text_labels)
    meta = meta_of(ds)
    ref = _first_time(ds, lab).normalize()
    since = f"seconds since {ref:%Y-%m-%d} 00:00:00 UTC"

    # -------------------------------------------------------------------------- the bounded variable
    if z == "time":
        t = ds["time"].values.astype("datetime64[ns]")
        if np.isnat(t).any():
            raise ExportError("the time dimension has missing (NaT) values")
        x1 = seconds_column(t, ref).text
        ztext = [x1] * nl
        step = _step([(t - np.datetime64(ref, "ns")).astype("i8")])
        dx = "0" if step is None else shortest_repr(step / 1e9)
        zname = f"Time_Start: time ({since})"
    else:
        zc = _zcoord(ds, z, outer=lab)
        if zc.dtype.kind not in "iuf":
            raise ExportError(f"the bounded variable {z!r} must be numeric; it is {zc.dtype}")
        zgrid = np.broadcast_to(np.asarray(zc.values), (nl, ds.sizes[z]))
        enc = encode_column(zgrid.ravel(), allow_scale=False, need_fill=False).text
        finite = np.isfinite(zgrid.astype("f8"))
        ztext = [[enc[i * zgrid.shape[1] + k] if finite[i, k] else "" for k in range(zgrid.shape[1])]
                 for i in range(nl)]
        step = _step([zgrid[i][finite[i]].astype("f8") for i in range(nl)])
        dx = "0" if step is None else shortest_repr(step)
        zname = f"{z}: {long_name_of(zc, z)} ({units_of(zc)})"
    nz = ds.sizes[z]

    v_cols = {n: encode_column(ds[n].transpose(lab, z).values.ravel(), allow_scale=allow_scale) for n in profile}

    # -------------------------------------------------------------------------- auxiliary variables
    if aux is not None:
        aux_names = [str(a) for a in aux if a not in profile]
    else:
        aux_names = [str(c) for c, v in ds.coords.items()
                     if c != lab and v.dims == (lab,) and (v.dtype.kind in "biufM" or _is_text(v.values))]
    aux_names += [n for n in series if n not in aux_names]
    counts = [sum(1 for s in ztext[i] if s) for i in range(nl)]
    a_num: dict[str, Column] = {"NX": Column([str(c) for c in counts], 1.0, "1", -9999, "-9999", 0)}
    a_names = {"NX": f"NX: number of levels of {z} in the record (1)"}
    a_chr: dict[str, tuple[list[str], str]] = {}
    for a in aux_names:
        if a not in ds.variables:
            raise ExportError(f"unknown auxiliary variable {a!r}")
        da = ds[a]
        if da.dims != (lab,):
            raise ExportError(f"auxiliary variables of FFI 2160 are on ({lab}); {a!r} is on {da.dims}")
        if da.dtype.kind == "M":
            t = da.values.astype("datetime64[ns]")
            bad = np.isnat(t)
            sec = seconds_column(np.where(bad, np.datetime64(ref, "ns"), t), ref)
            text = ["-9999" if b else s for s, b in zip(sec.text, bad, strict=True)]
            a_num[a] = Column(text, 1.0, "1", -9999, "-9999", sec.decimals)
            a_names[a] = f"Time_Start: time ({since})" if a == "time" else \
                to_ascii(f"{a}: {long_name_of(da, a)} ({since})")[:MAX_LINE]
        elif da.dtype.kind in "biuf":
            a_num[a] = encode_column(np.asarray(da.values).ravel(), allow_scale=allow_scale)
            a_names[a] = _vname(da, a)
        elif _is_text(da.values) or da.dtype.kind == "O":
            text = _text_values(da.values)
            miss = "-9999"
            while miss in text:
                miss += "9"
            text = [s or miss for s in text]
            long = [s for s in text if len(s) > MAX_LINE]
            if long:
                raise ExportError(f"{a!r}: values longer than {MAX_LINE} characters ({long[0][:40]!r}...)")
            a_chr[a] = (text, miss)
            a_names[a] = to_ascii(f"{a}: {long_name_of(da, a)}")[:MAX_LINE]
        else:
            raise ExportError(f"auxiliary variable {a!r} is {da.dtype}, neither numeric, datetime nor text")
    if not a_chr or whole != text_labels:
        # nappy (2.0.2) cannot read a 2160 header without character auxiliary variables, nor a label line with
        # blanks (written as "_"): the labels are repeated, whole, as a character auxiliary variable
        a_chr[f"{lab}_label"] = (whole, "-9999")
        a_names[f"{lab}_label"] = to_ascii(f"{lab}_label: the record's {lab} label, repeated as text")[:MAX_LINE]

    columns = [lab, *a_num, *a_chr, "Time_Start" if z == "time" else z, *v_cols]
    comments = _comments(ds, meta, [*profile, *(a for a in aux_names if a != "time")], {**v_cols, **a_num},
                         columns, source)

    # -------------------------------------------------------------------------- header
    if ds[lab].dtype.kind == "M":
        xname_lab = f"{lab}: {long_name_of(ds[lab], lab)} (ISO 8601 UTC)"
    else:
        xname_lab = f"{lab}: {long_name_of(ds[lab], lab)}"
    head = _header_top(meta, ref)
    head += [dx, str(max(len(s) for s in text_labels)), to_ascii(zname)[:MAX_LINE], to_ascii(xname_lab)[:MAX_LINE]]
    head += _v_section(ds, v_cols)
    head += [str(len(a_num) + len(a_chr)), str(len(a_chr)),
             *wrap_items([c.scale_text for c in a_num.values()]), *wrap_items([c.fill_text for c in a_num.values()])]
    if a_chr:
        head += wrap_items([str(max(len(s) for s in text)) for text, _ in a_chr.values()])
        head += [miss for _, miss in a_chr.values()]
    head += [a_names[a] for a in (*a_num, *a_chr)]
    head += comments

    # -------------------------------------------------------------------------- data
    lines: list[str] = []
    for i, name in enumerate(text_labels):
        lines.append(name)
        lines += wrap_items([c.text[i] for c in a_num.values()])
        lines += [text[i] for text, _ in a_chr.values()]
        for k in range(nz):
            if ztext[i][k]:
                j = i * nz + k
                lines += wrap_items([ztext[i][k], *(c.text[j] for c in v_cols.values())])
    return _finish(2160, head, lines)


# ------------------------------------------------------------------------------------------ writing
def _select_labelled(ds: xr.Dataset, label: str, start: object, end: object,
                     variables: Sequence[str] | None) -> xr.Dataset:
    """The part of ``ds`` an FFI 2160 file holds: records with ``time`` in ``[start, end)``, ``variables``."""
    if "time" in ds.dims:
        ds = ds.sortby("time")
    if start is not None or end is not None:
        if "time" not in ds.coords or ds["time"].dtype.kind != "M":
            raise ExportError(f"cannot keep [{start}, {end}): the data on {label!r} have no 'time' coordinate")
        keep = time_mask(ds["time"].values, start, end)
        if ds["time"].ndim == 0:
            ds = ds if keep else ds.isel({label: []})
        elif ds["time"].dims in (("time",), (label,)):
            ds = ds.isel({ds["time"].dims[0]: np.flatnonzero(keep)})
        else:
            raise ExportError(f"cannot keep [{start}, {end}) on a 'time' coordinate on {ds['time'].dims}")
        if not all(ds.sizes[d] for d in ds["time"].dims + (label,)):
            raise ExportError(f"no records in [{start}, {end})")
    return ds[pick_variables(ds, variables, label, f"no numeric variables on {label!r} to export")]


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
        Export only ``[start, end)`` and these variables (default: every numeric time variable; for data on a
        dimension of text labels every numeric variable on it, ``[start, end)`` applied to its ``time``
        coordinate).
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
    known = [v for v in variables or [] if v in ds.data_vars]
    probe = ds[known] if known else ds
    labels = _label_dims(probe)
    if ffi == 2160 or (ffi is None and labels):
        label = _one_label(labels)
        sel = _select_labelled(ds, label, start, end, variables)
        first = _first_time(sel, label)
    else:
        sel = select(ds, start, end, variables)
        first = sel["time"].values.min()
    for a in keep:
        if a not in sel.variables:
            sel[a] = ds[a].sel(time=sel["time"]) if "time" in ds[a].dims else ds[a]
    text = nasa_ames_text(sel, ffi=ffi, aux=aux, allow_scale=allow_scale, source=source)
    return write_ascii(Path(out_dir) / indoex_name(ds, first, "na", name_template), text)
