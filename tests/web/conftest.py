"""Fixtures of the web tests: one real archive per session (the pipeline on simulated loggers).

pytest imports every ``conftest.py`` of a folder without ``__init__.py`` as the module ``conftest``; other tests do
``from conftest import make_project``. So that this file never hides ``tests/conftest.py``, any name it does not
define is looked up there (PEP 562 module ``__getattr__``). Helpers of the web tests live in ``web_helpers``.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import web_helpers as wh
from web_helpers import Clock

from crac_tools.config import load_project

_ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
_spec = importlib.util.spec_from_file_location("_crac_tests_conftest", _ROOT_CONFTEST)
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
make_project = _root.make_project


def __getattr__(name: str):
    return getattr(_root, name)


@pytest.fixture(scope="session")
def web_archive(tmp_path_factory, dask_client):
    """``crac.yaml`` of the built test archive (without its serve section: see ``web_project``)."""
    return wh.build_archive(tmp_path_factory.mktemp("webarchive"), client=dask_client)


@pytest.fixture()
def web_project(web_archive, tmp_path):
    """A fresh copy of the test project (products shared read-only, state/reports/logs private), with the
    serve section added *after* loading (config.py may not yet accept ``serve:``)."""
    root = tmp_path / "proj"
    src = web_archive.parent
    shutil.copytree(src, root, ignore=shutil.ignore_patterns("products", "raw", "mirror", "field"))
    for sub in ("products", "mirror"):  # the zarr mirrors are served at /zarr/{key}.zarr/
        shutil.copytree(src / "archive" / sub, root / "archive" / sub)
    # ingest state names absolute product paths: point them at this copy
    for f in (root / "archive" / "state" / "ingest").glob("*.json"):
        f.write_text(f.read_text().replace(str(src / "archive"), str(root / "archive")))
    cfg = root / "crac.yaml"
    cfg.write_text(cfg.read_text().split("\nserve:\n")[0])
    project = load_project(cfg)
    wh.add_serve_section(cfg)
    return project


@pytest.fixture()
def clock():
    return Clock(wh.NOW)


@pytest.fixture()
def app(web_project, clock):
    from crac_tools.web.app import create_app

    return create_app(web_project, now=clock)


@pytest.fixture()
def client(app):
    from starlette.testclient import TestClient

    with TestClient(app) as c:
        yield c
