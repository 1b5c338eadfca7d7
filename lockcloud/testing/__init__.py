"""Testing an application built on lockcloud: pytest fixtures for a simulated cloud, pushes and faults.

Installing lockcloud with the ``sim`` extra (``pip install 'lockcloud[sim]' pytest-asyncio``) is all it takes: the
plugin is registered through the ``pytest11`` entry point, so the fixtures below are there in every test (turn it
off with ``-p no:lockcloud``). Nothing starts until a test asks for a fixture.

Fixtures
--------

``lockcloud_sim``
    A new :class:`lockcloud.sim.Simulator` with the demo world (``lockcloud_sim.devices["front_door"]``, users
    ``sim-alice`` and ``sim-bob``). Its options come from the test's marker:
    ``@pytest.mark.lockcloud_sim(press_interval=0.05)``, ``(seed=False)``, ``(push_encryption="aes_ecb")`` ...
``lockcloud_server`` (async)
    ``lockcloud_sim`` served over loopback HTTP by uvicorn (:class:`lockcloud.sim.SimServer`: ``base_url``,
    ``pulsar_url``, ``websocket_url``, ``access_id``, ``access_secret``, ``devices``), its push messages going to
    the session's broker (and over WebSocket from ``websocket_url``). Point the application under test at it.
``lockcloud_client`` (async)
    A :class:`lockcloud.LockCloud` on ``lockcloud_server``; ``lockcloud_server.client(**options)`` makes one
    with other options.
``lockcloud_events`` (async)
    An open :class:`lockcloud.events.EventStream` of ``lockcloud_client``, subscribed before the test body runs.
``lockcloud_push_transport``
    ``"pulsar"``: the push transport of ``lockcloud_client`` and ``lockcloud_events``. Override it (or parametrize
    it with ``["pulsar", "websocket"]``) to run push tests over Pulsar's WebSocket API.
``lockcloud_push`` (async)
    A :class:`PushPublisher` to the simulator's topic; ``lockcloud_push.build`` is its :class:`PushBuilder`.
``lockcloud_faults``
    A :class:`FaultInjector` on ``lockcloud_sim``: outages, lost responses, latency, clock skew, an offline lock,
    a remote-unlock switch off, Zigbee locks refusing guest codes, each for one ``with`` block.
``lockcloud_session_broker``, ``lockcloud_broker``
    pulsar-lite brokers on loopback: one for the session, or one per test to ``kill()`` and ``restart()``.

The async fixtures need pytest-asyncio. In its default strict mode an async test runs only when marked
``@pytest.mark.asyncio`` (otherwise pytest fails it); the examples below assume ``asyncio_mode = "auto"``.

Examples
--------

::

    import pytest
    from lockcloud import OutcomeUnknownError
    from lockcloud.events import StatusReport
    from lockcloud.testing import assert_executed


    async def test_unlock_route(lockcloud_server, lockcloud_sim):
        app = make_app(  # your application, pointed at the simulator
            base_url=lockcloud_server.base_url,
            access_id=lockcloud_server.access_id,
            access_secret=lockcloud_server.access_secret,
        )
        await app.unlock(lockcloud_server.devices["shed"])
        assert lockcloud_sim.lock(lockcloud_server.devices["shed"]).door_open


    async def test_a_lost_answer_is_never_replayed(lockcloud_client, lockcloud_sim):
        door = lockcloud_sim.devices["shed"]  # its password-free switch is on
        lockcloud_sim.lose_next_response(action="door_operate")
        with pytest.raises(OutcomeUnknownError):
            await lockcloud_client.remote_unlock.unlock(door)
        assert_executed(lockcloud_sim, "door_operate", 1)


    async def test_the_app_sees_the_door_open(lockcloud_push, lockcloud_events, lockcloud_sim):
        door = lockcloud_sim.devices["front_door"]
        await lockcloud_push.publish(lockcloud_push.build.status(door, {"closed_opened": "open"}))
        event = await anext(aiter(lockcloud_events))
        assert isinstance(event, StatusReport)


    @pytest.mark.lockcloud_sim(press_interval=0.01)
    async def test_enrollment(lockcloud_client, lockcloud_events, lockcloud_sim):
        door = lockcloud_sim.devices["front_door"]
        async with lockcloud_client.enroll(door, user_id="sim-alice", user_type=1,
                                           unlock_type="card", events=lockcloud_events) as enrollment:
            async for _ in enrollment:
                pass
        assert enrollment.result.ok

Outside pytest, :class:`PushBuilder` and :class:`PushPublisher` work on any broker and project (they are what
the fixtures use), and :func:`assert_executed` on any :class:`~lockcloud.sim.Simulator`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lockcloud.testing._faults import FaultInjector, assert_executed
    from lockcloud.testing._push import PushBuilder, PushPublisher

__all__ = ["FaultInjector", "PushBuilder", "PushPublisher", "assert_executed"]

# Loaded on first use: pytest imports the plugin (lockcloud.testing.plugin) at every start, and a test session
# that uses none of this should not pay for importing the simulator.
_HOMES = {
    "FaultInjector": "lockcloud.testing._faults",
    "assert_executed": "lockcloud.testing._faults",
    "PushBuilder": "lockcloud.testing._push",
    "PushPublisher": "lockcloud.testing._push",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lockcloud.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
