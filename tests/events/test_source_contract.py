"""The Source contract seen from a stand-in source, the stream's own guards, and the typed options."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import pytest

from lockcloud import LockCloud, ValidationError
from lockcloud.events import (
    EventStream,
    MemoryDeadLetters,
    Outcome,
    PlaintextPulsarWarning,
    PulsarOptions,
    PulsarSource,
    Source,
    SourceMessage,
    WebhookSource,
)

GUARD = 30.0


class ScriptedSource:
    """Serves the given messages once, then waits; records what the stream tells it."""

    description = "scripted"

    def __init__(self, messages: list[SourceMessage]) -> None:
        self.messages = messages
        self.more = asyncio.Event()
        self.acknowledged: list[object] = []
        self.redelivered: list[object] = []
        self.outcomes: dict[object, Outcome] = {}
        self.closed = False

    async def open(self) -> None:
        pass

    async def receive(self) -> Sequence[SourceMessage]:
        while not self.messages:
            self.more.clear()
            await self.more.wait()
        batch, self.messages = self.messages, []
        return batch

    def send(self, message: SourceMessage) -> None:
        self.messages.append(message)
        self.more.set()

    def acknowledge(self, message: SourceMessage) -> None:
        self.acknowledged.append(message.key)

    def redeliver(self, message: SourceMessage) -> None:
        self.redelivered.append(message.key)

    def report(self, message: SourceMessage, outcome: Outcome) -> None:
        self.outcomes[message.key] = outcome

    async def resubscribe(self) -> None:
        pass

    async def close(self, grace: float) -> None:
        self.closed = True


def message(payload: bytes, key: str, defect: str | None = None) -> SourceMessage:
    return SourceMessage(payload, {"em": "aes_gcm"}, key, message_id=key, defect=defect)


async def wait_until(condition: Any) -> None:
    async with asyncio.timeout(GUARD):
        while not condition():  # noqa: ASYNC110 - the stream's counters have no event to wait on
            await asyncio.sleep(0.01)


async def test_a_batch_is_deduped_decoded_dead_lettered_and_reported(push: Any) -> None:
    source = ScriptedSource(
        [
            message(push.enrollment(1), "a"),
            message(push.enrollment(1), "a"),  # a redelivery within the batch
            message(b"\x00\xff frame", "b", defect="the frame is not UTF-8"),
            message(push.build.tampered(push.enrollment(2)), "c"),
            message(push.enrollment(3), "d"),
        ]
    )
    assert isinstance(source, Source)
    async with EventStream(source, push.SECRET) as stream:
        events = [await anext(stream) for _ in range(2)]
        assert [event.period for event in events] == [1, 3]
        # The source-side defect and the undecodable message are dead letters, acknowledged once kept.
        sink = stream.dead_letters
        assert isinstance(sink, MemoryDeadLetters)
        assert sink.letters[0].reason == "the frame is not UTF-8"
        assert len(sink) == 2
        assert source.outcomes == {
            "a": Outcome.DUPLICATE,
            "b": Outcome.DEAD_LETTER,
            "c": Outcome.DEAD_LETTER,
            "d": Outcome.BUFFERED,
        }
    # "a" twice (original and redelivery), the two dead letters, and "d" when the loop ended cleanly.
    assert sorted(source.acknowledged) == ["a", "a", "b", "c", "d"]
    assert source.closed


async def test_a_failing_sink_leaves_the_message_unacknowledged(push: Any) -> None:
    def broken(letter: Any) -> None:
        raise OSError("disk full")

    source = ScriptedSource([message(push.build.tampered(push.enrollment(1)), "x")])
    async with EventStream(source, push.SECRET, dead_letters=broken) as stream:
        await wait_until(lambda: "x" in source.outcomes)
    assert source.outcomes["x"] is Outcome.DEAD_LETTER_FAILED
    assert source.acknowledged == []
    assert stream.stats.dead_letter_failures == 1


async def test_a_subscriber_that_raises_gives_its_message_up_for_redelivery(push: Any) -> None:
    source = ScriptedSource([message(push.enrollment(1), "k")])
    async with EventStream(source, push.SECRET, firehose=False) as stream:
        subscription = stream.subscribe()

        async def fail() -> None:
            async with subscription:
                await anext(subscription)
                raise RuntimeError("handler failed")

        with pytest.raises(RuntimeError):
            await fail()
        assert source.redelivered == ["k"]
        assert source.acknowledged == []
        # Forgotten by the dedupe window: the redelivery is delivered again.
        again = stream.subscribe()
        source.send(message(push.enrollment(1), "k"))
        async with asyncio.timeout(GUARD):
            assert (await anext(again)).period == 1


async def test_a_message_waiting_for_a_full_recipient_is_neither_acknowledged_nor_reported_when_closing(
    push: Any,
) -> None:
    source = ScriptedSource([])
    async with EventStream(source, push.SECRET, buffer_size=5) as stream:
        stream.subscribe(buffer_size=1)  # never read: full after the first event
        for index, key in enumerate("abc"):
            source.send(message(push.enrollment(index), key))
        async with asyncio.timeout(GUARD):
            first, second = await anext(stream), await anext(stream)
        assert (first.period, second.period) == (0, 1)
        stream.ack(second)
        await asyncio.sleep(0.05)
        # "a" is still held by the subscription, "b" waits for room in it, "c" was not taken.
        assert source.acknowledged == []
        assert source.outcomes == {"a": Outcome.BUFFERED}
        assert stream.stats.buffered == 1
    assert source.acknowledged == []
    assert source.outcomes == {"a": Outcome.BUFFERED}


_COLLECTED = """
import asyncio, gc, sys, warnings, weakref
from lockcloud.events import EventStream, WebhookSource

async def leave_open():
    stream = EventStream(WebhookSource(insecure=True), "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC")
    await stream.open()
    return weakref.ref(stream)

async def close_properly():
    async with EventStream(WebhookSource(insecure=True), "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC") as stream:
        pass
    return weakref.ref(stream)

async def main():
    make = leave_open if sys.argv[1] == "open" else close_properly
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        collected = await make()
        await asyncio.sleep(0)
        gc.collect()
        await asyncio.sleep(0.05)  # the orphaned pump's cancellation runs
    print("collected" if collected() is None else "alive")
    for warning in caught:
        print(warning.category.__name__, warning.message)

asyncio.run(main())
"""


@pytest.mark.parametrize("how", ["open", "closed"])
def test_an_open_stream_left_to_the_garbage_collector_warns(how: str) -> None:
    # In a process of its own: this suite's secret guard keeps every stream of a test alive until its end.
    result = subprocess.run(
        [sys.executable, "-c", _COLLECTED, how], capture_output=True, text=True, check=True, timeout=60
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "collected", result.stdout
    warned = [line for line in lines[1:] if line.startswith("ResourceWarning")]
    if how == "open":
        assert len(warned) == 1
        assert "unclosed event stream" in warned[0]
    else:
        assert warned == []
    assert "destroyed but it is pending" not in result.stderr, result.stderr


def test_a_plaintext_url_to_another_host_warns_once_per_host() -> None:
    def source(url: str) -> PulsarSource:
        return PulsarSource(PulsarOptions(url=url, access_id="id", access_secret="s" * 32))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for url in (
            "pulsar://198.51.100.7:6650",
            "pulsar://198.51.100.7:6650",
            "pulsar://broker.example.net:6650",
        ):
            source(url)
    assert [type(w.message) for w in caught] == [PlaintextPulsarWarning] * 2
    assert "in clear" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlaintextPulsarWarning)
        source("pulsar://127.0.0.1:6650")
        source("pulsar://localhost:6650")
        source("pulsar+ssl://mqe.tuyaeu.com:7285/")


@pytest.mark.parametrize(
    "options",
    [
        {"url": "http://mqe.tuyaeu.com:7285"},
        {"subscription_type": "fast"},
        {"initial_position": "middle"},
        {"connect_timeout": 0},
        {"receive_window": 0},
        {"log_level": "loud"},
        {"access_id": ""},
    ],
)
def test_bad_pulsar_options_are_refused_before_anything_is_sent(options: dict[str, Any]) -> None:
    arguments = {"url": "pulsar+ssl://mqe.tuyaeu.com:7285/", "access_id": "id", "access_secret": "s" * 32}
    with pytest.raises(ValidationError):
        PulsarOptions(**{**arguments, **options})


async def test_the_stream_takes_only_a_source(push: Any) -> None:
    with pytest.raises(ValidationError, match="Source protocol"):
        EventStream("pulsar://127.0.0.1:6650", push.SECRET)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        EventStream(WebhookSource(insecure=True), push.SECRET, buffer_size=0)
    async with LockCloud("id", "s" * 32) as cloud:
        with pytest.raises(TypeError):
            cloud.events(firehos=False)  # type: ignore[typeddict-unknown-key]


def test_mypy_catches_misspelt_events_and_enroll_options(tmp_path: Any) -> None:
    program = tmp_path / "misspelt.py"
    program.write_text(
        "from lockcloud import LockCloud\n"
        "cloud = LockCloud('id', 'secret')\n"
        "cloud.events(firehos=False)\n"
        "cloud.events(firehose=False, pulsar_log_level='error')\n"
        "cloud.enroll('dev', user_id='u', user_type=1, unlock_type='card', idle_timout=5)\n"
        "cloud.enroll('dev', user_id='u', user_type=1, unlock_type='card', idle_timeout=5)\n"
        "cloud.events(transport='mqtt')\n"
        "cloud.events(transport='websocket', ack_timeout=1.0, ping_interval=5.0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(program)],
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 3, result.stdout
    assert "firehos" in errors[0]
    assert "idle_timout" in errors[1]
    assert "mqtt" in errors[2]
