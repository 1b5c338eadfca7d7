"""What the token store and the relay share about reaching Redis: the client from a URL (warning for a plain
``redis://`` to another host) and its printable address (never the password).

Needs the ``redis`` package (``lockcloud[redis]``); imported only by the modules that use Redis.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from lockcloud._core.errors import ValidationError
from lockcloud._core.network import warn_if_plain

__all__ = ["redis_address", "redis_client"]


def redis_client(url: str, *, what: str, connect_timeout: float, socket_timeout: float) -> aioredis.Redis:
    """A client for ``url`` (``redis://``, ``rediss://``, ``unix://``); :class:`~lockcloud.ValidationError` if it is
    not a Redis URL (the message never repeats the URL: it may hold a password)."""
    try:
        client = aioredis.Redis.from_url(
            url, socket_connect_timeout=connect_timeout, socket_timeout=socket_timeout
        )
    except ValueError as exc:
        raise ValidationError(f"not a Redis URL ({exc})") from None
    # redis:// to another host: the password (AUTH) and everything carried travel in clear.
    warn_if_plain(url, what=what, stacklevel=4)
    return client


def redis_address(client: aioredis.Redis) -> str:
    """``host:port`` (or ``unix:<path>``) of the client's server, for messages."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
