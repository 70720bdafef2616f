"""Security battery: >= 500 requests over every route and identity, with canaries planted in embargoed data.

Identities: anonymous, wrong password, wrong token, expired session, members of other groups (``bob``,
``erin`` of another project, ``carol`` of role ``CAMPAIGN`` next to ``CAMPAIGN_private``), and authorised
members (``alice``: everything; ``dave``: role ``CAMPAIGN_private``, the ship only). Pass: no canary byte reaches
an identity not entitled to it, an embargoed thing is answered exactly like a missing one (status, body,
headers), every authorised request succeeds, nothing a shared cache may store holds a canary.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
from urllib.parse import quote

import numpy as np
import pytest
import web_helpers as wh
import xarray as xr
from starlette.testclient import TestClient
from web_helpers import comparable, login, make_tiles, set_tiles

from crac_tools.web import plotdata

CANARY_SHIP = wh.CANARY_SHIP
RANGE = "start=2024-03-10T06:00&end=2024-03-10T06:10"
FORMATS = ("csv", "icartt", "nasa_ames", "netcdf")
DAY1 = "20240310T000000_v1"
DAY2 = "20240311T000000_v1"
COND = {"If-None-Match": '"x"', "If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}


def _plant(project, client_alice, client_dave):
    """Reports with canaries on the embargoed station and the ship; symlinks out of public folders."""
    for c, station, canary in ((client_alice, "public_embargo", wh.CANARY_REPORT), (client_dave, "ship", CANARY_SHIP)):
        csrf = c.get("/reports/new").text.split('name="csrf" value="')[1].split('"')[0]
        r = c.post("/reports", data={"csrf": csrf, "station": station, "kind": "note", "date": "2024-03-10",
                                     "title": f"title {canary}", "body": f"body {canary}"},
                   files=[("attachments", (f"{canary}.png", b"\x89PNG\r\n\x1a\n" + canary.encode(), "image/png"))],
                   follow_redirects=False)
        assert r.status_code == 303, r.text
    arch = project.archive
    # a public quick-look replaced by a link to an embargoed one, a product folder link out of the root
    ql = arch / "quicklook" / "public_met" / "public_met_20240311T000000_v1.png"
    ql.unlink()
    os.symlink(arch / "quicklook" / "public_embargo_met" / f"public_embargo_met_{DAY1}.png", ql)
    (arch / "quicklook" / "public_met" / "public_met.pdf").symlink_to(arch / "catalog.yaml")
    # links out of the public zarr mirror into embargoed ones (a file and a folder)
    mirror = arch / "mirror"
    (mirror / "public_met.zarr" / "leak.json").symlink_to(mirror / "public_embargo_met.zarr" / "zarr.json")
    (mirror / "public_met.zarr" / "Leak").symlink_to(mirror / "ship_met.zarr" / "Lat")
    # offline map tiles, one of them a link to an embargoed quick-look

    tiles = make_tiles(project.root / "tiles", max_zoom=1)
    (tiles / "1" / "0" / "0.png").unlink()
    embargoed_look = arch / "quicklook" / "public_embargo_met" / f"public_embargo_met_{DAY1}.png"
    (tiles / "1" / "0" / "0.png").symlink_to(embargoed_look)
    set_tiles(project.path, "tiles")
    rep = {}
    for station in ("public_embargo", "ship"):
        (sub,) = [p for p in (arch / "reports" / station).iterdir() if p.is_dir()]
        rep[station] = (sub.name, sorted(p.name for p in (sub / "files").iterdir())[0])
    return rep


def _requests(rep):
    """(method, url, headers, which canary set the content belongs to, expect-ok-for-entitled)"""
    out = []
    keys = {"public_met": None, "public_embargo_met": "pe", "ship_met": "ship", "nosuch_met": "missing",
            "public": "missing", "public_embargo": "missing", "public_met_zarr": "missing", "PUBLIC_MET": "missing"}
    for k, owner in keys.items():
        ok = owner not in ("missing",)
        out += [("GET", f"/datasets/{k}", {}, owner, ok), ("GET", f"/api/datasets/{k}", {}, owner, ok),
                ("GET", f"/datasets/{k}/quicklook/{k}_{DAY1}.png", {}, owner, ok),
                ("GET", f"/api/datasets/{k}/files/{k}_{DAY1}.nc", {}, owner, ok),
                ("HEAD", f"/api/datasets/{k}/files/{k}_{DAY1}.nc", {}, owner, ok),
                ("GET", f"/api/datasets/{k}/files/{k}_{DAY1}.nc", {"Range": "bytes=0-99"}, owner, ok),
                ("GET", f"/datasets/{k}/quicklook/{k}_{DAY1}.png", COND, owner, ok),
                ("OPTIONS", f"/api/datasets/{k}", {}, owner, False)]
        for f in FORMATS:
            out.append(("GET", f"/api/datasets/{k}/download?format={f}&{RANGE}", {}, owner, ok))
        out.append(("GET", f"/datasets/{k}/download?format=csv&{RANGE}&variables=AirTC_Avg", {}, owner, ok))
        out.append(("GET", f"/datasets/{k}/plot?variables=AirTC_Avg&{RANGE}", {}, owner, ok))
        out.append(("GET", f"/datasets/{k}/plotdata?variables=AirTC_Avg&{RANGE}&n=4", {}, owner, ok))
        # zarr mirror keys and STAC documents
        out += [("GET", f"/zarr/{k}.zarr/zarr.json", {}, owner, ok),
                ("GET", f"/zarr/{k}.zarr/AirTC_Avg/zarr.json", {}, owner, ok),
                ("GET", f"/zarr/{k}.zarr/AirTC_Avg/c/0", {}, owner, ok),
                ("HEAD", f"/zarr/{k}.zarr/zarr.json", {}, owner, ok),
                ("GET", f"/zarr/{k}.zarr/AirTC_Avg/c/0", {"Range": "bytes=0-15"}, owner, ok),
                ("GET", f"/zarr/{k}.zarr/zarr.json", COND, owner, ok),
                ("GET", f"/api/stac/{k}", {}, owner, ok), ("GET", f"/api/stac/{k}/items", {}, owner, ok),
                ("GET", f"/api/stac/{k}/items/{k}_{DAY1}", {}, owner, ok)]
    # traversal and odd names (never served for anyone)
    bad = [f"/datasets/public_met/quicklook/..%2fpublic_embargo_met%2fpublic_embargo_met_{DAY1}.png",
           f"/datasets/public_met/quicklook/%2e%2e%2fpublic_embargo_met%2fpublic_embargo_met_{DAY1}.png",
           f"/datasets/public_met/quicklook/%252e%252e%252fpublic_embargo_met_{DAY1}.png",
           f"/datasets/public_met/quicklook/..%5c..%5cpublic_embargo_met%5cpublic_embargo_met_{DAY1}.png",
           "/datasets/public_met/quicklook/%2fetc%2fpasswd", "/datasets/public_met/quicklook/C:%5cWindows%5cwin.ini",
           "/datasets/public_met/quicklook/public_met_20240311T000000_v1.png",  # symlink to an embargoed image
           "/datasets/public_met/quicklook/public_met.pdf",  # symlink to the full catalog
           f"/api/datasets/public_met/files/..%2f..%2fpublic_embargo_met%2f2024%2fpublic_embargo_met_{DAY1}.nc",
           "/api/datasets/public_met/files/%2e%2e%2f%2e%2e%2fcatalog.yaml",
           "/api/datasets/..%2fpublic_embargo_met", "/api/datasets/%2e%2e", "/datasets/public_met%00",
           "/static/..%2f..%2fsettings.py", "/static/%2e%2e%2fsite.py", "/static/crac.css%00.png",
           "/_bokeh/static/js/..%2f..%2f..%2f..%2fweb%2fsettings.py", "/_bokeh/static/%2fetc%2fpasswd",
           "/reports/public/..%2fpublic_embargo/x", "/reports/..%2fpublic_embargo/x/files/a.png",
           "/reports/public_embargo/..%2f..%2f..%2fcatalog.yaml", "/api/reports/public/%2e%2e",
           "/catalog.yaml", "/archive/catalog.yaml", "/state/web/sessions.json", "/api/catalog.yaml/../x",
           "/zarr/public_met.zarr/leak.json", "/zarr/public_met.zarr/Leak/zarr.json", "/zarr/public_met.zarr/Leak/c/0",
           "/zarr/public_met.zarr/..%2fpublic_embargo_met.zarr%2fzarr.json",
           "/zarr/public_met.zarr/%2e%2e%2fship_met.zarr%2fzarr.json", "/zarr/public_met.zarr/%252e%252e%252fzarr.json",
           "/zarr/public_met.zarr/AirTC_Avg%5c..%5c..%5cship_met.zarr%5czarr.json",
           "/zarr/public_met.zarr/%2fetc%2fpasswd",
           "/zarr/public_met.zarr/AirTC_Avg", "/zarr/public_met.zarr/", "/zarr/public_met.zarr",
           "/zarr/..%2fmirror%2fpublic_embargo_met.zarr/zarr.json", "/zarr/public_met.zarr/zarr.json%00",
           "/mirror/public_met.zarr/zarr.json", "/api/stac/..%2fpublic_embargo_met",
           "/api/stac/public_met/items/..%2f..%2fpublic_embargo_met", f"/api/stac/public_met/items/ship_met_{DAY1}",
           "/tiles/1/0/0.png", "/tiles/0/0/..%2f..%2f..%2fcatalog.yaml", "/tiles/1/2/0.png", "/tiles/9/0/0.png",
           "/tiles/01/0/0.png", "/tiles/1/0/0.png%00", "/tiles/-1/0/0.png"]
    out += [("GET", u, {}, "missing", False) for u in bad]
    for station, (rid, att) in rep.items():
        owner = "pe" if station == "public_embargo" else "ship"
        out += [("GET", f"/reports/{station}/{rid}", {}, owner, True),
                ("GET", f"/reports/{station}/{rid}?v=1", {}, owner, True),
                ("GET", f"/api/reports/{station}/{rid}", {}, owner, True),
                ("GET", f"/reports/{station}/{rid}/files/{att}", {}, owner, True),
                ("GET", f"/reports/public/{rid}", {}, "missing", False)]  # right id, wrong (public) station
    lists = ["/", "/files", "/files/datatable.txt", "/reports", "/api/datasets", "/api/stations", "/api/files",
             "/api/reports", "/api/catalog.yaml", "/static/crac.css", "/login", "/reports/new", "/account",
             "/api/stac", "/tiles/0/0/0.png", "/tiles/1/1/1.png"]
    for q in (wh.CANARY_TITLE, wh.CANARY_DATA, CANARY_SHIP, "Embargoed", "mast", "vessel", "public_embargo", "ship",
              "met"):
        lists += [f"/search?q={quote(q)}", f"/api/search?q={quote(q)}"]
    out += [("GET", u, {}, None, True) for u in lists]
    out += [("HEAD", u, {}, None, True) for u in ("/", "/api/datasets", "/files/datatable.txt")]
    return out


def _without_echo(url: str, body: bytes) -> bytes:
    """The body without the caller's own search words echoed back (search box, ``"q"`` of the JSON)."""
    if "search?q=" not in url:
        return body
    from urllib.parse import parse_qs, urlsplit

    q = parse_qs(urlsplit(url).query)["q"][0]
    if url.startswith("/api/"):
        import json

        doc = json.loads(body)
        assert doc.pop("q") == q
        return json.dumps(doc).encode()
    for echo in (f"Search: {q}</h1>", f'value="{q}"', "<title>Search"):
        body = body.replace(echo.encode(), b"")
    return body


def _missing_twin(url: str, owner: str) -> str:
    key = {"pe": "public_embargo_met", "ship": "ship_met"}[owner]
    station = {"pe": "public_embargo", "ship": "ship"}[owner]
    twin = url.replace(key, "nosuch_met")
    if twin == url:
        twin = url.replace(f"/{station}/", "/nosuchstation/")
    return twin


@pytest.mark.parametrize("dummy", [0])
def test_security_battery(app, web_project, clock, dummy, record_property):
    def new():
        return TestClient(app, raise_server_exceptions=True)

    ids = {name: new() for name in ("anonymous", "wrong_password", "wrong_token", "expired", "bob", "erin",
                                    "carol", "alice", "dave")}
    login(ids["alice"], "alice")
    login(ids["dave"], "dave")
    login(ids["bob"], "bob")
    login(ids["erin"], "erin")
    login(ids["carol"], "carol")
    assert login(ids["wrong_password"], "alice", "alice-pw2").status_code == 401
    ids["wrong_token"].headers["Authorization"] = "Bearer crac_" + "A" * 43
    real = clock.t
    clock.t = real - dt.timedelta(hours=9)  # sessions last 8 hours
    login(ids["expired"], "alice")
    clock.t = real
    rep = _plant(web_project, ids["alice"], ids["dave"])
    entitled = {"anonymous": set(), "wrong_password": set(), "wrong_token": set(), "expired": set(), "bob": set(),
                "erin": set(), "carol": set(), "alice": {"pe", "ship"}, "dave": {"ship"}}
    canaries = {"pe": (wh.CANARY_TITLE, wh.CANARY_DATA, wh.CANARY_REPORT), "ship": (CANARY_SHIP,)}
    reqs = _requests(rep)
    n = leaks = authorised = authorised_ok = 0
    failures, shared_cache = [], {}
    for who, c in ids.items():
        for method, url, headers, owner, ok in reqs:
            r = c.request(method, url, headers=headers)
            n += 1
            blob = _without_echo(url, r.content) + "".join(f"{k}:{v}" for k, v in r.headers.items()).encode()
            for grp, strings in canaries.items():
                if grp in entitled[who]:
                    continue
                for s in strings:
                    if s.encode() in blob or s.lower().encode() in blob.lower():
                        leaks += 1
                        failures.append(f"LEAK {s} -> {who} {method} {url} {r.status_code}")
            presents = who not in ("anonymous", "wrong_password")
            assert r.headers.get("cache-control") in (("private, no-store",) if presents else
                                                      ("no-cache", "public, max-age=3600", "public, max-age=86400")), \
                (who, url, r.headers.get("cache-control"))
            cc = r.headers.get("cache-control", "")
            if r.status_code == 200 and "no-store" not in cc and "private" not in cc:
                # what a caching proxy could replay to anyone
                shared_cache[(method, url)] = _without_echo(url, r.content)
            if owner in ("pe", "ship") and owner not in entitled[who]:
                twin = c.request(method, _missing_twin(url, owner), headers=headers)
                n += 1
                if comparable(r) != comparable(twin):
                    failures.append(f"ORACLE {who} {method} {url}: {r.status_code} vs missing {twin.status_code}")
            entitled_here = ok and (owner is None or owner in entitled[who])
            if entitled_here and who in ("alice", "dave"):
                authorised += 1
                if r.status_code in (200, 206, 303, 304) or (url == "/reports/new" and r.status_code == 200):
                    authorised_ok += 1
                else:
                    failures.append(f"DENIED {who} {method} {url} {r.status_code} {r.text[:200]}")
            elif owner == "missing" and r.status_code != 404 and method != "OPTIONS":
                failures.append(f"SERVED {who} {method} {url} {r.status_code}")
    for (_method, url), body in shared_cache.items():
        for strings in canaries.values():
            for s in strings:
                if s.encode() in body:
                    failures.append(f"CACHE {url} holds {s}")
    record_property("battery_requests", n)
    record_property("battery_leaks", leaks)
    record_property("battery_authorised", f"{authorised_ok}/{authorised}")
    print(f"\nsecurity battery: {n} requests, {leaks} canary leaks, authorised {authorised_ok}/{authorised} "
          f"succeeded, {len(shared_cache)} shared-cacheable answers checked")
    assert n >= 500
    assert not failures, "\n".join(failures[:40])
    assert leaks == 0 and authorised_ok == authorised and authorised > 0


# -- symbolic links that swap a public folder or file for an embargoed one ----------------------------------------
PLOT = f"plotdata?variables=AirTC_Avg&{RANGE}&n=4"
ZARR_KEYS = ("zarr.json", "AirTC_Avg/zarr.json", "AirTC_Avg/c/0")


def _clients(app):
    anon, alice = TestClient(app), TestClient(app)
    login(alice, "alice")
    return anon, alice


def _public_plot(anon, project) -> dict:
    """The anonymous plot data of ``public_met`` read from its own (current) mirror, before any link is planted."""
    wh.use_mirror(project)
    j = anon.get(f"/datasets/public_met/{PLOT}").json()
    assert j["source"] == "mirror"
    return j


def _looks_missing(client, key: str) -> None:
    r, missing = client.get(f"/zarr/public_met.zarr/{key}"), client.get(f"/zarr/nosuch_met.zarr/{key}")
    assert r.status_code == 404 and comparable(r) == comparable(missing), key


def test_a_mirror_folder_linked_to_an_embargoed_mirror_is_never_read(app, web_project):
    anon, alice = _clients(app)
    public = _public_plot(anon, web_project)
    assert alice.get(f"/datasets/public_embargo_met/{PLOT}").json()["y"] != public["y"]
    assert all(anon.get(f"/zarr/public_met.zarr/{k}").status_code == 200 for k in ZARR_KEYS)
    mirror = web_project.archive / "mirror"
    shutil.rmtree(mirror / "public_met.zarr")
    (mirror / "public_met.zarr").symlink_to("public_embargo_met.zarr")
    wh.use_mirror(web_project)  # through the link: the embargoed mirror is current for public_met's state
    for c in (anon, alice):
        for k in ZARR_KEYS:
            _looks_missing(c, k)
        j = c.get(f"/datasets/public_met/{PLOT}").json()
        assert j["source"] == "netcdf" and j["y"] == public["y"]
    assert alice.get("/zarr/public_embargo_met.zarr/zarr.json").status_code == 200  # the real folder still is


def test_a_chunk_linked_to_an_embargoed_chunk_is_never_read(app, web_project):
    anon, alice = _clients(app)
    public = _public_plot(anon, web_project)
    mirror = web_project.archive / "mirror"
    chunk, secret = (mirror / k / "AirTC_Avg" / "c" / "0" for k in ("public_met.zarr", "public_embargo_met.zarr"))
    chunk.unlink()
    chunk.symlink_to(secret)
    for c in (anon, alice):
        _looks_missing(c, "AirTC_Avg/c/0")
        assert c.get("/zarr/public_met.zarr/zarr.json").status_code == 200
        assert c.get("/zarr/public_met.zarr/RH/c/0").status_code == 200
        j = c.get(f"/datasets/public_met/{PLOT}").json()
        assert j["source"] == "netcdf" and j["y"] == public["y"]


@pytest.mark.parametrize("kind", ["quicklook", "products"])
def test_quicklook_and_product_folders_linked_to_embargoed_ones_serve_nothing(app, web_project, kind):
    anon, alice = _clients(app)
    folder = web_project.archive / kind
    name = f"2024/public_met_{DAY1}.nc" if kind == "products" else f"public_met_{DAY1}.png"
    url = (f"/api/datasets/public_met/files/public_met_{DAY1}.nc" if kind == "products"
           else f"/datasets/public_met/quicklook/public_met_{DAY1}.png")
    assert anon.get(url).status_code == 200
    embargoed = folder / "public_embargo_met" / name.replace("public_met", "public_embargo_met")
    assert wh.CANARY_DATA.encode() in embargoed.read_bytes()
    shutil.copyfile(embargoed, folder / "public_embargo_met" / name)  # embargoed bytes under the public name
    shutil.rmtree(folder / "public_met")
    (folder / "public_met").symlink_to("public_embargo_met")
    for c in (anon, alice):
        r = c.get(url)
        assert r.status_code == 404 and wh.CANARY_DATA.encode() not in r.content


DAYS = {DAY1: "start=2024-03-10T00:00&end=2024-03-11T00:00", DAY2: "start=2024-03-11T00:00&end=2024-03-12T00:00"}


def _no_canary(r) -> None:
    assert not any(c.encode() in r.content for c in wh.CANARIES), r.url


def _link_product(project, day: str) -> None:
    """Replace ``public_met``'s product of ``day`` by a link to the embargoed dataset's product of that day."""
    products = project.archive / "products"
    link = products / "public_met" / "2024" / f"public_met_{day}.nc"
    link.unlink()
    link.symlink_to(products / "public_embargo_met" / "2024" / f"public_embargo_met_{day}.nc")


@pytest.mark.parametrize("linked", [DAY1, DAY2])  # DAY2 is the newest product: the one read for the attributes
def test_a_product_file_linked_to_an_embargoed_product_is_never_read(app, web_project, monkeypatch, linked):
    monkeypatch.setattr(plotdata, "USE_MIRROR", False)  # the plot reads the NetCDF products
    anon, alice = _clients(app)
    kept = DAY2 if linked == DAY1 else DAY1
    plot = "/datasets/public_met/plotdata?variables=AirTC_Avg&n=4&"
    before = anon.get(plot + DAYS[kept]).json()
    assert before["source"] == "netcdf" and before["records"] > 0
    _link_product(web_project, linked)
    download = "/api/datasets/public_met/download?format="
    for c in (anon, alice):
        whole = [c.get(download + f) for f in FORMATS]
        alone = [c.get(f"{download}{f}&{DAYS[linked]}") for f in FORMATS]
        pages = [c.get(u) for u in ("/datasets/public_met", "/api/datasets/public_met", "/datasets/public_met/plot")]
        for r in whole + alone + pages:
            _no_canary(r)
        assert [r.status_code for r in whole + alone + pages] == [200] * 4 + [422] * 4 + [200] * 3
        assert pages[1].json()["variables"]["AirTC_Avg"]["units"] == "degC"  # attributes of the kept product
        times = xr.open_dataset(io.BytesIO(whole[-1].content), engine="h5netcdf")["time"].values
        assert times.size == before["records"] and np.all(times.astype("M8[D]") == times[0].astype("M8[D]"))
        assert c.get(plot + DAYS[linked]).json()["records"] == 0
        assert c.get(plot + DAYS[kept]).json() == before
        assert c.get(f"/api/datasets/public_met/files/public_met_{linked}.nc").status_code == 404
        assert c.get(f"/api/datasets/public_met/files/public_met_{kept}.nc").status_code == 200
