"""The portal's own pages (``/portal/``): who is who, each person's notification inbox
(refreshing live, so a person can watch copies arrive), the CRM and task lists with their
history, and the absence chart.

The pages belong to the portal, so they read the simulator's tables directly (SQLAlchemy Core)
instead of going through REST: nothing here is an API, and reading changes nothing. The one
write is "mark all as read" in an inbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import String, cast, select, update
from sqlalchemy.engine import Connection
from werkzeug.wrappers import Response

from simulator.calendar import tables as calendar_tables
from simulator.crm import tables as crm_tables
from simulator.im import tables as im_tables
from simulator.portal import Simulator
from simulator.tasks import tables as tasks_tables
from simulator.users import tables as users_tables
from simulator.web import check_csrf, csrf_token
from simulator.web import ui_format as fmt
from simulator.web.ui_data import (
    PAGE_SIZE,
    People,
    bound_activities,
    crm_binding,
    field_rows,
    item_url,
    paged,
    related_items,
    titles,
    unread_counts,
)

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates",
               static_folder="static", static_url_path="/static")

N, C = im_tables.notifications, crm_tables.crm_items
A, T = crm_tables.activities, tasks_tables.tasks


def sim() -> Simulator:
    portal: Simulator = current_app.extensions["simulator"]
    return portal


def conn() -> Connection:
    return sim().engine.connect()


def int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


def link_for(address: str) -> str | None:
    target = fmt.portal_link(address)
    if target is not None:
        kind, item_id = target
        if kind == "tasks":
            return url_for("portal.task", task_id=item_id)
        return url_for("portal.crm_item", kind=kind, item_id=item_id)
    return address if address.startswith(("http://", "https://")) else None


@bp.context_processor
def _globals() -> dict[str, Any]:
    portal = sim()
    now, tz = portal.clock.now(), portal.tz

    def when(value: datetime | None) -> str:
        return fmt.when(value, tz)

    def ago(value: datetime | None) -> str:
        return fmt.ago(value, now)

    return {"fmt": fmt, "now": now, "tz": tz, "when": when, "ago": ago, "crm_kinds": fmt.CRM_KINDS,
            "portal_name": portal.settings.get("portal_name", "") or portal.domain,
            "item_url": item_url, "csrf_token": csrf_token}


# -- people and inboxes ------------------------------------------------------------------------
@bp.get("/")
def people() -> str:
    with conn() as connection:
        staff = People(connection)
        departments = connection.execute(select(users_tables.departments)
                                          .order_by(users_tables.departments.c.sort,
                                                    users_tables.departments.c.id)).all()
        unread = unread_counts(connection)
    children: dict[int | None, list[Any]] = {}
    for dept in departments:
        children.setdefault(dept.parent, []).append(dept)
    known = {d.id for d in departments}
    tree: list[tuple[int, Any, list[Any]]] = []

    def walk(parent: int | None, depth: int) -> None:
        for dept in children.get(parent, []):
            members = [u for u in staff.rows if dept.id in (u.departments or [])]
            members.sort(key=lambda u: (u.id != dept.head, u.last_name))
            tree.append((depth, dept, members))
            walk(dept.id, depth + 1)

    walk(None, 0)
    for parent in sorted({d.parent for d in departments if d.parent not in known} - {None}):
        walk(parent, 0)  # departments whose parent is gone still show
    homeless = [u for u in staff.rows if not set(u.departments or []) & known]
    return render_template("portal/people.html", tree=tree, homeless=homeless, unread=unread,
                           people=staff)


@bp.get("/unread.json")
def unread_json() -> Response:
    with conn() as connection:
        counts = unread_counts(connection)
    return jsonify({str(user_id): count for user_id, count in counts.items()})


def notification_json(row: Any, staff: People) -> dict[str, Any]:
    slug = fmt.SLUG_BY_NAME.get(row.entity_type or "")
    url = None
    if row.entity_id and row.entity_type == "TASK":
        url = url_for("portal.task", task_id=row.entity_id)
    elif row.entity_id and slug:
        url = url_for("portal.crm_item", kind=slug, item_id=row.entity_id)
    return {
        "id": row.id, "kind": row.kind, "kind_label": fmt.NOTICE_KINDS.get(row.kind, row.kind),
        "icon": fmt.NOTICE_ICONS.get(row.kind, "●"),
        "message": row.message, "html": str(fmt.bbcode(row.message, link_for)),
        "created_at": sim().to_portal_iso(row.created_at),
        "when": fmt.when(row.created_at, sim().tz), "ago": fmt.ago(row.created_at,
                                                                   sim().clock.now()),
        "from": staff.name(row.from_user_id) if row.from_user_id else None,
        "entity_type": row.entity_type, "entity_id": row.entity_id, "url": url,
        "is_read": bool(row.is_read),
    }


def inbox_data(user_id: int) -> dict[str, Any]:
    with conn() as connection:
        staff = People(connection)
        if user_id not in staff.by_id:
            abort(404)
        rows = connection.execute(select(N).where(N.c.user_id == user_id)
                                  .order_by(N.c.id.desc()).limit(PAGE_SIZE)).all()
        unread = unread_counts(connection).get(user_id, 0)
    return {"user": {"id": user_id, "name": staff.name(user_id)}, "unread": unread,
            "items": [notification_json(row, staff) for row in rows]}


@bp.get("/users/<int:user_id>/inbox")
def inbox(user_id: int) -> str:
    data = inbox_data(user_id)
    with conn() as connection:
        staff = People(connection)
        names = {d.id: d.name for d in connection.execute(select(users_tables.departments)).all()}
    user = staff.by_id[user_id]
    return render_template("portal/inbox.html", user=user, data=data, people=staff,
                           departments=[names.get(d, f"#{d}") for d in user.departments or []])


@bp.get("/users/<int:user_id>/inbox.json")
def inbox_json(user_id: int) -> Response:
    return jsonify(inbox_data(user_id))


@bp.post("/users/<int:user_id>/inbox/read")
def inbox_read(user_id: int) -> Response:
    check_csrf()
    with sim().engine.begin() as connection:
        connection.execute(update(N).where(N.c.user_id == user_id, N.c.is_read.is_(False))
                           .values(is_read=True))
    return redirect(url_for("portal.inbox", user_id=user_id))


# -- CRM ---------------------------------------------------------------------------------------
def crm_kind(kind: str) -> tuple[int, str, str, str]:
    if kind not in fmt.CRM_KINDS:
        abort(404)
    return fmt.CRM_KINDS[kind]


@bp.get("/crm/<kind>")
def crm_list(kind: str) -> str:
    type_id, plural, _singular, _name = crm_kind(kind)
    stmt = select(C).where(C.c.entity_type_id == type_id)
    responsible, stage = int_arg("responsible"), request.args.get("stage", "")
    category, query = request.args.get("category", ""), request.args.get("q", "").strip()
    if responsible:
        stmt = stmt.where(C.c.assigned_by_id == responsible)
    if stage:
        stmt = stmt.where(C.c.stage_id == stage)
    if category in ("1", "2", "3"):
        stmt = stmt.where(C.c.fields["UF_CRM_CATEGORY"].as_string() == category)
    if query:
        stmt = stmt.where(C.c.title.ilike(f"%{query}%"))
    with conn() as connection:
        rows, pager = paged(connection, stmt, C.c.id.desc())
        staff = People(connection)
        stages = [s for (s,) in connection.execute(
            select(C.c.stage_id).where(C.c.entity_type_id == type_id,
                                       C.c.stage_id.is_not(None)).distinct()) if s]
        companies = titles(connection, {r.company_id for r in rows if r.company_id})
    categories = {str(c["id"]): c["name"] for c in sim().settings.get("deal_categories") or []}
    return render_template("portal/crm_list.html", kind=kind, type_id=type_id, plural=plural,
                           rows=rows, pager=pager, people=staff, stages=sorted(stages),
                           companies=companies, pipelines=categories,
                           filters={"responsible": responsible, "stage": stage,
                                    "category": category, "q": query})


@bp.get("/crm/<kind>/<int:item_id>")
def crm_item(kind: str, item_id: int) -> str:
    type_id, _plural, singular, _name = crm_kind(kind)
    with conn() as connection:
        item = connection.execute(select(C).where(C.c.id == item_id,
                                                  C.c.entity_type_id == type_id)).first()
        if item is None:
            abort(404)
        staff = People(connection)
        owners = [(type_id, [item_id])]
        if type_id == 4:  # a client's history includes its contacts, deals and leads
            for member_type in (3, 2, 1):
                owners.append((member_type, list(connection.execute(select(C.c.id).where(
                    C.c.entity_type_id == member_type, C.c.company_id == item_id)).scalars())))
        activities = bound_activities(connection, owners)
        owner_titles = titles(connection, {a.owner_id for a in activities})
        marker = f'%"{fmt.ABBR[type_id]}_{item_id}"%'
        tasks = connection.execute(select(T).where(cast(T.c.uf_crm_task, String).like(marker))
                                   .order_by(T.c.id.desc()).limit(100)).all()
        related = related_items(connection, type_id, item)
        names = titles(connection, {v for v in (item.company_id, item.contact_id) if v}
                       | {int(i) for i in item.fields.get("CONTACT_IDS") or []})
    return render_template("portal/crm_item.html", kind=kind, singular=singular, item=item,
                           activities=activities, tasks=tasks, related=related, people=staff,
                           titles=names, owner_titles=owner_titles,
                           field_rows=field_rows(item, staff))


# -- tasks, activities, absences ---------------------------------------------------------------
@bp.get("/tasks")
def tasks() -> str:
    stmt = select(T)
    responsible, status = int_arg("responsible"), int_arg("status")
    if responsible:
        stmt = stmt.where(T.c.responsible_id == responsible)
    if status:
        stmt = stmt.where(T.c.status == status)
    if request.args.get("overdue"):
        stmt = stmt.where(T.c.deadline < sim().clock.now(), T.c.status.not_in((5, 7)))
    with conn() as connection:
        rows, pager = paged(connection, stmt, T.c.id.desc())
        staff = People(connection)
    return render_template("portal/tasks.html", rows=rows, pager=pager, people=staff,
                           filters={"responsible": responsible, "status": status,
                                    "overdue": request.args.get("overdue", "")})


@bp.get("/tasks/<int:task_id>")
def task(task_id: int) -> str:
    with conn() as connection:
        row = connection.execute(select(T).where(T.c.id == task_id)).first()
        if row is None:
            abort(404)
        staff = People(connection)
        comments = connection.execute(select(tasks_tables.task_comments)
                                      .where(tasks_tables.task_comments.c.task_id == task_id)
                                      .order_by(tasks_tables.task_comments.c.post_date)).all()
        history = connection.execute(select(tasks_tables.task_history)
                                     .where(tasks_tables.task_history.c.task_id == task_id)
                                     .order_by(tasks_tables.task_history.c.created_date,
                                               tasks_tables.task_history.c.id)).all()
        bound = [(v, *crm_binding(v)) for v in row.uf_crm_task or []]
        names = titles(connection, {i for _v, _t, i in bound if i})
    return render_template("portal/task.html", task=row, comments=comments, history=history,
                           people=staff, bound=bound, titles=names)


@bp.get("/activities")
def activities() -> str:
    stmt = select(A)
    responsible, type_id = int_arg("responsible"), int_arg("type")
    outcome = request.args.get("outcome", "")
    if responsible:
        stmt = stmt.where(A.c.responsible_id == responsible)
    if type_id:
        stmt = stmt.where(A.c.type_id == type_id)
    if outcome in fmt.CALL_OUTCOMES:
        stmt = stmt.where(A.c.fields["SETTINGS"]["CALL_FAILED_CODE"].as_string() == outcome)
    if request.args.get("pending"):
        stmt = stmt.where(A.c.completed.is_(False))
    with conn() as connection:
        rows, pager = paged(connection, stmt, A.c.id.desc())
        staff = People(connection)
        owners = titles(connection, {r.owner_id for r in rows if r.owner_type_id != 0})
    return render_template("portal/activities.html", rows=rows, pager=pager, people=staff,
                           owners=owners, filters={"responsible": responsible, "type": type_id,
                                                   "outcome": outcome,
                                                   "pending": request.args.get("pending", "")})


@bp.get("/absences")
def absences() -> str:
    with conn() as connection:
        rows = connection.execute(select(calendar_tables.absences)
                                  .order_by(calendar_tables.absences.c.date_from.desc())).all()
        staff = People(connection)
    return render_template("portal/absences.html", rows=rows, people=staff)
