"""Turn a portal identity (who the portal says logged in) into the extension's user.

The user is matched by portal user id among the synced users; someone the last directory sync
has not seen yet (hired a minute ago) is synced on the spot. A dismissed user is refused even
if the portal still let them in. The administrator flag comes from ``user.admin`` at every
login: ``user.get`` does not return it, so the login is where the extension learns it.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal_ext.auth.oauth import PortalIdentity
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.portal.models import Portal


class LoginRefused(Exception):
    """The portal confirmed who it is, but the extension will not let them in."""

    def __init__(self, reason: str, message: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = str(message)


def find_user(*, portal: Portal, portal_user_id: int) -> PortalUser | None:
    return db.session.scalars(
        select(PortalUser).where(PortalUser.portal_id == portal.id,
                                 PortalUser.portal_user_id == portal_user_id)
    ).first()


def sign_in(*, portal: Portal, identity: PortalIdentity, now: datetime) -> PortalUser:
    if portal.member_id and identity.member_id and identity.member_id != portal.member_id:
        raise LoginRefused("other_portal", _l("This account belongs to another portal."))
    user = find_user(portal=portal, portal_user_id=identity.portal_user_id)
    if user is None:
        _sync_newcomer(portal=portal, portal_user_id=identity.portal_user_id, now=now)
        user = find_user(portal=portal, portal_user_id=identity.portal_user_id)
    if user is None:
        raise LoginRefused("unknown_user",
                           _l("The portal does not list this account among its employees."))
    if not user.active:
        raise LoginRefused("dismissed", _l("This account has been dismissed on the portal."))
    if user.is_admin != identity.is_admin:
        if user.is_admin:  # no longer an administrator: sessions opened as one end
            user.end_sessions()
        user.is_admin = identity.is_admin
        db.session.commit()
    return user


def _sync_newcomer(*, portal: Portal, portal_user_id: int, now: datetime) -> None:
    from portal_ext.directory.services import sync_one_user
    from portal_ext.portal.errors import PortalError
    from portal_ext.portal.registration import client_for

    try:
        sync_one_user(portal=portal, client=client_for(portal), portal_user_id=portal_user_id,
                      now=now)
    except PortalError as error:
        db.session.rollback()
        raise LoginRefused("sync_failed",
                           _l("The portal could not be asked about this account. "
                              "Please try again later.")) from error
    db.session.commit()
