"""Errors phrased for someone at a shell: one line, and the command or flag that fixes it where there is one."""

from __future__ import annotations

from lockcloud._core.environment import ENV_ACCESS_ID, ENV_ACCESS_SECRET, ENV_PULSAR_URL, ENV_WEBSOCKET_URL
from lockcloud._core.errors import (
    ClockSkewError,
    ConnectError,
    CredentialsError,
    DeviceNotFoundError,
    EventStreamError,
    LockCloudError,
    OutcomeUnknownError,
    PlanExpiredError,
    RelayError,
    RemoteUnlockDisabledError,
    ServiceNotSubscribedError,
    SignatureError,
    SubscribeError,
)
from lockcloud.enums import RemoteUnlockType

__all__ = ["SWITCH_NAMES", "CommandError", "describe_error", "one_line"]


#: The CLI's names for the remote-unlock switches (``lockcloud remote-unlock DEVICE --enable NAME``).
SWITCH_NAMES: dict[str, RemoteUnlockType] = {
    "with-pin": RemoteUnlockType.WITH_PASSWORD,
    "without-pin": RemoteUnlockType.WITHOUT_PASSWORD,
}


class CommandError(Exception):
    """A command failed for a reason already phrased for the user (one line)."""


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def switch_name(switch: str) -> str:
    for name, member in SWITCH_NAMES.items():
        if member.value == switch:
            return name
    return switch


def describe_error(error: LockCloudError) -> str:
    """What went wrong and what to type next; the library's own messages name Python calls instead."""
    if isinstance(error, RemoteUnlockDisabledError):
        name = switch_name(error.switch)
        how = "without a PIN" if name == "without-pin" else "with a PIN"
        return (
            f"remote unlock {how} is switched off on {error.device_id}; turn it on with "
            f"`lockcloud remote-unlock {error.device_id} --enable {name}` (same connection options)"
        )
    if isinstance(error, OutcomeUnknownError):
        return (
            f"{one_line(error)}; it was not retried: check the lock (`lockcloud listen`, or its app) "
            "before trying again"
        )
    if isinstance(error, ConnectError):
        return f"cannot connect: {one_line(error)} (check the network, --region or --base-url)"
    if isinstance(error, CredentialsError | SignatureError):
        return (
            f"Tuya refused the credentials ({error.code} {error.msg}): check --access-id/--access-secret "
            f"or {ENV_ACCESS_ID}/{ENV_ACCESS_SECRET}; `lockcloud doctor` checks them"
        )
    if isinstance(error, ClockSkewError):
        return (
            f"Tuya says this machine's clock is off ({error.code}): synchronise it with NTP "
            "(e.g. `timedatectl set-ntp true`)"
        )
    if isinstance(error, RelayError):
        return f"{one_line(error)}: check the --relay URL and that redis-server runs there"
    if isinstance(error, EventStreamError):
        websocket = isinstance(error, SubscribeError) and error.url.startswith(("ws://", "wss://"))
        flag, variable = (
            ("--websocket-url", ENV_WEBSOCKET_URL) if websocket else ("--pulsar-url", ENV_PULSAR_URL)
        )
        return (
            f"{one_line(error)}: check {flag} or {variable} (or --region), and that the project's "
            "message service is enabled; `lockcloud doctor` checks the push channel"
        )
    if isinstance(error, DeviceNotFoundError):
        return (
            f"{type(error).__name__}: {one_line(error)}; check the device id, and that the lock is linked to "
            "this cloud project (`lockcloud doctor --device ID` checks access)"
        )
    if isinstance(error, ServiceNotSubscribedError | PlanExpiredError):
        return f"{type(error).__name__}: {one_line(error)}; `lockcloud doctor` says what to subscribe to"
    return f"{type(error).__name__}: {one_line(error)}"
