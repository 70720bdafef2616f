"""``crac publish DIR``: a static public mirror (HTML + data files) of what is public at this instant.

Only what :func:`crac_tools.web.policy.allowed` grants an anonymous caller *now* is written: dataset pages,
product files, quick-looks, the file table and the reports of public stations. The mirror is built in a
temporary folder beside ``DIR`` and swapped in, so a mirror never mixes an old and a new state; run it again
after a release date (e.g. from cron) to add what became public.

Examples
--------
>>> publish(load_project("demo"), "public_mirror")  # doctest: +SKIP
PosixPath('public_mirror')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..config import Project
from ..fsutil import fsync_dir
from . import policy
from . import reports as rep
from .datasets import Registry, now_utc, readable_periods
from .settings import load_serve_config
from .site import HERE


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)  # copies content; a link in the archive never becomes a link in the mirror


def publish(project: Project, out_dir: str | os.PathLike, now: dt.datetime | None = None) -> Path:
    """Write the public mirror of ``project`` into ``out_dir`` (replacing an earlier mirror there).

    Parameters
    ----------
    project
        The loaded project (its ``serve:`` section holds the embargo declarations).
    out_dir
        The mirror folder; must not be inside the archive (nor contain it).
    now
        The instant that decides what is public (default: the system clock).

    Returns
    -------
    Path
        ``out_dir``.

    Examples
    --------
    >>> publish(project, "/srv/www/campaign", now=dt.datetime(2025, 3, 1, tzinfo=dt.UTC))  # doctest: +SKIP
    PosixPath('/srv/www/campaign')
    """
    now = now or now_utc()
    out = Path(out_dir).resolve()
    archive = project.archive
    if out == archive or out.is_relative_to(archive) or archive.is_relative_to(out):
        raise ValueError(f"the mirror {out} must be outside the archive {archive}")
    cfg = load_serve_config(project)
    registry = Registry(project, lambda: cfg.embargo)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.crac-tmp-", dir=out.parent))
    try:
        datasets = [d for _, d in sorted(registry.datasets().items())
                    if policy.allowed(d.target, None, None, now)]
        rows, summaries = [], []
        for d in datasets:
            files = readable_periods(d, None, now)
            for p in files:
                _copy(p.path, tmp / "data" / d.key / p.path.name)
                rows.append("\t".join([p.path.name, d.key, f"data/{d.key}", cfg.contact or "",
                                       f"{d.title}, {p.start:%Y-%m-%d %H:%M} to {p.end:%Y-%m-%d %H:%M} UTC, "
                                       f"{p.records} records, version {p.version}"]))
            qdir = archive / "quicklook" / d.key
            looks = []
            for p in d.periods:
                png = qdir / (p.path.stem + ".png")
                if png.is_file() and policy.allowed(d.files_target(qdir), png, None, now):
                    _copy(png, tmp / "quicklook" / d.key / png.name)
                    looks.append(png.name)
            info = registry.attrs(files)
            summaries.append({"key": d.key, "title": d.title, "start": str(d.coverage[0]), "end": str(d.coverage[1]),
                              "records": d.records, "files": [p.path.name for p in files]})
            page = env.get_template("publish_dataset.html").render(
                d=d, files=files, looks=looks, attrs=sorted(info["attrs"].items()), variables=info["variables"],
                project=project.config.project, generated=now)
            (tmp / "datasets").mkdir(exist_ok=True)
            (tmp / "datasets" / f"{d.key}.html").write_text(page, encoding="utf-8")
        stations = [s for s in project.stations if policy.allowed(registry.station_target(s), None, None, now)]
        reports = rep.list_reports(archive, sorted({s.id for s in stations}))
        for r in reports:
            target = dataclasses.replace(registry.station_target(project.station(r.station)))
            src = archive / "reports" / r.station / r.rid / f"v{r.version}.md"
            if policy.allowed(target, src, None, now):
                _copy(src, tmp / "reports" / r.station / f"{r.rid}.md")
        (tmp / "index.html").write_text(env.get_template("publish_index.html").render(
            datasets=datasets, stations=stations, reports=reports, project=project.config.project, generated=now),
            encoding="utf-8")
        (tmp / "datatable.txt").write_text("FILE NAME\tCODE\tFOLDER\tCONTACT\tDESCRIPTION\n"
                                           + "".join(r + "\n" for r in rows), encoding="ascii", errors="replace")
        (tmp / "catalog.json").write_text(json.dumps({"generated": now.isoformat(), "datasets": summaries},
                                                     indent=1), encoding="utf-8")
        _copy(HERE / "static" / "crac.css", tmp / "static" / "crac.css")
        for p in tmp.rglob("*"):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.crac-old-{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        fsync_dir(out.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
