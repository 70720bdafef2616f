"""Ingest on an existing dask cluster: a `dask scheduler` + `dask worker` started here on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_project

from crac_tools.collect.run import collect_project
from crac_tools.pipeline import ingest
from crac_tools.simulate import met_columns, write_toa5

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def external_cluster(tmp_path_factory):
    """Scheduler and one named worker as separate processes, like a cluster someone else runs."""
    d = tmp_path_factory.mktemp("cluster")
    sfile = d / "scheduler.json"
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(sfile)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)]
    deadline = time.time() + 60
    while not sfile.exists() and time.time() < deadline:
        time.sleep(0.2)
    procs.append(subprocess.Popen([str(BIN / "dask"), "worker", "--scheduler-file", str(sfile), "--nthreads", "1",
                                   "--name", "crac-external-worker", "--no-dashboard", "--host", "127.0.0.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d))
    from distributed import Client

    try:
        address = json.loads(sfile.read_text())["address"]
        with Client(address, timeout="30s") as c:
            c.wait_for_workers(1, timeout=60)
            workers = [w for w, info in c.scheduler_info()["workers"].items()
                       if info["name"] == "crac-external-worker"]
        assert len(workers) == 1
        yield address, workers[0]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def _project(tmp_path: Path) -> Path:
    cfg = make_project(tmp_path, {"x1": {"interval": "10min"}})
    t = pd.date_range("2024-05-01", periods=3 * 144, freq="10min")
    write_toa5(tmp_path / "field/x1/TOA5_x1.dat", t, met_columns(t, seed=7), station="x1", table="Met")
    collect_project(cfg)
    return cfg


def test_ingest_runs_on_the_given_scheduler(external_cluster, tmp_path):
    address, worker = external_cluster
    report = ingest(_project(tmp_path), scheduler=address)
    assert report.ok, report.summary()
    assert len(report.built) == 3
    assert report.workers == {worker}
    assert {b["worker"] for b in report.built} == {worker}


def test_cli_ingest_takes_scheduler(external_cluster, tmp_path):
    address, worker = external_cluster
    cfg = _project(tmp_path)
    out = subprocess.run([str(BIN / "crac"), "ingest", "--config", str(cfg), "--scheduler", address],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 period product(s) written" in out.stdout
    assert f"workers: {worker}" in out.stdout
