"""``lockcloud doctor``: credentials, region, clock, subscribed services and the push channel, each with its fix."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import attrs
import click

from lockcloud._core.environment import ENV_ACCESS_ID, ENV_ACCESS_SECRET
from lockcloud._core.errors import (
    APIError,
    CredentialsError,
    EventStreamError,
    PermissionDeniedError,
    PlanExpiredError,
    ServiceNotSubscribedError,
    SignatureError,
    SubscribeError,
    TransportError,
)
from lockcloud.cli._errors import CommandError
from lockcloud.cli._options import connection_options, subscription_option
from lockcloud.cli._output import Output
from lockcloud.cli._run import run
from lockcloud.cli._target import (
    Connection,
    Target,
    connect,
    open_events,
    open_target,
    resolve_device,
    sim_push_unavailable,
)
from lockcloud.regions import Region

if TYPE_CHECKING:
    from lockcloud._client import LockCloud
    from lockcloud.events import EventStream

__all__ = ["doctor"]

#: A clock further off than this is reported (lockcloud itself corrects for any offset).
CLOCK_WARNING_SECONDS = 30.0


@attrs.define
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False


@click.command()
@click.option("--device", help="Also check access to this lock.")
@click.option("--skip-events", is_flag=True, help="Do not try the push channel.")
@click.option("--websocket", is_flag=True, help="Try the push channel over WebSocket (port 8285), not 7285.")
@subscription_option
@connection_options
def doctor(
    device: str | None,
    skip_events: bool,
    websocket: bool,
    subscription: str | None,
    connection: Connection,
    out: Output,
) -> None:
    """Check credentials, region, clock, subscribed services and the push channel; each failure names its fix."""
    run(out, _doctor(connection, out, device, skip_events, subscription, websocket))


async def _doctor(
    connection: Connection,
    out: Output,
    device: str | None,
    skip_events: bool,
    subscription: str | None,
    websocket: bool = False,
) -> None:
    checks: list[Check] = []
    try:
        # Without the broker packages, --sim still checks everything else.
        no_push = sim_push_unavailable() if connection.sim and not skip_events else None
        push = not skip_events and no_push is None
        async with open_target(connection, out, push=push) as target:
            source = "embedded simulator" if target.embedded else "flags or environment"
            checks.append(Check("credentials", True, f"access id {target.access_id} ({source})"))
            checks.append(Check("region", True, f"{target.region.name}: {target.base_url}"))
            await _remote_checks(connection, target, checks, device, not push, subscription, websocket)
            if no_push is not None:
                fix = "pip install 'lockcloud[sim]', or pass --skip-events to check the rest"
                checks.append(Check("push messages", False, no_push, fix))
    except CommandError as exc:
        fix = f"set {ENV_ACCESS_ID} and {ENV_ACCESS_SECRET} from your Tuya cloud project's Overview page"
        checks.append(Check("credentials", False, str(exc), fix))
    failed = [check for check in checks if not check.ok]
    for check in checks:
        status = "ok  " if check.ok and not check.warning else ("warn" if check.ok else "FAIL")
        out.say(f"[{status}] {check.name}: {check.detail}")
        if check.fix and (not check.ok or check.warning):
            out.say(f"       fix: {check.fix}")
    out.emit({"ok": not failed, "checks": [attrs.asdict(check) for check in checks]})
    if failed:
        raise CommandError(f"{len(failed)} check(s) failed: {', '.join(check.name for check in failed)}")


async def _remote_checks(
    connection: Connection,
    target: Target,
    checks: list[Check],
    device: str | None,
    skip_events: bool,
    subscription: str | None,
    websocket: bool = False,
) -> None:
    from lockcloud._core.retry import RetryPolicy

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
            regions = ", ".join(region.name for region in Region)
            fix = f"check the network, and that --region ({regions}) is your project's data centre"
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
        probe = resolve_device(target, device) if device else None
        checks.append(await _subscription_check(cloud, probe))
        if not skip_events:
            checks.extend(await _events_check(cloud, connection, subscription, websocket))


async def _subscription_check(cloud: LockCloud, device: str | None) -> Check:
    probe = device or "lockcloud-doctor-probe"
    try:
        await cloud.remote_unlock.list_methods(probe)
    except ServiceNotSubscribedError as exc:
        fix = "subscribe to the Smart Lock Open Service and authorise it under the project's Service API tab"
        return Check("services", False, f"the lock APIs are not subscribed (code {exc.code})", fix)
    except PlanExpiredError as exc:
        fix = "extend the trial or buy a plan in the Tuya IoT platform"
        return Check("services", False, f"the cloud plan has run out (code {exc.code})", fix)
    except PermissionDeniedError as exc:
        if not device:
            return Check(
                "services", True, f"lock APIs answered (code {exc.code}); pass --device to check a lock"
            )
        fix = "link the app account that owns the lock to the cloud project (Devices > Link App Account)"
        return Check("services", False, f"the project may not access {probe} (code {exc.code})", fix)
    except APIError as exc:
        # Any other refusal (device unknown, lock type) came from the lock service itself: it is subscribed.
        where = f"for {probe}" if device else "(probe device)"
        return Check("services", True, f"the lock APIs are subscribed; they answered {exc.code} {where}")
    except TransportError as exc:
        return Check("services", False, f"the lock API call failed: {exc}", "retry; check the network")
    return Check("services", True, f"the lock APIs are subscribed and {probe} answered")


async def _events_check(
    cloud: LockCloud, connection: Connection, subscription: str | None, websocket: bool = False
) -> list[Check]:
    port = 8285 if websocket else 7285
    # An exclusive probe is refused while any consumer holds the subscription: that is how another running
    # listener shows (a Failover subscription takes it in as a standby, so joining alone would not tell).
    try:
        probe = open_events(
            cloud,
            verbose=connection.verbose,
            subscription=subscription,
            websocket=websocket,
            subscription_type="exclusive",
            connect_timeout=3.0,
        )
    except EventStreamError as exc:  # pulsar-client is not installed
        return [
            Check("push messages", False, str(exc), "lockcloud doctor --websocket tries the push channel")
        ]
    try:
        async with asyncio.timeout(15):
            async with probe:
                pass
    except SubscribeError as exc:
        if exc.reason in ("refused", "unreachable", "tls", "auth"):
            return [_events_failed(probe, exc, port)]
        # busy, timeout (pulsar-lite), or another refusal of a second subscription type: the join below decides.
    except (EventStreamError, TimeoutError) as exc:
        return [_events_failed(probe, exc, port)]
    else:
        return [Check("push messages", True, f"subscribed, no other consumer: {probe.source.description}")]
    stream = open_events(
        cloud, verbose=connection.verbose, subscription=subscription, websocket=websocket, connect_timeout=5.0
    )
    try:
        async with asyncio.timeout(30):
            async with stream:
                pass
    except (EventStreamError, TimeoutError) as exc:
        return [_events_failed(stream, exc, port)]
    return [
        Check("push messages", True, f"subscribed: {stream.source.description}"),
        Check(
            "other consumers",
            True,
            "the subscription already has an active consumer: this process shares the partitions with it "
            "(Failover), and an enrollment without events= borrows the subscription next to it",
            "expected with several `lockcloud listen` processes; otherwise stop the other consumer, pass "
            "--subscription of your own, or read the relay (`lockcloud listen --relay`, cloud.events(relay=...))",
            warning=True,
        ),
    ]


def _events_failed(stream: EventStream, exc: BaseException, port: int) -> Check:
    fix = f"subscribe to the message service in the project and check that port {port} is reachable"
    return Check("push messages", False, f"cannot subscribe ({stream.source.description}): {exc}", fix)
