"""Per-call cost of ``LockCloud.request`` against a bare ``httpx.AsyncClient`` doing the same call.

1. On ``httpx.MockTransport`` (no network, no server): both sides send a GET with a query and a POST with a JSON
   body and parse the JSON answer; lockcloud additionally signs, tracks the token and the server clock and decodes
   the envelope. A third row compares with bare httpx that also signs every call by hand (HMAC-SHA256 over the
   same string to sign), to separate lockcloud's own overhead from the work any Tuya client must do.
2. Over loopback against the simulator (``lockcloud.sim``, served by uvicorn in a separate process): the same two
   calls; the baseline is bare httpx sending *pre-signed* requests (headers computed once, before timing, with a
   token lockcloud obtained), so it is the floor: the same bytes to the same server with no client-side work
   beyond httpx and ``json.loads``.

    python benchmarks/bench_request.py [--quick]
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
from _harness import interleaved, row, run_standalone
from _sim_server import SimProcess

from lockcloud import LockCloud
from lockcloud._core.signing import canonical_url, compute_sign, string_to_sign

BASE = "https://openapi.bench"
GET_PATH = "/v1.0/devices/dev1/door-lock/user-types/2/users/u1/assigned-keys"
POST_PATH = "/v1.0/devices/dev1/door-lock/remote-unlock/config"
POST_BODY = {"remote_unlock_type": "remoteUnlockWithoutPwd", "open": True}


def _handler(request: httpx.Request) -> httpx.Response:
    t = int(time.time() * 1000)
    if request.url.path == "/v1.0/token":
        result: Any = {"access_token": "a" * 32, "refresh_token": "r" * 32, "expire_time": 7200, "uid": "u"}
    else:
        result = {"unlock_keys": [{"unlock_no": 1, "unlock_type": "fingerprint", "hijack": False}]}
    return httpx.Response(200, json={"success": True, "t": t, "result": result, "tid": "bench"})


def _result(response: httpx.Response) -> Any:
    envelope = json.loads(response.content)
    if envelope.get("success") is not True:
        raise RuntimeError(f"baseline call failed: {envelope}")
    return envelope["result"]


async def measure_mock(quick: bool = False) -> list[dict[str, Any]]:
    rounds, per_round = (5, 100) if quick else (15, 200)
    transport = httpx.MockTransport(_handler)
    bare = httpx.AsyncClient(transport=transport, base_url=BASE)
    shared = httpx.AsyncClient(transport=transport)
    secret = "b" * 32
    async with LockCloud("bench-id", secret, base_url=BASE, http_client=shared) as cloud:

        async def lockcloud_get() -> object:
            return await cloud.request("GET", GET_PATH, params={"unlock_type": "card"})

        async def bare_get() -> object:
            return _result(await bare.get(GET_PATH, params={"unlock_type": "card"}))

        async def hand_signed_get() -> object:
            # What any correct Tuya client must do per call, written inline with no abstraction.
            t = str(int(time.time() * 1000))
            to_sign = f"GET\n{hashlib.sha256(b'').hexdigest()}\n\n{GET_PATH}?unlock_type=card"
            message = f"bench-id{'a' * 32}{t}{to_sign}"
            sign = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest().upper()
            headers = {"client_id": "bench-id", "access_token": "a" * 32, "t": t, "sign": sign}
            headers["sign_method"] = "HMAC-SHA256"
            return _result(await bare.get(GET_PATH, params={"unlock_type": "card"}, headers=headers))

        async def lockcloud_post() -> object:
            return await cloud.request("POST", POST_PATH, json=POST_BODY, idempotent=True)

        async def bare_post() -> object:
            body = json.dumps(POST_BODY).encode()
            response = await bare.post(POST_PATH, content=body, headers={"Content-Type": "application/json"})
            return _result(response)

        get_subject, get_base = await interleaved(lockcloud_get, bare_get, rounds=rounds, per_round=per_round)
        signed_subject, signed_base = await interleaved(
            lockcloud_get, hand_signed_get, rounds=rounds, per_round=per_round
        )
        post_subject, post_base = await interleaved(
            lockcloud_post, bare_post, rounds=rounds, per_round=per_round
        )
    await bare.aclose()
    await shared.aclose()
    return [
        row("request GET, MockTransport (per call)", get_subject, get_base, "s", "bare httpx"),
        row(
            "request GET, MockTransport, vs hand-signed (per call)",
            signed_subject,
            signed_base,
            "s",
            "bare httpx + inline HMAC signing per call",
        ),
        row("request POST, MockTransport (per call)", post_subject, post_base, "s", "bare httpx"),
    ]


def _presigned_headers(
    access_id: str, secret: str, token: str, method: str, path: str, query: dict[str, str], body: bytes
) -> dict[str, str]:
    t = str(int(time.time() * 1000))
    to_sign = string_to_sign(method, body, canonical_url(path, query))
    headers = {
        "client_id": access_id,
        "access_token": token,
        "t": t,
        "sign_method": "HMAC-SHA256",
        "sign": compute_sign(secret, access_id, t, to_sign, access_token=token),
    }
    if body:
        headers["Content-Type"] = "application/json"
    return headers


async def measure_loopback(sim: SimProcess, quick: bool = False) -> list[dict[str, Any]]:
    rounds, per_round = (5, 50) if quick else (15, 100)
    device = sim.info["devices"]["front_door"]
    user = sim.info["home_user"]
    get_path = f"/v1.0/devices/{device}/door-lock/user-types/1/users/{user}/assigned-keys"
    query = {"unlock_type": "fingerprint"}
    post_path = f"/v1.0/devices/{device}/door-lock/remote-unlock/config"
    post_body = json.dumps(POST_BODY, separators=(",", ":")).encode()
    async with (
        LockCloud(sim.access_id, sim.access_secret, base_url=sim.base_url) as cloud,
        httpx.AsyncClient(base_url=sim.base_url) as bare,
    ):
        token = (await cloud.tokens.get()).access_token
        get_headers = _presigned_headers(sim.access_id, sim.access_secret, token, "GET", get_path, query, b"")
        post_headers = _presigned_headers(
            sim.access_id, sim.access_secret, token, "POST", post_path, {}, post_body
        )

        async def lockcloud_get() -> object:
            return await cloud.request("GET", get_path, params=query)

        async def bare_get() -> object:
            return _result(await bare.get(get_path, params=query, headers=get_headers))

        async def lockcloud_post() -> object:
            return await cloud.request("POST", post_path, json=POST_BODY, idempotent=True)

        async def bare_post() -> object:
            return _result(await bare.post(post_path, content=post_body, headers=post_headers))

        assert await lockcloud_get() == await bare_get()
        assert await lockcloud_post() == await bare_post()
        get_subject, get_base = await interleaved(
            lockcloud_get, bare_get, rounds=rounds, per_round=per_round, warmup=50
        )
        post_subject, post_base = await interleaved(
            lockcloud_post, bare_post, rounds=rounds, per_round=per_round, warmup=50
        )
    baseline = "bare httpx, pre-signed (same server)"
    return [
        row("request GET, loopback simulator (per call)", get_subject, get_base, "s", baseline),
        row("request POST, loopback simulator (per call)", post_subject, post_base, "s", baseline),
    ]


async def measure(quick: bool = False) -> list[dict[str, Any]]:
    rows = await measure_mock(quick)
    with SimProcess() as sim:
        rows += await measure_loopback(sim, quick)
    return rows


def main() -> None:
    run_standalone(measure, __doc__ or "")


if __name__ == "__main__":
    main()
