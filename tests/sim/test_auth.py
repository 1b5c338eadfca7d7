"""The simulator checks every request the way Tuya does: headers, client id, clock, token, signature, path."""

from __future__ import annotations

import time
from typing import Any

import pytest

from lockcloud.sim import Simulator

DOC_CLIENT_ID = "1KAD46OrT9HafiKdsXeg"
DOC_SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"
DOC_T = 1588925778000
DOC_NONCE = "5138cc3a9033d69856923fd07b491173"


def assert_code(envelope: dict[str, Any], code: int) -> None:
    assert envelope["success"] is False, envelope
    assert envelope["code"] == code, envelope
    assert isinstance(envelope["t"], int)
    assert envelope["tid"]


async def test_token_grant_returns_the_real_envelope(raw: Any) -> None:
    envelope = await raw.send("GET", "/v1.0/token", params={"grant_type": "1"})
    assert envelope["success"] is True
    assert set(envelope) == {"success", "t", "result", "tid"}
    result = envelope["result"]
    assert set(result) == {"access_token", "refresh_token", "expire_time", "uid"}
    assert result["expire_time"] == 7200


async def test_business_call_with_a_valid_signature_succeeds(raw: Any, sim: Simulator) -> None:
    await raw.login()
    path = f"/v1.0/devices/{sim.devices['front_door']}/door-lock/unassigned-keys"
    envelope = await raw.send("GET", path, params={"unlock_type": "card"})
    assert envelope["success"] is True
    assert envelope["result"] == {"unlock_keys": [{"unlock_no": 3, "unlock_type": "card"}]}


async def test_a_wrong_secret_is_a_bad_signature(raw: Any) -> None:
    envelope = await raw.send("GET", "/v1.0/token", params={"grant_type": "1"}, secret="x" * 32)
    assert_code(envelope, 1004)


async def test_a_body_changed_after_signing_is_a_bad_signature(raw: Any, sim: Simulator) -> None:
    await raw.login()
    path = f"/v1.0/devices/{sim.devices['front_door']}/door-lock/remote-unlock/config"
    signed = raw.headers("POST", path, body=b'{"remote_unlock_type":"remoteUnlockWithoutPwd","open":false}')
    envelope = await raw.send(
        "POST", path, json_body={"remote_unlock_type": "remoteUnlockWithoutPwd", "open": True}, headers=signed
    )
    assert_code(envelope, 1004)
    assert sim.executed("set_remote_unlock") == []


async def test_a_query_changed_after_signing_is_a_bad_signature(raw: Any, sim: Simulator) -> None:
    await raw.login()
    path = f"/v1.0/devices/{sim.devices['back_door']}/door-lock/latest/media/url"
    signed = raw.headers("GET", path, params={"file_type": "1"})
    envelope = await raw.send("GET", path, params={"file_type": "2"}, headers=signed)
    assert_code(envelope, 1004)


async def test_nonce_and_signature_headers_are_part_of_the_signature(raw: Any, sim: Simulator) -> None:
    extra = {"Signature-Headers": "area_id:call_id", "area_id": "29a33e8796834b1efa6", "call_id": "8afdb70ab"}
    signed_headers = "area_id:29a33e8796834b1efa6\ncall_id:8afdb70ab\n"
    params = {"grant_type": "1"}
    good = raw.headers(
        "GET", "/v1.0/token", params=params, nonce="abc", extra=extra, signed_headers=signed_headers
    )
    assert (await raw.send("GET", "/v1.0/token", params=params, headers=good))["success"] is True
    tampered = dict(good, call_id="other")
    assert_code(await raw.send("GET", "/v1.0/token", params=params, headers=tampered), 1004)
    other_nonce = dict(good, nonce="abd")
    assert_code(await raw.send("GET", "/v1.0/token", params=params, headers=other_nonce), 1004)


async def test_the_documentation_vectors_are_accepted() -> None:
    # The Tuya documentation's own requests, replayed at the documentation's time, pass authentication.
    sim = Simulator(DOC_CLIENT_ID, DOC_SECRET, seed=False)
    sim.faults.clock_offset = DOC_T / 1000 - time.time()
    headers = {
        "client_id": DOC_CLIENT_ID,
        "t": str(DOC_T),
        "nonce": DOC_NONCE,
        "sign_method": "HMAC-SHA256",
        "Signature-Headers": "area_id:call_id",
        "area_id": "29a33e8796834b1efa6",
        "call_id": "8afdb70ab2ed11eb85290242ac130003",
    }
    token_sign = "9E48A3E93B302EEECC803C7241985D0A34EB944F40FB573C7B5C2A82158AF13E"
    business_sign = "AE4481C692AA80B25F3A7E12C3A5FD9BBF6251539DD78E565A1A72A508A88784"
    async with sim.http_client() as http:
        token = await http.get(
            "/v1.0/token", params={"grant_type": "1"}, headers=dict(headers, sign=token_sign)
        )
        assert token.json()["success"] is True
        access_token = "3f4eda2bdec17232f67c0b188af3eec1"
        sim.world.tokens[access_token] = sim.world.tokens.pop(token.json()["result"]["access_token"])
        sim.world.tokens[access_token].access_token = access_token
        business = dict(headers, sign=business_sign, access_token=access_token)
        params = {"page_no": "1", "page_size": "50"}
        answer = await http.get("/v2.0/apps/schema/users", params=params, headers=business)
        # Authenticated, so the next check speaks: the simulator serves no such API.
        assert answer.json()["code"] == 1108
        wrong = dict(business, sign=business_sign[:-1] + "5")
        assert (await http.get("/v2.0/apps/schema/users", params=params, headers=wrong)).json()[
            "code"
        ] == 1004


@pytest.mark.parametrize("missing", ["client_id", "sign", "t"])
async def test_a_missing_header_is_1105(raw: Any, missing: str) -> None:
    headers = raw.headers("GET", "/v1.0/token", params={"grant_type": "1"})
    del headers[missing]
    assert_code(await raw.send("GET", "/v1.0/token", params={"grant_type": "1"}, headers=headers), 1105)


async def test_an_unknown_client_id_is_1005(raw: Any) -> None:
    envelope = await raw.send("GET", "/v1.0/token", params={"grant_type": "1"}, client_id="someoneelse")
    assert_code(envelope, 1005)


@pytest.mark.parametrize("offset_ms", [-3_600_000, 3_600_000])
async def test_a_skewed_request_time_is_1013(raw: Any, offset_ms: int) -> None:
    stamp = int(time.time() * 1000) + offset_ms
    envelope = await raw.send("GET", "/v1.0/token", params={"grant_type": "1"}, t=stamp)
    assert_code(envelope, 1013)
    # The answer carries the server's clock, which is how a client corrects itself.
    assert abs(envelope["t"] - time.time() * 1000) < 60_000


async def test_the_simulated_clock_can_be_ahead(raw: Any, sim: Simulator) -> None:
    sim.faults.clock_offset = 3600
    assert_code(await raw.send("GET", "/v1.0/token", params={"grant_type": "1"}), 1013)
    later = int((time.time() + 3600) * 1000)
    assert (await raw.send("GET", "/v1.0/token", params={"grant_type": "1"}, t=later))["success"] is True


async def test_missing_unknown_and_expired_tokens(raw: Any, sim: Simulator) -> None:
    path = f"/v1.0/devices/{sim.devices['front_door']}/door-lock/remote-unlocks"
    assert_code(await raw.send("GET", path), 1002)
    assert_code(await raw.send("GET", path, access_token="0" * 32), 1010)
    await raw.login()
    assert (await raw.send("GET", path))["success"] is True
    sim.expire_tokens()
    assert_code(await raw.send("GET", path), 1010)


async def test_token_lifetime_fault(raw: Any, sim: Simulator) -> None:
    sim.faults.token_lifetime = 5
    envelope = await raw.send("GET", "/v1.0/token", params={"grant_type": "1"})
    assert envelope["result"]["expire_time"] == 5
    raw.access_token = envelope["result"]["access_token"]
    path = f"/v1.0/devices/{sim.devices['front_door']}/door-lock/remote-unlocks"
    assert (await raw.send("GET", path))["success"] is True
    sim.advance(6)
    assert_code(await raw.send("GET", path), 1010)


async def test_refresh_tokens_work_once_and_retire_the_old_pair(raw: Any, sim: Simulator) -> None:
    first = (await raw.send("GET", "/v1.0/token", params={"grant_type": "1"}))["result"]
    refreshed = await raw.send("GET", f"/v1.0/token/{first['refresh_token']}")
    assert refreshed["success"] is True
    second = refreshed["result"]
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert_code(await raw.send("GET", f"/v1.0/token/{first['refresh_token']}"), 1012)
    path = f"/v1.0/devices/{sim.devices['front_door']}/door-lock/remote-unlocks"
    assert_code(await raw.send("GET", path, access_token=first["access_token"]), 1010)
    assert (await raw.send("GET", path, access_token=second["access_token"]))["success"] is True
    # The refresh token never reaches the request log.
    assert all(second["refresh_token"] not in record.path for record in sim.requests)
    assert all(first["refresh_token"] not in record.path for record in sim.requests)


async def test_grant_type_must_be_1(raw: Any) -> None:
    assert_code(await raw.send("GET", "/v1.0/token", params={"grant_type": "2"}), 1109)
    assert_code(await raw.send("GET", "/v1.0/token"), 1100)


async def test_unknown_path_is_1108(raw: Any, sim: Simulator) -> None:
    await raw.login()
    assert_code(await raw.send("GET", "/v1.0/devices/sim-front-door/door-lock/nothing-here"), 1108)


async def test_wrong_method_for_a_known_path_is_1108_naming_the_right_one(raw: Any, sim: Simulator) -> None:
    await raw.login()
    # The sync endpoint: its document's sample says PUT, its endpoint line POST; POST is served.
    path = f"/v1.0/smart-lock/devices/{sim.devices['garage']}/opmodes/actions/sync"
    envelope = await raw.send("PUT", path)
    assert_code(envelope, 1108)
    assert "POST" in envelope["msg"]
    assert (await raw.send("POST", path))["success"] is True


async def test_signature_is_checked_before_the_path(raw: Any) -> None:
    await raw.login()
    envelope = await raw.send("GET", "/v1.0/nowhere", secret="y" * 32)
    assert_code(envelope, 1004)


async def test_unsupported_sign_method_is_rejected(raw: Any) -> None:
    headers = raw.headers("GET", "/v1.0/token", params={"grant_type": "1"})
    headers["sign_method"] = "MD5"
    assert_code(await raw.send("GET", "/v1.0/token", params={"grant_type": "1"}, headers=headers), 1004)


async def test_rejected_requests_are_logged_but_not_executed(raw: Any, sim: Simulator) -> None:
    await raw.send("GET", "/v1.0/token", params={"grant_type": "1"}, secret="z" * 32)
    assert sim.requests[-1].code == 1004
    assert sim.requests[-1].executed is False
    assert sim.executed("token") == []
