"""The ``crac`` command: thin wrappers over the library's stage functions.

Examples
--------
Shell usage::

    crac init myproject
    crac collect --config myproject/crac.yaml
    crac ingest --config myproject/crac.yaml --scheduler tcp://10.0.0.5:8786
    crac run --config myproject/crac.yaml
    crac demo ./demo
"""

from __future__ import annotations

import logging
import shlex
import sys
import time
from pathlib import Path

import click

from .errors import CracError

log = logging.getLogger("crac_tools")

CONFIG_HELP = "The project's crac.yaml (or its folder)."


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    logging.getLogger("distributed").setLevel(max(level, logging.WARNING))


def _command_line() -> str:
    return "crac " + " ".join(shlex.quote(a) for a in sys.argv[1:])


class _Progress:
    """A tqdm progress bar fed by ``progress(done, total)`` callbacks (silent when not a terminal)."""

    def __init__(self, desc: str) -> None:
        self.desc = desc
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.desc, unit="period", disable=None, file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


config_option = click.option("--config", "-c", "config", default="crac.yaml", show_default=True,
                             type=click.Path(path_type=Path), help=CONFIG_HELP)
stations_option = click.option("--station", "-s", "stations", multiple=True,
                               help="Station id or id_product (repeatable); default: all.")
range_options = [click.option("--start", default=None, help="Only periods overlapping [start, end) (ISO date)."),
                 click.option("--end", default=None, help="End of the time range (exclusive).")]
scheduler_option = click.option("--scheduler", default=None, metavar="ADDRESS",
                                help="Use an existing dask scheduler (e.g. tcp://host:8786) instead of a "
                                     "local cluster.")


def _ranged(f):
    for opt in reversed(range_options):
        f = opt(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="crac-tools")
def main(verbose: int) -> None:
    """crac_tools: collect logger files, assemble period products, catalog, plot, back up."""
    _setup_logging(verbose)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path), default=".")
@click.option("--force", is_flag=True, help="Overwrite an existing crac.yaml.")
def init(directory: Path, force: bool) -> None:
    """Write a commented starter project (crac.yaml + one station) into DIRECTORY."""
    from .templates import init_project

    try:
        for p in init_project(directory, force=force):
            click.echo(f"wrote {p}")
    except CracError as exc:
        _fail(exc)


@main.command()
@config_option
@stations_option
@click.option("--source", default=None, metavar="URL",
              help="Ad hoc: pull this source (sftp://user@host:port/path/pattern or a local glob) without a project.")
@click.option("--into", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Ad hoc: folder receiving the files (state kept in DIR/.crac).")
@click.option("--identity", type=click.Path(path_type=Path), default=None, metavar="KEYFILE",
              help="SSH private key (default: SSH agent, ~/.ssh/config and default keys).")
@click.option("--known-hosts", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="known_hosts file (default ~/.ssh/known_hosts).")
@click.option("--host-key-policy", type=click.Choice(["reject", "accept-new"]), default=None,
              help="Unknown host keys: refuse (default) or store on first use; a changed key is always refused.")
def collect(config: Path, stations: tuple[str, ...], source: str | None, into: Path | None, identity: Path | None,
            known_hosts: Path | None, host_key_policy: str | None) -> None:
    """Copy new and grown files from every station's sources (or one --source) into the raw archive."""
    from .collect.run import collect_adhoc, collect_project
    from .collect.sftp import SshSettings

    ssh_opts = {k: v for k, v in {"identity": identity, "known_hosts": known_hosts,
                                   "host_key_policy": host_key_policy}.items() if v is not None}
    try:
        if source is not None or into is not None:
            if source is None or into is None:
                raise click.UsageError("--source and --into go together")
            results = [collect_adhoc(source, into, SshSettings(**ssh_opts))]
        else:
            if ssh_opts:
                raise click.UsageError("--identity, --known-hosts and --host-key-policy apply to --source; "
                                       "for a project set them in crac.yaml (collect: ssh:)")
            results = collect_project(config, list(stations))
    except CracError as exc:
        _fail(exc)
    failed = False
    for r in results:
        line = f"{r.key}: {len(r.copied)} file(s) copied, {r.skipped} unchanged"
        if r.retried:
            line += f", {r.retried} retried"
        if r.failed:
            line += f", {len(r.failed)} failed"
        click.echo(line)
        for c in r.copied:
            click.echo(f"  {c.action:7s} {c.name}  {c.size} bytes  sha256 {c.sha256[:12]}"
                       + ("  (incomplete last line left for later)" if c.partial else ""))
        for e in r.records:
            click.echo(f"  RECORDS {e}")
        for d in r.deleted:
            click.echo(f"  deleted at source after verification: {d}")
        for msg in r.failed:
            click.echo(f"  FAILED {msg}")
        failed |= bool(r.failed or r.error)
    sys.exit(1 if failed else 0)


@main.command()
@config_option
@stations_option
@_ranged
@scheduler_option
@click.option("--force", is_flag=True, help="Rebuild periods even when their inputs did not change.")
def ingest(config: Path, stations: tuple[str, ...], start: str | None, end: str | None, scheduler: str | None,
           force: bool) -> None:
    """Build period products and zarr mirrors from the raw archive (on dask), then refresh the catalog."""
    from .catalog_project import build_catalog
    from .pipeline import ingest as run_ingest

    bar = _Progress("ingest")
    try:
        report = run_ingest(config, list(stations), start, end, scheduler=scheduler, run_record=_command_line(),
                            progress=bar, force=force)
        bar.close()
        cat = build_catalog(config)
    except CracError as exc:
        bar.close()
        _fail(exc)
    click.echo(report.summary())
    if report.workers:
        click.echo(f"workers: {', '.join(sorted(report.workers))}")
    click.echo(f"catalog: {cat}")
    sys.exit(0 if report.ok else 1)


@main.command()
@config_option
def catalog(config: Path) -> None:
    """Write ARCHIVE/catalog.yaml listing every product set and mirror."""
    from .catalog_project import build_catalog

    try:
        click.echo(f"catalog: {build_catalog(config)}")
    except CracError as exc:
        _fail(exc)


@main.command()
@config_option
@stations_option
@_ranged
@click.option("--force", is_flag=True, help="Redraw every image.")
def quicklook(config: Path, stations: tuple[str, ...], start: str | None, end: str | None, force: bool) -> None:
    """Draw quick-look PNGs (one per station and period) and a PDF per station."""
    from .quicklook import quicklook_project

    try:
        written = quicklook_project(config, list(stations), start, end, force=force)
    except CracError as exc:
        _fail(exc)
    for p in written:
        click.echo(f"wrote {p}")
    click.echo(f"{len(written)} quick-look file(s) written")


@main.command()
@config_option
@stations_option
@_ranged
@scheduler_option
@click.option("--no-collect", is_flag=True, help="Skip collection (ingest what is in the archive).")
def run(config: Path, stations: tuple[str, ...], start: str | None, end: str | None, scheduler: str | None,
        no_collect: bool) -> None:
    """Run collect -> ingest -> catalog -> quicklook as notebooks (kept in ARCHIVE/runs/)."""
    _run(config, stations, start, end, scheduler, not no_collect)


def _run(config: Path, stations, start, end, scheduler, collect: bool):
    from .errors import PipelineError
    from .runner import run_notebooks

    t0 = time.perf_counter()
    try:
        result = run_notebooks(config, list(stations), start, end, scheduler, collect=collect)
    except PipelineError as exc:
        click.echo(f"error: {exc}", err=True)
        for f in exc.failures:
            click.echo(f"  {f}", err=True)
        sys.exit(1)
    except CracError as exc:
        _fail(exc)
    click.echo(result.summary.get("summary_text", ""))
    click.echo(f"executed notebooks: {result.folder}")
    click.echo(f"finished in {time.perf_counter() - t0:.1f} s")
    return result


@main.command()
@click.argument("directory", type=click.Path(path_type=Path), default="demo")
@scheduler_option
def demo(directory: Path, scheduler: str | None) -> None:
    """Write a demo project of simulated stations into DIRECTORY and run the whole pipeline on it."""
    from .config import load_project
    from .demo import write_demo_project

    cfg = write_demo_project(directory)
    click.echo(f"demo project written: {cfg}")
    result = _run(cfg, (), None, None, scheduler, True)
    archive = load_project(cfg).archive
    click.echo("")
    click.echo("Where everything is:")
    click.echo(f"  raw archive      {archive / 'raw'}")
    click.echo(f"  products         {archive / 'products'}")
    click.echo(f"  zarr mirrors     {archive / 'mirror'}")
    click.echo(f"  quick-looks      {archive / 'quicklook'}")
    click.echo(f"  run notebooks    {result.folder}")
    click.echo(f"  intake catalog   {archive / 'catalog.yaml'}")
    click.echo(f"Try: python -c \"import intake; print(list(intake.from_yaml_file('{archive / 'catalog.yaml'}')))\"")


# -- commands defined in their own modules (each module defines a click command and is added here) -------
# (add new ones below this line, one import + add_command per command)
from .export.cli import export  # noqa: E402

main.add_command(export)
from .watch_cli import watch  # noqa: E402

main.add_command(watch)
from .backup_cli import backup, restore, verify  # noqa: E402

main.add_command(backup)
main.add_command(verify)
main.add_command(restore)
from .web_cli import publish, serve  # noqa: E402

main.add_command(serve)
main.add_command(publish)
from .products_cli import convert, validate  # noqa: E402

main.add_command(validate)
main.add_command(convert)


if __name__ == "__main__":  # pragma: no cover
    main()
