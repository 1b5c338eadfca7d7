"""A door-alert listener: tell someone when a door is opened under duress or a lock's battery runs low.

The listener reads the project's push stream, keeps only the lock events it cares about (``LockAlarm`` and
``BatteryLevel``), and alerts on a duress unlock or a battery under 20 %. Afterwards it asks the lock's history who
opened the door and how, and reads the status snapshot.

Run it: ``python examples/door_alerts.py``. It starts the embedded simulator and broker; Alice opens the back door
with her finger, Bob with his card (which is set to raise the duress alarm), and the battery drains to 15 %.
"""

from __future__ import annotations

import asyncio
import contextlib

from lockcloud import LockCloud, UnlockType
from lockcloud.events import BatteryLevel, EventStream, LockAlarm
from lockcloud.sim import running

LOW_BATTERY_PERCENT = 20


async def alert(message: str) -> None:
    """Where a real service would page someone, send an SMS, post to a chat."""
    print(f"ALERT {message}")


async def listen_for_alerts(stream: EventStream, alerts_wanted: int) -> None:
    sent = 0
    async for event in stream.subscribe((LockAlarm, BatteryLevel)):
        if isinstance(event, LockAlarm) and event.is_duress:
            await alert(f"{event.device_id}: door opened under duress with key #{event.key_number}")
            sent += 1
        elif (
            isinstance(event, BatteryLevel)
            and event.percent is not None
            and event.percent < LOW_BATTERY_PERCENT
        ):
            await alert(f"{event.device_id}: battery at {event.percent}%")
            sent += 1
        if sent == alerts_wanted:
            return


async def who_opened(cloud: LockCloud, device_id: str) -> None:
    async for record in cloud.history.records(device_id):
        if record.method is None or record.alarm is not None:
            continue
        when = record.at.strftime("%H:%M:%S") if record.at else "?"
        print(f"  {when} {record.method.label} #{record.key_number} by {record.member_name or 'someone'}")
    status = await cloud.status.get(device_id)
    print(f"status: battery {status.battery_percent}% ({status.battery_state}), door {status.door}")


async def main() -> None:
    async with (
        running() as lock_cloud,
        lock_cloud.client() as cloud,
        cloud.events(url=lock_cloud.pulsar_url) as stream,
    ):
        sim = lock_cloud.simulator
        back = lock_cloud.devices["back_door"]
        listener = asyncio.create_task(listen_for_alerts(stream, alerts_wanted=2))
        # What happens at the door (the simulator's scenario API): Bob's card #3 is his duress key.
        sim.lock(back).keys[3].hijack = True
        sim.unlock_at_door(back, UnlockType.FINGERPRINT, 1)
        sim.close_door(back)
        sim.unlock_at_door(back, UnlockType.CARD, 3)
        sim.drain_battery(back, 15)
        await sim.drain_pushes()
        await asyncio.wait_for(listener, 30)
        print(f"who opened {back}:")
        await who_opened(cloud, back)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


if __name__ == "__main__":
    asyncio.run(main())
