"""``running()`` as a guest: inside a host's event loop and logging, on a port that may be taken."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lockcloud import LockCloudError, ValidationError
from lockcloud.sim import PortUnavailableError, running

from support import free_port

_HOST_APP = '''
"""A host ASGI app served by uvicorn's own CLI that runs the simulator in its lifespan."""

import contextlib

from lockcloud.sim import running

_state = {}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()  # lifespan.startup
        stack = contextlib.AsyncExitStack()
        _state["server"] = await stack.enter_async_context(running(broker=False))
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await stack.aclose()
        await send({"type": "lifespan.shutdown.complete"})
        return
    server = _state["server"]
    async with server.client() as cloud:
        keys = await cloud.unlock_methods.list_unassigned(server.devices["front_door"])
    body = f"{len(keys)} unassigned keys".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})
'''


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


async def test_a_taken_port_raises_an_error_naming_host_and_port(taken_port: int) -> None:
    with pytest.raises(PortUnavailableError) as raised:
        async with running(broker=False, port=taken_port):
            pytest.fail("the simulator served on a port that is taken")
    assert f"127.0.0.1:{taken_port}" in str(raised.value)
    assert "already in use" in str(raised.value)
    assert raised.value.errno == errno.EADDRINUSE
    assert isinstance(raised.value, LockCloudError)
    assert isinstance(raised.value, OSError)


@pytest.mark.parametrize(("option", "value"), [("port", -1), ("port", 65536), ("backlog", 0)])
async def test_a_port_or_backlog_out_of_range_is_refused_before_anything_starts(
    option: str, value: int
) -> None:
    with pytest.raises(ValidationError, match=option):
        async with running(broker=False, **{option: value}):
            pytest.fail("the simulator started")


async def test_running_leaves_the_uvicorn_loggers_as_it_found_them() -> None:
    error_logger, access_logger = logging.getLogger("uvicorn.error"), logging.getLogger("uvicorn.access")
    handler = logging.NullHandler()
    access_logger.addHandler(handler)
    # Other tests of the run may have configured uvicorn's loggers already: compare with what was found.
    found, found_propagate = list(access_logger.handlers), access_logger.propagate
    error_logger.setLevel(logging.INFO)
    try:
        async with running(broker=False) as server, server.client() as cloud:
            await cloud.unlock_methods.list_unassigned(server.devices["front_door"])
            assert error_logger.level == logging.INFO
            assert access_logger.handlers == found
            assert access_logger.propagate is found_propagate
        assert error_logger.level == logging.INFO
        assert access_logger.handlers == found
        assert not error_logger.filters
        assert not access_logger.filters
    finally:
        access_logger.removeHandler(handler)
        error_logger.setLevel(logging.NOTSET)


async def test_its_own_server_lines_stay_out_of_the_host_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="uvicorn")
    async with running(broker=False) as server, server.client() as cloud:
        await cloud.unlock_methods.list_unassigned(server.devices["front_door"])
        logging.getLogger("uvicorn.error").info("the host's own line")
    uvicorn_lines = [r.getMessage() for r in caplog.records if r.name.startswith("uvicorn")]
    assert uvicorn_lines == ["the host's own line"]


def test_inside_a_uvicorn_served_app_the_host_keeps_its_startup_and_access_log(tmp_path: Path) -> None:
    (tmp_path / "host_app.py").write_text(textwrap.dedent(_HOST_APP))
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "host_app:app", "--host", "127.0.0.1", "--port", str(port)]
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        answer = None
        deadline = time.monotonic() + 60
        while answer is None and time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/keys", timeout=10)
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer is not None, "the host app never answered"
        assert answer.status_code == 200
        assert answer.text == "1 unassigned keys"
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    logged = stdout + stderr
    assert "Application startup complete" in logged
    assert "Application shutdown complete" in logged
    assert '"GET /keys HTTP/1.1" 200' in logged
    # The simulator's own server stays quiet: one "running on" line (the host's), no access lines of its calls.
    assert logged.count("Uvicorn running on") == 1
    assert "/v1.0/" not in logged
    assert "Traceback" not in logged
