"""``flask --app wsgi ...`` commands: each calls a service and prints what it did.

    flask --app wsgi portal sync        pull the portal's users and departments now
    flask --app wsgi events process     process every pending inbox event here and now
    flask --app wsgi events reconcile   re-queue stuck inbox events (what the tick does)
    flask --app wsgi events poll        read the portal's offline event queue once
"""

from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup

portal_cli = AppGroup("portal", help="The portal this extension serves.")
events_cli = AppGroup("events", help="The event inbox.")


@portal_cli.command("sync")
def portal_sync() -> None:
    """Pull every user and department from the portal."""
    from portal_ext.directory.services import sync_directory
    from portal_ext.portal.registration import client_for, current_portal, utcnow

    portal = current_portal()
    counts = sync_directory(portal=portal, client=client_for(portal), now=utcnow())
    click.echo(json.dumps(counts))


@events_cli.command("process")
@click.option("--limit", type=int, default=None, help="Process at most this many events.")
def events_process(limit: int | None) -> None:
    """Process every pending event now, in this process."""
    from portal_ext.events.processing import process_pending

    click.echo(json.dumps(process_pending(limit=limit)))


@events_cli.command("reconcile")
def events_reconcile() -> None:
    """Re-queue events whose processing is stuck or due for a retry."""
    from portal_ext import jobs
    from portal_ext.events.processing import reconcile
    from portal_ext.portal.registration import utcnow

    queued = reconcile(now=utcnow())
    jobs.wait_idle(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(json.dumps({"queued": queued}))


@events_cli.command("poll")
def events_poll() -> None:
    """Read the portal's offline event queue once (event.offline.get, then clear)."""
    from portal_ext.events.offline import poll_offline
    from portal_ext.portal.registration import current_portal

    click.echo(json.dumps({"read": poll_offline(current_portal())}))


def init_app(app: Flask) -> None:
    app.cli.add_command(portal_cli)
    app.cli.add_command(events_cli)
    from portal_ext.handover.cli import handover_cli

    app.cli.add_command(handover_cli)
