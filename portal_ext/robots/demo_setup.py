"""The demo portal's stage robots (``flask demo``), like the seed's shop: a qualified lead is
called back within 2 working hours, a lead whose catalogue was sent gets a site visit agreed
within 1 working day, and an agreed visit gets a control task for the manager's head. Only on
a portal without robots, so an administrator's own robots are never overwritten."""

from __future__ import annotations

from portal_ext.context import Context
from portal_ext.robots import services

DEMO_ROBOTS: tuple[dict[str, object], ...] = (
    {"entity": "lead", "status_id": "IN_PROCESS",
     "title": "Перезвонить: {TITLE}",
     "description": "Лид квалифицирован. Позвоните клиенту {CONTACT_NAME} ({PHONE}), "
                    "компания {COMPANY_TITLE}. Карточка: {LINK}",
     "deadline_hours": 2, "on_leave": "close",
     "checklist": ["Позвонить клиенту", "Записать итог звонка в карточку"]},
    {"entity": "lead", "status_id": "PROCESSED",
     "title": "Договориться о выезде: {TITLE}",
     "description": "Каталог отправлен. Согласуйте с {CONTACT_NAME} дату выезда на объект. "
                    "Карточка: {LINK}",
     "deadline_days": 1, "on_leave": "close", "auditors": ["head"]},
    {"entity": "lead", "status_id": "CONVERTED",
     "title": "Контроль выезда: {TITLE}",
     "description": "Выезд согласован менеджером {ASSIGNED_BY_NAME}. Проверьте подготовку и "
                    "итог. Карточка: {LINK}",
     "responsible": "head", "deadline_days": 2, "task_control": True,
     "policy": "approval_required"},
)


def set_up_demo(ctx: Context) -> int:
    """How many robots it set up (0: the portal had some)."""
    if services.list_robots(ctx.portal):
        return 0
    for body in DEMO_ROBOTS:
        services.create_robot(ctx, body)
    return len(DEMO_ROBOTS)
