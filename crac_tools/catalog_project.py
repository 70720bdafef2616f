"""Register every product set and zarr mirror of a project in ``ARCHIVE/catalog.yaml``.

Examples
--------
>>> from crac_tools.catalog_project import build_catalog
>>> build_catalog("demo/crac.yaml")  # doctest: +SKIP
PosixPath('.../demo/archive/catalog.yaml')
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .catalog import CatalogEntry, write_catalog
from .config import Project, StationConfig, load_project
from .fsutil import read_json


def _station_metadata(project: Project, st: StationConfig, periods: dict) -> dict:
    starts = sorted(periods)
    return {
        "station_id": st.id,
        "station_name": st.name or st.id,
        "product": st.product,
        "lat": st.location.lat,
        "lon": st.location.lon,
        "alt": st.location.alt,
        "instruments": [i.model_dump(exclude_none=True) for i in st.instruments],
        "period": project.period_of(st),
        "interval": st.interval or "",
        "time_coverage_start": starts[0] if starts else "",
        "time_coverage_end": periods[starts[-1]]["end"] if starts else "",
        "n_files": len(starts),
        "records": int(sum(p.get("records", 0) for p in periods.values())),
    }


def catalog_entries(project: Project) -> list[CatalogEntry]:
    """One NetCDF product-set entry (``<id>_<product>``) and one mirror entry (``..._zarr``) per station.

    Stations that left the station list stay in the catalog with ``retired: true`` in their metadata.
    """
    from .collect.registry import retired_stations

    entries = []
    archive = project.archive
    retired = set(retired_stations(archive))
    known = {s.key for s in project.stations}
    stations = list(project.stations) + _retired_configs(project, retired - known)
    for st in stations:
        state = read_json(archive / "state" / "ingest" / f"{st.key}.json", default=None) or {"periods": {}}
        periods = {k: v for k, v in state["periods"].items() if Path(v["product"]).exists()}
        if not periods:
            continue
        meta = _station_metadata(project, st, periods)
        meta["retired"] = st.key in retired
        files = tuple(Path(periods[k]["product"]) for k in sorted(periods, key=pd.Timestamp))
        what = f"{st.name or st.id} {st.product}"
        entries.append(CatalogEntry(st.key, "netcdf", files,
                                    f"{what}: {len(files)} {project.period_of(st)} NetCDF product(s)", meta))
        mirror = archive / "mirror" / f"{st.key}.zarr"
        if (mirror / "zarr.json").exists():
            entries.append(CatalogEntry(f"{st.key}_zarr", "zarr", (mirror,),
                                        f"{what}: zarr mirror on a regular time grid", meta))
    return entries


def _retired_configs(project: Project, keys: set[str]) -> list[StationConfig]:
    """Minimal station configs for retired stations (from the registry state), so their products stay listed."""
    state = read_json(project.archive / "state" / "collect" / "registry.json", default=None) or {"stations": {}}
    out = []
    for key in sorted(keys):
        cfg = state["stations"].get(key, {}).get("config")
        if not cfg:
            continue  # nothing known about it: its products stay in the archive, unlisted
        try:
            out.append(StationConfig.model_validate(cfg))
        except ValueError:
            continue
    return [s for s in out if s.key in keys]


def build_catalog(project: Project | str | os.PathLike) -> Path:
    """Write ``ARCHIVE/catalog.yaml`` listing every product set and mirror of the project.

    Examples
    --------
    >>> import intake
    >>> cat = intake.from_yaml_file(str(build_catalog("demo")))  # doctest: +SKIP
    """
    if not isinstance(project, Project):
        project = load_project(project)
    info = project.config.project
    return write_catalog(catalog_entries(project), project.archive / "catalog.yaml", name=info.name,
                         description=info.title or info.name,
                         metadata={"project": info.name, "institution": info.institution or "",
                                   "pi": info.pi or "", "license": info.license or ""})
