"""Zarr mirrors over HTTP (``/zarr/{key}.zarr/``), the STAC catalog (``/api/stac``) and offline map tiles."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pytest
import web_helpers as wh
import xarray as xr
from starlette.testclient import TestClient
from web_helpers import comparable, login, make_tiles, set_tiles

from crac_tools.errors import ConfigError

DAY1 = "20240310T000000_v1"


def _token(app, user: str = "alice") -> str:
    site = app.state.site
    return site.auth.new_token(user, "test", site.clock())


# -- zarr ------------------------------------------------------------------------------------------------
def test_open_zarr_over_http(app, web_project):
    token = _token(app)
    headers = {"Authorization": f"Bearer {token}"}
    with wh.LiveServer(app) as srv:
        ds = xr.open_zarr(f"{srv.url}/zarr/public_met.zarr")
        assert ds.sizes["time"] == 2880 and "AirTC_Avg" in ds
        products = sorted((web_project.archive / "products" / "public_met").rglob("*.nc"))
        with xr.open_mfdataset(products, engine="h5netcdf") as nc:
            np.testing.assert_allclose(ds["AirTC_Avg"].values, nc["AirTC_Avg"].values, equal_nan=True)
        # anonymous: the embargoed mirror is as absent as a missing one
        for key in ("public_embargo_met", "ship_met", "nosuch_met"):
            with pytest.raises((FileNotFoundError, KeyError, OSError)):
                xr.open_zarr(f"{srv.url}/zarr/{key}.zarr")
        emb = xr.open_zarr(f"{srv.url}/zarr/public_embargo_met.zarr", storage_options={"headers": headers})
        assert wh.CANARY_DATA in emb["AirTC_Avg"].attrs["long_name"]
        assert int(np.isfinite(emb["AirTC_Avg"].values).sum()) > 2000
        ship = xr.open_zarr(f"{srv.url}/zarr/ship_met.zarr", storage_options={"headers": headers})
        assert float(ship["Lat"].max()) == pytest.approx(-8.0)


def test_zarr_keys_are_strict_and_embargoed_keys_look_missing(app, web_project, clock):
    anon = TestClient(app)
    alice = TestClient(app)
    login(alice, "alice")
    ok = anon.get("/zarr/public_met.zarr/zarr.json")
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/json")
    assert "consolidated_metadata" in ok.json()
    chunk = anon.get("/zarr/public_met.zarr/AirTC_Avg/c/0")
    assert chunk.status_code == 200 and chunk.headers["content-type"] == "application/octet-stream"
    part = anon.get("/zarr/public_met.zarr/AirTC_Avg/c/0", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and len(part.content) == 10
    assert anon.head("/zarr/public_met.zarr/zarr.json").status_code == 200
    for path in ("zarr.json", "AirTC_Avg/zarr.json", "AirTC_Avg/c/0"):
        emb = anon.get(f"/zarr/public_embargo_met.zarr/{path}")
        missing = anon.get(f"/zarr/nosuch_met.zarr/{path}")
        assert emb.status_code == 404 and comparable(emb) == comparable(missing)
        assert "etag" not in emb.headers and wh.CANARY_DATA.encode() not in emb.content
        assert alice.get(f"/zarr/public_embargo_met.zarr/{path}").status_code == 200
    assert wh.CANARY_DATA in alice.get("/zarr/public_embargo_met.zarr/zarr.json").text
    # symbolic links out of the mirror, traversal, folders, dot files, v2 names that do not exist
    mirror = web_project.archive / "mirror"
    os.symlink(mirror / "public_embargo_met.zarr" / "zarr.json", mirror / "public_met.zarr" / "leak.json")
    os.symlink(mirror / "public_embargo_met.zarr" / "AirTC_Avg", mirror / "public_met.zarr" / "Leak")
    (mirror / "public_met.zarr" / ".crac-tmp-x").write_text("partial")
    bad = ["leak.json", "Leak/zarr.json", "Leak/c/0", "..%2fpublic_embargo_met.zarr%2fzarr.json",
           "%2e%2e/public_embargo_met.zarr/zarr.json", "%2e%2e%2fpublic_embargo_met.zarr%2fzarr.json",
           "AirTC_Avg/..%2f..%2fpublic_embargo_met.zarr%2fzarr.json", "%2fetc%2fpasswd", "AirTC_Avg",
           "AirTC_Avg/c", "", ".crac-tmp-x", ".zmetadata", "AirTC_Avg//c/0", "AirTC_Avg%5cc%5c0", "zarr.json%00",
           "AirTC_Avg/%2e/c/0"]  # (literal ./ and ../ are resolved by the HTTP client itself)
    for b in bad:
        for c in (anon, alice):
            r = c.get(f"/zarr/public_met.zarr/{b}")
            assert r.status_code == 404, (b, r.status_code)
            assert wh.CANARY_DATA.encode() not in r.content
    # the release instant opens the mirror with no job to run
    clock.t = wh.RELEASE
    assert anon.get("/zarr/public_embargo_met.zarr/zarr.json").status_code == 200
    clock.t = wh.RELEASE - dt.timedelta(seconds=1)
    assert anon.get("/zarr/public_embargo_met.zarr/zarr.json").status_code == 404


def test_intake_and_api_name_the_zarr_mirror(client, app):
    cat = client.get("/api/catalog.yaml").text
    assert "zarr_url: http://testserver/zarr/public_met.zarr" in cat and "public_embargo" not in cat
    d = client.get("/api/datasets/public_met").json()
    assert d["zarr"] == "http://testserver/zarr/public_met.zarr"
    assert d["stac"] == "http://testserver/api/stac/public_met"


# -- STAC ------------------------------------------------------------------------------------------------
def _check_links(doc):
    for link in doc["links"]:
        assert {"rel", "href"} <= set(link) and link["href"].startswith("http://testserver/")


def test_stac_catalog_per_caller(app, clock):
    anon = TestClient(app)
    cat = anon.get("/api/stac")
    assert cat.status_code == 200
    doc = cat.json()
    assert doc["type"] == "Catalog" and doc["stac_version"] == "1.0.0" and doc["id"] == "testproj"
    _check_links(doc)
    assert [link["href"] for link in doc["links"] if link["rel"] == "child"] == \
        ["http://testserver/api/stac/public_met"]
    assert not any(c.encode() in cat.content for c in wh.CANARIES)
    assert b"public_embargo" not in cat.content and b"ship" not in cat.content
    token = _token(app, "alice")
    auth = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    r = auth.get("/api/stac")
    assert r.headers["cache-control"] == "private, no-store"
    kids = sorted(link["href"].rsplit("/", 1)[1] for link in r.json()["links"] if link["rel"] == "child")
    assert kids == ["public_embargo_met", "public_met", "ship_met"]
    assert wh.CANARY_TITLE in r.text
    dave = TestClient(app)
    login(dave, "dave")
    kids = sorted(link["href"].rsplit("/", 1)[1] for link in dave.get("/api/stac").json()["links"]
                  if link["rel"] == "child")
    assert kids == ["public_met", "ship_met"]
    # embargoed collections and items answer exactly like missing ones
    for url in ("/api/stac/public_embargo_met", "/api/stac/public_embargo_met/items",
                f"/api/stac/public_embargo_met/items/public_embargo_met_{DAY1}"):
        emb, missing = anon.get(url), anon.get(url.replace("public_embargo_met", "nosuch_met"))
        assert emb.status_code == 404 and comparable(emb) == comparable(missing)
        assert auth.get(url).status_code == 200
    clock.t = wh.RELEASE
    assert "public_embargo_met" in anon.get("/api/stac").text


def test_stac_collection_and_items(app):
    token = _token(app, "alice")
    c = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    col = c.get("/api/stac/public_met").json()
    assert col["type"] == "Collection" and col["id"] == "public_met" and col["license"]
    for key in ("description", "extent", "links", "stac_version"):
        assert key in col
    assert col["extent"]["spatial"]["bbox"] == [[7.25, 45.5, 7.25, 45.5]]
    assert col["extent"]["temporal"]["interval"] == [["2024-03-10T00:00:00Z", "2024-03-12T00:00:00Z"]]
    assert col["assets"]["zarr"]["href"] == "http://testserver/zarr/public_met.zarr"
    _check_links(col)
    item_links = [link["href"] for link in col["links"] if link["rel"] == "item"]
    assert len(item_links) == 2
    fc = c.get("/api/stac/public_met/items")
    assert fc.headers["content-type"].startswith("application/geo+json")
    assert [f["id"] for f in fc.json()["features"]] == [u.rsplit("/", 1)[1] for u in item_links]
    item = c.get(item_links[0].replace("http://testserver", "")).json()
    assert item["type"] == "Feature" and item["id"] == f"public_met_{DAY1}" and item["collection"] == "public_met"
    assert item["geometry"] == {"type": "Point", "coordinates": [7.25, 45.5]}
    props = item["properties"]
    assert props["datetime"] is None and props["start_datetime"] == "2024-03-10T00:00:00Z"
    assert props["end_datetime"] == "2024-03-11T00:00:00Z" and props["crac:records"] == 1440
    assert sorted(item["assets"]) == ["data", "overview", "zarr"]
    _check_links(item)
    # every asset resolves on this server for the caller
    for name, asset in item["assets"].items():
        r = c.get(asset["href"].replace("http://testserver", "") + ("/zarr.json" if name == "zarr" else ""))
        assert r.status_code == 200, (name, asset["href"])
    emb = c.get(f"/api/stac/public_embargo_met/items/public_embargo_met_{DAY1}").json()
    assert emb["assets"]["data"]["href"].endswith(f"/files/public_embargo_met_{DAY1}.nc")
    assert c.get("/api/stac/public_embargo_met").json()["crac:embargoed_until"] == "2030-01-01T00:00:00Z"
    for bad in ("public_met", f"public_embargo_met_{DAY1}", "..%2f..%2fcatalog.yaml", f"public_met_{DAY1}.nc"):
        assert c.get(f"/api/stac/public_met/items/{bad}").status_code == 404, bad


# -- tiles -----------------------------------------------------------------------------------------------
def test_tiles_and_the_map(app, web_project, tmp_path):
    anon = TestClient(app)
    assert anon.get("/tiles/0/0/0.png").status_code == 404  # no tiles configured
    assert 'class="tiled"' not in anon.get("/").text and "plain coordinate plot" in anon.get("/").text
    tiles = make_tiles(tmp_path / "tiles")
    (tmp_path / "secret.png").write_bytes(b"\x89PNG" + wh.CANARY_DATA.encode())
    (tiles / "3" / "0" / "7.png").unlink()
    os.symlink(tmp_path / "secret.png", tiles / "3" / "0" / "7.png")
    set_tiles(web_project.path, "../tiles")  # relative to crac.yaml
    r = anon.get("/tiles/3/4/2.png")
    assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    assert r.headers["content-type"] == "image/png" and r.headers["cache-control"] == "public, max-age=86400"
    for bad in ("/tiles/3/0/7.png", "/tiles/3/8/0.png", "/tiles/3/0/8.png", "/tiles/23/0/0.png", "/tiles/-1/0/0.png",
                "/tiles/03/4/2.png", "/tiles/3/4/2.0.png", "/tiles/3/4/%2e%2e%2f%2e%2e%2f0.png", "/tiles/x/0/0.png",
                "/tiles/3/4/2.png%00", "/tiles/4/0/0.png", "/tiles/3/4/1e1.png", "/tiles/ 3/4/2.png"):
        r = anon.get(bad)
        assert r.status_code == 404, bad
        assert wh.CANARY_DATA.encode() not in r.content
    page = anon.get("/").text
    assert 'class="tiled"' in page and 'href="/tiles/3/4/2.png"' in page
    assert page.count("<circle") == 1 and "Public tower" in page
    assert not any(c in page for c in wh.CANARIES) and "Research vessel" not in page
    alice = TestClient(app)
    login(alice, "alice")
    page = alice.get("/").text
    assert page.count("<circle") == 3 and wh.CANARY_TITLE in page
    for href in {h.split('"')[0] for h in page.split('href="/tiles/')[1:]}:
        assert alice.get(f"/tiles/{href}").status_code == 200, href


def test_missing_tile_folder_fails_startup(web_project, clock, tmp_path):
    from crac_tools.web.app import create_app

    set_tiles(web_project.path, tmp_path / "no-such-tiles")
    with pytest.raises(ConfigError, match="serve.tiles"):
        create_app(web_project, now=clock)


def test_tile_map_view():
    from crac_tools.web.tiles import mercator, parse_tile

    assert mercator(0, -180, 2) == (0.0, 512.0)
    x, y = mercator(90, 180, 0)
    assert x == 256.0 and y == pytest.approx(0.0, abs=1e-6)
    assert parse_tile("22", str(2**22 - 1), "0") == (22, 2**22 - 1, 0)
    assert parse_tile("23", "0", "0") is None
