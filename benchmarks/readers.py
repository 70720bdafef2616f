"""crac_tools reader benchmark: ``crac.read`` against the fastest installed peer reader, per format.

Run with ``.venv/bin/python benchmarks/readers.py`` (``make bench`` runs it too). For TOA5, TOB1,
ICARTT 1001 and NASA Ames 1001 it builds a large file (86,400 records) from a real sample in
``../shared/testdata`` (data records repeated with incremented time and record number, the header kept
consistent), checks that ``crac.read`` returns the generated values (time, record numbers and data values
taken from the sample file's own text, never from a peer), and times ``crac.read`` and every installed
peer on the same file in the same run:

- TOA5: ``pytoa5`` (``toa5.read_pandas``) and ``readmet`` (``readmet.toa5.get_data``);
- TOB1: ``camp2ascii`` (``output_format=4``, to a DataFrame);
- ICARTT 1001: ``icartt`` (``icartt.Dataset``);
- NASA Ames 1001: ``nappy`` (``openNAFile(...).readData()``).

The last four lines are the figures (``reader_speedup_toa5: 2.40`` ...): crac throughput divided by the
fastest installed peer's. ``#`` lines give the raw timings, MB/s, and crac against a single-thread
``pyarrow.csv`` parse of the same text (for TOB1: of the equivalent TOA5 text made from Campbell's own
conversion of the sample). A peer that is not installed, or that fails on the file, is reported and left out.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TESTDATA = Path(os.environ.get("CRAC_TESTDATA", ROOT.parent / "shared" / "testdata"))
OUT = HERE / "_data" / "readers"
N = 86_400  # records per generated file
SLOW = 10.0  # a reader slower than this (s) is timed once
QUICK = 0.5  # a reader faster than this (s) is timed 2 * repeats + 1 times
PEER_PIP = {
    "pytoa5": "pytoa5", "readmet": "readmet", "camp2ascii": "camp2ascii", "icartt": "icartt",
    "nappy": "nappy (needs: pip install wheel setuptools && pip install --no-build-isolation nappy)",
}


def say(msg: str) -> None:
    print(f"# {msg}", flush=True)


# ------------------------------------------------------------------------------------------ helpers
def _split_csv(line: str) -> list[str]:
    """Fields of one simple CSV line (double quotes removed; no embedded commas in the samples)."""
    return [f.strip().strip('"') for f in line.split(",")]


def _campbell_ts(t: np.ndarray) -> list[str]:
    """datetime64 values as Campbell writes them: fractional seconds with trailing zeros trimmed."""
    s = np.datetime_as_string(t.astype("datetime64[ns]"), unit="ns")
    out = []
    for v in s.tolist():
        date, frac = v.replace("T", " ").split(".")
        frac = frac.rstrip("0")
        out.append(f"{date}.{frac}" if frac else date)
    return out


def _num(tok: str) -> float:
    tok = tok.strip().strip('"')
    return math.nan if tok.upper() in ("NAN", "") else float(tok)


@dataclass
class Case:
    """One generated file, what it must read as, and how to time it."""

    key: str
    path: Path
    records: int
    # index -> expected time (datetime64[ns]) ; (index, column) -> expected value
    times: Callable[[np.ndarray], np.ndarray]
    values: dict[str, Callable[[int], object]] = field(default_factory=dict)
    record: Callable[[np.ndarray], np.ndarray] | None = None
    arrow: Callable[[], object] | None = None  # single-thread pyarrow parse of the same text
    arrow_note: str = "pyarrow.csv (1 thread) on the same text"
    peers: dict[str, Callable[[Path], object]] = field(default_factory=dict)  # name -> reader of a path
    missing: list[str] = field(default_factory=list)  # peers that are not installed
    notes: dict[str, Callable[[object], str | None]] = field(default_factory=dict)  # peer result -> remark
    variant: tuple[str, Path] | None = None  # (what it is, path): crac and the peers again, informational


# ------------------------------------------------------------------------------------------- TOA5
def make_toa5() -> Case:
    src = TESTDATA / "campbell" / "TOA5_BBS.FLUX_2023_08_01_1530.dat"
    lines = src.read_text(encoding="ascii").splitlines()
    header, rows = lines[:4], [ln for ln in lines[4:] if ln.strip()]
    names = _split_csv(header[1])
    first = _split_csv(rows[0])
    t0 = np.datetime64(first[0].replace(" ", "T"), "ns")
    r0 = int(first[1])
    dt = np.timedelta64(100, "ms")  # 10 Hz, as in the sample
    rest = [row.split(",", 2)[2] for row in rows]  # the data fields, verbatim
    n_src = len(rows)
    idx = np.arange(N)
    stamps = _campbell_ts(t0 + idx * dt)
    body = "\n".join(f'"{s}",{r0 + i},{rest[i % n_src]}' for i, s in enumerate(stamps))
    path = OUT / "TOA5_big.dat"
    eol = "\r\n" if b"\r\n" in src.read_bytes()[:4096] else "\n"  # as the sample has it
    path.write_text(eol.join(header) + eol + body.replace("\n", eol) + eol, encoding="ascii")
    src_vals = [_split_csv(r) for r in rows]

    def value(col: str) -> Callable[[int], object]:
        j = names.index(col)
        return lambda i: _num(src_vals[i % n_src][j])

    # the same records with every time stamp at the same precision (".0" on whole seconds), for a remark:
    # on the real file the peers meet Campbell's trimmed stamps, which pytoa5 leaves as strings, readmet rejects
    uniform = OUT / "TOA5_big_uniform_stamps.dat"
    uniform.write_text(eol.join(header) + eol + eol.join(
        f'"{s if "." in s else s + ".0"}",{r0 + i},{rest[i % n_src]}' for i, s in enumerate(stamps)) + eol,
        encoding="ascii")
    case = Case("toa5", path, N, times=lambda i: t0 + i * dt, record=lambda i: r0 + i,
                values={c: value(c) for c in ("Ux", "Uz", "Ts", "sonic_diag", "CO2", "H2O", "press", "irga_diag")},
                variant=("the same records with uniform-precision time stamps", uniform))

    def arrow():
        import pyarrow.csv as pacsv
        return pacsv.read_csv(path, read_options=pacsv.ReadOptions(skip_rows=4, autogenerate_column_names=True,
                                                                   use_threads=False))
    case.arrow = arrow

    try:
        import toa5  # pytoa5

        case.peers["pytoa5"] = lambda f: toa5.read_pandas(f, low_memory=False)
        case.notes["pytoa5"] = lambda df: (None if df.index.dtype.kind == "M" else
                                           f"TIMESTAMP left as {df.index.dtype} (mixed sub-second precision)")
    except ImportError:
        case.missing.append("pytoa5")
    try:
        from readmet import toa5 as readmet_toa5

        case.peers["readmet"] = lambda f: readmet_toa5.get_data(str(f))
    except ImportError:
        case.missing.append("readmet")
    return case


# ------------------------------------------------------------------------------------------- TOB1
_TOB1_SIZE = {"ULONG": 4, "LONG": 4, "IEEE4": 4, "IEEE4L": 4, "IEEE4B": 4, "IEEE8": 8, "IEEE8L": 8, "IEEE8B": 8,
              "FP2": 2, "UINT1": 1, "UINT2": 2, "UINT4": 4, "INT1": 1, "INT2": 2, "INT4": 4, "BOOL": 1,
              "BOOL2": 2, "BOOL4": 4, "BOOL8": 1, "SecNano": 8, "NSec": 8,
              "BYTE": 1, "USHORT": 2, "SHORT": 2, "SEC": 4}
_CSI_EPOCH = np.datetime64("1990-01-01T00:00:00", "ns")


def _tob1_header(raw: bytes) -> tuple[int, list[str], list[str]]:
    """(header length in bytes, field names, field types) of a TOB1 file: five ASCII lines."""
    pos = 0
    lines = []
    for _ in range(5):
        end = raw.index(b"\n", pos)
        lines.append(raw[pos:end].decode("ascii").rstrip("\r"))
        pos = end + 1
    return pos, _split_csv(lines[1]), _split_csv(lines[4])


def _tob1_size(t: str) -> int:
    if t.startswith("ASCII(") and t.endswith(")"):
        return int(t[6:-1])
    return _TOB1_SIZE[t]


def make_tob1() -> Case:
    src = TESTDATA / "campbell" / "TOB1_full27.dat"
    ref = TESTDATA / "campbell" / "TOA5_TOB1_full27_2026_02_19_0946.dat"  # CardConvert's TOA5 of the same file
    raw = src.read_bytes()
    hlen, names, types = _tob1_header(raw)
    size = sum(_tob1_size(t) for t in types)
    body = raw[hlen:]
    if len(body) % size:
        raise SystemExit(f"{src}: data length {len(body)} is not a multiple of the record size {size}")
    n_src = len(body) // size
    assert names[:3] == ["SECONDS", "NANOSECONDS", "RECORD"] and types[:3] == ["ULONG"] * 3, names[:3]
    recs = np.frombuffer(body, dtype=np.uint8).reshape(n_src, size)
    head = recs[:, :12].copy().view("<u4")  # SECONDS, NANOSECONDS, RECORD (little-endian ULONG)
    sec0, ns0, r0 = (int(v) for v in head[0])
    t0 = _CSI_EPOCH + np.timedelta64(sec0, "s") + np.timedelta64(ns0, "ns")
    steps = np.diff(head[:, 0].astype(np.int64) * 10**9 + head[:, 1].astype(np.int64))
    dt = np.timedelta64(int(np.median(steps)), "ns")  # 5 ms in the sample
    idx = np.arange(N)
    t = t0 + idx * dt
    tns = (t - _CSI_EPOCH).astype(np.int64)
    big = recs[idx % n_src].copy()
    newhead = np.empty((N, 3), dtype="<u4")
    newhead[:, 0] = tns // 10**9
    newhead[:, 1] = tns % 10**9
    newhead[:, 2] = r0 + idx
    big[:, :12] = newhead.view(np.uint8).reshape(N, 12)
    path = OUT / "TOB1_big.dat"
    path.write_bytes(raw[:hlen] + big.tobytes())

    # the reference values: Campbell's own TOA5 conversion of the sample, row for row
    rlines = [ln for ln in ref.read_text(encoding="ascii").splitlines() if ln.strip()]
    rnames = _split_csv(rlines[1])
    rrows = [_split_csv(ln) for ln in rlines[4:]]
    assert len(rrows) == n_src and int(rrows[0][1]) == r0, (len(rrows), n_src)

    def value(col: str, kind: str) -> Callable[[int], object]:
        j = rnames.index(col)
        if kind == "num":
            return lambda i: _num(rrows[i % n_src][j])
        if kind == "time":
            return lambda i: np.datetime64(rrows[i % n_src][j].replace(" ", "T"), "ns")
        return lambda i: rrows[i % n_src][j]

    cols = {"temp_Avg(3)": "num", "temp_Max(1)": "num", "temp(1)": "num", "temp(2)": "num", "temp(3)": "num",
            "temp(4)": "num", "temp(5)": "num", "toggle": "num", "rand": "num", "text_val": "str",
            "text_val_2": "str", "temp_bool8(1)": "str", "temp_TMx(1)": "time"}
    case = Case("tob1", path, N, times=lambda i: t0 + i * dt, record=lambda i: r0 + i,
                values={c: value(c, k) for c, k in cols.items()})

    # the same records as TOA5 text (CardConvert's rows, new time and record): the pyarrow baseline's input
    twin = OUT / "TOB1_big_as_TOA5.dat"
    rest = [ln.split(",", 2)[2] for ln in rlines[4:]]
    stamps = _campbell_ts(t)
    eol = "\r\n" if b"\r\n" in ref.read_bytes()[:4096] else "\n"
    twin.write_text(eol.join(rlines[:4]) + eol + eol.join(
        f'"{s}",{r0 + i},{rest[i % n_src]}' for i, s in enumerate(stamps)) + eol, encoding="ascii")

    def arrow():
        import pyarrow.csv as pacsv
        return pacsv.read_csv(twin, read_options=pacsv.ReadOptions(skip_rows=4, autogenerate_column_names=True,
                                                                   use_threads=False))
    case.arrow = arrow
    case.arrow_note = f"pyarrow.csv (1 thread) on the same records as TOA5 text ({twin.stat().st_size / 1e6:.1f} MB)"

    try:
        from camp2ascii import camp2ascii

        tmp = OUT / "camp2ascii_out"

        def run_camp2ascii(f: Path):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dfs = list(camp2ascii(str(f), str(tmp), output_format=4, verbose=0))
            if not dfs or len(dfs[0]) == 0:
                raise RuntimeError("camp2ascii returned no data")
            return dfs
        case.peers["camp2ascii"] = run_camp2ascii
    except ImportError:
        case.missing.append("camp2ascii")
    return case


# ------------------------------------------------------------------------------- ICARTT / NASA Ames
def _ames_extend(src: Path, dst: Path, step: float, delim: str, width: int | None) -> tuple[list[str], list[str]]:
    """Repeat the data lines of a 1001 file to N records, the independent variable continuing by ``step``.

    The header is copied unchanged (NLHEAD counts header lines only). Returns (header lines, source data lines).
    """
    lines = src.read_text(encoding="utf-8").splitlines()
    nlhead = int(lines[0].replace(",", " ").split()[0])
    header, data = lines[:nlhead], [ln for ln in lines[nlhead:] if ln.strip()]
    first = data[0].replace(",", " ").split()[0]
    x0 = float(first)
    n_src = len(data)
    out = []
    for i in range(N):
        src_line = data[i % n_src]
        x = x0 + i * step
        xs = f"{int(x)}" if x == int(x) else f"{x:g}"
        if width is not None:  # fixed-width whitespace file: keep the columns aligned
            out.append(f"{xs:>{width}}{src_line[width:]}")
        else:
            lead = src_line[: len(src_line) - len(src_line.lstrip())]
            out.append(lead + xs + delim + src_line.split(delim, 1)[1])
    eol = "\r\n" if b"\r\n" in src.read_bytes()[:4096] else "\n"  # as the sample has it
    dst.write_text(eol.join(header + out) + eol, encoding="utf-8", newline="")
    return header, data


def make_icartt() -> Case:
    src = TESTDATA / "icartt" / "icartt_example.ict"
    path = OUT / "ICARTT_big.ict"
    header, data = _ames_extend(src, path, 1.0, ",", None)
    nlhead = len(header)
    date = [int(v) for v in header[6].replace(",", " ").split()[:3]]
    day = np.datetime64(f"{date[0]:04d}-{date[1]:02d}-{date[2]:02d}", "ns")
    nv = int(header[9].split(",")[0])
    scale = [float(v) for v in header[10].split(",")]
    miss = [float(v) for v in header[11].split(",")]
    names = [header[12 + k].split(",")[0].strip() for k in range(nv)]
    x0 = float(data[0].split(",")[0])
    rows = [[float(v) for v in ln.split(",")] for ln in data]
    n_src = len(rows)

    def value(col: str) -> Callable[[int], object]:
        k = names.index(col)

        def get(i: int) -> float:
            v = rows[i % n_src][k + 1]
            return math.nan if v == miss[k] else v * scale[k]
        return get

    case = Case("icartt", path, N, times=lambda i: day + ((x0 + i) * 1e9).astype("timedelta64[ns]"),
                values={c: value(c) for c in ("Lat", "Lon", "Alt", "H", "FCH4", "H_SE", "FCO2_qflag", "Lobukhov")})

    def arrow():
        import pyarrow.csv as pacsv
        return pacsv.read_csv(path, read_options=pacsv.ReadOptions(skip_rows=nlhead, autogenerate_column_names=True,
                                                                   use_threads=False))
    case.arrow = arrow
    try:
        import icartt

        case.peers["icartt"] = lambda f: icartt.Dataset(str(f))
    except ImportError:
        case.missing.append("icartt")
    return case


def make_nasa_ames() -> Case:
    src = TESTDATA / "nasa_ames" / "1001.na"
    path = OUT / "NASA_Ames_1001_big.na"
    raw_data = [ln for ln in src.read_text(encoding="utf-8").splitlines()[25:] if ln.strip()]
    width = re.match(r"\s*\S+", raw_data[0]).end()  # the first column's width (right-aligned numbers)
    header, data = _ames_extend(src, path, 10.0, " ", width)
    nlhead = len(header)
    assert int(header[0].split()[0]) == nlhead
    date = [int(v) for v in header[6].split()[:3]]
    day = np.datetime64(f"{date[0]:04d}-{date[1]:02d}-{date[2]:02d}", "ns")
    dx = float(header[7].split()[0])
    nv = int(header[9].split()[0])
    scale = [float(v) for v in header[10].split()]
    miss = [float(v) for v in header[11].split()]
    # crac names a variable by its description without a trailing "(units)"
    names = [re.sub(r"\s*\([^()]*\)\s*$", "", header[12 + k].strip()) for k in range(nv)]
    rows = [[float(v) for v in ln.split()] for ln in data]
    x0 = rows[0][0]
    n_src = len(rows)

    def value(k: int) -> Callable[[int], object]:
        def get(i: int) -> float:
            v = rows[i % n_src][k + 1]
            return math.nan if v == miss[k] else v * scale[k]
        return get

    case = Case("nasa_ames", path, N, times=lambda i: day + ((x0 + i * dx) * 1e9).astype("timedelta64[ns]"),
                values={names[k]: value(k) for k in range(nv)})

    def arrow():  # whitespace-separated numbers: blanks to line ends, then one float column
        import pyarrow as pa
        import pyarrow.csv as pacsv
        with open(path, "rb") as fh:
            raw = fh.read()
        cut = 0
        for _ in range(nlhead):
            cut = raw.index(b"\n", cut) + 1
        buf = raw[cut:].translate(bytes.maketrans(b" \t\r", b"\n\n\n"))
        return pacsv.read_csv(pa.BufferReader(buf), read_options=pacsv.ReadOptions(column_names=["v"],
                                                                                   use_threads=False),
                              convert_options=pacsv.ConvertOptions(column_types={"v": pa.float64()}))
    case.arrow = arrow
    case.arrow_note = "pyarrow.csv (1 thread) on the same text, blanks turned into line ends (that included)"
    try:
        import nappy

        def run_nappy(fname: Path):
            f = nappy.openNAFile(str(fname))
            try:
                f.readData()
            finally:
                f.close()
            return f
        case.peers["nappy"] = run_nappy

        def nappy_note(f) -> str | None:
            got = [float(v[0]) for v in f.V]
            want = [case.values[nm](0) for nm in names]
            if all(_same(g, w, 1e-12) for g, w in zip(got, want, strict=True)):
                return None
            return f"first record {got}; the file's values (scale factors applied) are {want}"
        case.notes["nappy"] = nappy_note
    except ImportError:
        case.missing.append("nappy")
    return case


# ------------------------------------------------------------------------------------------ checks
def _same(got, want, rtol: float) -> bool:
    if isinstance(want, str):
        return str(got) == want
    if isinstance(want, np.datetime64):
        return np.datetime64(got, "ns") == want
    g, w = float(got), float(want)
    if math.isnan(w):
        return math.isnan(g)
    return math.isclose(g, w, rel_tol=rtol, abs_tol=0.0)


def check(case: Case, ds) -> list[str]:
    """Differences between ``ds`` (crac's result) and the generated file's own values."""
    bad = []
    n = ds.sizes.get("time", -1)
    if n != case.records:
        return [f"{n} records, expected {case.records}"]
    rng = np.random.default_rng(7)
    idx = np.unique(np.concatenate(([0, 1, 2, 9, 10, 11, case.records // 2, case.records - 2, case.records - 1],
                                    rng.integers(0, case.records, 40))))
    t = ds["time"].values
    want_t = case.times(idx)
    got_t = t[idx].astype("datetime64[ns]")
    for i, g, w in zip(idx, got_t, want_t, strict=True):
        if g != w:
            bad.append(f"time[{i}] = {g}, expected {w}")
            break
    if not np.all(np.diff(t.astype("datetime64[ns]").astype(np.int64)) > 0):
        bad.append("time is not strictly increasing")
    if case.record is not None:
        rec = ds["RECORD"].values[idx]
        if not np.array_equal(rec.astype(np.int64), case.record(idx)):
            bad.append(f"RECORD {rec[:3]}..., expected {case.record(idx)[:3]}...")
    for col, want in case.values.items():
        if col not in ds:
            bad.append(f"variable {col!r} missing (has {list(ds.data_vars)[:8]}...)")
            continue
        v = ds[col].values
        rtol = 2e-7 if v.dtype == np.float32 else 1e-12
        for i in idx:
            w = want(int(i))
            g = v[i]
            if isinstance(g, bytes):
                g = g.decode()
            if not _same(g, w, rtol):
                bad.append(f"{col}[{i}] = {g!r} ({v.dtype}), expected {w!r}")
                break
    return bad


# ----------------------------------------------------------------------------------------- timing
def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """(best wall time, CPU time of that run, last result) over ``repeats`` runs; one run only when the
    first takes longer than SLOW seconds, ``2 * repeats + 1`` when it takes less than QUICK seconds (cheap,
    and steadies the best-of on a busy machine). CPU time (all threads of this process) is the steadier
    figure on a busy machine; wall time makes the figures."""
    best, cpu, result = math.inf, math.inf, None
    k, n = 0, repeats
    while k < n:
        if k:
            result = None
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if dt < best:
            best, cpu = dt, dc
        if k == 0 and dt > SLOW:
            break
        if k == 0 and dt < QUICK:
            n = 2 * repeats + 1
        k += 1
    return best, cpu, result


def run_case(case: Case, repeats: int) -> tuple[float | None, str]:
    import crac_tools as crac

    mb = case.path.stat().st_size / 1e6
    say(f"{case.key}: {case.path.name}, {case.records:,} records, {mb:.1f} MB")

    def crac_read():
        ds = crac.read(case.path)
        return ds.load()

    try:
        t_crac, c_crac, ds = timed(crac_read, repeats)
    except Exception as exc:  # noqa: BLE001 - report and go on with the other formats
        say(f"{case.key}: crac.read FAILED: {type(exc).__name__}: {exc}")
        return None, "crac.read failed"
    bad = check(case, ds)
    del ds
    if bad:
        say(f"{case.key}: WARNING crac values differ from the generated file: " + "; ".join(bad[:5]))
    else:
        what = "time, RECORD" if case.record is not None else "time"
        say(f"{case.key}: crac values checked against the sample's own values ({what} and {len(case.values)} "
            f"variables at 49+ records, record count, increasing time): OK")
    say(f"{case.key}: crac.read {t_crac:.3f} s (CPU {c_crac:.3f} s), {mb / t_crac:.1f} MB/s")
    if case.arrow is not None:
        t_arrow, c_arrow, _ = timed(case.arrow, repeats)
        say(f"{case.key}: {case.arrow_note}: {t_arrow:.3f} s (CPU {c_arrow:.3f} s) -> crac at "
            f"{t_arrow / t_crac:.2f}x of its throughput (CPU time: {c_arrow / c_crac:.2f}x)")
    times = {}
    for name, fn in case.peers.items():
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                t, c, res = timed(lambda fn=fn: fn(case.path), repeats)
        except Exception as exc:  # noqa: BLE001 - a failing peer is reported, not fatal
            first = (str(exc).splitlines() or [""])[0][:160]
            say(f"{case.key}: peer {name} FAILED on this file ({type(exc).__name__}: {first}); left out")
            continue
        times[name] = t
        say(f"{case.key}: peer {name} {t:.3f} s (CPU {c:.3f} s), {mb / t:.2f} MB/s; crac {t / t_crac:.2f}x "
            f"its throughput (CPU time: {c / c_crac:.2f}x)")
        note = case.notes.get(name)
        if note is not None:
            with contextlib.suppress(Exception):
                msg = note(res)
                if msg:
                    say(f"{case.key}: peer {name} values (not used for the check): {msg}")
        del res
    for name in case.missing:
        say(f"{case.key}: peer {name} is not installed (pip install {PEER_PIP[name]}); left out")
    if case.variant is not None:
        what, vpath = case.variant
        t_v, c_v, _ = timed(lambda: crac.read(vpath).load(), repeats)
        parts = [f"crac {t_v:.3f} s (CPU {c_v:.3f} s)"]
        for name, fn in case.peers.items():
            try:
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                    warnings.simplefilter("ignore")
                    t_p, c_p, _ = timed(lambda fn=fn: fn(vpath), repeats)
                parts.append(f"{name} {t_p:.3f} s (CPU {c_p:.3f} s): crac {t_p / t_v:.2f}x "
                             f"(CPU time: {c_p / c_v:.2f}x)")
            except Exception as exc:  # noqa: BLE001
                parts.append(f"{name} failed ({type(exc).__name__})")
        say(f"{case.key}: informational, {what}: " + ", ".join(parts))
    if not times:
        return None, "no peer installed or working"
    fastest = min(times, key=times.get)
    say(f"{case.key}: fastest peer {fastest}")
    return times[fastest] / t_crac, ""


MAKERS = {"toa5": make_toa5, "tob1": make_tob1, "icartt": make_icartt, "nasa_ames": make_nasa_ames}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats (best counts); default 3")
    ap.add_argument("--only", nargs="*", choices=list(MAKERS), help="run only these formats")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    import pyarrow.csv  # noqa: F401

    import crac_tools  # noqa: F401  (import cost out of the timings)

    keys = args.only or list(MAKERS)
    say(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times grow on a busy machine; the "
        "CPU-time ratios beside them are steadier)")
    ratios: dict[str, tuple[float | None, str]] = {}
    t_start = time.perf_counter()
    for key in keys:
        t0 = time.perf_counter()
        case = MAKERS[key]()
        say(f"{key}: generated in {time.perf_counter() - t0:.1f} s")
        ratios[key] = run_case(case, args.repeats)
    say(f"total {time.perf_counter() - t_start:.0f} s, load average now {os.getloadavg()[0]:.1f}")
    for key in keys:
        r, why = ratios[key]
        print(f"reader_speedup_{key}: {r:.2f}" if r is not None else f"reader_speedup_{key}: n/a ({why})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
