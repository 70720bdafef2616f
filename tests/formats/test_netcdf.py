"""netCDF pass-through reader (CF / ARM conventions)."""

from __future__ import annotations

import warnings

import h5py
import netCDF4
import numpy as np
import pytest
import xarray as xr
from formats_helpers import assert_round_trip

import crac_tools as crac
from crac_tools.errors import DataQualityWarning, ParseError
from crac_tools.formats import registry

# Fill the registry in its own (sniffing) order before importing reader modules directly: a direct import
# registers that reader first.
registry.formats()

from crac_tools.formats.netcdf import NetcdfReader, netcdf_format, read_netcdf  # noqa: E402

ARM = "cf_netcdf/bnfmetM1.b1.20250619.000000.cdf"
POCEAN = "cf_netcdf/pocean_timeseries_tt.nc"
NS = xr.coders.CFDatetimeCoder(time_unit="ns")


def ns(text: str) -> np.datetime64:
    return np.datetime64(text, "ns")


@pytest.fixture(scope="module")
def arm(testdata):
    return crac.read(testdata / ARM)


@pytest.fixture(scope="module")
def pocean(testdata):
    return crac.read(testdata / POCEAN)


def test_arm_file(arm):
    assert arm.attrs["file_format"] == "netcdf" and arm.attrs["netcdf_format"] == "NETCDF3_CLASSIC"
    assert arm.attrs["Conventions"] == "ARM-1.3" and arm.attrs["site_id"] == "bnf"
    assert arm["time"].dtype == np.dtype("datetime64[ns]") and arm.sizes["time"] == 1440
    assert arm["time"].values[0] == ns("2025-06-19T00:00") and arm["time"].values[-1] == ns("2025-06-19T23:59")
    p = arm["atmos_pressure"]
    assert p.attrs["units"] == "kPa" and p.attrs["standard_name"] == "surface_air_pressure"
    assert float(p[0]) == pytest.approx(98.39, abs=1e-4) and float(p[720]) == pytest.approx(98.49, abs=1e-4)
    assert p.encoding["missing_value"] == -9999.0 and "source" not in p.encoding
    assert float(arm["temp_mean"][1439]) == pytest.approx(23.54, abs=1e-4)
    assert arm["temp_mean"].attrs["units"] == "degC"
    assert float(arm["rh_mean"][0]) == pytest.approx(100.8, abs=1e-4)
    assert arm["qc_atmos_pressure"].dtype == np.int32
    assert float(arm["lat"]) == pytest.approx(34.34248) and arm["lat"].attrs["units"] == "degree_N"
    assert arm["time_bounds"].dims == ("time", "bound")
    assert arm["base_time"].values == ns("2025-06-19")


def test_pocean_file(pocean):
    assert pocean.attrs["netcdf_format"] == "NETCDF4" and pocean.attrs["featureType"] == "timeSeries"
    assert pocean.sizes["time"] == 24 and pocean.sizes["light"] == 92
    assert abs(pocean["time"].values[0] - ns("2016-09-27T00:30:19.655")) < np.timedelta64(1, "ms")
    assert abs(pocean["time"].values[-1] - ns("2016-09-27T23:30:21.342")) < np.timedelta64(1, "ms")
    assert pocean["pH"].attrs["units"] == "1"
    assert float(pocean["pH"][12]) == pytest.approx(8.111670520211149)
    assert pocean["thermistor_start"].attrs["units"] == "degree_Celcius"
    assert int(pocean["light_measurements"][0, 0]) == 3345 and int(pocean["light_measurements"][23, 91]) == 2366
    assert pocean["pH"].encoding["_FillValue"] == -999999999.0
    assert pocean["dcl_date_time_string"].values[0] == "2016/09/27 00:30:19.655"


@pytest.mark.parametrize("name", [ARM, POCEAN])
def test_round_trip(testdata, tmp_path, name):
    assert_round_trip(crac.read(testdata / name), tmp_path, decode_times=NS)


def test_tree_and_time_range(testdata):
    tree = crac.read_tree(testdata / ARM)
    assert list(tree.children) == ["data"] and tree["data"].sizes["time"] == 1440
    tr = NetcdfReader().time_range(testdata / POCEAN)
    assert tr.n == 24 and tr.first < tr.last


def test_sniff(testdata):
    reader = NetcdfReader()
    for name in (ARM, POCEAN):
        path = testdata / name
        assert reader.sniff(path.read_bytes()[:4096], path)
    for path in (testdata / "hisparc" / "publicdb_esd_2017_1_1.h5", testdata / "campbell" / "Station_Daily.dat",
                 testdata / "campbell" / "TOB1_full27.dat"):
        assert not reader.sniff(path.read_bytes()[:4096], path), path
    assert netcdf_format(b"CDF\x05") == "NETCDF3_64BIT_DATA" and netcdf_format(b"CDF\x03") is None


# ----------------------------------------------------------------------------------------- time variants

def _arm_like(path, offset_units="seconds since 2020-01-01 00:00:00 0:00", with_time=False):
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as nc:
        nc.createDimension("time", 3)
        bt = nc.createVariable("base_time", "i4")
        bt.units = "seconds since 1970-1-1 0:00:00 0:00"
        bt.assignValue(1577836800)  # 2020-01-01
        to = nc.createVariable("time_offset", "f8", ("time",))
        to.units = offset_units
        to[:] = [0.0, 60.0, 120.5]
        if with_time:
            t = nc.createVariable("time", "f8", ("time",))
            t[:] = [1, 2, 3]  # no units: cannot be decoded
        v = nc.createVariable("temp", "f4", ("time",), fill_value=np.float32(-9999.0))
        v.units = "degC"
        v[:] = [1.0, -9999.0, 3.0]
    return path


@pytest.mark.parametrize("units", ["seconds since 2020-01-01 00:00:00 0:00", "s"])
def test_arm_base_time_time_offset(tmp_path, units):
    ds = read_netcdf(_arm_like(tmp_path / "arm.cdf", units))
    assert ds["time"].values.tolist() == np.array(
        ["2020-01-01T00:00", "2020-01-01T00:01", "2020-01-01T00:02:00.5"], dtype="datetime64[ns]").tolist()
    assert np.isnan(ds["temp"].values[1]) and ds["temp"].encoding["_FillValue"] == -9999.0


def test_arm_undecodable_time_is_replaced(tmp_path):
    ds = read_netcdf(_arm_like(tmp_path / "arm.cdf", "s", with_time=True))
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    assert ds["time_original"].values.tolist() == [1.0, 2.0, 3.0]
    assert ds["time"].attrs["comment"] == "ARM base_time + time_offset"


def test_cf_time_under_another_name(tmp_path):
    path = tmp_path / "dsg.nc"
    ds = xr.Dataset({"x": ("obs", [1.0, 2.0])},
                    coords={"t": ("obs", np.array(["2021-05-01T00:00", "2021-05-01T00:10"], "datetime64[ns]"),
                                  {"standard_name": "time"})})
    ds.to_netcdf(path, engine="h5netcdf")
    got = crac.read(path)
    assert got["time"].attrs["original_name"] == "t" and got["x"].dims == ("time",)
    assert got["time"].values[1] == ns("2021-05-01T00:10")
    ds2 = xr.Dataset({"x": ("obs", [1.0])},
                     coords={"time": ("obs", np.array(["2021-05-01"], "datetime64[ns]"))})
    ds2.to_netcdf(tmp_path / "obs.nc", engine="h5netcdf")
    got = crac.read(tmp_path / "obs.nc")
    assert got["x"].dims == ("time",) and "time" in got.indexes


def test_no_time_warns(tmp_path):
    path = tmp_path / "static.nc"
    xr.Dataset({"h": ("x", [1.0, 2.0])}).to_netcdf(path, engine="h5netcdf")
    with pytest.warns(DataQualityWarning, match="no time coordinate"):
        ds = crac.read(path)
    assert ds["h"].values.tolist() == [1.0, 2.0]
    assert NetcdfReader().time_range(path).n == 0


def test_groups(tmp_path):
    path = tmp_path / "groups.nc"
    times = np.array(["2022-01-01T00:00", "2022-01-01T01:00"], dtype="datetime64[ns]")
    xr.Dataset({"a": ("time", [1.0, 2.0])}, coords={"time": times}).to_netcdf(path, engine="h5netcdf")
    xr.Dataset({"b": ("time", [3.0, 4.0])}, coords={"time": times}).to_netcdf(
        path, engine="h5netcdf", group="met", mode="a")
    tree = crac.read_tree(path)
    assert tree["met"]["b"].values.tolist() == [3.0, 4.0] and tree["a"].values.tolist() == [1.0, 2.0]
    assert crac.read(path, table="met")["b"].values[1] == 4.0
    with pytest.raises(ParseError):
        crac.read(path, format="netcdf", table="nope")


def test_generic_hdf5_without_dimension_scales(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        ds = crac.read(path)
    assert ds.attrs["file_format"] == "netcdf" and ds["x"].values.tolist() == [0.0, 1.0, 2.0]


def test_malformed(testdata, tmp_path):
    cut = tmp_path / "cut.cdf"
    cut.write_bytes((testdata / ARM).read_bytes()[:2000])
    with pytest.raises(ParseError, match="cut.cdf"):
        crac.read(cut)
    garbage = tmp_path / "garbage.nc"
    garbage.write_bytes(b"CDF\x01" + bytes(range(256)) * 4)
    with pytest.raises(ParseError):
        crac.read(garbage)
    cut4 = tmp_path / "cut.nc"
    cut4.write_bytes((testdata / POCEAN).read_bytes()[:20_000])
    with pytest.raises(ParseError):
        read_netcdf(cut4)
    with pytest.raises(ParseError, match="not a netCDF file"):
        read_netcdf(testdata / "campbell" / "Station_Daily.dat")
