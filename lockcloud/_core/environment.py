"""The ``LOCKCLOUD_*`` environment variables: what ``LockCloud.from_env()`` and the command line read, named once."""

from __future__ import annotations

__all__ = [
    "ENV_ACCESS_ID",
    "ENV_ACCESS_SECRET",
    "ENV_BASE_URL",
    "ENV_PULSAR_URL",
    "ENV_PUSH_ENV",
    "ENV_PUSH_TRANSPORT",
    "ENV_REGION",
    "ENV_SUBSCRIPTION",
    "ENV_WEBSOCKET_URL",
]

ENV_ACCESS_ID = "LOCKCLOUD_ACCESS_ID"
ENV_ACCESS_SECRET = "LOCKCLOUD_ACCESS_SECRET"
ENV_REGION = "LOCKCLOUD_REGION"
ENV_BASE_URL = "LOCKCLOUD_BASE_URL"
ENV_PULSAR_URL = "LOCKCLOUD_PULSAR_URL"
ENV_WEBSOCKET_URL = "LOCKCLOUD_WEBSOCKET_URL"
#: ``pulsar`` or ``websocket``: the transport of push streams opened without one.
ENV_PUSH_TRANSPORT = "LOCKCLOUD_PUSH_TRANSPORT"
#: ``event`` (production) or ``event-test`` (Tuya's test channel).
ENV_PUSH_ENV = "LOCKCLOUD_PUSH_ENV"
#: The command line's ``--subscription``.
ENV_SUBSCRIPTION = "LOCKCLOUD_SUBSCRIPTION"
