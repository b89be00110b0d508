"""Lead statuses and deal stages: ``crm.status.list``, ``crm.status.entity.types`` and
``crm.status.delete``; the stage history: ``crm.stagehistory.list`` (the records are written by
simulator.crm.ops through :func:`record_stage_entry`).

Facts mirrored (reference wave 2 §1.8; [D] api-reference/crm/status/crm-status-list.md,
crm-status-entity-types.md, crm-status-delete.md, crm/crm-stage-history-list.md):

- a status row is ``ID, ENTITY_ID, STATUS_ID, NAME, NAME_INIT, SORT, SYSTEM (Y/N),
  CATEGORY_ID, COLOR, SEMANTICS, EXTRA{SEMANTICS, COLOR}``; ``SEMANTICS`` is ``"S"`` for the
  success stage, ``"F"`` for failure and ``null`` in progress, while ``EXTRA.SEMANTICS`` says
  ``process``/``success``/``failure`` (the list sample's shape);
- leads are ``ENTITY_ID=STATUS``; deals ``DEAL_STAGE`` for the general pipeline and
  ``DEAL_STAGE_<cat>`` for another one, whose stage ids carry the ``C<cat>:`` prefix;
- ``crm.status.entity.types`` answers ``{ID, NAME, SEMANTIC_INFO{START_FIELD,
  FINAL_SUCCESS_FIELD, FINAL_UNSUCCESS_FIELD, FINAL_SORT}, ENTITY_TYPE_ID}`` per status type
  (plus ``PARENT_ID``, ``PREFIX`` and ``CATEGORY_ID`` for a pipeline's stages);
- ``crm.stagehistory.list`` (``entityTypeId`` 1 or 2) answers ``{"items": [...]}`` paged by 50:
  ``ID, TYPE_ID`` (1 created, 2 moved to an intermediate stage, 3 to a final one), ``OWNER_ID``,
  ``CREATED_TIME``, then ``STATUS_ID``/``STATUS_SEMANTIC_ID`` for leads and
  ``CATEGORY_ID``/``STAGE_ID``/``STAGE_SEMANTIC_ID`` for deals. One record per stage entry: an
  item added (type 1) and every change of its status or stage.

Choices (not in the docs): the simulator's statuses are the portal's defaults (the stage ids of
simulator.crm.entity_types) with the Russian default names; ``crm.status.delete`` removes a
status that is not ``SYSTEM`` from the lists (kept in the setting ``crm_status_deleted``) and
answers ``true``; a system status is refused with the portal's text. Items already in a deleted
status keep it, and writes do not yet refuse it (the portal moves such items to the first
stage; the simulator does not). ``crm.status.add``/``update`` are not simulated.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from simulator.core import tables as core_tables
from simulator.core.errors import SimError
from simulator.core.listing import apply_filter, apply_order, paginate
from simulator.core.registry import method
from simulator.crm import tables
from simulator.crm.categories import deal_categories
from simulator.crm.entity_types import DEAL_STAGES, LEAD_STATUSES
from simulator.crm.errors import EntityTypeNotSupported
from simulator.crm.item import entity_from_params

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from simulator.core.context import Ctx
    from simulator.core.params import Params

DELETED_SETTING = "crm_status_deleted"
LEAD_NAMES = {"NEW": "Не обработан", "IN_PROCESS": "В работе", "PROCESSED": "Обработан",
              "CONVERTED": "Качественный лид", "JUNK": "Некачественный лид"}
DEAL_NAMES = {"NEW": "Новая", "PREPARATION": "Подготовка документов",
              "PREPAYMENT_INVOICE": "Счёт на предоплату", "EXECUTING": "В работе",
              "FINAL_INVOICE": "Финальный счёт", "WON": "Сделка успешна",
              "LOSE": "Сделка провалена"}
_SUCCESS = {"STATUS": "CONVERTED", "DEAL_STAGE": "WON"}
_FAILURE = {"STATUS": "JUNK", "DEAL_STAGE": "LOSE"}
_SYSTEM = {"STATUS": {"NEW", "CONVERTED", "JUNK"}, "DEAL_STAGE": {"NEW", "WON", "LOSE"}}
_COLORS = {"S": "#00FF00", "F": "#FF0000", None: "#39A8EF"}
_EXTRA = {"S": "success", "F": "failure", None: "process"}


def _deleted(conn: Connection) -> set[str]:
    stored = conn.execute(select(core_tables.settings.c.value)
                          .where(core_tables.settings.c.key == DELETED_SETTING)).scalar()
    return {str(v) for v in stored or []}


def _rows(conn: Connection) -> list[dict[str, Any]]:
    """Every status of leads and deals (every pipeline), deleted ones included, in order."""
    out: list[dict[str, Any]] = []
    groups: list[tuple[str, str, int | None, str, tuple[str, ...], dict[str, str]]] = [
        ("STATUS", "STATUS", None, "", LEAD_STATUSES, LEAD_NAMES)]
    for category in deal_categories(conn):
        cat = int(category["id"])
        entity = "DEAL_STAGE" if cat == 0 else f"DEAL_STAGE_{cat}"
        groups.append((entity, "DEAL_STAGE", cat, "" if cat == 0 else f"C{cat}:",
                       DEAL_STAGES, DEAL_NAMES))
    number = 0
    for entity, kind, category_id, prefix, codes, names in groups:
        for index, code in enumerate(codes):
            number += 1
            semantics = "S" if code == _SUCCESS[kind] else "F" if code == _FAILURE[kind] \
                else None
            out.append({"ID": str(number + (category_id or 0) * 100), "ENTITY_ID": entity,
                        "STATUS_ID": prefix + code, "NAME": names[code],
                        "NAME_INIT": names[code], "SORT": str((index + 1) * 10),
                        "SYSTEM": "Y" if code in _SYSTEM[kind] else "N",
                        "CATEGORY_ID": None if category_id is None else str(category_id),
                        "COLOR": _COLORS[semantics], "SEMANTICS": semantics,
                        "EXTRA": {"SEMANTICS": _EXTRA[semantics],
                                  "COLOR": _COLORS[semantics]}})
    return out


def statuses(conn: Connection, *, deleted: bool = False) -> list[dict[str, Any]]:
    """The statuses ``crm.status.list`` shows (``deleted=True``: those removed too)."""
    gone = set() if deleted else _deleted(conn)
    return [r for r in _rows(conn) if f"{r['ENTITY_ID']}:{r['STATUS_ID']}" not in gone]


def semantic_of(stage_id: str) -> str:
    """``P``/``S``/``F`` of a lead status or deal stage id (the stage history's semantics)."""
    code = stage_id.split(":", 1)[-1]
    return "S" if code in ("CONVERTED", "WON") else "F" if code in ("JUNK", "LOSE") else "P"


@method("crm.status.list")
def status_list(ctx: Ctx, params: Params) -> Any:
    rows = statuses(ctx.conn)
    known = set(rows[0]) if rows else set()
    wanted = {str(k).upper().lstrip("="): v for k, v in params.filter().items()}
    for key, value in wanted.items():
        values = {str(v) for v in value} if isinstance(value, (list, tuple)) else {str(value)}
        if key in known:  # unknown filter fields are ignored, as the old list methods do
            rows = [r for r in rows if str(r.get(key)) in values]
    order = {str(k).upper(): str(v).upper() for k, v in params.dict("order").items()}
    for key, direction in reversed(list(order.items())):
        if key in known:
            rows.sort(key=_sort_key(key), reverse=direction == "DESC")
    return rows


def _sort_key(key: str) -> Any:
    if key in ("ID", "SORT"):
        return lambda row: int(row[key])
    return lambda row: str(row[key] or "")


@method("crm.status.entity.types")
def status_entity_types(ctx: Ctx, params: Params) -> Any:
    found: list[dict[str, Any]] = [{
        "ID": "STATUS", "NAME": "Стадии лида",
        "SEMANTIC_INFO": {"START_FIELD": "NEW", "FINAL_SUCCESS_FIELD": "CONVERTED",
                          "FINAL_UNSUCCESS_FIELD": "JUNK", "FINAL_SORT": 0},
        "ENTITY_TYPE_ID": 1}]
    for category in deal_categories(ctx.conn):
        cat = int(category["id"])
        prefix = "" if cat == 0 else f"C{cat}:"
        entry: dict[str, Any] = {
            "ID": "DEAL_STAGE" if cat == 0 else f"DEAL_STAGE_{cat}",
            "NAME": "Стадии сделки" if cat == 0 else f"Стадии сделки {category['name']}",
            "SEMANTIC_INFO": {"START_FIELD": f"{prefix}NEW",
                              "FINAL_SUCCESS_FIELD": f"{prefix}WON",
                              "FINAL_UNSUCCESS_FIELD": f"{prefix}LOSE", "FINAL_SORT": 0},
            "ENTITY_TYPE_ID": 2}
        if cat:
            entry.update(PARENT_ID="DEAL_STAGE", PREFIX=f"C{cat}", CATEGORY_ID=cat)
        found.append(entry)
    return found


@method("crm.status.delete")
def status_delete(ctx: Ctx, params: Params) -> Any:
    status_id = params.int("id", "ID")
    row = next((r for r in statuses(ctx.conn) if r["ID"] == str(status_id)), None)
    if row is None:
        raise SimError("", "Not found", 400)
    if row["SYSTEM"] == "Y":
        raise SimError("", "The system status cannot be deleted", 400)
    gone = sorted(_deleted(ctx.conn) | {f"{row['ENTITY_ID']}:{row['STATUS_ID']}"})
    settings = core_tables.settings
    if ctx.conn.execute(select(settings.c.key).where(settings.c.key == DELETED_SETTING)).first():
        ctx.conn.execute(settings.update().where(settings.c.key == DELETED_SETTING)
                         .values(value=gone))
    else:
        ctx.conn.execute(settings.insert().values(key=DELETED_SETTING, value=gone))
    return True


# -- the stage history ---------------------------------------------------------------------------
H = tables.stage_history
_HISTORY_COLUMNS = {"ID": H.c.id, "TYPE_ID": H.c.type_id, "OWNER_ID": H.c.owner_id,
                    "CREATED_TIME": H.c.created_time, "CATEGORY_ID": H.c.category_id,
                    "STAGE_ID": H.c.stage_id, "STATUS_ID": H.c.stage_id,
                    "STAGE_SEMANTIC_ID": H.c.semantic_id, "STATUS_SEMANTIC_ID": H.c.semantic_id}


def record_stage_entry(ctx: Ctx, entity_type_id: int, owner_id: int, stage_id: str | None,
                       category_id: int | None, *, created: bool, when: datetime) -> None:
    """One stage entry of a lead or deal (an add, or a change of its status or stage)."""
    if entity_type_id not in (1, 2) or not stage_id:
        return
    semantic = semantic_of(stage_id)
    ctx.conn.execute(H.insert().values(
        entity_type_id=entity_type_id, owner_id=owner_id,
        type_id=1 if created else (3 if semantic != "P" else 2), stage_id=stage_id,
        category_id=category_id if entity_type_id == 2 else None, semantic_id=semantic,
        created_time=when))


@method("crm.stagehistory.list")
def stage_history_list(ctx: Ctx, params: Params) -> Any:
    et = entity_from_params(params)
    if et.id not in (1, 2):
        raise EntityTypeNotSupported(name=et.name)
    stmt = select(H).where(H.c.entity_type_id == et.id)
    stmt = apply_filter(stmt, params.filter(), _HISTORY_COLUMNS, ctx=ctx)
    stmt = apply_order(stmt, params.dict("order"), _HISTORY_COLUMNS, default=[H.c.id.asc()])

    def render(row: Any) -> dict[str, Any]:
        base: dict[str, Any] = {"ID": row.id, "TYPE_ID": row.type_id, "OWNER_ID": row.owner_id,
                                "CREATED_TIME": ctx.iso(row.created_time)}
        if et.id == 1:
            base.update(STATUS_SEMANTIC_ID=row.semantic_id, STATUS_ID=row.stage_id)
        else:
            base.update(CATEGORY_ID=row.category_id or 0, STAGE_SEMANTIC_ID=row.semantic_id,
                        STAGE_ID=row.stage_id)
        return base

    return paginate(ctx, stmt, params.get("start"), render=render, key="items")
