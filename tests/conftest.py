"""Fixtures shared by every test area.

``broker`` gives each test its own ``pulsar-lite`` process (127.0.0.1, free port, metrics off, data under
the test's tmp_path); ``session_broker`` is one process for the whole run, for tests that only need somewhere
to publish, on topics of their own. Tests using either get the ``broker`` mark, so ``-m "not broker"`` skips
them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lockcloud.sim.broker import LocalBroker

_BROKER_FIXTURES = frozenset({"broker", "session_broker"})


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A running broker owned by this test; ``kill()`` / ``restart()`` it freely."""
    with LocalBroker(tmp_path / "broker") as local_broker:
        yield local_broker


@pytest.fixture(scope="session")
def session_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """One broker for the whole session; do not stop or restart it."""
    with LocalBroker(tmp_path_factory.mktemp("session-broker")) as local_broker:
        yield local_broker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _BROKER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.broker)
