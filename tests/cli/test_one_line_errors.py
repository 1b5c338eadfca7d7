"""A bad flag, variable or number is one line on stderr naming what to fix, and exit status 2 (1 for a failed
operation); never a traceback, never a raw Python warning."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings

import click
import pytest

from lockcloud import InsecureTransportWarning, SubscribeError
from lockcloud.cli import cli, main
from lockcloud.cli._errors import describe_error

COMMAND = [sys.executable, "-m", "lockcloud"]
CREDENTIALS = ["--access-id", "a", "--access-secret", "b"]


@pytest.fixture(autouse=True)
def _no_lockcloud_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LOCKCLOUD_"):
            monkeypatch.delenv(name)


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    err = capsys.readouterr().err
    assert isinstance(info.value.code, int)
    return info.value.code, err


def one_line(err: str) -> str:
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("flag", "value", "complaint"),
    [
        ("--base-url", "http://[::1", "not a valid URL"),
        ("--base-url", "http://a..b/", "empty label"),
        ("--base-url", "http://h:99999", "port outside"),
        ("--base-url", "http://h\x1b[2J/", "control or invisible"),
        ("--pulsar-url", "pulsar://[::1", "not a valid URL"),
        ("--websocket-url", "wss://" + "a" * 300 + ".com/", "label"),
        ("--websocket-url", "https://h/", "must start with wss:// or ws://"),
    ],
)
def test_a_malformed_url_flag_is_one_line_naming_it(
    capsys: pytest.CaptureFixture[str], flag: str, value: str, complaint: str
) -> None:
    status, err = run_main(capsys, "keys", "dev", "--user", "u", *CREDENTIALS, flag, value)
    line = one_line(err)
    assert status == 2
    assert line.startswith(f"lockcloud keys: {flag} ")
    assert complaint in line
    assert "\x1b" not in line
    assert "lockcloud keys --help" in line


def test_a_malformed_url_from_the_environment_names_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKCLOUD_WEBSOCKET_URL", "ws://h:99999/")
    status, err = run_main(capsys, "listen", *CREDENTIALS)
    assert status == 2
    assert "LOCKCLOUD_WEBSOCKET_URL has a port outside 1-65535" in one_line(err)


@pytest.mark.parametrize(
    "argv",
    [
        ["listen", "--duration", "nan"],
        ["listen", "--duration", "inf"],
        ["listen", "--duration", "0"],
        ["enroll", "dev", "--user", "u", "--timeout", "nan"],
        ["sim", "serve", "--press-interval", "-inf"],
    ],
)
def test_non_finite_durations_are_refused_naming_the_flag(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    status, err = run_main(capsys, *argv)
    line = one_line(err)
    assert status == 2
    assert f"'{argv[-2]}'" in line
    assert "finite number of seconds" in line


@pytest.mark.parametrize("value", ["1e300", "86401"])
def test_a_connect_timeout_longer_than_a_day_is_refused_naming_the_flag(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    status, err = run_main(capsys, "listen", "--connect-timeout", value)
    line = one_line(err)
    assert status == 2
    assert "'--connect-timeout'" in line
    assert "at most 86,400 seconds" in line


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = run_main(capsys, "listen", "--count", "0")
    assert status == 2
    assert "'--count'" in one_line(err)
    status, err = run_main(capsys, "keys", "--no-such-flag")
    assert status == 2
    assert "--no-such-flag" in one_line(err)


def test_a_warning_is_one_line_without_python_source(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    @click.command("warns")
    def warns() -> None:
        warnings.warn("base_url http://h is plain http://", InsecureTransportWarning, stacklevel=1)

    monkeypatch.setitem(cli.commands, "warns", warns)
    assert main(["warns"]) == 0
    err = capsys.readouterr().err
    assert err == "lockcloud: warning: base_url http://h is plain http://\n"


def test_a_websocket_subscribe_failure_names_the_websocket_flag() -> None:
    def failure(url: str) -> SubscribeError:
        return SubscribeError(
            "refused", reason="refused", url=url, topic="a/out/event", subscription="s", fix=""
        )

    assert "--websocket-url or LOCKCLOUD_WEBSOCKET_URL" in describe_error(failure("wss://mqe.example:8285/"))
    assert "--pulsar-url" not in describe_error(failure("wss://mqe.example:8285/"))
    assert "--pulsar-url or LOCKCLOUD_PULSAR_URL" in describe_error(failure("pulsar+ssl://mqe.example:7285"))


def run_command(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LOCKCLOUD_")}
    return subprocess.run([*COMMAND, *argv], capture_output=True, text=True, timeout=timeout, env=env)


def test_sim_serve_on_a_taken_port_names_the_port_flag() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_command("sim", "serve", "--no-broker", "--port", str(port))
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert f"127.0.0.1:{port}" in line
    assert "pass another --port (0: a free one)" in line
    assert "port=0" not in line
    assert "Errno" not in line


def test_sim_serve_with_an_unreachable_broker_is_one_line_and_quick() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        started = time.monotonic()
        result = run_command("sim", "serve", "--broker-url", f"pulsar://127.0.0.1:{port}")
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert f"pulsar://127.0.0.1:{port}" in line
    assert "--broker-url" in line
    print(f"answered in {elapsed:.1f} s")


def test_sim_serve_with_a_malformed_broker_url_names_the_flag() -> None:
    result = run_command("sim", "serve", "--broker-url", "pulsar://[::1")
    assert result.returncode == 2
    assert "--broker-url 'pulsar://[::1' is not a valid URL" in one_line(result.stderr)
