"""Push-message decoding and broker-to-typed-event throughput.

1. A ``Decoder`` (what a stream uses: one per access secret, reused) on ``doorUnlockMethodStatus`` envelopes (GCM
   and ECB): envelope JSON, base64, AES, body JSON and the checked ``EnrollmentProgress``; against the bare work
   with no checks or model (``json.loads`` + a reused AESGCM / ECB cipher + ``json.loads``), alternating rounds.
2. One broker holding the same messages twice, a GCM backlog and an ECB backlog (a topic each). Four sides drain
   them in alternating rounds, each through a fresh subscription, open and close included: an ``EventStream``
   over a ``PulsarSource`` (typed events, dedupe, cursors, acknowledgements) on each backlog, and a bare
   pulsar-client consumer (on a thread: ``receive()`` + ``acknowledge()``, nothing else) on each. Reported:
   events/s against the bare consumer, GCM against ECB, and the process CPU per event.

    python benchmarks/bench_decode.py [--quick] [--messages 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pulsar
from _harness import interleaved, print_table, row, save, take
from Crypto.Cipher import AES
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lockcloud._core.wire import MessageEncryption, topic_for
from lockcloud.events import Decoder, EnrollmentProgress, EventStream, PulsarOptions, PulsarSource
from lockcloud.events._pulsar import native_threads, threads_alive
from lockcloud.sim.broker import LocalBroker
from lockcloud.testing import PushBuilder

ACCESS_ID = "benchprojectid000"
SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"
KEY = SECRET[8:24].encode()
T0 = 1_700_000_000_000
#: The messages of the benchmark, made and encrypted by the simulator's own encoder.
BUILD = PushBuilder(SECRET, product_key="keyj3w8gdrsrxzya", clock=lambda: T0)
DEVICE_ID = "6c8e1f2a9b3d4e5f60a1"


def _envelope(index: int, em: MessageEncryption) -> bytes:
    message = BUILD.enrollment(DEVICE_ID, period=index % 5, total_period=5, t=T0 + index)
    payload, _ = BUILD.encode(message, em=em)
    return payload


_GCM = AESGCM(KEY)
_ECB = AES.new(KEY, AES.MODE_ECB)


def _bare_decode(payload: bytes, em: str) -> Any:
    """What any consumer must do at the least: parse, decrypt, parse. No validation, no model."""
    raw = base64.b64decode(json.loads(payload)["data"])
    if em == "aes_gcm":
        plaintext = _GCM.decrypt(raw[:12], raw[12:], None)
    else:
        padded = _ECB.decrypt(raw)
        plaintext = padded[: -padded[-1]]
    return json.loads(plaintext)


async def measure_decode() -> list[dict[str, Any]]:
    rows = []
    encryptions: tuple[tuple[MessageEncryption, str], ...] = (("aes_gcm", "GCM"), ("aes_ecb", "ECB"))
    for em, label in encryptions:
        payload = _envelope(3, em)
        properties: dict[str, str] = {"em": em}
        decoder = Decoder(SECRET)
        assert isinstance(decoder.decode(payload, properties, None), EnrollmentProgress)

        async def subject(
            payload: bytes = payload, properties: dict[str, str] = properties, decoder: Decoder = decoder
        ) -> object:
            return decoder.decode(payload, properties, "1:2:0")

        async def baseline(payload: bytes = payload, em: str = em) -> object:
            return _bare_decode(payload, em)

        subject_s, baseline_s = await interleaved(subject, baseline, rounds=15, per_round=2000, warmup=500)
        rows.append(
            row(
                f"decode doorUnlockMethodStatus {label} (per message)",
                subject_s,
                baseline_s,
                "s",
                "AESGCM / pycryptodome ECB + json.loads, no structuring",
            )
        )
    return rows


async def _drain_with_stream(url: str, env: str, subscription: str, count: int) -> None:
    source = PulsarSource(
        PulsarOptions(
            url=url,
            access_id=ACCESS_ID,
            access_secret=SECRET,
            env=env,
            subscription=subscription,
            initial_position="earliest",
            log_level="error",
        )
    )
    async with EventStream(source, SECRET, buffer_size=500) as stream:
        await take(stream, count, EnrollmentProgress)


def _drain_bare(url: str, env: str, subscription: str, count: int) -> None:
    """The floor: a plain pulsar-client consumer on a thread of its own, receive + acknowledge, nothing else."""
    client = pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    try:
        consumer = client.subscribe(
            topic_for(ACCESS_ID, env),
            subscription,
            consumer_type=pulsar.ConsumerType.Failover,
            initial_position=pulsar.InitialPosition.Earliest,
            receiver_queue_size=1000,
        )
        for _ in range(count):
            # A timeout, so that a broker that died fails the run instead of hanging it.
            consumer.acknowledge(consumer.receive(timeout_millis=30_000))
        consumer.close()
    finally:
        client.close()


def _publish_backlog(url: str, env: str, messages: int, em: str) -> None:
    client = pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    producer = client.create_producer(topic_for(ACCESS_ID, env), batching_enabled=False)
    for index in range(messages):
        producer.send(_envelope(index, em), properties={"em": em})
        if index % 100 == 99:
            time.sleep(0.05)  # pulsar-lite misbehaves on backlogs published too fast
    client.close()


#: One broker, one topic (env) per cipher, the same messages in each.
_BACKLOGS = (("aes_gcm", "gcm"), ("aes_ecb", "ecb"))


async def measure_broker(messages: int, rounds: int) -> list[dict[str, Any]]:
    """Four sides, alternating: the stream and the bare consumer, each over the GCM and the ECB backlog."""
    with tempfile.TemporaryDirectory() as data_dir, LocalBroker(data_dir, log_level="error") as broker:
        for em, env in _BACKLOGS:
            await asyncio.to_thread(_publish_backlog, broker.url, env, messages, em)

        counter = iter(range(10**9))

        async def timed(drain: Callable[[str], Awaitable[None]]) -> tuple[float, float]:
            started, cpu = time.perf_counter(), time.process_time()
            async with asyncio.timeout(120):
                await drain(f"bench-{next(counter)}")
            return (time.perf_counter() - started) / messages, (time.process_time() - cpu) / messages

        def stream(env: str) -> Callable[[str], Awaitable[None]]:
            return lambda sub: _drain_with_stream(broker.url, env, sub, messages)

        def bare(env: str) -> Callable[[str], Awaitable[None]]:
            return lambda sub: asyncio.to_thread(_drain_bare, broker.url, env, sub, messages)

        sides: dict[str, Callable[[str], Awaitable[None]]] = {
            "stream GCM": stream("gcm"),
            "stream ECB": stream("ecb"),
            "bare GCM": bare("gcm"),
            "bare ECB": bare("ecb"),
        }
        for drain in sides.values():  # warm-up
            await timed(drain)
        wall: dict[str, list[float]] = {name: [] for name in sides}
        cpu: dict[str, list[float]] = {name: [] for name in sides}
        for index in range(rounds):
            order = list(sides.items())
            if index % 2:
                order.reverse()
            for name, drain in order:
                took, used = await timed(drain)
                wall[name].append(took)
                cpu[name].append(used)
    rate = {name: 1 / statistics.median(values) for name, values in wall.items()}
    per_event = {name: statistics.median(values) for name, values in cpu.items()}
    note = f"medians of {rounds} rounds: " + ", ".join(
        f"{name} {rate[name]:,.0f}/s ({per_event[name] * 1e6:.1f} us CPU)" for name in sides
    )
    figure = f"broker -> typed event, {messages:,} msg backlog"
    bare_name = "bare pulsar-client consumer: receive + ack"
    return [
        row(
            f"{figure}, GCM (events/s)",
            rate["stream GCM"],
            rate["bare GCM"],
            "events/s",
            bare_name,
            note=note,
        ),
        row(f"{figure}, ECB (events/s)", rate["stream ECB"], rate["bare ECB"], "events/s", bare_name),
        row(
            f"{figure}, GCM vs ECB (events/s)",
            rate["stream GCM"],
            rate["stream ECB"],
            "events/s",
            "the stream on ECB",
        ),
        row(f"{figure}, GCM, CPU per event", per_event["stream GCM"], per_event["bare GCM"], "s", bare_name),
        row(f"{figure}, ECB, CPU per event", per_event["stream ECB"], per_event["bare ECB"], "s", bare_name),
    ]


async def measure(quick: bool = False) -> list[dict[str, Any]]:
    messages, rounds = (5000, 3) if quick else (20000, 5)
    return [*await measure_decode(), *await measure_broker(messages, rounds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="5,000 messages, 3 rounds (as run_all.py --quick)"
    )
    parser.add_argument("--messages", type=int)
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    messages, rounds = (5000, 3) if args.quick else (20000, 5)

    async def run() -> list[dict[str, Any]]:
        decode_rows = await measure_decode()
        return [*decode_rows, *await measure_broker(args.messages or messages, args.rounds or rounds)]

    before = native_threads()
    rows = asyncio.run(run())
    # pulsar-client may abort the interpreter at exit while a closed client's thread is still finishing.
    deadline = time.monotonic() + 2
    while threads_alive(native_threads() - before) and time.monotonic() < deadline:
        time.sleep(0.001)
    print_table(rows)
    print()
    for r in rows:
        if r["note"]:
            print(f"{r['figure']}: {r['note']}")
    save(rows)


if __name__ == "__main__":
    main()
