"""One process of a fleet sharing a Tuya project: its own ``LockCloud`` and token store, driven over stdin/stdout.

    python fleet_worker.py '{"base_url": ..., "access_id": ..., "access_secret": ..., "path": ...,
                             "callers": 50, "store": {"kind": "redis", "url": ..., "key": ..., "lease": 10}}'

``store.kind`` is ``memory``, ``file`` (``path``) or ``redis`` (``url``, optional ``key``, ``lease``,
``lock_timeout``); an optional ``timeout`` (seconds) replaces the client's HTTP timeout. Prints ``{"ready": true, "pid": ...}``, then answers each ``run`` line on stdin with one JSON
line: ``callers`` concurrent ``GET path`` calls, as ``{"ok": n, "failed": {"ErrorType": n}, "token_calls": n,
"adopted": n, "seconds": s}`` (token calls and adoptions since the last ``run``). ``quit`` or end of input stops
it. Used by tests/tokens/test_fleet.py and benchmarks/bench_fleet.py.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import time
from typing import Any

from lockcloud import FileTokenStore, LockCloud, MemoryTokenStore, RedisTokenStore, TokenStore


def _store(spec: dict[str, Any]) -> TokenStore:
    kind = spec["kind"]
    if kind == "memory":
        return MemoryTokenStore()
    if kind == "file":
        return FileTokenStore(spec["path"], lock_timeout=spec.get("lock_timeout", 30.0))
    if kind == "redis":
        return RedisTokenStore(
            spec["url"],
            key=spec.get("key"),
            lease=spec.get("lease", 10.0),
            lock_timeout=spec.get("lock_timeout", 30.0),
        )
    raise SystemExit(f"unknown store kind {kind!r}")


async def _run(cloud: LockCloud, path: str, callers: int) -> dict[str, Any]:
    calls_before, adopted_before = cloud.tokens.token_calls, cloud.tokens.adopted
    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(cloud.request("GET", path) for _ in range(callers)), return_exceptions=True
    )
    failed = collections.Counter(type(o).__name__ for o in outcomes if isinstance(o, BaseException))
    return {
        "ok": callers - sum(failed.values()),
        "failed": dict(failed),
        "token_calls": cloud.tokens.token_calls - calls_before,
        "adopted": cloud.tokens.adopted - adopted_before,
        "seconds": time.perf_counter() - started,
    }


async def main(config: dict[str, Any]) -> None:
    store = _store(config["store"])
    cloud = LockCloud(
        config["access_id"], config["access_secret"], base_url=config["base_url"], token_store=store
    )
    async with cloud:
        print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
        while True:
            command = (await asyncio.to_thread(sys.stdin.readline)).strip()
            if command in ("", "quit"):
                break
            if command == "run":
                result = await _run(cloud, config["path"], config["callers"])
            else:
                result = {"error": f"unknown command {command!r}"}
            print(json.dumps(result), flush=True)
    if isinstance(store, RedisTokenStore):
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
