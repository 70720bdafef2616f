"""``crac watch``: the upload-folder daemon as a command (see :mod:`crac_tools.collect.watch`)."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

import click

from .errors import CracError


@click.command()
@click.option("--config", "-c", "config", default="crac.yaml", show_default=True, type=click.Path(path_type=Path),
              help="The project's crac.yaml (or its folder).")
@click.option("--once", is_flag=True, help="Process what is in the upload folder now, then exit.")
@click.option("--idle-exit", type=float, default=None, metavar="SECONDS",
              help="Exit after this many seconds without new files.")
@click.option("--wait", is_flag=True, help="Wait for another daemon on the same folder to stop instead of failing.")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Ingest on an existing dask scheduler.")
def watch(config: Path, once: bool, idle_exit: float | None, wait: bool, scheduler: str | None) -> None:
    """Serve the upload folder: claim, archive, ingest and catalog every file that arrives."""
    import signal

    stop_requested = []
    for sig in (signal.SIGTERM, signal.SIGINT):  # a stop request during start-up is honoured, not fatal
        signal.signal(sig, lambda *_: stop_requested.append(True))

    from .collect.watch import Watcher
    from .config import load_project

    try:
        project = load_project(config)
        if scheduler:
            project.config.dask.scheduler = scheduler
        if project.config.watch.log_file:
            path = project.archive / project.config.watch.log_file
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(path, maxBytes=10_000_000, backupCount=5)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logging.getLogger("crac_tools").addHandler(handler)
            logging.getLogger("crac_tools").setLevel(min(logging.getLogger().getEffectiveLevel(), logging.INFO))
        watcher = Watcher(project)
        watcher._stop = bool(stop_requested)
        click.echo(f"watching {watcher.incoming}/<station>/ (stop with Ctrl-C or SIGTERM)", nl=True)
        stats = watcher.run(idle_exit=0.0 if once else idle_exit, wait_for_lock=wait)
    except CracError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"archived {len(stats.archived)} file(s), {len(stats.duplicates)} duplicate(s) skipped, "
               f"{len(stats.unassigned)} in unknown station folders, {stats.batches} batch(es)")
    sys.exit(1 if stats.ingest_failures or stats.unassigned else 0)
