"""The CLI as a person sees it: in a real pseudo terminal of 60 and 120 columns, read back through a VT emulator.

Ctrl-C is typed into the terminal, so it reaches the whole foreground process group as it does in a shell. The
times printed are informative; the bounds asserted are generous (the machine may be loaded), the content exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.broker

STARTUP = 60  # seconds for a command to bring up a simulator and a broker on a loaded machine
NOISE = ("Traceback", "not delivered", "terminate called", "Timeout")


Terminal = Any  # the conftest's pseudo terminal (a test module cannot import a conftest)
Open = Callable[..., Any]


def bar_lines(terminal: Terminal, label: str = "fingerprint:") -> list[str]:
    return [line for line in terminal.lines() if line.lstrip().startswith(label)]


@pytest.mark.parametrize("columns", [60, 120])
def test_demo_progress_is_one_line_that_fits(open_terminal: Open, columns: int) -> None:
    terminal = open_terminal("demo", "--press-interval", "0.3", columns=columns)
    terminal.wait_for_text("Done in", STARTUP)
    assert terminal.wait_exit(30) == 0
    # A redrawn line wider than the terminal used to wrap and leave its copies behind; the live bar is one
    # line, fitted to the width, and stays on screen finished.
    bars = bar_lines(terminal)
    assert len(bars) == 1, terminal.text()
    assert "5/5" in bars[0]
    assert "done" in bars[0]
    assert all(len(line) <= columns for line in terminal.lines())
    for step in ("1. Enrolling", "2. Keys", "3. Setting a duress alarm", "door open", "PNG image"):
        assert step in terminal.flat()
    assert not any(noise in terminal.flat() for noise in NOISE)


@pytest.mark.parametrize("columns", [60, 120])
def test_ctrl_c_during_demo_enrollment_cancels_at_the_lock_and_leaves_quickly(
    open_terminal: Open, columns: int
) -> None:
    terminal = open_terminal("demo", "--press-interval", "1", columns=columns)
    terminal.wait_for(lambda t: any("1/5" in line for line in bar_lines(t)), STARTUP, "the first press")
    pressed = terminal.press_ctrl_c()
    status = terminal.wait_exit(30)
    assert terminal.exited_at is not None
    elapsed = terminal.exited_at - pressed
    print(f"{columns} columns: exited {elapsed:.2f} s after Ctrl-C")
    assert status == 130
    text = terminal.flat()
    assert "interrupted: cancelled the fingerprint enrollment on sim-front-door; the lock confirmed" in text
    assert not any(noise in text for noise in NOISE), text
    assert "2. Keys" not in text
    assert len(bar_lines(terminal)) == 1, terminal.text()
    # Under 2 s on a quiet machine (see the printed time); the bound leaves room for a loaded one, and is far
    # below the 10 s that the pulsar operation timeout took when Ctrl-C also reached the broker.
    assert elapsed < 8, text


@pytest.mark.parametrize("columns", [60, 120])
def test_ctrl_c_during_enroll_says_what_was_cancelled(
    open_terminal: Open,
    serve_simulator: Callable[..., dict[str, Any]],
    simulator_environment: Callable[[dict[str, Any]], dict[str, str]],
    columns: int,
) -> None:
    # A served simulator whose finger presses slowly: the enrollment is surely still running when Ctrl-C comes.
    served = serve_simulator("--press-interval", "5")
    terminal = open_terminal(
        "enroll", "sim-front-door", "--user", "sim-alice", columns=columns, env=simulator_environment(served)
    )
    terminal.wait_for(lambda t: any("5 to go" in line for line in bar_lines(t)), STARTUP, "the lock's prompt")
    pressed = terminal.press_ctrl_c()
    assert terminal.wait_exit(30) == 130
    assert terminal.exited_at is not None
    print(f"{columns} columns: exited {terminal.exited_at - pressed:.2f} s after Ctrl-C")
    text = terminal.flat()
    assert "interrupted: cancelled the fingerprint enrollment on sim-front-door; the lock confirmed" in text
    assert "lockcloud: interrupted" in text
    assert not any(noise in text for noise in NOISE), text
    assert len(bar_lines(terminal)) == 1, text
    assert all(len(line) <= columns for line in terminal.lines())
    # The served simulator saw the cancel: a new enrollment on the same lock is accepted at once.
    again = open_terminal(
        "enroll",
        "sim-front-door",
        "--user",
        "sim-alice",
        "--type",
        "card",
        columns=columns,
        env=simulator_environment(served),
    )
    again.wait_for(
        lambda t: any("1 to go" in line for line in bar_lines(t, "card:")), STARTUP, "a second start"
    )


def test_the_live_bar_follows_a_resized_window(
    open_terminal: Open,
    serve_simulator: Callable[..., dict[str, Any]],
    simulator_environment: Callable[[dict[str, Any]], dict[str, str]],
) -> None:
    served = serve_simulator("--press-interval", "2")
    terminal = open_terminal(
        "enroll", "sim-front-door", "--user", "sim-alice", columns=120, env=simulator_environment(served)
    )
    terminal.wait_for(lambda t: any("to go" in line for line in bar_lines(t)), STARTUP, "the bar")
    assert len(bar_lines(terminal)[0]) > 100  # the bar spreads over a wide window
    terminal.resize(60)
    # The next redraw measures the window again and draws one line that fits the narrow one.
    terminal.wait_for(
        lambda t: any("3 to go" in line for line in bar_lines(t)), STARTUP, "a redraw after resizing"
    )
    assert terminal.wait_exit(STARTUP) == 0
    bars = bar_lines(terminal)
    assert len(bars) == 1, terminal.text()
    assert "5/5" in bars[0]
    assert len(bars[0]) <= 60
