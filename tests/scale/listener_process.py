"""A listener process for the scale tests: one ``EventStream`` on the project's Failover subscription.

Run as ``python listener_process.py URL NAME OUT [STALL_AFTER]``. It prints ``ready`` once subscribed, then appends
one JSON line per event to OUT (written and flushed before the event is acknowledged, so whatever the broker saw
acknowledged is on disk), and on SIGTERM closes the stream and writes its ``stats`` to ``OUT.stats``. With
STALL_AFTER it hangs in the body of that event (as a handler waiting on a dead downstream would), holding it and
everything prefetched unacknowledged.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import TextIO

import attrs

from lockcloud.events import EventStream, PulsarOptions, PulsarSource, StatusReport, StreamStats

ACCESS_ID = "scaleproject00000"
SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"


async def listen(url: str, name: str, sink: TextIO, log_file: str, stall_after: int | None) -> StreamStats:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    source = PulsarSource(
        PulsarOptions(
            url=url,
            access_id=ACCESS_ID,
            access_secret=SECRET,
            consumer_name=name,
            initial_position="earliest",
            # A colliding subscribe on pulsar-lite costs one connect timeout before the retry.
            connect_timeout=3.0,
            operation_timeout=3.0,
            # A small prefetch, so that a stalled listener stops taking messages and its socket falls quiet
            # before it is killed (see test_failover.py for why that matters to pulsar-lite).
            receiver_queue_size=100,
            receive_window=100,
            log_file=log_file,
        )
    )
    stream = EventStream(source, SECRET, close_timeout=2.0)
    async with stream:
        print("ready", flush=True)
        stopping = asyncio.ensure_future(stop.wait())
        taken = 0
        while not stop.is_set():
            receiving = asyncio.ensure_future(anext(stream))
            await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                receiving.cancel()
                break
            event = receiving.result()
            assert isinstance(event, StatusReport)
            sink.write(json.dumps({"data_id": event.data_id, "message_id": event.message_id}) + "\n")
            sink.flush()
            taken += 1
            if taken == stall_after:
                await stopping
    return stream.stats


def main(url: str, name: str, out: str, stall_after: str | None = None) -> None:
    with open(out, "a", encoding="utf-8") as sink:
        stall = int(stall_after) if stall_after else None
        stats = asyncio.run(listen(url, name, sink, out + ".pulsar.log", stall))
    with open(out + ".stats", "w", encoding="utf-8") as file:
        json.dump(attrs.asdict(stats), file)


if __name__ == "__main__":
    main(*sys.argv[1:5])
