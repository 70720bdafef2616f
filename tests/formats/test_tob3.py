"""Campbell TOB3 reader: the real CR1000X file against CardConvert's TOA5, and generated frame layouts
(ring-buffer wrap, stale frames, minor frames, empty frames, a cut last frame)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from formats_helpers import assert_round_trip, assert_same_as_toa5, for_netcdf, quiet

import crac_tools as crac
from crac_tools.errors import DataQualityWarning, ParseError, TruncatedRecordWarning
from crac_tools.formats.registry import get_reader, read_head
from crac_tools.formats.toa5 import read_toa5
from crac_tools.formats.tob3 import Tob3Reader, parse_interval, read_tob3

T = np.datetime64
STAMP = 0x34E5
REC = np.dtype([("x", ">f4"), ("c", ">u2"), ("b", ">u4")])  # IEEE4B, FP2, BOOL4: 10 bytes
NL = 5  # records per frame
FRAME = 12 + NL * REC.itemsize + 4


def header(frame_size: int = FRAME, interval: str = "1 SEC", resolution: str = "SecMsec", stamp: int = STAMP,
           types: str = '"IEEE4B","FP2","BOOL4"') -> bytes:
    lines = ['"TOB3","St3","CR1000X","77","CR1000X.Std.08.01","CPU:t.cr1x","4242","2024-01-01 00:00:00"',
             f'"Fast","{interval}","{frame_size}","100","{stamp}","{resolution}","           0","  1","99"',
             '"x","c","b"', '"degC","V",""', '"Smp","Avg","Smp"', types + " " * 20]
    return ("\r\n".join(lines) + "\r\n").encode()


def records(rec0: int, n: int) -> bytes:
    r = np.zeros(n, dtype=REC)
    k = np.arange(rec0, rec0 + n)
    r["x"] = k * 0.5
    r["c"] = 0x6000 | (k % 8000)  # k / 1000
    r["b"] = np.where(k % 2, 0xFFFFFFFF, 0)
    return r.tobytes()


def frame_head(sec: int, ms: int, rec0: int) -> bytes:
    return np.array([(sec, ms, rec0)], dtype=[("s", "<i4"), ("sub", "<i4"), ("rec", "<i4")]).tobytes()


def footer(offset: int = 0, stamp: int = STAMP, minor: bool = False, empty: bool = False) -> bytes:
    value = (stamp << 16) | offset | (0x4000 if minor else 0) | (0x2000 if empty else 0)
    return int(value).to_bytes(4, "little")


def full_frame(sec: int, rec0: int, ms: int = 0, stamp: int = STAMP) -> bytes:
    return frame_head(sec, ms, rec0) + records(rec0, NL) + footer(stamp=stamp)


def minor_frames(pieces: list[tuple[int, int, int]], stamp: int = STAMP) -> bytes:
    """One major frame made of minor frames ``(sec, rec0, n)``; the unused tail is filled with junk."""
    body = b""
    for sec, rec0, n in pieces:
        size = 12 + n * REC.itemsize + 4
        body += frame_head(sec, 0, rec0) + records(rec0, n) + footer(offset=size, stamp=stamp, minor=True)
    tail = FRAME - len(body)
    assert tail >= 4
    return body + b"\xa5" * (tail - 4) + footer(offset=tail, stamp=stamp, minor=True)


def write(tmp_path: Path, frames: list[bytes], name: str = "t.dat", **kw) -> Path:
    path = tmp_path / name
    path.write_bytes(header(**kw) + b"".join(frames))
    return path


def test_parse_interval():
    assert parse_interval("5 MSEC") == 5_000_000 and parse_interval("100 USEC") == 100_000
    assert parse_interval("30 MIN") == 1_800_000_000_000 and parse_interval("2 HOURS") == 7_200_000_000_000
    assert parse_interval("1 DAY") == 86_400_000_000_000 and parse_interval("fast") is None


def test_ring_buffer_wrap_and_stale_frames(tmp_path):
    rng = np.random.default_rng(0)
    stale = bytes(rng.integers(0, 256, FRAME - 4, dtype=np.uint8)) + footer(stamp=0x1111)
    # newest frames first (the ring wrapped), a stale frame from an earlier use of the card between them
    frames = [full_frame(110, 10), full_frame(115, 15), stale, full_frame(100, 0), full_frame(105, 5)]
    ds = quiet(read_tob3, write(tmp_path, frames))
    t0 = T("1990-01-01T00:01:40")
    assert ds.sizes["time"] == 20
    assert (ds["time"].values == t0 + np.arange(20).astype("timedelta64[s]")).all()
    assert ds["RECORD"].values.tolist() == list(range(20)) and ds["RECORD"].dtype == np.int64
    assert ds["x"].values.tolist() == [k * 0.5 for k in range(20)] and ds["x"].dtype == np.float32
    assert ds["c"].values[7] == np.float32(0.007) and ds["c"].attrs["units"] == "V"
    assert ds["b"].values[:3].tolist() == [0, -1, 0] and ds["b"].dtype == np.int32
    assert ds.attrs["frames_skipped"] == 1 and ds.attrs["validation_stamp"] == STAMP
    assert ds.attrs["table_name"] == "Fast" and ds.attrs["record_interval"] == "1 SEC"
    assert ds.attrs["frame_size"] == FRAME and ds.attrs["file_creation_time"] == "2024-01-01 00:00:00"
    assert ds.attrs["file_format"] == "TOB3" and ds["x"].attrs["campbell_type"] == "IEEE4B"
    tr = Tob3Reader().time_range(tmp_path / "t.dat")
    assert (tr.first, tr.last, tr.n) == (t0, t0 + np.timedelta64(19, "s"), 20)


def test_complemented_stamp_is_valid(tmp_path):
    frames = [full_frame(100, 0), full_frame(105, 5, stamp=0xFFFF ^ STAMP)]
    ds = quiet(read_tob3, write(tmp_path, frames))
    assert ds.sizes["time"] == 10 and ds.attrs["frames_skipped"] == 0


def test_minor_frames_mark_a_lapse(tmp_path):
    # a lapse after record 5: two minor frames of one record each, the second 12 s after the first
    frames = [full_frame(100, 0), minor_frames([(105, 5, 1), (117, 6, 1)]), full_frame(118, 7)]
    ds = quiet(read_tob3, write(tmp_path, frames))
    assert ds["RECORD"].values.tolist() == list(range(12))
    secs = ((ds["time"].values - T("1990-01-01")) // np.timedelta64(1, "s")).tolist()
    assert secs == [100, 101, 102, 103, 104, 105, 117, 118, 119, 120, 121, 122]
    assert ds["x"].values[6] == 3.0  # record 6's own values, not the junk after the minor frames


def test_minor_frames_with_no_spare_tail(tmp_path):
    # two minor frames fill the frame but for the major footer (offset 4)
    body = minor_frames([(100, 0, 1), (103, 1, 2)])
    ds = quiet(read_tob3, write(tmp_path, [body]))
    assert ds["RECORD"].values.tolist() == [0, 1, 2]
    secs = ((ds["time"].values - T("1990-01-01")) // np.timedelta64(1, "s")).tolist()
    assert secs == [100, 103, 104]


def test_minor_frames_that_do_not_add_up(tmp_path):
    body = bytearray(minor_frames([(100, 0, 1), (103, 1, 2)]))
    body[58:62] = footer(offset=50, minor=True)  # the second minor frame claims more bytes than it has
    with pytest.warns(DataQualityWarning, match="frame 1 .* minor frames do not add up .* the frame is skipped"):
        ds = read_tob3(write(tmp_path, [bytes(body), full_frame(110, 3)]))
    assert ds["RECORD"].values.tolist() == [3, 4, 5, 6, 7]


def test_empty_frame_skipped(tmp_path):
    empty = frame_head(0, 0, 0) + b"\x00" * (NL * REC.itemsize) + footer(empty=True)
    ds = quiet(read_tob3, write(tmp_path, [full_frame(100, 0), empty, full_frame(105, 5)]))
    assert ds.sizes["time"] == 10 and ds.attrs["frames_skipped"] == 0


def test_subsecond_frame_times(tmp_path):
    frames = [full_frame(100, 0, ms=250), full_frame(100, 5, ms=750)]
    ds = quiet(read_tob3, write(tmp_path, frames, interval="100 MSEC"))
    assert ds["time"].values[0] == T("1990-01-01T00:01:40.250")
    assert ds["time"].values[6] == T("1990-01-01T00:01:40.850")


def test_truncated_last_frame(tmp_path):
    path = write(tmp_path, [full_frame(100, 0), full_frame(105, 5)[:30]])
    with pytest.warns(TruncatedRecordWarning, match=r"truncated last frame left out \(30 of 66 bytes"):
        ds = read_tob3(path)
    assert ds.sizes["time"] == 5


def test_header_only_file(tmp_path):
    ds = quiet(read_tob3, write(tmp_path, []))
    assert ds.sizes["time"] == 0 and ds["RECORD"].dtype == np.int64
    assert np.isnat(Tob3Reader().time_range(tmp_path / "t.dat").first)


@pytest.mark.parametrize(("kw", "line", "message"), [
    ({"resolution": "SecFortnight"}, 2, "unknown frame time resolution"),
    ({"interval": "often"}, 2, "bad record interval"),
    ({"frame_size": 20}, 2, "frame too small for one record"),
    ({"types": '"IEEE4B","FP2"'}, 6, "data type line does not match"),
    ({"types": '"IEEE4B","FP2","USEC"'}, 6, "unsupported Campbell data type"),
])
def test_header_problems(tmp_path, kw, line, message):
    path = tmp_path / "bad.dat"
    path.write_bytes(header(**kw))
    with pytest.raises(ParseError, match=message) as info:
        read_tob3(path)
    assert info.value.line == line and "bad.dat" in str(info.value)


def test_incomplete_header(tmp_path):
    path = tmp_path / "cut.dat"
    text = header()
    path.write_bytes(text[:text.index(b'"x"') + 3])  # two header lines and a bit
    with pytest.raises(ParseError, match="incomplete TOB3 header") as info:
        read_tob3(path)
    assert info.value.line == 3


def test_sniff_table_and_tree(tmp_path):
    path = write(tmp_path, [full_frame(100, 0)], name="fast.bin")
    assert get_reader(path).name == "tob3"
    assert crac.read(path).sizes["time"] == 5
    assert Tob3Reader().read(path, table="Fast").sizes["time"] == 5
    with pytest.raises(ParseError, match="holds table 'Fast', not 'Slow'"):
        Tob3Reader().read(path, table="Slow")
    assert list(Tob3Reader().read_tree(path).children) == ["Fast"]
    assert not Tob3Reader().sniff(b'"TOB3","St"\r\n', None)
    assert not Tob3Reader().sniff(b'"TOB1","St"\r\n' * 10, None)
    assert not Tob3Reader().sniff(b"\x00" * 4096, None)


# --------------------------------------------------------------------------------------------------
# real file: equal to the TOA5 that CardConvert made from it
# --------------------------------------------------------------------------------------------------


def test_long27_equals_cardconvert_toa5(testdata, tmp_path):
    camp = testdata / "campbell"
    ds = quiet(read_tob3, camp / "TOB3_long27.dat")
    assert_same_as_toa5(ds, read_toa5(camp / "TOA5_TOB3_long27_2026_02_19_0946.dat"))
    t = ds["time"].values
    assert t.size == 79 and t[0] == T("2026-02-19T09:46:17.005") and t[-1] == T("2026-02-19T09:46:17.400")
    # a skipped scan inside the first frame is written as a second minor frame: 17.015 -> 17.025
    assert t[2] == T("2026-02-19T09:46:17.015") and t[3] == T("2026-02-19T09:46:17.025")
    assert ds["RECORD"].values[0] == 5333 and ds["RECORD"].values[-1] == 5411
    assert ds["temp(1)"].values[0] == np.float32(-0.4282773) and np.isnan(ds["temp(1)"].values[39])
    assert ds["temp(2)"].values[0] == np.float32(0.428)  # FP2
    assert ds["temp(3)"].dtype == np.float64 and ds["temp(3)"].values[0] == -0.471105068922043  # IEEE8B
    assert ds["temp(4)"].values[78] == 8116 and ds["temp(5)"].values[39] == 26831000
    assert ds["toggle"].values[:3].tolist() == [-1, -1, 0]  # BOOL4
    assert ds["temp_bool8(2)"].values[0] == "11111111" and ds["text_val_2"].values[0] == "142857"
    assert ds.attrs["frames_skipped"] == 18 and ds.attrs["frame_time_resolution"] == "Sec100Usec"
    assert ds.attrs["table_name"] == "TOB3_Long" and ds.attrs["intended_table_size"] == 216
    tr = Tob3Reader().time_range(camp / "TOB3_long27.dat")
    assert (tr.first, tr.last, tr.n) == (T("2026-02-19T09:46:17.005"), T("2026-02-19T09:46:17.4"), 79)
    assert_round_trip(for_netcdf(ds), tmp_path)


def test_real_files_sniffed(testdata):
    camp = testdata / "campbell"
    assert get_reader(camp / "TOB3_long27.dat").name == "tob3"
    for name in ("TOB1_full27.dat", "TOA5_TOB3_long27_2026_02_19_0946.dat", "CR10X_array_WX_data.dat"):
        assert not Tob3Reader().sniff(read_head(camp / name), camp / name)
