"""Shared pytest fixtures.

``testdata`` points at the real third-party sample files in ``../shared/testdata`` (beside the repository,
never copied into it). When the folder is missing, tests that need it are skipped, except under CI
(``CI=true``), where a missing folder is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
_MISSING = "../shared/testdata not found: real third-party files are not in the repo"


@pytest.fixture(scope="session")
def testdata() -> Path:
    """Folder of the real sample files (``<repo>/../shared/testdata``)."""
    if not TESTDATA.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(_MISSING)
        pytest.skip(_MISSING)
    return TESTDATA


@pytest.fixture(scope="session")
def dask_client():
    """One local cluster of 2 processes shared by the pipeline tests (start-up costs ~2 s)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def make_project(root: Path, stations: dict[str, dict], period: str = "day") -> Path:
    """Write a small project into ``root``: ``stations`` maps id -> dict(interval=..., columns_yaml=...)."""
    from crac_tools.templates import project_yaml

    text = project_yaml(name="testproj", title="Test project").replace("period: day ", f"period: {period} ")
    (root / "stations").mkdir(parents=True, exist_ok=True)
    (root / "crac.yaml").write_text(text)
    for sid, st in stations.items():
        (root / "field" / sid).mkdir(parents=True, exist_ok=True)
        (root / "stations" / f"{sid}.yaml").write_text(
            f"id: {sid}\nname: Station {sid}\nlocation: {{lat: 45.5, lon: 7.25, alt: 1200}}\n"
            f"instruments: [{{name: logger, model: CR1000X}}]\nproduct: met\nformat: toa5\n"
            + (f"interval: {st['interval']}\n" if st.get("interval") else "")
            + f"sources: [field/{sid}/*.dat]\n" + st.get("columns_yaml", ""))
    return root / "crac.yaml"
