"""Fixtures for the CLI tests: a served simulator in its own process, and a real pseudo terminal.

``open_terminal(*args, columns=N)`` runs ``lockcloud ARGS`` as a session leader on a pty of that size and feeds what
it writes through a VT100 emulator (pyte), so a test reads the screen a person would see, not the bytes.
``serve_simulator(*options)`` runs ``lockcloud sim serve --json`` and returns what it printed (and the process).
Tests run with ``--import-mode=importlib``, where a test module cannot import this conftest: helpers are fixtures.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyte
import pytest

ENV_DROPPED = ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


class Terminal:
    """``lockcloud ARGS`` on a ``columns`` x ``rows`` pty. Tall enough by default that nothing scrolls away."""

    def __init__(self, args: Sequence[str], *, columns: int, rows: int = 150, env: dict[str, str]) -> None:
        self.columns = columns
        self.screen = pyte.Screen(columns, rows)
        self._stream = pyte.ByteStream(self.screen)
        self.raw = b""
        self.status: int | None = None
        self.exited_at: float | None = None
        child_env = {key: value for key, value in env.items() if key not in ENV_DROPPED}
        child_env["TERM"] = "xterm-256color"
        argv = [sys.executable, "-m", "lockcloud", *args]
        self.pid, self.fd = pty.fork()
        if (
            self.pid == 0
        ):  # the child: size the terminal before anything can ask for it, then become lockcloud
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
            # A runner in the background (`pytest &`, some CI agents) ignores SIGINT, and an ignored signal stays
            # ignored across exec: Python would then never raise KeyboardInterrupt, and Ctrl-C tests would hang.
            # A person at a terminal has it at its default, so the child does too.
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.execve(sys.executable, argv, child_env)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display).rstrip()

    def flat(self) -> str:
        """The screen as one line of words: a message the CLI wrapped between words reads whole again."""
        return " ".join(" ".join(self.screen.display).split())

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display if line.strip()]

    def _pump(self, timeout: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed its side
            chunk = b""
        if chunk:
            self.raw += chunk
            self._stream.feed(chunk)
        else:
            self._reap(block=True)

    def _reap(self, *, block: bool) -> None:
        if self.status is not None:
            return
        pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        if pid:
            self.status = os.waitstatus_to_exitcode(status)
            self.exited_at = time.monotonic()

    def wait_for(self, condition: Callable[[Terminal], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            if self.status is not None:
                raise AssertionError(f"exited ({self.status}) before {what}:\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s:\n{self.text()}")
            self._pump(0.05)
            self._reap(block=False)

    def wait_for_text(self, text: str, timeout: float) -> None:
        self.wait_for(lambda terminal: text in terminal.text(), timeout, repr(text))

    def resize(self, columns: int) -> None:
        """Make the window narrower or wider: the kernel sends SIGWINCH to the foreground process group."""
        self._pump(0.05)
        self.columns = columns
        self.screen.resize(self.screen.lines, columns)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", self.screen.lines, columns, 0, 0))

    def press_ctrl_c(self) -> float:
        """Type Ctrl-C: the line discipline signals the whole foreground process group, as in a shell."""
        os.write(self.fd, b"\x03")
        return time.monotonic()

    def wait_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.status is None:
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"still running after {timeout} s:\n{self.text()}")
            self._pump(0.05)
            self._reap(block=False)
        # Whatever was written before the exit is still in the pty's buffer.
        while select.select([self.fd], [], [], 0.05)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.raw += chunk
            self._stream.feed(chunk)
        return self.status

    def kill(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            self._reap(block=True)

    def close(self) -> None:
        self.kill()
        os.close(self.fd)


def clean_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("LOCKCLOUD_")}


def read_line_within(stream: Any, seconds: float) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(seconds)
    assert lines, f"no output within {seconds} s"
    return str(lines[0])


@pytest.fixture
def open_terminal() -> Iterator[Callable[..., Terminal]]:
    opened: list[Terminal] = []

    def start(*args: str, columns: int, env: dict[str, str] | None = None) -> Terminal:
        terminal = Terminal(args, columns=columns, env=clean_env() | (env or {}))
        opened.append(terminal)
        return terminal

    yield start
    for terminal in opened:
        terminal.close()


def stop_politely(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        # SIGTERM lets `sim serve` stop its broker; SIGKILL would leave the broker process orphaned.
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


@pytest.fixture
def serve_simulator() -> Iterator[Callable[..., dict[str, Any]]]:
    """Start ``lockcloud sim serve --json OPTIONS`` in its own process; the dict it printed, plus ``process``."""
    processes: list[subprocess.Popen[str]] = []

    def start(*options: str) -> dict[str, Any]:
        process = subprocess.Popen(
            [sys.executable, "-m", "lockcloud", "sim", "serve", "--json", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        processes.append(process)
        info: dict[str, Any] = json.loads(read_line_within(process.stdout, 60))
        info["process"] = process
        return info

    yield start
    for process in processes:
        stop_politely(process)


def environment_for(info: dict[str, Any]) -> dict[str, str]:
    """The ``LOCKCLOUD_*`` variables that point the CLI at a served simulator."""
    return {
        "LOCKCLOUD_ACCESS_ID": info["access_id"],
        "LOCKCLOUD_ACCESS_SECRET": info["access_secret"],
        "LOCKCLOUD_BASE_URL": info["base_url"],
        "LOCKCLOUD_PULSAR_URL": info["pulsar_url"],
        **({"LOCKCLOUD_WEBSOCKET_URL": info["websocket_url"]} if info.get("websocket_url") else {}),
    }


@pytest.fixture
def simulator_environment() -> Callable[[dict[str, Any]], dict[str, str]]:
    return environment_for


@pytest.fixture
def read_line() -> Callable[[Any, float], str]:
    """``read_line(stream, seconds)``: the next line of a child process's output, failing after ``seconds``."""
    return read_line_within


#: A served simulator that runs ``open_door`` and then keeps the answer back (it says so on stdout): the moment
#: when an interrupted unlock may already have opened the door.
_SIMULATOR_HOLDING_OPEN_DOOR = """
import asyncio, json, signal
from lockcloud.sim import Simulator, running

async def main():
    sim = Simulator()
    sim.faults.hang_seconds = 600
    sim.lose_next_response(action="open_door", mode="timeout")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with running(sim, broker=False) as server:
        print(json.dumps({"access_id": server.access_id, "access_secret": server.access_secret,
                          "base_url": server.base_url, "pulsar_url": ""}), flush=True)
        while not sim.executed("open_door"):
            await asyncio.sleep(0.02)
        print("executed open_door", flush=True)
        await stop.wait()

asyncio.run(main())
"""


@pytest.fixture
def simulator_holding_open_door() -> Iterator[dict[str, Any]]:
    """A served simulator (no broker) whose first ``open_door`` runs and never answers; ``next_line(seconds)``
    then reads ``executed open_door`` from it."""
    process = subprocess.Popen(
        [sys.executable, "-c", _SIMULATOR_HOLDING_OPEN_DOOR],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        info: dict[str, Any] = json.loads(read_line_within(process.stdout, 60))
        info["process"] = process
        info["next_line"] = lambda seconds: read_line_within(process.stdout, seconds)
        yield info
    finally:
        stop_politely(process)
