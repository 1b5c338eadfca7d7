"""The ``lockcloud`` command. ``demo`` and ``sim serve`` run as real subprocesses (bounded in time); the other
commands run through ``main()`` in-process against a served simulator or ``--sim``."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lockcloud
from lockcloud import RetryPolicy
from lockcloud._client import LockCloud
from lockcloud.cli import main
from lockcloud.enums import UnlockType

COMMAND = [sys.executable, "-m", "lockcloud"]
DEMO_TIMEOUT = 60
# Every test here runs without the developer's LOCKCLOUD_* settings, and so do the commands it starts.
pytestmark = pytest.mark.usefixtures("without_lockcloud_environment")


def run(*args: str, timeout: float = DEMO_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=timeout, check=False)


# -- demo -------------------------------------------------------------------------------------------------------


def test_demo_runs_every_step_and_exits_cleanly(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    done = run("demo", "--photo", str(photo), "--press-interval", "0.05")
    assert done.returncode == 0, done.stderr
    for step in (
        "1. Enrolling a fingerprint",
        "5/5 done",
        "duress alarm",
        "door open",
        "PNG image",
        "Done in",
    ):
        assert step in done.stdout
    assert "no Tuya account" in done.stdout
    assert photo.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "Traceback" not in done.stderr
    assert "terminate called" not in done.stderr


def test_demo_json_report(tmp_path: Path) -> None:
    photo = tmp_path / "visitor.png"
    done = run("demo", "--json", "--photo", str(photo), "--press-interval", "0.05")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["enrollment"]["status"] == "completed"
    assert report["enrollment"]["total_period"] == 5
    new_key = report["enrollment"]["key"]["unlock_no"]
    assert {"unlock_no": new_key, "unlock_type": "fingerprint", "hijack": True} in report["keys"]
    assert report["unlock"] == {"opened": True, "door": "door open"}
    assert report["photo"] == {"path": str(photo), "bytes": photo.stat().st_size}
    assert report["seconds"] < DEMO_TIMEOUT


# -- sim serve --------------------------------------------------------------------------------------------------


@pytest.fixture
def served(serve_simulator: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return serve_simulator("--press-interval", "0.02")


@pytest.fixture
def served_env(
    served: dict[str, Any],
    simulator_environment: Callable[[dict[str, Any]], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    for name, value in simulator_environment(served).items():
        monkeypatch.setenv(name, value)
    return served


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_sim_serve_serves_until_signalled(served: dict[str, Any], stop_signal: int) -> None:
    assert served["base_url"].startswith("http://127.0.0.1:")
    assert served["pulsar_url"].startswith("pulsar://127.0.0.1:")
    assert len(served["access_secret"]) == 32
    assert served["devices"]["front_door"] == "sim-front-door"
    assert served["users"] == {"home": "sim-alice", "guest": "sim-bob"}
    retry = RetryPolicy(max_attempts=2, initial_backoff=0.01, deadline=None)
    async with LockCloud(
        served["access_id"], served["access_secret"], base_url=served["base_url"], retry=retry
    ) as cloud:
        front = served["devices"]["front_door"]
        keys = await cloud.unlock_methods.list_assigned(front, "sim-alice", 1)
        assert [key.unlock_no for key in keys] == [1, 2]
        async with (
            cloud.events(url=served["pulsar_url"]) as stream,
            cloud.enroll(
                front, user_id="sim-alice", user_type=1, unlock_type=UnlockType.CARD, events=stream
            ) as enrollment,
        ):
            async for _ in enrollment:
                pass
        assert enrollment.result.ok
    process: subprocess.Popen[str] = served["process"]
    process.send_signal(stop_signal)
    assert process.wait(15) == 0
    assert process.stderr is not None
    errors = process.stderr.read()
    assert "Traceback" not in errors
    assert "terminate called" not in errors


def test_sim_serve_human_output_lists_everything(read_line: Callable[[Any, float], str]) -> None:
    process = subprocess.Popen(
        [*COMMAND, "sim", "serve", "--no-broker", "--access-id", "myproject", "--access-secret", "s" * 32],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [read_line(process.stdout, 30)]
        while not lines[-1].startswith("Press Ctrl-C"):
            lines.append(read_line(process.stdout, 30))
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        process.stderr.close()
    text = "".join(lines)
    assert "REST API:      http://127.0.0.1:" in text
    assert "access id:     myproject" in text
    assert "export LOCKCLOUD_ACCESS_SECRET=" + "s" * 32 in text
    assert "sim-porch" in text
    assert "Wi-Fi lock with video talk" in text


# -- the other commands against a served simulator ----------------------------------------------------------


def test_keys(served_env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "sim-front-door", "--user", "sim-alice", "--unassigned", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [key["unlock_no"] for key in document["assigned"]] == [1, 2]
    assert document["unassigned"] == [{"unlock_no": 3, "unlock_type": "card", "hijack": None}]
    assert main(["keys", "sim-front-door", "--user", "sim-alice"]) == 0
    text = capsys.readouterr().out
    rows = [line.split() for line in text.splitlines()]
    assert ["#1", "password"] in rows
    assert ["#2", "fingerprint"] in rows
    assert "#3" not in text
    # As wide as its columns: a pipe gets no rows padded with spaces to the console's 80 columns.
    assert max(len(line) for line in text.splitlines()) < 60, text


def test_unlock_with_a_pin_from_stdin(
    served_env: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("123456\n"))
    assert main(["unlock", "sim-front-door", "--pin", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"device_id": "sim-front-door", "opened": True}


def test_unlock_refused_is_one_line_and_exit_1(
    served_env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["unlock", "sim-front-door", "--pin", "000000"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "refused" in err
    with pytest.raises(SystemExit) as disabled:
        main(["unlock", "sim-front-door"])
    assert disabled.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    # The fix is a command, not a Python method: and it works.
    fix = "`lockcloud remote-unlock sim-front-door --enable without-pin`"
    assert fix in err
    assert "set_method_enabled" not in err
    assert main(["remote-unlock", "sim-front-door", "--enable", "without-pin", "--json"]) == 0
    switches = json.loads(capsys.readouterr().out)["switches"]
    assert switches["remoteUnlockWithoutPwd"] is True
    assert main(["unlock", "sim-front-door"]) == 0
    assert "sim-front-door: opened without a PIN." in capsys.readouterr().out
    assert main(["remote-unlock", "sim-front-door", "--disable", "without-pin"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["without-pin", "remoteUnlockWithoutPwd", "off"] in rows


def test_enroll_with_progress_and_listen(
    served_env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # A first listen creates the durable subscription; what is pushed afterwards waits there for the next one.
    assert main(["listen", "--duration", "0.2", "--subscription", "cli-test"]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "enroll",
                "sim-back-door",
                "--user",
                "sim-alice",
                "--type",
                "card",
                "--subscription",
                "cli-enroll",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "[##############################] 1/1 done" in text
    assert "Enrolled as key #4." in text
    assert main(["listen", "--count", "3", "--duration", "20", "--subscription", "cli-test", "--json"]) == 0
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # First the listener says it is subscribed, then the partitions and events.
    ready = documents.pop(0)
    assert ready["type"] == "ready"
    assert ready["transport"] == "pulsar"
    assert ready["subscription"] == "cli-test"
    events = [document for document in documents if document["type"] != "partition"]
    assert [event["type"] for event in events] == ["EnrollmentProgress"] * 3
    assert [event["body"]["bizData"]["period"] for event in events] == [1, 1, 0]
    assert {event["device_id"] for event in events} == {"sim-back-door"}
    # One lock, one partition of the 11: announced once, before its first event.
    announced = [document for document in documents if document["type"] == "partition"]
    assert len(announced) == 1
    assert documents[0] == announced[0]
    assert {event["partition"] for event in events} == {announced[0]["partition"]}


def test_the_test_channel_end_to_end(
    serve_simulator: Callable[..., dict[str, Any]],
    simulator_environment: Callable[[dict[str, Any]], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `sim serve --push-env event-test` pushes to the unpartitioned test topic; the CLI follows LOCKCLOUD_PUSH_ENV,
    # for its listeners and for the enrollment's own stream alike (or the enrollment would never see a press).
    served = serve_simulator("--press-interval", "0.02", "--push-env", "event-test")
    assert served["push_env"] == "event-test"
    for name, value in {**simulator_environment(served), "LOCKCLOUD_PUSH_ENV": "event-test"}.items():
        monkeypatch.setenv(name, value)
    assert main(["listen", "--duration", "0.2", "--subscription", "cli-test-channel"]) == 0
    capsys.readouterr()
    arguments = ["enroll", "sim-back-door", "--user", "sim-alice", "--type", "card", "--subscription", "x"]
    assert main(arguments) == 0
    assert "Enrolled as key" in capsys.readouterr().out
    listen = ["listen", "--count", "3", "--duration", "20", "--subscription", "cli-test-channel", "--json"]
    assert main(listen) == 0
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert documents.pop(0)["type"] == "ready"
    assert [document["type"] for document in documents] == ["EnrollmentProgress"] * 3
    assert {document["partition"] for document in documents} == {None}


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis+cluster://127.0.0.1:nan/", "port must be a whole number"),
        ("redis+sentinel://127.0.0.1:26379/", "service name"),
        ("redis+cluster://", "at least one host"),
        ("memcached://127.0.0.1:11211", "not a Redis URL"),
    ],
)
def test_listen_refuses_a_malformed_relay_url_in_one_line(
    served_env: dict[str, Any], url: str, complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["listen", "--relay", url, "--duration", "5"])
    assert exited.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--relay: " in line
    assert complaint in line


def test_listen_relays_to_a_redis_cluster(
    served_env: dict[str, Any], redis_cluster: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["listen", "--duration", "0.2", "--subscription", "cli-relay-cluster"]) == 0
    assert (
        main(["enroll", "sim-back-door", "--user", "sim-alice", "--type", "card", "--subscription", "x"]) == 0
    )
    capsys.readouterr()
    arguments = [
        "listen",
        "--relay",
        redis_cluster.url,
        "--subscription",
        "cli-relay-cluster",
        "--count",
        "3",
    ]
    assert main([*arguments, "--json", "--duration", "20"]) == 0
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["type"] for d in documents[1:] if d["type"] != "partition"] == ["EnrollmentProgress"] * 3
    import redis.cluster

    client = redis.cluster.RedisCluster(host="127.0.0.1", port=redis_cluster.ports[0])
    try:
        assert client.xlen(f"lockcloud:events:{served_env['access_id']}") >= 3
    finally:
        client.close()


def test_listen_relays_to_redis(
    served_env: dict[str, Any], redis_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import redis

    with pytest.raises(SystemExit) as exited:
        main(["listen", "--relay", "redis://127.0.0.1:1/0", "--duration", "5"])
    assert exited.value.code == 1
    assert "relay at 127.0.0.1:1 cannot be reached" in capsys.readouterr().err
    assert main(["listen", "--duration", "0.2", "--subscription", "cli-relay"]) == 0
    assert (
        main(["enroll", "sim-back-door", "--user", "sim-alice", "--type", "card", "--subscription", "x"]) == 0
    )
    capsys.readouterr()
    arguments = [
        "listen",
        "--relay",
        redis_server.url,
        "--subscription",
        "cli-relay",
        "--count",
        "3",
        "--json",
    ]
    assert main([*arguments, "--duration", "20"]) == 0
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert documents[0]["type"] == "ready"
    assert [d["type"] for d in documents[1:] if d["type"] != "partition"] == ["EnrollmentProgress"] * 3
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.xlen(f"lockcloud:events:{served_env['access_id']}") >= 3
    finally:
        client.close()


def test_doctor_against_the_simulator(served_env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--device", "sim-front-door", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    assert [check["name"] for check in document["checks"]] == [
        "credentials",
        "region",
        "token",
        "clock",
        "services",
        "push messages",
    ]


def test_doctor_warns_when_the_subscription_already_has_a_consumer(
    served_env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    listener = subprocess.Popen(
        [sys.executable, "-m", "lockcloud", "listen", "--duration", "120", "--subscription", "doctor-held"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().startswith(b"Listening on")
        assert main(["doctor", "--subscription", "doctor-held", "--json"]) == 0
    finally:
        listener.kill()
        listener.wait(30)
    document = json.loads(capsys.readouterr().out)
    checks = {check["name"]: check for check in document["checks"]}
    assert document["ok"] is True
    assert checks["push messages"]["ok"] is True
    assert checks["other consumers"]["warning"] is True
    assert "already has an active consumer" in checks["other consumers"]["detail"]


def test_doctor_reports_a_wrong_secret_with_its_fix(
    served_env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["doctor", "--access-secret", "x" * 32, "--access-id", served_env["access_id"], "--skip-events"])
    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert "[FAIL] token: Tuya refused the credentials" in captured.out
    assert "fix: copy the access id and secret" in captured.out
    assert "x" * 32 not in captured.out + captured.err


# -- credentials and errors -------------------------------------------------------------------------------------


def test_without_credentials_a_command_stops_and_names_sim(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["keys", "front_door"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no credentials" in err
    assert "--sim" in err


def test_sim_flag_says_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "front_door", "--sim", "--user", "sim-alice", "--json"]) == 0
    captured = capsys.readouterr()
    assert "embedded simulator" in captured.err
    assert json.loads(captured.out)["device_id"] == "sim-front-door"


def test_half_credentials_and_bad_region(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["keys", "d", "--access-id", "abc"])
    assert exited.value.code == 1
    assert "access secret is missing" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_region:
        main(["keys", "d", "--access-id", "a", "--access-secret", "b", "--region", "mars"])
    assert bad_region.value.code == 2
    assert "'mars' is not one of" in capsys.readouterr().err


def test_unreachable_cloud_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["keys", "d", "--access-id", "a", "--access-secret", "b", "--base-url", "http://127.0.0.1:9"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("lockcloud: cannot connect")
    assert err.count("\n") == 1


def test_console_script_is_declared() -> None:
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert 'lockcloud = "lockcloud.cli:main"' in pyproject


def test_module_entry_points_run_the_same_command() -> None:
    for module in ("lockcloud", "lockcloud.cli"):
        done = subprocess.run(
            [sys.executable, "-m", module, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"lockcloud {lockcloud.__version__}"
