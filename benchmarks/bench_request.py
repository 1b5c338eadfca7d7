"""Per-call cost of ``LockCloud.request`` against a bare ``httpx.AsyncClient`` call on the same MockTransport.

Both sides send a GET with a query and a POST with a JSON body and parse the JSON answer; lockcloud additionally
signs, tracks the token and the server clock and decodes the envelope. Target: at most 1.3x bare httpx.

    python benchmarks/bench_request.py
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from _harness import interleaved, print_table, row, save

from lockcloud import LockCloud

BASE = "https://openapi.bench"


def _handler(request: httpx.Request) -> httpx.Response:
    t = int(time.time() * 1000)
    if request.url.path == "/v1.0/token":
        result: Any = {"access_token": "a" * 32, "refresh_token": "r" * 32, "expire_time": 7200, "uid": "u"}
    else:
        result = {"unlock_keys": [{"unlock_no": 1, "unlock_type": "fingerprint", "hijack": False}]}
    return httpx.Response(200, json={"success": True, "t": t, "result": result, "tid": "bench"})


async def measure() -> list[dict[str, Any]]:
    transport = httpx.MockTransport(_handler)
    bare = httpx.AsyncClient(transport=transport, base_url=BASE)
    shared = httpx.AsyncClient(transport=transport)
    path = "/v1.0/devices/dev1/door-lock/user-types/2/users/u1/assigned-keys"
    async with LockCloud("bench-id", "b" * 32, base_url=BASE, http_client=shared) as cloud:

        async def lockcloud_get() -> object:
            return await cloud.request("GET", path, params={"unlock_type": "card"})

        async def bare_get() -> object:
            response = await bare.get(path, params={"unlock_type": "card"})
            return json.loads(response.content)["result"]

        async def lockcloud_post() -> object:
            return await cloud.request(
                "POST",
                "/v1.0/devices/dev1/door-lock/remote-unlock/config",
                json={"remote_unlock_type": "remoteUnlockWithoutPwd", "open": True},
                idempotent=True,
            )

        async def bare_post() -> object:
            body = json.dumps({"remote_unlock_type": "remoteUnlockWithoutPwd", "open": True}).encode()
            response = await bare.post(
                "/v1.0/devices/dev1/door-lock/remote-unlock/config",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            return json.loads(response.content)["result"]

        get_subject, get_base = await interleaved(lockcloud_get, bare_get)
        post_subject, post_base = await interleaved(lockcloud_post, bare_post)
    await bare.aclose()
    await shared.aclose()
    return [
        row("request GET, MockTransport (per call)", get_subject, get_base, "s", "bare httpx"),
        row("request POST, MockTransport (per call)", post_subject, post_base, "s", "bare httpx"),
    ]


def main() -> None:
    rows = asyncio.run(measure())
    print_table(rows)
    save(rows)


if __name__ == "__main__":
    main()
