"""The ``lockcloud`` command: a demo on the embedded simulator, the simulator as a server, and lock chores.

::

    lockcloud demo                         # no account needed: simulator + broker, enroll, duress, PIN, photo
    lockcloud sim serve [--json]           # a simulated cloud for your own app; prints URLs and credentials
    lockcloud keys DEVICE --user USER      # list keys
    lockcloud enroll DEVICE --user USER    # enroll a fingerprint with a live progress bar
    lockcloud unlock DEVICE --pin -        # unlock with a PIN read from stdin (or password-free without --pin)
    lockcloud listen                       # print push events as they arrive
    lockcloud doctor                       # check credentials, region, clock, subscriptions, push channel

Credentials come from ``--access-id`` / ``--access-secret`` / ``--region`` or from ``LOCKCLOUD_ACCESS_ID``,
``LOCKCLOUD_ACCESS_SECRET``, ``LOCKCLOUD_REGION`` (and ``LOCKCLOUD_BASE_URL`` / ``LOCKCLOUD_PULSAR_URL`` to point at
a simulator started with ``lockcloud sim serve``). Without credentials a command stops and says so; ``--sim`` runs
it against a simulator started just for it, and says that too.

Errors are one line on stderr and a non-zero exit status: 1 for a failed operation, 2 for bad usage, 130 when
interrupted. ``--json`` prints machine-readable output on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

import attrs

from lockcloud._errors import (
    APIError,
    ConnectError,
    CredentialsError,
    EventStreamError,
    LockCloudError,
    PermissionDeniedError,
    PlanExpiredError,
    ServiceNotSubscribedError,
    SignatureError,
    TransportError,
    ValidationError,
)
from lockcloud.enums import EnrollmentOperation, MediaFileType, UnlockType, UserType
from lockcloud.regions import Region

if TYPE_CHECKING:
    from lockcloud._client import LockCloud
    from lockcloud.enrollment import EnrollmentResult
    from lockcloud.events import EnrollmentProgress, Event, EventStream
    from lockcloud.models import UnlockKey
    from lockcloud.sim import SimServer

__all__ = ["main"]

PROG = "lockcloud"
ENV_ACCESS_ID = "LOCKCLOUD_ACCESS_ID"
ENV_ACCESS_SECRET = "LOCKCLOUD_ACCESS_SECRET"
ENV_REGION = "LOCKCLOUD_REGION"
ENV_BASE_URL = "LOCKCLOUD_BASE_URL"
ENV_PULSAR_URL = "LOCKCLOUD_PULSAR_URL"

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Seconds between the simulated finger presses of ``demo`` and ``--sim`` enrollments.
SIM_PRESS_INTERVAL = 0.25
#: A clock further off than this is reported by ``doctor`` (lockcloud itself corrects for any offset).
CLOCK_WARNING_SECONDS = 30.0


class CommandError(Exception):
    """A command failed for a reason already phrased for the user (one line)."""


# -- output -----------------------------------------------------------------------------------------------------


class Output:
    """Human text, or JSON documents with ``--json``. Human text goes to stdout; warnings and notes to stderr."""

    def __init__(self, json_mode: bool, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> None:
        self.json_mode = json_mode
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    def say(self, text: str = "") -> None:
        if not self.json_mode:
            print(text, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        print(f"{PROG}: {text}", file=self.stderr, flush=True)

    def emit(self, document: Any) -> None:
        if self.json_mode:
            print(json.dumps(document, default=str), file=self.stdout, flush=True)

    @property
    def interactive(self) -> bool:
        return not self.json_mode and self.stdout.isatty()


class ProgressBar:
    """``[#####.....] 3/5 presses`` redrawn in place on a terminal, one line per update otherwise."""

    WIDTH = 30

    def __init__(self, out: Output, label: str) -> None:
        self.out = out
        self.label = label
        self.total: int | None = None
        self._open_line = False

    def update(self, done: int, total: int | None, note: str = "") -> None:
        if self.out.json_mode:
            return
        self.total = total or self.total
        if self.total:
            filled = min(self.WIDTH, round(self.WIDTH * done / self.total))
            bar = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{self.total}"
        else:
            bar = f"[{'.' * self.WIDTH}]"
        line = f"  {self.label} {bar} {note}".rstrip()
        if self.out.interactive:
            print("\r\x1b[2K" + line, end="", file=self.out.stdout, flush=True)
            self._open_line = True
        else:
            self.out.say(line)

    def close(self) -> None:
        if self._open_line:
            print(file=self.out.stdout, flush=True)
            self._open_line = False


# -- connection settings ----------------------------------------------------------------------------------------


@attrs.frozen
class Target:
    """Where a command sends its calls: a Tuya project, a served simulator, or an embedded one (``--sim``)."""

    access_id: str
    access_secret: str = attrs.field(repr=False)
    region: Region
    base_url: str
    pulsar_url: str
    embedded: bool = False
    devices: dict[str, str] = attrs.field(factory=dict)


def _region(args: argparse.Namespace) -> Region:
    name = args.region or os.environ.get(ENV_REGION) or "EU"
    try:
        return Region.from_name(name)
    except ValidationError as exc:
        raise CommandError(f"{exc} (set --region or {ENV_REGION})") from None


def configured_target(args: argparse.Namespace) -> Target | None:
    """The target from flags and environment, or None when no credentials were given at all."""
    access_id = args.access_id or os.environ.get(ENV_ACCESS_ID, "")
    access_secret = args.access_secret or os.environ.get(ENV_ACCESS_SECRET, "")
    if not access_id and not access_secret:
        return None
    if not access_id or not access_secret:
        missing = "access id" if not access_id else "access secret"
        flag, env = (
            ("--access-id", ENV_ACCESS_ID) if not access_id else ("--access-secret", ENV_ACCESS_SECRET)
        )
        raise CommandError(f"the {missing} is missing: pass {flag} or set {env}")
    region = _region(args)
    base_url = args.base_url or os.environ.get(ENV_BASE_URL) or region.base_url
    pulsar_url = args.pulsar_url or os.environ.get(ENV_PULSAR_URL) or region.pulsar_url
    return Target(access_id, access_secret, region, base_url, pulsar_url)


NO_CREDENTIALS = (
    f"no credentials: pass --access-id and --access-secret, or set {ENV_ACCESS_ID} and {ENV_ACCESS_SECRET} "
    "(run `lockcloud sim serve` for a local cloud), or add --sim to run against an embedded simulator"
)


@contextlib.asynccontextmanager
async def open_target(
    args: argparse.Namespace, out: Output, *, press_interval: float | None = None
) -> AsyncIterator[Target]:
    """The configured target, or with ``--sim`` an embedded simulator and broker that live as long as the block."""
    if not args.sim:
        target = configured_target(args)
        if target is None:
            raise CommandError(NO_CREDENTIALS)
        yield target
        return
    from lockcloud.sim import running

    if configured_target(args) is not None:
        out.note("--sim given: the credentials from flags or environment are not used")
    out.note("--sim: starting an embedded simulator and broker for this command (no Tuya account involved)")
    async with running(press_interval=press_interval) as server:
        yield _sim_target(server)


def _sim_target(server: SimServer) -> Target:
    assert server.pulsar_url is not None
    return Target(
        server.access_id,
        server.access_secret,
        Region.EU,
        server.base_url,
        server.pulsar_url,
        embedded=True,
        devices=server.devices,
    )


@contextlib.asynccontextmanager
async def connect(target: Target, **options: Any) -> AsyncIterator[LockCloud]:
    from lockcloud._client import LockCloud

    async with LockCloud(
        target.access_id, target.access_secret, region=target.region, base_url=target.base_url, **options
    ) as cloud:
        yield cloud


def event_stream(cloud: LockCloud, target: Target, args: argparse.Namespace) -> EventStream:
    """The project's push stream; the C++ Pulsar client logs errors only, unless ``--verbose``."""
    options: dict[str, Any] = {"firehose": False, "pulsar_log_level": "info" if args.verbose else "error"}
    subscription = getattr(args, "subscription", None)
    if subscription:
        options["subscription"] = subscription
    return cloud.events(url=target.pulsar_url, **options)


def resolve_device(target: Target, device: str) -> str:
    """With ``--sim``, a seeded role name (``front_door``) stands for its device id."""
    return target.devices.get(device, device)


def _key_row(key: UnlockKey) -> dict[str, Any]:
    return {"unlock_no": key.unlock_no, "unlock_type": str(key.unlock_type.value), "hijack": key.hijack}


def _print_keys(out: Output, title: str, keys: Sequence[UnlockKey]) -> None:
    out.say(f"  {title}:")
    if not keys:
        out.say("    (none)")
    for key in keys:
        duress = "  duress alarm" if key.hijack else ""
        out.say(f"    #{key.unlock_no:<4} {key.unlock_type.value:<14}{duress}".rstrip())


def _describe_event(event: Event) -> str:
    from lockcloud.events import DeviceEvent, EnrollmentProgress, StatusReport

    if isinstance(event, EnrollmentProgress):
        total = f" total={event.total_period}" if event.total_period is not None else ""
        return (
            f"enrollment {event.event.value} operate={_int_or_none(event.operate)} raised={event.raised} "
            f"finish={event.finish} period={event.period}{total}"
        )
    if isinstance(event, StatusReport):
        return "status " + ", ".join(f"{item.code}={item.value}" for item in event.status)
    if isinstance(event, DeviceEvent):
        return f"event {event.biz_code} {dict(event.biz_data)}"
    return f"protocol {event.protocol} message"


def _event_document(event: Event) -> dict[str, Any]:
    return {
        "type": type(event).__name__,
        "protocol": event.protocol,
        "device_id": event.device_id,
        "message_id": event.message_id,
        "published_at": event.published_at.isoformat() if event.published_at else None,
        "body": dict(event.raw),
    }


# -- enrollment with a progress bar ---------------------------------------------------------------------------


async def enroll_with_progress(
    cloud: LockCloud,
    stream: EventStream,
    out: Output,
    *,
    device_id: str,
    user_id: str,
    user_type: UserType,
    unlock_type: UnlockType,
    idle_timeout: float,
) -> EnrollmentResult:
    """Enroll through ``cloud.enroll`` and draw each ``doorUnlockMethodStatus`` push as progress."""
    bar = ProgressBar(out, f"{unlock_type.value}:")
    bar.update(0, None, "waiting for the lock")
    progress: EnrollmentProgress
    try:
        async with cloud.enroll(
            device_id,
            user_id=user_id,
            user_type=user_type,
            unlock_type=unlock_type,
            events=stream,
            idle_timeout=idle_timeout,
        ) as enrollment:
            remaining: int | None = None
            async for progress in enrollment:
                total = progress.total_period or bar.total
                # A message may carry totalPeriod alone: keep the last count of presses still needed.
                remaining = progress.period if progress.period is not None else remaining
                done = total - remaining if total and remaining is not None else 0
                if progress.finish:
                    note = "done"
                elif progress.operate is EnrollmentOperation.CANCEL:
                    note = "cancelled"
                elif not total:
                    note = "the lock is ready for the first press"
                else:
                    note = f"{progress.period} to go"
                bar.update(done, total, note)
    finally:
        bar.close()
    return enrollment.result


def _result_document(result: EnrollmentResult) -> dict[str, Any]:
    return {
        "status": result.status.value,
        "device_id": result.device_id,
        "unlock_type": str(result.unlock_type.value),
        "total_period": result.total_period,
        "key": _key_row(result.key) if result.key is not None else None,
        "reason": result.reason,
    }


# -- commands ---------------------------------------------------------------------------------------------------


async def cmd_demo(args: argparse.Namespace, out: Output) -> int:
    from lockcloud.sim import DEMO_PIN, running

    started = time.monotonic()
    photo_path = Path(args.photo) if args.photo else Path(tempfile.gettempdir()) / "lockcloud-demo-photo.png"
    out.say("lockcloud demo - everything below runs against the embedded simulator; no Tuya account is used.")
    report: dict[str, Any] = {}
    async with running(press_interval=args.press_interval) as server:
        target = _sim_target(server)
        front, back = server.devices["front_door"], server.devices["back_door"]
        alice = server.simulator.home_user
        assert alice is not None
        out.say(f"Simulated cloud at {server.base_url}, push messages via {server.pulsar_url}")
        report["simulator"] = {"base_url": server.base_url, "pulsar_url": server.pulsar_url}
        async with connect(target) as cloud, event_stream(cloud, target, args) as stream:
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
            report["enrollment"] = _result_document(result)
            if not result.ok or result.key is None:
                raise CommandError(
                    f"the demo enrollment did not complete: {result.status.value} ({result.reason})"
                )
            out.say(f"   enrolled as key #{result.key.unlock_no} ({result.total_period} presses)")

            out.say(f"\n2. Keys of {alice} on the front door:")
            keys = await cloud.unlock_methods.list_assigned(front, alice, UserType.HOME_USER)
            _print_keys(out, "assigned", keys)

            out.say(f"\n3. Setting a duress alarm on fingerprint #{result.key.unlock_no}:")
            await cloud.unlock_methods.set_duress_alarm(front, UnlockType.FINGERPRINT, result.key.unlock_no)
            keys = await cloud.unlock_methods.list_assigned(front, alice, UserType.HOME_USER)
            _print_keys(out, "assigned", keys)
            report["keys"] = [_key_row(key) for key in keys]

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
            kind = "PNG image" if photo_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" else "file"
            out.say(f"   {size} bytes decrypted, a {kind}, saved to {photo_path}")
            report["photo"] = {"path": str(photo_path), "bytes": size}
        out.say("\n6. Shutting down the simulator and the broker...")
    elapsed = time.monotonic() - started
    report["seconds"] = round(elapsed, 2)
    out.say(f"Done in {elapsed:.1f} s.")
    out.emit(report)
    return 0


async def _door_report(reports: Any) -> str:
    async with asyncio.timeout(5):
        event = await anext(reports)
    event.ack()
    for item in getattr(event, "status", ()):
        if item.code == "closed_opened":
            return f"door {item.value}"
    return _describe_event(event)


async def cmd_sim_serve(args: argparse.Namespace, out: Output) -> int:
    from lockcloud.sim import Simulator, running

    simulator = Simulator(
        args.access_id or None,
        args.access_secret or None,
        press_interval=args.press_interval,
        push_encryption=args.push_encryption,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with running(
            simulator, broker=not args.no_broker, broker_url=args.broker_url, port=args.port
        ) as server:
            document = {
                "base_url": server.base_url,
                "pulsar_url": server.pulsar_url,
                "websocket_url": server.websocket_url,
                "access_id": server.access_id,
                "access_secret": server.access_secret,
                "devices": server.devices,
                "users": {"home": simulator.home_user, "guest": simulator.guest_user},
                "pid": os.getpid(),
            }
            out.emit(document)
            _describe_server(out, server)
            await stop.wait()
            out.say("stopping...")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0


def _int_or_none(value: int | None) -> int | None:
    return None if value is None else int(value)


def _describe_server(out: Output, server: SimServer) -> None:
    sim = server.simulator
    out.say("lockcloud simulator - a simulated Tuya cloud with smart locks (not a real Tuya project)")
    out.say(f"  REST API:      {server.base_url}")
    out.say(f"  push broker:   {server.pulsar_url or '(none)'}  topic {server.access_id}/out/event")
    out.say(f"  push over WebSocket: {server.websocket_url or '(none)'}")
    out.say(f"  access id:     {server.access_id}")
    out.say(f"  access secret: {server.access_secret}")
    out.say(f"  users:         {sim.home_user} (home user, type 1), {sim.guest_user} (type 2)")
    out.say("  devices:")
    for role, device_id in server.devices.items():
        out.say(f"    {device_id:<16} {sim.lock(device_id).kind.label} ({role})")
    out.say("\nPoint the CLI or your app at it:")
    out.say(f"  export {ENV_ACCESS_ID}={server.access_id}")
    out.say(f"  export {ENV_ACCESS_SECRET}={server.access_secret}")
    out.say(f"  export {ENV_BASE_URL}={server.base_url}")
    if server.pulsar_url:
        out.say(f"  export {ENV_PULSAR_URL}={server.pulsar_url}")
    out.say("Press Ctrl-C to stop.")


async def cmd_keys(args: argparse.Namespace, out: Output) -> int:
    async with open_target(args, out) as target, connect(target) as cloud:
        device = resolve_device(target, args.device)
        document: dict[str, Any] = {"device_id": device}
        out.say(f"Keys on {device}:")
        if args.user:
            keys = await cloud.unlock_methods.list_assigned(
                device, args.user, args.user_type, unlock_type=args.type
            )
            _print_keys(out, f"assigned to {args.user}", keys)
            document["assigned"] = [_key_row(key) for key in keys]
        if args.unassigned or not args.user:
            keys = await cloud.unlock_methods.list_unassigned(device, unlock_type=args.type)
            _print_keys(out, "not assigned to anyone", keys)
            document["unassigned"] = [_key_row(key) for key in keys]
    out.emit(document)
    return 0


async def cmd_enroll(args: argparse.Namespace, out: Output) -> int:
    async with open_target(args, out, press_interval=SIM_PRESS_INTERVAL) as target, connect(target) as cloud:
        device = resolve_device(target, args.device)
        if not out.json_mode:
            hint = " (the simulated finger presses by itself)" if target.embedded else ""
            out.say(
                f"Enrolling a {args.type.value} for {args.user} on {device}; follow the lock's prompts{hint}."
            )
        async with event_stream(cloud, target, args) as stream:
            result = await enroll_with_progress(
                cloud,
                stream,
                out,
                device_id=device,
                user_id=args.user,
                user_type=args.user_type,
                unlock_type=args.type,
                idle_timeout=args.timeout,
            )
    out.emit(_result_document(result))
    if not result.ok:
        raise CommandError(f"enrollment {result.status.value}: {result.reason or 'no reason given'}")
    key = f" as key #{result.key.unlock_no}" if result.key is not None else ""
    out.say(f"Enrolled{key}.")
    return 0


def _read_pin(args: argparse.Namespace) -> str | None:
    if args.pin is None:
        return None
    if args.pin != "-":
        return str(args.pin)
    if sys.stdin.isatty():
        return getpass.getpass("PIN: ")
    return sys.stdin.readline().strip()


async def cmd_unlock(args: argparse.Namespace, out: Output) -> int:
    pin = _read_pin(args)
    async with open_target(args, out) as target, connect(target) as cloud:
        device = resolve_device(target, args.device)
        if pin is not None:
            opened = await cloud.remote_unlock.open_door(device, pin=pin)
            how = "with the PIN"
        else:
            opened = await cloud.remote_unlock.open_door_without_password(device, channel_id=args.channel)
            how = "without a password"
    out.emit({"device_id": device, "opened": opened})
    if not opened:
        raise CommandError(f"the lock refused to open {how}")
    out.say(f"{device}: opened {how}.")
    return 0


async def cmd_listen(args: argparse.Namespace, out: Output) -> int:
    async with open_target(args, out) as target, connect(target) as cloud:
        if target.embedded:
            out.note("the embedded simulator only pushes what this command makes it do, so expect silence")
        devices = [resolve_device(target, device) for device in args.device or ()]
        async with event_stream(cloud, target, args) as stream:
            subscription = stream.subscribe(device_id=devices or None)
            out.say(f"Listening on {stream.topic} as {stream.subscription}; Ctrl-C to stop.")
            seen = 0
            deadline = time.monotonic() + args.duration if args.duration else None
            while args.count is None or seen < args.count:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        event = await anext(subscription)
                except TimeoutError:
                    break
                seen += 1
                out.emit(_event_document(event))
                stamp = event.published_at.isoformat(timespec="seconds") if event.published_at else "-"
                out.say(f"{stamp} {event.device_id or '-':<20} {_describe_event(event)}")
                event.ack()
    return 0


@attrs.define
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False


async def cmd_doctor(args: argparse.Namespace, out: Output) -> int:
    checks: list[Check] = []
    try:
        async with open_target(args, out) as target:
            checks.append(
                Check(
                    "credentials", True, f"access id {target.access_id} ({_credential_source(args, target)})"
                )
            )
            checks.append(Check("region", True, f"{target.region.name}: {target.base_url}"))
            await _doctor_checks(args, target, checks)
    except CommandError as exc:
        fix = f"set {ENV_ACCESS_ID} and {ENV_ACCESS_SECRET} from your Tuya cloud project's Overview page"
        name = "region" if "region" in str(exc) else "credentials"
        if name == "region":
            fix = (
                f"set {ENV_REGION} to one of {', '.join(r.name for r in Region)} (your project's data centre)"
            )
        checks.append(Check(name, False, str(exc), fix))
    failed = [check for check in checks if not check.ok]
    for check in checks:
        status = "ok  " if check.ok and not check.warning else ("warn" if check.ok else "FAIL")
        out.say(f"[{status}] {check.name}: {check.detail}")
        if check.fix and (not check.ok or check.warning):
            out.say(f"       fix: {check.fix}")
    out.emit({"ok": not failed, "checks": [attrs.asdict(check) for check in checks]})
    if failed:
        raise CommandError(f"{len(failed)} check(s) failed: {', '.join(check.name for check in failed)}")
    return 0


def _credential_source(args: argparse.Namespace, target: Target) -> str:
    if target.embedded:
        return "embedded simulator"
    return "flags" if args.access_id else "environment"


async def _doctor_checks(args: argparse.Namespace, target: Target, checks: list[Check]) -> None:
    from lockcloud._transport import RetryPolicy

    async with connect(target, retry=RetryPolicy.never()) as cloud:
        try:
            await cloud.tokens.get()
        except (CredentialsError, SignatureError) as exc:
            fix = "copy the access id and secret again from the cloud project's Overview page (Tuya IoT platform)"
            checks.append(
                Check("token", False, f"Tuya refused the credentials: {exc.msg} (code {exc.code})", fix)
            )
            return
        except TransportError as exc:
            fix = f"check the network and that {target.base_url} is your project's data centre (--region)"
            checks.append(Check("token", False, f"cannot reach {target.base_url}: {exc}", fix))
            return
        except APIError as exc:
            checks.append(
                Check("token", False, f"token request refused: {exc.code} {exc.msg}", "see the code")
            )
            return
        checks.append(Check("token", True, "an access token was granted"))
        skew = cloud.clock_offset
        if abs(skew) > CLOCK_WARNING_SECONDS:
            checks.append(
                Check(
                    "clock",
                    True,
                    f"this machine's clock is {abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} Tuya's "
                    "(lockcloud corrects for it)",
                    "synchronise the system clock with NTP (e.g. `timedatectl set-ntp true`)",
                    warning=True,
                )
            )
        else:
            checks.append(Check("clock", True, f"within {abs(skew):.1f} s of Tuya's clock"))
        checks.append(await _subscription_check(cloud, args, target))
    if not args.skip_events:
        checks.append(await _events_check(target))


async def _subscription_check(cloud: LockCloud, args: argparse.Namespace, target: Target) -> Check:
    probe = resolve_device(target, args.device) if args.device else "lockcloud-doctor-probe"
    try:
        await cloud.remote_unlock.list_methods(probe)
    except ServiceNotSubscribedError as exc:
        fix = "subscribe to the Smart Lock Open Service and authorise it under the project's Service API tab"
        return Check("services", False, f"the lock APIs are not subscribed (code {exc.code})", fix)
    except PlanExpiredError as exc:
        fix = "extend the trial or buy a plan in the Tuya IoT platform"
        return Check("services", False, f"the cloud plan has run out (code {exc.code})", fix)
    except PermissionDeniedError as exc:
        if not args.device:
            return Check(
                "services", True, f"lock APIs answered (code {exc.code}); pass --device to check a lock"
            )
        fix = "link the app account that owns the lock to the cloud project (Devices > Link App Account)"
        return Check("services", False, f"the project may not access {probe} (code {exc.code})", fix)
    except APIError as exc:
        # Any other refusal (device unknown, lock type) came from the lock service itself: it is subscribed.
        where = f"for {probe}" if args.device else "(probe device)"
        return Check("services", True, f"the lock APIs are subscribed; they answered {exc.code} {where}")
    except TransportError as exc:
        return Check("services", False, f"the lock API call failed: {exc}", "retry; check the network")
    return Check("services", True, f"the lock APIs are subscribed and {probe} answered")


async def _events_check(target: Target) -> Check:
    from lockcloud.events import EventStream

    stream = EventStream(
        target.access_id,
        target.access_secret,
        url=target.pulsar_url,
        firehose=False,
        connect_timeout=5.0,
        pulsar_log_level="error",
    )
    try:
        async with asyncio.timeout(15):
            async with stream:
                pass
    except (EventStreamError, TimeoutError) as exc:
        fix = "subscribe to the message service in the project and check that port 7285 is reachable"
        return Check("push messages", False, f"cannot subscribe at {target.pulsar_url}: {exc}", fix)
    return Check("push messages", True, f"subscribed to {stream.topic} at {target.pulsar_url}")


# -- argument parsing -------------------------------------------------------------------------------------------


def _unlock_type(value: str) -> UnlockType:
    member = UnlockType(value)
    if not member.is_known:
        raise argparse.ArgumentTypeError(f"unknown unlock type {value!r}")
    return member


def _user_type(value: str) -> UserType:
    if value not in ("1", "2"):
        raise argparse.ArgumentTypeError("user type must be 1 (home user) or 2 (not a home user)")
    return UserType(int(value))


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return number


SUBSCRIPTION_HELP = (
    "Pulsar subscription (default: ACCESS_ID-sub). Tuya delivers each message to one consumer of a subscription, "
    "so two commands listening at once need different names where the broker allows it (a simulator does)"
)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    common.add_argument(
        "-v", "--verbose", action="store_true", help="log lockcloud's debug messages to stderr"
    )

    cloud_options = argparse.ArgumentParser(add_help=False, parents=[common])
    creds = cloud_options.add_argument_group("connection")
    creds.add_argument("--access-id", help=f"cloud project access id (default: ${ENV_ACCESS_ID})")
    creds.add_argument("--access-secret", help=f"cloud project access secret (default: ${ENV_ACCESS_SECRET})")
    creds.add_argument(
        "--region", help=f"data centre: {', '.join(r.name for r in Region)} (default: ${ENV_REGION}, EU)"
    )
    creds.add_argument("--base-url", help=f"REST API URL overriding the region's (default: ${ENV_BASE_URL})")
    creds.add_argument(
        "--pulsar-url", help=f"push broker URL overriding the region's (default: ${ENV_PULSAR_URL})"
    )
    creds.add_argument(
        "--sim", action="store_true", help="run against an embedded simulator started for this command"
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Drive Tuya cloud smart locks, or try everything on the embedded simulator (`lockcloud demo`).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", parents=[common], help="enroll, list, duress, unlock and photo on the embedded simulator"
    )
    demo.add_argument(
        "--photo", help="where to save the decrypted photo (default: a file in the temp directory)"
    )
    demo.add_argument("--press-interval", type=_positive, default=SIM_PRESS_INTERVAL, help=argparse.SUPPRESS)
    demo.set_defaults(handler=cmd_demo)

    sim = commands.add_parser("sim", help="the lock-cloud simulator")
    sim_commands = sim.add_subparsers(dest="sim_command", required=True, metavar="SIM_COMMAND")
    serve = sim_commands.add_parser(
        "serve", parents=[common], help="serve a simulated cloud on 127.0.0.1 until interrupted"
    )
    serve.add_argument("--port", type=int, default=0, help="REST API port (default: a free one)")
    serve.add_argument("--access-id", help="fixed access id (default: random)")
    serve.add_argument("--access-secret", help="fixed 32-character access secret (default: random)")
    serve.add_argument("--no-broker", action="store_true", help="serve REST only; pushes are only recorded")
    serve.add_argument("--broker-url", help="produce pushes to this running broker instead of starting one")
    serve.add_argument(
        "--press-interval",
        type=_positive,
        default=SIM_PRESS_INTERVAL,
        help="seconds between simulated finger presses during an enrollment (default: %(default)s)",
    )
    serve.add_argument("--push-encryption", choices=("aes_gcm", "aes_ecb"), default="aes_gcm")
    serve.set_defaults(handler=cmd_sim_serve)

    keys = commands.add_parser("keys", parents=[cloud_options], help="list a lock's keys")
    keys.add_argument("device", help="device id (with --sim also a role such as front_door)")
    keys.add_argument("--user", help="list the keys assigned to this user")
    keys.add_argument("--user-type", type=_user_type, default=UserType.HOME_USER, help="1 home user, 2 other")
    keys.add_argument("--type", type=_unlock_type, help="only this unlock type (fingerprint, card, ...)")
    keys.add_argument("--unassigned", action="store_true", help="also list keys not assigned to anyone")
    keys.set_defaults(handler=cmd_keys)

    enroll = commands.add_parser(
        "enroll", parents=[cloud_options], help="enroll a key with a live progress bar"
    )
    enroll.add_argument("device", help="device id (with --sim also a role such as front_door)")
    enroll.add_argument("--user", required=True, help="user the new key belongs to")
    enroll.add_argument(
        "--user-type", type=_user_type, default=UserType.HOME_USER, help="1 home user, 2 other"
    )
    enroll.add_argument(
        "--type", type=_unlock_type, default=UnlockType.FINGERPRINT, help="default: fingerprint"
    )
    enroll.add_argument(
        "--timeout", type=_positive, default=60.0, help="give up after this long without progress"
    )
    enroll.set_defaults(handler=cmd_enroll)

    unlock = commands.add_parser("unlock", parents=[cloud_options], help="open a lock remotely")
    unlock.add_argument("device", help="device id (with --sim also a role such as front_door)")
    unlock.add_argument(
        "--pin", help="the lock's 6-digit PIN; '-' reads it from stdin (omit for password-free)"
    )
    unlock.add_argument("--channel", type=int, help="door channel of an access control device")
    unlock.set_defaults(handler=cmd_unlock)

    listen = commands.add_parser("listen", parents=[cloud_options], help="print push events as they arrive")
    listen.add_argument("--device", action="append", help="only this device (repeatable)")
    listen.add_argument("--count", type=int, help="stop after this many events")
    listen.add_argument("--duration", type=_positive, help="stop after this many seconds")
    listen.add_argument("--subscription", help=SUBSCRIPTION_HELP)
    listen.set_defaults(handler=cmd_listen)

    doctor = commands.add_parser(
        "doctor", parents=[cloud_options], help="check credentials, region, clock, services and push channel"
    )
    doctor.add_argument("--device", help="also check access to this lock")
    doctor.add_argument("--skip-events", action="store_true", help="do not try the push channel")
    doctor.set_defaults(handler=cmd_doctor)
    return parser


def _fail(out: Output, message: str, code: int = EXIT_FAILED) -> NoReturn:
    out.note(message)
    raise SystemExit(code)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lockcloud`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Output(json_mode=args.json)
    if args.verbose:
        logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
        logging.getLogger("lockcloud").setLevel(logging.DEBUG)
    handler: Callable[[argparse.Namespace, Output], Any] = args.handler
    try:
        result: int = asyncio.run(handler(args, out))
    except KeyboardInterrupt:
        _fail(out, "interrupted", EXIT_INTERRUPTED)
    except CommandError as exc:
        _fail(out, _one_line(exc))
    except ConnectError as exc:
        _fail(out, f"cannot connect: {_one_line(exc)}")
    except LockCloudError as exc:
        _fail(out, f"{type(exc).__name__}: {_one_line(exc)}")
    except OSError as exc:
        _fail(out, f"{type(exc).__name__}: {_one_line(exc)}")
    return result


if __name__ == "__main__":
    sys.exit(main())
