"""``flask --app wsgi ...`` commands: each calls a service and prints what it did.

    flask --app wsgi portal sync        pull the portal's users and departments now
    flask --app wsgi events process     process every pending inbox event here and now
    flask --app wsgi events reconcile   re-queue stuck inbox events (what the tick does)
    flask --app wsgi events poll        read the portal's offline event queue once
    flask --app wsgi events bind --url https://ext.example.com/events/webhook
                                        subscribe this extension to the portal's events
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
    from portal_ext.portal.clock import host_utcnow
    from portal_ext.portal.registration import client_for, current_portal

    portal = current_portal()
    counts = sync_directory(portal=portal, client=client_for(portal), now=host_utcnow())
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
    from portal_ext.portal.clock import host_utcnow

    queued = reconcile(now=host_utcnow())
    jobs.wait_idle(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(json.dumps({"queued": queued}))


@events_cli.command("poll")
def events_poll() -> None:
    """Read the portal's offline event queue once (event.offline.get, then clear)."""
    from portal_ext.events.offline import poll_offline
    from portal_ext.portal.registration import current_portal

    click.echo(json.dumps({"read": poll_offline(current_portal())}))


@events_cli.command("bind")
@click.option("--url", "handler_url", default="",
              help="This extension's public webhook address, ending in /events/webhook.")
@click.option("--offline", is_flag=True,
              help="Bind the portal's offline queue instead (read by the tick when "
                   "PORTAL_EXT_OFFLINE_POLL is on).")
@click.option("--event", "names", multiple=True,
              help="Bind only this event (repeatable); default: every event the extension "
                   "handles that the portal offers.")
def events_bind(handler_url: str, offline: bool, names: tuple[str, ...]) -> None:
    """Subscribe the extension to the portal's events (event.bind); binding again binds
    nothing new."""
    from portal_ext.events.bindings import ensure_bindings, offered_events
    from portal_ext.events.handlers import handled_events
    from portal_ext.portal.errors import PortalError
    from portal_ext.portal.registration import client_for, current_portal

    if not offline and not handler_url.lower().startswith(("https://", "http://")):
        raise click.BadParameter("give the extension's public address, "
                                 "https://<host>/events/webhook", param_hint="--url")
    client = client_for(current_portal())
    try:
        offered = offered_events(client)
        wanted = sorted({name.upper() for name in names} or handled_events())
        unknown = [name for name in wanted if name not in offered]
        if names and unknown:
            raise click.BadParameter(f"the portal does not offer {', '.join(unknown)}",
                                     param_hint="--event")
        events = [name for name in wanted if name in offered]
        bound = ensure_bindings(client, handler_url, events, offline=offline)
    except PortalError as error:
        raise click.ClickException(f"the portal refused: {error}") from error
    click.echo(json.dumps({"bound": bound, "already": sorted(set(events) - set(bound)),
                           "not_offered": unknown}))


def init_app(app: Flask) -> None:
    app.cli.add_command(portal_cli)
    app.cli.add_command(events_cli)
    from portal_ext.handover.cli import handover_cli

    app.cli.add_command(handover_cli)
