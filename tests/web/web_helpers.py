"""Build a tiny real archive (simulated TOA5 -> collect -> ingest -> catalog -> quicklook) for the web tests.

Stations (1-minute weather, two days each):

* ``public``          no embargo
* ``public_embargo``  dataset-level embargo (member ``alice``), canary strings in its name and column metadata
* ``ship``            a moving platform (Lat/Lon columns), station-level embargo for role ``CAMPAIGN_private``
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from crac_tools.catalog_project import build_catalog
from crac_tools.collect.run import collect_project
from crac_tools.simulate import met_columns, write_toa5
from crac_tools.templates import project_yaml

DAY = pd.Timestamp("2024-03-10")
#: Strings planted in embargoed data, titles and reports: none may ever reach an unauthorised caller.
CANARY_TITLE = "CANARYTITLE7f3a"
CANARY_DATA = "CANARYDATA9b1c"
CANARY_REPORT = "CANARYREPORT5d2e"
CANARY_SHIP = "CANARYSHIP4c8d"
CANARIES = (CANARY_TITLE, CANARY_DATA, CANARY_REPORT, CANARY_SHIP)
_PNG_CANARY = {"public_embargo_met": CANARY_DATA, "ship_met": CANARY_SHIP}
#: The release instant of the ``public_embargo`` dataset (in the future of the frozen test clock).
RELEASE = pd.Timestamp("2030-01-01T00:00:00Z").to_pydatetime()
#: The frozen "now" of the tests (before RELEASE).
NOW = pd.Timestamp("2025-06-01T12:00:00Z").to_pydatetime()

STATIONS = {
    "public": {"name": "Public tower", "lat": 45.5, "lon": 7.25, "columns": ""},
    "public_embargo": {"name": f"Embargoed mast {CANARY_TITLE}", "lat": 46.0, "lon": 8.0,
                       "columns": f"columns:\n  AirTC_Avg: {{long_name: 'air temperature {CANARY_DATA}', "
                                  f"units: degC}}\n"},
    "ship": {"name": "Research vessel", "lat": -10.0, "lon": 70.0,
             "columns": "columns:\n  Lat: {standard_name: latitude, units: degrees_north}\n"
                        "  Lon: {standard_name: longitude, units: degrees_east}\n"},
}


def serve_yaml(release=RELEASE) -> str:
    """The ``serve:`` section of the test project (password hashes made with cheap scrypt parameters)."""
    from crac_tools.web.auth import hash_password

    def h(pw: str) -> str:
        return hash_password(pw, n=2**10)

    return f"""
serve:
  session_hours: 8
  download_limit_mb: 5
  login_max_failures: 3
  login_backoff_seconds: 2
  users:
    alice: {{roles: [pi], password_hash: "{h('alice-pw')}"}}
    bob: {{roles: [student], password_hash: "{h('bob-pw')}"}}
    carol: {{roles: [CAMPAIGN], password_hash: "{h('carol-pw')}"}}
    dave: {{roles: [CAMPAIGN_private], password_hash: "{h('dave-pw')}"}}
    erin: {{roles: [otherproject], password_hash: "{h('erin-pw')}"}}
  embargo:
    - dataset: public_embargo_met
      preliminary: true
      release: {pd.Timestamp(release).isoformat()}
      members: [alice]
    - station: ship
      preliminary: true
      release: 2031-01-01T00:00:00+12:00
      roles: [CAMPAIGN_private]
      members: [alice]
"""


def build_archive(root: Path, client=None) -> Path:
    """Write the project into ``root``, run collect/ingest/catalog/quicklook, return ``crac.yaml``."""
    from crac_tools.pipeline import ingest

    root.mkdir(parents=True, exist_ok=True)
    (root / "stations").mkdir(exist_ok=True)
    cfg = root / "crac.yaml"
    cfg.write_text(project_yaml(name="testproj", title="Test project"))
    times = pd.date_range(DAY, periods=2 * 1440, freq="1min")
    for i, (sid, st) in enumerate(STATIONS.items()):
        (root / "field" / sid).mkdir(parents=True, exist_ok=True)
        (root / "stations" / f"{sid}.yaml").write_text(
            f"id: {sid}\nname: {st['name']}\nlocation: {{lat: {st['lat']}, lon: {st['lon']}, alt: 10}}\n"
            f"instruments: [{{name: logger, model: CR1000X}}]\nproduct: met\nformat: toa5\ninterval: 1min\n"
            f"sources: [field/{sid}/*.dat]\n" + st["columns"])
        cols = met_columns(times, seed=i + 1, nan_fraction=0.01)
        if sid == "ship":
            n = len(times)
            cols["Lat"] = (np.linspace(-10.0, -8.0, n).astype("f4"), "degrees", "Smp")
            cols["Lon"] = (np.linspace(70.0, 72.0, n).astype("f4"), "degrees", "Smp")
        write_toa5(root / "field" / sid / f"TOA5_{sid}.Met.dat", times, cols, station=sid, table="Met")
    collect_project(cfg)
    report = ingest(cfg, client=client, run_record="pytest-web")
    assert report.ok, report.summary()
    build_catalog(cfg)
    _quicklooks(cfg)
    return cfg


def _quicklooks(cfg: Path) -> None:
    """One real quick-look PNG, copied to every period (drawing them all takes ~3 s each on a busy machine);
    the copies of embargoed datasets carry a canary after the PNG end chunk (image viewers ignore it)."""
    from crac_tools.plot import write_quicklook_png
    from crac_tools.store import open_product

    archive = cfg.parent / "archive"
    products = sorted((archive / "products").rglob("*.nc"))
    first = next(p for p in products if p.name.startswith("public_met_"))
    png = write_quicklook_png(open_product(first), archive / "quicklook" / "public_met" / (first.stem + ".png"))
    data = png.read_bytes()
    for p in products:
        key = p.parent.parent.name
        out = archive / "quicklook" / key / (p.stem + ".png")
        out.parent.mkdir(parents=True, exist_ok=True)
        if out != png:
            out.write_bytes(data + _PNG_CANARY.get(key, "").encode())


def add_serve_section(cfg: Path, release=RELEASE) -> None:
    """Append (or replace) the ``serve:`` section of ``crac.yaml``."""
    text = cfg.read_text()
    text = text.split("\nserve:\n")[0].rstrip("\n") + "\n"
    cfg.write_text(text + serve_yaml(release))


class LiveServer:
    """The app under uvicorn in a background thread on 127.0.0.1:<free port>."""

    def __init__(self, app) -> None:
        import socket
        import threading

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class Clock:
    """A frozen, settable clock (timezone-aware)."""

    def __init__(self, now) -> None:
        self.t = now

    def __call__(self):
        return self.t


def use_mirror(project, key: str = "public_met") -> None:
    """Mark the copied mirror as current (the fixture rewrites the ingest state after copying it)."""
    meta = project.archive / "mirror" / f"{key}.zarr" / "zarr.json"
    later = (project.archive / "state" / "ingest" / f"{key}.json").stat().st_mtime_ns + 10**9
    os.utime(meta, ns=(later, later))


def comparable(r) -> tuple:
    """Status, body and headers of a response, without those that differ between two identical answers."""
    skip = {"date", "content-length", "server"}
    return r.status_code, r.content, sorted((k, v) for k, v in r.headers.items() if k not in skip)


def login(client, user: str, password: str | None = None):
    """Log ``client`` in (password defaults to ``<user>-pw``); returns the response."""
    return client.post("/login", data={"username": user, "password": password or f"{user}-pw"},
                       follow_redirects=False)


def make_tiles(root: Path, max_zoom: int = 3) -> Path:
    """A tiny XYZ tile set (every tile of zooms 0..max_zoom, one colour per zoom) written as real PNGs."""
    from PIL import Image

    for z in range(max_zoom + 1):
        buf = io.BytesIO()
        Image.new("RGB", (256, 256), (180, 200 + 10 * z, 230)).save(buf, format="PNG")
        for x in range(2**z):
            folder = root / str(z) / str(x)
            folder.mkdir(parents=True, exist_ok=True)
            for y in range(2**z):
                (folder / f"{y}.png").write_bytes(buf.getvalue())
    return root


def set_tiles(cfg: Path, folder: Path | str) -> None:
    """Add ``serve.tiles`` to ``crac.yaml``."""
    text = cfg.read_text()
    assert "\nserve:\n" in text
    cfg.write_text(text.replace("\nserve:\n", f"\nserve:\n  tiles: {folder}\n", 1))
