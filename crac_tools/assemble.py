"""Assemble the records of one station and period from the raw files that overlap it.

Records of several raw files are cut to the period, merged, sorted by time, exact duplicate records
(re-deliveries, overlapping files) dropped, conflicting duplicates (same time, different values)
reported, and the completeness of the period (records expected from the logger interval vs records
found, and the gaps between them) measured and written into the dataset's attrs.

Examples
--------
>>> import numpy as np, pandas as pd, xarray as xr
>>> t = pd.date_range("2024-01-01", periods=4, freq="1min")
>>> a = xr.Dataset({"T": ("time", np.arange(4.0))}, coords={"time": t})
>>> ds, rep = assemble_period([("a.dat", a), ("b.dat", a.isel(time=[3]))],
...                           pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-01 00:05"), "1min")
>>> rep.records_actual, rep.records_expected, rep.exact_duplicates
(4, 5, 1)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from .periods import time_in

#: How many gaps / conflicts are listed by time in attrs (all are counted).
MAX_LISTED = 50


@dataclass
class PeriodReport:
    """What assembling one period found."""

    start: str
    end: str
    records_actual: int = 0
    records_expected: int | None = None
    completeness: float | None = None
    exact_duplicates: int = 0
    conflicting_duplicates: int = 0
    conflict_times: list[str] = field(default_factory=list)
    gap_count: int = 0
    gaps: list[str] = field(default_factory=list)
    off_grid_records: int = 0
    interval: str | None = None

    def to_attrs(self) -> dict:
        """The report as netCDF-safe global attributes (strings and numbers only)."""
        attrs: dict = {
            "records_actual": self.records_actual,
            "exact_duplicates_dropped": self.exact_duplicates,
            "conflicting_duplicates": self.conflicting_duplicates,
            "gap_count": self.gap_count,
            "off_grid_records": self.off_grid_records,
        }
        if self.records_expected is not None:
            attrs["records_expected"] = self.records_expected
        if self.completeness is not None:
            attrs["completeness"] = round(float(self.completeness), 6)
        if self.interval:
            attrs["time_interval"] = self.interval
        if self.gaps:
            attrs["gaps"] = _listing(self.gaps, self.gap_count)
        if self.conflict_times:
            attrs["conflicting_duplicate_times"] = _listing(self.conflict_times, self.conflicting_duplicates)
        return attrs

    def as_dict(self) -> dict:
        """Plain-dict form for run summaries."""
        return asdict(self)


def _listing(items: list[str], total: int) -> str:
    text = "; ".join(items)
    if total > len(items):
        text += f"; ... and {total - len(items)} more"
    return text


def _iso(t: np.datetime64 | pd.Timestamp) -> str:
    return pd.Timestamp(t).isoformat()


def infer_interval(times: np.ndarray) -> pd.Timedelta | None:
    """The most common positive step of a sorted datetime64 array, or None with fewer than 2 records.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=5, freq="30s").values
    >>> infer_interval(t)
    Timedelta('0 days 00:00:30')
    """
    if len(times) < 2:
        return None
    d = np.diff(times.astype("datetime64[ns]").astype(np.int64))
    d = d[d > 0]
    if not len(d):
        return None
    vals, counts = np.unique(d, return_counts=True)
    return pd.Timedelta(int(vals[np.argmax(counts)]), unit="ns")


def _rows_equal(ds: xr.Dataset, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Row-wise equality (NaN equals NaN) of records ``i`` and ``j`` over all time variables."""
    eq = np.ones(len(i), dtype=bool)
    for var in ds.data_vars.values():
        if "time" not in var.dims:
            continue
        a = var.values
        x, y = a[i], a[j]
        same = x == y
        if a.dtype.kind in "fc":
            same |= np.isnan(x) & np.isnan(y)
        elif a.dtype.kind in "mM":
            same |= np.isnat(x) & np.isnat(y)
        elif a.dtype.kind == "O":  # strings; NaN where a part lacked the variable
            same |= pd.isna(x) & pd.isna(y)
        if same.ndim > 1:
            same = same.reshape(len(i), -1).all(axis=1)
        eq &= same
    return eq


def merge_records(parts: list[xr.Dataset], report: PeriodReport) -> xr.Dataset:
    """Concatenate datasets in delivery order, sort by time, drop exact duplicates, resolve conflicts.

    Where records share a time but differ, the one from the latest-delivered part is kept and the
    conflict is counted and listed in ``report``.
    """
    parts = [p for p in parts if p.sizes.get("time", 0)]
    if not parts:
        return xr.Dataset()
    if len(parts) == 1:
        ds = parts[0]
    else:
        ds = xr.concat(parts, dim="time", data_vars="all", coords="minimal", compat="override",
                       join="outer", combine_attrs="override")
    times = ds["time"].values
    if len(times) > 1 and not (np.diff(times.astype(np.int64)) >= 0).all():
        order = np.argsort(times, kind="stable")
        ds = ds.isel(time=order)
        times = ds["time"].values
    if len(times) > 1:
        dup = times[1:] == times[:-1]
        if dup.any():
            # keep the last record of every time (the latest delivery); compare the others with it
            keep = ~pd.Index(times).duplicated(keep="last")
            last_pos = pd.Series(np.arange(len(times))).groupby(times).transform("max").to_numpy()
            dropped = np.flatnonzero(~keep)
            equal = _rows_equal(ds, dropped, last_pos[dropped])
            report.exact_duplicates = int(equal.sum())
            conflict_times = np.unique(times[dropped[~equal]])
            report.conflicting_duplicates = len(conflict_times)
            report.conflict_times = [_iso(t) for t in conflict_times[:MAX_LISTED]]
            ds = ds.isel(time=np.flatnonzero(keep))
    return ds


def completeness(times: np.ndarray, start: pd.Timestamp, end: pd.Timestamp, interval: pd.Timedelta,
                 report: PeriodReport) -> None:
    """Fill ``report`` with expected/actual records, gaps and off-grid records for a sorted time axis."""
    step = np.int64(interval.value)
    t0 = np.int64(pd.Timestamp(start).value)
    t1 = np.int64(pd.Timestamp(end).value)
    report.interval = _fmt_td(interval)
    report.records_expected = int((t1 - t0) // step)
    report.records_actual = len(times)
    report.completeness = (min(1.0, len(times) / report.records_expected)
                           if report.records_expected else None)
    ti = times.astype("datetime64[ns]").astype(np.int64)
    report.off_grid_records = int(np.count_nonzero((ti - t0) % step))
    # gaps: missing slots before the first record, between records, after the last record
    edges = np.concatenate(([t0 - step], ti, [t1]))
    d = np.diff(edges)
    where = np.flatnonzero(d > step + step // 2)
    report.gap_count = len(where)
    gaps = []
    for k in where[:MAX_LISTED]:
        g0 = edges[k] + step
        g1 = edges[k + 1]
        gaps.append(f"{_iso(pd.Timestamp(int(g0)))}/{_iso(pd.Timestamp(int(g1)))}")
    report.gaps = gaps


def _fmt_td(td: pd.Timedelta) -> str:
    s = td.total_seconds()
    if s >= 1 and s == int(s):
        s = int(s)
        for unit, n in (("d", 86400), ("h", 3600), ("min", 60)):
            if s % n == 0:
                return f"{s // n}{unit}"
        return f"{s}s"
    return f"{td.value // 1_000_000}ms" if td.value % 1_000_000 == 0 else f"{td.value}ns"


def assemble_period(
    parts: list[tuple[str, xr.Dataset]],
    start: pd.Timestamp,
    end: pd.Timestamp,
    interval: str | pd.Timedelta | None = None,
) -> tuple[xr.Dataset, PeriodReport]:
    """Merge the records of ``parts`` that fall in ``[start, end)`` into one clean dataset.

    Parameters
    ----------
    parts
        ``(label, dataset)`` pairs in delivery order (oldest first); later deliveries win conflicts.
    start, end
        The period (UTC, tz-naive).
    interval
        The logger's record interval; inferred from the data when ``None``.

    Returns
    -------
    (xarray.Dataset, PeriodReport)
        The period's records, sorted and de-duplicated, with the report's figures in ``attrs``.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=3, freq="1h")
    >>> a = xr.Dataset({"T": ("time", [1.0, 2.0, 3.0])}, coords={"time": t})
    >>> b = xr.Dataset({"T": ("time", [9.0])}, coords={"time": t[1:2]})
    >>> ds, rep = assemble_period([("a", a), ("b", b)], t[0], t[0] + pd.Timedelta("1D"), "1h")
    >>> ds["T"].values.tolist(), rep.conflicting_duplicates, rep.gap_count
    ([1.0, 9.0, 3.0], 1, 1)
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    report = PeriodReport(start=_iso(start), end=_iso(end))
    cut = []
    for _label, ds in parts:
        if "time" not in ds.dims:
            continue
        mask = time_in(ds["time"].values, start, end)
        if mask.all():
            cut.append(ds)
        elif mask.any():
            cut.append(ds.isel(time=np.flatnonzero(mask)))
    merged = merge_records(cut, report)
    times = merged["time"].values if "time" in merged.coords else np.array([], "datetime64[ns]")
    td = pd.Timedelta(interval) if interval is not None else infer_interval(times)
    if td is not None:
        completeness(times, start, end, td, report)
    else:
        report.records_actual = len(times)
    merged = merged.copy(deep=False)
    merged.attrs = report.to_attrs()
    return merged, report
