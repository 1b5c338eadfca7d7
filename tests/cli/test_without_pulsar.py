"""A plain install: neither pulsar-client nor pulsar-lite.

Each command runs in its own process where those packages cannot be found (a ``sitecustomize`` on ``PYTHONPATH``
makes Python's path finder not see ``pulsar``, ``_pulsar`` and ``pulsar_lite``, as if they were not installed).
REST commands on ``--sim`` work; commands that read push messages say in one line what to install (or pass), and
exit 1, never with a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HIDDEN = ("pulsar", "_pulsar", "pulsar_lite")

_SITECUSTOMIZE = f"""
import importlib.machinery

_HIDDEN = {HIDDEN!r}
_find_spec = importlib.machinery.PathFinder.find_spec


def _without_pulsar(fullname, path=None, target=None):
    if fullname.partition(".")[0] in _HIDDEN:
        return None  # not installed, as far as the import system can tell
    return _find_spec(fullname, path, target)


importlib.machinery.PathFinder.find_spec = _without_pulsar
"""

SIM_INSTALL = "pip install 'lockcloud[sim]'"


@pytest.fixture
def plain_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a process that finds neither pulsar-client nor pulsar-lite."""
    shim = tmp_path / "without-pulsar"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(textwrap.dedent(_SITECUSTOMIZE), encoding="utf-8")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LOCKCLOUD_") and name != "PULSAR_LITE_BINARY"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def lockcloud(plain_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lockcloud", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=plain_env,
            check=False,
        )

    return run


def one_line(err: str) -> str:
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_the_processes_find_neither_package(plain_env: dict[str, str]) -> None:
    # What every test below rests on: without this the others would pass on an install that has both.
    probe = (
        "import importlib.util, json; from lockcloud.sim.broker import missing_push_packages; "
        f"print(json.dumps([[importlib.util.find_spec(m) is None for m in {HIDDEN!r}], missing_push_packages()]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=plain_env, check=True, timeout=60
    )
    hidden, missing = json.loads(result.stdout)
    assert hidden == [True, True, True]
    assert missing == ["pulsar-client", "pulsar-lite"]
    failed = subprocess.run(
        [sys.executable, "-c", "import pulsar"], capture_output=True, text=True, env=plain_env, timeout=60
    )
    assert "ModuleNotFoundError" in failed.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ("keys", "--sim", "front_door", "--json"),
        ("status", "--sim", "front_door", "--json"),
        ("history", "--sim", "front_door", "--json"),
        ("codes", "list", "--sim", "front_door", "--json"),
        ("members", "list", "--sim", "front_door", "--json"),
        ("remote-unlock", "--sim", "front_door", "--json"),
        ("doctor", "--sim", "--skip-events", "--json"),
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_rest_commands_on_sim_need_no_broker_package(
    lockcloud: Callable[..., subprocess.CompletedProcess[str]], argv: tuple[str, ...]
) -> None:
    result = lockcloud(*argv)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout.splitlines()[-1])  # a document, as with the packages installed
    assert "starting an embedded simulator for this command" in result.stderr


def test_an_unlock_on_sim_needs_no_broker_package(
    lockcloud: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = lockcloud("unlock", "--sim", "shed", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    "argv",
    [
        ("listen", "--sim", "--count", "1"),
        ("listen", "--sim", "--websocket", "--count", "1"),
        ("enroll", "--sim", "front_door", "--user", "sim-alice"),
        ("enroll", "--sim", "front_door", "--user", "sim-alice", "--websocket"),
    ],
    ids=" ".join,
)
def test_push_commands_on_sim_say_what_to_install_in_one_line(
    lockcloud: Callable[..., subprocess.CompletedProcess[str]], argv: tuple[str, ...]
) -> None:
    result = lockcloud(*argv)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("lockcloud: --sim reads push messages")
    assert SIM_INSTALL in line
    assert "pulsar-client and pulsar-lite" in line
    assert "--websocket needs them as well" in line  # why it does not help with --sim


def test_the_demo_says_what_to_install_in_one_line(
    lockcloud: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = lockcloud("demo")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("lockcloud: the demo reads push messages")
    assert SIM_INSTALL in line


def test_doctor_on_sim_fails_only_its_push_check(
    lockcloud: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = lockcloud("doctor", "--sim", "--json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    report: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    failed = [check for check in report["checks"] if not check["ok"]]
    assert [check["name"] for check in failed] == ["push messages"]
    assert {"credentials", "token", "services"} <= {check["name"] for check in report["checks"]}
    assert SIM_INSTALL in failed[0]["detail"]
    assert "--skip-events" in failed[0]["fix"]


def test_listen_to_a_project_without_pulsar_client_suggests_websocket(
    lockcloud: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = lockcloud(
        "listen",
        "--access-id",
        "project",
        "--access-secret",
        "s" * 32,
        "--base-url",
        "http://127.0.0.1:9",
        "--pulsar-url",
        "pulsar://127.0.0.1:9",
    )
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "pip install 'lockcloud[pulsar]'" in line
    assert "--websocket" in line


def test_listen_over_websocket_needs_no_pulsar_client(
    plain_env: dict[str, str],
    serve_simulator: Callable[..., dict[str, Any]],
    read_line: Callable[[Any, float], str],
) -> None:
    served = serve_simulator()  # in a process of its own, with the packages: it runs the broker
    env = plain_env | {
        "LOCKCLOUD_ACCESS_ID": served["access_id"],
        "LOCKCLOUD_ACCESS_SECRET": served["access_secret"],
        "LOCKCLOUD_BASE_URL": served["base_url"],
        "LOCKCLOUD_WEBSOCKET_URL": served["websocket_url"],
    }
    listener = subprocess.Popen(
        [sys.executable, "-m", "lockcloud", "listen", "--websocket", "--count", "1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        ready = json.loads(read_line(listener.stdout, 60))
        assert ready["type"] == "ready"
        assert ready["transport"] == "websocket"
        unlocked = subprocess.run(
            [sys.executable, "-m", "lockcloud", "unlock", "sim-shed"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert unlocked.returncode == 0, unlocked.stderr
        out, err = listener.communicate(timeout=60)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.communicate()
    assert listener.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["device_id"] == "sim-shed"


def test_sim_serve_says_what_to_install_or_to_pass_no_broker(
    lockcloud: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = lockcloud("sim", "serve")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert SIM_INSTALL in line
    assert "--no-broker" in line


def test_the_library_names_the_missing_packages(plain_env: dict[str, str]) -> None:
    program = textwrap.dedent(
        """
        import asyncio
        from lockcloud import BrokerError
        from lockcloud.sim import BrokerUnavailableError, running
        from lockcloud.testing import PushPublisher

        async def main():
            try:
                async with running():
                    pass
            except BrokerError as exc:
                print(exc)
            try:
                await PushPublisher("pulsar://127.0.0.1:9", "project", "s" * 32).start()
            except BrokerUnavailableError as exc:
                print(exc)
            async with running(broker=False) as server:
                print(server.pulsar_url)

        asyncio.run(main())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        env=plain_env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    served, published, rest_only = result.stdout.splitlines()
    assert "pulsar-client and pulsar-lite" in served
    assert "running(broker=False)" in served
    assert "pulsar-client is not installed" in published
    assert rest_only == "None"
