"""No secret (access secret, access token, refresh token) in any log line, exception or repr."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lockcloud import APIError, FileTokenStore, LockCloud, LockCloudError, OutcomeUnknownError, RetryPolicy

PATH = "/v1.0/devices/d1/door-lock/remote-unlocks"
UNSAFE_PATH = "/v1.0/devices/d1/door-lock/password-free/open-door"


def render(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if exc.__cause__ is not None:
        texts += render(exc.__cause__)
    return texts


async def test_no_secret_anywhere(
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    consts: Any,
    server: Any,
    make_cloud: Callable[..., LockCloud],
) -> None:
    caplog.set_level(logging.DEBUG)  # root logger: lockcloud's and httpx's own lines
    store = FileTokenStore(tmp_path / "token.json")
    cloud = make_cloud(server, token_store=store)
    texts: list[str] = []

    await cloud.request("GET", PATH, params={"unlock_type": "password"})  # grant + call
    await cloud.request("POST", UNSAFE_PATH, json={"ticket_id": "t1"})
    server.script(UNSAFE_PATH, 1010)  # heal through the refresh-token path
    await cloud.request("POST", UNSAFE_PATH, json={"ticket_id": "t2"})
    server.script(PATH, 1106)
    with pytest.raises(APIError) as api_error:
        await cloud.request("GET", PATH)
    texts += render(api_error.value)
    server.script(UNSAFE_PATH, server.raising(httpx.ReadTimeout))
    with pytest.raises(OutcomeUnknownError) as unknown:
        await cloud.request("POST", UNSAFE_PATH)
    texts += render(unknown.value)
    # A refresh that fails on the wire, then a grant; and a refresh answered with an error.
    server.refresh_script.extend([server.raising(httpx.ReadError), 1012])
    server.script(PATH, 1011)
    await cloud.request("GET", PATH)
    server.script(PATH, 1011)
    await cloud.request("GET", PATH, retry=RetryPolicy.never())
    # A failing grant (with the refresh also failing) surfaces an exception.
    server.refresh_script.append(1012)
    server.script(PATH, 1010)
    server.script("/v1.0/token", 1001)
    with pytest.raises(LockCloudError) as grant_error:
        await cloud.request("GET", PATH)
    texts += render(grant_error.value)

    token = cloud.tokens._token
    assert token is not None
    texts += [
        repr(obj) for obj in (cloud, cloud.tokens, token, cloud._transport._auth, store, cloud._transport)
    ]
    texts += [str(obj) for obj in (cloud, token)]
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts += [formatter.format(record) for record in caplog.records]
    text = "\n".join(texts)

    # The scenario really happened and was logged, so the search below means something.
    assert server.refreshes >= 1
    assert server.refresh_attempts >= 3
    assert "HTTP Request: GET https://openapi.test/v1.0/token/<redacted>" in text
    assert "HTTP Request: GET https://openapi.test/v1.0/token?grant_type=1" in text
    assert any(record.name.startswith("lockcloud") for record in caplog.records)
    secrets = [consts.ACCESS_SECRET, *server.issued]
    assert len(server.issued) >= 8
    for secret in secrets:
        assert secret not in text, f"a secret leaked: {secret[:4]}..."
