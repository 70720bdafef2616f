"""HiSPARC reader: PyTables HDF5 (datastore and ESD layouts) and TSV exports."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

import crac_tools as crac
from crac_tools.errors import ParseError, TruncatedRecordWarning, UnknownFormatError
from crac_tools.formats import registry

# Fill the registry in its own (sniffing) order before importing reader modules directly: a direct import
# registers that reader first.
registry.formats()

from crac_tools.formats.hisparc import (  # noqa: E402
    HisparcReader,
    gps_to_utc,
    is_hisparc_hdf5,
    is_pytables,
    read_hisparc,
    read_hisparc_tree,
)
from crac_tools.formats.netcdf import NetcdfReader  # noqa: E402

ESD_2017 = "hisparc/publicdb_esd_2017_1_1.h5"
ESD_LOAD = "hisparc/sapphire_esd_load_data.h5"
DATASTORE = "hisparc/sapphire_publicdb.h5"
EVENTS_TSV = "hisparc/events-s501-20120101.tsv"
WEATHER_TSV = "hisparc/weather-s501-20120101.tsv"
STATION = "/hisparc/cluster_amsterdam/station_501"


def ns(text: str) -> np.datetime64:
    return np.datetime64(text, "ns")


# ----------------------------------------------------------------------------------------- time scale

def test_gps_to_utc_leap_seconds():
    stamps = np.array([
        np.datetime64("2016-12-31T23:59:59", "s").astype(np.int64),
        np.datetime64("2017-01-01T00:00:00", "s").astype(np.int64),
        np.datetime64("2012-01-01T00:00:00", "s").astype(np.int64),
        np.datetime64("2012-07-01T00:00:00", "s").astype(np.int64),
        np.datetime64("1980-01-06T00:00:00", "s").astype(np.int64),
    ])
    t, off = gps_to_utc(stamps)
    assert off.tolist() == [17, 18, 15, 16, 0]
    assert str(t[1]) == "2016-12-31T23:59:42.000000000"
    t, off = gps_to_utc(stamps[:1], time_scale="gps")
    assert off.tolist() == [0] and str(t[0]) == "2016-12-31T23:59:59.000000000"
    t, _ = gps_to_utc(np.array([1437091267.8876]))  # Time64 (float) seconds
    assert abs(t[0] - ns("2015-07-17T00:00:50.887600")) < np.timedelta64(1, "us")
    with pytest.raises(ValueError, match="time_scale"):
        gps_to_utc(stamps, time_scale="tai")


# ----------------------------------------------------------------------------------------- HDF5

@pytest.fixture(scope="module")
def esd2017(testdata):
    return crac.read_tree(testdata / ESD_2017)


def test_esd_tree_groups_and_times(esd2017):
    assert {n.path for n in esd2017.leaves} == {f"{STATION}/{t}" for t in ("events", "singles", "weather")}
    ev = esd2017[f"{STATION}/events"].to_dataset()
    assert ev.sizes == {"time": 168, "detector": 4}
    assert ev["time"].dtype == np.dtype("datetime64[ns]")
    assert ev["time"].values[0] == ns("2016-12-31T23:59:48.377192541")  # GPS 2017-01-01T00:00:06, GPS-UTC 18 s
    assert ev["time"].values[-1] == ns("2017-01-01T00:04:42.929326814")
    assert ev["time"].attrs["time_scale"] == "UTC" and ev["time"].attrs["gps_minus_utc"] == 18
    assert ev["timestamp"].values[0] == 1483228806 and ev["nanoseconds"].values[0] == 377192541
    assert ev.attrs["station_number"] == 501 and ev.attrs["table"] == f"{STATION}/events"
    assert "title" not in ev.attrs  # the file's TITLE is an empty HDF5 attribute
    sg = esd2017[f"{STATION}/singles"].to_dataset()
    assert sg.sizes["time"] == 301 and int(sg["mas_ch1_low"][150]) == 415
    we = esd2017[f"{STATION}/weather"].to_dataset()
    assert we.sizes["time"] == 60 and we["time"].values[-1] == ns("2017-01-01T00:04:40")
    assert float(we["barometer"][30]) == pytest.approx(1022.076, abs=1e-3)
    assert we["barometer"].attrs["units"] == "hPa"
    assert esd2017.attrs["file_format"] == "hisparc"


def test_esd_values_multidim_and_sentinels(esd2017):
    ev = esd2017[f"{STATION}/events"].to_dataset()
    assert ev["pulseheights"].dims == ("time", "detector")
    assert ev["pulseheights"].values[0].tolist() == [258, 7, 179, 6]
    assert ev["pulseheights"].attrs["units"] == "ADC"
    assert ev["detector"].values.tolist() == [1, 2, 3, 4]
    assert float(ev["n1"][0]) == pytest.approx(1.2268194)
    assert float(ev["t_trigger"][84]) == 110.0
    assert float(ev["t1"][0]) == 62.5 and np.isnan(ev["t2"].values[0])  # -999 -> NaN
    assert ev["t2"].encoding["_FillValue"] == -999.0
    assert ev["data_reduction"].dtype == np.bool_ and bool(ev["data_reduction"][0])
    assert ev["ext_timestamp"].dtype == np.uint64


def test_read_needs_table(testdata):
    path = testdata / ESD_2017
    with pytest.raises(ParseError) as err:
        crac.read(path)
    for name in ("events", "singles", "weather"):
        assert name in str(err.value)
    assert crac.read(path, table="weather").sizes["time"] == 60
    assert crac.read(path, table=f"{STATION}/singles").sizes["time"] == 301
    assert crac.read(path, table="cluster_amsterdam/station_501/events").sizes["time"] == 168
    with pytest.raises(ParseError, match="no such table"):
        crac.read(path, table="lightning")


def test_time_scale_gps(testdata):
    ev = read_hisparc(testdata / ESD_2017, table="events", time_scale="gps")
    assert ev["time"].values[0] == ns("2017-01-01T00:00:06.377192541")
    assert ev["time"].attrs["time_scale"] == "GPS"


def test_mask_sentinels_off(testdata):
    ev = read_hisparc(testdata / ESD_2017, table="events", mask_sentinels=False)
    assert float(ev["t2"][0]) == -999.0


def test_esd_sapphire_layout_with_lightning(testdata):
    tree = read_hisparc_tree(testdata / ESD_LOAD)
    assert sorted(tree.children) == ["events", "lightning", "singles", "weather"]
    lt = tree["lightning"].to_dataset()
    assert lt.sizes["time"] == 8
    assert abs(lt["time"].values[0] - ns("2015-07-17T00:00:50.887600")) < np.timedelta64(1, "us")
    assert float(lt["current"][4]) == -56050.0
    ev = tree["events"].to_dataset()
    assert ev["time"].values[-1] == ns("2012-01-01T00:00:44.859409523")
    assert ev["pulseheights"].values[0].tolist() == [2, 320, 47, 341]
    assert float(ev["n1"][38]) == pytest.approx(1.271)
    we = tree["weather"].to_dataset()
    assert float(we["temp_outside"][9]) == pytest.approx(10.611) and we.sizes["time"] == 18
    assert np.isnan(we["evapotranspiration"].values).all()  # -999 throughout


def test_datastore_layout_blobs_and_traces(testdata):
    path = testdata / DATASTORE
    tree = read_hisparc_tree(path)
    assert tree.attrs["skipped_nodes"] == "/s501/blobs"
    assert {n.name for n in tree.leaves} == {"comparator", "config", "events", "singles", "weather"}
    sg = tree["s501/singles"].to_dataset()
    assert sg.sizes["time"] == 61 and int(sg["mas_ch1_low"][30]) == 440
    # singles are stored out of order: kept as stored
    assert (np.diff(sg["timestamp"].values.astype(np.int64)) < 0).any()
    ev = read_hisparc(path, table="events", traces=True)
    assert ev["traces"].values[0].tolist() == [3, 4, 5, 6]
    assert ev["trace"].dims == ("time", "detector", "sample")
    assert ev["trace"].shape == (33, 4, 2400)
    assert ev["trace"].values[0, 0, :5].tolist() == [33, 33, 31, 32, 34]
    assert float(ev["event_rate"][16]) == pytest.approx(0.6666667)
    assert "trace" not in read_hisparc(path, table="events")
    cfg = tree["s501/config"].to_dataset()
    assert float(cfg["gps_latitude"][0]) == pytest.approx(52.3558991)


def test_time_range(testdata):
    tr = HisparcReader().time_range(testdata / ESD_2017)
    assert tr.first == ns("2016-12-31T23:59:42") and tr.last == ns("2017-01-01T00:04:42.929326814")
    assert tr.n is None
    tr = HisparcReader().time_range(testdata / WEATHER_TSV)
    assert tr.n == 18 and tr.last == ns("2012-01-01T00:00:43")


@pytest.mark.parametrize("name", [ESD_2017, ESD_LOAD, DATASTORE, EVENTS_TSV, WEATHER_TSV])
def test_round_trip(testdata, tmp_path, name):
    # imported here: test_synthetic_blosc_table runs this module in a fresh interpreter, without tests/formats on
    # sys.path
    from formats_helpers import assert_round_trip

    tree = crac.read_tree(testdata / name)
    for node in tree.leaves:
        if node.name == "config":
            continue  # 89 columns of the same kinds as the other tables: slow to write, nothing new
        assert_round_trip(node.to_dataset(), tmp_path)


def test_sniff(testdata):
    reader = HisparcReader()
    for name in (ESD_2017, ESD_LOAD, DATASTORE, EVENTS_TSV, WEATHER_TSV):
        path = testdata / name
        assert reader.sniff(path.read_bytes()[:4096], path), name
        if path.suffix == ".h5":
            assert is_pytables(path) and is_hisparc_hdf5(path)
            assert not NetcdfReader().sniff(path.read_bytes()[:4096], path)
    for path in (testdata / "cf_netcdf" / "pocean_timeseries_tt.nc",
                 testdata / "met_csv" / "brw_CCl4_Day.dat",
                 testdata / "met_csv" / "co2_brw_surface-insitu_1_ccgg_MonthlyData.txt"):
        assert not reader.sniff(path.read_bytes()[:4096], path), path
        assert not is_pytables(path)


# ----------------------------------------------------------------------------------------- synthetic HDF5

class _Boom:
    """Unpickling this object writes the marker file (it must never happen)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "unpickled!"))


def _write_pytables_like(path: Path, big_endian: bool = False, compression: str | None = None,
                         pickled_marker: Path | None = None, fields=("event_id", "timestamp")) -> None:
    """A PyTables-style table with a TIME-class timestamp column, written with low-level h5py."""
    time_t = (h5py.h5t.UNIX_D32BE if big_endian else h5py.h5t.UNIX_D32LE).copy()
    endian = ">" if big_endian else "<"
    ftype = h5py.h5t.create(h5py.h5t.COMPOUND, 4 + 4 + 4 + 8 + 4 * 2)
    ftype.insert(fields[0].encode(), 0, h5py.h5t.py_create(np.dtype(endian + "u4")))
    ftype.insert(fields[1].encode(), 4, time_t)
    ftype.insert(b"nanoseconds", 8, h5py.h5t.py_create(np.dtype(endian + "u4")))
    ftype.insert(b"temp", 12, h5py.h5t.py_create(np.dtype(endian + "f8")))
    ftype.insert(b"ph", 20, h5py.h5t.array_create(h5py.h5t.py_create(np.dtype(endian + "i2")), (4,)))
    raw_dtype = np.dtype({"names": ["id", "ts", "ns", "temp", "ph"],
                          "formats": [endian + "u4", endian + "i4", endian + "u4", endian + "f8",
                                      (np.dtype(endian + "i2"), (4,))],
                          "offsets": [0, 4, 8, 12, 20], "itemsize": 28})
    rows = np.zeros(3, dtype=raw_dtype)
    rows["id"] = [0, 1, 2]
    rows["ts"] = [1483228806, 1483228807, 1483228810]
    rows["ns"] = [5, 10, 999_999_999]
    rows["temp"] = [1.5, -999.0, -1.0]
    rows["ph"] = [[1, 2, 3, 4], [5, 6, -1, -1], [7, 8, 9, 10]]
    with h5py.File(path, "w") as f:
        f.attrs["CLASS"] = np.bytes_("GROUP")
        f.attrs["PYTABLES_FORMAT_VERSION"] = np.bytes_("2.1")
        f.attrs["TITLE"] = np.bytes_("synthetic")
        f.attrs["VERSION"] = np.bytes_("1.0")
        grp = f.create_group("hisparc/cluster_test/station_99")
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((2,))
        if compression == "blosc":
            hdf5plugin = pytest.importorskip("hdf5plugin")
            filt = hdf5plugin.Blosc()
            dcpl.set_filter(filt.filter_id, h5py.h5z.FLAG_OPTIONAL, filt.filter_options)
        space = h5py.h5s.create_simple((3,), (h5py.h5s.UNLIMITED,))
        dsid = h5py.h5d.create(grp.id, b"events", ftype, space, dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, rows.view(np.dtype((np.void, 28))), mtype=ftype)
        dset = grp["events"]
        dset.attrs["CLASS"] = np.bytes_("TABLE")
        dset.attrs["TITLE"] = np.bytes_("HiSPARC event data")
        dset.attrs["FIELD_0_NAME"] = np.bytes_("event_id")
        if pickled_marker is not None:
            dset.attrs["evil"] = np.bytes_(pickle.dumps(_Boom(str(pickled_marker)), protocol=0))
            dset.attrs["evil2"] = np.bytes_(pickle.dumps(_Boom(str(pickled_marker)), protocol=4))


@pytest.mark.parametrize("big_endian", [False, True])
def test_synthetic_time32_table(tmp_path, big_endian):
    path = tmp_path / "s.h5"
    _write_pytables_like(path, big_endian=big_endian)
    assert HisparcReader().sniff(path.read_bytes()[:4096], path)
    tree = crac.read_tree(path)
    ds = tree["hisparc/cluster_test/station_99/events"].to_dataset()
    want = ["2016-12-31T23:59:48.000000005", "2016-12-31T23:59:49.000000010", "2016-12-31T23:59:52.999999999"]
    np.testing.assert_array_equal(ds["time"].values, np.array(want, dtype="datetime64[ns]"))
    assert ds["timestamp"].values.tolist() == [1483228806, 1483228807, 1483228810]
    assert ds["ph"].dims == ("time", "detector") and ds["ph"].values[1].tolist() == [5, 6, -1, -1]
    assert ds["temp"].values[0] == 1.5 and np.isnan(ds["temp"].values[1]) and ds["temp"].values[2] == -1.0
    assert ds["temp"].dtype == np.float64 and ds["temp"].dtype.byteorder in "=|"
    assert ds.attrs["station_number"] == 99


def test_synthetic_blosc_table(tmp_path):
    pytest.importorskip("hdf5plugin")
    path = tmp_path / "blosc.h5"
    # Written in a fresh interpreter without HDF5_PLUGIN_PATH: importing netCDF4 points that variable at its own
    # blosc plugin (built for netCDF4's HDF5), after which h5py cannot *create* blosc datasets (reading works).
    code = ("import hdf5plugin, pathlib, runpy, sys; "
            "runpy.run_path(sys.argv[1])['_write_pytables_like'](pathlib.Path(sys.argv[2]), compression='blosc')")
    env = {k: v for k, v in os.environ.items() if k != "HDF5_PLUGIN_PATH"}
    done = subprocess.run([sys.executable, "-c", code, __file__, str(path)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    ds = read_hisparc(path)  # a single table: no table= needed
    assert ds.sizes["time"] == 3 and ds["nanoseconds"].values[2] == 999_999_999


def test_pickled_attributes_are_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled.txt"
    path = tmp_path / "pickle.h5"
    _write_pytables_like(path, pickled_marker=marker)
    ds = read_hisparc(path)
    assert not marker.exists()
    assert "evil" not in ds.attrs and "evil2" not in ds.attrs
    assert ds.attrs["title"] == "HiSPARC event data"
    crac.read_tree(path)
    assert not marker.exists()


def test_pytables_without_hisparc_columns_is_not_claimed(tmp_path):
    path = tmp_path / "other.h5"
    _write_pytables_like(path, fields=("id", "when"))
    assert is_pytables(path) and not is_hisparc_hdf5(path)
    assert not HisparcReader().sniff(path.read_bytes()[:4096], path)
    with pytest.raises(UnknownFormatError):
        crac.read(path)
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.arange(3)
    assert not HisparcReader().sniff(plain.read_bytes()[:4096], plain)
    with pytest.raises(ParseError, match="no PyTables table"):
        read_hisparc(plain)


def test_truncated_hdf5(testdata, tmp_path):
    path = tmp_path / "cut.h5"
    path.write_bytes((testdata / ESD_2017).read_bytes()[:50_000])
    with pytest.raises(ParseError, match="cut.h5"):
        read_hisparc(path, table="events")
    with pytest.raises(ParseError):
        read_hisparc_tree(path)


# ----------------------------------------------------------------------------------------- TSV

def test_events_tsv(testdata):
    ds = crac.read(testdata / EVENTS_TSV)
    assert ds.attrs["file_format"] == "hisparc" and ds.attrs["table"] == "events"
    assert ds.attrs["station_number"] == 501 and ds.attrs["station_name"] == "Nikhef"
    assert ds.attrs["data_start"] == "2012-01-01 00:00:00"
    assert "-999 indicate a problem" in ds.attrs["comment"]
    assert ds.sizes["time"] == 39
    assert ds["time"].values[0] == ns("2011-12-31T23:59:45.444165993")
    assert ds["time"].values[-1] == ns("2012-01-01T00:00:44.859409523")
    assert ds["time"].attrs["gps_minus_utc"] == 15
    assert "date" not in ds and "time_" not in ds
    assert [f"pulseheights_{k}" for k in range(1, 5)] == [v for v in ds.data_vars if v.startswith("pulseheights")]
    assert ds["pulseheights_1"].values[[0, 19, 38]].tolist() == [2.0, 2.0, 337.0]
    assert ds["pulseheights_1"].attrs == {"units": "ADC", "long_name": "maximum signal pulseheight (detector 1)",
                                          "original_name": "pulseheights"}
    assert ds["number_of_mips_2"].values[0] == pytest.approx(1.7258)
    assert "units" not in ds["number_of_mips_2"].attrs
    assert ds["trigger_time"].attrs["units"] == "ns" and ds["trigger_time"].values[19] == 45.0
    assert np.isnan(ds["zenith"].values[0]) and ds["zenith"].values[38] == 30.0
    assert ds["azimuth"].values[38] == -80.0
    assert ds["azimuth"].values[22] == -1.0  # -1 is kept (a valid azimuth)
    assert np.isnan(ds["arrival_times_1"].values[0]) and ds["arrival_times_2"].values[0] == 15.0
    assert ds["zenith"].encoding["_FillValue"] == -999.0
    assert ds["timestamp"].dtype == np.int64 and ds["nanoseconds"].values[-1] == 859409523


def test_weather_tsv(testdata):
    ds = crac.read(testdata / WEATHER_TSV)
    assert ds.attrs["table"] == "weather" and ds.attrs["title"] == "Event Summary Data - Weather"
    assert ds.sizes["time"] == 18
    assert ds["time"].values[0] == ns("2011-12-31T23:59:45") and ds["time"].values[-1] == ns("2012-01-01T00:00:43")
    assert ds["temperature_outside"].attrs["units"] == "deg C"
    assert ds["temperature_outside"].values[9] == pytest.approx(10.611)
    assert ds["atmospheric_pressure"].values[17] == 1007.0
    assert ds["uv_index"].attrs["units"] == "0-16"
    assert ds["dew_point"].values[0] == pytest.approx(9.0382)
    assert ds["wind_chill"].values[-1] == pytest.approx(11.091)
    assert np.isnan(ds["evapotranspiration"].values).all()
    assert ds["solar_radiation"].attrs["units"] == "W/m/m"
    tree = crac.read_tree(testdata / WEATHER_TSV)
    assert list(tree.children) == ["weather"]
    with pytest.raises(ParseError, match="weather"):
        crac.read(testdata / WEATHER_TSV, table="events")


HEADER = """# Event Summary Data - Weather
#
# Station: (99) Test
#
# This data contains the following columns:
#
# date:        time of event [GPS calendar date]
# time:        time of event [GPS time of day]
# timestamp:   time of event [UNIX timestamp]
# temperature: temperature [deg C]
# wind (2x):   wind [m/s]
#
# Values of -999 indicate a problem.
#
"""
ROWS = ["2012-01-01\t00:00:00\t1325376000\t1.5\t2\t3", "2012-01-01\t00:00:03\t1325376003\t-999\t4\t5"]


def _tsv(tmp_path: Path, rows: list[str], header: str = HEADER, tail: str = "\n# Finished downloading.") -> Path:
    path = tmp_path / "w.tsv"
    path.write_text(header + "\n".join(rows) + tail)
    return path


def test_tsv_synthetic_ok(tmp_path):
    ds = crac.read(_tsv(tmp_path, ROWS))
    assert ds.sizes["time"] == 2 and np.isnan(ds["temperature"].values[1])
    assert ds["wind_2"].values.tolist() == [3.0, 5.0] and ds.attrs["station_name"] == "Test"
    ds = crac.read(_tsv(tmp_path, ROWS, tail="\n"))  # no trailer
    assert ds.sizes["time"] == 2


def test_tsv_truncated_last_line(tmp_path):
    rows = ROWS + ["2012-01-01\t00:00:06\t1325376006\t1.7"]
    with pytest.warns(TruncatedRecordWarning, match="line 17"):
        ds = crac.read(_tsv(tmp_path, rows, tail=""))
    assert ds.sizes["time"] == 2 and ds.attrs["truncated_lines"] == "17"


def test_tsv_malformed(tmp_path):
    with pytest.raises(ParseError, match="line 16.*wrong number of fields"):
        crac.read(_tsv(tmp_path, [ROWS[0], "2012-01-01\t00:00:03\t1325376003\t4\t5", ROWS[1]]))
    with pytest.raises(ParseError) as err:
        crac.read(_tsv(tmp_path, [ROWS[0], ROWS[1].replace("\t4\t", "\tx4\t")]))
    assert err.value.line == 16 and err.value.column == "wind_1" and "x4" in str(err.value)
    with pytest.raises(ParseError, match="time goes backwards") as err:
        crac.read(_tsv(tmp_path, [ROWS[1], ROWS[0]]))
    assert err.value.line == 16
    with pytest.raises(ParseError, match="duplicated column"):
        crac.read(_tsv(tmp_path, ROWS, header=HEADER.replace("# wind (2x)", "# temperature")))
    with pytest.raises(ParseError, match="bad column description"):
        crac.read(_tsv(tmp_path, ROWS, header=HEADER.replace("# wind (2x):   wind [m/s]", "# ???")))
    no_ts = HEADER.replace("# timestamp:   time of event [UNIX timestamp]\n", "")
    with pytest.raises(ParseError, match="no timestamp column"):
        crac.read(_tsv(tmp_path, [r.replace("\t1325376000", "").replace("\t1325376003", "") for r in ROWS],
                       header=no_ts))
    path = tmp_path / "h.tsv"
    path.write_text("# Event Summary Data\n# HiSPARC\n# This data contains the following columns:\n#\n")
    with pytest.raises(ParseError, match="no column descriptions"):
        read_hisparc(path)


def test_tsv_binary_garbage_is_not_claimed(tmp_path):
    path = tmp_path / "g.tsv"
    path.write_bytes(bytes(range(256)) * 4)
    assert not HisparcReader().sniff(path.read_bytes(), path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ParseError):
            read_hisparc(path)
