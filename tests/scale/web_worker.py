"""A web worker of the cross-worker enrollment test, reading the relay (the listeners are ``listener_process.py``).

``python web_worker.py BASE_URL REDIS_URL ACCESS_ID SECRET DEVICE USER`` opens a relay stream
(``cloud.events(relay=...)``), prints ``ready``, and reads one command from stdin: ``enroll`` (enroll a
fingerprint on DEVICE for USER with ``events=stream``, printing each progress and then the result) or ``watch``
(print the lock's progress as it arrives, until it finishes). Every line it prints is JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

from lockcloud import LockCloud, UnlockType, UserType
from lockcloud.events import EnrollmentProgress


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
    asyncio.run(web(*sys.argv[1:8]))
