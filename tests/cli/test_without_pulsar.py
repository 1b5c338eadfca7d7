"""A plain install (``pip install lockcloud``: no pulsar-client, pulsar-lite or uvicorn), and the ``sim`` extra's
server without the broker packages.

Each command runs in its own process where those packages cannot be found (a ``sitecustomize`` on ``PYTHONPATH``
makes Python's path finder not see them, as if they were not installed). REST commands on ``--sim`` work, served
over loopback where uvicorn is installed and in-process where it is not; commands that read push messages say in
one line what to install (or pass), and exit 1, never with a traceback.
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

PULSAR = ("pulsar", "_pulsar", "pulsar_lite")
PLAIN = (*PULSAR, "uvicorn")

_SITECUSTOMIZE = """
import importlib.machinery

_HIDDEN = {hidden!r}
_find_spec = importlib.machinery.PathFinder.find_spec


def _not_installed(fullname, path=None, target=None):
    if fullname.partition(".")[0] in _HIDDEN:
        return None  # not installed, as far as the import system can tell
    return _find_spec(fullname, path, target)


importlib.machinery.PathFinder.find_spec = _not_installed
"""

SIM_INSTALL = "pip install 'lockcloud[sim]'"
Run = Callable[..., subprocess.CompletedProcess[str]]


def env_without(directory: Path, hidden: tuple[str, ...]) -> dict[str, str]:
    """The environment of a process that cannot find the ``hidden`` top-level modules."""
    shim = directory / ("without-" + "-".join(hidden))
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        textwrap.dedent(_SITECUSTOMIZE.format(hidden=hidden)), encoding="utf-8"
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LOCKCLOUD_") and name != "PULSAR_LITE_BINARY"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def plain_env(tmp_path: Path) -> dict[str, str]:
    """``pip install lockcloud``: none of the ``sim`` extra."""
    return env_without(tmp_path, PLAIN)


@pytest.fixture
def no_pulsar_env(tmp_path: Path) -> dict[str, str]:
    """uvicorn, but neither pulsar-client nor pulsar-lite."""
    return env_without(tmp_path, PULSAR)


def runner(env: dict[str, str]) -> Run:
    def run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lockcloud", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )

    return run


@pytest.fixture
def lockcloud(no_pulsar_env: dict[str, str]) -> Run:
    return runner(no_pulsar_env)


@pytest.fixture
def plain_lockcloud(plain_env: dict[str, str]) -> Run:
    return runner(plain_env)


def one_line(err: str) -> str:
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("hidden", "missing"),
    [(PLAIN, ["pulsar-client", "pulsar-lite"]), (PULSAR, ["pulsar-client", "pulsar-lite"])],
    ids=["plain", "no pulsar"],
)
def test_the_processes_find_none_of_the_hidden_packages(
    tmp_path: Path, hidden: tuple[str, ...], missing: list[str]
) -> None:
    # What every test below rests on: without this the others would pass on an install that has them all.
    env = env_without(tmp_path, hidden)
    probe = (
        "import importlib.util, json; from lockcloud.sim.broker import missing_push_packages; "
        f"print(json.dumps([[importlib.util.find_spec(m) is None for m in {PLAIN!r}], missing_push_packages()]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True, timeout=60
    )
    found, names = json.loads(result.stdout)
    assert found == [module in hidden for module in PLAIN]
    assert names == missing
    failed = subprocess.run(
        [sys.executable, "-c", "import pulsar"], capture_output=True, text=True, env=env, timeout=60
    )
    assert "ModuleNotFoundError" in failed.stderr


REST_COMMANDS = [
    ("keys", "--sim", "front_door", "--json"),
    ("status", "--sim", "front_door", "--json"),
    ("history", "--sim", "front_door", "--json"),
    ("codes", "list", "--sim", "front_door", "--json"),
    ("members", "list", "--sim", "front_door", "--json"),
    ("remote-unlock", "--sim", "front_door", "--json"),
    ("unlock", "--sim", "shed", "--json"),
    ("doctor", "--sim", "--skip-events", "--json"),
]


@pytest.mark.parametrize("argv", REST_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_rest_commands_on_sim_need_no_broker_package(lockcloud: Run, argv: tuple[str, ...]) -> None:
    result = lockcloud(*argv)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout.splitlines()[-1])  # a document, as with the packages installed
    assert "starting an embedded simulator for this command" in result.stderr


@pytest.mark.parametrize("argv", REST_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_rest_commands_on_sim_work_on_a_plain_install(plain_lockcloud: Run, argv: tuple[str, ...]) -> None:
    result = plain_lockcloud(*argv)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
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
def test_push_commands_on_sim_say_what_to_install_in_one_line(lockcloud: Run, argv: tuple[str, ...]) -> None:
    result = lockcloud(*argv)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("lockcloud: --sim reads push messages")
    assert SIM_INSTALL in line
    assert "needs pulsar-client and pulsar-lite (not installed)" in line
    assert "--websocket needs them as well" in line  # why it does not help with --sim


def test_a_push_command_on_a_plain_install_names_the_server_too(plain_lockcloud: Run) -> None:
    line = one_line(plain_lockcloud("listen", "--sim", "--count", "1").stderr)
    assert "needs pulsar-client, pulsar-lite and uvicorn (not installed)" in line
    assert SIM_INSTALL in line


def test_the_demo_says_what_to_install_in_one_line(
    lockcloud: Run,
) -> None:
    result = lockcloud("demo")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("lockcloud: the demo reads push messages")
    assert SIM_INSTALL in line


def test_doctor_on_sim_fails_only_its_push_check(
    lockcloud: Run,
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
    plain_lockcloud: Run,
) -> None:
    result = plain_lockcloud(
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


def test_listen_forwarding_to_a_relay_without_pulsar_client_says_only_what_to_install(
    plain_lockcloud: Run,
) -> None:
    result = plain_lockcloud(
        "listen",
        "--access-id",
        "project",
        "--access-secret",
        "s" * 32,
        "--base-url",
        "http://127.0.0.1:9",
        "--pulsar-url",
        "pulsar://127.0.0.1:9",
        "--relay",
        "redis://127.0.0.1:9/0",
    )
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "pip install 'lockcloud[pulsar]'" in line
    # Nothing is wrong with the push URL or the project's message service: the hint for those would mislead.
    assert "message service is enabled" not in line
    assert "check --pulsar-url" not in line


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


def test_sim_serve_says_what_to_install_or_to_pass_no_broker(lockcloud: Run) -> None:
    result = lockcloud("sim", "serve")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "needs pulsar-client and pulsar-lite (not installed)" in line
    assert SIM_INSTALL in line
    assert "--no-broker" in line


def test_sim_serve_on_a_plain_install_says_what_to_install(plain_lockcloud: Run) -> None:
    for argv in (("sim", "serve"), ("sim", "serve", "--no-broker")):
        result = plain_lockcloud(*argv)
        assert result.returncode == 1
        line = one_line(result.stderr)
        assert "uvicorn" in line
        assert SIM_INSTALL in line
        assert "--no-broker" not in line  # it would not help


def test_sim_serve_without_a_broker_needs_no_broker_package(
    no_pulsar_env: dict[str, str], read_line: Callable[[Any, float], str]
) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "lockcloud", "sim", "serve", "--no-broker", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=no_pulsar_env,
    )
    try:
        served = json.loads(read_line(server.stdout, 60))
        env = no_pulsar_env | {
            "LOCKCLOUD_ACCESS_ID": served["access_id"],
            "LOCKCLOUD_ACCESS_SECRET": served["access_secret"],
            "LOCKCLOUD_BASE_URL": served["base_url"],
        }
        keys = runner(env)("keys", "sim-front-door", "--json")
    finally:
        server.terminate()
        server.communicate(timeout=60)
    assert served["pulsar_url"] is None
    assert keys.returncode == 0, keys.stderr
    assert json.loads(keys.stdout)


def test_the_library_names_the_missing_packages(no_pulsar_env: dict[str, str]) -> None:
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
        env=no_pulsar_env,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    served, published, rest_only = result.stdout.splitlines()
    assert "pulsar-client and pulsar-lite" in served
    assert "running(broker=False)" in served
    assert "pulsar-client is not installed" in published
    assert rest_only == "None"


def test_the_library_on_a_plain_install_names_uvicorn(plain_env: dict[str, str]) -> None:
    program = textwrap.dedent(
        """
        import asyncio
        from lockcloud import LockCloudError
        from lockcloud.sim import Simulator, running

        async def main():
            try:
                async with running(broker=False):
                    pass
            except LockCloudError as exc:
                print(exc)
            sim = Simulator()
            async with sim.client() as cloud:
                print(len(await cloud.remote_unlock.list_methods(sim.devices["front_door"])))

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
    refused, methods = result.stdout.splitlines()
    assert "uvicorn, which is not installed" in refused
    assert SIM_INSTALL in refused
    assert int(methods) > 0
