"""The options commands share (connection, ``--json``, ``--verbose``) and the parameter types of lock values."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource

from lockcloud._core import validation
from lockcloud._core.environment import (
    ENV_ACCESS_ID,
    ENV_ACCESS_SECRET,
    ENV_BASE_URL,
    ENV_PULSAR_URL,
    ENV_PUSH_ENV,
    ENV_REGION,
    ENV_SUBSCRIPTION,
    ENV_WEBSOCKET_URL,
)
from lockcloud._core.errors import ValidationError
from lockcloud._core.wire import PRODUCTION_ENV, TEST_ENV
from lockcloud.cli._output import Output
from lockcloud.cli._target import Connection
from lockcloud.enums import UnlockType, UserType
from lockcloud.regions import Region

__all__ = [
    "checked_url",
    "connection_options",
    "output_options",
    "positive_seconds",
    "subscription_option",
    "timeout_seconds",
    "unlock_type_option",
    "user_type_option",
]


Command = Callable[..., Any]


def positive_seconds(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A duration on the command line: a finite number of seconds above zero (``nan``, ``inf``, 0 refused)."""
    if value is not None:
        try:
            validation.seconds(value, "the value")
        except ValidationError:
            raise click.BadParameter(
                f"{value!r} is not a finite number of seconds above zero", ctx, param
            ) from None
    return value


def timeout_seconds(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A timeout handed to the push transport: as :func:`positive_seconds`, and at most a day."""
    value = positive_seconds(ctx, param, value)
    if value is not None and value > validation.LONGEST_TIMEOUT:
        raise click.BadParameter(
            f"{value!r} is more than a day (at most {validation.LONGEST_TIMEOUT:,.0f} seconds)", ctx, param
        )
    return value


def source_name(ctx: click.Context, param: click.Parameter) -> str:
    """How the user gave a parameter: its flag, or its environment variable when it came from there."""
    envvar = getattr(param, "envvar", None)
    if param.name and ctx.get_parameter_source(param.name) is ParameterSource.ENVIRONMENT and envvar:
        return str(envvar)
    return param.opts[0] if param.opts else str(param.name)


def checked_url(*schemes: str) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A callback refusing a malformed URL on the command line, in one line naming the flag or variable."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value:
            try:
                validation.url(value, source_name(ctx, param), schemes=schemes)
            except ValidationError as exc:
                raise click.UsageError(str(exc), ctx) from None
        return value

    return check


def _region(ctx: click.Context, param: click.Parameter, value: str | None) -> Region | None:
    return None if value is None else Region.from_name(value)


#: The CLI's names for :class:`~lockcloud.UserType` (``HOME_USER``, ``NON_HOME_USER``).
USER_TYPES = {"home": UserType.HOME_USER, "non-home": UserType.NON_HOME_USER}
USER_TYPE_HELP = "home: a member of the home (type 1); non-home: anyone else (type 2), what Wi-Fi locks take."


def user_type_option(func: Command) -> Command:
    def convert(ctx: click.Context, param: click.Parameter, value: str) -> UserType:
        return USER_TYPES[value.lower()]

    return click.option(
        "--user-type",
        type=click.Choice(list(USER_TYPES), case_sensitive=False),
        default="home",
        show_default=True,
        callback=convert,
        help=USER_TYPE_HELP,
    )(func)


def unlock_type_option(*, default: str | None, help: str) -> Callable[[Command], Command]:
    """``--type``: a known unlock type, in the spelling of its value (``fingerprint``, ``remoteControl`` ...)."""

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> UnlockType | None:
        return None if value is None else UnlockType(value)

    return click.option(
        "--type",
        "unlock_type",
        type=click.Choice([str(member.value) for member in UnlockType]),
        default=default,
        show_default=default is not None,
        callback=convert,
        help=help,
    )


def _apply(func: Command, options: list[Callable[[Command], Command]]) -> Command:
    for option in reversed(options):
        func = option(func)
    return func


def output_options(func: Command) -> Command:
    """``--json`` and ``--verbose``; the command receives ``out: Output`` instead."""

    @functools.wraps(func)
    def command(*args: Any, json_mode: bool, verbose: bool, **kwargs: Any) -> Any:
        if verbose:
            logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
            logging.getLogger("lockcloud").setLevel(logging.DEBUG)
        return func(*args, out=Output(json_mode=json_mode), verbose=verbose, **kwargs)

    return _apply(
        command,
        [
            click.option("--json", "json_mode", is_flag=True, help="Machine-readable output on stdout."),
            click.option("-v", "--verbose", is_flag=True, help="Log lockcloud's debug messages to stderr."),
        ],
    )


def connection_options(func: Command) -> Command:
    """Credentials, region, URLs and ``--sim``, each also read from its ``LOCKCLOUD_*`` variable; the command
    receives ``connection: Connection`` (and ``out`` from :func:`output_options`, applied here too)."""

    @functools.wraps(func)
    def command(
        *args: Any,
        access_id: str | None,
        access_secret: str | None,
        region: Region | None,
        base_url: str | None,
        pulsar_url: str | None,
        websocket_url: str | None,
        push_env: str,
        sim: bool,
        verbose: bool,
        **kwargs: Any,
    ) -> Any:
        connection = Connection(
            access_id=access_id or None,
            access_secret=access_secret or None,
            region=region or Region.EU,
            base_url=base_url or None,
            pulsar_url=pulsar_url or None,
            websocket_url=websocket_url or None,
            push_env=push_env,
            sim=sim,
            verbose=verbose,
        )
        return func(*args, connection=connection, **kwargs)

    return output_options(
        _apply(
            command,
            [
                click.option(
                    "--access-id", envvar=ENV_ACCESS_ID, show_envvar=True, help="Cloud project access id."
                ),
                click.option(
                    "--access-secret",
                    envvar=ENV_ACCESS_SECRET,
                    show_envvar=True,
                    help="Cloud project access secret (prefer the variable: flags show in `ps`).",
                ),
                click.option(
                    "--region",
                    type=click.Choice([region.name for region in Region], case_sensitive=False),
                    callback=_region,
                    envvar=ENV_REGION,
                    show_envvar=True,
                    help="Data centre of the cloud project (default: EU).",
                ),
                click.option(
                    "--base-url",
                    callback=checked_url("https", "http"),
                    envvar=ENV_BASE_URL,
                    show_envvar=True,
                    help="REST API URL overriding the region's.",
                ),
                click.option(
                    "--pulsar-url",
                    callback=checked_url("pulsar+ssl", "pulsar"),
                    envvar=ENV_PULSAR_URL,
                    show_envvar=True,
                    help="Push broker URL overriding the region's.",
                ),
                click.option(
                    "--websocket-url",
                    callback=checked_url("wss", "ws"),
                    envvar=ENV_WEBSOCKET_URL,
                    show_envvar=True,
                    help="Push URL over WebSocket (wss://host:8285/) overriding the region's.",
                ),
                click.option(
                    "--push-env",
                    type=click.Choice([PRODUCTION_ENV, TEST_ENV]),
                    default=PRODUCTION_ENV,
                    envvar=ENV_PUSH_ENV,
                    show_envvar=True,
                    help="Push topic ACCESS_ID/out/PUSH_ENV: event (real devices) or event-test (Tuya's test "
                    "channel); a stream on one never sees the other's messages.",
                ),
                click.option(
                    "--sim", is_flag=True, help="Run against an embedded simulator started for this command."
                ),
            ],
        )
    )


SUBSCRIPTION_HELP = (
    "Pulsar subscription (default: ACCESS_ID-sub). Tuya delivers each message to one consumer of a subscription, "
    "so two commands listening at once need different names where the broker allows it (a simulator does)."
)


def subscription_option(func: Command) -> Command:
    return click.option("--subscription", envvar=ENV_SUBSCRIPTION, show_envvar=True, help=SUBSCRIPTION_HELP)(
        func
    )
