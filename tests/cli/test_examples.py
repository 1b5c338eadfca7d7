"""Every example runs against the embedded simulator, as a user would run it, and does what it says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def test_every_example_is_tested() -> None:
    assert {path.name for path in EXAMPLES.glob("*.py")} == {
        "web_handler.py",
        "enrollment_listener.py",
        "orchestration.py",
        "fastapi_app.py",
    }


def test_web_handler() -> None:
    out = run_example("web_handler.py")
    assert "GET keys          -> 200 [{'unlock_no': 1, 'type': 'password'}" in out
    assert "POST open (PIN)   -> 200 {'opened': True}" in out
    assert "POST open (no PIN)-> 409" in out
    assert "POST open (lost)  -> 504 {'outcome': 'unknown'" in out
    assert "executed open-door 2 times" in out


def test_enrollment_listener() -> None:
    out = run_example("enrollment_listener.py")
    assert "[sim-front-door] completed 5/5" in out
    assert "[sim-back-door] cancelled" in out
    assert "listener state: {'sim-back-door': 'cancelled', 'sim-front-door': 'completed'}" in out


def test_orchestration() -> None:
    out = run_example("orchestration.py")
    assert "front_door  card #4" in out
    assert "garage      card enrolled (this lock type does not list keys by user)" in out
    assert "answer lost, but the door reported 'open': not retried" in out
    assert "front_door  removed #4" in out
    assert "porch       card #3 must be removed at the lock" in out
    assert "opened the back door 1 time(s)" in out


def test_fastapi_app() -> None:
    out = run_example("fastapi_app.py")
    assert "POST /unlock (PIN)    -> 200 {'opened': True}" in out
    assert (
        "POST /unlock (no PIN) -> 409 {'error': 'remote unlock is switched off', 'switch': 'remoteUnlockWithoutPwd'}"
        in out
    )
    assert "POST /enrollments     -> 200 text/event-stream" in out
    assert "  progress: {'period': 0, 'total_period': None, 'finish': True}" in out
    assert "  result: {'status': 'completed', 'total_period': 5, 'unlock_no': 4, 'reason': None}" in out
