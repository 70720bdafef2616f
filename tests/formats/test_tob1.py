"""Campbell TOB1 reader and the shared Campbell type decoders: real files paired with CardConvert's TOA5,
and small generated files."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from formats_helpers import assert_round_trip, assert_same_as_toa5, for_netcdf, quiet

import crac_tools as crac
from crac_tools.errors import ParseError, TruncatedRecordWarning
from crac_tools.formats import campbell_types as ct
from crac_tools.formats.registry import get_reader, read_head
from crac_tools.formats.toa5 import read_toa5
from crac_tools.formats.tob1 import Tob1Reader, read_tob1

T = np.datetime64
EPOCH = 631_152_000  # 1990-01-01 in Unix seconds


# --------------------------------------------------------------------------------------------------
# generated files
# --------------------------------------------------------------------------------------------------

FILE_LINE = '"TOB1","St1","CR1000X","1234","CR1000X.Std.08.01","CPU:test.cr1x","999","Tab"'


def tob1_bytes(fields: list[tuple[str, str, str, str, np.ndarray]], first: str = FILE_LINE) -> bytes:
    """A TOB1 file: ``fields`` is a list of (name, units, process, type, raw values in the type's dtype)."""
    header = [first,
              ",".join(f'"{f[0]}"' for f in fields),
              ",".join(f'"{f[1]}"' for f in fields),
              ",".join(f'"{f[2]}"' for f in fields),
              ",".join(f'"{f[3]}"' for f in fields)]
    dtype = np.dtype([(f"f{j}", f[4].dtype) for j, f in enumerate(fields)])
    rec = np.zeros(len(fields[0][4]), dtype=dtype)
    for j, f in enumerate(fields):
        rec[f"f{j}"] = f[4]
    return ("\r\n".join(header) + "\r\n").encode() + rec.tobytes()


def stamp_fields(n: int, start: int = 1_100_000_000, step_ns: int = 500_000_000) -> list:
    ns = np.arange(n, dtype=np.int64) * step_ns
    return [("SECONDS", "SECONDS", "", "ULONG", (start + ns // 1_000_000_000).astype("<u4")),
            ("NANOSECONDS", "NANOSECONDS", "", "ULONG", (ns % 1_000_000_000).astype("<u4")),
            ("RECORD", "RN", "", "ULONG", np.arange(n, dtype="<u4") + 7)]


def write(tmp_path: Path, data: bytes, name: str = "t.dat") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def secnano(seconds, nanos, order="<"):
    out = np.zeros(len(seconds), dtype=[("s", f"{order}i4"), ("ns", f"{order}i4")])
    out["s"], out["ns"] = seconds, nanos
    return out


def test_generated_every_type(tmp_path):
    n = 4
    fp2 = np.array([0x6000 | 428, 0x8000 | 0x4000 | 1234, 0x1FFF, 0x9FFE], dtype=">u2")  # .428 -12.34 +INF NaN
    fields = stamp_fields(n) + [
        ("f4", "degC", "Avg", "IEEE4", np.array([0.55422193, -1.5, np.nan, 1e-3], dtype="<f4")),
        ("f4b", "degC", "Smp", "IEEE4B", np.array([0.55422193, 2.25, np.inf, -7], dtype=">f4")),
        ("f8", "", "Smp", "IEEE8", np.array([-0.47110506892204284, 1.0, np.nan, 4.09545187592563e-312], "<f8")),
        ("f8b", "", "Smp", "IEEE8B", np.array([0.1, 0.25, 0.5, 1.0], ">f8")),
        ("fp2", "V", "Max", "FP2", fp2),
        ("u2", "", "Smp", "UINT2", np.array([0, 1, 65535, 5116], ">u2")),
        ("i2", "", "Smp", "INT2", np.array([-2, 1, 32767, -32768], ">i2")),
        ("u4", "", "Smp", "UINT4", np.array([0, 26726000, 2**31, 5], ">u4")),
        ("i4", "", "Smp", "INT4", np.array([-1, 0, 1, 2], ">i4")),
        ("us", "", "Smp", "USHORT", np.array([1, 2, 3, 4], "<u2")),
        ("sh", "", "Smp", "SHORT", np.array([-1, -2, 3, 4], "<i2")),
        ("lg", "", "Smp", "LONG", np.array([-5, 0, 5, 2**31 - 1], "<i4")),
        ("b1", "", "Smp", "BOOL", np.array([0, 255, 1, 0], "u1")),
        ("b2", "", "Smp", "BOOL2", np.array([0, 0xFFFF, 0, 1], ">u2")),
        ("b4", "", "Smp", "BOOL4", np.array([0xFFFFFFFF, 0, 0, 1], ">u4")),
        ("b8", "", "Smp", "BOOL8", np.array([0, 255, 1, 0x80], "u1")),
        ("txt", "", "Smp", "ASCII(8)", np.array([b"abc", b"12345678", b"", b"x\x00junk"], "S8")),
        ("tmx", "degC", "TMx", "SecNano", secnano([1140342377, 0, 10, 10], [100_000_000, 0, 1, 999_999_999])),
        ("tns", "", "Smp", "NSec", secnano([1140342377, 1, 2, 3], [5, 0, 0, 0], order=">")),
    ]
    path = write(tmp_path, tob1_bytes(fields))
    ds = quiet(read_tob1, path)
    assert ds.sizes["time"] == n
    assert ds["time"].values[0] == T("2024-11-09T11:33:20") and ds["time"].values[3] == T("2024-11-09T11:33:21.5")
    assert ds["RECORD"].dtype == np.int64 and ds["RECORD"].values.tolist() == [7, 8, 9, 10]
    assert "SECONDS" not in ds and "NANOSECONDS" not in ds
    assert ds["time"].attrs["original_name"] == "SECONDS, NANOSECONDS"
    # IEEE4 rounded to the 7 digits Campbell prints, float32
    assert ds["f4"].dtype == np.float32 and ds["f4"].values[0] == np.float32(0.5542219)
    assert np.isnan(ds["f4"].values[2]) and ds["f4"].values[3] == np.float32(0.001)
    assert ds["f4b"].values.tolist()[:2] == [np.float32(0.5542219), 2.25] and ds["f4b"].values[2] == np.inf
    # IEEE8: 15 digits, float64 when needed (denormal kept), float32 when every value fits
    assert ds["f8"].dtype == np.float64 and ds["f8"].values[0] == -0.471105068922043
    assert ds["f8"].values[3] == 4.09545187592563e-312
    assert ds["f8b"].dtype == np.float32 and ds["f8b"].values[0] == np.float32(0.1)
    fp = ds["fp2"].values
    assert ds["fp2"].dtype == np.float32 and fp[0] == np.float32(0.428) and fp[1] == np.float32(-12.34)
    assert fp[2] == np.inf and np.isnan(fp[3])
    assert ds["fp2"].attrs == {"units": "V", "process": "Max", "long_name": "fp2 (Max)", "campbell_type": "FP2"}
    assert ds["fp2"].encoding["_FillValue"] is np.nan or np.isnan(ds["fp2"].encoding["_FillValue"])
    assert ds["u2"].dtype == np.int32 and ds["u2"].values.tolist() == [0, 1, 65535, 5116]
    assert ds["i2"].values.tolist() == [-2, 1, 32767, -32768]
    assert ds["u4"].dtype == np.int64 and ds["u4"].values[2] == 2**31  # does not fit int32
    assert ds["i4"].values.tolist() == [-1, 0, 1, 2] and ds["sh"].values.tolist() == [-1, -2, 3, 4]
    assert ds["us"].values.tolist() == [1, 2, 3, 4] and ds["lg"].values[3] == 2**31 - 1
    for name in ("b1", "b2", "b4"):
        assert ds[name].dtype == np.int32
    assert ds["b1"].values.tolist() == [0, -1, -1, 0] and ds["b4"].values.tolist() == [-1, 0, 0, -1]
    assert ds["b8"].values.tolist() == ["00000000", "11111111", "10000000", "00000001"]
    assert ds["txt"].dtype == object and ds["txt"].values.tolist() == ["abc", "12345678", "", "x"]
    assert ds["tmx"].dtype == np.dtype("datetime64[ns]")
    assert ds["tmx"].values[0] == T("2026-02-19T09:46:17.1") and ds["tmx"].values[1] == T("1990-01-01")
    assert ds["tmx"].values[3] == T("1990-01-01T00:00:10.999999999")
    assert ds["tns"].values[0] == T("2026-02-19T09:46:17.000000005")
    assert ds.attrs["file_format"] == "TOB1" and ds.attrs["table_name"] == "Tab"
    assert ds.attrs["logger_serial"] == "1234" and ds.attrs["source_file"] == "t.dat"
    assert_round_trip(for_netcdf(ds), tmp_path)


def test_truncated_last_record(tmp_path):
    data = tob1_bytes(stamp_fields(5) + [("x", "", "", "IEEE4", np.arange(5, dtype="<f4"))])
    path = write(tmp_path, data[:-3])
    with pytest.warns(TruncatedRecordWarning, match=r"truncated last record left out \(13 of 16 bytes"):
        ds = read_tob1(path)
    assert ds.sizes["time"] == 4 and ds["x"].values[-1] == 3


def test_header_only_file(tmp_path):
    path = write(tmp_path, tob1_bytes(stamp_fields(0) + [("x", "", "", "FP2", np.zeros(0, ">u2"))]))
    ds = quiet(read_tob1, path)
    assert ds.sizes["time"] == 0 and ds["x"].dtype.kind == "f" and ds["time"].dtype == np.dtype("datetime64[ns]")
    tr = Tob1Reader().time_range(path)
    assert tr.n == 0 and np.isnat(tr.first)


def test_secnano_timestamp_instead_of_seconds(tmp_path):
    fields = [("TIMESTAMP", "TS", "", "SecNano", secnano([100, 101], [0, 5])),
              ("v", "", "", "IEEE4", np.array([1, 2], "<f4"))]
    ds = quiet(read_tob1, write(tmp_path, tob1_bytes(fields)))
    assert ds["time"].values.tolist() == [T("1990-01-01T00:01:40").astype("datetime64[ns]").astype(int),
                                          T("1990-01-01T00:01:41.000000005").astype(int)]


@pytest.mark.parametrize(("lines", "line", "message"), [
    ([FILE_LINE, '"SECONDS","NANOSECONDS"', '"",""'], 4, "incomplete TOB1 header"),
    (['"TOB2","x"', '"SECONDS"', '""', '""', '"ULONG"'], 1, "not a TOB1 file"),
    ([FILE_LINE, '"SECONDS","NANOSECONDS"', '"",""', '"",""', '"ULONG"'], 5, "data type line does not match"),
    ([FILE_LINE, '"SECONDS","NANOSECONDS"', '""', '"",""', '"ULONG","ULONG"'], 3, "units line does not match"),
    ([FILE_LINE, '"SECONDS","SECONDS"', '"",""', '"",""', '"ULONG","ULONG"'], 2, "duplicate field name"),
    ([FILE_LINE, '"SECONDS","x"', '"",""', '"",""', '"ULONG","FP3"'], 5, "unsupported Campbell data type"),
    ([FILE_LINE, '"a","b"', '"",""', '"",""', '"ULONG","ULONG"'], 2, "no record time stamp"),
    ([FILE_LINE, '"SECONDS","b"', '"",""', '"",""', '"IEEE4","ULONG"'], 5, "SECONDS must be an integer"),
])
def test_header_problems(tmp_path, lines, line, message):
    path = write(tmp_path, ("\r\n".join(lines) + "\r\n").encode())
    with pytest.raises(ParseError, match=message) as info:
        read_tob1(path)
    assert info.value.line == line and str(path) in str(info.value)


def test_unsupported_type_names_the_column(tmp_path):
    path = write(tmp_path, ("\r\n".join([FILE_LINE, '"SECONDS","weird"', '"",""', '"",""', '"ULONG","USEC"'])
                            + "\r\n").encode())
    with pytest.raises(ParseError) as info:
        read_tob1(path)
    assert info.value.column == "weird" and "'USEC'" in str(info.value)


def test_table_argument_and_tree(tmp_path):
    path = write(tmp_path, tob1_bytes(stamp_fields(3) + [("x", "", "", "FP2", np.full(3, 5, ">u2"))]))
    assert Tob1Reader().read(path, table="Tab").sizes["time"] == 3
    with pytest.raises(ParseError, match="holds table 'Tab', not 'Other'"):
        Tob1Reader().read(path, table="Other")
    tree = Tob1Reader().read_tree(path)
    assert list(tree.children) == ["Tab"]
    tr = Tob1Reader().time_range(path)
    assert (tr.first, tr.last, tr.n) == (T("2024-11-09T11:33:20"), T("2024-11-09T11:33:21"), 3)


def test_sniff(tmp_path):
    good = tob1_bytes(stamp_fields(2) + [("x", "", "", "FP2", np.zeros(2, ">u2"))])
    reader = Tob1Reader()
    assert reader.sniff(good[:4096], None)
    assert not reader.sniff(b'"TOB1","St","CR1000"\n', None)  # header cut short: not a TOB1 file
    assert not reader.sniff(b'"TOA5","St","CR1000"\r\n', None)
    assert not reader.sniff(b'"TOB3","St","CR1000"\r\n', None)
    assert not reader.sniff(bytes(range(256)) * 16, None)
    long_header = b'"TOB1","St"\r\n"' + b'x' * 5000  # header longer than the sniffed bytes
    assert reader.sniff(long_header[:4096], None)
    path = write(tmp_path, good, "looks_like.csv")
    assert get_reader(path).name == "tob1"
    assert crac.read(path).attrs["file_format"] == "TOB1"


# --------------------------------------------------------------------------------------------------
# shared Campbell type decoders
# --------------------------------------------------------------------------------------------------


def test_round_significant_matches_printf():
    rng = np.random.default_rng(7)
    singles = np.concatenate([(rng.standard_normal(20_000) * 10.0 ** rng.integers(-12, 12, 20_000)).astype(np.float32),
                              rng.integers(-2**31, 2**31, 20_000).astype(np.int32).view(np.float32),
                              np.array([16777215, 16777205, 9.9999999, 1e-5, 0.00099999994], np.float32)])
    doubles = np.concatenate([rng.standard_normal(20_000) * 10.0 ** rng.integers(-30, 30, 20_000),
                              rng.integers(-2**62, 2**62, 20_000).view(np.float64)])
    with np.errstate(invalid="ignore"):  # signalling NaN bit patterns among the random floats
        singles = singles.astype(np.float64)
    for values, digits, single in ((singles, 7, True), (doubles, 15, False), (singles, 7, False)):
        got = ct.round_significant(values, digits, single=single)
        fin = np.isfinite(values)
        want = np.array([float(f"{v:.{digits}g}") for v in values[fin]])
        np.testing.assert_array_equal(got[fin], want)
        assert np.array_equal(np.isnan(got), np.isnan(values))


def test_fp2_codes():
    raw = np.array([0, 0x8000 | 5, 0x2000 | 1234, 0x4000 | 999, 0x6000 | 7999, 0x1FFF, 0x9FFF, 0x9FFE], ">u2")
    got = ct.decode_fp2(raw)
    assert got[:5].tolist() == [0.0, -5.0, 123.4, 9.99, 7.999]
    assert got[5] == np.inf and got[6] == -np.inf and np.isnan(got[7])


def test_type_table():
    assert ct.parse_type("ieee4").raw == np.dtype("<f4") and ct.parse_type("IEEE4L").raw == np.dtype("<f4")
    assert ct.parse_type("UINT2").raw == np.dtype(">u2") and ct.parse_type("USHORT").raw == np.dtype("<u2")
    assert ct.parse_type("ASCII(36)").size == 36 and ct.parse_type("ASCII(0)") is None
    assert ct.parse_type("SecNano").size == 8 and ct.parse_type("FP4") is None
    assert ct.record_dtype([ct.parse_type(t) for t in ("ULONG", "FP2", "ASCII(3)", "BOOL8")]).itemsize == 10


# --------------------------------------------------------------------------------------------------
# real files: equal to the TOA5 that CardConvert made from them
# --------------------------------------------------------------------------------------------------


def test_full27_equals_cardconvert_toa5(testdata, tmp_path):
    camp = testdata / "campbell"
    ds = quiet(read_tob1, camp / "TOB1_full27.dat")
    assert_same_as_toa5(ds, read_toa5(camp / "TOA5_TOB1_full27_2026_02_19_0946.dat"))
    t = ds["time"].values
    assert t.size == 61 and t[0] == T("2026-02-19T09:46:17.100") and t[1] == T("2026-02-19T09:46:17.105")
    assert t[-1] == T("2026-02-19T09:46:17.400")
    assert ds["RECORD"].values[0] == 5351 and ds["RECORD"].values[-1] == 5411
    assert np.isnan(ds["temp(1)"].values[0]) and ds["temp(1)"].values[30] == np.float32(0.196)  # FP2
    assert ds["temp(2)"].values[0] == np.float32(0.5542219)  # IEEE4, 7 digits
    assert ds["temp_Avg(3)"].dtype == np.float64 and ds["temp_Avg(3)"].values[0] == 4.09545187592563e-312
    assert ds["temp(3)"].values[0] == 2.04146864414417e-312
    assert np.isnan(ds["temp_Avg(1)"].values).all() and np.isnan(ds["temp_Avg(2)"].values).all()
    assert ds["temp(4)"].values[60] == 8116 and ds["temp(5)"].values[30] == 26876000
    assert ds["temp_Max(1)"].values[60] == np.float32(1.049)
    assert ds["temp_TMx(1)"].values[30] == T("2026-02-19T09:46:17.247")
    assert ds["temp_TMx(1)"].attrs["units"] == "degC"
    assert ds["temp_bool8(1)"].values[:2].tolist() == ["00000000", "11111111"]
    assert ds["toggle"].values[:3].tolist() == [-1, -1, 0]
    assert ds["text_val"].values[0] == "64291" and ds["text_val_3"].values[-1] == "314159"
    assert ds["temp(1)"].attrs["campbell_type"] == "FP2" and ds["rand"].attrs["campbell_type"] == "IEEE4"
    assert ds.attrs["table_name"] == "TOB1_Full" and ds.attrs["logger_os"] == "CR1000X.Std.08.01"
    assert_round_trip(for_netcdf(ds), tmp_path)


def test_station_daily_equals_toa5(testdata, tmp_path):
    camp = testdata / "campbell"
    ds = quiet(read_tob1, camp / "TOB1_Station_Daily.dat")
    assert_same_as_toa5(ds, read_toa5(camp / "Station_Daily.dat"))
    assert ds.sizes["time"] == 57 and ds["time"].values[-1] == T("2014-06-06")
    assert ds["AirT_Min"].values[29] == np.float32(-39.93) and np.isnan(ds["WaterLvl_Min"].values[29])
    assert ds["AirT_TMx"].values[28] == T("2014-05-08T14:45:00")
    assert ds.attrs["station_name"] == "Station" and ds.attrs["file_format"] == "TOB1"
    tr = Tob1Reader().time_range(camp / "TOB1_Station_Daily.dat")
    assert (tr.first, tr.last, tr.n) == (T("2014-04-11"), T("2014-06-06"), 57)
    assert_round_trip(for_netcdf(ds), tmp_path)


def test_real_files_sniffed(testdata):
    camp = testdata / "campbell"
    for name in ("TOB1_full27.dat", "TOB1_Station_Daily.dat"):
        assert get_reader(camp / name).name == "tob1"
    for name in ("TOB3_long27.dat", "Station_Daily.dat", "CR10X_array_WX_data.dat"):
        assert not Tob1Reader().sniff(read_head(camp / name), camp / name)


# --------------------------------------------------------------------------------------------------
# performance
# --------------------------------------------------------------------------------------------------


def test_one_day_at_10hz_is_fast(tmp_path):
    n = 864_000
    rng = np.random.default_rng(3)
    fields = stamp_fields(n, step_ns=100_000_000)
    fields += [(f"v{i}", "m/s", "Smp", "IEEE4", rng.normal(0, 3, n).astype("<f4")) for i in range(6)]
    fields += [(f"p{i}", "degC", "Smp", "FP2", rng.integers(0, 0x7FFF, n).astype(">u2")) for i in range(3)]
    path = write(tmp_path, tob1_bytes(fields))
    read_tob1(path)  # warm up
    t0 = time.perf_counter()
    ds = read_tob1(path)
    took = time.perf_counter() - t0
    assert ds.sizes["time"] == n and ds["v0"].dtype == np.float32
    assert took < 5.0, f"a 10 Hz day of TOB1 took {took:.2f} s"
