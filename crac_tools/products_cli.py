"""``crac validate FILE`` and ``crac convert INPUT --to cf|geoms``: product checks and one-file conversion.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(validate, ["--help"]).exit_code
0
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-name-check", is_flag=True, help="Do not check the file name against the GEOMS convention.")
def validate(file: Path, no_name_check: bool) -> None:
    """Check a GEOMS file (HDF5, netCDF-4 or HDF4); print every problem, exit 0 only when clean."""
    from .conventions.geoms_validate import GeomsValidationError, validate_geoms

    try:
        problems = validate_geoms(file, check_name=not no_name_check)
    except GeomsValidationError as exc:
        raise click.ClickException(str(exc)) from None
    for p in problems:
        click.echo(str(p))
    if problems:
        errors = sum(p.severity == "error" for p in problems)
        click.echo(f"{file}: {errors} error(s), {len(problems) - errors} warning(s)", err=True)
        raise SystemExit(1)
    click.echo(f"{file}: clean")


@click.command()
@click.argument("input", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "to", type=click.Choice(["cf", "geoms"]), default="cf", show_default=True,
              help="Product convention.")
@click.option("--template", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="GEOMS metadata template file (with --to geoms).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Output folder.")
@click.option("--netcdf4", is_flag=True, help="GEOMS in a netCDF-4 container instead of HDF5.")
@click.option("--version", "version", type=click.IntRange(1, 999), default=1, show_default=True,
              help="Product version.")
@click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE",
              help="GEOMS global attribute overriding file, template and defaults (repeatable).")
def convert(input: Path, to: str, template: Path | None, out: Path, netcdf4: bool, version: int,
            attrs: tuple[str, ...]) -> None:
    """Read INPUT (any supported format) and write its structured product into --out; print the path."""
    from .convert import convert as run
    from .errors import CracError

    pairs = {}
    for item in attrs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--attr")
        pairs[key.strip()] = value
    try:
        written = run(input, to=to, template=template, out_dir=out, version=version,
                      fmt="netcdf4" if netcdf4 else "hdf5", attrs=pairs or None, echo=False)
    except CracError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(str(written))
