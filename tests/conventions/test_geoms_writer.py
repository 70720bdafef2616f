"""GEOMS writer: structure, attributes, round trip through the GEOMS reader, h5py and xarray."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import crac_tools as crac
from crac_tools.config import Location, StationConfig
from crac_tools.conventions.geoms import (
    GLOBAL_ATTRIBUTES,
    VARIABLE_ATTRIBUTES,
    GeomsError,
    datetime_to_mjd2k,
    to_geoms,
    write_geoms,
)
from crac_tools.conventions.geoms_validate import validate_geoms
from crac_tools.formats.geoms_template import read_geoms_template

REAL = "geoms/groundbased_lidar.o3_uah001_huntsville.al_20180904t175830z_20180904t190354z_001.hdf"


def _station() -> StationConfig:
    return StationConfig(id="alpha", name="Alpha Ridge", location=Location(lat=45.5, lon=7.25, alt=1200.0),
                         instruments=[{"name": "logger", "model": "CR1000X"}], product="met",
                         attrs={"PI_ADDRESS": "1 Ridge Road;Alpha"})


def _profile() -> xr.Dataset:
    t = pd.date_range("2024-03-01T10:00:00", periods=4, freq="15min")
    alt = np.arange(100.0, 600.0, 100.0, dtype="f4")
    o3 = np.linspace(10, 60, 20, dtype="f4").reshape(4, 5)
    o3[1, 2] = np.nan
    return xr.Dataset(
        {"o3": (("time", "ALTITUDE"), o3, {"units": "ppbv", "long_name": "ozone",
                                           "geoms_name": "O3.MIXING.RATIO.VOLUME"}),
         "T": ("time", np.array([1.5, np.nan, 2.25, 3.0], "f4"), {"units": "Deg C",
                                                                  "geoms_name": "TEMPERATURE.SURFACE"}),
         "n": ("time", np.array([1, 2, 3, 4], "i8"), {"units": "counts"}),
         "label": ("time", np.array(["a", "bb", "", "dddd"], dtype=object))},
        coords={"time": t, "ALTITUDE": ("ALTITUDE", alt, {"units": "m", "long_name": "altitude"})})


def test_structure_and_attributes():
    g = to_geoms(_profile(), station=_station(), attrs={"PI_NAME": "Doe;Jane", "PI_EMAIL": "jane@example.org"})
    assert set(GLOBAL_ATTRIBUTES) <= set(g.attrs)
    assert g.attrs["DATA_VARIABLES"].split(";") == list(g.variables)
    assert g.attrs["PI_ADDRESS"] == "1 Ridge Road;Alpha"  # GEOMS keys of the station's attrs
    assert g.attrs["DATA_SOURCE"] == "CR1000X_ALPHA" and g.attrs["DATA_LOCATION"] == "ALPHA.RIDGE"
    assert g.attrs["DATA_START_DATE"] == "20240301T100000Z" and g.attrs["DATA_STOP_DATE"] == "20240301T104500Z"
    assert g.attrs["FILE_NAME"] == "groundbased_cr1000x_alpha_alpha.ridge_20240301t100000z_20240301t104500z_001.h5"
    for var in g.variables.values():
        assert set(VARIABLE_ATTRIBUTES) <= set(var.attrs)
    assert g["DATETIME"].dtype == np.float64 and g["DATETIME"].attrs["VAR_UNITS"] == "MJD2K"
    assert g["DATETIME"].values[0] == pytest.approx(8826 + 10 / 24)
    o3 = g["O3.MIXING.RATIO.VOLUME"]
    assert o3.dims == ("DATETIME", "ALTITUDE") and o3.attrs["VAR_DEPEND"] == "DATETIME;ALTITUDE"
    assert o3.attrs["VAR_SIZE"] == "4;5" and o3.attrs["VAR_UNITS"] == "ppbv"
    assert o3.values[1, 2] == o3.attrs["VAR_FILL_VALUE"]
    assert g["LATITUDE.INSTRUMENT"].attrs["VAR_DEPEND"] == "CONSTANT" and float(g["LATITUDE.INSTRUMENT"]) == 45.5
    assert g["TEMPERATURE.SURFACE"].attrs["VAR_SI_CONVERSION"] == "273.15;1.0;K"
    assert g["N"].attrs["VAR_DATA_TYPE"] == "INTEGER" and g["LABEL"].attrs["VAR_DATA_TYPE"] == "STRING"


def test_template_values_are_used(testdata):
    template = read_geoms_template(testdata / "geoms" / "GEOMS-LIDAR-O3-005-redacted.txt")
    g = to_geoms(_profile(), template=template, station=_station(),
                 attrs={"DATA_SOURCE": "LIDAR.O3_NASA.LARC001"})
    assert g.attrs["DATA_TEMPLATE"] == "GEOMS-TE-LIDAR-O3-005"
    assert g.attrs["PI_AFFILIATION"] == "NASA Langley Research Center;NASA.LARC"
    assert g.attrs["FILE_META_VERSION"] == "04R028;CUSTOM"
    alt = g["ALTITUDE"].attrs
    assert alt["VAR_NOTES"] == "Actual altitude measurement grid (amsl)" and alt["VAR_VALID_MAX"] == 120000.0
    assert g["DATETIME"].attrs["VAR_FILL_VALUE"] == -9999.0


@pytest.mark.parametrize("fmt", ["hdf5", "netcdf4"])
def test_round_trip_through_the_geoms_reader(tmp_path, fmt):
    src = _profile()
    g = to_geoms(src, station=_station())
    path = write_geoms(g, tmp_path, fmt=fmt)
    assert path.name == g.attrs["FILE_NAME"].replace(".h5", ".nc" if fmt == "netcdf4" else ".h5")
    back = crac.read(path)
    assert back.attrs["file_format"] == "geoms"
    for key, value in g.attrs.items():
        assert back.attrs[key] == (path.name if key == "FILE_NAME" else value), key
    assert (abs(back["time"].values - src["time"].values) < np.timedelta64(1, "us")).all()
    np.testing.assert_array_equal(back["O3.MIXING.RATIO.VOLUME"].values, src["o3"].values)
    np.testing.assert_array_equal(back["TEMPERATURE.SURFACE"].values, src["T"].values)
    np.testing.assert_array_equal(back["N"].values, src["n"].values)
    assert list(back["LABEL"].values) == ["a", "bb", "", "dddd"]
    for name, var in g.variables.items():
        got = back["time" if name == "DATETIME" else name].attrs
        for key in VARIABLE_ATTRIBUTES:
            assert got[key] == var.attrs[key], (name, key)
    assert validate_geoms(path) == []


def test_opens_in_h5py_and_xarray(tmp_path):
    path = write_geoms(to_geoms(_profile(), station=_station()), tmp_path)
    with h5py.File(path, "r") as f:
        assert f.attrs["DATA_TEMPLATE"] == b"GEOMS-TE-CUSTOM-001"
        assert f["DATETIME"].dtype == np.float64
        assert f["O3.MIXING.RATIO.VOLUME"].attrs["VAR_DEPEND"] == b"DATETIME;ALTITUDE"
        assert f["O3.MIXING.RATIO.VOLUME"].attrs["VAR_FILL_VALUE"].dtype == np.float32
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert ds["O3.MIXING.RATIO.VOLUME"].dims == ("DATETIME", "ALTITUDE")


def test_hdf4_geoms_to_hdf5_keeps_values_and_attributes(testdata, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        src = crac.read(testdata / REAL)
        path = write_geoms(to_geoms(src), tmp_path)
        back = crac.read(path)
    assert path.name == "groundbased_lidar.o3_uah001_huntsville.al_20180904t175830z_20180904t190354z_001.h5"
    for name in src.data_vars:
        np.testing.assert_array_equal(back[name].values, src[name].values)
        assert back[name].attrs["VAR_UNITS"] == src[name].attrs["VAR_UNITS"]
    for key in ("PI_NAME", "DATA_SOURCE", "DATA_START_DATE", "DATA_STOP_DATE", "DATA_TEMPLATE"):
        assert back.attrs[key] == src.attrs[key]


def test_errors():
    with pytest.raises(GeomsError, match="time"):
        to_geoms(xr.Dataset({"a": ("x", [1.0])}))
    ds = _profile()
    with pytest.raises(GeomsError, match="DATA_SOURCE"):
        to_geoms(ds, attrs={"DATA_SOURCE": "NO UNDERSCORE"})


def test_datetime_to_mjd2k_inverse():
    from crac_tools.formats.geoms import mjd2k_to_datetime

    t = np.array(["1999-12-31T18:00", "2024-02-29T23:59:59.5"], "datetime64[ns]")
    np.testing.assert_array_equal(mjd2k_to_datetime(datetime_to_mjd2k(t)).astype("datetime64[ms]"),
                                  t.astype("datetime64[ms]"))
