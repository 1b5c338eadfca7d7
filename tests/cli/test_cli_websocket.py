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
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [event["type"] for event in events] == ["EnrollmentProgress"] * 3
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
