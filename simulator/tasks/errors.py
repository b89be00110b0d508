"""The tasks service's errors, as the portal words them ([D] api-reference/tasks/...): the
``tasks.task.*`` methods answer code ``0`` or ``100`` with "(internal error)" texts, or
``ERROR_CORE`` whose text joins the portal's messages with ``<br>``; ``task.commentitem.*``
answers ``ERROR_CORE`` with the portal's ``TASKS_ERROR_EXCEPTION_#...`` texts."""

from __future__ import annotations

from simulator.core.errors import NamedError


class TaskActionNotAllowed(NamedError):
    code, text = "0", "Action on the task is not allowed (internal error)"


class DeadlineDenied(NamedError):
    code, text = "ERROR_CORE", "Access denied: you may not change the deadline of this task<br>"


class TaskIdMissing(NamedError):
    code = "100"
    text = "CTaskItem All parameters in the constructor must have real class type (internal error)"


class WrongTaskId(NamedError):
    code, text = "0", "wrong task id"


class HistoryAccessDenied(NamedError):
    code, text = "0", "Access denied. (internal error)"


class FieldsMissing(NamedError):
    code, text = "100", "Could not find value for parameter {{fields}} (internal error)"


class SelectNotArray(NamedError):
    code = "100"
    text = ("Invalid value {value} to match with parameter {{select}}. "
            "Should be value of type array. (internal error)")


class TaskInputRejected(NamedError):
    """``tasks.task.add``/``update`` input with problems: every message at once."""

    code, text = "ERROR_CORE", "{messages}"

    def __init__(self, messages: list[str]) -> None:
        super().__init__(messages="".join(f"{m}<br>" for m in messages))


# The messages a TaskInputRejected joins (the portal's, where its docs list them).
TITLE_MISSING = "Task title not specified"
ASSIGNEE_MISSING = "Assignee not specified"
ASSIGNEE_NOT_FOUND_ON_ADD = 'User specified in the "Assignee" field not found'
ASSIGNEE_NOT_FOUND_ON_UPDATE = 'The user specified in the "Assignee" field is not found'
USER_NOT_FOUND = 'User specified in the "{label}" field not found'
INVALID_VALUE = 'Invalid value in the "{field}" field'
INVALID_STATUS = "Invalid status"
PARENT_IS_SELF = "Cannot bind the node to itself"
PARENT_NOT_FOUND = 'Task specified in the "Parent Task" field not found'


# -- task.commentitem.* ---------------------------------------------------------------------
class WrongArguments(NamedError):
    code = "ERROR_CORE"
    text = "TASKS_ERROR_EXCEPTION_#256; {param} {detail}.; 256/TE/WRONG_ARGUMENTS<br>"


class CommentDenied(NamedError):
    code, text = "ERROR_CORE", "Insufficient permissions to add a comment.<br>"


class CommentTextMissing(NamedError):
    code, text = "ERROR_CORE", "Comment text not specified<br>"


class CommentAuthorNotFound(NamedError):
    code, text = "ERROR_CORE", "The comment author was not found<br>"


class CommentActionFailed(NamedError):
    code = "ERROR_CORE"
    text = "TASKS_ERROR_EXCEPTION_#8; Action failed; 8/TE/ACTION_FAILED_TO_BE_PROCESSED<br>"
