"""Tests of crac_tools.assemble: merge, de-duplication, conflicts, gaps and completeness of one period."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from crac_tools.assemble import MAX_LISTED, assemble_period, infer_interval

T0 = pd.Timestamp("2024-01-01")
END = T0 + pd.Timedelta(minutes=10)


def _times(*minutes: float) -> np.ndarray:
    return (np.datetime64("2024-01-01T00:00", "ns") + (np.asarray(minutes) * 60e9).astype("timedelta64[ns]"))


def _ds(minutes, temp, **extra) -> xr.Dataset:
    data = {"T": ("time", np.asarray(temp, dtype=float))}
    data.update({k: ("time", v) for k, v in extra.items()})
    return xr.Dataset(data, coords={"time": _times(*minutes)})


def _tlist(ds: xr.Dataset) -> list[str]:
    return [pd.Timestamp(t).strftime("%H:%M:%S") for t in ds["time"].values]


def test_overlap_merge_drops_exact_duplicates():
    a = _ds([0, 1, 2, 3], [0.0, 1.0, 2.0, 3.0])
    b = _ds([2, 3, 4, 5], [2.0, 3.0, 4.0, 5.0])
    ds, rep = assemble_period([("a", a), ("b", b)], T0, END, "1min")
    assert _tlist(ds) == ["00:00:00", "00:01:00", "00:02:00", "00:03:00", "00:04:00", "00:05:00"]
    assert ds["T"].values.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert rep.exact_duplicates == 2
    assert rep.conflicting_duplicates == 0 and rep.conflict_times == []
    assert ds.attrs["exact_duplicates_dropped"] == 2
    assert "conflicting_duplicate_times" not in ds.attrs


def test_conflicting_duplicates_latest_delivery_wins():
    a = _ds([0, 1, 2, 3], [0.0, 1.0, 2.0, 3.0])
    b = _ds([1, 2], [10.0, 2.0])  # 00:01 differs, 00:02 is an exact duplicate
    c = _ds([3], [30.0])
    ds, rep = assemble_period([("a", a), ("b", b), ("c", c)], T0, END, "1min")
    assert ds["T"].values.tolist() == [0.0, 10.0, 2.0, 30.0]
    assert rep.exact_duplicates == 1
    assert rep.conflicting_duplicates == 2
    assert rep.conflict_times == ["2024-01-01T00:01:00", "2024-01-01T00:03:00"]
    assert ds.attrs["conflicting_duplicates"] == 2
    assert ds.attrs["conflicting_duplicate_times"] == "2024-01-01T00:01:00; 2024-01-01T00:03:00"
    # delivery order decides, not the order of times: swapping the parts keeps a's values
    ds2, rep2 = assemble_period([("c", c), ("b", b), ("a", a)], T0, END, "1min")
    assert ds2["T"].values.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert rep2.conflicting_duplicates == 2


def test_conflict_listing_is_capped_but_counted():
    n = MAX_LISTED + 5
    t = np.arange(n, dtype=float)
    a = _ds(t, t)
    b = _ds(t, t + 100)
    ds, rep = assemble_period([("a", a), ("b", b)], T0, T0 + pd.Timedelta(minutes=n), "1min")
    assert rep.conflicting_duplicates == n
    assert len(rep.conflict_times) == MAX_LISTED
    assert ds.attrs["conflicting_duplicate_times"].endswith("; ... and 5 more")
    assert ds["T"].values.tolist() == (t + 100).tolist()


def test_unsorted_input_is_sorted():
    a = _ds([3, 0, 2, 1], [3.0, 0.0, 2.0, 1.0], label=np.array(["d", "a", "c", "b"]))
    ds, rep = assemble_period([("a", a)], T0, END, "1min")
    assert _tlist(ds) == ["00:00:00", "00:01:00", "00:02:00", "00:03:00"]
    assert ds["T"].values.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert ds["label"].values.tolist() == ["a", "b", "c", "d"]
    assert rep.exact_duplicates == 0


def test_gaps_leading_middle_trailing():
    a = _ds([2, 3, 6, 7], [1, 2, 3, 4])
    ds, rep = assemble_period([("a", a)], T0, END, "1min")
    assert rep.gap_count == 3
    assert rep.gaps == [
        "2024-01-01T00:00:00/2024-01-01T00:02:00",
        "2024-01-01T00:04:00/2024-01-01T00:06:00",
        "2024-01-01T00:08:00/2024-01-01T00:10:00",
    ]
    assert ds.attrs["gaps"] == "; ".join(rep.gaps)
    assert ds.attrs["gap_count"] == 3


def test_no_gap_when_complete_and_single_missing_slots():
    ds, rep = assemble_period([("a", _ds(range(10), range(10)))], T0, END, "1min")
    assert (rep.gap_count, rep.gaps, rep.records_actual, rep.records_expected, rep.completeness) == (
        0, [], 10, 10, 1.0)
    assert "gaps" not in ds.attrs
    # one missing record at the start, in the middle and at the end
    _, rep = assemble_period([("a", _ds([1, 2, 3, 5, 6, 7, 8], range(7)))], T0, END, "1min")
    assert rep.gaps == ["2024-01-01T00:00:00/2024-01-01T00:01:00", "2024-01-01T00:04:00/2024-01-01T00:05:00",
                        "2024-01-01T00:09:00/2024-01-01T00:10:00"]


def test_completeness_is_actual_over_expected():
    ds, rep = assemble_period([("a", _ds([0, 1, 2, 5], range(4)))], T0, END, "1min")
    assert (rep.records_actual, rep.records_expected) == (4, 10)
    assert rep.completeness == pytest.approx(0.4)
    assert ds.attrs["completeness"] == pytest.approx(0.4)
    assert ds.attrs["records_expected"] == 10 and ds.attrs["records_actual"] == 4
    assert ds.attrs["time_interval"] == "1min"
    assert rep.interval == "1min"
    # 30-second interval over 10 minutes: 20 expected
    _, rep = assemble_period([("a", _ds([0, 0.5, 1], range(3)))], T0, END, pd.Timedelta("30s"))
    assert (rep.records_expected, rep.interval) == (20, "30s")
    assert rep.completeness == pytest.approx(3 / 20)


def test_off_grid_records_counted():
    a = _ds([0, 1, 1.5, 2, 3.25], range(5))
    ds, rep = assemble_period([("a", a)], T0, END, "1min")
    assert rep.off_grid_records == 2
    assert ds.attrs["off_grid_records"] == 2
    assert rep.records_actual == 5


def test_interval_inferred_when_none():
    a = _ds([0, 2, 4, 6, 10, 12], range(6))
    _, rep = assemble_period([("a", a)], T0, T0 + pd.Timedelta(minutes=14), None)
    assert rep.interval == "2min"
    assert rep.records_expected == 7
    assert rep.gaps == ["2024-01-01T00:08:00/2024-01-01T00:10:00"]


def test_interval_not_inferable_from_one_record():
    ds, rep = assemble_period([("a", _ds([3], [1.0]))], T0, END, None)
    assert rep.records_actual == 1
    assert rep.records_expected is None and rep.completeness is None and rep.interval is None
    assert "records_expected" not in ds.attrs and "completeness" not in ds.attrs


def test_records_outside_period_are_cut():
    a = _ds([-2, -1, 0, 5, 9, 10, 11], [-2, -1, 0, 5, 9, 10, 11])
    ds, rep = assemble_period([("a", a)], T0, END, "1min")
    assert _tlist(ds) == ["00:00:00", "00:05:00", "00:09:00"]
    assert ds["T"].values.tolist() == [0.0, 5.0, 9.0]
    assert rep.records_actual == 3
    # a part entirely outside contributes nothing
    ds, rep = assemble_period([("a", _ds([20, 21], [1, 2]))], T0, END, "1min")
    assert rep.records_actual == 0 and ds.sizes.get("time", 0) == 0


def test_empty_input():
    ds, rep = assemble_period([], T0, END, "1min")
    assert (rep.records_actual, rep.records_expected, rep.completeness) == (0, 10, 0.0)
    assert rep.gaps == ["2024-01-01T00:00:00/2024-01-01T00:10:00"] and rep.gap_count == 1
    assert ds.attrs["records_actual"] == 0
    assert (rep.start, rep.end) == ("2024-01-01T00:00:00", "2024-01-01T00:10:00")
    ds, rep = assemble_period([], T0, END, None)
    assert rep.records_actual == 0 and rep.records_expected is None
    # a dataset without a time dimension is skipped
    ds, rep = assemble_period([("meta", xr.Dataset({"x": 1.0}))], T0, END, "1min")
    assert rep.records_actual == 0


def test_string_and_datetime_variables_survive_merge():
    when = _times(100, 101, 102, 103)
    a = _ds([0, 1, 2], [0, 1, 2], flag=np.array(["ok", "ok", "bad"]), when=when[:3],
            note=np.array(["x", None, "z"], dtype=object))
    b = _ds([2, 3], [2, 3], flag=np.array(["bad", "ok"]), when=when[2:4],
            note=np.array(["z", "w"], dtype=object))
    ds, rep = assemble_period([("a", a), ("b", b)], T0, END, "1min")
    assert ds["flag"].values.tolist() == ["ok", "ok", "bad", "ok"]
    assert ds["when"].dtype.kind == "M"
    assert ds["when"].values.tolist() == when.tolist()
    note = ds["note"].values.tolist()
    assert note[0] == "x" and pd.isna(note[1]) and note[2:] == ["z", "w"]  # xarray may turn None into NaN
    assert rep.exact_duplicates == 1 and rep.conflicting_duplicates == 0
    # a differing string is a conflict
    c = _ds([1], [1], flag=np.array(["bad"]), when=when[1:2], note=np.array([None], dtype=object))
    ds, rep = assemble_period([("a", a), ("c", c)], T0, END, "1min")
    assert ds["flag"].values.tolist() == ["ok", "bad", "bad"]
    assert rep.conflict_times == ["2024-01-01T00:01:00"]


def test_nan_and_nat_equal_themselves_for_duplicates():
    when = np.array(["NaT", "2024-02-01"], "datetime64[ns]")
    a = _ds([0, 1], [np.nan, 1.0], when=when, dt=np.array(["NaT", 5], "timedelta64[s]"))
    ds, rep = assemble_period([("a", a), ("b", a.copy(deep=True))], T0, END, "1min")
    assert rep.exact_duplicates == 2 and rep.conflicting_duplicates == 0
    assert np.isnan(ds["T"].values[0]) and ds["T"].values[1] == 1.0
    # NaN against a number is a conflict
    b = _ds([0], [5.0], when=when[:1], dt=np.array(["NaT"], "timedelta64[s]"))
    _, rep = assemble_period([("a", a), ("b", b)], T0, END, "1min")
    assert rep.conflicting_duplicates == 1 and rep.exact_duplicates == 0


def test_missing_variable_nan_counts_as_equal():
    # a has a string column that b and c lack: b and c re-deliver the same records
    a = _ds([0], [0.0], flag=np.array(["ok"]))
    b = _ds([1, 2], [1.0, 2.0])
    ds, rep = assemble_period([("a", a), ("b", b), ("c", b.copy())], T0, END, "1min")
    assert rep.exact_duplicates == 2 and rep.conflicting_duplicates == 0
    assert ds["flag"].values[0] == "ok" and ds["T"].values.tolist() == [0.0, 1.0, 2.0]


def test_multidimensional_variable_rows_compared_whole():
    prof = np.arange(6, dtype=float).reshape(3, 2)
    a = xr.Dataset({"P": (("time", "z"), prof)}, coords={"time": _times(0, 1, 2), "z": [10, 20]})
    b = a.isel(time=[1, 2]).copy(deep=True)
    b["P"].values[1, 1] = 99.0  # one level of 00:02 differs
    ds, rep = assemble_period([("a", a), ("b", b)], T0, END, "1min")
    assert (rep.exact_duplicates, rep.conflicting_duplicates) == (1, 1)
    assert rep.conflict_times == ["2024-01-01T00:02:00"]
    assert ds["P"].values.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 99.0]]


def test_duplicates_inside_one_file():
    a = _ds([0, 1, 1, 2], [0.0, 1.0, 1.0, 2.0])
    ds, rep = assemble_period([("a", a)], T0, END, "1min")
    assert rep.exact_duplicates == 1 and ds.sizes["time"] == 3


def test_inputs_not_mutated():
    a = _ds([3, 0, 1], [3.0, 0.0, 1.0])
    a.attrs = {"source": "a.dat"}
    a["T"].attrs = {"units": "degC"}
    b = _ds([1, 2], [10.0, 2.0])
    b.attrs = {"source": "b.dat"}
    a0, b0 = a.copy(deep=True), b.copy(deep=True)
    ds, _ = assemble_period([("a", a), ("b", b)], T0, END, "1min")
    xr.testing.assert_identical(a, a0)
    xr.testing.assert_identical(b, b0)
    assert a.attrs == {"source": "a.dat"} and b.attrs == {"source": "b.dat"}
    assert "records_actual" in ds.attrs
    # the single-part path (no copy by concat) must not leak the report into the input either
    c = _ds([0, 1], [0.0, 1.0])
    c.attrs = {"source": "c.dat"}
    ds, _ = assemble_period([("c", c)], T0, END, "1min")
    assert c.attrs == {"source": "c.dat"}
    assert ds.attrs["records_actual"] == 2


def test_infer_interval():
    t = pd.date_range("2024-01-01", periods=5, freq="30s").values
    assert infer_interval(t) == pd.Timedelta(seconds=30)
    # most common positive step wins; duplicates (zero steps) are ignored
    t = _times(0, 1, 2, 2, 2, 2, 3, 5, 10)
    assert infer_interval(t) == pd.Timedelta(minutes=1)
    assert infer_interval(_times(0)) is None
    assert infer_interval(_times()) is None
    assert infer_interval(_times(4, 4, 4)) is None
    # resolution of the input does not matter
    assert infer_interval(_times(0, 1, 2).astype("datetime64[s]")) == pd.Timedelta(minutes=1)
