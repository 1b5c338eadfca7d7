"""What the person at the lock does, and the faults the console injects: each checked, then run through the
simulator as the API's calls are (its state, its push messages, its watchers).

The console's form input arrives as untrusted JSON; :func:`parse` turns it into one :class:`Action` or raises
:class:`~lockcloud.ValidationError` naming the field to fix, before anything changes.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from lockcloud._core.errors import ValidationError
from lockcloud.enums import RemoteUnlockType, UnlockType
from lockcloud.sim._model import SimKey, SimLock
from lockcloud.sim._simulator import Simulator

__all__ = ["ACTIONS", "Action", "AtTheLock", "parse"]

#: What the lock's keypad accepts as a PIN.
PIN_LENGTHS = range(4, 13)
#: The alarm a wrong attempt raises, by the method tried.
_ALARM = {
    "fingerprint": "wrong_finger",
    "password": "wrong_password",
    "card": "wrong_card",
    "face": "wrong_face",
}
FAULT_KINDS = (
    "outage",
    "lost_responses",
    "latency",
    "clock_skew",
    "remote_unlock_off",
    "fail_next",
    "lose_next_response",
    "fail_at_gateway",
    "clear",
)


@attrs.frozen
class Action:
    """One checked request: ``name`` and its parsed ``params``."""

    name: str
    params: Mapping[str, Any]


class AtTheLock:
    """Runs checked :class:`Action` s against one simulator (its locks keep their battery and bolt in ``lock.log``)."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    async def run(self, action: Action) -> str:
        """Do ``action``; returns what happened, in one line for the page (never a PIN)."""
        handler = _RUNNERS[action.name]
        message = await handler(self, **action.params)
        self.simulator.notify_watchers()
        return message

    # -- the person at the lock -----------------------------------------------------------------------------------

    async def press(self, device_id: str) -> str:
        lock = self.simulator.lock(device_id)
        enrollment = lock.enrollment
        if enrollment is None:
            raise ValidationError(f"{lock.name} is not enrolling anything: start an enrollment from your app")
        await self.simulator.press_finger(device_id)
        if lock.enrollment is None:
            return f"{lock.name}: {enrollment.unlock_type.plain} enrolled for {enrollment.user_id}"
        return f"{lock.name}: {enrollment.remaining} more to go"

    async def auto_press(self, device_id: str, interval: float) -> str:
        lock = self.simulator.lock(device_id)
        enrollment = lock.enrollment
        if enrollment is None:
            raise ValidationError(f"{lock.name} is not enrolling anything: start an enrollment from your app")
        self.simulator.press_automatically(device_id, interval)
        return f"{lock.name}: the enrollment goes on by itself, every {interval:g} s"

    async def type_pin(self, device_id: str, pin: str) -> str:
        lock = self.simulator.lock(device_id)
        key = next(
            (k for k in lock.keys.values() if k.unlock_type is UnlockType.PASSWORD and k.pin == pin), None
        )
        if key is not None:
            return self._unlock(lock, key)
        # Not a member's PIN: the simulator tries it as a guest code, and alarms after repeated wrong tries.
        opened = await self.simulator.type_code(device_id, pin)
        return f"{lock.name}: " + ("opened with a guest code" if opened else "the code was refused")

    async def wrong_attempt(self, device_id: str, method: str) -> str:
        lock = self.simulator.lock(device_id)
        self.simulator.raise_alarm(device_id, _ALARM[method])
        return f"{lock.name}: wrong {method}, the lock refused" + _offline_note(lock)

    async def duress_unlock(self, device_id: str, unlock_no: int | None) -> str:
        lock = self.simulator.lock(device_id)
        duress_keys = [k for k in lock.keys.values() if k.hijack]
        if not duress_keys:
            raise ValidationError(
                f"{lock.name} has no key with a duress alarm: set one from your app, or pass unlock_no"
            )
        if unlock_no is None:
            return self._unlock(lock, duress_keys[0])
        key = lock.keys.get(unlock_no)
        if key is None:
            raise ValidationError(f"unlock_no: {lock.name} has no key #{unlock_no}")
        if not key.hijack:
            # The lock raises the duress alarm for duress keys only: it cannot know what else is meant.
            raise ValidationError(f"unlock_no: key #{unlock_no} of {lock.name} has no duress alarm")
        return self._unlock(lock, key)

    async def ring_doorbell(self, device_id: str) -> str:
        lock = self.simulator.lock(device_id)
        self.simulator.raise_alarm(device_id, "doorbell")
        return f"{lock.name}: ding dong" + _offline_note(lock)

    async def door(self, device_id: str, open: bool) -> str:
        lock = self.simulator.lock(device_id)
        if open:
            self.simulator.open_door_by_hand(device_id)
        else:
            self.simulator.close_door(device_id)
        return f"{lock.name}: door {'opened' if open else 'closed'}" + _offline_note(lock)

    async def battery(self, device_id: str, level: int) -> str:
        lock = self.simulator.lock(device_id)
        self.simulator.drain_battery(device_id, level)
        return f"{lock.name}: battery at {level}%" + _offline_note(lock)

    async def online(self, device_id: str, online: bool) -> str:
        lock = self.simulator.lock(device_id)
        self.simulator.set_online(device_id, online)
        return f"{lock.name}: {'online' if online else 'offline'}"

    # -- faults ---------------------------------------------------------------------------------------------------

    async def fault(self, kind: str, **params: Any) -> str:
        sim = self.simulator
        faults = sim.faults
        if kind == "outage":
            faults.error_rates[params["code"]] = params["rate"]
            return f"business calls answered {params['code']} with probability {params['rate']}"
        if kind == "lost_responses":
            faults.lost_response_rate = params["rate"]
            return f"responses lost with probability {params['rate']}"
        if kind == "latency":
            faults.latency = params["seconds"]
            return f"every answer {params['seconds']} s late"
        if kind == "clock_skew":
            faults.clock_offset = params["seconds"]
            return f"the cloud's clock {params['seconds']} s ahead"
        if kind == "remote_unlock_off":
            switch = params["switch"]
            sim.set_remote_unlock(params["device_id"], switch, False)
            return f"{params['device_id']}: remote unlock switch {switch.value} off"
        if kind == "fail_next":
            sim.fail_next(params["code"], action=params["action"])
            return f"the next {params['action'] or 'call'} answered {params['code']}"
        if kind == "lose_next_response":
            sim.lose_next_response(action=params["action"])
            return f"the next {params['action'] or 'call'} executed and its response lost"
        if kind == "fail_at_gateway":
            sim.fail_at_gateway(params["status"], action=params["action"])
            return f"the next {params['action'] or 'call'} answered HTTP {params['status']} by the gateway"
        faults.error_rates.clear()
        faults.scripted.clear()
        faults.lost_response_rate = 0.0
        faults.latency = faults.latency_jitter = 0.0
        faults.clock_offset = 0.0
        return "faults cleared"

    # -- helpers --------------------------------------------------------------------------------------------------

    def _unlock(self, lock: SimLock, key: SimKey) -> str:
        # A duress key raises the hijack alarm by itself, as it does on the real lock.
        self.simulator.unlock_at_door(lock.device_id, key.unlock_type, key.unlock_no)
        how = "under duress" if key.hijack else "and the door opened"
        return (
            f"{lock.name}: unlocked with key #{key.unlock_no} ({key.unlock_type.plain}) {how}"
            + _offline_note(lock)
        )


def _offline_note(lock: SimLock) -> str:
    return "" if lock.online else " (offline: not reported to the cloud)"


# -- parsing the form's JSON ------------------------------------------------------------------------------------------


def _device(sim: Simulator, raw: Mapping[str, Any]) -> str:
    value = raw.get("device_id")
    if not isinstance(value, str) or value not in sim.world.locks:
        raise ValidationError("device_id: pick one of the simulator's locks")
    return value


def _integer(raw: Mapping[str, Any], name: str, low: int, high: int) -> int:
    value = raw.get(name)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(f"{name}: a whole number from {low} to {high}")
    return value


def _number(raw: Mapping[str, Any], name: str, low: float, high: float) -> float:
    value = raw.get(name)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValidationError(f"{name}: a number from {low} to {high}")
    if not low <= value <= high:
        raise ValidationError(f"{name}: a number from {low} to {high}")
    return float(value)


def _flag(raw: Mapping[str, Any], name: str) -> bool:
    value = raw.get(name)
    if not isinstance(value, bool):
        raise ValidationError(f"{name}: true or false")
    return value


def _choice(raw: Mapping[str, Any], name: str, options: tuple[str, ...]) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or value not in options:
        raise ValidationError(f"{name}: one of {', '.join(options)}")
    return value


def _pin(raw: Mapping[str, Any]) -> str:
    value = raw.get("pin")
    if (
        not isinstance(value, str)
        or not (value.isascii() and value.isdigit())
        or len(value) not in PIN_LENGTHS
    ):
        raise ValidationError(f"pin: {PIN_LENGTHS.start} to {PIN_LENGTHS.stop - 1} digits")
    return value


def _api_action(raw: Mapping[str, Any]) -> str | None:
    from lockcloud.sim._routes import ROUTES

    value = raw.get("action")
    if value in (None, ""):
        return None
    actions = sorted({route.action for route in ROUTES})
    if not isinstance(value, str) or value not in actions:
        raise ValidationError("action: empty (any call) or one of the simulator's actions, such as open_door")
    return value


def _fault(sim: Simulator, raw: Mapping[str, Any]) -> dict[str, Any]:
    kind = _choice(raw, "kind", FAULT_KINDS)
    params: dict[str, Any] = {"kind": kind}
    if kind == "outage":
        params["code"] = _integer(raw, "code", 1, 999_999)
        params["rate"] = _number(raw, "rate", 0.0, 1.0)
    elif kind == "lost_responses":
        params["rate"] = _number(raw, "rate", 0.0, 1.0)
    elif kind == "latency":
        params["seconds"] = _number(raw, "seconds", 0.0, 60.0)
    elif kind == "clock_skew":
        params["seconds"] = _number(raw, "seconds", -86_400.0, 86_400.0)
    elif kind == "remote_unlock_off":
        params["device_id"] = _device(sim, raw)
        switches = (RemoteUnlockType.WITHOUT_PASSWORD.value, RemoteUnlockType.WITH_PASSWORD.value)
        params["switch"] = RemoteUnlockType(_choice(raw, "switch", switches))
    elif kind == "fail_next":
        params["code"] = _integer(raw, "code", 1, 999_999)
        params["action"] = _api_action(raw)
    elif kind == "lose_next_response":
        params["action"] = _api_action(raw)
    elif kind == "fail_at_gateway":
        params["status"] = _integer(raw, "status", 400, 599)
        params["action"] = _api_action(raw)
    return params


Parser = Callable[[Simulator, Mapping[str, Any]], dict[str, Any]]

#: Action name -> (what the page calls it, its form's fields parsed).
ACTIONS: Mapping[str, Parser] = {
    "press": lambda sim, raw: {"device_id": _device(sim, raw)},
    "auto_press": lambda sim, raw: {
        "device_id": _device(sim, raw),
        "interval": _number(raw, "interval", 0.01, 60.0),
    },
    "type_pin": lambda sim, raw: {"device_id": _device(sim, raw), "pin": _pin(raw)},
    "wrong_attempt": lambda sim, raw: {
        "device_id": _device(sim, raw),
        "method": _choice(raw, "method", tuple(_ALARM)),
    },
    "duress_unlock": lambda sim, raw: {
        "device_id": _device(sim, raw),
        "unlock_no": None if raw.get("unlock_no") in (None, "") else _integer(raw, "unlock_no", 1, 999_999),
    },
    "ring_doorbell": lambda sim, raw: {"device_id": _device(sim, raw)},
    "door": lambda sim, raw: {"device_id": _device(sim, raw), "open": _flag(raw, "open")},
    "battery": lambda sim, raw: {"device_id": _device(sim, raw), "level": _integer(raw, "level", 0, 100)},
    "online": lambda sim, raw: {"device_id": _device(sim, raw), "online": _flag(raw, "online")},
    "fault": _fault,
}

_RUNNERS: Mapping[str, Callable[..., Awaitable[str]]] = {
    "press": AtTheLock.press,
    "auto_press": AtTheLock.auto_press,
    "type_pin": AtTheLock.type_pin,
    "wrong_attempt": AtTheLock.wrong_attempt,
    "duress_unlock": AtTheLock.duress_unlock,
    "ring_doorbell": AtTheLock.ring_doorbell,
    "door": AtTheLock.door,
    "battery": AtTheLock.battery,
    "online": AtTheLock.online,
    "fault": AtTheLock.fault,
}


def parse(sim: Simulator, raw: object) -> Action:
    """The form's JSON object (``{"action": ..., fields}``) checked into an :class:`Action`."""
    if not isinstance(raw, Mapping):
        raise ValidationError("the request body must be a JSON object")
    name = raw.get("do")
    if not isinstance(name, str) or name not in ACTIONS:
        raise ValidationError(f"do: one of {', '.join(ACTIONS)}")
    return Action(name, ACTIONS[name](sim, raw))
