"""Tests of the TOLNet ASCII lidar-profile reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from formats_helpers import assert_round_trip, quiet

import crac_tools as crac

crac.formats()  # load the readers in sniffing order before importing one directly (registration order)

from crac_tools.errors import ParseError, TruncatedRecordWarning  # noqa: E402
from crac_tools.formats.registry import get_reader  # noqa: E402
from crac_tools.formats.tolnet import TolnetReader, read_tolnet  # noqa: E402

FILE = "met_csv/TOLNet-O3Lidar_UAH_20130429_R0.dat"


def t(text: str) -> np.datetime64:
    return np.datetime64(text, "ns")


def tolnet_text(profiles: list[dict], n_profiles: int | None = None) -> str:
    """A small TOLNet v1.0 file: profiles = [{"start", "end", "mean", "rows": [[alt, o3nd, o3mr, temp], ...]}]."""
    cols = ["ALT, m, Altitude above sea level", "O3ND, molec.m-3, Ozone Number Density",
            "O3MR, ppbv, Ozone Mixing Ratio", "Temp, K, Air Temperature"]
    out = ["8        ; NUMBER OF GENERAL HEADER LINES (AFTER THIS LINE)",
           "v1.0     ; TOLNET STANDARDIZED FORMAT VERSION FOR PROFILE DATA",
           f"{len(profiles) if n_profiles is None else n_profiles}        ; NUMBER OF PROFILES IN THIS FILE",
           "4        ; NUMBER OF DATA COLUMNS FOR ALL PROFILES"]
    out += [f"{c:60s}; COLUMN {k + 1}" for k, c in enumerate(cols)]
    out += ["-9999, -9999, -9999, -9999 ; MISSING DATA VALUES",
            "3        ; NUMBER OF GENERAL COMMENTS LINES (AFTER THIS LINE)",
            "TEST_O3_DIAL                 ; INSTRUMENT NAME",
            "Test Site                    ; SITE NAME",
            "-86.6450, 34.7250, 206.000   ; SITE LONGITUDE, LATITUDE, ELEVATION (degE, degN, m)"]
    for p in profiles:
        out += ["#BEGIN PROFILE ;----------",
                "12       ; NUMBER OF HEADER LINES IN THIS PROFILE\"S HEADER (AFTER THIS LINE)",
                f"{len(p['rows'])}        ; NUMBER OF DATA LINES IN THIS PROFILE",
                "2013- 6-17, 21:02:56   ; DATA PROCESSING DATE, TIME",
                "Version: DIAL6         ; DATA PROCESSING VERSION",
                "Normal                 ; RESULTS QUALITY (NOMINAL, FAIR, POOR)",
                f"{p['start']}   ; PROFILE DATE, TIME (UT) START",
                f"{p['end']}   ; PROFILE DATE, TIME (UT) END",
                f"{p['mean']}   ; PROFILE DATE, TIME (UT) MEAN",
                "Ozonesonde             ; SOURCE OF A PRIORI Press, Temp, AirND",
                "2013- 4-27, 18:16:30   ; SOURCE DATE, TIME (UT)",
                "-86.6450, 34.7250, 206.000 ; SOURCE LONGITUDE, LATITUDE, ELEVATION (degE, degN, m)",
                "No comments            ; OPERATOR COMMENTS",
                "ALT, O3ND, O3MR, Temp  ; "]
        out += [", ".join(str(v) for v in row) for row in p["rows"]]
    return "\r\n".join(out) + "\r\n"


PROFILES = [
    {"start": "2013- 4-29, 21:24:26", "end": "2013- 4-29, 21:31:10", "mean": "2013- 4-29, 21:27:48",
     "rows": [[716.0, "1.591e+018", 67.47, 288.17], [746.0, "1.625e+018", 69.08, 287.81],
              [776.0, -9999, -9999, 287.44]]},
    {"start": "2013- 4-29, 21:31:11", "end": "2013- 4-29, 21:36:55", "mean": "2013- 4-29, 21:34: 3",
     "rows": [[746.0, "1.600e+018", 68.0, 287.9], [806.0, "1.583e+018", 67.59, 287.07]]},
]


def write(tmp_path: Path, text: str, name: str = "t.dat") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# ------------------------------------------------------------------------------------------------------
# the real file
# ------------------------------------------------------------------------------------------------------

def test_real_file(testdata):
    path = testdata / FILE
    assert get_reader(path).name == "tolnet"
    ds = quiet(crac.read, path)
    assert dict(ds.sizes) == {"time": 8, "altitude": 383}
    assert ds.time.values[0] == t("2013-04-29T21:27:48") and ds.time.values[-1] == t("2013-04-29T21:59:29")
    assert ds["start_time"].values[0] == t("2013-04-29T21:24:26")
    assert ds["end_time"].values[-1] == t("2013-04-29T22:00:29")
    assert ds.time.values[1] == t("2013-04-29T21:34:03")  # space-padded '21:34: 3'
    alt = ds["altitude"]
    assert alt.values[0] == 716.0 and alt.values[191] == 6446.0 and alt.values[-1] == 12176.0
    assert alt.attrs["units"] == "m" and alt.attrs["original_name"] == "ALT"
    o3 = ds["O3ND"]
    assert o3.dims == ("time", "altitude") and o3.attrs["units"] == "molec.m-3"
    assert o3.attrs["long_name"] == "Ozone Number Density (measured )"
    np.testing.assert_allclose(o3.values[0, [0, 191, 382]], [1.591e18, 5.696e17, 1.391e18], rtol=1e-6)
    np.testing.assert_allclose(o3.values[7, [0, 191, 382]], [1.436e18, 6.43e17, 1.601e18], rtol=1e-6)
    np.testing.assert_allclose(ds["O3MR"].values[4, [0, 191, 382]], [60.44, 45.68, 238.79], atol=1e-4)
    np.testing.assert_allclose(ds["Press"].values[0, [0, 382]], [938.0, 196.3], atol=1e-4)
    np.testing.assert_allclose(ds["Temp"].values[7, [0, 191]], [288.17, 255.29], atol=1e-4)
    assert ds["O3MR"].attrs["units"] == "ppbv" and ds["Temp"].attrs["units"] == "K"
    assert o3.encoding["_FillValue"] == -9999.0
    assert ds["quality"].values[0] == "Normal" and ds["apriori_source"].values[0] == "Ozonesonde"
    assert ds["apriori_latitude"].values[0] == pytest.approx(34.725)
    a = ds.attrs
    assert a["file_format"] == "tolnet" and a["format_version"] == "v1.0" and a["number_of_profiles"] == 8
    assert a["instrument_name"] == "UAH_O3_DIAL" and a["site_name"] == "UAHuntsville Ozone Lidar Station"
    assert a["site_latitude"] == pytest.approx(34.725) and a["data_revision"] == "R0"


def test_real_file_round_trip(testdata, tmp_path):
    assert_round_trip(crac.read(testdata / FILE), tmp_path)


def test_time_range_and_tree(testdata):
    tr = TolnetReader().time_range(testdata / FILE)
    assert (tr.first, tr.last, tr.n) == (t("2013-04-29T21:27:48"), t("2013-04-29T21:59:29"), 8)
    tree = crac.read_tree(testdata / FILE)
    assert list(tree.children) == ["profiles"] and tree["profiles"].sizes["altitude"] == 383


def test_sniff(testdata):
    r = TolnetReader()
    assert r.sniff((testdata / FILE).read_bytes()[:4096], testdata / FILE)
    for other in ("met_csv/brw21001.dat", "campbell/Station_Daily.dat", "icartt/icartt_example.ict"):
        assert not r.sniff((testdata / other).read_bytes()[:4096], testdata / other)
    assert not r.sniff(b"18 ; some other count\n", None)


# ------------------------------------------------------------------------------------------------------
# generated files
# ------------------------------------------------------------------------------------------------------

def test_union_altitude_grid_and_missing(tmp_path):
    ds = read_tolnet(write(tmp_path, tolnet_text(PROFILES)))
    assert ds["altitude"].values.tolist() == [716.0, 746.0, 776.0, 806.0]
    o3 = ds["O3ND"].values
    assert o3[0, 0] == pytest.approx(1.591e18) and np.isnan(o3[0, 2])  # -9999 declared missing
    assert np.isnan(o3[0, 3]) and np.isnan(o3[1, 0])  # levels a profile lacks
    assert o3[1, 1] == pytest.approx(1.6e18) and o3[1, 3] == pytest.approx(1.583e18)
    assert ds["Temp"].values[0, 2] == pytest.approx(287.44)
    np.testing.assert_array_equal(ds.time.values, [t("2013-04-29T21:27:48"), t("2013-04-29T21:34:03")])
    assert ds.attrs["site_longitude"] == pytest.approx(-86.645)


def test_truncated_inside_data(tmp_path):
    text = tolnet_text(PROFILES)
    cut = text[:text.rindex("806.0") + 9]  # the file ends in the middle of the last line
    with pytest.warns(TruncatedRecordWarning):
        ds = read_tolnet(write(tmp_path, cut))
    assert ds.sizes["time"] == 2 and "truncated_lines" in ds.attrs
    assert ds["altitude"].values.tolist() == [716.0, 746.0, 776.0]  # the cut 806 m line is left out
    np.testing.assert_array_equal(np.isnan(ds["O3ND"].values[1]), [True, False, True])


def test_fewer_profiles_than_declared(tmp_path):
    with pytest.warns(TruncatedRecordWarning, match="1 of 2 profiles"):
        ds = read_tolnet(write(tmp_path, tolnet_text(PROFILES[:1], n_profiles=2)))
    assert ds.sizes["time"] == 1


def test_truncated_header(tmp_path):
    text = "\r\n".join(tolnet_text(PROFILES).split("\r\n")[:6])
    with pytest.raises(ParseError, match="ends inside the header") as err:
        read_tolnet(write(tmp_path, text))
    assert err.value.line == 6


def test_missing_begin_profile(tmp_path):
    text = tolnet_text(PROFILES).replace("#BEGIN PROFILE", "BEGIN", 1)
    with pytest.raises(ParseError, match="#BEGIN PROFILE") as err:
        read_tolnet(write(tmp_path, text))
    assert err.value.line == 14


def test_non_numeric_value(tmp_path):
    text = tolnet_text(PROFILES).replace("67.47", "6x.47")
    with pytest.raises(ParseError, match="non-numeric") as err:
        read_tolnet(write(tmp_path, text))
    assert (err.value.line, err.value.column, err.value.found) == (28, "O3MR", "'6x.47'")


def test_wrong_field_count(tmp_path):
    text = tolnet_text(PROFILES).replace("746.0, 1.625e+018, 69.08, 287.81", "746.0, 1.625e+018, 69.08")
    with pytest.raises(ParseError, match="wrong number of fields") as err:
        read_tolnet(write(tmp_path, text))
    assert err.value.line == 29


def test_profile_times_going_backwards(tmp_path):
    profs = [dict(PROFILES[0]), dict(PROFILES[1], mean="2013- 4-29, 21:00:00")]
    with pytest.raises(ParseError, match="backwards") as err:
        read_tolnet(write(tmp_path, tolnet_text(profs)))
    assert err.value.line == 39


def test_more_lines_than_declared(tmp_path):
    text = tolnet_text(PROFILES) + "900.0, 1.0e+018, 50.0, 280.0\r\n"
    with pytest.raises(ParseError, match="more lines than the declared profiles"):
        read_tolnet(write(tmp_path, text))


def test_bad_count(tmp_path):
    text = tolnet_text(PROFILES).replace("3        ; NUMBER OF DATA LINES", "three    ; NUMBER OF DATA LINES")
    with pytest.raises(ParseError, match="number of data lines") as err:
        read_tolnet(write(tmp_path, text))
    assert err.value.found == "'three'"
