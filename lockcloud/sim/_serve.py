"""``running()``: the simulator served by uvicorn on loopback, with a pulsar-lite broker for its push messages.

It embeds cleanly in a host program, including one served by uvicorn itself: it installs no signal handlers, and it
leaves the global ``uvicorn.*`` loggers as it found them (levels and handlers), hiding only its own server's
chatter, so the host's "Application startup complete" and access log still appear.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import logging
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockcloud._core.asgi import Receive, Scope, Send
from lockcloud._core.errors import BrokerError, LockCloudError, ValidationError
from lockcloud._core.wire import PRODUCTION_ENV, topic_for
from lockcloud.sim._app import SimulatedDisconnect
from lockcloud.sim._simulator import Simulator
from lockcloud.sim._websocket import WebSocketConsumers
from lockcloud.sim.console import Console, is_loopback
from lockcloud.sim.console._server import PREFIX as CONSOLE_PREFIX

if TYPE_CHECKING:
    from lockcloud._client import LockCloud

__all__ = ["PortUnavailableError", "SimServer", "running"]

logger = logging.getLogger("lockcloud.sim")

_STARTUP_POLL = 0.005


class PortUnavailableError(LockCloudError, OSError):
    """The simulator could not listen on the address it was given (in use, or not allowed); names ``host:port``.

    Also an :class:`OSError` with the original ``errno``, so ``errno.EADDRINUSE`` can be told apart; ``host``,
    ``port`` and ``reason`` say what was refused.
    """

    def __init__(self, code: int, host: str, port: int, reason: str) -> None:
        super().__init__(
            code, f"the simulator cannot listen on {host}:{port}: {reason}; pass another port (0: a free one)"
        )
        self.host = host
        self.port = port
        self.reason = reason

    def __str__(self) -> str:
        return str(self.strerror)


class SimServer:
    """A simulator being served: where to reach it and with which credentials.

    ``base_url`` is the REST API (``http://127.0.0.1:PORT``), ``pulsar_url`` the broker its push messages go to
    (``None`` when started without one), ``websocket_url`` the same messages over Pulsar's WebSocket consumer API
    (``ws://127.0.0.1:PORT/``, on the REST port; ``None`` without a broker) and ``websockets`` its endpoint (to
    switch it off, count consumers or inject frames), ``simulator`` the :class:`Simulator` for the scenario API,
    ``console_url`` the web console's page with its token (``None`` when started with ``console=False``).
    """

    def __init__(
        self,
        simulator: Simulator,
        base_url: str,
        pulsar_url: str | None,
        env: str = PRODUCTION_ENV,
        websockets: WebSocketConsumers | None = None,
        console: Console | None = None,
    ) -> None:
        self.simulator = simulator
        self.console = console
        self.console_url = console.url(base_url) if console is not None else None
        self.base_url = base_url
        self.pulsar_url = pulsar_url
        self.env = env
        self.websockets = websockets
        self.websocket_url = "ws" + base_url.removeprefix("http") + "/" if websockets is not None else None

    def __repr__(self) -> str:
        return (
            f"SimServer(base_url={self.base_url!r}, pulsar_url={self.pulsar_url!r},"
            f" websocket_url={self.websocket_url!r})"
        )

    @property
    def access_id(self) -> str:
        return self.simulator.access_id

    @property
    def access_secret(self) -> str:
        return self.simulator.access_secret

    @property
    def devices(self) -> dict[str, str]:
        return self.simulator.devices

    @contextlib.asynccontextmanager
    async def client(self, **options: Any) -> AsyncIterator[LockCloud]:
        """A :class:`~lockcloud.LockCloud` for the served simulator, over real loopback HTTP.

        Its ``cloud.events()`` streams read this server's broker (``transport="websocket"``: its WebSocket API; on
        the server's ``env`` topic when they are opened with ``cloud.events(env=server.env)``).
        """
        from lockcloud._client import LockCloud

        options.setdefault("pulsar_url", self.pulsar_url)
        options.setdefault("websocket_url", self.websocket_url)
        async with LockCloud(self.access_id, self.access_secret, base_url=self.base_url, **options) as cloud:
            yield cloud


class _EmbeddedServer:
    """uvicorn's server without its signal handlers: Ctrl-C stays the host program's business."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], sock: socket.socket) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                yield

        # No log_config, no log_level and access_log left on: uvicorn would otherwise set the level of the
        # global uvicorn.* loggers (log_level) or strip uvicorn.access of its handlers (access_log=False),
        # silencing a host that is itself served by uvicorn. This server's own lines are filtered instead.
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level=None,
            lifespan="off",
            # Serves the WebSocket consumer API; uvicorn's older "websockets" protocol is built on the deprecated
            # websockets.legacy module.
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
        )
        self._server = Server(config)
        self._sock = sock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name="lockcloud-sim-http")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise LockCloudError("the simulator's HTTP server stopped before it started")
            await asyncio.sleep(_STARTUP_POLL)

    async def _serve(self) -> None:
        # The task runs in a copy of the context: what it logs, and what the connections it accepts log, is marked.
        _EMBEDDED_SERVER.set(True)
        await self._server.serve(sockets=[self._sock])

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None


#: True in the tasks of an embedded simulator's server (and the connection tasks they start).
_EMBEDDED_SERVER: contextvars.ContextVar[bool] = contextvars.ContextVar("lockcloud_sim_server", default=False)


class _QuietEmbeddedServer(logging.Filter):
    """Drops what the simulator's own uvicorn logs below WARNING (startup lines, its access log) and the traceback
    of a simulated lost response, which is not an error; records of any other server pass untouched.

    Logger filters run in the context of the logging call, so the context variable tells whose record it is.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not _EMBEDDED_SERVER.get():
            return True
        exc = record.exc_info[1] if record.exc_info else None
        return record.levelno >= logging.WARNING and not isinstance(exc, SimulatedDisconnect)


_QUIET_FILTER = _QuietEmbeddedServer()
_UVICORN_LOGGERS = ("uvicorn.error", "uvicorn.access")
_servers_filtered = 0


@contextlib.contextmanager
def _quiet_embedded_servers() -> Generator[None, None, None]:
    # Counted: with two simulators running, the first to stop must not unfilter the other.
    global _servers_filtered
    if _servers_filtered == 0:
        for name in _UVICORN_LOGGERS:
            logging.getLogger(name).addFilter(_QUIET_FILTER)
    _servers_filtered += 1
    try:
        yield
    finally:
        _servers_filtered -= 1
        if _servers_filtered == 0:
            for name in _UVICORN_LOGGERS:
                logging.getLogger(name).removeFilter(_QUIET_FILTER)


def _listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and a plain
    # socket.socket() says 0; without it a response written in two parts waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        code = exc.errno if exc.errno is not None else errno.EINVAL
        reason = "the address is already in use" if code == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise PortUnavailableError(code, host, port, reason) from None
    return sock


@contextlib.asynccontextmanager
async def running(
    simulator: Simulator | None = None,
    *,
    broker: bool = True,
    broker_url: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    backlog: int = 128,
    data_dir: str | Path | None = None,
    env: str = PRODUCTION_ENV,
    console: bool = True,
    **options: Any,
) -> AsyncIterator[SimServer]:
    """Serve a simulator over loopback HTTP (uvicorn) and produce its push messages to a broker.

    ``simulator`` defaults to ``Simulator(**options)``. With ``broker`` (the default) a ``pulsar-lite`` broker is
    started on a free loopback port, its data under ``data_dir`` (a temporary directory by default); pass
    ``broker_url`` to use a running broker instead, or ``broker=False`` for none (REST alone, pushes only recorded
    in ``simulator.pushes``: it needs neither pulsar-client nor pulsar-lite, whose absence otherwise raises
    :class:`~lockcloud.BrokerError` naming them before anything starts). ``port=0`` picks a free port;
    a port that is taken raises :class:`PortUnavailableError` naming ``host:port``. ``backlog`` is the listening
    socket's queue of connections not accepted yet (raise it for load tests opening many connections at once).
    Push messages go to ``{access_id}/out/{env}``, keyed by device id: ``event`` (the default) is served with
    Tuya's 11 partitions by the embedded broker, ``event-test`` unpartitioned. With ``console`` (the default) the
    web console is served at ``/console/`` (``server.console_url``); bound to an address other than loopback, it
    is reachable from the network, token required, and a warning is logged. Everything is stopped on exit::

        async with lockcloud.sim.running(press_interval=0.05) as server:
            async with server.client() as cloud:
                ...
    """
    from lockcloud.sim.broker import TUYA_PARTITIONS, LocalBroker, installed, missing_push_packages

    if simulator is not None and options:
        raise LockCloudError("pass either a simulator or options for a new one, not both")
    if not 0 <= port <= 65535:
        raise ValidationError(f"port must be from 0 to 65535, not {port}")
    if backlog < 1:
        raise ValidationError("backlog must be at least 1")
    if not installed("uvicorn"):
        raise LockCloudError(
            "the simulator is served by uvicorn, which is not installed: pip install 'lockcloud[sim]' "
            "(Simulator().client() calls it in-process, without a server)"
        )
    missing = missing_push_packages(embedded_broker=broker_url is None) if broker or broker_url else []
    if missing:
        raise BrokerError(
            f"the simulator's push messages need {' and '.join(missing)}, not installed: "
            "pip install 'lockcloud[sim]', or serve it with running(broker=False) for REST alone"
        )
    sim = simulator if simulator is not None else Simulator(**options)
    async with contextlib.AsyncExitStack() as stack:
        # Bound first: a taken port fails before a broker is started for nothing.
        sock = _listening_socket(host, port, backlog)
        stack.callback(sock.close)
        bound_host, bound_port = sock.getsockname()[:2]
        workdir: Path
        if data_dir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lockcloud-sim-")))
        else:
            workdir = Path(data_dir)
            workdir.mkdir(parents=True, exist_ok=True)
        pulsar_url = broker_url
        if pulsar_url is None and broker:
            production = {topic_for(sim.access_id, PRODUCTION_ENV): TUYA_PARTITIONS}
            local = LocalBroker(workdir / "broker", partitioned_topics=production)
            await local.astart()
            stack.push_async_callback(local.astop)
            pulsar_url = local.url
        stack.push_async_callback(sim.aclose)
        consumers: WebSocketConsumers | None = None
        if pulsar_url is not None:
            await sim.connect_broker(pulsar_url, env=env, log_file=str(workdir / "pulsar-client.log"))
            consumers = WebSocketConsumers(
                pulsar_url, sim.access_id, sim.access_secret, log_file=str(workdir / "pulsar-client-ws.log")
            )
            stack.push_async_callback(consumers.aclose)
        web_console: Console | None = None
        if console:
            web_console = Console(sim)
            web_console.bind(bound_host, bound_port)
            if not is_loopback(bound_host):
                logger.warning(
                    "the simulator's console listens on %s, reachable from other machines (with its token)",
                    bound_host,
                )
        stack.enter_context(_quiet_embedded_servers())
        server = _EmbeddedServer(_with_websockets(sim, consumers, web_console), sock)
        await server.start()
        stack.push_async_callback(server.stop)
        if web_console is not None:
            # Pushed after the server's stop, so it runs first: open event streams end instead of holding it.
            stack.callback(web_console.close)
        yield SimServer(sim, f"http://{bound_host}:{bound_port}", pulsar_url, env, consumers, web_console)


def _with_websockets(
    sim: Simulator, consumers: WebSocketConsumers | None, console: Console | None = None
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The simulator's app, with WebSocket handshakes going to the consumer endpoint and ``/console`` to the
    console."""
    if consumers is None and console is None:
        return sim

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and consumers is not None:
            await consumers(scope, receive, send)
        elif console is not None and scope["type"] == "http" and _under(str(scope["path"]), CONSOLE_PREFIX):
            await console(scope, receive, send)
        else:
            await sim(scope, receive, send)

    return app


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")
