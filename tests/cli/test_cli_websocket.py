"""``lockcloud listen --websocket`` against ``lockcloud sim serve`` in its own process."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from lockcloud.cli import main

pytestmark = pytest.mark.broker


@pytest.fixture
def served(
    serve_simulator: Callable[..., dict[str, Any]],
    simulator_environment: Callable[[dict[str, Any]], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    without_lockcloud_environment: None,
) -> dict[str, Any]:
    info = serve_simulator("--press-interval", "0.05")
    for name, value in simulator_environment(info).items():
        monkeypatch.setenv(name, value)
    return info


def test_listen_over_websocket_prints_the_enrollment_pushes(
    served: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert served["websocket_url"].startswith("ws://127.0.0.1:")
    # The first listen creates the subscription; what is pushed afterwards waits there for the next one.
    assert main(["listen", "--websocket", "--duration", "0.3", "--subscription", "ws-cli"]) == 0
    assert "Listening on" in capsys.readouterr().out
    assert main(["enroll", "sim-back-door", "--user", "sim-alice", "--type", "card"]) == 0
    capsys.readouterr()
    command = [
        "listen",
        "--websocket",
        "--count",
        "3",
        "--duration",
        "30",
        "--subscription",
        "ws-cli",
        "--json",
    ]
    assert main(command) == 0
    ready, *documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert ready["type"] == "ready"
    assert ready["transport"] == "websocket"
    events = [document for document in documents if document["type"] != "partition"]
    assert [event["type"] for event in events] == ["EnrollmentProgress"] * 3
    # Over WebSocket too, the listener says which partition each message came from (the lock's one partition).
    announced = [document for document in documents if document["type"] == "partition"]
    assert len(announced) == 1
    assert {event["partition"] for event in events} == {announced[0]["partition"]}
    assert [event["body"]["bizData"]["period"] for event in events] == [1, 1, 0]
    assert {event["device_id"] for event in events} == {"sim-back-door"}


def test_sim_serve_points_the_cli_at_its_websocket_url(served: dict[str, Any]) -> None:
    assert served["websocket_url"] == "ws" + served["base_url"].removeprefix("http") + "/"


def test_doctor_tries_the_push_channel_over_websocket(
    served: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--websocket", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    [push] = [check for check in document["checks"] if check["name"] == "push messages"]
    assert push["ok"] is True
    assert served["websocket_url"] in str(push)
    assert "(WebSocket)" in str(push)


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_enroll_follows_the_pushes_over_websocket(
    served: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """--websocket, or LOCKCLOUD_PUSH_TRANSPORT=websocket: the enrollment's own stream reads the WebSocket API."""
    arguments = [
        "enroll",
        "sim-back-door",
        "--user",
        "sim-alice",
        "--type",
        "card",
        "--subscription",
        f"ws-{how}",
    ]
    if how == "flag":
        arguments.append("--websocket")
    else:
        monkeypatch.setenv("LOCKCLOUD_PUSH_TRANSPORT", "websocket")
    # The native port leads nowhere: only a stream over WebSocket sees the lock's presses.
    monkeypatch.setenv("LOCKCLOUD_PULSAR_URL", "pulsar://127.0.0.1:1")
    assert main(arguments) == 0
    assert "Enrolled as key" in capsys.readouterr().out


def test_listen_honours_the_push_transport_variable(
    served: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKCLOUD_PUSH_TRANSPORT", "websocket")
    assert main(["listen", "--duration", "0.2", "--subscription", "ws-env", "--json"]) == 0
    ready = json.loads(capsys.readouterr().out.splitlines()[0])
    assert ready["transport"] == "websocket"
    assert ready["source"].startswith(served["websocket_url"].rstrip("/"))
    monkeypatch.setenv("LOCKCLOUD_PUSH_TRANSPORT", "carrier-pigeon")
    with pytest.raises(SystemExit) as exited:
        main(["listen", "--duration", "0.2"])
    assert exited.value.code == 1
    assert "LOCKCLOUD_PUSH_TRANSPORT must be 'pulsar' or 'websocket'" in capsys.readouterr().err
