"""LockCloud's life cycle, its arguments, and the regions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

import lockcloud
from lockcloud import LockCloud, Region, ValidationError
from lockcloud.sim import Simulator

REGIONS = {
    "CN": ("https://openapi.tuyacn.com", "pulsar+ssl://mqe.tuyacn.com:7285/"),
    "US": ("https://openapi.tuyaus.com", "pulsar+ssl://mqe.tuyaus.com:7285/"),
    "US_EAST": ("https://openapi-ueaz.tuyaus.com", "pulsar+ssl://mqe.tuyaus.com:7285/"),
    "EU": ("https://openapi.tuyaeu.com", "pulsar+ssl://mqe.tuyaeu.com:7285/"),
    "EU_WEST": ("https://openapi-weaz.tuyaeu.com", "pulsar+ssl://mqe.tuyaeu.com:7285/"),
    "IN": ("https://openapi.tuyain.com", "pulsar+ssl://mqe.tuyain.com:7285/"),
}
OK = {"success": True, "t": 1, "result": [1, 2], "tid": "x"}
TOKEN = {"success": True, "t": 1, "result": {"access_token": "a", "refresh_token": "r", "expire_time": 7200}}


async def test_borrowed_client_is_left_open(lockcloud_sim: Simulator) -> None:
    http = lockcloud_sim.http_client()
    credentials = (lockcloud_sim.access_id, lockcloud_sim.access_secret)
    async with LockCloud(*credentials, base_url=str(http.base_url), http_client=http) as cloud:
        assert cloud.http_client is http
        await cloud.unlock_methods.list_unassigned(lockcloud_sim.devices["front_door"])
    assert not http.is_closed
    await cloud.aclose()
    assert not http.is_closed
    await http.aclose()


async def test_own_client_is_closed() -> None:
    async with LockCloud("id", "secret", base_url="https://openapi.test") as cloud:
        http = cloud.http_client
        assert not http.is_closed
    assert http.is_closed


async def test_aclose_without_context_manager() -> None:
    cloud = LockCloud("id", "secret")
    await cloud.aclose()
    assert cloud.http_client.is_closed


@pytest.mark.parametrize("path", ["v1.0/devices", "", "https://evil.test/v1.0/x"])
async def test_request_rejects_a_path_without_leading_slash(lockcloud_sim: Simulator, path: str) -> None:
    async with lockcloud_sim.client() as cloud:
        with pytest.raises(ValidationError):
            await cloud.request("GET", path)
    assert lockcloud_sim.requests == []


@pytest.mark.parametrize(("access_id", "secret"), [("", "s"), ("id", ""), ("", "")])
def test_credentials_are_required(access_id: str, secret: str) -> None:
    with pytest.raises(ValidationError):
        LockCloud(access_id, secret)


def test_attributes() -> None:
    cloud = LockCloud("my-id", "my-secret", region=Region.US, base_url="https://proxy.test/")
    assert cloud.access_id == "my-id"
    assert cloud._access_secret == "my-secret"
    assert cloud.region is Region.US
    assert cloud.base_url == "https://proxy.test"
    assert isinstance(cloud.http_client, httpx.AsyncClient)


@pytest.mark.parametrize("region", list(Region))
def test_base_url_defaults_to_the_region(region: Region) -> None:
    assert LockCloud("id", "s", region=region).base_url == REGIONS[region.name][0]


def test_default_region_is_eu() -> None:
    assert LockCloud("id", "s").region is Region.EU


@respx.mock
async def test_calls_go_to_the_region(respx_mock: respx.MockRouter) -> None:
    respx_mock.get("https://openapi-ueaz.tuyaus.com/v1.0/token").respond(json=TOKEN)
    route = respx_mock.get("https://openapi-ueaz.tuyaus.com/v1.0/things").respond(json=OK)
    async with (
        httpx.AsyncClient() as http,  # respx intercepts httpx's own transport
        LockCloud("id", "s", region=Region.US_EAST, http_client=http) as cloud,
    ):
        assert await cloud.request("get", "/v1.0/things") == [1, 2]
    assert route.call_count == 1


def test_six_regions() -> None:
    assert {region.name for region in Region} == set(REGIONS)
    for name, (base_url, pulsar_url) in REGIONS.items():
        assert Region[name].base_url == base_url
        assert Region[name].pulsar_url == pulsar_url


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("eu", Region.EU),
        ("EU", Region.EU),
        ("EU-West", Region.EU_WEST),
        ("eu_west", Region.EU_WEST),
        ("us_east", Region.US_EAST),
        ("US-EAST", Region.US_EAST),
        (" in ", Region.IN),
        ("cn", Region.CN),
        ("us", Region.US),
    ],
)
def test_region_from_name(name: str, expected: Region) -> None:
    assert Region.from_name(name) is expected


@pytest.mark.parametrize("name", ["mars", "", "europe", "EUWEST"])
def test_region_from_unknown_name(name: str) -> None:
    with pytest.raises(ValidationError) as exc_info:
        Region.from_name(name)
    assert "EU_WEST" in str(exc_info.value)


def test_public_names() -> None:
    for name in lockcloud.__all__:
        assert hasattr(lockcloud, name)
    assert issubclass(lockcloud.APIError, lockcloud.LockCloudError)


async def test_result_is_the_envelope_result(server: Any, cloud: LockCloud) -> None:
    result = await cloud.request("POST", "/v1.0/x", params={"a": 1, "skip": None}, json={"k": [1, "ü"]})
    assert result == {"method": "POST", "path": "/v1.0/x", "query": {"a": "1"}, "body": {"k": [1, "ü"]}}
    sent = server.business()[0]
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["sign_method"] == "HMAC-SHA256"
    assert len(sent.headers["t"]) == 13
