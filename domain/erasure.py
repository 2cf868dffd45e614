"""Erasure of a data subject (crypto-shredding): the log's record that a subject's data keys
were destroyed, by whom and why, so that every follower drops what it derived from them.

One aggregate per subject of a tenant, named by both: its events serialise erasures of the
same subject (two at once: one of them conflicts). A subject may be erased again only when
it gained values (new keys) since it was last erased; the application knows that, not the
domain, which only records.
"""

from __future__ import annotations

import re
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue
from domain.tenancy import TenantOwned
from domain.values import check_chars

SUBJECTS_NAMESPACE = uuid5(NAMESPACE_URL, "https://chronicle.dev/data-subjects")
SUBJECT_KINDS = ("user", "conversation", "document")
# The id is what the subject's values name: a user id, or a message's author as posted
# with an API key (any name: `user:Ann Smith`), up to the length of a name; never a
# control character, nor a slash (it is a path segment).
SUBJECT_PATTERN = r"^(user|conversation|document):[^\x00-\x1f\x7f/]{1,200}$"
_SUBJECT = re.compile(SUBJECT_PATTERN)
REASON_MAX_CHARS = 500
BY_MAX_CHARS = 200


def check_subject(subject: str) -> None:
    """A data subject's name: ``kind:id`` (see `domain.privacy.subject`)."""
    if not _SUBJECT.fullmatch(subject):
        raise InvalidValue(
            "subject", f"must be kind:id with kind one of {', '.join(SUBJECT_KINDS)}"
        )


class DataSubject(Aggregate, TenantOwned):
    """A data subject of a tenant that was erased at least once."""

    category = "data_subject"

    @staticmethod
    def create_id(tenant_id: str, subject: str) -> UUID:
        return uuid5(SUBJECTS_NAMESPACE, f"{tenant_id}/{subject}")

    @event("DataSubjectNamed")
    def __init__(self, tenant_id: str, subject: str) -> None:
        self.tenant_id = tenant_id
        self.subject = subject
        self.erasures = 0

    @classmethod
    def erase_first(cls, tenant_id: str, subject: str, reason: str, by: str) -> DataSubject:
        """The subject, named and erased."""
        check_subject(subject)
        named = cls(tenant_id, subject)
        named.erase(reason, by)
        return named

    def erase(self, reason: str, by: str) -> None:
        """Record that the subject's data keys are destroyed."""
        check_chars("reason", reason, REASON_MAX_CHARS)
        check_chars("by", by, BY_MAX_CHARS)
        self._erased(self.tenant_id, self.subject, reason, by)

    @event("SubjectErased")
    def _erased(self, tenant_id: str, subject: str, reason: str, by: str) -> None:
        self.erasures += 1
