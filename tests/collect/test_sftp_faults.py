"""Fault battery: SFTP collection through a proxy that cuts connections at random byte offsets and stalls.

A simulated logger keeps appending TOA5 records (sometimes half a line at a time) and rotating to a new dated
file while collections run. Reduced battery by default (40 files, 8 cuts, 2 stalls); the full battery
(200 files, some of several MB, 50 cuts, 10 stalls) with CRAC_STRESS=1.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from pathlib import Path

import pytest
from _sshd import FaultProxy, random_faults, start_sshd

from crac_tools.collect.manifest import RawArchive
from crac_tools.collect.sftp import SshSettings, collect_sftp
from crac_tools.fsutil import TMP_PREFIX

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")

KEY = "alpha_met"
READ_DEADLINE = 1.0
CONNECT_DEADLINE = 3.0


class Logger(threading.Thread):
    """Appends TOA5 records to today's file and rotates to a new dated file every ``per_file`` records."""

    HEADER = ('"TOA5","alpha","CR1000","1234","CR1000.Std.32","CPU:met.CR1","1111","Met"\n'
              '"TIMESTAMP","RECORD","AirT","RH"\n"TS","RN","Deg C","%"\n"","","Smp","Smp"\n')

    def __init__(self, folder: Path, rng: random.Random, per_file: int = 60, max_files: int = 8) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.rng = rng
        self.per_file = per_file
        self.max_files = max_files
        self.stop = threading.Event()
        self.record = 0
        self.files: list[Path] = []

    def run(self) -> None:
        day = 0
        while not self.stop.is_set() and day < self.max_files:
            path = self.folder / f"CR1000_Met_2024_01_{day + 1:02d}.dat"
            self.files.append(path)
            with open(path, "w") as fh:
                fh.write(self.HEADER)
                fh.flush()
                for _ in range(self.per_file):
                    if self.stop.is_set():
                        break
                    line = (f'"2024-01-{day + 1:02d} {self.record // 60 % 24:02d}:{self.record % 60:02d}:00",'
                            f"{self.record},{self.rng.uniform(-5, 25):.2f},{self.rng.uniform(20, 99):.1f}\n")
                    cut = self.rng.randrange(1, len(line)) if self.rng.random() < 0.3 else len(line)
                    fh.write(line[:cut])
                    fh.flush()
                    time.sleep(self.rng.uniform(0.0, 0.03))
                    fh.write(line[cut:])
                    fh.flush()
                    self.record += 1
            day += 1


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_invariants(raw: RawArchive, sources: dict[str, Path]) -> None:
    """No temp file; manifest matches every copy; every copy is a prefix of (or equal to) its source."""
    assert [p for p in raw.folder.rglob("*") if p.name.startswith(TMP_PREFIX)] == []
    if not raw.manifest_path.exists():
        return
    manifest = dict(line.split("  ")[::-1] for line in raw.manifest_path.read_text().splitlines())
    on_disk = {p.name for p in raw.folder.iterdir() if p.name != "SHA256SUMS"}
    assert on_disk == set(manifest), "a file under a final name that the manifest does not know"
    state = RawArchive(raw.archive, raw.key).state
    for fid, entry in state["sources"].items():
        data = raw.path_of(entry["name"]).read_bytes()
        assert _sha(data) == manifest[entry["name"]] == entry["sha256"]
        assert sources[fid].read_bytes().startswith(data)


def _battery(tmp_path: Path, n_files: int, n_cuts: int, n_stalls: int, big: tuple[int, int], n_big: int,
             seed: int) -> dict:
    rng = random.Random(seed)
    d = start_sshd(tmp_path / "sshd")
    src = tmp_path / "logger"
    src.mkdir()
    logger = Logger(src, random.Random(seed + 1))
    n_static = n_files - 8  # the logger adds about 8 rotated files over the run
    sizes = [rng.randint(*big) for _ in range(n_big)] + [rng.randint(200, 60_000) for _ in range(n_static - n_big)]
    rng.shuffle(sizes)
    for i, size in enumerate(sizes):
        (src / f"static_{i:03d}.bin").write_bytes(rng.randbytes(size))
    total = sum(sizes)
    proxy = FaultProxy(d.port, faults=random_faults(rng, n_cuts, n_stalls, 1000, int(total * 0.9)))
    kh = tmp_path / "known_hosts"
    kh.write_text(d.known_hosts_line(proxy.port))
    settings = SshSettings(known_hosts=kh, identity=d.user_key, ssh_config="none", use_agent=False, settle=1.0,
                           connect_timeout=CONNECT_DEADLINE, read_timeout=READ_DEADLINE, file_timeout=120,
                           retries=3, backoff=0.05)
    raw = RawArchive(tmp_path / "archive", KEY)
    url = f"sftp://127.0.0.1:{proxy.port}{src}/*"
    user = __import__("getpass").getuser()

    def sources() -> dict[str, Path]:
        return {f"sftp://{user}@127.0.0.1:{proxy.port}{p}": p for p in src.iterdir()}

    t0 = time.monotonic()
    logger.start()
    runs = retried = failed_runs = copied = 0
    hits: list[tuple[str, float, float]] = []
    events = []
    try:
        while runs < 60:
            r0 = time.monotonic()
            rep = collect_sftp([url], raw, settings)
            runs += 1
            print(f"run {runs}: {time.monotonic() - r0:.1f} s, copied {len(rep.copied)}, retried {rep.retried}, "
                  f"failed {len(rep.failed)}, pending faults {proxy.pending()}")
            retried += rep.retried
            failed_runs += bool(rep.failed)
            copied += len(rep.copied)
            hits += rep.deadline_hits
            events += rep.records
            _check_invariants(raw, sources())
            if (not logger.is_alive() and not rep.failed and not rep.copied
                    and proxy.pending() == 0):
                if time.time() - max(p.stat().st_mtime for p in src.iterdir()) > settings.settle + 1:
                    break
                time.sleep(0.5)
    finally:
        logger.stop.set()
        logger.join(5)
        proxy.close()
        d.stop()
    elapsed = time.monotonic() - t0
    # every source file in the archive exactly once, equal to the source
    state = RawArchive(raw.archive, KEY).state
    srcs = sources()
    assert set(state["sources"]) == set(srcs)
    names = [e["name"] for e in state["sources"].values()]
    assert len(names) == len(set(names))
    archived = sorted(p.name for p in raw.folder.iterdir() if p.name != "SHA256SUMS")
    assert archived == sorted(names), "a file in the archive twice (or a stray version)"
    for fid, entry in state["sources"].items():
        assert entry["sha256"] == _sha(srcs[fid].read_bytes()), fid
        assert raw.path_of(entry["name"]).read_bytes() == srcs[fid].read_bytes()
    # every fault fired, every stall aborted within its deadline
    assert proxy.pending() == 0 and proxy.cuts == n_cuts and len(proxy.stalls) == n_stalls
    for st in proxy.stalls:
        assert st.end is not None
        assert st.end - st.start < CONNECT_DEADLINE + 0.75
    max_hash = READ_DEADLINE + max(sizes) / 20e6
    for label, seconds, took in hits:
        assert took < seconds + 0.5, (label, seconds, took)
        if not label.startswith("connect"):
            assert seconds <= max_hash
    # the logger's records are continuous across rotations: no hole, no reset reported
    assert events == []
    assert RawArchive(raw.archive, KEY).state["records"]["alpha.Met"]["last_record"] == logger.record - 1
    figures = {"files": len(srcs), "bytes": sum(p.stat().st_size for p in srcs.values()), "cuts": proxy.cuts,
               "stalls": len(proxy.stalls), "stall_abort_s_max": round(max((s.end - s.start) for s in proxy.stalls),
                                                                       2) if proxy.stalls else None,
               "runs": runs, "runs_with_failures": failed_runs, "retries": retried, "copies": copied,
               "connections": proxy.connections, "deadline_hits": len(hits), "seconds": round(elapsed, 1),
               "records": logger.record}
    print("fault battery:", figures)
    return figures


def test_fault_battery_reduced(tmp_path):
    fig = _battery(tmp_path, n_files=40, n_cuts=8, n_stalls=2, big=(500_000, 1_500_000), n_big=3, seed=6)
    assert fig["seconds"] < 90


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("CRAC_STRESS") != "1", reason="full fault battery: set CRAC_STRESS=1")
def test_fault_battery_full(tmp_path):
    _battery(tmp_path, n_files=200, n_cuts=50, n_stalls=10, big=(2_000_000, 6_000_000), n_big=12, seed=66)
