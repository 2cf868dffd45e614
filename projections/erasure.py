"""What an erasure (``SubjectErased``) names for a read model: the erased subject's id, by
kind, as the values bound to it name it (``domain.privacy``). No I/O.
"""

from __future__ import annotations

from uuid import UUID

from projections.events import SubjectErased


def erased(event: SubjectErased, kind: str) -> str | None:
    """The id of the erased subject if it is of ``kind`` (``user:ann`` → ``ann``)."""
    named, _, ident = event.subject.partition(":")
    return ident if named == kind else None


def erased_container(event: SubjectErased, kind: str) -> UUID | None:
    """The id of the erased container (a conversation, a document) if it is of ``kind``:
    only as the container's subject spells it (``str(UUID)``), since only that subject's
    keys were destroyed."""
    ident = erased(event, kind)
    try:
        container = UUID(ident) if ident is not None else None
    except ValueError:
        return None
    return container if container is not None and str(container) == ident else None
