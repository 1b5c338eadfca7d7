"""The one rule for "this machine", and the warning for a plain (unencrypted) scheme to any other host."""

from __future__ import annotations

import ipaddress
import warnings
from urllib.parse import urlsplit

from lockcloud._core.errors import InsecureTransportWarning, PlaintextPulsarWarning

__all__ = ["PULSAR_PORTS", "is_local_host", "pulsar_address", "warn_if_plain"]

# Each plain scheme: its encrypted counterpart, what it would carry in clear, and the warning it draws.
_PLAIN_SCHEMES: dict[str, tuple[str, str, type[InsecureTransportWarning]]] = {
    "http": ("https", "the access id, signatures and access tokens", InsecureTransportWarning),
    "ws": ("wss", "the access id, the Pulsar password and every message", InsecureTransportWarning),
    "pulsar": ("pulsar+ssl", "the Pulsar password and every message", PlaintextPulsarWarning),
    "redis": ("rediss", "the Redis password and what is stored there", InsecureTransportWarning),
    "redis+cluster": (
        "rediss+cluster",
        "the Redis password and what is stored there",
        InsecureTransportWarning,
    ),
    "redis+sentinel": (
        "rediss+sentinel",
        "the Redis password and what is stored there",
        InsecureTransportWarning,
    ),
}
# (scheme, host) pairs already warned about (once per process).
_warned: set[tuple[str, str]] = set()
# RFC 6761 names that never leave the machine through DNS.
_SPECIAL_USE_SUFFIXES = (".localhost", ".test", ".invalid", ".example")

#: The port of each Pulsar scheme, where a URL names none.
PULSAR_PORTS = {"pulsar": 6650, "pulsar+ssl": 6651}


def is_local_host(host: str) -> bool:
    """True for loopback addresses, ``localhost`` and the special-use names that never reach DNS."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(_SPECIAL_USE_SUFFIXES):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def pulsar_address(url: str) -> tuple[str, int]:
    """The host and port a ``pulsar://`` or ``pulsar+ssl://`` URL connects to (6650 or 6651 when it names none).

    ``url`` was validated before; a port that is not a number raises :class:`ValueError`."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or PULSAR_PORTS.get(parts.scheme, PULSAR_PORTS["pulsar"])


def warn_if_plain(url: str, *, what: str, stacklevel: int = 3) -> None:
    """An :class:`InsecureTransportWarning`, once per scheme and host, for a plain scheme to a host off this
    machine (``http://``, ``ws://``, ``pulsar://``, ``redis://``, ``redis+cluster://``, ``redis+sentinel://``); secure schemes and loopback pass silently."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return  # not a URL: its validation says so
    plain = _PLAIN_SCHEMES.get(parts.scheme)
    if plain is None or is_local_host(host) or (parts.scheme, host) in _warned:
        return
    _warned.add((parts.scheme, host))
    secure, exposed, category = plain
    warnings.warn(
        f"{what} {parts.scheme}://{host} is plain {parts.scheme}:// to a host that is not this machine: "
        f"{exposed} travel in clear; use {secure}://",
        category,
        stacklevel=stacklevel,
    )
