"""``lockcloud history``, ``status`` and ``members`` as a user runs them: a real process against the served
simulator."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from lockcloud.enums import UnlockType
from lockcloud.sim import SimServer

BASE = 1_790_000_000


async def _lockcloud(server: SimServer, *args: str) -> tuple[int, str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOCKCLOUD_")}
    env.update(
        LOCKCLOUD_ACCESS_ID=server.access_id,
        LOCKCLOUD_ACCESS_SECRET=server.simulator.access_secret,
        LOCKCLOUD_BASE_URL=server.base_url,
        NO_COLOR="1",
        COLUMNS="120",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lockcloud",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _json(out: str) -> Any:
    return json.loads(out.strip().splitlines()[-1])


async def test_history_lists_who_opened_the_door(lockcloud_server: SimServer) -> None:
    sim = lockcloud_server.simulator
    back = lockcloud_server.devices["back_door"]
    sim.lock(back).keys[3].hijack = True
    sim.unlock_at_door(back, UnlockType.FINGERPRINT, 1, at=BASE)
    sim.unlock_at_door(back, UnlockType.CARD, 3, at=BASE + 60)
    code, out, err = await _lockcloud(lockcloud_server, "history", back)
    assert code == 0, err
    assert "fingerprint #1" in out
    assert "alarm hijack" in out
    assert "Bob" in out
    code, out, err = await _lockcloud(lockcloud_server, "history", back, "--kind", "duress", "--json")
    assert code == 0, err
    (record,) = _json(out)["records"]
    assert (record["alarm"], record["method"], record["key_number"]) == ("hijack", "unlock_card", 3)
    code, out, err = await _lockcloud(
        lockcloud_server,
        "history",
        back,
        "--kind",
        "fingerprint,card",
        "--since",
        "2026-09-21T14:14:00+00:00",
    )
    assert code == 0, err
    # BASE is 14:13:20Z, BASE + 60 14:14:20Z: only the card unlock is that recent.
    assert "card #3" in out
    assert "fingerprint #1" not in out


async def test_status_and_members(lockcloud_server: SimServer) -> None:
    sim = lockcloud_server.simulator
    back = lockcloud_server.devices["back_door"]
    sim.drain_battery(back, 15)
    code, out, err = await _lockcloud(lockcloud_server, "status", back, "--json")
    assert code == 0, err
    document = _json(out)
    assert (document["battery_percent"], document["door"], document["bolt_locked"]) == (15, "closed", True)
    code, out, err = await _lockcloud(lockcloud_server, "members", "add", back, "Carol", "--json")
    assert code == 0, err
    carol = _json(out)["user_id"]
    code, out, err = await _lockcloud(
        lockcloud_server, "members", "give-key", back, carol, "3", "--type", "card"
    )
    assert code == 0, err
    code, out, err = await _lockcloud(lockcloud_server, "members", "list", back)
    assert code == 0, err
    assert f"{carol}  Carol  (card #3)" in out


async def test_bad_flags_answer_in_one_line_naming_the_flag(lockcloud_server: SimServer) -> None:
    back = lockcloud_server.devices["back_door"]
    for args, flag in [
        (("history", back, "--kind", "teleport"), "--kind"),
        (("history", back, "--since", "last tuesday"), "--since"),
    ]:
        code, _out, err = await _lockcloud(lockcloud_server, *args)
        assert code == 2
        assert flag in err
        assert "Traceback" not in err
