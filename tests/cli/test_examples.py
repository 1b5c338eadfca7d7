"""Every example runs against the embedded simulator, as a user would run it, and does what it says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"
TIMEOUT = 60


def run_example(name: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOCKCLOUD_")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
        cwd=EXAMPLES.parent,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "terminate called" not in done.stderr
    return done.stdout


#: What each example must print, line by line (each a substring of its output).
PROMISES: dict[str, list[str]] = {
    "door_alerts.py": [
        "ALERT sim-back-door: door opened under duress with key #3",
        "ALERT sim-back-door: battery at 15%",
        "card #3 by Bob",
        "fingerprint #1 by Alice",
        "status: battery 15% (medium), door open",
    ],
    "web_handler.py": [
        "GET keys          -> 200 [{'unlock_no': 1, 'type': 'password'}",
        "POST open (PIN)   -> 200 {'opened': True}",
        "POST open (no PIN)-> 409",
        "POST open (lost)  -> 504 {'outcome': 'unknown'",
        "executed open-door 2 times",
    ],
    "enrollment_listener.py": [
        "[sim-front-door] completed 5/5",
        "[sim-back-door] cancelled",
        "listener state: {'sim-back-door': 'cancelled', 'sim-front-door': 'completed'}",
    ],
    "orchestration.py": [
        "front_door  card #4",
        "garage      card enrolled (this lock type does not list keys by user)",
        "answer lost, but the door reported 'open': not retried",
        "front_door  removed #4",
        "porch       card #3 must be removed at the lock",
        "opened the back door 1 time(s)",
    ],
    "booking_codes.py": [
        "delivered: Fri 15:00 -> Sun 11:00 (flat time)",
        "guest at the door 2 hours early: refused",
        "guest arrives: opened (lock reported code #",
        "after check-out: refused",
        "second code with the same PIN: refused (already_exists)",
        "removed after the stay",
        "valid codes left on the lock: 0",
    ],
    "fastapi_app.py": [
        "POST /unlock (PIN)    -> 200 {'opened': True}",
        "POST /unlock (no PIN) -> 409 {'error': 'remote unlock is switched off', 'switch': 'remoteUnlockWithoutPwd'}",
        "POST /enrollments     -> 200 text/event-stream",
        "  progress: {'period': 0, 'total_period': None, 'finish': True}",
        "  result: {'status': 'completed', 'total_period': 5, 'unlock_no': 4, 'reason': None}",
    ],
}


def test_every_example_is_tested() -> None:
    assert {path.name for path in EXAMPLES.glob("*.py")} == set(PROMISES)


@pytest.mark.parametrize("name", sorted(PROMISES))
def test_the_example_runs_and_prints_what_it_promises(name: str) -> None:
    out = run_example(name)
    missing = [line for line in PROMISES[name] if line not in out]
    assert not missing, f"{name} did not print {missing!r}; it printed:\n{out}"
