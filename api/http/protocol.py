"""uvicorn's HTTP/1.1 protocol, answering a request it cannot parse with problem+json.

A header holding NUL, or a malformed request line, never reaches the application: the
server refuses it while parsing. This keeps that refusal a 400 with the same kind of
body as every other one, instead of uvicorn's plain text.
"""

from __future__ import annotations

import msgspec
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.http.problems import PROBLEM_BASE

UNPARSABLE = msgspec.json.encode(
    {
        "status": 400,
        "type": PROBLEM_BASE + "bad-request",
        "title": "Bad request",
        "detail": "the request is not valid HTTP/1.1 (e.g. a header holds NUL or a line break)",
    }
)


class ProblemHttpProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        head = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.append(
            b"content-type: application/problem+json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % len(UNPARSABLE)
        )
        self.transport.write(b"".join(head) + UNPARSABLE)
        self.transport.close()
