"""Calls per second and client CPU per call with hundreds of calls in flight against a 150 ms cloud.

The server is a process of its own (``--serve``): a minimal HTTP/1.1 responder on loopback that answers every call
150 ms after it arrived (a cloud's round trip) and costs microseconds per request, so that the client is what is
measured. Each side runs in a fresh client process (``--client SIDE``), so that 1,000 threads or a pool's state
cannot leak into the next side; sides alternate in rounds and medians are reported. Sides, all doing the same
signed ``GET`` and parsing its JSON:

* ``lockcloud``: ``cloud.request(...)`` from N asyncio tasks (the default transport);
* ``lockcloud-httpcore``: the same on a plain ``httpx.AsyncClient`` (``http_client=``, httpx's own pool);
* ``httpx``: bare ``httpx.AsyncClient`` (pool as large as N) sending pre-signed requests;
* ``aiohttp``: a bare ``aiohttp.ClientSession`` sending pre-signed requests: the floor of an asyncio client;
* ``aiohttp-signed``: the same session signing every call inline (fresh ``t``, HMAC-SHA256): what a hand-written
  asyncio client of the OpenAPI costs, and the baseline lockcloud's CPU per call is held to;
* ``official``: ``tuya-connector-python`` from N threads sharing one ``TuyaOpenAPI`` (pool as large as N), if
  installed (``nox -s bench`` installs it).

The physical limit is N / 150 ms. Figures: each side's rate against the limit, lockcloud's rate against each
baseline, and CPU per call against each baseline.

    python benchmarks/bench_concurrency.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from _harness import row, run_standalone, skipped

LATENCY = 0.150
ACCESS_ID = "benchconcurrencyid00"
SECRET = "0123456789abcdefGHIJKLMNOPqrstuv"
PATH = "/v1.0/devices/vdevo1/door-lock/user-types/1/users/u1/assigned-keys"
QUERY = {"unlock_type": "fingerprint"}
IN_FLIGHT = (32, 256, 1000)
_TOKEN_BODY = json.dumps(
    {
        "success": True,
        "t": 0,
        "result": {"access_token": "benchaccesstoken0000", "refresh_token": "r", "expire_time": 7200},
    }
).encode()
_KEYS_BODY = json.dumps(
    {"success": True, "t": 0, "tid": "t", "result": [{"unlock_no": 1, "unlock_type": "fingerprint"}]}
).encode()


# -- the server -------------------------------------------------------------------------------------------------


class _Responder(asyncio.Protocol):
    """Answers each request LATENCY seconds after its head arrived; keep-alive, no body parsing needed (GET)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            path = head.split(b" ", 2)[1]
            body = _TOKEN_BODY if path.startswith(b"/v1.0/token") else _KEYS_BODY
            now_ms = str(int(time.time() * 1000)).encode()
            body = body.replace(b'"t": 0', b'"t": ' + now_ms, 1)
            answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(
                body
            )
            asyncio.get_running_loop().call_later(LATENCY, self._write, answer + body)

    def _write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)


async def _serve() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # IPPROTO_TCP: TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.get_running_loop().create_server(_Responder, sock=sock, backlog=4096)
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    server.close()


# -- the clients ------------------------------------------------------------------------------------------------


def _presigned(base: str) -> tuple[str, dict[str, str]]:
    from lockcloud._core.signing import canonical_url, compute_sign, string_to_sign

    t = str(int(time.time() * 1000))
    token = "benchaccesstoken0000"
    sign = compute_sign(
        SECRET, ACCESS_ID, t, string_to_sign("GET", b"", canonical_url(PATH, QUERY)), access_token=token
    )
    headers = {
        "client_id": ACCESS_ID,
        "access_token": token,
        "t": t,
        "sign_method": "HMAC-SHA256",
        "sign": sign,
    }
    return f"{base}{PATH}?unlock_type=fingerprint", headers


async def _async_side(side: str, base: str, in_flight: int, warmup: float, seconds: float) -> dict[str, Any]:
    import httpx

    from lockcloud import LockCloud

    calls = 0
    counting = False
    stop = False
    call: Any
    closers: list[Any] = []
    if side in ("lockcloud", "lockcloud-httpcore"):
        http = None
        if side == "lockcloud-httpcore":
            limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
            http = httpx.AsyncClient(limits=limits, timeout=60)
            closers.append(http.aclose)
        cloud = LockCloud(ACCESS_ID, SECRET, base_url=base, http_client=http, timeout=60)
        closers.insert(0, cloud.aclose)

        async def call() -> None:
            await cloud.request("GET", PATH, params=QUERY)

    elif side == "httpx":
        url, headers = _presigned(base)
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        client = httpx.AsyncClient(limits=limits, timeout=60)
        closers.append(client.aclose)

        async def call() -> None:
            json.loads((await client.get(url, headers=headers)).content)

    elif side == "aiohttp":
        import aiohttp

        url, headers = _presigned(base)
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        closers.append(session.close)

        async def call() -> None:
            async with session.get(url, headers=headers) as response:
                json.loads(await response.read())

    elif side == "aiohttp-signed":
        # What a hand-written asyncio client of the OpenAPI pays: a fresh ``t`` and HMAC for every call.
        import aiohttp

        url = f"{base}{PATH}?unlock_type=fingerprint"
        secret = SECRET.encode()
        token = "benchaccesstoken0000"
        tail = f"GET\n{hashlib.sha256(b'').hexdigest()}\n\n{PATH}?unlock_type=fingerprint"
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        closers.append(session.close)

        async def call() -> None:
            t = str(int(time.time() * 1000))
            message = f"{ACCESS_ID}{token}{t}{tail}".encode()
            headers = {
                "client_id": ACCESS_ID,
                "access_token": token,
                "t": t,
                "sign_method": "HMAC-SHA256",
                "sign": hmac.new(secret, message, hashlib.sha256).hexdigest().upper(),
            }
            async with session.get(url, headers=headers) as response:
                json.loads(await response.read())

    else:
        raise SystemExit(f"unknown side {side}")

    async def worker() -> None:
        nonlocal calls
        while not stop:
            await call()
            if counting:
                calls += 1

    await call()  # the token (lockcloud) and a first connection
    tasks = [asyncio.create_task(worker()) for _ in range(in_flight)]
    await asyncio.sleep(warmup)
    counting = True
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    counting = False
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    stop = True
    await asyncio.gather(*tasks, return_exceptions=True)
    for close in closers:
        await close()
    return {"calls": calls, "wall": wall, "cpu": cpu}


def _official_side(base: str, in_flight: int, warmup: float, seconds: float) -> dict[str, Any]:
    import requests.adapters
    from tuya_connector import TuyaOpenAPI

    api = TuyaOpenAPI(base, ACCESS_ID, SECRET)
    api.session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=in_flight))
    api.connect()
    calls = 0
    counting = threading.Event()
    stop = threading.Event()
    lock = threading.Lock()

    def worker() -> None:
        nonlocal calls
        while not stop.is_set():
            answer = api.get(PATH, QUERY)
            if not answer.get("success"):
                raise RuntimeError(f"official client call failed: {answer.get('code')}")
            if counting.is_set():
                with lock:
                    calls += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(in_flight)]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    counting.set()
    cpu, wall = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    counting.clear()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return {"calls": calls, "wall": wall, "cpu": cpu}


# -- the parent -------------------------------------------------------------------------------------------------


def _sides() -> list[str]:
    sides = ["lockcloud", "lockcloud-httpcore", "httpx", "aiohttp", "aiohttp-signed"]
    if importlib.util.find_spec("tuya_connector") is not None:
        sides.append("official")
    return sides


NAMES = {
    "lockcloud-httpcore": "lockcloud on httpx's own pool (http_client=httpx.AsyncClient())",
    "httpx": "bare httpx.AsyncClient, pre-signed",
    "aiohttp": "raw aiohttp, pre-signed",
    "aiohttp-signed": "raw aiohttp, signing each call inline",
    "official": "tuya-connector-python, threads",
}


def _run_client(side: str, base: str, in_flight: int, warmup: float, seconds: float) -> dict[str, Any]:
    command = [sys.executable, __file__, "--client", side, "--base", base, "--in-flight", str(in_flight)]
    command += ["--warmup", str(warmup), "--seconds", str(seconds)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(quick: bool = False) -> list[dict[str, Any]]:
    rounds, warmup, seconds = (1, 1.0, 2.0) if quick else (3, 1.5, 4.0)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    rows: list[dict[str, Any]] = []
    try:
        assert server.stdout is not None
        base = f"http://127.0.0.1:{json.loads(server.stdout.readline())['port']}"
        for in_flight in IN_FLIGHT:
            limit = in_flight / LATENCY
            samples: dict[str, list[dict[str, Any]]] = {side: [] for side in _sides()}
            errors: dict[str, str] = {}
            for index in range(rounds):
                order = list(samples) if index % 2 == 0 else list(reversed(samples))
                for side in order:
                    result = _run_client(side, base, in_flight, warmup, seconds)
                    if "error" in result:
                        errors[side] = result["error"]
                    elif result["calls"]:
                        samples[side].append(result)
            rate = {s: statistics.median(r["calls"] / r["wall"] for r in v) for s, v in samples.items() if v}
            cpu = {s: statistics.median(r["cpu"] / r["calls"] for r in v) for s, v in samples.items() if v}
            where = f"{in_flight:,} in flight, 150 ms latency"
            for side in samples:
                if side not in rate:
                    rows.append(
                        skipped(f"{side} calls/s vs the limit, {where}", errors.get(side, "no calls"))
                    )
                    continue
                name = "lockcloud" if side == "lockcloud" else NAMES[side]
                rows.append(
                    row(
                        f"{name}: calls/s vs the limit (in flight / latency), {where}",
                        rate[side],
                        limit,
                        "calls/s",
                        "physical limit",
                        note=f"{cpu[side] * 1000:.2f} ms CPU per call",
                    )
                )
            if "lockcloud" not in rate:
                continue
            for side in samples:
                if side == "lockcloud" or side not in rate:
                    continue
                rows.append(
                    row(
                        f"calls/s vs {NAMES[side]}, {where}",
                        rate["lockcloud"],
                        rate[side],
                        "calls/s",
                        NAMES[side],
                    )
                )
                rows.append(
                    row(
                        f"client CPU per call vs {NAMES[side]}, {where}",
                        cpu["lockcloud"],
                        cpu[side],
                        "s",
                        NAMES[side],
                    )
                )
            if "official" not in samples:
                rows.append(
                    skipped(
                        f"calls/s vs tuya-connector-python, {where}", "tuya-connector-python is not installed"
                    )
                )
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--client")
    parser.add_argument("--base")
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true")
    args, _ = parser.parse_known_args()
    if args.serve:
        asyncio.run(_serve())
    elif args.client:
        # Enough descriptors for 1,000 sockets per side.
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 8192), hard), hard))
        if args.client == "official":
            result = _official_side(args.base, args.in_flight, args.warmup, args.seconds)
        else:
            result = asyncio.run(
                _async_side(args.client, args.base, args.in_flight, args.warmup, args.seconds)
            )
        print(json.dumps(result))
    else:
        run_standalone(measure, __doc__ or "")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
