"""Tuya's wire vocabulary, named once for the client and the simulator: endpoints, headers, topics, codes.

Everything here is a value that travels on the wire exactly as written. The client builds requests and reads push
messages with these names; :mod:`lockcloud.sim` serves and produces them with the same ones, so the two cannot
drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

__all__ = [
    "ACCESS_CODE_ENDPOINTS",
    "ACCESS_TOKEN_HEADER",
    "CLIENT_ID_HEADER",
    "DEVICE_EVENT_PROTOCOL",
    "ENCRYPTION_PROPERTY",
    "ENDPOINTS",
    "ENROLLMENT_BIZ_CODE",
    "ENVELOPE_VERSION",
    "ERROR_MESSAGES",
    "HISTORY_ENDPOINTS",
    "NONCE_HEADER",
    "PRODUCTION_ENV",
    "SIGNATURE_HEADERS_HEADER",
    "SIGN_HEADER",
    "SIGN_METHOD",
    "SIGN_METHOD_HEADER",
    "STATUS_REPORT_PROTOCOL",
    "TEST_ENV",
    "TIME_HEADER",
    "TOKEN_PATH",
    "Endpoint",
    "MessageEncryption",
    "subscription_for",
    "topic_for",
    "topic_partition",
]

# -- REST -------------------------------------------------------------------------------------------------------

#: Grant (``GET /v1.0/token?grant_type=1``) and, below it, refresh (``GET /v1.0/token/{refresh_token}``).
TOKEN_PATH = "/v1.0/token"

CLIENT_ID_HEADER = "client_id"
SIGN_HEADER = "sign"
#: Request time, 13-digit epoch milliseconds.
TIME_HEADER = "t"
SIGN_METHOD_HEADER = "sign_method"
ACCESS_TOKEN_HEADER = "access_token"
NONCE_HEADER = "nonce"
#: Colon-separated names of the headers that are part of the string to sign.
SIGNATURE_HEADERS_HEADER = "Signature-Headers"
SIGN_METHOD = "HMAC-SHA256"


@attrs.frozen
class Endpoint:
    """One API: ``method`` + ``template`` (``{name}`` stands for one path segment), known as ``action``."""

    action: str
    method: str
    template: str


_V10 = "/v1.0/devices/{device_id}/door-lock"
_SMART = "/v1.0/smart-lock/devices/{device_id}"

#: The two token calls and the 20 lock endpoints (one of them served at two paths).
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("token", "GET", TOKEN_PATH),
    Endpoint("refresh_token", "GET", TOKEN_PATH + "/{refresh_token}"),
    # Unlocking methods
    Endpoint("list_assigned_keys", "GET", _V10 + "/user-types/{user_type}/users/{user_id}/assigned-keys"),
    Endpoint("list_unassigned_keys", "GET", _V10 + "/unassigned-keys"),
    Endpoint("sync_keys", "POST", _SMART + "/opmodes/actions/sync"),
    Endpoint("enroll", "PUT", _V10 + "/actions/entry"),
    Endpoint(
        "delete_key",
        "DELETE",
        _V10 + "/user-types/{user_type}/users/{user_id}/unlock-types/{unlock_type}/keys/{unlock_no}",
    ),
    Endpoint("cancel_enrollment", "PUT", _V10 + "/unlock-types/{unlock_type}/actions/cancel"),
    Endpoint("rename_key", "PUT", _V10 + "/opmodes/{unlock_sn}"),
    Endpoint("set_duress_alarm", "PUT", _V10 + "/unlock-types/{unlock_type}/keys/{unlock_no}/hijack"),
    Endpoint("remove_duress_alarm", "DELETE", _SMART + "/unlock-types/{unlock_type}/keys/{unlock_sn}/hijack"),
    Endpoint(
        "set_special_attribute", "POST", _SMART + "/opmodes/{opmode_id}/attribute/{attribute}/opmode-attr"
    ),
    # Remote unlock
    Endpoint("list_remote_unlocks", "GET", _V10 + "/remote-unlocks"),
    Endpoint("set_remote_unlock", "POST", _V10 + "/remote-unlock/config"),
    Endpoint("open_door", "POST", _V10 + "/open-door"),
    Endpoint("open_door_password_free", "POST", _V10 + "/password-free/open-door"),
    Endpoint("open_door_channel", "POST", "/v1.1/devices/{device_id}/door-lock/password-free/open-door"),
    Endpoint("revoke_remote_unlock", "PUT", _V10 + "/password-free/open-door/cancel"),
    Endpoint("door_operate", "POST", _SMART + "/password-free/door-operate"),
    Endpoint("password_ticket", "POST", _SMART + "/password-ticket"),
    # The same ticket at the door-lock path (seen in a peer SDK; the v1.1 document points there).
    Endpoint("password_ticket", "POST", _V10 + "/password-ticket"),
    Endpoint("latest_media", "GET", _V10 + "/latest/media/url"),
    Endpoint("albums", "GET", _SMART + "/albums-media"),
)

#: Guest access codes: online temporary codes, offline codes and the dynamic code (``cloud.access_codes``).
ACCESS_CODE_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("create_temp_password", "POST", _V10 + "/temp-password"),
    Endpoint("create_unnamed_temp_password", "POST", "/v2.0/devices/{device_id}/door-lock/temp-password"),
    Endpoint("list_temp_passwords", "GET", _V10 + "/temp-passwords"),
    Endpoint("get_temp_password", "GET", _V10 + "/temp-password/{password_id}"),
    Endpoint("modify_temp_password", "PUT", _V10 + "/temp-passwords/{password_id}/modify-password"),
    Endpoint("freeze_temp_password", "PUT", _V10 + "/temp-passwords/{password_id}/freeze-password"),
    Endpoint("unfreeze_temp_password", "PUT", _V10 + "/temp-passwords/{password_id}/unfreeze-password"),
    Endpoint("delete_temp_password", "DELETE", _V10 + "/temp-passwords/{password_id}"),
    Endpoint("clear_temp_passwords", "POST", _V10 + "/temp-passwords/rest-password"),
    # The same call as the page's sample spells it.
    Endpoint("clear_temp_passwords", "POST", _V10 + "/temp-passwords/reset-password"),
    Endpoint("sync_temp_passwords", "POST", _V10 + "/issue-password"),
    Endpoint("offline_password", "POST", "/v1.1/devices/{device_id}/door-lock/offline-temp-password"),
    Endpoint("dynamic_password", "GET", _V10 + "/dynamic-password"),
)

#: History, members and status: lock APIs beyond the two documents above (Tuya's smart lock API pages).
HISTORY_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("history_records", "GET", _V10 + "/records"),
    Endpoint("open_logs", "GET", _V10 + "/open-logs"),
    Endpoint("alarm_logs", "GET", _V10 + "/alarm-logs"),
    Endpoint("list_members", "GET", _SMART + "/users"),
    Endpoint("add_member", "POST", "/v1.0/devices/{device_id}/user"),
    Endpoint("edit_member", "PUT", "/v1.0/devices/{device_id}/users/{user_id}"),
    Endpoint("allocate_key", "POST", "/v1.0/devices/{device_id}/device-lock/users/{user_id}/allocate"),
    Endpoint("shadow_properties", "GET", "/v2.0/cloud/thing/{device_id}/shadow/properties"),
)

#: Tuya's message for each error code it documents.
ERROR_MESSAGES: Mapping[int, str] = {
    500: "system error, please contact the admin",
    1000: "data not exist",
    1001: "secret invalid",
    1002: "access_token is null",
    1004: "sign invalid",
    1005: "clientId is invalid",
    1010: "token invalid",
    1011: "token invalid",
    1012: "token status is invalid",
    1013: "request time is invalid",
    1100: "param is empty",
    1101: "param is out of range",
    1102: "param is null",
    1105: "header is missing",
    1106: "permission deny",
    1108: "uri path invalid",
    1109: "param is illegal, please check it",
    1110: "concurrent requests over the limit",
    1111: "system busy",
    1199: "requests too frequent",
    2001: "device is offline",
    2003: "function not support",
    2004: "lock type not support",
    2008: "command or value not support",
    2009: "device not support",
    2010: "device not exist",
    28841002: "cloud plan expired",
    28841004: "trial quota used up",
    28841101: "No permissions. This API is not subscribed.",
    28841102: "No permissions. This API is not authorized.",
    28841105: "No permissions. This project is not authorized.",
    28841106: "No permissions. This API is not authorized for the project.",
}

# -- push messages ----------------------------------------------------------------------------------------------

#: The topic environment of production messages, and of Tuya's test channel.
PRODUCTION_ENV = "event"
TEST_ENV = "event-test"


def topic_for(access_id: str, env: str = PRODUCTION_ENV) -> str:
    """``{access_id}/out/{env}``: ``event`` in production, ``event-test`` for Tuya's test channel."""
    return f"{access_id}/out/{env}"


def topic_partition(topic: str) -> int | None:
    """The partition a Pulsar topic name is (``...-partition-3`` is 3); None for a topic that is not a partition."""
    marker = topic.rfind("-partition-")
    if marker != -1 and topic[marker + 11 :].isdigit():
        return int(topic[marker + 11 :])
    return None


def subscription_for(access_id: str) -> str:
    """``{access_id}-sub``: the project's one subscription (Failover), the only one Tuya documents."""
    return f"{access_id}-sub"


#: The message property naming the cipher of the envelope's ``data``; missing means ``aes_ecb``.
ENCRYPTION_PROPERTY = "em"
MessageEncryption = Literal["aes_gcm", "aes_ecb"]
#: The envelope's ``pv``.
ENVELOPE_VERSION = "2.0"
#: Envelope ``protocol`` of device events (``{bizCode, bizData, devId, ...}``) and of status reports.
DEVICE_EVENT_PROTOCOL = 20
STATUS_REPORT_PROTOCOL = 4
#: ``bizCode`` of the enrollment progress push message.
ENROLLMENT_BIZ_CODE = "doorUnlockMethodStatus"
