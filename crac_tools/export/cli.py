"""The ``crac export`` command.

Examples
--------
Shell usage::

    crac export archive/products/bravo_met/2024/bravo_met_20240602T000000_v1.nc --to icartt --out exchange/
    crac export bravo_met --config demo/crac.yaml --to nasa_ames --start 2024-06-02 --end 2024-06-03
    crac export bravo_met -c demo/crac.yaml --to csv --units-row --variables AirTC_Avg,RH
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CracError


@click.command()
@click.argument("product")
@click.option("--to", "to", required=True, type=click.Choice(["icartt", "nasa_ames", "indoex", "csv"]),
              help="Exchange format (indoex = JOSS header-then-columns text).")
@click.option("--start", default=None, help="Only records at or after START (ISO date/time, UTC).")
@click.option("--end", default=None, help="Only records before END (ISO date/time, UTC).")
@click.option("--variables", default=None, help="Comma-separated variables (default: every numeric one).")
@click.option("--out", "out", default=".", show_default=True, type=click.Path(path_type=Path),
              help="Folder to write into.")
@click.option("--config", "-c", "config", default="crac.yaml", show_default=True, type=click.Path(path_type=Path),
              help="The project's crac.yaml, when PRODUCT is a catalog entry name.")
@click.option("--units-row", is_flag=True, help="CSV: add a row of units under the header.")
@click.option("--missing", default="", help="CSV: text of a missing value (default: empty field).")
@click.option("--time-label", type=click.Choice(["start", "end"]), default="start", show_default=True,
              help="ICARTT: whether the product's time stamps mark the start or the end of each interval.")
@click.option("--no-scale", is_flag=True, help="ICARTT/NASA Ames: never store reals as scaled integers.")
def export(product: str, to: str, start: str | None, end: str | None, variables: str | None, out: Path,
           config: Path, units_row: bool, missing: str, time_label: str, no_scale: bool) -> None:
    """Export PRODUCT (a product file or a catalog entry name) as ICARTT, NASA Ames, JOSS or CSV.

    Prints the path of every file written.
    """
    from . import export as run_export

    options: dict = {}
    if to == "csv":
        options.update(units_row=units_row, missing=missing)
    if to == "icartt":
        options["time_label"] = time_label
    if to in ("icartt", "nasa_ames"):
        options["allow_scale"] = not no_scale
    names = [v.strip() for v in variables.split(",") if v.strip()] if variables else None
    try:
        paths = run_export(product, to, out, start=start, end=end, variables=names, config=config, **options)
    except (CracError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    for p in paths:
        click.echo(str(p))
