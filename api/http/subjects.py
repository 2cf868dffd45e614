"""HTTP resource for data subjects (scope ``admin``): erasure by crypto-shredding.

A subject is ``kind:id``: ``user:<user id>``, ``conversation:<id>`` or ``document:<id>``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from litestar.response import Response

from api.http.auth import requires
from api.http.commands import Changed, answer
from api.http.fields import NO_NUL
from application.context import CommandContext
from application.erasure import Subjects
from domain.erasure import REASON_MAX_CHARS, SUBJECT_PATTERN

ADMIN = [requires("admin")]
SubjectName = Annotated[
    str,
    Parameter(
        pattern=SUBJECT_PATTERN,
        max_length=213,
        description="A data subject: user:<id>, conversation:<id> or document:<id>",
    ),
]


class Erase(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=REASON_MAX_CHARS, pattern=NO_NUL)]


class Erased(Changed):
    subject: str


class SubjectsController(Controller):
    path = "/v1/subjects"
    tags = ["privacy"]

    @post(
        "/{subject:str}/erase",
        guards=ADMIN,
        status_code=200,
        operation_id="eraseSubject",
        opt={"command": "subject.erase"},
    )
    async def erase(
        self,
        subject: FromPath[SubjectName],
        data: JSONBody[Erase],
        context: NamedDependency[CommandContext],
        data_subjects: NamedDependency[Subjects],
    ) -> Response[Erased]:
        """Erase a data subject: its data keys are destroyed, so every value bound to it
        reads as null everywhere (history, search, live replay, exports), and every API
        process drops its keys within a second. 404 for a subject that never held a
        value, 409 for one erased with nothing new since."""
        result = await data_subjects.erase(context, subject, data.reason)
        return answer(Erased(result.version, result.position, subject), result)
