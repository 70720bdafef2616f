"""The interactive plot of a dataset: read, reduce, draw, and answer zoom requests.

Reading
    Only the chosen variables and the chosen time range are read. When the dataset's zarr mirror
    (``ARCHIVE/mirror/<key>.zarr``, a regular time grid with consolidated metadata) exists, holds every chosen
    variable and is not older than the dataset's ingest state, the slice of the grid is read from it, every key
    checked as ``/zarr/`` checks it (:class:`~crac_tools.web.zarr_store.MirrorStore`: no file through a link out
    of the mirror, no mirror folder that is itself a link); otherwise, or when a read is refused, the NetCDF
    products of the periods overlapping the range are read (:func:`crac_tools.store.read_products`), only those
    :meth:`~crac_tools.web.site.Site.products` passes (a product path that resolves outside ``products/<key>`` is
    read as a period without file). Callers pass a dataset that already passed the policy.

Reducing
    A range holding more than ``2 n`` records is reduced to a min/max envelope of at most ``n`` equal time bins
    (two points per bin, minimum and maximum in the order they occur, so spikes stay visible); bins without a
    record are NaN and break the line. Fewer records are returned as they are (with a NaN break at time gaps).
    Every variable shares one time axis, so a response is one ``x`` array and one ``y`` array per variable.

Drawing and zooming
    :func:`bokeh_view` draws one panel per variable (plain bokeh, linked time axis, x-only pan/zoom tools).
    A ``CustomJS`` callback on the time range waits until the user stops zooming or panning (250 ms), then, if
    the loaded data are too coarse for the visible range or do not cover it, fetches
    ``/datasets/{key}/plotdata`` (:func:`plotdata`) for the visible range plus half a width on each side and
    replaces the panels' data; zooming back out to the page's range restores the page's own data without a
    request. Everything runs on the app's own BokehJS: nothing is loaded from elsewhere.

Examples
--------
>>> s = plot_series(site, ctx, d, ["Ux"], None, None, 1000)  # doctest: +SKIP
>>> s.x.size <= 2000, s.step_ms > 0  # doctest: +SKIP
(True, True)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..plot import GAP_FACTOR, axis_label
from ..store import layout_of, read_products
from .datasets import Dataset, Period, numeric_variables, utc
from .responses import begin, error
from .site import Ctx, NotFound, Site
from .zarr_store import MirrorStore, mirror_file

log = logging.getLogger(__name__)

#: Read the zarr mirror when it is usable (the benchmark switches it off to time the NetCDF fallback).
USE_MIRROR = True
#: Time bins of the page's envelope (about one per pixel column of a wide screen).
N_BINS = 1000
#: Most bins a zoom request may ask for.
MAX_BINS = 5000
#: Most variables one plot shows.
MAX_VARIABLES = 12
_NS_PER_MS = 1_000_000


@dataclass
class Series:
    """Drawing data of some variables over one time range.

    Attributes
    ----------
    x
        Times in milliseconds since 1970 (float64), shared by every variable.
    y
        Values per variable (float), the same length as ``x``; NaN breaks the line.
    start, end
        The range read (tz-naive UTC); None when the dataset has no data.
    step_ms
        Width of an envelope bin in milliseconds; 0 when every record is shown.
    records
        Records in the range.
    source
        ``"mirror"`` or ``"netcdf"``.
    """

    x: np.ndarray
    y: dict[str, np.ndarray] = field(default_factory=dict)
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    step_ms: float = 0.0
    records: int = 0
    source: str = "netcdf"


def _ms(t: pd.Timestamp) -> float:
    return float(pd.Timestamp(t).value // _NS_PER_MS)


# -------------------------------------------------------------------------------------------- reading
def mirror_store(site: Site, ctx: Ctx, d: Dataset) -> MirrorStore | None:
    """The dataset's zarr mirror, opened for this caller, when it exists and is current; else None.

    Every key read from it goes through :func:`~crac_tools.web.zarr_store.mirror_file`, the check of
    ``/zarr/`` (:class:`~crac_tools.web.zarr_store.MirrorStore`): a key that leads out of the mirror, or a mirror
    folder that is itself a link, fails the read and the products are read instead. Its consolidated metadata
    must be at least as new as the dataset's ingest state (the pipeline consolidates after writing every period,
    so an older mirror is stale or being updated).
    """
    if not USE_MIRROR:
        return None
    state = site.archive / "state" / "ingest" / f"{d.key}.json"
    try:
        if mirror_file(site, ctx, d, "zarr.json").stat().st_mtime_ns < state.stat().st_mtime_ns:
            return None
    except (NotFound, OSError):
        return None
    return MirrorStore(site, ctx, d)


def _open_mirror(store: MirrorStore, variables: list[str]):
    """The mirror's group, grid origin (ns), step (ns) and length, or None when it lacks a variable."""
    import zarr

    g = zarr.open_group(store=store, mode="r", use_consolidated=True)
    names = set(g.array_keys())
    if not set(variables) <= names or "time" not in names:
        return None
    lay = layout_of(g)
    return g, int(lay.origin.value), int(lay.interval.value), lay.length


def _read_mirror(store: MirrorStore, variables: list[str], start: pd.Timestamp,
                 end: pd.Timestamp) -> tuple[int, int, dict[str, np.ndarray], int] | None:
    """First grid time (ns), grid step (ns), the values of ``[start, end)`` and the records there (slots
    holding one); None when the mirror is not usable."""
    try:
        opened = _open_mirror(store, variables)
        if opened is None:
            return None
        g, origin, step, length = opened
        i0 = min(max(0, -(-(start.value - origin) // step)), length)
        i1 = min(max(i0, -(-(end.value - origin) // step)), length)
        values = {v: np.asarray(g[v][i0:i1]) for v in variables}
        if "RECORD" in g.array_keys():  # NaN exactly where the grid has no record
            records = int(np.count_nonzero(~np.isnan(np.asarray(g["RECORD"][i0:i1]))))
        else:
            finite = np.zeros(i1 - i0, bool)
            for a in values.values():
                finite |= ~np.isnan(a)
            records = int(np.count_nonzero(finite))
    except Exception as exc:  # the products are the reference: any trouble with the mirror falls back to them
        log.warning("%s: mirror not readable (%s: %s); reading the products", store, type(exc).__name__, exc)
        return None
    return origin + i0 * step, step, values, records


def _read_netcdf(periods: list[Period], variables: list[str], start: pd.Timestamp,
                 end: pd.Timestamp) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Times (ns) and values of ``[start, end)`` from the NetCDF products of ``periods`` (those overlapping the
    range whose file the caller may read: :meth:`~crac_tools.web.site.Site.products`)."""
    paths = [p.path for p in periods]
    if not paths:  # a range between two periods, or no readable file
        return np.zeros(0, np.int64), {v: np.zeros(0) for v in variables}
    data = read_products(paths, variables)
    t = data["time"].values.astype("datetime64[ns]").view(np.int64)
    keep = (t >= start.value) & (t < end.value)
    idx = None if keep.all() else np.flatnonzero(keep)
    if t.size > 1 and np.any(t[1:] < t[:-1]):  # products hold sorted records; be safe with odd ones
        order = np.argsort(t, kind="stable")
        idx = order[keep[order]]
    if idx is None:
        return t, {v: data[v].values for v in variables}
    return t[idx], {v: data[v].values[idx] for v in variables}


# -------------------------------------------------------------------------------------------- reducing
def _float(a: np.ndarray) -> np.ndarray:
    return a if a.dtype.kind == "f" else a.astype(np.float64)


def _ordered_pairs(vmin: np.ndarray, imin: np.ndarray, vmax: np.ndarray, imax: np.ndarray) -> np.ndarray:
    """Two values per bin, minimum and maximum in the order they occur."""
    first = np.where(imin <= imax, vmin, vmax)
    second = np.where(imin <= imax, vmax, vmin)
    return np.stack([first, second], axis=1).ravel()


def envelope_grid(t0: int, step: int, values: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, dict, float]:
    """Min/max envelope of values on a regular grid (``t0 + i * step`` ns; NaN where no record).

    Parameters
    ----------
    t0, step
        Time of the first value and grid step, in nanoseconds.
    values
        Equal-length arrays per variable.
    n
        At most this many bins; ranges of at most ``2 n`` values are returned unreduced.

    Returns
    -------
    x, y, step_ms
        Times (ms, float64), values per variable, and the bin width in ms (0: unreduced).

    Examples
    --------
    >>> x, y, w = envelope_grid(0, 1_000_000_000, {"a": np.arange(10.0)}, 2)
    >>> x.tolist(), y["a"].tolist(), w
    ([1250.0, 3750.0, 6250.0, 8750.0], [0.0, 4.0, 5.0, 9.0], 5000.0)
    """
    length = len(next(iter(values.values()))) if values else 0
    if length <= 2 * n:
        x = (t0 + np.arange(length, dtype=np.int64) * step) / _NS_PER_MS
        return x, {k: _float(v) for k, v in values.items()}, 0.0
    k = -(-length // n)  # grid values per bin
    nb = -(-length // k)
    width = k * step
    base = t0 + np.arange(nb, dtype=np.int64) * width
    x = (np.stack([base + width // 4, base + 3 * width // 4], axis=1).ravel()) / _NS_PER_MS
    out = {}
    for name, a in values.items():
        a = _float(a)
        if nb * k != length:
            a = np.concatenate([a, np.full(nb * k - length, np.nan, a.dtype)])
        b = a.reshape(nb, k)
        nan = np.isnan(b)
        imin = np.where(nan, np.inf, b).argmin(axis=1)
        imax = np.where(nan, -np.inf, b).argmax(axis=1)
        rows = np.arange(nb)
        out[name] = _ordered_pairs(b[rows, imin], imin, b[rows, imax], imax)
    return x, out, width / _NS_PER_MS


def envelope_times(t: np.ndarray, values: dict[str, np.ndarray], n: int, start: int,
                   end: int) -> tuple[np.ndarray, dict, float]:
    """Min/max envelope of values at sorted times ``t`` (int64 ns) over ``[start, end)``, in at most ``n`` bins.

    At most ``2 n`` records are returned unreduced, with a NaN point at every time gap (consecutive records
    more than :data:`GAP_FACTOR` median steps apart); otherwise the bin width is rounded up to a whole number
    of median steps (so regular records get the bins :func:`envelope_grid` makes of the same grid) and bins
    without a record are NaN.

    Examples
    --------
    >>> s = 1_000_000_000
    >>> x, y, w = envelope_times(np.array([0, s, 5 * s]), {"a": np.array([1.0, 2.0, 3.0])}, 10, 0, 6 * s)
    >>> x.tolist(), y["a"].tolist(), w
    ([0.0, 1000.0, 3000.0, 5000.0], [1.0, 2.0, nan, 3.0], 0.0)
    """
    d = np.diff(t)
    pos = d[d > 0]
    median = int(np.median(pos)) if pos.size else 0
    if t.size <= 2 * n:
        gaps = np.flatnonzero(d > GAP_FACTOR * median) + 1 if median else np.array([], int)
        mid = t[gaps - 1] + (t[gaps] - t[gaps - 1]) // 2
        x = np.insert(t, gaps, mid) / _NS_PER_MS
        return x, {k: np.insert(_float(v), gaps, np.nan) for k, v in values.items()}, 0.0
    width = -(-(end - start) // n)
    if median > 0:  # a whole number of record steps (the bins a regular grid of that step gets)
        width = -(-width // median) * median
    nb = -(-(end - start) // width)
    edges = start + np.arange(nb + 1, dtype=np.int64) * width
    first = np.searchsorted(t, edges[:-1], side="left")
    last = np.searchsorted(t, edges[1:], side="left")
    full = np.flatnonzero(last > first)
    starts = first[full]
    counts = last[full] - starts
    gid = np.repeat(np.arange(full.size), counts)
    idx = np.arange(t.size)[first[0]:last[-1]]
    base = edges[:-1]
    x = (np.stack([base + width // 4, base + 3 * width // 4], axis=1).ravel()) / _NS_PER_MS
    out = {}
    for name, a in values.items():
        a = _float(a)
        rel = starts - first[0]
        seg = a[first[0]:last[-1]]
        with np.errstate(invalid="ignore"):
            vmin = np.fmin.reduceat(seg, rel) if rel.size else np.array([], a.dtype)
            vmax = np.fmax.reduceat(seg, rel) if rel.size else np.array([], a.dtype)
        big = np.iinfo(np.int64).max
        imin = np.minimum.reduceat(np.where(seg == vmin[gid], idx, big), rel) if rel.size else rel
        imax = np.minimum.reduceat(np.where(seg == vmax[gid], idx, big), rel) if rel.size else rel
        pairs = np.full((nb, 2), np.nan, dtype=a.dtype)
        pairs[full] = _ordered_pairs(vmin, imin, vmax, imax).reshape(-1, 2)
        out[name] = pairs.ravel()
    return x, out, width / _NS_PER_MS


# -------------------------------------------------------------------------------------------- the series
def plot_series(site: Site, ctx: Ctx, d: Dataset, variables: list[str], start: pd.Timestamp | None,
                end: pd.Timestamp | None, n: int = N_BINS) -> Series:
    """The drawing data of ``variables`` of dataset ``d`` over ``[start, end)`` (default: all of it).

    Parameters
    ----------
    site, ctx
        The app's site and the caller (the mirror is read only when the policy allows it for ``ctx``).
    d
        A dataset that passed the policy for ``ctx`` (:meth:`~crac_tools.web.site.Site.dataset`).
    variables
        Numeric variables of the dataset.
    start, end
        The range (tz-naive UTC), clipped to the dataset's coverage; None: the coverage's bound.
    n
        At most this many envelope bins.

    Returns
    -------
    Series
    """
    cov0, cov1 = d.coverage
    empty = Series(np.zeros(0), {v: np.zeros(0) for v in variables})
    if cov0 is None or not variables:
        return empty
    lo = max(pd.Timestamp(start), cov0) if start is not None else cov0
    hi = min(pd.Timestamp(end), cov1) if end is not None else cov1
    empty.start, empty.end = lo, hi
    if lo >= hi:
        return empty
    store = mirror_store(site, ctx, d)
    got = _read_mirror(store, variables, lo, hi) if store is not None else None
    if got is not None:
        t0, step, values, records = got
        x, y, step_ms = envelope_grid(t0, step, values, n)
        return Series(x, y, lo, hi, step_ms, records, "mirror")
    t, values = _read_netcdf(site.products(ctx, d, lo, hi), variables, lo, hi)
    x, y, step_ms = envelope_times(t, values, n, lo.value, hi.value)
    return Series(x, y, lo, hi, step_ms, int(t.size), "netcdf")


def _numbers(a: np.ndarray) -> str:
    """A JSON array of ``a``'s numbers (shortest float32/float64 text; NaN and infinities as null)."""
    text = a.astype(str) if a.dtype.kind in "fiu" else a.astype(np.float64).astype(str)
    return "[" + ",".join("null" if s in ("nan", "inf", "-inf") else s for s in text.tolist()) + "]"


def series_json(key: str, s: Series) -> bytes:
    """The JSON body of a zoom answer."""
    head = {"key": key, "start": None if s.start is None else s.start.isoformat(),
            "end": None if s.end is None else s.end.isoformat(),
            "start_ms": None if s.start is None else _ms(s.start), "end_ms": None if s.end is None else _ms(s.end),
            "step_ms": s.step_ms, "records": s.records, "source": s.source}
    x = _numbers(np.round(s.x).astype(np.int64))
    y = ",".join(f"{json.dumps(k)}:{_numbers(v)}" for k, v in s.y.items())
    return (json.dumps(head)[:-1] + f',"x":{x},"y":{{{y}}}}}').encode()


# -------------------------------------------------------------------------------------------- drawing
_ZOOM_JS = """
const S = (window.cracPlot = window.cracPlot || {});
let st = S[src.id];
if (st === undefined) {
  st = S[src.id] = {seq: 0, timer: null, loaded: init, init: init, initial: src.data};
}
const show = (r) => {
  const el = document.getElementById("plot-detail");
  const dur = (ms) => ms < 120e3 ? `${+(ms / 1e3).toPrecision(3)} s` :
    ms < 7200e3 ? `${+(ms / 6e4).toPrecision(3)} min` : `${+(ms / 3.6e6).toPrecision(3)} h`;
  if (el) el.textContent = r.step > 0 ? `min/max envelope of ${dur(r.step)} bins` : "every record";
};
clearTimeout(st.timer);
st.timer = setTimeout(() => {
  const a = xr.start, b = xr.end, w = b - a;
  if (!(w > 0)) return;
  const need = 1.5 * w / n;  // bins hold a whole number of records: up to 1.5 times w / n wide
  const fits = (r) => a >= r.start && b <= r.end && r.step <= need;
  if (fits(st.loaded)) return;
  if (fits(st.init)) { st.seq++; src.data = st.initial; st.loaded = st.init; show(st.init); return; }
  const lo = Math.max(lower, a - w / 2), hi = Math.min(upper, b + w / 2);
  const q = new URLSearchParams();
  for (const v of variables) q.append("variables", v);
  q.set("start", new Date(lo).toISOString());
  q.set("end", new Date(hi).toISOString());
  q.set("n", String(Math.max(1, Math.min(maxbins, Math.round(n * (hi - lo) / w)))));
  const seq = ++st.seq;
  fetch(url + "?" + q.toString(), {credentials: "same-origin", headers: {Accept: "application/json"}})
    .then((r) => r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status)))
    .then((j) => {
      if (seq !== st.seq) return;
      const data = {x: Float64Array.from(j.x)};
      for (const v of variables) data[v] = Float64Array.from(j.y[v], (y) => y === null ? NaN : y);
      src.data = data;
      st.loaded = {start: j.start_ms, end: j.end_ms, step: j.step_ms};
      show(st.loaded);
    })
    .catch((e) => console.warn("crac plot: detail for the zoomed range not loaded:", e));
}, 250);
"""


def bokeh_view(d: Dataset, info: dict, s: Series, variables: list[str], height: int = 200) -> tuple[str, str, list]:
    """The plot as bokeh ``components`` (script, div) and the BokehJS files it needs (served by the app).

    Parameters
    ----------
    d
        The dataset (for its key and title).
    info
        The dataset's attributes (:meth:`~crac_tools.web.datasets.Registry.attrs`), for labels.
    s
        The page's series (:func:`plot_series`).
    variables
        The variables drawn (one panel each).
    height
        Panel height in pixels.
    """
    from bokeh.embed import components
    from bokeh.layouts import gridplot
    from bokeh.models import ColumnDataSource, CustomJS, Range1d
    from bokeh.plotting import figure
    from bokeh.resources import Resources

    lower, upper = _ms(d.coverage[0]), _ms(d.coverage[1])
    a, b = _ms(s.start), _ms(s.end)
    data = {"x": s.x}
    data.update({v: s.y[v].astype(np.float32) if s.y[v].dtype.itemsize > 4 else s.y[v] for v in variables})
    src = ColumnDataSource(data, name="crac-plot-data")
    xr = Range1d(a, b, bounds=(lower, upper), name="crac-plot-time")
    title = f"{d.title}: {s.start:%Y-%m-%d %H:%M} to {s.end:%Y-%m-%d %H:%M} UTC"
    figs = []
    for i, v in enumerate(variables):
        f = figure(x_range=xr, x_axis_type="datetime", height=height, sizing_mode="stretch_width",
                   tools="xpan,xwheel_zoom,xbox_zoom,reset,save", active_drag="xpan", active_scroll="xwheel_zoom",
                   title=title if i == 0 else None, y_axis_label=axis_label(info.get("variables", {}).get(v, {}), v),
                   x_axis_label="time (UTC)" if i == len(variables) - 1 else None)
        f.line("x", v, source=src, line_width=1)
        figs.append(f)
    init = {"start": a, "end": b, "step": s.step_ms}
    cb = CustomJS(args={"xr": xr, "src": src, "variables": list(variables), "n": N_BINS, "maxbins": MAX_BINS,
                        "init": init, "lower": lower, "upper": upper, "url": f"/datasets/{d.key}/plotdata"},
                  code=_ZOOM_JS)
    xr.js_on_change("start", cb)
    xr.js_on_change("end", cb)
    grid = gridplot([[f] for f in figs], sizing_mode="stretch_width", merge_tools=True, toolbar_location="right")
    script, div = components(grid)
    res = Resources(mode="server", root_url="/_bokeh/")
    js = [u for u in res.js_files if u.split("?")[0].endswith("/static/js/bokeh.min.js")]
    return script, div, js


def describe(s: Series) -> str:
    """What the drawn data are, for the page (``"every record"`` or the envelope's bin width)."""
    ms = s.step_ms
    if ms <= 0:
        return "every record"
    width = f"{ms / 1e3:.3g} s" if ms < 120e3 else f"{ms / 6e4:.3g} min" if ms < 7200e3 else f"{ms / 3.6e6:.3g} h"
    return f"min/max envelope of {width} bins"


# -------------------------------------------------------------------------------------------- the route
#: Variables a plot shows when the request names none.
DEFAULT_VARIABLES = 4


def chosen_variables(request: Request, info: dict) -> tuple[list[str], list[str]]:
    """The dataset's plottable variables and those the request picks (``variables=a&variables=b`` or
    ``variables=a,b``; unknown names are ignored; none: the first :data:`DEFAULT_VARIABLES`)."""
    numeric = [v for v in numeric_variables(info) if v != "RECORD"]
    asked = [x for v in request.query_params.getlist("variables") for x in v.split(",")]
    chosen = list(dict.fromkeys(v for v in asked if v in numeric))[:MAX_VARIABLES]
    return numeric, chosen or numeric[:DEFAULT_VARIABLES]


async def plotdata(request: Request) -> Response:
    """``GET /datasets/{key}/plotdata?variables=..&start=..&end=..&n=..``: the envelope of a range, as JSON.

    The dataset goes through the same gate as its plot page (:meth:`~crac_tools.web.site.Site.dataset`): a
    dataset the caller may not see is answered like one that does not exist. ``n`` (bins, default
    :data:`N_BINS`) is clipped to ``1 ... MAX_BINS``. The answer holds ``x`` (ms since 1970), ``y`` (values
    per variable, null where there is no data), ``start``/``end`` of the range read (clipped to the data),
    ``step_ms`` (bin width; 0 when every record is given) and ``records``.
    """
    site, ctx = begin(request)
    d = site.dataset(ctx, request.path_params["key"])
    info = site.attrs(ctx, d)
    _, chosen = chosen_variables(request, info)
    try:
        start = utc(request.query_params.get("start"), "start")
        end = utc(request.query_params.get("end"), "end")
    except ValueError as exc:
        return error(request, 400, str(exc))
    raw = request.query_params.get("n", "").strip()
    if raw and not (raw.isdigit() and len(raw) < 7):
        return error(request, 400, "n: expected a number of bins such as 1000")
    n = int(raw) if raw else N_BINS
    if start is not None and end is not None and end <= start:
        return error(request, 400, "end must be after start")
    n = min(max(n, 1), MAX_BINS)
    s = await run_in_threadpool(plot_series, site, ctx, d, chosen, start, end, n)
    return Response(series_json(d.key, s), media_type="application/json")


__all__ = ["MAX_BINS", "N_BINS", "Series", "bokeh_view", "chosen_variables", "describe", "envelope_grid",
           "envelope_times", "mirror_store", "plot_series", "plotdata", "series_json"]

