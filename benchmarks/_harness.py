"""Shared bits of the benchmark scripts: interleaved timing and one result format.

Every figure is lockcloud against a baseline measured in the same run, alternating rounds so that machine noise hits
both sides alike; what is reported is the median per-operation time of each side and their ratio.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

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


def row(figure: str, subject: float, baseline: float, unit: str, baseline_name: str) -> dict[str, Any]:
    """One result row; ``ratio`` is subject / baseline (for times: lower is better, 1.0 is parity)."""
    return {
        "figure": figure,
        "lockcloud": subject,
        "baseline": baseline,
        "baseline_name": baseline_name,
        "unit": unit,
        "ratio": subject / baseline if baseline else float("nan"),
    }


def machine() -> dict[str, str]:
    return {"python": platform.python_version(), "machine": platform.machine(), "system": platform.platform()}


def print_table(rows: list[dict[str, Any]]) -> None:
    width = max(len(r["figure"]) for r in rows)
    print(f"{'figure':<{width}}  {'lockcloud':>12}  {'baseline':>12}  {'ratio':>7}  baseline")
    for r in rows:
        print(
            f"{r['figure']:<{width}}  {_fmt(r['lockcloud'], r['unit']):>12}  {_fmt(r['baseline'], r['unit']):>12}"
            f"  {r['ratio']:>6.2f}x  {r['baseline_name']}"
        )


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1e6:.1f} us"
    return f"{value:,.0f} {unit}"


def save(rows: list[dict[str, Any]], path: Path = RESULTS) -> None:
    existing: dict[str, Any] = {}
    if path.exists():
        existing = json.loads(path.read_text())
    by_figure = {r["figure"]: r for r in existing.get("rows", [])}
    by_figure.update({r["figure"]: r for r in rows})
    path.write_text(json.dumps({"machine": machine(), "rows": list(by_figure.values())}, indent=2))
