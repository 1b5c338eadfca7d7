"""Fault injection: error rates, latency, token and ticket lifetimes, a skewed clock, scripted failures and
responses that get lost after the call was executed."""

from __future__ import annotations

import random
from typing import Literal

import attrs

__all__ = ["Faults", "LostResponseMode", "ScriptedFault"]

LostResponseMode = Literal["disconnect", "timeout"]


@attrs.define
class ScriptedFault:
    """One scripted failure, consumed by the next ``times`` calls it matches.

    ``action`` is the simulator's name for an endpoint (``"open_door"``, ``"enroll"``, ``"password_ticket"``,
    ``"token"`` ...), ``path`` a substring of the request path, ``method`` an HTTP method; unset ones match
    anything. ``code`` answers with a Tuya error (executing the call first when ``executed``); ``lose`` executes
    the call and then loses the response (``"disconnect"`` drops the connection, ``"timeout"`` never answers);
    ``gateway`` answers with a bare HTTP error page of that status, as a load balancer in front of the cloud does
    (after the cloud ran the call when ``executed``).
    """

    code: int | None = None
    msg: str | None = None
    executed: bool = False
    lose: LostResponseMode | None = None
    gateway: int | None = None
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
