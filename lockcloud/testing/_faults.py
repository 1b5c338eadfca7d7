"""Faults scoped to a block of a test, and the assertion that matters most after them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from lockcloud._core import validation
from lockcloud._core.errors import ValidationError
from lockcloud.enums import RemoteUnlockType

if TYPE_CHECKING:
    from lockcloud.sim import ActionRecord, Simulator

__all__ = ["FaultInjector", "assert_executed"]


class FaultInjector:
    """Faults on one simulator that undo themselves when their ``with`` block ends::

        with faults.outage(1111):               # every business call answered "system busy"
            with pytest.raises(ServerError):
                await cloud.unlock_methods.list_unassigned(device_id)
        with faults.offline(device_id), pytest.raises(DeviceOfflineError):
            await cloud.remote_unlock.open_door(device_id, pin="123456")

    For one-off failures use the simulator itself: ``sim.fail_next(2001, action="open_door")``,
    ``sim.lose_next_response(action="door_operate")``, ``sim.fail_at_gateway(502, action="open_door")``,
    ``sim.expire_tokens()``.
    """

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    def __repr__(self) -> str:
        return f"FaultInjector({self.simulator!r})"

    def outage(self, code: int = 500, *, rate: float = 1.0) -> AbstractContextManager[None]:
        """Business calls answered with Tuya error ``code`` (not executed), with probability ``rate``."""
        _check_rate(rate)
        return _changed(self.simulator.faults.error_rates, {code: rate})

    def lost_responses(self, rate: float = 1.0) -> AbstractContextManager[None]:
        """Business calls executed and their responses lost (the connection drops), with probability ``rate``."""
        _check_rate(rate)
        return _changed(self.simulator.faults, {"lost_response_rate": rate})

    def latency(self, seconds: float, *, jitter: float = 0.0) -> AbstractContextManager[None]:
        """Every answer ``seconds`` late (plus up to ``jitter``)."""
        validation.seconds(seconds, "latency", allow_zero=True)
        validation.seconds(jitter, "jitter", allow_zero=True)
        return _changed(self.simulator.faults, {"latency": seconds, "latency_jitter": jitter})

    def clock_skew(self, seconds: float) -> AbstractContextManager[None]:
        """The simulated Tuya clock ``seconds`` ahead of this machine's (negative: behind); past
        ``faults.max_clock_skew`` every request gets 1013 until the client adjusts."""
        return _changed(self.simulator.faults, {"clock_offset": seconds})

    def offline(self, device_id: str) -> AbstractContextManager[None]:
        """The lock offline: every call that must reach it gets 2001."""
        return _changed(self.simulator.lock(device_id), {"online": False})

    def remote_unlock_off(
        self, device_id: str, switch: RemoteUnlockType | str = RemoteUnlockType.WITHOUT_PASSWORD
    ) -> AbstractContextManager[None]:
        """One of the lock's remote-unlock switches off (password-free by default)."""
        return _changed(self.simulator.lock(device_id).remote_unlock, {RemoteUnlockType(switch): False})


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValidationError("rate is a probability, from 0 to 1")


#: What a key of a dict "was" before a block that added it.
_ABSENT: Any = object()


@contextlib.contextmanager
def _changed(target: Any, values: Mapping[Any, Any]) -> Iterator[None]:
    """``values`` in ``target`` for one ``with`` block (a dict's keys, else an object's attributes); what was there
    before is put back when the block ends, and a key that was not there is removed again."""
    if isinstance(target, MutableMapping):
        previous = {key: target.get(key, _ABSENT) for key in values}
    else:
        previous = {name: getattr(target, name) for name in values}
    _put(target, values)
    try:
        yield
    finally:
        _put(target, previous)


def _put(target: Any, values: Mapping[Any, Any]) -> None:
    for key, value in values.items():
        if not isinstance(target, MutableMapping):
            setattr(target, key, value)
        elif value is _ABSENT:
            del target[key]
        else:
            target[key] = value


def assert_executed(
    simulator: Simulator, action: str, times: int = 1, *, device_id: str | None = None
) -> list[ActionRecord]:
    """Assert that the simulator executed ``action`` exactly ``times`` times (on ``device_id`` if given) and
    return those records: after lost responses and retries, the proof that no unlock ran twice::

        sim.lose_next_response(action="door_operate")
        with pytest.raises(OutcomeUnknownError):
            await cloud.remote_unlock.unlock(device_id)
        assert_executed(sim, "door_operate", 1)
    """
    records = simulator.executed(action, device_id=device_id)
    if len(records) != times:
        where = f" on {device_id}" if device_id is not None else ""
        seen = ", ".join(f"#{record.seq} {record.method} {record.path}" for record in records) or "none"
        raise AssertionError(f"expected {action}{where} executed {times} time(s), got {len(records)}: {seen}")
    return records
