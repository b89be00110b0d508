"""Transfer pages (administrators): dismissed users waiting for a transfer, the transfer form,
the preview with counts per type and per successor, confirm, progress, report, undo within the
period, and the automatic-mode settings. Views stay short: services decide, templates show."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from portal_ext.auth.roles import role_required
from portal_ext.blueprints import confirmation, moves_view
from portal_ext.blueprints.batch_grid import batch_grid, batch_query
from portal_ext.blueprints.refusals import refuse_on_page
from portal_ext.blueprints.transfers import bp
from portal_ext.blueprints.transfers.forms import (
    NOBODY,
    ActionForm,
    PolicyForm,
    TransferForm,
    choices,
    per_type_field,
)
from portal_ext.context import Context, here
from portal_ext.directory.models import Department
from portal_ext.errors import INVALID, Refusal, each_refusal
from portal_ext.extensions import db
from portal_ext.handover.failures import failed_counts
from portal_ext.handover.report import COLUMNS, build_report
from portal_ext.moves.models import APPLIED, PREVIEW, TRANSFER, MoveBatch
from portal_ext.moves.portal_text import clean, explained
from portal_ext.moves.types import ENTITY_TYPES as KINDS
from portal_ext.portal.errors import PortalError
from portal_ext.transfers import auto_mode, report, services, successors
from portal_ext.transfers.strategies import ENTITY_TYPES


def _labels() -> dict[str, Any]:
    return {"type_labels": {name: KINDS[name].label for name in ENTITY_TYPES},
            "batch_state_labels": {
                "preview": _("preview"), "applying": _("moving"),
                "applied": _("transferred"), "restoring": _("undoing"),
                "restored": _("undone"), "failed": _("failed"), "cancelled": _("cancelled")},
            "column_labels": {
                "planned": _("to move"), "moved": _("moved"), "restored": _("given back"),
                "conflicts": _("conflicts"), "skipped": _("skipped"), "missing": _("deleted"),
                "failed": _("failed")},
            "skip_labels": {"dismissed": _("dismissed"), "absent": _("away now"),
                            "the dismissed user": _("the user themselves")},
            "strategy_labels": {
                "person": _("one named person"), "head": _("the department head"),
                "spread": _("spread by load"), "per_type": _("a successor per type"),
                "auto": _("automatic change of responsible")}}


def _undo_days() -> int:
    return services.undo_days(current_app.config)


def _batch_or_404(h: Context, batch_id: int) -> MoveBatch:
    batch = report.transfer_of(h.portal.id, batch_id)
    if batch is None:
        abort(404)
    return batch


@bp.get("/")
@role_required("admin")
def index() -> Any:
    h = here()
    names = h.names()
    labels = _labels()
    strategies = labels["strategy_labels"]

    def how(batch: MoveBatch) -> str:
        strategy = (batch.options or {}).get("strategy")
        text = str(strategies.get(strategy, strategy or ""))
        if batch.to_user_id:
            text += f" → {names.get(batch.to_user_id, f'#{batch.to_user_id}')}"
        return text

    grid = batch_grid(names=names, people=None, tz=h.tz,
                      state_labels=labels["batch_state_labels"], third=(_("How"), how),
                      filename="transfers").read()
    source = batch_query(h.portal.id, TRANSFER, None)
    if grid.csv:
        return grid.export(source)
    page = grid.paged(source)
    pending, others = report.waiting(h.portal.id)
    return render_template(
        "transfers/index.html", pending=pending, others=others, grid=grid, page=page,
        held=_still_held(h, [row.user_id for row in pending]
                         + [user.portal_user_id for user in others]),
        failed_by_batch=failed_counts(page.items), names=names,
        policy=auto_mode.get_policy(h.portal.id), action_form=ActionForm(), **labels)


def _still_held(h: Context, user_ids: list[int]) -> dict[int, dict[str, int]] | None:
    """What each dismissed user still holds, per type, read in one batch (None: the portal
    did not answer; the list shows without the numbers)."""
    if not user_ids:
        return {}
    try:
        return successors.holdings(h.client, user_ids, ENTITY_TYPES)
    except PortalError:
        return None


def _fill_choices(form: TransferForm, h: Context) -> None:
    everyone = sorted(h.names().items(), key=lambda kv: kv[1])
    active: list[tuple[object, object]] = [(p.portal_user_id, p.full_name)
                                           for p in h.active_people()]
    nobody: list[tuple[object, object]] = [(NOBODY, "—")]
    form.user_id.choices = choices(list(everyone))
    form.successor_id.choices = choices(nobody + active)
    form.successor_ids.choices = choices(active)
    form.department_id.choices = choices(nobody + [
        (d.portal_department_id, d.name) for d in db.session.scalars(select(Department).where(
            Department.portal_id == h.portal.id).order_by(Department.portal_department_id))])
    for name in ENTITY_TYPES:
        getattr(form, per_type_field(name)).choices = choices(nobody + active)


def _input(form: TransferForm) -> services.TransferInput:
    strategy = form.strategy.data or ""
    data = services.TransferInput(user_id=form.user_id.data or None, strategy=strategy,
                                  types=list(form.types.data or []),
                                  include_closed=bool(form.include_closed.data))
    if strategy == "person":
        data.successors = [form.successor_id.data] if form.successor_id.data else []
    elif strategy == "spread":
        data.successors = [uid for uid in form.successor_ids.data or [] if uid]
    elif strategy == "spread_department":
        data.strategy = "spread"
        data.department_id = form.department_id.data or None
    elif strategy == "per_type":
        data.per_type = {name: getattr(form, per_type_field(name)).data
                         for name in data.types or [] if getattr(form, per_type_field(name)).data}
    return data


def _form_fields(form: TransferForm) -> dict[str, str | None]:
    """A refusal's ``successors`` is the one successor or the chosen ones, as the strategy
    shows them (else flashed); the services' names of the other inputs are the form's."""
    return {"successors": {"person": "successor_id", "spread": "successor_ids"}.get(
        form.strategy.data or "")}


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin")
def new() -> Any:
    h = here()
    form = TransferForm()
    _fill_choices(form, h)
    if request.method == "GET":
        form.user_id.data = request.args.get("user", type=int)
        form.types.data = list(ENTITY_TYPES)
        return render_template("transfers/new.html", form=form, **_labels())
    if form.strategy.data == "spread_department" and not form.department_id.data:
        form.department_id.errors = [_("Choose a department.")]
    elif form.validate_on_submit():
        try:
            batch = services.create_transfer(portal=h.portal, client=h.client,
                                             actor=h.actor,
                                             data=_input(form), now=h.now)
        except Refusal as error:
            refuse_on_page(error, form, fields=_form_fields(form))
        except PortalError as exc:
            db.session.rollback()
            flash(_("The portal did not answer; nothing was changed: %(error)s",
                    error=_problem(exc)),
                  "error")
        else:
            return redirect(url_for("transfers.show", batch_id=batch.id))
    return render_template("transfers/new.html", form=form, **_labels()), 422


@bp.get("/<int:batch_id>")
@role_required("admin")
def show(batch_id: int) -> Any:
    h = here()
    return _show_page(h, _batch_or_404(h, batch_id))


def _split_form(batch: MoveBatch, rows: list[dict[str, Any]], values: dict[str, str] | None,
                errors: dict[str, list[str]] | None) -> dict[str, Any] | None:
    """The preview's adjustable split (a spread over several people): the inputs per
    successor and type with their values (as typed, after a refusal) and errors."""
    if batch.state != PREVIEW or (batch.options or {}).get("strategy") != "spread" \
            or len(rows) < 2:
        return None
    planned = moves_view.planned_by_type(batch.id)
    kinds = [name for name in batch.types if planned.get(name)]
    cells = {services.split_field(row["user_id"], name): str(row["received"].get(name, 0))
             for row in rows for name in kinds}
    return {"kinds": kinds, "planned": planned, "field": services.split_field,
            "values": {**cells, **(values or {})}, "errors": errors or {}}


def _show_page(h: Context, batch: MoveBatch, *, split_values: dict[str, str] | None = None,
               split_errors: dict[str, list[str]] | None = None) -> Any:
    names, days = h.names(), _undo_days()
    rows = report.successor_rows(batch)
    return render_template(
        "transfers/show.html", batch=batch, status=moves_view.run_status(batch, "transfer"),
        title=_("Transfer of %(name)s's items",
                name=names.get(batch.owner_id, f"#{batch.owner_id}")),
        last_problem=_problem(batch.error) if batch.error else "",
        columns=COLUMNS,
        report=build_report(batch, h.links, names=names),
        successor_rows=rows, names=names,
        split=_split_form(batch, rows, split_values, split_errors),
        decision=(batch.options or {}).get("decision") or {},
        undo_until=services.undo_until(batch, days), undo_days=days,
        can_undo=report.can_undo(batch, now=h.now, days=days), action_form=ActionForm(),
        **_labels())


@bp.post("/<int:batch_id>/split")
@role_required("admin")
def split(batch_id: int) -> Any:
    """Adjust a previewed spread: how many items of each type each successor gets."""
    h = here()
    batch = _batch_or_404(h, batch_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    wanted: dict[int, dict[str, str]] = {}
    values: dict[str, str] = {}
    for key, value in request.form.items():
        prefix, _sep, rest = key.partition("-")
        user_id, _sep, name = rest.partition("-")
        if prefix == "split" and user_id.isdigit() and name:
            wanted.setdefault(int(user_id), {})[name] = value
            values[key] = value
    try:
        changed = services.adjust_split(batch=batch, wanted=wanted, actor=h.actor, now=h.now)
    except Refusal as error:
        db.session.rollback()
        if error.kind != INVALID:
            refuse_on_page(error)
            return redirect(url_for("transfers.show", batch_id=batch_id))
        errors: dict[str, list[str]] = {}
        for one in each_refusal(error):
            errors.setdefault(one.field or "", []).append(str(one.message))
        return _show_page(h, batch, split_values=values, split_errors=errors), 422
    flash(ngettext("The split was saved: %(num)d item goes to someone else.",
                   "The split was saved: %(num)d items go to someone else.", changed),
          "success")
    return redirect(url_for("transfers.show", batch_id=batch_id))


@bp.get("/<int:batch_id>/progress")
@role_required("admin")
def progress_json(batch_id: int) -> Any:
    """The engine's progress, the status in words and the progress block to show."""
    batch = _batch_or_404(here(), batch_id)
    status = moves_view.run_status(batch, "transfer")
    html = moves_view.progress_card(batch, status, url_for("transfers.progress_json",
                                                           batch_id=batch_id),
                                    url_for("transfers.show", batch_id=batch_id))
    return jsonify({**status, "html": html})


def _problem(error: object) -> str:
    sentence = explained(str(error))
    return str(sentence) if sentence is not None else clean(str(error))


def _apply_plan(h: Context, batch: MoveBatch) -> confirmation.Plan:
    names = h.names()
    planned = moves_view.planned_by_type(batch.id)
    count = sum(planned.values())
    rows = [row for row in report.successor_rows(batch) if row["total"]]
    owner = names.get(batch.owner_id, f"#{batch.owner_id}")
    to = (names.get(rows[0]["user_id"], f"#{rows[0]['user_id']}") if len(rows) == 1
          else moves_view.people_phrase(len(rows)))
    days = _undo_days()
    return confirmation.Plan(
        action=f"transfers.apply:{batch.id}",
        heading=_("Move %(items)s of %(kinds)s from %(owner)s to %(to)s?",
                  items=moves_view.items_phrase(count),
                  kinds=moves_view.kinds_phrase(len([n for n in planned if planned[n]])),
                  owner=owner, to=to),
        lines=[f"{names.get(row['user_id'], '#' + str(row['user_id']))}: "
               f"{moves_view.items_phrase(row['total'])}"
               + (" (" + ", ".join(f"{KINDS[name].label}: {row['received'][name]}"
                                   for name in batch.types if row["received"].get(name)) + ")"
                  if len(planned) > 1 else "") for row in rows],
        button=_("Confirm: move %(items)s", items=moves_view.items_phrase(count)),
        cancel_url=url_for("transfers.show", batch_id=batch.id),
        binding={"planned": planned, "state": batch.state,
                 "to": {str(row["user_id"]): row["received"] for row in rows}},
        way_back=ngettext("The way back: for %(num)d day the transfer's page offers “Undo "
                          "the transfer”.", "The way back: for %(num)d days the transfer's "
                          "page offers “Undo the transfer”.", days),
        title=_("Confirm the transfer"))


def _undo_plan(h: Context, batch: MoveBatch) -> confirmation.Plan:
    held = moves_view.held_count(batch.id)
    owner = h.names().get(batch.owner_id, f"#{batch.owner_id}")
    return confirmation.Plan(
        action=f"transfers.undo:{batch.id}",
        heading=_("Undo the transfer: %(items)s go back to %(owner)s?",
                  items=moves_view.items_phrase(held), owner=owner),
        lines=[_("%(items)s the successors still hold go back to %(owner)s.",
                 items=moves_view.items_phrase(held), owner=owner),
               _("Items someone else has taken since stay where they are.")],
        button=_("Confirm: undo the transfer"),
        cancel_url=url_for("transfers.show", batch_id=batch.id),
        binding={"state": batch.state, "held": held}, title=_("Confirm the undo"))


def _act(batch_id: int, action: str) -> Any:
    h = here()
    batch = _batch_or_404(h, batch_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    here_url = url_for("transfers.show", batch_id=batch.id)
    plan = (_apply_plan(h, batch) if action == "apply" and batch.state == PREVIEW
            else _undo_plan(h, batch) if action == "undo" and batch.state == APPLIED
            else moves_view.retry_plan(batch, action=f"transfers.retry:{batch.id}",
                                       cancel_url=here_url) if action == "retry"
            else moves_view.discard_plan(batch, action=f"transfers.discard:{batch.id}",
                                         cancel_url=here_url)
            if action == "discard" and batch.state == PREVIEW else None)
    if plan is not None and not confirmation.confirmed(plan):
        return confirmation.ask(plan)
    try:
        if action == "apply":
            services.apply_transfer(portal=h.portal, client=h.client, batch=batch,
                                    actor=h.actor, now=h.now)
            flash(_("The transfer has started."), "success")
        elif action == "retry":
            count = services.retry_transfer(batch=batch)
            flash(_("Trying %(count)s failed items again.", count=count), "success")
        elif action == "undo":
            services.undo_transfer(portal=h.portal, batch=batch, actor=h.actor, now=h.now,
                                   days=_undo_days())
            flash(_("Undoing the transfer has started."), "success")
        else:
            services.discard_transfer(batch=batch, now=h.now)
            flash(_("The preview was discarded; nothing moved."), "success")
            return redirect(url_for("transfers.index"))
    except Refusal as error:
        refuse_on_page(error)
    except PortalError as exc:
        db.session.rollback()
        flash(_("The portal did not answer: %(error)s", error=_problem(exc)), "error")
    return redirect(url_for("transfers.show", batch_id=batch_id))


@bp.post("/<int:batch_id>/apply")
@role_required("admin")
def apply(batch_id: int) -> Any:
    return _act(batch_id, "apply")


@bp.post("/<int:batch_id>/undo")
@role_required("admin")
def undo(batch_id: int) -> Any:
    return _act(batch_id, "undo")


@bp.post("/<int:batch_id>/retry")
@role_required("admin")
def retry(batch_id: int) -> Any:
    return _act(batch_id, "retry")


@bp.post("/<int:batch_id>/discard")
@role_required("admin")
def discard(batch_id: int) -> Any:
    return _act(batch_id, "discard")


@bp.post("/dismissals/<int:dismissal_id>/close")
@role_required("admin")
def close_dismissal(dismissal_id: int) -> Any:
    """Nothing to transfer for this person: take them off the waiting list."""
    h = here()
    row = services.dismissal_of(h.portal.id, dismissal_id)
    if row is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        return redirect(url_for("transfers.index"))
    if services.rules.may_close(row.state):
        held = _still_held(h, [row.user_id])
        count = sum((held or {}).get(row.user_id, {}).values())
        name = h.names().get(row.user_id, f"#{row.user_id}")
        plan = confirmation.Plan(
            action=f"transfers.close_dismissal:{row.id}",
            heading=_("Take %(name)s off the list without a transfer?", name=name),
            lines=[_("%(name)s still holds %(items)s; they stay with %(name)s.", name=name,
                     items=moves_view.items_phrase(count)) if held is not None else
                   _("The portal did not answer: what %(name)s still holds is unknown.",
                     name=name),
                   _("A transfer can still be made later from “New transfer”.")],
            button=_("Confirm: take off the list"),
            cancel_url=url_for("transfers.index"), binding={"held": count},
            title=_("Confirm taking off the list"))
        if not confirmation.confirmed(plan):
            return confirmation.ask(plan)
    if services.close_dismissal(dismissal=row, actor=h.actor, now=h.now):
        flash(_("Taken off the list."), "success")
    return redirect(url_for("transfers.index"))


@bp.route("/settings", methods=["GET", "POST"])
@role_required("admin")
def settings() -> Any:
    h = here()
    policy = auto_mode.get_policy(h.portal.id)
    form = PolicyForm(obj=policy if request.method == "GET" else None)
    form.successor_id.choices = choices([(NOBODY, "—")] + [
        (p.portal_user_id, p.full_name) for p in h.active_people()])
    if request.method == "POST" and form.validate_on_submit():
        try:
            auto_mode.save_policy(
                portal=h.portal, actor=h.actor, now=h.now,
                on_dismissal=form.on_dismissal.data or "", auto_mode=bool(form.auto_mode.data),
                auto_on_absence=bool(form.auto_on_absence.data),
                strategy=form.strategy.data or "", successor_id=form.successor_id.data or None,
                include_closed=bool(form.include_closed.data))
        except Refusal as error:
            refuse_on_page(error, form)
        else:
            flash(_("The transfer settings were saved."), "success")
            return redirect(url_for("transfers.settings"))
        return render_template("transfers/settings.html", form=form, policy=policy), 422
    return render_template("transfers/settings.html", form=form, policy=policy)
