"""What the fast paths of backup must still guarantee: the stored bytes are the hashed bytes, a file that changes
during a backup is detected and never recorded with a wrong hash, a file is read once when its hash is not
known, the hash cache is reused, S3 uploads (single PUT and multipart) store nothing on a hash mismatch and
every S3 call has a deadline."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import time

import _helpers
import pytest
from _helpers import flip_bit, patch_put_file, project_files, s3_env, s3_server, target_url
from _helpers import read_manifest as _manifest

from crac_tools.backup import backup_project, open_target, restore_target, targets, verify_target
from crac_tools.backup.errors import BackupError, SourceChanged
from crac_tools.backup.manifest import FILES, object_key
from crac_tools.fsutil import read_json

# the shared fixtures ``project`` (a copy of the built project) and ``url`` (local, then S3)
project_fixture = _helpers.project_fixture
url_fixture = _helpers.url_fixture


def _keys_of(url, path):
    with open_target(url) as t:
        return sorted(k for k in t.list() if k.startswith(f"{FILES}/{path}~"))



@pytest.mark.parametrize("when", ["before the read", "after the read"])
def test_file_changed_during_backup_is_detected(project, url, monkeypatch, when):
    """A file that changes while it is backed up fails by name; the manifest keeps its previous version and
    no object holding bytes other than its name says is left on the target."""
    root = project.parent
    rel = "archive/catalog.yaml"
    victim = root / rel
    [first] = backup_project(project, to=url)
    assert first.ok, first.summary()
    before = _manifest(url).files[rel]
    data = victim.read_bytes()
    victim.write_bytes(data.replace(b"s1", b"s2", 1) if b"s1" in data else data + b"\n")  # a real change

    def change(orig, self, src, key, expect):
        if src.name != victim.name:
            return orig(self, src, key, expect)
        if when == "before the read":  # the hash taken before the copy no longer matches: nothing is stored
            src.write_bytes(src.read_bytes() + b"# edited during the backup\n")
            return orig(self, src, key, expect)
        out = orig(self, src, key, expect)  # the copy is whole, but the file moved on while it was read
        time.sleep(0.01)
        src.write_bytes(src.read_bytes() + b"# edited during the backup\n")
        return out
    patch_put_file(monkeypatch, change)
    [res] = backup_project(project, to=url)
    assert res.committed and not res.ok
    assert [f for f in res.failed if rel in f and "changed while being backed up" in f], res.summary()
    assert _manifest(url).files[rel] == before  # the previous version stays current
    assert _keys_of(url, rel) == [object_key(rel, before["sha256"])]  # nothing else stored for it
    rep = verify_target(url)
    assert rep.ok, rep.summary()
    monkeypatch.undo()
    if url.startswith("s3://"):
        s3_env(monkeypatch)
    [again] = backup_project(project, to=url)  # the next run picks the new version up
    assert again.ok, again.summary()
    got = _manifest(url).files[rel]
    assert got["sha256"] == hashlib.sha256(victim.read_bytes()).hexdigest()
    assert verify_target(url).ok


def test_damaged_raw_file_is_not_stored_on_a_new_target(project, url):
    """Read once and hashed while copied, a raw file failing SHA256SUMS is still refused (nothing stored)."""
    root = project.parent
    rel = "archive/raw/s1_met/TOA5_s1.Met_a.dat"
    raw = root / rel
    raw.write_bytes(flip_bit(raw.read_bytes(), random.Random(9)))
    [res] = backup_project(project, to=url)
    assert res.committed and not res.ok
    assert [f for f in res.failed if rel in f and "SHA256SUMS" in f], res.summary()
    assert _keys_of(url, rel) == []
    assert rel not in _manifest(url).files
    assert verify_target(url).ok
    [again] = backup_project(project, to=url)  # reported again (its hash is now cached), still not stored
    assert [f for f in again.failed if rel in f and "SHA256SUMS" in f], again.summary()
    assert _keys_of(url, rel) == []


def test_each_file_read_once_and_hash_cache_reused(project, tmp_path, monkeypatch):
    """Cold backup: every file is read once (hashed while copied), none hashed on its own. Warm: nothing is
    read. Cache lost: files are hashed, the target's objects reused, nothing sent."""
    url = str(tmp_path / "bk")
    calls = {"hash": 0, "put": 0}
    orig_hash = targets.hash_local

    def counting_hash(path):
        calls["hash"] += 1
        return orig_hash(path)
    monkeypatch.setattr(targets, "hash_local", counting_hash)

    def counting_put(orig, self, src, key, expect):
        calls["put"] += 1
        return orig(self, src, key, expect)
    patch_put_file(monkeypatch, counting_put)
    [res] = backup_project(project, to=url)
    assert res.ok and res.sent == res.files
    assert calls == {"hash": 0, "put": res.files}
    calls.update(hash=0, put=0)
    [res] = backup_project(project, to=url)
    assert res.ok and res.sent == 0 and res.unchanged == res.files
    assert calls == {"hash": 0, "put": 0}  # the files are older than the racy window: all from the cache
    (project.parent / "archive/state/backup/hashcache.json").unlink()
    calls.update(hash=0, put=0)
    [res] = backup_project(project, to=url)
    assert res.ok and res.sent == 0 and res.unchanged == res.files
    assert calls["put"] == 0 and calls["hash"] >= res.files  # hashed, then the target's copies re-read
    r = restore_target(url, tmp_path / "out")
    assert r.ok and project_files(tmp_path / "out") == project_files(project.parent)


def test_put_file_stores_exactly_the_hashed_bytes(url, tmp_path):
    """Named by the hash of the bytes read; on a mismatch nothing is stored and no temporary is left."""
    src = tmp_path / "f.bin"
    data = random.Random(1).randbytes(300_000)
    src.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    with open_target(url) as t:
        digest, n = t.put_file(src, lambda d: object_key("a/f.bin", d))
        assert (digest, n) == (sha, len(data))
        assert t.get_bytes(object_key("a/f.bin", sha)) == data
        with pytest.raises(SourceChanged):
            t.put_file(src, object_key("a/g.bin", "0" * 64), expect="0" * 64)
        assert sorted(t.list()) == [object_key("a/f.bin", sha)]


@pytest.mark.parametrize("anonymous", [True, False], ids=["O_TMPFILE", "named temp"])
def test_local_copy_is_linked_whole_and_replaces_a_damaged_object(tmp_path, monkeypatch, anonymous):
    """Both ways of landing a local copy (an unnamed O_TMPFILE linked into place, or a .crac-tmp-* name
    renamed) leave no temporary behind and replace a damaged object of the same name."""
    if not anonymous:
        monkeypatch.setattr(targets.LocalTarget, "_can_link_anonymous", lambda self, folder: False)
    src = tmp_path / "f.bin"
    data = random.Random(3).randbytes(2 << 20)  # above WRITEBACK_MIN
    src.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    key = object_key("x/f.bin", sha)
    t = open_target(tmp_path / "bk")
    assert t.put_file(src, key, expect=sha) == (sha, len(data))
    (tmp_path / "bk" / key).write_bytes(b"damaged")
    assert t.put_file(src, key, expect=sha) == (sha, len(data))
    assert (tmp_path / "bk" / key).read_bytes() == data
    assert t.list() == {key: len(data)}
    t.flush()
    assert (tmp_path / "bk" / key).stat().st_mode & 0o777 == 0o644


def test_verify_and_restore_read_one_object_at_a_time_on_a_spinning_disk(tmp_path, monkeypatch):
    import importlib
    from concurrent.futures import ThreadPoolExecutor

    # the package exports functions named like these modules
    verify_mod = importlib.import_module("crac_tools.backup.verify")
    restore_mod = importlib.import_module("crac_tools.backup.restore")

    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "crac.yaml").write_text("project: {name: x}\n")
    [res] = backup_project(tmp_path / "p" / "crac.yaml", to=str(tmp_path / "bk"))
    assert res.ok
    pools = []

    class Recording(ThreadPoolExecutor):
        def __init__(self, max_workers=None, *a, **kw):
            pools.append(max_workers)
            super().__init__(max_workers, *a, **kw)

    monkeypatch.setattr(verify_mod, "ThreadPoolExecutor", Recording)
    monkeypatch.setattr(restore_mod, "ThreadPoolExecutor", Recording)
    for spinning, want in ((True, 1), (False, 4)):
        monkeypatch.setattr(targets, "_rotational", lambda path, s=spinning: s)
        pools.clear()
        assert verify_target(str(tmp_path / "bk")).ok
        assert restore_target(str(tmp_path / "bk"), tmp_path / f"r{want}").ok
        assert pools == [want, want]


def test_s3_multipart_upload_checks_the_hash(tmp_path, monkeypatch):
    """Files above S3_SINGLE_PUT go as a multipart upload (one deadline per part), completed only when the
    bytes sent have the expected hash; otherwise it is aborted and nothing is stored."""
    s3_env(monkeypatch)
    monkeypatch.setattr(targets, "S3_SINGLE_PUT", 1 << 20)
    monkeypatch.setattr(targets, "S3_PART", 5 << 20)
    src = tmp_path / "big.bin"
    data = random.Random(2).randbytes(12 << 20)
    src.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    with open_target(target_url("s3", tmp_path)) as t:
        assert t.put_file(src, lambda d: object_key("big.bin", d)) == (sha, len(data))
        assert t.sha256(object_key("big.bin", sha)) == (sha, len(data))
        with pytest.raises(SourceChanged):
            t.put_file(src, object_key("big2.bin", "1" * 64), expect="1" * 64)
        assert sorted(t.list()) == [object_key("big.bin", sha)]


def test_s3_stalled_call_hits_the_deadline(tmp_path, monkeypatch):
    """A call that never answers (rclone serve s3 occasionally hangs) is cancelled at CALL_DEADLINE and
    retried twice, then fails with a message; the backup reports it instead of hanging."""
    s3_env(monkeypatch)
    monkeypatch.setattr(targets, "CALL_DEADLINE", 0.3)
    src = tmp_path / "f.bin"
    src.write_bytes(b"x" * 1000)
    with open_target(target_url("s3", tmp_path)) as t:
        async def hang(method, **kwargs):
            await asyncio.sleep(60)
        monkeypatch.setattr(t.fs, "_call_s3", hang)
        t0 = time.monotonic()
        with pytest.raises(BackupError, match="did not answer put_object within"):
            t.put_file(src, "files/f.bin~x")
        with pytest.raises(BackupError, match="did not answer pipe_file within"):  # s3fs calls (the commit)
            t.put_bytes("MANIFEST.json", b"{}")
        assert time.monotonic() - t0 < 20


def test_verify_names_damage_made_on_the_server_disk(project, tmp_path, monkeypatch):
    """Bytes altered behind the S3 server's back are named (not a crash inside the S3 client)."""
    s3_env(monkeypatch)
    url = target_url("s3", tmp_path)
    [res] = backup_project(project, to=url)
    assert res.ok
    rel = "archive/catalog.yaml"
    key = object_key(rel, _manifest(url).files[rel]["sha256"])
    on_disk = s3_server()["data"] / "crac" / url.split("/", 3)[3] / key
    on_disk.write_bytes(flip_bit(on_disk.read_bytes(), random.Random(4)))
    rep = verify_target(url)
    assert {(p.kind, p.name) for p in rep.problems} == {("different", rel)}, rep.summary()


def test_a_file_modified_just_before_the_scan_is_not_cached_however_long_the_backup(tmp_path, monkeypatch):
    """On coarse-clock filesystems a file rewritten within the same tick keeps its mtime: a hash taken
    within ``_RACY`` seconds of its last change must not be cached, even when the backup ends much later."""
    from crac_tools.backup import manifest
    from crac_tools.backup.manifest import scan_project

    root = tmp_path / "p"
    (root / "archive").mkdir(parents=True)
    (root / "crac.yaml").write_text("project: {name: x}\n")
    old = root / "archive" / "old.txt"
    old.write_text("settled")
    t = time.time()
    os.utime(old, (t - 60, t - 60))
    (root / "archive" / "fresh.txt").write_text("just written")
    snap = scan_project(root, root / "archive", root / "stations", lazy=True)
    snap.hash(list(snap.files.values()))
    real = time.time
    monkeypatch.setattr(manifest.time, "time", lambda: real() + 600)  # the backup took ten minutes
    snap.save_cache()
    cached = read_json(root / "archive" / "state" / "backup" / "hashcache.json")
    assert sorted(cached) == ["archive/old.txt"]
