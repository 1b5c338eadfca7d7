"""lockcloud's pytest plugin, loaded automatically through the ``pytest11`` entry point (``-p no:lockcloud`` turns it
off). See :mod:`lockcloud.testing` for the fixtures. Loading it imports ``lockcloud`` and nothing more: the simulator,
uvicorn and pulsar-client are imported by the fixtures that need them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lockcloud._client import LockCloud
    from lockcloud.events import EventStream, PushTransport
    from lockcloud.sim import SimServer, Simulator
    from lockcloud.sim.broker import LocalBroker
    from lockcloud.testing._faults import FaultInjector
    from lockcloud.testing._push import PushPublisher

#: Without pytest-asyncio the async fixtures are replaced by ones that say what is missing.
_HAS_PYTEST_ASYNCIO = importlib.util.find_spec("pytest_asyncio") is not None

__all__ = [
    "lockcloud_broker",
    "lockcloud_client",
    "lockcloud_events",
    "lockcloud_faults",
    "lockcloud_push",
    "lockcloud_push_transport",
    "lockcloud_server",
    "lockcloud_session_broker",
    "lockcloud_sim",
]

_MARKER = "lockcloud_sim"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): options for the Simulator of the lockcloud_* fixtures "
        "(press_interval=0.05, seed=False, push_encryption='aes_ecb', ...)",
    )


@pytest.fixture(scope="session")
def lockcloud_session_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """One pulsar-lite broker for the whole test session (loopback, free port). Do not stop it; every simulator
    gets its own access id, so tests sharing it do not share topics."""
    from lockcloud.sim.broker import LocalBroker

    with LocalBroker(tmp_path_factory.mktemp("lockcloud-broker")) as broker:
        yield broker


@pytest.fixture
def lockcloud_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A pulsar-lite broker owned by this test: ``kill()`` and ``restart()`` it to test crash recovery."""
    from lockcloud.sim.broker import LocalBroker

    with LocalBroker(tmp_path / "lockcloud-broker") as broker:
        yield broker


@pytest.fixture
def lockcloud_sim(request: pytest.FixtureRequest) -> Simulator:
    """A new :class:`~lockcloud.sim.Simulator` with the demo world, built with the options of the test's
    ``@pytest.mark.lockcloud_sim(...)`` marker."""
    from lockcloud.sim import Simulator

    marker = request.node.get_closest_marker(_MARKER)
    if marker is not None and marker.args:
        raise pytest.UsageError(f"@pytest.mark.{_MARKER} takes keyword arguments only (Simulator options)")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    return Simulator(**options)


@pytest.fixture
def lockcloud_push_transport() -> PushTransport:
    """The push transport of ``lockcloud_client`` and so of ``lockcloud_events``: ``"pulsar"``. Override this fixture
    to return ``"websocket"``, or parametrize it (``@pytest.mark.parametrize("lockcloud_push_transport",
    ["pulsar", "websocket"])``), to run push tests over Pulsar's WebSocket API."""
    return "pulsar"


@pytest.fixture
def lockcloud_faults(lockcloud_sim: Simulator) -> FaultInjector:
    """Scoped faults on ``lockcloud_sim`` (:class:`~lockcloud.testing.FaultInjector`)."""
    from lockcloud.testing._faults import FaultInjector

    return FaultInjector(lockcloud_sim)


if _HAS_PYTEST_ASYNCIO:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def lockcloud_server(
        lockcloud_sim: Simulator, lockcloud_session_broker: LocalBroker, tmp_path: Path
    ) -> AsyncIterator[SimServer]:
        """``lockcloud_sim`` served over loopback HTTP, its pushes going to ``lockcloud_session_broker``."""
        from lockcloud.sim import running

        async with running(
            lockcloud_sim, broker_url=lockcloud_session_broker.url, data_dir=tmp_path / "lockcloud-sim"
        ) as server:
            yield server

    @pytest_asyncio.fixture
    async def lockcloud_client(
        lockcloud_server: SimServer, lockcloud_push_transport: PushTransport
    ) -> AsyncIterator[LockCloud]:
        """A :class:`~lockcloud.LockCloud` on ``lockcloud_server``, over loopback, whose push streams use
        ``lockcloud_push_transport``."""
        async with lockcloud_server.client(push_transport=lockcloud_push_transport) as cloud:
            yield cloud

    @pytest_asyncio.fixture
    async def lockcloud_events(lockcloud_client: LockCloud, tmp_path: Path) -> AsyncIterator[EventStream]:
        """An open event stream of ``lockcloud_client``, subscribed before the test starts (from the earliest
        message of its topic), the pulsar-client log in the test's ``tmp_path``."""
        stream = lockcloud_client.events(
            initial_position="earliest",
            pulsar_log_level="error",
            pulsar_log_file=str(tmp_path / "lockcloud-events-pulsar.log"),
        )
        async with stream:
            yield stream

    @pytest_asyncio.fixture
    async def lockcloud_push(lockcloud_server: SimServer, tmp_path: Path) -> AsyncIterator[PushPublisher]:
        """A :class:`~lockcloud.testing.PushPublisher` to ``lockcloud_server``'s topic; ``lockcloud_push.build``
        makes messages of the simulator's locks."""
        from lockcloud.testing._push import PushPublisher

        publisher = PushPublisher.for_server(
            lockcloud_server, log_file=str(tmp_path / "lockcloud-push-pulsar.log")
        )
        async with publisher:
            yield publisher

else:
    _NEEDS_ASYNCIO = "the lockcloud fixture {} is async and needs pytest-asyncio (pip install pytest-asyncio)"

    @pytest.fixture
    def lockcloud_server() -> None:
        pytest.fail(_NEEDS_ASYNCIO.format("lockcloud_server"), pytrace=False)

    @pytest.fixture
    def lockcloud_client() -> None:
        pytest.fail(_NEEDS_ASYNCIO.format("lockcloud_client"), pytrace=False)

    @pytest.fixture
    def lockcloud_events() -> None:
        pytest.fail(_NEEDS_ASYNCIO.format("lockcloud_events"), pytrace=False)

    @pytest.fixture
    def lockcloud_push() -> None:
        pytest.fail(_NEEDS_ASYNCIO.format("lockcloud_push"), pytrace=False)
