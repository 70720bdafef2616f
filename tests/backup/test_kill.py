"""A backup killed (SIGKILL) at random moments never leaves a target whose manifest lists a missing or
different file; resumed, it ends with a target that verifies clean and restores byte for byte.

3 kills per target normally, 20 under ``CRAC_STRESS=1``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import numpy as np
import pytest
from _helpers import STRESS, copy_project, project_files, s3_env, target_url
from _helpers import built_project as _built

from crac_tools.backup import restore_target, verify_target

# the real CLI, with each object copy slowed down a little so that kills land inside the copy phase too
RUNNER = """
import sys, time
import s3fs, crac_tools.pipeline
from crac_tools.backup import targets
for cls in (targets.LocalTarget, targets.S3Target):
    orig = cls.put_file
    def slow(self, src, key, expect=None, _orig=orig):
        time.sleep(0.04)
        return _orig(self, src, key, expect)
    cls.put_file = slow
from crac_tools.cli import main
print("ready", flush=True)
sys.exit(main(sys.argv[1:]))
"""
#: Seconds after start-up within which the kill lands (the hashing, copy and commit phases).
WINDOW = 1.5


def _run(project, url, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUNNER, "backup", "--config", str(project), "--to", url],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_killed_backup_resumes(kind, tmp_path, monkeypatch, dask_client):
    if kind == "s3":
        s3_env(monkeypatch)
    project = copy_project(_built(dask_client), tmp_path / "proj")
    root = project.parent
    extra = root / "archive" / "quicklook" / "bulk"
    extra.mkdir(parents=True)
    rng_np = np.random.default_rng(2)
    for i in range(40):
        (extra / f"q{i:02d}.bin").write_bytes(rng_np.bytes(32 * 1024))
    url = target_url(kind, tmp_path)
    env = dict(os.environ)
    rng = random.Random(7)
    kills = 20 if STRESS else 3
    for i in range(kills):
        (root / "crac.yaml").write_text((root / "crac.yaml").read_text() + f"# run {i}\n")
        p = _run(project, url, env)
        assert p.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0, WINDOW))
        p.kill()
        p.communicate(timeout=60)
        rep = verify_target(url)
        bad = [q for q in rep.problems if q.kind != "extra" and not (q.name == "MANIFEST.json" and
                                                                    q.kind == "missing" and rep.manifest == "")]
        assert not bad, f"after kill {i}: {rep.summary()}"
    p = _run(project, url, env)
    out = p.communicate(timeout=120)[0].decode()
    assert p.returncode == 0, out
    rep = verify_target(url)
    assert rep.ok, rep.summary()
    r = restore_target(url, tmp_path / "restored")
    assert r.ok, r.summary()
    assert project_files(tmp_path / "restored") == project_files(root)
