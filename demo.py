"""``flask --app wsgi demo``: the extension beside a living simulated portal, on one port.

Seeds the demo portal when the simulator is empty, pulls its users into the extension, prints
who can log in, then serves everything while a scenario plays a day of portal life (new leads,
calls, e-mails, task changes) so notifications keep arriving.

The portal's address is ``http://<--host>:<--port>`` (``PORTAL_EXT_PORTAL_URL`` when set, e.g.
a public name in front of the demo); a host that means "every interface" is shown as
127.0.0.1. Listening beyond loopback, the demo guards the portal's control plane ``/_sim/``
with a token (``PORTAL_SIM_CONTROL_TOKEN``, else one made once and kept with the portal) and
prints it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

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
    from portal_ext.portal.clock import host_utcnow
    from portal_ext.portal.registration import client_for, current_portal
    from simulator.scenarios.life import run_life
    from simulator.users import tables as users_tables
    from simulator.web.control import guard_beyond_loopback
    from wsgi import serve_portal_at

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    sim = app.extensions["simulator"]
    serve_portal_at(app, os.environ.get("PORTAL_EXT_PORTAL_URL") or address_of(host, port))
    control_token = guard_beyond_loopback(app.extensions["simulator_web"], host)
    with sim.engine.connect() as conn:
        empty = conn.execute(users_tables.users.select().limit(1)).first() is None
    if empty:
        click.echo("Seeding the demo portal ...")
        sim.seed("demo")
    portal = current_portal()
    counts = sync_directory(portal=portal, client=client_for(portal), now=host_utcnow())
    from portal_ext.distribution.demo_setup import set_up_demo

    set_up_demo(portal=portal, client=client_for(portal), actor=None, now=host_utcnow())
    from portal_ext.context import for_portal
    from portal_ext.robots.demo_setup import set_up_demo as set_up_robots

    set_up_robots(for_portal(portal))
    users = db.session.scalars(db.select(PortalUser).where(PortalUser.portal_id == portal.id,
                                                           PortalUser.active.is_(True))
                               .order_by(PortalUser.portal_user_id)).all()
    if host in WILDCARD_HOSTS and not os.environ.get("PORTAL_EXT_PORTAL_URL"):
        click.secho(f"Note: the portal's address is {sim.portal_url}; log-in redirects go there."
                    " Set PORTAL_EXT_PORTAL_URL to the address others use.", fg="yellow")
    _print_banner(sim, users, counts, sim.portal_url, control_token)

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


WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def address_of(host: str, port: int) -> str:
    """The URL a browser on this machine uses for a server listening on ``host:port``."""
    shown = "127.0.0.1" if host in WILDCARD_HOSTS else host
    if ":" in shown:  # an IPv6 address
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _print_banner(sim: Any, users: Sequence[Any], counts: dict[str, Any], url: str,
                  control_token: str | None) -> None:
    click.echo("")
    click.secho(f"Extension:          {url}/", bold=True)
    click.echo(f"Portal (simulator): {url}/portal/")
    click.echo(f"Portal webhook URL: {sim.webhook_url(1)}")
    if control_token:
        click.echo(f"Control token:      {control_token}  (send as 'X-Sim-Token' to {url}/_sim/)")
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
