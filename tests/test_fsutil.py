"""Tests of crac_tools.fsutil: atomic writes, hashing, copying and stale temp clean-up."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from crac_tools.fsutil import (
    FILE_MODE,
    TMP_PREFIX,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    copy_atomic,
    read_json,
    remove_stale_temps,
    sha256_file,
)


def _names(d):
    return sorted(p.name for p in d.iterdir())


def test_atomic_path_success(tmp_path):
    final = tmp_path / "sub" / "out.nc"
    with atomic_path(final) as tmp:
        assert tmp.parent == final.parent
        assert tmp.name.startswith(TMP_PREFIX + "out.nc.") and tmp.suffix == ".nc"
        assert not final.exists()
        tmp.write_bytes(b"data")
    assert final.read_bytes() == b"data"
    assert _names(final.parent) == ["out.nc"]
    assert stat.S_IMODE(final.stat().st_mode) == FILE_MODE


def test_atomic_path_suffix(tmp_path):
    with atomic_path(tmp_path / "plot", suffix=".png") as tmp:
        assert tmp.suffix == ".png"
        tmp.write_bytes(b"x")
    assert _names(tmp_path) == ["plot"]


def test_atomic_path_exception_keeps_old_file_and_leaves_no_temp(tmp_path):
    final = tmp_path / "keep.txt"
    final.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(final) as tmp:
            tmp.write_text("new partial")
            raise RuntimeError("boom")
    assert final.read_text() == "old"
    assert _names(tmp_path) == ["keep.txt"]


def test_atomic_path_exception_without_old_file(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "new.txt") as tmp:
            tmp.write_text("x")
            raise KeyboardInterrupt
    assert _names(tmp_path) == []


def test_atomic_path_refuses_a_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="use atomic_dir"):
        with atomic_path(tmp_path / "d") as tmp:
            tmp.unlink()
            tmp.mkdir()
            (tmp / "inner").write_text("x")
    assert _names(tmp_path) == []  # neither the final name nor the temp directory


def test_atomic_write_helpers(tmp_path):
    assert atomic_write_bytes(tmp_path / "b", b"\x00\x01") == tmp_path / "b"
    assert (tmp_path / "b").read_bytes() == b"\x00\x01"
    atomic_write_text(tmp_path / "t", "h\u00e9")
    assert (tmp_path / "t").read_bytes() == "h\u00e9".encode()
    atomic_write_json(tmp_path / "j.json", {"b": 1, "a": [1, 2]})
    text = (tmp_path / "j.json").read_text()
    assert text.index('"a"') < text.index('"b"') and text.endswith("\n")
    assert json.loads(text) == {"a": [1, 2], "b": 1}
    assert read_json(tmp_path / "j.json") == {"a": [1, 2], "b": 1}
    assert read_json(tmp_path / "missing.json", default={"x": 0}) == {"x": 0}
    atomic_write_text(tmp_path / "t", "replaced")
    assert (tmp_path / "t").read_text() == "replaced"
    assert not [n for n in _names(tmp_path) if n.startswith(TMP_PREFIX)]


def test_sha256_file_and_limit(tmp_path):
    data = os.urandom(3 * (1 << 20) + 123)  # more than one read chunk
    p = tmp_path / "f"
    p.write_bytes(data)
    assert sha256_file(p) == hashlib.sha256(data).hexdigest()
    for limit in (0, 1, 1000, (1 << 20) + 7, len(data)):
        assert sha256_file(p, limit=limit) == hashlib.sha256(data[:limit]).hexdigest()
    assert sha256_file(p, limit=len(data) + 50) == hashlib.sha256(data).hexdigest()  # a longer limit is all


def test_copy_atomic_whole_and_prefix(tmp_path):
    data = os.urandom((1 << 20) + 999)
    src = tmp_path / "src.dat"
    src.write_bytes(data)
    os.utime(src, ns=(1_600_000_000_000_000_000, 1_600_000_000_123_456_789))
    digest = copy_atomic(src, tmp_path / "out" / "whole.dat")
    assert digest == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "out" / "whole.dat").read_bytes() == data
    assert (tmp_path / "out" / "whole.dat").stat().st_mtime_ns == src.stat().st_mtime_ns
    n = (1 << 20) + 10
    digest = copy_atomic(src, tmp_path / "out" / "prefix.dat", length=n)
    assert digest == hashlib.sha256(data[:n]).hexdigest()
    assert (tmp_path / "out" / "prefix.dat").read_bytes() == data[:n]
    assert copy_atomic(src, tmp_path / "out" / "empty.dat", length=0) == hashlib.sha256(b"").hexdigest()
    assert _names(tmp_path / "out") == ["empty.dat", "prefix.dat", "whole.dat"]


def test_copy_atomic_mode_is_readable(tmp_path):
    src = tmp_path / "private.dat"
    src.write_bytes(b"abc")
    src.chmod(0o600)
    copy_atomic(src, tmp_path / "copy.dat")
    assert stat.S_IMODE((tmp_path / "copy.dat").stat().st_mode) == FILE_MODE


def test_copy_atomic_source_shorter_than_length_keeps_old_copy(tmp_path):
    src = tmp_path / "src.dat"
    src.write_bytes(b"abc")
    dst = tmp_path / "dst.dat"
    dst.write_bytes(b"abcdef")
    with pytest.raises(OSError, match="shrank"):
        copy_atomic(src, dst, length=6)
    assert dst.read_bytes() == b"abcdef"
    assert _names(tmp_path) == ["dst.dat", "src.dat"]


def test_copy_atomic_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError):
        copy_atomic(tmp_path / "nope", tmp_path / "dst")
    assert _names(tmp_path) == []


def test_remove_stale_temps(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    keep = [tmp_path / "a" / "data.dat", tmp_path / "a" / "b" / "x.crac-tmp-not-a-prefix"]
    for p in keep:
        p.write_text("keep")
    (tmp_path / (TMP_PREFIX + "top.nc.123")).write_text("t")
    (tmp_path / "a" / "b" / (TMP_PREFIX + "deep.json.9")).write_text("t")
    tdir = tmp_path / "a" / (TMP_PREFIX + "mirror.zarr")
    (tdir / "c").mkdir(parents=True)
    (tdir / "c" / "0").write_text("chunk")
    assert remove_stale_temps(tmp_path) == 3
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert left == ["a", "a/b", "a/b/x.crac-tmp-not-a-prefix", "a/data.dat"]
    assert all(p.read_text() == "keep" for p in keep)
    assert remove_stale_temps(tmp_path) == 0
