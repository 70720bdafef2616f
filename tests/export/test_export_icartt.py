"""ICARTT v2 export: the `icartt` package reads it back with no warnings and identical values."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from export_helpers import assert_ascii_clean, make_product, make_profile, same

from crac_tools.conventions.naming import parse_name
from crac_tools.export import export
from crac_tools.export.icartt import REQUIRED_KEYWORDS, write_icartt

icartt = pytest.importorskip("icartt")


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any reader warning fails the test
        return icartt.Dataset(str(path))


def test_1001_round_trip_no_warnings(tmp_path):
    ds = make_product()
    path = write_icartt(ds, tmp_path, source="bravo_met.nc")
    assert_ascii_clean(path)
    r = _read(path)
    assert r.format == icartt.Formats.FFI1001 and r.version == "V02_2016"
    assert r.nHeader == r.nHeaderFile
    exported = ["RECORD", "AirTC_Avg", "RH", "BP_mbar", "flux", "tiny", "diag"]
    assert list(r.dependentVariables) == ["Time_Stop", *exported]  # 10 min records: Start and Stop times
    for name in exported:
        var = r.dependentVariables[name]
        assert same(r.data[name] * float(var.scale), ds[name].values), name
    # scaled where smaller: the 2-decimal float32 temperatures are integers x 0.01; float64 stays as is
    assert r.dependentVariables["AirTC_Avg"].scale == "0.01"
    assert r.dependentVariables["flux"].scale == "1"
    np.testing.assert_array_equal(r.times, ds["time"].values)
    stop = r.data["Time_Stop"] - r.data["Time_Start"]
    assert (stop == 600).all()


def test_multi_day_seconds_continue_past_midnight(tmp_path):
    ds = make_product(days=2)
    r = _read(write_icartt(ds, tmp_path))
    assert r.dateOfCollection == (2024, 6, 1)
    assert r.data["Time_Start"].max() > 86400
    assert np.all(np.diff(r.data["Time_Start"]) > 0)


def test_header_keywords_provenance_and_name(tmp_path):
    ds = make_product()
    path = write_icartt(ds, tmp_path, source="bravo_met.nc")
    assert path.name == "bravo-met_bravo_20240601_R1.ict"  # product version 2 -> revision R1
    fields = parse_name(path.name)
    assert fields["convention"] == "icartt" and fields["revision"] == "1"
    r = _read(path)
    kw = r.normalComments.keywords
    for key in REQUIRED_KEYWORDS:
        assert kw[key].data, key
    assert kw["REVISION"].data == ["R1"] and "R0" in kw and "R1" in kw
    other = "\n".join(kw["OTHER_COMMENTS"].data)
    assert "product_version=2" in other and "processing_options_hash=60dcce5eb381" in other
    assert "source_file=TOA5_bravo.Met_2024_06_01_0000.dat 1ce3" in other
    assert "product_crac_tools_version=0.1.0" in other
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0] == f"{int(lines[0].split(',')[0])}, 1001, V02_2016"
    assert "-9999" in lines[11]  # missing values declared
    assert "Bravo meadow" in text  # non-ASCII station name transliterated


def test_time_label_end_and_1hz(tmp_path):
    ds = make_product(days=1)
    r = _read(write_icartt(ds, tmp_path, time_label="end"))
    t = ds["time"].values
    np.testing.assert_array_equal(r.times, t - np.timedelta64(600, "s"))
    fast = make_product(days=1, freq="1s").isel(time=slice(0, 300))
    path = write_icartt(fast, tmp_path / "fast")
    r = _read(path)
    assert r.dataIntervalCode == [1.0] and "Time_Stop" not in r.dependentVariables
    np.testing.assert_array_equal(r.times, fast["time"].values)


def test_subset_and_timed_name(tmp_path):
    ds = make_product()
    path = write_icartt(ds, tmp_path, start="2024-06-01T12:00", end="2024-06-01T13:00", variables=["RH"])
    assert path.name == "bravo-met_bravo_20240601_120000_R1.ict"
    r = _read(path)
    assert list(r.dependentVariables) == ["Time_Stop", "RH"]
    assert len(r.data["RH"]) == 6


def test_2110_profiles_round_trip(tmp_path):
    ds = make_profile()
    path = write_icartt(ds, tmp_path)
    assert_ascii_clean(path)
    r = _read(path)
    assert r.format == icartt.Formats.FFI2110 and r.nHeader == r.nHeaderFile
    assert list(r.auxiliaryVariables) == ["NumLevels", "Time_Stop", "ps"]
    times = sorted(r.data.data)
    assert len(times) == ds.sizes["time"]
    ps_scale = float(r.auxiliaryVariables["ps"].scale)
    o3_scale = float(r.dependentVariables["O3"].scale)
    ps = np.array([r.data.data[t]["AUX"].data["ps"] for t in times]).ravel() * ps_scale
    o3 = np.array([r.data.data[t]["DEP"].data["O3"] for t in times]) * o3_scale
    alt = np.array([r.data.data[t]["DEP"].data["altitude"] for t in times])
    assert same(ps, ds["ps"].values)
    assert same(o3, ds["O3"].values)
    np.testing.assert_array_equal(alt[0], ds["altitude"].values)
    sec = (ds["time"].values - ds["time"].values[0].astype("datetime64[D]")) / np.timedelta64(1, "s")
    np.testing.assert_array_equal(times, sec)


def test_export_api_from_file(tmp_path):
    ds = make_product()
    ds.to_netcdf(tmp_path / "p.nc")
    (path,) = export(tmp_path / "p.nc", "icartt", tmp_path / "out")
    r = _read(path)
    assert same(r.data["RH"] * float(r.dependentVariables["RH"].scale), ds["RH"].values)
    assert "source_product=p.nc" in "\n".join(r.normalComments.keywords["OTHER_COMMENTS"].data)


def test_too_many_variables_is_a_clear_error(tmp_path):
    ds = make_product(days=1)
    for i in range(40):
        ds[f"extra_variable_{i}"] = ds["AirTC_Avg"] + i
    with pytest.raises(ValueError, match="--variables"):
        write_icartt(ds, tmp_path)


def test_reader_of_crac_reads_it_if_available(tmp_path):
    import crac_tools

    if "icartt" not in crac_tools.formats():
        pytest.skip("crac_tools has no icartt reader")
    ds = make_product(days=1)
    back = crac_tools.read(write_icartt(ds, tmp_path, allow_scale=False))
    np.testing.assert_array_equal(pd.DatetimeIndex(back["time"].values), pd.DatetimeIndex(ds["time"].values))
    assert same(back["RH"].values, ds["RH"].values)
