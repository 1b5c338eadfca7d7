"""Values and helpers shared by the whole test suite: ``from support import ACCESS_SECRET, FAST_RETRY, ...``.

``tests/`` is on ``sys.path`` through pytest's ``pythonpath`` option (see ``pyproject.toml``), so every test module
and conftest can import this one by name, whichever directory it sits in and under ``--import-mode=importlib``
(where a test module cannot import a conftest). Fixtures stay in the conftests; plain values and functions live
here, once.

A test that needs a *particular* value (the Tuya documentation's signing vector, a crypto vector's key) keeps it
beside the test and says why.
"""

from __future__ import annotations

import re
import socket
from typing import Any

from lockcloud import RetryPolicy
from lockcloud.events import SourceClosed, SourceMessage

__all__ = [
    "ACCESS_ID",
    "ACCESS_SECRET",
    "FAST_RETRY",
    "ListSource",
    "fast_retry",
    "free_port",
    "project_access_id",
]

#: The project secret every test uses unless it needs a documented vector's. 32 letters and digits, like Tuya's
#: (the simulator insists), with enough distinct characters that the suite's secret guard searches the logs for
#: it (see ``tests/reliability/secret_guard.py``).
ACCESS_SECRET = "LockcloudTestsSharedSecret0123ab"

_LABEL = re.compile(r"[a-z][a-z0-9]{0,11}")


def project_access_id(label: str) -> str:
    """The access id of a test project called ``label`` (lowercase letters and digits, at most 12): 20
    characters, like Tuya's, and different for every label.

    Push topics are named after the access id (``{access_id}/out/event``), so test modules that publish to one
    shared broker each take their own label and so their own topics; a module reusing another's label would read
    its messages.
    """
    if not _LABEL.fullmatch(label):
        raise ValueError(f"a project label is 1-12 lowercase letters and digits, not {label!r}")
    return f"{label}project".ljust(20, "0")


#: The access id of tests that need no topics of their own (nothing published to a shared broker).
ACCESS_ID = project_access_id("lockcloud")


def fast_retry(max_attempts: int = 3) -> RetryPolicy:
    """Retries that wait a millisecond or two: the number of attempts still counts, the clock barely moves."""
    return RetryPolicy(max_attempts=max_attempts, initial_backoff=0.001, max_backoff=0.002, deadline=None)


#: Three attempts (one call and two retries) without noticeable waiting.
FAST_RETRY = fast_retry()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (another process may take it before it is bound: callers
    that can, retry)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ListSource:
    """A real :class:`~lockcloud.events.Source` over a fixed list of messages (as a webhook would hand them over),
    closed once they are handed over; it keeps what it was told to acknowledge. A forwarder never gives a message
    up, so ``redeliver`` fails the test."""

    description = "list"

    def __init__(self, messages: list[SourceMessage]) -> None:
        self.messages = list(messages)
        self.acknowledged: list[SourceMessage] = []

    async def open(self) -> None:
        pass

    async def receive(self) -> list[SourceMessage]:
        if not self.messages:
            raise SourceClosed("done")
        batch, self.messages = self.messages, []
        return batch

    def acknowledge(self, message: SourceMessage) -> None:
        self.acknowledged.append(message)

    def redeliver(self, message: SourceMessage) -> None:
        raise AssertionError("the forwarder never gives a message up")

    def report(self, message: SourceMessage, outcome: Any) -> None:
        pass

    async def resubscribe(self) -> None:
        pass

    async def close(self, grace: float) -> None:
        pass
