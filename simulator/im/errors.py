"""The errors of ``im.notify*``, as the portal words them ([D] api-reference/chats/
notifications/...)."""

from __future__ import annotations

from simulator.core.errors import NamedError


class AttachError(NamedError):
    code, text = "ATTACH_ERROR", "Incorrect attach params"


class UserIdEmpty(NamedError):
    code, text = "USER_ID_EMPTY", "User ID can't be empty"


class MessageEmpty(NamedError):
    code, text = "MESSAGE_EMPTY", "Message can't be empty"


class AttachOversize(NamedError):
    code, text = "ATTACH_OVERSIZE", "You have exceeded the maximum allowable size of attach"


class ParamsError(NamedError):
    code, text = "PARAMS_ERROR", "Incorrect params"
