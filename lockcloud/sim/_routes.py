"""The simulator's URL map: every endpoint of PROTOCOL.md §1, the two token calls, keyed by method and path."""

from __future__ import annotations

import re

import attrs

__all__ = ["ROUTES", "Route", "find_routes"]

_PARAM = re.compile(r"\{(\w+)\}")


@attrs.frozen
class Route:
    """``method`` + ``template`` (``{name}`` matches one path segment) served by the action ``action``."""

    method: str
    template: str
    action: str
    pattern: re.Pattern[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        parts = _PARAM.split(self.template)
        regex = "".join(
            f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
        )
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))


_V10 = "/v1.0/devices/{device_id}/door-lock"
_SMART = "/v1.0/smart-lock/devices/{device_id}"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/v1.0/token", "token"),
    Route("GET", "/v1.0/token/{refresh_token}", "refresh_token"),
    # Unlocking methods
    Route("GET", _V10 + "/user-types/{user_type}/users/{user_id}/assigned-keys", "list_assigned_keys"),
    Route("GET", _V10 + "/unassigned-keys", "list_unassigned_keys"),
    Route("POST", _SMART + "/opmodes/actions/sync", "sync_keys"),
    Route("PUT", _V10 + "/actions/entry", "enroll"),
    Route(
        "DELETE",
        _V10 + "/user-types/{user_type}/users/{user_id}/unlock-types/{unlock_type}/keys/{unlock_no}",
        "delete_key",
    ),
    Route("PUT", _V10 + "/unlock-types/{unlock_type}/actions/cancel", "cancel_enrollment"),
    Route("PUT", _V10 + "/opmodes/{unlock_sn}", "rename_key"),
    Route("PUT", _V10 + "/unlock-types/{unlock_type}/keys/{unlock_no}/hijack", "set_duress_alarm"),
    Route("DELETE", _SMART + "/unlock-types/{unlock_type}/keys/{unlock_sn}/hijack", "remove_duress_alarm"),
    Route("POST", _SMART + "/opmodes/{opmode_id}/attribute/{attribute}/opmode-attr", "set_special_attribute"),
    # Remote unlock
    Route("GET", _V10 + "/remote-unlocks", "list_remote_unlocks"),
    Route("POST", _V10 + "/remote-unlock/config", "set_remote_unlock"),
    Route("POST", _V10 + "/open-door", "open_door"),
    Route("POST", _V10 + "/password-free/open-door", "open_door_password_free"),
    Route("POST", "/v1.1/devices/{device_id}/door-lock/password-free/open-door", "open_door_channel"),
    Route("PUT", _V10 + "/password-free/open-door/cancel", "revoke_remote_unlock"),
    Route("POST", _SMART + "/password-free/door-operate", "door_operate"),
    Route("POST", _SMART + "/password-ticket", "password_ticket"),
    # The same ticket at the door-lock path (seen in a peer SDK; the v1.1 document points there).
    Route("POST", _V10 + "/password-ticket", "password_ticket"),
    Route("GET", _V10 + "/latest/media/url", "latest_media"),
    Route("GET", _SMART + "/albums-media", "albums"),
)


def find_routes(path: str) -> list[tuple[Route, dict[str, str]]]:
    """Every route whose template matches ``path`` (whatever its method), with the path parameters."""
    found = []
    for route in ROUTES:
        match = route.pattern.match(path)
        if match is not None:
            found.append((route, match.groupdict()))
    return found
