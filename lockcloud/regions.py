"""Tuya data centres: the OpenAPI base URL and the push URLs (native Pulsar and WebSocket) of each."""

from __future__ import annotations

import enum

__all__ = ["Region"]


class Region(enum.Enum):
    """A Tuya data centre. ``base_url`` serves the REST API, ``pulsar_url`` the push message service over Pulsar's
    own protocol and ``websocket_url`` the same messages over Pulsar's WebSocket API (port 8285)."""

    CN = ("https://openapi.tuyacn.com", "pulsar+ssl://mqe.tuyacn.com:7285/", "wss://mqe.tuyacn.com:8285/")
    US = ("https://openapi.tuyaus.com", "pulsar+ssl://mqe.tuyaus.com:7285/", "wss://mqe.tuyaus.com:8285/")
    US_EAST = (
        "https://openapi-ueaz.tuyaus.com",
        "pulsar+ssl://mqe.tuyaus.com:7285/",
        "wss://mqe.tuyaus.com:8285/",
    )
    EU = ("https://openapi.tuyaeu.com", "pulsar+ssl://mqe.tuyaeu.com:7285/", "wss://mqe.tuyaeu.com:8285/")
    EU_WEST = (
        "https://openapi-weaz.tuyaeu.com",
        "pulsar+ssl://mqe.tuyaeu.com:7285/",
        "wss://mqe.tuyaeu.com:8285/",
    )
    IN = ("https://openapi.tuyain.com", "pulsar+ssl://mqe.tuyain.com:7285/", "wss://mqe.tuyain.com:8285/")

    def __init__(self, base_url: str, pulsar_url: str, websocket_url: str) -> None:
        self.base_url = base_url
        self.pulsar_url = pulsar_url
        self.websocket_url = websocket_url

    @classmethod
    def from_name(cls, name: str) -> Region:
        """``"eu"``, ``"EU-West"``, ``"us_east"`` ... to a region; raises ValidationError for anything else."""
        key = name.strip().upper().replace("-", "_")
        try:
            return cls[key]
        except KeyError:
            from lockcloud._core.errors import ValidationError

            known = ", ".join(r.name for r in cls)
            raise ValidationError(f"unknown region {name!r}; expected one of {known}") from None
