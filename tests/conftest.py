"""Fixtures shared by every test area.

``broker`` gives each test its own ``pulsar-lite`` process (127.0.0.1, free port, metrics off, data under
the test's tmp_path); ``session_broker`` is one process for the whole run, for tests that only need somewhere
to publish, on topics of their own. Tests using either get the ``broker`` mark, so ``-m "not broker"`` skips
them.

``redis_server`` gives each test its own ``redis-server`` process (127.0.0.1, free port, no persistence, files in
the test's tmp_path) as a :class:`RedisServer` (``url``, ``host``, ``port``, ``pid``, ``kill()``, ``restart()``);
``session_redis`` is one for the whole run (use keys of your own; do not stop it). Tests using either get the
``redis`` mark. Without a ``redis-server`` binary they are skipped, except under CI (``CI`` set), where that fails.

``redis_cluster`` is one real 3-node Redis Cluster for the whole run (:class:`RedisClusterNodes`: ``url``,
``keyslot(key)``, ``port_of(key)``; use keys of your own), ``redis_tls_cluster`` one speaking only TLS, and
``make_redis_cluster(...)`` makes clusters of the test's own (``kill(port)`` a node); ``redis_sentinel`` is a
master, its replica and one ``redis-server --sentinel`` watching them, for one test (:class:`RedisSentinelSetup`:
``url``, ``failover()``), ``make_redis_sentinel(...)`` makes them with passwords.

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
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lockcloud.sim.broker import LocalBroker

from support import free_port

_BROKER_FIXTURES = frozenset({"broker", "session_broker", "lockcloud_broker", "lockcloud_session_broker"})
_REDIS_FIXTURES = frozenset(
    {
        "redis_server",
        "session_redis",
        "redis_cluster",
        "redis_tls_cluster",
        "make_redis_cluster",
        "redis_sentinel",
        "make_redis_sentinel",
    }
)
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


def _answers_ping(host: str, port: int, ca: Path | None = None) -> bool:
    """Whether a Redis server answers on ``port`` (over TLS, verified against ``ca``, when given)."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5) as raw:
        sock = (
            raw
            if ca is None
            else ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname=host)
        )
        sock.sendall(b"PING\r\n")
        # A server that requires a password answers too: with NOAUTH.
        return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    return False


def _tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate it signed for 127.0.0.1 and localhost: (ca, certificate, key) files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key: Any, issuer: str, signer: Any, *, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    ca_certificate = certificate("lockcloud test CA", ca_key, "lockcloud test CA", ca_key, ca=True)
    server_certificate = certificate("localhost", server_key, "lockcloud test CA", ca_key, ca=False)
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca_certificate.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server_certificate.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


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


def _redis_cli() -> str:
    binary = shutil.which("redis-cli")
    if binary is None:
        reason = "redis-cli is not installed (Debian: apt-get install redis-tools; .ci/run does this)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


def _cli(
    port: int, *args: str, password: str | None = None, ca: Path | None = None, timeout: float = 30.0
) -> str:
    auth = [] if password is None else ["-a", password, "--no-auth-warning"]
    if ca is not None:
        auth += ["--tls", "--cacert", str(ca)]
    completed = subprocess.run(
        [_redis_cli(), "-h", "127.0.0.1", "-p", str(port), *auth, *args],
        capture_output=True,
        check=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return completed.stdout


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


class _Process:
    """One redis-server (plain, cluster node or sentinel) on a free 127.0.0.1 port, its files in ``workdir``;
    ``args(port)`` are its own arguments. With ``tls`` (CA, certificate, key) the port speaks only TLS."""

    def __init__(
        self, workdir: Path, args: Callable[[int], list[str]], tls: tuple[Path, Path, Path] | None = None
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        # A free port can be taken between choosing it and redis binding it: try a few.
        for _ in range(5):
            port = free_port()
            self.port = port
            self.log = workdir / f"redis-{port}.log"
            command = [_redis_binary(), *args(port), "--bind", "127.0.0.1", "--port", str(port)]
            if tls is not None:
                ca, certificate, key = (str(path) for path in tls)
                command += ["--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no"]
                command += ["--tls-ca-cert-file", ca, "--tls-cert-file", certificate, "--tls-key-file", key]
            command += ["--dir", str(workdir), "--logfile", str(self.log), "--daemonize", "no"]
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + RedisServer.STARTUP_TIMEOUT
            while self.process.poll() is None and time.monotonic() < deadline:
                if _answers_ping("127.0.0.1", port, None if tls is None else tls[0]):
                    return
                time.sleep(0.01)
            self.stop()
        raise RuntimeError(f"redis-server did not start; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _cluster_node(workdir: Path, port: int, node_timeout_ms: int, *, tls: bool) -> list[str]:
    config = str(workdir / f"nodes-{port}.conf")
    cluster = ["--cluster-enabled", "yes", "--cluster-config-file", config]
    if tls:
        cluster += ["--tls-cluster", "yes"]
    return [*cluster, "--cluster-node-timeout", str(node_timeout_ms), "--save", "", "--appendonly", "no"]


class RedisClusterNodes:
    """A real Redis Cluster of three masters (no replicas, no persistence) on free loopback ports; with ``tls``
    every node (and the cluster bus) speaks only TLS, with a certificate of a throwaway CA (:attr:`ca`)."""

    def __init__(self, workdir: Path, *, node_timeout_ms: int = 15000, tls: bool = False) -> None:
        self.nodes: list[_Process] = []
        files = _tls_files(workdir / "tls") if tls else None
        self.ca = None if files is None else files[0]
        try:

            def node_args(port: int) -> list[str]:
                return _cluster_node(workdir, port, node_timeout_ms, tls=tls)

            for _ in range(3):
                self.nodes.append(_Process(workdir, node_args, files))
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            create = ["--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"]
            self._cli(self.nodes[0].port, *create)
            # Every node must see the whole cluster (and every slot served) before clients are pointed at it.
            for node in self.nodes:
                _wait_for(
                    lambda node=node: "cluster_state:ok" in self._cli(node.port, "cluster", "info"),  # type: ignore[misc]
                    f"cluster_state:ok on port {node.port}",
                )
        except BaseException:
            self.stop()
            raise

    def _cli(self, port: int, *args: str) -> str:
        return _cli(port, *args, ca=self.ca)

    def kill(self, port: int) -> None:
        """SIGKILL the node on ``port`` and wait until the others say the cluster is down (its slots unserved)."""
        (node,) = [node for node in self.nodes if node.port == port]
        node.process.kill()
        node.process.wait()
        for other in self.nodes:
            if other is not node:
                _wait_for(
                    lambda other=other: "cluster_state:fail" in self._cli(other.port, "cluster", "info"),  # type: ignore[misc]
                    f"cluster_state:fail on port {other.port}",
                )

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        """``redis+cluster://`` (``rediss+cluster://`` trusting :attr:`ca`) naming two of the three nodes: the
        client finds the third."""
        nodes = f"127.0.0.1:{self.ports[0]},127.0.0.1:{self.ports[1]}"
        if self.ca is None:
            return f"redis+cluster://{nodes}/"
        return f"rediss+cluster://{nodes}/?ssl_ca_certs={self.ca}"

    def keyslot(self, key: str) -> int:
        return int(self._cli(self.ports[0], "cluster", "keyslot", key).strip())

    def port_of(self, key: str) -> int:
        """The port of the node serving ``key``'s slot."""
        slot = self.keyslot(key)
        for line in self._cli(self.ports[0], "cluster", "nodes").splitlines():
            fields = line.split()
            port = int(fields[1].split("@", 1)[0].rsplit(":", 1)[1])
            for served in fields[8:]:
                low, _, high = served.partition("-")
                if int(low) <= slot <= int(high or low):
                    return port
        raise AssertionError(f"no node serves slot {slot}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __repr__(self) -> str:
        return f"RedisClusterNodes({self.url!r})"


class RedisSentinelSetup:
    """A master and its replica (no persistence) watched by one ``redis-server --sentinel``, service
    :attr:`SERVICE`, on free loopback ports. ``failover()`` makes the replica the master and waits for it. With
    ``password`` the master and replica require it; with ``sentinel_password`` the sentinel requires its own."""

    SERVICE = "lockcloud-test"

    def __init__(
        self, workdir: Path, *, password: str | None = None, sentinel_password: str | None = None
    ) -> None:
        self.processes: list[_Process] = []
        self.password = password
        self.sentinel_password = sentinel_password
        try:
            plain = ["--save", "", "--appendonly", "no"]
            if password is not None:
                plain += ["--requirepass", password, "--masterauth", password]
            master = _Process(workdir / "master", lambda _port: plain)
            self.processes.append(master)
            replica_args = [*plain, "--replicaof", "127.0.0.1", str(master.port)]
            replica = _Process(workdir / "replica", lambda _port: replica_args)
            self.processes.append(replica)
            _wait_for(
                lambda: (
                    "master_link_status:up" in _cli(replica.port, "info", "replication", password=password)
                ),
                "the replica to follow its master",
            )
            config = workdir / "sentinel.conf"
            config.write_text(
                f"sentinel monitor {self.SERVICE} 127.0.0.1 {master.port} 1\n"
                f"sentinel down-after-milliseconds {self.SERVICE} 2000\n"
                f"sentinel failover-timeout {self.SERVICE} 10000\n"
                + ("" if password is None else f"sentinel auth-pass {self.SERVICE} {password}\n")
                + ("" if sentinel_password is None else f"requirepass {sentinel_password}\n")
            )
            self.sentinel = _Process(workdir / "sentinel", lambda _port: [str(config), "--sentinel"])
            self.processes.append(self.sentinel)
            _wait_for(
                lambda: str(replica.port) in self._ask_sentinel("replicas", self.SERVICE),
                "the sentinel to see the replica",
            )
        except BaseException:
            self.stop()
            raise

    def _ask_sentinel(self, *args: str) -> str:
        return _cli(self.sentinel.port, "sentinel", *args, password=self.sentinel_password)

    @property
    def url(self) -> str:
        """The ``redis+sentinel://`` URL, with the passwords."""
        auth = "" if self.password is None else f":{self.password}@"
        query = "" if self.sentinel_password is None else f"?sentinel_password={self.sentinel_password}"
        return f"redis+sentinel://{auth}127.0.0.1:{self.sentinel.port}/{self.SERVICE}/0{query}"

    @property
    def master_port(self) -> int:
        answer = self._ask_sentinel("get-master-addr-by-name", self.SERVICE).split()
        return int(answer[1])

    def failover(self) -> int:
        """Promote the replica (``SENTINEL FAILOVER``); the new master's port once the failover is over: the
        sentinel names it, and the old master follows it."""
        before = self.master_port

        def started() -> bool:
            # NOGOODSLAVE until the sentinel has heard from the replica; then it starts (once: a second OK would
            # fail back over).
            answer = self._ask_sentinel("failover", self.SERVICE)
            if not answer.startswith(("OK", "NOGOODSLAVE", "INPROG")):
                raise RuntimeError(f"SENTINEL FAILOVER answered {answer.strip()!r}")
            return answer.startswith(("OK", "INPROG"))

        _wait_for(started, "the sentinel to start a failover")
        _wait_for(lambda: self.master_port != before, "the sentinel to name the new master")
        after = self.master_port
        _wait_for(
            lambda: "role:master" in _cli(after, "info", "replication", password=self.password),
            "the new master",
        )
        # GET-MASTER-ADDR-BY-NAME names the new master while the sentinel still reconfigures (SENTINEL MASTERS,
        # which clients ask, names the old one until the end), and the old master takes writes until it is told to
        # follow: wait for both, so that every client afterwards reaches the new master.
        _wait_for(
            lambda: "failover_in_progress" not in self._ask_sentinel("master", self.SERVICE),
            "the end of the failover",
        )
        _wait_for(
            lambda: "role:slave" in _cli(before, "info", "replication", password=self.password),
            "the old master to follow the new one",
        )
        return after

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def __repr__(self) -> str:
        return f"RedisSentinelSetup({self.url!r})"


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


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    """One real 3-node Redis Cluster for the whole session; use keys of your own and do not stop it."""
    cluster = RedisClusterNodes(tmp_path_factory.mktemp("redis-cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    """One real 3-node Redis Cluster speaking only TLS (``url`` trusts its CA) for the whole session."""
    cluster = RedisClusterNodes(tmp_path_factory.mktemp("redis-tls-cluster"), tls=True)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def make_redis_cluster(tmp_path: Path) -> Iterator[Callable[..., RedisClusterNodes]]:
    """``make_redis_cluster(node_timeout_ms=...)``: clusters of this test's own (``kill()`` their nodes freely),
    stopped at its end."""
    made: list[RedisClusterNodes] = []

    def make(**options: Any) -> RedisClusterNodes:
        made.append(RedisClusterNodes(tmp_path / f"cluster-{len(made)}", **options))
        return made[-1]

    try:
        yield make
    finally:
        for cluster in made:
            cluster.stop()


@pytest.fixture
def make_redis_sentinel(tmp_path: Path) -> Iterator[Callable[..., RedisSentinelSetup]]:
    """``make_redis_sentinel(password=..., sentinel_password=...)``: Sentinel setups of this test's own."""
    made: list[RedisSentinelSetup] = []

    def make(**options: Any) -> RedisSentinelSetup:
        made.append(RedisSentinelSetup(tmp_path / f"sentinel-{len(made)}", **options))
        return made[-1]

    try:
        yield make
    finally:
        for setup in made:
            setup.stop()


@pytest.fixture
def redis_sentinel(make_redis_sentinel: Callable[..., RedisSentinelSetup]) -> RedisSentinelSetup:
    """A Sentinel-watched master and replica owned by this test; ``failover()`` it freely."""
    return make_redis_sentinel()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if _BROKER_FIXTURES.intersection(fixtures):
            item.add_marker(pytest.mark.broker)
        if _REDIS_FIXTURES.intersection(fixtures):
            item.add_marker(pytest.mark.redis)
