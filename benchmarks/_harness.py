"""Shared bits of the benchmark scripts: interleaved timing and one result format.

Every figure is lockcloud against a baseline measured in the same run, alternating rounds so that machine noise hits
both sides alike; what is reported is the median of each side and their ratio (lockcloud / baseline). For times,
memory and call counts lower is better; for rates (units ending in ``/s``) higher is better.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lockcloud.events import EventStream

RESULTS = Path(__file__).with_name("results.json")


async def interleaved(
    subject: Callable[[], Awaitable[object]],
    baseline: Callable[[], Awaitable[object]],
    *,
    rounds: int = 15,
    per_round: int = 200,
    warmup: int = 100,
) -> tuple[float, float]:
    """Median seconds per call of ``subject`` and ``baseline``, alternating rounds of ``per_round`` calls."""
    for _ in range(warmup):
        await subject()
        await baseline()
    subject_times: list[float] = []
    baseline_times: list[float] = []
    for index in range(rounds):
        order = [(subject, subject_times), (baseline, baseline_times)]
        if index % 2:
            order.reverse()
        for func, sink in order:
            started = time.perf_counter()
            for _ in range(per_round):
                await func()
            sink.append((time.perf_counter() - started) / per_round)
    return statistics.median(subject_times), statistics.median(baseline_times)


def event_stream(url: str, access_id: str, secret: str, subscription: str, **options: Any) -> EventStream:
    """An ``EventStream`` over a new ``subscription`` of the project's topic from its earliest message, the
    pulsar-client log at error level; ``options`` go to the stream (``buffer_size`` ...)."""
    from lockcloud.events import EventStream, PulsarOptions, PulsarSource

    source = PulsarSource(
        PulsarOptions(
            url=url,
            access_id=access_id,
            access_secret=secret,
            subscription=subscription,
            initial_position="earliest",
            log_level="error",
        )
    )
    return EventStream(source, secret, **options)


async def bare_consumer(client: Any, topic: str, subscription: str, **options: Any) -> Any:
    """The baselines' consumer: ``client`` (a ``pulsar.asyncio.Client``) subscribed to ``topic`` as the stream
    subscribes (failover, from the earliest message); ``options`` go to ``subscribe``."""
    import pulsar

    return await client.subscribe(
        topic,
        subscription,
        consumer_type=pulsar.ConsumerType.Failover,
        initial_position=pulsar.InitialPosition.Earliest,
        **options,
    )


async def take(stream: AsyncIterator[object], count: int, kind: type) -> None:
    """Takes ``count`` events from an open ``stream``, each of them a ``kind`` (a wrong one is a failed run)."""
    taken = 0
    async for event in stream:
        assert isinstance(event, kind), event
        taken += 1
        if taken == count:
            break


def rate_and_cpu_rows(
    figure: str,
    item: str,
    wall: dict[str, list[float]],
    cpu: dict[str, list[float]],
    sides: tuple[str, str],
    baseline_name: str,
    *,
    note: str = "",
) -> list[dict[str, Any]]:
    """The two rows of a throughput figure from per-round samples keyed by side (wall-clock and CPU seconds per
    ``item``): the median ``item``s per second, and the median CPU per ``item``; ``sides`` is (subject, baseline)."""
    subject, baseline = sides
    rate = {side: 1 / statistics.median(wall[side]) for side in sides}
    per_item = {side: statistics.median(cpu[side]) for side in sides}
    return [
        row(f"{figure} ({item}s/s)", rate[subject], rate[baseline], f"{item}s/s", baseline_name, note=note),
        row(f"{figure}, client CPU per {item}", per_item[subject], per_item[baseline], "s", baseline_name),
    ]


def higher_is_better(unit: str) -> bool:
    return unit.endswith("/s")


def row(
    figure: str, subject: float, baseline: float, unit: str, baseline_name: str, *, note: str = ""
) -> dict[str, Any]:
    """One result row; ``ratio`` is subject / baseline (1.0 is parity; see the module docstring for direction)."""
    return {
        "figure": figure,
        "lockcloud": subject,
        "baseline": baseline,
        "baseline_name": baseline_name,
        "unit": unit,
        "ratio": subject / baseline if baseline else float("nan"),
        "better": "higher" if higher_is_better(unit) else "lower",
        "note": note,
    }


def skipped(figure: str, reason: str) -> dict[str, Any]:
    """A figure that could not be measured in this run, and why."""
    return {"figure": figure, "skipped": reason}


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine() -> dict[str, Any]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "system": platform.platform(),
        "cpu": _cpu_model(),
        "cores_usable": usable,
        "memory": _memory_total(),
        "versions": {
            name: _version(name)
            for name in (
                "lockcloud",
                "httpx",
                "httpcore",
                "aiohttp",
                "anyio",
                "sniffio",
                "attrs",
                "cattrs",
                "pycryptodome",
                "pulsar-client",
                "pulsar-lite",
                "websockets",
                "uvicorn",
                "h11",
                "tuya-connector-python",
                "requests",
            )
        },
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    measured = [r for r in rows if "skipped" not in r]
    if measured:
        width = max(len(r["figure"]) for r in measured)
        print(f"{'figure':<{width}}  {'lockcloud':>12}  {'baseline':>12}  {'ratio':>8}  better  baseline")
        for r in measured:
            print(
                f"{r['figure']:<{width}}  {_fmt(r['lockcloud'], r['unit']):>12}"
                f"  {_fmt(r['baseline'], r['unit']):>12}  {format_ratio(r['ratio']):>8}"
                f"  {r.get('better', 'lower'):<6}  {r['baseline_name']}"
            )
        notes = [r for r in measured if r.get("note")]
        if notes:
            print()
            for r in notes:
                print(f"* {r['figure']}: {r['note']}")
    for r in rows:
        if "skipped" in r:
            print(f"SKIPPED {r['figure']}: {r['skipped']}")


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (for benchmarks/README.md)."""
    lines = [
        "| figure | lockcloud | baseline | ratio | better | baseline is |",
        "|---|--:|--:|--:|---|---|",
    ]
    for r in rows:
        if "skipped" in r:
            continue
        lines.append(
            f"| {r['figure']} | {_fmt(r['lockcloud'], r['unit'])} | {_fmt(r['baseline'], r['unit'])}"
            f" | {format_ratio(r['ratio'])} | {r.get('better', 'lower')} | {r['baseline_name']} |"
        )
    return "\n".join(lines)


def format_ratio(ratio: float) -> str:
    if ratio != ratio:  # NaN
        return "n/a"
    if ratio >= 10 or ratio == 0:
        return f"{ratio:.0f}x"
    if ratio >= 0.1:
        return f"{ratio:.2f}x"
    return f"{ratio:.2g}x"


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        if value >= 0.1:
            return f"{value:.2f} s"
        if value >= 1e-3:
            return f"{value * 1e3:.2f} ms"
        return f"{value * 1e6:.1f} us"
    if unit == "MiB":
        return f"{value:,.1f} MiB"
    return f"{value:,.0f} {unit}"


def save(
    rows: list[dict[str, Any]],
    path: Path = RESULTS,
    *,
    replace: bool = False,
    run: dict[str, Any] | None = None,
) -> None:
    """Write ``rows`` to ``path``; unless ``replace``, rows of other figures already there are kept.

    ``run`` describes the run (options, duration, load); it replaces the previous description when given.
    """
    existing: dict[str, Any] = {}
    if path.exists() and not replace:
        existing = json.loads(path.read_text())
    by_figure = {r["figure"]: r for r in existing.get("rows", [])}
    by_figure.update({r["figure"]: r for r in rows})
    document: dict[str, Any] = {"machine": machine()}
    if run is not None or "run" in existing:
        document["run"] = run if run is not None else existing["run"]
    document["rows"] = list(by_figure.values())
    path.write_text(json.dumps(document, indent=2) + "\n")


def run_standalone(measure: Callable[[bool], Any], description: str) -> None:
    """``main()`` of a benchmark module run on its own: ``--quick``, print the table, save what was measured."""
    import argparse
    import asyncio
    import inspect

    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = measure(args.quick)
    rows: list[dict[str, Any]] = asyncio.run(result) if inspect.isawaitable(result) else result
    print_table(rows)
    save([r for r in rows if "skipped" not in r])
