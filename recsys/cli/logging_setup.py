"""Keeping raw user ids out of every log line the server writes.

Our own log calls carry a keyed hash (``Services.user_ref``), never a raw id. This filter is
the net under them, for lines we do not write ourselves: uvicorn's access log prints the raw
request path, and listener paths carry user ids (``/v1/users/<id>/mixes``,
``?user_id=<id>``). ``recsys serve`` turns that access log off and logs requests itself, but
an operator may turn it back on, or run ``serve_commands:worker_app`` under uvicorn directly;
the filter then rewrites the id to its reference before any handler formats the line.

Only entry points install it (``recsys serve`` and each server worker), as they configure
logging; the rest of the code only calls ``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from urllib.parse import unquote

UserRef = Callable[[str], str]

# A user-id path segment, not a route template such as "{user_id}" (our own access log).
_USER_PATH = re.compile(r"(/v1/users/)(?!\{)([^/?#\s\"']+)")
_USER_QUERY = re.compile(r"([?&]user_id=)([^&#\s\"']+)")
_DONE = "recsys_user_ids_redacted"
# The loggers uvicorn writes request lines to; its own logging config stops them from
# propagating to the root handlers, so they get the filter themselves.
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


class UserIdRedactor(logging.Filter):
    """Replaces user ids in listener paths and ``user_id`` query parameters with ``ref(id)``."""

    def __init__(self, ref: UserRef) -> None:
        super().__init__()
        self._ref = ref

    def redact(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            return match.group(1) + self._ref(unquote(match.group(2)))

        return _USER_QUERY.sub(replace, _USER_PATH.sub(replace, text))

    def _redact_value(self, value: object) -> object:
        return self.redact(value) if isinstance(value, str) else value

    def filter(self, record: logging.LogRecord) -> bool:
        # A record may pass a logger's filter and then a handler's: redact it once only.
        if getattr(record, _DONE, False):
            return True
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {k: self._redact_value(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            # Same length and positions: uvicorn's formatter unpacks the access line's args.
            record.args = tuple(self._redact_value(v) for v in record.args)
        setattr(record, _DONE, True)
        return True


def redact_user_ids(ref: UserRef) -> UserIdRedactor:
    """Install the filter on every root handler and on uvicorn's own loggers."""
    redactor = UserIdRedactor(ref)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    for name in UVICORN_LOGGERS:
        logging.getLogger(name).addFilter(redactor)
    return redactor
