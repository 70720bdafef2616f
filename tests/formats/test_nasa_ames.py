"""NASA Ames reader: real sample files (../shared/testdata) and small generated files for every FFI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from formats_helpers import assert_round_trip, best_time, numbered_rows, quiet

import crac_tools as crac
from crac_tools.errors import DataQualityWarning, ParseError, TruncatedRecordWarning
from crac_tools.formats.ames_header import split_name, time_axis
from crac_tools.formats.nasa_ames import NasaAmesReader, read_nasa_ames
from crac_tools.formats.registry import get_reader

T = np.datetime64
COMMON = ["Doe, Jane", "Some Lab", "Test instrument", "TESTPROJECT", "1 1", "2020 01 02 2020 03 04"]


def na_file(ffi: int, middle: list[str], data: list[str], scom: tuple[str, ...] = (),
            ncom: tuple[str, ...] = ("Generated for tests",), nlhead: int | None = None,
            preamble: str | None = None) -> str:
    """A NASA Ames file: common header lines, the FFI-specific ``middle`` (from line 8 up to the variable
    and auxiliary sections), comments and data."""
    lines = [*COMMON, *middle, str(len(scom)), *scom, str(len(ncom)), *ncom]
    text = "\n".join([f"{nlhead or len(lines) + 1} {ffi}", *lines, *data]) + "\n"
    return (preamble + "\n" + text) if preamble else text


def write(tmp_path: Path, text: str, name: str = "t.na") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


H1001 = ["0", "Time (seconds since midnight UT)", "2", "1 0.1", "-999 -999", "Temperature (K)", "Pressure (hPa)"]


# --------------------------------------------------------------------------------------------------
# every FFI, generated
# --------------------------------------------------------------------------------------------------


def test_1001_time_scale_missing(tmp_path):
    path = write(tmp_path, na_file(1001, H1001, ["0 280.5 10132", "60 -999 10130", "90000 281 -999"]))
    assert NasaAmesReader().sniff(path.read_bytes()[:4096], path)
    assert get_reader(path).name == "nasa_ames"
    ds = quiet(read_nasa_ames, path)
    assert ds.attrs["file_format"] == "nasa_ames" and ds.attrs["ffi"] == 1001
    assert ds["time"].values.tolist() == [T(x, "ns").astype(int) for x in
                                          ("2020-01-02T00:00", "2020-01-02T00:01", "2020-01-03T01:00")]
    np.testing.assert_array_equal(ds["Temperature"].values, [280.5, np.nan, 281])
    np.testing.assert_allclose(ds["Pressure"].values, [1013.2, 1013.0, np.nan])
    assert ds["Pressure"].attrs["units"] == "hPa" and ds["Pressure"].attrs["long_name"] == "Pressure (hPa)"
    assert ds["Pressure"].encoding["_FillValue"] == pytest.approx(-99.9)
    assert ds.attrs["originator"] == "Doe, Jane" and ds.attrs["mission"] == "TESTPROJECT"
    assert ds.attrs["data_date"] == "2020-01-02" and ds.attrs["revision_date"] == "2020-03-04"
    assert ds.attrs["normal_comments"] == "Generated for tests"


def test_1001_wrapped_records_and_fortran_exponents(tmp_path):
    ds = quiet(read_nasa_ames, write(tmp_path, na_file(1001, H1001, ["0 280.5", "10132", "60", "2.81D+02 10130"])))
    assert ds["Temperature"].values.tolist() == [280.5, 281.0]
    assert ds["time"].values[1] == T("2020-01-02T00:01")


def test_1001_non_time_independent_variable(tmp_path):
    middle = ["0", "Altitude (km)", "1", "1", "-999", "Ozone (ppbv)"]
    ds = quiet(read_nasa_ames, write(tmp_path, na_file(1001, middle, ["1 40", "2 45", "3 -999"])))
    assert dict(ds.sizes) == {"Altitude": 3}
    assert ds["Altitude"].attrs["units"] == "km"
    assert ds["time"].ndim == 0 and ds["time"].values == T("2020-01-02")
    assert ds["Ozone"].dims == ("Altitude",)


def test_1010_auxiliary_variables(tmp_path):
    middle = ["0", "Time (s)", "1", "1", "-9", "O3 (ppb)", "2", "1 10", "-9 -9", "Pressure (hPa)", "Lat (deg)"]
    ds = quiet(read_nasa_ames, write(tmp_path, na_file(1010, middle, ["0 1000 4.5", "40", "10 990 -9", "41"])))
    assert ds["Pressure"].values.tolist() == [1000, 990]
    np.testing.assert_array_equal(ds["Lat"].values, [45.0, np.nan])
    assert ds["O3"].values.tolist() == [40, 41]


def test_1020_linearly_spaced(tmp_path):
    middle = ["10", "3", "Time (s)", "1", "1", "-9", "O3 (ppb)", "1", "1", "-9", "Pressure (hPa)"]
    ds = quiet(read_nasa_ames, write(tmp_path, na_file(1020, middle, ["0 1000", "1 2 3", "100 990", "4 -9 6"])))
    assert ds.sizes["time"] == 6
    assert (ds["time"].values - T("2020-01-02")).astype("timedelta64[s]").astype(int).tolist() == \
        [0, 10, 20, 100, 110, 120]
    np.testing.assert_array_equal(ds["O3"].values, [1, 2, 3, 4, np.nan, 6])
    np.testing.assert_array_equal(ds["Pressure"].values, [1000, np.nan, np.nan, 990, np.nan, np.nan])


def test_2010_grid(tmp_path):
    middle = ["5 0", "3", "1", "-10", "Latitude (deg)", "Time (hours since 2020-01-01 00:00:00)",
              "2", "1 1", "-9 -9", "U (m/s)", "V (m/s)", "1", "1", "-9", "Pressure (hPa)"]
    data = ["0 1000", "1 2 3", "4 5 6", "6 -9", "7 8 -9", "10 11 12"]
    ds = quiet(read_nasa_ames, write(tmp_path, na_file(2010, middle, data)))
    assert dict(ds.sizes) == {"time": 2, "Latitude": 3}
    assert ds["Latitude"].values.tolist() == [-10, -5, 0]
    assert ds["time"].values.tolist() == [T("2020-01-01T00", "ns").astype(int),
                                          T("2020-01-01T06", "ns").astype(int)]
    assert ds["U"].dims == ("time", "Latitude")
    np.testing.assert_array_equal(ds["U"].values, [[1, 2, 3], [7, 8, np.nan]])
    assert ds["V"].values.tolist() == [[4, 5, 6], [10, 11, 12]]
    np.testing.assert_array_equal(ds["Pressure"].values, [1000, np.nan])


def test_3010_and_4010_grids(tmp_path):
    # X1 (lon) varies fastest: lon from NXDEF=1 and DX, lat listed in full
    middle = ["1 2 0", "3 2", "1 2", "0", "10 12", "Longitude (deg)", "Latitude (deg)", "Time (s)",
              "1", "1", "-9", "T (K)", "0"]
    data = ["0", "1 2 3 4 5 6", "60", "7 8 9 10 11 -9"]
    ds = quiet(read_nasa_ames, write(tmp_path, na_file(3010, middle, data)))
    assert dict(ds.sizes) == {"time": 2, "Latitude": 2, "Longitude": 3}
    assert ds["T"].dims == ("time", "Latitude", "Longitude")
    assert ds["Longitude"].values.tolist() == [0, 1, 2] and ds["Latitude"].values.tolist() == [10, 12]
    assert ds["T"].values[0].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert np.isnan(ds["T"].values[1, 1, 2])
    middle4 = ["1 1 1 0", "2 2 2", "2 2 2", "0 1", "0 1", "0 1", "A", "B", "C", "Time (s)", "1", "1", "-9",
               "V (1)", "0"]
    data4 = ["0", " ".join(str(i) for i in range(8))]
    ds4 = quiet(read_nasa_ames, write(tmp_path, na_file(4010, middle4, data4), "f.na"))
    assert ds4["V"].dims == ("time", "C", "B", "A")
    assert ds4["V"].values[0, 1, 0, 1] == 5  # index a + 2 b + 4 c


def test_2110_ragged(tmp_path):
    middle = ["0 0", "Latitude (deg)", "Altitude (km)", "1", "1", "-9", "U (m/s)", "2", "1 1", "-9 -9",
              "Number of latitudes", "Pressure (hPa)"]
    data = ["0 2 1000", "0 1.5", "10 2.5", "10 3 250", "0 -9", "10 4", "20 5"]
    ds = quiet(read_nasa_ames, write(tmp_path, na_file(2110, middle, data)))
    assert dict(ds.sizes) == {"Altitude": 2, "Latitude": 3}
    np.testing.assert_array_equal(ds["U"].values, [[1.5, 2.5, np.nan], [np.nan, 4, 5]])
    assert ds["Pressure"].values.tolist() == [1000, 250]
    assert ds["time"].ndim == 0


def test_2310_start_and_step_per_record(tmp_path):
    middle = ["0", "Altitude (km)", "Time (s)", "2", "1 1", "-9 -9", "O3 (ppb)", "T (K)", "3", "1 1 1",
              "-1 -1 -1", "Number of altitudes", "Start altitude (km)", "Altitude step (km)"]
    data = ["0 3 1.0 0.5", "40 41 42", "280 279 278", "60 2 1.5 0.5", "43 -9", "281 280"]
    ds = quiet(read_nasa_ames, write(tmp_path, na_file(2310, middle, data)))
    assert dict(ds.sizes) == {"time": 2, "Altitude": 3}
    assert ds["Altitude"].values.tolist() == [1.0, 1.5, 2.0]
    np.testing.assert_array_equal(ds["O3"].values, [[40, 41, 42], [np.nan, 43, np.nan]])
    np.testing.assert_array_equal(ds["T"].values, [[280, 279, 278], [np.nan, 281, 280]])


def test_2160_strings(tmp_path):
    middle = ["10", "12", "Time (minutes)", "Station", "1", "1", "-9", "NO2 (ppb)", "3", "1", "1 1", "-9 -9",
              "8", "n/a", "Number of values", "Height (m)", "Station type"]
    data = ["Alpha", "2 100", "urban", "0 1.5", "10 2.5", "Beta site", "1 -9", "rural", "10 -9"]
    ds = quiet(read_nasa_ames, write(tmp_path, na_file(2160, middle, data)))
    assert ds["Station"].values.tolist() == ["Alpha", "Beta site"]
    assert ds["time_minutes"].values.tolist() == [0, 10]
    np.testing.assert_array_equal(ds["NO2"].values, [[1.5, 2.5], [np.nan, np.nan]])
    assert ds["Station type"].values.tolist() == ["urban", "rural"]
    np.testing.assert_array_equal(ds["Height"].values, [100, np.nan])


def test_ndacc_preamble_and_comments(tmp_path):
    ncom = ("Station: Lauder", "Comment: first", "  continued", "free text line", "Comment: second")
    text = na_file(1001, H1001, ["0 280 10132"], ncom=ncom, preamble="NDACC lidar data, some station")
    path = write(tmp_path, text)
    assert get_reader(path).name == "nasa_ames"
    ds = quiet(read_nasa_ames, path)
    assert ds.attrs["preamble"] == "NDACC lidar data, some station"
    assert ds.attrs["data_flavour"] == "ndacc"
    assert ds.attrs["Station"] == "Lauder"
    assert ds.attrs["Comment"] == "first\ncontinued\nsecond"
    assert ds["Temperature"].values.tolist() == [280]


def test_ebas_style_file(tmp_path):
    middle = ["0", "days from file reference point", "3", "1 1 1", "9.999999 9999.9 9.999",
              "end_time of measurement, days from the file reference point",
              "pressure, hPa, Location=inlet, Matrix=instrument", "numflag"]
    ncom = ("Data definition:              EBAS_1.1", "Station code:                 XX0001R",
            "Humidity/temperature control: none", "starttime endtime p_int numflag")
    data = ["0.000000 0.041667 677.7 0.000", "0.041667 0.083333 9999.9 0.189"]
    ds = quiet(read_nasa_ames, write(tmp_path, na_file(1001, middle, data, ncom=ncom)))
    assert ds.attrs["data_flavour"] == "ebas"
    assert list(ds.data_vars) == ["endtime", "p_int", "numflag"]
    assert ds["time"].values.tolist() == [T("2020-01-02T00:00", "ns").astype(int),
                                          T("2020-01-02T01:00", "ns").astype(int)]  # rounded to the second
    assert ds["endtime"].values[1] == T("2020-01-02T02:00")
    assert ds["p_int"].attrs["units"] == "hPa" and ds["p_int"].attrs["Location"] == "inlet"
    np.testing.assert_array_equal(ds["p_int"].values, [677.7, np.nan])
    assert ds["numflag"].values.tolist() == [0.0, 0.189]
    assert ds.attrs["Station_code"] == "XX0001R"
    assert ds.attrs["Humidity_temperature_control"] == "none"
    assert ds.attrs["column_names"] == "starttime endtime p_int numflag"


def test_name_and_time_helpers():
    assert split_name("Mean zonal wind (m/s)") == ("Mean zonal wind", "m/s", {})
    assert split_name("O3, mixing ratio of ozone") == ("O3, mixing ratio of ozone", None, {})
    assert split_name("Temperature, K") == ("Temperature", "K", {})
    axis = time_axis("UT seconds", None, (2001, 2, 3))
    assert axis.unit == "second" and axis.epoch == T("2001-02-03")
    axis = time_axis("Julian day (UT)", None, (2001, 2, 3))
    assert axis.convert(np.array([1.5]))[0] == T("2001-01-01T12:00")
    assert time_axis("Latitude (deg)", "deg", (2001, 2, 3)) is None


# --------------------------------------------------------------------------------------------------
# malformed input
# --------------------------------------------------------------------------------------------------


def test_truncated_header(tmp_path):
    text = na_file(1001, H1001, ["0 1 2"], nlhead=40)
    with pytest.raises(ParseError, match="NLHEAD says 40 lines") as err:
        read_nasa_ames(write(tmp_path, text))
    assert err.value.line is not None
    cut = "\n".join(text.split("\n")[:8]) + "\n"
    with pytest.raises(ParseError, match="NLHEAD says 40 lines, the file has 8") as err:
        read_nasa_ames(write(tmp_path, cut, "c.na"))
    assert err.value.line == 9 and err.value.found == "end of file"


def test_header_structure_differs_from_nlhead(tmp_path):
    text = na_file(1001, H1001, ["0 280 10132", "10 281 10131"], nlhead=16)  # structure says 17
    with pytest.warns(DataQualityWarning) as got:  # line 17 is not data: read after the structure instead
        ds = read_nasa_ames(write(tmp_path, text))
    assert ds["Temperature"].values.tolist() == [280, 281]
    messages = " ".join(str(w.message) for w in got)
    assert "NLHEAD says 16" in messages and "read after the header structure (line 18)" in messages
    # NLHEAD larger than the structure: the extra line is skipped (NLHEAD wins when its data parse)
    text = na_file(1001, H1001, ["0 280 10132", "10 281 10131"], ncom=("a", "b"), nlhead=18).replace(
        "\n2\na\nb\n", "\n1\na\nb\n")
    with pytest.warns(DataQualityWarning, match="NLHEAD says 18"):
        ds = read_nasa_ames(write(tmp_path, text, "b.na"))
    assert ds.sizes["time"] == 2 and ds.attrs["normal_comments"] == "a"


def test_bad_header_items(tmp_path):
    bad = na_file(1001, ["0", "Time (s)", "two", "1", "-9", "T (K)"], ["0 1"])
    with pytest.raises(ParseError, match="number of variables") as err:
        read_nasa_ames(write(tmp_path, bad))
    assert err.value.line == 10 and err.value.found == "'two'"
    bad_date = na_file(1001, H1001, ["0 1 2"]).replace("2020 01 02", "2020 13 02")
    with pytest.raises(ParseError, match="bad date") as err:
        read_nasa_ames(write(tmp_path, bad_date, "d.na"))
    assert err.value.line == 7
    with pytest.raises(ParseError, match="unsupported NASA Ames file format index 9999"):
        read_nasa_ames(write(tmp_path, "20 9999\n", "u.na"))


def test_non_numeric_token(tmp_path):
    path = write(tmp_path, na_file(1001, H1001, ["0 280 10132", "10 28O 10131", "20 281 10130"]))
    with pytest.raises(ParseError, match="not a number") as err:
        read_nasa_ames(path)
    assert err.value.line == 19 and err.value.column == "Temperature" and err.value.found == "'28O'"


def test_wrong_number_of_values(tmp_path):
    path = write(tmp_path, na_file(1001, H1001, ["0 280 10132", "10 281", "20 281 10130", "30 1 2"]))
    with pytest.raises(ParseError, match="wrong number of values") as err:
        read_nasa_ames(path)
    assert err.value.line == 19 and err.value.found == "2"


def test_truncated_last_record(tmp_path):
    path = write(tmp_path, na_file(1001, H1001, ["0 280 10132", "10 281 10131"]) + "20 28")
    with pytest.warns(TruncatedRecordWarning, match="line 20"):
        ds = read_nasa_ames(path)
    assert ds.sizes["time"] == 2


def test_truncated_last_record_2110(tmp_path):
    middle = ["0 0", "Latitude (deg)", "Altitude (km)", "1", "1", "-9", "U (m/s)", "1", "1", "-9", "NX"]
    path = write(tmp_path, na_file(2110, middle, ["0 2", "0 1", "10 2", "10 2", "0 3"]))
    with pytest.warns(TruncatedRecordWarning):
        ds = read_nasa_ames(path)
    assert ds.sizes["Altitude"] == 1


def test_time_going_backwards(tmp_path):
    path = write(tmp_path, na_file(1001, H1001, ["0 280 10132", "10 281 10131", "5 281 10131"]))
    with pytest.raises(ParseError, match="time goes backwards") as err:
        read_nasa_ames(path)
    assert err.value.line == 20


def test_binary_garbage(tmp_path):
    path = tmp_path / "g.na"
    path.write_bytes(b"\x00\xff" * 500)
    with pytest.raises(ParseError) as err:
        read_nasa_ames(path)
    assert err.value.line == 1


def test_read_tree_table_and_time_range(tmp_path):
    path = write(tmp_path, na_file(1001, H1001, ["0 280 10132", "60 281 10131"]))
    assert list(crac.read_tree(path).children) == ["data"]
    with pytest.raises(ParseError):
        NasaAmesReader().read(path, table="x")
    tr = NasaAmesReader().time_range(path)
    assert tr.first == T("2020-01-02T00:00") and tr.last == T("2020-01-02T00:01") and tr.n == 2


# --------------------------------------------------------------------------------------------------
# real files
# --------------------------------------------------------------------------------------------------


def _real(testdata: Path, name: str) -> xr.Dataset:
    path = testdata / "nasa_ames" / name
    assert get_reader(path).name == "nasa_ames"
    return quiet(read_nasa_ames, path)


def test_1001_radiosonde(testdata, tmp_path):
    ds = _real(testdata, "1001.na")
    assert ds["time"].values.tolist() == [T(x, "ns").astype(int) for x in
                                          ("2000-09-20T22:00:00", "2000-09-20T22:00:10", "2000-09-20T22:00:20")]
    assert ds["Pressure"].values.tolist() == pytest.approx([1017.6, 1012.5, 1008.8])  # 10176 x 0.1
    assert ds["Ascent Rate"].attrs["units"] == "m/s"
    assert ds["Height above MSL"].values.tolist() == [30, 74, 105]
    assert ds.attrs["RS-number"] == "002104615"
    assert ds.attrs["data_source"] == "Data:    NZMS Radiosonde Ascent"
    assert_round_trip(ds, tmp_path)


def test_1010_and_1020_profiles(testdata, tmp_path):
    ds = _real(testdata, "1010.na")
    assert dict(ds.sizes) == {"Altitude": 19}
    assert ds["time"].values == T("1976-01-01")
    assert ds["Molecular oxygen concentration"].values[0] == pytest.approx(1.7e18)
    assert np.isnan(ds["Ozone concentration"].values[4])  # missing 1.E+08 at 30 km
    assert np.isnan(ds["O(1D) concentration"].values[0])  # missing 10000
    assert ds["Air concentration"].values[0] == pytest.approx(8.61e18)  # aux scale 1e12
    assert ds["Pressure"].attrs["units"] == "hPa"
    assert_round_trip(ds, tmp_path)
    ds20 = _real(testdata, "1020.na")
    assert ds20["Altitude"].values.tolist() == list(range(10, 110, 5))
    np.testing.assert_allclose(ds20["O(3P) concentration"].values[:10], ds["O(3P) concentration"].values[:10])
    assert ds20["Pressure"].values[10] == 0.22 and np.isnan(ds20["Pressure"].values[11])
    assert_round_trip(ds20, tmp_path)


def test_2010_and_2110_wind(testdata, tmp_path):
    ds = _real(testdata, "2010.na")
    assert dict(ds.sizes) == {"Altitude": 5, "Latitude": 9}
    wind = ds["Mean zonal wind"]
    assert wind.sel(Altitude=40, Latitude=40).item() == 41.0
    assert np.isnan(wind.sel(Altitude=80).values).all()  # 200 is the missing value
    assert ds["Pressure"].values.tolist() == [1013.3, 55.3, 2.3, 0.22, 0.01]
    assert_round_trip(ds, tmp_path)
    ds2 = _real(testdata, "2110.na")
    assert dict(ds2.sizes) == {"Altitude": 8, "Latitude": 9}
    wind2 = ds2["Mean zonal wind"]
    assert wind2.sel(Altitude=40, Latitude=30).item() == 28.2
    assert np.isnan(wind2.sel(Altitude=0, Latitude=0).item())  # not listed in that record
    assert ds2["Number of latitude points"].values.tolist() == [4, 4, 3, 7, 5, 8, 9, 4]
    assert_round_trip(ds2, tmp_path)


def test_2160_sites(testdata, tmp_path):
    ds = _real(testdata, "2160.na")
    assert ds["Site name"].values.tolist() == ["Belbroughton", "Coventry", "Kidderminster"]
    nox = ds["NOX volume mixing ratio"]
    assert nox.dims == ("Site name", "time_minutes")
    assert nox.sel({"Site name": "Kidderminster", "time_minutes": 90}).item() == 5.3
    assert np.isnan(nox.sel({"Site name": "Coventry", "time_minutes": 0}).item())  # 100 = missing
    assert ds["Date"].values.tolist() == ["22-10-2002", "10-10-2002", "15-10-2002"]
    assert ds["Longitude"].values.tolist() == [-2.148, -1.517, -2.258]
    assert_round_trip(ds, tmp_path)


def test_ebas_nephelometer(testdata, tmp_path):
    name = ("US1200R.20200101000000.20210214053818.nephelometer.aerosol_light_scattering_coefficient.pm10.1y.1h."
            "US06L_TSI_3563_MLO.US06L_scat_coef.lev2.nas")
    ds = _real(testdata, name)
    assert ds.sizes["time"] == 8784 and len(ds.data_vars) == 23
    assert ds["time"].values[0] == T("2020-01-01") and ds["time"].values[-1] == T("2020-12-31T23:00")
    assert ds["end_time"].values[-1] == T("2021-01-01")
    assert ds["p_int"].values[0] == 677.7 and np.isnan(ds["p_int"].values[84])
    assert ds["sc550"].attrs["units"] == "1/Mm" and ds["sc550"].attrs["Wavelength"] == "550 nm"
    assert ds["sc550pc16"].attrs["Statistics"] == "percentile:15.87"
    assert ds["sc550"].values[4396] == 0.83
    assert ds["numflag"].values[4392] == 0.189
    assert ds.attrs["Station_code"] == "US1200R"
    assert ds.attrs["Station_latitude"] == "19.536230"
    assert ds.attrs["Data_definition"] == "EBAS_1.1"
    assert_round_trip(ds, tmp_path)


# --------------------------------------------------------------------------------------------------
# performance
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_day_at_1hz_is_fast(tmp_path):
    n, nv = 86_400, 20
    vals, body = numbered_rows(n, nv, seed=2, sep=" ")
    middle = ["1", "Time (s)", str(nv), " ".join(["1"] * nv), " ".join(["-9999"] * nv),
              *[f"V{i} (ppbv)" for i in range(nv)]]
    path = write(tmp_path, na_file(1001, middle, [body]), "day.na")
    read_nasa_ames(path)  # warm up imports
    best = best_time(read_nasa_ames, path)
    ds = read_nasa_ames(path)
    assert ds.sizes["time"] == n and ds["V3"].values[7] == vals[7, 3]
    assert best < 0.6, f"one 1 Hz day took {best:.3f} s"

