"""``flask --app wsgi demo``: the extension beside a living simulated portal, on one port.

Seeds the demo portal when the simulator is empty, pulls its users into the extension, prints
who can log in, then serves everything while a scenario plays a day of portal life (new leads,
calls, e-mails, task changes) so notifications keep arriving.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import click
from flask import current_app
from werkzeug.serving import run_simple


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
@click.option("--life-interval", default=4.0, show_default=True,
              help="Seconds between two scenario steps; 0 keeps the portal still.")
def demo_command(host: str, port: int, life_interval: float) -> None:
    """Seed (if empty), sync, print the logins and serve the demo."""
    from portal_ext import jobs
    from portal_ext.directory.models import PortalUser
    from portal_ext.directory.services import sync_directory
    from portal_ext.extensions import db
    from portal_ext.portal.registration import client_for, current_portal, utcnow
    from simulator import db as sim_db
    from simulator.scenarios.life import run_life

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not os.environ.get("PORTAL_EXT_NOTIFICATION_LANGUAGE"):
        app.config["NOTIFICATION_LANGUAGE"] = "ru"  # the demo portal's people read Russian
    sim = app.extensions["simulator"]
    with sim.engine.connect() as conn:
        empty = conn.execute(sim_db.users.select().limit(1)).first() is None
    if empty:
        click.echo("Seeding the demo portal ...")
        sim.seed("demo")
    portal = current_portal()
    counts = sync_directory(portal=portal, client=client_for(portal), now=utcnow())
    users = db.session.scalars(db.select(PortalUser).where(PortalUser.portal_id == portal.id,
                                                           PortalUser.active.is_(True))
                               .order_by(PortalUser.portal_user_id)).all()
    expected = urlsplit(sim.portal_url)
    if (expected.hostname, expected.port or 80) != (host, port):
        click.secho(f"Note: the portal's address is {sim.portal_url}; log-in redirects go there."
                    " Set PORTAL_EXT_PORTAL_URL to match --host/--port.", fg="yellow")
    _print_banner(sim, users, counts, f"http://{host}:{port}")

    jobs.runner_for(app).start()
    stop = threading.Event()
    if life_interval > 0:
        threading.Thread(target=run_life, args=(sim,), daemon=True, name="portal-life",
                         kwargs={"interval": life_interval, "stop_event": stop}).start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        stop.set()
        jobs.runner_for(app).stop()


def _print_banner(sim: Any, users: Sequence[Any], counts: dict[str, Any], url: str) -> None:
    click.echo("")
    click.secho(f"Extension:          {url}/", bold=True)
    click.echo(f"Portal (simulator): {url}/portal/")
    click.echo(f"Portal webhook URL: {sim.webhook_url(1)}")
    click.echo(f"Synced from the portal: {counts}")
    click.echo("")
    click.echo("Log in with any of these (password: demo):")
    width = max((len(u.email) for u in users), default=10)
    for user in users:
        click.echo(f"  {user.email:<{width}}  {user.role:<8}  {user.full_name}"
                   f"{' - ' + user.work_position if user.work_position else ''}")
    click.echo("")
    click.echo("The portal is alive: a scenario adds leads, calls, e-mails and task changes.")
    click.echo("Press Ctrl+C to stop; the data stays in instance/.")
