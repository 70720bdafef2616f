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
