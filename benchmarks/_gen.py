"""Generate the benchmark's simulated TOA5 month (imported by run.py; runnable alone)."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from crac_tools.simulate import sonic_columns, write_toa5

DATA = Path(__file__).resolve().parent / "_data"
START = pd.Timestamp("2024-06-01")
N_DAYS = 30
N_EXTRA = 15  # 5 sonic columns + 15 extra float32 channels = 20 data columns
KINDS = {"hz1": ("1s", 86400, "FastSonic"), "min1": ("1min", 1440, "SlowSonic")}


def files(kind: str) -> list[Path]:
    return [DATA / kind / f"TOA5_{kind}.{KINDS[kind][2]}_{(START + pd.Timedelta(days=d)):%Y_%m_%d}.dat"
            for d in range(N_DAYS)]


def _complete(p: Path, rows: int) -> bool:
    # a day file is ~150-200 bytes per row; a present, plausibly sized file with a full last line is reused
    if not p.exists():
        return False
    size = p.stat().st_size
    if size < rows * 120:
        return False
    with open(p, "rb") as fh:
        fh.seek(-2, 2)
        return fh.read() == b"\r\n"


def generate(verbose: bool = True) -> dict[str, list[Path]]:
    out = {}
    for kind, (freq, rows, table) in KINDS.items():
        paths = files(kind)
        made = 0
        for d, p in enumerate(paths):
            if _complete(p, rows):
                continue
            t = pd.date_range(START + pd.Timedelta(days=d), periods=rows, freq=freq)
            write_toa5(p, t, sonic_columns(t, seed=100 + d, n_extra=N_EXTRA), station=kind, table=table,
                       logger="CR1000X", serial="4711", first_record=d * rows)
            made += 1
        if verbose:
            mb = sum(p.stat().st_size for p in paths) / 1e6
            print(f"# data {kind}: {len(paths)} files, {mb:.1f} MB ({made} generated, "
                  f"{len(paths) - made} reused)", flush=True)
        out[kind] = paths
    return out


if __name__ == "__main__":
    generate()
    sys.exit(0)
