"""Campbell mixed-array (CR10X / CR23X) reader: the real WX_data file with its Short Cut .DEF, and generated
multi-array files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from formats_helpers import assert_round_trip, quiet

import crac_tools as crac
from crac_tools.errors import DataQualityWarning, ParseError, TruncatedRecordWarning
from crac_tools.formats.cr10x import Cr10xReader, find_def, parse_def, read_cr10x
from crac_tools.formats.registry import get_reader, read_head

T = np.datetime64

MIXED = """\
101,2024,258,2330,13.61,.427,13.37,5.829
102,2024,258,2400,12.9,-6999
101,2024,258,2400,13.73,-.85,13.47,16.95
101,2024,259,30,14.25,2.349,13.97,6999
102,2024,259,2400,12.8,41.5
101,2024,259,100,14.2,1.703,13.93,57.53
"""

DEF_TEXT = """\
Short Cut Program:  Test.DEF

-Star 4 Table Entries-

101 Half_Hour  30.00 Min
1 101 L
2 Year_RTM  L
3 Day_RTM  L
4 Hour_Minute_RTM  L
5 BattV_AVG  L
6 Current_AVG  L
7 Voltage_AVG  L
8 NR_Wm2_AVG  L

102 Daily  1440 Min
1 102 L
2 Year_RTM  L
3 Day_RTM  L
4 Hour_Minute_RTM  L
5 BattV_MIN  L
6 Rain_TOT  H

Estimated final storage locations used per day:     96
"""


def write(tmp_path: Path, text: str, name: str = "data.dat") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parse_def():
    tables = parse_def(DEF_TEXT)
    assert sorted(tables) == [101, 102]
    assert tables[101].name == "Half_Hour" and tables[101].interval == "30.00 Min"
    assert tables[101].labels == ["101", "Year_RTM", "Day_RTM", "Hour_Minute_RTM", "BattV_AVG", "Current_AVG",
                                  "Voltage_AVG", "NR_Wm2_AVG"]
    assert tables[102].labels[-1] == "Rain_TOT"
    assert parse_def("no tables here\n1 2 L\n") == {}


def test_mixed_arrays_generic_names(tmp_path):
    path = write(tmp_path, MIXED)
    tree = quiet(Cr10xReader().read_tree, path)
    assert list(tree.children) == ["array_101", "array_102"]
    a = tree["array_101"].to_dataset()
    assert list(a.data_vars) == ["field_5", "field_6", "field_7", "field_8"]
    assert a["time"].values.tolist() == [T(x, "ns").astype(int) for x in (
        "2024-09-14T23:30", "2024-09-15T00:00", "2024-09-15T00:30", "2024-09-15T01:00")]  # 2400 = next midnight
    assert a["field_6"].values.tolist() == [np.float32(0.427), np.float32(-0.85), np.float32(2.349),
                                            np.float32(1.703)]  # leading-dot decimals
    assert np.isnan(a["field_8"].values[2])  # +6999
    assert a["field_8"].encoding["_FillValue"] == -6999 and "6999" in a["field_8"].attrs["comment"]
    assert a["field_5"].attrs["field_number"] == 5 and a["field_5"].dtype == np.float32
    assert a.attrs["array_id"] == 101 and a.attrs["column_names_from"] == "generic"
    assert a["time"].attrs["original_name"] == "field_2, field_3, field_4"
    b = tree["array_102"].to_dataset()
    assert b["time"].values.tolist() == [T("2024-09-15", "ns").astype(int), T("2024-09-16", "ns").astype(int)]
    assert np.isnan(b["field_6"].values[0]) and b["field_6"].values[1] == np.float32(41.5)
    with pytest.raises(ParseError, match="several arrays: array_101, array_102") as info:
        Cr10xReader().read(path)
    assert "table=" in str(info.value)
    with pytest.raises(ParseError, match="several arrays"):
        crac.read(path)
    xr.testing.assert_identical(quiet(Cr10xReader().read, path, table="102"), b)
    xr.testing.assert_identical(quiet(Cr10xReader().read, path, table=101), a)
    xr.testing.assert_identical(quiet(Cr10xReader().read, path, table="array_101"), a)
    with pytest.raises(ParseError, match="no array '103'"):
        Cr10xReader().read(path, table="103")
    tr = Cr10xReader().time_range(path)
    assert (tr.first, tr.last, tr.n) == (T("2024-09-14T23:30"), T("2024-09-16"), 6)


def test_def_beside_the_file_names_the_columns(tmp_path):
    path = write(tmp_path, MIXED)
    write(tmp_path, DEF_TEXT, "Test.DEF")
    tree = quiet(Cr10xReader().read_tree, path)
    a, b = tree["array_101"].to_dataset(), tree["array_102"].to_dataset()
    assert list(a.data_vars) == ["BattV_AVG", "Current_AVG", "Voltage_AVG", "NR_Wm2_AVG"]
    assert list(b.data_vars) == ["BattV_MIN", "Rain_TOT"]
    assert a.attrs["table_name"] == "Half_Hour" and a.attrs["output_interval"] == "30.00 Min"
    assert a.attrs["column_names_from"] == "Test.DEF"
    assert a["time"].attrs["original_name"] == "Year_RTM, Day_RTM, Hour_Minute_RTM"
    assert a["Current_AVG"].attrs["long_name"] == "Current_AVG"
    with pytest.raises(ParseError, match=r"array_101 \(Half_Hour\), array_102 \(Daily\)"):
        Cr10xReader().read(path)
    assert quiet(Cr10xReader().read, path, table="Daily").attrs["array_id"] == 102
    assert find_def(path, {101: 8, 102: 6})[0].name == "Test.DEF"


def test_def_with_other_field_counts_is_not_used(tmp_path):
    path = write(tmp_path, MIXED.replace(",5.829", ",5.829,1").replace(",16.95", ",16.95,2")
                 .replace(",6999\n", ",6999,3\n").replace(",57.53", ",57.53,4"))
    write(tmp_path, DEF_TEXT, "Test.DEF")
    with pytest.warns(DataQualityWarning, match="defines array 101 with 8 fields but the data lines have 9"):
        ds = Cr10xReader().read(path, table=101)
    assert "field_9" in ds and ds.attrs["column_names_from"] == "generic"


def test_columns_option(tmp_path):
    path = write(tmp_path, MIXED)
    names = {"101": ["Year", "Day", "HHMM", "a", "b", "c", "d"],  # without the id field
             102: ["id", "Year", "Day", "HHMM", "batt", "rain"],  # with it
             "AirTC": ["not an array id: ignored"]}
    tree = quiet(Cr10xReader().read_tree, path, columns=names)
    assert list(tree["array_101"].data_vars) == ["a", "b", "c", "d"]
    assert list(tree["array_102"].data_vars) == ["batt", "rain"]
    assert tree["array_101"].attrs["column_names_from"] == "columns option"
    with pytest.raises(ParseError, match="columns option for array 101 does not match"):
        Cr10xReader().read_tree(path, columns={101: ["x", "y"]})
    with pytest.raises(ParseError, match="not a list of names"):
        Cr10xReader().read_tree(path, columns={101: "abc"})


def test_two_digit_years_seconds_and_year_option(tmp_path):
    ds = quiet(read_cr10x, write(tmp_path, "110,99,365,2359,1\n110,00,1,5,2\n110,0,1,10,3\n"))
    assert ds["time"].values.tolist() == [T(x, "ns").astype(int) for x in
                                          ("1999-12-31T23:59", "2000-01-01T00:05", "2000-01-01T00:10")]
    path = write(tmp_path, "7,100,1230,15.5,1.5\n7,100,1230,45,2.5\n7,101,0,0,3\n", "noyear.dat")
    cols = {7: ["Day_RTM", "Hour_Minute_RTM", "Seconds_RTM", "v"]}
    ds = quiet(read_cr10x, path, columns=cols, year=2024)
    assert ds["time"].values[0] == T("2024-04-09T12:30:15.5") and ds["time"].values[2] == T("2024-04-10")
    assert list(ds.data_vars) == ["v"]
    with pytest.raises(ParseError, match="no year field"):
        read_cr10x(path, columns=cols)


@pytest.mark.parametrize(("text", "line", "message"), [
    ("101,2024,258,1800,1\n101,2024,258,1830,1,2\n101,2024,258,1900,1\n101,2024,258,1930,1\n", 2,
     "wrong number of fields for array 101"),
    ("101,2024,258,1800,1\n101,2024,258,1830,x1\n101,2024,258,1900,1\n", 2, "bad value"),
    ("Year,Day,HHMM,T\n101,2024,258,1830,1\n", 1, "does not start with an array id"),
    ("101,2024,258,1800,1\n101,2024,258,1875,1\n", None, "cannot find the time fields"),
    ("101,2024,258,1800,1\n\n101,2024,258,1830,x1\n", 3, "bad value"),
])
def test_malformed_files(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ParseError, match=message) as info:
        read_cr10x(path)
    if line is not None:
        assert info.value.line == line
    assert "data.dat" in str(info.value)


def test_bad_time_field_with_names(tmp_path):
    path = write(tmp_path, "101,2024,258,1800,1\n101,2024,258,1875,1\n")
    with pytest.raises(ParseError, match="bad hhmm value") as info:
        read_cr10x(path, columns={101: ["Year_RTM", "Day_RTM", "Hour_Minute_RTM", "x"]})
    assert info.value.line == 2 and info.value.column == "Hour_Minute_RTM"


def test_truncated_and_unterminated_last_lines(tmp_path):
    path = write(tmp_path, "101,2024,258,1800,1,2\n101,2024,258,1830,1,2\n101,2024,258,19")
    with pytest.warns(TruncatedRecordWarning, match=r"line 3: truncated last line left out \(expected 6"):
        ds = read_cr10x(path)
    assert ds.sizes["time"] == 2 and ds.attrs["truncated_lines"] == "3"
    path = write(tmp_path, "101,2024,258,1800,1,2\n101,2024,258,1830,1,2\n101,2024,258,1900,1,2")
    with pytest.warns(TruncatedRecordWarning, match="lacks its line terminator"):
        ds = read_cr10x(path)
    assert ds.sizes["time"] == 3 and "truncated_lines" not in ds.attrs
    path = write(tmp_path, "101,2024,258,1800,1,2\r\n\r\n101,2024,258,1830,1,2\r\n  \r\n")
    ds = quiet(read_cr10x, path)  # CRLF and blank lines
    assert ds.sizes["time"] == 2 and ds["field_6"].values.tolist() == [2, 2]


def test_sniff(tmp_path):
    reader = Cr10xReader()
    assert reader.sniff(MIXED.encode(), None)
    assert not reader.sniff(b"Year,Day,HHMM,T\n2024,258,1830,1\n", None)  # a header line: the table reader's
    assert not reader.sniff(b"1,2,3,4,5\n1,2,3,4,5\n1,2,3,4,5\n", None)  # 2-digit year, times not increasing
    assert not reader.sniff(b"1,2,3,4,5\n1,2,300,4,5\n1,2,367,4,5\n", None)  # not a day of year
    assert reader.sniff(b"1,24,3,4,5\n1,24,3,34,5\n1,24,3,104,5\n", None)  # 2-digit year, increasing
    assert not reader.sniff(b"101,2024,258,1830,1\n101,2024,258,1800,1\n101,2024,258,1900,1\n", None)  # back
    assert not reader.sniff(b"101,2024,258,1830,1\n", None)  # one line is too little evidence ...
    path = write(tmp_path, "101,2024,258,1830,1,2,3,4\n")
    assert not reader.sniff(read_head(path), path)
    write(tmp_path, DEF_TEXT, "Test.DEF")
    assert reader.sniff(read_head(path), path)  # ... unless a .DEF beside it defines the array
    assert not reader.sniff(b'"TOA5","x"\n', None) and not reader.sniff(b"\x00\x01\x02", None)
    assert not reader.sniff(b"2024-01-01,1,2\n2024-01-02,1,2\n2024-01-03,1,2\n", None)
    assert not reader.sniff(b"101,2024,258,1830,nan\n101,2024,258,1900,1\n101,2024,258,1930,1\n", None)
    assert get_reader(write(tmp_path, MIXED, "x.csv")).name == "cr10x"


# --------------------------------------------------------------------------------------------------
# the real file
# --------------------------------------------------------------------------------------------------


@pytest.fixture()
def wx(testdata):
    return testdata / "campbell" / "CR10X_array_WX_data.dat"


def test_wx_data_with_def(wx, tmp_path):
    with pytest.warns(TruncatedRecordWarning, match="line 10004: truncated last line left out"):
        ds = crac.read(wx)
    t = ds["time"].values
    assert t.size == 10003 and t[0] == T("2024-09-14T18:00") and t[-1] == T("2025-04-11T03:00")
    assert t[12] == T("2024-09-15T00:00") and t[13] == T("2024-09-15T00:30")  # DOY 258 2400, then DOY 259 30
    assert (np.diff(t) == np.timedelta64(30, "m")).all()  # through the 2024 -> 2025 year change
    assert list(ds.data_vars) == ["BattV_AVG", "Current_AVG", "Voltage_AVG", "NR_Wm2_AVG", "SlrW_AVG",
                                  "AirTC_AVG", "RH", "Pressure_AVG", "ITemp_C_AVG"]
    assert ds["BattV_AVG"].values[[0, 5001, 10002]].tolist() == [np.float32(13.61), np.float32(12.92),
                                                                 np.float32(12.6)]
    assert ds["Current_AVG"].values[0] == np.float32(0.427) and ds["Current_AVG"].values[5001] == np.float32(-0.033)
    nr = ds["NR_Wm2_AVG"].values
    assert np.isnan(nr[6932]) and nr[10002] == np.float32(366.1) and np.isnan(nr).sum() == 2002
    assert ds["AirTC_AVG"].values[5001] == np.float32(-18.27) and ds["RH"].values[0] == np.float32(96.5)
    assert ds["Pressure_AVG"].values[10002] == 1017
    assert ds.attrs["array_id"] == 101 and ds.attrs["table_name"] == "Output_Table"
    assert ds.attrs["column_names_from"] == "CR10X_array_OverWinter.DEF"
    assert ds.attrs["truncated_lines"] == "10004" and ds.attrs["file_format"] == "CR10X"
    assert ds["time"].attrs["original_name"] == "Year_RTM, Day_RTM, Hour_Minute_RTM"
    with pytest.warns(TruncatedRecordWarning):
        tree = crac.read_tree(wx)
    assert list(tree.children) == ["array_101"]
    xr.testing.assert_identical(tree["array_101"].to_dataset(), ds)
    with pytest.warns(TruncatedRecordWarning):
        tr = Cr10xReader().time_range(wx)
    assert (tr.first, tr.last, tr.n) == (T("2025-04-11T03:00") - np.timedelta64(10002 * 30, "m"),
                                         T("2025-04-11T03:00"), 10003)
    assert_round_trip(ds, tmp_path)


def test_wx_data_without_def(wx, tmp_path):
    alone = tmp_path / wx.name
    shutil.copy(wx, alone)
    with pytest.warns(TruncatedRecordWarning):
        ds = read_cr10x(alone)
    assert ds.sizes["time"] == 10003 and ds.attrs["column_names_from"] == "generic"
    assert ds["field_5"].values[0] == np.float32(13.61) and np.isnan(ds["field_8"].values[6932])
    assert get_reader(alone).name == "cr10x"  # sniffed from the values alone


def test_real_files_sniffed(testdata):
    for path in sorted(testdata.rglob("*")):
        if path.is_file():
            hit = Cr10xReader().sniff(read_head(path), path)
            assert hit == (path.name == "CR10X_array_WX_data.dat"), path
