"""``Simulator``: the simulated Tuya cloud as one object: an ASGI app, a scenario API, faults and logs.

A request goes through :func:`lockcloud.sim._app.serve` (HTTP), :func:`~lockcloud.sim._authentication.authenticate`
(Tuya's checks, in Tuya's order), routing (1108 for an unknown API), then scripted faults and error rates, and runs
against the :class:`~lockcloud.sim._world.World`. Push messages the call caused are recorded and handed to the
broker's publisher; executed calls and every request are logged for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import math
import string
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from lockcloud._core.asgi import Receive, Scope, Send
from lockcloud._core.errors import APIError, ValidationError
from lockcloud._core.redaction import redact_path
from lockcloud._core.wire import PRODUCTION_ENV, MessageEncryption
from lockcloud.enums import RemoteUnlockType, UnlockType
from lockcloud.sim._app import Reply, Request, serve
from lockcloud.sim._authentication import authenticate
from lockcloud.sim._call import Call, Outcome, fail, json_body
from lockcloud.sim._faults import Faults, LostResponseMode, ScriptedFault
from lockcloud.sim._history import HistoryScenario
from lockcloud.sim._log import ActionRecord, RequestRecord
from lockcloud.sim._media import AlbumKeyStyle
from lockcloud.sim._model import SimMedia, random_id
from lockcloud.sim._publisher import PulsarPublisher
from lockcloud.sim._push import PushMessage, status_report
from lockcloud.sim._routes import find_routes, pick_route
from lockcloud.sim._scenario import Scenario
from lockcloud.sim._seed import Seeded, seed_demo
from lockcloud.sim._world import World

if TYPE_CHECKING:
    from lockcloud._client import LockCloud

__all__ = ["Simulator"]

logger = logging.getLogger("lockcloud.sim")


#: The in-process base URL of :meth:`Simulator.client` (nothing listens there; requests go through ASGI).
IN_PROCESS_URL = "http://lockcloud-sim.localhost"

_ID_ALPHABET = string.ascii_lowercase + string.digits


class Simulator(Scenario, HistoryScenario):
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
        self.access_id = access_id or "sim" + random_id(17, _ID_ALPHABET)
        self._access_secret = access_secret or random_id(32)
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
        self._watchers: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        broker = self._publisher.url if self._publisher is not None else None
        return f"Simulator(access_id={self.access_id!r}, locks={len(self.world.locks)}, broker={broker!r})"

    @property
    def access_secret(self) -> str:
        """The project's access secret (the simulator's own; give it to the client under test)."""
        return self._access_secret

    @property
    def _world(self) -> World:
        return self.world

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
    # add_lock, add_user, add_key, lock, capture, expire_tokens and advance come from Scenario, which the world
    # shares: one definition for the tests' calls and for the seed's and handlers'.

    def set_online(self, device_id: str, online: bool = True) -> None:
        """An offline lock answers 2001 to every call that must reach it."""
        self.lock(device_id).online = online

    def set_remote_unlock(self, device_id: str, switch: RemoteUnlockType | str, enabled: bool) -> None:
        self.lock(device_id).remote_unlock[RemoteUnlockType(switch)] = enabled

    def ring_doorbell(self, device_id: str) -> SimMedia:
        """A visitor asks to be let in: a pending remote-unlock request and the visitor's photo (event type 1)."""
        self.lock(device_id).pending_remote_request = True
        return self.capture(device_id, 1)

    async def press_finger(self, device_id: str, times: int = 1) -> None:
        """Press the finger (tap the card ...) ``times`` times on a lock that is enrolling; returns once the
        resulting push messages are on the broker."""
        for _ in range(times):
            self._emit(self.world.press(device_id))
        await self.drain_pushes()

    async def type_code(self, device_id: str, code: str, *, at: float | None = None) -> bool:
        """A guest types ``code`` on the lock's keypad (at ``at``, epoch seconds on the simulated clock, default
        now): True when the door opened. The lock's status reports (``unlock_temporary`` with the code's number,
        or ``alarm_lock: wrong_password`` after repeated wrong tries) are on the broker when this returns."""
        from lockcloud.sim._access_codes import type_code

        opened, messages = type_code(self.world, device_id, code, at)
        self._emit(messages)
        await self.drain_pushes()
        return opened

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

    def fail_at_gateway(
        self,
        status: int = 502,
        *,
        action: str | None = None,
        path: str | None = None,
        method: str | None = None,
        times: int = 1,
        executed: bool = False,
    ) -> ScriptedFault:
        """Answer the next ``times`` matching calls with a bare HTTP ``status`` error page (no Tuya envelope), as a
        load balancer in front of the cloud does; with ``executed`` the cloud runs the call first and the gateway
        replaces its answer (the action log then says the response was lost)."""
        try:
            known = http.HTTPStatus(status)
        except ValueError:
            known = None
        if known is None or not 400 <= status <= 599:
            raise ValidationError(f"a gateway error is an HTTP status from 400 to 599, not {status!r}")
        fault = ScriptedFault(
            gateway=status, executed=executed, action=action, path=path, method=method, times=times
        )
        self.faults.scripted.append(fault)
        return fault

    def executed(self, action: str | None = None, *, device_id: str | None = None) -> list[ActionRecord]:
        """The executed calls, optionally only those of one action and/or device."""
        return [
            record
            for record in self.actions
            if (action is None or record.action == action)
            and (device_id is None or record.device_id == device_id)
        ]

    def watch(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (no arguments, on the event loop's thread) after every request the simulator answers
        and every push message it produces; returns the function that stops it. A callback that raises is logged
        and kept."""
        self._watchers.append(callback)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._watchers.remove(callback)

        return stop

    def notify_watchers(self) -> None:
        """Tell the :meth:`watch` callbacks that something changed (the scenario API's changes are not seen)."""
        for callback in list(self._watchers):
            try:
                callback()
            except Exception:
                logger.exception("a simulator watcher failed")

    def report_status(self, device_id: str, status: Mapping[str, Any]) -> PushMessage | None:
        """The lock reports ``status`` codes by itself (a protocol 4 push: ``closed_opened``, ``doorbell``,
        ``unlock_password`` ...), as a person at the door makes it do; ``None`` when the lock is offline and so
        cannot report."""
        lock = self.lock(device_id)
        if not lock.online:
            return None
        message = status_report(lock, status, self.world.now_ms())
        self._emit((message,))
        return message

    # -- push messages --------------------------------------------------------------------------------------------

    async def connect_broker(
        self, url: str, *, env: str = PRODUCTION_ENV, log_file: str | None = None
    ) -> None:
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
        emitted = False
        for message in messages:
            self.pushes.append(message)
            emitted = True
            if self._publisher is not None:
                self._publisher.submit(message)
        if emitted:
            self.notify_watchers()

    def press_automatically(self, device_id: str, interval: float) -> None:
        """Let the person at a lock that is enrolling press every ``interval`` seconds until the enrollment ends
        (as ``press_interval`` does for every enrollment)."""
        if not (isinstance(interval, int | float) and math.isfinite(interval) and interval > 0):
            raise ValidationError("interval must be a positive number of seconds")
        if self.lock(device_id).enrollment is None:
            raise ValidationError(f"lock {device_id!r} is not enrolling anything")
        self._start_auto_press(device_id, interval)

    def _start_auto_press(self, device_id: str, interval: float | None = None) -> None:
        interval = self.press_interval if interval is None else interval
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
        await serve(
            scope, receive, send, handle=self._handle, storage=self.world.media_object, faults=self.faults
        )

    # -- request handling -----------------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Reply:
        self._seq += 1
        seq = self._seq
        tid = _tid()
        method, path = request.method, request.path
        routes = find_routes(path)
        action = next((route.action for route, _ in routes if route.method == method), None)
        shown = redact_path(path)
        executed = lost = False
        try:
            authenticate(self.world, request)
            route, params = pick_route(method, path, routes)
            call = Call(
                action=route.action,
                method=method,
                path=path,
                path_params=params,
                query=dict(request.query),
                body=json_body(request.body),
                base_url=request.base_url,
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
            if fault is not None and fault.gateway is not None and not fault.executed:
                self._record_request(seq, method, shown, action, None, False, False, fault.gateway)
                return Reply({}, gateway_status=fault.gateway)
            outcome = self._execute(call)
            executed = True
            lost = fault is not None and (fault.lose is not None or fault.gateway is not None)
            self._record_action(seq, call, outcome, lost, fault.code if fault is not None else None)
            if fault is not None and fault.code is not None:
                raise fail(fault.code, fault.msg)
            if fault is not None and fault.gateway is not None:
                self._record_request(seq, method, shown, action, None, True, True, fault.gateway)
                return Reply({}, gateway_status=fault.gateway)
            envelope = {"success": True, "t": self.world.now_ms(), "result": outcome.result, "tid": tid}
            self._record_request(seq, method, shown, action, None, executed, lost, tid="" if lost else tid)
            return Reply(envelope, fault.lose if lost and fault is not None else None)
        except APIError as error:
            self._record_request(seq, method, shown, action, error.code, executed, lost, tid=tid)
            envelope = {
                "success": False,
                "code": error.code,
                "msg": error.msg,
                "t": self.world.now_ms(),
                "tid": tid,
            }
            return Reply(envelope)

    def _execute(self, call: Call) -> Outcome:
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
        http_status: int = 200,
        *,
        tid: str = "",
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
            http_status=http_status,
            tid=tid,
        )
        self.requests.append(record)
        answer = code if code is not None else ("ok" if http_status == 200 else f"HTTP {http_status}")
        logger.debug("%s %s -> %s", method, path, answer)
        self.notify_watchers()


def _tid() -> str:
    return uuid.uuid4().hex
