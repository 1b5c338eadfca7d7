"""TLS over a real loopback socket: a refused certificate is its own error, names host and reason, and is not retried."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lockcloud import ConnectError, LockCloud, TLSVerificationError

from support import fast_retry

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

RETRY = fast_retry(max_attempts=4)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


class TLSServer:
    """Counts TCP connections, then speaks TLS, and answers every HTTP request with a Tuya success envelope."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.connections = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                result = (
                    {"access_token": "a", "refresh_token": "r", "expire_time": 7200}
                    if "token" in path
                    else {}
                )
                body = json.dumps({"success": True, "t": 1_700_000_000_000, "result": result}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _count(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Counted on TCP accept, before the handshake that a refusing client breaks off.
        self.connections += 1
        try:
            await writer.start_tls(self.context)
        except (ssl.SSLError, ConnectionError, OSError):
            writer.close()
            return
        await self._serve(reader, writer)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[TLSServer]:
        server = await asyncio.start_server(self._count, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()


async def test_a_refused_certificate_names_host_and_reason_and_is_not_retried(
    certificate: tuple[Path, Path],
) -> None:
    async with TLSServer(*certificate).running() as server:
        async with LockCloud(
            "id", "secret", base_url=f"https://127.0.0.1:{server.port}", retry=RETRY
        ) as cloud:
            with pytest.raises(TLSVerificationError) as exc_info:
                await cloud.request("GET", "/v1.0/devices/d1/door-lock/remote-unlocks")
        await asyncio.sleep(0.05)  # let the server see every connection that was made
    error = exc_info.value
    assert isinstance(error, ConnectError)  # nothing was sent
    assert error.host == "127.0.0.1"
    assert "self-signed" in error.reason or "certificate" in error.reason
    assert "127.0.0.1" in str(error)
    assert server.connections == 1


async def test_the_same_server_is_trusted_with_its_ca_given_as_a_context(
    certificate: tuple[Path, Path],
) -> None:
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    async with (
        TLSServer(*certificate).running() as server,
        LockCloud("id", "secret", base_url=f"https://127.0.0.1:{server.port}", verify=trusted) as cloud,
    ):
        assert await cloud.request("GET", "/v1.0/x") == {}
