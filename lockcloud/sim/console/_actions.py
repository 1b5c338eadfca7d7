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

__all__ = ["ACTIONS", "Action", "AtTheLock", "LockBody", "parse"]

#: What the lock's keypad accepts as a PIN.
PIN_LENGTHS = range(4, 13)
#: Album event types of the camera photo taken on a failed attempt, by the method tried.
_FAILED_EVENT = {"fingerprint": 2, "password": 3, "card": 4, "face": 5}
_ALARM = {
    "fingerprint": "wrong_finger",
    "password": "wrong_password",
    "card": "wrong_card",
    "face": "wrong_face",
}
#: Album event types of an unlock photo, by key type.
_UNLOCK_EVENT = {
    UnlockType.FINGERPRINT: 8,
    UnlockType.PASSWORD: 9,
    UnlockType.CARD: 10,
    UnlockType.FACE: 11,
    UnlockType.HAND: 12,
    UnlockType.FINGER_VEIN: 13,
    UnlockType.REMOTE_CONTROL: 28,
}
_DURESS_EVENT = 19
_LOW_BATTERY_EVENT = 20
LOW_BATTERY = 10
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


@attrs.define
class LockBody:
    """The lock's hardware as the person at the door sees it, beyond what the cloud keeps: battery and bolt."""

    battery: int = 100
    bolt_locked: bool = True


@attrs.frozen
class Action:
    """One checked request: ``name`` and its parsed ``params``."""

    name: str
    params: Mapping[str, Any]


class AtTheLock:
    """Runs checked :class:`Action` s against one simulator; keeps each lock's :class:`LockBody`."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.bodies: dict[str, LockBody] = {}

    def body(self, device_id: str) -> LockBody:
        return self.bodies.setdefault(device_id, LockBody())

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
            return self._unlock(lock, key, duress=key.hijack)
        type_code = self._scenario("type_code")
        if type_code is not None:
            # Guest access codes, when the simulator keeps them: it decides, and alarms after repeated wrong tries.
            opened = await type_code(device_id, pin)
            return f"{lock.name}: " + ("opened with a guest code" if opened else "the code was refused")
        return await self.wrong_attempt(device_id, "password")

    async def wrong_attempt(self, device_id: str, method: str) -> str:
        lock = self.simulator.lock(device_id)
        raise_alarm = self._scenario("raise_alarm")
        if raise_alarm is not None and lock.online:
            raise_alarm(device_id, _ALARM[method])
            return f"{lock.name}: wrong {method}, the lock refused"
        self._camera(lock, _FAILED_EVENT[method])
        sent = self.simulator.report_status(device_id, {"alarm_lock": _ALARM[method]})
        return f"{lock.name}: wrong {method}, the lock refused" + _offline_note(sent)

    async def duress_unlock(self, device_id: str, unlock_no: int | None) -> str:
        lock = self.simulator.lock(device_id)
        if unlock_no is None:
            key = next((k for k in lock.keys.values() if k.hijack), None)
            if key is None:
                raise ValidationError(
                    f"{lock.name} has no key with a duress alarm: set one from your app, or pass unlock_no"
                )
        else:
            key = lock.keys.get(unlock_no)
            if key is None:
                raise ValidationError(f"unlock_no: {lock.name} has no key #{unlock_no}")
        return self._unlock(lock, key, duress=True)

    async def ring_doorbell(self, device_id: str) -> str:
        lock = self.simulator.lock(device_id)
        raise_alarm = self._scenario("raise_alarm")
        if raise_alarm is not None and lock.online:
            lock.pending_remote_request = True
            raise_alarm(device_id, "doorbell")
            return f"{lock.name}: ding dong"
        self.simulator.ring_doorbell(device_id)
        sent = self.simulator.report_status(device_id, {"doorbell": True})
        return f"{lock.name}: ding dong" + _offline_note(sent)

    async def door(self, device_id: str, open: bool) -> str:
        lock = self.simulator.lock(device_id)
        body = self.body(device_id)
        by_hand = self._scenario("open_door_by_hand" if open else "close_door")
        if by_hand is not None and lock.online:
            by_hand(device_id)
            body.bolt_locked = not open
            return f"{lock.name}: door {'opened' if open else 'closed'}"
        if open:
            body.bolt_locked = False
            lock.pending_remote_request = False
        else:
            body.bolt_locked = True
        lock.door_open = open
        sent = self.simulator.report_status(device_id, {"closed_opened": "open" if open else "closed"})
        return f"{lock.name}: door {'opened' if open else 'closed'}" + _offline_note(sent)

    async def battery(self, device_id: str, level: int) -> str:
        lock = self.simulator.lock(device_id)
        self.body(device_id).battery = level
        drain = self._scenario("drain_battery")
        if drain is not None and lock.online:
            drain(device_id, level)
            return f"{lock.name}: battery at {level}%"
        status: dict[str, Any] = {"residual_electricity": level}
        if level <= LOW_BATTERY:
            status["alarm_lock"] = "low_battery"
            self._camera(lock, _LOW_BATTERY_EVENT)
        sent = self.simulator.report_status(device_id, status)
        return f"{lock.name}: battery at {level}%" + _offline_note(sent)

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

    def _scenario(self, name: str) -> Callable[..., Any] | None:
        """The simulator's own call for something done at the door, when it has one (a lock's history and access
        codes live there): the console then takes exactly that path; otherwise it reports the status itself."""
        call = getattr(self.simulator, name, None)
        return call if callable(call) else None

    def _unlock(self, lock: SimLock, key: SimKey, *, duress: bool) -> str:
        body = self.body(lock.device_id)
        at_door = self._scenario("unlock_at_door")
        if at_door is not None and lock.online and duress == key.hijack:
            at_door(lock.device_id, key.unlock_type, key.unlock_no)
            body.bolt_locked = False
            how = "under duress" if duress else "and the door opened"
            return f"{lock.name}: unlocked with key #{key.unlock_no} ({key.unlock_type.plain}) {how}"
        body.bolt_locked = False
        lock.door_open = True
        lock.pending_remote_request = False
        status: dict[str, Any] = {key.unlock_type.dp_code: key.unlock_no}
        if duress:
            status["hijack"] = True
        status["closed_opened"] = "open"
        self._camera(lock, _DURESS_EVENT if duress else _UNLOCK_EVENT.get(key.unlock_type, 8))
        sent = self.simulator.report_status(lock.device_id, status)
        how = "under duress" if duress else "and the door opened"
        return (
            f"{lock.name}: unlocked with key #{key.unlock_no} ({key.unlock_type.plain}) {how}"
            + _offline_note(sent)
        )

    def _camera(self, lock: SimLock, event_type: int) -> None:
        if lock.kind.has_camera:
            self.simulator.capture(lock.device_id, event_type)


def _offline_note(sent: object) -> str:
    return "" if sent is not None else " (offline: not reported to the cloud)"


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
        "method": _choice(raw, "method", tuple(_FAILED_EVENT)),
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
