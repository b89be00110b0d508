"""What tasks share with their log: loading, access rights, the history, and comments
(``tasks.task.history.list``, ``task.commentitem.add/getlist/get``).

Facts mirrored (reference §9; [D] api-reference/tasks/tasks-task-history-list.md,
comment-item/task-comment-item-*.md, comment-item/events-comment/on-task-comment-add.md):
- history rows: ``{id, createdDate, field, value: {from, to}, user: {id, name, lastName,
  secondName, login}}``, newest first by default; ``NEW`` on creation, one row per changed
  field on update, ``COMMENT`` (to = the comment id) when a comment is posted. Values are
  strings as the portal stores them in its task log: ids and statuses as digits, flags as Y/N,
  ``DEADLINE`` as a Unix timestamp, participant lists as comma-separated ids;
- ``task.commentitem.add`` takes ``TASKID`` and ``FIELDS`` by name or by position (fast_bitrix24
  sends ``[taskId, {POST_MESSAGE}]``, which arrives as keys ``0`` and ``1``); ``AUTHOR_ID`` may
  name another user; ``ONTASKCOMMENTADD`` carries ``FIELDS_AFTER: {ID, TASK_ID}``.

Access (reference §9, partly an inference): administrators and the task's creator may do
anything; so may the heads of the creator's or the responsible's departments (the docs say
managers see their employees' tasks). The responsible, accomplices and auditors may read and
comment. Besides those who may edit, the responsible and the accomplices (who do the work, as
the ``action`` map's start/complete say) may change the status; auditors only watch and may
not. The responsible may change the deadline only when ``ALLOW_CHANGE_DEADLINE`` is Y.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from simulator.core.errors import SimError
from simulator.core.listing import TASK_PREFIXES, apply_filter, apply_order, split_key
from simulator.core.registry import method
from simulator.tasks import tables
from simulator.tasks.errors import (
    CommentActionFailed,
    CommentAuthorNotFound,
    CommentDenied,
    CommentTextMissing,
    HistoryAccessDenied,
    TaskIdMissing,
    WrongArguments,
    WrongTaskId,
)
from simulator.users import get_user, heads_above, is_admin

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    from simulator.core.context import Ctx
    from simulator.core.params import Params

T = tables.tasks
H = tables.task_history
C = tables.task_comments



def task_id_param(params: Params, *names: str) -> int:
    """``taskId`` as the portal reads it: absent -> error 100, not a number -> error 0."""
    value = params.first(*(names or ("taskId", "id")))
    if value in (None, ""):
        raise TaskIdMissing()
    try:
        number = int(str(value).strip())
    except ValueError:
        raise WrongTaskId() from None
    if number <= 0:
        raise WrongTaskId()
    return number


_LOAD = select(T).where(T.c.id == bindparam("b_task_id"))


def load_task(ctx: Ctx, task_id: int) -> dict[str, Any] | None:
    """The task's row as a plain dict of column values (the shape every helper here takes)."""
    row = ctx.conn.execute(_LOAD, {"b_task_id": task_id}).first()
    return dict(row._mapping) if row is not None else None


def member_ids(task: Mapping[str, Any], key: str) -> list[int]:
    """ACCOMPLICES or AUDITORS of a task (``fields``), as ints."""
    return [int(v) for v in (task["fields"] or {}).get(key, [])]


def can_edit(ctx: Ctx, task: Mapping[str, Any], user_id: int) -> bool:
    if user_id == task["created_by"] or is_admin(ctx, user_id):
        return True
    return user_id in heads_above(ctx, task["responsible_id"]) | heads_above(
        ctx, task["created_by"])


def can_see(ctx: Ctx, task: Mapping[str, Any], user_id: int) -> bool:
    if user_id == task["responsible_id"] or user_id in member_ids(task, "ACCOMPLICES") \
            or user_id in member_ids(task, "AUDITORS"):
        return True
    return can_edit(ctx, task, user_id)


def may_change_status(ctx: Ctx, task: Mapping[str, Any], user_id: int) -> bool:
    """Those who may edit the task, the responsible and the accomplices; never a mere
    auditor."""
    if user_id == task["responsible_id"] or user_id in member_ids(task, "ACCOMPLICES"):
        return True
    return can_edit(ctx, task, user_id)


def may_change_deadline(ctx: Ctx, task: Mapping[str, Any], user_id: int) -> bool:
    """The access rule of reference 1.2 (taskdeadlinerule.php): administrators, the creator and
    the creator's or the responsible's superiors (who may edit the task); the responsible when
    ``ALLOW_CHANGE_DEADLINE`` is Y; otherwise the edit right, which a responsible has when
    their role may edit their tasks (simulator.tasks.roles), whatever the flag says."""
    from simulator.tasks.roles import responsible_may_edit

    if can_edit(ctx, task, user_id):
        return True
    if user_id == task["responsible_id"] and bool(task["allow_change_deadline"]):
        return True
    return responsible_may_edit(ctx, task, user_id)


# -- history ----------------------------------------------------------------------------------
def history_value(field: str, value: Any) -> str | None:
    """A value as the task log stores it."""
    if value is None:
        return None
    if field == "DEADLINE":
        return str(int(value.replace(tzinfo=UTC).timestamp()))
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def record_history(ctx: Ctx, task_id: int, field: str, before: Any = None, after: Any = None,
                   *, user_id: int | None = None) -> None:
    ctx.conn.execute(_ADD_HISTORY, {
        "task_id": task_id, "created_date": ctx.now, "field": field,
        "from_value": history_value(field, before), "to_value": history_value(field, after),
        "user_id": user_id if user_id is not None else ctx.user_id})


_ADD_HISTORY = H.insert()


def _history_user(ctx: Ctx, user_id: int, cache: dict[int, dict[str, Any]]) -> dict[str, Any]:
    if user_id not in cache:
        row = get_user(ctx, user_id)
        cache[user_id] = {
            "id": user_id, "name": row.name if row else "", "lastName": row.last_name if row
            else "", "secondName": row.second_name if row else "",
            "login": row.email if row else ""}
    return cache[user_id]


_HISTORY_ORDER = {"ID": H.c.id, "CREATEDDATE": H.c.created_date, "CREATED_DATE": H.c.created_date,
                  "FIELD": H.c.field}


@method("tasks.task.history.list")
def tasks_task_history_list(ctx: Ctx, params: Params) -> Any:
    task_id = task_id_param(params, "taskId", "id")
    task = load_task(ctx, task_id)
    if task is None:
        return {"list": []}
    if not can_see(ctx, task, ctx.user_id):
        raise HistoryAccessDenied()
    stmt = select(H).where(H.c.task_id == task_id)
    wanted = params.dict("filter").get("FIELD") or params.dict("filter").get("field")
    if wanted:
        fields = wanted if isinstance(wanted, list) else [wanted]
        stmt = stmt.where(H.c.field.in_([str(f).upper() for f in fields]))
    order = {str(k).upper(): v for k, v in params.dict("order").items()}
    stmt = apply_order(stmt, order, _HISTORY_ORDER, default=[H.c.created_date.desc()],
                       tiebreak=H.c.id.desc())
    users: dict[int, dict[str, Any]] = {}
    return {"list": [
        {"id": row.id, "createdDate": ctx.iso(row.created_date), "field": row.field,
         "value": {"from": row.from_value, "to": row.to_value},
         "user": _history_user(ctx, row.user_id, users)}
        for row in ctx.conn.execute(stmt).all()]}


# -- comments ---------------------------------------------------------------------------------
def comment_as_api(ctx: Ctx, row: Row[Any]) -> dict[str, Any]:
    author = get_user(ctx, row.author_id)
    return {
        "POST_MESSAGE_HTML": None, "ID": str(row.id), "AUTHOR_ID": str(row.author_id),
        "AUTHOR_NAME": f"{author.name} {author.last_name}".strip() if author else "",
        "AUTHOR_EMAIL": author.email if author else "", "POST_DATE": ctx.iso(row.post_date),
        "POST_MESSAGE": row.post_message, "ATTACHED_OBJECTS": {},
    }


def _wrong_args(param: str, detail: str) -> SimError:
    return WrongArguments(param=param, detail=detail)


def _comment_task_id(params: Params, method_name: str) -> int:
    value = params.first("TASKID", "taskId", "0")
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise _wrong_args("Param #0 (taskId)", f"for method ctaskcommentitem::{method_name}() "
                          'expected to be of type "integer", but given something else') from None


@method("task.commentitem.add")
def task_commentitem_add(ctx: Ctx, params: Params) -> Any:
    task_id = _comment_task_id(params, "add")
    fields = params.first("FIELDS", "1")
    fields = {str(k).upper(): v for k, v in fields.items()} if isinstance(fields, dict) else {}
    for key in fields:
        if key not in ("POST_MESSAGE", "AUTHOR_ID", "POST_DATE", "UF_FORUM_MESSAGE_DOC"):
            raise _wrong_args("Param #1 (arFields)",
                              f'for method ctaskcommentitem::add() must not contain key "{key}"')
    task = load_task(ctx, task_id)
    if task is None or not can_see(ctx, task, ctx.user_id):
        raise CommentDenied()
    text = str(fields.get("POST_MESSAGE") or "").strip()
    if not text:
        raise CommentTextMissing()
    author = get_user(ctx, fields.get("AUTHOR_ID") or ctx.user_id)
    if author is None:
        raise CommentAuthorNotFound()
    posted = ctx.parse_dt(fields.get("POST_DATE"), "POST_DATE") or ctx.now
    comment_id = int(ctx.conn.execute(C.insert().values(
        task_id=task_id, author_id=author.id, post_message=text, post_date=posted,
    ).returning(C.c.id)).scalar_one())
    record_history(ctx, task_id, "COMMENT", None, comment_id, user_id=author.id)
    comment = comment_as_api(ctx, ctx.conn.execute(select(C).where(C.c.id == comment_id)).one())
    ctx.emit("ONTASKCOMMENTADD", entity_type="TASK_COMMENT", entity_id=comment_id,
             data={"FIELDS_BEFORE": "undefined",
                   "FIELDS_AFTER": {"ID": str(comment_id), "TASK_ID": str(task_id)},
                   "IS_ACCESSIBLE_BEFORE": "undefined", "IS_ACCESSIBLE_AFTER": "undefined"},
             after={**comment, "TASK_ID": str(task_id)})
    notify_comment(ctx, task, author.id, text)
    return comment_id


def notify_comment(ctx: Ctx, task: Mapping[str, Any], author_id: int, text: str) -> None:
    """The portal's notice about a new comment: to the responsible and the creator, never to
    the author."""
    excerpt = text if len(text) <= 200 else text[:197] + "..."
    title = task["title"]
    for user_id in dict.fromkeys((task["responsible_id"], task["created_by"])):
        if user_id != author_id:
            ctx.notify(user_id, f'New comment on the task "{title}": {excerpt}',
                       kind="task_comment", entity_type="TASK", entity_id=task["id"],
                       from_user_id=author_id)


_COMMENT_COLUMNS: dict[str, Any] = {"ID": C.c.id, "AUTHOR_ID": C.c.author_id,
                                    "POST_DATE": C.c.post_date}


@method("task.commentitem.getlist")
def task_commentitem_getlist(ctx: Ctx, params: Params) -> Any:
    task_id = _comment_task_id(params, "getlist")
    order = params.first("ORDER", "1") or {}
    filter_ = params.first("FILTER", "2") or {}
    if not isinstance(order, dict) or not isinstance(filter_, dict):
        raise _wrong_args("Param #1 (arOrder)", "for method ctaskcommentitem::getlist() must be "
                          "an array")
    for key in order:
        if str(key).upper() not in (*_COMMENT_COLUMNS, "AUTHOR_NAME", "AUTHOR_EMAIL"):
            raise _wrong_args("Param #1 (arOrder)", f"for method ctaskcommentitem::getlist() "
                              f'must not contain key "{key}"')
    for key in filter_:
        _op, name = split_key(str(key), TASK_PREFIXES)
        if name.upper() not in (*_COMMENT_COLUMNS, "AUTHOR_NAME"):
            raise _wrong_args("Param #2 (arFilter)", f"for method ctaskcommentitem::getlist() "
                              f'must not contain key "{key}"')
    task = load_task(ctx, task_id)
    if task is None or not can_see(ctx, task, ctx.user_id):
        raise CommentActionFailed()
    stmt = select(C).where(C.c.task_id == task_id)
    stmt = apply_filter(stmt, filter_, _COMMENT_COLUMNS, ctx=ctx, prefixes=TASK_PREFIXES)
    stmt = apply_order(stmt, order, _COMMENT_COLUMNS, default=[C.c.id.desc()])
    return [comment_as_api(ctx, row) for row in ctx.conn.execute(stmt).all()]


@method("task.commentitem.get")
def task_commentitem_get(ctx: Ctx, params: Params) -> Any:
    task_id = _comment_task_id(params, "get")
    item = params.first("ITEMID", "itemId", "1")
    task = load_task(ctx, task_id)
    try:
        item_id = int(str(item).strip())
    except (TypeError, ValueError):
        item_id = 0
    row = ctx.conn.execute(select(C).where(C.c.id == item_id, C.c.task_id == task_id)).first()
    if task is None or row is None or not can_see(ctx, task, ctx.user_id):
        raise CommentActionFailed()
    return comment_as_api(ctx, row)
