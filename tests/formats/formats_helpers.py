"""Checks shared by the reader tests: reading without warnings, netCDF / zarr round trips, binary Campbell files
against their TOA5 twins, and timing."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr


def quiet(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """``fn(*args, **kw)`` with every warning turned into an error (no warning expected)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kw)


def assert_round_trip(ds: xr.Dataset, tmp_path: Path, **open_kw: Any) -> None:
    """``ds`` written to netCDF (h5netcdf) and to zarr opens (with ``open_kw``) identical: values, dtypes, attrs."""
    ds.to_netcdf(tmp_path / "rt.nc", engine="h5netcdf")
    with xr.open_dataset(tmp_path / "rt.nc", engine="h5netcdf", **open_kw) as back:
        xr.testing.assert_identical(ds, back.load())
    ds.to_zarr(tmp_path / "rt.zarr", mode="w")
    with xr.open_zarr(tmp_path / "rt.zarr", **open_kw) as back:
        xr.testing.assert_identical(ds, back.load())


def for_netcdf(ds: xr.Dataset) -> xr.Dataset:
    """A time-of-extreme column keeps the measured quantity's units (as TOA5 does); a datetime variable cannot
    carry ``units`` into netCDF, so move it to ``source_units`` as conventions.cf does before writing."""
    ds = ds.copy()
    for name in ds.data_vars:
        if ds[name].dtype.kind == "M" and "units" in ds[name].attrs:
            ds[name].attrs["source_units"] = ds[name].attrs.pop("units")
    return ds


def assert_same_as_toa5(binary: xr.Dataset, toa5: xr.Dataset) -> None:
    """Every variable of the TOA5 twin is in the binary read, with the same dtype and the same values."""
    assert list(binary.data_vars) == list(toa5.data_vars)
    for name in toa5.variables:
        assert binary[name].dtype == toa5[name].dtype, name
        xr.testing.assert_equal(binary[name], toa5[name])
        for key in ("units", "process", "long_name"):
            assert binary[name].attrs.get(key) == toa5[name].attrs.get(key), (name, key)
    xr.testing.assert_equal(binary, toa5)


def numbered_rows(n: int, nv: int, seed: int, sep: str) -> tuple[np.ndarray, str]:
    """``n`` data lines: a running number 0 .. n-1 and ``nv`` random values (3 decimals), joined by ``sep``.

    Returns the values (``n`` x ``nv``) and the text (lines joined by ``\\n``, no final line end)."""
    rng = np.random.default_rng(seed)
    vals = np.round(rng.normal(100, 50, (n, nv)), 3)
    body = "\n".join(sep.join(r) for r in np.column_stack([np.arange(n).astype(str), vals.astype(str)]).tolist())
    return vals, body


def best_time(fn: Callable[..., Any], *args: Any, repeat: int = 3) -> float:
    """Shortest wall time in seconds of ``repeat`` calls of ``fn(*args)`` (warm up imports before)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best
