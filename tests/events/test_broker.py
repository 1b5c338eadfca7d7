"""The pulsar-lite launcher: loopback only, crash and restart on the same data."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pulsar
import pytest

from lockcloud.sim.broker import BrokerError, LocalBroker


def _listening_addresses(pid: int) -> list[str]:
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("ss is not installed")
    lines = subprocess.run([ss, "-ltnpH"], capture_output=True, text=True, check=True).stdout.splitlines()
    return [line.split()[3] for line in lines if f"pid={pid}," in line]


def test_listens_on_loopback_only_with_metrics_off(broker: LocalBroker) -> None:
    assert broker.pid is not None
    assert _listening_addresses(broker.pid) == [f"127.0.0.1:{broker.port}"]
    assert "enabled = false" in broker.config_path.read_text()
    assert broker.log_path.exists()


def test_unacknowledged_messages_survive_sigkill_and_restart_on_the_same_port(broker: LocalBroker) -> None:
    url_before = broker.url
    client = pulsar.Client(broker.url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    try:
        producer = client.create_producer("app/out/event")
        for index in range(3):
            producer.send(f"m{index}".encode(), properties={"em": "aes_gcm"})
        consumer = client.subscribe(
            "app/out/event",
            "app-sub",
            consumer_type=pulsar.ConsumerType.Failover,
            initial_position=pulsar.InitialPosition.Earliest,
        )
        first = consumer.receive(5000)
        consumer.acknowledge(first)
        consumer.close()

        broker.kill()
        assert not broker.running
        broker.restart()
        assert broker.url == url_before

        consumer = client.subscribe("app/out/event", "app-sub", consumer_type=pulsar.ConsumerType.Failover)
        received = [consumer.receive(10000) for _ in range(2)]
        assert [message.data() for message in received] == [b"m1", b"m2"]
        assert received[0].properties() == {"em": "aes_gcm"}
    finally:
        client.close()


async def test_async_context_manager_starts_and_stops(tmp_path: Path) -> None:
    async with LocalBroker(tmp_path / "b") as local_broker:
        assert local_broker.running
        assert local_broker.url.startswith("pulsar://127.0.0.1:")
    assert not local_broker.running


def test_missing_binary_is_a_broker_error(tmp_path: Path) -> None:
    with pytest.raises(BrokerError):
        LocalBroker(tmp_path, binary=tmp_path / "no-such-binary").start()


def test_a_binary_that_exits_at_once_is_a_broker_error(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="exited"):
        LocalBroker(tmp_path, binary="/bin/false").start()
