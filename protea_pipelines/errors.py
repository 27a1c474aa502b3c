"""Errors a user can act on. Each names the field (or file and line) and the value at fault."""

from __future__ import annotations

import errno
from collections.abc import Iterable
from typing import Any


class ProteaError(Exception):
    """Base class: an error whose message is meant for the person who ran the command."""

    code = "protea_error"


class InputError(ProteaError):
    """Bad input: a payload field, a file line or a setting, with the value and what is accepted."""

    code = "invalid_input"

    def __init__(
        self, field: str, value: Any, problem: str, accepted: Iterable[Any] | str | None = None
    ) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        if accepted is None or isinstance(accepted, str):
            self.accepted = accepted
        else:
            self.accepted = ", ".join(str(item) for item in accepted)
        message = f"{field}: {problem} (got {value!r})"
        if self.accepted:
            message += f"; accepted: {self.accepted}"
        super().__init__(message)


class PayloadError(ProteaError):
    """An export payload that fails validation; the message lists each field at fault."""

    code = "invalid_payload"


class ParseError(InputError):
    """A line of an input file that cannot be read."""

    code = "parse_error"

    def __init__(self, path: str, line_number: int, problem: str, line: str = "") -> None:
        super().__init__(f"{path}:{line_number}", line[:120], problem)
        self.path = path
        self.line_number = line_number


class WriteError(ProteaError):
    """A dataset file that could not be written (no space left, a file-size limit...)."""

    code = "write_failed"


class TransientError(ProteaError):
    """A failure worth retrying: a dropped connection, a busy file."""

    code = "transient"


TRANSIENT_ERRNOS = frozenset({errno.EBUSY, errno.EAGAIN, errno.ETXTBSY, errno.EINTR})
TRANSIENT_DB_MESSAGES = ("database is locked", "server closed the connection", "connection")


def is_transient(error: BaseException) -> bool:
    """A failure that may pass on a retry: a dropped database connection, a busy file.

    Bad data is never transient: retrying it would only fail the same way, later.
    """
    from sqlalchemy import exc as sa_exc

    if isinstance(error, TransientError):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, (sa_exc.OperationalError, sa_exc.DisconnectionError)):
        text = str(error).lower()
        return any(message in text for message in TRANSIENT_DB_MESSAGES)
    return isinstance(error, OSError) and error.errno in TRANSIENT_ERRNOS
