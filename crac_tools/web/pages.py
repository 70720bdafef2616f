"""HTML pages: catalog, search, dataset, interactive plot, quick-looks, file table, reports, login, account."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

from . import plotdata
from . import reports as rep
from .auth import SESSION_COOKIE
from .datasets import Dataset, numeric_variables, utc
from .downloads import FORMATS
from .responses import begin, error, not_found, render
from .site import HERE, Ctx, NotFound, Site
from .tiles import tile_map


def _fmt(t) -> str:
    return "" if t is None else t.strftime("%Y-%m-%d %H:%M")


def _summary(site: Site, d: Dataset, ctx: Ctx) -> dict:
    from .policy import active_rules

    start, end = d.coverage
    rules = active_rules(d.target, ctx.now)
    rel = [r.release_utc() for r in rules]
    return {"key": d.key, "title": d.title, "station": d.station.id, "product": d.station.product,
            "start": _fmt(start), "end": _fmt(end), "files": len(d.periods), "records": d.records,
            "completeness": None if d.completeness is None else round(100 * d.completeness, 1),
            "gaps": sum(p.gaps for p in d.periods), "versions": d.versions,
            "embargoed_until": ("never" if any(r is None for r in rel) else max(rel).strftime("%Y-%m-%d %H:%M UTC"))
            if rules else None,
            "description": d.description}


def _map_points(stations) -> list[dict]:
    if not stations:
        return []
    lats = [s.location.lat for s in stations]
    lons = [s.location.lon for s in stations]
    la0, la1, lo0, lo1 = min(lats), max(lats), min(lons), max(lons)
    pad_la, pad_lo = max(1.0, (la1 - la0) * 0.15), max(1.0, (lo1 - lo0) * 0.15)
    la0, la1, lo0, lo1 = la0 - pad_la, la1 + pad_la, lo0 - pad_lo, lo1 + pad_lo
    return [{"id": s.id, "name": s.name or s.id, "lat": s.location.lat, "lon": s.location.lon,
             "x": round(40 + 520 * (s.location.lon - lo0) / (lo1 - lo0), 1),
             "y": round(20 + 260 * (la1 - s.location.lat) / (la1 - la0), 1),
             "box": [la0, la1, lo0, lo1]} for s in stations]


def index(request: Request) -> Response:
    site, ctx = begin(request)
    datasets = site.visible(ctx)
    stations = site.visible_stations(ctx)
    return render(request, "index.html", datasets=[_summary(site, d, ctx) for d in datasets],
                  stations=stations, points=_map_points(stations), tilemap=tile_map(site, stations))


def _matches(site: Site, ctx: Ctx, d: Dataset, q: str) -> bool:
    info = site.attrs(ctx, d)
    hay = " ".join([d.key, d.title, d.description, str(d.metadata), str(info.get("attrs", {})),
                    " ".join(info.get("variables", {}))]).lower()
    return all(w in hay for w in q.lower().split())


def search_datasets(site: Site, ctx: Ctx, q: str) -> list[Dataset]:
    """Visible datasets whose names or metadata contain every word of ``q``."""
    q = q.strip()[:200]
    return [d for d in site.visible(ctx) if q and _matches(site, ctx, d, q)]


def search(request: Request) -> Response:
    site, ctx = begin(request)
    q = request.query_params.get("q", "")
    found = search_datasets(site, ctx, q)
    return render(request, "search.html", q=q, datasets=[_summary(site, d, ctx) for d in found])


def _readable_attrs(attrs: dict) -> list[tuple[str, str]]:
    out = []
    for k, v in attrs.items():
        if k in ("source_files",):
            continue
        out.append((k, ", ".join(map(str, v)) if isinstance(v, list) else str(v)))
    return out


def dataset_page(request: Request) -> Response:
    site, ctx = begin(request)
    d = site.dataset(ctx, request.path_params["key"])
    info = site.attrs(ctx, d)
    qdir = site.archive / "quicklook" / d.key
    looks = []
    for p in d.periods:
        png = qdir / (p.path.stem + ".png")
        if png.is_file():
            looks.append({"name": png.name, "start": _fmt(p.start)})
    st = d.station
    reports = rep.list_reports(site.archive, [st.id]) if _station_visible(site, ctx, st) else []
    return render(request, "dataset.html", d=_summary(site, d, ctx), station=st, attrs=_readable_attrs(info["attrs"]),
                  variables=info["variables"], numeric=numeric_variables(info), periods=d.periods, looks=looks,
                  reports=reports[:20], formats=list(FORMATS), source_files=str(info["attrs"].get("source_files", "")))


def _station_visible(site: Site, ctx: Ctx, st) -> bool:
    try:
        site.station(ctx, st.id)
    except NotFound:
        return False
    return True


def quicklook(request: Request) -> Response:
    site, ctx = begin(request)
    d = site.dataset(ctx, request.path_params["key"])
    name = request.path_params["name"]
    wanted = {p.path.stem + ".png" for p in d.periods} | {f"{d.key}.pdf"}
    if name not in wanted:  # only names derived from the dataset's own files, never a path from the URL
        raise NotFound
    folder = site.archive / "quicklook" / d.key
    path = site.file(ctx, d.files_target(folder), folder / name)
    return FileResponse(path, media_type="application/pdf" if name.endswith(".pdf") else "image/png")


async def plot_page(request: Request) -> Response:
    """The interactive plot: chosen variables over a chosen range, read and reduced by :mod:`.plotdata`."""
    site, ctx = begin(request)
    d = site.dataset(ctx, request.path_params["key"])
    info = site.attrs(ctx, d)
    numeric, chosen = plotdata.chosen_variables(request, info)
    try:
        start = utc(request.query_params.get("start"), "start")
        end = utc(request.query_params.get("end"), "end")
    except ValueError as exc:
        return error(request, 400, str(exc))
    series = await run_in_threadpool(plotdata.plot_series, site, ctx, d, chosen, start, end, plotdata.N_BINS)
    script = div = ""
    js: list[str] = []
    if series.records and chosen:
        script, div, js = await run_in_threadpool(plotdata.bokeh_view, d, info, series, chosen)
    return render(request, "plot.html", d=_summary(site, d, ctx), numeric=numeric, chosen=chosen,
                  start=request.query_params.get("start", ""), end=request.query_params.get("end", ""),
                  n=series.records, detail=plotdata.describe(series), script=script, div=div, js=js)


def bokeh_static(request: Request) -> Response:
    from bokeh.util.paths import static_path

    site, ctx = begin(request)
    root = Path(static_path())
    rel = request.path_params["path"]
    if not re.fullmatch(r"(js|css|lib)/[A-Za-z0-9_./@-]+", rel) or ".." in rel:
        raise NotFound
    path = site.file(ctx, _static_target(root), root / rel)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


def _static_target(root: Path):
    import dataclasses

    from .policy import SITE

    return dataclasses.replace(SITE, root=root)


def app_static(request: Request) -> Response:
    site, ctx = begin(request)
    root = HERE / "static"
    rel = request.path_params["path"]
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", rel):
        raise NotFound
    path = site.file(ctx, _static_target(root), root / rel)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


# -- the file catalog table (as the ESPO archive's datatable.txt) ----------------------------------------
def file_rows(site: Site, ctx: Ctx) -> list[dict]:
    """One row per product file of every visible dataset."""
    contact = site.config.contact or site.project.config.project.pi_email or site.project.config.project.pi or ""
    rows = []
    for d in site.visible(ctx):
        for p in d.periods:
            rows.append({"file": p.path.name, "code": d.key, "folder": f"products/{d.key}/{p.start.year}",
                         "contact": contact, "description": f"{d.title}, {_fmt(p.start)} to {_fmt(p.end)} UTC, "
                                                            f"{p.records} records, version {p.version}",
                         "dataset": d.key})
    return rows


def files_page(request: Request) -> Response:
    site, ctx = begin(request)
    return render(request, "files.html", rows=file_rows(site, ctx))


def datatable(request: Request) -> Response:
    site, ctx = begin(request)
    lines = ["FILE NAME\tCODE\tFOLDER\tCONTACT\tDESCRIPTION"]
    lines += ["\t".join(r[k] for k in ("file", "code", "folder", "contact", "description"))
              for r in file_rows(site, ctx)]
    return PlainTextResponse("\n".join(lines) + "\n",
                             headers={"Content-Disposition": 'attachment; filename="datatable.txt"'})


# -- reports ---------------------------------------------------------------------------------------------
def reports_page(request: Request) -> Response:
    site, ctx = begin(request)
    stations = site.visible_stations(ctx)
    return render(request, "reports.html", reports=rep.list_reports(site.archive, [s.id for s in stations]),
                  stations=stations)


def report_form(request: Request) -> Response:
    site, ctx = begin(request)
    site.site_page(ctx)
    if ctx.user is None:
        return RedirectResponse("/login?" + urlencode({"next": "/reports/new"}), 303)
    return render(request, "report_new.html", stations=site.visible_stations(ctx), kinds=rep.KINDS,
                  today=ctx.now.date().isoformat(), station=request.query_params.get("station", ""), message="")


async def report_create(request: Request) -> Response:
    site, ctx = begin(request)
    site.site_page(ctx)
    if ctx.user is None:
        return error(request, 401, "log in to file a report")
    limit = int(site.config.upload_limit_mb * 1e6)
    form = await request.form(max_files=10, max_fields=50, max_part_size=limit + 1024)
    if not site.auth.check_csrf(ctx.sid, form.get("csrf")):
        return error(request, 403, "the form expired; reload the page and submit again")
    st = site.station(ctx, str(form.get("station", "")))
    files = []
    for f in form.getlist("attachments"):
        if hasattr(f, "read") and getattr(f, "filename", ""):
            files.append((f.filename, await f.read()))
    rid = str(form.get("report_id") or "") or None
    if rid is not None and rep.read_report(site.archive, st.id, rid) is None:
        raise NotFound
    try:
        rid, version = rep.write_report(site.archive, st.id, str(form.get("kind", "")), str(form.get("date", "")),
                                        str(form.get("title", "")), str(form.get("body", "")), ctx.user.name,
                                        ctx.now, rid=rid, attachments=files, upload_limit=limit)
    except rep.ReportError as exc:
        return render(request, "report_new.html", status=400, stations=site.visible_stations(ctx), kinds=rep.KINDS,
                      today=ctx.now.date().isoformat(), station=st.id, message=str(exc))
    site.audit.write("report", ctx.now, user=ctx.user.name, station=st.id, report=rid, version=version)
    return RedirectResponse(f"/reports/{st.id}/{rid}", 303)


def report_page(request: Request) -> Response:
    site, ctx = begin(request)
    st = site.station(ctx, request.path_params["station"])
    v = request.query_params.get("v")
    version = int(v) if v and v.isdigit() and len(v) < 7 else None
    r = rep.read_report(site.archive, st.id, request.path_params["rid"], version)
    if r is None:
        raise NotFound
    return render(request, "report.html", r=r, station=st)


def report_attachment(request: Request) -> Response:
    site, ctx = begin(request)
    st = site.station(ctx, request.path_params["station"])
    path = rep.attachment_path(site.archive, st.id, request.path_params["rid"], request.path_params["name"])
    if path is None:
        raise NotFound
    path = site.file(ctx, site.station_target(st), path)
    ctype = rep.ATTACHMENT_TYPES[path.suffix.lower()][0]
    return FileResponse(path, media_type=ctype, headers={"Content-Disposition": f'attachment; filename="{path.name}"'})


# -- login, logout, account ------------------------------------------------------------------------------
def _next(value: str | None) -> str:
    v = str(value or "/")
    return v if v.startswith("/") and not v.startswith("//") and "\\" not in v and len(v) < 500 else "/"


def login_form(request: Request) -> Response:
    site, ctx = begin(request)
    site.site_page(ctx)
    return render(request, "login.html", next=_next(request.query_params.get("next")), message="")


async def login(request: Request) -> Response:
    site, ctx = begin(request)
    site.site_page(ctx)
    form = await request.form(max_files=0, max_fields=10)
    name, password = str(form.get("username", ""))[:64], str(form.get("password", ""))[:1024]
    address = request.client.host if request.client else "?"
    wait = site.auth.retry_after(name, address, ctx.now)
    if wait > 0:
        site.audit.write("login-throttled", ctx.now, user=name, address=address)
        return render(request, "login.html", status=429, next=_next(form.get("next")),
                      message=f"Too many failed logins: try again in {math.ceil(wait)} s.")
    sid = await run_in_threadpool(site.auth.login, name, password, address, ctx.now)
    if sid is None:
        site.audit.write("login-failed", ctx.now, user=name, address=address)
        return render(request, "login.html", status=401, next=_next(form.get("next")),
                      message="Wrong user name or password.")
    site.audit.write("login", ctx.now, user=name, address=address)
    resp = RedirectResponse(_next(form.get("next")), 303)
    resp.set_cookie(SESSION_COOKIE, sid, max_age=int(site.config.session_hours * 3600), httponly=True,
                    samesite="strict", secure=request.url.scheme == "https", path="/")
    return resp


async def logout(request: Request) -> Response:
    site, ctx = begin(request)
    site.site_page(ctx)
    form = await request.form(max_files=0, max_fields=5)
    if ctx.sid and site.auth.check_csrf(ctx.sid, form.get("csrf")):
        site.auth.logout(ctx.sid)
        site.audit.write("logout", ctx.now, user=ctx.user.name)
    resp = RedirectResponse("/", 303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


def account(request: Request) -> Response:
    site, ctx = begin(request)
    site.site_page(ctx)
    if ctx.user is None or ctx.via != "session":
        return RedirectResponse("/login?next=/account", 303)
    return render(request, "account.html", tokens=site.auth.tokens_of(ctx.user.name), new_token="", message="")


async def account_post(request: Request) -> Response:
    site, ctx = begin(request)
    site.site_page(ctx)
    if ctx.user is None or ctx.via != "session":
        return error(request, 401, "log in first")
    form = await request.form(max_files=0, max_fields=10)
    if not site.auth.check_csrf(ctx.sid, form.get("csrf")):
        return error(request, 403, "the form expired; reload the page and submit again")
    action = form.get("action")
    name = ctx.user.name
    if action == "password":
        from .auth import verify_password

        if not verify_password(str(form.get("current", "")), site.auth._hash_of(name)):
            return render(request, "account.html", status=400, tokens=site.auth.tokens_of(name), new_token="",
                          message="The current password is wrong.")
        try:
            site.auth.set_password(name, str(form.get("new", "")), ctx.now)
        except ValueError as exc:
            return render(request, "account.html", status=400, tokens=site.auth.tokens_of(name), new_token="",
                          message=str(exc))
        site.audit.write("password-changed", ctx.now, user=name)
        resp = RedirectResponse("/login?next=/account", 303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp
    if action == "token":
        token = site.auth.new_token(name, str(form.get("label", "script"))[:80], ctx.now)
        site.audit.write("token-created", ctx.now, user=name)
        return render(request, "account.html", tokens=site.auth.tokens_of(name), new_token=token, message="")
    if action == "revoke":
        site.auth.revoke_token(name, str(form.get("token_id", ""))[:20])
        return RedirectResponse("/account", 303)
    return error(request, 400, "unknown action")


def today(ctx: Ctx) -> str:
    """The caller's current UTC date."""
    return ctx.now.astimezone(dt.UTC).date().isoformat()


__all__ = ["account", "account_post", "app_static", "bokeh_static", "dataset_page", "datatable", "files_page",
           "index", "login", "login_form", "logout", "not_found", "plot_page", "quicklook", "report_attachment",
           "report_create", "report_form", "report_page", "reports_page", "search"]
