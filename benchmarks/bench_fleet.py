"""One token for a fleet: 8 processes x 250 concurrent callers on one project, at first use and at a forced expiry.

Each process is a real OS process (``tests/tokens/fleet_worker.py``) with its own ``LockCloud``; the simulator runs
in a process of its own (``_sim_server.py``) and counts every token call and every 1010 answer itself. The subject
is the fleet sharing ``RedisTokenStore`` (a ``redis-server`` started here, on loopback, no persistence) or
``FileTokenStore`` (one file, an OS lock beside it); the baseline is the same fleet with the default
``MemoryTokenStore``, a token per process. Both under the simulator's default rules and with
``grant_replaces_token`` (a new grant retires every other token of the project). Failed calls and 1010 answers are
in the notes. The clients get a 120 s HTTP timeout: thousands of calls at once queue at the one simulator process,
and on a loaded machine the default 10 s times some of them out, which has nothing to do with tokens.

    python benchmarks/bench_fleet.py [--quick]      # --quick: 4 processes x 50 callers
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _harness import row, run_standalone, skipped
from _sim_server import SimProcess

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "tokens" / "fleet_worker.py"
BASELINE = "MemoryTokenStore, a token per process (same fleet)"


class Fleet:
    """Worker processes answering one JSON line per ``run``."""

    def __init__(self, configs: list[dict[str, Any]]) -> None:
        self.processes = [
            subprocess.Popen(
                [sys.executable, str(WORKER), json.dumps(config)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
            for config in configs
        ]
        for process in self.processes:
            json.loads(self._line(process))

    @staticmethod
    def _line(process: subprocess.Popen[str]) -> str:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"fleet worker {process.pid} exited with {process.wait()}")
        return line

    def run(self) -> list[dict[str, Any]]:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write("run\n")
            process.stdin.flush()
        return [json.loads(self._line(process)) for process in self.processes]

    def close(self) -> None:
        for process in self.processes:
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.write("quit\n")
                    process.stdin.close()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _phase(sim: SimProcess, fleet: Fleet) -> dict[str, Any]:
    sim.command("reset")
    started = time.perf_counter()
    results = fleet.run()
    seconds = time.perf_counter() - started
    stats = sim.command("stats")
    failures: collections.Counter[str] = collections.Counter()
    for result in results:
        failures.update(result["failed"])
    return {
        "token_calls": stats["token_calls"],
        "answers_1010": stats["codes"].get("1010", 0),
        "failed": sum(failures.values()),
        "failures": ", ".join(f"{count} x {kind}" for kind, count in failures.most_common()),
        "calls": sum(r["ok"] for r in results) + sum(failures.values()),
        "seconds": seconds,
    }


def _fleet_run(store: dict[str, Any], processes: int, callers: int, grant_replaces: bool) -> dict[str, Any]:
    """First use, then a forced expiry, for one fleet on a fresh simulator."""
    with SimProcess() as sim:
        sim.command(f"grant_replaces {1 if grant_replaces else 0}")
        config = {
            "base_url": sim.base_url,
            "access_id": sim.access_id,
            "access_secret": sim.access_secret,
            "path": f"/v1.0/devices/{sim.info['devices']['front_door']}/door-lock/remote-unlocks",
            "callers": callers,
            "store": store,
            "timeout": 120,
        }
        fleet = Fleet([config] * processes)
        try:
            first_use = _phase(sim, fleet)
            sim.command("expire")
            at_expiry = _phase(sim, fleet)
        finally:
            fleet.close()
    return {"at first use": first_use, "at expiry": at_expiry}


@contextlib.contextmanager
def _redis(workdir: Path) -> Iterator[str]:
    """A redis-server on a free loopback port (the test suite's own launcher)."""
    spec = importlib.util.spec_from_file_location("lockcloud_tests_conftest", ROOT / "tests" / "conftest.py")
    assert spec is not None
    assert spec.loader is not None
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    binary = shutil.which("redis-server")
    assert binary is not None
    server = conftest.RedisServer(workdir, binary)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def _outcome(phase: dict[str, Any]) -> str:
    failed = f" ({phase['failures']})" if phase["failed"] else ""
    return (
        f"{phase['token_calls']} token calls, {phase['answers_1010']:,} x 1010, "
        f"{phase['failed']:,} of {phase['calls']:,} calls failed{failed}, {phase['seconds']:.1f} s"
    )


def _note(phase: dict[str, Any], baseline: dict[str, Any]) -> str:
    return f"lockcloud: {_outcome(phase)}; baseline: {_outcome(baseline)}"


def measure(quick: bool = False) -> list[dict[str, Any]]:
    processes, callers = (4, 50) if quick else (8, 250)
    fleet = f"{processes} processes x {callers} callers"
    rows: list[dict[str, Any]] = []
    redis_available = shutil.which("redis-server") is not None
    with tempfile.TemporaryDirectory(prefix="lockcloud-bench-fleet-") as tmp:
        workdir = Path(tmp)
        with contextlib.ExitStack() as stack:
            redis_url = stack.enter_context(_redis(workdir / "redis")) if redis_available else None
            for grant_replaces in (False, True):
                rule = ", a grant retires every token" if grant_replaces else ""
                baseline = _fleet_run({"kind": "memory"}, processes, callers, grant_replaces)
                subjects: list[tuple[str, dict[str, Any] | None]] = [
                    (
                        "RedisTokenStore",
                        {"kind": "redis", "url": redis_url, "key": f"bench:{grant_replaces}"}
                        if redis_url
                        else None,
                    ),
                    (
                        "FileTokenStore",
                        {"kind": "file", "path": str(workdir / f"token-{grant_replaces}.json")},
                    ),
                ]
                for name, store in subjects:
                    measured = _fleet_run(store, processes, callers, grant_replaces) if store else None
                    for phase in ("at first use", "at expiry"):
                        figure = f"fleet token calls, {fleet} {phase}{rule}, {name}"
                        if measured is None:
                            rows.append(skipped(figure, "redis-server is not installed"))
                            continue
                        subject, base = measured[phase], baseline[phase]
                        rows.append(
                            row(
                                figure,
                                subject["token_calls"],
                                base["token_calls"],
                                "calls",
                                BASELINE,
                                note=_note(subject, base),
                            )
                        )
    return rows


if __name__ == "__main__":
    run_standalone(measure, __doc__ or "")
