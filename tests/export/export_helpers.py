"""Helpers for the export tests: small products shaped like the archive's (float32 logger values, gaps, NaN)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from crac_tools.export.ascii_rules import check_file


def make_product(days: int = 2, freq: str = "10min", start: str = "2024-06-01") -> xr.Dataset:
    """A station time-series product like the demo's (float32 2-decimal values, NaN, int columns)."""
    t = pd.date_range(start, periods=int(pd.Timedelta(f"{days}D") / pd.Timedelta(freq)), freq=freq)
    t = t.delete(slice(5, 9))  # a gap
    n = len(t)
    rng = np.random.default_rng(42)
    temp = np.round(12 + 5 * rng.standard_normal(n), 2).astype("f4")
    temp[[3, 17]] = np.nan
    rh = np.round(np.clip(70 + 10 * rng.standard_normal(n), 0, 100), 1).astype("f4")
    press = np.round(1013 + rng.standard_normal(n), 1).astype("f4")
    flux = (rng.standard_normal(n) * 1e-3).astype("f8")  # float64, full precision
    tiny = np.full(n, 3.5e-12, "f4")
    return xr.Dataset(
        {
            "RECORD": ("time", np.arange(100, 100 + n, dtype="i8"),
                       {"units": "1", "long_name": "logger record number"}),
            "AirTC_Avg": ("time", temp, {"units": "degC", "long_name": "air temperature, averaged",
                                         "standard_name": "air_temperature", "process": "Avg"}),
            "RH": ("time", rh, {"units": "percent", "long_name": "relative humidity", "standard_name":
                                "relative_humidity"}),
            "BP_mbar": ("time", press, {"units": "hPa", "long_name": "barometric pressure"}),
            "flux": ("time", flux, {"units": "W m-2", "long_name": "a float64 flux"}),
            "tiny": ("time", tiny, {"units": "1", "long_name": "a very small number"}),
            "diag": ("time", rng.integers(0, 3, n).astype("i4"), {"units": "1", "long_name": "diagnostic flag"}),
            "label": ("time", np.array(["ok"] * n), {"long_name": "a string column (not exported)"}),
        },
        coords={
            "time": ("time", t, {"standard_name": "time", "long_name": "time (UTC)", "axis": "T"}),
            "lat": ((), 47.3052, {"units": "degrees_north"}),
            "lon": ((), 11.5896, {"units": "degrees_east"}),
            "alt": ((), 1890.0, {"units": "m"}),
            "station_id": ((), "bravo"),
        },
        attrs={
            "station_id": "bravo", "station_name": "Bravo m\u00e9adow", "product": "met",
            "instrument": "CR1000X (CR1000X)", "creator_name": "Demo PI", "creator_email": "pi@example.org",
            "institution": "crac_tools demo", "project": "crac-demo", "title": "demo: Bravo met",
            "license": "CC-BY-4.0", "period_start": f"{start}T00:00:00Z", "product_version": "2",
            "crac_tools_version": "0.1.0", "processing_options_hash": "60dcce5eb381",
            "source_files": "TOA5_bravo.Met_2024_06_01_0000.dat 1ce3\nTOA5_bravo.Met_2024_06_02_0000.dat 77ab",
            "run_record": "crac ingest --config demo/crac.yaml", "time_interval": freq,
            "date_modified": "2024-07-01T10:00:00Z",
        },
    )


def make_profile(nt: int = 3, nz: int = 6, varying: bool = False) -> xr.Dataset:
    """Ozone-lidar-like profiles on (time, altitude), plus a time-only surface pressure."""
    t = pd.date_range("2024-01-01T22:00", periods=nt, freq="1h")
    rng = np.random.default_rng(1)
    o3 = np.round(rng.random((nt, nz)) * 100, 1).astype("f4")
    o3[1, 2] = np.nan
    ps = np.round(1000 + rng.standard_normal(nt), 2).astype("f4")
    ps[-1] = np.nan
    ds = xr.Dataset(
        {"O3": (("time", "altitude"), o3, {"units": "ppbv", "long_name": "ozone mixing ratio"}),
         "ps": ("time", ps, {"units": "hPa", "long_name": "surface pressure"})},
        coords={"time": t, "altitude": ("altitude", np.arange(nz) * 150.0, {"units": "m", "long_name": "altitude"})},
        attrs={"station_id": "uah", "product": "o3lidar", "product_version": "1", "creator_name": "Jane Doe"},
    )
    if varying:
        z = np.tile(np.arange(nz) * 150.0, (nt, 1)) + np.arange(nt)[:, None] * 7.5
        z[-1, -2:] = np.nan
        ds = ds.assign_coords(z_actual=(("time", "altitude"), z, {"units": "m", "long_name": "range altitude"}))
    return ds


def assert_ascii_clean(path) -> None:
    """The archive's ASCII rules hold for ``path``."""
    problems = check_file(path)
    assert not problems, f"{path}: {problems[:5]}"


def same(read: np.ndarray, orig: np.ndarray) -> bool:
    """Values read back (float64, NaN for missing) equal the source values in the source's dtype."""
    read = np.asarray(read, "f8")
    if orig.dtype.kind in "iu":
        return bool(np.array_equal(read, orig.astype("f8")))
    return bool(np.array_equal(read.astype(orig.dtype), orig, equal_nan=True))
