"""The archive's ASCII rules: printable ASCII, 132-character lines, source precision, scale factors."""

from __future__ import annotations

import numpy as np
import pytest

from crac_tools.export.ascii_rules import (
    AsciiRuleError,
    check_file,
    check_text,
    encode_column,
    pick_fill,
    shortest_repr,
    to_ascii,
    wrap_items,
    wrap_text,
)


def _decode(col, dtype):
    vals = np.array([np.nan if t == col.fill_text else float(t) for t in col.text])
    return (vals * col.scale).astype(dtype)


@pytest.mark.parametrize("decimals", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("dtype", ["f4", "f8"])
def test_round_trip_exact_for_logger_resolutions(decimals, dtype):
    rng = np.random.default_rng(decimals)
    values = np.round(rng.uniform(-500, 5000, 2000), decimals).astype(dtype)
    values[::97] = np.nan
    for allow_scale in (True, False):
        col = encode_column(values, allow_scale=allow_scale)
        np.testing.assert_array_equal(_decode(col, dtype), values)
        assert col.fill < np.nanmin(values * (1 / col.scale))


def test_float32_printed_with_shortest_round_trip_repr():
    v = np.array([0.1, 12.06, 1013.0], "f4")
    col = encode_column(v, allow_scale=False)
    assert col.text == ["0.10", "12.06", "1013.00"]  # 2 decimals from the data, never 0.100000001
    assert shortest_repr(np.float32(0.1)) == "0.1"
    full = np.random.default_rng(0).standard_normal(500).astype("f4")  # full float32 precision
    col = encode_column(full, allow_scale=False)
    assert all(len(t.replace("-", "").replace(".", "").lstrip("0")) <= 9 for t in col.text)
    np.testing.assert_array_equal(_decode(col, "f4"), full)


def test_no_more_digits_than_source_float64():
    v = np.array([0.3, 1 / 3])
    col = encode_column(v)
    assert col.text == ["0.3", "0.3333333333333333"] and col.scale == 1.0 and col.decimals == -1


def test_scale_used_only_when_smaller_and_exact():
    v = np.array([12.06, 11.5, 13.25], "f4")
    scaled = encode_column(v)
    plain = encode_column(v, allow_scale=False)
    assert scaled.scale_text == "0.01" and scaled.text == ["1206", "1150", "1325"]
    assert sum(map(len, scaled.text)) < sum(map(len, plain.text))
    ints = encode_column(np.array([1.0, 2.0], "f4"))
    assert ints.scale == 1.0 and ints.text == ["1", "2"]
    tiny = encode_column(np.array([3.5e-12, 1e-30], "f4"))  # scientific notation, never scaled
    assert tiny.scale == 1.0 and "e" in tiny.text[0]
    np.testing.assert_array_equal(_decode(tiny, "f4"), np.array([3.5e-12, 1e-30], "f4"))


def test_fill_is_below_the_data_and_not_a_flag():
    assert pick_fill(np.array([1.0, 2.0])) == -9999
    assert pick_fill(np.array([-9999.0, 2.0])) == -99999
    col = encode_column(np.array([-20000.5, np.nan], "f8"))
    assert col.fill < -200005 and col.text[1] == col.fill_text


def test_integers_and_bools():
    assert encode_column(np.array([1, -2], "i8")).text == ["1", "-2"]
    assert encode_column(np.array([True, False])).text == ["1", "0"]
    with pytest.raises(AsciiRuleError):
        encode_column(np.array(["a"]))


def test_text_helpers():
    assert to_ascii("Temp\u00e9rature\t\u00b0C\n") == "Temperature C "
    lines = wrap_text("word " * 100, 132, prefix="KEY: ", indent="  ")
    assert all(len(x) <= 132 for x in lines) and lines[0].startswith("KEY: ")
    assert wrap_items(["1234"] * 40, 20) == ["1234 1234 1234 1234"] * 10
    assert check_text("fine\n" + "x" * 132) == []
    assert check_text("x" * 133 + "\n\ttab") == ["line 1: 133 characters (at most 132)",
                                                 "line 2: character 0x09 is not printable ASCII (32-126)"]


def test_check_file_sees_non_ascii_bytes(tmp_path):
    p = tmp_path / "f.txt"
    p.write_bytes(b"ok\n\xe9t\xe9\n")
    assert check_file(p) == ["line 2: character 0xe9 is not printable ASCII (32-126)"]
