"""The interactive plot: min/max envelope (NetCDF products and zarr mirror), zoom data endpoint, embargo, page size."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from starlette.testclient import TestClient
from web_helpers import comparable, login, use_mirror

from crac_tools.web import plotdata

HOUR = "start=2024-03-10T06:00&end=2024-03-10T07:00"


def _product(project, key: str, var: str) -> pd.Series:
    """``var`` of the dataset's first day, straight from its product file."""
    (path,) = sorted((project.archive / "products" / key).rglob("*20240310T*.nc"))
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds[var].to_series()


def _pairs(values: list) -> list[tuple]:
    return [tuple(values[i:i + 2]) for i in range(0, len(values), 2)]


@pytest.mark.parametrize("source", ["netcdf", "mirror"])
def test_plotdata_envelope_values(client, web_project, source):
    if source == "mirror":
        use_mirror(web_project)
    truth = _product(web_project, "public_met", "AirTC_Avg")["2024-03-10T06:00":"2024-03-10T06:59:59"]
    assert len(truth) == 60
    r = client.get(f"/datasets/public_met/plotdata?variables=AirTC_Avg,RH&{HOUR}&n=6")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-cache"  # like every other anonymous dataset answer
    j = r.json()
    assert j["source"] == source and j["records"] == 60 and j["step_ms"] == 600_000
    assert j["start"] == "2024-03-10T06:00:00" and j["end"] == "2024-03-10T07:00:00"
    assert list(j["y"]) == ["AirTC_Avg", "RH"] and len(j["x"]) == 12
    t0 = pd.Timestamp("2024-03-10T06:00").value // 10**6
    assert j["x"][:4] == [t0 + 150_000, t0 + 450_000, t0 + 750_000, t0 + 1_050_000]
    for b, (first, second) in enumerate(_pairs(j["y"]["AirTC_Avg"])):
        part = truth.iloc[10 * b:10 * (b + 1)]
        assert sorted([first, second]) == pytest.approx([part.min(), part.max()])
        # the two extremes in the order they occur
        assert (first == pytest.approx(part.min())) == (part.idxmin() <= part.idxmax())
    # a range with few records: every record, NaN (missing values) as null
    j = client.get(f"/datasets/public_met/plotdata?variables=AirTC_Avg&{HOUR}&n=1000").json()
    assert j["step_ms"] == 0 and len(j["x"]) == 60 and j["x"][0] == t0
    assert [None if np.isnan(v) else pytest.approx(float(v)) for v in truth.values] == j["y"]["AirTC_Avg"]
    # clipped to the data; bad parameters are refused
    j = client.get("/datasets/public_met/plotdata?variables=RH&start=2020-01-01&n=10").json()
    assert j["start"] == "2024-03-10T00:00:00" and j["end"] == "2024-03-12T00:00:00" and j["records"] == 2880
    assert client.get("/datasets/public_met/plotdata?n=x").status_code == 400
    assert client.get("/datasets/public_met/plotdata?start=2024-03-11&end=2024-03-10").status_code == 400
    assert client.get("/datasets/public_met/plotdata?start=tomorrow").status_code == 400


def test_mirror_and_products_agree_and_stale_or_foreign_mirrors_are_not_read(client, web_project):
    url = ("/datasets/public_met/plotdata?variables=AirTC_Avg&variables=BP_mbar"
           "&start=2024-03-10T05:17&end=2024-03-11T20:00&n=97")
    nc = client.get(url).json()
    assert nc["source"] == "netcdf"  # the copied mirror is older than the ingest state: stale
    use_mirror(web_project)
    zr = client.get(url).json()
    assert zr["source"] == "mirror"
    assert {k: v for k, v in nc.items() if k != "source"} == {k: v for k, v in zr.items() if k != "source"}
    # a mirror that is a link to another dataset's mirror is never read
    mirror = web_project.archive / "mirror"
    (mirror / "public_met.zarr").rename(mirror / "moved.zarr")
    (mirror / "public_met.zarr").symlink_to(mirror / "public_embargo_met.zarr")
    j = client.get(url).json()
    assert j["source"] == "netcdf" and j["y"] == nc["y"]


def test_plotdata_respects_the_embargo(app, web_project):
    use_mirror(web_project, "public_embargo_met")
    anon = TestClient(app)
    q = f"plotdata?variables=AirTC_Avg&{HOUR}&n=10"
    hidden = anon.get(f"/datasets/public_embargo_met/{q}")
    missing = anon.get(f"/datasets/nosuch_met/{q}")
    assert hidden.status_code == 404 and comparable(hidden) == comparable(missing)
    assert anon.get(f"/datasets/ship_met/{q}").content == missing.content
    bob = TestClient(app)
    login(bob, "bob")
    hidden, missing = bob.get(f"/datasets/public_embargo_met/{q}"), bob.get(f"/datasets/nosuch_met/{q}")
    assert hidden.status_code == 404 and comparable(hidden) == comparable(missing)
    alice = TestClient(app)
    login(alice, "alice")
    r = alice.get(f"/datasets/public_embargo_met/{q}")
    assert r.status_code == 200 and r.headers["cache-control"] == "private, no-store"
    j = r.json()
    assert j["source"] == "mirror" and j["records"] == 60 and len(j["x"]) == 20
    truth = _product(web_project, "public_embargo_met", "AirTC_Avg")["2024-03-10T06:00":"2024-03-10T06:59:59"]
    got = [v for v in j["y"]["AirTC_Avg"] if v is not None]
    assert min(got) == pytest.approx(truth.min()) and max(got) == pytest.approx(truth.max())


def test_plot_page_is_envelope_limited(client, monkeypatch):
    def shapes(html: str) -> list[int]:
        return [int(n) for n in re.findall(r'"shape":\[(\d+)\]', html)]

    full = client.get("/datasets/public_met/plot?variables=AirTC_Avg&variables=RH")
    assert full.status_code == 200 and "/plotdata" in full.text and "min/max envelope" in full.text
    assert shapes(full.text) and max(shapes(full.text)) <= 2 * plotdata.N_BINS  # 2880 records, reduced
    monkeypatch.setattr(plotdata, "N_BINS", 50)
    small = client.get("/datasets/public_met/plot?variables=AirTC_Avg&variables=RH")
    assert max(shapes(small.text)) <= 100
    assert len(small.content) < 0.75 * len(full.content)  # (bokeh also zlib-compresses its arrays)
    hour = client.get(f"/datasets/public_met/plot?variables=AirTC_Avg&{HOUR}")
    assert "every record" in hour.text and max(shapes(hour.text)) == 60
    scripts = re.findall(r'<script src="([^"]+)"', full.text)
    assert scripts == ["/_bokeh/static/js/bokeh.min.js"]


def test_envelope_of_a_long_series_is_exact_and_vectorised():
    """A month of 1 Hz (2.6 million values with gaps and NaN), both reducers against pandas."""
    rng = np.random.default_rng(3)
    n = 30 * 86_400
    step = 10**9
    t0 = pd.Timestamp("2024-06-01").value
    a = rng.normal(0, 1, n).astype("f4")
    a[rng.random(n) < 0.01] = np.nan
    a[100_000:200_000] = np.nan  # a gap: NaN slots on the grid, no records at all in the products
    a[500_000] = 99.0  # a spike
    t = t0 + np.arange(n, dtype=np.int64) * step
    xg, yg, wg = plotdata.envelope_grid(t0, step, {"a": a}, 1000)
    keep = ~np.isnan(a) | (np.arange(n) < 100_000) | (np.arange(n) >= 200_000)
    xt, yt, wt = plotdata.envelope_times(t[keep], {"a": a[keep]}, 1000, t0, t0 + n * step)
    assert wg == wt == 2592_000 and len(xg) == len(xt) == 2000
    np.testing.assert_array_equal(xg, xt)
    np.testing.assert_array_equal(yg["a"], yt["a"])
    s = pd.Series(a, index=pd.to_datetime(t))
    binned = s.groupby(np.arange(n) // 2592)
    pairs = yg["a"].reshape(-1, 2)
    np.testing.assert_allclose(np.nanmin(pairs, axis=1)[binned.min().notna().values], binned.min().dropna().values)
    np.testing.assert_allclose(np.nanmax(pairs, axis=1)[binned.max().notna().values], binned.max().dropna().values)
    assert np.isnan(pairs[39:77]).all()  # bins inside the gap break the line
    assert np.nanmax(yg["a"]) == 99.0


def test_zoom_loads_detail_in_the_browser(app):
    """Zooming the time axis fetches the visible range's detail; zooming back out restores the page's data."""
    from test_browser import ARGS, CHROMIUM, _need_browser

    _need_browser()
    import web_helpers as wh
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    fetched: list[str] = []
    with wh.LiveServer(app) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: fetched.append(r.url) if "/plotdata" in r.url else None)
        page.on("request", lambda r: errors.append(f"off-server {r.url}")
                if not r.url.startswith(srv.url) and not r.url.startswith("data:") else None)
        page.goto(srv.url + "/datasets/public_met/plot?variables=AirTC_Avg&variables=RH")
        page.wait_for_selector("canvas", timeout=60_000)
        assert "envelope" in page.text_content("#plot-detail")
        size = "() => Bokeh.documents[0].get_model_by_name('crac-plot-data').data.x.length"
        assert page.evaluate(size) <= 2 * plotdata.N_BINS
        home = page.evaluate("() => { const r = Bokeh.documents[0].get_model_by_name('crac-plot-time');"
                             " return [r.start, r.end]; }")
        t0 = pd.Timestamp("2024-03-10T12:00").value // 10**6
        page.evaluate(f"() => Bokeh.documents[0].get_model_by_name('crac-plot-time')"
                      f".setv({{start: {t0}, end: {t0 + 20 * 60_000}}})")
        page.wait_for_function("() => document.getElementById('plot-detail').textContent === 'every record'",
                               timeout=20_000)
        assert len(fetched) == 1 and "n=" in fetched[0]
        # the visible 20 minutes plus 10 on each side, every record
        assert page.evaluate(size) == 40
        page.evaluate(f"() => Bokeh.documents[0].get_model_by_name('crac-plot-time')"
                      f".setv({{start: {home[0]}, end: {home[1]}}})")
        page.wait_for_function("() => document.getElementById('plot-detail').textContent.includes('envelope')",
                               timeout=20_000)
        assert len(fetched) == 1  # the page's own data again, no request
        browser.close()
    assert not errors, "\n".join(errors)


def test_range_between_two_periods_is_empty(app):
    import dataclasses

    site = app.state.site
    d = site.registry.datasets()["public_met"]
    first, second = d.periods
    two = pd.Timedelta(days=2)
    moved = dataclasses.replace(second, start=second.start + two, end=second.end + two)
    gappy = dataclasses.replace(d, periods=(first, moved))
    ctx = site.identify({}, None)
    s = plotdata.plot_series(site, ctx, gappy, ["AirTC_Avg"], pd.Timestamp("2024-03-11T06:00"),
                             pd.Timestamp("2024-03-11T07:00"))
    assert s.records == 0 and s.x.size == 0 and s.y["AirTC_Avg"].size == 0
    assert b'"x":[]' in plotdata.series_json("public_met", s)
