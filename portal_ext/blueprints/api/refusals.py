"""Turning a domain refusal or a portal outage into the API's error answer. The API speaks
English whatever the caller's page language; the request's changes are rolled back first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import force_locale

from portal_ext.auth.api_auth import ApiError
from portal_ext.extensions import db
from portal_ext.portal.errors import PortalError


def in_english(message: object) -> str:
    with force_locale("en"):
        return str(message)


def refused(error: Any, statuses: Mapping[str, int]) -> ApiError:
    """A service's refusal (``code``, ``message``, ``field``): its status by code, else 422."""
    db.session.rollback()
    return ApiError(statuses.get(error.code, 422), error.code, in_english(error.message),
                    error.field)


def portal_unavailable(exc: PortalError) -> ApiError:
    db.session.rollback()
    return ApiError(503, "portal_unavailable",
                    f"The portal did not answer ({exc}); nothing was changed. Try again later.")
