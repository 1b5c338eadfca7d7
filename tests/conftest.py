"""Fixtures shared by every test area.

``broker`` gives each test its own ``pulsar-lite`` process (127.0.0.1, free port, metrics off, data under
the test's tmp_path); ``session_broker`` is one process for the whole run, for tests that only need somewhere
to publish, on topics of their own. Tests using either get the ``broker`` mark, so ``-m "not broker"`` skips
them.

``redis_server`` gives each test its own ``redis-server`` process (127.0.0.1, free port, no persistence, files in
the test's tmp_path) as a :class:`RedisServer` (``url``, ``host``, ``port``, ``pid``, ``kill()``, ``restart()``);
``session_redis`` is one for the whole run (use keys of your own; do not stop it). Tests using either get the
``redis`` mark. Without a ``redis-server`` binary they are skipped, except under CI (``CI`` set), where that fails.

``drip_server`` is :class:`DripServer`, a loopback HTTP server that drips its answers (for timeouts);
``without_lockcloud_environment`` removes every ``LOCKCLOUD_*`` variable for the test. (Test modules cannot import
this conftest under ``--import-mode=importlib``: shared fixtures are here, shared values and plain helpers
(credentials, the fast retry policy, ``free_port``) in ``support.py``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lockcloud.sim.broker import LocalBroker

from support import free_port

_BROKER_FIXTURES = frozenset({"broker", "session_broker", "lockcloud_broker", "lockcloud_session_broker"})
_REDIS_FIXTURES = frozenset({"redis_server", "session_redis"})
_SECRET_GUARD = Path(__file__).parent / "reliability" / "secret_guard.py"


def pytest_configure(config: pytest.Config) -> None:
    # lockcloud.testing's fixtures come through its pytest11 entry point; a development install made before that
    # entry point existed lacks it until reinstalled, so load the plugin here then (unless -p no:lockcloud).
    plugins = config.pluginmanager
    if not plugins.has_plugin("lockcloud") and not plugins.is_blocked("lockcloud"):
        plugins.register(importlib.import_module("lockcloud.testing.plugin"), "lockcloud")
    # The suite-wide guard against secrets in log records, loaded by path (tests are not a package).
    spec = importlib.util.spec_from_file_location("lockcloud_secret_guard", _SECRET_GUARD)
    assert spec is not None
    assert spec.loader is not None
    guard = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = guard
    spec.loader.exec_module(guard)
    config.pluginmanager.register(guard, "lockcloud-secret-guard")


@pytest.fixture
def broker(lockcloud_broker: LocalBroker) -> LocalBroker:
    """A running broker owned by this test; ``kill()`` / ``restart()`` it freely (lockcloud.testing's)."""
    return lockcloud_broker


@pytest.fixture(scope="session")
def session_broker(lockcloud_session_broker: LocalBroker) -> LocalBroker:
    """One broker for the whole session; do not stop or restart it (lockcloud.testing's)."""
    return lockcloud_session_broker


class RedisServer:
    """A ``redis-server`` process on 127.0.0.1 with no persistence (``--save "" --appendonly no``).

    Its log and working files stay in ``workdir``. ``kill()`` SIGKILLs it, ``stop()`` ends it by its pid,
    ``start()`` (again) brings it back on the same port, empty; ``restart()`` does both.
    """

    STARTUP_TIMEOUT = 10.0

    def __init__(self, workdir: Path, binary: str) -> None:
        self.workdir = workdir
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self._process is not None, "the server is not running"
        return self._process.pid

    def start(self) -> None:
        # A free port can be taken between choosing it and redis binding it: try a few.
        for _ in range(5):
            port = self.port or free_port()
            if self._launch(port):
                self.port = port
                return
            if self.port:
                break
        raise RuntimeError(f"redis-server did not start; see {self.workdir / 'redis.log'}")

    def _launch(self, port: int) -> bool:
        command = [
            self.binary,
            "--bind", self.host,
            "--port", str(port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--logfile", str(self.workdir / "redis.log"),
            "--daemonize", "no",
        ]  # fmt: skip
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + self.STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if _answers_ping(self.host, port):
                self._process = process
                return True
            time.sleep(0.01)
        process.kill()
        process.wait()
        return False

    def kill(self) -> None:
        """SIGKILL: gone at once, with everything it held."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _end(self, sig: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

    def __repr__(self) -> str:
        return f"RedisServer({self.url!r})"


def _answers_ping(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")
    return False


def _redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed (Debian: apt-get install redis-server; .ci/run does this)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


@contextlib.contextmanager
def _running_redis(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir, _redis_binary())
    server.start()
    try:
        yield server
    finally:
        server.stop()


class DripServer:
    """A real HTTP/1.1 server on 127.0.0.1 whose answers come slowly: the headers at once, then the body ``chunk``
    bytes every ``interval`` seconds, each piece well within any read timeout. ``answer(request_line)`` gives the
    body of each answer and whether to drip it (a token call may be answered at once). ``requests`` holds the
    request lines, ``bytes_sent`` the body bytes dripped so far; connections are kept alive."""

    def __init__(
        self, answer: Callable[[str], tuple[bytes, bool]], *, interval: float, chunk: int = 1
    ) -> None:
        self.answer = answer
        self.interval = interval
        self.chunk = chunk
        self.requests: list[str] = []
        self.bytes_sent = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> DripServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        # Connections still dripping are closed here, so that the server's shutdown does not wait on them.
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line = head.split(b"\r\n", 1)[0].decode()
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":", 1)[1]))
                self.requests.append(request_line)
                body, drip = self.answer(request_line)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
                await writer.drain()
                if not drip:
                    writer.write(body)
                    await writer.drain()
                    continue
                for start in range(0, len(body), self.chunk):
                    writer.write(body[start : start + self.chunk])
                    await writer.drain()
                    self.bytes_sent += len(body[start : start + self.chunk])
                    await asyncio.sleep(self.interval)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.fixture
def drip_server() -> type[DripServer]:
    """:class:`DripServer` (``async with drip_server(answer, interval=...) as server``), for tests of timeouts."""
    return DripServer


@pytest.fixture
def without_lockcloud_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``LOCKCLOUD_*`` variable for this test nor the processes it starts: a developer's own credentials or
    URLs must not reach the command under test."""
    for name in [name for name in os.environ if name.startswith("LOCKCLOUD_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server owned by this test; ``kill()`` / ``restart()`` it freely."""
    with _running_redis(tmp_path / "redis") as server:
        yield server


@pytest.fixture(scope="session")
def session_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the whole session; use keys of your own and do not stop it."""
    with _running_redis(tmp_path_factory.mktemp("session-redis")) as server:
        yield server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if _BROKER_FIXTURES.intersection(fixtures):
            item.add_marker(pytest.mark.broker)
        if _REDIS_FIXTURES.intersection(fixtures):
            item.add_marker(pytest.mark.redis)
