"""ICARTT reader: real sample files (../shared/testdata) and small generated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from formats_helpers import assert_round_trip, best_time, numbered_rows, quiet

import crac_tools as crac
from crac_tools.errors import DataQualityWarning, ParseError, TruncatedRecordWarning
from crac_tools.formats.icartt import IcarttReader, read_icartt
from crac_tools.formats.registry import get_reader

T = np.datetime64

# --------------------------------------------------------------------------------------------------
# generated files
# --------------------------------------------------------------------------------------------------

NCOM = ["PI_CONTACT_INFO: jane@example.org", "PLATFORM: NASA DC-8", "LOCATION: on board",
        "ASSOCIATED_DATA: N/A", "INSTRUMENT_INFO: UV photometer", "DATA_INFO: 1 s averages", "UNCERTAINTY: 5%",
        "ULOD_FLAG: -7777", "ULOD_VALUE: 500", "LLOD_FLAG: -8888", "LLOD_VALUE: 0.5, 1", "DM_CONTACT_INFO: N/A",
        "PROJECT_INFO: TEST", "STIPULATIONS_ON_USE: none", "OTHER_COMMENTS: line one", "\tline two",
        "REVISION:R1", "R1: second revision", "R0: first revision"]


def ict_1001(rows: list[str], version: str | None = None, nlhead: int | None = None, date: str = "2020, 06, 30",
             xname: str = "Start_UTC, s, start of the average", sep: str = ", ",
             vnames: tuple[str, ...] = ("O3, ppbv, ozone mixing ratio", "CO, ppbv, carbon monoxide")) -> str:
    ncom = [*NCOM, sep.join(["Start_UTC", "O3", "CO"])]
    lines = ["Doe, Jane", "NASA Langley", "UV photometer on the DC-8", "TESTMISSION", sep.join(["1", "1"]),
             sep.join([*date.split(", "), "2021", "01", "15"]), "1", xname, str(len(vnames)),
             sep.join(["1", "0.1"]), sep.join(["-9999", "-99999"]), *vnames, "1", "Instrument warm-up until 36000",
             str(len(ncom)), *ncom]
    first = sep.join([str(nlhead or len(lines) + 1), "1001", *([version] if version else [])])
    return "\n".join([first, *lines, *rows]) + "\n"


def ict_2110(records: list[tuple[float, float, list[tuple]]]) -> str:
    ncom = [*NCOM, "Start_UTC, NumAlts, Lat, Altitude, O3, T"]
    lines = ["Doe, Jane", "NASA Langley", "Ozone lidar", "TESTMISSION", "1, 1", "2020, 06, 30, 2021, 01, 15",
             "0, 0", "Altitude, m, altitude above sea level", "Start_UTC, s, start", "2", "1, 1", "-9999, -9999",
             "O3, ppbv, ozone", "T, K, temperature", "2", "1, 1", "-9999, -9999",
             "NumAlts, none, number of altitudes", "Lat, deg, latitude", "0", str(len(ncom)), *ncom]
    rows = []
    for t, lat, levels in records:
        rows.append(f"{t}, {len(levels)}, {lat}")
        rows += [", ".join(str(v) for v in lev) for lev in levels]
    return "\n".join([f"{len(lines) + 1}, 2110", *lines, *rows]) + "\n"


def write(tmp_path: Path, text: str, name: str = "t.ict") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


ROWS = ["86390, 40.5, 1200", "86399, -7777, 1300", "86400, -8888, -99999", "90000, -9999, 50"]


def test_generated_1001_values_time_and_flags(tmp_path):
    path = write(tmp_path, ict_1001(ROWS))
    assert IcarttReader().sniff(path.read_bytes()[:4096], path)
    assert get_reader(path).name == "icartt"
    ds = quiet(read_icartt, path)
    # date of data collection + seconds, also past midnight (> 86400 s)
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    assert ds["time"].values.tolist() == [T(x, "ns").astype(int) for x in (
        "2020-06-30T23:59:50", "2020-06-30T23:59:59", "2020-07-01T00:00:00", "2020-07-01T01:00:00")]
    assert ds["time"].attrs["original_name"] == "Start_UTC"
    # ULOD / LLOD / missing -> NaN, kept in the flag variable
    np.testing.assert_array_equal(ds["O3"].values, [40.5, np.nan, np.nan, np.nan])
    assert ds["O3_flag"].dtype == np.int8
    assert ds["O3_flag"].values.tolist() == [0, 3, 2, 1]
    assert ds["O3_flag"].attrs["flag_values"].tolist() == [0, 1, 2, 3]
    assert ds["O3_flag"].attrs["flag_meanings"].split() == [
        "valid", "missing", "below_lower_detection_limit", "above_upper_detection_limit"]
    assert ds["O3"].attrs["ancillary_variables"] == "O3_flag"
    assert ds["O3"].attrs["units"] == "ppbv" and ds["O3"].attrs["long_name"] == "ozone mixing ratio"
    assert ds["O3"].attrs["llod_value"] == 0.5 and ds["O3"].attrs["ulod_value"] == 500.0
    # scale factor 0.1 applied; missing -99999 compared before scaling
    np.testing.assert_allclose(ds["CO"].values, [120.0, 130.0, np.nan, 5.0])
    assert ds["CO"].attrs["applied_scale_factor"] == 0.1
    assert "CO_flag" not in ds  # no detection-limit flags in CO
    assert ds["CO"].encoding["_FillValue"] == pytest.approx(-9999.9)


def test_generated_1001_header_attrs(tmp_path):
    ds = quiet(read_icartt, write(tmp_path, ict_1001(ROWS)))
    a = ds.attrs
    assert a["file_format"] == "icartt" and a["ffi"] == 1001
    assert a["originator"] == "Doe, Jane" and a["organization"] == "NASA Langley"
    assert a["data_source"] == "UV photometer on the DC-8" and a["mission"] == "TESTMISSION"
    assert a["data_date"] == "2020-06-30" and a["revision_date"] == "2021-01-15"
    assert a["data_interval"] == 1.0
    assert a["special_comments"] == "Instrument warm-up until 36000"
    assert a["PLATFORM"] == "NASA DC-8"
    assert a["PI_CONTACT_INFO"] == "jane@example.org"
    assert a["OTHER_COMMENTS"] == "line one\nline two"  # continuation line
    assert a["REVISION"] == "R1"  # 'REVISION:R1' without a blank
    assert a["R0"] == "first revision" and a["R1"] == "second revision"
    assert a["ULOD_FLAG"] == "-7777" and a["LLOD_VALUE"] == "0.5, 1"
    assert a["column_names"] == "Start_UTC, O3, CO"
    assert "Start_UTC, O3, CO" not in a["R0"]


def test_icartt_v2_variable_lines(tmp_path):
    text = ict_1001(ROWS[:1], version="V02_2016",
                    xname="Start_UTC, seconds, Time_Start, start of the average",
                    vnames=("O3, ppbv, O3_UV, Ozone mixing ratio", "CO, ppbv, CO_QCL"))
    ds = quiet(read_icartt, write(tmp_path, text))
    assert ds.attrs["format_version"] == "V02_2016"
    assert ds["O3"].attrs["icartt_standard_name"] == "O3_UV"
    assert ds["O3"].attrs["long_name"] == "Ozone mixing ratio"
    assert ds["CO"].attrs["long_name"] == "CO_QCL"
    assert ds["time"].values[0] == T("2020-06-30T23:59:50")


def test_whitespace_icartt(tmp_path):
    """Old NASA Ames-style ICARTT: blanks instead of commas. Sniffed as NASA Ames; format='icartt' works."""
    rows = [r.replace(",", "") for r in ROWS]
    path = write(tmp_path, ict_1001(rows, sep=" ", vnames=("O3", "CO")))
    assert not IcarttReader().sniff(path.read_bytes()[:4096], path)
    assert get_reader(path).name == "nasa_ames"
    ds = quiet(read_icartt, path)
    np.testing.assert_array_equal(ds["O3"].values, [40.5, np.nan, np.nan, np.nan])
    assert ds["O3_flag"].values.tolist() == [0, 3, 2, 1]
    assert ds.attrs["PLATFORM"] == "NASA DC-8"
    other = quiet(crac.read, path)
    assert other.attrs["file_format"] == "nasa_ames"
    np.testing.assert_array_equal(other["O3_flag"].values, ds["O3_flag"].values)
    np.testing.assert_array_equal(other["time"].values, ds["time"].values)


def test_whitespace_2110_name_units_lines(tmp_path):
    text = ict_2110([(3600, 45.0, [(100, 40, 280)]), (3660, 45.0, [(100, 41, 281)])]).replace(",", "")
    ds = quiet(read_icartt, write(tmp_path, text))
    assert dict(ds.sizes) == {"time": 2, "Altitude": 1}
    assert ds["O3"].attrs["units"] == "ppbv" and ds["O3"].attrs["long_name"] == "ozone"
    assert ds["Altitude"].attrs["units"] == "m"
    assert ds["O3"].values[:, 0].tolist() == [40, 41]


def test_crlf_no_final_newline(tmp_path):
    text = ict_1001(ROWS).replace("\n", "\r\n").rstrip("\r\n")
    ds = quiet(read_icartt, write(tmp_path, text))
    assert ds.sizes["time"] == 4
    assert ds.attrs["PLATFORM"] == "NASA DC-8"


def test_mid_time_and_fractional_seconds(tmp_path):
    rows = ["57896.5, 1, 2", "57897.25, 1, 2"]
    ds = quiet(read_icartt, write(tmp_path, ict_1001(rows, xname="Time_Mid, s, seconds since midnight")))
    assert ds["time"].values.tolist() == [T("2020-06-30T16:04:56.500", "ns").astype(int),
                                          T("2020-06-30T16:04:57.250", "ns").astype(int)]
    assert ds["time"].attrs["original_name"] == "Time_Mid"


def test_2110_profiles(tmp_path):
    path = write(tmp_path, ict_2110([(3600, 45.0, [(100, 40, 280), (200, 41, 279), (300, -9999, 278)]),
                                     (3660, 45.1, [(100, 42, 281), (200, -8888, 280)])]))
    assert get_reader(path).name == "icartt"
    ds = quiet(read_icartt, path)
    assert dict(ds.sizes) == {"time": 2, "Altitude": 3}
    assert ds["Altitude"].values.tolist() == [100.0, 200.0, 300.0]
    assert ds["Altitude"].attrs["units"] == "m"
    assert ds["time"].values.tolist() == [T("2020-06-30T01:00", "ns").astype(int),
                                          T("2020-06-30T01:01", "ns").astype(int)]
    assert ds["O3"].dims == ("time", "Altitude")
    np.testing.assert_array_equal(ds["O3"].values, [[40, 41, np.nan], [42, np.nan, np.nan]])
    assert ds["O3_flag"].values.tolist() == [[0, 0, 1], [0, 2, 1]]  # the unfilled cell counts as missing
    np.testing.assert_array_equal(ds["T"].values, [[280, 279, 278], [281, 280, np.nan]])
    assert ds["Lat"].dims == ("time",) and ds["Lat"].values.tolist() == [45.0, 45.1]
    assert ds["NumAlts"].values.tolist() == [3, 2]
    assert ds.attrs["data_interval"].tolist() == [0.0, 0.0]
    assert ds.attrs["column_names"].startswith("Start_UTC, NumAlts")


def test_2110_sparse_levels_use_an_index_dimension(tmp_path):
    records = [(3600 + 60 * i, 45.0, [(1000 * i + 1, i, 280), (1000 * i + 2, i, 279)]) for i in range(6)]
    ds = quiet(read_icartt, write(tmp_path, ict_2110(records)))
    assert dict(ds.sizes) == {"time": 6, "Altitude_index": 2}
    assert ds["Altitude"].dims == ("time", "Altitude_index")
    assert ds["Altitude"].values[5].tolist() == [5001.0, 5002.0]
    assert ds["O3"].values[:, 0].tolist() == [0, 1, 2, 3, 4, 5]


def test_2110_varying_counts_fast_and_slow_paths_agree(tmp_path):
    same = [(3600 + i, 1.0, [(100, i, 1), (200, i, 2)]) for i in range(4)]
    ds = quiet(read_icartt, write(tmp_path, ict_2110(same), "same.ict"))
    assert ds["O3"].values[:, 1].tolist() == [0, 1, 2, 3]
    varied = same[:2] + [(3602, 1.0, [(100, 2, 1)]), (3603, 1.0, [(100, 3, 1), (200, 3, 2)])]
    ds2 = quiet(read_icartt, write(tmp_path, ict_2110(varied), "varied.ict"))
    np.testing.assert_array_equal(ds2["O3"].values[:, 1], [0, 1, np.nan, 3])


# --------------------------------------------------------------------------------------------------
# malformed input
# --------------------------------------------------------------------------------------------------


def test_truncated_header(tmp_path):
    text = ict_1001(ROWS, nlhead=40)
    path = write(tmp_path, "\n".join(text.split("\n")[:12]) + "\n")
    with pytest.raises(ParseError, match="NLHEAD says 40 lines, the file has 12") as err:
        read_icartt(path)
    assert err.value.line == 13


def test_nlhead_past_end_of_file(tmp_path):
    text = ict_1001([], nlhead=60)
    with pytest.raises(ParseError, match="truncated header: NLHEAD says 60 lines") as err:
        read_icartt(write(tmp_path, text))
    assert err.value.line is not None


def test_non_numeric_token(tmp_path):
    text = ict_1001(["100, 1.5, 2", "101, abc, 3", "102, 1, 2"])
    with pytest.raises(ParseError) as err:
        read_icartt(write(tmp_path, text))
    nlhead = int(text.split(",")[0])
    assert err.value.line == nlhead + 2
    assert err.value.column == "O3" and err.value.found == "'abc'"


def test_wrong_number_of_values(tmp_path):
    text = ict_1001(["100, 1.5, 2", "101, 1.5", "102, 1, 2"])
    with pytest.raises(ParseError, match="wrong number of values") as err:
        read_icartt(write(tmp_path, text))
    nlhead = int(text.split(",")[0])
    assert err.value.line == nlhead + 2
    assert err.value.expected == "3 values" and err.value.found == "2"


def test_trailing_commas_and_empty_fields(tmp_path):
    ds = quiet(read_icartt, write(tmp_path, ict_1001(["100, 1, 2,", "101, 3, 4, "])))
    assert ds["O3"].values.tolist() == [1, 3]
    text = ict_1001(["100, 1, 2,", "101, 3, 4, 5"])
    with pytest.raises(ParseError, match="wrong number of values") as err:
        read_icartt(write(tmp_path, text, "b.ict"))
    assert err.value.line == int(text.split(",")[0]) + 2 and err.value.found == "4"
    text = ict_1001(["100, , 2"])
    with pytest.raises(ParseError, match="not a number") as err:  # an empty field is not a missing value
        read_icartt(write(tmp_path, text, "c.ict"))
    assert err.value.column == "O3" and err.value.found == "''"


def test_wrong_delimiter_in_data(tmp_path):
    with pytest.raises(ParseError, match="wrong number of values"):
        read_icartt(write(tmp_path, ict_1001(["100; 1.5; 2"])))


def test_time_going_backwards(tmp_path):
    text = ict_1001(["100, 1, 2", "101, 1, 2", "99, 1, 2"])
    with pytest.raises(ParseError, match="time goes backwards") as err:
        read_icartt(write(tmp_path, text))
    assert err.value.line == int(text.split(",")[0]) + 3


def test_repeated_time_warns(tmp_path):
    with pytest.warns(DataQualityWarning, match="repeat the time"):
        ds = read_icartt(write(tmp_path, ict_1001(["100, 1, 2", "100, 1, 2"])))
    assert ds.sizes["time"] == 2


def test_truncated_last_line_is_left_out(tmp_path):
    text = ict_1001(["100, 1, 2", "101, 1, 2"]) + "102, 1"
    with pytest.warns(TruncatedRecordWarning, match="truncated last line"):
        ds = read_icartt(write(tmp_path, text))
    assert ds.sizes["time"] == 2


def test_trailing_nul_line_warns(tmp_path):
    text = ict_1001(["100, 1, 2 ", "101, 1, 2 "]) + "\x00\n"
    with pytest.warns(DataQualityWarning, match="NUL bytes"):
        ds = read_icartt(write(tmp_path, text))
    assert ds.sizes["time"] == 2


def test_duplicated_header_in_data(tmp_path):
    text = ict_1001(["100, 1, 2"])
    text = text + text
    with pytest.raises(ParseError) as err:
        read_icartt(write(tmp_path, text))
    assert err.value.line == int(text.split(",")[0]) + 2


def test_binary_garbage(tmp_path):
    path = tmp_path / "g.ict"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ParseError) as err:
        read_icartt(path)
    assert err.value.line == 1
    with pytest.raises(crac.errors.UnknownFormatError):
        crac.read(path)


def test_empty_data_block(tmp_path):
    ds = quiet(read_icartt, write(tmp_path, ict_1001([])))
    assert ds.sizes["time"] == 0 and ds["O3"].shape == (0,)


def test_table_argument_read_tree_and_time_range(tmp_path):
    path = write(tmp_path, ict_1001(ROWS))
    with pytest.raises(ParseError):
        IcarttReader().read(path, table="other")
    tree = crac.read_tree(path)
    assert list(tree.children) == ["data"]
    tr = IcarttReader().time_range(path)
    assert tr.first == T("2020-06-30T23:59:50") and tr.last == T("2020-07-01T01:00:00")
    text = ict_1001(ROWS) + "90001, 1"
    tr = IcarttReader().time_range(write(tmp_path, text, "p.ict"))
    assert tr.last == T("2020-07-01T01:00:00")


# --------------------------------------------------------------------------------------------------
# real files
# --------------------------------------------------------------------------------------------------


def test_actamerica(testdata, tmp_path):
    path = testdata / "icartt" / "ACTAMERICA-flag-metadata_B200_20170308_R0_L2.ict"
    assert get_reader(path).name == "icartt"
    with pytest.warns(DataQualityWarning, match="NUL bytes"):  # the file ends with a lone-NUL line
        ds = crac.read(path)
    assert ds.sizes["time"] == 1171
    assert ds["time"].values[0] == T("2017-03-08T20:53:22")  # 75202 s
    assert ds["time"].values[-1] == T("2017-03-08T22:30:52")
    assert ds["LATITUDE"].values[585] == pytest.approx(38.3707428)
    assert ds["LONGITUDE"].values[0] == pytest.approx(282.16162109)
    assert ds["GPS_ALT"].attrs["units"] == "km" and ds["GPS_ALT"].values[-1] == pytest.approx(0.0047)
    assert ds["Mid_UTC"].values[0] == 75204.5
    assert ds["BL_FT_flag"].values[[0, 585, 1170]].tolist() == [1, 2, 0]
    assert ds["Flight_flag"].attrs["units"] == "none"
    assert ds.attrs["data_interval"] == 0.0
    assert ds.attrs["PLATFORM"] == "NASA B200 Aircraft"
    assert ds.attrs["OTHER_COMMENTS"].startswith("These flags were created")
    assert "Flight Comments: 2 leg flight, OCO-2 Underpass" in ds.attrs["OTHER_COMMENTS"]
    assert ds.attrs["R0"].startswith("Includes merged data")
    assert ds.attrs["ULOD_FLAG"] == "-777777"
    assert_round_trip(ds, tmp_path)


def test_icartt_example(testdata, tmp_path):
    path = testdata / "icartt" / "icartt_example.ict"
    ds = quiet(read_icartt, path)
    assert ds.sizes["time"] == 13 and len(ds.data_vars) == 31
    assert ds["time"].values[0] == T("2022-04-19T16:04:56")  # Time_Mid 57896 s
    assert ds["time"].values[-1] == T("2022-04-19T16:05:08")
    assert ds["H"].attrs == {"units": "W/m^2", "long_name": "Sensible heat flux"}
    assert ds["H"].values[[0, 6, 12]].tolist() == [47.9, 40.8, 48.2]
    assert ds["FCO2"].values[12] == -4.5
    assert ds["WSPD"].values[6] == 4.198
    assert ds.attrs["special_comments"] == "FLIGHT PATTERN: Swamp Box.\nPBL height(zi) = 1250 m."
    assert ds.attrs["ULOD_FLAG"] == "-77777" and ds.attrs["LLOD_FLAG"] == "-88888"
    assert ds.attrs["REVISION"] == "R0"
    assert ds.attrs["OTHER_COMMENTS"] == "Have Fun!"
    assert "\u2019" in ds.attrs["R0"] or "\u2019" in ds.attrs["normal_comments"]  # UTF-8 apostrophe kept
    assert_round_trip(ds, tmp_path)


def test_intex_whitespace_file(testdata, tmp_path):
    path = testdata / "icartt" / "INTEX_ATHOS_OH_HO2_test.ffi1001"
    assert get_reader(path).name == "nasa_ames"  # '36 1001': the reference (nappy) reads it as NASA Ames
    for ds in (quiet(read_icartt, path), crac.read(path)):
        assert ds.sizes["time"] == 8
        assert ds["time"].values[0] == T("2004-06-26T17:38:01")
        assert ds["time"].values[-1] == T("2004-06-26T22:13:47")
        assert np.isnan(ds["OH_pptv"].values[0]) and ds["OH_pptv"].values[4] == 0.085
        assert ds["HO2_pptv"].values[4] == 7.152
        assert ds["Mid_UTC"].values[7] == 80036
        assert ds.attrs["ULOD_FLAG"] == "-7777"
        assert ds.attrs["PLATFORM"].startswith("NASA DFRC DC8")
    assert_round_trip(ds, tmp_path)


# --------------------------------------------------------------------------------------------------
# performance
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_day_at_1hz_is_fast(tmp_path):
    n, nv = 86_400, 20
    vals, body = numbered_rows(n, nv, seed=1, sep=", ")
    names = [f"V{i}, ppbv" for i in range(nv)]
    lines = ["Doe, Jane", "Lab", "Inst", "MISSION", "1, 1", "2020, 01, 02, 2020, 02, 03", "1", "Start_UTC, s",
             str(nv), ", ".join(["1"] * nv), ", ".join(["-9999"] * nv), *names, "0", "1",
             ", ".join(["Start_UTC"] + [f"V{i}" for i in range(nv)])]
    path = tmp_path / "day.ict"
    path.write_text("\n".join([f"{len(lines) + 1}, 1001", *lines]) + "\n" + body + "\n")
    read_icartt(path)  # warm up imports
    best = best_time(read_icartt, path)
    ds = read_icartt(path)
    assert ds.sizes["time"] == n and ds["V3"].values[7] == vals[7, 3]
    assert best < 0.6, f"one 1 Hz day took {best:.3f} s"

