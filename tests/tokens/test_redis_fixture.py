"""The ``redis_server`` fixture itself: a real server on loopback, empty after a restart, gone after a kill."""

from __future__ import annotations

import socket
from typing import Any

import pytest


def _command(server: Any, *words: str) -> bytes:
    request = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(request.encode())
        return sock.recv(4096)


def test_a_private_server_without_persistence(redis_server: Any) -> None:
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert _command(redis_server, "SET", "k", "v") == b"+OK\r\n"
    assert _command(redis_server, "CONFIG", "GET", "save").endswith(b"$0\r\n\r\n")
    assert b"no" in _command(redis_server, "CONFIG", "GET", "appendonly")
    assert str(redis_server.workdir) in _command(redis_server, "CONFIG", "GET", "dir").decode()


def test_restart_keeps_the_port_and_forgets_the_data(redis_server: Any) -> None:
    port, pid = redis_server.port, redis_server.pid
    _command(redis_server, "SET", "k", "v")
    redis_server.restart()
    assert redis_server.port == port
    assert redis_server.pid != pid
    assert _command(redis_server, "GET", "k") == b"$-1\r\n"


def test_kill_leaves_nothing_listening(redis_server: Any) -> None:
    redis_server.kill()
    with pytest.raises(OSError), socket.create_connection((redis_server.host, redis_server.port), timeout=2):
        pass
    redis_server.start()
    assert _command(redis_server, "PING") == b"+PONG\r\n"


def test_the_session_server_answers(session_redis: Any) -> None:
    assert _command(session_redis, "PING") == b"+PONG\r\n"
