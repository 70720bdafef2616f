"""Campbell TOA5 reader: real sample files (../shared/testdata) and small generated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from formats_helpers import best_time, quiet

import crac_tools as crac
from crac_tools.errors import ParseError, TruncatedRecordWarning, UnknownFormatError
from crac_tools.formats.toa5 import Toa5Reader, read_toa5

T = np.datetime64

# --------------------------------------------------------------------------------------------------
# generated files
# --------------------------------------------------------------------------------------------------

HEADER = [
    '"TOA5","St1","CR1000X","1234","CR1000X.Std.08.01","CPU:test.cr1x","999","Tab"',
    '"TIMESTAMP","RECORD","a","b","s"',
    '"TS","RN","m/s","degC",""',
    '"","","Avg","Smp","Smp"',
]


def row(i: int, a: str = "1.5", b: str = "2", s: str = '"x"') -> str:
    return f'"2024-01-01 00:00:{i:02d}",{i},{a},{b},{s}'


def write(tmp_path: Path, lines: list[str], name: str = "t.dat", newline: str = "\n", bom: bool = False,
          terminated: bool = True, encoding: str = "utf-8") -> Path:
    text = newline.join(lines) + (newline if terminated else "")
    data = text.encode(encoding)
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def test_generated_basic(tmp_path):
    path = write(tmp_path, HEADER + [row(i) for i in range(3)])
    ds = quiet(read_toa5, path)
    assert ds.sizes["time"] == 3
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    assert ds["time"].values[-1] == T("2024-01-01T00:00:02")
    assert ds["RECORD"].dtype == np.int64
    assert ds["RECORD"].values.tolist() == [0, 1, 2]
    assert ds["a"].dtype == np.float32 and ds["a"].values[0] == np.float32(1.5)
    assert ds["b"].dtype == np.int32
    assert ds["s"].values.tolist() == ["x", "x", "x"]
    assert ds["a"].attrs == {"units": "m/s", "process": "Avg", "long_name": "a (Avg)"}
    assert ds["s"].attrs == {"process": "Smp", "long_name": "s (Smp)"}  # empty units omitted
    assert ds.attrs["station_name"] == "St1" and ds.attrs["table_name"] == "Tab"
    assert ds.attrs["source_file"] == "t.dat"
    assert "truncated_lines" not in ds.attrs


def test_crlf_lf_and_bom_give_the_same_dataset(tmp_path):
    lines = HEADER + [row(i) for i in range(4)]
    for sub in "xyz":
        (tmp_path / sub).mkdir()  # same file name in each: source_file attrs agree
    lf = quiet(read_toa5, write(tmp_path / "x", lines))
    crlf = quiet(read_toa5, write(tmp_path / "y", lines, newline="\r\n"))
    bom_path = write(tmp_path / "z", lines, newline="\r\n", bom=True)
    bom = quiet(read_toa5, bom_path)
    xr.testing.assert_identical(lf, crlf)
    xr.testing.assert_identical(lf, bom)
    assert Toa5Reader().sniff(bom_path.read_bytes()[:100], bom_path)
    assert crac.read(bom_path).attrs["file_format"] == "TOA5"


def test_trailing_empty_lines_ignored(tmp_path):
    path = write(tmp_path, HEADER + [row(0), row(1), "", "", ""], newline="\r\n")
    assert quiet(read_toa5, path).sizes["time"] == 2


def test_inf_nan_sentinels(tmp_path):
    lines = HEADER + [row(0, a="INF", b='"NAN"'), row(1, a='"-INF"', b="3"), row(2, a='"INF"', b="NAN"),
                      row(3, a="NaN", b="4")]
    ds = quiet(read_toa5, write(tmp_path, lines))
    a = ds["a"].values
    assert a[0] == np.inf and a[1] == -np.inf and a[2] == np.inf and np.isnan(a[3])
    # an integer column holding NAN becomes float with NaN
    assert ds["b"].dtype.kind == "f"
    assert np.isnan(ds["b"].values[0]) and np.isnan(ds["b"].values[2]) and ds["b"].values[3] == 4
    assert np.isnan(ds["b"].encoding["_FillValue"])


def test_column_kinds_from_quoting(tmp_path):
    header = list(HEADER)
    header[1] = '"TIMESTAMP","RECORD","num_text","all_nan","t_max","bits","late_float"'
    header[2] = '"TS","RN","","degC","degC","",""'
    header[3] = '"","","Smp","Avg","TMx","Smp","Smp"'
    lines = [f'"2024-01-01 00:{i // 60:02d}:{i % 60:02d}",{i},"142857","NAN","2024-01-01 00:00:00.{i % 10}",'
             f'"00000000",{i}' for i in range(70)]
    lines[65] = lines[65].rsplit(",", 1)[0] + ",2.25"  # a float after the sampled lines
    ds = quiet(read_toa5, write(tmp_path, header + lines))
    assert ds["num_text"].dtype == object and ds["num_text"].values[0] == "142857"
    assert ds["bits"].values[0] == "00000000"
    assert ds["all_nan"].dtype.kind == "f" and np.isnan(ds["all_nan"].values).all()
    assert ds["t_max"].dtype == np.dtype("datetime64[ns]")
    assert ds["t_max"].attrs["units"] == "degC"
    assert ds["t_max"].values[3] == T("2024-01-01T00:00:00.3")
    assert ds["late_float"].dtype.kind == "f" and ds["late_float"].values[65] == 2.25
    assert ds["late_float"].values[64] == 64


def test_float32_or_float64(tmp_path):
    lines = HEADER + [row(0, a="0.123456789", b="1.016"), row(1, a="1", b="-39.93"),
                      row(2, a="2", b="4.09545187592563E-312")]
    ds = quiet(read_toa5, write(tmp_path, lines))
    assert ds["a"].dtype == np.float64 and ds["a"].values[0] == 0.123456789
    assert ds["b"].dtype == np.float64  # the denormal needs float64
    lines = HEADER + [row(0, a="1.016", b="9999999"), row(1, a="-39.93", b="0.0000001")]
    ds = quiet(read_toa5, write(tmp_path, lines))
    assert ds["a"].dtype == np.float32 and ds["b"].dtype == np.float32


def test_truncated_last_line_is_left_out(tmp_path):
    lines = HEADER + [row(0), row(1), row(2), '"2024-01-01 00:00:03",3,1.']
    path = write(tmp_path, lines, terminated=False)
    with pytest.warns(TruncatedRecordWarning, match=r"line 8: truncated last line left out "
                                                    r"\(expected 5 fields, found 3\)"):
        ds = read_toa5(path)
    assert ds.sizes["time"] == 3
    assert ds.attrs["truncated_lines"] == "8"
    assert ds["time"].values[-1] == T("2024-01-01T00:00:02")
    tr = Toa5Reader().time_range(path)
    assert tr.first == T("2024-01-01T00:00:00") and tr.last == T("2024-01-01T00:00:02")


def test_truncated_last_line_with_cut_value(tmp_path):
    # all fields present but the last value cut short ("-" of "-1.5", or an unclosed quote)
    header = [*HEADER[:1], '"TIMESTAMP","RECORD","s","a"', '"TS","RN","",""', '"","","Smp","Smp"']
    for name, cut in (("num.dat", '"2024-01-01 00:00:02",2,"x",-'), ("str.dat", '"2024-01-01 00:00:02",2,"x')):
        lines = [*header, '"2024-01-01 00:00:00",0,"x",1.5', '"2024-01-01 00:00:01",1,"x",2.5', cut]
        path = write(tmp_path, lines, terminated=False, name=name)
        with pytest.warns(TruncatedRecordWarning, match="line 7: truncated last line left out"):
            ds = read_toa5(path)
        assert ds.sizes["time"] == 2 and ds.attrs["truncated_lines"] == "7"
    # a bad value before the last field of an unterminated last line is an error, not a truncation
    lines = [*header, '"2024-01-01 00:00:00",0,"x",1.5', '"2024-01-01 00:00:01",x,"x",2.5']
    with pytest.raises(ParseError, match="line 6, column 'RECORD'"):
        read_toa5(write(tmp_path, lines, terminated=False, name="bad.dat"))


def test_unterminated_complete_last_line_is_kept(tmp_path):
    path = write(tmp_path, HEADER + [row(0), row(1)], newline="\r\n", terminated=False)
    with pytest.warns(TruncatedRecordWarning, match="line 6: last line lacks its line terminator"):
        ds = read_toa5(path)
    assert ds.sizes["time"] == 2 and ds["RECORD"].values[-1] == 1
    assert "truncated_lines" not in ds.attrs


def test_bad_token_mid_file(tmp_path):
    lines = HEADER + [row(i) for i in range(10)]
    lines[4 + 6] = row(6, a="1x1")  # file line 11
    with pytest.raises(ParseError) as info:
        read_toa5(write(tmp_path, lines))
    err = info.value
    assert err.line == 11 and err.column == "a" and err.found == "'1x1'"
    assert "t.dat, line 11, column 'a'" in str(err) and "a number" in str(err)


def test_bad_token_in_int_column_after_sample(tmp_path):
    lines = HEADER + [row(i % 60) for i in range(80)]
    lines[4 + 70] = row(10, b="abc")  # file line 75
    with pytest.raises(ParseError, match=r"line 75, column 'b'.*expected a number, found 'abc'"):
        read_toa5(write(tmp_path, lines))


def test_bad_timestamp_mid_file(tmp_path):
    lines = HEADER + [row(i) for i in range(5)]
    lines[4 + 2] = lines[4 + 2].replace("2024-01-01 00:00:02", "yesterday")
    with pytest.raises(ParseError, match=r"line 7, column 'TIMESTAMP'.*expected a timestamp"):
        read_toa5(write(tmp_path, lines))


def test_wrong_field_count_mid_file(tmp_path):
    lines = HEADER + [row(i) for i in range(6)]
    lines[4 + 3] = '"2024-01-01 00:00:03",3,1.5'  # file line 8
    with pytest.raises(ParseError) as info:
        read_toa5(write(tmp_path, lines))
    assert info.value.line == 8 and "expected 5 fields, found 3" in str(info.value)


def test_wrong_field_count_after_blank_line(tmp_path):
    lines = HEADER + [row(0), "", row(1), '"2024-01-01 00:00:03",3', row(4)]
    with pytest.raises(ParseError) as info:
        read_toa5(write(tmp_path, lines, newline="\r\n"))
    assert info.value.line == 8


def test_header_only_file(tmp_path):
    for terminated in (True, False):
        ds = quiet(read_toa5, write(tmp_path, HEADER, terminated=terminated))
        assert ds.sizes["time"] == 0
        assert set(ds.data_vars) == {"RECORD", "a", "b", "s"}
        assert ds["time"].dtype == np.dtype("datetime64[ns]") and ds["RECORD"].dtype == np.int64
        assert ds["a"].attrs["units"] == "m/s"
    tr = Toa5Reader().time_range(write(tmp_path, HEADER))
    assert tr.n == 0 and np.isnat(tr.first)


def test_header_problems(tmp_path):
    with pytest.raises(ParseError, match=r"line 3: incomplete TOA5 header") as info:
        read_toa5(write(tmp_path, HEADER[:2]))
    assert info.value.line == 3
    bad_units = [HEADER[0], HEADER[1], '"TS","RN","m/s"', HEADER[3], row(0)]
    with pytest.raises(ParseError, match=r"line 3: the units line.*expected 5 fields.*found 3 fields"):
        read_toa5(write(tmp_path, bad_units))
    bad_proc = [HEADER[0], HEADER[1], HEADER[2], '"","","Avg","Smp","Smp","Smp"', row(0)]
    with pytest.raises(ParseError, match=r"line 4: the processing line"):
        read_toa5(write(tmp_path, bad_proc))


def test_stray_cr_in_header_line(tmp_path):
    lines = [HEADER[0], '"TIMESTAMP","RECORD",a\rb', HEADER[2], HEADER[3], row(0)]
    path = write(tmp_path, lines)
    with pytest.raises(ParseError, match=r"t\.dat, line 2: unreadable header line") as info:
        read_toa5(path)
    assert info.value.path == str(path) and info.value.line == 2


def test_table_argument(tmp_path):
    path = write(tmp_path, HEADER + [row(0)])
    assert Toa5Reader().read(path, table="Tab").sizes["time"] == 1
    with pytest.raises(ParseError, match=r"holds table 'Tab', not 'Other'"):
        crac.read(path, table="Other")


def test_unknown_format_names_the_file(tmp_path):
    path = tmp_path / "notes.dat"
    path.write_text("TIMESTAMP,a\n2024-01-01 00:00:00,1\n")
    with pytest.raises(UnknownFormatError, match="notes.dat") as info:
        crac.read(path)
    assert "toa5" in info.value.tried


def test_netcdf_names(tmp_path):
    header = list(HEADER)
    header[1] = '"TIMESTAMP","RECORD","temp(1)","a/b","_x"'
    ds = quiet(read_toa5, write(tmp_path, header + [row(0)]))
    assert "temp(1)" in ds and "original_name" not in ds["temp(1)"].attrs
    assert ds["a_b"].attrs["original_name"] == "a/b"
    assert "_x" in ds


def test_unnamed_column_is_named_by_its_place_in_the_file(tmp_path):
    header = list(HEADER)
    header[1] = '"TIMESTAMP","RECORD","a","","s"'  # the time column counts: the 4th column is column_4
    ds = quiet(read_toa5, write(tmp_path, header + [row(0)]))
    assert list(ds.data_vars) == ["RECORD", "a", "column_4", "s"]
    assert ds["column_4"].attrs["original_name"] == ""


def test_latin1_file(tmp_path):
    header = list(HEADER)
    header[2] = '"TS","RN","m/s","°C",""'
    path = write(tmp_path, header + [row(0, s='"é"')], encoding="latin-1")
    ds = quiet(read_toa5, path)
    assert ds["b"].attrs["units"] == "°C" and ds["s"].values[0] == "é"


def test_read_tree_and_time_range(tmp_path):
    path = write(tmp_path, HEADER + [row(i) for i in range(5)])
    tree = Toa5Reader().read_tree(path)
    assert list(tree.children) == ["Tab"]
    xr.testing.assert_identical(tree["Tab"].to_dataset(), read_toa5(path))
    tr = Toa5Reader().time_range(path)
    assert (tr.first, tr.last, tr.n) == (T("2024-01-01T00:00:00"), T("2024-01-01T00:00:04"), None)


# --------------------------------------------------------------------------------------------------
# real files
# --------------------------------------------------------------------------------------------------


def test_station_daily(testdata):
    path = testdata / "campbell" / "Station_Daily.dat"
    ds = quiet(read_toa5, path)
    assert ds.sizes["time"] == 57
    assert ds["time"].values[0] == T("2014-04-11T00:00:00")
    assert ds["time"].values[-1] == T("2014-06-06T00:00:00")
    assert ds.attrs == {
        "file_format": "TOA5", "station_name": "Station", "logger_model": "CR1000", "logger_serial": "12345",
        "logger_os": "CR1000.Std.25", "program_name": "CPU:Gibberish.CR1", "program_signature": "54321",
        "table_name": "Daily", "source_file": "Station_Daily.dat",
    }
    assert ds["RECORD"].values.tolist() == list(range(57))
    assert ds["Batt_Min"].dtype == np.float32
    assert ds["Batt_Min"].values[0] == np.float32(13.04)
    assert ds["Batt_Min"].attrs == {"units": "Volts", "process": "Min", "long_name": "Batt_Min (Min)"}
    assert ds["AirT_Min"].values[29] == np.float32(-39.93)
    assert ds["BaromPres_Min"].values[29] == 450
    assert np.isnan(ds["WaterLvl_Min"].values[29]) and ds["WaterLvl_Min"].values[0] == np.float32(0.559)
    assert ds["Rain_Tot"].values[2] == np.float32(0.508)
    tmx = ds["AirT_TMx"]
    assert tmx.dtype == np.dtype("datetime64[ns]") and tmx.attrs["units"] == "Deg C"
    assert tmx.values[0] == T("2014-04-10T17:15:00") and tmx.values[28] == T("2014-05-08T14:45:00")
    tr = Toa5Reader().time_range(path)
    assert (tr.first, tr.last) == (T("2014-04-11"), T("2014-06-06"))


def test_bbs_flux_subsecond_times(testdata):
    ds = quiet(read_toa5, testdata / "campbell" / "TOA5_BBS.FLUX_2023_08_01_1530.dat")
    t = ds["time"].values
    assert t.size == 18000
    assert t[0] == T("2023-08-01T15:00:00.2") and t[-1] == T("2023-08-01T15:30:00.1")
    assert t[-2] == T("2023-08-01T15:30:00")  # written as '15:30:00' without fraction
    assert (np.diff(t) == np.timedelta64(100, "ms")).all()  # every varying-precision stamp exact
    assert ds["RECORD"].values[0] == 9455403 and ds["RECORD"].values[-1] == 9473402
    assert ds["RECORD"].dtype == np.int64
    assert ds["Ux"].dtype == np.float32 and ds["Ux"].values[0] == np.float32(1.016)
    assert ds["Uz"].values[9000] == np.float32(-0.12225)
    assert ds["CO2"].values[-1] == np.float32(715.4084) and ds["CO2"].attrs["units"] == "mg/m3"
    assert ds["sonic_diag"].dtype.kind == "i" and ds["irga_diag"].values[0] == 249
    assert ds.attrs["table_name"] == "FLUX" and ds.attrs["logger_serial"] == "9816"


def test_cardconvert_tob1_pair(testdata):
    ds = quiet(read_toa5, testdata / "campbell" / "TOA5_TOB1_full27_2026_02_19_0946.dat")
    t = ds["time"].values
    assert t.size == 61
    assert t[0] == T("2026-02-19T09:46:17.100") and t[1] == T("2026-02-19T09:46:17.105")
    assert t[2] == T("2026-02-19T09:46:17.110") and t[-1] == T("2026-02-19T09:46:17.400")
    assert ds["RECORD"].values[0] == 5351 and ds["RECORD"].values[-1] == 5411
    assert np.isnan(ds["temp(1)"].values[0]) and ds["temp(1)"].values[30] == np.float32(0.196)
    assert ds["temp(1)"].attrs["units"] == "degC"
    assert ds["temp(2)"].dtype == np.float32 and ds["temp(2)"].values[0] == np.float32(0.5542219)
    assert ds["temp_Avg(3)"].dtype == np.float64
    assert ds["temp_Avg(3)"].values[0] == 4.09545187592563e-312  # denormal kept exactly
    assert np.isnan(ds["temp_Avg(1)"].values).all()
    assert ds["temp(5)"].values[30] == 26876000
    assert np.isnan(ds["temp_Max(1)"].values[0]) and ds["temp_Max(1)"].values[60] == np.float32(1.049)
    assert ds["temp_TMx(1)"].dtype == np.dtype("datetime64[ns]")
    assert ds["temp_TMx(1)"].values[30] == T("2026-02-19T09:46:17.247")
    assert ds["text_val_2"].dtype == object and ds["text_val_2"].values[0] == "142857"
    assert ds["text_val"].values[0] == "64291"
    assert ds["temp_bool8(1)"].values[0] == "00000000" and ds["temp_bool8(1)"].values[1] == "11111111"
    assert ds["toggle"].values[:3].tolist() == [-1, -1, 0]
    assert ds.attrs["table_name"] == "TOB1_Full" and ds.attrs["logger_model"] == "CR1000X"


def test_cardconvert_tob3_pair(testdata):
    path = testdata / "campbell" / "TOA5_TOB3_long27_2026_02_19_0946.dat"
    ds = quiet(read_toa5, path)
    t = ds["time"].values
    assert t.size == 79 and t[0] == T("2026-02-19T09:46:17.005") and t[-1] == T("2026-02-19T09:46:17.4")
    assert ds["temp(3)"].dtype == np.float64 and ds["temp(3)"].values[0] == -0.471105068922043
    assert ds["temp(2)"].dtype == np.float32 and ds["temp(2)"].values[39] == np.float32(0.573)
    assert np.isnan(ds["temp(1)"].values[39]) and ds["temp(1)"].values[0] == np.float32(-0.4282773)
    assert ds["temp(4)"].values[78] == 8116
    assert ds["rand"].values[78] == np.float32(0.9851874) and "units" not in ds["rand"].attrs
    assert ds["text_val_3"].values[0] == "314159"
    tr = Toa5Reader().time_range(path)
    assert (tr.first, tr.last) == (T("2026-02-19T09:46:17.005"), T("2026-02-19T09:46:17.4"))


# --------------------------------------------------------------------------------------------------
# performance
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_day_at_1hz_is_fast(tmp_path):
    n, ncol = 86_400, 20
    rng = np.random.default_rng(1)
    stamps = (T("2024-03-01") + np.arange(n).astype("timedelta64[s]")).astype(str)
    stamps = np.char.add(np.char.add('"', np.char.replace(stamps, "T", " ")), '"')
    cols = [stamps, np.arange(n).astype(str)] + [np.round(rng.normal(10, 5, n), 3).astype(str)
                                                 for _ in range(ncol)]
    body = "\n".join(",".join(r) for r in np.column_stack(cols).tolist())
    names = ",".join(f'"v{i}"' for i in range(ncol))
    header = [HEADER[0], f'"TIMESTAMP","RECORD",{names}', '"TS","RN"' + ',"degC"' * ncol,
              '"",""' + ',"Smp"' * ncol]
    path = tmp_path / "day.dat"
    path.write_text("\n".join(header) + "\n" + body + "\n")
    read_toa5(path)  # warm up imports
    best = best_time(read_toa5, path)
    ds = read_toa5(path)
    assert ds.sizes["time"] == n and ds["v0"].dtype == np.float32
    assert best < 0.5, f"one 1 Hz day took {best:.3f} s"



def test_bad_token_in_a_large_file_is_located_with_threads(tmp_path):
    """Files over 4 MB are parsed with pyarrow threads; a bad token is still reported with its exact line."""
    import pandas as pd

    from crac_tools.simulate import sonic_columns, toa5_bytes

    t = pd.date_range("2024-01-01", periods=120_000, freq="1s")
    lines = toa5_bytes(t, sonic_columns(t, seed=3), station="x", table="T").split(b"\r\n")
    assert sum(len(x) for x in lines) > 4 << 20
    fields = lines[100_004].split(b",")
    fields[3] = b"9x9"
    lines[100_004] = b",".join(fields)
    path = tmp_path / "TOA5_big_bad.dat"
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(ParseError) as err:
        crac.read(path)
    assert err.value.line == 100_005 and err.value.found and "9x9" in err.value.found
    # the same file without the bad token: threaded and single-threaded parses agree exactly
    lines[100_004] = b",".join(fields[:3] + [b"1.5"] + fields[4:])
    path.write_bytes(b"\r\n".join(lines))
    threaded, single = crac.read(path), crac.read(path, use_threads=False)
    xr.testing.assert_identical(threaded, single)
    assert threaded.sizes["time"] == 120_000
