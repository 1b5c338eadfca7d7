"""Snapshots for the simulated cameras: small real PNG images, drawn without any imaging library.

A lock's camera "captures" one of these when something happens at the door. The picture is a door in a wall, its
colour picked by the album event type, so a user opening a decrypted file sees a genuine image.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["PNG_SIGNATURE", "render_snapshot"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# One wall colour per family of events: alerts red, failed attempts orange, unlocks green, remote/doorbell blue.
_ALERTS = frozenset({0, 19, 21, 22, 24, 25})
_FAILED_ATTEMPTS = frozenset({2, 3, 4, 5, 6, 7})
_REMOTE = frozenset({1, 16, 18, 23})

_WALL_COLOURS = {
    "alert": (190, 60, 50),
    "failed": (215, 140, 45),
    "remote": (60, 110, 190),
    "unlock": (70, 150, 90),
}
_DOOR = (110, 75, 45)
_HANDLE = (235, 200, 80)
_FLOOR = (90, 90, 90)


def _wall_colour(event_type: int) -> tuple[int, int, int]:
    if event_type in _ALERTS:
        return _WALL_COLOURS["alert"]
    if event_type in _FAILED_ATTEMPTS:
        return _WALL_COLOURS["failed"]
    if event_type in _REMOTE:
        return _WALL_COLOURS["remote"]
    return _WALL_COLOURS["unlock"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def render_snapshot(event_type: int, *, width: int = 96, height: int = 64) -> bytes:
    """A ``width`` x ``height`` RGB PNG of a door; the wall's colour says which kind of event it shows."""
    wall = _wall_colour(event_type)
    door_left, door_right = width * 3 // 8, width * 5 // 8
    door_top, floor_top = height // 6, height * 7 // 8
    handle_x, handle_y = door_right - max(2, width // 24), (door_top + floor_top) // 2
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type "none" for each scanline
        for x in range(width):
            if y >= floor_top:
                colour = _FLOOR
            elif door_left <= x < door_right and y >= door_top:
                near_handle = abs(x - handle_x) <= 1 and abs(y - handle_y) <= 1
                colour = _HANDLE if near_handle else _DOOR
            else:
                colour = wall
            rows.extend(colour)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )
