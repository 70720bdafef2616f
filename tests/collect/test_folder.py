"""Tests of crac_tools.collect.folder (local folder collection) and crac_tools.collect.manifest (raw archive)."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from crac_tools.collect.folder import collect_folder, expand_sources, is_local
from crac_tools.collect.manifest import RawArchive
from crac_tools.errors import CollectError
from crac_tools.fsutil import TMP_PREFIX

KEY = "alpha_met"


@pytest.fixture
def src(tmp_path) -> Path:
    d = tmp_path / "field"
    d.mkdir()
    return d


@pytest.fixture
def archive(tmp_path) -> Path:
    return tmp_path / "archive"


def _write(path: Path, data: bytes, mtime_s: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime_s is not None:
        os.utime(path, (mtime_s, mtime_s))
    return path


def _raw(archive: Path) -> Path:
    return archive / "raw" / KEY


def _manifest(archive: Path) -> dict[str, str]:
    out = {}
    for line in (_raw(archive) / "SHA256SUMS").read_text().splitlines():
        digest, sep, name = line.partition("  ")
        assert sep and len(digest) == 64
        out[name] = digest
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _temps(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(TMP_PREFIX)]


def test_new_files_copied_with_original_names(src, archive):
    a = _write(src / "CR1000_Table1.dat", b"a,1\na,2\n")
    b = _write(src / "CR1000_Table2.dat", b"b,1\n")
    _write(src / "notes.txt", b"not matched")
    got = collect_folder([str(src / "*.dat")], archive, KEY)
    assert [(c.source, c.name, c.action, c.size) for c in got] == [
        (str(a.resolve()), "CR1000_Table1.dat", "new", 8), (str(b.resolve()), "CR1000_Table2.dat", "new", 4)]
    assert got[0].sha256 == hashlib.sha256(b"a,1\na,2\n").hexdigest()
    assert sorted(p.name for p in _raw(archive).iterdir()) == ["CR1000_Table1.dat", "CR1000_Table2.dat",
                                                              "SHA256SUMS"]
    assert (_raw(archive) / "CR1000_Table1.dat").read_bytes() == a.read_bytes()
    assert (_raw(archive) / "CR1000_Table2.dat").read_bytes() == b.read_bytes()
    assert _temps(archive) == []


def test_manifest_matches_copies_and_sha256sum(src, archive):
    for i in range(3):
        _write(src / f"f{i}.dat", os.urandom(1000 + i))
    collect_folder([str(src / "*.dat")], archive, KEY)
    manifest = _manifest(archive)
    assert sorted(manifest) == ["f0.dat", "f1.dat", "f2.dat"]
    for name, digest in manifest.items():
        assert digest == _sha(_raw(archive) / name)
    text = (_raw(archive) / "SHA256SUMS").read_text()
    assert text.endswith("\n") and text.count("\n") == 3
    if shutil.which("sha256sum"):
        res = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=_raw(archive), capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
        assert res.stdout.count(": OK") == 3


def test_second_run_copies_nothing(src, archive):
    _write(src / "a.dat", b"123")
    assert len(collect_folder([str(src / "*.dat")], archive, KEY)) == 1
    before = (_raw(archive) / "SHA256SUMS").read_bytes()
    mtime = (_raw(archive) / "a.dat").stat().st_mtime_ns
    assert collect_folder([str(src / "*.dat")], archive, KEY) == []
    assert (_raw(archive) / "SHA256SUMS").read_bytes() == before
    assert (_raw(archive) / "a.dat").stat().st_mtime_ns == mtime


def test_grown_file_replaces_copy(src, archive):
    f = _write(src / "a.dat", b"line1\nline2\n", mtime_s=1_700_000_000)
    collect_folder([str(src / "*.dat")], archive, KEY)
    with open(f, "ab") as fh:
        fh.write(b"line3\n")
    os.utime(f, (1_700_000_100, 1_700_000_100))
    [c] = collect_folder([str(src / "*.dat")], archive, KEY)
    assert (c.action, c.name, c.size) == ("grown", "a.dat", 18)
    assert (_raw(archive) / "a.dat").read_bytes() == b"line1\nline2\nline3\n"
    assert sorted(p.name for p in _raw(archive).iterdir()) == ["SHA256SUMS", "a.dat"]
    assert _manifest(archive) == {"a.dat": hashlib.sha256(b"line1\nline2\nline3\n").hexdigest()}
    assert c.sha256 == _manifest(archive)["a.dat"]


@pytest.mark.parametrize("new", [b"line1\nLINE2\n", b"line1\n", b"other1\nother2\nother3\n"],
                         ids=["rewritten-same-length", "shrunk", "grown-with-changed-prefix"])
def test_changed_file_kept_as_new_version(src, archive, new):
    old = b"line1\nline2\n"
    f = _write(src / "a.dat", old, mtime_s=1_700_000_000)
    collect_folder([str(src / "*.dat")], archive, KEY)
    _write(f, new, mtime_s=1_700_000_100)
    [c] = collect_folder([str(src / "*.dat")], archive, KEY)
    assert (c.action, c.name, c.size) == ("version", "a__v2.dat", len(new))
    assert (_raw(archive) / "a.dat").read_bytes() == old
    assert (_raw(archive) / "a__v2.dat").read_bytes() == new
    assert _manifest(archive) == {"a.dat": hashlib.sha256(old).hexdigest(),
                                  "a__v2.dat": hashlib.sha256(new).hexdigest()}
    # a further rewrite gets v3; the older copies stay as they were
    _write(f, b"third\n", mtime_s=1_700_000_200)
    [c] = collect_folder([str(src / "*.dat")], archive, KEY)
    assert (c.action, c.name) == ("version", "a__v3.dat")
    assert (_raw(archive) / "a__v2.dat").read_bytes() == new
    # growing the latest version replaces only that version
    with open(f, "ab") as fh:
        fh.write(b"more\n")
    os.utime(f, (1_700_000_300, 1_700_000_300))
    [c] = collect_folder([str(src / "*.dat")], archive, KEY)
    assert (c.action, c.name) == ("grown", "a__v3.dat")
    assert (_raw(archive) / "a__v3.dat").read_bytes() == b"third\nmore\n"
    assert (_raw(archive) / "a.dat").read_bytes() == old


def test_touched_unchanged_file_not_copied(src, archive):
    f = _write(src / "a.dat", b"same", mtime_s=1_700_000_000)
    collect_folder([str(src / "*.dat")], archive, KEY)
    os.utime(f, (1_700_005_000, 1_700_005_000))
    assert collect_folder([str(src / "*.dat")], archive, KEY) == []
    assert sorted(p.name for p in _raw(archive).iterdir()) == ["SHA256SUMS", "a.dat"]
    # the new mtime is remembered, so the next run does not even hash the file
    state = RawArchive(archive, KEY).state
    assert state["sources"][str(f.resolve())]["mtime_ns"] == 1_700_005_000 * 10**9


def test_same_basename_in_two_folders(src, archive):
    a = _write(src / "north" / "data.dat", b"north")
    b = _write(src / "south" / "data.dat", b"south")
    got = collect_folder([str(src / "north" / "*.dat"), str(src / "south" / "*.dat")], archive, KEY)
    assert [(c.source, c.name) for c in got] == [(str(a.resolve()), "data.dat"), (str(b.resolve()), "data__v2.dat")]
    assert (_raw(archive) / "data.dat").read_bytes() == b"north"
    assert (_raw(archive) / "data__v2.dat").read_bytes() == b"south"
    assert collect_folder([str(src / "*" / "*.dat")], archive, KEY) == []


def test_recursive_pattern(src, archive):
    _write(src / "top.dat", b"0")
    _write(src / "2024" / "01" / "deep.dat", b"1")
    _write(src / "2024" / "02" / "deeper" / "x.dat", b"2")
    _write(src / "2024" / "02" / "skip.csv", b"3")
    got = collect_folder([str(src / "**" / "*.dat")], archive, KEY)
    assert sorted(c.name for c in got) == ["deep.dat", "top.dat", "x.dat"]
    # overlapping patterns do not collect a file twice
    assert expand_sources([str(src / "**" / "*.dat"), str(src / "*.dat")]) == expand_sources(
        [str(src / "**" / "*.dat")])


def test_expand_sources_skips_temps_and_folders(src):
    _write(src / "a.dat", b"a")
    _write(src / (TMP_PREFIX + "a.dat.1"), b"partial")
    (src / "folder.dat").mkdir()
    assert [p.name for p in expand_sources([str(src / "*")])] == ["a.dat"]


def test_missing_source_folder(tmp_path, archive):
    missing = tmp_path / "not-mounted" / "alpha"
    with pytest.raises(CollectError) as info:
        collect_folder([str(missing / "*.dat")], archive, KEY)
    assert KEY in str(info.value) and str(missing) in str(info.value)
    assert not archive.exists()


def test_existing_folder_without_matches_is_fine(src, archive):
    assert collect_folder([str(src / "*.dat")], archive, KEY) == []


def test_copies_are_readable(src, archive):
    f = _write(src / "private.dat", b"secret-ish")
    f.chmod(0o600)
    collect_folder([str(src / "*.dat")], archive, KEY)
    assert stat.S_IMODE((_raw(archive) / "private.dat").stat().st_mode) == 0o644
    assert stat.S_IMODE((_raw(archive) / "SHA256SUMS").stat().st_mode) == 0o644


def test_state_survives_reload(src, archive):
    f = _write(src / "a.dat", b"abc", mtime_s=1_700_000_000)
    _write(src / "b.dat", b"defg")
    collect_folder([str(src / "*.dat")], archive, KEY)
    raw = RawArchive(archive, KEY)
    assert raw.state_path == archive / "state" / "collect" / f"{KEY}.json"
    assert raw.state_path.is_file()
    files = raw.files()
    assert [(x.name, x.size, x.sha256, x.source, x.quarantined) for x in files] == [
        ("a.dat", 3, hashlib.sha256(b"abc").hexdigest(), str(f.resolve()), False),
        ("b.dat", 4, hashlib.sha256(b"defg").hexdigest(), str((src / "b.dat").resolve()), False)]
    entry = raw.state["sources"][str(f.resolve())]
    assert entry == {"name": "a.dat", "size": 3, "mtime_ns": 1_700_000_000 * 10**9,
                     "sha256": hashlib.sha256(b"abc").hexdigest()}
    assert raw.path_of("a.dat") == _raw(archive) / "a.dat"


def test_quarantined_file_left_out_of_manifest_and_not_grown(src, archive):
    f = _write(src / "a.dat", b"abc", mtime_s=1_700_000_000)
    collect_folder([str(src / "*.dat")], archive, KEY)
    raw = RawArchive(archive, KEY)
    raw.mark_quarantined("a.dat", "bad header")
    raw.save()
    assert _manifest(archive) == {}
    assert RawArchive(archive, KEY).files() == []
    assert [x.name for x in RawArchive(archive, KEY).files(include_quarantined=True)] == ["a.dat"]
    with open(f, "ab") as fh:
        fh.write(b"def")
    os.utime(f, (1_700_000_100, 1_700_000_100))
    [c] = collect_folder([str(src / "*.dat")], archive, KEY)
    assert (c.action, c.name) == ("version", "a__v2.dat")
    assert (_raw(archive) / "a.dat").read_bytes() == b"abc"


def test_no_temp_files_left(src, archive):
    for i in range(5):
        _write(src / f"{i}.dat", os.urandom(5000))
    collect_folder([str(src / "*.dat")], archive, KEY)
    assert _temps(archive) == []
    assert _temps(src) == []


def test_free_name_without_extension_and_manifest_names(archive):
    raw = RawArchive(archive, KEY)
    raw.record("README", "0" * 64, 1, "/a/README")
    assert raw.free_name("README", "/b/README") == "README__v2"
    assert raw.free_name("README", "/a/README") == "README"  # same source, no copy on disk yet
    assert raw.free_name("other.dat", "/a/other.dat") == "other.dat"


def test_is_local():
    assert is_local("/data/*.dat") and is_local("rel/*.dat") and is_local("file:///data/*.dat")
    assert not is_local("sftp://u@h/data/*.dat")
