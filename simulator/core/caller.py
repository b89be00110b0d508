"""Which installed application a call comes from, if any.

The portal tells an application's call (OAuth, ``/rest/<method>?auth=<token>``) from an
incoming webhook's (``/rest/<user>/<token>/<method>``); some methods answer only the first
(``bizproc.*``, reference wave 2 §1.6). The REST endpoint sets :data:`CALLER_APP` to the
calling application's client id for the time of the request; in-process callers use
:func:`as_app`. Unset (None): an incoming webhook or the portal itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

CALLER_APP: ContextVar[str | None] = ContextVar("simulator_caller_app", default=None)


@contextmanager
def as_app(client_id: str | None) -> Iterator[None]:
    """Calls made inside come from the application ``client_id``."""
    token = CALLER_APP.set(client_id)
    try:
        yield
    finally:
        CALLER_APP.reset(token)


def caller_app() -> str | None:
    return CALLER_APP.get()
