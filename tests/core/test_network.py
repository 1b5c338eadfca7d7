"""The one rule for "this machine", and where a Pulsar URL connects to, read once for the event sources and the
publisher."""

from __future__ import annotations

import pytest

from lockcloud._core.network import is_local_host, pulsar_address


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("pulsar://127.0.0.1", ("127.0.0.1", 6650)),
        ("pulsar+ssl://mqe.tuyaeu.com", ("mqe.tuyaeu.com", 6651)),
        ("pulsar+ssl://mqe.tuyaeu.com:7285", ("mqe.tuyaeu.com", 7285)),
        ("pulsar://[::1]:6651", ("::1", 6651)),
        ("PULSAR://LocalHost:1234/", ("localhost", 1234)),
    ],
)
def test_a_pulsar_url_connects_to_its_host_and_port_or_the_schemes_own(
    url: str, address: tuple[str, int]
) -> None:
    assert pulsar_address(url) == address


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.2",
        "::1",
        "[::1]",
        "localhost",
        "LocalHost",
        "app.localhost",
        "0.0.0.0",
        "10.0.0.1",
    ],
)
def test_the_simulator_console_and_the_client_agree_on_what_is_this_machine(host: str) -> None:
    from lockcloud.sim.console import is_loopback

    assert is_loopback(host) is is_local_host(host)
