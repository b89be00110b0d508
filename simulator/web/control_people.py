"""More of the control plane at ``/_sim/`` (the same blueprint and guard as
simulator.web.control):

- ``POST /_sim/users/<id>/webhook``: that user's incoming webhook, as the real portal lets each
  user make one (local-integrations/local-webhooks.md). Answers ``{"url":
  "<base>/rest/<id>/<token>/"}``; calls through it act with that user's rights. The token is
  made once and kept (asking again answers the same URL); user 1's is the portal's configured
  token. An unknown user answers 404, a dismissed one 400, both naming ``user_id``.
- ``GET``/``POST /_sim/tasks/roles``: the per-role task rights (simulator.tasks.roles), e.g.
  ``{"employee": {"responsible_may_edit": true}}``; bad input names the field.
"""

from __future__ import annotations

import secrets

from flask import Response, request
from sqlalchemy import select

from simulator.tasks import roles
from simulator.users import tables as users_tables
from simulator.web import current_sim, json_response
from simulator.web.control import BadInput, _body, bp


@bp.post("/users/<int:user_id>/webhook")
def user_webhook(user_id: int) -> Response:
    sim = current_sim()
    users = users_tables.users
    with sim.engine.begin() as conn:
        row = conn.execute(select(users.c.active, users.c.webhook_token)
                           .where(users.c.id == user_id)).first()
        if row is None:
            return json_response({"error": "NOT_FOUND", "error_description": "No such user",
                                  "field": "user_id"}, 404)
        if not row.active:
            raise BadInput("user_id", "A dismissed user has no incoming webhook")
        token = row.webhook_token
        if not token:
            token = secrets.token_hex(8)
            conn.execute(users.update().where(users.c.id == user_id)
                         .values(webhook_token=token))
    return json_response({"url": f"{request.url_root.rstrip('/')}/rest/{user_id}/{token}/"})


@bp.get("/tasks/roles")
def task_roles_get() -> Response:
    return json_response(roles.merged(current_sim().settings.get(roles.SETTING)))


@bp.post("/tasks/roles")
def task_roles_set() -> Response:
    sim = current_sim()
    body = _body()
    if not body:
        raise BadInput("body", f"Give rights for a role: {', '.join(roles.ROLES)}")
    current = roles.merged(sim.settings.get(roles.SETTING))
    for role, rights in body.items():
        if role not in roles.ROLES:
            raise BadInput(role, f"Unknown role '{role}'; expected one of "
                                 f"{', '.join(roles.ROLES)}")
        if not isinstance(rights, dict):
            raise BadInput(role, f"'{role}' must be an object")
        for right, value in rights.items():
            if right not in roles.RIGHTS:
                raise BadInput(f"{role}.{right}", f"Unknown right '{right}'; expected one of "
                                                  f"{', '.join(roles.RIGHTS)}")
            if not isinstance(value, bool):
                raise BadInput(f"{role}.{right}", f"'{right}' must be true or false")
            current[role][right] = value
    sim.settings.set(roles.SETTING, current)
    return json_response(current)
