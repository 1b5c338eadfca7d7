"""What the token store and the relay share about reaching Redis: the client from a URL (warning for a plain
scheme to another host), its printable address (never the password), and which failures mean "Redis is away".

One server: ``redis://``, ``rediss://`` (TLS), ``unix://``. Redis Cluster: ``redis+cluster://host:port,host:port/``
(``rediss+cluster://`` for TLS), any reachable node finds the rest. Behind Sentinel:
``redis+sentinel://host:port,host:port/<service name>/<db>`` (``rediss+sentinel://``), the sentinels name the
master of the service. Needs the ``redis`` package (``lockcloud[redis]``); imported only by the modules that use
Redis.
"""

from __future__ import annotations

from typing import Any, TypeAlias
from urllib.parse import parse_qsl, unquote

import attrs
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import ClusterError, RedisClusterException, RedisError, TryAgainError

from lockcloud._core.errors import ValidationError
from lockcloud._core.network import warn_if_plain

__all__ = [
    "OUTAGES",
    "REDIS_FAILURES",
    "RedisClient",
    "RedisTarget",
    "check_redis_url",
    "parse_redis_url",
    "redis_address",
    "redis_client",
]

#: What a store or relay talks to: one server (possibly found through Sentinel) or a cluster.
RedisClient: TypeAlias = aioredis.Redis | RedisCluster

#: Everything a Redis call can raise when the server did not do it. ``RedisClusterException`` (no reachable node,
#: a slot no node serves) is not a ``RedisError``.
REDIS_FAILURES: tuple[type[BaseException], ...] = (RedisError, RedisClusterException, OSError)
#: Errors that say the cluster cannot serve right now (``CLUSTERDOWN``, ``TRYAGAIN``, a slot moving), although some
#: of them are, to redis-py, answers: an outage, never a refusal.
OUTAGES: tuple[type[BaseException], ...] = (ClusterError, TryAgainError, RedisClusterException)

_CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}
_SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}
_DEFAULT_PORTS = {"cluster": 6379, "sentinel": 26379}
_TLS_FILES = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
_SENTINEL_CREDENTIALS = ("sentinel_username", "sentinel_password")


@attrs.frozen
class RedisTarget:
    """A parsed ``redis+cluster://`` or ``redis+sentinel://`` URL (``repr`` never shows a password)."""

    kind: str  # "cluster" or "sentinel"
    tls: bool
    hosts: tuple[tuple[str, int], ...]
    username: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)
    service: str | None = None
    db: int = 0
    tls_files: dict[str, str] = attrs.field(factory=dict)
    sentinel_username: str | None = attrs.field(default=None, repr=False)
    sentinel_password: str | None = attrs.field(default=None, repr=False)

    @property
    def scheme(self) -> str:
        return f"redis{'s' if self.tls else ''}+{self.kind}"

    @property
    def address(self) -> str:
        """``cluster host:port,...`` or ``sentinel <service> at host:port,...``, for messages."""
        nodes = ",".join(_host_port(host, port) for host, port in self.hosts)
        if self.kind == "cluster":
            return f"cluster {nodes}"
        return f"sentinel {self.service} at {nodes}"


def parse_redis_url(url: str, *, option: str) -> RedisTarget | None:
    """The cluster or Sentinel target ``url`` names (``None`` for any other scheme, which redis-py reads);
    :class:`~lockcloud.ValidationError` naming ``option`` if it is malformed (never repeating the URL)."""
    if not isinstance(url, str):
        raise ValidationError(f"{option} must be a Redis URL string, not {type(url).__name__}")
    scheme, found, rest = url.partition("://")
    scheme = scheme.lower()
    if not found or (scheme not in _CLUSTER_SCHEMES and scheme not in _SENTINEL_SCHEMES):
        return None
    kind = "cluster" if scheme in _CLUSTER_SCHEMES else "sentinel"
    tls = _CLUSTER_SCHEMES.get(scheme, False) or _SENTINEL_SCHEMES.get(scheme, False)

    def bad(problem: str) -> ValidationError:
        return ValidationError(f"{option}: {scheme}:// {problem}")

    if "#" in rest:
        raise bad("URLs take no #fragment")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
        if not colon:
            # One word before the @ is the password (AUTH <password>, the default user).
            username, password = None, unquote(user) or None
    if not hostlist:
        raise bad("needs at least one host:port (several, comma-separated, so any one can be down)")
    hosts = tuple(_parse_host(item, _DEFAULT_PORTS[kind], bad) for item in hostlist.split(","))
    service = None
    db = 0
    segments = [unquote(part) for part in path.split("/")] if slash else []
    if segments and segments[-1] == "":
        segments.pop()  # a trailing slash
    if kind == "cluster":
        if segments and segments != ["0"]:
            raise bad("has only database 0: end the URL with / or /0")
    else:
        if not segments or not segments[0]:
            raise bad(
                "needs the service name the sentinels monitor: redis+sentinel://host:port/<service name>/0"
            )
        service = segments[0]
        if not service.isprintable() or " " in service:
            raise bad("service name must be printable, without spaces")
        if len(segments) > 2:
            raise bad("path is /<service name>/<db>: there is more")
        if len(segments) == 2:
            db = _parse_number(segments[1], "database", 0, 1 << 31, bad)
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        known = _TLS_FILES if tls else ()
        if kind == "sentinel":
            known = (*known, *_SENTINEL_CREDENTIALS)
        if name not in known:
            hint = ", ".join(known) if known else "none"
            raise bad(f"does not take the query parameter {name[:40]!r} (it takes: {hint})")
        if name in options:
            raise bad(f"gives {name!r} twice")
        if not value:
            raise bad(f"gives {name!r} without a value")
        options[name] = value
    return RedisTarget(
        kind=kind,
        tls=tls,
        hosts=hosts,
        username=username,
        password=password,
        service=service,
        db=db,
        tls_files={name: options[name] for name in _TLS_FILES if name in options},
        sentinel_username=options.get("sentinel_username"),
        sentinel_password=options.get("sentinel_password"),
    )


def check_redis_url(url: str, *, option: str) -> None:
    """:class:`~lockcloud.ValidationError` naming ``option`` unless ``url`` is a Redis URL of a form this library
    reads; nothing connects."""
    if parse_redis_url(url, option=option) is None:
        try:
            parse_url(url)
        except ValueError as exc:
            raise _not_redis(option, exc) from None


def redis_client(
    url: str, *, what: str, option: str, connect_timeout: float, socket_timeout: float
) -> RedisClient:
    """A client for ``url`` (see the module's docstring for the forms); :class:`~lockcloud.ValidationError` naming
    ``option`` if it is not a Redis URL (the message never repeats the URL: it may hold a password). Nothing
    connects until the first command."""
    target = parse_redis_url(url, option=option)
    timeouts: dict[str, Any] = {"socket_connect_timeout": connect_timeout, "socket_timeout": socket_timeout}
    if target is None:
        try:
            client: RedisClient = aioredis.Redis.from_url(url, **timeouts)
        except ValueError as exc:
            raise _not_redis(option, exc) from None
        # redis:// to another host: the password (AUTH) and everything carried travel in clear.
        warn_if_plain(url, what=what, stacklevel=4)
        return client
    if not target.tls:
        for host, port in target.hosts:
            warn_if_plain(f"{target.scheme}://{_host_port(host, port)}", what=what, stacklevel=4)
    tls: dict[str, Any] = {}
    if target.tls:
        # Verified against the system's CAs (or ssl_ca_certs), host names checked: as rediss:// does.
        tls = {"ssl": True, "ssl_cert_reqs": "required", "ssl_check_hostname": True, **target.tls_files}
    credentials: dict[str, Any] = {"username": target.username, "password": target.password}
    if target.kind == "cluster":
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
            **credentials,
            **timeouts,
            **tls,
        )
    sentinel_credentials: dict[str, Any] = {
        "username": target.sentinel_username,
        "password": target.sentinel_password,
    }
    sentinel = Sentinel(
        list(target.hosts),
        sentinel_kwargs={**timeouts, **tls, **sentinel_credentials},
        **credentials,
        **timeouts,
        **tls,
        db=target.db,
    )
    assert target.service is not None
    master: _SentinelMaster = sentinel.master_for(target.service, redis_class=_SentinelMaster)
    master.discovery = sentinel
    return master


def redis_address(client: RedisClient) -> str:
    """``host:port`` (or ``unix:<path>``, ``cluster host:port,...``, ``sentinel <service> at host:port,...``) of
    the client's server, for messages."""
    if isinstance(client, RedisCluster):
        return "cluster " + ",".join(client.nodes_manager.startup_nodes)
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        sentinels = ",".join(_client_host(sentinel) for sentinel in pool.sentinel_manager.sentinels)
        return f"sentinel {pool.service_name} at {sentinels}"
    return _client_host(client)


def _not_redis(option: str, exc: ValueError) -> ValidationError:
    if "scheme" in str(exc):
        return ValidationError(
            f"{option}: not a Redis URL (use redis://, rediss://, unix://, redis+cluster://, rediss+cluster://, "
            "redis+sentinel:// or rediss+sentinel://)"
        )
    return ValidationError(f"{option}: not a Redis URL ({exc})")


class _SentinelMaster(aioredis.Redis):
    """The master of a Sentinel service, closing its connections to the sentinels with its own."""

    discovery: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        discovery, self.discovery = self.discovery, None
        if discovery is not None:
            for client in discovery.sentinels:
                await client.aclose()


def _client_host(client: aioredis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return _host_port(str(kwargs.get("host", "localhost")), int(kwargs.get("port", 6379)))


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _parse_host(item: str, default_port: int, bad: Any) -> tuple[str, int]:
    item = item.strip()
    if item.startswith("["):
        host, bracket, tail = item[1:].partition("]")
        if not bracket or not host:
            raise bad("has an IPv6 host without its closing ]")
        if tail and not tail.startswith(":"):
            raise bad("has text after an IPv6 host's ]")
        port_text = tail[1:] if tail else None
    else:
        host, colon, port_text_found = item.rpartition(":")
        if not colon:
            host, port_text = item, None
        else:
            port_text = port_text_found
    if not host:
        if item:
            raise bad("has a port without its host")
        raise bad("has an empty host in its list (host:port,host:port)")
    if not host.isprintable() or any(char.isspace() or char in "/@?#[]" for char in host):
        raise bad("has a malformed host")
    port = default_port if port_text is None else _parse_number(port_text, "port", 1, 65535, bad)
    return host.lower(), port


def _parse_number(text: str, what: str, low: int, high: int, bad: Any) -> int:
    # Only ASCII digits: int() would take " 7", "+7", other scripts' digits or "1_0", and float() "nan".
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not low <= int(text) <= high:
        raise bad(f"{what} must be a whole number from {low} to {high}")
    return int(text)
