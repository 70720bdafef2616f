"""Backup, verify and restore on a local folder and a real S3 server (rclone serve s3)."""

from __future__ import annotations

import json
import random

import _helpers
import intake
import pytest
import xarray as xr
from _helpers import flip_bit, key_text, patch_put_file, project_files, s3_env, target_url
from _helpers import read_manifest as _manifest
from click.testing import CliRunner

from crac_tools.backup import BackupError, backup_project, open_target, restore_target, verify_target
from crac_tools.backup.manifest import object_key
from crac_tools.cli import main

# the shared fixtures ``project`` (a copy of the built project) and ``url`` (local, then S3)
project_fixture = _helpers.project_fixture
url_fixture = _helpers.url_fixture


def test_backup_verify_restore_roundtrip(project, url, tmp_path):
    root = project.parent
    [res] = backup_project(project, to=url)
    assert res.ok, res.summary()
    assert res.sent == res.files and res.files > 30
    rep = verify_target(url)
    assert rep.ok, rep.summary()
    assert rep.read == res.files
    # incremental: nothing changed, nothing sent
    [again] = backup_project(project, to=url)
    assert again.ok and again.sent == 0 and again.unchanged == res.files
    # restore equals the original byte for byte, catalog opens, products equal the originals
    out = tmp_path / "restored"
    r = restore_target(url, out)
    assert r.ok, r.summary()
    assert project_files(out) == project_files(root)
    cat = intake.from_yaml_file(str(out / "archive" / "catalog.yaml"))
    ds = cat["s1_met"].read()
    products = sorted((root / "archive/products").rglob("*.nc"))
    orig = xr.open_mfdataset(products, engine="h5netcdf").load()
    xr.testing.assert_equal(ds.load(), orig)
    for p in products:
        with xr.open_dataset(p, engine="h5netcdf") as a, \
                xr.open_dataset(out / p.relative_to(root), engine="h5netcdf") as b:
            xr.testing.assert_identical(a.load(), b.load())
    z = cat["s1_met_zarr"].read()
    assert float(z["AirTC_Avg"].mean()) == pytest.approx(float(orig["AirTC_Avg"].mean()))
    # a restore does not overwrite a non-empty folder
    with pytest.raises(BackupError, match="not empty"):
        restore_target(url, out)


def test_incremental_retention_and_removed_files(project, url):
    root = project.parent
    cfg = root / "crac.yaml"
    catalog = root / "archive" / "catalog.yaml"
    png = sorted((root / "archive/quicklook/s1_met").iterdir())[0]
    backup_project(project, to=url, keep=2)
    v0 = cfg.read_bytes()
    for i in range(3):
        cfg.write_bytes(v0 + f"# change {i}\n".encode())
        [res] = backup_project(project, to=url, keep=2)
        assert res.ok and res.sent == 1, res.summary()
        assert res.deleted == (1 if i >= 1 else 0)  # the version beyond keep=2 goes, after the commit
    png.unlink()
    [res] = backup_project(project, to=url, keep=2)
    assert res.ok and res.sent == 0
    m = _manifest(url)
    assert [v["sha256"] for v in m.versions["crac.yaml"]] != []
    assert len(m.versions["crac.yaml"]) == 1  # keep=2: the current and one older version
    rel = png.relative_to(root).as_posix()
    assert rel in m.removed and rel not in m.files  # never delete the only copy of a removed file
    assert verify_target(url).ok
    catalog.write_text(catalog.read_text() + "\n")
    [res] = backup_project(project, to=url, keep=1)
    assert res.ok and res.sent == 1


def test_verify_names_each_fault(project, url):
    backup_project(project, to=url)
    m = _manifest(url)
    rng = random.Random(1)
    paths = sorted(p for p, e in m.files.items() if e["size"] > 10)
    a, b = rng.sample(paths, 2)
    c = rng.choice([p for p in paths if p not in (a, b)])
    with open_target(url) as t:
        ka, kb, kc = (object_key(p, m.files[p]["sha256"]) for p in (a, b, c))
        t.put_bytes(ka, flip_bit(t.get_bytes(ka), rng))
        t.put_bytes(kb, t.get_bytes(kb)[:-1])
        t.delete(kc)
        t.put_bytes("files/stray.txt", b"x")
    rep = verify_target(url)
    got = {(p.kind, p.name) for p in rep.problems}
    assert got == {("different", a), ("truncated", b), ("missing", c), ("extra", "stray.txt")}, rep.summary()
    r = CliRunner().invoke(main, ["verify", url])
    assert r.exit_code == 1 and a in r.output and c in r.output


def test_restore_reports_a_file_failing_its_hash(project, url, tmp_path):
    backup_project(project, to=url)
    m = _manifest(url)
    victim = "archive/catalog.yaml"
    with open_target(url) as t:
        key = object_key(victim, m.files[victim]["sha256"])
        t.put_bytes(key, flip_bit(t.get_bytes(key), random.Random(3)))
    r = restore_target(url, tmp_path / "out")
    assert not r.ok and [p.name for p in r.problems] == [victim]
    assert not (tmp_path / "out" / victim).exists()  # never restored silently
    assert (tmp_path / "out" / "crac.yaml").exists()


def test_source_damage_is_reported_and_keeps_the_good_copy(project, url):
    root = project.parent
    backup_project(project, to=url)
    raw = root / "archive/raw/s1_met/TOA5_s1.Met_a.dat"
    data = raw.read_bytes()
    raw.write_bytes(flip_bit(data, random.Random(5)))
    [res] = backup_project(project, to=url)
    assert not res.ok and any("TOA5_s1.Met_a.dat" in f for f in res.failed)
    m = _manifest(url)
    assert m.files["archive/raw/s1_met/TOA5_s1.Met_a.dat"]["size"] == len(data)
    assert verify_target(url).ok
    r = CliRunner().invoke(main, ["backup", "--config", str(project), "--to", url])
    assert r.exit_code == 1 and "TOA5_s1.Met_a.dat" in r.output


def test_zarr_store_is_never_mixed(project, url, monkeypatch):
    """When one chunk of a changed store fails to copy, the whole store keeps its previous version."""
    root = project.parent
    backup_project(project, to=url)
    before = _manifest(url)
    store = root / "archive/mirror/s1_met.zarr"
    chunk = store / "RH" / "c" / "0"
    meta = store / "RH" / "zarr.json"
    chunk.write_bytes(chunk.read_bytes()[::-1])
    meta.write_text(meta.read_text().replace("{", "{ ", 1))

    def failing(orig, self, src, key, expect):
        if "/RH/c/0~" in key_text(key):
            raise OSError("injected failure")
        return orig(self, src, key, expect)
    patch_put_file(monkeypatch, failing)
    [res] = backup_project(project, to=url)
    assert not res.ok and res.committed
    after = _manifest(url)
    zpaths = [p for p in after.files if ".zarr/" in p]
    assert {p: after.files[p]["sha256"] for p in zpaths} == {p: before.files[p]["sha256"] for p in zpaths}
    assert verify_target(url).ok


def test_backup_targets_from_the_config(project, tmp_path):
    text = project.read_text()
    project.write_text(text + f"\nbackup:\n  keep: 2\n  targets:\n    - {tmp_path / 'b1'}\n"
                              f"    - url: {tmp_path / 'b2'}\n      every: 1d\n")
    res = backup_project(project)
    assert [r.ok for r in res] == [True, True]
    assert backup_project(project, due_only=True)[0].target.endswith("b1")  # b2 is not due yet
    r = CliRunner().invoke(main, ["backup", "--config", str(project)])
    assert r.exit_code == 0, r.output
    assert r.output.count("OK") == 2
    project.write_text(text + "\nbackup:\n  targets:\n    - url: s3://b/p\n      aws_secret_access_key: x\n")
    r = CliRunner().invoke(main, ["backup", "--config", str(project)])
    assert r.exit_code == 1 and "credentials never go in the project YAML" in r.output


def test_wrong_s3_credentials_fail_clearly(project, tmp_path, monkeypatch):
    s3_env(monkeypatch, secret="wrong-secret")
    url = target_url("s3", tmp_path)
    with pytest.raises(BackupError, match="refused the credentials"):
        open_target(url)
    r = CliRunner().invoke(main, ["backup", "--config", str(project), "--to", url])
    assert r.exit_code == 1 and "refused the credentials" in r.output
    r = CliRunner().invoke(main, ["verify", url])
    assert r.exit_code == 1 and "AWS_SECRET_ACCESS_KEY" in r.output


def test_cli_backup_verify_restore(project, url, tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["backup", "--config", str(project), "--to", url])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["verify", url, "--sample", "0.2", "--seed", "1"])
    assert r.exit_code == 0 and "OK" in r.output, r.output
    r = runner.invoke(main, ["restore", url, str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert project_files(tmp_path / "out") == project_files(project.parent)
    state = json.loads((project.parent / "archive/state/backup/targets.json").read_text())
    assert any(v["ok"] for v in state.values())
