"""Handover pages. Views stay short: services decide, templates show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user

from portal_ext import moves
from portal_ext.absences.services import absence_of
from portal_ext.absences.validation import person
from portal_ext.auth.roles import role_required
from portal_ext.blueprints import confirmation, moves_view
from portal_ext.blueprints.batch_grid import batch_grid, batch_query
from portal_ext.blueprints.handover import bp
from portal_ext.blueprints.handover.forms import (
    ActionForm,
    ConfirmForm,
    HandoverForm,
    PolicyForm,
    StartNowForm,
)
from portal_ext.blueprints.refusals import refuse_on_page
from portal_ext.context import Context, here
from portal_ext.directory.access import visible_users
from portal_ext.errors import CONFLICT, Refusal
from portal_ext.extensions import db
from portal_ext.handover import services
from portal_ext.handover.failures import failed_counts
from portal_ext.handover.policy import policy_for, save_policy
from portal_ext.handover.report import COLUMNS, build_report, samples
from portal_ext.i18n import reader_language
from portal_ext.moves.models import (
    APPLIED,
    APPLYING,
    HANDOVER,
    PREVIEW,
    RESTORED,
    SCHEDULED,
    MoveBatch,
)
from portal_ext.moves.portal_text import clean, explained
from portal_ext.moves.types import ENTITY_TYPES, TYPE_NAMES
from portal_ext.portal.errors import PortalError

ALL_ROWS = 1_000_000  # every visible person: the grid pages the handovers, not the people


def _batch_or_404(h: Context, batch_id: int) -> MoveBatch:
    batch = services.handover_of(h.portal, batch_id)
    if batch is None:
        abort(404)
    if not services.may_manage(current_user, batch):
        abort(403)
    return batch


def _labels() -> dict[str, Any]:
    return {"type_labels": {name: kind.label for name, kind in ENTITY_TYPES.items()},
            "batch_state_labels": {
                "preview": _("preview"), "scheduled": _("waiting for the absence"),
                "applying": _("moving"), "applied": _("with the deputy"),
                "restoring": _("giving back"), "restored": _("given back"),
                "failed": _("failed"), "cancelled": _("cancelled")},
            "column_labels": {
                "planned": _("to move"), "moved": _("moved"), "restored": _("given back"),
                "conflicts": _("conflicts"), "skipped": _("skipped"), "missing": _("deleted"),
                "failed": _("failed")}}


@bp.get("/")
@role_required("admin", "head")
def index() -> Any:
    h = here()
    names = h.names()
    _batches, absences = services.handover_overview(h.portal, current_user, now=h.now)
    owners = None if current_user.is_admin else [
        u.portal_user_id for u in visible_users(portal=h.portal, viewer=current_user,
                                                per_page=ALL_ROWS).items]
    labels = _labels()
    grid = batch_grid(
        names=names, people=owners, tz=h.tz, state_labels=labels["batch_state_labels"],
        third=(_("To"), lambda b: names.get(b.to_user_id, f"#{b.to_user_id}")
               if b.to_user_id else ""), filename="handovers").read()
    source = batch_query(h.portal.id, HANDOVER, owners)
    if grid.csv:
        return grid.export(source)
    page = grid.paged(source)
    policy = policy_for(h.portal.id)
    policy_form = PolicyForm(obj=policy) if current_user.is_admin else None
    return render_template("handover/index.html", grid=grid, page=page, absences=absences,
                           failed_by_batch=failed_counts(page.items),
                           names=names, tz=h.tz, policy_form=policy_form,
                           deputies={a.id: services.deputy_for(a) for a in absences},
                           **labels)


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin", "head")
def new() -> Any:
    h = here()
    absence_id = request.args.get("absence", type=int)
    absence = absence_of(portal_id=h.portal.id, absence_id=absence_id) if absence_id else None
    if absence is None:
        abort(404)
    if not services.may_hand_over(current_user, absence.user_id):
        abort(403)
    form = HandoverForm()
    if request.method == "GET":
        form.types.data = list(TYPE_NAMES)
        return render_template("handover/new.html", form=form, absence=absence,
                               deputy=services.deputy_for(absence), names=h.names(), tz=h.tz)
    if form.validate_on_submit():
        try:
            batch = services.preview_handover(
                portal=h.portal, client=h.client, actor=h.actor, absence_id=absence.id,
                types=form.types.data, include_closed=form.include_closed.data,
                include_new_leads=form.include_new_leads.data, now=h.now)
        except Refusal as error:
            if error.kind == CONFLICT:
                existing = services.existing_handover(h.portal.id, absence.id)
                if existing is not None:
                    flash(str(error.message), "warning")
                    return redirect(url_for("handover.show", batch_id=existing.id))
            refuse_on_page(error, form)
        except PortalError as exc:
            flash(_("The portal did not answer; nothing was changed: %(error)s",
                    error=_problem(str(exc))),
                  "error")
        else:
            return redirect(url_for("handover.show", batch_id=batch.id))
    return render_template("handover/new.html", form=form, absence=absence,
                           deputy=services.deputy_for(absence), names=h.names(), tz=h.tz), 422


@bp.get("/<int:batch_id>")
@role_required("admin", "head")
def show(batch_id: int) -> Any:
    h = here()
    batch = _batch_or_404(h, batch_id)
    links, names = h.links, h.names()
    absence = _absence(h, batch)
    return render_template(
        "handover/show.html", batch=batch, status=moves_view.run_status(batch, "handover"),
        report=build_report(batch, links, names=names), columns=COLUMNS,
        samples=samples(batch, links) if batch.state == "preview" else {},
        absence=absence, title=_title(h, batch, absence), last_problem=_problem(batch.error),
        conflict_holders=_conflict_holders(h, batch) if batch.state == RESTORED else {},
        owner_told_at=_told_at(batch),
        names=names, tz=h.tz, confirm_form=ConfirmForm(), action_form=ActionForm(),
        start_now_form=StartNowForm(), now=h.now, **_labels())


def _absence(h: Context, batch: MoveBatch) -> Any:
    if batch.absence_id is None:
        return None
    return absence_of(portal_id=h.portal.id, absence_id=batch.absence_id)


def _title(h: Context, batch: MoveBatch, absence: Any) -> str:
    """``Handover of Ольга Никитина's clients, 10–23 Dec``."""
    name = h.names().get(batch.owner_id, f"#{batch.owner_id}")
    if absence is None:
        return _("Handover of %(name)s's clients", name=name)
    return _("Handover of %(name)s's clients, %(days)s", name=name, days=moves_view.day_range(
        absence.first_day(h.tz), absence.last_day(h.tz)))


def _problem(error: str | None) -> str:
    """The batch's last problem as plain text, explained in the page's language if known."""
    sentence = explained(error)
    return str(sentence) if sentence is not None else clean(error)


@bp.get("/<int:batch_id>/progress")
@role_required("admin", "head")
def progress_json(batch_id: int) -> Any:
    """The engine's progress, the status in words and the progress block to show."""
    batch = _batch_or_404(here(), batch_id)
    status = moves_view.run_status(batch, "handover")
    html = moves_view.progress_card(batch, status, url_for("handover.progress_json",
                                                           batch_id=batch_id),
                                    url_for("handover.show", batch_id=batch_id))
    return jsonify({**status, "html": html})


def _names(h: Context, batch: MoveBatch) -> tuple[str, str]:
    names = h.names()
    deputy = batch.to_user_id
    return (names.get(batch.owner_id, f"#{batch.owner_id}"),
            names.get(deputy, f"#{deputy}") if deputy else _("nobody"))


def _kind_lines(planned: dict[str, int]) -> list[str]:
    return [f"{ENTITY_TYPES[name].label if name in ENTITY_TYPES else name}: {count}"
            for name, count in planned.items() if count]


def _apply_plan(h: Context, batch: MoveBatch, start: str) -> confirmation.Plan:
    planned = moves_view.planned_by_type(batch.id)
    count, owner_deputy = sum(planned.values()), _names(h, batch)
    owner, deputy = owner_deputy
    absence = _absence(h, batch)
    waits = (start == services.START_WITH_ABSENCE and absence is not None
             and absence.start > h.now)
    when = (_("They move when the absence starts, on %(when)s.",
              when=format_datetime(absence.start, "d MMM yyyy, HH:mm"))
            if waits and absence is not None else _("They move now."))
    return confirmation.Plan(
        action=f"handover.apply:{batch.id}",
        heading=_("Hand over %(items)s of %(kinds)s from %(owner)s to %(deputy)s?",
                  items=moves_view.items_phrase(count),
                  kinds=moves_view.kinds_phrase(len([n for n in planned if planned[n]])),
                  owner=owner, deputy=deputy),
        lines=[*_kind_lines(planned), when],
        button=_("Confirm: hand over %(items)s", items=moves_view.items_phrase(count)),
        cancel_url=url_for("handover.show", batch_id=batch.id),
        binding={"planned": planned, "to": batch.to_user_id, "state": batch.state},
        fields={"start": start},
        way_back=_("The way back: “Give everything back now” on the handover's page; the "
                   "items also go back by themselves when the absence ends."),
        title=_("Confirm the handover"))


def _start_now_plan(h: Context, batch: MoveBatch) -> confirmation.Plan:
    planned = moves_view.planned_by_type(batch.id)
    count = sum(planned.values())
    owner, deputy = _names(h, batch)
    return confirmation.Plan(
        action=f"handover.start_now:{batch.id}",
        heading=_("Start now: hand over %(items)s from %(owner)s to %(deputy)s?",
                  items=moves_view.items_phrase(count), owner=owner, deputy=deputy),
        lines=[*_kind_lines(planned),
               _("They move now instead of when the absence starts.")],
        button=_("Confirm: start now"), cancel_url=url_for("handover.show", batch_id=batch.id),
        binding={"planned": planned, "to": batch.to_user_id, "state": batch.state},
        way_back=_("The way back: “Give everything back now” on the handover's page."),
        title=_("Confirm the handover"))


def _restore_plan(h: Context, batch: MoveBatch) -> confirmation.Plan:
    held = moves_view.held_count(batch.id)
    owner, deputy = _names(h, batch)
    lines = [_("%(items)s go back from %(deputy)s to %(owner)s.",
               items=moves_view.items_phrase(held), deputy=deputy, owner=owner),
             _("Items someone else has taken since stay where they are.")]
    if batch.state != APPLIED:
        lines.append(_("The items not handed over yet stay with %(owner)s.", owner=owner))
    if (batch.options or {}).get("include_new_leads"):
        lines.append(_("New leads that reached %(deputy)s for these clients go back too.",
                       deputy=deputy))
    return confirmation.Plan(
        action=f"handover.restore:{batch.id}",
        heading=_("Give %(items)s back now?", items=moves_view.items_phrase(held)),
        lines=lines, button=_("Confirm: give %(items)s back",
                              items=moves_view.items_phrase(held)),
        cancel_url=url_for("handover.show", batch_id=batch.id),
        binding={"state": batch.state, "held": held if batch.state == APPLIED else None},
        title=_("Confirm giving back"))


@bp.post("/<int:batch_id>/apply")
@role_required("admin", "head")
def apply(batch_id: int) -> Any:
    h = here()
    batch = _batch_or_404(h, batch_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        plan = _apply_plan(h, batch, form.start.data or services.START_WITH_ABSENCE)
        if batch.state == "preview" and not confirmation.confirmed(plan):
            return confirmation.ask(plan)
        try:
            services.apply_handover(batch=batch, actor=h.actor, confirmed=True,
                                    now=h.now, start=plan.fields["start"])
        except Refusal as error:
            refuse_on_page(error)
        else:
            if batch.state == SCHEDULED:
                flash(_("The handover is confirmed; it starts when the absence starts."),
                      "success")
            else:
                flash(_("The handover has started."), "success")
    return redirect(url_for("handover.show", batch_id=batch_id))


@bp.post("/<int:batch_id>/start-now")
@role_required("admin", "head")
def start_now(batch_id: int) -> Any:
    h = here()
    batch = _batch_or_404(h, batch_id)
    if StartNowForm().validate_on_submit():
        plan = _start_now_plan(h, batch)
        if batch.state == SCHEDULED and not confirmation.confirmed(plan):
            return confirmation.ask(plan)
        try:
            services.apply_handover(batch=batch, actor=h.actor, confirmed=True,
                                    now=h.now, start=services.START_NOW)
        except Refusal as error:
            refuse_on_page(error)
        else:
            flash(_("The handover has started."), "success")
    return redirect(url_for("handover.show", batch_id=batch_id))


@bp.post("/<int:batch_id>/restore")
@role_required("admin", "head")
def restore(batch_id: int) -> Any:
    h = here()
    batch = _batch_or_404(h, batch_id)
    if ActionForm().validate_on_submit():
        plan = _restore_plan(h, batch)
        if batch.state in (APPLYING, APPLIED) and not confirmation.confirmed(plan):
            return confirmation.ask(plan)
        try:
            services.restore_handover(batch=batch, actor=h.actor, client=h.client,
                                      now=h.now)
        except Refusal as error:
            refuse_on_page(error)
        except PortalError as exc:
            flash(_("The portal did not answer: %(error)s", error=_problem(str(exc))), "error")
        else:
            flash(_("Giving the items back has started."), "success")
    return redirect(url_for("handover.show", batch_id=batch_id))


@bp.post("/<int:batch_id>/retry")
@role_required("admin", "head")
def retry(batch_id: int) -> Any:
    h = here()
    batch = _batch_or_404(h, batch_id)
    if ActionForm().validate_on_submit():
        plan = moves_view.retry_plan(batch, action=f"handover.retry:{batch.id}",
                                     cancel_url=url_for("handover.show", batch_id=batch.id))
        if plan is not None and not confirmation.confirmed(plan):
            return confirmation.ask(plan)
        try:
            count = services.retry_handover(batch=batch, actor=h.actor)
        except Refusal as error:
            refuse_on_page(error)
        else:
            flash(_("Trying %(count)s failed items again.", count=count), "success")
    return redirect(url_for("handover.show", batch_id=batch_id))


def _conflict_holders(h: Context, batch: MoveBatch) -> dict[str, int]:
    """Who holds the give-back's conflicts now: name -> items."""
    names = h.names()
    out: dict[str, int] = {}
    for item in moves.conflicts(batch):
        holder = (item.note or "").rpartition(":")[2]
        name = names.get(int(holder), f"#{holder}") if holder.isdigit() else "?"
        out[name] = out.get(name, 0) + 1
    return out


def _told_at(batch: MoveBatch) -> datetime | None:
    told = (batch.options or {}).get("owner_told_at")
    return datetime.fromisoformat(told) if told else None


def _anyway_plan(h: Context, batch: MoveBatch) -> confirmation.Plan:
    holders = _conflict_holders(h, batch)
    count = sum(holders.values())
    owner, _deputy = _names(h, batch)
    return confirmation.Plan(
        action=f"handover.give_back_anyway:{batch.id}",
        heading=_("Give %(items)s back to %(owner)s anyway?",
                  items=moves_view.items_phrase(count), owner=owner),
        lines=[*(_("From %(name)s: %(items)s", name=name, items=moves_view.items_phrase(n))
                 for name, n in holders.items()),
               _("They go back although someone else took them during the absence.")],
        button=_("Confirm: give %(items)s back", items=moves_view.items_phrase(count)),
        cancel_url=url_for("handover.show", batch_id=batch.id),
        binding={"state": batch.state, "holders": holders},
        title=_("Confirm giving back anyway"))


def _tell_plan(h: Context, batch: MoveBatch) -> confirmation.Plan:
    holders = _conflict_holders(h, batch)
    count = sum(holders.values())
    owner, _deputy = _names(h, batch)
    code = reader_language(person(h.portal.id, batch.owner_id))
    language = {"en": _("English"), "ru": _("Russian")}.get(code, code)
    return confirmation.Plan(
        action=f"handover.tell_owner:{batch.id}",
        heading=_("Tell %(owner)s about %(items)s others hold?",
                  items=moves_view.items_phrase(count), owner=owner),
        lines=[_("One notification on the portal, in %(language)s, names the items' kinds and "
                 "who holds them.", language=language),
               _("Nothing moves.")],
        button=_("Confirm: tell %(owner)s", owner=owner),
        cancel_url=url_for("handover.show", batch_id=batch.id),
        binding={"state": batch.state, "holders": holders}, title=_("Confirm the notice"))


@bp.post("/<int:batch_id>/give-back-anyway")
@role_required("admin", "head")
def give_back_anyway(batch_id: int) -> Any:
    """The items the give-back left with others go back to the owner all the same."""
    h = here()
    batch = _batch_or_404(h, batch_id)
    if ActionForm().validate_on_submit():
        plan = _anyway_plan(h, batch)
        if sum(plan.binding["holders"].values()) and not confirmation.confirmed(plan):
            return confirmation.ask(plan)
        try:
            done = services.give_back_anyway(batch=batch, actor=h.actor, client=h.client,
                                             now=h.now)
        except Refusal as error:
            refuse_on_page(error)
        except PortalError as exc:
            db.session.rollback()
            flash(_("The portal did not answer: %(error)s", error=_problem(str(exc))), "error")
        else:
            flash(_("Given back: %(back)s; deleted on the portal: %(gone)s; refused by the "
                    "portal: %(failed)s.", back=done.returned + done.already,
                    gone=done.missing, failed=done.failed),
                  "success" if not done.failed else "warning")
    return redirect(url_for("handover.show", batch_id=batch_id))


@bp.post("/<int:batch_id>/tell-owner")
@role_required("admin", "head")
def tell_owner(batch_id: int) -> Any:
    """A portal notice to the owner about the items others hold."""
    h = here()
    batch = _batch_or_404(h, batch_id)
    if ActionForm().validate_on_submit():
        plan = _tell_plan(h, batch)
        if sum(plan.binding["holders"].values()) and not confirmation.confirmed(plan):
            return confirmation.ask(plan)
        try:
            told = services.tell_owner(batch=batch, actor=h.actor, client=h.client, now=h.now)
        except Refusal as error:
            refuse_on_page(error)
        except PortalError as exc:
            db.session.rollback()
            flash(_("The portal did not answer: %(error)s", error=_problem(str(exc))), "error")
        else:
            flash(_("The owner was told.") if told else
                  _("The owner was already told about these items."), "success")
    return redirect(url_for("handover.show", batch_id=batch_id))


@bp.post("/<int:batch_id>/discard")
@role_required("admin", "head")
def discard(batch_id: int) -> Any:
    h = here()
    batch = _batch_or_404(h, batch_id)
    if ActionForm().validate_on_submit():
        plan = moves_view.discard_plan(batch, action=f"handover.discard:{batch.id}",
                                       cancel_url=url_for("handover.show", batch_id=batch.id))
        if batch.state in (PREVIEW, SCHEDULED) and not confirmation.confirmed(plan):
            return confirmation.ask(plan)
        try:
            services.discard_preview(batch=batch, actor=h.actor)
        except Refusal as error:
            refuse_on_page(error)
            return redirect(url_for("handover.show", batch_id=batch_id))
        flash(_("The handover was discarded; nothing moved."), "success")
    return redirect(url_for("handover.index"))


@bp.post("/policy")
@role_required("admin")
def policy() -> Any:
    h = here()
    form = PolicyForm()
    if form.validate_on_submit():
        try:
            save_policy(portal=h.portal, actor=h.actor,
                        enabled=form.enabled.data, types=form.types.data or [],
                        include_closed=form.include_closed.data,
                        include_new_leads=form.include_new_leads.data,
                        min_days=form.min_days.data or 0, now=h.now)
        except Refusal as error:
            refuse_on_page(error)
        else:
            flash(_("The handover policy was saved."), "success")
    else:
        flash(_("The policy was not saved: check the number of days."), "error")
    return redirect(url_for("handover.index"))
