"""Import time of ``lockcloud``, of ``LockCloud`` (what a program making calls imports) and of
``lockcloud.events``, against ``import httpx``.

Each measurement is a fresh interpreter (``python -c``) timing only its import statement with ``perf_counter``, so
interpreter start-up is left out and nothing is cached in ``sys.modules``; the byte-code caches are warm (one
unmeasured run of each first). Runs of the three statements alternate; medians are reported, of wall time and of
the process's CPU time (steadier on a shared machine). The same processes
report whether ``pulsar`` (the Pulsar client, a large C++ extension) was loaded: ``import lockcloud`` must not load
it, and neither should ``import lockcloud.events`` (it is imported when a stream connects).

    python benchmarks/bench_import.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

from _harness import row, run_standalone

STATEMENTS = {
    "httpx": "import httpx",
    "lockcloud": "import lockcloud",
    # `import lockcloud` loads names on first use; this is what a program that makes a call imports.
    "LockCloud": "from lockcloud import LockCloud",
    "lockcloud.events": "import lockcloud, lockcloud.events",
    # In the programs lockcloud is for (an asyncio app), asyncio is imported before either library.
    "httpx in an asyncio app": "import httpx",
    "lockcloud in an asyncio app": "import lockcloud",
    "LockCloud in an asyncio app": "from lockcloud import LockCloud",
}
SETUP = {name: "import asyncio" for name in STATEMENTS if name.endswith("in an asyncio app")}

_PROBE = """
import sys, time, json
{setup}
started, cpu_started = time.perf_counter(), time.process_time()
{statement}
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
print(json.dumps({{"seconds": elapsed, "cpu": cpu, "pulsar": "pulsar" in sys.modules, "modules": len(sys.modules)}}))
"""


def _run(name: str) -> dict[str, Any]:
    probe = _PROBE.format(statement=STATEMENTS[name], setup=SETUP.get(name, ""))
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(quick: bool = False) -> list[dict[str, Any]]:
    repeats = 5 if quick else 15
    for name in STATEMENTS:
        _run(name)  # byte-code caches
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in STATEMENTS}
    for index in range(repeats):
        names = list(STATEMENTS) if index % 2 == 0 else list(reversed(STATEMENTS))
        for name in names:
            samples[name].append(_run(name))
    seconds = {name: statistics.median(s["seconds"] for s in values) for name, values in samples.items()}
    cpu = {name: statistics.median(s["cpu"] for s in values) for name, values in samples.items()}
    pulsar = {name: any(s["pulsar"] for s in values) for name, values in samples.items()}
    modules = {name: values[0]["modules"] for name, values in samples.items()}
    baseline = "import httpx (fresh process)"
    return [
        row(
            "import lockcloud (fresh process)",
            seconds["lockcloud"],
            seconds["httpx"],
            "s",
            baseline,
            note=f"{modules['lockcloud']} modules loaded (httpx alone: {modules['httpx']}); "
            f"'pulsar' in sys.modules after import lockcloud: {pulsar['lockcloud']}",
        ),
        row(
            "from lockcloud import LockCloud (fresh process)",
            seconds["LockCloud"],
            seconds["httpx"],
            "s",
            baseline,
            note=f"{modules['LockCloud']} modules loaded: the client, its transport and token manager; models, "
            "resources and events load when first used",
        ),
        row(
            "import lockcloud + lockcloud.events (fresh process)",
            seconds["lockcloud.events"],
            seconds["httpx"],
            "s",
            baseline,
            note=f"{modules['lockcloud.events']} modules loaded; "
            f"'pulsar' in sys.modules after import lockcloud.events: {pulsar['lockcloud.events']}",
        ),
        # CPU time of the importing process: what the import costs, without the waits a loaded machine adds.
        row(
            "import lockcloud, CPU time (fresh process)",
            cpu["lockcloud"],
            cpu["httpx"],
            "s",
            "import httpx, CPU time (fresh process)",
        ),
        row(
            "from lockcloud import LockCloud, CPU time (fresh process)",
            cpu["LockCloud"],
            cpu["httpx"],
            "s",
            "import httpx, CPU time (fresh process)",
        ),
        row(
            "from lockcloud import LockCloud, CPU time, asyncio already imported",
            cpu["LockCloud in an asyncio app"],
            cpu["httpx in an asyncio app"],
            "s",
            "import httpx, CPU time, asyncio already imported",
        ),
        row(
            "import lockcloud, CPU time, asyncio already imported",
            cpu["lockcloud in an asyncio app"],
            cpu["httpx in an asyncio app"],
            "s",
            "import httpx, CPU time, asyncio already imported",
        ),
    ]


def main() -> None:
    run_standalone(measure, __doc__ or "")


if __name__ == "__main__":
    main()
