"""Tests for crac_tools.plot (static quick-looks, PDF pages, interactive HTML)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from crac_tools.fsutil import TMP_PREFIX
from crac_tools.plot import (
    interactive,
    quicklook_figure,
    save_interactive_html,
    write_quicklook_pdf,
    write_quicklook_png,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_ds(
    n: int = 1440,
    freq: str = "1min",
    start: str = "2024-05-01",
    station: str = "JFJ01",
    drop: slice | None = None,
    extra_vars: int = 0,
    all_nan: bool = False,
) -> xr.Dataset:
    """A synthetic product dataset: 3 numeric variables + RECORD + a string and a datetime variable."""
    t = pd.date_range(start, periods=n, freq=freq)
    if drop is not None:
        keep = np.ones(n, dtype=bool)
        keep[drop] = False
        t = t[keep]
    m = len(t)
    rng = np.random.default_rng(42)
    x = np.arange(m)
    dv: dict = {
        "AirT_Avg": ("time", (15 + 5 * np.sin(2 * np.pi * x / max(m, 1))).astype("float32"),
                     {"units": "Deg C", "long_name": "air temperature"}),
        "RH": ("time", 60 + 20 * np.cos(2 * np.pi * x / max(m, 1)),
               {"units": "%", "long_name": "rel. humidity"}),
        "WS_ms": ("time", np.abs(rng.normal(3, 1, m)), {"units": "m/s"}),
        "RECORD": ("time", np.arange(m, dtype="int64")),
        "Status": ("time", np.array(["ok"] * m, dtype=object)),
        "AirT_TMx": ("time", np.asarray(t)),
    }
    for k in range(extra_vars):
        dv[f"X{k:02d}"] = ("time", rng.normal(0, 1, m), {"units": "V", "long_name": f"extra {k}"})
    if all_nan:
        dv["SW_in"] = ("time", np.full(m, np.nan), {"units": "W/m^2", "long_name": "shortwave in"})
    start_ts = pd.Timestamp(start)
    end_ts = start_ts + pd.Timedelta(freq) * n
    return xr.Dataset(
        dv,
        coords={"time": t, "lat": 46.55, "lon": 7.98, "alt": 3450.0},
        attrs={
            "station_id": station,
            "station_name": "Jungfraujoch Sphinx",
            "product": "met_1min",
            "instrument": "CR1000X",
            "period": "day",
            "period_start": start_ts.isoformat(),
            "period_end": end_ts.isoformat(),
            "source_files": (f"CR1000X_{station}_Table1.dat {'a' * 64}\n"
                             f"CR1000X_{station}_Table1_b.dat {'b' * 64}"),
            "completeness": m / n,
            "records_actual": m,
            "records_expected": n,
            "title": f"{station} met_1min day",
        },
    )


def _temps(directory: Path) -> list[Path]:
    return sorted(directory.glob(TMP_PREFIX + "*"))


# ------------------------------------------------------------------------------------------------ static


def test_axes_count_skips_record_and_non_numeric():
    fig = quicklook_figure(make_ds())
    assert len(fig.axes) == 3
    labels = [ax.get_ylabel().replace("\n", " ") for ax in fig.axes]
    assert labels == ["air temperature [Deg C]", "rel. humidity [%]", "WS_ms [m/s]"]


def test_title_and_subtitle_content():
    fig = quicklook_figure(make_ds(drop=slice(100, 244)))
    title = fig.get_suptitle()
    assert "JFJ01" in title
    assert "Jungfraujoch Sphinx" in title
    assert "CR1000X" in title and "met_1min" in title
    assert "day" in title
    assert "2024-05-01 00:00" in title and "2024-05-02 00:00" in title and "UTC" in title
    subtitle = fig.axes[0].get_title(loc="left")
    assert "completeness 90.0 %" in subtitle
    assert "2 files" in subtitle and "CR1000X_JFJ01_Table1.dat" in subtitle


def test_time_axis_uses_concise_formatter():
    import matplotlib.dates as mdates

    fig = quicklook_figure(make_ds())
    assert isinstance(fig.axes[-1].xaxis.get_major_formatter(), mdates.ConciseDateFormatter)


def test_gap_breaks_line_with_nan():
    ds = make_ds(n=60, drop=slice(20, 30))
    fig = quicklook_figure(ds)
    line = fig.axes[0].lines[0]
    y = np.asarray(line.get_ydata(), dtype=float)
    x = np.asarray(line.get_xdata()).astype("datetime64[ns]")
    assert y.size == 51  # 50 samples + 1 inserted break
    nan_at = np.flatnonzero(np.isnan(y))
    assert nan_at.tolist() == [20]
    assert x[19] < x[20] < x[21]
    assert x[19] == np.datetime64("2024-05-01T00:19") and x[21] == np.datetime64("2024-05-01T00:30")
    # no break where the sampling is regular
    assert np.isfinite(np.delete(y, 20)).all()


def test_no_gap_no_nan():
    fig = quicklook_figure(make_ds(n=120))
    y = np.asarray(fig.axes[1].lines[0].get_ydata(), dtype=float)
    assert y.size == 120 and np.isfinite(y).all()


def test_decimation_keeps_spikes_and_gaps():
    n = 200_000
    t = pd.date_range("2024-05-01", periods=n, freq="1s")
    rng = np.random.default_rng(0)
    v = rng.normal(0, 1, n)
    v[123_457] = 50.0
    v[7_001] = -40.0
    keep = np.ones(n, dtype=bool)
    keep[150_000:160_000] = False  # a ~2.8 h gap
    ds = xr.Dataset({"v": ("time", v[keep], {"units": "V"})}, coords={"time": t[keep]},
                    attrs={"station_id": "ST9", "period": "week"})
    fig = quicklook_figure(ds)
    line = fig.axes[0].lines[0]
    y = np.asarray(line.get_ydata(), dtype=float)
    x = np.asarray(line.get_xdata()).astype("datetime64[ns]")
    assert y.size < 5_000  # decimated
    assert np.nanmax(y) == 50.0
    assert np.nanmin(y) == -40.0
    assert x[np.nanargmax(y)] == np.datetime64(t[123_457])  # spike drawn at its true time
    assert np.all(np.diff(x.astype("int64")) >= 0)
    # the gap is still a break in the line
    nan_x = x[np.isnan(y)]
    assert np.any((nan_x > np.datetime64(t[149_999])) & (nan_x < np.datetime64(t[160_000])))
    # ... and no drawn point falls inside it
    finite_x = x[np.isfinite(y)]
    assert not np.any((finite_x > np.datetime64(t[149_999])) & (finite_x < np.datetime64(t[160_000])))


def test_decimation_can_be_disabled():
    n = 30_000
    t = pd.date_range("2024-05-01", periods=n, freq="1s")
    ds = xr.Dataset({"v": ("time", np.arange(n, dtype=float))}, coords={"time": t})
    assert fig_points(quicklook_figure(ds, max_points=None)) == n
    assert fig_points(quicklook_figure(ds)) < n


def fig_points(fig) -> int:
    return len(fig.axes[0].lines[0].get_ydata())


def test_all_nan_variable_listed_not_crashing():
    fig = quicklook_figure(make_ds(all_nan=True))
    assert len(fig.axes) == 3
    note = fig.get_supxlabel()
    assert "no data" in note and "SW_in" in note


def test_only_all_nan_variables():
    ds = make_ds(all_nan=True)[["SW_in", "RECORD"]]
    fig = quicklook_figure(ds)
    assert len(fig.axes) == 1
    assert any("no data" in t.get_text() for t in fig.axes[0].texts)


def test_max_panels_note():
    fig = quicklook_figure(make_ds(extra_vars=12), max_panels=12)
    assert len(fig.axes) == 12
    assert "3 more variables not shown" in fig.get_supxlabel()


def test_explicit_variables_and_unknown_name():
    fig = quicklook_figure(make_ds(), variables=["WS_ms", "Status", "RECORD"])
    assert len(fig.axes) == 2  # Status (string) is skipped even when asked for; RECORD is plotted on request
    with pytest.raises(KeyError, match="nope"):
        quicklook_figure(make_ds(), variables=["nope"])


def test_png_written_atomically_and_readable(tmp_path):
    from matplotlib.image import imread

    out = write_quicklook_png(make_ds(), tmp_path / "sub" / "JFJ01_2024-05-01.png", dpi=80, width=10)
    assert out == tmp_path / "sub" / "JFJ01_2024-05-01.png"
    assert out.is_file()
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC
    img = imread(out)
    height_in = 1.25 + 0.55 + 1.55 * 3
    assert img.shape[1] == 800
    assert abs(img.shape[0] - round(height_in * 80)) <= 1
    assert b"JFJ01" in data  # PNG text metadata (Title)
    assert _temps(out.parent) == []
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


def test_png_overwrite(tmp_path):
    target = tmp_path / "q.png"
    target.write_bytes(b"old")
    write_quicklook_png(make_ds(n=60), target)
    assert target.read_bytes()[:8] == PNG_MAGIC
    assert _temps(tmp_path) == []


def test_pdf_pages_metadata_and_no_temps(tmp_path):
    datasets = (make_ds(start=f"2024-05-0{d}", station=s) for d, s in [(1, "A1"), (2, "A1"), (3, "B2")])
    out = write_quicklook_pdf(datasets, tmp_path / "ql.pdf", title="Quick looks May", author="Field Team")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) == 3
    assert b"Quick looks May" in data
    assert b"Field Team" in data
    assert _temps(tmp_path) == []


def test_pdf_default_title(tmp_path):
    out = write_quicklook_pdf([make_ds(station="C3", n=60)], tmp_path / "one.pdf")
    data = out.read_bytes()
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) == 1
    assert b"crac_tools quick-looks: C3" in data


def test_pdf_empty_or_failing_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        write_quicklook_pdf([], tmp_path / "empty.pdf")

    def failing():
        yield make_ds(n=60)
        raise RuntimeError("reader broke")

    with pytest.raises(RuntimeError):
        write_quicklook_pdf(failing(), tmp_path / "fail.pdf")
    assert list(tmp_path.iterdir()) == []


def test_import_is_cheap_and_static_path_avoids_pyplot(tmp_path):
    code = (
        "import sys, numpy as np, pandas as pd, xarray as xr\n"
        "import crac_tools.plot as p\n"
        "heavy = [m for m in ('hvplot', 'holoviews', 'bokeh', 'panel', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "t = pd.date_range('2024-05-01', periods=10, freq='1min')\n"
        "ds = xr.Dataset({'a': ('time', np.arange(10.0))}, coords={'time': t})\n"
        f"p.write_quicklook_png(ds, {str(tmp_path / 'x.png')!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "assert not [m for m in ('hvplot', 'bokeh', 'panel') if m in sys.modules]\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "x.png").is_file()


# ------------------------------------------------------------------------------------------- interactive


def test_interactive_and_html(tmp_path):
    import holoviews as hv

    view = interactive(make_ds(drop=slice(100, 200), all_nan=True))
    assert isinstance(view, hv.Layout)
    curves = list(view)
    assert len(curves) == 3  # RECORD, string, datetime and all-NaN variables left out
    ylabels = [c.vdims[0].label for c in curves]
    assert ylabels == ["air temperature", "rel. humidity", "WS_ms"]
    opts = [hv.Store.lookup_options("bokeh", c, "plot").kwargs.get("ylabel") for c in curves]
    assert opts == ["air temperature [Deg C]", "rel. humidity [%]", "WS_ms [m/s]"]
    # the time gap is a NaN break in the interactive data as well
    assert np.isnan(curves[0].dimension_values(1)).sum() == 1

    out = save_interactive_html(view, tmp_path / "view.html")
    html = out.read_text(encoding="utf-8")
    assert "<html" in html.lower() and "Bokeh" in html
    assert len(html) > 500_000  # BokehJS inlined
    assert "cdn.bokeh.org" not in html
    assert not re.search(r"<script[^>]*\bsrc\s*=", html)
    assert not re.search(r"<link[^>]*href=[\"']https?://", html)
    assert "https://cdn.holoviz.org" not in html  # panel stylesheets inlined
    assert _temps(tmp_path) == []


def test_interactive_large_without_datashader(caplog):
    n = 150_000
    t = pd.date_range("2024-05-01", periods=n, freq="1s")
    v = np.random.default_rng(1).normal(0, 1, n)
    v[99_999] = 9.0
    ds = xr.Dataset({"v": ("time", v, {"units": "V"})}, coords={"time": t}, attrs={"station_id": "S"})
    try:
        import datashader  # noqa: F401

        have_datashader = True
    except ImportError:
        have_datashader = False
    if have_datashader:
        pytest.skip("datashader installed; fallback path not exercised")
    view = interactive(ds)
    curve = list(view)[0]
    vals = curve.dimension_values(1)
    assert len(vals) <= 100_000 and np.nanmax(vals) == 9.0
    with caplog.at_level(logging.WARNING, logger="crac_tools.plot"):
        interactive(ds, datashade=True)
    assert "datashader is not installed" in caplog.text


def test_interactive_no_data(tmp_path):
    import holoviews as hv

    view = interactive(make_ds(all_nan=True)[["SW_in"]])
    assert isinstance(view, hv.Div)
    out = save_interactive_html(view, tmp_path / "empty.html")
    assert "no data" in out.read_text(encoding="utf-8")
