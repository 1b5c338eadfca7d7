"""An enrollment-progress listener service: one push stream, progress of every lock, kept up to date.

Enrollments are often started by one component (a web request, an admin tool) and watched by another (a dashboard,
a notifier). This service owns the project's event stream and keeps ``progress[device_id]`` current from the
``doorUnlockMethodStatus`` pushes, whoever started the enrollment. Events are acknowledged once handled, so a
restarted service does not lose them.

Run it: ``python examples/enrollment_listener.py``. It starts the embedded simulator and broker, runs the
listener, starts enrollments on two locks from elsewhere (one completes, one is cancelled half-way), prints what
the listener saw, and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import attrs

from lockcloud import LockCloud, UnlockType
from lockcloud.enums import EnrollmentOperation
from lockcloud.events import EnrollmentProgress, EventStream
from lockcloud.sim import running


@attrs.define
class Progress:
    """What the listener knows about one lock's current enrollment."""

    total: int | None = None
    remaining: int | None = None
    state: str = "idle"


class EnrollmentListener:
    """Consumes enrollment pushes of every lock and tracks each lock's progress."""

    def __init__(self, stream: EventStream) -> None:
        self.progress: dict[str, Progress] = {}
        self._subscription = stream.subscribe(EnrollmentProgress)
        self._changed = asyncio.Condition()

    async def run(self) -> None:
        async for event in self._subscription:
            self.apply(event)
            async with self._changed:
                self._changed.notify_all()

    def apply(self, event: EnrollmentProgress) -> None:
        progress = self.progress.setdefault(event.device_id, Progress())
        if event.operate is EnrollmentOperation.CANCEL:
            progress.state = "cancelled"
        elif event.finish:
            progress.state, progress.remaining = "completed", 0
        elif event.raised:
            progress.state = "in progress"
            if event.period is not None:
                progress.remaining = event.period
            progress.total = event.total_period or progress.total
        line = f"  [{event.device_id}] {progress.state}"
        if progress.total:
            line += f" {progress.total - (progress.remaining or 0)}/{progress.total}"
        print(line)

    async def wait_until(self, device_id: str, *states: str) -> Progress:
        async with self._changed:
            await self._changed.wait_for(lambda: self.progress.get(device_id, Progress()).state in states)
        return self.progress[device_id]


async def start_enrollment(cloud: LockCloud, device_id: str, unlock_type: UnlockType) -> None:
    """What some other part of the system does: start an enrollment and move on."""
    await cloud.unlock_methods.enroll(device_id, "sim-alice", 1, unlock_type)


async def main() -> None:
    async with (
        running() as lock_cloud,
        lock_cloud.client() as cloud,
        cloud.events(url=lock_cloud.pulsar_url, firehose=False) as stream,
    ):
        front, back = lock_cloud.devices["front_door"], lock_cloud.devices["back_door"]
        listener = EnrollmentListener(stream)
        service = asyncio.create_task(listener.run())

        print("starting a fingerprint enrollment on the front door and a card on the back door")
        await start_enrollment(cloud, back, UnlockType.CARD)
        await start_enrollment(cloud, front, UnlockType.FINGERPRINT)
        # Somebody presses a finger on the front door five times (the simulator's scenario API); nobody ever
        # presents a card at the back door.
        for _ in range(5):
            await asyncio.sleep(0.05)
            await lock_cloud.simulator.press_finger(front)

        done = await listener.wait_until(front, "completed")
        print(f"front door finished after {done.total} presses")
        await cloud.unlock_methods.cancel_enrollment(back, UnlockType.CARD)
        await listener.wait_until(back, "cancelled")

        summary: dict[str, Any] = {device: progress.state for device, progress in listener.progress.items()}
        print("listener state:", summary)
        service.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await service


if __name__ == "__main__":
    asyncio.run(main())
