"""Named domain errors, raised before any state changes.

The HTTP edge maps them to problem+json; the domain never knows about HTTP.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every rule the domain enforces."""


class InvalidValue(DomainError):
    """A command carried a value the domain does not accept."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RuleViolation(DomainError):
    """A command is not allowed in the aggregate's current state."""


class ConversationIsArchived(RuleViolation):
    def __init__(self, conversation_id: object) -> None:
        super().__init__(f"conversation {conversation_id} is archived")


class ApiKeyAlreadyRevoked(RuleViolation):
    def __init__(self, key_id: object) -> None:
        super().__init__(f"API key {key_id} is already revoked")


class AlreadyParticipant(RuleViolation):
    def __init__(self, conversation_id: object, user_id: str) -> None:
        super().__init__(f"{user_id} already takes part in conversation {conversation_id}")


class NotParticipant(RuleViolation):
    def __init__(self, conversation_id: object, user_id: str) -> None:
        super().__init__(f"{user_id} does not take part in conversation {conversation_id}")


class NotificationNotUnread(RuleViolation):
    def __init__(self, notification_id: object) -> None:
        super().__init__(f"notification {notification_id} is not an unread one of this user")


class RunIsFinished(RuleViolation):
    def __init__(self, run_id: object, state: str) -> None:
        super().__init__(f"run {run_id} is {state}; nothing more can happen to it")


class ToolCallConflict(RuleViolation):
    """A tool call id reused, completed twice, unknown, or still open at completion."""


class TaskStateConflict(RuleViolation):
    """A task command that its current state does not allow."""


class TaskIsCancelled(TaskStateConflict):
    def __init__(self, task_id: object, reason: str) -> None:
        super().__init__(f"task {task_id} was cancelled: {reason}")
        self.reason = reason


class DocumentIsArchived(RuleViolation):
    def __init__(self, document_id: object) -> None:
        super().__init__(f"document {document_id} is archived")


class DocumentIsErased(RuleViolation):
    def __init__(self, document_id: object) -> None:
        super().__init__(f"document {document_id} was erased")


class OpDoesNotFit(RuleViolation):
    """A well-formed op that does not fit the text of the revision it was made on."""

    def __init__(self, document_id: object, base_revision: int, problem: str) -> None:
        super().__init__(f"document {document_id} at revision {base_revision}: the op {problem}")


class UnknownRevision(RuleViolation):
    """An op based on a revision the document never had: ahead of its head, or negative.
    (One behind the head is fine: it is transformed against what came since.)"""

    def __init__(self, document_id: object, base_revision: int, revision: int) -> None:
        super().__init__(
            f"document {document_id} is at revision {revision}; an op cannot be based on"
            f" revision {base_revision}"
        )
        self.base_revision = base_revision
        self.revision = revision


class AlertNotFiring(RuleViolation):
    """Only a firing alert is acknowledged."""

    def __init__(self, alert_id: object, state: str) -> None:
        super().__init__(f"alert {alert_id} is {state}, not firing")


class SubjectAlreadyErased(RuleViolation):
    """A data subject with no values left since its last erasure."""

    def __init__(self, subject: str) -> None:
        super().__init__(f"data subject {subject} is erased and holds no values since")
