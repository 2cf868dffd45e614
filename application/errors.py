"""Errors of the application layer, each mapped to one HTTP status at the edge."""

from __future__ import annotations


class ApplicationError(Exception):
    """Base class of errors a use case reports to its caller."""


class NotFound(ApplicationError):
    """The resource does not exist, or belongs to another tenant (which is not revealed)."""


class Unauthenticated(ApplicationError):
    """No credential, or one that is malformed, unknown or revoked."""


class Forbidden(ApplicationError):
    """The credential is valid but lacks the scope the operation needs."""


class PreconditionFailed(ApplicationError):
    """The caller's expected version (If-Match) is not the current one."""

    def __init__(self, expected: int, actual: int | None = None) -> None:
        detail = f"expected version {expected}"
        if actual is not None:
            detail += f", current version is {actual}"
        super().__init__(detail)
        self.expected = expected
        self.actual = actual


class ConcurrencyConflict(ApplicationError):
    """Another writer changed the aggregate first."""


class IdempotencyKeyReused(ApplicationError):
    """An Idempotency-Key was sent again with a different request."""


class DuplicateReceipt(ApplicationError):
    """A concurrent request with the same Idempotency-Key committed first."""


class StoreUnavailable(ApplicationError):
    """The database could not be reached. A command that was being written when the
    connection broke may or may not have committed: retry it with the same Idempotency-Key.
    """


class OwnKeyRevocation(ApplicationError):
    """A key asked to revoke itself: that would lock its holder out mid-request; another
    admin key, or an operator with `chronicle keys revoke`, does it."""


class BudgetExceeded(ApplicationError):
    """The tenant has used its daily budget; new agent runs wait for the next UTC day."""

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class UsageUnavailable(ApplicationError):
    """The tenant's usage cannot be counted (some of its usage events are parked), so a
    budget cannot be checked; new agent runs wait until an operator retries them."""

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s
