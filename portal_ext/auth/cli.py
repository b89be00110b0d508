"""``flask token create EMAIL [--name NAME]``: issue an API token for a synced portal user and
print only the token (so ``TOKEN=$(flask token create ...)`` works); errors go to stderr
with exit code 1."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from portal_ext.auth.tokens import TokenError, issue_token
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.portal.clock import host_utcnow
from portal_ext.portal.registration import current_portal

token_cli = AppGroup("token", help="API tokens.")


@token_cli.command("create")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
def create_token(email: str, name: str) -> None:
    """Issue an API token for the user with EMAIL."""
    portal = current_portal()
    user = db.session.scalars(
        select(PortalUser).where(PortalUser.portal_id == portal.id,
                                 func.lower(PortalUser.email) == email.strip().lower())
    ).first()
    if user is None:
        click.echo(f"Error: no synced portal user with the e-mail {email!r}.", err=True)
        raise SystemExit(1)
    try:
        plain = issue_token(portal=portal, user=user, name=name, now=host_utcnow())
    except TokenError as error:
        click.echo(f"Error: {error.field}: {error.message}", err=True)
        raise SystemExit(1) from error
    click.echo(plain)


def init_app(app: Flask) -> None:
    app.cli.add_command(token_cli)
