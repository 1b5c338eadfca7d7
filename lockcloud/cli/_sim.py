"""``lockcloud sim serve``: a simulated cloud for your own app, until interrupted."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import TYPE_CHECKING

import click

from lockcloud._core.environment import (
    ENV_ACCESS_ID,
    ENV_ACCESS_SECRET,
    ENV_BASE_URL,
    ENV_PULSAR_URL,
    ENV_PUSH_ENV,
    ENV_WEBSOCKET_URL,
)
from lockcloud._core.wire import PRODUCTION_ENV, TEST_ENV
from lockcloud.cli._errors import CommandError
from lockcloud.cli._options import checked_url, output_options, positive_seconds
from lockcloud.cli._output import Output
from lockcloud.cli._run import run
from lockcloud.cli._target import SIM_PRESS_INTERVAL, spoken_list

if TYPE_CHECKING:
    from lockcloud.sim import SimServer
    from lockcloud.sim._push import MessageEncryption

__all__ = ["sim"]


@click.group()
def sim() -> None:
    """The lock-cloud simulator."""


@sim.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="REST API port (default: a free one).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback makes the simulator and its console reachable from other "
    "machines (a warning is printed).",
)
@click.option("--no-console", is_flag=True, help="Do not serve the web console at /console/.")
@click.option("--access-id", help="Fixed access id (default: random).")
@click.option("--access-secret", help="Fixed 32-character access secret (default: random).")
@click.option("--no-broker", is_flag=True, help="Serve REST only; push messages are only recorded.")
@click.option(
    "--broker-url",
    callback=checked_url("pulsar", "pulsar+ssl"),
    help="Produce push messages to this running broker instead of starting one.",
)
@click.option(
    "--press-interval",
    type=float,
    callback=positive_seconds,
    default=SIM_PRESS_INTERVAL,
    show_default=True,
    help="Seconds between simulated finger presses during an enrollment.",
)
@click.option(
    "--push-encryption",
    type=click.Choice(["aes_gcm", "aes_ecb"]),
    default="aes_gcm",
    show_default=True,
    help="How the simulator encrypts push messages, as their `em` property says: aes_gcm, or aes_ecb (what a "
    "message without `em` also means). lockcloud decrypts both; pick the one your project receives.",
)
@click.option(
    "--push-env",
    type=click.Choice([PRODUCTION_ENV, TEST_ENV]),
    default=PRODUCTION_ENV,
    show_default=True,
    help="Topic the pushes go to, ACCESS_ID/out/PUSH_ENV: event (Tuya's 11 partitions) or event-test "
    "(unpartitioned, Tuya's test channel).",
)
@output_options
def serve(
    port: int,
    host: str,
    no_console: bool,
    access_id: str | None,
    access_secret: str | None,
    no_broker: bool,
    broker_url: str | None,
    press_interval: float,
    push_encryption: MessageEncryption,
    push_env: str,
    out: Output,
    verbose: bool,
) -> None:
    """Serve a simulated cloud on 127.0.0.1 until Ctrl-C or SIGTERM; prints its URLs (the web console's too) and
    credentials."""
    run(
        out,
        _serve(
            out,
            port=port,
            host=host,
            console=not no_console,
            access_id=access_id,
            access_secret=access_secret,
            broker=not no_broker,
            broker_url=broker_url,
            press_interval=press_interval,
            push_encryption=push_encryption,
            push_env=push_env,
        ),
    )


async def _serve(
    out: Output,
    *,
    port: int,
    host: str = "127.0.0.1",
    console: bool = True,
    access_id: str | None,
    access_secret: str | None,
    broker: bool,
    broker_url: str | None,
    press_interval: float,
    push_encryption: MessageEncryption,
    push_env: str,
) -> None:
    from lockcloud.sim import BrokerUnavailableError, PortUnavailableError, Simulator, running
    from lockcloud.sim.broker import installed, missing_push_packages

    uvicorn = [] if installed("uvicorn") else ["uvicorn"]
    push = missing_push_packages(embedded_broker=broker_url is None) if broker else []
    if uvicorn or push:
        instead = "" if uvicorn else ", or pass --no-broker to serve the REST API alone"
        raise CommandError(
            f"lockcloud sim serve needs {spoken_list(uvicorn + push)} (not installed): "
            f"pip install 'lockcloud[sim]'{instead}"
        )
    simulator = Simulator(
        access_id or None,
        access_secret or None,
        press_interval=press_interval,
        push_encryption=push_encryption,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with running(
            simulator,
            broker=broker,
            broker_url=broker_url,
            host=host,
            port=port,
            env=push_env,
            console=console,
        ) as server:
            out.emit(
                {
                    "base_url": server.base_url,
                    "pulsar_url": server.pulsar_url,
                    "websocket_url": server.websocket_url,
                    "console_url": server.console_url,
                    "push_env": server.env,
                    "access_id": server.access_id,
                    "access_secret": server.access_secret,
                    "devices": server.devices,
                    "users": {"home": simulator.home_user, "guest": simulator.guest_user},
                    "pid": os.getpid(),
                }
            )
            _describe_server(out, server)
            await stop.wait()
            out.say("stopping...")
    except PortUnavailableError as exc:
        raise CommandError(
            f"the simulator cannot listen on {exc.host}:{exc.port}: {exc.reason}; "
            "pass another --port (0: a free one)"
        ) from None
    except BrokerUnavailableError as exc:
        raise CommandError(
            f"{exc}; check --broker-url, or leave it out to start an embedded broker"
        ) from None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _describe_server(out: Output, server: SimServer) -> None:
    from lockcloud.sim.console import is_loopback

    sim = server.simulator
    out.say("lockcloud simulator - a simulated Tuya cloud with smart locks (not a real Tuya project)")
    out.say(f"  REST API:      {server.base_url}")
    out.say(f"  push broker:   {server.pulsar_url or '(none)'}  topic {server.access_id}/out/{server.env}")
    out.say(f"  push over ws:  {server.websocket_url or '(none)'}  (Pulsar WebSocket API, same topic)")
    out.say(f"  console:       {server.console_url or '(off)'}")
    out.say(f"  access id:     {server.access_id}")
    out.say(f"  access secret: {server.access_secret}")
    out.say(f"  users:         {sim.home_user} (home user), {sim.guest_user} (non-home user)")
    out.say("  devices:")
    for role, device_id in server.devices.items():
        out.say(f"    {device_id:<16} {sim.lock(device_id).kind.label} ({role})")
    out.say("\nPoint the CLI or your app at it:")
    out.say(f"  export {ENV_ACCESS_ID}={server.access_id}")
    out.say(f"  export {ENV_ACCESS_SECRET}={server.access_secret}")
    out.say(f"  export {ENV_BASE_URL}={server.base_url}")
    if server.pulsar_url:
        out.say(f"  export {ENV_PULSAR_URL}={server.pulsar_url}")
    if server.websocket_url:
        out.say(f"  export {ENV_WEBSOCKET_URL}={server.websocket_url}")
    if server.env != PRODUCTION_ENV:
        out.say(f"  export {ENV_PUSH_ENV}={server.env}")
    host = server.base_url.removeprefix("http://").rsplit(":", 1)[0]
    if not is_loopback(host):
        out.note(
            f"warning: listening on {host}: the simulator (credentials printed above) and its console are reachable"
            " from other machines; use --host 127.0.0.1 to keep them on this one"
        )
    out.say("Press Ctrl-C to stop.")
