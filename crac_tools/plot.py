"""Quick-look plots of per-station, per-period products.

Static quick-looks are drawn with matplotlib's object-oriented API on an Agg canvas (no ``pyplot`` global
state, so figures can be made from worker threads or processes); interactive views use hvplot/holoviews,
imported only when :func:`interactive` or :func:`save_interactive_html` is called, so importing this module
stays cheap. Every file is written atomically through :func:`crac_tools.fsutil.atomic_path`.

Drawing rules shared by both kinds of plot:

* one panel per numeric data variable along ``time``; ``RECORD`` and non-numeric variables (strings,
  datetimes, booleans) are skipped; variables with no finite value are listed as "no data";
* missing times break the line: a NaN is inserted wherever consecutive times are more than
  :data:`GAP_FACTOR` times the median time step apart;
* long series are reduced for drawing with a min/max envelope per pixel column, so spikes stay visible.

Examples
--------
>>> import numpy as np, pandas as pd, xarray as xr
>>> t = pd.date_range("2024-05-01", periods=60, freq="1min")
>>> ds = xr.Dataset({"AirT": ("time", np.linspace(10, 12, 60), {"units": "Deg C"})}, coords={"time": t},
...                 attrs={"station_id": "ST01", "period": "hour"})
>>> fig = quicklook_figure(ds)
>>> len(fig.axes)
1
>>> fig.axes[0].get_ylabel()
'AirT [Deg C]'
"""

from __future__ import annotations

import logging
import os
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from .fsutil import atomic_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

#: Data variables never plotted (record counters and the like).
SKIP_VARIABLES: frozenset[str] = frozenset({"RECORD"})
#: Consecutive times further apart than this many median steps are a gap (the line is broken there).
GAP_FACTOR = 1.5
#: Series with more points than this are min/max-decimated for the static figure.
MAX_POINTS = 20_000
#: Series with more points than this are datashaded in :func:`interactive` (when datashader is installed).
DATASHADE_THRESHOLD = 100_000

_PANEL_HEIGHT_IN = 1.55
_HEADER_IN = 1.25
_FOOTER_IN = 0.55
_FIG_WIDTH_IN = 12.0


# --------------------------------------------------------------------------------------------------------
# variable selection and labels
# --------------------------------------------------------------------------------------------------------


def _is_plottable(da: xr.DataArray) -> bool:
    """Whether ``da`` is a numeric (integer or float) series along ``time`` only."""
    if da.dims != ("time",):
        return False
    return da.dtype.kind in "iuf"


def _select_variables(ds: xr.Dataset, variables: Sequence[str] | None) -> list[str]:
    """Names of the variables to plot, in order: explicit ``variables`` or every plottable data variable."""
    if variables is None:
        names = [str(n) for n in ds.data_vars if str(n) not in SKIP_VARIABLES]
    else:
        missing = [v for v in variables if v not in ds.data_vars]
        if missing:
            raise KeyError(f"variables not in the dataset: {', '.join(map(str, missing))}")
        names = [str(v) for v in variables]
    chosen = []
    for name in names:
        if _is_plottable(ds[name]):
            chosen.append(name)
        else:
            logger.debug("not plotting %s (dims %s, dtype %s)", name, ds[name].dims, ds[name].dtype)
    return chosen


def _has_data(da: xr.DataArray) -> bool:
    """Whether ``da`` holds at least one finite value."""
    return bool(np.isfinite(np.asarray(da.values, dtype="float64")).any())


def axis_label(attrs: dict, name: str) -> str:
    """``"long_name [units]"`` of a variable's attributes, falling back to its name, omitting empty units.

    Examples
    --------
    >>> axis_label({"long_name": "air temperature", "units": "degC"}, "AirT"), axis_label({}, "AirT")
    ('air temperature [degC]', 'AirT')
    """
    long_name = str(attrs.get("long_name") or name).strip() or name
    units = str(attrs.get("units") or "").strip()
    return f"{long_name} [{units}]" if units else long_name


def _as_ns(times: Any) -> np.ndarray:
    """Times as a ``datetime64[ns]`` numpy array."""
    return np.asarray(times).astype("datetime64[ns]")


# --------------------------------------------------------------------------------------------------------
# gaps and decimation
# --------------------------------------------------------------------------------------------------------


def _median_step(t_ns: np.ndarray) -> float | None:
    """Median positive step of sorted int64 nanosecond times, or None when there is none."""
    if t_ns.size < 2:
        return None
    d = np.diff(t_ns)
    d = d[d > 0]
    return float(np.median(d)) if d.size else None


def _prepare_series(
    times: np.ndarray, values: np.ndarray, max_points: int | None, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return drawing arrays with NaN breaks at time gaps, min/max-decimated when longer than ``max_points``.

    Parameters
    ----------
    times : ndarray
        Times (datetime64, any order; NaT entries are dropped).
    values : ndarray
        Values (numeric), same length as ``times``.
    max_points : int or None
        Decimate when there are more points than this; ``None`` never decimates.
    n_bins : int
        Number of equal time bins (pixel columns) spanning the series when decimating.

    Returns
    -------
    (times, values) : tuple of ndarray
        ``datetime64[ns]`` times and float64 values ready for ``Axes.plot``.
    """
    t = _as_ns(times)
    y = np.asarray(values, dtype="float64")
    ok = ~np.isnat(t)
    t, y = t[ok], y[ok]
    if t.size and np.any(t[1:] < t[:-1]):
        order = np.argsort(t, kind="stable")
        t, y = t[order], y[order]
    ti = t.astype("int64")
    step = _median_step(ti)
    if step is None:
        return t, y
    gap_after = np.diff(ti) > GAP_FACTOR * step  # True at i when a gap lies between i and i + 1

    if max_points is None or t.size <= max_points:
        where = np.flatnonzero(gap_after) + 1
        mid = ti[where - 1] + (ti[where] - ti[where - 1]) // 2
        return (np.insert(ti, where, mid).astype("datetime64[ns]"), np.insert(y, where, np.nan))

    # Groups: runs of points in the same time bin and not separated by a gap.
    n_bins = max(int(n_bins), 1)
    span = max(int(ti[-1] - ti[0]), 1)
    b = ((ti - ti[0]).astype("float64") * (n_bins / span)).astype("int64").clip(0, n_bins - 1)
    new_group = np.empty(t.size, dtype=bool)
    new_group[0] = True
    new_group[1:] = (b[1:] != b[:-1]) | gap_after
    starts = np.flatnonzero(new_group)
    gid = np.cumsum(new_group) - 1
    n_groups = starts.size
    with np.errstate(invalid="ignore"):
        gmin = np.fmin.reduceat(y, starts)
        gmax = np.fmax.reduceat(y, starts)
    # Time of the first minimum / maximum in each group; all-NaN groups keep their first time.
    tmin = ti[starts].copy()
    tmax = ti[starts].copy()
    for gval, tout in ((gmin, tmin), (gmax, tmax)):
        hit = np.flatnonzero(y == gval[gid])
        g_hit, first = np.unique(gid[hit], return_index=True)
        tout[g_hit] = ti[hit[first]]
    swap = tmax < tmin
    t1 = np.where(swap, tmax, tmin)
    v1 = np.where(swap, gmax, gmin)
    t2 = np.where(swap, tmin, tmax)
    v2 = np.where(swap, gmin, gmax)
    # Three slots per group: [NaN break if a gap precedes the group, first extreme, second extreme].
    gap_before = np.zeros(n_groups, dtype=bool)
    gap_before[1:] = gap_after[starts[1:] - 1]
    t_gap = np.empty(n_groups, dtype="int64")
    t_gap[0] = ti[0]
    t_gap[1:] = ti[starts[1:] - 1] + (ti[starts[1:]] - ti[starts[1:] - 1]) // 2
    out_t = np.stack([t_gap, t1, t2], axis=1).ravel()
    out_v = np.stack([np.full(n_groups, np.nan), v1, v2], axis=1).ravel()
    keep = np.stack([gap_before, np.ones(n_groups, bool), t2 != t1], axis=1).ravel()
    return out_t[keep].astype("datetime64[ns]"), out_v[keep]


# --------------------------------------------------------------------------------------------------------
# header text
# --------------------------------------------------------------------------------------------------------


def _parse_time(value: Any) -> pd.Timestamp | None:
    """Parse an ISO time attribute to a tz-naive UTC Timestamp, or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if ts is pd.NaT:
        return None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _fmt_time(ts: pd.Timestamp | None, raw: Any = None) -> str:
    if ts is None:
        return str(raw) if raw not in (None, "") else "?"
    if ts.second or ts.microsecond:
        return ts.strftime("%Y-%m-%d %H:%M:%S")
    return ts.strftime("%Y-%m-%d %H:%M")


def _source_files(attr: Any) -> list[str]:
    """File names from a ``source_files`` attribute ("name sha256" lines, or a list of such lines)."""
    if attr is None:
        return []
    if isinstance(attr, str):
        lines = attr.splitlines()
    else:
        lines = [str(x) for x in np.atleast_1d(attr)]
    names = []
    for line in lines:
        line = line.strip()
        if line:
            # The name may contain spaces; the sha256 is the last field when there are several.
            parts = line.rsplit(None, 1)
            names.append(parts[0] if len(parts) == 2 and len(parts[1]) == 64 else line)
    return names


def _period_bounds(ds: xr.Dataset) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    start = _parse_time(ds.attrs.get("period_start"))
    end = _parse_time(ds.attrs.get("period_end"))
    if "time" in ds.coords and ds.sizes.get("time", 0):
        t = _as_ns(ds["time"].values)
        t = t[~np.isnat(t)]
        if t.size:
            start = start if start is not None else pd.Timestamp(t.min())
            end = end if end is not None else pd.Timestamp(t.max())
    return start, end


def _header(ds: xr.Dataset) -> tuple[str, str, str]:
    """(title, period line, subtitle) describing ``ds``."""
    a = ds.attrs
    sid = str(a.get("station_id") or "").strip()
    sname = str(a.get("station_name") or "").strip()
    station = f"{sname} ({sid})" if sname and sid else (sname or sid or "unknown station")
    parts = [station]
    for key in ("instrument", "product"):
        val = str(a.get(key) or "").strip()
        if val:
            parts.append(val)
    title = " \u2014 ".join(parts)

    start, end = _period_bounds(ds)
    period = str(a.get("period") or "").strip()
    span = (f"{_fmt_time(start, a.get('period_start'))} \u2013 {_fmt_time(end, a.get('period_end'))} UTC")
    period_line = f"{period}: {span}" if period else span

    comp = a.get("completeness")
    try:
        comp_txt = f"completeness {100.0 * float(comp):.1f} %"
    except (TypeError, ValueError):
        comp_txt = "completeness n/a"
    actual, expected = a.get("records_actual"), a.get("records_expected")
    if actual is not None and expected is not None:
        comp_txt += f" ({actual}/{expected} records)"
    files = _source_files(a.get("source_files"))
    if files:
        first = os.path.basename(files[0])
        more = f", first {first}" if len(files) > 1 else f": {first}"
        src_txt = f"source: {len(files)} file{'s' if len(files) != 1 else ''}{more}"
    else:
        src_txt = "source: n/a"
    return title, period_line, f"{comp_txt}   |   {src_txt}"


# --------------------------------------------------------------------------------------------------------
# static figure
# --------------------------------------------------------------------------------------------------------


def quicklook_figure(
    ds: xr.Dataset,
    variables: Sequence[str] | None = None,
    max_panels: int = 12,
    *,
    max_points: int | None = MAX_POINTS,
    width: float = _FIG_WIDTH_IN,
    dpi: float = 100.0,
) -> Figure:
    """Draw a quick-look figure: one panel per numeric variable, sharing the time axis.

    Parameters
    ----------
    ds : xarray.Dataset
        A product dataset with a ``time`` dimension (tz-naive UTC) and the global attributes
        ``station_id``, ``station_name``, ``instrument``, ``product``, ``period``, ``period_start``,
        ``period_end``, ``source_files``, ``completeness`` (any may be missing).
    variables : sequence of str, optional
        Variables to plot, in order. By default every data variable except ``RECORD``; variables that
        are not numeric series along ``time`` are skipped either way.
    max_panels : int, default 12
        At most this many panels; the number of variables left out is noted on the figure.
    max_points : int or None, default 20000
        Series longer than this are reduced to a min/max envelope per pixel column (spikes stay
        visible); ``None`` draws every point.
    width : float, default 12
        Figure width in inches (the height grows with the number of panels).
    dpi : float, default 100
        Figure resolution; also sets the number of pixel columns used for decimation.

    Returns
    -------
    matplotlib.figure.Figure
        A figure attached to an Agg canvas, independent of ``pyplot``.

    Raises
    ------
    KeyError
        When ``variables`` names a variable that is not in ``ds``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2024-05-01", periods=48, freq="30min")
    >>> ds = xr.Dataset(
    ...     {"AirT": ("time", np.random.default_rng(0).normal(15, 2, 48), {"units": "Deg C",
    ...                                                                   "long_name": "air temperature"}),
    ...      "RECORD": ("time", np.arange(48))},
    ...     coords={"time": t},
    ...     attrs={"station_id": "ST01", "period": "day",
    ...            "period_start": "2024-05-01T00:00:00", "period_end": "2024-05-02T00:00:00"})
    >>> fig = quicklook_figure(ds)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['air temperature [Deg C]']
    """
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if max_panels < 1:
        raise ValueError("max_panels must be at least 1")
    names = _select_variables(ds, variables)
    with_data: list[str] = []
    no_data: list[str] = []
    for name in names:
        (with_data if _has_data(ds[name]) else no_data).append(name)
    shown = with_data[:max_panels]
    hidden = with_data[max_panels:]

    n_axes = max(len(shown), 1)
    height = _HEADER_IN + _FOOTER_IN + _PANEL_HEIGHT_IN * n_axes
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_axes, 1, sharex=True, squeeze=False)[:, 0]

    title, period_line, subtitle = _header(ds)
    fig.suptitle(f"{title}\n{period_line}", fontsize=12, fontweight="bold")
    axes[0].set_title(subtitle, fontsize=9, loc="left", color="0.25")

    times = ds["time"].values if "time" in ds.coords else np.array([], dtype="datetime64[ns]")
    n_bins = _pixel_bins(times, _period_bounds(ds), int(width * dpi * 0.85))
    for i, name in enumerate(shown):
        ax = axes[i]
        tx, vy = _prepare_series(times, ds[name].values, max_points, n_bins)
        color = f"C{i % 10}"
        ax.plot(tx, vy, color=color, linewidth=0.9)
        # Finite points with no finite neighbour draw no line segment; mark them so they stay visible.
        fin = np.isfinite(vy)
        prev = np.concatenate([[False], fin[:-1]])
        nxt = np.concatenate([fin[1:], [False]])
        lone = fin & ~prev & ~nxt
        if lone.any():
            ax.plot(tx[lone], vy[lone], linestyle="none", marker=".", markersize=3, color=color)
        ax.set_ylabel("\n".join(textwrap.wrap(axis_label(ds[name].attrs, name), 26)) or name, fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(True, color="0.88", linewidth=0.6)
        ax.margins(x=0)
    if not shown:
        ax = axes[0]
        ax.text(0.5, 0.5, "no data to plot", ha="center", va="center", transform=ax.transAxes,
                fontsize=12, color="0.4")
        ax.set_yticks([])

    _setup_time_axis(axes, ds, mdates)
    fig.align_ylabels(list(axes))

    notes = ["time (UTC)"]
    if no_data:
        notes.append(_wrap_note(f"no data (all NaN): {', '.join(no_data)}"))
    if hidden:
        notes.append(_wrap_note(f"{len(hidden)} more variable{'s' if len(hidden) != 1 else ''} not shown: "
                                f"{', '.join(hidden)}"))
    fig.supxlabel("\n".join(notes), fontsize=8, color="0.2")
    logger.debug("quick-look of %s: %d panels, %d no data, %d not shown", ds.attrs.get("station_id"),
                 len(shown), len(no_data), len(hidden))
    return fig


def _pixel_bins(times: np.ndarray, view: tuple[Any, Any], n_cols: int) -> int:
    """Number of decimation bins over the data span so that one bin is one pixel column of the view."""
    t = _as_ns(times)
    t = t[~np.isnat(t)]
    start, end = view
    if t.size < 2 or start is None or end is None or end <= start:
        return n_cols
    data_span = float((t.max() - t.min()).astype("int64"))
    view_span = float((end - start).value)
    return int(np.clip(np.ceil(n_cols * data_span / view_span), 1, 10 * n_cols))


def _wrap_note(text: str, width: int = 180) -> str:
    return "\n".join(textwrap.wrap(text, width))


def _setup_time_axis(axes: Sequence[Axes], ds: xr.Dataset, mdates: Any) -> None:
    """Concise date ticks on the shared time axis, spanning the product period."""
    bottom = axes[-1]
    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    start, end = _period_bounds(ds)
    if start is not None and end is not None and end > start:
        bottom.set_xlim(start.to_datetime64(), end.to_datetime64())


def _pdf_info_title(station_ids: Sequence[str]) -> str:
    stations = sorted(set(station_ids))
    return f"crac_tools quick-looks: {', '.join(stations)} ({len(station_ids)} pages)"


def write_quicklook_png(ds: xr.Dataset, path: str | os.PathLike, **kw: Any) -> Path:
    """Write the quick-look figure of ``ds`` to a PNG file, atomically.

    Parameters
    ----------
    ds : xarray.Dataset
        The product dataset.
    path : str or path-like
        Final file name; parent directories are created. The file appears complete or not at all.
    **kw
        Passed to :func:`quicklook_figure` (``variables``, ``max_panels``, ``max_points``, ``width``,
        ``dpi``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2024-05-01", periods=60, freq="1min")
    >>> ds = xr.Dataset({"WS": ("time", np.ones(60), {"units": "m/s"})}, coords={"time": t},
    ...                 attrs={"station_id": "ST01"})
    >>> out = write_quicklook_png(ds, pathlib.Path(tempfile.mkdtemp()) / "ql.png")
    >>> out.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    fig = quicklook_figure(ds, **kw)
    title, period_line, subtitle = _header(ds)
    metadata = {"Title": f"{title}; {period_line}", "Description": subtitle, "Software": "crac_tools.plot"}
    final = Path(path)
    with atomic_path(final, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=fig.dpi, metadata=metadata)
    logger.info("wrote quick-look %s", final)
    return final


def write_quicklook_pdf(
    datasets: Iterable[xr.Dataset],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    author: str = "crac_tools",
    **kw: Any,
) -> Path:
    """Write one quick-look page per dataset to a PDF file, atomically.

    Parameters
    ----------
    datasets : iterable of xarray.Dataset
        Product datasets, one page each, in order (a generator is consumed once; each figure is
        released after its page is written).
    path : str or path-like
        Final file name; parent directories are created.
    title : str, optional
        PDF metadata title; by default built from the station ids and the page count.
    author : str, default "crac_tools"
        PDF metadata author.
    **kw
        Passed to :func:`quicklook_figure`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        When ``datasets`` is empty (no file is written).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2024-05-01", periods=60, freq="1min")
    >>> days = [xr.Dataset({"WS": ("time", np.ones(60) * k, {"units": "m/s"})}, coords={"time": t},
    ...                    attrs={"station_id": f"ST0{k}"}) for k in (1, 2)]
    >>> out = write_quicklook_pdf(days, pathlib.Path(tempfile.mkdtemp()) / "ql.pdf", author="me")
    >>> out.read_bytes()[:5]
    b'%PDF-'
    """
    from matplotlib.backends.backend_pdf import PdfPages

    final = Path(path)
    seen: list[str] = []
    with atomic_path(final, suffix=".pdf") as tmp:
        with PdfPages(tmp) as pdf:
            for ds in datasets:
                fig = quicklook_figure(ds, **kw)
                pdf.savefig(fig)
                seen.append(str(ds.attrs.get("station_id", "?")))
                del fig
            if not seen:
                raise ValueError("write_quicklook_pdf: no datasets given")
            info = pdf.infodict()
            info["Title"] = title or _pdf_info_title(seen)
            info["Author"] = author
            info["Subject"] = "station quick-look plots"
            info["Creator"] = "crac_tools.plot"
    logger.info("wrote %d quick-look pages to %s", len(seen), final)
    return final


# --------------------------------------------------------------------------------------------------------
# interactive
# --------------------------------------------------------------------------------------------------------


def _datashader_available() -> bool:
    try:
        import datashader  # noqa: F401
    except ImportError:
        return False
    return True


def interactive(
    ds: xr.Dataset,
    variables: Sequence[str] | None = None,
    datashade: bool | None = None,
    *,
    max_points: int | None = DATASHADE_THRESHOLD,
    height: int = 220,
) -> Any:
    """Build an interactive (bokeh) view: one linked-time line plot per numeric variable.

    Parameters
    ----------
    ds : xarray.Dataset
        The product dataset.
    variables : sequence of str, optional
        Variables to plot (default: every numeric series along ``time`` except ``RECORD``).
    datashade : bool, optional
        Datashade the lines. ``None`` (default) datashades when the series has more than
        :data:`DATASHADE_THRESHOLD` points and ``datashader`` is importable. ``True`` without datashader
        installed logs a warning and draws lines.
    max_points : int or None, default 100000
        When not datashading, series longer than this are reduced to a min/max envelope (half as many
        time bins as ``max_points``) so the page stays small; ``None`` keeps every point.
    height : int, default 220
        Height of each panel in screen pixels.

    Returns
    -------
    holoviews.Layout or holoviews.Div
        One column of line plots sharing the time axis, with ``"long_name [units]"`` y labels; a
        ``Div`` saying "no data" when nothing can be plotted.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2024-05-01", periods=60, freq="1min")
    >>> ds = xr.Dataset({"WS": ("time", np.ones(60), {"units": "m/s"})}, coords={"time": t},
    ...                 attrs={"station_id": "ST01"})
    >>> view = interactive(ds)  # doctest: +SKIP
    >>> save_interactive_html(view, "ST01.html")  # doctest: +SKIP
    """
    import holoviews as hv
    import hvplot.xarray  # noqa: F401  (registers the .hvplot accessor)

    names = _select_variables(ds, variables)
    n_time = int(ds.sizes.get("time", 0))
    have_ds = _datashader_available()
    if datashade is None:
        use_ds = n_time > DATASHADE_THRESHOLD and have_ds
    elif datashade and not have_ds:
        logger.warning("datashader is not installed; drawing plain lines instead of datashading")
        use_ds = False
    else:
        use_ds = bool(datashade)

    title, period_line, subtitle = _header(ds)
    times = ds["time"].values if "time" in ds.coords else np.array([], dtype="datetime64[ns]")
    plots = []
    no_data = []
    for name in names:
        da = ds[name]
        if not _has_data(da):
            no_data.append(name)
            continue
        label = axis_label(da.attrs, name)
        tx, vy = _prepare_series(times, da.values, None if use_ds else max_points,
                                 max(1, (max_points or 2) // 2))
        series = xr.DataArray(vy, coords={"time": tx}, dims="time", name=name, attrs=dict(da.attrs))
        kwargs: dict[str, Any] = {"x": "time", "ylabel": label, "xlabel": "time (UTC)", "label": name,
                                  "responsive": True, "height": height, "rasterize": False}
        if use_ds:
            kwargs["datashade"] = True
        plots.append(series.hvplot.line(**kwargs))
    if no_data:
        logger.info("interactive view of %s: no data for %s", ds.attrs.get("station_id"), ", ".join(no_data))
    if not plots:
        return hv.Div(f"<h3>{title}</h3><p>{period_line}</p><p>no data to plot</p>")
    header = f"{title} | {period_line} | {subtitle}"
    layout = hv.Layout(plots).cols(1).opts(title=header, shared_axes=True)
    return layout


def _inline_panel_stylesheets(doc: Any) -> int:
    """Replace stylesheets that panel links from its CDN by inline copies of the files it ships.

    Returns the number of references replaced. Stylesheets with no local copy are left as they are.
    """
    from bokeh.models import ImportedStyleSheet, InlineStyleSheet
    from panel.io.resources import CDN_DIST, DIST_DIR

    cache: dict[str, Any] = {}

    def inline(url: str) -> Any:
        if url not in cache:
            bare = url.split("?", 1)[0]
            local = DIST_DIR / bare[len(CDN_DIST):] if bare.startswith(CDN_DIST) else None
            cache[url] = (InlineStyleSheet(css=local.read_text(encoding="utf-8"))
                          if local is not None and local.is_file() else None)
        return cache[url]

    n = 0
    for model in list(doc.models):
        if "stylesheets" not in model.properties():
            continue
        new, changed = [], False
        for sheet in model.stylesheets:
            if isinstance(sheet, ImportedStyleSheet):
                url = sheet.url
            else:
                url = sheet if isinstance(sheet, str) else None
            repl = inline(url) if url and url.startswith(CDN_DIST) else None
            new.append(sheet if repl is None else repl)
            changed |= repl is not None
            n += repl is not None
        if changed:
            model.stylesheets = new
    return n


def save_interactive_html(obj: Any, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Save a holoviews/hvplot/panel object as a self-contained HTML file, atomically.

    BokehJS and the panel/holoviews extensions are inlined (bokeh ``INLINE`` resources), and the
    stylesheets panel would link from its CDN are replaced by inline copies of the files panel ships,
    so the page works offline and loads nothing from a CDN.

    Parameters
    ----------
    obj : holoviews or panel object
        For example the result of :func:`interactive`.
    path : str or path-like
        Final file name (``.html``); parent directories are created.
    title : str, optional
        HTML page title (default: the file stem).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> view = interactive(ds)  # doctest: +SKIP
    >>> save_interactive_html(view, "quicklook.html")  # doctest: +SKIP
    PosixPath('quicklook.html')
    """
    import panel as pn
    from bokeh.document import Document
    from bokeh.resources import INLINE
    from panel.io.model import add_to_doc
    from panel.io.resources import set_resource_mode
    from panel.io.save import save as panel_save

    final = Path(path)
    with set_resource_mode("inline"):
        doc = Document()
        root = pn.panel(obj).get_root(doc)
        add_to_doc(root, doc, True)
        n = _inline_panel_stylesheets(doc)
        logger.debug("inlined %d panel stylesheets", n)
        with atomic_path(final, suffix=".html") as tmp:
            # Empty icon variables drop the template's favicon links to the panel CDN.
            panel_save(doc, str(tmp), resources=INLINE, title=title or final.stem,
                       template_variables={"app_favicon": "", "apple_icon": ""})
    logger.info("wrote interactive view %s", final)
    return final
