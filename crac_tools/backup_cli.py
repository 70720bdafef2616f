"""The ``crac backup``, ``crac verify`` and ``crac restore`` commands (thin wrappers over crac_tools.backup).

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(verify, ["--help"]).exit_code
0
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import CracError

_SFTP_OPTIONS = [
    click.option("--known-hosts", default=None, type=click.Path(path_type=Path),
                 help="SFTP: extra known_hosts file (~/.ssh/known_hosts is always read)."),
    click.option("--accept-new-host-key", is_flag=True,
                 help="SFTP: trust and record an unknown host key (default: reject unknown hosts)."),
    click.option("--key-file", default=None, type=click.Path(path_type=Path),
                 help="SFTP: private key file (default: SSH agent and ~/.ssh keys)."),
]


def _sftp_options(f):
    for opt in reversed(_SFTP_OPTIONS):
        f = opt(f)
    return f


def _opts(known_hosts, accept_new, key_file) -> dict:
    return {"known_hosts": known_hosts, "host_key_policy": "accept-new" if accept_new else None,
            "key_filename": key_file}


def _progress() -> bool:
    return sys.stderr.isatty()


@click.command()
@click.option("--config", "-c", "config", default="crac.yaml", show_default=True, type=click.Path(path_type=Path),
              help="The project's crac.yaml.")
@click.option("--to", "to", multiple=True, metavar="URL",
              help="Back up to this target (path, s3://bucket/prefix, sftp://host/path) instead of the configured "
                   "ones (repeatable).")
@click.option("--keep", type=click.IntRange(min=1), default=None,
              help="Versions kept of each changed file (default: the target's `keep`, else 3).")
@click.option("--due", is_flag=True, help="Only configured targets whose `every` interval has passed.")
@_sftp_options
def backup(config: Path, to: tuple[str, ...], keep: int | None, due: bool, known_hosts, accept_new_host_key,
           key_file) -> None:
    """Back up the project (crac.yaml, stations, the whole archive) incrementally to each target."""
    from .backup import backup_project

    try:
        results = backup_project(config, to=list(to) or None, keep=keep, progress=_progress(), due_only=due,
                                 options=_opts(known_hosts, accept_new_host_key, key_file))
    except CracError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if not results:
        click.echo("no target is due")
    for r in results:
        click.echo(r.summary())
    if not all(r.ok for r in results):
        sys.exit(1)


@click.command()
@click.argument("target")
@click.option("--sample", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="Share of files whose bytes are re-read (e.g. 0.05 for a daily check); sizes are always "
                   "checked.")
@click.option("--seed", type=int, default=None, help="Random seed of the sample (reproducible checks).")
@_sftp_options
def verify(target: str, sample: float, seed: int | None, known_hosts, accept_new_host_key, key_file) -> None:
    """Re-read the backup at TARGET and compare it with its manifest; name every missing, extra, truncated or
    different file."""
    from .backup import verify_target

    try:
        rep = verify_target(target, sample=sample, seed=seed, progress=_progress(),
                            **_opts(known_hosts, accept_new_host_key, key_file))
    except CracError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(rep.summary())
    if not rep.ok:
        sys.exit(1)


@click.command()
@click.argument("target")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Restore into a non-empty folder (completes an interrupted restore).")
@click.option("--manifest", default=None, metavar="KEY",
              help="Restore from an earlier manifest (manifests/<time>.json) instead of MANIFEST.json.")
@_sftp_options
def restore(target: str, directory: Path, force: bool, manifest: str | None, known_hosts, accept_new_host_key,
            key_file) -> None:
    """Rebuild the project held by TARGET in DIRECTORY, checking every file's sha256."""
    from .backup import restore_target

    try:
        rep = restore_target(target, directory, force=force, manifest=manifest, progress=_progress(),
                             **_opts(known_hosts, accept_new_host_key, key_file))
    except CracError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(rep.summary())
    if not rep.ok:
        sys.exit(1)
    click.echo(f"restored project: {directory / 'crac.yaml'}")
