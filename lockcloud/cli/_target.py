"""Where a command sends its calls, and the one place the CLI builds clients and push streams."""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import attrs

from lockcloud._core.environment import ENV_ACCESS_ID, ENV_ACCESS_SECRET, ENV_PUSH_TRANSPORT
from lockcloud._core.errors import EventStreamError
from lockcloud._core.wire import PRODUCTION_ENV
from lockcloud.cli._errors import CommandError
from lockcloud.cli._output import Output
from lockcloud.regions import Region

if TYPE_CHECKING:
    from lockcloud._client import LockCloud
    from lockcloud.events import EventStream
    from lockcloud.sim import SimServer, Simulator

__all__ = [
    "Connection",
    "PushUnavailableError",
    "Target",
    "connect",
    "open_events",
    "open_target",
    "require_pulsar_client",
    "require_sim_push",
    "resolve_device",
    "sim_push_unavailable",
    "spoken_list",
]

#: Seconds between the simulated finger presses of ``demo`` and ``--sim`` enrollments.
SIM_PRESS_INTERVAL = 0.25

NO_CREDENTIALS = (
    f"no credentials: pass --access-id and --access-secret, or set {ENV_ACCESS_ID} and {ENV_ACCESS_SECRET} "
    "(run `lockcloud sim serve` for a local cloud), or add --sim to run against an embedded simulator"
)


@attrs.frozen
class Connection:
    """The connection options of a command, as given (flags or ``LOCKCLOUD_*`` variables, resolved by click)."""

    access_id: str | None = None
    access_secret: str | None = attrs.field(default=None, repr=False)
    region: Region = Region.EU
    base_url: str | None = None
    pulsar_url: str | None = None
    websocket_url: str | None = None
    push_env: str = PRODUCTION_ENV
    sim: bool = False
    verbose: bool = False

    @property
    def has_credentials(self) -> bool:
        return bool(self.access_id or self.access_secret)


@attrs.frozen
class Target:
    """A Tuya project, a served simulator, or an embedded one (``--sim``).

    ``no_push`` says why an embedded simulator has no broker (``None``: it has one, or the target is not
    embedded); :func:`open_events` of its clients raises it rather than reach for the region's push service.
    ``simulator`` is an embedded simulator that is not served (uvicorn is not installed): its clients call it
    in-process.
    """

    access_id: str
    access_secret: str = attrs.field(repr=False)
    region: Region
    base_url: str
    pulsar_url: str | None
    embedded: bool = False
    devices: dict[str, str] = attrs.field(factory=dict)
    websocket_url: str | None = None
    push_env: str = PRODUCTION_ENV
    no_push: str | None = None
    simulator: Simulator | None = attrs.field(default=None, repr=False)


def configured_target(connection: Connection) -> Target | None:
    """The target from the options, or None when no credentials were given at all."""
    if not connection.has_credentials:
        return None
    if not connection.access_id:
        raise CommandError(f"the access id is missing: pass --access-id or set {ENV_ACCESS_ID}")
    if not connection.access_secret:
        raise CommandError(f"the access secret is missing: pass --access-secret or set {ENV_ACCESS_SECRET}")
    region = connection.region
    return Target(
        connection.access_id,
        connection.access_secret,
        region,
        connection.base_url or region.base_url,
        connection.pulsar_url or region.pulsar_url,
        websocket_url=connection.websocket_url or region.websocket_url,
        push_env=connection.push_env,
    )


class PushUnavailableError(CommandError, EventStreamError):
    """A command that reads push messages cannot: a package is not installed, or its embedded simulator was
    started without a broker. One line saying what to install or pass (an :class:`~lockcloud.EventStreamError`
    too, so ``doctor`` reports it as its push check)."""


_SIM_PUSH_MISSING = (
    "{who} reads push messages from a simulator served with a Pulsar broker, which needs {missing} "
    "(not installed): pip install 'lockcloud[sim]'"
)
_SIM_WEBSOCKET_TOO = (
    "; --websocket needs them as well with --sim, as the simulator serves its WebSocket API from that broker "
    "(a Tuya project or a `lockcloud sim serve` elsewhere needs none of them over --websocket)"
)
_PULSAR_CLIENT_MISSING = (
    "reading push messages over Pulsar's own protocol needs pulsar-client (not installed): "
    "pip install 'lockcloud[pulsar]', or pass --websocket (or set {variable}=websocket) to read them over "
    "WebSocket, which needs no pulsar-client"
)
_RELAY_PULSAR_CLIENT_MISSING = (
    "--relay forwards push messages read over Pulsar's own protocol, which needs pulsar-client (not installed): "
    "pip install 'lockcloud[pulsar]'"
)
_REST_ONLY = "this command started its embedded simulator without a broker: it reads no push messages"


def spoken_list(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]])) if names else ""


def sim_push_unavailable(who: str | None = None) -> str | None:
    """Why an embedded simulator cannot push here (pulsar-client, pulsar-lite or uvicorn is not installed), or
    None. ``who`` is what wanted it; by default ``--sim``, which could also be given ``--websocket``."""
    from lockcloud.sim.broker import installed, missing_push_packages

    missing = missing_push_packages() + ([] if installed("uvicorn") else ["uvicorn"])
    if not missing:
        return None
    reason = _SIM_PUSH_MISSING.format(who=who or "--sim", missing=spoken_list(missing))
    return reason if who else reason + _SIM_WEBSOCKET_TOO


def require_sim_push(who: str | None = None) -> None:
    """:class:`PushUnavailableError` unless an embedded simulator can push (see :func:`sim_push_unavailable`)."""
    reason = sim_push_unavailable(who)
    if reason is not None:
        raise PushUnavailableError(reason)


@contextlib.asynccontextmanager
async def open_target(
    connection: Connection, out: Output, *, push: bool = False, press_interval: float | None = None
) -> AsyncIterator[Target]:
    """The configured target, or with ``--sim`` an embedded simulator that lives as long as the block.

    The embedded simulator has a broker only for a command that reads push messages (``push``): the others need
    neither pulsar-client nor pulsar-lite, and start faster; without uvicorn they call it in-process. A ``push``
    command where those are not installed gets :class:`PushUnavailableError` before anything starts.
    """
    if not connection.sim:
        target = configured_target(connection)
        if target is None:
            raise CommandError(NO_CREDENTIALS)
        yield target
        return
    from lockcloud.sim import Simulator, running
    from lockcloud.sim.broker import installed

    if push:
        require_sim_push()
    if connection.has_credentials:
        out.note("--sim given: the credentials from flags or environment are not used")
    started = "an embedded simulator and broker" if push else "an embedded simulator"
    out.note(f"--sim: starting {started} for this command (no Tuya account involved)")
    if not push and not installed("uvicorn"):
        simulator = Simulator(press_interval=press_interval)
        try:
            yield _in_process_target(simulator, connection.push_env)
        finally:
            await simulator.aclose()
        return
    async with running(press_interval=press_interval, env=connection.push_env, broker=push) as server:
        yield sim_target(server)


def _in_process_target(simulator: Simulator, push_env: str) -> Target:
    from lockcloud.sim._simulator import IN_PROCESS_URL

    return Target(
        simulator.access_id,
        simulator.access_secret,
        Region.EU,
        IN_PROCESS_URL,
        None,
        embedded=True,
        devices=simulator.devices,
        push_env=push_env,
        no_push=_REST_ONLY,
        simulator=simulator,
    )


def sim_target(server: SimServer) -> Target:
    return Target(
        server.access_id,
        server.access_secret,
        Region.EU,
        server.base_url,
        server.pulsar_url,
        embedded=True,
        devices=server.devices,
        websocket_url=server.websocket_url,
        push_env=server.env,
        no_push=_REST_ONLY if server.pulsar_url is None else None,
    )


# The clients of embedded simulators without a broker, and why: their default push URLs are the region's.
_clients_without_push: weakref.WeakKeyDictionary[LockCloud, str] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def connect(target: Target, **options: Any) -> AsyncIterator[LockCloud]:
    """The client of every command. Credentials were resolved from flags and environment by click, so this is
    where a ``LockCloud.from_env()`` would be swapped in if the CLI ever stopped taking flags."""
    from lockcloud._client import LockCloud

    client: contextlib.AbstractAsyncContextManager[LockCloud]
    if target.simulator is not None:
        client = target.simulator.client(push_env=target.push_env, **options)
    else:
        client = LockCloud(
            target.access_id,
            target.access_secret,
            region=target.region,
            base_url=target.base_url,
            pulsar_url=target.pulsar_url,
            websocket_url=target.websocket_url,
            push_env=target.push_env,
            **options,
        )
    async with client as cloud:
        if target.no_push is not None:
            _clients_without_push[cloud] = target.no_push
        yield cloud


def push_over_websocket(websocket: bool) -> bool:
    """Whether a command reads the push stream over WebSocket: its ``--websocket`` flag, or else
    ``LOCKCLOUD_PUSH_TRANSPORT=websocket`` (as ``LockCloud.from_env`` reads it)."""
    if websocket:
        return True
    transport = os.environ.get(ENV_PUSH_TRANSPORT, "").strip().lower()
    if transport not in ("", "pulsar", "websocket"):
        raise CommandError(f"{ENV_PUSH_TRANSPORT} must be 'pulsar' or 'websocket', not {transport!r}")
    return transport == "websocket"


def require_pulsar_client(*, relay: bool = False) -> None:
    """:class:`PushUnavailableError` unless pulsar-client is installed, saying what to install (and, unless the
    command forwards to a relay, which reads Pulsar's own protocol only, that ``--websocket`` needs none)."""
    from lockcloud.sim.broker import installed

    if not installed("pulsar"):
        raise PushUnavailableError(
            _RELAY_PULSAR_CLIENT_MISSING
            if relay
            else _PULSAR_CLIENT_MISSING.format(variable=ENV_PUSH_TRANSPORT)
        )


def open_events(
    cloud: LockCloud,
    *,
    verbose: bool,
    subscription: str | None = None,
    websocket: bool = False,
    **options: Any,
) -> EventStream:
    """The project's push stream, read through subscriptions only; the C++ Pulsar client logs errors only,
    unless ``--verbose``. ``websocket`` reads it over Pulsar's WebSocket API. The CLI's only call of
    ``cloud.events``. ``LOCKCLOUD_PUSH_TRANSPORT=websocket`` counts as ``websocket`` (see
    :func:`push_over_websocket`). :class:`~lockcloud.EventStreamError` for a client of an embedded simulator
    without a broker, saying why it has none."""
    no_push = _clients_without_push.get(cloud)
    if no_push is not None:
        raise PushUnavailableError(no_push)
    options.setdefault("firehose", False)
    if push_over_websocket(websocket):
        options["transport"] = "websocket"
    else:
        require_pulsar_client()
        options["pulsar_log_level"] = "info" if verbose else "error"
    if subscription:
        options["subscription"] = subscription
    return cloud.events(**options)


def resolve_device(target: Target, device: str) -> str:
    """With ``--sim``, a seeded role name (``front_door``) stands for its device id."""
    return target.devices.get(device, device)
