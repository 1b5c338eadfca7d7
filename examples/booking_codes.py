"""A booking: a guest code from check-in to check-out, delivered to the lock, removed after the stay.

Shows the patterns a rental host's script needs:

* an aware check-in and check-out in the flat's own time zone (a naive datetime is refused);
* ``create`` returns a delivery to await: the Zigbee lock confirms the code, or refuses it with a reason;
* the lock's status report (``unlock_temporary``) on the push stream says the guest came in;
* the code is deleted in ``finally`` once the stay is over, even if something above failed.

The simulated guest types the code on the keypad at chosen moments of the stay (the simulator's clock is not
moved: the code's window is checked at the moment given). Run it: ``python examples/booking_codes.py``
(embedded simulator and broker; about two seconds).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import tempfile
import zoneinfo
from pathlib import Path

from lockcloud import AccessCodeDeliveryError, LockCloud, LockRadio
from lockcloud.events import StatusReport
from lockcloud.sim import running

FLAT = zoneinfo.ZoneInfo("Europe/Paris")


def booking() -> tuple[dt.datetime, dt.datetime]:
    """Next Friday 15:00 to the Sunday after, 11:00, in the flat's time zone."""
    today = dt.datetime.now(FLAT).date()
    friday = today + dt.timedelta(days=(4 - today.weekday()) % 7 or 7)
    check_in = dt.datetime.combine(friday, dt.time(15, 0), FLAT)
    return check_in, check_in + dt.timedelta(days=1, hours=20)


async def host(
    cloud: LockCloud, front_door: str, pin: str, check_in: dt.datetime, check_out: dt.datetime
) -> int:
    """Create the guest's code and wait until the lock has it; returns its number."""
    delivery = await cloud.access_codes.create(
        front_door,
        name="Booking #2041 (M. Dupont)",
        pin=pin,
        valid_from=check_in,
        valid_until=check_out,
        radio=LockRadio.ZIGBEE,
    )
    code = await delivery.delivered(timeout=25, poll_interval=0.2)
    assert code.valid_from is not None
    assert code.valid_until is not None
    start, end = code.valid_from.astimezone(FLAT), code.valid_until.astimezone(FLAT)
    print(f"code #{code.id} delivered: {start:%a %H:%M} -> {end:%a %H:%M} (flat time)")
    return code.id


async def main() -> None:
    check_in, check_out = booking()
    pin = f"{secrets.randbelow(10**6):06d}"
    with tempfile.TemporaryDirectory() as workdir:
        async with running(data_dir=Path(workdir)) as server:
            sim, front_door = server.simulator, server.devices["front_door"]
            async with server.client() as cloud, cloud.events(url=server.pulsar_url) as stream:
                reports = stream.subscribe(StatusReport, device_id=front_door)
                number = await host(cloud, front_door, pin, check_in, check_out)
                try:
                    early = await sim.type_code(
                        front_door, pin, at=(check_in - dt.timedelta(hours=2)).timestamp()
                    )
                    print(f"guest at the door 2 hours early: {'opened' if early else 'refused'}")
                    arrival = await sim.type_code(
                        front_door, pin, at=(check_in + dt.timedelta(hours=1)).timestamp()
                    )
                    report = await anext(reports)
                    reports.ack(report)
                    used = {item.code: item.value for item in report.status}.get("unlock_temporary")
                    print(f"guest arrives: {'opened' if arrival else 'refused'} (lock reported code #{used})")
                    late = await sim.type_code(
                        front_door, pin, at=(check_out + dt.timedelta(minutes=5)).timestamp()
                    )
                    print(f"after check-out: {'opened' if late else 'refused'}")
                    # A second booking with the same PIN: the lock already has it, and says so.
                    try:
                        await host(cloud, front_door, pin, check_out, check_out + dt.timedelta(days=2))
                    except AccessCodeDeliveryError as refused:
                        print(f"second code with the same PIN: refused ({refused.reason.name.lower()})")
                finally:
                    await cloud.access_codes.delete(front_door, number)
                    print(f"code #{number} removed after the stay")
                left = await cloud.access_codes.list(front_door, valid=True)
                print(f"valid codes left on the lock: {len(left)}")


if __name__ == "__main__":
    asyncio.run(main())
