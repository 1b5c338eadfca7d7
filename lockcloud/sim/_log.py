"""What the simulator saw: every request it received and every call it executed, for tests to check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["ActionRecord", "RequestRecord"]


@attrs.frozen
class ActionRecord:
    """A call the simulator executed. ``response_lost`` says the client never got the answer; ``code`` is set
    when an error was answered after executing (``fail_next(..., executed=True)``)."""

    seq: int
    at: float
    action: str
    method: str
    path: str
    device_id: str | None
    detail: Mapping[str, Any]
    response_lost: bool = False
    code: int | None = None


@attrs.frozen
class RequestRecord:
    """Every request the simulator received, executed or not: the Tuya code it was answered with (``None`` for
    success, a lost response or a gateway error page), the HTTP status (a gateway error's, or 200) and the ``tid``
    of the envelope it was answered with (empty for a gateway page or a lost response)."""

    seq: int
    at: float
    method: str
    path: str
    action: str | None
    code: int | None
    executed: bool
    response_lost: bool
    http_status: int = 200
    tid: str = ""
