"""Install check: ``pip install .`` with no extras gives REST + WebSocket push, and no pulsar-client.

A fresh virtual environment gets the project without extras (from PyPI or pip's cache; needs the index). In it, a
client enrolls a fingerprint against ``lockcloud sim serve`` (started from this environment, which has the ``sim``
extra) with the progress arriving over WebSocket, and asking for the native transport fails with one error that
names the ``pulsar`` extra.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.broker]

ROOT = Path(__file__).resolve().parents[2]

CLIENT = r"""
import asyncio, importlib.util, json, sys
from lockcloud import EventStreamError, LockCloud, UnlockType, UserType
from lockcloud.events import WebhookSource, WebSocketSource

info = json.loads(sys.argv[1])

async def main():
    report = {"pulsar_installed": importlib.util.find_spec("pulsar") is not None}
    WebhookSource(secret="a webhook secret")  # the webhook source needs nothing more either
    async with LockCloud(info["access_id"], info["access_secret"], base_url=info["base_url"],
                         websocket_url=info["websocket_url"]) as cloud:
        try:
            cloud.events()
        except EventStreamError as exc:
            report["native_error"] = str(exc)
        stream = cloud.events(transport="websocket", firehose=False)
        report["source"] = type(stream.source).__name__
        async with stream:
            device = info["devices"]["front_door"]
            async with asyncio.timeout(60):
                async with cloud.enroll(device, user_id=info["users"]["home"], user_type=UserType.HOME_USER,
                                        unlock_type=UnlockType.FINGERPRINT, events=stream) as enrollment:
                    report["progress"] = [progress.period async for progress in enrollment]
            report["result"] = enrollment.result.status.value
            report["acknowledged"] = stream.stats.acknowledged
    print(json.dumps(report))

asyncio.run(main())
"""


def test_a_plain_install_pushes_over_websocket_without_pulsar_client(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]

    server = subprocess.Popen(
        [sys.executable, "-m", "lockcloud.cli", "sim", "serve", "--json", "--press-interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        assert info["websocket_url"].startswith("ws://127.0.0.1:")
        client = subprocess.run(
            [str(python), "-c", CLIENT, json.dumps(info)],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,  # not the repository: import the installed package, not the source tree
        )
        assert client.returncode == 0, client.stderr[-3000:]
        report = json.loads(client.stdout.strip().splitlines()[-1])
        environment = {
            **{name: value for name, value in os.environ.items() if not name.startswith("LOCKCLOUD_")},
            "LOCKCLOUD_ACCESS_ID": info["access_id"],
            "LOCKCLOUD_ACCESS_SECRET": info["access_secret"],
            "LOCKCLOUD_BASE_URL": info["base_url"],
            "LOCKCLOUD_WEBSOCKET_URL": info["websocket_url"],
        }
        doctors = {
            flag: subprocess.run(
                [str(venv / "bin" / "lockcloud"), "doctor", "--json", *([flag] if flag else [])],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp_path,
                env=environment,
            )
            for flag in ("", "--websocket")
        }
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
    assert report["pulsar_installed"] is False
    assert report["source"] == "WebSocketSource"
    assert "lockcloud[pulsar]" in report["native_error"]
    assert report["result"] == "completed"
    assert report["progress"][-1] == 0
    assert report["acknowledged"] >= len(report["progress"])
    # The command line of the plain install: the native push check names the extra, the WebSocket one passes.
    native, websocket = (json.loads(doctors[flag].stdout) for flag in ("", "--websocket"))
    [native_push] = [check for check in native["checks"] if check["name"] == "push messages"]
    assert native_push["ok"] is False
    assert "lockcloud[pulsar]" in native_push["detail"]
    assert "--websocket" in native_push["fix"]
    assert websocket["ok"] is True, doctors["--websocket"].stdout
