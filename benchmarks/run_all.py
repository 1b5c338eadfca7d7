"""Run every benchmark, print one table and write ``benchmarks/results.json``.

    python benchmarks/run_all.py                  # everything (about 5 minutes on 2 cores)
    python benchmarks/run_all.py --quick          # fewer rounds and smaller backlogs (about 2 minutes)
    python benchmarks/run_all.py --only tokens --only import
    python benchmarks/run_all.py --markdown       # print results.json as Markdown; runs nothing

Each module's ``measure()`` (sync or async; given ``quick=`` when it takes it) returns rows made by
``_harness.row``. A module that fails is reported as skipped with its error and the others still run. A full run
replaces ``results.json``; a run with ``--only`` updates the figures it measured and keeps the others.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import inspect
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _harness import RESULTS, format_ratio, machine, markdown_table, print_table, save, skipped


def _decode(quick: bool) -> list[dict[str, Any]]:
    """The events helper's ``bench_decode``: its ``measure()`` if it has one, else its two parts."""
    module = importlib.import_module("bench_decode")
    if hasattr(module, "measure"):
        return _call(module.measure, quick)

    async def both() -> list[dict[str, Any]]:
        messages, rounds = (1000, 3) if quick else (3000, 5)
        rows: list[dict[str, Any]] = await module.measure_decode()
        return rows + await module.measure_broker(messages, rounds)

    result: list[dict[str, Any]] = asyncio.run(both())
    return result


def _module(name: str) -> Callable[[bool], list[dict[str, Any]]]:
    def run(quick: bool) -> list[dict[str, Any]]:
        return _call(importlib.import_module(name).measure, quick)

    return run


def _call(measure: Callable[..., Any], quick: bool) -> list[dict[str, Any]]:
    kwargs = {"quick": quick} if "quick" in inspect.signature(measure).parameters else {}
    if inspect.iscoroutinefunction(measure):
        result: list[dict[str, Any]] = asyncio.run(measure(**kwargs))
    else:
        result = measure(**kwargs)
    return result


# In the order they run: import times first, while nothing else has warmed the disk cache or the machine.
BENCHMARKS: dict[str, tuple[str, Callable[[bool], list[dict[str, Any]]]]] = {
    "import": ("import lockcloud / lockcloud.events vs import httpx", _module("bench_import")),
    "request": (
        "REST per-call time vs bare httpx (MockTransport, loopback simulator)",
        _module("bench_request"),
    ),
    "tokens": ("token single-flight, 1,000 concurrent callers", _module("bench_tokens")),
    "fleet": ("one token for 8 processes x 250 callers (Redis, file store)", _module("bench_fleet")),
    "official": ("calls/s vs tuya-connector-python on the simulator", _module("bench_official")),
    "access_codes": (
        "100 guest codes on 100 locks (ticket, seal, create, delivery) vs tuya-connector-python",
        _module("bench_access_codes"),
    ),
    "history": ("paging 10,000 history records vs paging by hand", _module("bench_history")),
    "concurrency": (
        "calls/s and CPU per call at 32/256/1,000 in flight, 150 ms latency",
        _module("bench_concurrency"),
    ),
    "decode": ("push decode and broker-to-typed-event throughput", _decode),
    "memory": ("EventStream memory over a large backlog", _module("bench_memory")),
    "listeners": (
        "listener processes on 11 partitions, and the Redis relay's latency",
        _module("bench_listeners"),
    ),
    "websocket": ("push events over WebSocket vs the native Pulsar source", _module("bench_websocket")),
    "wsclient": ("WebSocket client library: websockets vs aiohttp", _module("bench_ws_client")),
    "console": ("REST per-call time with the simulator console open vs none", _module("bench_console")),
}


def _source_state() -> dict[str, Any]:
    """The commit measured, and whether the library or the benchmarks had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--", "lockcloud", "benchmarks"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "uncommitted_changes": None}
    return {"commit": commit, "uncommitted_changes": bool(changes.strip())}


def _load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller backlogs")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--markdown", action="store_true", help="print results.json as Markdown and exit")
    args = parser.parse_args()
    if args.markdown:
        document = json.loads(RESULTS.read_text())
        print(markdown_table(document["rows"]))
        notes = [r for r in document["rows"] if r.get("note")]
        if notes:
            print("\nNotes of that run:\n")
            for r in notes:
                print(f"* {r['figure']}: {r['note']}")
        return
    selected = [name for name in BENCHMARKS if not args.only or name in args.only]

    info = machine()
    print(f"lockcloud benchmarks on {info['cpu']} ({info['cores_usable']} cores), Python {info['python']}")
    load_before = _load_average()
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    durations: dict[str, float] = {}
    for name in selected:
        title, run = BENCHMARKS[name]
        print(f"[{name}] {title} ...", flush=True)
        begun = time.perf_counter()
        try:
            measured = run(args.quick)
        except Exception as exc:
            traceback.print_exc()
            measured = [skipped(f"{name}: {title}", f"failed: {type(exc).__name__}: {exc}")]
        durations[name] = round(time.perf_counter() - begun, 1)
        for r in measured:
            if "skipped" not in r:
                print(f"    {r['figure']}: {format_ratio(r['ratio'])}", flush=True)
        rows += measured
    elapsed = time.perf_counter() - started

    print()
    print_table(rows)
    print(f"\ntotal {elapsed:.0f} s ({', '.join(f'{n} {d:.0f} s' for n, d in durations.items())})")
    run_info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **_source_state(),
        "quick": args.quick,
        "only": args.only,
        "seconds": round(elapsed, 1),
        "seconds_per_benchmark": durations,
        "load_average_before": load_before,
        "load_average_after": _load_average(),
    }
    run_info["skipped"] = {r["figure"]: r["skipped"] for r in rows if "skipped" in r}
    save([r for r in rows if "skipped" not in r], replace=not args.only, run=run_info)


if __name__ == "__main__":
    main()
