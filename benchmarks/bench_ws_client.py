"""Which WebSocket client for the push stream: ``websockets`` (the one lockcloud uses) against aiohttp's client.

A server in a process of its own (a plain ``websockets`` server, the same for both clients) sends Pulsar
WebSocket consumer frames (``{"messageId", "payload", "properties", "publishTime"}``, the payload a base64
envelope of about 400 bytes) as fast as the client acknowledges them, keeping at most 100 unacknowledged (like a
receiver queue). Each client receives a frame, parses its JSON and sends ``{"messageId": ...}`` back. Reported:
frames per second and the client process's CPU per frame (``time.process_time``), the two clients in alternating
rounds of the same run. Compression is off on both sides (aiohttp's client offers none by default; the payload is
base64 of ciphertext, which deflate barely shrinks).

aiohttp is a core dependency already (lockcloud's HTTP connection pool), so it was the candidate that would have
added nothing to the install.

    python benchmarks/bench_ws_client.py [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _harness import rate_and_cpu_rows, run_standalone

WINDOW = 100

_SERVER = r"""
import asyncio, base64, json, os, sys
from websockets.asyncio.server import serve

COUNT, WINDOW = int(sys.argv[1]), int(sys.argv[2])
PAYLOAD = base64.b64encode(json.dumps({"data": base64.b64encode(os.urandom(300)).decode(), "protocol": 20,
    "pv": "2.0", "sign": "x" * 32, "t": 1700000000000}).encode()).decode()

async def handler(ws):
    window = asyncio.Semaphore(WINDOW)
    async def read_acks():
        acked = 0
        async for _ in ws:
            acked += 1
            window.release()
            if acked == COUNT:
                return
    reader = asyncio.create_task(read_acks())
    for index in range(COUNT):
        await window.acquire()
        frame = {"messageId": base64.b64encode(b"CAEQ%dGAA=" % index).decode(), "payload": PAYLOAD,
                 "properties": {"em": "aes_gcm"}, "publishTime": "2026-12-01T12:00:00.000Z"}
        await ws.send(json.dumps(frame))
    await reader
    await ws.close()

async def main():
    async with serve(handler, "127.0.0.1", 0, compression=None, max_queue=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


async def _websockets_client(url: str, count: int) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, compression=None) as ws:
        for _ in range(count):
            frame = json.loads(await ws.recv())
            await ws.send(json.dumps({"messageId": frame["messageId"]}))


async def _aiohttp_client(url: str, count: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        for _ in range(count):
            message = await ws.receive()
            frame = json.loads(message.data)
            await ws.send_str(json.dumps({"messageId": frame["messageId"]}))


async def _rounds(url: str, count: int, rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    clients: dict[str, Callable[[str, int], Awaitable[None]]] = {
        "websockets": _websockets_client,
        "aiohttp": _aiohttp_client,
    }
    wall: dict[str, list[float]] = {name: [] for name in clients}
    cpu: dict[str, list[float]] = {name: [] for name in clients}
    for client in clients.values():  # warm-up
        await client(url, count)
    for index in range(rounds):
        order = list(clients.items())
        if index % 2:
            order.reverse()
        for name, client in order:
            started, started_cpu = time.perf_counter(), time.process_time()
            async with asyncio.timeout(120):
                await client(url, count)
            wall[name].append((time.perf_counter() - started) / count)
            cpu[name].append((time.process_time() - started_cpu) / count)
    return wall, cpu


def measure(quick: bool = False) -> list[dict[str, Any]]:
    figure = "WebSocket client: frames received + acknowledged"
    count, rounds = (2_000, 3) if quick else (10_000, 7)
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(count), str(WINDOW)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = f"ws://127.0.0.1:{int(server.stdout.readline())}/ws/v2/consumer/persistent/t/out/event/t-sub"
        wall, cpu = asyncio.run(_rounds(url, count, rounds))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(10)
    from importlib.metadata import version

    note = (
        f"websockets {version('websockets')}, aiohttp {version('aiohttp')}; {count:,} frames per round,"
        f" {rounds} rounds; the server is a websockets server in another process;"
        f" AIOHTTP_NO_EXTENSIONS={os.environ.get('AIOHTTP_NO_EXTENSIONS', '')!r}"
    )
    return rate_and_cpu_rows(
        figure, "frame", wall, cpu, ("websockets", "aiohttp"), "aiohttp client", note=note
    )


if __name__ == "__main__":
    run_standalone(measure, __doc__ or "")
