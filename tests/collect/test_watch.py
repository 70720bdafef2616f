"""The upload-folder daemon: claims, archives once, ingests, quarantines, survives SIGKILL, refuses a twin."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import make_project

from crac_tools.collect.watch import FolderLock, Watcher
from crac_tools.errors import CollectError
from crac_tools.simulate import met_columns, toa5_bytes

STRESS = os.environ.get("CRAC_STRESS") == "1"
START = pd.Timestamp("2024-02-01")


def _project(tmp_path: Path) -> Path:
    cfg = make_project(tmp_path, {"w1": {"interval": "1min"}})
    cfg.write_text(cfg.read_text() + "watch:\n  settle_seconds: 0.2\n  poll_min: 0.1\n  poll_max: 0.5\n"
                   "  log_file: ''\n")
    return cfg


def _hour_file(i: int, bad: bool = False) -> bytes:
    t = pd.date_range(START + pd.Timedelta(hours=i), periods=60, freq="1min")
    data = toa5_bytes(t, met_columns(t, seed=i), station="w1", table="Met", first_record=60 * i)
    if bad:
        lines = data.split(b"\r\n")
        f = lines[10].split(b",")
        f[3] = b"oops"
        lines[10] = b",".join(f)
        data = b"\r\n".join(lines)
    return data


def _upload(incoming: Path, name: str, data: bytes) -> None:
    """An uploader that writes to a temporary name and renames."""
    tmp = incoming / f".{name}.part"
    tmp.write_bytes(data)
    os.replace(tmp, incoming / name)


def _products(root: Path) -> xr.Dataset:
    files = sorted((root / "archive/products/w1_met").rglob("*.nc"))
    return xr.concat([xr.open_dataset(f, engine="h5netcdf").load() for f in files], dim="time",
                     data_vars="all", coords="minimal", compat="override")


def test_daemon_archives_ingests_and_quarantines(tmp_path, dask_client):
    cfg = _project(tmp_path)
    w = Watcher(cfg, client=dask_client)
    inc = w.incoming / "w1"
    inc.mkdir(parents=True)
    for i in range(3):
        _upload(inc, f"TOA5_w1_{i:03d}.dat", _hour_file(i))
    _upload(inc, "TOA5_w1_dup.dat", _hour_file(1))         # the same bytes under another name
    _upload(inc, "TOA5_w1_bad.dat", _hour_file(7, bad=True))
    (inc / "upload.part").write_bytes(b"still uploading")  # an uploader's temp file: ignored
    (w.incoming / "nobody").mkdir()
    (w.incoming / "nobody" / "x.dat").write_bytes(b"?")
    stats = w.run(idle_exit=1.0)
    assert sorted(stats.archived) == ["TOA5_w1_000.dat", "TOA5_w1_001.dat", "TOA5_w1_002.dat", "TOA5_w1_bad.dat"]
    assert stats.duplicates == ["TOA5_w1_dup.dat"]
    assert stats.unassigned == [str(w.incoming / "nobody" / "x.dat")]
    assert sorted(p.name for p in inc.iterdir()) == ["upload.part"]
    assert not any((w.work / "w1_met").iterdir())
    q = tmp_path / "archive/quarantine/w1_met"
    assert (q / "TOA5_w1_bad.dat").exists() and "line 11" in (q / "TOA5_w1_bad.dat.error.txt").read_text()
    ds = _products(tmp_path)
    assert ds.sizes["time"] == 180 and ds["RECORD"].values.tolist() == list(range(180))
    assert (tmp_path / "archive/catalog.yaml").exists()


def test_second_daemon_is_refused_naming_the_holder(tmp_path):
    cfg = _project(tmp_path)
    w = Watcher(cfg, ingest_each_batch=False)
    lock = FolderLock(w.incoming / ".crac-watch.lock")
    lock.acquire()
    try:
        with pytest.raises(CollectError, match=f"already watched by crac watch pid {os.getpid()}"):
            w.run(idle_exit=0.1)
    finally:
        lock.release()


def test_claims_left_by_a_crash_are_finished(tmp_path, dask_client):
    cfg = _project(tmp_path)
    w = Watcher(cfg, client=dask_client)
    (w.work / "w1_met").mkdir(parents=True)
    (w.work / "w1_met" / "TOA5_w1_000.dat").write_bytes(_hour_file(0))
    (w.incoming / ".crac-tmp-stale").parent.mkdir(parents=True, exist_ok=True)
    (w.incoming / ".crac-tmp-stale").write_bytes(b"x")
    stats = w.run(idle_exit=0.5)
    assert stats.archived == ["TOA5_w1_000.dat"]
    assert not (w.incoming / ".crac-tmp-stale").exists()
    assert _products(tmp_path).sizes["time"] == 60


def _start_daemon(cfg: Path, log) -> subprocess.Popen:
    crac = Path(sys.executable).parent / "crac"
    return subprocess.Popen([str(crac), "watch", "--config", str(cfg), "--idle-exit", "3", "--wait"],
                            stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("n_files,kills", [(500, 20)] if STRESS else [(60, 3)])
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path, n_files, kills):
    cfg = _project(tmp_path)
    incoming = tmp_path / "incoming" / "w1"
    incoming.mkdir(parents=True)
    rng = random.Random(1234)
    bad = set(rng.sample(range(n_files), max(2, n_files // 25)))
    files = {f"TOA5_w1_{i:04d}.dat": _hour_file(i, bad=i in bad) for i in range(n_files)}
    names = list(files)
    log = open(tmp_path / "daemon.log", "ab")
    fed = 0
    proc = _start_daemon(cfg, log)
    try:
        for _ in range(kills):
            batch = rng.randint(1, max(1, n_files // kills))
            for name in names[fed:fed + batch]:
                _upload(incoming, name, files[name])
            fed += batch
            time.sleep(rng.uniform(0.5, 4.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = _start_daemon(cfg, log)
        for name in names[fed:]:
            _upload(incoming, name, files[name])
        # SIGTERM finishes the current batch and exits cleanly; a last run drains what is left
        time.sleep(2)
        log.flush()
        deadline = time.time() + 120
        while (tmp_path / "daemon.log").read_bytes().count(b"watching ") < kills + 1 and time.time() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=300) in (0, 1)
        proc = _start_daemon(cfg, log)
        assert proc.wait(timeout=600) in (0, 1)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    raw = tmp_path / "archive/raw/w1_met"
    archived = sorted(p.name for p in raw.glob("*.dat"))
    good = sorted(n for i, n in enumerate(names) if i not in bad)
    assert archived == good  # every good file exactly once, under its own name
    for n in good:
        assert (raw / n).read_bytes() == files[n]
    q = tmp_path / "archive/quarantine/w1_met"
    assert sorted(p.name for p in q.glob("*.dat")) == sorted(names[i] for i in bad)
    assert all((q / f"{names[i]}.error.txt").exists() for i in bad)
    assert not list(incoming.iterdir()) and not list((tmp_path / "incoming/.work/w1_met").iterdir())
    ds = _products(tmp_path)
    times = ds["time"].values
    assert len(np.unique(times)) == len(times) == 60 * len(good)
    assert not list(tmp_path.rglob(".crac-tmp-*"))
