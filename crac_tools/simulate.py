"""Write simulated Campbell TOA5 logger files (for the demo, tests and benchmarks).

The files look like a CR1000X's: the four quoted header lines, quoted timestamps, unquoted numbers,
``NAN`` for missing values, CRLF line ends.

Examples
--------
>>> import numpy as np, pandas as pd, tempfile, pathlib
>>> t = pd.date_range("2024-06-01", periods=3, freq="1min")
>>> p = pathlib.Path(tempfile.mkdtemp()) / "TOA5_x.dat"
>>> _ = write_toa5(p, t, {"AirTC": (np.array([20.5, np.nan, 21.0], "f4"), "Deg C", "Avg")},
...                station="alpha", table="Met")
>>> p.read_bytes().splitlines()[4]
b'"2024-06-01 00:00:00",0,20.5'
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .fsutil import atomic_write_bytes


def _q(items) -> str:
    return ",".join(f'"{x}"' for x in items)


def toa5_bytes(times: pd.DatetimeIndex | np.ndarray, columns: dict[str, tuple[np.ndarray, str, str]], *,
               station: str = "station", table: str = "Table1", logger: str = "CR1000X",
               serial: str = "12345", os_version: str = "CR1000X.Std.07.00", program: str = "CPU:demo.cr1x",
               signature: str = "4242", first_record: int = 0, eol: str = "\r\n") -> bytes:
    """Return the bytes of a TOA5 file holding ``columns`` (name -> (values, units, process))."""
    times = pd.DatetimeIndex(times)
    names = ["TIMESTAMP", "RECORD", *columns]
    units = ["TS", "RN", *(c[1] for c in columns.values())]
    procs = ["", "", *(c[2] for c in columns.values())]
    head = eol.join([_q(["TOA5", station, logger, serial, os_version, program, signature, table]),
                     _q(names), _q(units), _q(procs)]) + eol
    fmt = "%Y-%m-%d %H:%M:%S.%f" if (times.microsecond != 0).any() else "%Y-%m-%d %H:%M:%S"
    stamp = times.strftime(fmt)
    if fmt.endswith("%f"):
        stamp = stamp.str.rstrip("0").str.rstrip(".")
    arrays = {"TIMESTAMP": pa.array(np.asarray(stamp, dtype=object)),
              "RECORD": pa.array(np.arange(first_record, first_record + len(times), dtype=np.int64))}
    for name, (vals, _u, _p) in columns.items():
        vals = np.asarray(vals)
        arrays[name] = pa.array(vals, from_pandas=vals.dtype.kind == "f")
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(arrays), buf, pacsv.WriteOptions(include_header=False, quoting_style="needed",
                                                               eol=eol, null_string="NAN"))
    return head.encode("ascii") + buf.getvalue()


def write_toa5(path: str | Path, times, columns: dict[str, tuple[np.ndarray, str, str]], *,
               truncate_last: bool = False, **header) -> Path:
    """Write a TOA5 file atomically; ``truncate_last`` cuts the last record mid-line (a logger mid-write).

    Examples
    --------
    >>> write_toa5("TOA5_alpha.dat", t, cols, station="alpha")  # doctest: +SKIP
    PosixPath('TOA5_alpha.dat')
    """
    data = toa5_bytes(times, columns, **header)
    if truncate_last:
        body = data.rstrip(b"\r\n")
        last = body.rfind(b"\n") + 1
        cut = last + (len(body) - last) // 2
        data = data[:cut]
    return atomic_write_bytes(path, data)


def met_columns(times: pd.DatetimeIndex, seed: int, nan_fraction: float = 0.0, battery: bool = True) -> dict:
    """Plausible weather-station columns (diurnal air temperature, humidity, pressure, wind, rain)."""
    rng = np.random.default_rng(seed)
    n = len(times)
    hours = (times.hour + times.minute / 60 + times.second / 3600).to_numpy()
    day = (np.asarray(times.day_of_year) - 150) * 0.3
    air = 15 + day + 6 * np.sin((hours - 9) / 24 * 2 * np.pi) + rng.normal(0, 0.3, n)
    rh = np.clip(70 - 2.5 * (air - 15) + rng.normal(0, 2, n), 5, 100)
    bp = 1013 + np.cumsum(rng.normal(0, 0.02, n))
    ws = np.abs(3 + np.cumsum(rng.normal(0, 0.05, n)) % 6)
    wd = (180 + np.cumsum(rng.normal(0, 2, n))) % 360
    rain = np.where(rng.random(n) < 0.01, rng.integers(1, 5, n) * 0.254, 0.0)
    batt = 12.8 + 0.3 * np.sin((hours - 13) / 24 * 2 * np.pi) + rng.normal(0, 0.01, n)
    cols = {"BattV_Min": (np.round(batt, 2), "Volts", "Min"), "AirTC_Avg": (np.round(air, 2), "Deg C", "Avg"),
            "RH": (np.round(rh, 1), "%", "Smp"), "BP_mbar": (np.round(bp, 1), "mbar", "Smp"),
            "WS_ms_Avg": (np.round(ws, 2), "meters/second", "Avg"), "WindDir": (np.round(wd, 1), "degrees", "Smp"),
            "Rain_mm_Tot": (np.round(rain, 3), "mm", "Tot")}
    if not battery:
        del cols["BattV_Min"]
    out = {}
    for name, (vals, u, p) in cols.items():
        vals = vals.astype("f4")
        if nan_fraction and name != "BattV_Min":
            vals[rng.random(n) < nan_fraction] = np.nan
        out[name] = (vals, u, p)
    return out


def sonic_columns(times: pd.DatetimeIndex, seed: int, n_extra: int = 0) -> dict:
    """Fast-response sonic anemometer columns (wind components, sonic temperature, diagnostics)."""
    rng = np.random.default_rng(seed)
    n = len(times)
    u = 2 + np.cumsum(rng.normal(0, 0.02, n)) % 4 + rng.normal(0, 0.3, n)
    cols = {"Ux": (np.round(u, 4), "m/s", "Smp"), "Uy": (np.round(rng.normal(0.5, 0.4, n), 4), "m/s", "Smp"),
            "Uz": (np.round(rng.normal(0, 0.15, n), 4), "m/s", "Smp"),
            "Ts": (np.round(18 + rng.normal(0, 0.2, n), 3), "C", "Smp"),
            "diag_csat": (rng.choice([0, 0, 0, 0, 1], n).astype("i4"), "", "Smp")}
    for k in range(n_extra):
        cols[f"chan_{k + 1:02d}"] = (np.round(rng.normal(10 * k, 1 + k, n), 4), "mV", "Smp")
    return {k: (v.astype("f4") if v.dtype.kind == "f" else v, un, p) for k, (v, un, p) in cols.items()}


def soil_columns(times: pd.DatetimeIndex, seed: int) -> dict:
    """Soil and radiation columns for a slow (e.g. 30-minute) table."""
    rng = np.random.default_rng(seed)
    n = len(times)
    hours = (times.hour + times.minute / 60).to_numpy()
    sw = np.clip(800 * np.sin((hours - 6) / 12 * np.pi), 0, None) + rng.normal(0, 5, n).clip(0)
    cols = {"SWin_Avg": (np.round(sw, 1), "W/m^2", "Avg"),
            "Tsoil_5cm_Avg": (np.round(14 + 2 * np.sin((hours - 15) / 24 * 2 * np.pi) + rng.normal(0, .05, n), 3),
                              "Deg C", "Avg"),
            "VWC_5cm_Avg": (np.round(0.25 + rng.normal(0, 0.002, n), 4), "m^3/m^3", "Avg"),
            "G_plate_Avg": (np.round(0.1 * sw - 20 + rng.normal(0, 2, n), 2), "W/m^2", "Avg")}
    return {k: (v.astype("f4"), u, p) for k, (v, u, p) in cols.items()}
