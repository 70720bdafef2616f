"""The JSON API for scripts (``/api/...``), the shared download route and the per-user intake catalog.

Scripts authenticate with ``Authorization: Bearer <token>`` (``crac serve --new-token USER`` or the account
page). Every answer holds only what the caller may see; embargoed and missing things get the same 404.

=====================================  ===============================================================
``GET /api/datasets``                  visible datasets (coverage, completeness, gaps, versions)
``GET /api/datasets/{key}``            metadata: global attributes, variables, periods
``GET /api/datasets/{key}/download``   subset: ``format start end variables lat_min lat_max lon_min lon_max``
``GET /api/datasets/{key}/files/{f}``  one product file (NetCDF4, ranges supported)
``GET /api/stations``                  visible stations with positions
``GET /api/search?q=``                 datasets whose names or metadata contain every word
``GET /api/files``                     the file catalog table
``GET /api/reports``                   reports of visible stations; ``/api/reports/{station}/{id}`` one
``GET /api/catalog.yaml``              intake catalog of exactly what the caller may see
``GET /api/stac``                      STAC 1.0 catalog of the same (:mod:`crac_tools.web.stac`)
``GET /zarr/{key}.zarr/{zarr key}``    the dataset's zarr mirror, read-only (:mod:`crac_tools.web.zarr_store`)
=====================================  ===============================================================
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from ..export import ExportError
from . import reports as rep
from .datasets import numeric_variables
from .downloads import (
    FORMATS,
    BadRequest,
    TooLarge,
    check_size,
    completion_line,
    parse_selection,
    provenance_lines,
    render,
    select_data,
)
from .pages import _summary, file_rows, search_datasets
from .responses import base_url, begin, error, private_json
from .site import NotFound
from .zarr_store import has_mirror, zarr_url


async def download(request: Request) -> Response:
    """Deliver a subset of a dataset in the asked format (HTML and API share this route)."""
    site, ctx = begin(request)
    d = site.dataset(ctx, request.path_params["key"])
    try:
        sel = parse_selection(request.query_params)
    except BadRequest as exc:
        return error(request, exc.status, str(exc))
    info = site.attrs(ctx, d)
    available = numeric_variables(info)
    unknown = [v for v in sel.variables if v not in available]
    if unknown:
        return error(request, 400, f"unknown variable(s) {', '.join(unknown)}; {d.key} has {', '.join(available)}")
    variables = list(sel.variables) or [v for v in available if v != "RECORD"]
    who = ctx.user.name if ctx.user else None
    audit = {"user": who, "dataset": d.key, "format": sel.fmt, "selection": sel.describe()}
    try:
        check_size(d, sel, len(variables), site.config.download_limit_mb)
    except TooLarge as exc:
        site.audit.write("download-refused", ctx.now, reason="too large", **audit)
        return error(request, 413, str(exc))
    periods = site.products(ctx, d, sel.start, sel.end)
    try:
        data = await run_in_threadpool(select_data, d, periods, sel, variables)
        prov = provenance_lines(d, periods, sel, who, ctx.now, str(request.url.replace(query="")))
        body, name = await run_in_threadpool(render, d, sel, data, prov)
    except BadRequest as exc:
        return error(request, exc.status, str(exc))
    except (ExportError, ValueError) as exc:
        return error(request, 422, f"cannot deliver {sel.fmt}: {exc}")
    records = int(data.sizes["time"])
    site.audit.write("download", ctx.now, records=records, bytes=len(body), file=name, **audit)
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if sel.fmt == "csv":
        tail = completion_line(records)

        def chunks():
            for i in range(0, len(body), 65536):
                yield body[i:i + 65536]
            yield tail

        return StreamingResponse(chunks(), media_type="text/csv; charset=us-ascii", headers=headers)
    return Response(body, media_type=FORMATS[sel.fmt][0], headers=headers)


def datasets(request: Request) -> Response:
    site, ctx = begin(request)
    return private_json({"datasets": [_summary(site, d, ctx) for d in site.visible(ctx)]})


def dataset(request: Request) -> Response:
    site, ctx = begin(request)
    d = site.dataset(ctx, request.path_params["key"])
    info = site.attrs(ctx, d)
    periods = [{"start": p.start.isoformat(), "end": p.end.isoformat(), "file": p.path.name, "records": p.records,
                "completeness": p.completeness, "gaps": p.gaps, "version": p.version} for p in d.periods]
    return private_json({**_summary(site, d, ctx), "station": {"id": d.station.id, "name": d.station.name,
                                                               "lat": d.station.location.lat,
                                                               "lon": d.station.location.lon,
                                                               "alt": d.station.location.alt},
                         "attrs": info["attrs"], "variables": info["variables"], "periods": periods,
                         "formats": list(FORMATS),
                         "zarr": zarr_url(base_url(site, request), d) if has_mirror(site, d) else None,
                         "stac": f"{base_url(site, request)}/api/stac/{d.key}"})


def product_file(request: Request) -> Response:
    site, ctx = begin(request)
    d = site.dataset(ctx, request.path_params["key"])
    name = request.path_params["name"]
    match = [p.path for p in site.products(ctx, d) if p.path.name == name]  # exact name of a readable file
    if len(match) != 1:
        raise NotFound
    site.audit.write("download", ctx.now, user=ctx.user.name if ctx.user else None, dataset=d.key, file=name,
                     format="product")
    return FileResponse(match[0], media_type="application/x-netcdf")


def stations(request: Request) -> Response:
    site, ctx = begin(request)
    return private_json({"stations": [{"id": s.id, "name": s.name or s.id, "lat": s.location.lat,
                                       "lon": s.location.lon, "alt": s.location.alt}
                                      for s in site.visible_stations(ctx)]})


def search(request: Request) -> Response:
    site, ctx = begin(request)
    q = request.query_params.get("q", "")
    found = search_datasets(site, ctx, q)
    return private_json({"q": q, "count": len(found), "datasets": [_summary(site, d, ctx) for d in found]})


def files(request: Request) -> Response:
    site, ctx = begin(request)
    return private_json({"files": file_rows(site, ctx)})


def _report_json(r: rep.Report, body: bool = False) -> dict:
    out = {"station": r.station, "id": r.rid, "version": r.version, "versions": r.versions, "kind": r.kind,
           "date": r.date, "title": r.title, "author": r.author, "created": r.created,
           "attachments": list(r.attachments)}
    if body:
        out["body"] = r.body
    return out


def reports(request: Request) -> Response:
    site, ctx = begin(request)
    sts = [s.id for s in site.visible_stations(ctx)]
    return private_json({"reports": [_report_json(r) for r in rep.list_reports(site.archive, sts)]})


def report(request: Request) -> Response:
    site, ctx = begin(request)
    st = site.station(ctx, request.path_params["station"])
    r = rep.read_report(site.archive, st.id, request.path_params["rid"])
    if r is None:
        raise NotFound
    return private_json(_report_json(r, body=True))


def _catalog_text(doc_meta: dict, readers: list) -> str:
    import tempfile

    from intake.readers.entry import Catalog

    cat = Catalog(metadata=doc_meta)
    for name, reader in readers:
        cat.aliases[name] = cat.add_entry(reader, name=name)
    with tempfile.TemporaryDirectory(prefix="crac-cat-") as tmp:
        path = f"{tmp}/catalog.yaml"
        cat.to_yaml_file(path)
        with open(path, encoding="utf-8") as fh:
            return fh.read()


def intake_catalog(request: Request) -> Response:
    """An intake 2 catalog of exactly the datasets the caller may see, read over HTTP from this server.

    Entries read the product files through ``/api/datasets/{key}/files/{name}``; when the caller used a token,
    each entry carries it as an ``Authorization`` header (the catalog is then as secret as the token). An entry's
    metadata names the dataset's zarr mirror URL (``zarr_url``, for ``xr.open_zarr``) when it has one.
    """
    from intake.readers.datatypes import HDF5
    from intake.readers.readers import XArrayDatasetReader

    from ..catalog import NETCDF_FILE_KWARGS, NETCDF_SET_KWARGS

    site, ctx = begin(request)
    base = base_url(site, request)
    storage = {"headers": {"Authorization": f"Bearer {ctx.token}"}} if ctx.token else None
    readers = []
    for d in site.visible(ctx):
        urls = [f"{base}/api/datasets/{d.key}/files/{p.path.name}" for p in d.periods]
        if not urls:
            continue
        meta = {"description": d.description, "kind": "netcdf", "station_id": d.station.id,
                "station_name": d.station.name or d.station.id, "lat": d.station.location.lat,
                "lon": d.station.location.lon, "alt": d.station.location.alt}
        if has_mirror(site, d):
            meta["zarr_url"] = zarr_url(base, d)
        kw = {k: v for k, v in (NETCDF_SET_KWARGS if len(urls) > 1 else NETCDF_FILE_KWARGS).items()
              if k != "open_local"}
        data = HDF5(urls if len(urls) > 1 else urls[0], storage_options=storage)
        readers.append((d.key, XArrayDatasetReader(data, metadata=meta, **kw)))
    info = site.project.config.project
    text = _catalog_text({"name": info.name, "description": info.title or info.name, "served_by": base,
                          "for_user": ctx.user.name if ctx.user else "anonymous"}, readers)
    return Response(text, media_type="application/x-yaml",
                    headers={"Content-Disposition": 'inline; filename="catalog.yaml"'})
