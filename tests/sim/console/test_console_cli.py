"""The console from the command line: ``lockcloud sim serve`` prints its address (and warns off loopback),
``lockcloud demo`` prints it and ``--open`` hands it to the browser, then keeps the console up until Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from lockcloud.cli._output import Output
from lockcloud.cli._sim import _describe_server
from lockcloud.sim import SimServer, Simulator

COMMAND = [sys.executable, "-m", "lockcloud"]
#: A guard against a command that hangs, not a measurement.
PATIENCE = 60

pytestmark = pytest.mark.usefixtures("without_lockcloud_environment")


def _read_line(stream: IO[str] | None, timeout: float = PATIENCE) -> str:
    """One line of a child's output, or a failure naming the wait."""
    assert stream is not None
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not box:
        raise AssertionError(f"no line from the command within {timeout} s")
    return box[0]


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    code = process.wait(15)
    assert process.stderr is not None
    errors = process.stderr.read()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    return code, errors


def test_sim_serve_prints_the_console_url_and_serves_it() -> None:
    process = subprocess.Popen(
        [*COMMAND, "sim", "serve", "--no-broker", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        served: dict[str, Any] = json.loads(_read_line(process.stdout))
        url = served["console_url"]
        assert url.startswith(served["base_url"] + "/console/?token=")
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200
        assert "lockcloud simulator" in page.text
        assert httpx.get(served["base_url"] + "/console/", timeout=10).status_code == 403
    finally:
        code, errors = _stop(process)
    assert code == 0, errors
    assert "Traceback" not in errors


def test_sim_serve_without_the_console() -> None:
    process = subprocess.Popen(
        [*COMMAND, "sim", "serve", "--no-broker", "--no-console", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        served = json.loads(_read_line(process.stdout))
    finally:
        code, errors = _stop(process)
    assert served["console_url"] is None
    assert code == 0, errors


def test_the_listing_shows_the_console_and_warns_off_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    sim = Simulator()
    out = Output(json_mode=False)
    _describe_server(out, SimServer(sim, "http://127.0.0.1:8123", None))
    shown = capsys.readouterr()
    assert "console:       (off)" in shown.out
    assert "warning" not in shown.err
    from lockcloud.sim.console import Console

    console = Console(sim)
    _describe_server(out, SimServer(sim, "http://192.0.2.7:8123", None, console=console))
    shown = capsys.readouterr()
    assert f"console:       http://192.0.2.7:8123/console/?token={console.token}" in shown.out
    assert "reachable from other machines" in " ".join(shown.err.split())
    assert "--host 127.0.0.1" in shown.err


def test_demo_prints_the_console_url_and_open_hands_it_to_the_browser(tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(f"import sys, pathlib\npathlib.Path({str(opened)!r}).write_text(sys.argv[1])\n")
    env = {**os.environ, "BROWSER": f"{sys.executable} {browser} %s"}
    process = subprocess.Popen(
        [*COMMAND, "demo", "--open", "--photo", str(tmp_path / "p.png"), "--press-interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        while not lines or "press Ctrl-C" not in lines[-1]:
            line = _read_line(process.stdout)
            assert line, f"the demo ended early: {''.join(lines)}"
            lines.append(line)
        text = "".join(lines)
        printed = next(line for line in lines if "in the console:" in line).split("console: ")[1].strip()
        assert printed == opened.read_text()
        # After the demo, the console still serves, and shows what the demo did.
        token = printed.split("token=")[1]
        state = httpx.get(
            printed.split("/console/")[0] + "/console/api/state",
            headers={"x-console-token": token},
            timeout=10,
        ).json()
        assert any(push["body"].get("bizCode") == "doorUnlockMethodStatus" for push in state["pushes"])
        assert "PNG image" in text
    finally:
        code, errors = _stop(process)
    assert code == 0, errors
    assert "Traceback" not in errors
