"""Fault injection: error rates, latency, token and ticket lifetimes, a skewed clock, scripted failures and
responses that get lost after the call was executed."""

from __future__ import annotations

import random
from typing import Literal

import attrs

__all__ = ["Faults", "LostResponseMode", "ScriptedFault"]

LostResponseMode = Literal["disconnect", "timeout"]

#: Tuya's message for each code the simulator can answer with (used when a fault gives none).
ERROR_MESSAGES: dict[int, str] = {
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


def message_for(code: int) -> str:
    return ERROR_MESSAGES.get(code, "simulated error")


@attrs.define
class ScriptedFault:
    """One scripted failure, consumed by the next ``times`` calls it matches.

    ``action`` is the simulator's name for an endpoint (``"open_door"``, ``"enroll"``, ``"password_ticket"``,
    ``"token"`` ...), ``path`` a substring of the request path, ``method`` an HTTP method; unset ones match
    anything. ``code`` answers with a Tuya error (executing the call first when ``executed``); ``lose`` executes
    the call and then loses the response (``"disconnect"`` drops the connection, ``"timeout"`` never answers).
    """

    code: int | None = None
    msg: str | None = None
    executed: bool = False
    lose: LostResponseMode | None = None
    action: str | None = None
    path: str | None = None
    method: str | None = None
    times: int = 1

    def matches(self, action: str, method: str, path: str) -> bool:
        return (
            self.times > 0
            and (self.action is None or self.action == action)
            and (self.method is None or self.method.upper() == method)
            and (self.path is None or self.path in path)
        )


@attrs.define
class Faults:
    """What goes wrong, and how slowly. Change the fields at any time; every request reads them afresh.

    * ``error_rates``: Tuya code -> probability that a business call is answered with it (not executed);
    * ``lost_response_rate``: probability that a business call is executed and its response lost;
    * ``latency`` (+ up to ``latency_jitter``) seconds before every answer;
    * ``token_lifetime`` / ``ticket_lifetime``: seconds a new access token / password ticket stays valid;
    * ``clock_offset``: how far the simulated Tuya clock is ahead of this machine's (seconds);
    * ``max_clock_skew``: a request whose ``t`` is further than this from the simulated clock gets 1013;
    * ``hang_seconds``: how long a ``"timeout"`` lost response keeps the connection silent before closing it;
    * ``grant_replaces_token``: a new grant (``grant_type=1``) retires every token the project had, as a refresh
      retires its own pair (the strictest reading of Tuya's rules; unconfirmed for the real cloud).
    """

    error_rates: dict[int, float] = attrs.field(factory=dict)
    lost_response_rate: float = 0.0
    latency: float = 0.0
    latency_jitter: float = 0.0
    token_lifetime: int = 7200
    ticket_lifetime: int = 300
    clock_offset: float = 0.0
    max_clock_skew: float = 300.0
    hang_seconds: float = 30.0
    grant_replaces_token: bool = False
    scripted: list[ScriptedFault] = attrs.field(factory=list)
    rng: random.Random = attrs.field(factory=random.Random, repr=False)

    def take_scripted(self, action: str, method: str, path: str) -> ScriptedFault | None:
        for fault in self.scripted:
            if fault.matches(action, method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self.scripted.remove(fault)
                return fault
        return None

    def random_error(self) -> int | None:
        for code, rate in self.error_rates.items():
            if rate > 0 and self.rng.random() < rate:
                return code
        return None

    def random_loss(self) -> bool:
        return self.lost_response_rate > 0 and self.rng.random() < self.lost_response_rate

    def delay(self) -> float:
        jitter = self.rng.uniform(0, self.latency_jitter) if self.latency_jitter > 0 else 0.0
        return max(0.0, self.latency + jitter)
