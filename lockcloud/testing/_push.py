"""Push messages for tests: built and encrypted exactly as the simulator builds and encrypts its own, and published
to a project's topic the way Tuya publishes them."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from lockcloud._core.errors import ValidationError
from lockcloud._core.wire import (
    DEVICE_EVENT_PROTOCOL,
    ENCRYPTION_PROPERTY,
    ENVELOPE_VERSION,
    PRODUCTION_ENV,
    STATUS_REPORT_PROTOCOL,
    MessageEncryption,
)
from lockcloud.enums import UnlockMethodEvent
from lockcloud.sim._publisher import PulsarPublisher
from lockcloud.sim._push import (
    PushMessage,
    device_event,
    encode_push,
    enrollment_push,
    event_push,
    seal,
    status_report,
)

if TYPE_CHECKING:
    from lockcloud.events import Event, StatusReport
    from lockcloud.sim import SimServer, Simulator

__all__ = ["PushBuilder", "PushPublisher"]


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


@attrs.frozen
class _Device:
    device_id: str
    product_key: str
    uuid: str


@attrs.frozen
class PushBuilder:
    """Builds push messages of one project and encrypts them into Tuya's envelope.

    The messages are :class:`lockcloud.sim.PushMessage` objects, the ones the simulator itself pushes, and
    :meth:`encode` is the simulator's own encoder. Made for a simulator (:meth:`for_simulator`), a message of one
    of its locks carries that lock's product key and uuid and the simulated clock's time; otherwise
    ``product_key`` and a uuid derived from the device id, and the wall clock::

        build = PushBuilder(access_secret)
        payload, properties = build.encode(build.enrollment("lock-1", period=3, total_period=5))
        payload, properties = build.encode(build.event(LockAlarm, "lock-1", kind=AlarmKind.DOORBELL))

    :meth:`event` builds any event type of the registry (``lockcloud.events.REGISTRY``) from its fields.

    For tests of what a consumer does with bad data, :meth:`envelope` seals any plaintext (not JSON, a list, a
    wrong shape) under any secret, :meth:`with_data` puts anything in the envelope's ``data`` and
    :meth:`tampered` flips a bit of a GCM tag.
    """

    access_secret: str = attrs.field(repr=False)
    product_key: str = "lockcloudtestpk1"
    clock: Callable[[], int] = attrs.field(default=_wall_clock_ms, repr=False)
    simulator: Simulator | None = attrs.field(default=None, repr=False)

    @classmethod
    def for_simulator(cls, simulator: Simulator) -> PushBuilder:
        return cls(simulator.access_secret, clock=simulator.world.now_ms, simulator=simulator)

    def _device(self, device_id: str) -> _Device:
        if not device_id:
            raise ValidationError("device_id is required")
        if self.simulator is not None and device_id in self.simulator.world.locks:
            lock = self.simulator.world.locks[device_id]
            return _Device(lock.device_id, lock.product_key, lock.uuid)
        return _Device(device_id, self.product_key, f"uuid-{device_id}")

    # -- messages -----------------------------------------------------------------------------------------------

    def event(
        self, model: type[Event], device_id: str, *, t: int | None = None, **fields: Any
    ) -> PushMessage:
        """A message that decodes to ``model`` with ``fields``, the event's own fields as it has them, written by
        the event registry's entry for ``model`` (as the simulator writes its own)::

            build.event(LockAlarm, "lock-1", kind=AlarmKind.DOORBELL)
            build.event(EnrollmentProgress, "lock-1", event=UnlockMethodEvent.ENTRY, period=2, total_period=3)
            build.event(DeviceEvent, "lock-1", biz_code="online", biz_data={})
        """
        from lockcloud.events import registered_models

        if model not in registered_models():
            known = ", ".join(sorted(m.__name__ for m in registered_models()))
            raise ValidationError(
                f"model {getattr(model, '__name__', model)!r} is no registered event type ({known})"
            )
        names = {f.name for f in attrs.fields(model)}
        unknown = sorted(set(fields) - names)
        if unknown:
            raise ValidationError(f"{model.__name__} has no field {unknown[0]!r}")
        device = self._device(device_id)
        try:
            return event_push(device, model, self.clock() if t is None else t, **fields)
        except KeyError as exc:
            raise ValidationError(f"{model.__name__} needs the field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"cannot build {model.__name__} from these fields: {exc}") from None

    def device_event(
        self, device_id: str, biz_code: str, biz_data: Mapping[str, Any], *, t: int | None = None
    ) -> PushMessage:
        """A protocol 20 device event (``{bizCode, bizData, devId, productKey, ts, uuid}``)."""
        return device_event(self._device(device_id), biz_code, biz_data, self.clock() if t is None else t)

    def enrollment(
        self,
        device_id: str,
        period: int,
        *,
        total_period: int | None = None,
        finish: bool = False,
        raised: bool = True,
        operate: int = 1,
        event: UnlockMethodEvent | str = UnlockMethodEvent.ENTRY,
        t: int | None = None,
    ) -> PushMessage:
        """A ``doorUnlockMethodStatus`` event: ``period`` presses to go (``operate`` 2 for a cancel)."""
        return enrollment_push(
            self._device(device_id),
            self.clock() if t is None else t,
            event=UnlockMethodEvent(event),
            operate=operate,
            raised=raised,
            finish=finish,
            period=period,
            total_period=total_period,
        )

    def status(self, device_id: str, status: Mapping[str, Any], *, t: int | None = None) -> PushMessage:
        """A protocol 4 status report, one item per ``code -> value`` (``{"closed_opened": "open"}``)."""
        return status_report(self._device(device_id), status, self.clock() if t is None else t)

    def lock_report(
        self, device_id: str, event_type: type[StatusReport], code: str, value: Any, *, t: int | None = None
    ) -> PushMessage:
        """A protocol 4 report that decodes to ``event_type`` (``LockUnlocked``, ``LockAlarm`` ...): ``code`` must be
        one the event registry maps to it (``build.lock_report(door, LockUnlocked, "unlock_card", 3)``)."""
        from lockcloud.events import REGISTRY

        registration = REGISTRY.get((STATUS_REPORT_PROTOCOL, code))
        if registration is None or registration.model is not event_type:
            codes = sorted(
                str(r.code)
                for r in REGISTRY.values()
                if r.model is event_type and r.protocol == STATUS_REPORT_PROTOCOL and r.code is not None
            )
            raise ValidationError(
                f"{code!r} is not a code of {event_type.__name__} (one of {', '.join(codes)})"
            )
        return self.status(device_id, {code: value}, t=t)

    # -- envelopes ----------------------------------------------------------------------------------------------

    def encode(
        self, message: PushMessage, *, em: MessageEncryption = "aes_gcm"
    ) -> tuple[bytes, dict[str, str]]:
        """The payload and message properties Tuya would publish for ``message``."""
        return encode_push(message, self.access_secret, em)

    def envelope(
        self,
        body: Any,
        *,
        em: MessageEncryption | None = "aes_gcm",
        secret: str | None = None,
        protocol: int = DEVICE_EVENT_PROTOCOL,
        t: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """Any ``body`` sealed as Tuya would: bytes as they are, anything else as JSON; ``secret`` to encrypt
        under another project's secret; ``em=None`` for a message without the ``em`` property (ECB)."""
        plaintext = body if isinstance(body, bytes) else json.dumps(body).encode()
        payload = seal(
            plaintext,
            self.access_secret if secret is None else secret,
            em,
            protocol=protocol,
            t=self.clock() if t is None else t,
        )
        return payload, _properties(em)

    def with_data(
        self, data: Any, *, em: MessageEncryption | None = "aes_gcm", protocol: int = DEVICE_EVENT_PROTOCOL
    ) -> tuple[bytes, dict[str, str]]:
        """An envelope whose ``data`` is ``data`` itself, not encrypted (bad base64, a ciphertext too short ...)."""
        document = {"data": data, "protocol": protocol, "pv": ENVELOPE_VERSION, "sign": "", "t": self.clock()}
        return json.dumps(document).encode(), _properties(em)

    @staticmethod
    def tampered(payload: bytes) -> bytes:
        """``payload`` with the last bit of its ``data`` flipped: for GCM, a tag that no longer authenticates."""
        document = json.loads(payload)
        raw = bytearray(base64.b64decode(document["data"]))
        raw[-1] ^= 0x01
        document["data"] = base64.b64encode(bytes(raw)).decode()
        return json.dumps(document).encode()


def _properties(em: MessageEncryption | None) -> dict[str, str]:
    return {ENCRYPTION_PROPERTY: em} if em else {}


class PushPublisher(PulsarPublisher):
    """Publishes push messages to ``{access_id}/out/{env}`` on a Pulsar broker, one envelope per message with
    ``em`` as a message property and the device id as the message key, the way Tuya does::

        async with PushPublisher.for_server(server) as push:
            await push.publish(push.build.enrollment(device_id, period=2))
            await push.send(b"not a Tuya envelope")        # raw bytes, for dead-letter tests

    Each call returns once the broker has stored the message; a broker that cannot be reached raises
    :class:`lockcloud.sim.BrokerUnavailableError` when the publisher starts. ``build`` is the :class:`PushBuilder`
    of the project, whose :meth:`PushBuilder.encode` encrypts what :meth:`publish` sends. The pulsar-client log
    goes to ``log_file`` (errors only), or to the console. It is the simulator's own publisher
    (:meth:`submit` and :meth:`drain` queue messages as the simulator does).
    """

    def __init__(
        self,
        url: str,
        access_id: str,
        access_secret: str,
        *,
        env: str = PRODUCTION_ENV,
        log_file: str | None = None,
        build: PushBuilder | None = None,
    ) -> None:
        super().__init__(url, access_id, access_secret, env=env, log_file=log_file, log_level="error")
        self.build = build if build is not None else PushBuilder(access_secret)

    @classmethod
    def for_server(cls, server: SimServer, *, log_file: str | None = None) -> PushPublisher:
        """A publisher to a served simulator's broker, building messages of its locks on its clock."""
        if server.pulsar_url is None:
            raise ValidationError("the simulator is served without a broker (running(broker=False))")
        simulator = server.simulator
        return cls(
            server.pulsar_url,
            simulator.access_id,
            simulator.access_secret,
            env=server.env,
            log_file=log_file,
            build=PushBuilder.for_simulator(simulator),
        )

    def __repr__(self) -> str:
        return f"PushPublisher(url={self.url!r}, topic={self.topic!r})"

    def encode(self, message: PushMessage, em: MessageEncryption) -> tuple[bytes, dict[str, str]]:
        return self.build.encode(message, em=em)

    async def aclose(self) -> None:
        """Close producer and client, and wait (briefly) for the client's native threads to end."""
        await self.close()
