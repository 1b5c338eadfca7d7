"""Faults scoped to a block of a test, and the assertion that matters most after them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from lockcloud._errors import ValidationError
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

    @contextlib.contextmanager
    def outage(self, code: int = 500, *, rate: float = 1.0) -> Iterator[None]:
        """Business calls answered with Tuya error ``code`` (not executed), with probability ``rate``."""
        if not 0.0 <= rate <= 1.0:
            raise ValidationError("rate is a probability, from 0 to 1")
        rates = self.simulator.faults.error_rates
        previous = rates.get(code)
        rates[code] = rate
        try:
            yield
        finally:
            if previous is None:
                rates.pop(code, None)
            else:
                rates[code] = previous

    @contextlib.contextmanager
    def lost_responses(self, rate: float = 1.0) -> Iterator[None]:
        """Business calls executed and their responses lost (the connection drops), with probability ``rate``."""
        if not 0.0 <= rate <= 1.0:
            raise ValidationError("rate is a probability, from 0 to 1")
        faults = self.simulator.faults
        previous, faults.lost_response_rate = faults.lost_response_rate, rate
        try:
            yield
        finally:
            faults.lost_response_rate = previous

    @contextlib.contextmanager
    def latency(self, seconds: float, *, jitter: float = 0.0) -> Iterator[None]:
        """Every answer ``seconds`` late (plus up to ``jitter``)."""
        if seconds < 0 or jitter < 0:
            raise ValidationError("latency and jitter cannot be negative")
        faults = self.simulator.faults
        previous = faults.latency, faults.latency_jitter
        faults.latency, faults.latency_jitter = seconds, jitter
        try:
            yield
        finally:
            faults.latency, faults.latency_jitter = previous

    @contextlib.contextmanager
    def clock_skew(self, seconds: float) -> Iterator[None]:
        """The simulated Tuya clock ``seconds`` ahead of this machine's (negative: behind); past
        ``faults.max_clock_skew`` every request gets 1013 until the client adjusts."""
        faults = self.simulator.faults
        previous, faults.clock_offset = faults.clock_offset, seconds
        try:
            yield
        finally:
            faults.clock_offset = previous

    @contextlib.contextmanager
    def offline(self, device_id: str) -> Iterator[None]:
        """The lock offline: every call that must reach it gets 2001."""
        lock = self.simulator.lock(device_id)
        previous, lock.online = lock.online, False
        try:
            yield
        finally:
            lock.online = previous

    @contextlib.contextmanager
    def remote_unlock_off(
        self, device_id: str, switch: RemoteUnlockType | str = RemoteUnlockType.WITHOUT_PASSWORD
    ) -> Iterator[None]:
        """One of the lock's remote-unlock switches off (password-free by default)."""
        lock = self.simulator.lock(device_id)
        member = RemoteUnlockType(switch)
        previous = lock.remote_unlock.get(member, False)
        lock.remote_unlock[member] = False
        try:
            yield
        finally:
            lock.remote_unlock[member] = previous


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
