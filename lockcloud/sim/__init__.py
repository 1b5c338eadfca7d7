"""A local Tuya cloud for development and tests: REST simulator, lock models and a Pulsar broker."""

from lockcloud.sim._faults import Faults, LostResponseMode, ScriptedFault
from lockcloud.sim._model import LockKind, SimKey, SimLock, SimMedia, SimUser
from lockcloud.sim._push import PushMessage
from lockcloud.sim._seed import DEMO_PIN
from lockcloud.sim._serve import SimServer, running
from lockcloud.sim._simulator import ActionRecord, RequestRecord, SimulatedDisconnect, Simulator

__all__ = [
    "DEMO_PIN",
    "ActionRecord",
    "Faults",
    "LockKind",
    "LostResponseMode",
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
