"""Fixtures shared by every test area.

``broker`` gives each test its own ``pulsar-lite`` process (127.0.0.1, free port, metrics off, data under
the test's tmp_path); ``session_broker`` is one process for the whole run, for tests that only need somewhere
to publish, on topics of their own. Tests using either get the ``broker`` mark, so ``-m "not broker"`` skips
them.

``redis_server`` gives each test its own ``redis-server`` process (127.0.0.1, free port, no persistence, files in
the test's tmp_path) as a :class:`RedisServer` (``url``, ``host``, ``port``, ``pid``, ``kill()``, ``restart()``);
``session_redis`` is one for the whole run (use keys of your own; do not stop it). Tests using either get the
``redis`` mark. Without a ``redis-server`` binary they are skipped, except under CI (``CI`` set), where that fails.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockcloud.sim.broker import LocalBroker

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
            port = self.port or _free_port()
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
