"""``flask --app wsgi handover ...``: run a handover's moves here, with a progress bar.

    flask --app wsgi handover apply ID      confirm a preview (or resume) and move its items
    flask --app wsgi handover restore ID    give everything still with the deputy back
    flask --app wsgi handover show ID       the state and the counts per type, as JSON

The command does the work in this process, chunk after chunk, through the same engine as the
background jobs; if a worker already holds the batch, the bar follows that worker instead.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from tqdm import tqdm

from portal_ext.extensions import db
from portal_ext.handover import services
from portal_ext.handover.errors import HandoverError
from portal_ext.moves import engine
from portal_ext.moves.models import APPLYING, PREVIEW, RESTORING, SCHEDULED, MoveBatch
from portal_ext.portal.clock import portal_now
from portal_ext.portal.models import Portal
from portal_ext.portal.registration import client_for

handover_cli = AppGroup("handover", help="Handovers of a client base (and transfers).")


def _batch(batch_id: int) -> MoveBatch:
    batch = db.session.get(MoveBatch, batch_id)
    if batch is None:
        raise click.ClickException(f"There is no handover {batch_id}.")
    return batch


def _drive(batch: MoveBatch, state: str) -> dict[str, Any]:
    portal = db.session.get(Portal, batch.portal_id)
    assert portal is not None
    client = client_for(portal)
    step = engine.apply_chunk if state == APPLYING else engine.restore_chunk
    size = int(current_app.config.get("HANDOVER_CHUNK_SIZE", 2500))
    lease = float(current_app.config.get("HANDOVER_LEASE_SECONDS",
                                         engine.DEFAULT_LEASE_SECONDS))
    status = engine.progress(batch)
    label = "handing over" if state == APPLYING else "giving back"
    with tqdm(total=status["total"], initial=status["done"], unit="item", desc=label,
              dynamic_ncols=True, file=sys.stderr) as bar:
        while True:
            processed = step(batch.id, client=client, now=portal_now(client), size=size,
                             lease_seconds=lease)
            db.session.refresh(batch)
            status = engine.progress(batch)
            bar.total = status["total"]
            bar.update(status["done"] - bar.n)
            if batch.state != state:
                break
            if not processed:
                time.sleep(0.5)  # another worker holds the batch: follow it
    click.echo(err=True)  # end the bar's line
    return status


@handover_cli.command("apply")
@click.argument("batch_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def apply_command(batch_id: int, yes: bool) -> None:
    """Confirm a previewed handover and move its items now, even if the absence has not
    started yet (or resume one left moving)."""
    batch = _batch(batch_id)
    if batch.state in (PREVIEW, SCHEDULED):
        total = sum((batch.counts or {}).values())
        if not yes:
            click.confirm(f"Move {total} items of user {batch.owner_id} to user "
                          f"{batch.to_user_id}?", abort=True)
        client = client_for(db.session.get(Portal, batch.portal_id))  # type: ignore[arg-type]
        services.apply_handover(batch=batch, actor=None, confirmed=True,
                                now=portal_now(client), enqueue=False,
                                start=services.START_NOW)
    elif batch.state != APPLYING:
        raise click.ClickException(f"Handover {batch_id} is {batch.state}; nothing to apply.")
    click.echo(json.dumps(_drive(batch, APPLYING)))


@handover_cli.command("restore")
@click.argument("batch_id", type=int)
def restore_command(batch_id: int) -> None:
    """Give back every item of the handover still with the deputy."""
    batch = _batch(batch_id)
    client = client_for(db.session.get(Portal, batch.portal_id))  # type: ignore[arg-type]
    if batch.state != RESTORING:
        try:
            services.restore_handover(batch=batch, actor=None, client=client,
                                      now=portal_now(client), enqueue=False)
        except HandoverError as error:
            raise click.ClickException(str(error.message)) from None
    click.echo(json.dumps(_drive(batch, RESTORING)))


@handover_cli.command("show")
@click.argument("batch_id", type=int)
def show_command(batch_id: int) -> None:
    """The handover's state, progress and counts per type."""
    click.echo(json.dumps(engine.progress(_batch(batch_id))))
