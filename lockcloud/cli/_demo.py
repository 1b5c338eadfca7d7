"""``lockcloud demo``: every feature once, against an embedded simulator and broker."""

from __future__ import annotations

import asyncio
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from lockcloud.cli._enrolling import enroll_with_progress
from lockcloud.cli._errors import CommandError
from lockcloud.cli._format import describe_event, key_row, keys_table, result_document
from lockcloud.cli._options import output_options, positive_seconds
from lockcloud.cli._output import Output
from lockcloud.cli._run import run
from lockcloud.cli._target import SIM_PRESS_INTERVAL, connect, open_events, require_sim_push, sim_target
from lockcloud.enums import MediaFileType, UnlockType, UserType

__all__ = ["demo"]


@click.command()
@click.option(
    "--photo",
    type=click.Path(dir_okay=False),
    help="Where to save the decrypted photo (default: a temp file).",
)
@click.option(
    "--press-interval", type=float, default=SIM_PRESS_INTERVAL, callback=positive_seconds, hidden=True
)
@click.option(
    "--open",
    "open_console",
    is_flag=True,
    help="Open the simulator's web console in your browser, and keep it running after the demo until Ctrl-C.",
)
@output_options
def demo(photo: str | None, press_interval: float, open_console: bool, out: Output, verbose: bool) -> None:
    """Enroll, list keys, set a duress alarm, unlock and fetch a photo on the embedded simulator.

    No Tuya account is used: a simulated cloud and a local Pulsar broker run for the length of the demo; its web
    console's address is printed (``--open`` opens it).
    """
    photo_path = Path(photo) if photo else Path(tempfile.gettempdir()) / "lockcloud-demo-photo.png"
    run(out, _demo(out, photo_path, press_interval, verbose, open_console=open_console))


async def _demo(
    out: Output, photo_path: Path, press_interval: float, verbose: bool, *, open_console: bool = False
) -> None:
    from lockcloud.sim import DEMO_PIN, running

    require_sim_push("the demo")
    started = time.monotonic()
    out.say("lockcloud demo - everything below runs against the embedded simulator; no Tuya account is used.")
    report: dict[str, Any] = {}
    async with running(press_interval=press_interval) as server:
        target = sim_target(server)
        front, back = server.devices["front_door"], server.devices["back_door"]
        alice = server.simulator.home_user
        assert alice is not None
        out.say(f"Simulated cloud at {server.base_url}, push messages via {server.pulsar_url}")
        out.say(f"Watch the locks and act at the door in the console: {server.console_url}")
        report["simulator"] = {
            "base_url": server.base_url,
            "pulsar_url": server.pulsar_url,
            "console_url": server.console_url,
        }
        if open_console and server.console_url is not None:
            await _open_in_browser(out, server.console_url)
        async with connect(target) as cloud, open_events(cloud, verbose=verbose) as stream:
            out.say(f"\n1. Enrolling a fingerprint for {alice} on the front door ({front}); the lock's push")
            out.say("   messages drive the bar while the simulated finger is pressed:")
            result = await enroll_with_progress(
                cloud,
                stream,
                out,
                device_id=front,
                user_id=alice,
                user_type=UserType.HOME_USER,
                unlock_type=UnlockType.FINGERPRINT,
                idle_timeout=10.0,
            )
            report["enrollment"] = result_document(result)
            if not result.ok or result.key is None:
                raise CommandError(
                    f"the demo enrollment did not complete: {result.status.value} ({result.reason})"
                )
            out.say(f"   enrolled as key #{result.key.unlock_no} ({result.total_period} presses)")

            out.say(f"\n2. Keys of {alice} on the front door:")
            keys = await cloud.unlock_methods.list_assigned(front, alice, UserType.HOME_USER)
            out.show(keys_table(keys))

            out.say(f"\n3. Setting a duress alarm on fingerprint #{result.key.unlock_no}:")
            await cloud.unlock_methods.set_duress_alarm(front, UnlockType.FINGERPRINT, result.key.unlock_no)
            keys = await cloud.unlock_methods.list_assigned(front, alice, UserType.HOME_USER)
            out.show(keys_table(keys))
            report["keys"] = [key_row(key) for key in keys]

            out.say(
                "\n4. Unlocking the front door remotely with Alice's PIN (ticket, decrypted key, encrypted PIN):"
            )
            reports = stream.subscribe(device_id=front, where=lambda event: event.protocol == 4)
            opened = await cloud.remote_unlock.open_door(front, pin=DEMO_PIN)
            if not opened:
                raise CommandError("the lock refused the demo PIN")
            door = await _door_report(reports)
            out.say(f"   open-door answered {opened}; the lock reports: {door}")
            report["unlock"] = {"opened": opened, "door": door}

            out.say(f"\n5. Downloading and decrypting the latest visitor photo of the back door ({back}):")
            media = await cloud.remote_unlock.latest_media(back, MediaFileType.REMOTE_UNLOCK)
            if media is None:
                raise CommandError("the back door has no photo")
            size = await cloud.remote_unlock.download_media_to(photo_path, media)
            head = await asyncio.to_thread(photo_path.read_bytes)
            kind = "PNG image" if head[:8] == b"\x89PNG\r\n\x1a\n" else "file"
            out.say(f"   {size} bytes decrypted, a {kind}, saved to {photo_path}")
            report["photo"] = {"path": str(photo_path), "bytes": size}
        if open_console:
            out.say("\nThe console stays up: press Ctrl-C to stop the simulator.")
            await _until_interrupted()
        out.say("\n6. Shutting down the simulator and the broker...")
    elapsed = time.monotonic() - started
    report["seconds"] = round(elapsed, 2)
    out.say(f"Done in {elapsed:.1f} s.")
    out.emit(report)


async def _open_in_browser(out: Output, url: str) -> None:
    import webbrowser

    opened = await asyncio.to_thread(webbrowser.open, url)
    if not opened:
        out.note(f"no browser could be started; open {url} yourself")


async def _until_interrupted() -> None:
    """Serve until Ctrl-C or SIGTERM, which then end the demo normally (not as an interruption)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _door_report(reports: Any) -> str:
    async with asyncio.timeout(5):
        event = await anext(reports)
    reports.ack(event)
    for item in getattr(event, "status", ()):
        if item.code == "closed_opened":
            return f"door {item.value}"
    return describe_event(event)
