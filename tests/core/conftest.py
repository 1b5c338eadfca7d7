"""``FakeTuya``: a wire-level fake of Tuya's OpenAPI for the foundation tests, kept beside the shipped simulator.

Tests here use :class:`lockcloud.sim.Simulator` (the ``lockcloud_sim`` fixture) wherever it shows the behaviour:
the first grant, token reuse, the token stores, one heal per call, a skewed clock learnt at the grant and the
token's expiry on it, a scripted 1013 twice, the rate limit, a borrowed HTTP client.
``FakeTuya`` stays for what the simulator deliberately does not do, each needed by the tests named:

* **an independent signature check**: it verifies every request with ``reference_sign``, written here from Tuya's
  signing document, while the simulator checks signatures with lockcloud's own signing code, so a signing bug
  would pass there (``test_signing``, ``test_input``'s streamed-body signing);
* **any answer on cue**: a script per path of Tuya codes, arbitrary ``httpx.Response`` objects (huge, deeply
  nested, oversized or endless bodies; string or missing codes; an unknown code with extra fields; an infinite or
  implausible ``t``; a non-ASCII access token; bare gateway pages) or a raised httpx transport error at any call
  including the token calls, and a separate script for the refresh call alone (``test_hostile``, ``test_errors``,
  ``test_redaction``, ``test_tokens``' reactive heals and refresh fallbacks, ``test_single_flight``'s failing token
  endpoint, ``test_input``'s retry views); the simulator answers only Tuya's real envelopes and faults;
* **an echo of any path**: a business call it does not know is answered with the method, path, query and body it
  received, so the core tests need no lock endpoints (``test_client``, ``test_tokens``, ``test_single_flight``,
  ``test_input``); the simulator answers 1108 to unknown APIs;
* **a hook on every business call** (``on_business``) that can hold, count or reject calls while they are in
  flight (``test_rate_limit``'s concurrency cap, ``test_single_flight``'s 1010 storm and the call in flight across
  a refresh);
* **a clock of its own tied to the test's pinned local clock** (``FakeClock`` plus a ``skew``), so advancing time
  ages the client's token and the server's alike, and **token bookkeeping**: grants, refreshes, refresh attempts,
  whether each refresh came while the old token was still valid, 1011 for a forgotten token (the simulator answers
  1010) and the request headers sent (``test_tokens``' proactive refresh, token expiry and clock re-sync tests,
  ``test_single_flight``, ``test_redaction``'s list of issued tokens).

Helpers reach tests through fixtures (``consts``, ``server``, ``make_cloud``, ``cloud``, ``token_holder``) because
tests run with ``--import-mode=importlib``, where a conftest cannot be imported; the credentials and the retry
policy are the suite's shared ones from ``support.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

import lockcloud._core.clock
from lockcloud import LockCloud

from support import ACCESS_ID, ACCESS_SECRET, FAST_RETRY

BASE_URL = "https://openapi.test"
TOKEN_PATH = "/v1.0/token"
TOKEN_LIFETIME = 7200  # seconds, as Tuya grants


def reference_sign(secret: str, request: httpx.Request) -> str:
    """Tuya's signing rules, written independently of lockcloud._core.signing: parse the request exactly as it was sent."""
    headers = request.headers
    pairs = parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
    url = request.url.path
    if pairs:
        url += "?" + "&".join(f"{key}={value}" for key, value in sorted(pairs))
    names = [name for name in headers.get("Signature-Headers", "").split(":") if name]
    signed_headers = "".join(f"{name}:{headers.get(name, '')}\n" for name in names)
    body_hash = hashlib.sha256(request.content).hexdigest()
    to_sign = f"{request.method}\n{body_hash}\n{signed_headers}\n{url}"
    is_token_call = request.url.path == TOKEN_PATH or request.url.path.startswith(TOKEN_PATH + "/")
    access_token = "" if is_token_call else headers.get("access_token", "")
    message = headers.get("client_id", "") + access_token + headers.get("t", "") + headers.get("nonce", "")
    message += to_sign
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest().upper()


class FakeClock:
    """The local wall clock as lockcloud._core.clock sees it (it only calls ``time.time()``)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.local = start

    def time(self) -> float:
        return self.local

    def advance(self, seconds: float) -> None:
        self.local += seconds


Action = int | httpx.Response | Callable[[httpx.Request], httpx.Response]
BusinessHook = Callable[[httpx.Request, str], Awaitable[httpx.Response | None]]


class FakeTuya:
    """Tuya's OpenAPI as far as the foundation tests need it, with what the simulator cannot do (see the module)."""

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        skew: float = 0.0,
        max_skew: float = 300.0,
    ) -> None:
        self.clock = clock
        self.skew = skew
        self.lifetime = TOKEN_LIFETIME
        self.max_skew = max_skew
        self.requests: list[httpx.Request] = []
        self.answers: Counter[int] = Counter()  # code -> how often answered (0 = success)
        self.grants = 0
        self.refreshes = 0
        self.refresh_attempts = 0
        self.refreshed_while_valid: list[bool] = []
        self.live: dict[str, float] = {}  # access token -> expiry (server seconds)
        self.refresh_of: dict[str, str] = {}  # refresh token -> its access token
        self.issued: list[str] = []  # every access and refresh token ever issued
        self.scripts: defaultdict[str, deque[Action]] = defaultdict(deque)
        self.refresh_script: deque[Action] = deque()
        self.on_business: BusinessHook | None = None

    # -- clock and envelopes ------------------------------------------------------------------------------------
    def now(self) -> float:
        local = self.clock.time() if self.clock is not None else time.time()
        return local + self.skew

    def t_ms(self) -> int:
        return int(self.now() * 1000)

    def ok(self, result: Any) -> httpx.Response:
        self.answers[0] += 1
        tid = secrets.token_hex(8)
        return httpx.Response(200, json={"success": True, "t": self.t_ms(), "result": result, "tid": tid})

    def failure(self, code: int, msg: str | None = None) -> httpx.Response:
        self.answers[code] += 1
        envelope = {
            "success": False,
            "code": code,
            "msg": msg if msg is not None else f"fake error {code}",
            "t": self.t_ms(),
            "tid": "tid" + secrets.token_hex(6),
        }
        return httpx.Response(200, json=envelope)

    @staticmethod
    def raising(exc_type: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
        def fail(request: httpx.Request) -> httpx.Response:
            raise exc_type(f"simulated {exc_type.__name__}", request=request)

        return fail

    def script(self, path: str, *actions: Action) -> None:
        """Answer the next calls to ``path`` with these actions (a Tuya code, a response, or a callable)."""
        self.scripts[path].extend(actions)

    # -- views ------------------------------------------------------------------------------------------------
    def business(self, path: str | None = None) -> list[httpx.Request]:
        return [
            request
            for request in self.requests
            if not request.url.path.startswith(TOKEN_PATH) and (path is None or request.url.path == path)
        ]

    @property
    def token_calls(self) -> int:
        return sum(1 for request in self.requests if request.url.path.startswith(TOKEN_PATH))

    def reset_counts(self) -> None:
        self.requests.clear()
        self.answers.clear()
        self.grants = self.refreshes = self.refresh_attempts = 0

    def expire_all(self) -> None:
        for token in self.live:
            self.live[token] = 0.0

    # -- the handler --------------------------------------------------------------------------------------------
    def _apply(self, action: Action, request: httpx.Request) -> httpx.Response:
        if isinstance(action, int):
            return self.failure(action)
        if isinstance(action, httpx.Response):
            return action
        return action(request)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        queue = self.scripts.get(path)
        if queue:
            return self._apply(queue.popleft(), request)
        if request.headers.get("sign") != reference_sign(ACCESS_SECRET, request):
            return self.failure(1004, "sign invalid")
        if request.headers.get("client_id") != ACCESS_ID:
            return self.failure(1005)
        if abs(int(request.headers.get("t", "0")) / 1000 - self.now()) > self.max_skew:
            return self.failure(1013, "request time is invalid")
        if path == TOKEN_PATH:
            if request.url.params.get("grant_type") != "1":
                return self.failure(1100)
            self.grants += 1
            return self._issue()
        if path.startswith(TOKEN_PATH + "/"):
            self.refresh_attempts += 1
            if self.refresh_script:
                return self._apply(self.refresh_script.popleft(), request)
            old_access = self.refresh_of.pop(path.removeprefix(TOKEN_PATH + "/"), None)
            if old_access is None:
                return self.failure(1012, "refresh token invalid")
            self.refreshed_while_valid.append(self.live.pop(old_access, 0.0) > self.now())
            self.refreshes += 1
            return self._issue()
        token = request.headers.get("access_token", "")
        if not token:
            return self.failure(1002)
        if token not in self.live:
            return self.failure(1011, "token invalid")
        if self.live[token] <= self.now():
            return self.failure(1010, "token expired")
        if self.on_business is not None:
            answer = await self.on_business(request, token)
            if answer is not None:
                return answer
        body = json.loads(request.content) if request.content else None
        return self.ok(
            {"method": request.method, "path": path, "query": dict(request.url.params), "body": body}
        )

    def _issue(self) -> httpx.Response:
        access, refresh = "at" + secrets.token_hex(16), "rt" + secrets.token_hex(16)
        self.issued += [access, refresh]
        self.live[access] = self.now() + self.lifetime
        self.refresh_of[refresh] = access
        return self.ok(
            {"access_token": access, "refresh_token": refresh, "expire_time": self.lifetime, "uid": "u1"}
        )


@pytest.fixture
def consts() -> SimpleNamespace:
    return SimpleNamespace(
        ACCESS_ID=ACCESS_ID,
        ACCESS_SECRET=ACCESS_SECRET,
        BASE_URL=BASE_URL,
        FAST_RETRY=FAST_RETRY,
        reference_sign=reference_sign,
        FakeTuya=FakeTuya,
    )


@pytest.fixture
def local_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Pin lockcloud's wall clock; ``advance()`` simulates the passage of time."""
    clock = FakeClock()
    monkeypatch.setattr(lockcloud._core.clock, "time", clock)
    return clock


@pytest.fixture
def server() -> FakeTuya:
    return FakeTuya()


@pytest.fixture
async def make_cloud() -> AsyncIterator[Callable[..., LockCloud]]:
    """``make_cloud(server, **options)``: a LockCloud talking to a FakeTuya; closed at the end of the test."""
    made: list[tuple[LockCloud, httpx.AsyncClient]] = []

    def factory(fake: FakeTuya, **options: Any) -> LockCloud:
        http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handle))
        options.setdefault("retry", FAST_RETRY)
        cloud = LockCloud(ACCESS_ID, ACCESS_SECRET, base_url=BASE_URL, http_client=http, **options)
        made.append((cloud, http))
        return cloud

    yield factory
    for cloud, http in made:
        await cloud.aclose()
        await http.aclose()


@pytest.fixture
def cloud(server: FakeTuya, make_cloud: Callable[..., LockCloud]) -> LockCloud:
    return make_cloud(server)


#: The business call ``token_holder`` makes to get its first token.
WARM_UP_PATH = "/v1.0/devices/d1/door-lock/remote-unlocks"


@pytest.fixture
async def token_holder(local_clock: FakeClock, make_cloud: Callable[..., LockCloud]) -> SimpleNamespace:
    """``server`` (a FakeTuya on ``local_clock``) and ``cloud``, a LockCloud that already holds a token from it:
    one business call made (``WARM_UP_PATH``) and counted by the server."""
    server = FakeTuya(clock=local_clock)
    cloud = make_cloud(server)
    await cloud.request("GET", WARM_UP_PATH)
    return SimpleNamespace(server=server, cloud=cloud)
