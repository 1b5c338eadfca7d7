"""The one rule for "this machine": which hosts a plain (unencrypted) scheme may reach without a warning."""

from __future__ import annotations

import ipaddress
import warnings
from urllib.parse import urlsplit

from lockcloud._core.errors import InsecureTransportWarning

__all__ = ["is_local_host", "warn_if_plain"]

# Hosts already warned about for plain http:// (once per host and process).
_warned_plain_hosts: set[str] = set()
# RFC 6761 names that never leave the machine through DNS.
_SPECIAL_USE_SUFFIXES = (".localhost", ".test", ".invalid", ".example")


def is_local_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(_SPECIAL_USE_SUFFIXES):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_if_plain(url: str, *, what: str, stacklevel: int = 3) -> None:
    """An :class:`InsecureTransportWarning`, once per host, for plain ``http://`` to a host off this machine."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http" or is_local_host(host) or host in _warned_plain_hosts:
        return
    _warned_plain_hosts.add(host)
    warnings.warn(
        f"{what} {parts.scheme}://{parts.netloc} is plain HTTP to a host that is not this machine: the access id, "
        "signatures and access tokens travel unencrypted; use https://",
        InsecureTransportWarning,
        stacklevel=stacklevel,
    )
