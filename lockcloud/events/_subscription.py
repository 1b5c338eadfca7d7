"""What both push sources are told: where the project's topic is, which subscription reads it, and how.

:class:`SubscriptionOptions` holds the options the native Pulsar source and the WebSocket source share, each with
its default and its check; :class:`~lockcloud.events.PulsarOptions` and :class:`~lockcloud.events.WebSocketOptions`
add only their own. :class:`SubscriptionSettings` names the same options as keywords of ``LockCloud.events()``.

The flat keyword of an option is the name of its field, except for an option of pulsar-client itself (its log),
whose keyword is ``pulsar_<field>`` (:func:`keyword`): ``LockCloud.events()`` reads it only over the native
transport, and ignores it over WebSocket, where pulsar-client is not used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Literal, TypedDict, get_args

import attrs

from lockcloud._core import validation
from lockcloud._core.errors import ValidationError
from lockcloud._core.wire import subscription_for, topic_for

__all__ = [
    "INITIAL_POSITIONS",
    "PULSAR_CLIENT",
    "SUBSCRIPTION_TYPES",
    "InitialPosition",
    "SubscriptionOptions",
    "SubscriptionSettings",
    "SubscriptionType",
    "keyword",
    "keywords",
    "one_of",
    "optional_text",
    "pulsar_client_keywords",
]

SubscriptionType = Literal["failover", "exclusive", "shared", "key_shared"]
InitialPosition = Literal["latest", "earliest"]
SUBSCRIPTION_TYPES: tuple[str, ...] = get_args(SubscriptionType)
INITIAL_POSITIONS: tuple[str, ...] = get_args(InitialPosition)

_PULSAR_CLIENT_KEY = "lockcloud.pulsar_client"
#: The attrs metadata of a field that configures pulsar-client itself: its keyword is ``pulsar_<name>``.
PULSAR_CLIENT: Mapping[str, object] = MappingProxyType({_PULSAR_CLIENT_KEY: True})
# Given to the options class, never a keyword of LockCloud.events(): the client's own credentials.
_CREDENTIALS = frozenset({"access_id", "access_secret"})


class SubscriptionSettings(TypedDict, total=False):
    """The keywords of ``LockCloud.events()`` both transports take (see :class:`SubscriptionOptions` for each)."""

    url: str
    env: str
    subscription: str | None
    subscription_type: SubscriptionType
    initial_position: InitialPosition
    consumer_name: str | None
    receiver_queue_size: int
    verify: bool | str
    connect_timeout: float


def one_of(choices: tuple[str, ...]) -> Callable[[Any, attrs.Attribute[Any], object], None]:
    """An attrs validator: the value is one of ``choices``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, str) or value not in choices:
            raise ValidationError(f"{attribute.name} must be one of {', '.join(choices)}, not {value!r}")

    return check


def _required(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{attribute.name} is required")


def optional_text(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """An attrs validator: a string, or None."""
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{attribute.name} must be a string or None, got {type(value).__name__}")


def _env(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    validation.path_part(value, attribute.name)  # the topic's last part: {access_id}/out/{env}


def _verify(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    # Anything else (a Path, an SSLContext) would be taken as "verify with certifi's bundle" further down.
    if not isinstance(value, bool) and not (isinstance(value, str) and value):
        raise ValidationError(
            f"{attribute.name} must be True, False or the path of a CA bundle, got {type(value).__name__}"
        )


def _url(instance: SubscriptionOptions, attribute: attrs.Attribute[Any], value: object) -> None:
    instance._check_url(value)


def keyword(field: attrs.Attribute[Any]) -> str:
    """The keyword of ``LockCloud.events()`` that sets ``field``."""
    return f"pulsar_{field.name}" if _configures_pulsar_client(field) else field.name


def keywords(options: type[SubscriptionOptions]) -> dict[str, str]:
    """The keywords of ``LockCloud.events()`` that set ``options``' fields, each to its field's name."""
    return {keyword(field): field.name for field in attrs.fields(options) if field.name not in _CREDENTIALS}


def pulsar_client_keywords(options: type[SubscriptionOptions]) -> frozenset[str]:
    """The keywords of ``options`` that configure pulsar-client itself (see the module docstring)."""
    return frozenset(keyword(field) for field in attrs.fields(options) if _configures_pulsar_client(field))


def _configures_pulsar_client(field: attrs.Attribute[Any]) -> bool:
    return bool(field.metadata.get(_PULSAR_CLIENT_KEY))


@attrs.frozen(kw_only=True)
class SubscriptionOptions:
    """What :class:`~lockcloud.events.PulsarOptions` and :class:`~lockcloud.events.WebSocketOptions` share.

    The topic is ``{access_id}/out/{env}`` and the subscription ``{access_id}-sub`` (Failover) unless given.
    ``initial_position`` only matters when the subscription is first created. ``receiver_queue_size`` is the
    service's prefetch (and, over WebSocket, the most messages waiting in this process). ``verify`` is TLS
    certificate verification for ``pulsar+ssl://`` and ``wss://``: True (certifi's CA bundle), a CA bundle path,
    or False to switch it off explicitly. ``connect_timeout`` bounds opening: a refused connection, a TLS or
    authentication failure, or a subscription nobody answers each raise :class:`~lockcloud.SubscribeError`
    within it. Counts are whole numbers and durations finite seconds above zero; anything else raises
    :class:`~lockcloud.ValidationError` naming the option. Make one of the two subclasses, not this class.
    """

    url: str = attrs.field(validator=_url)
    access_id: str = attrs.field(validator=_required)
    access_secret: str = attrs.field(repr=False, validator=_required)
    env: str = attrs.field(default="event", validator=_env)
    subscription: str | None = attrs.field(default=None, validator=optional_text)
    subscription_type: SubscriptionType = attrs.field(
        default="failover", validator=one_of(SUBSCRIPTION_TYPES)
    )
    initial_position: InitialPosition = attrs.field(default="latest", validator=one_of(INITIAL_POSITIONS))
    consumer_name: str | None = attrs.field(default=None, validator=optional_text)
    receiver_queue_size: int = attrs.field(default=1000, validator=validation.positive_count)
    verify: bool | str = attrs.field(default=True, validator=_verify)
    connect_timeout: float = attrs.field(default=10.0, validator=validation.positive_timeout)

    def _check_url(self, value: object) -> None:
        """Refuse a ``url`` the transport cannot use (each subclass knows its schemes)."""
        raise TypeError(
            f"{type(self).__name__} is the base of PulsarOptions and WebSocketOptions: make one of those"
        )

    @property
    def topic(self) -> str:
        return topic_for(self.access_id, self.env)

    @property
    def subscription_name(self) -> str:
        return self.subscription or subscription_for(self.access_id)
