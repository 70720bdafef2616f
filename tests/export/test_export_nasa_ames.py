"""NASA Ames export: the FFI follows the data's shape and `nappy` reads back identical values."""

from __future__ import annotations

import numpy as np
import pytest
from export_helpers import assert_ascii_clean, make_product, make_profile, same

from crac_tools.conventions.naming import parse_name
from crac_tools.export.nasa_ames import choose_ffi, write_nasa_ames

nappy = pytest.importorskip("nappy")


def _read(path):
    f = nappy.openNAFile(str(path))
    f.readData()
    return f


def _values(raw, scale, miss):
    raw = np.array(raw, dtype="f8")
    raw[raw == miss] = np.nan
    return raw * scale


def test_1001_round_trip(tmp_path):
    ds = make_product()
    path = write_nasa_ames(ds, tmp_path, source="bravo_met.nc")
    assert_ascii_clean(path)
    assert parse_name(path.name)["convention"] == "indoex" and path.suffix == ".na"
    f = _read(path)
    assert f.FFI == 1001
    names = [v.split(":")[0] for v in f.VNAME]
    assert names == ["RECORD", "AirTC_Avg", "RH", "BP_mbar", "flux", "tiny", "diag"]
    for name, raw, scale, miss in zip(names, f.V, f.VSCAL, f.VMISS, strict=True):
        assert same(_values(raw, scale, miss), ds[name].values), name
    sec = (ds["time"].values - np.datetime64("2024-06-01")) / np.timedelta64(1, "s")
    np.testing.assert_array_equal(f.X, sec)
    assert max(f.X) > 86400
    assert f.DATE == [2024, 6, 1]
    scom = "\n".join(f.SCOM)
    assert "product_version: 2" in scom and "source_file: TOA5_bravo.Met_2024_06_01_0000.dat 1ce3" in scom
    assert f.DX == [0.0]  # the gap makes the interval irregular


def test_long_lists_wrap_within_132_characters(tmp_path):
    ds = make_product(days=1)
    for i in range(30):
        ds[f"extra_variable_{i}"] = ds["AirTC_Avg"] + i
    path = write_nasa_ames(ds, tmp_path)
    assert_ascii_clean(path)
    f = _read(path)
    assert len(f.V) == 37
    for name, raw, scale, miss in zip((v.split(":")[0] for v in f.VNAME), f.V, f.VSCAL, f.VMISS, strict=True):
        assert same(_values(raw, scale, miss), ds[name].values), name


def test_1010_with_auxiliary_coordinates(tmp_path):
    ds = make_product(days=1)
    ds = ds.assign_coords(lat_track=("time", np.round(np.linspace(47, 48, ds.sizes["time"]), 4)))
    assert choose_ffi(ds[["RH"]].assign_coords(lat_track=ds.lat_track)) == 1010
    path = write_nasa_ames(ds, tmp_path, variables=["RH", "AirTC_Avg"])
    assert_ascii_clean(path)
    f = _read(path)
    assert f.FFI == 1010
    assert same(_values(f.A[0], f.ASCAL[0], f.AMISS[0]), ds["lat_track"].values)
    assert same(_values(f.V[0], f.VSCAL[0], f.VMISS[0]), ds["RH"].values)


def test_2010_profiles(tmp_path):
    ds = make_profile()
    path = write_nasa_ames(ds, tmp_path)
    assert_ascii_clean(path)
    f = _read(path)
    assert f.FFI == 2010
    np.testing.assert_array_equal(f.X[1], ds["altitude"].values)
    assert f.DX[1] == 150.0
    o3 = _values(f.V[0], f.VSCAL[0], f.VMISS[0])
    assert same(o3, ds["O3"].values)
    assert same(_values(f.A[0], f.ASCAL[0], f.AMISS[0]), ds["ps"].values)
    np.testing.assert_array_equal(np.diff(f.X[0]), 3600.0)


def test_2110_profiles_with_varying_levels(tmp_path):
    ds = make_profile(varying=True)
    path = write_nasa_ames(ds, tmp_path)
    assert_ascii_clean(path)
    f = _read(path)
    assert f.FFI == 2110
    z = ds["z_actual"].values
    counts = np.isfinite(z).sum(axis=1)
    assert f.A[0] == list(counts.astype(float))
    for i in range(ds.sizes["time"]):
        np.testing.assert_array_equal(f.X[i][1], z[i, :counts[i]])
        assert same(_values(f.V[0][i], f.VSCAL[0], f.VMISS[0]), ds["O3"].values[i, :counts[i]])
    assert same(_values(f.A[1], f.ASCAL[1], f.AMISS[1]), ds["ps"].values)


def test_wide_profiles_wrap(tmp_path):
    ds = make_profile(nt=2, nz=120)
    path = write_nasa_ames(ds, tmp_path)
    assert_ascii_clean(path)
    f = _read(path)
    assert same(_values(f.V[0], f.VSCAL[0], f.VMISS[0]), ds["O3"].values)
    np.testing.assert_array_equal(f.X[1], ds["altitude"].values)
