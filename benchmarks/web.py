"""crac_tools benchmark: the field catalog's interactive plot page on a month of 1 Hz data.

Run with ``.venv/bin/python benchmarks/web.py`` (also part of ``make bench``). It writes a simulated month of
1 Hz TOA5 files for one sonic station (6 data columns, ``simulate.sonic_columns(n_extra=1)``) into
``benchmarks/_data/web/`` once, collects and ingests them with the real pipeline (daily NetCDF products and the
station's zarr mirror; a second run finds nothing to do and reuses them), then serves the project in-process
(Starlette ``TestClient``) and times:

* the plot page for the whole month (default variables), *cold* (the first request of a fresh process, run in a
  child process: lazy imports, registry, first read) and *warm* (best of several requests in one process);
* the zoom requests of the page (``/datasets/{key}/plotdata`` for one day and for ten minutes), warm;
* the same page with the zarr mirror ignored (the NetCDF fallback), warm, informational.

Every figure is a ratio against a baseline timed in the same run: opening the month's zarr mirror with xarray and
reading one variable (``xr.open_zarr(store, chunks=None)[VAR].values``, best of 3, page cache warm). Raw timings
are printed as ``#`` lines; nothing asserts on them. The last lines are the figures (``name: 1.23``; lower is
better: a page costing about as much as reading one variable of the month scores ~1).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _gen  # noqa: E402  (the data folder shared with the other benchmarks)

DATA = _gen.DATA / "web"
RAW = DATA / "raw"
PROJECT = DATA / "project"
N_DAYS = 30
ROWS = 86_400
KEY = "tower_sonic"
VAR = "Ux"  # the baseline reads this variable of the month
ZOOMS = {"day": ("2024-06-10T00:00", "2024-06-11T00:00"), "10min": ("2024-06-10T12:00", "2024-06-10T12:10")}


def say(msg: str) -> None:
    """Print an informational ``#`` line."""
    print(f"# {msg}", flush=True)


# ---------------------------------------------------------------------------------------- data and project
def generate() -> list[Path]:
    """Write the month of 1 Hz TOA5 day files (reused when present and complete)."""
    import pandas as pd

    from crac_tools.simulate import sonic_columns, write_toa5

    paths, made = [], 0
    for d in range(N_DAYS):
        day = _gen.START + pd.Timedelta(days=d)
        p = RAW / f"TOA5_tower.Sonic_{day:%Y_%m_%d}.dat"
        paths.append(p)
        if _complete(p):
            continue
        t = pd.date_range(day, periods=ROWS, freq="1s")
        write_toa5(p, t, sonic_columns(t, seed=500 + d, n_extra=1), station="tower", table="Sonic",
                   logger="CR1000X", serial="4711", first_record=d * ROWS)
        made += 1
    mb = sum(p.stat().st_size for p in paths) / 1e6
    say(f"data: {len(paths)} one-Hz day files, {mb:.0f} MB ({made} generated, {len(paths) - made} reused)")
    return paths


def _complete(p: Path) -> bool:
    if not p.exists() or p.stat().st_size < ROWS * 40:
        return False
    with open(p, "rb") as fh:
        fh.seek(-2, 2)
        return fh.read() == b"\r\n"


def make_project() -> Path:
    """The one-station project (2 local dask workers, default settings else); returns ``crac.yaml``."""
    from crac_tools.templates import project_yaml

    (PROJECT / "stations").mkdir(parents=True, exist_ok=True)
    cfg = PROJECT / "crac.yaml"
    text = project_yaml(name="bench-web", title="crac_tools web benchmark").replace("n_workers: null",
                                                                                     "n_workers: 2")
    if not cfg.exists() or cfg.read_text() != text:
        cfg.write_text(text)
    station = (f"id: tower\nname: benchmark tower\nlocation: {{lat: 47.26, lon: 11.34, alt: 578.0}}\n"
               f"instruments:\n  - {{name: logger, model: CR1000X, serial: \"4711\"}}\n"
               f"product: sonic\nformat: toa5\ninterval: 1s\nsources:\n  - {RAW}/*.dat\n"
               "columns:\n  Ux: {standard_name: eastward_wind, units: m s-1, long_name: sonic wind component x}\n")
    st = PROJECT / "stations" / "tower.yaml"
    if not st.exists() or st.read_text() != station:
        st.write_text(station)
    return cfg


def build(cfg: Path) -> None:
    """Collect and ingest with the real pipeline (incremental: an unchanged archive is left as it is)."""
    from crac_tools.collect.run import collect_project
    from crac_tools.pipeline import ingest

    t = time.perf_counter()
    bad = [r for r in collect_project(cfg) if r.error]
    if bad:
        raise SystemExit(f"collect failed: {bad}")
    rep = ingest(cfg)
    if not rep.ok:
        raise SystemExit(f"ingest failed: {rep.summary()}")
    store = PROJECT / "archive" / "mirror" / f"{KEY}.zarr"
    products = sorted((PROJECT / "archive" / "products" / KEY).rglob("*.nc"))
    if len(products) != N_DAYS or not (store / "zarr.json").exists():
        raise SystemExit(f"expected {N_DAYS} products and a mirror, found {len(products)} products")
    say(f"collect + ingest: {time.perf_counter() - t:.1f} s ({len(rep.built)} periods built, "
        f"{rep.skipped} unchanged)")


# ---------------------------------------------------------------------------------------- baselines
def zarr_one_variable(store: Path) -> float:
    """Seconds to open the mirror with xarray and read one variable of the month."""
    import xarray as xr

    t = time.perf_counter()
    with xr.open_zarr(store, chunks=None) as ds:
        a = ds[VAR].values
    dt = time.perf_counter() - t
    assert a.size >= N_DAYS * ROWS
    return dt


def netcdf_one_variable(products: list[Path]) -> float:
    """Seconds to read one variable of the month from the NetCDF products (``store.read_products``)."""
    from crac_tools.store import read_products

    t = time.perf_counter()
    read_products(products, [VAR])
    return time.perf_counter() - t


# ---------------------------------------------------------------------------------------- the app
def child(cfg: Path, warm: int, netcdf: bool) -> dict:
    """Time the app in this (fresh) process; returns seconds and sizes as a dict."""
    from starlette.testclient import TestClient

    from crac_tools.config import load_project
    from crac_tools.web.app import create_app

    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
    app = create_app(load_project(cfg))
    if netcdf:
        from crac_tools.web import plotdata

        plotdata.USE_MIRROR = False
    out: dict = {}
    with TestClient(app) as client:
        page = f"/datasets/{KEY}/plot"
        t = time.perf_counter()
        r = client.get(page)
        out["cold"] = time.perf_counter() - t
        if r.status_code != 200:
            raise SystemExit(f"{page}: HTTP {r.status_code}")
        out["bytes"] = len(r.content)
        runs = []
        for _ in range(warm):
            t = time.perf_counter()
            client.get(page)
            runs.append(time.perf_counter() - t)
        out["warm"] = min(runs) if runs else None
        variables = _chosen(r.text)
        for name, (start, end) in ZOOMS.items():
            url = f"/datasets/{KEY}/plotdata?" + "&".join(f"variables={v}" for v in variables) + \
                f"&start={start}&end={end}&n=1200"
            runs, status, size = [], None, 0
            for _ in range(max(warm, 1)):
                t = time.perf_counter()
                z = client.get(url)
                runs.append(time.perf_counter() - t)
                status, size = z.status_code, len(z.content)
            out[f"zoom_{name}"] = min(runs) if status == 200 else None
            out[f"zoom_{name}_bytes"] = size
        out["variables"] = variables
    return out


def _chosen(html: str) -> list[str]:
    """The variables the page selected (its ``<option ... selected>`` entries)."""
    import re

    return re.findall(r'<option value="([^"]+)" selected', html)


def run_child(cfg: Path, warm: int, netcdf: bool = False) -> dict:
    """Run :func:`child` in a fresh interpreter (so the first request is really cold)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(cfg), "--warm", str(warm)]
    if netcdf:
        cmd.append("--netcdf")
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode:
        raise SystemExit(f"child failed:\n{res.stdout}\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _fmt(x: float | None, unit: str = "s") -> str:
    return "n/a" if x is None else f"{x:.3f} {unit}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--netcdf", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--warm", type=int, default=5, help="warm requests per page (best counts)")
    ap.add_argument("--cold", type=int, default=2, help="fresh processes for the cold page (best counts)")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.warm, args.netcdf)))
        return 0

    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
    t_script = time.perf_counter()
    say(f"crac_tools web benchmark on {os.cpu_count()} cores, python {sys.version.split()[0]}")
    generate()
    cfg = make_project()
    build(cfg)
    store = PROJECT / "archive" / "mirror" / f"{KEY}.zarr"
    products = sorted((PROJECT / "archive" / "products" / KEY).rglob("*.nc"))

    runs = [run_child(cfg, args.warm) for _ in range(max(args.cold, 1))]
    nc = run_child(cfg, args.warm, netcdf=True)
    base_z = min(zarr_one_variable(store) for _ in range(3))
    base_n = min(netcdf_one_variable(products) for _ in range(3))
    cold = min(r["cold"] for r in runs)
    warm = min(r["warm"] for r in runs)
    first = runs[0]
    say(f"baseline: xr.open_zarr + read {VAR} of the month {base_z:.3f} s; read_products {VAR} of the month "
        f"{base_n:.3f} s")
    say(f"plot page, whole month, variables {', '.join(first['variables'])}: cold {cold:.3f} s "
        f"(fresh process, best of {len(runs)}), warm {warm:.3f} s (best of {args.warm}), "
        f"{first['bytes'] / 1e3:.0f} kB of HTML")
    say(f"plot page with the mirror ignored (NetCDF products): cold {nc['cold']:.3f} s, warm {_fmt(nc['warm'])}")
    for name in ZOOMS:
        z = min((r[f"zoom_{name}"] for r in runs if r[f"zoom_{name}"] is not None), default=None)
        say(f"zoom request {name} {ZOOMS[name][0]}..{ZOOMS[name][1]}: {_fmt(z)} "
            f"({first[f'zoom_{name}_bytes'] / 1e3:.0f} kB); NetCDF fallback {_fmt(nc[f'zoom_{name}'])}")
    say(f"benchmark script took {time.perf_counter() - t_script:.0f} s")

    zday = min((r["zoom_day"] for r in runs if r["zoom_day"] is not None), default=None)
    print(f"web_plot_page_cold: {cold / base_z:.2f}")
    print(f"web_plot_page_warm: {warm / base_z:.2f}")
    print(f"web_plot_zoom_day: {'n/a' if zday is None else f'{zday / base_z:.2f}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
