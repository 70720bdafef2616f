"""NASA Ames export: the FFI follows the data's shape and `nappy` reads back identical values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from export_helpers import assert_ascii_clean, make_product, make_profile, same

import crac_tools as crac
from crac_tools.conventions.naming import parse_name
from crac_tools.export import ExportError, export
from crac_tools.export.nasa_ames import choose_ffi, nasa_ames_text, write_nasa_ames

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


# ------------------------------------------------------------------------------------------ FFI 2160
def make_sondes(nz: int = 5, varying: bool = False) -> xr.Dataset:
    """Ozone soundings at three stations: records labelled by station name (text), levels on altitude."""
    rng = np.random.default_rng(7)
    o3 = np.round(rng.random((3, nz)) * 80, 1).astype("f4")
    o3[1, 2] = np.nan
    temp = np.round(rng.standard_normal((3, nz)) * 10, 2).astype("f4")
    ds = xr.Dataset(
        {"O3": (("station", "altitude"), o3, {"units": "mPa", "long_name": "ozone partial pressure",
                                              "standard_name": "mole_concentration_of_ozone_in_air"}),
         "T": (("station", "altitude"), temp, {"units": "degC", "long_name": "air temperature"}),
         "ps": ("station", np.array([1013.2, np.nan, 1009.9], "f4"), {"units": "hPa",
                                                                      "long_name": "surface pressure"})},
        coords={"station": ("station", ["uccle", "payerne", "lindenberg"], {"long_name": "station identifier"}),
                "altitude": ("altitude", np.arange(nz) * 250.0, {"units": "m", "long_name": "altitude"}),
                "lat": ("station", [50.8, 46.81, 52.21], {"units": "degrees_north"}),
                "time": ("station", pd.to_datetime(["2024-06-01T11:00", "2024-06-01T10:30:15", "2024-06-02T05:00"],
                                                   format="ISO8601")),
                "station_name": ("station", ["Uccle", "Payerne (M\u00e9t\u00e9oSuisse)", ""])},
        attrs={"product": "o3sonde", "product_version": "3", "creator_name": "Jane Doe",
               "institution": "crac_tools demo", "project": "crac-demo"},
    )
    if varying:
        z = np.tile(np.arange(nz) * 250.0, (3, 1)) + np.array([[0.0], [12.5], [40.0]])
        z[0, -2:] = np.nan
        ds = ds.assign_coords(z_actual=(("station", "altitude"), z, {"units": "m", "long_name": "GPS altitude"}))
    return ds


def _by_label(ds: xr.Dataset, dim: str) -> xr.Dataset:
    """``ds`` in the order the file writes its records (labels sorted)."""
    return ds.isel({dim: np.argsort(ds[dim].values.astype(str))})


def test_2160_chosen_for_a_text_dimension():
    ds = make_sondes()
    assert choose_ffi(ds) == 2160
    assert choose_ffi(ds[["O3"]]) == 2160
    assert choose_ffi(make_profile()) == 2010  # time-based profiles are not affected
    assert choose_ffi(make_profile(varying=True)) == 2110
    assert choose_ffi(make_product()[["RH"]]) == 1001
    # date strings or datetimes on a dimension other than time are labels too
    days = xr.Dataset({"a": (("day", "z"), np.ones((2, 2)))}, coords={"day": ["2024-06-01", "2024-06-02"]})
    assert choose_ffi(days) == 2160
    launch = days.assign_coords(day=pd.to_datetime(["2024-06-01", "2024-06-02"]))
    assert choose_ffi(launch) == 2160
    # a dimension without coordinate, or with numbers, is a z axis, not a label
    assert choose_ffi(xr.Dataset({"a": (("time", "bin"), np.ones((2, 2)))},
                                 coords={"time": pd.date_range("2024-01-01", periods=2)})) == 2010


def test_2160_round_trip(tmp_path):
    ds = make_sondes()
    path = write_nasa_ames(ds, tmp_path, source="o3sonde.nc")
    assert_ascii_clean(path)
    assert path.name == "station.2406011030.o3sonde.na"  # first launch
    f = _read(path)
    assert f.FFI == 2160
    exp = _by_label(ds, "station")
    labels = ["lindenberg", "payerne", "uccle"]
    assert [x[0] for x in f.X] == labels  # sorted: a strictly monotonic independent variable
    assert f.LENX == 10.0
    assert f.XNAME == ["station: station identifier", "altitude: altitude (m)"]
    assert f.DX == [250.0]
    assert f.DATE == [2024, 6, 1]
    assert [v.split(":")[0] for v in f.VNAME] == ["O3", "T"]
    assert f.VNAME == ["O3: ozone partial pressure (mPa)", "T: air temperature (degC)"]
    for m in range(3):
        np.testing.assert_array_equal(f.X[m][1], ds["altitude"].values)
    for n, name in enumerate(["O3", "T"]):
        read = np.array([_values(f.V[n][m], f.VSCAL[n], f.VMISS[n]) for m in range(3)])
        assert same(read, exp[name].values), name
    assert np.isnan(_values(f.V[0][1], f.VSCAL[0], f.VMISS[0])[2])  # payerne's missing O3
    assert f.VSCAL == [0.1, 0.01]
    # auxiliary variables: NX, the numeric ones on station, then the text one
    assert f.NAUXC == 1
    assert [a.split(":")[0] for a in f.ANAME] == ["NX", "lat", "Time_Start", "ps", "station_name"]
    assert f.A[0] == [5.0, 5.0, 5.0] and f.NX == [5, 5, 5]
    assert same(_values(f.A[1], f.ASCAL[1], f.AMISS[1]), exp["lat"].values)
    assert f.A[2] == [104400.0, 37815.0, 39600.0]  # launch times, seconds since DATE
    assert "seconds since 2024-06-01 00:00:00 UTC" in f.ANAME[2]
    assert same(_values(f.A[3], f.ASCAL[3], f.AMISS[3]), exp["ps"].values)
    assert f.A[4] == ["-9999", "Payerne (MeteoSuisse)", "Uccle"]  # whole line, ASCII, declared missing text
    assert f.AMISS[4] == "-9999" and f.LENA[4] == 21
    assert "product_version: 3" in "\n".join(f.SCOM)
    assert "station NX lat time ps station_name altitude O3 T" in f.NCOM
    # crac_tools' own reader reads the same values back
    back = crac.read(path)
    assert back.attrs["ffi"] == 2160
    assert list(back[back["O3: ozone partial pressure"].dims[0]].values) == labels
    assert same(back["O3: ozone partial pressure"].values, exp["O3"].values)
    assert list(back["station_name: station_name"].values) == f.A[4]


def test_2160_levels_varying_by_record(tmp_path):
    ds = make_sondes(varying=True)
    path = write_nasa_ames(ds, tmp_path)
    assert_ascii_clean(path)
    f = _read(path)
    assert f.FFI == 2160
    exp = _by_label(ds, "station")
    z = exp["z_actual"].values
    counts = np.isfinite(z).sum(axis=1)
    assert f.NX == [5, 5, 3] and f.A[0] == list(counts.astype(float))  # uccle (last) lost two levels
    assert f.DX == [250.0]
    for m in range(3):
        np.testing.assert_array_equal(f.X[m][1], z[m, :counts[m]])
        assert same(_values(f.V[0][m], f.VSCAL[0], f.VMISS[0]), exp["O3"].values[m, :counts[m]])
        assert same(_values(f.V[1][m], f.VSCAL[1], f.VMISS[1]), exp["T"].values[m, :counts[m]])


def test_2160_date_labels_over_time(tmp_path):
    """Datetime labels (written as ISO dates) over an inner time axis (seconds since DATE); no text aux."""
    t = pd.date_range("2024-06-01T00:00", periods=4, freq="30min")
    no2 = np.array([[1.5, 2.5, np.nan, 4.0], [5.0, 6.25, 7.0, 8.0]], "f4")
    ds = xr.Dataset({"NO2": (("day", "time"), no2, {"units": "ppb", "long_name": "nitrogen dioxide"})},
                    coords={"day": pd.to_datetime(["2024-06-02", "2024-06-01"]), "time": t},
                    attrs={"station_id": "bravo", "product": "no2"})
    path = write_nasa_ames(ds.transpose("time", "day"), tmp_path, end="2024-06-01T01:30")
    assert_ascii_clean(path)
    f = _read(path)
    assert f.FFI == 2160
    assert [x[0] for x in f.X] == ["2024-06-01", "2024-06-02"]
    assert f.XNAME[0] == "day: day (ISO 8601 UTC)"
    assert f.XNAME[1] == "Time_Start: time (seconds since 2024-06-01 00:00:00 UTC)"
    assert f.DX == [1800.0]
    assert [x[1] for x in f.X] == [[0.0, 1800.0, 3600.0]] * 2  # 01:30 is left out by end=
    assert same(_values(f.V[0][0], f.VSCAL[0], f.VMISS[0]), no2[1, :3])
    assert same(_values(f.V[0][1], f.VSCAL[0], f.VMISS[0]), no2[0, :3])
    # nappy needs a character auxiliary variable: the labels are repeated as one
    assert f.NAUXC == 1 and f.ANAME[-1].startswith("day_label:") and f.A[-1] == ["2024-06-01", "2024-06-02"]


def test_2160_from_a_netcdf_product_with_start_and_variables(tmp_path):
    src = tmp_path / "o3sonde.nc"
    make_sondes().to_netcdf(src)  # text coordinates come back as object arrays
    [path] = export(src, "nasa_ames", tmp_path / "out", start="2024-06-01T10:45", variables=["O3"])
    assert_ascii_clean(path)
    f = _read(path)
    assert f.FFI == 2160
    assert [x[0] for x in f.X] == ["lindenberg", "uccle"]  # payerne was launched before 10:45
    assert [v.split(":")[0] for v in f.VNAME] == ["O3"]
    assert [a.split(":")[0] for a in f.ANAME] == ["NX", "lat", "Time_Start", "station_name"]
    assert f.A[-1] == ["-9999", "Uccle"]
    exp = _by_label(make_sondes(), "station").isel(station=[0, 2])
    for m in range(2):
        assert same(_values(f.V[0][m], f.VSCAL[0], f.VMISS[0]), exp["O3"].values[m])



def test_time_bounds_with_a_utc_offset_are_converted(tmp_path):
    """``--start 12:45+02:00`` is 10:45 UTC (products are UTC): the same records as the UTC bound, for the
    labelled (2160) and the plain (1001) writers."""
    src = tmp_path / "o3sonde.nc"
    make_sondes().to_netcdf(src)
    [utc] = export(src, "nasa_ames", tmp_path / "utc", start="2024-06-01T10:45")
    [off] = export(src, "nasa_ames", tmp_path / "off", start="2024-06-01T12:45+02:00")
    assert [x[0] for x in _read(off).X] == [x[0] for x in _read(utc).X] == ["lindenberg", "uccle"]
    ds = make_product()
    t = ds["time"].values
    cut = str(pd.Timestamp(t[10]).tz_localize("UTC").tz_convert("Europe/Berlin"))
    [plain] = export(ds, "nasa_ames", tmp_path / "plain", start=cut)
    assert _read(plain).X[0] == pytest.approx((t[10] - t[10].astype("datetime64[D]")) / np.timedelta64(1, "s"))

def test_2160_forced_and_labels_with_blanks(tmp_path):
    ds = make_sondes()
    ds = ds.assign_coords(station=["Uccle (BE)", "Payerne (CH)", "Lindenberg (DE)"])
    path = write_nasa_ames(ds, tmp_path, ffi=2160, aux=["lat", "station_name"], allow_scale=False)
    assert_ascii_clean(path)
    lines = path.read_text().splitlines()
    assert "Lindenberg_(DE)" in lines and "Payerne_(CH)" in lines  # nappy reads a label line up to a blank
    f = _read(path)
    assert f.FFI == 2160 and f.VSCAL == [1.0, 1.0]
    assert [x[0] for x in f.X] == ["Lindenberg_(DE)", "Payerne_(CH)", "Uccle_(BE)"]
    assert [a.split(":")[0] for a in f.ANAME] == ["NX", "lat", "ps", "station_name", "station_label"]
    assert f.A[-1] == ["Lindenberg (DE)", "Payerne (CH)", "Uccle (BE)"]  # the whole labels
    exp = _by_label(ds, "station")
    assert same(np.array([_values(f.V[1][m], 1.0, f.VMISS[1]) for m in range(3)]), exp["T"].values)


def test_2160_long_lists_wrap_within_132_characters(tmp_path):
    ds = make_sondes(nz=3)
    for i in range(40):
        ds[f"extra_profile_variable_{i}"] = ds["T"] + i
        ds[f"extra_station_variable_{i}"] = ds["ps"] * (i + 1)
    path = write_nasa_ames(ds, tmp_path)
    assert_ascii_clean(path)
    f = _read(path)
    assert f.FFI == 2160 and len(f.V) == 42 and len(f.A) == 1 + 2 + 41 + 1
    exp = _by_label(ds, "station")
    for n, name in enumerate(v.split(":")[0] for v in f.VNAME):
        read = np.array([_values(f.V[n][m], f.VSCAL[n], f.VMISS[n]) for m in range(3)])
        assert same(read, exp[name].values), name


@pytest.mark.parametrize("make,ffi,match", [
    (lambda d: d.assign(w3=(("station", "altitude", "w"), np.ones((3, 5, 2)))), None,
     r"\(label, z\).*\['w3'\] have more than two dimensions"),
    (lambda d: d[["ps"]], None, r"FFI 2160 needs variables on \(station, z\).*\['ps'\] are on \(station\) only"),
    (lambda d: d.assign(b=(("site", "altitude"), np.ones((2, 5)))).assign_coords(site=["x", "y"]), None,
     r"one dimension of text labels per NASA Ames file \(FFI 2160\); the data have \['station', 'site'\]"),
    (lambda d: d.assign(b=(("station", "level"), np.ones((3, 2)))), None,
     r"one bounded dimension per NASA Ames file; the data have \['altitude', 'level'\] besides 'station'"),
    (lambda d: d.assign_coords(station=["a", "b", "a"]), None, r"must be unique.*repeated: \['a'\]"),
    (lambda d: d.assign_coords(station=["a", " ", "c"]), None, r"empty or missing values \(record 1\)"),
    (lambda d: d.assign_coords(station=["a", "b", "c" * 133]), None, r"longer than 132 characters"),
    (lambda d: d.drop_vars("time"), None, r"needs a date for its header \(DATE\)"),
    (lambda d: d, 2010, r"FFI 2010 needs a 'time' dimension"),
    (lambda d: d, 1234, r"FFI 1234 is not supported \(1001, 1010, 2010, 2110, 2160\)"),
])
def test_2160_bad_shapes(make, ffi, match):
    with pytest.raises(ExportError, match=match):
        nasa_ames_text(make(make_sondes()), ffi=ffi)


def test_2160_write_errors(tmp_path):
    with pytest.raises(ExportError, match=r"FFI 2160 needs exactly one dimension of character strings.*none"):
        write_nasa_ames(make_profile(), tmp_path, ffi=2160)
    two = make_sondes().assign(series=("hour", np.arange(3.0)))
    two = two.assign_coords(hour=pd.date_range("2024-06-01", periods=3, freq="h"))
    with pytest.raises(ExportError, match=r"exactly one dimension of character strings.*\['station', 'hour'\]"):
        write_nasa_ames(two, tmp_path)
    mixed = make_sondes().drop_vars("time").assign(series=("time", np.arange(2.0)))
    mixed = mixed.assign_coords(time=pd.date_range("2024-06-01", periods=2, freq="h"))
    with pytest.raises(ExportError, match=r"\(station, z\) and \(station\) only; \['series'\] are not on"):
        write_nasa_ames(mixed, tmp_path, variables=["O3", "series"])
    f = _read(write_nasa_ames(mixed.assign_attrs(period_start="2024-06-01"), tmp_path))  # by default left out
    assert f.FFI == 2160 and [v.split(":")[0] for v in f.VNAME] == ["O3", "T"]
    with pytest.raises(ExportError, match=r"no records in \[2025-01-01, None\)"):
        write_nasa_ames(make_sondes(), tmp_path, start="2025-01-01")
    with pytest.raises(ExportError, match=r"unknown variable\(s\) nope"):
        write_nasa_ames(make_sondes(), tmp_path, variables=["nope"])
    no_time = make_sondes().drop_vars("time").assign_attrs(period_start="2024-06-01T00:00:00Z")
    with pytest.raises(ExportError, match=r"cannot keep .* have no 'time' coordinate"):
        write_nasa_ames(no_time, tmp_path, start="2024-06-01")
    path = write_nasa_ames(no_time, tmp_path)  # DATE from period_start
    assert _read(path).DATE == [2024, 6, 1] and path.name == "station.2406010000.o3sonde.na"
    assert not list(tmp_path.glob("*.tmp*"))
