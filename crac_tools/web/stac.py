"""A STAC 1.0 catalog of what the caller may see, made per request: ``/api/stac``.

=========================================  ========================================================================
``GET /api/stac``                          Catalog: the project, one ``child`` link per visible dataset
``GET /api/stac/{key}``                    Collection of one dataset: extent, providers, ``item`` links, zarr asset
``GET /api/stac/{key}/items``              every Item of the dataset as a GeoJSON FeatureCollection
``GET /api/stac/{key}/items/{item}``       Item of one product period: NetCDF file, quick-look PNG, zarr mirror
=========================================  ========================================================================

Every document is built from :meth:`Site.visible` / :meth:`Site.dataset`, so it names only datasets the policy
lets the caller see: an embargoed dataset is absent from the catalog and its collection and items answer the same
404 as a missing one. Links are absolute (``serve.public_url`` when set, else the request's address); assets point
to this server's own routes, which ask the policy again. No credentials are ever written into a document: scripts
send their token as an ``Authorization`` header with every request (e.g. ``pystac.StacIO`` with headers).

Examples
--------
>>> import httpx  # doctest: +SKIP
>>> cat = httpx.get("https://data.example.org/api/stac", headers={"Authorization": f"Bearer {token}"}).json()
... # doctest: +SKIP
>>> [link["href"] for link in cat["links"] if link["rel"] == "child"]  # doctest: +SKIP
['https://data.example.org/api/stac/bravo_met']
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .datasets import Dataset, Period
from .policy import active_rules
from .responses import base_url, begin
from .site import Ctx, NotFound, Site
from .zarr_store import has_mirror, zarr_url

STAC_VERSION = "1.0.0"
MEDIA_JSON = "application/json"
MEDIA_GEOJSON = "application/geo+json"
MEDIA_NETCDF = "application/x-netcdf"
MEDIA_ZARR = "application/vnd+zarr"
_SPDX = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,63}")


def iso(t: pd.Timestamp | None) -> str | None:
    """A timestamp of the archive (naive UTC) as STAC wants it (RFC 3339, ``Z``).

    Examples
    --------
    >>> iso(pd.Timestamp("2024-03-10 06:00"))
    '2024-03-10T06:00:00Z'
    """
    if t is None:
        return None
    t = pd.Timestamp(t)
    t = t.tz_convert("UTC").tz_localize(None) if t.tzinfo else t
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _license(site: Site) -> str:
    lic = (site.project.config.project.license or "").strip()
    return lic if _SPDX.fullmatch(lic) else "proprietary"


def _bbox(d: Dataset) -> list[float]:
    loc = d.station.location
    return [loc.lon, loc.lat, loc.lon, loc.lat]


def item_id(p: Period) -> str:
    """The STAC Item id of a product period: its file name without suffix.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from pathlib import Path
    >>> item_id(SimpleNamespace(path=Path("/a/products/s1_met/2024/s1_met_20240310T000000_v1.nc")))
    's1_met_20240310T000000_v1'
    """
    return p.path.stem


def _links(base: str, *pairs: tuple[str, str, str]) -> list[dict]:
    return [{"rel": rel, "href": base + href, "type": media} for rel, href, media in pairs]


def _zarr_asset(site: Site, d: Dataset, base: str, mirror: bool | None = None) -> dict[str, dict]:
    if not (has_mirror(site, d) if mirror is None else mirror):
        return {}
    return {"zarr": {"href": zarr_url(base, d), "type": MEDIA_ZARR, "roles": ["data"],
                     "title": f"{d.title}: zarr mirror (every period on a regular time grid)"}}


def catalog_doc(site: Site, ctx: Ctx, base: str) -> dict[str, Any]:
    """The root Catalog: one child link per dataset the caller may see.

    Examples
    --------
    >>> catalog_doc(site, ctx, "https://data.example.org")["type"]  # doctest: +SKIP
    'Catalog'
    """
    info = site.project.config.project
    children = [{"rel": "child", "href": f"{base}/api/stac/{d.key}", "type": MEDIA_JSON, "title": d.title}
                for d in site.visible(ctx)]
    return {"type": "Catalog", "stac_version": STAC_VERSION, "id": info.name,
            "title": info.title or info.name,
            "description": info.summary or f"Datasets of {info.title or info.name} served by the field catalog",
            "links": _links(base, ("root", "/api/stac", MEDIA_JSON), ("self", "/api/stac", MEDIA_JSON)) + children}


def collection_doc(site: Site, ctx: Ctx, d: Dataset, base: str) -> dict[str, Any]:
    """The Collection of dataset ``d`` (the caller must be allowed to see ``d``).

    Examples
    --------
    >>> collection_doc(site, ctx, site.dataset(ctx, "bravo_met"), base)["extent"]  # doctest: +SKIP
    {'spatial': {'bbox': [[7.25, 45.5, 7.25, 45.5]]}, 'temporal': {'interval': [['2024-03-10T00:00:00Z', ...]]}}
    """
    info = site.project.config.project
    start, end = d.coverage
    here = f"/api/stac/{d.key}"
    items = [{"rel": "item", "href": f"{base}{here}/items/{item_id(p)}", "type": MEDIA_GEOJSON}
             for p in d.periods]
    providers = [{"name": n, "roles": roles} for n, roles in
                 ((info.institution, ["producer", "licensor"]), (site.config.contact, ["host"])) if n]
    rules = active_rules(d.target, ctx.now)
    releases = [r.release_utc() for r in rules]
    doc = {"type": "Collection", "stac_version": STAC_VERSION, "id": d.key, "title": d.title,
           "description": d.description or d.title, "license": _license(site),
           "keywords": list(info.keywords) + [d.station.product],
           "providers": providers,
           "extent": {"spatial": {"bbox": [_bbox(d)]}, "temporal": {"interval": [[iso(start), iso(end)]]}},
           "summaries": {"crac:station": [d.station.id], "crac:product": [d.station.product],
                         "crac:versions": d.versions},
           "crac:records": d.records, "crac:files": len(d.periods),
           "crac:embargoed_until": (None if not rules else "never" if any(r is None for r in releases)
                                    else iso(pd.Timestamp(max(releases)))),
           "assets": _zarr_asset(site, d, base),
           "links": _links(base, ("root", "/api/stac", MEDIA_JSON), ("parent", "/api/stac", MEDIA_JSON),
                           ("self", here, MEDIA_JSON), ("items", f"{here}/items", MEDIA_GEOJSON),
                           ("describedby", f"/api/datasets/{d.key}", MEDIA_JSON),
                           ("alternate", f"/datasets/{d.key}", "text/html")) + items}
    return doc


def item_doc(site: Site, d: Dataset, p: Period, base: str, mirror: bool | None = None) -> dict[str, Any]:
    """The Item of one product period of ``d`` (the caller must be allowed to see ``d``); ``mirror`` says
    whether ``d`` has a zarr mirror (None: look), so a list of items looks once.

    Examples
    --------
    >>> sorted(item_doc(site, d, d.periods[0], base)["assets"])  # doctest: +SKIP
    ['data', 'overview', 'zarr']
    """
    loc = d.station.location
    iid = item_id(p)
    here = f"/api/stac/{d.key}/items/{iid}"
    assets = {"data": {"href": f"{base}/api/datasets/{d.key}/files/{p.path.name}", "type": MEDIA_NETCDF,
                       "roles": ["data"], "title": f"{p.path.name} (NetCDF4, product version {p.version})"}}
    look = p.path.stem + ".png"
    if (site.archive / "quicklook" / d.key / look).is_file():
        assets["overview"] = {"href": f"{base}/datasets/{d.key}/quicklook/{look}", "type": "image/png",
                              "roles": ["overview", "visual"], "title": "quick-look"}
    assets.update(_zarr_asset(site, d, base, mirror))
    return {"type": "Feature", "stac_version": STAC_VERSION, "id": iid, "collection": d.key,
            "geometry": {"type": "Point", "coordinates": [loc.lon, loc.lat]}, "bbox": _bbox(d),
            "properties": {"title": f"{d.title} {iso(p.start)} to {iso(p.end)}", "datetime": None,
                           "start_datetime": iso(p.start), "end_datetime": iso(p.end),
                           "crac:records": p.records, "crac:completeness": p.completeness, "crac:gaps": p.gaps,
                           "crac:version": p.version, "crac:station": d.station.id,
                           "crac:altitude": loc.alt},
            "assets": assets,
            "links": _links(base, ("root", "/api/stac", MEDIA_JSON), ("parent", f"/api/stac/{d.key}", MEDIA_JSON),
                            ("collection", f"/api/stac/{d.key}", MEDIA_JSON), ("self", here, MEDIA_GEOJSON))}


def _json(doc: dict, media: str = MEDIA_JSON) -> Response:
    return JSONResponse(doc, media_type=media)


def catalog(request: Request) -> Response:
    """``GET /api/stac``: the root Catalog of what the caller may see."""
    site, ctx = begin(request)
    return _json(catalog_doc(site, ctx, base_url(site, request)))


def collection(request: Request) -> Response:
    """``GET /api/stac/{key}``: one dataset's Collection (404 when missing or not visible)."""
    site, ctx = begin(request)
    d = site.dataset(ctx, request.path_params["key"])
    return _json(collection_doc(site, ctx, d, base_url(site, request)))


def items(request: Request) -> Response:
    """``GET /api/stac/{key}/items``: every Item of one dataset as a FeatureCollection."""
    site, ctx = begin(request)
    d = site.dataset(ctx, request.path_params["key"])
    base = base_url(site, request)
    mirror = has_mirror(site, d)
    feats = [item_doc(site, d, p, base, mirror) for p in d.periods]
    return _json({"type": "FeatureCollection", "features": feats, "numberReturned": len(feats),
                  "links": _links(base, ("root", "/api/stac", MEDIA_JSON),
                                  ("collection", f"/api/stac/{d.key}", MEDIA_JSON),
                                  ("self", f"/api/stac/{d.key}/items", MEDIA_GEOJSON))}, MEDIA_GEOJSON)


def item(request: Request) -> Response:
    """``GET /api/stac/{key}/items/{item}``: the Item of one product period."""
    site, ctx = begin(request)
    d = site.dataset(ctx, request.path_params["key"])
    wanted = request.path_params["item"]
    match = [p for p in d.periods if item_id(p) == wanted]  # exact id of one of the dataset's own files
    if len(match) != 1:
        raise NotFound
    return _json(item_doc(site, d, match[0], base_url(site, request)), MEDIA_GEOJSON)
