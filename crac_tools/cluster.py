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


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None) -> Iterator:
    """Yield a ``distributed.Client``: connected to ``scheduler`` when given, else a LocalCluster.

    The local cluster uses processes with one thread each (netCDF4 and HDF5 are not thread-safe), no
    dashboard (no port clashes between parallel runs), and as many workers as cores unless told.
    """
    import os

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
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.WARNING)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
