"""Where the work runs: a local dask cluster of processes by default, or any existing scheduler.

Examples
--------
>>> with dask_client(n_workers=2) as client:  # doctest: +SKIP
...     client.submit(sum, [1, 2]).result()
3
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

log = logging.getLogger(__name__)

_preloaded = False


#: Modules a worker needs for every task, imported once in the fork server instead of in every worker.
WORKER_PRELOAD = ("numpy", "pandas", "pyarrow", "pyarrow.csv", "xarray", "dask.array", "netCDF4", "zarr",
                  "crac_tools.pipeline", "crac_tools.store", "crac_tools.formats.registry")


#: glibc malloc settings for local workers. dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` so long-lived workers give
#: memory back; that also fixes the mmap threshold at 128 kB, so every array of a task is a fresh ``mmap`` whose
#: pages fault in again: measured here, a 1 Hz day task took 183 ms of CPU in such a worker and 117 ms with these
#: (large blocks reused from the heap). Ingest workers live for one run, so holding on to freed memory is fine.
WORKER_MALLOC = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": str(256 << 20),
                 "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": str(32 << 20)}


def worker_start_method() -> str:
    """How local worker processes start: ``forkserver`` where the platform has it, unless dask is told otherwise.

    dask's default is ``spawn``: every worker is a fresh interpreter that imports distributed, numpy,
    pandas, xarray, netCDF4, zarr and the readers again (about 1.5 s on 2 cores for 2 workers, and again on
    every run of a notebook or daemon). A fork server imports them once, single-threaded, and forks each
    worker from that clean state (never from the multi-threaded coordinator, so it is as safe as spawn);
    later clusters in the same process start in about 0.1 s. A method set in the dask configuration
    (``distributed.worker.multiprocessing-method``) other than dask's default is respected.

    Examples
    --------
    >>> worker_start_method() in ("forkserver", "spawn", "fork")
    True
    """
    import multiprocessing

    import dask

    method = dask.config.get("distributed.worker.multiprocessing-method", "spawn")
    if method != "spawn" or "forkserver" not in multiprocessing.get_all_start_methods():
        return method
    _preload_forkserver()
    return "forkserver"


def _preload_forkserver() -> None:
    """Add crac_tools' worker modules to the fork server's preload list (before it starts; once)."""
    global _preloaded
    if _preloaded:
        return
    import multiprocessing
    from multiprocessing import forkserver

    import dask
    from distributed.utils import get_mp_context

    from .formats.registry import _READER_MODULES

    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        get_mp_context()  # distributed sets its own preload list on first use; ours extends it
    current = list(getattr(forkserver._forkserver, "_preload_modules", None) or [])
    wanted = [*WORKER_PRELOAD, *_READER_MODULES]
    multiprocessing.get_context("forkserver").set_forkserver_preload(
        current + [m for m in wanted if m not in current])
    _preloaded = True


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None) -> Iterator:
    """Yield a ``distributed.Client``: connected to ``scheduler`` when given, else a LocalCluster.

    The local cluster uses processes with one thread each (netCDF4 and HDF5 are not thread-safe), no
    dashboard (no port clashes between parallel runs), and as many workers as cores unless told.
    """
    import os

    import dask
    from distributed import Client, LocalCluster

    # distributed configures its own loggers at import (INFO); follow the application's level instead
    level = max(logging.getLogger().getEffectiveLevel(), logging.WARNING)
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core",
                 "distributed.http.proxy", "distributed.worker"):
        logging.getLogger(name).setLevel(level)

    if scheduler:
        log.info("connecting to dask scheduler %s", scheduler)
        client = Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    n = n_workers or max(1, min(os.cpu_count() or 1, 8))
    with dask.config.set({"distributed.worker.multiprocessing-method": worker_start_method(), **WORKER_MALLOC}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.WARNING)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
