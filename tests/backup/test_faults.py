"""Fault detection: verify must detect and name every injected fault, and report nothing on a clean target.

Under normal pytest a few trials per kind and target run; with ``CRAC_STRESS=1`` (make stress) the full
battery runs: 100 trials per kind per target and 1000 clean verifies.
"""

from __future__ import annotations

import random

import pytest
from _helpers import STRESS, copy_project, flip_bit, s3_env, target_url
from _helpers import built_project as _built

from crac_tools.backup import backup_project, open_target, verify
from crac_tools.backup.manifest import MANIFEST, decode_manifest, object_key

KINDS = ["flip_data", "flip_manifest", "truncate", "delete", "swap", "stale"]


@pytest.fixture(params=["local", "s3"])
def backed_up(request, tmp_path, monkeypatch, dask_client):
    """A target holding two backup generations (so older versions exist), opened."""
    if request.param == "s3":
        s3_env(monkeypatch)
    project = copy_project(_built(dask_client), tmp_path / "proj")
    root = project.parent
    url = target_url(request.param, tmp_path)
    backup_project(project, to=url, keep=3)
    for rel in ("crac.yaml", "archive/catalog.yaml", "archive/quicklook/s1_met/s1_met_00.png",
                "archive/mirror/s1_met.zarr/RH/c/0"):
        p = root / rel
        p.write_bytes(p.read_bytes() + b"\n" if not rel.endswith("/0") else p.read_bytes()[::-1])
    [res] = backup_project(project, to=url, keep=3)
    assert res.ok and res.sent == 4, res.summary()
    with open_target(url) as t:
        yield t


def _inject(t, kind: str, rng: random.Random):
    """Apply one fault; return (names that must be reported, undo callable)."""
    m = decode_manifest(t.get_bytes(MANIFEST))
    cur = {p: object_key(p, e["sha256"]) for p, e in m.files.items() if e["size"] > 0}
    if kind == "flip_manifest":
        data = t.get_bytes(MANIFEST)
        t.put_bytes(MANIFEST, flip_bit(data, rng))
        return {MANIFEST}, lambda: t.put_bytes(MANIFEST, data)
    if kind == "stale":
        path = rng.choice(sorted(m.versions))
        key = cur[path]
        data = t.get_bytes(key)
        t.put_bytes(key, t.get_bytes(object_key(path, m.versions[path][0]["sha256"])))
        return {path}, lambda: t.put_bytes(key, data)
    if kind == "swap":
        shas: dict[str, str] = {}
        for p in sorted(cur):
            shas.setdefault(m.files[p]["sha256"], p)  # distinct contents only (identical chunks exist)
        a, b = rng.sample(sorted(shas.values()), 2)
        da, db = t.get_bytes(cur[a]), t.get_bytes(cur[b])
        t.put_bytes(cur[a], db)
        t.put_bytes(cur[b], da)

        def undo():
            t.put_bytes(cur[a], da)
            t.put_bytes(cur[b], db)
        return {a, b}, undo
    path = rng.choice(sorted(cur))
    key = cur[path]
    data = t.get_bytes(key)
    if kind == "flip_data":
        t.put_bytes(key, flip_bit(data, rng))
    elif kind == "truncate":
        t.put_bytes(key, data[:-1])
    elif kind == "delete":
        t.delete(key)
    return {path}, lambda: t.put_bytes(key, data)


def _battery(t, trials: int, clean: int, seed: int) -> None:
    rng = random.Random(seed)
    assert verify(t).ok
    misses = []
    for kind in KINDS:
        for i in range(trials):
            names, undo = _inject(t, kind, rng)
            rep = verify(t)
            reported = {p.name for p in rep.problems}
            if rep.ok or not names <= reported:
                misses.append((kind, i, sorted(names), rep.summary()))
            undo()
    assert not misses, f"{len(misses)} faults not detected or not named: {misses[:3]}"
    for i in range(clean):
        rep = verify(t, sample=1.0 if i % 10 == 0 else 0.3, seed=i)
        assert rep.ok, rep.summary()


def test_fault_detection_sample(backed_up):
    _battery(backed_up, trials=5, clean=5, seed=11)


@pytest.mark.slow
@pytest.mark.skipif(not STRESS, reason="full fault battery: set CRAC_STRESS=1 (make stress)")
def test_fault_detection_full(backed_up):
    _battery(backed_up, trials=100, clean=1000, seed=12)
