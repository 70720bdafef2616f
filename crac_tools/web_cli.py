"""``crac serve`` (the on-line field catalog) and ``crac publish DIR`` (its static public mirror)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .config import load_project


@click.command()
@click.option("--config", "config", default="crac.yaml", show_default=True, type=click.Path(path_type=Path),
              help="The project's crac.yaml (with a serve: section).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every network interface, e.g. the field LAN).")
@click.option("--port", default=8050, show_default=True, type=int)
@click.option("--set-password", "set_password", metavar="USER", default=None,
              help="Set USER's password (prompted; revokes USER's sessions and tokens) and exit.")
@click.option("--new-token", "new_token", metavar="USER", default=None,
              help="Create a script token for USER, print it once and exit.")
@click.option("--hash-password", "hash_only", is_flag=True,
              help="Print a password hash for serve.users.<name>.password_hash (prompted) and exit.")
def serve(config: Path, host: str, port: int, set_password: str | None, new_token: str | None,
          hash_only: bool) -> None:
    """Run the field catalog: browse, plot, report, download; embargoed data only for members.

    Examples
    --------
    ``crac serve --config crac.yaml --host 0.0.0.0 --port 8050``
    """
    from .web.auth import hash_password

    if hash_only:
        pw = click.prompt("password", hide_input=True, confirmation_prompt=True)
        click.echo(hash_password(pw))
        return
    project = load_project(config)
    from .web.site import Site

    if set_password or new_token:
        site = Site(project)
        now = dt.datetime.now(dt.UTC)
        if set_password:
            pw = click.prompt(f"new password for {set_password}", hide_input=True, confirmation_prompt=True)
            try:
                site.auth.set_password(set_password, pw, now)
            except (KeyError, ValueError) as exc:
                raise click.ClickException(str(exc)) from None
            site.audit.write("password-changed", now, user=set_password, via="cli")
            click.echo(f"password of {set_password} set; their sessions and tokens are revoked")
        if new_token:
            try:
                token = site.auth.new_token(new_token, "cli", now)
            except KeyError as exc:
                raise click.ClickException(str(exc)) from None
            site.audit.write("token-created", now, user=new_token, via="cli")
            click.echo(token)
        return
    import uvicorn

    from .web.app import create_app

    app = create_app(project)
    click.echo(f"field catalog of {project.config.project.name} on http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)


@click.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--config", "config", default="crac.yaml", show_default=True, type=click.Path(path_type=Path))
def publish(out_dir: Path, config: Path) -> None:
    """Write a static public mirror (HTML + data files) of what is public now into OUT_DIR.

    Examples
    --------
    ``crac publish /srv/www/campaign --config crac.yaml``
    """
    from .web.publish import publish as do_publish

    try:
        path = do_publish(load_project(config), out_dir)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"public mirror written to {path}")
