"""API tokens: issued to a user, shown once, stored only as a SHA-256 hash.

A token is 32 random bytes (``secrets.token_urlsafe``) with a ``pe_`` prefix so a leaked one is
easy to recognise in logs and secret scanners. Only ``sha256(token)`` is stored: a database
dump does not give anyone API access. SHA-256 without salt is enough here because the token
itself has 256 bits of entropy (unlike a password, it cannot be guessed from a dictionary).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal_ext.auth.models import ApiToken
from portal_ext.directory.models import PortalUser
from portal_ext.extensions import db
from portal_ext.portal.models import Portal

TOKEN_PREFIX = "pe_"
NAME_MAX_LENGTH = 100


class TokenError(ValueError):
    """A token request that cannot be honoured; ``field`` names the culprit."""

    def __init__(self, field: str, message: object) -> None:
        super().__init__(str(message))
        self.field = field
        self.message = message


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def issue_token(*, portal: Portal, user: PortalUser, name: str, now: datetime) -> str:
    """Create a token for ``user`` and return the plain token (the only time it exists)."""
    name = (name or "").strip()
    if not name:
        raise TokenError("name", _l("A token needs a name."))
    if len(name) > NAME_MAX_LENGTH:
        raise TokenError("name", _l("A token name has at most %(count)d characters.",
                                       count=NAME_MAX_LENGTH))
    if user.portal_id != portal.id:
        raise TokenError("user", _l("The user belongs to another portal."))
    if not user.active:
        raise TokenError("user", _l("A dismissed user cannot get a token."))
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(portal_id=portal.id, user_id=user.id, name=name,
                            token_hash=hash_token(plain), created_at=now))
    db.session.commit()
    return plain


def revoke_token(*, portal: Portal, token: ApiToken, actor: PortalUser, now: datetime) -> bool:
    """Revoke ``token``; its owner or an administrator may. Returns False if already revoked."""
    if token.portal_id != portal.id or (token.user_id != actor.id and actor.role != "admin"):
        raise TokenError("token", _l("You may not revoke this token."))
    if token.revoked_at is not None:
        return False
    token.revoked_at = now
    db.session.commit()
    return True


def authenticate_token(plain: str, *, now: datetime) -> tuple[ApiToken, PortalUser] | None:
    """The live token and its active owner for a presented bearer token, else None.

    The lookup is by hash, so comparing is an indexed equality on a value an attacker cannot
    choose freely; no timing side channel reveals a stored token.
    """
    if not plain.startswith(TOKEN_PREFIX):
        return None
    row = db.session.execute(
        select(ApiToken, PortalUser)
        .join(PortalUser, PortalUser.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(plain), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    token, user = row
    if not user.active or user.portal_id != token.portal_id:
        return None
    token.last_used_at = now
    db.session.commit()
    return token, user


def tokens_visible_to(*, portal: Portal, actor: PortalUser) -> list[ApiToken]:
    """Everyone sees their own tokens; an administrator sees every token of the portal."""
    query = select(ApiToken).where(ApiToken.portal_id == portal.id)
    if actor.role != "admin":
        query = query.where(ApiToken.user_id == actor.id)
    return list(db.session.scalars(query.order_by(ApiToken.revoked_at.is_not(None),
                                                  ApiToken.created_at.desc(),
                                                  ApiToken.id.desc())))
