"""Fixtures shared by every test area.

``broker`` gives each test its own ``pulsar-lite`` process (127.0.0.1, free port, metrics off, data under
the test's tmp_path); ``session_broker`` is one process for the whole run, for tests that only need somewhere
to publish, on topics of their own. Tests using either get the ``broker`` mark, so ``-m "not broker"`` skips
them.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from lockcloud.sim.broker import LocalBroker

_BROKER_FIXTURES = frozenset({"broker", "session_broker", "lockcloud_broker", "lockcloud_session_broker"})
_SECRET_GUARD = Path(__file__).parent / "reliability" / "secret_guard.py"


def pytest_configure(config: pytest.Config) -> None:
    # lockcloud.testing's fixtures come through its pytest11 entry point; a development install made before that
    # entry point existed lacks it until reinstalled, so load the plugin here then (unless -p no:lockcloud).
    plugins = config.pluginmanager
    if not plugins.has_plugin("lockcloud") and not plugins.is_blocked("lockcloud"):
        plugins.register(importlib.import_module("lockcloud.testing.plugin"), "lockcloud")
    # The suite-wide guard against secrets in log records, loaded by path (tests are not a package).
    spec = importlib.util.spec_from_file_location("lockcloud_secret_guard", _SECRET_GUARD)
    assert spec is not None
    assert spec.loader is not None
    guard = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = guard
    spec.loader.exec_module(guard)
    config.pluginmanager.register(guard, "lockcloud-secret-guard")


@pytest.fixture
def broker(lockcloud_broker: LocalBroker) -> LocalBroker:
    """A running broker owned by this test; ``kill()`` / ``restart()`` it freely (lockcloud.testing's)."""
    return lockcloud_broker


@pytest.fixture(scope="session")
def session_broker(lockcloud_session_broker: LocalBroker) -> LocalBroker:
    """One broker for the whole session; do not stop or restart it (lockcloud.testing's)."""
    return lockcloud_session_broker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _BROKER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.broker)
