"""crac_tools benchmark: ingest efficiency, read-back advantage and parallel efficiency.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/run.py``). Every figure is a *ratio* of two
timings taken in the same run on the same machine, so the figures travel between machines; the raw
timings are printed as ``#`` lines for context only and nothing asserts on them. See README.md.

The last five lines of the output are the figures, one per line (``name: 0.63``).
"""

from __future__ import annotations

import argparse
import csv
import gc
import logging
import multiprocessing as mp
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _gen  # noqa: E402  (the data generator beside this file)

WORK = _gen.DATA / "projects"
VAR = "Ux"  # the variable whose monthly mean is read back
STATION = {"hz1": ("1s", "sonic"), "min1": ("1min", "sonic")}


def say(msg: str) -> None:
    print(f"# {msg}", flush=True)


# ---------------------------------------------------------------------------------------- projects
def make_project(kind: str, n_workers: int) -> Path:
    """A one-station project for ``kind`` with ``n_workers`` local dask workers; default settings else."""
    from crac_tools.templates import project_yaml

    root = WORK / f"{kind}_w{n_workers}"
    (root / "stations").mkdir(parents=True, exist_ok=True)
    text = project_yaml(name=f"bench-{kind}", title="crac_tools benchmark")
    assert "n_workers: null" in text
    (root / "crac.yaml").write_text(text.replace("n_workers: null", f"n_workers: {n_workers}"))
    interval, product = STATION[kind]
    (root / "stations" / f"{kind}.yaml").write_text(
        f"id: {kind}\nname: benchmark {kind}\nlocation: {{lat: 47.26, lon: 11.34, alt: 578.0}}\n"
        f"instruments:\n  - {{name: logger, model: CR1000X, serial: \"4711\"}}\n"
        f"product: {product}\nformat: toa5\ninterval: {interval}\n"
        f"sources:\n  - {_gen.DATA / kind}/*.dat\n"
        "columns:\n  Ux: {standard_name: eastward_wind, units: m s-1, long_name: sonic wind component x}\n")
    return root / "crac.yaml"


def fresh_archive(project_file: Path) -> None:
    """Delete the project's archive and collect the raw files again (not timed)."""
    from crac_tools.collect.run import collect_project

    shutil.rmtree(project_file.parent / "archive", ignore_errors=True)
    res = collect_project(project_file)
    bad = [r for r in res if r.error]
    if bad:
        raise SystemExit(f"collect failed: {bad}")


def timed_ingest(project_file: Path, client=None) -> float:
    """Ingest a freshly collected archive; return the wall seconds of ``ingest()`` alone."""
    from crac_tools.pipeline import ingest

    fresh_archive(project_file)
    gc.collect()
    t = time.perf_counter()
    rep = ingest(project_file, client=client)
    dt = time.perf_counter() - t
    if not rep.ok or len(rep.built) != _gen.N_DAYS:
        say(f"WARNING: ingest of {project_file.parent.name} not clean: {rep.summary()}")
    return dt


# ---------------------------------------------------------------------------------------- baselines
def toa5_names(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        fh.readline()
        return next(csv.reader([fh.readline()]))


def parse_all(files: list[Path]) -> float:
    """Seconds to parse every file with single-core pyarrow.csv (the reference parser)."""
    import pyarrow.csv as pacsv

    names = toa5_names(files[0])
    opts = pacsv.ReadOptions(use_threads=False, skip_rows=4, column_names=names)
    t = time.perf_counter()
    for f in files:
        pacsv.read_csv(f, read_options=opts)
    return time.perf_counter() - t


def raw_mean(files: list[Path]) -> float:
    import numpy as np
    import pyarrow.csv as pacsv

    names = toa5_names(files[0])
    opts = pacsv.ReadOptions(use_threads=False, skip_rows=4, column_names=names)
    s = n = 0.0
    for f in files:
        col = pacsv.read_csv(f, read_options=opts).column(VAR).to_numpy()
        s += float(np.sum(col, dtype=np.float64))
        n += len(col)
    return s / n


def netcdf_floor(products: list[Path], out: Path) -> float:
    """Seconds to write bare copies of ``products`` (same variables, attributes and data) with netCDF4 alone.

    No parsing, no assembly, no mirror, no fsync: the least a one-file-per-period NetCDF archive can cost.
    """
    import netCDF4

    out.mkdir(parents=True, exist_ok=True)
    sources = []
    for p in products:
        with netCDF4.Dataset(p) as src:
            src.set_auto_maskandscale(False)
            sources.append(({d: len(v) for d, v in src.dimensions.items()}, src.__dict__,
                            [(n, v.dtype, v.dimensions, v.__dict__, v[...]) for n, v in src.variables.items()]))
    t = time.perf_counter()
    for i, (dims, gattrs, variables) in enumerate(sources):
        with netCDF4.Dataset(out / f"{i}.nc", "w") as nc:
            for d, n in dims.items():
                nc.createDimension(d, n)
            values = []  # every definition first, then the values (the cheapest order for netCDF-C)
            for name, dtype, vdims, attrs, data in variables:
                attrs = dict(attrs)
                fill = attrs.pop("_FillValue", None)
                v = nc.createVariable(name, dtype, vdims, fill_value=fill if fill is not None else False)
                v.set_auto_maskandscale(False)
                v.setncatts(attrs)
                values.append((v, data))
            nc.setncatts(gattrs)
            for v, data in values:
                v[...] = data
    return time.perf_counter() - t


def _cpu_task(n: int) -> int:
    acc = 0
    for i in range(n):
        acc = (acc + i * i) % 1_000_003
    return acc


def cpu_speedup(n_tasks: int = 4, n: int = 3_000_000, repeats: int = 3) -> tuple[float, float, float]:
    """Best-of wall time of ``n_tasks`` pure-Python CPU tasks in a Pool of 1 and of 2 processes."""
    ctx = mp.get_context("spawn")
    best = {}
    for procs in (1, 2):
        with ctx.Pool(procs) as pool:
            pool.map(_cpu_task, [1000] * procs)  # start-up outside the timing
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                pool.map(_cpu_task, [n] * n_tasks, chunksize=1)
                times.append(time.perf_counter() - t)
        best[procs] = min(times)
    return best[1] / best[2], best[1], best[2]


# ---------------------------------------------------------------------------------------- read-back
def zarr_mean(store: Path) -> tuple[float, float]:
    import xarray as xr

    t = time.perf_counter()
    value = float(xr.open_zarr(store)[VAR].mean().compute())
    return time.perf_counter() - t, value


def netcdf_mfdataset_mean(files: list[Path]) -> tuple[float, float]:
    import xarray as xr

    t = time.perf_counter()
    with xr.open_mfdataset(files, engine="h5netcdf", parallel=False, combine="by_coords",
                           data_vars="minimal", coords="minimal", compat="override") as ds:
        value = float(ds[VAR].mean().compute())
    return time.perf_counter() - t, value


def netcdf_products_mean(files: list[Path]) -> tuple[float, float]:
    """The way crac_tools reads a long range of a few variables from its products (store.read_products)."""
    from crac_tools.store import read_products

    t = time.perf_counter()
    value = float(read_products(files, [VAR])[VAR].mean())
    return time.perf_counter() - t, value


def netcdf_loop_mean(files: list[Path]) -> tuple[float, float]:
    import h5netcdf
    import numpy as np

    t = time.perf_counter()
    s = n = 0.0
    for f in files:
        with h5netcdf.File(f, "r") as h:
            a = h.variables[VAR][...]
            ok = ~np.isnan(a)
            s += float(np.sum(a[ok], dtype=np.float64))
            n += int(ok.sum())
    return time.perf_counter() - t, s / n


def best(fn, repeats: int, *args):
    runs = [fn(*args) for _ in range(repeats)]
    return min(runs, key=lambda r: r[0])


# ---------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="repeats of each 1 Hz ingest (best is used)")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark archives afterwards")
    args = ap.parse_args()

    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
    t_script = time.perf_counter()
    say(f"crac_tools benchmark on {os.cpu_count()} cores, python {sys.version.split()[0]}")
    data = _gen.generate()
    hz1, min1 = data["hz1"], data["min1"]
    mb = {k: sum(p.stat().st_size for p in v) / 1e6 for k, v in data.items()}

    # reference parser (single core pyarrow), best of a few
    parse_s = {"hz1": min(parse_all(hz1) for _ in range(3)), "min1": min(parse_all(min1) for _ in range(5))}
    for k in parse_s:
        say(f"pyarrow.csv single core, {k}: {parse_s[k]:.2f} s = {mb[k] / parse_s[k]:.0f} MB/s")

    p_hz1_2, p_hz1_1 = make_project("hz1", 2), make_project("hz1", 1)
    p_min1_2 = make_project("min1", 2)

    # 1 Hz month: 2 workers and 1 worker, interleaved so drifts in machine load hit both
    ing = {1: [], 2: []}
    for _ in range(args.repeats):
        for nw, pf in ((2, p_hz1_2), (1, p_hz1_1)):
            ing[nw].append(timed_ingest(pf))
            say(f"ingest hz1, {nw} worker(s), LocalCluster start-up included: {ing[nw][-1]:.2f} s "
                f"= {mb['hz1'] / ing[nw][-1]:.1f} MB/s")
    t2, t1 = min(ing[2]), min(ing[1])
    say(f"ingest_efficiency_1hz of the first ingest in this process (fork server cold, as a fresh `crac ingest`): "
        f"{parse_s['hz1'] / ing[2][0]:.2f}")

    # the same with an already running 2-worker cluster (start-up excluded)
    from crac_tools.cluster import dask_client

    t_up = time.perf_counter()
    with dask_client(None, 2) as client:
        client.run(lambda: None)
        startup = time.perf_counter() - t_up
        warm = [timed_ingest(p_hz1_2, client=client) for _ in range(args.repeats)]
    say(f"LocalCluster(2) start-up: {startup:.2f} s; ingest hz1 on a running cluster: {min(warm):.2f} s "
        f"= {mb['hz1'] / min(warm):.1f} MB/s")

    # 1 min month
    ing_min = [timed_ingest(p_min1_2) for _ in range(3)]
    say(f"ingest min1, 2 workers: {min(ing_min):.2f} s = {mb['min1'] / min(ing_min):.2f} MB/s")
    floor = min(netcdf_floor(sorted((p_min1_2.parent / "archive" / "products").rglob("*.nc")), WORK / "floor")
                for _ in range(3))
    say(f"min1: writing the 30 products' bare NetCDF copies alone takes {floor:.2f} s: an archive of one NetCDF "
        f"file per day cannot exceed ingest_efficiency_1min {parse_s['min1'] / floor:.2f} in one process")

    # read-back from the (last) 1 Hz archive; no dask client is alive here: dask's default scheduler
    archive = p_hz1_2.parent / "archive"
    store = archive / "mirror" / "hz1_sonic.zarr"
    products = sorted((archive / "products" / "hz1_sonic").rglob("*.nc"))
    zs, zval = best(zarr_mean, 3, store)
    ns, nval = best(netcdf_mfdataset_mean, 3, products)
    ls, lval = best(netcdf_loop_mean, 3, products)
    ps, pval = best(netcdf_products_mean, 3, products)
    rval = raw_mean(hz1)
    say(f"monthly mean of {VAR}: raw re-parse {parse_s['hz1']:.2f} s, zarr mirror {zs:.3f} s, "
        f"open_mfdataset {ns:.3f} s, h5netcdf loop {ls:.3f} s, crac read_products {ps:.3f} s (page cache warm)")
    say(f"monthly mean of {VAR}: raw {rval:.6f}, zarr {zval:.6f}, netcdf {nval:.6f}, loop {lval:.6f}")
    if not (abs(zval - rval) < 1e-4 and abs(nval - rval) < 1e-4 and abs(lval - rval) < 1e-4):
        say("WARNING: the monthly means disagree")
    say(f"readback_netcdf_loop (h5netcdf loop over the files, informational): {parse_s['hz1'] / ls:.2f}")
    say(f"readback_netcdf_mfdataset (xr.open_mfdataset over the products, informational): "
        f"{parse_s['hz1'] / ns:.2f}")
    if abs(pval - rval) > 1e-4:
        say("WARNING: read_products mean disagrees with the raw mean")

    speedup, c1, c2 = cpu_speedup()
    say(f"CPU-bound Pool: 1 process {c1:.2f} s, 2 processes {c2:.2f} s, speed-up {speedup:.2f}")
    say(f"ingest speed-up 2 vs 1 worker (start-up included): {t1 / t2:.2f}")

    eff_1hz = (mb["hz1"] / t2) / (mb["hz1"] / parse_s["hz1"])
    say(f"ingest_efficiency_1hz excluding cluster start-up (informational): "
        f"{parse_s['hz1'] / min(warm):.2f}")
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    say(f"benchmark script took {time.perf_counter() - t_script:.0f} s")

    print(f"ingest_efficiency_1hz: {eff_1hz:.2f}")
    print(f"ingest_efficiency_1min: {parse_s['min1'] / min(ing_min):.2f}")
    print(f"readback_zarr: {parse_s['hz1'] / zs:.2f}")
    print(f"readback_netcdf: {parse_s['hz1'] / ps:.2f}")
    print(f"parallel_efficiency: {(t1 / t2) / speedup:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
