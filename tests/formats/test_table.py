"""Tests of the generic header-then-table text reader (``table``)."""

from __future__ import annotations

import time as _time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from formats_helpers import assert_round_trip, quiet

import crac_tools as crac

crac.formats()  # load the readers in sniffing order before importing one directly (registration order)

from crac_tools.errors import (  # noqa: E402
    DataQualityWarning,
    ParseError,
    TruncatedRecordWarning,
    UnknownFormatError,
)
from crac_tools.formats.registry import get_reader  # noqa: E402
from crac_tools.formats.table import TableReader, TableSpec, make_spec, read_table, split_name  # noqa: E402

MET = "met_csv"
REAL = ["anltwr_mar19met.data", "brw21001.dat", "brw_CCl4_Day.dat", "co2_brw_surface-insitu_1_ccgg_MonthlyData.txt",
        "met_brw_insitu_1_obop_hour_2020.txt", "sgpmetE13.b1.20210401.000000.csv"]


def t(text: str) -> np.datetime64:
    return np.datetime64(text, "ns")


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


# ------------------------------------------------------------------------------------------------------
# real files
# ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", REAL)
def test_real_files_are_sniffed_as_table(testdata, name):
    assert get_reader(testdata / MET / name).name == "table"


def test_gml_met_hourly_no_header(testdata):
    ds = quiet(crac.read, testdata / MET / "met_brw_insitu_1_obop_hour_2020.txt")
    assert ds.sizes["time"] == 20
    assert ds.time.values[0] == t("2020-01-01T00:00") and ds.time.values[-1] == t("2020-01-01T19:00")
    assert ds.attrs["time_source"] == "Y M D h" and ds.attrs["convention"] == "gml_met"
    assert ds.time.attrs["original_name"] == "col_2 + col_3 + col_4 + col_5"
    # time columns are consumed; the other columns keep their 1-based position in the name
    assert "col_2" not in ds and list(ds.data_vars)[:3] == ["col_1", "col_6", "col_7"]
    assert ds["col_1"].values[0] == "BRW"
    np.testing.assert_allclose(ds["col_7"].values[[0, 10, 19]], [7.1, 7.0, 8.4], atol=1e-5)
    np.testing.assert_allclose(ds["col_9"].values[[0, 10, 19]], [1004.73, 1010.39, 1015.17], atol=1e-3)
    np.testing.assert_allclose(ds["col_10"].values[[0, 10, 19]], [-25.5, -25.3, -24.4], atol=1e-5)
    # documented GML met missing codes: tower-top T -999.9, precipitation -99
    assert np.isnan(ds["col_12"].values).all() and np.isnan(ds["col_14"].values).all()
    assert ds["col_12"].encoding["_FillValue"] == pytest.approx(-999.9)
    assert ds["col_12"].attrs["long_name"] == "air temperature at tower top" and ds["col_12"].attrs["units"] == "degC"
    assert ds["col_13"].values[0] == 77  # relative humidity, kept


def test_surfrad_radiation_with_doy_and_qc_pairs(testdata):
    ds = quiet(crac.read, testdata / MET / "brw21001.dat")
    assert ds.sizes["time"] == 18
    assert ds.time.values[0] == t("2021-01-01T00:00") and ds.time.values[-1] == t("2021-01-01T00:17")
    assert ds.attrs["time_source"] == "Y J M D h m"  # year, day-of-year checked against month/day
    assert ds.attrs["station_name"] == "Barrow" and ds.attrs["latitude"] == "71.316"
    np.testing.assert_allclose(ds["col_7"].values[[0, 17]], [0.0, 0.283], atol=1e-6)  # decimal hour kept
    np.testing.assert_allclose(ds["col_9"].values[[0, 9, 17]], [-1.5, -1.5, -1.2], atol=1e-5)
    np.testing.assert_allclose(ds["col_25"].values[[0, 9, 17]], [246.15, 246.22, 246.30], atol=1e-4)
    assert np.isnan(ds["col_29"].values).all()  # -9999.9 = SURFRAD missing
    assert ds["col_30"].values[0] == 2 and ds["col_30"].dtype.kind == "i"  # its QC flag stays an integer
    assert ds["col_9"].attrs["long_name"] == "downwelling global solar" and ds["col_9"].attrs["units"] == "W m-2"


def test_argonne_tower_day_month_yy_hhmm(testdata):
    ds = quiet(crac.read, testdata / MET / "anltwr_mar19met.data")
    assert ds.sizes["time"] == 50 and ds.attrs["time_source"] == "D M y2 HM"
    assert ds.time.values[0] == t("2019-03-01T00:30")
    assert ds.time.values[-1] == t("2019-03-03T00:00")  # 2400 = end of 2 March
    assert list(ds["col_5"].values[:3]) == ["E", "E", "E"] and ds["col_5"].values[-1] == "X"
    np.testing.assert_allclose(ds["col_6"].values[[0, 25, 49]], [28.6, 85.9, 358.8], atol=1e-4)
    np.testing.assert_allclose(ds["col_15"].values[[0, 25, 49]], [80.2, 80.6, 73.4], atol=1e-4)
    assert ds["col_6"].attrs["long_name"] == "column 6"


def test_gml_cats_names_after_comment_header(testdata):
    ds = quiet(crac.read, testdata / MET / "brw_CCl4_Day.dat")
    assert ds.sizes["time"] == 15
    assert ds.time.values[0] == t("1998-06-16") and ds.time.values[-1] == t("1998-06-30")
    assert list(ds.data_vars) == ["CCl4catsBRWm", "CCl4catsBRWmsd", "CCl4catsBRWn"]
    assert np.isnan(ds["CCl4catsBRWm"].values[[0, 13]]).all()
    np.testing.assert_allclose(ds["CCl4catsBRWm"].values[[1, 7, 14]], [103.76, 103.20, 103.59], atol=1e-4)
    assert ds["CCl4catsBRWn"].values.tolist()[:2] == [0, 21]
    assert "Carbon tetrachloride" in ds.attrs["header"]
    assert ds.attrs["file"] == "brw_CCl4_Day.dat"  # '#  file: ...' header line


def test_gml_ccgg_self_describing_header(testdata):
    ds = quiet(crac.read, testdata / MET / "co2_brw_surface-insitu_1_ccgg_MonthlyData.txt")
    assert ds.sizes["time"] == 13 and ds.attrs["convention"] == "gml_ccgg"
    assert ds.time.values[0] == t("1973-01-01") and ds.time.values[-1] == t("1974-01-01")
    assert ds.attrs["time_source"] == "Y M D h m s"
    value = ds["value"]
    assert np.isnan(value.values[:6]).all()
    np.testing.assert_allclose(value.values[[6, 12]], [324.53, 337.51], atol=1e-4)
    assert value.attrs["units"] == "micromol mol-1"
    assert value.attrs["long_name"] == "measured_mole_fraction_of_trace_gas_in_dry_air"
    assert "comment" in value.attrs
    assert np.isnan(ds["value_std_dev"].values[0]) and ds["value_std_dev"].values[12] == pytest.approx(1.35)
    assert ds["latitude"].attrs["units"] == "degrees_north" and ds["latitude"].values[0] == pytest.approx(71.323)
    assert ds["qcflag"].values[0] == "*.." and ds["qcflag"].values[6] == "..."
    assert ds["time_decimal"].values[0] == 1973.0
    assert ds.attrs["site_code"] == "BRW" and ds.attrs["dataset_calibration_scale"] == "WMO CO2 X2019"


def test_arm_csv_export(testdata):
    ds = quiet(crac.read, testdata / MET / "sgpmetE13.b1.20210401.000000.csv")
    assert ds.sizes["time"] == 3 and ds.attrs["delimiter"] == ","
    assert ds.time.values[-1] == t("2021-04-01T00:02")
    assert ds.time.attrs["original_name"] == "time"
    np.testing.assert_allclose(ds["temp_mean"].values, [13.9, 13.86, 13.76], atol=1e-5)
    np.testing.assert_allclose(ds["wspd_arith_mean"].values, [2.744, 2.553, 2.661], atol=1e-6)
    assert ds["qc_temp_mean"].dtype.kind == "i"
    assert ds["date_time"].dtype == np.dtype("datetime64[ns]")  # other date-time columns: datetime variables
    assert ds["lon"].values[0] == pytest.approx(-97.485)


@pytest.mark.parametrize("name", REAL)
def test_round_trip_netcdf_and_zarr(testdata, tmp_path, name):
    assert_round_trip(quiet(crac.read, testdata / MET / name), tmp_path)


def test_time_range_and_tree(testdata):
    path = testdata / MET / "met_brw_insitu_1_obop_hour_2020.txt"
    tr = TableReader().time_range(path)
    assert (tr.first, tr.last, tr.n) == (t("2020-01-01T00:00"), t("2020-01-01T19:00"), 20)
    tree = crac.read_tree(path)
    assert list(tree.children) == ["table"] and tree["table"].sizes["time"] == 20


# ------------------------------------------------------------------------------------------------------
# generated files: HOBO, JOSS, delimiters, layouts
# ------------------------------------------------------------------------------------------------------

SN = "10234567"
HOBO = ('"Plot Title: 10234567"\r\n'
        f'"#","Date Time, GMT-05:00","Temp, °C (LGR S/N: {SN}, SEN S/N: {SN})",'
        f'"RH, % (LGR S/N: {SN}, SEN S/N: {SN})","Coupler Detached (LGR S/N: {SN})",'
        f'"Coupler Attached (LGR S/N: {SN})","Host Connected (LGR S/N: {SN})","End Of File (LGR S/N: {SN})"\r\n'
        "1,04/15/21 10:00:00 AM,21.456,45.21,,,,\r\n"
        "2,04/15/21 10:15:00 AM,21.503,45.02,,,,\r\n"
        "3,04/15/21 10:30:00 AM,21.551,44.87,,,,\r\n"
        "4,04/15/21 11:20:12 AM,,,Logged,,,\r\n"
        "5,04/15/21 11:20:13 AM,,,,Logged,,\r\n"
        "6,04/15/21 11:30:00 AM,21.741,44.12,,,,\r\n"
        "7,04/15/21 12:00:00 PM,21.789,43.96,,,Logged,\r\n"
        "8,04/15/21 12:16:02 PM,,,,,,Logged\r\n")


def test_hobo_export(tmp_path):
    p = write(tmp_path, "hobo.csv", b"\xef\xbb\xbf" + HOBO.encode("utf-8"))
    assert get_reader(p).name == "table"
    ds = quiet(crac.read, p)  # empty cells are the HOBO convention: no warning
    assert ds.attrs["convention"] == "hobo" and ds.attrs["plot_title"] == SN
    # GMT-05:00 local times -> UTC
    assert ds.time.values[0] == t("2021-04-15T15:00") and ds.time.values[-1] == t("2021-04-15T17:16:02")
    assert "UTC-05:00" in ds.time.attrs["comment"]
    assert ds["record"].values.tolist() == list(range(1, 9)) and ds["record"].attrs["original_name"] == "#"
    temp = ds["Temp"]
    assert temp.attrs["units"] == "°C" and temp.attrs["logger_serial"] == SN and temp.attrs["sensor_serial"] == SN
    assert temp.attrs["original_name"].startswith("Temp, °C (LGR")
    np.testing.assert_allclose(temp.values[[0, 2, 5]], [21.456, 21.551, 21.741], atol=1e-6)
    assert np.isnan(temp.values[[3, 4, 7]]).all()
    assert ds["RH"].attrs["units"] == "%"
    assert ds["Coupler_Detached"].values[3] == "Logged" and ds["Coupler_Detached"].values[0] == ""
    assert ds["End_Of_File"].values[-1] == "Logged"


def test_hobo_utf16_export(tmp_path):
    p = write(tmp_path, "hobo16.csv", HOBO.encode("utf-16"))  # HOBOware "Unicode" export, with BOM
    ds = quiet(crac.read, p)
    assert ds.time.values[0] == t("2021-04-15T15:00") and ds["Temp"].attrs["units"] == "°C"


def test_unix_seconds_by_spec(tmp_path):
    p = write(tmp_path, "u.csv", "stamp,v\n1609459200,1.5\n1609459260,1.6\n")
    ds = crac.read(p, format="table", time_columns=["stamp"], time_format="unix")
    np.testing.assert_array_equal(ds.time.values, [t("2021-01-01T00:00"), t("2021-01-01T00:01")])
    assert ds.attrs["time_source"] == "unix seconds"


def test_hobo_round_trip(tmp_path):
    assert_round_trip(quiet(crac.read, write(tmp_path, "hobo.csv", HOBO)), tmp_path)


JOSS = """PROJECT = INDOEX
DATA TYPE = Surface Meteorology, 1 minute
PLATFORM = R/V Ronald H. Brown
LATITUDE = 4.19 N
TIME ZONE = UTC
MISSING VALUE = -999.99
REMARKS
  Data from the ship's IMET system; 1-minute averages.
  Pressure is at sea level.
##END OF HEADER##
 yyyy mm dd hh mi     temp      rh     press    wspd
    -  -  -  -  -    deg_C       %       hPa     m/s
 1999 03 01 00 00    28.41   74.20   1009.55    5.31
 1999 03 01 00 01    28.43   74.10   1009.54    5.42
 1999 03 01 00 02    28.40 -999.99   1009.56    5.20
 1999 03 01 00 03    28.38   74.40 -999.99      5.11
"""


def test_joss_indoex_style(tmp_path):
    ds = quiet(crac.read, write(tmp_path, "joss.txt", JOSS))
    assert ds.attrs["convention"] == "joss"
    assert ds.attrs["PROJECT"] == "INDOEX" and ds.attrs["DATA_TYPE"] == "Surface Meteorology, 1 minute"
    assert ds.attrs["remarks"].startswith("Data from the ship's") and "END OF HEADER" not in ds.attrs["remarks"]
    assert ds.time.values[0] == t("1999-03-01T00:00") and ds.time.values[-1] == t("1999-03-01T00:03")
    assert list(ds.data_vars) == ["temp", "rh", "press", "wspd"]
    assert ds["temp"].attrs["units"] == "deg_C" and ds["press"].attrs["units"] == "hPa"
    assert np.isnan(ds["rh"].values[2]) and np.isnan(ds["press"].values[3])
    assert ds["rh"].encoding["_FillValue"] == pytest.approx(-999.99)
    assert ds["rh"].values[1] == pytest.approx(74.1)


def test_prose_header_semicolon_decimal_comma(tmp_path):
    text = ("Weather station Musterstadt, daily export\n"
            "Provided by the city environmental office. Contact: env@example.org\n\n"
            "Datum;Zeit;Temperatur (°C);Feuchte (%);Wind [m/s]\n"
            "01.02.2021;00:00;1,5;80;3,2\n01.02.2021;00:10;1,4;81;3,0\n"
            "01.02.2021;00:20;1,3;81;2,8\n01.02.2021;00:30;1,1;82;2,9\n")
    ds = quiet(crac.read, write(tmp_path, "prose.csv", text))
    assert ds.attrs["delimiter"] == ";" and ds.attrs["time_source"] == "text dmy. + clock"
    assert ds.time.values[0] == t("2021-02-01T00:00") and ds.time.values[-1] == t("2021-02-01T00:30")
    assert list(ds.data_vars) == ["Temperatur", "Feuchte", "Wind"]
    assert ds["Temperatur"].attrs["units"] == "°C" and ds["Wind"].attrs["units"] == "m/s"
    np.testing.assert_allclose(ds["Temperatur"].values, [1.5, 1.4, 1.3, 1.1], atol=1e-6)
    assert "Musterstadt" in ds.attrs["header"]


def test_tab_delimited_date_and_clock(tmp_path):
    p = write(tmp_path, "x.tsv", "date\ttime\ttemp\trh\n2021-06-01\t12:00:00\t21.5\t40\n"
                                 "2021-06-01\t12:01:00\t21.6\t41\n2021-06-01\t12:02:00\t21.4\t39\n")
    ds = quiet(crac.read, p)
    assert ds.attrs["delimiter"] == "tab" and ds.time.values[1] == t("2021-06-01T12:01")
    assert ds["rh"].values.tolist() == [40, 41, 39]


def test_fixed_width_with_blank_fields(tmp_path):
    text = ("2021 152 1200  21.5   40  1.2\n"
            "2021 152 1210  21.6        1.1\n"
            "2021 152 1220  21.4   39\n"
            "2021 152 1230        38  1.5\n"
            "2021 152 1240  21.2   37  1.4\n")
    with pytest.warns(DataQualityWarning, match="empty fields read as NaN"):
        ds = crac.read(write(tmp_path, "fw.txt", text))
    assert ds.attrs["delimiter"] == "fixed-width" and ds.attrs["time_source"] == "Y J HM"
    assert ds.time.values[0] == t("2021-06-01T12:00")  # day 152 of 2021
    np.testing.assert_allclose(ds["col_4"].values, [21.5, 21.6, 21.4, np.nan, 21.2])
    np.testing.assert_allclose(ds["col_5"].values, [40, np.nan, 39, 38, 37])
    np.testing.assert_allclose(ds["col_6"].values, [1.2, 1.1, np.nan, 1.5, 1.4], atol=1e-6)


def test_fixed_width_by_spec(tmp_path):
    text = "20210601120021.540\n20210601121021.641\n"
    ds = crac.read(write(tmp_path, "fw.txt", text), format="table",
                   spec={"delimiter": "fixed", "widths": [8, 4, 4, 2], "names": ["date", "hhmm", "T", "RH"],
                         "time_columns": ["date", "hhmm"], "time_format": "%Y%m%d %H%M"})
    np.testing.assert_array_equal(ds.time.values, [t("2021-06-01T12:00"), t("2021-06-01T12:10")])
    assert ds["T"].values.tolist() == pytest.approx([21.5, 21.6]) and ds["RH"].values.tolist() == [40, 41]


def test_no_names_id_column_year_doy_hhmm(tmp_path):
    text = "101,2024,258,1800,12.5\n101,2024,258,1830,12.6\n101,2024,258,1900,12.4\n101,2024,259,0,12.3\n"
    ds = quiet(crac.read, write(tmp_path, "cr.dat", text), format="table")  # (sniffing picks cr10x for this one)
    assert ds.attrs["time_source"] == "Y J HM"
    assert ds.time.values[0] == t("2024-09-14T18:00") and ds.time.values[-1] == t("2024-09-15T00:00")
    assert ds["col_1"].values.tolist() == [101] * 4 and "col_2" not in ds


def test_name_units_splitting():
    assert split_name("Wind [m/s]", hobo=False) == ("Wind", "m/s", {})
    assert split_name("Temp (max)", hobo=False) == ("Temp (max)", None, {})
    assert split_name("Coupler Detached (LGR S/N: 1)", hobo=True) == ("Coupler Detached", None,
                                                                      {"logger_serial": "1"})


# ------------------------------------------------------------------------------------------------------
# spec
# ------------------------------------------------------------------------------------------------------

SPEC_FILE = ("Logger export v2\n"
             "15.03.2021 23:50 , -1.5 , 87 , NA\n"
             "15.03.2021 23:55 , -1.6 , 88 , 0.2\n"
             "16.03.2021 00:00 , -1.7 , -99 , 0.0\n")


def test_spec_dataclass_names_units_format_offset_missing(tmp_path):
    spec = TableSpec(names=["stamp", "T", "RH", "rain"], units={"T": "degC", "RH": "%"}, long_names=["", "air T"],
                     time_columns=["stamp"], time_format="%d.%m.%Y %H:%M", utc_offset="+01:00",
                     missing={"RH": [-99], "rain": ["NA"]}, header_lines=1)
    ds = quiet(crac.read, write(tmp_path, "s.dat", SPEC_FILE), spec=spec)
    assert ds.time.values[0] == t("2021-03-15T22:50") and ds.time.values[-1] == t("2021-03-15T23:00")
    assert ds.attrs["time_source"] == "format %d.%m.%Y %H:%M"
    assert ds["T"].attrs == {"units": "degC", "long_name": "air T"}
    assert np.isnan(ds["RH"].values[2]) and ds["RH"].encoding["_FillValue"] == -99.0
    assert np.isnan(ds["rain"].values[0]) and ds["rain"].values[1] == pytest.approx(0.2)
    assert ds.attrs["header"] == "Logger export v2"


def test_spec_as_dict_and_as_options(tmp_path):
    p = write(tmp_path, "s.dat", SPEC_FILE)
    ds = crac.read(p, format="table", names=["stamp", "T", "RH", "rain"], time_columns=[1], missing=["NA", -99])
    assert ds.time.values[0] == t("2021-03-15T23:50")  # no offset given: times as written
    assert np.isnan(ds["RH"].values[2]) and np.isnan(ds["rain"].values[0])
    ds2 = read_table(p, spec={"names": ["stamp", "T", "RH", "rain"], "missing": ["NA", "-99"]})
    xr.testing.assert_identical(ds, ds2)
    assert make_spec({"delimiter": "tab"}).delimiter == "\t"
    with pytest.raises(ValueError, match="unknown table spec field"):
        make_spec({"delimeter": ","})
    with pytest.raises(ValueError, match="unknown delimiter"):
        make_spec(delimiter="colon")


def test_spec_time_format_mismatch_names_line(tmp_path):
    p = write(tmp_path, "s.dat", SPEC_FILE)
    with pytest.raises(ParseError) as err:
        crac.read(p, format="table", names=["stamp", "T", "RH", "rain"], missing=["NA"],
                  time_columns=["stamp"], time_format="%Y-%m-%d %H:%M")
    assert err.value.line == 2 and err.value.column == "stamp" and "15.03.2021 23:50" in str(err.value)


# ------------------------------------------------------------------------------------------------------
# missing values: declared only
# ------------------------------------------------------------------------------------------------------

def test_undeclared_sentinel_is_kept_with_a_warning(tmp_path):
    text = "year month day temp\n2021 1 1 -3.5\n2021 1 2 -9999\n2021 1 3 -4.0\n"
    with pytest.warns(DataQualityWarning, match=r"temp \(-9999\)"):
        ds = crac.read(write(tmp_path, "a.txt", text))
    assert ds["temp"].values[1] == -9999


def test_sentence_declared_sentinel_becomes_nan(tmp_path):
    text = "# Missing values are indicated by -9999.\nyear month day temp\n2021 1 1 -3.5\n2021 1 2 -9999\n"
    ds = quiet(crac.read, write(tmp_path, "a.txt", text))
    assert np.isnan(ds["temp"].values[1]) and ds["temp"].encoding["_FillValue"] == -9999.0


def test_undeclared_text_token_is_a_parse_error(tmp_path):
    text = "date,temp\n2021-01-01,1.5\n2021-01-02,NA\n2021-01-03,1.7\n"
    with pytest.raises(ParseError) as err:
        crac.read(write(tmp_path, "a.csv", text))
    e = err.value
    assert (e.line, e.column, e.found) == (3, "temp", "'NA'") and "not declared missing" in str(e)


def test_nan_spelling_is_the_float_nan(tmp_path):
    ds = quiet(crac.read, write(tmp_path, "a.csv", "date,temp\n2021-01-01,1.5\n2021-01-02,nan\n"))
    assert np.isnan(ds["temp"].values[1])


# ------------------------------------------------------------------------------------------------------
# malformed input
# ------------------------------------------------------------------------------------------------------

def test_binary_garbage(tmp_path):
    p = write(tmp_path, "bin.dat", bytes(range(256)) * 20)
    assert not TableReader().sniff(p.read_bytes()[:4096], p)
    with pytest.raises(UnknownFormatError):
        crac.read(p)
    with pytest.raises(ParseError, match="binary content") as err:
        crac.read(p, format="table")
    assert err.value.line == 1


def test_sniff_rejects_markup_and_never_raises(tmp_path):
    r = TableReader()
    assert not r.sniff(b"<?xml version='1.0'?><a>1</a>", None)
    assert not r.sniff(b'{"a": 1, "b": 2}', None)
    assert not r.sniff(b"", None)
    assert not r.sniff(b"just one line of prose here", None)
    assert r.sniff(b"# header_lines : 3\n#\n", None)  # GML header marker
    assert not r.sniff(b"#" * 5000, tmp_path / "missing.txt")  # unreadable path: False, no exception


def test_empty_file(tmp_path):
    with pytest.raises(ParseError, match="empty"):
        crac.read(write(tmp_path, "e.txt", b"\n\n"), format="table")


def test_truncated_gml_header(tmp_path):
    p = write(tmp_path, "co2.txt", "# header_lines : 151\n#\n# site_code : BRW\n")
    with pytest.raises(ParseError, match="truncated header") as err:
        crac.read(p)
    assert err.value.expected == "151 header lines"


def test_wrong_field_count_mid_file(tmp_path):
    text = "year month day a b\n2021 1 1 1.0 2.0\n2021 1 2 1.0\n2021 1 3 1.0 2.0\n"
    with pytest.raises(ParseError, match="wrong number of fields") as err:
        crac.read(write(tmp_path, "x.txt", text))
    assert err.value.line == 3


def test_truncated_last_record(tmp_path):
    text = "date,a,b\n2021-01-01,1.0,2.0\n2021-01-02,1.5,2.5\n2021-01-03,1."
    with pytest.warns(TruncatedRecordWarning, match="line 4"):
        ds = crac.read(write(tmp_path, "x.csv", text))
    assert ds.sizes["time"] == 2 and ds.attrs["truncated_lines"] == "4"


def test_time_going_backwards(tmp_path):
    text = "date,a\n2021-01-01 00:00,1\n2021-01-01 00:10,2\n2021-01-01 00:05,3\n"
    with pytest.raises(ParseError, match="time goes backwards") as err:
        crac.read(write(tmp_path, "x.csv", text))
    assert err.value.line == 4 and "00:05" in err.value.found


def test_bad_date_value(tmp_path):
    text = "date,a\n2021-01-01 00:00,1\n2021-01-01 00:10,2\n2021-13-01 00:20,3\n"
    with pytest.raises(ParseError, match="bad date/time value") as err:
        crac.read(write(tmp_path, "x.csv", text))
    assert (err.value.line, err.value.column, err.value.found) == (4, "date", "'2021-13-01 00:20'")


def test_duplicated_header_line(tmp_path):
    text = "date,temp\n2021-01-01,1.5\n2021-01-02,1.6\ndate,temp\n2021-01-03,1.7\n"
    with pytest.raises(ParseError, match="repeated header line") as err:
        crac.read(write(tmp_path, "x.csv", text))
    assert err.value.line == 4


def test_wrong_delimiter_in_spec(tmp_path):
    p = write(tmp_path, "x.csv", "date,temp\n2021-01-01,1.5\n2021-01-02,1.6\n")
    with pytest.raises(ParseError, match="spec delimiter"):
        crac.read(p, format="table", delimiter=";")


def test_no_time_columns(tmp_path):
    with pytest.raises(ParseError, match="no date/time columns"):
        crac.read(write(tmp_path, "x.txt", "a b c\n1.5 2.5 3.5\n1.6 2.6 3.6\n"))


def test_bad_table_name(tmp_path):
    p = write(tmp_path, "x.csv", "date,temp\n2021-01-01,1.5\n")
    with pytest.raises(ParseError, match="one table"):
        crac.read(p, format="table", table="other")


# ------------------------------------------------------------------------------------------------------
# vectorised parsing
# ------------------------------------------------------------------------------------------------------

def test_large_whitespace_file_is_fast(tmp_path):
    n = 200_000
    stamps = np.datetime64("2020-01-01T00:00") + np.arange(n).astype("timedelta64[m]")
    text = np.datetime_as_string(stamps, unit="m")
    body = [f"BRW {s[:4]} {s[5:7]} {s[8:10]} {s[11:13]} {s[14:16]} {k % 7}.5" for k, s in enumerate(text)]
    p = write(tmp_path, "big.txt", "\n".join(body) + "\n")
    t0 = _time.perf_counter()
    ds = crac.read(p)
    assert _time.perf_counter() - t0 < 10
    assert ds.sizes["time"] == n and ds.attrs["time_source"] == "Y M D h m"
    assert ds.time.values[-1] == stamps[-1].astype("datetime64[ns]")
    assert ds["col_7"].values[6] == 6.5
