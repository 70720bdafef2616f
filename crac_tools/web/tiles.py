"""Offline map tiles: ``GET /tiles/{z}/{x}/{y}.png`` from the local folder ``serve.tiles``, and the station map.

A field LAN has no tile server: point ``serve.tiles`` in ``crac.yaml`` at a folder of XYZ (slippy map, Web
Mercator) tiles laid out as ``{z}/{x}/{y}.png`` (as written by most tile downloaders and ``gdal2tiles.py --xyz``).
The app serves them itself and draws the station map (:func:`tile_map`) on them: an SVG with one ``<image>`` per
tile and the stations placed in Web Mercator, so no JavaScript and no CDN is involved. Without ``serve.tiles``
(or without any tile for the stations' area) the map stays the plain coordinate plot.

Tiles are public (a background image holds no project data), but every tile is still served through the policy
(:meth:`Site.file` with the tile folder as root): ``z``, ``x`` and ``y`` must be plain integers with
``0 <= z <= 22`` and ``0 <= x, y < 2**z``, and the file must resolve inside the tile folder (a symbolic link out of
it answers 404). The map only ever uses the positions of the stations the caller may see, so neither its points
nor the tiles it asks for reveal an embargoed station.

Examples
--------
>>> mercator(0.0, 0.0, 0)
(128.0, 128.0)
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from .policy import SITE, Target
from .responses import begin
from .site import NotFound, Site

TILE = 256
MAX_ZOOM = 22
_LAT_MAX = 85.05112878
_INT = re.compile(r"0|[1-9][0-9]{0,6}")
#: Largest map drawn, in tile pixels (the SVG is shown 600 px wide).
_VIEW_W, _VIEW_H = 900, 600


def mercator(lat: float, lon: float, z: int) -> tuple[float, float]:
    """Web Mercator pixel coordinates of ``(lat, lon)`` at zoom ``z`` (256-pixel tiles).

    Examples
    --------
    >>> x, y = mercator(45.0, 90.0, 1)
    >>> round(x, 1), round(y, 1)
    (384.0, 184.2)
    """
    lat = max(-_LAT_MAX, min(_LAT_MAX, lat))
    n = TILE * 2**z
    x = (lon + 180.0) / 360.0 * n
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n
    return x, y


def _target(root: Path | None) -> Target:
    return dataclasses.replace(SITE, root=root)


def parse_tile(z: str, x: str, y: str) -> tuple[int, int, int] | None:
    """``(z, x, y)`` when they are plain integers of an existing tile address, else None.

    Examples
    --------
    >>> parse_tile("2", "3", "0"), parse_tile("2", "4", "0"), parse_tile("02", "1", "1"), parse_tile("1", "-1", "0")
    ((2, 3, 0), None, None, None)
    """
    if not all(isinstance(v, str) and _INT.fullmatch(v) for v in (z, x, y)):
        return None
    zi, xi, yi = int(z), int(x), int(y)
    if zi > MAX_ZOOM or xi >= 2**zi or yi >= 2**zi:
        return None
    return zi, xi, yi


def tile(request: Request) -> Response:
    """``GET /tiles/{z}/{x}/{y}.png``: one map tile of the local tile folder (404 when none is configured)."""
    site, ctx = begin(request)
    root = site.config.tiles
    zxy = parse_tile(request.path_params["z"], request.path_params["x"], request.path_params["y"])
    if zxy is None:
        site.site_page(ctx)
        raise NotFound
    z, x, y = zxy
    base = root if root is not None else site.archive / "tiles-not-configured"
    path = site.file(ctx, _target(root), base / str(z) / str(x) / f"{y}.png")  # root None: always refused
    if not path.is_file():
        raise NotFound
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})


def _zooms(root: Path) -> list[int]:
    try:
        return sorted(int(p.name) for p in root.iterdir()
                      if p.is_dir() and _INT.fullmatch(p.name) and int(p.name) <= MAX_ZOOM)
    except OSError:
        return []


def tile_map(site: Site, stations: list) -> dict[str, Any] | None:
    """The SVG map on local tiles for ``stations`` (already filtered by the policy), or None for the plain plot.

    Returns
    -------
    dict or None
        ``viewbox`` (x, y, width, height in tile pixels of zoom ``z``), ``tiles`` (``href``, ``x``, ``y``),
        ``points`` (``id``, ``name``, ``lat``, ``lon``, ``x``, ``y``), ``scale`` (tile pixels per displayed
        pixel, for marker sizes) and ``z``.

    Examples
    --------
    >>> tile_map(site, site.visible_stations(ctx))["z"]  # doctest: +SKIP
    7
    """
    root = site.config.tiles
    if root is None or not stations:
        return None
    zooms = _zooms(root)
    if not zooms:
        return None
    lats = [s.location.lat for s in stations]
    lons = [s.location.lon for s in stations]
    pad = max(0.05, 0.15 * max(max(lats) - min(lats), max(lons) - min(lons)))
    lat0, lat1 = min(lats) - pad, max(lats) + pad
    lon0, lon1 = min(lons) - pad, max(lons) + pad
    chosen = zooms[0]
    for z in zooms:  # the most detailed zoom at which the stations' area still fits the map
        x0, y1 = mercator(lat0, lon0, z)
        x1, y0 = mercator(lat1, lon1, z)
        if x1 - x0 <= _VIEW_W and y1 - y0 <= _VIEW_H:
            chosen = z
    z = chosen
    n = 2**z
    x0, y1 = mercator(lat0, lon0, z)
    x1, y0 = mercator(lat1, lon1, z)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w = max(x1 - x0, (y1 - y0) * 2, min(TILE * n, 2 * TILE))
    h = w / 2
    vx = cx - w / 2
    vy = max(0.0, min(cy - h / 2, TILE * n - h)) if h < TILE * n else 0.0
    tiles = []
    for ty in range(max(0, math.floor(vy / TILE)), min(n, math.floor((vy + h) / TILE) + 1)):
        for tx in range(math.floor(vx / TILE), math.floor((vx + w) / TILE) + 1):
            wx = tx % n  # wrap around the antimeridian
            if (root / str(z) / str(wx) / f"{ty}.png").is_file():
                tiles.append({"href": f"/tiles/{z}/{wx}/{ty}.png", "x": tx * TILE, "y": ty * TILE})
    if not tiles:
        return None
    points = []
    for s in stations:
        px, py = mercator(s.location.lat, s.location.lon, z)
        points.append({"id": s.id, "name": s.name or s.id, "lat": s.location.lat, "lon": s.location.lon,
                       "x": round(px, 2), "y": round(py, 2)})
    return {"z": z, "viewbox": [round(vx, 2), round(vy, 2), round(w, 2), round(h, 2)], "tiles": tiles,
            "points": points, "scale": round(w / 600, 4)}
