"""The field catalog app on a real archive: pages, downloads, reports, accounts, config reload, audit log."""

from __future__ import annotations

import datetime as dt
import io
import json

import h5netcdf
import pytest
import web_helpers as wh
from web_helpers import login

from crac_tools.errors import ConfigError


def test_catalog_pages_and_listing(client):
    r = client.get("/")
    assert r.status_code == 200 and "public_met" in r.text and "Public tower" in r.text
    assert "public_embargo_met" not in r.text and "ship_met" not in r.text
    assert '<svg id="map"' in r.text
    d = client.get("/api/datasets").json()["datasets"]
    assert [x["key"] for x in d] == ["public_met"]
    assert d[0]["records"] == 2880 and d[0]["files"] == 2 and d[0]["completeness"] == 100.0
    page = client.get("/datasets/public_met")
    assert page.status_code == 200 and "AirTC_Avg" in page.text
    assert "quicklook/public_met_20240310T000000_v1.png" in page.text
    png = client.get("/datasets/public_met/quicklook/public_met_20240310T000000_v1.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    table = client.get("/files/datatable.txt").text.splitlines()
    assert table[0].startswith("FILE NAME\tCODE") and len(table) == 3
    assert client.get("/search?q=tower").text.count("/datasets/public_met") >= 1
    assert client.get("/api/search?q=tower").json()["count"] == 1


def test_plot_page_uses_local_bokeh(client):
    r = client.get("/datasets/public_met/plot?variables=AirTC_Avg&variables=RH&start=2024-03-10T00:00")
    assert r.status_code == 200 and "Bokeh" in r.text
    scripts = [s.split('"')[0] for s in r.text.split('<script src="')[1:]]
    assert scripts and all(s.startswith("/_bokeh/static/js/") for s in scripts)
    js = client.get(scripts[0].split("?")[0])
    assert js.status_code == 200 and len(js.content) > 100_000
    assert client.get("/_bokeh/static/js/../../../../etc/passwd").status_code == 404


def test_downloads_in_every_format(client):
    base = "/datasets/public_met/download?start=2024-03-10T06:00&end=2024-03-10T07:00&variables=AirTC_Avg,RH"
    csv = client.get(base + "&format=csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[-1] == "# end of data: complete, 60 records"
    assert "# product_version: 1" in lines and any(x.startswith("# source_file: TOA5_public") for x in lines)
    assert "time,AirTC_Avg,RH" in lines
    ict = client.get(base + "&format=icartt")
    assert ict.status_code == 200 and ict.text.startswith("") and "1001, V02_2016" in ict.text.splitlines()[0]
    assert "attachment" in ict.headers["content-disposition"] and ".ict" in ict.headers["content-disposition"]
    na = client.get(base + "&format=nasa_ames")
    assert na.status_code == 200 and ".na" in na.headers["content-disposition"]
    nc = client.get(base + "&format=netcdf")
    assert nc.status_code == 200
    with h5netcdf.File(io.BytesIO(nc.content), "r") as f:
        assert f.dimensions["time"].size == 60 and set(f.variables) >= {"AirTC_Avg", "RH", "time"}
        assert f.attrs["download_dataset"] == "public_met" and str(f.attrs["product_version"]) == "1"
        assert "download_selection" in f.attrs


def test_download_errors(client, web_project):
    r = client.get("/datasets/public_met/download?format=csv")  # two days, every variable: over the 5 MB? no
    assert r.status_code == 200
    big = client.get("/api/datasets/public_met/download?format=netcdf&variables=AirTC_Avg")
    assert big.status_code == 200
    cfg = web_project.path
    cfg.write_text(cfg.read_text().replace("download_limit_mb: 5", "download_limit_mb: 0.1"))
    r = client.get("/api/datasets/public_met/download?format=csv")
    assert r.status_code == 413 and "0.1 MB" in r.json()["error"] and "serve.download_limit_mb" in r.json()["error"]
    r = client.get("/datasets/public_met/download?format=csv")
    assert r.status_code == 413 and "download limit of 0.1 MB" in r.text
    assert client.get("/api/datasets/public_met/download?format=xls").status_code == 400
    r = client.get("/api/datasets/public_met/download?variables=nope&start=2024-03-10T06:00&end=2024-03-10T06:10")
    assert r.status_code == 400 and "AirTC_Avg" in r.json()["error"]
    assert client.get("/api/datasets/public_met/download?start=yesterday-ish").status_code == 400
    assert client.get("/api/datasets/public_met/download?start=2020-01-01&end=2020-01-02").status_code == 422


def test_lat_lon_box_for_moving_platform(client):
    login(client, "dave")
    url = ("/api/datasets/ship_met/download?format=csv&variables=AirTC_Avg,Lat,Lon"
           "&lat_min=-9.5&lat_max=-9&lon_min=70&lon_max=75")
    r = client.get(url)
    assert r.status_code == 200, r.text
    rows = [x for x in r.text.splitlines() if x and not x.startswith("#")][1:]
    lats = [float(x.split(",")[2]) for x in rows]
    assert rows and min(lats) >= -9.5 and max(lats) <= -9.0 and len(rows) < 2880
    assert r.text.endswith(f"# end of data: complete, {len(rows)} records\n")
    far = client.get(url.replace("lat_min=-9.5&lat_max=-9", "lat_min=40&lat_max=50"))
    assert far.status_code == 422
    # a fixed station inside the box: every record; outside: none
    assert client.get("/api/datasets/public_met/download?format=csv&start=2024-03-10T06:00&end=2024-03-10T06:10"
                      "&lat_min=45&lat_max=46&lon_min=7&lon_max=8").status_code == 200
    assert client.get("/api/datasets/public_met/download?format=csv&start=2024-03-10T06:00&end=2024-03-10T06:10"
                      "&lat_min=0&lat_max=1&lon_min=7&lon_max=8").status_code == 422


def test_reports_versions_and_attachments(client, web_project):
    assert client.get("/reports/new", follow_redirects=False).status_code == 303
    assert client.post("/reports", data={"station": "public"}).status_code == 401
    login(client, "bob")
    form = client.get("/reports/new").text
    csrf = form.split('name="csrf" value="')[1].split('"')[0]
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    data = {"csrf": csrf, "station": "public", "kind": "status", "date": "2024-03-10", "title": "Sonic heater",
            "body": "Heater failed at 06:00.\nReplaced fuse."}
    bad = client.post("/reports", data={**data, "csrf": "x"})
    assert bad.status_code == 403
    r = client.post("/reports", data=data, files=[("attachments", ("C:\\cam\\mast top.PNG", png, "image/png"))],
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    station, rid = url.split("/")[2:4]
    page = client.get(url)
    assert "Replaced fuse." in page.text and "mast_top.png" in page.text
    att = client.get(f"{url}/files/mast_top.png")
    assert att.status_code == 200 and att.content == png and att.headers["content-type"] == "image/png"
    r2 = client.post("/reports", data={**data, "report_id": rid, "body": "Fuse replaced again."},
                     follow_redirects=False)
    assert r2.status_code == 303
    assert "version 2 of 2" in client.get(url).text and "Replaced fuse." in client.get(url + "?v=1").text
    files = sorted(p.name for p in (web_project.archive / "reports" / station / rid).iterdir())
    assert files == ["files", "v1.md", "v2.md"]
    head = (web_project.archive / "reports" / station / rid / "v2.md").read_text()
    assert head.startswith("---\ntitle: Sonic heater\n") and "author: bob" in head
    # a fake PNG, a script and a report on an embargoed station are refused
    evil = client.post("/reports", data=data, files=[("attachments", ("x.png", b"<script>", "image/png"))])
    assert evil.status_code == 400 and "not a PNG" in evil.text
    assert client.post("/reports", data={**data, "station": "ship"}).status_code == 404
    listing = client.get("/api/reports").json()["reports"]
    assert [x["id"] for x in listing] == [rid] and listing[0]["version"] == 2


def test_login_logout_password_change_and_tokens(client, app, clock):
    assert login(client, "alice", "wrong").status_code == 401
    r = login(client, "alice")
    assert r.status_code == 303 and "HttpOnly" in r.headers["set-cookie"] and "samesite=strict" in \
        r.headers["set-cookie"].lower()
    assert client.get("/datasets/public_embargo_met").status_code == 200
    acct = client.get("/account").text
    csrf = acct.split('name="csrf" value="')[1].split('"')[0]
    page = client.post("/account", data={"csrf": csrf, "action": "token", "label": "laptop"}).text
    token = page.split('id="new-token">')[1].split("<")[0]
    from starlette.testclient import TestClient

    script = TestClient(app)
    hdr = {"Authorization": f"Bearer {token}"}
    assert script.get("/api/datasets/public_embargo_met", headers=hdr).status_code == 200
    assert script.get("/api/datasets/public_embargo_met", headers={"Authorization": "Bearer nope"}).status_code \
        == 404
    old_cookie = client.cookies.get("crac_session")
    r = client.post("/account", data={"csrf": csrf, "action": "password", "current": "alice-pw",
                                      "new": "a-longer-password"}, follow_redirects=False)
    assert r.status_code == 303
    # the old session and the token are revoked
    other = TestClient(app)
    other.cookies.set("crac_session", old_cookie)
    assert other.get("/datasets/public_embargo_met").status_code == 404
    assert script.get("/api/datasets/public_embargo_met", headers=hdr).status_code == 404
    assert login(TestClient(app), "alice", "a-longer-password").status_code == 303
    # logout deletes the session on the server
    c2 = TestClient(app)
    login(c2, "bob")
    sid = c2.cookies.get("crac_session")
    csrf2 = c2.get("/account").text.split('name="csrf" value="')[1].split('"')[0]
    c2.post("/logout", data={"csrf": csrf2})
    c3 = TestClient(app)
    c3.cookies.set("crac_session", sid)
    assert "id=\"whoami\"" not in c3.get("/").text
    # sessions expire
    c4 = TestClient(app)
    login(c4, "alice", "a-longer-password")
    assert c4.get("/datasets/public_embargo_met").status_code == 200
    clock.t = clock.t + dt.timedelta(hours=8, seconds=1)
    assert c4.get("/datasets/public_embargo_met").status_code == 404


def test_failed_logins_are_slowed(client, clock):
    for _ in range(3):
        assert login(client, "bob", "guess").status_code == 401
    r = login(client, "bob")  # even the right password waits out the back-off
    assert r.status_code == 429 and "try again in 2 s" in r.text
    clock.t += dt.timedelta(seconds=2)
    assert login(client, "bob", "guess").status_code == 401
    assert login(client, "bob").status_code == 429  # doubled: 4 s now
    clock.t += dt.timedelta(seconds=4)
    assert login(client, "bob").status_code == 303


def test_release_edited_while_running_and_release_instant(client, web_project, clock, app):
    cfg = web_project.path
    assert client.get("/api/datasets/public_embargo_met").status_code == 404
    release = dt.datetime(2025, 6, 1, 12, 0, 10, tzinfo=dt.UTC)
    wh.add_serve_section(cfg, release=release)
    clock.t = release - dt.timedelta(seconds=1)
    assert client.get("/api/datasets/public_embargo_met").status_code == 404
    clock.t = release
    r = client.get("/api/datasets/public_embargo_met")
    assert r.status_code == 200 and wh.CANARY_TITLE in r.text
    events = [e["event"] for e in app.state.site.audit.read()]
    assert "embargo-changed" in events and "release" in events
    # moved back into the future while running: hidden again at once
    wh.add_serve_section(cfg, release=release + dt.timedelta(days=1))
    assert client.get("/api/datasets/public_embargo_met").status_code == 404


def test_bad_policy_fails_startup_and_closes_a_running_server(web_project, client):
    from crac_tools.web.app import create_app

    cfg = web_project.path
    good = cfg.read_text()
    for bad in [good.replace("preliminary: true", "preliminery: true", 1),
                good.replace("members: [alice]", "members: [alicee]", 1),
                good.replace("dataset: public_embargo_met", "dataset: public_embargo", 1),
                good.replace("release: 2030-01-01T00:00:00+00:00", "release: 2030-01-01T00:00:00", 1),
                good.replace('alice: {roles: [pi], password_hash: "', 'alice: {roles: [pi], password_hash: "x', 1)]:
        assert bad != good
        cfg.write_text(bad)
        with pytest.raises(ConfigError):
            create_app(web_project)
        r = client.get("/api/datasets")
        assert r.status_code == 503 and wh.CANARY_TITLE not in r.text
    cfg.write_text(good)
    assert client.get("/api/datasets").status_code == 200


def test_audit_log_records_downloads(client, app):
    client.get("/api/datasets/public_met/download?format=csv&start=2024-03-10T06:00&end=2024-03-10T06:10")
    login(client, "bob", "nope")
    ev = app.state.site.audit.read()
    dl = [e for e in ev if e["event"] == "download"]
    assert dl and dl[-1]["dataset"] == "public_met" and dl[-1]["records"] == 10 and dl[-1]["user"] is None
    assert any(e["event"] == "login-failed" and e["user"] == "bob" for e in ev)
    assert all(json.dumps(e) for e in ev)


def test_headers(client):
    anon = client.get("/")
    assert anon.headers["cache-control"] == "no-cache" and "Cookie" in anon.headers["vary"]
    assert "default-src 'self'" in anon.headers["content-security-policy"]
    login(client, "alice")
    for url in ["/", "/api/datasets", "/datasets/public_met/quicklook/public_met_20240310T000000_v1.png",
                "/api/datasets/public_met/download?format=csv&start=2024-03-10T06:00&end=2024-03-10T06:10"]:
        assert client.get(url).headers["cache-control"] == "private, no-store", url
