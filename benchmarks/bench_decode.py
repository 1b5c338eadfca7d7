"""Push-message decoding and broker-to-typed-event throughput.

1. A ``Decoder`` (what a stream uses: one per access secret, reused) on ``doorUnlockMethodStatus`` envelopes (GCM
   and ECB): envelope JSON, base64, AES, body JSON and the checked ``EnrollmentProgress``; against the bare work
   with no checks or model (``json.loads`` + pycryptodome + ``json.loads``), timed in alternating rounds.
2. An ``EventStream`` over a ``PulsarSource`` draining a backlog from a local pulsar-lite broker into typed events
   (with dedupe, cursors and acknowledgements); against a bare ``pulsar.asyncio`` consumer that receives and
   acknowledges the same backlog, with and without doing the bare decryption + JSON work itself. Each round
   drains the whole backlog through a fresh subscription; sides alternate.

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
import pulsar.asyncio
from _harness import bare_consumer, event_stream, interleaved, print_table, row, save, take
from Crypto.Cipher import AES

from lockcloud._core.wire import MessageEncryption, topic_for
from lockcloud.events import Decoder, EnrollmentProgress
from lockcloud.events._pulsar import native_threads, threads_alive
from lockcloud.sim.broker import LocalBroker
from lockcloud.testing import PushBuilder

ACCESS_ID = "benchprojectid000"
SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"
TOPIC = topic_for(ACCESS_ID)
KEY = SECRET[8:24].encode()
T0 = 1_700_000_000_000
#: The messages of the benchmark, made and encrypted by the simulator's own encoder.
BUILD = PushBuilder(SECRET, product_key="keyj3w8gdrsrxzya", clock=lambda: T0)
DEVICE_ID = "6c8e1f2a9b3d4e5f60a1"


def _envelope(index: int, em: MessageEncryption) -> bytes:
    message = BUILD.enrollment(DEVICE_ID, period=index % 5, total_period=5, t=T0 + index)
    payload, _ = BUILD.encode(message, em=em)
    return payload


def _bare_decode(payload: bytes, em: str) -> Any:
    """What any consumer must do at the least: parse, decrypt, parse. No validation, no model."""
    raw = base64.b64decode(json.loads(payload)["data"])
    if em == "aes_gcm":
        plaintext = AES.new(KEY, AES.MODE_GCM, nonce=raw[:12]).decrypt_and_verify(raw[12:-16], raw[-16:])
    else:
        padded = AES.new(KEY, AES.MODE_ECB).decrypt(raw)
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
                "pycryptodome + json.loads, no structuring",
            )
        )
    return rows


async def _drain_with_stream(url: str, subscription: str, count: int) -> None:
    async with event_stream(url, ACCESS_ID, SECRET, subscription, buffer_size=500) as stream:
        await take(stream, count, EnrollmentProgress)


async def _drain_bare(url: str, subscription: str, count: int, *, decode: bool) -> None:
    client = pulsar.asyncio.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    try:
        consumer = await bare_consumer(client, TOPIC, subscription, receiver_queue_size=500)
        seen: set[str] = set()
        while len(seen) < count:
            message = await consumer.receive()
            seen.add(str(message.message_id()))  # the same dedupe a correct consumer needs
            if decode:
                _bare_decode(message.data(), message.properties().get("em", "aes_ecb"))
            await consumer.acknowledge(message)
        await consumer.close()
    finally:
        await client.close()


def _publish_backlog(url: str, messages: int, em: str) -> None:
    client = pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    producer = client.create_producer(TOPIC, batching_enabled=False)
    for index in range(messages):
        producer.send(_envelope(index, em), properties={"em": em})
        if index % 100 == 99:
            time.sleep(0.05)  # pulsar-lite misbehaves on backlogs published too fast
    client.close()


#: Each cipher gets a backlog (and a broker) of its own. With ECB the bare crypto is cheap, so that figure is
#: mostly the stream's own cost per message.
_BACKLOGS = (("aes_gcm", "GCM"), ("aes_ecb", "ECB"))


async def measure_broker(messages: int, rounds: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for em, label in _BACKLOGS:
        rows += await _measure_broker_backlog(messages, rounds, em, label)
    return rows


async def _measure_broker_backlog(messages: int, rounds: int, em: str, label: str) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as data_dir, LocalBroker(data_dir, log_level="error") as broker:
        await asyncio.to_thread(_publish_backlog, broker.url, messages, em)

        counter = iter(range(10**9))

        async def timed(drain: Callable[[str], Awaitable[None]]) -> float:
            started = time.perf_counter()
            async with asyncio.timeout(120):
                await drain(f"bench-{next(counter)}")
            return (time.perf_counter() - started) / messages

        sides: dict[str, Callable[[str], Awaitable[None]]] = {
            "stream": lambda sub: _drain_with_stream(broker.url, sub, messages),
            "bare": lambda sub: _drain_bare(broker.url, sub, messages, decode=False),
            "bare+decode": lambda sub: _drain_bare(broker.url, sub, messages, decode=True),
        }
        for drain in sides.values():  # warm-up
            await timed(drain)
        times: dict[str, list[float]] = {name: [] for name in sides}
        for index in range(rounds):
            order = list(sides.items())
            if index % 2:
                order.reverse()
            for name, drain in order:
                times[name].append(await timed(drain))
        median = {name: statistics.median(values) for name, values in times.items()}
    # The GCM figure keeps its original name, so that results.json compares across runs.
    cipher = "" if em == "aes_gcm" else f", {label}"
    figure = f"broker -> typed event, {messages:,} msg backlog{cipher} (per message)"
    rates = ", ".join(f"{name} {1 / value:,.0f} events/s" for name, value in median.items())
    return [
        row(figure, median["stream"], median["bare"], "s", "bare pulsar.asyncio consumer: receive + ack"),
        row(
            f"{figure}, vs bare + decode",
            median["stream"],
            median["bare+decode"],
            "s",
            "bare consumer: receive + decrypt + json.loads + ack",
            note=f"medians of {rounds} rounds: {rates}",
        ),
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
        print(
            f"{r['figure']}: lockcloud {1 / r['lockcloud']:,.0f} msg/s, "
            f"{r['baseline_name']} {1 / r['baseline']:,.0f} msg/s (lockcloud takes {r['ratio']:.2f}x the time)"
        )
    save(rows)


if __name__ == "__main__":
    main()
