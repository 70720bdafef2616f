"""Every route of the app goes through the policy; the intake catalog works over HTTP; publish and CLI."""

from __future__ import annotations

import shutil

import pytest
import web_helpers as wh
from starlette.routing import Route
from starlette.testclient import TestClient
from web_helpers import login

import crac_tools.web.policy as policy_module

DAY1 = "20240310T000000_v1"
#: One request per route: path parameters filled with real values. A route missing here fails the test.
SAMPLES = {
    "/": "/", "/search": "/search?q=tower", "/datasets/{key}": "/datasets/public_met",
    "/datasets/{key}/plot": "/datasets/public_met/plot?variables=AirTC_Avg&start=2024-03-10T06:00&end=2024-03-10T07:00",
    "/datasets/{key}/plotdata": "/datasets/public_met/plotdata?variables=AirTC_Avg&start=2024-03-10T06:00&n=50",
    "/datasets/{key}/quicklook/{name}": f"/datasets/public_met/quicklook/public_met_{DAY1}.png",
    "/datasets/{key}/download": "/datasets/public_met/download?format=csv&start=2024-03-10T06:00&end=2024-03-10T06:10",
    "/files": "/files", "/files/datatable.txt": "/files/datatable.txt", "/reports": "/reports",
    "/reports/new": "/reports/new", "/reports/{station}/{rid}": "/reports/public/{rid}",
    "/reports/{station}/{rid}/files/{name}": "/reports/public/{rid}/files/a.png",
    "/login": "/login", "/logout": "/logout", "/account": "/account", "/static/{path}": "/static/crac.css",
    "/_bokeh/static/{path:path}": "/_bokeh/static/js/bokeh.min.js", "/api/datasets": "/api/datasets",
    "/api/datasets/{key}": "/api/datasets/public_met",
    "/api/datasets/{key}/download": "/api/datasets/public_met/download?format=icartt&start=2024-03-10T06:00"
                                    "&end=2024-03-10T06:10",
    "/api/datasets/{key}/files/{name}": f"/api/datasets/public_met/files/public_met_{DAY1}.nc",
    "/api/stations": "/api/stations", "/api/search": "/api/search?q=tower", "/api/files": "/api/files",
    "/api/reports": "/api/reports", "/api/reports/{station}/{rid}": "/api/reports/public/{rid}",
    "/api/catalog.yaml": "/api/catalog.yaml",
    "/api/stac": "/api/stac", "/api/stac/{key}": "/api/stac/public_met",
    "/api/stac/{key}/items": "/api/stac/public_met/items",
    "/api/stac/{key}/items/{item}": f"/api/stac/public_met/items/public_met_{DAY1}",
    "/zarr/{key}.zarr/{path:path}": "/zarr/public_met.zarr/AirTC_Avg/c/0",
    "/tiles/{z}/{x}/{y}.png": "/tiles/0/0/0.png",  # no serve.tiles here: refused by the policy (no root)
}


def test_every_route_asks_the_policy(app, monkeypatch):
    client = TestClient(app)
    login(client, "alice")
    csrf = client.get("/reports/new").text.split('name="csrf" value="')[1].split('"')[0]
    r = client.post("/reports", data={"csrf": csrf, "station": "public", "kind": "note", "date": "2024-03-10",
                                      "title": "t", "body": "b"},
                    files=[("attachments", ("a.png", b"\x89PNG\r\n\x1a\n", "image/png"))], follow_redirects=False)
    rid = r.headers["location"].split("/")[-1]
    calls = []
    real = policy_module.allowed

    def counting(*args, **kw):
        calls.append(args[0])
        return real(*args, **kw)

    monkeypatch.setattr(policy_module, "allowed", counting)
    routes = [r for r in app.routes if isinstance(r, Route)]
    assert len(routes) >= 25
    for route in routes:
        assert route.path in SAMPLES, f"route {route.path} has no sample request in this test: add one"
        url = SAMPLES[route.path].format(rid=rid)
        for method in sorted(route.methods - {"HEAD"}):
            calls.clear()
            data = {"csrf": csrf, "username": "alice", "password": "alice-pw", "action": "none"} \
                if method == "POST" else None
            resp = client.request(method, url, data=data, follow_redirects=False)
            assert resp.status_code < 500, (route.path, resp.status_code)
            assert calls, f"{method} {route.path} answered without asking crac_tools.web.policy.allowed"


def test_intake_catalog_over_http(app):
    import intake

    from crac_tools.catalog import entry_names

    site = app.state.site
    token = site.auth.new_token("alice", "test", site.clock())
    with wh.LiveServer(app) as srv:
        anon = intake.from_yaml_file(f"{srv.url}/api/catalog.yaml")
        assert entry_names(anon) == ["public_met"]
        ds = anon["public_met"].read()
        assert ds.sizes["time"] == 2880 and "AirTC_Avg" in ds
        cat = intake.open_catalog(f"{srv.url}/api/catalog.yaml",
                                  storage_options={"headers": {"Authorization": f"Bearer {token}"}})
        assert sorted(entry_names(cat)) == ["public_embargo_met", "public_met", "ship_met"]
        emb = cat["public_embargo_met"].read()
        assert wh.CANARY_DATA in emb["AirTC_Avg"].attrs["long_name"]


def test_publish_writes_only_what_is_public(web_project, tmp_path):
    import datetime as dt

    from crac_tools.web.publish import publish

    out = publish(web_project, tmp_path / "mirror", now=wh.NOW)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert "index.html" in files and f"data/public_met/public_met_{DAY1}.nc" in files
    assert not any("public_embargo" in f or "ship" in f for f in files)
    for p in out.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            assert not any(c.encode() in data for c in wh.CANARIES), p
    assert not any(p.is_symlink() for p in out.rglob("*"))
    # after the release instant the embargoed dataset is in the mirror (the ship stays until 2031)
    out = publish(web_project, tmp_path / "mirror", now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert (out / "datasets" / "public_embargo_met.html").is_file()
    assert not (out / "datasets" / "ship_met.html").exists()
    with pytest.raises(ValueError):
        publish(web_project, web_project.archive / "public")


def test_cli(web_project, tmp_path):
    from click.testing import CliRunner

    from crac_tools.config import ProjectConfig
    from crac_tools.web_cli import publish, serve

    runner = CliRunner()
    assert "--set-password" in runner.invoke(serve, ["--help"]).output
    r = runner.invoke(serve, ["--hash-password"], input="s3cret-pw\ns3cret-pw\n")
    assert r.exit_code == 0 and r.output.strip().splitlines()[-1].startswith("scrypt$")
    assert "serve" in ProjectConfig.model_fields
    cfg = str(web_project.path)
    r = runner.invoke(publish, [str(tmp_path / "pub"), "--config", cfg])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "pub" / "index.html").is_file()
    r = runner.invoke(serve, ["--config", cfg, "--new-token", "bob"])
    assert r.exit_code == 0 and r.output.strip().startswith("crac_")
    r = runner.invoke(serve, ["--config", cfg, "--set-password", "bob"], input="new-password\nnew-password\n")
    assert r.exit_code == 0, r.output
    shutil.rmtree(tmp_path / "pub")
