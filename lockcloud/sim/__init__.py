"""A local Tuya cloud for development and tests: the lock REST API, push messages and a Pulsar broker.

The simulator speaks the real wire protocol: signed requests checked exactly as Tuya checks them, the ``success`` /
``result`` envelope, single-use refresh tokens, password tickets whose PINs are really decrypted, media files in
Tuya's encrypted container, and ``doorUnlockMethodStatus`` pushes encrypted like Tuya's on
``{access_id}/out/event``. Use it served over loopback::

    from lockcloud.sim import running

    async with running(press_interval=0.05) as server:           # uvicorn + a pulsar-lite broker
        async with server.client() as cloud, cloud.events(url=server.pulsar_url) as stream:
            front = server.devices["front_door"]
            await cloud.remote_unlock.open_door(front, pin="123456")
            assert server.simulator.lock(front).door_open

or in-process, without sockets (pushes are then only recorded in ``sim.pushes``)::

    sim = Simulator()
    async with sim.client() as cloud:
        sim.fail_next(2001, action="open_door")                  # scripted faults
        sim.lose_next_response(action="door_operate")            # executed, answer lost
        sim.fail_at_gateway(502, action="list_unassigned_keys")  # a bare HTTP 502 page, no envelope
        ...
    assert len(sim.executed("door_operate")) == 1                # the action log

A new :class:`Simulator` holds one lock of every kind the documents name (see :attr:`Simulator.devices`), users
``sim-alice`` (home user) and ``sim-bob``, keys, photos and an album; ``Simulator(seed=False)`` starts empty.
For pytest, :mod:`lockcloud.testing` serves one per test as fixtures.
"""

from lockcloud.sim._app import SimulatedDisconnect
from lockcloud.sim._faults import Faults, LostResponseMode, ScriptedFault
from lockcloud.sim._log import ActionRecord, RequestRecord
from lockcloud.sim._model import LockKind, SimKey, SimLock, SimMedia, SimUser
from lockcloud.sim._publisher import BrokerUnavailableError
from lockcloud.sim._push import PushMessage
from lockcloud.sim._seed import DEMO_PIN
from lockcloud.sim._serve import PortUnavailableError, SimServer, running
from lockcloud.sim._simulator import Simulator

__all__ = [
    "DEMO_PIN",
    "ActionRecord",
    "BrokerUnavailableError",
    "Faults",
    "LockKind",
    "LostResponseMode",
    "PortUnavailableError",
    "PushMessage",
    "RequestRecord",
    "ScriptedFault",
    "SimKey",
    "SimLock",
    "SimMedia",
    "SimServer",
    "SimUser",
    "SimulatedDisconnect",
    "Simulator",
    "running",
]
