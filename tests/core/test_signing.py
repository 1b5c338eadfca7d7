"""Request signing: the documented vectors, the exact bytes sent, query canonicalisation and the empty body."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
import respx

from lockcloud import LockCloud
from lockcloud._core.auth import TuyaAuth
from lockcloud._core.clock import ServerClock
from lockcloud._core.signing import canonical_url, compute_sign, string_to_sign
from lockcloud._core.tokens import MemoryTokenStore, Token, TokenManager

# Tuya's "Sign Requests" page.
DOC_ID = "1KAD46OrT9HafiKdsXeg"
DOC_SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"
DOC_T = "1588925778000"
DOC_NONCE = "5138cc3a9033d69856923fd07b491173"
DOC_TOKEN = "3f4eda2bdec17232f67c0b188af3eec1"
DOC_HEADERS = {
    "Signature-Headers": "area_id:call_id",
    "area_id": "29a33e8796834b1efa6",
    "call_id": "8afdb70ab2ed11eb85290242ac130003",
}
DOC_SIGNED_HEADERS = "area_id:29a33e8796834b1efa6\ncall_id:8afdb70ab2ed11eb85290242ac130003\n"
TOKEN_SIGN = "9E48A3E93B302EEECC803C7241985D0A34EB944F40FB573C7B5C2A82158AF13E"
BUSINESS_SIGN = "AE4481C692AA80B25F3A7E12C3A5FD9BBF6251539DD78E565A1A72A508A88784"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

VECTORS = [
    pytest.param("/v1.0/token", {"grant_type": "1"}, "", TOKEN_SIGN, id="token-call"),
    pytest.param(
        "/v2.0/apps/schema/users",
        {"page_size": "50", "page_no": "1"},
        DOC_TOKEN,
        BUSINESS_SIGN,
        id="business-call",
    ),
]


@pytest.mark.parametrize(("path", "params", "access_token", "expected"), VECTORS)
def test_documented_vectors_through_the_functions(
    path: str, params: dict[str, str], access_token: str, expected: str
) -> None:
    url = canonical_url(path, params)
    to_sign = string_to_sign("GET", b"", url, DOC_SIGNED_HEADERS)
    sign = compute_sign(DOC_SECRET, DOC_ID, DOC_T, to_sign, access_token=access_token, nonce=DOC_NONCE)
    assert sign == expected


def test_the_doc_string_to_sign_layout() -> None:
    url = canonical_url("/v2.0/apps/schema/users", [("page_size", "50"), ("page_no", "1")])
    assert url == "/v2.0/apps/schema/users?page_no=1&page_size=50"
    assert string_to_sign("get", b"", url, DOC_SIGNED_HEADERS) == (
        f"GET\n{EMPTY_SHA256}\n{DOC_SIGNED_HEADERS}\n/v2.0/apps/schema/users?page_no=1&page_size=50"
    )


def test_empty_body_hash_and_no_signed_headers() -> None:
    assert string_to_sign("POST", b"", "/v1.0/x") == f"POST\n{EMPTY_SHA256}\n\n/v1.0/x"
    body = b'{"a":1}'
    assert string_to_sign("POST", body, "/v1.0/x") == f"POST\n{hashlib.sha256(body).hexdigest()}\n\n/v1.0/x"


def test_canonical_url_sorts_by_key_and_does_not_encode() -> None:
    params = {"zeta": "a b", "alpha": "é&x=1", "mid": "+/%"}
    assert canonical_url("/p", params) == "/p?alpha=é&x=1&mid=+/%&zeta=a b"
    assert canonical_url("/p", None) == "/p"
    assert canonical_url("/p", {}) == "/p"


def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> ServerClock:
    clock = ServerClock()
    monkeypatch.setattr(clock, "now_ms", lambda: DOC_T)
    return clock


async def sign_with(auth: TuyaAuth, request: httpx.Request) -> httpx.Request:
    flow = auth.async_auth_flow(request)
    signed = await flow.__anext__()
    await flow.aclose()
    return signed


async def test_token_vector_through_tuya_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = TuyaAuth(DOC_ID, DOC_SECRET, None, pinned_clock(monkeypatch))
    request = httpx.Request(
        "GET", "https://openapi.test/v1.0/token?grant_type=1", headers={"nonce": DOC_NONCE, **DOC_HEADERS}
    )
    signed = await sign_with(auth, request)
    assert signed.headers["sign"] == TOKEN_SIGN
    assert signed.headers["t"] == DOC_T
    assert signed.headers["client_id"] == DOC_ID
    assert signed.headers["sign_method"] == "HMAC-SHA256"
    assert signed.headers["nonce"] == DOC_NONCE
    assert "access_token" not in signed.headers


async def test_business_vector_through_tuya_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = pinned_clock(monkeypatch)

    async def no_token_call(path: str, params: Any) -> Any:
        raise AssertionError(f"unexpected token call to {path}")

    token = Token(access_token=DOC_TOKEN, refresh_token="unused", expires_at=clock.now() + 3600)
    tokens = TokenManager(no_token_call, clock, store=MemoryTokenStore(token))
    auth = TuyaAuth(DOC_ID, DOC_SECRET, tokens, clock)
    # The query is given out of order: the sign must be over the sorted query.
    request = httpx.Request(
        "GET",
        "https://openapi.test/v2.0/apps/schema/users?page_size=50&page_no=1",
        headers={"nonce": DOC_NONCE, **DOC_HEADERS},
    )
    signed = await sign_with(auth, request)
    assert signed.headers["sign"] == BUSINESS_SIGN
    assert signed.headers["access_token"] == DOC_TOKEN
    assert signed.headers["t"] == DOC_T
    assert tokens.token_calls == 0


async def test_tuya_auth_generates_a_nonce_and_signs_it(monkeypatch: pytest.MonkeyPatch, consts: Any) -> None:
    auth = TuyaAuth(consts.ACCESS_ID, consts.ACCESS_SECRET, None, ServerClock(), use_nonce=True)
    signed = await sign_with(auth, httpx.Request("GET", "https://openapi.test/v1.0/token?grant_type=1"))
    assert len(signed.headers["nonce"]) == 32
    assert signed.headers["sign"] == consts.reference_sign(consts.ACCESS_SECRET, signed)
    # Without use_nonce no nonce is invented, and the sign still verifies.
    plain = TuyaAuth(consts.ACCESS_ID, consts.ACCESS_SECRET, None, ServerClock())
    signed = await sign_with(plain, httpx.Request("GET", "https://openapi.test/v1.0/token?grant_type=1"))
    assert "nonce" not in signed.headers
    assert signed.headers["sign"] == consts.reference_sign(consts.ACCESS_SECRET, signed)


def token_route(router: respx.MockRouter) -> respx.Route:
    return router.get("/v1.0/token").respond(
        json={
            "success": True,
            "t": 1,
            "result": {"access_token": "tok-sign", "refresh_token": "ref-sign", "expire_time": 7200},
        }
    )


OK = {"success": True, "t": 1, "result": True, "tid": "x"}


@respx.mock(base_url="https://openapi.test")
async def test_body_hash_is_of_the_exact_bytes_sent(respx_mock: respx.MockRouter, consts: Any) -> None:
    token_route(respx_mock)
    route = respx_mock.post("/v1.0/devices/d1/door-lock/actions/entry").respond(json=OK)
    payload = {"name": "Tür 🚪 «front»", "ratio": 1.5, "ids": [3, 1, 2], "nested": {"b": None, "a": "x"}}
    async with (
        httpx.AsyncClient() as http,  # respx intercepts httpx's own transport
        LockCloud(
            consts.ACCESS_ID, consts.ACCESS_SECRET, base_url="https://openapi.test", http_client=http
        ) as cloud,
    ):
        assert await cloud.request("POST", "/v1.0/devices/d1/door-lock/actions/entry", json=payload) is True
    sent = route.calls.last.request
    assert json.loads(sent.content) == payload
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["access_token"] == "tok-sign"
    # Recompute the sign from the captured bytes and headers, independently of lockcloud.
    assert sent.headers["sign"] == consts.reference_sign(consts.ACCESS_SECRET, sent)
    body_hash = hashlib.sha256(sent.content).hexdigest()
    message = f"{consts.ACCESS_ID}tok-sign{sent.headers['t']}POST\n{body_hash}\n\n/v1.0/devices/d1/door-lock/actions/entry"
    expected = hmac.new(consts.ACCESS_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest().upper()
    assert sent.headers["sign"] == expected


@respx.mock(base_url="https://openapi.test")
async def test_query_is_signed_sorted_and_unencoded(respx_mock: respx.MockRouter, consts: Any) -> None:
    token_route(respx_mock)
    route = respx_mock.get("/v1.0/q").respond(json=OK)
    params = {"zeta": "a b", "alpha": "é&x=1", "mid": "+/%", "none": None}
    async with (
        httpx.AsyncClient() as http,  # respx intercepts httpx's own transport
        LockCloud(
            consts.ACCESS_ID, consts.ACCESS_SECRET, base_url="https://openapi.test", http_client=http
        ) as cloud,
    ):
        await cloud.request("GET", "/v1.0/q", params=params)
    sent = route.calls.last.request
    assert dict(sent.url.params) == {"zeta": "a b", "alpha": "é&x=1", "mid": "+/%"}
    url = "/v1.0/q?alpha=é&x=1&mid=+/%&zeta=a b"
    message = f"{consts.ACCESS_ID}tok-sign{sent.headers['t']}GET\n{EMPTY_SHA256}\n\n{url}"
    expected = hmac.new(consts.ACCESS_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest().upper()
    assert sent.headers["sign"] == expected
    assert sent.content == b""


@respx.mock(base_url="https://openapi.test")
async def test_token_call_is_signed_without_access_token(respx_mock: respx.MockRouter, consts: Any) -> None:
    grant = token_route(respx_mock)
    respx_mock.get("/v1.0/x").respond(json=OK)
    async with (
        httpx.AsyncClient() as http,  # respx intercepts httpx's own transport
        LockCloud(
            consts.ACCESS_ID, consts.ACCESS_SECRET, base_url="https://openapi.test", http_client=http
        ) as cloud,
    ):
        await cloud.request("GET", "/v1.0/x")
    sent = grant.calls.last.request
    assert "access_token" not in sent.headers
    assert sent.url.params["grant_type"] == "1"
    message = f"{consts.ACCESS_ID}{sent.headers['t']}GET\n{EMPTY_SHA256}\n\n/v1.0/token?grant_type=1"
    expected = hmac.new(consts.ACCESS_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest().upper()
    assert sent.headers["sign"] == expected


async def test_every_request_verifies_against_the_fake_server(server: Any, cloud: LockCloud) -> None:
    await cloud.request("GET", "/v1.0/a", params={"k": "v w"})
    await cloud.request("PUT", "/v1.0/b", json={"ü": [1, 2]})
    await cloud.request("POST", "/v1.0/c")
    assert server.answers[1004] == 0
    assert server.answers[0] == 4  # grant + three calls
