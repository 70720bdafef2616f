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
