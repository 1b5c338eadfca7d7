"""Processes of the cross-worker enrollment test: a relaying listener, or a web worker reading the relay.

``python relay_process.py listen PULSAR_URL REDIS_URL NAME ACCESS_ID SECRET LOG`` forwards the project's
subscription to Redis until SIGTERM, then prints its stats as one JSON line.

``python relay_process.py web BASE_URL REDIS_URL ACCESS_ID SECRET DEVICE USER`` opens a relay stream
(``cloud.events(relay=...)``), prints ``ready``, and reads one command from stdin: ``enroll`` (enroll a
fingerprint on DEVICE for USER with ``events=stream``, printing each progress and then the result) or ``watch``
(print the lock's progress as it arrives, until it finishes). Every line it prints is JSON.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import attrs

from lockcloud import LockCloud, UnlockType, UserType
from lockcloud.events import EnrollmentProgress, PulsarOptions, PulsarSource, RedisRelayForwarder


async def listen(pulsar_url: str, redis_url: str, name: str, access_id: str, secret: str, log: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    source = PulsarSource(
        PulsarOptions(
            url=pulsar_url,
            access_id=access_id,
            access_secret=secret,
            consumer_name=name,
            initial_position="earliest",
            # A colliding subscribe on pulsar-lite costs one connect timeout before the retry.
            connect_timeout=3.0,
            operation_timeout=3.0,
            log_file=log,
        )
    )
    async with RedisRelayForwarder(source, redis_url, access_id) as forwarder:
        print(json.dumps({"ready": name}), flush=True)
        running = asyncio.create_task(forwarder.run())
        await stop.wait()
        running.cancel()
        await asyncio.wait([running])
    print(json.dumps(attrs.asdict(forwarder.stats)), flush=True)


def progress_line(progress: EnrollmentProgress) -> str:
    return json.dumps(
        {"period": progress.period, "finish": progress.finish, "message_id": progress.message_id}
    )


async def web(base_url: str, redis_url: str, access_id: str, secret: str, device: str, user: str) -> None:
    async with (
        LockCloud(access_id, secret, base_url=base_url) as cloud,
        cloud.events(relay=redis_url, firehose=False) as stream,
    ):
        watching = stream.enrollment_progress(device)
        print(json.dumps({"ready": True}), flush=True)
        command = (await asyncio.to_thread(sys.stdin.readline)).strip()
        if command == "enroll":
            watching.close()
            async with cloud.enroll(
                device,
                user_id=user,
                user_type=UserType.HOME_USER,
                unlock_type=UnlockType.FINGERPRINT,
                events=stream,
            ) as enrollment:
                async for progress in enrollment:
                    print(progress_line(progress), flush=True)
            result = enrollment.result
            print(json.dumps({"result": str(result.status.value), "key": result.key is not None}), flush=True)
        else:
            async with watching:
                async for progress in watching:
                    print(progress_line(progress), flush=True)
                    if progress.finish:
                        break
            print(json.dumps({"result": "watched"}), flush=True)


if __name__ == "__main__":
    role, *arguments = sys.argv[1:]
    asyncio.run(listen(*arguments) if role == "listen" else web(*arguments))
