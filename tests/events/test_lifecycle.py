"""Process-level behaviour: clean interpreter exit, lazy pulsar import, what goes on the wire for auth and TLS."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import certifi
import pytest

from lockcloud._core.errors import SubscribeError
from lockcloud.events import PulsarOptions, PulsarSource
from lockcloud.events._options import pulsar_stream
from lockcloud.events._pulsar import auth_params
from lockcloud.sim.broker import LocalBroker

_SCENARIO = textwrap.dedent(
    """
    import asyncio, logging, sys
    from lockcloud import LockCloud

    url, scenario = sys.argv[1], sys.argv[2]
    forwarded = []

    class Keep(logging.Handler):
        def emit(self, record):
            forwarded.append(record.getMessage())

    logging.getLogger("lockcloud.events.pulsar").addHandler(Keep())
    logging.getLogger("lockcloud.events.pulsar").setLevel(logging.DEBUG)

    def make():
        cloud = LockCloud("4tuyaprojectid00", "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC")
        level = "info" if scenario == "logs" else "error"
        return cloud.events(url=url, subscription="sub-" + scenario, initial_position="earliest",
                            pulsar_log_level=level)

    async def main():
        if scenario == "logs":
            async with make() as stream:
                await anext(stream)
            print("forwarded", len(forwarded), any("consumer" in line.lower() for line in forwarded))
        elif scenario == "clean":
            async with make() as stream:
                event = await anext(stream)
                print("got", event.period)
        elif scenario == "cancel":
            async def consume():
                async with make() as stream:
                    async for event in stream:
                        await asyncio.sleep(3600)
            task = asyncio.create_task(consume())
            await asyncio.sleep(0.3)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                print("cancelled")
        elif scenario == "timeout":
            try:
                async with asyncio.timeout(0.3):
                    async with make() as stream:
                        async for event in stream:
                            pass
            except TimeoutError:
                print("timed out")
        elif scenario == "raise":
            try:
                async with make() as stream:
                    async for event in stream:
                        raise RuntimeError("body failed")
            except RuntimeError:
                print("raised")
        elif scenario == "abandon":
            stream = make()
            await stream.open()
            await anext(stream)
            print("abandoned")

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("scenario", ["clean", "cancel", "timeout", "raise", "abandon", "logs"])
async def test_the_interpreter_exits_cleanly(
    scenario: str, broker: LocalBroker, producer: Any, tmp_path: Path
) -> None:
    await producer.enrollment(1)
    script = tmp_path / "scenario.py"
    script.write_text(_SCENARIO)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        broker.url,
        scenario,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert "terminate called" not in stderr.decode(), stderr.decode()
    assert process.returncode == 0, stderr.decode()
    assert stdout.strip(), stderr.decode()
    # pulsar-client's own log never reaches stderr; with scenario "logs" it arrives in `logging` instead.
    assert "INFO" not in stderr.decode(), stderr.decode()
    assert "ERROR" not in stderr.decode(), stderr.decode()
    if scenario == "logs":
        assert stdout.decode().split()[-1] == "True", stdout.decode()


def test_importing_lockcloud_and_its_events_does_not_import_pulsar() -> None:
    code = (
        "import sys, lockcloud, lockcloud.events\n"
        "from lockcloud import LockCloud\n"
        "stream = LockCloud('id', 's' * 32).events(url='pulsar://127.0.0.1:1')\n"
        "assert stream.topic == 'id/out/event'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulsar', '_pulsar')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


async def _capture_first_bytes(server_ssl: ssl.SSLContext | None = None) -> tuple[int, asyncio.Future[bytes]]:
    loop = asyncio.get_running_loop()
    captured: asyncio.Future[bytes] = loop.create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # lockcloud's own reachability probe connects first and sends nothing: only a Pulsar frame counts.
        try:
            data = await reader.read(4096)
            if data and not captured.done():
                captured.set_result(data)
        except (ssl.SSLError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ssl)
    port = server.sockets[0].getsockname()[1]
    captured.add_done_callback(lambda _: server.close())
    return port, captured


async def _open_against(url: str, **options: Any) -> SubscribeError:
    options = {"operation_timeout": 1, "connect_timeout": 1, "pulsar_log_level": "error", **options}
    stream = pulsar_stream(
        "1KAD46OrT9HafiKdsXeg", "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC", {"url": url, **options}
    )  # type: ignore[typeddict-item]
    with pytest.raises(SubscribeError) as caught:
        await stream.open()
    return caught.value


async def test_tuya_auth1_credentials_go_on_the_wire() -> None:
    port, captured = await _capture_first_bytes()
    await _open_against(f"pulsar://127.0.0.1:{port}")
    connect = await asyncio.wait_for(captured, 10)
    # Tuya auth1: data {"username":"<id>","password":"<md5 derived>"}; the documents' vector is 7e3ee9916b8f32b8.
    assert b"auth1" in connect
    assert b'{"username":"1KAD46OrT9HafiKdsXeg","password":"7e3ee9916b8f32b8"}' in connect


def test_auth_params_escape_the_access_id() -> None:
    params = json.loads(auth_params('we"ird', "s" * 32))
    assert params["method"] == "auth1"
    document = json.loads(params["username"] + ":" + params["password"])
    assert document["username"] == 'we"ird'
    assert len(document["password"]) == 16


def test_tls_verification_is_on_unless_switched_off() -> None:
    import pulsar

    def options(verify: bool | str) -> dict[str, Any]:
        source = PulsarSource(
            PulsarOptions(
                url="pulsar+ssl://mqe.tuyaeu.com:7285/", access_id="id", access_secret="s" * 32, verify=verify
            )
        )
        return source._client_options(pulsar, "/dev/null")

    default = options(True)
    assert default["tls_trust_certs_file_path"] == certifi.where()
    assert default["tls_validate_hostname"] is True
    assert default["tls_allow_insecure_connection"] is False
    assert options("/etc/my-ca.pem")["tls_trust_certs_file_path"] == "/etc/my-ca.pem"
    insecure = options(False)
    assert insecure["tls_allow_insecure_connection"] is True
    assert insecure["tls_validate_hostname"] is False


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize(
    ("verify", "handshake_succeeds"), [("default", False), ("own ca", True), ("off", True)]
)
async def test_tls_certificates_are_verified_by_default(
    self_signed: tuple[Path, Path], verify: str, handshake_succeeds: bool
) -> None:
    cert, key = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port, captured = await _capture_first_bytes(context)
    option: bool | str = {"default": True, "own ca": str(cert), "off": False}[verify]
    error = await _open_against(f"pulsar+ssl://127.0.0.1:{port}", verify=option)
    if handshake_succeeds:
        assert b"auth1" in await asyncio.wait_for(captured, 10)
    else:
        # The handshake failed on the certificate, before any Pulsar frame: a named TLS error.
        assert error.reason == "tls"
        assert "certificate is not trusted" in str(error)
        assert "verify=" in str(error)
        assert not captured.done()
        captured.cancel()
