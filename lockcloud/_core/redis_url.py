"""What the token store and the relay share about reaching Redis: the client from a URL, its printable address
(never the password), and the warning for a plain ``redis://`` to another host.

Needs the ``redis`` package (``lockcloud[redis]``); imported only by the modules that use Redis.
"""

from __future__ import annotations

import warnings
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from lockcloud._core.errors import InsecureTransportWarning, ValidationError
from lockcloud._core.network import is_local_host

__all__ = ["redis_address", "redis_client", "warn_if_plain_redis"]

# Hosts already warned about (once per host and process).
_warned_hosts: set[str] = set()


def warn_if_plain_redis(url: str, *, what: str, stacklevel: int = 3) -> None:
    """An :class:`~lockcloud.InsecureTransportWarning`, once per host, for ``redis://`` to a host off this machine:
    its password (``AUTH``) and everything it carries travel unencrypted."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return  # refused by the client below, with a ValidationError
    if parts.scheme != "redis" or not host or is_local_host(host) or host in _warned_hosts:
        return
    _warned_hosts.add(host)
    warnings.warn(
        f"{what} redis://{host}{'' if parts.port is None else f':{parts.port}'} is plain Redis to a host that is not "
        "this machine: its password and what it carries travel unencrypted; use rediss://",
        InsecureTransportWarning,
        stacklevel=stacklevel,
    )


def redis_client(url: str, *, what: str, connect_timeout: float, socket_timeout: float) -> aioredis.Redis:
    """A client for ``url`` (``redis://``, ``rediss://``, ``unix://``); :class:`~lockcloud.ValidationError` if it is
    not a Redis URL (the message never repeats the URL: it may hold a password)."""
    try:
        client = aioredis.Redis.from_url(
            url, socket_connect_timeout=connect_timeout, socket_timeout=socket_timeout
        )
    except ValueError as exc:
        raise ValidationError(f"not a Redis URL ({exc})") from None
    warn_if_plain_redis(url, what=what, stacklevel=4)
    return client


def redis_address(client: aioredis.Redis) -> str:
    """``host:port`` (or ``unix:<path>``) of the client's server, for messages."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
