"""Fixtures of the scale tests: this folder's scripts as real OS processes, and a broker partitioned as Tuya's.

``spawn(script, *arguments, err=path)`` starts ``listener_process.py`` or ``web_worker.py`` (this interpreter, this
``sys.path``) as a :class:`ScriptProcess`, killed at the end of the test if still running. ``partitioned_broker``
serves the ``TOPIC`` of the test's module with Tuya's 11 partitions.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lockcloud.sim.broker import TUYA_PARTITIONS, LocalBroker

HERE = Path(__file__).parent


class ScriptProcess:
    """A script of this folder in a process of its own; it prints one JSON document a line on stdout."""

    def __init__(self, script: str, arguments: list[str], err: Path) -> None:
        self.err = err
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.popen = subprocess.Popen(
            [sys.executable, str(HERE / script), *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err.open("wb"),
            env=env,
        )

    def line(self) -> Any:
        assert self.popen.stdout is not None
        text = self.popen.stdout.readline()
        assert text, f"process ended early: {self.err.read_text(errors='replace')[-3000:]}"
        return json.loads(text)

    def lines_until(self, key: str) -> list[Any]:
        """The lines up to and with the first document that has ``key``."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if isinstance(line, dict) and key in line:
                return lines

    def send(self, command: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(command.encode() + b"\n")
        self.popen.stdin.flush()

    def terminate(self) -> None:
        self.popen.send_signal(signal.SIGTERM)

    def stats(self) -> dict[str, Any]:
        """The stats a terminated listener prints as it stops, once it has ended."""
        stats: dict[str, Any] = self.lines_until("stats")[-1]["stats"]
        self.popen.wait(30)
        return stats

    def stop(self) -> dict[str, Any]:
        self.terminate()
        return self.stats()

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(30)


@pytest.fixture
def spawn() -> Iterator[Callable[..., ScriptProcess]]:
    started: list[ScriptProcess] = []

    def start(script: str, *arguments: str, err: Path) -> ScriptProcess:
        process = ScriptProcess(script, list(arguments), err)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.popen.poll() is None:
            process.kill()


@pytest.fixture
def partitioned_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalBroker]:
    topic: str = request.module.TOPIC
    with LocalBroker(tmp_path / "broker", partitioned_topics={topic: TUYA_PARTITIONS}) as broker:
        yield broker
