"""``running()``: the simulator served by uvicorn on loopback, with a pulsar-lite broker for its push messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tempfile
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lockcloud._errors import LockCloudError
from lockcloud.sim._simulator import SimulatedDisconnect, Simulator

if TYPE_CHECKING:
    from lockcloud._client import LockCloud

__all__ = ["SimServer", "running"]

_STARTUP_POLL = 0.005


class SimServer:
    """A simulator being served: where to reach it and with which credentials.

    ``base_url`` is the REST API (``http://127.0.0.1:PORT``), ``pulsar_url`` the broker its push messages go to
    (``None`` when started without one), ``simulator`` the :class:`Simulator` for the scenario API.
    """

    def __init__(
        self, simulator: Simulator, base_url: str, pulsar_url: str | None, env: str = "event"
    ) -> None:
        self.simulator = simulator
        self.base_url = base_url
        self.pulsar_url = pulsar_url
        self.env = env

    def __repr__(self) -> str:
        return f"SimServer(base_url={self.base_url!r}, pulsar_url={self.pulsar_url!r})"

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

        Its ``cloud.events()`` streams read this server's broker (on the server's ``env`` topic when they are
        opened with ``cloud.events(env=server.env)``).
        """
        from lockcloud._client import LockCloud

        options.setdefault("pulsar_url", self.pulsar_url)
        async with LockCloud(self.access_id, self.access_secret, base_url=self.base_url, **options) as cloud:
            yield cloud


class _EmbeddedServer:
    """uvicorn's server without its signal handlers: Ctrl-C stays the host program's business."""

    def __init__(self, app: Simulator, sock: socket.socket) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                yield

        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = Server(config)
        self._sock = sock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]), name="lockcloud-sim-http")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise LockCloudError("the simulator's HTTP server stopped before it started")
            await asyncio.sleep(_STARTUP_POLL)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None


class _HideSimulatedDisconnects(logging.Filter):
    """uvicorn logs every app exception with a traceback; a simulated lost response is not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SimulatedDisconnect)


_DISCONNECT_FILTER = _HideSimulatedDisconnects()


def _listening_socket(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and a plain
    # socket.socket() says 0; without it a response written in two parts waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.asynccontextmanager
async def running(
    simulator: Simulator | None = None,
    *,
    broker: bool = True,
    broker_url: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    data_dir: str | Path | None = None,
    env: str = "event",
    **options: Any,
) -> AsyncIterator[SimServer]:
    """Serve a simulator over loopback HTTP (uvicorn) and produce its push messages to a broker.

    ``simulator`` defaults to ``Simulator(**options)``. With ``broker`` (the default) a ``pulsar-lite`` broker is
    started on a free loopback port, its data under ``data_dir`` (a temporary directory by default); pass
    ``broker_url`` to use a running broker instead, or ``broker=False`` for none. ``port=0`` picks a free port.
    Push messages go to ``{access_id}/out/{env}``, keyed by device id: ``event`` (the default) is served with
    Tuya's 11 partitions by the embedded broker, ``event-test`` unpartitioned. Everything is stopped on exit::

        async with lockcloud.sim.running(press_interval=0.05) as server:
            async with server.client() as cloud:
                ...
    """
    from lockcloud.events._stream import topic_for
    from lockcloud.sim.broker import TUYA_PARTITIONS, LocalBroker

    if simulator is not None and options:
        raise LockCloudError("pass either a simulator or options for a new one, not both")
    sim = simulator if simulator is not None else Simulator(**options)
    async with contextlib.AsyncExitStack() as stack:
        workdir: Path
        if data_dir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lockcloud-sim-")))
        else:
            workdir = Path(data_dir)
            workdir.mkdir(parents=True, exist_ok=True)
        pulsar_url = broker_url
        if pulsar_url is None and broker:
            production = {topic_for(sim.access_id, "event"): TUYA_PARTITIONS}
            local = LocalBroker(workdir / "broker", partitioned_topics=production)
            await local.astart()
            stack.push_async_callback(local.astop)
            pulsar_url = local.url
        stack.push_async_callback(sim.aclose)
        if pulsar_url is not None:
            await sim.connect_broker(pulsar_url, env=env, log_file=str(workdir / "pulsar-client.log"))
        sock = _listening_socket(host, port)
        stack.callback(sock.close)
        bound_host, bound_port = sock.getsockname()[:2]
        uvicorn_logger = logging.getLogger("uvicorn.error")
        uvicorn_logger.addFilter(_DISCONNECT_FILTER)
        stack.callback(uvicorn_logger.removeFilter, _DISCONNECT_FILTER)
        server = _EmbeddedServer(sim, sock)
        await server.start()
        stack.push_async_callback(server.stop)
        yield SimServer(sim, f"http://{bound_host}:{bound_port}", pulsar_url, env)
