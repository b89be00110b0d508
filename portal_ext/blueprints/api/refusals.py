"""Turning a domain refusal or a portal outage into the API's error answer. The API speaks
English whatever the caller's page language; the request's changes are rolled back first.

A :class:`portal_ext.errors.Refusal` raised by a service and not caught by the view is
answered here for every API route (registered on the API blueprint): its status by kind
(422, 403, 404, 409), ``{"error": {"code", "message", "field"}}``; several bad fields at once
(portal_ext.errors.Refusals) add ``errors``, the list of every one, the first one also
above."""

from __future__ import annotations

from typing import Any

from flask_babel import force_locale

from portal_ext.auth.api_auth import ApiError
from portal_ext.blueprints.errors import handle_api_error
from portal_ext.errors import Refusal, Refusals
from portal_ext.extensions import db
from portal_ext.portal.errors import PortalError


def in_english(message: object) -> str:
    with force_locale("en"):
        return str(message)


def refused(error: Refusal) -> ApiError:
    """A service's refusal as the API's error: its status and code, the message in English,
    the field to blame."""
    db.session.rollback()
    errors = None
    if isinstance(error, Refusals):
        errors = [{"code": one.code, "message": in_english(one.message), "field": one.field}
                  for one in error.refusals]
    return ApiError(error.status, error.code, in_english(error.message), error.field, errors)


def answer_refusal(error: Refusal) -> Any:
    """The API blueprint's handler of every refusal its views let through."""
    return handle_api_error(refused(error))


def portal_unavailable(exc: PortalError) -> ApiError:
    db.session.rollback()
    return ApiError(503, "portal_unavailable",
                    f"The portal did not answer ({exc}); nothing was changed. Try again later.")
