"""A local Pulsar broker: the ``pulsar-lite`` binary run as a child process on loopback.

Used by the simulator and the tests. The broker listens on ``127.0.0.1`` only, keeps its data, config and log
in one directory, and can be stopped, killed (to test crash recovery) and restarted on the same port and data.

::

    with LocalBroker(tmp_path) as broker:
        client = pulsar.Client(broker.url)

Like Tuya's production topic, a topic can be served partitioned: ``LocalBroker(path,
partitioned_topics={"ACCESS_ID/out/event": TUYA_PARTITIONS})`` makes every producer and consumer of it see 11
partitions (``topic-partition-0`` ... ``-10``); other topics stay unpartitioned unless ``default_partitions`` says
otherwise. pulsar-lite reads the partition counts from its metadata file when it starts, so they are written there
before the first start (and kept across restarts).

pulsar-lite ships a ``start_broker()`` helper; it is not used because it logs to a fixed file in /tmp and
leaves the metrics listener on ``0.0.0.0:8080`` open.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
import subprocess
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from lockcloud._core.errors import BrokerError

__all__ = [
    "TUYA_PARTITIONS",
    "BrokerError",
    "LocalBroker",
    "find_broker_binary",
    "full_topic_name",
    "missing_push_packages",
]

#: How many partitions Tuya's production topic ``{access_id}/out/event`` has.
TUYA_PARTITIONS = 11

_BINARY_ENV = "PULSAR_LITE_BINARY"
_CONFIG = """\
# Written by lockcloud.sim.broker. The metrics listener would otherwise bind 0.0.0.0:8080.
default_partitions = {default_partitions}

[metrics]
enabled = false
"""
# The version of pulsar-lite's metadata document (``<db path>.metadata.json``) that holds partition counts.
_METADATA_VERSION = 2
_READY_POLL = 0.005


def full_topic_name(topic: str) -> str:
    """``persistent://tenant/namespace/name`` for a short name, as brokers and ``message.topic_name()`` spell it.

    ``name`` alone is in ``public/default``; ``tenant/namespace/name`` (Tuya's ``ACCESS_ID/out/event``) keeps its own.
    """
    if "://" in topic:
        return topic
    parts = topic.split("/")
    if len(parts) == 1:
        return f"persistent://public/default/{topic}"
    if len(parts) == 3 and all(parts):
        return f"persistent://{topic}"
    raise BrokerError(f"not a topic name: {topic!r} (expected name or tenant/namespace/name)")


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it (``pulsar_lite`` imports pulsar-client)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that fails to import, a module without a spec
        return False


def missing_push_packages(*, embedded_broker: bool = True) -> list[str]:
    """The packages the simulator's push messages need that are not installed (``[]``: none missing).

    pulsar-client produces them (and bridges the WebSocket consumer API to the broker); pulsar-lite runs the
    broker of its own, unless ``embedded_broker`` is false (a running broker's URL is given) or
    ``$PULSAR_LITE_BINARY`` names the binary. Both come with ``pip install 'lockcloud[sim]'``.
    """
    missing = [] if installed("pulsar") else ["pulsar-client"]
    if embedded_broker and not os.environ.get(_BINARY_ENV) and not installed("pulsar_lite"):
        missing.append("pulsar-lite")
    return missing


def find_broker_binary() -> Path:
    """The ``pulsar-lite`` executable: ``$PULSAR_LITE_BINARY`` if set, else the one inside its wheel.

    The package is located without importing it (its ``__init__`` imports pulsar-client).
    """
    override = os.environ.get(_BINARY_ENV)
    if override:
        path = Path(override)
    else:
        spec = importlib.util.find_spec("pulsar_lite") if installed("pulsar_lite") else None
        if spec is None or not spec.submodule_search_locations:
            raise BrokerError("pulsar-lite is not installed; install lockcloud[sim]")
        path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "pulsar-lite"
    return _checked_binary(path)


def _checked_binary(path: Path) -> Path:
    if not path.is_file() or not os.access(path, os.X_OK):
        raise BrokerError(f"pulsar-lite binary not found or not executable at {path}")
    return path


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.25):
            return True
    except OSError:
        return False


def _reap(process: subprocess.Popen[bytes]) -> None:
    # Last resort at interpreter exit or garbage collection: never leave a broker orphaned.
    if process.poll() is None:
        process.kill()
        process.wait()


class LocalBroker:
    """One ``pulsar-lite`` process on ``127.0.0.1``, with its data, config and log under ``data_dir``.

    ``port`` defaults to a free port, chosen once and kept across :meth:`restart`. The broker is started by
    :meth:`start` / :meth:`astart` or by entering the context manager (sync or async).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_level: str = "info",
        binary: str | os.PathLike[str] | None = None,
        ready_timeout: float = 10.0,
        partitioned_topics: Mapping[str, int] | None = None,
        default_partitions: int = 0,
    ) -> None:
        if default_partitions < 0:
            raise BrokerError("default_partitions must not be negative")
        self.data_dir = Path(data_dir).absolute()
        self.host = host
        self.port = port if port is not None else _free_port(host)
        self.log_level = log_level
        self.ready_timeout = ready_timeout
        self.default_partitions = default_partitions
        self.partitioned_topics: dict[str, int] = {}
        for topic, partitions in (partitioned_topics or {}).items():
            if partitions < 1:
                raise BrokerError(
                    f"a partitioned topic needs at least one partition, not {partitions} ({topic})"
                )
            self.partitioned_topics[full_topic_name(topic)] = partitions
        self._binary = Path(binary) if binary is not None else None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], LocalBroker] | None = None

    @property
    def url(self) -> str:
        """``pulsar://127.0.0.1:PORT``."""
        return f"pulsar://{self.host}:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "db"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "pulsar-lite.toml"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def metadata_path(self) -> Path:
        """pulsar-lite's metadata document: topics, subscriptions and partition counts."""
        return self.db_path.with_name(self.db_path.name + ".metadata.json")

    def partitions(self, topic: str) -> list[str]:
        """The partition topics of ``topic`` as consumers see them (``[topic]`` itself when it is unpartitioned)."""
        name = full_topic_name(topic)
        count = self.partitioned_topics.get(name, self.default_partitions)
        return [f"{name}-partition-{index}" for index in range(count)] if count else [name]

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LocalBroker {self.url} {state} data_dir={str(self.data_dir)!r}>"

    def start(self) -> Self:
        """Start the process and block until it accepts TCP connections."""
        self._spawn()
        deadline = time.monotonic() + self.ready_timeout
        while not self._ready_or_failed(deadline):
            time.sleep(_READY_POLL)
        return self

    async def astart(self) -> Self:
        """:meth:`start` in a worker thread, so the event loop runs on while the broker comes up."""
        return await asyncio.to_thread(self.start)

    def stop(self, grace: float = 5.0) -> None:
        """Terminate the broker (SIGTERM), killing it if it has not exited after ``grace`` seconds."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._forget()

    async def astop(self, grace: float = 5.0) -> None:
        """:meth:`stop` in a worker thread."""
        await asyncio.to_thread(self.stop, grace)

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would; its data stays for :meth:`restart`."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
        self._forget()

    def restart(self) -> Self:
        """Stop the broker if it runs, then start it again on the same port and data path."""
        self.stop()
        return self.start()

    async def arestart(self) -> Self:
        await self.astop()
        return await self.astart()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.astop()

    def _spawn(self) -> None:
        if self.running:
            raise BrokerError(f"{self!r} is already running")
        binary = _checked_binary(self._binary) if self._binary is not None else find_broker_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            _CONFIG.format(default_partitions=self.default_partitions), encoding="utf-8"
        )
        self._declare_partitioned_topics()
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                str(binary),
                "--addr",
                f"{self.host}:{self.port}",
                "--db-path",
                str(self.db_path),
                "--config",
                str(self.config_path),
                "--log-level",
                self.log_level,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            # Its own process group: a Ctrl-C typed at the host program's terminal must not kill the broker
            # under it while the program is still shutting down (push messages then time out).
            process_group=0,
        )
        self._finalizer = weakref.finalize(self, _reap, self._process)

    def _declare_partitioned_topics(self) -> None:
        if not self.partitioned_topics:
            return
        path = self.metadata_path
        document: dict[str, Any] = {"version": _METADATA_VERSION, "partitioned_topics": {}}
        if path.exists():
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise BrokerError(f"cannot read the broker's metadata at {path}: {exc}") from None
        declared: dict[str, Any] = document.setdefault("partitioned_topics", {})
        for topic, partitions in self.partitioned_topics.items():
            known = declared.get(topic, {}).get("partitions")
            if known is not None and known != partitions:
                raise BrokerError(f"{topic} already has {known} partitions in {path}, not {partitions}")
            declared[topic] = {"partitions": partitions}
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(document, indent=2), encoding="utf-8")
        temporary.replace(path)

    def _ready_or_failed(self, deadline: float) -> bool:
        process = self._process
        assert process is not None
        if process.poll() is not None:
            code = process.returncode
            self._forget()
            raise BrokerError(f"pulsar-lite exited with code {code} before it was ready; see {self.log_path}")
        if _accepts_connections(self.host, self.port):
            return True
        if time.monotonic() > deadline:
            self.stop()
            raise BrokerError(f"pulsar-lite was not ready on {self.url} within {self.ready_timeout} s")
        return False

    def _forget(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
