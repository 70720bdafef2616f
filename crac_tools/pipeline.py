"""Ingest: raw archive -> one product per station and period (+ zarr mirror), on dask.

The coordinator (this process) indexes the raw files of each station (time span per file, by a cheap
scan), plans the periods whose inputs changed since the last run (a fingerprint of the raw files' sha256,
the station configuration, the processing options and the crac_tools version), and sends one task per
station-period to the dask cluster. A task reads that period's raw files, assembles, writes the NetCDF
product and the period's region of the zarr mirror itself, and returns a small summary: no data
crosses the network. Re-running with no new raw data writes nothing; new raw data for a period rebuilds
exactly that period. A raw file that cannot be parsed is moved to ``ARCHIVE/quarantine/<station>/`` with a
note saying why, and the run goes on with the other files.

Examples
--------
>>> from crac_tools.pipeline import ingest
>>> report = ingest("demo/crac.yaml")  # doctest: +SKIP
>>> report.ok  # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import socket
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .assemble import assemble_period
from .collect.manifest import RawArchive
from .config import Project, StationConfig, load_project
from .conventions.cf import apply_column_metadata, ensure_variable_attrs, finalize_product, options_hash
from .conventions.naming import product_name
from .errors import CracError, CracWarning, PipelineError, StoreError
from .formats.registry import get_reader
from .fsutil import atomic_write_json, atomic_write_text, read_json, remove_stale_temps, sha256_file
from .ledger import record_versions
from .periods import period_end, periods_between
from .store import (
    ChunkPiece,
    MirrorLayout,
    chunk_length,
    compatible,
    consolidate,
    mirror_vars,
    open_product,
    prepare_mirror,
    read_layout,
    remove_mirror,
    var_attrs,
    write_mirror_pieces,
    write_mirror_region,
    write_product,
)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------ data types
@dataclass
class SourceFile:
    """A raw file that feeds a period."""

    name: str
    path: str
    sha256: str


@dataclass
class PeriodTask:
    """Everything a worker needs to build one station-period (small and picklable)."""

    project_path: str
    key: str
    start: pd.Timestamp
    end: pd.Timestamp
    files: list[SourceFile]
    fingerprint: str
    product_path: str
    run_record: str | None
    mirror_path: str | None
    layout: MirrorLayout | None
    interval: str | None
    version: int = 1


@dataclass
class PeriodResult:
    """What a worker reports back for one station-period."""

    key: str
    start: pd.Timestamp
    end: pd.Timestamp
    fingerprint: str
    product_path: str | None = None
    records: int = 0
    report: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    bad_files: list[tuple[str, str]] = field(default_factory=list)
    mirrored: bool = False
    mirror_vars: dict[str, str] = field(default_factory=dict)
    var_attrs: dict[str, dict] = field(default_factory=dict)
    global_attrs: dict = field(default_factory=dict)
    interval: str | None = None
    worker: str = ""
    error: str | None = None
    version: int = 1
    sha256: str | None = None
    geoms_path: str | None = None
    #: parts of mirror chunks shared with other periods, for the coordinator to write
    mirror_pieces: list[ChunkPiece] = field(default_factory=list)


@dataclass
class IngestReport:
    """Summary of an ingest run."""

    built: list[dict] = field(default_factory=list)
    skipped: int = 0
    quarantined: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    workers: set[str] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file was quarantined and no period failed."""
        return not self.quarantined and not self.failures

    def summary(self) -> str:
        """A human-readable multi-line summary."""
        lines = [f"ingest: {len(self.built)} period product(s) written, {self.skipped} unchanged, "
                 f"{len(self.quarantined)} file(s) quarantined, {len(self.failures)} failure(s) "
                 f"in {self.seconds:.1f} s"]
        for q in self.quarantined:
            lines.append(f"  quarantined {q['file']}: {q['reason']}")
        for f in self.failures:
            lines.append(f"  FAILED {f['key']} {f.get('start', '')}: {f['error']}")
        for w in self.warnings[:20]:
            lines.append(f"  warning: {w}")
        if len(self.warnings) > 20:
            lines.append(f"  ... and {len(self.warnings) - 20} more warnings")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------ worker side
@functools.lru_cache(maxsize=8)
def _project_cached(path: str, mtime: float) -> Project:
    return load_project(path)


def _project(path: str) -> Project:
    p = Path(path)
    stamp = max([p.stat().st_mtime] + [f.stat().st_mtime for f in p.parent.glob("stations/*.y*ml")])
    return _project_cached(path, stamp)


def processing_options(project: Project, station: StationConfig) -> dict:
    """The options that determine a product's content (recorded in it, hashed into its fingerprint)."""
    return {
        "period": project.period_of(station),
        "interval": station.interval,
        "format": station.format,
        "table": station.table,
        "compression": project.config.products.compression,
        "product_version": project.config.products.version,
        "station": station.model_dump(mode="json", exclude={"path"}),
        "project": project.config.project.model_dump(mode="json"),
    }


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"local:{os.getpid()}"


def build_period(task: PeriodTask) -> PeriodResult:
    """Read a period's raw files, assemble, write its product and mirror region (runs on a worker).

    A file that fails to parse is left out and named in ``bad_files``; the period is built from the rest.
    """
    res = PeriodResult(task.key, task.start, task.end, task.fingerprint, worker=_worker_name(),
                       version=task.version)
    try:
        project = _project(task.project_path)
        station = project.station(task.key)
        parts = []
        sources = []
        header: dict = {}
        for f in task.files:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", CracWarning)
                try:
                    ds = get_reader(f.path, station.format).read(Path(f.path), table=station.table)
                except (CracError, ValueError, OSError) as exc:
                    res.bad_files.append((f.name, str(exc)))
                    continue
            res.warnings.extend(str(w.message) for w in caught if issubclass(w.category, CracWarning))
            parts.append((f.name, ds))
            sources.append((f.name, f.sha256))
            header = dict(ds.attrs)
        if not parts:
            res.error = "no readable raw file for this period"
            return res
        ds, report = assemble_period(parts, task.start, task.end, task.interval)
        res.report = report.as_dict()
        res.records = report.records_actual
        if report.interval:
            res.interval = report.interval
        if report.conflicting_duplicates:
            res.warnings.append(f"{task.key} {task.start}: {report.conflicting_duplicates} time(s) with "
                                f"conflicting records; the latest delivery kept "
                                f"({report.conflict_times[:3]})")
        if not report.records_actual:
            res.error = None
            return res
        ds = apply_column_metadata(ds, station, task.start, task.end)
        period = project.period_of(station)
        ds = finalize_product(ds, project, station, period, task.start, task.end, sources, header,
                              processing_options(project, station), task.run_record, __version__)
        ds.attrs["input_fingerprint"] = task.fingerprint
        ds.attrs["product_version"] = str(task.version)
        write_product(ds, task.product_path, project.config.products.compression,
                      project.config.products.complevel)
        res.product_path = task.product_path
        res.sha256 = sha256_file(task.product_path)
        if station.product_format == "geoms":
            from .conventions.geoms import to_geoms, write_geoms

            tpl = station.geoms_template
            if tpl is not None and not tpl.is_absolute():
                tpl = project.root / tpl
            g = to_geoms(ds, template=tpl, station=station, project=project, version=task.version)
            res.geoms_path = str(write_geoms(g, Path(task.product_path).parent))
        res.mirror_vars = mirror_vars(ds)
        res.var_attrs = var_attrs(ds)
        res.global_attrs = _mirror_global_attrs(ds.attrs)
        if task.mirror_path and compatible(task.layout, ds, task.start, task.end):
            res.mirror_pieces = write_mirror_region(Path(task.mirror_path), task.layout, ds, task.start,
                                                    task.end)
            res.mirrored = True
    except (CracError, OSError, ValueError) as exc:
        res.error = f"{type(exc).__name__}: {exc}"
    return res


def mirror_period(mirror_path: str, layout: MirrorLayout, product_path: str, start: pd.Timestamp,
                  end: pd.Timestamp) -> tuple[str, list[ChunkPiece]]:
    """Write one period's region of the mirror from its (already written) product file.

    Returns the worker's name and the pieces of shared chunks left for the coordinator.
    """
    ds = open_product(product_path)
    return _worker_name(), write_mirror_region(Path(mirror_path), layout, ds, start, end)


def _mirror_global_attrs(attrs: dict) -> dict:
    keep = ("Conventions", "project", "institution", "creator_name", "license", "station_id", "station_name",
            "product", "instrument", "platform", "geospatial_lat_min", "geospatial_lon_min",
            "geospatial_vertical_min", "time_interval")
    return {k: attrs[k] for k in keep if k in attrs}


# ------------------------------------------------------------------------------------------ coordinator
@contextlib.contextmanager
def archive_lock(archive: Path):
    """Exclusive lock on the archive (released when the process dies); fails fast naming the holder."""
    path = archive / "state" / "ingest.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise PipelineError(f"{archive} is being written by {holder}; wait for it to finish") from None
    fh.seek(0)
    fh.truncate()
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    fh.write(f"pid {os.getpid()} on {socket.gethostname()} since {since}")
    fh.flush()
    try:
        yield
    finally:
        fh.truncate(0)
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def quarantine(archive: Path, raw: RawArchive, name: str, reason: str) -> Path:
    """Move a raw file to ``ARCHIVE/quarantine/<key>/`` with a note beside it; nothing is deleted."""
    qdir = archive / "quarantine" / raw.key
    qdir.mkdir(parents=True, exist_ok=True)
    src = raw.path_of(name)
    dst = qdir / name
    atomic_write_text(qdir / f"{name}.error.txt",
                      f"file: {src}\nquarantined: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n"
                      f"reason: {reason}\n")
    if src.exists():
        os.replace(src, dst)
    raw.mark_quarantined(name, reason)
    raw.save()
    log.warning("quarantined %s: %s", src, reason)
    return dst


def _index(archive: Path, station: StationConfig, raw: RawArchive, report: IngestReport) -> dict:
    """Time span of every archived raw file of a station (cached by sha256 in the state folder)."""
    path = archive / "state" / "index" / f"{station.key}.json"
    index = read_json(path, default={}) or {}
    changed = False
    for f in raw.files():
        entry = index.get(f.name)
        if entry and entry["sha256"] == f.sha256:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CracWarning)
                rng = get_reader(raw.path_of(f.name), station.format).time_range(raw.path_of(f.name))
        except (CracError, ValueError, OSError) as exc:
            quarantine(archive, raw, f.name, str(exc))
            report.quarantined.append({"station": station.key, "file": f.name, "reason": str(exc)})
            index.pop(f.name, None)
            changed = True
            continue
        index[f.name] = {"sha256": f.sha256, "first": pd.Timestamp(rng.first).isoformat(),
                         "last": pd.Timestamp(rng.last).isoformat()}
        changed = True
    live = {f.name for f in raw.files()}
    for name in list(index):
        if name not in live:
            index.pop(name)
            changed = True
    if changed:
        atomic_write_json(path, index)
    return index


def _fingerprint(files: list[SourceFile], options: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([[f.name, f.sha256] for f in files]).encode())
    h.update(options_hash(options).encode())
    h.update(__version__.encode())
    return h.hexdigest()[:24]


@dataclass
class _StationPlan:
    station: StationConfig
    raw: RawArchive
    tasks: list[PeriodTask]
    state: dict
    state_path: Path
    mirror_path: Path | None
    layout: MirrorLayout | None
    rebuild_mirror: bool = False
    interval: str | None = None


def plan(project: Project, station: StationConfig, report: IngestReport, start=None, end=None,
         run_record: str | None = None, force: bool = False) -> _StationPlan:
    """Work out which periods of a station need (re)building."""
    archive = project.archive
    raw = RawArchive(archive, station.key)
    index = _index(archive, station, raw, report)
    period = project.period_of(station)
    by_period: dict[pd.Timestamp, list[SourceFile]] = {}
    for f in raw.files():
        entry = index.get(f.name)
        if not entry:
            continue
        for p in periods_between(pd.Timestamp(entry["first"]), pd.Timestamp(entry["last"]), period):
            by_period.setdefault(p, []).append(SourceFile(f.name, str(raw.path_of(f.name)), f.sha256))
    state_path = archive / "state" / "ingest" / f"{station.key}.json"
    state = read_json(state_path, default=None) or {"periods": {}}
    options = processing_options(project, station)
    mirror_path = archive / "mirror" / f"{station.key}.zarr" if project.config.products.mirror else None
    layout = read_layout(mirror_path) if mirror_path else None
    interval = station.interval or state.get("interval")
    tasks = []
    lo = pd.Timestamp(start) if start is not None else None
    hi = pd.Timestamp(end) if end is not None else None
    for p, files in sorted(by_period.items()):
        pe = period_end(p, period)
        if (lo is not None and pe <= lo) or (hi is not None and p >= hi):
            continue
        fp = _fingerprint(files, options)
        prev = state["periods"].get(p.isoformat())
        if not force and prev and prev["fingerprint"] == fp and Path(prev["product"]).exists():
            report.skipped += 1
            continue
        version = _next_version(project, prev, fp)
        name = product_name(project.config.naming.template, station.id, station.product, period, p, pe, version)
        product = archive / "products" / station.key / f"{p:%Y}" / name
        tasks.append(PeriodTask(str(project.path), station.key, p, pe, files, fp, str(product), run_record,
                                str(mirror_path) if mirror_path else None, None, interval, version))
    sp = _StationPlan(station, raw, tasks, state, state_path, mirror_path, layout, interval=interval)
    if layout is not None and tasks:
        moved = interval and pd.Timedelta(interval) != layout.interval
        if min(t.start for t in tasks) < layout.origin or moved:
            sp.rebuild_mirror = True
    return sp


def _next_version(project: Project, prev: dict | None, fingerprint: str) -> int:
    """Version of a (re)built period: the project's version, bumped per reprocessing in ``keep`` mode."""
    base = project.config.products.version
    if prev is None:
        return base
    old = int(prev.get("version", base))
    if project.config.products.versioning == "keep" and prev.get("fingerprint") != fingerprint:
        return max(old + 1, base)
    return max(old, base) if project.config.products.versioning == "keep" else base


def _layout_for(sp: _StationPlan, project: Project, interval: pd.Timedelta) -> MirrorLayout:
    period = project.period_of(sp.station)
    starts = [t.start for t in sp.tasks] + [pd.Timestamp(s) for s in sp.state["periods"]]
    ends = [t.end for t in sp.tasks] + [period_end(pd.Timestamp(s), period) for s in sp.state["periods"]]
    origin = min(starts)
    if sp.layout is not None and not sp.rebuild_mirror:
        origin = sp.layout.origin
    # an existing mirror keeps its chunking (any chunk length works with any period)
    chunk = sp.layout.chunk if sp.layout is not None and not sp.rebuild_mirror else chunk_length(period, interval)
    length = int((max(ends) - origin) // interval)  # the last chunk may be partial (zarr stores it whole)
    return MirrorLayout(origin, length, interval, chunk, {})


def ingest(
    project: Project | str | os.PathLike,
    stations: list[str] | None = None,
    start=None,
    end=None,
    scheduler: str | None = None,
    client=None,
    run_record: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
) -> IngestReport:
    """Build the products (and mirrors) of every station period whose raw inputs changed.

    Parameters
    ----------
    project
        A loaded :class:`~crac_tools.config.Project` or the path of its ``crac.yaml``.
    stations
        Station ids or keys to ingest (all by default).
    start, end
        Only periods overlapping ``[start, end)``.
    scheduler
        Address of an existing dask scheduler; default: a LocalCluster of processes.
    client
        An existing ``distributed.Client`` to use (overrides ``scheduler``).
    run_record
        The executed notebook or command that runs this ingest (stored in every product's provenance).
    progress
        Called as ``progress(done, total)`` while tasks complete.
    force
        Rebuild every period even when its inputs did not change.

    Returns
    -------
    IngestReport
        What was built, skipped, quarantined, warned about and what failed.

    Examples
    --------
    >>> report = ingest("demo/crac.yaml", stations=["alpha"])  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
    ingest: 3 period product(s) written, 0 unchanged, 0 file(s) quarantined, 0 failure(s) in 4.2 s
    """
    t0 = time.perf_counter()
    if not isinstance(project, Project):
        project = load_project(project)
    archive = project.archive
    archive.mkdir(parents=True, exist_ok=True)
    report = IngestReport()
    with archive_lock(archive):
        for sub in ("products", "mirror", "state"):
            if (archive / sub).exists():
                remove_stale_temps(archive / sub)
        plans = [plan(project, s, report, start, end, run_record, force) for s in project.select(stations)]
        todo = [sp for sp in plans if sp.tasks]
        if todo:
            scheduler = scheduler or project.config.dask.scheduler
            if client is None and not scheduler and _inline(project, todo):
                ctx = contextlib.nullcontext(None)
            elif client is not None:
                ctx = contextlib.nullcontext(client)
            else:
                ctx = _client(scheduler, project)
            # start the cluster (and warm its workers' imports) while the coordinator prepares the mirrors
            with ThreadPoolExecutor(1) as pool:
                starting = pool.submit(_enter_and_warm, ctx)
                try:
                    for sp in todo:
                        _prepare_station_mirror(sp, project, report)
                except BaseException:
                    starting.result()
                    ctx.__exit__(None, None, None)
                    raise
                cl = starting.result()
            try:
                _run(cl, project, todo, report, progress)
            finally:
                ctx.__exit__(None, None, None)
        for sp in plans:
            if sp.mirror_path is not None and sp.mirror_path.exists() and sp.tasks:
                consolidate(sp.mirror_path)
    report.seconds = time.perf_counter() - t0
    log.info(report.summary())
    return report


def _warm_imports() -> None:
    """Import what a task needs, so the first task on a fresh worker does not pay for it."""
    import netCDF4  # noqa: F401
    import xarray as xr
    import zarr  # noqa: F401

    from .formats.registry import formats

    formats()
    xr.Variable("x", [0.0])  # xarray's first Variable imports dask.array when dask is installed


def _inline(project: Project, plans: list[_StationPlan]) -> bool:
    """Whether this run is small enough to run here: less raw input than ``dask.inline_below_mb``."""
    limit = project.config.dask.inline_below_mb * 1_000_000
    if limit <= 0:
        return False
    total = 0
    for sp in plans:
        for name in {f.path for t in sp.tasks for f in t.files}:
            with contextlib.suppress(OSError):
                total += os.stat(name).st_size
            if total >= limit:
                return False
    log.info("ingest of %.1f MB runs in this process (below dask.inline_below_mb)", total / 1e6)
    return True


def _enter_and_warm(ctx):
    cl = ctx.__enter__()
    if cl is None:
        return None
    try:
        cl.run(_warm_imports)
    except Exception as exc:  # warming is an optimisation; the tasks import what they need anyway
        log.debug("worker warm-up failed: %s", exc)
    return cl


def _client(scheduler: str | None, project: Project):
    from .cluster import dask_client

    return dask_client(scheduler, project.config.dask.n_workers)


def _outcomes(client, tasks: list[PeriodTask]):
    """Run ``build_period`` on every task (on the cluster, or here when ``client`` is None); yield results."""
    if client is None:
        for task in tasks:
            yield build_period(task)
        return
    from distributed import as_completed

    futures = as_completed()
    owners: dict[str, PeriodTask] = {}
    for task in tasks:
        fut = client.submit(build_period, task, pure=False)
        owners[fut.key] = task
        futures.add(fut)
    for fut in futures:
        try:
            yield fut.result()
        except Exception as exc:  # a worker died or the task could not run: report it, go on
            task = owners[fut.key]
            yield PeriodResult(task.key, task.start, task.end, task.fingerprint,
                               error=f"task failed on the cluster: {type(exc).__name__}: {exc}")


def _run(client, project: Project, plans: list[_StationPlan], report: IngestReport,
         progress: Callable[[int, int], None] | None) -> None:
    """Build every planned period, record the results, then mirror the periods the first round could not."""
    total = sum(len(sp.tasks) for sp in plans)
    by_key = {sp.station.key: sp for sp in plans}
    tasks = []
    for sp in plans:
        for t in sp.tasks:
            t.layout = sp.layout
            t.interval = t.interval or sp.interval
            tasks.append(t)
    results: dict[str, list[PeriodResult]] = {sp.station.key: [] for sp in plans}
    pieces: dict[str, list[ChunkPiece]] = {sp.station.key: [] for sp in plans}
    for done, res in enumerate(_outcomes(client, tasks), 1):
        results[res.key].append(res)
        pieces[res.key] += res.mirror_pieces
        report.workers.add(res.worker)
        if progress:
            progress(done, total)
    calls = []
    for key, rs in results.items():
        _record(project, by_key[key], rs, report)
        calls += [(key, call) for call in _late_mirror_calls(project, by_key[key], rs, report, pieces[key])]
    for key, more in _call_all(client, calls, report).items():
        pieces[key] += more
    for key, ps in pieces.items():
        sp = by_key[key]
        if ps and sp.mirror_path is not None and sp.layout is not None:
            try:
                write_mirror_pieces(sp.mirror_path, sp.layout, ps)
            except (StoreError, OSError, ValueError) as exc:  # the mirror can be rebuilt from the products
                report.failures.append({"key": key, "error": f"mirror: {type(exc).__name__}: {exc}"})


def _late_mirror_calls(project: Project, sp: _StationPlan, results: list[PeriodResult],
                       report: IngestReport, pieces: list[ChunkPiece]) -> list[tuple]:
    """Second round: extend (or rebuild) the mirror for periods whose variables it did not hold yet.

    Returns the ``mirror_period`` calls that fill it from the just-written products. A variable whose mirror
    dtype must widen (float32 -> float64) forces a rebuild of the station's mirror from all its products;
    the first round's ``pieces`` of shared chunks are then dropped (the rebuild writes every period again).
    """
    late = [r for r in results if r.product_path and not r.mirrored]
    if sp.mirror_path is None or not late:
        return []
    interval = _interval_of(sp, late[0])
    if interval is None:
        return []
    new_vars: dict[str, str] = {}
    attrs: dict[str, dict] = {}
    for r in late:
        for k, v in r.mirror_vars.items():
            have = sp.layout.variables.get(k) if sp.layout else None
            if have is not None and have != v and np.dtype(v).itemsize > np.dtype(have).itemsize:
                report.warnings.append(f"{sp.station.key}: mirror variable {k} widened to {v}; mirror rebuilt")
                remove_mirror(sp.mirror_path)
                sp.layout = None
                pieces.clear()
            new_vars.setdefault(k, v)
        attrs.update(r.var_attrs)
    try:
        if sp.layout is None:
            late = _all_products(sp)
        sp.layout = _extend(sp, project, interval, new_vars, attrs, late[0].global_attrs if late else {})
    except StoreError as exc:
        report.failures.append({"key": sp.station.key, "error": f"mirror: {exc}"})
        return []
    return [(mirror_period, str(sp.mirror_path), sp.layout, r.product_path, r.start, r.end) for r in late]


def _call_all(client, calls: list[tuple[str, tuple]], report: IngestReport) -> dict[str, list[ChunkPiece]]:
    """Run each station's ``mirror_period`` calls (on the cluster, or here); return their pieces by station.

    Failures are reported, not raised.
    """
    out: dict[str, list[ChunkPiece]] = {}
    futures = [(key, client.submit(*call, pure=False) if client is not None else call) for key, call in calls]
    for key, f in futures:
        try:
            worker, pieces = f.result() if client is not None else f[0](*f[1:])
        except Exception as exc:  # never fatal: the mirror can be rebuilt from the products
            report.failures.append({"key": key, "error": f"mirror: {type(exc).__name__}: {exc}"})
            continue
        report.workers.add(worker)
        out.setdefault(key, []).extend(pieces)
    return out


def preview_period(project: Project, task: PeriodTask):
    """The first period's variables as its product will hold them, from its first raw file (coordinator side).

    Lets the coordinator create the mirror's arrays before any task runs, so every task writes its own region.
    """
    station = project.station(task.key)
    f = task.files[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CracWarning)
        ds = get_reader(f.path, station.format).read(Path(f.path), table=station.table)
    ds, report = assemble_period([(f.name, ds)], task.start, task.end, task.interval)
    ds = ensure_variable_attrs(apply_column_metadata(ds, station, task.start, task.end))
    return mirror_vars(ds), var_attrs(ds), report.interval


def _prepare_station_mirror(sp: _StationPlan, project: Project, report: IngestReport) -> None:
    """Create or extend a station's mirror so that it covers every planned period (before tasks run)."""
    if sp.mirror_path is None:
        return
    if sp.rebuild_mirror:
        remove_mirror(sp.mirror_path)
        sp.layout = None
    try:
        if sp.layout is not None:
            sp.layout = _extend(sp, project, sp.layout.interval, {}, {}, {})
            return
        try:
            names, attrs, inferred = preview_period(project, sp.tasks[0])
        except (CracError, ValueError, OSError):
            return  # the tasks report the problem; the mirror is made in the second round
        if not sp.interval and inferred:
            sp.interval = inferred
        if sp.interval:
            ginfo = {"station_id": sp.station.id, "station_name": sp.station.name or sp.station.id,
                     "product": sp.station.product, "project": project.config.project.name,
                     "time_interval": sp.interval}
            sp.layout = _extend(sp, project, pd.Timedelta(sp.interval), names, attrs, ginfo)
    except StoreError as exc:
        report.failures.append({"key": sp.station.key, "error": f"mirror: {exc}"})
        sp.mirror_path = None
        sp.layout = None


def _interval_of(sp: _StationPlan, res: PeriodResult) -> pd.Timedelta | None:
    if sp.interval:
        return pd.Timedelta(sp.interval)
    if res.interval:
        sp.interval = res.interval
        return pd.Timedelta(res.interval)
    return None


def _extend(sp: _StationPlan, project: Project, interval: pd.Timedelta, new_vars: dict, attrs: dict,
            global_attrs: dict) -> MirrorLayout:
    want = _layout_for(sp, project, interval)
    if sp.layout is not None:
        want.variables = dict(sp.layout.variables)
        want.length = max(want.length, sp.layout.length)
    return prepare_mirror(sp.mirror_path, want, new_vars, attrs, global_attrs)


def _all_products(sp: _StationPlan) -> list[PeriodResult]:
    """Every product of a station as results (for a full mirror rebuild)."""
    out = []
    for start, entry in sorted(sp.state["periods"].items()):
        path = Path(entry["product"])
        if not path.exists():
            continue
        ds = open_product(path)
        r = PeriodResult(sp.station.key, pd.Timestamp(start), pd.Timestamp(entry["end"]),
                         entry["fingerprint"], product_path=str(path), mirror_vars=mirror_vars(ds),
                         var_attrs=var_attrs(ds))
        out.append(r)
    return out


def _record(project: Project, sp: _StationPlan, results: list[PeriodResult], report: IngestReport) -> None:
    """Quarantine bad files, note warnings and failures, and save the station's ingest state."""
    archive = project.archive
    bad: dict[str, str] = {}
    written: list[tuple[PeriodResult, dict | None]] = []
    for r in results:
        report.warnings.extend(r.warnings)
        for name, reason in r.bad_files:
            bad.setdefault(name, reason)
        if r.error:
            report.failures.append({"key": r.key, "start": r.start.isoformat(), "error": r.error})
            continue
        if r.product_path:
            prev = sp.state["periods"].get(r.start.isoformat())
            sp.state["periods"][r.start.isoformat()] = {
                "fingerprint": r.fingerprint, "product": r.product_path, "end": r.end.isoformat(),
                "records": r.records, "completeness": r.report.get("completeness"),
                "gaps": r.report.get("gap_count"), "version": r.version, "sha256": r.sha256,
            }
            if r.geoms_path:
                sp.state["periods"][r.start.isoformat()]["geoms"] = r.geoms_path
            written.append((r, prev))
            report.built.append({"station": r.key, "start": r.start.isoformat(), "product": r.product_path,
                                 "records": r.records, "completeness": r.report.get("completeness"),
                                 "gaps": r.report.get("gap_count"), "worker": r.worker})
    for name, reason in bad.items():
        quarantine(archive, sp.raw, name, reason)
        report.quarantined.append({"station": sp.station.key, "file": name, "reason": reason})
    if sp.interval:
        sp.state["interval"] = sp.interval
    atomic_write_json(sp.state_path, sp.state)
    if project.config.products.versioning == "replace":
        for r, prev in written:
            old = Path(prev["product"]) if prev else None
            if old is not None and old != Path(r.product_path) and old.exists():
                old.unlink()  # ESPO practice: the reprocessed file replaces the previous version
    if written:
        record_versions(archive, sp.station, project.config.products.versioning,
                        [(r.start, r.end, r.version, r.product_path, r.sha256, r.fingerprint,
                          prev.get("product") if prev else None) for r, prev in written])


def report_json(report: IngestReport) -> dict:
    """JSON-ready form of an :class:`IngestReport`."""
    d = asdict(report)
    d["workers"] = sorted(report.workers)
    return d
