"""Helpers shared by the readers: value / name decisions (values.py), reader wiring (common.py) and the Campbell
header checks (campbell_types.py)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from crac_tools.errors import ParseError
from crac_tools.formats import campbell_types as ct
from crac_tools.formats.common import check_table, named_table_tree, no_records, safe_sniff, time_span
from crac_tools.formats.registry import SNIFF_BYTES
from crac_tools.formats.values import (
    as_float,
    as_int,
    decode_text,
    empty_values,
    fits_float32,
    fits_int32,
    netcdf_name,
)

T = np.datetime64
P = Path("t.dat")

# --------------------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------------------


def test_fits_float32_rules():
    assert fits_float32(np.array([1.016, 0.5542219, 26726000.0, 0.0, np.nan, np.inf]))
    assert not fits_float32(np.array([-0.471105068922043]))
    assert not fits_float32(np.array([4.09545187592563e-312]))  # float32 denormal / underflow
    assert not fits_float32(np.array([1e39]))  # float32 overflow
    assert not fits_float32(np.array([12345678.0]))  # 8 significant digits


def test_fits_float32_leaves_its_input_alone():
    x = np.array([1.5, np.nan, 0.0, 3e-300, -2.25, np.inf])
    before = x.copy()
    fits_float32(x)
    fits_float32(x[::2])
    np.testing.assert_array_equal(x, before)


def test_as_float_and_as_int():
    assert as_float(np.array([13.29, np.nan])).dtype == np.float32
    x = np.array([0.123456789])
    assert as_float(x) is x  # float64 that does not fit comes back as it is
    assert as_float(np.array([1, 2], dtype=np.uint8)).dtype == np.float32
    assert as_int(np.array([1, -2], dtype=np.int8)).dtype == np.int32
    assert as_int(np.array([2**31])).dtype == np.int64
    assert as_int(np.array([1, 2]), record=True).dtype == np.int64
    assert as_int(np.array([], dtype=np.int64)).dtype == np.int64  # empty: int64
    assert fits_int32(np.array([-(2**31), 2**31 - 1])) and not fits_int32(np.array([-(2**31) - 1]))


def test_empty_values():
    assert {k: str(empty_values(k).dtype) for k in ("int", "bool", "time", "string", "float", "other")} == {
        "int": "int64", "bool": "int32", "time": "datetime64[ns]", "string": "object", "float": "float64",
        "other": "float64"}
    assert all(empty_values(k).size == 0 for k in ("int", "time"))


def test_netcdf_name():
    assert netcdf_name("temp(1)", 0) == "temp(1)"
    assert netcdf_name(" a/b\x01 ", 0) == "a_b_"
    assert netcdf_name("+x", 0) == "v+x" and netcdf_name("_x", 0) == "_x"
    assert netcdf_name("", 2) == "column_3" and netcdf_name("  ", 2, "dim") == "dim_3"


def test_decode_text():
    assert decode_text("é".encode()) == ("é", "utf-8")
    assert decode_text("é".encode("latin-1")) == ("é", "latin-1")


# --------------------------------------------------------------------------------------------------
# reader wiring
# --------------------------------------------------------------------------------------------------


class _Probe:
    name = "probe"

    @safe_sniff
    def sniff(self, head: bytes, path: Path | None) -> bool:
        """Docstring kept."""
        return head.decode("ascii") == "ok"


def test_safe_sniff_never_raises_and_keeps_the_method():
    assert _Probe().sniff(b"ok", None) is True
    assert _Probe().sniff(b"no", None) is False
    assert _Probe().sniff(b"\xff", None) is False  # UnicodeDecodeError -> not this format
    assert _Probe.sniff.__name__ == "sniff" and _Probe.sniff.__doc__ == "Docstring kept."


def test_check_table():
    check_table(P, None, "Daily")
    check_table(P, "Daily", "Daily")
    with pytest.raises(ParseError) as info:
        check_table(P, "Hourly", "Daily", line=2)
    err = info.value
    assert (err.line, err.expected, err.found) == (2, "table 'Hourly'", "table 'Daily'")
    assert "the file holds table 'Daily', not 'Hourly'" in str(err)
    with pytest.raises(ParseError) as info:
        check_table(P, "Hourly", "")
    assert info.value.line is None


def test_named_table_tree():
    import xarray as xr

    ds = xr.Dataset({"a": ("time", [1.0])}, attrs={"table_name": "Daily"})
    tree = named_table_tree(ds)
    assert list(tree.children) == ["Daily"]
    xr.testing.assert_identical(tree["Daily"].to_dataset(), ds)
    assert list(named_table_tree(xr.Dataset(attrs={"table_name": ""})).children) == ["table"]


def test_time_span():
    t = np.array(["2024-01-03", "2024-01-01", "NaT", "2024-01-02"], dtype="datetime64[ns]")
    nr = no_records()
    assert np.isnat(nr.first) and np.isnat(nr.last) and nr.n == 0
    ordered = time_span(t[:2], ordered=True)
    assert (ordered.first, ordered.last, ordered.n) == (T("2024-01-03"), T("2024-01-01"), 2)
    span = time_span(t, skip_nat=True)
    assert (span.first, span.last, span.n) == (T("2024-01-01"), T("2024-01-03"), 4)  # NaT counted in n only
    for empty in (time_span(t[:0]), time_span(t[2:3], skip_nat=True)):  # NaT != NaT: compare field by field
        assert np.isnat(empty.first) and np.isnat(empty.last) and empty.n == 0
    assert time_span(np.datetime64("2024-01-01", "ns")).n == 1  # a scalar time is one record


# --------------------------------------------------------------------------------------------------
# Campbell header checks
# --------------------------------------------------------------------------------------------------


def test_header_lines():
    raw = b'"TOB1","x"\r\n"a"\r\n"m"\r\n1234'
    assert ct.header_lines(raw, P, "TOB1", ("file type", "names", "units")) == ([11, 16, 21], 22)
    with pytest.raises(ParseError) as info:
        ct.header_lines(raw, P, "TOB1", ("file type", "names", "units", "processing"))
    err = info.value
    assert (err.line, err.expected, err.found) == (4, "4 header lines (line 4: processing)", "3 line(s)")
    assert "incomplete TOB1 header" in str(err)
    # a last header line without its line end counts only when asked for
    assert ct.header_lines(b"\xef\xbb\xbfa\nb", P, "TOA5", ("x", "y"), start=3, unterminated=True) == ([4, 6], 6)
    with pytest.raises(ParseError, match="incomplete TOA5 header"):
        ct.header_lines(b"a\n  ", P, "TOA5", ("x", "y"), unterminated=True)


def test_header_attrs():
    assert ct.header_attrs([["TOA5", "St", "CR1000X"]], P, "TOA5", ct.HEADER_KEYS) == {
        "file_format": "TOA5", "station_name": "St", "logger_model": "CR1000X"}
    for first in ([], ["TOB1", "St"]):
        with pytest.raises(ParseError) as info:
            ct.header_attrs([first], P, "TOA5", ct.HEADER_KEYS)
        assert (info.value.line, info.value.expected) == (1, '"TOA5" as first field')
        assert info.value.found == repr(first[0] if first else "")


def test_check_column_lines_and_field_lines():
    rows = [["TOB3"], ["Tab"], ["a", "b"], ["m", ""], ["Smp"], ["FP2", "FP2"]]
    with pytest.raises(ParseError) as info:
        ct.field_lines(rows, 3, P)
    err = info.value
    assert (err.line, err.expected, err.found) == (5, "2 fields (one per name on line 3)", "1 fields")
    assert "the processing line does not match the field names" in str(err)
    rows[4] = ["Smp", "Avg"]
    assert ct.field_lines(rows, 3, P) == (["a", "b"], ["m", ""], ["Smp", "Avg"], ["FP2", "FP2"])
    rows[2] = []
    with pytest.raises(ParseError, match="no field names") as info:
        ct.field_lines(rows, 3, P)
    assert info.value.line == 3
    with pytest.raises(ParseError, match="duplicate column name") as info:
        ct.check_column_lines(P, ["a", "a"], [("units", ["", ""])], 2, "column")
    assert (info.value.line, info.value.found) == (2, "'a'")


def test_read_head():
    data = b"0123456789\n" * 10
    assert ct.read_head(io.BytesIO(data), len(data), 3, chunk=16) == data[:48]  # whole chunks
    assert ct.read_head(io.BytesIO(data), len(data), 99, chunk=16) == data  # stops at the end of the file


def test_sniff_header():
    seen = []

    def parse(raw: bytes, path: Path) -> None:
        seen.append(path)
        if b"bad" in raw:
            raise ParseError(path, "bad header")

    assert ct.sniff_header(b'"X"\nok\n', None, b'"X"', parse, 2, 1) and seen == [Path("<head>")]
    assert not ct.sniff_header(b'"Y"\nok\n', P, b'"X"', parse, 2, 1)
    with pytest.raises(ParseError):  # the reader's sniff is wrapped in safe_sniff
        ct.sniff_header(b'"X"\nbad\n', P, b'"X"', parse, 2, 1)
    long_header = b'"X"\n' + b"a" * SNIFF_BYTES  # a header longer than the sniffed bytes
    assert ct.sniff_header(long_header, P, b'"X"', parse, 2, 1)
    assert not ct.sniff_header(long_header, P, b'"X"', parse, 2, 2)
    assert not ct.sniff_header(long_header[:100], P, b'"X"', parse, 2, 1)  # the file ends inside the header
    assert seen == [Path("<head>"), P]
