"""``Simulator``: the simulated Tuya cloud as an ASGI app, with a scenario API for tests.

Every request is checked the way Tuya checks it, in this order (the first failure answers):

1. ``client_id``, ``sign`` and ``t`` headers present, else 1105;
2. ``client_id`` is this project's access id, else 1005;
3. ``t`` within ``faults.max_clock_skew`` of the simulated clock, else 1013;
4. business calls: an ``access_token`` header (1002) naming a live token (1010 unknown or expired);
5. the signature, computed with :mod:`lockcloud._auth` over the exact bytes received, else 1004;
6. the path names an endpoint (1108), served for this method (1108 as well: Tuya keys an API by method *and*
   path, so a known path with another method is just another unknown API; the message names the right method).

Then scripted faults and error rates apply, and the call runs against :class:`~lockcloud.sim._world.World`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import string
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import attrs
import httpx

from lockcloud._asgi import Receive, Scope, Send, serve_lifespan
from lockcloud._auth import canonical_url, compute_sign, is_token_path, signed_headers_string, string_to_sign
from lockcloud._errors import APIError, ValidationError
from lockcloud._transport import redact_path
from lockcloud.enums import RemoteUnlockType, UnlockType, UserType
from lockcloud.sim._faults import Faults, LostResponseMode, ScriptedFault
from lockcloud.sim._model import LockKind, SimKey, SimLock, SimMedia, SimUser
from lockcloud.sim._push import MessageEncryption, PulsarPublisher, PushMessage
from lockcloud.sim._routes import Route, find_routes
from lockcloud.sim._seed import Seeded, seed_demo
from lockcloud.sim._world import MEDIA_PREFIX, AlbumKeyStyle, Call, Outcome, World, fail

if TYPE_CHECKING:
    from lockcloud._client import LockCloud

__all__ = ["ActionRecord", "RequestRecord", "SimulatedDisconnect", "Simulator"]

logger = logging.getLogger("lockcloud.sim")


#: The in-process base URL of :meth:`Simulator.client` (nothing listens there; requests go through ASGI).
IN_PROCESS_URL = "http://lockcloud-sim.local"

_ID_ALPHABET = string.ascii_lowercase + string.digits


class SimulatedDisconnect(httpx.RemoteProtocolError):
    """Raised by the app after it executed a call whose response is to be lost.

    Served by uvicorn, the connection is dropped mid-response, so the client sees a genuine
    ``httpx.RemoteProtocolError``; in-process (``httpx.ASGITransport``) this exception reaches the client itself,
    which is the same class of error. It is an httpx exception on purpose: it stands for a network failure.
    """


@attrs.frozen
class ActionRecord:
    """A call the simulator executed. ``response_lost`` says the client never got the answer; ``code`` is set
    when an error was answered after executing (``fail_next(..., executed=True)``)."""

    seq: int
    at: float
    action: str
    method: str
    path: str
    device_id: str | None
    detail: Mapping[str, Any]
    response_lost: bool = False
    code: int | None = None


@attrs.frozen
class RequestRecord:
    """Every request the simulator received, executed or not: the Tuya code it was answered with (``None`` for
    success or a lost response)."""

    seq: int
    at: float
    method: str
    path: str
    action: str | None
    code: int | None
    executed: bool
    response_lost: bool


@attrs.frozen
class _Reply:
    envelope: dict[str, Any]
    lose: LostResponseMode | None = None


def _random_text(length: int, alphabet: str = _ID_ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


class Simulator:
    """A simulated Tuya cloud project with smart locks, served as an ASGI app (the object itself is the app).

    ``access_id`` / ``access_secret`` default to random ones. ``seed=True`` starts from the demo world (one lock
    of every kind, users ``sim-alice`` and ``sim-bob``; see :attr:`devices`); ``seed=False`` from an empty one.
    ``press_interval`` makes the simulated person press the finger automatically every so many seconds during an
    enrollment; ``None`` leaves it to :meth:`press_finger`. Push messages are encrypted with ``push_encryption``
    and produced to a broker once :meth:`connect_broker` was called (``lockcloud.sim.running`` does it); they are
    always recorded in :attr:`pushes`.
    """

    def __init__(
        self,
        access_id: str | None = None,
        access_secret: str | None = None,
        *,
        seed: bool = True,
        press_interval: float | None = None,
        push_encryption: MessageEncryption = "aes_gcm",
        presses: Mapping[UnlockType | str, int] | None = None,
        album_keys: AlbumKeyStyle = "snake",
        faults: Faults | None = None,
    ) -> None:
        if access_secret is not None and len(access_secret) != 32:
            raise ValidationError("access_secret must be 32 characters long, like Tuya's")
        self.access_id = access_id or "sim" + _random_text(17)
        self._access_secret = access_secret or _random_text(32, string.ascii_letters + string.digits)
        self.faults = faults or Faults()
        self.world = World(
            self.access_id, self._access_secret, faults=self.faults, presses=presses, album_keys=album_keys
        )
        self.press_interval = press_interval
        self.push_encryption: MessageEncryption = push_encryption
        self.pushes: list[PushMessage] = []
        self.actions: list[ActionRecord] = []
        self.requests: list[RequestRecord] = []
        self._seeded: Seeded | None = seed_demo(self.world) if seed else None
        self._publisher: PulsarPublisher | None = None
        self._auto_press: dict[str, asyncio.Task[None]] = {}
        self._seq = 0

    def __repr__(self) -> str:
        broker = self._publisher.url if self._publisher is not None else None
        return f"Simulator(access_id={self.access_id!r}, locks={len(self.world.locks)}, broker={broker!r})"

    @property
    def access_secret(self) -> str:
        """The project's access secret (the simulator's own; give it to the client under test)."""
        return self._access_secret

    @property
    def devices(self) -> dict[str, str]:
        """Seeded role -> device id (``front_door`` Zigbee, ``back_door`` Wi-Fi, ``shed`` Bluetooth, ``garage``
        keepalive Wi-Fi, ``porch`` video, ``office`` access control); empty without the seed."""
        return dict(self._seeded.devices) if self._seeded else {}

    @property
    def home_user(self) -> str | None:
        """The seeded home user's id (``sim-alice``)."""
        return self._seeded.home_user if self._seeded else None

    @property
    def guest_user(self) -> str | None:
        """The seeded non-home user's id (``sim-bob``)."""
        return self._seeded.guest_user if self._seeded else None

    # -- scenario API ---------------------------------------------------------------------------------------------

    def add_lock(self, kind: LockKind | str, device_id: str | None = None, **options: Any) -> SimLock:
        """Add a lock (see :meth:`World.add_lock` for ``name``, ``online``, ``gateway``, ``channels``,
        ``remote_unlock``)."""
        return self.world.add_lock(kind, device_id, **options)

    def add_user(
        self, user_id: str | None = None, user_type: UserType | int = UserType.HOME_USER, *, name: str = ""
    ) -> SimUser:
        return self.world.add_user(user_id, user_type, name=name)

    def add_key(self, device_id: str, unlock_type: UnlockType | str, **options: Any) -> SimKey:
        """Put a key on a lock (``user_id``, ``pin``, ``name``, ``hijack``, ``synced``, ``unlock_no``)."""
        return self.world.add_key(device_id, unlock_type, **options)

    def lock(self, device_id: str) -> SimLock:
        """The live state of a lock (door, keys, switches, enrollment ...); changes to it take effect."""
        return self.world.lock(device_id)

    def set_online(self, device_id: str, online: bool = True) -> None:
        """An offline lock answers 2001 to every call that must reach it."""
        self.world.lock(device_id).online = online

    def set_remote_unlock(self, device_id: str, switch: RemoteUnlockType | str, enabled: bool) -> None:
        self.world.lock(device_id).remote_unlock[RemoteUnlockType(switch)] = enabled

    def capture(self, device_id: str, event_type: int, **options: Any) -> SimMedia:
        """The lock's camera uploads a photo for an album event type (``content``, ``video``, ``upload_time``)."""
        return self.world.capture(device_id, event_type, **options)

    def ring_doorbell(self, device_id: str) -> SimMedia:
        """A visitor asks to be let in: a pending remote-unlock request and the visitor's photo (event type 1)."""
        lock = self.world.lock(device_id)
        lock.pending_remote_request = True
        return self.world.capture(device_id, 1)

    async def press_finger(self, device_id: str, times: int = 1) -> None:
        """Press the finger (tap the card ...) ``times`` times on a lock that is enrolling; returns once the
        resulting push messages are on the broker."""
        for _ in range(times):
            self._emit(self.world.press(device_id))
        await self.drain_pushes()

    def fail_next(
        self,
        code: int,
        *,
        action: str | None = None,
        path: str | None = None,
        method: str | None = None,
        times: int = 1,
        msg: str | None = None,
        executed: bool = False,
    ) -> ScriptedFault:
        """Answer the next ``times`` matching calls with Tuya error ``code``; with ``executed`` the call still runs
        first (Tuya failing after acting). Match by ``action`` (``"open_door"``, ``"token"`` ...), a ``path``
        substring and/or ``method``; nothing given matches any call."""
        fault = ScriptedFault(
            code=code, msg=msg, executed=executed, action=action, path=path, method=method, times=times
        )
        self.faults.scripted.append(fault)
        return fault

    def lose_next_response(
        self,
        *,
        action: str | None = None,
        path: str | None = None,
        method: str | None = None,
        times: int = 1,
        mode: LostResponseMode = "disconnect",
    ) -> ScriptedFault:
        """Execute the next ``times`` matching calls, then lose their responses: ``"disconnect"`` drops the
        connection mid-response, ``"timeout"`` keeps it silent (for ``faults.hang_seconds`` at most)."""
        fault = ScriptedFault(lose=mode, action=action, path=path, method=method, times=times)
        self.faults.scripted.append(fault)
        return fault

    def expire_tokens(self) -> None:
        """Expire every access token now (the next business call gets 1010)."""
        self.world.expire_tokens()

    def advance(self, seconds: float) -> None:
        """Age every token and ticket by ``seconds``."""
        self.world.advance(seconds)

    def executed(self, action: str | None = None, *, device_id: str | None = None) -> list[ActionRecord]:
        """The executed calls, optionally only those of one action and/or device."""
        return [
            record
            for record in self.actions
            if (action is None or record.action == action)
            and (device_id is None or record.device_id == device_id)
        ]

    # -- push messages --------------------------------------------------------------------------------------------

    async def connect_broker(self, url: str, *, env: str = "event", log_file: str | None = None) -> None:
        """Produce push messages to ``{access_id}/out/{env}`` on the Pulsar broker at ``url`` from now on."""
        if self._publisher is not None:
            raise ValidationError("the simulator is already connected to a broker")
        publisher = PulsarPublisher(
            url, self.access_id, self._access_secret, em=self.push_encryption, env=env, log_file=log_file
        )
        await publisher.start()
        self._publisher = publisher

    @property
    def broker_url(self) -> str | None:
        return self._publisher.url if self._publisher is not None else None

    async def drain_pushes(self) -> None:
        """Wait until every push message so far has been handed to the broker (no-op without one)."""
        if self._publisher is not None:
            await self._publisher.drain()

    async def aclose(self) -> None:
        """Stop automatic presses and disconnect from the broker (after sending what is queued)."""
        tasks = list(self._auto_press.values())
        self._auto_press.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            await publisher.close()

    def _emit(self, messages: Iterable[PushMessage]) -> None:
        for message in messages:
            self.pushes.append(message)
            if self._publisher is not None:
                self._publisher.submit(message)

    def _start_auto_press(self, device_id: str) -> None:
        interval = self.press_interval
        enrollment = self.world.lock(device_id).enrollment
        if interval is None or enrollment is None:
            return
        previous = self._auto_press.pop(device_id, None)
        if previous is not None:
            previous.cancel()
        task = asyncio.get_running_loop().create_task(
            self._press_automatically(device_id, enrollment.generation, interval),
            name=f"lockcloud-sim-press-{device_id}",
        )
        self._auto_press[device_id] = task

    async def _press_automatically(self, device_id: str, generation: int, interval: float) -> None:
        try:
            while True:
                await asyncio.sleep(interval)
                enrollment = self.world.lock(device_id).enrollment
                if enrollment is None or enrollment.generation != generation:
                    return
                self._emit(self.world.press(device_id))
        finally:
            if self._auto_press.get(device_id) is asyncio.current_task():
                del self._auto_press[device_id]

    # -- in-process client ----------------------------------------------------------------------------------------

    def http_client(self, **options: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` that sends requests into this app in-process (no sockets)."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self), base_url=IN_PROCESS_URL, **options)

    @contextlib.asynccontextmanager
    async def client(self, **options: Any) -> AsyncIterator[LockCloud]:
        """A :class:`~lockcloud.LockCloud` for this project, talking to the app in-process::

        async with sim.client() as cloud:
            keys = await cloud.unlock_methods.list_assigned(sim.devices["front_door"], "sim-alice", 1)
        """
        from lockcloud._client import LockCloud

        async with (
            self.http_client() as http,
            LockCloud(
                self.access_id, self._access_secret, base_url=IN_PROCESS_URL, http_client=http, **options
            ) as cloud,
        ):
            yield cloud

    # -- ASGI -----------------------------------------------------------------------------------------------------

    @property
    def asgi_app(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        return self.__call__

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValidationError(f"the simulator serves HTTP only, not {scope['type']!r}")
        body = await _read_body(receive)
        method = str(scope["method"]).upper()
        path = str(scope["path"])
        headers = httpx.Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]])
        if path.startswith(f"/{MEDIA_PREFIX}/"):
            await self._serve_storage(method, path, send)
            return
        delay = self.faults.delay()
        if delay:
            await asyncio.sleep(delay)
        query = parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1"), keep_blank_values=True)
        reply = self._handle(method, path, query, headers, body, _base_url(scope, headers))
        payload = json.dumps(reply.envelope, separators=(",", ":"), ensure_ascii=False).encode()
        response_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        if reply.lose is not None:
            await self._lose(reply.lose, receive, send, response_headers)
            return
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})

    async def _lose(
        self, mode: LostResponseMode, receive: Receive, send: Send, headers: list[tuple[bytes, bytes]]
    ) -> None:
        if mode == "timeout":
            # Silent until the client gives up (it disconnects) or hang_seconds pass.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_until_disconnect(receive), self.faults.hang_seconds)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise SimulatedDisconnect("simulated: connection lost before the response arrived")

    async def _serve_storage(self, method: str, path: str, send: Send) -> None:
        # The object store of media files: unsigned, like a pre-signed bucket URL.
        blob = self.world.media_object(path.lstrip("/")) if method in ("GET", "HEAD") else None
        if blob is None:
            status, body, kind = 404, b"NoSuchKey", b"text/plain"
        else:
            status, body, kind = 200, blob, b"application/octet-stream"
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body if method != "HEAD" else b""})

    # -- request handling -----------------------------------------------------------------------------------------

    def _handle(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: httpx.Headers,
        body: bytes,
        base_url: str,
    ) -> _Reply:
        self._seq += 1
        seq = self._seq
        routes = find_routes(path)
        action = next((route.action for route, _ in routes if route.method == method), None)
        shown = redact_path(path)
        executed = lost = False
        try:
            self._authenticate(method, path, query, headers, body)
            route, params = _pick_route(method, path, routes)
            call = Call(
                action=route.action,
                method=method,
                path=path,
                path_params=params,
                query=dict(query),
                body=_json_body(body),
                base_url=base_url,
            )
            fault = self.faults.take_scripted(route.action, method, path)
            if fault is None and route.action not in ("token", "refresh_token"):
                random_code = self.faults.random_error()
                if random_code is not None:
                    raise fail(random_code, "simulated fault")
                if self.faults.random_loss():
                    fault = ScriptedFault(lose="disconnect")
            if fault is not None and fault.code is not None and not fault.executed:
                raise fail(fault.code, fault.msg)
            outcome = self._execute(call)
            executed = True
            lost = fault is not None and fault.lose is not None
            self._record_action(seq, call, outcome, lost, fault.code if fault is not None else None)
            if fault is not None and fault.code is not None:
                raise fail(fault.code, fault.msg)
            envelope = {"success": True, "t": self.world.now_ms(), "result": outcome.result, "tid": _tid()}
            self._record_request(seq, method, shown, action, None, executed, lost)
            return _Reply(envelope, fault.lose if lost and fault is not None else None)
        except APIError as error:
            self._record_request(seq, method, shown, action, error.code, executed, lost)
            envelope = {
                "success": False,
                "code": error.code,
                "msg": error.msg,
                "t": self.world.now_ms(),
                "tid": _tid(),
            }
            return _Reply(envelope)

    def _authenticate(
        self, method: str, path: str, query: list[tuple[str, str]], headers: httpx.Headers, body: bytes
    ) -> None:
        for name in ("client_id", "sign", "t"):
            if not headers.get(name):
                raise fail(1105, f"header {name} is missing")
        client_id = headers["client_id"]
        if client_id != self.access_id:
            raise fail(1005)
        t = headers["t"]
        if not t.isdigit() or abs(int(t) - self.world.now_ms()) > self.faults.max_clock_skew * 1000:
            raise fail(1013)
        sign_method = headers.get("sign_method", "HMAC-SHA256")
        if sign_method.upper() != "HMAC-SHA256":
            raise fail(1004, f"sign_method {sign_method!r} is not supported")
        access_token = ""
        if not is_token_path(path):
            access_token = headers.get("access_token", "")
            self.world.check_token(access_token)
        to_sign = string_to_sign(method, body, canonical_url(path, query), signed_headers_string(headers))
        expected = compute_sign(
            self._access_secret,
            client_id,
            t,
            to_sign,
            access_token=access_token,
            nonce=headers.get("nonce", ""),
        )
        if not secrets.compare_digest(expected, headers["sign"]):
            raise fail(1004)

    def _execute(self, call: Call) -> Outcome:
        if call.action == "token":
            return Outcome(self.world.grant_token(call.query))
        if call.action == "refresh_token":
            return Outcome(self.world.refresh_token(call.path_params["refresh_token"]))
        outcome = self.world.execute(call)
        self._emit(outcome.pushes)
        if outcome.enrollment_started is not None:
            self._start_auto_press(outcome.enrollment_started)
        return outcome

    def _record_action(self, seq: int, call: Call, outcome: Outcome, lost: bool, code: int | None) -> None:
        self.actions.append(
            ActionRecord(
                seq=seq,
                at=self.world.now(),
                action=call.action,
                method=call.method,
                path=redact_path(call.path),
                device_id=call.path_params.get("device_id"),
                detail=dict(outcome.detail),
                response_lost=lost,
                code=code,
            )
        )

    def _record_request(
        self,
        seq: int,
        method: str,
        path: str,
        action: str | None,
        code: int | None,
        executed: bool,
        lost: bool,
    ) -> None:
        record = RequestRecord(
            seq=seq,
            at=self.world.now(),
            method=method,
            path=path,
            action=action,
            code=code,
            executed=executed,
            response_lost=lost,
        )
        self.requests.append(record)
        logger.debug("%s %s -> %s", method, path, "ok" if code is None else code)


def _pick_route(
    method: str, path: str, routes: Sequence[tuple[Route, dict[str, str]]]
) -> tuple[Route, dict[str, str]]:
    for route, params in routes:
        if route.method == method:
            return route, params
    if routes:
        allowed = ", ".join(sorted({route.method for route, _ in routes}))
        raise fail(1108, f"{method} is not served at this path (use {allowed})")
    raise fail(1108, f"no API at {redact_path(path)}")


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        raise fail(1109, "the body is not JSON") from None
    if not isinstance(value, dict):
        raise fail(1109, "the body is not a JSON object")
    return value


def _tid() -> str:
    return uuid.uuid4().hex


def _base_url(scope: Scope, headers: httpx.Headers) -> str:
    scheme = str(scope.get("scheme", "http"))
    host = headers.get("host")
    if not host:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    return f"{scheme}://{host}"


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(bytes(message.get("body", b"")))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
