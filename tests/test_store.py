"""Products and the zarr mirror: the direct chunk writer writes exactly what zarr writes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from zarr.core.sync import sync

from crac_tools import store as S

T0 = pd.Timestamp("2024-01-01")
VARS = {"x": "<f4", "y": "<f8", "t": "<M8[ns]"}


def _mirror(path):
    layout = S.MirrorLayout(T0, 48, pd.Timedelta("1h"), 24, {})
    return S.prepare_mirror(path, layout, VARS, {"x": {"units": "K"}}, {})


def _day(values_y):
    t = pd.date_range(T0, periods=24, freq="1h").as_unit("ns")
    return xr.Dataset({"x": ("time", np.arange(24, dtype="f4") / 3), "y": ("time", values_y),
                       "t": ("time", t.values + np.timedelta64(5, "s"))}, coords={"time": t})


def test_direct_chunks_equal_zarr_chunks(tmp_path):
    a = _mirror(tmp_path / "a.zarr")
    _mirror(tmp_path / "b.zarr")
    ds = _day(np.linspace(-1, 1, 24))
    S.write_mirror_region(tmp_path / "a.zarr", a, ds, T0, T0 + pd.Timedelta("1D"))
    region = {"x": ds["x"].values, "y": ds["y"].values, "t": ds["t"].values.astype("datetime64[ns]").view("i8")}
    sync(S._write_region(tmp_path / "b.zarr", region, 0, 24))  # zarr's own writer
    for name in VARS:
        assert (tmp_path / "a.zarr" / name / "c" / "0").read_bytes() == \
            (tmp_path / "b.zarr" / name / "c" / "0").read_bytes(), name
    got = xr.open_zarr(tmp_path / "a.zarr", consolidated=False).load()
    np.testing.assert_array_equal(got["x"].values[:24], ds["x"].values)
    assert np.isnan(got["x"].values[24:]).all()
    assert got["t"].values[3] == np.datetime64("2024-01-01T03:00:05")
    assert got["x"].attrs["units"] == "K"


def test_all_fill_chunk_is_removed(tmp_path):
    lay = _mirror(tmp_path / "m.zarr")
    S.write_mirror_region(tmp_path / "m.zarr", lay, _day(np.ones(24)), T0, T0 + pd.Timedelta("1D"))
    assert (tmp_path / "m.zarr" / "y" / "c" / "0").exists()
    S.write_mirror_region(tmp_path / "m.zarr", lay, _day(np.full(24, np.nan)), T0, T0 + pd.Timedelta("1D"))
    assert not (tmp_path / "m.zarr" / "y" / "c" / "0").exists()
    got = xr.open_zarr(tmp_path / "m.zarr", consolidated=False)
    assert got["y"].isnull().all() and float(got["x"][1]) == pytest.approx(1 / 3)


def test_unusual_array_layout_falls_back_to_zarr(tmp_path):
    lay = _mirror(tmp_path / "m.zarr")
    meta_path = tmp_path / "m.zarr" / "x" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["codecs"][1]["configuration"]["cname"] = "zstd"
    meta["codecs"].insert(0, {"name": "transpose", "configuration": {"order": [0]}})
    meta_path.write_text(json.dumps(meta))
    assert S._chunk_format(tmp_path / "m.zarr" / "x", 24) is None
    ds = _day(np.ones(24))
    S.write_mirror_region(tmp_path / "m.zarr", lay, ds, T0, T0 + pd.Timedelta("1D"))
    got = xr.open_zarr(tmp_path / "m.zarr", consolidated=False).load()
    np.testing.assert_array_equal(got["x"].values[:24], ds["x"].values)
    np.testing.assert_array_equal(got["y"].values[:24], np.ones(24))


def test_time_grid_is_written_and_extended(tmp_path):
    lay = _mirror(tmp_path / "m.zarr")
    assert (tmp_path / "m.zarr" / "time" / "c" / "1").exists()
    longer = S.MirrorLayout(T0, 96, pd.Timedelta("1h"), 24, dict(lay.variables))
    S.prepare_mirror(tmp_path / "m.zarr", longer, {}, {}, {})
    got = xr.open_zarr(tmp_path / "m.zarr", consolidated=False)
    expected = pd.date_range(T0, periods=96, freq="1h").as_unit("ns").values
    np.testing.assert_array_equal(got["time"].values, expected)
    assert S.read_layout(tmp_path / "m.zarr").length == 96


def test_chunk_length_groups_slow_loggers():
    assert S.chunk_length("day", pd.Timedelta("1s")) == 86400  # one day a chunk
    assert S.chunk_length("hour", pd.Timedelta("1s")) == 3600  # one hour a chunk
    assert S.chunk_length("day", pd.Timedelta("1min")) == 60 * 1440  # 60 days a chunk
    assert S.chunk_length("day", pd.Timedelta("30min")) == 1800 * 48
    assert S.chunk_length("week", pd.Timedelta("10min")) == 86 * 1008  # the fewest weeks reaching 86400
    with pytest.raises(S.StoreError, match="does not divide"):
        S.chunk_length("hour", pd.Timedelta("7min"))


def _grouped(path, days=3):
    """A mirror of 1-minute data, 3 days long, in one 60-day chunk (the last chunk is partial)."""
    layout = S.MirrorLayout(T0, days * 1440, pd.Timedelta("1min"), S.chunk_length("day", pd.Timedelta("1min")), {})
    return S.prepare_mirror(path, layout, {"x": "<f4", "t": "<M8[ns]"}, {}, {})


def _minutes(day, values):
    t = pd.date_range(T0 + pd.Timedelta(days=day), periods=1440, freq="1min").as_unit("ns")
    return xr.Dataset({"x": ("time", np.asarray(values, "f4")), "t": ("time", t.values)}, coords={"time": t})


def test_shared_chunks_come_back_as_pieces_and_merge(tmp_path):
    path = tmp_path / "m.zarr"
    lay = _grouped(path)
    assert lay.chunk == 86400 and lay.length == 3 * 1440
    day = [_minutes(d, np.arange(1440) + 10_000 * d) for d in range(3)]
    pieces = []
    for d in (0, 2):  # day 1 comes in a later run
        got = S.write_mirror_region(path, lay, day[d], T0 + pd.Timedelta(days=d), T0 + pd.Timedelta(days=d + 1))
        assert [(p.start, p.stop) for p in got] == [(d * 1440, (d + 1) * 1440)]
        pieces += got
    assert not (path / "x" / "c" / "0").exists()  # nothing written by the period writers
    assert S.write_mirror_pieces(path, lay, pieces) == 1
    m = xr.open_zarr(path, consolidated=False).load()
    assert m.sizes["time"] == 3 * 1440
    np.testing.assert_array_equal(m["x"].values[:1440], day[0]["x"].values)
    assert np.isnan(m["x"].values[1440:2880]).all()
    np.testing.assert_array_equal(m["x"].values[2880:], day[2]["x"].values)
    assert m["t"].values[2880] == np.datetime64("2024-01-03T00:00")
    # a later run adds day 1: days 0 and 2 are kept (read from the chunk and merged)
    more = S.write_mirror_region(path, lay, day[1], T0 + pd.Timedelta(days=1), T0 + pd.Timedelta(days=2))
    S.write_mirror_pieces(path, lay, more)
    m = xr.open_zarr(path, consolidated=False).load()
    np.testing.assert_array_equal(m["x"].values, np.concatenate([d["x"].values for d in day]))
    assert not np.isnat(m["t"].values).any()


def test_merged_chunk_bytes_equal_zarr_and_grid_extends(tmp_path):
    a, b = _grouped(tmp_path / "a.zarr"), _grouped(tmp_path / "b.zarr")
    day = _minutes(0, np.linspace(0, 1, 1440))
    S.write_mirror_pieces(tmp_path / "a.zarr", a,
                          S.write_mirror_region(tmp_path / "a.zarr", a, day, T0, T0 + pd.Timedelta("1D")))
    full = np.full(a.chunk, np.nan, "f4")
    full[:1440] = day["x"].values
    sync(S._write_region(tmp_path / "b.zarr", {"x": full[:b.length]}, 0, b.length))  # zarr's own writer
    assert (tmp_path / "a.zarr/x/c/0").read_bytes() == (tmp_path / "b.zarr/x/c/0").read_bytes()
    # extending the grid by two days keeps the partial chunk's data and fills in the time axis
    longer = S.MirrorLayout(T0, 5 * 1440, a.interval, a.chunk, dict(a.variables))
    S.prepare_mirror(tmp_path / "a.zarr", longer, {}, {}, {})
    m = xr.open_zarr(tmp_path / "a.zarr", consolidated=False).load()
    assert m.sizes["time"] == 5 * 1440 and m["time"].values[-1] == np.datetime64("2024-01-05T23:59")
    np.testing.assert_array_equal(m["x"].values[:1440], day["x"].values)
    assert np.isnan(m["x"].values[1440:]).all()


def test_period_spanning_whole_and_shared_chunks(tmp_path):
    """A week of hourly-chunked data written by day periods: whole chunks direct, edges as pieces."""
    path = tmp_path / "m.zarr"
    layout = S.MirrorLayout(T0, 48, pd.Timedelta("1h"), 5, {})  # chunks of 5 h: days share chunks
    lay = S.prepare_mirror(path, layout, {"x": "<f4"}, {}, {})
    t = pd.date_range(T0 + pd.Timedelta("1D"), periods=24, freq="1h").as_unit("ns")
    ds = xr.Dataset({"x": ("time", np.arange(24, dtype="f4"))}, coords={"time": t})
    pieces = S.write_mirror_region(path, lay, ds, t[0], t[0] + pd.Timedelta("1D"))
    assert [(p.start, p.stop) for p in pieces] == [(24, 25), (45, 48)]
    assert sorted(int(f.name) for f in (path / "x" / "c").iterdir()) == [5, 6, 7, 8]
    S.write_mirror_pieces(path, lay, pieces)
    m = xr.open_zarr(path, consolidated=False).load()
    np.testing.assert_array_equal(m["x"].values[24:], np.arange(24, dtype="f4"))
    assert np.isnan(m["x"].values[:24]).all()


def test_pieces_without_a_variable_keep_its_stored_values(tmp_path):
    """A chunk fully covered by pieces, one of which lacks a variable (added later in the run): the slots
    that piece covers keep the variable's stored values, never uninitialised memory."""
    path = tmp_path / "m.zarr"
    layout = S.MirrorLayout(T0, 2 * 1440, pd.Timedelta("1min"), 2 * 1440, {})  # two days make one chunk
    lay = S.prepare_mirror(path, layout, {"x": "<f4", "t": "<M8[ns]"}, {}, {})
    day = [_minutes(d, np.full(1440, 5.0 + d)) for d in range(2)]
    for d in range(2):
        S.write_mirror_pieces(path, lay, S.write_mirror_region(path, lay, day[d], T0 + pd.Timedelta(days=d),
                                                               T0 + pd.Timedelta(days=d + 1)))
    first = S.write_mirror_region(path, lay, day[0], T0, T0 + pd.Timedelta("1D"))
    second = S.write_mirror_region(path, lay, day[1], T0 + pd.Timedelta("1D"), T0 + pd.Timedelta("2D"))
    del first[0].values["x"]  # the first period's piece does not carry x
    second[0].values["x"][:] = 9.0
    S.write_mirror_pieces(path, lay, first + second)
    m = xr.open_zarr(path, consolidated=False).load()
    np.testing.assert_array_equal(m["x"].values[:1440], np.full(1440, 5.0, "f4"))
    np.testing.assert_array_equal(m["x"].values[1440:], np.full(1440, 9.0, "f4"))
