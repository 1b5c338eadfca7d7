"""Orchestration: give a guest a card on every lock, let them in, and take it all back when they leave.

Shows the patterns a real script needs:

* many locks at once (``asyncio.TaskGroup``), one shared client and one shared push stream;
* lock kinds that do not support a call (``UnsupportedError``) handled per lock, not fatal for the run;
* enrollment as one awaitable conversation (``cloud.enroll``) per lock;
* an unlock whose answer was lost (``OutcomeUnknownError``): never retried blindly; the door's own status report
  on the push stream says whether it opened;
* cleanup in ``finally``, so the guest's cards are removed even if something above failed.

Run it: ``python examples/orchestration.py`` (embedded simulator and broker; about two seconds).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from lockcloud import LockCloud, OutcomeUnknownError, RemoteUnlockType, UnlockType, UnsupportedError, UserType
from lockcloud.events import EventStream, StatusReport
from lockcloud.sim import running

GUEST = "sim-guest"


async def give_card(cloud: LockCloud, stream: EventStream, device_id: str) -> str:
    try:
        async with cloud.enroll(
            device_id, user_id=GUEST, user_type=UserType.HOME_USER, unlock_type=UnlockType.CARD, events=stream
        ) as enrollment:
            async for _ in enrollment:
                pass
    except UnsupportedError as exc:
        return f"skipped ({exc.msg})"
    result = enrollment.result
    if not result.ok:
        return f"failed: {result.status.value} {result.reason or ''}".strip()
    if result.key is None:
        return "card enrolled (this lock type does not list keys by user)"
    return f"card #{result.key.unlock_no}"


async def let_in(cloud: LockCloud, stream: EventStream, device_id: str) -> str:
    """Open the door once. If the answer is lost, ask the door (its status report) instead of trying again."""
    reports = stream.subscribe(StatusReport, device_id=device_id)
    try:
        await cloud.remote_unlock.set_method_enabled(device_id, RemoteUnlockType.WITHOUT_PASSWORD, True)
        try:
            await cloud.remote_unlock.unlock(device_id)
            return "opened"
        except OutcomeUnknownError:
            try:
                async with asyncio.timeout(5):
                    report = await anext(reports)
            except TimeoutError:
                return "unknown: no answer and no report; check the door before trying again"
            reports.ack(report)
            values = {item.code: item.value for item in report.status}
            return f"answer lost, but the door reported {values.get('closed_opened')!r}: not retried"
    finally:
        reports.close()


async def take_cards_back(cloud: LockCloud, device_id: str) -> str:
    try:
        keys = await cloud.unlock_methods.list_assigned(device_id, GUEST, UserType.HOME_USER)
    except UnsupportedError:
        return "nothing to do (no keys by user on this lock type)"
    removed = []
    for key in keys:
        try:
            await cloud.unlock_methods.delete(
                device_id, GUEST, UserType.HOME_USER, key.unlock_type, key.unlock_no
            )
        except UnsupportedError:
            return f"card #{key.unlock_no} must be removed at the lock: this lock type cannot delete keys remotely"
        removed.append(f"#{key.unlock_no}")
    return f"removed {', '.join(removed)}" if removed else "nothing to do"


async def main() -> None:
    async with running(press_interval=0.05) as lock_cloud:
        sim = lock_cloud.simulator
        sim.add_user(GUEST, UserType.HOME_USER, name="Guest")
        locks = dict(lock_cloud.devices)
        back = locks["back_door"]
        # Make the lock cloud misbehave once: the door opens, but the answer never arrives.
        sim.lose_next_response(action="door_operate")

        async with (
            lock_cloud.client() as cloud,
            cloud.events(url=lock_cloud.pulsar_url, firehose=False) as stream,
        ):
            cards: dict[str, asyncio.Task[str]] = {}
            try:
                async with asyncio.TaskGroup() as group:
                    for role, device_id in locks.items():
                        cards[role] = group.create_task(give_card(cloud, stream, device_id))
                for role, task in cards.items():
                    print(f"{role:<11} {task.result()}")

                print(f"\nthe guest rings at the back door: {await let_in(cloud, stream, back)}")
                photo = await cloud.remote_unlock.latest_media(back)
                if photo is not None:
                    target = Path(tempfile.gettempdir()) / "lockcloud-guest.png"
                    size = await cloud.remote_unlock.download_media_to(target, photo)
                    print(f"their photo: {size} bytes in {target}")
            finally:
                print("\nthe guest left:")
                outcomes = await asyncio.gather(
                    *(take_cards_back(cloud, device) for device in locks.values())
                )
                for role, outcome in zip(locks, outcomes, strict=True):
                    print(f"{role:<11} {outcome}")
                await cloud.remote_unlock.lock(back)
                print("back door locked")

        opens = [record for record in sim.executed("door_operate") if record.detail["open"]]
        print(
            f"the simulated cloud opened the back door {len(opens)} time(s): the lost answer was not replayed"
        )


if __name__ == "__main__":
    asyncio.run(main())
